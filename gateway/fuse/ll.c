/* mount.cairn's FUSE low-level operations on names, attributes, extended
 * attributes and the volume (file.c has open files, dir.c directory
 * handles). Each is one client/fs.h call: the library checks permissions
 * against the caller's credentials and keeps the tree consistent across
 * clients, so nothing here holds state. Inode numbers are the cluster's
 * (the root is 1 on both sides), so forget has nothing to drop. */
#define _GNU_SOURCE /* RENAME_NOREPLACE */
#include "gateway/fuse/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reported as st_blksize: what cp and stdio size their buffers by; one
 * FUSE request's worth keeps round trips few. */
#define BLKSIZE GW_FUSE_IO_MAX

const struct cairn_fs_cred *gw_fuse_cred(fuse_req_t req, struct gw_fuse_cred *buf)
{
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    gid_t groups[GW_FUSE_GROUPS_MAX];
    int n = 0;

    buf->cred = (struct cairn_fs_cred){.uid = ctx->uid, .gid = ctx->gid, .groups = buf->groups};
    if (ctx->uid != 0)
        n = fuse_req_getgroups(req, GW_FUSE_GROUPS_MAX, groups);
    if (n > GW_FUSE_GROUPS_MAX)
        n = GW_FUSE_GROUPS_MAX;
    for (int i = 0; i < n; i++)
        buf->groups[i] = groups[i];
    buf->cred.ngroups = n > 0 ? (size_t)n : 0;
    return &buf->cred;
}

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
    ts->tv_sec = ns / 1000000000;
    ts->tv_nsec = ns % 1000000000;
    if (ts->tv_nsec < 0) { /* before 1970: keep tv_nsec in [0, 1e9) */
        ts->tv_sec--;
        ts->tv_nsec += 1000000000;
    }
}

static int64_t ts_to_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

void gw_fuse_stat(const struct cairn_fs_attr *a, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = a->ino;
    st->st_mode = a->mode;
    st->st_nlink = a->nlink;
    st->st_uid = a->uid;
    st->st_gid = a->gid;
    st->st_rdev = a->rdev;
    st->st_size = (off_t)a->size;
    st->st_blksize = BLKSIZE;
    /* The library does not say which stripes exist: report the size as
     * allocated (du overstates sparse files, nothing breaks). */
    st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
    ns_to_ts(a->atime_ns, &st->st_atim);
    ns_to_ts(a->mtime_ns, &st->st_mtim);
    ns_to_ts(a->ctime_ns, &st->st_ctim);
}

void gw_fuse_reply_entry(fuse_req_t req, const struct cairn_fs_attr *a)
{
    struct gw_fuse *g = gw_fuse_of(req);
    struct fuse_entry_param e = {
        .ino = a->ino,
        .attr_timeout = g->attr_timeout_s,
        .entry_timeout = g->entry_timeout_s,
    };

    gw_fuse_stat(a, &e.attr);
    fuse_reply_entry(req, &e);
}

static void reply_attr(fuse_req_t req, const struct cairn_fs_attr *a)
{
    struct stat st;

    gw_fuse_stat(a, &st);
    fuse_reply_attr(req, &st, gw_fuse_of(req)->attr_timeout_s);
}

static void init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    /* Big requests: libfuse raises max_pages from max_write. */
    conn->max_write = GW_FUSE_IO_MAX;
    conn->max_read = GW_FUSE_IO_MAX;
    conn->max_readahead = GW_FUSE_IO_MAX;
    if (conn->capable & FUSE_CAP_READDIRPLUS)
        conn->want |= FUSE_CAP_READDIRPLUS;
    /* O_TRUNC arrives with open (one round trip, not setattr + open). */
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    /* Close-to-open needs the kernel to drop cached pages when a file's
     * mtime or size changed (auto_inval_data), and no write-back cache:
     * a write reaches the cluster before write(2) returns. */
    if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
        conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
    /* Locks go to the cluster (lock.c), so they hold across clients. */
    if (conn->capable & FUSE_CAP_POSIX_LOCKS)
        conn->want |= FUSE_CAP_POSIX_LOCKS;
    if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
        conn->want |= FUSE_CAP_FLOCK_LOCKS;
}

static void lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct gw_fuse_cred cb;
    struct cairn_fs_attr a;
    int rc = cairn_fs_lookup(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb), parent, name, &a);

    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else
        gw_fuse_reply_entry(req, &a);
}

static void forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    (void)ino;
    (void)nlookup;
    fuse_reply_none(req);
}

static void getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct cairn_fs_attr a;
    int rc = cairn_fs_getattr(gw_fuse_of(req)->fs, ino, &a);

    (void)fi;
    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else
        reply_attr(req, &a);
}

static void setattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, int to_set,
                    struct fuse_file_info *fi)
{
    struct cairn_fs_attr in = {.mode = st->st_mode, .uid = st->st_uid, .gid = st->st_gid,
                               .size = (uint64_t)st->st_size,
                               .atime_ns = ts_to_ns(&st->st_atim),
                               .mtime_ns = ts_to_ns(&st->st_mtim)};
    struct gw_fuse_cred cb;
    struct cairn_fs_attr a;
    unsigned set = 0;
    int rc;

    (void)fi;
    set |= to_set & FUSE_SET_ATTR_MODE ? CAIRN_FS_SET_MODE : 0;
    set |= to_set & FUSE_SET_ATTR_UID ? CAIRN_FS_SET_UID : 0;
    set |= to_set & FUSE_SET_ATTR_GID ? CAIRN_FS_SET_GID : 0;
    set |= to_set & FUSE_SET_ATTR_SIZE ? CAIRN_FS_SET_SIZE : 0;
    if (to_set & FUSE_SET_ATTR_ATIME_NOW)
        set |= CAIRN_FS_SET_ATIME_NOW;
    else if (to_set & FUSE_SET_ATTR_ATIME)
        set |= CAIRN_FS_SET_ATIME;
    if (to_set & FUSE_SET_ATTR_MTIME_NOW)
        set |= CAIRN_FS_SET_MTIME_NOW;
    else if (to_set & FUSE_SET_ATTR_MTIME)
        set |= CAIRN_FS_SET_MTIME;
    /* FUSE_SET_ATTR_CTIME alone (e.g. after a kernel-side change) needs no
     * call: the library sets ctime itself with every change. */
    if (set == 0)
        rc = cairn_fs_getattr(gw_fuse_of(req)->fs, ino, &a);
    else {
        if (set & CAIRN_FS_SET_SIZE)
            gw_fuse_data_changed(gw_fuse_of(req), ino);
        rc = cairn_fs_setattr(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb), ino, &in, set, &a);
        if (set & CAIRN_FS_SET_SIZE)
            gw_fuse_data_changed(gw_fuse_of(req), ino);
    }
    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else
        reply_attr(req, &a);
}

static void readlink_(fuse_req_t req, fuse_ino_t ino)
{
    char buf[CAIRN_FS_SYMLINK_MAX + 1];
    int rc = cairn_fs_readlink(gw_fuse_of(req)->fs, ino, buf, sizeof(buf));

    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else
        fuse_reply_readlink(req, buf);
}

static void mknod_(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                   dev_t rdev)
{
    struct gw_fuse_cred cb;
    struct cairn_fs_attr a;
    int rc = cairn_fs_mknod(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb), parent, name, mode,
                            rdev, &a);

    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else
        gw_fuse_reply_entry(req, &a);
}

static void mkdir_(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    struct gw_fuse_cred cb;
    struct cairn_fs_attr a;
    int rc = cairn_fs_mkdir(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb), parent, name,
                            mode & 07777, &a);

    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else
        gw_fuse_reply_entry(req, &a);
}

static void symlink_(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
    struct gw_fuse_cred cb;
    struct cairn_fs_attr a;
    int rc = cairn_fs_symlink(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb), parent, name,
                              target, &a);

    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else
        gw_fuse_reply_entry(req, &a);
}

static void link_(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    struct gw_fuse_cred cb;
    struct cairn_fs_attr a;
    int rc = cairn_fs_link(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb), ino, newparent,
                           newname, &a);

    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else
        gw_fuse_reply_entry(req, &a);
}

static void unlink_(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct gw_fuse_cred cb;
    const struct cairn_fs_cred *cred = gw_fuse_cred(req, &cb);
    int rc = gw_fuse_hide_if_open(req, cred, parent, name);

    if (rc == 0)
        rc = cairn_fs_unlink(gw_fuse_of(req)->fs, cred, parent, name);
    gw_fuse_reply_err(req, rc < 0 ? rc : 0);
}

static void rmdir_(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct gw_fuse_cred cb;

    gw_fuse_reply_err(req, cairn_fs_rmdir(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb), parent,
                                          name));
}

static void rename_(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                    const char *newname, unsigned int flags)
{
    struct gw_fuse_cred cb;
    unsigned f = 0;

    /* RENAME_EXCHANGE (2) and RENAME_WHITEOUT (4) have no atomic form in
     * the library. */
    if (flags & ~(unsigned)RENAME_NOREPLACE) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (flags & RENAME_NOREPLACE)
        f |= CAIRN_FS_RENAME_NOREPLACE;
    gw_fuse_reply_err(req, cairn_fs_rename(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb), parent,
                                           name, newparent, newname, f));
}

static void statfs_(fuse_req_t req, fuse_ino_t ino)
{
    struct statvfs sv;
    int rc = cairn_fs_statfs(gw_fuse_of(req)->fs, &sv);

    (void)ino;
    if (rc < 0) {
        gw_fuse_reply_err(req, rc);
        return;
    }
    if (sv.f_namemax == 0)
        sv.f_namemax = CAIRN_FS_NAME_MAX;
    fuse_reply_statfs(req, &sv);
}

static void access_(fuse_req_t req, fuse_ino_t ino, int mask)
{
    struct gw_fuse_cred cb;

    gw_fuse_reply_err(req, cairn_fs_access(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb), ino,
                                           mask));
}

static void setxattr_(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                      size_t size, int flags)
{
    struct gw_fuse_cred cb;

    gw_fuse_reply_err(req, cairn_fs_setxattr(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb), ino,
                                             name, value, size, flags));
}

/* getxattr and listxattr share FUSE's sizing protocol: @size 0 asks for
 * the length only; otherwise the value, or ERANGE when it does not fit. */
static void reply_sized(fuse_req_t req, int rc, const char *buf, size_t cap, size_t len)
{
    if (rc == -ERANGE && cap == 0)
        rc = 0; /* a library that refuses cap 0 still told us the length */
    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else if (cap == 0)
        fuse_reply_xattr(req, len);
    else if (len > cap)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, buf, len);
}

static void getxattr_(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    char *buf = size ? malloc(size) : NULL;
    size_t len = 0;
    int rc;

    if (size && !buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    rc = cairn_fs_getxattr(gw_fuse_of(req)->fs, ino, name, buf, size, &len);
    reply_sized(req, rc, buf, size, len);
    free(buf);
}

static void listxattr_(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    char *buf = size ? malloc(size) : NULL;
    size_t len = 0;
    int rc;

    if (size && !buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    rc = cairn_fs_listxattr(gw_fuse_of(req)->fs, ino, buf, size, &len);
    reply_sized(req, rc, buf, size, len);
    free(buf);
}

static void removexattr_(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    struct gw_fuse_cred cb;

    gw_fuse_reply_err(req, cairn_fs_removexattr(gw_fuse_of(req)->fs, gw_fuse_cred(req, &cb),
                                                ino, name));
}

const struct fuse_lowlevel_ops gw_fuse_ops = {
    .init = init,
    .lookup = lookup,
    .forget = forget,
    .getattr = getattr,
    .setattr = setattr,
    .readlink = readlink_,
    .mknod = mknod_,
    .mkdir = mkdir_,
    .unlink = unlink_,
    .rmdir = rmdir_,
    .symlink = symlink_,
    .rename = rename_,
    .link = link_,
    .open = gw_fuse_open,
    .read = gw_fuse_read,
    .write = gw_fuse_write,
    .flush = gw_fuse_flush,
    .release = gw_fuse_release,
    .fsync = gw_fuse_fsync,
    .opendir = gw_fuse_opendir,
    .readdir = gw_fuse_readdir,
    .releasedir = gw_fuse_releasedir,
    .statfs = statfs_,
    .setxattr = setxattr_,
    .getxattr = getxattr_,
    .listxattr = listxattr_,
    .removexattr = removexattr_,
    .access = access_,
    .create = gw_fuse_create,
    .fallocate = gw_fuse_fallocate,
    .readdirplus = gw_fuse_readdirplus,
    .getlk = gw_fuse_getlk,
    .setlk = gw_fuse_setlk,
    .flock = gw_fuse_flock,
};

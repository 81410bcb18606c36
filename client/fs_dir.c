/* Names (client/fs.h): lookup, mknod/mkdir/symlink, readlink, link,
 * unlink, rmdir, rename and readdir, in the step orders fs.h states.
 *
 * Every change of a directory is one op on its object: the entries'
 * compare-and-sets plus "wtime" (its mtime and ctime). Changes that move
 * the directory's nlink (2 + subdirectories) also rewrite its "attr"
 * record guarded by cmpxattr on the record read before; when only that
 * guard fails (another mkdir or rmdir got in between), the record is read
 * again and the op retried. Creates, unlinks and renames of files touch no
 * record, so many clients create in one directory at once without
 * retries. When an entry's compare-and-set fails the caller decides
 * (-EEXIST, or starting over). */
#include "client/fs_internal.h"
#include "common/bytes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define PARENT_WALK_MAX 4096 /* deeper trees are refused as damaged (-EIO) */

/* ---- names and entries ---- */

bool cairn__fs_name_is_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > CAIRN_FS_NAME_MAX || strchr(name, '/'))
        return false;
    return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* -ENAMETOOLONG, -EINVAL, or 0. */
static int name_check(const char *name)
{
    if (name && strlen(name) > CAIRN_FS_NAME_MAX)
        return -ENAMETOOLONG;
    return cairn__fs_name_is_valid(name) ? 0 : -EINVAL;
}

void cairn__fs_dent_encode(uint64_t ino, uint32_t mode, uint8_t *out)
{
    cairn_put_le64(out, ino);
    out[8] = (uint8_t)((mode & S_IFMT) >> 12);
}

int cairn__fs_dent_decode(const void *buf, size_t len, uint64_t *ino, uint32_t *type)
{
    const uint8_t *p = buf;
    uint32_t t;

    if (len != CAIRN__FS_DENT_LEN)
        return -EIO;
    t = (uint32_t)p[8] << 12;
    if (t != S_IFREG && t != S_IFDIR && t != S_IFLNK && t != S_IFIFO && t != S_IFSOCK &&
        t != S_IFCHR && t != S_IFBLK)
        return -EIO;
    *ino = cairn_get_le64(p);
    *type = t;
    return *ino ? 0 : -EIO;
}

/* ---- reading and changing a directory ---- */

/* Directory @dir and its entry @name (if any). */
struct dir_view {
    struct cairn__fs_inode in;
    bool has;
    uint64_t ino;
    uint32_t type;
    uint8_t dent[CAIRN__FS_DENT_LEN];
};

/* Reads @dir's attributes and entry @name: -ENOENT (no @dir), -ENOTDIR. */
static int dir_read(struct cairn_fs *fs, uint64_t dir, const char *name, struct dir_view *v)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn__fs_inode_rd rd;
    uint8_t dent[CAIRN__FS_DENT_LEN + 1];
    size_t len = 0;
    int r, step;

    memset(v, 0, sizeof(*v));
    if (dir == 0)
        return -ENOENT;
    cairn__fs_oid_inode(oid, fs->vol, dir);
    struct cairn_op *op = cairn_op_create();
    r = op ? cairn__fs_inode_steps(op, &rd) : -ENOMEM;
    if (r == 0)
        r = cairn_op_omap_get(op, name, strlen(name), dent, sizeof(dent), &len);
    if (r == 0)
        r = cairn_op_exec(fs->c, fs->pool, oid, op);
    step = op ? cairn_op_failed_step(op) : -1;
    cairn_op_destroy(op);
    if (r == -ENODATA && step == CAIRN__FS_INODE_STEPS) /* no such entry: the attributes alone */
        r = cairn__fs_inode_read(fs, dir, &v->in);
    else if (r == 0 && (r = cairn__fs_inode_finish(&rd, dir, &v->in)) == 0)
        v->has = true;
    else if (r == -ENODATA || r == -ERANGE)
        r = -EIO;
    if (r < 0)
        return r;
    if (!S_ISDIR(v->in.a.mode))
        return -ENOTDIR;
    if (v->has) {
        if ((r = cairn__fs_dent_decode(dent, len, &v->ino, &v->type)) < 0)
            return r;
        memcpy(v->dent, dent, CAIRN__FS_DENT_LEN);
    }
    return 0;
}

/* One entry compare-and-set: @expect, @value NULL for absent. */
struct dent_cas {
    const char *name;
    const uint8_t *expect, *value;
};

/* The entry steps of a directory commit, and the change time. */
static int cas_steps(struct cairn_op *op, const struct dent_cas *cas, int n)
{
    int r = 0;

    for (int i = 0; r == 0 && i < n; i++)
        r = cairn_op_omap_cas(op, cas[i].name, strlen(cas[i].name), cas[i].expect,
                              cas[i].expect ? CAIRN__FS_DENT_LEN : 0, cas[i].value,
                              cas[i].value ? CAIRN__FS_DENT_LEN : 0);
    return r == 0 ? cairn__fs_wtime_step(op) : r;
}

/* Entries that leave nlink alone need no attr record: the names' CAS and
 * "wtime" in one op, so creates in one directory never contend. A link
 * count change is a compare-and-set on "attr" (step 0) with them. */
static int commit_once(struct cairn_fs *fs, const char *oid, const struct cairn__fs_inode *in,
                       const struct dent_cas *cas, int n, int nlink_delta, int *step)
{
    struct cairn_fs_attr a = in->a;
    uint8_t rec[CAIRN__FS_ATTR_LEN];
    struct cairn_op *op = cairn_op_create();
    int r = op ? 0 : -ENOMEM;

    a.nlink = (uint32_t)((int64_t)a.nlink + nlink_delta);
    cairn__fs_attr_encode(&a, rec);
    if (r == 0 && nlink_delta == 0)
        r = cairn_op_assert_exists(op);
    if (r == 0 && nlink_delta != 0)
        r = cairn_op_cmpxattr(op, "attr", in->raw, sizeof(in->raw));
    if (r == 0 && nlink_delta != 0)
        r = cairn_op_setxattr(op, "attr", rec, sizeof(rec));
    if (r == 0)
        r = cas_steps(op, cas, n);
    if (r == 0)
        r = cairn_op_exec(fs->c, fs->pool, oid, op);
    *step = op ? cairn_op_failed_step(op) : -1;
    cairn_op_destroy(op);
    return r;
}

/* Applies @cas to directory @dir (last read as @in) with its times and
 * nlink changed, retrying while only the attr guard fails. -ECANCELED when
 * an entry was not as expected, -ENOENT when @dir is gone. */
static int dir_commit(struct cairn_fs *fs, uint64_t dir, const struct cairn__fs_inode *in,
                      const struct dent_cas *cas, int n, int nlink_delta)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn__fs_inode cur = *in;

    cairn__fs_oid_inode(oid, fs->vol, dir);
    for (int tries = 0; tries < CAIRN__FS_TRIES; tries++) {
        int step, r = commit_once(fs, oid, &cur, cas, n, nlink_delta, &step);
        if (r != -ECANCELED || step != 0 || nlink_delta == 0)
            return r;
        if ((r = cairn__fs_inode_read(fs, dir, &cur)) < 0)
            return r;
    }
    return -EAGAIN;
}

/* The sticky bit: only root, the directory's or the entry's owner may
 * remove or replace the entry. */
static int sticky_check(struct cairn_fs *fs, const struct cairn_fs_cred *cred,
                        const struct dir_view *v)
{
    struct cairn__fs_inode child;
    int r;

    if (!(v->in.a.mode & S_ISVTX) || !cred || cred->uid == 0 || cred->uid == v->in.a.uid)
        return 0;
    if ((r = cairn__fs_inode_read(fs, v->ino, &child)) < 0)
        return r == -ENOENT ? 0 : r;
    return child.a.uid == cred->uid ? 0 : -EPERM;
}

/* ---- lookup ---- */

int cairn_fs_lookup(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                    const char *name, struct cairn_fs_attr *out)
{
    struct dir_view v;
    struct cairn__fs_inode child;
    bool dot = name && strcmp(name, ".") == 0, dotdot = name && strcmp(name, "..") == 0;
    int r = dot || dotdot ? 0 : name_check(name);

    if (r < 0)
        return r == -EINVAL ? -ENOENT : r;
    if ((r = dir_read(fs, parent, dot || dotdot ? "." : name, &v)) < 0)
        return r;
    if (!cairn__fs_may(cred, &v.in.a, X_OK))
        return -EACCES;
    if (dot || dotdot) {
        if (dotdot)
            return cairn_fs_getattr(fs, v.in.a.parent, out);
        *out = v.in.a;
        return 0;
    }
    if (!v.has)
        return -ENOENT;
    if ((r = cairn__fs_inode_read(fs, v.ino, &child)) < 0)
        return r; /* -ENOENT: a dangling entry (check drops it) */
    *out = child.a;
    return 0;
}

/* ---- creating ---- */

struct node_spec {
    uint32_t mode;
    uint64_t rdev;
    const char *target; /* symlinks */
};

/* The inode object, created exclusively with everything in one op. */
static int inode_create(struct cairn_fs *fs, const struct cairn_fs_attr *a, const char *target)
{
    char oid[CAIRN__FS_OID_MAX];
    uint8_t rec[CAIRN__FS_ATTR_LEN];
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn__fs_inode_create_steps(op, a, target, rec) : 0;

    cairn__fs_oid_inode(oid, fs->vol, a->ino);
    return cairn__fs_run(fs, oid, op, r);
}

static int make_node(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                     const char *name, const struct node_spec *spec, struct cairn_fs_attr *out)
{
    char oid[CAIRN__FS_OID_MAX];
    struct dir_view v;
    struct cairn_fs_attr a;
    uint8_t dent[CAIRN__FS_DENT_LEN];
    bool dir = S_ISDIR(spec->mode);
    int r = name_check(name);

    if (r < 0)
        return r == -EINVAL && name && name[0] && !strchr(name, '/') ? -EEXIST : r;
    if ((r = dir_read(fs, parent, name, &v)) < 0)
        return r;
    if (!cairn__fs_may(cred, &v.in.a, W_OK | X_OK))
        return -EACCES;
    if (v.has)
        return -EEXIST;
    memset(&a, 0, sizeof(a));
    if ((r = cairn__fs_ino_alloc(fs, &a.ino)) < 0)
        return r;
    a.mode = spec->mode;
    a.uid = cred ? cred->uid : 0;
    a.gid = cred ? cred->gid : 0;
    if (v.in.a.mode & S_ISGID) { /* BSD group semantics under a setgid directory */
        a.gid = v.in.a.gid;
        if (dir)
            a.mode |= S_ISGID;
    }
    a.nlink = dir ? 2 : 1;
    a.rdev = spec->rdev;
    a.atime_ns = a.mtime_ns = a.ctime_ns = cairn__fs_now_ns();
    a.parent = dir ? parent : 0;
    a.size = spec->target ? strlen(spec->target) : 0;
    if ((r = inode_create(fs, &a, spec->target)) < 0)
        return r;
    cairn__fs_dent_encode(a.ino, a.mode, dent);
    struct dent_cas cas = {.name = name, .expect = NULL, .value = dent};
    r = dir_commit(fs, parent, &v.in, &cas, 1, dir ? 1 : 0);
    if (r < 0) {
        cairn__fs_oid_inode(oid, fs->vol, a.ino);
        (void)cairn_remove(fs->c, fs->pool, oid); /* else an orphan for check */
        return r == -ECANCELED ? -EEXIST : r;
    }
    if (out)
        *out = a;
    return 0;
}

int cairn_fs_mknod(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                   const char *name, uint32_t mode, uint64_t rdev, struct cairn_fs_attr *out)
{
    struct node_spec spec = {.mode = mode, .rdev = 0};
    uint32_t type = mode & S_IFMT;

    if (type == 0)
        spec.mode |= S_IFREG;
    else if (type == S_IFCHR || type == S_IFBLK)
        spec.rdev = rdev;
    else if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK)
        return -EINVAL;
    if ((type == S_IFCHR || type == S_IFBLK) && cred && cred->uid != 0)
        return -EPERM;
    spec.mode &= S_IFMT | 07777;
    return make_node(fs, cred, parent, name, &spec, out);
}

int cairn_fs_mkdir(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                   const char *name, uint32_t mode, struct cairn_fs_attr *out)
{
    struct node_spec spec = {.mode = S_IFDIR | (mode & 07777)};

    return make_node(fs, cred, parent, name, &spec, out);
}

int cairn_fs_symlink(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                     const char *name, const char *target, struct cairn_fs_attr *out)
{
    struct node_spec spec = {.mode = S_IFLNK | 0777, .target = target};
    size_t n = target ? strlen(target) : 0;

    if (n == 0)
        return -ENOENT;
    if (n > CAIRN_FS_SYMLINK_MAX)
        return -ENAMETOOLONG;
    return make_node(fs, cred, parent, name, &spec, out);
}

int cairn_fs_readlink(struct cairn_fs *fs, uint64_t ino, char *buf, size_t cap)
{
    char oid[CAIRN__FS_OID_MAX], target[CAIRN_FS_SYMLINK_MAX + 1];
    struct cairn__fs_inode_rd rd;
    struct cairn__fs_inode in;
    size_t len = 0;
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn__fs_inode_steps(op, &rd) : 0;

    if (r == 0)
        r = cairn_op_read(op, 0, CAIRN_FS_SYMLINK_MAX, target, &len);
    cairn__fs_oid_inode(oid, fs->vol, ino);
    if ((r = cairn__fs_run(fs, oid, op, r)) < 0)
        return r == -ENODATA || r == -ERANGE ? -EIO : r;
    if ((r = cairn__fs_inode_finish(&rd, ino, &in)) < 0)
        return r;
    if (!S_ISLNK(in.a.mode))
        return -EINVAL;
    if (len == 0 || len > CAIRN_FS_SYMLINK_MAX || memchr(target, '\0', len))
        return -EIO;
    if (cap == 0)
        return -ERANGE;
    if (len > cap - 1)
        len = cap - 1;
    memcpy(buf, target, len);
    buf[len] = '\0';
    return 0;
}

/* ---- link, unlink, rmdir ---- */

static int link_one(struct cairn_fs_attr *a, void *arg)
{
    (void)arg;
    if (S_ISDIR(a->mode))
        return -EPERM;
    if (a->nlink >= CAIRN__FS_NLINK_MAX)
        return -EMLINK;
    if (a->nlink == 0)
        return -ENOENT; /* being removed */
    a->nlink++;
    a->ctime_ns = cairn__fs_now_ns();
    return 0;
}

/* nlink goes up before the name exists: a crash leaves a count too high
 * (check fixes it), never a name the count does not cover. */
int cairn_fs_link(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t ino,
                  uint64_t newparent, const char *newname, struct cairn_fs_attr *out)
{
    struct dir_view v;
    struct cairn_fs_attr a;
    uint8_t dent[CAIRN__FS_DENT_LEN];
    int r = name_check(newname);

    if (r < 0)
        return r == -EINVAL && newname && newname[0] && !strchr(newname, '/') ? -EEXIST : r;
    if ((r = cairn_fs_getattr(fs, ino, &a)) < 0)
        return r;
    if (S_ISDIR(a.mode))
        return -EPERM;
    if ((r = dir_read(fs, newparent, newname, &v)) < 0)
        return r;
    if (!cairn__fs_may(cred, &v.in.a, W_OK | X_OK))
        return -EACCES;
    if (v.has)
        return -EEXIST;
    if ((r = cairn__fs_attr_update(fs, ino, link_one, NULL, &a)) < 0)
        return r;
    cairn__fs_dent_encode(ino, a.mode, dent);
    struct dent_cas cas = {.name = newname, .expect = NULL, .value = dent};
    if ((r = dir_commit(fs, newparent, &v.in, &cas, 1, 0)) < 0) {
        (void)cairn__fs_drop_link(fs, ino);
        return r == -ECANCELED ? -EEXIST : r;
    }
    return cairn_fs_getattr(fs, ino, out ? out : &a);
}

int cairn_fs_unlink(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                    const char *name)
{
    struct dir_view v;
    int r = name_check(name);

    if (r < 0)
        return r == -EINVAL && name && (!strcmp(name, ".") || !strcmp(name, "..")) ? -EISDIR
                                                                                    : r;
    for (int tries = 0; tries < CAIRN__FS_TRIES; tries++) {
        if ((r = dir_read(fs, parent, name, &v)) < 0)
            return r;
        if (!cairn__fs_may(cred, &v.in.a, W_OK | X_OK))
            return -EACCES;
        if (!v.has)
            return -ENOENT;
        if (S_ISDIR(v.type))
            return -EISDIR;
        if ((r = sticky_check(fs, cred, &v)) < 0)
            return r;
        struct dent_cas cas = {.name = name, .expect = v.dent, .value = NULL};
        r = dir_commit(fs, parent, &v.in, &cas, 1, 0);
        if (r == -ECANCELED)
            continue; /* the entry changed: look again */
        if (r < 0)
            return r;
        return cairn__fs_drop_link(fs, v.ino);
    }
    return -EAGAIN;
}

/* Directory @ino's version when it is empty: -ENOTEMPTY otherwise. */
static int dir_empty_version(struct cairn_fs *fs, uint64_t ino, uint64_t *version)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn_stat st;
    struct cairn_kv_list *list = NULL;
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn_op_stat(op, &st) : 0;

    if (r == 0)
        r = cairn_op_omap_list(op, NULL, 0, 1, &list);
    cairn__fs_oid_inode(oid, fs->vol, ino);
    if ((r = cairn__fs_run(fs, oid, op, r)) < 0)
        return r;
    r = list->n > 0 ? -ENOTEMPTY : 0;
    cairn_kv_list_free(list);
    *version = st.version;
    return r;
}

/* Removes empty directory object @ino if it is still at @version. */
static int dir_destroy(struct cairn_fs *fs, uint64_t ino, uint64_t version)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn_op_assert_version(op, version) : 0;

    if (r == 0)
        r = cairn_op_remove(op);
    cairn__fs_oid_inode(oid, fs->vol, ino);
    return cairn__fs_run(fs, oid, op, r);
}

/* The name goes first, then the object if nothing was added meanwhile
 * (its version unchanged); else the name comes back. A crash in between
 * leaves an orphan directory for check. */
int cairn_fs_rmdir(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                   const char *name)
{
    struct dir_view v;
    uint64_t version = 0;
    int r = name_check(name);

    if (r < 0)
        return r == -EINVAL && name && !strcmp(name, "..") ? -ENOTEMPTY : r;
    if ((r = dir_read(fs, parent, name, &v)) < 0)
        return r;
    if (!cairn__fs_may(cred, &v.in.a, W_OK | X_OK))
        return -EACCES;
    if (!v.has)
        return -ENOENT;
    if (!S_ISDIR(v.type))
        return -ENOTDIR;
    if (v.ino == CAIRN_FS_ROOT_INO)
        return -EBUSY;
    if ((r = sticky_check(fs, cred, &v)) < 0 || (r = dir_empty_version(fs, v.ino, &version)) < 0)
        return r;
    struct dent_cas cas = {.name = name, .expect = v.dent, .value = NULL};
    if ((r = dir_commit(fs, parent, &v.in, &cas, 1, -1)) < 0)
        return r == -ECANCELED ? -ENOENT : r;
    r = dir_destroy(fs, v.ino, version);
    if (r == -ECANCELED) {
        struct cairn__fs_inode cur;
        struct dent_cas back = {.name = name, .expect = NULL, .value = v.dent};
        if (cairn__fs_inode_read(fs, parent, &cur) == 0)
            (void)dir_commit(fs, parent, &cur, &back, 1, 1);
        return -ENOTEMPTY;
    }
    return r == -ENOENT ? 0 : r;
}

/* ---- readdir ---- */

static int emit(const struct cairn_kv *kv, cairn_fs_dirent_fn fn, void *arg, int *stop)
{
    char name[CAIRN_FS_NAME_MAX + 1];
    uint64_t ino;
    uint32_t type;

    if (kv->key_len == 0 || kv->key_len > CAIRN_FS_NAME_MAX ||
        memchr(kv->key, '\0', kv->key_len) || memchr(kv->key, '/', kv->key_len))
        return -EIO;
    if (cairn__fs_dent_decode(kv->value, kv->value_len, &ino, &type) < 0)
        return -EIO;
    memcpy(name, kv->key, kv->key_len);
    name[kv->key_len] = '\0';
    *stop = fn(name, ino, type, arg);
    return 0;
}

int cairn_fs_readdir(struct cairn_fs *fs, uint64_t ino, const char *after, unsigned max,
                     cairn_fs_dirent_fn fn, void *arg, bool *more)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn__fs_inode_rd rd;
    struct cairn__fs_inode in;
    struct cairn_kv_list *list = NULL;
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn__fs_inode_steps(op, &rd) : 0, stop = 0;
    size_t i;

    if (r == 0)
        r = cairn_op_omap_list(op, after, after ? strlen(after) : 0, max, &list);
    cairn__fs_oid_inode(oid, fs->vol, ino);
    if ((r = cairn__fs_run(fs, oid, op, r)) < 0)
        return r == -ENODATA || r == -ERANGE ? -EIO : r;
    if ((r = cairn__fs_inode_finish(&rd, ino, &in)) == 0 && !S_ISDIR(in.a.mode))
        r = -ENOTDIR;
    for (i = 0; r == 0 && !stop && i < list->n; i++)
        r = emit(&list->kv[i], fn, arg, &stop);
    if (r == 0 && more)
        *more = list->more || i < list->n;
    cairn_kv_list_free(list);
    return r;
}

/* ---- rename ---- */

/* What a rename found: the source entry and what the target replaces. */
struct rename_plan {
    struct dir_view src, dst;
    uint64_t replaced_version; /* a replaced directory's, when empty */
};

/* -EINVAL when directory @ino is @newparent or one of its ancestors. */
static int loop_check(struct cairn_fs *fs, uint64_t ino, uint64_t newparent)
{
    uint64_t p = newparent;

    for (int depth = 0; depth < PARENT_WALK_MAX; depth++) {
        struct cairn_fs_attr a;
        int r;
        if (p == ino)
            return -EINVAL;
        if (p == CAIRN_FS_ROOT_INO)
            return 0;
        if ((r = cairn_fs_getattr(fs, p, &a)) < 0)
            return r == -ENOENT ? -ENOENT : r;
        if (!S_ISDIR(a.mode))
            return -EIO;
        p = a.parent;
    }
    return -EIO;
}

/* Reads both sides and applies POSIX's checks. 1 when there is nothing
 * to do (both names are the same inode). */
static int rename_prepare(struct cairn_fs *fs, const struct cairn_fs_cred *cred,
                          uint64_t parent, const char *name, uint64_t newparent,
                          const char *newname, unsigned flags, struct rename_plan *p)
{
    int r;

    if ((r = dir_read(fs, parent, name, &p->src)) < 0 ||
        (r = dir_read(fs, newparent, newname, &p->dst)) < 0)
        return r;
    if (!cairn__fs_may(cred, &p->src.in.a, W_OK | X_OK) ||
        !cairn__fs_may(cred, &p->dst.in.a, W_OK | X_OK))
        return -EACCES;
    if (!p->src.has)
        return -ENOENT;
    if ((r = sticky_check(fs, cred, &p->src)) < 0)
        return r;
    if (p->dst.has) {
        if (p->dst.ino == p->src.ino)
            return 1;
        if (flags & CAIRN_FS_RENAME_NOREPLACE)
            return -EEXIST;
        if (S_ISDIR(p->src.type) && !S_ISDIR(p->dst.type))
            return -ENOTDIR;
        if (!S_ISDIR(p->src.type) && S_ISDIR(p->dst.type))
            return -EISDIR;
        if ((r = sticky_check(fs, cred, &p->dst)) < 0)
            return r;
        if (S_ISDIR(p->dst.type) &&
            (r = dir_empty_version(fs, p->dst.ino, &p->replaced_version)) < 0)
            return r;
    }
    if (S_ISDIR(p->src.type) && parent != newparent)
        return loop_check(fs, p->src.ino, newparent);
    return 0;
}

/* The replaced inode loses its name's link (a directory: its object, if
 * still empty; else it stays an orphan for check). */
static void rename_drop_replaced(struct cairn_fs *fs, const struct rename_plan *p)
{
    if (!p->dst.has)
        return;
    if (S_ISDIR(p->dst.type))
        (void)dir_destroy(fs, p->dst.ino, p->replaced_version);
    else
        (void)cairn__fs_drop_link(fs, p->dst.ino);
}

static int rename_same_dir(struct cairn_fs *fs, uint64_t dir, const char *name,
                           const char *newname, const struct rename_plan *p)
{
    struct dent_cas cas[2] = {
        {.name = name, .expect = p->src.dent, .value = NULL},
        {.name = newname, .expect = p->dst.has ? p->dst.dent : NULL, .value = p->src.dent},
    };
    int delta = p->dst.has && S_ISDIR(p->dst.type) ? -1 : 0;
    int r = dir_commit(fs, dir, &p->dst.in, cas, 2, delta);

    if (r == 0)
        rename_drop_replaced(fs, p);
    return r;
}

static int set_parent(struct cairn_fs_attr *a, void *arg)
{
    a->parent = *(const uint64_t *)arg;
    a->ctime_ns = cairn__fs_now_ns();
    return 0;
}

static int intent_write(struct cairn_fs *fs, const struct rename_plan *p, uint64_t parent,
                        const char *name, uint64_t newparent, const char *newname,
                        uint64_t *id)
{
    char oid[CAIRN__FS_OID_MAX];
    uint8_t buf[64 + 2 * CAIRN_FS_NAME_MAX];
    struct cairn__fs_intent in = {.src = parent, .dst = newparent, .ino = p->src.ino,
                                  .type = p->src.type,
                                  .replaced = p->dst.has ? p->dst.ino : 0,
                                  .replaced_type = p->dst.has ? p->dst.type : 0};
    size_t len;

    snprintf(in.src_name, sizeof(in.src_name), "%s", name);
    snprintf(in.dst_name, sizeof(in.dst_name), "%s", newname);
    len = cairn__fs_intent_encode(&in, buf);
    *id = 0;
    while (*id == 0)
        if (getrandom(id, sizeof(*id), 0) != sizeof(*id))
            return -EIO;
    cairn__fs_oid_intent(oid, fs->vol, *id);
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn_op_create_object(op, true) : 0;
    if (r == 0)
        r = cairn_op_write_full(op, buf, len);
    return cairn__fs_run(fs, oid, op, r);
}

/* fs.h's order: intent, new name, old name gone, parent pointer, the
 * replaced inode, intent gone. Stops after step @stop (tests). */
static int rename_cross(struct cairn_fs *fs, uint64_t parent, const char *name,
                        uint64_t newparent, const char *newname, const struct rename_plan *p,
                        unsigned stop)
{
    char oid[CAIRN__FS_OID_MAX];
    uint64_t id;
    bool dir = S_ISDIR(p->src.type), over_dir = p->dst.has && S_ISDIR(p->dst.type);
    struct dent_cas add = {.name = newname, .expect = p->dst.has ? p->dst.dent : NULL,
                           .value = p->src.dent};
    struct dent_cas del = {.name = name, .expect = p->src.dent, .value = NULL};
    int r = intent_write(fs, p, parent, name, newparent, newname, &id);

    if (r < 0 || stop == 1)
        return r;
    cairn__fs_oid_intent(oid, fs->vol, id);
    r = dir_commit(fs, newparent, &p->dst.in, &add, 1, (dir ? 1 : 0) - (over_dir ? 1 : 0));
    if (r < 0)
        goto out_intent;
    if (stop == 2)
        return 0;
    r = dir_commit(fs, parent, &p->src.in, &del, 1, dir ? -1 : 0);
    if (r < 0) { /* the source changed meanwhile: take the new name back */
        struct cairn__fs_inode cur;
        struct dent_cas back = {.name = newname, .expect = p->src.dent,
                                .value = p->dst.has ? p->dst.dent : NULL};
        if (cairn__fs_inode_read(fs, newparent, &cur) == 0)
            (void)dir_commit(fs, newparent, &cur, &back, 1, (over_dir ? 1 : 0) - (dir ? 1 : 0));
        goto out_intent;
    }
    if (stop == 3)
        return 0;
    if (dir && (r = cairn__fs_attr_update(fs, p->src.ino, set_parent, &newparent, NULL)) < 0)
        return r; /* the intent stays: check rolls it forward */
    rename_drop_replaced(fs, p);
out_intent:
    (void)cairn_remove(fs->c, fs->pool, oid);
    return r;
}

int cairn__fs_rename_steps(struct cairn_fs *fs, const struct cairn_fs_cred *cred,
                           uint64_t parent, const char *name, uint64_t newparent,
                           const char *newname, unsigned flags, unsigned stop)
{
    struct rename_plan p;
    int r;

    if ((r = name_check(name)) < 0 || (r = name_check(newname)) < 0)
        return r == -EINVAL ? -EBUSY : r;
    if (flags & ~CAIRN_FS_RENAME_NOREPLACE)
        return -EINVAL;
    for (int tries = 0; tries < CAIRN__FS_TRIES; tries++) {
        memset(&p, 0, sizeof(p));
        r = rename_prepare(fs, cred, parent, name, newparent, newname, flags, &p);
        if (r != 0)
            return r > 0 ? 0 : r;
        if (parent == newparent)
            r = rename_same_dir(fs, parent, name, newname, &p);
        else
            r = rename_cross(fs, parent, name, newparent, newname, &p, stop);
        if (r != -ECANCELED)
            return r;
    }
    return -EAGAIN;
}

int cairn_fs_rename(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                    const char *name, uint64_t newparent, const char *newname, unsigned flags)
{
    return cairn__fs_rename_steps(fs, cred, parent, name, newparent, newname, flags, 0);
}

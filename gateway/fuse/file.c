/* mount.cairn's open files (docs/fuse.md, "Consistency"). Every write is
 * durable when it returns, so flush and fsync have nothing to do.
 * Close-to-open: open drops the kernel's cached attributes and pages of
 * the file, so what another client wrote before it closed is what we
 * read.
 *
 * Read-ahead: the kernel asks for at most 128 KiB per read (its readahead
 * window), each a cluster round trip for the size and one for the data.
 * A handle that reads sequentially fetches RA_WINDOW at once and serves
 * the next requests from it; the window belongs to the open (so close-to-
 * open holds: a new open starts without one) and is dropped when this
 * mount writes, truncates or punches the file (the inode's write
 * generation in g->opened moved). At most RA_WINDOWS_MAX windows exist at
 * a time; beyond that reads go to the cluster as asked.
 *
 * The library frees an inode when its last name goes; POSIX keeps an
 * unlinked file readable through descriptors still open. So the mount
 * counts its open files by inode (g->opened), and unlinking the last name
 * of one open here renames it to ".cairn_hidden.INO" instead, removed at
 * its last release (NFS's "silly rename"). Other clients see that name
 * meanwhile; a mount that dies leaves it behind. */
#include "gateway/fuse/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HIDDEN_PREFIX ".cairn_hidden."
#define RA_WINDOW (4u << 20)
#define RA_WINDOWS_MAX 64u
#define RA_NEAR (1u << 20)

struct gw_fuse_opened {
    uint64_t ino;
    unsigned count;            /* open handles here */
    uint64_t wgen;             /* bumped by every change of the data here */
    uint64_t hidden_parent;    /* 0, or where the hidden name is */
    char hidden[sizeof(HIDDEN_PREFIX) + 16];
};

/* One open (fi->fh). */
struct fh {
    bool append;
    pthread_mutex_t lock;  /* the window */
    uint64_t next;         /* where a sequential read goes on */
    uint8_t *ra;           /* the window: NULL, or RA_WINDOW bytes */
    uint64_t ra_off, ra_gen;
    size_t ra_len;
};

static unsigned ra_windows; /* windows allocated, all mounts of the process */
static pthread_mutex_t ra_windows_lock = PTHREAD_MUTEX_INITIALIZER;

/* The entry of @ino, or NULL. Under g->open_lock. */
static struct gw_fuse_opened *opened_find(struct gw_fuse *g, uint64_t ino)
{
    for (size_t i = 0; i < g->n_opened; i++)
        if (g->opened[i].ino == ino)
            return &g->opened[i];
    return NULL;
}

static uint64_t opened_wgen(struct gw_fuse *g, uint64_t ino)
{
    pthread_mutex_lock(&g->open_lock);
    struct gw_fuse_opened *o = opened_find(g, ino);
    uint64_t gen = o ? o->wgen : 0;
    pthread_mutex_unlock(&g->open_lock);
    return gen;
}

void gw_fuse_data_changed(struct gw_fuse *g, uint64_t ino)
{
    pthread_mutex_lock(&g->open_lock);
    struct gw_fuse_opened *o = opened_find(g, ino);
    if (o)
        o->wgen++;
    pthread_mutex_unlock(&g->open_lock);
}

static int opened_ref(struct gw_fuse *g, uint64_t ino)
{
    struct gw_fuse_opened *o;
    int rc = 0;

    pthread_mutex_lock(&g->open_lock);
    o = opened_find(g, ino);
    if (!o && g->n_opened == g->cap_opened) {
        size_t cap = g->cap_opened ? g->cap_opened * 2 : 64;
        struct gw_fuse_opened *v = realloc(g->opened, cap * sizeof(*v));

        if (v) {
            g->opened = v;
            g->cap_opened = cap;
        } else {
            rc = -ENOMEM;
        }
    }
    if (!o && rc == 0) {
        o = &g->opened[g->n_opened++];
        *o = (struct gw_fuse_opened){.ino = ino};
    }
    if (o)
        o->count++;
    pthread_mutex_unlock(&g->open_lock);
    return rc;
}

/* Drops one handle of @ino; the last one removes a hidden name. */
static void opened_unref(struct gw_fuse *g, uint64_t ino)
{
    static const struct cairn_fs_cred root = {0};
    struct gw_fuse_opened *o, gone = {0};

    pthread_mutex_lock(&g->open_lock);
    o = opened_find(g, ino);
    if (o && --o->count == 0) {
        gone = *o;
        *o = g->opened[--g->n_opened];
    }
    pthread_mutex_unlock(&g->open_lock);
    /* As root: the caller who unlinked it was allowed to; ENOENT when
     * someone renamed or removed the hidden name meanwhile. */
    if (gone.hidden_parent)
        cairn_fs_unlink(g->fs, &root, gone.hidden_parent, gone.hidden);
}

int gw_fuse_hide_if_open(fuse_req_t req, const struct cairn_fs_cred *cred, uint64_t parent,
                         const char *name)
{
    struct gw_fuse *g = gw_fuse_of(req);
    struct gw_fuse_opened *o;
    struct cairn_fs_attr a;
    char hidden[sizeof(o->hidden)];
    bool none_open;
    int rc;

    pthread_mutex_lock(&g->open_lock);
    none_open = g->n_opened == 0;
    pthread_mutex_unlock(&g->open_lock);
    if (none_open)
        return 0; /* the usual case (rm -r): no lookup needed */
    rc = cairn_fs_lookup(g->fs, cred, parent, name, &a);
    /* Only the last name of a file open here; not a hidden name itself. */
    if (rc < 0 || !S_ISREG(a.mode) || a.nlink != 1 ||
        strncmp(name, HIDDEN_PREFIX, strlen(HIDDEN_PREFIX)) == 0)
        return 0; /* the unlink reports whatever is wrong */
    snprintf(hidden, sizeof(hidden), HIDDEN_PREFIX "%016" PRIx64, a.ino);
    /* Holding the lock across the rename keeps a concurrent last release
     * from missing the hidden name; it only delays other opens. */
    pthread_mutex_lock(&g->open_lock);
    o = opened_find(g, a.ino);
    rc = o ? cairn_fs_rename(g->fs, cred, parent, name, parent, hidden, 0) : 0;
    if (o && rc == 0) {
        o->hidden_parent = parent;
        memcpy(o->hidden, hidden, sizeof(hidden));
    }
    pthread_mutex_unlock(&g->open_lock);
    return rc < 0 ? rc : o != NULL;
}

void gw_fuse_opened_fini(struct gw_fuse *g)
{
    free(g->opened);
    g->opened = NULL;
    g->n_opened = g->cap_opened = 0;
}

static int access_mask(int flags)
{
    int mask = 0;

    switch (flags & O_ACCMODE) {
    case O_RDONLY:
        mask = R_OK;
        break;
    case O_WRONLY:
        mask = W_OK;
        break;
    default:
        mask = R_OK | W_OK;
        break;
    }
    if (flags & O_TRUNC)
        mask |= W_OK;
    return mask;
}

static int fh_new(struct fuse_file_info *fi)
{
    struct fh *h = calloc(1, sizeof(*h));

    if (!h)
        return -ENOMEM;
    h->append = fi->flags & O_APPEND;
    pthread_mutex_init(&h->lock, NULL);
    fi->fh = (uintptr_t)h;
    fi->keep_cache = 0;
    fi->direct_io = 0;
    return 0;
}

static struct fh *fh_of(const struct fuse_file_info *fi)
{
    return (struct fh *)(uintptr_t)fi->fh;
}

static void fh_free(struct fuse_file_info *fi)
{
    struct fh *h = fh_of(fi);

    if (!h)
        return;
    if (h->ra) {
        pthread_mutex_lock(&ra_windows_lock);
        ra_windows--;
        pthread_mutex_unlock(&ra_windows_lock);
    }
    free(h->ra);
    pthread_mutex_destroy(&h->lock);
    free(h);
    fi->fh = 0;
}

/* The handle's window, allocated within the budget: false when none. */
static bool ra_have(struct fh *h)
{
    bool ok;

    if (h->ra)
        return true;
    pthread_mutex_lock(&ra_windows_lock);
    ok = ra_windows < RA_WINDOWS_MAX;
    if (ok)
        ra_windows++;
    pthread_mutex_unlock(&ra_windows_lock);
    if (ok && !(h->ra = malloc(RA_WINDOW))) {
        pthread_mutex_lock(&ra_windows_lock);
        ra_windows--;
        pthread_mutex_unlock(&ra_windows_lock);
        ok = false;
    }
    return ok;
}

/* The common part of open and create on an existing file: permission,
 * O_TRUNC (we asked for atomic_o_trunc, so it arrives here), the handle. */
static int open_existing(fuse_req_t req, const struct cairn_fs_cred *cred, uint64_t ino,
                         struct fuse_file_info *fi)
{
    struct gw_fuse *g = gw_fuse_of(req);
    struct cairn_fs_attr a = {.size = 0}, out;
    int rc = cairn_fs_access(g->fs, cred, ino, access_mask(fi->flags));

    if (rc == 0 && (fi->flags & O_TRUNC)) {
        gw_fuse_data_changed(g, ino);
        rc = cairn_fs_setattr(g->fs, cred, ino, &a, CAIRN_FS_SET_SIZE, &out);
    }
    if (rc == 0 && (fi->flags & O_TRUNC))
        gw_fuse_data_changed(g, ino);
    if (rc == 0)
        rc = fh_new(fi);
    if (rc == 0 && (rc = opened_ref(g, ino)) < 0)
        fh_free(fi);
    return rc;
}

void gw_fuse_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct gw_fuse *g = gw_fuse_of(req);
    struct gw_fuse_cred cb;
    int rc = open_existing(req, gw_fuse_cred(req, &cb), ino, fi);

    if (rc < 0) {
        gw_fuse_reply_err(req, rc);
        return;
    }
    /* Expire the cached attributes (offset -1: pages are dropped anyway
     * since keep_cache is off) so the first read or fstat asks the cluster
     * for the size another client may have changed. Safe from a handler:
     * the kernel takes no lock an open holds. */
    if (g->se)
        fuse_lowlevel_notify_inval_inode(g->se, ino, -1, 0);
    fuse_reply_open(req, fi);
}

void gw_fuse_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                    struct fuse_file_info *fi)
{
    struct gw_fuse *g = gw_fuse_of(req);
    struct fuse_entry_param e = {.attr_timeout = g->attr_timeout_s,
                                 .entry_timeout = g->entry_timeout_s};
    const struct cairn_fs_cred *cred;
    struct gw_fuse_cred cb;
    struct cairn_fs_attr a;
    int rc;

    cred = gw_fuse_cred(req, &cb);
    rc = cairn_fs_mknod(g->fs, cred, parent, name, S_IFREG | (mode & 07777), 0, &a);
    if (rc == 0 && (rc = fh_new(fi)) == 0 && (rc = opened_ref(g, a.ino)) < 0)
        fh_free(fi);
    else if (rc == -EEXIST && !(fi->flags & O_EXCL)) {
        /* Another client created it between the kernel's lookup and us:
         * open(O_CREAT) without O_EXCL opens what is there. */
        rc = cairn_fs_lookup(g->fs, cred, parent, name, &a);
        if (rc == 0 && S_ISDIR(a.mode))
            rc = -EISDIR;
        if (rc == 0)
            rc = open_existing(req, cred, a.ino, fi);
        if (rc == 0 && (fi->flags & O_TRUNC) && (rc = cairn_fs_getattr(g->fs, a.ino, &a)) < 0) {
            opened_unref(g, a.ino);
            fh_free(fi);
        }
    }
    if (rc < 0) {
        gw_fuse_reply_err(req, rc);
        return;
    }
    e.ino = a.ino;
    gw_fuse_stat(&a, &e.attr);
    fuse_reply_create(req, &e, fi);
}

/* Copies [@off, @off + @size) out of the window into @buf when it holds
 * all of it (*@n: the length); a window just @fresh from the cluster also
 * answers short at the end of the file (an older one may not: the file
 * may have grown since). Under h->lock; the reply goes after unlocking,
 * since once it is out the kernel may release the handle. */
static bool ra_copy(struct fh *h, uint64_t gen, uint64_t off, size_t size, bool fresh,
                    char *buf, size_t *n)
{
    if (!h->ra || h->ra_gen != gen || off < h->ra_off || off > h->ra_off + h->ra_len)
        return false;
    size_t have = (size_t)(h->ra_off + h->ra_len - off);
    if (have < size && (!fresh || h->ra_len == RA_WINDOW))
        return false;
    *n = have < size ? have : size;
    memcpy(buf, h->ra + (off - h->ra_off), *n);
    h->next = off + *n;
    return true;
}

/* Fills the window from @off. */
static int ra_fill(struct gw_fuse *g, uint64_t ino, struct fh *h, uint64_t gen, uint64_t off)
{
    size_t got = 0;
    int rc = cairn_fs_read(g->fs, ino, off, RA_WINDOW, h->ra, &got);

    h->ra_len = 0;
    if (rc == 0) {
        h->ra_off = off;
        h->ra_len = got;
        h->ra_gen = gen;
    }
    return rc;
}

/* From the window (refilled when the read is sequential), else *@direct:
 * the caller reads what was asked. Under h->lock. */
static int read_window(struct gw_fuse *g, uint64_t ino, struct fh *h, uint64_t at, size_t size,
                       char *buf, size_t *n, bool *direct)
{
    uint64_t gen = opened_wgen(g, ino);
    int rc = 0;

    *direct = false;
    if (ra_copy(h, gen, at, size, false, buf, n))
        return 0;
    /* A sequential read (or the file's start) past the window: refill.
     * Near where the last read ended counts: the kernel's async reads
     * of neighbouring ranges may arrive out of order. */
    bool seq = (at == 0 || (at + RA_NEAR >= h->next && at <= h->next + RA_NEAR)) &&
               size < RA_WINDOW;
    if (seq && ra_have(h) && (rc = ra_fill(g, ino, h, gen, at)) == 0 &&
        ra_copy(h, gen, at, size, true, buf, n))
        return 0;
    h->next = at + size;
    *direct = rc == 0;
    return rc;
}

void gw_fuse_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                  struct fuse_file_info *fi)
{
    struct gw_fuse *g = gw_fuse_of(req);
    struct fh *h = fh_of(fi);
    char *buf = malloc(size ? size : 1);
    size_t n = 0;
    bool direct = false;
    int rc = buf ? 0 : -ENOMEM;

    if (rc == 0) {
        pthread_mutex_lock(&h->lock);
        rc = read_window(g, ino, h, (uint64_t)off, size, buf, &n, &direct);
        pthread_mutex_unlock(&h->lock);
    }
    if (rc == 0 && direct)
        rc = cairn_fs_read(g->fs, ino, (uint64_t)off, size, buf, &n);
    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else
        fuse_reply_buf(req, buf, n);
    free(buf);
}

void gw_fuse_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    bool append = fh_of(fi)->append;
    uint64_t at = 0;
    int rc;

    /* With O_APPEND the kernel's offset is its cached size, stale when
     * another client appended: the library appends at the real end. */
    gw_fuse_data_changed(gw_fuse_of(req), ino);
    rc = cairn_fs_write(gw_fuse_of(req)->fs, ino, (uint64_t)off, buf, size, append, &at);
    gw_fuse_data_changed(gw_fuse_of(req), ino);
    if (rc < 0)
        gw_fuse_reply_err(req, rc);
    else
        fuse_reply_write(req, size);
}

/* Writes are durable already: a flush only drops the owner's locks. */
void gw_fuse_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    gw_fuse_reply_err(req, gw_fuse_locks_release(req, ino, fi, false));
}

void gw_fuse_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    int r = gw_fuse_locks_release(req, ino, fi, true);

    opened_unref(gw_fuse_of(req), ino);
    fh_free(fi);
    gw_fuse_reply_err(req, r);
}

void gw_fuse_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    /* Every write was durable when it returned (client/fs.h). */
    (void)ino;
    (void)datasync;
    (void)fi;
    fuse_reply_err(req, 0);
}

void gw_fuse_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                       struct fuse_file_info *fi)
{
    (void)fi;
    if (off < 0 || len <= 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    gw_fuse_data_changed(gw_fuse_of(req), ino);
    int rc = cairn_fs_fallocate(gw_fuse_of(req)->fs, ino, mode, (uint64_t)off, (uint64_t)len);
    gw_fuse_data_changed(gw_fuse_of(req), ino);
    gw_fuse_reply_err(req, rc);
}

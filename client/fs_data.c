/* File data (client/fs.h): read, write, truncate and fallocate over the
 * 4 MiB stripes fs.VOL.d.INO.N. A missing stripe reads as zeros; reads stop
 * at the "size" xattr, which writes grow with set_if_greater (so concurrent
 * writers never shrink it) and truncate sets with compare-and-set.
 *
 * A write sends one op per stripe piece (each piece is atomic), then grows
 * the size. Appends first reserve their range by moving the size from the
 * value they read to value + len (compare-and-set), so appenders on
 * different clients never overlap; until the data lands the range reads as
 * zeros. The op that grows the size also moves "wtime" (mtime), so every
 * write costs one op on the inode and never a read-modify-write of
 * "attr". */
#include "client/fs_internal.h"
#include "common/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STRIPE ((uint64_t)CAIRN_FS_STRIPE_BYTES)

static uint64_t stripes_of(uint64_t size)
{
    return size / STRIPE + (size % STRIPE != 0);
}

/* ---- removals, many in flight ---- */

void cairn__fs_batch_init(struct cairn__fs_batch *b, struct cairn *c, int32_t pool)
{
    memset(b, 0, sizeof(*b));
    b->c = c;
    b->pool = pool;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
}

/* Loop thread: one removal finished (a missing object is fine). */
static void batch_done(int result, struct cairn_op *op, void *arg)
{
    struct cairn__fs_batch *b = arg;

    cairn_op_destroy(op);
    pthread_mutex_lock(&b->lock);
    if (result < 0 && result != -ENOENT && b->err == 0)
        b->err = result;
    b->inflight--;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

int cairn__fs_batch_remove(struct cairn__fs_batch *b, const char *oid)
{
    struct cairn_op *op;
    int r;

    pthread_mutex_lock(&b->lock);
    while (b->inflight >= CAIRN__FS_BATCH_WINDOW)
        pthread_cond_wait(&b->cond, &b->lock);
    r = b->err;
    if (r == 0)
        b->inflight++;
    pthread_mutex_unlock(&b->lock);
    if (r < 0)
        return r;
    op = cairn_op_create();
    r = op ? cairn_op_remove(op) : -ENOMEM;
    if (r == 0)
        r = cairn_op_exec_async(b->c, b->pool, oid, op, batch_done, b);
    if (r < 0) {
        cairn_op_destroy(op);
        pthread_mutex_lock(&b->lock);
        b->inflight--;
        pthread_mutex_unlock(&b->lock);
    }
    return r;
}

int cairn__fs_batch_finish(struct cairn__fs_batch *b)
{
    int r;

    pthread_mutex_lock(&b->lock);
    while (b->inflight > 0)
        pthread_cond_wait(&b->cond, &b->lock);
    r = b->err;
    pthread_mutex_unlock(&b->lock);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    return r;
}

int cairn__fs_data_remove(struct cairn_fs *fs, uint64_t ino, uint64_t from, uint64_t to)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn__fs_batch b;
    int r = 0;

    cairn__fs_batch_init(&b, fs->c, fs->pool);
    for (uint64_t n = from; r == 0 && n < to; n++) {
        cairn__fs_oid_data(oid, fs->vol, ino, n);
        r = cairn__fs_batch_remove(&b, oid);
    }
    int rr = cairn__fs_batch_finish(&b);
    return r < 0 ? r : rr;
}

int cairn__fs_inode_destroy(struct cairn_fs *fs, uint64_t ino, uint64_t size)
{
    char oid[CAIRN__FS_OID_MAX];
    int r = cairn__fs_data_remove(fs, ino, 0, stripes_of(size));

    if (r == 0)
        r = cairn__fs_locks_remove(fs, ino);
    if (r < 0)
        return r;
    cairn__fs_oid_inode(oid, fs->vol, ino);
    r = cairn_remove(fs->c, fs->pool, oid);
    return r == -ENOENT ? 0 : r;
}

/* Cuts stripe @n of @ino to @len bytes when it exists. */
static int stripe_cut(struct cairn_fs *fs, uint64_t ino, uint64_t n, uint64_t len)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn_op_assert_exists(op) : 0;

    if (r == 0)
        r = cairn_op_truncate(op, len);
    cairn__fs_oid_data(oid, fs->vol, ino, n);
    r = cairn__fs_run(fs, oid, op, r);
    return r == -ENOENT ? 0 : r;
}

/* Moves "size" from @old to @new in one compare-and-set: -ECANCELED when
 * it changed meanwhile, -ENOENT when the inode is gone. */
static int size_cas(struct cairn_fs *fs, uint64_t ino, uint64_t old, uint64_t new)
{
    char oid[CAIRN__FS_OID_MAX];
    uint8_t o[8], n[8];
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn_op_assert_exists(op) : 0;

    cairn_put_le64(o, old);
    cairn_put_le64(n, new);
    if (r == 0)
        r = cairn_op_cmpxattr(op, "size", o, 8);
    if (r == 0)
        r = cairn_op_setxattr(op, "size", n, 8);
    if (r == 0)
        r = cairn__fs_wtime_step(op);
    cairn__fs_oid_inode(oid, fs->vol, ino);
    return cairn__fs_run(fs, oid, op, r);
}

/* Grows "size" to at least @size and records the change time: after
 * every write, and for fallocate. */
static int size_grow(struct cairn_fs *fs, uint64_t ino, uint64_t size)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn_op *op = cairn_op_create();
    int r = op ? cairn_op_assert_exists(op) : 0;

    if (r == 0)
        r = cairn_op_set_if_greater(op, "size", size, NULL);
    if (r == 0)
        r = cairn__fs_wtime_step(op);
    cairn__fs_oid_inode(oid, fs->vol, ino);
    return cairn__fs_run(fs, oid, op, r);
}

/* Before a file grows from @old to @size: bytes past @old, which a write
 * cut off by a client crash can leave (its data lands before the size),
 * must read as zeros once the size covers them. Such a write through
 * mount.cairn (at most 1 MiB) touches the stripe holding @old and at most
 * the next; cairn fs check removes whole stripes past the size. */
static int tail_clear(struct cairn_fs *fs, uint64_t ino, uint64_t old, uint64_t size)
{
    uint64_t first = old / STRIPE;
    int r = stripe_cut(fs, ino, first, old % STRIPE);

    if (r == 0 && first + 1 < stripes_of(size))
        r = cairn__fs_data_remove(fs, ino, first + 1, first + 2);
    return r;
}

/* Data beyond @size goes before the size says so, so that bytes past a
 * shrink never reappear on a later grow. */
int cairn__fs_truncate(struct cairn_fs *fs, uint64_t ino, uint64_t size)
{
    struct cairn__fs_inode in;

    for (int tries = 0; tries < CAIRN__FS_TRIES; tries++) {
        int r = cairn__fs_inode_read(fs, ino, &in);
        if (r < 0)
            return r;
        if (size < in.a.size) {
            r = cairn__fs_data_remove(fs, ino, stripes_of(size), stripes_of(in.a.size));
            if (r == 0 && size % STRIPE)
                r = stripe_cut(fs, ino, size / STRIPE, size % STRIPE);
            if (r < 0)
                return r;
        } else if (size > in.a.size && (r = tail_clear(fs, ino, in.a.size, size)) < 0) {
            return r;
        }
        r = size_cas(fs, ino, in.a.size, size);
        if (r != -ECANCELED)
            return r;
    }
    return -EAGAIN;
}

int cairn_fs_read(struct cairn_fs *fs, uint64_t ino, uint64_t off, size_t len, void *buf,
                  size_t *got)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn__fs_inode in;
    uint8_t *p = buf;
    int r = cairn__fs_inode_read(fs, ino, &in);

    if (r < 0)
        return r;
    if (S_ISDIR(in.a.mode))
        return -EISDIR;
    if (!S_ISREG(in.a.mode))
        return -EINVAL;
    if (off >= in.a.size)
        len = 0;
    else if (len > in.a.size - off)
        len = (size_t)(in.a.size - off);
    for (size_t done = 0; done < len;) {
        uint64_t at = off + done, in_stripe = at % STRIPE;
        size_t piece = (size_t)(STRIPE - in_stripe), n = 0;
        if (piece > len - done)
            piece = len - done;
        cairn__fs_oid_data(oid, fs->vol, ino, at / STRIPE);
        r = cairn_read(fs->c, fs->pool, oid, in_stripe, piece, p + done, &n);
        if (r == -ENOENT)
            n = 0;
        else if (r < 0)
            return r;
        if (n > piece)
            return -EIO;
        memset(p + done + n, 0, piece - n);
        done += piece;
    }
    *got = len;
    return 0;
}

/* Reserves [size, size + len) at the end of @ino: its start in *@at. */
static int append_reserve(struct cairn_fs *fs, uint64_t ino, size_t len, uint64_t *at)
{
    struct cairn__fs_inode in;

    for (int tries = 0; tries < 4 * CAIRN__FS_TRIES; tries++) {
        int r = cairn__fs_inode_read(fs, ino, &in);
        if (r < 0)
            return r;
        if (in.a.size + len > CAIRN_FS_FILE_MAX)
            return -EFBIG;
        r = size_cas(fs, ino, in.a.size, in.a.size + len);
        if (r == 0)
            *at = in.a.size;
        if (r != -ECANCELED)
            return r;
    }
    return -EAGAIN;
}

int cairn_fs_write(struct cairn_fs *fs, uint64_t ino, uint64_t off, const void *data,
                   size_t len, bool append, uint64_t *written_at)
{
    char oid[CAIRN__FS_OID_MAX];
    const uint8_t *p = data;
    int r;

    if (append && (r = append_reserve(fs, ino, len, &off)) < 0)
        return r;
    if (off > CAIRN_FS_FILE_MAX || len > CAIRN_FS_FILE_MAX - off)
        return -EFBIG;
    for (size_t done = 0; done < len;) {
        uint64_t at = off + done, in_stripe = at % STRIPE;
        size_t piece = (size_t)(STRIPE - in_stripe);
        if (piece > len - done)
            piece = len - done;
        cairn__fs_oid_data(oid, fs->vol, ino, at / STRIPE);
        if ((r = cairn_write(fs->c, fs->pool, oid, in_stripe, p + done, piece)) < 0)
            return r;
        done += piece;
    }
    /* After an append the size is already there: this records mtime. */
    if (len > 0 && (r = size_grow(fs, ino, off + len)) < 0)
        return r;
    if (written_at)
        *written_at = off;
    return 0;
}

/* Zeroes [off, off + len) of stripes: whole ones are removed. */
static int punch(struct cairn_fs *fs, uint64_t ino, uint64_t off, uint64_t len)
{
    char oid[CAIRN__FS_OID_MAX];

    while (len > 0) {
        uint64_t in_stripe = off % STRIPE, piece = STRIPE - in_stripe;
        int r;
        if (piece > len)
            piece = len;
        cairn__fs_oid_data(oid, fs->vol, ino, off / STRIPE);
        if (piece == STRIPE) {
            r = cairn_remove(fs->c, fs->pool, oid);
        } else {
            struct cairn_op *op = cairn_op_create();
            r = op ? cairn_op_assert_exists(op) : 0;
            if (r == 0)
                r = cairn_op_zero(op, in_stripe, piece);
            r = cairn__fs_run(fs, oid, op, r);
        }
        if (r < 0 && r != -ENOENT)
            return r;
        off += piece;
        len -= piece;
    }
    return 0;
}

int cairn_fs_fallocate(struct cairn_fs *fs, uint64_t ino, int mode, uint64_t off,
                       uint64_t len)
{
    struct cairn__fs_inode in;
    int r;

    if (mode != 0 && mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
        return -EOPNOTSUPP;
    if (len == 0)
        return -EINVAL;
    if (off > CAIRN_FS_FILE_MAX || len > CAIRN_FS_FILE_MAX - off)
        return -EFBIG;
    if ((r = cairn__fs_inode_read(fs, ino, &in)) < 0)
        return r;
    if (S_ISDIR(in.a.mode))
        return -EISDIR;
    if (!S_ISREG(in.a.mode))
        return -ENODEV;
    if (mode == 0 && off + len > in.a.size && (r = tail_clear(fs, ino, in.a.size, off + len)) < 0)
        return r;
    if (mode == 0)
        return size_grow(fs, ino, off + len);
    if (off >= in.a.size)
        return 0;
    if (len > in.a.size - off)
        len = in.a.size - off;
    if ((r = punch(fs, ino, off, len)) < 0)
        return r;
    return size_grow(fs, ino, 0); /* mtime */
}

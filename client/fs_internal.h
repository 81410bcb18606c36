/* The file system's internals (client/fs.h), shared by fs.c (volumes,
 * inodes, attributes, xattrs, statfs), fs_dir.c (names: lookup, create,
 * link, unlink, rename, readdir), fs_data.c (read, write, truncate,
 * fallocate) and fs_check.c (the consistency check). Only those files and
 * tests/fs include it; fs_lock.c keeps the cross-client locks.
 *
 * Encodings (little endian, each starts with a version byte so a later
 * format can be told apart; anything that does not parse is -EIO):
 *   volume record (fs.volumes omap value), 17 bytes:
 *       u8 version 1, u64 id, i64 created_s
 *   inode "attr" xattr, 57 bytes:
 *       u8 version 1, u32 mode, u32 uid, u32 gid, u32 nlink, u64 rdev,
 *       i64 atime_ns, i64 mtime_ns, i64 ctime_ns, u64 parent
 *   inode "size" xattr: u64
 *   inode "wtime" xattr: u64 ns, the last data or entry change, grown with
 *       set_if_greater in the same op that grows the size or changes an
 *       entry, so writes and creates never read-modify-write "attr". The
 *       times callers see: mtime = wtime when wtime > attr ctime (a change
 *       after the last attribute update), else attr mtime (which utimensat
 *       sets, also backwards); ctime = max(attr ctime, wtime).
 *   directory entry (omap value), 9 bytes: u64 ino, u8 type (mode >> 12)
 *   rename intent (object data): u8 version 1, u64 src dir, u64 dst dir,
 *       u64 ino, u8 type, u64 replaced ino (0: none), u8 replaced type,
 *       u16 src name length, u16 dst name length, the two names. */
#ifndef CAIRN_CLIENT_FS_INTERNAL_H
#define CAIRN_CLIENT_FS_INTERNAL_H

#include <pthread.h>

#include "client/fs.h"

#define CAIRN__FS_OID_MAX 96u
#define CAIRN__FS_ATTR_LEN 57u
#define CAIRN__FS_DENT_LEN 9u
#define CAIRN__FS_INO_BATCH 1024
#define CAIRN__FS_TRIES 32       /* compare-and-set attempts before -EAGAIN */
#define CAIRN__FS_NLINK_MAX 65000u

/* An (inode, owner, kind) this cairn_fs holds locks on (fs_lock.c). */
struct cairn__fs_held {
    uint64_t ino, owner;
    char kind; /* 'p' POSIX, 'f' flock */
};

/* The lock session (fs_lock.c): started on the first lock. */
struct cairn__fs_locks {
    pthread_mutex_t session_mu; /* starting the session */
    pthread_mutex_t mu;         /* the rest */
    pthread_cond_t cv;          /* wakes the heartbeat thread to stop */
    uint64_t sid;               /* 0 until the first lock */
    bool beating, stop;
    pthread_t beat;
    struct cairn__fs_held *held;
    size_t n_held, cap_held;
};

struct cairn_fs {
    struct cairn *c;
    int32_t pool;
    uint64_t vol;
    pthread_mutex_t lock; /* the inode number range */
    uint64_t ino_next, ino_end;
    struct cairn__fs_locks locks;
};

/* An inode as read: its attributes and the raw "attr" record (for
 * compare-and-set). */
struct cairn__fs_inode {
    struct cairn_fs_attr a;
    uint8_t raw[CAIRN__FS_ATTR_LEN];
};

/* ---- fs.c ---- */

void cairn__fs_oid_super(char *buf, uint64_t vol);
void cairn__fs_oid_inode(char *buf, uint64_t vol, uint64_t ino);
void cairn__fs_oid_data(char *buf, uint64_t vol, uint64_t ino, uint64_t stripe);
void cairn__fs_oid_intent(char *buf, uint64_t vol, uint64_t id);
/* Runs @op (NULL: -ENOMEM) on @oid unless @built < 0, then destroys it. */
int cairn__fs_run(struct cairn_fs *fs, const char *oid, struct cairn_op *op, int built);
int64_t cairn__fs_now_ns(void);
void cairn__fs_attr_encode(const struct cairn_fs_attr *a, uint8_t *out);
/* -EIO when @buf is not a valid record. */
int cairn__fs_attr_decode(const uint8_t *buf, size_t len, struct cairn_fs_attr *a);
/* Adds the CAIRN__FS_INODE_STEPS steps that read @ino's attr, size and
 * wtime into @rd to @op; after a successful exec, cairn__fs_inode_finish()
 * validates them. */
#define CAIRN__FS_INODE_STEPS 3
struct cairn__fs_inode_rd {
    uint8_t attr[CAIRN__FS_ATTR_LEN + 1], size[9], wtime[9];
    size_t attr_len, size_len, wtime_len;
};
int cairn__fs_inode_steps(struct cairn_op *op, struct cairn__fs_inode_rd *rd);
int cairn__fs_inode_finish(const struct cairn__fs_inode_rd *rd, uint64_t ino,
                           struct cairn__fs_inode *in);
/* Reads inode @ino: -ENOENT, -EIO. */
int cairn__fs_inode_read(struct cairn_fs *fs, uint64_t ino, struct cairn__fs_inode *in);
/* Changes @ino's attr by @fn (which may refuse with -errno) with a
 * compare-and-set loop; the new attributes go to @out (may be NULL). */
typedef int (*cairn__fs_attr_fn)(struct cairn_fs_attr *a, void *arg);
int cairn__fs_attr_update(struct cairn_fs *fs, uint64_t ino, cairn__fs_attr_fn fn, void *arg,
                          struct cairn_fs_attr *out);
/* True when @cred may access @a with @mask (R_OK, W_OK, X_OK); a NULL
 * cred is root. */
bool cairn__fs_may(const struct cairn_fs_cred *cred, const struct cairn_fs_attr *a, int mask);
/* Adds the steps that create inode @a exclusively ("attr" encoded into
 * @rec, which the op borrows; "size" from @a->size; "wtime" 0; @target as
 * a symlink's data when not NULL). */
int cairn__fs_inode_create_steps(struct cairn_op *op, const struct cairn_fs_attr *a,
                                 const char *target, uint8_t rec[CAIRN__FS_ATTR_LEN]);
/* Adds the step that records a data or entry change now ("wtime"). */
int cairn__fs_wtime_step(struct cairn_op *op);
/* A fresh inode number. */
int cairn__fs_ino_alloc(struct cairn_fs *fs, uint64_t *ino);
/* Drops one link of @ino (ctime now); at zero removes its data and the
 * inode object. */
int cairn__fs_drop_link(struct cairn_fs *fs, uint64_t ino);

/* ---- fs_data.c ---- */

/* Removals with up to CAIRN__FS_BATCH_WINDOW in flight (async ops): init,
 * remove as many as needed, finish (waits; the first error other than
 * -ENOENT, which counts as done). */
#define CAIRN__FS_BATCH_WINDOW 32u
struct cairn__fs_batch {
    struct cairn *c;
    int32_t pool;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned inflight;
    int err;
};
void cairn__fs_batch_init(struct cairn__fs_batch *b, struct cairn *c, int32_t pool);
int cairn__fs_batch_remove(struct cairn__fs_batch *b, const char *oid);
int cairn__fs_batch_finish(struct cairn__fs_batch *b);

/* Removes stripes [@from, @to) of @ino (missing ones are fine). */
int cairn__fs_data_remove(struct cairn_fs *fs, uint64_t ino, uint64_t from, uint64_t to);
/* Sets @ino's size to @size, removing data beyond it. */
int cairn__fs_truncate(struct cairn_fs *fs, uint64_t ino, uint64_t size);
/* Removes @ino's data and its inode object. */
int cairn__fs_inode_destroy(struct cairn_fs *fs, uint64_t ino, uint64_t size);

/* ---- fs_dir.c ---- */

bool cairn__fs_name_is_valid(const char *name);
void cairn__fs_dent_encode(uint64_t ino, uint32_t mode, uint8_t *out);
int cairn__fs_dent_decode(const void *buf, size_t len, uint64_t *ino, uint32_t *type);
/* A cross-directory rename that stops after step @stop (1: the intent is
 * written, 2: the new name too, ...; 0: runs to the end). For tests that
 * simulate a client dying half way. */
int cairn__fs_rename_steps(struct cairn_fs *fs, const struct cairn_fs_cred *cred,
                           uint64_t parent, const char *name, uint64_t newparent,
                           const char *newname, unsigned flags, unsigned stop);

/* ---- fs_lock.c ---- */

void cairn__fs_locks_init(struct cairn_fs *fs);
/* Releases the locks this cairn_fs holds and ends its session. */
void cairn__fs_locks_fini(struct cairn_fs *fs);
void cairn__fs_oid_locks(char *buf, uint64_t vol, uint64_t ino);
void cairn__fs_oid_session(char *buf, uint64_t vol, uint64_t sid);
/* *@alive unless session @sid is gone or missed its lease. */
int cairn__fs_session_alive(struct cairn_fs *fs, uint64_t sid, bool *alive);
/* The lease (fs.h CAIRN_FS_LOCK_LEASE_S; tests shorten it). */
extern int64_t cairn__fs_lock_lease_ns;
/* For tests: @fs stops its heartbeat and forgets its locks and session
 * without releasing them, as a client that died. */
void cairn__fs_locks_abandon(struct cairn_fs *fs);
/* Removes @ino's lock object (the inode is going). */
int cairn__fs_locks_remove(struct cairn_fs *fs, uint64_t ino);

/* ---- fs_check.c ---- */

/* Parsed intent. */
struct cairn__fs_intent {
    uint64_t src, dst, ino, replaced;
    uint32_t type, replaced_type;
    char src_name[CAIRN_FS_NAME_MAX + 1], dst_name[CAIRN_FS_NAME_MAX + 1];
};
/* Encodes into @buf (at least 64 + 2 * CAIRN_FS_NAME_MAX): the length. */
size_t cairn__fs_intent_encode(const struct cairn__fs_intent *in, uint8_t *buf);
int cairn__fs_intent_decode(const uint8_t *buf, size_t len, struct cairn__fs_intent *in);

#endif

/* The shared POSIX file system on libcairn objects (DESIGN.md §6): the API
 * mount.cairn (gateway/fuse) and `cairn fs` use. No metadata server: every
 * multi-step change is built from the OSD's atomic primitives, ordered so
 * that a client dying between two steps leaves a tree `cairn_fs_check`
 * can finish or undo, never a dangling name.
 *
 * Layout in the pool (VOL is the volume's 16-hex-digit id):
 *   fs.volumes            omap volume name -> volume record (id, created)
 *   fs.VOL.super          xattr "next_ino" (u64 counter: inode numbers are
 *                         handed out in batches with counter_add)
 *   fs.VOL.i.INO          an inode (INO in hex): xattr "attr" holds mode,
 *                         uid, gid, nlink, rdev, times, parent (directories)
 *                         in one encoded record; xattr "size" the file size
 *                         (u64, grown with set_if_greater so concurrent
 *                         writers never shrink it); xattr "wtime" the last
 *                         data or entry change (mtime without rewriting
 *                         "attr"); user xattrs as "x.NAME";
 *                         a directory's entries in its omap: name -> (ino,
 *                         type); a symlink's target as its data
 *   fs.VOL.d.INO.N        the N-th stripe (4 MiB) of a file's data; a
 *                         missing stripe reads as zeros (sparse files)
 *   fs.VOL.intent.ID      a cross-directory rename in progress
 *   fs.VOL.l.INO          the locks held on inode INO (see "locks")
 *   fs.VOL.s.SID          a lock-holding client's session (heartbeat)
 *
 * Orders that keep the tree consistent at every instant:
 *   create:  inode object first (create-exclusive), then the name in the
 *            parent (omap compare-and-set: absent -> ino). A crash in
 *            between leaves an unreferenced inode: an orphan for check.
 *   unlink:  the name goes first (compare-and-set ino -> absent), then
 *            nlink is decremented (counter); at 0 the data and the inode go.
 *   rename within a directory: one atomic op on the directory's omap.
 *   rename across directories: an intent object records (src dir, name,
 *            dst dir, name, ino, replaced ino); then the new name (CAS),
 *            the old name removed (CAS), a directory's parent pointer
 *            updated, the replaced inode unlinked, the intent removed.
 *            check rolls an intent forward when the new name exists, else
 *            back. Moving a directory under itself is refused (-EINVAL)
 *            after walking the destination's parents up to the root.
 *
 * Consistency between clients: every call goes to the cluster (no cache
 * here; mount.cairn caches attributes and entries for its configured
 * timeouts), so a change is visible to every client once the call
 * returned. Writes are durable when the call returns (fsync has nothing
 * left to do).
 *
 * Threads: every call is synchronous and thread-safe (mount.cairn calls
 * from many FUSE worker threads); none may run on libcairn's loop thread.
 * Calls return 0 or a negative errno; records read back that do not parse
 * give -EIO. A NULL cred is root (tools, tests).
 *
 * Known limits: a file unlinked while open loses its data at once (no
 * open-file tracking across clients); mtime after a data or entry change
 * is the changing client's clock (clients' clocks should agree). The
 * encodings are documented at the top of client/fs_internal.h. */
#ifndef CAIRN_CLIENT_FS_H
#define CAIRN_CLIENT_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "client/cairn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAIRN_FS_DEFAULT_POOL "fs"
#define CAIRN_FS_VOLUME_NAME_MAX 64u     /* [A-Za-z0-9_.-], no leading '.' */
#define CAIRN_FS_NAME_MAX 255u           /* bytes of one path component */
#define CAIRN_FS_SYMLINK_MAX 4095u
#define CAIRN_FS_STRIPE_BYTES (4u << 20)
#define CAIRN_FS_ROOT_INO 1u
#define CAIRN_FS_FILE_MAX (1ull << 44)    /* 16 TiB */
#define CAIRN_FS_XATTR_VALUE_MAX (64u << 10)

/* ---- volumes ---- */

/* Creates volume @name (its root directory owned by root, mode 0755).
 * -EEXIST, -EINVAL (name), -ENOENT (pool). */
int cairn_fs_create(struct cairn *c, int32_t pool, const char *name);
/* Removes volume @name and every object of it. -ENOENT. Mounts of it
 * then fail with -ENOENT. */
int cairn_fs_remove(struct cairn *c, int32_t pool, const char *name);
/* Calls @fn for every volume of @pool in name order; non-zero stops. */
typedef int (*cairn_fs_list_fn)(const char *name, int64_t created_s, void *arg);
int cairn_fs_list(struct cairn *c, int32_t pool, cairn_fs_list_fn fn, void *arg);

struct cairn_fs;

/* Opens volume @name. -ENOENT. */
int cairn_fs_open(struct cairn *c, int32_t pool, const char *name, struct cairn_fs **out);
void cairn_fs_close(struct cairn_fs *fs);

/* ---- inodes ---- */

struct cairn_fs_attr {
    uint64_t ino;
    uint32_t mode;   /* type and permission bits, as st_mode */
    uint32_t uid, gid;
    uint32_t nlink;
    uint64_t size;
    uint64_t rdev;
    int64_t atime_ns, mtime_ns, ctime_ns; /* since the epoch */
    uint64_t parent; /* directories: the parent's ino (the root's is itself) */
};

/* Who asks: permissions are checked against it (POSIX rules: owner, group
 * and supplementary groups, other; uid 0 passes all but exec checks). */
struct cairn_fs_cred {
    uint32_t uid, gid;
    const uint32_t *groups; /* supplementary groups */
    size_t ngroups;
};

int cairn_fs_getattr(struct cairn_fs *fs, uint64_t ino, struct cairn_fs_attr *out);

/* The entry @name of directory @parent. -ENOENT, -ENOTDIR, -ENAMETOOLONG,
 * -EACCES (no search permission on @parent). */
int cairn_fs_lookup(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                    const char *name, struct cairn_fs_attr *out);

/* Creates a regular file, FIFO, socket or device node (@mode's type; a
 * zero type means a regular file) owned by @cred. -EEXIST, -ENOENT,
 * -ENOTDIR, -EACCES (no write+search on @parent), -ENAMETOOLONG. */
int cairn_fs_mknod(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                   const char *name, uint32_t mode, uint64_t rdev, struct cairn_fs_attr *out);
int cairn_fs_mkdir(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                   const char *name, uint32_t mode, struct cairn_fs_attr *out);
int cairn_fs_symlink(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                     const char *name, const char *target, struct cairn_fs_attr *out);
/* The target into @buf (NUL-terminated, truncated to @cap - 1). -EINVAL
 * when @ino is not a symlink. */
int cairn_fs_readlink(struct cairn_fs *fs, uint64_t ino, char *buf, size_t cap);
/* A hard link @newparent/@newname to @ino. -EPERM for directories,
 * -EEXIST, -EMLINK. */
int cairn_fs_link(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t ino,
                  uint64_t newparent, const char *newname, struct cairn_fs_attr *out);
/* -EISDIR for a directory; -EPERM/-EACCES with the sticky bit or without
 * write permission. */
int cairn_fs_unlink(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                    const char *name);
/* -ENOTEMPTY, -ENOTDIR, -EBUSY for the root. */
int cairn_fs_rmdir(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                   const char *name);

#define CAIRN_FS_RENAME_NOREPLACE 1u /* as RENAME_NOREPLACE */
/* Renames, replacing an existing target as POSIX says (a directory only
 * by an empty directory: -ENOTEMPTY, -EISDIR, -ENOTDIR). -EINVAL when a
 * directory would move under itself. Never -EXDEV within a volume. */
int cairn_fs_rename(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t parent,
                    const char *name, uint64_t newparent, const char *newname, unsigned flags);

/* Which fields of @attr cairn_fs_setattr applies. */
#define CAIRN_FS_SET_MODE 1u
#define CAIRN_FS_SET_UID 2u
#define CAIRN_FS_SET_GID 4u
#define CAIRN_FS_SET_SIZE 8u   /* truncate or extend (sparse) */
#define CAIRN_FS_SET_ATIME 16u
#define CAIRN_FS_SET_MTIME 32u
#define CAIRN_FS_SET_ATIME_NOW 64u
#define CAIRN_FS_SET_MTIME_NOW 128u
/* Applies the fields @to_set of @attr with POSIX's permission rules
 * (chmod/chown by the owner or root, clearing setuid/setgid on chown;
 * utimensat: explicit times by the owner, NOW by anyone with write
 * permission), sets ctime, and returns the new attributes in @out.
 * SET_SIZE needs write permission for @cred (pass NULL for ftruncate on a
 * descriptor opened for writing): -EACCES, -EISDIR, -EINVAL (not a regular
 * file), -EFBIG; -EPERM for chmod/chown/explicit times by others. */
int cairn_fs_setattr(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t ino,
                     const struct cairn_fs_attr *attr, unsigned to_set,
                     struct cairn_fs_attr *out);

/* Permission check for open()/access(): @mask of R_OK, W_OK, X_OK. */
int cairn_fs_access(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t ino,
                    int mask);

/* ---- data ---- */

/* Reads up to @len bytes at @off; *@got is short only at the end of the
 * file. Holes read as zeros. */
int cairn_fs_read(struct cairn_fs *fs, uint64_t ino, uint64_t off, size_t len, void *buf,
                  size_t *got);
/* Writes @len bytes at @off (with @append: at the end of the file, and
 * *@written_at says where). Durable on return; grows the size atomically
 * (concurrent writers never lose each other's extension); sets mtime. */
int cairn_fs_write(struct cairn_fs *fs, uint64_t ino, uint64_t off, const void *data,
                   size_t len, bool append, uint64_t *written_at);
/* fallocate: @mode 0 (allocate: extends the size, holes read as zeros
 * anyway) or FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE. -EOPNOTSUPP else. */
int cairn_fs_fallocate(struct cairn_fs *fs, uint64_t ino, int mode, uint64_t off,
                       uint64_t len);

/* ---- directories ---- */

/* Calls @fn for up to @max entries of directory @ino whose names sort
 * after @after (NULL: from the first), in byte order, without "." and
 * "..". @type is the entry's file type as st_mode's S_IFMT bits (S_IFREG,
 * S_IFDIR, ...). @fn returns non-zero to stop. *@more is set when entries
 * remain. -ENOTDIR, -ENOENT. */
typedef int (*cairn_fs_dirent_fn)(const char *name, uint64_t ino, uint32_t type, void *arg);
int cairn_fs_readdir(struct cairn_fs *fs, uint64_t ino, const char *after, unsigned max,
                     cairn_fs_dirent_fn fn, void *arg, bool *more);

/* ---- extended attributes (user.*, security.*, trusted.* by root) ---- */

/* @flags: XATTR_CREATE / XATTR_REPLACE. */
int cairn_fs_setxattr(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t ino,
                      const char *name, const void *value, size_t len, int flags);
/* *@len gets the full length; -ERANGE when it exceeds @cap (@cap 0: only
 * the length). -ENODATA when absent. */
int cairn_fs_getxattr(struct cairn_fs *fs, uint64_t ino, const char *name, void *value,
                      size_t cap, size_t *len);
/* Names as "a\0b\0"; same sizing rules. */
int cairn_fs_listxattr(struct cairn_fs *fs, uint64_t ino, char *list, size_t cap,
                       size_t *len);
int cairn_fs_removexattr(struct cairn_fs *fs, const struct cairn_fs_cred *cred, uint64_t ino,
                         const char *name);

/* ---- locks that hold across clients ---- */

/* POSIX byte-range locks (fcntl F_SETLK/F_SETLKW/F_GETLK, OFD locks) and
 * BSD flock() locks, shared by every client of the volume. The two kinds
 * never conflict with each other (as on Linux). A lock belongs to an
 * @owner chosen by the caller (mount.cairn passes the kernel's lock owner)
 * within this cairn_fs: the owner's locks on one file are merged and split
 * as POSIX says (a new lock replaces the owner's overlapping ranges,
 * unlock may cut a range in two, read and write locks convert).
 *
 * Locks live in the cluster (fs.VOL.l.INO, one omap entry per held range)
 * and are changed under the object's version, so two clients never both
 * win a conflicting lock. A client holds them through a session
 * (fs.VOL.s.SID) whose heartbeat this library refreshes every
 * CAIRN_FS_LOCK_BEAT_S seconds while it holds any lock; a session not
 * refreshed for CAIRN_FS_LOCK_LEASE_S (a client that died or lost the
 * cluster) loses its locks to the next client that wants them. Clients'
 * clocks must agree to well within the lease. No deadlock detection: two
 * owners waiting on each other wait until interrupted. */
#define CAIRN_FS_LOCK_BEAT_S 5
#define CAIRN_FS_LOCK_LEASE_S 30
#define CAIRN_FS_LOCK_EOF UINT64_MAX /* @end of a lock to the end of file */

enum cairn_fs_lock_kind { CAIRN_FS_LOCK_POSIX, CAIRN_FS_LOCK_FLOCK };

struct cairn_fs_lock {
    int type;           /* F_RDLCK, F_WRLCK or F_UNLCK */
    uint64_t start, end; /* inclusive byte range; flock: 0 .. CAIRN_FS_LOCK_EOF */
    uint32_t pid;       /* who holds it, as the holder's client saw it */
};

/* Polled while a blocking lock waits: true ends the wait with -EINTR. */
typedef bool (*cairn_fs_interrupted_fn)(void *arg);

/* Takes, changes or (F_UNLCK) releases @owner's lock @lk on @ino. A
 * conflict gives -EAGAIN, or with @wait retries (backing off up to a
 * quarter second) until granted or @interrupted (may be NULL) says stop:
 * -EINTR. -EINVAL (type or range), -ENOLCK (too many locks on the file),
 * -ENOENT. */
int cairn_fs_setlk(struct cairn_fs *fs, uint64_t ino, uint64_t owner,
                   enum cairn_fs_lock_kind kind, const struct cairn_fs_lock *lk, bool wait,
                   cairn_fs_interrupted_fn interrupted, void *arg);
/* F_GETLK: replaces *@lk by the first lock of another owner that conflicts
 * with it, or sets lk->type to F_UNLCK when it could be granted. */
int cairn_fs_getlk(struct cairn_fs *fs, uint64_t ino, uint64_t owner, struct cairn_fs_lock *lk);
/* Releases every lock of @owner of @kind on @ino (close, flush); costs no
 * round trip when this cairn_fs holds none there. */
int cairn_fs_unlock_owner(struct cairn_fs *fs, uint64_t ino, uint64_t owner,
                          enum cairn_fs_lock_kind kind);

/* ---- the volume ---- */

/* Sizes from the cluster's capacity (OSDs' totals and use). */
int cairn_fs_statfs(struct cairn_fs *fs, struct statvfs *out);

/* What cairn_fs_check found (and with repair, fixed). */
struct cairn_fs_check_report {
    uint64_t inodes, directories, entries;
    uint64_t orphans;          /* inodes no entry refers to (and data stripes
                                  of inodes that do not exist, or past their
                                  size: a write a crash cut off; lock objects
                                  of inodes that do not exist; sessions of
                                  clients that died) */
    uint64_t dangling;         /* entries naming a missing inode (or a second
                                  name of a directory) */
    uint64_t bad_nlink;        /* link counts (or directories' parent
                                  pointers) that did not match the entries */
    uint64_t intents;          /* renames left half done */
    uint64_t repaired;         /* problems fixed (with repair) */
};

/* Walks the whole volume from the root. With @repair: finishes or undoes
 * interrupted renames, removes orphan inodes and their data, drops
 * dangling entries, fixes link counts. Run it on a volume nobody is
 * changing (unmounted everywhere). 0 (the report says whether the tree
 * was consistent) or -errno. */
int cairn_fs_check(struct cairn *c, int32_t pool, const char *name, bool repair,
                   struct cairn_fs_check_report *report);

#ifdef __cplusplus
}
#endif

#endif

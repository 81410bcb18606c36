/* mount.cairn's private interfaces (docs/fuse.md), in sections by defining
 * file. main.c parses the command line, connects and mounts; ll.c, file.c
 * and dir.c are the FUSE low-level operations, each a thin translation to
 * client/fs.h called from libfuse's worker threads. */
#ifndef CAIRN_GATEWAY_FUSE_INTERNAL_H
#define CAIRN_GATEWAY_FUSE_INTERNAL_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/fs.h"

/* The largest read and write the kernel sends (FUSE's max_pages allows
 * 1 MiB on the kernels we run on). */
#define GW_FUSE_IO_MAX (1u << 20)
/* Supplementary groups we pass on; more are ignored (checks may then
 * deny what the kernel would allow). */
#define GW_FUSE_GROUPS_MAX 64

/* One mount: shared by every worker thread; read-only after start but
 * for the table of open files (file.c), under its mutex. */
struct gw_fuse {
    struct cairn_fs *fs;
    struct fuse_session *se;
    double attr_timeout_s;
    double entry_timeout_s;
    pthread_mutex_t open_lock;
    struct gw_fuse_opened *opened; /* files open here, by inode */
    size_t n_opened, cap_opened;
};

/* Who sent @req: uid/gid from the request, the supplementary groups only
 * for non-root callers (reading them costs a /proc read; root passes the
 * checks that need them anyway). */
struct gw_fuse_cred {
    struct cairn_fs_cred cred;
    uint32_t groups[GW_FUSE_GROUPS_MAX];
};

/* ---- ll.c: names, attributes, xattrs, the volume ---- */
extern const struct fuse_lowlevel_ops gw_fuse_ops;
static inline struct gw_fuse *gw_fuse_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}
const struct cairn_fs_cred *gw_fuse_cred(fuse_req_t req, struct gw_fuse_cred *buf);
void gw_fuse_stat(const struct cairn_fs_attr *a, struct stat *st);
/* Replies to a lookup-like request with @a as the new entry. */
void gw_fuse_reply_entry(fuse_req_t req, const struct cairn_fs_attr *a);
/* FUSE wants positive errnos; the library returns negative ones. */
static inline void gw_fuse_reply_err(fuse_req_t req, int rc)
{
    fuse_reply_err(req, rc < 0 ? -rc : rc);
}

/* ---- file.c: open files and their data ---- */
void gw_fuse_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gw_fuse_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                    struct fuse_file_info *fi);
void gw_fuse_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                  struct fuse_file_info *fi);
void gw_fuse_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi);
void gw_fuse_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gw_fuse_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gw_fuse_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
/* unlink of a file open here (docs/fuse.md, "Unlinking open files"):
 * renames it to a hidden name removed at the last release instead. 1 when
 * hidden, 0 when the caller should unlink as usual, or -errno. */
int gw_fuse_hide_if_open(fuse_req_t req, const struct cairn_fs_cred *cred, uint64_t parent,
                         const char *name);
void gw_fuse_opened_fini(struct gw_fuse *g);
/* This mount changes @ino's data (write, truncate, punch; called before
 * and after the change): open handles drop their read-ahead windows. */
void gw_fuse_data_changed(struct gw_fuse *g, uint64_t ino);
void gw_fuse_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                       struct fuse_file_info *fi);

/* ---- lock.c: locks that hold across clients ---- */
void gw_fuse_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *fl);
void gw_fuse_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *fl,
                   int sleep);
void gw_fuse_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op);
/* The closing owner's locks: POSIX ones at flush (@release false), flock
 * ones at the release that asks for it. 0 or -errno. */
int gw_fuse_locks_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                          bool release);

/* ---- dir.c: directory handles and paging ---- */
void gw_fuse_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void gw_fuse_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     struct fuse_file_info *fi);
void gw_fuse_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                         struct fuse_file_info *fi);
void gw_fuse_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

#endif

/* Locks (docs/fuse.md, "Locks"): fcntl record locks, OFD locks and flock()
 * as client/fs.h's cross-client locks. The kernel names the owner
 * (fi->lock_owner: the process's files table for POSIX locks, the open
 * file for OFD and flock locks); a blocking request waits in its worker
 * thread, polling fuse_req_interrupted so a signal ends it with EINTR. */
#include "gateway/fuse/internal.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/file.h>

/* struct flock as the kernel hands it (absolute start, l_len 0: to the end
 * of the file) into a library range: -EINVAL for a negative range. */
static int range_of(const struct flock *fl, struct cairn_fs_lock *lk)
{
    if (fl->l_start < 0 || fl->l_len < 0)
        return -EINVAL;
    lk->type = fl->l_type;
    lk->start = (uint64_t)fl->l_start;
    lk->end = fl->l_len == 0 ? CAIRN_FS_LOCK_EOF : (uint64_t)fl->l_start + (uint64_t)fl->l_len - 1;
    lk->pid = (uint32_t)fl->l_pid;
    return lk->end < lk->start ? -EINVAL : 0;
}

/* The waiter's request was interrupted (a signal), or the process that
 * asked is gone: a lock granted now would outlive its owner. */
static bool interrupted(void *arg)
{
    fuse_req_t req = arg;
    pid_t pid = fuse_req_ctx(req)->pid;

    return fuse_req_interrupted(req) != 0 || (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH);
}

void gw_fuse_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *fl)
{
    struct cairn_fs_lock lk;
    int r = range_of(fl, &lk);

    if (r == 0)
        r = cairn_fs_getlk(gw_fuse_of(req)->fs, ino, fi->lock_owner, &lk);
    if (r < 0) {
        gw_fuse_reply_err(req, r);
        return;
    }
    if (lk.type == F_UNLCK) {
        fl->l_type = F_UNLCK;
    } else {
        fl->l_type = (short)lk.type;
        fl->l_whence = SEEK_SET;
        fl->l_start = (off_t)lk.start;
        fl->l_len = lk.end == CAIRN_FS_LOCK_EOF ? 0 : (off_t)(lk.end - lk.start + 1);
        fl->l_pid = (pid_t)lk.pid;
    }
    fuse_reply_lock(req, fl);
}

void gw_fuse_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *fl,
                   int sleep)
{
    struct cairn_fs_lock lk;
    int r = range_of(fl, &lk);

    if (r == 0 && lk.pid == 0)
        lk.pid = (uint32_t)fuse_req_ctx(req)->pid;
    if (r == 0)
        r = cairn_fs_setlk(gw_fuse_of(req)->fs, ino, fi->lock_owner, CAIRN_FS_LOCK_POSIX, &lk,
                           sleep != 0, interrupted, req);
    gw_fuse_reply_err(req, r);
}

void gw_fuse_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
    struct cairn_fs_lock lk = {.start = 0, .end = CAIRN_FS_LOCK_EOF,
                               .pid = (uint32_t)fuse_req_ctx(req)->pid};
    int r = 0;

    switch (op & ~LOCK_NB) {
    case LOCK_SH: lk.type = F_RDLCK; break;
    case LOCK_EX: lk.type = F_WRLCK; break;
    case LOCK_UN: lk.type = F_UNLCK; break;
    default: r = -EINVAL;
    }
    if (r == 0)
        r = cairn_fs_setlk(gw_fuse_of(req)->fs, ino, fi->lock_owner, CAIRN_FS_LOCK_FLOCK, &lk,
                           !(op & LOCK_NB), interrupted, req);
    gw_fuse_reply_err(req, r);
}

/* A close: POSIX locks of the closing owner go (the kernel keeps no local
 * record of them to release); the last close of an open file drops its
 * flock (release with flock_release). Costs nothing without locks. */
int gw_fuse_locks_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                          bool release)
{
    struct cairn_fs *fs = gw_fuse_of(req)->fs;

    if (!release)
        return cairn_fs_unlock_owner(fs, ino, fi->lock_owner, CAIRN_FS_LOCK_POSIX);
    if (fi->flock_release)
        return cairn_fs_unlock_owner(fs, ino, fi->lock_owner, CAIRN_FS_LOCK_FLOCK);
    return 0;
}

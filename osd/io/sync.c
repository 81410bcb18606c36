/* The synchronous backend: preadv/pwritev/fdatasync performed inside
 * osd_io_flush(), results parked for osd_io_reap()/osd_io_wait() to deliver,
 * so callers see the same ordering rules as with the asynchronous backends.
 * Used when neither io_uring nor libaio works, and by tests. */
#include "osd/io/internal.h"

#include <errno.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int sync_init(struct osd_io *io)
{
    io->priv = NULL;
    return 0;
}

static void sync_fini(struct osd_io *io)
{
    (void)io;
}

static ssize_t perform(const struct osd_io_req *req)
{
    off_t off = (off_t)(req->offset + req->done_len);

    switch (req->op) {
    case OSD_IO_READ:
        return preadv(req->fd, req->cur_iov, req->cur_iovcnt, off);
    case OSD_IO_WRITE:
        return pwritev(req->fd, req->cur_iov, req->cur_iovcnt, off);
    case OSD_IO_FDATASYNC:
        return fdatasync(req->fd);
    }
    errno = EINVAL;
    return -1;
}

static int sync_start(struct osd_io *io, struct osd_io_req *req)
{
    ssize_t r;

    do {
        r = perform(req);
    } while (r < 0 && errno == EINTR);
    osd__io_park(io, req, r < 0 ? -errno : (int)r);
    return 0;
}

static int sync_commit(struct osd_io *io)
{
    (void)io;
    return 0;
}

/* Everything is parked by sync_start; io.c delivers the parked list. */
static int sync_harvest(struct osd_io *io, unsigned max, bool wait)
{
    (void)io;
    (void)max;
    (void)wait;
    return 0;
}

const struct osd_io_ops osd__io_sync_ops = {
    .init = sync_init,
    .fini = sync_fini,
    .start = sync_start,
    .commit = sync_commit,
    .harvest = sync_harvest,
};

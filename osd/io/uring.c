/* The io_uring backend: one ring per instance, sized to the instance depth
 * so the submission queue never overflows (inv. 3) and the completion queue,
 * twice as large, cannot either. user_data is the request pointer; the
 * instance eventfd is registered so the event loop wakes on completions.
 * Short transfers and callbacks are io.c's job. */
#include "osd/io/internal.h"

#include <errno.h>

#ifdef CAIRN_WITH_URING

#include "common/assert.h"

#include <liburing.h>
#include <stdlib.h>

struct uring {
    struct io_uring ring;
};

static int uring_init(struct osd_io *io)
{
    struct uring *u = calloc(1, sizeof(*u));
    int r;

    if (u == NULL)
        return -ENOMEM;
    r = io_uring_queue_init(io->depth, &u->ring, 0);
    if (r < 0) {
        free(u);
        /* Not built into the kernel, or disabled by sysctl or seccomp. */
        return r == -ENOSYS || r == -EPERM ? -EOPNOTSUPP : r;
    }
    r = io_uring_register_eventfd(&u->ring, io->event_fd);
    if (r < 0) {
        io_uring_queue_exit(&u->ring);
        free(u);
        return r;
    }
    io->priv = u;
    return 0;
}

static void uring_fini(struct osd_io *io)
{
    struct uring *u = io->priv;

    io_uring_queue_exit(&u->ring);
    free(u);
}

static int uring_start(struct osd_io *io, struct osd_io_req *req)
{
    struct uring *u = io->priv;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    uint64_t off = req->offset + req->done_len;

    if (sqe == NULL)
        return -EAGAIN;
    switch (req->op) {
    case OSD_IO_READ:
        io_uring_prep_readv(sqe, req->fd, req->cur_iov, (unsigned)req->cur_iovcnt, off);
        break;
    case OSD_IO_WRITE:
        io_uring_prep_writev(sqe, req->fd, req->cur_iov, (unsigned)req->cur_iovcnt, off);
        break;
    case OSD_IO_FDATASYNC:
        io_uring_prep_fsync(sqe, req->fd, IORING_FSYNC_DATASYNC);
        break;
    }
    io_uring_sqe_set_data(sqe, req);
    return 0;
}

static bool is_transient(int r)
{
    /* The kernel is short of memory or CQ room, or a signal arrived: the
     * SQEs stay in the ring and go out with the next submit. */
    return r == -EAGAIN || r == -EBUSY || r == -EINTR;
}

static int uring_commit(struct osd_io *io)
{
    struct uring *u = io->priv;
    int r;

    if (io_uring_sq_ready(&u->ring) == 0)
        return 0;
    r = io_uring_submit(&u->ring);
    if (r < 0 && !is_transient(r))
        return r;
    return 0;
}

static int uring_harvest(struct osd_io *io, unsigned max, bool wait)
{
    struct uring *u = io->priv;
    unsigned fired = 0;

    if (wait) {
        /* Also submits SQEs a transient failure left in the ring, which
         * plain io_uring_wait_cqe() would wait on forever. */
        int r = io_uring_submit_and_wait(&u->ring, 1);
        if (r < 0 && !is_transient(r))
            return r;
    }
    while (fired < max) {
        struct io_uring_cqe *cqe;
        struct osd_io_req *req;
        int res;

        if (io_uring_peek_cqe(&u->ring, &cqe) != 0)
            break;
        req = io_uring_cqe_get_data(cqe);
        res = cqe->res;
        CAIRN_ASSERT(req != NULL);
        /* Seen before the callback, which may reenter flush or reap. */
        io_uring_cqe_seen(&u->ring, cqe);
        fired += (unsigned)osd__io_complete(io, req, res);
    }
    return (int)fired;
}

const struct osd_io_ops osd__io_uring_ops = {
    .init = uring_init,
    .fini = uring_fini,
    .start = uring_start,
    .commit = uring_commit,
    .harvest = uring_harvest,
};

#else /* !CAIRN_WITH_URING */

static int uring_init(struct osd_io *io)
{
    (void)io;
    return -EOPNOTSUPP;
}

const struct osd_io_ops osd__io_uring_ops = {
    .init = uring_init,
};

#endif

/* The libaio backend, for kernels or sandboxes without io_uring. One aio
 * context per instance with a preallocated iocb per slot (inv. 3 bounds
 * them); iocb->data is the request and every iocb signals the instance
 * eventfd. Short transfers and callbacks are io.c's job.
 *
 * fdatasync: IOCB_CMD_FDSYNC (Linux >= 4.18). If io_submit() rejects it
 * with -EINVAL (older kernels, or a file without fsync) the backend calls
 * fdatasync(2) synchronously inside osd_io_flush() and parks the result, so
 * it covers exactly the writes completed before it, as the async form does. */
#include "osd/io/internal.h"

#include "common/assert.h"

#include <errno.h>
#include <libaio.h>
#include <stdlib.h>
#include <unistd.h>

/* Events fetched per io_getevents() call; bounds the stack array. */
#define EVENT_BATCH 64

struct aio {
    io_context_t ctx;
    struct iocb *iocbs; /* depth slots */
    struct iocb **free; /* stack of unused slots */
    unsigned nr_free;
    struct iocb **batch; /* started since the last commit, in order */
    unsigned nr_batch;
};

static void aio_free_state(struct aio *a)
{
    free(a->iocbs);
    free(a->free);
    free(a->batch);
    free(a);
}

static int aio_init(struct osd_io *io)
{
    struct aio *a = calloc(1, sizeof(*a));
    int r;

    if (a == NULL)
        return -ENOMEM;
    a->iocbs = calloc(io->depth, sizeof(*a->iocbs));
    a->free = calloc(io->depth, sizeof(*a->free));
    a->batch = calloc(io->depth, sizeof(*a->batch));
    if (a->iocbs == NULL || a->free == NULL || a->batch == NULL) {
        aio_free_state(a);
        return -ENOMEM;
    }
    r = io_setup((int)io->depth, &a->ctx);
    if (r < 0) {
        aio_free_state(a);
        return r == -ENOSYS ? -EOPNOTSUPP : r;
    }
    for (unsigned i = 0; i < io->depth; i++)
        a->free[a->nr_free++] = &a->iocbs[i];
    io->priv = a;
    return 0;
}

static void aio_fini(struct osd_io *io)
{
    struct aio *a = io->priv;

    io_destroy(a->ctx);
    aio_free_state(a);
}

static int aio_start(struct osd_io *io, struct osd_io_req *req)
{
    struct aio *a = io->priv;
    long long off = (long long)(req->offset + req->done_len);
    struct iocb *cb;

    if (a->nr_free == 0)
        return -EAGAIN;
    cb = a->free[--a->nr_free];
    switch (req->op) {
    case OSD_IO_READ:
        io_prep_preadv(cb, req->fd, req->cur_iov, req->cur_iovcnt, off);
        break;
    case OSD_IO_WRITE:
        io_prep_pwritev(cb, req->fd, req->cur_iov, req->cur_iovcnt, off);
        break;
    case OSD_IO_FDATASYNC:
        io_prep_fdsync(cb, req->fd);
        break;
    }
    io_set_eventfd(cb, io->event_fd);
    cb->data = req;
    a->batch[a->nr_batch++] = cb;
    return 0;
}

/* io_submit() refused @cb with @err: the request completes with it, or with
 * the synchronous fdatasync result (see the file comment). */
static void refuse(struct osd_io *io, struct iocb *cb, int err)
{
    struct aio *a = io->priv;
    struct osd_io_req *req = cb->data;

    a->free[a->nr_free++] = cb;
    if (req->op == OSD_IO_FDATASYNC && err == -EINVAL)
        err = fdatasync(req->fd) < 0 ? -errno : 0;
    osd__io_park(io, req, err);
}

static int aio_commit(struct osd_io *io)
{
    struct aio *a = io->priv;
    unsigned i = 0;

    while (i < a->nr_batch) {
        int r = io_submit(a->ctx, (long)(a->nr_batch - i), a->batch + i);
        if (r > 0) {
            i += (unsigned)r;
        } else if (r == -EAGAIN || r == -EINTR) {
            /* Out of kernel resources: requeue the rest, newest first so the
             * pending list keeps submission order. */
            for (unsigned j = a->nr_batch; j > i; j--) {
                struct iocb *cb = a->batch[j - 1];
                a->free[a->nr_free++] = cb;
                osd__io_unstart(io, cb->data);
            }
            break;
        } else {
            /* io_submit reports the first refused iocb's error (0 cannot
             * happen for a non-empty batch; treat it as -EIO). */
            refuse(io, a->batch[i], r < 0 ? r : -EIO);
            i++;
        }
    }
    a->nr_batch = 0;
    return 0;
}

static int aio_harvest(struct osd_io *io, unsigned max, bool wait)
{
    struct aio *a = io->priv;
    struct io_event ev[EVENT_BATCH];
    struct timespec zero = {0, 0};
    unsigned fired = 0;
    long want;
    int got;

    do {
        want = (long)CAIRN_MIN(max - fired, (unsigned)EVENT_BATCH);
        got = io_getevents(a->ctx, wait ? 1 : 0, want, ev, wait ? NULL : &zero);
        if (got == -EINTR)
            break;
        if (got < 0)
            return fired > 0 ? (int)fired : got;
        wait = false;
        for (int i = 0; i < got; i++) {
            struct osd_io_req *req = ev[i].data;
            /* Slot freed before the callback, which may reenter flush. */
            a->free[a->nr_free++] = ev[i].obj;
            fired += (unsigned)osd__io_complete(io, req, (int)(long)ev[i].res);
        }
    } while (got == want && fired < max);
    return (int)fired;
}

const struct osd_io_ops osd__io_aio_ops = {
    .init = aio_init,
    .fini = aio_fini,
    .start = aio_start,
    .commit = aio_commit,
    .harvest = aio_harvest,
};

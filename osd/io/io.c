/* The backend-independent half of osd/io: backend selection, request
 * validation, the pending and completed lists, short-transfer handling and
 * callback delivery. The backends (uring.c, aio.c, sync.c) only move
 * requests to and from the kernel through struct osd_io_ops; the request
 * state machine and its invariants are in internal.h. */
#include "osd/io/internal.h"

#include "common/assert.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* O_DIRECT needs the file position aligned to the logical block size, which
 * is at least this on every Linux block device. */
#define DIRECT_ALIGN 512u

static const struct {
    const char *name;
    const struct osd_io_ops *ops;
} backends[] = {
    [OSD_IO_URING] = {"uring", &osd__io_uring_ops},
    [OSD_IO_AIO] = {"aio", &osd__io_aio_ops},
    [OSD_IO_SYNC] = {"sync", &osd__io_sync_ops},
};

int osd_io_backend_parse(const char *name, enum osd_io_backend *out)
{
    if (name == NULL)
        return -EINVAL;
    for (size_t i = 0; i < CAIRN_ARRAY_SIZE(backends); i++) {
        if (strcmp(name, backends[i].name) == 0) {
            *out = (enum osd_io_backend)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *osd_io_backend_name(enum osd_io_backend backend)
{
    if ((unsigned)backend >= CAIRN_ARRAY_SIZE(backends))
        return "unknown";
    return backends[backend].name;
}

enum osd_io_backend osd_io_backend_default(void)
{
    /* Creating a tiny instance is the only reliable probe: io_uring can be
     * compiled in yet disabled by sysctl, seccomp or a container runtime. */
    static const enum osd_io_backend order[] = {OSD_IO_URING, OSD_IO_AIO};
    for (size_t i = 0; i < CAIRN_ARRAY_SIZE(order); i++) {
        struct osd_io *io;
        if (osd_io_create(order[i], 2, &io) == 0) {
            osd_io_destroy(io);
            return order[i];
        }
    }
    return OSD_IO_SYNC;
}

/* ---- lists ---- */

static void list_push_tail(struct osd__io_list *l, struct osd_io_req *req)
{
    req->next = NULL;
    if (l->tail != NULL)
        l->tail->next = req;
    else
        l->head = req;
    l->tail = req;
}

static void list_push_head(struct osd__io_list *l, struct osd_io_req *req)
{
    req->next = l->head;
    l->head = req;
    if (l->tail == NULL)
        l->tail = req;
}

static struct osd_io_req *list_pop(struct osd__io_list *l)
{
    struct osd_io_req *req = l->head;
    if (req == NULL)
        return NULL;
    l->head = req->next;
    if (l->head == NULL)
        l->tail = NULL;
    req->next = NULL;
    return req;
}

/* Walks the lists to check the invariants of internal.h; debug builds only,
 * as it is O(requests). */
static void io_check(const struct osd_io *io)
{
#ifdef CAIRN_DEBUG
    unsigned nr_pending = 0, nr_completed = 0;
    CAIRN_ASSERT(io->nr_kernel <= io->depth); /* inv. 3 */
    for (const struct osd_io_req *r = io->pending.head; r != NULL; r = r->next) {
        CAIRN_ASSERT(r->state == OSD__IO_REQ_PENDING); /* inv. 1 */
        if (r->next == NULL)
            CAIRN_ASSERT(r == io->pending.tail);
        nr_pending++;
    }
    CAIRN_ASSERT(nr_pending == io->nr_pending);
    for (const struct osd_io_req *r = io->completed.head; r != NULL; r = r->next) {
        CAIRN_ASSERT(r->state == OSD__IO_REQ_IN_FLIGHT); /* inv. 2 */
        nr_completed++;
    }
    CAIRN_ASSERT(nr_completed <= io->nr_kernel);
#else
    (void)io;
#endif
}

/* ---- create / destroy ---- */

int osd_io_create(enum osd_io_backend backend, unsigned depth, struct osd_io **out)
{
    struct osd_io *io;
    int r;

    if ((unsigned)backend >= CAIRN_ARRAY_SIZE(backends) || depth == 0 || depth > OSD_IO_MAX_DEPTH)
        return -EINVAL;
    io = calloc(1, sizeof(*io));
    if (io == NULL)
        return -ENOMEM;
    io->backend = backend;
    io->ops = backends[backend].ops;
    io->depth = depth;
    io->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (io->event_fd < 0) {
        r = -errno;
        goto out_free;
    }
    r = io->ops->init(io);
    if (r < 0)
        goto out_close;
    *out = io;
    return 0;

out_close:
    close(io->event_fd);
out_free:
    free(io);
    return r;
}

void osd_io_destroy(struct osd_io *io)
{
    if (io == NULL)
        return;
    CAIRN_ASSERT(osd_io_in_flight(io) == 0);
    io->ops->fini(io);
    close(io->event_fd);
    free(io);
}

/* ---- submission ---- */

/* Requests come from our own callers, but a bad one must fail cleanly with
 * -EINVAL (the header's contract), not crash the OSD. */
static int validate(const struct osd_io_req *req, size_t *total_out)
{
    size_t total = 0;

    if (req == NULL || req->cb == NULL || req->fd < 0)
        return -EINVAL;
    if (req->op == OSD_IO_FDATASYNC) {
        *total_out = 0;
        return 0;
    }
    if (req->op != OSD_IO_READ && req->op != OSD_IO_WRITE)
        return -EINVAL;
    if (req->iov == NULL || req->iovcnt < 1 || req->iovcnt > OSD_IO_MAX_IOV)
        return -EINVAL;
    for (int i = 0; i < req->iovcnt; i++) {
        /* The callback reports the length as an int. */
        if (req->iov[i].iov_len > INT_MAX - total)
            return -EINVAL;
        total += req->iov[i].iov_len;
    }
    if (total == 0 || req->offset > (uint64_t)INT64_MAX - total)
        return -EINVAL;
    *total_out = total;
    return 0;
}

int osd_io_submit(struct osd_io *io, struct osd_io_req *req)
{
    size_t total;
    int r = validate(req, &total);

    if (r < 0)
        return r;
    req->total_len = total;
    req->done_len = 0;
    req->cur_iovcnt = req->op == OSD_IO_FDATASYNC ? 0 : req->iovcnt;
    if (req->cur_iovcnt > 0)
        memcpy(req->cur_iov, req->iov, (size_t)req->iovcnt * sizeof(req->iov[0]));
    req->res = 0;
    req->state = OSD__IO_REQ_PENDING;
    list_push_tail(&io->pending, req);
    io->nr_pending++;
    io_check(io);
    return 0;
}

int osd_io_flush(struct osd_io *io)
{
    while (io->pending.head != NULL && io->nr_kernel < io->depth) {
        struct osd_io_req *req = list_pop(&io->pending);
        int r;

        io->nr_pending--;
        req->state = OSD__IO_REQ_IN_FLIGHT;
        io->nr_kernel++;
        r = io->ops->start(io, req);
        if (r == -EAGAIN) {
            /* No free slot: leave it queued rather than spin (STYLE §8). */
            osd__io_unstart(io, req);
            break;
        }
        CAIRN_ASSERT(r == 0);
    }
    io_check(io);
    return io->ops->commit(io);
}

/* ---- completion ---- */

void osd__io_signal(struct osd_io *io)
{
    uint64_t one = 1;
    /* Fails only when the counter would overflow, i.e. it is already set. */
    ssize_t n = write(io->event_fd, &one, sizeof(one));
    (void)n;
}

static void clear_event_fd(struct osd_io *io)
{
    uint64_t count;
    ssize_t n = read(io->event_fd, &count, sizeof(count));
    (void)n; /* -EAGAIN when nothing was signalled */
}

void osd__io_park(struct osd_io *io, struct osd_io_req *req, int res)
{
    bool was_empty = io->completed.head == NULL;

    CAIRN_ASSERT(req->state == OSD__IO_REQ_IN_FLIGHT);
    req->res = res;
    list_push_tail(&io->completed, req);
    /* One signal per batch: reap clears the fd before it drains the list
     * and re-arms it if it leaves entries behind. */
    if (was_empty)
        osd__io_signal(io);
}

void osd__io_unstart(struct osd_io *io, struct osd_io_req *req)
{
    CAIRN_ASSERT(req->state == OSD__IO_REQ_IN_FLIGHT);
    CAIRN_ASSERT(io->nr_kernel > 0);
    io->nr_kernel--;
    req->state = OSD__IO_REQ_PENDING;
    list_push_head(&io->pending, req);
    io->nr_pending++;
}

void osd__io_fault_short_once(struct osd_io *io, size_t max_bytes)
{
    io->fault_short_len = max_bytes;
    io->fault_short_armed = true;
}

static int fire(struct osd_io_req *req, int res)
{
    /* IDLE before the callback, which may resubmit or free the request (inv. 4). */
    req->state = OSD__IO_REQ_IDLE;
    req->next = NULL;
    req->cb(req, res);
    return 1;
}

/* Drops the first @n bytes of req->cur_iov. */
static void iov_advance(struct osd_io_req *req, size_t n)
{
    int skip = 0;

    while (skip < req->cur_iovcnt && n >= req->cur_iov[skip].iov_len) {
        n -= req->cur_iov[skip].iov_len;
        skip++;
    }
    CAIRN_ASSERT(skip < req->cur_iovcnt); /* callers never consume everything */
    req->cur_iovcnt -= skip;
    memmove(req->cur_iov, req->cur_iov + skip, (size_t)req->cur_iovcnt * sizeof(req->cur_iov[0]));
    req->cur_iov[0].iov_base = (char *)req->cur_iov[0].iov_base + n;
    req->cur_iov[0].iov_len -= n;
}

/* A read or write moved @got bytes: finish it, or requeue the rest. */
static int transfer_done(struct osd_io *io, struct osd_io_req *req, size_t got)
{
    size_t left = req->total_len - req->done_len;

    if (io->fault_short_armed && got > io->fault_short_len) {
        io->fault_short_armed = false;
        got = io->fault_short_len;
    }
    if (got > left) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_IO, "io %s: kernel reported %zu bytes of %zu",
                  osd_io_backend_name(io->backend), got, left);
        return fire(req, -EIO);
    }
    req->done_len += got;
    if (req->done_len == req->total_len)
        return fire(req, (int)req->total_len);
    if (got == 0) {
        /* No progress: end of file for a read, an error for a write (io.h). */
        return fire(req, req->op == OSD_IO_READ ? (int)req->done_len : -EIO);
    }
    iov_advance(req, got);
    req->state = OSD__IO_REQ_PENDING;
    list_push_head(&io->pending, req);
    io->nr_pending++;
    return 0;
}

int osd__io_complete(struct osd_io *io, struct osd_io_req *req, int res)
{
    CAIRN_ASSERT(req->state == OSD__IO_REQ_IN_FLIGHT); /* inv. 4 */
    CAIRN_ASSERT(io->nr_kernel > 0);
    io->nr_kernel--;
    if (req->op == OSD_IO_FDATASYNC)
        return fire(req, res < 0 ? res : 0);
    if (res >= 0)
        return transfer_done(io, req, (size_t)res);
    /* O_DIRECT reads stop mid-block only at an unaligned EOF, and then the
     * resubmission of the rest is rejected for its alignment: report EOF. */
    if (res == -EINVAL && req->op == OSD_IO_READ && req->done_len > 0 &&
        (req->offset + req->done_len) % DIRECT_ALIGN != 0)
        return fire(req, (int)req->done_len);
    return fire(req, res);
}

/* ---- reaping ---- */

static int deliver_parked(struct osd_io *io, unsigned max)
{
    unsigned fired = 0;

    while (fired < max && io->completed.head != NULL) {
        struct osd_io_req *req = list_pop(&io->completed);
        fired += (unsigned)osd__io_complete(io, req, req->res);
    }
    return (int)fired;
}

/* One round of reaping: parked results first, then the backend's, blocking
 * for one kernel completion only when @block and nothing else is ready. */
static int reap_round(struct osd_io *io, unsigned max, bool block)
{
    int n;

    /* Clear before draining, so a completion racing with us re-arms the fd. */
    clear_event_fd(io);
    n = deliver_parked(io, max);
    if ((unsigned)n < max && io->completed.head == NULL && io->nr_kernel > 0) {
        /* Don't sleep while a resubmission could go out instead. */
        bool can_start = io->pending.head != NULL && io->nr_kernel < io->depth;
        int r = io->ops->harvest(io, max - (unsigned)n, block && n == 0 && !can_start);
        if (r < 0 && n == 0)
            return r;
        if (r > 0)
            n += r;
    }
    /* Hitting @max may leave completions behind; keep the event loop coming. */
    if ((unsigned)n == max)
        osd__io_signal(io);
    io_check(io);
    return n;
}

/* Resubmissions and requests waiting for a slot go out as slots free up. */
static void flush_after_reap(struct osd_io *io)
{
    int r;

    if (io->pending.head == NULL)
        return;
    r = osd_io_flush(io);
    if (r < 0)
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_IO, "io %s: submit failed: %s",
                  osd_io_backend_name(io->backend), strerror(-r));
}

int osd_io_reap(struct osd_io *io, unsigned max)
{
    int n;

    if (max == 0)
        return 0;
    n = reap_round(io, CAIRN_MIN(max, (unsigned)INT_MAX), false);
    flush_after_reap(io);
    return n;
}

int osd_io_wait(struct osd_io *io, unsigned min)
{
    unsigned n = 0;

    min = CAIRN_MIN(min, (unsigned)INT_MAX - io->depth);
    while (n < min && osd_io_in_flight(io) > 0) {
        int r = osd_io_flush(io);
        if (r == 0)
            r = reap_round(io, io->depth, true);
        if (r < 0)
            return n > 0 ? (int)n : r;
        n += (unsigned)r;
    }
    flush_after_reap(io);
    return (int)n;
}

int osd_io_event_fd(const struct osd_io *io)
{
    return io->event_fd;
}

unsigned osd_io_in_flight(const struct osd_io *io)
{
    return io->nr_pending + io->nr_kernel;
}

/* Private to osd/io/: the instance struct shared by the common code (io.c)
 * and the backends (uring.c, aio.c, sync.c), the backend ops table, and the
 * test-only fault hook. Nothing outside osd/io/ and its unit test includes it. */
#ifndef CAIRN_OSD_IO_INTERNAL_H
#define CAIRN_OSD_IO_INTERNAL_H

#include "osd/io/io.h"

#include <stdbool.h>
#include <stddef.h>

/* Life cycle of a request (req->state):
 *
 *   IDLE --submit--> PENDING --flush: ops->start--> IN_FLIGHT --complete--> IDLE, cb(res)
 *                       ^                               |
 *                       +------ short transfer ---------+
 *
 * Invariants (cited as "inv. N"):
 *  1. A PENDING request is on io->pending and counted in io->nr_pending.
 *  2. An IN_FLIGHT request belongs to the backend (ring, aio context) or is
 *     on io->completed with req->res set; it is counted in io->nr_kernel.
 *  3. io->nr_kernel <= io->depth, so the ring/context never overflows.
 *  4. A request leaves IN_FLIGHT exactly once per start; its callback fires
 *     once, after the state is back to IDLE, and nothing touches it after. */
enum osd__io_req_state {
    OSD__IO_REQ_IDLE = 0,
    OSD__IO_REQ_PENDING,
    OSD__IO_REQ_IN_FLIGHT,
};

/* An intrusive FIFO of requests linked through req->next. */
struct osd__io_list {
    struct osd_io_req *head;
    struct osd_io_req *tail;
};

/* The backend seam: each backend is these few functions. All are called on
 * the instance's thread. */
struct osd_io_ops {
    /* Sets io->priv up; -EOPNOTSUPP if unavailable here, or -errno. */
    int (*init)(struct osd_io *io);
    void (*fini)(struct osd_io *io);
    /* Prepares @req (cur_iov, offset + done_len) for the kernel. 0 when the
     * backend owns it, -EAGAIN when no slot is free (it stays pending). The
     * sync backend performs it here and parks the result (osd__io_park). */
    int (*start)(struct osd_io *io, struct osd_io_req *req);
    /* Hands everything started since the last commit to the kernel. */
    int (*commit)(struct osd_io *io);
    /* Passes up to @max kernel completions to osd__io_complete(), first
     * blocking for one if @wait. Returns the number of callbacks fired. */
    int (*harvest)(struct osd_io *io, unsigned max, bool wait);
};

extern const struct osd_io_ops osd__io_uring_ops;
extern const struct osd_io_ops osd__io_aio_ops;
extern const struct osd_io_ops osd__io_sync_ops;

struct osd_io {
    const struct osd_io_ops *ops;
    enum osd_io_backend backend;
    unsigned depth;                /* max requests IN_FLIGHT (inv. 3) */
    unsigned nr_pending;           /* requests on @pending (inv. 1) */
    unsigned nr_kernel;            /* requests IN_FLIGHT (inv. 2) */
    struct osd__io_list pending;   /* submitted, not yet started */
    struct osd__io_list completed; /* IN_FLIGHT with req->res parked, to deliver */
    int event_fd;                  /* eventfd, nonblocking; owned */
    size_t fault_short_len;        /* test hook, see osd__io_fault_short_once */
    bool fault_short_armed;
    void *priv; /* backend state */
};

/* ---- io.c: called by the backends ---- */

/* Delivers the kernel's result for an IN_FLIGHT request: -errno, or the
 * bytes moved by this attempt. Resubmits the rest of a short transfer
 * (back to PENDING) or fires the callback. Returns 1 if the callback fired. */
int osd__io_complete(struct osd_io *io, struct osd_io_req *req, int res);
/* Parks @res for an IN_FLIGHT request that finished (or failed) without a
 * kernel completion event; reap delivers it and the event fd is signalled. */
void osd__io_park(struct osd_io *io, struct osd_io_req *req, int res);
/* Returns a started request the kernel refused with -EAGAIN to the head of
 * the pending list, to go out with the next flush. */
void osd__io_unstart(struct osd_io *io, struct osd_io_req *req);
/* Adds 1 to the event fd so the event loop calls reap. */
void osd__io_signal(struct osd_io *io);

/* ---- io.c: test-only fault injection ---- */

/* The next read or write completion that moved more than @max_bytes bytes
 * reports only @max_bytes, so the short-transfer path runs on any backend.
 * The data really moved in full; redoing the rest is harmless. */
void osd__io_fault_short_once(struct osd_io *io, size_t max_bytes);

#endif

/* Asynchronous block I/O for the object store: one interface, three
 * backends (io_uring, libaio, and a synchronous pread/pwrite one used when
 * neither is available and by tests). Nothing outside osd/io/ includes
 * liburing.h or libaio.h.
 *
 * An osd_io instance belongs to one thread: submit, flush and reap are all
 * called from it. Requests are caller-owned and preallocated (no malloc per
 * I/O); the caller keeps a request alive until its callback has fired.
 *
 *   req --osd_io_submit--> queued --osd_io_flush--> in flight --reap--> cb fired
 *
 * Completion contract: a short transfer is resubmitted for the rest; if the
 * kernel makes no progress the request fails with -EIO. The callback sees
 * res = bytes transferred (== requested length) or a negative errno, and
 * fires exactly once. The one exception is a read that reaches end of file:
 * it completes with the bytes read before EOF (0 when it starts at EOF).
 * Callbacks run inside osd_io_reap() or osd_io_wait(), never inside
 * osd_io_submit() or osd_io_flush(); a callback may submit (and reuse its
 * own request) but must not destroy the instance.
 *
 * OSD_IO_FDATASYNC makes durable the writes to @fd whose callbacks fired
 * before it was submitted; it is not ordered against requests still in
 * flight (as fsync(2), io_uring without IOSQE_IO_DRAIN, and libaio). */
#ifndef CAIRN_OSD_IO_H
#define CAIRN_OSD_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum osd_io_backend {
    OSD_IO_URING = 0,
    OSD_IO_AIO,
    OSD_IO_SYNC,
};

enum osd_io_op {
    OSD_IO_READ = 0,
    OSD_IO_WRITE,
    OSD_IO_FDATASYNC,
};

#define OSD_IO_MAX_IOV 8
/* Largest depth osd_io_create() accepts. */
#define OSD_IO_MAX_DEPTH 4096

struct osd_io_req;
typedef void (*osd_io_cb)(struct osd_io_req *req, int res);

struct osd_io_req {
    /* Set by the caller before submit. */
    enum osd_io_op op;
    int fd;
    uint64_t offset;          /* bytes; a multiple of 4096 for O_DIRECT fds */
    struct iovec *iov;        /* buffers, 4096-aligned for O_DIRECT; borrowed;
                                 ignored (may be NULL) for OSD_IO_FDATASYNC */
    int iovcnt;               /* 1..OSD_IO_MAX_IOV; ignored for OSD_IO_FDATASYNC */
    osd_io_cb cb;
    void *arg;                /* for the caller */
    /* Private to the backend. */
    size_t total_len;         /* sum of iov lengths */
    size_t done_len;          /* bytes transferred so far (short transfers) */
    struct iovec cur_iov[OSD_IO_MAX_IOV]; /* remaining iovecs after a short transfer */
    int cur_iovcnt;
    int res;                  /* kernel result parked until reap (sync backend,
                                 requests failed at submission) */
    struct osd_io_req *next;  /* pending or completed list */
    uint8_t state;            /* enum osd__io_req_state, osd/io/internal.h */
};

struct osd_io;

/* Creates a backend instance able to hold @depth requests in flight.
 * -EINVAL for depth 0 or above OSD_IO_MAX_DEPTH, -EOPNOTSUPP when the
 * backend is not available on this machine (e.g. io_uring disabled or not
 * built), -ENOMEM, or the kernel's -errno. *out is untouched on failure. */
int osd_io_create(enum osd_io_backend backend, unsigned depth, struct osd_io **out);
/* All requests must have completed (osd_io_in_flight() == 0). */
void osd_io_destroy(struct osd_io *io);

/* Parses "uring", "aio", "sync" (for config). -EINVAL otherwise. */
int osd_io_backend_parse(const char *name, enum osd_io_backend *out);
const char *osd_io_backend_name(enum osd_io_backend backend);
/* The best available backend: io_uring if it works here, else aio, else sync. */
enum osd_io_backend osd_io_backend_default(void);

/* Queues @req. It is handed to the kernel by the next osd_io_flush() (or
 * osd_io_reap()/osd_io_wait(), which flush too). Never blocks. Returns 0, or
 * -EINVAL for a malformed request (callback not fired): unknown op, fd < 0,
 * NULL cb, iovcnt outside 1..OSD_IO_MAX_IOV, NULL iov, a total length of 0
 * or above INT_MAX, or offset + length overflowing off_t. When more than
 * @depth requests are outstanding the extra ones wait on the pending list
 * and go out as earlier ones complete; the list links through req->next, so
 * it is bounded by the caller's preallocated requests and never allocates.
 * Errors the kernel reports at submission reach the callback. */
int osd_io_submit(struct osd_io *io, struct osd_io_req *req);
/* Hands queued requests to the kernel (the sync backend performs them
 * here). Returns 0 or -errno for a failure of the instance itself; per-request
 * errors reach the callbacks. */
int osd_io_flush(struct osd_io *io);
/* Runs the callbacks of up to @max completed requests without blocking;
 * returns how many completed, or -errno. */
int osd_io_reap(struct osd_io *io, unsigned max);
/* Blocks until at least @min requests complete (or none are in flight), running
 * their callbacks. Returns how many completed, or -errno. */
int osd_io_wait(struct osd_io *io, unsigned min);
/* A file descriptor (an eventfd, owned by @io) that becomes readable when
 * completions are ready, for an event loop; call osd_io_reap() then, which
 * clears it. Every backend has one: the sync backend performs requests in
 * osd_io_flush() and signals it for the completions it parks. */
int osd_io_event_fd(const struct osd_io *io);
/* Requests submitted and not yet completed. */
unsigned osd_io_in_flight(const struct osd_io *io);

#endif

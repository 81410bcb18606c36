/* osd/io: every test runs against each backend (uring, aio, sync) on an
 * O_DIRECT file in a fresh temp file; a backend this machine lacks is
 * skipped with a message. Covers deep queues past the depth (pending list),
 * multi-iov requests, fdatasync, EOF, invalid requests, kernel errors, the
 * event fd, callbacks that resubmit, and short transfers via the fault hook
 * in io.c. */
#define _GNU_SOURCE /* O_DIRECT */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "osd/io/internal.h"
#include "osd/io/io.h"

#define BLOCK 4096
#define DEPTH 64

struct fx {
    enum osd_io_backend backend;
    struct osd_io *io; /* NULL when the backend is unavailable: test skips */
    char path[256];
    int fd;      /* O_RDWR | O_DIRECT (if the filesystem allows it) */
    bool direct; /* fd has O_DIRECT */
};

/* What a callback saw; req->arg points at one of these. */
struct done {
    int fired;
    int res;
};

static const enum osd_io_backend backend_uring = OSD_IO_URING;
static const enum osd_io_backend backend_aio = OSD_IO_AIO;
static const enum osd_io_backend backend_sync = OSD_IO_SYNC;

static int setup(void **state)
{
    const enum osd_io_backend *b = *state;
    const char *tmp = getenv("TMPDIR");
    struct fx *f = calloc(1, sizeof(*f));
    int tmpfd, r;

    assert_non_null(f);
    f->backend = *b;
    snprintf(f->path, sizeof(f->path), "%s/cairn-test-io-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    tmpfd = mkstemp(f->path);
    assert_true(tmpfd >= 0);
    close(tmpfd);
    f->fd = open(f->path, O_RDWR | O_DIRECT);
    f->direct = f->fd >= 0;
    if (f->fd < 0 && errno == EINVAL) {
        fprintf(stderr, "note: %s does not support O_DIRECT; using buffered I/O\n", f->path);
        f->fd = open(f->path, O_RDWR);
    }
    assert_true(f->fd >= 0);
    r = osd_io_create(f->backend, DEPTH, &f->io);
    if (r == -EOPNOTSUPP) {
        fprintf(stderr, "skip: backend %s unavailable here\n", osd_io_backend_name(f->backend));
        f->io = NULL;
    } else {
        assert_int_equal(r, 0);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    if (f->io != NULL) {
        assert_int_equal(osd_io_in_flight(f->io), 0);
        osd_io_destroy(f->io);
    }
    close(f->fd);
    unlink(f->path);
    free(f);
    return 0;
}

static struct fx *need_io(void **state)
{
    struct fx *f = *state;
    if (f->io == NULL)
        skip();
    return f;
}

static void on_done(struct osd_io_req *req, int res)
{
    struct done *d = req->arg;
    d->fired++;
    d->res = res;
}

static void *block_alloc(size_t len)
{
    void *p = NULL;
    assert_int_equal(posix_memalign(&p, BLOCK, len), 0);
    return p;
}

/* A pattern unique to (block, seed) so misplaced blocks are caught. */
static void fill(void *buf, size_t len, uint64_t block, uint32_t seed)
{
    uint32_t *w = buf;
    for (size_t i = 0; i < len / 4; i++)
        w[i] = (uint32_t)(block * 2654435761u) ^ seed ^ (uint32_t)i;
}

static void prep(struct osd_io_req *req, enum osd_io_op op, int fd, uint64_t off, struct iovec *iov,
                 int iovcnt, struct done *d)
{
    memset(req, 0, sizeof(*req));
    req->op = op;
    req->fd = fd;
    req->offset = off;
    req->iov = iov;
    req->iovcnt = iovcnt;
    req->cb = on_done;
    req->arg = d;
}

/* Submits one request and waits for it; returns the callback's res. */
static int run_one(struct fx *f, enum osd_io_op op, int fd, uint64_t off, struct iovec *iov,
                   int iovcnt)
{
    struct osd_io_req req;
    struct done d = {0, 0};

    prep(&req, op, fd, off, iov, iovcnt, &d);
    assert_int_equal(osd_io_submit(f->io, &req), 0);
    assert_int_equal(osd_io_flush(f->io), 0);
    assert_int_equal(osd_io_wait(f->io, 1), 1);
    assert_int_equal(d.fired, 1);
    assert_int_equal(osd_io_in_flight(f->io), 0);
    return d.res;
}

static int run_buf(struct fx *f, enum osd_io_op op, uint64_t off, void *buf, size_t len)
{
    struct iovec iov = {buf, len};
    return run_one(f, op, f->fd, off, &iov, 1);
}

/* ---- tests ---- */

/* 4 x DEPTH requests of one block each: three quarters wait on the pending
 * list, then go out as the first ones complete. */
static void test_io_write_read_many_past_depth(void **state)
{
    struct fx *f = need_io(state);
    enum { N = 4 * DEPTH };
    struct osd_io_req *reqs = calloc(N, sizeof(*reqs));
    struct done *dn = calloc(N, sizeof(*dn));
    struct iovec *iov = calloc(N, sizeof(*iov));
    char *buf = block_alloc((size_t)N * BLOCK);

    for (int pass = 0; pass < 2; pass++) {
        enum osd_io_op op = pass == 0 ? OSD_IO_WRITE : OSD_IO_READ;
        for (int i = 0; i < N; i++) {
            /* Reverse order so offsets are not submitted sequentially. */
            uint64_t blk = (uint64_t)(N - 1 - i);
            iov[i] = (struct iovec){buf + blk * BLOCK, BLOCK};
            if (op == OSD_IO_WRITE)
                fill(iov[i].iov_base, BLOCK, blk, 7);
            else
                memset(iov[i].iov_base, 0, BLOCK);
            dn[i] = (struct done){0, 0};
            prep(&reqs[i], op, f->fd, blk * BLOCK, &iov[i], 1, &dn[i]);
            assert_int_equal(osd_io_submit(f->io, &reqs[i]), 0);
        }
        assert_int_equal(osd_io_in_flight(f->io), N);
        assert_int_equal(osd_io_flush(f->io), 0);
        assert_int_equal(osd_io_wait(f->io, N), N);
        assert_int_equal(osd_io_in_flight(f->io), 0);
        for (int i = 0; i < N; i++) {
            assert_int_equal(dn[i].fired, 1);
            assert_int_equal(dn[i].res, BLOCK);
        }
    }
    for (int blk = 0; blk < N; blk++) {
        char want[BLOCK];
        fill(want, BLOCK, (uint64_t)blk, 7);
        assert_memory_equal(buf + (size_t)blk * BLOCK, want, BLOCK);
    }
    free(buf);
    free(iov);
    free(dn);
    free(reqs);
}

/* Writes with 8 iovecs of mixed sizes, reads back with a different split. */
static void test_io_multi_iov(void **state)
{
    struct fx *f = need_io(state);
    const size_t lens[OSD_IO_MAX_IOV] = {4096, 8192, 4096, 4096, 12288, 4096, 4096, 8192};
    size_t total = 0;
    struct iovec wiov[OSD_IO_MAX_IOV], riov[2];
    char *src = block_alloc(65536), *dst = block_alloc(65536);

    for (int i = 0; i < OSD_IO_MAX_IOV; i++)
        total += lens[i];
    fill(src, total, 3, 11);
    memset(dst, 0, total);
    for (int i = 0, off = 0; i < OSD_IO_MAX_IOV; off += (int)lens[i], i++)
        wiov[i] = (struct iovec){src + off, lens[i]};
    assert_int_equal(run_one(f, OSD_IO_WRITE, f->fd, BLOCK, wiov, OSD_IO_MAX_IOV), (int)total);
    riov[0] = (struct iovec){dst, 3 * BLOCK};
    riov[1] = (struct iovec){dst + 3 * BLOCK, total - 3 * BLOCK};
    assert_int_equal(run_one(f, OSD_IO_READ, f->fd, BLOCK, riov, 2), (int)total);
    assert_memory_equal(src, dst, total);
    free(src);
    free(dst);
}

static void test_io_fdatasync(void **state)
{
    struct fx *f = need_io(state);
    char *buf = block_alloc(BLOCK);

    fill(buf, BLOCK, 0, 1);
    assert_int_equal(run_buf(f, OSD_IO_WRITE, 0, buf, BLOCK), BLOCK);
    /* iov is ignored for fdatasync, so NULL/0 is valid. */
    assert_int_equal(run_one(f, OSD_IO_FDATASYNC, f->fd, 0, NULL, 0), 0);
    free(buf);
}

/* Two blocks on disk: a read at EOF gives 0, a read spanning it gives the
 * bytes before EOF (the resubmission of the rest sees 0). */
static void test_io_read_at_eof(void **state)
{
    struct fx *f = need_io(state);
    char *buf = block_alloc(4 * BLOCK);

    fill(buf, 2 * BLOCK, 0, 5);
    assert_int_equal(run_buf(f, OSD_IO_WRITE, 0, buf, 2 * BLOCK), 2 * BLOCK);
    assert_int_equal(run_buf(f, OSD_IO_READ, 2 * BLOCK, buf, BLOCK), 0);
    assert_int_equal(run_buf(f, OSD_IO_READ, 8 * BLOCK, buf, BLOCK), 0);
    assert_int_equal(run_buf(f, OSD_IO_READ, BLOCK, buf, 4 * BLOCK), BLOCK);
    free(buf);
}

/* EOF in the middle of a block: O_DIRECT returns the tail, and the aligned
 * resubmission is refused; the read still completes with the bytes read. */
static void test_io_read_at_unaligned_eof(void **state)
{
    struct fx *f = need_io(state);
    char *buf = block_alloc(4 * BLOCK);
    char tail[100];
    int bfd = open(f->path, O_WRONLY);

    memset(tail, 0xab, sizeof(tail));
    assert_true(bfd >= 0);
    assert_int_equal(pwrite(bfd, tail, sizeof(tail), BLOCK), (ssize_t)sizeof(tail));
    close(bfd);
    memset(buf, 0, 4 * BLOCK);
    assert_int_equal(run_buf(f, OSD_IO_READ, 0, buf, 4 * BLOCK), BLOCK + (int)sizeof(tail));
    assert_memory_equal(buf + BLOCK, tail, sizeof(tail));
    free(buf);
}

/* Kernels whose O_DIRECT path checks alignment before EOF refuse the
 * resubmission after an unaligned short read with -EINVAL; that is EOF too.
 * The fault hook cuts the read mid-block to make any kernel take the path. */
static void test_io_read_refused_after_unaligned_cut_is_eof(void **state)
{
    struct fx *f = need_io(state);
    char *buf = block_alloc(2 * BLOCK);

    if (!f->direct)
        skip();
    fill(buf, 2 * BLOCK, 0, 8);
    assert_int_equal(run_buf(f, OSD_IO_WRITE, 0, buf, 2 * BLOCK), 2 * BLOCK);
    osd__io_fault_short_once(f->io, BLOCK + 100);
    assert_int_equal(run_buf(f, OSD_IO_READ, 0, buf, 2 * BLOCK), BLOCK + 100);
    free(buf);
}

static void expect_invalid(struct fx *f, struct osd_io_req *req, struct done *d)
{
    assert_int_equal(osd_io_submit(f->io, req), -EINVAL);
    assert_int_equal(osd_io_flush(f->io), 0);
    assert_int_equal(osd_io_reap(f->io, 16), 0);
    assert_int_equal(d->fired, 0);
    assert_int_equal(osd_io_in_flight(f->io), 0);
}

static void test_io_invalid_requests_fail_without_callback(void **state)
{
    struct fx *f = need_io(state);
    char *buf = block_alloc(BLOCK);
    struct iovec iov[OSD_IO_MAX_IOV + 1];
    struct osd_io_req req;
    struct done d = {0, 0};

    for (int i = 0; i <= OSD_IO_MAX_IOV; i++)
        iov[i] = (struct iovec){buf, BLOCK};
    prep(&req, OSD_IO_READ, -1, 0, iov, 1, &d);
    expect_invalid(f, &req, &d);
    prep(&req, OSD_IO_READ, f->fd, 0, iov, 1, &d);
    req.cb = NULL;
    expect_invalid(f, &req, &d);
    prep(&req, OSD_IO_READ, f->fd, 0, iov, 0, &d);
    expect_invalid(f, &req, &d);
    prep(&req, OSD_IO_WRITE, f->fd, 0, iov, OSD_IO_MAX_IOV + 1, &d);
    expect_invalid(f, &req, &d);
    prep(&req, OSD_IO_WRITE, f->fd, 0, NULL, 1, &d);
    expect_invalid(f, &req, &d);
    prep(&req, (enum osd_io_op)42, f->fd, 0, iov, 1, &d);
    expect_invalid(f, &req, &d);
    prep(&req, OSD_IO_WRITE, f->fd, UINT64_MAX - 100, iov, 1, &d);
    expect_invalid(f, &req, &d);
    iov[0].iov_len = 0;
    prep(&req, OSD_IO_WRITE, f->fd, 0, iov, 1, &d);
    expect_invalid(f, &req, &d);
    assert_int_equal(osd_io_submit(f->io, NULL), -EINVAL);
    free(buf);
}

static void test_io_create_rejects_bad_depth(void **state)
{
    struct fx *f = need_io(state);
    struct osd_io *io = (struct osd_io *)0x1;

    assert_int_equal(osd_io_create(f->backend, 0, &io), -EINVAL);
    assert_int_equal(osd_io_create(f->backend, OSD_IO_MAX_DEPTH + 1, &io), -EINVAL);
    assert_int_equal(osd_io_create((enum osd_io_backend)9, 8, &io), -EINVAL);
    assert_ptr_equal(io, (struct osd_io *)0x1);
}

/* The kernel's errors reach the callback as -errno. */
static void test_io_kernel_errors_reach_callback(void **state)
{
    struct fx *f = need_io(state);
    char *buf = block_alloc(BLOCK);
    struct iovec iov = {buf, BLOCK};
    int rofd = open(f->path, O_RDONLY);
    int pipefd[2];

    assert_true(rofd >= 0);
    fill(buf, BLOCK, 0, 2);
    assert_int_equal(run_one(f, OSD_IO_WRITE, rofd, 0, &iov, 1), -EBADF);
    /* A pipe has no fsync; aio takes its synchronous fallback here. */
    assert_int_equal(pipe(pipefd), 0);
    assert_int_equal(run_one(f, OSD_IO_FDATASYNC, pipefd[0], 0, NULL, 0), -EINVAL);
    close(pipefd[0]);
    close(pipefd[1]);
    close(rofd);
    free(buf);
}

static int poll_event_fd(struct fx *f, int timeout_ms)
{
    struct pollfd p = {.fd = osd_io_event_fd(f->io), .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    assert_true(r >= 0);
    return r;
}

/* Completions make the event fd readable; reap clears it, and a reap
 * limited by @max leaves it readable while completions remain. */
static void test_io_event_fd_signals_completions(void **state)
{
    struct fx *f = need_io(state);
    enum { N = 8 };
    char *buf = block_alloc(N * BLOCK);
    struct iovec iov[N];
    struct osd_io_req reqs[N];
    struct done dn[N];
    int got = 0;

    assert_true(osd_io_event_fd(f->io) >= 0);
    assert_int_equal(poll_event_fd(f, 0), 0);
    for (int i = 0; i < N; i++) {
        iov[i] = (struct iovec){buf + i * BLOCK, BLOCK};
        fill(iov[i].iov_base, BLOCK, (uint64_t)i, 9);
        dn[i] = (struct done){0, 0};
        prep(&reqs[i], OSD_IO_WRITE, f->fd, (uint64_t)i * BLOCK, &iov[i], 1, &dn[i]);
        assert_int_equal(osd_io_submit(f->io, &reqs[i]), 0);
    }
    assert_int_equal(osd_io_flush(f->io), 0);
    while (got < N) {
        int n;
        assert_int_equal(poll_event_fd(f, 5000), 1);
        n = osd_io_reap(f->io, 1);
        assert_true(n >= 0 && n <= 1);
        got += n;
    }
    assert_int_equal(osd_io_in_flight(f->io), 0);
    assert_int_equal(osd_io_reap(f->io, N), 0);
    assert_int_equal(poll_event_fd(f, 0), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(dn[i].res, BLOCK);
    free(buf);
}

/* A callback that reuses its own request for the next block. */
struct chain {
    struct osd_io *io;
    struct iovec iov;
    char *buf;
    int left;
    int bad;
};

static void on_chain(struct osd_io_req *req, int res)
{
    struct chain *c = req->arg;

    if (res != BLOCK)
        c->bad++;
    if (--c->left == 0)
        return;
    req->offset += BLOCK;
    if (osd_io_submit(c->io, req) != 0)
        c->bad++;
}

static void test_io_callback_resubmits_its_request(void **state)
{
    struct fx *f = need_io(state);
    struct chain c = {.io = f->io, .left = 32};
    struct osd_io_req req;

    c.buf = block_alloc(BLOCK);
    fill(c.buf, BLOCK, 0, 3);
    c.iov = (struct iovec){c.buf, BLOCK};
    prep(&req, OSD_IO_WRITE, f->fd, 0, &c.iov, 1, NULL);
    req.cb = on_chain;
    req.arg = &c;
    assert_int_equal(osd_io_submit(f->io, &req), 0);
    while (osd_io_in_flight(f->io) > 0)
        assert_true(osd_io_wait(f->io, 1) >= 0);
    assert_int_equal(c.left, 0);
    assert_int_equal(c.bad, 0);
    free(c.buf);
}

/* The fault hook reports half a transfer once; the rest is resubmitted
 * (here splitting the second of three iovecs) and the data is intact. */
static void test_io_short_transfer_is_resubmitted(void **state)
{
    struct fx *f = need_io(state);
    char *src = block_alloc(4 * BLOCK), *dst = block_alloc(4 * BLOCK);
    struct iovec wiov[3] = {{src, BLOCK}, {src + BLOCK, 2 * BLOCK}, {src + 3 * BLOCK, BLOCK}};
    struct iovec riov[3] = {{dst, BLOCK}, {dst + BLOCK, 2 * BLOCK}, {dst + 3 * BLOCK, BLOCK}};

    fill(src, 4 * BLOCK, 1, 4);
    memset(dst, 0, 4 * BLOCK);
    osd__io_fault_short_once(f->io, 2 * BLOCK);
    assert_int_equal(run_one(f, OSD_IO_WRITE, f->fd, 0, wiov, 3), 4 * BLOCK);
    assert_false(f->io->fault_short_armed);
    osd__io_fault_short_once(f->io, 2 * BLOCK);
    assert_int_equal(run_one(f, OSD_IO_READ, f->fd, 0, riov, 3), 4 * BLOCK);
    assert_false(f->io->fault_short_armed);
    assert_memory_equal(src, dst, 4 * BLOCK);
    free(src);
    free(dst);
}

/* No progress: a write fails -EIO, a read reports what it got (EOF). */
static void test_io_zero_progress(void **state)
{
    struct fx *f = need_io(state);
    char *buf = block_alloc(2 * BLOCK);

    fill(buf, 2 * BLOCK, 0, 6);
    osd__io_fault_short_once(f->io, 0);
    assert_int_equal(run_buf(f, OSD_IO_WRITE, 0, buf, 2 * BLOCK), -EIO);
    assert_int_equal(run_buf(f, OSD_IO_WRITE, 0, buf, 2 * BLOCK), 2 * BLOCK);
    osd__io_fault_short_once(f->io, 0);
    assert_int_equal(run_buf(f, OSD_IO_READ, 0, buf, 2 * BLOCK), 0);
    free(buf);
}

static void test_io_backend_parse_and_name(void **state)
{
    enum osd_io_backend b = OSD_IO_SYNC;
    struct osd_io *io;
    (void)state;

    for (int i = OSD_IO_URING; i <= OSD_IO_SYNC; i++) {
        assert_int_equal(osd_io_backend_parse(osd_io_backend_name((enum osd_io_backend)i), &b), 0);
        assert_int_equal(b, i);
    }
    assert_string_equal(osd_io_backend_name(OSD_IO_URING), "uring");
    assert_string_equal(osd_io_backend_name(OSD_IO_AIO), "aio");
    assert_string_equal(osd_io_backend_name(OSD_IO_SYNC), "sync");
    assert_string_equal(osd_io_backend_name((enum osd_io_backend)7), "unknown");
    b = OSD_IO_AIO;
    assert_int_equal(osd_io_backend_parse("io_uring", &b), -EINVAL);
    assert_int_equal(osd_io_backend_parse("", &b), -EINVAL);
    assert_int_equal(osd_io_backend_parse(NULL, &b), -EINVAL);
    assert_int_equal(b, OSD_IO_AIO);
    b = osd_io_backend_default();
    fprintf(stderr, "note: default backend here is %s\n", osd_io_backend_name(b));
    assert_int_equal(osd_io_create(b, 4, &io), 0);
    osd_io_destroy(io);
}

/* clang-format off */
#define PER_BACKEND(fn)                                                                    \
    {"uring/" #fn, fn, setup, teardown, (void *)&backend_uring},                           \
    {"aio/" #fn, fn, setup, teardown, (void *)&backend_aio},                               \
    {"sync/" #fn, fn, setup, teardown, (void *)&backend_sync}
/* clang-format on */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_io_backend_parse_and_name),
        PER_BACKEND(test_io_write_read_many_past_depth),
        PER_BACKEND(test_io_multi_iov),
        PER_BACKEND(test_io_fdatasync),
        PER_BACKEND(test_io_read_at_eof),
        PER_BACKEND(test_io_read_at_unaligned_eof),
        PER_BACKEND(test_io_read_refused_after_unaligned_cut_is_eof),
        PER_BACKEND(test_io_invalid_requests_fail_without_callback),
        PER_BACKEND(test_io_create_rejects_bad_depth),
        PER_BACKEND(test_io_kernel_errors_reach_callback),
        PER_BACKEND(test_io_event_fd_signals_completions),
        PER_BACKEND(test_io_callback_resubmits_its_request),
        PER_BACKEND(test_io_short_transfer_is_resubmitted),
        PER_BACKEND(test_io_zero_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

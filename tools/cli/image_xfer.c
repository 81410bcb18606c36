/* `cairn image import|export`: copies between a file (or stdin/stdout) and
 * an image with XFER_DEPTH async requests in flight, CHUNK bytes each.
 * Import skips all-zero 4 KiB blocks so holes stay holes; export writes
 * all-zero blocks as seeks when the output is a regular file it opened.
 * A progress bar (bytes, rate, ETA) goes to stderr when it is a terminal. */
#include "tools/cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XFER_DEPTH 8u
#define CHUNK (4u << 20)
#define BLOCK 4096u
#define GROW_STEP (1ull << 30) /* import from stdin grows the image by this */

/* ---- progress ---- */

struct progress {
    bool on;           /* stderr is a terminal */
    uint64_t total;    /* bytes; 0 when unknown */
    double start, last;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_init(struct progress *p, uint64_t total)
{
    p->on = isatty(2);
    p->total = total;
    p->start = p->last = now_s();
}

static void progress_show(struct progress *p, uint64_t done, bool final)
{
    double t = now_s(), rate;

    if (!p->on || (!final && t - p->last < 0.2))
        return;
    p->last = t;
    rate = t > p->start ? (double)done / (t - p->start) : 0;
    if (p->total) {
        unsigned pct = (unsigned)(done * 100 / p->total), bar = pct * 30 / 100;
        double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
        fprintf(stderr, "\r[%.*s%*s] %3u%% %8.1f MiB %7.1f MiB/s ETA %4.0fs", (int)bar,
                "##############################", (int)(30 - bar), "", pct, done / 1048576.0,
                rate / 1048576.0, eta);
    } else {
        fprintf(stderr, "\r%8.1f MiB %7.1f MiB/s", done / 1048576.0, rate / 1048576.0);
    }
    if (final)
        fputc('\n', stderr);
}

/* ---- a ring of requests in flight ---- */

struct xfer;

struct slot {
    struct xfer *x;
    uint8_t *buf;     /* CHUNK bytes */
    uint64_t off;     /* image offset of buf[0] */
    size_t len;
    unsigned pending; /* requests in flight on buf, under x->lock */
};

struct xfer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int err; /* the first request error, under lock */
    struct slot slots[XFER_DEPTH];
};

static void slot_cb(int result, void *arg)
{
    struct slot *s = arg;
    struct xfer *x = s->x;

    pthread_mutex_lock(&x->lock);
    if (result < 0 && x->err == 0)
        x->err = result;
    s->pending--;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
}

/* Waits until @s has nothing in flight: 0 or the first error so far. */
static int slot_wait(struct slot *s)
{
    struct xfer *x = s->x;
    int r;

    pthread_mutex_lock(&x->lock);
    while (s->pending)
        pthread_cond_wait(&x->cond, &x->lock);
    r = x->err;
    pthread_mutex_unlock(&x->lock);
    return r;
}

static int xfer_init(struct xfer *x)
{
    memset(x, 0, sizeof(*x));
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->cond, NULL);
    for (unsigned i = 0; i < XFER_DEPTH; i++) {
        x->slots[i].x = x;
        if (!(x->slots[i].buf = malloc(CHUNK)))
            return -ENOMEM;
    }
    return 0;
}

/* Waits for everything in flight, then frees: 0 or the first error. */
static int xfer_fini(struct xfer *x)
{
    int r = 0, e;

    for (unsigned i = 0; i < XFER_DEPTH; i++) {
        if ((e = slot_wait(&x->slots[i])) < 0 && r == 0)
            r = e;
        free(x->slots[i].buf);
    }
    pthread_cond_destroy(&x->cond);
    pthread_mutex_destroy(&x->lock);
    return r;
}

/* Counts a request on @s before it starts; undone when it fails to. */
static int slot_start(struct slot *s, int started)
{
    pthread_mutex_lock(&s->x->lock);
    if (started == 0)
        s->pending++;
    pthread_mutex_unlock(&s->x->lock);
    return started;
}

static bool block_is_zero(const uint8_t *p, size_t len)
{
    return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* Length of the run of blocks from @p (up to @len) that are all zero
 * (@zero) or all not. */
static size_t run_len(const uint8_t *p, size_t len, bool zero)
{
    size_t n = 0;

    while (n < len) {
        size_t b = len - n < BLOCK ? len - n : BLOCK;
        if (block_is_zero(p + n, b) != zero)
            break;
        n += b;
    }
    return n;
}

/* ---- import ---- */

/* Writes the non-zero runs of @s's buffer (4 KiB aligned in the image, as
 * every chunk starts on a CHUNK boundary). */
static int import_slot(struct cairn_image *img, struct slot *s)
{
    int r = 0;

    for (size_t at = 0; at < s->len && r == 0;) {
        size_t zeros = run_len(s->buf + at, s->len - at, true);
        at += zeros;
        size_t data = run_len(s->buf + at, s->len - at, false);
        if (data)
            r = slot_start(s, cairn_image_aio_write(img, s->off + at, data, s->buf + at,
                                                    slot_cb, s));
        at += data;
    }
    return r;
}

/* Reads @fd to its end into @img; *@total gets the bytes read. @grow: the
 * input's size is unknown, so the image grows ahead of the data. */
static int import_data(struct cairn_image *img, int fd, bool grow, struct progress *p,
                       uint64_t *total, const char **what)
{
    struct xfer x;
    uint64_t off = 0;
    int r = xfer_init(&x);

    for (unsigned i = 0; r == 0; i = (i + 1) % XFER_DEPTH) {
        struct slot *s = &x.slots[i];
        if ((r = slot_wait(s)) < 0)
            break;
        ssize_t got = cli_read_full(fd, s->buf, CHUNK);
        if (got <= 0) {
            r = (int)got;
            if (got < 0)
                *what = "reading the input";
            break;
        }
        s->off = off;
        s->len = (size_t)got;
        if (grow && off + s->len > cairn_image_size(img) &&
            (r = cairn_image_resize(img, off + GROW_STEP)) < 0)
            break;
        if ((r = import_slot(img, s)) < 0)
            break;
        off += s->len;
        progress_show(p, off, false);
    }
    int e = xfer_fini(&x);
    *total = off;
    return r < 0 ? r : e;
}

int cli_image_import(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_image_args a;
    struct cairn_image *img = NULL;
    struct progress p;
    struct stat st;
    const char *what = NULL;
    uint64_t total = 0;
    int32_t pool;
    int fd = 0, r = cli_image_args(ctx, argc, argv, &a, CLI_IMAGE_OBJECT_SIZE, 2, 2);

    if (r != CLI_EXIT_OK)
        return r;
    if (strcmp(a.pos[0], "-") != 0 && (fd = open(a.pos[0], O_RDONLY | O_CLOEXEC)) < 0)
        return cli_fail(ctx, "%s: %s", a.pos[0], strerror(errno));
    bool sized = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if ((r = cli_pool_get(ctx, CAIRN_IMAGE_DEFAULT_POOL, a.pool, true, &pool)) != CLI_EXIT_OK)
        goto out_close;
    int e = cairn_image_create(ctx->cairn, pool, a.pos[1], sized ? (uint64_t)st.st_size : 0,
                               a.object_size);
    if (e == 0)
        e = cairn_image_open(ctx->cairn, pool, a.pos[1], &img);
    if (e < 0) {
        r = cli_image_fail(ctx, e);
        goto out_close;
    }
    progress_init(&p, sized ? (uint64_t)st.st_size : 0);
    e = import_data(img, fd, !sized, &p, &total, &what);
    if (e == 0 && !sized)
        e = cairn_image_resize(img, total); /* the exact size, trimming the growth */
    progress_show(&p, total, true);
    if (e < 0 && what)
        r = cli_fail(ctx, "%s: %s", what, strerror(-e));
    else if (e < 0)
        r = cli_image_fail(ctx, e);
out_close:
    cairn_image_close(img);
    if (fd > 0)
        close(fd);
    return r;
}

/* ---- export ---- */

/* Writes @s's buffer to @fd; zero blocks become seeks when @sparse. */
static int export_slot(int fd, const struct slot *s, bool sparse)
{
    int r = 0;

    if (!sparse)
        return cli_write_full(fd, s->buf, s->len);
    for (size_t at = 0; at < s->len && r == 0;) {
        size_t zeros = run_len(s->buf + at, s->len - at, true);
        if (zeros && lseek(fd, (off_t)zeros, SEEK_CUR) < 0)
            return -errno;
        at += zeros;
        size_t data = run_len(s->buf + at, s->len - at, false);
        r = cli_write_full(fd, s->buf + at, data);
        at += data;
    }
    return r;
}

/* Copies @img to @fd in order, with reads XFER_DEPTH chunks ahead.
 * *@what says which side failed. */
static int export_data(struct cairn_image *img, int fd, bool sparse, struct progress *p,
                       const char **what)
{
    uint64_t size = cairn_image_size(img), next = 0, done = 0;
    struct xfer x;
    int r = xfer_init(&x);

    for (unsigned i = 0; r == 0 && next < size && i < XFER_DEPTH; i++, next += CHUNK) {
        struct slot *s = &x.slots[i];
        s->off = next;
        s->len = size - next < CHUNK ? (size_t)(size - next) : CHUNK;
        r = slot_start(s, cairn_image_aio_read(img, s->off, s->len, s->buf, slot_cb, s));
    }
    for (unsigned i = 0; r == 0 && done < size; i = (i + 1) % XFER_DEPTH) {
        struct slot *s = &x.slots[i];
        if ((r = slot_wait(s)) < 0)
            break;
        if ((r = export_slot(fd, s, sparse)) < 0) {
            *what = "writing the output";
            break;
        }
        done += s->len;
        progress_show(p, done, false);
        if (next < size) {
            s->off = next;
            s->len = size - next < CHUNK ? (size_t)(size - next) : CHUNK;
            next += s->len;
            r = slot_start(s, cairn_image_aio_read(img, s->off, s->len, s->buf, slot_cb, s));
        }
    }
    int e = xfer_fini(&x);
    if (r == 0 && sparse && ftruncate(fd, (off_t)size) < 0) {
        r = -errno;
        *what = "writing the output";
    }
    return r < 0 ? r : e;
}

int cli_image_export(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_image_args a;
    struct cairn_image *img;
    struct progress p;
    struct stat st;
    const char *what = NULL;
    int fd = 1, r = cli_image_args(ctx, argc, argv, &a, 0, 1, 2);
    const char *path = r == CLI_EXIT_OK && a.n == 2 && strcmp(a.pos[1], "-") ? a.pos[1] : NULL;

    if (r != CLI_EXIT_OK || (r = cli_image_open(ctx, &a, a.pos[0], &img)) != CLI_EXIT_OK)
        return r;
    /* The file is created only once the image was found. */
    if (path && (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0) {
        r = cli_fail(ctx, "%s: %s", path, strerror(errno));
        cairn_image_close(img);
        return r;
    }
    bool sparse = path && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    progress_init(&p, cairn_image_size(img));
    int e = export_data(img, fd, sparse, &p, &what);
    progress_show(&p, cairn_image_size(img), true);
    cairn_image_close(img);
    if (e < 0 && what)
        r = cli_fail(ctx, "%s: %s", what, strerror(-e));
    else if (e < 0)
        r = cli_image_fail(ctx, e);
    if (path && close(fd) < 0 && r == CLI_EXIT_OK)
        r = cli_fail(ctx, "%s: %s", path, strerror(errno));
    return r;
}

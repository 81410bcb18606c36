/* `cairn-bench image`: block image I/O straight through libcairn's image
 * API (client/image.h) on a running cluster (-c CONF): the "direct" side
 * that the NBD and vhost-user front-ends are measured against. It creates a
 * scratch image, fills it (so reads hit data and writes overwrite), runs
 * each workload for --seconds with a fixed number of requests in flight,
 * and removes the image. Called by main.c.
 *
 * Workloads (names shared with the front-end benchmarks):
 *   randwrite_4k_qd32  randwrite_4k_qd1  randread_4k_qd32  randread_4k_qd1
 *   randwrite_4k_qd16  randread_4k_qd16 (the size-3 targets are set at QD16)
 *   seqwrite_1m_qd8    seqread_1m_qd8
 * One submitting thread keeps the depth full; completions arrive on
 * libcairn's thread and are counted under a mutex. */
#include "client/image.h"
#include "common/clock.h"
#include "tools/bench/internal.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEPTH_MAX 64u
#define LAT_MAX (1u << 20) /* latency samples kept per workload */
#define FILL_BS (1u << 20)
#define FILL_DEPTH 16u

struct wl {
    const char *name;
    bool write, random;
    unsigned bs, depth;
};

static const struct wl workloads[] = {
    {"randwrite_4k_qd32", true, true, 4096, 32},  {"randwrite_4k_qd1", true, true, 4096, 1},
    {"randread_4k_qd32", false, true, 4096, 32},  {"randread_4k_qd1", false, true, 4096, 1},
    {"randwrite_4k_qd16", true, true, 4096, 16},  {"randread_4k_qd16", false, true, 4096, 16},
    {"seqwrite_1m_qd8", true, false, 1u << 20, 8}, {"seqread_1m_qd8", false, false, 1u << 20, 8},
};
#define N_WL (sizeof(workloads) / sizeof(workloads[0]))

struct result {
    double iops, mb_s, p50_us, p99_us;
};

struct bench {
    /* Options. */
    const char *conf, *name, *pool_name;
    uint64_t size;
    unsigned seconds;
    bool json;
    bool wanted[N_WL];
    /* State. */
    struct cairn *c;
    struct cairn_image *img;
    char image[64];
    uint8_t *buf; /* DEPTH_MAX slots of up to 1 MiB, written with a pattern */
    struct result res[N_WL];
};

/* One run: the submitter and the completion callback share it. */
struct run {
    struct bench *b;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned in_flight;
    bool free_slot[DEPTH_MAX];
    uint64_t started_ns[DEPTH_MAX];
    double *lat_us;
    size_t n_lat;
    uint64_t done, bytes;
    bool measuring;
    int err; /* the first failure */
};

struct slot_arg {
    struct run *r;
    unsigned slot;
    unsigned bs;
};

static void io_done(int result, void *arg)
{
    struct slot_arg *a = arg;
    struct run *r = a->r;
    uint64_t now = cairn_now_ns();

    pthread_mutex_lock(&r->lock);
    if (result < 0 && r->err == 0)
        r->err = result;
    if (r->measuring) {
        r->done++;
        r->bytes += a->bs;
        if (r->n_lat < LAT_MAX)
            r->lat_us[r->n_lat++] = (double)(now - r->started_ns[a->slot]) / 1e3;
    }
    r->free_slot[a->slot] = true;
    r->in_flight--;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Waits for a free slot (or for every slot when @all). */
static unsigned take_slot(struct run *r, unsigned depth, bool all)
{
    unsigned s = 0;
    pthread_mutex_lock(&r->lock);
    while (all ? r->in_flight > 0 : r->in_flight >= depth)
        pthread_cond_wait(&r->cond, &r->lock);
    if (!all) {
        while (!r->free_slot[s])
            s++;
        r->free_slot[s] = false;
        r->in_flight++;
    }
    pthread_mutex_unlock(&r->lock);
    return s;
}

static uint64_t next_off(const struct wl *w, uint64_t size, uint64_t *seq, uint64_t *rng)
{
    uint64_t blocks = size / w->bs;
    if (!w->random) {
        uint64_t off = (*seq % blocks) * w->bs;
        (*seq)++;
        return off;
    }
    *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
    return (*rng % blocks) * w->bs;
}

/* Runs @w for @warm_ms then @ms measured (ms 0: one pass over the image,
 * unmeasured: the fill). */
static int run_workload(struct bench *b, const struct wl *w, unsigned warm_ms, unsigned ms,
                        struct result *res)
{
    static struct slot_arg args[DEPTH_MAX];
    struct run r = {.b = b};
    uint64_t seq = 0, rng = 0x2545f4914f6cdd1dull, t_end = 0, t_measure = 0;
    uint64_t passes = ms ? UINT64_MAX : b->size / w->bs;

    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.cond, NULL);
    for (unsigned i = 0; i < DEPTH_MAX; i++)
        r.free_slot[i] = true;
    if (ms && !(r.lat_us = malloc(LAT_MAX * sizeof(double))))
        return -ENOMEM;
    uint64_t t0 = cairn_now_ns();
    if (ms) {
        t_measure = t0 + (uint64_t)warm_ms * 1000000u;
        t_end = t_measure + (uint64_t)ms * 1000000u;
    }
    for (uint64_t i = 0; i < passes; i++) {
        uint64_t now = cairn_now_ns();
        if (ms && now >= t_end)
            break;
        if (ms && !r.measuring && now >= t_measure) {
            pthread_mutex_lock(&r.lock);
            r.measuring = true;
            pthread_mutex_unlock(&r.lock);
            t_measure = now;
        }
        unsigned s = take_slot(&r, w->depth, false);
        if (r.err)
            break;
        uint64_t off = next_off(w, b->size, &seq, &rng);
        uint8_t *buf = b->buf + (size_t)s * (1u << 20);
        args[s] = (struct slot_arg){.r = &r, .slot = s, .bs = w->bs};
        r.started_ns[s] = cairn_now_ns();
        int e = w->write ? cairn_image_aio_write(b->img, off, w->bs, buf, io_done, &args[s])
                         : cairn_image_aio_read(b->img, off, w->bs, buf, io_done, &args[s]);
        if (e < 0)
            io_done(e, &args[s]);
    }
    take_slot(&r, w->depth, true);
    double secs = (double)(cairn_now_ns() - t_measure) / 1e9;
    if (ms && r.err == 0 && r.done > 0) {
        bench_sort(r.lat_us, r.n_lat);
        res->iops = (double)r.done / secs;
        res->mb_s = (double)r.bytes / secs / 1e6;
        res->p50_us = bench_percentile(r.lat_us, r.n_lat, 0.50);
        res->p99_us = bench_percentile(r.lat_us, r.n_lat, 0.99);
    }
    free(r.lat_us);
    pthread_mutex_destroy(&r.lock);
    pthread_cond_destroy(&r.cond);
    if (r.err)
        fprintf(stderr, "cairn-bench image: %s: %s\n", w->name, strerror(-r.err));
    return r.err;
}

static int setup(struct bench *b)
{
    int32_t pool;
    char why[256];
    int e = cairn_connect(b->conf, b->name, &b->c);
    if (e < 0) {
        fprintf(stderr, "cairn-bench image: connect: %s\n", strerror(-e));
        return e;
    }
    if ((e = cairn_pool_lookup(b->c, b->pool_name, &pool)) < 0) {
        cairn_error_string(b->c, e, why, sizeof(why));
        fprintf(stderr, "cairn-bench image: pool %s: %s (create it: cairn pool create %s)\n",
                b->pool_name, why, b->pool_name);
        return e;
    }
    snprintf(b->image, sizeof(b->image), "cairn-bench.%d", (int)getpid());
    if ((e = cairn_image_create(b->c, pool, b->image, b->size, 0)) < 0 ||
        (e = cairn_image_open(b->c, pool, b->image, &b->img)) < 0) {
        cairn_error_string(b->c, e, why, sizeof(why));
        fprintf(stderr, "cairn-bench image: image %s: %s\n", b->image, why);
        return e;
    }
    static const struct wl fill = {"fill", true, false, FILL_BS, FILL_DEPTH};
    fprintf(stderr, "cairn-bench image: filling %" PRIu64 " MiB\n", b->size >> 20);
    return run_workload(b, &fill, 0, 0, NULL);
}

static void teardown(struct bench *b)
{
    int32_t pool;
    if (b->img)
        cairn_image_close(b->img);
    if (b->c && b->image[0] && cairn_pool_lookup(b->c, b->pool_name, &pool) == 0)
        cairn_image_remove(b->c, pool, b->image);
    if (b->c)
        cairn_shutdown(b->c);
}

static void print(const struct bench *b)
{
    const char *sep = "";
    if (b->json)
        printf("{");
    else
        printf("cairn-bench image: %" PRIu64 " MiB image in pool %s, %u s per workload\n"
               "%-18s %12s %10s %10s %10s\n",
               b->size >> 20, b->pool_name, b->seconds, "workload", "IOPS", "MB/s", "p50 us",
               "p99 us");
    for (unsigned i = 0; i < N_WL; i++) {
        const struct result *r = &b->res[i];
        if (!b->wanted[i])
            continue;
        if (b->json)
            printf("%s\"%s\": {\"iops\": %.1f, \"mb_per_s\": %.2f, \"p50_us\": %.1f, "
                   "\"p99_us\": %.1f}",
                   sep, workloads[i].name, r->iops, r->mb_s, r->p50_us, r->p99_us);
        else
            printf("%-18s %12.1f %10.2f %10.1f %10.1f\n", workloads[i].name, r->iops, r->mb_s,
                   r->p50_us, r->p99_us);
        sep = ", ";
    }
    if (b->json)
        printf("}\n");
}

void bench_image_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn-bench image [-c CONF] [--name ENTITY] [--pool POOL] [--size SIZE]\n"
            "                         [--seconds N] [--workloads LIST] [--json]\n"
            "Block image I/O through libcairn on a running cluster: 4 KiB random writes\n"
            "and reads at QD32 and QD1, 1 MiB sequential writes and reads at QD8, on a\n"
            "scratch image that is filled first and removed at the end.\n"
            "  --pool POOL      an existing pool (default images)\n"
            "  --size SIZE      the scratch image (default 1G)\n"
            "  --seconds N      measured time per workload, after a 1 s warm-up (default 5)\n"
            "  --workloads L    comma-separated subset of the workloads above\n"
            "  --json           one JSON object: {workload: {iops, mb_per_s, p50_us, p99_us}}\n");
}

static int parse_workloads(struct bench *b, const char *list)
{
    memset(b->wanted, 0, sizeof(b->wanted));
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        unsigned i = 0;
        while (i < N_WL && !(strlen(workloads[i].name) == n && !strncmp(p, workloads[i].name, n)))
            i++;
        if (i == N_WL)
            return -EINVAL;
        b->wanted[i] = true;
        p += n + (p[n] == ',');
    }
    return 0;
}

static int parse_args(struct bench *b, int argc, char **argv)
{
    static const struct option opts[] = {
        {"conf", required_argument, NULL, 'c'},    {"name", required_argument, NULL, 'n'},
        {"pool", required_argument, NULL, 'p'},    {"size", required_argument, NULL, 's'},
        {"seconds", required_argument, NULL, 't'}, {"workloads", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        int bad = 0;
        switch (o) {
        case 'c': b->conf = optarg; break;
        case 'n': b->name = optarg; break;
        case 'p': b->pool_name = optarg; break;
        case 's': bad = bench_parse_size(optarg, &b->size) || b->size < (64u << 20); break;
        case 't': bad = bench_parse_uint(optarg, 3600, &b->seconds) || !b->seconds; break;
        case 'w': bad = parse_workloads(b, optarg) < 0; break;
        case 'j': b->json = true; break;
        case 'h': bench_image_usage(stdout); return BENCH_EXIT_OK;
        default: bad = 1;
        }
        if (bad) {
            fprintf(stderr, "cairn-bench image: bad option or value%s%s\n", optarg ? ": " : "",
                    optarg ? optarg : "");
            bench_image_usage(stderr);
            return BENCH_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        bench_image_usage(stderr);
        return BENCH_EXIT_USAGE;
    }
    return -1;
}

int bench_image_main(int argc, char **argv)
{
    static struct bench b;
    int rc;

    b.pool_name = CAIRN_IMAGE_DEFAULT_POOL;
    b.size = 1ull << 30;
    b.seconds = 5;
    for (unsigned i = 0; i < N_WL; i++)
        b.wanted[i] = true;
    if ((rc = parse_args(&b, argc, argv)) >= 0)
        return rc;
    if (!(b.buf = malloc((size_t)DEPTH_MAX << 20)))
        return BENCH_EXIT_FAIL;
    for (size_t i = 0; i < ((size_t)DEPTH_MAX << 20); i++)
        b.buf[i] = (uint8_t)(i * 131 + (i >> 12));
    int e = setup(&b);
    for (unsigned i = 0; i < N_WL && e == 0; i++) {
        if (!b.wanted[i])
            continue;
        fprintf(stderr, "cairn-bench image: %s\n", workloads[i].name);
        e = run_workload(&b, &workloads[i], 1000, b.seconds * 1000, &b.res[i]);
    }
    teardown(&b);
    free(b.buf);
    if (e < 0)
        return BENCH_EXIT_FAIL;
    print(&b);
    return BENCH_EXIT_OK;
}

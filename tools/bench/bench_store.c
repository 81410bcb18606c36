/* `cairn-bench store`: the object store engine (osd/store) against fio on the
 * same disk, in the same run, on a data file and a plain file of the same
 * size in one directory. Four workloads: 4 KiB random writes at QD32 and QD1,
 * 4 MiB sequential writes and reads. Every store transaction is durable
 * (opts.sync); fio's QD1 job uses --fdatasync=1 so that both sides are durable
 * per write there, and its other jobs issue no flush (docs/benchmarks.md).
 * Called by main.c; drives the store from one submitting thread, with
 * completions counted on the store's commit thread. */
#define _GNU_SOURCE
#include "common/assert.h"
#include "common/clock.h"
#include "osd/store/store.h"
#include "tools/bench/internal.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define DEPTH_MAX 32u
#define OBJ_BYTES (4u << 20) /* each benchmark object */
#define OBJ_BLOCKS (OBJ_BYTES / OSD_STORE_BLOCK)
#define OBJ_COUNT_MAX 256u
#define SIZE_MIN_BYTES (64ull << 20)
#define LAT_SAMPLES_MAX (1u << 21) /* latencies kept per workload */
#define WARMUP_MS_MAX 1000u
#define COLL "bench.0"
#define FIO_FILE "fio.dat"

enum wl_id {
    WL_RANDWRITE_QD32,
    WL_RANDWRITE_QD1,
    WL_SEQWRITE,
    WL_SEQREAD,
    WL_RANDWRITE_QD16,
    WL_COUNT
};

struct wl_def {
    const char *name;
    const char *unit; /* "IOPS" or "MB/s" (10^6 bytes) */
    const char *fio_rw;
    unsigned bs_bytes;
    unsigned depth; /* store transactions or reads in flight; fio iodepth */
    bool random;    /* a random block of a random object; else whole objects in turn */
    bool read;
    bool fio_fdatasync; /* fio job syncs every write */
    bool durable_ref;   /* also run fio with --fdatasync=1: the durable reference */
    bool on_request;    /* runs only when named by --workloads */
};

static const struct wl_def workloads[WL_COUNT] = {
    [WL_RANDWRITE_QD32] = {"randwrite_4k_qd32", "IOPS", "randwrite", 4096, 32, true, false, false,
                           true},
    [WL_RANDWRITE_QD1] = {"randwrite_4k_qd1", "IOPS", "randwrite", 4096, 1, true, false, true},
    [WL_SEQWRITE] = {"seqwrite_4m", "MB/s", "write", OBJ_BYTES, 4, false, false, false, true},
    [WL_SEQREAD] = {"seqread_4m", "MB/s", "read", OBJ_BYTES, 4, false, true, false},
    /* The store side of `cairn bench write --size 4K --threads 16` (bench_datapath). */
    [WL_RANDWRITE_QD16] = {"randwrite_4k_qd16", "IOPS", "randwrite", 4096, 16, true, false, false,
                           true, true},
};

struct wl_result {
    double store; /* in the workload's unit */
    double fio;
    double fio_durable; /* fio with --fdatasync=1; 0 when not measured */
    double fio_grouped; /* fio with one fdatasync per depth writes; 0 when not measured */
    double p50_us; /* store latency, submit to callback */
    double p99_us;
    double group_size; /* store txns per synced RocksDB write; 0 for reads */
};

struct bench {
    /* Options. */
    unsigned seconds;
    uint64_t size_bytes;
    const char *dir_base;
    enum osd_io_backend backend;
    bool json;
    bool wanted[WL_COUNT]; /* the workloads to run */
    char fio[PATH_MAX];
    /* State. */
    char dir[PATH_MAX]; /* our temporary directory, removed at the end */
    char store_dir[PATH_MAX + 16];
    char fio_file[PATH_MAX + 16];
    struct osd_store *st;
    unsigned nobj; /* objects written by the prefill */
    unsigned warmup_ms;
    uint8_t *wbuf; /* OBJ_BYTES of write data */
    struct wl_result res[WL_COUNT];
};

/* ---- Driving the store ---------------------------------------------------- */

struct run_slot {
    struct store_run *run;
    uint64_t start_ns; /* submit time */
    uint8_t *buf;      /* read buffer (read workloads) */
};

/* One workload run against the store: a submitting thread keeps wl->depth
 * requests in flight; callbacks on the commit thread count them. */
struct store_run {
    struct bench *b;
    const struct wl_def *wl;
    uint64_t measure_ns; /* start of the measured window (after the warm-up) */
    uint64_t end_ns;     /* end of the window; 0: stop after max_ops */
    uint64_t max_ops;
    uint64_t issued; /* (submitting thread) */
    uint64_t rng;    /* (submitting thread) */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct run_slot *free_slots[DEPTH_MAX]; /* (lock) */
    unsigned nfree;                         /* (lock) */
    uint64_t done;                          /* completions inside the window (lock) */
    int error;                              /* first failure (lock) */
    uint64_t *lat_ns; /* latencies of requests submitted in the window (lock) */
    size_t nlat;      /* (lock) */
    struct run_slot slots[DEPTH_MAX];
};

static void oid_name(unsigned obj, char *buf, size_t cap)
{
    snprintf(buf, cap, "bench.obj.%05u", obj);
}

static void run_complete(struct run_slot *s, int result)
{
    struct store_run *r = s->run;
    uint64_t now = cairn_now_ns();

    pthread_mutex_lock(&r->lock);
    if (result < 0 && r->error == 0)
        r->error = result;
    if (now >= r->measure_ns && (r->end_ns == 0 || now <= r->end_ns))
        r->done++;
    if (s->start_ns >= r->measure_ns && r->nlat < LAT_SAMPLES_MAX)
        r->lat_ns[r->nlat++] = now - s->start_ns;
    r->free_slots[r->nfree++] = s;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void txn_done(int result, void *arg)
{
    run_complete(arg, result);
}

static void read_done(int result, size_t out_len, void *arg)
{
    struct run_slot *s = arg;

    run_complete(s, result == 0 && out_len != s->run->wl->bs_bytes ? -EIO : result);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int run_issue(struct store_run *r, struct run_slot *s)
{
    const struct wl_def *wl = r->wl;
    uint64_t obj, off = 0;
    struct osd_txn *txn;
    char oid[32];
    int rc;

    if (wl->random) {
        uint64_t blk = rng_next(&r->rng) % ((uint64_t)r->b->nobj * OBJ_BLOCKS);
        obj = blk / OBJ_BLOCKS;
        off = blk % OBJ_BLOCKS * OSD_STORE_BLOCK;
    } else {
        obj = r->issued % r->b->nobj;
    }
    oid_name((unsigned)obj, oid, sizeof(oid));
    s->start_ns = cairn_now_ns();
    if (wl->read)
        return osd_store_read_async(r->b->st, COLL, oid, 0, wl->bs_bytes, s->buf, read_done, s);
    txn = osd_txn_create(COLL);
    if (!txn)
        return -ENOMEM;
    rc = osd_txn_write(txn, oid, off, r->b->wbuf, wl->bs_bytes);
    while (rc == 0 && (rc = osd_store_queue(r->b->st, txn, txn_done, s)) == -EAGAIN)
        usleep(100);
    if (rc < 0)
        osd_txn_destroy(txn);
    return rc;
}

static bool run_is_over(const struct store_run *r)
{
    if (r->end_ns)
        return cairn_now_ns() >= r->end_ns;
    return r->issued >= r->max_ops;
}

/* Keeps wl->depth requests in flight until the run is over, then drains. */
static int run_drive(struct store_run *r)
{
    struct run_slot *s;
    int rc = 0;

    while (rc == 0 && !run_is_over(r)) {
        pthread_mutex_lock(&r->lock);
        while (r->nfree == 0)
            pthread_cond_wait(&r->cond, &r->lock);
        s = r->free_slots[--r->nfree];
        rc = r->error;
        pthread_mutex_unlock(&r->lock);
        if (rc == 0)
            rc = run_issue(r, s);
        if (rc == 0) {
            r->issued++;
            continue;
        }
        pthread_mutex_lock(&r->lock);
        r->free_slots[r->nfree++] = s;
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_lock(&r->lock);
    while (r->nfree < r->wl->depth)
        pthread_cond_wait(&r->cond, &r->lock);
    rc = rc ? rc : r->error;
    pthread_mutex_unlock(&r->lock);
    return rc;
}

static void run_destroy(struct store_run *r)
{
    for (unsigned i = 0; i < DEPTH_MAX; i++)
        free(r->slots[i].buf);
    free(r->lat_ns);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}

static struct store_run *run_create(struct bench *b, const struct wl_def *wl)
{
    struct store_run *r = calloc(1, sizeof(*r));
    bool ok;

    if (!r)
        return NULL;
    r->b = b;
    r->wl = wl;
    r->rng = 0x2545f4914f6cdd1dull ^ (uint64_t)(wl - workloads);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->lat_ns = malloc(LAT_SAMPLES_MAX * sizeof(*r->lat_ns));
    ok = r->lat_ns != NULL;
    for (unsigned i = 0; i < wl->depth; i++) {
        r->slots[i].run = r;
        r->free_slots[r->nfree++] = &r->slots[i];
        if (wl->read && posix_memalign((void **)&r->slots[i].buf, OSD_STORE_BLOCK, wl->bs_bytes))
            ok = false;
    }
    if (!ok) {
        run_destroy(r);
        return NULL;
    }
    return r;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Figures of a finished run: throughput in the unit, latency percentiles. */
static void run_figures(struct store_run *r, double window_s, struct wl_result *res)
{
    double ops = (double)r->done / window_s;

    res->store = strcmp(r->wl->unit, "IOPS") == 0 ? ops : ops * r->wl->bs_bytes / 1e6;
    if (r->nlat == 0)
        return;
    qsort(r->lat_ns, r->nlat, sizeof(*r->lat_ns), cmp_u64);
    res->p50_us = (double)r->lat_ns[r->nlat / 2] / 1e3;
    res->p99_us = (double)r->lat_ns[CAIRN_MIN(r->nlat - 1, r->nlat * 99 / 100)] / 1e3;
}

/* Runs workload @id against the store for the warm-up plus b->seconds. */
static int store_workload(struct bench *b, enum wl_id id)
{
    struct store_run *r = run_create(b, &workloads[id]);
    struct osd_store_stats before, after;
    int rc;

    if (!r)
        return -ENOMEM;
    osd_store_get_stats(b->st, &before);
    r->measure_ns = cairn_now_ns() + (uint64_t)b->warmup_ms * 1000000;
    r->end_ns = r->measure_ns + (uint64_t)b->seconds * 1000000000;
    rc = run_drive(r);
    osd_store_get_stats(b->st, &after);
    if (rc == 0) {
        run_figures(r, (double)b->seconds, &b->res[id]);
        if (after.kv_commits > before.kv_commits)
            b->res[id].group_size = (double)(after.txns_committed - before.txns_committed) /
                                    (double)(after.kv_commits - before.kv_commits);
        if (r->done == 0)
            rc = -ETIMEDOUT;
    }
    if (rc < 0)
        fprintf(stderr, "cairn-bench: store %s: %s\n", workloads[id].name, strerror(-rc));
    run_destroy(r);
    return rc;
}

/* Creates the store and writes every benchmark object once (untimed). */
static int store_prefill(struct bench *b)
{
    struct osd_store_opts opts;
    struct osd_txn *txn;
    struct store_run *r;
    int rc;

    osd_store_opts_default(&opts);
    opts.data_size_bytes = b->size_bytes;
    opts.backend = b->backend;
    opts.sync = true;
    rc = osd_store_mkfs(b->store_dir, &opts);
    if (rc == 0)
        rc = osd_store_open(b->store_dir, &opts, &b->st);
    if (rc < 0) {
        fprintf(stderr, "cairn-bench: creating the store in %s: %s\n", b->store_dir, strerror(-rc));
        return rc;
    }
    txn = osd_txn_create(COLL);
    rc = txn ? osd_txn_create_collection(txn) : -ENOMEM;
    rc = rc == 0 ? osd_store_apply(b->st, txn) : (osd_txn_destroy(txn), rc);
    r = rc == 0 ? run_create(b, &workloads[WL_SEQWRITE]) : NULL;
    if (r) {
        r->measure_ns = UINT64_MAX;
        r->max_ops = b->nobj;
        rc = run_drive(r);
        run_destroy(r);
    }
    if (rc < 0 || !r)
        fprintf(stderr, "cairn-bench: store prefill: %s\n", strerror(rc ? -rc : ENOMEM));
    return rc < 0 ? rc : r ? 0 : -ENOMEM;
}

/* ---- fio -------------------------------------------------------------------- */

static void fio_job_init(const struct bench *b, const struct wl_def *wl, struct bench_fio_job *job)
{
    memset(job, 0, sizeof(*job));
    job->fio = b->fio;
    job->name = wl->name;
    job->filename = b->fio_file;
    job->size_bytes = b->size_bytes;
    job->ioengine = b->backend == OSD_IO_AIO ? "libaio" : "io_uring";
    job->rw = wl->fio_rw;
    job->bs_bytes = wl->bs_bytes;
    job->iodepth = wl->depth;
    job->fdatasync = wl->fio_fdatasync ? 1 : 0;
    job->runtime_ms = b->seconds * 1000;
    job->ramp_ms = b->warmup_ms;
}

static int fio_workload(struct bench *b, enum wl_id id)
{
    const struct wl_def *wl = &workloads[id];
    struct bench_fio_result fr;
    struct bench_fio_job job;
    int rc;

    fio_job_init(b, wl, &job);
    rc = bench_fio_run(&job, &fr);
    if (rc < 0)
        return rc;
    bool iops = strcmp(wl->unit, "IOPS") == 0;
    b->res[id].fio = iops ? fr.iops : fr.bw_bytes / 1e6;
    if (!wl->durable_ref)
        return 0;
    /* The store's writes are durable; fio's main job is not. The same job
     * flushing every write is the like-for-like reference; flushing once per
     * queue depth of writes shows what a group commit of the whole depth,
     * without metadata, gets out of this disk durably. */
    job.fdatasync = 1;
    rc = bench_fio_run(&job, &fr);
    if (rc < 0)
        return rc;
    b->res[id].fio_durable = iops ? fr.iops : fr.bw_bytes / 1e6;
    if (wl->depth <= 1)
        return 0;
    job.fdatasync = wl->depth;
    rc = bench_fio_run(&job, &fr);
    if (rc < 0)
        return rc;
    b->res[id].fio_grouped = iops ? fr.iops : fr.bw_bytes / 1e6;
    return 0;
}

/* Writes the whole fio file once, so reads and overwrites hit real blocks. */
static int fio_prefill(struct bench *b)
{
    struct bench_fio_result fr;
    struct bench_fio_job job;

    fio_job_init(b, &workloads[WL_SEQWRITE], &job);
    job.name = "prefill";
    job.runtime_ms = 0;
    return bench_fio_run(&job, &fr);
}

/* ---- Output ------------------------------------------------------------------ */

static double ratio(const struct wl_result *res)
{
    return res->fio > 0 ? res->store / res->fio : 0;
}

static double ratio_durable(const struct wl_result *res)
{
    return res->fio_durable > 0 ? res->store / res->fio_durable : 0;
}

static void print_table(const struct bench *b)
{
    printf("cairn-bench store: %" PRIu64 " MiB data file, %u s per workload after %u ms "
           "warm-up, backend %s, %u objects of 4 MiB\n",
           b->size_bytes >> 20, b->seconds, b->warmup_ms, osd_io_backend_name(b->backend), b->nobj);
    printf("%-18s %12s %12s %5s %7s  %s\n", "workload", "store", "fio", "unit", "ratio",
           "store latency p50/p99, group size");
    for (unsigned i = 0; i < WL_COUNT; i++) {
        const struct wl_result *res = &b->res[i];

        if (!b->wanted[i])
            continue;
        printf("%-18s %12.1f %12.1f %5s %7.3f  %.0f/%.0f us", workloads[i].name, res->store,
               res->fio, workloads[i].unit, ratio(res), res->p50_us, res->p99_us);
        if (!workloads[i].read)
            printf(", %.1f txns/commit", res->group_size);
        if (res->fio_durable > 0)
            printf("; durable fio %.1f, ratio %.3f", res->fio_durable, ratio_durable(res));
        if (res->fio_grouped > 0)
            printf("; grouped %.1f (%.3f of fio)", res->fio_grouped, res->fio_grouped / res->fio);
        printf("\n");
    }
    printf("ratio = store/fio, higher is better. Store: every transaction durable "
           "(opts.sync=true).\nfio: ioengine=%s direct=1 on a %" PRIu64 " MiB file; "
           "randwrite_4k_qd1 uses --fdatasync=1 (durable per write), the others no flush;\n"
           "\"durable fio\" is the same job with --fdatasync=1, like for like with the store;\n"
           "\"grouped\" flushes once per iodepth writes: a durable group commit, no metadata.\n",
           b->backend == OSD_IO_AIO ? "libaio" : "io_uring", b->size_bytes >> 20);
}

static void print_json(const struct bench *b)
{
    const char *sep = "";

    printf("{");
    for (unsigned i = 0; i < WL_COUNT; i++) {
        const struct wl_result *res = &b->res[i];

        if (!b->wanted[i])
            continue;
        printf("%s\"%s\": {\"store\": %.3f, \"fio\": %.3f, \"ratio\": %.4f, \"unit\": \"%s\", "
               "\"store_p50_us\": %.1f, \"store_p99_us\": %.1f",
               sep, workloads[i].name, res->store, res->fio, ratio(res),
               workloads[i].unit, res->p50_us, res->p99_us);
        if (!workloads[i].read)
            printf(", \"store_group_size\": %.3f", res->group_size);
        if (res->fio_durable > 0)
            printf(", \"fio_durable\": %.3f, \"ratio_durable\": %.4f", res->fio_durable,
                   ratio_durable(res));
        if (res->fio_grouped > 0)
            printf(", \"fio_durable_grouped\": %.3f", res->fio_grouped);
        printf(", \"fio_sync\": \"%s\"}", workloads[i].fio_fdatasync ? "fdatasync" : "none");
        sep = ", ";
    }
    printf("}\n");
}

/* ---- Set-up, options and the whole run --------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

/* Makes our directory under b->dir_base and checks it can hold both files. */
static int make_dir(struct bench *b)
{
    struct statvfs vfs;
    uint64_t need = 2 * b->size_bytes + (512ull << 20), avail;

    snprintf(b->dir, sizeof(b->dir), "%s/cairn-bench.XXXXXX", b->dir_base);
    if (!mkdtemp(b->dir)) {
        fprintf(stderr, "cairn-bench: mkdtemp %s: %s\n", b->dir, strerror(errno));
        return -errno;
    }
    snprintf(b->store_dir, sizeof(b->store_dir), "%s/store", b->dir);
    snprintf(b->fio_file, sizeof(b->fio_file), "%s/%s", b->dir, FIO_FILE);
    if (statvfs(b->dir, &vfs) == 0) {
        avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        if (avail < need) {
            fprintf(stderr, "cairn-bench: %s has %" PRIu64 " MiB free, needs %" PRIu64 " MiB\n",
                    b->dir, avail >> 20, need >> 20);
            return -ENOSPC;
        }
    }
    return 0;
}

/* Runs every workload, alternating the store and fio. */
static int run_all(struct bench *b)
{
    int rc;

    fprintf(stderr,
            "cairn-bench: prefilling %u MiB of store objects and the %" PRIu64 " MiB fio file\n",
            b->nobj * (OBJ_BYTES >> 20), b->size_bytes >> 20);
    rc = store_prefill(b);
    if (rc == 0)
        rc = fio_prefill(b);
    for (unsigned i = 0; i < WL_COUNT && rc == 0; i++) {
        if (!b->wanted[i])
            continue;
        fprintf(stderr, "cairn-bench: %s: store\n", workloads[i].name);
        rc = store_workload(b, (enum wl_id)i);
        if (rc == 0) {
            fprintf(stderr, "cairn-bench: %s: fio\n", workloads[i].name);
            rc = fio_workload(b, (enum wl_id)i);
        }
    }
    return rc;
}

void bench_store_usage(FILE *out)
{
    fprintf(out, "usage: cairn-bench store [--seconds N] [--size SIZE] [--dir DIR]\n"
                 "                         [--backend uring|aio] [--workloads LIST] [--json]\n"
                 "Compares the object store with fio on the same disk: 4 KiB random writes at\n"
                 "QD32 and QD1 (IOPS), 4 MiB sequential writes and reads (MB/s).\n"
                 "  --seconds N    measured time per workload, after a warm-up (default 5)\n"
                 "  --size SIZE    data file size, and fio file size (default 2G)\n"
                 "  --dir DIR      parent of the temporary directory (default /var/tmp)\n"
                 "  --backend B    store I/O backend; fio uses io_uring or libaio to match\n"
                 "  --workloads L  comma-separated workloads to run: randwrite_4k_qd32,\n"
                 "                 randwrite_4k_qd1, seqwrite_4m, seqread_4m (the default set)\n"
                 "                 and randwrite_4k_qd16\n"
                 "  --json         print one JSON object instead of the table\n"
                 "Store transactions are all durable; fio's randwrite_4k_qd1 job uses\n"
                 "--fdatasync=1, the other fio jobs issue no flush. Exit 77 without fio.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "cairn-bench store: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    bench_store_usage(stderr);
    return BENCH_EXIT_USAGE;
}

static bool opt_is(const char *arg, size_t n, const char *name)
{
    return strlen(name) == n && strncmp(arg, name, n) == 0;
}

/* Marks the workloads of comma-separated @list wanted. 0 or -EINVAL. */
static int parse_workloads(struct bench *b, const char *list)
{
    memset(b->wanted, 0, sizeof(b->wanted));
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        unsigned i = 0;

        while (i < WL_COUNT && !opt_is(p, n, workloads[i].name))
            i++;
        if (i == WL_COUNT)
            return -EINVAL;
        b->wanted[i] = true;
        p += n + (p[n] == ',');
    }
    return 0;
}

/* Returns -1 when parsing went fine, else the exit code. */
static int parse_args(struct bench *b, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '='), *v;
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        bool takes = opt_is(a, n, "--seconds") || opt_is(a, n, "--size") || opt_is(a, n, "--dir") ||
                     opt_is(a, n, "--backend") || opt_is(a, n, "--workloads");

        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            bench_store_usage(stdout);
            return BENCH_EXIT_OK;
        }
        if (!strcmp(a, "--json")) {
            b->json = true;
            continue;
        }
        if (!takes)
            return usage_error("unknown option '%s'", a);
        v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!v)
            return usage_error("%s needs a value", a);
        if (opt_is(a, n, "--seconds") && (bench_parse_uint(v, 3600, &b->seconds) || !b->seconds))
            return usage_error("--seconds wants 1 to 3600, not '%s'", v);
        if (opt_is(a, n, "--size") &&
            (bench_parse_size(v, &b->size_bytes) || b->size_bytes < SIZE_MIN_BYTES))
            return usage_error("--size wants a size of at least 64M, not '%s'", v);
        if (opt_is(a, n, "--backend") &&
            (osd_io_backend_parse(v, &b->backend) || b->backend == OSD_IO_SYNC))
            return usage_error("--backend wants uring or aio, not '%s'", v);
        if (opt_is(a, n, "--dir"))
            b->dir_base = v;
        if (opt_is(a, n, "--workloads") && parse_workloads(b, v) < 0)
            return usage_error("--workloads: unknown workload in '%s'", v);
    }
    return -1;
}

int bench_store_main(int argc, char **argv)
{
    static struct bench b;
    int rc;

    b.seconds = 5;
    b.size_bytes = 2ull << 30;
    b.dir_base = "/var/tmp";
    b.backend = OSD_IO_URING;
    for (unsigned i = 0; i < WL_COUNT; i++)
        b.wanted[i] = !workloads[i].on_request;
    rc = parse_args(&b, argc, argv);
    if (rc >= 0)
        return rc;
    if (bench_fio_find(b.fio, sizeof(b.fio)) < 0) {
        fprintf(stderr, "cairn-bench store: fio not found (install fio, or set CAIRN_FIO)\n");
        return BENCH_EXIT_SKIP;
    }
    b.warmup_ms = CAIRN_MIN(WARMUP_MS_MAX, b.seconds * 1000 / 5);
    b.nobj = (unsigned)CAIRN_MIN(OBJ_COUNT_MAX, b.size_bytes / 2 / OBJ_BYTES);
    b.wbuf = malloc(OBJ_BYTES);
    if (!b.wbuf)
        return BENCH_EXIT_FAIL;
    for (size_t i = 0; i < OBJ_BYTES; i++)
        b.wbuf[i] = (uint8_t)(i * 131 + (i >> 12));
    rc = make_dir(&b);
    if (rc == 0)
        rc = run_all(&b);
    if (b.st)
        osd_store_close(b.st);
    if (b.dir[0])
        nftw(b.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(b.wbuf);
    if (rc < 0)
        return BENCH_EXIT_FAIL;
    if (b.json)
        print_json(&b);
    else
        print_table(&b);
    return BENCH_EXIT_OK;
}

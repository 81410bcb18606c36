/* `cairn bench POOL write|read|cleanup`: object throughput and latency
 * through libcairn's async ops. N slots each keep one op in flight; a
 * slot's completion (on libcairn's thread) records the latency and starts
 * its next op until the time is up, while the main thread waits. */
#include "common/clock.h"
#include "common/config.h"
#include "tools/cli/cli.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_PREFIX "bench."

enum bench_mode { BENCH_WRITE, BENCH_READ, BENCH_CLEANUP };

struct bench;

struct bench_slot {
    struct bench *b;
    struct cairn_op *op;
    char oid[32];
    uint64_t start_ns;
    void *buf;  /* read: where the data goes */
    size_t got; /* read: bytes returned */
};

struct bench {
    struct cli_ctx *ctx;
    int32_t pool;
    const char *pool_name;
    enum bench_mode mode;
    uint64_t size;
    unsigned threads, objects;
    double seconds;
    void *data; /* write: the payload every op sends */
    uint64_t end_ns;
    /* Shared with the completions, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned in_flight;
    uint64_t next; /* the next object index */
    uint64_t ops, errors, bytes;
    uint64_t *lat_us;
    size_t n_lat, cap_lat;
    int first_err;
    char first_oid[32];
};

/* ---- options ---- */

/* "4M", "64K", "4096": bytes, 1..CAIRN_OP_DATA_MAX. */
static int parse_size(const char *s, uint64_t *out)
{
    uint64_t v;

    if (!s || cairn_parse_size(s, &v) < 0 || v == 0 || v > CAIRN_OP_DATA_MAX)
        return -EINVAL;
    *out = v;
    return 0;
}

static int bench_opts(struct cli_ctx *ctx, int argc, char **argv, struct bench *b)
{
    long long v;

    b->size = 4u << 20;
    b->threads = 16;
    b->seconds = 10;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(a, "--size") == 0 && parse_size(val, &b->size) == 0)
            i++;
        else if (strcmp(a, "--threads") == 0 && cli_parse_int(val, 1, 1024, &v) == 0)
            b->threads = (unsigned)v, i++;
        else if (strcmp(a, "--objects") == 0 && cli_parse_int(val, 1, 1000000, &v) == 0)
            b->objects = (unsigned)v, i++;
        else if (strcmp(a, "--seconds") == 0 && val && (b->seconds = strtod(val, &end)) > 0 &&
                 !*end && b->seconds <= 86400)
            i++;
        else if (strcmp(a, "--size") == 0 || strcmp(a, "--threads") == 0 ||
                 strcmp(a, "--objects") == 0 || strcmp(a, "--seconds") == 0)
            return cli_usage(ctx, "bad %s '%s'", a, val ? val : "");
        else
            return cli_usage(ctx, "unknown argument '%s'", a);
    }
    if (!b->objects)
        b->objects = b->size >= (1u << 20) ? 16 : 1024;
    return CLI_EXIT_OK;
}

/* ---- running ---- */

static void bench_issue(struct bench_slot *s);

static void lat_add(struct bench *b, uint64_t us)
{
    if (b->n_lat == b->cap_lat) {
        size_t cap = b->cap_lat ? b->cap_lat * 2 : 4096;
        uint64_t *l = realloc(b->lat_us, cap * sizeof(*l));
        if (!l)
            return;
        b->lat_us = l;
        b->cap_lat = cap;
    }
    b->lat_us[b->n_lat++] = us;
}

static void bench_done(int result, struct cairn_op *op, void *arg)
{
    struct bench_slot *s = arg;
    struct bench *b = s->b;
    uint64_t now = cairn_now_ns();

    pthread_mutex_lock(&b->lock);
    if (result == 0) {
        b->ops++;
        b->bytes += b->mode == BENCH_WRITE ? b->size : s->got;
        lat_add(b, (now - s->start_ns) / 1000u);
    } else if (b->errors++ == 0) {
        b->first_err = result;
        snprintf(b->first_oid, sizeof(b->first_oid), "%s", s->oid);
    }
    /* libcairn already retried: an error is definite, and ends the run. */
    bool more = now < b->end_ns && result == 0;
    if (!more)
        b->end_ns = 0; /* every slot stops */
    pthread_mutex_unlock(&b->lock);
    if (more) {
        bench_issue(s);
        return;
    }
    pthread_mutex_lock(&b->lock);
    b->in_flight--;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

/* Starts the slot's next op (its op is built once and re-run). */
static void bench_issue(struct bench_slot *s)
{
    struct bench *b = s->b;

    pthread_mutex_lock(&b->lock);
    uint64_t i = b->next++ % b->objects;
    pthread_mutex_unlock(&b->lock);
    snprintf(s->oid, sizeof(s->oid), BENCH_PREFIX "%llu", (unsigned long long)i);
    s->start_ns = cairn_now_ns();
    int r = cairn_op_exec_async(b->ctx->cairn, b->pool, s->oid, s->op, bench_done, s);
    if (r < 0)
        bench_done(r, s->op, s);
}

static int slots_make(struct bench *b, struct bench_slot *slots)
{
    for (unsigned i = 0; i < b->threads; i++) {
        struct bench_slot *s = &slots[i];
        s->b = b;
        if (!(s->op = cairn_op_create()))
            return -ENOMEM;
        int r;
        if (b->mode == BENCH_WRITE)
            r = cairn_op_write_full(s->op, b->data, b->size);
        else
            r = (s->buf = malloc(b->size)) ? cairn_op_read(s->op, 0, b->size, s->buf, &s->got)
                                           : -ENOMEM;
        if (r < 0)
            return r;
    }
    return 0;
}

static int bench_run(struct bench *b)
{
    struct bench_slot *slots = calloc(b->threads, sizeof(*slots));
    int r = slots ? 0 : -ENOMEM;

    if (r == 0 && b->mode == BENCH_WRITE && !(b->data = malloc(b->size)))
        r = -ENOMEM;
    if (r == 0 && b->mode == BENCH_WRITE)
        for (uint64_t i = 0; i < b->size; i++)
            ((unsigned char *)b->data)[i] = (unsigned char)(i * 131 + 7);
    if (r == 0)
        r = slots_make(b, slots);
    if (r == 0) {
        b->end_ns = cairn_now_ns() + (uint64_t)(b->seconds * 1e9);
        b->in_flight = b->threads;
        for (unsigned i = 0; i < b->threads; i++)
            bench_issue(&slots[i]);
        pthread_mutex_lock(&b->lock);
        while (b->in_flight)
            pthread_cond_wait(&b->cond, &b->lock);
        pthread_mutex_unlock(&b->lock);
    }
    for (unsigned i = 0; slots && i < b->threads; i++) {
        cairn_op_destroy(slots[i].op);
        free(slots[i].buf);
    }
    free(slots);
    free(b->data);
    return r;
}

/* ---- results ---- */

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static uint64_t pct(const struct bench *b, double p)
{
    if (!b->n_lat)
        return 0;
    size_t i = (size_t)(p * (double)(b->n_lat - 1) + 0.5);
    return b->lat_us[i];
}

static void bench_print(struct bench *b, double secs)
{
    double ops_s = secs > 0 ? (double)b->ops / secs : 0;
    double mb_s = secs > 0 ? (double)b->bytes / 1e6 / secs : 0;

    qsort(b->lat_us, b->n_lat, sizeof(*b->lat_us), u64_cmp);
    uint64_t p50 = pct(b, 0.50), p99 = pct(b, 0.99), max = b->n_lat ? b->lat_us[b->n_lat - 1] : 0;
    if (b->ctx->json) {
        struct cli_json j;
        cli_json_init(&j, stdout);
        cli_json_obj_begin(&j, NULL);
        cli_json_uint(&j, "ops", b->ops);
        cli_json_double(&j, "seconds", secs);
        cli_json_double(&j, "ops_per_s", ops_s);
        cli_json_double(&j, "mb_per_s", mb_s);
        cli_json_uint(&j, "lat_p50_us", p50);
        cli_json_uint(&j, "lat_p99_us", p99);
        cli_json_uint(&j, "lat_max_us", max);
        cli_json_uint(&j, "errors", b->errors);
        cli_json_obj_end(&j);
        cli_json_finish(&j);
        return;
    }
    printf("bench %s %s: %llu-byte objects, %u in flight, %.1f s\n",
           b->mode == BENCH_WRITE ? "write" : "read", b->pool_name, (unsigned long long)b->size,
           b->threads, secs);
    printf("ops       %llu\nops/s     %.1f\nMB/s      %.1f\n", (unsigned long long)b->ops, ops_s,
           mb_s);
    printf("lat p50   %llu us\nlat p99   %llu us\nlat max   %llu us\nerrors    %llu\n",
           (unsigned long long)p50, (unsigned long long)p99, (unsigned long long)max,
           (unsigned long long)b->errors);
}

/* ---- cleanup ---- */

struct names {
    char **v;
    size_t n, cap;
};

static int collect_bench(const char *name, void *arg)
{
    struct names *ns = arg;

    if (strncmp(name, BENCH_PREFIX, strlen(BENCH_PREFIX)) != 0)
        return 0;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 64;
        char **v = realloc(ns->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        ns->v = v;
        ns->cap = cap;
    }
    if (!(ns->v[ns->n] = strdup(name)))
        return -ENOMEM;
    ns->n++;
    return 0;
}

static int bench_cleanup(struct bench *b)
{
    struct names ns = {0};
    size_t removed = 0;
    int r = cli_list_all(b->ctx, b->pool, collect_bench, &ns);

    for (size_t i = 0; i < ns.n; i++) {
        int e = r == 0 ? cairn_remove(b->ctx->cairn, b->pool, ns.v[i]) : 0;
        if (e == 0 || e == -ENOENT)
            removed += r == 0;
        else
            r = e;
        free(ns.v[i]);
    }
    free(ns.v);
    if (r < 0)
        return cli_fail_errno(b->ctx, r);
    if (b->ctx->json)
        printf("{\"removed\": %zu}\n", removed);
    else
        printf("removed %zu bench objects from %s\n", removed, b->pool_name);
    return CLI_EXIT_OK;
}

int cli_bench(struct cli_ctx *ctx, int argc, char **argv)
{
    struct bench b = {
        .ctx = ctx, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    int r;

    if (argc < 2)
        return cli_usage(ctx, "missing arguments");
    if (strcmp(argv[1], "write") == 0)
        b.mode = BENCH_WRITE;
    else if (strcmp(argv[1], "read") == 0)
        b.mode = BENCH_READ;
    else if (strcmp(argv[1], "cleanup") == 0)
        b.mode = BENCH_CLEANUP;
    else
        return cli_usage(ctx, "unknown bench mode '%s' (write, read or cleanup)", argv[1]);
    b.pool_name = argv[0];
    if ((r = bench_opts(ctx, argc, argv, &b)) != CLI_EXIT_OK ||
        (r = cli_pool_open(ctx, argv[0], &b.pool)) != CLI_EXIT_OK)
        return r;
    if (b.mode == BENCH_CLEANUP)
        return bench_cleanup(&b);
    uint64_t t0 = cairn_now_ns();
    if ((r = bench_run(&b)) < 0) {
        free(b.lat_us);
        return cli_fail_errno(ctx, r);
    }
    double secs = (double)(cairn_now_ns() - t0) / 1e9;
    if (b.mode == BENCH_READ && b.first_err == -ENOENT)
        r = cli_fail(ctx, "object %s does not exist: run `cairn bench %s write` first", b.first_oid,
                     argv[0]);
    else
        bench_print(&b, secs);
    if (r == 0 && b.errors)
        r = cli_fail_errno(ctx, b.first_err);
    free(b.lat_us);
    return r;
}

/* dp_objects: writes, verifies and lists a large set of objects through
 * libcairn, with several concurrent clients (one struct cairn each), to
 * prove the data path end to end: every object read back is byte-identical
 * to what was written, and a pool listing holds exactly the written names.
 *
 *   dp_objects CONF POOL write|verify|list [--objects N] [--clients C]
 *              [--seed S] [--max-size BYTES]
 *   dp_objects CONF POOL churn --seconds T [--clients C] [--seed S] ...
 *
 * churn writes objects 0, 1, 2, ... and reads each back at once, for T
 * seconds, across whatever the cluster goes through meanwhile (map changes,
 * OSD restarts), starting again at 0 after --objects N (default 10000) so
 * that a fast cluster does not fill its disks: every op must succeed; it
 * prints "churned N objects" so a later verify --objects N checks them all
 * again. *
 * Object I is "dp.S.I"; its size and content are a pure function of (S, I),
 * so verify and list can run in another process (after an OSD restart)
 * without the writer's memory. Sizes: objects 0..5 take the edge sizes 0,
 * 1, 4095, 4096, 4097 and the maximum; the rest are 90% up to 16 KiB, 9% up
 * to 1 MiB and 1% up to the maximum (16 MiB by default).
 * Exit 0 when every object checked out, 1 otherwise (each failure named). */
#include "client/cairn.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CLIENTS 32
#define MAX_REPORTED_ERRORS 20

struct run {
    const char *conf;
    const char *pool_name;
    int32_t pool;
    unsigned objects, clients;
    uint64_t seed, max_size;
    bool writing;          /* write mode, else verify */
    double churn_until;    /* churn mode: the monotonic time it stops, else 0 */
    atomic_uint next;      /* the next object index to handle */
    atomic_uint failures;  /* objects that failed */
    atomic_ulong bytes;    /* bytes written or read */
};

/* splitmix64: the deterministic stream sizes and contents come from. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t object_size(const struct run *r, unsigned i)
{
    static const uint64_t edges[] = {0, 1, 4095, 4096, 4097};
    if (i < 5)
        return edges[i];
    if (i == 5)
        return r->max_size;
    uint64_t h = mix(r->seed * 1000003u + i);
    unsigned cls = (unsigned)(h % 100);
    uint64_t h2 = mix(h);
    if (cls < 90)
        return h2 % (16384 + 1);
    if (cls < 99)
        return 16384 + h2 % ((1u << 20) - 16384 + 1);
    return (1u << 20) + h2 % (r->max_size - (1u << 20) + 1);
}

static void object_fill(const struct run *r, unsigned i, uint8_t *buf, uint64_t size)
{
    uint64_t s = mix(r->seed ^ ((uint64_t)i << 32));
    for (uint64_t off = 0; off < size; off += 8) {
        uint64_t v = mix(s + off);
        size_t n = size - off < 8 ? (size_t)(size - off) : 8;
        memcpy(buf + off, &v, n);
    }
}

static void object_name(const struct run *r, unsigned i, char *buf, size_t len)
{
    snprintf(buf, len, "dp.%" PRIu64 ".%u", r->seed, i);
}

static void report(struct run *r, const char *what, unsigned i, const char *fmt, int err)
{
    unsigned n = atomic_fetch_add(&r->failures, 1);
    if (n < MAX_REPORTED_ERRORS)
        fprintf(stderr, "dp_objects: %s object %u: %s%s%s\n", what, i, fmt,
                err ? ": " : "", err ? strerror(-err) : "");
}

static int write_one(struct run *r, struct cairn *c, unsigned i, uint8_t *buf)
{
    char name[64];
    uint64_t size = object_size(r, i);
    object_name(r, i, name, sizeof(name));
    object_fill(r, i, buf, size);
    int e = cairn_write_full(c, r->pool, name, buf, size);
    if (e < 0)
        report(r, "writing", i, "write_full failed", e);
    else
        atomic_fetch_add(&r->bytes, size);
    return e;
}

static int verify_one(struct run *r, struct cairn *c, unsigned i, uint8_t *want, uint8_t *got)
{
    char name[64];
    uint64_t size = object_size(r, i);
    struct cairn_stat st;
    size_t n = 0;

    object_name(r, i, name, sizeof(name));
    int e = cairn_stat(c, r->pool, name, &st);
    if (e < 0) {
        report(r, "verifying", i, "stat failed", e);
        return e;
    }
    if (st.size != size) {
        report(r, "verifying", i, "wrong size", 0);
        return -EIO;
    }
    /* One byte more than expected: an object that grew would show it. */
    e = cairn_read(c, r->pool, name, 0, (size_t)size + 1, got, &n);
    if (e < 0) {
        report(r, "verifying", i, "read failed", e);
        return e;
    }
    object_fill(r, i, want, size);
    if (n != size || memcmp(want, got, size) != 0) {
        report(r, "verifying", i, "content differs from what was written", 0);
        return -EIO;
    }
    atomic_fetch_add(&r->bytes, size);
    return 0;
}

static double now_s(void);

/* One client's share: the next object index until none is left (write,
 * verify) or the time is up (churn). */
static void client_loop(struct run *r, struct cairn *c, uint8_t *a, uint8_t *b)
{
    for (;;) {
        if (r->churn_until > 0 && now_s() >= r->churn_until)
            break;
        unsigned i = atomic_fetch_add(&r->next, 1);
        if (r->churn_until == 0 && i >= r->objects)
            break;
        /* Churn comes round again after --objects: the same names with the
         * same contents, so the space it takes is bounded whatever the
         * cluster's speed. */
        if (r->churn_until > 0)
            i %= r->objects;
        if (r->writing || r->churn_until > 0)
            if (write_one(r, c, i, a) < 0)
                continue;
        if (!r->writing)
            verify_one(r, c, i, a, b);
    }
}

static void *client_main(void *arg)
{
    struct run *r = arg;
    struct cairn *c;
    int e = cairn_connect(r->conf, NULL, &c);
    if (e < 0) {
        fprintf(stderr, "dp_objects: connect: %s\n", strerror(-e));
        atomic_fetch_add(&r->failures, 1);
        return NULL;
    }
    uint8_t *a = malloc(r->max_size + 1), *b = malloc(r->max_size + 1);
    if (!a || !b) {
        atomic_fetch_add(&r->failures, 1);
    } else {
        client_loop(r, c, a, b);
    }
    free(a);
    free(b);
    cairn_shutdown(c);
    return NULL;
}

struct listing {
    struct run *r;
    uint8_t *seen; /* one flag per object index */
    unsigned names, strangers, duplicates;
};

static int list_one(const char *name, void *arg)
{
    struct listing *l = arg;
    char prefix[40];
    int plen = snprintf(prefix, sizeof(prefix), "dp.%" PRIu64 ".", l->r->seed);
    l->names++;
    if (strncmp(name, prefix, (size_t)plen) != 0)
        return 0; /* another test's object */
    char *end;
    unsigned long i = strtoul(name + plen, &end, 10);
    if (*end || i >= l->r->objects) {
        l->strangers++;
        return 0;
    }
    if (l->seen[i]++)
        l->duplicates++;
    return 0;
}

static int run_list(struct run *r)
{
    struct cairn *c;
    struct cairn_list_cursor cur;
    struct listing l = {.r = r, .seen = calloc(r->objects, 1)};
    int e = cairn_connect(r->conf, NULL, &c);

    if (e < 0 || !l.seen) {
        fprintf(stderr, "dp_objects: connect: %s\n", strerror(e < 0 ? -e : ENOMEM));
        free(l.seen);
        return 1;
    }
    memset(&cur, 0, sizeof(cur));
    unsigned pages = 0;
    while (!cur.done && e == 0) {
        e = cairn_list(c, r->pool, &cur, 97, list_one, &l); /* odd page size: cursors matter */
        pages++;
    }
    cairn_shutdown(c);
    unsigned missing = 0;
    for (unsigned i = 0; i < r->objects; i++)
        missing += !l.seen[i];
    free(l.seen);
    printf("listed %u names in %u pages: %u missing, %u duplicates, %u unexpected\n", l.names,
           pages, missing, l.duplicates, l.strangers);
    if (e < 0)
        fprintf(stderr, "dp_objects: list: %s\n", strerror(-e));
    return e < 0 || missing || l.duplicates || l.strangers ? 1 : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: dp_objects CONF POOL write|verify|list [--objects N] [--clients C]\n"
                    "                  [--seed S] [--max-size BYTES]\n"
                    "       dp_objects CONF POOL churn --seconds T [--clients C] [--seed S]\n");
    return 2;
}

static int parse(int argc, char **argv, struct run *r, const char **mode)
{
    static const struct option opts[] = {
        {"objects", required_argument, NULL, 'n'}, {"clients", required_argument, NULL, 'c'},
        {"seed", required_argument, NULL, 's'},    {"max-size", required_argument, NULL, 'm'},
        {"seconds", required_argument, NULL, 't'}, {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        unsigned long long v = strtoull(optarg, NULL, 0);
        switch (o) {
        case 'n': r->objects = (unsigned)v; break;
        case 'c': r->clients = (unsigned)v; break;
        case 's': r->seed = v; break;
        case 'm': r->max_size = v; break;
        case 't': r->churn_until = (double)v; break; /* made absolute in main */
        default: return -1;
        }
    }
    if (argc - optind != 3 || r->clients == 0 || r->clients > MAX_CLIENTS || r->objects < 6 ||
        r->max_size < (1u << 20))
        return -1;
    r->conf = argv[optind];
    r->pool_name = argv[optind + 1];
    *mode = argv[optind + 2];
    return 0;
}

int main(int argc, char **argv)
{
    struct run r = {.objects = 10000, .clients = 8, .seed = 1, .max_size = 16u << 20};
    const char *mode;
    pthread_t th[MAX_CLIENTS];
    struct cairn *c;

    if (parse(argc, argv, &r, &mode) < 0)
        return usage();
    int e = cairn_connect(r.conf, NULL, &c);
    if (e == 0) {
        e = cairn_pool_lookup(c, r.pool_name, &r.pool);
        cairn_shutdown(c);
    }
    if (e < 0) {
        fprintf(stderr, "dp_objects: pool %s: %s\n", r.pool_name, strerror(-e));
        return 1;
    }
    if (strcmp(mode, "list") == 0)
        return run_list(&r);
    r.writing = strcmp(mode, "write") == 0;
    bool churn = strcmp(mode, "churn") == 0;
    if (churn != (r.churn_until > 0) || (!r.writing && !churn && strcmp(mode, "verify") != 0))
        return usage();

    double t0 = now_s();
    if (churn)
        r.churn_until += t0;
    for (unsigned i = 0; i < r.clients; i++)
        if (pthread_create(&th[i], NULL, client_main, &r) != 0) {
            fprintf(stderr, "dp_objects: cannot start client thread\n");
            return 1;
        }
    for (unsigned i = 0; i < r.clients; i++)
        pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    unsigned failures = atomic_load(&r.failures);
    if (churn) {
        unsigned handed = atomic_load(&r.next); /* every index handed out was attempted */
        if (handed < r.objects)
            r.objects = handed;
        printf("churned %u objects\n", r.objects);
    }
    printf("%s: %u objects, %.1f MiB by %u clients in %.1f s (%.0f objects/s): %u failed\n", mode,
           r.objects, (double)atomic_load(&r.bytes) / (1 << 20), r.clients, dt,
           r.objects / (dt > 0 ? dt : 1), failures);
    return failures ? 1 : 0;
}

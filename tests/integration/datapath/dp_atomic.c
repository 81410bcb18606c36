/* dp_atomic: the OSD's atomic primitives under contention from several
 * clients at once (one struct cairn per thread), against a real cluster.
 * Each scenario states the invariant it proves:
 *
 *   counter    8 clients add 1 to one counter, TOTAL times in all: it ends
 *              at exactly TOTAL and every client saw distinct values
 *   excl       per round, 8 clients create one object exclusively: exactly
 *              one wins, the rest get -EEXIST
 *   omap_cas   8 clients append their ids to one omap value by
 *              compare-and-set loops: every append is there exactly once
 *   version    8 clients increment a number kept in an object's data by
 *              read + write guarded by the object's version: no lost update
 *   max        8 clients set_if_greater random values: the result is the
 *              maximum of all, and each call's result is >= its candidate
 *   lock       per round, 8 clients take an xattr "lock" with cmpxattr
 *              (absent) + setxattr: exactly one holds it
 *
 *   dp_atomic CONF POOL [--total N] [--clients C] [--prefix P]
 * Exit 0 when every invariant held, 1 otherwise. */
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

#define MAX_CLIENTS 32
#define ROUNDS 50
#define APPENDS_PER_CLIENT 40
#define MAX_ID_DIGITS 8

struct run {
    const char *conf, *pool_name, *prefix;
    int32_t pool;
    unsigned clients, total;
    struct cairn *conn[MAX_CLIENTS];
    atomic_uint errors;
    /* counter */
    uint8_t *seen;          /* one flag per counter value 1..total */
    atomic_uint dup_values;
    /* excl and lock: winners per round */
    atomic_uint winners[ROUNDS];
    /* max */
    atomic_ullong max_candidate;
};

struct worker {
    struct run *r;
    unsigned id;
    void (*fn)(struct run *r, struct cairn *c, unsigned id);
};

#define FAIL(r, ...)                                                                             \
    do {                                                                                         \
        fprintf(stderr, "dp_atomic: " __VA_ARGS__);                                              \
        fputc('\n', stderr);                                                                     \
        atomic_fetch_add(&(r)->errors, 1);                                                       \
    } while (0)

static void oid(const struct run *r, char *buf, size_t len, const char *what, unsigned round)
{
    snprintf(buf, len, "%s.%s.%u", r->prefix, what, round);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->fn(w->r, w->r->conn[w->id], w->id);
    return NULL;
}

/* Runs @fn on every client at once and waits for all. */
static void run_all(struct run *r, void (*fn)(struct run *, struct cairn *, unsigned))
{
    pthread_t th[MAX_CLIENTS];
    struct worker w[MAX_CLIENTS];
    for (unsigned i = 0; i < r->clients; i++) {
        w[i] = (struct worker){.r = r, .id = i, .fn = fn};
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0) {
            FAIL(r, "cannot start a thread");
            r->clients = i;
        }
    }
    for (unsigned i = 0; i < r->clients; i++)
        pthread_join(th[i], NULL);
}

/* ---- counter ---- */

static void counter_worker(struct run *r, struct cairn *c, unsigned id)
{
    char name[128];
    unsigned share = r->total / r->clients + (id < r->total % r->clients);
    oid(r, name, sizeof(name), "counter", 0);
    for (unsigned k = 0; k < share; k++) {
        struct cairn_op *op = cairn_op_create();
        int64_t v = -1;
        int e = op ? cairn_op_counter_add(op, "n", 1, &v) : -ENOMEM;
        if (e == 0)
            e = cairn_op_exec(c, r->pool, name, op);
        cairn_op_destroy(op);
        if (e < 0) {
            FAIL(r, "counter add: %s", strerror(-e));
            return;
        }
        if (v < 1 || v > (int64_t)r->total)
            FAIL(r, "counter add returned %" PRId64 ", outside 1..%u", v, r->total);
        else if (__atomic_exchange_n(&r->seen[v - 1], 1, __ATOMIC_RELAXED))
            atomic_fetch_add(&r->dup_values, 1);
    }
}

static void check_counter(struct run *r)
{
    char name[128];
    uint8_t buf[8];
    size_t len = 0;
    oid(r, name, sizeof(name), "counter", 0);
    struct cairn_op *op = cairn_op_create();
    int e = cairn_op_getxattr(op, "n", buf, sizeof(buf), &len);
    if (e == 0)
        e = cairn_op_exec(r->conn[0], r->pool, name, op);
    cairn_op_destroy(op);
    int64_t v = 0;
    if (e == 0 && len == 8)
        memcpy(&v, buf, 8); /* little endian on every machine we run on */
    unsigned missing = 0;
    for (unsigned i = 0; i < r->total; i++)
        missing += !r->seen[i];
    printf("counter: %" PRId64 " after %u adds (%u values seen twice, %u never)\n", v, r->total,
           atomic_load(&r->dup_values), missing);
    if (e < 0 || len != 8 || v != (int64_t)r->total || missing || atomic_load(&r->dup_values))
        FAIL(r, "counter invariant broken (read: %s)", e < 0 ? strerror(-e) : "ok");
}

/* ---- create exclusive ---- */

static void excl_worker(struct run *r, struct cairn *c, unsigned id)
{
    (void)id;
    for (unsigned round = 0; round < ROUNDS; round++) {
        char name[128];
        oid(r, name, sizeof(name), "excl", round);
        struct cairn_op *op = cairn_op_create();
        int e = cairn_op_create_object(op, true);
        if (e == 0)
            e = cairn_op_exec(c, r->pool, name, op);
        cairn_op_destroy(op);
        if (e == 0)
            atomic_fetch_add(&r->winners[round], 1);
        else if (e != -EEXIST)
            FAIL(r, "create exclusive: %s", strerror(-e));
    }
}

static void check_winners(struct run *r, const char *what)
{
    unsigned bad = 0;
    for (unsigned round = 0; round < ROUNDS; round++) {
        if (atomic_load(&r->winners[round]) != 1)
            bad++;
        atomic_store(&r->winners[round], 0);
    }
    printf("%s: %u rounds, %u without exactly one winner\n", what, ROUNDS, bad);
    if (bad)
        FAIL(r, "%s invariant broken", what);
}

/* ---- omap compare-and-set ---- */

/* Reads the list value: 0 with *len (0 and *exists false when absent). */
static int omap_read(struct run *r, struct cairn *c, const char *name, char *buf, size_t cap,
                     size_t *len, bool *exists)
{
    struct cairn_op *op = cairn_op_create();
    int e = cairn_op_omap_get(op, "list", 4, buf, cap, len);
    if (e == 0)
        e = cairn_op_exec(c, r->pool, name, op);
    cairn_op_destroy(op);
    *exists = e == 0;
    if (e == -ENOENT || e == -ENODATA) {
        *len = 0;
        return 0;
    }
    return e;
}

static void cas_worker(struct run *r, struct cairn *c, unsigned id)
{
    char name[128];
    size_t cap = (size_t)r->clients * APPENDS_PER_CLIENT * (MAX_ID_DIGITS + 1) + 1;
    char *cur = malloc(cap), *next = malloc(cap);
    oid(r, name, sizeof(name), "cas", 0);
    for (unsigned k = 0; k < APPENDS_PER_CLIENT && cur && next; k++) {
        for (unsigned attempt = 0;; attempt++) {
            size_t len = 0;
            bool exists;
            int e = omap_read(r, c, name, cur, cap, &len, &exists);
            if (e < 0) {
                FAIL(r, "omap get: %s", strerror(-e));
                goto out;
            }
            memcpy(next, cur, len);
            int n = snprintf(next + len, cap - len, "%u ", id * 1000 + k);
            struct cairn_op *op = cairn_op_create();
            e = cairn_op_omap_cas(op, "list", 4, exists ? cur : NULL, len, next, len + (size_t)n);
            if (e == 0)
                e = cairn_op_exec(c, r->pool, name, op);
            cairn_op_destroy(op);
            if (e == 0)
                break;
            if (e != -ECANCELED || attempt > 10000) {
                FAIL(r, "omap cas: %s after %u attempts", strerror(-e), attempt);
                goto out;
            }
        }
    }
out:
    free(cur);
    free(next);
}

static void check_cas(struct run *r)
{
    char name[128];
    size_t cap = (size_t)r->clients * APPENDS_PER_CLIENT * (MAX_ID_DIGITS + 1) + 1, len = 0;
    char *buf = calloc(1, cap + 1);
    bool exists;
    unsigned count = 0, bad = 0;
    oid(r, name, sizeof(name), "cas", 0);
    int e = buf ? omap_read(r, r->conn[0], name, buf, cap, &len, &exists) : -ENOMEM;
    uint8_t *seen = calloc(r->clients * 1000u, 1);
    if (e == 0 && seen) {
        buf[len] = '\0';
        for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
            unsigned long v = strtoul(tok, NULL, 10);
            count++;
            if (v >= r->clients * 1000u || v % 1000 >= APPENDS_PER_CLIENT || seen[v]++)
                bad++;
        }
    }
    printf("omap_cas: %u appends found of %u, %u bad or repeated\n", count,
           r->clients * APPENDS_PER_CLIENT, bad);
    if (e < 0 || !seen || bad || count != r->clients * APPENDS_PER_CLIENT)
        FAIL(r, "omap cas invariant broken");
    free(seen);
    free(buf);
}

/* ---- version-guarded read-modify-write ---- */

static void version_worker(struct run *r, struct cairn *c, unsigned id)
{
    char name[128];
    (void)id;
    oid(r, name, sizeof(name), "version", 0);
    for (unsigned k = 0; k < ROUNDS; k++) {
        for (unsigned attempt = 0;; attempt++) {
            char buf[32] = "";
            size_t n = 0;
            struct cairn_stat st = {0};
            struct cairn_op *op = cairn_op_create();
            int e = cairn_op_stat(op, &st);
            if (e == 0)
                e = cairn_op_read(op, 0, sizeof(buf) - 1, buf, &n);
            if (e == 0)
                e = cairn_op_exec(c, r->pool, name, op);
            cairn_op_destroy(op);
            if (e == -ENOENT) {
                st.version = 0;
                n = 0;
            } else if (e < 0) {
                FAIL(r, "version read: %s", strerror(-e));
                return;
            }
            buf[n] = '\0';
            char next[32];
            int len = snprintf(next, sizeof(next), "%lu", strtoul(buf, NULL, 10) + 1);
            op = cairn_op_create();
            e = cairn_op_assert_version(op, st.version);
            if (e == 0)
                e = cairn_op_write_full(op, next, (size_t)len);
            if (e == 0)
                e = cairn_op_exec(c, r->pool, name, op);
            cairn_op_destroy(op);
            if (e == 0)
                break;
            if (e != -ECANCELED || attempt > 10000) {
                FAIL(r, "version write: %s after %u attempts", strerror(-e), attempt);
                return;
            }
        }
    }
}

static void check_version(struct run *r)
{
    char name[128], buf[32] = "";
    size_t n = 0;
    oid(r, name, sizeof(name), "version", 0);
    int e = cairn_read(r->conn[0], r->pool, name, 0, sizeof(buf) - 1, buf, &n);
    unsigned long v = e == 0 ? strtoul(buf, NULL, 10) : 0;
    printf("version: %lu after %u guarded increments\n", v, r->clients * ROUNDS);
    if (e < 0 || v != r->clients * ROUNDS)
        FAIL(r, "version invariant broken");
}

/* ---- set-if-greater ---- */

static void max_worker(struct run *r, struct cairn *c, unsigned id)
{
    char name[128];
    uint64_t x = 0x9e3779b97f4a7c15ull * (id + 1);
    oid(r, name, sizeof(name), "max", 0);
    for (unsigned k = 0; k < ROUNDS; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t cand = x >> 1, result = 0;
        unsigned long long prev = atomic_load(&r->max_candidate);
        while (cand > prev && !atomic_compare_exchange_weak(&r->max_candidate, &prev, cand))
            ;
        struct cairn_op *op = cairn_op_create();
        int e = cairn_op_set_if_greater(op, "m", cand, &result);
        if (e == 0)
            e = cairn_op_exec(c, r->pool, name, op);
        cairn_op_destroy(op);
        if (e < 0)
            FAIL(r, "set_if_greater: %s", strerror(-e));
        else if (result < cand)
            FAIL(r, "set_if_greater returned %" PRIu64 " below its candidate %" PRIu64, result,
                 cand);
    }
}

static void check_max(struct run *r)
{
    char name[128];
    uint8_t buf[8];
    size_t len = 0;
    uint64_t v = 0;
    oid(r, name, sizeof(name), "max", 0);
    struct cairn_op *op = cairn_op_create();
    int e = cairn_op_getxattr(op, "m", buf, sizeof(buf), &len);
    if (e == 0)
        e = cairn_op_exec(r->conn[0], r->pool, name, op);
    cairn_op_destroy(op);
    if (e == 0 && len == 8)
        memcpy(&v, buf, 8);
    printf("max: %" PRIu64 ", largest candidate %llu\n", v, atomic_load(&r->max_candidate));
    if (e < 0 || v != atomic_load(&r->max_candidate))
        FAIL(r, "set_if_greater invariant broken");
}

/* ---- xattr lock ---- */

static void lock_worker(struct run *r, struct cairn *c, unsigned id)
{
    char owner[16];
    int n = snprintf(owner, sizeof(owner), "%u", id);
    for (unsigned round = 0; round < ROUNDS; round++) {
        char name[128];
        oid(r, name, sizeof(name), "lock", round);
        struct cairn_op *op = cairn_op_create();
        int e = cairn_op_cmpxattr(op, "owner", NULL, 0);
        if (e == 0)
            e = cairn_op_setxattr(op, "owner", owner, (size_t)n);
        if (e == 0)
            e = cairn_op_exec(c, r->pool, name, op);
        cairn_op_destroy(op);
        if (e == 0)
            atomic_fetch_add(&r->winners[round], 1);
        else if (e != -ECANCELED)
            FAIL(r, "lock: %s", strerror(-e));
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: dp_atomic CONF POOL [--total N] [--clients C] [--prefix P]\n");
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"total", required_argument, NULL, 't'},
        {"clients", required_argument, NULL, 'c'},
        {"prefix", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    struct run r = {.clients = 8, .total = 10000, .prefix = "atomic"};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 't')
            r.total = (unsigned)strtoul(optarg, NULL, 10);
        else if (o == 'c')
            r.clients = (unsigned)strtoul(optarg, NULL, 10);
        else if (o == 'p')
            r.prefix = optarg;
        else
            return usage();
    }
    if (argc - optind != 2 || r.clients < 2 || r.clients > MAX_CLIENTS || r.total == 0)
        return usage();
    r.conf = argv[optind];
    r.pool_name = argv[optind + 1];
    r.seen = calloc(r.total, 1);
    for (unsigned i = 0; i < r.clients; i++) {
        int e = cairn_connect(r.conf, NULL, &r.conn[i]);
        if (e == 0 && i == 0)
            e = cairn_pool_lookup(r.conn[0], r.pool_name, &r.pool);
        if (e < 0) {
            fprintf(stderr, "dp_atomic: connect/pool: %s\n", strerror(-e));
            return 1;
        }
    }

    run_all(&r, counter_worker);
    check_counter(&r);
    run_all(&r, excl_worker);
    check_winners(&r, "excl");
    run_all(&r, cas_worker);
    check_cas(&r);
    run_all(&r, version_worker);
    check_version(&r);
    run_all(&r, max_worker);
    check_max(&r);
    run_all(&r, lock_worker);
    check_winners(&r, "lock");

    for (unsigned i = 0; i < r.clients; i++)
        cairn_shutdown(r.conn[i]);
    free(r.seen);
    unsigned errors = atomic_load(&r.errors);
    printf("%s\n", errors ? "FAILED" : "all invariants held");
    return errors ? 1 : 0;
}

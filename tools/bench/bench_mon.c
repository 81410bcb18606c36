/* `cairn-bench mon`: how fast the monitors commit map changes, against a
 * running cluster (-c CONF): the latency of one change at a time (p50/p99
 * over --changes N) and the changes per second with --concurrency P
 * proposers (threads issuing synchronous commands through --connections
 * libcairn connections). Each change is `pool set POOL size 2|3` on a pool
 * of its own, created at the start and removed at the end, so every change
 * bumps the map epoch and is replicated through Raft. Called by main.c. */
#include "client/cairn_admin.h"
#include "common/clock.h"
#include "common/log.h"
#include "tools/bench/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL "cairn-bench-mon"
#define CONN_MAX 16u
#define PROPOSERS_MAX 256u

struct bench_mon {
    /* Options. */
    const char *conf;
    const char *name;
    unsigned changes;     /* sequential changes measured */
    unsigned concurrency; /* proposers in the throughput phase */
    unsigned connections; /* libcairn connections they share */
    unsigned seconds;     /* length of the throughput phase */
    bool json;
    /* State. */
    struct cairn *conns[CONN_MAX];
    double p50_ms, p99_ms;
    double per_sec;
    uint32_t n_mons;
};

struct proposer {
    struct bench_mon *b;
    struct cairn *conn;
    uint64_t until_ns;
    unsigned done;
    int err; /* the first failure, 0 if none */
};

int bench_mon_main(int argc, char **argv);
void bench_mon_usage(FILE *out);

/* One change: size alternates between 2 and 3 (min_size is 1). */
static int change(struct cairn *c, unsigned i, struct proto_mon_reply *reply)
{
    struct proto_mon_cmd cmd;

    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_SET);
    snprintf(cmd.name, sizeof(cmd.name), "%s", POOL);
    snprintf(cmd.key, sizeof(cmd.key), "size");
    snprintf(cmd.value, sizeof(cmd.value), "%u", 2 + (i & 1));
    return cairn_mon_command(c, &cmd, reply);
}

static int setup_pool(struct bench_mon *b, struct proto_mon_reply *reply)
{
    struct proto_mon_cmd cmd;
    int r;

    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_CREATE);
    snprintf(cmd.name, sizeof(cmd.name), "%s", POOL);
    cmd.size = 2;
    cmd.min_size = 1;
    cmd.pg_num = 1;
    r = cairn_mon_command(b->conns[0], &cmd, reply);
    if (r < 0 && r != -EEXIST) {
        fprintf(stderr, "cairn-bench: mon: creating pool %s: %s\n", POOL, reply->message);
        return r;
    }
    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_SET);
    snprintf(cmd.name, sizeof(cmd.name), "%s", POOL);
    snprintf(cmd.key, sizeof(cmd.key), "min_size");
    snprintf(cmd.value, sizeof(cmd.value), "1");
    if ((r = cairn_mon_command(b->conns[0], &cmd, reply)) < 0)
        fprintf(stderr, "cairn-bench: mon: pool set %s min_size 1: %s\n", POOL, reply->message);
    return r;
}

static void remove_pool(struct bench_mon *b, struct proto_mon_reply *reply)
{
    struct proto_mon_cmd cmd;

    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_RM);
    snprintf(cmd.name, sizeof(cmd.name), "%s", POOL);
    if (cairn_mon_command(b->conns[0], &cmd, reply) < 0)
        fprintf(stderr, "cairn-bench: mon: removing pool %s: %s\n", POOL, reply->message);
}

static int run_latency(struct bench_mon *b, struct proto_mon_reply *reply)
{
    double *ms = calloc(b->changes, sizeof(*ms));
    int r = 0;

    if (!ms)
        return -ENOMEM;
    for (unsigned i = 0; i < b->changes && r == 0; i++) {
        uint64_t t0 = cairn_now_ns();
        if ((r = change(b->conns[0], i, reply)) < 0)
            fprintf(stderr, "cairn-bench: mon: change %u: %s\n", i, reply->message);
        ms[i] = (double)(cairn_now_ns() - t0) / 1e6;
    }
    if (r == 0) {
        bench_sort(ms, b->changes);
        b->p50_ms = bench_percentile(ms, b->changes, 0.50);
        b->p99_ms = bench_percentile(ms, b->changes, 0.99);
    }
    free(ms);
    return r;
}

static void *proposer_main(void *arg)
{
    struct proposer *p = arg;
    struct proto_mon_reply *reply = malloc(sizeof(*reply));

    if (!reply) {
        p->err = -ENOMEM;
        return NULL;
    }
    while (cairn_now_ns() < p->until_ns) {
        int r = change(p->conn, p->done, reply);
        if (r < 0) {
            p->err = r;
            fprintf(stderr, "cairn-bench: mon: proposer: %s\n", reply->message);
            break;
        }
        p->done++;
    }
    free(reply);
    return NULL;
}

static int run_throughput(struct bench_mon *b)
{
    struct proposer *ps = calloc(b->concurrency, sizeof(*ps));
    pthread_t *ts = calloc(b->concurrency, sizeof(*ts));
    uint64_t start = cairn_now_ns(), total = 0;
    unsigned started = 0;
    int r = 0;

    if (!ps || !ts) {
        free(ps);
        free(ts);
        return -ENOMEM;
    }
    for (; started < b->concurrency; started++) {
        struct proposer *p = &ps[started];
        *p = (struct proposer){b, b->conns[started % b->connections],
                               start + (uint64_t)b->seconds * 1000000000u, 0, 0};
        if (pthread_create(&ts[started], NULL, proposer_main, p) != 0) {
            r = -EAGAIN;
            break;
        }
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ts[i], NULL);
        total += ps[i].done;
        if (ps[i].err && !r)
            r = ps[i].err;
    }
    b->per_sec = (double)total / ((double)(cairn_now_ns() - start) / 1e9);
    free(ps);
    free(ts);
    return r;
}

static void print_result(const struct bench_mon *b)
{
    if (b->json) {
        printf("{\"commit_latency_ms\": {\"p50\": %.3f, \"p99\": %.3f}, "
               "\"changes_per_sec_%u\": %.1f, \"changes\": %u, \"concurrency\": %u, "
               "\"connections\": %u, \"seconds\": %u, \"monitors\": %u}\n",
               b->p50_ms, b->p99_ms, b->concurrency, b->per_sec, b->changes, b->concurrency,
               b->connections, b->seconds, b->n_mons);
        return;
    }
    printf("cairn-bench mon: %u monitor(s); each change is `pool set %s size 2|3`\n", b->n_mons,
           POOL);
    printf("%-44s %10s %10s\n", "measure", "value", "unit");
    printf("%-44s %10.3f %10s\n", "commit latency p50 (one at a time)", b->p50_ms, "ms");
    printf("%-44s %10.3f %10s\n", "commit latency p99 (one at a time)", b->p99_ms, "ms");
    printf("changes/s, %3u proposers over %2u connection(s)   %10.1f %10s\n", b->concurrency,
           b->connections, b->per_sec, "changes/s");
}

static int connect_all(struct bench_mon *b)
{
    char err[512] = "";
    struct proto_map *map = NULL;
    struct cairn_connect_opts o = {
        .conf_path = b->conf, .entity = b->name, .err = err, .err_len = sizeof(err)};

    for (unsigned i = 0; i < b->connections; i++) {
        int r = cairn_connect_opts(&o, &b->conns[i]);
        if (r < 0) {
            fprintf(stderr, "cairn-bench: mon: %s\n", err[0] ? err : strerror(-r));
            return r;
        }
    }
    if (cairn_map_get(b->conns[0], &map) == 0)
        b->n_mons = map->n_mons;
    proto_map_destroy(map);
    return 0;
}

static int run(struct bench_mon *b)
{
    struct proto_mon_reply *reply = malloc(sizeof(*reply));
    int r;

    if (!reply)
        return BENCH_EXIT_FAIL;
    if ((r = connect_all(b)) == 0 && (r = setup_pool(b, reply)) == 0) {
        if ((r = run_latency(b, reply)) == 0)
            r = run_throughput(b);
        remove_pool(b, reply);
    }
    if (r == 0)
        print_result(b);
    for (unsigned i = 0; i < b->connections; i++)
        cairn_shutdown(b->conns[i]);
    free(reply);
    return r == 0 ? BENCH_EXIT_OK : BENCH_EXIT_FAIL;
}

void bench_mon_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn-bench mon [-c CONF] [--name ENTITY] [--changes N]\n"
            "                       [--concurrency P] [--connections K] [--seconds S] [--json]\n"
            "Measures map-change commits on a running cluster (e.g. deploy/cluster up).\n"
            "  -c, --conf CONF   config file (else $CAIRN_CONF, ./cairn.conf, /etc/cairn/...)\n"
            "  --name ENTITY     who we are (default client.admin)\n"
            "  --changes N       changes timed one at a time (default 200)\n"
            "  --concurrency P   proposers in the throughput phase (default 16)\n"
            "  --connections K   libcairn connections they share (default 1, max %u)\n"
            "  --seconds S       length of the throughput phase (default 5)\n"
            "  --json            {\"commit_latency_ms\": {\"p50\", \"p99\"},\n"
            "                     \"changes_per_sec_P\": ..., ...}\n",
            CONN_MAX);
}

static int parse_args(struct bench_mon *b, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (!strcmp(a, "--json")) {
            b->json = true;
            continue;
        }
        if (!v)
            return -EINVAL;
        if (!strcmp(a, "-c") || !strcmp(a, "--conf"))
            b->conf = v;
        else if (!strcmp(a, "--name"))
            b->name = v;
        else if (!strcmp(a, "--changes"))
            r = bench_parse_uint(v, 1000000, &b->changes);
        else if (!strcmp(a, "--concurrency"))
            r = bench_parse_uint(v, PROPOSERS_MAX, &b->concurrency);
        else if (!strcmp(a, "--connections"))
            r = bench_parse_uint(v, CONN_MAX, &b->connections);
        else if (!strcmp(a, "--seconds"))
            r = bench_parse_uint(v, 3600, &b->seconds);
        else
            return -EINVAL;
        if (r < 0)
            return r;
        i++;
    }
    if (!b->changes || !b->concurrency || !b->connections || !b->seconds)
        return -EINVAL;
    return 0;
}

int bench_mon_main(int argc, char **argv)
{
    struct bench_mon b = {.changes = 200, .concurrency = 16, .connections = 1, .seconds = 5};

    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            bench_mon_usage(stdout);
            return BENCH_EXIT_OK;
        }
    if (parse_args(&b, argc, argv) < 0) {
        fprintf(stderr, "cairn-bench mon: bad arguments\n");
        bench_mon_usage(stderr);
        return BENCH_EXIT_USAGE;
    }
    cairn_log_set_level(CAIRN_LOG_WARN); /* no connection chatter in the report */
    return run(&b);
}

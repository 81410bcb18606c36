/* `cairn pg scrub | deep-scrub PGID... | --pool NAME`: asks each PG's
 * primary to scrub it (cairn_pg_scrub), one PG after another, retrying a
 * busy PG every second until the timeout, and prints one line per PG, or a
 * JSON array with --json (docs/cli.md). Exit 1 when a PG failed or kept
 * inconsistencies that were not repaired. */
#include "common/clock.h"
#include "tools/cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCRUB_TIMEOUT_MS 600000u /* without --timeout: scrubs of big PGs take long */
#define BUSY_RETRY_MS 1000u

struct scrub_pg {
    int32_t pool;
    uint32_t ps;
};

/* One PG's outcome. */
struct scrub_out {
    int err;                       /* 0 or the -errno of the last attempt */
    char why[512];                 /* the reason when err < 0 */
    struct cairn_scrub_result res; /* when err == 0 */
};

/* What the command was asked to scrub: explicit PGIDs or one pool's PGs. */
struct scrub_args {
    const char *pool;     /* --pool NAME, or NULL */
    struct scrub_pg *pgs; /* the PGIDs given (malloc'd) */
    size_t n;
};

static int scrub_args_parse(struct cli_ctx *ctx, int argc, char **argv, struct scrub_args *a)
{
    memset(a, 0, sizeof(*a));
    if (argc > 0 && !(a->pgs = calloc((size_t)argc, sizeof(*a->pgs))))
        return cli_fail(ctx, "%s", strerror(ENOMEM));
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc)
            a->pool = argv[++i];
        else if (strncmp(argv[i], "--pool=", 7) == 0)
            a->pool = argv[i] + 7;
        else if (strcmp(argv[i], "--pool") == 0)
            return cli_usage(ctx, "option --pool needs a value");
        else if (argv[i][0] == '-' && argv[i][1])
            return cli_usage(ctx, "unknown option '%s'", argv[i]);
        else if (cli_pgid_parse(argv[i], &a->pgs[a->n].pool, &a->pgs[a->n].ps) < 0)
            return cli_usage(ctx, "bad PGID '%s' (POOLID.PS as pg ls prints it, e.g. 1.1f)",
                             argv[i]);
        else
            a->n++;
    }
    if (a->pool && a->n)
        return cli_usage(ctx, "give PGIDs or --pool, not both");
    if (!a->pool && !a->n)
        return cli_usage(ctx, "missing arguments");
    return CLI_EXIT_OK;
}

/* Replaces @a's PGs with every PG of pool --pool. */
static int scrub_pool_pgs(struct cli_ctx *ctx, struct scrub_args *a)
{
    const struct proto_map_pool *p;
    struct proto_map *map = NULL;
    int32_t id;
    int r;

    if ((r = cli_pool_open(ctx, a->pool, &id)) != CLI_EXIT_OK ||
        (r = cli_map(ctx, &map)) != CLI_EXIT_OK)
        return r;
    if (!(p = proto_map_pool(map, id))) {
        proto_map_destroy(map);
        return cli_fail(ctx, "pool '%s' does not exist", a->pool);
    }
    free(a->pgs);
    a->n = 0;
    if (p->pg_num && !(a->pgs = calloc(p->pg_num, sizeof(*a->pgs)))) {
        proto_map_destroy(map);
        return cli_fail(ctx, "%s", strerror(ENOMEM));
    }
    for (uint32_t ps = 0; ps < p->pg_num; ps++)
        a->pgs[a->n++] = (struct scrub_pg){id, ps};
    proto_map_destroy(map);
    return CLI_EXIT_OK;
}

/* Scrubs @pg, retrying every second while its primary answers -EBUSY,
 * until ctx->timeout_ms after the first attempt. */
static void scrub_one(struct cli_ctx *ctx, const struct scrub_pg *pg, bool deep,
                      struct scrub_out *out)
{
    uint64_t deadline = cairn_now_ns() + (uint64_t)ctx->timeout_ms * 1000000u;
    struct timespec gap = {BUSY_RETRY_MS / 1000u, 0};

    for (;;) {
        out->err = cairn_pg_scrub(ctx->cairn, pg->pool, pg->ps, deep, &out->res);
        if (out->err != -EBUSY || cairn_now_ns() + BUSY_RETRY_MS * 1000000ull >= deadline)
            break;
        nanosleep(&gap, NULL);
    }
    if (out->err < 0)
        cairn_error_string(ctx->cairn, out->err, out->why, sizeof(out->why));
}

static bool scrub_is_ok(const struct scrub_out *o)
{
    return o->err == 0 && o->res.repaired == o->res.inconsistent;
}

/* pg 1.a: deep-scrub ok: 37 objects, 0 inconsistent (0.4 s) */
static void scrub_print(const char *id, bool deep, const struct scrub_out *o)
{
    const char *what = deep ? "deep-scrub" : "scrub";
    const struct cairn_scrub_result *res = &o->res;
    double secs = (double)res->duration_ms / 1000.0;

    if (o->err < 0)
        printf("pg %s: %s failed: %s\n", id, what, o->why);
    else if (res->inconsistent == 0)
        printf("pg %s: %s ok: %llu objects, 0 inconsistent (%.1f s)\n", id, what,
               (unsigned long long)res->objects, secs);
    else
        printf("pg %s: %s: %llu objects, %llu inconsistent, %llu repaired (%.1f s)\n", id, what,
               (unsigned long long)res->objects, (unsigned long long)res->inconsistent,
               (unsigned long long)res->repaired, secs);
    fflush(stdout);
}

static void scrub_json(struct cli_json *j, const char *id, bool deep, const struct scrub_out *o)
{
    const struct cairn_scrub_result *res = &o->res;

    cli_json_obj_begin(j, NULL);
    cli_json_str(j, "pgid", id);
    cli_json_bool(j, "deep", deep);
    cli_json_str(j, "result", o->err < 0 ? "error" : res->inconsistent ? "inconsistent" : "ok");
    if (o->err < 0) {
        cli_json_str(j, "objects", NULL);
        cli_json_str(j, "inconsistent", NULL);
        cli_json_str(j, "repaired", NULL);
        cli_json_str(j, "duration_ms", NULL);
    } else {
        cli_json_uint(j, "objects", res->objects);
        cli_json_uint(j, "inconsistent", res->inconsistent);
        cli_json_uint(j, "repaired", res->repaired);
        cli_json_uint(j, "duration_ms", res->duration_ms);
    }
    cli_json_str(j, "error", o->err < 0 ? o->why : NULL);
    cli_json_obj_end(j);
}

/* Scrubs every PG of @a in order; CLI_EXIT_OK when all are consistent or
 * repaired. */
static int scrub_all(struct cli_ctx *ctx, const struct scrub_args *a, bool deep)
{
    struct scrub_out *o = malloc(sizeof(*o));
    size_t failed = 0, unrepaired = 0;
    struct cli_json j;
    char id[24];

    if (!o)
        return cli_fail(ctx, "%s", strerror(ENOMEM));
    if (ctx->json) {
        cli_json_init(&j, stdout);
        cli_json_arr_begin(&j, NULL);
    }
    for (size_t i = 0; i < a->n; i++) {
        cli_pgid_format(a->pgs[i].pool, a->pgs[i].ps, id, sizeof(id));
        scrub_one(ctx, &a->pgs[i], deep, o);
        if (ctx->json)
            scrub_json(&j, id, deep, o);
        else
            scrub_print(id, deep, o);
        failed += o->err < 0;
        unrepaired += o->err == 0 && !scrub_is_ok(o);
    }
    if (ctx->json) {
        cli_json_arr_end(&j);
        cli_json_finish(&j);
    }
    free(o);
    if (failed && unrepaired)
        return cli_fail(ctx, "%zu of %zu PGs failed, %zu kept inconsistencies not repaired", failed,
                        a->n, unrepaired);
    if (failed)
        return cli_fail(ctx, "%zu of %zu PGs failed", failed, a->n);
    if (unrepaired)
        return cli_fail(ctx, "%zu of %zu PGs kept inconsistencies not repaired", unrepaired, a->n);
    return CLI_EXIT_OK;
}

static int scrub_cmd(struct cli_ctx *ctx, int argc, char **argv, bool deep)
{
    struct scrub_args a;
    int r = scrub_args_parse(ctx, argc, argv, &a);

    /* The connection's timeout bounds each scrub (and connecting). */
    if (ctx->timeout_ms == 0)
        ctx->timeout_ms = SCRUB_TIMEOUT_MS;
    if (r == CLI_EXIT_OK && a.pool)
        r = scrub_pool_pgs(ctx, &a);
    if (r == CLI_EXIT_OK)
        r = cli_connect(ctx);
    if (r == CLI_EXIT_OK)
        r = scrub_all(ctx, &a, deep);
    free(a.pgs);
    return r;
}

int cli_pg_scrub(struct cli_ctx *ctx, int argc, char **argv)
{
    return scrub_cmd(ctx, argc, argv, false);
}

int cli_pg_deep_scrub(struct cli_ctx *ctx, int argc, char **argv)
{
    return scrub_cmd(ctx, argc, argv, true);
}

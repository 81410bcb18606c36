/* `cairn pg ls [--pool NAME]`: one line per PG with the state its primary
 * reported (pgview.c), its figures, up and acting sets, last log version
 * and scrub times; a JSON array with --json (docs/cli.md). */
#include "tools/cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "[0,2,1]" */
static void osd_set_format(const int32_t *ids, unsigned n, char *buf, size_t len)
{
    size_t off = 0;

    off += (size_t)snprintf(buf, len, "[");
    for (unsigned i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%" PRId32, i ? "," : "", ids[i]);
    if (off < len)
        snprintf(buf + off, len - off, "]");
}

/* Wall-clock ns as "2026-11-26T12:00:00Z"; "never" for 0. */
static void time_format(uint64_t ns, char *buf, size_t len)
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;

    if (ns == 0 || !gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "never");
}

static void json_osd_set(struct cli_json *j, const char *key, const int32_t *ids, unsigned n)
{
    cli_json_arr_begin(j, key);
    for (unsigned i = 0; i < n; i++)
        cli_json_int(j, NULL, ids[i]);
    cli_json_arr_end(j);
}

static void json_time(struct cli_json *j, const char *key, uint64_t ns)
{
    char buf[32];

    time_format(ns, buf, sizeof(buf));
    cli_json_str(j, key, ns ? buf : NULL);
}

/* One PG; the report's figures are null when there is none. */
static void json_pg(struct cli_json *j, const struct cli_pg *pg)
{
    const struct proto_pg_stat *st = pg->stat;
    char buf[PROTO_PG_STATE_STR_MAX];

    cli_json_obj_begin(j, NULL);
    cli_pgid_format(pg->pool, pg->ps, buf, sizeof(buf));
    cli_json_str(j, "pgid", buf);
    cli_json_int(j, "pool", pg->pool);
    cli_json_uint(j, "ps", pg->ps);
    cli_json_str(j, "state", cli_pg_state_str(pg->state, pg->unknown, buf, sizeof(buf)));
    json_osd_set(j, "up", pg->up, pg->n_up);
    json_osd_set(j, "acting", st ? st->acting : NULL, st ? st->n_acting : 0);
    if (pg->n_up)
        cli_json_int(j, "primary", pg->up[0]);
    else
        cli_json_str(j, "primary", NULL);
    if (st) {
        cli_json_uint(j, "objects", st->objects);
        cli_json_uint(j, "missing", st->objects_missing);
        cli_version_format(st->last_update, buf, sizeof(buf));
        cli_json_str(j, "last_update", buf);
        cli_json_uint(j, "epoch", st->epoch);
    } else {
        cli_json_str(j, "objects", NULL);
        cli_json_str(j, "missing", NULL);
        cli_json_str(j, "last_update", NULL);
        cli_json_str(j, "epoch", NULL);
    }
    json_time(j, "last_scrub", st ? st->last_scrub_ns : 0);
    json_time(j, "last_deep_scrub", st ? st->last_deep_scrub_ns : 0);
    cli_json_obj_end(j);
}

static int table_pg(struct cli_table *t, const struct cli_pg *pg)
{
    const struct proto_pg_stat *st = pg->stat;
    char id[24], state[PROTO_PG_STATE_STR_MAX], objects[24] = "-", missing[24] = "-";
    char up[PROTO_PLACE_MAX_REPLICAS * 6 + 4], acting[sizeof(up)] = "-", ver[48] = "-";
    char scrub[32] = "-", deep[32] = "-";

    cli_pgid_format(pg->pool, pg->ps, id, sizeof(id));
    cli_pg_state_str(pg->state, pg->unknown, state, sizeof(state));
    osd_set_format(pg->up, pg->n_up, up, sizeof(up));
    if (st) {
        snprintf(objects, sizeof(objects), "%" PRIu64, st->objects);
        snprintf(missing, sizeof(missing), "%" PRIu64, st->objects_missing);
        osd_set_format(st->acting, st->n_acting, acting, sizeof(acting));
        cli_version_format(st->last_update, ver, sizeof(ver));
        time_format(st->last_scrub_ns, scrub, sizeof(scrub));
        time_format(st->last_deep_scrub_ns, deep, sizeof(deep));
    }
    return cli_table_row(t, id, state, objects, missing, up, acting, ver, scrub, deep);
}

static int print_pgs(struct cli_ctx *ctx, const struct cli_pg_view *v)
{
    struct cli_table t;
    struct cli_json j;
    int r = 0;

    if (ctx->json) {
        cli_json_init(&j, stdout);
        cli_json_arr_begin(&j, NULL);
        for (size_t i = 0; i < v->n; i++)
            json_pg(&j, &v->pgs[i]);
        cli_json_arr_end(&j);
        cli_json_finish(&j);
        return CLI_EXIT_OK;
    }
    cli_table_init(&t, 9, "PG", "STATE", "OBJECTS", "MISSING", "UP", "ACTING", "LAST_UPDATE",
                   "LAST_SCRUB", "LAST_DEEP_SCRUB");
    for (size_t i = 0; i < v->n && r == 0; i++)
        r = table_pg(&t, &v->pgs[i]);
    if (r == 0)
        cli_table_print(&t, stdout);
    cli_table_fini(&t);
    if (r == 0 && !v->from_osds)
        fprintf(stderr, "cairn: no PG stats from the monitors; states derived from the map\n");
    return r == 0 ? CLI_EXIT_OK : cli_fail(ctx, "out of memory");
}

/* [--pool NAME] */
static int pg_ls_args(struct cli_ctx *ctx, int argc, char **argv, const char **pool)
{
    *pool = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--pool") == 0 && i + 1 < argc)
            *pool = argv[++i];
        else if (strncmp(argv[i], "--pool=", 7) == 0)
            *pool = argv[i] + 7;
        else if (strcmp(argv[i], "--pool") == 0)
            return cli_usage(ctx, "option --pool needs a value");
        else if (argv[i][0] == '-')
            return cli_usage(ctx, "unknown option '%s'", argv[i]);
        else
            return cli_usage(ctx, "too many arguments");
    }
    return CLI_EXIT_OK;
}

int cli_pg_ls(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_status st;
    struct proto_pg_stats stats = {0};
    struct proto_map *map = NULL;
    struct cli_pg_view v = {0};
    const char *pool_name;
    int32_t pool = -1;
    int r = pg_ls_args(ctx, argc, argv, &pool_name);

    if (r != CLI_EXIT_OK)
        return r;
    if (pool_name && (r = cli_pool_open(ctx, pool_name, &pool)) != CLI_EXIT_OK)
        return r;
    if ((r = cli_connect(ctx)) != CLI_EXIT_OK)
        return r;
    if ((r = cairn_status(ctx->cairn, &st)) < 0) {
        char why[512];
        cairn_error_string(ctx->cairn, r, why, sizeof(why));
        return cli_fail(ctx, "%s", why);
    }
    (void)cairn_wait_for_epoch(ctx->cairn, st.epoch, 2000);
    if ((r = cli_map(ctx, &map)) != CLI_EXIT_OK)
        return r;
    bool have = cli_fetch_pg_stats(ctx, &st, &stats);
    if (cli_pg_view_build(map, have ? &stats : NULL, pool, &v) < 0)
        r = cli_fail(ctx, "out of memory");
    else
        r = print_pgs(ctx, &v);
    cli_pg_view_fini(&v);
    proto_pg_stats_fini(&stats);
    proto_map_destroy(map);
    return r;
}

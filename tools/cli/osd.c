/* `cairn osd ls|tree|map|in|out|rm|reweight`: the OSDs of the map; `osd tree`
 * adds the PGs each OSD holds and leads, computed by placement (health.c);
 * `osd map` places one object, as every client does. */
#include "tools/cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_HOST "(no host)"

static const char *host_of(const struct proto_map_osd *o)
{
    return o->host[0] ? o->host : NO_HOST;
}

/* PGs per OSD (osd tree), indexed by id. */
struct osd_pgs {
    uint32_t *total;   /* PGs whose up set holds the OSD */
    uint32_t *primary; /* PGs it is the primary of */
};

static void osd_json(struct cli_json *j, const struct proto_map_osd *o, bool with_host,
                     const struct osd_pgs *pgs)
{
    cli_json_obj_begin(j, NULL);
    cli_json_int(j, "id", o->id);
    if (with_host)
        cli_json_str(j, "host", o->host);
    cli_json_str(j, "addr", o->addr);
    cli_json_double(j, "weight", (double)o->weight / PROTO_MAP_WEIGHT_ONE);
    cli_json_bool(j, "up", o->up);
    cli_json_bool(j, "in", o->in);
    if (pgs) {
        cli_json_uint(j, "pgs", pgs->total[o->id]);
        cli_json_uint(j, "primary_pgs", pgs->primary[o->id]);
    }
    cli_json_obj_end(j);
}

int cli_osd_ls(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_map *map = NULL;
    int r = cli_want_args(ctx, argc, argv, 0);

    if (r != CLI_EXIT_OK || (r = cli_map(ctx, &map)) != CLI_EXIT_OK)
        return r;
    if (ctx->json) {
        struct cli_json j;
        cli_json_init(&j, stdout);
        cli_json_obj_begin(&j, NULL);
        cli_json_arr_begin(&j, "osds");
        for (uint32_t i = 0; i < map->n_osds; i++)
            if (map->osds[i].exists)
                osd_json(&j, &map->osds[i], true, NULL);
        cli_json_arr_end(&j);
        cli_json_obj_end(&j);
        cli_json_finish(&j);
    } else {
        struct cli_table t;
        char id[16], w[32];
        cli_table_init(&t, 6, "ID", "HOST", "ADDR", "STATUS", "IN", "WEIGHT");
        for (uint32_t i = 0; i < map->n_osds; i++) {
            const struct proto_map_osd *o = &map->osds[i];
            if (!o->exists)
                continue;
            snprintf(id, sizeof(id), "%d", o->id);
            cli_weight_format(o->weight, w, sizeof(w));
            cli_table_row(&t, id, host_of(o), o->addr[0] ? o->addr : "-", o->up ? "up" : "down",
                          o->in ? "in" : "out", w);
        }
        cli_table_print(&t, stdout);
        cli_table_fini(&t);
    }
    proto_map_destroy(map);
    return CLI_EXIT_OK;
}

/* The distinct hosts of the map's OSDs, in order of first appearance. */
static unsigned hosts_of(const struct proto_map *map, const char **hosts, unsigned max)
{
    unsigned n = 0;

    for (uint32_t i = 0; i < map->n_osds; i++) {
        const struct proto_map_osd *o = &map->osds[i];
        unsigned k = 0;
        if (!o->exists)
            continue;
        while (k < n && strcmp(hosts[k], host_of(o)) != 0)
            k++;
        if (k == n && n < max)
            hosts[n++] = host_of(o);
    }
    return n;
}

static uint64_t host_weight(const struct proto_map *map, const char *host)
{
    uint64_t w = 0;

    for (uint32_t i = 0; i < map->n_osds; i++)
        if (map->osds[i].exists && strcmp(host_of(&map->osds[i]), host) == 0)
            w += map->osds[i].weight;
    return w;
}

static void tree_json(const struct proto_map *map, const char **hosts, unsigned n,
                      const struct osd_pgs *pgs)
{
    struct cli_json j;

    cli_json_init(&j, stdout);
    cli_json_obj_begin(&j, NULL);
    cli_json_arr_begin(&j, "hosts");
    for (unsigned h = 0; h < n; h++) {
        cli_json_obj_begin(&j, NULL);
        cli_json_str(&j, "name", strcmp(hosts[h], NO_HOST) ? hosts[h] : "");
        cli_json_double(&j, "weight", (double)host_weight(map, hosts[h]) / PROTO_MAP_WEIGHT_ONE);
        cli_json_arr_begin(&j, "osds");
        for (uint32_t i = 0; i < map->n_osds; i++)
            if (map->osds[i].exists && strcmp(host_of(&map->osds[i]), hosts[h]) == 0)
                osd_json(&j, &map->osds[i], false, pgs);
        cli_json_arr_end(&j);
        cli_json_obj_end(&j);
    }
    cli_json_arr_end(&j);
    cli_json_obj_end(&j);
    cli_json_finish(&j);
}

static void tree_table(const struct proto_map *map, const char **hosts, unsigned n,
                       const struct osd_pgs *pgs)
{
    struct cli_table t;
    char id[16], name[32], w[32], total[16], primary[16];

    cli_table_init(&t, 7, "ID", "WEIGHT", "NAME", "STATUS", "IN", "PGS", "PRIMARY");
    for (unsigned h = 0; h < n; h++) {
        snprintf(w, sizeof(w), "%.3f", (double)host_weight(map, hosts[h]) / PROTO_MAP_WEIGHT_ONE);
        cli_table_row(&t, "-", w, hosts[h], "", "", "", "");
        for (uint32_t i = 0; i < map->n_osds; i++) {
            const struct proto_map_osd *o = &map->osds[i];
            if (!o->exists || strcmp(host_of(o), hosts[h]) != 0)
                continue;
            snprintf(id, sizeof(id), "%d", o->id);
            snprintf(name, sizeof(name), "    osd.%d", o->id);
            cli_weight_format(o->weight, w, sizeof(w));
            snprintf(total, sizeof(total), "%u", pgs->total[o->id]);
            snprintf(primary, sizeof(primary), "%u", pgs->primary[o->id]);
            cli_table_row(&t, id, w, name, o->up ? "up" : "down", o->in ? "in" : "out", total,
                          primary);
        }
    }
    cli_table_print(&t, stdout);
    cli_table_fini(&t);
}

int cli_osd_tree(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_map *map = NULL;
    const char **hosts;
    int r = cli_want_args(ctx, argc, argv, 0);

    if (r != CLI_EXIT_OK || (r = cli_map(ctx, &map)) != CLI_EXIT_OK)
        return r;
    struct osd_pgs pgs = {calloc(map->n_osds + 1, sizeof(uint32_t)),
                          calloc(map->n_osds + 1, sizeof(uint32_t))};
    struct cli_pg_states states;
    hosts = calloc(map->n_osds + 1, sizeof(*hosts));
    if (!hosts || !pgs.total || !pgs.primary) {
        r = cli_fail(ctx, "%s", strerror(ENOMEM));
        goto out_free;
    }
    cli_pgs_count(map, &states, pgs.total, pgs.primary);
    unsigned n = hosts_of(map, hosts, map->n_osds + 1);
    if (ctx->json)
        tree_json(map, hosts, n, &pgs);
    else
        tree_table(map, hosts, n, &pgs);
out_free:
    free(pgs.total);
    free(pgs.primary);
    free(hosts);
    proto_map_destroy(map);
    return r;
}

static void map_json(const struct proto_map_pool *p, const char *name, const char *pgid,
                     const int32_t *up, unsigned n)
{
    struct cli_json j;

    cli_json_init(&j, stdout);
    cli_json_obj_begin(&j, NULL);
    cli_json_str(&j, "pool", p->name);
    cli_json_int(&j, "pool_id", p->id);
    cli_json_str(&j, "object", name);
    cli_json_str(&j, "pgid", pgid);
    cli_json_arr_begin(&j, "up");
    for (unsigned i = 0; i < n; i++)
        cli_json_int(&j, NULL, up[i]);
    cli_json_arr_end(&j);
    if (n)
        cli_json_int(&j, "primary", up[0]);
    else
        cli_json_str(&j, "primary", NULL);
    cli_json_obj_end(&j);
    cli_json_finish(&j);
}

/* "pool 'p' (1) object 'o1' -> pg 1.1 -> up [1,0,2], primary osd.1" */
static void map_text(const struct proto_map_pool *p, const char *name, const char *pgid,
                     const int32_t *up, unsigned n)
{
    printf("pool '%s' (%d) object '%s' -> pg %s -> up [", p->name, p->id, name, pgid);
    for (unsigned i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", up[i]);
    if (n)
        printf("], primary osd.%d\n", up[0]);
    else
        printf("], no primary\n");
}

/* `osd map POOL NAME`: computed from the map alone (protocol/placement.h);
 * the object need not exist. */
int cli_osd_map(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct proto_map_pool *p;
    struct proto_map *map = NULL;
    int32_t up[PROTO_PLACE_MAX_REPLICAS];
    char pgid[32];
    int r = cli_want_args(ctx, argc, argv, 2);

    if (r != CLI_EXIT_OK)
        return r;
    size_t len = strlen(argv[1]);
    if (len == 0 || len > CAIRN_OID_MAX)
        return cli_usage(ctx, "bad object name: %zu bytes (1 to %u)", len, CAIRN_OID_MAX);
    if ((r = cli_map(ctx, &map)) != CLI_EXIT_OK)
        return r;
    if (!(p = proto_map_pool_by_name(map, argv[0]))) {
        proto_map_destroy(map);
        return cli_fail(ctx, "pool '%s' does not exist", argv[0]);
    }
    uint32_t ps = proto_place_pg(p, argv[1], len);
    unsigned n = proto_place_up(map, p, ps, up, PROTO_PLACE_MAX_REPLICAS);
    cli_pgid_format(p->id, ps, pgid, sizeof(pgid));
    if (ctx->json)
        map_json(p, argv[1], pgid, up, n);
    else
        map_text(p, argv[1], pgid, up, n);
    proto_map_destroy(map);
    return CLI_EXIT_OK;
}

/* `osd in|out|rm ID`. */
static int osd_simple(struct cli_ctx *ctx, int argc, char **argv, enum proto_mon_op op,
                      const char *verb)
{
    struct proto_mon_cmd cmd;
    char done[64];
    long long id;
    int r = cli_want_args(ctx, argc, argv, 1);

    if (r != CLI_EXIT_OK)
        return r;
    if (cli_parse_int(argv[0], 0, PROTO_MAP_MAX_OSDS - 1, &id) < 0)
        return cli_usage(ctx, "bad OSD id '%s'", argv[0]);
    proto_mon_cmd_init(&cmd, op);
    cmd.id = (int32_t)id;
    snprintf(done, sizeof(done), "osd.%lld %s", id, verb);
    return cli_run(ctx, &cmd, done);
}

int cli_osd_in(struct cli_ctx *ctx, int argc, char **argv)
{
    return osd_simple(ctx, argc, argv, PROTO_MON_OSD_IN, "marked in");
}

int cli_osd_out(struct cli_ctx *ctx, int argc, char **argv)
{
    return osd_simple(ctx, argc, argv, PROTO_MON_OSD_OUT, "marked out");
}

int cli_osd_rm(struct cli_ctx *ctx, int argc, char **argv)
{
    return osd_simple(ctx, argc, argv, PROTO_MON_OSD_RM, "removed");
}

/* Parses a weight such as "1", "0.5" or "2.75" into 16.16 fixed point. */
static int parse_weight(const char *s, uint32_t *out)
{
    char *end;
    double v;

    if (!s || !*s || *s == '-' || *s == '+')
        return -EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (*end || errno || !isfinite(v) || v < 0 || v >= 65536.0)
        return -EINVAL;
    *out = (uint32_t)llround(v * PROTO_MAP_WEIGHT_ONE);
    return 0;
}

int cli_osd_reweight(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_cmd cmd;
    char done[64], w[32];
    long long id;
    int r = cli_want_args(ctx, argc, argv, 2);

    if (r != CLI_EXIT_OK)
        return r;
    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_REWEIGHT);
    if (cli_parse_int(argv[0], 0, PROTO_MAP_MAX_OSDS - 1, &id) < 0)
        return cli_usage(ctx, "bad OSD id '%s'", argv[0]);
    if (parse_weight(argv[1], &cmd.weight) < 0)
        return cli_usage(ctx, "bad weight '%s' (a number from 0 to 65535, e.g. 1.5)", argv[1]);
    cmd.id = (int32_t)id;
    cli_weight_format(cmd.weight, w, sizeof(w));
    snprintf(done, sizeof(done), "osd.%lld reweighted to %s", id, w);
    return cli_run(ctx, &cmd, done);
}

/* `cairn status` and `cairn health`: gathers the monitors' status, the
 * cluster map and the leader's PG stats and store usage, builds the PG
 * view (pgview.c), applies the health rules (health.c) and prints the
 * result. */
#include "tools/cli/cli.h"

#include <stdlib.h>
#include <string.h>

/* ---- gathering ---- */

struct status_data {
    struct proto_mon_status st;
    struct proto_map *map;
    struct cli_health health;
    uint32_t osds_total, osds_up, osds_in;
    struct proto_pg_stats stats;      /* the leader's; zeroed when none */
    struct cli_pg_view pgs;           /* points into stats */
    bool has_usage;                   /* some OSD up and in reported its store */
    uint64_t bytes_total, bytes_used; /* raw, over the OSDs up and in */
};

static void status_data_fini(struct status_data *d)
{
    cli_pg_view_fini(&d->pgs);
    proto_pg_stats_fini(&d->stats);
    proto_map_destroy(d->map);
}

bool cli_fetch_pg_stats(struct cli_ctx *ctx, const struct proto_mon_status *st,
                        struct proto_pg_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    /* Without a leader nobody has stats: do not wait for one. */
    if (!st->leader[0])
        return false;
    return cairn_pg_stats(ctx->cairn, stats) == 0;
}

static int gather(struct cli_ctx *ctx, struct status_data *d)
{
    int r = cli_connect(ctx);

    if (r != CLI_EXIT_OK)
        return r;
    if ((r = cairn_status(ctx->cairn, &d->st)) < 0) {
        char why[512];
        cairn_error_string(ctx->cairn, r, why, sizeof(why));
        return cli_fail(ctx, "%s", why);
    }
    cli_quorum_sort(&d->st);
    /* The map as of the status we got, so both tell the same story. */
    (void)cairn_wait_for_epoch(ctx->cairn, d->st.epoch, 2000);
    if ((r = cli_map(ctx, &d->map)) != CLI_EXIT_OK)
        return r;
    for (uint32_t i = 0; i < d->map->n_osds; i++) {
        const struct proto_map_osd *o = &d->map->osds[i];
        d->osds_total += o->exists;
        d->osds_up += o->exists && o->up;
        d->osds_in += o->exists && o->in;
    }
    bool have = cli_fetch_pg_stats(ctx, &d->st, &d->stats);
    d->has_usage =
        have && proto_osd_usage_sum(&d->stats, d->map, &d->bytes_total, &d->bytes_used) > 0;
    if (cli_pg_view_build(d->map, have ? &d->stats : NULL, -1, &d->pgs) < 0)
        return cli_fail(ctx, "out of memory");
    cli_health_eval_view(d->map, &d->st, &d->pgs, &d->health);
    return CLI_EXIT_OK;
}

/* ---- output ---- */

static void json_health(struct cli_json *j, const char *key, const struct cli_health *h)
{
    cli_json_obj_begin(j, key);
    cli_json_str(j, "status", cli_health_name(h->level));
    cli_json_arr_begin(j, "reasons");
    for (unsigned i = 0; i < h->n; i++)
        cli_json_str(j, NULL, h->reasons[i]);
    cli_json_arr_end(j);
    cli_json_obj_end(j);
}

/* "pgs": total, "active+clean" always (scripts compare the two), then
 * every other state with its count; "recovery"; "pg_stats": where the
 * states come from. */
static void json_pgs(struct cli_json *j, const struct cli_pg_view *v)
{
    char name[PROTO_PG_STATE_STR_MAX];
    uint32_t clean = PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN;

    cli_json_obj_begin(j, "pgs");
    cli_json_uint(j, "total", v->n);
    cli_json_uint(j, "active+clean", cli_pg_view_count(v, clean));
    for (size_t i = 0; i < v->n_counts; i++) {
        const struct cli_pg_count *c = &v->counts[i];
        if (c->unknown || c->state != clean)
            cli_json_uint(j, cli_pg_state_str(c->state, c->unknown, name, sizeof(name)),
                          c->count);
    }
    cli_json_obj_end(j);
    cli_json_obj_begin(j, "recovery");
    cli_json_uint(j, "objects_missing", v->objects_missing);
    cli_json_double(j, "objects_per_s", v->objects_per_s);
    cli_json_obj_end(j);
    cli_json_str(j, "pg_stats", v->from_osds ? "osds" : "map");
}

/* "usage": raw bytes over the OSDs up and in, only when some reported. */
static void json_usage(struct cli_json *j, const struct status_data *d)
{
    if (!d->has_usage)
        return;
    cli_json_obj_begin(j, "usage");
    cli_json_uint(j, "bytes_total", d->bytes_total);
    cli_json_uint(j, "bytes_used", d->bytes_used);
    cli_json_uint(j, "bytes_avail", d->bytes_total - d->bytes_used);
    cli_json_obj_end(j);
}

static void json_status(const struct status_data *d)
{
    struct cli_json j;
    char fsid[37];

    cli_uuid_format(d->map->fsid, fsid);
    cli_json_init(&j, stdout);
    cli_json_obj_begin(&j, NULL);
    cli_json_str(&j, "fsid", fsid);
    json_health(&j, "health", &d->health);
    cli_json_obj_begin(&j, "monitors");
    cli_json_uint(&j, "total", d->map->n_mons);
    cli_json_arr_begin(&j, "names");
    for (uint32_t i = 0; i < d->map->n_mons; i++)
        cli_json_str(&j, NULL, d->map->mons[i].name);
    cli_json_arr_end(&j);
    cli_json_arr_begin(&j, "quorum");
    for (uint32_t i = 0; i < d->st.n_quorum && i < PROTO_MAP_MAX_MONS; i++)
        cli_json_str(&j, NULL, d->st.quorum[i]);
    cli_json_arr_end(&j);
    cli_json_str(&j, "leader", d->st.leader[0] ? d->st.leader : NULL);
    cli_json_uint(&j, "term", d->st.term);
    cli_json_uint(&j, "commit_index", d->st.commit_index);
    cli_json_obj_end(&j);
    cli_json_obj_begin(&j, "osds");
    cli_json_uint(&j, "total", d->osds_total);
    cli_json_uint(&j, "up", d->osds_up);
    cli_json_uint(&j, "in", d->osds_in);
    cli_json_obj_end(&j);
    cli_json_uint(&j, "pools", d->map->n_pools);
    cli_json_uint(&j, "epoch", d->st.epoch > d->map->epoch ? d->st.epoch : d->map->epoch);
    json_pgs(&j, &d->pgs);
    json_usage(&j, d);
    cli_json_obj_end(&j);
    cli_json_finish(&j);
}

static void print_health(const struct cli_health *h, const char *indent)
{
    static const char *const upper[] = {"HEALTH_OK", "HEALTH_WARN", "HEALTH_ERR"};

    printf("%s\n", upper[h->level]);
    for (unsigned i = 0; i < h->n; i++)
        printf("%s%s\n", indent, h->reasons[i]);
}

/* "pgs:       24 (20 active+clean, 4 unknown)" and, with stats, the
 * recovery line. */
static void human_pgs(const struct cli_pg_view *v)
{
    char name[PROTO_PG_STATE_STR_MAX];

    printf("pgs:       %zu", v->n);
    for (size_t i = 0; i < v->n_counts; i++)
        printf("%s%llu %s", i ? ", " : " (", (unsigned long long)v->counts[i].count,
               cli_pg_state_str(v->counts[i].state, v->counts[i].unknown, name, sizeof(name)));
    printf("%s%s\n", v->n_counts ? ")" : "", v->from_osds || !v->n ? "" : " [from the map]");
    if (v->from_osds)
        printf("recovery:  %llu objects missing, %.1f objects/s\n",
               (unsigned long long)v->objects_missing, v->objects_per_s);
}

/* "usage:     1.2 GiB used of 30 GiB (4%)": raw bytes, every replica
 * counted. */
static void human_usage(const struct status_data *d)
{
    char used[CLI_BYTES_STR_MAX], total[CLI_BYTES_STR_MAX];

    if (!d->has_usage) {
        if (d->osds_up)
            printf("usage:     unknown (no OSD has reported its store yet)\n");
        return;
    }
    cli_bytes_format(d->bytes_used, used, sizeof(used));
    cli_bytes_format(d->bytes_total, total, sizeof(total));
    /* Rounded down: a nearly full cluster must not read as 100%. */
    unsigned pct =
        d->bytes_total ? (unsigned)((double)d->bytes_used * 100.0 / (double)d->bytes_total) : 0;
    printf("usage:     %s used of %s (%u%%)\n", used, total, pct);
}

static void human_status(const struct status_data *d)
{
    char fsid[37];

    cli_uuid_format(d->map->fsid, fsid);
    printf("cluster:   %s\nhealth:    ", fsid);
    print_health(&d->health, "           ");
    printf("monitors:  %u (", d->map->n_mons);
    for (uint32_t i = 0; i < d->map->n_mons; i++)
        printf("%s%s", i ? ", " : "", d->map->mons[i].name);
    printf("); quorum ");
    for (uint32_t i = 0; i < d->st.n_quorum && i < PROTO_MAP_MAX_MONS; i++)
        printf("%s%s", i ? ", " : "", d->st.quorum[i]);
    printf("%s; leader %s, term %llu\n", d->st.n_quorum ? "" : "(none)",
           d->st.leader[0] ? d->st.leader : "(none)", (unsigned long long)d->st.term);
    printf("osds:      %u total, %u up, %u in\n", d->osds_total, d->osds_up, d->osds_in);
    printf("pools:     %u\n", d->map->n_pools);
    human_usage(d);
    human_pgs(&d->pgs);
    printf("epoch:     %llu\n",
           (unsigned long long)(d->st.epoch > d->map->epoch ? d->st.epoch : d->map->epoch));
}

int cli_status(struct cli_ctx *ctx, int argc, char **argv)
{
    struct status_data d = {0};
    int r = cli_want_args(ctx, argc, argv, 0);

    if (r == CLI_EXIT_OK && (r = gather(ctx, &d)) == CLI_EXIT_OK) {
        if (ctx->json)
            json_status(&d);
        else
            human_status(&d);
    }
    status_data_fini(&d);
    return r;
}

int cli_health(struct cli_ctx *ctx, int argc, char **argv)
{
    struct status_data d = {0};
    int r = cli_want_args(ctx, argc, argv, 0);

    if (r == CLI_EXIT_OK && (r = gather(ctx, &d)) == CLI_EXIT_OK) {
        if (ctx->json) {
            struct cli_json j;
            cli_json_init(&j, stdout);
            json_health(&j, NULL, &d.health);
            cli_json_finish(&j);
        } else {
            print_health(&d.health, "  ");
        }
    }
    status_data_fini(&d);
    return r;
}

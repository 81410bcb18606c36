/* `cairn status` and `cairn health`: gathers the monitors' status and the
 * cluster map, applies the health rules (health.c) and prints the result. */
#include "tools/cli/cli.h"

#include <stdlib.h>
#include <string.h>

/* ---- gathering ---- */

struct status_data {
    struct proto_mon_status st;
    struct proto_map *map;
    struct cli_health health;
    uint32_t osds_total, osds_up, osds_in;
    struct cli_pg_states pgs;
};

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
    cli_health_eval(d->map, &d->st, &d->health);
    cli_pgs_count(d->map, &d->pgs, NULL, NULL);
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
    cli_json_obj_begin(&j, "pgs");
    if (d->pgs.clean)
        cli_json_uint(&j, "active+clean", d->pgs.clean);
    if (d->pgs.degraded)
        cli_json_uint(&j, "active+degraded", d->pgs.degraded);
    if (d->pgs.inactive)
        cli_json_uint(&j, "inactive", d->pgs.inactive);
    cli_json_obj_end(&j);
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
    printf("pgs:       %llu", (unsigned long long)(d->pgs.clean + d->pgs.degraded +
                                                  d->pgs.inactive));
    const char *sep = " (";
    if (d->pgs.clean)
        printf("%s%llu active+clean", sep, (unsigned long long)d->pgs.clean), sep = ", ";
    if (d->pgs.degraded)
        printf("%s%llu active+degraded", sep, (unsigned long long)d->pgs.degraded), sep = ", ";
    if (d->pgs.inactive)
        printf("%s%llu inactive", sep, (unsigned long long)d->pgs.inactive), sep = ", ";
    printf("%s\n", sep[0] == ',' ? ")" : "");
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
    proto_map_destroy(d.map);
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
    proto_map_destroy(d.map);
    return r;
}

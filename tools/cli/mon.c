/* `cairn mon ls|add|rm`: the monitors of the map and where the quorum
 * stands. */
#include "tools/cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_in_quorum(const struct proto_mon_status *st, const char *name)
{
    for (uint32_t i = 0; i < st->n_quorum && i < PROTO_MAP_MAX_MONS; i++)
        if (strcmp(st->quorum[i], name) == 0)
            return true;
    return false;
}

static void mon_ls_json(const struct proto_map *map, const struct proto_mon_status *st)
{
    struct cli_json j;

    cli_json_init(&j, stdout);
    cli_json_obj_begin(&j, NULL);
    cli_json_arr_begin(&j, "monitors");
    for (uint32_t i = 0; i < map->n_mons; i++) {
        cli_json_obj_begin(&j, NULL);
        cli_json_str(&j, "name", map->mons[i].name);
        cli_json_str(&j, "addr", map->mons[i].addr);
        cli_json_bool(&j, "in_quorum", is_in_quorum(st, map->mons[i].name));
        cli_json_bool(&j, "leader", strcmp(st->leader, map->mons[i].name) == 0);
        cli_json_obj_end(&j);
    }
    cli_json_arr_end(&j);
    cli_json_str(&j, "leader", st->leader[0] ? st->leader : NULL);
    cli_json_uint(&j, "epoch", map->epoch);
    cli_json_obj_end(&j);
    cli_json_finish(&j);
}

static void mon_ls_table(const struct proto_map *map, const struct proto_mon_status *st)
{
    struct cli_table t;

    cli_table_init(&t, 4, "NAME", "ADDR", "QUORUM", "ROLE");
    for (uint32_t i = 0; i < map->n_mons; i++) {
        const char *name = map->mons[i].name;
        bool in = is_in_quorum(st, name);
        cli_table_row(&t, name, map->mons[i].addr, in ? "in" : "out",
                      strcmp(st->leader, name) == 0 ? "leader"
                      : in                          ? "follower"
                                                    : "-");
    }
    cli_table_print(&t, stdout);
    cli_table_fini(&t);
}

int cli_mon_ls(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_status st;
    struct proto_map *map = NULL;
    char why[512];
    int r = cli_want_args(ctx, argc, argv, 0);

    if (r != CLI_EXIT_OK || (r = cli_connect(ctx)) != CLI_EXIT_OK)
        return r;
    if ((r = cairn_status(ctx->cairn, &st)) < 0) {
        cairn_error_string(ctx->cairn, r, why, sizeof(why));
        return cli_fail(ctx, "%s", why);
    }
    cli_quorum_sort(&st);
    (void)cairn_wait_for_epoch(ctx->cairn, st.epoch, 2000);
    if ((r = cli_map(ctx, &map)) != CLI_EXIT_OK)
        return r;
    if (ctx->json)
        mon_ls_json(map, &st);
    else
        mon_ls_table(map, &st);
    proto_map_destroy(map);
    return CLI_EXIT_OK;
}

int cli_mon_add(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_cmd cmd;
    char done[PROTO_MON_NAME_MAX + PROTO_MON_VALUE_MAX + 32];
    int r = cli_want_args(ctx, argc, argv, 2);

    if (r != CLI_EXIT_OK)
        return r;
    proto_mon_cmd_init(&cmd, PROTO_MON_MON_ADD);
    if (strlen(argv[0]) >= sizeof(cmd.name) || strlen(argv[1]) >= sizeof(cmd.value))
        return cli_usage(ctx, "name or address too long");
    snprintf(cmd.name, sizeof(cmd.name), "%s", argv[0]);
    snprintf(cmd.value, sizeof(cmd.value), "%s", argv[1]);
    snprintf(done, sizeof(done), "mon.%s added at %s", cmd.name, cmd.value);
    return cli_run(ctx, &cmd, done);
}

static bool map_has_mon(const struct proto_map *map, const char *name)
{
    for (uint32_t i = 0; i < map->n_mons; i++)
        if (strcmp(map->mons[i].name, name) == 0)
            return true;
    return false;
}

int cli_mon_rm(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_cmd cmd;
    struct proto_mon_reply *reply;
    struct proto_map *map;
    int r = cli_want_args(ctx, argc, argv, 1);

    if (r != CLI_EXIT_OK)
        return r;
    proto_mon_cmd_init(&cmd, PROTO_MON_MON_RM);
    if (strlen(argv[0]) >= sizeof(cmd.name))
        return cli_usage(ctx, "name too long");
    snprintf(cmd.name, sizeof(cmd.name), "%s", argv[0]);
    if ((r = cli_connect(ctx)) != CLI_EXIT_OK || (r = cli_map(ctx, &map)) != CLI_EXIT_OK)
        return r;
    bool existed = map_has_mon(map, cmd.name);
    proto_map_destroy(map);
    if (!existed)
        return cli_fail(ctx, "mon rm %s: mon.%s does not exist", cmd.name, cmd.name);
    if (!(reply = malloc(sizeof(*reply))))
        return cli_fail(ctx, "%s", strerror(ENOMEM));
    r = cairn_mon_command(ctx->cairn, &cmd, reply);
    /* A leader removing itself may step down before it answers; the
     * command is then resent to the new leader, which finds the monitor
     * already gone. It existed a moment ago, so that is our removal. */
    if (r == -ENOENT)
        r = 0;
    if (r < 0)
        cli_fail(ctx, "%s", reply->message[0] ? reply->message : strerror(-r));
    else if (ctx->json)
        printf("{\"epoch\": %llu}\n", (unsigned long long)reply->epoch);
    else
        printf("mon.%s removed (epoch %llu)\n", cmd.name, (unsigned long long)reply->epoch);
    free(reply);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

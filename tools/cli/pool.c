/* `cairn pool create|ls|rm|set`. */
#include "tools/cli/cli.h"
#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIRM_FLAG "--yes-i-really-mean-it"

static int copy_name(struct cli_ctx *ctx, char *dst, size_t cap, const char *src)
{
    if (strlen(src) >= cap)
        return cli_usage(ctx, "'%s' is too long", src);
    snprintf(dst, cap, "%s", src);
    return CLI_EXIT_OK;
}

/* One "--flag N" of pool create. */
static int flag_uint(struct cli_ctx *ctx, const char *flag, const char *val, uint32_t *out)
{
    long long v;

    if (!val)
        return cli_usage(ctx, "%s needs a value", flag);
    if (cli_parse_int(val, 1, UINT32_MAX, &v) < 0)
        return cli_usage(ctx, "bad %s '%s' (a positive integer)", flag, val);
    *out = (uint32_t)v;
    return CLI_EXIT_OK;
}

static int create_flags(struct cli_ctx *ctx, int argc, char **argv, struct proto_mon_cmd *cmd,
                        const char **name)
{
    int r = CLI_EXIT_OK;

    for (int i = 0; i < argc && r == CLI_EXIT_OK; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--size") == 0)
            r = flag_uint(ctx, a, val, &cmd->size), i++;
        else if (strcmp(a, "--min-size") == 0)
            r = flag_uint(ctx, a, val, &cmd->min_size), i++;
        else if (strcmp(a, "--pg-num") == 0)
            r = flag_uint(ctx, a, val, &cmd->pg_num), i++;
        else if (strcmp(a, "--failure-domain") == 0 && val && strcmp(val, "host") == 0)
            cmd->failure_domain = PROTO_MON_FD_HOST, i++;
        else if (strcmp(a, "--failure-domain") == 0 && val && strcmp(val, "osd") == 0)
            cmd->failure_domain = PROTO_MON_FD_OSD, i++;
        else if (strcmp(a, "--failure-domain") == 0)
            r = cli_usage(ctx, "--failure-domain takes 'host' or 'osd'");
        else if (a[0] == '-')
            r = cli_usage(ctx, "unknown option '%s'", a);
        else if (*name)
            r = cli_usage(ctx, "too many arguments");
        else
            *name = a;
    }
    if (r == CLI_EXIT_OK && !*name)
        r = cli_usage(ctx, "missing the pool name");
    return r;
}

int cli_pool_create(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_cmd cmd;
    const char *name = NULL;
    char done[PROTO_MON_NAME_MAX + 32];
    int r;

    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_CREATE);
    if ((r = create_flags(ctx, argc, argv, &cmd, &name)) != CLI_EXIT_OK ||
        (r = copy_name(ctx, cmd.name, sizeof(cmd.name), name)) != CLI_EXIT_OK)
        return r;
    snprintf(done, sizeof(done), "pool '%s' created", cmd.name);
    return cli_run(ctx, &cmd, done);
}

static const char *fd_name(enum proto_failure_domain fd)
{
    return fd == PROTO_FD_OSD ? "osd" : "host";
}

static void pool_ls_json(const struct proto_map *map)
{
    struct cli_json j;

    cli_json_init(&j, stdout);
    cli_json_obj_begin(&j, NULL);
    cli_json_arr_begin(&j, "pools");
    for (uint32_t i = 0; i < map->n_pools; i++) {
        const struct proto_map_pool *p = &map->pools[i];
        cli_json_obj_begin(&j, NULL);
        cli_json_int(&j, "id", p->id);
        cli_json_str(&j, "name", p->name);
        cli_json_uint(&j, "size", p->size);
        cli_json_uint(&j, "min_size", p->min_size);
        cli_json_uint(&j, "pg_num", p->pg_num);
        cli_json_str(&j, "failure_domain", fd_name(p->failure_domain));
        cli_json_obj_end(&j);
    }
    cli_json_arr_end(&j);
    cli_json_obj_end(&j);
    cli_json_finish(&j);
}

static void pool_ls_table(const struct proto_map *map)
{
    struct cli_table t;
    char id[16], size[16], min[16], pgs[16];

    cli_table_init(&t, 6, "ID", "NAME", "SIZE", "MIN_SIZE", "PG_NUM", "FAILURE_DOMAIN");
    for (uint32_t i = 0; i < map->n_pools; i++) {
        const struct proto_map_pool *p = &map->pools[i];
        snprintf(id, sizeof(id), "%d", p->id);
        snprintf(size, sizeof(size), "%u", p->size);
        snprintf(min, sizeof(min), "%u", p->min_size);
        snprintf(pgs, sizeof(pgs), "%u", p->pg_num);
        cli_table_row(&t, id, p->name, size, min, pgs, fd_name(p->failure_domain));
    }
    cli_table_print(&t, stdout);
    cli_table_fini(&t);
}

int cli_pool_ls(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_map *map = NULL;
    int r = cli_want_args(ctx, argc, argv, 0);

    if (r != CLI_EXIT_OK || (r = cli_map(ctx, &map)) != CLI_EXIT_OK)
        return r;
    if (ctx->json)
        pool_ls_json(map);
    else
        pool_ls_table(map);
    proto_map_destroy(map);
    return CLI_EXIT_OK;
}

int cli_pool_rm(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_cmd cmd;
    const char *name = NULL;
    bool confirmed = false;
    char done[PROTO_MON_NAME_MAX + 32];
    int r;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], CONFIRM_FLAG) == 0)
            confirmed = true;
        else if (argv[i][0] == '-')
            return cli_usage(ctx, "unknown option '%s'", argv[i]);
        else if (name)
            return cli_usage(ctx, "too many arguments");
        else
            name = argv[i];
    }
    if (!name)
        return cli_usage(ctx, "missing the pool name");
    if (!confirmed)
        return cli_usage(ctx, "removing pool '%s' destroys all its data; add %s", name,
                         CONFIRM_FLAG);
    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_RM);
    if ((r = copy_name(ctx, cmd.name, sizeof(cmd.name), name)) != CLI_EXIT_OK)
        return r;
    snprintf(done, sizeof(done), "pool '%s' removed", cmd.name);
    return cli_run(ctx, &cmd, done);
}

int cli_pool_set(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_cmd cmd;
    char done[PROTO_MON_NAME_MAX * 2 + PROTO_MON_VALUE_MAX + 32];
    int r = cli_want_args(ctx, argc, argv, 3);

    if (r != CLI_EXIT_OK)
        return r;
    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_SET);
    if ((r = copy_name(ctx, cmd.name, sizeof(cmd.name), argv[0])) != CLI_EXIT_OK ||
        (r = copy_name(ctx, cmd.key, sizeof(cmd.key), argv[1])) != CLI_EXIT_OK ||
        (r = copy_name(ctx, cmd.value, sizeof(cmd.value), argv[2])) != CLI_EXIT_OK)
        return r;
    snprintf(done, sizeof(done), "pool '%s': %s = %s", cmd.name, cmd.key, cmd.value);
    return cli_run(ctx, &cmd, done);
}

int cli_pool_get(struct cli_ctx *ctx, const char *default_name, const char *name, bool create,
                 int32_t *pool)
{
    struct proto_mon_reply *reply;
    struct proto_mon_cmd cmd;
    int r = cli_connect(ctx);

    if (r != CLI_EXIT_OK)
        return r;
    if (!create || strcmp(name, default_name) != 0 ||
        cairn_pool_lookup(ctx->cairn, name, pool) != -ENOENT)
        return cli_pool_open(ctx, name, pool);
    if (!(reply = malloc(sizeof(*reply)))) /* large: not on the stack */
        return cli_fail_errno(ctx, -ENOMEM);
    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_CREATE);
    snprintf(cmd.name, sizeof(cmd.name), "%s", name);
    /* A concurrent creator may win; the lookup then finds its pool. */
    (void)cairn_mon_command(ctx->cairn, &cmd, reply);
    free(reply);
    return cli_pool_open(ctx, name, pool);
}

/* `cairn config set|get|rm`: cluster-wide config options kept by the
 * monitors (the daemons' own files are docs/config.md). */
#include "tools/cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int key_arg(struct cli_ctx *ctx, const char *key, struct proto_mon_cmd *cmd,
                   enum proto_mon_op op)
{
    proto_mon_cmd_init(cmd, op);
    if (strlen(key) >= sizeof(cmd->key))
        return cli_usage(ctx, "option name too long");
    snprintf(cmd->key, sizeof(cmd->key), "%s", key);
    return CLI_EXIT_OK;
}

int cli_config_set(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_cmd cmd;
    char done[PROTO_MON_NAME_MAX + PROTO_MON_VALUE_MAX + 16];
    int r = cli_want_args(ctx, argc, argv, 2);

    if (r != CLI_EXIT_OK || (r = key_arg(ctx, argv[0], &cmd, PROTO_MON_CONFIG_SET)))
        return r;
    if (strlen(argv[1]) >= sizeof(cmd.value))
        return cli_usage(ctx, "value too long");
    snprintf(cmd.value, sizeof(cmd.value), "%s", argv[1]);
    snprintf(done, sizeof(done), "%s = %s", cmd.key, cmd.value);
    return cli_run(ctx, &cmd, done);
}

int cli_config_get(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_cmd cmd;
    struct proto_mon_reply *reply;
    int r = cli_want_args(ctx, argc, argv, 1);

    if (r != CLI_EXIT_OK || (r = key_arg(ctx, argv[0], &cmd, PROTO_MON_CONFIG_GET)))
        return r;
    if (!(reply = malloc(sizeof(*reply))))
        return cli_fail(ctx, "%s", strerror(ENOMEM));
    if ((r = cli_mon_command(ctx, &cmd, reply)) == CLI_EXIT_OK) {
        if (ctx->json) {
            struct cli_json j;
            cli_json_init(&j, stdout);
            cli_json_obj_begin(&j, NULL);
            cli_json_str(&j, "key", cmd.key);
            cli_json_str(&j, "value", reply->text);
            cli_json_obj_end(&j);
            cli_json_finish(&j);
        } else {
            printf("%s\n", reply->text);
        }
    }
    free(reply);
    return r;
}

int cli_config_rm(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_cmd cmd;
    char done[PROTO_MON_NAME_MAX + 16];
    int r = cli_want_args(ctx, argc, argv, 1);

    if (r != CLI_EXIT_OK || (r = key_arg(ctx, argv[0], &cmd, PROTO_MON_CONFIG_RM)))
        return r;
    snprintf(done, sizeof(done), "%s removed", cmd.key);
    return cli_run(ctx, &cmd, done);
}

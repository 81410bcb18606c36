/* `cairn auth add|get|rm|ls`: entity keys kept by the monitors. `add` and
 * `get` print a keyring section ([ENTITY] key = BASE64) that can be
 * appended to a keyring file. */
#include "tools/cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int entity_arg(struct cli_ctx *ctx, int argc, char **argv, struct proto_mon_cmd *cmd,
                      enum proto_mon_op op)
{
    int r = cli_want_args(ctx, argc, argv, 1);

    if (r != CLI_EXIT_OK)
        return r;
    if (!proto_entity_is_valid(argv[0]))
        return cli_usage(ctx, "bad entity name '%s' (TYPE.ID, e.g. client.backup)", argv[0]);
    proto_mon_cmd_init(cmd, op);
    snprintf(cmd->name, sizeof(cmd->name), "%s", argv[0]);
    return CLI_EXIT_OK;
}

static void print_key(const struct cli_ctx *ctx, const char *entity,
                      const struct proto_mon_reply *reply)
{
    char b64[45];

    proto_key_to_base64(reply->key, b64);
    if (ctx->json) {
        struct cli_json j;
        cli_json_init(&j, stdout);
        cli_json_obj_begin(&j, NULL);
        cli_json_str(&j, "entity", entity);
        cli_json_str(&j, "key", b64);
        cli_json_obj_end(&j);
        cli_json_finish(&j);
    } else {
        printf("[%s]\nkey = %s\n", entity, b64);
    }
}

/* add and get: a command that answers with a key. */
static int key_command(struct cli_ctx *ctx, int argc, char **argv, enum proto_mon_op op)
{
    struct proto_mon_cmd cmd;
    struct proto_mon_reply *reply;
    int r = entity_arg(ctx, argc, argv, &cmd, op);

    if (r != CLI_EXIT_OK)
        return r;
    if (!(reply = malloc(sizeof(*reply))))
        return cli_fail(ctx, "%s", strerror(ENOMEM));
    r = cli_mon_command(ctx, &cmd, reply);
    if (r == CLI_EXIT_OK && !reply->has_key)
        r = cli_fail(ctx, "the monitor's answer has no key");
    if (r == CLI_EXIT_OK)
        print_key(ctx, cmd.name, reply);
    free(reply);
    return r;
}

int cli_auth_add(struct cli_ctx *ctx, int argc, char **argv)
{
    return key_command(ctx, argc, argv, PROTO_MON_KEY_CREATE);
}

int cli_auth_get(struct cli_ctx *ctx, int argc, char **argv)
{
    return key_command(ctx, argc, argv, PROTO_MON_KEY_GET);
}

int cli_auth_rm(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_cmd cmd;
    char done[PROTO_MON_NAME_MAX + 32];
    int r = entity_arg(ctx, argc, argv, &cmd, PROTO_MON_KEY_RM);

    if (r != CLI_EXIT_OK)
        return r;
    snprintf(done, sizeof(done), "key of %s removed", cmd.name);
    return cli_run(ctx, &cmd, done);
}

/* Prints one page of KEY_LS output; returns the number of entities and
 * leaves the last one in @last. */
static unsigned ls_page(struct cli_json *j, const char *text, char *last, size_t len)
{
    unsigned n = 0;

    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l > 0 && l < len) {
            memcpy(last, p, l);
            last[l] = '\0';
            if (j)
                cli_json_str(j, NULL, last);
            else
                printf("%s\n", last);
            n++;
        }
        p += l + (nl ? 1 : 0);
    }
    return n;
}

int cli_auth_ls(struct cli_ctx *ctx, int argc, char **argv)
{
    struct proto_mon_cmd cmd;
    struct proto_mon_reply *reply;
    struct cli_json j;
    int r = cli_want_args(ctx, argc, argv, 0);

    if (r != CLI_EXIT_OK)
        return r;
    if (!(reply = malloc(sizeof(*reply))))
        return cli_fail(ctx, "%s", strerror(ENOMEM));
    proto_mon_cmd_init(&cmd, PROTO_MON_KEY_LS);
    /* Pages: each lists the entities after the last one of the one before. */
    while ((r = cli_mon_command(ctx, &cmd, reply)) == CLI_EXIT_OK) {
        if (ctx->json && !cmd.name[0]) {
            cli_json_init(&j, stdout);
            cli_json_obj_begin(&j, NULL);
            cli_json_arr_begin(&j, "entities");
        }
        if (ls_page(ctx->json ? &j : NULL, reply->text, cmd.name, sizeof(cmd.name)) == 0 ||
            !reply->message[0])
            break;
    }
    if (r == CLI_EXIT_OK && ctx->json) {
        cli_json_arr_end(&j);
        cli_json_obj_end(&j);
        cli_json_finish(&j);
    }
    free(reply);
    return r;
}

/* `cairn s3 user create|ls|rm|key` and `cairn s3 gc`: the S3 gateway's
 * users and its garbage collector, through gateway/s3/admin.h on the
 * gateway's pool ("s3" unless --pool names another). Secrets are printed
 * only by create and key, which exist to hand them out. */
#include "gateway/s3/admin.h"
#include "tools/cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S3_GC (1u << 0) /* --older-than and --dry-run are allowed */
#define S3_GRACE_DEFAULT 3600u

struct s3_args {
    const char *name; /* the one positional, when wanted */
    const char *pool;
    uint32_t older_than_s;
    bool dry_run;
};

/* Parses @argv: @want positionals (0 or 1), --pool, and with S3_GC the gc
 * options. CLI_EXIT_OK or a usage error (printed). */
static int s3_parse(struct cli_ctx *ctx, int argc, char **argv, struct s3_args *a, unsigned flags,
                    int want)
{
    const char *older = NULL;
    int n = 0;

    *a = (struct s3_args){.pool = GW_S3_POOL_DEFAULT, .older_than_s = S3_GRACE_DEFAULT};
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], **val = NULL;
        if (strcmp(arg, "--pool") == 0)
            val = &a->pool;
        else if (strcmp(arg, "--older-than") == 0 && (flags & S3_GC))
            val = &older;
        else if (strcmp(arg, "--dry-run") == 0 && (flags & S3_GC))
            a->dry_run = true;
        else if (arg[0] == '-' && arg[1])
            return cli_usage(ctx, "unknown option '%s'", arg);
        else if (n++ < want)
            a->name = arg;
        else
            return cli_usage(ctx, "too many arguments");
        if (val && i + 1 >= argc)
            return cli_usage(ctx, "%s needs a value", arg);
        if (val)
            *val = argv[++i];
    }
    if (n < want)
        return cli_usage(ctx, "missing arguments");
    if (a->name && !gw_s3_user_name_is_valid(a->name))
        return cli_usage(ctx, "bad user name '%s' (1 to %u of [A-Za-z0-9._@-])", a->name,
                         GW_S3_USER_NAME_MAX);
    long long v = 0;
    if (older && cli_parse_int(older, 0, UINT32_MAX, &v) < 0)
        return cli_usage(ctx, "bad --older-than '%s' (seconds)", older);
    if (older)
        a->older_than_s = (uint32_t)v;
    return CLI_EXIT_OK;
}

static int s3_fail(struct cli_ctx *ctx, const char *name, int err)
{
    if (err == -EEXIST)
        return cli_fail(ctx, "user %s exists", name);
    if (err == -ENOENT)
        return cli_fail(ctx, "no such user %s", name);
    if (err == -EBADMSG)
        return cli_fail(ctx, "a damaged record in the pool (nothing was removed after it)");
    return cli_fail_errno(ctx, err);
}

/* The explicit output of create and key: the only place a secret is shown. */
static void print_key(const struct cli_ctx *ctx, const char *name, const struct gw_s3_key *k)
{
    if (ctx->json) {
        struct cli_json j;
        cli_json_init(&j, stdout);
        cli_json_obj_begin(&j, NULL);
        cli_json_str(&j, "user", name);
        cli_json_str(&j, "access_key", k->access);
        cli_json_str(&j, "secret_key", k->secret);
        cli_json_obj_end(&j);
        cli_json_finish(&j);
        return;
    }
    struct cli_table t;
    cli_table_init(&t, 3, "USER", "ACCESS KEY", "SECRET KEY");
    cli_table_row(&t, name, k->access, k->secret);
    cli_table_print(&t, stdout);
    cli_table_fini(&t);
}

/* create and key: a command that hands out a new key. */
static int key_command(struct cli_ctx *ctx, int argc, char **argv, bool create)
{
    struct s3_args a;
    struct gw_s3_key k;
    int32_t pool;
    int r = s3_parse(ctx, argc, argv, &a, 0, 1);

    if (r != CLI_EXIT_OK ||
        (r = cli_pool_get(ctx, GW_S3_POOL_DEFAULT, a.pool, create, &pool)) != CLI_EXIT_OK)
        return r;
    r = create ? gw_s3_user_create(ctx->cairn, pool, a.name, &k)
               : gw_s3_user_add_key(ctx->cairn, pool, a.name, &k);
    if (r < 0)
        return s3_fail(ctx, a.name, r);
    print_key(ctx, a.name, &k);
    memset(&k, 0, sizeof(k));
    return CLI_EXIT_OK;
}

int cli_s3_user_create(struct cli_ctx *ctx, int argc, char **argv)
{
    return key_command(ctx, argc, argv, true);
}

int cli_s3_user_key(struct cli_ctx *ctx, int argc, char **argv)
{
    return key_command(ctx, argc, argv, false);
}

int cli_s3_user_rm(struct cli_ctx *ctx, int argc, char **argv)
{
    struct s3_args a;
    int32_t pool;
    int r = s3_parse(ctx, argc, argv, &a, 0, 1);

    if (r != CLI_EXIT_OK ||
        (r = cli_pool_get(ctx, GW_S3_POOL_DEFAULT, a.pool, false, &pool)) != CLI_EXIT_OK)
        return r;
    r = gw_s3_user_remove(ctx->cairn, pool, a.name);
    return r < 0 ? s3_fail(ctx, a.name, r) : CLI_EXIT_OK;
}

/* ---- ls ---- */

struct ls_out {
    bool json;
    struct cli_json j;
    struct cli_table t;
};

static int ls_user(const char *name, int64_t created_s, const char *const *access, size_t n,
                   void *arg)
{
    struct ls_out *o = arg;
    char when[32] = "-";
    time_t s = (time_t)created_s;
    struct tm tm;

    if (n && gmtime_r(&s, &tm))
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (o->json) {
        cli_json_obj_begin(&o->j, NULL);
        cli_json_str(&o->j, "name", name);
        cli_json_int(&o->j, "created_s", created_s);
        cli_json_str(&o->j, "created", when);
        cli_json_arr_begin(&o->j, "access_keys");
        for (size_t i = 0; i < n; i++)
            cli_json_str(&o->j, NULL, access[i]);
        cli_json_arr_end(&o->j);
        cli_json_obj_end(&o->j);
        return 0;
    }
    if (n == 0)
        return cli_table_row(&o->t, name, when, "-");
    for (size_t i = 0; i < n; i++) /* one row per key */
        if (cli_table_row(&o->t, name, when, access[i]) < 0)
            return -ENOMEM;
    return 0;
}

int cli_s3_user_ls(struct cli_ctx *ctx, int argc, char **argv)
{
    struct s3_args a;
    struct ls_out o = {.json = ctx->json};
    int32_t pool;
    int r = s3_parse(ctx, argc, argv, &a, 0, 0);

    if (r != CLI_EXIT_OK ||
        (r = cli_pool_get(ctx, GW_S3_POOL_DEFAULT, a.pool, false, &pool)) != CLI_EXIT_OK)
        return r;
    if (o.json) {
        cli_json_init(&o.j, stdout);
        cli_json_obj_begin(&o.j, NULL);
        cli_json_arr_begin(&o.j, "users");
    } else {
        cli_table_init(&o.t, 3, "USER", "CREATED", "ACCESS KEY");
    }
    r = gw_s3_user_list(ctx->cairn, pool, ls_user, &o);
    if (o.json && r == 0) {
        cli_json_arr_end(&o.j);
        cli_json_obj_end(&o.j);
        cli_json_finish(&o.j);
    } else if (!o.json) {
        if (r == 0)
            cli_table_print(&o.t, stdout);
        cli_table_fini(&o.t);
    }
    return r < 0 ? cli_fail_errno(ctx, r) : CLI_EXIT_OK;
}

/* ---- gc ---- */

int cli_s3_gc(struct cli_ctx *ctx, int argc, char **argv)
{
    struct s3_args a;
    struct gw_s3_gc_stats st;
    int32_t pool;
    int r = s3_parse(ctx, argc, argv, &a, S3_GC, 0);

    if (r != CLI_EXIT_OK ||
        (r = cli_pool_get(ctx, GW_S3_POOL_DEFAULT, a.pool, false, &pool)) != CLI_EXIT_OK)
        return r;
    if ((r = gw_s3_gc(ctx->cairn, pool, a.older_than_s, a.dry_run, &st)) < 0)
        return s3_fail(ctx, "", r);
    if (!ctx->json) {
        printf("scanned    %" PRIu64 "\norphans    %" PRIu64 "\nremoved    %" PRIu64
               "\ntoo_young  %" PRIu64 "\n%s",
               st.objects_scanned, st.orphans, st.removed, st.too_young,
               a.dry_run ? "dry run: nothing was removed\n" : "");
        return CLI_EXIT_OK;
    }
    struct cli_json j;
    cli_json_init(&j, stdout);
    cli_json_obj_begin(&j, NULL);
    cli_json_uint(&j, "objects_scanned", st.objects_scanned);
    cli_json_uint(&j, "orphans", st.orphans);
    cli_json_uint(&j, "removed", st.removed);
    cli_json_uint(&j, "too_young", st.too_young);
    cli_json_bool(&j, "dry_run", a.dry_run);
    cli_json_obj_end(&j);
    cli_json_finish(&j);
    return CLI_EXIT_OK;
}

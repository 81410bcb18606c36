/* `cairn fs create|ls|rm|check`: file-system volumes through libcairn
 * (client/fs.h). The pool is "fs" unless --pool says otherwise; create
 * makes the default pool on first use, as `cairn image create` does. */
#include "client/fs.h"
#include "tools/cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

struct fs_args {
    const char *name; /* the one positional, when wanted */
    const char *pool;
    bool repair;
};

/* [@want] positionals, --pool, and --repair when @repair_ok. */
static int fs_args(struct cli_ctx *ctx, int argc, char **argv, int want, bool repair_ok,
                   struct fs_args *a)
{
    int n = 0;

    a->name = NULL;
    a->pool = CAIRN_FS_DEFAULT_POOL;
    a->repair = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--pool") == 0) {
            if (i + 1 >= argc)
                return cli_usage(ctx, "--pool needs a value");
            a->pool = argv[++i];
        } else if (repair_ok && strcmp(argv[i], "--repair") == 0) {
            a->repair = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage(ctx, "unknown option '%s'", argv[i]);
        } else if (n++ < want) {
            a->name = argv[i];
        } else {
            return cli_usage(ctx, "too many arguments");
        }
    }
    return n < want ? cli_usage(ctx, "missing arguments") : CLI_EXIT_OK;
}

static int fs_fail(struct cli_ctx *ctx, int err)
{
    if (err == -EINVAL)
        return cli_usage(ctx, "bad volume name (1 to %u of [A-Za-z0-9_.-], no leading '.')",
                         CAIRN_FS_VOLUME_NAME_MAX);
    if (err == -ENOENT)
        return cli_fail(ctx, "no such volume");
    if (err == -EEXIST)
        return cli_fail(ctx, "the volume already exists");
    if (err == -EIO)
        return cli_fail(ctx, "the volume's records are damaged");
    return cli_fail_errno(ctx, err);
}

int cli_fs_create(struct cli_ctx *ctx, int argc, char **argv)
{
    struct fs_args a;
    int32_t pool;
    int r = fs_args(ctx, argc, argv, 1, false, &a);

    if (r != CLI_EXIT_OK ||
        (r = cli_pool_get(ctx, CAIRN_FS_DEFAULT_POOL, a.pool, true, &pool)) != CLI_EXIT_OK)
        return r;
    r = cairn_fs_create(ctx->cairn, pool, a.name);
    return r < 0 ? fs_fail(ctx, r) : CLI_EXIT_OK;
}

int cli_fs_rm(struct cli_ctx *ctx, int argc, char **argv)
{
    struct fs_args a;
    int32_t pool;
    int r = fs_args(ctx, argc, argv, 1, false, &a);

    if (r != CLI_EXIT_OK ||
        (r = cli_pool_get(ctx, CAIRN_FS_DEFAULT_POOL, a.pool, false, &pool)) != CLI_EXIT_OK)
        return r;
    r = cairn_fs_remove(ctx->cairn, pool, a.name);
    return r < 0 ? fs_fail(ctx, r) : CLI_EXIT_OK;
}

struct ls_out {
    struct cli_json j;
    bool json;
};

static int ls_one(const char *name, int64_t created_s, void *arg)
{
    struct ls_out *o = arg;
    char when[32] = "-";
    time_t s = (time_t)created_s;
    struct tm tm;

    if (created_s > 0 && gmtime_r(&s, &tm))
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!o->json) {
        printf("%s  %s\n", name, when);
        return 0;
    }
    cli_json_obj_begin(&o->j, NULL);
    cli_json_str(&o->j, "name", name);
    cli_json_int(&o->j, "created_s", created_s);
    cli_json_str(&o->j, "created", when);
    cli_json_obj_end(&o->j);
    return 0;
}

int cli_fs_ls(struct cli_ctx *ctx, int argc, char **argv)
{
    struct fs_args a;
    struct ls_out o = {.json = ctx->json};
    int32_t pool;
    int r = fs_args(ctx, argc, argv, 0, false, &a);

    if (r != CLI_EXIT_OK ||
        (r = cli_pool_get(ctx, CAIRN_FS_DEFAULT_POOL, a.pool, false, &pool)) != CLI_EXIT_OK)
        return r;
    cli_json_init(&o.j, stdout);
    if (o.json)
        cli_json_arr_begin(&o.j, NULL);
    r = cairn_fs_list(ctx->cairn, pool, ls_one, &o);
    if (o.json) {
        cli_json_arr_end(&o.j);
        if (r == 0)
            cli_json_finish(&o.j);
    }
    return r < 0 ? cli_fail_errno(ctx, r) : CLI_EXIT_OK;
}

static void check_print(struct cli_ctx *ctx, const char *name,
                        const struct cairn_fs_check_report *rep, uint64_t problems, bool clean)
{
    if (!ctx->json) {
        printf("volume %s\ninodes %" PRIu64 "\ndirectories %" PRIu64 "\nentries %" PRIu64
               "\norphans %" PRIu64 "\ndangling %" PRIu64 "\nbad_nlink %" PRIu64
               "\nintents %" PRIu64 "\nrepaired %" PRIu64 "\nstatus %s\n",
               name, rep->inodes, rep->directories, rep->entries, rep->orphans, rep->dangling,
               rep->bad_nlink, rep->intents, rep->repaired,
               problems == 0 ? "consistent" : clean ? "repaired" : "inconsistent");
        return;
    }
    struct cli_json j;
    cli_json_init(&j, stdout);
    cli_json_obj_begin(&j, NULL);
    cli_json_str(&j, "volume", name);
    cli_json_uint(&j, "inodes", rep->inodes);
    cli_json_uint(&j, "directories", rep->directories);
    cli_json_uint(&j, "entries", rep->entries);
    cli_json_uint(&j, "orphans", rep->orphans);
    cli_json_uint(&j, "dangling", rep->dangling);
    cli_json_uint(&j, "bad_nlink", rep->bad_nlink);
    cli_json_uint(&j, "intents", rep->intents);
    cli_json_uint(&j, "repaired", rep->repaired);
    cli_json_uint(&j, "problems", problems);
    cli_json_bool(&j, "consistent", problems == 0);
    cli_json_bool(&j, "clean", clean);
    cli_json_obj_end(&j);
    cli_json_finish(&j);
}

/* Exit 1 when problems remain that were not repaired. */
int cli_fs_check(struct cli_ctx *ctx, int argc, char **argv)
{
    struct fs_args a;
    struct cairn_fs_check_report rep;
    int32_t pool;
    uint64_t problems;
    bool clean;
    int r = fs_args(ctx, argc, argv, 1, true, &a);

    if (r != CLI_EXIT_OK ||
        (r = cli_pool_get(ctx, CAIRN_FS_DEFAULT_POOL, a.pool, false, &pool)) != CLI_EXIT_OK)
        return r;
    if ((r = cairn_fs_check(ctx->cairn, pool, a.name, a.repair, &rep)) < 0)
        return fs_fail(ctx, r);
    problems = rep.orphans + rep.dangling + rep.bad_nlink + rep.intents;
    clean = problems == 0 || (a.repair && rep.repaired >= problems);
    check_print(ctx, a.name, &rep, problems, clean);
    if (!clean)
        return cli_fail(ctx, "%" PRIu64 " problems remain%s", problems - rep.repaired,
                        a.repair ? "" : " (run with --repair)");
    return CLI_EXIT_OK;
}

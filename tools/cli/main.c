/* cairn: the admin CLI (docs/cli.md). Parses the global options (anywhere
 * on the line, up to a "--"), finds the command, connects through libcairn
 * when the command needs the cluster, and maps outcomes to the exit status
 * of DESIGN.md §8: 0 ok, 1 failed (one line on stderr), 2 usage. */
#include "common/log.h"
#include "tools/cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_cmd cmds[] = {
    {"status", NULL, "", "cluster summary: health, monitors, OSDs, pools, epoch", cli_status},
    {"health", NULL, "", "health status and its reasons", cli_health},
    {"mon", "ls", "", "monitors, their addresses, quorum and leader", cli_mon_ls},
    {"mon", "add", "NAME ADDR", "add monitor NAME at ADDR (HOST:PORT) to the map", cli_mon_add},
    {"mon", "rm", "NAME", "remove monitor NAME from the map", cli_mon_rm},
    {"osd", "ls", "", "OSDs: id, host, address, up/down, in/out, weight", cli_osd_ls},
    {"osd", "tree", "", "hosts and their OSDs", cli_osd_tree},
    {"osd", "map", "POOL NAME", "the PG, up set and primary of object NAME", cli_osd_map},
    {"osd", "in", "ID", "let osd.ID hold data", cli_osd_in},
    {"osd", "out", "ID", "move data off osd.ID", cli_osd_out},
    {"osd", "rm", "ID", "remove osd.ID (it must be down)", cli_osd_rm},
    {"osd", "reweight", "ID WEIGHT", "set osd.ID's weight (e.g. 1.5)", cli_osd_reweight},
    {"pool", "create", "NAME [--size N] [--min-size N] [--pg-num N] [--failure-domain host|osd]",
     "create a pool", cli_pool_create},
    {"pool", "ls", "", "pools and their properties", cli_pool_ls},
    {"pool", "rm", "NAME --yes-i-really-mean-it", "remove a pool and all its data", cli_pool_rm},
    {"pool", "set", "NAME KEY VALUE", "set size, min_size, pg_num or failure_domain", cli_pool_set},
    {"pg", "ls", "[--pool NAME]",
     "PGs: state, objects, missing, up and acting sets, last update, scrubs", cli_pg_ls},
    {"pg", "scrub", "PGID... | --pool NAME",
     "check PGs' copies (object lists, versions, sizes, xattrs); repair from a good one",
     cli_pg_scrub},
    {"pg", "deep-scrub", "PGID... | --pool NAME",
     "scrub, also reading every copy's data and omap against its checksums",
     cli_pg_deep_scrub},
    {"auth", "add", "ENTITY", "create ENTITY's key (or show the existing one)", cli_auth_add},
    {"auth", "get", "ENTITY", "print ENTITY's keyring section", cli_auth_get},
    {"auth", "rm", "ENTITY", "remove ENTITY's key", cli_auth_rm},
    {"auth", "ls", "", "entities with a key", cli_auth_ls},
    {"config", "set", "KEY VALUE", "set a cluster-wide config option", cli_config_set},
    {"config", "get", "KEY", "print a cluster-wide config option", cli_config_get},
    {"config", "rm", "KEY", "remove a cluster-wide config option", cli_config_rm},
    {"put", NULL, "POOL NAME [FILE]", "store FILE (default stdin) as object NAME", cli_put},
    {"get", NULL, "POOL NAME [FILE]", "write object NAME to FILE (default stdout)", cli_get},
    {"stat", NULL, "POOL NAME", "an object's size, mtime and version", cli_stat},
    {"rm", NULL, "POOL NAME", "remove object NAME", cli_rm},
    {"ls", NULL, "POOL", "the objects of POOL, one name per line", cli_ls},
    {"image", "create", "NAME --size SIZE [--pool POOL] [--object-size SIZE]",
     "create a thin block image (SIZE like 256M, 10G; pool 'images' by default)",
     cli_image_create},
    {"image", "ls", "[--pool POOL]", "the images of a pool", cli_image_ls},
    {"image", "info", "NAME [--pool POOL]", "an image's size, object size, id and allocation",
     cli_image_info},
    {"image", "resize", "NAME --size SIZE [--pool POOL]", "grow or shrink an image",
     cli_image_resize},
    {"image", "rm", "NAME [--pool POOL]", "remove an image and its data", cli_image_rm},
    {"image", "import", "FILE NAME [--pool POOL] [--object-size SIZE]",
     "create image NAME from FILE (- for stdin), keeping holes", cli_image_import},
    {"image", "export", "NAME [FILE] [--pool POOL]",
     "write image NAME to FILE (default stdout), holes as holes", cli_image_export},
    {"s3", "user create", "NAME [--pool POOL]",
     "create an S3 gateway user; prints its access and secret key (pool 's3' by default)",
     cli_s3_user_create},
    {"s3", "user ls", "[--pool POOL]", "S3 gateway users and their access keys",
     cli_s3_user_ls},
    {"s3", "user rm", "NAME [--pool POOL]", "remove an S3 user and its keys (not its buckets)",
     cli_s3_user_rm},
    {"s3", "user key", "NAME [--pool POOL]", "add an access key to an S3 user; prints it",
     cli_s3_user_key},
    {"s3", "gc", "[--pool POOL] [--older-than SECONDS] [--dry-run]",
     "remove S3 data no object, upload or bucket refers to (older than 3600 s by default)",
     cli_s3_gc},
    {"fs", "create", "NAME [--pool POOL]",
     "create a file-system volume (pool 'fs' by default, created on first use)", cli_fs_create},
    {"fs", "ls", "[--pool POOL]", "the file-system volumes of a pool", cli_fs_ls},
    {"fs", "rm", "NAME [--pool POOL]", "remove a file-system volume and all its files",
     cli_fs_rm},
    {"fs", "check", "NAME [--pool POOL] [--repair]",
     "check a volume nobody has mounted (exit 1 when problems remain); --repair fixes them",
     cli_fs_check},
    {"bench", NULL,
     "POOL write|read|cleanup [--size SIZE] [--threads N] [--seconds S] [--objects K]",
     "measure object write or read throughput and latency", cli_bench},
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void print_synopsis(FILE *out, const struct cli_cmd *c)
{
    char words[64];

    snprintf(words, sizeof(words), "%s%s%s", c->area, c->verb ? " " : "", c->verb ? c->verb : "");
    fprintf(out, "  cairn %s%s%s\n      %s\n", words, c->args[0] ? " " : "", c->args, c->summary);
}

static void usage(FILE *out, const char *area)
{
    fprintf(out, "usage: cairn [GLOBAL OPTIONS] COMMAND [ARGS]\n\n"
                 "Global options (anywhere on the line, before a \"--\"):\n"
                 "  -c, --conf FILE      config file (else $CAIRN_CONF, ./cairn.conf,\n"
                 "                       /etc/cairn/cairn.conf)\n"
                 "  -n, --name ENTITY    who we are (default client.admin)\n"
                 "      --json           machine-readable output (one JSON document)\n"
                 "      --timeout SECS   give up on the cluster after SECS (default:\n"
                 "                       config client_mount_timeout, 30 s)\n"
                 "  -v, --verbose        log connection events on stderr (twice: debug)\n"
                 "  -h, --help           this help (after a command: that command's)\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < N_CMDS; i++)
        if (!area || strcmp(area, cmds[i].area) == 0)
            print_synopsis(out, &cmds[i]);
    fprintf(out, "\nExit status: 0 success, 1 the operation failed (reason on stderr),\n"
                 "2 usage error. Details: docs/cli.md.\n");
}

/* ---- helpers for the commands ---- */

int cli_fail(struct cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "cairn: %s: ", ctx->what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_FAIL;
}

int cli_usage(struct cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    fputs("cairn: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (ctx->cmd) {
        fputs("usage:\n", stderr);
        print_synopsis(stderr, ctx->cmd);
    } else {
        usage(stderr, NULL);
    }
    return CLI_EXIT_USAGE;
}

int cli_want_args(struct cli_ctx *ctx, int argc, char **argv, int n)
{
    for (int i = 0; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] && (argv[i][1] < '0' || argv[i][1] > '9'))
            return cli_usage(ctx, "unknown option '%s'", argv[i]);
    if (argc < n)
        return cli_usage(ctx, "missing arguments");
    if (argc > n)
        return cli_usage(ctx, "too many arguments");
    return CLI_EXIT_OK;
}

int cli_parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end || errno || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int cli_connect(struct cli_ctx *ctx)
{
    char err[512] = "";
    struct cairn_connect_opts o = {.conf_path = ctx->conf,
                                   .entity = ctx->name,
                                   .timeout_ms = ctx->timeout_ms,
                                   .err = err,
                                   .err_len = sizeof(err)};

    if (ctx->cairn)
        return CLI_EXIT_OK;
    int r = cairn_connect_opts(&o, &ctx->cairn);
    if (r < 0) {
        fprintf(stderr, "cairn: %s\n", err[0] ? err : strerror(-r));
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

int cli_map(struct cli_ctx *ctx, struct proto_map **map)
{
    int r = cli_connect(ctx);

    if (r != CLI_EXIT_OK)
        return r;
    if ((r = cairn_map_get(ctx->cairn, map)) < 0)
        return cli_fail(ctx, "cannot get the cluster map: %s", strerror(-r));
    return CLI_EXIT_OK;
}

int cli_mon_command(struct cli_ctx *ctx, const struct proto_mon_cmd *cmd,
                    struct proto_mon_reply *reply)
{
    struct proto_mon_reply *own = NULL;
    int r = cli_connect(ctx);

    if (r != CLI_EXIT_OK)
        return r;
    if (!reply && !(reply = own = malloc(sizeof(*own))))
        return cli_fail(ctx, "%s", strerror(ENOMEM));
    r = cairn_mon_command(ctx->cairn, cmd, reply);
    if (r < 0)
        cli_fail(ctx, "%s", reply->message[0] ? reply->message : strerror(-r));
    free(own);
    return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_run(struct cli_ctx *ctx, const struct proto_mon_cmd *cmd, const char *done)
{
    struct proto_mon_reply *reply = malloc(sizeof(*reply));
    int r;

    if (!reply)
        return cli_fail(ctx, "%s", strerror(ENOMEM));
    r = cli_mon_command(ctx, cmd, reply);
    if (r == CLI_EXIT_OK && ctx->json)
        printf("{\"epoch\": %llu}\n", (unsigned long long)reply->epoch);
    else if (r == CLI_EXIT_OK)
        printf("%s (epoch %llu)\n", done, (unsigned long long)reply->epoch);
    free(reply);
    return r;
}

/* ---- global options ---- */

/* Parses SECONDS ("30", "2.5") into milliseconds. */
static int parse_timeout(const char *s, uint32_t *ms)
{
    char *end;
    double v;

    if (!s || !*s)
        return -EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (*end || errno || !(v > 0) || v > 86400.0 * 7)
        return -EINVAL;
    *ms = (uint32_t)(v * 1000.0 + 0.5);
    if (*ms == 0)
        *ms = 1;
    return 0;
}

/* Matches "-s", "--long" (value in the next argument) or "--long=VALUE".
 * 1 when matched (*val set for options with a value), 0 when not, -1 when
 * the value is missing. */
static int match_opt(int argc, char **argv, int *i, const char *s, const char *l, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(l);

    if (strncmp(a, l, n) == 0 && a[n] == '=' && val) {
        *val = a + n + 1;
        return 1;
    }
    if (strcmp(a, l) != 0 && (!s || strcmp(a, s) != 0))
        return 0;
    if (!val)
        return 1;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
}

struct globals {
    bool help;
    int verbose;
    const char *timeout;
};

/* Takes the global options out of @argv (compacting it); 0 or a usage error. */
static int parse_globals(struct cli_ctx *ctx, struct globals *g, int *argc, char **argv)
{
    int out = 1, m;
    bool rest = false;

    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (rest || a[0] != '-') {
            argv[out++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            rest = true;
        } else if ((m = match_opt(*argc, argv, &i, "-c", "--conf", &ctx->conf)) ||
                   (m = match_opt(*argc, argv, &i, "-n", "--name", &ctx->name)) ||
                   (m = match_opt(*argc, argv, &i, NULL, "--timeout", &g->timeout))) {
            if (m < 0)
                return cli_usage(ctx, "option %s needs a value", a);
        } else if (strcmp(a, "--json") == 0) {
            ctx->json = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            g->help = true;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            g->verbose++;
        } else if (strcmp(a, "-vv") == 0) {
            g->verbose += 2;
        } else {
            argv[out++] = argv[i]; /* a command's own option */
        }
    }
    *argc = out;
    argv[out] = NULL;
    if (g->timeout && parse_timeout(g->timeout, &ctx->timeout_ms) < 0)
        return cli_usage(ctx, "bad --timeout '%s' (seconds, e.g. 30 or 2.5)", g->timeout);
    return CLI_EXIT_OK;
}

static void set_logging(int verbose)
{
    cairn_log_set_entity("cairn");
    cairn_log_set_level(verbose ? CAIRN_LOG_INFO : CAIRN_LOG_ERROR);
    if (verbose > 1)
        cairn_log_set_debug("all");
}

/* ---- dispatch ---- */

static bool area_exists(const char *area)
{
    for (size_t i = 0; i < N_CMDS; i++)
        if (strcmp(cmds[i].area, area) == 0)
            return true;
    return false;
}

/* Whether argv[2] (and argv[3]) spell @verb, which may be two words
 * ("user create"); *@nwords = words used, the area's included. */
static bool verb_matches(const char *verb, int argc, char **argv, int *nwords)
{
    const char *sp = strchr(verb, ' ');
    size_t n = sp ? (size_t)(sp - verb) : strlen(verb);

    if (argc <= 2 || strlen(argv[2]) != n || strncmp(verb, argv[2], n) != 0)
        return false;
    if (sp && (argc <= 3 || strcmp(sp + 1, argv[3]) != 0))
        return false;
    *nwords = sp ? 3 : 2;
    return true;
}

/* Finds the command named by argv[1] (and argv[2], argv[3]); *@nwords =
 * words used. */
static const struct cli_cmd *find_cmd(int argc, char **argv, int *nwords)
{
    for (size_t i = 0; i < N_CMDS; i++) {
        if (strcmp(cmds[i].area, argv[1]) != 0)
            continue;
        if (!cmds[i].verb) {
            *nwords = 1;
            return &cmds[i];
        }
        if (verb_matches(cmds[i].verb, argc, argv, nwords))
            return &cmds[i];
    }
    return NULL;
}

/* "pool create rbd": the command's words and its first argument. */
static void set_what(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_cmd *c = ctx->cmd;

    snprintf(ctx->what, sizeof(ctx->what), "%s%s%s%s%.64s", c->area, c->verb ? " " : "",
             c->verb ? c->verb : "", argc > 0 && argv[0][0] != '-' ? " " : "",
             argc > 0 && argv[0][0] != '-' ? argv[0] : "");
}

static int dispatch(struct cli_ctx *ctx, const struct globals *g, int argc, char **argv)
{
    int nwords = 0;

    if (argc < 2 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 && !g->help ? stderr : stdout, NULL);
        return argc < 2 && !g->help ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    ctx->cmd = find_cmd(argc, argv, &nwords);
    if (!ctx->cmd) {
        bool area = area_exists(argv[1]);
        if (area && g->help && argc == 2) {
            usage(stdout, argv[1]);
            return CLI_EXIT_OK;
        }
        fprintf(stderr, "cairn: unknown command '%s%s%s'\n", argv[1], area && argc > 2 ? " " : "",
                area && argc > 2 ? argv[2] : "");
        usage(stderr, area ? argv[1] : NULL);
        return CLI_EXIT_USAGE;
    }
    if (g->help) {
        printf("usage:\n");
        print_synopsis(stdout, ctx->cmd);
        return CLI_EXIT_OK;
    }
    argc -= 1 + nwords;
    argv += 1 + nwords;
    set_what(ctx, argc, argv);
    return ctx->cmd->run(ctx, argc, argv);
}

int main(int argc, char **argv)
{
    struct cli_ctx ctx = {0};
    struct globals g = {0};
    int r;

    if ((r = parse_globals(&ctx, &g, &argc, argv)) != CLI_EXIT_OK)
        return r;
    set_logging(g.verbose);
    r = dispatch(&ctx, &g, argc, argv);
    cairn_shutdown(ctx.cairn);
    fflush(stdout);
    if (ferror(stdout)) {
        fprintf(stderr, "cairn: error writing the output\n");
        return CLI_EXIT_FAIL;
    }
    return r;
}

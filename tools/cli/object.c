/* `cairn put|get|stat|rm|ls`: objects through libcairn (client/cairn.h).
 * put sends an object of up to CAIRN_OP_DATA_MAX bytes in one write_full
 * (atomic), larger ones in CLI_CHUNK steps; get reads CLI_CHUNK at a time. */
#include "tools/cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CLI_CHUNK (4u << 20)

/* ---- shared ---- */

int cli_fail_errno(struct cli_ctx *ctx, int err)
{
    char why[512];

    cairn_error_string(ctx->cairn, err, why, sizeof(why));
    return cli_fail(ctx, "%s", why);
}

int cli_pool_open(struct cli_ctx *ctx, const char *name, int32_t *pool)
{
    int r = cli_connect(ctx);

    if (r != CLI_EXIT_OK)
        return r;
    if ((r = cairn_pool_lookup(ctx->cairn, name, pool)) == -ENOENT)
        return cli_fail(ctx, "pool '%s' does not exist", name);
    if (r < 0)
        return cli_fail_errno(ctx, r);
    return CLI_EXIT_OK;
}

/* POOL NAME [FILE] with the name's limits checked; "put rbd/obj" as the
 * failure prefix. */
static int object_args(struct cli_ctx *ctx, int argc, char **argv, int min, int max)
{
    for (int i = 0; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage(ctx, "unknown option '%s'", argv[i]);
    if (argc < min)
        return cli_usage(ctx, "missing arguments");
    if (argc > max)
        return cli_usage(ctx, "too many arguments");
    size_t n = strlen(argv[1]);
    if (n == 0 || n > CAIRN_OID_MAX)
        return cli_usage(ctx, "bad object name: %zu bytes (1 to %u)", n, CAIRN_OID_MAX);
    snprintf(ctx->what, sizeof(ctx->what), "%s %.64s/%.64s%s", ctx->cmd->area, argv[0], argv[1],
             n > 64 ? "..." : "");
    return CLI_EXIT_OK;
}

ssize_t cli_read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int cli_write_full(int fd, const void *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        ssize_t n = write(fd, (const char *)buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        off += (size_t)n;
    }
    return 0;
}

/* ---- put ---- */

/* The chunked path: the first op truncates and writes, so a failure
 * midway leaves a shorter object, never a mix of old and new bytes. */
static int put_chunked(struct cli_ctx *ctx, int32_t pool, const char *oid, int fd, char *buf,
                       size_t have)
{
    uint64_t off = 0;
    int r = 0;

    for (;;) {
        /* Send what is buffered, CLI_CHUNK at a time, then read more. */
        for (size_t done = 0; done < have && r == 0; done += CLI_CHUNK) {
            size_t n = have - done < CLI_CHUNK ? have - done : CLI_CHUNK;
            struct cairn_op *op = cairn_op_create();
            if (!op)
                return cli_fail(ctx, "%s", strerror(ENOMEM));
            if (off == 0)
                r = cairn_op_truncate(op, 0);
            if (r == 0)
                r = cairn_op_write(op, off, buf + done, n);
            if (r == 0)
                r = cairn_op_exec(ctx->cairn, pool, oid, op);
            cairn_op_destroy(op);
            off += n;
        }
        if (r < 0)
            return cli_fail_errno(ctx, r);
        ssize_t got = cli_read_full(fd, buf, CLI_CHUNK);
        if (got < 0)
            return cli_fail(ctx, "reading the input: %s", strerror((int)-got));
        if (got == 0)
            return CLI_EXIT_OK;
        have = (size_t)got;
    }
}

int cli_put(struct cli_ctx *ctx, int argc, char **argv)
{
    int32_t pool;
    int fd = 0, r = object_args(ctx, argc, argv, 2, 3);

    if (r != CLI_EXIT_OK)
        return r;
    if (argc == 3 && strcmp(argv[2], "-") != 0 && (fd = open(argv[2], O_RDONLY | O_CLOEXEC)) < 0)
        return cli_fail(ctx, "%s: %s", argv[2], strerror(errno));
    if ((r = cli_pool_open(ctx, argv[0], &pool)) != CLI_EXIT_OK) {
        if (fd > 0)
            close(fd);
        return r;
    }
    /* One byte over the op limit tells the single-op path from the chunked. */
    char *buf = malloc((size_t)CAIRN_OP_DATA_MAX + 1);
    ssize_t got = buf ? cli_read_full(fd, buf, (size_t)CAIRN_OP_DATA_MAX + 1) : -ENOMEM;
    if (got < 0) {
        r = cli_fail(ctx, "reading %s: %s", argc == 3 ? argv[2] : "stdin", strerror((int)-got));
    } else if (got <= (ssize_t)CAIRN_OP_DATA_MAX) {
        int e = cairn_write_full(ctx->cairn, pool, argv[1], buf, (size_t)got);
        r = e < 0 ? cli_fail_errno(ctx, e) : CLI_EXIT_OK;
    } else {
        r = put_chunked(ctx, pool, argv[1], fd, buf, (size_t)got);
    }
    free(buf);
    if (fd > 0)
        close(fd);
    return r;
}

/* ---- get ---- */

int cli_get(struct cli_ctx *ctx, int argc, char **argv)
{
    const char *path = argc == 3 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
    uint64_t off = 0;
    int32_t pool;
    int fd = -1, r = object_args(ctx, argc, argv, 2, 3);
    char *buf;

    if (r != CLI_EXIT_OK || (r = cli_pool_open(ctx, argv[0], &pool)) != CLI_EXIT_OK)
        return r;
    if (!(buf = malloc(CLI_CHUNK)))
        return cli_fail(ctx, "%s", strerror(ENOMEM));
    for (;;) {
        size_t n = 0;
        int e = cairn_read(ctx->cairn, pool, argv[1], off, CLI_CHUNK, buf, &n);
        if (e < 0) {
            r = e == -ENOENT ? cli_fail(ctx, "no such object") : cli_fail_errno(ctx, e);
            break;
        }
        /* The file is created only once the object was found. */
        if (fd < 0 &&
            (fd = path ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666) : 1) < 0) {
            r = cli_fail(ctx, "%s: %s", path, strerror(errno));
            break;
        }
        if ((e = cli_write_full(fd, buf, n)) < 0) {
            r = cli_fail(ctx, "writing %s: %s", path ? path : "stdout", strerror(-e));
            break;
        }
        off += n;
        if (n < CLI_CHUNK)
            break;
    }
    if (fd > 1 && close(fd) < 0 && r == CLI_EXIT_OK)
        r = cli_fail(ctx, "%s: %s", path, strerror(errno));
    free(buf);
    return r;
}

/* ---- stat, rm ---- */

static void format_time(uint64_t ns, char *buf, size_t len)
{
    time_t s = (time_t)(ns / 1000000000u);
    struct tm tm;
    char base[32];

    gmtime_r(&s, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03uZ", base, (unsigned)(ns % 1000000000u / 1000000u));
}

int cli_stat(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cairn_stat st;
    char when[64];
    int32_t pool;
    int r = object_args(ctx, argc, argv, 2, 2);

    if (r != CLI_EXIT_OK || (r = cli_pool_open(ctx, argv[0], &pool)) != CLI_EXIT_OK)
        return r;
    if ((r = cairn_stat(ctx->cairn, pool, argv[1], &st)) < 0)
        return r == -ENOENT ? cli_fail(ctx, "no such object") : cli_fail_errno(ctx, r);
    format_time(st.mtime_ns, when, sizeof(when));
    if (ctx->json) {
        struct cli_json j;
        cli_json_init(&j, stdout);
        cli_json_obj_begin(&j, NULL);
        cli_json_str(&j, "pool", argv[0]);
        cli_json_str(&j, "name", argv[1]);
        cli_json_uint(&j, "size", st.size);
        cli_json_uint(&j, "mtime_ns", st.mtime_ns);
        cli_json_str(&j, "mtime", when);
        cli_json_uint(&j, "version", st.version);
        cli_json_obj_end(&j);
        cli_json_finish(&j);
    } else {
        printf("%s/%s size %llu mtime %s version %llu\n", argv[0], argv[1],
               (unsigned long long)st.size, when, (unsigned long long)st.version);
    }
    return CLI_EXIT_OK;
}

int cli_rm(struct cli_ctx *ctx, int argc, char **argv)
{
    int32_t pool;
    int r = object_args(ctx, argc, argv, 2, 2);

    if (r != CLI_EXIT_OK || (r = cli_pool_open(ctx, argv[0], &pool)) != CLI_EXIT_OK)
        return r;
    if ((r = cairn_remove(ctx->cairn, pool, argv[1])) < 0)
        return r == -ENOENT ? cli_fail(ctx, "no such object") : cli_fail_errno(ctx, r);
    return CLI_EXIT_OK;
}

/* ---- ls ---- */

void cli_names_begin(struct cli_ctx *ctx, struct cli_names *ns)
{
    ns->json = ctx->json;
    cli_json_init(&ns->j, stdout);
    if (ns->json)
        cli_json_arr_begin(&ns->j, NULL);
}

int cli_names_add(const char *name, void *arg)
{
    struct cli_names *ns = arg;

    if (ns->json)
        cli_json_str(&ns->j, NULL, name);
    else
        printf("%s\n", name);
    return 0;
}

void cli_names_end(struct cli_names *ns, bool ok)
{
    if (!ns->json)
        return;
    cli_json_arr_end(&ns->j);
    if (ok)
        cli_json_finish(&ns->j);
}

int cli_list_all(struct cli_ctx *ctx, int32_t pool, cairn_list_fn fn, void *arg)
{
    struct cairn_list_cursor *cur = calloc(1, sizeof(*cur));
    int r = cur ? 0 : -ENOMEM;

    while (r == 0 && !cur->done)
        r = cairn_list(ctx->cairn, pool, cur, 0, fn, arg);
    free(cur);
    return r;
}

int cli_ls(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_names ns;
    int32_t pool;
    int r = cli_want_args(ctx, argc, argv, 1);

    if (r != CLI_EXIT_OK || (r = cli_pool_open(ctx, argv[0], &pool)) != CLI_EXIT_OK)
        return r;
    cli_names_begin(ctx, &ns);
    r = cli_list_all(ctx, pool, cli_names_add, &ns);
    cli_names_end(&ns, r == 0);
    return r < 0 ? cli_fail_errno(ctx, r) : CLI_EXIT_OK;
}

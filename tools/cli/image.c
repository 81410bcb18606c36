/* `cairn image create|ls|info|resize|rm`: block images through libcairn
 * (client/image.h). The data commands, import and export, are in
 * image_xfer.c; both share the argument parsing and pool handling here. */
#include "common/config.h"
#include "tools/cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- shared ---- */

int cli_image_args(struct cli_ctx *ctx, int argc, char **argv, struct cli_image_args *a,
                   unsigned flags, int min, int max)
{
    const char *size = NULL, *object_size = NULL;

    a->pool = CAIRN_IMAGE_DEFAULT_POOL;
    a->n = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], **val = NULL;
        if (strcmp(arg, "--pool") == 0)
            val = &a->pool;
        else if (strcmp(arg, "--size") == 0 && (flags & CLI_IMAGE_SIZE))
            val = &size;
        else if (strcmp(arg, "--object-size") == 0 && (flags & CLI_IMAGE_OBJECT_SIZE))
            val = &object_size;
        else if (arg[0] == '-' && arg[1])
            return cli_usage(ctx, "unknown option '%s'", arg);
        if (val && i + 1 >= argc)
            return cli_usage(ctx, "%s needs a value", arg);
        if (val)
            *val = argv[++i];
        else if (a->n >= CLI_IMAGE_ARGS_MAX || a->n >= max)
            return cli_usage(ctx, "too many arguments");
        else
            a->pos[a->n++] = arg;
    }
    if (a->n < min)
        return cli_usage(ctx, "missing arguments");
    if ((flags & CLI_IMAGE_SIZE) && !size)
        return cli_usage(ctx, "--size is required");
    if (size && (cairn_parse_size(size, &a->size) < 0 || a->size > CAIRN_IMAGE_SIZE_MAX))
        return cli_usage(ctx, "bad --size '%s' (bytes, or with K, M, G, T or P: 256M, 10G)",
                         size);
    a->object_size = 0;
    if (object_size) {
        uint64_t os;
        if (cairn_parse_size(object_size, &os) < 0 || os < CAIRN_IMAGE_OBJECT_SIZE_MIN ||
            os > CAIRN_IMAGE_OBJECT_SIZE_MAX || (os & (os - 1)))
            return cli_usage(ctx, "bad --object-size '%s' (a power of two, 64K to 64M)",
                             object_size);
        a->object_size = (uint32_t)os;
    }
    return CLI_EXIT_OK;
}

int cli_image_fail(struct cli_ctx *ctx, int err)
{
    /* Sizes were checked while parsing: what is left is the name. */
    if (err == -EINVAL)
        return cli_usage(ctx, "bad image name (1 to %u of [A-Za-z0-9_.+@=-], no leading '.')",
                         CAIRN_IMAGE_NAME_MAX);
    if (err == -ENOENT)
        return cli_fail(ctx, "no such image");
    if (err == -EEXIST)
        return cli_fail(ctx, "the image already exists");
    if (err == -EBADMSG)
        return cli_fail(ctx, "the image's header is damaged");
    return cli_fail_errno(ctx, err);
}

int cli_image_open(struct cli_ctx *ctx, const struct cli_image_args *a, const char *name,
                   struct cairn_image **img)
{
    int32_t pool;
    int r = cli_pool_get(ctx, CAIRN_IMAGE_DEFAULT_POOL, a->pool, false, &pool);

    if (r != CLI_EXIT_OK)
        return r;
    if ((r = cairn_image_open(ctx->cairn, pool, name, img)) < 0)
        return cli_image_fail(ctx, r);
    return CLI_EXIT_OK;
}

/* ---- create, rm, resize ---- */

int cli_image_create(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_image_args a;
    int32_t pool;
    int r = cli_image_args(ctx, argc, argv, &a, CLI_IMAGE_SIZE | CLI_IMAGE_OBJECT_SIZE, 1, 1);

    if (r != CLI_EXIT_OK)
        return r;
    if ((r = cli_pool_get(ctx, CAIRN_IMAGE_DEFAULT_POOL, a.pool, true, &pool)) != CLI_EXIT_OK)
        return r;
    r = cairn_image_create(ctx->cairn, pool, a.pos[0], a.size, a.object_size);
    return r < 0 ? cli_image_fail(ctx, r) : CLI_EXIT_OK;
}

int cli_image_rm(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_image_args a;
    int32_t pool;
    int r = cli_image_args(ctx, argc, argv, &a, 0, 1, 1);

    if (r != CLI_EXIT_OK ||
        (r = cli_pool_get(ctx, CAIRN_IMAGE_DEFAULT_POOL, a.pool, false, &pool)) != CLI_EXIT_OK)
        return r;
    if ((r = cairn_image_remove(ctx->cairn, pool, a.pos[0])) < 0)
        return cli_image_fail(ctx, r);
    return CLI_EXIT_OK;
}

int cli_image_resize(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_image_args a;
    struct cairn_image *img;
    int r = cli_image_args(ctx, argc, argv, &a, CLI_IMAGE_SIZE, 1, 1);

    if (r != CLI_EXIT_OK || (r = cli_image_open(ctx, &a, a.pos[0], &img)) != CLI_EXIT_OK)
        return r;
    r = cairn_image_resize(img, a.size);
    cairn_image_close(img);
    return r < 0 ? cli_image_fail(ctx, r) : CLI_EXIT_OK;
}

/* ---- ls ---- */

int cli_image_ls(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_image_args a;
    struct cli_names ns;
    int32_t pool;
    int r = cli_image_args(ctx, argc, argv, &a, 0, 0, 0);

    if (r != CLI_EXIT_OK ||
        (r = cli_pool_get(ctx, CAIRN_IMAGE_DEFAULT_POOL, a.pool, false, &pool)) != CLI_EXIT_OK)
        return r;
    cli_names_begin(ctx, &ns);
    r = cairn_image_list(ctx->cairn, pool, cli_names_add, &ns);
    cli_names_end(&ns, r == 0);
    return r < 0 ? cli_fail_errno(ctx, r) : CLI_EXIT_OK;
}

/* ---- info ---- */

static int count_data(uint64_t off, uint64_t len, bool data, void *arg)
{
    (void)off;
    if (data)
        *(uint64_t *)arg += len;
    return 0;
}

static void print_info(struct cli_ctx *ctx, const char *pool, const struct cairn_image_info *in,
                       uint64_t allocated)
{
    char id[17], when[32];
    time_t s = (time_t)(in->created_ns / 1000000000u);
    struct tm tm;

    snprintf(id, sizeof(id), "%016" PRIx64, in->id);
    gmtime_r(&s, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!ctx->json) {
        printf("image %s\npool %s\nsize %" PRIu64 "\nobject_size %u\nid %s\ncreated %s\n"
               "allocated %" PRIu64 "\n",
               in->name, pool, in->size, in->object_size, id, when, allocated);
        return;
    }
    struct cli_json j;
    cli_json_init(&j, stdout);
    cli_json_obj_begin(&j, NULL);
    cli_json_str(&j, "name", in->name);
    cli_json_str(&j, "pool", pool);
    cli_json_uint(&j, "size", in->size);
    cli_json_uint(&j, "object_size", in->object_size);
    cli_json_str(&j, "id", id);
    cli_json_uint(&j, "created_ns", in->created_ns);
    cli_json_str(&j, "created", when);
    cli_json_uint(&j, "allocated", allocated);
    cli_json_obj_end(&j);
    cli_json_finish(&j);
}

int cli_image_info(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_image_args a;
    struct cairn_image_info info;
    struct cairn_image *img;
    uint64_t allocated = 0;
    int r = cli_image_args(ctx, argc, argv, &a, 0, 1, 1);

    if (r != CLI_EXIT_OK || (r = cli_image_open(ctx, &a, a.pos[0], &img)) != CLI_EXIT_OK)
        return r;
    r = cairn_image_stat(img, &info);
    if (r == 0 && info.size)
        r = cairn_image_map(img, 0, info.size, count_data, &allocated);
    cairn_image_close(img);
    if (r < 0)
        return cli_image_fail(ctx, r);
    print_info(ctx, a.pool, &info, allocated);
    return CLI_EXIT_OK;
}

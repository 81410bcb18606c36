/* Writes the seed corpus of the osd_op fuzz target: encoded ops (reads,
 * writes with payloads, xattr guards and atomics, omap, one of every step),
 * replies (reads, attributes, a failure, a misdirection), a listing, a
 * listing reply, PG commands (scrub, deep-scrub) and their replies (clean,
 * repaired, busy) and a ping, one file each, as fuzz_osd_op.c reads them: the
 * frame's data length (u64, little-endian), then the metadata. Run by hand
 * after a schema change:  fuzz_osd_op_gen_corpus tests/fuzz/corpus/osd_op */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/osd_op.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *out_dir;

/* Writes @data_len and the @len bytes of @buf (freed here) to @name. */
static int write_seed(const char *name, uint64_t data_len, uint8_t *buf, size_t len)
{
    char path[4096];
    uint8_t head[8];

    for (int i = 0; i < 8; i++)
        head[i] = (uint8_t)(data_len >> (8 * i));
    snprintf(path, sizeof(path), "%s/%s", out_dir, name);
    FILE *fp = fopen(path, "wb");
    int r = !fp || fwrite(head, 1, sizeof(head), fp) != sizeof(head) ||
            fwrite(buf, 1, len, fp) != len;
    if (fp && fclose(fp) != 0)
        r = 1;
    if (r)
        perror(path);
    free(buf);
    return r;
}

/* An op on "rbd_data.7" with @n steps; @data_len is its write payloads. */
static int write_op(const char *name, const struct proto_osd_step *steps, size_t n,
                    uint64_t data_len)
{
    static struct proto_osd_op op;
    uint8_t *buf;
    size_t len;

    proto_osd_op_init(&op);
    op.epoch = 42;
    op.pool = 1;
    op.pg = 0x1f;
    snprintf(op.oid, sizeof(op.oid), "rbd_data.7");
    op.client_id = 0x5eed5eed5eedull;
    op.tid = 7;
    op.n_steps = (uint32_t)n;
    memcpy(op.steps, steps, n * sizeof(*steps));
    if (proto_osd_op_encode(&op, &buf, &len) != 0) {
        fprintf(stderr, "%s: encode failed\n", name);
        return 1;
    }
    return write_seed(name, data_len, buf, len);
}

static int write_ops(void)
{
    const struct proto_osd_step read[] = {
        {.type = PROTO_OSD_STAT},
        {.type = PROTO_OSD_READ, .off = 4096, .len = 65536},
    };
    const struct proto_osd_step write[] = {
        {.type = PROTO_OSD_ASSERT_VERSION, .version = 9},
        {.type = PROTO_OSD_WRITE, .off = 512, .len = 4, .crc = 0x1234},
        {.type = PROTO_OSD_WRITE, .off = 8192, .len = 2, .crc = 0x5678},
    };
    const struct proto_osd_step xattr[] = {
        {.type = PROTO_OSD_CMPXATTR, .flags = PROTO_OSD_F_ABSENT, .name = "lock", .name_len = 4},
        {.type = PROTO_OSD_SETXATTR, .name = "lock", .name_len = 4, .value = "me", .value_len = 2},
        {.type = PROTO_OSD_COUNTER_ADD, .name = "refs", .name_len = 4, .delta = -1},
        {.type = PROTO_OSD_SET_IF_GREATER, .name = "seq", .name_len = 3, .version = 100},
    };
    const struct proto_osd_step omap[] = {
        {.type = PROTO_OSD_OMAP_SET, .name = "k1", .name_len = 2, .value = "v", .value_len = 1},
        {.type = PROTO_OSD_OMAP_CAS, .name = "k2", .name_len = 2, .value = "a", .value_len = 1,
         .value2 = "b", .value2_len = 1},
        {.type = PROTO_OSD_OMAP_CAS, .flags = PROTO_OSD_F_DELETE, .name = "k3", .name_len = 2,
         .value = "c", .value_len = 1},
        {.type = PROTO_OSD_OMAP_RM, .name = "k4", .name_len = 2},
        {.type = PROTO_OSD_OMAP_GET, .name = "k1", .name_len = 2},
        {.type = PROTO_OSD_OMAP_LIST, .name = "k", .name_len = 1, .max = 100},
    };
    const struct proto_osd_step lifecycle[] = {
        {.type = PROTO_OSD_CREATE, .flags = PROTO_OSD_F_EXCL},
        {.type = PROTO_OSD_WRITE_FULL, .len = 3, .crc = 0xabc},
        {.type = PROTO_OSD_TRUNCATE, .off = 2},
        {.type = PROTO_OSD_ZERO, .off = 0, .len = 1},
        {.type = PROTO_OSD_RMXATTR, .name = "old", .name_len = 3},
        {.type = PROTO_OSD_OMAP_CLEAR},
        {.type = PROTO_OSD_GETXATTRS},
        {.type = PROTO_OSD_GETXATTR, .name = "lock", .name_len = 4},
    };
    const struct proto_osd_step remove[] = {
        {.type = PROTO_OSD_ASSERT_EXISTS},
        {.type = PROTO_OSD_REMOVE},
    };
    int r = write_op("op-read.bin", read, ARRAY_LEN(read), 0);
    r |= write_op("op-write.bin", write, ARRAY_LEN(write), 6);
    r |= write_op("op-xattr.bin", xattr, ARRAY_LEN(xattr), 0);
    r |= write_op("op-omap.bin", omap, ARRAY_LEN(omap), 0);
    r |= write_op("op-lifecycle.bin", lifecycle, ARRAY_LEN(lifecycle), 3);
    r |= write_op("op-remove.bin", remove, ARRAY_LEN(remove), 0);
    return r;
}

static int write_reply(const char *name, const struct proto_osd_reply *reply, uint64_t data_len)
{
    uint8_t *buf;
    size_t len;

    if (proto_osd_reply_encode(reply, &buf, &len) != 0) {
        fprintf(stderr, "%s: encode failed\n", name);
        return 1;
    }
    return write_seed(name, data_len, buf, len);
}

static int write_replies(void)
{
    static const struct proto_osd_kv entries[] = {
        {"lock", 4, "me", 2},
        {"refs", 4, "\1\0\0\0\0\0\0\0", 8},
    };
    struct proto_osd_step_result reads[] = {
        {.size = 70000, .mtime_ns = 1700000000000000000ull},
        {.len = 5, .crc = 0xfeed},
        {.len = 3, .crc = 0xbeef},
    };
    struct proto_osd_step_result attrs[] = {
        {.has_value = true, .value = "me", .value_len = 2},
        {.n_entries = ARRAY_LEN(entries), .entries = (struct proto_osd_kv *)entries},
        {.n_entries = 1, .entries = (struct proto_osd_kv *)entries, .more = true},
        {.num = 41},
        {.has_value = true},
    };
    struct proto_osd_reply reply;

    proto_osd_reply_init(&reply);
    reply.epoch = 42;
    reply.version = 10;
    reply.n_results = ARRAY_LEN(reads);
    reply.results = reads;
    int r = write_reply("reply-read.bin", &reply, 8);
    reply.n_results = ARRAY_LEN(attrs);
    reply.results = attrs;
    r |= write_reply("reply-attrs.bin", &reply, 0);

    proto_osd_reply_init(&reply);
    reply.result = -ECANCELED;
    reply.failed_step = 1;
    reply.epoch = 42;
    snprintf(reply.message, sizeof(reply.message), "step 1: xattr lock differs");
    r |= write_reply("reply-failed.bin", &reply, 0);

    proto_osd_reply_init(&reply);
    reply.result = -ESTALE;
    reply.epoch = 43;
    r |= write_reply("reply-estale.bin", &reply, 0);
    return r;
}

static int write_listing(void)
{
    static const char *names[] = {"a", "rbd_data.7", "zz"};
    struct proto_osd_list list;
    struct proto_osd_list_reply reply = {
        .epoch = 42, .n_names = ARRAY_LEN(names), .names = names, .more = true};
    struct proto_osd_ping ping = {.epoch = 42, .stamp_ns = 123456789};
    uint8_t *buf;
    size_t len;
    int r = 0;

    proto_osd_list_init(&list);
    list.epoch = 42;
    list.pool = 1;
    list.pg = 0x1f;
    snprintf(list.after, sizeof(list.after), "rbd_data.6");
    list.max = 100;
    r |= proto_osd_list_encode(&list, &buf, &len) != 0 || write_seed("list.bin", 0, buf, len);
    r |= proto_osd_list_reply_encode(&reply, &buf, &len) != 0 ||
         write_seed("list-reply.bin", 0, buf, len);
    r |= proto_osd_ping_encode(&ping, &buf, &len) != 0 || write_seed("ping.bin", 0, buf, len);
    return r;
}

static int write_pg_cmds(void)
{
    struct proto_osd_pg_cmd cmd;
    struct proto_osd_pg_cmd_reply reply = {.epoch = 42, .objects = 37, .duration_ms = 412};
    uint8_t *buf;
    size_t len;
    int r = 0;

    proto_osd_pg_cmd_init(&cmd);
    cmd.epoch = 42;
    cmd.pool = 1;
    cmd.pg = 0x1f;
    cmd.op = PROTO_OSD_PG_SCRUB;
    r |= proto_osd_pg_cmd_encode(&cmd, &buf, &len) != 0 || write_seed("pg-scrub.bin", 0, buf, len);
    cmd.op = PROTO_OSD_PG_DEEP_SCRUB;
    r |= proto_osd_pg_cmd_encode(&cmd, &buf, &len) != 0 ||
         write_seed("pg-deep-scrub.bin", 0, buf, len);
    r |= proto_osd_pg_cmd_reply_encode(&reply, &buf, &len) != 0 ||
         write_seed("pg-scrub-reply.bin", 0, buf, len);
    reply.inconsistent = 2;
    reply.repaired = 1;
    snprintf(reply.message, sizeof(reply.message), "1 object could not be repaired");
    r |= proto_osd_pg_cmd_reply_encode(&reply, &buf, &len) != 0 ||
         write_seed("pg-scrub-reply-repaired.bin", 0, buf, len);
    reply = (struct proto_osd_pg_cmd_reply){.result = -EBUSY, .epoch = 43};
    snprintf(reply.message, sizeof(reply.message), "pg 1.1f is not active+clean");
    r |= proto_osd_pg_cmd_reply_encode(&reply, &buf, &len) != 0 ||
         write_seed("pg-scrub-reply-busy.bin", 0, buf, len);
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    int r = write_ops();
    r |= write_replies();
    r |= write_listing();
    r |= write_pg_cmds();
    return r;
}

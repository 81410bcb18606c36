/* Writes the seed corpus of the osd_peer fuzz target: one encoded message
 * per op (requests and replies: a QUERY reply with info, a LOG_GET reply
 * with entries, a SCAN reply with names, a PULL reply with xattrs and omap,
 * a PUSH, an ACTIVATE with entries, a REPOP with every txn type, a failed
 * reply), one file each, as fuzz_osd_peer.c reads them: the frame's data
 * length (u64, little-endian), then the metadata. Run by hand after a schema
 * change:  fuzz_osd_peer_gen_corpus tests/fuzz/corpus/osd_peer */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/osd_peer.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define B(s) ((struct proto_bytes){(const uint8_t *)(s), sizeof(s) - 1})

static const char *out_dir;

/* Encodes @m and writes @data_len and the metadata to @name. */
static int write_seed(const char *name, const struct proto_osd_peer *m, uint64_t data_len)
{
    char path[4096];
    uint8_t head[8], *buf;
    size_t len;

    if (proto_osd_peer_encode(m, &buf, &len) != 0) {
        fprintf(stderr, "%s: encode failed\n", name);
        return 1;
    }
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

static const uint8_t stored_reply[] = {0x08, 0x01, 0x18, 0x2a};
static const struct proto_pg_log_entry entries[] = {
    {.version = 5ull << 32 | 1, .op = PROTO_PG_LOG_MODIFY, .oid = B("rbd_data.7"),
     .client_id = 0x5eed5eed5eedull, .tid = 7, .reply = {stored_reply, sizeof(stored_reply)}},
    {.version = 5ull << 32 | 2, .op = PROTO_PG_LOG_DELETE, .oid = B("rbd_data.8"),
     .client_id = 0x5eed5eed5eedull, .tid = 8},
};
static const struct proto_bytes names[] = {B("a"), B("rbd_data.7"), B("zz")};
static uint64_t versions[] = {4ull << 32 | 1, 5ull << 32 | 1, 5ull << 32 | 2};
static const struct proto_peer_kv xattrs[] = {{B("_"), B("oi")}, {B("user.lock"), B("me")}};
static const struct proto_peer_kv omap[] = {
    {B("k1"), B("v1")},
    {{(const uint8_t *)"k\0", 2}, B("")},
};
static const struct proto_txn_op txn[] = {
    {.type = PROTO_TXN_TOUCH, .oid = B("o")},
    {.type = PROTO_TXN_CREATE_EXCL, .oid = B("o")},
    {.type = PROTO_TXN_WRITE, .oid = B("o"), .off = 512, .len = 4},
    {.type = PROTO_TXN_ZERO, .oid = B("o"), .off = 0, .len = 512},
    {.type = PROTO_TXN_TRUNCATE, .oid = B("o"), .off = 4096},
    {.type = PROTO_TXN_REMOVE, .oid = B("p")},
    {.type = PROTO_TXN_SETXATTR, .oid = B("o"), .key = B("_"), .val = B("oi")},
    {.type = PROTO_TXN_RMXATTR, .oid = B("o"), .key = B("user.old")},
    {.type = PROTO_TXN_OMAP_SET, .oid = B("o"), .key = B("k"), .val = B("v")},
    {.type = PROTO_TXN_OMAP_RM, .oid = B("o"), .key = B("k0")},
    {.type = PROTO_TXN_OMAP_CLEAR, .oid = B("q")},
    {.type = PROTO_TXN_WRITE, .oid = B("q"), .off = 0, .len = 2},
};

static void head(struct proto_osd_peer *m, uint32_t op)
{
    proto_osd_peer_init(m);
    m->op = op;
    m->from = 2;
    m->epoch = 42;
    m->pool = 1;
    m->pg = 0x1f;
}

static int write_requests(void)
{
    struct proto_osd_peer m;
    int r = 0;

    head(&m, PROTO_PEER_QUERY);
    r |= write_seed("query.bin", &m, 0);
    head(&m, PROTO_PEER_LOG_GET);
    m.after = 4ull << 32 | 9;
    r |= write_seed("log-get.bin", &m, 0);
    head(&m, PROTO_PEER_SCAN);
    m.after_name = B("rbd_data.6");
    m.max = 100;
    r |= write_seed("scan.bin", &m, 0);
    head(&m, PROTO_PEER_PULL);
    m.oid = B("rbd_data.7");
    r |= write_seed("pull.bin", &m, 0);
    head(&m, PROTO_PEER_PUSH);
    m.act_epoch = 40;
    m.oid = B("rbd_data.7");
    m.exists = true;
    m.size = 5;
    m.n_xattrs = ARRAY_LEN(xattrs);
    m.xattrs = (struct proto_peer_kv *)xattrs;
    m.n_omap = ARRAY_LEN(omap);
    m.omap = (struct proto_peer_kv *)omap;
    r |= write_seed("push.bin", &m, 5);
    head(&m, PROTO_PEER_ACTIVATE);
    m.act_epoch = 40;
    m.base = 5ull << 32;
    m.last_update = 5ull << 32 | 2;
    m.log_tail = 4ull << 32;
    m.backfill = true;
    m.n_entries = ARRAY_LEN(entries);
    m.entries = (struct proto_pg_log_entry *)entries;
    r |= write_seed("activate.bin", &m, 0);
    head(&m, PROTO_PEER_RECOVERED);
    m.act_epoch = 40;
    r |= write_seed("recovered.bin", &m, 0);
    head(&m, PROTO_PEER_REPOP);
    m.act_epoch = 40;
    m.prev = 5ull << 32 | 1;
    m.n_entries = 1;
    m.entries = (struct proto_pg_log_entry *)&entries[0];
    m.n_txn = ARRAY_LEN(txn);
    m.txn = (struct proto_txn_op *)txn;
    r |= write_seed("repop.bin", &m, 6);
    head(&m, PROTO_PEER_REMOVE);
    r |= write_seed("remove.bin", &m, 0);
    head(&m, PROTO_PEER_SCRUB);
    m.oid = B("rbd_data.7");
    m.deep = true;
    r |= write_seed("scrub.bin", &m, 0);
    return r;
}

static int write_replies(void)
{
    struct proto_osd_peer m;
    int r = 0;

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_QUERY;
    m.has_info = true;
    m.info = (struct proto_pg_info){.exists = true, .last_update = 5ull << 32 | 2,
                                    .last_complete = 5ull << 32 | 1, .log_tail = 4ull << 32,
                                    .act_epoch = 40, .objects = 1000};
    r |= write_seed("query-reply.bin", &m, 0);
    m.op = PROTO_PEER_LOG_GET;
    m.n_entries = ARRAY_LEN(entries);
    m.entries = (struct proto_pg_log_entry *)entries;
    r |= write_seed("log-get-reply.bin", &m, 0);

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_SCAN;
    m.n_names = ARRAY_LEN(names);
    m.names = (struct proto_bytes *)names;
    m.versions = versions;
    m.more = true;
    r |= write_seed("scan-reply.bin", &m, 0);

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_PULL;
    m.oid = B("rbd_data.7");
    m.exists = true;
    m.size = 3;
    m.n_xattrs = ARRAY_LEN(xattrs);
    m.xattrs = (struct proto_peer_kv *)xattrs;
    m.n_omap = ARRAY_LEN(omap);
    m.omap = (struct proto_peer_kv *)omap;
    r |= write_seed("pull-reply.bin", &m, 3);

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_SCRUB;
    m.oid = B("rbd_data.7");
    m.exists = true;
    m.size = 4096;
    m.obj_version = 5ull << 32 | 2;
    m.attr_digest = 0x12345678;
    m.data_digest = 0x9abcdef0;
    m.read_error = -EIO;
    r |= write_seed("scrub-reply.bin", &m, 0);

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_REPOP;
    m.result = -ESTALE;
    snprintf(m.message, sizeof(m.message), "osd.2 pg 1.1f e43: not active");
    r |= write_seed("failed-reply.bin", &m, 0);
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    return write_requests() | write_replies();
}

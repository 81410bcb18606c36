/* The OSD peering codec (protocol/osd_peer.c): round trips of every op with
 * all its fields, defaults of absent fields, every decode rule broken once
 * (-EINVAL and its reason), limits accepted at the boundary and refused one
 * past it by encode and decode, garbage (-EBADMSG) and every truncation of a
 * valid message. Malformed input is written by hand with a small protobuf
 * writer: field numbers from protocol/osd_peer.proto. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/osd_peer.h"
#include "tests/unit/support/pbw.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A proto_bytes of a string literal (without its NUL). */
#define B(s) ((struct proto_bytes){(const uint8_t *)(s), sizeof(s) - 1})

/* OsdPeer fields. */
enum {
    P_OP = 1, P_RESULT, P_MESSAGE, P_FROM, P_EPOCH, P_POOL, P_PG, P_ACT_EPOCH, P_INFO, P_AFTER,
    P_AFTER_NAME, P_MAX, P_MORE, P_BASE, P_LAST_UPDATE, P_LOG_TAIL, P_BACKFILL, P_PREV,
    P_LOG_ONLY, P_OID, P_EXISTS, P_SIZE, P_ENTRIES, P_NAMES, P_VERSIONS, P_XATTRS, P_OMAP, P_TXN,
    P_DEEP, P_OBJ_VERSION, P_ATTR_DIGEST, P_OMAP_DIGEST, P_DATA_DIGEST, P_READ_ERROR,
};
/* PgLogEntry, PeerKv and TxnOp fields. */
enum { E_VERSION = 1, E_OP, E_OID, E_CLIENT_ID, E_TID, E_REPLY };
enum { KV_KEY = 1, KV_VALUE };
enum { T_TYPE = 1, T_OID, T_KEY, T_VAL, T_OFF, T_LEN };

/* The head of a valid message of @op (PULL and PUSH name an object). */
static void pb_head(struct pbw *w, uint32_t op)
{
    pb_uint(w, P_OP, op);
    if (op == PROTO_PEER_PULL || op == PROTO_PEER_PUSH)
        pb_bytes(w, P_OID, "obj", 3);
}

static void pb_entry(struct pbw *w, uint32_t op, const void *oid, size_t oid_len)
{
    struct pbw e = {0};
    pb_uint(&e, E_VERSION, 7);
    pb_uint(&e, E_OP, op);
    pb_bytes(&e, E_OID, oid, oid_len);
    pb_sub(w, P_ENTRIES, &e);
}

static void pb_kv(struct pbw *w, unsigned field, const void *key, size_t key_len)
{
    struct pbw kv = {0};
    pb_bytes(&kv, KV_KEY, key, key_len);
    pb_bytes(&kv, KV_VALUE, "v", 1);
    pb_sub(w, field, &kv);
}

static void pb_txn(struct pbw *w, uint32_t type, uint64_t off, uint64_t len)
{
    struct pbw t = {0};
    pb_uint(&t, T_TYPE, type);
    pb_bytes(&t, T_OID, "obj", 3);
    pb_uint(&t, T_OFF, off);
    pb_uint(&t, T_LEN, len);
    pb_sub(w, P_TXN, &t);
}

/* Decodes @w (freed) against @data_len: @want, and on failure @reason (when
 * not NULL) with the output untouched. */
static void expect_peer(struct pbw *w, uint64_t data_len, int want, const char *reason)
{
    struct proto_osd_peer *m = malloc(sizeof(*m)), *before = malloc(sizeof(*m));
    char err[128] = "";

    assert_non_null(m);
    assert_non_null(before);
    memset(m, 0x5a, sizeof(*m));
    memcpy(before, m, sizeof(*m));
    int r = proto_osd_peer_decode(w->b, w->n, data_len, m, err, sizeof(err));
    if (r != want)
        print_error("decode: %d (%s), wanted %d\n", r, err, want);
    assert_int_equal(r, want);
    if (want == 0) {
        proto_osd_peer_release(m);
    } else {
        assert_memory_equal(m, before, sizeof(*m));
        assert_true(err[0] != '\0');
    }
    if (reason)
        assert_string_equal(err, reason);
    pb_free(w);
    free(m);
    free(before);
}

/* ---- samples ------------------------------------------------------------ */

static const uint8_t stored_reply[] = {0x08, 0x01, 0x00, 0xff, 0x2a};

static const struct proto_pg_log_entry sample_entries[] = {
    {.version = 5ull << 32 | 1, .op = PROTO_PG_LOG_MODIFY, .oid = B("rbd_data.1"),
     .client_id = 0x5eed, .tid = 9, .reply = {stored_reply, sizeof(stored_reply)}},
    {.version = 5ull << 32 | 2, .op = PROTO_PG_LOG_DELETE, .oid = B("obj2"), .client_id = 1,
     .tid = UINT64_MAX},
    {.version = UINT64_MAX, .op = PROTO_PG_LOG_MODIFY, .oid = B("x")},
};

static const struct proto_bytes sample_names[] = {B("a"), B("rbd_data.7"), B("zz")};
static uint64_t sample_versions[] = {1, 5ull << 32 | 3, UINT64_MAX};

static const struct proto_peer_kv sample_xattrs[] = {
    {B("user.lock"), B("me")},
    {B("_"), {(const uint8_t *)"v\0v", 3}},
    {B("empty"), {NULL, 0}},
};
static const struct proto_peer_kv sample_omap[] = {
    {{(const uint8_t *)"k\0y", 3}, B("value")},
    {{NULL, 0}, B("empty key")},
};

/* One of every txn type; WRITEs at data offsets 0, 5 and 8 (8 bytes). */
static const struct proto_txn_op sample_txn[] = {
    {.type = PROTO_TXN_TOUCH, .oid = B("a")},
    {.type = PROTO_TXN_CREATE_EXCL, .oid = B("a")},
    {.type = PROTO_TXN_WRITE, .oid = B("a"), .off = 100, .len = 5},
    {.type = PROTO_TXN_ZERO, .oid = B("a"), .off = 10, .len = 20},
    {.type = PROTO_TXN_TRUNCATE, .oid = B("a"), .off = 77},
    {.type = PROTO_TXN_WRITE, .oid = B("b"), .off = 0, .len = 3},
    {.type = PROTO_TXN_REMOVE, .oid = B("c")},
    {.type = PROTO_TXN_SETXATTR, .oid = B("a"), .key = B("user.x"),
     .val = {(const uint8_t *)"v\0v", 3}},
    {.type = PROTO_TXN_RMXATTR, .oid = B("a"), .key = B("user.y")},
    {.type = PROTO_TXN_OMAP_SET, .oid = B("a"), .key = {(const uint8_t *)"k\0y", 3},
     .val = B("val")},
    {.type = PROTO_TXN_OMAP_RM, .oid = B("a"), .key = B("k")},
    {.type = PROTO_TXN_OMAP_CLEAR, .oid = B("a")},
    {.type = PROTO_TXN_WRITE, .oid = B("d"), .off = UINT64_MAX, .len = 0},
};
static const uint64_t sample_txn_data_off[ARRAY_LEN(sample_txn)] = {[5] = 5, [12] = 8};
#define SAMPLE_TXN_DATA 8u

static const struct proto_pg_info sample_info = {
    .exists = true, .last_update = 5ull << 32 | 2, .last_complete = 5ull << 32 | 1,
    .log_tail = 4ull << 32 | 9, .act_epoch = 5, .objects = 1234,
};

/* The request head every op carries. */
static void sample_head(struct proto_osd_peer *m, uint32_t op)
{
    proto_osd_peer_init(m);
    m->op = op;
    m->from = 3;
    m->epoch = 42;
    m->pool = 1;
    m->pg = 0x1f;
}

/* A REPOP with everything a REPOP carries; SAMPLE_TXN_DATA bytes of data. */
static void sample_repop(struct proto_osd_peer *m)
{
    sample_head(m, PROTO_PEER_REPOP);
    m->act_epoch = 40;
    m->prev = 5ull << 32;
    m->log_only = true;
    m->n_entries = 1;
    m->entries = (struct proto_pg_log_entry *)sample_entries;
    m->n_txn = ARRAY_LEN(sample_txn);
    m->txn = (struct proto_txn_op *)sample_txn;
}

/* A successful PULL reply: 6 bytes of data. */
static void sample_pull_reply(struct proto_osd_peer *m)
{
    proto_osd_peer_init(m);
    m->op = PROTO_PEER_PULL;
    m->epoch = 42;
    m->oid = B("obj");
    m->exists = true;
    m->size = 6;
    m->n_xattrs = ARRAY_LEN(sample_xattrs);
    m->xattrs = (struct proto_peer_kv *)sample_xattrs;
    m->n_omap = ARRAY_LEN(sample_omap);
    m->omap = (struct proto_peer_kv *)sample_omap;
}

/* ---- comparing ---------------------------------------------------------- */

static void assert_same_bytes(struct proto_bytes a, struct proto_bytes b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.p, b.p, a.len);
}

static void assert_same_kvs(const struct proto_peer_kv *a, const struct proto_peer_kv *b,
                            uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        assert_same_bytes(a[i].key, b[i].key);
        assert_same_bytes(a[i].value, b[i].value);
    }
}

static void assert_same_arrays(const struct proto_osd_peer *a, const struct proto_osd_peer *b)
{
    assert_int_equal(a->n_entries, b->n_entries);
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const struct proto_pg_log_entry *x = &a->entries[i], *y = &b->entries[i];
        assert_true(x->version == y->version && x->op == y->op);
        assert_true(x->client_id == y->client_id && x->tid == y->tid);
        assert_same_bytes(x->oid, y->oid);
        assert_same_bytes(x->reply, y->reply);
    }
    assert_int_equal(a->n_names, b->n_names);
    for (uint32_t i = 0; i < a->n_names; i++) {
        assert_same_bytes(a->names[i], b->names[i]);
        assert_true(a->versions[i] == b->versions[i]);
    }
    assert_int_equal(a->n_xattrs, b->n_xattrs);
    assert_same_kvs(a->xattrs, b->xattrs, a->n_xattrs);
    assert_int_equal(a->n_omap, b->n_omap);
    assert_same_kvs(a->omap, b->omap, a->n_omap);
    assert_int_equal(a->n_txn, b->n_txn);
    for (uint32_t i = 0; i < a->n_txn; i++) {
        const struct proto_txn_op *x = &a->txn[i], *y = &b->txn[i];
        assert_true(x->type == y->type && x->off == y->off && x->len == y->len);
        assert_same_bytes(x->oid, y->oid);
        assert_same_bytes(x->key, y->key);
        assert_same_bytes(x->val, y->val);
    }
}

/* Every field but priv and the txn data_off. */
static void assert_same_peer(const struct proto_osd_peer *a, const struct proto_osd_peer *b)
{
    assert_int_equal(a->op, b->op);
    assert_int_equal(a->result, b->result);
    assert_string_equal(a->message, b->message);
    assert_int_equal(a->from, b->from);
    assert_true(a->epoch == b->epoch && a->pool == b->pool && a->pg == b->pg);
    assert_true(a->act_epoch == b->act_epoch);
    assert_int_equal(a->has_info, b->has_info);
    if (a->has_info)
        assert_memory_equal(&a->info, &b->info, sizeof(a->info));
    assert_true(a->after == b->after && a->max == b->max && a->more == b->more);
    assert_same_bytes(a->after_name, b->after_name);
    assert_true(a->base == b->base && a->last_update == b->last_update);
    assert_true(a->log_tail == b->log_tail && a->backfill == b->backfill);
    assert_true(a->prev == b->prev && a->log_only == b->log_only);
    assert_same_bytes(a->oid, b->oid);
    assert_true(a->exists == b->exists && a->size == b->size);
    assert_true(a->deep == b->deep && a->obj_version == b->obj_version);
    assert_true(a->attr_digest == b->attr_digest && a->omap_digest == b->omap_digest);
    assert_true(a->data_digest == b->data_digest && a->read_error == b->read_error);
    assert_same_arrays(a, b);
}

/* Encodes @m, decodes it against @data_len and compares; returns the
 * encoded size. */
static size_t round_trip(const struct proto_osd_peer *m, uint64_t data_len)
{
    struct proto_osd_peer out;
    char err[128] = "";
    uint8_t *buf;
    size_t len;

    assert_int_equal(proto_osd_peer_encode(m, &buf, &len), 0);
    memset(&out, 0x5a, sizeof(out));
    int r = proto_osd_peer_decode(buf, len, data_len, &out, err, sizeof(err));
    if (r != 0)
        print_error("decode: %d (%s)\n", r, err);
    assert_int_equal(r, 0);
    free(buf);
    assert_same_peer(m, &out);
    for (uint32_t i = 0; i < out.n_txn; i++)
        if (out.txn[i].type != PROTO_TXN_WRITE)
            assert_true(out.txn[i].data_off == 0);
    proto_osd_peer_release(&out);
    assert_null(out.priv);
    assert_int_equal(out.n_entries + out.n_names + out.n_xattrs + out.n_omap + out.n_txn, 0);
    return len;
}

/* ---- round trips -------------------------------------------------------- */

static void test_peer_round_trip_requests(void **state)
{
    (void)state;
    struct proto_osd_peer m;

    sample_head(&m, PROTO_PEER_QUERY);
    round_trip(&m, 0);

    sample_head(&m, PROTO_PEER_LOG_GET);
    m.after = 5ull << 32 | 7;
    round_trip(&m, 0);

    sample_head(&m, PROTO_PEER_SCAN);
    m.after_name = B("rbd_data.6");
    m.max = 100;
    round_trip(&m, 0);

    sample_head(&m, PROTO_PEER_PULL);
    m.oid = B("rbd_data.7");
    round_trip(&m, 0);

    sample_head(&m, PROTO_PEER_PUSH);
    m.act_epoch = 40;
    m.oid = B("rbd_data.7");
    m.exists = true;
    m.size = 4096;
    m.n_xattrs = ARRAY_LEN(sample_xattrs);
    m.xattrs = (struct proto_peer_kv *)sample_xattrs;
    m.n_omap = ARRAY_LEN(sample_omap);
    m.omap = (struct proto_peer_kv *)sample_omap;
    round_trip(&m, 4096);
    m.exists = false; /* pushing a deletion */
    m.size = 0;
    m.n_xattrs = m.n_omap = 0;
    round_trip(&m, 0);

    sample_head(&m, PROTO_PEER_ACTIVATE);
    m.act_epoch = 40;
    m.base = 5ull << 32;
    m.last_update = 5ull << 32 | 2;
    m.log_tail = 4ull << 32;
    m.backfill = true;
    m.n_entries = ARRAY_LEN(sample_entries);
    m.entries = (struct proto_pg_log_entry *)sample_entries;
    round_trip(&m, 0);

    sample_head(&m, PROTO_PEER_RECOVERED);
    m.act_epoch = 40;
    round_trip(&m, 0);

    sample_head(&m, PROTO_PEER_REMOVE);
    round_trip(&m, 0);

    sample_head(&m, PROTO_PEER_SCRUB);
    m.oid = B("rbd_data.7");
    round_trip(&m, 0);
    m.deep = true;
    round_trip(&m, 0);
}

static void test_peer_round_trip_replies(void **state)
{
    (void)state;
    struct proto_osd_peer m;

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_QUERY;
    m.has_info = true;
    m.info = sample_info;
    round_trip(&m, 0);
    m.info = (struct proto_pg_info){0}; /* an info of defaults is still an info */
    round_trip(&m, 0);

    m.op = PROTO_PEER_LOG_GET;
    m.info = sample_info;
    m.n_entries = ARRAY_LEN(sample_entries);
    m.entries = (struct proto_pg_log_entry *)sample_entries;
    round_trip(&m, 0);

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_SCAN;
    m.n_names = ARRAY_LEN(sample_names);
    m.names = (struct proto_bytes *)sample_names;
    m.versions = sample_versions;
    m.more = true;
    round_trip(&m, 0);

    sample_pull_reply(&m);
    round_trip(&m, 6);
    m.exists = false; /* the object is gone */
    m.size = 0;
    m.n_xattrs = m.n_omap = 0;
    round_trip(&m, 0);

    /* A failed reply names no object, even for PULL. */
    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_PULL;
    m.result = -ENOENT;
    snprintf(m.message, sizeof(m.message), "pg 1.1f: no such object");
    round_trip(&m, 0);
    m.result = -4095;
    memset(m.message, 'm', sizeof(m.message) - 1); /* the longest message */
    m.message[sizeof(m.message) - 1] = '\0';
    round_trip(&m, 0);

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_REPOP;
    m.from = 0;
    round_trip(&m, 0);

    /* A SCRUB reply: one copy's digests, or the error reading it. */
    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_SCRUB;
    m.oid = B("rbd_data.7");
    m.exists = true;
    m.size = 4 << 20;
    m.obj_version = 5ull << 32 | 2;
    m.attr_digest = 0x12345678;
    m.omap_digest = 0xffffffff;
    m.data_digest = 0x9abcdef0;
    round_trip(&m, 0);
    m.read_error = -EIO;
    round_trip(&m, 0);
}

static void test_peer_round_trip_repop(void **state)
{
    (void)state;
    struct proto_osd_peer m, out;
    uint8_t *buf;
    size_t len;

    sample_repop(&m);
    round_trip(&m, SAMPLE_TXN_DATA);

    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), 0);
    assert_int_equal(proto_osd_peer_decode(buf, len, SAMPLE_TXN_DATA, &out, NULL, 0), 0);
    for (uint32_t i = 0; i < out.n_txn; i++)
        assert_true(out.txn[i].data_off == sample_txn_data_off[i]);
    proto_osd_peer_release(&out);
    proto_osd_peer_release(&out); /* releasing twice is harmless */
    free(buf);
}

/* Absent fields: result 0, from -1, no info, empty arrays. */
static void test_peer_defaults(void **state)
{
    (void)state;
    struct proto_osd_peer m, out;
    struct pbw w = {0};
    uint8_t *buf;
    size_t len;

    proto_osd_peer_init(&m);
    assert_int_equal(m.from, -1);
    m.op = PROTO_PEER_QUERY;
    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), 0);
    assert_int_equal(len, 2); /* only the op */
    free(buf);

    pb_uint(&w, P_OP, PROTO_PEER_REMOVE);
    memset(&out, 0x5a, sizeof(out));
    assert_int_equal(proto_osd_peer_decode(w.b, w.n, 0, &out, NULL, 0), 0);
    assert_int_equal(out.result, 0);
    assert_int_equal(out.from, -1);
    assert_string_equal(out.message, "");
    assert_false(out.has_info);
    assert_true(out.oid.len == 0 && out.after_name.len == 0);
    assert_true(out.entries == NULL && out.names == NULL && out.versions == NULL);
    assert_true(out.xattrs == NULL && out.omap == NULL && out.txn == NULL);
    assert_int_equal(out.n_entries + out.n_names + out.n_xattrs + out.n_omap + out.n_txn, 0);
    proto_osd_peer_release(&out);
    pb_free(&w);

    /* Versions may come unpacked, as proto2 writes repeated scalars. */
    pb_uint(&w, P_OP, PROTO_PEER_SCAN);
    pb_bytes(&w, P_NAMES, "a", 1);
    pb_bytes(&w, P_NAMES, "b", 1);
    pb_uint(&w, P_VERSIONS, 7);
    pb_uint(&w, P_VERSIONS, 8);
    assert_int_equal(proto_osd_peer_decode(w.b, w.n, 0, &out, NULL, 0), 0);
    assert_int_equal(out.n_names, 2);
    assert_true(out.versions[0] == 7 && out.versions[1] == 8);
    proto_osd_peer_release(&out);
    pb_free(&w);

    /* Unknown fields are skipped (a newer peer). */
    pb_uint(&w, P_OP, PROTO_PEER_QUERY);
    pb_uint(&w, 1000, 5);
    pb_bytes(&w, 1001, "new", 3);
    expect_peer(&w, 0, 0, NULL);
}

/* A longer reason is cut to fit; encode refuses an unterminated one. */
static void test_peer_message_is_truncated(void **state)
{
    (void)state;
    struct proto_osd_peer m, out;
    struct pbw w = {0};
    uint8_t *buf;
    size_t len;

    pb_uint(&w, P_OP, PROTO_PEER_QUERY);
    pb_sint(&w, P_RESULT, -EIO);
    pb_fill(&w, P_MESSAGE, 'm', 1000);
    assert_int_equal(proto_osd_peer_decode(w.b, w.n, 0, &out, NULL, 0), 0);
    assert_int_equal(strlen(out.message), sizeof(out.message) - 1);
    assert_int_equal(out.result, -EIO);
    proto_osd_peer_release(&out);
    pb_free(&w);

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_QUERY;
    memset(m.message, 'm', sizeof(m.message));
    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), -EINVAL);
}

/* ---- decode rules, each broken once ------------------------------------- */

static void test_peer_rejects_bad_head(void **state)
{
    (void)state;
    struct pbw w = {0};

    pb_uint(&w, P_EPOCH, 1);
    expect_peer(&w, 0, -EINVAL, "unknown op 0");
    pb_uint(&w, P_OP, PROTO_PEER_OP_MAX + 1);
    expect_peer(&w, 0, -EINVAL, "unknown op 11");
    pb_uint(&w, P_OP, UINT32_MAX);
    expect_peer(&w, 0, -EINVAL, "unknown op 4294967295");

    pb_head(&w, PROTO_PEER_QUERY);
    pb_sint(&w, P_RESULT, 1);
    expect_peer(&w, 0, -EINVAL, "result 1 is not 0 or -errno");
    pb_head(&w, PROTO_PEER_QUERY);
    pb_sint(&w, P_RESULT, -4096);
    expect_peer(&w, 0, -EINVAL, "result -4096 is not 0 or -errno");

    /* PULL and PUSH need their object; a failed PULL reply does not. */
    pb_uint(&w, P_OP, PROTO_PEER_PULL);
    expect_peer(&w, 0, -EINVAL, "oid of 0 bytes is not 1..1024");
    pb_uint(&w, P_OP, PROTO_PEER_PUSH);
    expect_peer(&w, 0, -EINVAL, "oid of 0 bytes is not 1..1024");
    pb_uint(&w, P_OP, PROTO_PEER_PULL);
    pb_sint(&w, P_RESULT, -ENOENT);
    expect_peer(&w, 0, 0, NULL);

    /* An oid, where present, is an object name. */
    pb_head(&w, PROTO_PEER_QUERY);
    pb_fill(&w, P_OID, 'o', PROTO_PEER_NAME_MAX + 1);
    expect_peer(&w, 0, -EINVAL, "oid of 1025 bytes is not 0..1024");
    pb_head(&w, PROTO_PEER_PUSH);
    pb_bytes(&w, P_OID, "o\0j", 3);
    expect_peer(&w, 0, -EINVAL, "oid contains a NUL byte");

    pb_head(&w, PROTO_PEER_SCAN);
    pb_fill(&w, P_AFTER_NAME, 'a', PROTO_PEER_NAME_MAX + 1);
    expect_peer(&w, 0, -EINVAL, "after_name of 1025 bytes is not 0..1024");

    /* SCRUB names its object; its read error is 0 or -errno. */
    pb_head(&w, PROTO_PEER_SCRUB);
    expect_peer(&w, 0, -EINVAL, "oid of 0 bytes is not 1..1024");
    pb_head(&w, PROTO_PEER_SCRUB);
    pb_bytes(&w, P_OID, "o", 1);
    pb_sint(&w, P_READ_ERROR, -EIO);
    expect_peer(&w, 0, 0, NULL);
    pb_head(&w, PROTO_PEER_SCRUB);
    pb_sint(&w, P_READ_ERROR, 5);
    expect_peer(&w, 0, -EINVAL, "read_error 5 is not 0 or -errno");
    pb_head(&w, PROTO_PEER_SCRUB);
    pb_sint(&w, P_READ_ERROR, -4096);
    expect_peer(&w, 0, -EINVAL, "read_error -4096 is not 0 or -errno");
}

static void test_peer_rejects_bad_counts(void **state)
{
    (void)state;
    struct pbw w = {0};

    pb_head(&w, PROTO_PEER_ACTIVATE);
    for (unsigned i = 0; i < PROTO_PEER_ENTRIES_MAX + 1; i++)
        pb_entry(&w, PROTO_PG_LOG_MODIFY, "o", 1);
    expect_peer(&w, 0, -EINVAL, "100001 entries exceed 100000");

    pb_head(&w, PROTO_PEER_SCAN);
    for (unsigned i = 0; i < PROTO_PEER_NAMES_MAX + 1; i++) {
        pb_bytes(&w, P_NAMES, "o", 1);
        pb_uint(&w, P_VERSIONS, i);
    }
    expect_peer(&w, 0, -EINVAL, "10001 names exceed 10000");

    pb_head(&w, PROTO_PEER_SCAN);
    pb_bytes(&w, P_NAMES, "a", 1);
    pb_bytes(&w, P_NAMES, "b", 1);
    pb_uint(&w, P_VERSIONS, 1);
    expect_peer(&w, 0, -EINVAL, "2 names but 1 versions");
    pb_head(&w, PROTO_PEER_SCAN);
    pb_uint(&w, P_VERSIONS, 1);
    expect_peer(&w, 0, -EINVAL, "0 names but 1 versions");

    static const unsigned kv_fields[] = {P_XATTRS, P_OMAP};
    static const char *const kv_reasons[] = {"100001 xattrs exceed 100000",
                                             "100001 omap entries exceed 100000"};
    for (size_t f = 0; f < ARRAY_LEN(kv_fields); f++) {
        pb_head(&w, PROTO_PEER_PUSH);
        for (unsigned i = 0; i < PROTO_PEER_KV_MAX + 1; i++)
            pb_kv(&w, kv_fields[f], "k", 1);
        expect_peer(&w, 0, -EINVAL, kv_reasons[f]);
    }

    pb_head(&w, PROTO_PEER_REPOP);
    for (unsigned i = 0; i < PROTO_PEER_TXN_MAX + 1; i++)
        pb_txn(&w, PROTO_TXN_TOUCH, 0, 0);
    expect_peer(&w, 0, -EINVAL, "4097 txn ops exceed 4096");
}

static void test_peer_rejects_bad_entries(void **state)
{
    (void)state;
    struct pbw w = {0}, e = {0};

    static const uint32_t bad_ops[] = {0, 3, UINT32_MAX};
    for (size_t i = 0; i < ARRAY_LEN(bad_ops); i++) {
        pb_head(&w, PROTO_PEER_ACTIVATE);
        pb_entry(&w, PROTO_PG_LOG_MODIFY, "a", 1);
        pb_entry(&w, bad_ops[i], "b", 1);
        char reason[64];
        snprintf(reason, sizeof(reason), "entry 1: unknown op %u", bad_ops[i]);
        expect_peer(&w, 0, -EINVAL, reason);
    }
    pb_head(&w, PROTO_PEER_LOG_GET);
    pb_entry(&w, PROTO_PG_LOG_DELETE, "", 0);
    expect_peer(&w, 0, -EINVAL, "entry 0: oid of 0 bytes is not 1..1024");
    pb_head(&w, PROTO_PEER_LOG_GET);
    pb_entry(&w, PROTO_PG_LOG_DELETE, "a\0", 2);
    expect_peer(&w, 0, -EINVAL, "entry 0: oid contains a NUL byte");

    pb_head(&w, PROTO_PEER_LOG_GET);
    pb_uint(&e, E_OP, PROTO_PG_LOG_MODIFY);
    pb_fill(&e, E_OID, 'o', PROTO_PEER_NAME_MAX + 1);
    pb_sub(&w, P_ENTRIES, &e);
    expect_peer(&w, 0, -EINVAL, "entry 0: oid of 1025 bytes is not 1..1024");

    pb_head(&w, PROTO_PEER_REPOP);
    pb_uint(&e, E_OP, PROTO_PG_LOG_MODIFY);
    pb_bytes(&e, E_OID, "o", 1);
    pb_fill(&e, E_REPLY, 'r', PROTO_PEER_REPLY_MAX + 1);
    pb_sub(&w, P_ENTRIES, &e);
    expect_peer(&w, 0, -EINVAL, "entry 0: reply of 65537 bytes is not 0..65536");
}

static void test_peer_rejects_bad_names_and_kvs(void **state)
{
    (void)state;
    struct pbw w = {0}, kv = {0};

    pb_head(&w, PROTO_PEER_SCAN);
    pb_bytes(&w, P_NAMES, "a", 1);
    pb_bytes(&w, P_NAMES, "", 0);
    pb_uint(&w, P_VERSIONS, 1);
    pb_uint(&w, P_VERSIONS, 2);
    expect_peer(&w, 0, -EINVAL, "name 1: oid of 0 bytes is not 1..1024");
    pb_head(&w, PROTO_PEER_SCAN);
    pb_bytes(&w, P_NAMES, "a\0b", 3);
    pb_uint(&w, P_VERSIONS, 1);
    expect_peer(&w, 0, -EINVAL, "name 0: oid contains a NUL byte");
    pb_head(&w, PROTO_PEER_SCAN);
    pb_fill(&w, P_NAMES, 'n', PROTO_PEER_NAME_MAX + 1);
    pb_uint(&w, P_VERSIONS, 1);
    expect_peer(&w, 0, -EINVAL, "name 0: oid of 1025 bytes is not 1..1024");

    /* xattr names: 1..255 bytes, no NUL. */
    pb_head(&w, PROTO_PEER_PUSH);
    pb_kv(&w, P_XATTRS, "", 0);
    expect_peer(&w, 0, -EINVAL, "xattr 0: xattr name of 0 bytes is not 1..255");
    pb_head(&w, PROTO_PEER_PUSH);
    pb_kv(&w, P_XATTRS, "ok", 2);
    pb_kv(&w, P_XATTRS, "a\0b", 3);
    expect_peer(&w, 0, -EINVAL, "xattr 1: xattr name contains a NUL byte");
    pb_head(&w, PROTO_PEER_PULL);
    pb_fill(&kv, KV_KEY, 'x', PROTO_PEER_XATTR_NAME_MAX + 1);
    pb_sub(&w, P_XATTRS, &kv);
    expect_peer(&w, 0, -EINVAL, "xattr 0: xattr name of 256 bytes is not 1..255");
    pb_head(&w, PROTO_PEER_PUSH);
    pb_bytes(&kv, KV_KEY, "x", 1);
    pb_fill(&kv, KV_VALUE, 'v', PROTO_PEER_VALUE_MAX + 1);
    pb_sub(&w, P_XATTRS, &kv);
    expect_peer(&w, 0, -EINVAL, "xattr 0: value of 65537 bytes is not 0..65536");

    /* omap keys and values: any bytes, up to PROTO_PEER_VALUE_MAX. */
    pb_head(&w, PROTO_PEER_PUSH);
    pb_fill(&kv, KV_KEY, 'k', PROTO_PEER_VALUE_MAX + 1);
    pb_sub(&w, P_OMAP, &kv);
    expect_peer(&w, 0, -EINVAL, "omap 0: omap key of 65537 bytes is not 0..65536");
    pb_head(&w, PROTO_PEER_PUSH);
    pb_bytes(&kv, KV_KEY, "k\0", 2);
    pb_fill(&kv, KV_VALUE, 'v', PROTO_PEER_VALUE_MAX + 1);
    pb_sub(&w, P_OMAP, &kv);
    expect_peer(&w, 0, -EINVAL, "omap 0: value of 65537 bytes is not 0..65536");
}

static void test_peer_rejects_bad_txn(void **state)
{
    (void)state;
    struct pbw w = {0}, t = {0};

    static const uint32_t bad_types[] = {0, PROTO_TXN_TYPE_MAX + 1, UINT32_MAX};
    for (size_t i = 0; i < ARRAY_LEN(bad_types); i++) {
        pb_head(&w, PROTO_PEER_REPOP);
        pb_txn(&w, PROTO_TXN_TOUCH, 0, 0);
        pb_txn(&w, bad_types[i], 0, 0);
        char reason[64];
        snprintf(reason, sizeof(reason), "txn 1: unknown type %u", bad_types[i]);
        expect_peer(&w, 0, -EINVAL, reason);
    }

    static const struct {
        const void *oid;
        size_t len;
        const char *reason;
    } oids[] = {
        {"", 0, "txn 0: oid of 0 bytes is not 1..1024"},
        {"o\0", 2, "txn 0: oid contains a NUL byte"},
        {NULL, PROTO_PEER_NAME_MAX + 1, "txn 0: oid of 1025 bytes is not 1..1024"},
    };
    for (size_t i = 0; i < ARRAY_LEN(oids); i++) {
        pb_head(&w, PROTO_PEER_REPOP);
        pb_uint(&t, T_TYPE, PROTO_TXN_REMOVE);
        if (oids[i].oid)
            pb_bytes(&t, T_OID, oids[i].oid, oids[i].len);
        else
            pb_fill(&t, T_OID, 'o', oids[i].len);
        pb_sub(&w, P_TXN, &t);
        expect_peer(&w, 0, -EINVAL, oids[i].reason);
    }

    /* SETXATTR and RMXATTR keys are xattr names. */
    static const uint32_t xattr_types[] = {PROTO_TXN_SETXATTR, PROTO_TXN_RMXATTR};
    for (size_t i = 0; i < ARRAY_LEN(xattr_types); i++) {
        pb_head(&w, PROTO_PEER_REPOP);
        pb_uint(&t, T_TYPE, xattr_types[i]);
        pb_bytes(&t, T_OID, "o", 1);
        pb_bytes(&t, T_KEY, "a\0", 2);
        pb_sub(&w, P_TXN, &t);
        expect_peer(&w, 0, -EINVAL, "txn 0: xattr name contains a NUL byte");
        pb_head(&w, PROTO_PEER_REPOP);
        pb_uint(&t, T_TYPE, xattr_types[i]);
        pb_bytes(&t, T_OID, "o", 1);
        pb_fill(&t, T_KEY, 'x', PROTO_PEER_XATTR_NAME_MAX + 1);
        pb_sub(&w, P_TXN, &t);
        expect_peer(&w, 0, -EINVAL, "txn 0: xattr name of 256 bytes is not 1..255");
        pb_head(&w, PROTO_PEER_REPOP);
        pb_uint(&t, T_TYPE, xattr_types[i]);
        pb_bytes(&t, T_OID, "o", 1);
        pb_sub(&w, P_TXN, &t);
        expect_peer(&w, 0, -EINVAL, "txn 0: xattr name of 0 bytes is not 1..255");
    }
    pb_head(&w, PROTO_PEER_REPOP);
    pb_uint(&t, T_TYPE, PROTO_TXN_OMAP_SET);
    pb_bytes(&t, T_OID, "o", 1);
    pb_fill(&t, T_KEY, 'k', PROTO_PEER_VALUE_MAX + 1);
    pb_sub(&w, P_TXN, &t);
    expect_peer(&w, 0, -EINVAL, "txn 0: key of 65537 bytes is not 0..65536");
    pb_head(&w, PROTO_PEER_REPOP);
    pb_uint(&t, T_TYPE, PROTO_TXN_SETXATTR);
    pb_bytes(&t, T_OID, "o", 1);
    pb_bytes(&t, T_KEY, "x", 1);
    pb_fill(&t, T_VAL, 'v', PROTO_PEER_VALUE_MAX + 1);
    pb_sub(&w, P_TXN, &t);
    expect_peer(&w, 0, -EINVAL, "txn 0: value of 65537 bytes is not 0..65536");

    /* Ranges past 2^64. */
    pb_head(&w, PROTO_PEER_REPOP);
    pb_txn(&w, PROTO_TXN_WRITE, UINT64_MAX, 1);
    expect_peer(&w, 1, -EINVAL, "txn 0: range 18446744073709551615+1 overflows");
    pb_head(&w, PROTO_PEER_REPOP);
    pb_txn(&w, PROTO_TXN_ZERO, 2, UINT64_MAX - 1);
    expect_peer(&w, 0, -EINVAL, "txn 0: range 2+18446744073709551614 overflows");
    pb_head(&w, PROTO_PEER_REPOP);
    pb_txn(&w, PROTO_TXN_WRITE, UINT64_MAX - 1, 1);
    pb_txn(&w, PROTO_TXN_ZERO, 1, UINT64_MAX - 1);
    expect_peer(&w, 1, 0, NULL); /* right at the end */
}

static void test_peer_data_must_match(void **state)
{
    (void)state;
    struct pbw w = {0};

    /* REPOP: the WRITE lengths add up to the data exactly. */
    for (uint64_t data_len = 9; data_len <= 11; data_len++) {
        pb_head(&w, PROTO_PEER_REPOP);
        pb_txn(&w, PROTO_TXN_WRITE, 0, 4);
        pb_txn(&w, PROTO_TXN_ZERO, 0, 100);
        pb_txn(&w, PROTO_TXN_WRITE, 8, 6);
        char reason[80];
        snprintf(reason, sizeof(reason), "txn writes of 10 bytes but %llu bytes of data",
                 (unsigned long long)data_len);
        expect_peer(&w, data_len, data_len == 10 ? 0 : -EINVAL, data_len == 10 ? NULL : reason);
    }
    pb_head(&w, PROTO_PEER_REPOP);
    pb_txn(&w, PROTO_TXN_WRITE, 0, 1ull << 63);
    pb_txn(&w, PROTO_TXN_WRITE, 0, 1ull << 63);
    expect_peer(&w, 0, -EINVAL, "txn 1: write lengths overflow");
    pb_head(&w, PROTO_PEER_REPOP);
    expect_peer(&w, 1, -EINVAL, "txn writes of 0 bytes but 1 bytes of data");

    /* PUSH: size is the data; an absent object has none. */
    pb_head(&w, PROTO_PEER_PUSH);
    pb_uint(&w, P_EXISTS, 1);
    pb_uint(&w, P_SIZE, 100);
    expect_peer(&w, 99, -EINVAL, "size 100 but 99 bytes of data");
    pb_head(&w, PROTO_PEER_PUSH);
    pb_uint(&w, P_SIZE, 100);
    expect_peer(&w, 0, -EINVAL, "size 100 but 0 bytes of data");
    pb_head(&w, PROTO_PEER_PUSH);
    expect_peer(&w, 5, -EINVAL, "5 bytes of data for an absent object");

    /* PULL reply: the same when the object exists. */
    pb_head(&w, PROTO_PEER_PULL);
    pb_uint(&w, P_EXISTS, 1);
    pb_uint(&w, P_SIZE, 100);
    expect_peer(&w, 101, -EINVAL, "size 100 but 101 bytes of data");
    pb_head(&w, PROTO_PEER_PULL);
    pb_uint(&w, P_EXISTS, 1);
    expect_peer(&w, 0, 0, NULL); /* an empty object */
    pb_head(&w, PROTO_PEER_PULL);
    expect_peer(&w, 1, -EINVAL, "1 bytes of data for an absent object");

    /* Anything else carries no data. */
    for (uint32_t op = 1; op <= PROTO_PEER_OP_MAX; op++) {
        if (op == PROTO_PEER_REPOP || op == PROTO_PEER_PULL || op == PROTO_PEER_PUSH)
            continue;
        pb_head(&w, op);
        if (op == PROTO_PEER_SCRUB)
            pb_bytes(&w, P_OID, "o", 1);
        pb_uint(&w, P_SIZE, 1);
        pb_uint(&w, P_EXISTS, 1);
        char reason[80];
        snprintf(reason, sizeof(reason), "op %u carries no data but 1 bytes came", op);
        expect_peer(&w, 1, -EINVAL, reason);
    }
}

static void test_peer_rejects_garbage_and_truncation(void **state)
{
    (void)state;
    static const struct {
        uint8_t b[6];
        size_t n;
    } garbage[] = {
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 6}, /* an endless varint */
        {{0x0f, 0x01}, 2},                         /* wire type 7 */
        {{0xba, 0x01, 0x10, 'a'}, 4},              /* entries longer than the input */
        {{0xba, 0x01, 0x02, 0x10, 0xff}, 5},       /* an entry cut inside */
        {{0x08, 0x80}, 2},                         /* op cut inside */
    };
    struct proto_osd_peer m, out;
    char err[128];
    uint8_t *buf;
    size_t len;

    for (size_t i = 0; i < ARRAY_LEN(garbage); i++) {
        memset(&out, 0x5a, sizeof(out));
        err[0] = '\0';
        assert_int_equal(
            proto_osd_peer_decode(garbage[i].b, garbage[i].n, 0, &out, err, sizeof(err)),
            -EBADMSG);
        assert_string_equal(err, "peer metadata does not parse");
    }
    assert_int_equal(proto_osd_peer_decode(garbage[0].b, 6, 0, &out, NULL, 0), -EBADMSG);

    /* Every prefix of a full REPOP and PULL reply: no crash, no leak. */
    for (int kind = 0; kind < 2; kind++) {
        uint64_t data_len = kind ? 6 : SAMPLE_TXN_DATA;
        if (kind)
            sample_pull_reply(&m);
        else
            sample_repop(&m);
        assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), 0);
        for (size_t n = 0; n < len; n++) {
            uint8_t *cut = malloc(n + 1); /* exactly n bytes readable for ASan */
            assert_non_null(cut);
            memcpy(cut, buf, n);
            err[0] = '\0';
            int r = proto_osd_peer_decode(n ? cut : NULL, n, data_len, &out, err, sizeof(err));
            assert_true(r == 0 || r == -EBADMSG || r == -EINVAL);
            if (r == 0)
                proto_osd_peer_release(&out);
            else
                assert_true(err[0] != '\0');
            free(cut);
        }
        free(buf);
    }
}

/* ---- limits ------------------------------------------------------------- */

/* Encodes @m: @want; when 0, decodes it against @data_len too. */
static void expect_encode(const struct proto_osd_peer *m, uint64_t data_len, int want)
{
    struct proto_osd_peer out;
    char err[128] = "";
    uint8_t *buf;
    size_t len;

    assert_int_equal(proto_osd_peer_encode(m, &buf, &len), want);
    if (want != 0)
        return;
    int r = proto_osd_peer_decode(buf, len, data_len, &out, err, sizeof(err));
    if (r != 0)
        print_error("decode: %d (%s)\n", r, err);
    assert_int_equal(r, 0);
    proto_osd_peer_release(&out);
    free(buf);
}

/* @n bytes of @c (malloc'd, for a proto_bytes). */
static struct proto_bytes filled(int c, size_t n)
{
    uint8_t *p = malloc(n + 1);
    assert_non_null(p);
    memset(p, c, n);
    return (struct proto_bytes){p, n};
}

static void test_peer_count_limits(void **state)
{
    (void)state;
    struct proto_osd_peer m;
    size_t n = PROTO_PEER_ENTRIES_MAX + 1;
    struct proto_pg_log_entry *entries = calloc(n, sizeof(*entries));
    struct proto_bytes *names = calloc(n, sizeof(*names));
    uint64_t *versions = calloc(n, sizeof(*versions));
    struct proto_peer_kv *kvs = calloc(n, sizeof(*kvs));
    struct proto_txn_op *txn = calloc(n, sizeof(*txn));

    assert_true(entries && names && versions && kvs && txn);
    for (size_t i = 0; i < n; i++) {
        entries[i] = (struct proto_pg_log_entry){.version = i, .op = 1, .oid = B("o")};
        names[i] = B("n");
        versions[i] = i;
        kvs[i] = (struct proto_peer_kv){B("k"), B("v")};
        txn[i] = (struct proto_txn_op){.type = PROTO_TXN_TOUCH, .oid = B("o")};
    }
    for (uint32_t extra = 0; extra < 2; extra++) {
        int want = extra ? -EINVAL : 0;
        sample_head(&m, PROTO_PEER_ACTIVATE);
        m.n_entries = PROTO_PEER_ENTRIES_MAX + extra;
        m.entries = entries;
        expect_encode(&m, 0, want);

        sample_head(&m, PROTO_PEER_SCAN);
        m.n_names = PROTO_PEER_NAMES_MAX + extra;
        m.names = names;
        m.versions = versions;
        expect_encode(&m, 0, want);

        sample_pull_reply(&m);
        m.n_xattrs = PROTO_PEER_KV_MAX + extra;
        m.xattrs = kvs;
        m.n_omap = 0;
        expect_encode(&m, 6, want);
        m.n_xattrs = 0;
        m.n_omap = PROTO_PEER_KV_MAX + extra;
        m.omap = kvs;
        expect_encode(&m, 6, want);

        sample_head(&m, PROTO_PEER_REPOP);
        m.n_txn = PROTO_PEER_TXN_MAX + extra;
        m.txn = txn;
        expect_encode(&m, 0, want);
    }
    free(entries);
    free(names);
    free(versions);
    free(kvs);
    free(txn);
}

static void test_peer_length_limits(void **state)
{
    (void)state;
    struct proto_osd_peer m;
    struct proto_pg_log_entry entry;
    struct proto_peer_kv kv;
    struct proto_txn_op t;

    for (size_t extra = 0; extra < 2; extra++) {
        int want = extra ? -EINVAL : 0;
        struct proto_bytes name = filled('n', PROTO_PEER_NAME_MAX + extra);
        struct proto_bytes xname = filled('x', PROTO_PEER_XATTR_NAME_MAX + extra);
        struct proto_bytes value = filled('v', PROTO_PEER_VALUE_MAX + extra);
        struct proto_bytes reply = filled('r', PROTO_PEER_REPLY_MAX + extra);

        sample_head(&m, PROTO_PEER_PULL);
        m.oid = name;
        expect_encode(&m, 0, want);
        sample_head(&m, PROTO_PEER_SCAN);
        m.after_name = name;
        expect_encode(&m, 0, want);
        sample_head(&m, PROTO_PEER_SCAN);
        m.n_names = 1;
        m.names = &name;
        m.versions = sample_versions;
        expect_encode(&m, 0, want);

        entry = (struct proto_pg_log_entry){.op = 1, .oid = name};
        sample_head(&m, PROTO_PEER_ACTIVATE);
        m.n_entries = 1;
        m.entries = &entry;
        expect_encode(&m, 0, want);
        entry = (struct proto_pg_log_entry){.op = 1, .oid = B("o"), .reply = reply};
        expect_encode(&m, 0, want);

        sample_pull_reply(&m);
        m.n_omap = 0;
        m.n_xattrs = 1;
        m.xattrs = &kv;
        kv = (struct proto_peer_kv){xname, B("v")};
        expect_encode(&m, 6, want);
        kv = (struct proto_peer_kv){B("x"), value};
        expect_encode(&m, 6, want);
        m.n_xattrs = 0;
        m.n_omap = 1;
        m.omap = &kv;
        kv = (struct proto_peer_kv){value, B("v")};
        expect_encode(&m, 6, want);
        kv = (struct proto_peer_kv){B("k"), value};
        expect_encode(&m, 6, want);

        sample_head(&m, PROTO_PEER_REPOP);
        m.n_txn = 1;
        m.txn = &t;
        t = (struct proto_txn_op){.type = PROTO_TXN_REMOVE, .oid = name};
        expect_encode(&m, 0, want);
        t = (struct proto_txn_op){.type = PROTO_TXN_SETXATTR, .oid = B("o"), .key = xname,
                                  .val = B("v")};
        expect_encode(&m, 0, want);
        t = (struct proto_txn_op){.type = PROTO_TXN_RMXATTR, .oid = B("o"), .key = xname};
        expect_encode(&m, 0, want);
        t = (struct proto_txn_op){.type = PROTO_TXN_SETXATTR, .oid = B("o"), .key = B("x"),
                                  .val = value};
        expect_encode(&m, 0, want);
        t = (struct proto_txn_op){.type = PROTO_TXN_OMAP_SET, .oid = B("o"), .key = value,
                                  .val = value};
        expect_encode(&m, 0, want);

        free((void *)name.p);
        free((void *)xname.p);
        free((void *)value.p);
        free((void *)reply.p);
    }
}

/* Encode refuses what decode would (caller bugs). */
static void test_peer_encode_rejects_caller_bugs(void **state)
{
    (void)state;
    struct proto_osd_peer m;
    struct proto_txn_op t = {.type = PROTO_TXN_WRITE, .oid = B("o"), .off = 1, .len = UINT64_MAX};
    uint8_t *buf = NULL;
    size_t len;

    proto_osd_peer_init(&m);
    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), -EINVAL); /* op 0 */
    m.op = PROTO_PEER_OP_MAX + 1;
    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), -EINVAL);

    sample_head(&m, PROTO_PEER_QUERY);
    m.result = 5;
    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), -EINVAL);

    sample_head(&m, PROTO_PEER_PUSH); /* no oid */
    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), -EINVAL);
    m.oid = (struct proto_bytes){NULL, 3};
    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), -EINVAL);

    sample_head(&m, PROTO_PEER_ACTIVATE);
    m.n_entries = 1; /* no array */
    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), -EINVAL);
    sample_head(&m, PROTO_PEER_SCAN);
    m.n_names = 1;
    m.names = (struct proto_bytes *)sample_names; /* no versions */
    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), -EINVAL);

    sample_head(&m, PROTO_PEER_REPOP);
    m.n_txn = 1;
    m.txn = &t;
    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), -EINVAL);
    t = (struct proto_txn_op){.type = PROTO_TXN_TYPE_MAX + 1, .oid = B("o")};
    assert_int_equal(proto_osd_peer_encode(&m, &buf, &len), -EINVAL);
    assert_null(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_round_trip_requests),
        cmocka_unit_test(test_peer_round_trip_replies),
        cmocka_unit_test(test_peer_round_trip_repop),
        cmocka_unit_test(test_peer_defaults),
        cmocka_unit_test(test_peer_message_is_truncated),
        cmocka_unit_test(test_peer_rejects_bad_head),
        cmocka_unit_test(test_peer_rejects_bad_counts),
        cmocka_unit_test(test_peer_rejects_bad_entries),
        cmocka_unit_test(test_peer_rejects_bad_names_and_kvs),
        cmocka_unit_test(test_peer_rejects_bad_txn),
        cmocka_unit_test(test_peer_data_must_match),
        cmocka_unit_test(test_peer_rejects_garbage_and_truncation),
        cmocka_unit_test(test_peer_count_limits),
        cmocka_unit_test(test_peer_length_limits),
        cmocka_unit_test(test_peer_encode_rejects_caller_bugs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The monitor command codec (protocol/mon.c): round trips of every op, of
 * replies with key and status, of map requests, of beacons with PG stats
 * and store usage and of PG stats replies with OSD usage, and the usage
 * sum (protocol/pgstat.c); rejection of truncated, garbage and
 * out-of-range input with the documented -errno. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/mon.h"

static const uint32_t all_ops[] = {
    PROTO_MON_POOL_CREATE, PROTO_MON_POOL_RM,     PROTO_MON_POOL_SET,   PROTO_MON_OSD_BOOT,
    PROTO_MON_OSD_IN,      PROTO_MON_OSD_OUT,     PROTO_MON_OSD_RM,     PROTO_MON_OSD_REWEIGHT,
    PROTO_MON_OSD_DOWN,    PROTO_MON_OSD_FAILURE, PROTO_MON_OSD_BEACON, PROTO_MON_MON_ADD,
    PROTO_MON_MON_RM,      PROTO_MON_KEY_CREATE,  PROTO_MON_KEY_RM,     PROTO_MON_KEY_GET,
    PROTO_MON_KEY_LS,      PROTO_MON_CONFIG_SET,  PROTO_MON_CONFIG_RM,  PROTO_MON_CONFIG_GET,
};

/* A command with every field set to something distinctive for @op. */
static void full_cmd(struct proto_mon_cmd *c, uint32_t op)
{
    proto_mon_cmd_init(c, (enum proto_mon_op)op);
    c->id = (int32_t)op % 7;
    snprintf(c->name, sizeof(c->name), "name-%u", op);
    snprintf(c->key, sizeof(c->key), "key-%u", op);
    snprintf(c->value, sizeof(c->value), "value-%u", op);
    c->size = op + 1;
    c->min_size = op + 2;
    c->pg_num = op * 1000;
    c->failure_domain = PROTO_MON_FD_OSD;
    c->weight = PROTO_MAP_WEIGHT_ONE * 3 / 2;
    for (unsigned i = 0; i < sizeof(c->uuid); i++)
        c->uuid[i] = (uint8_t)(op + i);
    c->stamp_ns = 1700000000123456789ull + op;
}

static void round_trip_cmd(const struct proto_mon_cmd *in)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    struct proto_mon_cmd out;

    assert_int_equal(proto_mon_cmd_encode(in, &buf, &len), 0);
    memset(&out, 0xa5, sizeof(out));
    assert_int_equal(proto_mon_cmd_decode(buf, len, &out), 0);
    /* Strings are compared as strings: bytes after the NUL are not encoded. */
    assert_int_equal(out.op, in->op);
    assert_int_equal(out.id, in->id);
    assert_string_equal(out.name, in->name);
    assert_string_equal(out.key, in->key);
    assert_string_equal(out.value, in->value);
    assert_int_equal(out.size, in->size);
    assert_int_equal(out.min_size, in->min_size);
    assert_int_equal(out.pg_num, in->pg_num);
    assert_int_equal(out.failure_domain, in->failure_domain);
    assert_int_equal(out.weight, in->weight);
    assert_memory_equal(out.uuid, in->uuid, sizeof(in->uuid));
    assert_true(out.stamp_ns == in->stamp_ns);
    free(buf);
}

static void test_mon_cmd_round_trip_every_op(void **state)
{
    (void)state;
    struct proto_mon_cmd c;
    for (size_t i = 0; i < sizeof(all_ops) / sizeof(all_ops[0]); i++) {
        assert_true(proto_mon_op_is_valid(all_ops[i]));
        assert_string_not_equal(proto_mon_op_name(all_ops[i]), "unknown");
        full_cmd(&c, all_ops[i]);
        round_trip_cmd(&c);
        proto_mon_cmd_init(&c, (enum proto_mon_op)all_ops[i]);
        round_trip_cmd(&c); /* defaults only: id stays -1 */
    }
}

static void test_mon_cmd_defaults_and_full_strings(void **state)
{
    (void)state;
    struct proto_mon_cmd c, out;
    uint8_t *buf;
    size_t len;

    proto_mon_cmd_init(&c, PROTO_MON_OSD_BOOT);
    assert_int_equal(c.id, -1);
    assert_int_equal(proto_mon_cmd_encode(&c, &buf, &len), 0);
    assert_int_equal(len, 2); /* only the op: defaults are not written */
    assert_int_equal(proto_mon_cmd_decode(buf, len, &out), 0);
    assert_int_equal(out.id, -1);
    assert_true(memcmp(&out, &c, sizeof(c)) == 0);
    free(buf);

    /* The longest strings that fit, and the largest id and weight. */
    full_cmd(&c, PROTO_MON_CONFIG_SET);
    memset(c.name, 'n', sizeof(c.name) - 1);
    c.name[sizeof(c.name) - 1] = '\0';
    memset(c.key, 'k', sizeof(c.key) - 1);
    c.key[sizeof(c.key) - 1] = '\0';
    memset(c.value, 'v', sizeof(c.value) - 1);
    c.value[sizeof(c.value) - 1] = '\0';
    c.id = INT32_MAX;
    c.weight = UINT32_MAX;
    round_trip_cmd(&c);
}

static void test_mon_op_names(void **state)
{
    (void)state;
    assert_string_equal(proto_mon_op_name(PROTO_MON_POOL_CREATE), "pool create");
    assert_string_equal(proto_mon_op_name(PROTO_MON_OSD_BOOT), "osd boot");
    assert_string_equal(proto_mon_op_name(PROTO_MON_CONFIG_GET), "config get");
    assert_string_equal(proto_mon_op_name(4), "unknown");
    assert_string_equal(proto_mon_op_name(PROTO_MON_OP_MAX + 1), "unknown");
    assert_false(proto_mon_op_is_valid(PROTO_MON_OP_NONE));
    assert_false(proto_mon_op_is_valid(4));
    assert_false(proto_mon_op_is_valid(PROTO_MON_OP_MAX + 1));
    assert_false(proto_mon_op_is_valid(UINT32_MAX));
}

/* Hand-made protobuf: field numbers from protocol/mon.proto. */
static void expect_cmd(const uint8_t *buf, size_t len, int want)
{
    struct proto_mon_cmd c, before;
    full_cmd(&c, PROTO_MON_POOL_RM);
    before = c;
    assert_int_equal(proto_mon_cmd_decode(buf, len, &c), want);
    if (want != 0)
        assert_true(memcmp(&c, &before, sizeof(c)) == 0); /* untouched */
}

static void test_mon_cmd_rejects_bad_values(void **state)
{
    (void)state;
    static const uint8_t no_op[] = {0x1a, 0x01, 'x'}; /* name only, op 0 */
    static const uint8_t gap_op[] = {0x08, 0x04};     /* op 4 */
    static const uint8_t big_op[] = {0x08, 43};       /* OP_MAX + 1 */
    static const uint8_t huge_op[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0x0f};
    static const uint8_t id_m2[] = {0x08, 0x0b, 0x10, 0x03}; /* sint32 -2 */
    static const uint8_t id_m1[] = {0x08, 0x0b, 0x10, 0x01}; /* sint32 -1 */
    static const uint8_t uuid15[] = {0x08, 0x0a, 0x5a, 15, 1,  2,  3,  4,  5, 6,
                                     7,    8,    9,    10, 11, 12, 13, 14, 15};
    static const uint8_t uuid17[] = {0x08, 0x0a, 0x5a, 17, 1,  2,  3,  4,  5,  6, 7,
                                     8,    9,    10,   11, 12, 13, 14, 15, 16, 17};
    expect_cmd(no_op, sizeof(no_op), -EINVAL);
    expect_cmd(gap_op, sizeof(gap_op), -EINVAL);
    expect_cmd(big_op, sizeof(big_op), -EINVAL);
    expect_cmd(huge_op, sizeof(huge_op), -EINVAL);
    expect_cmd(id_m2, sizeof(id_m2), -EINVAL);
    expect_cmd(id_m1, sizeof(id_m1), 0);
    expect_cmd(uuid15, sizeof(uuid15), -EINVAL);
    expect_cmd(uuid17, sizeof(uuid17), -EINVAL);
    expect_cmd((const uint8_t *)"", 0, -EINVAL); /* parses, but no op */
}

/* A string field @field of @n bytes of 'x' after op = POOL_RM. */
static size_t make_string_cmd(uint8_t *buf, unsigned field, size_t n)
{
    size_t off = 0;
    buf[off++] = 0x08;
    buf[off++] = PROTO_MON_POOL_RM;
    buf[off++] = (uint8_t)(field << 3 | 2);
    buf[off++] = (uint8_t)(n | 0x80);
    buf[off++] = (uint8_t)(n >> 7);
    memset(buf + off, 'x', n);
    return off + n;
}

static void test_mon_cmd_rejects_overlong_strings(void **state)
{
    (void)state;
    uint8_t buf[512];
    static const struct {
        unsigned field;
        size_t cap;
    } f[] = {
        {3, PROTO_MON_NAME_MAX},
        {4, PROTO_MON_NAME_MAX},
        {5, PROTO_MON_VALUE_MAX},
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        expect_cmd(buf, make_string_cmd(buf, f[i].field, f[i].cap - 1), 0);
        expect_cmd(buf, make_string_cmd(buf, f[i].field, f[i].cap), -EINVAL);
        expect_cmd(buf, make_string_cmd(buf, f[i].field, f[i].cap + 100), -EINVAL);
    }
}

static void test_mon_cmd_rejects_truncated_and_garbage(void **state)
{
    (void)state;
    struct proto_mon_cmd c;
    uint8_t *buf;
    size_t len;
    full_cmd(&c, PROTO_MON_OSD_BOOT);
    assert_int_equal(proto_mon_cmd_encode(&c, &buf, &len), 0);
    /* Every proper prefix either fails to parse or, cut at a field boundary,
     * decodes to fewer fields; it never crashes or reads past the end. */
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        int r = proto_mon_cmd_decode(copy, n, &c);
        assert_true(r == 0 || r == -EBADMSG || r == -EINVAL);
        free(copy);
    }
    /* Cut inside the uuid (before stamp_ns, 10 bytes here): cannot parse. */
    assert_int_equal(proto_mon_cmd_decode(buf, len - 12, &c), -EBADMSG);
    free(buf);

    static const uint8_t garbage1[] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t garbage2[] = {0x08};                 /* varint cut off */
    static const uint8_t garbage3[] = {0x1a, 0x05, 'a', 'b'}; /* length past end */
    static const uint8_t garbage4[] = {0x0f, 0x00};           /* wire type 7 */
    expect_cmd(garbage1, sizeof(garbage1), -EBADMSG);
    expect_cmd(garbage2, sizeof(garbage2), -EBADMSG);
    expect_cmd(garbage3, sizeof(garbage3), -EBADMSG);
    expect_cmd(garbage4, sizeof(garbage4), -EBADMSG);
}

static void test_mon_cmd_encode_rejects_unterminated(void **state)
{
    (void)state;
    struct proto_mon_cmd c;
    uint8_t *buf = NULL;
    size_t len;
    proto_mon_cmd_init(&c, PROTO_MON_POOL_RM);
    memset(c.name, 'x', sizeof(c.name));
    assert_int_equal(proto_mon_cmd_encode(&c, &buf, &len), -EINVAL);
    assert_null(buf);
}

static void fill_reply(struct proto_mon_reply *r)
{
    proto_mon_reply_init(r);
    r->result = -EEXIST;
    snprintf(r->message, sizeof(r->message), "pool 'rbd' already exists");
    r->id = 12;
    r->epoch = 99;
    r->has_key = true;
    for (unsigned i = 0; i < PROTO_KEY_LEN; i++)
        r->key[i] = (uint8_t)(0xf0 ^ i);
    snprintf(r->text, sizeof(r->text), "client.admin\nosd.0\n");
    r->has_status = true;
    snprintf(r->status.leader, sizeof(r->status.leader), "b");
    r->status.n_quorum = PROTO_MAP_MAX_MONS;
    for (unsigned i = 0; i < PROTO_MAP_MAX_MONS; i++)
        snprintf(r->status.quorum[i], sizeof(r->status.quorum[i]), "mon%u", i);
    r->status.term = 7;
    r->status.commit_index = 1000;
    r->status.applied_index = 999;
    r->status.epoch = 99;
    snprintf(r->leader_addr, sizeof(r->leader_addr), "127.0.0.1:6790");
}

static void test_mon_reply_round_trip(void **state)
{
    (void)state;
    struct proto_mon_reply in, out;
    uint8_t *buf;
    size_t len;

    fill_reply(&in);
    assert_int_equal(proto_mon_reply_encode(&in, &buf, &len), 0);
    memset(&out, 0x5a, sizeof(out));
    assert_int_equal(proto_mon_reply_decode(buf, len, &out), 0);
    free(buf);
    assert_int_equal(out.result, -EEXIST);
    assert_string_equal(out.message, in.message);
    assert_int_equal(out.id, 12);
    assert_int_equal(out.epoch, 99);
    assert_true(out.has_key);
    assert_memory_equal(out.key, in.key, PROTO_KEY_LEN);
    assert_string_equal(out.text, in.text);
    assert_true(out.has_status);
    assert_string_equal(out.status.leader, "b");
    assert_int_equal(out.status.n_quorum, PROTO_MAP_MAX_MONS);
    assert_string_equal(out.status.quorum[6], "mon6");
    assert_int_equal(out.status.term, 7);
    assert_int_equal(out.status.commit_index, 1000);
    assert_int_equal(out.status.applied_index, 999);
    assert_int_equal(out.status.epoch, 99);
    assert_string_equal(out.leader_addr, in.leader_addr);

    /* An empty reply stays empty: id -1, no key, no status. */
    proto_mon_reply_init(&in);
    assert_int_equal(proto_mon_reply_encode(&in, &buf, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(proto_mon_reply_decode(buf, len, &out), 0);
    free(buf);
    assert_true(memcmp(&in, &out, sizeof(in)) == 0);
}

static void expect_reply(const uint8_t *buf, size_t len, int want)
{
    struct proto_mon_reply *r = malloc(sizeof(*r));
    proto_mon_reply_init(r);
    r->epoch = 5;
    assert_int_equal(proto_mon_reply_decode(buf, len, r), want);
    if (want != 0)
        assert_int_equal(r->epoch, 5);
    free(r);
}

static void test_mon_reply_rejects_bad_values(void **state)
{
    (void)state;
    static const uint8_t positive[] = {0x08, 0x02}; /* sint32 +1 */
    static const uint8_t key31[] = {0x2a, 31};
    static const uint8_t garbage[] = {0x3a, 0x10, 0x0a}; /* status cut off */
    uint8_t buf[64];
    size_t n = 0;

    expect_reply(positive, sizeof(positive), -EINVAL);
    uint8_t k[2 + 31] = {0};
    memcpy(k, key31, 2);
    expect_reply(k, sizeof(k), -EINVAL);
    expect_reply(garbage, sizeof(garbage), -EBADMSG);
    /* A status with PROTO_MAP_MAX_MONS + 1 quorum names. */
    buf[n++] = 0x3a;
    buf[n++] = (uint8_t)(3 * (PROTO_MAP_MAX_MONS + 1));
    for (unsigned i = 0; i <= PROTO_MAP_MAX_MONS; i++) {
        buf[n++] = 0x12;
        buf[n++] = 1;
        buf[n++] = (uint8_t)('a' + i);
    }
    expect_reply(buf, n, -EINVAL);
    buf[1] = (uint8_t)(3 * PROTO_MAP_MAX_MONS);
    expect_reply(buf, n - 3, 0);
}

static void test_mon_map_request_round_trip(void **state)
{
    (void)state;
    static const uint64_t epochs[] = {0, 1, 12345, UINT64_MAX};
    uint8_t *buf;
    size_t len;
    uint64_t e;
    for (size_t i = 0; i < sizeof(epochs) / sizeof(epochs[0]); i++) {
        assert_int_equal(proto_mon_map_request_encode(epochs[i], &buf, &len), 0);
        e = 77;
        assert_int_equal(proto_mon_map_request_decode(buf, len, &e), 0);
        assert_true(e == epochs[i]);
        free(buf);
    }
    static const uint8_t cut[] = {0x08, 0x80};
    e = 77;
    assert_int_equal(proto_mon_map_request_decode(cut, sizeof(cut), &e), -EBADMSG);
    assert_true(e == 77);
}

/* ---- beacons with PG stats, PG_STATS replies ---- */

/* @n PG stats with every field set to something distinctive. */
static void fill_stats(struct proto_pg_stats *s, uint32_t n)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->pgs = n ? calloc(n, sizeof(*s->pgs)) : NULL;
    s->beacon_ms = 1000;
    for (uint32_t i = 0; i < n; i++) {
        struct proto_pg_stat *st = &s->pgs[i];
        st->pool = (int32_t)(i % 3) + 1;
        st->ps = i;
        st->state = PROTO_PGS_ACTIVE | (i % 2 ? PROTO_PGS_CLEAN : PROTO_PGS_DEGRADED);
        st->epoch = 40 + i;
        st->last_update = (41ull << 32) | (i + 7);
        st->objects = 1000 + i;
        st->objects_missing = i % 5;
        st->objects_recovered = 3 * i;
        st->last_scrub_ns = 1700000000000000000ull + i;
        st->last_deep_scrub_ns = i % 2 ? 0 : 1600000000000000000ull + i;
        st->n_acting = 1 + i % PROTO_PLACE_MAX_REPLICAS;
        for (uint32_t k = 0; k < st->n_acting; k++)
            st->acting[k] = (int32_t)((i + k) % PROTO_MAP_MAX_OSDS);
    }
}

static void assert_stats_equal(const struct proto_pg_stats *a, const struct proto_pg_stats *b)
{
    assert_int_equal(a->n, b->n);
    for (uint32_t i = 0; i < a->n; i++) {
        const struct proto_pg_stat *x = &a->pgs[i], *y = &b->pgs[i];
        assert_int_equal(x->pool, y->pool);
        assert_int_equal(x->ps, y->ps);
        assert_int_equal(x->state, y->state);
        assert_true(x->epoch == y->epoch && x->last_update == y->last_update);
        assert_true(x->objects == y->objects && x->objects_missing == y->objects_missing);
        assert_true(x->objects_recovered == y->objects_recovered);
        assert_true(x->last_scrub_ns == y->last_scrub_ns);
        assert_true(x->last_deep_scrub_ns == y->last_deep_scrub_ns);
        assert_int_equal(x->n_acting, y->n_acting);
        assert_memory_equal(x->acting, y->acting, x->n_acting * sizeof(x->acting[0]));
    }
}

static void beacon_cmd(struct proto_mon_cmd *c, int32_t id)
{
    proto_mon_cmd_init(c, PROTO_MON_OSD_BEACON);
    c->id = id;
}

static void test_mon_beacon_round_trip_with_stats(void **state)
{
    (void)state;
    struct proto_mon_cmd cmd, out, plain;
    struct proto_pg_stats in, got;
    uint8_t *buf;
    size_t len;

    beacon_cmd(&cmd, 3);
    fill_stats(&in, 40);
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), 0);
    assert_int_equal(proto_mon_beacon_decode(buf, len, &out, &got), 0);
    assert_int_equal(out.op, PROTO_MON_OSD_BEACON);
    assert_int_equal(out.id, 3);
    assert_int_equal(got.beacon_ms, 1000);
    assert_stats_equal(&in, &got);
    /* An older monitor's decoder reads the same bytes as a plain beacon. */
    assert_int_equal(proto_mon_cmd_decode(buf, len, &plain), 0);
    assert_int_equal(plain.op, PROTO_MON_OSD_BEACON);
    assert_int_equal(plain.id, 3);
    free(buf);
    proto_pg_stats_fini(&got);
    assert_null(got.pgs);

    /* A primary of no PG still says so: beacon_ms without PGs. */
    in.n = 0;
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), 0);
    assert_int_equal(proto_mon_beacon_decode(buf, len, &out, &got), 0);
    assert_int_equal(got.beacon_ms, 1000);
    assert_int_equal(got.n, 0);
    assert_null(got.pgs);
    free(buf);

    /* An older OSD's beacon (or NULL stats) carries none: beacon_ms 0. */
    assert_int_equal(proto_mon_beacon_encode(&cmd, NULL, &buf, &len), 0);
    assert_int_equal(proto_mon_beacon_decode(buf, len, &out, &got), 0);
    assert_int_equal(got.beacon_ms, 0);
    assert_int_equal(got.n, 0);
    free(buf);
    assert_int_equal(proto_mon_cmd_encode(&cmd, &buf, &len), 0);
    assert_int_equal(proto_mon_beacon_decode(buf, len, &out, &got), 0);
    assert_int_equal(got.beacon_ms, 0);
    free(buf);
    proto_pg_stats_fini(&in);
}

static void test_mon_beacon_encode_rejects_bad_stats(void **state)
{
    (void)state;
    struct proto_mon_cmd cmd;
    struct proto_pg_stats in;
    uint8_t *buf = NULL;
    size_t len;

    beacon_cmd(&cmd, 1);
    fill_stats(&in, 2);
    in.beacon_ms = 0;
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), -EINVAL);
    in.beacon_ms = 1000;
    in.pgs[1].n_acting = PROTO_PLACE_MAX_REPLICAS + 1;
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), -EINVAL);
    in.pgs[1].n_acting = 1;
    in.n = PROTO_MON_PG_STATS_MAX + 1;
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), -EINVAL);
    in.n = 2;
    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_BOOT);
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), -EINVAL);
    assert_null(buf);
    proto_pg_stats_fini(&in);
}

/* Decoding @buf fails with @want and leaves the outputs alone. */
static void expect_beacon(const uint8_t *buf, size_t len, int want)
{
    struct proto_mon_cmd out;
    struct proto_pg_stats got = {.n = 77};

    proto_mon_cmd_init(&out, PROTO_MON_POOL_RM);
    assert_int_equal(proto_mon_beacon_decode(buf, len, &out, &got), want);
    if (want == 0) {
        proto_pg_stats_fini(&got);
        return;
    }
    assert_int_equal(out.op, PROTO_MON_POOL_RM);
    assert_int_equal(got.n, 77);
}

/* Encodes a beacon of @in (one PG changed by the caller) and checks @want. */
static void expect_beacon_of(const struct proto_pg_stats *in, int want)
{
    struct proto_mon_cmd cmd;
    uint8_t *buf;
    size_t len;

    beacon_cmd(&cmd, 2);
    assert_int_equal(proto_mon_beacon_encode(&cmd, in, &buf, &len), 0);
    expect_beacon(buf, len, want);
    free(buf);
}

static void test_mon_beacon_decode_rejects_bad_stats(void **state)
{
    (void)state;
    static const uint8_t empty_pg[] = {0x6a, 0x00}; /* field 13: one PgStat, all defaults */
    static const uint8_t cut[] = {0x08, 0x11, 0x6a, 0x05, 0x08};
    struct proto_mon_cmd cmd;
    struct proto_pg_stats in;
    uint8_t *buf, *more;
    size_t len;

    fill_stats(&in, 3);
    in.pgs[1].pool = -1;
    expect_beacon_of(&in, -EINVAL);
    in.pgs[1].pool = 1;
    in.pgs[2].acting[0] = -1;
    expect_beacon_of(&in, -EINVAL);
    in.pgs[2].acting[0] = (int32_t)PROTO_MAP_MAX_OSDS;
    expect_beacon_of(&in, -EINVAL);
    in.pgs[2].acting[0] = 0;
    expect_beacon_of(&in, 0);
    proto_pg_stats_fini(&in);
    expect_beacon(cut, sizeof(cut), -EBADMSG);

    /* Not a beacon. */
    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_BOOT);
    assert_int_equal(proto_mon_cmd_encode(&cmd, &buf, &len), 0);
    expect_beacon(buf, len, -EINVAL);
    free(buf);

    /* PGs without beacon_ms. */
    beacon_cmd(&cmd, 2);
    assert_int_equal(proto_mon_cmd_encode(&cmd, &buf, &len), 0);
    more = malloc(len + sizeof(empty_pg));
    memcpy(more, buf, len);
    memcpy(more + len, empty_pg, sizeof(empty_pg));
    expect_beacon(more, len + sizeof(empty_pg), -EINVAL);
    free(more);
    free(buf);

    /* PROTO_MON_PG_STATS_MAX PGs decode; one more does not. */
    fill_stats(&in, PROTO_MON_PG_STATS_MAX);
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), 0);
    expect_beacon(buf, len, 0);
    more = malloc(len + sizeof(empty_pg));
    memcpy(more, buf, len);
    memcpy(more + len, empty_pg, sizeof(empty_pg));
    expect_beacon(more, len + sizeof(empty_pg), -EINVAL);
    free(more);
    free(buf);
    proto_pg_stats_fini(&in);
}

static void test_mon_pg_stats_reply_round_trip(void **state)
{
    (void)state;
    struct proto_pg_stats in, got;
    uint8_t *buf;
    size_t len;

    fill_stats(&in, 100);
    in.objects_per_s = 12.75;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), 0);
    assert_int_equal(proto_mon_pg_stats_decode(buf, len, &got), 0);
    assert_stats_equal(&in, &got);
    assert_true(got.objects_per_s == 12.75);
    assert_int_equal(got.beacon_ms, 0);
    free(buf);
    proto_pg_stats_fini(&got);

    /* None at all: an empty message. */
    in.n = 0;
    in.objects_per_s = 0;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(proto_mon_pg_stats_decode(buf, len, &got), 0);
    assert_int_equal(got.n, 0);
    free(buf);

    /* A negative or NaN rate is refused; so is garbage. */
    in.n = 1;
    in.objects_per_s = -1;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), 0);
    got.n = 5;
    assert_int_equal(proto_mon_pg_stats_decode(buf, len, &got), -EINVAL);
    assert_int_equal(got.n, 5);
    free(buf);
    in.objects_per_s = NAN;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), 0);
    assert_int_equal(proto_mon_pg_stats_decode(buf, len, &got), -EINVAL);
    free(buf);
    static const uint8_t cut[] = {0x0a, 0x09, 0x08};
    assert_int_equal(proto_mon_pg_stats_decode(cut, sizeof(cut), &got), -EBADMSG);
    in.n = PROTO_MON_PG_STATS_MAX + 1;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), -EINVAL);
    in.n = 100;
    proto_pg_stats_fini(&in);
}

/* ---- store usage: beacons (fields 15, 16) and replies (OsdUsage) ---- */

/* Decoding a plain beacon of osd.2 with the hand-made fields @extra
 * appended gives @want. */
static void expect_beacon_plus(const uint8_t *extra, size_t extra_len, int want)
{
    struct proto_mon_cmd cmd;
    uint8_t *buf, *more;
    size_t len;

    beacon_cmd(&cmd, 2);
    assert_int_equal(proto_mon_cmd_encode(&cmd, &buf, &len), 0);
    more = malloc(len + extra_len);
    assert_non_null(more);
    memcpy(more, buf, len);
    memcpy(more + len, extra, extra_len);
    expect_beacon(more, len + extra_len, want);
    free(more);
    free(buf);
}

static void test_mon_beacon_carries_store_usage(void **state)
{
    (void)state;
    struct proto_mon_cmd cmd, out, plain;
    struct proto_pg_stats in, got;
    uint8_t *buf;
    size_t len;

    /* With PG stats: both travel, each intact. */
    beacon_cmd(&cmd, 7);
    fill_stats(&in, 5);
    in.has_store = true;
    in.store = (struct proto_osd_usage){
        .osd = 7, .bytes_total = 256ull << 20, .bytes_used = (3ull << 20) + 4096};
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), 0);
    assert_int_equal(proto_mon_beacon_decode(buf, len, &out, &got), 0);
    assert_stats_equal(&in, &got);
    assert_int_equal(got.beacon_ms, 1000);
    assert_true(got.has_store);
    assert_int_equal(got.store.osd, 7);
    assert_true(got.store.bytes_total == 256ull << 20);
    assert_true(got.store.bytes_used == (3ull << 20) + 4096);
    /* An older monitor reads it as a plain beacon. */
    assert_int_equal(proto_mon_cmd_decode(buf, len, &plain), 0);
    assert_int_equal(plain.id, 7);
    free(buf);
    proto_pg_stats_fini(&got);
    assert_false(got.has_store);

    /* The usage alone (stats too big or out of memory): no beacon_ms, so
     * the PG stats the monitor has stay. */
    proto_pg_stats_fini(&in);
    in.has_store = true;
    in.store = (struct proto_osd_usage){.bytes_total = 1ull << 40, .bytes_used = 1ull << 40};
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), 0);
    assert_int_equal(proto_mon_beacon_decode(buf, len, &out, &got), 0);
    assert_int_equal(got.beacon_ms, 0);
    assert_int_equal(got.n, 0);
    assert_true(got.has_store);
    assert_true(got.store.bytes_total == 1ull << 40 && got.store.bytes_used == 1ull << 40);
    free(buf);
    /* Zero bytes is a value, not absence. */
    in.store.bytes_total = in.store.bytes_used = 0;
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), 0);
    assert_int_equal(proto_mon_beacon_decode(buf, len, &out, &got), 0);
    assert_true(got.has_store);
    assert_true(got.store.bytes_total == 0);
    free(buf);

    /* An older OSD's beacon, with stats but no usage: has_store false. */
    fill_stats(&in, 2);
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), 0);
    assert_int_equal(proto_mon_beacon_decode(buf, len, &out, &got), 0);
    assert_false(got.has_store);
    free(buf);
    proto_pg_stats_fini(&got);
    proto_pg_stats_fini(&in);
}

static void test_mon_beacon_rejects_bad_store_usage(void **state)
{
    (void)state;
    /* field 15 = 5 alone; field 16 = 5 alone; 15 = 5 with 16 = 6 (used
     * above total); 15 = 6 with 16 = 5 (fine). */
    static const uint8_t total_only[] = {0x78, 0x05};
    static const uint8_t used_only[] = {0x80, 0x01, 0x05};
    static const uint8_t over[] = {0x78, 0x05, 0x80, 0x01, 0x06};
    static const uint8_t fine[] = {0x78, 0x06, 0x80, 0x01, 0x05};
    struct proto_mon_cmd cmd;
    struct proto_pg_stats in = {0};
    uint8_t *buf = NULL;
    size_t len;

    expect_beacon_plus(total_only, sizeof(total_only), -EINVAL);
    expect_beacon_plus(used_only, sizeof(used_only), -EINVAL);
    expect_beacon_plus(over, sizeof(over), -EINVAL);
    expect_beacon_plus(fine, sizeof(fine), 0);

    beacon_cmd(&cmd, 1);
    in.has_store = true;
    in.store = (struct proto_osd_usage){.bytes_total = 5, .bytes_used = 6};
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), -EINVAL);
    /* PGs need beacon_ms, usage or not. */
    fill_stats(&in, 1);
    in.beacon_ms = 0;
    in.has_store = true;
    in.store.bytes_total = 6;
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), -EINVAL);
    assert_null(buf);
    proto_pg_stats_fini(&in);
    /* Neither stats nor usage: refused as before. */
    assert_int_equal(proto_mon_beacon_encode(&cmd, &in, &buf, &len), -EINVAL);
}

/* Decoding a hand-made reply: @want, and on failure @got untouched. */
static void expect_usage_reply(const uint8_t *buf, size_t len, int want)
{
    struct proto_pg_stats got = {.n = 5, .n_usage = 9};

    assert_int_equal(proto_mon_pg_stats_decode(buf, len, &got), want);
    if (want == 0) {
        proto_pg_stats_fini(&got);
        return;
    }
    assert_int_equal(got.n, 5);
    assert_int_equal(got.n_usage, 9);
    assert_null(got.usage);
}

static void test_mon_pg_stats_reply_carries_usage(void **state)
{
    (void)state;
    struct proto_osd_usage u[3] = {
        {.osd = 0, .bytes_total = 256ull << 20, .bytes_used = 64ull << 20},
        {.osd = 4, .bytes_total = 1ull << 40, .bytes_used = 0},
        {.osd = (int32_t)PROTO_MAP_MAX_OSDS - 1, .bytes_total = 4096, .bytes_used = 4096},
    };
    struct proto_pg_stats in, got;
    uint8_t *buf = NULL;
    size_t len;

    fill_stats(&in, 4);
    in.n_usage = 3;
    in.usage = u;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), 0);
    assert_int_equal(proto_mon_pg_stats_decode(buf, len, &got), 0);
    assert_stats_equal(&in, &got);
    assert_int_equal(got.n_usage, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(got.usage[i].osd, u[i].osd);
        assert_true(got.usage[i].bytes_total == u[i].bytes_total);
        assert_true(got.usage[i].bytes_used == u[i].bytes_used);
    }
    free(buf);
    proto_pg_stats_fini(&got);
    assert_null(got.usage);
    assert_int_equal(got.n_usage, 0);

    /* Usage without any PG (no pool yet) still travels. */
    free(in.pgs);
    in.pgs = NULL;
    in.n = 0;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), 0);
    assert_int_equal(proto_mon_pg_stats_decode(buf, len, &got), 0);
    assert_int_equal(got.n, 0);
    assert_int_equal(got.n_usage, 3);
    free(buf);
    buf = NULL;
    proto_pg_stats_fini(&got);

    /* The encoder refuses what the decoder would: out of order, a
     * duplicate, out of range, used above total, too many. */
    u[1].osd = 0;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), -EINVAL);
    u[1].osd = 4;
    u[2].osd = (int32_t)PROTO_MAP_MAX_OSDS;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), -EINVAL);
    u[2].osd = 9;
    u[0].osd = -1;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), -EINVAL);
    u[0].osd = 0;
    u[1].bytes_used = u[1].bytes_total + 1;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), -EINVAL);
    u[1].bytes_used = 0;
    in.n_usage = PROTO_MAP_MAX_OSDS + 1;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), -EINVAL);
    in.n_usage = 2;
    in.usage = NULL;
    assert_int_equal(proto_mon_pg_stats_encode(&in, &buf, &len), -EINVAL);
    assert_null(buf);
}

static void test_mon_pg_stats_reply_rejects_bad_usage(void **state)
{
    (void)state;
    /* Field 3, OsdUsage {osd (zigzag), bytes_total, bytes_used}. */
    static const uint8_t one[] = {0x1a, 0x06, 0x08, 0x02, 0x10, 0x0a, 0x18, 0x05};
    static const uint8_t twice[] = {0x1a, 0x06, 0x08, 0x02, 0x10, 0x0a, 0x18, 0x05,
                                    0x1a, 0x06, 0x08, 0x02, 0x10, 0x0a, 0x18, 0x05};
    static const uint8_t backwards[] = {0x1a, 0x06, 0x08, 0x04, 0x10, 0x0a, 0x18, 0x05,
                                        0x1a, 0x06, 0x08, 0x02, 0x10, 0x0a, 0x18, 0x05};
    static const uint8_t over[] = {0x1a, 0x06, 0x08, 0x02, 0x10, 0x05, 0x18, 0x0a};
    static const uint8_t negative[] = {0x1a, 0x02, 0x08, 0x01};
    static const uint8_t too_far[] = {0x1a, 0x03, 0x08, 0x80, 0x40}; /* osd 4096 */
    static const uint8_t cut[] = {0x1a, 0x06, 0x08, 0x02, 0x10};
    struct proto_pg_stats got = {0};

    assert_int_equal(proto_mon_pg_stats_decode(one, sizeof(one), &got), 0);
    assert_int_equal(got.n_usage, 1);
    assert_int_equal(got.usage[0].osd, 1);
    assert_true(got.usage[0].bytes_total == 10 && got.usage[0].bytes_used == 5);
    proto_pg_stats_fini(&got);
    expect_usage_reply(twice, sizeof(twice), -EINVAL);
    expect_usage_reply(backwards, sizeof(backwards), -EINVAL);
    expect_usage_reply(over, sizeof(over), -EINVAL);
    expect_usage_reply(negative, sizeof(negative), -EINVAL);
    expect_usage_reply(too_far, sizeof(too_far), -EINVAL);
    expect_usage_reply(cut, sizeof(cut), -EBADMSG);
}

/* proto_osd_usage_sum: only OSDs that exist, are up and are in count. */
static void test_osd_usage_sum_counts_up_and_in_osds(void **state)
{
    (void)state;
    struct proto_map *map = proto_map_create();
    struct proto_osd_usage u[5] = {
        {.osd = 0, .bytes_total = 100, .bytes_used = 10},
        {.osd = 1, .bytes_total = 200, .bytes_used = 20}, /* down */
        {.osd = 2, .bytes_total = 400, .bytes_used = 40}, /* out */
        {.osd = 3, .bytes_total = 800, .bytes_used = 80},
        {.osd = 9, .bytes_total = 1600, .bytes_used = 160}, /* not in the map */
    };
    struct proto_pg_stats s = {.n_usage = 5, .usage = u};
    uint64_t total = 1, used = 1;

    assert_non_null(map);
    for (int32_t i = 0; i < 5; i++) {
        assert_int_equal(proto_map_add_osd(map, i, "h"), 0);
        map->osds[i].up = map->osds[i].in = true;
    }
    map->osds[1].up = false;
    map->osds[2].in = false;
    map->osds[4].exists = false;
    assert_int_equal(proto_osd_usage_sum(&s, map, &total, &used), 2);
    assert_true(total == 900 && used == 90);
    /* Nobody counts: unknown, and zeros. */
    map->osds[0].up = map->osds[3].up = false;
    assert_int_equal(proto_osd_usage_sum(&s, map, &total, &used), 0);
    assert_true(total == 0 && used == 0);
    s.n_usage = 0;
    assert_int_equal(proto_osd_usage_sum(&s, map, &total, &used), 0);
    proto_map_destroy(map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mon_cmd_round_trip_every_op),
        cmocka_unit_test(test_mon_cmd_defaults_and_full_strings),
        cmocka_unit_test(test_mon_op_names),
        cmocka_unit_test(test_mon_cmd_rejects_bad_values),
        cmocka_unit_test(test_mon_cmd_rejects_overlong_strings),
        cmocka_unit_test(test_mon_cmd_rejects_truncated_and_garbage),
        cmocka_unit_test(test_mon_cmd_encode_rejects_unterminated),
        cmocka_unit_test(test_mon_reply_round_trip),
        cmocka_unit_test(test_mon_reply_rejects_bad_values),
        cmocka_unit_test(test_mon_map_request_round_trip),
        cmocka_unit_test(test_mon_beacon_round_trip_with_stats),
        cmocka_unit_test(test_mon_beacon_encode_rejects_bad_stats),
        cmocka_unit_test(test_mon_beacon_decode_rejects_bad_stats),
        cmocka_unit_test(test_mon_pg_stats_reply_round_trip),
        cmocka_unit_test(test_mon_beacon_carries_store_usage),
        cmocka_unit_test(test_mon_beacon_rejects_bad_store_usage),
        cmocka_unit_test(test_mon_pg_stats_reply_carries_usage),
        cmocka_unit_test(test_mon_pg_stats_reply_rejects_bad_usage),
        cmocka_unit_test(test_osd_usage_sum_counts_up_and_in_osds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

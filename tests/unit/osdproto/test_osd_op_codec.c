/* The OSD client-operation codec (protocol/osd_op.c): round trips of every
 * step type and of replies with every kind of result (listings, PG
 * commands and pings: test_osd_list_codec.c);
 * rejection of truncated, garbage and out-of-range input with the documented
 * -errno (and reason), each validation rule broken once. Malformed input is
 * written by hand with a small protobuf writer: field numbers from
 * protocol/osd_op.proto. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/osd_op.h"
#include "tests/unit/support/pbw.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* OsdOp fields. */
enum { OP_EPOCH = 1, OP_POOL, OP_PG, OP_OID, OP_CLIENT_ID, OP_TID, OP_STEPS };
/* OsdStep fields. */
enum {
    ST_TYPE = 1, ST_FLAGS, ST_OFF, ST_LEN, ST_NAME, ST_VALUE, ST_VALUE2, ST_CRC, ST_DELTA,
    ST_VERSION, ST_MAX,
};
/* OsdOpReply, OsdStepResult and OsdKv fields. */
enum { RE_RESULT = 1, RE_EPOCH, RE_VERSION, RE_FAILED_STEP, RE_MESSAGE, RE_RESULTS };
enum { RS_RVAL = 1, RS_LEN, RS_CRC, RS_VALUE, RS_SIZE, RS_MTIME, RS_NUM, RS_ENTRIES, RS_MORE };
enum { KV_KEY = 1, KV_VALUE };

/* The head of a valid op: pool 1, oid "obj". */
static void pb_op_head(struct pbw *w)
{
    pb_sint(w, OP_POOL, 1);
    pb_bytes(w, OP_OID, "obj", 3);
}

/* ---- ops: round trips --------------------------------------------------- */

static const uint32_t all_types[] = {
    PROTO_OSD_READ,        PROTO_OSD_STAT,           PROTO_OSD_GETXATTR,
    PROTO_OSD_GETXATTRS,   PROTO_OSD_OMAP_GET,       PROTO_OSD_OMAP_LIST,
    PROTO_OSD_ASSERT_EXISTS, PROTO_OSD_ASSERT_VERSION, PROTO_OSD_CMPXATTR,
    PROTO_OSD_WRITE,       PROTO_OSD_WRITE_FULL,     PROTO_OSD_TRUNCATE,
    PROTO_OSD_ZERO,        PROTO_OSD_CREATE,         PROTO_OSD_REMOVE,
    PROTO_OSD_SETXATTR,    PROTO_OSD_RMXATTR,        PROTO_OSD_OMAP_SET,
    PROTO_OSD_OMAP_RM,     PROTO_OSD_OMAP_CLEAR,     PROTO_OSD_COUNTER_ADD,
    PROTO_OSD_SET_IF_GREATER, PROTO_OSD_OMAP_CAS,
};

static const uint32_t xattr_types[] = {
    PROTO_OSD_GETXATTR, PROTO_OSD_CMPXATTR,    PROTO_OSD_SETXATTR,
    PROTO_OSD_RMXATTR,  PROTO_OSD_COUNTER_ADD, PROTO_OSD_SET_IF_GREATER,
};
static const uint32_t key_types[] = {
    PROTO_OSD_OMAP_GET, PROTO_OSD_OMAP_SET, PROTO_OSD_OMAP_RM, PROTO_OSD_OMAP_CAS,
};

/* Steps on an xattr or omap key need its name (1 byte at least). */
static bool needs_name(uint32_t type)
{
    for (size_t i = 0; i < ARRAY_LEN(xattr_types); i++)
        if (xattr_types[i] == type)
            return true;
    for (size_t i = 0; i < ARRAY_LEN(key_types); i++)
        if (key_types[i] == type)
            return true;
    return false;
}

/* A step of @type with the fields it uses set to something distinctive. */
static void full_step(struct proto_osd_step *s, uint32_t type)
{
    static const char key[] = {'k', '\0', 'y'}; /* omap keys may hold NUL */

    memset(s, 0, sizeof(*s));
    s->type = type;
    switch (type) {
    case PROTO_OSD_READ:
        s->off = 4096;
        s->len = 8192;
        break;
    case PROTO_OSD_GETXATTR:
    case PROTO_OSD_RMXATTR:
        s->name = "user.a";
        s->name_len = 6;
        break;
    case PROTO_OSD_OMAP_GET:
    case PROTO_OSD_OMAP_RM:
        s->name = key;
        s->name_len = sizeof(key);
        break;
    case PROTO_OSD_OMAP_LIST:
        s->name = "after";
        s->name_len = 5;
        s->max = 10;
        break;
    case PROTO_OSD_ASSERT_VERSION:
        s->version = 42;
        break;
    case PROTO_OSD_CMPXATTR:
    case PROTO_OSD_SETXATTR:
        s->name = "user.b";
        s->name_len = 6;
        s->value = "v\0v";
        s->value_len = 3;
        s->flags = type == PROTO_OSD_CMPXATTR ? PROTO_OSD_F_ABSENT : 0;
        break;
    case PROTO_OSD_WRITE:
        s->off = 100;
        s->len = 5;
        s->crc = 0xdeadbeef;
        break;
    case PROTO_OSD_WRITE_FULL:
        s->len = 3;
        s->crc = 0x12345678;
        break;
    case PROTO_OSD_TRUNCATE:
        s->off = 77;
        break;
    case PROTO_OSD_ZERO:
        s->off = 10;
        s->len = 20;
        break;
    case PROTO_OSD_CREATE:
        s->flags = PROTO_OSD_F_EXCL;
        break;
    case PROTO_OSD_OMAP_SET:
        s->name = key;
        s->name_len = sizeof(key);
        s->value = "val";
        s->value_len = 3;
        break;
    case PROTO_OSD_COUNTER_ADD:
        s->name = "user.count";
        s->name_len = 10;
        s->delta = -5;
        break;
    case PROTO_OSD_SET_IF_GREATER:
        s->name = "user.max";
        s->name_len = 8;
        s->version = UINT64_MAX;
        break;
    case PROTO_OSD_OMAP_CAS:
        s->name = key;
        s->name_len = sizeof(key);
        s->value = "old";
        s->value_len = 3;
        s->value2 = "new!";
        s->value2_len = 4;
        s->flags = PROTO_OSD_F_DELETE | PROTO_OSD_F_ABSENT;
        break;
    default:
        break;
    }
}

static void make_op(struct proto_osd_op *op)
{
    proto_osd_op_init(op);
    op->epoch = 17;
    op->pool = 3;
    op->pg = 0x2f;
    snprintf(op->oid, sizeof(op->oid), "rbd_data.1234");
    op->client_id = 0x0123456789abcdefull;
    op->tid = 991;
}

static void assert_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
    assert_int_equal(alen, blen);
    if (alen)
        assert_memory_equal(a, b, alen);
}

static void assert_step_equal(const struct proto_osd_step *a, const struct proto_osd_step *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->flags, b->flags);
    assert_true(a->off == b->off && a->len == b->len);
    assert_bytes(a->name, a->name_len, b->name, b->name_len);
    assert_bytes(a->value, a->value_len, b->value, b->value_len);
    assert_bytes(a->value2, a->value2_len, b->value2, b->value2_len);
    assert_int_equal(a->crc, b->crc);
    assert_true(a->delta == b->delta && a->version == b->version);
    assert_int_equal(a->max, b->max);
}

/* Encodes @in, decodes it against @data_len into @out (release it). */
static void op_round_trip(const struct proto_osd_op *in, uint64_t data_len,
                          struct proto_osd_op *out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[128] = "";

    assert_int_equal(proto_osd_op_encode(in, &buf, &len), 0);
    memset(out, 0xa5, sizeof(*out));
    assert_int_equal(proto_osd_op_decode(buf, len, data_len, out, err, sizeof(err)), 0);
    free(buf);
    assert_true(out->epoch == in->epoch);
    assert_int_equal(out->pool, in->pool);
    assert_int_equal(out->pg, in->pg);
    assert_string_equal(out->oid, in->oid);
    assert_true(out->client_id == in->client_id && out->tid == in->tid);
    assert_int_equal(out->n_steps, in->n_steps);
    for (uint32_t i = 0; i < in->n_steps; i++)
        assert_step_equal(&out->steps[i], &in->steps[i]);
    assert_non_null(out->priv);
}

static void test_osd_step_types(void **state)
{
    (void)state;
    unsigned valid = 0, mutations = 0;

    for (uint32_t t = 0; t < 100; t++) {
        valid += proto_osd_step_is_valid(t);
        mutations += proto_osd_step_is_mutation(t);
    }
    assert_int_equal(valid, ARRAY_LEN(all_types));
    assert_int_equal(mutations, 14);
    for (size_t i = 0; i < ARRAY_LEN(all_types); i++) {
        assert_true(proto_osd_step_is_valid(all_types[i]));
        assert_string_not_equal(proto_osd_step_name(all_types[i]), "unknown");
        assert_int_equal(proto_osd_step_is_mutation(all_types[i]), all_types[i] >= 20);
    }
    assert_string_equal(proto_osd_step_name(PROTO_OSD_WRITE), "write");
    assert_string_equal(proto_osd_step_name(PROTO_OSD_OMAP_CAS), "omap_cas");
    assert_string_equal(proto_osd_step_name(PROTO_OSD_STEP_NONE), "unknown");
    assert_string_equal(proto_osd_step_name(7), "unknown");
    assert_string_equal(proto_osd_step_name(UINT32_MAX), "unknown");
    assert_false(proto_osd_step_is_valid(43));
    assert_false(proto_osd_step_is_mutation(31));
}

static void test_osd_op_round_trip_every_step(void **state)
{
    (void)state;
    struct proto_osd_op *in = malloc(sizeof(*in)), *out = malloc(sizeof(*out));

    /* Each step alone, fully set and with defaults only. */
    for (size_t i = 0; i < ARRAY_LEN(all_types); i++) {
        make_op(in);
        in->n_steps = 1;
        full_step(&in->steps[0], all_types[i]);
        bool payload = all_types[i] == PROTO_OSD_WRITE || all_types[i] == PROTO_OSD_WRITE_FULL;
        op_round_trip(in, payload ? in->steps[0].len : 0, out);
        assert_true(out->steps[0].data_off == 0);
        proto_osd_op_release(out);
        assert_null(out->priv);

        /* Defaults only: fine unless the step needs a name. */
        memset(&in->steps[0], 0, sizeof(in->steps[0]));
        in->steps[0].type = all_types[i];
        if (needs_name(all_types[i])) {
            uint8_t *buf = NULL;
            size_t len;
            assert_int_equal(proto_osd_op_encode(in, &buf, &len), -EINVAL);
            assert_null(buf);
            continue;
        }
        op_round_trip(in, 0, out);
        proto_osd_op_release(out);
    }

    /* Every step in one op: write payloads follow each other in step order. */
    make_op(in);
    for (size_t i = 0; i < ARRAY_LEN(all_types); i++)
        full_step(&in->steps[in->n_steps++], all_types[i]);
    full_step(&in->steps[in->n_steps++], PROTO_OSD_WRITE); /* a second write */
    op_round_trip(in, 5 + 3 + 5, out);
    assert_int_equal(out->steps[9].type, PROTO_OSD_WRITE);
    assert_true(out->steps[9].data_off == 0);
    assert_int_equal(out->steps[10].type, PROTO_OSD_WRITE_FULL);
    assert_true(out->steps[10].data_off == 5);
    assert_true(out->steps[out->n_steps - 1].data_off == 8);
    proto_osd_op_release(out);
    proto_osd_op_release(out); /* twice is harmless */
    free(in);
    free(out);
}

static void test_osd_op_limits_accepted(void **state)
{
    (void)state;
    struct proto_osd_op *in = malloc(sizeof(*in)), *out = malloc(sizeof(*out));
    static char name[PROTO_OSD_OMAP_KEY_MAX], value[PROTO_OSD_VALUE_MAX];

    memset(name, 'n', sizeof(name));
    memset(value, 'v', sizeof(value));
    make_op(in);
    memset(in->oid, 'o', PROTO_OSD_OID_MAX);
    in->oid[PROTO_OSD_OID_MAX] = '\0';
    in->pool = 0;
    in->pg = 0;
    in->n_steps = PROTO_OSD_STEPS_MAX;
    for (uint32_t i = 0; i < in->n_steps; i++)
        full_step(&in->steps[i], PROTO_OSD_STAT);
    full_step(&in->steps[0], PROTO_OSD_SETXATTR);
    in->steps[0].name = name;
    in->steps[0].name_len = PROTO_OSD_XATTR_NAME_MAX;
    in->steps[0].value = value;
    in->steps[0].value_len = PROTO_OSD_VALUE_MAX;
    full_step(&in->steps[1], PROTO_OSD_OMAP_CAS);
    in->steps[1].name = name;
    in->steps[1].name_len = PROTO_OSD_OMAP_KEY_MAX;
    in->steps[1].value2 = value;
    in->steps[1].value2_len = PROTO_OSD_VALUE_MAX;
    full_step(&in->steps[2], PROTO_OSD_READ);
    in->steps[2].len = PROTO_OSD_READ_MAX;
    full_step(&in->steps[3], PROTO_OSD_OMAP_LIST);
    in->steps[3].name = NULL; /* from the start */
    in->steps[3].name_len = 0;
    in->steps[3].max = PROTO_OSD_OMAP_LIST_MAX;
    full_step(&in->steps[4], PROTO_OSD_WRITE);
    in->steps[4].off = UINT64_MAX - 5; /* the range ends exactly at 2^64 - 1 */
    op_round_trip(in, 5, out);
    assert_int_equal(strlen(out->oid), PROTO_OSD_OID_MAX);
    assert_int_equal(out->pool, 0);
    proto_osd_op_release(out);
    free(in);
    free(out);
}

/* ---- ops: rejections ---------------------------------------------------- */

/* Decodes @w against @data_len and expects @want with reason @reason (when
 * not NULL); on failure the output must be untouched. Frees @w. */
static void expect_op(struct pbw *w, uint64_t data_len, int want, const char *reason)
{
    struct proto_osd_op *op = malloc(sizeof(*op)), *before = malloc(sizeof(*op));
    char err[128] = "";

    memset(op, 0x5a, sizeof(*op));
    memcpy(before, op, sizeof(*op));
    assert_int_equal(proto_osd_op_decode(w->b, w->n, data_len, op, err, sizeof(err)), want);
    if (want == 0) {
        proto_osd_op_release(op);
    } else {
        assert_memory_equal(op, before, sizeof(*op));
        assert_true(err[0] != '\0');
    }
    if (reason)
        assert_string_equal(err, reason);
    pb_free(w);
    free(op);
    free(before);
}

/* An op whose only step is of @type with a name of @n bytes of @c. */
static void expect_named_step(uint32_t type, int c, size_t n, int want, const char *reason)
{
    struct pbw w = {0}, s = {0};
    pb_op_head(&w);
    pb_uint(&s, ST_TYPE, type);
    pb_fill(&s, ST_NAME, c, n);
    pb_sub(&w, OP_STEPS, &s);
    expect_op(&w, 0, want, reason);
}

static void test_osd_op_rejects_bad_head(void **state)
{
    (void)state;
    struct pbw w = {0}, s = {0};

    /* No pool: 0 would be a real pool, so absent is an error. */
    pb_bytes(&w, OP_OID, "obj", 3);
    pb_uint(&s, ST_TYPE, PROTO_OSD_STAT);
    pb_sub(&w, OP_STEPS, &s);
    expect_op(&w, 0, -EINVAL, "no pool");

    pb_sint(&w, OP_POOL, -1);
    pb_bytes(&w, OP_OID, "obj", 3);
    pb_uint(&s, ST_TYPE, PROTO_OSD_STAT);
    pb_sub(&w, OP_STEPS, &s);
    expect_op(&w, 0, -EINVAL, "pool -1 is negative");

    /* oid absent, too long, holding a NUL; and the longest. */
    static const size_t oid_lens[] = {0, PROTO_OSD_OID_MAX + 1, PROTO_OSD_OID_MAX};
    for (size_t i = 0; i < ARRAY_LEN(oid_lens); i++) {
        pb_sint(&w, OP_POOL, 0);
        if (oid_lens[i])
            pb_fill(&w, OP_OID, 'o', oid_lens[i]);
        pb_uint(&s, ST_TYPE, PROTO_OSD_STAT);
        pb_sub(&w, OP_STEPS, &s);
        expect_op(&w, 0, i == 2 ? 0 : -EINVAL, NULL);
    }
    pb_sint(&w, OP_POOL, 0);
    pb_bytes(&w, OP_OID, "o\0j", 3);
    pb_uint(&s, ST_TYPE, PROTO_OSD_STAT);
    pb_sub(&w, OP_STEPS, &s);
    expect_op(&w, 0, -EINVAL, "object name contains a NUL byte");

    /* No steps, one too many, and a huge number. */
    pb_op_head(&w);
    expect_op(&w, 0, -EINVAL, "0 steps is not 1..64");
    static const unsigned counts[] = {PROTO_OSD_STEPS_MAX + 1, 100000};
    for (size_t i = 0; i < ARRAY_LEN(counts); i++) {
        pb_op_head(&w);
        for (unsigned n = 0; n < counts[i]; n++) {
            pb_uint(&s, ST_TYPE, PROTO_OSD_STAT);
            pb_sub(&w, OP_STEPS, &s);
        }
        expect_op(&w, 0, -EINVAL, i == 0 ? "65 steps is not 1..64" : NULL);
    }
}

static void test_osd_op_rejects_bad_step_fields(void **state)
{
    (void)state;
    struct pbw w = {0}, s = {0};
    static const uint32_t bad_types[] = {0, 7, 13, 19, 31, 39, 43, UINT32_MAX};

    for (size_t i = 0; i < ARRAY_LEN(bad_types); i++) {
        pb_op_head(&w);
        pb_uint(&s, ST_FLAGS, 0);
        if (bad_types[i])
            pb_uint(&s, ST_TYPE, bad_types[i]);
        pb_sub(&w, OP_STEPS, &s);
        expect_op(&w, 0, -EINVAL, NULL);
    }
    pb_op_head(&w);
    pb_uint(&s, ST_TYPE, PROTO_OSD_STAT);
    pb_sub(&w, OP_STEPS, &s);
    pb_uint(&s, ST_TYPE, 13);
    pb_sub(&w, OP_STEPS, &s);
    expect_op(&w, 0, -EINVAL, "step 1: unknown type 13");

    pb_op_head(&w);
    pb_uint(&s, ST_TYPE, PROTO_OSD_CREATE);
    pb_uint(&s, ST_FLAGS, PROTO_OSD_F_EXCL | 0x8);
    pb_sub(&w, OP_STEPS, &s);
    expect_op(&w, 0, -EINVAL, "step 0: unknown flags 0x8");

    /* Values and value2 up to PROTO_OSD_VALUE_MAX, on any step. */
    static const unsigned value_fields[] = {ST_VALUE, ST_VALUE2};
    for (size_t i = 0; i < ARRAY_LEN(value_fields); i++) {
        for (size_t extra = 0; extra < 2; extra++) {
            pb_op_head(&w);
            pb_uint(&s, ST_TYPE, PROTO_OSD_OMAP_CAS);
            pb_bytes(&s, ST_NAME, "k", 1);
            pb_fill(&s, value_fields[i], 'v', PROTO_OSD_VALUE_MAX + extra);
            pb_sub(&w, OP_STEPS, &s);
            expect_op(&w, 0, extra ? -EINVAL : 0,
                      extra ? "step 0: value of 65537 bytes exceeds 65536" : NULL);
        }
    }

    /* READ of more than PROTO_OSD_READ_MAX; OMAP_LIST of too many. */
    pb_op_head(&w);
    pb_uint(&s, ST_TYPE, PROTO_OSD_READ);
    pb_uint(&s, ST_LEN, PROTO_OSD_READ_MAX + 1ull);
    pb_sub(&w, OP_STEPS, &s);
    expect_op(&w, 0, -EINVAL, "step 0: read of 67108865 bytes exceeds 67108864");
    pb_op_head(&w);
    pb_uint(&s, ST_TYPE, PROTO_OSD_OMAP_LIST);
    pb_uint(&s, ST_MAX, PROTO_OSD_OMAP_LIST_MAX + 1);
    pb_sub(&w, OP_STEPS, &s);
    expect_op(&w, 0, -EINVAL, "step 0: omap list of 100001 entries exceeds 100000");

    /* A range past 2^64. */
    pb_op_head(&w);
    pb_uint(&s, ST_TYPE, PROTO_OSD_ZERO);
    pb_uint(&s, ST_OFF, UINT64_MAX);
    pb_uint(&s, ST_LEN, 1);
    pb_sub(&w, OP_STEPS, &s);
    expect_op(&w, 0, -EINVAL, "step 0: range 18446744073709551615+1 overflows");
}

static void test_osd_op_rejects_bad_names(void **state)
{
    (void)state;
    const size_t xmax = PROTO_OSD_XATTR_NAME_MAX, kmax = PROTO_OSD_OMAP_KEY_MAX;

    for (size_t i = 0; i < ARRAY_LEN(xattr_types); i++) {
        expect_named_step(xattr_types[i], 'x', xmax, 0, NULL);
        expect_named_step(xattr_types[i], 'x', xmax + 1, -EINVAL,
                          "step 0: xattr name of 251 bytes exceeds 250");
        expect_named_step(xattr_types[i], 'x', 0, -EINVAL, "step 0: empty xattr name");
        expect_named_step(xattr_types[i], '\0', 1, -EINVAL,
                          "step 0: xattr name contains a NUL byte");
    }
    for (size_t i = 0; i < ARRAY_LEN(key_types); i++) {
        expect_named_step(key_types[i], '\0', kmax, 0, NULL); /* keys are any bytes */
        expect_named_step(key_types[i], 'k', kmax + 1, -EINVAL,
                          "step 0: omap key of 1025 bytes exceeds 1024");
        expect_named_step(key_types[i], 'k', 0, -EINVAL, "step 0: empty omap key");
    }
    expect_named_step(PROTO_OSD_OMAP_LIST, 'a', 0, 0, NULL);
    expect_named_step(PROTO_OSD_OMAP_LIST, 'a', kmax, 0, NULL);
    expect_named_step(PROTO_OSD_OMAP_LIST, 'a', kmax + 1, -EINVAL,
                      "step 0: omap key of 1025 bytes exceeds 1024");
    /* A step that ignores its name still has it bounded. */
    expect_named_step(PROTO_OSD_STAT, 'a', kmax + 1, -EINVAL,
                      "step 0: name of 1025 bytes exceeds 1024");

    /* The reason names the step: the fourth one here. */
    struct pbw w = {0}, s = {0};
    pb_op_head(&w);
    for (int i = 0; i < 3; i++) {
        pb_uint(&s, ST_TYPE, PROTO_OSD_STAT);
        pb_sub(&w, OP_STEPS, &s);
    }
    pb_uint(&s, ST_TYPE, PROTO_OSD_SETXATTR);
    pb_fill(&s, ST_NAME, 'x', 300);
    pb_sub(&w, OP_STEPS, &s);
    expect_op(&w, 0, -EINVAL, "step 3: xattr name of 300 bytes exceeds 250");
}

/* An op of WRITE steps with payloads @lens (WRITE_FULL for odd indexes). */
static void pb_write_op(struct pbw *w, const uint64_t *lens, size_t n)
{
    struct pbw s = {0};
    pb_op_head(w);
    for (size_t i = 0; i < n; i++) {
        pb_uint(&s, ST_TYPE, i % 2 ? PROTO_OSD_WRITE_FULL : PROTO_OSD_WRITE);
        pb_uint(&s, ST_LEN, lens[i]);
        pb_sub(w, OP_STEPS, &s);
    }
}

static void test_osd_op_payload_must_match_data(void **state)
{
    (void)state;
    struct pbw w = {0};
    static const uint64_t lens[] = {10, 20, 0, 5};
    static const uint64_t huge[] = {UINT64_MAX / 2 + 1, UINT64_MAX / 2 + 1};
    static const uint64_t biggest[] = {UINT64_MAX - 1, 1};

    pb_write_op(&w, lens, ARRAY_LEN(lens));
    expect_op(&w, 35, 0, NULL);
    pb_write_op(&w, lens, ARRAY_LEN(lens));
    expect_op(&w, 34, -EINVAL, "write payloads of 35 bytes but 34 bytes of data");
    pb_write_op(&w, lens, ARRAY_LEN(lens));
    expect_op(&w, 36, -EINVAL, "write payloads of 35 bytes but 36 bytes of data");
    pb_write_op(&w, lens, 1);
    expect_op(&w, 0, -EINVAL, "write payloads of 10 bytes but 0 bytes of data");

    /* The sum wraps to 0: caught, not matched against data_len 0. */
    pb_write_op(&w, huge, ARRAY_LEN(huge));
    expect_op(&w, 0, -EINVAL, "step 1: write payload lengths overflow");
    pb_write_op(&w, biggest, ARRAY_LEN(biggest));
    expect_op(&w, UINT64_MAX, 0, NULL);

    /* A read op carries no data. */
    struct pbw s = {0};
    pb_op_head(&w);
    pb_uint(&s, ST_TYPE, PROTO_OSD_READ);
    pb_uint(&s, ST_LEN, 4096);
    pb_sub(&w, OP_STEPS, &s);
    expect_op(&w, 4096, -EINVAL, "write payloads of 0 bytes but 4096 bytes of data");

    /* data_off is each payload's running offset. */
    struct proto_osd_op *op = malloc(sizeof(*op));
    pb_write_op(&w, lens, ARRAY_LEN(lens));
    assert_int_equal(proto_osd_op_decode(w.b, w.n, 35, op, NULL, 0), 0);
    assert_true(op->steps[0].data_off == 0 && op->steps[1].data_off == 10);
    assert_true(op->steps[2].data_off == 30 && op->steps[3].data_off == 30);
    proto_osd_op_release(op);
    pb_free(&w);
    free(op);
}

static void test_osd_op_rejects_truncated_and_garbage(void **state)
{
    (void)state;
    struct proto_osd_op *op = malloc(sizeof(*op)), *out = malloc(sizeof(*out));
    uint8_t *buf;
    size_t len;

    make_op(op);
    full_step(&op->steps[op->n_steps++], PROTO_OSD_SETXATTR);
    full_step(&op->steps[op->n_steps++], PROTO_OSD_WRITE);
    assert_int_equal(proto_osd_op_encode(op, &buf, &len), 0);
    /* Every proper prefix fails: cut inside a field it does not parse; cut
     * between fields it lacks the write whose payload is the data. */
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        int r = proto_osd_op_decode(copy, n, 5, out, NULL, 0);
        assert_true(r == -EBADMSG || r == -EINVAL);
        free(copy);
    }
    char err[64];
    assert_int_equal(proto_osd_op_decode(buf, len - 1, 5, out, err, sizeof(err)), -EBADMSG);
    assert_string_equal(err, "op metadata does not parse");
    free(buf);

    static const uint8_t garbage1[] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t garbage2[] = {0x10};                          /* varint cut off */
    static const uint8_t garbage3[] = {0x22, 0x05, 'a', 'b'};          /* length past end */
    static const uint8_t garbage4[] = {0x0f, 0x00};                    /* wire type 7 */
    static const uint8_t garbage5[] = {0x3a, 0x04, 0x08, 0x02, 0x2a, 0x7f}; /* step cut */
    static const uint8_t huge_len[] = {0x22, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'};
    const struct {
        const uint8_t *p;
        size_t n;
    } g[] = {
        {garbage1, sizeof(garbage1)}, {garbage2, sizeof(garbage2)},
        {garbage3, sizeof(garbage3)}, {garbage4, sizeof(garbage4)},
        {garbage5, sizeof(garbage5)}, {huge_len, sizeof(huge_len)},
    };
    for (size_t i = 0; i < ARRAY_LEN(g); i++) {
        struct pbw w = {0};
        pb_raw(&w, g[i].p, g[i].n);
        expect_op(&w, 0, -EBADMSG, "op metadata does not parse");
    }
    /* Empty metadata parses, but has no pool. */
    struct pbw w = {0};
    expect_op(&w, 0, -EINVAL, "no pool");
    free(op);
    free(out);
}

static void test_osd_op_encode_rejects_caller_bugs(void **state)
{
    (void)state;
    struct proto_osd_op *op = malloc(sizeof(*op));
    uint8_t *buf = NULL;
    size_t len = 0;

    make_op(op);
    full_step(&op->steps[op->n_steps++], PROTO_OSD_STAT);
    assert_int_equal(proto_osd_op_encode(op, &buf, &len), 0);
    free(buf);
    buf = NULL;

    op->pool = -1;
    assert_int_equal(proto_osd_op_encode(op, &buf, &len), -EINVAL);
    op->pool = 3;
    memset(op->oid, 'x', sizeof(op->oid)); /* unterminated */
    assert_int_equal(proto_osd_op_encode(op, &buf, &len), -EINVAL);
    op->oid[0] = '\0';
    assert_int_equal(proto_osd_op_encode(op, &buf, &len), -EINVAL);
    snprintf(op->oid, sizeof(op->oid), "obj");
    op->n_steps = 0;
    assert_int_equal(proto_osd_op_encode(op, &buf, &len), -EINVAL);
    op->n_steps = PROTO_OSD_STEPS_MAX + 1;
    assert_int_equal(proto_osd_op_encode(op, &buf, &len), -EINVAL);
    op->n_steps = 1;
    op->steps[0].type = 8;
    assert_int_equal(proto_osd_op_encode(op, &buf, &len), -EINVAL);
    full_step(&op->steps[0], PROTO_OSD_GETXATTR);
    op->steps[0].name_len = PROTO_OSD_XATTR_NAME_MAX + 1;
    assert_int_equal(proto_osd_op_encode(op, &buf, &len), -EINVAL);
    op->steps[0].name = NULL;
    op->steps[0].name_len = 3;
    assert_int_equal(proto_osd_op_encode(op, &buf, &len), -EINVAL);
    assert_null(buf);
    free(op);
}

/* ---- replies ------------------------------------------------------------ */

static const struct proto_osd_kv xattrs[] = {
    {"user.a", 6, "1", 1},
    {"user.b", 6, "", 0},
    {"user.c", 6, "\0\1\2", 3},
};
static const struct proto_osd_kv omap[] = {
    {"k\0a", 3, "va", 2},
    {"kb", 2, "vb", 2},
};

/* One result of each kind, in the order of an op's steps. */
static void make_results(struct proto_osd_step_result *r, uint32_t *n)
{
    memset(r, 0, 10 * sizeof(*r));
    r[0].len = 4096; /* READ */
    r[0].crc = 0xabcdef01;
    r[1].size = 1u << 30; /* STAT */
    r[1].mtime_ns = 1700000000123456789ull;
    r[2].has_value = true; /* GETXATTR */
    r[2].value = "xattr-value";
    r[2].value_len = 11;
    r[3].has_value = true; /* GETXATTR of an empty value */
    r[4].n_entries = ARRAY_LEN(xattrs); /* GETXATTRS */
    r[4].entries = (struct proto_osd_kv *)xattrs;
    r[5].n_entries = ARRAY_LEN(omap); /* OMAP_LIST */
    r[5].entries = (struct proto_osd_kv *)omap;
    r[5].more = true;
    r[6].num = -42; /* COUNTER_ADD */
    r[7].num = INT64_MAX; /* SET_IF_GREATER */
    r[8].has_value = true; /* OMAP_CAS: the current value */
    r[8].value = "cur";
    r[8].value_len = 3;
    r[9].len = 100; /* a second READ */
    r[9].crc = 7;
    *n = 10;
}

static void assert_result_equal(const struct proto_osd_step_result *a,
                                const struct proto_osd_step_result *b)
{
    assert_int_equal(a->rval, b->rval);
    assert_true(a->len == b->len && a->crc == b->crc);
    assert_int_equal(a->has_value, b->has_value);
    assert_bytes(a->value, a->value_len, b->value, b->value_len);
    assert_true(a->size == b->size && a->mtime_ns == b->mtime_ns && a->num == b->num);
    assert_int_equal(a->n_entries, b->n_entries);
    for (uint32_t i = 0; i < a->n_entries; i++) {
        assert_bytes(a->entries[i].key, a->entries[i].key_len, b->entries[i].key,
                     b->entries[i].key_len);
        assert_bytes(a->entries[i].value, a->entries[i].value_len, b->entries[i].value,
                     b->entries[i].value_len);
    }
    assert_int_equal(a->more, b->more);
}

static void reply_round_trip(const struct proto_osd_reply *in, uint64_t data_len,
                             struct proto_osd_reply *out)
{
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(proto_osd_reply_encode(in, &buf, &len), 0);
    memset(out, 0xa5, sizeof(*out));
    assert_int_equal(proto_osd_reply_decode(buf, len, data_len, out), 0);
    free(buf);
    assert_int_equal(out->result, in->result);
    assert_true(out->epoch == in->epoch && out->version == in->version);
    assert_int_equal(out->failed_step, in->failed_step);
    assert_string_equal(out->message, in->message);
    assert_int_equal(out->n_results, in->n_results);
    for (uint32_t i = 0; i < in->n_results; i++)
        assert_result_equal(&out->results[i], &in->results[i]);
}

static void test_osd_reply_round_trip_every_result(void **state)
{
    (void)state;
    struct proto_osd_step_result results[10];
    struct proto_osd_reply in, out;

    proto_osd_reply_init(&in);
    in.epoch = 88;
    in.version = 12345;
    in.results = results;
    make_results(results, &in.n_results);
    reply_round_trip(&in, 4096 + 100, &out);
    assert_true(out.results[0].data_off == 0);
    assert_true(out.results[8].data_off == 4096 && out.results[9].data_off == 4096);
    assert_true(out.results[3].has_value && out.results[3].value_len == 0);
    assert_false(out.results[1].has_value);
    assert_null(out.results[1].entries);
    proto_osd_reply_release(&out);
    assert_null(out.results);
    assert_null(out.priv);
    proto_osd_reply_release(&out);

    /* A failed step; a misdirected op; the extremes of result. */
    static const int32_t fails[] = {-ECANCELED, -ESTALE, PROTO_OSD_RESULT_MIN};
    for (size_t i = 0; i < ARRAY_LEN(fails); i++) {
        proto_osd_reply_init(&in);
        in.result = fails[i];
        in.epoch = 1000 + i;
        in.failed_step = fails[i] == -ESTALE ? -1 : (int32_t)i + 2;
        snprintf(in.message, sizeof(in.message), "step %d: nope", in.failed_step);
        reply_round_trip(&in, 0, &out);
        assert_null(out.results);
        proto_osd_reply_release(&out);
    }
    memset(in.message, 'm', sizeof(in.message) - 1);
    in.message[sizeof(in.message) - 1] = '\0';
    reply_round_trip(&in, 0, &out);
    proto_osd_reply_release(&out);
}

static void test_osd_reply_defaults(void **state)
{
    (void)state;
    struct proto_osd_reply in, out;
    uint8_t *buf;
    size_t len;

    proto_osd_reply_init(&in);
    assert_int_equal(in.failed_step, -1);
    assert_int_equal(proto_osd_reply_encode(&in, &buf, &len), 0);
    assert_int_equal(len, 0); /* nothing differs from the defaults */
    memset(&out, 0x5a, sizeof(out));
    assert_int_equal(proto_osd_reply_decode(buf, len, 0, &out), 0);
    free(buf);
    assert_int_equal(out.result, 0);
    assert_true(out.epoch == 0 && out.version == 0);
    assert_int_equal(out.failed_step, -1);
    assert_string_equal(out.message, "");
    assert_int_equal(out.n_results, 0);
    assert_null(out.results);
    proto_osd_reply_release(&out);
    assert_int_equal(proto_osd_reply_decode(NULL, 0, 0, &out), 0);
    proto_osd_reply_release(&out);
}

/* Decodes @w against @data_len expecting @want; untouched on failure. */
static void expect_reply(struct pbw *w, uint64_t data_len, int want)
{
    struct proto_osd_reply r, before;

    memset(&r, 0x5a, sizeof(r));
    memcpy(&before, &r, sizeof(r));
    assert_int_equal(proto_osd_reply_decode(w->b, w->n, data_len, &r), want);
    if (want == 0)
        proto_osd_reply_release(&r);
    else
        assert_memory_equal(&r, &before, sizeof(r));
    pb_free(w);
}

static void test_osd_reply_rejects_bad_values(void **state)
{
    (void)state;
    struct pbw w = {0}, res = {0}, kv = {0};

    static const int64_t results[] = {1, PROTO_OSD_RESULT_MIN - 1, INT32_MIN};
    for (size_t i = 0; i < ARRAY_LEN(results); i++) {
        pb_sint(&w, RE_RESULT, results[i]);
        expect_reply(&w, 0, -EINVAL);
    }
    pb_sint(&w, RE_RESULT, PROTO_OSD_RESULT_MIN);
    expect_reply(&w, 0, 0);
    pb_sint(&w, RE_FAILED_STEP, -2);
    expect_reply(&w, 0, -EINVAL);
    pb_sint(&w, RE_FAILED_STEP, -1);
    expect_reply(&w, 0, 0);

    /* The message fits in 255 bytes and its NUL. */
    pb_fill(&w, RE_MESSAGE, 'm', 255);
    expect_reply(&w, 0, 0);
    pb_fill(&w, RE_MESSAGE, 'm', 256);
    expect_reply(&w, 0, -EINVAL);

    /* PROTO_OSD_STEPS_MAX results at most, and a huge count. */
    static const unsigned counts[] = {PROTO_OSD_STEPS_MAX, PROTO_OSD_STEPS_MAX + 1, 50000};
    for (size_t i = 0; i < ARRAY_LEN(counts); i++) {
        for (unsigned n = 0; n < counts[i]; n++) {
            pb_uint(&res, RS_CRC, 1);
            pb_sub(&w, RE_RESULTS, &res);
        }
        expect_reply(&w, 0, i == 0 ? 0 : -EINVAL);
    }

    /* A step's rval is 0 or -errno too. */
    pb_sint(&res, RS_RVAL, 1);
    pb_sub(&w, RE_RESULTS, &res);
    expect_reply(&w, 0, -EINVAL);
    pb_sint(&res, RS_RVAL, -ENODATA);
    pb_sub(&w, RE_RESULTS, &res);
    expect_reply(&w, 0, 0);

    /* Values and entries within their limits. */
    pb_fill(&res, RS_VALUE, 'v', PROTO_OSD_VALUE_MAX + 1);
    pb_sub(&w, RE_RESULTS, &res);
    expect_reply(&w, 0, -EINVAL);
    pb_fill(&kv, KV_KEY, 'k', PROTO_OSD_OMAP_KEY_MAX + 1);
    pb_sub(&res, RS_ENTRIES, &kv);
    pb_sub(&w, RE_RESULTS, &res);
    expect_reply(&w, 0, -EINVAL);
    pb_fill(&kv, KV_VALUE, 'v', 1); /* no key */
    pb_sub(&res, RS_ENTRIES, &kv);
    pb_sub(&w, RE_RESULTS, &res);
    expect_reply(&w, 0, -EINVAL);
    pb_bytes(&kv, KV_KEY, "k", 1);
    pb_fill(&kv, KV_VALUE, 'v', PROTO_OSD_VALUE_MAX + 1);
    pb_sub(&res, RS_ENTRIES, &kv);
    pb_sub(&w, RE_RESULTS, &res);
    expect_reply(&w, 0, -EINVAL);
}

static void test_osd_reply_read_lengths_must_match_data(void **state)
{
    (void)state;
    struct pbw w = {0}, res = {0};
    static const uint64_t lens[][2] = {
        {100, 50},
        {UINT64_MAX, 1}, /* the sum wraps to 0 */
    };
    static const uint64_t data_lens[] = {150, 149, 151, 0};
    static const int want[] = {0, -EINVAL, -EINVAL, -EINVAL};

    for (size_t i = 0; i < ARRAY_LEN(data_lens); i++) {
        const uint64_t *l = lens[i == 3];
        for (int j = 0; j < 2; j++) {
            pb_uint(&res, RS_LEN, l[j]);
            pb_sub(&w, RE_RESULTS, &res);
        }
        expect_reply(&w, data_lens[i], want[i]);
    }
    /* No READ: no data. */
    pb_sint(&w, RE_RESULT, -ENOENT);
    expect_reply(&w, 1, -EINVAL);
}

static void test_osd_reply_rejects_truncated_and_garbage(void **state)
{
    (void)state;
    struct proto_osd_step_result results[10];
    struct proto_osd_reply in, out;
    uint8_t *buf;
    size_t len;

    proto_osd_reply_init(&in);
    in.results = results;
    make_results(results, &in.n_results);
    assert_int_equal(proto_osd_reply_encode(&in, &buf, &len), 0);
    for (size_t n = 0; n < len; n++) {
        struct pbw w = {0};
        pb_raw(&w, buf, n);
        int r = proto_osd_reply_decode(w.b, n, 4196, &out);
        assert_true(r == -EBADMSG || r == -EINVAL); /* the second READ is last */
        pb_free(&w);
    }
    free(buf);
    static const uint8_t garbage[][4] = {
        {0xff, 0xff, 0xff, 0xff}, {0x32, 0x05, 0x08, 0x01}, {0x2a, 0x03, 'a', 'b'},
        {0x0f, 0x00, 0x00, 0x00},
    };
    for (size_t i = 0; i < ARRAY_LEN(garbage); i++) {
        struct pbw w = {0};
        pb_raw(&w, garbage[i], sizeof(garbage[i]));
        expect_reply(&w, 0, -EBADMSG);
    }
}

static void test_osd_reply_encode_rejects_caller_bugs(void **state)
{
    (void)state;
    struct proto_osd_step_result res[PROTO_OSD_STEPS_MAX + 1] = {{0}};
    struct proto_osd_reply r;
    uint8_t *buf = NULL;
    size_t len;

    proto_osd_reply_init(&r);
    r.result = 1;
    assert_int_equal(proto_osd_reply_encode(&r, &buf, &len), -EINVAL);
    r.result = -EIO;
    memset(r.message, 'm', sizeof(r.message)); /* unterminated */
    assert_int_equal(proto_osd_reply_encode(&r, &buf, &len), -EINVAL);
    r.message[0] = '\0';
    r.failed_step = -2;
    assert_int_equal(proto_osd_reply_encode(&r, &buf, &len), -EINVAL);
    r.failed_step = -1;
    r.n_results = PROTO_OSD_STEPS_MAX + 1;
    r.results = res;
    assert_int_equal(proto_osd_reply_encode(&r, &buf, &len), -EINVAL);
    r.n_results = 1;
    res[0].n_entries = 1;
    assert_int_equal(proto_osd_reply_encode(&r, &buf, &len), -EINVAL); /* entries NULL */
    assert_null(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_osd_step_types),
        cmocka_unit_test(test_osd_op_round_trip_every_step),
        cmocka_unit_test(test_osd_op_limits_accepted),
        cmocka_unit_test(test_osd_op_rejects_bad_head),
        cmocka_unit_test(test_osd_op_rejects_bad_step_fields),
        cmocka_unit_test(test_osd_op_rejects_bad_names),
        cmocka_unit_test(test_osd_op_payload_must_match_data),
        cmocka_unit_test(test_osd_op_rejects_truncated_and_garbage),
        cmocka_unit_test(test_osd_op_encode_rejects_caller_bugs),
        cmocka_unit_test(test_osd_reply_round_trip_every_result),
        cmocka_unit_test(test_osd_reply_defaults),
        cmocka_unit_test(test_osd_reply_rejects_bad_values),
        cmocka_unit_test(test_osd_reply_read_lengths_must_match_data),
        cmocka_unit_test(test_osd_reply_rejects_truncated_and_garbage),
        cmocka_unit_test(test_osd_reply_encode_rejects_caller_bugs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

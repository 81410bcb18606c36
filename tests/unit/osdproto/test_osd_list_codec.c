/* The smaller messages of protocol/osd_op.c: listings (PROTO_MSG_OSD_LIST),
 * PG commands (PROTO_MSG_OSD_PG_CMD) and pings; round trips, and rejection
 * of out-of-range input with the documented -errno, each rule broken once.
 * Malformed input is hand-made with the protobuf writer: field numbers from
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

/* OsdList and OsdListReply fields. */
enum { LI_EPOCH = 1, LI_POOL, LI_PG, LI_AFTER, LI_MAX };
enum { LR_RESULT = 1, LR_EPOCH, LR_NAMES, LR_MORE };
/* OsdPgCmd and OsdPgCmdReply fields. */
enum { PC_EPOCH = 1, PC_POOL, PC_PG, PC_OP };
enum { PR_RESULT = 1, PR_EPOCH, PR_MESSAGE, PR_OBJECTS, PR_INCONSISTENT, PR_REPAIRED, PR_DURATION };

/* ---- listing and ping --------------------------------------------------- */

static void test_osd_list_round_trip(void **state)
{
    (void)state;
    struct proto_osd_list in, out;
    uint8_t *buf;
    size_t len;

    proto_osd_list_init(&in);
    in.epoch = 9;
    in.pool = 4;
    in.pg = 0x3ff;
    snprintf(in.after, sizeof(in.after), "obj-0099");
    in.max = PROTO_OSD_LIST_MAX;
    for (int pass = 0; pass < 3; pass++) {
        assert_int_equal(proto_osd_list_encode(&in, &buf, &len), 0);
        memset(&out, 0x5a, sizeof(out));
        assert_int_equal(proto_osd_list_decode(buf, len, &out), 0);
        free(buf);
        assert_true(out.epoch == in.epoch);
        assert_int_equal(out.pool, in.pool);
        assert_int_equal(out.pg, in.pg);
        assert_string_equal(out.after, in.after);
        assert_int_equal(out.max, in.max);
        /* Then defaults only (pool 0 is still written), then the longest after. */
        if (pass == 0)
            proto_osd_list_init(&in);
        memset(in.after, 'a', pass == 1 ? PROTO_OSD_OID_MAX : 0);
    }
}

static void expect_list(struct pbw *w, int want)
{
    struct proto_osd_list l, before;

    memset(&l, 0x5a, sizeof(l));
    memcpy(&before, &l, sizeof(l));
    assert_int_equal(proto_osd_list_decode(w->b, w->n, &l), want);
    if (want != 0)
        assert_memory_equal(&l, &before, sizeof(l));
    pb_free(w);
}

static void test_osd_list_rejects_bad_values(void **state)
{
    (void)state;
    struct pbw w = {0};
    struct proto_osd_list l;
    uint8_t *buf = NULL;
    size_t len;

    expect_list(&w, -EINVAL); /* no pool */
    pb_sint(&w, LI_POOL, -1);
    expect_list(&w, -EINVAL);
    pb_sint(&w, LI_POOL, 0);
    pb_uint(&w, LI_MAX, PROTO_OSD_LIST_MAX + 1);
    expect_list(&w, -EINVAL);
    pb_sint(&w, LI_POOL, 0);
    pb_fill(&w, LI_AFTER, 'a', PROTO_OSD_OID_MAX + 1);
    expect_list(&w, -EINVAL);
    pb_sint(&w, LI_POOL, 0);
    pb_bytes(&w, LI_AFTER, "a\0", 2);
    expect_list(&w, -EINVAL);
    static const uint8_t garbage[] = {0x22, 0x09, 'a'};
    pb_raw(&w, garbage, sizeof(garbage));
    expect_list(&w, -EBADMSG);

    proto_osd_list_init(&l);
    l.max = PROTO_OSD_LIST_MAX + 1;
    assert_int_equal(proto_osd_list_encode(&l, &buf, &len), -EINVAL);
    l.max = 0;
    l.pool = -3;
    assert_int_equal(proto_osd_list_encode(&l, &buf, &len), -EINVAL);
    l.pool = 0;
    memset(l.after, 'a', sizeof(l.after));
    assert_int_equal(proto_osd_list_encode(&l, &buf, &len), -EINVAL);
    assert_null(buf);
}

static void test_osd_list_reply_round_trip(void **state)
{
    (void)state;
    static char long_name[PROTO_OSD_OID_MAX + 1];
    const char *names[PROTO_OSD_LIST_MAX];
    struct proto_osd_list_reply in = {0}, out;
    uint8_t *buf;
    size_t len;

    memset(long_name, 'n', PROTO_OSD_OID_MAX);
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        names[i] = i % 2 ? "x" : long_name;
    names[0] = "obj-1";
    in.epoch = 5;
    in.names = names;
    in.more = true;
    static const uint32_t counts[] = {3, PROTO_OSD_LIST_MAX, 0};
    for (size_t c = 0; c < ARRAY_LEN(counts); c++) {
        in.n_names = counts[c];
        in.result = c == 2 ? -ESTALE : 0;
        assert_int_equal(proto_osd_list_reply_encode(&in, &buf, &len), 0);
        memset(&out, 0x5a, sizeof(out));
        assert_int_equal(proto_osd_list_reply_decode(buf, len, &out), 0);
        free(buf);
        assert_int_equal(out.result, in.result);
        assert_true(out.epoch == 5 && out.more);
        assert_int_equal(out.n_names, in.n_names);
        for (uint32_t i = 0; i < in.n_names; i++)
            assert_string_equal(out.names[i], in.names[i]);
        proto_osd_list_reply_release(&out);
        assert_null(out.names);
        proto_osd_list_reply_release(&out);
    }
}

static void expect_list_reply(struct pbw *w, int want)
{
    struct proto_osd_list_reply r, before;

    memset(&r, 0x5a, sizeof(r));
    memcpy(&before, &r, sizeof(r));
    assert_int_equal(proto_osd_list_reply_decode(w->b, w->n, &r), want);
    if (want == 0)
        proto_osd_list_reply_release(&r);
    else
        assert_memory_equal(&r, &before, sizeof(r));
    pb_free(w);
}

static void test_osd_list_reply_rejects_bad_values(void **state)
{
    (void)state;
    struct pbw w = {0};
    struct proto_osd_list_reply r = {0};
    const char *names[] = {"a", NULL};
    uint8_t *buf = NULL;
    size_t len;

    pb_sint(&w, LR_RESULT, 1);
    expect_list_reply(&w, -EINVAL);
    pb_sint(&w, LR_RESULT, PROTO_OSD_RESULT_MIN - 1);
    expect_list_reply(&w, -EINVAL);
    pb_bytes(&w, LR_NAMES, "", 0);
    expect_list_reply(&w, -EINVAL);
    pb_fill(&w, LR_NAMES, 'n', PROTO_OSD_OID_MAX + 1);
    expect_list_reply(&w, -EINVAL);
    pb_bytes(&w, LR_NAMES, "a\0b", 3);
    expect_list_reply(&w, -EINVAL);
    for (unsigned i = 0; i <= PROTO_OSD_LIST_MAX; i++)
        pb_bytes(&w, LR_NAMES, "n", 1);
    expect_list_reply(&w, -EINVAL);
    for (unsigned i = 0; i < 100000; i++)
        pb_bytes(&w, LR_NAMES, "n", 1);
    expect_list_reply(&w, -EINVAL);
    static const uint8_t garbage[] = {0x1a, 0x02, 'a'};
    pb_raw(&w, garbage, sizeof(garbage));
    expect_list_reply(&w, -EBADMSG);

    r.result = 1;
    assert_int_equal(proto_osd_list_reply_encode(&r, &buf, &len), -EINVAL);
    r.result = 0;
    r.n_names = 2;
    r.names = names; /* a NULL name */
    assert_int_equal(proto_osd_list_reply_encode(&r, &buf, &len), -EINVAL);
    names[1] = "";
    assert_int_equal(proto_osd_list_reply_encode(&r, &buf, &len), -EINVAL);
    r.n_names = PROTO_OSD_LIST_MAX + 1;
    assert_int_equal(proto_osd_list_reply_encode(&r, &buf, &len), -EINVAL);
    assert_null(buf);
}

/* ---- PG commands -------------------------------------------------------- */

static void test_osd_pg_cmd_round_trip(void **state)
{
    (void)state;
    static const struct proto_osd_pg_cmd cmds[] = {
        {0, 0, 0, PROTO_OSD_PG_SCRUB},
        {9, 4, 0x3ff, PROTO_OSD_PG_DEEP_SCRUB},
        {UINT64_MAX, INT32_MAX, UINT32_MAX, PROTO_OSD_PG_SCRUB},
    };
    struct proto_osd_pg_cmd out;
    uint8_t *buf;
    size_t len;

    for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
        assert_int_equal(proto_osd_pg_cmd_encode(&cmds[i], &buf, &len), 0);
        memset(&out, 0x5a, sizeof(out));
        assert_int_equal(proto_osd_pg_cmd_decode(buf, len, &out), 0);
        assert_true(out.epoch == cmds[i].epoch);
        assert_int_equal(out.pool, cmds[i].pool);
        assert_int_equal(out.pg, cmds[i].pg);
        assert_int_equal(out.op, cmds[i].op);
        /* Truncated by a byte: the last field's value is cut. */
        memset(&out, 0x5a, sizeof(out));
        assert_int_equal(proto_osd_pg_cmd_decode(buf, len - 1, &out), -EBADMSG);
        assert_int_equal(out.pool, 0x5a5a5a5a);
        free(buf);
    }
}

static void expect_pg_cmd(struct pbw *w, int want)
{
    struct proto_osd_pg_cmd c, before;

    memset(&c, 0x5a, sizeof(c));
    memcpy(&before, &c, sizeof(c));
    assert_int_equal(proto_osd_pg_cmd_decode(w->b, w->n, &c), want);
    if (want != 0)
        assert_memory_equal(&c, &before, sizeof(c));
    pb_free(w);
}

static void test_osd_pg_cmd_rejects_bad_values(void **state)
{
    (void)state;
    struct pbw w = {0};
    struct proto_osd_pg_cmd c;
    uint8_t *buf = NULL;
    size_t len;

    pb_uint(&w, PC_OP, PROTO_OSD_PG_SCRUB);
    expect_pg_cmd(&w, -EINVAL); /* no pool */
    pb_sint(&w, PC_POOL, -1);
    pb_uint(&w, PC_OP, PROTO_OSD_PG_SCRUB);
    expect_pg_cmd(&w, -EINVAL);
    pb_sint(&w, PC_POOL, 1);
    expect_pg_cmd(&w, -EINVAL); /* no op */
    pb_sint(&w, PC_POOL, 1);
    pb_uint(&w, PC_OP, PROTO_OSD_PG_CMD_OP_MAX + 1);
    expect_pg_cmd(&w, -EINVAL);
    pb_sint(&w, PC_POOL, 1);
    pb_uint(&w, PC_OP, UINT32_MAX);
    expect_pg_cmd(&w, -EINVAL);
    /* Wrong wire types: a varint field sent as bytes, and the other way. */
    pb_bytes(&w, PC_POOL, "\x02", 1);
    pb_uint(&w, PC_OP, PROTO_OSD_PG_SCRUB);
    expect_pg_cmd(&w, -EBADMSG);
    pb_sint(&w, PC_POOL, 1);
    pb_bytes(&w, PC_OP, "\x01", 1);
    expect_pg_cmd(&w, -EBADMSG);
    static const uint8_t garbage[] = {0x10, 0x02, 0x20};
    pb_raw(&w, garbage, sizeof(garbage));
    expect_pg_cmd(&w, -EBADMSG);
    pb_sint(&w, PC_POOL, 0);
    pb_uint(&w, PC_OP, PROTO_OSD_PG_DEEP_SCRUB);
    expect_pg_cmd(&w, 0); /* pool 0 is a pool */

    proto_osd_pg_cmd_init(&c);
    assert_int_equal(proto_osd_pg_cmd_encode(&c, &buf, &len), -EINVAL); /* op 0 */
    c.op = PROTO_OSD_PG_CMD_OP_MAX + 1;
    assert_int_equal(proto_osd_pg_cmd_encode(&c, &buf, &len), -EINVAL);
    c.op = PROTO_OSD_PG_SCRUB;
    c.pool = -3;
    assert_int_equal(proto_osd_pg_cmd_encode(&c, &buf, &len), -EINVAL);
    assert_null(buf);
}

static void test_osd_pg_cmd_reply_round_trip(void **state)
{
    (void)state;
    struct proto_osd_pg_cmd_reply in = {0}, out;
    uint8_t *buf;
    size_t len;

    for (int pass = 0; pass < 4; pass++) {
        assert_int_equal(proto_osd_pg_cmd_reply_encode(&in, &buf, &len), 0);
        if (pass == 0)
            assert_int_equal(len, 0); /* defaults are not written */
        memset(&out, 0x5a, sizeof(out));
        assert_int_equal(proto_osd_pg_cmd_reply_decode(buf, len, &out), 0);
        free(buf);
        assert_int_equal(out.result, in.result);
        assert_true(out.epoch == in.epoch && out.objects == in.objects);
        assert_true(out.inconsistent == in.inconsistent && out.repaired == in.repaired);
        assert_true(out.duration_ms == in.duration_ms);
        assert_string_equal(out.message, in.message);
        /* Then a scrub's summary, a failure, the longest message. */
        in.epoch = 12;
        in.objects = 37;
        in.inconsistent = pass == 0 ? 2 : UINT64_MAX;
        in.repaired = pass == 0 ? 1 : UINT64_MAX;
        in.duration_ms = 400;
        in.result = pass == 1 ? -EBUSY : pass == 2 ? PROTO_OSD_RESULT_MIN : 0;
        snprintf(in.message, sizeof(in.message), "pg 1.a is not active+clean");
        if (pass == 2)
            memset(in.message, 'm', sizeof(in.message) - 1);
    }
}

static void expect_pg_cmd_reply(struct pbw *w, int want)
{
    struct proto_osd_pg_cmd_reply r, before;

    memset(&r, 0x5a, sizeof(r));
    memcpy(&before, &r, sizeof(r));
    assert_int_equal(proto_osd_pg_cmd_reply_decode(w->b, w->n, &r), want);
    if (want != 0)
        assert_memory_equal(&r, &before, sizeof(r));
    pb_free(w);
}

static void test_osd_pg_cmd_reply_rejects_bad_values(void **state)
{
    (void)state;
    struct pbw w = {0};
    struct proto_osd_pg_cmd_reply r = {0};
    uint8_t *buf = NULL;
    size_t len;

    pb_sint(&w, PR_RESULT, 1);
    expect_pg_cmd_reply(&w, -EINVAL);
    pb_sint(&w, PR_RESULT, PROTO_OSD_RESULT_MIN - 1);
    expect_pg_cmd_reply(&w, -EINVAL);
    pb_uint(&w, PR_INCONSISTENT, 1);
    pb_uint(&w, PR_REPAIRED, 2);
    expect_pg_cmd_reply(&w, -EINVAL);
    pb_uint(&w, PR_REPAIRED, 1); /* and none inconsistent */
    expect_pg_cmd_reply(&w, -EINVAL);
    pb_fill(&w, PR_MESSAGE, 'm', sizeof(r.message));
    expect_pg_cmd_reply(&w, -EINVAL);
    pb_bytes(&w, PR_MESSAGE, "bad\0news", 8);
    expect_pg_cmd_reply(&w, -EINVAL);
    pb_bytes(&w, PR_OBJECTS, "\x01", 1); /* a varint field sent as bytes */
    expect_pg_cmd_reply(&w, -EBADMSG);
    pb_uint(&w, PR_MESSAGE, 3); /* a bytes field sent as a varint */
    expect_pg_cmd_reply(&w, -EBADMSG);
    static const uint8_t truncated[] = {0x1a, 0x09, 'a'};
    pb_raw(&w, truncated, sizeof(truncated));
    expect_pg_cmd_reply(&w, -EBADMSG);
    pb_uint(&w, PR_INCONSISTENT, 3);
    pb_uint(&w, PR_REPAIRED, 3);
    pb_fill(&w, PR_MESSAGE, 'm', sizeof(r.message) - 1);
    expect_pg_cmd_reply(&w, 0);

    r.result = 1;
    assert_int_equal(proto_osd_pg_cmd_reply_encode(&r, &buf, &len), -EINVAL);
    r.result = PROTO_OSD_RESULT_MIN - 1;
    assert_int_equal(proto_osd_pg_cmd_reply_encode(&r, &buf, &len), -EINVAL);
    r.result = 0;
    r.repaired = 1;
    assert_int_equal(proto_osd_pg_cmd_reply_encode(&r, &buf, &len), -EINVAL);
    r.repaired = 0;
    memset(r.message, 'm', sizeof(r.message)); /* unterminated */
    assert_int_equal(proto_osd_pg_cmd_reply_encode(&r, &buf, &len), -EINVAL);
    assert_null(buf);
}

static void test_osd_ping_round_trip(void **state)
{
    (void)state;
    static const struct proto_osd_ping pings[] = {{0, 0}, {1, UINT64_MAX}, {UINT64_MAX, 7}};
    struct proto_osd_ping out;
    uint8_t *buf;
    size_t len;

    for (size_t i = 0; i < ARRAY_LEN(pings); i++) {
        assert_int_equal(proto_osd_ping_encode(&pings[i], &buf, &len), 0);
        if (i == 0)
            assert_int_equal(len, 0); /* defaults are not written */
        out = (struct proto_osd_ping){99, 99};
        assert_int_equal(proto_osd_ping_decode(buf, len, &out), 0);
        assert_true(out.epoch == pings[i].epoch && out.stamp_ns == pings[i].stamp_ns);
        if (i > 0) {
            out = (struct proto_osd_ping){99, 99};
            assert_int_equal(proto_osd_ping_decode(buf, len - 1, &out), -EBADMSG);
            assert_true(out.epoch == 99 && out.stamp_ns == 99);
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_osd_list_round_trip),
        cmocka_unit_test(test_osd_list_rejects_bad_values),
        cmocka_unit_test(test_osd_list_reply_round_trip),
        cmocka_unit_test(test_osd_list_reply_rejects_bad_values),
        cmocka_unit_test(test_osd_pg_cmd_round_trip),
        cmocka_unit_test(test_osd_pg_cmd_rejects_bad_values),
        cmocka_unit_test(test_osd_pg_cmd_reply_round_trip),
        cmocka_unit_test(test_osd_pg_cmd_reply_rejects_bad_values),
        cmocka_unit_test(test_osd_ping_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

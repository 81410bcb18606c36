/* The compound op without a cluster: builder limits (-EINVAL, -E2BIG, the
 * op still usable after a refused step), the exec-time checks, the
 * encoding of an attempt (payloads in step order, their crc32c, the
 * corruption hook), and unpacking replies into out-params: checksums
 * verified before anything is copied, -ERANGE, failed steps, mismatched
 * replies. Also the names the image layer gives its data objects. */
#include "client/internal.h"
#include "common/crc32c.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h> /* before cmocka.h, which needs it */

#include <cmocka.h>

static void test_builder_limits(void **state)
{
    struct cairn_op *op = cairn_op_create();
    static char big[CAIRN_VALUE_MAX + 1];
    char name[CAIRN_XATTR_NAME_MAX + 2];
    char buf[8];
    size_t len;

    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(cairn_op_setxattr(op, name, "v", 1), -EINVAL); /* 251 bytes */
    name[CAIRN_XATTR_NAME_MAX] = '\0';
    assert_int_equal(cairn_op_setxattr(op, name, "v", 1), 0); /* 250: the limit */
    assert_int_equal(cairn_op_setxattr(op, "", "v", 1), -EINVAL);
    assert_int_equal(cairn_op_setxattr(op, NULL, "v", 1), -EINVAL);
    assert_int_equal(cairn_op_setxattr(op, "v", big, sizeof(big)), -EINVAL);
    assert_int_equal(cairn_op_setxattr(op, "v", big, CAIRN_VALUE_MAX), 0);
    assert_int_equal(cairn_op_omap_set(op, "k", 0, "v", 1), -EINVAL);
    assert_int_equal(cairn_op_omap_set(op, big, CAIRN_OMAP_KEY_MAX + 1, "v", 1), -EINVAL);
    assert_int_equal(cairn_op_omap_set(op, big, CAIRN_OMAP_KEY_MAX, "v", 1), 0);
    assert_int_equal(cairn_op_omap_cas(op, "k", 1, NULL, 0, big, sizeof(big)), -EINVAL);
    assert_int_equal(cairn_op_getxattr(op, "v", NULL, 8, &len), -EINVAL);
    assert_int_equal(cairn_op_omap_list(op, NULL, 0, PROTO_OSD_OMAP_LIST_MAX + 1, NULL), -EINVAL);
    assert_int_equal(cairn_op_write(op, UINT64_MAX, buf, 2), -EINVAL);
    assert_int_equal(cairn_op_write(op, 0, NULL, 2), -EINVAL);
    assert_int_equal(cairn_op_zero(op, UINT64_MAX, 2), -EINVAL);
    assert_int_equal(op->wire.n_steps, 3);
    cairn_op_destroy(op);
}

static void test_builder_e2big(void **state)
{
    struct cairn_op *op = cairn_op_create();
    static char data[4];
    unsigned n = 0;

    while (cairn_op_assert_exists(op) == 0)
        n++;
    assert_int_equal(n, CAIRN_OP_STEPS_MAX);
    assert_int_equal(cairn_op_assert_exists(op), -E2BIG);
    assert_int_equal(cairn_op_write_full(op, data, sizeof(data)), -E2BIG);
    cairn_op_destroy(op);

    /* Payload bytes, each way: the sum over the steps. */
    op = cairn_op_create();
    char *payload = malloc(CAIRN_OP_DATA_MAX);
    assert_non_null(payload);
    assert_int_equal(cairn_op_write(op, 0, payload, CAIRN_OP_DATA_MAX - 1), 0);
    assert_int_equal(cairn_op_write(op, 0, payload, 2), -E2BIG);
    assert_int_equal(cairn_op_write(op, 0, payload, 1), 0);
    assert_int_equal(cairn_op_read(op, 0, CAIRN_OP_DATA_MAX, payload, NULL), 0);
    assert_int_equal(cairn_op_read(op, 0, 1, payload, NULL), -E2BIG);
    /* Still usable: the refused steps were not recorded. */
    assert_int_equal(op->wire.n_steps, 3);
    assert_int_equal(op->write_bytes, CAIRN_OP_DATA_MAX);
    free(payload);
    cairn_op_destroy(op);
}

static void test_exec_checks(void **state)
{
    struct cairn_op *op = cairn_op_create();
    char name[CAIRN_OID_MAX + 2], buf[4];

    assert_int_equal(cairn__op_check(op, "obj"), -EINVAL); /* no steps */
    assert_int_equal(cairn_op_stat(op, NULL), 0);
    assert_int_equal(cairn__op_check(op, "obj"), 0);
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    assert_int_equal(cairn__op_check(op, name), -EINVAL); /* 1025 bytes */
    name[CAIRN_OID_MAX] = '\0';
    assert_int_equal(cairn__op_check(op, name), 0);
    assert_int_equal(cairn__op_check(op, ""), -EINVAL);
    assert_int_equal(cairn__op_check(op, NULL), -EINVAL);
    /* Metadata reads may join a write op; data reads may not. */
    assert_int_equal(cairn_op_write_full(op, "x", 1), 0);
    assert_int_equal(cairn__op_check(op, "obj"), 0);
    assert_int_equal(cairn_op_read(op, 0, sizeof(buf), buf, NULL), 0);
    assert_int_equal(cairn__op_check(op, "obj"), -EINVAL);
    cairn_op_destroy(op);
}

static void test_encode_gathers_payloads(void **state)
{
    struct cairn_op *op = cairn_op_create();
    struct proto_osd_op dec;
    uint8_t *meta;
    const void *data;
    void *owned;
    size_t meta_len, data_len;

    snprintf(op->wire.oid, sizeof(op->wire.oid), "obj");
    op->wire.pool = 3;
    assert_int_equal(cairn_op_write(op, 0, "abc", 3), 0);
    assert_int_equal(cairn_op_setxattr(op, "k", "v", 1), 0);
    assert_int_equal(cairn_op_write(op, 10, "defg", 4), 0);
    assert_int_equal(cairn__op_encode(op, 9, 2, false, &meta, &meta_len, &data, &data_len, &owned),
                     0);
    assert_int_equal(data_len, 7);
    assert_memory_equal(data, "abcdefg", 7);
    assert_int_equal(proto_osd_op_decode(meta, meta_len, data_len, &dec, NULL, 0), 0);
    assert_int_equal(dec.epoch, 9);
    assert_int_equal(dec.pg, 2);
    assert_int_equal(dec.n_steps, 3);
    assert_int_equal(dec.steps[2].data_off, 3);
    assert_int_equal(dec.steps[2].crc, cairn_crc32c(0, "defg", 4));
    proto_osd_op_release(&dec);
    free(meta);
    free(owned);

    /* One payload goes out from the caller's buffer; corrupting copies it. */
    cairn_op_destroy(op);
    op = cairn_op_create();
    snprintf(op->wire.oid, sizeof(op->wire.oid), "obj");
    static const char one[] = "payload";
    assert_int_equal(cairn_op_write_full(op, one, 7), 0);
    assert_int_equal(cairn__op_encode(op, 1, 0, false, &meta, &meta_len, &data, &data_len, &owned),
                     0);
    assert_ptr_equal(data, one);
    assert_null(owned);
    free(meta);
    assert_int_equal(cairn__op_encode(op, 1, 0, true, &meta, &meta_len, &data, &data_len, &owned),
                     0);
    assert_non_null(owned);
    assert_int_not_equal(cairn_crc32c(0, data, 7), op->wire.steps[0].crc);
    assert_string_equal(one, "payload");
    free(meta);
    free(owned);
    cairn_op_destroy(op);
}

/* A reply for @op with @n results, all zero. */
static void reply_for(struct proto_osd_reply *r, struct proto_osd_step_result *res, unsigned n)
{
    proto_osd_reply_init(r);
    memset(res, 0, n * sizeof(*res));
    r->n_results = n;
    r->results = res;
    r->version = 12;
}

static void test_unpack_fills_out_params(void **state)
{
    struct cairn_op *op = cairn_op_create();
    struct proto_osd_step_result res[5];
    struct proto_osd_reply r;
    struct proto_osd_kv kv[2] = {{"a", 1, "1", 1}, {"b", 1, "22", 2}};
    struct cairn_kv_list *list = NULL;
    struct cairn_stat st = {0};
    char buf[8] = "", val[4];
    size_t n = 0, vlen = 0;
    int64_t num = 0;

    assert_int_equal(cairn_op_read(op, 0, sizeof(buf), buf, &n), 0);
    assert_int_equal(cairn_op_stat(op, &st), 0);
    assert_int_equal(cairn_op_getxattr(op, "x", val, sizeof(val), &vlen), 0);
    assert_int_equal(cairn_op_getxattrs(op, &list), 0);
    assert_int_equal(cairn_op_counter_add(op, "c", 1, &num), 0);
    reply_for(&r, res, 5);
    res[0].len = 5;
    res[0].crc = cairn_crc32c(0, "hello", 5);
    res[1].size = 5;
    res[1].mtime_ns = 99;
    res[2].has_value = true;
    res[2].value = "abc";
    res[2].value_len = 3;
    res[3].n_entries = 2;
    res[3].entries = kv;
    res[4].num = -4;
    assert_int_equal(cairn__op_unpack(op, &r, (const uint8_t *)"hello", 5), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(st.size, 5);
    assert_int_equal(st.mtime_ns, 99);
    assert_int_equal(st.version, 12);
    assert_int_equal(vlen, 3);
    assert_memory_equal(val, "abc", 3);
    assert_non_null(list);
    assert_int_equal(list->n, 2);
    assert_string_equal(list->kv[1].value, "22");
    assert_int_equal(num, -4);
    assert_int_equal(cairn_op_version(op), 12);
    assert_int_equal(cairn_op_failed_step(op), -1);
    cairn_kv_list_free(list);

    /* A bad read checksum: -EIO and no out-param written, the list neither. */
    list = NULL;
    n = 77;
    memset(buf, 'z', sizeof(buf));
    res[0].crc ^= 1;
    assert_int_equal(cairn__op_unpack(op, &r, (const uint8_t *)"hello", 5), -EIO);
    assert_int_equal(n, 77);
    assert_int_equal(buf[0], 'z');
    assert_null(list);
    res[0].crc ^= 1;

    /* A value larger than the buffer: -ERANGE at that step. */
    res[2].value = "abcdefgh";
    res[2].value_len = 8;
    assert_int_equal(cairn__op_unpack(op, &r, (const uint8_t *)"hello", 5), -ERANGE);
    assert_int_equal(cairn_op_failed_step(op), 2);
    assert_null(list);
    cairn_op_destroy(op);
}

static void test_unpack_failures(void **state)
{
    struct cairn_op *op = cairn_op_create();
    struct proto_osd_step_result res[2];
    struct proto_osd_reply r;
    char buf[4];
    size_t n = 5;

    assert_int_equal(cairn_op_assert_exists(op), 0);
    assert_int_equal(cairn_op_read(op, 0, sizeof(buf), buf, &n), 0);
    /* The OSD's failure: its step and error, nothing written. */
    proto_osd_reply_init(&r);
    r.result = -ENOENT;
    r.failed_step = 0;
    assert_int_equal(cairn__op_unpack(op, &r, NULL, 0), -ENOENT);
    assert_int_equal(cairn_op_failed_step(op), 0);
    assert_int_equal(n, 5);
    /* Replies that do not match the op. */
    reply_for(&r, res, 1);
    assert_int_equal(cairn__op_unpack(op, &r, NULL, 0), -EBADMSG);
    reply_for(&r, res, 2);
    res[1].len = 9; /* more than asked for */
    assert_int_equal(cairn__op_unpack(op, &r, (const uint8_t *)"123456789", 9), -EBADMSG);
    res[1].len = 0;
    res[0].len = 1; /* data for a guard */
    assert_int_equal(cairn__op_unpack(op, &r, (const uint8_t *)"1", 1), -EBADMSG);
    assert_int_equal(n, 5);
    cairn_op_destroy(op);
}

/* The hand-rolled formatter names objects exactly as the format string
 * "image_data.%016x.%016x" would (existing images depend on it). */
static void test_image_data_oid(void **state)
{
    (void)state;
    static const uint64_t v[] = {0, 1, 0xf, 0x10, 0x123456789abcdefull, UINT64_MAX,
                                 0x8000000000000000ull};
    char got[CAIRN__IMAGE_OID_MAX], want[CAIRN__IMAGE_OID_MAX];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        for (size_t j = 0; j < sizeof(v) / sizeof(v[0]); j++) {
            memset(got, 'x', sizeof(got));
            cairn__image_data_oid(got, v[i], v[j]);
            snprintf(want, sizeof(want), "image_data.%016" PRIx64 ".%016" PRIx64, v[i], v[j]);
            assert_string_equal(got, want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_limits),
        cmocka_unit_test(test_image_data_oid),
        cmocka_unit_test(test_builder_e2big),
        cmocka_unit_test(test_exec_checks),
        cmocka_unit_test(test_encode_gathers_payloads),
        cmocka_unit_test(test_unpack_fills_out_params),
        cmocka_unit_test(test_unpack_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

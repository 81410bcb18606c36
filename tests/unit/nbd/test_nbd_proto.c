/* Unit tests of the NBD wire protocol (gateway/nbd/proto.c): each parser
 * on valid, truncated, inconsistent and oversize input, request checks
 * against bounds and flags, the errno mapping, and every encoder byte for
 * byte against the layouts in NetworkBlockDevice/nbd doc/proto.md. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/nbd/proto.h"

/* ---- helpers ---- */

static size_t be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    return (size_t)bytes;
}

static uint64_t get(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* Builds an NBD_OPT_INFO/GO payload: name, then @n info types. */
static uint32_t info_payload(uint8_t *buf, const char *name, uint16_t n, const uint16_t *types)
{
    size_t len = strlen(name), off = 0;

    off += be(buf + off, len, 4);
    memcpy(buf + off, name, len);
    off += len;
    off += be(buf + off, n, 2);
    for (uint16_t i = 0; i < n; i++)
        off += be(buf + off, types[i], 2);
    return (uint32_t)off;
}

/* Builds a meta context payload: export name, then the queries. */
static uint32_t meta_payload(uint8_t *buf, const char *name, uint32_t n, const char **queries)
{
    size_t len = strlen(name), off = 0;

    off += be(buf + off, len, 4);
    memcpy(buf + off, name, len);
    off += len;
    off += be(buf + off, n, 4);
    for (uint32_t i = 0; i < n; i++) {
        size_t q = strlen(queries[i]);
        off += be(buf + off, q, 4);
        memcpy(buf + off, queries[i], q);
        off += q;
    }
    return (uint32_t)off;
}

static void request(uint8_t *buf, uint32_t magic, uint16_t flags, uint16_t type, uint64_t cookie,
                    uint64_t off, uint32_t len)
{
    be(buf, magic, 4);
    be(buf + 4, flags, 2);
    be(buf + 6, type, 2);
    be(buf + 8, cookie, 8);
    be(buf + 16, off, 8);
    be(buf + 24, len, 4);
}

static const struct gw_nbd_limits lim_1m = {
    .size = 1 << 20, .payload_max = GW_NBD_PAYLOAD_MAX, .structured = true, .meta_alloc = true};

static enum gw_nbd_verdict check(const struct gw_nbd_limits *lim, uint16_t flags, uint16_t type,
                                 uint64_t off, uint32_t len, uint32_t *err)
{
    struct gw_nbd_request req = {
        .flags = flags, .type = type, .cookie = 7, .offset = off, .length = len};
    return gw_nbd_validate_request(&req, lim, err);
}

/* ---- handshake ---- */

static void test_nbd_greeting_is_fixed_newstyle_no_zeroes(void **state)
{
    uint8_t buf[GW_NBD_GREETING_LEN];

    assert_int_equal(gw_nbd_encode_greeting(buf), 18);
    assert_memory_equal(buf, "NBDMAGIC", 8);
    assert_memory_equal(buf + 8, "IHAVEOPT", 8);
    assert_int_equal(get(buf + 16, 2), 3);
}

static void test_nbd_client_flags(void **state)
{
    uint8_t buf[4];
    uint32_t flags = 99;

    be(buf, 1, 4);
    assert_int_equal(gw_nbd_parse_client_flags(buf, &flags), 0);
    assert_int_equal(flags, 1);
    be(buf, 3, 4);
    assert_int_equal(gw_nbd_parse_client_flags(buf, &flags), 0);
    assert_int_equal(flags, 3);
    /* unknown bit: the server MUST close */
    be(buf, 1 | 4, 4);
    flags = 99;
    assert_int_equal(gw_nbd_parse_client_flags(buf, &flags), -EPROTO);
    assert_int_equal(flags, 99);
    be(buf, 0x80000001u, 4);
    assert_int_equal(gw_nbd_parse_client_flags(buf, &flags), -EPROTO);
    /* old-style newstyle client */
    be(buf, 0, 4);
    assert_int_equal(gw_nbd_parse_client_flags(buf, &flags), -EPROTO);
}

static void test_nbd_opt_hdr(void **state)
{
    uint8_t buf[GW_NBD_OPT_HDR_LEN];
    struct gw_nbd_opt_hdr h;

    be(buf, GW_NBD_IHAVEOPT, 8);
    be(buf + 8, GW_NBD_OPT_GO, 4);
    be(buf + 12, 1234, 4);
    assert_int_equal(gw_nbd_parse_opt_hdr(buf, &h), 0);
    assert_int_equal(h.opt, GW_NBD_OPT_GO);
    assert_int_equal(h.len, 1234);
    buf[3] ^= 1;
    assert_int_equal(gw_nbd_parse_opt_hdr(buf, &h), -EPROTO);
}

static void test_nbd_opt_len_verdict_bounds(void **state)
{
    struct gw_nbd_opt_hdr h = {.opt = GW_NBD_OPT_GO, .len = 0};

    assert_int_equal(gw_nbd_opt_len_verdict(&h), GW_NBD_OPT_READ);
    h.len = GW_NBD_OPT_DATA_MAX;
    assert_int_equal(gw_nbd_opt_len_verdict(&h), GW_NBD_OPT_READ);
    h.len = GW_NBD_OPT_DATA_MAX + 1;
    assert_int_equal(gw_nbd_opt_len_verdict(&h), GW_NBD_OPT_DISCARD);
    h.len = GW_NBD_OPT_DISCARD_MAX;
    assert_int_equal(gw_nbd_opt_len_verdict(&h), GW_NBD_OPT_DISCARD);
    h.len = GW_NBD_OPT_DISCARD_MAX + 1;
    assert_int_equal(gw_nbd_opt_len_verdict(&h), GW_NBD_OPT_CLOSE);
    h.len = UINT32_MAX;
    assert_int_equal(gw_nbd_opt_len_verdict(&h), GW_NBD_OPT_CLOSE);
    /* EXPORT_NAME has no error reply */
    h.opt = GW_NBD_OPT_EXPORT_NAME;
    h.len = GW_NBD_OPT_DATA_MAX + 1;
    assert_int_equal(gw_nbd_opt_len_verdict(&h), GW_NBD_OPT_CLOSE);
}

/* ---- option payloads ---- */

static void test_nbd_info_req_valid(void **state)
{
    uint8_t buf[256];
    uint16_t types[] = {GW_NBD_INFO_NAME, GW_NBD_INFO_BLOCK_SIZE};
    struct gw_nbd_info_req req;
    uint32_t len = info_payload(buf, "disk1", 2, types);

    assert_int_equal(gw_nbd_parse_info_req(buf, len, &req), 0);
    assert_int_equal(req.name_len, 5);
    assert_memory_equal(req.name, "disk1", 5);
    assert_int_equal(req.n_info, 2);
    assert_int_equal(req.info[0], GW_NBD_INFO_NAME);
    assert_int_equal(req.info[1], GW_NBD_INFO_BLOCK_SIZE);
    /* the default export: an empty name */
    len = info_payload(buf, "", 0, NULL);
    assert_int_equal(gw_nbd_parse_info_req(buf, len, &req), 0);
    assert_int_equal(req.name_len, 0);
    assert_int_equal(req.n_info, 0);
}

static void test_nbd_info_req_malformed(void **state)
{
    uint8_t buf[256];
    uint16_t types[] = {GW_NBD_INFO_NAME};
    struct gw_nbd_info_req req;
    uint32_t len = info_payload(buf, "disk1", 1, types);

    for (uint32_t l = 0; l < len; l++)
        assert_int_equal(gw_nbd_parse_info_req(buf, l, &req), -EINVAL);
    assert_int_equal(gw_nbd_parse_info_req(buf, len + 1, &req), -EINVAL);
    /* name length beyond the payload, and beyond 4096 */
    be(buf, 200, 4);
    assert_int_equal(gw_nbd_parse_info_req(buf, len, &req), -EINVAL);
    be(buf, 0xffffffffu, 4);
    assert_int_equal(gw_nbd_parse_info_req(buf, len, &req), -EINVAL);
    /* NUL in the name */
    len = info_payload(buf, "ab", 0, NULL);
    buf[5] = 0;
    assert_int_equal(gw_nbd_parse_info_req(buf, len, &req), -EINVAL);
}

static void test_nbd_info_req_many_types_are_capped(void **state)
{
    static uint8_t buf[8 + 2 * 1000];
    static uint16_t types[1000];
    struct gw_nbd_info_req req;

    for (int i = 0; i < 1000; i++)
        types[i] = (uint16_t)i;
    uint32_t len = info_payload(buf, "x", 1000, types);
    assert_int_equal(gw_nbd_parse_info_req(buf, len, &req), 0);
    assert_int_equal(req.n_info, GW_NBD_INFO_REQ_MAX);
}

static void test_nbd_meta_req_valid(void **state)
{
    uint8_t buf[256];
    const char *qs[] = {"base:allocation", "qemu:dirty-bitmap:x", "base:"};
    struct gw_nbd_meta_req req;
    uint32_t pos = 0, q_len;
    const char *q;
    uint32_t len = meta_payload(buf, "disk1", 3, qs);

    assert_int_equal(gw_nbd_parse_meta_req(buf, len, &req), 0);
    assert_int_equal(req.name_len, 5);
    assert_int_equal(req.n_queries, 3);
    gw_nbd_meta_query_next(&req, &pos, &q, &q_len);
    assert_true(gw_nbd_meta_query_matches(q, q_len, false));
    gw_nbd_meta_query_next(&req, &pos, &q, &q_len);
    assert_false(gw_nbd_meta_query_matches(q, q_len, true));
    gw_nbd_meta_query_next(&req, &pos, &q, &q_len);
    assert_int_equal(q_len, 5);
    assert_true(gw_nbd_meta_query_matches(q, q_len, true));  /* LIST: namespace */
    assert_false(gw_nbd_meta_query_matches(q, q_len, false)); /* SET: exact names only */
    assert_int_equal(pos, req.queries_len);
    len = meta_payload(buf, "disk1", 0, NULL);
    assert_int_equal(gw_nbd_parse_meta_req(buf, len, &req), 0);
    assert_int_equal(req.n_queries, 0);
}

static void test_nbd_meta_req_malformed(void **state)
{
    uint8_t buf[512];
    const char *qs[] = {"base:allocation", "abc"};
    struct gw_nbd_meta_req req;
    uint32_t len = meta_payload(buf, "disk1", 2, qs);

    for (uint32_t l = 0; l < len; l++)
        assert_int_equal(gw_nbd_parse_meta_req(buf, l, &req), -EINVAL);
    assert_int_equal(gw_nbd_parse_meta_req(buf, len + 1, &req), -EINVAL);
    /* more queries claimed than present, and a huge count */
    be(buf + 4 + 5, 3, 4);
    assert_int_equal(gw_nbd_parse_meta_req(buf, len, &req), -EINVAL);
    be(buf + 4 + 5, 0xffffffffu, 4);
    assert_int_equal(gw_nbd_parse_meta_req(buf, len, &req), -EINVAL);
    /* a query length running past the end */
    len = meta_payload(buf, "disk1", 2, qs);
    be(buf + 13, 0x7fffffffu, 4);
    assert_int_equal(gw_nbd_parse_meta_req(buf, len, &req), -EINVAL);
    /* NUL inside a query */
    len = meta_payload(buf, "disk1", 2, qs);
    buf[17] = 0;
    assert_int_equal(gw_nbd_parse_meta_req(buf, len, &req), -EINVAL);
}

static void test_nbd_name_is_valid(void **state)
{
    static char big[GW_NBD_STRING_MAX + 1];

    memset(big, 'a', sizeof(big));
    assert_true(gw_nbd_name_is_valid("a", 1));
    assert_false(gw_nbd_name_is_valid("", 0));
    assert_false(gw_nbd_name_is_valid("a\0b", 3));
    assert_true(gw_nbd_name_is_valid(big, GW_NBD_STRING_MAX));
    assert_false(gw_nbd_name_is_valid(big, GW_NBD_STRING_MAX + 1));
}

/* ---- option replies ---- */

static void test_nbd_rep_hdr_and_infos(void **state)
{
    uint8_t buf[GW_NBD_EXPORT_NAME_REPLY_LEN];

    assert_int_equal(gw_nbd_encode_rep_hdr(buf, GW_NBD_OPT_GO, GW_NBD_REP_ERR_TOO_BIG, 9), 20);
    assert_int_equal(get(buf, 8), 0x0003e889045565a9ull);
    assert_int_equal(get(buf + 8, 4), 7);
    assert_int_equal(get(buf + 12, 4), 0x80000009u);
    assert_int_equal(get(buf + 16, 4), 9);

    assert_int_equal(gw_nbd_encode_info_export(buf, 0x123456789ull, 0x1ed), 12);
    assert_int_equal(get(buf, 2), GW_NBD_INFO_EXPORT);
    assert_int_equal(get(buf + 2, 8), 0x123456789ull);
    assert_int_equal(get(buf + 10, 2), 0x1ed);

    assert_int_equal(gw_nbd_encode_info_block_size(buf, 1, 4096, 32 << 20), 14);
    assert_int_equal(get(buf, 2), GW_NBD_INFO_BLOCK_SIZE);
    assert_int_equal(get(buf + 2, 4), 1);
    assert_int_equal(get(buf + 6, 4), 4096);
    assert_int_equal(get(buf + 10, 4), 32 << 20);

    assert_int_equal(gw_nbd_encode_info_string_hdr(buf, GW_NBD_INFO_DESCRIPTION), 2);
    assert_int_equal(get(buf, 2), 2);
    assert_int_equal(gw_nbd_encode_rep_server_hdr(buf, 5), 4);
    assert_int_equal(get(buf, 4), 5);
    assert_int_equal(gw_nbd_encode_rep_meta_hdr(buf, 1), 4);
    assert_int_equal(get(buf, 4), 1);
}

static void test_nbd_export_name_reply(void **state)
{
    uint8_t buf[GW_NBD_EXPORT_NAME_REPLY_LEN];

    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(gw_nbd_encode_export_name_reply(buf, 1 << 30, 0x15, true), 10);
    assert_int_equal(get(buf, 8), 1 << 30);
    assert_int_equal(get(buf + 8, 2), 0x15);
    assert_int_equal(buf[10], 0xee);
    assert_int_equal(gw_nbd_encode_export_name_reply(buf, 1 << 30, 0x15, false), 134);
    for (int i = 10; i < 134; i++)
        assert_int_equal(buf[i], 0);
}

/* ---- transmission ---- */

static void test_nbd_request_parse(void **state)
{
    uint8_t buf[GW_NBD_REQUEST_LEN];
    struct gw_nbd_request req;

    request(buf, GW_NBD_REQUEST_MAGIC, GW_NBD_CMD_FLAG_FUA, GW_NBD_CMD_WRITE,
            0x0102030405060708ull, 0x1000, 512);
    assert_int_equal(gw_nbd_parse_request(buf, &req), 0);
    assert_int_equal(req.flags, GW_NBD_CMD_FLAG_FUA);
    assert_int_equal(req.type, GW_NBD_CMD_WRITE);
    assert_int_equal(req.cookie, 0x0102030405060708ull);
    assert_int_equal(req.offset, 0x1000);
    assert_int_equal(req.length, 512);
    request(buf, GW_NBD_SIMPLE_REPLY_MAGIC, 0, 0, 0, 0, 0);
    assert_int_equal(gw_nbd_parse_request(buf, &req), -EPROTO);
}

static void test_nbd_validate_bounds(void **state)
{
    uint32_t err;

    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_READ, 0, 1 << 20, &err), GW_NBD_OK);
    assert_int_equal(err, 0);
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_READ, 1, 1 << 20, &err), GW_NBD_ERROR);
    assert_int_equal(err, GW_NBD_EINVAL);
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_WRITE, (1 << 20) - 1, 2, &err), GW_NBD_ERROR);
    assert_int_equal(err, GW_NBD_ENOSPC);
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_WRITE_ZEROES, 1 << 20, 1, &err), GW_NBD_ERROR);
    assert_int_equal(err, GW_NBD_ENOSPC);
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_TRIM, UINT64_MAX, 2, &err), GW_NBD_ERROR);
    assert_int_equal(err, GW_NBD_EINVAL);
    /* offset + length overflowing 64 bits */
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_READ, UINT64_MAX - 1, 4, &err), GW_NBD_ERROR);
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_BLOCK_STATUS, 0, 1 << 20, &err), GW_NBD_OK);
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_BLOCK_STATUS, 1, 1 << 20, &err),
                     GW_NBD_ERROR);
    /* FLUSH and DISC ignore the range */
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_FLUSH, UINT64_MAX, 9, &err), GW_NBD_OK);
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_DISC, 0, 0, &err), GW_NBD_OK);
    /* zero length at the very end is in bounds; misalignment is fine (min block 1) */
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_WRITE, 1 << 20, 0, &err), GW_NBD_OK);
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_WRITE, 3, 5, &err), GW_NBD_OK);
}

static void test_nbd_validate_sizes(void **state)
{
    struct gw_nbd_limits big = lim_1m;
    uint32_t err;

    big.size = 1ull << 40;
    assert_int_equal(check(&big, 0, GW_NBD_CMD_READ, 0, GW_NBD_PAYLOAD_MAX, &err), GW_NBD_OK);
    assert_int_equal(check(&big, 0, GW_NBD_CMD_READ, 0, GW_NBD_PAYLOAD_MAX + 1, &err),
                     GW_NBD_ERROR);
    assert_int_equal(err, GW_NBD_EINVAL);
    assert_int_equal(check(&big, 0, GW_NBD_CMD_WRITE, 0, GW_NBD_PAYLOAD_MAX, &err), GW_NBD_OK);
    /* a WRITE payload we will not read: close */
    assert_int_equal(check(&big, 0, GW_NBD_CMD_WRITE, 0, GW_NBD_PAYLOAD_MAX + 1, &err),
                     GW_NBD_CLOSE);
    assert_int_equal(check(&big, 0, GW_NBD_CMD_WRITE, 0, UINT32_MAX, &err), GW_NBD_CLOSE);
    /* ...even when it is also out of bounds or has bad flags */
    assert_int_equal(check(&lim_1m, 0x8000, GW_NBD_CMD_WRITE, 0, UINT32_MAX, &err),
                     GW_NBD_CLOSE);
    /* trim and zero carry no payload: no size limit */
    assert_int_equal(check(&big, 0, GW_NBD_CMD_TRIM, 0, UINT32_MAX, &err), GW_NBD_OK);
    assert_int_equal(check(&big, 0, GW_NBD_CMD_WRITE_ZEROES, 0, UINT32_MAX, &err), GW_NBD_OK);
    /* block status of length 0 */
    assert_int_equal(check(&big, 0, GW_NBD_CMD_BLOCK_STATUS, 0, 0, &err), GW_NBD_ERROR);
    assert_int_equal(err, GW_NBD_EINVAL);
}

static void test_nbd_validate_flags_and_types(void **state)
{
    struct gw_nbd_limits simple = lim_1m;
    uint32_t err;

    simple.structured = false;
    simple.meta_alloc = false;
    assert_int_equal(check(&lim_1m, GW_NBD_CMD_FLAG_FUA, GW_NBD_CMD_WRITE, 0, 1, &err),
                     GW_NBD_OK);
    assert_int_equal(check(&lim_1m, GW_NBD_CMD_FLAG_NO_HOLE | GW_NBD_CMD_FLAG_FUA,
                           GW_NBD_CMD_WRITE_ZEROES, 0, 1, &err),
                     GW_NBD_OK);
    assert_int_equal(check(&lim_1m, GW_NBD_CMD_FLAG_NO_HOLE, GW_NBD_CMD_TRIM, 0, 1, &err),
                     GW_NBD_ERROR);
    assert_int_equal(err, GW_NBD_EINVAL);
    assert_int_equal(check(&lim_1m, GW_NBD_CMD_FLAG_FAST_ZERO, GW_NBD_CMD_WRITE_ZEROES, 0, 1,
                           &err),
                     GW_NBD_ERROR);
    assert_int_equal(check(&lim_1m, GW_NBD_CMD_FLAG_DF, GW_NBD_CMD_READ, 0, 1, &err), GW_NBD_OK);
    assert_int_equal(check(&simple, GW_NBD_CMD_FLAG_DF, GW_NBD_CMD_READ, 0, 1, &err),
                     GW_NBD_ERROR);
    assert_int_equal(check(&lim_1m, GW_NBD_CMD_FLAG_REQ_ONE, GW_NBD_CMD_BLOCK_STATUS, 0, 1, &err),
                     GW_NBD_OK);
    assert_int_equal(check(&lim_1m, GW_NBD_CMD_FLAG_REQ_ONE, GW_NBD_CMD_READ, 0, 1, &err),
                     GW_NBD_ERROR);
    assert_int_equal(check(&lim_1m, 1u << 15, GW_NBD_CMD_FLUSH, 0, 0, &err), GW_NBD_ERROR);
    /* block status without base:allocation; unknown and unadvertised commands */
    assert_int_equal(check(&simple, 0, GW_NBD_CMD_BLOCK_STATUS, 0, 1, &err), GW_NBD_ERROR);
    assert_int_equal(check(&lim_1m, 0, GW_NBD_CMD_CACHE, 0, 1, &err), GW_NBD_ERROR);
    assert_int_equal(check(&lim_1m, 0, 8, 0, 1, &err), GW_NBD_ERROR);
    assert_int_equal(check(&lim_1m, 0, 0xffff, 0, 1, &err), GW_NBD_ERROR);
    assert_int_equal(err, GW_NBD_EINVAL);
}

static void test_nbd_errno_to_wire(void **state)
{
    assert_int_equal(gw_nbd_errno_to_wire(0), 0);
    assert_int_equal(gw_nbd_errno_to_wire(-EPERM), GW_NBD_EPERM);
    assert_int_equal(gw_nbd_errno_to_wire(-EROFS), GW_NBD_EPERM);
    assert_int_equal(gw_nbd_errno_to_wire(-EIO), GW_NBD_EIO);
    assert_int_equal(gw_nbd_errno_to_wire(-ENOMEM), GW_NBD_ENOMEM);
    assert_int_equal(gw_nbd_errno_to_wire(-EINVAL), GW_NBD_EINVAL);
    assert_int_equal(gw_nbd_errno_to_wire(-ENOSPC), GW_NBD_ENOSPC);
    assert_int_equal(gw_nbd_errno_to_wire(-EDQUOT), GW_NBD_ENOSPC);
    assert_int_equal(gw_nbd_errno_to_wire(-EOVERFLOW), GW_NBD_EOVERFLOW);
    assert_int_equal(gw_nbd_errno_to_wire(-ENOTSUP), GW_NBD_ENOTSUP);
    assert_int_equal(gw_nbd_errno_to_wire(-ESHUTDOWN), GW_NBD_ESHUTDOWN);
    assert_int_equal(gw_nbd_errno_to_wire(-ETIMEDOUT), GW_NBD_EIO);
    assert_int_equal(gw_nbd_errno_to_wire(-ENOENT), GW_NBD_EIO);
    assert_int_equal(gw_nbd_errno_to_wire(-EBADMSG), GW_NBD_EIO);
}

static void test_nbd_simple_reply(void **state)
{
    uint8_t buf[GW_NBD_SIMPLE_REPLY_LEN];

    assert_int_equal(gw_nbd_encode_simple_reply(buf, GW_NBD_ENOSPC, 0xabcdefull), 16);
    assert_int_equal(get(buf, 4), 0x67446698u);
    assert_int_equal(get(buf + 4, 4), 28);
    assert_int_equal(get(buf + 8, 8), 0xabcdefull);
}

static void test_nbd_structured_chunks(void **state)
{
    uint8_t buf[64];

    assert_int_equal(gw_nbd_encode_chunk_hdr(buf, GW_NBD_REPLY_FLAG_DONE, GW_NBD_REPLY_TYPE_NONE,
                                             42, 0),
                     20);
    assert_int_equal(get(buf, 4), 0x668e33efu);
    assert_int_equal(get(buf + 4, 2), 1);
    assert_int_equal(get(buf + 6, 2), 0);
    assert_int_equal(get(buf + 8, 8), 42);
    assert_int_equal(get(buf + 16, 4), 0);

    assert_int_equal(gw_nbd_encode_offset_data_hdr(buf, 0, 42, 4096, 512), 28);
    assert_int_equal(get(buf + 4, 2), 0);
    assert_int_equal(get(buf + 6, 2), GW_NBD_REPLY_TYPE_OFFSET_DATA);
    assert_int_equal(get(buf + 16, 4), 8 + 512);
    assert_int_equal(get(buf + 20, 8), 4096);

    assert_int_equal(gw_nbd_encode_offset_hole(buf, GW_NBD_REPLY_FLAG_DONE, 42, 8192, 1024), 32);
    assert_int_equal(get(buf + 6, 2), GW_NBD_REPLY_TYPE_OFFSET_HOLE);
    assert_int_equal(get(buf + 16, 4), 12);
    assert_int_equal(get(buf + 20, 8), 8192);
    assert_int_equal(get(buf + 28, 4), 1024);

    assert_int_equal(gw_nbd_encode_error_hdr(buf, 42, GW_NBD_EIO, 3), 26);
    assert_int_equal(get(buf + 4, 2), GW_NBD_REPLY_FLAG_DONE);
    assert_int_equal(get(buf + 6, 2), 32769);
    assert_int_equal(get(buf + 16, 4), 6 + 3);
    assert_int_equal(get(buf + 20, 4), GW_NBD_EIO);
    assert_int_equal(get(buf + 24, 2), 3);

    assert_int_equal(gw_nbd_encode_block_status_hdr(buf, GW_NBD_REPLY_FLAG_DONE, 42, 1, 3), 24);
    assert_int_equal(get(buf + 6, 2), GW_NBD_REPLY_TYPE_BLOCK_STATUS);
    assert_int_equal(get(buf + 16, 4), 4 + 3 * 8);
    assert_int_equal(get(buf + 20, 4), 1);
    assert_int_equal(gw_nbd_encode_extent(buf, 65536, GW_NBD_STATE_HOLE | GW_NBD_STATE_ZERO), 8);
    assert_int_equal(get(buf, 4), 65536);
    assert_int_equal(get(buf + 4, 4), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nbd_greeting_is_fixed_newstyle_no_zeroes),
        cmocka_unit_test(test_nbd_client_flags),
        cmocka_unit_test(test_nbd_opt_hdr),
        cmocka_unit_test(test_nbd_opt_len_verdict_bounds),
        cmocka_unit_test(test_nbd_info_req_valid),
        cmocka_unit_test(test_nbd_info_req_malformed),
        cmocka_unit_test(test_nbd_info_req_many_types_are_capped),
        cmocka_unit_test(test_nbd_meta_req_valid),
        cmocka_unit_test(test_nbd_meta_req_malformed),
        cmocka_unit_test(test_nbd_name_is_valid),
        cmocka_unit_test(test_nbd_rep_hdr_and_infos),
        cmocka_unit_test(test_nbd_export_name_reply),
        cmocka_unit_test(test_nbd_request_parse),
        cmocka_unit_test(test_nbd_validate_bounds),
        cmocka_unit_test(test_nbd_validate_sizes),
        cmocka_unit_test(test_nbd_validate_flags_and_types),
        cmocka_unit_test(test_nbd_errno_to_wire),
        cmocka_unit_test(test_nbd_simple_reply),
        cmocka_unit_test(test_nbd_structured_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

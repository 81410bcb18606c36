/* Unit tests of virtio-blk on chains (gateway/vhost/blk.c): each request
 * type laid out as Linux's driver does and split at odd places (header over
 * two descriptors, data and status sharing one), indirect, every parse
 * error with its exact -errno and whether the status byte is located,
 * discard/write-zeroes segments, GET_ID, the config layout and the one
 * errno -> status mapping. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/vhost/blk.h"
#include "vhost_guest.h"

static struct guest g;
static struct gw_vhost_blk_req r;

#define HDR_GPA DATA_GPA
#define BUF_GPA (DATA_GPA + 0x1000)
#define STATUS_GPA (DATA_GPA + 0x800)

static void hdr(uint32_t type, uint64_t sector)
{
    put(HDR_GPA, type, 4);
    put(HDR_GPA + 4, 0, 4);
    put(HDR_GPA + 8, sector, 8);
}

/* A 3-descriptor request: header, payload (@len bytes, @flags), status. */
static void request3(uint32_t type, uint64_t sector, uint32_t len, uint16_t flags)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    hdr(type, sector);
    desc(0, HDR_GPA, 16, NEXT, 1);
    desc(1, BUF_GPA, len, flags | NEXT, 2);
    desc(2, STATUS_GPA, 1, WRITE, 0);
    offer(&g, 0);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
}

/* A 2-descriptor request: header, status. */
static void request2(uint32_t type)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    hdr(type, 0);
    desc(0, HDR_GPA, 16, NEXT, 1);
    desc(1, STATUS_GPA, 1, WRITE, 0);
    offer(&g, 0);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
}

static void seg(uint64_t gpa, uint64_t sector, uint32_t num, uint32_t flags)
{
    put(gpa, sector, 8);
    put(gpa + 8, num, 4);
    put(gpa + 12, flags, 4);
}

/* ---- valid requests ---- */

static void test_blk_parse_in(void **state)
{
    request3(GW_VHOST_BLK_T_IN, 8, 4096, WRITE);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
    assert_int_equal(r.type, GW_VHOST_BLK_T_IN);
    assert_true(r.data_writable);
    assert_int_equal(r.data_off, 0);
    assert_int_equal(r.data_len, 4096);
    assert_int_equal(r.sector, 8);
    assert_int_equal(r.offset_bytes, 4096);
    assert_ptr_equal(r.status, host(STATUS_GPA));
    assert_int_equal(gw_vhost_blk_set_status(&r, 0), 1);
    assert_int_equal(*host(STATUS_GPA), GW_VHOST_BLK_S_OK);
}

static void test_blk_parse_in_data_and_status_share_a_descriptor(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    hdr(GW_VHOST_BLK_T_IN, 1);
    desc(0, HDR_GPA, 16, NEXT, 1);
    desc(1, BUF_GPA, 1024 + 1, WRITE, 0);
    offer(&g, 0);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
    assert_int_equal(r.data_len, 1024);
    assert_ptr_equal(r.status, host(BUF_GPA + 1024));
}

static void test_blk_parse_out_split_header_and_data(void **state)
{
    /* header split 5 + 11 where the second piece also carries the data */
    assert_int_equal(guest_init(&g, 16, false), 0);
    hdr(GW_VHOST_BLK_T_OUT, 3);
    memmove(host(BUF_GPA), host(HDR_GPA + 5), 11);
    desc(0, HDR_GPA, 5, NEXT, 1);
    desc(1, BUF_GPA, 11 + 300, NEXT, 2);
    desc(2, BUF_GPA + 0x400, 212, NEXT, 3);
    desc(3, STATUS_GPA, 1, WRITE, 0);
    offer(&g, 0);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
    assert_int_equal(r.type, GW_VHOST_BLK_T_OUT);
    assert_int_equal(r.sector, 3);
    assert_false(r.data_writable);
    assert_int_equal(r.data_off, 16);
    assert_int_equal(r.data_len, 512);
    assert_int_equal(r.offset_bytes, 3 * 512);
}

static void test_blk_parse_out_indirect(void **state)
{
    uint64_t table = RAM1_GPA + 0x100;

    assert_int_equal(guest_init(&g, 16, false), 0);
    hdr(GW_VHOST_BLK_T_OUT, 0);
    desc_at(table, 0, HDR_GPA, 16, NEXT, 1);
    desc_at(table, 1, RAM1_GPA - 256, 512, NEXT, 2); /* across the regions */
    desc_at(table, 2, STATUS_GPA, 1, WRITE, 0);
    desc(3, table, 48, INDIRECT, 0);
    offer(&g, 3);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
    assert_int_equal(r.data_len, 512);
    assert_ptr_equal(r.status, host(STATUS_GPA));
}

static void test_blk_parse_flush(void **state)
{
    request2(GW_VHOST_BLK_T_FLUSH);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
    assert_int_equal(r.type, GW_VHOST_BLK_T_FLUSH);
    assert_int_equal(r.data_len, 0);
}

static void test_blk_get_id(void **state)
{
    request3(GW_VHOST_BLK_T_GET_ID, 0, GW_VHOST_BLK_ID_BYTES, WRITE);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
    assert_true(r.data_writable);
    assert_int_equal(r.data_len, 20);
    memset(host(BUF_GPA), 0xee, 20);
    assert_int_equal(gw_vhost_blk_get_id(&g.c, &r, "img"), 4);
    assert_memory_equal(host(BUF_GPA), "img\0", 4);
    assert_int_equal(*host(BUF_GPA + 4), 0xee);
    /* exactly 20 bytes: no NUL; longer: cut */
    assert_int_equal(gw_vhost_blk_get_id(&g.c, &r, "abcdefghijklmnopqrst"), 20);
    assert_memory_equal(host(BUF_GPA), "abcdefghijklmnopqrst", 20);
    assert_int_equal(gw_vhost_blk_get_id(&g.c, &r, "abcdefghijklmnopqrstuvwxyz"), 20);
    assert_int_equal(*host(STATUS_GPA), 0); /* never into the status byte */
}

static void test_blk_get_id_long_buffer_no_nul_at_20(void **state)
{
    request3(GW_VHOST_BLK_T_GET_ID, 0, 32, WRITE);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
    memset(host(BUF_GPA), 0xee, 32);
    assert_int_equal(gw_vhost_blk_get_id(&g.c, &r, "abcdefghijklmnopqrst"), 20);
    assert_int_equal(*host(BUF_GPA + 20), 0xee);
    assert_int_equal(gw_vhost_blk_get_id(&g.c, &r, "short"), 6);
    assert_memory_equal(host(BUF_GPA), "short\0", 6);
}

static void test_blk_get_id_short_buffer(void **state)
{
    request3(GW_VHOST_BLK_T_GET_ID, 0, 8, WRITE);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
    assert_int_equal(gw_vhost_blk_get_id(&g.c, &r, "0123456789"), 8);
    assert_memory_equal(host(BUF_GPA), "01234567", 8);
}

static void test_blk_discard_and_write_zeroes(void **state)
{
    struct gw_vhost_blk_seg s;

    request3(GW_VHOST_BLK_T_DISCARD, 0, 16, 0);
    seg(BUF_GPA, 100, 8, 0);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
    assert_int_equal(r.n_segs, 1);
    assert_int_equal(gw_vhost_blk_segment(&g.c, &r, 0, &s), 0);
    assert_int_equal(s.sector, 100);
    assert_int_equal(s.num_sectors, 8);
    assert_false(s.unmap);
    assert_int_equal(s.offset_bytes, 100 * 512);
    assert_int_equal(s.len_bytes, 8 * 512);
    assert_int_equal(gw_vhost_blk_segment(&g.c, &r, 1, &s), -EINVAL);

    request3(GW_VHOST_BLK_T_WRITE_ZEROES, 0, 16, 0);
    seg(BUF_GPA, 7, GW_VHOST_BLK_DWZ_SECTORS_MAX, GW_VHOST_BLK_SEG_F_UNMAP);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
    assert_int_equal(gw_vhost_blk_segment(&g.c, &r, 0, &s), 0);
    assert_true(s.unmap);
    assert_int_equal(s.len_bytes, (uint64_t)GW_VHOST_BLK_DWZ_SECTORS_MAX * 512);
}

/* ---- malformed requests ---- */

static void test_blk_segment_errors(void **state)
{
    struct gw_vhost_blk_seg s = {.sector = 42};

    request3(GW_VHOST_BLK_T_DISCARD, 0, 16, 0);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
    seg(BUF_GPA, 0, 8, GW_VHOST_BLK_SEG_F_UNMAP); /* unmap on a discard */
    assert_int_equal(gw_vhost_blk_segment(&g.c, &r, 0, &s), -EOPNOTSUPP);
    seg(BUF_GPA, 0, 8, 2); /* unknown flag */
    assert_int_equal(gw_vhost_blk_segment(&g.c, &r, 0, &s), -EOPNOTSUPP);
    seg(BUF_GPA, 0, GW_VHOST_BLK_DWZ_SECTORS_MAX + 1, 0);
    assert_int_equal(gw_vhost_blk_segment(&g.c, &r, 0, &s), -EINVAL);
    seg(BUF_GPA, UINT64_MAX / 512 + 1, 1, 0);
    assert_int_equal(gw_vhost_blk_segment(&g.c, &r, 0, &s), -EINVAL);
    seg(BUF_GPA, UINT64_MAX / 512, 1, 0); /* offset fits, offset + len wraps */
    assert_int_equal(gw_vhost_blk_segment(&g.c, &r, 0, &s), -EINVAL);
    assert_int_equal(s.sector, 42); /* untouched on failure */
}

static void test_blk_parse_chain_error_passes_through(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    hdr(GW_VHOST_BLK_T_IN, 0);
    desc(0, HDR_GPA, 16, NEXT, 1);
    desc(1, RAM_END - 8, 512, WRITE | NEXT, 2);
    desc(2, STATUS_GPA, 1, WRITE, 0);
    offer(&g, 0);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EFAULT);
    assert_ptr_equal(r.status, host(STATUS_GPA));
    assert_int_equal(gw_vhost_blk_set_status(&r, -EFAULT), 1);
    assert_int_equal(*host(STATUS_GPA), GW_VHOST_BLK_S_IOERR);
}

static void test_blk_parse_short_header(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, HDR_GPA, 15, NEXT, 1);
    desc(1, STATUS_GPA, 1, WRITE, 0);
    offer(&g, 0);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    assert_ptr_equal(r.status, host(STATUS_GPA));
}

static void test_blk_parse_no_status_byte(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    hdr(GW_VHOST_BLK_T_OUT, 0);
    desc(0, HDR_GPA, 16 + 512, 0, 0);
    offer(&g, 0);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    assert_null(r.status);
    assert_int_equal(gw_vhost_blk_set_status(&r, -EINVAL), 0);
}

static void test_blk_parse_rw_not_whole_sectors(void **state)
{
    request3(GW_VHOST_BLK_T_IN, 0, 511, WRITE);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    assert_non_null(r.status);
    request3(GW_VHOST_BLK_T_OUT, 0, 513, 0);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    assert_non_null(r.status);
}

static void test_blk_parse_rw_sector_overflow(void **state)
{
    request3(GW_VHOST_BLK_T_IN, UINT64_MAX / 512 + 1, 512, WRITE);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    request3(GW_VHOST_BLK_T_OUT, UINT64_MAX / 512, 1024, 0);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    assert_ptr_equal(r.status, host(STATUS_GPA));
    /* the last whole sector is representable */
    request3(GW_VHOST_BLK_T_OUT, UINT64_MAX / 512 - 1, 512, 0);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), 0);
}

static void test_blk_parse_payload_in_the_wrong_stream(void **state)
{
    request3(GW_VHOST_BLK_T_OUT, 0, 512, WRITE); /* write data device-writable */
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    request3(GW_VHOST_BLK_T_IN, 0, 512, 0); /* read buffer device-readable */
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    request3(GW_VHOST_BLK_T_GET_ID, 0, 20, 0);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    request3(GW_VHOST_BLK_T_DISCARD, 0, 16, WRITE);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    assert_ptr_equal(r.status, host(STATUS_GPA));
}

static void test_blk_parse_flush_with_data(void **state)
{
    request3(GW_VHOST_BLK_T_FLUSH, 0, 512, 0);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    request3(GW_VHOST_BLK_T_FLUSH, 0, 512, WRITE);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    assert_ptr_equal(r.status, host(STATUS_GPA));
}

static void test_blk_parse_bad_segments(void **state)
{
    request2(GW_VHOST_BLK_T_DISCARD); /* no segment */
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    request3(GW_VHOST_BLK_T_WRITE_ZEROES, 0, 17, 0);
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EINVAL);
    request3(GW_VHOST_BLK_T_DISCARD, 0, 32, 0); /* more than advertised */
    assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EOPNOTSUPP);
    assert_ptr_equal(r.status, host(STATUS_GPA));
}

static void test_blk_parse_unknown_type(void **state)
{
    static const uint32_t types[] = {2, 7, 10, 14, 0x80000001u};

    for (unsigned i = 0; i < CAIRN_ARRAY_SIZE(types); i++) {
        request2(types[i]);
        assert_int_equal(gw_vhost_blk_parse(&g.c, &r), -EOPNOTSUPP);
        assert_int_equal(r.type, types[i]);
        assert_ptr_equal(r.status, host(STATUS_GPA));
        gw_vhost_blk_set_status(&r, -EOPNOTSUPP);
        assert_int_equal(*host(STATUS_GPA), GW_VHOST_BLK_S_UNSUPP);
    }
}

/* ---- status mapping and config ---- */

static void test_blk_status_mapping(void **state)
{
    assert_int_equal(gw_vhost_blk_status(0), GW_VHOST_BLK_S_OK);
    assert_int_equal(gw_vhost_blk_status(-EOPNOTSUPP), GW_VHOST_BLK_S_UNSUPP);
    assert_int_equal(gw_vhost_blk_status(-ENOTSUP), GW_VHOST_BLK_S_UNSUPP);
    assert_int_equal(gw_vhost_blk_status(-EIO), GW_VHOST_BLK_S_IOERR);
    assert_int_equal(gw_vhost_blk_status(-EINVAL), GW_VHOST_BLK_S_IOERR);
    assert_int_equal(gw_vhost_blk_status(-ENOSPC), GW_VHOST_BLK_S_IOERR);
    assert_int_equal(gw_vhost_blk_status(-EFAULT), GW_VHOST_BLK_S_IOERR);
}

static void test_blk_config_layout(void **state)
{
    struct gw_vhost_blk_config cfg;
    const uint8_t *b = (const uint8_t *)&cfg;

    gw_vhost_blk_config_init(&cfg, (1ull << 30) + 100, 4096, 4, 4 << 20);
    assert_int_equal(sizeof(cfg), 60);
    assert_int_equal(cairn_get_le64(b + 0), (1ull << 30) / 512);
    assert_int_equal(cairn_get_le(b + 12, 4), GW_VHOST_SEG_MAX);
    assert_int_equal(cairn_get_le(b + 20, 4), 4096);
    assert_int_equal(b[24], 0);                      /* physical_block_exp */
    assert_int_equal(cairn_get_le(b + 26, 2), 1);    /* min_io_size */
    assert_int_equal(cairn_get_le(b + 28, 4), 1024); /* 4 MiB in 4 KiB blocks */
    assert_int_equal(b[32], 1);                      /* writeback */
    assert_int_equal(cairn_get_le(b + 34, 2), 4);
    assert_int_equal(cairn_get_le(b + 36, 4), GW_VHOST_BLK_DWZ_SECTORS_MAX);
    assert_int_equal(cairn_get_le(b + 40, 4), GW_VHOST_BLK_DWZ_SEG_MAX);
    assert_int_equal(cairn_get_le(b + 44, 4), 8);
    assert_int_equal(cairn_get_le(b + 48, 4), GW_VHOST_BLK_DWZ_SECTORS_MAX);
    assert_int_equal(cairn_get_le(b + 52, 4), GW_VHOST_BLK_DWZ_SEG_MAX);
    assert_int_equal(b[56], 1);
    assert_true(GW_VHOST_BLK_FEATURES & (1ull << GW_VHOST_F_VERSION_1));
    assert_false(GW_VHOST_BLK_FEATURES & (1ull << GW_VHOST_BLK_F_CONFIG_WCE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blk_parse_in),
        cmocka_unit_test(test_blk_parse_in_data_and_status_share_a_descriptor),
        cmocka_unit_test(test_blk_parse_out_split_header_and_data),
        cmocka_unit_test(test_blk_parse_out_indirect),
        cmocka_unit_test(test_blk_parse_flush),
        cmocka_unit_test(test_blk_get_id),
        cmocka_unit_test(test_blk_get_id_long_buffer_no_nul_at_20),
        cmocka_unit_test(test_blk_get_id_short_buffer),
        cmocka_unit_test(test_blk_discard_and_write_zeroes),
        cmocka_unit_test(test_blk_segment_errors),
        cmocka_unit_test(test_blk_parse_chain_error_passes_through),
        cmocka_unit_test(test_blk_parse_short_header),
        cmocka_unit_test(test_blk_parse_no_status_byte),
        cmocka_unit_test(test_blk_parse_rw_not_whole_sectors),
        cmocka_unit_test(test_blk_parse_rw_sector_overflow),
        cmocka_unit_test(test_blk_parse_payload_in_the_wrong_stream),
        cmocka_unit_test(test_blk_parse_flush_with_data),
        cmocka_unit_test(test_blk_parse_bad_segments),
        cmocka_unit_test(test_blk_parse_unknown_type),
        cmocka_unit_test(test_blk_status_mapping),
        cmocka_unit_test(test_blk_config_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

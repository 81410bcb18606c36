/* Unit tests of the split virtqueue (gateway/vhost/vring.c), driven the way
 * a virtio driver drives it: ring setup checks, valid direct and indirect
 * chains (also across two adjacent regions), every malformed chain with its
 * exact error and whether the status byte is located, broken rings, the
 * used ring, notification decisions with and without EVENT_IDX (16-bit
 * wrap-around included), and the chain byte-stream helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vhost_guest.h"

static struct guest g;

static int pop(void)
{
    return gw_vhost_vring_pop(&g.vr, &g.m, &g.c);
}

/* ---- setup ---- */

static void test_vring_setup_rejects_bad_num(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    struct gw_vhost_vring before = g.vr;
    uint64_t d = uaddr_of(DESC_GPA), a = uaddr_of(AVAIL_GPA), u = uaddr_of(USED_GPA);

    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, 0, d, a, u, false), -EINVAL);
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, 24, d, a, u, false), -EINVAL);
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, 65536, d, a, u, false), -EINVAL);
    assert_memory_equal(&before, &g.vr, sizeof(before));
}

static void test_vring_setup_rejects_misaligned_rings(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    uint64_t d = uaddr_of(DESC_GPA), a = uaddr_of(AVAIL_GPA), u = uaddr_of(USED_GPA);

    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, 16, d + 8, a, u, false), -EINVAL);
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, 16, d, a + 1, u, false), -EINVAL);
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, 16, d, a, u + 2, false), -EINVAL);
}

static void test_vring_setup_rejects_rings_outside_memory(void **state)
{
    uint32_t num = 16;
    assert_int_equal(guest_init(&g, num, false), 0);
    uint64_t d = uaddr_of(DESC_GPA), a = uaddr_of(AVAIL_GPA), u = uaddr_of(USED_GPA);
    /* each ring placed to end one byte (event field included) past RAM1 */
    uint64_t end = RAM1_UADDR + RAM1_SIZE;
    uint64_t d_bad = end - 16 * num + 16;
    uint64_t a_bad = end - GW_VHOST_VRING_AVAIL_BYTES(num) + 2; /* 38 bytes at end - 36 */
    uint64_t u_bad = end - 132; /* 134 bytes, aligned 4: two bytes too many */

    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, num, d_bad, a, u, false), -EFAULT);
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, num, d, a_bad, u, false), -EFAULT);
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, num, d, a, u_bad, false), -EFAULT);
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, num, 0x10, a, u, false), -EFAULT);
    /* the same rings exactly fitting are fine */
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, num, d_bad - 16, a_bad - 2, u, false), 0);
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, num, d, a, u_bad - 4, false), 0);
}

static void test_vring_set_base_and_used_idx_from_ring(void **state)
{
    assert_int_equal(guest_mem(&g), 0);
    g.num = 8;
    put(USED_GPA + 2, 5, 2); /* a previous back-end returned 5 chains */
    gw_vhost_vring_init(&g.vr);
    gw_vhost_vring_set_base(&g.vr, 5);
    assert_false(gw_vhost_vring_is_ready(&g.vr));
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, 8, uaddr_of(DESC_GPA), uaddr_of(AVAIL_GPA),
                                          uaddr_of(USED_GPA), false),
                     0);
    assert_int_equal(gw_vhost_vring_get_base(&g.vr), 5);
    assert_int_equal(g.vr.used_idx, 5);
    set_avail_idx(&g, 5);
    desc(3, DATA_GPA, 16, 0, 0);
    offer(&g, 3);
    assert_int_equal(pop(), 1);
    assert_int_equal(g.c.head, 3);
    gw_vhost_vring_push(&g.vr, 3, 0);
    assert_true(gw_vhost_vring_publish(&g.vr));
    assert_int_equal(used_idx(), 6);
    assert_int_equal(used_id(5, 8), 3);
}

static void test_vring_resetup_keeps_inflight(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(9, DATA_GPA, 1, WRITE, 0);
    offer(&g, 9);
    assert_int_equal(pop(), 1);
    /* the front-end re-sends SET_VRING_ADDR, even with a smaller queue */
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, 4, uaddr_of(DESC_GPA),
                                          uaddr_of(AVAIL_GPA), uaddr_of(USED_GPA), false),
                     0);
    assert_int_equal(g.vr.inflight, 1);
    assert_int_equal(gw_vhost_vring_get_base(&g.vr), 1);
    gw_vhost_vring_push(&g.vr, 9, 1); /* head 9 >= num 4: written back as is */
    assert_int_equal(g.vr.inflight, 0);
    assert_true(gw_vhost_vring_publish(&g.vr));
    assert_int_equal(used_idx(), 1);
    assert_int_equal(used_id(0, 4), 9);
}

/* ---- valid chains ---- */

static void test_vring_pop_empty_returns_zero(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    assert_int_equal(pop(), 0);
    assert_int_equal(g.vr.last_avail_idx, 0);
}

static void test_vring_pop_direct_chain(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(4, DATA_GPA, 16, NEXT, 9);
    desc(9, DATA_GPA + 0x100, 512, NEXT | WRITE, 2);
    desc(2, DATA_GPA + 0x400, 1, WRITE, 0);
    offer(&g, 4);
    assert_int_equal(pop(), 1);
    assert_int_equal(g.c.error, 0);
    assert_int_equal(g.c.head, 4);
    assert_int_equal(g.c.n_out, 1);
    assert_int_equal(g.c.n_in, 2);
    assert_int_equal(g.c.out_bytes, 16);
    assert_int_equal(g.c.in_bytes, 513);
    assert_ptr_equal(g.c.iov[0].iov_base, host(DATA_GPA));
    assert_ptr_equal(g.c.iov[1].iov_base, host(DATA_GPA + 0x100));
    assert_ptr_equal(g.c.status, host(DATA_GPA + 0x400));
    assert_int_equal(g.vr.last_avail_idx, 1);
    assert_int_equal(g.vr.inflight, 1);
    assert_int_equal(pop(), 0);
}

static void test_vring_pop_buffer_across_adjacent_regions(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, RAM1_GPA - 8, 24, NEXT, 1);
    desc(1, RAM1_GPA + 0x100, 2, WRITE, 0);
    offer(&g, 0);
    assert_int_equal(pop(), 1);
    assert_int_equal(g.c.error, 0);
    assert_int_equal(g.c.n_out, 2);
    assert_int_equal(g.c.iov[0].iov_len, 8);
    assert_ptr_equal(g.c.iov[1].iov_base, ram1);
    assert_int_equal(g.c.iov[1].iov_len, 16);
    assert_int_equal(g.c.out_bytes, 24);
    assert_ptr_equal(g.c.status, host(RAM1_GPA + 0x101));
}

static void test_vring_pop_indirect_chain(void **state)
{
    uint64_t table = RAM1_GPA + 0x800;

    assert_int_equal(guest_init(&g, 16, false), 0);
    desc_at(table, 0, DATA_GPA, 16, NEXT, 2);
    desc_at(table, 2, DATA_GPA + 0x200, 1024, NEXT, 1);
    desc_at(table, 1, DATA_GPA + 0x800, 1, WRITE, 0);
    desc(7, table, 3 * 16, INDIRECT | WRITE, 0); /* WRITE on it is ignored */
    offer(&g, 7);
    assert_int_equal(pop(), 1);
    assert_int_equal(g.c.error, 0);
    assert_int_equal(g.c.head, 7);
    assert_int_equal(g.c.n_out, 2);
    assert_int_equal(g.c.n_in, 1);
    assert_int_equal(g.c.out_bytes, 16 + 1024);
    assert_ptr_equal(g.c.status, host(DATA_GPA + 0x800));
}

static void test_vring_pop_indirect_table_across_regions(void **state)
{
    uint64_t table = RAM1_GPA - 24; /* entry 1 straddles the boundary */

    assert_int_equal(guest_init(&g, 16, false), 0);
    desc_at(table, 0, DATA_GPA, 16, NEXT, 1);
    desc_at(table, 1, DATA_GPA + 0x100, 8, NEXT | WRITE, 2);
    desc_at(table, 2, DATA_GPA + 0x200, 1, WRITE, 0);
    desc(0, table, 48, INDIRECT, 0);
    offer(&g, 0);
    assert_int_equal(pop(), 1);
    assert_int_equal(g.c.error, 0);
    assert_int_equal(g.c.n_out + g.c.n_in, 3);
    assert_int_equal(g.c.in_bytes, 9);
    assert_ptr_equal(g.c.status, host(DATA_GPA + 0x200));
}

static void test_vring_pop_wraps_avail_idx(void **state)
{
    assert_int_equal(guest_init(&g, 4, false), 0);
    gw_vhost_vring_set_base(&g.vr, 0xfffe);
    set_avail_idx(&g, 0xfffe);
    for (uint16_t h = 0; h < 3; h++) {
        desc(h, DATA_GPA + 0x100 * h, 8, WRITE, 0);
        offer(&g, h);
    }
    for (uint16_t h = 0; h < 3; h++) {
        assert_int_equal(pop(), 1);
        assert_int_equal(g.c.head, h);
        gw_vhost_vring_push(&g.vr, h, 8);
    }
    assert_int_equal(pop(), 0);
    assert_int_equal(g.vr.last_avail_idx, 1);
    assert_true(gw_vhost_vring_publish(&g.vr));
    assert_int_equal(used_idx(), 3);
}

/* ---- malformed chains: taken, with an error; status located or not ---- */

static void expect_bad_chain(int err, bool status_located)
{
    assert_int_equal(pop(), 1);
    assert_int_equal(g.c.error, err);
    if (status_located)
        assert_non_null(g.c.status);
    else
        assert_null(g.c.status);
    assert_int_equal(g.vr.last_avail_idx, 1);
    assert_int_equal(g.vr.inflight, 1);
    gw_vhost_vring_push(&g.vr, g.c.head, 0);
    assert_int_equal(g.vr.inflight, 0);
}

static void test_vring_buffer_just_past_memory_is_efault(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, RAM_END - 15, 16, NEXT, 1);
    desc(1, DATA_GPA, 1, WRITE, 0);
    offer(&g, 0);
    expect_bad_chain(-EFAULT, true);
    assert_ptr_equal(g.c.status, host(DATA_GPA));
}

static void test_vring_buffer_wrapping_address_is_efault(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, UINT64_MAX - 3, 16, NEXT, 1);
    desc(1, DATA_GPA, 1, WRITE, 0);
    offer(&g, 0);
    expect_bad_chain(-EFAULT, true);
}

static void test_vring_status_outside_memory_is_not_located(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, DATA_GPA, 16, NEXT, 1);
    desc(1, RAM_END, 1, WRITE, 0);
    offer(&g, 0);
    expect_bad_chain(-EFAULT, false);
    /* and a writable buffer whose last byte wraps around onto RAM0_GPA */
    desc(1, UINT64_MAX, (uint32_t)RAM0_GPA + 2, WRITE, 0);
    offer(&g, 0);
    assert_int_equal(pop(), 1);
    assert_int_equal(g.c.error, -EFAULT);
    assert_null(g.c.status);
}

static void test_vring_direct_loop_is_eloop(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, DATA_GPA, 16, WRITE | NEXT, 1);
    desc(1, DATA_GPA, 1, WRITE | NEXT, 0);
    offer(&g, 0);
    expect_bad_chain(-ELOOP, false);
}

static void test_vring_self_loop_is_eloop(void **state)
{
    assert_int_equal(guest_init(&g, 1, false), 0);
    desc(0, DATA_GPA, 1, WRITE | NEXT, 0);
    offer(&g, 0);
    expect_bad_chain(-ELOOP, false);
}

static void test_vring_indirect_loop_is_eloop(void **state)
{
    uint64_t table = DATA_GPA + 0x1000;

    assert_int_equal(guest_init(&g, 16, false), 0);
    desc_at(table, 0, DATA_GPA, 16, NEXT, 1);
    desc_at(table, 1, DATA_GPA + 0x100, 1, WRITE | NEXT, 2);
    desc_at(table, 2, DATA_GPA + 0x200, 1, WRITE | NEXT, 1);
    desc(0, table, 3 * 16, INDIRECT, 0);
    offer(&g, 0);
    expect_bad_chain(-ELOOP, false);
}

static void test_vring_next_beyond_queue_is_einval(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, DATA_GPA, 16, NEXT, 16);
    offer(&g, 0);
    expect_bad_chain(-EINVAL, false);
}

static void test_vring_next_beyond_indirect_table_is_einval(void **state)
{
    uint64_t table = DATA_GPA + 0x1000;

    assert_int_equal(guest_init(&g, 16, false), 0);
    desc_at(table, 0, DATA_GPA, 16, NEXT, 1);
    desc_at(table, 1, DATA_GPA + 0x100, 1, WRITE | NEXT, 2); /* table has 2 entries */
    desc(0, table, 2 * 16, INDIRECT, 0);
    offer(&g, 0);
    expect_bad_chain(-EINVAL, false);
}

static void test_vring_too_many_segments_is_e2big(void **state)
{
    uint64_t table = RAM1_GPA;
    unsigned n = GW_VHOST_CHAIN_IOV_MAX + 1;

    assert_int_equal(guest_init(&g, 16, false), 0);
    for (unsigned i = 0; i < n; i++)
        desc_at(table, i, DATA_GPA + i, 1, NEXT, (uint16_t)(i + 1));
    desc_at(table, n, DATA_GPA + 0x800, 1, WRITE, 0);
    desc(0, table, (n + 1) * 16, INDIRECT, 0);
    offer(&g, 0);
    expect_bad_chain(-E2BIG, true);
    assert_ptr_equal(g.c.status, host(DATA_GPA + 0x800));
    /* The descriptor count (seg_max + header + status) stops it first. */
    assert_int_equal(g.c.n_out, GW_VHOST_SEG_MAX + 2);
}

/* One descriptor more than a legal request has is refused even though its
 * pieces would fit, and its status is still found. */
static void test_vring_seg_max_plus_one_is_e2big(void **state)
{
    uint64_t table = RAM1_GPA;
    unsigned n = GW_VHOST_SEG_MAX + 3;

    assert_int_equal(guest_init(&g, 16, false), 0);
    desc_at(table, 0, DATA_GPA, 16, NEXT, 1);
    for (unsigned i = 1; i < n - 1; i++)
        desc_at(table, i, DATA_GPA + 0x1000 + 512 * i, 512, NEXT, (uint16_t)(i + 1));
    desc_at(table, n - 1, DATA_GPA + 0x20, 1, WRITE, 0);
    desc(0, table, n * 16, INDIRECT, 0);
    offer(&g, 0);
    expect_bad_chain(-E2BIG, true);
    assert_ptr_equal(g.c.status, host(DATA_GPA + 0x20));
}

static void test_vring_legal_request_fits(void **state)
{
    uint64_t table = RAM1_GPA;
    unsigned n = GW_VHOST_SEG_MAX + 2;

    assert_int_equal(guest_init(&g, 16, false), 0);
    /* header, seg_max data buffers of which one crosses into RAM1, status */
    desc_at(table, 0, DATA_GPA, 16, NEXT, 1);
    for (unsigned i = 1; i < n - 1; i++)
        desc_at(table, i, RAM1_GPA - 0x1000 + 256 + 512 * (i - 1), 512, NEXT | WRITE,
                (uint16_t)(i + 1));
    desc_at(table, n - 1, DATA_GPA + 0x20, 1, WRITE, 0);
    desc(0, table, n * 16, INDIRECT, 0);
    offer(&g, 0);
    assert_int_equal(pop(), 1);
    assert_int_equal(g.c.error, 0);
    assert_int_equal(g.c.n_out, 1);
    assert_int_equal(g.c.n_in, GW_VHOST_SEG_MAX + 2); /* one split, one status */
    assert_int_equal(g.c.in_bytes, 512 * GW_VHOST_SEG_MAX + 1);
}

static void test_vring_zero_length_is_einval(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, DATA_GPA, 16, NEXT, 1);
    desc(1, DATA_GPA + 0x100, 0, NEXT | WRITE, 2);
    desc(2, DATA_GPA + 0x200, 1, WRITE, 0);
    offer(&g, 0);
    expect_bad_chain(-EINVAL, true);
    assert_ptr_equal(g.c.status, host(DATA_GPA + 0x200));
}

static void test_vring_zero_length_last_writable_has_no_status(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, DATA_GPA, 16, NEXT, 1);
    desc(1, DATA_GPA + 0x100, 0, WRITE, 0);
    offer(&g, 0);
    expect_bad_chain(-EINVAL, false);
}

static void test_vring_readable_after_writable_is_einval(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, DATA_GPA, 16, NEXT, 1);
    desc(1, DATA_GPA + 0x100, 512, NEXT | WRITE, 2);
    desc(2, DATA_GPA + 0x400, 16, NEXT, 3);
    desc(3, DATA_GPA + 0x500, 1, WRITE, 0);
    offer(&g, 0);
    expect_bad_chain(-EINVAL, true);
    assert_ptr_equal(g.c.status, host(DATA_GPA + 0x500));
}

static void test_vring_nested_indirect_is_einval(void **state)
{
    uint64_t table = DATA_GPA + 0x1000;

    assert_int_equal(guest_init(&g, 16, false), 0);
    desc_at(table, 0, DATA_GPA, 16, NEXT, 1);
    desc_at(table, 1, table, 32, INDIRECT, 0);
    desc(0, table, 2 * 16, INDIRECT, 0);
    offer(&g, 0);
    expect_bad_chain(-EINVAL, false);
}

/* A nested indirect descriptor is not followed, but the walk goes on, so
 * a status after it gets the error. */
static void test_vring_nested_indirect_then_status_is_located(void **state)
{
    uint64_t table = DATA_GPA + 0x1000;

    assert_int_equal(guest_init(&g, 16, false), 0);
    desc_at(table, 0, DATA_GPA, 16, NEXT, 1);
    desc_at(table, 1, table, 32, INDIRECT | NEXT, 2);
    desc_at(table, 2, DATA_GPA + 0x20, 1, WRITE, 0);
    desc(0, table, 3 * 16, INDIRECT, 0);
    offer(&g, 0);
    expect_bad_chain(-EINVAL, true);
    assert_ptr_equal(g.c.status, host(DATA_GPA + 0x20));
}

static void test_vring_indirect_inside_direct_chain_is_einval(void **state)
{
    uint64_t table = DATA_GPA + 0x1000;

    assert_int_equal(guest_init(&g, 16, false), 0);
    desc_at(table, 0, DATA_GPA + 0x100, 1, WRITE, 0);
    desc(0, DATA_GPA, 16, NEXT, 1);
    desc(1, table, 16, INDIRECT, 0);
    offer(&g, 0);
    expect_bad_chain(-EINVAL, false);
}

static void test_vring_indirect_with_next_is_einval(void **state)
{
    uint64_t table = DATA_GPA + 0x1000;

    assert_int_equal(guest_init(&g, 16, false), 0);
    desc_at(table, 0, DATA_GPA, 16, NEXT, 1);
    desc_at(table, 1, DATA_GPA + 0x100, 1, WRITE, 0);
    desc(0, table, 2 * 16, INDIRECT | NEXT, 1);
    offer(&g, 0);
    expect_bad_chain(-EINVAL, true);
    assert_ptr_equal(g.c.status, host(DATA_GPA + 0x100));
}

static void test_vring_bad_indirect_table_size_is_einval(void **state)
{
    static const uint32_t lens[] = {0, 17, 8, (GW_VHOST_INDIRECT_MAX + 1) * 16};

    for (unsigned i = 0; i < CAIRN_ARRAY_SIZE(lens); i++) {
        assert_int_equal(guest_init(&g, 16, false), 0);
        desc(0, DATA_GPA, lens[i], INDIRECT, 0);
        offer(&g, 0);
        expect_bad_chain(-EINVAL, false);
    }
}

static void test_vring_indirect_table_outside_memory_is_efault(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, RAM_END - 16, 32, INDIRECT, 0);
    offer(&g, 0);
    expect_bad_chain(-EFAULT, false);
    desc(0, UINT64_MAX - 15, 32, INDIRECT, 0);
    offer(&g, 0);
    assert_int_equal(pop(), 1);
    assert_int_equal(g.c.error, -EFAULT);
}

/* ---- broken rings: -EPROTO, nothing taken ---- */

static void test_vring_avail_idx_jump_is_eproto(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, DATA_GPA, 1, WRITE, 0);
    set_avail_idx(&g, 17);
    g.c.head = 0xbeef;
    assert_int_equal(pop(), -EPROTO);
    assert_int_equal(g.vr.last_avail_idx, 0);
    assert_int_equal(g.c.head, 0xbeef);
    set_avail_idx(&g, 16); /* exactly num ahead is legal */
    assert_int_equal(pop(), 1);
}

static void test_vring_head_beyond_queue_is_eproto(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    offer(&g, 16);
    assert_int_equal(pop(), -EPROTO);
    assert_int_equal(g.vr.last_avail_idx, 0);
    assert_int_equal(g.vr.inflight, 0);
}

static void test_vring_more_inflight_than_num_is_eproto(void **state)
{
    assert_int_equal(guest_init(&g, 2, false), 0);
    desc(0, DATA_GPA, 1, WRITE, 0);
    offer(&g, 0);
    offer(&g, 0);
    assert_int_equal(pop(), 1);
    assert_int_equal(pop(), 1);
    offer(&g, 0); /* re-offers a head we still hold */
    assert_int_equal(pop(), -EPROTO);
    gw_vhost_vring_push(&g.vr, 0, 1);
    assert_int_equal(pop(), 1);
}

/* ---- used ring and notifications ---- */

static void test_vring_push_is_invisible_until_publish(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(5, DATA_GPA, 1, WRITE, 0);
    offer(&g, 5);
    assert_int_equal(pop(), 1);
    assert_false(gw_vhost_vring_publish(&g.vr)); /* nothing pushed */
    gw_vhost_vring_push(&g.vr, 5, 1);
    assert_int_equal(used_idx(), 0);
    assert_int_equal(used_id(0, 16), 5);
    assert_int_equal(used_len(0, 16), 1);
    assert_true(gw_vhost_vring_publish(&g.vr));
    assert_int_equal(used_idx(), 1);
    assert_false(gw_vhost_vring_publish(&g.vr));
}

static void test_vring_no_interrupt_flag_suppresses(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, DATA_GPA, 1, WRITE, 0);
    put(AVAIL_GPA, GW_VHOST_VRING_AVAIL_F_NO_INTERRUPT, 2);
    offer(&g, 0);
    assert_int_equal(pop(), 1);
    gw_vhost_vring_push(&g.vr, 0, 1);
    assert_false(gw_vhost_vring_publish(&g.vr));
    assert_int_equal(used_idx(), 1);
}

static void test_vring_need_event_cases(void **state)
{
    /* published entries old..new-1; notify when event is among them */
    assert_true(gw_vhost_vring_need_event(3, 5, 3));
    assert_true(gw_vhost_vring_need_event(4, 5, 3));
    assert_false(gw_vhost_vring_need_event(5, 5, 3));
    assert_false(gw_vhost_vring_need_event(2, 5, 3));
    assert_false(gw_vhost_vring_need_event(7, 7, 7));
    /* across the 16-bit wrap */
    assert_true(gw_vhost_vring_need_event(0xfffe, 2, 0xfffe));
    assert_true(gw_vhost_vring_need_event(0xffff, 2, 0xfffe));
    assert_true(gw_vhost_vring_need_event(0, 2, 0xfffe));
    assert_true(gw_vhost_vring_need_event(1, 2, 0xfffe));
    assert_false(gw_vhost_vring_need_event(2, 2, 0xfffe));
    assert_false(gw_vhost_vring_need_event(0xfffd, 2, 0xfffe));
}

/* Pops and returns one single-buffer chain, publishes, returns the verdict. */
static bool round_trip(void)
{
    desc(0, DATA_GPA, 1, WRITE, 0);
    offer(&g, 0);
    assert_int_equal(pop(), 1);
    gw_vhost_vring_push(&g.vr, 0, 1);
    return gw_vhost_vring_publish(&g.vr);
}

static void test_vring_event_idx_decisions(void **state)
{
    uint64_t used_event = AVAIL_GPA + 4 + 2 * 16;

    assert_int_equal(guest_init(&g, 16, true), 0);
    put(used_event, 100, 2);
    assert_true(round_trip()); /* first decision always notifies */
    put(used_event, 5, 2);
    assert_false(round_trip()); /* used 1 -> 2: 5 not crossed */
    put(used_event, 2, 2);
    assert_true(round_trip()); /* used 2 -> 3 crosses 2 */
    assert_false(round_trip()); /* 3 -> 4, event stays 2 */
    /* a batch: 4 -> 7 crosses 5 */
    put(used_event, 5, 2);
    for (int i = 0; i < 3; i++) {
        desc(0, DATA_GPA, 1, WRITE, 0);
        offer(&g, 0);
        assert_int_equal(pop(), 1);
        gw_vhost_vring_push(&g.vr, 0, 1);
    }
    assert_true(gw_vhost_vring_publish(&g.vr));
    assert_int_equal(used_idx(), 7);
    /* set_base forgets the last decision: notify again */
    gw_vhost_vring_set_base(&g.vr, g.vr.last_avail_idx);
    put(used_event, 1000, 2);
    assert_true(round_trip());
}

static void test_vring_event_idx_wraps(void **state)
{
    uint64_t used_event = AVAIL_GPA + 4 + 2 * 8;

    assert_int_equal(guest_mem(&g), 0);
    g.num = 8;
    put(USED_GPA + 2, 0xfffe, 2);
    gw_vhost_vring_init(&g.vr);
    gw_vhost_vring_set_base(&g.vr, 0xfffe);
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, 8, uaddr_of(DESC_GPA), uaddr_of(AVAIL_GPA),
                                          uaddr_of(USED_GPA), true),
                     0);
    set_avail_idx(&g, 0xfffe);
    put(used_event, 0xfffe, 2);
    assert_true(round_trip()); /* first */
    put(used_event, 0, 2);
    assert_false(round_trip()); /* 0xffff -> 0: event 0 not yet */
    assert_true(round_trip());  /* 0 -> 1 crosses 0 */
    assert_int_equal(used_idx(), 1);
    assert_int_equal(used_id(0, 8), 0);
}

static void test_vring_avail_event_follows_pop(void **state)
{
    uint64_t avail_event = USED_GPA + 4 + 8 * 16;

    assert_int_equal(guest_init(&g, 16, true), 0);
    desc(0, DATA_GPA, 1, WRITE, 0);
    offer(&g, 0);
    offer(&g, 0);
    assert_int_equal(pop(), 1);
    assert_int_equal(get(avail_event, 2), 1);
    put(avail_event, 0, 2);
    /* work still queued: enable_notify says so */
    assert_true(gw_vhost_vring_enable_notify(&g.vr));
    assert_int_equal(get(avail_event, 2), 1);
    assert_int_equal(pop(), 1);
    assert_int_equal(get(avail_event, 2), 2);
    assert_false(gw_vhost_vring_enable_notify(&g.vr));
    gw_vhost_vring_disable_notify(&g.vr); /* no used->flags with EVENT_IDX */
    assert_int_equal(get(USED_GPA, 2), 0);
}

static void test_vring_enable_notify_without_event_idx(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    gw_vhost_vring_disable_notify(&g.vr);
    assert_int_equal(get(USED_GPA, 2), GW_VHOST_VRING_USED_F_NO_NOTIFY);
    assert_false(gw_vhost_vring_enable_notify(&g.vr));
    assert_int_equal(get(USED_GPA, 2), 0);
    desc(0, DATA_GPA, 1, WRITE, 0);
    offer(&g, 0);
    assert_true(gw_vhost_vring_enable_notify(&g.vr));
}

/* ---- chain byte streams ---- */

/* A chain with readable pieces of 3, 5 (across the region boundary: 2+3) and
 * writable pieces of 4 and 2. */
static void stream_chain(void)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(0, DATA_GPA, 3, NEXT, 1);
    desc(1, RAM1_GPA - 2, 5, NEXT, 2);
    desc(2, DATA_GPA + 0x100, 4, NEXT | WRITE, 3);
    desc(3, DATA_GPA + 0x200, 2, WRITE, 0);
    for (unsigned i = 0; i < 3; i++)
        *host(DATA_GPA + i) = (uint8_t)('a' + i);
    for (unsigned i = 0; i < 5; i++)
        *host(RAM1_GPA - 2 + i) = (uint8_t)('d' + i);
    offer(&g, 0);
    assert_int_equal(pop(), 1);
    assert_int_equal(g.c.error, 0);
    assert_int_equal(g.c.n_out, 3);
    assert_int_equal(g.c.n_in, 2);
}

static void test_chain_copy_out_boundaries(void **state)
{
    char buf[16] = {0};

    stream_chain();
    assert_int_equal(gw_vhost_chain_copy_out(&g.c, 0, buf, sizeof(buf)), 8);
    assert_memory_equal(buf, "abcdefgh", 8);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(gw_vhost_chain_copy_out(&g.c, 2, buf, 4), 4);
    assert_memory_equal(buf, "cdef", 4);
    assert_int_equal(gw_vhost_chain_copy_out(&g.c, 7, buf, 4), 1);
    assert_int_equal(buf[0], 'h');
    assert_int_equal(gw_vhost_chain_copy_out(&g.c, 8, buf, 4), 0);
    assert_int_equal(gw_vhost_chain_copy_out(&g.c, SIZE_MAX, buf, 4), 0);
}

static void test_chain_copy_in_boundaries(void **state)
{
    stream_chain();
    assert_int_equal(gw_vhost_chain_copy_in(&g.c, 3, "XYZ", 3), 3);
    assert_int_equal(*host(DATA_GPA + 0x103), 'X');
    assert_int_equal(*host(DATA_GPA + 0x200), 'Y');
    assert_int_equal(*host(DATA_GPA + 0x201), 'Z');
    assert_int_equal(*host(DATA_GPA + 0x202), 0); /* not past the chain */
    assert_int_equal(gw_vhost_chain_copy_in(&g.c, 5, "123", 3), 1);
    assert_int_equal(*host(DATA_GPA + 0x201), '1');
    assert_int_equal(gw_vhost_chain_copy_in(&g.c, 6, "1", 1), 0);
}

static void test_chain_slice(void **state)
{
    struct iovec out[4];
    unsigned n = 0;

    stream_chain();
    assert_int_equal(gw_vhost_chain_slice(&g.c, false, 2, 4, out, 4, &n), 0);
    assert_int_equal(n, 3);
    assert_ptr_equal(out[0].iov_base, host(DATA_GPA + 2));
    assert_int_equal(out[0].iov_len, 1);
    assert_int_equal(out[1].iov_len, 2);
    assert_int_equal(out[2].iov_len, 1);
    assert_int_equal(gw_vhost_chain_slice(&g.c, true, 0, 5, out, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[1].iov_len, 1);
    assert_int_equal(gw_vhost_chain_slice(&g.c, true, 0, 0, out, 4, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(gw_vhost_chain_slice(&g.c, true, 2, 5, out, 4, &n), -EINVAL);
    assert_int_equal(gw_vhost_chain_slice(&g.c, false, 9, 0, out, 4, &n), -EINVAL);
    assert_int_equal(gw_vhost_chain_slice(&g.c, false, 0, 8, out, 2, &n), -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vring_setup_rejects_bad_num),
        cmocka_unit_test(test_vring_setup_rejects_misaligned_rings),
        cmocka_unit_test(test_vring_setup_rejects_rings_outside_memory),
        cmocka_unit_test(test_vring_set_base_and_used_idx_from_ring),
        cmocka_unit_test(test_vring_resetup_keeps_inflight),
        cmocka_unit_test(test_vring_pop_empty_returns_zero),
        cmocka_unit_test(test_vring_pop_direct_chain),
        cmocka_unit_test(test_vring_pop_buffer_across_adjacent_regions),
        cmocka_unit_test(test_vring_pop_indirect_chain),
        cmocka_unit_test(test_vring_pop_indirect_table_across_regions),
        cmocka_unit_test(test_vring_pop_wraps_avail_idx),
        cmocka_unit_test(test_vring_buffer_just_past_memory_is_efault),
        cmocka_unit_test(test_vring_buffer_wrapping_address_is_efault),
        cmocka_unit_test(test_vring_status_outside_memory_is_not_located),
        cmocka_unit_test(test_vring_direct_loop_is_eloop),
        cmocka_unit_test(test_vring_self_loop_is_eloop),
        cmocka_unit_test(test_vring_indirect_loop_is_eloop),
        cmocka_unit_test(test_vring_next_beyond_queue_is_einval),
        cmocka_unit_test(test_vring_next_beyond_indirect_table_is_einval),
        cmocka_unit_test(test_vring_too_many_segments_is_e2big),
        cmocka_unit_test(test_vring_seg_max_plus_one_is_e2big),
        cmocka_unit_test(test_vring_legal_request_fits),
        cmocka_unit_test(test_vring_zero_length_is_einval),
        cmocka_unit_test(test_vring_zero_length_last_writable_has_no_status),
        cmocka_unit_test(test_vring_readable_after_writable_is_einval),
        cmocka_unit_test(test_vring_nested_indirect_is_einval),
        cmocka_unit_test(test_vring_nested_indirect_then_status_is_located),
        cmocka_unit_test(test_vring_indirect_inside_direct_chain_is_einval),
        cmocka_unit_test(test_vring_indirect_with_next_is_einval),
        cmocka_unit_test(test_vring_bad_indirect_table_size_is_einval),
        cmocka_unit_test(test_vring_indirect_table_outside_memory_is_efault),
        cmocka_unit_test(test_vring_avail_idx_jump_is_eproto),
        cmocka_unit_test(test_vring_head_beyond_queue_is_eproto),
        cmocka_unit_test(test_vring_more_inflight_than_num_is_eproto),
        cmocka_unit_test(test_vring_push_is_invisible_until_publish),
        cmocka_unit_test(test_vring_no_interrupt_flag_suppresses),
        cmocka_unit_test(test_vring_need_event_cases),
        cmocka_unit_test(test_vring_event_idx_decisions),
        cmocka_unit_test(test_vring_event_idx_wraps),
        cmocka_unit_test(test_vring_avail_event_follows_pop),
        cmocka_unit_test(test_vring_enable_notify_without_event_idx),
        cmocka_unit_test(test_chain_copy_out_boundaries),
        cmocka_unit_test(test_chain_copy_in_boundaries),
        cmocka_unit_test(test_chain_slice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

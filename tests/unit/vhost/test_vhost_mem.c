/* Unit tests of the vhost guest memory table (gateway/vhost/mem.c): region
 * validation, user-address and guest-physical translation at every edge
 * (just inside, just past, wrapping near UINT64_MAX, across two adjacent
 * regions), and real fd mappings with an mmap offset. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vhost_guest.h"

static void test_mem_add_rejects_bad_regions(void **state)
{
    struct gw_vhost_mem m = {0};
    static uint8_t buf[64];

    assert_int_equal(gw_vhost_mem_add_host(&m, 0, 0, 0, buf), -EINVAL);
    assert_int_equal(gw_vhost_mem_add_host(&m, UINT64_MAX - 10, 64, 0, buf), -EINVAL);
    assert_int_equal(gw_vhost_mem_add_host(&m, 0, 64, UINT64_MAX - 10, buf), -EINVAL);
    assert_int_equal(gw_vhost_mem_add_host(&m, 0x1000, 64, 0x5000, buf), 0);
    /* overlap in gpa, then in uaddr, each by one byte */
    assert_int_equal(gw_vhost_mem_add_host(&m, 0x1000 + 63, 64, 0x9000, buf), -EINVAL);
    assert_int_equal(gw_vhost_mem_add_host(&m, 0x0fc1, 64, 0x9000, buf), -EINVAL);
    assert_int_equal(gw_vhost_mem_add_host(&m, 0x2000, 64, 0x5000 + 63, buf), -EINVAL);
    /* touching is fine */
    assert_int_equal(gw_vhost_mem_add_host(&m, 0x1040, 64, 0x5040, buf), 0);
    assert_int_equal(m.n, 2);
    gw_vhost_mem_clear(&m);
    assert_int_equal(m.n, 0);
}

static void test_mem_add_full_table_is_e2big(void **state)
{
    struct gw_vhost_mem m = {0};
    static uint8_t buf[16];

    for (unsigned i = 0; i < GW_VHOST_REGIONS_MAX; i++)
        assert_int_equal(gw_vhost_mem_add_host(&m, 0x1000ull * i, 16, 0x100000ull * i, buf), 0);
    assert_int_equal(gw_vhost_mem_add_host(&m, 0x1000000, 16, 0x1000000, buf), -E2BIG);
    assert_int_equal(m.n, GW_VHOST_REGIONS_MAX);
}

static void test_mem_uaddr_edges(void **state)
{
    struct guest g;

    assert_int_equal(guest_mem(&g), 0);
    assert_ptr_equal(gw_vhost_mem_uaddr(&g.m, RAM0_UADDR, RAM0_SIZE), ram0);
    assert_ptr_equal(gw_vhost_mem_uaddr(&g.m, RAM0_UADDR + RAM0_SIZE - 1, 1),
                     ram0 + RAM0_SIZE - 1);
    assert_ptr_equal(gw_vhost_mem_uaddr(&g.m, RAM1_UADDR + 8, 0), ram1 + 8);
    assert_null(gw_vhost_mem_uaddr(&g.m, RAM0_UADDR + RAM0_SIZE - 1, 2)); /* one byte past */
    assert_null(gw_vhost_mem_uaddr(&g.m, RAM0_UADDR + RAM0_SIZE, 1));
    assert_null(gw_vhost_mem_uaddr(&g.m, RAM0_UADDR - 1, 1));
    assert_null(gw_vhost_mem_uaddr(&g.m, RAM0_UADDR + 16, UINT64_MAX)); /* wraps */
    assert_null(gw_vhost_mem_uaddr(&g.m, UINT64_MAX, 2));
}

static void test_mem_gpa_iov_one_region(void **state)
{
    struct guest g;
    struct iovec iov[4];
    unsigned n = 99;

    assert_int_equal(guest_mem(&g), 0);
    assert_int_equal(gw_vhost_mem_gpa_iov(&g.m, RAM0_GPA + 100, 200, iov, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_ptr_equal(iov[0].iov_base, ram0 + 100);
    assert_int_equal(iov[0].iov_len, 200);
    assert_int_equal(gw_vhost_mem_gpa_iov(&g.m, RAM0_GPA + 100, 0, iov, 4, &n), 0);
    assert_int_equal(n, 0);
    assert_ptr_equal(gw_vhost_mem_gpa(&g.m, RAM1_GPA + RAM1_SIZE - 4, 4), ram1 + RAM1_SIZE - 4);
}

static void test_mem_gpa_iov_splits_adjacent_regions(void **state)
{
    struct guest g;
    struct iovec iov[4];
    unsigned n = 0;

    assert_int_equal(guest_mem(&g), 0);
    assert_int_equal(gw_vhost_mem_gpa_iov(&g.m, RAM1_GPA - 10, 30, iov, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_ptr_equal(iov[0].iov_base, ram0 + RAM0_SIZE - 10);
    assert_int_equal(iov[0].iov_len, 10);
    assert_ptr_equal(iov[1].iov_base, ram1);
    assert_int_equal(iov[1].iov_len, 20);
    /* one piece allowed: too many */
    n = 77;
    assert_int_equal(gw_vhost_mem_gpa_iov(&g.m, RAM1_GPA - 10, 30, iov, 1, &n), -E2BIG);
    assert_int_equal(n, 77);
    /* a single-region lookup refuses the crossing */
    assert_null(gw_vhost_mem_gpa(&g.m, RAM1_GPA - 1, 2));
}

static void test_mem_gpa_iov_unmapped_is_efault(void **state)
{
    struct guest g;
    struct iovec iov[4];
    unsigned n = 5;

    assert_int_equal(guest_mem(&g), 0);
    assert_int_equal(gw_vhost_mem_gpa_iov(&g.m, RAM_END - 4, 5, iov, 4, &n), -EFAULT);
    assert_int_equal(gw_vhost_mem_gpa_iov(&g.m, RAM_END, 1, iov, 4, &n), -EFAULT);
    assert_int_equal(gw_vhost_mem_gpa_iov(&g.m, RAM0_GPA - 1, 2, iov, 4, &n), -EFAULT);
    assert_int_equal(gw_vhost_mem_gpa_iov(&g.m, RAM0_GPA, UINT64_MAX, iov, 4, &n), -EFAULT);
    assert_int_equal(gw_vhost_mem_gpa_iov(&g.m, UINT64_MAX - 1, 4, iov, 4, &n), -EFAULT);
    assert_int_equal(n, 5);
    assert_null(gw_vhost_mem_gpa(&g.m, UINT64_MAX, 1));
}

static void test_mem_read_across_regions(void **state)
{
    struct guest g;
    uint8_t out[8];

    assert_int_equal(guest_mem(&g), 0);
    for (unsigned i = 0; i < 8; i++)
        *host(RAM1_GPA - 4 + i) = (uint8_t)(0xa0 + i);
    assert_int_equal(gw_vhost_mem_read(&g.m, RAM1_GPA - 4, out, 8), 0);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(out[i], 0xa0 + i);
    assert_int_equal(gw_vhost_mem_read(&g.m, RAM_END - 4, out, 8), -EFAULT);
}

static void test_mem_add_maps_fd_at_offset(void **state)
{
    struct gw_vhost_mem m = {0};
    long page = sysconf(_SC_PAGESIZE);
    int fd = memfd_create("vhost-test", 0);
    uint8_t byte = 0;

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 3 * page), 0);
    assert_int_equal(gw_vhost_mem_add(&m, fd, 0x40000, (uint64_t)page, 0x7000000, (uint64_t)page),
                     0);
    uint8_t *p = gw_vhost_mem_uaddr(&m, 0x7000000 + 5, 1);
    assert_non_null(p);
    assert_ptr_equal(gw_vhost_mem_gpa(&m, 0x40000 + 5, 1), p);
    *p = 0x5a;
    assert_int_equal(pread(fd, &byte, 1, page + 5), 1); /* the fd's bytes at mmap_offset */
    assert_int_equal(byte, 0x5a);
    assert_non_null(m.r[0].map);
    assert_int_equal(m.r[0].map_len, 2 * page);
    assert_int_equal(gw_vhost_mem_remove(&m, 0x40000, 1), -ENOENT);
    assert_int_equal(gw_vhost_mem_remove(&m, 0x40000, (uint64_t)page), 0);
    assert_int_equal(m.n, 0);
    assert_int_equal(gw_vhost_mem_add(&m, fd, 0x40000, (uint64_t)page, 0x7000000, 0), 0);
    gw_vhost_mem_clear(&m);
    assert_int_equal(m.n, 0);
    close(fd);
}

static void test_mem_add_errors_from_mmap_and_offset(void **state)
{
    struct gw_vhost_mem m = {0};

    assert_int_equal(gw_vhost_mem_add(&m, -1, 0, 4096, 0, 0), -EBADF);
    assert_int_equal(gw_vhost_mem_add(&m, 0, 0, 4096, 0, UINT64_MAX - 100), -EINVAL);
    assert_int_equal(gw_vhost_mem_add(&m, 0, 0, 0, 0, 0), -EINVAL);
    assert_int_equal(m.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem_add_rejects_bad_regions),
        cmocka_unit_test(test_mem_add_full_table_is_e2big),
        cmocka_unit_test(test_mem_uaddr_edges),
        cmocka_unit_test(test_mem_gpa_iov_one_region),
        cmocka_unit_test(test_mem_gpa_iov_splits_adjacent_regions),
        cmocka_unit_test(test_mem_gpa_iov_unmapped_is_efault),
        cmocka_unit_test(test_mem_read_across_regions),
        cmocka_unit_test(test_mem_add_maps_fd_at_offset),
        cmocka_unit_test(test_mem_add_errors_from_mmap_and_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

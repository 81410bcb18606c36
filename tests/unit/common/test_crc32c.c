/* crc32c: both implementations against the standard check values (RFC 3720
 * B.4 and the "123456789" check), incremental use, and agreement on random
 * buffers of every alignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn fn)
{
    uint8_t buf[32];

    assert_int_equal(fn(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(fn(0, "", 0), 0u);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(fn(0, buf, 32), 0x8a9136aau);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(fn(0, buf, 32), 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(fn(0, buf, 32), 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(fn(0, buf, 32), 0x113fdb5cu);
}

static void test_crc32c_sw_vectors(void **state)
{
    (void)state;
    check_vectors(cairn__crc32c_sw);
}

static void test_crc32c_hw_vectors(void **state)
{
    (void)state;
    if (!cairn__crc32c_hw_available())
        skip();
    check_vectors(cairn__crc32c_hw);
}

static void test_crc32c_dispatch_vectors(void **state)
{
    (void)state;
    check_vectors(cairn_crc32c);
}

static void test_crc32c_incremental_equals_whole(void **state)
{
    (void)state;
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    uint32_t whole = cairn_crc32c(0, buf, sizeof(buf));
    for (size_t split = 0; split <= sizeof(buf); split += 37) {
        uint32_t c = cairn_crc32c(0, buf, split);
        c = cairn_crc32c(c, buf + split, sizeof(buf) - split);
        assert_int_equal(c, whole);
    }
}

static void test_crc32c_hw_and_sw_agree_on_all_alignments(void **state)
{
    (void)state;
    if (!cairn__crc32c_hw_available())
        skip();
    uint8_t buf[4096 + 16];
    srand(12345);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)rand();
    for (size_t off = 0; off < 16; off++)
        for (size_t len = 0; len < 300; len += 13)
            assert_int_equal(cairn__crc32c_hw(0, buf + off, len),
                             cairn__crc32c_sw(0, buf + off, len));
    assert_int_equal(cairn__crc32c_hw(0, buf, 4096), cairn__crc32c_sw(0, buf, 4096));
}

/* Lengths around the interleaved paths' block sizes (3 x 1360, 3 x 8192)
 * and random start values: the interleaved joins must match the table
 * version exactly. */
static void test_crc32c_hw_interleaved_matches_sw(void **state)
{
    (void)state;
    if (!cairn__crc32c_hw_available())
        skip();
    size_t cap = 3 * 8192 * 3 + 64;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < cap; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    static const size_t lens[] = {4079, 4080, 4081, 4096, 8160, 12240, 24575, 24576,
                                  24577, 28656, 49152, 53000, 73728};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
        for (size_t off = 0; off < 16; off += 5) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint32_t start = (uint32_t)x;
            assert_int_equal(cairn__crc32c_hw(start, buf + off, lens[k]),
                             cairn__crc32c_sw(start, buf + off, lens[k]));
        }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_sw_vectors),
        cmocka_unit_test(test_crc32c_hw_vectors),
        cmocka_unit_test(test_crc32c_dispatch_vectors),
        cmocka_unit_test(test_crc32c_incremental_equals_whole),
        cmocka_unit_test(test_crc32c_hw_and_sw_agree_on_all_alignments),
        cmocka_unit_test(test_crc32c_hw_interleaved_matches_sw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

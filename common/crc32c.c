/* CRC-32C: SSE4.2 and table implementations, chosen once at first use. */
#include "common/crc32c.h"

#include <string.h>

#define POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t table[8][256];
static int table_ready;

static void build_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[k][n] = c;
        }
    }
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t cairn__crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE))
        build_table();
    crc = ~crc;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
              table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

/* The crc32 instruction has a latency of 3 cycles but a throughput of 1
 * per cycle, so one dependency chain runs at a third of the CPU's speed.
 * Long buffers are cut into three blocks of BLK bytes whose CRCs run as
 * three interleaved chains, then joined: the CRC register is affine in its
 * start value, so with a = R(c, A), b = R(0, B), d = R(0, C),
 *   R(c, A||B||C) = Z(Z(a) ^ b) ^ d
 * where Z(x) = R(x, BLK zero bytes) is linear in x and applied with four
 * byte-indexed tables. Two block sizes: 8 KiB for large buffers, 1360 bytes
 * so that a 4 KiB block (the store's checksum unit) runs interleaved too. */
#define BLK_LARGE 8192u
#define BLK_SMALL 1360u

struct zeros_op {
    uint32_t t[4][256]; /* t[k][v] = Z(v << 8k) */
};

static struct zeros_op zeros_large, zeros_small;
static int zeros_ready;

__attribute__((target("sse4.2"))) static uint32_t crc_serial(uint32_t c, const unsigned char *p,
                                                             size_t len)
{
    uint64_t c64 = c;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = _mm_crc32_u64(c64, w);
        p += 8;
        len -= 8;
    }
    c = (uint32_t)c64;
    while (len--)
        c = _mm_crc32_u8(c, *p++);
    return c;
}

/* Z is linear: each table entry is the XOR of Z over the entry's bits. */
__attribute__((target("sse4.2"))) static void build_zeros_op(struct zeros_op *z, size_t blk)
{
    static const unsigned char zeros[BLK_LARGE];
    for (int k = 0; k < 4; k++) {
        uint32_t bit[8];
        for (int b = 0; b < 8; b++)
            bit[b] = crc_serial(1u << (8 * k + b), zeros, blk);
        for (uint32_t v = 0; v < 256; v++) {
            uint32_t x = 0;
            for (int b = 0; b < 8; b++)
                if (v & (1u << b))
                    x ^= bit[b];
            z->t[k][v] = x;
        }
    }
}

static inline uint32_t zeros_apply(const struct zeros_op *z, uint32_t x)
{
    return z->t[0][x & 0xff] ^ z->t[1][(x >> 8) & 0xff] ^ z->t[2][(x >> 16) & 0xff] ^
           z->t[3][x >> 24];
}

/* Runs whole groups of three BLK-byte blocks; returns the bytes consumed. */
__attribute__((target("sse4.2"))) static size_t crc_interleaved(uint32_t *crc,
                                                                const unsigned char *p,
                                                                size_t len, size_t blk,
                                                                const struct zeros_op *z)
{
    size_t done = 0;
    uint32_t c = *crc;
    while (len - done >= 3 * blk) {
        const unsigned char *a = p + done, *b = a + blk, *d = b + blk;
        uint64_t ca = c, cb = 0, cd = 0;
        for (size_t i = 0; i < blk; i += 8) {
            uint64_t wa, wb, wd;
            memcpy(&wa, a + i, 8);
            memcpy(&wb, b + i, 8);
            memcpy(&wd, d + i, 8);
            ca = _mm_crc32_u64(ca, wa);
            cb = _mm_crc32_u64(cb, wb);
            cd = _mm_crc32_u64(cd, wd);
        }
        c = zeros_apply(z, zeros_apply(z, (uint32_t)ca) ^ (uint32_t)cb) ^ (uint32_t)cd;
        done += 3 * blk;
    }
    *crc = c;
    return done;
}

__attribute__((target("sse4.2"))) uint32_t cairn__crc32c_hw(uint32_t crc, const void *buf,
                                                            size_t len)
{
    const unsigned char *p = buf;
    uint32_t c = ~crc;

    if (len >= 3 * BLK_SMALL) {
        if (!__atomic_load_n(&zeros_ready, __ATOMIC_ACQUIRE)) {
            /* Racing builders write identical values. */
            build_zeros_op(&zeros_large, BLK_LARGE);
            build_zeros_op(&zeros_small, BLK_SMALL);
            __atomic_store_n(&zeros_ready, 1, __ATOMIC_RELEASE);
        }
        size_t n = crc_interleaved(&c, p, len, BLK_LARGE, &zeros_large);
        n += crc_interleaved(&c, p + n, len - n, BLK_SMALL, &zeros_small);
        p += n;
        len -= n;
    }
    return ~crc_serial(c, p, len);
}

int cairn__crc32c_hw_available(void)
{
    return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t cairn__crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    return cairn__crc32c_sw(crc, buf, len);
}

int cairn__crc32c_hw_available(void)
{
    return 0;
}
#endif

uint32_t cairn_crc32c(uint32_t crc, const void *buf, size_t len)
{
    static int use_hw = -1;
    if (use_hw < 0)
        use_hw = cairn__crc32c_hw_available();
    return use_hw ? cairn__crc32c_hw(crc, buf, len) : cairn__crc32c_sw(crc, buf, len);
}

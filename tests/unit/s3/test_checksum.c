/* S3 digests (gateway/s3/checksum.c): the standard vectors of MD5, SHA-1,
 * SHA-256, CRC32 and CRC32C and their S3 base64 forms, streaming against
 * one-shot, CRC combination at random splits (seed printed; CAIRN_SEED=N
 * replays), and base64 round trips and strict-decode refusals. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gateway/s3/checksum.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const char *hex_of(const uint8_t *d, size_t n)
{
    static char out[2 * GW_S3_CKSUM_RAW_MAX + 1];
    gw_s3_hex(d, n, out);
    return out;
}

static const char *b64_of(const uint8_t *d, size_t n)
{
    static char out[GW_S3_CKSUM_B64_MAX];
    assert_true(gw_s3_base64_encode(d, n, out, sizeof(out)) > 0);
    return out;
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void test_checksum_algo_names(void **state)
{
    assert_int_equal(gw_s3_cksum_algo_parse("CRC32"), GW_S3_CKSUM_CRC32);
    assert_int_equal(gw_s3_cksum_algo_parse("crc32c"), GW_S3_CKSUM_CRC32C);
    assert_int_equal(gw_s3_cksum_algo_parse("Sha1"), GW_S3_CKSUM_SHA1);
    assert_int_equal(gw_s3_cksum_algo_parse("SHA256"), GW_S3_CKSUM_SHA256);
    assert_int_equal(gw_s3_cksum_algo_parse("md5"), GW_S3_CKSUM_NONE);
    assert_int_equal(gw_s3_cksum_algo_parse(""), GW_S3_CKSUM_NONE);
    assert_string_equal(gw_s3_cksum_algo_name(GW_S3_CKSUM_CRC32), "crc32");
    assert_string_equal(gw_s3_cksum_algo_name(GW_S3_CKSUM_CRC32C), "crc32c");
    assert_string_equal(gw_s3_cksum_algo_name(GW_S3_CKSUM_SHA1), "sha1");
    assert_string_equal(gw_s3_cksum_algo_name(GW_S3_CKSUM_SHA256), "sha256");
    assert_int_equal(gw_s3_cksum_algo_size(GW_S3_CKSUM_NONE), 0);
    assert_int_equal(gw_s3_cksum_algo_size(GW_S3_CKSUM_CRC32), 4);
    assert_int_equal(gw_s3_cksum_algo_size(GW_S3_CKSUM_CRC32C), 4);
    assert_int_equal(gw_s3_cksum_algo_size(GW_S3_CKSUM_SHA1), 20);
    assert_int_equal(gw_s3_cksum_algo_size(GW_S3_CKSUM_SHA256), 32);
}

static void test_checksum_vectors(void **state)
{
    uint8_t out[GW_S3_CKSUM_RAW_MAX];

    gw_s3_cksum_compute(GW_S3_CKSUM_CRC32, "123456789", 9, out);
    assert_int_equal(be32(out), 0xCBF43926);
    assert_string_equal(b64_of(out, 4), "y/Q5Jg==");
    gw_s3_cksum_compute(GW_S3_CKSUM_CRC32C, "123456789", 9, out);
    assert_int_equal(be32(out), 0xE3069283);
    assert_string_equal(b64_of(out, 4), "4waSgw==");
    gw_s3_cksum_compute(GW_S3_CKSUM_CRC32, "", 0, out);
    assert_string_equal(b64_of(out, 4), "AAAAAA==");
    gw_s3_cksum_compute(GW_S3_CKSUM_CRC32, "Hello world", 11, out);
    assert_string_equal(b64_of(out, 4), "i9aeUg==");
    gw_s3_cksum_compute(GW_S3_CKSUM_SHA1, "", 0, out);
    assert_string_equal(hex_of(out, 20), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    gw_s3_cksum_compute(GW_S3_CKSUM_SHA1, "abc", 3, out);
    assert_string_equal(hex_of(out, 20), "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_string_equal(b64_of(out, 20), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    gw_s3_cksum_compute(GW_S3_CKSUM_SHA256, "", 0, out);
    assert_string_equal(hex_of(out, 32),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    gw_s3_cksum_compute(GW_S3_CKSUM_SHA256, "abc", 3, out);
    assert_string_equal(hex_of(out, 32),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(b64_of(out, 32), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

static void test_checksum_digests_md5_sha256(void **state)
{
    struct gw_s3_digests *d;
    uint8_t md5[16], sha[32];

    assert_int_equal(
        gw_s3_digests_create(GW_S3_DIGEST_MD5 | GW_S3_DIGEST_SHA256, GW_S3_CKSUM_NONE, &d), 0);
    gw_s3_digests_final(d, md5, sha, NULL);
    assert_string_equal(hex_of(md5, 16), "d41d8cd98f00b204e9800998ecf8427e");
    assert_string_equal(b64_of(md5, 16), "1B2M2Y8AsgTpgAmY7PhCfg==");
    assert_string_equal(hex_of(sha, 32),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    gw_s3_digests_destroy(d);

    assert_int_equal(gw_s3_digests_create(GW_S3_DIGEST_MD5, GW_S3_CKSUM_NONE, &d), 0);
    gw_s3_digests_update(d, "a", 1);
    gw_s3_digests_update(d, "", 0);
    gw_s3_digests_update(d, "bc", 2);
    gw_s3_digests_final(d, md5, NULL, NULL);
    assert_string_equal(hex_of(md5, 16), "900150983cd24fb0d6963f7d28e17f72");
    gw_s3_digests_destroy(d);
    gw_s3_digests_destroy(NULL);
}

/* Every extra algorithm, streamed in random pieces, equals the one-shot
 * digest, alongside MD5 and SHA-256. */
static void test_checksum_incremental(void **state)
{
    static uint8_t data[100000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)rng();
    for (int a = GW_S3_CKSUM_NONE; a <= GW_S3_CKSUM_SHA256; a++) {
        struct gw_s3_digests *d;
        uint8_t md5[16], sha[32], extra[GW_S3_CKSUM_RAW_MAX], want[GW_S3_CKSUM_RAW_MAX];
        assert_int_equal(gw_s3_digests_create(GW_S3_DIGEST_MD5 | GW_S3_DIGEST_SHA256,
                                              (enum gw_s3_cksum_algo)a, &d),
                         0);
        for (size_t off = 0; off < sizeof(data);) {
            size_t n = (size_t)(rng() % 5000);
            if (n > sizeof(data) - off)
                n = sizeof(data) - off;
            gw_s3_digests_update(d, data + off, n);
            off += n;
        }
        gw_s3_digests_final(d, md5, sha, a ? extra : NULL);
        gw_s3_digests_destroy(d);
        gw_s3_cksum_compute(GW_S3_CKSUM_SHA256, data, sizeof(data), want);
        assert_memory_equal(sha, want, 32);
        if (a) {
            gw_s3_cksum_compute((enum gw_s3_cksum_algo)a, data, sizeof(data), want);
            assert_memory_equal(extra, want, gw_s3_cksum_algo_size((enum gw_s3_cksum_algo)a));
        }
    }
}

static void test_checksum_crc_combine(void **state)
{
    static uint8_t data[70000];
    uint8_t whole[GW_S3_CKSUM_RAW_MAX], a[GW_S3_CKSUM_RAW_MAX], b[GW_S3_CKSUM_RAW_MAX];

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)rng();
    for (int round = 0; round < 200; round++) {
        size_t len = (size_t)(rng() % sizeof(data));
        size_t cut = len ? (size_t)(rng() % (len + 1)) : 0;
        if (round == 0)
            cut = 0;
        else if (round == 1)
            cut = len;
        for (int algo = GW_S3_CKSUM_CRC32; algo <= GW_S3_CKSUM_CRC32C; algo++) {
            gw_s3_cksum_compute((enum gw_s3_cksum_algo)algo, data, len, whole);
            gw_s3_cksum_compute((enum gw_s3_cksum_algo)algo, data, cut, a);
            gw_s3_cksum_compute((enum gw_s3_cksum_algo)algo, data + cut, len - cut, b);
            uint32_t got = algo == GW_S3_CKSUM_CRC32
                               ? gw_s3_crc32_combine(be32(a), be32(b), len - cut)
                               : gw_s3_crc32c_combine(be32(a), be32(b), len - cut);
            if (got != be32(whole))
                fail_msg("algo %d len %zu cut %zu: %08x != %08x", algo, len, cut, got, be32(whole));
        }
    }
    /* The check values, from "12345" and "6789". */
    gw_s3_cksum_compute(GW_S3_CKSUM_CRC32, "12345", 5, a);
    gw_s3_cksum_compute(GW_S3_CKSUM_CRC32, "6789", 4, b);
    assert_int_equal(gw_s3_crc32_combine(be32(a), be32(b), 4), 0xCBF43926);
    gw_s3_cksum_compute(GW_S3_CKSUM_CRC32C, "12345", 5, a);
    gw_s3_cksum_compute(GW_S3_CKSUM_CRC32C, "6789", 4, b);
    assert_int_equal(gw_s3_crc32c_combine(be32(a), be32(b), 4), 0xE3069283);
}

/* Lengths past 32 bits: the CRC of 2^k zero bytes by doubling through
 * combine, checked directly at 1 MiB, then 3 * 2^31 zeros reached two ways. */
static void test_checksum_crc_combine_long(void **state)
{
    static uint8_t zeros[1u << 20];
    uint32_t z[2][34]; /* [crc32, crc32c][k]: crc of 2^k zeros */
    uint8_t out[GW_S3_CKSUM_RAW_MAX];

    for (int c = 0; c < 2; c++) {
        enum gw_s3_cksum_algo algo = c ? GW_S3_CKSUM_CRC32C : GW_S3_CKSUM_CRC32;
        uint32_t (*combine)(uint32_t, uint32_t, uint64_t) =
            c ? gw_s3_crc32c_combine : gw_s3_crc32_combine;
        gw_s3_cksum_compute(algo, zeros, 1, out);
        z[c][0] = be32(out);
        for (int k = 1; k < 34; k++)
            z[c][k] = combine(z[c][k - 1], z[c][k - 1], 1ull << (k - 1));
        gw_s3_cksum_compute(algo, zeros, sizeof(zeros), out);
        assert_int_equal(z[c][20], be32(out));
        assert_int_equal(combine(z[c][32], z[c][31], 1ull << 31),
                         combine(z[c][31], z[c][32], 1ull << 32));
        assert_int_equal(combine(z[c][32], z[c][32], 1ull << 32), z[c][33]);
        assert_int_equal(combine(z[c][5], 0, 0), z[c][5]);
    }
}

static void test_checksum_base64_round_trip(void **state)
{
    uint8_t data[64] = {0}, back[64];
    char text[100];

    for (size_t len = 0; len <= sizeof(data); len++) {
        for (size_t i = 0; i < len; i++)
            data[i] = (uint8_t)rng();
        int n = gw_s3_base64_encode(data, len, text, sizeof(text));
        assert_int_equal(n, (int)((len + 2) / 3 * 4));
        assert_int_equal(strlen(text), (size_t)n);
        assert_int_equal(gw_s3_base64_decode(text, back, sizeof(back)), (int)len);
        assert_memory_equal(back, data, len);
        if (len > 0)
            assert_int_equal(gw_s3_base64_decode(text, back, len - 1), -ENOSPC);
        assert_int_equal(gw_s3_base64_encode(data, len, text, (size_t)n), -ENOSPC);
    }
    assert_int_equal(gw_s3_base64_encode("foobar", 6, text, sizeof(text)), 8);
    assert_string_equal(text, "Zm9vYmFy");
    assert_int_equal(gw_s3_base64_encode("fo", 2, text, sizeof(text)), 4);
    assert_string_equal(text, "Zm8=");
    assert_int_equal(gw_s3_base64_encode("f", 1, text, sizeof(text)), 4);
    assert_string_equal(text, "Zg==");
    assert_int_equal(gw_s3_base64_encode("", 0, text, 1), 0);
    assert_string_equal(text, "");
    assert_int_equal(gw_s3_base64_decode("", back, 0), 0);
    assert_int_equal(gw_s3_base64_decode("+/+/", back, sizeof(back)), 3);
    assert_memory_equal(back, "\xfb\xff\xbf", 3);
}

static void test_checksum_base64_strict(void **state)
{
    uint8_t out[16];
    const char *bad[] = {
        "Zg",       /* no padding */
        "Zg=",      /* short padding */
        "Zg===",    /* too much */
        "Z===",     /* three pads */
        "Zm8",      /* no padding */
        "Zh==",     /* nonzero dropped bits */
        "Zm9=",     /* nonzero dropped bits */
        "Zg==Zg==", /* padding inside */
        "Z=g=",     /* pad then data */
        "Zm 8=",    /* whitespace */
        "Zm8=\n",   /* newline */
        "Zm-_",     /* URL alphabet */
        "====",     /* only padding */
        "Zm8*",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = gw_s3_base64_decode(bad[i], out, sizeof(out));
        if (rc != -EINVAL)
            fail_msg("\"%s\": %d", bad[i], rc);
    }
}

static void test_checksum_hex(void **state)
{
    char out[9];
    gw_s3_hex("\x00\x9f\xa0\xff", 4, out);
    assert_string_equal(out, "009fa0ff");
    gw_s3_hex("", 0, out);
    assert_string_equal(out, "");
}

int main(void)
{
    const char *s = getenv("CAIRN_SEED");
    uint64_t seed = s && *s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
    printf("test_checksum: seed %" PRIu64 " (replay: CAIRN_SEED=%" PRIu64 ")\n", seed, seed);
    rng_state = seed;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksum_algo_names),
        cmocka_unit_test(test_checksum_vectors),
        cmocka_unit_test(test_checksum_digests_md5_sha256),
        cmocka_unit_test(test_checksum_incremental),
        cmocka_unit_test(test_checksum_crc_combine),
        cmocka_unit_test(test_checksum_crc_combine_long),
        cmocka_unit_test(test_checksum_base64_round_trip),
        cmocka_unit_test(test_checksum_base64_strict),
        cmocka_unit_test(test_checksum_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

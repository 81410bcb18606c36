/* aws-chunked decoding (gateway/s3/chunked.c): the S3 API Reference's
 * chunked-upload example, fed whole, a byte at a time and at random splits
 * (seed printed; CAIRN_SEED=N replays); tampered data and signatures;
 * malformed framing; the trailer modes, the unsigned one in botocore's
 * framing and the signed one with signatures computed here from their
 * definition with OpenSSL's HMAC, not with chunked.c's code. */
#define _GNU_SOURCE /* memmem */
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
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "gateway/s3/checksum.h"
#include "gateway/s3/chunked.h"

/* S3 API Reference, "Signature Calculations for the Authorization Header:
 * Transferring Payload in Multiple Chunks (Chunked Upload)". */
#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define AWS_DATE "20130524T000000Z"
#define AWS_SCOPE "20130524/us-east-1/s3/aws4_request"
#define AWS_SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define AWS_SIG1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define AWS_SIG2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define AWS_SIG3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
#define AWS_BODY_LEN 66824u /* the example's Content-Length */

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint8_t aws_key[GW_S3_KEY_LEN];

/* ---- body builder ----------------------------------------------------- */

struct body {
    uint8_t *buf;
    size_t len, cap;
};

static void put(struct body *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->buf = realloc(b->buf, b->cap);
        assert_non_null(b->buf);
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void puts_(struct body *b, const char *s)
{
    put(b, s, strlen(s));
}

static void hmac_hex(const char *sts, char out[65])
{
    uint8_t mac[32];
    unsigned n = 0;
    HMAC(EVP_sha256(), aws_key, sizeof(aws_key), (const uint8_t *)sts, strlen(sts), mac, &n);
    assert_int_equal(n, 32);
    gw_s3_hex(mac, 32, out);
}

/* The chunk signature from its definition (S3 API Reference). */
static void chunk_sig(const char *prev, const uint8_t *data, size_t len, char out[65])
{
    uint8_t sha[32];
    char hex[65], sts[512];
    SHA256(data, len, sha);
    gw_s3_hex(sha, 32, hex);
    snprintf(sts, sizeof(sts),
             "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n"
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n%s",
             AWS_DATE, AWS_SCOPE, prev, hex);
    hmac_hex(sts, out);
}

/* A signed body of chunks of @sizes (the last must be 0) over @payload,
 * with the signature chain from @seed; the final signature in @last. */
static void signed_chunks(struct body *b, const uint8_t *payload, const size_t *sizes, size_t n,
                          char last[65])
{
    char prev[65] = AWS_SEED, line[128];
    for (size_t i = 0; i < n; i++) {
        chunk_sig(prev, payload, sizes[i], prev);
        snprintf(line, sizeof(line), "%zx;chunk-signature=%s\r\n", sizes[i], prev);
        puts_(b, line);
        put(b, payload, sizes[i]);
        payload += sizes[i];
        if (sizes[i])
            puts_(b, "\r\n");
    }
    memcpy(last, prev, 65);
}

/* The AWS example: 64 KiB of 'a', then 1 KiB, then the final chunk. */
static struct body aws_body(void)
{
    static uint8_t a[65536 + 1024];
    struct body b = {0};
    memset(a, 'a', sizeof(a));
    puts_(&b, "10000;chunk-signature=" AWS_SIG1 "\r\n");
    put(&b, a, 65536);
    puts_(&b, "\r\n400;chunk-signature=" AWS_SIG2 "\r\n");
    put(&b, a, 1024);
    puts_(&b, "\r\n0;chunk-signature=" AWS_SIG3 "\r\n\r\n");
    assert_int_equal(b.len, AWS_BODY_LEN);
    return b;
}

/* ---- decoding --------------------------------------------------------- */

struct sink {
    struct body out;
    int fail_after; /* emit fails with -EIO once this many calls were made; <0: never */
    int calls;
};

static int emit(void *arg, const void *data, size_t len)
{
    struct sink *s = arg;
    assert_true(len > 0);
    if (s->fail_after >= 0 && s->calls >= s->fail_after)
        return -EIO;
    s->calls++;
    put(&s->out, data, len);
    return 0;
}

/* Feeds @in in pieces (@piece 0: random sizes up to 300, or 1..) to a fresh
 * decoder; returns the last result, with the payload in @s. */
static int decode(struct gw_s3_chunked *d, enum gw_s3_chunked_mode mode, const uint8_t *in,
                  size_t len, size_t piece, struct sink *s, size_t *total_consumed)
{
    int rc = 0;
    size_t off = 0;

    gw_s3_chunked_init(d, mode, aws_key, AWS_DATE, AWS_SCOPE, AWS_SEED);
    *s = (struct sink){.fail_after = -1};
    while (off < len) {
        size_t n = piece ? piece : (size_t)(rng() % 300);
        size_t used = 0;
        if (n > len - off)
            n = len - off;
        rc = gw_s3_chunked_feed(d, in + off, n, &used, emit, s);
        assert_true(used <= n);
        off += used;
        if (rc != 0)
            break;
        assert_int_equal(used, n);
    }
    *total_consumed = off;
    return rc;
}

static void test_chunked_mode_of(void **state)
{
    assert_int_equal(gw_s3_chunked_mode_of("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
                     GW_S3_CHUNKED_SIGNED);
    assert_int_equal(gw_s3_chunked_mode_of("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
                     GW_S3_CHUNKED_SIGNED_TRAILER);
    assert_int_equal(gw_s3_chunked_mode_of("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                     GW_S3_CHUNKED_UNSIGNED_TRAILER);
    assert_int_equal(gw_s3_chunked_mode_of("UNSIGNED-PAYLOAD"), 0);
    assert_int_equal(gw_s3_chunked_mode_of(NULL), 0);
}

static void test_chunked_aws_example(void **state)
{
    struct body b = aws_body();
    const size_t pieces[] = {AWS_BODY_LEN, 1, 0, 0, 0, 7, 4096};
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        struct gw_s3_chunked d;
        struct sink s;
        size_t used;
        assert_int_equal(decode(&d, GW_S3_CHUNKED_SIGNED, b.buf, b.len, pieces[i], &s, &used), 1);
        assert_int_equal(used, AWS_BODY_LEN);
        assert_int_equal(s.out.len, 66560);
        assert_int_equal(d.decoded_bytes, 66560);
        for (size_t k = 0; k < s.out.len; k++)
            if (s.out.buf[k] != 'a')
                fail_msg("payload byte %zu", k);
        assert_int_equal(d.trailer_count, 0);
        /* Completion is sticky and consumes nothing more. */
        assert_int_equal(gw_s3_chunked_feed(&d, "x", 1, &used, emit, &s), 1);
        assert_int_equal(used, 0);
        gw_s3_chunked_fini(&d);
        free(s.out.buf);
    }
    free(b.buf);
}

/* Bytes after the body (the next pipelined request) are not consumed. */
static void test_chunked_consumed_with_extra(void **state)
{
    struct body b = aws_body();
    puts_(&b, "GET / HTTP/1.1\r\n");
    struct gw_s3_chunked d;
    struct sink s = {.fail_after = -1};
    size_t used;
    gw_s3_chunked_init(&d, GW_S3_CHUNKED_SIGNED, aws_key, AWS_DATE, AWS_SCOPE, AWS_SEED);
    assert_int_equal(gw_s3_chunked_feed(&d, b.buf, b.len, &used, emit, &s), 1);
    assert_int_equal(used, AWS_BODY_LEN);
    /* Split just before the end: the first call needs more, the second stops. */
    free(s.out.buf);
    s = (struct sink){.fail_after = -1};
    gw_s3_chunked_init(&d, GW_S3_CHUNKED_SIGNED, aws_key, AWS_DATE, AWS_SCOPE, AWS_SEED);
    assert_int_equal(gw_s3_chunked_feed(&d, b.buf, AWS_BODY_LEN - 1, &used, emit, &s), 0);
    assert_int_equal(used, AWS_BODY_LEN - 1);
    assert_int_equal(gw_s3_chunked_feed(&d, b.buf + AWS_BODY_LEN - 1, 10, &used, emit, &s), 1);
    assert_int_equal(used, 1);
    gw_s3_chunked_fini(&d);
    free(s.out.buf);
    free(b.buf);
}

static void expect_result(enum gw_s3_chunked_mode mode, const uint8_t *in, size_t len, int want)
{
    for (size_t piece = 0; piece <= 1; piece++) {
        struct gw_s3_chunked d;
        struct sink s;
        size_t used;
        int rc = decode(&d, mode, in, len, piece ? 1 : 0, &s, &used);
        if (rc != want)
            fail_msg("want %d got %d (piece %zu): %.*s", want, rc, piece,
                     (int)(len < 80 ? len : 80), (const char *)in);
        /* Errors are sticky. */
        if (rc < 0)
            assert_int_equal(gw_s3_chunked_feed(&d, "0", 1, &used, emit, &s), want);
        gw_s3_chunked_fini(&d);
        free(s.out.buf);
    }
}

static void test_chunked_tampered(void **state)
{
    struct body b = aws_body();
    /* A payload byte in each chunk, and each signature. */
    const size_t spots[] = {88 + 100, 65626 + 86 + 5, 30, 65626 + 30, 65626 + 1112 + 30};
    for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
        uint8_t saved = b.buf[spots[i]];
        b.buf[spots[i]] = saved == 'a' ? 'b' : (saved == '0' ? '1' : '0');
        expect_result(GW_S3_CHUNKED_SIGNED, b.buf, b.len, -EACCES);
        b.buf[spots[i]] = saved;
    }
    /* The AWS body with another seed. */
    struct gw_s3_chunked d;
    struct sink s = {.fail_after = -1};
    size_t used;
    gw_s3_chunked_init(&d, GW_S3_CHUNKED_SIGNED, aws_key, AWS_DATE, AWS_SCOPE, AWS_SIG1);
    assert_int_equal(gw_s3_chunked_feed(&d, b.buf, b.len, &used, emit, &s), -EACCES);
    /* The data went out before the signature failed: the caller discards it. */
    assert_int_equal(s.out.len, 65536);
    free(s.out.buf);
    free(b.buf);
}

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1
#define SIG64 "0000000000000000000000000000000000000000000000000000000000000000"

static void test_chunked_bad_framing(void **state)
{
    const enum gw_s3_chunked_mode u = GW_S3_CHUNKED_UNSIGNED_TRAILER, sg = GW_S3_CHUNKED_SIGNED;
    expect_result(u, S("3\r\nabc\r\n0\r\n\r\n"), 1);
    expect_result(u, S("3\r\nabcX\n0\r\n\r\n"), -EBADMSG); /* no CR after data */
    expect_result(u, S("3\r\nabc\rX0\r\n\r\n"), -EBADMSG); /* no LF after data */
    expect_result(u, S("3\nabc\r\n0\r\n\r\n"), -EBADMSG);  /* bare LF */
    expect_result(u, S("3\r\r\nabc\r\n0\r\n\r\n"), -EBADMSG);
    expect_result(u, S("g\r\n"), -EBADMSG);
    expect_result(u, S("\r\n"), -EBADMSG);
    expect_result(u, S("+3\r\nabc\r\n"), -EBADMSG);
    expect_result(u, S("-3\r\nabc\r\n"), -EBADMSG);
    expect_result(u, S(" 3\r\nabc\r\n"), -EBADMSG);
    expect_result(u, S("3 \r\nabc\r\n"), -EBADMSG);
    expect_result(u, S("3;ext=1\r\nabc\r\n"), -EBADMSG);
    expect_result(u, S("3;chunk-signature=" SIG64 "\r\n"), -EBADMSG);
    expect_result(u, S("4000001\r\n"), -EBADMSG);           /* > 64 MiB */
    expect_result(u, S("4000000\r\n"), 0);                  /* exactly 64 MiB: more needed */
    expect_result(u, S("00000000000000003\r\n"), -EBADMSG); /* 17 digits */
    expect_result(u, S("0000000000000003\r\nabc\r\n0\r\n\r\n"), 1);
    expect_result(u, S("FfFfFfFfFfFfFfFfF\r\n"), -EBADMSG);
    expect_result(sg, S("3\r\nabc\r\n"), -EBADMSG); /* unsigned in signed mode */
    expect_result(sg, S("3;chunk-signature=" SIG64 "0\r\n"), -EBADMSG);
    expect_result(sg, S("3;chunk-signature=000\r\n"), -EBADMSG);
    expect_result(sg,
                  S("3;chunk-signature="
                    "000000000000000000000000000000000000000000000000"
                    "000000000000000A\r\n"),
                  -EBADMSG); /* uppercase hex */
    expect_result(sg, S("3;chunk-signature " SIG64 "\r\n"), -EBADMSG);
    expect_result(sg, S("3;chunk-signature=" SIG64 "\r\nabc\r\n"), -EACCES);
    /* Trailer syntax in the unsigned-trailer mode. */
    expect_result(u, S("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), 1);
    expect_result(u, S("0\r\nno-colon\r\n\r\n"), -EBADMSG);
    expect_result(u, S("0\r\n:value\r\n\r\n"), -EBADMSG);
    expect_result(u, S("0\r\nbad name:v\r\n\r\n"), -EBADMSG);
    expect_result(u, S("0\r\na:1\r\nb:2\r\nc:3\r\nd:4\r\ne:5\r\n\r\n"), -EBADMSG);
    expect_result(u, S("0\r\na:1\r\na:2\r\n\r\n"), -EBADMSG);
    expect_result(u, S("0\r\nx-amz-trailer-signature:" SIG64 "\r\n\r\n"), -EBADMSG);
    expect_result(u, S("0\r\nx:1\n\r\n"), -EBADMSG);
    /* Signed mode: nothing between the final chunk and its empty line. */
    char line[300];
    char sig[65];
    chunk_sig(AWS_SEED, (const uint8_t *)"", 0, sig);
    int n = snprintf(line, sizeof(line), "0;chunk-signature=%s\r\n\r\n", sig);
    expect_result(sg, (const uint8_t *)line, (size_t)n, 1);
    n = snprintf(line, sizeof(line), "0;chunk-signature=%s\r\nx:1\r\n\r\n", sig);
    expect_result(sg, (const uint8_t *)line, (size_t)n, -EBADMSG);
    n = snprintf(line, sizeof(line), "0;chunk-signature=%s\r\n\n", sig);
    expect_result(sg, (const uint8_t *)line, (size_t)n, -EBADMSG);
}

static void test_chunked_line_limits(void **state)
{
    char buf[GW_S3_TRAILER_LINE_MAX + 64];
    const enum gw_s3_chunked_mode u = GW_S3_CHUNKED_UNSIGNED_TRAILER;

    /* A trailer line one byte over GW_S3_TRAILER_LINE_MAX. */
    memset(buf, 'v', sizeof(buf));
    memcpy(buf, "0\r\nname:", 8);
    memcpy(buf + 3 + GW_S3_TRAILER_LINE_MAX + 1, "\r\n\r\n", 4);
    expect_result(u, (const uint8_t *)buf, 3 + GW_S3_TRAILER_LINE_MAX + 5, -EBADMSG);
    /* Value of 159 bytes fits. */
    int n = snprintf(buf, sizeof(buf), "0\r\nname:%0159d\r\n\r\n", 7);
    expect_result(u, (const uint8_t *)buf, (size_t)n, 1);
    n = snprintf(buf, sizeof(buf), "0\r\nname:%0160d\r\n\r\n", 7);
    expect_result(u, (const uint8_t *)buf, (size_t)n, -EBADMSG);
    /* A header line that never ends. */
    memset(buf, '0', sizeof(buf));
    expect_result(u, (const uint8_t *)buf, sizeof(buf), -EBADMSG);
}

/* Stops at the first emit error, and stays stopped. */
static void test_chunked_emit_error(void **state)
{
    struct body b = aws_body();
    struct gw_s3_chunked d;
    struct sink s = {.fail_after = 1};
    size_t used;
    gw_s3_chunked_init(&d, GW_S3_CHUNKED_SIGNED, aws_key, AWS_DATE, AWS_SCOPE, AWS_SEED);
    assert_int_equal(gw_s3_chunked_feed(&d, b.buf, 88 + 1000, &used, emit, &s), 0);
    assert_int_equal(s.calls, 1);
    assert_int_equal(gw_s3_chunked_feed(&d, b.buf + used, b.len - used, &used, emit, &s), -EIO);
    assert_int_equal(s.calls, 1);
    assert_int_equal(gw_s3_chunked_feed(&d, b.buf, 1, &used, emit, &s), -EIO);
    assert_int_equal(used, 0);
    assert_int_equal(s.calls, 1);
    gw_s3_chunked_fini(&d);
    free(s.out.buf);
    free(b.buf);
}

/* botocore's framing (AwsChunkedWrapper, chunk_size 4096) of "Hello world"
 * x 1000 with a CRC32 trailer: 1000, 1000, af8, 0 and
 * "x-amz-checksum-crc32:p7TiXw==". */
static void test_chunked_unsigned_trailer(void **state)
{
    static uint8_t payload[11000];
    struct body b = {0};
    for (size_t i = 0; i < 1000; i++)
        memcpy(payload + 11 * i, "Hello world", 11);
    puts_(&b, "1000\r\n");
    put(&b, payload, 4096);
    puts_(&b, "\r\n1000\r\n");
    put(&b, payload + 4096, 4096);
    puts_(&b, "\r\naf8\r\n");
    put(&b, payload + 8192, 2808);
    puts_(&b, "\r\n0\r\nx-amz-checksum-crc32:p7TiXw==\r\n\r\n");
    assert_int_equal(b.len, 11059); /* botocore's length */
    for (size_t piece = 0; piece < 3; piece++) {
        struct gw_s3_chunked d;
        struct sink s;
        size_t used;
        assert_int_equal(decode(&d, GW_S3_CHUNKED_UNSIGNED_TRAILER, b.buf, b.len, piece, &s, &used),
                         1);
        assert_int_equal(used, b.len);
        assert_int_equal(s.out.len, sizeof(payload));
        assert_memory_equal(s.out.buf, payload, sizeof(payload));
        assert_int_equal(d.trailer_count, 1);
        assert_string_equal(gw_s3_chunked_trailer(&d, "x-amz-checksum-crc32"), "p7TiXw==");
        assert_null(gw_s3_chunked_trailer(&d, "x-amz-checksum-crc32c"));
        uint8_t crc[GW_S3_CKSUM_RAW_MAX];
        char b64[GW_S3_CKSUM_B64_MAX];
        gw_s3_cksum_compute(GW_S3_CKSUM_CRC32, s.out.buf, s.out.len, crc);
        gw_s3_base64_encode(crc, 4, b64, sizeof(b64));
        assert_string_equal(b64, "p7TiXw==");
        gw_s3_chunked_fini(&d);
        free(s.out.buf);
    }
    /* Case and blanks: names lowercased, values trimmed. */
    const char *t = "0\r\nX-Amz-Checksum-CRC32C: \t4waSgw== \r\n\r\n";
    struct gw_s3_chunked d;
    struct sink s;
    size_t used;
    assert_int_equal(
        decode(&d, GW_S3_CHUNKED_UNSIGNED_TRAILER, (const uint8_t *)t, strlen(t), 0, &s, &used), 1);
    assert_string_equal(gw_s3_chunked_trailer(&d, "x-amz-checksum-crc32c"), "4waSgw==");
    free(s.out.buf);
    free(b.buf);
}

/* A signed-trailer body: chunks of @sizes (last 0), @trailers ("name:value"
 * lines as sent), then x-amz-trailer-signature over their canonical form. */
static struct body signed_trailer_body(const uint8_t *payload, const size_t *sizes, size_t n,
                                       const char *trailers, const char *canonical)
{
    struct body b = {0};
    char last[65], hex[65], sts[512], sig[65];
    uint8_t sha[32];
    signed_chunks(&b, payload, sizes, n, last);
    puts_(&b, trailers);
    SHA256((const uint8_t *)canonical, strlen(canonical), sha);
    gw_s3_hex(sha, 32, hex);
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s", AWS_DATE, AWS_SCOPE,
             last, hex);
    hmac_hex(sts, sig);
    puts_(&b, "x-amz-trailer-signature:");
    puts_(&b, sig);
    puts_(&b, "\r\n\r\n");
    return b;
}

static void test_chunked_signed_trailer(void **state)
{
    static uint8_t payload[70000];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)rng();
    const size_t sizes[] = {65536, 4464, 0};
    struct body b = signed_trailer_body(payload, sizes, 3,
                                        "x-amz-checksum-crc32c:sOO8/Q==\r\n"
                                        "X-Amz-Meta-Extra:  two words \r\n",
                                        "x-amz-checksum-crc32c:sOO8/Q==\n"
                                        "x-amz-meta-extra:two words\n");
    for (size_t piece = 0; piece < 4; piece++) {
        struct gw_s3_chunked d;
        struct sink s;
        size_t used;
        assert_int_equal(decode(&d, GW_S3_CHUNKED_SIGNED_TRAILER, b.buf, b.len, piece, &s, &used),
                         1);
        assert_int_equal(used, b.len);
        assert_int_equal(s.out.len, sizeof(payload));
        assert_memory_equal(s.out.buf, payload, sizeof(payload));
        assert_int_equal(d.trailer_count, 2);
        assert_string_equal(gw_s3_chunked_trailer(&d, "x-amz-checksum-crc32c"), "sOO8/Q==");
        assert_string_equal(gw_s3_chunked_trailer(&d, "x-amz-meta-extra"), "two words");
        assert_null(gw_s3_chunked_trailer(&d, "x-amz-trailer-signature"));
        gw_s3_chunked_fini(&d);
        free(s.out.buf);
    }
    /* A tampered trailer value, or a signature over other trailers. */
    uint8_t *v = memmem(b.buf, b.len, "sOO8", 4);
    v[0] = 'x';
    expect_result(GW_S3_CHUNKED_SIGNED_TRAILER, b.buf, b.len, -EACCES);
    free(b.buf);
    b = signed_trailer_body(payload, sizes, 3, "x-amz-checksum-crc32c:sOO8/Q==\r\n",
                            "x-amz-checksum-crc32c:sOO8/Q==");
    expect_result(GW_S3_CHUNKED_SIGNED_TRAILER, b.buf, b.len, -EACCES);
    free(b.buf);
    /* No trailers at all still carries the (signed) trailer signature. */
    b = signed_trailer_body(payload, sizes + 2, 1, "", "");
    expect_result(GW_S3_CHUNKED_SIGNED_TRAILER, b.buf, b.len, 1);
    free(b.buf);
    /* Missing trailer signature; a trailer after it. */
    struct body m = {0};
    char last[65];
    signed_chunks(&m, payload, sizes + 2, 1, last);
    puts_(&m, "x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n");
    expect_result(GW_S3_CHUNKED_SIGNED_TRAILER, m.buf, m.len, -EBADMSG);
    free(m.buf);
    b = signed_trailer_body(payload, sizes + 2, 1, "", "");
    b.len -= 2;
    puts_(&b, "a:b\r\n\r\n");
    expect_result(GW_S3_CHUNKED_SIGNED_TRAILER, b.buf, b.len, -EBADMSG);
    free(b.buf);
}

/* Random chunkings of random payloads decode identically at random splits. */
static void test_chunked_random_splits(void **state)
{
    static uint8_t payload[20000];
    for (int round = 0; round < 30; round++) {
        size_t sizes[16], n = 0, total = 0;
        while (n < 15 && total < sizeof(payload) - 3000) {
            sizes[n] = 1 + (size_t)(rng() % 3000);
            total += sizes[n++];
        }
        sizes[n++] = 0;
        for (size_t i = 0; i < total; i++)
            payload[i] = (uint8_t)rng();
        struct body b = {0};
        char last[65];
        signed_chunks(&b, payload, sizes, n, last);
        puts_(&b, "\r\n");
        struct gw_s3_chunked d;
        struct sink s;
        size_t used;
        assert_int_equal(decode(&d, GW_S3_CHUNKED_SIGNED, b.buf, b.len, 0, &s, &used), 1);
        assert_int_equal(s.out.len, total);
        assert_memory_equal(s.out.buf, payload, total);
        free(s.out.buf);
        free(b.buf);
    }
}

static int setup(void **state)
{
    gw_s3_sigv4_signing_key(AWS_SECRET, "20130524", "us-east-1", "s3", aws_key);
    return 0;
}

int main(void)
{
    const char *s = getenv("CAIRN_SEED");
    uint64_t seed = s && *s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
    printf("test_chunked: seed %" PRIu64 " (replay: CAIRN_SEED=%" PRIu64 ")\n", seed, seed);
    rng_state = seed;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_mode_of),
        cmocka_unit_test(test_chunked_aws_example),
        cmocka_unit_test(test_chunked_consumed_with_extra),
        cmocka_unit_test(test_chunked_tampered),
        cmocka_unit_test(test_chunked_bad_framing),
        cmocka_unit_test(test_chunked_line_limits),
        cmocka_unit_test(test_chunked_emit_error),
        cmocka_unit_test(test_chunked_unsigned_trailer),
        cmocka_unit_test(test_chunked_signed_trailer),
        cmocka_unit_test(test_chunked_random_splits),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

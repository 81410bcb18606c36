/* Frame header encoding and the incremental decoder: round trips, every
 * split of the byte stream, back-to-back frames, each refusal with its errno
 * and reason, limits checked before allocation, sticky errors. Random cases
 * print their seed; replay with `test_frame SEED` or CAIRN_SEED=SEED. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/assert.h"
#include "common/crc32c.h"
#include "protocol/frame.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

static uint64_t seed;
static uint64_t rng_state;

/* splitmix64: small, and the same sequence on every machine. */
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
    return (size_t)(rng() % n);
}

struct wire {
    uint8_t *buf;
    size_t len;
};

/* A complete frame as a peer would send it. */
static struct wire make_frame(uint16_t type, uint64_t txid, const void *meta, uint32_t meta_len,
                              const void *data, uint32_t data_len)
{
    struct proto_frame_header h = {
        .flags = PROTO_FRAME_F_REPLY,
        .type = type,
        .txid = txid,
        .meta_len = meta_len,
        .data_len = data_len,
    };
    struct wire w;
    w.len = PROTO_FRAME_HEADER_LEN + meta_len + data_len + PROTO_FRAME_TRAILER_LEN;
    w.buf = malloc(w.len);
    assert_non_null(w.buf);
    proto_frame_header_encode(&h, w.buf);
    if (meta_len)
        memcpy(w.buf + PROTO_FRAME_HEADER_LEN, meta, meta_len);
    if (data_len)
        memcpy(w.buf + PROTO_FRAME_HEADER_LEN + meta_len, data, data_len);
    uint32_t crc = proto_frame_payload_crc(meta, meta_len, data, data_len);
    uint8_t *t = w.buf + w.len - PROTO_FRAME_TRAILER_LEN;
    t[0] = (uint8_t)crc, t[1] = (uint8_t)(crc >> 8), t[2] = (uint8_t)(crc >> 16);
    t[3] = (uint8_t)(crc >> 24);
    return w;
}

static struct wire make_small_frame(void)
{
    return make_frame(7, 0x1122334455667788ull, "abc", 3, "hello", 5);
}

/* Rewrites the header crc after a test changed header bytes on purpose. */
static void fix_header_crc(uint8_t *hdr)
{
    uint32_t crc = cairn_crc32c(0, hdr, 28);
    for (int i = 0; i < 4; i++)
        hdr[28 + i] = (uint8_t)(crc >> (8 * i));
}

static void check_frame(const struct proto_frame *f, const void *meta, uint32_t meta_len,
                        const void *data, uint32_t data_len)
{
    assert_int_equal(f->hdr.magic, PROTO_FRAME_MAGIC);
    assert_int_equal(f->hdr.version, PROTO_FRAME_VERSION);
    assert_int_equal(f->hdr.meta_len, meta_len);
    assert_int_equal(f->hdr.data_len, data_len);
    if (meta_len)
        assert_memory_equal(f->meta, meta, meta_len);
    else
        assert_null(f->meta);
    if (data_len)
        assert_memory_equal(f->data, data, data_len);
    else
        assert_null(f->data);
}

/* Feeds @w in chunks of the sizes @chunk returns; expects exactly one frame,
 * completed by the last byte. */
static void decode_in_chunks(const struct wire *w, size_t (*chunk)(size_t left),
                             struct proto_frame *f)
{
    struct proto_frame_decoder d;
    bool done = false;
    size_t off = 0;

    proto_frame_decoder_init(&d, NULL);
    while (off < w->len) {
        assert_false(done);
        size_t n = chunk(w->len - off);
        ssize_t r = proto_frame_decoder_feed(&d, w->buf + off, n, f, &done);
        assert_int_equal(r, (ssize_t)n);
        off += n;
    }
    assert_true(done);
    proto_frame_decoder_fini(&d);
}

static size_t chunk_one(size_t left)
{
    (void)left;
    return 1;
}

static size_t chunk_random(size_t left)
{
    return 1 + rng_below(left < 64 ? left : 64);
}

/* Feeds @len bytes that must be refused; returns the error and the reason. */
static int feed_bad(const uint8_t *buf, size_t len, const struct proto_frame_decoder_limits *lim,
                    char *reason, size_t reason_len)
{
    struct proto_frame_decoder d;
    struct proto_frame f;
    bool done = true;

    proto_frame_decoder_init(&d, lim);
    ssize_t r = proto_frame_decoder_feed(&d, buf, len, &f, &done);
    assert_true(r < 0);
    assert_false(done);
    assert_null(d.cur.meta);
    assert_null(d.cur.data);
    snprintf(reason, reason_len, "%s", d.reason);
    proto_frame_decoder_fini(&d);
    return (int)r;
}

static void test_frame_header_roundtrip(void **state)
{
    (void)state;
    struct proto_frame_header h = {
        .magic = 1,
        .version = 9,
        .flags = 0xa5,
        .type = 0xbeef,
        .txid = 0x0102030405060708ull,
        .meta_len = 0x11223344u,
        .data_len = 0x55667788u,
        .reserved = 7,
        .header_crc = 3,
    };
    struct proto_frame_header back;
    uint8_t b[PROTO_FRAME_HEADER_LEN];

    proto_frame_header_encode(&h, b);
    /* Little-endian on the wire, whatever the host. */
    static const uint8_t start[] = {0x43, 0x52, 0x4e, 0x31, 1, 0xa5, 0xef, 0xbe, 8,    7,
                                    6,    5,    4,    3,    2, 1,    0x44, 0x33, 0x22, 0x11};
    assert_memory_equal(b, start, sizeof(start));
    assert_int_equal(proto_frame_header_decode(b, &back), 0);
    assert_int_equal(back.magic, PROTO_FRAME_MAGIC);
    assert_int_equal(back.version, PROTO_FRAME_VERSION);
    assert_int_equal(back.flags, 0xa5);
    assert_int_equal(back.type, 0xbeef);
    assert_int_equal(back.txid, 0x0102030405060708ull);
    assert_int_equal(back.meta_len, 0x11223344u);
    assert_int_equal(back.data_len, 0x55667788u);
    assert_int_equal(back.reserved, 0);
    assert_int_equal(back.header_crc, cairn_crc32c(0, b, 28));
}

static void test_frame_header_decode_errors_leave_output_untouched(void **state)
{
    (void)state;
    struct proto_frame_header h = {.type = 1}, out;
    uint8_t good[PROTO_FRAME_HEADER_LEN], b[PROTO_FRAME_HEADER_LEN];
    proto_frame_header_encode(&h, good);

    memcpy(b, good, sizeof(b));
    b[0] ^= 1;
    memset(&out, 0x5a, sizeof(out));
    assert_int_equal(proto_frame_header_decode(b, &out), -EBADMSG);
    assert_int_equal(out.type, 0x5a5a);

    memcpy(b, good, sizeof(b));
    b[4] = 2;
    fix_header_crc(b);
    assert_int_equal(proto_frame_header_decode(b, &out), -EPROTO);

    memcpy(b, good, sizeof(b));
    b[24] = 1;
    fix_header_crc(b);
    assert_int_equal(proto_frame_header_decode(b, &out), -EPROTO);

    memcpy(b, good, sizeof(b));
    b[30] ^= 0x10;
    assert_int_equal(proto_frame_header_decode(b, &out), -EBADMSG);
    assert_int_equal(out.type, 0x5a5a);
}

static void test_frame_roundtrip_empty_and_nonempty_sections(void **state)
{
    (void)state;
    static const char meta[] = "metadata bytes";
    static const char data[] = "raw data payload, never protobuf";
    for (int m = 0; m < 2; m++) {
        for (int dd = 0; dd < 2; dd++) {
            uint32_t ml = m ? (uint32_t)sizeof(meta) : 0, dl = dd ? (uint32_t)sizeof(data) : 0;
            struct wire w = make_frame(42, 99, meta, ml, data, dl);
            struct proto_frame_decoder d;
            struct proto_frame f;
            bool done = false;

            proto_frame_decoder_init(&d, NULL);
            assert_int_equal(proto_frame_decoder_feed(&d, w.buf, w.len, &f, &done), (ssize_t)w.len);
            assert_true(done);
            check_frame(&f, meta, ml, data, dl);
            assert_int_equal(f.hdr.type, 42);
            assert_int_equal(f.hdr.txid, 99);
            assert_int_equal(f.hdr.flags, PROTO_FRAME_F_REPLY);
            proto_frame_free(&f);
            proto_frame_decoder_fini(&d);
            free(w.buf);
        }
    }
}

static void test_frame_every_split_point(void **state)
{
    (void)state;
    struct wire w = make_frame(1, 2, "mm", 2, "ddd", 3);
    for (size_t split = 0; split <= w.len; split++) {
        struct proto_frame_decoder d;
        struct proto_frame f;
        bool done = false;

        proto_frame_decoder_init(&d, NULL);
        assert_int_equal(proto_frame_decoder_feed(&d, w.buf, split, &f, &done), (ssize_t)split);
        assert_int_equal(done, split == w.len);
        if (!done) {
            assert_int_equal(proto_frame_decoder_feed(&d, w.buf + split, w.len - split, &f, &done),
                             (ssize_t)(w.len - split));
            assert_true(done);
        }
        check_frame(&f, "mm", 2, "ddd", 3);
        proto_frame_free(&f);
        proto_frame_decoder_fini(&d);
    }
    free(w.buf);
}

static void test_frame_byte_by_byte(void **state)
{
    (void)state;
    struct wire w = make_frame(1, 2, "meta", 4, "data!", 5);
    struct proto_frame f;
    decode_in_chunks(&w, chunk_one, &f);
    check_frame(&f, "meta", 4, "data!", 5);
    proto_frame_free(&f);
    free(w.buf);
}

#define RANDOM_META_MAX 300u
#define RANDOM_DATA_MAX 3000u

/* A frame of random type, txid, section lengths and bytes; the sections go
 * to @meta and @data (RANDOM_*_MAX bytes) for checking. */
static struct wire random_frame(uint8_t *meta, uint32_t *ml, uint8_t *data, uint32_t *dl)
{
    *ml = (uint32_t)rng_below(RANDOM_META_MAX + 1);
    *dl = (uint32_t)rng_below(RANDOM_DATA_MAX + 1);
    for (uint32_t i = 0; i < *ml; i++)
        meta[i] = (uint8_t)rng();
    for (uint32_t i = 0; i < *dl; i++)
        data[i] = (uint8_t)rng();
    return make_frame((uint16_t)rng(), rng(), meta, *ml, data, *dl);
}

static void test_frame_random_frames_random_chunks(void **state)
{
    (void)state;
    uint8_t meta[RANDOM_META_MAX], data[RANDOM_DATA_MAX];
    for (int iter = 0; iter < 500; iter++) {
        uint32_t ml, dl;
        struct wire w = random_frame(meta, &ml, data, &dl);
        struct proto_frame f;
        decode_in_chunks(&w, chunk_random, &f);
        check_frame(&f, meta, ml, data, dl);
        proto_frame_free(&f);
        free(w.buf);
    }
}

/* Decodes @w mixing fed chunks with direct writes into the decoder's window
 * (as the messenger does for large payloads); @flip, when below w->len,
 * corrupts that byte on its way in. Returns the last feed's result. */
static ssize_t decode_with_window(const struct wire *w, size_t flip, struct proto_frame *f,
                                  bool *done)
{
    struct proto_frame_decoder d;
    ssize_t r = 0;
    size_t off = 0;

    *done = false;
    proto_frame_decoder_init(&d, NULL);
    while (off < w->len && !*done && r >= 0) {
        uint8_t *dst = NULL;
        size_t want = proto_frame_decoder_window(&d, &dst);
        size_t n = 1 + rng_below(w->len - off < 64 ? w->len - off : 64);
        if (want > 0 && rng_below(2) == 0) {
            n = CAIRN_MIN(n, want);
            memcpy(dst, w->buf + off, n);
            if (flip >= off && flip < off + n)
                dst[flip - off] ^= 0x01;
            proto_frame_decoder_commit(&d, n);
        } else {
            uint8_t tmp[64];
            memcpy(tmp, w->buf + off, n);
            if (flip >= off && flip < off + n)
                tmp[flip - off] ^= 0x01;
            r = proto_frame_decoder_feed(&d, tmp, n, f, done);
            if (r >= 0)
                n = (size_t)r;
        }
        off += n;
    }
    if (!*done && r >= 0) /* ended inside the frame */
        r = -EAGAIN;
    proto_frame_decoder_fini(&d);
    return r;
}

static void test_frame_window_and_feed_mixed(void **state)
{
    (void)state;
    uint8_t meta[RANDOM_META_MAX], data[RANDOM_DATA_MAX];
    for (int iter = 0; iter < 300; iter++) {
        uint32_t ml, dl;
        struct wire w = random_frame(meta, &ml, data, &dl);
        struct proto_frame f;
        bool done;
        assert_true(decode_with_window(&w, SIZE_MAX, &f, &done) >= 0);
        assert_true(done);
        check_frame(&f, meta, ml, data, dl);
        proto_frame_free(&f);
        /* A payload byte corrupted through the window fails the checksum. */
        if (ml + dl > 0) {
            size_t flip = PROTO_FRAME_HEADER_LEN + rng_below(ml + dl);
            assert_int_equal(decode_with_window(&w, flip, &f, &done), -EBADMSG);
            assert_false(done);
        }
        free(w.buf);
    }
}

static void test_frame_window_is_empty_outside_payload(void **state)
{
    (void)state;
    struct wire w = make_frame(1, 2, "mm", 2, "ddd", 3);
    struct proto_frame_decoder d;
    struct proto_frame f;
    bool done = false;
    uint8_t *dst = NULL;

    proto_frame_decoder_init(&d, NULL);
    assert_int_equal(proto_frame_decoder_window(&d, &dst), 0); /* header first */
    assert_int_equal(proto_frame_decoder_feed(&d, w.buf, PROTO_FRAME_HEADER_LEN, &f, &done),
                     PROTO_FRAME_HEADER_LEN);
    assert_int_equal(proto_frame_decoder_window(&d, &dst), 2); /* the metadata */
    memcpy(dst, "mm", 2);
    proto_frame_decoder_commit(&d, 2);
    assert_int_equal(proto_frame_decoder_window(&d, &dst), 3); /* the data */
    memcpy(dst, "ddd", 3);
    proto_frame_decoder_commit(&d, 3);
    assert_int_equal(proto_frame_decoder_window(&d, &dst), 0); /* the trailer */
    size_t tail = PROTO_FRAME_HEADER_LEN + 5;
    assert_int_equal(proto_frame_decoder_feed(&d, w.buf + tail, w.len - tail, &f, &done),
                     (ssize_t)(w.len - tail));
    assert_true(done);
    check_frame(&f, "mm", 2, "ddd", 3);
    proto_frame_free(&f);
    proto_frame_decoder_fini(&d);
    free(w.buf);
}

static void test_frame_two_back_to_back_in_one_buffer(void **state)
{
    (void)state;
    struct wire a = make_frame(1, 10, "m1", 2, NULL, 0);
    struct wire b = make_frame(2, 20, NULL, 0, "data2", 5);
    uint8_t *both = malloc(a.len + b.len);
    assert_non_null(both);
    memcpy(both, a.buf, a.len);
    memcpy(both + a.len, b.buf, b.len);

    struct proto_frame_decoder d;
    struct proto_frame f;
    bool done = false;
    proto_frame_decoder_init(&d, NULL);
    assert_int_equal(proto_frame_decoder_feed(&d, both, a.len + b.len, &f, &done), (ssize_t)a.len);
    assert_true(done);
    check_frame(&f, "m1", 2, NULL, 0);
    assert_int_equal(f.hdr.txid, 10);
    proto_frame_free(&f);
    assert_int_equal(proto_frame_decoder_feed(&d, both + a.len, b.len, &f, &done), (ssize_t)b.len);
    assert_true(done);
    check_frame(&f, NULL, 0, "data2", 5);
    assert_int_equal(f.hdr.txid, 20);
    proto_frame_free(&f);
    assert_int_equal(proto_frame_decoder_feed(&d, both, 0, &f, &done), 0);
    assert_false(done);
    proto_frame_decoder_fini(&d);
    free(both);
    free(a.buf);
    free(b.buf);
}

static void test_frame_bad_magic_refused_after_four_bytes(void **state)
{
    (void)state;
    char why[128];
    static const char http[] = "GET / HTTP/1.1\r\n";
    assert_int_equal(feed_bad((const uint8_t *)http, 4, NULL, why, sizeof(why)), -EBADMSG);
    assert_string_equal(why, "bad magic 0x20544547");
}

static void test_frame_bad_version(void **state)
{
    (void)state;
    char why[128];
    struct wire w = make_small_frame();
    w.buf[4] = 2;
    fix_header_crc(w.buf);
    assert_int_equal(feed_bad(w.buf, w.len, NULL, why, sizeof(why)), -EPROTO);
    assert_string_equal(why, "unsupported frame version 2");
    free(w.buf);
}

static void test_frame_nonzero_reserved(void **state)
{
    (void)state;
    char why[128];
    struct wire w = make_small_frame();
    w.buf[27] = 0x80;
    fix_header_crc(w.buf);
    assert_int_equal(feed_bad(w.buf, w.len, NULL, why, sizeof(why)), -EPROTO);
    assert_string_equal(why, "reserved header field is 0x80000000, not 0");
    free(w.buf);
}

static void test_frame_header_crc_mismatch(void **state)
{
    (void)state;
    char why[128];
    struct wire w = make_small_frame();
    w.buf[9] ^= 0x01; /* txid */
    assert_int_equal(feed_bad(w.buf, w.len, NULL, why, sizeof(why)), -EBADMSG);
    assert_non_null(strstr(why, "header checksum mismatch"));
    free(w.buf);
}

static void test_frame_payload_crc_mismatch(void **state)
{
    (void)state;
    char why[128];
    struct wire w = make_small_frame();
    w.buf[PROTO_FRAME_HEADER_LEN + 4] ^= 0x20; /* a data byte */
    assert_int_equal(feed_bad(w.buf, w.len, NULL, why, sizeof(why)), -EBADMSG);
    assert_non_null(strstr(why, "payload checksum mismatch"));
    free(w.buf);
}

/* Every byte of a frame is covered by a check: the header by its magic,
 * version and crc, metadata and data by the trailing crc, the trailer by
 * itself. So any single flipped byte must be refused, never delivered. */
static void test_frame_every_flipped_byte_is_refused(void **state)
{
    (void)state;
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    struct wire w = make_small_frame();
    char why[128];
    for (size_t pos = 0; pos < w.len; pos++) {
        for (size_t k = 0; k < sizeof(flips); k++) {
            w.buf[pos] ^= flips[k];
            int r = feed_bad(w.buf, w.len, NULL, why, sizeof(why));
            assert_int_equal(r, pos == 4 ? -EPROTO : -EBADMSG);
            assert_true(why[0] != '\0');
            w.buf[pos] ^= flips[k];
        }
    }
    free(w.buf);
}

/* The refusal comes with the 32 header bytes alone: nothing of the claimed
 * size is allocated or waited for. */
static void test_frame_meta_over_limit_refused_before_allocation(void **state)
{
    (void)state;
    struct proto_frame_decoder_limits lim = {.meta_max = 16, .data_max = 0};
    char why[128];
    struct wire w = make_frame(1, 1, "0123456789abcdefg", 17, NULL, 0);
    assert_int_equal(feed_bad(w.buf, PROTO_FRAME_HEADER_LEN, &lim, why, sizeof(why)), -EMSGSIZE);
    assert_string_equal(why, "metadata length 17 over limit 16");
    free(w.buf);

    /* Exactly at the limit is fine. */
    w = make_frame(1, 1, "0123456789abcdef", 16, NULL, 0);
    struct proto_frame_decoder d;
    struct proto_frame f;
    bool done;
    proto_frame_decoder_init(&d, &lim);
    assert_int_equal(proto_frame_decoder_feed(&d, w.buf, w.len, &f, &done), (ssize_t)w.len);
    assert_true(done);
    proto_frame_free(&f);
    proto_frame_decoder_fini(&d);
    free(w.buf);
}

static void test_frame_data_over_default_limit_refused_before_allocation(void **state)
{
    (void)state;
    struct proto_frame_header h = {.type = 1, .data_len = 99999999};
    uint8_t hdr[PROTO_FRAME_HEADER_LEN];
    char why[128];
    proto_frame_header_encode(&h, hdr);
    assert_int_equal(feed_bad(hdr, sizeof(hdr), NULL, why, sizeof(why)), -EMSGSIZE);
    assert_string_equal(why, "data length 99999999 over limit 67108864");

    h.data_len = UINT32_MAX;
    h.meta_len = UINT32_MAX;
    proto_frame_header_encode(&h, hdr);
    assert_int_equal(feed_bad(hdr, sizeof(hdr), NULL, why, sizeof(why)), -EMSGSIZE);
    assert_string_equal(why, "metadata length 4294967295 over limit 1048576");
}

static void test_frame_zero_limits_mean_defaults(void **state)
{
    (void)state;
    struct proto_frame_decoder_limits zero = {0, 0}, some = {.meta_max = 5, .data_max = 0};
    struct proto_frame_decoder d;

    proto_frame_decoder_init(&d, &zero);
    assert_int_equal(d.limits.meta_max, PROTO_FRAME_META_MAX_DEFAULT);
    assert_int_equal(d.limits.data_max, PROTO_FRAME_DATA_MAX_DEFAULT);
    proto_frame_decoder_fini(&d);
    proto_frame_decoder_init(&d, NULL);
    assert_int_equal(d.limits.meta_max, PROTO_FRAME_META_MAX_DEFAULT);
    proto_frame_decoder_fini(&d);
    proto_frame_decoder_init(&d, &some);
    assert_int_equal(d.limits.meta_max, 5);
    assert_int_equal(d.limits.data_max, PROTO_FRAME_DATA_MAX_DEFAULT);
    proto_frame_decoder_fini(&d);
}

static void test_frame_error_is_sticky(void **state)
{
    (void)state;
    struct wire bad = make_small_frame(), good = make_small_frame();
    struct proto_frame_decoder d;
    struct proto_frame f;
    bool done = true;
    bad.buf[bad.len - 1] ^= 1;

    proto_frame_decoder_init(&d, NULL);
    assert_int_equal(proto_frame_decoder_feed(&d, bad.buf, bad.len, &f, &done), -EBADMSG);
    char first[sizeof(d.reason)];
    snprintf(first, sizeof(first), "%s", d.reason);
    for (int i = 0; i < 3; i++) {
        done = true;
        assert_int_equal(proto_frame_decoder_feed(&d, good.buf, good.len, &f, &done), -EBADMSG);
        assert_false(done);
        assert_int_equal(proto_frame_decoder_feed(&d, good.buf, 0, &f, &done), -EBADMSG);
        assert_string_equal(d.reason, first);
    }
    proto_frame_decoder_fini(&d);
    free(bad.buf);
    free(good.buf);
}

/* Under a sanitizer the leak checker proves the half-built frame is freed. */
static void test_frame_fini_frees_partial_frame(void **state)
{
    (void)state;
    struct wire w = make_frame(1, 2, "meta", 4, "data", 4);
    struct proto_frame_decoder d;
    struct proto_frame f;
    bool done;
    proto_frame_decoder_init(&d, NULL);
    assert_int_equal(proto_frame_decoder_feed(&d, w.buf, w.len - 3, &f, &done),
                     (ssize_t)(w.len - 3));
    assert_false(done);
    assert_non_null(d.cur.meta);
    proto_frame_decoder_fini(&d);
    free(w.buf);
}

#ifndef UNDER_SANITIZER
static size_t vm_bytes(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    assert_non_null(fp);
    assert_int_equal(fscanf(fp, "%lu", &pages), 1);
    fclose(fp);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}
#endif

/* A real allocation failure: the address space is capped just above what the
 * process uses, so a 60 MiB payload buffer cannot be had. Sanitizers reserve
 * terabytes of shadow memory and cannot run under such a cap. */
static void test_frame_allocation_failure_is_enomem(void **state)
{
    (void)state;
#ifdef UNDER_SANITIZER
    skip();
#else
    struct proto_frame_header h = {.type = 1, .data_len = 60u << 20};
    uint8_t hdr[PROTO_FRAME_HEADER_LEN];
    struct proto_frame_decoder d;
    struct proto_frame f;
    struct rlimit old, cap;
    bool done;

    proto_frame_header_encode(&h, hdr);
    proto_frame_decoder_init(&d, NULL);
    assert_int_equal(getrlimit(RLIMIT_AS, &old), 0);
    cap = old;
    cap.rlim_cur = vm_bytes() + (16u << 20);
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < cap.rlim_cur)
        skip();
    assert_int_equal(setrlimit(RLIMIT_AS, &cap), 0);
    ssize_t r = proto_frame_decoder_feed(&d, hdr, sizeof(hdr), &f, &done);
    assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
    assert_int_equal(r, -ENOMEM);
    assert_string_equal(d.reason, "no memory for 62914560 bytes of data");
    proto_frame_decoder_fini(&d);
#endif
}

static uint64_t pick_seed(int argc, char **argv)
{
    const char *s = argc > 1 ? argv[1] : getenv("CAIRN_SEED");
    if (s && *s)
        return strtoull(s, NULL, 0);
    return (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

int main(int argc, char **argv)
{
    seed = pick_seed(argc, argv);
    rng_state = seed;
    printf("test_frame: seed %" PRIu64 " (replay: test_frame %" PRIu64 ")\n", seed, seed);
    fflush(stdout);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_header_roundtrip),
        cmocka_unit_test(test_frame_header_decode_errors_leave_output_untouched),
        cmocka_unit_test(test_frame_roundtrip_empty_and_nonempty_sections),
        cmocka_unit_test(test_frame_every_split_point),
        cmocka_unit_test(test_frame_byte_by_byte),
        cmocka_unit_test(test_frame_random_frames_random_chunks),
        cmocka_unit_test(test_frame_window_and_feed_mixed),
        cmocka_unit_test(test_frame_window_is_empty_outside_payload),
        cmocka_unit_test(test_frame_two_back_to_back_in_one_buffer),
        cmocka_unit_test(test_frame_bad_magic_refused_after_four_bytes),
        cmocka_unit_test(test_frame_bad_version),
        cmocka_unit_test(test_frame_nonzero_reserved),
        cmocka_unit_test(test_frame_header_crc_mismatch),
        cmocka_unit_test(test_frame_payload_crc_mismatch),
        cmocka_unit_test(test_frame_every_flipped_byte_is_refused),
        cmocka_unit_test(test_frame_meta_over_limit_refused_before_allocation),
        cmocka_unit_test(test_frame_data_over_default_limit_refused_before_allocation),
        cmocka_unit_test(test_frame_zero_limits_mean_defaults),
        cmocka_unit_test(test_frame_error_is_sticky),
        cmocka_unit_test(test_frame_fini_frees_partial_frame),
        cmocka_unit_test(test_frame_allocation_failure_is_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

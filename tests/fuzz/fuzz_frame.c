/* Fuzz target for the frame decoder (protocol/frame.c). Each input is a raw
 * byte stream, decoded twice:
 *   1. as is, with the default limits, fed in pseudo-random pieces;
 *   2. with every header and payload crc rewritten to be valid and small
 *      limits, so that mutations get past the checksums to the length,
 *      limit and allocation logic (a fuzzer rarely guesses a crc32c).
 * Completed frames are checked against their header and freed. Any crash,
 * leak or sanitizer report is a bug. Built by tests/fuzz/CMakeLists.txt as
 * a libFuzzer binary (CAIRN_FUZZ=ON) or a replay executable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "protocol/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Invariants of a delivered frame; abort() so the fuzzer records the input. */
static void check_frame(const struct proto_frame *f)
{
    if ((f->hdr.meta_len == 0) != (f->meta == NULL) || (f->hdr.data_len == 0) != (f->data == NULL))
        abort();
    if (f->hdr.magic != PROTO_FRAME_MAGIC || f->hdr.version != PROTO_FRAME_VERSION ||
        f->hdr.reserved != 0)
        abort();
}

/* Feeds @buf in pieces of 1..64 bytes chosen by a generator seeded from the
 * input, so every input replays the same way. */
static void decode(const uint8_t *buf, size_t len, const struct proto_frame_decoder_limits *lim,
                   uint32_t seed)
{
    struct proto_frame_decoder d;
    struct proto_frame f;
    size_t off = 0;

    proto_frame_decoder_init(&d, lim);
    while (off < len) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = 1 + ((seed >> 16) & 63);
        size_t n = piece < len - off ? piece : len - off;
        bool done = false;
        ssize_t r = proto_frame_decoder_feed(&d, buf + off, n, &f, &done);
        if (r < 0) {
            if (d.reason[0] == '\0' || proto_frame_decoder_feed(&d, buf, len, &f, &done) != r)
                abort(); /* errors carry a reason and are sticky */
            break;
        }
        if ((size_t)r > n || (!done && (size_t)r != n))
            abort();
        off += (size_t)r;
        if (done) {
            check_frame(&f);
            proto_frame_free(&f);
        }
    }
    proto_frame_decoder_fini(&d);
}

/* Rewrites the crcs of the frames laid end to end in @buf. */
static void fix_crcs(uint8_t *buf, size_t len)
{
    size_t off = 0;

    while (len - off >= PROTO_FRAME_HEADER_LEN) {
        uint8_t *h = buf + off;
        put_le32(h + 28, cairn_crc32c(0, h, 28));
        uint64_t body = (uint64_t)get_le32(h + 16) + get_le32(h + 20);
        off += PROTO_FRAME_HEADER_LEN;
        if (body + PROTO_FRAME_TRAILER_LEN > len - off)
            return;
        put_le32(buf + off + body, cairn_crc32c(0, buf + off, (size_t)body));
        off += (size_t)body + PROTO_FRAME_TRAILER_LEN;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct proto_frame_decoder_limits small = {.meta_max = 256, .data_max = 4096};
    uint32_t seed = size ? cairn_crc32c(0, data, size) : 0;

    decode(data, size, NULL, seed);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    fix_crcs(copy, size);
    decode(copy, size, &small, ~seed);
    free(copy);
    return 0;
}

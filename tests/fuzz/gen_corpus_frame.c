/* Writes the seed corpus of the frame fuzz target: a few valid frame streams
 * (empty, metadata only, metadata and data, two frames back to back), one
 * file each, into the directory given. Run by hand after a wire change:
 *   fuzz_frame_gen_corpus tests/fuzz/corpus/frame */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "protocol/frame.h"

#define STREAM_MAX 1024

struct stream {
    uint8_t buf[STREAM_MAX];
    size_t len;
};

static void append_frame(struct stream *s, uint16_t type, uint8_t flags, uint64_t txid,
                         const char *meta, const char *data)
{
    struct proto_frame_header h = {.flags = flags, .type = type, .txid = txid};
    size_t ml = meta ? strlen(meta) : 0, dl = data ? strlen(data) : 0;
    uint8_t *p = s->buf + s->len;

    h.meta_len = (uint32_t)ml;
    h.data_len = (uint32_t)dl;
    proto_frame_header_encode(&h, p);
    p += PROTO_FRAME_HEADER_LEN;
    memcpy(p, meta ? meta : "", ml);
    memcpy(p + ml, data ? data : "", dl);
    uint32_t crc = proto_frame_payload_crc(meta, ml, data, dl);
    for (int i = 0; i < 4; i++)
        p[ml + dl + i] = (uint8_t)(crc >> (8 * i));
    s->len += PROTO_FRAME_HEADER_LEN + ml + dl + PROTO_FRAME_TRAILER_LEN;
}

static int write_stream(const char *dir, const char *name, const struct stream *s)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(s->buf, 1, s->len, fp) != s->len) {
        perror(path);
        return 1;
    }
    return fclose(fp) != 0;
}

int main(int argc, char **argv)
{
    /* Metadata bytes shaped like protobuf: field 1 varint, field 2 string. */
    static const char meta[] = "\x08\x96\x01\x12\x07obj.001";
    struct stream s[4] = {0};
    int r = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    append_frame(&s[0], 1, 0, 1, NULL, NULL);
    append_frame(&s[1], 2, PROTO_FRAME_F_REPLY, 2, meta, NULL);
    append_frame(&s[2], 3, 0, 0x0102030405060708ull, meta,
                 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    append_frame(&s[3], 4, 0, 4, NULL, "data only");
    append_frame(&s[3], 4, PROTO_FRAME_F_REPLY, 4, NULL, NULL);
    r |= write_stream(argv[1], "empty.bin", &s[0]);
    r |= write_stream(argv[1], "meta-only.bin", &s[1]);
    r |= write_stream(argv[1], "meta-and-data.bin", &s[2]);
    r |= write_stream(argv[1], "two-frames.bin", &s[3]);
    return r;
}

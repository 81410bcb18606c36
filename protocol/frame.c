/* Frame header encoding and the incremental frame decoder (see frame.h for
 * the wire layout). Pure byte handling: no I/O and no logging; the messenger
 * feeds received bytes in and logs d->reason when it drops a connection.
 *
 * Decoder states (d->section):
 *
 *   HEADER --32 bytes, valid--> META --meta_len--> DATA --data_len--> TRAILER
 *     ^                        (skipped if 0)     (skipped if 0)        |
 *     +-------------- crc ok: frame handed to the caller ---------------+
 *   any state --bad input--> d->error set (sticky, nothing owned)
 *
 * Invariants:
 *   1. Outside HEADER, d->cur.hdr passed check_header() and d->cur.meta /
 *      d->cur.data are allocated with exactly meta_len / data_len bytes
 *      (NULL when the length is 0).
 *   2. d->have is less than the length of the current section, which is never 0.
 *   3. d->crc is the crc32c of the metadata and data received so far.
 *   4. When d->error is set, d->cur owns no memory. */
#include "protocol/frame.h"
#include "common/assert.h"
#include "common/crc32c.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SEC_HEADER = 0,
    SEC_META,
    SEC_DATA,
    SEC_TRAILER,
    SEC_DONE, /* transient: a frame completed during this feed step */
};

/* Byte offsets in the header. */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_FLAGS = 5,
    OFF_TYPE = 6,
    OFF_TXID = 8,
    OFF_META_LEN = 16,
    OFF_DATA_LEN = 20,
    OFF_RESERVED = 24,
    OFF_HEADER_CRC = 28,
};
CAIRN_STATIC_ASSERT(OFF_HEADER_CRC + 4 == PROTO_FRAME_HEADER_LEN, "header layout");

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

void proto_frame_header_encode(const struct proto_frame_header *h,
                               uint8_t out[PROTO_FRAME_HEADER_LEN])
{
    put_le32(out + OFF_MAGIC, PROTO_FRAME_MAGIC);
    out[OFF_VERSION] = PROTO_FRAME_VERSION;
    out[OFF_FLAGS] = h->flags;
    put_le16(out + OFF_TYPE, h->type);
    put_le64(out + OFF_TXID, h->txid);
    put_le32(out + OFF_META_LEN, h->meta_len);
    put_le32(out + OFF_DATA_LEN, h->data_len);
    put_le32(out + OFF_RESERVED, 0);
    put_le32(out + OFF_HEADER_CRC, cairn_crc32c(0, out, OFF_HEADER_CRC));
}

/* Writes the reason for refusing a header into @why (when not NULL). */
__attribute__((format(printf, 4, 5))) static int refuse(char *why, size_t why_len, int err,
                                                        const char *fmt, ...)
{
    va_list ap;

    if (why) {
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* Validates and unpacks a header; @h is written only on success. @why (may
 * be NULL) receives the reason on failure. The version is checked before the
 * crc so that a peer speaking a newer protocol is reported as such rather
 * than as corruption. */
static int check_header(const uint8_t in[PROTO_FRAME_HEADER_LEN], struct proto_frame_header *h,
                        char *why, size_t why_len)
{
    uint32_t magic = get_le32(in + OFF_MAGIC);
    uint32_t crc_want = get_le32(in + OFF_HEADER_CRC);
    uint32_t crc_have = cairn_crc32c(0, in, OFF_HEADER_CRC);
    uint32_t reserved = get_le32(in + OFF_RESERVED);

    if (magic != PROTO_FRAME_MAGIC)
        return refuse(why, why_len, -EBADMSG, "bad magic 0x%08x", magic);
    if (in[OFF_VERSION] != PROTO_FRAME_VERSION)
        return refuse(why, why_len, -EPROTO, "unsupported frame version %u", in[OFF_VERSION]);
    if (crc_have != crc_want)
        return refuse(why, why_len, -EBADMSG, "header checksum mismatch (0x%08x, expected 0x%08x)",
                      crc_want, crc_have);
    if (reserved != 0)
        return refuse(why, why_len, -EPROTO, "reserved header field is 0x%08x, not 0", reserved);

    h->magic = magic;
    h->version = in[OFF_VERSION];
    h->flags = in[OFF_FLAGS];
    h->type = get_le16(in + OFF_TYPE);
    h->txid = get_le64(in + OFF_TXID);
    h->meta_len = get_le32(in + OFF_META_LEN);
    h->data_len = get_le32(in + OFF_DATA_LEN);
    h->reserved = reserved;
    h->header_crc = crc_want;
    return 0;
}

int proto_frame_header_decode(const uint8_t in[PROTO_FRAME_HEADER_LEN],
                              struct proto_frame_header *h)
{
    return check_header(in, h, NULL, 0);
}

uint32_t proto_frame_payload_crc(const void *meta, size_t meta_len, const void *data,
                                 size_t data_len)
{
    return cairn_crc32c(cairn_crc32c(0, meta, meta_len), data, data_len);
}

void proto_frame_free(struct proto_frame *f)
{
    if (!f)
        return;
    free(f->meta);
    free(f->data);
    f->meta = NULL;
    f->data = NULL;
}

void proto_frame_decoder_init(struct proto_frame_decoder *d,
                              const struct proto_frame_decoder_limits *limits)
{
    memset(d, 0, sizeof(*d));
    if (limits)
        d->limits = *limits;
    if (d->limits.meta_max == 0)
        d->limits.meta_max = PROTO_FRAME_META_MAX_DEFAULT;
    if (d->limits.data_max == 0)
        d->limits.data_max = PROTO_FRAME_DATA_MAX_DEFAULT;
    d->section = SEC_HEADER;
}

void proto_frame_decoder_fini(struct proto_frame_decoder *d)
{
    proto_frame_free(&d->cur);
}

/* Makes the stream refused for good (inv. 4) and returns @err. */
__attribute__((format(printf, 3, 4))) static int fail(struct proto_frame_decoder *d, int err,
                                                      const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
    va_end(ap);
    proto_frame_free(&d->cur);
    d->error = err;
    return err;
}

/* Moves to the first section after @from that has bytes to receive. */
static void next_section(struct proto_frame_decoder *d, int from)
{
    int s = from + 1;

    if (s == SEC_META && d->cur.hdr.meta_len == 0)
        s++;
    if (s == SEC_DATA && d->cur.hdr.data_len == 0)
        s++;
    d->section = s;
    d->have = 0;
}

/* The header is complete: validate it, check the limits, and only then
 * allocate the payload buffers (inv. 1). */
static int start_payload(struct proto_frame_decoder *d)
{
    struct proto_frame_header h;
    char why[sizeof(d->reason)];
    int r = check_header(d->hdr_buf, &h, why, sizeof(why));

    if (r < 0)
        return fail(d, r, "%s", why);
    if (h.meta_len > d->limits.meta_max)
        return fail(d, -EMSGSIZE, "metadata length %u over limit %u", h.meta_len,
                    d->limits.meta_max);
    if (h.data_len > d->limits.data_max)
        return fail(d, -EMSGSIZE, "data length %u over limit %u", h.data_len, d->limits.data_max);
    d->cur.hdr = h;
    if (h.meta_len > 0 && !(d->cur.meta = malloc(h.meta_len)))
        return fail(d, -ENOMEM, "no memory for %u bytes of metadata", h.meta_len);
    if (h.data_len > 0 && !(d->cur.data = malloc(h.data_len)))
        return fail(d, -ENOMEM, "no memory for %u bytes of data", h.data_len);
    d->crc = 0;
    next_section(d, SEC_HEADER);
    return 0;
}

static ssize_t feed_header(struct proto_frame_decoder *d, const uint8_t *buf, size_t len)
{
    size_t n = CAIRN_MIN(len, PROTO_FRAME_HEADER_LEN - d->have);
    size_t before = d->have;

    memcpy(d->hdr_buf + d->have, buf, n);
    d->have += n;
    /* Refuse a stream that is not ours (say, an HTTP request) as soon as the
     * magic is in, instead of waiting for a full header that may never come. */
    if (before < 4 && d->have >= 4 && get_le32(d->hdr_buf) != PROTO_FRAME_MAGIC)
        return fail(d, -EBADMSG, "bad magic 0x%08x", get_le32(d->hdr_buf));
    if (d->have == PROTO_FRAME_HEADER_LEN) {
        int r = start_payload(d);
        if (r < 0)
            return r;
    }
    return (ssize_t)n;
}

size_t proto_frame_decoder_window(struct proto_frame_decoder *d, uint8_t **dst)
{
    if (d->error || (d->section != SEC_META && d->section != SEC_DATA))
        return 0;
    bool meta = d->section == SEC_META;
    size_t total = meta ? d->cur.hdr.meta_len : d->cur.hdr.data_len;
    CAIRN_ASSERT(d->have < total); /* inv. 2 */
    *dst = (meta ? d->cur.meta : d->cur.data) + d->have;
    return total - d->have;
}

void proto_frame_decoder_commit(struct proto_frame_decoder *d, size_t n)
{
    uint8_t *dst = NULL;
    size_t want = proto_frame_decoder_window(d, &dst);

    CAIRN_ASSERT(n <= want);
    d->crc = cairn_crc32c(d->crc, dst, n);
    d->have += n;
    if (n == want)
        next_section(d, d->section);
}

static ssize_t feed_payload(struct proto_frame_decoder *d, const uint8_t *buf, size_t len)
{
    uint8_t *dst = NULL;
    size_t n = CAIRN_MIN(len, proto_frame_decoder_window(d, &dst));

    memcpy(dst, buf, n);
    proto_frame_decoder_commit(d, n);
    return (ssize_t)n;
}

static ssize_t feed_trailer(struct proto_frame_decoder *d, const uint8_t *buf, size_t len)
{
    size_t n = CAIRN_MIN(len, PROTO_FRAME_TRAILER_LEN - d->have);

    memcpy(d->trailer_buf + d->have, buf, n);
    d->have += n;
    if (d->have < PROTO_FRAME_TRAILER_LEN)
        return (ssize_t)n;
    uint32_t want = get_le32(d->trailer_buf);
    if (want != d->crc)
        return fail(d, -EBADMSG, "payload checksum mismatch (0x%08x, expected 0x%08x)", want,
                    d->crc);
    d->section = SEC_DONE;
    return (ssize_t)n;
}

static ssize_t feed_step(struct proto_frame_decoder *d, const uint8_t *buf, size_t len)
{
    if (d->section == SEC_HEADER)
        return feed_header(d, buf, len);
    if (d->section == SEC_TRAILER)
        return feed_trailer(d, buf, len);
    CAIRN_ASSERT(d->section == SEC_META || d->section == SEC_DATA);
    return feed_payload(d, buf, len);
}

ssize_t proto_frame_decoder_feed(struct proto_frame_decoder *d, const uint8_t *buf, size_t len,
                                 struct proto_frame *out, bool *done)
{
    size_t used = 0;

    *done = false;
    if (d->error)
        return d->error;
    while (used < len) {
        ssize_t n = feed_step(d, buf + used, len - used);
        if (n < 0)
            return n;
        used += (size_t)n;
        if (d->section == SEC_DONE) {
            *out = d->cur;
            memset(&d->cur, 0, sizeof(d->cur));
            d->section = SEC_HEADER;
            d->have = 0;
            *done = true;
            break;
        }
    }
    return (ssize_t)used;
}

/* Wire framing (docs/protocol.md). Every message on every Cairn connection is
 * one frame:
 *
 *   header (32 bytes, little-endian)
 *     u32 magic       "CRN1" = 0x314e5243
 *     u8  version     PROTO_FRAME_VERSION
 *     u8  flags       PROTO_FRAME_F_*
 *     u16 type        message type (protocol/msg_types.h)
 *     u64 txid        request id; a reply carries its request's txid
 *     u32 meta_len    bytes of protobuf-c metadata that follow
 *     u32 data_len    bytes of raw payload that follow the metadata
 *     u32 reserved    zero
 *     u32 header_crc  crc32c of the 28 bytes before it
 *   metadata (meta_len bytes, protobuf-c encoded)
 *   data (data_len bytes, raw: never protobuf-encoded)
 *   u32 payload_crc   crc32c of metadata then data
 *
 * The decoder is incremental: feed it bytes in any split; it checks the
 * header (magic, version, reserved, header crc, limits) before allocating
 * anything for the frame, and the payload crc once the frame is complete. */
#ifndef CAIRN_PROTOCOL_FRAME_H
#define CAIRN_PROTOCOL_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROTO_FRAME_MAGIC 0x314e5243u
#define PROTO_FRAME_VERSION 1u
#define PROTO_FRAME_HEADER_LEN 32u
#define PROTO_FRAME_TRAILER_LEN 4u
#define PROTO_FRAME_META_MAX_DEFAULT (1u << 20)   /* 1 MiB */
#define PROTO_FRAME_DATA_MAX_DEFAULT (64u << 20)  /* 64 MiB */

enum proto_frame_flags {
    PROTO_FRAME_F_REPLY = 1u << 0, /* this frame answers the request with the same txid */
};

struct proto_frame_header {
    uint32_t magic;
    uint8_t version;
    uint8_t flags;
    uint16_t type;
    uint64_t txid;
    uint32_t meta_len;
    uint32_t data_len;
    uint32_t reserved;
    uint32_t header_crc;
};

/* Encodes @h into @out (32 bytes), computing header_crc (h->header_crc is
 * ignored) and forcing magic, version and reserved. */
void proto_frame_header_encode(const struct proto_frame_header *h,
                               uint8_t out[PROTO_FRAME_HEADER_LEN]);
/* Decodes and validates 32 bytes. 0, or -EBADMSG (magic or crc wrong),
 * -EPROTO (unknown version, reserved not zero). */
int proto_frame_header_decode(const uint8_t in[PROTO_FRAME_HEADER_LEN],
                              struct proto_frame_header *h);
/* The trailing crc of a frame whose metadata and data are given. */
uint32_t proto_frame_payload_crc(const void *meta, size_t meta_len, const void *data,
                                 size_t data_len);

/* A complete decoded frame. meta and data are heap buffers owned by the
 * frame (NULL when their length is 0); free with proto_frame_free(). */
struct proto_frame {
    struct proto_frame_header hdr;
    uint8_t *meta;
    uint8_t *data;
};
void proto_frame_free(struct proto_frame *f);

struct proto_frame_decoder_limits {
    uint32_t meta_max;  /* bytes; larger frames are refused with -EMSGSIZE */
    uint32_t data_max;
};

/* The incremental decoder. Embed it; init/fini. */
struct proto_frame_decoder {
    struct proto_frame_decoder_limits limits;
    uint8_t hdr_buf[PROTO_FRAME_HEADER_LEN];
    uint8_t trailer_buf[PROTO_FRAME_TRAILER_LEN];
    size_t have;              /* bytes of the current section received */
    int section;              /* internal state */
    uint32_t crc;             /* running crc32c of the payload received so far */
    int error;                /* sticky: once set, every feed returns it */
    struct proto_frame cur;   /* frame under construction */
    char reason[128];         /* why the stream was refused, for the log */
};

void proto_frame_decoder_init(struct proto_frame_decoder *d,
                              const struct proto_frame_decoder_limits *limits);
void proto_frame_decoder_fini(struct proto_frame_decoder *d);

/* Consumes up to @len bytes of @buf. Returns the bytes consumed (>= 0). When
 * a frame completes, consumption stops there, *@out receives it (ownership
 * moves to the caller) and *@done is set; call again with the rest. On a bad
 * stream returns -EBADMSG (bad magic or checksum), -EPROTO (bad version or
 * reserved bits), -EMSGSIZE (over the limits) or -ENOMEM, with a
 * human-readable d->reason; the error is sticky (close the connection). */
ssize_t proto_frame_decoder_feed(struct proto_frame_decoder *d, const uint8_t *buf, size_t len,
                                 struct proto_frame *out, bool *done);

/* Direct reads: inside a payload section the decoder can take bytes straight
 * from a socket into the frame, without the copy out of an input buffer.
 * Returns how many bytes the section still wants (0 outside a payload
 * section or after an error) and where they go in *@dst. A frame's sections
 * never complete the frame (the trailer follows), so no frame is returned. */
size_t proto_frame_decoder_window(struct proto_frame_decoder *d, uint8_t **dst);
/* Accounts @n (at most the window) bytes written at the window's start. */
void proto_frame_decoder_commit(struct proto_frame_decoder *d, size_t n);

#endif

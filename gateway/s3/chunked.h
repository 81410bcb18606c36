/* The aws-chunked body encoding of S3 uploads (Content-Encoding: aws-chunked,
 * x-amz-content-sha256 one of the STREAMING-* values), decoded as the bytes
 * arrive:
 *
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD          chunks signed one by one
 *   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  signed chunks, then signed trailers
 *   STREAMING-UNSIGNED-PAYLOAD-TRAILER          plain chunks, then trailers
 *
 * A signed chunk is "HEXSIZE;chunk-signature=SIG\r\n" DATA "\r\n"; an
 * unsigned one "HEXSIZE\r\n" DATA "\r\n"; the last chunk has size 0. Trailers
 * follow as "name:value\r\n" lines (x-amz-checksum-*, and in signed mode
 * x-amz-trailer-signature, required and last), then "\r\n"; the SIGNED mode
 * ends with "0;chunk-signature=SIG\r\n\r\n" and takes no trailers. Sizes
 * are 1..16 hex digits with no extensions other than the chunk signature.
 * The trailer signature is HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n" amz_date
 * "\n" scope "\n" final-chunk-signature "\n" hex(sha256(T))), T the other
 * trailers as "name:value\n" (lowercase name, trimmed value) in the order
 * received. Chunk signatures chain from the request's seed signature
 * (sigv4.h gw_s3_sigv4_chunk_signature); each is checked when its chunk's
 * data is complete. The payload is handed out before its chunk's signature
 * is checked: the caller must not make anything visible before
 * gw_s3_chunked_feed has returned 1 (done).
 *
 * Bounds: chunk header lines ≤ GW_S3_CHUNK_LINE_MAX bytes, chunk sizes ≤
 * GW_S3_CHUNK_SIZE_MAX, at most GW_S3_TRAILERS_MAX trailers of
 * GW_S3_TRAILER_LINE_MAX bytes. No allocation. Pure; any thread. */
#ifndef CAIRN_GATEWAY_S3_CHUNKED_H
#define CAIRN_GATEWAY_S3_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/sha.h>

#include "gateway/s3/sigv4.h"

#define GW_S3_CHUNK_LINE_MAX 256u
#define GW_S3_CHUNK_SIZE_MAX (64ull << 20)
#define GW_S3_TRAILERS_MAX 4u
#define GW_S3_TRAILER_LINE_MAX 256u

#define GW_S3_STREAMING_PAYLOAD_TRAILER "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"

enum gw_s3_chunked_mode {
    GW_S3_CHUNKED_SIGNED = 1,         /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    GW_S3_CHUNKED_SIGNED_TRAILER = 2, /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
    GW_S3_CHUNKED_UNSIGNED_TRAILER = 3, /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
};

/* The mode for an x-amz-content-sha256 value; 0 when it is not a streaming one. */
enum gw_s3_chunked_mode gw_s3_chunked_mode_of(const char *payload_hash);

struct gw_s3_trailer {
    char name[64];   /* lowercase */
    char value[160]; /* trimmed */
};

/* Decoder state; embed it, no heap. Fields are private except the results
 * documented below. */
struct gw_s3_chunked {
    enum gw_s3_chunked_mode mode;
    int state;
    /* signing (signed modes) */
    uint8_t key[GW_S3_KEY_LEN];
    char amz_date[17];
    char scope[GW_S3_SCOPE_MAX];
    char prev_sig[GW_S3_SIG_HEX_LEN + 1];
    char chunk_sig[GW_S3_SIG_HEX_LEN + 1];
    SHA256_CTX chunk_hash;
    /* framing */
    char line[GW_S3_TRAILER_LINE_MAX + 1];
    size_t line_len;
    uint64_t chunk_left;
    uint64_t chunk_size;
    /* results */
    uint64_t decoded_bytes;                          /* payload bytes handed out */
    /* received trailers, in order, without x-amz-trailer-signature; no duplicates */
    struct gw_s3_trailer trailers[GW_S3_TRAILERS_MAX];
    size_t trailer_count;
};

/* Starts decoding. For the signed modes @key is the request's signing key,
 * @amz_date and @scope its x-amz-date and credential scope, @seed_signature
 * the request's own (verified) signature; for the unsigned mode they may be
 * NULL. */
void gw_s3_chunked_init(struct gw_s3_chunked *d, enum gw_s3_chunked_mode mode,
                        const uint8_t key[GW_S3_KEY_LEN], const char *amz_date,
                        const char *scope, const char *seed_signature);

/* Wipes the signing key. */
void gw_s3_chunked_fini(struct gw_s3_chunked *d);

/* Called with each run of payload bytes; return 0 to go on, or a negative
 * errno to stop decoding (gw_s3_chunked_feed then returns it). */
typedef int (*gw_s3_chunked_emit_fn)(void *arg, const void *data, size_t len);

/* Decodes @len bytes of @in, handing the payload to @emit. Returns 0 (more
 * input needed), 1 (the encoding is complete: final chunk and trailers
 * received and verified; *@consumed tells how much of @in belonged to the
 * body), -EBADMSG malformed framing, -EACCES a chunk or trailer signature
 * does not match, or @emit's error. After an error or completion, further
 * calls return the same result. */
int gw_s3_chunked_feed(struct gw_s3_chunked *d, const void *in, size_t len, size_t *consumed,
                       gw_s3_chunked_emit_fn emit, void *arg);

/* The trailer named @name (lowercase) received, or NULL. */
const char *gw_s3_chunked_trailer(const struct gw_s3_chunked *d, const char *name);

#endif

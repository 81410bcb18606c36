/* The digests of an S3 upload, computed once while the body streams
 * through: MD5 (the ETag and Content-MD5), SHA-256 (x-amz-content-sha256)
 * and at most one of the additional checksums S3 defines (CRC32, CRC32C,
 * SHA1, SHA256, sent as x-amz-checksum-ALGO in a header or a trailer,
 * base64 of the big-endian digest). Also the base64 and hex helpers the
 * gateway needs. Pure; any thread. */
#ifndef CAIRN_GATEWAY_S3_CHECKSUM_H
#define CAIRN_GATEWAY_S3_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gw_s3_cksum_algo {
    GW_S3_CKSUM_NONE = 0,
    GW_S3_CKSUM_CRC32 = 1,
    GW_S3_CKSUM_CRC32C = 2,
    GW_S3_CKSUM_SHA1 = 3,
    GW_S3_CKSUM_SHA256 = 4,
};

#define GW_S3_CKSUM_RAW_MAX 32u /* digest bytes (SHA-256) */
#define GW_S3_CKSUM_B64_MAX 45u /* base64 of 32 bytes + NUL */

/* "CRC32" -> GW_S3_CKSUM_CRC32 (case-insensitive), NONE when unknown. */
enum gw_s3_cksum_algo gw_s3_cksum_algo_parse(const char *name);

/* "crc32", "crc32c", "sha1", "sha256" (for x-amz-checksum-NAME). */
const char *gw_s3_cksum_algo_name(enum gw_s3_cksum_algo algo);

/* Digest length of @algo in bytes (4, 4, 20, 32; 0 for NONE). */
size_t gw_s3_cksum_algo_size(enum gw_s3_cksum_algo algo);

/* Which digests to compute. */
#define GW_S3_DIGEST_MD5 1u
#define GW_S3_DIGEST_SHA256 2u

struct gw_s3_digests;

/* 0 or -ENOMEM. @which is a mask of GW_S3_DIGEST_*; @extra an additional
 * checksum or NONE. */
int gw_s3_digests_create(unsigned which, enum gw_s3_cksum_algo extra,
                         struct gw_s3_digests **out);
void gw_s3_digests_destroy(struct gw_s3_digests *d);

/* Adds @len bytes to every digest being computed. */
void gw_s3_digests_update(struct gw_s3_digests *d, const void *data, size_t len);

/* Finishes; the outputs a NULL pointer asks for are skipped. @extra gets
 * gw_s3_cksum_algo_size(extra) bytes. Call once. */
void gw_s3_digests_final(struct gw_s3_digests *d, uint8_t md5[16], uint8_t sha256[32],
                         uint8_t extra[GW_S3_CKSUM_RAW_MAX]);

/* One-shot digest of @algo over @data. */
void gw_s3_cksum_compute(enum gw_s3_cksum_algo algo, const void *data, size_t len,
                         uint8_t out[GW_S3_CKSUM_RAW_MAX]);

/* The CRC32 (zlib polynomial) of the concatenation A||B from crc(A), crc(B)
 * and len(B); likewise CRC32C. For multipart "checksum of checksums" and
 * combining without rereading. */
uint32_t gw_s3_crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
uint32_t gw_s3_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/* Standard base64 with padding. Encode: NUL-terminated into @out (@cap ≥
 * 4*ceil(len/3)+1), returns its length or -ENOSPC. Decode: strict (padding
 * required, no whitespace), returns the byte count or -EINVAL / -ENOSPC. */
int gw_s3_base64_encode(const void *data, size_t len, char *out, size_t cap);
int gw_s3_base64_decode(const char *text, void *out, size_t cap);

/* Lowercase hex of @len bytes, NUL-terminated into @out (2*len+1 bytes). */
void gw_s3_hex(const void *data, size_t len, char *out);

#endif

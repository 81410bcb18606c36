/* The digests of S3 uploads (see checksum.h): MD5 and SHA-256 through
 * OpenSSL's EVP, CRC32 through zlib, CRC32C through common/crc32c.c, CRC
 * combination for multipart checksums, and strict base64 and hex. The HTTP
 * layer feeds bodies through it; comparing with what the client declared
 * (BadDigest, InvalidDigest) is the caller's. */
#include "gateway/s3/checksum.h"

#include "common/assert.h"
#include "common/crc32c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <zlib.h>

static const char *const algo_names[] = {
    [GW_S3_CKSUM_CRC32] = "crc32",
    [GW_S3_CKSUM_CRC32C] = "crc32c",
    [GW_S3_CKSUM_SHA1] = "sha1",
    [GW_S3_CKSUM_SHA256] = "sha256",
};

enum gw_s3_cksum_algo gw_s3_cksum_algo_parse(const char *name)
{
    for (int a = GW_S3_CKSUM_CRC32; a <= GW_S3_CKSUM_SHA256; a++)
        if (strcasecmp(name, algo_names[a]) == 0)
            return (enum gw_s3_cksum_algo)a;
    return GW_S3_CKSUM_NONE;
}

const char *gw_s3_cksum_algo_name(enum gw_s3_cksum_algo algo)
{
    CAIRN_ASSERT(algo >= GW_S3_CKSUM_CRC32 && algo <= GW_S3_CKSUM_SHA256);
    return algo_names[algo];
}

size_t gw_s3_cksum_algo_size(enum gw_s3_cksum_algo algo)
{
    switch (algo) {
    case GW_S3_CKSUM_CRC32:
    case GW_S3_CKSUM_CRC32C:
        return 4;
    case GW_S3_CKSUM_SHA1:
        return 20;
    case GW_S3_CKSUM_SHA256:
        return 32;
    default:
        return 0;
    }
}

/* ---- streaming digests ------------------------------------------------- */

struct gw_s3_digests {
    EVP_MD_CTX *md5, *sha256; /* NULL when not asked for */
    enum gw_s3_cksum_algo extra;
    EVP_MD_CTX *extra_md; /* SHA1 / SHA256 extra */
    uint32_t crc;         /* CRC32 / CRC32C extra, running value */
};

static int md_start(EVP_MD_CTX **ctx, const EVP_MD *md)
{
    *ctx = EVP_MD_CTX_new();
    if (!*ctx || !EVP_DigestInit_ex(*ctx, md, NULL))
        return -ENOMEM;
    return 0;
}

int gw_s3_digests_create(unsigned which, enum gw_s3_cksum_algo extra, struct gw_s3_digests **out)
{
    struct gw_s3_digests *d = calloc(1, sizeof(*d));
    int rc = 0;

    if (!d)
        return -ENOMEM;
    d->extra = extra;
    if (which & GW_S3_DIGEST_MD5)
        rc = md_start(&d->md5, EVP_md5());
    if (rc == 0 && (which & GW_S3_DIGEST_SHA256))
        rc = md_start(&d->sha256, EVP_sha256());
    if (rc == 0 && extra == GW_S3_CKSUM_SHA1)
        rc = md_start(&d->extra_md, EVP_sha1());
    if (rc == 0 && extra == GW_S3_CKSUM_SHA256)
        rc = md_start(&d->extra_md, EVP_sha256());
    if (rc < 0) {
        gw_s3_digests_destroy(d);
        return rc;
    }
    *out = d;
    return 0;
}

void gw_s3_digests_destroy(struct gw_s3_digests *d)
{
    if (!d)
        return;
    EVP_MD_CTX_free(d->md5);
    EVP_MD_CTX_free(d->sha256);
    EVP_MD_CTX_free(d->extra_md);
    free(d);
}

/* zlib's crc32 takes a uInt length; feed it in pieces that fit. */
static uint32_t crc32_long(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return crc;
}

void gw_s3_digests_update(struct gw_s3_digests *d, const void *data, size_t len)
{
    /* EVP_DigestUpdate cannot fail for these software digests once
     * initialized; a failure here would be a broken OpenSSL. */
    int ok = 1;
    if (d->md5)
        ok &= EVP_DigestUpdate(d->md5, data, len);
    if (d->sha256)
        ok &= EVP_DigestUpdate(d->sha256, data, len);
    if (d->extra_md)
        ok &= EVP_DigestUpdate(d->extra_md, data, len);
    CAIRN_ASSERT(ok);
    if (d->extra == GW_S3_CKSUM_CRC32)
        d->crc = crc32_long(d->crc, data, len);
    else if (d->extra == GW_S3_CKSUM_CRC32C)
        d->crc = cairn_crc32c(d->crc, data, len);
}

static void put_be32(uint8_t *out, uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

static void md_final(EVP_MD_CTX *ctx, uint8_t *out)
{
    uint8_t scratch[EVP_MAX_MD_SIZE];
    CAIRN_ASSERT(ctx);
    int ok = EVP_DigestFinal_ex(ctx, out ? out : scratch, NULL);
    CAIRN_ASSERT(ok);
}

void gw_s3_digests_final(struct gw_s3_digests *d, uint8_t md5[16], uint8_t sha256[32],
                         uint8_t extra[GW_S3_CKSUM_RAW_MAX])
{
    if (md5)
        md_final(d->md5, md5);
    if (sha256)
        md_final(d->sha256, sha256);
    if (!extra)
        return;
    if (d->extra_md)
        md_final(d->extra_md, extra);
    else if (d->extra == GW_S3_CKSUM_CRC32 || d->extra == GW_S3_CKSUM_CRC32C)
        put_be32(extra, d->crc);
}

void gw_s3_cksum_compute(enum gw_s3_cksum_algo algo, const void *data, size_t len,
                         uint8_t out[GW_S3_CKSUM_RAW_MAX])
{
    int ok = 1;

    switch (algo) {
    case GW_S3_CKSUM_CRC32:
        put_be32(out, crc32_long(0, data, len));
        break;
    case GW_S3_CKSUM_CRC32C:
        put_be32(out, cairn_crc32c(0, data, len));
        break;
    case GW_S3_CKSUM_SHA1:
        ok = EVP_Digest(data, len, out, NULL, EVP_sha1(), NULL);
        break;
    case GW_S3_CKSUM_SHA256:
        ok = EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL);
        break;
    default:
        CAIRN_ASSERT(!"checksum algorithm");
    }
    CAIRN_ASSERT(ok);
}

/* ---- CRC combination ---------------------------------------------------- *
 * Appending len_b zero bytes to A is a linear map on the CRC register; apply
 * it to crc(A) by repeated squaring of the one-zero-bit operator (zlib's
 * crc32_combine, Mark Adler), then XOR crc(B). */

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
    uint32_t sum = 0;
    for (; vec; vec >>= 1, mat++)
        if (vec & 1)
            sum ^= *mat;
    return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat)
{
    for (int n = 0; n < 32; n++)
        square[n] = gf2_times(mat, mat[n]);
}

static uint32_t crc_combine(uint32_t poly, uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    uint32_t even[32], odd[32];

    if (len_b == 0)
        return crc_a;
    odd[0] = poly; /* the operator for one zero bit */
    uint32_t row = 1;
    for (int n = 1; n < 32; n++, row <<= 1)
        odd[n] = row;
    gf2_square(even, odd); /* two zero bits */
    gf2_square(odd, even); /* four zero bits */
    do {
        gf2_square(even, odd); /* first pass: one zero byte */
        if (len_b & 1)
            crc_a = gf2_times(even, crc_a);
        len_b >>= 1;
        if (!len_b)
            break;
        gf2_square(odd, even);
        if (len_b & 1)
            crc_a = gf2_times(odd, crc_a);
        len_b >>= 1;
    } while (len_b);
    return crc_a ^ crc_b;
}

uint32_t gw_s3_crc32_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    /* zlib's z_off_t may be 32 bits wide; its _64 variant takes off64_t. */
    if (len_b <= 0x7fffffffu)
        return (uint32_t)crc32_combine(crc_a, crc_b, (z_off_t)len_b);
    return crc_combine(0xedb88320u, crc_a, crc_b, len_b);
}

uint32_t gw_s3_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    return crc_combine(0x82f63b78u, crc_a, crc_b, len_b);
}

/* ---- base64 and hex ------------------------------------------------------ */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int gw_s3_base64_encode(const void *data, size_t len, char *out, size_t cap)
{
    const uint8_t *s = data;
    size_t need = (len + 2) / 3 * 4;
    size_t o = 0;

    if (need >= cap || need > 0x7fffffff)
        return -ENOSPC;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return (int)o;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

int gw_s3_base64_decode(const char *text, void *out, size_t cap)
{
    size_t len = strlen(text);
    uint8_t *o = out;
    size_t n = 0;

    if (len % 4 != 0 || len / 4 * 3 > 0x7fffffff)
        return -EINVAL;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
        int v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = k < 4 - pad ? b64_value(text[i + k]) : 0;
            if (v[k] < 0)
                return -EINVAL;
        }
        /* "==" must be both last, and the bits padding drops must be zero
         * (RFC 4648 §3.5: one encoding per value). */
        if (pad == 1 && text[i + 2] == '=')
            return -EINVAL;
        if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15)))
            return -EINVAL;
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        uint8_t bytes[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        size_t take = 3 - (size_t)pad;
        if (cap - n < take)
            return -ENOSPC;
        memcpy(o + n, bytes, take);
        n += take;
    }
    return (int)n;
}

void gw_s3_hex(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *s = data;

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[s[i] >> 4];
        out[2 * i + 1] = digits[s[i] & 15];
    }
    out[2 * len] = '\0';
}

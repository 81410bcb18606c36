/* The request-body pipeline of cairn-s3: HTTP body bytes -> aws-chunked
 * decoding (when x-amz-content-sha256 says STREAMING-*) -> the digests
 * (MD5 for the ETag and Content-MD5, SHA-256 when the payload hash was
 * signed, the one additional x-amz-checksum-* declared) -> the consumer (a
 * stripe sink for uploads, or memory for XML bodies). Everything is
 * computed once, while the bytes stream through; nothing is acknowledged
 * before every declared digest matched. */
#include "gateway/s3/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common/assert.h"

/* Errors that end a body early, reported by done(): -EPIPE IncompleteBody,
 * -EBADMSG bad framing, -EACCES bad chunk signature, -EFBIG too large. */

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char hi = s[2 * i], lo = s[2 * i + 1];
        out[i] = (uint8_t)(((hi <= '9' ? hi - '0' : hi - 'a' + 10) << 4) |
                           (lo <= '9' ? lo - '0' : lo - 'a' + 10));
    }
}

/* The additional checksum the request declares: x-amz-checksum-ALGO as a
 * header (its value kept), or named by x-amz-trailer / x-amz-sdk-checksum-
 * algorithm. -EINVAL for a malformed declaration. */
static int declared_checksum(struct s3_req *r)
{
    static const enum gw_s3_cksum_algo algos[] = {GW_S3_CKSUM_CRC32, GW_S3_CKSUM_CRC32C,
                                                  GW_S3_CKSUM_SHA1, GW_S3_CKSUM_SHA256};
    struct s3_body *b = &r->body;
    const char *trailer = s3__header(r, "x-amz-trailer");

    for (size_t i = 0; i < sizeof(algos) / sizeof(algos[0]); i++) {
        char name[40];
        const char *v;
        snprintf(name, sizeof(name), "x-amz-checksum-%s", gw_s3_cksum_algo_name(algos[i]));
        v = s3__header(r, name);
        if (v) {
            if (b->extra || strlen(v) >= sizeof(b->extra_header))
                return -EINVAL;
            b->extra = algos[i];
            snprintf(b->extra_header, sizeof(b->extra_header), "%s", v);
        }
        if (trailer && strcasecmp(trailer, name) == 0) {
            if (b->extra && b->extra != algos[i])
                return -EINVAL;
            b->extra = algos[i];
        }
    }
    if (trailer && !b->extra)
        return -EINVAL;
    return 0;
}

/* Sets up the pipeline from the request's headers. 0 or an S3 code. */
static const char *body_setup(struct s3_req *r)
{
    struct s3_body *b = &r->body;
    const char *hash = s3__header(r, "x-amz-content-sha256");
    const char *md5 = s3__header(r, "Content-MD5");
    const char *dlen = s3__header(r, "x-amz-decoded-content-length");
    unsigned which = GW_S3_DIGEST_MD5;

    b->chunked = hash ? gw_s3_chunked_mode_of(hash) : 0;
    if (declared_checksum(r) < 0)
        return "InvalidRequest";
    if (hash && is_hex64(hash) && r->auth.kind == GW_S3_AUTH_HEADER) {
        b->want_sha256 = true;
        unhex(hash, b->sha256_expect, 32);
        which |= GW_S3_DIGEST_SHA256;
    }
    if (md5) {
        if (gw_s3_base64_decode(md5, b->md5_expect, sizeof(b->md5_expect)) != 16)
            return "InvalidDigest";
        b->have_md5 = true;
    }
    if (b->chunked) {
        char scope[GW_S3_SCOPE_MAX];
        uint8_t key[GW_S3_KEY_LEN];
        char *end;
        if (!dlen)
            return "MissingContentLength";
        b->declared = strtoull(dlen, &end, 10);
        if (*end || !*dlen || dlen[0] == '-')
            return "InvalidArgument";
        b->has_declared = true;
        gw_s3_sigv4_scope(&r->auth, scope);
        gw_s3_sigv4_signing_key(r->user.secret, r->auth.date, r->auth.region,
                                r->auth.service, key);
        gw_s3_chunked_init(&b->dec, b->chunked, key, r->auth.amz_date, scope,
                           r->auth.signature);
        OPENSSL_cleanse(key, sizeof(key));
    } else if (r->head->has_content_length) {
        b->declared = r->head->content_length;
        b->has_declared = true;
    } else if (!r->head->chunked) {
        b->has_declared = true; /* no body at all */
    }
    if (gw_s3_digests_create(which, b->extra, &b->digests) < 0)
        return "InternalError";
    return NULL;
}

static int mem_consume(struct s3_req *r, const void *data, size_t len)
{
    struct s3_body *b = &r->body;

    if (len > b->mem_cap - b->mem_len)
        return -EFBIG;
    memcpy(b->mem + b->mem_len, data, len);
    b->mem_len += len;
    return 0;
}

static void body_finish(struct s3_req *r, int err)
{
    struct s3_body *b = &r->body;

    if (b->ended)
        return;
    b->ended = true;
    b->done(r, err);
}

void s3__body_read(struct s3_req *r, int (*consume)(struct s3_req *, const void *, size_t),
                   size_t mem_max, s3_body_done_fn done)
{
    struct s3_body *b = &r->body;
    const char *code;

    CAIRN_ASSERT(!b->consume);
    b->done = done;
    code = body_setup(r);
    if (code) {
        b->ended = true;
        s3__error(r, code, NULL);
        return;
    }
    if (b->has_declared && b->declared > (consume ? S3_PUT_MAX : mem_max)) {
        b->ended = true;
        s3__error(r, "EntityTooLarge", NULL);
        return;
    }
    if (!consume) {
        b->mem_cap = b->has_declared ? (size_t)b->declared : mem_max;
        b->mem = malloc(b->mem_cap + 1);
        if (!b->mem) {
            b->ended = true;
            s3__error(r, "InternalError", NULL);
            return;
        }
        consume = mem_consume;
    }
    b->consume = consume;
    gw_http_req_read_body(r->http);
}

void s3__body_resume(struct s3_req *r)
{
    if (r->http && !r->body.ended)
        gw_http_req_resume_body(r->http);
}

/* Decoded payload: digests, then the consumer. */
static int payload(void *arg, const void *data, size_t len)
{
    struct s3_req *r = arg;
    struct s3_body *b = &r->body;
    int rc;

    if (b->has_declared && len > b->declared - b->received)
        return -EFBIG;
    b->received += len;
    gw_s3_digests_update(b->digests, data, len);
    rc = b->consume(r, data, len);
    if (rc == 1)
        b->pause = true; /* the decoder goes on; HTTP pauses after this piece */
    return rc < 0 ? rc : 0;
}

int s3__body_on_data(struct s3_req *r, const void *data, size_t len)
{
    struct s3_body *b = &r->body;
    int rc, pause;

    if (!r || b->ended)
        return 0;
    if (b->chunked) {
        size_t used = 0;
        rc = gw_s3_chunked_feed(&b->dec, data, len, &used, payload, r);
        if (rc == 1 && used != len)
            rc = -EBADMSG; /* bytes after the final chunk */
    } else {
        rc = payload(r, data, len);
    }
    if (rc < 0) {
        body_finish(r, rc);
        return 1;
    }
    pause = b->pause;
    b->pause = false;
    return pause;
}

static int check_digests(struct s3_req *r)
{
    struct s3_body *b = &r->body;
    size_t n = gw_s3_cksum_algo_size(b->extra);
    const char *want;

    gw_s3_digests_final(b->digests, b->md5, b->want_sha256 ? b->sha256 : NULL,
                        b->extra ? b->extra_raw : NULL);
    if (b->want_sha256 && CRYPTO_memcmp(b->sha256, b->sha256_expect, 32) != 0)
        return -EREMOTEIO; /* XAmzContentSHA256Mismatch */
    if (b->have_md5 && CRYPTO_memcmp(b->md5, b->md5_expect, 16) != 0)
        return -EILSEQ; /* BadDigest */
    if (!b->extra)
        return 0;
    gw_s3_base64_encode(b->extra_raw, n, b->extra_b64, sizeof(b->extra_b64));
    want = b->extra_header[0] ? b->extra_header : NULL;
    if (!want && b->chunked) {
        char name[40];
        snprintf(name, sizeof(name), "x-amz-checksum-%s", gw_s3_cksum_algo_name(b->extra));
        want = gw_s3_chunked_trailer(&b->dec, name);
    }
    if (!want)
        return -ENOMSG; /* declared in x-amz-trailer, never sent */
    return strcmp(want, b->extra_b64) == 0 ? 0 : -EILSEQ;
}

void s3__body_on_end(struct s3_req *r)
{
    struct s3_body *b = &r->body;
    int rc;

    if (!r || b->ended)
        return;
    if (b->chunked && gw_s3_chunked_feed(&b->dec, "", 0, &(size_t){0}, payload, r) != 1) {
        body_finish(r, -EPIPE);
        return;
    }
    if (b->has_declared && b->received != b->declared) {
        body_finish(r, -EPIPE);
        return;
    }
    rc = check_digests(r);
    body_finish(r, rc);
}

/* The S3 code for a body error passed to done(). */
const char *s3__body_error_code(int err)
{
    switch (err) {
    case -EPIPE:
        return "IncompleteBody";
    case -EBADMSG:
        return "IncompleteBody";
    case -EACCES:
        return "SignatureDoesNotMatch";
    case -EFBIG:
        return "EntityTooLarge";
    case -EREMOTEIO:
        return "XAmzContentSHA256Mismatch";
    case -EILSEQ:
        return "BadDigest";
    case -ENOMSG:
        return "InvalidRequest";
    default:
        return s3__errno_code(err);
    }
}

/* AWS Signature Version 4 for the S3 gateway: parse the credentials of a
 * request (Authorization header or presigned-URL query), rebuild its
 * canonical request, and verify its signature; plus the chunk signatures of
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD bodies. Pure functions over a request
 * view: no I/O, no allocation, no logging, no wall clock (the caller passes
 * the time). The HTTP layer fills struct gw_s3_request and maps the returned
 * -errno to an S3 error with gw_s3_sigv4_error_code(). Any thread. */
#ifndef CAIRN_GATEWAY_S3_SIGV4_H
#define CAIRN_GATEWAY_S3_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Bounds on what a request may carry (longer input is malformed). */
#define GW_S3_ACCESS_KEY_MAX 128u    /* access key id, bytes */
#define GW_S3_REGION_MAX 32u         /* scope region, bytes */
#define GW_S3_SERVICE_MAX 16u        /* scope service, bytes */
#define GW_S3_SIGNED_HEADERS_MAX 32u /* names in SignedHeaders */
#define GW_S3_SIGNED_LIST_MAX 1024u  /* SignedHeaders text, bytes */
#define GW_S3_AUTH_HEADER_MAX 2048u  /* Authorization header value, bytes */
#define GW_S3_QUERY_PARAMS_MAX 128u  /* parameters in a query string */
#define GW_S3_SIG_HEX_LEN 64u        /* hex of a SHA-256 / HMAC-SHA256 */
#define GW_S3_KEY_LEN 32u            /* a derived signing key, bytes */
#define GW_S3_EXPIRES_MAX 604800u    /* presigned URL lifetime limit, s */
#define GW_S3_SKEW_MAX_S 900         /* header auth: allowed clock skew */
#define GW_S3_SECRET_MAX 128u        /* secret access key, bytes (ours, not the client's) */

/* Payload hashes with a meaning of their own (x-amz-content-sha256). */
#define GW_S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define GW_S3_STREAMING_PAYLOAD "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define GW_S3_STREAMING_UNSIGNED_TRAILER "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

/* One header as received; names compare case-insensitively. */
struct gw_s3_header {
    const char *name;  /* NUL-terminated, as sent */
    const char *value; /* NUL-terminated, as sent (not yet trimmed) */
};

/* A view of a request, borrowed from the HTTP layer for the duration of a
 * call. Nothing is copied or kept. */
struct gw_s3_request {
    const char *method;                 /* "GET", "PUT", ... */
    const char *path;                   /* raw path as sent, percent-encoded */
    const char *query;                  /* raw query without '?', or "" */
    const struct gw_s3_header *headers; /* in the order received */
    size_t header_count;
    const char *payload_hash; /* x-amz-content-sha256 value, or NULL */
};

enum gw_s3_auth_kind {
    GW_S3_AUTH_HEADER = 1, /* Authorization: AWS4-HMAC-SHA256 ... */
    GW_S3_AUTH_QUERY = 2,  /* presigned URL: X-Amz-Algorithm=... */
};

/* The parsed credentials of one request; copies, so it outlives the request.
 * The strings are NUL-terminated and validated by the parser. */
struct gw_s3_auth {
    enum gw_s3_auth_kind kind;
    char access_key[GW_S3_ACCESS_KEY_MAX + 1];      /* look up the secret with this */
    char date[9];                                   /* scope date, YYYYMMDD */
    char region[GW_S3_REGION_MAX + 1];              /* scope region */
    char service[GW_S3_SERVICE_MAX + 1];            /* scope service, always "s3" */
    char signed_headers[GW_S3_SIGNED_LIST_MAX + 1]; /* "host;x-amz-date", lowercase */
    size_t signed_count;                            /* names in signed_headers */
    char signature[GW_S3_SIG_HEX_LEN + 1];          /* lowercase hex */
    char amz_date[17];                              /* YYYYMMDDTHHMMSSZ */
    time_t amz_time;                                /* amz_date as seconds since the epoch */
    uint32_t expires_s;                             /* X-Amz-Expires (query only), else 0 */
};

/* Parses an Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=...") into @out; leaves amz_date empty (it
 * comes from the x-amz-date or Date header: see gw_s3_sigv4_parse). 0, or -EINVAL
 * with *@reason set to a static one-line explanation; @out is then
 * unspecified. */
int gw_s3_sigv4_parse_header(const char *value, struct gw_s3_auth *out, const char **reason);

/* Parses the X-Amz-* parameters of a presigned URL's raw query string into
 * @out. 0, or -EBADMSG with *@reason set (missing or repeated parameter,
 * bad credential, date or expiry). */
int gw_s3_sigv4_parse_query(const char *query, struct gw_s3_auth *out, const char **reason);

/* Parses the credentials of @req: the Authorization header if there is one
 * (the request time from its x-amz-date header, else from an HTTP Date
 * header), otherwise the presigned query. Also checks
 * that the signed headers include "host" (and "x-amz-date" or "date" for
 * header auth) and, for header auth, that x-amz-content-sha256 is present
 * and well formed. 0; -ENOENT when the request carries no SigV4 credentials
 * (anonymous); -EINVAL (header) or -EBADMSG (query) when malformed, with
 * *@reason set. */
int gw_s3_sigv4_parse(const struct gw_s3_request *req, struct gw_s3_auth *out, const char **reason);

/* The signing key, HMAC chain over "AWS4" + @secret, @date (YYYYMMDD),
 * @region, @service and "aws4_request". Derive it once per request and reuse
 * it for chunk signatures; wipe it (OPENSSL_cleanse) when done. @secret is at
 * most GW_S3_SECRET_MAX bytes (asserted: secrets come from our user store). */
void gw_s3_sigv4_signing_key(const char *secret, const char *date, const char *region,
                             const char *service, uint8_t key[GW_S3_KEY_LEN]);

/* The canonical request of @req under @auth, NUL-terminated, into @buf.
 * Returns its length, or -ENOSPC when it does not fit @cap (with the NUL),
 * or -EINVAL (-EBADMSG for a presigned query) when the query string has more
 * than GW_S3_QUERY_PARAMS_MAX parameters. For tests and debugging; signing
 * streams it into SHA-256 without a buffer. */
int gw_s3_sigv4_canonical_request(const struct gw_s3_request *req, const struct gw_s3_auth *auth,
                                  char *buf, size_t cap);

/* The signature @req should carry under @auth with @secret: lowercase hex
 * into @out. 0, or the errors of gw_s3_sigv4_canonical_request except
 * -ENOSPC. Also the seed signature of a streaming upload. */
int gw_s3_sigv4_sign(const struct gw_s3_request *req, const struct gw_s3_auth *auth,
                     const char *secret, char out[GW_S3_SIG_HEX_LEN + 1]);

/* Verifies @req, parsed into @auth, against @secret at @now (seconds since
 * the epoch). 0 when the signature matches (constant-time comparison);
 * -EACCES signature mismatch; -ERANGE header auth more than 15 minutes from
 * @now; -EKEYEXPIRED presigned URL expired (or not yet valid); -EINVAL /
 * -EBADMSG malformed (query has too many parameters). *@reason is set on
 * every error. */
int gw_s3_sigv4_verify(const struct gw_s3_request *req, const struct gw_s3_auth *auth,
                       const char *secret, time_t now, const char **reason);

/* The credential scope "DATE/REGION/SERVICE/aws4_request" of @auth into
 * @out (always fits: sized by the bounds above). */
#define GW_S3_SCOPE_MAX (8 + 1 + GW_S3_REGION_MAX + 1 + GW_S3_SERVICE_MAX + 13 + 1)
void gw_s3_sigv4_scope(const struct gw_s3_auth *auth, char out[GW_S3_SCOPE_MAX]);

/* The signature of one chunk of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body:
 * HMAC(@key, "AWS4-HMAC-SHA256-PAYLOAD\n" amz_date "\n" scope "\n" prev "\n"
 * hex(sha256("")) "\n" hex(@chunk_sha256)), lowercase hex into @out. @prev is
 * the seed signature for the first chunk, then the previous chunk's. */
void gw_s3_sigv4_chunk_signature(const uint8_t key[GW_S3_KEY_LEN], const char *amz_date,
                                 const char *scope, const char *prev,
                                 const uint8_t chunk_sha256[32], char out[GW_S3_SIG_HEX_LEN + 1]);

/* The S3 error <Code> for an error returned above: -EACCES
 * "SignatureDoesNotMatch", -ERANGE "RequestTimeTooSkewed", -EKEYEXPIRED and
 * -ENOENT "AccessDenied", -EINVAL "AuthorizationHeaderMalformed", -EBADMSG
 * "AuthorizationQueryParametersError", anything else "InternalError". The
 * one errno-to-S3 mapping of this module; the HTTP layer adds the XML. */
const char *gw_s3_sigv4_error_code(int err);

#endif

/* AWS Signature Version 4 (see sigv4.h): the parsers of the Authorization
 * header and the presigned query, the canonical request as S3 defines it,
 * signing-key derivation, verification and chunk signatures. The HTTP layer
 * (later gateway/s3/) calls it; user lookup and the payload hash check are
 * left to it. Spec: AWS S3 API Reference, "Authenticating Requests (AWS
 * Signature Version 4)". Secrets and keys are wiped and never logged. */
#define _GNU_SOURCE /* strchrnul, timegm */
#include "gateway/s3/sigv4.h"

#include "common/assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
/* hex(sha256("")), the empty-chunk hash of the streaming string to sign. */
#define EMPTY_SHA256_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char hexdig[] = "0123456789ABCDEF";

/* ---- small helpers ---------------------------------------------------- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static bool is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void to_hex(const uint8_t *in, size_t n, char *out)
{
    static const char lower[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = lower[in[i] >> 4];
        out[2 * i + 1] = lower[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* HMAC() fails only when OpenSSL cannot allocate; a signature must never
 * silently come out as a predictable value, so that is fatal (as auth.c). */
static void hmac(const void *key, size_t key_len, const void *msg, size_t n,
                 uint8_t out[GW_S3_KEY_LEN])
{
    unsigned int out_len = 0;
    const uint8_t *mac = HMAC(EVP_sha256(), key, (int)key_len, msg, n, out, &out_len);
    CAIRN_ASSERT(mac != NULL);
    CAIRN_ASSERT(out_len == GW_S3_KEY_LEN);
}

/* Parses YYYYMMDD (@n == 8) or YYYYMMDDTHHMMSSZ (@n == 16) into @t; false
 * when malformed or not a real calendar time (round trip through gmtime). */
static bool parse_time(const char *s, size_t n, time_t *t)
{
    struct tm tm = {0}, back;
    if (n != 8 && n != 16)
        return false;
    if (!is_digits(s, 8))
        return false;
    if (n == 16 && (s[8] != 'T' || !is_digits(s + 9, 6) || s[15] != 'Z'))
        return false;
    tm.tm_year = atoi((char[]){s[0], s[1], s[2], s[3], 0}) - 1900;
    tm.tm_mon = atoi((char[]){s[4], s[5], 0}) - 1;
    tm.tm_mday = atoi((char[]){s[6], s[7], 0});
    if (n == 16) {
        tm.tm_hour = atoi((char[]){s[9], s[10], 0});
        tm.tm_min = atoi((char[]){s[11], s[12], 0});
        tm.tm_sec = atoi((char[]){s[13], s[14], 0});
    }
    struct tm want = tm;
    *t = timegm(&tm);
    if (*t == (time_t)-1 || !gmtime_r(t, &back))
        return false;
    return back.tm_year == want.tm_year && back.tm_mon == want.tm_mon &&
           back.tm_mday == want.tm_mday && back.tm_hour == want.tm_hour &&
           back.tm_min == want.tm_min && back.tm_sec == want.tm_sec;
}

/* ---- output sink: SHA-256 and/or a caller buffer ------------------------ */

struct sink {
    EVP_MD_CTX *md;  /* or NULL */
    char *buf;       /* or NULL */
    size_t cap;      /* of buf */
    size_t len;      /* bytes written so far (even past cap) */
    char stage[256]; /* batches bytes for the digest */
    size_t staged;
};

static void sink_flush(struct sink *s)
{
    if (s->md && s->staged) {
        CAIRN_ASSERT(EVP_DigestUpdate(s->md, s->stage, s->staged) == 1);
    }
    s->staged = 0;
}

static void sink_put(struct sink *s, const char *p, size_t n)
{
    if (s->buf && s->len < s->cap)
        memcpy(s->buf + s->len, p, CAIRN_MIN(n, s->cap - s->len));
    s->len += n;
    if (!s->md)
        return;
    if (s->staged + n > sizeof(s->stage))
        sink_flush(s);
    if (n > sizeof(s->stage)) {
        CAIRN_ASSERT(EVP_DigestUpdate(s->md, p, n) == 1);
        return;
    }
    memcpy(s->stage + s->staged, p, n);
    s->staged += n;
}

static void sink_str(struct sink *s, const char *str)
{
    sink_put(s, str, strlen(str));
}

static void sink_char(struct sink *s, char c)
{
    sink_put(s, &c, 1);
}

static void sink_pct(struct sink *s, unsigned char c)
{
    char e[3] = {'%', hexdig[c >> 4], hexdig[c & 15]};
    sink_put(s, e, 3);
}

/* ---- query strings ------------------------------------------------------ */

struct param {
    const char *name;
    size_t name_len;
    const char *value; /* raw, still percent-encoded */
    size_t value_len;
};

/* Splits @query on '&' into @out (empty segments skipped; a segment without
 * '=' has an empty value). Returns the count, or -1 when there are more than
 * GW_S3_QUERY_PARAMS_MAX. */
static int split_query(const char *query, struct param out[GW_S3_QUERY_PARAMS_MAX])
{
    size_t n = 0;
    const char *p = query ? query : "";
    while (*p) {
        const char *end = strchrnul(p, '&');
        if (end > p) {
            if (n == GW_S3_QUERY_PARAMS_MAX)
                return -1;
            const char *eq = memchr(p, '=', (size_t)(end - p));
            out[n].name = p;
            out[n].name_len = eq ? (size_t)(eq - p) : (size_t)(end - p);
            out[n].value = eq ? eq + 1 : end;
            out[n].value_len = eq ? (size_t)(end - eq - 1) : 0;
            n++;
        }
        p = *end ? end + 1 : end;
    }
    return (int)n;
}

/* Walks a raw query component as its canonical form: percent-decoded (a '%'
 * not followed by two hex digits stands for itself), then re-encoded with
 * the AWS rules: unreserved bytes as is, everything else %XX uppercase. */
struct enc_iter {
    const char *p, *end;
    char pend[2]; /* hex digits still to yield */
    int npend;
};

static void enc_init(struct enc_iter *it, const char *p, size_t n)
{
    it->p = p;
    it->end = p + n;
    it->npend = 0;
}

static int decode_next(const char **pp, const char *end)
{
    const char *p = *pp;
    if (p == end)
        return -1;
    if (*p == '%' && end - p >= 3 && hexval((unsigned char)p[1]) >= 0 &&
        hexval((unsigned char)p[2]) >= 0) {
        *pp = p + 3;
        return hexval((unsigned char)p[1]) * 16 + hexval((unsigned char)p[2]);
    }
    *pp = p + 1;
    return (unsigned char)*p;
}

static int enc_next(struct enc_iter *it)
{
    if (it->npend) {
        char c = it->pend[2 - it->npend];
        it->npend--;
        return (unsigned char)c;
    }
    int c = decode_next(&it->p, it->end);
    if (c < 0 || is_unreserved((unsigned char)c))
        return c;
    it->pend[0] = hexdig[c >> 4];
    it->pend[1] = hexdig[c & 15];
    it->npend = 2;
    return '%';
}

static int enc_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    struct enc_iter ia, ib;
    enc_init(&ia, a, alen);
    enc_init(&ib, b, blen);
    for (;;) {
        int ca = enc_next(&ia), cb = enc_next(&ib);
        if (ca != cb)
            return ca < cb ? -1 : 1;
        if (ca < 0)
            return 0;
    }
}

static int param_cmp(const void *x, const void *y)
{
    const struct param *a = x, *b = y;
    int r = enc_cmp(a->name, a->name_len, b->name, b->name_len);
    return r ? r : enc_cmp(a->value, a->value_len, b->value, b->value_len);
}

static void sink_encoded(struct sink *s, const char *p, size_t n)
{
    struct enc_iter it;
    int c;
    enc_init(&it, p, n);
    while ((c = enc_next(&it)) >= 0)
        sink_char(s, (char)c);
}

/* Decodes a raw component into @out (NUL-terminated). False when it does
 * not fit in @cap or decodes to a NUL byte. */
static bool decode_into(const char *p, size_t n, char *out, size_t cap)
{
    const char *end = p + n;
    size_t len = 0;
    int c;
    while ((c = decode_next(&p, end)) >= 0) {
        if (c == 0 || len + 1 >= cap)
            return false;
        out[len++] = (char)c;
    }
    out[len] = '\0';
    return true;
}

static bool decoded_equals(const char *p, size_t n, const char *want)
{
    char buf[32];
    return decode_into(p, n, buf, sizeof(buf)) && strcmp(buf, want) == 0;
}

/* ---- the canonical request ------------------------------------------------ */

/* S3 signs the path as sent, without normalizing or double-encoding it:
 * existing %XX escapes stay (hex uppercased), '/' stays, and any other byte
 * outside the unreserved set is escaped. */
static void sink_uri(struct sink *s, const char *path)
{
    const unsigned char *p = (const unsigned char *)(path ? path : "");
    if (!*p) {
        sink_char(s, '/');
        return;
    }
    for (; *p; p++) {
        if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            char e[3] = {'%', hexdig[hexval(p[1])], hexdig[hexval(p[2])]};
            sink_put(s, e, 3);
            p += 2;
        } else if (is_unreserved(*p) || *p == '/') {
            sink_char(s, (char)*p);
        } else {
            sink_pct(s, *p);
        }
    }
}

static int sink_query(struct sink *s, const struct gw_s3_request *req,
                      const struct gw_s3_auth *auth)
{
    struct param params[GW_S3_QUERY_PARAMS_MAX];
    int n = split_query(req->query, params);
    bool first = true;
    if (n < 0)
        return auth->kind == GW_S3_AUTH_QUERY ? -EBADMSG : -EINVAL;
    qsort(params, (size_t)n, sizeof(params[0]), param_cmp);
    for (int i = 0; i < n; i++) {
        if (auth->kind == GW_S3_AUTH_QUERY &&
            decoded_equals(params[i].name, params[i].name_len, "X-Amz-Signature"))
            continue;
        if (!first)
            sink_char(s, '&');
        first = false;
        sink_encoded(s, params[i].name, params[i].name_len);
        sink_char(s, '=');
        sink_encoded(s, params[i].value, params[i].value_len);
    }
    return 0;
}

/* One header value, trimmed, with inner runs of spaces and tabs collapsed to
 * one space (SigV4 "Trimall"). */
static void sink_trimmed(struct sink *s, const char *v)
{
    bool space = false, any = false;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            space = any;
            continue;
        }
        if (space)
            sink_char(s, ' ');
        sink_char(s, *v);
        space = false;
        any = true;
    }
}

/* "name:value\n" for one signed header; repeated headers join with ','. */
static void sink_header(struct sink *s, const struct gw_s3_request *req, const char *name,
                        size_t name_len)
{
    bool first = true;
    sink_put(s, name, name_len);
    sink_char(s, ':');
    for (size_t i = 0; i < req->header_count; i++) {
        const struct gw_s3_header *h = &req->headers[i];
        if (strlen(h->name) != name_len || strncasecmp(h->name, name, name_len) != 0)
            continue;
        if (!first)
            sink_char(s, ',');
        first = false;
        sink_trimmed(s, h->value);
    }
    sink_char(s, '\n');
}

static int sink_canonical(struct sink *s, const struct gw_s3_request *req,
                          const struct gw_s3_auth *auth)
{
    const char *name = auth->signed_headers;
    sink_str(s, req->method);
    sink_char(s, '\n');
    sink_uri(s, req->path);
    sink_char(s, '\n');
    int rc = sink_query(s, req, auth);
    if (rc < 0)
        return rc;
    sink_char(s, '\n');
    while (*name) {
        const char *end = strchrnul(name, ';');
        sink_header(s, req, name, (size_t)(end - name));
        name = *end ? end + 1 : end;
    }
    sink_char(s, '\n');
    sink_str(s, auth->signed_headers);
    sink_char(s, '\n');
    if (auth->kind == GW_S3_AUTH_QUERY || !req->payload_hash)
        sink_str(s, GW_S3_UNSIGNED_PAYLOAD);
    else
        sink_str(s, req->payload_hash);
    return 0;
}

int gw_s3_sigv4_canonical_request(const struct gw_s3_request *req, const struct gw_s3_auth *auth,
                                  char *buf, size_t cap)
{
    struct sink s = {.buf = buf, .cap = cap};
    int rc = sink_canonical(&s, req, auth);
    if (rc < 0)
        return rc;
    if (s.len >= cap || s.len > INT32_MAX)
        return -ENOSPC;
    buf[s.len] = '\0';
    return (int)s.len;
}

/* ---- signing -------------------------------------------------------------- */

void gw_s3_sigv4_signing_key(const char *secret, const char *date, const char *region,
                             const char *service, uint8_t key[GW_S3_KEY_LEN])
{
    char k0[4 + GW_S3_SECRET_MAX];
    uint8_t k[GW_S3_KEY_LEN];
    size_t n = strlen(secret);
    CAIRN_ASSERT(n <= GW_S3_SECRET_MAX);
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, n);
    hmac(k0, 4 + n, date, strlen(date), k);
    hmac(k, sizeof(k), region, strlen(region), key);
    hmac(key, GW_S3_KEY_LEN, service, strlen(service), k);
    hmac(k, sizeof(k), TERMINATOR, strlen(TERMINATOR), key);
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(k, sizeof(k));
}

void gw_s3_sigv4_scope(const struct gw_s3_auth *auth, char out[GW_S3_SCOPE_MAX])
{
    int n = snprintf(out, GW_S3_SCOPE_MAX, "%s/%s/%s/" TERMINATOR, auth->date, auth->region,
                     auth->service);
    CAIRN_ASSERT(n > 0 && (size_t)n < GW_S3_SCOPE_MAX);
}

/* hex(sha256(canonical request)) into @out. */
static int canonical_hash(const struct gw_s3_request *req, const struct gw_s3_auth *auth,
                          char out[GW_S3_SIG_HEX_LEN + 1])
{
    struct sink s = {.md = EVP_MD_CTX_new()};
    uint8_t digest[32];
    unsigned int len = 0;
    CAIRN_ASSERT(s.md != NULL); /* allocation failure only, as hmac() */
    CAIRN_ASSERT(EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) == 1);
    int rc = sink_canonical(&s, req, auth);
    if (rc == 0) {
        sink_flush(&s);
        CAIRN_ASSERT(EVP_DigestFinal_ex(s.md, digest, &len) == 1 && len == sizeof(digest));
        to_hex(digest, sizeof(digest), out);
    }
    EVP_MD_CTX_free(s.md);
    return rc;
}

int gw_s3_sigv4_sign(const struct gw_s3_request *req, const struct gw_s3_auth *auth,
                     const char *secret, char out[GW_S3_SIG_HEX_LEN + 1])
{
    char sts[sizeof(ALGORITHM) + sizeof(auth->amz_date) + GW_S3_SCOPE_MAX + GW_S3_SIG_HEX_LEN + 4];
    char scope[GW_S3_SCOPE_MAX], hash[GW_S3_SIG_HEX_LEN + 1];
    uint8_t key[GW_S3_KEY_LEN], mac[GW_S3_KEY_LEN];
    int rc = canonical_hash(req, auth, hash);
    if (rc < 0)
        return rc;
    gw_s3_sigv4_scope(auth, scope);
    int n = snprintf(sts, sizeof(sts), ALGORITHM "\n%s\n%s\n%s", auth->amz_date, scope, hash);
    CAIRN_ASSERT(n > 0 && (size_t)n < sizeof(sts));
    gw_s3_sigv4_signing_key(secret, auth->date, auth->region, auth->service, key);
    hmac(key, sizeof(key), sts, (size_t)n, mac);
    to_hex(mac, sizeof(mac), out);
    OPENSSL_cleanse(key, sizeof(key));
    return 0;
}

void gw_s3_sigv4_chunk_signature(const uint8_t key[GW_S3_KEY_LEN], const char *amz_date,
                                 const char *scope, const char *prev,
                                 const uint8_t chunk_sha256[32], char out[GW_S3_SIG_HEX_LEN + 1])
{
    char sts[32 + 17 + GW_S3_SCOPE_MAX + 3 * (GW_S3_SIG_HEX_LEN + 1) + 8];
    char chunk_hex[GW_S3_SIG_HEX_LEN + 1];
    uint8_t mac[GW_S3_KEY_LEN];
    to_hex(chunk_sha256, 32, chunk_hex);
    int n =
        snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n" EMPTY_SHA256_HEX "\n%s",
                 amz_date, scope, prev, chunk_hex);
    CAIRN_ASSERT(n > 0 && (size_t)n < sizeof(sts));
    hmac(key, GW_S3_KEY_LEN, sts, (size_t)n, mac);
    to_hex(mac, sizeof(mac), out);
}

int gw_s3_sigv4_verify(const struct gw_s3_request *req, const struct gw_s3_auth *auth,
                       const char *secret, time_t now, const char **reason)
{
    char want[GW_S3_SIG_HEX_LEN + 1];
    if (auth->kind == GW_S3_AUTH_HEADER) {
        if (now - auth->amz_time > GW_S3_SKEW_MAX_S || auth->amz_time - now > GW_S3_SKEW_MAX_S) {
            *reason = "the difference between the request time and the server's time is too large";
            return -ERANGE;
        }
    } else {
        if (now - auth->amz_time > (time_t)auth->expires_s) {
            *reason = "Request has expired";
            return -EKEYEXPIRED;
        }
        if (auth->amz_time - now > GW_S3_SKEW_MAX_S) {
            *reason = "Request is not valid yet";
            return -EKEYEXPIRED;
        }
    }
    int rc = gw_s3_sigv4_sign(req, auth, secret, want);
    if (rc < 0) {
        *reason = "too many query parameters";
        return rc;
    }
    if (CRYPTO_memcmp(want, auth->signature, GW_S3_SIG_HEX_LEN) != 0) {
        *reason = "the request signature we calculated does not match the signature you provided";
        return -EACCES;
    }
    return 0;
}

/* ---- parsing ---------------------------------------------------------------- */

static bool key_char_ok(char c)
{
    return is_unreserved((unsigned char)c) && c != '~';
}

/* Copies [p, p + n) into @out of @cap bytes (with NUL) when every byte
 * passes @ok and it is not empty; false otherwise. */
static bool copy_field(const char *p, size_t n, char *out, size_t cap, bool (*ok)(char))
{
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!ok(p[i]))
            return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* "AKID/YYYYMMDD/REGION/s3/aws4_request" (already decoded). */
static bool parse_credential(const char *p, size_t n, struct gw_s3_auth *out, const char **reason)
{
    const char *part[5];
    size_t len[5], k = 0;
    const char *end = p + n, *q = p;
    time_t t;
    while (k < 5) {
        const char *slash = memchr(q, '/', (size_t)(end - q));
        part[k] = q;
        len[k] = (size_t)((slash ? slash : end) - q);
        k++;
        if (!slash)
            break;
        q = slash + 1;
    }
    if (k != 5 || part[4] + len[4] != end) {
        *reason = "Credential must have five '/'-separated parts";
        return false;
    }
    if (!copy_field(part[0], len[0], out->access_key, sizeof(out->access_key), key_char_ok)) {
        *reason = "bad access key id in Credential";
        return false;
    }
    if (len[1] != 8 || !parse_time(part[1], 8, &t)) {
        *reason = "bad date in Credential: expected YYYYMMDD";
        return false;
    }
    memcpy(out->date, part[1], 8);
    out->date[8] = '\0';
    if (!copy_field(part[2], len[2], out->region, sizeof(out->region), key_char_ok)) {
        *reason = "bad region in Credential";
        return false;
    }
    if (len[3] != 2 || memcmp(part[3], "s3", 2) != 0) {
        *reason = "Credential service must be s3";
        return false;
    }
    memcpy(out->service, "s3", 3);
    if (len[4] != strlen(TERMINATOR) || memcmp(part[4], TERMINATOR, len[4]) != 0) {
        *reason = "Credential must end with aws4_request";
        return false;
    }
    return true;
}

static bool header_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* "host;range;x-amz-date": lowercase names, none empty, at most
 * GW_S3_SIGNED_HEADERS_MAX. */
static bool parse_signed_headers(const char *p, size_t n, struct gw_s3_auth *out,
                                 const char **reason)
{
    size_t count = 1;
    if (n == 0 || n > GW_S3_SIGNED_LIST_MAX) {
        *reason = "SignedHeaders is empty or too long";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ';') {
            if (i == 0 || i + 1 == n || p[i + 1] == ';') {
                *reason = "SignedHeaders has an empty name";
                return false;
            }
            count++;
        } else if (!header_char_ok(p[i])) {
            *reason = "SignedHeaders names must be lowercase header names";
            return false;
        }
    }
    if (count > GW_S3_SIGNED_HEADERS_MAX) {
        *reason = "too many SignedHeaders";
        return false;
    }
    memcpy(out->signed_headers, p, n);
    out->signed_headers[n] = '\0';
    out->signed_count = count;
    return true;
}

static bool parse_signature(const char *p, size_t n, struct gw_s3_auth *out, const char **reason)
{
    if (n != GW_S3_SIG_HEX_LEN || !is_lower_hex(p, n)) {
        *reason = "Signature must be 64 lowercase hex digits";
        return false;
    }
    memcpy(out->signature, p, n);
    out->signature[n] = '\0';
    return true;
}

enum { F_CREDENTIAL = 1, F_SIGNED = 2, F_SIGNATURE = 4 };

/* One "Key=value" component of the Authorization header. */
static bool parse_component(const char *p, size_t n, unsigned *seen, struct gw_s3_auth *out,
                            const char **reason)
{
    static const struct {
        const char *key;
        unsigned flag;
    } keys[] = {
        {"Credential", F_CREDENTIAL}, {"SignedHeaders", F_SIGNED}, {"Signature", F_SIGNATURE}};
    const char *eq = memchr(p, '=', n);
    if (!eq) {
        *reason = "Authorization component without '='";
        return false;
    }
    size_t klen = (size_t)(eq - p), vlen = n - klen - 1;
    for (size_t i = 0; i < CAIRN_ARRAY_SIZE(keys); i++) {
        if (klen != strlen(keys[i].key) || memcmp(p, keys[i].key, klen) != 0)
            continue;
        if (*seen & keys[i].flag) {
            *reason = "repeated Authorization component";
            return false;
        }
        *seen |= keys[i].flag;
        if (keys[i].flag == F_CREDENTIAL)
            return parse_credential(eq + 1, vlen, out, reason);
        if (keys[i].flag == F_SIGNED)
            return parse_signed_headers(eq + 1, vlen, out, reason);
        return parse_signature(eq + 1, vlen, out, reason);
    }
    *reason = "unknown Authorization component";
    return false;
}

int gw_s3_sigv4_parse_header(const char *value, struct gw_s3_auth *out, const char **reason)
{
    size_t len = strnlen(value, GW_S3_AUTH_HEADER_MAX + 1);
    const char *p = value, *end = value + len;
    unsigned seen = 0;
    memset(out, 0, sizeof(*out));
    out->kind = GW_S3_AUTH_HEADER;
    if (len > GW_S3_AUTH_HEADER_MAX) {
        *reason = "Authorization header too long";
        return -EINVAL;
    }
    if (strncmp(p, ALGORITHM " ", sizeof(ALGORITHM)) != 0) {
        *reason = "Authorization must start with AWS4-HMAC-SHA256";
        return -EINVAL;
    }
    p += sizeof(ALGORITHM);
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break; /* trailing spaces: nothing more */
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        while (stop > p && stop[-1] == ' ')
            stop--;
        if (!parse_component(p, (size_t)(stop - p), &seen, out, reason))
            return -EINVAL;
        p = comma ? comma + 1 : end;
    }
    if (seen != (F_CREDENTIAL | F_SIGNED | F_SIGNATURE)) {
        *reason = "Authorization needs Credential, SignedHeaders and Signature";
        return -EINVAL;
    }
    return 0;
}

/* The presigned parameters, in the order of enum query_field. */
static const char *const query_names[] = {
    "X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Date",
    "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Signature",
};
enum query_field { Q_ALGORITHM, Q_CREDENTIAL, Q_DATE, Q_EXPIRES, Q_SIGNED, Q_SIGNATURE, Q_COUNT };

static int query_field(const struct param *pr, const char **reason, struct gw_s3_auth *out,
                       enum query_field f)
{
    char v[GW_S3_SIGNED_LIST_MAX + 1];
    if (!decode_into(pr->value, pr->value_len, v, sizeof(v))) {
        *reason = "presigned parameter too long or holds a NUL byte";
        return -EBADMSG;
    }
    size_t n = strlen(v);
    switch (f) {
    case Q_ALGORITHM:
        if (strcmp(v, ALGORITHM) == 0)
            return 0;
        *reason = "X-Amz-Algorithm must be AWS4-HMAC-SHA256";
        return -EBADMSG;
    case Q_CREDENTIAL:
        return parse_credential(v, n, out, reason) ? 0 : -EBADMSG;
    case Q_DATE:
        if (n == 16 && parse_time(v, n, &out->amz_time)) {
            memcpy(out->amz_date, v, 17);
            return 0;
        }
        *reason = "X-Amz-Date must be YYYYMMDDTHHMMSSZ";
        return -EBADMSG;
    case Q_EXPIRES:
        if (n >= 1 && n <= 6 && is_digits(v, n) && atoi(v) >= 1 &&
            (uint32_t)atoi(v) <= GW_S3_EXPIRES_MAX) {
            out->expires_s = (uint32_t)atoi(v);
            return 0;
        }
        *reason = "X-Amz-Expires must be a number of seconds from 1 to 604800";
        return -EBADMSG;
    case Q_SIGNED:
        return parse_signed_headers(v, n, out, reason) ? 0 : -EBADMSG;
    default:
        return parse_signature(v, n, out, reason) ? 0 : -EBADMSG;
    }
}

/* -ENOENT when the query has none of the presigned parameters. */
static int parse_query(const char *query, struct gw_s3_auth *out, const char **reason)
{
    struct param params[GW_S3_QUERY_PARAMS_MAX];
    unsigned seen = 0;
    int n = split_query(query, params);
    memset(out, 0, sizeof(*out));
    out->kind = GW_S3_AUTH_QUERY;
    if (n < 0) {
        *reason = "too many query parameters";
        return -EBADMSG;
    }
    for (int i = 0; i < n; i++) {
        for (int f = 0; f < Q_COUNT; f++) {
            if (!decoded_equals(params[i].name, params[i].name_len, query_names[f]))
                continue;
            if (seen & (1u << f)) {
                *reason = "repeated presigned parameter";
                return -EBADMSG;
            }
            seen |= 1u << f;
            int rc = query_field(&params[i], reason, out, (enum query_field)f);
            if (rc < 0)
                return rc;
        }
    }
    if (seen == 0) {
        *reason = "no presigned parameters";
        return -ENOENT;
    }
    if (seen != (1u << Q_COUNT) - 1) {
        *reason = "presigned URL needs X-Amz-Algorithm, -Credential, -Date, -Expires, "
                  "-SignedHeaders and -Signature";
        return -EBADMSG;
    }
    return 0;
}

int gw_s3_sigv4_parse_query(const char *query, struct gw_s3_auth *out, const char **reason)
{
    int rc = parse_query(query, out, reason);
    return rc == -ENOENT ? -EBADMSG : rc;
}

static bool signed_has(const struct gw_s3_auth *auth, const char *name)
{
    const char *p = auth->signed_headers;
    size_t n = strlen(name);
    while (*p) {
        const char *end = strchrnul(p, ';');
        if ((size_t)(end - p) == n && memcmp(p, name, n) == 0)
            return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

static bool payload_hash_ok(const char *h)
{
    return (strlen(h) == GW_S3_SIG_HEX_LEN && is_lower_hex(h, GW_S3_SIG_HEX_LEN)) ||
           strcmp(h, GW_S3_UNSIGNED_PAYLOAD) == 0 || strcmp(h, GW_S3_STREAMING_PAYLOAD) == 0 ||
           strcmp(h, GW_S3_STREAMING_UNSIGNED_TRAILER) == 0;
}

static const char *find_header(const struct gw_s3_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* An HTTP Date header ("Fri, 24 May 2013 00:00:00 GMT"; botocore writes
 * "-0000" for the zone) as time and as YYYYMMDDTHHMMSSZ. */
static bool parse_http_date(const char *v, struct gw_s3_auth *out)
{
    struct tm tm = {0};
    const char *rest = strptime(v, "%a, %d %b %Y %H:%M:%S", &tm);
    if (!rest || (strcmp(rest, " GMT") != 0 && strcmp(rest, " UTC") != 0 &&
                  strcmp(rest, " +0000") != 0 && strcmp(rest, " -0000") != 0))
        return false;
    out->amz_time = timegm(&tm);
    return out->amz_time != (time_t)-1 && gmtime_r(&out->amz_time, &tm) &&
           strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ", &tm) == 16;
}

/* Header auth: the request time (x-amz-date, else Date, as SigV4 says), and
 * the payload hash. */
static int check_header_auth(const struct gw_s3_request *req, struct gw_s3_auth *out,
                             const char **reason)
{
    const char *amz = find_header(req, "x-amz-date"), *http = find_header(req, "date");
    if (amz) {
        if (strlen(amz) != 16 || !parse_time(amz, 16, &out->amz_time)) {
            *reason = "x-amz-date header is not YYYYMMDDTHHMMSSZ";
            return -EINVAL;
        }
        memcpy(out->amz_date, amz, 17);
    } else if (!http || !parse_http_date(http, out)) {
        *reason = "a valid x-amz-date or Date header is required";
        return -EINVAL;
    }
    if (!signed_has(out, "x-amz-date") && !signed_has(out, "date")) {
        *reason = "SignedHeaders must include x-amz-date or date";
        return -EINVAL;
    }
    if (!req->payload_hash || !payload_hash_ok(req->payload_hash)) {
        *reason = "x-amz-content-sha256 missing or malformed";
        return -EINVAL;
    }
    return 0;
}

int gw_s3_sigv4_parse(const struct gw_s3_request *req, struct gw_s3_auth *out, const char **reason)
{
    const char *authz = NULL;
    int rc, bad;
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcasecmp(req->headers[i].name, "authorization") != 0)
            continue;
        if (authz) {
            *reason = "more than one Authorization header";
            return -EINVAL;
        }
        authz = req->headers[i].value;
    }
    if (authz) {
        bad = -EINVAL;
        rc = gw_s3_sigv4_parse_header(authz, out, reason);
        if (rc == 0)
            rc = check_header_auth(req, out, reason);
    } else {
        bad = -EBADMSG;
        rc = parse_query(req->query, out, reason);
    }
    if (rc < 0)
        return rc;
    if (strncmp(out->date, out->amz_date, 8) != 0) {
        *reason = "Credential date does not match the request date";
        return bad;
    }
    if (!signed_has(out, "host")) {
        *reason = "SignedHeaders must include host";
        return bad;
    }
    return 0;
}

const char *gw_s3_sigv4_error_code(int err)
{
    switch (err) {
    case -EACCES:
        return "SignatureDoesNotMatch";
    case -ERANGE:
        return "RequestTimeTooSkewed";
    case -EKEYEXPIRED:
    case -ENOENT:
        return "AccessDenied";
    case -EINVAL:
        return "AuthorizationHeaderMalformed";
    case -EBADMSG:
        return "AuthorizationQueryParametersError";
    default:
        return "InternalError";
    }
}

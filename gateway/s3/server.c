/* cairn-s3's request front door: from an HTTP request head to an S3
 * operation. Splits the target into bucket, key and query (path-style and
 * virtual-host-style), authenticates (SigV4 header or presigned query,
 * users looked up in the cluster and cached briefly), routes to the
 * operation, and owns the things every operation shares: the error table
 * (the one errno/S3-code mapping of the gateway), responses, request
 * reference counts and async op execution. Runs on libcairn's loop thread. */
#include "gateway/s3/internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>

#include "common/assert.h"
#include "common/log.h"
#include "gateway/s3/xml.h"

/* ---- errors: the one table ---- */

struct s3_errdef {
    const char *code;
    int status;
    const char *message;
};

static const struct s3_errdef errdefs[] = {
    {"AccessDenied", 403, "Access Denied"},
    {"AuthorizationHeaderMalformed", 400, "The authorization header is malformed."},
    {"AuthorizationQueryParametersError", 400, "Error parsing the X-Amz-Credential parameter."},
    {"BadDigest", 400, "The Content-MD5 or checksum you specified did not match what we received."},
    {"BucketAlreadyExists", 409, "The requested bucket name is not available."},
    {"BucketAlreadyOwnedByYou", 409,
     "Your previous request to create the named bucket succeeded and you already own it."},
    {"BucketNotEmpty", 409, "The bucket you tried to delete is not empty."},
    {"EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size."},
    {"EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size."},
    {"IncompleteBody", 400, "You did not provide the number of bytes specified by the "
                            "Content-Length HTTP header."},
    {"InternalError", 500, "We encountered an internal error. Please try again."},
    {"InvalidAccessKeyId", 403, "The AWS access key ID you provided does not exist in our "
                                "records."},
    {"InvalidArgument", 400, "Invalid argument."},
    {"InvalidBucketName", 400, "The specified bucket is not valid."},
    {"InvalidDigest", 400, "The Content-MD5 or checksum you specified is not valid."},
    {"InvalidLocationConstraint", 400, "The specified location constraint is not valid."},
    {"InvalidPart", 400, "One or more of the specified parts could not be found."},
    {"InvalidPartOrder", 400, "The list of parts was not in ascending order."},
    {"InvalidRange", 416, "The requested range is not satisfiable."},
    {"InvalidRequest", 400, "Invalid request."},
    {"KeyTooLongError", 400, "Your key is too long."},
    {"MalformedXML", 400, "The XML you provided was not well-formed or did not validate "
                          "against our published schema."},
    {"MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size."},
    {"MethodNotAllowed", 405, "The specified method is not allowed against this resource."},
    {"MissingContentLength", 411, "You must provide the Content-Length HTTP header."},
    {"NoSuchBucket", 404, "The specified bucket does not exist."},
    {"NoSuchKey", 404, "The specified key does not exist."},
    {"NoSuchVersion", 404, "The specified version does not exist."},
    {"NoSuchUpload", 404, "The specified multipart upload does not exist."},
    {"NotImplemented", 501, "A header you provided implies functionality that is not "
                            "implemented."},
    {"NotModified", 304, "Not Modified"},
    {"PreconditionFailed", 412, "At least one of the preconditions you specified did not hold."},
    {"RequestTimeTooSkewed", 403, "The difference between the request time and the current "
                                  "time is too large."},
    {"ServiceUnavailable", 503, "Please reduce your request rate."},
    {"SignatureDoesNotMatch", 403, "The request signature we calculated does not match the "
                                   "signature you provided."},
    {"XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not "
                                       "match what was computed."},
};

static const struct s3_errdef *errdef(const char *code)
{
    for (size_t i = 0; i < sizeof(errdefs) / sizeof(errdefs[0]); i++)
        if (strcmp(errdefs[i].code, code) == 0)
            return &errdefs[i];
    CAIRN_ASSERT(strcmp(code, "InternalError") != 0);
    return errdef("InternalError"); /* a code missing from the table is our bug */
}

const char *s3__errno_code(int err)
{
    switch (err) {
    case -ENOENT:
        return "NoSuchKey";
    case -EACCES:
    case -EPERM:
        return "AccessDenied";
    case -EBADMSG:
        return "MalformedXML";
    case -EFBIG:
    case -E2BIG:
        return "EntityTooLarge";
    case -EINVAL:
        return "InvalidArgument";
    case -ENAMETOOLONG:
        return "KeyTooLongError";
    case -ENOSPC:
    case -EAGAIN:
    case -EBUSY:
    case -ETIMEDOUT:
        return "ServiceUnavailable";
    case -EPIPE:
        return "IncompleteBody";
    default:
        return "InternalError";
    }
}

/* ---- time ---- */

int64_t s3__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void s3__http_date(int64_t ns, char out[40])
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void s3__iso_date(int64_t ns, char out[40])
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    char base[32];
    gmtime_r(&t, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%03dZ", base, (int)(ns % 1000000000 / 1000000));
}

/* ---- requests ---- */

void s3__req_ref(struct s3_req *r)
{
    r->refs++;
}

static void req_free(struct s3_req *r)
{
    if (r->op_free)
        r->op_free(r->op_state);
    s3__sink_free(r);
    s3__source_free(r);
    gw_s3_chunked_fini(&r->body.dec);
    if (r->body.digests)
        gw_s3_digests_destroy(r->body.digests);
    free(r->body.mem);
    for (size_t i = 0; i < r->param_count; i++) {
        free(r->params[i].name);
        free(r->params[i].value);
    }
    free(r->key);
    OPENSSL_cleanse(&r->user, sizeof(r->user));
    free(r);
}

void s3__req_unref(struct s3_req *r)
{
    CAIRN_ASSERT(r->refs > 0);
    if (--r->refs == 0)
        req_free(r);
}

const char *s3__param(const struct s3_req *r, const char *name)
{
    for (size_t i = 0; i < r->param_count; i++)
        if (strcmp(r->params[i].name, name) == 0)
            return r->params[i].value;
    return NULL;
}

const char *s3__header(const struct s3_req *r, const char *name)
{
    return gw_http_header(r->head, name);
}

/* Ends the HTTP side of @r (the reference it held goes away). */
void s3__response_end(struct s3_req *r, bool close)
{
    struct gw_http_req *h = r->http;

    if (!h)
        return;
    r->http = NULL;
    r->head = NULL;
    gw_http_resp_end(h, close);
    s3__req_unref(r);
}

void s3__respond(struct s3_req *r, int status, const char *const *names,
                 const char *const *values, size_t count, struct evbuffer *body)
{
    const char *n[24], *v[24];
    size_t len = body ? evbuffer_get_length(body) : 0, k = 0;
    bool head = strcmp(r->method, "HEAD") == 0;

    if (!r->http)
        return;
    CAIRN_ASSERT(count + 2 <= 24);
    n[k] = "x-amz-request-id";
    v[k++] = r->id;
    if (len) {
        n[k] = "Content-Type";
        v[k++] = "application/xml";
    }
    for (size_t i = 0; i < count; i++, k++) {
        n[k] = names[i];
        v[k] = values[i];
    }
    gw_http_resp_start(r->http, status, n, v, k, (int64_t)len);
    if (len && !head)
        gw_http_resp_write_buffer(r->http, body);
    s3__response_end(r, false);
}

void s3__error(struct s3_req *r, const char *code, const char *message)
{
    const struct s3_errdef *d = errdef(code);
    struct evbuffer *body;
    bool close;

    if (!r->http)
        return;
    body = evbuffer_new();
    CAIRN_ASSERT(body);
    if (d->status != 304 && strcmp(r->method, "HEAD") != 0) {
        gw_s3_xml_declaration(body);
        gw_s3_xml_open(body, "Error", NULL);
        gw_s3_xml_element(body, "Code", d->code);
        gw_s3_xml_element(body, "Message", message ? message : d->message);
        if (r->bucket[0])
            gw_s3_xml_element(body, "BucketName", r->bucket);
        if (r->key)
            gw_s3_xml_element(body, "Key", r->key);
        gw_s3_xml_element(body, "RequestId", r->id);
        gw_s3_xml_close(body, "Error");
    }
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "%s %s %s: %s", r->id, r->method, r->bucket, d->code);
    /* An unread upload body is not worth reading just to discard it. */
    close = r->body.consume == NULL && r->head && (r->head->content_length > (1u << 20) ||
                                                   r->head->chunked);
    {
        const char *n[2] = {"x-amz-request-id", "Content-Type"};
        const char *v[2] = {r->id, "application/xml"};
        size_t len = evbuffer_get_length(body);
        gw_http_resp_start(r->http, d->status, n, v, len ? 2 : 1,
                           strcmp(r->method, "HEAD") == 0 ? 0 : (int64_t)len);
        if (len)
            gw_http_resp_write_buffer(r->http, body);
    }
    evbuffer_free(body);
    s3__response_end(r, close);
}

void s3__error_errno(struct s3_req *r, int err)
{
    s3__error(r, s3__errno_code(err), NULL);
}

/* ---- shared by the operations ---- */

bool s3__bucket_owned(struct s3_req *r, int err)
{
    if (err == -ENOENT) {
        s3__error(r, "NoSuchBucket", NULL);
        return false;
    }
    if (err < 0) {
        s3__error_errno(r, err);
        return false;
    }
    if (strcmp(r->binfo.owner, r->user.name) != 0) {
        s3__error(r, "AccessDenied", NULL);
        return false;
    }
    return true;
}

static void removed(int result, struct cairn_op *op, void *arg)
{
    (void)result;
    (void)arg;
    cairn_op_destroy(op);
}

void s3__remove_async(struct s3_gw *gw, const char *oid)
{
    struct cairn_op *op = cairn_op_create();

    if (!op)
        return;
    cairn_op_remove(op);
    if (cairn_op_exec_async(gw->cairn, gw->pool, oid, op, removed, NULL) < 0)
        cairn_op_destroy(op);
}

void s3__owner_xml(struct evbuffer *out, const char *element, const char *name)
{
    gw_s3_xml_open(out, element, NULL);
    gw_s3_xml_element(out, "ID", name);
    gw_s3_xml_element(out, "DisplayName", name);
    gw_s3_xml_close(out, element);
}

void s3__strip_aws_chunked(char *enc)
{
    char out[256] = "";
    size_t k = 0;
    char *save = NULL;

    /* A comma-separated list; "aws-chunked" describes the transfer, not
     * the object, and S3 does not keep it. */
    for (char *t = strtok_r(enc, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        if (strcasecmp(t, "aws-chunked") == 0 || !*t)
            continue;
        k += (size_t)snprintf(out + k, k < sizeof(out) ? sizeof(out) - k : 0, "%s%s",
                              k ? "," : "", t);
    }
    snprintf(enc, 256, "%s", k < sizeof(out) ? out : "");
}

int s3__collect_meta(struct s3_req *r, char *buf, size_t cap, size_t *len)
{
    size_t total = 0, k = 0;

    for (size_t i = 0; i < r->head->header_count; i++) {
        const struct gw_http_header *h = &r->head->headers[i];
        size_t nl, vl;
        if (strncasecmp(h->name, "x-amz-meta-", 11) != 0 || !h->name[11])
            continue;
        nl = strlen(h->name + 11);
        vl = strlen(h->value);
        total += nl + vl;
        if (total > GW_S3_META_MAX || k + nl + vl + 2 > cap)
            return -E2BIG;
        for (size_t j = 0; j < nl; j++) /* S3 keeps metadata names lowercase */
            buf[k + j] = (char)tolower((unsigned char)h->name[11 + j]);
        buf[k + nl] = '\0';
        memcpy(buf + k + nl + 1, h->value, vl + 1);
        k += nl + vl + 2;
    }
    *len = k;
    return 0;
}

/* ---- async ops ---- */

struct exec_ctx {
    struct s3_req *r;
    s3_op_cb cb;
};

static void exec_done(int result, struct cairn_op *op, void *arg)
{
    struct exec_ctx *x = arg;
    struct s3_req *r = x->r;

    x->cb(r, result, op);
    cairn_op_destroy(op);
    free(x);
    s3__req_unref(r);
}

void s3__exec(struct s3_req *r, const char *oid, struct cairn_op *op, s3_op_cb cb)
{
    struct exec_ctx *x = malloc(sizeof(*x));
    int rc;

    if (!x) {
        cb(r, -ENOMEM, op);
        cairn_op_destroy(op);
        return;
    }
    *x = (struct exec_ctx){.r = r, .cb = cb};
    s3__req_ref(r);
    rc = cairn_op_exec_async(r->gw->cairn, r->gw->pool, oid, op, exec_done, x);
    if (rc < 0) {
        free(x);
        cb(r, rc, op);
        cairn_op_destroy(op);
        s3__req_unref(r);
    }
}

/* ---- target parsing ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes @n bytes of @s into a new string (with '+' as a space
 * when @plus). -EINVAL on a bad escape or an embedded NUL. */
static int pct_decode(const char *s, size_t n, bool plus, char **out, size_t *out_len)
{
    char *d = malloc(n + 1);
    size_t k = 0;

    if (!d)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(d);
                return -EINVAL;
            }
            d[k++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[k++] = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    d[k] = '\0';
    *out = d;
    if (out_len)
        *out_len = k;
    return 0;
}

int s3__pct_decode(const char *s, size_t n, char **out)
{
    return pct_decode(s, n, false, out, NULL);
}

static int parse_query(struct s3_req *r, const char *q)
{
    while (*q) {
        const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
        const char *eq = memchr(q, '=', (size_t)(end - q));
        struct s3_param *p;
        int rc;

        if (end == q) {
            q++;
            continue;
        }
        if (r->param_count == S3_QUERY_MAX)
            return -E2BIG;
        p = &r->params[r->param_count];
        rc = pct_decode(q, (size_t)((eq ? eq : end) - q), true, &p->name, NULL);
        if (rc < 0)
            return rc;
        rc = eq ? pct_decode(eq + 1, (size_t)(end - eq - 1), true, &p->value, NULL)
                : pct_decode("", 0, false, &p->value, NULL);
        if (rc < 0) {
            free(p->name);
            return rc;
        }
        r->param_count++;
        q = amp ? amp + 1 : end;
    }
    return 0;
}

/* The bucket from a virtual-host-style Host header ("bucket.DOMAIN[:port]"),
 * or "" for path style. */
static void host_bucket(const struct s3_req *r, char *out, size_t cap)
{
    const char *host = s3__header(r, "Host"), *dom = r->gw->domain;
    size_t hl, dl = strlen(dom);
    const char *colon;

    out[0] = '\0';
    if (!host || !dl)
        return;
    colon = strrchr(host, ':');
    hl = colon && !strchr(host, ']') ? (size_t)(colon - host) : strlen(host);
    if (hl <= dl + 1 || host[hl - dl - 1] != '.' || strncasecmp(host + hl - dl, dom, dl) != 0)
        return;
    if (hl - dl - 1 < cap)
        snprintf(out, cap, "%.*s", (int)(hl - dl - 1), host);
}

/* Whether @s (@n bytes) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). S3 keys are UTF-8; the bucket
 * index relies on it (no key holds the byte 0xff: see object.c). */
static bool utf8_is_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], len, cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, cp = c & 0x07;
        else
            return false;
        if (n - i < len)
            return false;
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += len;
    }
    return true;
}

/* Splits the request target into bucket, key and query. -EINVAL bad
 * escapes, -ENAMETOOLONG key over 1,024 bytes, -E2BIG too many params. */
static int parse_target(struct s3_req *r)
{
    const char *path = r->head->path, *slash;
    char vbucket[GW_S3_BUCKET_NAME_MAX + 2];
    int rc = parse_query(r, r->head->query);

    if (rc < 0)
        return rc;
    if (path[0] != '/')
        return -EINVAL;
    path++;
    host_bucket(r, vbucket, sizeof(vbucket));
    if (vbucket[0]) {
        snprintf(r->bucket, sizeof(r->bucket), "%s", vbucket);
    } else {
        slash = strchr(path, '/');
        size_t n = slash ? (size_t)(slash - path) : strlen(path);
        char *b;
        rc = pct_decode(path, n, false, &b, NULL);
        if (rc < 0)
            return rc;
        if (strlen(b) >= sizeof(r->bucket)) {
            snprintf(r->bucket, sizeof(r->bucket), "%.*s", (int)sizeof(r->bucket) - 1, b);
            free(b);
            return -EBADR; /* InvalidBucketName */
        }
        snprintf(r->bucket, sizeof(r->bucket), "%s", b);
        free(b);
        path = slash ? slash + 1 : path + n;
        if (!slash)
            return 0;
    }
    if (!*path)
        return 0;
    rc = pct_decode(path, strlen(path), false, &r->key, &r->key_len);
    if (rc == 0 && r->key_len > GW_S3_KEY_MAX)
        return -ENAMETOOLONG;
    if (rc == 0 && !utf8_is_valid((const unsigned char *)r->key, r->key_len))
        return -EILSEQ;
    return rc;
}

/* ---- users ---- */

static struct s3_cache_user *user_cached(struct s3_gw *gw, const char *access, time_t now)
{
    for (unsigned i = 0; i < S3_CACHE_SLOTS; i++) {
        struct s3_cache_user *u = &gw->users[i];
        if (u->access[0] && strcmp(u->access, access) == 0 && now - u->fetched < S3_CACHE_TTL_S)
            return u;
    }
    return NULL;
}

static void user_remember(struct s3_gw *gw, const char *access, const struct gw_s3_user *user,
                          time_t now)
{
    struct s3_cache_user *slot = &gw->users[0];

    for (unsigned i = 0; i < S3_CACHE_SLOTS; i++) {
        struct s3_cache_user *u = &gw->users[i];
        if (!u->access[0] || strcmp(u->access, access) == 0) {
            slot = u;
            break;
        }
        if (u->fetched < slot->fetched)
            slot = u;
    }
    snprintf(slot->access, sizeof(slot->access), "%s", access);
    slot->user = *user;
    slot->fetched = now;
}

static void route(struct s3_req *r);

static void auth_verify(struct s3_req *r)
{
    struct gw_s3_request view;
    struct gw_s3_header hdrs[GW_HTTP_HEADERS_MAX];
    const char *reason = NULL;
    int rc;

    for (size_t i = 0; i < r->head->header_count; i++) {
        hdrs[i].name = r->head->headers[i].name;
        hdrs[i].value = r->head->headers[i].value;
    }
    view = (struct gw_s3_request){
        .method = r->method, .path = r->head->path, .query = r->head->query,
        .headers = hdrs, .header_count = r->head->header_count,
        .payload_hash = s3__header(r, "x-amz-content-sha256"),
    };
    rc = gw_s3_sigv4_verify(&view, &r->auth, r->user.secret, time(NULL), &reason);
    if (rc < 0) {
        s3__error(r, gw_s3_sigv4_error_code(rc), reason);
        return;
    }
    route(r);
}

static void user_fetched(struct s3_req *r, int result, struct cairn_op *op)
{
    (void)op;
    if (!r->http)
        return;
    if (result < 0)
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "%s: user lookup: %s", r->id,
                  strerror(-result));
    if (result == -ENODATA || result == -ENOENT) {
        s3__error(r, "InvalidAccessKeyId", NULL);
        return;
    }
    if (result < 0) {
        s3__error_errno(r, result);
        return;
    }
    user_remember(r->gw, r->auth.access_key, &r->user, time(NULL));
    auth_verify(r);
}

/* The omap value of a user lookup lands here, then is decoded into r->user. */
struct user_fetch {
    char key[GW_S3_ACCESS_KEY_MAX + 8]; /* the op borrows it until it completes */
    uint8_t value[1024];
    size_t len;
};

static void user_value_decode(struct s3_req *r, int result, struct cairn_op *op)
{
    struct user_fetch *f = r->op_state;

    if (result == 0 && gw_s3_user_decode(f->value, f->len, &r->user) < 0)
        result = -EIO;
    free(f);
    r->op_state = NULL;
    r->op_free = NULL;
    user_fetched(r, result, op);
}

static void authenticate(struct s3_req *r)
{
    struct gw_s3_request view;
    struct gw_s3_header hdrs[GW_HTTP_HEADERS_MAX];
    const char *reason = NULL;
    struct s3_cache_user *cached;
    struct user_fetch *f;
    struct cairn_op *op;
    int rc;

    for (size_t i = 0; i < r->head->header_count; i++) {
        hdrs[i].name = r->head->headers[i].name;
        hdrs[i].value = r->head->headers[i].value;
    }
    view = (struct gw_s3_request){
        .method = r->method, .path = r->head->path, .query = r->head->query,
        .headers = hdrs, .header_count = r->head->header_count,
        .payload_hash = s3__header(r, "x-amz-content-sha256"),
    };
    rc = gw_s3_sigv4_parse(&view, &r->auth, &reason);
    if (rc < 0) {
        s3__error(r, gw_s3_sigv4_error_code(rc), rc == -ENOENT ? "Anonymous access is not "
                                                                 "allowed." : reason);
        return;
    }
    cached = user_cached(r->gw, r->auth.access_key, time(NULL));
    if (cached) {
        r->user = cached->user;
        auth_verify(r);
        return;
    }
    f = calloc(1, sizeof(*f));
    op = cairn_op_create();
    if (!f || !op) {
        free(f);
        cairn_op_destroy(op);
        s3__error(r, "InternalError", NULL);
        return;
    }
    snprintf(f->key, sizeof(f->key), "key/%s", r->auth.access_key);
    r->op_state = f;
    r->op_free = free;
    cairn_op_omap_get(op, f->key, strlen(f->key), f->value, sizeof(f->value), &f->len);
    s3__exec(r, GW_S3_USERS_OID, op, user_value_decode);
}

/* ---- buckets ---- */

void s3__bucket_remember(struct s3_gw *gw, const char *name, const struct gw_s3_bucket *b)
{
    struct s3_cache_bucket *slot = &gw->buckets[0];

    for (unsigned i = 0; i < S3_CACHE_SLOTS; i++) {
        struct s3_cache_bucket *c = &gw->buckets[i];
        if (!c->name[0] || strcmp(c->name, name) == 0) {
            slot = c;
            break;
        }
        if (c->fetched < slot->fetched)
            slot = c;
    }
    snprintf(slot->name, sizeof(slot->name), "%s", name);
    slot->bucket = *b;
    slot->fetched = time(NULL);
}

void s3__bucket_forget(struct s3_gw *gw, const char *name)
{
    for (unsigned i = 0; i < S3_CACHE_SLOTS; i++)
        if (strcmp(gw->buckets[i].name, name) == 0)
            gw->buckets[i].name[0] = '\0';
}

struct bucket_fetch {
    uint8_t value[1024];
    size_t len;
    char name[GW_S3_BUCKET_NAME_MAX + 1];
    struct gw_s3_bucket *out;
    void (*next)(struct s3_req *r, int err);
    void *saved_state;
    void (*saved_free)(void *);
};

static void bucket_fetched(struct s3_req *r, int result, struct cairn_op *op)
{
    struct bucket_fetch *f = r->op_state;
    void (*next)(struct s3_req *, int) = f->next;

    (void)op;
    r->op_state = f->saved_state;
    r->op_free = f->saved_free;
    if (result == -ENODATA)
        result = -ENOENT;
    if (result == 0 && gw_s3_bucket_decode(f->value, f->len, f->out) < 0)
        result = -EIO;
    if (result == 0)
        s3__bucket_remember(r->gw, f->name, f->out);
    free(f);
    if (r->http)
        next(r, result);
}

void s3__bucket_lookup(struct s3_req *r, void (*next)(struct s3_req *r, int err))
{
    s3__bucket_lookup_name(r, r->bucket, &r->binfo, next);
}

void s3__bucket_lookup_name(struct s3_req *r, const char *name, struct gw_s3_bucket *out,
                            void (*next)(struct s3_req *r, int err))
{
    time_t now = time(NULL);
    struct bucket_fetch *f;
    struct cairn_op *op;

    if (!gw_s3_bucket_name_is_valid(name)) {
        next(r, -ENOENT);
        return;
    }
    for (unsigned i = 0; i < S3_CACHE_SLOTS; i++) {
        struct s3_cache_bucket *c = &r->gw->buckets[i];
        if (c->name[0] && strcmp(c->name, name) == 0 && now - c->fetched < S3_CACHE_TTL_S) {
            *out = c->bucket;
            next(r, 0);
            return;
        }
    }
    f = calloc(1, sizeof(*f));
    op = cairn_op_create();
    if (!f || !op) {
        free(f);
        cairn_op_destroy(op);
        next(r, -ENOMEM);
        return;
    }
    f->next = next;
    f->out = out;
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->saved_state = r->op_state;
    f->saved_free = r->op_free;
    r->op_state = f;
    r->op_free = free;
    cairn_op_omap_get(op, f->name, strlen(f->name), f->value, sizeof(f->value), &f->len);
    s3__exec(r, GW_S3_BUCKETS_OID, op, bucket_fetched);
}

/* ---- routing ---- */

static bool has_param(const struct s3_req *r, const char *name)
{
    return s3__param(r, name) != NULL;
}

static void route_service(struct s3_req *r)
{
    if (strcmp(r->method, "GET") == 0)
        s3__service_list(r);
    else
        s3__error(r, "MethodNotAllowed", NULL);
}

/* Subresources of S3 this gateway does not implement: any request naming
 * one is NotImplemented, so that it never falls through to the plain
 * operation (PUT ?tagging must not replace the object with the XML). */
static const char *const unsupported[] = {
    "acl", "policy", "policyStatus", "tagging", "cors", "lifecycle", "website",
    "encryption", "replication", "logging", "notification", "requestPayment",
    "accelerate", "analytics", "inventory", "metrics", "intelligent-tiering",
    "object-lock", "legal-hold", "retention", "restore", "select", "torrent",
    "ownershipControls", "publicAccessBlock", "attributes",
};

static bool names_unsupported(const struct s3_req *r)
{
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
        if (has_param(r, unsupported[i]))
            return true;
    return false;
}

static void route_bucket(struct s3_req *r)
{
    const char *m = r->method;

    if (strcmp(m, "PUT") == 0) {
        if (has_param(r, "versioning"))
            s3__error(r, "NotImplemented", "Versioning cannot be enabled.");
        else
            s3__bucket_create(r);
    } else if (strcmp(m, "HEAD") == 0) {
        s3__bucket_head(r);
    } else if (strcmp(m, "DELETE") == 0) {
        s3__bucket_delete(r);
    } else if (strcmp(m, "POST") == 0 && has_param(r, "delete")) {
        s3__objects_delete(r);
    } else if (strcmp(m, "GET") == 0) {
        if (has_param(r, "location"))
            s3__bucket_location(r);
        else if (has_param(r, "versioning"))
            s3__bucket_versioning(r);
        else if (has_param(r, "versions"))
            s3__bucket_list_versions(r);
        else if (has_param(r, "uploads"))
            s3__mpu_list_uploads(r);
        else
            s3__bucket_list(r);
    } else {
        s3__error(r, "MethodNotAllowed", NULL);
    }
}

static void route_object(struct s3_req *r)
{
    const char *m = r->method;
    const char *version = s3__param(r, "versionId");
    bool upload = has_param(r, "uploadId");

    if (version && strcmp(version, "null") != 0) {
        s3__error(r, "NoSuchVersion", NULL); /* unversioned: every object is "null" */
        return;
    }
    if (strcmp(m, "PUT") == 0)
        upload ? s3__mpu_upload_part(r) : s3__object_put(r);
    else if (strcmp(m, "GET") == 0)
        upload ? s3__mpu_list_parts(r) : s3__object_get(r, false);
    else if (strcmp(m, "HEAD") == 0)
        s3__object_get(r, true);
    else if (strcmp(m, "DELETE") == 0)
        upload ? s3__mpu_abort(r) : s3__object_delete(r);
    else if (strcmp(m, "POST") == 0 && has_param(r, "uploads"))
        s3__mpu_initiate(r);
    else if (strcmp(m, "POST") == 0 && upload)
        s3__mpu_complete(r);
    else
        s3__error(r, "MethodNotAllowed", NULL);
}

static void route(struct s3_req *r)
{
    if (names_unsupported(r))
        s3__error(r, "NotImplemented", "This subresource is not implemented.");
    else if (!r->bucket[0])
        route_service(r);
    else if (!r->key)
        route_bucket(r);
    else
        route_object(r);
}

/* ---- HTTP callbacks ---- */

static void on_request(struct gw_http_req *h, const struct gw_http_head *head, void *arg)
{
    struct s3_gw *gw = arg;
    struct s3_req *r = calloc(1, sizeof(*r));
    int rc;

    if (!r) {
        const char *n[1] = {"Connection"}, *v[1] = {"close"};
        gw_http_resp_start(h, 503, n, v, 1, 0);
        gw_http_resp_end(h, true);
        return;
    }
    r->gw = gw;
    r->http = h;
    r->head = head;
    r->refs = 1;
    r->method = head->method;
    snprintf(r->id, sizeof(r->id), "%016" PRIX64, ++gw->next_request_id);
    gw_http_req_set_data(h, r);
    rc = parse_target(r);
    if (rc == -ENAMETOOLONG)
        s3__error(r, "KeyTooLongError", NULL);
    else if (rc == -EBADR)
        s3__error(r, "InvalidBucketName", NULL);
    else if (rc == -EILSEQ)
        s3__error(r, "InvalidArgument", "Object keys must be valid UTF-8.");
    else if (rc < 0)
        s3__error(r, "InvalidArgument", "Malformed request target.");
    else
        authenticate(r);
}

static int on_body(struct gw_http_req *h, const void *data, size_t len, void *arg);
static void on_body_end(struct gw_http_req *h, void *arg);

static void on_abort(struct gw_http_req *h, void *arg)
{
    struct s3_req *r = gw_http_req_data(h);

    (void)arg;
    if (!r)
        return;
    if (r->sink && r->body.consume && !r->body.ended) {
        r->body.ended = true; /* the client is gone mid-upload: its stripes go */
        s3__sink_discard(r);
    }
    r->http = NULL;
    r->head = NULL;
    s3__req_unref(r);
}

static void format_error(int status, const char *code, const char *message,
                         struct evbuffer *body, const char **content_type, void *arg)
{
    (void)arg;
    (void)status;
    gw_s3_xml_declaration(body);
    gw_s3_xml_open(body, "Error", NULL);
    gw_s3_xml_element(body, "Code", code);
    gw_s3_xml_element(body, "Message", message);
    gw_s3_xml_close(body, "Error");
    *content_type = "application/xml";
}

static int on_body(struct gw_http_req *h, const void *data, size_t len, void *arg)
{
    (void)arg;
    return s3__body_on_data(gw_http_req_data(h), data, len);
}

static void on_body_end(struct gw_http_req *h, void *arg)
{
    (void)arg;
    s3__body_on_end(gw_http_req_data(h));
}

int s3__server_start(struct s3_gw *gw, const struct gw_http_config *cfg)
{
    struct gw_http_handler handler = {
        .on_request = on_request, .on_body = on_body, .on_body_end = on_body_end,
        .on_abort = on_abort, .format_error = format_error, .arg = gw,
    };

    return gw_http_server_create(gw->base, cfg, &handler, &gw->http);
}

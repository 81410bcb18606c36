/* cairn-s3's private header, in sections by defining file. Everything here
 * runs on libcairn's loop thread (the server is created there through
 * cairn_loop_call): HTTP callbacks and libcairn completions alike, so no
 * locks. A request (struct s3_req) is reference counted: the HTTP side
 * holds one reference until the response ends or the connection aborts,
 * and every cluster operation in flight holds one. */
#ifndef CAIRN_GATEWAY_S3_INTERNAL_H
#define CAIRN_GATEWAY_S3_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "client/cairn.h"
#include "gateway/s3/checksum.h"
#include "gateway/s3/chunked.h"
#include "gateway/s3/http.h"
#include "gateway/s3/layout.h"
#include "gateway/s3/sigv4.h"
#include "gateway/s3/xml.h"

struct evbuffer;

#define S3_QUERY_MAX 32u           /* decoded query parameters kept */
#define S3_XML_BODY_MAX (4u << 20) /* request bodies read whole (XML) */
#define S3_CACHE_TTL_S 5           /* users and buckets cached this long */
#define S3_CACHE_SLOTS 64u
#define S3_WRITES_INFLIGHT 2u      /* stripe writes per upload */
#define S3_READS_INFLIGHT 2u       /* stripe reads per download */
#define S3_READ_CHUNK (4u << 20)   /* bytes per read op */
#define S3_OUT_HIGH (8u << 20)     /* response bytes queued before pausing reads */
#define S3_OBJECT_MAX (5ull << 40) /* 5 TiB, S3's largest object */
#define S3_PUT_MAX (5ull << 30)    /* 5 GiB, S3's largest single PUT */
#define S3_PART_MIN (5u << 20)     /* parts but the last */

/* ---- server.c ---- */

struct s3_cache_user {
    char access[GW_S3_ACCESS_KEY_MAX + 1];
    struct gw_s3_user user;
    time_t fetched;
};

struct s3_cache_bucket {
    char name[GW_S3_BUCKET_NAME_MAX + 1];
    struct gw_s3_bucket bucket;
    time_t fetched;
};

struct s3_gw {
    struct cairn *cairn;
    int32_t pool;
    struct event_base *base;
    struct gw_http_server *http;
    char region[GW_S3_REGION_MAX + 1]; /* what we answer to GetBucketLocation, and accept */
    char domain[256];                  /* virtual-host suffix ("" disables) */
    uint64_t next_request_id;
    struct s3_cache_user users[S3_CACHE_SLOTS];
    struct s3_cache_bucket buckets[S3_CACHE_SLOTS];
};

struct s3_param {
    char *name;  /* decoded */
    char *value; /* decoded, "" when absent */
};

struct s3_req;
typedef void (*s3_body_done_fn)(struct s3_req *r, int err);

/* The body pipeline: HTTP bytes -> (aws-chunked decoding) -> digests ->
 * the consumer (a sink for uploads, or a memory buffer for XML). */
struct s3_body {
    enum gw_s3_chunked_mode chunked; /* 0: plain */
    struct gw_s3_chunked dec;
    struct gw_s3_digests *digests;
    enum gw_s3_cksum_algo extra;     /* declared x-amz-checksum-* (header or trailer) */
    char extra_header[GW_S3_CKSUM_B64_MAX]; /* its value when sent as a header */
    bool want_sha256;                /* x-amz-content-sha256 is a hash to check */
    uint8_t sha256_expect[32];
    bool have_md5;                   /* Content-MD5 sent */
    uint8_t md5_expect[16];
    uint64_t declared;               /* x-amz-decoded-content-length or Content-Length */
    bool has_declared;
    uint64_t received;               /* decoded payload bytes */
    int (*consume)(struct s3_req *r, const void *data, size_t len); /* 0, 1 pause, -errno */
    s3_body_done_fn done;
    bool ended;
    bool pause;                      /* the consumer asked to pause */
    /* results after done(0) */
    uint8_t md5[16];
    uint8_t sha256[32];
    uint8_t extra_raw[GW_S3_CKSUM_RAW_MAX];
    char extra_b64[GW_S3_CKSUM_B64_MAX]; /* base64 of the computed extra checksum */
    /* memory consumer */
    char *mem;
    size_t mem_len, mem_cap;
};

struct s3_sink;
struct s3_source;

struct s3_req {
    struct s3_gw *gw;
    struct gw_http_req *http; /* NULL once the response ended or the connection died */
    const struct gw_http_head *head;
    unsigned refs;
    char id[24];                        /* x-amz-request-id */
    const char *method;
    char bucket[GW_S3_BUCKET_NAME_MAX + 2]; /* "" for the service */
    char *key;                          /* decoded, NULL without one */
    size_t key_len;
    struct s3_param params[S3_QUERY_MAX];
    size_t param_count;
    struct gw_s3_auth auth;
    struct gw_s3_user user;             /* the authenticated caller */
    struct gw_s3_bucket binfo;          /* the request's bucket, once looked up */
    struct s3_body body;
    struct s3_sink *sink;
    struct s3_source *source;
    void *op_state;                     /* per-operation state (object.c, multipart.c) */
    void (*op_free)(void *state);
};

void s3__req_ref(struct s3_req *r);
void s3__req_unref(struct s3_req *r);

/* Percent-decodes @n bytes of @s into a new string. 0, -EINVAL (bad
 * escape or %00), -ENOMEM. */
int s3__pct_decode(const char *s, size_t n, char **out);

/* The query parameter @name, decoded, or NULL. */
const char *s3__param(const struct s3_req *r, const char *name);
/* The request header @name or NULL. */
const char *s3__header(const struct s3_req *r, const char *name);

/* Ends the request with the S3 error @code ("NoSuchKey"), its HTTP status
 * from the one table, and an optional one-line @message (NULL: the
 * standard one). No-op when the response already ended. */
void s3__error(struct s3_req *r, const char *code, const char *message);
/* The S3 error code for a -errno from libcairn or the gateway. */
const char *s3__errno_code(int err);
void s3__error_errno(struct s3_req *r, int err);

/* Ends the HTTP side of @r after a streamed response (close: the body was
 * cut short). */
void s3__response_end(struct s3_req *r, bool close);

/* Sends a complete response: @status, extra headers, @body (moved; may be
 * NULL) as application/xml when @xml, else with no content type. */
void s3__respond(struct s3_req *r, int status, const char *const *names,
                 const char *const *values, size_t count, struct evbuffer *body);

/* Starts reading the body through the pipeline into @consume (NULL: into
 * memory, up to @mem_max bytes, else EntityTooLarge), calling @done at the
 * end with 0 once every digest and declared checksum matched, or with an
 * -errno (the caller answers). */
void s3__body_read(struct s3_req *r, int (*consume)(struct s3_req *, const void *, size_t),
                   size_t mem_max, s3_body_done_fn done);
/* Resumes a body paused by its consumer. */
void s3__body_resume(struct s3_req *r);
/* The S3 code for an error a body's done() received. */
const char *s3__body_error_code(int err);
/* HTTP's body callbacks land here (server.c forwards them). */
int s3__body_on_data(struct s3_req *r, const void *data, size_t len);
void s3__body_on_end(struct s3_req *r);

/* Creates the HTTP server for @gw on gw->base. 0 or -errno. */
int s3__server_start(struct s3_gw *gw, const struct gw_http_config *cfg);

/* Looks up the request's bucket (cache, then the cluster) into r->binfo
 * and calls @next with 0, -ENOENT (no such bucket) or -errno. */
void s3__bucket_lookup(struct s3_req *r, void (*next)(struct s3_req *r, int err));
/* The same for any bucket @name, into @out. */
void s3__bucket_lookup_name(struct s3_req *r, const char *name, struct gw_s3_bucket *out,
                            void (*next)(struct s3_req *r, int err));
void s3__bucket_forget(struct s3_gw *gw, const char *name);
void s3__bucket_remember(struct s3_gw *gw, const char *name, const struct gw_s3_bucket *b);

/* false after answering NoSuchBucket, an error for @err, or AccessDenied
 * when the caller does not own r->binfo; true to go on. */
bool s3__bucket_owned(struct s3_req *r, int err);
/* Removes object @oid, fire and forget (what fails is left to gc). */
void s3__remove_async(struct s3_gw *gw, const char *oid);
/* <ELEMENT><ID>name</ID><DisplayName>name</DisplayName></ELEMENT> */
void s3__owner_xml(struct evbuffer *out, const char *element, const char *name);
/* Removes the "aws-chunked" coding from a Content-Encoding value (a
 * 256-byte buffer), in place. */
void s3__strip_aws_chunked(char *enc);
/* The x-amz-meta-* headers as "name\0value\0" pairs (names lowercased)
 * into @buf. -E2BIG over S3's 2 KiB or @cap. */
int s3__collect_meta(struct s3_req *r, char *buf, size_t cap, size_t *len);

/* Runs @op on @oid asynchronously holding a reference on @r; @cb gets the
 * result (the op is destroyed after @cb returns). On a synchronous failure
 * @cb is called at once with the error. */
typedef void (*s3_op_cb)(struct s3_req *r, int result, struct cairn_op *op);
void s3__exec(struct s3_req *r, const char *oid, struct cairn_op *op, s3_op_cb cb);

/* HTTP-date (RFC 7231) and ISO 8601 ("2026-11-26T20:00:00.000Z") of @ns. */
void s3__http_date(int64_t ns, char out[40]);
void s3__iso_date(int64_t ns, char out[40]);
int64_t s3__now_ns(void);

/* ---- bucket.c ---- */
void s3__service_list(struct s3_req *r);
void s3__bucket_create(struct s3_req *r);
void s3__bucket_head(struct s3_req *r);
void s3__bucket_delete(struct s3_req *r);
void s3__bucket_location(struct s3_req *r);
void s3__bucket_versioning(struct s3_req *r);

/* ---- list.c ---- */
void s3__bucket_list(struct s3_req *r);          /* v1, v2 (list-type=2) */
void s3__bucket_list_versions(struct s3_req *r); /* ?versions */

/* ---- object.c ---- */
void s3__object_put(struct s3_req *r);
void s3__object_get(struct s3_req *r, bool head);
void s3__object_delete(struct s3_req *r);
void s3__objects_delete(struct s3_req *r); /* POST ?delete */

/* Stores @e (encoded) under r->key in the bucket index, atomically
 * replacing what was there; the replaced object's data is then removed.
 * @cb gets 0 or -errno (-ENOENT: the bucket is gone). */
void s3__index_commit(struct s3_req *r, const struct gw_s3_entry *e,
                      void (*cb)(struct s3_req *r, int err));
/* Reads r->key's index entry into a fresh buffer; @cb gets 0 with the
 * decoded entry (valid during the call), -ENOENT, or -errno. */
void s3__index_get(struct s3_req *r, void (*cb)(struct s3_req *r, int err,
                                                 const struct gw_s3_entry *e));
/* x-amz-copy-source ("[/]BUCKET/KEY", percent-encoded, "?versionId=null"
 * allowed) into @bucket and a new *@key (the caller frees it). 0, or
 * -errno after answering the request's error. */
int s3__copy_source_parse(struct s3_req *r, char bucket[GW_S3_BUCKET_NAME_MAX + 2], char **key);
/* After the source bucket's lookup (@err): checks it is the caller's and
 * reads @key's entry there, calling @cb as s3__index_get does; answers
 * NoSuchBucket or AccessDenied itself. */
void s3__copy_source_get(struct s3_req *r, int err, const struct gw_s3_bucket *src,
                         char *key, void (*cb)(struct s3_req *r, int err,
                                               const struct gw_s3_entry *e));
/* NULL, or "PreconditionFailed" when an x-amz-copy-source-if-* header
 * does not hold for the copy source @e. */
const char *s3__copy_preconditions(struct s3_req *r, const struct gw_s3_entry *e);
/* Removes the data of an entry (fire and forget; orphans go to gc). */
void s3__data_remove(struct s3_gw *gw, const char *data_id, uint64_t size, uint32_t parts);

/* ---- stream.c: stripes in and out ---- */

/* A sink writes a byte stream as the stripes of @data_id (or of attempt
 * @attempt of part @part of an upload when part > 0), at most
 * S3_WRITES_INFLIGHT in flight. */
int s3__sink_open(struct s3_req *r, const char *data_id, uint32_t part, uint32_t attempt,
                  uint64_t size_hint);
/* Streams the request body into the open sink; once every stripe is
 * durable @written gets 0 (or a write's -errno). A body that fails its
 * checks is answered with its S3 error and its stripes discarded; then
 * @written is never called. */
void s3__sink_read_body(struct s3_req *r, void (*written)(struct s3_req *r, int err));
/* Abandons the upload: once the writes in flight are done, the stripes
 * written are removed. Idempotent; no-op once a finish was asked for. */
void s3__sink_discard(struct s3_req *r);
/* 0 (keep sending), 1 (pause: resume when the sink calls s3__body_resume),
 * or -errno. */
int s3__sink_write(struct s3_req *r, const void *data, size_t len);
/* Who to wake when a paused sink has room again (default s3__body_resume). */
void s3__sink_set_resume(struct s3_req *r, void (*resume)(struct s3_req *r));
/* Flushes the last stripe; @cb when every write is durable (0 or -errno). */
void s3__sink_finish(struct s3_req *r, void (*cb)(struct s3_req *r, int err));
void s3__sink_free(struct s3_req *r);

/* A source reads [@off, @off+@len) of an object (simple or multipart) into
 * the response, throttled by the HTTP output queue. @cb at the end. */
int s3__source_start(struct s3_req *r, const struct gw_s3_entry *e, uint64_t off, uint64_t len,
                     void (*cb)(struct s3_req *r, int err));
void s3__source_free(struct s3_req *r);

/* ---- multipart.c ---- */
void s3__mpu_initiate(struct s3_req *r);
void s3__mpu_upload_part(struct s3_req *r);
void s3__mpu_complete(struct s3_req *r);
void s3__mpu_abort(struct s3_req *r);
void s3__mpu_list_parts(struct s3_req *r);
void s3__mpu_list_uploads(struct s3_req *r);
/* Removes the parts and manifest of a completed upload (fire and forget). */
void s3__mpu_data_remove(struct s3_gw *gw, const char *upload_id);

#endif

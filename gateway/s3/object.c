/* Object operations of cairn-s3: PutObject (and CopyObject), GetObject and
 * HeadObject (ranges, conditionals), DeleteObject and DeleteObjects, plus
 * the bucket-index updates they share.
 *
 * Atomic overwrite: an upload's bytes go to fresh data objects under a new
 * DATAID; only then does one compare-and-set on the key's index shard
 * switch the key to the new entry (guarded by the shard's "state" xattr,
 * so nothing lands in a bucket being deleted). A reader sees the old entry
 * or the new one, never a mix. The replaced object's data is removed
 * afterwards; if the gateway dies first, the orphan is reclaimed by
 * `cairn s3 gc` (DATAIDs carry their creation time). */
#define _GNU_SOURCE /* strptime, timegm */
#include "gateway/s3/internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "common/assert.h"
#include "common/log.h"

#define INDEX_RETRIES 8

/* ---- shared: ownership, data removal ---- */

void s3__data_remove(struct s3_gw *gw, const char *data_id, uint64_t size, uint32_t parts)
{
    char oid[GW_S3_OID_MAX];

    if (parts) {
        /* The parts' stripes are found through the manifest: leave them to
         * the multipart code, which knows the part sizes. */
        s3__mpu_data_remove(gw, data_id);
        return;
    }
    for (uint64_t s = 0; s * GW_S3_STRIPE_BYTES < size; s++) {
        gw_s3_oid_data(data_id, (uint32_t)s, oid);
        s3__remove_async(gw, oid);
    }
}

/* ---- the index ---- */

struct index_ctx {
    uint8_t value[CAIRN_VALUE_MAX];    /* new entry, encoded */
    size_t value_len;
    uint8_t old[CAIRN_VALUE_MAX];      /* the entry it replaces */
    size_t old_len;
    bool have_old;
    unsigned tries;
    const char *key;                   /* borrowed: lives as long as the request */
    size_t key_len;
    char oid[GW_S3_OID_MAX];
    void (*cb)(struct s3_req *r, int err);
    void (*get_cb)(struct s3_req *r, int err, const struct gw_s3_entry *e);
    bool remove;                       /* delete instead of set */
    char seek[CAIRN_OMAP_KEY_MAX];     /* swap: lists from just before the key */
    size_t seek_len;
    struct cairn_kv_list *found;       /* swap: the key's old entry, if listed */
    void *saved_state;
    void (*saved_free)(void *);
};

static struct index_ctx *index_ctx_push(struct s3_req *r)
{
    struct index_ctx *x = calloc(1, sizeof(*x));

    if (!x)
        return NULL;
    x->saved_state = r->op_state;
    x->saved_free = r->op_free;
    r->op_state = x;
    r->op_free = free;
    x->key = r->key;
    x->key_len = r->key_len;
    gw_s3_oid_index(r->binfo.id, gw_s3_shard_of(r->key, r->key_len, r->binfo.shards), x->oid);
    return x;
}

static void index_ctx_pop(struct s3_req *r, struct index_ctx *x)
{
    r->op_state = x->saved_state;
    r->op_free = x->saved_free;
}

static void index_cas(struct s3_req *r, struct index_ctx *x);

static void index_old_read(struct s3_req *r, int result, struct cairn_op *op)
{
    struct index_ctx *x = r->op_state;

    (void)op;
    if (result == -ENODATA) {
        x->have_old = false;
    } else if (result < 0) {
        void (*cb)(struct s3_req *, int) = x->cb;
        index_ctx_pop(r, x);
        free(x);
        cb(r, result == -ENOENT ? -ENOENT : result);
        return;
    } else {
        x->have_old = true;
    }
    index_cas(r, x);
}

static void index_reread(struct s3_req *r, struct index_ctx *x)
{
    struct cairn_op *op = cairn_op_create();

    if (!op) {
        void (*cb)(struct s3_req *, int) = x->cb;
        index_ctx_pop(r, x);
        free(x);
        cb(r, -ENOMEM);
        return;
    }
    cairn_op_omap_get(op, x->key, x->key_len, x->old, sizeof(x->old), &x->old_len);
    s3__exec(r, x->oid, op, index_old_read);
}

/* The old entry's data goes once the switch is durable. */
static void remove_old_data(struct s3_req *r, struct index_ctx *x)
{
    struct gw_s3_entry old;

    if (x->have_old && gw_s3_entry_decode(x->old, x->old_len, &old) == 0 && !old.has_inline)
        s3__data_remove(r->gw, old.data_id, old.size, old.parts);
}

static void index_cas_done(struct s3_req *r, int result, struct cairn_op *op)
{
    struct index_ctx *x = r->op_state;
    void (*cb)(struct s3_req *, int) = x->cb;

    int step = op ? cairn_op_failed_step(op) : -1;

    if (result == -ECANCELED && step == 1 && ++x->tries < INDEX_RETRIES) {
        index_reread(r, x); /* someone else changed the key: try again on theirs */
        return;
    }
    if (result < 0 && step == 0)
        result = -ENOENT; /* the shard is gone or not live: no such bucket */
    if (result == 0)
        remove_old_data(r, x);
    index_ctx_pop(r, x);
    if (result == -ECANCELED && x->remove)
        result = 0; /* racing deletes: one of them removed it */
    free(x);
    cb(r, result);
}

static void index_cas(struct s3_req *r, struct index_ctx *x)
{
    struct cairn_op *op = cairn_op_create();

    if (!op) {
        index_cas_done(r, -ENOMEM, NULL);
        return;
    }
    if (x->remove && !x->have_old) {
        cairn_op_destroy(op);
        index_ctx_pop(r, x);
        void (*cb)(struct s3_req *, int) = x->cb;
        free(x);
        cb(r, 0); /* nothing to delete: S3 answers 204 all the same */
        return;
    }
    cairn_op_cmpxattr(op, "state", "live", 4);
    cairn_op_omap_cas(op, x->key, x->key_len, x->have_old ? x->old : NULL,
                      x->have_old ? x->old_len : 0, x->remove ? NULL : x->value,
                      x->remove ? 0 : x->value_len);
    s3__exec(r, x->oid, op, index_cas_done);
}

static bool swap_possible(const struct index_ctx *x);
static void index_swap(struct s3_req *r, struct index_ctx *x);

void s3__index_commit(struct s3_req *r, const struct gw_s3_entry *e,
                      void (*cb)(struct s3_req *r, int err))
{
    struct index_ctx *x = index_ctx_push(r);
    int n;

    if (!x) {
        cb(r, -ENOMEM);
        return;
    }
    n = gw_s3_entry_encode(e, x->value, sizeof(x->value));
    if (n < 0) {
        index_ctx_pop(r, x);
        free(x);
        cb(r, -E2BIG);
        return;
    }
    x->value_len = (size_t)n;
    x->cb = cb;
    if (swap_possible(x))
        index_swap(r, x);
    else
        index_cas(r, x); /* optimistic: most PUTs create a key, so "absent" first */
}

/* ---- the one-op swap ----
 *
 * Setting (or removing) a key and learning what it replaced takes one op
 * on the shard: omap_get would fail the op when the key is absent, but
 * omap_list from just before the key returns the key's old entry if there
 * is one, and the op's reads see the shard as it was before its own
 * mutations. The OSD runs the ops of one object one at a time, so each
 * swap sees exactly the entry the previous one left: racing PUTs of a key
 * each remove the data of the entry they replaced, never a live one.
 *
 * "Just before": KEY minus its last byte, that byte less one, then 0xff.
 * No key lies between that and KEY, because keys are UTF-8, which never
 * holds 0xff. That seek is one byte longer than the key, so a key of the
 * full 1,024 bytes takes the compare-and-set path above instead. */

static bool swap_possible(const struct index_ctx *x)
{
    return x->key_len >= 1 && x->key_len < CAIRN_OMAP_KEY_MAX;
}

static void index_swapped(struct s3_req *r, int result, struct cairn_op *op)
{
    struct index_ctx *x = r->op_state;
    void (*cb)(struct s3_req *, int) = x->cb;
    struct cairn_kv_list *l = x->found;
    int step = op ? cairn_op_failed_step(op) : -1;

    x->found = NULL;
    if (result < 0 && step == 0)
        result = -ENOENT; /* the shard is gone or not live: no such bucket */
    if (result == 0 && l && l->n == 1 && l->kv[0].key_len == x->key_len &&
        memcmp(l->kv[0].key, x->key, x->key_len) == 0 && l->kv[0].value_len <= sizeof(x->old)) {
        memcpy(x->old, l->kv[0].value, l->kv[0].value_len);
        x->old_len = l->kv[0].value_len;
        x->have_old = true;
        remove_old_data(r, x);
    }
    cairn_kv_list_free(l);
    index_ctx_pop(r, x);
    free(x);
    cb(r, result);
}

static void index_swap(struct s3_req *r, struct index_ctx *x)
{
    struct cairn_op *op = cairn_op_create();

    if (!op) {
        index_swapped(r, -ENOMEM, NULL);
        return;
    }
    memcpy(x->seek, x->key, x->key_len - 1);
    x->seek[x->key_len - 1] = (char)((uint8_t)x->key[x->key_len - 1] - 1);
    x->seek[x->key_len] = (char)0xff;
    x->seek_len = x->key_len + 1;
    cairn_op_cmpxattr(op, "state", "live", 4);
    cairn_op_omap_list(op, x->seek, x->seek_len, 1, &x->found);
    if (x->remove)
        cairn_op_omap_rm(op, x->key, x->key_len);
    else
        cairn_op_omap_set(op, x->key, x->key_len, x->value, x->value_len);
    s3__exec(r, x->oid, op, index_swapped);
}

/* Removes r->key from the index (its data too). 0 also when absent. */
static void index_remove(struct s3_req *r, void (*cb)(struct s3_req *r, int err))
{
    struct index_ctx *x = index_ctx_push(r);

    if (!x) {
        cb(r, -ENOMEM);
        return;
    }
    x->cb = cb;
    x->remove = true;
    if (swap_possible(x))
        index_swap(r, x);
    else
        index_reread(r, x);
}

static void index_got(struct s3_req *r, int result, struct cairn_op *op)
{
    struct index_ctx *x = r->op_state;
    void (*cb)(struct s3_req *, int, const struct gw_s3_entry *) = x->get_cb;
    struct gw_s3_entry e;

    (void)op;
    index_ctx_pop(r, x);
    if (result == -ENODATA)
        result = -ENOENT;
    else if (result == -ENOENT)
        result = -ENOENT; /* the shard itself is missing */
    if (result == 0 && gw_s3_entry_decode(x->old, x->old_len, &e) < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_GATEWAY, "bucket %s: damaged index entry", r->bucket);
        result = -EIO;
    }
    cb(r, result, result == 0 ? &e : NULL);
    free(x);
}

void s3__index_get(struct s3_req *r, void (*cb)(struct s3_req *r, int err,
                                                 const struct gw_s3_entry *e))
{
    struct index_ctx *x = index_ctx_push(r);
    struct cairn_op *op = cairn_op_create();

    if (!x || !op) {
        if (x) {
            index_ctx_pop(r, x);
            free(x);
        }
        cairn_op_destroy(op);
        cb(r, -ENOMEM, NULL);
        return;
    }
    x->get_cb = cb;
    cairn_op_omap_get(op, x->key, x->key_len, x->old, sizeof(x->old), &x->old_len);
    s3__exec(r, x->oid, op, index_got);
}

/* ---- PUT ---- */

/* What an upload keeps between its steps. */
struct put_state {
    char data_id[GW_S3_ID_LEN + 1];
    char etag[GW_S3_ETAG_MAX + 1];
    char ctype[256], cenc[256], cdisp[512], cache[256], clang[128], expires[64];
    char meta[GW_S3_META_MAX * 2];
    size_t meta_len;
    /* copies */
    struct gw_s3_bucket src_bucket;
    char *src_key;
    bool replace_meta;
    uint64_t src_size;
    uint8_t src_entry[CAIRN_VALUE_MAX];
    size_t src_entry_len;
    int copy_err;
    bool inline_data;   /* small: the body goes into the index entry */
};

static void put_state_free(void *p)
{
    struct put_state *ps = p;
    if (ps)
        free(ps->src_key);
    free(ps);
}

static void copy_header(struct s3_req *r, const char *name, char *out, size_t cap)
{
    const char *v = s3__header(r, name);
    snprintf(out, cap, "%s", v ? v : "");
}

static void put_entry(struct s3_req *r, struct put_state *ps, struct gw_s3_entry *e,
                      uint64_t size)
{
    memset(e, 0, sizeof(*e));
    e->size = size;
    e->mtime_ns = s3__now_ns();
    snprintf(e->etag, sizeof(e->etag), "%s", ps->etag);
    snprintf(e->data_id, sizeof(e->data_id), "%s", ps->data_id);
    e->content_type = ps->ctype;
    e->content_encoding = ps->cenc;
    e->content_disposition = ps->cdisp;
    e->cache_control = ps->cache;
    e->content_language = ps->clang;
    e->expires = ps->expires;
    e->meta = ps->meta;
    e->meta_len = ps->meta_len;
    e->cksum = "";
    if (r->body.extra && r->body.extra_b64[0]) {
        e->cksum_algo = (uint8_t)r->body.extra;
        e->cksum = r->body.extra_b64;
    }
}

static void put_committed(struct s3_req *r, int err)
{
    struct put_state *ps = r->op_state;
    const char *n[2], *v[2];
    char etag[GW_S3_ETAG_MAX + 3], ckname[40];
    size_t k = 0;

    if (err < 0) {
        if (!ps->inline_data)
            s3__data_remove(r->gw, ps->data_id, r->body.received, 0);
        if (err == -ENOENT)
            s3__error(r, "NoSuchBucket", NULL);
        else
            s3__error_errno(r, err);
        return;
    }
    snprintf(etag, sizeof(etag), "\"%s\"", ps->etag);
    n[k] = "ETag";
    v[k++] = etag;
    if (r->body.extra) {
        snprintf(ckname, sizeof(ckname), "x-amz-checksum-%s",
                 gw_s3_cksum_algo_name(r->body.extra));
        n[k] = ckname;
        v[k++] = r->body.extra_b64;
    }
    s3__respond(r, 200, n, v, k, NULL);
}

static void put_data_done(struct s3_req *r, int err)
{
    struct put_state *ps = r->op_state;
    struct gw_s3_entry e;

    if (err < 0) {
        s3__data_remove(r->gw, ps->data_id, r->body.received, 0);
        s3__error_errno(r, err);
        return;
    }
    gw_s3_hex(r->body.md5, 16, ps->etag);
    put_entry(r, ps, &e, r->body.received);
    s3__index_commit(r, &e, put_committed);
}

/* A small object: its body, read into memory, goes into the index entry,
 * so the PUT is one cluster op and a GET of it another. */
static void put_inline_done(struct s3_req *r, int err)
{
    struct put_state *ps = r->op_state;
    struct gw_s3_entry e;

    if (err < 0) {
        s3__error(r, s3__body_error_code(err), NULL);
        return;
    }
    gw_s3_hex(r->body.md5, 16, ps->etag);
    put_entry(r, ps, &e, r->body.received);
    e.has_inline = true;
    e.inline_data = r->body.mem;
    e.inline_len = r->body.mem_len;
    s3__index_commit(r, &e, put_committed);
}

/* The payload size the request declares (decoded for aws-chunked), or
 * UINT64_MAX when it does not say. */
static uint64_t declared_size(struct s3_req *r)
{
    const char *d = s3__header(r, "x-amz-decoded-content-length");
    char *end;
    unsigned long long v;

    if (d) {
        v = strtoull(d, &end, 10);
        return *d && !*end && d[0] != '-' ? v : UINT64_MAX;
    }
    return r->head->has_content_length && !r->head->chunked ? r->head->content_length
                                                             : UINT64_MAX;
}

static void object_copy(struct s3_req *r, struct put_state *ps);

static struct put_state *put_state_new(struct s3_req *r)
{
    struct put_state *ps = calloc(1, sizeof(*ps));

    if (!ps)
        return NULL;
    gw_s3_id_new(time(NULL), ps->data_id);
    copy_header(r, "Content-Type", ps->ctype, sizeof(ps->ctype));
    copy_header(r, "Content-Encoding", ps->cenc, sizeof(ps->cenc));
    copy_header(r, "Content-Disposition", ps->cdisp, sizeof(ps->cdisp));
    copy_header(r, "Cache-Control", ps->cache, sizeof(ps->cache));
    copy_header(r, "Content-Language", ps->clang, sizeof(ps->clang));
    copy_header(r, "Expires", ps->expires, sizeof(ps->expires));
    s3__strip_aws_chunked(ps->cenc);
    r->op_state = ps;
    r->op_free = put_state_free;
    return ps;
}

static void put_bucket(struct s3_req *r, int err)
{
    const char *copy = s3__header(r, "x-amz-copy-source");
    struct put_state *ps;
    int rc;

    if (!s3__bucket_owned(r, err))
        return;
    ps = put_state_new(r);
    if (!ps) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    if (s3__collect_meta(r, ps->meta, sizeof(ps->meta), &ps->meta_len) < 0) {
        s3__error(r, "MetadataTooLarge", NULL);
        return;
    }
    if (copy) {
        object_copy(r, ps);
        return;
    }
    if (!r->head->has_content_length && !r->head->chunked) {
        s3__error(r, "MissingContentLength", NULL);
        return;
    }
    if (declared_size(r) <= GW_S3_INLINE_MAX) {
        ps->inline_data = true;
        s3__body_read(r, NULL, GW_S3_INLINE_MAX, put_inline_done);
        return;
    }
    rc = s3__sink_open(r, ps->data_id, 0, 0, r->head->content_length);
    if (rc < 0) {
        s3__error_errno(r, rc);
        return;
    }
    s3__sink_read_body(r, put_data_done);
}

void s3__object_put(struct s3_req *r)
{
    s3__bucket_lookup(r, put_bucket);
}

/* ---- COPY ---- */

static void copy_committed(struct s3_req *r, int err)
{
    struct put_state *ps = r->op_state;
    struct evbuffer *body;
    char date[40], etag[GW_S3_ETAG_MAX + 3];

    if (err < 0) {
        if (!ps->inline_data)
            s3__data_remove(r->gw, ps->data_id, ps->src_size, 0);
        s3__error(r, err == -ENOENT ? "NoSuchBucket" : s3__errno_code(err), NULL);
        return;
    }
    body = evbuffer_new();
    s3__iso_date(s3__now_ns(), date);
    snprintf(etag, sizeof(etag), "\"%s\"", ps->etag);
    gw_s3_xml_declaration(body);
    gw_s3_xml_open(body, "CopyObjectResult", "http://s3.amazonaws.com/doc/2006-03-01/");
    gw_s3_xml_element(body, "LastModified", date);
    gw_s3_xml_element(body, "ETag", etag);
    gw_s3_xml_close(body, "CopyObjectResult");
    s3__respond(r, 200, NULL, NULL, 0, body);
    evbuffer_free(body);
}

static void copy_written(struct s3_req *r, int err)
{
    struct put_state *ps = r->op_state;
    struct gw_s3_entry src, e;

    if (err == 0)
        err = ps->copy_err;
    if (err < 0) {
        s3__data_remove(r->gw, ps->data_id, ps->src_size, 0);
        s3__error_errno(r, err);
        return;
    }
    CAIRN_ASSERT(gw_s3_entry_decode(ps->src_entry, ps->src_entry_len, &src) == 0);
    if (src.has_inline) {
        snprintf(ps->etag, sizeof(ps->etag), "%s", src.etag); /* the MD5 of the same bytes */
    } else {
        gw_s3_digests_final(r->body.digests, r->body.md5, NULL, NULL);
        gw_s3_hex(r->body.md5, 16, ps->etag);
    }
    put_entry(r, ps, &e, src.size);
    if (src.has_inline) {
        ps->inline_data = true;
        e.has_inline = true;
        e.inline_data = src.inline_data;
        e.inline_len = src.inline_len;
    }
    if (!ps->replace_meta) {
        e.content_type = src.content_type;
        e.content_encoding = src.content_encoding;
        e.content_disposition = src.content_disposition;
        e.cache_control = src.cache_control;
        e.content_language = src.content_language;
        e.expires = src.expires;
        e.meta = src.meta;
        e.meta_len = src.meta_len;
    }
    if (src.cksum_algo && !src.parts) {
        e.cksum_algo = src.cksum_algo;
        e.cksum = src.cksum;
    }
    s3__index_commit(r, &e, copy_committed);
}

static void copy_read_done(struct s3_req *r, int err)
{
    struct put_state *ps = r->op_state;

    ps->copy_err = err;
    s3__sink_finish(r, copy_written);
}

static void copy_source_got(struct s3_req *r, int err, const struct gw_s3_entry *e)
{
    struct put_state *ps = r->op_state;
    int rc;

    if (err == -ENOENT) {
        s3__error(r, "NoSuchKey", "The specified copy source does not exist.");
        return;
    }
    if (err < 0) {
        s3__error_errno(r, err);
        return;
    }
    if (e->size > S3_PUT_MAX) {
        s3__error(r, "InvalidRequest", "The specified copy source is larger than the maximum "
                                       "allowable size for a copy source: 5368709120");
        return;
    }
    if (s3__copy_preconditions(r, e)) {
        s3__error(r, "PreconditionFailed", NULL);
        return;
    }
    ps->src_size = e->size;
    rc = gw_s3_entry_encode(e, ps->src_entry, sizeof(ps->src_entry));
    CAIRN_ASSERT(rc > 0);
    ps->src_entry_len = (size_t)rc;
    if (e->has_inline) {
        copy_written(r, 0); /* no data objects to copy: the entry has it all */
        return;
    }
    if ((rc = s3__sink_open(r, ps->data_id, 0, 0, e->size)) < 0 ||
        (rc = gw_s3_digests_create(GW_S3_DIGEST_MD5, GW_S3_CKSUM_NONE, &r->body.digests)) < 0 ||
        (rc = s3__source_start(r, e, 0, e->size, copy_read_done)) < 0) {
        s3__error_errno(r, rc);
        return;
    }
}

/* ---- the copy source, shared with UploadPartCopy ---- */

int s3__copy_source_parse(struct s3_req *r, char bucket[GW_S3_BUCKET_NAME_MAX + 2], char **key)
{
    const char *src = s3__header(r, "x-amz-copy-source"), *q, *slash;
    char *decoded;

    if (*src == '/')
        src++;
    q = strstr(src, "?versionId=");
    if (s3__pct_decode(src, q ? (size_t)(q - src) : strlen(src), &decoded) < 0) {
        s3__error(r, "InvalidArgument", "Invalid copy source.");
        return -EINVAL;
    }
    slash = strchr(decoded, '/');
    if (q && strcmp(q + 11, "null") != 0) {
        free(decoded);
        s3__error(r, "NoSuchVersion", NULL); /* unversioned: only "null" exists */
        return -ENOENT;
    }
    if (!slash || !slash[1] || (size_t)(slash - decoded) >= GW_S3_BUCKET_NAME_MAX + 2 ||
        strlen(slash + 1) > GW_S3_KEY_MAX) {
        free(decoded);
        s3__error(r, "InvalidArgument", "Copy Source must mention the source bucket and key: "
                                        "sourcebucket/sourcekey.");
        return -EINVAL;
    }
    snprintf(bucket, GW_S3_BUCKET_NAME_MAX + 2, "%.*s", (int)(slash - decoded), decoded);
    *key = strdup(slash + 1);
    free(decoded);
    if (!*key) {
        s3__error(r, "InternalError", NULL);
        return -ENOMEM;
    }
    return 0;
}

void s3__copy_source_get(struct s3_req *r, int err, const struct gw_s3_bucket *src,
                         char *key, void (*cb)(struct s3_req *r, int err,
                                               const struct gw_s3_entry *e))
{
    struct gw_s3_bucket dst = r->binfo;
    char *dst_key = r->key;
    size_t dst_len = r->key_len;

    if (err == -ENOENT) {
        s3__error(r, "NoSuchBucket", "The specified copy source bucket does not exist.");
        return;
    }
    if (err < 0 || strcmp(src->owner, r->user.name) != 0) {
        s3__error(r, err < 0 ? s3__errno_code(err) : "AccessDenied", NULL);
        return;
    }
    /* The index helpers look up the request's key in the request's bucket:
     * point them at the source for the lookup (they keep what they need). */
    r->binfo = *src;
    r->key = key;
    r->key_len = strlen(key);
    s3__index_get(r, cb);
    r->binfo = dst;
    r->key = dst_key;
    r->key_len = dst_len;
}

static void copy_source_bucket(struct s3_req *r, int err)
{
    struct put_state *ps = r->op_state;

    s3__copy_source_get(r, err, &ps->src_bucket, ps->src_key, copy_source_got);
}

static void object_copy(struct s3_req *r, struct put_state *ps)
{
    const char *directive = s3__header(r, "x-amz-metadata-directive");
    char bucket[GW_S3_BUCKET_NAME_MAX + 2];

    if (directive && strcmp(directive, "REPLACE") != 0 && strcmp(directive, "COPY") != 0) {
        s3__error(r, "InvalidArgument", "Unknown metadata directive.");
        return;
    }
    ps->replace_meta = directive && strcmp(directive, "REPLACE") == 0;
    if (s3__copy_source_parse(r, bucket, &ps->src_key) < 0)
        return;
    if (strcmp(bucket, r->bucket) == 0 && strcmp(ps->src_key, r->key) == 0 &&
        !ps->replace_meta) {
        s3__error(r, "InvalidRequest", "This copy request is illegal because it is trying to "
                                       "copy an object to itself without changing the "
                                       "object's metadata.");
        return;
    }
    s3__bucket_lookup_name(r, bucket, &ps->src_bucket, copy_source_bucket);
}

/* ---- GET / HEAD ---- */

struct range {
    uint64_t off, len;
    bool partial;
};

/* Parses "bytes=A-B", "bytes=A-", "bytes=-N" against @size. 0, or
 * -ERANGE unsatisfiable; a syntactically odd header is ignored (as S3). */
static int parse_range(const char *h, uint64_t size, struct range *out)
{
    unsigned long long a, b;
    char *end;

    out->off = 0;
    out->len = size;
    out->partial = false;
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    h += 6;
    if (*h == '-') {
        b = strtoull(h + 1, &end, 10);
        if (*end || end == h + 1)
            return 0;
        if (b == 0)
            return -ERANGE;
        out->len = b < size ? b : size;
        out->off = size - out->len;
    } else {
        a = strtoull(h, &end, 10);
        if (end == h || *end != '-')
            return 0;
        h = end + 1;
        b = *h ? strtoull(h, &end, 10) : UINT64_MAX;
        if (*h && (*end || b < a))
            return 0;
        if (a >= size)
            return -ERANGE;
        if (b >= size)
            b = size - 1;
        out->off = a;
        out->len = b - a + 1;
    }
    out->partial = true;
    return 0;
}

static bool etag_matches(const char *list, const char *etag)
{
    char want[GW_S3_ETAG_MAX + 3];

    snprintf(want, sizeof(want), "\"%s\"", etag);
    if (strcmp(list, "*") == 0)
        return true;
    return strstr(list, want) != NULL || strcmp(list, etag) == 0;
}

static int64_t parse_http_date(const char *s)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    return (int64_t)timegm(&tm);
}

/* S3's order: If-Match, then If-Unmodified-Since (ignored when If-Match
 * held), If-None-Match, then If-Modified-Since. NULL, PreconditionFailed,
 * or @not_modified (what a failed If-None-Match/If-Modified-Since is). */
static const char *conditions(const char *im, const char *inm, const char *ius,
                              const char *ims, const struct gw_s3_entry *e,
                              const char *not_modified)
{
    int64_t mtime = e->mtime_ns / 1000000000, t;

    if (im && !etag_matches(im, e->etag))
        return "PreconditionFailed";
    if (!im && ius && (t = parse_http_date(ius)) >= 0 && mtime > t)
        return "PreconditionFailed";
    if (inm && etag_matches(inm, e->etag))
        return not_modified;
    if (!inm && ims && (t = parse_http_date(ims)) >= 0 && mtime <= t)
        return not_modified;
    return NULL;
}

static const char *preconditions(struct s3_req *r, const struct gw_s3_entry *e)
{
    return conditions(s3__header(r, "If-Match"), s3__header(r, "If-None-Match"),
                      s3__header(r, "If-Unmodified-Since"), s3__header(r, "If-Modified-Since"),
                      e, "NotModified");
}

/* CopyObject and UploadPartCopy: the x-amz-copy-source-if-* headers
 * against the source. S3 has no 304 for copies: any failure is
 * PreconditionFailed. */
const char *s3__copy_preconditions(struct s3_req *r, const struct gw_s3_entry *e)
{
    return conditions(s3__header(r, "x-amz-copy-source-if-match"),
                      s3__header(r, "x-amz-copy-source-if-none-match"),
                      s3__header(r, "x-amz-copy-source-if-unmodified-since"),
                      s3__header(r, "x-amz-copy-source-if-modified-since"), e,
                      "PreconditionFailed");
}

static void get_done(struct s3_req *r, int err)
{
    if (err < 0)
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_GATEWAY, "%s GET %s: read failed after headers: %d", r->id,
                  r->bucket, err);
    s3__response_end(r, err < 0);
}

/* Headers of a GET/HEAD answer, into @n/@v; strings in @buf. */
static size_t object_headers(struct s3_req *r, const struct gw_s3_entry *e,
                             const struct range *rg, const char **n, const char **v,
                             size_t max, char (*buf)[128])
{
    size_t k = 0, b = 0;

    n[k] = "x-amz-request-id";
    v[k++] = r->id;
    snprintf(buf[b], 128, "\"%s\"", e->etag);
    n[k] = "ETag";
    v[k++] = buf[b++];
    s3__http_date(e->mtime_ns, buf[b]);
    n[k] = "Last-Modified";
    v[k++] = buf[b++];
    n[k] = "Accept-Ranges";
    v[k++] = "bytes";
    n[k] = "Content-Type";
    v[k++] = e->content_type[0] ? e->content_type : "binary/octet-stream";
    if (e->content_encoding[0]) {
        n[k] = "Content-Encoding";
        v[k++] = e->content_encoding;
    }
    if (e->content_disposition[0]) {
        n[k] = "Content-Disposition";
        v[k++] = e->content_disposition;
    }
    if (e->cache_control[0]) {
        n[k] = "Cache-Control";
        v[k++] = e->cache_control;
    }
    if (e->content_language[0]) {
        n[k] = "Content-Language";
        v[k++] = e->content_language;
    }
    if (e->expires[0]) {
        n[k] = "Expires";
        v[k++] = e->expires;
    }
    if (rg->partial) {
        snprintf(buf[b], 128, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, rg->off,
                 rg->off + rg->len - 1, e->size);
        n[k] = "Content-Range";
        v[k++] = buf[b++];
    }
    if (e->parts) {
        snprintf(buf[b], 128, "%u", e->parts);
        n[k] = "x-amz-mp-parts-count";
        v[k++] = buf[b++];
    }
    if (e->cksum_algo && !rg->partial) {
        const char *mode = s3__header(r, "x-amz-checksum-mode");
        if (mode && strcasecmp(mode, "ENABLED") == 0) {
            snprintf(buf[b], 128, "x-amz-checksum-%s", gw_s3_cksum_algo_name(e->cksum_algo));
            n[k] = buf[b++];
            v[k++] = e->cksum;
        }
    }
    for (size_t off = 0; off < e->meta_len && k + 1 < max && b < 40;) {
        const char *name = e->meta + off, *val = name + strlen(name) + 1;
        snprintf(buf[b], 128, "x-amz-meta-%s", name);
        n[k] = buf[b++];
        v[k++] = val;
        off += strlen(name) + strlen(val) + 2;
    }
    return k;
}

static void get_entry(struct s3_req *r, int err, const struct gw_s3_entry *e)
{
    bool head = strcmp(r->method, "HEAD") == 0;
    const char *n[48], *v[48], *pre;
    char buf[44][128];
    struct range rg;
    size_t k;
    int rc;

    if (err < 0) {
        s3__error(r, err == -ENOENT ? "NoSuchKey" : s3__errno_code(err), NULL);
        return;
    }
    pre = preconditions(r, e);
    if (pre) {
        if (strcmp(pre, "NotModified") == 0) {
            char etag[GW_S3_ETAG_MAX + 3];
            const char *hn[1] = {"ETag"}, *hv[1] = {etag};
            snprintf(etag, sizeof(etag), "\"%s\"", e->etag);
            s3__respond(r, 304, hn, hv, 1, NULL);
        } else {
            s3__error(r, pre, NULL);
        }
        return;
    }
    if (parse_range(s3__header(r, "Range"), e->size, &rg) < 0) {
        s3__error(r, "InvalidRange", NULL);
        return;
    }
    k = object_headers(r, e, &rg, n, v, 48, buf);
    gw_http_resp_start(r->http, rg.partial ? 206 : 200, n, v, k, (int64_t)rg.len);
    if (head || rg.len == 0) {
        s3__response_end(r, false);
        return;
    }
    if (e->has_inline) {
        gw_http_resp_write(r->http, (const uint8_t *)e->inline_data + rg.off, rg.len);
        s3__response_end(r, false);
        return;
    }
    rc = s3__source_start(r, e, rg.off, rg.len, get_done);
    if (rc < 0)
        s3__response_end(r, true);
}

static void get_bucket(struct s3_req *r, int err)
{
    if (!s3__bucket_owned(r, err))
        return;
    s3__index_get(r, get_entry);
}

void s3__object_get(struct s3_req *r, bool head)
{
    (void)head;
    s3__bucket_lookup(r, get_bucket);
}

/* ---- DELETE ---- */

static void delete_done(struct s3_req *r, int err)
{
    if (err < 0 && err != -ENOENT) {
        s3__error_errno(r, err);
        return;
    }
    if (err == -ENOENT) {
        s3__error(r, "NoSuchBucket", NULL);
        return;
    }
    s3__respond(r, 204, NULL, NULL, 0, NULL);
}

static void delete_bucket(struct s3_req *r, int err)
{
    if (!s3__bucket_owned(r, err))
        return;
    index_remove(r, delete_done);
}

void s3__object_delete(struct s3_req *r)
{
    s3__bucket_lookup(r, delete_bucket);
}

/* ---- DeleteObjects (POST ?delete) ---- */

struct mdel_state {
    struct gw_s3_delete_req req;
    size_t next;
    struct evbuffer *out;
    char *saved_key;
    size_t saved_len;
};

static void mdel_free(void *p)
{
    struct mdel_state *m = p;

    if (!m)
        return;
    gw_s3_delete_req_fini(&m->req);
    if (m->out)
        evbuffer_free(m->out);
    free(m);
}

static void mdel_next(struct s3_req *r);

static void mdel_one_done(struct s3_req *r, int err)
{
    struct mdel_state *m = r->op_state;
    const struct gw_s3_delete_object *o = &m->req.objects[m->next];

    if (err < 0 && err != -ENOENT) {
        gw_s3_xml_open(m->out, "Error", NULL);
        gw_s3_xml_element(m->out, "Key", o->key);
        gw_s3_xml_element(m->out, "Code", s3__errno_code(err));
        gw_s3_xml_element(m->out, "Message", "The object could not be deleted.");
        gw_s3_xml_close(m->out, "Error");
    } else if (!m->req.quiet) {
        gw_s3_xml_open(m->out, "Deleted", NULL);
        gw_s3_xml_element(m->out, "Key", o->key);
        gw_s3_xml_close(m->out, "Deleted");
    }
    m->next++;
    mdel_next(r);
}

static void mdel_next(struct s3_req *r)
{
    struct mdel_state *m = r->op_state;

    r->key = m->saved_key;
    r->key_len = m->saved_len;
    if (!r->http)
        return;
    if (m->next == m->req.count) {
        gw_s3_xml_close(m->out, "DeleteResult");
        s3__respond(r, 200, NULL, NULL, 0, m->out);
        return;
    }
    /* Each key is removed through the single-object path (which keeps
     * what it needs of r->key); a failure may complete synchronously and
     * end the request, hence the reference. */
    s3__req_ref(r);
    r->key = m->req.objects[m->next].key;
    r->key_len = strlen(r->key);
    index_remove(r, mdel_one_done);
    r->key = m->saved_key;
    r->key_len = m->saved_len;
    s3__req_unref(r);
}

static void mdel_body(struct s3_req *r, int err)
{
    struct mdel_state *m = calloc(1, sizeof(*m));
    const char *reason = NULL;
    int rc;

    if (err < 0) {
        free(m);
        s3__error(r, s3__body_error_code(err), NULL);
        return;
    }
    if (!m) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    rc = gw_s3_parse_delete(r->body.mem, r->body.mem_len, &m->req, &reason);
    if (rc < 0) {
        free(m);
        s3__error(r, rc == -EBADMSG ? "MalformedXML" : "InternalError", reason);
        return;
    }
    m->out = evbuffer_new();
    m->saved_key = r->key;
    m->saved_len = r->key_len;
    r->op_state = m;
    r->op_free = mdel_free;
    gw_s3_xml_declaration(m->out);
    gw_s3_xml_open(m->out, "DeleteResult", "http://s3.amazonaws.com/doc/2006-03-01/");
    mdel_next(r);
}

static void mdel_bucket(struct s3_req *r, int err)
{
    if (!s3__bucket_owned(r, err))
        return;
    s3__body_read(r, NULL, S3_XML_BODY_MAX, mdel_body);
}

void s3__objects_delete(struct s3_req *r)
{
    s3__bucket_lookup(r, mdel_bucket);
}

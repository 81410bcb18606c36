/* Multipart uploads of cairn-s3: CreateMultipartUpload, UploadPart,
 * UploadPartCopy, ListParts, CompleteMultipartUpload, AbortMultipartUpload,
 * ListMultipartUploads.
 *
 * An upload is a record in the bucket's s3.mpu omap (keyed by UPLOADID,
 * holding the object key and the metadata given at initiation); its parts
 * are records in s3.parts.UPLOADID (keyed by the zero-padded part number)
 * and their data the stripes s3.data.UPLOADID.pN.S. Complete writes the
 * manifest (part numbers and sizes), then switches the key to an entry
 * naming the upload, in the same compare-and-set as a simple PUT; only
 * then are the upload's records and unused parts removed. An abort never
 * removes data that a completed object refers to. */
#include "gateway/s3/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "common/assert.h"
#include "common/log.h"

#define XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define LIST_PAGE 1000u

struct part_info {
    uint32_t number;
    uint32_t attempt;
    uint64_t size;
    int64_t mtime_ns;
    char etag[GW_S3_ETAG_MAX + 1];
    char cksum[GW_S3_CKSUM_B64_MAX];
};

struct mpu_state {
    char upload_id[GW_S3_ID_LEN + 1];
    char oid_uploads[GW_S3_OID_MAX];
    char oid_parts[GW_S3_OID_MAX];
    uint8_t rec[CAIRN_VALUE_MAX];   /* the upload record */
    size_t rec_len;
    struct gw_s3_entry upload;      /* decoded from a copy of rec */
    uint8_t rec_copy[CAIRN_VALUE_MAX];
    uint32_t part;                  /* UploadPart: its number */
    uint32_t attempt;               /* ... the stripes this upload of it writes */
    uint8_t old_part[512];          /* ... the record it replaces, if any */
    size_t old_part_len;
    bool have_old_part;
    char etag[GW_S3_ETAG_MAX + 1];
    /* ListParts / Complete: every part record */
    struct part_info *parts;
    size_t nparts, cap;
    char after[8];
    struct cairn_kv_list *list;
    struct gw_s3_complete_req complete;
    uint64_t total;
    uint8_t *manifest;
    size_t manifest_len;
    /* UploadPartCopy */
    struct gw_s3_bucket src_bucket;
    char *src_key;
    uint64_t src_off, src_len;
    int copy_err;
    void (*next)(struct s3_req *r); /* where a multi-step lookup continues */
    char part_key[8];               /* ops borrow keys and values until they complete */
    uint8_t part_rec[512];
};

static void mpu_free(void *p)
{
    struct mpu_state *m = p;

    if (!m)
        return;
    free(m->parts);
    cairn_kv_list_free(m->list);
    gw_s3_complete_req_fini(&m->complete);
    free(m->manifest);
    free(m->src_key);
    free(m);
}

static struct mpu_state *mpu_new(struct s3_req *r)
{
    struct mpu_state *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    r->op_state = m;
    r->op_free = mpu_free;
    return m;
}

static void remove_part_data(struct s3_gw *gw, const char *upload_id, uint32_t part,
                             uint32_t attempt, uint64_t size)
{
    char oid[GW_S3_OID_MAX];

    for (uint64_t s = 0; s == 0 || s * GW_S3_STRIPE_BYTES < size; s++) {
        gw_s3_oid_part(upload_id, part, attempt, (uint32_t)s, oid);
        s3__remove_async(gw, oid);
    }
}

/* ---- data removal of a completed object (no request) ---- */

struct mpu_rm {
    struct s3_gw *gw;
    char upload_id[GW_S3_ID_LEN + 1];
    uint8_t *buf;
    size_t len;
};

static void manifest_read_for_rm(int result, struct cairn_op *op, void *arg)
{
    struct mpu_rm *x = arg;
    struct gw_s3_manifest_part *parts = NULL;
    uint32_t n = 0;
    uint64_t total = 0;
    char oid[GW_S3_OID_MAX];

    cairn_op_destroy(op);
    if (result == 0 && x->len >= 4) {
        /* The total is not known here: add the sizes up first. */
        for (size_t off = 4; off + 16 <= x->len; off += 16)
            for (int k = 0; k < 8; k++)
                total += (uint64_t)x->buf[off + 8 + k] << (8 * k);
        if (gw_s3_manifest_decode(x->buf, x->len, total, &parts, &n) == 0) {
            for (uint32_t i = 0; i < n; i++)
                remove_part_data(x->gw, x->upload_id, parts[i].number, parts[i].attempt,
                                 parts[i].size);
            free(parts);
            gw_s3_oid_manifest(x->upload_id, oid);
            s3__remove_async(x->gw, oid);
        }
    }
    free(x->buf);
    free(x);
}

void s3__mpu_data_remove(struct s3_gw *gw, const char *upload_id)
{
    struct mpu_rm *x = calloc(1, sizeof(*x));
    struct cairn_op *op = cairn_op_create();
    size_t max = gw_s3_manifest_bytes(GW_S3_MANIFEST_PARTS_MAX);
    char oid[GW_S3_OID_MAX];

    if (x)
        x->buf = malloc(max);
    if (!x || !op || !x->buf) {
        if (x)
            free(x->buf);
        free(x);
        cairn_op_destroy(op);
        return;
    }
    x->gw = gw;
    snprintf(x->upload_id, sizeof(x->upload_id), "%s", upload_id);
    gw_s3_oid_manifest(upload_id, oid);
    cairn_op_read(op, 0, max, x->buf, &x->len);
    if (cairn_op_exec_async(gw->cairn, gw->pool, oid, op, manifest_read_for_rm, x) < 0) {
        cairn_op_destroy(op);
        free(x->buf);
        free(x);
    }
}

/* ---- the upload record ---- */

typedef void (*mpu_next_fn)(struct s3_req *r);

static void record_got(struct s3_req *r, int err, struct cairn_op *op);

/* Looks the upload of ?uploadId up (it must be for r->key), then @next. */
static void load_upload(struct s3_req *r, mpu_next_fn next)
{
    struct mpu_state *m = r->op_state;
    const char *id = s3__param(r, "uploadId");
    struct cairn_op *op;
    time_t t;

    if (!id || gw_s3_id_time(id, &t) < 0) {
        s3__error(r, "NoSuchUpload", NULL);
        return;
    }
    snprintf(m->upload_id, sizeof(m->upload_id), "%s", id);
    gw_s3_oid_uploads(r->binfo.id, m->oid_uploads);
    gw_s3_oid_parts(m->upload_id, m->oid_parts);
    op = cairn_op_create();
    if (!op) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    cairn_op_omap_get(op, m->upload_id, strlen(m->upload_id), m->rec, sizeof(m->rec),
                      &m->rec_len);
    m->next = next;
    s3__exec(r, m->oid_uploads, op, record_got);
}

static void record_got(struct s3_req *r, int err, struct cairn_op *op)
{
    struct mpu_state *m = r->op_state;
    mpu_next_fn next = m->next;

    (void)op;
    if (err == -ENODATA || err == -ENOENT) {
        s3__error(r, "NoSuchUpload", NULL);
        return;
    }
    if (err < 0) {
        s3__error_errno(r, err);
        return;
    }
    memcpy(m->rec_copy, m->rec, m->rec_len);
    if (gw_s3_entry_decode(m->rec_copy, m->rec_len, &m->upload) < 0 ||
        strlen(m->upload.key) != r->key_len || memcmp(m->upload.key, r->key, r->key_len) != 0) {
        s3__error(r, "NoSuchUpload", NULL);
        return;
    }
    next(r);
}

/* ---- CreateMultipartUpload ---- */

static void initiated(struct s3_req *r, int err, struct cairn_op *op)
{
    struct mpu_state *m = r->op_state;
    struct evbuffer *out;

    (void)op;
    if (err < 0) {
        s3__error_errno(r, err);
        return;
    }
    out = evbuffer_new();
    gw_s3_xml_declaration(out);
    gw_s3_xml_open(out, "InitiateMultipartUploadResult", XMLNS);
    gw_s3_xml_element(out, "Bucket", r->bucket);
    gw_s3_xml_open(out, "Key", NULL);
    gw_s3_xml_escape(out, r->key, r->key_len);
    gw_s3_xml_close(out, "Key");
    gw_s3_xml_element(out, "UploadId", m->upload_id);
    gw_s3_xml_close(out, "InitiateMultipartUploadResult");
    s3__respond(r, 200, NULL, NULL, 0, out);
    evbuffer_free(out);
}

static void initiate_bucket(struct s3_req *r, int err)
{
    struct mpu_state *m;
    struct gw_s3_entry e = {0};
    char meta[GW_S3_META_MAX * 2];
    const char *ct = s3__header(r, "Content-Type"), *ce = s3__header(r, "Content-Encoding");
    const char *cd = s3__header(r, "Content-Disposition"), *cc = s3__header(r, "Cache-Control");
    const char *cl = s3__header(r, "Content-Language"), *ex = s3__header(r, "Expires");
    const char *algo = s3__header(r, "x-amz-checksum-algorithm");
    struct cairn_op *op;
    int n;

    if (!s3__bucket_owned(r, err))
        return;
    m = mpu_new(r);
    if (!m) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    if (s3__collect_meta(r, meta, sizeof(meta), &e.meta_len) < 0) {
        s3__error(r, "MetadataTooLarge", NULL);
        return;
    }
    gw_s3_id_new(time(NULL), m->upload_id);
    snprintf(e.data_id, sizeof(e.data_id), "%s", m->upload_id);
    e.mtime_ns = s3__now_ns();
    e.meta = meta;
    e.content_type = ct ? ct : "";
    e.content_encoding = ce ? ce : "";
    e.content_disposition = cd ? cd : "";
    e.cache_control = cc ? cc : "";
    e.content_language = cl ? cl : "";
    e.expires = ex ? ex : "";
    e.cksum = "";
    e.cksum_algo = algo ? (uint8_t)gw_s3_cksum_algo_parse(algo) : 0;
    e.key = r->key;
    n = gw_s3_entry_encode(&e, m->rec, sizeof(m->rec));
    op = cairn_op_create();
    if (n < 0 || !op) {
        cairn_op_destroy(op);
        s3__error(r, n < 0 ? "MetadataTooLarge" : "InternalError", NULL);
        return;
    }
    gw_s3_oid_uploads(r->binfo.id, m->oid_uploads);
    cairn_op_omap_set(op, m->upload_id, strlen(m->upload_id), m->rec, (size_t)n);
    s3__exec(r, m->oid_uploads, op, initiated);
}

void s3__mpu_initiate(struct s3_req *r)
{
    s3__bucket_lookup(r, initiate_bucket);
}

/* ---- UploadPart ---- */

static void part_recorded(struct s3_req *r, int err, struct cairn_op *op)
{
    struct mpu_state *m = r->op_state;
    char etag[GW_S3_ETAG_MAX + 3], ckname[40];
    const char *n[2] = {"ETag"}, *v[2] = {etag};
    size_t k = 1;

    (void)op;
    if (err < 0) {
        remove_part_data(r->gw, m->upload_id, m->part, m->attempt,
                         m->copy_err == 1 ? m->src_len : r->body.received);
        s3__error_errno(r, err);
        return;
    }
    if (m->have_old_part) { /* the upload this one replaces */
        struct gw_s3_entry old;
        if (gw_s3_entry_decode(m->old_part, m->old_part_len, &old) == 0 &&
            old.attempt != m->attempt)
            remove_part_data(r->gw, m->upload_id, m->part, old.attempt, old.size);
    }
    snprintf(etag, sizeof(etag), "\"%s\"", m->etag);
    if (r->body.extra && r->body.extra_b64[0]) {
        snprintf(ckname, sizeof(ckname), "x-amz-checksum-%s",
                 gw_s3_cksum_algo_name(r->body.extra));
        n[k] = ckname;
        v[k++] = r->body.extra_b64;
    }
    if (m->copy_err == 1) { /* UploadPartCopy answers with XML */
        struct evbuffer *out = evbuffer_new();
        char date[40];
        s3__iso_date(s3__now_ns(), date);
        gw_s3_xml_declaration(out);
        gw_s3_xml_open(out, "CopyPartResult", XMLNS);
        gw_s3_xml_element(out, "LastModified", date);
        gw_s3_xml_element(out, "ETag", etag);
        gw_s3_xml_close(out, "CopyPartResult");
        s3__respond(r, 200, NULL, NULL, 0, out);
        evbuffer_free(out);
        return;
    }
    s3__respond(r, 200, n, v, k, NULL);
}

/* Records the part (size, MD5, checksum) once its data is durable. */
static void part_record(struct s3_req *r, uint64_t size)
{
    struct mpu_state *m = r->op_state;
    struct gw_s3_entry e = {0};
    struct cairn_op *op = cairn_op_create();
    int n;

    gw_s3_hex(r->body.md5, 16, m->etag);
    e.size = size;
    e.mtime_ns = s3__now_ns();
    snprintf(e.etag, sizeof(e.etag), "%s", m->etag);
    snprintf(e.data_id, sizeof(e.data_id), "%s", m->upload_id);
    e.attempt = m->attempt;
    e.content_type = e.content_encoding = e.content_disposition = e.cache_control = "";
    e.content_language = e.expires = "";
    e.key = "";
    e.cksum = "";
    if (r->body.extra && r->body.extra_b64[0]) {
        e.cksum_algo = (uint8_t)r->body.extra;
        e.cksum = r->body.extra_b64;
    }
    n = gw_s3_entry_encode(&e, m->part_rec, sizeof(m->part_rec));
    if (!op || n < 0) {
        cairn_op_destroy(op);
        s3__error(r, "InternalError", NULL);
        return;
    }
    snprintf(m->part_key, sizeof(m->part_key), "%05u", m->part);
    cairn_op_omap_set(op, m->part_key, strlen(m->part_key), m->part_rec, (size_t)n);
    s3__exec(r, m->oid_parts, op, part_recorded);
}

static void part_written(struct s3_req *r, int err)
{
    if (err < 0) {
        s3__error_errno(r, err);
        return;
    }
    part_record(r, r->body.received);
}

static void part_copy(struct s3_req *r);

static void part_upload_go(struct s3_req *r, int err, struct cairn_op *op)
{
    struct mpu_state *m = r->op_state;
    int rc;

    (void)op;
    if (err < 0 && err != -ENODATA && err != -ENOENT) {
        s3__error_errno(r, err);
        return;
    }
    m->have_old_part = err == 0;
    if (s3__header(r, "x-amz-copy-source")) {
        part_copy(r);
        return;
    }
    if (!r->head->has_content_length && !r->head->chunked) {
        s3__error(r, "MissingContentLength", NULL);
        return;
    }
    rc = s3__sink_open(r, m->upload_id, m->part, m->attempt, r->head->content_length);
    if (rc < 0) {
        s3__error_errno(r, rc);
        return;
    }
    s3__sink_read_body(r, part_written);
}

/* Reads the record of an earlier upload of this part number (its stripes
 * go once this upload is recorded), then writes under a fresh attempt. */
static void part_upload(struct s3_req *r)
{
    struct mpu_state *m = r->op_state;
    struct cairn_op *op = cairn_op_create();
    char id[GW_S3_ID_LEN + 1];

    if (!op) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    gw_s3_id_new(0, id); /* random digits after 8 zeros */
    m->attempt = (uint32_t)strtoul(id + GW_S3_ID_LEN - 8, NULL, 16) | 1u;
    snprintf(m->part_key, sizeof(m->part_key), "%05u", m->part);
    cairn_op_omap_get(op, m->part_key, strlen(m->part_key), m->old_part, sizeof(m->old_part),
                      &m->old_part_len);
    s3__exec(r, m->oid_parts, op, part_upload_go);
}

static int part_number(struct s3_req *r, uint32_t *out)
{
    const char *p = s3__param(r, "partNumber");
    char *end;
    unsigned long n;

    if (!p || !*p)
        return -EINVAL;
    n = strtoul(p, &end, 10);
    if (*end || n < 1 || n > GW_S3_MANIFEST_PARTS_MAX || p[0] == '-' || p[0] == '+')
        return -EINVAL;
    *out = (uint32_t)n;
    return 0;
}

static void part_bucket(struct s3_req *r, int err)
{
    struct mpu_state *m;

    if (!s3__bucket_owned(r, err))
        return;
    m = mpu_new(r);
    if (!m) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    if (part_number(r, &m->part) < 0) {
        s3__error(r, "InvalidArgument", "Part number must be an integer between 1 and 10000, "
                                        "inclusive");
        return;
    }
    load_upload(r, part_upload);
}

void s3__mpu_upload_part(struct s3_req *r)
{
    s3__bucket_lookup(r, part_bucket);
}

/* ---- UploadPartCopy ---- */

static void part_copy_written(struct s3_req *r, int err)
{
    struct mpu_state *m = r->op_state;

    if (err == 0)
        err = m->copy_err;
    if (err < 0) {
        s3__error_errno(r, err);
        return;
    }
    gw_s3_digests_final(r->body.digests, r->body.md5, NULL, NULL);
    m->copy_err = 1; /* answer with CopyPartResult */
    part_record(r, m->src_len);
}

static void part_copy_read(struct s3_req *r, int err)
{
    struct mpu_state *m = r->op_state;

    m->copy_err = err;
    s3__sink_finish(r, part_copy_written);
}

static int parse_copy_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
    unsigned long long a, b;
    char tail;

    *off = 0;
    *len = size;
    if (!h)
        return 0;
    if (sscanf(h, "bytes=%llu-%llu%c", &a, &b, &tail) != 2 || b < a || b >= size)
        return -ERANGE;
    *off = a;
    *len = b - a + 1;
    return 0;
}

static void part_copy_got(struct s3_req *r, int err, const struct gw_s3_entry *e)
{
    struct mpu_state *m = r->op_state;
    int rc;

    if (err == -ENOENT) {
        s3__error(r, "NoSuchKey", "The specified copy source does not exist.");
        return;
    }
    if (err < 0) {
        s3__error_errno(r, err);
        return;
    }
    if (s3__copy_preconditions(r, e)) {
        s3__error(r, "PreconditionFailed", NULL);
        return;
    }
    if (parse_copy_range(s3__header(r, "x-amz-copy-source-range"), e->size, &m->src_off,
                         &m->src_len) < 0) {
        s3__error(r, "InvalidRange", NULL);
        return;
    }
    if ((rc = s3__sink_open(r, m->upload_id, m->part, m->attempt, m->src_len)) < 0 ||
        (rc = gw_s3_digests_create(GW_S3_DIGEST_MD5, GW_S3_CKSUM_NONE, &r->body.digests)) < 0 ||
        (rc = s3__source_start(r, e, m->src_off, m->src_len, part_copy_read)) < 0)
        s3__error_errno(r, rc);
}

static void part_copy_bucket(struct s3_req *r, int err)
{
    struct mpu_state *m = r->op_state;

    s3__copy_source_get(r, err, &m->src_bucket, m->src_key, part_copy_got);
}

static void part_copy(struct s3_req *r)
{
    struct mpu_state *m = r->op_state;
    char bucket[GW_S3_BUCKET_NAME_MAX + 2];

    if (s3__copy_source_parse(r, bucket, &m->src_key) < 0)
        return;
    s3__bucket_lookup_name(r, bucket, &m->src_bucket, part_copy_bucket);
}

/* ---- every part record of an upload ---- */

static void parts_page(struct s3_req *r, mpu_next_fn next);

static void parts_listed(struct s3_req *r, int err, struct cairn_op *op)
{
    struct mpu_state *m = r->op_state;
    struct cairn_kv_list *l = m->list;
    mpu_next_fn next = m->next;

    (void)op;
    m->list = NULL;
    if (err == -ENOENT)
        err = 0; /* no part yet */
    if (err < 0) {
        cairn_kv_list_free(l);
        s3__error_errno(r, err);
        return;
    }
    for (size_t i = 0; l && i < l->n; i++) {
        struct gw_s3_entry e;
        struct part_info *p;
        char num[8];
        if (m->nparts == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 64;
            struct part_info *np = realloc(m->parts, cap * sizeof(*np));
            if (!np) {
                cairn_kv_list_free(l);
                s3__error(r, "InternalError", NULL);
                return;
            }
            m->parts = np;
            m->cap = cap;
        }
        if (l->kv[i].key_len != 5 || gw_s3_entry_decode(l->kv[i].value, l->kv[i].value_len,
                                                        &e) < 0)
            continue;
        memcpy(num, l->kv[i].key, 5);
        num[5] = '\0';
        p = &m->parts[m->nparts++];
        p->number = (uint32_t)strtoul(num, NULL, 10);
        p->size = e.size;
        p->attempt = e.attempt;
        p->mtime_ns = e.mtime_ns;
        snprintf(p->etag, sizeof(p->etag), "%s", e.etag);
        snprintf(p->cksum, sizeof(p->cksum), "%s", e.cksum);
        memcpy(m->after, num, 6);
    }
    if (l && l->more) {
        cairn_kv_list_free(l);
        parts_page(r, next);
        return;
    }
    cairn_kv_list_free(l);
    next(r);
}

static void parts_page(struct s3_req *r, mpu_next_fn next)
{
    struct mpu_state *m = r->op_state;
    struct cairn_op *op = cairn_op_create();

    if (!op) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    m->next = next;
    cairn_op_omap_list(op, m->after[0] ? m->after : NULL, strlen(m->after), LIST_PAGE,
                       &m->list);
    s3__exec(r, m->oid_parts, op, parts_listed);
}

/* ---- ListParts ---- */

static void list_parts_answer(struct s3_req *r)
{
    struct mpu_state *m = r->op_state;
    const char *pm = s3__param(r, "part-number-marker"), *mp = s3__param(r, "max-parts");
    unsigned long marker = pm ? strtoul(pm, NULL, 10) : 0, max = mp ? strtoul(mp, NULL, 10) : 1000;
    struct evbuffer *out = evbuffer_new();
    unsigned count = 0;
    uint32_t last = 0;
    bool truncated = false;

    if (max > 1000)
        max = 1000;
    gw_s3_xml_declaration(out);
    gw_s3_xml_open(out, "ListPartsResult", XMLNS);
    gw_s3_xml_element(out, "Bucket", r->bucket);
    gw_s3_xml_open(out, "Key", NULL);
    gw_s3_xml_escape(out, r->key, r->key_len);
    gw_s3_xml_close(out, "Key");
    gw_s3_xml_element(out, "UploadId", m->upload_id);
    gw_s3_xml_elementf(out, "PartNumberMarker", "%lu", marker);
    for (size_t i = 0; i < m->nparts; i++) {
        const struct part_info *p = &m->parts[i];
        char date[40];
        if (p->number <= marker)
            continue;
        if (count == max) {
            truncated = true;
            break;
        }
        s3__iso_date(p->mtime_ns, date);
        gw_s3_xml_open(out, "Part", NULL);
        gw_s3_xml_elementf(out, "PartNumber", "%u", p->number);
        gw_s3_xml_element(out, "LastModified", date);
        gw_s3_xml_elementf(out, "ETag", "\"%s\"", p->etag);
        gw_s3_xml_elementf(out, "Size", "%" PRIu64, p->size);
        gw_s3_xml_close(out, "Part");
        count++;
        last = p->number;
    }
    if (truncated)
        gw_s3_xml_elementf(out, "NextPartNumberMarker", "%u", last);
    gw_s3_xml_elementf(out, "MaxParts", "%lu", max);
    gw_s3_xml_element(out, "IsTruncated", truncated ? "true" : "false");
    s3__owner_xml(out, "Initiator", r->user.name);
    s3__owner_xml(out, "Owner", r->binfo.owner);
    gw_s3_xml_element(out, "StorageClass", "STANDARD");
    gw_s3_xml_close(out, "ListPartsResult");
    s3__respond(r, 200, NULL, NULL, 0, out);
    evbuffer_free(out);
}

static void list_parts_upload(struct s3_req *r)
{
    parts_page(r, list_parts_answer);
}

static void list_parts_bucket(struct s3_req *r, int err)
{
    if (!s3__bucket_owned(r, err))
        return;
    if (!mpu_new(r)) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    load_upload(r, list_parts_upload);
}

void s3__mpu_list_parts(struct s3_req *r)
{
    s3__bucket_lookup(r, list_parts_bucket);
}

/* ---- records removal (after complete and abort) ---- */

static void records_removed(struct s3_req *r, int err, struct cairn_op *op)
{
    (void)err;
    (void)op;
    (void)r;
}

/* Removes the upload record and the parts object; data as told. */
static void drop_upload(struct s3_req *r, bool with_data, const bool *keep)
{
    struct mpu_state *m = r->op_state;
    struct cairn_op *op = cairn_op_create();

    if (op) {
        cairn_op_omap_rm(op, m->upload_id, strlen(m->upload_id));
        s3__exec(r, m->oid_uploads, op, records_removed);
    }
    for (size_t i = 0; with_data && i < m->nparts; i++)
        if (!keep || !keep[i])
            remove_part_data(r->gw, m->upload_id, m->parts[i].number, m->parts[i].attempt,
                             m->parts[i].size);
    s3__remove_async(r->gw, m->oid_parts);
}

/* ---- AbortMultipartUpload ---- */

static void abort_checked(struct s3_req *r, int err, const struct gw_s3_entry *e)
{
    struct mpu_state *m = r->op_state;
    /* A completed object that still uses this upload's parts keeps them. */
    bool in_use = err == 0 && e->parts && strcmp(e->data_id, m->upload_id) == 0;

    if (err < 0 && err != -ENOENT) {
        s3__error_errno(r, err);
        return;
    }
    drop_upload(r, !in_use, NULL);
    s3__respond(r, 204, NULL, NULL, 0, NULL);
}

static void abort_parts(struct s3_req *r)
{
    s3__index_get(r, abort_checked);
}

static void abort_upload(struct s3_req *r)
{
    parts_page(r, abort_parts);
}

static void abort_bucket(struct s3_req *r, int err)
{
    if (!s3__bucket_owned(r, err))
        return;
    if (!mpu_new(r)) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    load_upload(r, abort_upload);
}

void s3__mpu_abort(struct s3_req *r)
{
    s3__bucket_lookup(r, abort_bucket);
}

/* ---- CompleteMultipartUpload ---- */

static void complete_committed(struct s3_req *r, int err)
{
    struct mpu_state *m = r->op_state;
    struct evbuffer *out;
    bool *keep;
    char etag[GW_S3_ETAG_MAX + 3];

    if (err < 0) {
        char oid[GW_S3_OID_MAX];
        gw_s3_oid_manifest(m->upload_id, oid);
        s3__remove_async(r->gw, oid);
        s3__error(r, err == -ENOENT ? "NoSuchBucket" : s3__errno_code(err), NULL);
        return;
    }
    /* Parts uploaded but left out of the object go now. */
    keep = calloc(m->nparts ? m->nparts : 1, sizeof(bool));
    for (size_t i = 0; keep && i < m->nparts; i++)
        for (size_t j = 0; j < m->complete.count; j++)
            if (m->complete.parts[j].number == m->parts[i].number)
                keep[i] = true;
    if (keep)
        drop_upload(r, true, keep);
    free(keep);
    snprintf(etag, sizeof(etag), "\"%s\"", m->etag);
    out = evbuffer_new();
    gw_s3_xml_declaration(out);
    gw_s3_xml_open(out, "CompleteMultipartUploadResult", XMLNS);
    evbuffer_add_printf(out, "<Location>/%s/", r->bucket);
    gw_s3_xml_escape(out, r->key, r->key_len);
    evbuffer_add_printf(out, "</Location>");
    gw_s3_xml_element(out, "Bucket", r->bucket);
    gw_s3_xml_open(out, "Key", NULL);
    gw_s3_xml_escape(out, r->key, r->key_len);
    gw_s3_xml_close(out, "Key");
    gw_s3_xml_element(out, "ETag", etag);
    gw_s3_xml_close(out, "CompleteMultipartUploadResult");
    s3__respond(r, 200, NULL, NULL, 0, out);
    evbuffer_free(out);
}

static void manifest_written(struct s3_req *r, int err, struct cairn_op *op)
{
    struct mpu_state *m = r->op_state;
    struct gw_s3_entry e = m->upload;

    (void)op;
    if (err < 0) {
        s3__error_errno(r, err);
        return;
    }
    e.size = m->total;
    e.mtime_ns = s3__now_ns();
    e.parts = (uint32_t)m->complete.count;
    e.key = "";
    e.cksum_algo = 0;
    e.cksum = "";
    snprintf(e.etag, sizeof(e.etag), "%s", m->etag);
    snprintf(e.data_id, sizeof(e.data_id), "%s", m->upload_id);
    s3__index_commit(r, &e, complete_committed);
}

static const struct part_info *find_part(const struct mpu_state *m, uint32_t number)
{
    for (size_t i = 0; i < m->nparts; i++)
        if (m->parts[i].number == number)
            return &m->parts[i];
    return NULL;
}

/* Validates the client's list against the stored parts and builds the
 * manifest and the multipart ETag (MD5 of the parts' MD5s, "-N"). NULL or
 * an S3 error code. */
static const char *complete_check(struct s3_req *r, struct mpu_state *m)
{
    struct gw_s3_manifest_part *mp;
    EVP_MD_CTX *ctx;
    uint8_t md[16];
    char hex[33];
    size_t n = m->complete.count;

    (void)r;
    mp = calloc(n, sizeof(*mp));
    ctx = EVP_MD_CTX_new();
    if (!mp || !ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
        free(mp);
        EVP_MD_CTX_free(ctx);
        return "InternalError";
    }
    m->total = 0;
    for (size_t i = 0; i < n; i++) {
        const struct gw_s3_complete_part *cp = &m->complete.parts[i];
        const struct part_info *p = find_part(m, cp->number);
        uint8_t bin[16];
        const char *code = NULL;
        if (i > 0 && cp->number <= m->complete.parts[i - 1].number)
            code = "InvalidPartOrder";
        else if (!p || strcmp(p->etag, cp->etag) != 0)
            code = "InvalidPart";
        else if (i + 1 < n && p->size < S3_PART_MIN)
            code = "EntityTooSmall";
        if (code) {
            free(mp);
            EVP_MD_CTX_free(ctx);
            return code;
        }
        for (int k = 0; k < 16; k++)
            sscanf(p->etag + 2 * k, "%2hhx", &bin[k]);
        EVP_DigestUpdate(ctx, bin, 16);
        mp[i].number = p->number;
        mp[i].attempt = p->attempt;
        mp[i].size = p->size;
        m->total += p->size;
    }
    EVP_DigestFinal_ex(ctx, md, NULL);
    EVP_MD_CTX_free(ctx);
    gw_s3_hex(md, 16, hex);
    snprintf(m->etag, sizeof(m->etag), "%.32s-%u", hex, (unsigned)n % 100000);
    m->manifest_len = gw_s3_manifest_bytes((uint32_t)n);
    m->manifest = malloc(m->manifest_len);
    if (!m->manifest) {
        free(mp);
        return "InternalError";
    }
    gw_s3_manifest_encode(mp, (uint32_t)n, m->manifest);
    free(mp);
    return NULL;
}

static void complete_parts(struct s3_req *r)
{
    struct mpu_state *m = r->op_state;
    struct cairn_op *op;
    char oid[GW_S3_OID_MAX];
    const char *code = complete_check(r, m);

    if (code) {
        s3__error(r, code, NULL);
        return;
    }
    op = cairn_op_create();
    if (!op) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    gw_s3_oid_manifest(m->upload_id, oid);
    cairn_op_write_full(op, m->manifest, m->manifest_len);
    s3__exec(r, oid, op, manifest_written);
}

static void complete_upload(struct s3_req *r)
{
    parts_page(r, complete_parts);
}

static void complete_body(struct s3_req *r, int err)
{
    struct mpu_state *m = r->op_state;
    const char *reason = NULL;

    if (err < 0) {
        s3__error(r, s3__body_error_code(err), NULL);
        return;
    }
    if (gw_s3_parse_complete(r->body.mem, r->body.mem_len, &m->complete, &reason) < 0) {
        s3__error(r, "MalformedXML", reason);
        return;
    }
    load_upload(r, complete_upload);
}

static void complete_bucket(struct s3_req *r, int err)
{
    if (!s3__bucket_owned(r, err))
        return;
    if (!mpu_new(r)) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    s3__body_read(r, NULL, S3_XML_BODY_MAX, complete_body);
}

void s3__mpu_complete(struct s3_req *r)
{
    s3__bucket_lookup(r, complete_bucket);
}

/* ---- ListMultipartUploads ---- */

struct upload_row {
    char *key;
    char id[GW_S3_ID_LEN + 1];
    int64_t initiated_ns;
};

static int row_cmp(const void *a, const void *b)
{
    const struct upload_row *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->id, y->id);
}

struct uploads_state {
    struct cairn_kv_list *list;
    struct upload_row *rows;
    size_t n, cap;
    char after[GW_S3_ID_LEN + 1];
};

static void uploads_free(void *p)
{
    struct uploads_state *u = p;

    if (!u)
        return;
    cairn_kv_list_free(u->list);
    for (size_t i = 0; i < u->n; i++)
        free(u->rows[i].key);
    free(u->rows);
    free(u);
}

static void uploads_answer(struct s3_req *r, struct uploads_state *u)
{
    const char *prefix = s3__param(r, "prefix"), *km = s3__param(r, "key-marker");
    const char *mu = s3__param(r, "max-uploads"), *delim = s3__param(r, "delimiter");
    unsigned long max = mu ? strtoul(mu, NULL, 10) : 1000;
    struct evbuffer *out = evbuffer_new(), *cps = evbuffer_new();
    size_t plen = prefix ? strlen(prefix) : 0, cp_len = 0;
    unsigned count = 0;
    bool truncated = false;
    const struct upload_row *last = NULL;
    const char *cp = NULL;

    if (max > 1000)
        max = 1000;
    qsort(u->rows, u->n, sizeof(*u->rows), row_cmp);
    gw_s3_xml_declaration(out);
    gw_s3_xml_open(out, "ListMultipartUploadsResult", XMLNS);
    gw_s3_xml_element(out, "Bucket", r->bucket);
    gw_s3_xml_element(out, "KeyMarker", km ? km : "");
    gw_s3_xml_element(out, "UploadIdMarker", "");
    for (size_t i = 0; i < u->n; i++) {
        const struct upload_row *w = &u->rows[i];
        char date[40];
        if (prefix && strncmp(w->key, prefix, strlen(prefix)) != 0)
            continue;
        if (km && strcmp(w->key, km) <= 0)
            continue;
        if (delim && *delim) {
            /* Keys with the delimiter after the prefix roll up, as in
             * ListObjects. */
            const char *d = strstr(w->key + plen, delim);
            size_t n = d ? (size_t)(d - w->key) + strlen(delim) : 0;
            if (d && cp && n == cp_len && strncmp(cp, w->key, n) == 0)
                continue;
            if (d) {
                if (count == max) {
                    truncated = true;
                    break;
                }
                cp = w->key;
                cp_len = n;
                evbuffer_add_printf(cps, "<CommonPrefixes><Prefix>");
                gw_s3_xml_escape(cps, w->key, n);
                evbuffer_add_printf(cps, "</Prefix></CommonPrefixes>");
                count++;
                last = w;
                continue;
            }
        }
        if (count == max) {
            truncated = true;
            break;
        }
        s3__iso_date(w->initiated_ns, date);
        gw_s3_xml_open(out, "Upload", NULL);
        gw_s3_xml_element(out, "Key", w->key);
        gw_s3_xml_element(out, "UploadId", w->id);
        s3__owner_xml(out, "Initiator", r->binfo.owner);
        s3__owner_xml(out, "Owner", r->binfo.owner);
        gw_s3_xml_element(out, "StorageClass", "STANDARD");
        gw_s3_xml_element(out, "Initiated", date);
        gw_s3_xml_close(out, "Upload");
        count++;
        last = w;
    }
    if (truncated && last) {
        gw_s3_xml_element(out, "NextKeyMarker", last->key);
        gw_s3_xml_element(out, "NextUploadIdMarker", last->id);
    }
    if (prefix)
        gw_s3_xml_element(out, "Prefix", prefix);
    if (delim)
        gw_s3_xml_element(out, "Delimiter", delim);
    gw_s3_xml_elementf(out, "MaxUploads", "%lu", max);
    gw_s3_xml_element(out, "IsTruncated", truncated ? "true" : "false");
    evbuffer_add_buffer(out, cps);
    evbuffer_free(cps);
    gw_s3_xml_close(out, "ListMultipartUploadsResult");
    s3__respond(r, 200, NULL, NULL, 0, out);
    evbuffer_free(out);
}

static void uploads_page(struct s3_req *r);

static void uploads_listed(struct s3_req *r, int err, struct cairn_op *op)
{
    struct uploads_state *u = r->op_state;
    struct cairn_kv_list *l = u->list;

    (void)op;
    u->list = NULL;
    if (err == -ENOENT)
        err = 0;
    if (err < 0) {
        cairn_kv_list_free(l);
        s3__error_errno(r, err);
        return;
    }
    for (size_t i = 0; l && i < l->n; i++) {
        struct gw_s3_entry e;
        if (u->n == u->cap) {
            size_t cap = u->cap ? u->cap * 2 : 64;
            struct upload_row *nr = realloc(u->rows, cap * sizeof(*nr));
            if (!nr)
                break;
            u->rows = nr;
            u->cap = cap;
        }
        if (l->kv[i].key_len != GW_S3_ID_LEN ||
            gw_s3_entry_decode(l->kv[i].value, l->kv[i].value_len, &e) < 0 || !e.key[0])
            continue;
        u->rows[u->n].key = strdup(e.key);
        if (!u->rows[u->n].key)
            break;
        memcpy(u->rows[u->n].id, l->kv[i].key, GW_S3_ID_LEN);
        u->rows[u->n].id[GW_S3_ID_LEN] = '\0';
        u->rows[u->n].initiated_ns = e.mtime_ns;
        memcpy(u->after, u->rows[u->n].id, GW_S3_ID_LEN + 1);
        u->n++;
    }
    if (l && l->more && u->n < 100000) {
        cairn_kv_list_free(l);
        uploads_page(r);
        return;
    }
    cairn_kv_list_free(l);
    uploads_answer(r, u);
}

static void uploads_page(struct s3_req *r)
{
    struct uploads_state *u = r->op_state;
    struct cairn_op *op = cairn_op_create();
    char oid[GW_S3_OID_MAX];

    if (!op) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    gw_s3_oid_uploads(r->binfo.id, oid);
    cairn_op_omap_list(op, u->after[0] ? u->after : NULL, strlen(u->after), LIST_PAGE,
                       &u->list);
    s3__exec(r, oid, op, uploads_listed);
}

static void uploads_bucket(struct s3_req *r, int err)
{
    struct uploads_state *u;

    if (!s3__bucket_owned(r, err))
        return;
    u = calloc(1, sizeof(*u));
    if (!u) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    r->op_state = u;
    r->op_free = uploads_free;
    uploads_page(r);
}

void s3__mpu_list_uploads(struct s3_req *r)
{
    s3__bucket_lookup(r, uploads_bucket);
}

/* Object data in and out of the cluster, as stripes (layout.h): the sink
 * cuts an upload into GW_S3_STRIPE_BYTES data objects, each written whole
 * with one op as soon as it is full, at most S3_WRITES_INFLIGHT at a time
 * (so an upload holds at most that many stripes plus one in memory, never
 * the object); the source reads a byte range back in order, at most
 * S3_READS_INFLIGHT reads at a time, into the HTTP response (throttled by
 * the response's queued bytes) or into a sink (copies). Multipart objects
 * are read through their manifest (the part sizes). */
#include "gateway/s3/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/assert.h"

/* ---- sink ---- */

struct sink_write {
    struct s3_req *r;
    uint8_t *buf;
};

struct s3_sink {
    char data_id[GW_S3_ID_LEN + 1];
    uint32_t part;        /* 0: a simple object's stripes */
    uint32_t attempt;     /* parts: which upload of the part */
    uint64_t hint;        /* expected total size, 0 unknown */
    uint64_t written;     /* bytes accepted */
    uint8_t *buf;         /* the stripe being filled */
    size_t len, cap;
    uint32_t stripe;      /* index of the stripe being filled */
    unsigned inflight;
    int err;              /* first write error, sticky */
    bool paused;
    void (*resume)(struct s3_req *r);
    void (*finish_cb)(struct s3_req *r, int err);
    void (*body_done)(struct s3_req *r, int err); /* s3__sink_read_body's */
};

int s3__sink_open(struct s3_req *r, const char *data_id, uint32_t part, uint32_t attempt,
                  uint64_t size_hint)
{
    struct s3_sink *s = calloc(1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    snprintf(s->data_id, sizeof(s->data_id), "%s", data_id);
    s->part = part;
    s->attempt = attempt;
    s->hint = size_hint;
    s->resume = s3__body_resume;
    r->sink = s;
    return 0;
}

void s3__sink_set_resume(struct s3_req *r, void (*resume)(struct s3_req *r))
{
    r->sink->resume = resume;
}

void s3__sink_free(struct s3_req *r)
{
    struct s3_sink *s = r->sink;

    if (!s)
        return;
    CAIRN_ASSERT(s->inflight == 0);
    free(s->buf);
    free(s);
    r->sink = NULL;
}

static void sink_oid(const struct s3_sink *s, uint32_t stripe, char oid[GW_S3_OID_MAX])
{
    if (s->part)
        gw_s3_oid_part(s->data_id, s->part, s->attempt, stripe, oid);
    else
        gw_s3_oid_data(s->data_id, stripe, oid);
}

static void sink_maybe_done(struct s3_req *r)
{
    struct s3_sink *s = r->sink;
    void (*cb)(struct s3_req *, int) = s->finish_cb;

    if (s->inflight || !cb)
        return;
    s->finish_cb = NULL;
    cb(r, s->err);
}

static void sink_written(int result, struct cairn_op *op, void *arg)
{
    struct sink_write *w = arg;
    struct s3_req *r = w->r;
    struct s3_sink *s = r->sink;

    cairn_op_destroy(op);
    free(w->buf);
    free(w);
    s->inflight--;
    if (result < 0 && !s->err)
        s->err = result;
    if (s->paused && s->inflight < S3_WRITES_INFLIGHT) {
        s->paused = false;
        s->resume(r);
    }
    sink_maybe_done(r);
    s3__req_unref(r);
}

/* Writes the current stripe buffer as one data object (ownership of the
 * buffer moves to the write). */
static int sink_submit(struct s3_req *r)
{
    struct s3_sink *s = r->sink;
    struct sink_write *w = malloc(sizeof(*w));
    struct cairn_op *op = cairn_op_create();
    char oid[GW_S3_OID_MAX];
    int rc;

    if (!w || !op) {
        free(w);
        cairn_op_destroy(op);
        return -ENOMEM;
    }
    sink_oid(s, s->stripe, oid);
    cairn_op_write_full(op, s->buf, s->len);
    *w = (struct sink_write){.r = r, .buf = s->buf};
    s3__req_ref(r);
    rc = cairn_op_exec_async(r->gw->cairn, r->gw->pool, oid, op, sink_written, w);
    if (rc < 0) {
        s3__req_unref(r);
        cairn_op_destroy(op);
        free(w);
        return rc; /* the buffer stays the sink's */
    }
    s->inflight++;
    s->stripe++;
    s->buf = NULL;
    s->len = s->cap = 0;
    return 0;
}

/* A buffer for the next stripe: the whole stripe, or what the hint says
 * is left when that is less (a 4 KiB object does not get 4 MiB). */
static int sink_alloc(struct s3_sink *s)
{
    uint64_t left = s->hint > s->written ? s->hint - s->written : 0;
    size_t cap = GW_S3_STRIPE_BYTES;

    if (left && left < cap)
        cap = (size_t)left;
    else if (!s->hint && s->written == 0)
        cap = 64u << 10; /* unknown size: start small, grow */
    s->buf = malloc(cap);
    if (!s->buf)
        return -ENOMEM;
    s->cap = cap;
    s->len = 0;
    return 0;
}

/* Grows the stripe buffer toward GW_S3_STRIPE_BYTES when the size was
 * unknown or the hint was wrong. */
static int sink_grow(struct s3_sink *s)
{
    size_t cap = s->cap * 2 > GW_S3_STRIPE_BYTES ? GW_S3_STRIPE_BYTES : s->cap * 2;
    uint8_t *nb = realloc(s->buf, cap);

    if (!nb)
        return -ENOMEM;
    s->buf = nb;
    s->cap = cap;
    return 0;
}

int s3__sink_write(struct s3_req *r, const void *data, size_t len)
{
    struct s3_sink *s = r->sink;
    const uint8_t *p = data;
    int rc;

    if (s->err)
        return s->err;
    while (len) {
        size_t n;
        if (!s->buf && (rc = sink_alloc(s)) < 0)
            return rc;
        if (s->len == s->cap && s->cap < GW_S3_STRIPE_BYTES && (rc = sink_grow(s)) < 0)
            return rc;
        n = s->cap - s->len < len ? s->cap - s->len : len;
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        s->written += n;
        p += n;
        len -= n;
        if (s->len == GW_S3_STRIPE_BYTES && (rc = sink_submit(r)) < 0)
            return rc;
    }
    if (s->inflight >= S3_WRITES_INFLIGHT) {
        s->paused = true;
        return 1;
    }
    return 0;
}

/* After a failed or abandoned upload: the stripes already written go. */
static void sink_discarded(struct s3_req *r, int err)
{
    struct s3_sink *s = r->sink;
    char oid[GW_S3_OID_MAX];

    (void)err;
    for (uint32_t i = 0; i < s->stripe; i++) {
        sink_oid(s, i, oid);
        s3__remove_async(r->gw, oid);
    }
}

void s3__sink_discard(struct s3_req *r)
{
    struct s3_sink *s = r->sink;

    if (!s || s->finish_cb)
        return;
    free(s->buf); /* the partial stripe is never written */
    s->buf = NULL;
    s->len = s->cap = 0;
    if (!s->err)
        s->err = -ECANCELED;
    s->finish_cb = sink_discarded;
    sink_maybe_done(r);
}

/* The end of a body read by s3__sink_read_body. */
static void sink_body_done(struct s3_req *r, int err)
{
    void (*written)(struct s3_req *, int) = r->sink->body_done;

    if (err < 0) {
        s3__req_ref(r); /* the answer may drop the HTTP side's reference */
        s3__error(r, s3__body_error_code(err), NULL);
        s3__sink_discard(r);
        s3__req_unref(r);
        return;
    }
    s3__sink_finish(r, written);
}

void s3__sink_read_body(struct s3_req *r, void (*written)(struct s3_req *r, int err))
{
    r->sink->body_done = written;
    s3__body_read(r, s3__sink_write, 0, sink_body_done);
}

void s3__sink_finish(struct s3_req *r, void (*cb)(struct s3_req *r, int err))
{
    struct s3_sink *s = r->sink;
    int rc;

    if (!s->err && s->len > 0 && (rc = sink_submit(r)) < 0)
        s->err = rc;
    s->finish_cb = cb;
    sink_maybe_done(r);
}

/* ---- source ---- */

struct read_slot {
    struct s3_req *r;
    uint8_t *buf;
    size_t len;     /* asked */
    size_t got;     /* read */
    bool done;
    int result;
};

struct s3_source {
    struct gw_s3_entry e;               /* copy; strings not used */
    uint64_t next_off, end;             /* next byte to ask for; end of range */
    struct read_slot *slots[S3_READS_INFLIGHT]; /* in order of offset */
    unsigned count;                     /* slots in use, from slots[0] */
    uint32_t nparts;                    /* multipart: the parts, in order */
    struct gw_s3_manifest_part *parts;
    uint8_t *manifest;                  /* being read */
    size_t manifest_len;
    int err;
    bool waiting_drain;
    bool to_sink;                       /* copies: into r->sink instead of HTTP */
    bool sink_paused;
    void (*cb)(struct s3_req *r, int err);
};

void s3__source_free(struct s3_req *r)
{
    struct s3_source *src = r->source;

    if (!src)
        return;
    CAIRN_ASSERT(src->count == 0);
    free(src->parts);
    free(src->manifest);
    free(src);
    r->source = NULL;
}

/* Where byte @off of the object lives: data object @oid at @obj_off, with
 * @max bytes contiguous there. */
static void locate(const struct s3_source *src, uint64_t off, char oid[GW_S3_OID_MAX],
                   uint64_t *obj_off, uint64_t *max)
{
    uint64_t base = 0;
    uint32_t p = 0;

    if (!src->nparts) {
        gw_s3_oid_data(src->e.data_id, (uint32_t)(off / GW_S3_STRIPE_BYTES), oid);
        *obj_off = off % GW_S3_STRIPE_BYTES;
        *max = GW_S3_STRIPE_BYTES - *obj_off;
        return;
    }
    while (p + 1 < src->nparts && off >= base + src->parts[p].size)
        base += src->parts[p++].size;
    off -= base;
    gw_s3_oid_part(src->e.data_id, src->parts[p].number, src->parts[p].attempt,
                   (uint32_t)(off / GW_S3_STRIPE_BYTES), oid);
    *obj_off = off % GW_S3_STRIPE_BYTES;
    *max = GW_S3_STRIPE_BYTES - *obj_off;
    if (*max > src->parts[p].size - off)
        *max = src->parts[p].size - off;
}

static void source_pump(struct s3_req *r);

static void source_end(struct s3_req *r)
{
    struct s3_source *src = r->source;
    void (*cb)(struct s3_req *, int) = src->cb;

    if (src->count || src->manifest || !cb)
        return;
    src->cb = NULL;
    cb(r, src->err);
}

static void slot_read(int result, struct cairn_op *op, void *arg)
{
    struct read_slot *slot = arg;
    struct s3_req *r = slot->r;

    cairn_op_destroy(op);
    slot->done = true;
    slot->result = result;
    if (result == 0 && slot->got != slot->len)
        slot->result = -EIO; /* a stripe shorter than the index says */
    source_pump(r);
    s3__req_unref(r);
}

static void free_slot_buf(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    free(arg);
}

/* Hands the completed head slot's bytes on. 0, or -errno. */
static int deliver(struct s3_req *r, struct read_slot *slot)
{
    struct s3_source *src = r->source;
    struct evbuffer *eb;
    int rc;

    if (src->to_sink) {
        if (r->body.digests) /* a copy's ETag is the MD5 of what it wrote */
            gw_s3_digests_update(r->body.digests, slot->buf, slot->len);
        rc = s3__sink_write(r, slot->buf, slot->len);
        free(slot->buf);
        if (rc == 1)
            src->sink_paused = true;
        return rc < 0 ? rc : 0;
    }
    if (!r->http) {
        free(slot->buf);
        return -EPIPE;
    }
    eb = evbuffer_new();
    if (!eb) {
        free(slot->buf);
        return -ENOMEM;
    }
    evbuffer_add_reference(eb, slot->buf, slot->len, free_slot_buf, slot->buf);
    gw_http_resp_write_buffer(r->http, eb);
    evbuffer_free(eb);
    return 0;
}

static void drained(struct gw_http_req *h, void *arg)
{
    struct s3_req *r = arg;

    (void)h;
    r->source->waiting_drain = false;
    source_pump(r);
}

static void sink_resumed(struct s3_req *r)
{
    r->source->sink_paused = false;
    source_pump(r);
}

/* Starts one read of the next piece of the range. */
static int issue_read(struct s3_req *r)
{
    struct s3_source *src = r->source;
    struct read_slot *slot = calloc(1, sizeof(*slot));
    struct cairn_op *op = cairn_op_create();
    char oid[GW_S3_OID_MAX];
    uint64_t obj_off, max, len = src->end - src->next_off;
    int rc;

    locate(src, src->next_off, oid, &obj_off, &max);
    if (len > max)
        len = max;
    if (len > S3_READ_CHUNK)
        len = S3_READ_CHUNK;
    if (slot)
        slot->buf = malloc(len);
    if (!slot || !op || !slot->buf) {
        if (slot)
            free(slot->buf);
        free(slot);
        cairn_op_destroy(op);
        return -ENOMEM;
    }
    slot->r = r;
    slot->len = len;
    cairn_op_read(op, obj_off, len, slot->buf, &slot->got);
    s3__req_ref(r);
    rc = cairn_op_exec_async(r->gw->cairn, r->gw->pool, oid, op, slot_read, slot);
    if (rc < 0) {
        s3__req_unref(r);
        cairn_op_destroy(op);
        free(slot->buf);
        free(slot);
        return rc;
    }
    src->slots[src->count++] = slot;
    src->next_off += len;
    return 0;
}

/* Delivers completed reads in order and keeps S3_READS_INFLIGHT going,
 * unless the consumer is full. */
static void source_pump(struct s3_req *r)
{
    struct s3_source *src = r->source;
    int rc;

    while (src->count && src->slots[0]->done) {
        struct read_slot *slot = src->slots[0];
        memmove(src->slots, src->slots + 1, --src->count * sizeof(src->slots[0]));
        if (slot->result < 0 && !src->err)
            src->err = slot->result;
        if (src->err)
            free(slot->buf);
        else if ((rc = deliver(r, slot)) < 0)
            src->err = rc;
        free(slot);
    }
    if (!src->err && !src->to_sink && !r->http)
        src->err = -EPIPE;
    while (!src->err && src->next_off < src->end && src->count < S3_READS_INFLIGHT) {
        if (src->to_sink && src->sink_paused)
            break;
        if (!src->to_sink && gw_http_resp_pending(r->http) > S3_OUT_HIGH) {
            if (!src->waiting_drain) {
                src->waiting_drain = true;
                gw_http_resp_on_drain(r->http, S3_OUT_HIGH / 2, drained, r);
            }
            break;
        }
        if ((rc = issue_read(r)) < 0)
            src->err = rc;
    }
    if (src->err || src->next_off >= src->end)
        source_end(r);
}

static void manifest_done(struct s3_req *r, int result, struct cairn_op *op)
{
    struct s3_source *src = r->source;

    (void)op;
    if (result == 0)
        result = gw_s3_manifest_decode(src->manifest, src->manifest_len, src->e.size,
                                       &src->parts, &src->nparts) < 0 ? -EIO : 0;
    free(src->manifest);
    src->manifest = NULL;
    if (result < 0) {
        src->err = result;
        source_end(r);
        return;
    }
    source_pump(r);
}

/* A small object's data is in its entry: handed on at once. */
static int source_inline(struct s3_req *r, const struct gw_s3_entry *e, uint64_t off,
                         uint64_t len, void (*cb)(struct s3_req *r, int err))
{
    const uint8_t *p = (const uint8_t *)e->inline_data + off;
    int rc = 0;

    if (off + len > e->inline_len)
        return -EIO;
    if (r->sink && r->body.digests)
        gw_s3_digests_update(r->body.digests, p, len);
    if (r->sink)
        rc = s3__sink_write(r, p, len);
    else if (r->http)
        rc = gw_http_resp_write(r->http, p, len);
    cb(r, rc < 0 ? rc : 0);
    return 0;
}

int s3__source_start(struct s3_req *r, const struct gw_s3_entry *e, uint64_t off, uint64_t len,
                     void (*cb)(struct s3_req *r, int err))
{
    struct s3_source *src;

    if (e->has_inline)
        return source_inline(r, e, off, len, cb);
    src = calloc(1, sizeof(*src));
    size_t max = gw_s3_manifest_bytes(GW_S3_MANIFEST_PARTS_MAX);
    struct cairn_op *op;
    char oid[GW_S3_OID_MAX];

    if (!src)
        return -ENOMEM;
    src->e = *e;
    src->next_off = off;
    src->end = off + len;
    src->cb = cb;
    src->to_sink = r->sink != NULL;
    r->source = src;
    if (src->to_sink)
        s3__sink_set_resume(r, sink_resumed);
    if (!e->parts || len == 0) {
        source_pump(r);
        return 0;
    }
    op = cairn_op_create();
    src->manifest = malloc(max);
    if (!op || !src->manifest) {
        cairn_op_destroy(op);
        return -ENOMEM;
    }
    gw_s3_oid_manifest(e->data_id, oid);
    cairn_op_read(op, 0, max, src->manifest, &src->manifest_len);
    s3__exec(r, oid, op, manifest_done);
    return 0;
}

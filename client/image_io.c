/* Image I/O (client/image.h): a request is split at object boundaries into
 * pieces, one async compound op per data object, with at most
 * REQ_WINDOW of a request's pieces in flight (each completion starts the
 * next); it completes when every piece did, with the first error. Flushes
 * complete once every request started before them did. Sync calls are the
 * async ones plus a wait. The lifecycle (create, open, resize, map) is
 * image.c's.
 *
 * A request's life (pieces complete on the loop thread):
 *
 *   check bounds --lock: seq, onto img->reqs-- start piece 0 (fails: the
 *     call fails, no callback) and fill the window --each piece done: start
 *     the next--> last piece done (or, if that happened before the
 *     submitter let go, its put, posted to the loop) --> req_finish(): off
 *     img->reqs, ready flushes popped, callbacks fired outside the lock
 *
 * Invariants: 1. img->reqs is in seq order (seq assigned and inserted under
 * one hold of img->lock). 2. A flush of seq S completes only when no request
 * with seq <= S is on img->reqs. 3. req->left counts the pieces not done
 * (started or not) plus one while the submitter runs; the request finishes
 * when it reaches 0, on the loop thread. 4. img->callbacks > 0 while a
 * completion fires callbacks outside the lock; close waits for it to be 0.
 * 5. A slot holds at most one piece in flight (p->op != NULL). */
#include "client/internal.h"
#include "common/assert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum kind {
    IMG_READ,
    IMG_WRITE,
    IMG_DISCARD, /* remove whole objects, zero existing parts */
    IMG_ZERO     /* zero and allocate */
};

#define REQ_WINDOW 16u /* pieces of one request in flight */

/* A slot of a request: one piece in flight at a time (inv. 5). */
struct piece {
    struct cairn__image_req *req;
    struct cairn_op *op;
    char *buf;   /* READ: where its bytes go */
    size_t len;  /* bytes of the image it covers */
    size_t got;  /* READ: bytes the object had */
    char oid[CAIRN__IMAGE_OID_MAX];
};

struct cairn__image_req {
    struct cairn__call call; /* first: posts the finish when it is not on the loop */
    struct cairn_image *img;
    enum kind kind;
    cairn_image_cb cb;       /* NULL: failed synchronously, finish silently */
    void *arg;
    uint64_t off, len;       /* the range */
    uint64_t size;           /* the image size when it started */
    char *buf;               /* READ, WRITE: the caller's */
    uint64_t seq;
    uint64_t n;              /* pieces */
    uint64_t next;           /* the next piece to start, under img->lock */
    uint64_t left;           /* under img->lock (inv. 3) */
    int result;              /* the first error, under img->lock */
    TAILQ_ENTRY(cairn__image_req) link;
    unsigned n_slots;
    struct piece slots[];
};

struct cairn__image_flush {
    struct cairn__call call; /* first: posted when nothing is in flight */
    struct cairn_image *img;
    uint64_t seq;            /* done once no request with seq <= this is in flight */
    cairn_image_cb cb;
    void *arg;
    TAILQ_ENTRY(cairn__image_flush) link;
};

TAILQ_HEAD(flush_list, cairn__image_flush);

/* ---- completion ---------------------------------------------------------- */

/* Under img->lock: moves the flushes that no longer wait onto @ready. */
static void flushes_ready(struct cairn_image *img, struct flush_list *ready)
{
    struct cairn__image_flush *f;
    struct cairn__image_req *first = TAILQ_FIRST(&img->reqs);

    while ((f = TAILQ_FIRST(&img->flushes)) && (!first || first->seq > f->seq)) {
        TAILQ_REMOVE(&img->flushes, f, link);
        TAILQ_INSERT_TAIL(ready, f, link);
    }
}

/* Fires @ready's callbacks, then lets close proceed (inv. 4). */
static void flushes_fire(struct cairn_image *img, struct flush_list *ready)
{
    struct cairn__image_flush *f;

    while ((f = TAILQ_FIRST(ready))) {
        TAILQ_REMOVE(ready, f, link);
        f->cb(0, f->arg);
        free(f);
    }
    pthread_mutex_lock(&img->lock);
    img->callbacks--;
    pthread_cond_broadcast(&img->cond);
    pthread_mutex_unlock(&img->lock);
}

/* Loop thread: the request is done (inv. 3). */
static void req_finish(struct cairn__image_req *req)
{
    struct cairn_image *img = req->img;
    struct flush_list ready = TAILQ_HEAD_INITIALIZER(ready);

    pthread_mutex_lock(&img->lock);
    TAILQ_REMOVE(&img->reqs, req, link);
    flushes_ready(img, &ready);
    img->callbacks++;
    pthread_mutex_unlock(&img->lock);
    if (req->cb)
        req->cb(req->result, req->arg);
    free(req);
    flushes_fire(img, &ready);
}

static void req_posted(struct cairn *c, struct cairn__msg *msg)
{
    (void)c;
    req_finish((struct cairn__image_req *)msg);
}

/* Drops @count counts of @req with result @r; the last one finishes it, on
 * the loop thread (@on_loop) or by posting there. */
static void req_put(struct cairn__image_req *req, int r, uint64_t count, bool on_loop)
{
    struct cairn_image *img = req->img;
    bool last;

    pthread_mutex_lock(&img->lock);
    if (r < 0 && req->result == 0)
        req->result = r;
    CAIRN_ASSERT(req->left >= count);
    req->left -= count;
    last = req->left == 0;
    pthread_mutex_unlock(&img->lock);
    if (!last)
        return;
    if (on_loop) {
        req_finish(req);
    } else {
        req->call.msg.fn = req_posted;
        cairn__post(img->c, &req->call.msg);
    }
}

/* What a piece's op result means for the image (thin provisioning). */
static int piece_result(const struct cairn__image_req *req, struct piece *p, int r)
{
    switch (req->kind) {
    case IMG_READ:
        if (r == -ENOENT) {
            memset(p->buf, 0, p->len);
            return 0;
        }
        if (r == 0 && p->got < p->len)
            memset(p->buf + p->got, 0, p->len - p->got);
        return r;
    case IMG_DISCARD:
        return r == -ENOENT ? 0 : r; /* nothing there: already a hole */
    default:
        return r;
    }
}

static bool slot_fill(struct piece *p, bool on_loop);

static void piece_done(int result, struct cairn_op *op, void *arg)
{
    struct piece *p = arg;
    struct cairn__image_req *req = p->req;

    result = piece_result(req, p, result);
    cairn_op_destroy(op);
    p->op = NULL;
    /* This piece's count keeps @req alive while the slot takes the next. */
    slot_fill(p, true);
    req_put(req, result, 1, true);
}

/* ---- starting pieces ----------------------------------------------------- */

/* Records piece @p's steps: [@obj_off, +p->len) of its object, @data being
 * the caller's buffer at that point. */
static int piece_build(struct cairn__image_req *req, struct piece *p, uint64_t obj_off,
                       bool whole, char *data)
{
    struct cairn_op *op = p->op;
    int r;

    switch (req->kind) {
    case IMG_READ:
        p->buf = data;
        return cairn_op_read(op, obj_off, p->len, data, &p->got);
    case IMG_WRITE:
        return cairn_op_write(op, obj_off, data, p->len);
    case IMG_DISCARD:
        if (whole)
            return cairn_op_remove(op);
        /* Guarded, so that discarding part of a hole allocates nothing. */
        r = cairn_op_assert_exists(op);
        return r < 0 ? r : cairn_op_zero(op, obj_off, p->len);
    default:
        return cairn_op_zero(op, obj_off, p->len);
    }
}

/* Builds and sends piece @i of @p's request in slot @p: 0, or -errno with
 * nothing sent. */
static int piece_start(struct piece *p, uint64_t i)
{
    struct cairn__image_req *req = p->req;
    struct cairn_image *img = req->img;
    uint64_t os = img->object_size, objno = req->off / os + i;
    uint64_t pos = i == 0 ? req->off : objno * os, end = req->off + req->len;
    int r;

    p->len = (size_t)((objno + 1) * os < end ? (objno + 1) * os - pos : end - pos);
    /* Whole: the piece covers every byte of its object inside the image. */
    bool whole = pos % os == 0 && (p->len == os || pos + p->len >= req->size);
    cairn__image_data_oid(p->oid, img->id, objno);
    if (!(p->op = cairn_op_create()))
        return -ENOMEM;
    r = piece_build(req, p, pos % os, whole, req->buf ? req->buf + (pos - req->off) : NULL);
    if (r == 0 && (r = cairn_op_exec_async(img->c, img->pool, p->oid, p->op, piece_done, p)) == 0)
        return 0;
    cairn_op_destroy(p->op);
    p->op = NULL;
    return r;
}

/* Takes the next piece not started into *@i; false when none is left. */
static bool piece_next(struct cairn__image_req *req, uint64_t *i)
{
    bool more;

    pthread_mutex_lock(&req->img->lock);
    more = req->next < req->n;
    if (more)
        *i = req->next++;
    pthread_mutex_unlock(&req->img->lock);
    return more;
}

/* Starts the next piece in the idle slot @p; a piece that fails to start
 * is done with its error, and the one after it is tried. Whether one went
 * out. The caller holds a count of the request. */
static bool slot_fill(struct piece *p, bool on_loop)
{
    uint64_t i;
    int r;

    while (piece_next(p->req, &i)) {
        if ((r = piece_start(p, i)) == 0)
            return true;
        req_put(p->req, r, 1, on_loop);
    }
    return false;
}

/* Checks [@off, +@len) against the size, then starts the request's first
 * pieces. Fails synchronously (callback never fires) or returns 0. */
static int req_start(struct cairn_image *img, enum kind kind, uint64_t off, uint64_t len,
                     void *buf, cairn_image_cb cb, void *arg)
{
    struct cairn__image_req *req;
    uint64_t n, os;
    unsigned slots;
    int r;

    if (!img || !cb || (!buf && len && kind <= IMG_WRITE))
        return -EINVAL;
    os = img->object_size;
    n = len ? (off + len - 1) / os - off / os + 1 : 0;
    slots = n < REQ_WINDOW ? (unsigned)n : REQ_WINDOW;
    if (!(req = calloc(1, sizeof(*req) + (slots ? slots : 1) * sizeof(req->slots[0]))))
        return -ENOMEM;
    *req = (struct cairn__image_req){
        .img = img, .kind = kind, .cb = cb, .arg = arg, .off = off, .len = len, .buf = buf,
        .n = n, .left = n + 1, .n_slots = slots};
    for (unsigned k = 0; k < slots; k++)
        req->slots[k].req = req;
    pthread_mutex_lock(&img->lock);
    if (off > img->size || len > img->size - off) {
        pthread_mutex_unlock(&img->lock);
        free(req);
        return -EINVAL;
    }
    req->size = img->size;
    req->seq = img->next_seq++;
    TAILQ_INSERT_TAIL(&img->reqs, req, link);
    pthread_mutex_unlock(&img->lock);
    if (n && piece_next(req, &(uint64_t){0}) && (r = piece_start(&req->slots[0], 0)) < 0) {
        /* Nothing went out: fail here, never call back. */
        req->cb = NULL;
        pthread_mutex_lock(&img->lock);
        req->next = n;
        pthread_mutex_unlock(&img->lock);
        req_put(req, r, n + 1, false);
        return r;
    }
    for (unsigned k = 1; k < slots; k++)
        if (!slot_fill(&req->slots[k], false))
            break;
    req_put(req, 0, 1, false);
    return 0;
}

int cairn_image_aio_read(struct cairn_image *img, uint64_t off, size_t len, void *buf,
                         cairn_image_cb cb, void *arg)
{
    return req_start(img, IMG_READ, off, len, buf, cb, arg);
}

int cairn_image_aio_write(struct cairn_image *img, uint64_t off, size_t len, const void *buf,
                          cairn_image_cb cb, void *arg)
{
    return req_start(img, IMG_WRITE, off, len, (void *)buf, cb, arg);
}

int cairn_image_aio_discard(struct cairn_image *img, uint64_t off, uint64_t len,
                            cairn_image_cb cb, void *arg)
{
    return req_start(img, IMG_DISCARD, off, len, NULL, cb, arg);
}

int cairn_image_aio_write_zeroes(struct cairn_image *img, uint64_t off, uint64_t len,
                                 bool may_unmap, cairn_image_cb cb, void *arg)
{
    return req_start(img, may_unmap ? IMG_DISCARD : IMG_ZERO, off, len, NULL, cb, arg);
}

/* ---- flush ---------------------------------------------------------------- */

static void flush_posted(struct cairn *c, struct cairn__msg *msg)
{
    struct cairn__image_flush *f = (struct cairn__image_flush *)msg;
    struct cairn_image *img = f->img;
    struct flush_list ready = TAILQ_HEAD_INITIALIZER(ready);

    (void)c;
    TAILQ_INSERT_TAIL(&ready, f, link);
    flushes_fire(img, &ready); /* drops the callbacks count taken when posted */
}

int cairn_image_aio_flush(struct cairn_image *img, cairn_image_cb cb, void *arg)
{
    struct cairn__image_flush *f;
    int r = 0;

    if (!img || !cb)
        return -EINVAL;
    if (!(f = calloc(1, sizeof(*f))))
        return -ENOMEM;
    f->img = img;
    f->cb = cb;
    f->arg = arg;
    pthread_mutex_lock(&img->lock);
    if (!TAILQ_EMPTY(&img->reqs)) {
        /* OSDs acknowledge only durable writes: waiting is all there is. */
        f->seq = img->next_seq - 1;
        TAILQ_INSERT_TAIL(&img->flushes, f, link);
        pthread_mutex_unlock(&img->lock);
        return 0;
    }
    img->callbacks++;
    pthread_mutex_unlock(&img->lock);
    f->call.msg.fn = flush_posted;
    if ((r = cairn__post_unless_closing(img->c, &f->call.msg)) < 0) {
        free(f);
        pthread_mutex_lock(&img->lock);
        img->callbacks--;
        pthread_cond_broadcast(&img->cond);
        pthread_mutex_unlock(&img->lock);
    }
    return r;
}

/* ---- sync calls ----------------------------------------------------------- */

struct sync_wait {
    struct cairn_image *img;
    bool done;  /* under img->lock */
    int result;
};

static void sync_cb(int result, void *arg)
{
    struct sync_wait *w = arg;

    pthread_mutex_lock(&w->img->lock);
    w->result = result;
    w->done = true;
    pthread_cond_broadcast(&w->img->cond);
    pthread_mutex_unlock(&w->img->lock);
}

/* Waits for the async call that returned @r with @w as its argument. */
static int sync_wait(struct sync_wait *w, int r)
{
    if (r < 0)
        return r;
    pthread_mutex_lock(&w->img->lock);
    while (!w->done)
        pthread_cond_wait(&w->img->cond, &w->img->lock);
    pthread_mutex_unlock(&w->img->lock);
    return w->result;
}

int cairn_image_read(struct cairn_image *img, uint64_t off, size_t len, void *buf)
{
    struct sync_wait w = {.img = img};

    return sync_wait(&w, cairn_image_aio_read(img, off, len, buf, sync_cb, &w));
}

int cairn_image_write(struct cairn_image *img, uint64_t off, size_t len, const void *buf)
{
    struct sync_wait w = {.img = img};

    return sync_wait(&w, cairn_image_aio_write(img, off, len, buf, sync_cb, &w));
}

int cairn_image_discard(struct cairn_image *img, uint64_t off, uint64_t len)
{
    struct sync_wait w = {.img = img};

    return sync_wait(&w, cairn_image_aio_discard(img, off, len, sync_cb, &w));
}

int cairn_image_write_zeroes(struct cairn_image *img, uint64_t off, uint64_t len,
                             bool may_unmap)
{
    struct sync_wait w = {.img = img};

    return sync_wait(&w, cairn_image_aio_write_zeroes(img, off, len, may_unmap, sync_cb, &w));
}

int cairn_image_flush(struct cairn_image *img)
{
    struct sync_wait w = {.img = img};

    return sync_wait(&w, cairn_image_aio_flush(img, sync_cb, &w));
}

void cairn__image_drain(struct cairn_image *img)
{
    pthread_mutex_lock(&img->lock);
    while (!TAILQ_EMPTY(&img->reqs) || !TAILQ_EMPTY(&img->flushes) || img->callbacks)
        pthread_cond_wait(&img->cond, &img->lock);
    pthread_mutex_unlock(&img->lock);
}

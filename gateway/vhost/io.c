/* cairn-vhost's data path: a queue's kicks, taking descriptor chains
 * (vring.c), turning virtio-blk requests (blk.c) into image I/O on
 * libcairn, and completing them: status byte, used element, one publish
 * and at most one guest notification per queue per batch. Runs on the
 * loop thread it shares with libcairn, whose callbacks finish requests
 * directly (server.c batches their publication).
 *
 * A request's life:
 *   kick --pop (pool slot, byte budget)--> malformed or unsupported:
 *     status IOERR/UNSUPP, pushed at once
 *   --> IN/OUT/FLUSH/DISCARD/WRITE_ZEROES: image aio (OUT copies the guest
 *     data out first; the guest may change it meanwhile) --libcairn's
 *     callback, same thread--> io_complete: IN copies the data into the
 *     guest, status, push --> the turn's flush (server.c): publish, call
 *     eventfd
 * Guest memory is touched only on the loop thread, and only while the
 * session is open; a closed session's completions just free their slot.
 *
 * Invariants: 1. A request is on q->free_reqs, or popped and counted in
 * q->inflight and dev->inflight, never both. 2. dev->inflight_bytes is the
 * sum of buf_len of popped requests. 3. Nothing is popped while a control
 * message waits for the drain (dev->msg_waiting). */
#include "gateway/vhost/internal.h"

#include "common/assert.h"
#include "common/log.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG(level, q, fmt, ...)                                                                 \
    cairn_log(level, CAIRN_SS_GATEWAY, "vhost: image %s queue %u: " fmt, (q)->dev->srv->image,  \
              (q)->index, ##__VA_ARGS__)

static void kick_cb(evutil_socket_t fd, short what, void *arg);
static void buf_free(struct gw_vhost_req *req);

/* ---- queue lifetime ---- */

static int pool_alloc(struct gw_vhost_queue *q)
{
    unsigned n = q->num < GW_VHOST_QUEUE_REQS_MAX ? q->num : GW_VHOST_QUEUE_REQS_MAX;

    if (q->reqs)
        return 0;
    if (!(q->reqs = calloc(n, sizeof(q->reqs[0]))))
        return -ENOMEM;
    q->n_reqs = n;
    q->free_reqs = NULL;
    for (unsigned i = n; i-- > 0;) {
        q->reqs[i].q = q;
        q->reqs[i].next_free = q->free_reqs;
        q->free_reqs = &q->reqs[i];
    }
    return 0;
}

/* Tracks the queue in the SET_INFLIGHT_FD area when it covers it; after a
 * reconnect, lines up the chains a previous back-end left in flight. */
static int inflight_attach(struct gw_vhost_queue *q)
{
    struct gw_vhost_dev *dev = q->dev;
    uint16_t used_idx;

    q->iflt.region = NULL;
    free(q->resubmit);
    q->resubmit = NULL;
    q->n_resubmit = q->next_resubmit = 0;
    if (!dev->inflight_map || q->index >= dev->inflight_queues ||
        q->num != dev->inflight_queue_size)
        return 0;
    used_idx = q->vr.used_idx;
    if (gw_vhost_inflight_attach(&q->iflt, dev->inflight_map + q->index *
                                 gw_vhost_inflight_region_bytes(dev->inflight_queue_size),
                                 (uint16_t)q->num, used_idx) == 0)
        return 0;
    if (!(q->resubmit = malloc(q->num * sizeof(q->resubmit[0]))))
        return -ENOMEM;
    q->n_resubmit = gw_vhost_inflight_recover(&q->iflt, used_idx, q->resubmit);
    /* Taken so far: every completed chain plus those in flight. */
    gw_vhost_vring_set_base(&q->vr, (uint16_t)(used_idx + q->n_resubmit));
    if (q->n_resubmit)
        LOG(CAIRN_LOG_INFO, q, "resubmitting %u requests left in flight by an earlier back-end",
            q->n_resubmit);
    return 0;
}

int gw_vhost__queue_start(struct gw_vhost_queue *q)
{
    struct gw_vhost_dev *dev = q->dev;
    bool event_idx = dev->features & (1ull << GW_VHOST_F_RING_EVENT_IDX);
    int r;

    if (!q->num || !q->have_addr || dev->mem.n == 0)
        return -EINVAL;
    if ((r = gw_vhost_vring_setup(&q->vr, &dev->mem, q->num, q->desc_uaddr, q->avail_uaddr,
                                  q->used_uaddr, event_idx)) < 0)
        return r;
    if (q->reqs && q->n_reqs != (q->num < GW_VHOST_QUEUE_REQS_MAX ? q->num
                                                                   : GW_VHOST_QUEUE_REQS_MAX)) {
        for (unsigned i = 0; i < q->n_reqs; i++)
            buf_free(&q->reqs[i]);
        free(q->reqs);
        q->reqs = NULL;
    }
    if ((r = pool_alloc(q)) < 0 || (r = inflight_attach(q)) < 0)
        return r;
    if (!q->kick_ev) {
        q->kick_ev = event_new(dev->srv->base, q->kick_fd, EV_READ | EV_PERSIST, kick_cb, q);
        if (!q->kick_ev || event_add(q->kick_ev, NULL) < 0)
            return -ENOMEM;
    }
    q->started = true;
    q->broken = false;
    return 0;
}

void gw_vhost__queue_unmap(struct gw_vhost_queue *q)
{
    if (gw_vhost_vring_is_ready(&q->vr))
        q->base = gw_vhost_vring_get_base(&q->vr);
    gw_vhost_vring_init(&q->vr);
    gw_vhost_vring_set_base(&q->vr, q->base);
}

void gw_vhost__queue_stop(struct gw_vhost_queue *q)
{
    CAIRN_ASSERT(q->inflight == 0);
    gw_vhost__queue_unmap(q);
    if (q->kick_ev) {
        event_free(q->kick_ev);
        q->kick_ev = NULL;
    }
    for (unsigned i = 0; q->reqs && i < q->n_reqs; i++)
        buf_free(&q->reqs[i]);
    free(q->reqs);
    q->reqs = NULL;
    q->free_reqs = NULL;
    q->n_reqs = 0;
    free(q->resubmit);
    q->resubmit = NULL;
    q->n_resubmit = q->next_resubmit = 0;
    q->iflt.region = NULL;
    q->started = false;
}

/* ---- completion ---- */

static void buf_free(struct gw_vhost_req *req)
{
    free(req->buf);
    req->q->dev->buf_cache_bytes -= req->buf_cap;
    req->buf = NULL;
    req->buf_cap = 0;
}

static void req_release(struct gw_vhost_req *req)
{
    struct gw_vhost_queue *q = req->q;
    struct gw_vhost_dev *dev = q->dev;

    dev->inflight_bytes -= req->buf_len;
    req->buf_len = 0;
    /* The slot keeps a buffer of up to GW_VHOST_BUF_KEEP_MAX for its next
     * request (allocating and faulting in 1 MiB per request showed in
     * profiles), while the session's buffers stay within
     * GW_VHOST_BUF_CACHE_MAX. */
    if (req->buf_cap > GW_VHOST_BUF_KEEP_MAX || dev->buf_cache_bytes > GW_VHOST_BUF_CACHE_MAX)
        buf_free(req);
    req->next_free = q->free_reqs;
    q->free_reqs = req;
    CAIRN_ASSERT(q->inflight > 0 && dev->inflight > 0);
    q->inflight--;
    dev->inflight--;
}

/* Writes the status, returns the chain to the driver (visible at the next
 * publish) and frees the slot. @written: payload bytes put into the
 * writable stream. */
static void req_finish(struct gw_vhost_req *req, int err, size_t written)
{
    struct gw_vhost_queue *q = req->q;
    uint8_t *status = req->chain.error ? req->chain.status : req->blk.status;
    uint32_t len = 0;

    if (status) {
        *status = gw_vhost_blk_status(err);
        len = (uint32_t)written + 1;
    }
    gw_vhost_inflight_push(&q->iflt, req->chain.head);
    gw_vhost_vring_push(&q->vr, req->chain.head, len);
    q->dirty = true;
    req_release(req);
}

void gw_vhost__io_complete(struct gw_vhost_req *req)
{
    struct gw_vhost_queue *q = req->q;
    struct gw_vhost_dev *dev = q->dev;
    size_t written = 0;
    int err = req->result;

    if (dev->closed) {
        req_release(req);
        gw_vhost__dev_free_if_idle(dev);
        return;
    }
    if (err == 0 && req->blk.type == GW_VHOST_BLK_T_IN) {
        written = gw_vhost_chain_copy_in(&req->chain, req->blk.data_off, req->buf,
                                         req->blk.data_len);
        if (written != req->blk.data_len)
            err = -EFAULT;
    }
    if (err < 0)
        written = 0;
    req_finish(req, err, written);
}

void gw_vhost__dev_publish(struct gw_vhost_dev *dev)
{
    uint64_t one = 1;

    for (unsigned i = 0; i < dev->srv->num_queues; i++) {
        struct gw_vhost_queue *q = &dev->q[i];
        if (!q->dirty)
            continue;
        q->dirty = false;
        bool notify = gw_vhost_vring_publish(&q->vr);
        gw_vhost_inflight_published(&q->iflt, q->vr.used_idx);
        if (notify && q->call_fd >= 0 && write(q->call_fd, &one, sizeof(one)) < 0 &&
            errno != EAGAIN)
            LOG(CAIRN_LOG_WARN, q, "call eventfd: %s", strerror(errno));
    }
}

/* ---- starting requests ---- */

/* Whether [@off, +@len) lies inside the image. */
static bool in_image(const struct gw_vhost_server *srv, uint64_t off, uint64_t len)
{
    uint64_t size = cairn_image_size(srv->img);

    return off <= size && len <= size - off;
}

/* DISCARD / WRITE_ZEROES of the request's one segment. */
static int start_dwz(struct gw_vhost_req *req)
{
    struct gw_vhost_server *srv = req->q->dev->srv;
    struct gw_vhost_blk_seg seg;
    int r;

    if (req->blk.n_segs != 1)
        return -EOPNOTSUPP;
    if ((r = gw_vhost_blk_segment(&req->chain, &req->blk, 0, &seg)) < 0)
        return r;
    if (!in_image(srv, seg.offset_bytes, seg.len_bytes))
        return -EINVAL;
    if (req->blk.type == GW_VHOST_BLK_T_DISCARD)
        return cairn_image_aio_discard(srv->img, seg.offset_bytes, seg.len_bytes,
                                       gw_vhost__req_done, req);
    return cairn_image_aio_write_zeroes(srv->img, seg.offset_bytes, seg.len_bytes, seg.unmap,
                                        gw_vhost__req_done, req);
}

/* Makes req->buf hold at least @len bytes, reusing the slot's buffer. */
static int buf_reserve(struct gw_vhost_req *req, size_t len)
{
    struct gw_vhost_dev *dev = req->q->dev;
    size_t cap = len < 4096 ? 4096 : len;
    void *p;

    if (req->buf_cap >= len)
        return 0;
    if (!(p = realloc(req->buf, cap)))
        return -ENOMEM;
    dev->buf_cache_bytes += cap - req->buf_cap;
    req->buf = p;
    req->buf_cap = cap;
    return 0;
}

/* IN / OUT: a buffer for the data (OUT: the guest's bytes copied in). */
static int start_rw(struct gw_vhost_req *req)
{
    struct gw_vhost_dev *dev = req->q->dev;
    struct gw_vhost_server *srv = dev->srv;
    const struct gw_vhost_blk_req *b = &req->blk;
    int r;

    if (b->data_len > GW_VHOST_REQ_BYTES_MAX || !in_image(srv, b->offset_bytes, b->data_len))
        return -EINVAL;
    if (b->type == GW_VHOST_BLK_T_OUT && srv->read_only)
        return -EROFS;
    if (b->data_len == 0)
        return 1;
    if ((r = buf_reserve(req, b->data_len)) < 0)
        return r;
    req->buf_len = b->data_len;
    dev->inflight_bytes += b->data_len;
    if (b->type == GW_VHOST_BLK_T_IN)
        return cairn_image_aio_read(srv->img, b->offset_bytes, b->data_len, req->buf,
                                    gw_vhost__req_done, req);
    if (gw_vhost_chain_copy_out(&req->chain, b->data_off, req->buf, b->data_len) != b->data_len)
        return -EFAULT;
    return cairn_image_aio_write(srv->img, b->offset_bytes, b->data_len, req->buf,
                                 gw_vhost__req_done, req);
}

/* Starts the request in @req (just popped). 0: libcairn has it; 1: done
 * at once with success (*written payload bytes); -errno: done at once
 * with that error. */
static int start(struct gw_vhost_req *req, size_t *written)
{
    struct gw_vhost_server *srv = req->q->dev->srv;
    int r;

    if (req->chain.error)
        return req->chain.error;
    if ((r = gw_vhost_blk_parse(&req->chain, &req->blk)) < 0)
        return r;
    switch (req->blk.type) {
    case GW_VHOST_BLK_T_IN:
    case GW_VHOST_BLK_T_OUT:
        return start_rw(req);
    case GW_VHOST_BLK_T_FLUSH:
        return cairn_image_aio_flush(srv->img, gw_vhost__req_done, req);
    case GW_VHOST_BLK_T_GET_ID:
        *written = gw_vhost_blk_get_id(&req->chain, &req->blk, srv->image);
        return 1;
    case GW_VHOST_BLK_T_DISCARD:
    case GW_VHOST_BLK_T_WRITE_ZEROES:
        if (srv->read_only)
            return -EROFS;
        return start_dwz(req);
    default:
        return -EOPNOTSUPP;
    }
}

/* Whether the queue may take another chain now. */
static bool can_pop(const struct gw_vhost_queue *q)
{
    const struct gw_vhost_dev *dev = q->dev;

    return q->started && q->enabled && !q->broken && !dev->closed && !dev->msg_waiting &&
           q->free_reqs && dev->inflight_bytes < GW_VHOST_INFLIGHT_BYTES_MAX;
}

/* Takes one chain: first those a previous back-end left in flight, then
 * the avail ring's. 1: took one; 0: nothing (or no room); -EPROTO: broken. */
static int take_one(struct gw_vhost_queue *q)
{
    struct gw_vhost_dev *dev = q->dev;
    struct gw_vhost_req *req = q->free_reqs;
    size_t written = 0;
    int r;

    if (q->next_resubmit < q->n_resubmit) {
        r = gw_vhost_vring_take(&q->vr, &dev->mem, q->resubmit[q->next_resubmit++],
                                &req->chain);
    } else {
        r = gw_vhost_vring_pop(&q->vr, &dev->mem, &req->chain);
        if (r == 1)
            gw_vhost_inflight_take(&q->iflt, req->chain.head);
    }
    if (r <= 0)
        return r;
    q->free_reqs = req->next_free;
    q->inflight++;
    dev->inflight++;
    memset(&req->blk, 0, sizeof(req->blk));
    req->result = 0;
    r = start(req, &written);
    if (r != 0)
        req_finish(req, r > 0 ? 0 : r, r > 0 ? written : 0);
    return 1;
}

void gw_vhost__queue_process(struct gw_vhost_queue *q)
{
    int r = 0;

    /* Bounded per call: the pool and the byte budget stop it. */
    while (can_pop(q)) {
        gw_vhost_vring_disable_notify(&q->vr);
        while (can_pop(q) && (r = take_one(q)) == 1)
            ;
        if (!can_pop(q))
            break;
        if (r < 0) {
            q->broken = true;
            LOG(CAIRN_LOG_WARN, q, "the driver broke the ring (avail index or head out of "
                                   "range); the queue stops until it is set up again");
            break;
        }
        if (!gw_vhost_vring_enable_notify(&q->vr))
            break;
    }
    gw_vhost__dev_publish(q->dev);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct gw_vhost_queue *q = arg;
    uint64_t n;

    (void)what;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        LOG(CAIRN_LOG_WARN, q, "kick eventfd: %s", strerror(errno));
    gw_vhost__queue_process(q);
}

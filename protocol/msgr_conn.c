/* Per-connection I/O of the messenger: the bufferevent callbacks, frames
 * decoded straight from the input evbuffer and encoded into the output, the
 * queue of frames sent before OPEN and its byte bound, read backpressure,
 * and pending requests (a txid hash plus one timeout timer each). State
 * changes go through proto__conn_transition() in msgr.c. */
#include "protocol/internal.h"
#include "protocol/msg_types.h"
#include "common/assert.h"
#include "common/log.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the request table ---- */

static uint32_t slot_of(uint64_t txid, uint32_t cap)
{
    return (uint32_t)((txid * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static int reqtab_grow(struct proto__reqtab *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 16;
    struct proto__req **slots = calloc(cap, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    for (uint32_t i = 0; i < t->cap; i++) {
        struct proto__req *q = t->slots[i];
        if (!q)
            continue;
        uint32_t j = slot_of(q->txid, cap);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = q;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

static int reqtab_insert(struct proto__reqtab *t, struct proto__req *q)
{
    /* Keep the load at most 1/2 so probe runs stay short. */
    if ((t->count + 1) * 2 > t->cap && reqtab_grow(t) < 0)
        return -ENOMEM;
    uint32_t i = slot_of(q->txid, t->cap);
    while (t->slots[i]) {
        CAIRN_ASSERT(t->slots[i]->txid != q->txid);
        i = (i + 1) & (t->cap - 1);
    }
    t->slots[i] = q;
    t->count++;
    return 0;
}

static int64_t reqtab_index(const struct proto__reqtab *t, uint64_t txid)
{
    if (t->cap == 0)
        return -1;
    for (uint32_t i = slot_of(txid, t->cap); t->slots[i]; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i]->txid == txid)
            return i;
    }
    return -1;
}

/* True when @k lies in the cyclic interval (i, j]. */
static bool cyclic_between(uint32_t i, uint32_t k, uint32_t j)
{
    return i <= j ? (i < k && k <= j) : (i < k || k <= j);
}

static void reqtab_remove(struct proto__reqtab *t, uint64_t txid)
{
    int64_t at = reqtab_index(t, txid);
    uint32_t mask = t->cap - 1;

    CAIRN_ASSERT(at >= 0);
    uint32_t hole = (uint32_t)at;
    /* Backward-shift deletion: pull later entries of the probe run into the
     * hole unless that would move them before their home slot. */
    for (uint32_t j = (hole + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        if (cyclic_between(hole, slot_of(t->slots[j]->txid, t->cap), j))
            continue;
        t->slots[hole] = t->slots[j];
        hole = j;
    }
    t->slots[hole] = NULL;
    t->count--;
}

void proto__reqtab_fini(struct proto__reqtab *t)
{
    CAIRN_ASSERT(t->count == 0);
    free(t->slots);
    t->slots = NULL;
    t->cap = 0;
}

/* ---- request contexts ---- */

static void req_timeout_cb(evutil_socket_t fd, short what, void *arg);

static struct proto__req *req_get(struct proto_msgr *m)
{
    struct proto__req *q = TAILQ_FIRST(&m->req_cache);

    if (q) {
        TAILQ_REMOVE(&m->req_cache, q, link);
        m->req_cache_len--;
        return q;
    }
    if (!(q = calloc(1, sizeof(*q))))
        return NULL;
    if (!(q->timer = evtimer_new(m->base, req_timeout_cb, q))) {
        free(q);
        return NULL;
    }
    return q;
}

static void req_put(struct proto_msgr *m, struct proto__req *q)
{
    evtimer_del(q->timer);
    q->conn = NULL;
    q->cb = NULL;
    q->arg = NULL;
    if (m->req_cache_len < PROTO_MSGR_REQ_CACHE) {
        TAILQ_INSERT_HEAD(&m->req_cache, q, link);
        m->req_cache_len++;
        return;
    }
    event_free(q->timer);
    free(q);
}

void proto__req_cache_fini(struct proto_msgr *m)
{
    struct proto__req *q;

    while ((q = TAILQ_FIRST(&m->req_cache))) {
        TAILQ_REMOVE(&m->req_cache, q, link);
        event_free(q->timer);
        free(q);
    }
    m->req_cache_len = 0;
}

static void req_detach(struct proto_conn *c, struct proto__req *q)
{
    reqtab_remove(&c->reqs, q->txid);
    TAILQ_REMOVE(&c->req_list, q, link);
    evtimer_del(q->timer);
}

/* Recycles @q, then fires its callback (which may send new requests). */
static void req_finish(struct proto_msgr *m, struct proto__req *q, int result,
                       struct proto_frame *reply)
{
    proto_reply_cb cb = q->cb;
    void *arg = q->arg;

    req_put(m, q);
    cb(result, reply, arg);
}

void proto__conn_collect_reqs(struct proto_conn *c, int result, struct proto__req_list *out)
{
    struct proto__req *q;

    while ((q = TAILQ_FIRST(&c->req_list))) {
        req_detach(c, q);
        q->result = result;
        TAILQ_INSERT_TAIL(out, q, link);
    }
}

void proto__reqs_fail(struct proto_msgr *m, struct proto__req_list *list)
{
    struct proto__req *q;

    while ((q = TAILQ_FIRST(list))) {
        TAILQ_REMOVE(list, q, link);
        req_finish(m, q, q->result, NULL);
    }
}

static void req_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proto__req *q = arg;
    struct proto_conn *c = q->conn;

    proto__conn_hold(c);
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_MSGR, "request %llu to %s (%s) timed out",
              (unsigned long long)q->txid, c->addr, proto__conn_who(c));
    req_detach(c, q);
    req_finish(c->msgr, q, -ETIMEDOUT, NULL);
    proto__conn_release(c);
}

static void req_complete(struct proto_conn *c, struct proto_frame *f)
{
    int64_t at = reqtab_index(&c->reqs, f->hdr.txid);

    if (at < 0) {
        c->msgr->stats.unmatched_replies++;
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_MSGR,
                  "dropping reply %llu from %s (%s): no such request (late or unknown)",
                  (unsigned long long)f->hdr.txid, c->addr, proto__conn_who(c));
        proto_frame_free(f);
        return;
    }
    struct proto__req *q = c->reqs.slots[at];
    req_detach(c, q);
    req_finish(c->msgr, q, 0, f);
}

/* ---- writing ---- */

static void conn_mark_dirty(struct proto_conn *c)
{
    struct proto_msgr *m = c->msgr;

    /* While EV_WRITE is on, the bufferevent writes as the socket drains. */
    if (c->dirty || (bufferevent_get_enabled(c->bev) & EV_WRITE))
        return;
    c->dirty = true;
    TAILQ_INSERT_TAIL(&m->dirty, c, dirty_link);
    event_active(m->flush, EV_WRITE, 0);
}

static void conn_undirty(struct proto_conn *c)
{
    if (c->dirty) {
        TAILQ_REMOVE(&c->msgr->dirty, c, dirty_link);
        c->dirty = false;
    }
}

/* Writes what the socket takes now, up to the bound per turn; the rest (or
 * an error, which the bufferevent then reports through event_cb) goes to
 * the bufferevent. */
static void conn_write_now(struct proto_conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (evbuffer_get_length(out) == 0)
        return;
    /* A bufferevent freezes the start of its output so that only it drains
     * it; it unfreezes it the same way around its own writes. */
    evbuffer_unfreeze(out, 1);
    int n = evbuffer_write_atmost(out, bufferevent_getfd(c->bev), PROTO_MSGR_MAX_SINGLE_IO);
    evbuffer_freeze(out, 1);
    if (n < 0 || evbuffer_get_length(out) > 0) {
        c->msgr->stats.socket_full++;
        bufferevent_enable(c->bev, EV_WRITE);
    } else {
        c->msgr->stats.direct_writes++;
    }
}

void proto__msgr_flush_cb(int fd, short what, void *arg)
{
    struct proto_msgr *m = arg;
    struct proto_conn *c;

    (void)fd;
    (void)what;
    while ((c = TAILQ_FIRST(&m->dirty))) {
        conn_undirty(c);
        if (c->bev && c->state == PROTO_CONN_OPEN)
            conn_write_now(c);
    }
}

/* ---- encoding ---- */

static size_t conn_queued_bytes(const struct proto_conn *c)
{
    size_t n = evbuffer_get_length(c->pending);

    if (c->bev)
        n += evbuffer_get_length(bufferevent_get_output(c->bev));
    return n;
}

int proto__conn_emit(struct proto_conn *c, bool control, const struct proto_frame_header *h,
                     const void *meta, const void *data)
{
    size_t len =
        PROTO_FRAME_HEADER_LEN + (size_t)h->meta_len + h->data_len + PROTO_FRAME_TRAILER_LEN;
    uint8_t hdr[PROTO_FRAME_HEADER_LEN];
    uint8_t trailer[PROTO_FRAME_TRAILER_LEN];
    struct evbuffer *out = c->pending;

    if (c->blackhole)
        return 0;
    if (control || c->state == PROTO_CONN_OPEN) {
        CAIRN_ASSERT(c->bev != NULL);
        out = bufferevent_get_output(c->bev);
    }
    if (!control && conn_queued_bytes(c) + len > c->msgr->opts.queue_max_bytes)
        return -ENOBUFS;
    /* Reserve the whole frame first so that the adds below cannot fail and
     * leave half a frame in the stream. */
    if (evbuffer_expand(out, len) < 0)
        return -ENOMEM;
    proto_frame_header_encode(h, hdr);
    uint32_t crc = proto_frame_payload_crc(meta, h->meta_len, data, h->data_len);
    for (unsigned i = 0; i < PROTO_FRAME_TRAILER_LEN; i++)
        trailer[i] = (uint8_t)(crc >> (8 * i));
    evbuffer_add(out, hdr, sizeof(hdr));
    if (h->meta_len)
        evbuffer_add(out, meta, h->meta_len);
    if (h->data_len)
        evbuffer_add(out, data, h->data_len);
    evbuffer_add(out, trailer, sizeof(trailer));
    if (c->state == PROTO_CONN_OPEN)
        conn_mark_dirty(c);
    return 0;
}

void proto__conn_flush_pending(struct proto_conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);

    evbuffer_add_buffer(out, c->pending);
    /* With bytes left, write_cb turns direct writes on once they are out. */
    if (evbuffer_get_length(out) == 0)
        bufferevent_disable(c->bev, EV_WRITE);
}

static int check_sendable(const struct proto_conn *c, uint16_t type, const void *meta,
                          size_t meta_len, const void *data, size_t data_len)
{
    const struct proto_frame_decoder_limits *lim = &c->msgr->opts.limits;

    if (c->state == PROTO_CONN_CLOSED)
        return -ENOTCONN;
    if (c->state == PROTO_CONN_REFUSED || c->state == PROTO_CONN_LINGER)
        return -EACCES;
    if (type < PROTO_MSG_APP_MIN || (meta_len && !meta) || (data_len && !data))
        return -EINVAL;
    /* The peer runs the same limits; a frame over them would cost us the
     * connection, so refuse it here. */
    if (meta_len > lim->meta_max || data_len > lim->data_max)
        return -EMSGSIZE;
    return 0;
}

static int send_app_frame(struct proto_conn *c, uint16_t type, uint8_t flags, uint64_t txid,
                          const void *meta, size_t meta_len, const void *data, size_t data_len)
{
    struct proto_frame_header h = {
        .flags = flags,
        .type = type,
        .txid = txid,
        .meta_len = (uint32_t)meta_len,
        .data_len = (uint32_t)data_len,
    };

    return proto__conn_emit(c, false, &h, meta, data);
}

int proto_conn_request(struct proto_conn *c, uint16_t type, const void *meta, size_t meta_len,
                       const void *data, size_t data_len, uint32_t timeout_ms, proto_reply_cb cb,
                       void *arg)
{
    struct proto_msgr *m = c->msgr;
    int r = check_sendable(c, type, meta, meta_len, data, data_len);

    if (r < 0)
        return r;
    if (!cb)
        return -EINVAL;
    struct proto__req *q = req_get(m);
    if (!q)
        return -ENOMEM;
    q->txid = m->next_txid++;
    q->conn = c;
    q->cb = cb;
    q->arg = arg;
    r = reqtab_insert(&c->reqs, q);
    if (r == 0) {
        r = send_app_frame(c, type, 0, q->txid, meta, meta_len, data, data_len);
        if (r < 0)
            reqtab_remove(&c->reqs, q->txid);
    }
    if (r < 0) {
        req_put(m, q);
        return r;
    }
    TAILQ_INSERT_TAIL(&c->req_list, q, link);
    if (timeout_ms) {
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        evtimer_add(q->timer, &tv);
    }
    return 0;
}

int proto_conn_send(struct proto_conn *c, uint16_t type, const void *meta, size_t meta_len,
                    const void *data, size_t data_len)
{
    int r = check_sendable(c, type, meta, meta_len, data, data_len);

    if (r < 0)
        return r;
    return send_app_frame(c, type, 0, 0, meta, meta_len, data, data_len);
}

int proto_conn_reply(struct proto_conn *c, uint64_t txid, uint16_t type, const void *meta,
                     size_t meta_len, const void *data, size_t data_len)
{
    int r = check_sendable(c, type, meta, meta_len, data, data_len);

    if (r < 0)
        return r;
    if (txid == 0)
        return -EINVAL;
    return send_app_frame(c, type, PROTO_FRAME_F_REPLY, txid, meta, meta_len, data, data_len);
}

/* ---- decoding ---- */

static void conn_dispatch(struct proto_conn *c, struct proto_frame *f)
{
    struct proto_msgr *m = c->msgr;
    char why[64];

    if (c->blackhole) {
        proto_frame_free(f);
        return;
    }
    if (c->state != PROTO_CONN_OPEN) {
        proto__hs_on_frame(c, f);
        return;
    }
    if (f->hdr.type < PROTO_MSG_APP_MIN) {
        snprintf(why, sizeof(why), "message type %u after the handshake", f->hdr.type);
        proto_frame_free(f);
        m->stats.bad_streams++;
        proto__conn_lost(c, -EPROTO, why);
        return;
    }
    if (f->hdr.flags & PROTO_FRAME_F_REPLY) {
        req_complete(c, f);
        return;
    }
    if (!m->handlers.on_message) {
        proto_frame_free(f);
        return;
    }
    m->handlers.on_message(c, f, m->arg);
}

static void conn_on_socket_error(struct proto_conn *c, int err);

static bool state_reads_frames(enum proto_conn_state s)
{
    return s == PROTO_CONN_HELLO || s == PROTO_CONN_AUTH || s == PROTO_CONN_RESULT ||
           s == PROTO_CONN_OPEN;
}

/* Feeds the input evbuffer to the decoder chunk by chunk, without copying
 * it into one block, and dispatches every completed frame. Stops when the
 * socket was dropped or replaced by a callback. */
static void conn_decode_input(struct proto_conn *c, struct bufferevent *bev)
{
    struct evbuffer *in = bufferevent_get_input(bev);

    while (c->bev == bev && state_reads_frames(c->state) && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec v;
        struct proto_frame f;
        bool done = false;

        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) {
            v.iov_len = CAIRN_MIN(evbuffer_get_length(in), (size_t)4096);
            v.iov_base = evbuffer_pullup(in, (ev_ssize_t)v.iov_len);
        }
        ssize_t n = proto_frame_decoder_feed(&c->dec, v.iov_base, v.iov_len, &f, &done);
        if (n < 0) {
            c->msgr->stats.bad_streams++;
            proto__conn_lost(c, (int)n, c->dec.reason);
            return;
        }
        evbuffer_drain(in, (size_t)n);
        if (done)
            conn_dispatch(c, &f);
    }
}

/* Reads what the socket holds, up to PROTO_MSGR_MAX_SINGLE_IO per turn
 * (bounded work), in one recvmsg into the input evbuffer's own space. Not
 * bufferevent's reading: libevent 2.1 reads at most 4 KiB per readiness of
 * the socket (evbuffer_read's EVBUFFER_MAX_READ, whatever max_single_read
 * says), so a 1 MiB frame took 256 turns of the loop, each with an epoll,
 * an ioctl and a read. Returns 0 (data, or none yet), -ECONNRESET at EOF,
 * or -errno. */
static int conn_read_socket(struct bufferevent *bev, struct evbuffer *in)
{
    struct evbuffer_iovec v[2];
    struct msghdr mh = {0};
    ssize_t n;
    int nv;

    /* A socket bufferevent keeps its input's end frozen except while it
     * reads itself; so do we. */
    evbuffer_unfreeze(in, 0);
    nv = evbuffer_reserve_space(in, PROTO_MSGR_MAX_SINGLE_IO, v, 2);
    if (nv <= 0) {
        evbuffer_freeze(in, 0);
        return -ENOMEM;
    }
    CAIRN_STATIC_ASSERT(sizeof(struct evbuffer_iovec) == sizeof(struct iovec),
                        "evbuffer_iovec is laid out as struct iovec");
    mh.msg_iov = (struct iovec *)v;
    mh.msg_iovlen = (size_t)nv;
    n = recvmsg(bufferevent_getfd(bev), &mh, MSG_DONTWAIT);
    int err = n < 0 ? errno : 0;
    size_t got = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < nv; i++) {
        v[i].iov_len = CAIRN_MIN(v[i].iov_len, got);
        got -= v[i].iov_len;
    }
    evbuffer_commit_space(in, v, nv);
    evbuffer_freeze(in, 0);
    if (n == 0)
        return -ECONNRESET;
    if (n < 0)
        return err == EAGAIN || err == EWOULDBLOCK || err == EINTR ? 0 : -err;
    return 0;
}

/* Reads the rest of a large payload section straight into the frame when
 * nothing is buffered ahead of it: saves copying every byte of a 4 MiB write
 * out of the input evbuffer. Returns 1 when it read (or failed: *@r set), 0
 * when the evbuffer path must read. */
static int conn_read_direct(struct proto_conn *c, struct bufferevent *bev, struct evbuffer *in,
                            int *r)
{
    uint8_t *dst = NULL;
    size_t want = proto_frame_decoder_window(&c->dec, &dst);

    if (want < PROTO_MSGR_DIRECT_MIN || c->state != PROTO_CONN_OPEN ||
        evbuffer_get_length(in) > 0)
        return 0;
    ssize_t n = recv(bufferevent_getfd(bev), dst, CAIRN_MIN(want, PROTO_MSGR_MAX_SINGLE_IO),
                     MSG_DONTWAIT);
    if (n > 0) {
        proto_frame_decoder_commit(&c->dec, (size_t)n);
        *r = 0;
    } else if (n == 0) {
        *r = -ECONNRESET;
    } else {
        *r = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
    }
    return 1;
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proto_conn *c = arg;
    struct bufferevent *bev = c->bev;
    struct evbuffer *in;
    int r;

    (void)fd;
    (void)what;
    /* A connect in progress reports through bev's write side (event_cb). */
    if (!bev || c->state == PROTO_CONN_CONNECTING)
        return;
    in = bufferevent_get_input(bev);
    if (!conn_read_direct(c, bev, in, &r))
        r = conn_read_socket(bev, in);
    proto__conn_hold(c);
    if (c->state == PROTO_CONN_LINGER)
        evbuffer_drain(in, evbuffer_get_length(in));
    else
        conn_decode_input(c, bev);
    /* The frames before the socket's end are dispatched first. */
    if (r < 0 && c->bev == bev) {
        if (r == -ECONNRESET)
            proto__conn_lost(c, -ECONNRESET, "closed by the peer");
        else
            conn_on_socket_error(c, -r);
    }
    proto__conn_release(c);
}

/* The output drained (EV_WRITE on: before OPEN, or an OPEN connection's
 * socket was full). */
static void write_cb(struct bufferevent *bev, void *arg)
{
    struct proto_conn *c = arg;

    if (c->state == PROTO_CONN_LINGER)
        proto__conn_linger_flush(c);
    if (c->state == PROTO_CONN_OPEN) {
        /* Back to direct writes; frames queued since the drain (this
         * callback is deferred) go out with the next flush. */
        bufferevent_disable(bev, EV_WRITE);
        conn_mark_dirty(c);
    }
}

static void conn_on_socket_error(struct proto_conn *c, int err)
{
    char why[96];

    if (err <= 0)
        err = EIO;
    snprintf(why, sizeof(why), "%s: %s",
             c->state == PROTO_CONN_CONNECTING ? "connect failed" : "socket error", strerror(err));
    proto__conn_lost(c, -err, why);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct proto_conn *c = arg;
    int err = EVUTIL_SOCKET_ERROR();

    proto__conn_hold(c);
    if ((what & BEV_EVENT_CONNECTED) && c->state == PROTO_CONN_CONNECTING)
        proto__conn_transition(c, PROTO_CONN_HELLO, 0);
    else if (what & BEV_EVENT_EOF)
        proto__conn_lost(c, -ECONNRESET, "closed by the peer");
    else if (what & BEV_EVENT_ERROR)
        conn_on_socket_error(c, err);
    proto__conn_release(c);
}

/* ---- sockets ---- */

int proto__conn_attach_socket(struct proto_conn *c, int fd)
{
    struct proto_msgr *m = c->msgr;
    struct bufferevent *bev =
        bufferevent_socket_new(m->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);

    if (!bev) {
        close(fd);
        return -ENOMEM;
    }
    bufferevent_setcb(bev, NULL, write_cb, event_cb, c);
    /* Bounded work per turn: libevent's default is 16 KiB per write(2);
     * larger writes (and reads, read_cb) keep bulk transfers cheap while one
     * connection still cannot monopolize the loop. */
    bufferevent_set_max_single_write(bev, PROTO_MSGR_MAX_SINGLE_IO);
    /* Watermarks. Write: write_cb only once the output is empty (a LINGER
     * waits for that). Read: none; every read is fed to the decoder at once,
     * so memory per connection is bounded by the frame limits on input and
     * by queue_max_bytes on output. Pausing reads while our output is full
     * was rejected: two peers each waiting for the other to read deadlock. */
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_enable(bev, EV_WRITE);
    /* Reading is ours (read_cb), into bev's input evbuffer. */
    c->read_ev = event_new(m->base, fd, EV_READ | EV_PERSIST, read_cb, c);
    if (!c->read_ev || event_add(c->read_ev, NULL) < 0) {
        if (c->read_ev)
            event_free(c->read_ev);
        c->read_ev = NULL;
        bufferevent_free(bev);
        return -ENOMEM;
    }
    c->bev = bev;
    return 0;
}

void proto__conn_reset_decoder(struct proto_conn *c)
{
    proto_frame_decoder_fini(&c->dec);
    proto_frame_decoder_init(&c->dec, NULL);
    c->dec.limits.meta_max = PROTO_MSGR_HS_META_MAX;
    c->dec.limits.data_max = 0;
}

void proto__conn_drop_socket(struct proto_conn *c)
{
    conn_undirty(c);
    if (c->read_ev) {
        event_free(c->read_ev);
        c->read_ev = NULL;
    }
    if (c->bev) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
    proto__conn_reset_decoder(c);
    c->shut_wr = false;
}

void proto__conn_linger_flush(struct proto_conn *c)
{
    if (c->shut_wr || evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
        return;
    c->shut_wr = true;
    (void)shutdown(bufferevent_getfd(c->bev), SHUT_WR);
}

/* ---- accessors ---- */

const char *proto_conn_peer(const struct proto_conn *c)
{
    return c->peer;
}

const char *proto_conn_addr(const struct proto_conn *c)
{
    return c->addr;
}

bool proto_conn_is_open(const struct proto_conn *c)
{
    return c->state == PROTO_CONN_OPEN;
}

uint32_t proto_conn_features(const struct proto_conn *c)
{
    return c->features;
}

void proto_conn_set_data(struct proto_conn *c, void *data)
{
    c->data = data;
}

void *proto_conn_get_data(const struct proto_conn *c)
{
    return c->data;
}

void proto_conn_set_blackhole(struct proto_conn *c, bool on)
{
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_MSGR, "conn %s (%s): blackhole %s", c->addr,
              proto__conn_who(c), on ? "on" : "off");
    c->blackhole = on;
}

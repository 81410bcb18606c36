/* The transmission phase of a cairn-nbd connection (NBD spec
 * "Transmission"): reads request headers and WRITE payloads, checks them
 * (proto.c), starts the image I/O, and replies as each request completes,
 * in completion order. Runs on libcairn's loop thread, where the image aio
 * callbacks (gw_nbd__io_done) reply directly; BLOCK_STATUS maps the image
 * on the control thread (ctl.c), the request counting as in flight
 * meanwhile.
 *
 * Copies: a WRITE's payload is moved once, from the input buffer into the
 * request's buffer that libcairn sends from; a READ lands in a buffer with
 * room for its reply header in front, which is then handed to the output
 * as one reference, so every reply is one evbuffer add and READ data is
 * never copied on its way out.
 *
 * Backpressure: at most GW_NBD_INFLIGHT_MAX requests and about
 * GW_NBD_INFLIGHT_BYTES_MAX data bytes are held per connection, counting
 * replies not yet written; beyond that the connection stops reading until
 * completions or the socket drain it. */
#include "gateway/nbd/internal.h"

#include "common/assert.h"
#include "common/log.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static uint32_t data_bytes(const struct gw_nbd_request *req)
{
    return req->type == GW_NBD_CMD_READ || req->type == GW_NBD_CMD_WRITE ? req->length : 0;
}

static bool over_limit(const struct gw_nbd_conn *c)
{
    return !c->free_ios || c->inflight_bytes >= GW_NBD_INFLIGHT_BYTES_MAX ||
           evbuffer_get_length(bufferevent_get_output(c->bev)) >= GW_NBD_INFLIGHT_BYTES_MAX;
}

static struct gw_nbd_io *io_get(struct gw_nbd_conn *c, const struct gw_nbd_request *req)
{
    struct gw_nbd_io *io = c->free_ios;

    CAIRN_ASSERT(io != NULL); /* over_limit() was checked */
    c->free_ios = io->next;
    io->next = NULL;
    io->req = *req;
    io->buf = NULL;
    io->got = 0;
    io->result = 0;
    return io;
}

static void io_put(struct gw_nbd_conn *c, struct gw_nbd_io *io)
{
    free(io->buf);
    io->buf = NULL;
    io->next = c->free_ios;
    c->free_ios = io;
}

/* ---- replies ---- */

/* The header of the reply to @req into @hdr: @err is a wire error (0:
 * success, with @len bytes of data following for a READ). With structured
 * replies every reply is structured, a READ's data in one OFFSET_DATA
 * chunk (so NBD_CMD_FLAG_DF always holds). */
static size_t reply_hdr(const struct gw_nbd_conn *c, const struct gw_nbd_request *req,
                        uint32_t err, uint32_t len, uint8_t hdr[GW_NBD_READ_HDR_ROOM])
{
    if (!c->lim.structured)
        return gw_nbd_encode_simple_reply(hdr, err, req->cookie);
    if (err)
        return gw_nbd_encode_error_hdr(hdr, req->cookie, err, 0);
    if (req->type == GW_NBD_CMD_READ && len > 0)
        return gw_nbd_encode_offset_data_hdr(hdr, GW_NBD_REPLY_FLAG_DONE, req->cookie,
                                             req->offset, len);
    return gw_nbd_encode_chunk_hdr(hdr, GW_NBD_REPLY_FLAG_DONE, GW_NBD_REPLY_TYPE_NONE,
                                   req->cookie, 0);
}

/* A reply without data (any error, or a success other than READ and
 * BLOCK_STATUS). */
static void reply(struct gw_nbd_conn *c, const struct gw_nbd_request *req, uint32_t err)
{
    uint8_t hdr[GW_NBD_READ_HDR_ROOM];
    size_t n = reply_hdr(c, req, err, 0, hdr);

    evbuffer_add(bufferevent_get_output(c->bev), hdr, n);
}

static void free_read_buf(const void *data, size_t len, void *buf)
{
    (void)data;
    (void)len;
    free(buf);
}

/* A READ's successful reply: header and data from io->buf, whose
 * ownership moves to the output buffer. */
static void reply_read(struct gw_nbd_conn *c, struct gw_nbd_io *io)
{
    uint8_t hdr[GW_NBD_READ_HDR_ROOM];
    size_t n = reply_hdr(c, &io->req, 0, io->req.length, hdr);
    uint8_t *start = io->buf + GW_NBD_READ_HDR_ROOM - n;

    memcpy(start, hdr, n);
    if (evbuffer_add_reference(bufferevent_get_output(c->bev), start, n + io->req.length,
                               free_read_buf, io->buf) < 0) {
        reply(c, &io->req, gw_nbd_errno_to_wire(-ENOMEM));
        return;
    }
    io->buf = NULL;
}

static void log_failure(struct gw_nbd_conn *c, const struct gw_nbd_request *req, int result)
{
    static struct cairn_log_limit limit = {.per_s = 5};

    if (cairn_log_limit_allow(&limit, CAIRN_SS_GATEWAY, "nbd request failures"))
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_GATEWAY,
                  "nbd %s: command %u at %llu+%u failed: %s", c->peer, req->type,
                  (unsigned long long)req->offset, req->length, strerror(-result));
}

/* ---- BLOCK_STATUS (base:allocation) ---- */

struct extents {
    uint32_t n;
    bool one;  /* NBD_CMD_FLAG_REQ_ONE */
    uint32_t len[GW_NBD_EXTENTS_MAX];
    uint32_t status[GW_NBD_EXTENTS_MAX];
};

static int add_extent(uint64_t off, uint64_t len, bool data, void *arg)
{
    struct extents *e = arg;
    uint32_t status = data ? 0 : GW_NBD_STATE_HOLE | GW_NBD_STATE_ZERO;

    if (e->n > 0 && e->status[e->n - 1] == status) {
        e->len[e->n - 1] += (uint32_t)len; /* the range is at most 256 MiB */
        return 0;
    }
    if (e->n == GW_NBD_EXTENTS_MAX || (e->one && e->n == 1))
        return 1; /* spec: the reply may cover less than asked */
    e->len[e->n] = (uint32_t)len;
    e->status[e->n++] = status;
    return 0;
}

static struct gw_nbd_io *io_of(struct gw_nbd_job *job)
{
    return (struct gw_nbd_io *)((char *)job - offsetof(struct gw_nbd_io, job));
}

/* Control thread: cairn_image_map() is synchronous; the range is bounded. */
static void map_run(struct gw_nbd_job *job)
{
    struct gw_nbd_io *io = io_of(job);
    struct extents *e = (struct extents *)io->buf;
    uint64_t len = CAIRN_MIN((uint64_t)io->req.length, (uint64_t)GW_NBD_STATUS_LEN_MAX);
    int r;

    e->one = io->req.flags & GW_NBD_CMD_FLAG_REQ_ONE;
    r = cairn_image_map(io->conn->img, io->req.offset, len, add_extent, e);
    io->result = r < 0 ? r : e->n == 0 ? -EIO : 0;
}

static void map_done(struct gw_nbd_job *job)
{
    gw_nbd__io_done(io_of(job)->result, io_of(job));
}

/* A BLOCK_STATUS's successful reply, in one evbuffer add. */
static void reply_extents(struct gw_nbd_conn *c, const struct gw_nbd_io *io)
{
    const struct extents *e = (const struct extents *)io->buf;
    uint8_t buf[GW_NBD_CHUNK_BLOCK_STATUS_HDR_LEN + GW_NBD_EXTENTS_MAX * GW_NBD_EXTENT_LEN];
    size_t n = gw_nbd_encode_block_status_hdr(buf, GW_NBD_REPLY_FLAG_DONE, io->req.cookie,
                                              GW_NBD_META_CONTEXT_ID, e->n);

    for (uint32_t i = 0; i < e->n; i++)
        n += gw_nbd_encode_extent(buf + n, e->len[i], e->status[i]);
    evbuffer_add(bufferevent_get_output(c->bev), buf, n);
}

/* ---- starting requests ---- */

/* Accounts a started request (@r from the submit call) or answers its
 * failure. */
static void submitted(struct gw_nbd_conn *c, struct gw_nbd_io *io, int r)
{
    if (r < 0) {
        log_failure(c, &io->req, r);
        reply(c, &io->req, gw_nbd_errno_to_wire(r));
        io_put(c, io);
        return;
    }
    c->n_inflight++;
    c->inflight_bytes += data_bytes(&io->req);
}

static void submit(struct gw_nbd_conn *c, struct gw_nbd_io *io)
{
    const struct gw_nbd_request *req = &io->req;
    int r;

    switch (req->type) {
    case GW_NBD_CMD_READ:
        r = cairn_image_aio_read(c->img, req->offset, req->length,
                                 io->buf + GW_NBD_READ_HDR_ROOM, gw_nbd__io_done, io);
        break;
    case GW_NBD_CMD_WRITE:
        r = cairn_image_aio_write(c->img, req->offset, req->length, io->buf, gw_nbd__io_done,
                                  io);
        break;
    case GW_NBD_CMD_FLUSH:
        r = cairn_image_aio_flush(c->img, gw_nbd__io_done, io);
        break;
    case GW_NBD_CMD_TRIM:
        r = cairn_image_aio_discard(c->img, req->offset, req->length, gw_nbd__io_done, io);
        break;
    case GW_NBD_CMD_BLOCK_STATUS:
        io->job = (struct gw_nbd_job){.run = map_run, .done = map_done};
        gw_nbd__ctl_post(c->srv, &io->job);
        r = 0;
        break;
    default:
        CAIRN_ASSERT(req->type == GW_NBD_CMD_WRITE_ZEROES);
        r = cairn_image_aio_write_zeroes(c->img, req->offset, req->length,
                                         !(req->flags & GW_NBD_CMD_FLAG_NO_HOLE),
                                         gw_nbd__io_done, io);
    }
    submitted(c, io, r);
}

/* The buffer @req needs while in flight, or 0. */
static size_t buf_size(const struct gw_nbd_request *req)
{
    switch (req->type) {
    case GW_NBD_CMD_READ:
        return GW_NBD_READ_HDR_ROOM + (size_t)req->length;
    case GW_NBD_CMD_WRITE:
        return req->length;
    case GW_NBD_CMD_BLOCK_STATUS:
        return sizeof(struct extents);
    default:
        return 0;
    }
}

/* Starts a request that passed validation; 1, or -1 when @c closed. */
static int start(struct gw_nbd_conn *c, const struct gw_nbd_request *req)
{
    size_t size = buf_size(req);
    struct gw_nbd_io *io;

    /* Zero-length requests are answered without I/O (spec: SHOULD succeed). */
    if (req->length == 0 && req->type != GW_NBD_CMD_FLUSH &&
        req->type != GW_NBD_CMD_BLOCK_STATUS) {
        reply(c, req, 0);
        return 1;
    }
    io = io_get(c, req);
    if (size)
        io->buf = req->type == GW_NBD_CMD_BLOCK_STATUS ? calloc(1, size) : malloc(size);
    if (size && !io->buf) {
        submitted(c, io, -ENOMEM);
        if (req->type == GW_NBD_CMD_WRITE) {
            c->skip_left = req->length;
            gw_nbd__conn_set_state(c, GW_NBD_CONN_DROP);
        }
        return 1;
    }
    if (req->type == GW_NBD_CMD_WRITE) {
        c->cur = io;
        c->inflight_bytes += req->length; /* held while the payload arrives */
        gw_nbd__conn_set_state(c, GW_NBD_CONN_PAYLOAD);
        return 1;
    }
    submit(c, io);
    return 1;
}

/* ---- input ---- */

static int step_request(struct gw_nbd_conn *c, struct evbuffer *in)
{
    uint8_t buf[GW_NBD_REQUEST_LEN];
    struct gw_nbd_request req;
    uint32_t err;

    if (over_limit(c)) {
        bufferevent_disable(c->bev, EV_READ);
        c->read_paused = true;
        return 0;
    }
    if (!gw_nbd__take(in, buf, sizeof(buf)))
        return 0;
    if (gw_nbd_parse_request(buf, &req) < 0) {
        gw_nbd__conn_close(c, "bad request magic");
        return -1;
    }
    switch (gw_nbd_validate_request(&req, &c->lim, &err)) {
    case GW_NBD_CLOSE:
        gw_nbd__conn_close(c, "request too large");
        return -1;
    case GW_NBD_ERROR:
        reply(c, &req, err);
        if (req.type == GW_NBD_CMD_WRITE && req.length > 0) {
            c->skip_left = req.length;
            gw_nbd__conn_set_state(c, GW_NBD_CONN_DROP);
        }
        return 1;
    case GW_NBD_OK:
        break;
    }
    if (req.type == GW_NBD_CMD_DISC) {
        /* Spec: the server finishes outstanding requests, then closes. */
        gw_nbd__conn_drain(c);
        return -1;
    }
    return start(c, &req);
}

static int step_payload(struct gw_nbd_conn *c, struct evbuffer *in)
{
    struct gw_nbd_io *io = c->cur;
    size_t n = CAIRN_MIN(evbuffer_get_length(in), (size_t)(io->req.length - io->got));

    if (n == 0)
        return 0;
    evbuffer_remove(in, io->buf + io->got, n);
    io->got += (uint32_t)n;
    if (io->got < io->req.length)
        return 0;
    c->cur = NULL;
    c->inflight_bytes -= io->req.length; /* submitted() counts it again */
    gw_nbd__conn_set_state(c, GW_NBD_CONN_REQ);
    submit(c, io);
    return 1;
}

static int step_drop(struct gw_nbd_conn *c, struct evbuffer *in)
{
    if (!gw_nbd__skip(c, in))
        return 0;
    gw_nbd__conn_set_state(c, GW_NBD_CONN_REQ);
    return 1;
}

int gw_nbd__xmit_step(struct gw_nbd_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    switch (c->state) {
    case GW_NBD_CONN_REQ:
        return step_request(c, in);
    case GW_NBD_CONN_PAYLOAD:
        return step_payload(c, in);
    case GW_NBD_CONN_DROP:
        return step_drop(c, in);
    default:
        return 0;
    }
}

void gw_nbd__xmit_resume(struct gw_nbd_conn *c)
{
    if (!c->read_paused || c->state == GW_NBD_CONN_CLOSED || c->state == GW_NBD_CONN_DRAIN ||
        c->state == GW_NBD_CONN_LINGER || c->state == GW_NBD_CONN_OPT_WAIT || over_limit(c))
        return;
    c->read_paused = false;
    bufferevent_enable(c->bev, EV_READ);
    /* Input already buffered raises no read event: process it now. */
    gw_nbd__conn_process(c);
}

/* ---- completion ---- */

static void reply_io(struct gw_nbd_conn *c, struct gw_nbd_io *io)
{
    if (io->result < 0) {
        log_failure(c, &io->req, io->result);
        reply(c, &io->req, gw_nbd_errno_to_wire(io->result));
    } else if (io->req.type == GW_NBD_CMD_READ) {
        reply_read(c, io);
    } else if (io->req.type == GW_NBD_CMD_BLOCK_STATUS) {
        reply_extents(c, io);
    } else {
        reply(c, &io->req, 0);
    }
}

void gw_nbd__io_done(int result, void *arg)
{
    struct gw_nbd_io *io = arg;
    struct gw_nbd_conn *c = io->conn;

    CAIRN_ASSERT(c->n_inflight > 0);
    io->result = result;
    c->n_inflight--;
    c->inflight_bytes -= data_bytes(&io->req);
    if (c->state == GW_NBD_CONN_CLOSED) {
        io_put(c, io);
        gw_nbd__conn_close(c, "last request done"); /* frees @c once nothing is in flight */
        return;
    }
    reply_io(c, io);
    io_put(c, io);
    if (c->state == GW_NBD_CONN_DRAIN)
        gw_nbd__conn_maybe_finish(c);
    else
        gw_nbd__xmit_resume(c);
}

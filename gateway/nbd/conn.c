/* A cairn-nbd connection: its lifetime, the fixed newstyle handshake and
 * the option phase (NBD spec "Option haggling"). The transmission phase is
 * in xmit.c. Runs on libcairn's loop thread; the wire format is proto.c's.
 * The options that need a synchronous libcairn call (opening or listing
 * images) park the connection in OPT_WAIT while the control thread (ctl.c)
 * makes it; the option's payload stays in the input buffer meanwhile, and
 * the option is answered when the result comes back.
 *
 *   accept: send greeting (FIXED_NEWSTYLE | NO_ZEROES)
 *     FLAGS --client flags ok--> OPT <----------------------------+
 *                                 | header, length ok             |
 *                                 +--> OPT_DATA --option replied--+
 *                                 | oversize (not EXPORT_NAME)    |
 *                                 +--> OPT_SKIP --ERR_TOO_BIG-----+
 *     OPT_DATA --EXPORT_NAME, INFO, GO, LIST--> OPT_WAIT (reading off; the
 *       control thread opens or lists) --result: replied--> OPT | REQ
 *     OPT_DATA --STARTTLS acked--> STARTTLS --ACK flushed: TLS bufferevent--> OPT
 *       (tls.c; the TLS handshake runs inside the new bufferevent, whose
 *       first decrypted bytes are the next option header)
 *     OPT_WAIT --EXPORT_NAME / GO ok--> REQ <--> PAYLOAD | DROP   (xmit.c)
 *     OPT_DATA --ABORT--> DRAIN;  REQ --DISC or SIGTERM--> DRAIN
 *     DRAIN --nothing in flight, output flushed: shutdown(SHUT_WR)--> LINGER
 *     LINGER --client EOF, or GW_NBD_LINGER_S--> CLOSED
 *       (closing with unread input would send a RST that can destroy the
 *       replies still in flight to the client)
 *     any --EOF, socket or TLS error, protocol violation--> CLOSED
 *     CLOSED --last in-flight request or job done--> the image closed on
 *       the control thread --> freed
 *
 * TLS policy (NBD spec "TLS support"): with --tls require, every option
 * before TLS other than STARTTLS and ABORT gets ERR_TLS_REQD, and
 * EXPORT_NAME (which has no error reply) closes; with --tls off STARTTLS is
 * ERR_UNSUP; a second STARTTLS is ERR_INVALID.
 *
 * Invariants (conn_check()):
 *   1. c->bev is NULL exactly in CLOSED.
 *   2. c->img is set in REQ, PAYLOAD and DROP (and maybe DRAIN, LINGER,
 *      CLOSED), and never in the option phase.
 *   3. c->cur is set exactly in PAYLOAD.
 *   4. n_inflight ios are owned by libcairn; the others are on free_ios or
 *      are c->cur.
 *   5. c->tls only when the server has a TLS context; in STARTTLS reading
 *      is off and c->tls is false.
 *   6. c->job_busy in OPT_WAIT (reading off); the control thread then owns
 *      c->job and c->job_*, the loop thread the rest.
 *   7. A connection is freed only when CLOSED with nothing in flight, no job
 *      busy and no image open. */
#include "gateway/nbd/internal.h"

#include "common/assert.h"
#include "common/log.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#define S(x) (1u << GW_NBD_CONN_##x)
static const uint32_t allowed_next[] = {
    [GW_NBD_CONN_FLAGS] = S(OPT) | S(CLOSED),
    [GW_NBD_CONN_OPT] = S(OPT_DATA) | S(OPT_SKIP) | S(CLOSED),
    [GW_NBD_CONN_OPT_DATA] = S(OPT) | S(OPT_WAIT) | S(STARTTLS) | S(DRAIN) | S(CLOSED),
    [GW_NBD_CONN_OPT_SKIP] = S(OPT) | S(CLOSED),
    [GW_NBD_CONN_OPT_WAIT] = S(OPT) | S(REQ) | S(CLOSED),
    [GW_NBD_CONN_STARTTLS] = S(OPT) | S(CLOSED),
    [GW_NBD_CONN_REQ] = S(PAYLOAD) | S(DROP) | S(DRAIN) | S(CLOSED),
    [GW_NBD_CONN_PAYLOAD] = S(REQ) | S(DRAIN) | S(CLOSED),
    [GW_NBD_CONN_DROP] = S(REQ) | S(DRAIN) | S(CLOSED),
    [GW_NBD_CONN_DRAIN] = S(LINGER) | S(CLOSED),
    [GW_NBD_CONN_LINGER] = S(CLOSED),
    [GW_NBD_CONN_CLOSED] = 0,
};

static void conn_check(const struct gw_nbd_conn *c)
{
    CAIRN_ASSERT((c->bev == NULL) == (c->state == GW_NBD_CONN_CLOSED));
    CAIRN_ASSERT((c->cur != NULL) == (c->state == GW_NBD_CONN_PAYLOAD));
    if (c->state == GW_NBD_CONN_REQ || c->state == GW_NBD_CONN_PAYLOAD ||
        c->state == GW_NBD_CONN_DROP)
        CAIRN_ASSERT(c->img != NULL);
    CAIRN_ASSERT(c->n_inflight <= GW_NBD_INFLIGHT_MAX);
    if (c->tls)
        CAIRN_ASSERT(c->srv->ssl_ctx != NULL);
    if (c->state == GW_NBD_CONN_STARTTLS)
        CAIRN_ASSERT(!c->tls);
    if (c->state == GW_NBD_CONN_OPT_WAIT)
        CAIRN_ASSERT(c->job_busy);
    if (c->state < GW_NBD_CONN_REQ) /* the option phase */
        CAIRN_ASSERT(c->img == NULL);
}

void gw_nbd__conn_set_state(struct gw_nbd_conn *c, enum gw_nbd_conn_state next)
{
    CAIRN_ASSERT(allowed_next[c->state] & (1u << next));
    c->state = next;
}

/* ---- lifetime ---- */

static struct gw_nbd_conn *conn_of(struct gw_nbd_job *job)
{
    return (struct gw_nbd_conn *)((char *)job - offsetof(struct gw_nbd_conn, job));
}

/* Hands c->job to the control thread (inv. 6). */
static void job_post(struct gw_nbd_conn *c, void (*run)(struct gw_nbd_job *),
                     void (*done)(struct gw_nbd_job *))
{
    CAIRN_ASSERT(!c->job_busy);
    c->job = (struct gw_nbd_job){.run = run, .done = done};
    c->job_busy = true;
    gw_nbd__ctl_post(c->srv, &c->job);
}

static void conn_release(struct gw_nbd_conn *c);

/* Control thread: cairn_image_close() waits for the handle's I/O. */
static void close_run(struct gw_nbd_job *job)
{
    struct gw_nbd_conn *c = conn_of(job);

    cairn_image_close(c->img);
    c->img = NULL;
}

static void close_done(struct gw_nbd_job *job)
{
    struct gw_nbd_conn *c = conn_of(job);

    c->job_busy = false;
    conn_release(c);
}

/* Frees a CLOSED connection once nothing refers to it (inv. 7), closing
 * its image first. */
static void conn_release(struct gw_nbd_conn *c)
{
    CAIRN_ASSERT(c->state == GW_NBD_CONN_CLOSED);
    if (c->n_inflight > 0 || c->job_busy)
        return;
    if (c->img) {
        job_post(c, close_run, close_done);
        return;
    }
    gw_nbd__server_conn_gone(c->srv, c);
    free(c);
}

/* Forgets a WRITE whose payload was still arriving: it was never acked. */
static void drop_cur(struct gw_nbd_conn *c)
{
    if (!c->cur)
        return;
    c->inflight_bytes -= c->cur->req.length;
    free(c->cur->buf);
    c->cur->buf = NULL;
    c->cur->next = c->free_ios;
    c->free_ios = c->cur;
    c->cur = NULL;
}

void gw_nbd__conn_close(struct gw_nbd_conn *c, const char *why)
{
    if (c->state != GW_NBD_CONN_CLOSED) {
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_GATEWAY, "nbd %s: closed: %s", c->peer, why);
        bufferevent_free(c->bev);
        c->bev = NULL;
        drop_cur(c);
        gw_nbd__conn_set_state(c, GW_NBD_CONN_CLOSED);
    }
    conn_release(c);
}

bool gw_nbd__conn_maybe_finish(struct gw_nbd_conn *c)
{
    struct timeval linger = {.tv_sec = GW_NBD_LINGER_S};

    if (c->state != GW_NBD_CONN_DRAIN || c->n_inflight > 0 ||
        evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
        return false;
    if (c->tls)
        gw_nbd__tls_close_notify(c);
    if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) < 0) {
        gw_nbd__conn_close(c, "done");
        return true;
    }
    gw_nbd__conn_set_state(c, GW_NBD_CONN_LINGER);
    bufferevent_set_timeouts(c->bev, &linger, NULL);
    bufferevent_enable(c->bev, EV_READ);
    return true;
}

void gw_nbd__conn_drain(struct gw_nbd_conn *c)
{
    drop_cur(c);
    gw_nbd__conn_set_state(c, GW_NBD_CONN_DRAIN);
    bufferevent_disable(c->bev, EV_READ);
    gw_nbd__conn_maybe_finish(c);
}

void gw_nbd__conn_shutdown(struct gw_nbd_conn *c)
{
    switch (c->state) {
    case GW_NBD_CONN_REQ:
    case GW_NBD_CONN_PAYLOAD:
    case GW_NBD_CONN_DROP:
        gw_nbd__conn_drain(c);
        break;
    case GW_NBD_CONN_DRAIN:
    case GW_NBD_CONN_LINGER:
    case GW_NBD_CONN_CLOSED:
        break;
    default:
        gw_nbd__conn_close(c, "server shutting down");
    }
}

/* ---- option replies ---- */

static void send_rep(struct gw_nbd_conn *c, uint32_t type, const void *a, size_t a_len,
                     const void *b, size_t b_len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    uint8_t hdr[GW_NBD_REP_HDR_LEN];

    gw_nbd_encode_rep_hdr(hdr, c->opt.opt, type, (uint32_t)(a_len + b_len));
    evbuffer_add(out, hdr, sizeof(hdr));
    if (a_len)
        evbuffer_add(out, a, a_len);
    if (b_len)
        evbuffer_add(out, b, b_len);
}

/* An error reply with a message for people (spec: error replies MAY carry
 * a string). */
static void send_err(struct gw_nbd_conn *c, uint32_t type, const char *msg)
{
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "nbd %s: option %u refused: %s", c->peer,
              c->opt.opt, msg);
    send_rep(c, type, msg, strlen(msg), NULL, 0);
}

static void send_ack(struct gw_nbd_conn *c)
{
    send_rep(c, GW_NBD_REP_ACK, NULL, 0, NULL, 0);
}

static uint16_t export_flags(const struct gw_nbd_conn *c)
{
    return GW_NBD_FLAG_HAS_FLAGS | GW_NBD_FLAG_SEND_FLUSH | GW_NBD_FLAG_SEND_FUA |
           GW_NBD_FLAG_SEND_TRIM | GW_NBD_FLAG_SEND_WRITE_ZEROES | GW_NBD_FLAG_CAN_MULTI_CONN |
           (c->structured ? GW_NBD_FLAG_SEND_DF : 0);
}

/* ---- exports: opened and listed on the control thread ---- */

/* Control thread: opens c->job_name (pool lookup included); for
 * NBD_OPT_INFO only its size is kept. */
static void open_run(struct gw_nbd_job *job)
{
    struct gw_nbd_conn *c = conn_of(job);
    int32_t pool;
    int r;

    c->job_img = NULL;
    if ((r = gw_nbd__server_pool(c->srv, &pool)) == 0)
        r = cairn_image_open(c->srv->cairn, pool, c->job_name, &c->job_img);
    if (r == 0) {
        c->job_size = cairn_image_size(c->job_img);
        if (c->opt.opt == GW_NBD_OPT_INFO) {
            cairn_image_close(c->job_img);
            c->job_img = NULL;
        }
    } else if (r != -ENOENT && r != -EINVAL) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_GATEWAY, "nbd %s: open %s/%s: %s", c->peer,
                  c->srv->pool_name, c->job_name, strerror(-r));
    }
    c->job_result = r == -EINVAL ? -ENOENT : r;
}

static int list_one(const char *name, void *arg)
{
    struct evbuffer *out = arg;
    uint32_t len = (uint32_t)strlen(name);
    uint8_t hdr[GW_NBD_REP_HDR_LEN + 4];

    gw_nbd_encode_rep_hdr(hdr, GW_NBD_OPT_LIST, GW_NBD_REP_SERVER, 4 + len);
    gw_nbd_encode_rep_server_hdr(hdr + GW_NBD_REP_HDR_LEN, len);
    if (evbuffer_add(out, hdr, sizeof(hdr)) < 0 || evbuffer_add(out, name, len) < 0)
        return -ENOMEM;
    return 0;
}

/* Control thread: encodes a NBD_REP_SERVER per image into c->job_out. */
static void list_run(struct gw_nbd_job *job)
{
    struct gw_nbd_conn *c = conn_of(job);
    int32_t pool;
    int r = gw_nbd__server_pool(c->srv, &pool);

    if (r == 0)
        r = cairn_image_list(c->srv->cairn, pool, list_one, c->job_out);
    c->job_result = r;
}

static void option_resume(struct gw_nbd_conn *c);

static void option_done(struct gw_nbd_job *job)
{
    struct gw_nbd_conn *c = conn_of(job);

    c->job_busy = false;
    if (c->state != GW_NBD_CONN_CLOSED) {
        option_resume(c);
        return;
    }
    /* Closed meanwhile (client gone, SIGTERM): the image still needs
     * closing, on the control thread again. */
    c->img = c->job_img;
    c->job_img = NULL;
    if (c->job_out)
        evbuffer_free(c->job_out);
    c->job_out = NULL;
    conn_release(c);
}

/* Parks @c until the control thread has run @run for c->opt (inv. 6). */
static int option_park(struct gw_nbd_conn *c, void (*run)(struct gw_nbd_job *))
{
    gw_nbd__conn_set_state(c, GW_NBD_CONN_OPT_WAIT);
    bufferevent_disable(c->bev, EV_READ);
    job_post(c, run, option_done);
    return 1;
}

/* Parks @c to open export @name; 1, or 0 with *@err set when the name can
 * name no image. */
static int open_export(struct gw_nbd_conn *c, const char *name, uint32_t len, int *err)
{
    if (len == 0 || len > CAIRN_IMAGE_NAME_MAX || memchr(name, '\0', len)) {
        *err = -ENOENT;
        return 0;
    }
    memcpy(c->job_name, name, len);
    c->job_name[len] = '\0';
    return option_park(c, open_run);
}

/* Enters transmission on c->job_img (taken over). */
static void start_transmission(struct gw_nbd_conn *c, const char *name, uint32_t name_len)
{
    c->img = c->job_img;
    c->job_img = NULL;
    c->lim.size = c->job_size;
    c->lim.payload_max = GW_NBD_PAYLOAD_MAX;
    c->lim.structured = c->structured;
    /* Spec, NBD_OPT_SET_META_CONTEXT: contexts apply to the export they were
     * set for. */
    c->lim.meta_alloc = c->meta_alloc && strlen(c->meta_export) == name_len &&
                        memcmp(c->meta_export, name, name_len) == 0;
    gw_nbd__conn_set_state(c, GW_NBD_CONN_REQ);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_GATEWAY, "nbd %s: export %.*s, %llu bytes%s", c->peer,
              (int)name_len, name, (unsigned long long)c->lim.size,
              c->structured ? ", structured replies" : "");
}

/* Spec: NBD_OPT_EXPORT_NAME has no error reply; the server MUST close. */
static int export_name_unknown(struct gw_nbd_conn *c)
{
    gw_nbd__conn_close(c, "NBD_OPT_EXPORT_NAME of an unknown export");
    return -1;
}

static int opt_export_name(struct gw_nbd_conn *c, const uint8_t *data, uint32_t len)
{
    int err;

    return open_export(c, (const char *)data, len, &err) > 0 ? 1 : export_name_unknown(c);
}

static int export_name_done(struct gw_nbd_conn *c, const uint8_t *data, uint32_t len)
{
    uint8_t rep[GW_NBD_EXPORT_NAME_REPLY_LEN];
    size_t n;

    if (c->job_result < 0)
        return export_name_unknown(c);
    n = gw_nbd_encode_export_name_reply(rep, c->job_size, export_flags(c),
                                        c->client_flags & GW_NBD_FLAG_C_NO_ZEROES);
    evbuffer_add(bufferevent_get_output(c->bev), rep, n);
    start_transmission(c, (const char *)data, len);
    return 0;
}

static void send_infos(struct gw_nbd_conn *c, const struct gw_nbd_info_req *req, uint64_t size)
{
    uint8_t buf[GW_NBD_INFO_BLOCK_SIZE_LEN];
    char desc[300];
    size_t n;

    n = gw_nbd_encode_info_export(buf, size, export_flags(c));
    send_rep(c, GW_NBD_REP_INFO, buf, n, NULL, 0);
    /* Always sent: qemu and libnbd use it to size requests. */
    n = gw_nbd_encode_info_block_size(buf, GW_NBD_BLOCK_MIN, GW_NBD_BLOCK_PREFERRED,
                                      GW_NBD_PAYLOAD_MAX);
    send_rep(c, GW_NBD_REP_INFO, buf, n, NULL, 0);
    for (uint16_t i = 0; i < req->n_info; i++) {
        if (req->info[i] == GW_NBD_INFO_NAME) {
            n = gw_nbd_encode_info_string_hdr(buf, GW_NBD_INFO_NAME);
            send_rep(c, GW_NBD_REP_INFO, buf, n, req->name, req->name_len);
        } else if (req->info[i] == GW_NBD_INFO_DESCRIPTION) {
            n = gw_nbd_encode_info_string_hdr(buf, GW_NBD_INFO_DESCRIPTION);
            snprintf(desc, sizeof(desc), "cairn image %s/%.*s", c->srv->pool_name,
                     (int)req->name_len, req->name);
            send_rep(c, GW_NBD_REP_INFO, buf, n, desc, strlen(desc));
        }
    }
}

static void send_open_err(struct gw_nbd_conn *c, int err)
{
    send_err(c, err == -ENOENT ? GW_NBD_REP_ERR_UNKNOWN : GW_NBD_REP_ERR_PLATFORM,
             err == -ENOENT ? "no such image (and no default export)" : strerror(-err));
}

static int opt_info_go(struct gw_nbd_conn *c, const uint8_t *data, uint32_t len)
{
    struct gw_nbd_info_req req;
    int err;

    if (gw_nbd_parse_info_req(data, len, &req) < 0) {
        send_err(c, GW_NBD_REP_ERR_INVALID, "malformed NBD_OPT_INFO/GO");
        return 0;
    }
    if (c->srv->stopping) {
        send_err(c, GW_NBD_REP_ERR_SHUTDOWN, "server shutting down");
        return 0;
    }
    if (open_export(c, req.name, req.name_len, &err) > 0)
        return 1;
    send_open_err(c, err);
    return 0;
}

static int info_go_done(struct gw_nbd_conn *c, const uint8_t *data, uint32_t len)
{
    struct gw_nbd_info_req req;
    int r = gw_nbd_parse_info_req(data, len, &req);

    CAIRN_ASSERT(r == 0); /* it parsed before the connection parked */
    if (c->job_result < 0) {
        send_open_err(c, c->job_result);
        return 0;
    }
    send_infos(c, &req, c->job_size);
    send_ack(c);
    if (c->opt.opt == GW_NBD_OPT_GO)
        start_transmission(c, req.name, req.name_len);
    return 0;
}

static int opt_list(struct gw_nbd_conn *c, uint32_t len)
{
    if (len != 0) {
        send_err(c, GW_NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
        return 0;
    }
    if (!(c->job_out = evbuffer_new())) {
        send_err(c, GW_NBD_REP_ERR_PLATFORM, strerror(ENOMEM));
        return 0;
    }
    return option_park(c, list_run);
}

static int list_done(struct gw_nbd_conn *c)
{
    int r = c->job_result;

    evbuffer_add_buffer(bufferevent_get_output(c->bev), c->job_out);
    evbuffer_free(c->job_out);
    c->job_out = NULL;
    /* Replies already sent stand; an error ends the list. */
    if (r < 0 && r != -ENOENT)
        send_err(c, GW_NBD_REP_ERR_PLATFORM, strerror(-r));
    else
        send_ack(c);
    return 0;
}

static void send_meta_context(struct gw_nbd_conn *c)
{
    static const char name[] = GW_NBD_META_BASE_ALLOCATION;
    uint8_t hdr[4];

    gw_nbd_encode_rep_meta_hdr(hdr, GW_NBD_META_CONTEXT_ID);
    send_rep(c, GW_NBD_REP_META_CONTEXT, hdr, sizeof(hdr), name, sizeof(name) - 1);
}

static int opt_meta(struct gw_nbd_conn *c, const uint8_t *data, uint32_t len, bool list)
{
    struct gw_nbd_meta_req req;
    uint32_t pos = 0, q_len;
    const char *q;
    bool found = false;

    /* Spec: SET_META_CONTEXT before structured replies is NBD_REP_ERR_INVALID. */
    if (!list && !c->structured) {
        send_err(c, GW_NBD_REP_ERR_INVALID, "structured replies not negotiated");
        return 0;
    }
    if (gw_nbd_parse_meta_req(data, len, &req) < 0) {
        send_err(c, GW_NBD_REP_ERR_INVALID, "malformed meta context request");
        return 0;
    }
    for (uint32_t i = 0; i < req.n_queries; i++) {
        gw_nbd_meta_query_next(&req, &pos, &q, &q_len);
        found |= gw_nbd_meta_query_matches(q, q_len, list);
    }
    /* Spec: LIST with no queries lists every context the server has. */
    if (list && req.n_queries == 0)
        found = true;
    if (!list) {
        c->meta_alloc = found && req.name_len <= CAIRN_IMAGE_NAME_MAX;
        memcpy(c->meta_export, req.name, c->meta_alloc ? req.name_len : 0);
        c->meta_export[c->meta_alloc ? req.name_len : 0] = '\0';
    }
    if (found)
        send_meta_context(c);
    send_ack(c);
    return 0;
}

static int opt_starttls(struct gw_nbd_conn *c, uint32_t len)
{
    if (c->srv->tls == GW_NBD_TLS_OFF) {
        send_err(c, GW_NBD_REP_ERR_UNSUP, "TLS is not enabled on this server");
        return 0;
    }
    if (len != 0) {
        send_err(c, GW_NBD_REP_ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
        return 0;
    }
    /* Spec: STARTTLS once TLS is on is NBD_REP_ERR_INVALID. */
    if (c->tls) {
        send_err(c, GW_NBD_REP_ERR_INVALID, "TLS is already on");
        return 0;
    }
    send_ack(c);
    /* Nothing more is read in plain text; write_cb switches once the ACK
     * is out. */
    gw_nbd__conn_set_state(c, GW_NBD_CONN_STARTTLS);
    bufferevent_disable(c->bev, EV_READ);
    return 0;
}

/* FORCEDTLS (spec "TLS support"): what a client may do before TLS. 0 to
 * handle the option, 1 refused (replied), -1 closed. */
static int tls_policy(struct gw_nbd_conn *c)
{
    if (c->tls || c->srv->tls != GW_NBD_TLS_REQUIRE || c->opt.opt == GW_NBD_OPT_STARTTLS ||
        c->opt.opt == GW_NBD_OPT_ABORT)
        return 0;
    /* Spec: NBD_OPT_EXPORT_NAME has no error reply; the server MUST close. */
    if (c->opt.opt == GW_NBD_OPT_EXPORT_NAME) {
        gw_nbd__conn_close(c, "NBD_OPT_EXPORT_NAME without TLS, which is required");
        return -1;
    }
    send_err(c, GW_NBD_REP_ERR_TLS_REQD, "TLS is required: send NBD_OPT_STARTTLS first");
    return 1;
}

/* Handles the option in c->opt with its payload; 0 to go on, 1 parked in
 * OPT_WAIT (the payload stays buffered), -1 closed. */
static int handle_option(struct gw_nbd_conn *c, const uint8_t *data, uint32_t len)
{
    int r;

    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "nbd %s: option %u, %u bytes", c->peer,
              c->opt.opt, len);
    if ((r = tls_policy(c)) != 0)
        return r < 0 ? -1 : 0;
    switch (c->opt.opt) {
    case GW_NBD_OPT_EXPORT_NAME:
        return opt_export_name(c, data, len);
    case GW_NBD_OPT_ABORT:
        /* Spec: the server SHOULD reply with NBD_REP_ACK, then close. */
        send_ack(c);
        gw_nbd__conn_set_state(c, GW_NBD_CONN_DRAIN);
        bufferevent_disable(c->bev, EV_READ);
        gw_nbd__conn_maybe_finish(c);
        return -1;
    case GW_NBD_OPT_LIST:
        return opt_list(c, len);
    case GW_NBD_OPT_INFO:
    case GW_NBD_OPT_GO:
        return opt_info_go(c, data, len);
    case GW_NBD_OPT_STRUCTURED_REPLY:
        if (len != 0) {
            send_err(c, GW_NBD_REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
            return 0;
        }
        c->structured = true;
        send_ack(c);
        return 0;
    case GW_NBD_OPT_LIST_META_CONTEXT:
    case GW_NBD_OPT_SET_META_CONTEXT:
        return opt_meta(c, data, len, c->opt.opt == GW_NBD_OPT_LIST_META_CONTEXT);
    case GW_NBD_OPT_STARTTLS:
        return opt_starttls(c, len);
    default:
        send_err(c, GW_NBD_REP_ERR_UNSUP, "option not supported");
        return 0;
    }
}

/* ---- input, by state: 1 progressed, 0 needs more input, -1 closed ---- */

bool gw_nbd__take(struct evbuffer *in, void *buf, size_t len)
{
    if (evbuffer_get_length(in) < len)
        return false;
    evbuffer_remove(in, buf, len);
    return true;
}

bool gw_nbd__skip(struct gw_nbd_conn *c, struct evbuffer *in)
{
    size_t n = CAIRN_MIN(evbuffer_get_length(in), (size_t)c->skip_left);

    evbuffer_drain(in, n);
    c->skip_left -= (uint32_t)n;
    return c->skip_left == 0;
}

static int step_flags(struct gw_nbd_conn *c, struct evbuffer *in)
{
    uint8_t buf[GW_NBD_CLIENT_FLAGS_LEN];

    if (!gw_nbd__take(in, buf, sizeof(buf)))
        return 0;
    if (gw_nbd_parse_client_flags(buf, &c->client_flags) < 0) {
        gw_nbd__conn_close(c, "bad client flags");
        return -1;
    }
    gw_nbd__conn_set_state(c, GW_NBD_CONN_OPT);
    return 1;
}

static int step_opt_hdr(struct gw_nbd_conn *c, struct evbuffer *in)
{
    uint8_t buf[GW_NBD_OPT_HDR_LEN];

    /* A client that sends options without reading the replies. */
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) >= GW_NBD_INFLIGHT_BYTES_MAX) {
        bufferevent_disable(c->bev, EV_READ);
        c->read_paused = true;
        return 0;
    }
    if (!gw_nbd__take(in, buf, sizeof(buf)))
        return 0;
    if (gw_nbd_parse_opt_hdr(buf, &c->opt) < 0) {
        gw_nbd__conn_close(c, "bad option magic");
        return -1;
    }
    switch (gw_nbd_opt_len_verdict(&c->opt)) {
    case GW_NBD_OPT_READ:
        gw_nbd__conn_set_state(c, GW_NBD_CONN_OPT_DATA);
        return 1;
    case GW_NBD_OPT_DISCARD:
        c->skip_left = c->opt.len;
        gw_nbd__conn_set_state(c, GW_NBD_CONN_OPT_SKIP);
        return 1;
    default:
        gw_nbd__conn_close(c, "option too large");
        return -1;
    }
}

static int step_opt_data(struct gw_nbd_conn *c, struct evbuffer *in)
{
    uint32_t len = c->opt.len;
    const uint8_t *data;
    int r;

    if (evbuffer_get_length(in) < len)
        return 0;
    /* Bounded by GW_NBD_OPT_DATA_MAX (gw_nbd_opt_len_verdict). */
    data = len ? evbuffer_pullup(in, len) : (const uint8_t *)"";
    if (!data) {
        gw_nbd__conn_close(c, "out of memory");
        return -1;
    }
    r = handle_option(c, data, len);
    if (r != 0)
        return r < 0 ? -1 : 0;
    evbuffer_drain(in, len);
    if (c->state == GW_NBD_CONN_OPT_DATA)
        gw_nbd__conn_set_state(c, GW_NBD_CONN_OPT);
    return 1;
}

/* A parked option's result is back: answers the option with its payload,
 * still at the head of the input, then reads on. */
static void option_resume(struct gw_nbd_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    uint32_t len = c->opt.len;
    const uint8_t *data = len ? evbuffer_pullup(in, len) : (const uint8_t *)"";
    int r;

    CAIRN_ASSERT(c->state == GW_NBD_CONN_OPT_WAIT && data != NULL); /* pulled up before */
    if (c->opt.opt == GW_NBD_OPT_EXPORT_NAME)
        r = export_name_done(c, data, len);
    else if (c->opt.opt == GW_NBD_OPT_LIST)
        r = list_done(c);
    else
        r = info_go_done(c, data, len);
    if (r < 0)
        return;
    CAIRN_ASSERT(c->job_img == NULL); /* transmission took it, or INFO closed it */
    evbuffer_drain(in, len);
    if (c->state == GW_NBD_CONN_OPT_WAIT)
        gw_nbd__conn_set_state(c, GW_NBD_CONN_OPT);
    bufferevent_enable(c->bev, EV_READ);
    gw_nbd__conn_process(c);
}

static int step_opt_skip(struct gw_nbd_conn *c, struct evbuffer *in)
{
    if (!gw_nbd__skip(c, in))
        return 0;
    gw_nbd__conn_set_state(c, GW_NBD_CONN_OPT);
    /* Spec, NBD_REP_ERR_TOO_BIG: the request is too large to process. */
    send_err(c, GW_NBD_REP_ERR_TOO_BIG, "option data too large");
    return 1;
}

static int step(struct gw_nbd_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    switch (c->state) {
    case GW_NBD_CONN_FLAGS:
        return step_flags(c, in);
    case GW_NBD_CONN_OPT:
        return step_opt_hdr(c, in);
    case GW_NBD_CONN_OPT_DATA:
        return step_opt_data(c, in);
    case GW_NBD_CONN_OPT_SKIP:
        return step_opt_skip(c, in);
    case GW_NBD_CONN_REQ:
    case GW_NBD_CONN_PAYLOAD:
    case GW_NBD_CONN_DROP:
        return gw_nbd__xmit_step(c);
    case GW_NBD_CONN_LINGER:
        evbuffer_drain(in, evbuffer_get_length(in));
        return 0;
    default:
        return 0;
    }
}

void gw_nbd__conn_process(struct gw_nbd_conn *c)
{
    int r;

    do {
        conn_check(c);
        r = step(c);
    } while (r > 0);
}

/* ---- socket callbacks ---- */

static void read_cb(struct bufferevent *bev, void *arg)
{
    gw_nbd__conn_process(arg);
}

static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

/* STARTTLS: the ACK is on the wire; hand the socket to TLS. */
static void start_tls(struct gw_nbd_conn *c)
{
    int r;

    /* Spec: after the ACK the client starts the TLS handshake; anything
     * it sent before reading the ACK would be lost to TLS. */
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
        gw_nbd__conn_close(c, "data after NBD_OPT_STARTTLS before its reply");
        return;
    }
    if ((r = gw_nbd__tls_start(c)) < 0) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_GATEWAY, "nbd %s: cannot start TLS: %s", c->peer,
                  strerror(-r));
        gw_nbd__conn_close(c, "cannot start TLS");
        return;
    }
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    gw_nbd__conn_set_state(c, GW_NBD_CONN_OPT);
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "nbd %s: TLS handshake", c->peer);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct gw_nbd_conn *c = arg;

    if (c->state == GW_NBD_CONN_STARTTLS)
        start_tls(c);
    else if (!gw_nbd__conn_maybe_finish(c))
        gw_nbd__xmit_resume(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct gw_nbd_conn *c = arg;
    char buf[256];
    const char *why;

    if (what & BEV_EVENT_CONNECTED) {
        /* An OpenSSL bufferevent finished its handshake. */
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_GATEWAY, "nbd %s: TLS established", c->peer);
        return;
    }
    if (c->state == GW_NBD_CONN_LINGER) {
        gw_nbd__conn_close(c, "done");
    } else if (what & BEV_EVENT_EOF) {
        gw_nbd__conn_close(c, "client closed the connection");
    } else if (what & BEV_EVENT_ERROR) {
        why = gw_nbd__tls_error(c, buf, sizeof(buf));
        gw_nbd__conn_close(c, why ? why : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
}

int gw_nbd__conn_create(struct gw_nbd_server *srv, int fd, const char *peer)
{
    struct gw_nbd_conn *c = calloc(1, sizeof(*c));
    uint8_t greeting[GW_NBD_GREETING_LEN];

    if (!c)
        return -ENOMEM;
    c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        free(c);
        return -ENOMEM;
    }
    c->srv = srv;
    c->state = GW_NBD_CONN_FLAGS;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    for (unsigned i = 0; i < GW_NBD_INFLIGHT_MAX; i++) {
        c->ios[i].conn = c;
        c->ios[i].next = c->free_ios;
        c->free_ios = &c->ios[i];
    }
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_conns++;
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    gw_nbd_encode_greeting(greeting);
    bufferevent_write(c->bev, greeting, sizeof(greeting));
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "nbd %s: connected", peer);
    return 0;
}

/* The connections of the S3 gateway's HTTP/1.1 server (http.h): request
 * parsing with http-parser, body streaming with backpressure, keep-alive,
 * pipelining, timeouts, error responses and closing. The listener and the
 * response API are in http.c. Runs on the server's event_base thread; no locks.
 *
 * A connection (struct gw_http_conn) holds at most one request (c->req,
 * embedded; "freed" means reused for the next request):
 *
 *   HEAD --head parsed and valid: on_request--> REQ
 *   HEAD --malformed, too large, head timeout: error response--> DRAIN
 *   HEAD --idle timeout, or EOF with nothing buffered--> CLOSED
 *   REQ --resp_end, body complete, keep-alive--> HEAD (next pipelined request)
 *   REQ --resp_end, small body left--> DISCARD --body read--> HEAD
 *   REQ --resp_end, closing (asked, HTTP/1.0, large body or unanswered
 *     100-continue left, short body)--> DRAIN
 *   REQ --EOF mid-body, body timeout, malformed body, socket error: on_abort--> CLOSED
 *   DISCARD --over DISCARD_MAX, malformed, timeout--> DRAIN
 *   DRAIN --output flushed: shutdown(SHUT_WR)--> LINGER --EOF or LINGER_S--> CLOSED
 *     (closing with unread input would send a RST that can destroy the
 *     response still in flight to the client)
 *   any --socket error, write stall--> CLOSED
 *
 * Invariants (conn_check()):
 *   1. c->bev is NULL exactly in CLOSED; a CLOSED connection is freed by the
 *      libevent callback that saw it close (run_and_reap), never deeper.
 *   2. The application owns c->req exactly in REQ while !req.ended.
 *   3. conn_run() is never re-entered: the application's calls only set
 *      flags and activate c->kick, so resp_end from inside on_request,
 *      on_body or on_body_end takes effect at the next safe point.
 *   4. The parser only runs in HEAD, in REQ while the body is read and not
 *      paused, and in DISCARD; it pauses itself after each head and each
 *      message, so the next pipelined request stays unparsed in the input.
 *   5. Bufferevent callbacks are deferred (BEV_OPT_DEFER_CALLBACKS), so no
 *      libevent call made on the application's behalf calls back into us. */
#include "gateway/s3/http_internal.h"

#include "common/assert.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int on_url(http_parser *p, const char *at, size_t len);
static int on_header_field(http_parser *p, const char *at, size_t len);
static int on_header_value(http_parser *p, const char *at, size_t len);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t len);
static int on_message_complete(http_parser *p);

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void conn_run(struct gw_http_conn *c);

static void conn_check(const struct gw_http_conn *c)
{
    CAIRN_DEBUG_ASSERT((c->bev == NULL) == (c->state == C_CLOSED));
    CAIRN_DEBUG_ASSERT(c->req.c == c);
    if (c->state == C_HEAD)
        CAIRN_DEBUG_ASSERT(!c->req.started && !c->req.ended);
    if (c->state == C_REQ && !c->req.ended)
        CAIRN_DEBUG_ASSERT(c->head_complete && !c->err_status);
    CAIRN_DEBUG_ASSERT(c->arena_len <= sizeof(c->arena));
}

static size_t out_len(const struct gw_http_conn *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

static size_t in_len(const struct gw_http_conn *c)
{
    return evbuffer_get_length(bufferevent_get_input(c->bev));
}

void gw_http__conn_kick(struct gw_http_conn *c)
{
    event_active(c->kick, 0, 0);
}

/* ---- closing ---- */

/* Drops the socket now. Fires on_abort when the application owns the
 * request (inv. 2); the caller's top-level callback frees c (inv. 1). */
void gw_http__conn_close(struct gw_http_conn *c, const char *why)
{
    bool owned = c->state == C_REQ && !c->req.ended;

    if (c->state == C_CLOSED)
        return;
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "s3 http %s: closed: %s", c->peer, why);
    bufferevent_free(c->bev);
    c->bev = NULL;
    evtimer_del(c->timer);
    event_del(c->kick);
    c->timer_kind = T_NONE;
    c->state = C_CLOSED;
    if (owned) {
        c->req.aborted = true;
        if (c->srv->h.on_abort)
            c->srv->h.on_abort(&c->req, c->srv->h.arg);
    }
}

void gw_http__conn_free(struct gw_http_conn *c)
{
    struct gw_http_server *srv = c->srv;

    CAIRN_ASSERT(c->state == C_CLOSED);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    event_free(c->timer);
    event_free(c->kick);
    free(c);
}

static void run_and_reap(struct gw_http_conn *c)
{
    conn_run(c);
    if (c->state == C_CLOSED)
        gw_http__conn_free(c);
}

static void enter_drain(struct gw_http_conn *c)
{
    c->state = C_DRAIN;
    c->will_close = true;
}

/* An error response for a request the application never saw, then close. */
static void send_error(struct gw_http_conn *c, int status, const char *code, const char *msg)
{
    const struct gw_http_handler *h = &c->srv->h;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct evbuffer *body = evbuffer_new();
    const char *ctype = "text/plain";

    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "s3 http %s: %d %s: %s", c->peer, status, code,
              msg);
    if (body) {
        if (h->format_error)
            h->format_error(status, code, msg, body, &ctype, h->arg);
        else
            evbuffer_add_printf(body, "%s\n", msg);
        evbuffer_add_printf(out,
                            "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: Cairn\r\n"
                            "Content-Type: %s\r\nContent-Length: %zu\r\n"
                            "Connection: close\r\n\r\n",
                            status, gw_http_reason(status), gw_http__date(c->srv), ctype,
                            evbuffer_get_length(body));
        evbuffer_add_buffer(out, body);
        evbuffer_free(body);
    }
    enter_drain(c);
}

/* ---- head parsing (http-parser callbacks) ---- */

static int fail(struct gw_http_conn *c, int status, const char *code, const char *msg)
{
    if (!c->err_status) {
        c->err_status = status;
        c->err_code = code;
        c->err_msg = msg;
    }
    return -1;
}

static int append(struct gw_http_conn *c, const char *data, size_t len)
{
    /* Room is kept for a NUL and for the path copy of build_head(). */
    if (c->arena_len + len + GW_HTTP_URL_MAX + 2 > sizeof(c->arena))
        return fail(c, 431, "RequestHeaderSectionTooLarge", "request header section too large");
    memcpy(c->arena + c->arena_len, data, len);
    c->arena_len += len;
    return 0;
}

static int append_nul(struct gw_http_conn *c)
{
    CAIRN_ASSERT(c->arena_len < sizeof(c->arena));
    c->arena[c->arena_len++] = '\0';
    return 0;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Terminates the URL, name or value being collected. */
static int end_item(struct gw_http_conn *c)
{
    struct gw_http_header *hd = &c->hdrs[c->nhdrs - (c->nhdrs > 0)];
    char *end;

    switch (c->last) {
    case L_NONE:
        return 0;
    case L_URL:
        return append_nul(c);
    case L_FIELD: /* a name without a value */
        append_nul(c);
        hd->value = "";
        return 0;
    case L_VALUE:
        end = c->arena + c->arena_len;
        append_nul(c);
        while (is_blank(*c->value_start))
            c->value_start++;
        while (end > c->value_start && is_blank(end[-1]))
            *--end = '\0';
        hd->value = c->value_start;
        return 0;
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct gw_http_conn *c = p->data;

    if (len > GW_HTTP_URL_MAX - c->url_len)
        return fail(c, 414, "RequestURITooLong", "request target too long");
    c->url_len += len;
    c->last = L_URL;
    return append(c, at, len);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct gw_http_conn *c = p->data;

    if (c->head_complete)
        return 0; /* a chunked body's trailer section: not passed on */
    if (c->last != L_FIELD) {
        end_item(c);
        if (c->nhdrs == GW_HTTP_HEADERS_MAX)
            return fail(c, 431, "RequestHeaderSectionTooLarge", "too many request headers");
        c->hdrs[c->nhdrs].name = c->arena + c->arena_len;
        c->hdrs[c->nhdrs].value = "";
        c->nhdrs++;
        c->last = L_FIELD;
    }
    return append(c, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct gw_http_conn *c = p->data;

    if (c->head_complete)
        return 0;
    if (c->last != L_VALUE) {
        if (c->last != L_FIELD)
            return fail(c, 400, "MalformedRequest", "header value without a name");
        append_nul(c);
        c->value_start = c->arena + c->arena_len;
        c->last = L_VALUE;
    }
    return append(c, at, len);
}

/* Framing rules http-parser may leave to us (RFC 7230 §3.3.1-3.3.3). */
static int check_head(struct gw_http_conn *c)
{
    const http_parser *p = &c->parser;
    unsigned n_cl = 0, n_te = 0;
    bool te_other = false;

    if (p->http_major != 1 || p->http_minor > 1)
        return fail(c, 505, "HTTPVersionNotSupported", "HTTP version not supported");
    for (size_t i = 0; i < c->nhdrs; i++) {
        if (strcasecmp(c->hdrs[i].name, "Content-Length") == 0) {
            n_cl++;
        } else if (strcasecmp(c->hdrs[i].name, "Transfer-Encoding") == 0) {
            n_te++;
            te_other |= strcasecmp(c->hdrs[i].value, "chunked") != 0;
        }
    }
    if (n_te > 1 || te_other)
        return fail(c, 501, "NotImplemented", "unsupported Transfer-Encoding");
    if (n_cl > 1 || (n_cl > 0 && n_te > 0))
        return fail(c, 400, "MalformedRequest", "conflicting Content-Length/Transfer-Encoding");
    if (n_te > 0 && !(p->flags & F_CHUNKED))
        return fail(c, 501, "NotImplemented", "unsupported Transfer-Encoding");
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct gw_http_conn *c = p->data;

    end_item(c);
    c->head_complete = true;
    check_head(c);
    http_parser_pause(p, 1);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct gw_http_conn *c = p->data;
    struct gw_http_req *r = &c->req;
    const struct gw_http_handler *h = &c->srv->h;

    if (c->state == C_DISCARD) {
        c->discarded += len;
        if (c->discarded > DISCARD_MAX)
            http_parser_pause(p, 1);
        return 0;
    }
    CAIRN_ASSERT(c->state == C_REQ && r->body == B_READING && !r->paused);
    r->body_received += len;
    if (h->on_body && h->on_body(r, at, len, h->arg) != 0)
        r->paused = true;
    if (r->paused || r->ended)
        http_parser_pause(p, 1);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct gw_http_conn *c = p->data;

    c->msg_complete = true;
    http_parser_pause(p, 1);
    return 0;
}

/* Feeds buffered input to the parser until it pauses, fails or runs dry.
 * While the head is incomplete at most GW_HTTP_HEAD_MAX bytes are fed.
 * Returns 0, or -1 on a parse error. */
static int feed(struct gw_http_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer_iovec v;
    size_t n, used;

    if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
        http_parser_pause(&c->parser, 0);
    while (HTTP_PARSER_ERRNO(&c->parser) == HPE_OK && !c->err_status) {
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
            break;
        n = v.iov_len;
        if (!c->head_complete) {
            if (c->head_bytes >= GW_HTTP_HEAD_MAX)
                return fail(c, 431, "RequestHeaderSectionTooLarge",
                            "request header section too large");
            n = CAIRN_MIN(n, GW_HTTP_HEAD_MAX - c->head_bytes);
        }
        used = http_parser_execute(&c->parser, &settings, v.iov_base, n);
        evbuffer_drain(in, used);
        if (!c->head_complete)
            c->head_bytes += used;
        /* Only an Upgrade stops the parser short without an error. */
        if (used < n && HTTP_PARSER_ERRNO(&c->parser) == HPE_OK)
            return fail(c, 400, "MalformedRequest", "protocol upgrade not supported");
    }
    if (c->err_status)
        return -1;
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK && HTTP_PARSER_ERRNO(&c->parser) != HPE_PAUSED)
        return -1;
    return 0;
}

/* ---- request lifecycle ---- */

static void next_request(struct gw_http_conn *c)
{
    c->state = C_HEAD;
    c->head_complete = false;
    c->msg_complete = false;
    c->head_bytes = 0;
    c->discarded = 0;
    c->err_status = 0;
    c->last = L_NONE;
    c->url_len = 0;
    c->nhdrs = 0;
    c->arena_len = 0;
    memset(&c->req, 0, sizeof(c->req));
    c->req.c = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
}

static void build_head(struct gw_http_conn *c, struct gw_http_head *hd)
{
    const http_parser *p = &c->parser;
    const char *target = c->arena;
    const char *q = memchr(target, '?', c->url_len);
    size_t path_len = q ? (size_t)(q - target) : c->url_len;
    const char *expect;

    hd->method = http_method_str((enum http_method)p->method);
    hd->target = target;
    hd->path = c->arena + c->arena_len;
    memcpy(c->arena + c->arena_len, target, path_len);
    c->arena_len += path_len;
    append_nul(c);
    hd->query = q ? q + 1 : "";
    hd->headers = c->hdrs;
    hd->header_count = c->nhdrs;
    hd->has_content_length = (p->flags & F_CONTENTLENGTH) != 0;
    hd->content_length = hd->has_content_length ? p->content_length : 0;
    hd->chunked = (p->flags & F_CHUNKED) != 0;
    expect = gw_http_header(hd, "Expect");
    /* RFC 7231 §5.1.1: a 1.0 request's 100-continue is ignored. */
    hd->expect_continue = expect && strcasecmp(expect, "100-continue") == 0 && p->http_minor == 1;
    hd->keep_alive = http_should_keep_alive(p) != 0;
    hd->peer = c->peer;
}

static void start_request(struct gw_http_conn *c)
{
    struct gw_http_req *r = &c->req;

    build_head(c, &r->head);
    r->is_head = c->parser.method == HTTP_HEAD;
    c->state = C_REQ;
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "s3 http %s: %s %s", c->peer, r->head.method,
              r->head.path);
    c->srv->h.on_request(r, &r->head, c->srv->h.arg);
}

/* Whether the response to the current request must be the last one. */
bool gw_http__must_close(const struct gw_http_conn *c)
{
    const struct gw_http_req *r = &c->req;

    if (c->will_close || c->peer_eof || !r->head.keep_alive)
        return true;
    if (c->msg_complete)
        return false;
    /* RFC 7231 §5.1.1: without "100 Continue" the client may or may not
     * send the body, so the next bytes cannot be framed. */
    if (r->head.expect_continue && !r->continue_sent)
        return true;
    return !r->head.chunked && r->head.content_length - r->body_received > DISCARD_MAX;
}

static void finish_request(struct gw_http_conn *c)
{
    struct gw_http_req *r = &c->req;

    if (r->close_asked || gw_http__must_close(c))
        enter_drain(c);
    else if (!c->msg_complete)
        c->state = C_DISCARD;
    else
        next_request(c);
}

static void head_error(struct gw_http_conn *c)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

    if (c->err_status)
        send_error(c, c->err_status, c->err_code, c->err_msg);
    else if (e == HPE_HEADER_OVERFLOW)
        send_error(c, 431, "RequestHeaderSectionTooLarge", http_errno_description(e));
    else if (e == HPE_INVALID_TRANSFER_ENCODING)
        send_error(c, 501, "NotImplemented", http_errno_description(e));
    else
        send_error(c, 400, "MalformedRequest", http_errno_description(e));
}

/* ---- the transition function: each step returns whether it progressed ---- */

static bool step_head(struct gw_http_conn *c)
{
    size_t before = in_len(c);

    if (out_len(c) > OUT_MAX)
        return false;
    if (before == 0) {
        if (c->peer_eof)
            gw_http__conn_close(c, "peer closed");
        return false;
    }
    if (feed(c) < 0) {
        head_error(c);
        return true;
    }
    if (c->head_complete) {
        start_request(c);
        return true;
    }
    return in_len(c) < before;
}

static bool step_body(struct gw_http_conn *c)
{
    struct gw_http_req *r = &c->req;
    const struct gw_http_handler *h = &c->srv->h;

    if (c->msg_complete) {
        r->body = B_DONE;
        if (h->on_body_end)
            h->on_body_end(r, h->arg);
        return true;
    }
    if (in_len(c) == 0) {
        if (c->peer_eof)
            gw_http__conn_close(c, "peer closed during the body");
        return false;
    }
    if (feed(c) < 0) {
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "s3 http %s: bad body: %s", c->peer,
                  http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
        gw_http__conn_close(c, "malformed body");
        return false;
    }
    return true;
}

static bool step_req(struct gw_http_conn *c)
{
    struct gw_http_req *r = &c->req;
    void (*cb)(struct gw_http_req *, void *);

    if (r->ended) {
        finish_request(c);
        return true;
    }
    if (r->drain_cb && out_len(c) <= r->drain_low) {
        cb = r->drain_cb;
        r->drain_cb = NULL;
        cb(r, r->drain_arg);
        /* Go on from the loop: a callback that re-arms itself at once must
         * not spin here. */
        gw_http__conn_kick(c);
        return false;
    }
    if (r->body == B_READING && !r->paused)
        return step_body(c);
    return false;
}

static bool step_discard(struct gw_http_conn *c)
{
    if (c->msg_complete) {
        next_request(c);
        return true;
    }
    if (c->discarded > DISCARD_MAX) {
        enter_drain(c);
        return true;
    }
    if (in_len(c) == 0) {
        if (c->peer_eof)
            gw_http__conn_close(c, "peer closed during the body");
        return false;
    }
    if (feed(c) < 0)
        enter_drain(c);
    return true;
}

static bool step_drain(struct gw_http_conn *c)
{
    if (out_len(c) > 0)
        return false;
    if (c->tls || c->peer_eof || shutdown(bufferevent_getfd(c->bev), SHUT_WR) < 0) {
        if (c->tls)
            SSL_shutdown(bufferevent_openssl_get_ssl(c->bev));
        gw_http__conn_close(c, "done");
        return false;
    }
    c->state = C_LINGER;
    return true;
}

static bool step_linger(struct gw_http_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    evbuffer_drain(in, evbuffer_get_length(in));
    if (c->peer_eof)
        gw_http__conn_close(c, "done");
    return false;
}

static bool step(struct gw_http_conn *c)
{
    switch (c->state) {
    case C_HEAD:
        return step_head(c);
    case C_REQ:
        return step_req(c);
    case C_DISCARD:
        return step_discard(c);
    case C_DRAIN:
        return step_drain(c);
    case C_LINGER:
        return step_linger(c);
    case C_CLOSED:
        break;
    }
    return false;
}

static enum timer_kind want_timer(const struct gw_http_conn *c)
{
    const struct gw_http_req *r = &c->req;

    switch (c->state) {
    case C_HEAD:
        if (out_len(c) > OUT_MAX)
            return T_NONE; /* the write timeout covers a client not reading */
        return c->head_bytes > 0 || in_len(c) > 0 ? T_HEAD : T_IDLE;
    case C_REQ:
        if (!r->ended && r->body == B_READING && !r->paused && !c->msg_complete)
            return T_BODY;
        return T_NONE;
    case C_DISCARD:
        return T_BODY;
    case C_LINGER:
        return T_LINGER;
    default:
        return T_NONE;
    }
}

static void set_timer(struct gw_http_conn *c, enum timer_kind kind)
{
    const struct gw_http_config *cfg = &c->srv->cfg;
    struct timeval tv = {0, 0};

    if (kind == c->timer_kind)
        return;
    c->timer_kind = kind;
    switch (kind) {
    case T_NONE:
        evtimer_del(c->timer);
        return;
    case T_IDLE:
        tv.tv_sec = cfg->idle_timeout_s;
        break;
    case T_HEAD:
        tv.tv_sec = cfg->head_timeout_s;
        break;
    case T_BODY:
        tv.tv_sec = cfg->body_timeout_s;
        break;
    case T_LINGER:
        tv.tv_sec = LINGER_S;
        break;
    }
    evtimer_add(c->timer, &tv);
}

/* Applies the state's wishes to the bufferevent: reading, timer, watermark. */
static void update_io(struct gw_http_conn *c)
{
    const struct gw_http_req *r = &c->req;
    bool want_read;
    size_t low = 0;

    want_read = !c->peer_eof && c->state != C_DRAIN && !(c->state == C_REQ && r->paused);
    if (want_read != c->reading) {
        if (want_read)
            bufferevent_enable(c->bev, EV_READ);
        else
            bufferevent_disable(c->bev, EV_READ);
        c->reading = want_read;
    }
    set_timer(c, want_timer(c));
    if (c->state == C_HEAD)
        low = OUT_MAX;
    else if (c->state == C_REQ && r->drain_cb)
        low = r->drain_low;
    if (low != c->wm_low) {
        bufferevent_setwatermark(c->bev, EV_WRITE, low, 0);
        c->wm_low = low;
    }
}

static void conn_run(struct gw_http_conn *c)
{
    while (c->state != C_CLOSED && step(c))
        conn_check(c);
    if (c->state != C_CLOSED)
        update_io(c);
}

/* ---- libevent callbacks (top level: the only places a conn is freed) ---- */

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct gw_http_conn *c = arg;

    if (c->timer_kind == T_BODY) { /* progress restarts the body timeout */
        c->timer_kind = T_NONE;
        set_timer(c, T_BODY);
    }
    run_and_reap(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    run_and_reap(arg);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct gw_http_conn *c = arg;

    if (what & BEV_EVENT_CONNECTED)
        return;
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
        c->peer_eof = true;
        c->reading = false; /* libevent stopped reading */
    } else {
        gw_http__conn_close(c, what & BEV_EVENT_TIMEOUT ? "write timeout" : "socket error");
    }
    run_and_reap(c);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    run_and_reap(arg);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct gw_http_conn *c = arg;
    enum timer_kind kind = c->timer_kind;

    c->timer_kind = T_NONE;
    switch (kind) {
    case T_IDLE:
        gw_http__conn_close(c, "idle");
        break;
    case T_HEAD:
        send_error(c, 408, "RequestTimeout", "request head not received in time");
        break;
    case T_BODY:
        if (c->state == C_REQ)
            gw_http__conn_close(c, "body timeout");
        else
            enter_drain(c);
        break;
    case T_LINGER:
        gw_http__conn_close(c, "done");
        break;
    case T_NONE:
        break;
    }
    run_and_reap(c);
}

/* ---- connections ---- */

static void format_peer(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

    snprintf(buf, len, "unknown");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    if (ss.ss_family == AF_INET && inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)))
        snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
    else if (ss.ss_family == AF_INET6 && inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)))
        snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
    else if (ss.ss_family == AF_UNIX)
        snprintf(buf, len, "unix");
}

static struct bufferevent *new_bev(struct gw_http_server *srv, int fd)
{
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    struct bufferevent *bev;
    SSL *ssl;

    if (!srv->cfg.tls)
        return bufferevent_socket_new(srv->base, fd, opts);
    ssl = SSL_new(srv->cfg.tls);
    if (!ssl)
        return NULL;
    bev = bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, opts);
    if (!bev) {
        SSL_free(ssl);
        return NULL;
    }
    /* A client closing without close_notify is an EOF, not an error. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* Takes @fd (closed on failure). */
int gw_http__conn_create(struct gw_http_server *srv, int fd)
{
    struct timeval wtv = {.tv_sec = srv->cfg.body_timeout_s};
    struct gw_http_conn *c = calloc(1, sizeof(*c));
    int one = 1;

    if (!c)
        goto out_close;
    c->srv = srv;
    c->tls = srv->cfg.tls != NULL;
    format_peer(fd, c->peer, sizeof(c->peer));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on AF_UNIX */
    c->timer = evtimer_new(srv->base, timer_cb, c);
    c->kick = event_new(srv->base, -1, 0, kick_cb, c);
    if (!c->timer || !c->kick)
        goto out_free;
    c->bev = new_bev(srv, fd);
    if (!c->bev)
        goto out_free;
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, IN_MAX);
    /* libevent reads and writes 16 KiB per call by default: an upload or
     * download of 1 MiB would take 64 trips through the loop and the
     * parser. */
    bufferevent_set_max_single_read(c->bev, 256u << 10);
    bufferevent_set_max_single_write(c->bev, 1u << 20);
    bufferevent_set_timeouts(c->bev, NULL, &wtv); /* a client that stops reading */
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->reading = true;
    next_request(c);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "s3 http %s: connected", c->peer);
    conn_run(c);
    return 0;

out_free:
    if (c->timer)
        event_free(c->timer);
    if (c->kick)
        event_free(c->kick);
    free(c);
out_close:
    close(fd);
    return -ENOMEM;
}

/* The S3 gateway's HTTP/1.1 server (http.h): the listener, adopting
 * sockets, the request and response API the application calls (response
 * framing: Content-Length, chunked or close-delimited) and small helpers.
 * The connection state machine is in http_conn.c. Runs on the thread of
 * the server's event_base; no locks. */
#include "gateway/s3/http_internal.h"

#include "common/assert.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *gw_http__date(struct gw_http_server *srv)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;

    if (now != srv->date_s && gmtime_r(&now, &tm)) {
        snprintf(srv->date, sizeof(srv->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        srv->date_s = now;
    }
    return srv->date;
}

/* ---- accepting ---- */

static void refuse(struct gw_http_server *srv, int fd)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";

    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "s3 http: %u connections, refusing one",
              srv->nconns);
    if (!srv->cfg.tls) /* best effort: else the client sees the close alone */
        (void)send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    close(fd);
}

static void accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct gw_http_server *srv = arg;

    if (srv->nconns >= srv->cfg.max_conns)
        refuse(srv, fd);
    else
        gw_http__conn_create(srv, fd);
}

/* ---- server ---- */

/* "HOST:PORT" or "[V6]:PORT" with a numeric host ("" or "*" for any). */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    char host[INET6_ADDRSTRLEN + 1];
    const char *port, *end;
    size_t hlen;
    char *stop;
    unsigned long pnum;
    bool v6 = s[0] == '[';

    end = v6 ? strchr(s, ']') : strrchr(s, ':');
    if (!end || (v6 && end[1] != ':'))
        return -EINVAL;
    port = end + 1 + v6;
    hlen = (size_t)(end - s) - v6;
    if (hlen >= sizeof(host) || !*port)
        return -EINVAL;
    memcpy(host, s + v6, hlen);
    host[hlen] = '\0';
    errno = 0;
    pnum = strtoul(port, &stop, 10);
    if (*stop || pnum > 65535 || errno)
        return -EINVAL;
    memset(ss, 0, sizeof(*ss));
    if (v6) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)pnum);
        *len = sizeof(*sin6);
        return inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 ? 0 : -EINVAL;
    }
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)pnum);
    *len = sizeof(*sin);
    if (!host[0] || strcmp(host, "*") == 0)
        return 0;
    return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -EINVAL;
}

static int listen_on(const char *addr, int *fd_out, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1, fd, ret;

    ret = parse_listen(addr, &ss, &len);
    if (ret < 0)
        return ret;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 511) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        goto out_close;
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;

out_close:
    ret = -errno;
    close(fd);
    return ret;
}

int gw_http_server_create(struct event_base *base, const struct gw_http_config *config,
                          const struct gw_http_handler *handler, struct gw_http_server **out)
{
    struct gw_http_server *srv;
    int fd = -1, ret;

    if (!config->listen || !handler->on_request)
        return -EINVAL;
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->base = base;
    srv->h = *handler;
    srv->cfg = *config;
    srv->cfg.max_conns = config->max_conns ? config->max_conns : 1024;
    srv->cfg.idle_timeout_s = config->idle_timeout_s ? config->idle_timeout_s : 60;
    srv->cfg.head_timeout_s = config->head_timeout_s ? config->head_timeout_s : 30;
    srv->cfg.body_timeout_s = config->body_timeout_s ? config->body_timeout_s : 60;
    srv->cfg.listen = NULL; /* borrowed; only needed here */
    ret = listen_on(config->listen, &fd, &srv->port);
    if (ret < 0)
        goto out_free;
    /* backlog 0: listen() was already called */
    srv->lis = evconnlistener_new(base, accept_cb, srv, LEV_OPT_CLOSE_ON_FREE, 0, fd);
    if (!srv->lis) {
        close(fd);
        ret = -ENOMEM;
        goto out_free;
    }
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_GATEWAY, "s3 http: listening on %s (port %u)",
              config->listen, srv->port);
    *out = srv;
    return 0;

out_free:
    free(srv);
    return ret;
}

uint16_t gw_http_server_port(const struct gw_http_server *srv)
{
    return srv->port;
}

void gw_http_server_destroy(struct gw_http_server *srv)
{
    if (!srv)
        return;
    evconnlistener_free(srv->lis);
    while (srv->conns) {
        struct gw_http_conn *c = srv->conns;

        gw_http__conn_close(c, "server shutting down");
        gw_http__conn_free(c);
    }
    free(srv);
}

int gw_http_server_adopt(struct gw_http_server *srv, int fd)
{
    if (evutil_make_socket_nonblocking(fd) < 0) {
        close(fd);
        return -EINVAL;
    }
    if (srv->nconns >= srv->cfg.max_conns) {
        close(fd);
        return -EBUSY;
    }
    return gw_http__conn_create(srv, fd);
}

/* ---- requests ---- */

/* Calls on a request after gw_http_resp_end or on_abort are bugs. */
static struct gw_http_conn *owned(const struct gw_http_req *req)
{
    CAIRN_ASSERT(!req->aborted && !req->ended);
    CAIRN_ASSERT(req->c->state == C_REQ);
    return req->c;
}

void gw_http_req_set_data(struct gw_http_req *req, void *data)
{
    req->data = data;
}

void *gw_http_req_data(const struct gw_http_req *req)
{
    return req->data;
}

void gw_http_req_read_body(struct gw_http_req *req)
{
    struct gw_http_conn *c = owned(req);
    const struct gw_http_head *hd = &req->head;

    CAIRN_ASSERT(req->body == B_UNREAD);
    req->body = B_READING;
    /* Also for an empty body: a client that sent Expect waits for the 100
     * before anything else, and botocore takes a final status arriving
     * instead as the status of every later response on the connection
     * (answering PUTs with 200 before the server has). */
    if (hd->expect_continue && !req->started && !req->continue_sent) {
        evbuffer_add_printf(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n");
        req->continue_sent = true;
    }
    gw_http__conn_kick(c);
}

void gw_http_req_resume_body(struct gw_http_req *req)
{
    struct gw_http_conn *c = owned(req);

    if (!req->paused)
        return;
    req->paused = false;
    gw_http__conn_kick(c);
}

uint64_t gw_http_req_body_received(const struct gw_http_req *req)
{
    return req->body_received;
}

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

/* Chooses the body framing and whether this is the connection's last response. */
static void choose_framing(struct gw_http_conn *c, int status, int64_t content_length)
{
    struct gw_http_req *r = &c->req;

    r->drop = r->is_head || status == 204 || status == 304;
    if (status == 204 || status == 304) {
        r->mode = R_NONE;
    } else if (content_length >= 0) {
        r->mode = R_LENGTH;
        r->resp_left = (uint64_t)content_length;
    } else if (c->parser.http_minor >= 1) {
        r->mode = R_CHUNKED;
    } else {
        r->mode = R_EOF; /* HTTP/1.0 has no chunked coding: the close ends the body */
        c->will_close = true;
    }
    if (gw_http__must_close(c))
        c->will_close = true;
}

int gw_http_resp_start(struct gw_http_req *req, int status, const char *const *names,
                       const char *const *values, size_t count, int64_t content_length)
{
    struct gw_http_conn *c = owned(req);
    struct evbuffer *out = bufferevent_get_output(c->bev);

    if (req->started || status < 200 || status > 999)
        return -EINVAL;
    for (size_t i = 0; i < count; i++)
        if (!is_token(names[i]) || strpbrk(values[i], "\r\n"))
            return -EINVAL;
    /* The Connection header is ours; the application's "close" counts. */
    for (size_t i = 0; i < count; i++)
        if (strcasecmp(names[i], "Connection") == 0 && strcasecmp(values[i], "close") == 0)
            c->will_close = true;
    choose_framing(c, status, content_length);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, gw_http_reason(status));
    for (size_t i = 0; i < count; i++)
        if (strcasecmp(names[i], "Connection") != 0)
            evbuffer_add_printf(out, "%s: %s\r\n", names[i], values[i]);
    evbuffer_add_printf(out, "Date: %s\r\nServer: Cairn\r\n", gw_http__date(c->srv));
    if (req->mode == R_LENGTH)
        evbuffer_add_printf(out, "Content-Length: %lld\r\n", (long long)content_length);
    else if (req->mode == R_CHUNKED)
        evbuffer_add_printf(out, "Transfer-Encoding: chunked\r\n");
    if (c->will_close)
        evbuffer_add_printf(out, "Connection: close\r\n");
    else if (c->parser.http_minor == 0)
        evbuffer_add_printf(out, "Connection: keep-alive\r\n");
    evbuffer_add(out, "\r\n", 2);
    req->started = true;
    return 0;
}

/* Checks a body write of @len bytes against the framing; 1: drop it. */
static int body_write_check(struct gw_http_req *req, size_t len)
{
    CAIRN_ASSERT(req->started);
    if (req->drop || len == 0)
        return 1;
    if (req->mode == R_LENGTH) {
        if (len > req->resp_left)
            return -EINVAL;
        req->resp_left -= len;
    }
    return 0;
}

int gw_http_resp_write(struct gw_http_req *req, const void *data, size_t len)
{
    struct gw_http_conn *c = owned(req);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    int ret = body_write_check(req, len);

    if (ret != 0)
        return ret < 0 ? ret : 0;
    if (req->mode == R_CHUNKED)
        evbuffer_add_printf(out, "%zx\r\n", len);
    if (evbuffer_add(out, data, len) < 0)
        return -ENOMEM;
    if (req->mode == R_CHUNKED)
        evbuffer_add(out, "\r\n", 2);
    return 0;
}

int gw_http_resp_write_buffer(struct gw_http_req *req, struct evbuffer *buf)
{
    struct gw_http_conn *c = owned(req);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t len = evbuffer_get_length(buf);
    int ret = body_write_check(req, len);

    if (ret != 0) {
        if (ret > 0)
            evbuffer_drain(buf, len);
        return ret < 0 ? ret : 0;
    }
    if (req->mode == R_CHUNKED)
        evbuffer_add_printf(out, "%zx\r\n", len);
    if (evbuffer_add_buffer(out, buf) < 0)
        return -ENOMEM;
    if (req->mode == R_CHUNKED)
        evbuffer_add(out, "\r\n", 2);
    return 0;
}

size_t gw_http_resp_pending(const struct gw_http_req *req)
{
    return evbuffer_get_length(bufferevent_get_output(owned(req)->bev));
}

void gw_http_resp_on_drain(struct gw_http_req *req, size_t low_bytes,
                           void (*cb)(struct gw_http_req *req, void *arg), void *arg)
{
    struct gw_http_conn *c = owned(req);

    req->drain_low = low_bytes;
    req->drain_cb = cb;
    req->drain_arg = arg;
    gw_http__conn_kick(c);
}

void gw_http_resp_end(struct gw_http_req *req, bool close)
{
    struct gw_http_conn *c = owned(req);

    if (!req->started)
        gw_http_resp_start(req, 500, NULL, NULL, 0, 0);
    if (!req->drop && req->mode == R_CHUNKED)
        evbuffer_add(bufferevent_get_output(c->bev), "0\r\n\r\n", 5);
    /* A body shorter than its Content-Length leaves the client waiting for
     * bytes that never come: only closing ends that response. */
    if (!req->drop && req->mode == R_LENGTH && req->resp_left > 0)
        c->will_close = true;
    req->close_asked = close;
    req->ended = true;
    req->drain_cb = NULL;
    gw_http__conn_kick(c);
}

const char *gw_http_reason(int status)
{
    const char *s = http_status_str((enum http_status)status);

    return strcmp(s, "<unknown>") == 0 ? "Unknown" : s;
}

const char *gw_http_header(const struct gw_http_head *head, const char *name)
{
    for (size_t i = 0; i < head->header_count; i++)
        if (strcasecmp(head->headers[i].name, name) == 0)
            return head->headers[i].value;
    return NULL;
}

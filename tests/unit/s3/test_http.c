/* The S3 gateway's HTTP/1.1 server layer (gateway/s3/http.c), driven over
 * real loopback TCP: each test starts a server on 127.0.0.1:0, connects a
 * plain client socket, writes raw request bytes and runs the event loop
 * until the raw response (or EOF, or a callback count) shows up, with a
 * deadline. Covers framing both ways, keep-alive and pipelining,
 * 100-continue, body backpressure, unread bodies, every head refusal,
 * timeouts, disconnects and server shutdown with a request in flight. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "gateway/s3/http.h"

/* ---- the application: answers with the path, or reads the body first ---- */

enum mode { RESPOND_NOW, READ_BODY, MANUAL };

static struct app {
    enum mode mode;
    bool pause_first;  /* on_body returns 1 on its first call */
    bool chunked_resp; /* answer with content_length -1 */
    bool end_in_body;  /* respond from inside the first on_body */
    bool live;         /* a request is owned */
    struct gw_http_req *req;
    int nreq, nabort, nbody_calls, nbody_end;
    char path[64], query[64], host[64];
    bool expect, chunked;
    char *body;
    size_t body_len;
} app;

#define BODY_CAP (1u << 20)

static void respond(struct gw_http_req *req)
{
    static const char *names[] = {"Content-Type"};
    static const char *values[] = {"text/plain"};
    char msg[96];
    int len = snprintf(msg, sizeof(msg), "%s:%zu", app.path, app.body_len);

    if (app.chunked_resp) {
        assert_int_equal(gw_http_resp_start(req, 200, names, values, 1, -1), 0);
        assert_int_equal(gw_http_resp_write(req, "abc", 3), 0);
        assert_int_equal(gw_http_resp_write(req, "defg", 4), 0);
    } else {
        assert_int_equal(gw_http_resp_start(req, 200, names, values, 1, len), 0);
        assert_int_equal(gw_http_resp_start(req, 200, NULL, NULL, 0, 0), -EINVAL);
        assert_int_equal(gw_http_resp_write(req, msg, (size_t)len), 0);
    }
    app.live = false;
    app.req = NULL;
    gw_http_resp_end(req, false);
}

static void on_request(struct gw_http_req *req, const struct gw_http_head *head, void *arg)
{
    const char *host = gw_http_header(head, "host");

    assert_false(app.live); /* one request at a time per connection */
    app.live = true;
    app.req = req;
    app.nreq++;
    app.body_len = 0;
    snprintf(app.path, sizeof(app.path), "%s", head->path);
    snprintf(app.query, sizeof(app.query), "%s", head->query);
    snprintf(app.host, sizeof(app.host), "%s", host ? host : "");
    app.expect = head->expect_continue;
    app.chunked = head->chunked;
    if (app.mode == RESPOND_NOW)
        respond(req);
    else if (app.mode == READ_BODY)
        gw_http_req_read_body(req);
}

static int on_body(struct gw_http_req *req, const void *data, size_t len, void *arg)
{
    assert_true(app.live);
    app.nbody_calls++;
    assert_true(app.body_len + len <= BODY_CAP);
    memcpy(app.body + app.body_len, data, len);
    app.body_len += len;
    if (app.end_in_body) {
        respond(req);
        return 0;
    }
    return app.pause_first && app.nbody_calls == 1;
}

static void on_body_end(struct gw_http_req *req, void *arg)
{
    app.nbody_end++;
    respond(req);
}

static void on_abort(struct gw_http_req *req, void *arg)
{
    assert_true(app.live);
    app.live = false;
    app.req = NULL;
    app.nabort++;
}

static void format_error(int status, const char *code, const char *message, struct evbuffer *body,
                         const char **content_type, void *arg)
{
    evbuffer_add_printf(body, "<Error><Code>%s</Code><Message>%s</Message></Error>", code, message);
    *content_type = "application/xml";
}

static const struct gw_http_handler handler = {
    .on_request = on_request,
    .on_body = on_body,
    .on_body_end = on_body_end,
    .on_abort = on_abort,
    .format_error = format_error,
};

/* ---- the harness: a server, one raw client, a loop with deadlines ---- */

static struct event_base *base;
static struct event *tick;
static struct gw_http_server *srv;
static int cfd = -1;
static char *rx;
static size_t rx_len;
static bool rx_eof;
static bool rx_discard; /* count received bytes only */
static bool raw_client; /* pump() does the client's I/O (not under TLS) */
static size_t rx_total;
static const char *tx;
static size_t tx_len;

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* One loop turn (at most 2 ms, thanks to the tick), then client I/O. */
static void pump(void)
{
    ssize_t n;

    event_base_loop(base, EVLOOP_ONCE);
    if (cfd < 0 || !raw_client)
        return;
    while (tx_len > 0 && (n = send(cfd, tx, tx_len, MSG_NOSIGNAL | MSG_DONTWAIT)) > 0) {
        tx += n;
        tx_len -= (size_t)n;
    }
    while (!rx_eof && rx_len < BODY_CAP) {
        n = recv(cfd, rx + rx_len, BODY_CAP - rx_len, MSG_DONTWAIT);
        if (n > 0) {
            rx_total += (size_t)n;
            rx_len = rx_discard ? 0 : rx_len + (size_t)n;
        } else if (n == 0 || errno != EAGAIN)
            rx_eof = true;
        else
            break;
    }
    rx[rx_len] = '\0';
}

static void turns(int n)
{
    while (n-- > 0)
        pump();
}

#define WAIT_MS(cond, ms)                                                                          \
    do {                                                                                           \
        uint64_t deadline_ = now_ms() + (ms);                                                      \
        while (!(cond) && now_ms() < deadline_)                                                    \
            pump();                                                                                \
        assert_true(cond);                                                                         \
    } while (0)
#define WAIT(cond) WAIT_MS(cond, 3000)

/* Queues @data (static or alive until sent) for the client to write. */
static void client_send(const char *data, size_t len)
{
    assert_int_equal(tx_len, 0);
    tx = data;
    tx_len = len;
    pump();
}

static void send_str(const char *s)
{
    client_send(s, strlen(s));
}

static bool rx_has(const char *s)
{
    return memmem(rx, rx_len, s, strlen(s)) != NULL;
}

static int rx_count(const char *s)
{
    int n = 0;

    for (const char *p = rx; (p = memmem(p, rx_len - (size_t)(p - rx), s, strlen(s))); p++)
        n++;
    return n;
}

static void start(const struct gw_http_config *cfg)
{
    struct gw_http_config def = {.listen = "127.0.0.1:0"};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {0, 2000};

    assert_int_equal(gw_http_server_create(base, cfg ? cfg : &def, &handler, &srv), 0);
    sin.sin_port = htons(gw_http_server_port(srv));
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(cfd >= 0);
    assert_int_equal(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    fcntl(cfd, F_SETFL, O_NONBLOCK);
    event_add(tick, &tv);
}

static int setup(void **state)
{
    memset(&app, 0, sizeof(app));
    app.body = malloc(BODY_CAP);
    rx = malloc(BODY_CAP + 1);
    rx_len = 0;
    rx_eof = false;
    rx_discard = false;
    raw_client = true;
    rx_total = 0;
    tx_len = 0;
    base = event_base_new();
    tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
    return base && tick && app.body && rx ? 0 : -1;
}

static int teardown(void **state)
{
    gw_http_server_destroy(srv);
    srv = NULL;
    if (cfd >= 0)
        close(cfd);
    cfd = -1;
    event_free(tick);
    event_base_free(base);
    free(app.body);
    free(rx);
    return 0;
}

/* ---- framing ---- */

static void test_http_get_content_length(void **state)
{
    start(NULL);
    send_str("GET /b/k?x=1 HTTP/1.1\r\nHost:  example \r\n\r\n");
    WAIT(rx_has("/b/k:0"));
    assert_memory_equal(rx, "HTTP/1.1 200 OK\r\n", 17);
    assert_true(rx_has("Content-Length: 6\r\n"));
    assert_true(rx_has("\r\nDate: "));
    assert_true(rx_has(" GMT\r\n"));
    assert_true(rx_has("Server: Cairn\r\n"));
    assert_true(rx_has("Content-Type: text/plain\r\n"));
    assert_false(rx_has("Connection: close"));
    assert_string_equal(app.query, "x=1");
    assert_string_equal(app.host, "example");
    assert_int_equal(strlen(rx) - (size_t)(strstr(rx, "\r\n\r\n") - rx), 4 + 6);
    turns(5);
    assert_false(rx_eof); /* keep-alive */
}

static void test_http_head(void **state)
{
    start(NULL);
    send_str("HEAD /abc HTTP/1.1\r\n\r\n");
    WAIT(app.nreq == 1 && rx_has("\r\n\r\n"));
    assert_true(rx_has("Content-Length: 6\r\n"));
    send_str("GET /x HTTP/1.1\r\n\r\n");
    WAIT(rx_has("/x:0"));
    /* the HEAD response has no body: the next status line follows it */
    assert_memory_equal(strstr(rx, "\r\n\r\n") + 4, "HTTP/1.1 200", 12);
}

static void test_http_put_small_writes(void **state)
{
    static char req[128 + 3000];
    int hl;

    start(NULL);
    app.mode = READ_BODY;
    hl = snprintf(req, 128, "PUT /o HTTP/1.1\r\nContent-Length: 3000\r\n\r\n");
    for (int i = 0; i < 3000; i++)
        req[hl + i] = (char)('a' + i % 26);
    for (int off = 0; off < hl + 3000;) {
        int n = off < hl ? 7 : 97;

        n = n < hl + 3000 - off ? n : hl + 3000 - off;
        client_send(req + off, (size_t)n);
        WAIT(tx_len == 0);
        off += n;
    }
    WAIT(rx_has("/o:3000"));
    assert_int_equal(app.nbody_end, 1);
    assert_memory_equal(app.body, req + hl, 3000);
    assert_true(app.nbody_calls > 1);
}

static void test_http_chunked_request(void **state)
{
    start(NULL);
    app.mode = READ_BODY;
    send_str("PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n");
    WAIT(rx_has("/c:11"));
    assert_true(app.chunked);
    assert_memory_equal(app.body, "hello world", 11);
}

static void test_http_chunked_response(void **state)
{
    start(NULL);
    app.chunked_resp = true;
    send_str("GET /s HTTP/1.1\r\n\r\n");
    WAIT(rx_has("0\r\n\r\n"));
    assert_true(rx_has("Transfer-Encoding: chunked\r\n"));
    assert_false(rx_has("Content-Length"));
    assert_true(rx_has("\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"));
}

static void test_http_pipelined(void **state)
{
    start(NULL);
    send_str("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n");
    WAIT(rx_has("/3:0"));
    assert_int_equal(app.nreq, 3);
    assert_true(strstr(rx, "/1:0") < strstr(rx, "/2:0"));
    assert_true(strstr(rx, "/2:0") < strstr(rx, "/3:0"));
    assert_int_equal(rx_count("HTTP/1.1 200 OK"), 3);
}

static void test_http_expect_continue_after_read_body(void **state)
{
    start(NULL);
    app.mode = MANUAL;
    send_str("PUT /e HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n");
    WAIT(app.nreq == 1);
    assert_true(app.expect);
    turns(20);
    assert_int_equal(rx_len, 0); /* not before the application asks for the body */
    gw_http_req_read_body(app.req);
    WAIT(rx_has("HTTP/1.1 100 Continue\r\n\r\n"));
    send_str("hello");
    WAIT(rx_has("/e:5"));
    assert_memory_equal(rx, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 42);
}

/* An empty body with Expect still gets its 100 Continue once read, then
 * the final answer, and the connection serves the next request. */
static void test_http_expect_continue_empty_body(void **state)
{
    start(NULL);
    app.mode = MANUAL;
    send_str("PUT /z HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n");
    WAIT(app.nreq == 1);
    gw_http_req_read_body(app.req);
    WAIT(rx_has("HTTP/1.1 100 Continue\r\n\r\n"));
    WAIT(rx_has("/z:0"));
    assert_memory_equal(rx, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 42);
}

static void test_http_body_pause_resume(void **state)
{
    enum { LEN = 300000 };
    static char req[LEN + 128];
    int hl = snprintf(req, 128, "PUT /p HTTP/1.1\r\nContent-Length: %d\r\n\r\n", LEN);

    start(NULL);
    app.mode = READ_BODY;
    app.pause_first = true;
    for (int i = 0; i < LEN; i++)
        req[hl + i] = (char)(i * 7);
    client_send(req, (size_t)hl + LEN);
    WAIT(app.nbody_calls == 1);
    size_t first = app.body_len;
    turns(50);
    assert_int_equal(app.nbody_calls, 1); /* paused: nothing more delivered */
    assert_int_equal(app.body_len, first);
    assert_true(app.body_len < LEN);
    gw_http_req_resume_body(app.req);
    WAIT(rx_has("/p:300000"));
    assert_int_equal(tx_len, 0);
    assert_memory_equal(app.body, req + hl, LEN);
}

static void test_http_unread_small_body_keeps_connection(void **state)
{
    start(NULL);
    send_str("PUT /u HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"
             "GET /two HTTP/1.1\r\n\r\n");
    WAIT(rx_has("/two:0"));
    assert_int_equal(app.nreq, 2);
    assert_false(rx_has("Connection: close"));
    turns(5);
    assert_false(rx_eof);
}

static void test_http_unread_large_body_closes(void **state)
{
    static char req[65536 + 128];
    int hl = snprintf(req, 128, "PUT /big HTTP/1.1\r\nContent-Length: 104857600\r\n\r\n");

    start(NULL);
    memset(req + hl, 'z', 65536);
    client_send(req, (size_t)hl + 65536);
    WAIT(rx_eof);
    assert_true(rx_has("/big:0"));
    assert_true(rx_has("Connection: close\r\n"));
    assert_int_equal(app.nreq, 1);
}

/* ---- refusals ---- */

static void expect_refusal(const char *req, const char *status)
{
    char clen[64];

    start(NULL);
    send_str(req);
    WAIT(rx_eof);
    assert_memory_equal(rx, status, strlen(status));
    assert_true(rx_has("Connection: close\r\n"));
    assert_true(rx_has("Content-Type: application/xml\r\n"));
    snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n",
             rx_len - (size_t)(strstr(rx, "\r\n\r\n") + 4 - rx));
    assert_true(rx_has(clen)); /* the error document, exactly */
    assert_int_equal(app.nreq, 0);
}

static void test_http_header_too_large(void **state)
{
    static char req[20000 + 128];
    int n = snprintf(req, 128, "GET / HTTP/1.1\r\nX-Big: ");

    memset(req + n, 'v', 20000);
    strcpy(req + n + 20000, "\r\n\r\n");
    expect_refusal(req, "HTTP/1.1 431 ");
    assert_true(rx_has("<Code>RequestHeaderSectionTooLarge</Code>"));
}

static void test_http_too_many_headers(void **state)
{
    static char req[200 * 16 + 64];
    size_t n = (size_t)sprintf(req, "GET / HTTP/1.1\r\n");

    for (int i = 0; i < 200; i++)
        n += (size_t)sprintf(req + n, "X-%d: v\r\n", i);
    strcpy(req + n, "\r\n");
    expect_refusal(req, "HTTP/1.1 431 ");
}

static void test_http_url_too_long(void **state)
{
    static char req[10000 + 64];

    strcpy(req, "GET /");
    memset(req + 5, 'u', 10000);
    strcpy(req + 10005, " HTTP/1.1\r\n\r\n");
    expect_refusal(req, "HTTP/1.1 414 ");
}

static void test_http_garbage_request_line(void **state)
{
    expect_refusal("\x01\x02 garbage\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n");
    assert_true(rx_has("<Code>MalformedRequest</Code>"));
}

static void test_http_version_not_supported(void **state)
{
    expect_refusal("GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505 ");
}

static void test_http_length_and_chunked(void **state)
{
    expect_refusal("PUT / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                   "HTTP/1.1 400 ");
}

static void test_http_duplicate_length(void **state)
{
    expect_refusal("PUT / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                   "HTTP/1.1 400 ");
}

static void test_http_unsupported_transfer_encoding(void **state)
{
    expect_refusal("PUT / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                   "HTTP/1.1 501 ");
}

static void test_http_head_timeout(void **state)
{
    struct gw_http_config cfg = {.listen = "127.0.0.1:0", .head_timeout_s = 1};
    uint64_t t0 = now_ms();

    start(&cfg);
    send_str("GET / HTTP/1.1\r\nHo");
    WAIT(rx_eof);
    assert_true(now_ms() - t0 >= 900);
    assert_memory_equal(rx, "HTTP/1.1 408 ", 13);
}

/* ---- lifetimes ---- */

static void test_http_disconnect_during_body_aborts(void **state)
{
    start(NULL);
    app.mode = READ_BODY;
    send_str("PUT /d HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
    WAIT(app.nbody_calls >= 1);
    close(cfd);
    cfd = -1;
    WAIT(app.nabort == 1);
    turns(10);
    assert_int_equal(app.nabort, 1);
    assert_int_equal(app.nbody_end, 0);
}

static void test_http_connection_close(void **state)
{
    start(NULL);
    send_str("GET /cc HTTP/1.1\r\nConnection: close\r\n\r\n");
    WAIT(rx_eof);
    assert_true(rx_has("Connection: close\r\n"));
    assert_true(rx_has("/cc:0"));
}

static void test_http_app_connection_close(void **state)
{
    static const char *names[] = {"connection", "X-A"};
    static const char *values[] = {"close", "1"};
    static const char *bad_values[] = {"close", "1\r\nX-Injected: 1"};

    start(NULL);
    app.mode = MANUAL;
    send_str("GET /ac HTTP/1.1\r\n\r\n");
    WAIT(app.nreq == 1);
    assert_int_equal(gw_http_resp_start(app.req, 200, names, bad_values, 2, 0), -EINVAL);
    assert_int_equal(gw_http_resp_start(app.req, 200, names, values, 2, 0), 0);
    assert_int_equal(gw_http_resp_write(app.req, "x", 1), -EINVAL); /* beyond the length */
    gw_http_resp_end(app.req, false);
    app.live = false;
    WAIT(rx_eof);
    assert_int_equal(rx_count("onnection: "), 1);
    assert_true(rx_has("Connection: close\r\n"));
    assert_true(rx_has("X-A: 1\r\n"));
    assert_false(rx_has("X-Injected"));
}

static void test_http_10_closes(void **state)
{
    start(NULL);
    send_str("GET /old HTTP/1.0\r\n\r\n");
    WAIT(rx_eof);
    assert_true(rx_has("/old:0"));
    assert_true(rx_has("Connection: close\r\n"));
}

static void test_http_destroy_aborts_owned_request(void **state)
{
    start(NULL);
    app.mode = MANUAL;
    send_str("GET /m HTTP/1.1\r\n\r\n");
    WAIT(app.nreq == 1);
    gw_http_server_destroy(srv);
    srv = NULL;
    assert_int_equal(app.nabort, 1);
    WAIT(rx_eof);
}

static void test_http_end_inside_on_body_discards_rest(void **state)
{
    start(NULL);
    app.mode = READ_BODY;
    app.end_in_body = true;
    send_str("PUT /r HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234");
    WAIT(app.nbody_calls == 1 && rx_has("/r:5"));
    send_str("56789GET /next HTTP/1.1\r\n\r\n");
    WAIT(rx_has("/next:0"));
    assert_int_equal(app.nreq, 2);
    assert_int_equal(app.nbody_calls, 1);
    assert_false(rx_has("Connection: close"));
}

static void test_http_malformed_chunk_aborts(void **state)
{
    start(NULL);
    app.mode = READ_BODY;
    send_str("PUT /m HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n");
    WAIT(rx_eof);
    assert_int_equal(app.nabort, 1);
    assert_int_equal(app.nbody_end, 0);
    assert_int_equal(rx_len, 0);
}

static int drain_left, ndrain;

static void drain_cb(struct gw_http_req *req, void *arg)
{
    static char piece[256 << 10];

    ndrain++;
    assert_true(gw_http_resp_pending(req) <= (64u << 10));
    if (drain_left == 0) {
        app.live = false;
        gw_http_resp_end(req, false);
        return;
    }
    drain_left--;
    assert_int_equal(gw_http_resp_write(req, piece, sizeof(piece)), 0);
    assert_true(gw_http_resp_pending(req) > 0);
    gw_http_resp_on_drain(req, 64u << 10, drain_cb, NULL);
}

static void test_http_stream_with_drain(void **state)
{
    start(NULL);
    app.mode = MANUAL;
    rx_discard = true;
    send_str("GET /big HTTP/1.1\r\n\r\n");
    WAIT(app.nreq == 1);
    drain_left = 16;
    ndrain = 0;
    assert_int_equal(gw_http_resp_start(app.req, 200, NULL, NULL, 0, 16 * (256 << 10)), 0);
    gw_http_resp_on_drain(app.req, 64u << 10, drain_cb, NULL);
    WAIT(ndrain == 17 && rx_total > 16u * (256 << 10));
    send_str("GET /after HTTP/1.1\r\n\r\n");
    rx_discard = false;
    app.mode = RESPOND_NOW;
    WAIT(rx_has("/after:0"));
}

static void test_http_max_conns_refused(void **state)
{
    struct gw_http_config cfg = {.listen = "127.0.0.1:0", .max_conns = 1};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char buf[256];
    size_t got = 0;
    ssize_t n = -1;
    int fd2;

    start(&cfg);
    send_str("GET /first HTTP/1.1\r\n\r\n");
    WAIT(rx_has("/first:0"));
    sin.sin_port = htons(gw_http_server_port(srv));
    fd2 = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd2, (struct sockaddr *)&sin, sizeof(sin)), 0);
    for (uint64_t deadline = now_ms() + 3000; n != 0 && now_ms() < deadline;) {
        pump();
        n = recv(fd2, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
        got += n > 0 ? (size_t)n : 0;
    }
    close(fd2);
    buf[got] = '\0';
    assert_int_equal(n, 0);
    assert_memory_equal(buf, "HTTP/1.1 503 ", 13);
}

static void test_http_idle_timeout_closes(void **state)
{
    struct gw_http_config cfg = {.listen = "127.0.0.1:0", .idle_timeout_s = 1};

    start(&cfg);
    WAIT(rx_eof);
    assert_int_equal(rx_len, 0);
}

static void test_http_body_timeout_aborts(void **state)
{
    struct gw_http_config cfg = {.listen = "127.0.0.1:0", .body_timeout_s = 1};

    start(&cfg);
    app.mode = READ_BODY;
    send_str("PUT /t HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    WAIT(app.nabort == 1);
    assert_int_equal(app.nbody_end, 0);
    WAIT(rx_eof);
    assert_int_equal(rx_len, 0);
}

/* A throwaway self-signed P-256 certificate for the TLS test. */
static SSL_CTX *server_tls_ctx(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    assert_non_null(key);
    assert_non_null(x);
    assert_non_null(ctx);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

static void test_http_tls_get(void **state)
{
    static const char req[] = "GET /tls HTTP/1.1\r\nConnection: close\r\n\r\n";
    SSL_CTX *sctx = server_tls_ctx();
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    struct gw_http_config cfg = {.listen = "127.0.0.1:0", .tls = sctx};
    size_t sent = 0, got = 0;
    bool eof = false;
    SSL *ssl;
    int n;

    start(&cfg);
    raw_client = false;
    ssl = SSL_new(cctx);
    SSL_set_fd(ssl, cfd);
    SSL_set_connect_state(ssl);
    for (uint64_t deadline = now_ms() + 3000; !eof && now_ms() < deadline;) {
        pump();
        if (sent < sizeof(req) - 1) {
            n = SSL_write(ssl, req + sent, (int)(sizeof(req) - 1 - sent));
            sent += n > 0 ? (size_t)n : 0;
            continue;
        }
        n = SSL_read(ssl, rx + got, (int)(BODY_CAP - got));
        if (n > 0)
            got += (size_t)n;
        else if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ)
            eof = true;
    }
    rx_len = got;
    rx[got] = '\0';
    assert_true(eof);
    assert_memory_equal(rx, "HTTP/1.1 200 OK\r\n", 17);
    assert_true(rx_has("/tls:0"));
    SSL_free(ssl);
    SSL_CTX_free(cctx);
    gw_http_server_destroy(srv);
    srv = NULL;
    SSL_CTX_free(sctx);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as gateway/daemon.c: libevent writes with writev */
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_http_get_content_length),
        T(test_http_head),
        T(test_http_put_small_writes),
        T(test_http_chunked_request),
        T(test_http_chunked_response),
        T(test_http_pipelined),
        T(test_http_expect_continue_after_read_body),
        T(test_http_expect_continue_empty_body),
        T(test_http_body_pause_resume),
        T(test_http_unread_small_body_keeps_connection),
        T(test_http_unread_large_body_closes),
        T(test_http_header_too_large),
        T(test_http_too_many_headers),
        T(test_http_url_too_long),
        T(test_http_garbage_request_line),
        T(test_http_version_not_supported),
        T(test_http_length_and_chunked),
        T(test_http_duplicate_length),
        T(test_http_unsupported_transfer_encoding),
        T(test_http_head_timeout),
        T(test_http_disconnect_during_body_aborts),
        T(test_http_connection_close),
        T(test_http_app_connection_close),
        T(test_http_10_closes),
        T(test_http_destroy_aborts_owned_request),
        T(test_http_end_inside_on_body_discards_rest),
        T(test_http_malformed_chunk_aborts),
        T(test_http_stream_with_drain),
        T(test_http_max_conns_refused),
        T(test_http_idle_timeout_closes),
        T(test_http_body_timeout_aborts),
        T(test_http_tls_get),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}

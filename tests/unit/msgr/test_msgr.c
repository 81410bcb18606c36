/* Messenger tests: real client and server messengers on one event_base in
 * one process, over loopback TCP and unix sockets in a temp dir, plus raw
 * sockets playing a broken peer. The loop is driven until a condition holds
 * or a deadline passes; nothing sleeps. */
#include "protocol/msgr.h"
#include "protocol/msg_types.h"
#include "tests/unit/support/evloop.h"
#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#define T_ECHO PROTO_MSG_TEST_MIN /* requests; replies carry type + 1 */
#define WAIT_MS 5000u
#define MAX_HELD 256u

struct held {
    struct proto_conn *conn;
    struct proto_frame f;
};

/* A server messenger that echoes requests, or holds them for the test to
 * answer later. */
struct server {
    struct proto_msgr *m;
    char addr[128];
    bool hold;
    unsigned opened, closed, messages, oneway;
    int close_reason;
    struct proto_conn *last_conn;
    struct held held[MAX_HELD];
    unsigned nheld;
};

struct client {
    struct proto_msgr *m;
    unsigned opened, closed;
};

/* One request's outcome; the reply buffers are kept until call_fini(). */
struct call {
    unsigned fired;
    int result;
    uint32_t tag;
    struct proto_frame reply;
};

struct tenv {
    struct event_base *base;
    struct event *tick; /* a periodic timer, so EVLOOP_ONCE always returns */
    struct proto_keyring *kr_srv, *kr_cli;
    char dir[64];
    struct server srv;
    struct client cli;
};

/* ---- loop driving ---- */

static bool run_until(struct tenv *e, pred_fn pred, void *arg, unsigned ms)
{
    return t_loop_until(e->base, pred, arg, ms);
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static void run_for(struct tenv *e, unsigned ms)
{
    run_until(e, never, NULL, ms);
}

struct count_wait {
    const unsigned *counter;
    unsigned target;
};

static bool counter_reached(void *arg)
{
    struct count_wait *w = arg;
    return *w->counter >= w->target;
}

static bool wait_count(struct tenv *e, const unsigned *counter, unsigned target)
{
    struct count_wait w = {counter, target};
    return run_until(e, counter_reached, &w, WAIT_MS);
}

static bool call_done(void *arg)
{
    return ((struct call *)arg)->fired > 0;
}

static bool conn_open(void *arg)
{
    return proto_conn_is_open(arg);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* ---- callbacks ---- */

static void srv_on_message(struct proto_conn *conn, struct proto_frame *f, void *arg)
{
    struct server *s = arg;

    s->messages++;
    if (f->hdr.txid == 0) {
        s->oneway++;
        proto_frame_free(f);
        return;
    }
    if (s->hold && s->nheld < MAX_HELD) {
        s->held[s->nheld].conn = conn;
        s->held[s->nheld++].f = *f;
        return;
    }
    int r = proto_conn_reply(conn, f->hdr.txid, (uint16_t)(f->hdr.type + 1), f->meta,
                             f->hdr.meta_len, f->data, f->hdr.data_len);
    assert_int_equal(r, 0);
    proto_frame_free(f);
}

static void srv_on_open(struct proto_conn *conn, void *arg)
{
    struct server *s = arg;
    s->opened++;
    s->last_conn = conn;
}

static void srv_on_close(struct proto_conn *conn, int reason, void *arg)
{
    struct server *s = arg;
    s->closed++;
    s->close_reason = reason;
    if (s->last_conn == conn)
        s->last_conn = NULL;
}

static void cli_on_open(struct proto_conn *conn, void *arg)
{
    ((struct client *)arg)->opened++;
}

static void cli_on_close(struct proto_conn *conn, int reason, void *arg)
{
    assert_int_equal(reason, -ECANCELED);
    assert_int_equal(proto_conn_send(conn, T_ECHO, NULL, 0, NULL, 0), -ENOTCONN);
    ((struct client *)arg)->closed++;
}

static void call_cb(int result, struct proto_frame *reply, void *arg)
{
    struct call *k = arg;

    k->fired++;
    k->result = result;
    if (reply)
        k->reply = *reply; /* takes the buffers */
}

static void call_fini(struct call *k)
{
    proto_frame_free(&k->reply);
}

/* ---- setup ---- */

static struct proto_msgr_opts opts_for(const char *entity, const struct proto_keyring *kr)
{
    struct proto_msgr_opts o = {.entity = entity, .keyring = kr, .features = 0x3};
    return o;
}

static int server_start_opts(struct tenv *e, const char *addr, const struct proto_msgr_opts *o)
{
    struct proto_msgr_handlers h = {srv_on_message, srv_on_open, srv_on_close};
    struct server *s = &e->srv;

    int r = proto_msgr_create(e->base, o, &h, s, &s->m);
    assert_int_equal(r, 0);
    r = proto_msgr_listen(s->m, addr);
    if (r < 0) {
        proto_msgr_destroy(s->m);
        s->m = NULL;
        return r;
    }
    assert_int_equal(proto_msgr_listen_addr(s->m, s->addr, sizeof(s->addr)), 0);
    return 0;
}

static int server_start(struct tenv *e, const char *addr)
{
    struct proto_msgr_opts o = opts_for("osd.0", e->kr_srv);
    return server_start_opts(e, addr, &o);
}

static void server_stop(struct tenv *e)
{
    struct server *s = &e->srv;

    for (unsigned i = 0; i < s->nheld; i++)
        proto_frame_free(&s->held[i].f);
    s->nheld = 0;
    proto_msgr_destroy(s->m);
    s->m = NULL;
}

static void client_start_opts(struct tenv *e, const struct proto_msgr_opts *o)
{
    struct proto_msgr_handlers h = {NULL, cli_on_open, cli_on_close};
    assert_int_equal(proto_msgr_create(e->base, o, &h, &e->cli, &e->cli.m), 0);
}

static void client_start(struct tenv *e)
{
    struct proto_msgr_opts o = opts_for("client.admin", e->kr_cli);
    client_start_opts(e, &o);
}

static struct proto_conn *connect_open(struct tenv *e, const char *addr)
{
    struct proto_conn *c = NULL;

    assert_int_equal(proto_msgr_connect(e->cli.m, addr, "osd.0", &c), 0);
    assert_true(run_until(e, conn_open, c, WAIT_MS));
    return c;
}

static void add_key(struct proto_keyring *kr, const char *entity, const uint8_t *key)
{
    assert_int_equal(proto_keyring_set(kr, entity, key), 0);
}

static int env_setup(void **state)
{
    struct tenv *e = calloc(1, sizeof(*e));
    uint8_t k_osd[PROTO_KEY_LEN], k_cli[PROTO_KEY_LEN];
    struct timeval tv = {0, 5000};

    assert_non_null(e);
    e->base = event_base_new();
    e->tick = event_new(e->base, -1, EV_PERSIST, tick_cb, NULL);
    event_add(e->tick, &tv);
    assert_int_equal(proto_key_generate(k_osd), 0);
    assert_int_equal(proto_key_generate(k_cli), 0);
    e->kr_srv = proto_keyring_create();
    e->kr_cli = proto_keyring_create();
    add_key(e->kr_srv, "osd.0", k_osd);
    add_key(e->kr_srv, "client.admin", k_cli);
    add_key(e->kr_cli, "osd.0", k_osd);
    add_key(e->kr_cli, "client.admin", k_cli);
    snprintf(e->dir, sizeof(e->dir), "/tmp/cairn-msgr-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    struct tenv *e = *state;

    if (e->srv.m)
        server_stop(e);
    proto_msgr_destroy(e->cli.m);
    proto_keyring_destroy(e->kr_srv);
    proto_keyring_destroy(e->kr_cli);
    event_free(e->tick);
    event_base_free(e->base);
    rmdir(e->dir);
    free(e);
    return 0;
}

static void unix_addr(struct tenv *e, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "unix:%s/%s", e->dir, name);
}

/* ---- raw sockets playing a broken peer ---- */

static int raw_connect(const char *addr)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int port = 0;

    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
        sun->sun_family = AF_UNIX;
        snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", addr + 5);
        len = sizeof(*sun);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        assert_int_equal(sscanf(addr, "127.0.0.1:%d", &port), 1);
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*sin);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* True once the peer closed @fd (EOF or reset); drains what it sent. */
static bool raw_closed(void *arg)
{
    int fd = *(int *)arg;
    char buf[4096];

    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false;
    }
}

static void raw_send_frame(int fd, uint16_t type, const void *meta, size_t meta_len)
{
    struct proto_frame_header h = {.type = type, .meta_len = (uint32_t)meta_len};
    uint8_t hdr[PROTO_FRAME_HEADER_LEN], trailer[PROTO_FRAME_TRAILER_LEN];
    uint32_t crc = proto_frame_payload_crc(meta, meta_len, NULL, 0);

    proto_frame_header_encode(&h, hdr);
    for (int i = 0; i < 4; i++)
        trailer[i] = (uint8_t)(crc >> (8 * i));
    assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
    if (meta_len)
        assert_int_equal(write(fd, meta, meta_len), (ssize_t)meta_len);
    assert_int_equal(write(fd, trailer, sizeof(trailer)), (ssize_t)sizeof(trailer));
}

/* HELLO metadata, protobuf-encoded by hand (handshake.proto): field 1
 * entity, field 2 nonce, field 4 version (left out when 0). */
static size_t hello_meta(uint8_t *buf, const char *entity, size_t nonce_len, unsigned version)
{
    size_t n = 0, len = strlen(entity);

    buf[n++] = 0x0a;
    buf[n++] = (uint8_t)len;
    memcpy(buf + n, entity, len);
    n += len;
    buf[n++] = 0x12;
    buf[n++] = (uint8_t)nonce_len;
    memset(buf + n, 0x5a, nonce_len);
    n += nonce_len;
    if (version) {
        buf[n++] = 0x20;
        buf[n++] = (uint8_t)version;
    }
    return n;
}

/* ---- tests ---- */

/* A request with metadata and @data_len bytes of data comes back intact. */
static void check_echo(struct tenv *e, struct proto_conn *c, size_t data_len)
{
    static const char meta[] = "meta: opaque protobuf bytes";
    uint8_t *data = malloc(data_len ? data_len : 1);
    struct call k = {0};

    for (size_t i = 0; i < data_len; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 12));
    assert_int_equal(
        proto_conn_request(c, T_ECHO, meta, sizeof(meta), data, data_len, 10000, call_cb, &k), 0);
    assert_true(run_until(e, call_done, &k, 10000));
    assert_int_equal(k.result, 0);
    assert_int_equal(k.reply.hdr.type, T_ECHO + 1);
    assert_true(k.reply.hdr.flags & PROTO_FRAME_F_REPLY);
    assert_int_equal(k.reply.hdr.meta_len, sizeof(meta));
    assert_memory_equal(k.reply.meta, meta, sizeof(meta));
    assert_int_equal(k.reply.hdr.data_len, data_len);
    if (data_len)
        assert_memory_equal(k.reply.data, data, data_len);
    call_fini(&k);
    free(data);
}

static void roundtrip(struct tenv *e, const char *addr)
{
    assert_int_equal(server_start(e, addr), 0);
    client_start(e);
    struct proto_conn *c = connect_open(e, e->srv.addr);

    assert_string_equal(proto_conn_peer(c), "osd.0");
    assert_int_equal(proto_conn_features(c), 0x3);
    assert_true(wait_count(e, &e->srv.opened, 1));
    assert_string_equal(proto_conn_peer(e->srv.last_conn), "client.admin");
    check_echo(e, c, 0);
    check_echo(e, c, 4096);
    check_echo(e, c, 8u << 20);
    assert_int_equal(proto_conn_send(c, T_ECHO, "x", 1, NULL, 0), 0);
    assert_true(wait_count(e, &e->srv.oneway, 1));

    /* Closing the client end: its on_close fires, the server's follows. */
    proto_conn_close(c);
    assert_int_equal(e->cli.closed, 1);
    assert_true(wait_count(e, &e->srv.closed, 1));
    assert_int_equal(e->srv.close_reason, -ECONNRESET);
    server_stop(e);
    proto_msgr_destroy(e->cli.m);
    e->cli = (struct client){0};
    e->srv = (struct server){0};
}

static void test_msgr_roundtrip_tcp(void **state)
{
    struct tenv *e = *state;

    roundtrip(e, "127.0.0.1:0");
    /* IPv6 loopback, where the host has it. */
    struct proto_msgr_opts o = opts_for("osd.0", e->kr_srv);
    int r = server_start_opts(e, "[::1]:0", &o);
    if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT) {
        print_message("no IPv6 loopback here; IPv6 part skipped\n");
        return;
    }
    assert_int_equal(r, 0);
    char addr[128];
    snprintf(addr, sizeof(addr), "%s", e->srv.addr);
    assert_true(strncmp(addr, "[::1]:", 6) == 0);
    server_stop(e);
    e->srv = (struct server){0};
    roundtrip(e, addr);
}

struct calls {
    struct call k[48];
    unsigned n;
};

static bool all_done(void *arg)
{
    struct calls *cs = arg;
    for (unsigned i = 0; i < cs->n; i++)
        if (!cs->k[i].fired)
            return false;
    return true;
}

/* Frames queued in one turn, small ones between multi-MiB ones that fill
 * the socket: every one arrives intact and is answered, the connection
 * switching between writing directly and waiting for the socket, twice
 * (the second round starts after the first drained, with a frame that goes
 * out directly again). */
static void test_msgr_mixed_sizes_in_flight(void **state)
{
    struct tenv *e = *state;
    size_t big = 3u << 20;
    uint8_t *data = malloc(big);

    for (size_t i = 0; i < big; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 16));
    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    client_start(e);
    struct proto_conn *c = connect_open(e, e->srv.addr);
    for (int round = 0; round < 2; round++) {
        check_echo(e, c, 100); /* alone: written whole, directly */
        struct calls cs = {.n = 48};
        for (unsigned i = 0; i < cs.n; i++) {
            size_t len = i % 8 == 3 ? big - i : i % 2 ? 100 + i : 0;
            assert_int_equal(proto_conn_request(c, T_ECHO, &i, sizeof(i), data, len, 20000,
                                                call_cb, &cs.k[i]), 0);
        }
        assert_true(run_until(e, all_done, &cs, 20000));
        for (unsigned i = 0; i < cs.n; i++) {
            size_t len = i % 8 == 3 ? big - i : i % 2 ? 100 + i : 0;
            assert_int_equal(cs.k[i].result, 0);
            assert_int_equal(cs.k[i].reply.hdr.meta_len, sizeof(i));
            assert_memory_equal(cs.k[i].reply.meta, &i, sizeof(i));
            assert_int_equal(cs.k[i].reply.hdr.data_len, len);
            if (len)
                assert_memory_equal(cs.k[i].reply.data, data, len);
            call_fini(&cs.k[i]);
        }
        struct proto_msgr_stats st;
        proto_msgr_get_stats(e->cli.m, &st);
        assert_true(st.direct_writes >= (unsigned)round + 1); /* at least the first */
        assert_true(st.socket_full >= (unsigned)round + 1);   /* 3 MiB does not fit */
    }
    free(data);
}

static void test_msgr_roundtrip_unix(void **state)
{
    struct tenv *e = *state;
    char addr[128];
    struct sockaddr_un sun = {.sun_family = AF_UNIX};

    /* A socket file left behind by a dead process is replaced. */
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/osd.sock", e->dir);
    unix_addr(e, "osd.sock", addr, sizeof(addr));
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
    assert_int_equal(access(sun.sun_path, F_OK), 0);

    roundtrip(e, addr);
    assert_int_equal(access(sun.sun_path, F_OK), -1); /* removed at destroy */
}

static void test_msgr_listen_refuses_live_socket_and_bad_addresses(void **state)
{
    struct tenv *e = *state;
    char addr[128], buf[8];
    struct proto_conn *c;

    unix_addr(e, "live.sock", addr, sizeof(addr));
    assert_int_equal(server_start(e, addr), 0);
    struct proto_msgr_opts o = opts_for("client.admin", e->kr_cli);
    client_start_opts(e, &o);
    assert_int_equal(proto_msgr_listen_addr(e->cli.m, buf, sizeof(buf)), -ENOENT);
    assert_int_equal(proto_msgr_listen(e->cli.m, addr), -EADDRINUSE);
    assert_int_equal(proto_msgr_listen_addr(e->srv.m, buf, sizeof(buf)), -ERANGE);

    const char *bad[] = {
        "",      "nonsense",  "127.0.0.1",       "127.0.0.1:", "127.0.0.1:65536", "::1:80",
        "[::1]", "[::1]x:80", "host.example:80", "unix:",      "127.0.0.1:-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(proto_msgr_listen(e->cli.m, bad[i]), -EINVAL);
        assert_int_equal(proto_msgr_connect(e->cli.m, bad[i], NULL, &c), -EINVAL);
    }
    assert_int_equal(proto_msgr_connect(e->cli.m, "127.0.0.1:0", NULL, &c), -EINVAL);
    assert_int_equal(proto_msgr_connect(e->cli.m, "127.0.0.1:1", "not an entity", &c), -EINVAL);

    /* The messenger needs its own key. */
    struct proto_msgr *m;
    o.entity = "client.nobody";
    assert_int_equal(proto_msgr_create(e->base, &o, NULL, NULL, &m), -ENOENT);
    o.entity = "bad name";
    assert_int_equal(proto_msgr_create(e->base, &o, NULL, NULL, &m), -EINVAL);
}

/* Many requests in flight, answered in reverse order: each callback gets
 * the reply to its own request. */
static void test_msgr_out_of_order_replies(void **state)
{
    struct tenv *e = *state;
    enum { N = 100 };
    struct call k[N] = {{0}};

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    e->srv.hold = true;
    client_start(e);
    struct proto_conn *c = connect_open(e, e->srv.addr);
    for (uint32_t i = 0; i < N; i++) {
        k[i].tag = i;
        assert_int_equal(
            proto_conn_request(c, T_ECHO, &i, sizeof(i), NULL, 0, 10000, call_cb, &k[i]), 0);
    }
    assert_true(wait_count(e, &e->srv.nheld, N));
    for (unsigned i = N; i-- > 0;) {
        struct held *h = &e->srv.held[i];
        uint32_t answer[2];
        memcpy(&answer[0], h->f.meta, sizeof(uint32_t));
        answer[1] = answer[0] * 7;
        assert_int_equal(
            proto_conn_reply(h->conn, h->f.hdr.txid, T_ECHO + 1, answer, sizeof(answer), NULL, 0),
            0);
        /* Let some replies arrive while others are still unanswered. */
        if (i % 10 == 0)
            event_base_loop(e->base, EVLOOP_NONBLOCK);
    }
    assert_true(run_until(e, call_done, &k[0], WAIT_MS));
    for (uint32_t i = 0; i < N; i++) {
        uint32_t answer[2];
        assert_true(run_until(e, call_done, &k[i], WAIT_MS));
        assert_int_equal(k[i].fired, 1);
        assert_int_equal(k[i].result, 0);
        assert_int_equal(k[i].reply.hdr.meta_len, sizeof(answer));
        memcpy(answer, k[i].reply.meta, sizeof(answer));
        assert_int_equal(answer[0], k[i].tag);
        assert_int_equal(answer[1], k[i].tag * 7);
        call_fini(&k[i]);
    }
}

/* A request times out with -ETIMEDOUT; its reply, arriving later, is
 * dropped and counted, and the connection keeps working. */
static void test_msgr_timeout_then_late_reply_ignored(void **state)
{
    struct tenv *e = *state;
    struct call late = {0}, next = {0};
    struct proto_msgr_stats st;

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    e->srv.hold = true;
    client_start(e);
    struct proto_conn *c = connect_open(e, e->srv.addr);
    uint64_t t0 = cairn_now_ns();
    assert_int_equal(proto_conn_request(c, T_ECHO, "a", 1, NULL, 0, 100, call_cb, &late), 0);
    assert_true(run_until(e, call_done, &late, WAIT_MS));
    assert_int_equal(late.result, -ETIMEDOUT);
    assert_true(cairn_now_ns() - t0 >= 95u * 1000000u);
    assert_int_equal(e->srv.nheld, 1);

    struct held *h = &e->srv.held[0];
    assert_int_equal(proto_conn_reply(h->conn, h->f.hdr.txid, T_ECHO + 1, "late", 4, NULL, 0), 0);
    e->srv.hold = false;
    /* Replies arrive in order, so once this one is in the late one was seen. */
    assert_int_equal(proto_conn_request(c, T_ECHO, "b", 1, NULL, 0, 5000, call_cb, &next), 0);
    assert_true(run_until(e, call_done, &next, WAIT_MS));
    assert_int_equal(next.result, 0);
    assert_int_equal(late.fired, 1);
    proto_msgr_get_stats(e->cli.m, &st);
    assert_int_equal(st.unmatched_replies, 1);
    call_fini(&next);
}

/* The client holds the wrong key for itself: the server refuses the proof,
 * the queued request fails with -EACCES, and the client does not retry. */
static void test_msgr_wrong_key_refused_without_retry(void **state)
{
    struct tenv *e = *state;
    uint8_t wrong[PROTO_KEY_LEN];
    struct call k = {0};
    struct proto_conn *c;
    struct proto_msgr_stats cs, ss;

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    assert_int_equal(proto_key_generate(wrong), 0);
    add_key(e->kr_cli, "client.admin", wrong);
    client_start(e);
    assert_int_equal(proto_msgr_connect(e->cli.m, e->srv.addr, "osd.0", &c), 0);
    assert_int_equal(proto_conn_request(c, T_ECHO, "a", 1, NULL, 0, 0, call_cb, &k), 0);
    assert_true(run_until(e, call_done, &k, WAIT_MS));
    assert_int_equal(k.result, -EACCES);
    assert_false(proto_conn_is_open(c));
    assert_int_equal(proto_conn_request(c, T_ECHO, "a", 1, NULL, 0, 0, call_cb, &k), -EACCES);

    /* Well past several backoff periods: still one attempt, one refusal. */
    run_for(e, 400);
    proto_msgr_get_stats(e->cli.m, &cs);
    proto_msgr_get_stats(e->srv.m, &ss);
    assert_int_equal(cs.connects, 1);
    assert_int_equal(cs.refused, 1);
    assert_int_equal(ss.accepted, 1);
    assert_int_equal(ss.refused, 1);
    assert_int_equal(e->srv.opened, 0);
    assert_int_equal(k.fired, 1);
}

/* An entity the server's keyring does not know is refused. */
static void test_msgr_unknown_entity_refused(void **state)
{
    struct tenv *e = *state;
    uint8_t key[PROTO_KEY_LEN];
    struct call k = {0};
    struct proto_conn *c;

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    assert_int_equal(proto_key_generate(key), 0);
    add_key(e->kr_cli, "client.ghost", key);
    struct proto_msgr_opts o = opts_for("client.ghost", e->kr_cli);
    client_start_opts(e, &o);
    assert_int_equal(proto_msgr_connect(e->cli.m, e->srv.addr, NULL, &c), 0);
    assert_int_equal(proto_conn_request(c, T_ECHO, "a", 1, NULL, 0, 0, call_cb, &k), 0);
    assert_true(run_until(e, call_done, &k, WAIT_MS));
    assert_int_equal(k.result, -EACCES);
    assert_int_equal(e->srv.opened, 0);
}

/* The client expects another entity at that address: it refuses the server. */
static void test_msgr_unexpected_peer_refused(void **state)
{
    struct tenv *e = *state;
    uint8_t key[PROTO_KEY_LEN];
    struct call k = {0};
    struct proto_conn *c;
    struct proto_msgr_stats st;

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    assert_int_equal(proto_key_generate(key), 0);
    add_key(e->kr_cli, "osd.9", key);
    client_start(e);
    assert_int_equal(proto_msgr_connect(e->cli.m, e->srv.addr, "osd.9", &c), 0);
    assert_int_equal(proto_conn_request(c, T_ECHO, "a", 1, NULL, 0, 0, call_cb, &k), 0);
    assert_true(run_until(e, call_done, &k, WAIT_MS));
    assert_int_equal(k.result, -EACCES);
    run_for(e, 100);
    proto_msgr_get_stats(e->cli.m, &st);
    assert_int_equal(st.connects, 1);
    assert_int_equal(e->srv.opened, 0);
}

static bool conn_reconnected(void *arg)
{
    struct tenv *e = arg;
    return e->srv.m && e->srv.opened > 0;
}

/* The server goes away: the request in flight fails with -ECONNRESET, the
 * client retries with backoff (not in a storm), and once the server is back
 * a request queued meanwhile succeeds. */
static void test_msgr_server_restart_reconnects(void **state)
{
    struct tenv *e = *state;
    struct call inflight = {0}, queued = {0};
    struct proto_msgr_stats st;
    char addr[128];

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    snprintf(addr, sizeof(addr), "%s", e->srv.addr);
    client_start(e);
    struct proto_conn *c = connect_open(e, addr);
    check_echo(e, c, 100);
    e->srv.hold = true;
    assert_int_equal(proto_conn_request(c, T_ECHO, "a", 1, NULL, 0, 0, call_cb, &inflight), 0);
    assert_true(wait_count(e, &e->srv.nheld, 1));

    server_stop(e);
    e->srv = (struct server){0};
    assert_true(run_until(e, call_done, &inflight, WAIT_MS));
    assert_int_equal(inflight.result, -ECONNRESET);
    proto_msgr_get_stats(e->cli.m, &st);
    uint64_t before = st.connects;
    /* Backoff 50, 100, 200 ms: about three attempts in 400 ms, not hundreds. */
    run_for(e, 400);
    proto_msgr_get_stats(e->cli.m, &st);
    assert_true(st.connects - before >= 1);
    assert_true(st.connects - before <= 5);
    assert_int_equal(proto_conn_request(c, T_ECHO, "b", 1, NULL, 0, 0, call_cb, &queued), 0);

    assert_int_equal(server_start(e, addr), 0);
    assert_true(run_until(e, conn_reconnected, e, WAIT_MS));
    assert_true(run_until(e, call_done, &queued, WAIT_MS));
    assert_int_equal(queued.result, 0);
    assert_true(proto_conn_is_open(c));
    check_echo(e, c, 1000);
    call_fini(&queued);
}

/* Garbage from a raw socket: the server logs, closes that connection and
 * keeps serving everyone else. */
static void test_msgr_garbage_closes_only_that_conn(void **state)
{
    struct tenv *e = *state;
    static const char junk[] = "GET / HTTP/1.1\r\nHost: cairn\r\n\r\n";
    struct proto_msgr_stats st;

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    client_start(e);
    struct proto_conn *c = connect_open(e, e->srv.addr);
    int fd = raw_connect(e->srv.addr);
    assert_int_equal(write(fd, junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
    assert_true(run_until(e, raw_closed, &fd, WAIT_MS));
    close(fd);
    proto_msgr_get_stats(e->srv.m, &st);
    assert_int_equal(st.bad_streams, 1);
    assert_int_equal(e->srv.closed, 0); /* it never opened, so no on_close */
    check_echo(e, c, 10);

    /* A well-formed header with data, under the limits of an open
     * connection but before authentication: refused before any allocation. */
    struct proto_frame_header h = {.type = PROTO_MSG_HELLO, .data_len = 1u << 20};
    uint8_t raw[PROTO_FRAME_HEADER_LEN];
    proto_frame_header_encode(&h, raw);
    fd = raw_connect(e->srv.addr);
    assert_int_equal(write(fd, raw, sizeof(raw)), (ssize_t)sizeof(raw));
    assert_true(run_until(e, raw_closed, &fd, WAIT_MS));
    close(fd);
    proto_msgr_get_stats(e->srv.m, &st);
    assert_int_equal(st.bad_streams, 2);
    check_echo(e, c, 10);
}

enum raw_step { RAW_HELLO, RAW_AUTH, RAW_JUNK_META, RAW_ECHO, RAW_RESULT_OK };

struct raw_case {
    const char *entity;
    size_t nonce_len;
    unsigned version;
    enum raw_step then;
    bool refused; /* else counted as a bad stream */
};

/* A raw peer breaking the handshake in each possible way: the server
 * closes, counts it as refused or as a bad stream, and never opens. */
static void test_msgr_handshake_violations(void **state)
{
    struct tenv *e = *state;
    static const struct raw_case cases[] = {
        {"client.admin", 32, 1, RAW_AUTH, true},       /* bad proof */
        {"client.nobody", 32, 1, RAW_HELLO, true},     /* unknown entity */
        {"Bad Name", 32, 1, RAW_HELLO, true},          /* invalid entity */
        {"client.admin", 32, 0, RAW_HELLO, true},      /* no version */
        {"client.admin", 16, 1, RAW_HELLO, false},     /* short nonce */
        {"client.admin", 32, 1, RAW_JUNK_META, false}, /* AUTH not protobuf */
        {"client.admin", 32, 1, RAW_ECHO, false},      /* application frame too early */
        {"client.admin", 32, 1, RAW_RESULT_OK, false}, /* acceptance before AUTH */
    };
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    uint8_t meta[128];
    struct proto_msgr_stats st;
    uint64_t want_refused = 0, want_bad = 0;

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct raw_case *rc = &cases[i];
        int fd = raw_connect(e->srv.addr);
        raw_send_frame(fd, PROTO_MSG_HELLO, meta,
                       hello_meta(meta, rc->entity, rc->nonce_len, rc->version));
        meta[0] = 0x0a; /* AUTH: field 1, proof */
        meta[1] = PROTO_PROOF_LEN;
        memset(meta + 2, 0, PROTO_PROOF_LEN);
        if (rc->then == RAW_AUTH)
            raw_send_frame(fd, PROTO_MSG_AUTH, meta, 2 + PROTO_PROOF_LEN);
        else if (rc->then == RAW_JUNK_META)
            raw_send_frame(fd, PROTO_MSG_AUTH, junk, sizeof(junk));
        else if (rc->then == RAW_ECHO)
            raw_send_frame(fd, T_ECHO, NULL, 0);
        else if (rc->then == RAW_RESULT_OK)
            raw_send_frame(fd, PROTO_MSG_AUTH_RESULT, NULL, 0);
        assert_true(run_until(e, raw_closed, &fd, WAIT_MS));
        close(fd);
        proto_msgr_get_stats(e->srv.m, &st);
        *(rc->refused ? &want_refused : &want_bad) += 1;
        assert_int_equal(st.refused, want_refused);
        assert_int_equal(st.bad_streams, want_bad);
    }
    assert_int_equal(st.refused, 4);
    assert_int_equal(st.bad_streams, 4);
    assert_int_equal(e->srv.opened, 0);
}

/* A peer that connects and says nothing is closed after the handshake timeout. */
static void test_msgr_handshake_timeout_closes_silent_peer(void **state)
{
    struct tenv *e = *state;
    char addr[128];
    struct proto_msgr_opts o = opts_for("osd.0", e->kr_srv);

    o.handshake_timeout_ms = 150;
    unix_addr(e, "hs.sock", addr, sizeof(addr));
    assert_int_equal(server_start_opts(e, addr, &o), 0);
    uint64_t t0 = cairn_now_ns();
    int fd = raw_connect(e->srv.addr);
    assert_true(run_until(e, raw_closed, &fd, WAIT_MS));
    close(fd);
    assert_true(cairn_now_ns() - t0 >= 140u * 1000000u);
}

/* Frames over the limits: refused at the sender (-EMSGSIZE) when over its
 * own limits, and by the receiver, which drops the connection, otherwise. */
static void test_msgr_oversize_frame_refused(void **state)
{
    struct tenv *e = *state;
    struct proto_msgr_opts o = opts_for("osd.0", e->kr_srv);
    struct call k = {0};
    size_t big = 128u << 10;
    uint8_t *data = calloc(1, big);
    struct proto_msgr_stats st;

    o.limits.data_max = 64u << 10;
    assert_int_equal(server_start_opts(e, "127.0.0.1:0", &o), 0);
    client_start(e);
    struct proto_conn *c = connect_open(e, e->srv.addr);
    assert_int_equal(proto_conn_request(c, T_ECHO, NULL, 0, data, big, 0, call_cb, &k), 0);
    assert_true(run_until(e, call_done, &k, WAIT_MS));
    assert_int_equal(k.result, -ECONNRESET);
    proto_msgr_get_stats(e->srv.m, &st);
    assert_int_equal(st.bad_streams, 1);
    assert_true(run_until(e, conn_open, c, WAIT_MS)); /* and it reconnects */
    check_echo(e, c, 1000);
    proto_msgr_destroy(e->cli.m);
    e->cli = (struct client){0};

    o = opts_for("client.admin", e->kr_cli);
    o.limits.data_max = 64u << 10;
    client_start_opts(e, &o);
    c = connect_open(e, e->srv.addr);
    assert_int_equal(proto_conn_request(c, T_ECHO, NULL, 0, data, big, 0, call_cb, &k), -EMSGSIZE);
    assert_int_equal(proto_conn_send(c, T_ECHO, NULL, 0, data, big), -EMSGSIZE);
    assert_int_equal(proto_conn_send(c, PROTO_MSG_HELLO, NULL, 0, NULL, 0), -EINVAL);
    free(data);
}

/* The per-connection queue is bounded in bytes. */
static void test_msgr_queue_bound_enobufs(void **state)
{
    struct tenv *e = *state;
    struct proto_msgr_opts o = opts_for("client.admin", e->kr_cli);
    struct call k1 = {0}, k2 = {0};
    size_t len = 600u << 10;
    uint8_t *data = calloc(1, len);
    struct proto_conn *c;

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    o.queue_max_bytes = 1u << 20;
    client_start_opts(e, &o);
    assert_int_equal(proto_msgr_connect(e->cli.m, e->srv.addr, "osd.0", &c), 0);
    assert_int_equal(proto_conn_request(c, T_ECHO, NULL, 0, data, len, 0, call_cb, &k1), 0);
    assert_int_equal(proto_conn_request(c, T_ECHO, NULL, 0, data, len, 0, call_cb, &k2), -ENOBUFS);
    assert_int_equal(proto_conn_send(c, T_ECHO, NULL, 0, data, len), -ENOBUFS);
    /* The queued one is sent after the handshake and answered. */
    assert_true(run_until(e, call_done, &k1, WAIT_MS));
    assert_int_equal(k1.result, 0);
    assert_int_equal(k1.reply.hdr.data_len, len);
    assert_int_equal(k2.fired, 0);
    call_fini(&k1);
    free(data);
}

/* Blackhole: traffic vanishes (the request times out, the server sees
 * nothing); switched off, the connection works again. */
static void test_msgr_blackhole_drops_then_restores(void **state)
{
    struct tenv *e = *state;
    struct call k = {0};

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    client_start(e);
    struct proto_conn *c = connect_open(e, e->srv.addr);
    check_echo(e, c, 10);
    unsigned seen = e->srv.messages;
    proto_conn_set_blackhole(c, true);
    assert_int_equal(proto_conn_request(c, T_ECHO, "a", 1, NULL, 0, 150, call_cb, &k), 0);
    assert_true(run_until(e, call_done, &k, WAIT_MS));
    assert_int_equal(k.result, -ETIMEDOUT);
    assert_int_equal(e->srv.messages, seen);
    proto_conn_set_blackhole(c, false);
    assert_true(proto_conn_is_open(c));
    check_echo(e, c, 10);
}

/* Destroying the messenger cancels every pending request: sent ones,
 * and ones queued on a connection still trying to connect. */
static void test_msgr_destroy_cancels_pending(void **state)
{
    struct tenv *e = *state;
    struct call k[4] = {{0}};
    struct proto_conn *c, *dead;
    char nowhere[128];

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    snprintf(nowhere, sizeof(nowhere), "%s", e->srv.addr);
    server_stop(e);
    e->srv = (struct server){0};
    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    e->srv.hold = true;
    client_start(e);
    c = connect_open(e, e->srv.addr);
    assert_int_equal(proto_msgr_connect(e->cli.m, nowhere, NULL, &dead), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(proto_conn_request(c, T_ECHO, "a", 1, NULL, 0, 0, call_cb, &k[i]), 0);
    assert_int_equal(proto_conn_request(dead, T_ECHO, "a", 1, NULL, 0, 0, call_cb, &k[3]), 0);
    assert_true(wait_count(e, &e->srv.nheld, 3));
    run_for(e, 60); /* the dead one fails to connect and backs off */
    assert_false(proto_conn_is_open(dead));

    proto_msgr_destroy(e->cli.m);
    e->cli.m = NULL;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(k[i].fired, 1);
        assert_int_equal(k[i].result, -ECANCELED);
    }
    assert_int_equal(e->cli.closed, 2);
}

/* proto_conn_close from inside a reply callback, with more requests
 * pending on that connection: they get -ECANCELED, nothing is touched after free. */
static struct proto_conn *close_target;

static void close_in_cb(int result, struct proto_frame *reply, void *arg)
{
    call_cb(result, reply, arg);
    proto_conn_close(close_target);
}

static void test_msgr_close_from_callback(void **state)
{
    struct tenv *e = *state;
    struct call first = {0}, other = {0};

    assert_int_equal(server_start(e, "127.0.0.1:0"), 0);
    e->srv.hold = true;
    client_start(e);
    close_target = connect_open(e, e->srv.addr);
    assert_int_equal(
        proto_conn_request(close_target, T_ECHO, "a", 1, NULL, 0, 0, close_in_cb, &first), 0);
    assert_int_equal(proto_conn_request(close_target, T_ECHO, "b", 1, NULL, 0, 0, call_cb, &other),
                     0);
    assert_true(wait_count(e, &e->srv.nheld, 2));
    struct held *h = &e->srv.held[0];
    assert_int_equal(proto_conn_reply(h->conn, h->f.hdr.txid, T_ECHO + 1, NULL, 0, NULL, 0), 0);
    assert_true(run_until(e, call_done, &first, WAIT_MS));
    assert_int_equal(first.result, 0);
    assert_int_equal(other.fired, 1);
    assert_int_equal(other.result, -ECANCELED);
    assert_int_equal(e->cli.closed, 1);
    call_fini(&first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_msgr_roundtrip_tcp, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_roundtrip_unix, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_mixed_sizes_in_flight, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_listen_refuses_live_socket_and_bad_addresses,
                                        env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_out_of_order_replies, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_timeout_then_late_reply_ignored, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_wrong_key_refused_without_retry, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_unknown_entity_refused, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_unexpected_peer_refused, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_server_restart_reconnects, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_garbage_closes_only_that_conn, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_handshake_timeout_closes_silent_peer, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_handshake_violations, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_oversize_frame_refused, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_queue_bound_enobufs, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_blackhole_drops_then_restores, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_destroy_cancels_pending, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_msgr_close_from_callback, env_setup, env_teardown),
    };
    const char *dbg = getenv("CAIRN_TEST_DEBUG");

    cairn_log_set_entity("test_msgr");
    if (dbg)
        cairn_log_set_debug(dbg);
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    libevent_global_shutdown();
    return r;
}

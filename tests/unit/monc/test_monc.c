/* Monitor client tests: mon_host parsing, and monc against fake monitors,
 * which are real messengers on loopback in the same process and event_base
 * answering PROTO_MSG_MON_* requests from a script (hunting past dead or
 * hung monitors, -EAGAIN, -EREMOTE, wrong keys, subscriptions that survive
 * a monitor's death, cancellation). The loop is driven until a condition
 * holds or a deadline passes; nothing sleeps. */
#include "tests/unit/support/evloop.h"
#include "common/clock.h"
#include "common/log.h"
#include "protocol/monc.h"
#include "protocol/msg_types.h"
#include "protocol/msgr.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h> /* before cmocka.h, which needs it */

#include <cmocka.h>

#define WAIT_MS 5000u
#define N_FAKES 3
#define MAX_HELD 16

struct held {
    struct proto_conn *conn;
    uint64_t txid;
};

/* A scripted monitor. */
struct fakemon {
    struct tenv *e;
    char name[8];
    struct proto_msgr *m;
    char addr[128];
    char leader[8]; /* what STATUS says; "" = no leader */
    int script[8];  /* results of the next commands; then 0 */
    unsigned n_script, next;
    bool hold_cmds;        /* never answer commands and GET_MAP */
    bool hold_status;      /* answer STATUS only on release_status() */
    char remote_addr[128]; /* leader_addr sent with -EREMOTE */
    unsigned cmds, statuses, subs, beacons;
    int pg_stats_result;         /* PG_STATS: the answer's result; 1 = garbage data */
    uint32_t beacon_pgs;         /* PGs in the last beacon's stats */
    uint64_t beacon_store_used;  /* its store's used bytes; UINT64_MAX: none */
    uint64_t sub_have;           /* have_epoch of the last SUBSCRIBE */
    struct proto_conn *sub_conn; /* the subscriber */
    struct held held[MAX_HELD];
    unsigned nheld;
};

struct tenv {
    struct event_base *base;
    struct event *tick;
    struct proto_keyring *kr_srv, *kr_cli;
    struct fakemon fakes[N_FAKES];
    struct proto_map *map; /* what the fakes serve */
    struct proto_msgr *cm; /* the client's messenger */
    struct proto_monc *monc;
};

struct result {
    unsigned fired;
    int result;
    bool has_reply;
    struct proto_mon_reply reply;
    struct proto_map *map;
    uint64_t at_ns;
};

/* ---- loop driving ---- */

static bool run_until(struct tenv *e, pred_fn pred, void *arg, unsigned ms)
{
    return t_loop_until(e->base, pred, arg, ms);
}

static bool fired(void *arg)
{
    return ((struct result *)arg)->fired > 0;
}

static bool wait_result(struct tenv *e, struct result *res)
{
    return run_until(e, fired, res, WAIT_MS);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* ---- fake monitors ---- */

static void fake_reply(struct fakemon *f, struct proto_conn *conn, uint64_t txid,
                       const struct proto_mon_reply *reply, bool with_map)
{
    uint8_t *meta = NULL, *data = NULL;
    size_t meta_len = 0, data_len = 0;

    assert_int_equal(proto_mon_reply_encode(reply, &meta, &meta_len), 0);
    if (with_map)
        assert_int_equal(proto_map_encode(f->e->map, &data, &data_len), 0);
    assert_int_equal(
        proto_conn_reply(conn, txid, PROTO_MSG_MON_COMMAND, meta, meta_len, data, data_len), 0);
    free(meta);
    free(data);
}

static void fake_status(struct fakemon *f, struct proto_conn *conn, uint64_t txid)
{
    struct proto_mon_reply *r = calloc(1, sizeof(*r));

    proto_mon_reply_init(r);
    r->has_status = true;
    snprintf(r->status.leader, sizeof(r->status.leader), "%s", f->leader);
    r->status.epoch = f->e->map->epoch;
    if (f->leader[0]) {
        r->status.n_quorum = 1;
        snprintf(r->status.quorum[0], sizeof(r->status.quorum[0]), "%s", f->leader);
    }
    fake_reply(f, conn, txid, r, false);
    free(r);
}

static void fake_command(struct fakemon *f, struct proto_conn *conn, const struct proto_frame *fr)
{
    struct proto_mon_cmd cmd;
    struct proto_mon_reply *r = calloc(1, sizeof(*r));

    assert_int_equal(proto_mon_cmd_decode(fr->meta, fr->hdr.meta_len, &cmd), 0);
    f->cmds++;
    proto_mon_reply_init(r);
    r->result = f->next < f->n_script ? f->script[f->next++] : 0;
    if (r->result == -EAGAIN)
        snprintf(r->message, sizeof(r->message), "no leader");
    if (r->result == -EREMOTE)
        snprintf(r->leader_addr, sizeof(r->leader_addr), "%s", f->remote_addr);
    if (r->result == 0)
        snprintf(r->message, sizeof(r->message), "done by %s: %s", f->name, cmd.name);
    r->epoch = f->e->map->epoch;
    fake_reply(f, conn, fr->hdr.txid, r, false);
    free(r);
}

static void fake_map_request(struct fakemon *f, struct proto_conn *conn,
                             const struct proto_frame *fr)
{
    struct proto_mon_reply *r = calloc(1, sizeof(*r));
    uint64_t have = 0;

    assert_int_equal(proto_mon_map_request_decode(fr->meta, fr->hdr.meta_len, &have), 0);
    if (fr->hdr.type == PROTO_MSG_MON_SUBSCRIBE) {
        f->subs++;
        f->sub_have = have;
        f->sub_conn = conn;
    }
    proto_mon_reply_init(r);
    fake_reply(f, conn, fr->hdr.txid, r, have < f->e->map->epoch);
    free(r);
}

/* PG_STATS: two PGs and two OSDs' usage, an error, or (pg_stats_result 1)
 * data that is no PgStatsReply. */
static void fake_pg_stats(struct fakemon *f, struct proto_conn *conn, uint64_t txid)
{
    struct proto_pg_stat pgs[2] = {{.pool = 1, .ps = 0x1f, .state = PROTO_PGS_ACTIVE,
                                    .n_acting = 2, .acting = {2, 0}},
                                   {.pool = 1, .ps = 2, .objects_missing = 9}};
    struct proto_osd_usage usage[2] = {{.osd = 0, .bytes_total = 1u << 30, .bytes_used = 4096},
                                       {.osd = 2, .bytes_total = 2u << 30}};
    struct proto_pg_stats st = {
        .n = 2, .pgs = pgs, .objects_per_s = 1.5, .n_usage = 2, .usage = usage};
    struct proto_mon_reply r;
    uint8_t *meta, *data = NULL;
    size_t meta_len, data_len = 0;
    static uint8_t garbage[] = {0x0a, 0x7f, 0x01};

    proto_mon_reply_init(&r);
    r.result = f->pg_stats_result < 0 ? f->pg_stats_result : 0;
    assert_int_equal(proto_mon_reply_encode(&r, &meta, &meta_len), 0);
    if (f->pg_stats_result == 0)
        assert_int_equal(proto_mon_pg_stats_encode(&st, &data, &data_len), 0);
    assert_int_equal(proto_conn_reply(conn, txid, PROTO_MSG_MON_PG_STATS, meta, meta_len,
                                      f->pg_stats_result == 1 ? garbage : data,
                                      f->pg_stats_result == 1 ? sizeof(garbage) : data_len),
                     0);
    free(meta);
    free(data);
}

static void fake_beacon(struct fakemon *f, const struct proto_frame *fr)
{
    struct proto_mon_cmd cmd;
    struct proto_pg_stats st;

    assert_int_equal(proto_mon_beacon_decode(fr->meta, fr->hdr.meta_len, &cmd, &st), 0);
    f->beacons++;
    f->beacon_pgs = st.n;
    f->beacon_store_used = st.has_store ? st.store.bytes_used : UINT64_MAX;
    proto_pg_stats_fini(&st);
}

static void fake_on_message(struct proto_conn *conn, struct proto_frame *fr, void *arg)
{
    struct fakemon *f = arg;

    switch (fr->hdr.type) {
    case PROTO_MSG_MON_STATUS:
        f->statuses++;
        if (f->hold_status && f->nheld < MAX_HELD)
            f->held[f->nheld++] = (struct held){conn, fr->hdr.txid};
        else
            fake_status(f, conn, fr->hdr.txid);
        break;
    case PROTO_MSG_MON_COMMAND:
        if (!f->hold_cmds)
            fake_command(f, conn, fr);
        break;
    case PROTO_MSG_MON_GET_MAP:
    case PROTO_MSG_MON_SUBSCRIBE:
        if (!f->hold_cmds || fr->hdr.type == PROTO_MSG_MON_SUBSCRIBE)
            fake_map_request(f, conn, fr);
        break;
    case PROTO_MSG_MON_BEACON:
        fake_beacon(f, fr);
        break;
    case PROTO_MSG_MON_PG_STATS:
        fake_pg_stats(f, conn, fr->hdr.txid);
        break;
    default:
        fail_msg("unexpected type %u", fr->hdr.type);
    }
    proto_frame_free(fr);
}

static void fake_on_close(struct proto_conn *conn, int reason, void *arg)
{
    struct fakemon *f = arg;

    if (f->sub_conn == conn)
        f->sub_conn = NULL;
    for (unsigned i = 0; i < f->nheld; i++)
        if (f->held[i].conn == conn)
            f->held[i--] = f->held[--f->nheld];
}

static void release_status(struct fakemon *f)
{
    f->hold_status = false;
    for (unsigned i = 0; i < f->nheld; i++)
        fake_status(f, f->held[i].conn, f->held[i].txid);
    f->nheld = 0;
}

static void fake_start(struct tenv *e, unsigned i)
{
    static const struct proto_msgr_handlers h = {.on_message = fake_on_message,
                                                 .on_close = fake_on_close};
    struct fakemon *f = &e->fakes[i];
    char entity[16];

    f->e = e;
    snprintf(f->name, sizeof(f->name), "%c", 'a' + i);
    snprintf(entity, sizeof(entity), "mon.%s", f->name);
    struct proto_msgr_opts o = {.entity = entity, .keyring = e->kr_srv};
    assert_int_equal(proto_msgr_create(e->base, &o, &h, f, &f->m), 0);
    assert_int_equal(proto_msgr_listen(f->m, "127.0.0.1:0"), 0);
    assert_int_equal(proto_msgr_listen_addr(f->m, f->addr, sizeof(f->addr)), 0);
    snprintf(f->leader, sizeof(f->leader), "a");
}

/* Kills a fake monitor: its port then refuses connections. */
static void fake_stop(struct fakemon *f)
{
    proto_msgr_destroy(f->m);
    f->m = NULL;
    f->sub_conn = NULL;
    f->nheld = 0;
}

static void fake_publish(struct fakemon *f)
{
    uint8_t *data;
    size_t len;

    assert_non_null(f->sub_conn);
    assert_int_equal(proto_map_encode(f->e->map, &data, &len), 0);
    assert_int_equal(proto_conn_send(f->sub_conn, PROTO_MSG_MON_MAP_UPDATE, NULL, 0, data, len), 0);
    free(data);
}

/* ---- the client ---- */

static void cli_on_message(struct proto_conn *conn, struct proto_frame *fr, void *arg)
{
    struct tenv *e = arg;

    if (!proto_monc_handle_message(e->monc, conn, fr))
        proto_frame_free(fr);
}

/* Creates the monc over the fakes listed in @which ("abc"; 'x' = a dead
 * address), with short timeouts. */
static void client_start(struct tenv *e, const char *which, uint32_t op_timeout_ms)
{
    static const struct proto_msgr_handlers h = {.on_message = cli_on_message};
    struct proto_map_mon mons[N_FAKES + 1];
    uint32_t n = 0;

    struct proto_msgr_opts o = {.entity = "client.admin", .keyring = e->kr_cli};
    assert_int_equal(proto_msgr_create(e->base, &o, &h, e, &e->cm), 0);
    for (const char *w = which; *w; w++, n++) {
        if (*w == 'x') {
            snprintf(mons[n].name, sizeof(mons[n].name), "x");
            snprintf(mons[n].addr, sizeof(mons[n].addr), "127.0.0.1:1");
            continue;
        }
        struct fakemon *f = &e->fakes[*w - 'a'];
        snprintf(mons[n].name, sizeof(mons[n].name), "%s", f->name);
        snprintf(mons[n].addr, sizeof(mons[n].addr), "%s", f->addr);
    }
    struct proto_monc_opts mo = {.mons = mons,
                                 .n_mons = n,
                                 .probe_timeout_ms = 300,
                                 .request_timeout_ms = 400,
                                 .op_timeout_ms = op_timeout_ms,
                                 .backoff_min_ms = 20,
                                 .backoff_max_ms = 100,
                                 .keepalive_ms = 100};
    assert_int_equal(proto_monc_create(e->base, e->cm, &mo, &e->monc), 0);
}

static void reply_cb(int result, const struct proto_mon_reply *reply, void *arg)
{
    struct result *res = arg;

    res->fired++;
    res->result = result;
    res->at_ns = cairn_now_ns();
    res->has_reply = reply != NULL;
    if (reply)
        res->reply = *reply;
}

static void map_cb(int result, struct proto_map *map, void *arg)
{
    struct result *res = arg;

    res->fired++;
    res->result = result;
    res->map = map;
}

struct subs {
    unsigned calls;
    uint64_t last; /* epoch of the last map delivered */
    uint64_t want; /* what wait_epoch() waits for */
};

static void sub_cb(const struct proto_map *map, void *arg)
{
    struct subs *s = arg;

    if (s->calls > 0)
        assert_true(map->epoch > s->last);
    s->last = map->epoch;
    s->calls++;
}

static int command(struct tenv *e, const char *name, struct result *res)
{
    struct proto_mon_cmd cmd;

    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_CREATE);
    snprintf(cmd.name, sizeof(cmd.name), "%s", name);
    memset(res, 0, sizeof(*res));
    return proto_monc_command(e->monc, &cmd, reply_cb, res);
}

/* ---- setup ---- */

static int setup(void **state)
{
    struct tenv *e = calloc(1, sizeof(*e));
    uint8_t key[PROTO_KEY_LEN];
    static const char *const entities[] = {"client.admin", "mon.a", "mon.b", "mon.c"};

    cairn_log_set_level(CAIRN_LOG_ERROR);
    e->base = event_base_new();
    struct timeval tv = {0, 20000};
    e->tick = event_new(e->base, -1, EV_PERSIST, tick_cb, NULL);
    event_add(e->tick, &tv);
    e->kr_srv = proto_keyring_create();
    e->kr_cli = proto_keyring_create();
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(proto_key_generate(key), 0);
        proto_keyring_set(e->kr_srv, entities[i], key);
        proto_keyring_set(e->kr_cli, entities[i], key);
    }
    e->map = proto_map_create();
    e->map->epoch = 1;
    for (unsigned i = 0; i < N_FAKES; i++)
        fake_start(e, i);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct tenv *e = *state;

    proto_monc_destroy(e->monc);
    if (e->cm)
        proto_msgr_destroy(e->cm);
    for (unsigned i = 0; i < N_FAKES; i++)
        if (e->fakes[i].m)
            proto_msgr_destroy(e->fakes[i].m);
    proto_map_destroy(e->map);
    proto_keyring_destroy(e->kr_srv);
    proto_keyring_destroy(e->kr_cli);
    event_free(e->tick);
    event_base_free(e->base);
    free(e);
    return 0;
}

/* ---- mon_host parsing ---- */

static void test_parse_mon_host_accepts_tcp_v6_and_unix(void **state)
{
    struct proto_map_mon mons[PROTO_MAP_MAX_MONS];
    uint32_t n = 0;
    char err[160] = "";

    assert_int_equal(proto_monc_parse_mon_host("a=127.0.0.1:6789,b=[::1]:6790,c=unix:/x", mons,
                                               PROTO_MAP_MAX_MONS, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 3);
    assert_string_equal(mons[0].name, "a");
    assert_string_equal(mons[0].addr, "127.0.0.1:6789");
    assert_string_equal(mons[1].name, "b");
    assert_string_equal(mons[1].addr, "[::1]:6790");
    assert_string_equal(mons[2].name, "c");
    assert_string_equal(mons[2].addr, "unix:/x");
    assert_int_equal(proto_monc_parse_mon_host("  mon.a = 10.0.0.1:1 ,  b=10.0.0.2:2  ", mons,
                                               PROTO_MAP_MAX_MONS, &n, NULL, 0),
                     0);
    assert_int_equal(n, 2);
    assert_string_equal(mons[0].name, "a");
    assert_string_equal(mons[0].addr, "10.0.0.1:1");
    assert_string_equal(mons[1].addr, "10.0.0.2:2");
}

static void expect_parse_error(const char *text, int want, const char *reason)
{
    struct proto_map_mon mons[PROTO_MAP_MAX_MONS];
    uint32_t n = 99;
    char err[160] = "";

    assert_int_equal(
        proto_monc_parse_mon_host(text, mons, PROTO_MAP_MAX_MONS, &n, err, sizeof(err)), want);
    assert_int_equal(n, 99); /* untouched on failure */
    if (!strstr(err, reason))
        fail_msg("'%s': error '%s' lacks '%s'", text, err, reason);
}

static void test_parse_mon_host_rejects_bad_lists(void **state)
{
    expect_parse_error("", -EINVAL, "empty");
    expect_parse_error("   ", -EINVAL, "empty");
    expect_parse_error("127.0.0.1:6789", -EINVAL, "expected NAME=ADDR");
    expect_parse_error("a=127.0.0.1:6789,", -EINVAL, "empty entry");
    expect_parse_error("a=127.0.0.1:6789,,b=127.0.0.1:1", -EINVAL, "empty entry");
    expect_parse_error("a=", -EINVAL, "bad address");
    expect_parse_error("a=127.0.0.1", -EINVAL, "bad address");
    expect_parse_error("a=localhost:6789", -EINVAL, "bad address");
    expect_parse_error("a=127.0.0.1:99999", -EINVAL, "bad address");
    expect_parse_error("=127.0.0.1:1", -EINVAL, "bad monitor name");
    expect_parse_error("-a=127.0.0.1:1", -EINVAL, "bad monitor name");
    expect_parse_error("a b=127.0.0.1:1", -EINVAL, "bad monitor name");
    expect_parse_error("a=127.0.0.1:1,a=127.0.0.1:2", -EINVAL, "duplicate monitor name 'a'");
    expect_parse_error("a=127.0.0.1:1,b=127.0.0.1:1", -EINVAL, "duplicate address");
    expect_parse_error("a=1.1.1.1:1,b=1.1.1.1:2,c=1.1.1.1:3,d=1.1.1.1:4,e=1.1.1.1:5,"
                       "f=1.1.1.1:6,g=1.1.1.1:7,h=1.1.1.1:8",
                       -ENOSPC, "more monitors");
    assert_int_equal(proto_monc_parse_mon_host(NULL, NULL, 1, NULL, NULL, 0), -EINVAL);
}

static void test_create_rejects_bad_options(void **state)
{
    struct tenv *e = *state;
    struct proto_monc *monc = NULL;
    struct proto_map_mon bad = {.name = "a", .addr = "nowhere"};
    struct proto_monc_opts o = {.mons = &bad, .n_mons = 1};

    struct proto_msgr_opts mo = {.entity = "client.admin", .keyring = e->kr_cli};
    assert_int_equal(proto_msgr_create(e->base, &mo, NULL, NULL, &e->cm), 0);
    assert_int_equal(proto_monc_create(e->base, e->cm, &o, &monc), -EINVAL);
    o.n_mons = 0;
    assert_int_equal(proto_monc_create(e->base, e->cm, &o, &monc), -EINVAL);
    assert_null(monc);
}

/* ---- hunting ---- */

static void test_command_skips_a_dead_monitor(void **state)
{
    struct tenv *e = *state;
    struct result res;

    client_start(e, "xb", 5000);
    assert_int_equal(command(e, "rbd", &res), 0);
    assert_true(wait_result(e, &res));
    assert_int_equal(res.result, 0);
    assert_true(res.has_reply);
    assert_string_equal(res.reply.message, "done by b: rbd");
    assert_string_equal(proto_monc_session_mon(e->monc), "b");
    /* A second call reuses the session. */
    struct proto_monc_stats st;
    assert_int_equal(command(e, "two", &res), 0);
    assert_true(wait_result(e, &res));
    proto_monc_get_stats(e->monc, &st);
    assert_int_equal(st.sessions, 1);
    assert_int_equal(e->fakes[1].cmds, 2);
}

static void test_no_monitor_times_out_at_the_deadline(void **state)
{
    struct tenv *e = *state;
    struct result res;
    uint64_t start = cairn_now_ns();

    fake_stop(&e->fakes[0]);
    client_start(e, "xa", 700);
    assert_int_equal(command(e, "rbd", &res), 0);
    assert_true(wait_result(e, &res));
    assert_int_equal(res.result, -ETIMEDOUT);
    assert_false(res.has_reply);
    uint64_t took_ms = (res.at_ns - start) / 1000000u;
    assert_true(took_ms >= 690 && took_ms < 1500);
}

static void test_hung_monitor_is_left_for_another(void **state)
{
    struct tenv *e = *state;
    struct result res;

    e->fakes[0].hold_cmds = true;
    e->fakes[1].hold_status = true; /* a wins the hunt */
    client_start(e, "ab", 5000);
    assert_int_equal(command(e, "rbd", &res), 0);
    run_until(e, fired, &res, 100);
    release_status(&e->fakes[1]);
    assert_true(wait_result(e, &res));
    assert_int_equal(res.result, 0);
    assert_string_equal(res.reply.message, "done by b: rbd");
    assert_int_equal(e->fakes[0].cmds, 0);
    struct proto_monc_stats st;
    proto_monc_get_stats(e->monc, &st);
    assert_true(st.resends >= 1);
    assert_true(st.hunts >= 2);
}

static void test_prefers_a_monitor_that_knows_the_leader(void **state)
{
    struct tenv *e = *state;
    struct result res;

    e->fakes[0].leader[0] = '\0';
    e->fakes[1].hold_status = true;
    client_start(e, "ab", 5000);
    assert_int_equal(command(e, "x", &res), 0);
    run_until(e, fired, &res, 100);
    assert_int_equal(res.fired, 0); /* a answered, but knows no leader: still waiting on b */
    release_status(&e->fakes[1]);
    assert_true(wait_result(e, &res));
    assert_string_equal(proto_monc_session_mon(e->monc), "b");
}

static void test_eagain_is_retried_with_backoff(void **state)
{
    struct tenv *e = *state;
    struct result res;

    e->fakes[0].script[0] = -EAGAIN;
    e->fakes[0].script[1] = -EAGAIN;
    e->fakes[0].n_script = 2;
    client_start(e, "a", 5000);
    assert_int_equal(command(e, "rbd", &res), 0);
    assert_true(wait_result(e, &res));
    assert_int_equal(res.result, 0);
    assert_int_equal(e->fakes[0].cmds, 3);
}

static void test_eagain_until_the_deadline_reports_the_answer(void **state)
{
    struct tenv *e = *state;
    struct result res;

    for (unsigned i = 0; i < 8; i++)
        e->fakes[0].script[i] = -EAGAIN;
    e->fakes[0].n_script = 8;
    client_start(e, "a", 400);
    assert_int_equal(command(e, "rbd", &res), 0);
    assert_true(wait_result(e, &res));
    assert_int_equal(res.result, -EAGAIN);
    assert_true(res.has_reply);
    assert_string_equal(res.reply.message, "no leader");
}

static void test_eremote_redirects_to_the_leader(void **state)
{
    struct tenv *e = *state;
    struct result res;

    e->fakes[0].script[0] = -EREMOTE;
    e->fakes[0].n_script = 1;
    snprintf(e->fakes[0].remote_addr, sizeof(e->fakes[0].remote_addr), "%s", e->fakes[1].addr);
    e->fakes[1].hold_status = true; /* a wins the hunt */
    client_start(e, "ab", 5000);
    assert_int_equal(command(e, "rbd", &res), 0);
    assert_true(wait_result(e, &res));
    assert_int_equal(res.result, 0);
    assert_string_equal(res.reply.message, "done by b: rbd");
    assert_string_equal(proto_monc_session_mon(e->monc), "b");
}

static void test_status_is_asked_of_the_leader(void **state)
{
    struct tenv *e = *state;
    struct result res = {0};

    snprintf(e->fakes[0].leader, sizeof(e->fakes[0].leader), "b");
    snprintf(e->fakes[1].leader, sizeof(e->fakes[1].leader), "b");
    e->fakes[1].hold_status = true; /* a wins the hunt */
    client_start(e, "ab", 5000);
    assert_int_equal(proto_monc_status(e->monc, reply_cb, &res), 0);
    run_until(e, fired, &res, 200);
    assert_int_equal(res.fired, 0); /* a answered "the leader is b": asking b */
    release_status(&e->fakes[1]);
    assert_true(wait_result(e, &res));
    assert_int_equal(res.result, 0);
    assert_string_equal(res.reply.status.leader, "b");
    assert_string_equal(proto_monc_session_mon(e->monc), "b");
    assert_true(e->fakes[1].statuses >= 1);
}

static void test_wrong_key_fails_with_eacces_at_once(void **state)
{
    struct tenv *e = *state;
    struct result res;
    uint8_t key[PROTO_KEY_LEN];
    uint64_t start = cairn_now_ns();

    assert_int_equal(proto_key_generate(key), 0);
    proto_keyring_set(e->kr_cli, "client.admin", key);
    client_start(e, "abc", 10000);
    assert_int_equal(command(e, "rbd", &res), 0);
    assert_true(wait_result(e, &res));
    assert_int_equal(res.result, -EACCES);
    assert_true(res.at_ns - start < 2000000000ull);
}

/* ---- maps ---- */

static void test_get_map_hands_over_a_copy(void **state)
{
    struct tenv *e = *state;
    struct result res = {0};

    e->map->epoch = 7;
    client_start(e, "ab", 5000);
    assert_int_equal(proto_monc_get_map(e->monc, map_cb, &res), 0);
    assert_true(wait_result(e, &res));
    assert_int_equal(res.result, 0);
    assert_non_null(res.map);
    assert_int_equal(res.map->epoch, 7);
    assert_ptr_not_equal(res.map, proto_monc_map(e->monc));
    assert_int_equal(proto_monc_map(e->monc)->epoch, 7);
    proto_map_destroy(res.map);
}

static bool sub_has(void *arg)
{
    struct subs *s = arg;
    return s->calls > 0 && s->last >= s->want;
}

static bool wait_epoch(struct tenv *e, struct subs *s, uint64_t epoch)
{
    s->want = epoch;
    return run_until(e, sub_has, s, WAIT_MS);
}

static void test_subscription_survives_the_monitor_dying(void **state)
{
    struct tenv *e = *state;
    struct subs s = {0};

    e->fakes[1].hold_status = true; /* a wins the first hunt */
    client_start(e, "ab", 5000);
    assert_int_equal(proto_monc_subscribe(e->monc, sub_cb, &s), 0);
    assert_int_equal(proto_monc_subscribe(e->monc, sub_cb, &s), -EBUSY);
    assert_true(wait_epoch(e, &s, 1));
    e->map->epoch = 2;
    fake_publish(&e->fakes[0]);
    assert_true(wait_epoch(e, &s, 2));
    fake_publish(&e->fakes[0]); /* the same epoch again: not delivered */
    e->map->epoch = 3;
    fake_publish(&e->fakes[0]);
    assert_true(wait_epoch(e, &s, 3));
    assert_int_equal(s.calls, 3);

    release_status(&e->fakes[1]);
    fake_stop(&e->fakes[0]);
    /* The keepalive notices; monc hunts, finds b, resubscribes from e3. */
    struct fakemon *b = &e->fakes[1];
    for (uint64_t end = cairn_now_ns() + 3000000000ull; !b->sub_conn && cairn_now_ns() < end;)
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_non_null(b->sub_conn);
    assert_int_equal(b->sub_have, 3);
    e->map->epoch = 4;
    fake_publish(b);
    assert_true(wait_epoch(e, &s, 4));
    assert_int_equal(s.calls, 4);
    assert_string_equal(proto_monc_session_mon(e->monc), "b");
}

static void test_keepalive_fetches_a_missed_epoch(void **state)
{
    struct tenv *e = *state;
    struct subs s = {0};

    client_start(e, "a", 5000);
    assert_int_equal(proto_monc_subscribe(e->monc, sub_cb, &s), 0);
    assert_true(wait_epoch(e, &s, 1));
    e->map->epoch = 5; /* committed, but no MAP_UPDATE sent */
    assert_true(wait_epoch(e, &s, 5));
}

/* ---- beacons, cancellation ---- */

static void test_beacon_needs_a_session(void **state)
{
    struct tenv *e = *state;
    struct proto_mon_cmd cmd;
    struct result res;

    client_start(e, "a", 5000);
    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_BEACON);
    cmd.id = 3;
    assert_int_equal(proto_monc_beacon(e->monc, &cmd), -ENOTCONN);
    assert_int_equal(proto_monc_command(e->monc, &cmd, reply_cb, &res), -EINVAL);
    cmd.op = PROTO_MON_OSD_IN;
    assert_int_equal(proto_monc_beacon(e->monc, &cmd), -EINVAL);
    assert_int_equal(command(e, "x", &res), 0);
    assert_true(wait_result(e, &res));
    cmd.op = PROTO_MON_OSD_BEACON;
    assert_int_equal(proto_monc_beacon(e->monc, &cmd), 0);
    for (uint64_t end = cairn_now_ns() + 2000000000ull;
         !e->fakes[0].beacons && cairn_now_ns() < end;)
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_equal(e->fakes[0].beacons, 1);
}

struct stats_result {
    unsigned fired;
    int result;
    bool has_reply, has_stats;
    struct proto_pg_stats stats; /* taken from the callback */
};

static void stats_cb(int result, const struct proto_mon_reply *reply,
                     struct proto_pg_stats *stats, void *arg)
{
    struct stats_result *res = arg;

    res->fired++;
    res->result = result;
    res->has_reply = reply != NULL;
    res->has_stats = stats != NULL;
    if (stats) {
        res->stats = *stats;
        memset(stats, 0, sizeof(*stats)); /* taken */
    }
}

static bool stats_fired(void *arg)
{
    return ((struct stats_result *)arg)->fired > 0;
}

static void test_pg_stats_and_beacons_with_stats(void **state)
{
    struct tenv *e = *state;
    struct proto_pg_stat pg = {.pool = 1, .ps = 3, .state = PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN};
    struct proto_pg_stats mine = {.n = 1, .pgs = &pg, .beacon_ms = 1000};
    struct stats_result res = {0};
    struct proto_mon_cmd cmd;
    struct result done;

    client_start(e, "a", 5000);
    assert_int_equal(proto_monc_pg_stats(e->monc, NULL, NULL), -EINVAL);
    assert_int_equal(proto_monc_pg_stats(e->monc, stats_cb, &res), 0);
    assert_true(run_until(e, stats_fired, &res, WAIT_MS));
    assert_int_equal(res.result, 0);
    assert_true(res.has_reply && res.has_stats);
    assert_int_equal(res.stats.n, 2);
    assert_int_equal(res.stats.pgs[0].ps, 0x1f);
    assert_int_equal(res.stats.pgs[0].acting[0], 2);
    assert_int_equal(res.stats.pgs[1].objects_missing, 9);
    assert_true(res.stats.objects_per_s == 1.5);
    assert_int_equal(res.stats.n_usage, 2);
    assert_int_equal(res.stats.usage[1].osd, 2);
    assert_true(res.stats.usage[0].bytes_used == 4096);
    assert_true(res.stats.usage[1].bytes_total == 2u << 30);
    proto_pg_stats_fini(&res.stats);

    /* The monitor has none: its -errno, no stats. Garbage: -EBADMSG. */
    e->fakes[0].pg_stats_result = -ENODATA;
    memset(&res, 0, sizeof(res));
    assert_int_equal(proto_monc_pg_stats(e->monc, stats_cb, &res), 0);
    assert_true(run_until(e, stats_fired, &res, WAIT_MS));
    assert_int_equal(res.result, -ENODATA);
    assert_true(res.has_reply);
    assert_false(res.has_stats);
    e->fakes[0].pg_stats_result = 1;
    memset(&res, 0, sizeof(res));
    assert_int_equal(proto_monc_pg_stats(e->monc, stats_cb, &res), 0);
    assert_true(run_until(e, stats_fired, &res, WAIT_MS));
    assert_int_equal(res.result, -EBADMSG);
    assert_false(res.has_reply || res.has_stats);

    /* A beacon carries the stats; bad stats are refused before sending. */
    assert_int_equal(command(e, "x", &done), 0);
    assert_true(wait_result(e, &done));
    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_BEACON);
    cmd.id = 3;
    mine.beacon_ms = 0;
    assert_int_equal(proto_monc_beacon_stats(e->monc, &cmd, &mine), -EINVAL);
    mine.beacon_ms = 1000;
    mine.has_store = true;
    mine.store = (struct proto_osd_usage){.osd = 3, .bytes_total = 8192, .bytes_used = 8193};
    assert_int_equal(proto_monc_beacon_stats(e->monc, &cmd, &mine), -EINVAL);
    mine.store.bytes_used = 4096;
    assert_int_equal(proto_monc_beacon_stats(e->monc, &cmd, &mine), 0);
    for (uint64_t end = cairn_now_ns() + 2000000000ull;
         !e->fakes[0].beacons && cairn_now_ns() < end;)
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_equal(e->fakes[0].beacons, 1);
    assert_int_equal(e->fakes[0].beacon_pgs, 1);
    assert_true(e->fakes[0].beacon_store_used == 4096);
}

static void test_destroy_cancels_pending_calls(void **state)
{
    struct tenv *e = *state;
    struct result res, res2 = {0};

    e->fakes[0].hold_cmds = true;
    client_start(e, "a", 5000);
    assert_int_equal(command(e, "x", &res), 0);
    assert_int_equal(proto_monc_get_map(e->monc, map_cb, &res2), 0);
    run_until(e, fired, &res, 100);
    assert_int_equal(res.fired, 0);
    proto_monc_destroy(e->monc);
    e->monc = NULL;
    assert_int_equal(res.fired, 1);
    assert_int_equal(res.result, -ECANCELED);
    assert_int_equal(res2.fired, 1);
    assert_int_equal(res2.result, -ECANCELED);
    assert_null(res2.map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_mon_host_accepts_tcp_v6_and_unix),
        cmocka_unit_test(test_parse_mon_host_rejects_bad_lists),
        cmocka_unit_test_setup_teardown(test_create_rejects_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_command_skips_a_dead_monitor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_monitor_times_out_at_the_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hung_monitor_is_left_for_another, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefers_a_monitor_that_knows_the_leader, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_eagain_is_retried_with_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eagain_until_the_deadline_reports_the_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_eremote_redirects_to_the_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_is_asked_of_the_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_fails_with_eacces_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_map_hands_over_a_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscription_survives_the_monitor_dying, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_fetches_a_missed_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_beacon_needs_a_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_stats_and_beacons_with_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_cancels_pending_calls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

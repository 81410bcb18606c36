/* libcairn's objecter against fakes: a monitor (mon.a) and two OSDs (osd.0,
 * osd.1), each a real messenger on one fake thread with its own event_base.
 * The OSDs answer PROTO_MSG_OSD_OP, PROTO_MSG_OSD_LIST and
 * PROTO_MSG_OSD_PG_CMD from a scripted mode (answer, -ESTALE once, drop the
 * connection once, stay silent, send a bad read crc, -EBUSY once, scrub
 * slowly) and log every request they get, so the tests see where and with
 * which tid each attempt went. Waiting is on conditions with
 * deadlines. */
#include "client/cairn_admin.h"
#include "client/internal.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "protocol/msg_types.h"
#include "protocol/msgr.h"
#include "protocol/osd_op.h"
#include "protocol/placement.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h> /* before cmocka.h, which needs it */

#include <cmocka.h>

#define POOL 1
#define N_OSDS 2
#define LOG_MAX 64
#define SCRUB_SLOW_MS 1500u /* M_SLOW: how long a scrub runs */

enum mode {
    M_ANSWER = 0,   /* run the op against the fake object */
    M_STALE_BEHIND, /* -ESTALE once at the client's epoch (the OSD lags), then answer */
    M_STALE_MOVE,   /* -ESTALE once naming the next epoch, which moves the PG off this
                       OSD (marked down) and is pushed to the subscriber */
    M_STALE_QUIET,  /* the same, but the new map is not pushed: the client must ask */
    M_RESET_ONCE,   /* close the connection once, then answer */
    M_SILENT,       /* never answer */
    M_BAD_CRC,      /* answer reads with a wrong crc */
    M_BUSY,         /* PG commands: -EBUSY once, then answer */
    M_SLOW,         /* PG commands: a scrub that ends SCRUB_SLOW_MS after the first
                       attempt; resent attempts attach to it */
};

struct sent {
    int osd;
    uint64_t client_id, tid, epoch;
    uint32_t pg, op; /* PG commands */
};

struct fake;

struct fake_osd {
    struct fake *fk;
    int id;
    struct proto_msgr *m;
    char addr[128];
};

struct fake {
    struct event_base *base;
    struct event *tick;
    struct proto_msgr *mon;
    struct fake_osd osds[N_OSDS];
    struct proto_keyring *kr;
    char mon_addr[128];
    pthread_t thread;
    struct proto_map *map;
    struct proto_conn *sub;
    /* Shared with the test thread, under lock. */
    pthread_mutex_t lock;
    enum mode mode;
    struct sent log[LOG_MAX];
    unsigned n_log;
    uint8_t content[64]; /* the one fake object's data */
    size_t content_len;
    volatile int stop;
    /* M_SLOW (the fake's thread): the attempts waiting for the scrub's end. */
    struct proto_conn *scrub_conns[LOG_MAX];
    uint64_t scrub_txids[LOG_MAX];
    unsigned n_scrub;
    uint32_t scrub_op;
    uint64_t scrub_end_ns;
};

struct tenv {
    char dir[64];
    char conf[128];
    char keyring[128];
    struct fake fk;
    struct cairn *c;
};

/* ---- the fake monitor ---- */

/* Answers a status probe (a leader: "a") or a map request. */
static void mon_reply(struct fake *fk, struct proto_conn *conn, uint64_t txid, bool status)
{
    struct proto_mon_reply r;
    uint8_t *meta = NULL, *data = NULL;
    size_t meta_len = 0, data_len = 0;

    proto_mon_reply_init(&r);
    r.epoch = fk->map->epoch;
    if (status) {
        r.has_status = true;
        snprintf(r.status.leader, sizeof(r.status.leader), "a");
        r.status.n_quorum = 1;
        snprintf(r.status.quorum[0], sizeof(r.status.quorum[0]), "a");
        r.status.epoch = fk->map->epoch;
    }
    assert_int_equal(proto_mon_reply_encode(&r, &meta, &meta_len), 0);
    if (!status)
        assert_int_equal(proto_map_encode(fk->map, &data, &data_len), 0);
    proto_conn_reply(conn, txid, PROTO_MSG_MON_GET_MAP, meta, meta_len, data, data_len);
    free(meta);
    free(data);
}

static void mon_on_message(struct proto_conn *conn, struct proto_frame *f, void *arg)
{
    struct fake *fk = arg;

    if (f->hdr.type == PROTO_MSG_MON_SUBSCRIBE)
        fk->sub = conn;
    if (f->hdr.type == PROTO_MSG_MON_SUBSCRIBE || f->hdr.type == PROTO_MSG_MON_GET_MAP ||
        f->hdr.type == PROTO_MSG_MON_STATUS)
        mon_reply(fk, conn, f->hdr.txid, f->hdr.type == PROTO_MSG_MON_STATUS);
    proto_frame_free(f);
}

static void mon_on_close(struct proto_conn *conn, int reason, void *arg)
{
    struct fake *fk = arg;

    if (fk->sub == conn)
        fk->sub = NULL;
}

static void publish(struct fake *fk)
{
    uint8_t *data;
    size_t len;

    fk->map->epoch++;
    if (!fk->sub)
        return;
    assert_int_equal(proto_map_encode(fk->map, &data, &len), 0);
    proto_conn_send(fk->sub, PROTO_MSG_MON_MAP_UPDATE, NULL, 0, data, len);
    free(data);
}

/* ---- the fake OSDs ---- */

static void osd_send(struct proto_conn *conn, uint64_t txid, const struct proto_osd_reply *r,
                     const void *data, size_t len)
{
    uint8_t *meta = NULL;
    size_t meta_len = 0;

    assert_int_equal(proto_osd_reply_encode(r, &meta, &meta_len), 0);
    proto_conn_reply(conn, txid, PROTO_MSG_OSD_OP, meta, meta_len, data, len);
    free(meta);
}

/* Runs @op on the fake object (one per fake: enough for these tests). */
static void osd_answer(struct fake *fk, struct proto_conn *conn, const struct proto_frame *f,
                       const struct proto_osd_op *op, bool bad_crc)
{
    struct proto_osd_step_result res[PROTO_OSD_STEPS_MAX];
    struct proto_osd_reply r;
    uint8_t out[64];
    size_t out_len = 0;

    proto_osd_reply_init(&r);
    r.epoch = fk->map->epoch;
    memset(res, 0, sizeof(res));
    for (uint32_t i = 0; i < op->n_steps && r.result == 0; i++) {
        const struct proto_osd_step *s = &op->steps[i];
        if (s->type == PROTO_OSD_WRITE_FULL) {
            if (cairn_crc32c(0, f->data + s->data_off, s->len) != s->crc) {
                r.result = -EBADMSG;
                r.failed_step = (int32_t)i;
                break;
            }
            fk->content_len = s->len < sizeof(fk->content) ? s->len : sizeof(fk->content);
            memcpy(fk->content, f->data + s->data_off, fk->content_len);
        } else if (s->type == PROTO_OSD_READ) {
            size_t n = fk->content_len < s->len ? fk->content_len : s->len;
            memcpy(out + out_len, fk->content, n);
            res[i].len = n;
            res[i].crc = cairn_crc32c(0, fk->content, n) + bad_crc;
            out_len += n;
        } else if (s->type == PROTO_OSD_STAT) {
            res[i].size = fk->content_len;
            res[i].mtime_ns = 7;
        }
    }
    r.version = 5;
    if (r.result == 0) {
        r.n_results = op->n_steps;
        r.results = res;
    }
    osd_send(conn, f->hdr.txid, &r, out, r.result == 0 ? out_len : 0);
}

static void osd_op(struct fake_osd *o, struct proto_conn *conn, const struct proto_frame *f)
{
    struct fake *fk = o->fk;
    struct proto_osd_op op;
    char err[128];

    assert_int_equal(
        proto_osd_op_decode(f->meta, f->hdr.meta_len, f->hdr.data_len, &op, err, sizeof(err)), 0);
    pthread_mutex_lock(&fk->lock);
    if (fk->n_log < LOG_MAX)
        fk->log[fk->n_log++] = (struct sent){o->id, op.client_id, op.tid, op.epoch, 0, 0};
    enum mode mode = fk->mode;
    if (mode != M_SILENT && mode != M_BAD_CRC)
        fk->mode = M_ANSWER;
    pthread_mutex_unlock(&fk->lock);
    if (mode == M_STALE_BEHIND || mode == M_STALE_MOVE || mode == M_STALE_QUIET) {
        struct proto_osd_reply r;
        proto_osd_reply_init(&r);
        r.result = -ESTALE;
        r.epoch = fk->map->epoch + (mode != M_STALE_BEHIND);
        osd_send(conn, f->hdr.txid, &r, NULL, 0);
        if (mode != M_STALE_BEHIND) {
            fk->map->osds[o->id].in = false; /* out: placement moves its PGs */
            if (mode == M_STALE_MOVE)
                publish(fk);
            else
                fk->map->epoch++;
        }
    } else if (mode == M_RESET_ONCE) {
        proto_conn_close(conn);
    } else if (mode != M_SILENT) {
        osd_answer(fk, conn, f, &op, mode == M_BAD_CRC);
    }
    proto_osd_op_release(&op);
}

/* Lists "obj.0".."obj.9" that fall into the PG asked for. */
static void osd_list(struct fake_osd *o, struct proto_conn *conn, const struct proto_frame *f)
{
    const struct proto_map_pool *pool = proto_map_pool(o->fk->map, POOL);
    struct proto_osd_list req;
    struct proto_osd_list_reply r = {0};
    char names[10][16];
    const char *ptrs[10];
    uint8_t *meta;
    size_t len;

    assert_int_equal(proto_osd_list_decode(f->meta, f->hdr.meta_len, &req), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(names[i], sizeof(names[i]), "obj.%d", i);
        if (proto_place_pg(pool, names[i], strlen(names[i])) != req.pg ||
            strcmp(names[i], req.after) <= 0)
            continue;
        if (req.max && r.n_names == req.max)
            r.more = true;
        else
            ptrs[r.n_names++] = names[i];
    }
    r.names = ptrs;
    r.epoch = o->fk->map->epoch;
    assert_int_equal(proto_osd_list_reply_encode(&r, &meta, &len), 0);
    proto_conn_reply(conn, f->hdr.txid, PROTO_MSG_OSD_LIST, meta, len, NULL, 0);
    free(meta);
}

static void pg_cmd_send(struct proto_conn *conn, uint64_t txid,
                        const struct proto_osd_pg_cmd_reply *r)
{
    uint8_t *meta = NULL;
    size_t len = 0;

    assert_int_equal(proto_osd_pg_cmd_reply_encode(r, &meta, &len), 0);
    proto_conn_reply(conn, txid, PROTO_MSG_OSD_PG_CMD, meta, len, NULL, 0);
    free(meta);
}

/* A scrub of 10 objects: clean, or for a deep scrub 2 inconsistent, 1 of
 * them repaired. */
static void pg_cmd_answer(struct fake *fk, struct proto_conn *conn, uint64_t txid, uint32_t op)
{
    struct proto_osd_pg_cmd_reply r = {.epoch = fk->map->epoch, .objects = 10, .duration_ms = 40};

    if (op == PROTO_OSD_PG_DEEP_SCRUB) {
        r.inconsistent = 2;
        r.repaired = 1;
    }
    pg_cmd_send(conn, txid, &r);
}

static void osd_pg_cmd(struct fake_osd *o, struct proto_conn *conn, const struct proto_frame *f)
{
    struct fake *fk = o->fk;
    struct proto_osd_pg_cmd cmd;
    struct proto_osd_pg_cmd_reply r = {.epoch = fk->map->epoch};

    assert_int_equal(proto_osd_pg_cmd_decode(f->meta, f->hdr.meta_len, &cmd), 0);
    pthread_mutex_lock(&fk->lock);
    if (fk->n_log < LOG_MAX)
        fk->log[fk->n_log++] = (struct sent){o->id, 0, 0, cmd.epoch, cmd.pg, cmd.op};
    enum mode mode = fk->mode;
    if (mode != M_SILENT && mode != M_SLOW)
        fk->mode = M_ANSWER;
    pthread_mutex_unlock(&fk->lock);
    if (mode == M_STALE_MOVE) {
        r.result = -ESTALE;
        r.epoch++;
        pg_cmd_send(conn, f->hdr.txid, &r);
        fk->map->osds[o->id].in = false;
        publish(fk);
    } else if (mode == M_BUSY) {
        r.result = -EBUSY;
        snprintf(r.message, sizeof(r.message), "pg %d.%x is peering", cmd.pool, cmd.pg);
        pg_cmd_send(conn, f->hdr.txid, &r);
    } else if (mode == M_SLOW && fk->n_scrub < LOG_MAX) {
        if (fk->n_scrub == 0)
            fk->scrub_end_ns = cairn_now_ns() + SCRUB_SLOW_MS * 1000000ull;
        fk->scrub_conns[fk->n_scrub] = conn;
        fk->scrub_txids[fk->n_scrub++] = f->hdr.txid;
        fk->scrub_op = cmd.op;
    } else if (mode != M_SILENT) {
        pg_cmd_answer(fk, conn, f->hdr.txid, cmd.op);
    }
}

static void osd_on_message(struct proto_conn *conn, struct proto_frame *f, void *arg)
{
    struct fake_osd *o = arg;

    if (f->hdr.type == PROTO_MSG_OSD_OP)
        osd_op(o, conn, f);
    else if (f->hdr.type == PROTO_MSG_OSD_LIST)
        osd_list(o, conn, f);
    else if (f->hdr.type == PROTO_MSG_OSD_PG_CMD)
        osd_pg_cmd(o, conn, f);
    proto_frame_free(f);
}

/* ---- the fake's thread ---- */

static void fake_tick(evutil_socket_t fd, short what, void *arg)
{
    struct fake *fk = arg;

    if (fk->n_scrub && cairn_now_ns() >= fk->scrub_end_ns) {
        for (unsigned i = 0; i < fk->n_scrub; i++) /* the client ignores all but the last */
            pg_cmd_answer(fk, fk->scrub_conns[i], fk->scrub_txids[i], fk->scrub_op);
        fk->n_scrub = 0;
    }
    if (fk->stop)
        event_base_loopbreak(fk->base);
}

static void *fake_main(void *arg)
{
    struct fake *fk = arg;

    event_base_dispatch(fk->base);
    return NULL;
}

static void fake_map(struct fake *fk)
{
    struct proto_map_pool p = {
        .id = POOL, .size = 1, .min_size = 1, .pg_num = 8, .failure_domain = PROTO_FD_OSD};

    fk->map = proto_map_create();
    fk->map->epoch = 1;
    snprintf(p.name, sizeof(p.name), "data");
    assert_int_equal(proto_map_add_mon(fk->map, "a", fk->mon_addr), 0);
    for (int i = 0; i < N_OSDS; i++) {
        assert_int_equal(proto_map_add_osd(fk->map, i, "h"), 0);
        snprintf(fk->map->osds[i].addr, sizeof(fk->map->osds[i].addr), "%s", fk->osds[i].addr);
        fk->map->osds[i].up = true;
    }
    assert_int_equal(proto_map_add_pool(fk->map, &p), 0);
}

static void fake_start(struct tenv *e)
{
    static const struct proto_msgr_handlers mh = {.on_message = mon_on_message,
                                                  .on_close = mon_on_close};
    static const struct proto_msgr_handlers oh = {.on_message = osd_on_message};
    struct fake *fk = &e->fk;
    struct proto_msgr_opts o = {.entity = "mon.a"};
    struct timeval tv = {0, 5000};
    char name[16];

    assert_int_equal(proto_keyring_load(e->keyring, &fk->kr), 0);
    o.keyring = fk->kr;
    fk->base = event_base_new();
    pthread_mutex_init(&fk->lock, NULL);
    assert_int_equal(proto_msgr_create(fk->base, &o, &mh, fk, &fk->mon), 0);
    assert_int_equal(proto_msgr_listen(fk->mon, "127.0.0.1:0"), 0);
    assert_int_equal(proto_msgr_listen_addr(fk->mon, fk->mon_addr, sizeof(fk->mon_addr)), 0);
    for (int i = 0; i < N_OSDS; i++) {
        struct fake_osd *osd = &fk->osds[i];
        snprintf(name, sizeof(name), "osd.%d", i);
        o.entity = name;
        osd->fk = fk;
        osd->id = i;
        assert_int_equal(proto_msgr_create(fk->base, &o, &oh, osd, &osd->m), 0);
        assert_int_equal(proto_msgr_listen(osd->m, "127.0.0.1:0"), 0);
        assert_int_equal(proto_msgr_listen_addr(osd->m, osd->addr, sizeof(osd->addr)), 0);
    }
    fake_map(fk);
    fk->tick = event_new(fk->base, -1, EV_PERSIST, fake_tick, fk);
    event_add(fk->tick, &tv);
    assert_int_equal(pthread_create(&fk->thread, NULL, fake_main, fk), 0);
}

static void fake_stop(struct fake *fk)
{
    if (!fk->base)
        return;
    fk->stop = 1;
    pthread_join(fk->thread, NULL);
    for (int i = 0; i < N_OSDS; i++)
        proto_msgr_destroy(fk->osds[i].m);
    proto_msgr_destroy(fk->mon);
    event_free(fk->tick);
    for (int i = 0; i < 8 && event_base_loop(fk->base, EVLOOP_NONBLOCK) == 0; i++)
        ;
    event_base_free(fk->base);
    proto_map_destroy(fk->map);
    proto_keyring_destroy(fk->kr);
    pthread_mutex_destroy(&fk->lock);
    fk->base = NULL;
}

static void fake_set_mode(struct fake *fk, enum mode mode)
{
    pthread_mutex_lock(&fk->lock);
    fk->mode = mode;
    pthread_mutex_unlock(&fk->lock);
}

static unsigned fake_log(struct fake *fk, struct sent *out, unsigned max)
{
    pthread_mutex_lock(&fk->lock);
    unsigned n = fk->n_log < max ? fk->n_log : max;
    memcpy(out, fk->log, n * sizeof(*out));
    pthread_mutex_unlock(&fk->lock);
    return n;
}

/* ---- setup ---- */

static void write_keyring(const char *path)
{
    static const char *const names[] = {"mon.a", "osd.0", "osd.1", "client.admin"};
    struct proto_keyring *kr = proto_keyring_create();
    uint8_t key[PROTO_KEY_LEN];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_int_equal(proto_key_generate(key), 0);
        proto_keyring_set(kr, names[i], key);
    }
    assert_int_equal(proto_keyring_save(kr, path), 0);
    proto_keyring_destroy(kr);
}

/* Starts the fakes and connects with client_op_timeout @op_timeout and
 * client_mount_timeout @mount_timeout (NULL: the default). */
static void start_with(struct tenv *e, const char *op_timeout, const char *mount_timeout)
{
    FILE *fp;

    fake_start(e);
    fp = fopen(e->conf, "w");
    assert_non_null(fp);
    fprintf(fp, "[global]\nmon_host = a=%s\nkeyring = %s\nclient_op_timeout = %s\n", e->fk.mon_addr,
            e->keyring, op_timeout);
    if (mount_timeout)
        fprintf(fp, "client_mount_timeout = %s\n", mount_timeout);
    fclose(fp);
    assert_int_equal(cairn_connect(e->conf, NULL, &e->c), 0);
}

static void start(struct tenv *e, const char *op_timeout)
{
    start_with(e, op_timeout, NULL);
}

static int setup(void **state)
{
    struct tenv *e = calloc(1, sizeof(*e));

    cairn_log_set_level(CAIRN_LOG_ERROR);
    snprintf(e->dir, sizeof(e->dir), "/tmp/cairn-test-objecter.XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->conf, sizeof(e->conf), "%s/cairn.conf", e->dir);
    snprintf(e->keyring, sizeof(e->keyring), "%s/keyring", e->dir);
    write_keyring(e->keyring);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct tenv *e = *state;

    cairn_shutdown(e->c);
    fake_stop(&e->fk);
    unlink(e->conf);
    unlink(e->keyring);
    rmdir(e->dir);
    free(e);
    return 0;
}

/* The primary of @oid in the fake's first map. */
static int primary_of(struct fake *fk, const char *oid)
{
    const struct proto_map_pool *pool = proto_map_pool(fk->map, POOL);
    int32_t up[4];

    uint32_t pg = proto_place_pg(pool, oid, strlen(oid));
    assert_true(proto_place_up(fk->map, pool, pg, up, 4) > 0);
    return up[0];
}

/* ---- tests ---- */

static void test_write_read_stat(void **state)
{
    struct tenv *e = *state;
    struct cairn_stat st = {0};
    char buf[32] = "";
    size_t n = 0;
    int32_t pool;

    start(e, "5s");
    assert_int_equal(cairn_pool_lookup(e->c, "data", &pool), 0);
    assert_int_equal(pool, POOL);
    assert_int_equal(cairn_pool_lookup(e->c, "nope", &pool), -ENOENT);
    assert_int_equal(cairn_write_full(e->c, POOL, "obj", "hello", 5), 0);
    assert_int_equal(cairn_read(e->c, POOL, "obj", 0, sizeof(buf), buf, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(cairn_stat(e->c, POOL, "obj", &st), 0);
    assert_int_equal(st.size, 5);
    assert_int_equal(st.version, 5);
    /* Every request went to the object's primary, each with a new tid. */
    struct sent log[LOG_MAX];
    unsigned k = fake_log(&e->fk, log, LOG_MAX);
    assert_int_equal(k, 3);
    for (unsigned i = 0; i < k; i++) {
        assert_int_equal(log[i].osd, primary_of(&e->fk, "obj"));
        assert_int_equal(log[i].client_id, log[0].client_id);
        assert_int_equal(log[i].tid, log[0].tid + i);
        assert_int_equal(log[i].epoch, 1);
    }
}

static void test_unknown_pool_is_enoent(void **state)
{
    struct tenv *e = *state;

    start(e, "5s");
    assert_int_equal(cairn_write_full(e->c, 77, "obj", "x", 1), -ENOENT);
    char why[128];
    cairn_error_string(e->c, -ENOENT, why, sizeof(why));
    assert_string_equal(why, "pool 77 does not exist");
}

/* -ESTALE from the old primary naming epoch 2, whose map moves the PG:
 * the op goes to the new primary with the same tid and epoch 2. */
static void stale_case(struct tenv *e, enum mode mode)
{
    struct sent log[LOG_MAX];

    start(e, "10s");
    int first = primary_of(&e->fk, "obj");
    fake_set_mode(&e->fk, mode);
    assert_int_equal(cairn_write_full(e->c, POOL, "obj", "x", 1), 0);
    unsigned k = fake_log(&e->fk, log, LOG_MAX);
    assert_int_equal(k, 2);
    assert_int_equal(log[0].osd, first);
    assert_int_equal(log[0].epoch, 1);
    assert_int_equal(log[1].osd, 1 - first);
    assert_int_equal(log[1].tid, log[0].tid);
    assert_int_equal(log[1].epoch, 2);
}

static void test_stale_then_map_change_resends_to_new_primary(void **state)
{
    stale_case(*state, M_STALE_MOVE);
}

/* The new epoch is never pushed: the client asks the monitors for it. */
static void test_stale_fetches_the_map(void **state)
{
    stale_case(*state, M_STALE_QUIET);
}

/* One failed attempt under @mode, then a resend to the same OSD with the
 * same identity. */
static void resend_case(struct tenv *e, enum mode mode)
{
    struct sent log[LOG_MAX];

    start(e, "10s");
    fake_set_mode(&e->fk, mode);
    assert_int_equal(cairn_write_full(e->c, POOL, "obj", "again", 5), 0);
    unsigned k = fake_log(&e->fk, log, LOG_MAX);
    assert_int_equal(k, 2);
    assert_int_equal(log[1].tid, log[0].tid);
    assert_int_equal(log[1].client_id, log[0].client_id);
    assert_int_equal(log[1].osd, log[0].osd);
    assert_int_equal(cairn__test_resends(e->c), 1);
}

/* The OSD's map is no newer than ours: it lags, so back off and resend. */
static void test_stale_from_a_lagging_osd_backs_off(void **state)
{
    resend_case(*state, M_STALE_BEHIND);
}

static void test_connection_reset_resends(void **state)
{
    resend_case(*state, M_RESET_ONCE);
}

static void test_bad_read_crc_is_eio(void **state)
{
    struct tenv *e = *state;
    char buf[16];
    size_t n = 99;

    start(e, "5s");
    assert_int_equal(cairn_write_full(e->c, POOL, "obj", "secret", 6), 0);
    fake_set_mode(&e->fk, M_BAD_CRC);
    memset(buf, 'z', sizeof(buf));
    assert_int_equal(cairn_read(e->c, POOL, "obj", 0, sizeof(buf), buf, &n), -EIO);
    assert_int_equal(n, 99);
    assert_int_equal(buf[0], 'z');
    fake_set_mode(&e->fk, M_ANSWER);
    cairn__test_corrupt_next_read(e->c);
    assert_int_equal(cairn_read(e->c, POOL, "obj", 0, sizeof(buf), buf, &n), -EIO);
    assert_int_equal(buf[0], 'z');
    assert_int_equal(cairn_read(e->c, POOL, "obj", 0, sizeof(buf), buf, &n), 0);
    assert_int_equal(n, 6);
}

static void test_corrupt_write_is_refused(void **state)
{
    struct tenv *e = *state;

    start(e, "5s");
    cairn__test_corrupt_next_write(e->c);
    assert_int_equal(cairn_write_full(e->c, POOL, "obj", "payload", 7), -EBADMSG);
    assert_int_equal(cairn_write_full(e->c, POOL, "obj", "payload", 7), 0);
}

static void test_silent_osd_times_out(void **state)
{
    struct tenv *e = *state;
    char why[256];

    start(e, "600ms");
    fake_set_mode(&e->fk, M_SILENT);
    uint64_t t0 = cairn_now_ns();
    assert_int_equal(cairn_write_full(e->c, POOL, "obj", "x", 1), -ETIMEDOUT);
    uint64_t ms = (cairn_now_ns() - t0) / 1000000u;
    assert_true(ms >= 590 && ms < 3000);
    cairn_error_string(e->c, -ETIMEDOUT, why, sizeof(why));
    assert_non_null(strstr(why, "no answer from osd."));
}

static int count(const char *name, void *arg)
{
    (*(unsigned *)arg)++;
    return strncmp(name, "obj.", 4) != 0;
}

static void test_list_walks_every_pg(void **state)
{
    struct tenv *e = *state;
    struct cairn_list_cursor cur = {0};
    unsigned seen = 0;

    start(e, "5s");
    while (!cur.done)
        assert_int_equal(cairn_list(e->c, POOL, &cur, 3, count, &seen), 0);
    assert_int_equal(seen, 10);
    assert_int_equal(cur.pg, 8);
}

/* The primary of PG @pg in the fake's first map. */
static int pg_primary(struct fake *fk, uint32_t pg)
{
    int32_t up[4];

    assert_true(proto_place_up(fk->map, proto_map_pool(fk->map, POOL), pg, up, 4) > 0);
    return up[0];
}

static void test_pg_scrub_asks_the_primary(void **state)
{
    struct tenv *e = *state;
    struct cairn_scrub_result res = {0};
    struct sent log[LOG_MAX];

    start(e, "5s");
    assert_int_equal(cairn_pg_scrub(e->c, POOL, 3, false, &res), 0);
    assert_true(res.objects == 10 && res.inconsistent == 0 && res.repaired == 0);
    assert_int_equal(res.duration_ms, 40);
    assert_int_equal(cairn_pg_scrub(e->c, POOL, 5, true, &res), 0);
    assert_true(res.objects == 10 && res.inconsistent == 2 && res.repaired == 1);
    unsigned k = fake_log(&e->fk, log, LOG_MAX);
    assert_int_equal(k, 2);
    assert_int_equal(log[0].osd, pg_primary(&e->fk, 3));
    assert_true(log[0].pg == 3 && log[0].op == PROTO_OSD_PG_SCRUB && log[0].epoch == 1);
    assert_int_equal(log[1].osd, pg_primary(&e->fk, 5));
    assert_true(log[1].pg == 5 && log[1].op == PROTO_OSD_PG_DEEP_SCRUB);
}

/* -EBUSY comes back with the primary's reason; @out stays untouched. */
static void test_pg_scrub_busy_passes_the_reason(void **state)
{
    struct tenv *e = *state;
    struct cairn_scrub_result res, before;
    char why[256];

    start(e, "5s");
    fake_set_mode(&e->fk, M_BUSY);
    memset(&res, 0x5a, sizeof(res));
    before = res;
    assert_int_equal(cairn_pg_scrub(e->c, POOL, 2, true, &res), -EBUSY);
    assert_memory_equal(&res, &before, sizeof(res));
    cairn_error_string(e->c, -EBUSY, why, sizeof(why));
    assert_string_equal(why, "pg 1.2 is peering");
    assert_int_equal(cairn_pg_scrub(e->c, POOL, 2, true, &res), 0);
}

static void test_pg_scrub_no_such_pool_or_pg(void **state)
{
    struct tenv *e = *state;
    struct cairn_scrub_result res;
    struct sent log[LOG_MAX];
    char why[256];

    start(e, "5s");
    assert_int_equal(cairn_pg_scrub(e->c, 77, 0, false, &res), -ENOENT);
    cairn_error_string(e->c, -ENOENT, why, sizeof(why));
    assert_string_equal(why, "pool 77 does not exist");
    assert_int_equal(cairn_pg_scrub(e->c, POOL, 8, false, &res), -ENOENT);
    cairn_error_string(e->c, -ENOENT, why, sizeof(why));
    assert_string_equal(why, "pg 1.8 does not exist (pool 1 has 8 PGs)");
    assert_int_equal(cairn_pg_scrub(e->c, -1, 0, false, &res), -ENOENT);
    assert_int_equal(cairn_pg_scrub(e->c, POOL, 0, false, NULL), -EINVAL);
    assert_int_equal(fake_log(&e->fk, log, LOG_MAX), 0);
}

/* A scrub that outlasts both an attempt and client_op_timeout: attempts
 * that go unanswered are resent to the same primary, and the answer comes
 * within the connection's timeout (client_mount_timeout, 30 s here). */
static void test_pg_scrub_outlasts_attempts(void **state)
{
    struct tenv *e = *state;
    struct cairn_scrub_result res = {0};
    struct sent log[LOG_MAX];

    start(e, "500ms");
    e->c->obj.attempt_timeout_ms = 300; /* before the call's post: ordered by c->lock */
    fake_set_mode(&e->fk, M_SLOW);
    uint64_t t0 = cairn_now_ns();
    assert_int_equal(cairn_pg_scrub(e->c, POOL, 1, true, &res), 0);
    uint64_t ms = (cairn_now_ns() - t0) / 1000000u;
    assert_true(ms >= SCRUB_SLOW_MS - 10 && ms < SCRUB_SLOW_MS + 2000);
    assert_true(res.objects == 10 && res.inconsistent == 2 && res.repaired == 1);
    assert_true(cairn__test_resends(e->c) >= 2);
    unsigned k = fake_log(&e->fk, log, LOG_MAX);
    assert_true(k >= 3);
    for (unsigned i = 0; i < k; i++)
        assert_true(log[i].osd == log[0].osd && log[i].pg == 1);
}

/* The bound is the connection's timeout, not client_op_timeout. */
static void test_pg_scrub_times_out_at_the_connection_timeout(void **state)
{
    struct tenv *e = *state;
    struct cairn_scrub_result res;
    char why[256];

    start_with(e, "200ms", "1s");
    fake_set_mode(&e->fk, M_SILENT);
    uint64_t t0 = cairn_now_ns();
    assert_int_equal(cairn_pg_scrub(e->c, POOL, 4, false, &res), -ETIMEDOUT);
    uint64_t ms = (cairn_now_ns() - t0) / 1000000u;
    assert_true(ms >= 990 && ms < 3000);
    cairn_error_string(e->c, -ETIMEDOUT, why, sizeof(why));
    assert_non_null(strstr(why, "no answer from osd."));
    assert_non_null(strstr(why, "within 1000 ms"));
}

static void test_pg_scrub_follows_a_moved_primary(void **state)
{
    struct tenv *e = *state;
    struct cairn_scrub_result res;
    struct sent log[LOG_MAX];

    start(e, "10s");
    int first = pg_primary(&e->fk, 6);
    fake_set_mode(&e->fk, M_STALE_MOVE);
    assert_int_equal(cairn_pg_scrub(e->c, POOL, 6, false, &res), 0);
    unsigned k = fake_log(&e->fk, log, LOG_MAX);
    assert_int_equal(k, 2);
    assert_int_equal(log[0].osd, first);
    assert_int_equal(log[1].osd, 1 - first);
    assert_true(log[1].pg == 6 && log[1].epoch == 2);
}

struct async_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int fired, result;
};

static void async_cb(int result, struct cairn_op *op, void *arg)
{
    struct async_state *as = arg;

    pthread_mutex_lock(&as->lock);
    as->fired++;
    as->result = result;
    pthread_cond_broadcast(&as->cond);
    pthread_mutex_unlock(&as->lock);
}

/* An async op in flight when the connection shuts down fires -ECANCELED. */
static void test_async_and_shutdown(void **state)
{
    struct tenv *e = *state;
    struct async_state as = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    struct cairn_op *op = cairn_op_create();

    start(e, "10s");
    assert_int_equal(cairn_op_write_full(op, "abc", 3), 0);
    assert_int_equal(cairn_op_exec_async(e->c, POOL, "obj", op, async_cb, &as), 0);
    pthread_mutex_lock(&as.lock);
    while (!as.fired)
        pthread_cond_wait(&as.cond, &as.lock);
    pthread_mutex_unlock(&as.lock);
    assert_int_equal(as.result, 0);
    assert_int_equal(cairn_op_exec_async(e->c, POOL, "obj", op, NULL, NULL), -EINVAL);
    fake_set_mode(&e->fk, M_SILENT);
    assert_int_equal(cairn_op_exec_async(e->c, POOL, "obj", op, async_cb, &as), 0);
    assert_int_equal(cairn_op_exec_async(e->c, POOL, "obj", op, async_cb, &as), -EBUSY);
    cairn_shutdown(e->c);
    e->c = NULL;
    assert_int_equal(as.fired, 2);
    assert_int_equal(as.result, -ECANCELED);
    cairn_op_destroy(op);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_read_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_pool_is_enoent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_then_map_change_resends_to_new_primary, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_fetches_the_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_from_a_lagging_osd_backs_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_reset_resends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_read_crc_is_eio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_write_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_osd_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_walks_every_pg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_and_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_scrub_asks_the_primary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_scrub_busy_passes_the_reason, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_scrub_no_such_pool_or_pg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_scrub_outlasts_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_scrub_times_out_at_the_connection_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pg_scrub_follows_a_moved_primary, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

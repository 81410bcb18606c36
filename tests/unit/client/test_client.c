/* libcairn connection tests: config and keyring errors with their one-line
 * reasons, the bounded failure when no monitor answers, and the sync calls
 * (command, status, map copy, waiting for an epoch, shutdown) against a fake
 * monitor: a real messenger on its own thread and event_base answering
 * PROTO_MSG_MON_* requests. */
#include "client/cairn_admin.h"
#include "common/clock.h"
#include "common/log.h"
#include "protocol/msg_types.h"
#include "protocol/msgr.h"

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

struct fake {
    struct event_base *base;
    struct event *tick; /* publishes a new epoch when asked */
    struct proto_msgr *m;
    struct proto_keyring *kr;
    char addr[128];
    pthread_t thread;
    struct proto_map *map;
    struct proto_conn *sub; /* the subscriber */
    volatile int publish;   /* set by the test: bump the epoch and push it */
    volatile int stop;
};

struct tenv {
    char dir[64];
    char conf[128];
    char keyring[128];
    struct fake fake;
};

/* ---- the fake monitor ---- */

static void reply(struct proto_conn *conn, uint64_t txid, const struct proto_mon_reply *r,
                  const struct proto_map *map)
{
    uint8_t *meta = NULL, *data = NULL;
    size_t meta_len = 0, data_len = 0;

    assert_int_equal(proto_mon_reply_encode(r, &meta, &meta_len), 0);
    if (map)
        assert_int_equal(proto_map_encode(map, &data, &data_len), 0);
    proto_conn_reply(conn, txid, PROTO_MSG_MON_COMMAND, meta, meta_len, data, data_len);
    free(meta);
    free(data);
}

static void fake_on_message(struct proto_conn *conn, struct proto_frame *f, void *arg)
{
    struct fake *fk = arg;
    struct proto_mon_reply *r = calloc(1, sizeof(*r));
    struct proto_mon_cmd cmd;
    const struct proto_map *with = NULL;

    proto_mon_reply_init(r);
    r->epoch = fk->map->epoch;
    switch (f->hdr.type) {
    case PROTO_MSG_MON_STATUS:
        r->has_status = true;
        snprintf(r->status.leader, sizeof(r->status.leader), "a");
        r->status.n_quorum = 1;
        snprintf(r->status.quorum[0], sizeof(r->status.quorum[0]), "a");
        r->status.epoch = fk->map->epoch;
        break;
    case PROTO_MSG_MON_SUBSCRIBE:
        fk->sub = conn;
        /* fall through */
    case PROTO_MSG_MON_GET_MAP:
        with = fk->map;
        break;
    case PROTO_MSG_MON_COMMAND:
        assert_int_equal(proto_mon_cmd_decode(f->meta, f->hdr.meta_len, &cmd), 0);
        if (proto_map_pool_by_name(fk->map, cmd.name)) {
            r->result = -EEXIST;
            snprintf(r->message, sizeof(r->message), "pool '%s' already exists", cmd.name);
        } else {
            struct proto_map_pool p = {
                .id = (int32_t)fk->map->n_pools + 1, .size = 3, .min_size = 2, .pg_num = 8};
            snprintf(p.name, sizeof(p.name), "%.63s", cmd.name);
            assert_int_equal(proto_map_add_pool(fk->map, &p), 0);
            r->epoch = ++fk->map->epoch;
        }
        break;
    }
    reply(conn, f->hdr.txid, r, with);
    free(r);
    proto_frame_free(f);
}

static void fake_on_close(struct proto_conn *conn, int reason, void *arg)
{
    struct fake *fk = arg;

    if (fk->sub == conn)
        fk->sub = NULL;
}

static void fake_tick(evutil_socket_t fd, short what, void *arg)
{
    struct fake *fk = arg;
    uint8_t *data;
    size_t len;

    if (fk->stop)
        event_base_loopbreak(fk->base);
    if (!fk->publish || !fk->sub)
        return;
    fk->publish = 0;
    fk->map->epoch++;
    assert_int_equal(proto_map_encode(fk->map, &data, &len), 0);
    proto_conn_send(fk->sub, PROTO_MSG_MON_MAP_UPDATE, NULL, 0, data, len);
    free(data);
}

static void *fake_main(void *arg)
{
    struct fake *fk = arg;

    event_base_dispatch(fk->base);
    return NULL;
}

static void fake_start(struct tenv *e)
{
    static const struct proto_msgr_handlers h = {.on_message = fake_on_message,
                                                 .on_close = fake_on_close};
    struct fake *fk = &e->fake;
    struct proto_msgr_opts o = {.entity = "mon.a"};
    struct timeval tv = {0, 10000};

    assert_int_equal(proto_keyring_load(e->keyring, &fk->kr), 0);
    o.keyring = fk->kr;
    fk->base = event_base_new();
    fk->map = proto_map_create();
    fk->map->epoch = 1;
    assert_int_equal(proto_msgr_create(fk->base, &o, &h, fk, &fk->m), 0);
    assert_int_equal(proto_msgr_listen(fk->m, "127.0.0.1:0"), 0);
    assert_int_equal(proto_msgr_listen_addr(fk->m, fk->addr, sizeof(fk->addr)), 0);
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
    proto_msgr_destroy(fk->m);
    event_free(fk->tick);
    for (int i = 0; i < 8 && event_base_loop(fk->base, EVLOOP_NONBLOCK) == 0; i++)
        ;
    event_base_free(fk->base);
    proto_map_destroy(fk->map);
    proto_keyring_destroy(fk->kr);
    fk->base = NULL;
}

/* ---- files ---- */

static void write_file(const char *path, const char *fmt, ...)
{
    va_list ap;
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    va_start(ap, fmt);
    vfprintf(fp, fmt, ap);
    va_end(ap);
    fclose(fp);
}

static void write_keyring(struct tenv *e, bool with_admin)
{
    struct proto_keyring *kr = proto_keyring_create();
    uint8_t key[PROTO_KEY_LEN];

    assert_int_equal(proto_key_generate(key), 0);
    proto_keyring_set(kr, "mon.a", key);
    if (with_admin) {
        assert_int_equal(proto_key_generate(key), 0);
        proto_keyring_set(kr, "client.admin", key);
    }
    assert_int_equal(proto_keyring_save(kr, e->keyring), 0);
    proto_keyring_destroy(kr);
}

static void write_conf(struct tenv *e, const char *mon_host, const char *extra)
{
    write_file(e->conf, "[global]\nmon_host = %s\nkeyring = %s\n%s", mon_host, e->keyring, extra);
}

static int setup(void **state)
{
    struct tenv *e = calloc(1, sizeof(*e));

    cairn_log_set_level(CAIRN_LOG_ERROR);
    snprintf(e->dir, sizeof(e->dir), "/tmp/cairn-test-client.XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->conf, sizeof(e->conf), "%s/cairn.conf", e->dir);
    snprintf(e->keyring, sizeof(e->keyring), "%s/keyring", e->dir);
    write_keyring(e, true);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct tenv *e = *state;

    fake_stop(&e->fake);
    unlink(e->conf);
    unlink(e->keyring);
    rmdir(e->dir);
    free(e);
    return 0;
}

static int try_connect(struct tenv *e, uint32_t timeout_ms, char *err, size_t len,
                       struct cairn **out)
{
    struct cairn_connect_opts o = {
        .conf_path = e->conf, .timeout_ms = timeout_ms, .err = err, .err_len = len};
    err[0] = '\0';
    return cairn_connect_opts(&o, out);
}

/* ---- tests ---- */

static void test_connect_reports_config_errors(void **state)
{
    struct tenv *e = *state;
    struct cairn *c = NULL;
    char err[256];

    assert_int_equal(try_connect(e, 0, err, sizeof(err), &c), -ENOENT);
    assert_non_null(strstr(err, "cairn.conf not found"));
    write_conf(e, "a=nowhere", "");
    assert_int_equal(try_connect(e, 0, err, sizeof(err), &c), -EINVAL);
    assert_non_null(strstr(err, "mon_host: bad address 'nowhere'"));
    write_file(e->conf, "[global]\nkeyring = %s\n", e->keyring);
    assert_int_equal(try_connect(e, 0, err, sizeof(err), &c), -EINVAL);
    assert_non_null(strstr(err, "no mon_host option"));
    write_conf(e, "a=127.0.0.1:1", "client_mount_timeout = soon\n");
    assert_int_equal(try_connect(e, 0, err, sizeof(err), &c), -EINVAL);
    assert_non_null(strstr(err, "bad client_mount_timeout"));
    write_keyring(e, false);
    write_conf(e, "a=127.0.0.1:1", "");
    assert_int_equal(try_connect(e, 0, err, sizeof(err), &c), -EINVAL);
    assert_non_null(strstr(err, "has no key for client.admin"));
    struct cairn_connect_opts o = {
        .conf_path = e->conf, .entity = "admin", .err = err, .err_len = sizeof(err)};
    assert_int_equal(cairn_connect_opts(&o, &c), -EINVAL);
    assert_non_null(strstr(err, "bad entity name 'admin'"));
    assert_null(c);
}

static void test_connect_gives_up_within_the_timeout(void **state)
{
    struct tenv *e = *state;
    struct cairn *c = NULL;
    char err[256];
    uint64_t start = cairn_now_ns();

    write_conf(e, "a=127.0.0.1:1,b=127.0.0.1:2", "client_mount_timeout = 600ms\n");
    assert_int_equal(try_connect(e, 0, err, sizeof(err), &c), -ETIMEDOUT);
    uint64_t ms = (cairn_now_ns() - start) / 1000000u;
    assert_true(ms >= 590 && ms < 2000);
    assert_string_equal(err, "cannot reach any monitor (tried a=127.0.0.1:1, b=127.0.0.1:2)");
    assert_null(c);
}

static void test_calls_against_a_monitor(void **state)
{
    struct tenv *e = *state;
    struct cairn *c = NULL;
    struct proto_mon_reply reply;
    struct proto_mon_status st;
    struct proto_mon_cmd cmd;
    struct proto_map *map = NULL;
    char err[256], host[160];

    fake_start(e);
    snprintf(host, sizeof(host), "a=%s", e->fake.addr);
    write_conf(e, host, "");
    assert_int_equal(try_connect(e, 2000, err, sizeof(err), &c), 0);
    assert_string_equal(cairn_entity(c), "client.admin");
    assert_int_equal(cairn_status(c, &st), 0);
    assert_string_equal(st.leader, "a");
    proto_mon_cmd_init(&cmd, PROTO_MON_POOL_CREATE);
    snprintf(cmd.name, sizeof(cmd.name), "rbd");
    assert_int_equal(cairn_mon_command(c, &cmd, &reply), 0);
    assert_int_equal(reply.epoch, 2);
    assert_int_equal(cairn_mon_command(c, &cmd, &reply), -EEXIST);
    assert_string_equal(reply.message, "pool 'rbd' already exists");
    /* The command's new epoch reaches us through the subscription's keepalive
     * or a push; the copy then has the pool. */
    e->fake.publish = 1;
    assert_int_equal(cairn_wait_for_epoch(c, 3, 5000), 0);
    assert_int_equal(cairn_map_get(c, &map), 0);
    assert_true(map->epoch >= 3);
    assert_non_null(proto_map_pool_by_name(map, "rbd"));
    proto_map_destroy(map);
    assert_int_equal(cairn_wait_for_epoch(c, 1000, 100), -ETIMEDOUT);
    cairn_shutdown(c);
}

static void test_wrong_key_is_eacces(void **state)
{
    struct tenv *e = *state;
    struct cairn *c = NULL;
    char err[256], host[160];

    fake_start(e);
    write_keyring(e, true); /* new keys: the monitor holds the old ones */
    snprintf(host, sizeof(host), "a=%s", e->fake.addr);
    write_conf(e, host, "");
    assert_int_equal(try_connect(e, 5000, err, sizeof(err), &c), -EACCES);
    assert_non_null(strstr(err, "authentication between client.admin and the monitors failed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_reports_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_gives_up_within_the_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_calls_against_a_monitor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_is_eacces, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

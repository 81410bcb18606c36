/* The monitors' replicated state machine (monitor/core/cluster.h): every
 * op's success and error paths, the epoch rules, OSD id assignment by uuid,
 * check/apply agreement, queries, and snapshots: round trips, rejection of
 * damaged input, and determinism over random command sequences (the seed
 * is printed; replay with `test_cluster --seed N` or CAIRN_SEED=N). */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "monitor/core/cluster.h"

static uint64_t g_seed;
static uint64_t g_stamp = 1000;

/* ---- helpers ------------------------------------------------------------ */

static struct mon_cluster *new_cluster(unsigned n_mons)
{
    struct mon_cluster_init init = {0};
    struct mon_cluster *c = NULL;
    for (int i = 0; i < 16; i++)
        init.fsid[i] = (uint8_t)(0xc0 + i);
    init.n_mons = n_mons;
    for (unsigned i = 0; i < n_mons; i++) {
        snprintf(init.mons[i].name, sizeof(init.mons[i].name), "%c", 'a' + i);
        snprintf(init.mons[i].addr, sizeof(init.mons[i].addr), "127.0.0.1:%u", 6789 + i);
    }
    assert_int_equal(mon_cluster_create(&init, &c), 0);
    return c;
}

static struct proto_mon_cmd mk(enum proto_mon_op op)
{
    struct proto_mon_cmd cmd;
    proto_mon_cmd_init(&cmd, op);
    cmd.stamp_ns = ++g_stamp;
    return cmd;
}

static struct proto_mon_cmd mk_name(enum proto_mon_op op, const char *name)
{
    struct proto_mon_cmd cmd = mk(op);
    snprintf(cmd.name, sizeof(cmd.name), "%s", name);
    return cmd;
}

static struct proto_mon_cmd mk_id(enum proto_mon_op op, int32_t id)
{
    struct proto_mon_cmd cmd = mk(op);
    cmd.id = id;
    return cmd;
}

static struct proto_mon_cmd mk_boot(int32_t id, uint8_t uuid_seed, const char *host)
{
    struct proto_mon_cmd cmd = mk_name(PROTO_MON_OSD_BOOT, host);
    cmd.id = id;
    for (int i = 0; i < 16; i++)
        cmd.uuid[i] = (uint8_t)(uuid_seed + i);
    snprintf(cmd.value, sizeof(cmd.value), "10.0.0.%u:6800", uuid_seed);
    return cmd;
}

static struct proto_mon_cmd mk_set(enum proto_mon_op op, const char *name, const char *key,
                                   const char *value)
{
    struct proto_mon_cmd cmd = mk_name(op, name);
    snprintf(cmd.key, sizeof(cmd.key), "%s", key);
    snprintf(cmd.value, sizeof(cmd.value), "%s", value);
    return cmd;
}

static struct proto_mon_cmd mk_key_create(const char *entity, uint8_t fill)
{
    uint8_t key[PROTO_KEY_LEN];
    char b64[45];
    struct proto_mon_cmd cmd = mk_name(PROTO_MON_KEY_CREATE, entity);
    memset(key, fill, sizeof(key));
    proto_key_to_base64(key, b64);
    snprintf(cmd.value, sizeof(cmd.value), "%s", b64);
    return cmd;
}

struct snap {
    uint8_t *buf;
    size_t len;
};

static struct snap take_snap(const struct mon_cluster *c)
{
    struct snap s;
    assert_int_equal(mon_cluster_snapshot(c, &s.buf, &s.len), 0);
    return s;
}

static void assert_snap_equal(struct snap a, struct snap b)
{
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.buf, b.buf, a.len);
}

static uint64_t epoch_of(const struct mon_cluster *c)
{
    return mon_cluster_map(c)->epoch;
}

/* Checks, then applies @cmd, expecting @err from both; a failure must leave
 * the state byte-identical and give a reason; the check never changes it. */
static void expect(struct mon_cluster *c, struct proto_mon_cmd cmd, int err,
                   struct proto_mon_reply *reply_out)
{
    struct proto_mon_reply reply;
    char msg[PROTO_MON_MESSAGE_MAX];
    struct snap before = take_snap(c);

    assert_int_equal(mon_cluster_check(c, &cmd, msg, sizeof(msg)), err);
    struct snap checked = take_snap(c);
    assert_snap_equal(before, checked);
    if (err != 0)
        assert_true(msg[0] != '\0');
    mon_cluster_apply(c, &cmd, &reply);
    if (reply.result != err)
        fail_msg("%s: result %d (%s), want %d", proto_mon_op_name(cmd.op), reply.result,
                 reply.message, err);
    assert_true(reply.epoch == epoch_of(c));
    if (err != 0) {
        struct snap after = take_snap(c);
        assert_snap_equal(before, after);
        assert_string_equal(reply.message, msg);
        free(after.buf);
    }
    free(before.buf);
    free(checked.buf);
    if (reply_out)
        *reply_out = reply;
}

static void ok(struct mon_cluster *c, struct proto_mon_cmd cmd)
{
    expect(c, cmd, 0, NULL);
}

/* Applies @cmd expecting success with exactly @bump epochs more. */
static void ok_bump(struct mon_cluster *c, struct proto_mon_cmd cmd, uint64_t bump)
{
    uint64_t e = epoch_of(c);
    uint64_t modified = mon_cluster_map(c)->modified_ns;
    expect(c, cmd, 0, NULL);
    assert_true(epoch_of(c) == e + bump);
    if (bump)
        assert_true(mon_cluster_map(c)->modified_ns == cmd.stamp_ns);
    else
        assert_true(mon_cluster_map(c)->modified_ns == modified);
}

/* ---- creation ----------------------------------------------------------- */

static void test_cluster_create_validates_init(void **state)
{
    (void)state;
    struct mon_cluster_init init = {0};
    struct mon_cluster *c = NULL;

    assert_int_equal(mon_cluster_create(&init, &c), -EINVAL); /* no monitors */
    init.n_mons = 1;
    strcpy(init.mons[0].name, "a");
    assert_int_equal(mon_cluster_create(&init, &c), -EINVAL); /* no address */
    strcpy(init.mons[0].addr, "127.0.0.1:6789");
    init.n_mons = 2;
    init.mons[1] = init.mons[0];
    assert_int_equal(mon_cluster_create(&init, &c), -EINVAL); /* twice */
    strcpy(init.mons[1].name, "b/c");
    assert_int_equal(mon_cluster_create(&init, &c), -EINVAL);
    init.n_mons = PROTO_MAP_MAX_MONS + 1;
    assert_int_equal(mon_cluster_create(&init, &c), -EINVAL);
    assert_null(c);

    c = new_cluster(3);
    const struct proto_map *m = mon_cluster_map(c);
    assert_int_equal(m->epoch, 1);
    assert_int_equal(m->n_mons, 3);
    assert_int_equal(m->fsid[3], 0xc3);
    assert_int_equal(m->n_osds, 0);
    assert_int_equal(m->n_pools, 0);
    mon_cluster_destroy(c);
    mon_cluster_destroy(NULL);
}

/* ---- pools -------------------------------------------------------------- */

static void test_cluster_pool_create_defaults(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    struct proto_mon_cmd cmd = mk_name(PROTO_MON_POOL_CREATE, "rbd");

    expect(c, cmd, 0, &reply);
    assert_int_equal(reply.id, 1);
    assert_int_equal(reply.epoch, 2);
    const struct proto_map_pool *p = proto_map_pool_by_name(mon_cluster_map(c), "rbd");
    assert_non_null(p);
    assert_int_equal(p->id, 1);
    assert_int_equal(p->size, 3);
    assert_int_equal(p->min_size, 2);
    assert_int_equal(p->pg_num, 32);
    assert_int_equal(p->failure_domain, PROTO_FD_HOST);
    assert_true(mon_cluster_map(c)->modified_ns == cmd.stamp_ns);

    /* min_size defaults to a majority of size. */
    static const uint32_t sizes[] = {1, 2, 4, 5, 16};
    static const uint32_t mins[] = {1, 1, 2, 3, 8};
    for (unsigned i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%u", i);
        cmd = mk_name(PROTO_MON_POOL_CREATE, name);
        cmd.size = sizes[i];
        ok_bump(c, cmd, 1);
        assert_int_equal(proto_map_pool_by_name(mon_cluster_map(c), name)->min_size, mins[i]);
    }
    cmd = mk_name(PROTO_MON_POOL_CREATE, "flat");
    cmd.size = 2;
    cmd.min_size = 2;
    cmd.pg_num = 100; /* not a power of two: allowed */
    cmd.failure_domain = PROTO_MON_FD_OSD;
    ok_bump(c, cmd, 1);
    p = proto_map_pool_by_name(mon_cluster_map(c), "flat");
    assert_int_equal(p->min_size, 2);
    assert_int_equal(p->pg_num, 100);
    assert_int_equal(p->failure_domain, PROTO_FD_OSD);
    assert_int_equal(p->id, 7);
    mon_cluster_destroy(c);
}

static void test_cluster_pool_create_errors(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    ok(c, mk_name(PROTO_MON_POOL_CREATE, "rbd"));

    expect(c, mk_name(PROTO_MON_POOL_CREATE, "rbd"), -EEXIST, &reply);
    assert_string_equal(reply.message, "pool 'rbd' already exists");
    expect(c, mk_name(PROTO_MON_POOL_CREATE, ""), -EINVAL, NULL);
    expect(c, mk_name(PROTO_MON_POOL_CREATE, "a b"), -EINVAL, NULL);
    expect(c, mk_name(PROTO_MON_POOL_CREATE, ".x"), -EINVAL, NULL);
    struct proto_mon_cmd cmd = mk_name(PROTO_MON_POOL_CREATE, "x");
    cmd.size = 17;
    expect(c, cmd, -EINVAL, NULL);
    cmd.size = 2;
    cmd.min_size = 3;
    expect(c, cmd, -EINVAL, &reply);
    assert_string_equal(reply.message, "min_size 3 exceeds size 2");
    cmd.min_size = 0;
    cmd.pg_num = PROTO_MAP_MAX_PGS + 1;
    expect(c, cmd, -EINVAL, NULL);
    cmd.pg_num = PROTO_MAP_MAX_PGS;
    cmd.failure_domain = PROTO_MON_FD_HOST + 1;
    expect(c, cmd, -EINVAL, NULL);
    cmd.failure_domain = PROTO_MON_FD_DEFAULT;
    ok(c, cmd);
    assert_int_equal(epoch_of(c), 3);
    mon_cluster_destroy(c);
}

static void test_cluster_pool_ids_never_reused(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    ok(c, mk_name(PROTO_MON_POOL_CREATE, "a"));
    ok(c, mk_name(PROTO_MON_POOL_CREATE, "b"));
    ok_bump(c, mk_name(PROTO_MON_POOL_RM, "b"), 1);
    expect(c, mk_name(PROTO_MON_POOL_RM, "b"), -ENOENT, &reply);
    assert_string_equal(reply.message, "pool 'b' does not exist");
    expect(c, mk_name(PROTO_MON_POOL_CREATE, "b"), 0, &reply);
    assert_int_equal(reply.id, 3);
    assert_null(proto_map_pool(mon_cluster_map(c), 2));
    assert_int_equal(epoch_of(c), 5);
    mon_cluster_destroy(c);
}

static void test_cluster_pool_set(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    ok(c, mk_name(PROTO_MON_POOL_CREATE, "rbd"));
    const struct proto_map_pool *p = proto_map_pool_by_name(mon_cluster_map(c), "rbd");

    ok_bump(c, mk_set(PROTO_MON_POOL_SET, "rbd", "pg_num", "64"), 1);
    p = proto_map_pool_by_name(mon_cluster_map(c), "rbd");
    assert_int_equal(p->pg_num, 64);
    ok_bump(c, mk_set(PROTO_MON_POOL_SET, "rbd", "pg_num", "64"), 0); /* unchanged */
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "pg_num", "32"), -EINVAL, &reply);
    assert_string_equal(reply.message, "pg_num can only grow (it is 64)");
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "pg_num", "65537"), -EINVAL, NULL);
    ok_bump(c, mk_set(PROTO_MON_POOL_SET, "rbd", "size", "5"), 1);
    ok_bump(c, mk_set(PROTO_MON_POOL_SET, "rbd", "min_size", "3"), 1);
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "min_size", "6"), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "min_size", "0"), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "size", "2"), -EINVAL, NULL); /* < min_size */
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "size", "0"), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "size", "17"), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "size", "3x"), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "size", ""), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "size", "99999999999"), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "colour", "1"), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_POOL_SET, "nope", "size", "3"), -ENOENT, NULL);
    ok_bump(c, mk_set(PROTO_MON_POOL_SET, "rbd", "failure_domain", "osd"), 1);
    expect(c, mk_set(PROTO_MON_POOL_SET, "rbd", "failure_domain", "rack"), -EINVAL, NULL);
    p = proto_map_pool_by_name(mon_cluster_map(c), "rbd");
    assert_int_equal(p->size, 5);
    assert_int_equal(p->min_size, 3);
    assert_int_equal(p->failure_domain, PROTO_FD_OSD);
    assert_int_equal(epoch_of(c), 6);
    mon_cluster_destroy(c);
}

/* ---- OSDs --------------------------------------------------------------- */

static void boot(struct mon_cluster *c, int32_t id, uint8_t uuid_seed, const char *host,
                 int32_t want_id)
{
    struct proto_mon_reply reply;
    uint64_t e = epoch_of(c);
    expect(c, mk_boot(id, uuid_seed, host), 0, &reply);
    assert_int_equal(reply.id, want_id);
    assert_true(epoch_of(c) == e + 1);
    const struct proto_map_osd *o = proto_map_osd(mon_cluster_map(c), want_id);
    assert_non_null(o);
    assert_true(o->up);
    assert_true(o->up_from == e + 1);
    assert_string_equal(o->host, host);
}

static void test_cluster_osd_boot_assigns_ids(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    boot(c, -1, 10, "h0", 0);
    boot(c, -1, 20, "h1", 1);
    boot(c, 5, 50, "h2", 5);  /* pre-assigned by a deploy script */
    boot(c, -1, 30, "h0", 2); /* the lowest free id */
    const struct proto_map_osd *o = proto_map_osd(mon_cluster_map(c), 1);
    assert_true(o->in);
    assert_int_equal(o->weight, PROTO_MAP_WEIGHT_ONE);
    assert_string_equal(o->addr, "10.0.0.20:6800");
    assert_null(proto_map_osd(mon_cluster_map(c), 3));

    /* An OSD that lost its id file re-learns it from its uuid. */
    boot(c, -1, 20, "h1", 1);
    boot(c, 1, 20, "h1", 1);
    /* A new OSD's initial weight may come with its first boot. */
    struct proto_mon_cmd cmd = mk_boot(-1, 40, "h3");
    cmd.weight = 2 * PROTO_MAP_WEIGHT_ONE;
    ok(c, cmd);
    assert_int_equal(proto_map_osd(mon_cluster_map(c), 3)->weight, 2 * PROTO_MAP_WEIGHT_ONE);
    mon_cluster_destroy(c);
}

static void test_cluster_osd_boot_errors(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    boot(c, -1, 10, "h0", 0);
    boot(c, -1, 20, "h0", 1);

    expect(c, mk_boot(0, 30, "h0"), -EEXIST, &reply); /* osd.0 is another store */
    assert_string_equal(reply.message, "osd.0 belongs to another store");
    expect(c, mk_boot(7, 10, "h0"), -EEXIST, &reply); /* this store is osd.0 */
    assert_string_equal(reply.message, "this store is osd.0, not osd.7");
    struct proto_mon_cmd cmd = mk_boot(-1, 30, "h0");
    memset(cmd.uuid, 0, sizeof(cmd.uuid));
    expect(c, cmd, -EINVAL, NULL);
    expect(c, mk_boot(-1, 30, "bad host"), -EINVAL, NULL);
    expect(c, mk_boot(-1, 30, ""), -EINVAL, NULL);
    cmd = mk_boot(-1, 30, "h0");
    cmd.value[0] = '\0';
    expect(c, cmd, -EINVAL, NULL);
    expect(c, mk_boot(-2, 30, "h0"), -EINVAL, NULL);
    expect(c, mk_boot((int32_t)PROTO_MAP_MAX_OSDS, 30, "h0"), -EINVAL, NULL);
    boot(c, (int32_t)PROTO_MAP_MAX_OSDS - 1, 30, "h0", (int32_t)PROTO_MAP_MAX_OSDS - 1);
    mon_cluster_destroy(c);
}

static void test_cluster_osd_boot_keeps_in_out(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    boot(c, -1, 10, "h0", 0);
    ok_bump(c, mk_id(PROTO_MON_OSD_DOWN, 0), 1);
    ok_bump(c, mk_id(PROTO_MON_OSD_OUT, 0), 1);
    boot(c, -1, 10, "h1", 0); /* moved to another host */
    const struct proto_map_osd *o = proto_map_osd(mon_cluster_map(c), 0);
    assert_false(o->in);
    assert_string_equal(o->host, "h1");
    assert_int_equal(o->down_at, 3);
    mon_cluster_destroy(c);
}

static void test_cluster_osd_state_changes(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    boot(c, -1, 10, "h0", 0);
    boot(c, -1, 20, "h0", 1);
    const struct proto_map *m = mon_cluster_map(c);

    ok_bump(c, mk_id(PROTO_MON_OSD_OUT, 1), 1);
    assert_false(proto_map_osd(m, 1)->in);
    ok_bump(c, mk_id(PROTO_MON_OSD_OUT, 1), 0); /* already out */
    ok_bump(c, mk_id(PROTO_MON_OSD_IN, 1), 1);
    ok_bump(c, mk_id(PROTO_MON_OSD_IN, 1), 0);
    assert_true(proto_map_osd(m, 1)->in);

    uint64_t e = epoch_of(c);
    ok_bump(c, mk_id(PROTO_MON_OSD_DOWN, 1), 1);
    assert_false(proto_map_osd(m, 1)->up);
    assert_true(proto_map_osd(m, 1)->down_at == e + 1);
    /* Repeated failure proposals are harmless: no epoch, down_at kept. */
    expect(c, mk_id(PROTO_MON_OSD_DOWN, 1), 0, &reply);
    assert_string_equal(reply.message, "osd.1 is already down");
    assert_true(epoch_of(c) == e + 1);
    assert_true(proto_map_osd(m, 1)->down_at == e + 1);

    struct proto_mon_cmd cmd = mk_id(PROTO_MON_OSD_REWEIGHT, 0);
    cmd.weight = PROTO_MAP_WEIGHT_ONE / 2;
    ok_bump(c, cmd, 1);
    assert_int_equal(proto_map_osd(m, 0)->weight, PROTO_MAP_WEIGHT_ONE / 2);
    cmd.stamp_ns = ++g_stamp;
    ok_bump(c, cmd, 0);
    cmd.weight = 0;
    ok_bump(c, cmd, 1);

    static const enum proto_mon_op ops[] = {PROTO_MON_OSD_IN, PROTO_MON_OSD_OUT, PROTO_MON_OSD_DOWN,
                                            PROTO_MON_OSD_REWEIGHT, PROTO_MON_OSD_RM};
    for (unsigned i = 0; i < 5; i++) {
        expect(c, mk_id(ops[i], 2), -ENOENT, &reply);
        assert_string_equal(reply.message, "osd.2 does not exist");
        expect(c, mk_id(ops[i], -1), -EINVAL, NULL);
        expect(c, mk_id(ops[i], (int32_t)PROTO_MAP_MAX_OSDS + 5), -ENOENT, NULL);
    }
    mon_cluster_destroy(c);
}

static void test_cluster_osd_rm(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    boot(c, -1, 10, "h0", 0);
    boot(c, -1, 20, "h0", 1);
    expect(c, mk_id(PROTO_MON_OSD_RM, 0), -EBUSY, &reply);
    assert_string_equal(reply.message, "osd.0 is up; stop it or mark it down first");
    ok_bump(c, mk_id(PROTO_MON_OSD_DOWN, 0), 1);
    ok_bump(c, mk_id(PROTO_MON_OSD_RM, 0), 1);
    assert_null(proto_map_osd(mon_cluster_map(c), 0));
    expect(c, mk_id(PROTO_MON_OSD_RM, 0), -ENOENT, NULL);
    /* The id is free again, and the removed store's uuid is forgotten. */
    boot(c, -1, 30, "h0", 0);
    boot(c, -1, 10, "h0", 2);
    mon_cluster_destroy(c);
}

static void test_cluster_refuses_non_entries(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    boot(c, -1, 10, "h0", 0);
    static const uint32_t ops[] = {PROTO_MON_OSD_FAILURE,
                                   PROTO_MON_OSD_BEACON,
                                   PROTO_MON_KEY_GET,
                                   PROTO_MON_KEY_LS,
                                   PROTO_MON_CONFIG_GET,
                                   PROTO_MON_OP_NONE,
                                   4,
                                   PROTO_MON_OP_MAX + 1};
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        struct proto_mon_cmd cmd = mk_name((enum proto_mon_op)ops[i], "client.admin");
        cmd.id = 0;
        expect(c, cmd, -EINVAL, &reply);
    }
    /* A command whose strings are not terminated is refused, not overread. */
    struct proto_mon_cmd cmd = mk(PROTO_MON_POOL_CREATE);
    memset(cmd.name, 'x', sizeof(cmd.name));
    expect(c, cmd, -EINVAL, NULL);
    mon_cluster_query(c, &cmd, &reply);
    assert_int_equal(reply.result, -EINVAL);
    mon_cluster_destroy(c);
}

/* ---- monitors ----------------------------------------------------------- */

static void test_cluster_mon_add_rm(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    ok_bump(c, mk_set(PROTO_MON_MON_ADD, "b", "", "127.0.0.1:6790"), 1);
    assert_string_equal(proto_map_mon(mon_cluster_map(c), "b")->addr, "127.0.0.1:6790");
    expect(c, mk_set(PROTO_MON_MON_ADD, "b", "", "127.0.0.1:6799"), -EEXIST, &reply);
    assert_string_equal(reply.message, "mon.b already exists");
    expect(c, mk_set(PROTO_MON_MON_ADD, "c", "", "127.0.0.1:6790"), -EEXIST, &reply);
    assert_string_equal(reply.message, "mon.b already uses 127.0.0.1:6790");
    expect(c, mk_set(PROTO_MON_MON_ADD, "c", "", ""), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_MON_ADD, "c d", "", "127.0.0.1:1"), -EINVAL, NULL);
    struct proto_mon_cmd cmd = mk_name(PROTO_MON_MON_ADD, "c");
    memset(cmd.value, '1', PROTO_MAP_ADDR_MAX); /* too long for the map */
    expect(c, cmd, -EINVAL, NULL);
    for (unsigned i = 2; i < PROTO_MAP_MAX_MONS; i++) {
        char name[8], addr[32];
        snprintf(name, sizeof(name), "%c", 'a' + i);
        snprintf(addr, sizeof(addr), "127.0.0.1:%u", 6789 + i);
        ok_bump(c, mk_set(PROTO_MON_MON_ADD, name, "", addr), 1);
    }
    expect(c, mk_set(PROTO_MON_MON_ADD, "z", "", "127.0.0.1:1"), -ENOSPC, NULL);

    expect(c, mk_name(PROTO_MON_MON_RM, "zz"), -ENOENT, NULL);
    for (unsigned i = 0; i + 1 < PROTO_MAP_MAX_MONS; i++) {
        char name[8];
        snprintf(name, sizeof(name), "%c", 'a' + i);
        ok_bump(c, mk_name(PROTO_MON_MON_RM, name), 1);
    }
    expect(c, mk_name(PROTO_MON_MON_RM, "g"), -EBUSY, &reply);
    assert_string_equal(reply.message, "mon.g is the last monitor");
    assert_int_equal(mon_cluster_map(c)->n_mons, 1);
    mon_cluster_destroy(c);
}

/* ---- keys and config ---------------------------------------------------- */

static void test_cluster_keys(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    uint8_t key[PROTO_KEY_LEN], want[PROTO_KEY_LEN];

    expect(c, mk_name(PROTO_MON_KEY_CREATE, "client.admin"), -EINVAL, &reply); /* no key */
    struct proto_mon_cmd cmd = mk_key_create("client.admin", 0x11);
    cmd.value[10] = '!';
    expect(c, cmd, -EINVAL, NULL);
    expect(c, mk_key_create("admin", 0x11), -EINVAL, NULL);
    expect(c, mk_key_create("Client.x", 0x11), -EINVAL, NULL);

    uint64_t e = epoch_of(c);
    expect(c, mk_key_create("client.admin", 0x11), 0, &reply);
    memset(want, 0x11, sizeof(want));
    assert_true(reply.has_key);
    assert_memory_equal(reply.key, want, PROTO_KEY_LEN);
    /* Creating again returns the existing key, whatever the leader sent. */
    expect(c, mk_key_create("client.admin", 0x22), 0, &reply);
    assert_true(reply.has_key);
    assert_memory_equal(reply.key, want, PROTO_KEY_LEN);
    expect(c, mk_name(PROTO_MON_KEY_CREATE, "client.admin"), 0, &reply);
    assert_memory_equal(reply.key, want, PROTO_KEY_LEN);
    assert_int_equal(mon_cluster_key(c, "client.admin", key), 0);
    assert_memory_equal(key, want, PROTO_KEY_LEN);
    assert_true(epoch_of(c) == e); /* keys are not in the map */

    ok(c, mk_key_create("osd.0", 0x33));
    ok(c, mk_name(PROTO_MON_KEY_RM, "client.admin"));
    assert_int_equal(mon_cluster_key(c, "client.admin", key), -ENOENT);
    expect(c, mk_name(PROTO_MON_KEY_RM, "client.admin"), -ENOENT, &reply);
    assert_string_equal(reply.message, "client.admin has no key");
    expect(c, mk_name(PROTO_MON_KEY_RM, "bad"), -EINVAL, NULL);
    assert_true(epoch_of(c) == e);
    mon_cluster_destroy(c);
}

static void test_cluster_key_queries(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    struct proto_mon_cmd cmd;

    ok(c, mk_key_create("osd.1", 1));
    ok(c, mk_key_create("client.admin", 2));
    ok(c, mk_key_create("mon.a", 3));
    cmd = mk_name(PROTO_MON_KEY_GET, "mon.a");
    mon_cluster_query(c, &cmd, &reply);
    assert_int_equal(reply.result, 0);
    assert_true(reply.has_key);
    assert_int_equal(reply.key[0], 3);
    cmd = mk_name(PROTO_MON_KEY_GET, "mon.b");
    mon_cluster_query(c, &cmd, &reply);
    assert_int_equal(reply.result, -ENOENT);
    assert_false(reply.has_key);
    cmd = mk_name(PROTO_MON_KEY_GET, "nope");
    mon_cluster_query(c, &cmd, &reply);
    assert_int_equal(reply.result, -EINVAL);

    cmd = mk(PROTO_MON_KEY_LS);
    mon_cluster_query(c, &cmd, &reply);
    assert_int_equal(reply.result, 0);
    assert_string_equal(reply.text, "client.admin\nmon.a\nosd.1\n");
    assert_string_equal(reply.message, "");
    cmd = mk_name(PROTO_MON_KEY_LS, "mon.a"); /* after mon.a */
    mon_cluster_query(c, &cmd, &reply);
    assert_string_equal(reply.text, "osd.1\n");
    cmd = mk_name(PROTO_MON_KEY_LS, "client.b"); /* not an entity: after it */
    mon_cluster_query(c, &cmd, &reply);
    assert_string_equal(reply.text, "mon.a\nosd.1\n");
    cmd = mk(PROTO_MON_POOL_CREATE);
    mon_cluster_query(c, &cmd, &reply);
    assert_int_equal(reply.result, -EINVAL);
    mon_cluster_destroy(c);
}

static void test_cluster_key_ls_pages(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    char last[PROTO_ENTITY_MAX] = "";
    unsigned seen = 0;

    for (unsigned i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof(name), "client.user%04u", i);
        ok(c, mk_key_create(name, (uint8_t)i));
    }
    /* 17 bytes per line: 240 fit in one reply; page on with the last one. */
    for (int pages = 0; pages < 10; pages++) {
        struct proto_mon_cmd cmd = mk_name(PROTO_MON_KEY_LS, last);
        mon_cluster_query(c, &cmd, &reply);
        assert_int_equal(reply.result, 0);
        size_t len = strlen(reply.text);
        if (len == 0)
            break;
        assert_true(reply.text[len - 1] == '\n');
        for (char *p = reply.text; *p; p = strchr(p, '\n') + 1) {
            char want[32];
            snprintf(want, sizeof(want), "client.user%04u\n", seen++);
            assert_memory_equal(p, want, strlen(want));
            snprintf(last, sizeof(last), "%.*s", (int)strlen(want) - 1, p);
        }
        if (seen < 1000)
            assert_non_null(strstr(reply.message, "list cut"));
    }
    assert_int_equal(seen, 1000);
    mon_cluster_destroy(c);
}

static void test_cluster_config(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    uint64_t e = epoch_of(c);

    ok(c, mk_set(PROTO_MON_CONFIG_SET, "", "osd_heartbeat_ms", "1000"));
    assert_string_equal(mon_cluster_config(c, "osd_heartbeat_ms"), "1000");
    ok(c, mk_set(PROTO_MON_CONFIG_SET, "", "osd_heartbeat_ms", "2000 ms, really"));
    assert_string_equal(mon_cluster_config(c, "osd_heartbeat_ms"), "2000 ms, really");
    assert_null(mon_cluster_config(c, "other"));

    struct proto_mon_cmd cmd = mk_set(PROTO_MON_CONFIG_GET, "", "osd_heartbeat_ms", "");
    mon_cluster_query(c, &cmd, &reply);
    assert_int_equal(reply.result, 0);
    assert_string_equal(reply.text, "2000 ms, really");
    cmd = mk_set(PROTO_MON_CONFIG_GET, "", "other", "");
    mon_cluster_query(c, &cmd, &reply);
    assert_int_equal(reply.result, -ENOENT);
    cmd = mk_set(PROTO_MON_CONFIG_GET, "", "a b", "");
    mon_cluster_query(c, &cmd, &reply);
    assert_int_equal(reply.result, -EINVAL);

    expect(c, mk_set(PROTO_MON_CONFIG_SET, "", "", "1"), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_CONFIG_SET, "", "1abc", "1"), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_CONFIG_SET, "", "a=b", "1"), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_CONFIG_SET, "", "a", ""), -EINVAL, NULL);
    expect(c, mk_set(PROTO_MON_CONFIG_SET, "", "a", "two\nlines"), -EINVAL, NULL);
    cmd = mk_set(PROTO_MON_CONFIG_SET, "", "", "v");
    memset(cmd.key, 'k', sizeof(cmd.key) - 1); /* the longest key */
    ok(c, cmd);
    memset(cmd.value, 'v', sizeof(cmd.value) - 1); /* the longest value */
    ok(c, cmd);

    ok(c, mk_set(PROTO_MON_CONFIG_RM, "", "osd_heartbeat_ms", ""));
    assert_null(mon_cluster_config(c, "osd_heartbeat_ms"));
    expect(c, mk_set(PROTO_MON_CONFIG_RM, "", "osd_heartbeat_ms", ""), -ENOENT, &reply);
    assert_string_equal(reply.message, "config option osd_heartbeat_ms is not set");
    expect(c, mk_set(PROTO_MON_CONFIG_RM, "", "-x", ""), -EINVAL, NULL);
    assert_true(epoch_of(c) == e);
    mon_cluster_destroy(c);
}

static void test_cluster_config_limit(void **state)
{
    (void)state;
    struct mon_cluster *c = new_cluster(1);
    struct proto_mon_reply reply;
    struct proto_mon_cmd cmd;
    for (unsigned i = 0; i < MON_CLUSTER_MAX_CONFIG; i++) {
        cmd = mk(PROTO_MON_CONFIG_SET);
        snprintf(cmd.key, sizeof(cmd.key), "opt%05u", i);
        strcpy(cmd.value, "1");
        mon_cluster_apply(c, &cmd, &reply); /* expect() would snapshot 4096 times */
        assert_int_equal(reply.result, 0);
    }
    expect(c, mk_set(PROTO_MON_CONFIG_SET, "", "one_more", "1"), -ENOSPC, NULL);
    ok(c, mk_set(PROTO_MON_CONFIG_SET, "", "opt00007", "2")); /* replacing still works */
    ok(c, mk_set(PROTO_MON_CONFIG_RM, "", "opt00007", ""));
    ok(c, mk_set(PROTO_MON_CONFIG_SET, "", "one_more", "1"));
    mon_cluster_destroy(c);
}

/* ---- snapshots ---------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A random command over small name spaces, so that successes and every
 * kind of failure (duplicates, missing, busy, invalid) all happen. */
static struct proto_mon_cmd random_cmd(uint64_t *s)
{
    static const enum proto_mon_op ops[] = {
        PROTO_MON_POOL_CREATE, PROTO_MON_POOL_RM,     PROTO_MON_POOL_SET,     PROTO_MON_OSD_BOOT,
        PROTO_MON_OSD_BOOT,    PROTO_MON_OSD_IN,      PROTO_MON_OSD_OUT,      PROTO_MON_OSD_RM,
        PROTO_MON_OSD_DOWN,    PROTO_MON_OSD_DOWN,    PROTO_MON_OSD_REWEIGHT, PROTO_MON_MON_ADD,
        PROTO_MON_MON_RM,      PROTO_MON_KEY_CREATE,  PROTO_MON_KEY_RM,       PROTO_MON_CONFIG_SET,
        PROTO_MON_CONFIG_RM,   PROTO_MON_OSD_FAILURE,
    };
    static const char *pool_keys[] = {"size", "min_size", "pg_num", "failure_domain"};
    static const char *pool_values[] = {"1", "2", "3", "64", "128", "osd", "host"};
    enum proto_mon_op op = ops[rng_next(s) % (sizeof(ops) / sizeof(ops[0]))];
    uint64_t r = rng_next(s);
    struct proto_mon_cmd cmd;

    switch (op) {
    case PROTO_MON_OSD_BOOT:
        cmd = mk_boot(r % 3 ? -1 : (int32_t)(r % 12), (uint8_t)(1 + (r >> 8) % 10), "h1");
        cmd.name[1] = (char)('0' + (r >> 16) % 4);
        break;
    case PROTO_MON_KEY_CREATE:
        cmd = mk_key_create("client.a", (uint8_t)r);
        cmd.name[7] = (char)('a' + (r >> 16) % 5);
        break;
    case PROTO_MON_KEY_RM:
        cmd = mk_name(op, "client.a");
        cmd.name[7] = (char)('a' + (r >> 16) % 5);
        break;
    default:
        cmd = mk_set(op, "p0", pool_keys[r % 4], pool_values[(r >> 4) % 7]);
        cmd.name[1] = (char)('0' + (r >> 12) % 4);
        cmd.id = (int32_t)((r >> 20) % 12);
        cmd.size = (uint32_t)((r >> 28) % 5);
        cmd.weight = (uint32_t)((r >> 32) % 3) * PROTO_MAP_WEIGHT_ONE;
        if (op == PROTO_MON_MON_ADD || op == PROTO_MON_MON_RM)
            snprintf(cmd.value, sizeof(cmd.value), "127.0.0.1:%u", 7000 + cmd.name[1]);
        if (op == PROTO_MON_CONFIG_SET || op == PROTO_MON_CONFIG_RM)
            snprintf(cmd.key, sizeof(cmd.key), "opt_%u", (unsigned)((r >> 40) % 6));
        break;
    }
    return cmd;
}

static void apply_quiet(struct mon_cluster *c, const struct proto_mon_cmd *cmd, int *result)
{
    struct proto_mon_reply reply;
    mon_cluster_apply(c, cmd, &reply);
    *result = reply.result;
}

static void test_cluster_snapshot_determinism(void **state)
{
    (void)state;
    uint64_t s = g_seed;
    struct mon_cluster *a = new_cluster(3), *b = new_cluster(1), *fresh = new_cluster(3);
    unsigned n_ok = 0;
    int ra, rb;

    for (int i = 0; i < 400; i++) {
        struct proto_mon_cmd cmd = random_cmd(&s);
        apply_quiet(a, &cmd, &ra);
        apply_quiet(fresh, &cmd, &rb);
        assert_int_equal(ra, rb);
        n_ok += ra == 0;
    }
    assert_true(n_ok > 50);
    struct snap sa = take_snap(a);
    assert_int_equal(mon_cluster_restore(b, sa.buf, sa.len), 0);
    struct snap sb = take_snap(b);
    assert_snap_equal(sa, sb);
    free(sb.buf);
    for (int i = 0; i < 400; i++) {
        struct proto_mon_cmd cmd = random_cmd(&s);
        apply_quiet(a, &cmd, &ra);
        apply_quiet(b, &cmd, &rb);
        assert_int_equal(ra, rb);
        apply_quiet(fresh, &cmd, &rb);
        assert_int_equal(ra, rb);
    }
    free(sa.buf);
    sa = take_snap(a);
    sb = take_snap(b);
    struct snap sf = take_snap(fresh);
    assert_snap_equal(sa, sb);
    assert_snap_equal(sa, sf);
    assert_true(epoch_of(a) > 10);
    free(sa.buf);
    free(sb.buf);
    free(sf.buf);
    mon_cluster_destroy(a);
    mon_cluster_destroy(b);
    mon_cluster_destroy(fresh);
}

/* A small state with something in every section. */
static struct mon_cluster *sample_cluster(void)
{
    struct mon_cluster *c = new_cluster(3);
    ok(c, mk_name(PROTO_MON_POOL_CREATE, "rbd"));
    boot(c, -1, 10, "h0", 0);
    boot(c, 3, 30, "h1", 3);
    ok(c, mk_key_create("client.admin", 7));
    ok(c, mk_key_create("osd.0", 8));
    ok(c, mk_set(PROTO_MON_CONFIG_SET, "", "a", "1"));
    ok(c, mk_set(PROTO_MON_CONFIG_SET, "", "b", "2"));
    return c;
}

static void expect_restore(struct mon_cluster *c, const uint8_t *buf, size_t len, int err)
{
    struct snap before = take_snap(c);
    int r = mon_cluster_restore(c, buf, len);
    if (err)
        assert_int_equal(r, err);
    else
        assert_true(r == -EBADMSG || r == -EINVAL);
    struct snap after = take_snap(c);
    assert_snap_equal(before, after);
    free(before.buf);
    free(after.buf);
}

static void test_cluster_restore_rejects_damage(void **state)
{
    (void)state;
    struct mon_cluster *c = sample_cluster(), *victim = new_cluster(1);
    struct snap s = take_snap(c);
    uint8_t *copy = malloc(s.len + 1);

    for (size_t n = 0; n < s.len; n++) {
        memcpy(copy, s.buf, n);
        expect_restore(victim, copy, n, 0);
    }
    memcpy(copy, s.buf, s.len);
    copy[s.len] = 0;
    expect_restore(victim, copy, s.len + 1, -EBADMSG); /* trailing byte */
    copy[0] = 'X';
    expect_restore(victim, copy, s.len, -EBADMSG); /* magic */
    copy[0] = s.buf[0];
    copy[4] = 2;
    expect_restore(victim, copy, s.len, -EINVAL); /* version */
    copy[4] = 1;
    /* Swap the two config entries' names: "b" before "a" is out of order. */
    uint8_t *a = memmem(copy, s.len,
                        "\x01"
                        "a"
                        "\x01\x00"
                        "1",
                        5);
    assert_non_null(a);
    a[1] = 'b';
    a[6] = 'a';
    expect_restore(victim, copy, s.len, -EINVAL);
    a[1] = 'a';
    a[6] = 'b';
    a[1] = '\n'; /* not a valid config key */
    expect_restore(victim, copy, s.len, -EINVAL);
    a[1] = 'a';
    /* Byte flips anywhere: never accepted silently as garbage, never a crash. */
    uint64_t r = g_seed | 1;
    for (int i = 0; i < 2000; i++) {
        memcpy(copy, s.buf, s.len);
        copy[rng_next(&r) % s.len] ^= (uint8_t)(1 + rng_next(&r) % 255);
        if (mon_cluster_restore(victim, copy, s.len) == 0) {
            struct snap again = take_snap(victim);
            assert_int_equal(mon_cluster_restore(victim, again.buf, again.len), 0);
            free(again.buf);
        }
    }
    assert_int_equal(mon_cluster_restore(victim, s.buf, s.len), 0);
    struct snap back = take_snap(victim);
    assert_snap_equal(s, back);
    assert_int_equal(proto_map_osd(mon_cluster_map(victim), 3)->up_from, 4);
    free(back.buf);
    free(copy);
    free(s.buf);
    mon_cluster_destroy(c);
    mon_cluster_destroy(victim);
}

/* The uuids travel in the snapshot: a restored monitor still re-identifies
 * an OSD that lost its id file. */
static void test_cluster_restore_keeps_uuids(void **state)
{
    (void)state;
    struct mon_cluster *c = sample_cluster(), *b = new_cluster(1);
    struct snap s = take_snap(c);
    assert_int_equal(mon_cluster_restore(b, s.buf, s.len), 0);
    boot(b, -1, 30, "h1", 3);
    expect(b, mk_boot(0, 30, "h1"), -EEXIST, NULL);
    struct proto_mon_reply reply;
    expect(b, mk_name(PROTO_MON_POOL_CREATE, "two"), 0, &reply);
    assert_int_equal(reply.id, 2);
    uint8_t key[PROTO_KEY_LEN];
    assert_int_equal(mon_cluster_key(b, "osd.0", key), 0);
    assert_int_equal(key[31], 8);
    assert_string_equal(mon_cluster_config(b, "b"), "2");
    free(s.buf);
    mon_cluster_destroy(c);
    mon_cluster_destroy(b);
}

static uint64_t parse_seed(int argc, char **argv)
{
    const char *env = getenv("CAIRN_SEED");
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--seed") == 0)
            return strtoull(argv[i + 1], NULL, 0);
    if (env)
        return strtoull(env, NULL, 0);
    return (uint64_t)time(NULL) * 2654435761u;
}

int main(int argc, char **argv)
{
    g_seed = parse_seed(argc, argv);
    if (g_seed == 0)
        g_seed = 1;
    printf("test_cluster: seed %" PRIu64 " (replay: --seed %" PRIu64 ")\n", g_seed, g_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_create_validates_init),
        cmocka_unit_test(test_cluster_pool_create_defaults),
        cmocka_unit_test(test_cluster_pool_create_errors),
        cmocka_unit_test(test_cluster_pool_ids_never_reused),
        cmocka_unit_test(test_cluster_pool_set),
        cmocka_unit_test(test_cluster_osd_boot_assigns_ids),
        cmocka_unit_test(test_cluster_osd_boot_errors),
        cmocka_unit_test(test_cluster_osd_boot_keeps_in_out),
        cmocka_unit_test(test_cluster_osd_state_changes),
        cmocka_unit_test(test_cluster_osd_rm),
        cmocka_unit_test(test_cluster_refuses_non_entries),
        cmocka_unit_test(test_cluster_mon_add_rm),
        cmocka_unit_test(test_cluster_keys),
        cmocka_unit_test(test_cluster_key_queries),
        cmocka_unit_test(test_cluster_key_ls_pages),
        cmocka_unit_test(test_cluster_config),
        cmocka_unit_test(test_cluster_config_limit),
        cmocka_unit_test(test_cluster_snapshot_determinism),
        cmocka_unit_test(test_cluster_restore_rejects_damage),
        cmocka_unit_test(test_cluster_restore_keeps_uuids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

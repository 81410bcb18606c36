/* The op execution engine (osd/engine.c, osd/exec.c) against a real store,
 * without the network: step semantics and errors of protocol/osd_op.h,
 * atomicity, per-object ordering, duplicates and versions. */
#include "tests/unit/osd/engine_test.h"

static int setup(void **state)
{
    *state = t_env_new();
    return 0;
}

static int teardown(void **state)
{
    t_env_free(*state);
    return 0;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Writes @text as the whole object @oid. */
static void write_full(struct t_env *t, const char *oid, const char *text)
{
    struct t_op o = t_op_new(t, oid);
    t_write(&o, PROTO_OSD_WRITE_FULL, 0, text, strlen(text));
    assert_int_equal(t_run(t, &o), 0);
}

static int setxattr(struct t_env *t, const char *oid, const char *name, const void *v, size_t len)
{
    struct t_op o = t_op_new(t, oid);
    struct proto_osd_step *s = t_named(&o, PROTO_OSD_SETXATTR, name);
    s->value = v;
    s->value_len = len;
    return t_run(t, &o);
}

/* Reads the whole object (up to 1 MiB) into @buf; returns the length or -errno. */
static long read_all(struct t_env *t, const char *oid, char *buf, size_t cap)
{
    struct proto_osd_reply rep;
    struct t_op o = t_op_new(t, oid);
    t_read(&o, 0, cap);
    uint64_t txid = t_submit(t, &o);
    struct t_reply *r = t_wait(t, txid, &rep);
    long n = rep.result;
    if (n == 0) {
        n = (long)rep.results[0].len;
        memcpy(buf, r->data, (size_t)n);
        assert_int_equal(rep.results[0].crc, cairn_crc32c(0, r->data, (size_t)n));
    }
    proto_osd_reply_release(&rep);
    return n;
}

static uint64_t stat_version(struct t_env *t, const char *oid, uint64_t *size)
{
    struct proto_osd_reply rep;
    struct t_op o = t_op_new(t, oid);
    t_step(&o, PROTO_OSD_STAT);
    int r = t_exec(t, &o, &rep);
    uint64_t v = rep.version;
    if (size)
        *size = r == 0 ? rep.results[0].size : 0;
    proto_osd_reply_release(&rep);
    return r == 0 ? v : 0;
}

/* ---- data ---- */

static void test_osd_write_read_stat(void **state)
{
    struct t_env *t = *state;
    char buf[64];
    uint64_t size;

    write_full(t, "a", "hello world");
    assert_int_equal(read_all(t, "a", buf, sizeof(buf)), 11);
    assert_memory_equal(buf, "hello world", 11);
    assert_true(stat_version(t, "a", &size) > 0);
    assert_int_equal(size, 11);
    assert_int_equal(t->pg->coll_state, OSD_COLL_EXISTS);

    /* WRITE at an offset, TRUNCATE, ZERO */
    struct t_op o = t_op_new(t, "a");
    t_write(&o, PROTO_OSD_WRITE, 6, "W", 1);
    t_step(&o, PROTO_OSD_TRUNCATE)->off = 8;
    struct proto_osd_step *z = t_step(&o, PROTO_OSD_ZERO);
    z->off = 0;
    z->len = 2;
    assert_int_equal(t_run(t, &o), 0);
    assert_int_equal(read_all(t, "a", buf, sizeof(buf)), 8);
    assert_memory_equal(buf, "\0\0llo Wo", 8);

    /* WRITE_FULL replaces the whole content */
    write_full(t, "a", "xy");
    assert_int_equal(read_all(t, "a", buf, sizeof(buf)), 2);
}

static void test_osd_read_missing_and_multi(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;

    struct t_op o = t_op_new(t, "nope");
    t_read(&o, 0, 10);
    assert_int_equal(t_exec(t, &o, &rep), -ENOENT);
    assert_int_equal(rep.failed_step, 0);
    assert_int_equal(rep.version, 0);
    proto_osd_reply_release(&rep);

    write_full(t, "m", "0123456789");
    o = t_op_new(t, "m");
    t_read(&o, 2, 3);
    t_step(&o, PROTO_OSD_STAT);
    t_read(&o, 8, 100); /* short at the end */
    uint64_t txid = t_submit(t, &o);
    struct t_reply *r = t_wait(t, txid, &rep);
    assert_int_equal(rep.result, 0);
    assert_int_equal(rep.n_results, 3);
    assert_int_equal(rep.results[0].len, 3);
    assert_int_equal(rep.results[2].len, 2);
    assert_int_equal(r->data_len, 5);
    assert_memory_equal(r->data, "23489", 5);
    assert_int_equal(rep.results[2].crc, cairn_crc32c(0, "89", 2));
    assert_int_equal(rep.results[1].size, 10);
    proto_osd_reply_release(&rep);
}

static void test_osd_write_op_with_read_is_einval(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;
    struct t_op o = t_op_new(t, "w");

    t_write(&o, PROTO_OSD_WRITE, 0, "x", 1);
    t_read(&o, 0, 1);
    assert_int_equal(t_exec(t, &o, &rep), -EINVAL);
    assert_non_null(strstr(rep.message, "write op"));
    proto_osd_reply_release(&rep);
    assert_int_equal(stat_version(t, "w", NULL), 0);
}

static void test_osd_bad_crc_is_ebadmsg(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;
    struct t_op o = t_op_new(t, "c");

    t_valued(&o, PROTO_OSD_SETXATTR, "k", "v");
    t_write(&o, PROTO_OSD_WRITE, 0, "abc", 3)->crc ^= 1;
    assert_int_equal(t_exec(t, &o, &rep), -EBADMSG);
    assert_int_equal(rep.failed_step, 1);
    proto_osd_reply_release(&rep);
    assert_int_equal(stat_version(t, "c", NULL), 0);
}

/* ---- xattrs ---- */

static void test_osd_xattrs(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;

    struct t_op o = t_op_new(t, "x");
    t_valued(&o, PROTO_OSD_SETXATTR, "b", "2");
    t_valued(&o, PROTO_OSD_SETXATTR, "a", "1");
    t_valued(&o, PROTO_OSD_SETXATTR, "gone", "3");
    t_named(&o, PROTO_OSD_RMXATTR, "gone");
    assert_int_equal(t_run(t, &o), 0);

    o = t_op_new(t, "x");
    t_named(&o, PROTO_OSD_GETXATTR, "b");
    t_step(&o, PROTO_OSD_GETXATTRS);
    assert_int_equal(t_exec(t, &o, &rep), 0);
    assert_true(rep.results[0].has_value);
    assert_memory_equal(rep.results[0].value, "2", 1);
    /* Only user xattrs (not the version), prefix stripped, in name order. */
    assert_int_equal(rep.results[1].n_entries, 2);
    assert_int_equal(rep.results[1].entries[0].key_len, 1);
    assert_memory_equal(rep.results[1].entries[0].key, "a", 1);
    assert_memory_equal(rep.results[1].entries[1].key, "b", 1);
    proto_osd_reply_release(&rep);

    o = t_op_new(t, "x");
    t_named(&o, PROTO_OSD_GETXATTR, "gone");
    assert_int_equal(t_exec(t, &o, &rep), -ENODATA);
    assert_int_equal(rep.failed_step, 0);
    assert_int_equal(rep.n_results, 0);
    proto_osd_reply_release(&rep);

    o = t_op_new(t, "x");
    t_named(&o, PROTO_OSD_RMXATTR, "gone");
    assert_int_equal(t_run(t, &o), -ENODATA);
    o = t_op_new(t, "nobody");
    t_named(&o, PROTO_OSD_RMXATTR, "a");
    assert_int_equal(t_run(t, &o), -ENOENT);
    assert_int_equal(stat_version(t, "nobody", NULL), 0);
}

static void test_osd_cmpxattr(void **state)
{
    struct t_env *t = *state;

    assert_int_equal(setxattr(t, "c", "k", "v1", 2), 0);
    struct t_op o = t_op_new(t, "c");
    t_valued(&o, PROTO_OSD_CMPXATTR, "k", "v1");
    assert_int_equal(t_run(t, &o), 0);
    o = t_op_new(t, "c");
    t_valued(&o, PROTO_OSD_CMPXATTR, "k", "v2");
    assert_int_equal(t_run(t, &o), -ECANCELED);
    o = t_op_new(t, "c");
    t_valued(&o, PROTO_OSD_CMPXATTR, "k", NULL)->flags = PROTO_OSD_F_ABSENT;
    assert_int_equal(t_run(t, &o), -ECANCELED);
    o = t_op_new(t, "c");
    t_valued(&o, PROTO_OSD_CMPXATTR, "other", NULL)->flags = PROTO_OSD_F_ABSENT;
    assert_int_equal(t_run(t, &o), 0);
    o = t_op_new(t, "missing");
    t_valued(&o, PROTO_OSD_CMPXATTR, "k", "v1");
    assert_int_equal(t_run(t, &o), -ECANCELED);
}

/* ---- omap ---- */

static void test_osd_omap(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;

    struct t_op o = t_op_new(t, "o");
    t_valued(&o, PROTO_OSD_OMAP_SET, "k1", "v1");
    t_valued(&o, PROTO_OSD_OMAP_SET, "k2", "v2");
    t_valued(&o, PROTO_OSD_OMAP_SET, "k3", "v3");
    t_named(&o, PROTO_OSD_OMAP_RM, "k3");
    t_named(&o, PROTO_OSD_OMAP_RM, "never");
    assert_int_equal(t_run(t, &o), 0);

    o = t_op_new(t, "o");
    t_named(&o, PROTO_OSD_OMAP_GET, "k2");
    t_named(&o, PROTO_OSD_OMAP_LIST, "k1")->max = 0; /* after k1 */
    t_step(&o, PROTO_OSD_OMAP_LIST)->max = 1;
    assert_int_equal(t_exec(t, &o, &rep), 0);
    assert_memory_equal(rep.results[0].value, "v2", 2);
    assert_int_equal(rep.results[1].n_entries, 1);
    assert_memory_equal(rep.results[1].entries[0].key, "k2", 2);
    assert_false(rep.results[1].more);
    assert_int_equal(rep.results[2].n_entries, 1);
    assert_true(rep.results[2].more);
    proto_osd_reply_release(&rep);

    o = t_op_new(t, "o");
    t_named(&o, PROTO_OSD_OMAP_GET, "k3");
    assert_int_equal(t_run(t, &o), -ENODATA);

    /* OMAP_RM and OMAP_CLEAR create a missing object, as other mutations. */
    o = t_op_new(t, "fresh");
    t_step(&o, PROTO_OSD_OMAP_CLEAR);
    assert_int_equal(t_run(t, &o), 0);
    assert_true(stat_version(t, "fresh", NULL) > 0);
    o = t_op_new(t, "o");
    t_step(&o, PROTO_OSD_OMAP_CLEAR);
    assert_int_equal(t_run(t, &o), 0);
    o = t_op_new(t, "o");
    t_step(&o, PROTO_OSD_OMAP_LIST);
    assert_int_equal(t_exec(t, &o, &rep), 0);
    assert_int_equal(rep.results[0].n_entries, 0);
    proto_osd_reply_release(&rep);
}

static void test_osd_omap_cas(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;
    struct proto_osd_step *s;

    struct t_op o = t_op_new(t, "cas");
    s = t_valued(&o, PROTO_OSD_OMAP_CAS, "k", NULL);
    s->flags = PROTO_OSD_F_ABSENT;
    s->value2 = "one";
    s->value2_len = 3;
    assert_int_equal(t_run(t, &o), 0);

    o = t_op_new(t, "cas"); /* absent expected, but present */
    s = t_valued(&o, PROTO_OSD_OMAP_CAS, "k", NULL);
    s->flags = PROTO_OSD_F_ABSENT;
    s->value2 = "x";
    s->value2_len = 1;
    assert_int_equal(t_run(t, &o), -ECANCELED);

    o = t_op_new(t, "cas");
    s = t_valued(&o, PROTO_OSD_OMAP_CAS, "k", "one");
    s->value2 = "two";
    s->value2_len = 3;
    assert_int_equal(t_exec(t, &o, &rep), 0);
    assert_true(rep.results[0].has_value); /* the value it replaced */
    assert_memory_equal(rep.results[0].value, "one", 3);
    proto_osd_reply_release(&rep);

    o = t_op_new(t, "cas");
    s = t_valued(&o, PROTO_OSD_OMAP_CAS, "k", "one");
    s->value2 = "three";
    s->value2_len = 5;
    assert_int_equal(t_run(t, &o), -ECANCELED);

    o = t_op_new(t, "cas");
    t_valued(&o, PROTO_OSD_OMAP_CAS, "k", "two")->flags = PROTO_OSD_F_DELETE;
    assert_int_equal(t_run(t, &o), 0);
    o = t_op_new(t, "cas");
    t_named(&o, PROTO_OSD_OMAP_GET, "k");
    assert_int_equal(t_run(t, &o), -ENODATA);
}

/* ---- existence and versions ---- */

static void test_osd_create_remove_assert(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;

    struct t_op o = t_op_new(t, "e");
    t_step(&o, PROTO_OSD_ASSERT_EXISTS);
    assert_int_equal(t_run(t, &o), -ENOENT);
    o = t_op_new(t, "e");
    t_step(&o, PROTO_OSD_REMOVE);
    assert_int_equal(t_run(t, &o), -ENOENT);

    o = t_op_new(t, "e");
    t_step(&o, PROTO_OSD_ASSERT_VERSION)->version = 0;
    t_step(&o, PROTO_OSD_CREATE)->flags = PROTO_OSD_F_EXCL;
    assert_int_equal(t_exec(t, &o, &rep), 0);
    uint64_t v = rep.version;
    assert_true(v > 0);
    proto_osd_reply_release(&rep);

    o = t_op_new(t, "e");
    t_step(&o, PROTO_OSD_CREATE)->flags = PROTO_OSD_F_EXCL;
    assert_int_equal(t_run(t, &o), -EEXIST);
    o = t_op_new(t, "e");
    t_step(&o, PROTO_OSD_CREATE); /* non-exclusive: fine */
    assert_int_equal(t_run(t, &o), 0);
    uint64_t v2 = stat_version(t, "e", NULL);
    assert_true(v2 > v);

    o = t_op_new(t, "e");
    t_step(&o, PROTO_OSD_ASSERT_VERSION)->version = v; /* stale */
    t_step(&o, PROTO_OSD_REMOVE);
    assert_int_equal(t_exec(t, &o, &rep), -ECANCELED);
    assert_int_equal(rep.version, v2);
    proto_osd_reply_release(&rep);

    o = t_op_new(t, "e");
    t_step(&o, PROTO_OSD_ASSERT_VERSION)->version = v2;
    t_step(&o, PROTO_OSD_ASSERT_EXISTS);
    t_step(&o, PROTO_OSD_REMOVE);
    assert_int_equal(t_exec(t, &o, &rep), 0);
    assert_int_equal(rep.version, 0);
    proto_osd_reply_release(&rep);
    assert_int_equal(stat_version(t, "e", NULL), 0);

    /* REMOVE then WRITE in one op: a new object without the old xattrs. */
    assert_int_equal(setxattr(t, "r", "k", "v", 1), 0);
    o = t_op_new(t, "r");
    t_step(&o, PROTO_OSD_REMOVE);
    t_write(&o, PROTO_OSD_WRITE, 0, "new", 3);
    assert_int_equal(t_run(t, &o), 0);
    o = t_op_new(t, "r");
    t_named(&o, PROTO_OSD_GETXATTR, "k");
    assert_int_equal(t_run(t, &o), -ENODATA);
}

static void test_osd_versions_increase(void **state)
{
    struct t_env *t = *state;
    uint64_t last = 0;

    for (int i = 0; i < 5; i++) {
        write_full(t, i % 2 ? "v1" : "v2", "x");
        uint64_t v = stat_version(t, i % 2 ? "v1" : "v2", NULL);
        assert_true(v > last);
        assert_int_equal(v >> 32, 5);
        last = v;
    }
    /* A new epoch restarts the counter, and versions still increase. */
    osd__engine_set_epoch(t->e, 6);
    write_full(t, "v1", "y");
    uint64_t v = stat_version(t, "v1", NULL);
    assert_true(v > last);
    assert_int_equal(v, (6ull << 32) | 1);
}

/* ---- atomic primitives ---- */

static void test_osd_counter_add(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;
    uint8_t big[8];

    struct t_op o = t_op_new(t, "n");
    t_named(&o, PROTO_OSD_COUNTER_ADD, "c")->delta = 5;
    t_named(&o, PROTO_OSD_COUNTER_ADD, "c")->delta = -2; /* sees the step before */
    assert_int_equal(t_exec(t, &o, &rep), 0);
    assert_int_equal(rep.results[0].num, 5);
    assert_int_equal(rep.results[1].num, 3);
    proto_osd_reply_release(&rep);

    assert_int_equal(setxattr(t, "n", "s", "abc", 3), 0);
    o = t_op_new(t, "n");
    t_named(&o, PROTO_OSD_COUNTER_ADD, "s")->delta = 1;
    assert_int_equal(t_run(t, &o), -EINVAL);

    put_le64(big, (uint64_t)INT64_MAX);
    assert_int_equal(setxattr(t, "n", "big", big, 8), 0);
    o = t_op_new(t, "n");
    t_named(&o, PROTO_OSD_COUNTER_ADD, "big")->delta = 1;
    assert_int_equal(t_run(t, &o), -EOVERFLOW);

    /* A setxattr earlier in the op is what the counter starts from. */
    put_le64(big, 41);
    o = t_op_new(t, "n");
    struct proto_osd_step *s = t_named(&o, PROTO_OSD_SETXATTR, "d");
    s->value = big;
    s->value_len = 8;
    t_named(&o, PROTO_OSD_COUNTER_ADD, "d")->delta = 1;
    assert_int_equal(t_exec(t, &o, &rep), 0);
    assert_int_equal(rep.results[1].num, 42);
    proto_osd_reply_release(&rep);
}

static void test_osd_set_if_greater(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;
    const uint64_t vals[] = {10, 7, 12};
    const int64_t want[] = {10, 10, 12};

    for (int i = 0; i < 3; i++) {
        struct t_op o = t_op_new(t, "g");
        t_named(&o, PROTO_OSD_SET_IF_GREATER, "max")->version = vals[i];
        assert_int_equal(t_exec(t, &o, &rep), 0);
        assert_int_equal(rep.results[0].num, want[i]);
        proto_osd_reply_release(&rep);
    }
}

static void test_osd_failed_guard_changes_nothing(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;
    char buf[16];

    write_full(t, "at", "orig");
    uint64_t v = stat_version(t, "at", NULL);
    struct t_op o = t_op_new(t, "at");
    t_write(&o, PROTO_OSD_WRITE_FULL, 0, "changed", 7);
    t_valued(&o, PROTO_OSD_SETXATTR, "k", "v");
    t_named(&o, PROTO_OSD_COUNTER_ADD, "c")->delta = 1;
    t_valued(&o, PROTO_OSD_CMPXATTR, "k", "v"); /* sees the state before the op */
    assert_int_equal(t_exec(t, &o, &rep), -ECANCELED);
    assert_int_equal(rep.failed_step, 3);
    assert_int_equal(rep.n_results, 0);
    assert_int_equal(rep.version, v); /* unchanged */
    proto_osd_reply_release(&rep);
    assert_int_equal(read_all(t, "at", buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "orig", 4);
    assert_int_equal(stat_version(t, "at", NULL), v);
    o = t_op_new(t, "at");
    t_step(&o, PROTO_OSD_GETXATTRS);
    assert_int_equal(t_exec(t, &o, &rep), 0);
    assert_int_equal(rep.results[0].n_entries, 0);
    proto_osd_reply_release(&rep);

    /* A failing guard after a write leaves no object behind. */
    o = t_op_new(t, "nothing");
    t_write(&o, PROTO_OSD_WRITE, 0, "x", 1);
    t_step(&o, PROTO_OSD_ASSERT_EXISTS);
    assert_int_equal(t_run(t, &o), -ENOENT);
    assert_int_equal(stat_version(t, "nothing", NULL), 0);
}

/* ---- ordering and duplicates ---- */

/* Many blind writes queued at once pipeline; a counter add queued behind
 * them waits for all of them and sees a consistent object. */
static void test_osd_blind_writes_then_counter(void **state)
{
    struct t_env *t = *state;
    enum { N = 64 };
    uint64_t txids[N + 2];
    struct proto_osd_reply rep;
    uint8_t block[4096];

    for (int i = 0; i < N; i++) {
        memset(block, 'a' + i % 26, sizeof(block));
        struct t_op o = t_op_new(t, "img");
        t_write(&o, PROTO_OSD_WRITE, (uint64_t)i * 4096, block, sizeof(block));
        txids[i] = t_submit(t, &o);
    }
    struct t_op o = t_op_new(t, "img");
    t_named(&o, PROTO_OSD_COUNTER_ADD, "n")->delta = 1;
    t_step(&o, PROTO_OSD_STAT);
    txids[N] = t_submit(t, &o);
    o = t_op_new(t, "img");
    t_step(&o, PROTO_OSD_STAT);
    txids[N + 1] = t_submit(t, &o);

    uint64_t last = 0;
    for (int i = 0; i < N; i++) {
        t_wait(t, txids[i], &rep);
        assert_int_equal(rep.result, 0);
        assert_true(rep.version > last);
        last = rep.version;
        proto_osd_reply_release(&rep);
    }
    t_wait(t, txids[N], &rep);
    assert_int_equal(rep.result, 0);
    assert_int_equal(rep.results[0].num, 1);
    assert_int_equal(rep.results[1].size, N * 4096); /* every write before it */
    assert_true(rep.version > last);
    last = rep.version;
    proto_osd_reply_release(&rep);
    t_wait(t, txids[N + 1], &rep);
    assert_int_equal(rep.version, last); /* the read saw the counter's write */
    proto_osd_reply_release(&rep);
}

/* ---- holds (scrub's per-object comparison) ---- */

struct t_hold {
    struct t_env *t;
    uint64_t before;        /* a write queued ahead of the hold */
    bool before_answered;   /* when the hold began */
    struct osd_op *op;
    bool release_at_once;
};

static void t_hold_fn(struct osd_op *op)
{
    struct t_hold *h = op->internal_arg;
    struct t_wait w = {.t = h->t, .txid = h->before, .count = 1};

    h->before_answered = t_have_reply(&w);
    h->op = op;
    if (h->release_at_once)
        osd__engine_internal_done(op);
}

static void t_noop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
}

static bool t_hold_began(void *arg)
{
    return ((struct t_hold *)arg)->op != NULL;
}

/* A hold waits for the ops ahead of it, and the ops behind it wait until
 * it is released; another object is not held up. */
static void test_osd_hold_orders_ops(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;
    uint8_t block[4096];
    struct t_hold h = {.t = t};
    unsigned base_ops = osd__engine_ops_in_use(t->e);

    memset(block, 'h', sizeof(block));
    struct t_op o = t_op_new(t, "held");
    t_write(&o, PROTO_OSD_WRITE, 0, block, sizeof(block));
    h.before = t_submit(t, &o);
    assert_int_equal(osd__engine_internal_hold(t->e, t->pg, "held", t_hold_fn, &h), 0);
    o = t_op_new(t, "held");
    t_step(&o, PROTO_OSD_STAT);
    uint64_t behind = t_submit(t, &o);
    o = t_op_new(t, "other");
    t_write(&o, PROTO_OSD_WRITE, 0, block, sizeof(block));
    uint64_t other = t_submit(t, &o);

    assert_true(t_loop_until(t->base, t_hold_began, &h, 10000));
    assert_true(h.before_answered);
    t_wait(t, other, &rep); /* not held up */
    assert_int_equal(rep.result, 0);
    proto_osd_reply_release(&rep);
    struct t_wait w = {.t = t, .txid = behind, .count = 1};
    struct event *tick = evtimer_new(t->base, t_noop_cb, NULL); /* wakes the idle loop */
    struct timeval tv = {0, 250000};
    evtimer_add(tick, &tv);
    assert_false(t_loop_until(t->base, t_have_reply, &w, 200));
    event_free(tick);
    osd__engine_internal_done(h.op);
    t_wait(t, behind, &rep);
    assert_int_equal(rep.result, 0);
    assert_int_equal(rep.results[0].size, sizeof(block));
    proto_osd_reply_release(&rep);

    /* Released inside its own callback: the object is free at once. */
    struct t_hold h2 = {.t = t, .before = behind, .release_at_once = true};
    assert_int_equal(osd__engine_internal_hold(t->e, t->pg, "held", t_hold_fn, &h2), 0);
    assert_true(t_loop_until(t->base, t_hold_began, &h2, 10000));
    o = t_op_new(t, "held");
    t_step(&o, PROTO_OSD_STAT);
    assert_int_equal(t_exec(t, &o, &rep), 0);
    proto_osd_reply_release(&rep);
    assert_int_equal(osd__engine_ops_in_use(t->e), base_ops);
}

/* ---- objects the primary lacks (pulled while the PG is active) ---- */

/* Ops on an object the primary lacks wait until it arrives; other objects
 * are served meanwhile; forgetting the set releases what waits. */
static void test_osd_lacking_objects_wait(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;
    struct osd_names lack = {0};
    uint8_t block[4096];

    memset(block, 'm', sizeof(block));
    assert_int_equal(osd__names_add(&lack, "gone1", 5), 0);
    assert_int_equal(osd__names_add(&lack, "gone2", 5), 0);
    osd__names_sort_unique(&lack, 0);
    osd__engine_pg_missing_set(t->e, t->pg, &lack);
    assert_int_equal(t->pg->missing_left, 2);

    struct t_op o = t_op_new(t, "gone1");
    t_write(&o, PROTO_OSD_WRITE, 0, block, sizeof(block));
    uint64_t w1 = t_submit(t, &o);
    o = t_op_new(t, "gone2");
    t_step(&o, PROTO_OSD_STAT);
    uint64_t r2 = t_submit(t, &o);
    o = t_op_new(t, "here");
    t_write(&o, PROTO_OSD_WRITE, 0, block, sizeof(block));
    uint64_t w3 = t_submit(t, &o);
    t_wait(t, w3, &rep); /* not held up */
    assert_int_equal(rep.result, 0);
    proto_osd_reply_release(&rep);

    struct t_wait w = {.t = t, .txid = w1, .count = 1};
    struct event *tick = evtimer_new(t->base, t_noop_cb, NULL);
    struct timeval tv = {0, 250000};
    evtimer_add(tick, &tv);
    assert_false(t_loop_until(t->base, t_have_reply, &w, 200));
    event_free(tick);

    osd__engine_pg_got(t->e, t->pg, "gone1");
    assert_int_equal(t->pg->missing_left, 1);
    t_wait(t, w1, &rep);
    assert_int_equal(rep.result, 0);
    proto_osd_reply_release(&rep);
    w.txid = r2;
    assert_false(t_have_reply(&w));
    osd__engine_pg_missing_clear(t->e, t->pg);
    t_wait(t, r2, &rep);
    assert_int_equal(rep.result, -ENOENT);
    proto_osd_reply_release(&rep);
    assert_int_equal(t->pg->missing_left, 0);
}

static void test_osd_duplicate_answered_once(void **state)
{
    struct t_env *t = *state;
    struct proto_osd_reply rep;

    /* Two copies in flight at once, then a third after the answer. */
    uint64_t txids[3];
    for (int i = 0; i < 3; i++) {
        struct t_op o = t_op_new(t, "dup");
        o.op->req.tid = 777;
        t_named(&o, PROTO_OSD_COUNTER_ADD, "c")->delta = 1;
        txids[i] = t_submit(t, &o);
        if (i == 1) {
            t_wait(t, txids[0], &rep);
            proto_osd_reply_release(&rep);
        }
    }
    for (int i = 0; i < 3; i++) {
        t_wait(t, txids[i], &rep);
        assert_int_equal(rep.result, 0);
        assert_int_equal(rep.results[0].num, 1);
        proto_osd_reply_release(&rep);
    }
    /* Another client's op with the same tid is not a duplicate. */
    struct t_op o = t_op_new(t, "dup");
    o.op->req.tid = 777;
    o.op->req.client_id = 99;
    t_named(&o, PROTO_OSD_COUNTER_ADD, "c")->delta = 1;
    assert_int_equal(t_exec(t, &o, &rep), 0);
    assert_int_equal(rep.results[0].num, 2);
    proto_osd_reply_release(&rep);
}

static void test_osd_dup_table_bounded(void **state)
{
    struct osd_dup dup;
    uint8_t m[4] = {1, 2, 3, 4};

    (void)state;
    osd__dup_init(&dup, 8);
    for (uint64_t tid = 1; tid <= 20; tid++)
        assert_int_equal(osd__dup_insert(&dup, 1, tid, m, sizeof(m)), 0);
    for (uint64_t tid = 1; tid <= 20; tid++)
        assert_int_equal(osd__dup_find(&dup, 1, tid) != NULL, tid > 12);
    assert_null(osd__dup_find(&dup, 2, 20));
    osd__dup_fini(&dup);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_osd_write_read_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_read_missing_and_multi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_write_op_with_read_is_einval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_bad_crc_is_ebadmsg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_xattrs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_cmpxattr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_omap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_omap_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_create_remove_assert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_versions_increase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_counter_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_set_if_greater, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_failed_guard_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_blind_writes_then_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_duplicate_answered_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_hold_orders_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_osd_lacking_objects_wait, setup, teardown),
        cmocka_unit_test(test_osd_dup_table_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

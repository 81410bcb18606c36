/* The record cache: its LRU and budget on their own, how a durable group's
 * changes update it, and that a store using it answers lookups from memory
 * without ever serving a record RocksDB no longer holds. */
#include "store_test.h"

int store_cache_tests(void);

static uint64_t kv_lookups(struct tstore *t)
{
    struct osd_store_stats st;
    osd_store_get_stats(t->s, &st);
    return st.kv_lookups;
}

static uint64_t cache_hits(struct tstore *t)
{
    struct osd_store_stats st;
    osd_store_get_stats(t->s, &st);
    return st.record_cache_hits;
}

static void check_value(struct osd__rcache *c, const char *k, const char *want)
{
    const uint8_t *v = NULL;
    size_t vl = 0;
    int rc = osd__rc_get(c, k, strlen(k), &v, &vl);
    if (want == NULL) {
        assert_int_equal(rc, -ENOENT);
        return;
    }
    if (*want == '\0') { /* cached as absent */
        assert_int_equal(rc, 0);
        return;
    }
    assert_int_equal(rc, 1);
    assert_int_equal(vl, strlen(want));
    assert_memory_equal(v, want, vl);
}

static void test_rcache_lru_keeps_to_budget(void **state)
{
    (void)state;
    struct osd__rcache c;
    /* Room for about three small entries. */
    assert_int_equal(osd__rc_init(&c, 3 * (sizeof(void *) * 3 + 32 + 8 + 64)), 0);
    osd__rc_set(&c, "Oa", 2, "1", 1);
    osd__rc_set(&c, "Ob", 2, "2", 1);
    osd__rc_set(&c, "Oc", 2, NULL, 0);
    check_value(&c, "Oa", "1"); /* a is now the newest */
    osd__rc_set(&c, "Od", 2, "4", 1);
    check_value(&c, "Ob", NULL); /* b was the oldest: evicted */
    check_value(&c, "Oa", "1");
    check_value(&c, "Oc", "");
    check_value(&c, "Od", "4");
    assert_true(c.bytes <= c.max_bytes);
    /* A longer value replaces the entry; an absence replaces a value. */
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    osd__rc_set(&c, "Od", 2, big, strlen(big));
    check_value(&c, "Od", big);
    osd__rc_set(&c, "Od", 2, NULL, 0);
    check_value(&c, "Od", "");
    assert_true(c.bytes <= c.max_bytes);
    osd__rc_clear(&c);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.bytes, 0);
    check_value(&c, "Oa", NULL);
    osd__rc_fini(&c);
}

static void test_rcache_grows_and_keeps_all(void **state)
{
    (void)state;
    struct osd__rcache c;
    assert_int_equal(osd__rc_init(&c, 64u << 20), 0);
    char k[32], v[32];
    for (unsigned i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "O%u", i);
        snprintf(v, sizeof(v), "v%u", i * 7);
        osd__rc_set(&c, k, strlen(k), v, strlen(v));
    }
    assert_int_equal(c.count, 5000);
    assert_true(c.nbuckets >= 4096);
    for (unsigned i = 0; i < 5000; i += 97) {
        snprintf(k, sizeof(k), "O%u", i);
        snprintf(v, sizeof(v), "v%u", i * 7);
        check_value(&c, k, v);
    }
    osd__rc_fini(&c);
}

static void test_rcache_disabled_never_answers(void **state)
{
    (void)state;
    struct osd__rcache c;
    assert_int_equal(osd__rc_init(&c, 0), 0);
    osd__rc_set(&c, "Oa", 2, "1", 1);
    check_value(&c, "Oa", NULL);
    osd__rc_fini(&c);
}

static void test_rcache_applies_durable_group(void **state)
{
    (void)state;
    struct osd__rcache c;
    struct osd__overlay ov;
    assert_int_equal(osd__rc_init(&c, 1u << 20), 0);
    assert_int_equal(osd__ov_init(&ov), 0);
    osd__rc_set(&c, "Ogone", 5, "old", 3);
    osd__rc_set(&c, "Onew", 4, NULL, 0);
    assert_int_equal(osd__ov_put(&ov, "Onew", 4, "first", 5), 0);
    assert_int_equal(osd__ov_put(&ov, "Onew", 4, "second", 6), 0);
    assert_int_equal(osd__ov_del(&ov, "Ogone", 5), 0);
    assert_int_equal(osd__ov_put(&ov, "Mkey", 4, "omap", 4), 0);
    assert_int_equal(osd__ov_del_range(&ov, "E", 1, "F", 1), 0);
    osd__rc_apply(&c, &ov);
    check_value(&c, "Onew", "second"); /* the newest change wins */
    check_value(&c, "Ogone", "");
    check_value(&c, "Mkey", NULL); /* omap keys are not cached */
    osd__ov_fini(&ov);
    osd__rc_fini(&c);
}

/* Peeks copy what the cache holds and never fill it. */
static void test_rcache_peek(void **state)
{
    (void)state;
    struct osd__rcache c;
    char buf[8];
    size_t vl = 0;
    assert_int_equal(osd__rc_init(&c, 1u << 20), 0);
    osd__rc_set(&c, "Oa", 2, "value", 5);
    osd__rc_set(&c, "Ob", 2, NULL, 0);
    osd__rc_set(&c, "Oc", 2, "too long for buf", 16);
    assert_int_equal(osd__rc_peek(&c, "Oa", 2, buf, sizeof(buf), &vl), 1);
    assert_int_equal(vl, 5);
    assert_memory_equal(buf, "value", 5);
    assert_int_equal(osd__rc_peek(&c, "Ob", 2, buf, sizeof(buf), &vl), 0);
    assert_int_equal(osd__rc_peek(&c, "Oc", 2, buf, sizeof(buf), &vl), -ENOENT);
    assert_int_equal(osd__rc_peek(&c, "Od", 2, buf, sizeof(buf), &vl), -ENOENT);
    check_value(&c, "Od", NULL);
    osd__rc_fini(&c);
    assert_int_equal(osd__rc_init(&c, 0), 0); /* disabled */
    assert_int_equal(osd__rc_peek(&c, "Oa", 2, buf, sizeof(buf), &vl), -ENOENT);
    osd__rc_fini(&c);
}

/* Metadata reads take object records from the cache: each one sees the
 * change just committed (size, removal, re-creation). */
static void test_store_cache_stat_follows_changes(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint8_t b[8192];
    t_fill(b, sizeof(b), 4);
    assert_int_equal(t_write(t, "a", 0, b, 4096), 0);
    t_check(t, "a", 0, 4096, b, 4096); /* the read caches the record */
    assert_int_equal(t_size(t, "a"), 4096);
    assert_int_equal(t_write(t, "a", 4096, b + 4096, 4096), 0);
    assert_int_equal(t_size(t, "a"), 8192);
    assert_int_equal(t_op1(t, osd_txn_remove, "a"), 0);
    struct osd_obj_stat st;
    assert_int_equal(osd_store_stat(t->s, T_COLL, "a", &st), -ENOENT);
    assert_int_equal(t_write(t, "a", 0, "xyz", 3), 0);
    assert_int_equal(t_size(t, "a"), 3);
    t_free(t);
}

static void test_store_cache_serves_rewrites(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint8_t b[4096];
    t_fill(b, sizeof(b), 1);
    assert_int_equal(t_write(t, "a", 0, b, sizeof(b)), 0);
    uint64_t lookups = kv_lookups(t), hits = cache_hits(t);
    t_fill(b, sizeof(b), 2);
    assert_int_equal(t_write(t, "a", 0, b, sizeof(b)), 0);
    /* Collection, object and extent records all came from the cache. */
    assert_int_equal(kv_lookups(t), lookups);
    assert_true(cache_hits(t) >= hits + 3);
    t_check(t, "a", 0, sizeof(b), b, sizeof(b)); /* reads use the cache too */
    assert_int_equal(kv_lookups(t), lookups);
    t_reopen(t); /* a new store starts cold and asks RocksDB */
    lookups = kv_lookups(t);
    assert_int_equal(t_write(t, "a", 0, b, sizeof(b)), 0);
    assert_true(kv_lookups(t) > lookups);
    t_free(t);
}

static void test_store_cache_forgets_removed(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint8_t b[8192];
    t_fill(b, sizeof(b), 3);
    assert_int_equal(t_write(t, "a", 0, b, sizeof(b)), 0);
    assert_int_equal(t_op1(t, osd_txn_remove, "a"), 0);
    assert_int_equal(t_write(t, "a", 0, "fresh", 5), 0);
    assert_int_equal(t_size(t, "a"), 5);
    t_check(t, "a", 0, sizeof(b), "fresh", 5);
    /* A collection removed and made again, then used. */
    struct osd_txn *x = osd_txn_create("pg2");
    assert_int_equal(osd_txn_create_collection(x), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    x = osd_txn_create("pg2");
    assert_int_equal(osd_txn_remove_collection(x), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    x = osd_txn_create("pg2");
    assert_int_equal(osd_txn_touch(x, "o"), 0);
    assert_int_equal(osd_store_apply(t->s, x), -ENOENT);
    x = osd_txn_create("pg2");
    assert_int_equal(osd_txn_create_collection(x), 0);
    assert_int_equal(osd_txn_touch(x, "o"), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    t_fsck_clean(t, true);
    t_free(t);
}

/* With a budget of a few records, evictions happen on every transaction. */
static void test_store_cache_tiny_budget(void **state)
{
    (void)state;
    struct osd_store_opts o;
    t_opts(&o);
    o.record_cache_bytes = 512;
    struct tstore *t = t_new_with(&o);
    uint8_t b[4096];
    char oid[16];
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned i = 0; i < 40; i++) {
            snprintf(oid, sizeof(oid), "o%u", i);
            t_fill(b, sizeof(b), round * 100 + i);
            assert_int_equal(t_write(t, oid, (uint64_t)(i % 4) * 4096, b, sizeof(b)), 0);
        }
    }
    for (unsigned i = 0; i < 40; i++) {
        snprintf(oid, sizeof(oid), "o%u", i);
        t_fill(b, sizeof(b), 200 + i);
        t_check(t, oid, (uint64_t)(i % 4) * 4096, sizeof(b), b, sizeof(b));
    }
    assert_true(t->s->rcache.bytes <= 512);
    t_fsck_clean(t, true);
    t_free(t);
}

int store_cache_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rcache_lru_keeps_to_budget),
        cmocka_unit_test(test_rcache_grows_and_keeps_all),
        cmocka_unit_test(test_rcache_disabled_never_answers),
        cmocka_unit_test(test_rcache_applies_durable_group),
        cmocka_unit_test(test_rcache_peek),
        cmocka_unit_test(test_store_cache_stat_follows_changes),
        cmocka_unit_test(test_store_cache_serves_rewrites),
        cmocka_unit_test(test_store_cache_forgets_removed),
        cmocka_unit_test(test_store_cache_tiny_budget),
    };
    return cmocka_run_group_tests_name("store_cache", tests, NULL, NULL);
}

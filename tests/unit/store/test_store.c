/* Object store: life cycle (mkfs, open, close, locking), builder argument
 * checks, queueing limits and the failed state. main() also runs the groups
 * in test_store_data.c, test_store_meta.c, test_store_fault.c and
 * test_store_cache.c. */
#include "store_test.h"

int store_data_tests(void);
int store_meta_tests(void);
int store_cache_tests(void);
int store_fault_tests(void);

static void test_store_mkfs_twice_is_eexist(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    assert_int_equal(osd_store_mkfs(t->dir, &t->opts), -EBUSY); /* open holds the lock */
    osd_store_close(t->s);
    t->s = NULL;
    assert_int_equal(osd_store_mkfs(t->dir, &t->opts), -EEXIST);
    t_free(t);
}

static void test_store_open_missing_is_enoent(void **state)
{
    (void)state;
    struct osd_store_opts o;
    struct osd_store *s = NULL;
    t_opts(&o);
    assert_int_equal(osd_store_open("/tmp/cairn-store-does-not-exist", &o, &s), -ENOENT);
    char dir[] = "/tmp/cairn-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(osd_store_open(dir, &o, &s), -ENOENT);
    assert_null(s);
    t_rmrf(dir);
}

static void test_store_second_open_is_ebusy(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    struct osd_store *s2 = NULL;
    assert_int_equal(osd_store_open(t->dir, &t->opts, &s2), -EBUSY);
    assert_null(s2);
    t_free(t);
}

static void test_store_mkfs_rejects_tiny_size(void **state)
{
    (void)state;
    struct osd_store_opts o;
    t_opts(&o);
    o.data_size_bytes = 4096;
    char dir[] = "/tmp/cairn-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(osd_store_mkfs(dir, &o), -EINVAL);
    t_rmrf(dir);
}

static void test_store_builders_reject_bad_args(void **state)
{
    (void)state;
    char longname[OSD_STORE_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    assert_null(osd_txn_create(NULL));
    assert_null(osd_txn_create(""));
    assert_null(osd_txn_create(longname));
    struct osd_txn *x = osd_txn_create(T_COLL);
    uint8_t b[4] = {0};
    assert_int_equal(osd_txn_write(x, NULL, 0, b, 4), -EINVAL);
    assert_int_equal(osd_txn_write(x, longname, 0, b, 4), -EINVAL);
    assert_int_equal(osd_txn_write(x, "o", OSD_STORE_OBJECT_MAX - 2, b, 4), -EINVAL);
    assert_int_equal(osd_txn_write(x, "o", 0, NULL, 4), -EINVAL);
    assert_int_equal(osd_txn_zero(x, "o", OSD_STORE_OBJECT_MAX, 1), -EINVAL);
    assert_int_equal(osd_txn_truncate(x, "o", OSD_STORE_OBJECT_MAX + 1), -EINVAL);
    char xname[OSD_STORE_XATTR_NAME_MAX + 2];
    memset(xname, 'x', sizeof(xname) - 1);
    xname[sizeof(xname) - 1] = 0;
    assert_int_equal(osd_txn_setxattr(x, "o", xname, b, 1), -EINVAL);
    assert_int_equal(osd_txn_setxattr(x, "o", "", b, 1), -EINVAL);
    void *big = calloc(1, OSD_STORE_VALUE_MAX + 1);
    assert_int_equal(osd_txn_setxattr(x, "o", "n", big, OSD_STORE_VALUE_MAX + 1), -EINVAL);
    assert_int_equal(osd_txn_omap_set(x, "o", "k", 1, big, OSD_STORE_VALUE_MAX + 1), -EINVAL);
    assert_int_equal(osd_txn_rmxattr(x, "o", NULL), -EINVAL);
    assert_int_equal(osd_txn_omap_rm(x, "o", NULL, 3), -EINVAL);
    assert_int_equal(osd_txn_op_count(x), 0);
    assert_int_equal(osd_txn_write(x, "o", 0, b, 4), 0);
    assert_int_equal(osd_txn_op_count(x), 1);
    free(big);
    osd_txn_destroy(x);
    assert_int_equal(osd_store_queue(NULL, NULL, NULL, NULL), -EINVAL);
}

/* Holds the commit thread inside a call until the test releases it. */
struct stall {
    sem_t entered;
    sem_t release;
    struct osd_store *s;
};

static int stall_fn(struct osd_store *s, void *arg)
{
    struct stall *st = arg;
    (void)s;
    sem_post(&st->entered);
    sem_wait(&st->release);
    return 0;
}

static void *stall_thread(void *arg)
{
    struct stall *st = arg;
    osd__store_call(st->s, stall_fn, st);
    return NULL;
}

static void count_cb(int result, void *arg)
{
    assert_int_equal(result, 0);
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_RELAXED);
}

static void test_store_queue_full_is_eagain(void **state)
{
    (void)state;
    struct osd_store_opts o;
    t_opts(&o);
    o.max_txns_in_flight = 4;
    struct tstore *t = t_new_with(&o);
    struct stall st = {.s = t->s};
    sem_init(&st.entered, 0, 0);
    sem_init(&st.release, 0, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stall_thread, &st), 0);
    sem_wait(&st.entered);
    int done = 0;
    for (int i = 0; i < 4; i++) {
        struct osd_txn *x = osd_txn_create(T_COLL);
        assert_int_equal(osd_txn_touch(x, "o"), 0);
        assert_int_equal(osd_store_queue(t->s, x, count_cb, &done), 0);
    }
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_touch(x, "o"), 0);
    assert_int_equal(osd_store_queue(t->s, x, count_cb, &done), -EAGAIN);
    osd_txn_destroy(x); /* the caller keeps it on failure */
    sem_post(&st.release);
    pthread_join(th, NULL);
    t_reopen(t); /* close waits for the queue */
    assert_int_equal(done, 4);
    t_free(t);
}

static void test_store_failed_store_is_erofs(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint8_t b[100];
    t_fill(b, sizeof(b), 1);
    assert_int_equal(t_write(t, "o", 0, b, sizeof(b)), 0);
    assert_false(osd_store_is_failed(t->s));
    osd__store_fail(t->s, -EIO, "test");
    assert_true(osd_store_is_failed(t->s));
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_touch(x, "p"), 0);
    assert_int_equal(osd_store_queue(t->s, x, NULL, NULL), -EROFS);
    assert_int_equal(osd_store_apply(t->s, x), -EROFS); /* apply always takes @x */
    t_check(t, "o", 0, 100, b, 100); /* reads still work */
    t_reopen(t);
    assert_false(osd_store_is_failed(t->s));
    assert_int_equal(t_op1(t, osd_txn_touch, "p"), 0);
    t_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_mkfs_twice_is_eexist),
        cmocka_unit_test(test_store_open_missing_is_enoent),
        cmocka_unit_test(test_store_second_open_is_ebusy),
        cmocka_unit_test(test_store_mkfs_rejects_tiny_size),
        cmocka_unit_test(test_store_builders_reject_bad_args),
        cmocka_unit_test(test_store_queue_full_is_eagain),
        cmocka_unit_test(test_store_failed_store_is_erofs),
    };
    int failed = cmocka_run_group_tests_name("store_lifecycle", tests, NULL, NULL);
    failed += store_data_tests();
    failed += store_meta_tests();
    failed += store_cache_tests();
    failed += store_fault_tests();
    return failed != 0;
}

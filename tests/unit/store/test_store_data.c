/* Object store data path: write/read round trips at aligned and unaligned
 * offsets and sizes, overwrites (whole blocks and partial), holes, zero,
 * truncate, remove, transaction atomicity, group commit, async reads,
 * persistence across reopen, and both I/O backends. Each test checks
 * against an in-memory model of the object. */
#include "store_test.h"

/* Opts whose small writes (up to 64 KiB, whole blocks included) all take the
 * deferred path, so the same checks cover both write paths. */
static const struct osd_store_opts *deferred_opts(void)
{
    static struct osd_store_opts o;
    t_opts(&o);
    o.deferred_max_bytes = 64u << 10;
    return &o;
}

static void roundtrip_sizes(const struct osd_store_opts *opts)
{
    static const uint64_t offs[] = {0, 1, 4095, 4096, 5000};
    static const size_t lens[] = {0,    1,     4095, 4096, 4097, 8192, 65536, 65537,
                                  (1u << 20) + 3, 16u << 20};
    struct tstore *t = t_new_with(opts);
    uint64_t base = t_used(t);
    size_t maxlen = 16u << 20;
    uint8_t *buf = malloc(maxlen);
    uint8_t *expect = malloc(maxlen + 8192);
    for (size_t i = 0; i < CAIRN_ARRAY_SIZE(offs); i++) {
        for (size_t j = 0; j < CAIRN_ARRAY_SIZE(lens); j++) {
            uint64_t off = offs[i];
            size_t len = lens[j];
            t_fill(buf, len, (uint32_t)(i * 16 + j));
            assert_int_equal(t_write(t, "obj", off, buf, len), 0);
            uint64_t size = len > 0 ? off + len : 0; /* an empty write only creates */
            assert_int_equal(t_size(t, "obj"), size);
            memset(expect, 0, off);
            memcpy(expect + off, buf, len);
            t_check(t, "obj", 0, off + len + 100, expect, size);
            t_check(t, "obj", off, len, buf, len);
            assert_int_equal(t_op1(t, osd_txn_remove, "obj"), 0);
        }
    }
    assert_int_equal(t_used(t), base);
    t_fsck_clean(t, true);
    free(buf);
    free(expect);
    t_free(t);
}

static void test_store_roundtrip_sizes(void **state)
{
    (void)state;
    roundtrip_sizes(NULL);
}

static void test_store_roundtrip_sizes_deferred(void **state)
{
    (void)state;
    roundtrip_sizes(deferred_opts());
}

/* Applies a write to the model too. */
static void model_write(struct tstore *t, uint8_t *model, uint64_t *size, uint64_t off,
                        size_t len, uint32_t seed)
{
    uint8_t *b = malloc(len);
    t_fill(b, len, seed);
    assert_int_equal(t_write(t, "m", off, b, len), 0);
    memcpy(model + off, b, len);
    if (off + len > *size)
        *size = off + len;
    free(b);
}

static void test_store_overwrite_whole_and_partial(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint8_t *model = calloc(1, 256 << 10);
    uint64_t size = 0;
    model_write(t, model, &size, 0, 64 << 10, 1);
    model_write(t, model, &size, 4096, 8192, 2);       /* whole blocks: COW */
    model_write(t, model, &size, 5000, 100, 3);        /* inside a block: deferred */
    model_write(t, model, &size, 4000, 200, 4);        /* straddles two blocks */
    model_write(t, model, &size, 10000, 20000, 5);     /* head, whole blocks, tail */
    model_write(t, model, &size, 60000, 10000, 6);     /* extends the object */
    model_write(t, model, &size, 5000, 100, 7);        /* again, on a pending image */
    t_check(t, "m", 0, 256 << 10, model, size);
    struct osd_obj_stat st;
    assert_int_equal(osd_store_stat(t->s, T_COLL, "m", &st), 0);
    assert_int_equal(st.blocks, CAIRN_ALIGN_UP(size, 4096) / 4096);
    t_fsck_clean(t, true);
    t_reopen(t);
    t_check(t, "m", 0, 256 << 10, model, size);
    t_fsck_clean(t, true);
    free(model);
    t_free(t);
}

static void test_store_holes_read_zeros(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint8_t b[4096];
    t_fill(b, sizeof(b), 9);
    assert_int_equal(t_write(t, "h", 1 << 20, b, sizeof(b)), 0);
    uint8_t *expect = calloc(1, (1 << 20) + 4096);
    memcpy(expect + (1 << 20), b, 4096);
    t_check(t, "h", 0, (1 << 20) + 8192, expect, (1 << 20) + 4096);
    struct osd_obj_stat st;
    assert_int_equal(osd_store_stat(t->s, T_COLL, "h", &st), 0);
    assert_int_equal(st.blocks, 1);
    assert_int_equal(t_op1(t, osd_txn_touch, "empty"), 0);
    t_check(t, "empty", 0, 100, NULL, 0);
    t_check(t, "h", 5 << 20, 100, NULL, 0); /* past the end */
    free(expect);
    t_free(t);
}

static void test_store_zero_op(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint8_t *model = calloc(1, 64 << 10);
    uint64_t size = 0;
    model_write(t, model, &size, 0, 32 << 10, 11);
    assert_int_equal(t_zero(t, "m", 1000, 19000), 0);
    memset(model + 1000, 0, 19000);
    t_check(t, "m", 0, 64 << 10, model, size);
    struct osd_obj_stat st;
    assert_int_equal(osd_store_stat(t->s, T_COLL, "m", &st), 0);
    assert_int_equal(st.blocks, 8 - 3); /* blocks 1..3 became holes */
    assert_int_equal(t_zero(t, "m", 40000, 1000), 0); /* past the end: extends */
    size = 41000;
    t_check(t, "m", 0, 64 << 10, model, size);
    assert_int_equal(t_zero(t, "m", 0, 0), 0);
    t_fsck_clean(t, true);
    free(model);
    t_free(t);
}

static void test_store_truncate_down_up(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint64_t base = t_used(t);
    uint8_t *model = calloc(1, 64 << 10);
    uint64_t size = 0;
    model_write(t, model, &size, 0, 10000, 12);
    assert_int_equal(t_truncate(t, "m", 5000), 0);
    assert_int_equal(t_size(t, "m"), 5000);
    memset(model + 5000, 0, 5000);
    assert_int_equal(t_truncate(t, "m", 20000), 0);
    t_check(t, "m", 0, 64 << 10, model, 20000);
    struct osd_obj_stat st;
    assert_int_equal(osd_store_stat(t->s, T_COLL, "m", &st), 0);
    assert_int_equal(st.blocks, 2);
    assert_int_equal(t_truncate(t, "m", 0), 0);
    assert_int_equal(t_used(t), base);
    assert_int_equal(t_truncate(t, "new", 8192), 0); /* creates */
    t_check(t, "new", 0, 9000, model + 30000, 8192);
    t_fsck_clean(t, true);
    free(model);
    t_free(t);
}

static void test_store_truncate_large_sparse(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint64_t base = t_used(t);
    uint8_t b[8192];
    t_fill(b, sizeof(b), 5);
    for (uint64_t off = 0; off < (64ull << 20); off += 3 << 20)
        assert_int_equal(t_write(t, "s", off, b, sizeof(b)), 0);
    assert_int_equal(t_truncate(t, "s", (5 << 20) + 10), 0);
    t_check(t, "s", 3 << 20, 8192, b, 8192);
    assert_int_equal(t_op1(t, osd_txn_remove, "s"), 0);
    assert_int_equal(t_used(t), base);
    t_fsck_clean(t, false);
    t_free(t);
}

static void test_store_remove_and_create_exclusive(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint64_t base = t_used(t);
    uint8_t b[20000];
    t_fill(b, sizeof(b), 13);
    assert_int_equal(t_write(t, "r", 0, b, sizeof(b)), 0);
    assert_true(t_used(t) > base);
    assert_int_equal(t_op1(t, osd_txn_remove, "r"), 0);
    struct osd_obj_stat st;
    assert_int_equal(osd_store_stat(t->s, T_COLL, "r", &st), -ENOENT);
    size_t got;
    assert_int_equal(osd_store_read(t->s, T_COLL, "r", 0, 10, b, &got), -ENOENT);
    assert_int_equal(t_op1(t, osd_txn_remove, "r"), -ENOENT);
    assert_int_equal(t_used(t), base);
    assert_int_equal(t_op1(t, osd_txn_create_exclusive, "r"), 0);
    assert_int_equal(t_op1(t, osd_txn_create_exclusive, "r"), -EEXIST);
    assert_int_equal(t_op1(t, osd_txn_touch, "r"), 0);
    assert_int_equal(t_size(t, "r"), 0);
    t_fsck_clean(t, false);
    t_free(t);
}

static void test_store_txn_is_atomic(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint64_t base = t_used(t);
    uint8_t b[3 * 4096 + 10];
    t_fill(b, sizeof(b), 14);
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_write(x, "a", 0, b, sizeof(b)), 0);
    assert_int_equal(osd_txn_setxattr(x, "a", "k", "v", 1), 0);
    assert_int_equal(osd_txn_remove(x, "missing"), 0);
    assert_int_equal(osd_store_apply(t->s, x), -ENOENT);
    struct osd_obj_stat st;
    assert_int_equal(osd_store_stat(t->s, T_COLL, "a", &st), -ENOENT);
    assert_int_equal(t_used(t), base);
    /* Ops apply in order: write, remove, write again. */
    x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_write(x, "a", 0, b, sizeof(b)), 0);
    assert_int_equal(osd_txn_remove(x, "a"), 0);
    assert_int_equal(osd_txn_write(x, "a", 4096, b, 4096), 0);
    assert_int_equal(osd_store_apply(t->s, x), 0);
    uint8_t expect[8192] = {0};
    memcpy(expect + 4096, b, 4096);
    t_check(t, "a", 0, 100000, expect, 8192);
    t_fsck_clean(t, true);
    t_free(t);
}

struct async_state {
    int done;
    int errors;
};

static void async_cb(int result, void *arg)
{
    struct async_state *a = arg;
    if (result != 0)
        __atomic_add_fetch(&a->errors, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&a->done, 1, __ATOMIC_RELEASE);
}

static void test_store_group_commit_async(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    struct osd_store_stats before, after;
    osd_store_get_stats(t->s, &before);
    struct async_state a = {0};
    enum { N = 300 };
    uint8_t b[4096];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "o%d", i % 37);
        t_fill(b, sizeof(b), (uint32_t)i);
        struct osd_txn *x = osd_txn_create(T_COLL);
        assert_int_equal(osd_txn_write(x, name, (uint64_t)(i % 5) * 4096, b, sizeof(b)), 0);
        int rc;
        while ((rc = osd_store_queue(t->s, x, async_cb, &a)) == -EAGAIN)
            usleep(100);
        assert_int_equal(rc, 0);
    }
    while (__atomic_load_n(&a.done, __ATOMIC_ACQUIRE) < N)
        usleep(1000);
    assert_int_equal(a.errors, 0);
    osd_store_get_stats(t->s, &after);
    assert_int_equal(after.txns_committed - before.txns_committed, N);
    assert_true(after.kv_commits - before.kv_commits < N); /* grouped */
    /* The last write of each (object, offset) wins: same queue order. */
    for (int i = N - 37 * 5; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "o%d", i % 37);
        t_fill(b, sizeof(b), (uint32_t)i);
        int last = i;
        while (last + 37 * 5 < N)
            last += 37 * 5;
        if (last != i)
            continue;
        t_check(t, name, (uint64_t)(i % 5) * 4096, 4096, b, 4096);
    }
    t_fsck_clean(t, true);
    t_free(t);
}

struct read_state {
    int result;
    size_t len;
    sem_t done;
};

static void read_cb(int result, size_t out_len, void *arg)
{
    struct read_state *r = arg;
    r->result = result;
    r->len = out_len;
    sem_post(&r->done);
}

static void test_store_read_async_and_aligned_buffers(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    size_t len = 4 << 20;
    uint8_t *b = malloc(len);
    t_fill(b, len, 21);
    assert_int_equal(t_write(t, "big", 0, b, len), 0);
    void *abuf = NULL;
    assert_int_equal(posix_memalign(&abuf, 4096, len), 0);
    struct read_state r = {.result = 1};
    sem_init(&r.done, 0, 0);
    assert_int_equal(osd_store_read_async(t->s, T_COLL, "big", 0, len, abuf, read_cb, &r), 0);
    sem_wait(&r.done);
    assert_int_equal(r.result, 0);
    assert_int_equal(r.len, len);
    assert_memory_equal(abuf, b, len);
    assert_int_equal(osd_store_read_async(t->s, T_COLL, "nope", 0, 1, abuf, read_cb, &r), 0);
    sem_wait(&r.done);
    assert_int_equal(r.result, -ENOENT);
    assert_int_equal(osd_store_read_async(t->s, T_COLL, "big", 0, 1, abuf, NULL, &r), -EINVAL);
    free(abuf);
    free(b);
    t_free(t);
}

static void data_survives_reopen(const struct osd_store_opts *opts)
{
    struct tstore *t = t_new_with(opts);
    uint8_t b[50000];
    t_fill(b, sizeof(b), 31);
    assert_int_equal(t_write(t, "a", 0, b, 8192), 0);
    assert_int_equal(t_write(t, "b", 123, b, sizeof(b)), 0);
    assert_int_equal(t_write(t, "c", 7, b, 10), 0);
    t_reopen(t);
    t_check(t, "a", 0, 8192, b, 8192);
    t_check(t, "b", 123, sizeof(b), b, sizeof(b));
    t_check(t, "c", 7, 10, b, 10);
    assert_int_equal(t_write(t, "d", 0, b, 4096), 0); /* nids keep counting */
    t_check(t, "a", 0, 8192, b, 8192);
    t_fsck_clean(t, true);
    t_free(t);
}

static void test_store_data_survives_reopen(void **state)
{
    (void)state;
    data_survives_reopen(NULL);
}

static void test_store_data_survives_reopen_deferred(void **state)
{
    (void)state;
    data_survives_reopen(deferred_opts());
}

static void backend_roundtrip(enum osd_io_backend be)
{
    struct osd_io *io;
    int rc = osd_io_create(be, 4, &io);
    if (rc == -EOPNOTSUPP) {
        fprintf(stderr, "backend %s unavailable: skipped\n", osd_io_backend_name(be));
        return;
    }
    assert_int_equal(rc, 0);
    osd_io_destroy(io);
    struct osd_store_opts o;
    t_opts(&o);
    o.backend = be;
    struct tstore *t = t_new_with(&o);
    size_t len = (1 << 20) + 3;
    uint8_t *b = malloc(len);
    t_fill(b, len, 41 + be);
    assert_int_equal(t_write(t, "x", 4095, b, len), 0);
    t_check(t, "x", 4095, len, b, len);
    t_reopen(t);
    t_check(t, "x", 4095, len, b, len);
    t_fsck_clean(t, true);
    free(b);
    t_free(t);
}

static void test_store_backend_uring(void **state)
{
    (void)state;
    backend_roundtrip(OSD_IO_URING);
}

static void test_store_backend_aio(void **state)
{
    (void)state;
    backend_roundtrip(OSD_IO_AIO);
}

static void test_store_backend_sync(void **state)
{
    (void)state;
    backend_roundtrip(OSD_IO_SYNC);
}

int store_data_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_roundtrip_sizes),
        cmocka_unit_test(test_store_roundtrip_sizes_deferred),
        cmocka_unit_test(test_store_overwrite_whole_and_partial),
        cmocka_unit_test(test_store_holes_read_zeros),
        cmocka_unit_test(test_store_zero_op),
        cmocka_unit_test(test_store_truncate_down_up),
        cmocka_unit_test(test_store_truncate_large_sparse),
        cmocka_unit_test(test_store_remove_and_create_exclusive),
        cmocka_unit_test(test_store_txn_is_atomic),
        cmocka_unit_test(test_store_group_commit_async),
        cmocka_unit_test(test_store_read_async_and_aligned_buffers),
        cmocka_unit_test(test_store_data_survives_reopen),
        cmocka_unit_test(test_store_data_survives_reopen_deferred),
        cmocka_unit_test(test_store_backend_uring),
        cmocka_unit_test(test_store_backend_aio),
        cmocka_unit_test(test_store_backend_sync),
    };
    return cmocka_run_group_tests_name("store_data", tests, NULL, NULL);
}

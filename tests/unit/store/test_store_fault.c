/* Object store faults and recovery: deferred writes replayed at open (the
 * apply is held back with a test hook), the idle apply, a randomized
 * allocator-leak check against a model (prints its seed; CAIRN_TEST_SEED
 * replays), the same from concurrent threads (groups overlap the kv
 * thread), a full data file, the metadata reserve, and bit rot in the data
 * file caught by crc32c on read and by deep fsck. */
#include "store_test.h"

#include <time.h>

/* Offset in the data file of the first block equal to @pat (4096 bytes), or -1. */
static off_t find_in_data(struct tstore *t, const uint8_t *pat)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/data", t->dir);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint8_t *buf = malloc(1 << 20);
    off_t found = -1;
    for (off_t off = 0; found < 0 && off < (off_t)T_DATA_SIZE; off += 1 << 20) {
        assert_int_equal(pread(fd, buf, 1 << 20, off), 1 << 20);
        for (size_t i = 0; i < (1 << 20); i += 4096) {
            if (memcmp(buf + i, pat, 4096) == 0) {
                found = off + (off_t)i;
                break;
            }
        }
    }
    free(buf);
    close(fd);
    return found;
}

static uint64_t t_pending(struct tstore *t)
{
    struct osd_store_stats st;
    osd_store_get_stats(t->s, &st);
    return st.deferred_pending;
}

static void test_store_deferred_replayed_at_open(void **state)
{
    (void)state;
    /* The 8 KiB base write must land in the data file at once, so this
     * store sends only partial blocks through the deferred path. */
    struct osd_store_opts o;
    t_opts(&o);
    o.deferred_max_bytes = 0;
    struct tstore *t = t_new_with(&o);
    uint8_t model[8192], patch[100];
    t_fill(model, sizeof(model), 51);
    t_fill(patch, sizeof(patch), 52);
    assert_int_equal(t_write(t, "d", 0, model, sizeof(model)), 0);
    assert_int_equal(osd__store_hold_deferred(t->s, true), 0);
    assert_int_equal(t_write(t, "d", 5000, patch, sizeof(patch)), 0);
    assert_int_equal(t_write(t, "e", 10, patch, sizeof(patch)), 0); /* hole: new block */
    memcpy(model + 5000, patch, sizeof(patch));
    assert_int_equal(t_pending(t), 2);
    t_check(t, "d", 0, sizeof(model), model, sizeof(model));
    osd_store_close(t->s); /* held: the images are not applied */
    t->s = NULL;
    assert_true(find_in_data(t, model + 4096) < 0); /* the merged block is not on disk */
    assert_int_equal(osd_store_open(t->dir, &t->opts, &t->s), 0);
    assert_true(find_in_data(t, model + 4096) > 0); /* replay wrote it in place */
    assert_int_equal(t_pending(t), 0);
    t_check(t, "d", 0, sizeof(model), model, sizeof(model));
    uint8_t e[110] = {0};
    memcpy(e + 10, patch, sizeof(patch));
    t_check(t, "e", 0, 200, e, sizeof(e));
    t_fsck_clean(t, true);
    t_free(t);
}

static void test_store_deferred_applied_when_idle(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint8_t model[4096], patch[10];
    t_fill(model, sizeof(model), 61);
    t_fill(patch, sizeof(patch), 62);
    assert_int_equal(t_write(t, "d", 0, model, sizeof(model)), 0);
    assert_int_equal(t_write(t, "d", 0, patch, sizeof(patch)), 0);
    memcpy(model, patch, sizeof(patch));
    for (int i = 0; i < 1000 && t_pending(t) > 0; i++)
        usleep(1000);
    assert_int_equal(t_pending(t), 0);
    assert_true(find_in_data(t, model) > 0); /* written in place */
    t_check(t, "d", 0, sizeof(model), model, sizeof(model));
    t_fsck_clean(t, true);
    t_free(t);
}

#define NOBJ 6
#define OBJ_MAX (512u << 10)

static uint32_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return (uint32_t)(*x >> 32);
}

/* One random operation on object @o, mirrored in the model. */
static void random_op(struct tstore *t, uint64_t *seed, uint8_t **model, uint64_t *size, int o)
{
    char name[16];
    snprintf(name, sizeof(name), "r%d", o);
    uint32_t kind = rnd(seed) % 10;
    uint64_t off = rnd(seed) % (OBJ_MAX / 2);
    uint64_t len = rnd(seed) % (OBJ_MAX / 2);
    if (rnd(seed) % 2) { /* favour block-aligned shapes */
        off &= ~4095ull;
        len &= ~4095ull;
    }
    if (kind < 5) {
        uint8_t *b = malloc(len + 1);
        t_fill(b, len, rnd(seed));
        assert_int_equal(t_write(t, name, off, b, len), 0);
        memcpy(model[o] + off, b, len);
        if (len > 0)
            size[o] = CAIRN_MAX(size[o], off + len);
        free(b);
    } else if (kind < 7) {
        assert_int_equal(t_zero(t, name, off, len), 0);
        memset(model[o] + off, 0, len);
        if (len > 0)
            size[o] = CAIRN_MAX(size[o], off + len);
    } else if (kind < 9) {
        assert_int_equal(t_truncate(t, name, off), 0);
        if (off < size[o])
            memset(model[o] + off, 0, size[o] - off);
        size[o] = off;
    } else {
        int rc = t_op1(t, osd_txn_remove, name);
        assert_true(rc == 0 || rc == -ENOENT);
        memset(model[o], 0, OBJ_MAX);
        size[o] = 0;
    }
}

static void test_store_allocator_never_leaks(void **state)
{
    (void)state;
    const char *env = getenv("CAIRN_TEST_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    fprintf(stderr, "test_store_allocator_never_leaks: seed %llu\n", (unsigned long long)seed);
    seed = seed * 0x9e3779b97f4a7c15ull + 1;
    struct tstore *t = t_new();
    uint64_t base = t_used(t);
    uint8_t *model[NOBJ];
    uint64_t size[NOBJ] = {0};
    for (int o = 0; o < NOBJ; o++)
        model[o] = calloc(1, OBJ_MAX);
    for (int i = 0; i < 300; i++) {
        random_op(t, &seed, model, size, (int)(rnd(&seed) % NOBJ));
        if (i == 150)
            t_reopen(t);
    }
    for (int o = 0; o < NOBJ; o++) {
        char name[16];
        snprintf(name, sizeof(name), "r%d", o);
        struct osd_obj_stat st;
        if (osd_store_stat(t->s, T_COLL, name, &st) == 0)
            t_check(t, name, 0, OBJ_MAX, model[o], size[o]);
    }
    t_fsck_clean(t, true);
    for (int o = 0; o < NOBJ; o++) {
        char name[16];
        snprintf(name, sizeof(name), "r%d", o);
        struct osd_txn *x = osd_txn_create(T_COLL);
        assert_int_equal(osd_txn_touch(x, name), 0);
        assert_int_equal(osd_txn_remove(x, name), 0);
        assert_int_equal(osd_store_apply(t->s, x), 0);
        free(model[o]);
    }
    assert_int_equal(t_used(t), base);
    t_fsck_clean(t, false);
    t_free(t);
}

/* A worker of the concurrent test: owns objects c<id>-0 and c<id>-1 and
 * checks them against its model; cmocka asserts stay on the main thread. */
struct worker {
    struct tstore *t;
    int id;
    uint64_t seed;
    int failures;
};

static void worker_check(struct worker *w, const char *name, const uint8_t *model, uint64_t size)
{
    uint8_t *buf = malloc(OBJ_MAX);
    size_t got = 0;
    int rc = osd_store_read(w->t->s, T_COLL, name, 0, OBJ_MAX, buf, &got);
    if (rc == -ENOENT && size == 0)
        rc = 0, got = 0;
    if (rc != 0 || got != size || memcmp(buf, model, size) != 0) {
        fprintf(stderr, "worker %d: %s mismatch rc %d got %zu want %llu\n", w->id, name, rc,
                got, (unsigned long long)size);
        w->failures++;
    }
    free(buf);
}

static int worker_txn(struct worker *w, const char *name, uint32_t kind, uint64_t off,
                      uint64_t len, const uint8_t *data)
{
    struct osd_txn *x = osd_txn_create(T_COLL);
    if (kind < 5)
        osd_txn_write(x, name, off, data, len);
    else if (kind < 7)
        osd_txn_zero(x, name, off, len);
    else if (kind < 9)
        osd_txn_truncate(x, name, off);
    else
        osd_txn_remove(x, name);
    return osd_store_apply(w->t->s, x);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint8_t *model[2] = {calloc(1, OBJ_MAX), calloc(1, OBJ_MAX)};
    uint64_t size[2] = {0, 0};
    uint8_t *data = malloc(OBJ_MAX);
    for (int i = 0; i < 120 && w->failures == 0; i++) {
        int o = (int)(rnd(&w->seed) % 2);
        char name[32];
        snprintf(name, sizeof(name), "c%d-%d", w->id, o);
        uint32_t kind = rnd(&w->seed) % 10;
        uint64_t off = rnd(&w->seed) % (OBJ_MAX / 2), len = rnd(&w->seed) % (OBJ_MAX / 4);
        if (rnd(&w->seed) % 2) {
            off &= ~4095ull;
            len &= ~4095ull;
        }
        t_fill(data, len, rnd(&w->seed));
        int rc = worker_txn(w, name, kind, off, len, data);
        if (rc != 0 && !(kind == 9 && rc == -ENOENT)) {
            fprintf(stderr, "worker %d: op %u rc %d\n", w->id, kind, rc);
            w->failures++;
        }
        if (kind < 5) {
            memcpy(model[o] + off, data, len);
            if (len > 0)
                size[o] = CAIRN_MAX(size[o], off + len);
        } else if (kind < 7) {
            memset(model[o] + off, 0, len);
            if (len > 0)
                size[o] = CAIRN_MAX(size[o], off + len);
        } else if (kind < 9) {
            if (off < size[o])
                memset(model[o] + off, 0, size[o] - off);
            size[o] = off;
        } else {
            memset(model[o], 0, OBJ_MAX);
            size[o] = 0;
        }
        if (i % 8 == 0)
            worker_check(w, name, model[o], size[o]);
    }
    for (int o = 0; o < 2; o++) {
        char name[32];
        snprintf(name, sizeof(name), "c%d-%d", w->id, o);
        worker_check(w, name, model[o], size[o]);
        free(model[o]);
    }
    free(data);
    return NULL;
}

static void test_store_concurrent_random_ops(void **state)
{
    (void)state;
    const char *env = getenv("CAIRN_TEST_SEED");
    uint64_t seed = env != NULL ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    fprintf(stderr, "test_store_concurrent_random_ops: seed %llu\n", (unsigned long long)seed);
    struct tstore *t = t_new();
    uint64_t base = t_used(t);
    enum { NW = 6 };
    struct worker w[NW];
    pthread_t th[NW];
    for (int i = 0; i < NW; i++) {
        w[i] = (struct worker){.t = t, .id = i, .seed = (seed + (uint64_t)i) * 0x9e3779b97f4a7c15ull + 1};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NW; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    struct osd_store_stats st;
    osd_store_get_stats(t->s, &st);
    fprintf(stderr, "  %llu txns in %llu batches\n", (unsigned long long)st.txns_committed,
            (unsigned long long)st.kv_commits);
    t_fsck_clean(t, true);
    t_reopen(t);
    t_fsck_clean(t, true);
    for (int i = 0; i < NW; i++) {
        for (int o = 0; o < 2; o++) {
            char name[32];
            snprintf(name, sizeof(name), "c%d-%d", i, o);
            struct osd_txn *x = osd_txn_create(T_COLL);
            assert_int_equal(osd_txn_touch(x, name), 0);
            assert_int_equal(osd_txn_remove(x, name), 0);
            assert_int_equal(osd_store_apply(t->s, x), 0);
        }
    }
    assert_int_equal(t_used(t), base);
    t_free(t);
}

static void test_store_data_full_is_enospc(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint64_t base = t_used(t);
    size_t len = 4 << 20;
    uint8_t *b = malloc(len);
    t_fill(b, len, 71);
    int n = 0, rc;
    char name[16];
    while ((snprintf(name, sizeof(name), "f%d", n), rc = t_write(t, name, 0, b, len)) == 0)
        n++;
    assert_int_equal(rc, -ENOSPC);
    assert_true(n >= 14 && n < 16);
    struct osd_obj_stat st;
    assert_int_equal(osd_store_stat(t->s, T_COLL, name, &st), -ENOENT); /* changed nothing */
    while ((rc = t_write(t, "small", (uint64_t)n++ * 4096, b, 4096)) == 0)
        ;
    assert_int_equal(rc, -ENOSPC);
    assert_int_equal(t_write(t, "tiny", 0, b, 1), -ENOSPC); /* a deferred write into a hole */
    assert_false(osd_store_is_failed(t->s));
    t_fsck_clean(t, false);
    assert_int_equal(t_op1(t, osd_txn_remove, "f0"), 0);
    assert_int_equal(t_write(t, "again", 0, b, len), 0);
    t_check(t, "again", 0, len, b, len);
    t_fsck_clean(t, true);
    for (int i = 1; i < 16; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        t_op1(t, osd_txn_remove, name);
    }
    assert_int_equal(t_op1(t, osd_txn_remove, "again"), 0);
    assert_int_equal(t_op1(t, osd_txn_remove, "small"), 0);
    assert_int_equal(t_used(t), base);
    free(b);
    t_free(t);
}

static void test_store_meta_reserve_is_enospc(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    uint64_t base = t_used(t);
    uint8_t b[8192];
    t_fill(b, sizeof(b), 81);
    assert_int_equal(t_write(t, "o", 0, b, sizeof(b)), 0);
    osd_store_close(t->s);
    t->s = NULL;
    t->opts.meta_reserve_bytes = UINT64_MAX / 2;
    assert_int_equal(osd_store_open(t->dir, &t->opts, &t->s), 0);
    assert_int_equal(t_write(t, "o", 0, b, 10), -ENOSPC);
    assert_int_equal(t_op1(t, osd_txn_touch, "p"), -ENOSPC);
    struct osd_txn *x = osd_txn_create(T_COLL);
    assert_int_equal(osd_txn_setxattr(x, "o", "a", "b", 1), 0);
    assert_int_equal(osd_store_apply(t->s, x), -ENOSPC);
    assert_int_equal(t_op1(t, osd_txn_remove, "o"), 0); /* removals still work */
    assert_int_equal(t_used(t), base);
    assert_false(osd_store_is_failed(t->s));
    t_fsck_clean(t, false);
    t_free(t);
}

static void test_store_bit_rot_is_eio(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    static uint8_t b[64u << 10]; /* over deferred_max_bytes: written in place at once */
    t_fill(b, sizeof(b), 91);
    assert_int_equal(t_write(t, "rot", 0, b, sizeof(b)), 0);
    off_t at = find_in_data(t, b);
    assert_true(at > 0);
    char path[128];
    snprintf(path, sizeof(path), "%s/data", t->dir);
    int fd = open(path, O_WRONLY);
    uint8_t flipped = b[10] ^ 0x40;
    assert_int_equal(pwrite(fd, &flipped, 1, at + 10), 1);
    close(fd);
    struct osd_store_stats st0, st1;
    osd_store_get_stats(t->s, &st0);
    uint8_t out[8192];
    size_t got;
    assert_int_equal(osd_store_read(t->s, T_COLL, "rot", 0, sizeof(out), out, &got), -EIO);
    assert_int_equal(osd_store_read(t->s, T_COLL, "rot", 0, 100, out, &got), -EIO);
    osd_store_get_stats(t->s, &st1);
    assert_int_equal(st1.csum_errors - st0.csum_errors, 2);
    t_check(t, "rot", 4096, 4096, b + 4096, 4096); /* the other block is fine */
    /* A partial overwrite must read the bad block: it fails alone. */
    assert_int_equal(t_write(t, "rot", 100, b, 10), -EIO);
    struct osd_fsck_report r;
    assert_int_equal(osd_store_fsck(t->s, false, &r), 0);
    assert_int_equal(r.errors, 0);
    assert_int_equal(osd_store_fsck(t->s, true, &r), 0);
    assert_int_equal(r.csum_errors, 1);
    assert_int_equal(r.errors, 1);
    assert_non_null(strstr(r.first_error, "crc32c"));
    assert_int_equal(t_write(t, "rot", 0, b, 4096), 0); /* a whole-block rewrite heals */
    t_check(t, "rot", 0, sizeof(b), b, sizeof(b));
    t_fsck_clean(t, true);
    t_free(t);
}

int store_fault_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_deferred_replayed_at_open),
        cmocka_unit_test(test_store_deferred_applied_when_idle),
        cmocka_unit_test(test_store_allocator_never_leaks),
        cmocka_unit_test(test_store_concurrent_random_ops),
        cmocka_unit_test(test_store_data_full_is_enospc),
        cmocka_unit_test(test_store_meta_reserve_is_enospc),
        cmocka_unit_test(test_store_bit_rot_is_eio),
    };
    return cmocka_run_group_tests_name("store_fault", tests, NULL, NULL);
}

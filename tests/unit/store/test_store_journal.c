/* The store's metadata journal (osd/store/journal.c): records come back in
 * order after a reopen; a torn record, a record of an earlier incarnation
 * and a record from an older lap all end the replay; the ring wraps and
 * refuses to overrun its tail; a store whose journal is missing or damaged
 * does not open; a batch too large for a record keeps its order; a store
 * made before the journal gets one and keeps its data. Crash consistency of the whole store with
 * the journal is tests/fault/store_crash's job. */
#include "store_test.h"

#include <rocksdb/c.h>

#define RING (1u << 20)

struct tj {
    char dir[64];
    char path[96];
};

static struct tj *tj_new(void)
{
    struct tj *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->dir, sizeof(t->dir), "/var/tmp/cairn-tj.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/journal", t->dir);
    assert_int_equal(osd__journal_create(t->path, RING), 0);
    return t;
}

static void tj_free(struct tj *t)
{
    t_rmrf(t->dir);
    free(t);
}

/* Opens the journal and replays it from the origin: the number of records. */
static unsigned replay_count(const char *path, struct osd__jpos *end, unsigned first_tag)
{
    struct osd__journal *j;
    assert_int_equal(osd__journal_open(path, &j), 0);
    struct osd__jpos at = osd__journal_origin(j);
    const void *p;
    size_t len;
    unsigned n = 0;
    int rc;
    while ((rc = osd__journal_next(j, &at, &p, &len)) == 1) {
        /* Every payload is filled with its tag byte. */
        const uint8_t *b = p;
        assert_true(len > 0);
        for (size_t i = 0; i < len; i++)
            assert_int_equal(b[i], (uint8_t)(first_tag + n));
        n++;
    }
    assert_int_equal(rc, 0);
    if (end != NULL)
        *end = at;
    osd__journal_close(j);
    return n;
}

static void append_tagged(struct osd__journal *j, size_t len, uint8_t tag)
{
    uint8_t *b = malloc(len);
    assert_non_null(b);
    memset(b, tag, len);
    assert_true(osd__journal_fits(j, len));
    assert_int_equal(osd__journal_append(j, b, len, true), 0);
    free(b);
}

/* Opens, positions after a replay from the origin, appends @n records. */
static void append_records(const char *path, unsigned n, size_t len, uint8_t first_tag)
{
    struct osd__journal *j;
    assert_int_equal(osd__journal_open(path, &j), 0);
    struct osd__jpos at = osd__journal_origin(j);
    const void *p;
    size_t l;
    while (osd__journal_next(j, &at, &p, &l) == 1)
        ;
    osd__journal_start(j, &at, 0);
    for (unsigned i = 0; i < n; i++)
        append_tagged(j, len, (uint8_t)(first_tag + i));
    osd__journal_close(j);
}

static void corrupt(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static void test_journal_records_come_back_in_order(void **state)
{
    (void)state;
    struct tj *t = tj_new();
    assert_int_equal(replay_count(t->path, NULL, 1), 0);
    append_records(t->path, 3, 5000, 1); /* two blocks each */
    struct osd__jpos end;
    assert_int_equal(replay_count(t->path, &end, 1), 3);
    assert_int_equal(end.seq, 3);
    assert_int_equal(end.vend, 3 * 8192);
    tj_free(t);
}

static void test_journal_torn_record_ends_replay(void **state)
{
    (void)state;
    struct tj *t = tj_new();
    append_records(t->path, 3, 100, 1); /* one block each, from offset 4096 */
    corrupt(t->path, 4096 + 4096 + 60); /* record 2's payload */
    assert_int_equal(replay_count(t->path, NULL, 1), 1);
    tj_free(t);
}

/* Records of 2, 3 (incarnation A); record 2 is torn; incarnation B replays
 * record 1 and writes its own record 2 of the same size, so A's record 3
 * follows it with the right seq and offset. It must not be replayed. */
static void test_journal_earlier_incarnation_does_not_chain(void **state)
{
    (void)state;
    struct tj *t = tj_new();
    append_records(t->path, 3, 100, 1);
    corrupt(t->path, 4096 + 4096 + 60);
    append_records(t->path, 1, 100, 2); /* B: replays 1, appends 2 */
    assert_int_equal(replay_count(t->path, NULL, 1), 2);
    tj_free(t);
}

static void test_journal_wraps_and_keeps_its_tail(void **state)
{
    (void)state;
    struct tj *t = tj_new();
    struct osd__journal *j;
    assert_int_equal(osd__journal_open(t->path, &j), 0);
    struct osd__jpos origin = osd__journal_origin(j);
    osd__journal_start(j, &origin, 0);
    const size_t len = 250000; /* 62 blocks: four fit in the 256-block ring */
    const uint64_t rb = 62 * 4096ull;
    for (uint8_t tag = 1; tag <= 4; tag++)
        append_tagged(j, len, tag);
    assert_false(osd__journal_fits(j, len)); /* the fifth would overrun record 1 */
    assert_false(osd__journal_fits(j, osd__journal_max_payload(j) + 1));
    /* Records 1 and 2 are flushed: the fifth goes to the start of the next
     * lap (8 blocks are left at the end of this one). */
    osd__journal_trim(j, 2 * rb);
    assert_true(osd__journal_fits(j, len));
    append_tagged(j, len, 5);
    assert_int_equal(osd__journal_last(j).vend, RING + rb);
    assert_true(osd__journal_used(j) <= RING);
    osd__journal_close(j);

    /* From the origin nothing chains any more: record 1 was overwritten. */
    assert_int_equal(replay_count(t->path, NULL, 1), 0);
    /* From after record 2 (its nonce is record 3's predecessor field): 3, 4,
     * then 5 at the next lap, then nothing (record 2 of the first lap). */
    int fd = open(t->path, O_RDONLY);
    uint8_t hdr[48];
    assert_int_equal(pread(fd, hdr, sizeof(hdr), (off_t)(4096 + 2 * rb)), (ssize_t)sizeof(hdr));
    close(fd);
    struct osd__jpos at = {.seq = 2, .vend = 2 * rb};
    memcpy(&at.nonce, hdr + 24, 8);
    const void *p;
    size_t l;
    assert_int_equal(osd__journal_open(t->path, &j), 0);
    for (uint8_t tag = 3; tag <= 5; tag++) {
        assert_int_equal(osd__journal_next(j, &at, &p, &l), 1);
        assert_int_equal(l, len);
        assert_int_equal(((const uint8_t *)p)[0], tag);
        assert_int_equal(((const uint8_t *)p)[len - 1], tag);
    }
    assert_int_equal(at.seq, 5);
    assert_int_equal(at.vend, RING + rb);
    assert_int_equal(osd__journal_next(j, &at, &p, &l), 0);
    osd__journal_close(j);
    tj_free(t);
}

static void test_journal_bad_header_is_eio(void **state)
{
    (void)state;
    struct tj *t = tj_new();
    struct osd__journal *j;
    corrupt(t->path, 20);
    assert_int_equal(osd__journal_open(t->path, &j), -EIO);
    unlink(t->path);
    assert_int_equal(osd__journal_open(t->path, &j), -ENOENT);
    tj_free(t);
}

/* A store whose journal is gone must not open as if nothing happened. */
static void test_store_without_its_journal_does_not_open(void **state)
{
    (void)state;
    char dir[64], path[96];
    struct osd_store_opts o;
    struct osd_store *s;
    snprintf(dir, sizeof(dir), "/var/tmp/cairn-tjs.XXXXXX");
    assert_non_null(mkdtemp(dir));
    t_opts(&o);
    assert_int_equal(osd_store_mkfs(dir, &o), 0);
    snprintf(path, sizeof(path), "%s/journal", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(osd_store_open(dir, &o, &s), -EIO);
    t_rmrf(dir);
}

/* Many more bytes than the ring holds go through one store, which must
 * flush its memtables to make room; all of it reads back after a reopen. */
static void test_store_journal_wraps_under_load(void **state)
{
    (void)state;
    struct tstore *t = t_new();
    static uint8_t buf[16384];
    const unsigned nobj = 64, rounds = 40; /* 40 MiB of deferred writes, 16 MiB ring */
    for (unsigned r = 0; r < rounds; r++)
        for (unsigned i = 0; i < nobj; i++) {
            char oid[32];
            snprintf(oid, sizeof(oid), "o%u", i);
            memset(buf, (int)(r * nobj + i), sizeof(buf));
            assert_int_equal(t_write(t, oid, (uint64_t)r * sizeof(buf), buf, sizeof(buf)), 0);
        }
    /* The ring filled and was freed by memtable flushes, more than once. */
    struct osd_store_stats st;
    osd_store_get_stats(t->s, &st);
    assert_true(st.journal_flushes >= 2);
    assert_true(st.journal_bytes_used <= (16u << 20));
    t_reopen(t);
    for (unsigned r = 0; r < rounds; r += 7)
        for (unsigned i = 0; i < nobj; i += 5) {
            char oid[32];
            snprintf(oid, sizeof(oid), "o%u", i);
            memset(buf, (int)(r * nobj + i), sizeof(buf));
            t_check(t, oid, (uint64_t)r * sizeof(buf), sizeof(buf), buf, sizeof(buf));
        }
    t_free(t);
}

static void kv_put(struct osd__kv *kv, const char *k, const void *v, size_t vl)
{
    struct osd__kv_batch *b = osd__kv_batch_create();
    osd__kv_batch_put(b, k, strlen(k), v, vl);
    assert_int_equal(osd__kv_write(kv, b, true), 0);
    osd__kv_batch_destroy(b);
}

static void kv_expect(struct osd__kv *kv, const char *k, const void *v, size_t vl)
{
    void *got;
    size_t gl;
    assert_int_equal(osd__kv_get(kv, k, strlen(k), &got, &gl), 0);
    assert_int_equal(gl, vl);
    assert_memory_equal(got, v, vl);
    free(got);
}

/* A batch too large for a record goes through RocksDB's WAL after a
 * memtable flush; replay after a crash must keep it in order with the
 * journaled batches around it. The crash is a copy of the store's files
 * taken while it is open (no flush at close): the memtables are lost, the
 * journal and the WAL are what the copy has. */
static void test_kv_large_batch_keeps_its_order(void **state)
{
    (void)state;
    struct tj *t = tj_new();
    char meta[256], jnl[256], copy[128], cmd[512];
    snprintf(meta, sizeof(meta), "%s/a/meta", t->dir);
    snprintf(jnl, sizeof(jnl), "%s/a/journal", t->dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/a", t->dir);
    assert_int_equal(system(cmd), 0);
    struct osd__kv *kv;
    assert_int_equal(osd__kv_open(meta, jnl, RING, true, &kv), 0);
    const size_t big_len = 300000; /* over a quarter of the 1 MiB ring */
    uint8_t *big = malloc(big_len);
    assert_non_null(big);
    memset(big, 'b', big_len);
    kv_put(kv, "Ka", "1", 1);
    struct osd__kv_batch *b = osd__kv_batch_create();
    osd__kv_batch_put(b, "Ka", 2, "2", 1);
    osd__kv_batch_put(b, "Kbig", 4, big, big_len);
    assert_int_equal(osd__kv_write(kv, b, true), 0);
    osd__kv_batch_destroy(b);
    kv_put(kv, "Kc", "3", 1);

    snprintf(copy, sizeof(copy), "%s/b", t->dir);
    snprintf(cmd, sizeof(cmd), "cp -a %s/a %s", t->dir, copy);
    assert_int_equal(system(cmd), 0);
    osd__kv_close(kv);

    snprintf(meta, sizeof(meta), "%s/meta", copy);
    snprintf(jnl, sizeof(jnl), "%s/journal", copy);
    assert_int_equal(osd__kv_open(meta, jnl, RING, false, &kv), 0);
    kv_expect(kv, "Ka", "2", 1); /* not the journaled "1" replayed over it */
    kv_expect(kv, "Kbig", big, big_len);
    kv_expect(kv, "Kc", "3", 1); /* replayed from the journal */
    osd__kv_close(kv);
    free(big);
    tj_free(t);
}

/* A store made before stores had a journal: no journal file and no
 * position in the database. It opens, gets a journal, keeps its data, and
 * what it writes next survives a crash image. The old store is made by
 * removing both from a new one (the position with RocksDB directly). */
static void test_store_from_before_the_journal_opens(void **state)
{
    (void)state;
    struct tj *t = tj_new();
    char meta[128], jnl[128], copy[128], cmd[512];
    snprintf(meta, sizeof(meta), "%s/a/meta", t->dir);
    snprintf(jnl, sizeof(jnl), "%s/a/journal", t->dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/a", t->dir);
    assert_int_equal(system(cmd), 0);
    struct osd__kv *kv;
    assert_int_equal(osd__kv_open(meta, jnl, RING, true, &kv), 0);
    kv_put(kv, "Kold", "1", 1);
    osd__kv_close(kv);

    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, meta, &err);
    assert_null(err);
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(wo, 1);
    rocksdb_delete(db, wo, OSD__JOURNAL_KEY, OSD__JOURNAL_KEY_LEN, &err);
    assert_null(err);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    assert_int_equal(unlink(jnl), 0);

    assert_int_equal(osd__kv_open(meta, jnl, RING, false, &kv), 0);
    assert_int_equal(access(jnl, F_OK), 0);
    kv_expect(kv, "Kold", "1", 1);
    kv_put(kv, "Knew", "2", 1);
    snprintf(copy, sizeof(copy), "%s/b", t->dir);
    snprintf(cmd, sizeof(cmd), "cp -a %s/a %s", t->dir, copy);
    assert_int_equal(system(cmd), 0);
    osd__kv_close(kv);

    char meta2[256], jnl2[256];
    snprintf(meta2, sizeof(meta2), "%s/meta", copy);
    snprintf(jnl2, sizeof(jnl2), "%s/journal", copy);
    assert_int_equal(osd__kv_open(meta2, jnl2, RING, false, &kv), 0);
    kv_expect(kv, "Kold", "1", 1);
    kv_expect(kv, "Knew", "2", 1); /* from the new journal */
    osd__kv_close(kv);
    tj_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_records_come_back_in_order),
        cmocka_unit_test(test_journal_torn_record_ends_replay),
        cmocka_unit_test(test_journal_earlier_incarnation_does_not_chain),
        cmocka_unit_test(test_journal_wraps_and_keeps_its_tail),
        cmocka_unit_test(test_journal_bad_header_is_eio),
        cmocka_unit_test(test_store_without_its_journal_does_not_open),
        cmocka_unit_test(test_store_journal_wraps_under_load),
        cmocka_unit_test(test_kv_large_batch_keeps_its_order),
        cmocka_unit_test(test_store_from_before_the_journal_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

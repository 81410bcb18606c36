/* The monitor's RocksDB log store (monitor/log_store.h): what a ready
 * persists survives a reopen; conflicting suffixes are replaced; received
 * snapshots drop the log; compaction drops the prefix; damaged records and
 * gaps are refused with -EBADMSG. Each test uses its own temp directory.
 * Records are damaged by writing to RocksDB directly, as a bad disk would. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rocksdb/c.h>

#include "monitor/log_store.h"

struct fixture {
    char dir[64];
    struct mon_log_store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-logstore-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    mon_log_store_close(f->s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void create_store(struct fixture *f, bool with_snap)
{
    struct mon_log_ident id = {.id = 7, .name = "a", .fsid = {1, 2, 3}};
    /* As mkfs writes it: the initial state as the empty snapshot's data. */
    struct mon_raft_snapshot snap = {.len = 5, .data = "init"};
    assert_int_equal(mon_log_store_open(f->dir, true, &f->s), 0);
    assert_int_equal(mon_log_store_init(f->s, &id, with_snap ? &snap : NULL), 0);
}

static void reopen(struct fixture *f, struct mon_log_state *st)
{
    mon_log_store_close(f->s);
    f->s = NULL;
    assert_int_equal(mon_log_store_open(f->dir, false, &f->s), 0);
    assert_int_equal(mon_log_store_load(f->s, st), 0);
}

/* Entries index..index+n-1 of @term, payload "e<index>". */
static void make_entries(struct mon_raft_entry *e, char (*bufs)[16], uint64_t index, size_t n,
                         uint64_t term)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(bufs[i], 16, "e%llu", (unsigned long long)(index + i));
        e[i] = (struct mon_raft_entry){.index = index + i,
                                       .term = term,
                                       .type = 0,
                                       .len = (uint32_t)strlen(bufs[i]),
                                       .data = bufs[i]};
    }
}

static void append(struct fixture *f, uint64_t index, size_t n, uint64_t term, uint64_t commit)
{
    struct mon_raft_entry e[16];
    char bufs[16][16];
    make_entries(e, bufs, index, n, term);
    struct mon_raft_ready rd = {.has_hard_state = true,
                                .hard_state = {.term = term, .vote = 2, .commit = commit},
                                .entries = e,
                                .n_entries = n};
    assert_int_equal(mon_log_store_save_ready(f->s, &rd), 0);
}

static void assert_entry(const struct mon_raft_entry *e, uint64_t index, uint64_t term)
{
    char want[16];
    snprintf(want, sizeof(want), "e%llu", (unsigned long long)index);
    assert_int_equal(e->index, index);
    assert_int_equal(e->term, term);
    assert_int_equal(e->len, strlen(want));
    assert_memory_equal(e->data, want, e->len);
}

static void test_log_store_persists_ready_across_reopen(void **state)
{
    struct fixture *f = *state;
    struct mon_log_state st;
    uint64_t si, li;

    create_store(f, true);
    append(f, 1, 5, 2, 3);
    reopen(f, &st);
    assert_int_equal(st.ident.id, 7);
    assert_string_equal(st.ident.name, "a");
    assert_int_equal(st.ident.fsid[2], 3);
    assert_false(st.ident.joined);
    assert_int_equal(st.hs.term, 2);
    assert_int_equal(st.hs.vote, 2);
    assert_int_equal(st.hs.commit, 3);
    assert_true(st.has_snapshot);
    assert_int_equal(st.snap.index, 0);
    assert_int_equal(st.snap.membership.n_voters, 0);
    assert_int_equal(st.snap.len, 5);
    assert_string_equal(st.snap.data, "init");
    assert_int_equal(st.n_entries, 5);
    for (size_t i = 0; i < 5; i++)
        assert_entry(&st.entries[i], i + 1, 2);
    mon_log_store_bounds(f->s, &si, &li);
    assert_int_equal(si, 0);
    assert_int_equal(li, 5);
    mon_log_state_fini(&st);
}

static void test_log_store_truncates_conflicting_suffix(void **state)
{
    struct fixture *f = *state;
    struct mon_log_state st;

    create_store(f, true);
    append(f, 1, 6, 2, 2);
    append(f, 4, 2, 3, 2); /* a new leader overwrote 4..6 with 4..5 */
    reopen(f, &st);
    assert_int_equal(st.n_entries, 5);
    assert_entry(&st.entries[2], 3, 2);
    assert_entry(&st.entries[3], 4, 3);
    assert_entry(&st.entries[4], 5, 3);
    assert_int_equal(st.hs.term, 3);
    mon_log_state_fini(&st);

    /* A batch that would leave a gap is refused and changes nothing. */
    struct mon_raft_entry e[1];
    char bufs[1][16];
    make_entries(e, bufs, 9, 1, 3);
    struct mon_raft_ready rd = {.entries = e, .n_entries = 1};
    assert_int_equal(mon_log_store_save_ready(f->s, &rd), -EINVAL);
    reopen(f, &st);
    assert_int_equal(st.n_entries, 5);
    mon_log_state_fini(&st);
}

static void test_log_store_received_snapshot_replaces_log(void **state)
{
    struct fixture *f = *state;
    struct mon_log_state st;
    struct mon_raft_entry e[2];
    char bufs[2][16];

    create_store(f, false);
    append(f, 1, 4, 1, 1);
    make_entries(e, bufs, 21, 2, 5);
    struct mon_raft_snapshot snap = {.index = 20,
                                     .term = 4,
                                     .membership = {.n_voters = 1, .voters = {9}},
                                     .len = 3,
                                     .data = "abc"};
    struct mon_raft_ready rd = {.snapshot = &snap,
                                .entries = e,
                                .n_entries = 2,
                                .has_hard_state = true,
                                .hard_state = {.term = 5, .commit = 20}};
    assert_int_equal(mon_log_store_save_ready(f->s, &rd), 0);
    reopen(f, &st);
    assert_true(st.has_snapshot);
    assert_int_equal(st.snap.index, 20);
    assert_int_equal(st.snap.term, 4);
    assert_memory_equal(st.snap.data, "abc", 3);
    assert_int_equal(st.n_entries, 2);
    assert_entry(&st.entries[0], 21, 5);
    assert_int_equal(st.hs.commit, 20);
    mon_log_state_fini(&st);
}

static void test_log_store_compaction_drops_prefix(void **state)
{
    struct fixture *f = *state;
    struct mon_log_state st;
    uint64_t si, li;

    create_store(f, true);
    append(f, 1, 10, 2, 10);
    struct mon_raft_snapshot snap = {.index = 6,
                                     .term = 2,
                                     .membership = {.n_voters = 3, .voters = {1, 2, 7}},
                                     .len = 4,
                                     .data = "six!"};
    assert_int_equal(mon_log_store_save_snapshot(f->s, &snap), 0);
    assert_int_equal(mon_log_store_save_snapshot(f->s, &snap), -EINVAL); /* not past it */
    reopen(f, &st);
    assert_int_equal(st.snap.index, 6);
    assert_int_equal(st.n_entries, 4);
    assert_entry(&st.entries[0], 7, 2);
    assert_entry(&st.entries[3], 10, 2);
    mon_log_store_bounds(f->s, &si, &li);
    assert_int_equal(si, 6);
    assert_int_equal(li, 10);
    mon_log_state_fini(&st);
    /* Appending after a compaction continues the log. */
    append(f, 11, 1, 3, 10);
    reopen(f, &st);
    assert_int_equal(st.n_entries, 5);
    mon_log_state_fini(&st);
}

static void test_log_store_open_errors(void **state)
{
    struct fixture *f = *state;
    struct mon_log_store *s;
    char path[128];

    snprintf(path, sizeof(path), "%s/none", f->dir);
    assert_int_equal(mon_log_store_open(path, false, &s), -ENOENT);
    create_store(f, true);
    assert_int_equal(mon_log_store_open(f->dir, false, &s), -EBUSY); /* locked by f->s */
    mon_log_store_close(f->s);
    f->s = NULL;
    assert_int_equal(mon_log_store_open(f->dir, true, &s), -EEXIST);
}

/* Puts @val under @key with RocksDB directly (the store must be closed). */
static void raw_put(struct fixture *f, const void *key, size_t klen, const void *val, size_t vlen)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    char *err = NULL;

    mon_log_store_close(f->s);
    f->s = NULL;
    rocksdb_t *db = rocksdb_open(o, f->dir, &err);
    assert_null(err);
    if (val)
        rocksdb_put(db, wo, key, klen, val, vlen, &err);
    else
        rocksdb_delete(db, wo, key, klen, &err);
    assert_null(err);
    rocksdb_close(db);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_options_destroy(o);
}

static int load_after_damage(struct fixture *f)
{
    struct mon_log_state st;
    assert_int_equal(mon_log_store_open(f->dir, false, &f->s), 0);
    int r = mon_log_store_load(f->s, &st);
    if (r < 0) {
        assert_null(st.entries);
        assert_null(st.snap.data);
    }
    mon_log_state_fini(&st);
    return r;
}

static void test_log_store_corrupted_records_fail_load(void **state)
{
    struct fixture *f = *state;
    static const uint8_t key3[9] = {'e', 0, 0, 0, 0, 0, 0, 0, 3};

    create_store(f, true);
    append(f, 1, 4, 2, 3);
    raw_put(f, key3, sizeof(key3), "\x02\0\0\0\0\0\0\0\0\0\0\0e3\0\0\0\0", 18); /* bad crc */
    assert_int_equal(load_after_damage(f), -EBADMSG);
    raw_put(f, key3, sizeof(key3), "x", 1); /* too short */
    assert_int_equal(load_after_damage(f), -EBADMSG);
    raw_put(f, key3, sizeof(key3), NULL, 0); /* a gap at 3 */
    assert_int_equal(load_after_damage(f), -EBADMSG);
}

static void test_log_store_corrupted_state_fails_load(void **state)
{
    struct fixture *f = *state;
    static const uint8_t gap_key[9] = {'e', 0, 0, 0, 0, 0, 0, 0, 9};
    char rec[28] = {0};

    create_store(f, true);
    append(f, 1, 2, 1, 1);
    raw_put(f, "h", 1, rec, sizeof(rec)); /* hard state with a wrong crc */
    assert_int_equal(load_after_damage(f), -EBADMSG);
    raw_put(f, "h", 1, NULL, 0);
    assert_int_equal(load_after_damage(f), 0);
    raw_put(f, "S", 1, "tampered", 8); /* snapshot data no longer matches */
    assert_int_equal(load_after_damage(f), -EBADMSG);
    raw_put(f, "S", 1, "init", 5);
    assert_int_equal(load_after_damage(f), 0);
    raw_put(f, gap_key, sizeof(gap_key), "xxxxxxxxxxxxxxxx", 16); /* an entry past a gap */
    assert_int_equal(load_after_damage(f), -EBADMSG);
    raw_put(f, gap_key, sizeof(gap_key), NULL, 0);
    raw_put(f, "i", 1, NULL, 0); /* not a monitor store */
    assert_int_equal(load_after_damage(f), -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_store_persists_ready_across_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_store_truncates_conflicting_suffix, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_store_received_snapshot_replaces_log, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_store_compaction_drops_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_store_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_store_corrupted_records_fail_load, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_store_corrupted_state_fails_load, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

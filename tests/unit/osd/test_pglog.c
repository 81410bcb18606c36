/* The PG log (osd/pglog.c): entries appended in store transactions survive
 * a reload with their order, tail, info and the client replies (the
 * duplicate table is refilled from them), the log stays bounded, a
 * replaced log replaces everything, and the info that appends to a
 * complete copy leave unwritten is derived right. A real store in a temp
 * dir. */
#include "engine_test.h"

#include "common/bytes.h"

static struct proto_pg_log_entry entry(uint64_t v, char *oid, char *reply)
{
    snprintf(oid, 32, "obj.%llu", (unsigned long long)(v % 7));
    snprintf(reply, 32, "reply-%llu", (unsigned long long)v);
    return (struct proto_pg_log_entry){
        .version = v, .op = v % 5 ? PROTO_PG_LOG_MODIFY : PROTO_PG_LOG_DELETE,
        .oid = {(const uint8_t *)oid, strlen(oid)}, .client_id = 7, .tid = v,
        .reply = {(const uint8_t *)reply, strlen(reply)}};
}

/* Appends entries [first, last] in transactions of @batch entries. */
static void append_range(struct t_env *t, uint64_t first, uint64_t last, unsigned batch)
{
    char oid[32], reply[32];

    for (uint64_t v = first; v <= last;) {
        struct osd_txn *txn = osd_txn_create(t->pg->coll);
        for (unsigned k = 0; k < batch && v <= last; k++, v++) {
            struct proto_pg_log_entry e = entry(v, oid, reply);
            assert_int_equal(osd__pglog_append(t->pg, txn, &e, true), 0);
        }
        assert_int_equal(osd_store_apply(t->store, txn), 0);
    }
}

/* Forgets the PG's log in memory and reads it back from the store. */
static void reload(struct t_env *t)
{
    osd__pglog_free(&t->pg->log);
    t->pg->log_loaded = false;
    osd__dup_fini(&t->pg->dup);
    osd__dup_init(&t->pg->dup, 64);
    assert_int_equal(osd__pglog_load(t->e, t->pg), 0);
}

/* The info as the store holds it. */
static struct proto_pg_info stored_info(struct t_env *t)
{
    uint8_t b[64];
    size_t len = 0;

    assert_int_equal(osd_store_getxattr(t->store, t->pg->coll, OSD_PGMETA_OID, "info", b,
                                        sizeof(b), &len), 0);
    assert_int_equal(len, 33);
    return (struct proto_pg_info){.last_update = cairn_get_le64(b + 1),
                                  .last_complete = cairn_get_le64(b + 9),
                                  .log_tail = cairn_get_le64(b + 17),
                                  .act_epoch = cairn_get_le64(b + 25)};
}

static void write_info(struct t_env *t)
{
    struct osd_txn *txn = osd_txn_create(t->pg->coll);
    assert_int_equal(osd__pglog_write_info(t->pg, txn), 0);
    assert_int_equal(osd_store_apply(t->store, txn), 0);
}

static int count_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    (void)k, (void)kl, (void)v, (void)vl;
    (*(uint32_t *)arg)++;
    return 0;
}

/* The number of log entries the store holds. */
static uint32_t stored_entries(struct t_env *t)
{
    uint32_t n = 0;
    bool more = false;
    assert_int_equal(osd_store_omap_list(t->store, t->pg->coll, OSD_PGMETA_OID, NULL, 0, 0,
                                         count_fn, &n, &more), 0);
    return n;
}

static void test_pglog_survives_reload_bounded(void **state)
{
    struct t_env *t = *state;
    const uint64_t n = OSD_PG_LOG_MAX + 25;

    assert_int_equal(osd__pg_ensure_coll(t->e, t->pg), 0);
    assert_int_equal(osd__pglog_load(t->e, t->pg), 0);
    assert_true(t->pg->log.info.exists);
    assert_int_equal(t->pg->log.info.last_update, 0);
    append_range(t, 1, n, 100);
    assert_int_equal(stored_entries(t), OSD_PG_LOG_MAX); /* new entries took old slots */
    for (int pass = 0; pass < 2; pass++) {
        const struct proto_pg_info *in = &t->pg->log.info;
        /* In memory the tail is the newest trimmed entry; a reload cannot
         * tell it from the info written before the trims and takes the
         * oldest entry it finds instead (one newer: still a valid tail). */
        uint64_t tail = pass == 0 ? 25 : 26;
        assert_int_equal(t->pg->log.n, OSD_PG_LOG_MAX - pass);
        assert_int_equal(in->log_tail, tail);
        assert_int_equal(in->last_update, n);
        assert_int_equal(in->last_complete, n);
        assert_int_equal(osd__pglog_at(t->pg, 0)->version, tail + 1);
        assert_string_equal(osd__pglog_at(t->pg, 0)->oid, pass == 0 ? "obj.5" : "obj.6");
        assert_int_equal(osd__pglog_at(t->pg, t->pg->log.n - 1)->version, n);
        assert_true(osd__pglog_has(t->pg, n));
        assert_true(osd__pglog_has(t->pg, tail));
        assert_true(osd__pglog_has(t->pg, 1000));
        assert_false(osd__pglog_has(t->pg, tail - 1));
        assert_false(osd__pglog_has(t->pg, n + 1));
        const struct osd_dup_entry *d = osd__dup_find(&t->pg->dup, 7, n);
        assert_non_null(d);
        assert_int_equal(d->meta_len, strlen("reply-2025"));
        assert_memory_equal(d->meta, "reply-2025", d->meta_len);
        reload(t); /* the second pass checks what the store kept */
    }
    /* Info written after a reload that trimmed in memory: the entry at the
     * tail, still in the store, stays out of the log. */
    write_info(t);
    reload(t);
    assert_int_equal(t->pg->log.info.log_tail, 26);
    assert_int_equal(t->pg->log.n, OSD_PG_LOG_MAX - 1);
    assert_int_equal(osd__pglog_at(t->pg, 0)->version, 27);

    /* A reload trims in memory only; the next append reuses that slot. */
    append_range(t, n + 1, n + 3, 1);
    assert_int_equal(stored_entries(t), OSD_PG_LOG_MAX);
    reload(t);
    assert_int_equal(t->pg->log.info.last_update, n + 3);
    assert_int_equal(osd__pglog_at(t->pg, t->pg->log.n - 1)->version, n + 3);
    assert_true(osd__pglog_at(t->pg, 0)->version > t->pg->log.info.log_tail);

    /* A log whose entries do not follow each other slot by slot is refused. */
    struct osd_txn *txn = osd_txn_create(t->pg->coll);
    assert_int_equal(osd_txn_omap_rm(txn, OSD_PGMETA_OID, "l\0\x05", 3), 0);
    assert_int_equal(osd_store_apply(t->store, txn), 0);
    osd__pglog_free(&t->pg->log);
    t->pg->log_loaded = false;
    assert_int_equal(osd__pglog_load(t->e, t->pg), -EIO);
}

static void test_pglog_export_and_replace(void **state)
{
    struct t_env *t = *state;
    struct proto_pg_log_entry *out = NULL, ents[3];
    char oids[3][32], replies[3][32];

    assert_int_equal(osd__pg_ensure_coll(t->e, t->pg), 0);
    assert_int_equal(osd__pglog_load(t->e, t->pg), 0);
    append_range(t, 1, 10, 3);
    uint32_t k = osd__pglog_export(t->pg, 7, &out);
    assert_int_equal(k, 3);
    assert_int_equal(out[0].version, 8);
    assert_int_equal(out[2].version, 10);
    assert_int_equal(out[2].reply.len, strlen("reply-10"));
    assert_memory_equal(out[2].reply.p, "reply-10", out[2].reply.len);
    free(out);
    assert_int_equal(osd__pglog_export(t->pg, 10, &out), 0);
    assert_null(out);

    /* Another copy's log, newer and with another tail, replaces ours. */
    for (int i = 0; i < 3; i++)
        ents[i] = entry(100 + (uint64_t)i, oids[i], replies[i]);
    struct osd_txn *txn = osd_txn_create(t->pg->coll);
    assert_int_equal(osd__pglog_replace(t->pg, txn, ents, 3, 99), 0);
    assert_int_equal(osd_store_apply(t->store, txn), 0);
    reload(t);
    assert_int_equal(t->pg->log.n, 3);
    assert_int_equal(t->pg->log.info.log_tail, 99);
    assert_int_equal(t->pg->log.info.last_update, 102);
    assert_false(osd__pglog_has(t->pg, 10));
    assert_true(osd__pglog_has(t->pg, 101));
    assert_non_null(osd__dup_find(&t->pg->dup, 7, 102));
    assert_null(osd__dup_find(&t->pg->dup, 7, 10));
}

/* Appends to a complete copy leave the info alone; a reload derives it. An
 * incomplete copy, or one activated since the info was written, writes it
 * with every append, so a reload keeps what it lacks. */
static void test_pglog_info_derived(void **state)
{
    struct t_env *t = *state;
    struct proto_pg_info *in = &t->pg->log.info;

    assert_int_equal(osd__pg_ensure_coll(t->e, t->pg), 0);
    assert_int_equal(osd__pglog_load(t->e, t->pg), 0);
    in->act_epoch = 3;
    write_info(t);
    append_range(t, 1, 40, 7);
    assert_int_equal(stored_info(t).last_update, 0);
    reload(t);
    assert_int_equal(in->last_update, 40);
    assert_int_equal(in->last_complete, 40);
    assert_int_equal(in->log_tail, 0);
    assert_int_equal(in->act_epoch, 3);

    in->act_epoch = 4; /* an activation whose info write is still to come */
    append_range(t, 41, 41, 1);
    assert_int_equal(stored_info(t).act_epoch, 4);
    assert_int_equal(stored_info(t).last_update, 41);

    in->last_complete = 30; /* objects of entries 31..41 are missing */
    write_info(t);
    append_range(t, 42, 45, 2);
    struct proto_pg_info st = stored_info(t);
    assert_int_equal(st.last_update, 45);
    assert_int_equal(st.last_complete, 30);
    reload(t);
    assert_int_equal(in->last_update, 45);
    assert_int_equal(in->last_complete, 30);

    in->last_complete = in->last_update; /* recovered */
    write_info(t);
    append_range(t, 46, 50, 5);
    assert_int_equal(stored_info(t).last_update, 45);
    reload(t);
    assert_int_equal(in->last_update, 50);
    assert_int_equal(in->last_complete, 50);
    assert_int_equal(in->act_epoch, 4);
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pglog_survives_reload_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pglog_export_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pglog_info_derived, setup, teardown),
    };
    return cmocka_run_group_tests_name("pglog", tests, NULL, NULL);
}

/* The PG log (osd/pglog.c): entries appended in store transactions survive
 * a reload with their order, tail, info and the client replies (the
 * duplicate table is refilled from them), the log stays bounded, and a
 * replaced log replaces everything. A real store in a temp dir. */
#include "engine_test.h"

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

static void test_pglog_survives_reload_bounded(void **state)
{
    struct t_env *t = *state;
    const uint64_t n = OSD_PG_LOG_MAX + 25;

    assert_int_equal(osd__pg_ensure_coll(t->e, t->pg), 0);
    assert_int_equal(osd__pglog_load(t->e, t->pg), 0);
    assert_true(t->pg->log.info.exists);
    assert_int_equal(t->pg->log.info.last_update, 0);
    append_range(t, 1, n, 100);
    for (int pass = 0; pass < 2; pass++) {
        const struct proto_pg_info *in = &t->pg->log.info;
        assert_int_equal(t->pg->log.n, OSD_PG_LOG_MAX);
        assert_int_equal(in->log_tail, 25);
        assert_int_equal(in->last_update, n);
        assert_int_equal(in->last_complete, n);
        assert_int_equal(osd__pglog_at(t->pg, 0)->version, 26);
        assert_string_equal(osd__pglog_at(t->pg, 0)->oid, "obj.5");
        assert_int_equal(osd__pglog_at(t->pg, OSD_PG_LOG_MAX - 1)->version, n);
        assert_true(osd__pglog_has(t->pg, n));
        assert_true(osd__pglog_has(t->pg, 25)); /* the tail */
        assert_true(osd__pglog_has(t->pg, 1000));
        assert_false(osd__pglog_has(t->pg, 24));
        assert_false(osd__pglog_has(t->pg, n + 1));
        const struct osd_dup_entry *d = osd__dup_find(&t->pg->dup, 7, n);
        assert_non_null(d);
        assert_int_equal(d->meta_len, strlen("reply-2025"));
        assert_memory_equal(d->meta, "reply-2025", d->meta_len);
        reload(t); /* the second pass checks what the store kept */
    }
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
    };
    return cmocka_run_group_tests_name("pglog", tests, NULL, NULL);
}

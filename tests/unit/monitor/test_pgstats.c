/* The leader's PG stats (monitor/core/pgstats.h): a stat counts only from
 * an OSD that is up and the PG's primary in the current map, with a fresh
 * beacon (3 of its announced intervals); a new report replaces the last;
 * the recovery rate from two reports a second or more apart; each OSD's
 * latest store usage. Time is plain numbers: the table is pure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/core/pgstats.h"
#include "protocol/placement.h"

#define OSDS 3u
#define PGS 16u

struct fx {
    struct mon_pgstats *t;
    struct proto_map *map;
};

static void fx_init(struct fx *x)
{
    struct proto_map_pool p = {
        .id = 1, .size = 3, .min_size = 2, .pg_num = PGS, .failure_domain = PROTO_FD_HOST};
    char host[16];

    x->map = proto_map_create();
    assert_non_null(x->map);
    snprintf(p.name, sizeof(p.name), "rbd");
    for (unsigned i = 0; i < OSDS; i++) {
        snprintf(host, sizeof(host), "h%u", i);
        assert_int_equal(proto_map_add_osd(x->map, (int32_t)i, host), 0);
        x->map->osds[i].up = true;
    }
    assert_int_equal(proto_map_add_pool(x->map, &p), 0);
    assert_int_equal(mon_pgstats_create(&x->t), 0);
}

static void fx_fini(struct fx *x)
{
    mon_pgstats_destroy(x->t);
    proto_map_destroy(x->map);
}

/* The PGs @osd is primary of in @map (all of them when @all), each with
 * objects_recovered @recovered (the first one; the others 0). */
static void report(struct fx *x, int32_t osd, bool all, uint64_t recovered, uint32_t beacon_ms,
                   uint64_t now_ms)
{
    const struct proto_map_pool *pool = proto_map_pool(x->map, 1);
    struct proto_pg_stats s = {.beacon_ms = beacon_ms};
    int32_t up[PROTO_PLACE_MAX_REPLICAS];

    s.pgs = calloc(PGS, sizeof(*s.pgs));
    assert_non_null(s.pgs);
    for (uint32_t ps = 0; ps < PGS; ps++) {
        unsigned n = proto_place_up(x->map, pool, ps, up, PROTO_PLACE_MAX_REPLICAS);
        if (!all && (n == 0 || up[0] != osd))
            continue;
        struct proto_pg_stat *st = &s.pgs[s.n++];
        st->pool = 1;
        st->ps = ps;
        st->state = PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN;
        st->objects_recovered = s.n == 1 ? recovered : 0;
    }
    mon_pgstats_report(x->t, osd, &s, now_ms);
    assert_null(s.pgs); /* taken */
}

static uint32_t collect(struct fx *x, uint64_t now_ms, double *rate)
{
    struct proto_pg_stats out;

    assert_int_equal(mon_pgstats_collect(x->t, x->map, now_ms, &out), 0);
    uint32_t n = out.n;
    for (uint32_t i = 0; i < out.n; i++)
        for (uint32_t k = 0; k < i; k++)
            assert_false(out.pgs[k].pool == out.pgs[i].pool && out.pgs[k].ps == out.pgs[i].ps);
    if (rate)
        *rate = out.objects_per_s;
    proto_pg_stats_fini(&out);
    return n;
}

static void test_only_up_primaries_count(void **state)
{
    struct fx x;

    fx_init(&x);
    assert_int_equal(collect(&x, 1000, NULL), 0);
    /* Each OSD claims every PG: only its own primaries count, once each. */
    for (int32_t o = 0; o < (int32_t)OSDS; o++)
        report(&x, o, true, 0, 1000, 1000);
    assert_int_equal(collect(&x, 1000, NULL), PGS);

    /* Each reports its own; osd.1 goes down: its reports no longer count,
     * and its PGs' new primaries have not reported them yet. */
    for (int32_t o = 0; o < (int32_t)OSDS; o++)
        report(&x, o, false, 0, 1000, 2000);
    assert_int_equal(collect(&x, 2000, NULL), PGS);
    x.map->osds[1].up = false;
    uint32_t without1 = collect(&x, 2000, NULL);
    assert_true(without1 < PGS);
    /* The new primaries report them: all counted again. */
    report(&x, 0, false, 0, 1000, 2100);
    report(&x, 2, false, 0, 1000, 2100);
    assert_int_equal(collect(&x, 2100, NULL), PGS);
    /* A pool that is gone: nothing of it counts. */
    x.map->pools[0].id = 5;
    assert_int_equal(collect(&x, 2100, NULL), 0);
    fx_fini(&x);
}

static void test_stale_reports_are_ignored(void **state)
{
    struct fx x;

    fx_init(&x);
    report(&x, 0, true, 0, 1000, 1000);
    report(&x, 1, true, 0, 1000, 1000);
    report(&x, 2, true, 0, 1000, 1000);
    assert_int_equal(collect(&x, 1000 + 3 * 1000, NULL), PGS);
    assert_int_equal(collect(&x, 1000 + 3 * 1000 + 1, NULL), 0);
    /* An absurd interval is clamped: 10 ms counts as 100 ms. */
    report(&x, 0, true, 0, 10, 10000);
    report(&x, 1, true, 0, 10, 10000);
    report(&x, 2, true, 0, 10, 10000);
    assert_int_equal(collect(&x, 10300, NULL), PGS);
    assert_int_equal(collect(&x, 10301, NULL), 0);
    /* A beacon without stats changes nothing; an empty report clears. */
    struct proto_pg_stats none = {0};
    report(&x, 0, true, 0, 1000, 20000);
    report(&x, 1, true, 0, 1000, 20000);
    report(&x, 2, true, 0, 1000, 20000);
    mon_pgstats_report(x.t, 0, &none, 20000);
    assert_int_equal(collect(&x, 20000, NULL), PGS);
    none.beacon_ms = 1000;
    mon_pgstats_report(x.t, 0, &none, 20000);
    mon_pgstats_report(x.t, 1, &none, 20000);
    mon_pgstats_report(x.t, 2, &none, 20000);
    assert_int_equal(collect(&x, 20000, NULL), 0);
    /* Out-of-range ids are ignored (their PGs freed). */
    report(&x, -1, true, 0, 1000, 20000);
    report(&x, (int32_t)PROTO_MAP_MAX_OSDS, true, 0, 1000, 20000);
    assert_int_equal(collect(&x, 20000, NULL), 0);
    /* Leadership lost: everything forgotten. */
    report(&x, 0, true, 0, 1000, 21000);
    mon_pgstats_clear(x.t);
    assert_int_equal(collect(&x, 21000, NULL), 0);
    fx_fini(&x);
}

static void test_recovery_rate_from_two_reports(void **state)
{
    struct fx x;
    double rate = -1;

    fx_init(&x);
    report(&x, 0, true, 10, 1000, 1000);
    collect(&x, 1000, &rate);
    assert_true(rate == 0);
    report(&x, 0, true, 20, 1000, 1500); /* under a second later: not a sample yet */
    collect(&x, 1500, &rate);
    assert_true(rate == 0);
    report(&x, 0, true, 30, 1000, 2000); /* 20 objects in 1 s */
    collect(&x, 2000, &rate);
    assert_true(rate == 20);
    report(&x, 1, true, 100, 1000, 2000);
    report(&x, 1, true, 150, 1000, 4000); /* osd.1: 25/s */
    report(&x, 0, true, 30, 1000, 4000);  /* osd.0: done, 0/s */
    collect(&x, 4000, &rate);
    assert_true(rate == 25);
    /* The count went down (a restart): the rate starts over. */
    report(&x, 1, true, 5, 1000, 5000);
    collect(&x, 5000, &rate);
    assert_true(rate == 0);
    /* A down OSD's rate does not count. */
    report(&x, 1, true, 105, 1000, 6000);
    collect(&x, 6000, &rate);
    assert_true(rate == 100);
    x.map->osds[1].up = false;
    collect(&x, 6000, &rate);
    assert_true(rate == 0);
    fx_fini(&x);
}

/* A beacon of @osd with store usage @total/@used (bytes) and no PG stats
 * (beacon_ms 0), as an OSD sends when its stats do not fit. */
static void usage_beacon(struct fx *x, int32_t osd, uint64_t total, uint64_t used, uint64_t now_ms)
{
    struct proto_pg_stats s = {.has_store = true,
                               .store = {.osd = osd, .bytes_total = total, .bytes_used = used}};

    mon_pgstats_report(x->t, osd, &s, now_ms);
}

/* The usage the leader would answer with; @out's usage freed by the caller. */
static void collect_all(struct fx *x, uint64_t now_ms, struct proto_pg_stats *out)
{
    assert_int_equal(mon_pgstats_collect(x->t, x->map, now_ms, out), 0);
    for (uint32_t i = 1; i < out->n_usage; i++)
        assert_true(out->usage[i - 1].osd < out->usage[i].osd);
}

static void test_store_usage_is_kept_per_osd(void **state)
{
    struct proto_pg_stats out, older = {.beacon_ms = 1000};
    struct fx x;

    fx_init(&x);
    collect_all(&x, 1000, &out);
    assert_int_equal(out.n_usage, 0);
    assert_null(out.usage);
    /* Usage alone: kept, and the PG stats it did not carry untouched. */
    for (int32_t o = 0; o < (int32_t)OSDS; o++)
        report(&x, o, true, 0, 1000, 1000);
    usage_beacon(&x, 2, 300, 30, 1000);
    usage_beacon(&x, 0, 100, 10, 1000);
    assert_int_equal(collect(&x, 1000, NULL), PGS);
    collect_all(&x, 1000, &out);
    assert_int_equal(out.n_usage, 2);
    assert_int_equal(out.usage[0].osd, 0);
    assert_true(out.usage[0].bytes_total == 100 && out.usage[0].bytes_used == 10);
    assert_int_equal(out.usage[1].osd, 2);
    assert_true(out.usage[1].bytes_total == 300 && out.usage[1].bytes_used == 30);
    proto_pg_stats_fini(&out);

    /* A newer report replaces it; an older OSD's beacon (stats, no usage)
     * leaves it alone, as does a plain one. */
    usage_beacon(&x, 0, 100, 60, 1500);
    mon_pgstats_report(x.t, 0, &older, 1600);
    collect_all(&x, 1600, &out);
    assert_true(out.usage[0].bytes_used == 60);
    proto_pg_stats_fini(&out);

    /* Down OSDs are still reported (the reader decides); removed ones and
     * OSDs the map never had are not. */
    x.map->osds[2].up = false;
    collect_all(&x, 1600, &out);
    assert_int_equal(out.n_usage, 2);
    proto_pg_stats_fini(&out);
    x.map->osds[2].exists = false;
    collect_all(&x, 1600, &out);
    assert_int_equal(out.n_usage, 1);
    assert_int_equal(out.usage[0].osd, 0);
    proto_pg_stats_fini(&out);
    usage_beacon(&x, 3, 5, 1, 1600); /* not in the map */
    usage_beacon(&x, -1, 5, 1, 1600);
    usage_beacon(&x, (int32_t)PROTO_MAP_MAX_OSDS, 5, 1, 1600);
    collect_all(&x, 1600, &out);
    assert_int_equal(out.n_usage, 1);
    proto_pg_stats_fini(&out);

    /* Staleness does not apply (the last known size stands), leadership
     * loss does. */
    collect_all(&x, 1000000, &out);
    assert_int_equal(out.n_usage, 1);
    proto_pg_stats_fini(&out);
    mon_pgstats_clear(x.t);
    collect_all(&x, 1600, &out);
    assert_int_equal(out.n_usage, 0);
    fx_fini(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_up_primaries_count),
        cmocka_unit_test(test_stale_reports_are_ignored),
        cmocka_unit_test(test_recovery_rate_from_two_reports),
        cmocka_unit_test(test_store_usage_is_kept_per_osd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

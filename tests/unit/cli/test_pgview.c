/* PG states from the OSDs' reports (tools/cli/pgview.c) and the health
 * sentences they lead to (tools/cli/health.c): state strings, PG ids both
 * ways, unknown and inactive PGs, counts in flag order, the map's
 * undersized rule, which reports count, down OSDs named in the reasons, and
 * the map-only fallback. */
#include "tools/cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h> /* before cmocka.h, which needs it */

#include <cmocka.h>

#define PGS 8u

static struct proto_map *map_with(unsigned osds, uint32_t size, uint32_t min_size)
{
    struct proto_map *map = proto_map_create();
    struct proto_map_pool p = {.id = 1,
                               .size = size,
                               .min_size = min_size,
                               .pg_num = PGS,
                               .failure_domain = PROTO_FD_HOST};
    char host[16];

    snprintf(p.name, sizeof(p.name), "rbd");
    assert_int_equal(proto_map_add_mon(map, "a", "127.0.0.1:1"), 0);
    for (unsigned i = 0; i < osds; i++) {
        snprintf(host, sizeof(host), "h%u", i);
        assert_int_equal(proto_map_add_osd(map, (int32_t)i, host), 0);
        map->osds[i].up = true;
    }
    assert_int_equal(proto_map_add_pool(map, &p), 0);
    return map;
}

/* A report of every PG of pool 1 in @state, from its primary in @map. */
static void stats_all(const struct proto_map *map, uint32_t state, struct proto_pg_stats *s)
{
    const struct proto_map_pool *pool = proto_map_pool(map, 1);

    memset(s, 0, sizeof(*s));
    s->pgs = calloc(PGS, sizeof(*s->pgs));
    assert_non_null(s->pgs);
    s->n = PGS;
    for (uint32_t ps = 0; ps < PGS; ps++) {
        struct proto_pg_stat *st = &s->pgs[ps];
        st->pool = 1;
        st->ps = ps;
        st->state = state;
        st->n_acting = proto_place_up(map, pool, ps, st->acting, PROTO_PLACE_MAX_REPLICAS);
    }
}

static bool has_reason(const struct cli_health *h, const char *want)
{
    for (unsigned i = 0; i < h->n; i++)
        if (strcmp(h->reasons[i], want) == 0)
            return true;
    for (unsigned i = 0; i < h->n; i++)
        print_message("reason: %s\n", h->reasons[i]);
    return false;
}

static const struct proto_mon_status quorum = {.leader = "a", .n_quorum = 1, .quorum = {"a"}};

static void test_pg_state_strings(void **state)
{
    char buf[PROTO_PG_STATE_STR_MAX];

    assert_string_equal(proto_pg_state_format(PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN, buf, sizeof(buf)),
                        "active+clean");
    assert_string_equal(
        proto_pg_state_format(PROTO_PGS_ACTIVE | PROTO_PGS_RECOVERING | PROTO_PGS_DEGRADED, buf,
                              sizeof(buf)),
        "active+degraded+recovering");
    assert_string_equal(proto_pg_state_format(PROTO_PGS_PEERING, buf, sizeof(buf)), "peering");
    assert_string_equal(proto_pg_state_format(0, buf, sizeof(buf)), "inactive");
    /* Flags of a newer OSD are not shown. */
    assert_string_equal(proto_pg_state_format(1u << 20, buf, sizeof(buf)), "inactive");
    assert_string_equal(
        proto_pg_state_format(PROTO_PGS_SCRUBBING | PROTO_PGS_DEEP | (1u << 31), buf, sizeof(buf)),
        "scrubbing+deep");
    /* Every flag at once fits the documented size. */
    proto_pg_state_format((1u << PROTO_PGS_NFLAGS) - 1, buf, sizeof(buf));
    assert_true(strlen(buf) < sizeof(buf) - 1);
    assert_non_null(strstr(buf, "+deep"));
    assert_string_equal(proto_pg_state_name(0), "active");
    assert_null(proto_pg_state_name(PROTO_PGS_NFLAGS));
    assert_string_equal(cli_pg_state_str(PROTO_PGS_ACTIVE, true, buf, sizeof(buf)), "unknown");

    cli_pgid_format(1, 31, buf, sizeof(buf));
    assert_string_equal(buf, "1.1f");
    cli_pgid_format(12, 0, buf, sizeof(buf));
    assert_string_equal(buf, "12.0");
    cli_version_format((5ull << 32) | 42, buf, sizeof(buf));
    assert_string_equal(buf, "5'42");
    cli_version_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "0'0");
}

static void test_pgid_parse(void **state)
{
    static const char *const bad[] = {
        "", "1", "1.", ".1f", "1.1g", "-1.1", "+1.1", "1.-1", " 1.1", "1.1 ", "1.0x1f",
        "1..1", "1.1.1", "2147483648.0", "1.100000000", "a.1",
    };
    int32_t pool = 99;
    uint32_t ps = 99;
    char buf[32];

    assert_int_equal(cli_pgid_parse("1.1f", &pool, &ps), 0);
    assert_true(pool == 1 && ps == 0x1f);
    assert_int_equal(cli_pgid_parse("12.0", &pool, &ps), 0);
    assert_true(pool == 12 && ps == 0);
    assert_int_equal(cli_pgid_parse("2147483647.FFFFFFFF", &pool, &ps), 0);
    assert_true(pool == INT32_MAX && ps == UINT32_MAX);
    assert_int_equal(cli_pgid_parse("0.00a", &pool, &ps), 0);
    assert_true(pool == 0 && ps == 10);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pool = 99;
        ps = 99;
        if (cli_pgid_parse(bad[i], &pool, &ps) != -EINVAL)
            fail_msg("'%s' parsed", bad[i]);
        assert_true(pool == 99 && ps == 99);
    }
    /* What pg ls prints parses back. */
    cli_pgid_format(7, 0xbeef, buf, sizeof(buf));
    assert_int_equal(cli_pgid_parse(buf, &pool, &ps), 0);
    assert_true(pool == 7 && ps == 0xbeef);
}

static void test_unreported_pgs_are_unknown(void **state)
{
    struct proto_map *map = map_with(3, 3, 2);
    struct proto_pg_stats none = {0};
    struct cli_pg_view v;
    struct cli_health h;

    assert_int_equal(cli_pg_view_build(map, &none, -1, &v), 0);
    assert_true(v.from_osds);
    assert_int_equal(v.n, PGS);
    assert_int_equal(v.n_counts, 1);
    assert_true(v.counts[0].unknown);
    assert_int_equal(v.counts[0].count, PGS);
    assert_int_equal(cli_pg_view_count(&v, PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN), 0);
    cli_health_eval_view(map, &quorum, &v, &h);
    assert_int_equal(h.level, CLI_HEALTH_WARN);
    assert_true(has_reason(&h, "8 PGs unknown: no report from their primary yet"));
    cli_pg_view_fini(&v);
    proto_map_destroy(map);
}

static void test_reports_counted_in_flag_order(void **state)
{
    struct proto_map *map = map_with(3, 3, 2);
    struct proto_pg_stats s;
    struct cli_pg_view v;
    struct cli_health h;

    stats_all(map, PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN, &s);
    s.pgs[1].state = PROTO_PGS_PEERING;
    s.pgs[2].state = PROTO_PGS_ACTIVE | PROTO_PGS_DEGRADED | PROTO_PGS_RECOVERING;
    s.pgs[2].objects_missing = 5;
    s.pgs[3].objects_missing = 2;
    s.pgs[4].ps = PGS; /* no such PG: ignored, so ps 4 stays unknown */
    s.pgs[5].pool = 9; /* no such pool: ignored */
    s.objects_per_s = 2.5;
    assert_int_equal(cli_pg_view_build(map, &s, -1, &v), 0);
    assert_int_equal(v.n_counts, 4);
    assert_int_equal(v.counts[0].state, PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN);
    assert_int_equal(v.counts[0].count, 4);
    assert_int_equal(v.counts[1].state, PROTO_PGS_PEERING);
    assert_int_equal(v.counts[2].state,
                     PROTO_PGS_ACTIVE | PROTO_PGS_DEGRADED | PROTO_PGS_RECOVERING);
    assert_true(v.counts[3].unknown);
    assert_int_equal(v.counts[3].count, 2);
    assert_int_equal(v.objects_missing, 7);
    assert_true(v.objects_per_s == 2.5);
    assert_non_null(v.pgs[2].stat);
    assert_null(v.pgs[4].stat);
    assert_true(v.pgs[4].unknown);

    cli_health_eval_view(map, &quorum, &v, &h);
    assert_int_equal(h.level, CLI_HEALTH_WARN);
    assert_true(has_reason(&h, "1 PG degraded: recovering"));
    assert_true(has_reason(&h, "1 PG peering"));
    assert_true(has_reason(&h, "2 PGs unknown: no report from their primary yet"));
    cli_pg_view_fini(&v);

    /* The first report of a PG wins; one pool alone. */
    s.pgs[4].ps = 3;
    s.pgs[4].state = PROTO_PGS_INCOMPLETE;
    assert_int_equal(cli_pg_view_build(map, &s, 1, &v), 0);
    assert_int_equal(v.pgs[3].state, PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN);
    cli_pg_view_fini(&v);
    assert_int_equal(cli_pg_view_build(map, &s, 7, &v), 0);
    assert_int_equal(v.n, 0);
    assert_int_equal(v.n_counts, 0);
    cli_pg_view_fini(&v);
    proto_pg_stats_fini(&s);
    proto_map_destroy(map);
}

static void test_down_osd_makes_undersized_and_is_named(void **state)
{
    struct proto_map *map = map_with(3, 3, 2);
    struct proto_pg_stats s;
    struct cli_pg_view v;
    struct cli_health h;
    char buf[PROTO_PG_STATE_STR_MAX];

    /* osd.2 died; the primaries still say clean (their report predates the
     * map): the map's up set of 2 < size 3 wins. */
    stats_all(map, PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN, &s);
    map->osds[2].up = false;
    assert_int_equal(cli_pg_view_build(map, &s, -1, &v), 0);
    for (size_t i = 0; i < v.n; i++) {
        if (v.pgs[i].up[0] == 2 || v.pgs[i].n_up != 2)
            continue; /* its primary was osd.2: not the reporter in this map */
        assert_string_equal(cli_pg_state_str(v.pgs[i].state, v.pgs[i].unknown, buf, sizeof(buf)),
                            "active+degraded+undersized");
    }
    cli_health_eval_view(map, &quorum, &v, &h);
    assert_int_equal(h.level, CLI_HEALTH_WARN);
    assert_true(has_reason(&h, "1 OSD down: osd.2"));
    char want[128];
    uint64_t degraded = 0;
    for (size_t i = 0; i < v.n_counts; i++)
        if (!v.counts[i].unknown && (v.counts[i].state & PROTO_PGS_DEGRADED))
            degraded += v.counts[i].count;
    assert_int_equal(degraded, PGS);
    snprintf(want, sizeof(want), "%u PGs degraded: osd.2 is down", PGS);
    assert_true(has_reason(&h, want));
    cli_pg_view_fini(&v);

    /* Below min_size, the primary says so; no OSD up: inactive. */
    map->osds[1].up = false;
    for (uint32_t i = 0; i < s.n; i++)
        s.pgs[i].state = PROTO_PGS_PEERED | PROTO_PGS_UNDERSIZED | PROTO_PGS_DEGRADED;
    assert_int_equal(cli_pg_view_build(map, &s, -1, &v), 0);
    cli_health_eval_view(map, &quorum, &v, &h);
    assert_int_equal(h.level, CLI_HEALTH_ERROR);
    snprintf(want, sizeof(want),
             "%u PGs peered (below min_size, writes wait): osd.1, osd.2 are down", PGS);
    assert_true(has_reason(&h, want));
    cli_pg_view_fini(&v);
    map->osds[0].up = false;
    assert_int_equal(cli_pg_view_build(map, &s, -1, &v), 0);
    assert_int_equal(v.n_counts, 1);
    assert_false(v.counts[0].unknown);
    assert_int_equal(v.counts[0].state, 0);
    cli_health_eval_view(map, &quorum, &v, &h);
    snprintf(want, sizeof(want), "%u PGs inactive: osd.0, osd.1, osd.2 are down", PGS);
    assert_true(has_reason(&h, want));
    cli_pg_view_fini(&v);
    proto_pg_stats_fini(&s);
    proto_map_destroy(map);
}

static void test_incomplete_and_inconsistent_are_errors(void **state)
{
    struct proto_map *map = map_with(3, 3, 2);
    struct proto_pg_stats s;
    struct cli_pg_view v;
    struct cli_health h;

    stats_all(map, PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN, &s);
    s.pgs[0].state = PROTO_PGS_INCOMPLETE;
    s.pgs[0xa % PGS].state = PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN | PROTO_PGS_INCONSISTENT;
    assert_int_equal(cli_pg_view_build(map, &s, -1, &v), 0);
    cli_health_eval_view(map, &quorum, &v, &h);
    assert_int_equal(h.level, CLI_HEALTH_ERROR);
    assert_true(has_reason(&h, "1 PG incomplete (no complete copy is up)"));
    assert_true(has_reason(&h, "1 PG inconsistent (run cairn pg deep-scrub 1.2)"));
    cli_pg_view_fini(&v);
    for (uint32_t i = 0; i < s.n; i++)
        s.pgs[i].state = PROTO_PGS_ACTIVE | PROTO_PGS_INCONSISTENT;
    assert_int_equal(cli_pg_view_build(map, &s, -1, &v), 0);
    cli_health_eval_view(map, &quorum, &v, &h);
    assert_true(has_reason(&h, "8 PGs inconsistent (run cairn pg deep-scrub 1.0, 1.1, 1.2, 1.3 "
                               "and 4 more)"));
    cli_pg_view_fini(&v);
    proto_pg_stats_fini(&s);
    proto_map_destroy(map);
}

static void test_without_stats_states_come_from_the_map(void **state)
{
    struct proto_map *map = map_with(3, 3, 2);
    struct cli_pg_view v;
    struct cli_health h;

    assert_int_equal(cli_pg_view_build(map, NULL, -1, &v), 0);
    assert_false(v.from_osds);
    assert_int_equal(cli_pg_view_count(&v, PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN), PGS);
    cli_health_eval_view(map, &quorum, &v, &h);
    assert_int_equal(h.level, CLI_HEALTH_OK);
    cli_pg_view_fini(&v);
    map->osds[2].up = false;
    assert_int_equal(cli_pg_view_build(map, NULL, -1, &v), 0);
    assert_int_equal(cli_pg_view_count(&v, PROTO_PGS_ACTIVE | PROTO_PGS_DEGRADED), PGS);
    cli_health_eval_view(map, &quorum, &v, &h);
    assert_true(has_reason(&h, "8 PGs degraded: fewer copies up than size"));
    cli_pg_view_fini(&v);
    proto_map_destroy(map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_state_strings),
        cmocka_unit_test(test_pgid_parse),
        cmocka_unit_test(test_unreported_pgs_are_unknown),
        cmocka_unit_test(test_reports_counted_in_flag_order),
        cmocka_unit_test(test_down_osd_makes_undersized_and_is_named),
        cmocka_unit_test(test_incomplete_and_inconsistent_are_errors),
        cmocka_unit_test(test_without_stats_states_come_from_the_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

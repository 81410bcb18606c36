/* PG states and per-OSD PG counts computed from the map (tools/cli/health.c)
 * and the health sentences they lead to: degraded PGs warn, inactive PGs
 * are an error, each with its count. */
#include "tools/cli/cli.h"

#include <stdio.h>
#include <string.h>

#include <setjmp.h> /* before cmocka.h, which needs it */

#include <cmocka.h>

static struct proto_map *map_with(unsigned osds, uint32_t size, uint32_t min_size)
{
    struct proto_map *map = proto_map_create();
    struct proto_map_pool p = {
        .id = 1, .size = size, .min_size = min_size, .pg_num = 64, .failure_domain = PROTO_FD_HOST};
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

static void test_pg_states_follow_the_up_sets(void **state)
{
    struct proto_map *map = map_with(3, 3, 2);
    struct proto_mon_status st = {.leader = "a", .n_quorum = 1, .quorum = {"a"}};
    struct cli_pg_states s;
    struct cli_health h;
    uint32_t total[3] = {0}, primary[3] = {0};

    cli_pgs_count(map, &s, total, primary);
    assert_int_equal(s.clean, 64);
    assert_int_equal(s.degraded + s.inactive, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(total[i], 64); /* three hosts, size 3: every OSD in every PG */
    assert_int_equal(primary[0] + primary[1] + primary[2], 64);
    cli_health_eval(map, &st, &h);
    assert_int_equal(h.level, CLI_HEALTH_OK);

    map->osds[2].up = false; /* every PG loses a copy: degraded, still active */
    cli_pgs_count(map, &s, NULL, NULL);
    assert_int_equal(s.degraded, 64);
    cli_health_eval(map, &st, &h);
    assert_int_equal(h.level, CLI_HEALTH_WARN);
    assert_string_equal(h.reasons[1], "64 PGs degraded: fewer copies up than size");

    map->osds[1].up = false; /* below min_size */
    cli_pgs_count(map, &s, NULL, NULL);
    assert_int_equal(s.inactive, 64);
    cli_health_eval(map, &st, &h);
    assert_int_equal(h.level, CLI_HEALTH_ERROR);
    assert_string_equal(h.reasons[1], "64 PGs inactive: fewer OSDs up than min_size");
    proto_map_destroy(map);
}

static void test_no_osds_means_inactive(void **state)
{
    struct proto_map *map = map_with(0, 3, 2);
    struct cli_pg_states s;

    cli_pgs_count(map, &s, NULL, NULL);
    assert_int_equal(s.inactive, 64);
    assert_int_equal(s.clean + s.degraded, 0);
    proto_map_destroy(map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_states_follow_the_up_sets),
        cmocka_unit_test(test_no_osds_means_inactive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

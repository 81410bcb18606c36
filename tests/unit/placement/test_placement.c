/* Placement properties (DESIGN.md §2): deterministic (golden values that any
 * machine must reproduce), adding one OSD moves about 1/(N+1) of the PGs and
 * only onto it, weights respected within a few percent on 10,000 PGs, a down
 * or out OSD moves only the PGs it was in, replicas on distinct hosts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/placement.h"

#define NPG 10000u

static struct proto_map *make_map(unsigned osds, unsigned hosts)
{
    struct proto_map *m = proto_map_create();
    assert_non_null(m);
    for (unsigned i = 0; i < osds; i++) {
        char host[32];
        snprintf(host, sizeof(host), "host%u", hosts ? i % hosts : i);
        assert_int_equal(proto_map_add_osd(m, (int32_t)i, host), 0);
        m->osds[i].up = true;
    }
    return m;
}

static struct proto_map_pool pool_of(uint32_t size, enum proto_failure_domain fd)
{
    struct proto_map_pool p = {.id = 1, .name = "p", .size = size, .min_size = 1,
                               .pg_num = NPG, .failure_domain = fd};
    return p;
}

static void test_placement_pg_is_stable_golden(void **state)
{
    (void)state;
    struct proto_map_pool p = pool_of(1, PROTO_FD_OSD);
    p.pg_num = 128;
    /* Golden values: any machine must compute exactly these. */
    assert_int_equal(proto_place_pg(&p, "foo", 3), 120);
    assert_int_equal(proto_place_pg(&p, "bar", 3), 70);
    assert_int_equal(proto_place_pg(&p, "", 0), 88);
    struct proto_map *m = make_map(10, 5);
    struct proto_map_pool p3 = pool_of(3, PROTO_FD_HOST);
    int32_t out[3];
    assert_int_equal(proto_place_raw(m, &p3, 7, out, 3), 3);
    assert_int_equal(out[0], 7);
    assert_int_equal(out[1], 8);
    assert_int_equal(out[2], 4);
    proto_map_destroy(m);
}

static void test_placement_pg_spread_and_stable_mod(void **state)
{
    (void)state;
    struct proto_map_pool p = pool_of(1, PROTO_FD_OSD);
    p.pg_num = 12;
    unsigned count[13] = {0}, moved = 0;
    char name[32];
    for (unsigned i = 0; i < 12000; i++) {
        snprintf(name, sizeof(name), "obj-%u", i);
        uint32_t a = proto_place_pg(&p, name, strlen(name));
        assert_true(a < 12);
        count[a]++;
        p.pg_num = 13;
        uint32_t b = proto_place_pg(&p, name, strlen(name));
        p.pg_num = 12;
        if (a != b) {
            moved++;
            assert_int_equal(b, 12); /* growing pg_num only splits into the new PG */
        }
    }
    /* stable_mod with 12 of 16 buckets: hashes 12..15 fold onto PGs 4..7, which
     * take a double share until pg_num reaches 16. */
    for (unsigned i = 0; i < 12; i++) {
        unsigned want = (i >= 4 && i < 8) ? 1500 : 750;
        assert_in_range(count[i], want * 8 / 10, want * 12 / 10);
    }
    assert_true(moved > 0 && moved < 12000 / 8);
}

static void placement_all(const struct proto_map *m, const struct proto_map_pool *p,
                          int32_t (*sets)[3], unsigned *ns)
{
    for (uint32_t pg = 0; pg < p->pg_num; pg++)
        ns[pg] = proto_place_raw(m, p, pg, sets[pg], 3);
}

static bool in_set(const int32_t *set, unsigned n, int32_t id)
{
    for (unsigned i = 0; i < n; i++)
        if (set[i] == id)
            return true;
    return false;
}

static void check_add_one(enum proto_failure_domain fd, unsigned size, unsigned n_osds)
{
    struct proto_map *m = make_map(n_osds, fd == PROTO_FD_HOST ? n_osds : 0);
    struct proto_map_pool p = pool_of(size, fd);
    static int32_t before[NPG][3], after[NPG][3];
    static unsigned nb[NPG], na[NPG];
    placement_all(m, &p, before, nb);
    char host[32];
    snprintf(host, sizeof(host), "host%u", n_osds);
    assert_int_equal(proto_map_add_osd(m, (int32_t)n_osds, host), 0);
    m->osds[n_osds].up = true;
    placement_all(m, &p, after, na);
    unsigned changed = 0;
    for (uint32_t pg = 0; pg < NPG; pg++) {
        assert_int_equal(na[pg], size);
        bool diff = false;
        for (unsigned i = 0; i < size; i++) {
            if (!in_set(before[pg], nb[pg], after[pg][i])) {
                /* the only newcomer in any set is the new OSD */
                assert_int_equal(after[pg][i], (int32_t)n_osds);
                diff = true;
            }
        }
        changed += diff;
    }
    /* Expect size/(N+1) of the PGs to gain the new OSD. */
    double expect = (double)NPG * size / (n_osds + 1);
    printf("add osd to %u (size %u): %u PGs changed, expected ~%.0f\n", n_osds, size, changed,
           expect);
    assert_true(changed > expect * 0.85 && changed < expect * 1.15);
    proto_map_destroy(m);
}

static void test_placement_add_osd_moves_its_share_only(void **state)
{
    (void)state;
    check_add_one(PROTO_FD_OSD, 1, 9);
    check_add_one(PROTO_FD_OSD, 3, 9);
    check_add_one(PROTO_FD_HOST, 3, 5);
}

static void test_placement_weights_respected(void **state)
{
    (void)state;
    struct proto_map *m = make_map(4, 0);
    struct proto_map_pool p = pool_of(1, PROTO_FD_OSD);
    for (unsigned i = 0; i < 4; i++)
        m->osds[i].weight = PROTO_MAP_WEIGHT_ONE * (i + 1);
    unsigned count[4] = {0};
    int32_t out[1];
    for (uint32_t pg = 0; pg < NPG; pg++) {
        assert_int_equal(proto_place_raw(m, &p, pg, out, 1), 1);
        count[out[0]]++;
    }
    for (unsigned i = 0; i < 4; i++) {
        double want = NPG * (i + 1) / 10.0;
        printf("osd.%u weight %u: %u PGs (want %.0f)\n", i, i + 1, count[i], want);
        assert_true(count[i] > want * 0.95 - 30 && count[i] < want * 1.05 + 30);
    }
    /* weight 0 gets nothing */
    m->osds[3].weight = 0;
    for (uint32_t pg = 0; pg < NPG; pg++) {
        proto_place_raw(m, &p, pg, out, 1);
        assert_int_not_equal(out[0], 3);
    }
    proto_map_destroy(m);
}

static void test_placement_down_osd_only_degrades_its_pgs(void **state)
{
    (void)state;
    struct proto_map *m = make_map(6, 3);
    struct proto_map_pool p = pool_of(3, PROTO_FD_HOST);
    static int32_t before[NPG][3];
    static unsigned nb[NPG];
    for (uint32_t pg = 0; pg < NPG; pg++)
        nb[pg] = proto_place_up(m, &p, pg, before[pg], 3);
    m->osds[4].up = false;
    for (uint32_t pg = 0; pg < NPG; pg++) {
        int32_t up[3];
        unsigned n = proto_place_up(m, &p, pg, up, 3);
        if (!in_set(before[pg], nb[pg], 4)) {
            assert_int_equal(n, nb[pg]);
            assert_memory_equal(up, before[pg], n * sizeof(int32_t));
        } else {
            /* the others stay, in order; nothing new joins while it is only down */
            assert_int_equal(n, nb[pg] - 1);
            for (unsigned i = 0; i < n; i++)
                assert_true(in_set(before[pg], nb[pg], up[i]));
        }
    }
    proto_map_destroy(m);
}

static void test_placement_out_osd_moves_only_its_pgs(void **state)
{
    (void)state;
    struct proto_map *m = make_map(8, 0);
    struct proto_map_pool p = pool_of(3, PROTO_FD_OSD);
    static int32_t before[NPG][3], after[NPG][3];
    static unsigned nb[NPG], na[NPG];
    placement_all(m, &p, before, nb);
    m->osds[5].in = false;
    placement_all(m, &p, after, na);
    for (uint32_t pg = 0; pg < NPG; pg++) {
        assert_int_equal(na[pg], 3);
        assert_false(in_set(after[pg], 3, 5));
        if (!in_set(before[pg], 3, 5))
            assert_memory_equal(after[pg], before[pg], sizeof(after[pg]));
        else
            for (unsigned i = 0, k = 0; i < 3; i++)
                if (before[pg][i] != 5)
                    assert_true(in_set(after[pg], 3, before[pg][i])), k++;
    }
    proto_map_destroy(m);
}

static void test_placement_distinct_hosts(void **state)
{
    (void)state;
    struct proto_map *m = make_map(9, 3); /* 3 OSDs on each of 3 hosts */
    struct proto_map_pool p = pool_of(3, PROTO_FD_HOST);
    for (uint32_t pg = 0; pg < 1000; pg++) {
        int32_t out[3];
        assert_int_equal(proto_place_raw(m, &p, pg, out, 3), 3);
        assert_string_not_equal(m->osds[out[0]].host, m->osds[out[1]].host);
        assert_string_not_equal(m->osds[out[0]].host, m->osds[out[2]].host);
        assert_string_not_equal(m->osds[out[1]].host, m->osds[out[2]].host);
    }
    /* two hosts only: a size-3 pool gets two replicas */
    struct proto_map *m2 = make_map(4, 2);
    int32_t out[3];
    assert_int_equal(proto_place_raw(m2, &p, 1, out, 3), 2);
    /* an empty map places nothing */
    struct proto_map *m3 = proto_map_create();
    assert_int_equal(proto_place_raw(m3, &p, 1, out, 3), 0);
    assert_int_equal(proto_place_up(m3, &p, 1, out, 3), 0);
    proto_map_destroy(m);
    proto_map_destroy(m2);
    proto_map_destroy(m3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placement_pg_is_stable_golden),
        cmocka_unit_test(test_placement_pg_spread_and_stable_mod),
        cmocka_unit_test(test_placement_add_osd_moves_its_share_only),
        cmocka_unit_test(test_placement_weights_respected),
        cmocka_unit_test(test_placement_down_osd_only_degrades_its_pgs),
        cmocka_unit_test(test_placement_out_osd_moves_only_its_pgs),
        cmocka_unit_test(test_placement_distinct_hosts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

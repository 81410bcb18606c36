/* The leader's failure detector (monitor/core/failure.h): the down grace,
 * the out timer, peer reports and their window, re-proposal while the map
 * lags, fresh graces for new incarnations and new leaders, and the bound
 * on commands per tick. Time is plain numbers: the detector is pure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "monitor/core/failure.h"

#define MAXC 8

struct fx {
    struct mon_failure *f;
    struct proto_map *map;
    struct proto_mon_cmd out[MAXC];
};

/* A map with @n OSDs, all up (up_from 2) and in. */
static struct proto_map *map_of(unsigned n)
{
    struct proto_map *m = proto_map_create();
    assert_non_null(m);
    m->epoch = 2;
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(proto_map_add_osd(m, (int32_t)i, "h0"), 0);
        m->osds[i].up = true;
        m->osds[i].up_from = 2;
    }
    return m;
}

static void fx_init(struct fx *x, unsigned n_osds, const struct mon_failure_opts *opts,
                    uint64_t now_ms)
{
    struct mon_failure_opts def;
    mon_failure_opts_default(&def);
    memset(x, 0, sizeof(*x));
    x->map = map_of(n_osds);
    assert_int_equal(mon_failure_create(opts ? opts : &def, now_ms, &x->f), 0);
}

static void fx_fini(struct fx *x)
{
    mon_failure_destroy(x->f);
    proto_map_destroy(x->map);
}

static unsigned tick(struct fx *x, uint64_t now_ms)
{
    memset(x->out, 0xee, sizeof(x->out));
    return mon_failure_tick(x->f, x->map, now_ms, x->out, MAXC);
}

/* Ticks at @now_ms expecting exactly one command: @op for @id. */
static void expect_one(struct fx *x, uint64_t now_ms, enum proto_mon_op op, int32_t id)
{
    assert_int_equal(tick(x, now_ms), 1);
    assert_int_equal(x->out[0].op, op);
    assert_int_equal(x->out[0].id, id);
    assert_int_equal(x->out[0].stamp_ns, 0); /* the leader stamps at proposal */
    assert_string_equal(x->out[0].name, "");
}

static void expect_none(struct fx *x, uint64_t now_ms)
{
    assert_int_equal(tick(x, now_ms), 0);
}

/* What the committed command does to the map. */
static void mark(struct fx *x, int32_t id, bool up, bool in)
{
    x->map->epoch++;
    if (up && !x->map->osds[id].up)
        x->map->osds[id].up_from = x->map->epoch;
    x->map->osds[id].up = up;
    x->map->osds[id].in = in;
}

static void test_failure_opts_and_create(void **state)
{
    (void)state;
    struct mon_failure_opts o;
    struct mon_failure *f = NULL;
    mon_failure_opts_default(&o);
    assert_int_equal(o.down_grace_ms, 6000);
    assert_int_equal(o.out_after_ms, 60000);
    assert_int_equal(o.min_reporters, 1);
    assert_int_equal(o.report_window_ms, 10000);
    o.down_grace_ms = 0;
    assert_int_equal(mon_failure_create(&o, 0, &f), -EINVAL);
    mon_failure_opts_default(&o);
    o.min_reporters = 0;
    assert_int_equal(mon_failure_create(&o, 0, &f), -EINVAL);
    o.min_reporters = 1000;
    assert_int_equal(mon_failure_create(&o, 0, &f), -EINVAL);
    mon_failure_opts_default(&o);
    o.report_window_ms = 0;
    assert_int_equal(mon_failure_create(&o, 0, &f), -EINVAL);
    assert_null(f);
    mon_failure_destroy(NULL);
}

static void test_failure_down_after_grace(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, 2, NULL, 1000);
    expect_none(&x, 1000);
    mon_failure_beacon(x.f, 1, 4000);
    expect_none(&x, 6999);
    expect_one(&x, 7000, PROTO_MON_OSD_DOWN, 0); /* silent since the leader started */
    mark(&x, 0, false, true);
    mon_failure_beacon(x.f, 1, 9000);
    expect_none(&x, 9999);
    expect_one(&x, 15000, PROTO_MON_OSD_DOWN, 1);
    fx_fini(&x);
}

static void test_failure_reproposes_while_map_lags(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, 1, NULL, 0);
    expect_one(&x, 6000, PROTO_MON_OSD_DOWN, 0);
    expect_none(&x, 6001);
    expect_none(&x, 11999);
    expect_one(&x, 12000, PROTO_MON_OSD_DOWN, 0); /* the proposal was lost */
    expect_none(&x, 12001);
    mark(&x, 0, false, true);
    expect_none(&x, 18000); /* already down: never DOWN again */
    expect_none(&x, 40000);
    fx_fini(&x);
}

static void test_failure_ignores_down_and_missing(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, 3, NULL, 0);
    x.map->osds[0].up = false;
    x.map->osds[0].in = false;
    assert_int_equal(proto_map_remove_osd(x.map, 1), 0);
    mon_failure_report(x.f, 0, "osd.2", 100);
    mon_failure_report(x.f, 1, "osd.2", 100);
    mon_failure_beacon(x.f, 2, 5000);
    expect_none(&x, 6000);
    mon_failure_beacon(x.f, 2, 99990);
    expect_none(&x, 99999);
    mon_failure_report(x.f, 0, "osd.2", 99999);
    expect_none(&x, 100000);
    /* Out-of-range ids are ignored, not a crash. */
    mon_failure_beacon(x.f, -1, 1);
    mon_failure_beacon(x.f, (int32_t)PROTO_MAP_MAX_OSDS, 1);
    mon_failure_report(x.f, -5, "osd.2", 1);
    mon_failure_report(x.f, (int32_t)PROTO_MAP_MAX_OSDS, "osd.2", 1);
    fx_fini(&x);
}

static void test_failure_out_after_down(void **state)
{
    (void)state;
    struct mon_failure_opts o;
    struct fx x;
    mon_failure_opts_default(&o);
    fx_init(&x, 2, &o, 0);
    mark(&x, 1, false, true);
    mon_failure_beacon(x.f, 0, 0);
    expect_none(&x, 500); /* osd.1 tracked from this tick */
    for (uint64_t t = 1000; t < 60500; t += 1000) {
        mon_failure_beacon(x.f, 0, t);
        expect_none(&x, t);
    }
    mon_failure_beacon(x.f, 0, 60500);
    expect_one(&x, 60500, PROTO_MON_OSD_OUT, 1);
    mon_failure_beacon(x.f, 0, 66000);
    expect_none(&x, 66000);
    mon_failure_beacon(x.f, 0, 66500);
    expect_one(&x, 66500, PROTO_MON_OSD_OUT, 1); /* map lagged one grace */
    mark(&x, 1, false, false);
    mon_failure_beacon(x.f, 0, 200000);
    expect_none(&x, 200000); /* already out: never OUT again */

    /* An operator marking it in again gets a full out period. */
    mark(&x, 1, false, true);
    mon_failure_beacon(x.f, 0, 210000);
    expect_none(&x, 210000);
    mon_failure_beacon(x.f, 0, 269999);
    expect_none(&x, 269999);
    mon_failure_beacon(x.f, 0, 270000);
    expect_one(&x, 270000, PROTO_MON_OSD_OUT, 1);
    fx_fini(&x);
}

static void test_failure_out_disabled(void **state)
{
    (void)state;
    struct mon_failure_opts o;
    struct fx x;
    mon_failure_opts_default(&o);
    o.out_after_ms = 0;
    fx_init(&x, 1, &o, 0);
    mark(&x, 0, false, true);
    expect_none(&x, 1);
    expect_none(&x, 10000000);
    fx_fini(&x);
}

static void test_failure_down_then_out(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, 1, NULL, 0);
    expect_one(&x, 6000, PROTO_MON_OSD_DOWN, 0);
    mark(&x, 0, false, true);
    expect_none(&x, 7000); /* first tick that sees it down */
    expect_none(&x, 66999);
    expect_one(&x, 67000, PROTO_MON_OSD_OUT, 0);
    fx_fini(&x);
}

static void test_failure_reports_mark_down_at_once(void **state)
{
    (void)state;
    struct mon_failure_opts o;
    struct fx x;
    mon_failure_opts_default(&o);
    o.min_reporters = 2;
    fx_init(&x, 4, &o, 0);
    mon_failure_report(x.f, 0, "osd.1", 100);
    mon_failure_report(x.f, 0, "osd.1", 200); /* the same reporter twice */
    mon_failure_report(x.f, 0, "osd.0", 200); /* itself: does not count */
    mon_failure_report(x.f, 0, "not an entity", 200);
    mon_failure_report(x.f, 0, NULL, 200);
    expect_none(&x, 300);
    mon_failure_report(x.f, 0, "client.admin", 400);
    expect_one(&x, 500, PROTO_MON_OSD_DOWN, 0);
    expect_none(&x, 600); /* proposed; again only after a grace */
    for (int32_t i = 1; i < 4; i++)
        mon_failure_beacon(x.f, i, 6000);
    expect_one(&x, 6500, PROTO_MON_OSD_DOWN, 0);
    fx_fini(&x);
}

static void test_failure_reports_expire(void **state)
{
    (void)state;
    struct mon_failure_opts o;
    struct fx x;
    mon_failure_opts_default(&o);
    o.min_reporters = 2;
    o.down_grace_ms = 1000000; /* isolate the reports from the grace */
    fx_init(&x, 3, &o, 0);
    mon_failure_report(x.f, 0, "osd.1", 1000);
    mon_failure_report(x.f, 0, "osd.2", 11000); /* osd.1's is 10 s old: gone */
    expect_none(&x, 11000);
    mon_failure_report(x.f, 0, "osd.1", 12000);
    expect_one(&x, 12000, PROTO_MON_OSD_DOWN, 0);
    /* Reports in the window, but too old at the tick, do not count. */
    mon_failure_report(x.f, 1, "osd.0", 20000);
    mon_failure_report(x.f, 1, "osd.2", 21000);
    expect_none(&x, 30000);
    fx_fini(&x);
}

static void test_failure_many_reporters(void **state)
{
    (void)state;
    struct mon_failure_opts o;
    struct fx x;
    mon_failure_opts_default(&o);
    o.min_reporters = 3;
    o.down_grace_ms = 1000000;
    fx_init(&x, 1, &o, 0);
    /* More reporters than are remembered: the oldest are replaced. */
    for (int i = 0; i < 100; i++) {
        char who[32];
        snprintf(who, sizeof(who), "client.c%d", i);
        mon_failure_report(x.f, 0, who, 100 + (uint64_t)i);
    }
    expect_one(&x, 300, PROTO_MON_OSD_DOWN, 0);
    fx_fini(&x);
}

static void test_failure_new_leader_starts_afresh(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, 2, NULL, 0);
    mon_failure_report(x.f, 0, "osd.1", 5000);
    expect_one(&x, 5000, PROTO_MON_OSD_DOWN, 0);
    expect_none(&x, 5500);
    /* Leadership moves: the new leader has seen no beacon and no report. */
    mon_failure_destroy(x.f);
    assert_int_equal(
        mon_failure_create(&(struct mon_failure_opts){6000, 60000, 1, 10000}, 50000, &x.f), 0);
    expect_none(&x, 50000);
    expect_none(&x, 55999);
    assert_int_equal(tick(&x, 56000), 2);
    assert_int_equal(x.out[0].id, 0);
    assert_int_equal(x.out[1].id, 1);
    fx_fini(&x);
}

static void test_failure_new_incarnation_gets_fresh_grace(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, 1, NULL, 0);
    expect_none(&x, 1000);
    /* A quick restart: booted again before anyone marked it down. */
    x.map->epoch = 5;
    x.map->osds[0].up_from = 5;
    mon_failure_report(x.f, 0, "osd.9", 4000); /* about the old process */
    expect_none(&x, 5000);
    expect_none(&x, 10999);
    expect_one(&x, 11000, PROTO_MON_OSD_DOWN, 0);

    /* Marked down, then booted again much later. */
    mark(&x, 0, false, true);
    expect_none(&x, 20000);
    mark(&x, 0, true, true);
    expect_none(&x, 30000);
    expect_none(&x, 35999);
    expect_one(&x, 36000, PROTO_MON_OSD_DOWN, 0);

    /* An OSD that appears after the first tick gets its grace from then. */
    assert_int_equal(proto_map_add_osd(x.map, 1, "h1"), 0);
    x.map->osds[1].up = true;
    x.map->osds[1].up_from = ++x.map->epoch;
    mon_failure_beacon(x.f, 0, 40000);
    expect_none(&x, 40000);
    mon_failure_beacon(x.f, 0, 45999);
    expect_none(&x, 45999);
    mon_failure_beacon(x.f, 0, 46000);
    expect_one(&x, 46000, PROTO_MON_OSD_DOWN, 1);
    fx_fini(&x);
}

static void test_failure_bounded_output(void **state)
{
    (void)state;
    struct fx x;
    struct proto_mon_cmd out[2];
    fx_init(&x, 5, NULL, 0);
    assert_int_equal(mon_failure_tick(x.f, x.map, 6000, out, 2), 2);
    assert_int_equal(out[0].id, 0);
    assert_int_equal(out[1].id, 1);
    assert_int_equal(mon_failure_tick(x.f, x.map, 6001, out, 2), 2);
    assert_int_equal(out[0].id, 2);
    assert_int_equal(out[1].id, 3);
    assert_int_equal(mon_failure_tick(x.f, x.map, 6002, out, 2), 1);
    assert_int_equal(out[0].id, 4);
    assert_int_equal(mon_failure_tick(x.f, x.map, 6003, out, 0), 0);
    expect_none(&x, 6004);
    fx_fini(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failure_opts_and_create),
        cmocka_unit_test(test_failure_down_after_grace),
        cmocka_unit_test(test_failure_reproposes_while_map_lags),
        cmocka_unit_test(test_failure_ignores_down_and_missing),
        cmocka_unit_test(test_failure_out_after_down),
        cmocka_unit_test(test_failure_out_disabled),
        cmocka_unit_test(test_failure_down_then_out),
        cmocka_unit_test(test_failure_reports_mark_down_at_once),
        cmocka_unit_test(test_failure_reports_expire),
        cmocka_unit_test(test_failure_many_reporters),
        cmocka_unit_test(test_failure_new_leader_starts_afresh),
        cmocka_unit_test(test_failure_new_incarnation_gets_fresh_grace),
        cmocka_unit_test(test_failure_bounded_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

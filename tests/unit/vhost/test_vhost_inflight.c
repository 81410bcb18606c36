/* Unit tests of inflight I/O tracking (gateway/vhost/inflight.c) and of
 * taking a chain by head (gw_vhost_vring_take, gateway/vhost/vring.c).
 * The region is read and written through the spec's own layout
 * (QueueRegionSplit / DescStateSplit of QEMU docs/interop/vhost-user.rst),
 * declared here independently of inflight.c. A crash is simulated by
 * dropping the back-end's state (struct gw_vhost_inflight_q, the vring)
 * at each point of the take / push / publish / published sequence and
 * attaching a fresh one to the same region: nothing lost, nothing returned
 * twice. A hostile region (the front-end owns it) must not crash recovery
 * nor make it loop. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/vhost/inflight.h"
#include "vhost_guest.h"

/* ---- the spec's layout ---- */

struct desc_state_split {
    uint8_t inflight;
    uint8_t padding[5];
    uint16_t next;
    uint64_t counter;
};

struct queue_region_split {
    uint64_t features;
    uint16_t version;
    uint16_t desc_num;
    uint16_t last_batch_head;
    uint16_t used_idx;
    struct desc_state_split desc[];
};

CAIRN_STATIC_ASSERT(sizeof(struct desc_state_split) == 16, "DescStateSplit is 16 bytes");
CAIRN_STATIC_ASSERT(offsetof(struct desc_state_split, next) == 6, "DescStateSplit.next");
CAIRN_STATIC_ASSERT(offsetof(struct desc_state_split, counter) == 8, "DescStateSplit.counter");
CAIRN_STATIC_ASSERT(offsetof(struct queue_region_split, version) == 8, "version");
CAIRN_STATIC_ASSERT(offsetof(struct queue_region_split, desc_num) == 10, "desc_num");
CAIRN_STATIC_ASSERT(offsetof(struct queue_region_split, last_batch_head) == 12, "last_batch_head");
CAIRN_STATIC_ASSERT(offsetof(struct queue_region_split, used_idx) == 14, "used_idx");
CAIRN_STATIC_ASSERT(offsetof(struct queue_region_split, desc) == 16, "desc[]");

/* Room for a queue of 256 and a tail that must stay untouched. */
#define AREA_BYTES (16u + 16u * 256u + 256u)
#define CANARY 0xa5u

static uint8_t area[AREA_BYTES] __attribute__((aligned(64)));
static struct queue_region_split *const qr = (struct queue_region_split *)area;

static struct gw_vhost_inflight_q iq;
static struct guest g;

/* A region as a front-end hands it over before anyone used it. */
static void area_zero(void)
{
    memset(area, 0, sizeof(area));
}

/* Attaches a fresh tracker to the region, as a restarted back-end does. */
static int reattach(uint16_t num)
{
    memset(&iq, 0xee, sizeof(iq)); /* nothing may survive the "crash" */
    return gw_vhost_inflight_attach(&iq, area, num, 0);
}

/* The previous back-end died: attach again (state expected), recover with
 * the ring's used idx @used and check the resubmitted heads are exactly
 * @want[0..n) in that order, never more than @num written. */
static void expect_recovered(uint16_t num, uint16_t used, const uint16_t *want, unsigned n)
{
    uint16_t heads[256 + 1];

    for (unsigned i = 0; i <= num; i++)
        heads[i] = 0xbeef;
    assert_int_equal(reattach(num), 1);
    assert_int_equal(gw_vhost_inflight_recover(&iq, used, heads), n);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(heads[i], want[i]);
    assert_int_equal(heads[num], 0xbeef);
    assert_int_equal(qr->used_idx, used);
}

/* ---- region size and attach ---- */

static void test_inflight_region_bytes(void **state)
{
    static const uint16_t nums[] = {1, 2, 3, 4, 5, 8, 64, 127, 128, 256, 1024, 32768, 65535};

    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        size_t need = 16u + 16u * (size_t)nums[i], b = gw_vhost_inflight_region_bytes(nums[i]);
        assert_int_equal(b % GW_VHOST_INFLIGHT_ALIGN, 0);
        assert_true(b >= need);
        assert_true(b < need + GW_VHOST_INFLIGHT_ALIGN);
    }
    assert_int_equal(gw_vhost_inflight_region_bytes(1), 64);
    assert_int_equal(gw_vhost_inflight_region_bytes(3), 64);
    assert_int_equal(gw_vhost_inflight_region_bytes(4), 128);
    assert_int_equal(gw_vhost_inflight_region_bytes(128), 2112);
    assert_int_equal(gw_vhost_inflight_region_bytes(256), 4160);
}

static void test_inflight_attach_zeroed_region_initialises(void **state)
{
    size_t bytes = gw_vhost_inflight_region_bytes(8);

    area_zero();
    memset(area + bytes, CANARY, sizeof(area) - bytes);
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    assert_ptr_equal(iq.region, area);
    assert_int_equal(iq.num, 8);
    assert_int_equal(iq.batch, 0);
    assert_int_equal(qr->features, 0);
    assert_int_equal(qr->version, GW_VHOST_INFLIGHT_VERSION);
    assert_int_equal(qr->version, 1);
    assert_int_equal(qr->desc_num, 8);
    assert_int_equal(qr->used_idx, 0);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(qr->desc[i].inflight, 0);
    for (size_t i = bytes; i < sizeof(area); i++)
        assert_int_equal(area[i], CANARY); /* writes only its own bytes */
    /* The first take gets counter 1 (0 is "never taken"). */
    gw_vhost_inflight_take(&iq, 3);
    assert_int_equal(qr->desc[3].counter, 1);
    /* Initialised now: attaching again finds state. */
    assert_int_equal(reattach(8), 1);
}

static void test_inflight_attach_other_desc_num_reinitialises(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 16, 0), 0);
    gw_vhost_inflight_take(&iq, 2);
    gw_vhost_inflight_take(&iq, 12);
    assert_int_equal(qr->desc[2].inflight, 1);
    /* The queue came back with another size: the old state means nothing. */
    assert_int_equal(reattach(8), 0);
    assert_int_equal(qr->version, 1);
    assert_int_equal(qr->desc_num, 8);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(qr->desc[i].inflight, 0);
        assert_int_equal(qr->desc[i].counter, 0);
    }
    gw_vhost_inflight_take(&iq, 2);
    assert_int_equal(qr->desc[2].counter, 1);
}

static void test_inflight_attach_other_version_reinitialises(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    gw_vhost_inflight_take(&iq, 5);
    qr->version = 2; /* a layout we do not know */
    assert_int_equal(reattach(8), 0);
    assert_int_equal(qr->version, 1);
    assert_int_equal(qr->desc[5].inflight, 0);
}

static void test_inflight_attach_with_state_continues_counters(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    gw_vhost_inflight_take(&iq, 6); /* counter 1 */
    gw_vhost_inflight_take(&iq, 1); /* counter 2 */
    gw_vhost_inflight_take(&iq, 4); /* counter 3, the highest */
    gw_vhost_inflight_push(&iq, 4);
    gw_vhost_inflight_published(&iq, 1);
    assert_int_equal(qr->desc[4].inflight, 0);
    assert_int_equal(qr->desc[4].counter, 3); /* kept after completion */

    assert_int_equal(reattach(8), 1);
    assert_ptr_equal(iq.region, area);
    assert_int_equal(iq.num, 8);
    assert_int_equal(iq.batch, 0);
    /* Continues after the highest counter, even one no longer in flight. */
    assert_int_equal(iq.counter, 4);
    gw_vhost_inflight_take(&iq, 0);
    assert_int_equal(qr->desc[0].counter, 4);
    /* The state itself is left alone. */
    assert_int_equal(qr->desc[6].inflight, 1);
    assert_int_equal(qr->desc[1].inflight, 1);
    assert_int_equal(qr->used_idx, 1);
}

/* ---- take / push / published ---- */

static void test_inflight_take_push_published(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    gw_vhost_inflight_take(&iq, 2);
    assert_int_equal(qr->desc[2].inflight, 1);
    assert_int_equal(qr->desc[2].counter, 1);
    gw_vhost_inflight_push(&iq, 2);
    /* In the used ring but not visible yet: still in flight. */
    assert_int_equal(qr->desc[2].inflight, 1);
    assert_int_equal(qr->last_batch_head, 2);
    assert_int_equal(qr->used_idx, 0);
    assert_int_equal(iq.batch, 1);
    gw_vhost_inflight_published(&iq, 1);
    assert_int_equal(qr->desc[2].inflight, 0);
    assert_int_equal(qr->used_idx, 1);
    assert_int_equal(iq.batch, 0);
    /* Nothing pushed since: published() changes nothing. */
    gw_vhost_inflight_published(&iq, 7);
    assert_int_equal(qr->used_idx, 1);
}

static void test_inflight_batch_cleared_together(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    gw_vhost_inflight_take(&iq, 1);
    gw_vhost_inflight_take(&iq, 4);
    gw_vhost_inflight_take(&iq, 6);
    gw_vhost_inflight_take(&iq, 3);
    gw_vhost_inflight_push(&iq, 4);
    gw_vhost_inflight_push(&iq, 1);
    gw_vhost_inflight_push(&iq, 6);
    /* The batch list, newest first: 6 -> 1 -> 4. */
    assert_int_equal(qr->last_batch_head, 6);
    assert_int_equal(qr->desc[6].next, 1);
    assert_int_equal(qr->desc[1].next, 4);
    assert_int_equal(iq.batch, 3);
    assert_int_equal(qr->desc[1].inflight, 1);
    assert_int_equal(qr->desc[3].inflight, 1);
    assert_int_equal(qr->desc[4].inflight, 1);
    assert_int_equal(qr->desc[6].inflight, 1);
    gw_vhost_inflight_published(&iq, 3);
    assert_int_equal(qr->desc[1].inflight, 0);
    assert_int_equal(qr->desc[4].inflight, 0);
    assert_int_equal(qr->desc[6].inflight, 0);
    assert_int_equal(qr->desc[3].inflight, 1); /* not pushed */
    assert_int_equal(qr->used_idx, 3);
    /* The next batch starts a new list. */
    gw_vhost_inflight_push(&iq, 3);
    assert_int_equal(qr->last_batch_head, 3);
    assert_int_equal(iq.batch, 1);
    gw_vhost_inflight_published(&iq, 4);
    assert_int_equal(qr->desc[3].inflight, 0);
    assert_int_equal(qr->used_idx, 4);
}

static void test_inflight_used_idx_wraps(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 4, 0), 0);
    qr->used_idx = 0xffff; /* as published() left it */
    gw_vhost_inflight_take(&iq, 0);
    gw_vhost_inflight_take(&iq, 1);
    gw_vhost_inflight_take(&iq, 2);
    gw_vhost_inflight_push(&iq, 0);
    gw_vhost_inflight_push(&iq, 1);
    /* Crash inside published(): used->idx went 0xffff -> 1. */
    static const uint16_t want[] = {2};
    expect_recovered(4, 1, want, 1);
    assert_int_equal(qr->desc[0].inflight, 0);
    assert_int_equal(qr->desc[1].inflight, 0);
}

static void test_inflight_untracked_and_out_of_range_are_ignored(void **state)
{
    struct gw_vhost_inflight_q none = {0};

    /* No region (the front-end gave none): every call is a no-op. */
    gw_vhost_inflight_take(&none, 1);
    gw_vhost_inflight_push(&none, 1);
    gw_vhost_inflight_published(&none, 1);
    assert_null(none.region);
    assert_int_equal(none.batch, 0);

    /* A head beyond the queue (after a re-setup with a smaller num) is not
     * tracked and writes nothing past the region. */
    size_t bytes = gw_vhost_inflight_region_bytes(4);
    area_zero();
    memset(area + bytes, CANARY, sizeof(area) - bytes);
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 4, 0), 0);
    gw_vhost_inflight_take(&iq, 4);
    gw_vhost_inflight_take(&iq, 0xffff);
    gw_vhost_inflight_push(&iq, 4);
    assert_int_equal(iq.batch, 0);
    for (size_t i = bytes; i < sizeof(area); i++)
        assert_int_equal(area[i], CANARY);
}

/* ---- recovery after a crash at each point ---- */

static void test_inflight_recover_nothing_in_flight(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    gw_vhost_inflight_take(&iq, 3);
    gw_vhost_inflight_push(&iq, 3);
    gw_vhost_inflight_published(&iq, 1);
    expect_recovered(8, 1, NULL, 0);
}

static void test_inflight_crash_taken_not_pushed_resubmits(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    gw_vhost_inflight_take(&iq, 5);
    static const uint16_t want[] = {5};
    expect_recovered(8, 0, want, 1);
    assert_int_equal(qr->desc[5].inflight, 1); /* still in flight until returned */
}

static void test_inflight_crash_pushed_not_published_resubmits(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    gw_vhost_inflight_take(&iq, 5);
    gw_vhost_inflight_take(&iq, 2);
    gw_vhost_inflight_push(&iq, 5);
    gw_vhost_inflight_push(&iq, 2);
    /* used->idx never advanced: the driver did not get them. */
    static const uint16_t want[] = {5, 2};
    expect_recovered(8, 0, want, 2);
    assert_int_equal(qr->desc[5].inflight, 1);
    assert_int_equal(qr->desc[2].inflight, 1);
}

static void test_inflight_crash_after_publish_clears_last_batch(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    gw_vhost_inflight_take(&iq, 5);
    gw_vhost_inflight_take(&iq, 2);
    gw_vhost_inflight_take(&iq, 7);
    gw_vhost_inflight_push(&iq, 2);
    gw_vhost_inflight_push(&iq, 7);
    /* Crash inside published(): the ring's used->idx went 0 -> 2, the
     * region still says 0 and both flags are set. */
    assert_int_equal(qr->used_idx, 0);
    static const uint16_t want[] = {5};
    expect_recovered(8, 2, want, 1);
    assert_int_equal(qr->desc[2].inflight, 0);
    assert_int_equal(qr->desc[7].inflight, 0);
    assert_int_equal(qr->desc[5].inflight, 1);
}

static void test_inflight_crash_halfway_through_clearing(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    qr->used_idx = 10;
    gw_vhost_inflight_take(&iq, 0);
    gw_vhost_inflight_take(&iq, 1);
    gw_vhost_inflight_take(&iq, 2);
    gw_vhost_inflight_push(&iq, 0);
    gw_vhost_inflight_push(&iq, 1);
    gw_vhost_inflight_push(&iq, 2);
    qr->desc[2].inflight = 0; /* published() cleared the newest, then died */
    static const uint16_t none[] = {0};
    expect_recovered(8, 13, none, 0);
    for (unsigned h = 0; h < 3; h++)
        assert_int_equal(qr->desc[h].inflight, 0);
}

static void test_inflight_crash_after_published_done(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    gw_vhost_inflight_take(&iq, 1);
    gw_vhost_inflight_take(&iq, 2);
    gw_vhost_inflight_push(&iq, 1);
    gw_vhost_inflight_published(&iq, 1);
    gw_vhost_inflight_push(&iq, 2); /* a new batch, not yet published */
    /* used idx equal to the region's: the stale list is not walked. */
    static const uint16_t want[] = {2};
    expect_recovered(8, 1, want, 1);
}

static void test_inflight_recover_in_counter_order(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    gw_vhost_inflight_take(&iq, 5);
    gw_vhost_inflight_take(&iq, 2);
    gw_vhost_inflight_take(&iq, 7);
    static const uint16_t want[] = {5, 2, 7};
    expect_recovered(8, 0, want, 3);
    /* The restarted back-end takes a new one: it sorts after the old ones,
     * across a second crash. */
    gw_vhost_inflight_take(&iq, 0);
    static const uint16_t want2[] = {5, 2, 7, 0};
    expect_recovered(8, 0, want2, 4);
}

static void test_inflight_recover_every_head(void **state)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    uint16_t want[8];
    for (unsigned i = 0; i < 8; i++) {
        want[i] = (uint16_t)(7 - i);
        gw_vhost_inflight_take(&iq, want[i]);
    }
    expect_recovered(8, 0, want, 8); /* exactly num, heads[num] untouched */
}

/* The front-end owns the region: whatever it holds, recovery terminates,
 * stays inside it, and returns at most num heads. */
static void hostile_region(uint16_t num)
{
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, num, 0), 0);
}

static void test_inflight_hostile_last_batch_head_out_of_range(void **state)
{
    hostile_region(8);
    qr->desc[3].inflight = 1;
    qr->desc[3].counter = 9;
    qr->last_batch_head = 200;
    qr->used_idx = 0;
    static const uint16_t want[] = {3};
    expect_recovered(8, 5, want, 1);
    qr->last_batch_head = 0xffff;
    qr->used_idx = 0;
    expect_recovered(8, 0x8000, want, 1);
}

static void test_inflight_hostile_next_cycle_is_bounded(void **state)
{
    hostile_region(8);
    for (unsigned h = 0; h < 8; h++) {
        qr->desc[h].inflight = 1;
        qr->desc[h].counter = 100 + h;
    }
    /* 1 -> 3 -> 1 -> ... and a batch "size" of 65535. */
    qr->last_batch_head = 1;
    qr->desc[1].next = 3;
    qr->desc[3].next = 1;
    qr->used_idx = 1;
    static const uint16_t want[] = {0, 2, 4, 5, 6, 7};
    expect_recovered(8, 0, want, 6);
    assert_int_equal(qr->desc[1].inflight, 0);
    assert_int_equal(qr->desc[3].inflight, 0);

    /* A next pointing outside the queue ends the walk. */
    hostile_region(8);
    for (unsigned h = 0; h < 8; h++) {
        qr->desc[h].inflight = 1;
        qr->desc[h].counter = 100 + h;
    }
    qr->last_batch_head = 6;
    qr->desc[6].next = 9000;
    static const uint16_t want2[] = {0, 1, 2, 3, 4, 5, 7};
    expect_recovered(8, 4, want2, 7);
}

static void test_inflight_hostile_flags_and_counters(void **state)
{
    hostile_region(8);
    qr->desc[0].inflight = 2;
    qr->desc[1].inflight = 0xff;
    qr->desc[2].inflight = 1;
    qr->desc[2].counter = 7;
    qr->desc[3].inflight = 0x80;
    qr->desc[4].inflight = 1;
    qr->desc[4].counter = 7; /* a tie: both come back, once each */
    qr->desc[5].inflight = 1;
    qr->desc[5].counter = 3;
    uint16_t heads[9];
    assert_int_equal(reattach(8), 1);
    assert_int_equal(iq.counter, 8);
    assert_int_equal(gw_vhost_inflight_recover(&iq, 0, heads), 3);
    assert_int_equal(heads[0], 5);
    assert_true((heads[1] == 2 && heads[2] == 4) || (heads[1] == 4 && heads[2] == 2));
}

/* Seed of the randomized test: printed, and taken from argv[1] if given. */
static uint32_t fuzz_seed = 0x12345678u;

static void test_inflight_hostile_region_fuzz(void **state)
{
    /* Random bytes in the whole region under a valid header must never
     * crash, loop or write out of bounds (ASan builds check the bounds). */
    uint32_t x = fuzz_seed ? fuzz_seed : 1; /* xorshift32: never 0 */
    uint16_t heads[16 + 1];

    for (unsigned round = 0; round < 2000; round++) {
        size_t bytes = gw_vhost_inflight_region_bytes(16);
        for (size_t i = 0; i < bytes; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            area[i] = (uint8_t)(x & 1 ? x >> 8 : (x >> 8) & 1);
        }
        qr->version = 1;
        qr->desc_num = 16;
        heads[16] = 0xbeef;
        assert_int_equal(gw_vhost_inflight_attach(&iq, area, 16, 0), 1);
        unsigned n = gw_vhost_inflight_recover(&iq, (uint16_t)(x >> 16), heads);
        assert_true(n <= 16);
        assert_int_equal(heads[16], 0xbeef);
        for (unsigned k = 0; k < n; k++) {
            assert_true(heads[k] < 16);
            assert_int_equal(qr->desc[heads[k]].inflight, 1);
        }
    }
}

/* ---- gw_vhost_vring_take ---- */

static void test_vring_take_by_head(void **state)
{
    assert_int_equal(guest_init(&g, 16, true), 0);
    gw_vhost_vring_set_base(&g.vr, 7);
    desc(3, DATA_GPA, 16, NEXT, 5);
    desc(5, DATA_GPA + 0x100, 512, NEXT | WRITE, 11);
    desc(11, DATA_GPA + 0x400, 1, WRITE, 0);
    assert_int_equal(gw_vhost_vring_take(&g.vr, &g.m, 3, &g.c), 1);
    assert_int_equal(g.c.error, 0);
    assert_int_equal(g.c.head, 3);
    assert_int_equal(g.c.n_out, 1);
    assert_int_equal(g.c.n_in, 2);
    assert_int_equal(g.c.out_bytes, 16);
    assert_int_equal(g.c.in_bytes, 513);
    assert_ptr_equal(g.c.iov[0].iov_base, host(DATA_GPA));
    assert_ptr_equal(g.c.status, host(DATA_GPA + 0x400));
    assert_int_equal(g.vr.inflight, 1);
    /* The avail ring is neither read nor moved past. */
    assert_int_equal(g.vr.last_avail_idx, 7);
    assert_int_equal(get(USED_GPA + 4 + 8ull * 16, 2), 0); /* avail_event untouched */
    gw_vhost_vring_push(&g.vr, 3, 1);
    assert_int_equal(g.vr.inflight, 0);
}

static void test_vring_take_head_beyond_queue_is_eproto(void **state)
{
    struct gw_vhost_chain before;

    assert_int_equal(guest_init(&g, 16, false), 0);
    memset(&g.c, 0x5a, sizeof(g.c));
    before = g.c;
    assert_int_equal(gw_vhost_vring_take(&g.vr, &g.m, 16, &g.c), -EPROTO);
    assert_int_equal(gw_vhost_vring_take(&g.vr, &g.m, 0xffff, &g.c), -EPROTO);
    assert_memory_equal(&before, &g.c, sizeof(before));
    assert_int_equal(g.vr.inflight, 0);
    assert_int_equal(g.vr.last_avail_idx, 0);
}

static void test_vring_take_when_full_is_eproto(void **state)
{
    struct gw_vhost_chain before;

    assert_int_equal(guest_init(&g, 4, false), 0);
    for (uint16_t h = 0; h < 4; h++) {
        desc(h, DATA_GPA + 0x100ull * h, 1, WRITE, 0);
        assert_int_equal(gw_vhost_vring_take(&g.vr, &g.m, h, &g.c), 1);
    }
    assert_int_equal(g.vr.inflight, 4);
    memset(&g.c, 0x5a, sizeof(g.c));
    before = g.c;
    assert_int_equal(gw_vhost_vring_take(&g.vr, &g.m, 0, &g.c), -EPROTO);
    assert_memory_equal(&before, &g.c, sizeof(before));
    assert_int_equal(g.vr.inflight, 4);
    /* pop refuses too, without moving last_avail_idx */
    offer(&g, 1);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), -EPROTO);
    assert_int_equal(g.vr.last_avail_idx, 0);
    /* one returned: room for one again */
    gw_vhost_vring_push(&g.vr, 2, 1);
    assert_int_equal(gw_vhost_vring_take(&g.vr, &g.m, 2, &g.c), 1);
}

/* Each malformed chain, taken by head and popped, gives the same chain. */
static void expect_take_like_pop(uint16_t head, int error, bool status)
{
    struct gw_vhost_chain taken;

    assert_int_equal(gw_vhost_vring_take(&g.vr, &g.m, head, &g.c), 1);
    assert_int_equal(g.c.error, error);
    assert_int_equal(g.c.head, head);
    if (status)
        assert_non_null(g.c.status);
    else
        assert_null(g.c.status);
    taken = g.c;
    offer(&g, head);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
    assert_int_equal(g.c.error, taken.error);
    assert_int_equal(g.c.head, taken.head);
    assert_ptr_equal(g.c.status, taken.status);
    assert_int_equal(g.c.n_out, taken.n_out);
    assert_int_equal(g.c.n_in, taken.n_in);
    assert_int_equal(g.c.in_bytes, taken.in_bytes);
    assert_int_equal(g.c.out_bytes, taken.out_bytes);
    gw_vhost_vring_push(&g.vr, head, 0);
    gw_vhost_vring_push(&g.vr, head, 0);
}

static void test_vring_take_malformed_chains(void **state)
{
    assert_int_equal(guest_init(&g, 16, false), 0);
    desc(1, DATA_GPA, 16, NEXT, 2); /* 1 -> 2 -> 1: a cycle */
    desc(2, DATA_GPA + 0x100, 1, NEXT, 1);
    expect_take_like_pop(1, -ELOOP, false);
    desc(4, DATA_GPA, 0, WRITE, 0); /* zero length */
    expect_take_like_pop(4, -EINVAL, false);
    desc(5, RAM_END - 8, 16, WRITE, 0); /* past the end of memory */
    expect_take_like_pop(5, -EFAULT, false);
    desc(6, DATA_GPA, 16, NEXT, 16); /* next beyond the table */
    expect_take_like_pop(6, -EINVAL, false);
    desc(7, DATA_GPA, 1, WRITE | NEXT, 8); /* readable after writable */
    desc(8, DATA_GPA + 0x10, 4, 0, 0);
    expect_take_like_pop(7, -EINVAL, true);
    desc(9, DATA_GPA, 16, NEXT, 10); /* indirect further down the chain */
    desc(10, DATA_GPA + 0x800, 16, INDIRECT, 0);
    expect_take_like_pop(9, -EINVAL, false);
    assert_int_equal(g.vr.inflight, 0);
}

/* ---- end to end: vring + inflight across a crash ---- */

/* A two-descriptor request at @head: header out, status in. */
static void request_at(uint16_t head, uint16_t second)
{
    desc(head, DATA_GPA + 0x100ull * head, 16, NEXT, second);
    desc(second, DATA_GPA + 0x100ull * head + 0x40, 1, WRITE, 0);
}

/* Sets the queue up again over the same guest rings, as a restarted
 * back-end does (the front-end's SET_VRING_BASE is overridden later). */
static void restart_vring(uint32_t num)
{
    gw_vhost_vring_init(&g.vr);
    assert_int_equal(gw_vhost_vring_setup(&g.vr, &g.m, num, uaddr_of(DESC_GPA),
                                          uaddr_of(AVAIL_GPA), uaddr_of(USED_GPA), false),
                     0);
}

/* A ring whose used idx is not 0 when the area is made (a migrated guest):
 * a crash before the first publish must not mistake that idx for a
 * finished batch and drop what is in flight. */
static void test_inflight_fresh_area_records_used_idx(void **state)
{
    static const uint16_t want[] = {0, 3};

    (void)state;
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 5), 0);
    gw_vhost_inflight_take(&iq, 0);
    gw_vhost_inflight_take(&iq, 3);
    expect_recovered(8, 5, want, 2);
}

static void test_inflight_end_to_end_recovery(void **state)
{
    uint16_t heads[16];

    assert_int_equal(guest_init(&g, 16, false), 0);
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 16, 0), 0);
    request_at(1, 2);
    request_at(4, 5);
    request_at(9, 10);
    offer(&g, 1);
    offer(&g, 4);
    offer(&g, 9);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
        assert_int_equal(g.c.error, 0);
        gw_vhost_inflight_take(&iq, g.c.head);
    }
    /* 4 completes, the others are still running. */
    gw_vhost_inflight_push(&iq, 4);
    gw_vhost_vring_push(&g.vr, 4, 1);
    assert_true(gw_vhost_vring_publish(&g.vr));
    gw_vhost_inflight_published(&iq, g.vr.used_idx);
    assert_int_equal(used_idx(), 1);

    /* Crash: the vring and the tracker are gone; guest memory and the
     * region stay. */
    restart_vring(16);
    assert_int_equal(reattach(16), 1);
    assert_int_equal(gw_vhost_inflight_recover(&iq, g.vr.used_idx, heads), 2);
    assert_int_equal(heads[0], 1);
    assert_int_equal(heads[1], 9);
    gw_vhost_vring_set_base(&g.vr, (uint16_t)(g.vr.used_idx + 2));
    assert_int_equal(gw_vhost_vring_get_base(&g.vr), 3);
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(gw_vhost_vring_take(&g.vr, &g.m, heads[i], &g.c), 1);
        assert_int_equal(g.c.error, 0);
        assert_int_equal(g.c.head, heads[i]);
        assert_ptr_equal(g.c.status, host(DATA_GPA + 0x100ull * heads[i] + 0x40));
    }
    assert_int_equal(g.vr.inflight, 2);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 0); /* nothing new */

    /* Both complete; the driver gets each head exactly once. */
    for (unsigned i = 0; i < 2; i++) {
        gw_vhost_inflight_push(&iq, heads[i]);
        gw_vhost_vring_push(&g.vr, heads[i], 1);
    }
    assert_true(gw_vhost_vring_publish(&g.vr));
    gw_vhost_inflight_published(&iq, g.vr.used_idx);
    assert_int_equal(used_idx(), 3);
    assert_int_equal(used_id(0, 16), 4);
    assert_int_equal(used_id(1, 16), 1);
    assert_int_equal(used_id(2, 16), 9);
    expect_recovered(16, used_idx(), NULL, 0);

    /* New work after the recovery is popped from where it should be. */
    request_at(12, 13);
    offer(&g, 12);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
    assert_int_equal(g.c.head, 12);
}

static void test_inflight_end_to_end_crash_before_publish(void **state)
{
    uint16_t heads[8];

    assert_int_equal(guest_init(&g, 8, false), 0);
    area_zero();
    assert_int_equal(gw_vhost_inflight_attach(&iq, area, 8, 0), 0);
    request_at(0, 1);
    request_at(2, 3);
    offer(&g, 0);
    offer(&g, 2);
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 1);
        gw_vhost_inflight_take(&iq, g.c.head);
    }
    /* 2 is pushed into the used ring, not published: the driver never saw it. */
    gw_vhost_inflight_push(&iq, 2);
    gw_vhost_vring_push(&g.vr, 2, 1);

    restart_vring(8);
    assert_int_equal(reattach(8), 1);
    assert_int_equal(gw_vhost_inflight_recover(&iq, g.vr.used_idx, heads), 2);
    assert_int_equal(heads[0], 0);
    assert_int_equal(heads[1], 2);
    gw_vhost_vring_set_base(&g.vr, (uint16_t)(g.vr.used_idx + 2));
    assert_int_equal(gw_vhost_vring_get_base(&g.vr), 2);
    assert_int_equal(gw_vhost_vring_pop(&g.vr, &g.m, &g.c), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        fuzz_seed = (uint32_t)strtoul(argv[1], NULL, 0);
    printf("test_vhost_inflight: seed %" PRIu32 "\n", fuzz_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inflight_region_bytes),
        cmocka_unit_test(test_inflight_attach_zeroed_region_initialises),
        cmocka_unit_test(test_inflight_attach_other_desc_num_reinitialises),
        cmocka_unit_test(test_inflight_attach_other_version_reinitialises),
        cmocka_unit_test(test_inflight_attach_with_state_continues_counters),
        cmocka_unit_test(test_inflight_take_push_published),
        cmocka_unit_test(test_inflight_batch_cleared_together),
        cmocka_unit_test(test_inflight_used_idx_wraps),
        cmocka_unit_test(test_inflight_untracked_and_out_of_range_are_ignored),
        cmocka_unit_test(test_inflight_recover_nothing_in_flight),
        cmocka_unit_test(test_inflight_crash_taken_not_pushed_resubmits),
        cmocka_unit_test(test_inflight_crash_pushed_not_published_resubmits),
        cmocka_unit_test(test_inflight_crash_after_publish_clears_last_batch),
        cmocka_unit_test(test_inflight_crash_halfway_through_clearing),
        cmocka_unit_test(test_inflight_crash_after_published_done),
        cmocka_unit_test(test_inflight_recover_in_counter_order),
        cmocka_unit_test(test_inflight_recover_every_head),
        cmocka_unit_test(test_inflight_hostile_last_batch_head_out_of_range),
        cmocka_unit_test(test_inflight_hostile_next_cycle_is_bounded),
        cmocka_unit_test(test_inflight_hostile_flags_and_counters),
        cmocka_unit_test(test_inflight_hostile_region_fuzz),
        cmocka_unit_test(test_vring_take_by_head),
        cmocka_unit_test(test_vring_take_head_beyond_queue_is_eproto),
        cmocka_unit_test(test_vring_take_when_full_is_eproto),
        cmocka_unit_test(test_vring_take_malformed_chains),
        cmocka_unit_test(test_inflight_fresh_area_records_used_idx),
        cmocka_unit_test(test_inflight_end_to_end_recovery),
        cmocka_unit_test(test_inflight_end_to_end_crash_before_publish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

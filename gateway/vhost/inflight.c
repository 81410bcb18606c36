/* Inflight I/O tracking (inflight.h), laid out as the spec's
 * QueueRegionSplit. Called by io.c around pop, push and publish, and by
 * queue start after a reconnect. */
#include "gateway/vhost/inflight.h"

#include "common/assert.h"

#include <stdlib.h>
#include <string.h>

/* QueueRegionSplit header: u64 features; u16 version, desc_num,
 * last_batch_head, used_idx. */
#define HDR_BYTES 16u
#define OFF_VERSION 8u
#define OFF_DESC_NUM 10u
#define OFF_LAST_BATCH 12u
#define OFF_USED_IDX 14u
/* DescStateSplit: u8 inflight; u8 padding[5]; u16 next; u64 counter. */
#define DESC_BYTES 16u
#define D_INFLIGHT 0u
#define D_NEXT 6u
#define D_COUNTER 8u

static uint8_t *desc(const struct gw_vhost_inflight_q *iq, uint16_t i)
{
    return iq->region + HDR_BYTES + (size_t)i * DESC_BYTES;
}

/* The region is shared memory another process maps: plain loads and
 * stores, with fences where the order matters to a back-end restarted
 * after a crash. */
static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, sizeof(v));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

size_t gw_vhost_inflight_region_bytes(uint16_t num)
{
    size_t n = HDR_BYTES + (size_t)num * DESC_BYTES;

    return (n + GW_VHOST_INFLIGHT_ALIGN - 1) / GW_VHOST_INFLIGHT_ALIGN * GW_VHOST_INFLIGHT_ALIGN;
}

int gw_vhost_inflight_attach(struct gw_vhost_inflight_q *iq, void *region, uint16_t num,
                             uint16_t used_idx)
{
    uint64_t max = 0;

    CAIRN_ASSERT(num > 0);
    *iq = (struct gw_vhost_inflight_q){.region = region, .num = num};
    if (get16(iq->region + OFF_VERSION) == GW_VHOST_INFLIGHT_VERSION &&
        get16(iq->region + OFF_DESC_NUM) == num) {
        for (uint16_t i = 0; i < num; i++)
            if (get64(desc(iq, i) + D_COUNTER) > max)
                max = get64(desc(iq, i) + D_COUNTER);
        iq->counter = max + 1;
        return 1;
    }
    memset(iq->region, 0, gw_vhost_inflight_region_bytes(num));
    put16(iq->region + OFF_DESC_NUM, num);
    put16(iq->region + OFF_LAST_BATCH, 0);
    put16(iq->region + OFF_USED_IDX, used_idx);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    put16(iq->region + OFF_VERSION, GW_VHOST_INFLIGHT_VERSION);
    iq->counter = 1;
    return 0;
}

struct taken {
    uint64_t counter;
    uint16_t head;
};

static int by_counter(const void *a, const void *b)
{
    const struct taken *x = a, *y = b;

    return x->counter < y->counter ? -1 : x->counter > y->counter;
}

unsigned gw_vhost_inflight_recover(struct gw_vhost_inflight_q *iq, uint16_t used_idx,
                                   uint16_t *heads)
{
    uint16_t recorded = get16(iq->region + OFF_USED_IDX);
    uint16_t batch = (uint16_t)(used_idx - recorded), i = get16(iq->region + OFF_LAST_BATCH);
    struct taken *t;
    unsigned n = 0;

    /* The last batch reached the used ring but its entries were not
     * cleared: they are done. The list is ours from before the crash, but
     * the memory is the front-end's: bound the walk and every index. */
    for (uint16_t k = 0; k < batch && k < iq->num && i < iq->num; k++) {
        desc(iq, i)[D_INFLIGHT] = 0;
        i = get16(desc(iq, i) + D_NEXT);
    }
    put16(iq->region + OFF_USED_IDX, used_idx);
    if (!(t = malloc(iq->num * sizeof(*t))))
        return 0;
    for (uint16_t d = 0; d < iq->num; d++)
        if (desc(iq, d)[D_INFLIGHT] == 1)
            t[n++] = (struct taken){get64(desc(iq, d) + D_COUNTER), d};
    qsort(t, n, sizeof(*t), by_counter);
    for (unsigned k = 0; k < n; k++)
        heads[k] = t[k].head;
    free(t);
    return n;
}

void gw_vhost_inflight_take(struct gw_vhost_inflight_q *iq, uint16_t head)
{
    if (!iq->region || head >= iq->num)
        return;
    put64(desc(iq, head) + D_COUNTER, iq->counter++);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    desc(iq, head)[D_INFLIGHT] = 1;
}

void gw_vhost_inflight_push(struct gw_vhost_inflight_q *iq, uint16_t head)
{
    if (!iq->region || head >= iq->num)
        return;
    /* Pushed heads form the batch list, newest first. */
    put16(desc(iq, head) + D_NEXT, iq->batch ? get16(iq->region + OFF_LAST_BATCH) : head);
    put16(iq->region + OFF_LAST_BATCH, head);
    iq->batch++;
}

void gw_vhost_inflight_published(struct gw_vhost_inflight_q *iq, uint16_t used_idx)
{
    uint16_t i;

    if (!iq->region || iq->batch == 0)
        return;
    /* used->idx is out: the batch is done. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    i = get16(iq->region + OFF_LAST_BATCH);
    for (uint16_t k = 0; k < iq->batch && i < iq->num; k++) {
        desc(iq, i)[D_INFLIGHT] = 0;
        i = get16(desc(iq, i) + D_NEXT);
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    put16(iq->region + OFF_USED_IDX, used_idx);
    iq->batch = 0;
}

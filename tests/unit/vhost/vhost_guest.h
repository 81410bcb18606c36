/* A fake guest for the vhost unit tests: two RAM regions that are adjacent
 * in guest-physical space but not in the front-end's user space (plain
 * static buffers, no fds), a split virtqueue laid out in the first one, and
 * the driver's side of it: writing descriptors, indirect tables, offering
 * heads and reading the used ring, as a virtio driver would. */
#ifndef CAIRN_TESTS_UNIT_VHOST_GUEST_H
#define CAIRN_TESTS_UNIT_VHOST_GUEST_H

#include <stdint.h>
#include <string.h>

#include "common/assert.h"
#include "common/bytes.h"
#include "gateway/vhost/vring.h"

#define RAM0_GPA 0x100000ull
#define RAM0_SIZE 0x10000ull
#define RAM0_UADDR 0x7f0000000000ull
#define RAM1_GPA (RAM0_GPA + RAM0_SIZE) /* adjacent in gpa */
#define RAM1_SIZE 0x10000ull
#define RAM1_UADDR 0x7e0000000000ull    /* not adjacent in uaddr */
#define RAM_END (RAM1_GPA + RAM1_SIZE)

/* Ring layout in RAM0 (num <= 256) and a data area after it. */
#define DESC_GPA (RAM0_GPA + 0x0000)
#define AVAIL_GPA (RAM0_GPA + 0x1000)
#define USED_GPA (RAM0_GPA + 0x2000)
#define DATA_GPA (RAM0_GPA + 0x4000)

static uint8_t ram0[RAM0_SIZE] __attribute__((aligned(4096)));
static uint8_t ram1[RAM1_SIZE] __attribute__((aligned(4096)));

struct guest {
    struct gw_vhost_mem m;
    struct gw_vhost_vring vr;
    struct gw_vhost_chain c;
    uint32_t num;
    uint16_t avail_idx; /* the driver's copy of avail->idx */
};

static inline uint8_t *host(uint64_t gpa)
{
    if (gpa >= RAM0_GPA && gpa < RAM0_GPA + RAM0_SIZE)
        return ram0 + (gpa - RAM0_GPA);
    if (gpa >= RAM1_GPA && gpa < RAM1_GPA + RAM1_SIZE)
        return ram1 + (gpa - RAM1_GPA);
    return NULL;
}

static inline uint64_t uaddr_of(uint64_t gpa)
{
    return gpa < RAM1_GPA ? RAM0_UADDR + (gpa - RAM0_GPA) : RAM1_UADDR + (gpa - RAM1_GPA);
}

static inline void put(uint64_t gpa, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        *host(gpa + i) = (uint8_t)(v >> (8 * i));
}

static inline uint64_t get(uint64_t gpa, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)*host(gpa + i) << (8 * i);
    return v;
}

/* Memory only: both regions, no ring. Returns 0 or the first error. */
static inline int guest_mem(struct guest *g)
{
    memset(ram0, 0, sizeof(ram0));
    memset(ram1, 0, sizeof(ram1));
    memset(g, 0, sizeof(*g));
    int r = gw_vhost_mem_add_host(&g->m, RAM0_GPA, RAM0_SIZE, RAM0_UADDR, ram0);
    return r ? r : gw_vhost_mem_add_host(&g->m, RAM1_GPA, RAM1_SIZE, RAM1_UADDR, ram1);
}

/* Memory and a queue of @num entries at the standard layout. */
static inline int guest_init(struct guest *g, uint32_t num, bool event_idx)
{
    int r = guest_mem(g);
    if (r)
        return r;
    g->num = num;
    gw_vhost_vring_init(&g->vr);
    return gw_vhost_vring_setup(&g->vr, &g->m, num, uaddr_of(DESC_GPA), uaddr_of(AVAIL_GPA),
                                uaddr_of(USED_GPA), event_idx);
}

/* Descriptor @i of the table at @table (the queue's or an indirect one). */
static inline void desc_at(uint64_t table, unsigned i, uint64_t addr, uint32_t len,
                           uint16_t flags, uint16_t next)
{
    uint64_t p = table + 16ull * i;
    put(p, addr, 8);
    put(p + 8, len, 4);
    put(p + 12, flags, 2);
    put(p + 14, next, 2);
}

static inline void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    desc_at(DESC_GPA, i, addr, len, flags, next);
}

/* Makes @head available and publishes avail->idx. */
static inline void offer(struct guest *g, uint16_t head)
{
    put(AVAIL_GPA + 4 + 2ull * (g->avail_idx % g->num), head, 2);
    g->avail_idx++;
    put(AVAIL_GPA + 2, g->avail_idx, 2);
}

static inline void set_avail_idx(struct guest *g, uint16_t idx)
{
    g->avail_idx = idx;
    put(AVAIL_GPA + 2, idx, 2);
}

static inline uint16_t used_idx(void)
{
    return (uint16_t)get(USED_GPA + 2, 2);
}

static inline uint32_t used_id(uint16_t slot, uint32_t num)
{
    return (uint32_t)get(USED_GPA + 4 + 8ull * (slot % num), 4);
}

static inline uint32_t used_len(uint16_t slot, uint32_t num)
{
    return (uint32_t)get(USED_GPA + 4 + 8ull * (slot % num) + 4, 4);
}

#define NEXT GW_VHOST_VRING_DESC_F_NEXT
#define WRITE GW_VHOST_VRING_DESC_F_WRITE
#define INDIRECT GW_VHOST_VRING_DESC_F_INDIRECT

#endif

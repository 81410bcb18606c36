/* A split virtqueue seen from the device side (virtio 1.x §2.7 "Split
 * Virtqueues"): taking descriptor chains the driver made available,
 * returning them through the used ring, and the notification suppression
 * of VIRTIO_RING_F_EVENT_IDX (§2.7.7, §2.7.10). Pure: no sockets, no eventfds
 * (the caller writes the call eventfd when gw_vhost_vring_publish() says
 * so), no logging. One vring is used by one thread at a time.
 *
 * The rings live in guest memory and the guest is hostile: every index,
 * address and length read from them is checked before use, each descriptor
 * is copied once and only the copy is used, and no loop runs longer than
 * the queue size (or an indirect table's entry count) allows.
 *
 * Life of a queue (vhost-user order: SET_VRING_NUM, SET_VRING_BASE,
 * SET_VRING_ADDR, SET_VRING_KICK):
 *
 *     gw_vhost_vring_init ─> [set_base] ─> setup ─> pop/push/publish ... ─> init
 *                                                   └ enable_notify when idle
 *
 * Invariants (checked by gw_vhost_vring_check() in debug builds):
 *  1. num is a power of two in 1..GW_VHOST_VRING_NUM_MAX, and desc, avail and
 *     used point into guest memory with their full sizes (event fields too).
 *  2. inflight counts chains popped and not yet pushed; every push matches
 *     a pop. pop refuses (-EPROTO) a chain when inflight >= num, so the
 *     caller's per-queue pool of num request contexts never runs dry. It
 *     survives setup (a front-end may re-send SET_VRING_ADDR mid-flight);
 *     only gw_vhost_vring_init() zeroes it: call that with nothing in flight.
 *  3. used_idx - published_idx is the number of pushes since the last
 *     publish; the driver sees none of them before gw_vhost_vring_publish(). */
#ifndef CAIRN_GATEWAY_VHOST_VRING_H
#define CAIRN_GATEWAY_VHOST_VRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "gateway/vhost/mem.h"

/* ---- the spec's layout (little endian, §2.7.5, §2.7.6, §2.7.8) ---- */
#define GW_VHOST_VRING_NUM_MAX 32768u
#define GW_VHOST_VRING_DESC_F_NEXT 1u
#define GW_VHOST_VRING_DESC_F_WRITE 2u
#define GW_VHOST_VRING_DESC_F_INDIRECT 4u
#define GW_VHOST_VRING_USED_F_NO_NOTIFY 1u
#define GW_VHOST_VRING_AVAIL_F_NO_INTERRUPT 1u
#define GW_VHOST_VRING_DESC_ALIGN 16u
#define GW_VHOST_VRING_AVAIL_ALIGN 2u
#define GW_VHOST_VRING_USED_ALIGN 4u

struct gw_vhost_vring_desc {
    uint64_t addr;  /* guest-physical */
    uint32_t len;   /* bytes */
    uint16_t flags; /* GW_VHOST_VRING_DESC_F_* */
    uint16_t next;  /* index of the next descriptor when F_NEXT */
};

struct gw_vhost_vring_avail {
    uint16_t flags;  /* GW_VHOST_VRING_AVAIL_F_NO_INTERRUPT */
    uint16_t idx;    /* free-running: where the driver puts the next head */
    uint16_t ring[]; /* [num] heads, then used_event (EVENT_IDX) */
};

struct gw_vhost_vring_used_elem {
    uint32_t id;  /* head of the returned chain */
    uint32_t len; /* bytes the device wrote into the chain */
};

struct gw_vhost_vring_used {
    uint16_t flags; /* GW_VHOST_VRING_USED_F_NO_NOTIFY */
    uint16_t idx;   /* free-running: where the device puts the next element */
    struct gw_vhost_vring_used_elem ring[]; /* [num], then avail_event (EVENT_IDX) */
};

/* Bytes of each ring for a queue of @num entries, event field included. */
#define GW_VHOST_VRING_DESC_BYTES(num) (16u * (uint64_t)(num))
#define GW_VHOST_VRING_AVAIL_BYTES(num) (6u + 2u * (uint64_t)(num))
#define GW_VHOST_VRING_USED_BYTES(num) (6u + 8u * (uint64_t)(num))

/* ---- limits of a chain ---- */

/* seg_max the device advertises (virtio_blk_config): data descriptors per
 * request. A request also has a header and a status descriptor, so a legal
 * request has at most GW_VHOST_SEG_MAX + 2 descriptors (a queue of 128). */
#define GW_VHOST_SEG_MAX 126u

/* Host pieces a chain may have: every descriptor of a legal request, plus
 * one piece for each time a buffer runs from one memory region into the
 * next (at most GW_VHOST_REGIONS_MAX such splits in one request). A chain
 * needing more is taken with error -E2BIG. */
#define GW_VHOST_CHAIN_IOV_MAX (GW_VHOST_SEG_MAX + 2u + GW_VHOST_REGIONS_MAX)

/* Entries an indirect table may have. Drivers size a table by the request
 * (Linux: at most seg_max + 2), not the queue; this only bounds the walk of
 * a hostile table. A larger table is -EINVAL. */
#define GW_VHOST_INDIRECT_MAX GW_VHOST_VRING_NUM_MAX

/* One descriptor chain taken from the avail ring: readable ("out",
 * driver-to-device) pieces first, iov[0..n_out), then writable ("in")
 * pieces, iov[n_out..n_out + n_in). Pointers are into guest memory, valid
 * until the memory table changes; the guest may change the bytes at any
 * time, so the device copies what it must check. */
struct gw_vhost_chain {
    uint16_t head;   /* what gw_vhost_vring_push() returns to the driver */
    unsigned n_out;  /* readable pieces */
    unsigned n_in;   /* writable pieces */
    size_t out_bytes; /* bytes of the readable pieces */
    size_t in_bytes;  /* bytes of the writable pieces */
    /* 0, or why the chain is unusable (the pieces are then meaningless):
     * -EFAULT a buffer outside guest memory; -ELOOP more descriptors than
     * the queue (or indirect table) holds, i.e. a cycle; -E2BIG more than
     * GW_VHOST_SEG_MAX + 2 descriptors (seg_max data segments, header and
     * status) or GW_VHOST_CHAIN_IOV_MAX pieces; -EINVAL a zero-length buffer (rejected
     * as QEMU does), a readable buffer after a writable one, a next index
     * beyond the table, an indirect table that is empty, not a multiple of
     * 16 bytes, larger than GW_VHOST_INDIRECT_MAX entries, or an indirect
     * descriptor anywhere but alone at the head (nested, chained, or with
     * F_NEXT). -EFAULT also for an indirect table outside memory. */
    int error;
    /* The last byte of the chain's last writable buffer, where virtio-blk
     * wants its status; NULL when there is no writable buffer, when it is
     * outside memory, or when the chain is broken before its end (-ELOOP,
     * bad next, bad indirect table): then nothing may be written. */
    uint8_t *status;
    struct iovec iov[GW_VHOST_CHAIN_IOV_MAX];
};

/* A split virtqueue as the device keeps it. Owned by the thread serving it. */
struct gw_vhost_vring {
    uint32_t num;                      /* queue size; 0 until setup */
    struct gw_vhost_vring_desc *desc;  /* descriptor table, in guest memory */
    struct gw_vhost_vring_avail *avail; /* driver ring, in guest memory */
    struct gw_vhost_vring_used *used;  /* device ring, in guest memory */
    bool event_idx;                    /* VIRTIO_RING_F_EVENT_IDX negotiated */
    uint16_t last_avail_idx;           /* next avail entry to take */
    uint16_t used_idx;                 /* our used->idx, ahead of the ring until publish */
    uint16_t published_idx;            /* used->idx last stored */
    uint16_t signalled_used;           /* used_idx at the last notify decision */
    bool signalled_used_valid;         /* signalled_used means something */
    uint32_t inflight;                 /* chains popped and not yet pushed */
};

/* Empties @vr (not set up, base 0, nothing in flight). */
void gw_vhost_vring_init(struct gw_vhost_vring *vr);

/* Sets the queue up from SET_VRING_NUM and SET_VRING_ADDR: @num entries,
 * rings at front-end user addresses (translated through @m, as vhost-user
 * says; descriptor buffers are guest-physical). Checks @num (power of two,
 * 1..GW_VHOST_VRING_NUM_MAX), that each ring with its event field lies in
 * one region, and alignments (desc 16, avail 2, used 4, in user and host
 * address). Keeps last_avail_idx (SET_VRING_BASE comes first) and reads
 * used_idx from used->idx, as libvhost-user does; keeps inflight (inv. 2).
 * Returns 0; -EINVAL (num, alignment); -EFAULT (a ring outside memory).
 * @vr is untouched on failure.
 * Ring pointers borrow @m's mappings: set up again after the table changes. */
int gw_vhost_vring_setup(struct gw_vhost_vring *vr, const struct gw_vhost_mem *m, uint32_t num,
                         uint64_t desc_uaddr, uint64_t avail_uaddr, uint64_t used_uaddr,
                         bool event_idx);

/* SET_VRING_BASE: the next avail entry to take. When the rings are set up,
 * used_idx is re-read from used->idx. Forgets the last notify decision. */
void gw_vhost_vring_set_base(struct gw_vhost_vring *vr, uint16_t last_avail_idx);

/* GET_VRING_BASE: the next avail entry we would take. */
uint16_t gw_vhost_vring_get_base(const struct gw_vhost_vring *vr);

bool gw_vhost_vring_is_ready(const struct gw_vhost_vring *vr);

/* Takes the next available chain into @c. Returns 0 when the driver has
 * made nothing new available; 1 when a chain was taken (last_avail_idx
 * advanced, inflight + 1): even a malformed chain, with c->error set and
 * c->status located when safe, and the caller must still push it; -EPROTO
 * when the ring itself is broken (avail->idx more than num ahead, a head
 * >= num, or more than num chains in flight): the caller stops the queue
 * and @c is untouched. With EVENT_IDX, avail_event is set to the new
 * last_avail_idx. Reads avail->idx with acquire ordering before any entry. */
int gw_vhost_vring_pop(struct gw_vhost_vring *vr, const struct gw_vhost_mem *m,
                       struct gw_vhost_chain *c);

/* Takes chain @head again without reading the avail ring: a request a
 * previous back-end took and never returned (inflight tracking). Same
 * results as gw_vhost_vring_pop(), without the 0; last_avail_idx is the
 * caller's (set_base). */
int gw_vhost_vring_take(struct gw_vhost_vring *vr, const struct gw_vhost_mem *m, uint16_t head,
                        struct gw_vhost_chain *c);

/* Returns the chain @head (from gw_vhost_vring_pop, not yet pushed) with
 * @len bytes written into it: writes the used element, invisible to the
 * driver until gw_vhost_vring_publish(). */
void gw_vhost_vring_push(struct gw_vhost_vring *vr, uint16_t head, uint32_t len);

/* Makes every push since the last publish visible (release store of
 * used->idx) and tells whether the driver wants an interrupt now: with
 * EVENT_IDX when used_event lies among the entries published since the last
 * decision (vring_need_event); without, unless VRING_AVAIL_F_NO_INTERRUPT.
 * false when nothing was pushed. Push several, publish once, then write the
 * call eventfd once when this returns true. */
bool gw_vhost_vring_publish(struct gw_vhost_vring *vr);

/* Stops kicks while the device is busy (no-op with EVENT_IDX: avail_event
 * already trails last_avail_idx). */
void gw_vhost_vring_disable_notify(struct gw_vhost_vring *vr);

/* Asks for kicks again (used->flags, or avail_event = last_avail_idx with
 * EVENT_IDX), then with a full barrier re-checks the avail ring: true when
 * chains arrived meanwhile, and the caller must pop again rather than wait
 * for a kick that the driver may have skipped. */
bool gw_vhost_vring_enable_notify(struct gw_vhost_vring *vr);

/* vring_need_event() of the spec (§2.7.10): whether moving used->idx from
 * @old to @new_idx crossed @event (with 16-bit wrap-around). */
static inline bool gw_vhost_vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* Debug-build check of the invariants above; no-op in release builds. */
void gw_vhost_vring_check(const struct gw_vhost_vring *vr);

/* ---- byte streams of a chain ---- */

/* Copies up to @len bytes of the readable stream, from byte @off, to @dst.
 * Returns the bytes copied (0 when @off is at or past its end). */
size_t gw_vhost_chain_copy_out(const struct gw_vhost_chain *c, size_t off, void *dst, size_t len);

/* Copies up to @len bytes from @src into the writable stream at byte @off.
 * Returns the bytes copied. */
size_t gw_vhost_chain_copy_in(struct gw_vhost_chain *c, size_t off, const void *src, size_t len);

/* The pieces of bytes [off, off + len) of the readable (@writable false) or
 * writable stream, as out[0..*n) (for readv/writev-style I/O without a
 * bounce buffer). Returns 0; -EINVAL when the range is not inside the
 * stream; -E2BIG when more than @max pieces. */
int gw_vhost_chain_slice(const struct gw_vhost_chain *c, bool writable, size_t off, size_t len,
                         struct iovec *out, unsigned max, unsigned *n);

#endif

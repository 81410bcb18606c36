/* Inflight I/O tracking for split virtqueues (QEMU docs/interop/
 * vhost-user.rst, "Inflight I/O tracking"): a memory area the back-end
 * creates (GET_INFLIGHT_FD), the front-end keeps, and hands back to a
 * restarted back-end (SET_INFLIGHT_FD). It records which chains were taken
 * from the avail ring and not yet returned, so that a back-end killed with
 * requests in flight resubmits exactly those on reconnect: none lost, none
 * run twice after the guest got them back.
 *
 * Per queue, the spec's QueueRegionSplit: a 16-byte header (features,
 * version, desc_num, last_batch_head, used_idx) then desc_num 16-byte
 * DescStateSplit entries (inflight flag, next, counter). The area lives in
 * shared memory that outlives us, so every write is ordered: taken chains
 * are marked before they are started; a batch returned to the used ring is
 * listed before used->idx is published and cleared after.
 *
 * Pure: no fds, no logging; the caller maps the area. One queue region is
 * used by the thread serving that queue. The area comes from the
 * front-end: attach() validates it before anything trusts it. */
#ifndef CAIRN_GATEWAY_VHOST_INFLIGHT_H
#define CAIRN_GATEWAY_VHOST_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_VHOST_INFLIGHT_VERSION 1u
#define GW_VHOST_INFLIGHT_ALIGN 64u

/* One queue's view of its region. */
struct gw_vhost_inflight_q {
    uint8_t *region;      /* the queue's QueueRegionSplit; NULL: not tracked */
    uint16_t num;         /* entries (= queue size) */
    uint64_t counter;     /* next counter value for a taken chain */
    uint16_t batch;       /* entries pushed since the last publish */
};

/* Bytes of one queue's region for a queue of @num entries. */
size_t gw_vhost_inflight_region_bytes(uint16_t num);

/* Attaches @iq to @region (at least gw_vhost_inflight_region_bytes(@num)
 * bytes) for a queue of @num entries whose used ring's idx is @used_idx
 * now. A zeroed region (version 0) or one of another queue size is
 * initialised: nothing in flight, @used_idx recorded (a ring need not start
 * at 0, e.g. after a migration, and recovery compares against it). Returns
 * 0 when freshly initialised, 1 when it holds state from an earlier
 * back-end. */
int gw_vhost_inflight_attach(struct gw_vhost_inflight_q *iq, void *region, uint16_t num,
                             uint16_t used_idx);

/* After attach() returned 1, with @used_idx the used ring's idx now:
 * completes the bookkeeping of a batch that was published but not cleared,
 * then writes the heads still in flight into @heads (oldest taken first,
 * at most @num) and returns how many. The caller takes those chains again
 * and sets the ring's next avail index to @used_idx + that count. */
unsigned gw_vhost_inflight_recover(struct gw_vhost_inflight_q *iq, uint16_t used_idx,
                                   uint16_t *heads);

/* Chain @head was taken from the avail ring (before it is started). */
void gw_vhost_inflight_take(struct gw_vhost_inflight_q *iq, uint16_t head);

/* Chain @head goes into the used ring (before the publish). */
void gw_vhost_inflight_push(struct gw_vhost_inflight_q *iq, uint16_t head);

/* The pushes so far are visible: used->idx is now @used_idx. */
void gw_vhost_inflight_published(struct gw_vhost_inflight_q *iq, uint16_t used_idx);

#endif

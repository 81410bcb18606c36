/* The device side of a split virtqueue (vring.h): ring setup checks, the
 * descriptor-chain walk (direct and one level of indirect), the used ring
 * and event-index notification decisions. Modelled on libvhost-user's
 * vu_queue_pop/vu_queue_flush/vring_notify, with every guest value checked
 * and nothing asserted on it. */
#include "gateway/vhost/vring.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "common/assert.h"
#include "common/bytes.h"

CAIRN_STATIC_ASSERT(sizeof(struct gw_vhost_vring_desc) == 16, "virtq_desc is 16 bytes");
CAIRN_STATIC_ASSERT(sizeof(struct gw_vhost_vring_avail) == 4, "virtq_avail header");
CAIRN_STATIC_ASSERT(sizeof(struct gw_vhost_vring_used_elem) == 8, "virtq_used_elem is 8 bytes");
CAIRN_STATIC_ASSERT(sizeof(struct gw_vhost_vring_used) == 4, "virtq_used header");
/* A chain's byte counts add up to GW_VHOST_CHAIN_IOV_MAX descriptors of
 * UINT32_MAX bytes at most. */
CAIRN_STATIC_ASSERT(sizeof(size_t) >= 8, "64-bit hosts only");

/* ---- guest-shared fields: each read or written exactly once ---- */

static uint16_t *used_event(const struct gw_vhost_vring *vr)
{
    return &vr->avail->ring[vr->num];
}

static uint16_t *avail_event(const struct gw_vhost_vring *vr)
{
    return (uint16_t *)&vr->used->ring[vr->num];
}

static uint16_t load16(const uint16_t *p, int order)
{
    return le16toh(__atomic_load_n(p, order));
}

static void store16(uint16_t *p, uint16_t v, int order)
{
    __atomic_store_n(p, htole16(v), order);
}

/* ---- setup ---- */

void gw_vhost_vring_init(struct gw_vhost_vring *vr)
{
    memset(vr, 0, sizeof(*vr));
}

bool gw_vhost_vring_is_ready(const struct gw_vhost_vring *vr)
{
    return vr->num != 0;
}

/* The host address of ring @uaddr of @bytes, aligned to @align, or NULL
 * with *err set. */
static void *map_ring(const struct gw_vhost_mem *m, uint64_t uaddr, uint64_t bytes,
                      uint64_t align, int *err)
{
    if (uaddr % align) {
        *err = -EINVAL;
        return NULL;
    }
    void *p = gw_vhost_mem_uaddr(m, uaddr, bytes);
    if (!p)
        *err = -EFAULT;
    else if ((uintptr_t)p % align) /* we load its fields atomically */
        *err = -EINVAL;
    return *err ? NULL : p;
}

int gw_vhost_vring_setup(struct gw_vhost_vring *vr, const struct gw_vhost_mem *m, uint32_t num,
                         uint64_t desc_uaddr, uint64_t avail_uaddr, uint64_t used_uaddr,
                         bool event_idx)
{
    int err = 0;

    if (num == 0 || num > GW_VHOST_VRING_NUM_MAX || (num & (num - 1)))
        return -EINVAL;
    void *desc = map_ring(m, desc_uaddr, GW_VHOST_VRING_DESC_BYTES(num),
                          GW_VHOST_VRING_DESC_ALIGN, &err);
    void *avail = err ? NULL
                      : map_ring(m, avail_uaddr, GW_VHOST_VRING_AVAIL_BYTES(num),
                                 GW_VHOST_VRING_AVAIL_ALIGN, &err);
    void *used = err ? NULL
                     : map_ring(m, used_uaddr, GW_VHOST_VRING_USED_BYTES(num),
                                GW_VHOST_VRING_USED_ALIGN, &err);
    if (err)
        return err;
    vr->num = num;
    vr->desc = desc;
    vr->avail = avail;
    vr->used = used;
    vr->event_idx = event_idx;
    /* inflight stays: it counts the caller's requests, which a front-end
     * re-sending SET_VRING_ADDR does not complete. */
    gw_vhost_vring_set_base(vr, vr->last_avail_idx);
    gw_vhost_vring_check(vr);
    return 0;
}

void gw_vhost_vring_set_base(struct gw_vhost_vring *vr, uint16_t last_avail_idx)
{
    vr->last_avail_idx = last_avail_idx;
    vr->signalled_used_valid = false;
    if (gw_vhost_vring_is_ready(vr)) {
        vr->used_idx = load16(&vr->used->idx, __ATOMIC_ACQUIRE);
        vr->published_idx = vr->used_idx;
    }
}

uint16_t gw_vhost_vring_get_base(const struct gw_vhost_vring *vr)
{
    return vr->last_avail_idx;
}

void gw_vhost_vring_check(const struct gw_vhost_vring *vr)
{
#ifdef CAIRN_DEBUG
    if (!gw_vhost_vring_is_ready(vr)) {
        CAIRN_ASSERT(vr->inflight == 0);
        return;
    }
    CAIRN_ASSERT(vr->num <= GW_VHOST_VRING_NUM_MAX);
    CAIRN_ASSERT((vr->num & (vr->num - 1)) == 0);
    CAIRN_ASSERT(vr->desc && vr->avail && vr->used);
    CAIRN_ASSERT(vr->inflight <= GW_VHOST_VRING_NUM_MAX);
#else
    (void)vr;
#endif
}

/* ---- the chain walk ---- */

/* Where the walk reads descriptors: the queue's table, or one indirect
 * table in guest-physical memory. */
struct walk {
    const struct gw_vhost_vring *vr;
    const struct gw_vhost_mem *m;
    bool indirect;         /* reading the indirect table at @table */
    uint64_t table;        /* guest-physical address of the indirect table */
    uint32_t size;         /* entries of the table being read */
    bool seen_writable;    /* a writable buffer came already */
    bool status_ok;        /* the last writable buffer has a last byte */
    uint64_t status_gpa;   /* ... at this guest-physical address */
};

static void fail(struct gw_vhost_chain *c, int err)
{
    if (c->error == 0)
        c->error = err;
}

/* Copies descriptor @i (< w->size) to @d, each field read once: the guest
 * may rewrite the table while we look, and only the copy is checked/used. */
static int read_desc(const struct walk *w, uint32_t i, struct gw_vhost_vring_desc *d)
{
    if (!w->indirect) {
        const struct gw_vhost_vring_desc *p = &w->vr->desc[i];
        d->addr = le64toh(__atomic_load_n(&p->addr, __ATOMIC_RELAXED));
        d->len = le32toh(__atomic_load_n(&p->len, __ATOMIC_RELAXED));
        d->flags = le16toh(__atomic_load_n(&p->flags, __ATOMIC_RELAXED));
        d->next = le16toh(__atomic_load_n(&p->next, __ATOMIC_RELAXED));
        return 0;
    }
    /* An indirect table need not be aligned and may span regions. */
    uint8_t raw[16];
    if (gw_vhost_mem_read(w->m, w->table + 16u * (uint64_t)i, raw, sizeof(raw)) < 0)
        return -EFAULT;
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* use raw[], never re-read guest memory */
    d->addr = cairn_get_le64(raw);
    d->len = (uint32_t)cairn_get_le(raw + 8, 4);
    d->flags = (uint16_t)cairn_get_le(raw + 12, 2);
    d->next = (uint16_t)cairn_get_le(raw + 14, 2);
    return 0;
}

/* Switches the walk to the indirect table @d describes (virtio §2.7.5.3).
 * Returns false, with c->error set, when the table is unusable. */
static bool enter_indirect(struct walk *w, struct gw_vhost_chain *c,
                           const struct gw_vhost_vring_desc *d)
{
    struct iovec pieces[GW_VHOST_REGIONS_MAX];
    unsigned n;

    if (d->len == 0 || d->len % 16 || d->len / 16 > GW_VHOST_INDIRECT_MAX) {
        fail(c, -EINVAL);
        return false;
    }
    /* A range in gpa meets each region once, so E2BIG cannot happen here. */
    if (gw_vhost_mem_gpa_iov(w->m, d->addr, d->len, pieces, GW_VHOST_REGIONS_MAX, &n) < 0) {
        fail(c, -EFAULT);
        return false;
    }
    w->indirect = true;
    w->table = d->addr;
    w->size = d->len / 16;
    /* "The driver MUST NOT set both VIRTQ_DESC_F_INDIRECT and
     * VIRTQ_DESC_F_NEXT": refuse the chain, but the table is sound, so
     * its status byte can still be found. */
    if (d->flags & GW_VHOST_VRING_DESC_F_NEXT)
        fail(c, -EINVAL);
    return true;
}

/* Adds the buffer of @d to the chain's pieces. After the first error the
 * walk goes on only to find the status byte, adding nothing. */
static void add_buffer(struct walk *w, struct gw_vhost_chain *c,
                       const struct gw_vhost_vring_desc *d)
{
    bool writable = d->flags & GW_VHOST_VRING_DESC_F_WRITE;
    unsigned used = c->n_out + c->n_in, k;

    if (writable) {
        w->seen_writable = true;
        w->status_ok = d->len > 0 && d->len - 1 <= UINT64_MAX - d->addr;
        w->status_gpa = d->addr + d->len - 1;
    } else if (w->seen_writable) {
        fail(c, -EINVAL); /* §2.7.4.2: readable buffers come first */
        return;
    }
    if (d->len == 0) {
        fail(c, -EINVAL);
        return;
    }
    if (c->error)
        return;
    int r = gw_vhost_mem_gpa_iov(w->m, d->addr, d->len, c->iov + used,
                                 GW_VHOST_CHAIN_IOV_MAX - used, &k);
    if (r < 0) {
        fail(c, r);
        return;
    }
    if (writable) {
        c->n_in += k;
        c->in_bytes += d->len;
    } else {
        c->n_out += k;
        c->out_bytes += d->len;
    }
}

/* Walks the chain at c->head. A chain of more descriptors than its table
 * holds repeats one: -ELOOP. So the loop runs at most w.size times. */
static void walk_chain(const struct gw_vhost_vring *vr, const struct gw_vhost_mem *m,
                       struct gw_vhost_chain *c)
{
    struct walk w = {.vr = vr, .m = m, .size = vr->num};
    struct gw_vhost_vring_desc d;

    read_desc(&w, c->head, &d);
    if (d.flags & GW_VHOST_VRING_DESC_F_INDIRECT) {
        if (!enter_indirect(&w, c, &d))
            return;
        if (read_desc(&w, 0, &d) < 0) {
            fail(c, -EFAULT);
            return;
        }
    }
    for (uint32_t count = 1;; count++) {
        if (count > w.size) {
            fail(c, -ELOOP);
            return;
        }
        /* Indirect only alone at the head: never nested (§2.7.5.3.1), never
         * further down a direct chain (QEMU and libvhost-user agree). Such a
         * descriptor is not followed, but the walk goes on to the status. */
        if (d.flags & GW_VHOST_VRING_DESC_F_INDIRECT) {
            fail(c, -EINVAL);
        } else {
            if (count > GW_VHOST_SEG_MAX + 2)
                fail(c, -E2BIG); /* more segments than seg_max allows */
            add_buffer(&w, c, &d);
        }
        if (!(d.flags & GW_VHOST_VRING_DESC_F_NEXT))
            break;
        if (d.next >= w.size) {
            fail(c, -EINVAL);
            return;
        }
        if (read_desc(&w, d.next, &d) < 0) {
            fail(c, -EFAULT);
            return;
        }
    }
    if (w.status_ok)
        c->status = gw_vhost_mem_gpa(m, w.status_gpa, 1);
}

int gw_vhost_vring_pop(struct gw_vhost_vring *vr, const struct gw_vhost_mem *m,
                       struct gw_vhost_chain *c)
{
    CAIRN_ASSERT(gw_vhost_vring_is_ready(vr));
    /* Acquire: the entries and descriptors the driver wrote before it
     * published avail->idx are visible once we see the new idx (§2.7.13). */
    uint16_t avail_idx = load16(&vr->avail->idx, __ATOMIC_ACQUIRE);
    uint16_t pending = (uint16_t)(avail_idx - vr->last_avail_idx);

    if (pending == 0)
        return 0;
    if (pending > vr->num || vr->inflight >= vr->num)
        return -EPROTO;
    uint16_t head = load16(&vr->avail->ring[vr->last_avail_idx & (vr->num - 1)],
                           __ATOMIC_RELAXED);
    if (head >= vr->num)
        return -EPROTO;
    vr->last_avail_idx++;
    if (vr->event_idx)
        store16(avail_event(vr), vr->last_avail_idx, __ATOMIC_RELAXED);
    return gw_vhost_vring_take(vr, m, head, c);
}

int gw_vhost_vring_take(struct gw_vhost_vring *vr, const struct gw_vhost_mem *m, uint16_t head,
                        struct gw_vhost_chain *c)
{
    CAIRN_ASSERT(gw_vhost_vring_is_ready(vr));
    if (head >= vr->num || vr->inflight >= vr->num)
        return -EPROTO;
    vr->inflight++;
    c->head = head;
    c->n_out = c->n_in = 0;
    c->out_bytes = c->in_bytes = 0;
    c->error = 0;
    c->status = NULL;
    walk_chain(vr, m, c);
    gw_vhost_vring_check(vr);
    return 1;
}

/* ---- the used ring and notifications ---- */

void gw_vhost_vring_push(struct gw_vhost_vring *vr, uint16_t head, uint32_t len)
{
    CAIRN_ASSERT(gw_vhost_vring_is_ready(vr));
    CAIRN_ASSERT(vr->inflight > 0); /* inv. 2: every push matches a pop */
    /* @head is only written back: after a re-setup with a smaller num it may
     * be out of range, which is the driver's problem, not a memory one. */
    struct gw_vhost_vring_used_elem *e = &vr->used->ring[vr->used_idx & (vr->num - 1)];

    __atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
    __atomic_store_n(&e->len, htole32(len), __ATOMIC_RELAXED);
    vr->used_idx++;
    vr->inflight--;
    gw_vhost_vring_check(vr);
}

bool gw_vhost_vring_publish(struct gw_vhost_vring *vr)
{
    CAIRN_ASSERT(gw_vhost_vring_is_ready(vr));
    if (vr->used_idx == vr->published_idx)
        return false;
    /* Release: the elements are visible before the idx that covers them. */
    store16(&vr->used->idx, vr->used_idx, __ATOMIC_RELEASE);
    vr->published_idx = vr->used_idx;
    /* Full barrier: the new idx must be visible before we read the driver's
     * suppression (used_event / flags), else we can miss its update and it
     * waits forever (§2.7.10; libvhost-user vring_notify). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!vr->event_idx)
        return !(load16(&vr->avail->flags, __ATOMIC_RELAXED) &
                 GW_VHOST_VRING_AVAIL_F_NO_INTERRUPT);

    uint16_t old = vr->signalled_used;
    bool valid = vr->signalled_used_valid;
    vr->signalled_used = vr->used_idx;
    vr->signalled_used_valid = true;
    return !valid ||
           gw_vhost_vring_need_event(load16(used_event(vr), __ATOMIC_RELAXED), vr->used_idx, old);
}

void gw_vhost_vring_disable_notify(struct gw_vhost_vring *vr)
{
    CAIRN_ASSERT(gw_vhost_vring_is_ready(vr));
    if (!vr->event_idx)
        store16(&vr->used->flags, GW_VHOST_VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

bool gw_vhost_vring_enable_notify(struct gw_vhost_vring *vr)
{
    CAIRN_ASSERT(gw_vhost_vring_is_ready(vr));
    if (vr->event_idx)
        store16(avail_event(vr), vr->last_avail_idx, __ATOMIC_RELAXED);
    else
        store16(&vr->used->flags, 0, __ATOMIC_RELAXED);
    /* Our store must be visible before we look at avail->idx again: a
     * driver that added work just before seeing it skipped the kick. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return load16(&vr->avail->idx, __ATOMIC_ACQUIRE) != vr->last_avail_idx;
}

/* ---- byte streams ---- */

/* Copies between @buf and bytes [off, off + len) of pieces iov[0..n);
 * returns the bytes copied. */
static size_t copy_stream(const struct iovec *iov, unsigned n, size_t off, uint8_t *buf,
                          size_t len, bool into_iov)
{
    size_t done = 0;

    for (unsigned i = 0; i < n && done < len; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        uint8_t *p = (uint8_t *)iov[i].iov_base + off;
        size_t piece = CAIRN_MIN(iov[i].iov_len - off, len - done);
        if (into_iov)
            memcpy(p, buf + done, piece);
        else
            memcpy(buf + done, p, piece);
        done += piece;
        off = 0;
    }
    return done;
}

size_t gw_vhost_chain_copy_out(const struct gw_vhost_chain *c, size_t off, void *dst, size_t len)
{
    return copy_stream(c->iov, c->n_out, off, dst, len, false);
}

size_t gw_vhost_chain_copy_in(struct gw_vhost_chain *c, size_t off, const void *src, size_t len)
{
    return copy_stream(c->iov + c->n_out, c->n_in, off, (uint8_t *)src, len, true);
}

int gw_vhost_chain_slice(const struct gw_vhost_chain *c, bool writable, size_t off, size_t len,
                         struct iovec *out, unsigned max, unsigned *n)
{
    const struct iovec *iov = writable ? c->iov + c->n_out : c->iov;
    unsigned count = writable ? c->n_in : c->n_out, k = 0;
    size_t total = writable ? c->in_bytes : c->out_bytes;

    if (off > total || len > total - off)
        return -EINVAL;
    for (unsigned i = 0; i < count && len > 0; i++) {
        if (off >= iov[i].iov_len) {
            off -= iov[i].iov_len;
            continue;
        }
        if (k == max)
            return -E2BIG;
        size_t piece = CAIRN_MIN(iov[i].iov_len - off, len);
        out[k++] = (struct iovec){.iov_base = (uint8_t *)iov[i].iov_base + off, .iov_len = piece};
        len -= piece;
        off = 0;
    }
    *n = k;
    return 0;
}

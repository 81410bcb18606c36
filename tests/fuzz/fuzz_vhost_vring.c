/* Fuzz target for the vhost guest-facing core (gateway/vhost/mem.c,
 * vring.c, blk.c): the input is a queue choice and a guest RAM image
 * (layout in fuzz_vhost_vring.h), put in one or two heap regions of exactly
 * its size so ASan sees any access outside them. The target does what the
 * device does: set the queue up, pop chains until none is left or the ring
 * is broken (a bounded number of turns), parse each as virtio-blk, move
 * the payload in or out, write the status, push and publish. Checks: every
 * piece and the status byte lie inside guest RAM, piece counts and byte
 * totals agree, an accepted request obeys the spec's rules. Built by
 * tests/fuzz/CMakeLists.txt. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "common/bytes.h"
#include "fuzz_vhost_vring.h"
#include "gateway/vhost/blk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ram {
    uint8_t *base[2];
    size_t len[2];
};

static bool inside(const struct ram *ram, const void *p, size_t len)
{
    const uint8_t *b = p;
    for (int i = 0; i < 2; i++)
        if (ram->base[i] && b >= ram->base[i] && len <= ram->len[i] &&
            (size_t)(b - ram->base[i]) <= ram->len[i] - len)
            return true;
    return false;
}

static void check_chain(const struct ram *ram, const struct gw_vhost_chain *c, uint32_t num)
{
    size_t out = 0, in = 0;

    if (c->head >= num || c->n_out + c->n_in > GW_VHOST_CHAIN_IOV_MAX)
        abort();
    for (unsigned i = 0; i < c->n_out + c->n_in; i++) {
        if (c->iov[i].iov_len == 0 || !inside(ram, c->iov[i].iov_base, c->iov[i].iov_len))
            abort();
        if (i < c->n_out)
            out += c->iov[i].iov_len;
        else
            in += c->iov[i].iov_len;
    }
    if (c->status && !inside(ram, c->status, 1))
        abort();
    if (c->error == 0 && (out != c->out_bytes || in != c->in_bytes))
        abort();
    if (c->error == 0 && c->in_bytes > 0 && !c->status)
        abort();
}

/* Serves one parsed request as the device would, without an image;
 * returns the payload bytes written into the chain. */
static size_t serve(struct gw_vhost_chain *c, const struct gw_vhost_blk_req *r, int *err)
{
    static uint8_t scratch[64 << 10];
    struct gw_vhost_blk_seg seg;
    size_t len = CAIRN_MIN(r->data_len, sizeof(scratch));

    switch (r->type) {
    case GW_VHOST_BLK_T_IN:
        if (r->data_len % 512 || !r->data_writable || r->offset_bytes != r->sector * 512)
            abort();
        memset(scratch, 0xa5, len);
        return gw_vhost_chain_copy_in(c, r->data_off, scratch, len);
    case GW_VHOST_BLK_T_OUT:
        if (r->data_len % 512 || r->data_writable || r->data_off != GW_VHOST_BLK_HDR_BYTES)
            abort();
        if (gw_vhost_chain_copy_out(c, r->data_off, scratch, len) != len)
            abort();
        return 0;
    case GW_VHOST_BLK_T_DISCARD:
    case GW_VHOST_BLK_T_WRITE_ZEROES:
        if (r->n_segs == 0 || r->n_segs > GW_VHOST_BLK_DWZ_SEG_MAX)
            abort();
        for (unsigned i = 0; i < r->n_segs && *err == 0; i++)
            *err = gw_vhost_blk_segment(c, r, i, &seg);
        return 0;
    case GW_VHOST_BLK_T_GET_ID:
        return gw_vhost_blk_get_id(c, r, "cairn-fuzz-image-0001");
    case GW_VHOST_BLK_T_FLUSH:
        if (r->data_len != 0)
            abort();
        return 0;
    default:
        abort(); /* parse accepted an unknown type */
    }
}

static void run_queue(const struct ram *ram, const struct gw_vhost_mem *m,
                      struct gw_vhost_vring *vr)
{
    static struct gw_vhost_chain c;
    struct gw_vhost_blk_req r;

    /* Each turn takes one chain; a queue holds num, and the ring can be
     * refilled only by us pushing, so 4 * num turns see every case. */
    for (uint32_t turn = 0; turn < 4 * vr->num + 4; turn++) {
        int got = gw_vhost_vring_pop(vr, m, &c);
        if (got < 0 && got != -EPROTO)
            abort();
        if (got <= 0)
            break;
        check_chain(ram, &c, vr->num);
        int err = gw_vhost_blk_parse(&c, &r);
        if (err == 0 && !r.status)
            abort();
        if (c.error && err != c.error)
            abort();
        size_t written = err == 0 ? serve(&c, &r, &err) : 0;
        uint32_t used = gw_vhost_blk_set_status(&r, err) + (uint32_t)written;
        gw_vhost_vring_push(vr, c.head, used);
        if (turn % 3 == 0)
            gw_vhost_vring_publish(vr);
        if (turn % 5 == 0)
            gw_vhost_vring_enable_notify(vr);
    }
    gw_vhost_vring_publish(vr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_vhost_mem m = {0};
    struct gw_vhost_vring vr;
    struct ram ram = {{NULL, NULL}, {0, 0}};

    if (size <= FUZZ_VRING_HDR_BYTES)
        return 0;
    uint32_t num = 1u << (data[0] % 9);
    bool event_idx = data[1] & FUZZ_VRING_F_EVENT_IDX;
    size_t ram_len = size - FUZZ_VRING_HDR_BYTES;
    size_t split = (data[1] & FUZZ_VRING_F_TWO_REGIONS) ? cairn_get_le(data + 10, 2) : ram_len;
    if (split == 0 || split > ram_len)
        split = ram_len;
    ram.len[0] = split;
    ram.len[1] = ram_len - split;
    for (int i = 0; i < 2; i++) {
        ram.base[i] = ram.len[i] ? malloc(ram.len[i]) : NULL;
        if (ram.len[i] && !ram.base[i])
            goto out;
    }
    memcpy(ram.base[0], data + FUZZ_VRING_HDR_BYTES, ram.len[0]);
    if (ram.len[1])
        memcpy(ram.base[1], data + FUZZ_VRING_HDR_BYTES + split, ram.len[1]);
    if (gw_vhost_mem_add_host(&m, FUZZ_VRING_GPA, ram.len[0], FUZZ_VRING_UADDR0, ram.base[0]) ||
        (ram.len[1] && gw_vhost_mem_add_host(&m, FUZZ_VRING_GPA + split, ram.len[1],
                                             FUZZ_VRING_UADDR1, ram.base[1])))
        abort();

    uint64_t off[3] = {cairn_get_le(data + 4, 2) * 16, cairn_get_le(data + 6, 2) * 2,
                       cairn_get_le(data + 8, 2) * 4};
    uint64_t ua[3];
    for (int i = 0; i < 3; i++)
        ua[i] = off[i] < split ? FUZZ_VRING_UADDR0 + off[i] : FUZZ_VRING_UADDR1 + (off[i] - split);
    gw_vhost_vring_init(&vr);
    gw_vhost_vring_set_base(&vr, (uint16_t)cairn_get_le(data + 2, 2));
    if (gw_vhost_vring_setup(&vr, &m, num, ua[0], ua[1], ua[2], event_idx) == 0)
        run_queue(&ram, &m, &vr);
out:
    gw_vhost_mem_clear(&m);
    free(ram.base[0]);
    free(ram.base[1]);
    return 0;
}

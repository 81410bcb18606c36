/* virtio-blk requests on descriptor chains (blk.h): the config builder,
 * the request and segment parsers, GET_ID and the status mapping. */
#include "gateway/vhost/blk.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "common/assert.h"
#include "common/bytes.h"

/* Offsets of struct virtio_blk_config (Linux include/uapi/linux/virtio_blk.h). */
CAIRN_STATIC_ASSERT(sizeof(struct gw_vhost_blk_config) == 60, "virtio_blk_config size");
CAIRN_STATIC_ASSERT(offsetof(struct gw_vhost_blk_config, seg_max) == 12, "seg_max");
CAIRN_STATIC_ASSERT(offsetof(struct gw_vhost_blk_config, blk_size) == 20, "blk_size");
CAIRN_STATIC_ASSERT(offsetof(struct gw_vhost_blk_config, opt_io_size) == 28, "opt_io_size");
CAIRN_STATIC_ASSERT(offsetof(struct gw_vhost_blk_config, num_queues) == 34, "num_queues");
CAIRN_STATIC_ASSERT(offsetof(struct gw_vhost_blk_config, max_discard_sectors) == 36, "discard");
CAIRN_STATIC_ASSERT(offsetof(struct gw_vhost_blk_config, max_write_zeroes_sectors) == 48, "wz");
CAIRN_STATIC_ASSERT(offsetof(struct gw_vhost_blk_config, write_zeroes_may_unmap) == 56, "unmap");
CAIRN_STATIC_ASSERT(GW_VHOST_BLK_DWZ_SECTORS_MAX <= UINT32_MAX / GW_VHOST_BLK_SECTOR_BYTES,
                    "a segment's bytes fit 32 bits");

void gw_vhost_blk_config_init(struct gw_vhost_blk_config *cfg, uint64_t capacity_bytes,
                              uint32_t blk_size, uint16_t num_queues, uint32_t opt_io_bytes)
{
    CAIRN_ASSERT(blk_size >= GW_VHOST_BLK_SECTOR_BYTES && (blk_size & (blk_size - 1)) == 0);
    CAIRN_ASSERT(num_queues >= 1);
    memset(cfg, 0, sizeof(*cfg));
    cfg->capacity = htole64(capacity_bytes / GW_VHOST_BLK_SECTOR_BYTES);
    cfg->seg_max = htole32(GW_VHOST_SEG_MAX);
    cfg->blk_size = htole32(blk_size);
    cfg->min_io_size = htole16(1);
    cfg->opt_io_size = htole32(opt_io_bytes / blk_size);
    cfg->writeback = 1;
    cfg->num_queues = htole16(num_queues);
    cfg->max_discard_sectors = htole32(GW_VHOST_BLK_DWZ_SECTORS_MAX);
    cfg->max_discard_seg = htole32(GW_VHOST_BLK_DWZ_SEG_MAX);
    cfg->discard_sector_alignment = htole32(blk_size / GW_VHOST_BLK_SECTOR_BYTES);
    cfg->max_write_zeroes_sectors = htole32(GW_VHOST_BLK_DWZ_SECTORS_MAX);
    cfg->max_write_zeroes_seg = htole32(GW_VHOST_BLK_DWZ_SEG_MAX);
    cfg->write_zeroes_may_unmap = 1;
}

/* IN/OUT: the data is whole sectors and [sector * 512, + len) does not wrap;
 * the device checks it against the capacity. */
static int check_rw(struct gw_vhost_blk_req *r)
{
    if (r->data_len % GW_VHOST_BLK_SECTOR_BYTES)
        return -EINVAL;
    if (r->sector > UINT64_MAX / GW_VHOST_BLK_SECTOR_BYTES)
        return -EINVAL;
    r->offset_bytes = r->sector * GW_VHOST_BLK_SECTOR_BYTES;
    if (r->data_len > UINT64_MAX - r->offset_bytes)
        return -EINVAL;
    return 0;
}

/* Sets the payload of @r by type, given @out and @in bytes of the streams
 * (@in >= 1, the status byte included). Strict on stray bytes: Linux and
 * QEMU's drivers never send any. */
static int classify(struct gw_vhost_blk_req *r, size_t out, size_t in)
{
    switch (r->type) {
    case GW_VHOST_BLK_T_IN:
    case GW_VHOST_BLK_T_GET_ID:
        if (out != GW_VHOST_BLK_HDR_BYTES)
            return -EINVAL;
        r->data_writable = true;
        r->data_len = in - 1;
        return r->type == GW_VHOST_BLK_T_IN ? check_rw(r) : 0;
    case GW_VHOST_BLK_T_OUT:
    case GW_VHOST_BLK_T_DISCARD:
    case GW_VHOST_BLK_T_WRITE_ZEROES:
        if (in != 1)
            return -EINVAL;
        r->data_off = GW_VHOST_BLK_HDR_BYTES;
        r->data_len = out - GW_VHOST_BLK_HDR_BYTES;
        if (r->type == GW_VHOST_BLK_T_OUT)
            return check_rw(r);
        if (r->data_len == 0 || r->data_len % GW_VHOST_BLK_SEG_BYTES)
            return -EINVAL;
        r->n_segs = (unsigned)CAIRN_MIN(r->data_len / GW_VHOST_BLK_SEG_BYTES, (size_t)UINT32_MAX);
        /* QEMU answers UNSUPP to more ranges than it takes, too. */
        return r->n_segs > GW_VHOST_BLK_DWZ_SEG_MAX ? -EOPNOTSUPP : 0;
    case GW_VHOST_BLK_T_FLUSH:
        return out == GW_VHOST_BLK_HDR_BYTES && in == 1 ? 0 : -EINVAL;
    default:
        return -EOPNOTSUPP;
    }
}

int gw_vhost_blk_parse(const struct gw_vhost_chain *c, struct gw_vhost_blk_req *r)
{
    uint8_t hdr[GW_VHOST_BLK_HDR_BYTES];

    memset(r, 0, sizeof(*r));
    r->status = c->status;
    if (c->error)
        return c->error;
    if (c->in_bytes == 0) {
        r->status = NULL; /* the last byte is readable: not ours to write */
        return -EINVAL;
    }
    if (gw_vhost_chain_copy_out(c, 0, hdr, sizeof(hdr)) != sizeof(hdr))
        return -EINVAL;
    r->type = (uint32_t)cairn_get_le(hdr, 4);
    r->sector = cairn_get_le64(hdr + 8);
    return classify(r, c->out_bytes, c->in_bytes);
}

int gw_vhost_blk_segment(const struct gw_vhost_chain *c, const struct gw_vhost_blk_req *r,
                         unsigned i, struct gw_vhost_blk_seg *seg)
{
    uint8_t raw[GW_VHOST_BLK_SEG_BYTES];

    if (i >= r->n_segs || r->data_writable)
        return -EINVAL;
    size_t off = r->data_off + (size_t)i * GW_VHOST_BLK_SEG_BYTES;
    if (gw_vhost_chain_copy_out(c, off, raw, sizeof(raw)) != sizeof(raw))
        return -EINVAL;
    uint64_t sector = cairn_get_le64(raw);
    uint32_t num = (uint32_t)cairn_get_le(raw + 8, 4);
    uint32_t flags = (uint32_t)cairn_get_le(raw + 12, 4);

    /* §5.2.6.2: unknown flags, or unmap on a discard, are UNSUPP. */
    if (flags & ~GW_VHOST_BLK_SEG_F_UNMAP)
        return -EOPNOTSUPP;
    if (r->type == GW_VHOST_BLK_T_DISCARD && (flags & GW_VHOST_BLK_SEG_F_UNMAP))
        return -EOPNOTSUPP;
    if (num > GW_VHOST_BLK_DWZ_SECTORS_MAX || sector > UINT64_MAX / GW_VHOST_BLK_SECTOR_BYTES)
        return -EINVAL;
    uint64_t offset = sector * GW_VHOST_BLK_SECTOR_BYTES;
    uint64_t len = (uint64_t)num * GW_VHOST_BLK_SECTOR_BYTES;
    if (len > UINT64_MAX - offset)
        return -EINVAL;
    *seg = (struct gw_vhost_blk_seg){
        .sector = sector,
        .num_sectors = num,
        .unmap = flags & GW_VHOST_BLK_SEG_F_UNMAP,
        .offset_bytes = offset,
        .len_bytes = len,
    };
    return 0;
}

size_t gw_vhost_blk_get_id(struct gw_vhost_chain *c, const struct gw_vhost_blk_req *r,
                           const char *id)
{
    size_t len = strnlen(id, GW_VHOST_BLK_ID_BYTES);

    if (len < GW_VHOST_BLK_ID_BYTES)
        len++; /* the NUL */
    len = CAIRN_MIN(len, r->data_len);
    return gw_vhost_chain_copy_in(c, r->data_off, id, len);
}

uint8_t gw_vhost_blk_status(int err)
{
    if (err == 0)
        return GW_VHOST_BLK_S_OK;
    if (err == -EOPNOTSUPP || err == -ENOTSUP)
        return GW_VHOST_BLK_S_UNSUPP;
    return GW_VHOST_BLK_S_IOERR;
}

uint32_t gw_vhost_blk_set_status(const struct gw_vhost_blk_req *r, int err)
{
    if (!r->status)
        return 0;
    __atomic_store_n(r->status, gw_vhost_blk_status(err), __ATOMIC_RELAXED);
    return 1;
}

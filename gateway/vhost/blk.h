/* virtio-blk on a descriptor chain (virtio 1.x §5.2 "Block Device"): the
 * config space the device offers, the parser of a request (header, payload
 * range, status byte), discard/write-zeroes segments, GET_ID, and the one
 * errno -> virtio-blk status mapping. Pure: no I/O, no libcairn, no logging;
 * any thread. The device (dev.c) checks sector ranges against the image
 * size and runs the I/O; everything here is about the guest's bytes.
 *
 * A request chain: a 16-byte header at the start of the readable stream,
 * then the readable payload (OUT: data; DISCARD, WRITE_ZEROES: segments), or
 * the writable payload (IN: data; GET_ID: the id), then one status byte, the
 * last byte of the writable stream. Any split into descriptors is accepted
 * (VIRTIO_F_ANY_LAYOUT is implied by VERSION_1). The used length to push is
 * the bytes written into the writable stream: payload written + 1. */
#ifndef CAIRN_GATEWAY_VHOST_BLK_H
#define CAIRN_GATEWAY_VHOST_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/vhost/vring.h"

/* ---- feature bits (virtio §5.2.3, §6) ---- */
#define GW_VHOST_BLK_F_SIZE_MAX 1
#define GW_VHOST_BLK_F_SEG_MAX 2
#define GW_VHOST_BLK_F_GEOMETRY 4
#define GW_VHOST_BLK_F_RO 5
#define GW_VHOST_BLK_F_BLK_SIZE 6
#define GW_VHOST_BLK_F_FLUSH 9
#define GW_VHOST_BLK_F_TOPOLOGY 10
#define GW_VHOST_BLK_F_CONFIG_WCE 11
#define GW_VHOST_BLK_F_MQ 12
#define GW_VHOST_BLK_F_DISCARD 13
#define GW_VHOST_BLK_F_WRITE_ZEROES 14
#define GW_VHOST_F_RING_INDIRECT_DESC 28
#define GW_VHOST_F_RING_EVENT_IDX 29
#define GW_VHOST_F_VERSION_1 32

/* What this parser handles and the config below describes (add RO for a
 * read-only image). Left out: SIZE_MAX, GEOMETRY, CONFIG_WCE (no
 * SET_CONFIG handling), SECURE_ERASE and zoned. */
#define GW_VHOST_BLK_FEATURES                                                                  \
    ((1ull << GW_VHOST_BLK_F_SEG_MAX) | (1ull << GW_VHOST_BLK_F_BLK_SIZE) |                   \
     (1ull << GW_VHOST_BLK_F_FLUSH) | (1ull << GW_VHOST_BLK_F_TOPOLOGY) |                     \
     (1ull << GW_VHOST_BLK_F_MQ) | (1ull << GW_VHOST_BLK_F_DISCARD) |                         \
     (1ull << GW_VHOST_BLK_F_WRITE_ZEROES) | (1ull << GW_VHOST_F_RING_INDIRECT_DESC) |        \
     (1ull << GW_VHOST_F_RING_EVENT_IDX) | (1ull << GW_VHOST_F_VERSION_1))

/* ---- requests ---- */
#define GW_VHOST_BLK_T_IN 0u
#define GW_VHOST_BLK_T_OUT 1u
#define GW_VHOST_BLK_T_FLUSH 4u
#define GW_VHOST_BLK_T_GET_ID 8u
#define GW_VHOST_BLK_T_DISCARD 11u
#define GW_VHOST_BLK_T_WRITE_ZEROES 13u

#define GW_VHOST_BLK_S_OK 0u
#define GW_VHOST_BLK_S_IOERR 1u
#define GW_VHOST_BLK_S_UNSUPP 2u

#define GW_VHOST_BLK_SECTOR_BYTES 512u
#define GW_VHOST_BLK_HDR_BYTES 16u  /* struct virtio_blk_req: type, reserved, sector */
#define GW_VHOST_BLK_SEG_BYTES 16u  /* struct virtio_blk_discard_write_zeroes */
#define GW_VHOST_BLK_ID_BYTES 20u   /* VIRTIO_BLK_ID_BYTES */
#define GW_VHOST_BLK_SEG_F_UNMAP 1u /* VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP */

/* Discard / write-zeroes limits the config advertises: one segment per
 * request (as QEMU; Linux then sends one range per request) of at most
 * 1 GiB, which keeps the work of one request bounded. */
#define GW_VHOST_BLK_DWZ_SEG_MAX 1u
#define GW_VHOST_BLK_DWZ_SECTORS_MAX (1u << 21)

/* struct virtio_blk_config up to write_zeroes_may_unmap and its padding
 * (60 bytes; the secure-erase fields after it are not offered). All fields
 * little endian. A GET_CONFIG for more bytes gets zeros for the rest. */
struct gw_vhost_blk_config {
    uint64_t capacity;               /* 512-byte sectors */
    uint32_t size_max;               /* SIZE_MAX: bytes per segment (unused: 0) */
    uint32_t seg_max;                /* SEG_MAX: data segments per request */
    uint16_t geometry_cylinders;     /* GEOMETRY (unused: 0) */
    uint8_t geometry_heads;
    uint8_t geometry_sectors;
    uint32_t blk_size;               /* BLK_SIZE: logical block, bytes */
    uint8_t physical_block_exp;      /* TOPOLOGY: log2(physical / logical block) */
    uint8_t alignment_offset;        /* TOPOLOGY: in logical blocks */
    uint16_t min_io_size;            /* TOPOLOGY: in logical blocks */
    uint32_t opt_io_size;            /* TOPOLOGY: in logical blocks */
    uint8_t writeback;               /* 1: a volatile cache, FLUSH needed */
    uint8_t unused0;
    uint16_t num_queues;             /* MQ */
    uint32_t max_discard_sectors;    /* DISCARD: per segment */
    uint32_t max_discard_seg;        /* DISCARD: segments per request */
    uint32_t discard_sector_alignment; /* DISCARD: in 512-byte sectors */
    uint32_t max_write_zeroes_sectors; /* WRITE_ZEROES: per segment */
    uint32_t max_write_zeroes_seg;   /* WRITE_ZEROES: segments per request */
    uint8_t write_zeroes_may_unmap;  /* WRITE_ZEROES: may deallocate */
    uint8_t unused1[3];
} __attribute__((packed));

/* Fills @cfg for an image of @capacity_bytes (rounded down to sectors)
 * with logical blocks of @blk_size bytes (a power of two >= 512), served on
 * @num_queues queues (>= 1), preferring I/O of @opt_io_bytes (e.g. the
 * object size; 0: none), with the limits above. */
void gw_vhost_blk_config_init(struct gw_vhost_blk_config *cfg, uint64_t capacity_bytes,
                              uint32_t blk_size, uint16_t num_queues, uint32_t opt_io_bytes);

/* A parsed request. Payload bytes [data_off, data_off + data_len) of the
 * readable stream, or of the writable one when data_writable. */
struct gw_vhost_blk_req {
    uint32_t type;         /* GW_VHOST_BLK_T_* */
    uint64_t sector;       /* IN, OUT: first 512-byte sector */
    uint64_t offset_bytes; /* IN, OUT: sector * 512, and + data_len does not wrap */
    size_t data_off;       /* where the payload starts in its stream */
    size_t data_len;       /* payload bytes */
    bool data_writable;    /* payload in the writable stream (IN, GET_ID) */
    unsigned n_segs;       /* DISCARD, WRITE_ZEROES: segments in the payload */
    uint8_t *status;       /* where the status byte goes; NULL: nowhere */
};

/* Parses the request on chain @c into @r. Returns 0, or for a request the
 * device must fail: c->error when the chain is malformed; -EINVAL for a
 * missing/short header, no status byte, stray payload (FLUSH, or the wrong
 * stream), IN/OUT data not a multiple of 512, a sector range that wraps,
 * segments not a non-zero multiple of 16 bytes; -EOPNOTSUPP for an unknown
 * type or more segments than GW_VHOST_BLK_DWZ_SEG_MAX. r->status is set
 * whenever the status byte can be located, error or not. */
int gw_vhost_blk_parse(const struct gw_vhost_chain *c, struct gw_vhost_blk_req *r);

/* One discard/write-zeroes range, checked. */
struct gw_vhost_blk_seg {
    uint64_t sector;       /* first 512-byte sector */
    uint32_t num_sectors;
    bool unmap;            /* WRITE_ZEROES may deallocate */
    uint64_t offset_bytes; /* sector * 512 */
    uint64_t len_bytes;    /* num_sectors * 512; offset + len does not wrap */
};

/* Reads segment @i (< r->n_segs) of a DISCARD/WRITE_ZEROES request into
 * @seg. Returns 0; -EOPNOTSUPP for unknown flags or UNMAP on a discard
 * (§5.2.6.2: UNSUPP); -EINVAL for more than GW_VHOST_BLK_DWZ_SECTORS_MAX
 * sectors, a wrapping range, or @i out of range. */
int gw_vhost_blk_segment(const struct gw_vhost_chain *c, const struct gw_vhost_blk_req *r,
                         unsigned i, struct gw_vhost_blk_seg *seg);

/* GET_ID: writes @id (its bytes and a NUL, at most GW_VHOST_BLK_ID_BYTES:
 * no NUL when the id fills all 20) into the payload of @r, cut to the
 * payload's size. Returns the bytes written. */
size_t gw_vhost_blk_get_id(struct gw_vhost_chain *c, const struct gw_vhost_blk_req *r,
                           const char *id);

/* THE errno -> virtio-blk status mapping: 0 -> OK, -EOPNOTSUPP/-ENOTSUP ->
 * UNSUPP, any other error -> IOERR. */
uint8_t gw_vhost_blk_status(int err);

/* Stores the status of @err in r->status when it is located; returns the
 * bytes that adds to the used length (1 or 0). */
uint32_t gw_vhost_blk_set_status(const struct gw_vhost_blk_req *r, int err);

#endif

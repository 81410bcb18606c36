/* The vhost-user wire protocol (QEMU docs/interop/vhost-user.rst) as pure
 * functions: the message header, the payload of every front-end request
 * cairn-vhost understands, and the replies it sends. No sockets, no
 * allocation, no libcairn: used by the device (dev.c), the unit tests and
 * the fuzz target.
 *
 * All numbers are in the machine's byte order (the spec: "native"), which
 * is little-endian x86-64 here. Decoders validate untrusted input and
 * return 0 or a negative errno, never asserting on it. */
#ifndef CAIRN_GATEWAY_VHOST_MSG_H
#define CAIRN_GATEWAY_VHOST_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the spec's constants ---- */
enum gw_vhost_request {
    GW_VHOST_USER_GET_FEATURES = 1,
    GW_VHOST_USER_SET_FEATURES = 2,
    GW_VHOST_USER_SET_OWNER = 3,
    GW_VHOST_USER_RESET_OWNER = 4,
    GW_VHOST_USER_SET_MEM_TABLE = 5,
    GW_VHOST_USER_SET_LOG_BASE = 6,
    GW_VHOST_USER_SET_LOG_FD = 7,
    GW_VHOST_USER_SET_VRING_NUM = 8,
    GW_VHOST_USER_SET_VRING_ADDR = 9,
    GW_VHOST_USER_SET_VRING_BASE = 10,
    GW_VHOST_USER_GET_VRING_BASE = 11,
    GW_VHOST_USER_SET_VRING_KICK = 12,
    GW_VHOST_USER_SET_VRING_CALL = 13,
    GW_VHOST_USER_SET_VRING_ERR = 14,
    GW_VHOST_USER_GET_PROTOCOL_FEATURES = 15,
    GW_VHOST_USER_SET_PROTOCOL_FEATURES = 16,
    GW_VHOST_USER_GET_QUEUE_NUM = 17,
    GW_VHOST_USER_SET_VRING_ENABLE = 18,
    GW_VHOST_USER_GET_CONFIG = 24,
    GW_VHOST_USER_SET_CONFIG = 25,
    GW_VHOST_USER_GET_INFLIGHT_FD = 31,
    GW_VHOST_USER_SET_INFLIGHT_FD = 32,
    GW_VHOST_USER_RESET_DEVICE = 34,
    GW_VHOST_USER_GET_MAX_MEM_SLOTS = 36,
};

#define GW_VHOST_MSG_VERSION 0x1u
#define GW_VHOST_MSG_VERSION_MASK 0x3u
#define GW_VHOST_MSG_REPLY (1u << 2)
#define GW_VHOST_MSG_NEED_REPLY (1u << 3)

#define GW_VHOST_F_PROTOCOL_FEATURES 30 /* VHOST_USER_F_PROTOCOL_FEATURES */
#define GW_VHOST_PROTOCOL_F_MQ 0
#define GW_VHOST_PROTOCOL_F_REPLY_ACK 3
#define GW_VHOST_PROTOCOL_F_CONFIG 9
#define GW_VHOST_PROTOCOL_F_INFLIGHT_SHMFD 12
#define GW_VHOST_PROTOCOL_F_RESET_DEVICE 13

#define GW_VHOST_MSG_HDR_LEN 12u
#define GW_VHOST_MSG_PAYLOAD_MAX 4096u  /* larger payloads end the session */
#define GW_VHOST_MSG_FDS_MAX 8u         /* fds one message may carry */
#define GW_VHOST_MSG_REGIONS_MAX 8u     /* VHOST_MEMORY_BASELINE_NREGIONS */
#define GW_VHOST_CONFIG_MAX 256u        /* bytes of config space one message moves */
#define GW_VHOST_VRING_IDX_MASK 0xffu   /* SET_VRING_KICK/CALL/ERR payload */
#define GW_VHOST_VRING_NOFD (1u << 8)

/* ---- payloads ---- */
struct gw_vhost_vring_state {
    uint32_t index;
    uint32_t num;
};

struct gw_vhost_vring_addr {
    uint32_t index;
    uint32_t flags;
    uint64_t desc_uaddr;  /* front-end user addresses (no IOMMU) */
    uint64_t used_uaddr;
    uint64_t avail_uaddr;
    uint64_t log_gpa;
};

struct gw_vhost_region_desc {
    uint64_t gpa;
    uint64_t size;
    uint64_t uaddr;
    uint64_t mmap_offset;
};

struct gw_vhost_mem_table {
    uint32_t n;  /* 1..GW_VHOST_MSG_REGIONS_MAX */
    struct gw_vhost_region_desc r[GW_VHOST_MSG_REGIONS_MAX];
};

struct gw_vhost_config {
    uint32_t offset;
    uint32_t size;   /* <= GW_VHOST_CONFIG_MAX */
    uint32_t flags;
    uint8_t data[GW_VHOST_CONFIG_MAX];
};

struct gw_vhost_inflight {
    uint64_t mmap_size;
    uint64_t mmap_offset;
    uint16_t num_queues;
    uint16_t queue_size;
};

/* A decoded front-end message. Which member of the union is valid follows
 * from hdr.request (gw_vhost_msg_decode). fds are owned by whoever holds
 * the message: the device takes the ones it keeps and closes the rest. */
struct gw_vhost_msg {
    uint32_t request;
    uint32_t flags;
    uint32_t size;  /* payload bytes */
    union {
        uint64_t u64;
        struct gw_vhost_vring_state state;
        struct gw_vhost_vring_addr addr;
        struct gw_vhost_mem_table mem;
        struct gw_vhost_config config;
        struct gw_vhost_inflight inflight;
    } p;
    int fds[GW_VHOST_MSG_FDS_MAX];
    unsigned n_fds;
};

/* Parses the 12-byte header into @m (request, flags, size). -EPROTO when
 * the version is not 1 or the reply flag is set (a front-end never sends
 * replies), -EMSGSIZE when size exceeds GW_VHOST_MSG_PAYLOAD_MAX. */
int gw_vhost_msg_parse_hdr(const uint8_t hdr[GW_VHOST_MSG_HDR_LEN], struct gw_vhost_msg *m);

/* Decodes the @m->size bytes at @payload into @m->p for m->request, and
 * checks the payload size and the number of fds that request takes.
 * -EBADMSG: wrong payload size or contents (a memory table of 0 or more
 * than 8 regions, a config access past GW_VHOST_CONFIG_MAX); -EPROTO: fds
 * where none belong or missing where required. Unknown requests decode to
 * -EOPNOTSUPP (the device answers them as failed, not with a crash). */
int gw_vhost_msg_decode(struct gw_vhost_msg *m, const uint8_t *payload);

/* The name of a request, for log lines ("SET_MEM_TABLE"; "unknown"). */
const char *gw_vhost_request_name(uint32_t request);

/* Reply encoders: write header plus payload into @buf (at least
 * GW_VHOST_MSG_HDR_LEN + GW_VHOST_MSG_PAYLOAD_MAX bytes) and return the
 * number of bytes to send. */
size_t gw_vhost_msg_reply_u64(uint8_t *buf, uint32_t request, uint64_t value);
size_t gw_vhost_msg_reply_state(uint8_t *buf, uint32_t request,
                                const struct gw_vhost_vring_state *s);
/* GET_CONFIG: @cfg->size bytes of @cfg->data; size 0 signals an error. */
size_t gw_vhost_msg_reply_config(uint8_t *buf, const struct gw_vhost_config *cfg);
size_t gw_vhost_msg_reply_inflight(uint8_t *buf, const struct gw_vhost_inflight *in);

#endif

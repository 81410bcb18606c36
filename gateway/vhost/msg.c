/* vhost-user messages (msg.h): header parsing, per-request payload
 * decoding with the sizes and fd counts the spec gives, and the replies.
 * Called by dev.c for every message a front-end sends. */
#include "gateway/vhost/msg.h"

#include "common/assert.h"

#include <errno.h>
#include <string.h>

CAIRN_STATIC_ASSERT(sizeof(struct gw_vhost_vring_state) == 8, "vring state is 8 bytes");
CAIRN_STATIC_ASSERT(sizeof(struct gw_vhost_vring_addr) == 40, "vring addr is 40 bytes");
CAIRN_STATIC_ASSERT(sizeof(struct gw_vhost_region_desc) == 32, "a region is 32 bytes");
CAIRN_STATIC_ASSERT(sizeof(struct gw_vhost_inflight) == 24, "inflight is 24 bytes");

#define MEM_TABLE_LEN(n) (8u + (n) * (uint32_t)sizeof(struct gw_vhost_region_desc))
#define CONFIG_HDR_LEN 12u
/* Two u64 and two u16, not packed: QEMU's VhostUserInflight is 24 bytes
 * with its tail padding, and QEMU sends and expects exactly that size. */
#define INFLIGHT_LEN 24u

int gw_vhost_msg_parse_hdr(const uint8_t hdr[GW_VHOST_MSG_HDR_LEN], struct gw_vhost_msg *m)
{
    memcpy(&m->request, hdr, 4);
    memcpy(&m->flags, hdr + 4, 4);
    memcpy(&m->size, hdr + 8, 4);
    if ((m->flags & GW_VHOST_MSG_VERSION_MASK) != GW_VHOST_MSG_VERSION ||
        (m->flags & GW_VHOST_MSG_REPLY))
        return -EPROTO;
    if (m->size > GW_VHOST_MSG_PAYLOAD_MAX)
        return -EMSGSIZE;
    return 0;
}

/* Fds a request carries: exactly @min..@max. */
static int want_fds(const struct gw_vhost_msg *m, unsigned min, unsigned max)
{
    return m->n_fds < min || m->n_fds > max ? -EPROTO : 0;
}

static int decode_mem_table(struct gw_vhost_msg *m, const uint8_t *p)
{
    struct gw_vhost_mem_table *t = &m->p.mem;

    if (m->size < 8)
        return -EBADMSG;
    memcpy(&t->n, p, 4);
    if (t->n == 0 || t->n > GW_VHOST_MSG_REGIONS_MAX || m->size < MEM_TABLE_LEN(t->n))
        return -EBADMSG;
    /* QEMU sends the whole 8-region array; the regions past n are padding. */
    if (m->size != MEM_TABLE_LEN(t->n) && m->size != MEM_TABLE_LEN(GW_VHOST_MSG_REGIONS_MAX))
        return -EBADMSG;
    memcpy(t->r, p + 8, t->n * sizeof(t->r[0]));
    return want_fds(m, t->n, t->n);
}

static int decode_config(struct gw_vhost_msg *m, const uint8_t *p, bool get)
{
    struct gw_vhost_config *c = &m->p.config;

    if (m->size < CONFIG_HDR_LEN)
        return -EBADMSG;
    memcpy(&c->offset, p, 4);
    memcpy(&c->size, p + 4, 4);
    memcpy(&c->flags, p + 8, 4);
    if (c->size > GW_VHOST_CONFIG_MAX || c->offset > GW_VHOST_CONFIG_MAX - c->size ||
        m->size != CONFIG_HDR_LEN + c->size)
        return -EBADMSG;
    if (get)
        memset(c->data, 0, c->size);
    else
        memcpy(c->data, p + CONFIG_HDR_LEN, c->size);
    return want_fds(m, 0, 0);
}

static int decode_inflight(struct gw_vhost_msg *m, const uint8_t *p, unsigned fds)
{
    struct gw_vhost_inflight *in = &m->p.inflight;

    if (m->size != INFLIGHT_LEN)
        return -EBADMSG;
    memcpy(&in->mmap_size, p, 8);
    memcpy(&in->mmap_offset, p + 8, 8);
    memcpy(&in->num_queues, p + 16, 2);
    memcpy(&in->queue_size, p + 18, 2);
    return want_fds(m, fds, fds);
}

/* A fixed-size payload of @len bytes into the union, with @min..@max fds. */
static int decode_fixed(struct gw_vhost_msg *m, const uint8_t *p, uint32_t len, unsigned min,
                        unsigned max)
{
    if (m->size != len)
        return -EBADMSG;
    memcpy(&m->p, p, len);
    return want_fds(m, min, max);
}

/* SET_VRING_KICK/CALL/ERR: a u64 with the ring index and the no-fd flag. */
static int decode_vring_fd(struct gw_vhost_msg *m, const uint8_t *p)
{
    int r = decode_fixed(m, p, 8, 0, 1);

    if (r < 0)
        return r;
    if (m->p.u64 & ~(uint64_t)(GW_VHOST_VRING_IDX_MASK | GW_VHOST_VRING_NOFD))
        return -EBADMSG;
    return want_fds(m, m->p.u64 & GW_VHOST_VRING_NOFD ? 0 : 1,
                    m->p.u64 & GW_VHOST_VRING_NOFD ? 0 : 1);
}

int gw_vhost_msg_decode(struct gw_vhost_msg *m, const uint8_t *payload)
{
    memset(&m->p, 0, sizeof(m->p));
    switch (m->request) {
    case GW_VHOST_USER_GET_FEATURES:
    case GW_VHOST_USER_GET_PROTOCOL_FEATURES:
    case GW_VHOST_USER_GET_QUEUE_NUM:
    case GW_VHOST_USER_GET_MAX_MEM_SLOTS:
    case GW_VHOST_USER_SET_OWNER:
    case GW_VHOST_USER_RESET_OWNER:
    case GW_VHOST_USER_RESET_DEVICE:
        /* No payload; QEMU sends some GETs with a zeroed u64, accept both. */
        if (m->size != 0 && m->size != 8)
            return -EBADMSG;
        return want_fds(m, 0, 0);
    case GW_VHOST_USER_SET_FEATURES:
    case GW_VHOST_USER_SET_PROTOCOL_FEATURES:
        return decode_fixed(m, payload, 8, 0, 0);
    case GW_VHOST_USER_SET_MEM_TABLE:
        return decode_mem_table(m, payload);
    case GW_VHOST_USER_SET_VRING_NUM:
    case GW_VHOST_USER_SET_VRING_BASE:
    case GW_VHOST_USER_GET_VRING_BASE:
    case GW_VHOST_USER_SET_VRING_ENABLE:
        return decode_fixed(m, payload, sizeof(struct gw_vhost_vring_state), 0, 0);
    case GW_VHOST_USER_SET_VRING_ADDR:
        return decode_fixed(m, payload, sizeof(struct gw_vhost_vring_addr), 0, 0);
    case GW_VHOST_USER_SET_VRING_KICK:
    case GW_VHOST_USER_SET_VRING_CALL:
    case GW_VHOST_USER_SET_VRING_ERR:
        return decode_vring_fd(m, payload);
    case GW_VHOST_USER_GET_CONFIG:
        return decode_config(m, payload, true);
    case GW_VHOST_USER_SET_CONFIG:
        return decode_config(m, payload, false);
    case GW_VHOST_USER_GET_INFLIGHT_FD:
        return decode_inflight(m, payload, 0);
    case GW_VHOST_USER_SET_INFLIGHT_FD:
        return decode_inflight(m, payload, 1);
    default:
        return -EOPNOTSUPP;
    }
}

const char *gw_vhost_request_name(uint32_t request)
{
    static const char *const names[] = {
        [GW_VHOST_USER_GET_FEATURES] = "GET_FEATURES",
        [GW_VHOST_USER_SET_FEATURES] = "SET_FEATURES",
        [GW_VHOST_USER_SET_OWNER] = "SET_OWNER",
        [GW_VHOST_USER_RESET_OWNER] = "RESET_OWNER",
        [GW_VHOST_USER_SET_MEM_TABLE] = "SET_MEM_TABLE",
        [GW_VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
        [GW_VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
        [GW_VHOST_USER_SET_VRING_NUM] = "SET_VRING_NUM",
        [GW_VHOST_USER_SET_VRING_ADDR] = "SET_VRING_ADDR",
        [GW_VHOST_USER_SET_VRING_BASE] = "SET_VRING_BASE",
        [GW_VHOST_USER_GET_VRING_BASE] = "GET_VRING_BASE",
        [GW_VHOST_USER_SET_VRING_KICK] = "SET_VRING_KICK",
        [GW_VHOST_USER_SET_VRING_CALL] = "SET_VRING_CALL",
        [GW_VHOST_USER_SET_VRING_ERR] = "SET_VRING_ERR",
        [GW_VHOST_USER_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
        [GW_VHOST_USER_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
        [GW_VHOST_USER_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
        [GW_VHOST_USER_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
        [GW_VHOST_USER_GET_CONFIG] = "GET_CONFIG",
        [GW_VHOST_USER_SET_CONFIG] = "SET_CONFIG",
        [GW_VHOST_USER_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
        [GW_VHOST_USER_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
        [GW_VHOST_USER_RESET_DEVICE] = "RESET_DEVICE",
        [GW_VHOST_USER_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
    };

    if (request < sizeof(names) / sizeof(names[0]) && names[request])
        return names[request];
    return "unknown";
}

static size_t put_hdr(uint8_t *buf, uint32_t request, uint32_t size)
{
    uint32_t flags = GW_VHOST_MSG_VERSION | GW_VHOST_MSG_REPLY;

    memcpy(buf, &request, 4);
    memcpy(buf + 4, &flags, 4);
    memcpy(buf + 8, &size, 4);
    return GW_VHOST_MSG_HDR_LEN;
}

size_t gw_vhost_msg_reply_u64(uint8_t *buf, uint32_t request, uint64_t value)
{
    size_t n = put_hdr(buf, request, 8);

    memcpy(buf + n, &value, 8);
    return n + 8;
}

size_t gw_vhost_msg_reply_state(uint8_t *buf, uint32_t request,
                                const struct gw_vhost_vring_state *s)
{
    size_t n = put_hdr(buf, request, sizeof(*s));

    memcpy(buf + n, s, sizeof(*s));
    return n + sizeof(*s);
}

size_t gw_vhost_msg_reply_config(uint8_t *buf, const struct gw_vhost_config *cfg)
{
    uint32_t size = cfg->size ? CONFIG_HDR_LEN + cfg->size : 0;
    size_t n = put_hdr(buf, GW_VHOST_USER_GET_CONFIG, size);

    CAIRN_ASSERT(cfg->size <= GW_VHOST_CONFIG_MAX);
    if (!size)
        return n;
    memcpy(buf + n, &cfg->offset, 4);
    memcpy(buf + n + 4, &cfg->size, 4);
    memcpy(buf + n + 8, &cfg->flags, 4);
    memcpy(buf + n + CONFIG_HDR_LEN, cfg->data, cfg->size);
    return n + size;
}

size_t gw_vhost_msg_reply_inflight(uint8_t *buf, const struct gw_vhost_inflight *in)
{
    size_t n = put_hdr(buf, GW_VHOST_USER_GET_INFLIGHT_FD, INFLIGHT_LEN);

    memcpy(buf + n, &in->mmap_size, 8);
    memcpy(buf + n + 8, &in->mmap_offset, 8);
    memcpy(buf + n + 16, &in->num_queues, 2);
    memcpy(buf + n + 18, &in->queue_size, 2);
    memset(buf + n + 20, 0, INFLIGHT_LEN - 20);
    return n + INFLIGHT_LEN;
}

/* Fuzz target for the vhost-user message codec (gateway/vhost/msg.c). The
 * input is a stream of messages, each one byte choosing how many fake fds
 * came with it (0..8), the 12-byte header and its payload. Each is parsed
 * and decoded as dev.c does; the stream ends at the first bad header or a
 * payload the input cuts short. The payload is copied to the end of a
 * static buffer so ASan sees a read past it. Checks: an accepted message
 * obeys the spec's sizes and fd counts and decodes to its payload's bytes,
 * and every reply fits the reply buffer. Built by tests/fuzz/CMakeLists.txt. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/vhost/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAKE_FD 100 /* never opened: the codec only counts fds */
#define MEM_LEN(n) (8u + 32u * (n))

static uint8_t payload_buf[GW_VHOST_MSG_PAYLOAD_MAX];
static uint8_t reply[GW_VHOST_MSG_HDR_LEN + GW_VHOST_MSG_PAYLOAD_MAX];

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void check_mem_table(const struct gw_vhost_msg *m, const uint8_t *p)
{
    const struct gw_vhost_mem_table *t = &m->p.mem;

    if (t->n == 0 || t->n > GW_VHOST_MSG_REGIONS_MAX || m->n_fds != t->n)
        abort();
    if (m->size != MEM_LEN(t->n) && m->size != MEM_LEN(GW_VHOST_MSG_REGIONS_MAX))
        abort();
    if (memcmp(t->r, p + 8, t->n * sizeof(t->r[0])) != 0)
        abort();
}

static void check_config(const struct gw_vhost_msg *m, const uint8_t *p)
{
    const struct gw_vhost_config *c = &m->p.config;

    if (c->size > GW_VHOST_CONFIG_MAX || c->offset > GW_VHOST_CONFIG_MAX ||
        c->offset + c->size > GW_VHOST_CONFIG_MAX || m->size != 12 + c->size || m->n_fds != 0)
        abort();
    if (m->request == GW_VHOST_USER_SET_CONFIG && memcmp(c->data, p + 12, c->size) != 0)
        abort();
    for (uint32_t i = 0; m->request == GW_VHOST_USER_GET_CONFIG && i < c->size; i++)
        if (c->data[i] != 0)
            abort();
}

/* The requests gw_vhost_msg_decode() knows; the rest are -EOPNOTSUPP. */
static bool decodable(uint32_t request)
{
    switch (request) {
    case GW_VHOST_USER_GET_FEATURES ... GW_VHOST_USER_RESET_OWNER:
    case GW_VHOST_USER_SET_MEM_TABLE:
    case GW_VHOST_USER_SET_VRING_NUM ... GW_VHOST_USER_SET_VRING_ENABLE:
    case GW_VHOST_USER_GET_CONFIG:
    case GW_VHOST_USER_SET_CONFIG:
    case GW_VHOST_USER_GET_INFLIGHT_FD:
    case GW_VHOST_USER_SET_INFLIGHT_FD:
    case GW_VHOST_USER_RESET_DEVICE:
    case GW_VHOST_USER_GET_MAX_MEM_SLOTS:
        return true;
    default:
        return false;
    }
}

/* An accepted message against the spec's rules for its request. */
static void check_decoded(const struct gw_vhost_msg *m, const uint8_t *p)
{
    switch (m->request) {
    case GW_VHOST_USER_GET_FEATURES:
    case GW_VHOST_USER_GET_PROTOCOL_FEATURES:
    case GW_VHOST_USER_GET_QUEUE_NUM:
    case GW_VHOST_USER_GET_MAX_MEM_SLOTS:
    case GW_VHOST_USER_SET_OWNER:
    case GW_VHOST_USER_RESET_OWNER:
    case GW_VHOST_USER_RESET_DEVICE:
        if ((m->size != 0 && m->size != 8) || m->n_fds != 0)
            abort();
        break;
    case GW_VHOST_USER_SET_FEATURES:
    case GW_VHOST_USER_SET_PROTOCOL_FEATURES:
    case GW_VHOST_USER_SET_VRING_NUM:
    case GW_VHOST_USER_SET_VRING_BASE:
    case GW_VHOST_USER_GET_VRING_BASE:
    case GW_VHOST_USER_SET_VRING_ENABLE:
        if (m->size != 8 || m->n_fds != 0 || memcmp(&m->p, p, 8) != 0)
            abort();
        break;
    case GW_VHOST_USER_SET_VRING_ADDR:
        if (m->size != 40 || m->n_fds != 0 || memcmp(&m->p.addr, p, 40) != 0)
            abort();
        break;
    case GW_VHOST_USER_SET_VRING_KICK:
    case GW_VHOST_USER_SET_VRING_CALL:
    case GW_VHOST_USER_SET_VRING_ERR:
        if (m->size != 8 || memcmp(&m->p.u64, p, 8) != 0 ||
            (m->p.u64 & ~(uint64_t)(GW_VHOST_VRING_IDX_MASK | GW_VHOST_VRING_NOFD)) ||
            m->n_fds != (m->p.u64 & GW_VHOST_VRING_NOFD ? 0u : 1u))
            abort();
        break;
    case GW_VHOST_USER_SET_MEM_TABLE:
        check_mem_table(m, p);
        break;
    case GW_VHOST_USER_GET_CONFIG:
    case GW_VHOST_USER_SET_CONFIG:
        check_config(m, p);
        break;
    case GW_VHOST_USER_GET_INFLIGHT_FD:
    case GW_VHOST_USER_SET_INFLIGHT_FD:
        if (m->size != 24 || memcmp(&m->p.inflight, p, 20) != 0 ||
            m->n_fds != (m->request == GW_VHOST_USER_SET_INFLIGHT_FD ? 1u : 0u))
            abort();
        break;
    default:
        abort(); /* an unknown request must not decode */
    }
}

/* A reply the codec wrote: a version-1 reply header whose size matches the
 * length, within the buffer, and never taken for a request. */
static void check_reply(size_t len, uint32_t request)
{
    struct gw_vhost_msg back;

    if (len < GW_VHOST_MSG_HDR_LEN || len > sizeof(reply))
        abort();
    if (get32(reply) != request ||
        get32(reply + 4) != (GW_VHOST_MSG_VERSION | GW_VHOST_MSG_REPLY) ||
        get32(reply + 8) != len - GW_VHOST_MSG_HDR_LEN)
        abort();
    if (gw_vhost_msg_parse_hdr(reply, &back) != -EPROTO)
        abort();
}

/* The replies the device could send for @m, as dev.c builds them. */
static void encode_replies(struct gw_vhost_msg *m)
{
    check_reply(gw_vhost_msg_reply_u64(reply, m->request, m->p.u64), m->request);
    check_reply(gw_vhost_msg_reply_state(reply, m->request, &m->p.state), m->request);
    if (m->request == GW_VHOST_USER_GET_CONFIG || m->request == GW_VHOST_USER_SET_CONFIG) {
        size_t len = gw_vhost_msg_reply_config(reply, &m->p.config);
        check_reply(len, GW_VHOST_USER_GET_CONFIG);
        if (len != GW_VHOST_MSG_HDR_LEN + (m->p.config.size ? 12 + m->p.config.size : 0))
            abort();
    }
    if (m->request == GW_VHOST_USER_GET_INFLIGHT_FD || m->request == GW_VHOST_USER_SET_INFLIGHT_FD)
        check_reply(gw_vhost_msg_reply_inflight(reply, &m->p.inflight),
                    GW_VHOST_USER_GET_INFLIGHT_FD);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_vhost_msg m;
    size_t off = 0;
    int r;

    while (size - off >= 1 + GW_VHOST_MSG_HDR_LEN) {
        memset(&m, 0, sizeof(m));
        m.n_fds = data[off++] % (GW_VHOST_MSG_FDS_MAX + 1);
        for (unsigned i = 0; i < m.n_fds; i++)
            m.fds[i] = FAKE_FD + (int)i;
        r = gw_vhost_msg_parse_hdr(data + off, &m);
        off += GW_VHOST_MSG_HDR_LEN;
        if (r == -EMSGSIZE && m.size <= GW_VHOST_MSG_PAYLOAD_MAX)
            abort();
        if (r < 0) {
            if (r != -EPROTO && r != -EMSGSIZE)
                abort();
            return 0; /* dev.c ends the session */
        }
        if ((m.flags & GW_VHOST_MSG_VERSION_MASK) != GW_VHOST_MSG_VERSION ||
            (m.flags & GW_VHOST_MSG_REPLY) || m.size > GW_VHOST_MSG_PAYLOAD_MAX)
            abort();
        if (m.size > size - off)
            return 0;
        uint8_t *p = payload_buf + sizeof(payload_buf) - m.size;
        memcpy(p, data + off, m.size);
        off += m.size;

        r = gw_vhost_msg_decode(&m, p);
        if (gw_vhost_request_name(m.request) == NULL)
            abort();
        if ((r == -EOPNOTSUPP) != !decodable(m.request))
            abort();
        if (r == -EOPNOTSUPP || r == -EBADMSG || r == -EPROTO)
            continue;
        if (r != 0)
            abort();
        if (strcmp(gw_vhost_request_name(m.request), "unknown") == 0)
            abort();
        check_decoded(&m, p);
        encode_replies(&m);
    }
    return 0;
}

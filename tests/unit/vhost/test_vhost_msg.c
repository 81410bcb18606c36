/* Unit tests of the vhost-user message codec (gateway/vhost/msg.c): header
 * parsing, the payload size and fd count of every request cairn-vhost
 * decodes (QEMU docs/interop/vhost-user.rst), the malformed variants of
 * each, request names, and every reply encoder byte for byte. The fds are
 * fake numbers: the codec only counts them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/vhost/msg.h"

#define FAKE_FD 100 /* never opened: the codec never touches fds */
#define MEM_LEN(n) (8u + 32u * (n))

/* Payload scratch, larger than any size a test passes, so a decoder that
 * reads one byte past @size still reads defined bytes. */
static uint8_t pl[GW_VHOST_MSG_PAYLOAD_MAX + 16];

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* A message as the device has it after the header and recvmsg: @n_fds fake
 * fds, and the union filled with junk that decode must overwrite. */
static void msg_init(struct gw_vhost_msg *m, uint32_t request, uint32_t size, unsigned n_fds)
{
    memset(m, 0xcc, sizeof(*m));
    m->request = request;
    m->flags = GW_VHOST_MSG_VERSION;
    m->size = size;
    m->n_fds = n_fds;
    for (unsigned i = 0; i < n_fds; i++)
        m->fds[i] = FAKE_FD + (int)i;
}

static int decode(uint32_t request, uint32_t size, unsigned n_fds)
{
    struct gw_vhost_msg m;

    msg_init(&m, request, size, n_fds);
    return gw_vhost_msg_decode(&m, pl);
}

/* ---- header ---- */

static int parse(uint32_t request, uint32_t flags, uint32_t size, struct gw_vhost_msg *m)
{
    uint8_t hdr[GW_VHOST_MSG_HDR_LEN];

    put32(hdr, request);
    put32(hdr + 4, flags);
    put32(hdr + 8, size);
    return gw_vhost_msg_parse_hdr(hdr, m);
}

static void test_vhost_msg_hdr_parses_version_1(void **state)
{
    struct gw_vhost_msg m = {0};

    assert_int_equal(parse(GW_VHOST_USER_SET_MEM_TABLE, 0x1, 40, &m), 0);
    assert_int_equal(m.request, GW_VHOST_USER_SET_MEM_TABLE);
    assert_int_equal(m.flags, 0x1);
    assert_int_equal(m.size, 40);
    assert_int_equal(parse(GW_VHOST_USER_SET_VRING_NUM, 0x1 | GW_VHOST_MSG_NEED_REPLY, 8, &m), 0);
    assert_int_equal(m.request, GW_VHOST_USER_SET_VRING_NUM);
    assert_int_equal(m.flags, 0x9);
    assert_int_equal(m.size, 8);
    assert_int_equal(parse(GW_VHOST_USER_GET_FEATURES, 0x1, 0, &m), 0);
    assert_int_equal(m.size, 0);
}

static void test_vhost_msg_hdr_rejects_bad_version(void **state)
{
    struct gw_vhost_msg m;

    assert_int_equal(parse(GW_VHOST_USER_GET_FEATURES, 0x0, 0, &m), -EPROTO);
    assert_int_equal(parse(GW_VHOST_USER_GET_FEATURES, 0x2, 0, &m), -EPROTO);
    assert_int_equal(parse(GW_VHOST_USER_GET_FEATURES, 0x3, 0, &m), -EPROTO);
    assert_int_equal(parse(GW_VHOST_USER_GET_FEATURES, 0x0 | GW_VHOST_MSG_NEED_REPLY, 0, &m),
                     -EPROTO);
}

static void test_vhost_msg_hdr_rejects_reply_flag(void **state)
{
    struct gw_vhost_msg m;

    assert_int_equal(parse(GW_VHOST_USER_GET_FEATURES, 0x1 | GW_VHOST_MSG_REPLY, 8, &m),
                     -EPROTO);
    assert_int_equal(parse(GW_VHOST_USER_SET_OWNER,
                           0x1 | GW_VHOST_MSG_REPLY | GW_VHOST_MSG_NEED_REPLY, 0, &m),
                     -EPROTO);
}

static void test_vhost_msg_hdr_size_limit(void **state)
{
    struct gw_vhost_msg m;

    assert_int_equal(parse(GW_VHOST_USER_SET_CONFIG, 0x1, GW_VHOST_MSG_PAYLOAD_MAX, &m), 0);
    assert_int_equal(m.size, GW_VHOST_MSG_PAYLOAD_MAX);
    assert_int_equal(parse(GW_VHOST_USER_SET_CONFIG, 0x1, GW_VHOST_MSG_PAYLOAD_MAX + 1, &m),
                     -EMSGSIZE);
    assert_int_equal(parse(GW_VHOST_USER_SET_CONFIG, 0x1, UINT32_MAX, &m), -EMSGSIZE);
}

/* ---- every request: right size and fd count, then one byte and one fd off ---- */

struct shape {
    uint32_t request;
    uint32_t size;   /* a valid payload size */
    unsigned n_fds;  /* the fds that payload takes */
};

static const struct shape shapes[] = {
    {GW_VHOST_USER_GET_FEATURES, 0, 0},
    {GW_VHOST_USER_GET_FEATURES, 8, 0},
    {GW_VHOST_USER_SET_FEATURES, 8, 0},
    {GW_VHOST_USER_SET_OWNER, 0, 0},
    {GW_VHOST_USER_RESET_OWNER, 0, 0},
    {GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(1), 1},
    {GW_VHOST_USER_SET_VRING_NUM, 8, 0},
    {GW_VHOST_USER_SET_VRING_ADDR, 40, 0},
    {GW_VHOST_USER_SET_VRING_BASE, 8, 0},
    {GW_VHOST_USER_GET_VRING_BASE, 8, 0},
    {GW_VHOST_USER_SET_VRING_KICK, 8, 1},
    {GW_VHOST_USER_SET_VRING_CALL, 8, 1},
    {GW_VHOST_USER_SET_VRING_ERR, 8, 1},
    {GW_VHOST_USER_GET_PROTOCOL_FEATURES, 0, 0},
    {GW_VHOST_USER_GET_PROTOCOL_FEATURES, 8, 0},
    {GW_VHOST_USER_SET_PROTOCOL_FEATURES, 8, 0},
    {GW_VHOST_USER_GET_QUEUE_NUM, 0, 0},
    {GW_VHOST_USER_GET_QUEUE_NUM, 8, 0},
    {GW_VHOST_USER_SET_VRING_ENABLE, 8, 0},
    {GW_VHOST_USER_GET_CONFIG, 12 + 4, 0},
    {GW_VHOST_USER_SET_CONFIG, 12 + 4, 0},
    {GW_VHOST_USER_GET_INFLIGHT_FD, 24, 0},
    {GW_VHOST_USER_SET_INFLIGHT_FD, 24, 1},
    {GW_VHOST_USER_RESET_DEVICE, 0, 0},
    {GW_VHOST_USER_GET_MAX_MEM_SLOTS, 0, 0},
    {GW_VHOST_USER_GET_MAX_MEM_SLOTS, 8, 0},
};

/* A valid payload for @request: a one-region table, a 4-byte config read at
 * offset 0, ring 0 with an fd; zeros elsewhere. */
static void fill_valid(uint32_t request)
{
    memset(pl, 0, sizeof(pl));
    if (request == GW_VHOST_USER_SET_MEM_TABLE)
        put32(pl, 1);
    if (request == GW_VHOST_USER_GET_CONFIG || request == GW_VHOST_USER_SET_CONFIG)
        put32(pl + 4, 4);
}

static void test_vhost_msg_decode_every_request_right_shape(void **state)
{
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        const struct shape *s = &shapes[i];
        fill_valid(s->request);
        if (decode(s->request, s->size, s->n_fds) != 0)
            fail_msg("%s: size %u, %u fds rejected", gw_vhost_request_name(s->request),
                     s->size, s->n_fds);
    }
}

static void test_vhost_msg_decode_every_request_size_off_by_one(void **state)
{
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        const struct shape *s = &shapes[i];
        fill_valid(s->request);
        /* The no-payload GETs accept 0 and 8: one less than 8 is 7, one
         * more than 0 is 1, both wrong. */
        if (s->size > 0 && decode(s->request, s->size - 1, s->n_fds) != -EBADMSG)
            fail_msg("%s: size %u accepted", gw_vhost_request_name(s->request), s->size - 1);
        if (decode(s->request, s->size + 1, s->n_fds) != -EBADMSG)
            fail_msg("%s: size %u accepted", gw_vhost_request_name(s->request), s->size + 1);
    }
}

static void test_vhost_msg_decode_every_request_fd_count(void **state)
{
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        const struct shape *s = &shapes[i];
        fill_valid(s->request);
        if (decode(s->request, s->size, s->n_fds + 1) != -EPROTO)
            fail_msg("%s: %u fds accepted", gw_vhost_request_name(s->request), s->n_fds + 1);
        if (s->n_fds > 0 && decode(s->request, s->size, s->n_fds - 1) != -EPROTO)
            fail_msg("%s: %u fds accepted", gw_vhost_request_name(s->request), s->n_fds - 1);
        if (decode(s->request, s->size, GW_VHOST_MSG_FDS_MAX) != -EPROTO)
            fail_msg("%s: 8 fds accepted", gw_vhost_request_name(s->request));
    }
}

/* ---- what each payload decodes to ---- */

static void test_vhost_msg_decode_u64(void **state)
{
    struct gw_vhost_msg m;

    put64(pl, 0x0123456789abcdefull);
    msg_init(&m, GW_VHOST_USER_SET_FEATURES, 8, 0);
    assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
    assert_int_equal(m.p.u64, 0x0123456789abcdefull);
    put64(pl, 1ull << GW_VHOST_PROTOCOL_F_CONFIG);
    msg_init(&m, GW_VHOST_USER_SET_PROTOCOL_FEATURES, 8, 0);
    assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
    assert_int_equal(m.p.u64, 1ull << GW_VHOST_PROTOCOL_F_CONFIG);
    /* QEMU's zeroed u64 on a GET is read past, not kept */
    put64(pl, 0xffff);
    msg_init(&m, GW_VHOST_USER_GET_FEATURES, 8, 0);
    assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
    assert_int_equal(m.p.u64, 0);
    assert_int_equal(decode(GW_VHOST_USER_SET_FEATURES, 0, 0), -EBADMSG);
}

static void test_vhost_msg_decode_vring_state(void **state)
{
    static const uint32_t reqs[] = {GW_VHOST_USER_SET_VRING_NUM, GW_VHOST_USER_SET_VRING_BASE,
                                    GW_VHOST_USER_GET_VRING_BASE,
                                    GW_VHOST_USER_SET_VRING_ENABLE};
    struct gw_vhost_msg m;

    put32(pl, 3);
    put32(pl + 4, 256);
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        msg_init(&m, reqs[i], 8, 0);
        assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
        assert_int_equal(m.p.state.index, 3);
        assert_int_equal(m.p.state.num, 256);
        assert_int_equal(decode(reqs[i], 0, 0), -EBADMSG);
        assert_int_equal(decode(reqs[i], 16, 0), -EBADMSG);
    }
}

static void test_vhost_msg_decode_vring_addr(void **state)
{
    struct gw_vhost_msg m;

    put32(pl, 1);
    put32(pl + 4, 0x1); /* VHOST_VRING_F_LOG */
    put64(pl + 8, 0x7f0000001000ull);
    put64(pl + 16, 0x7f0000002000ull);
    put64(pl + 24, 0x7f0000003000ull);
    put64(pl + 32, 0x4000);
    msg_init(&m, GW_VHOST_USER_SET_VRING_ADDR, 40, 0);
    assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
    assert_int_equal(m.p.addr.index, 1);
    assert_int_equal(m.p.addr.flags, 1);
    assert_int_equal(m.p.addr.desc_uaddr, 0x7f0000001000ull);
    assert_int_equal(m.p.addr.used_uaddr, 0x7f0000002000ull);
    assert_int_equal(m.p.addr.avail_uaddr, 0x7f0000003000ull);
    assert_int_equal(m.p.addr.log_gpa, 0x4000);
    assert_int_equal(decode(GW_VHOST_USER_SET_VRING_ADDR, 8, 0), -EBADMSG);
}

/* ---- SET_VRING_KICK/CALL/ERR ---- */

static void test_vhost_msg_decode_vring_fd_with_fd(void **state)
{
    static const uint32_t reqs[] = {GW_VHOST_USER_SET_VRING_KICK, GW_VHOST_USER_SET_VRING_CALL,
                                    GW_VHOST_USER_SET_VRING_ERR};
    struct gw_vhost_msg m;

    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        put64(pl, 2);
        msg_init(&m, reqs[i], 8, 1);
        assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
        assert_int_equal(m.p.u64, 2);
        assert_int_equal(m.n_fds, 1);
        assert_int_equal(m.fds[0], FAKE_FD);
        put64(pl, GW_VHOST_VRING_IDX_MASK); /* the highest index still fits */
        assert_int_equal(decode(reqs[i], 8, 1), 0);
        put64(pl, 2);
        assert_int_equal(decode(reqs[i], 8, 0), -EPROTO); /* the fd is missing */
        assert_int_equal(decode(reqs[i], 8, 2), -EPROTO);
    }
}

static void test_vhost_msg_decode_vring_fd_nofd_bit(void **state)
{
    static const uint32_t reqs[] = {GW_VHOST_USER_SET_VRING_KICK, GW_VHOST_USER_SET_VRING_CALL,
                                    GW_VHOST_USER_SET_VRING_ERR};
    struct gw_vhost_msg m;

    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        put64(pl, GW_VHOST_VRING_NOFD | 1);
        msg_init(&m, reqs[i], 8, 0);
        assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
        assert_int_equal(m.p.u64, GW_VHOST_VRING_NOFD | 1);
        assert_int_equal(m.n_fds, 0);
        assert_int_equal(decode(reqs[i], 8, 1), -EPROTO); /* an fd despite NOFD */
    }
}

static void test_vhost_msg_decode_vring_fd_junk_bits(void **state)
{
    static const uint32_t reqs[] = {GW_VHOST_USER_SET_VRING_KICK, GW_VHOST_USER_SET_VRING_CALL,
                                    GW_VHOST_USER_SET_VRING_ERR};
    static const uint64_t junk[] = {1u << 9, 1u << 31, 1ull << 32, 1ull << 63,
                                    GW_VHOST_VRING_NOFD | 1u << 9};

    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        for (size_t j = 0; j < sizeof(junk) / sizeof(junk[0]); j++) {
            put64(pl, junk[j] | 1);
            assert_int_equal(decode(reqs[i], 8, 1), -EBADMSG);
            assert_int_equal(decode(reqs[i], 8, 0), -EBADMSG);
        }
    }
}

/* ---- SET_MEM_TABLE ---- */

static void put_region(unsigned i, uint64_t gpa, uint64_t size, uint64_t uaddr, uint64_t off)
{
    uint8_t *p = pl + 8 + 32 * i;

    put64(p, gpa);
    put64(p + 8, size);
    put64(p + 16, uaddr);
    put64(p + 24, off);
}

static void test_vhost_msg_mem_table_short_payload(void **state)
{
    struct gw_vhost_msg m;

    memset(pl, 0, sizeof(pl));
    put32(pl, 1);
    put_region(0, 0, 0x80000000ull, 0x7f1200000000ull, 0);
    msg_init(&m, GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(1), 1);
    assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
    assert_int_equal(m.p.mem.n, 1);
    assert_int_equal(m.p.mem.r[0].gpa, 0);
    assert_int_equal(m.p.mem.r[0].size, 0x80000000ull);
    assert_int_equal(m.p.mem.r[0].uaddr, 0x7f1200000000ull);
    assert_int_equal(m.p.mem.r[0].mmap_offset, 0);
}

/* QEMU sends the whole VHOST_MEMORY_BASELINE_NREGIONS array with n set. */
static void test_vhost_msg_mem_table_full_array_qemu_style(void **state)
{
    struct gw_vhost_msg m;

    memset(pl, 0, sizeof(pl));
    put32(pl, 2);
    put_region(0, 0, 0xc0000000ull, 0x7f0000000000ull, 0);
    put_region(1, 0x100000000ull, 0x40000000ull, 0x7f00c0000000ull, 0xc0000000ull);
    put_region(2, 0xdead, 0xbeef, 0xf00d, 0); /* padding past n: ignored */
    msg_init(&m, GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(8), 2);
    assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
    assert_int_equal(m.p.mem.n, 2);
    assert_int_equal(m.p.mem.r[1].gpa, 0x100000000ull);
    assert_int_equal(m.p.mem.r[1].size, 0x40000000ull);
    assert_int_equal(m.p.mem.r[1].uaddr, 0x7f00c0000000ull);
    assert_int_equal(m.p.mem.r[1].mmap_offset, 0xc0000000ull);
    assert_int_equal(m.p.mem.r[2].gpa, 0);
    assert_int_equal(m.p.mem.r[2].size, 0);
    /* the same table, short */
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(2), 2), 0);
    /* neither n regions nor all 8 */
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(3), 2), -EBADMSG);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(8) - 1, 2), -EBADMSG);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(8) + 1, 2), -EBADMSG);
}

static void test_vhost_msg_mem_table_fd_count_is_n(void **state)
{
    memset(pl, 0, sizeof(pl));
    put32(pl, 2);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(2), 1), -EPROTO);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(2), 3), -EPROTO);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(8), 1), -EPROTO);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(8), 3), -EPROTO);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(2), 0), -EPROTO);
    put32(pl, 8);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(8), 8), 0);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(8), 7), -EPROTO);
}

static void test_vhost_msg_mem_table_bad_n(void **state)
{
    memset(pl, 0, sizeof(pl));
    put32(pl, 0);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, 8, 0), -EBADMSG);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(8), 0), -EBADMSG);
    put32(pl, 9);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(9), 8), -EBADMSG);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(8), 8), -EBADMSG);
    put32(pl, UINT32_MAX); /* n * 32 would wrap */
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(8), 8), -EBADMSG);
    /* n = 1 but the region is cut short, or not even n is there */
    put32(pl, 1);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, MEM_LEN(1) - 1, 1), -EBADMSG);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, 8, 1), -EBADMSG);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, 7, 1), -EBADMSG);
    assert_int_equal(decode(GW_VHOST_USER_SET_MEM_TABLE, 0, 1), -EBADMSG);
}

/* ---- GET_CONFIG / SET_CONFIG ---- */

static void put_config(uint32_t offset, uint32_t size, uint32_t flags)
{
    put32(pl, offset);
    put32(pl + 4, size);
    put32(pl + 8, flags);
    for (uint32_t i = 0; i < GW_VHOST_CONFIG_MAX; i++)
        pl[12 + i] = (uint8_t)(i + 1);
}

static void test_vhost_msg_config_get_and_set(void **state)
{
    struct gw_vhost_msg m;

    /* QEMU's vhost-user-blk reads the whole 60-byte virtio_blk_config */
    put_config(0, 60, 0);
    msg_init(&m, GW_VHOST_USER_GET_CONFIG, 12 + 60, 0);
    assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
    assert_int_equal(m.p.config.offset, 0);
    assert_int_equal(m.p.config.size, 60);
    assert_int_equal(m.p.config.flags, 0);
    for (unsigned i = 0; i < 60; i++)
        assert_int_equal(m.p.config.data[i], 0); /* a read: the front-end's bytes are dropped */

    put_config(20, 8, 1 /* VHOST_SET_CONFIG_TYPE_MIGRATION */);
    msg_init(&m, GW_VHOST_USER_SET_CONFIG, 12 + 8, 0);
    assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
    assert_int_equal(m.p.config.offset, 20);
    assert_int_equal(m.p.config.size, 8);
    assert_int_equal(m.p.config.flags, 1);
    assert_memory_equal(m.p.config.data, pl + 12, 8);

    put_config(0, GW_VHOST_CONFIG_MAX, 0);
    assert_int_equal(decode(GW_VHOST_USER_SET_CONFIG, 12 + GW_VHOST_CONFIG_MAX, 0), 0);
    put_config(GW_VHOST_CONFIG_MAX - 4, 4, 0); /* ends exactly at 256 */
    assert_int_equal(decode(GW_VHOST_USER_GET_CONFIG, 12 + 4, 0), 0);
    put_config(0, 0, 0);
    assert_int_equal(decode(GW_VHOST_USER_GET_CONFIG, 12, 0), 0);
}

static void test_vhost_msg_config_past_256(void **state)
{
    static const uint32_t reqs[] = {GW_VHOST_USER_GET_CONFIG, GW_VHOST_USER_SET_CONFIG};

    for (size_t i = 0; i < 2; i++) {
        put_config(200, 60, 0);
        assert_int_equal(decode(reqs[i], 12 + 60, 0), -EBADMSG);
        put_config(GW_VHOST_CONFIG_MAX - 3, 4, 0);
        assert_int_equal(decode(reqs[i], 12 + 4, 0), -EBADMSG);
        put_config(1, GW_VHOST_CONFIG_MAX, 0);
        assert_int_equal(decode(reqs[i], 12 + GW_VHOST_CONFIG_MAX, 0), -EBADMSG);
        put_config(0, GW_VHOST_CONFIG_MAX + 1, 0);
        assert_int_equal(decode(reqs[i], 12 + GW_VHOST_CONFIG_MAX + 1, 0), -EBADMSG);
        put_config(UINT32_MAX, 4, 0); /* offset + size would wrap */
        assert_int_equal(decode(reqs[i], 12 + 4, 0), -EBADMSG);
        put_config(4, UINT32_MAX, 0);
        assert_int_equal(decode(reqs[i], 12 + 4, 0), -EBADMSG);
    }
}

static void test_vhost_msg_config_size_mismatch(void **state)
{
    static const uint32_t reqs[] = {GW_VHOST_USER_GET_CONFIG, GW_VHOST_USER_SET_CONFIG};

    for (size_t i = 0; i < 2; i++) {
        put_config(0, 60, 0);
        assert_int_equal(decode(reqs[i], 12 + 59, 0), -EBADMSG);
        assert_int_equal(decode(reqs[i], 12 + 61, 0), -EBADMSG);
        assert_int_equal(decode(reqs[i], 12, 0), -EBADMSG);
        assert_int_equal(decode(reqs[i], 11, 0), -EBADMSG); /* not even the config header */
        assert_int_equal(decode(reqs[i], 0, 0), -EBADMSG);
        assert_int_equal(decode(reqs[i], 12 + 60, 1), -EPROTO);
    }
}

/* ---- GET_INFLIGHT_FD / SET_INFLIGHT_FD ---- */

static void test_vhost_msg_inflight_sizes(void **state)
{
    struct gw_vhost_msg m;

    memset(pl, 0xee, sizeof(pl));
    put64(pl, 0x21000);
    put64(pl + 8, 0x1000);
    pl[16] = 4; /* num_queues */
    pl[17] = 0;
    pl[18] = 0; /* queue_size 256 */
    pl[19] = 0x1;
    msg_init(&m, GW_VHOST_USER_SET_INFLIGHT_FD, 24, 1);
    assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
    assert_int_equal(m.p.inflight.mmap_size, 0x21000);
    assert_int_equal(m.p.inflight.mmap_offset, 0x1000);
    assert_int_equal(m.p.inflight.num_queues, 4);
    assert_int_equal(m.p.inflight.queue_size, 256);
    msg_init(&m, GW_VHOST_USER_GET_INFLIGHT_FD, 24, 0);
    assert_int_equal(gw_vhost_msg_decode(&m, pl), 0);
    assert_int_equal(m.p.inflight.num_queues, 4);
    assert_int_equal(m.p.inflight.queue_size, 256);
    /* QEMU's VhostUserInflight is 24 bytes, tail padding included; the
     * 20 bytes of its fields alone are not what QEMU sends */
    assert_int_equal(decode(GW_VHOST_USER_GET_INFLIGHT_FD, 20, 0), -EBADMSG);
    assert_int_equal(decode(GW_VHOST_USER_SET_INFLIGHT_FD, 20, 1), -EBADMSG);
    assert_int_equal(decode(GW_VHOST_USER_GET_INFLIGHT_FD, 16, 0), -EBADMSG);
    assert_int_equal(decode(GW_VHOST_USER_GET_INFLIGHT_FD, 0, 0), -EBADMSG);
    assert_int_equal(decode(GW_VHOST_USER_SET_INFLIGHT_FD, 24, 0), -EPROTO);
    assert_int_equal(decode(GW_VHOST_USER_GET_INFLIGHT_FD, 24, 1), -EPROTO);
}

/* ---- unknown requests and names ---- */

static void test_vhost_msg_unknown_request_is_eopnotsupp(void **state)
{
    /* SET_LOG_BASE and SET_LOG_FD have names but no decoder (no LOG_SHMFD) */
    static const uint32_t reqs[] = {0, GW_VHOST_USER_SET_LOG_BASE, GW_VHOST_USER_SET_LOG_FD,
                                    19, 23, 26, 33, 35, 37, 38, 1000, UINT32_MAX};

    memset(pl, 0, sizeof(pl));
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        assert_int_equal(decode(reqs[i], 0, 0), -EOPNOTSUPP);
        assert_int_equal(decode(reqs[i], 8, 1), -EOPNOTSUPP);
    }
}

static void test_vhost_msg_request_names(void **state)
{
    static const struct {
        uint32_t request;
        const char *name;
    } names[] = {
        {GW_VHOST_USER_GET_FEATURES, "GET_FEATURES"},
        {GW_VHOST_USER_SET_FEATURES, "SET_FEATURES"},
        {GW_VHOST_USER_SET_OWNER, "SET_OWNER"},
        {GW_VHOST_USER_RESET_OWNER, "RESET_OWNER"},
        {GW_VHOST_USER_SET_MEM_TABLE, "SET_MEM_TABLE"},
        {GW_VHOST_USER_SET_LOG_BASE, "SET_LOG_BASE"},
        {GW_VHOST_USER_SET_LOG_FD, "SET_LOG_FD"},
        {GW_VHOST_USER_SET_VRING_NUM, "SET_VRING_NUM"},
        {GW_VHOST_USER_SET_VRING_ADDR, "SET_VRING_ADDR"},
        {GW_VHOST_USER_SET_VRING_BASE, "SET_VRING_BASE"},
        {GW_VHOST_USER_GET_VRING_BASE, "GET_VRING_BASE"},
        {GW_VHOST_USER_SET_VRING_KICK, "SET_VRING_KICK"},
        {GW_VHOST_USER_SET_VRING_CALL, "SET_VRING_CALL"},
        {GW_VHOST_USER_SET_VRING_ERR, "SET_VRING_ERR"},
        {GW_VHOST_USER_GET_PROTOCOL_FEATURES, "GET_PROTOCOL_FEATURES"},
        {GW_VHOST_USER_SET_PROTOCOL_FEATURES, "SET_PROTOCOL_FEATURES"},
        {GW_VHOST_USER_GET_QUEUE_NUM, "GET_QUEUE_NUM"},
        {GW_VHOST_USER_SET_VRING_ENABLE, "SET_VRING_ENABLE"},
        {GW_VHOST_USER_GET_CONFIG, "GET_CONFIG"},
        {GW_VHOST_USER_SET_CONFIG, "SET_CONFIG"},
        {GW_VHOST_USER_GET_INFLIGHT_FD, "GET_INFLIGHT_FD"},
        {GW_VHOST_USER_SET_INFLIGHT_FD, "SET_INFLIGHT_FD"},
        {GW_VHOST_USER_RESET_DEVICE, "RESET_DEVICE"},
        {GW_VHOST_USER_GET_MAX_MEM_SLOTS, "GET_MAX_MEM_SLOTS"},
        {0, "unknown"},
        {19, "unknown"},
        {35, "unknown"},
        {37, "unknown"},
        {UINT32_MAX, "unknown"},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_string_equal(gw_vhost_request_name(names[i].request), names[i].name);
}

/* ---- replies ---- */

/* The reply buffer, poisoned so bytes written past the returned length show. */
static uint8_t out[GW_VHOST_MSG_HDR_LEN + GW_VHOST_MSG_PAYLOAD_MAX];

static void poison(void)
{
    memset(out, 0xa5, sizeof(out));
}

static void check_reply_hdr(size_t len, uint32_t request, uint32_t size)
{
    assert_int_equal(len, GW_VHOST_MSG_HDR_LEN + size);
    assert_int_equal(get32(out), request);
    assert_int_equal(get32(out + 4), GW_VHOST_MSG_VERSION | GW_VHOST_MSG_REPLY);
    assert_int_equal(get32(out + 8), size);
    assert_int_equal(out[len], 0xa5);
}

static void test_vhost_msg_reply_u64(void **state)
{
    static const uint8_t want[] = {
        0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
        0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01,
    };
    size_t len;

    poison();
    len = gw_vhost_msg_reply_u64(out, GW_VHOST_USER_GET_FEATURES, 0x0123456789abcdefull);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    check_reply_hdr(len, GW_VHOST_USER_GET_FEATURES, 8);

    /* a REPLY_ACK for SET_MEM_TABLE: 1 is failure */
    poison();
    len = gw_vhost_msg_reply_u64(out, GW_VHOST_USER_SET_MEM_TABLE, 1);
    check_reply_hdr(len, GW_VHOST_USER_SET_MEM_TABLE, 8);
    assert_int_equal(get64(out + 12), 1);
}

static void test_vhost_msg_reply_state(void **state)
{
    static const uint8_t want[] = {
        0x0b, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x34, 0x12, 0x00, 0x00,
    };
    struct gw_vhost_vring_state s = {.index = 1, .num = 0x1234};
    size_t len;

    poison();
    len = gw_vhost_msg_reply_state(out, GW_VHOST_USER_GET_VRING_BASE, &s);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    check_reply_hdr(len, GW_VHOST_USER_GET_VRING_BASE, 8);
}

static void test_vhost_msg_reply_config(void **state)
{
    static const uint8_t hdr60[] = {
        0x18, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    struct gw_vhost_config cfg = {.offset = 0, .size = 60, .flags = 0};
    size_t len;

    for (unsigned i = 0; i < GW_VHOST_CONFIG_MAX; i++)
        cfg.data[i] = (uint8_t)(0x40 + i);
    poison();
    len = gw_vhost_msg_reply_config(out, &cfg);
    assert_int_equal(len, 12 + 12 + 60);
    assert_memory_equal(out, hdr60, sizeof(hdr60));
    assert_memory_equal(out + 24, cfg.data, 60);
    check_reply_hdr(len, GW_VHOST_USER_GET_CONFIG, 12 + 60);

    cfg.offset = 8;
    cfg.size = GW_VHOST_CONFIG_MAX;
    cfg.flags = 1;
    poison();
    len = gw_vhost_msg_reply_config(out, &cfg);
    check_reply_hdr(len, GW_VHOST_USER_GET_CONFIG, 12 + GW_VHOST_CONFIG_MAX);
    assert_int_equal(get32(out + 12), 8);
    assert_int_equal(get32(out + 16), GW_VHOST_CONFIG_MAX);
    assert_int_equal(get32(out + 20), 1);
    assert_memory_equal(out + 24, cfg.data, GW_VHOST_CONFIG_MAX);
}

/* The spec: "zero length of payload to indicate an error". */
static void test_vhost_msg_reply_config_error_is_header_only(void **state)
{
    static const uint8_t want[] = {
        0x18, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    struct gw_vhost_config cfg = {.offset = 4, .size = 0, .flags = 0};
    size_t len;

    poison();
    len = gw_vhost_msg_reply_config(out, &cfg);
    assert_int_equal(len, GW_VHOST_MSG_HDR_LEN);
    assert_memory_equal(out, want, sizeof(want));
    check_reply_hdr(len, GW_VHOST_USER_GET_CONFIG, 0);
}

static void test_vhost_msg_reply_inflight(void **state)
{
    static const uint8_t want[] = {
        0x1f, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00,
        0x00, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, /* mmap_size 0x21000 */
        0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* mmap_offset 0x1000 */
        0x04, 0x00, 0x00, 0x01,                         /* 4 queues of 256 */
        0x00, 0x00, 0x00, 0x00,                         /* padding */
    };
    struct gw_vhost_inflight in = {.mmap_size = 0x21000, .mmap_offset = 0x1000,
                                   .num_queues = 4, .queue_size = 256};
    size_t len;

    poison();
    len = gw_vhost_msg_reply_inflight(out, &in);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    check_reply_hdr(len, GW_VHOST_USER_GET_INFLIGHT_FD, 24);
}

/* A reply is never accepted as a request: the codec's own output, read
 * back, fails with -EPROTO. */
static void test_vhost_msg_reply_is_not_a_request(void **state)
{
    struct gw_vhost_msg m;

    gw_vhost_msg_reply_u64(out, GW_VHOST_USER_GET_FEATURES, 0);
    assert_int_equal(gw_vhost_msg_parse_hdr(out, &m), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vhost_msg_hdr_parses_version_1),
        cmocka_unit_test(test_vhost_msg_hdr_rejects_bad_version),
        cmocka_unit_test(test_vhost_msg_hdr_rejects_reply_flag),
        cmocka_unit_test(test_vhost_msg_hdr_size_limit),
        cmocka_unit_test(test_vhost_msg_decode_every_request_right_shape),
        cmocka_unit_test(test_vhost_msg_decode_every_request_size_off_by_one),
        cmocka_unit_test(test_vhost_msg_decode_every_request_fd_count),
        cmocka_unit_test(test_vhost_msg_decode_u64),
        cmocka_unit_test(test_vhost_msg_decode_vring_state),
        cmocka_unit_test(test_vhost_msg_decode_vring_addr),
        cmocka_unit_test(test_vhost_msg_decode_vring_fd_with_fd),
        cmocka_unit_test(test_vhost_msg_decode_vring_fd_nofd_bit),
        cmocka_unit_test(test_vhost_msg_decode_vring_fd_junk_bits),
        cmocka_unit_test(test_vhost_msg_mem_table_short_payload),
        cmocka_unit_test(test_vhost_msg_mem_table_full_array_qemu_style),
        cmocka_unit_test(test_vhost_msg_mem_table_fd_count_is_n),
        cmocka_unit_test(test_vhost_msg_mem_table_bad_n),
        cmocka_unit_test(test_vhost_msg_config_get_and_set),
        cmocka_unit_test(test_vhost_msg_config_past_256),
        cmocka_unit_test(test_vhost_msg_config_size_mismatch),
        cmocka_unit_test(test_vhost_msg_inflight_sizes),
        cmocka_unit_test(test_vhost_msg_unknown_request_is_eopnotsupp),
        cmocka_unit_test(test_vhost_msg_request_names),
        cmocka_unit_test(test_vhost_msg_reply_u64),
        cmocka_unit_test(test_vhost_msg_reply_state),
        cmocka_unit_test(test_vhost_msg_reply_config),
        cmocka_unit_test(test_vhost_msg_reply_config_error_is_header_only),
        cmocka_unit_test(test_vhost_msg_reply_inflight),
        cmocka_unit_test(test_vhost_msg_reply_is_not_a_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

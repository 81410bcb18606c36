/* Writes the seed corpus of the vhost_msg fuzz target (format in
 * fuzz_vhost_msg.c: per message an fd-count byte, the header, the payload):
 * what QEMU sends when it starts a vhost-user-blk device with one queue
 * (feature and protocol negotiation, GET_CONFIG of virtio_blk_config, the
 * two-region memory table short and in QEMU's full 8-region form, ring
 * setup with its kick and call fds, enable, and GET_VRING_BASE on stop),
 * plus the other requests msg.c decodes. Run by hand after a format change:
 *   fuzz_vhost_msg_gen_corpus tests/fuzz/corpus/vhost_msg */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gateway/vhost/msg.h"

#define V1 GW_VHOST_MSG_VERSION
#define ACK (GW_VHOST_MSG_VERSION | GW_VHOST_MSG_NEED_REPLY)
/* virtio-blk SIZE_MAX SEG_MAX BLK_SIZE FLUSH TOPOLOGY MQ DISCARD WRITE_ZEROES,
 * RING_INDIRECT_DESC, RING_EVENT_IDX, VERSION_1, and PROTOCOL_FEATURES */
#define BLK_FEATURES 0x170007646ull
#define PROTOCOL_FEATURES                                                                      \
    ((1ull << GW_VHOST_PROTOCOL_F_MQ) | (1ull << GW_VHOST_PROTOCOL_F_REPLY_ACK) |              \
     (1ull << GW_VHOST_PROTOCOL_F_CONFIG))
#define RAM_LO 0x80000000ull  /* guest RAM below 4 GiB ... */
#define RAM_HI 0x40000000ull  /* ... and above it */
#define HVA 0x7f3a00000000ull /* where QEMU mapped it */

static const char *out_dir;
static uint8_t buf[64 << 10];
static size_t len;

static void put(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Starts a message of @size payload bytes arriving with @n_fds fds; returns
 * its payload. */
static uint8_t *msg(uint8_t n_fds, uint32_t request, uint32_t flags, uint32_t size)
{
    uint8_t *p = buf + len;

    p[0] = n_fds;
    put(p + 1, request, 4);
    put(p + 5, flags, 4);
    put(p + 9, size, 4);
    memset(p + 13, 0, size);
    len += 13 + size;
    return p + 13;
}

static void msg_u64(uint8_t n_fds, uint32_t request, uint32_t flags, uint64_t v)
{
    put(msg(n_fds, request, flags, 8), v, 8);
}

static void msg_state(uint32_t request, uint32_t index, uint32_t num)
{
    uint8_t *p = msg(0, request, ACK, 8);

    put(p, index, 4);
    put(p + 4, num, 4);
}

/* SET_MEM_TABLE of two regions; @full sends all 8 slots as QEMU does. */
static void mem_table(int full)
{
    uint8_t *p = msg(2, GW_VHOST_USER_SET_MEM_TABLE, ACK, 8 + 32 * (full ? 8 : 2));

    put(p, 2, 4);
    put(p + 8, 0, 8);
    put(p + 16, RAM_LO, 8);
    put(p + 24, HVA, 8);
    put(p + 32, 0, 8);
    put(p + 40, 0x100000000ull, 8);
    put(p + 48, RAM_HI, 8);
    put(p + 56, HVA + RAM_LO, 8);
    put(p + 64, RAM_LO, 8);
}

static void negotiate(void)
{
    uint8_t *p;

    msg(0, GW_VHOST_USER_GET_FEATURES, V1, 0);
    msg(0, GW_VHOST_USER_GET_PROTOCOL_FEATURES, V1, 0);
    msg_u64(0, GW_VHOST_USER_SET_PROTOCOL_FEATURES, V1, PROTOCOL_FEATURES);
    msg(0, GW_VHOST_USER_GET_QUEUE_NUM, V1, 0);
    msg(0, GW_VHOST_USER_SET_OWNER, ACK, 0);
    msg(0, GW_VHOST_USER_GET_FEATURES, V1, 0);
    msg_u64(1, GW_VHOST_USER_SET_VRING_CALL, ACK, 0);
    p = msg(0, GW_VHOST_USER_GET_CONFIG, V1, 12 + 60);
    put(p + 4, 60, 4); /* offset 0, 60 bytes: all of virtio_blk_config */
}

static void start(int full_table)
{
    uint8_t *p;

    msg_u64(0, GW_VHOST_USER_SET_FEATURES, ACK, BLK_FEATURES);
    mem_table(full_table);
    msg_state(GW_VHOST_USER_SET_VRING_NUM, 0, 256);
    msg_state(GW_VHOST_USER_SET_VRING_BASE, 0, 0);
    p = msg(0, GW_VHOST_USER_SET_VRING_ADDR, ACK, 40);
    put(p + 8, HVA + 0x10000, 8);  /* desc */
    put(p + 16, HVA + 0x12000, 8); /* used */
    put(p + 24, HVA + 0x11000, 8); /* avail */
    msg_u64(1, GW_VHOST_USER_SET_VRING_KICK, ACK, 0);
    msg_u64(1, GW_VHOST_USER_SET_VRING_CALL, ACK, 0);
    msg_state(GW_VHOST_USER_SET_VRING_ENABLE, 0, 1);
}

static void stop(void)
{
    msg_state(GW_VHOST_USER_SET_VRING_ENABLE, 0, 0);
    msg_state(GW_VHOST_USER_GET_VRING_BASE, 0, 0);
    msg_u64(0, GW_VHOST_USER_SET_VRING_CALL, ACK, GW_VHOST_VRING_NOFD);
}

static void others(void)
{
    uint8_t *p;

    msg(0, GW_VHOST_USER_GET_MAX_MEM_SLOTS, V1, 8);
    p = msg(0, GW_VHOST_USER_SET_CONFIG, ACK, 12 + 4);
    put(p, 20, 4); /* writeback, say */
    put(p + 4, 4, 4);
    put(p + 12, 1, 4);
    p = msg(0, GW_VHOST_USER_GET_INFLIGHT_FD, V1, 24);
    put(p + 16, 1, 2);
    put(p + 18, 256, 2);
    p = msg(1, GW_VHOST_USER_SET_INFLIGHT_FD, ACK, 24);
    put(p, 0x2140, 8);
    put(p + 16, 1, 2);
    put(p + 18, 256, 2);
    msg_u64(0, GW_VHOST_USER_SET_VRING_ERR, V1, GW_VHOST_VRING_NOFD); /* ring 0 */
    msg(0, GW_VHOST_USER_RESET_DEVICE, ACK, 0);
    msg(0, GW_VHOST_USER_RESET_OWNER, V1, 0);
    msg_u64(1, GW_VHOST_USER_SET_LOG_FD, ACK, 0); /* not supported: refused, not fatal */
}

static int save(const char *name)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", out_dir, name);
    FILE *fp = fopen(path, "wb");
    int r = !fp || fwrite(buf, 1, len, fp) != len;
    if (fp && fclose(fp) != 0)
        r = 1;
    if (r)
        perror(path);
    len = 0;
    return r;
}

int main(int argc, char **argv)
{
    int r = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    negotiate();
    r |= save("negotiate.bin");
    start(0);
    r |= save("start.bin");
    mem_table(1);
    r |= save("mem-table-qemu.bin");
    stop();
    r |= save("stop.bin");
    negotiate();
    start(1);
    stop();
    r |= save("session.bin");
    others();
    r |= save("other-requests.bin");
    return r;
}

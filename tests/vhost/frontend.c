/* The test-side vhost-user-blk front-end (see frontend.h): message framing
 * over the unix socket with SCM_RIGHTS, the QEMU start sequence, guest memory
 * in a memfd, split virtqueues (direct and indirect chains, optional
 * EVENT_IDX), and a raw API for hostile input. Nothing here trusts the
 * backend: used-ring entries and replies are validated, every wait has a
 * deadline. Called by vhost_hostile.c and vhost_load.c. */
#define _GNU_SOURCE
#include "tests/vhost/frontend.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define GPA_BASE 0x100000000ull   /* 4 GiB: guest-physical base of region 0 */
#define UVA_BASE 0x100000000000ull /* 16 TiB: announced "QEMU" address */
#define REGION_GAP 0x40000000ull  /* 1 GiB hole between two regions */
#define CONFIG_LEN 60             /* virtio_blk_config up to write_zeroes_may_unmap */
#define SLOT_STATUS 16
#define SLOT_TABLE 32

static int fail(struct vfe *fe, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct vfe *fe, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(fe->err, sizeof(fe->err), fmt, ap);
    va_end(ap);
    return rc;
}

int64_t vfe_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *vfe_status_name(int status)
{
    switch (status) {
    case VFE_BLK_S_OK:
        return "OK";
    case VFE_BLK_S_IOERR:
        return "IOERR";
    case VFE_BLK_S_UNSUPP:
        return "UNSUPP";
    default:
        return "?";
    }
}

void vfe_opts_default(struct vfe_opts *o, const char *socket_path)
{
    memset(o, 0, sizeof(*o));
    o->socket_path = socket_path;
    o->mem_size = 64ull << 20;
    o->nregions = 1;
    o->num_queues = 1;
    o->queue_size = 256;
    o->timeout_ms = 5000;
}

/* ---- socket I/O ---- */

static int poll_until(int fd, short events, int64_t deadline_ns)
{
    for (;;) {
        int64_t left = deadline_ns - vfe_now_ns();
        struct pollfd p = {.fd = fd, .events = events};
        int rc;

        if (left <= 0)
            return -ETIMEDOUT;
        rc = poll(&p, 1, (int)((left + 999999) / 1000000));
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -errno;
        if (rc > 0)
            return 0;
    }
}

static int read_full(struct vfe *fe, void *buf, size_t len, int64_t deadline_ns)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = recv(fe->sock, (char *)buf + got, len - got, MSG_DONTWAIT);
        int rc;

        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0)
            return -ECONNRESET;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        rc = poll_until(fe->sock, POLLIN, deadline_ns);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int vfe_send_msg(struct vfe *fe, uint32_t request, uint32_t flags, uint32_t size,
                 const void *payload, size_t len, const int *fds, unsigned nfds)
{
    struct vfe_msg_hdr hdr = {.request = request, .flags = flags, .size = size};
    union {
        char buf[CMSG_SPACE(sizeof(int) * 16)];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)payload, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    size_t total = sizeof(hdr) + len, sent = 0;
    int64_t deadline = vfe_now_ns() + (int64_t)fe->opts.timeout_ms * 1000000;

    if (nfds > 16)
        return fail(fe, -EINVAL, "too many fds (%u)", nfds);
    if (nfds) {
        struct cmsghdr *c;

        memset(&cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    while (sent < total) {
        ssize_t n = sendmsg(fe->sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            int rc = poll_until(fe->sock, POLLOUT, deadline);

            if (rc < 0)
                return fail(fe, rc, "send of request %u: backend not reading", request);
            continue;
        }
        if (n < 0)
            return fail(fe, -errno, "send of request %u: %s", request, strerror(errno));
        sent += (size_t)n;
        /* fds went with the first byte; a short write continues plain */
        mh.msg_control = NULL;
        mh.msg_controllen = 0;
        while (n > 0 && mh.msg_iovlen > 0) {
            size_t k = (size_t)n < mh.msg_iov[0].iov_len ? (size_t)n : mh.msg_iov[0].iov_len;

            mh.msg_iov[0].iov_base = (char *)mh.msg_iov[0].iov_base + k;
            mh.msg_iov[0].iov_len -= k;
            n -= (ssize_t)k;
            if (mh.msg_iov[0].iov_len == 0) {
                mh.msg_iov++;
                mh.msg_iovlen--;
            }
        }
    }
    return 0;
}

int vfe_recv_msg(struct vfe *fe, struct vfe_msg_hdr *hdr, void *payload, size_t cap,
                 int timeout_ms)
{
    int64_t deadline = vfe_now_ns() + (int64_t)timeout_ms * 1000000;
    uint8_t scratch[VFE_MAX_PAYLOAD];
    int rc;

    rc = read_full(fe, hdr, sizeof(*hdr), deadline);
    if (rc < 0)
        return fail(fe, rc, "no reply header: %s", strerror(-rc));
    if (hdr->size > VFE_MAX_PAYLOAD)
        return fail(fe, -EPROTO, "reply to %u claims %u payload bytes", hdr->request, hdr->size);
    rc = read_full(fe, scratch, hdr->size, deadline);
    if (rc < 0)
        return fail(fe, rc, "reply payload to %u: %s", hdr->request, strerror(-rc));
    memcpy(payload, scratch, hdr->size < cap ? hdr->size : cap);
    return 0;
}

static const char *request_name(uint32_t request)
{
    static const char *const names[] = {
        [VFE_GET_FEATURES] = "GET_FEATURES",
        [VFE_SET_FEATURES] = "SET_FEATURES",
        [VFE_SET_OWNER] = "SET_OWNER",
        [VFE_SET_MEM_TABLE] = "SET_MEM_TABLE",
        [VFE_SET_VRING_NUM] = "SET_VRING_NUM",
        [VFE_SET_VRING_ADDR] = "SET_VRING_ADDR",
        [VFE_SET_VRING_BASE] = "SET_VRING_BASE",
        [VFE_GET_VRING_BASE] = "GET_VRING_BASE",
        [VFE_SET_VRING_KICK] = "SET_VRING_KICK",
        [VFE_SET_VRING_CALL] = "SET_VRING_CALL",
        [VFE_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
        [VFE_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
        [VFE_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
        [VFE_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
        [VFE_GET_CONFIG] = "GET_CONFIG",
    };

    if (request < sizeof(names) / sizeof(names[0]) && names[request])
        return names[request];
    return "request";
}

static int expect_reply(struct vfe *fe, uint32_t request, struct vfe_msg_hdr *hdr, void *out,
                        uint32_t cap)
{
    int rc = vfe_recv_msg(fe, hdr, out, cap, fe->opts.timeout_ms);

    if (rc == -ETIMEDOUT)
        return fail(fe, rc, "backend did not answer %s (%u) within %d ms",
                    request_name(request), request, fe->opts.timeout_ms);
    if (rc == -ECONNRESET)
        return fail(fe, rc, "backend closed the connection instead of answering %s (%u)",
                    request_name(request), request);
    if (rc < 0)
        return rc;
    if (hdr->request != request)
        return fail(fe, -EPROTO, "reply to %u carries request %u", request, hdr->request);
    if (!(hdr->flags & VFE_FLAG_REPLY) || (hdr->flags & 3) != VFE_FLAG_VERSION)
        return fail(fe, -EPROTO, "reply to %u has flags 0x%x", request, hdr->flags);
    return 0;
}

int vfe_get(struct vfe *fe, uint32_t request, const void *in, uint32_t in_len, void *out,
            uint32_t out_cap, uint32_t *out_len)
{
    struct vfe_msg_hdr hdr;
    int rc;

    rc = vfe_send_msg(fe, request, VFE_FLAG_VERSION, in_len, in, in_len, NULL, 0);
    if (rc < 0)
        return rc;
    rc = expect_reply(fe, request, &hdr, out, out_cap);
    if (rc < 0)
        return rc;
    if (hdr.size > out_cap)
        return fail(fe, -EPROTO, "reply to %u: %u bytes, expected at most %u", request,
                    hdr.size, out_cap);
    *out_len = hdr.size;
    return 0;
}

static int get_u64(struct vfe *fe, uint32_t request, uint64_t *v)
{
    uint32_t len = 0;
    int rc = vfe_get(fe, request, NULL, 0, v, sizeof(*v), &len);

    if (rc == 0 && len != sizeof(*v))
        return fail(fe, -EPROTO, "reply to %u: %u bytes, expected 8", request, len);
    return rc;
}

int vfe_set(struct vfe *fe, uint32_t request, const void *in, uint32_t in_len, const int *fds,
            unsigned nfds)
{
    bool ack = fe->protocol_acked & (1ull << VFE_PF_REPLY_ACK);
    struct vfe_msg_hdr hdr;
    uint64_t v = 0;
    int rc;

    rc = vfe_send_msg(fe, request, VFE_FLAG_VERSION | (ack ? VFE_FLAG_NEED_REPLY : 0), in_len,
                      in, in_len, fds, nfds);
    if (rc < 0 || !ack)
        return rc;
    rc = expect_reply(fe, request, &hdr, &v, sizeof(v));
    if (rc < 0)
        return rc;
    if (hdr.size != sizeof(v))
        return fail(fe, -EPROTO, "ack of %u has %u bytes", request, hdr.size);
    if (v != 0)
        return fail(fe, -EPROTO, "backend refused request %u (ack %llu)", request,
                    (unsigned long long)v);
    return 0;
}

static int set_u64(struct vfe *fe, uint32_t request, uint64_t v)
{
    return vfe_set(fe, request, &v, sizeof(v), NULL, 0);
}

/* ---- guest memory ---- */

static int map_memory(struct vfe *fe)
{
    uint64_t size = (fe->opts.mem_size + (2ull << 20) - 1) & ~((2ull << 20) - 1);
    unsigned i;

    fe->memfd = memfd_create("vfe-guest", MFD_CLOEXEC);
    if (fe->memfd < 0)
        return fail(fe, -errno, "memfd_create: %s", strerror(errno));
    if (ftruncate(fe->memfd, (off_t)size) < 0)
        return fail(fe, -errno, "ftruncate memfd: %s", strerror(errno));
    fe->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fe->memfd, 0);
    if (fe->mem == MAP_FAILED) {
        fe->mem = NULL;
        return fail(fe, -errno, "mmap guest memory: %s", strerror(errno));
    }
    fe->mem_size = size;
    fe->nregions = fe->opts.nregions == 2 ? 2 : 1;
    for (i = 0; i < fe->nregions; i++) {
        struct vfe_region *r = &fe->regions[i];

        r->size = size / fe->nregions;
        r->fd_offset = r->size * i;
        r->gpa = GPA_BASE + r->fd_offset + REGION_GAP * i;
        r->uva = UVA_BASE + r->fd_offset + REGION_GAP * i;
        r->ptr = fe->mem + r->fd_offset;
    }
    return 0;
}

static const struct vfe_region *region_of_ptr(const struct vfe *fe, const void *p)
{
    unsigned i;

    for (i = 0; i < fe->nregions; i++) {
        const struct vfe_region *r = &fe->regions[i];

        if ((const uint8_t *)p >= r->ptr && (const uint8_t *)p < r->ptr + r->size)
            return r;
    }
    return NULL;
}

uint64_t vfe_gpa(const struct vfe *fe, const void *p)
{
    const struct vfe_region *r = region_of_ptr(fe, p);

    return r ? r->gpa + (uint64_t)((const uint8_t *)p - r->ptr) : UINT64_MAX;
}

uint64_t vfe_uva(const struct vfe *fe, const void *p)
{
    const struct vfe_region *r = region_of_ptr(fe, p);

    return r ? r->uva + (uint64_t)((const uint8_t *)p - r->ptr) : UINT64_MAX;
}

uint64_t vfe_region_end_gpa(const struct vfe *fe, unsigned i)
{
    return fe->regions[i].gpa + fe->regions[i].size;
}

uint64_t vfe_unmapped_gpa(const struct vfe *fe)
{
    return GPA_BASE / 2; /* below region 0, above 0: in no region */
}

int vfe_mem_alloc(struct vfe *fe, uint64_t len, uint64_t align, struct vfe_buf *out)
{
    uint64_t off = (fe->alloc_off + align - 1) & ~(align - 1);
    unsigned i;

    for (i = 0; i < fe->nregions; i++) {
        const struct vfe_region *r = &fe->regions[i];
        uint64_t end = r->fd_offset + r->size;

        if (off >= end)
            continue;
        if (off < r->fd_offset)
            off = r->fd_offset;
        if (off + len > end)
            continue; /* an object never straddles two regions */
        fe->alloc_off = off + len;
        out->ptr = fe->mem + off;
        out->gpa = r->gpa + (off - r->fd_offset);
        out->len = len;
        return 0;
    }
    return fail(fe, -ENOMEM, "guest memory full (%llu bytes wanted)", (unsigned long long)len);
}

uint64_t vfe_mem_mark(const struct vfe *fe)
{
    return fe->alloc_off;
}

void vfe_mem_release(struct vfe *fe, uint64_t mark)
{
    fe->alloc_off = mark;
}

/* ---- connection ---- */

int vfe_connect(struct vfe *fe, const struct vfe_opts *o)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int64_t deadline;
    int rc;

    memset(fe, 0, sizeof(*fe));
    fe->sock = -1;
    fe->memfd = -1;
    fe->opts = *o;
    if (!fe->opts.mem_size)
        fe->opts.mem_size = 64ull << 20;
    if (!fe->opts.queue_size)
        fe->opts.queue_size = 256;
    if (!fe->opts.timeout_ms)
        fe->opts.timeout_ms = 5000;
    if (!fe->opts.num_queues)
        fe->opts.num_queues = 1;
    if (fe->opts.queue_size > 32768 || (fe->opts.queue_size & (fe->opts.queue_size - 1)))
        return fail(fe, -EINVAL, "queue size %u is not a power of 2 <= 32768",
                    fe->opts.queue_size);
    if (strlen(o->socket_path) >= sizeof(sa.sun_path))
        return fail(fe, -ENAMETOOLONG, "socket path too long");
    strcpy(sa.sun_path, o->socket_path);
    fe->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fe->sock < 0)
        return fail(fe, -errno, "socket: %s", strerror(errno));
    /* a unix connect to a full backlog fails with EAGAIN instead of blocking */
    deadline = vfe_now_ns() + (int64_t)fe->opts.timeout_ms * 1000000;
    while ((rc = connect(fe->sock, (struct sockaddr *)&sa, sizeof(sa))) < 0 &&
           (errno == EAGAIN || errno == EINTR) && vfe_now_ns() < deadline)
        usleep(10000);
    if (rc < 0) {
        rc = -errno;
        close(fe->sock);
        fe->sock = -1;
        return fail(fe, rc, "connect %s: %s", o->socket_path, strerror(-rc));
    }
    rc = map_memory(fe);
    if (rc < 0)
        vfe_close(fe);
    return rc;
}

static uint16_t le16_at(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32_at(const uint8_t *p)
{
    return (uint32_t)le16_at(p) | (uint32_t)le16_at(p + 2) << 16;
}

static int get_config(struct vfe *fe)
{
    uint8_t in[12 + CONFIG_LEN] = {0}, out[12 + CONFIG_LEN];
    const uint8_t *c = out + 12;
    uint32_t len, v;
    int rc;

    v = CONFIG_LEN;
    memcpy(in + 4, &v, 4); /* offset 0, size, flags 0 */
    rc = vfe_get(fe, VFE_GET_CONFIG, in, sizeof(in), out, sizeof(out), &len);
    if (rc < 0)
        return rc;
    if (len != sizeof(out))
        return fail(fe, -EPROTO, "GET_CONFIG reply has %u bytes, expected %zu", len,
                    sizeof(out));
    /* virtio 1.x 5.2.4 struct virtio_blk_config */
    fe->cfg.capacity_sectors = (uint64_t)le32_at(c) | (uint64_t)le32_at(c + 4) << 32;
    if (fe->features & (1ull << VFE_F_BLK_SIZE_MAX))
        fe->cfg.size_max = le32_at(c + 8);
    if (fe->features & (1ull << VFE_F_BLK_SEG_MAX))
        fe->cfg.seg_max = le32_at(c + 12);
    fe->cfg.blk_size = VFE_SECTOR;
    if (fe->features & (1ull << VFE_F_BLK_BLK_SIZE))
        fe->cfg.blk_size = le32_at(c + 20);
    fe->cfg.num_queues = 1;
    if (fe->features & (1ull << VFE_F_BLK_MQ))
        fe->cfg.num_queues = le16_at(c + 34);
    if (fe->features & (1ull << VFE_F_BLK_DISCARD)) {
        fe->cfg.max_discard_sectors = le32_at(c + 36);
        fe->cfg.max_discard_seg = le32_at(c + 40);
    }
    if (fe->features & (1ull << VFE_F_BLK_WRITE_ZEROES)) {
        fe->cfg.max_write_zeroes_sectors = le32_at(c + 48);
        fe->cfg.max_write_zeroes_seg = le32_at(c + 52);
    }
    if (fe->cfg.blk_size < VFE_SECTOR || (fe->cfg.blk_size & (fe->cfg.blk_size - 1)))
        return fail(fe, -EPROTO, "config blk_size %u is not a power of 2 >= 512",
                    fe->cfg.blk_size);
    return 0;
}

int vfe_negotiate(struct vfe *fe)
{
    uint64_t want = 1ull << VFE_F_VERSION_1 | 1ull << VFE_F_PROTOCOL_FEATURES |
                    1ull << VFE_F_BLK_SIZE_MAX | 1ull << VFE_F_BLK_SEG_MAX |
                    1ull << VFE_F_BLK_GEOMETRY | 1ull << VFE_F_BLK_RO |
                    1ull << VFE_F_BLK_BLK_SIZE | 1ull << VFE_F_BLK_FLUSH |
                    1ull << VFE_F_BLK_TOPOLOGY | 1ull << VFE_F_BLK_MQ |
                    1ull << VFE_F_BLK_DISCARD | 1ull << VFE_F_BLK_WRITE_ZEROES;
    uint64_t pf_want = 1ull << VFE_PF_MQ | 1ull << VFE_PF_REPLY_ACK | 1ull << VFE_PF_CONFIG;
    int rc;

    if (!fe->opts.no_indirect)
        want |= 1ull << VFE_F_INDIRECT_DESC;
    if (fe->opts.event_idx)
        want |= 1ull << VFE_F_EVENT_IDX;
    rc = vfe_set(fe, VFE_SET_OWNER, NULL, 0, NULL, 0);
    if (rc == 0)
        rc = get_u64(fe, VFE_GET_FEATURES, &fe->features);
    if (rc < 0)
        return rc;
    if (!(fe->features & (1ull << VFE_F_VERSION_1)))
        return fail(fe, -EPROTO, "backend lacks VIRTIO_F_VERSION_1 (features 0x%llx)",
                    (unsigned long long)fe->features);
    if (!(fe->features & (1ull << VFE_F_PROTOCOL_FEATURES)))
        return fail(fe, -EPROTO, "backend lacks VHOST_USER_F_PROTOCOL_FEATURES");
    rc = get_u64(fe, VFE_GET_PROTOCOL_FEATURES, &fe->protocol_features);
    if (rc < 0)
        return rc;
    if (!(fe->protocol_features & (1ull << VFE_PF_CONFIG)))
        return fail(fe, -EPROTO, "backend lacks VHOST_USER_PROTOCOL_F_CONFIG");
    fe->protocol_acked = fe->protocol_features & pf_want;
    /* REPLY_ACK takes effect only after this message is processed */
    rc = vfe_send_msg(fe, VFE_SET_PROTOCOL_FEATURES, VFE_FLAG_VERSION, 8, &fe->protocol_acked,
                      8, NULL, 0);
    if (rc < 0)
        return rc;
    fe->backend_queues = 1;
    if (fe->protocol_acked & (1ull << VFE_PF_MQ)) {
        uint64_t n;

        rc = get_u64(fe, VFE_GET_QUEUE_NUM, &n);
        if (rc < 0)
            return rc;
        fe->backend_queues = n > VFE_MAX_QUEUES ? VFE_MAX_QUEUES : (unsigned)n;
    }
    rc = get_config(fe);
    if (rc < 0)
        return rc;
    fe->nqueues = fe->opts.num_queues;
    if (fe->nqueues > fe->backend_queues)
        fe->nqueues = fe->backend_queues;
    if (fe->nqueues > fe->cfg.num_queues)
        fe->nqueues = fe->cfg.num_queues;
    if (fe->nqueues == 0)
        return fail(fe, -EPROTO, "backend offers no queues");
    fe->acked = fe->features & want;
    return set_u64(fe, VFE_SET_FEATURES, fe->acked);
}

int vfe_set_mem_table(struct vfe *fe)
{
    uint8_t msg[8 + 32 * VFE_MAX_REGIONS] = {0};
    int fds[VFE_MAX_REGIONS];
    uint32_t n = fe->nregions;
    unsigned i;

    memcpy(msg, &n, 4);
    for (i = 0; i < n; i++) {
        const struct vfe_region *r = &fe->regions[i];
        uint64_t reg[4] = {r->gpa, r->size, r->uva, r->fd_offset};

        memcpy(msg + 8 + 32 * i, reg, sizeof(reg));
        fds[i] = fe->memfd;
    }
    return vfe_set(fe, VFE_SET_MEM_TABLE, msg, 8 + 32 * n, fds, n);
}

/* ---- queues ---- */

static int queue_alloc(struct vfe *fe, struct vfe_queue *q, unsigned index)
{
    uint16_t num = (uint16_t)fe->opts.queue_size;
    struct vfe_buf b;
    unsigned i;
    int rc;

    q->fe = fe;
    q->index = index;
    q->num = num;
    q->kick_fd = q->call_fd = -1;
    q->free_stack = calloc(num, sizeof(*q->free_stack));
    q->shadow_next = calloc(num, sizeof(*q->shadow_next));
    q->chain_len = calloc(num, sizeof(*q->chain_len));
    q->ctx = calloc(num, sizeof(*q->ctx));
    q->inflight = calloc(num, sizeof(*q->inflight));
    if (!q->free_stack || !q->shadow_next || !q->chain_len || !q->ctx || !q->inflight)
        return fail(fe, -ENOMEM, "queue %u: out of memory", index);
    rc = vfe_mem_alloc(fe, 16ull * num, 4096, &b);
    if (rc < 0)
        return rc;
    q->desc = (struct vfe_vring_desc *)b.ptr;
    q->desc_gpa = b.gpa;
    rc = vfe_mem_alloc(fe, 6 + 2ull * num, 4096, &b);
    if (rc < 0)
        return rc;
    q->avail = (uint16_t *)b.ptr;
    q->avail_gpa = b.gpa;
    rc = vfe_mem_alloc(fe, 6 + 8ull * num, 4096, &b);
    if (rc < 0)
        return rc;
    q->used = b.ptr;
    q->used_gpa = b.gpa;
    q->slot_stride = SLOT_TABLE + (VFE_MAX_SEGS + 2) * 16;
    rc = vfe_mem_alloc(fe, (uint64_t)q->slot_stride * num, 4096, &b);
    if (rc < 0)
        return rc;
    q->slots = b.ptr;
    q->slots_gpa = b.gpa;
    for (i = 0; i < num; i++)
        q->free_stack[i] = (uint16_t)(num - 1 - i);
    q->nfree = num;
    q->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    q->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->kick_fd < 0 || q->call_fd < 0)
        return fail(fe, -errno, "eventfd: %s", strerror(errno));
    return 0;
}

int vfe_queue_start(struct vfe *fe, unsigned index)
{
    struct vfe_queue *q = &fe->q[index];
    uint32_t state[2];
    struct {
        uint32_t index, flags;
        uint64_t desc, used, avail, log;
    } __attribute__((packed)) addr;
    uint64_t v;
    int rc;

    rc = queue_alloc(fe, q, index);
    if (rc < 0)
        return rc;
    state[0] = index;
    state[1] = q->num;
    rc = vfe_set(fe, VFE_SET_VRING_NUM, state, sizeof(state), NULL, 0);
    if (rc < 0)
        return rc;
    state[1] = 0;
    rc = vfe_set(fe, VFE_SET_VRING_BASE, state, sizeof(state), NULL, 0);
    if (rc < 0)
        return rc;
    /* ring addresses are in the front-end's (announced) address space */
    addr.index = index;
    addr.flags = 0;
    addr.desc = vfe_uva(fe, q->desc);
    addr.used = vfe_uva(fe, q->used);
    addr.avail = vfe_uva(fe, q->avail);
    addr.log = 0;
    rc = vfe_set(fe, VFE_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0);
    if (rc < 0)
        return rc;
    v = index;
    rc = vfe_set(fe, VFE_SET_VRING_CALL, &v, sizeof(v), &q->call_fd, 1);
    if (rc < 0)
        return rc;
    rc = vfe_set(fe, VFE_SET_VRING_KICK, &v, sizeof(v), &q->kick_fd, 1);
    if (rc < 0)
        return rc;
    /* with PROTOCOL_FEATURES the ring starts disabled (vhost-user.rst "Ring states") */
    state[1] = 1;
    rc = vfe_set(fe, VFE_SET_VRING_ENABLE, state, sizeof(state), NULL, 0);
    if (rc < 0)
        return rc;
    q->started = true;
    return 0;
}

int vfe_open(struct vfe *fe, const struct vfe_opts *o)
{
    unsigned i;
    int rc;

    rc = vfe_connect(fe, o);
    if (rc < 0)
        return rc;
    rc = vfe_negotiate(fe);
    if (rc == 0)
        rc = vfe_set_mem_table(fe);
    for (i = 0; rc == 0 && i < fe->nqueues; i++)
        rc = vfe_queue_start(fe, i);
    if (rc < 0) {
        char err[sizeof(fe->err)];

        memcpy(err, fe->err, sizeof(err));
        vfe_close(fe);
        memcpy(fe->err, err, sizeof(err));
    }
    return rc;
}

int vfe_stop(struct vfe *fe)
{
    unsigned i;
    int rc = 0;

    for (i = 0; i < fe->nqueues; i++) {
        uint32_t state[2] = {i, 0}, out[2];
        uint32_t len = 0;
        int r;

        if (!fe->q[i].started)
            continue;
        r = vfe_get(fe, VFE_GET_VRING_BASE, state, sizeof(state), out, sizeof(out), &len);
        if (r == 0 && (len != sizeof(out) || out[0] != i))
            r = fail(fe, -EPROTO, "GET_VRING_BASE %u: bad reply", i);
        fe->q[i].started = false;
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

void vfe_close(struct vfe *fe)
{
    unsigned i;

    for (i = 0; i < VFE_MAX_QUEUES; i++) {
        struct vfe_queue *q = &fe->q[i];

        if (q->fe == NULL)
            continue;
        if (q->kick_fd >= 0)
            close(q->kick_fd);
        if (q->call_fd >= 0)
            close(q->call_fd);
        free(q->free_stack);
        free(q->shadow_next);
        free(q->chain_len);
        free(q->ctx);
        free(q->inflight);
        memset(q, 0, sizeof(*q));
    }
    if (fe->sock >= 0)
        close(fe->sock);
    if (fe->mem)
        munmap(fe->mem, fe->mem_size);
    if (fe->memfd >= 0)
        close(fe->memfd);
    fe->sock = fe->memfd = -1;
    fe->mem = NULL;
}

/* ---- descriptors and the rings ---- */

int vfe_desc_alloc(struct vfe_queue *q, unsigned n, uint16_t *idx)
{
    unsigned i;

    if (n == 0 || n > q->nfree)
        return -EAGAIN;
    for (i = 0; i < n; i++)
        idx[i] = q->free_stack[--q->nfree];
    for (i = 0; i + 1 < n; i++)
        q->shadow_next[idx[i]] = idx[i + 1];
    q->chain_len[idx[0]] = (uint16_t)n;
    return 0;
}

static void chain_free(struct vfe_queue *q, uint16_t head)
{
    uint16_t i = head, n = q->chain_len[head];

    while (n--) {
        q->free_stack[q->nfree++] = i;
        i = q->shadow_next[i];
    }
}

struct vfe_buf vfe_slot(struct vfe_queue *q, uint16_t head)
{
    struct vfe_buf b = {
        .ptr = q->slots + (size_t)q->slot_stride * head,
        .gpa = q->slots_gpa + (uint64_t)q->slot_stride * head,
        .len = q->slot_stride,
    };
    return b;
}

void vfe_raw_avail_push(struct vfe_queue *q, uint16_t value)
{
    q->avail[2 + q->avail_idx % q->num] = value;
    /* virtio 2.7.13: ring entries visible before the index that covers them */
    __atomic_store_n(&q->avail[1], (uint16_t)(q->avail_idx + 1), __ATOMIC_RELEASE);
    q->avail_idx++;
}

void vfe_raw_publish(struct vfe_queue *q, uint16_t head, void *ctx)
{
    q->ctx[head] = ctx;
    q->inflight[head] = true;
    q->ninflight++;
    vfe_raw_avail_push(q, head);
}

int vfe_submit(struct vfe_queue *q, const struct vfe_req *r)
{
    struct vfe_vring_desc d[VFE_MAX_SEGS + 2], *table;
    uint16_t idx[VFE_MAX_SEGS + 2], data_flags;
    unsigned n = r->nsegs + 2, i;
    struct vfe_buf slot;
    uint8_t *hdr;

    if (r->nsegs > VFE_MAX_SEGS)
        return -EINVAL;
    if (r->indirect && !(q->fe->acked & (1ull << VFE_F_INDIRECT_DESC)))
        return -EINVAL;
    if (vfe_desc_alloc(q, r->indirect ? 1 : n, idx) < 0)
        return -EAGAIN;
    slot = vfe_slot(q, idx[0]);
    hdr = slot.ptr;
    memcpy(hdr, &r->type, 4);
    memset(hdr + 4, 0, 4);
    memcpy(hdr + 8, &r->sector, 8);
    slot.ptr[SLOT_STATUS] = 0xff;
    data_flags = (r->type == VFE_BLK_T_IN || r->type == VFE_BLK_T_GET_ID) ? VFE_DESC_F_WRITE : 0;
    d[0] = (struct vfe_vring_desc){slot.gpa, 16, 0, 0};
    for (i = 0; i < r->nsegs; i++)
        d[i + 1] = (struct vfe_vring_desc){r->segs[i].gpa, r->segs[i].len, data_flags, 0};
    d[n - 1] = (struct vfe_vring_desc){slot.gpa + SLOT_STATUS, 1, VFE_DESC_F_WRITE, 0};
    if (r->indirect) {
        table = (struct vfe_vring_desc *)(slot.ptr + SLOT_TABLE);
        for (i = 0; i < n; i++) {
            table[i] = d[i];
            if (i + 1 < n) {
                table[i].flags |= VFE_DESC_F_NEXT;
                table[i].next = (uint16_t)(i + 1);
            }
        }
        q->desc[idx[0]] =
            (struct vfe_vring_desc){slot.gpa + SLOT_TABLE, 16 * n, VFE_DESC_F_INDIRECT, 0};
    } else {
        for (i = 0; i < n; i++) {
            q->desc[idx[i]] = d[i];
            if (i + 1 < n) {
                q->desc[idx[i]].flags |= VFE_DESC_F_NEXT;
                q->desc[idx[i]].next = idx[i + 1];
            }
        }
    }
    vfe_raw_publish(q, idx[0], r->ctx);
    return 0;
}

int vfe_kick(struct vfe_queue *q)
{
    uint16_t old = q->kicked_idx, now = q->avail_idx;
    uint64_t one = 1;
    bool need;

    if (old == now)
        return 0;
    /* the backend's suppression state must be read after our idx store */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (q->fe->acked & (1ull << VFE_F_EVENT_IDX)) {
        uint16_t ev = __atomic_load_n((uint16_t *)(q->used + 4 + 8 * q->num), __ATOMIC_ACQUIRE);

        need = (uint16_t)(now - ev - 1) < (uint16_t)(now - old); /* vring_need_event */
    } else {
        need = !(__atomic_load_n((uint16_t *)q->used, __ATOMIC_ACQUIRE) & 1);
    }
    q->kicked_idx = now;
    if (need && write(q->kick_fd, &one, sizeof(one)) != sizeof(one))
        return fail(q->fe, -errno, "kick queue %u: %s", q->index, strerror(errno));
    return 0;
}

static uint16_t used_idx(const struct vfe_queue *q)
{
    return __atomic_load_n((const uint16_t *)(q->used + 2), __ATOMIC_ACQUIRE);
}

int vfe_reap(struct vfe_queue *q, struct vfe_cpl *out, unsigned max)
{
    uint16_t end = used_idx(q);
    unsigned n = 0;

    if ((uint16_t)(end - q->last_used) > q->ninflight)
        return fail(q->fe, -EPROTO, "queue %u: used idx %u is %u ahead, only %u in flight",
                    q->index, end, (uint16_t)(end - q->last_used), q->ninflight);
    while (q->last_used != end && n < max) {
        const uint8_t *e = q->used + 4 + 8 * (q->last_used % q->num);
        uint32_t id, len;

        memcpy(&id, e, 4);
        memcpy(&len, e + 4, 4);
        if (id >= q->num || !q->inflight[id])
            return fail(q->fe, -EPROTO, "queue %u: used entry has head %u, not in flight",
                        q->index, id);
        out[n] = (struct vfe_cpl){q->ctx[id], (uint16_t)id, len,
                                  q->slots[(size_t)q->slot_stride * id + SLOT_STATUS]};
        q->inflight[id] = false;
        q->ninflight--;
        chain_free(q, (uint16_t)id);
        q->last_used++;
        n++;
    }
    if (q->fe->acked & (1ull << VFE_F_EVENT_IDX))
        __atomic_store_n(&q->avail[2 + q->num], q->last_used, __ATOMIC_RELEASE);
    return (int)n;
}

int vfe_wait(struct vfe *fe, struct vfe_queue *const *qs, unsigned nq, int64_t deadline_ns)
{
    struct pollfd p[VFE_MAX_QUEUES + 1];
    unsigned i;

    if (nq > VFE_MAX_QUEUES)
        return -EINVAL;
    for (;;) {
        int64_t left;
        int rc;

        /* pairs with the used_event store in vfe_reap: re-check before sleeping */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        for (i = 0; i < nq; i++)
            if (used_idx(qs[i]) != qs[i]->last_used)
                return 0;
        left = deadline_ns - vfe_now_ns();
        if (left <= 0)
            return fail(fe, -ETIMEDOUT, "no completion before the deadline");
        for (i = 0; i < nq; i++)
            p[i] = (struct pollfd){.fd = qs[i]->call_fd, .events = POLLIN};
        p[nq] = (struct pollfd){.fd = fe->sock, .events = POLLRDHUP};
        rc = poll(p, nq + 1, (int)((left + 999999) / 1000000));
        if (rc < 0 && errno != EINTR)
            return fail(fe, -errno, "poll: %s", strerror(errno));
        if (rc <= 0)
            continue;
        if (p[nq].revents & (POLLRDHUP | POLLHUP | POLLERR))
            return fail(fe, -ECONNRESET, "backend closed the connection");
        for (i = 0; i < nq; i++) {
            uint64_t v;

            if ((p[i].revents & POLLIN) && read(qs[i]->call_fd, &v, sizeof(v)) < 0 &&
                errno != EAGAIN)
                return fail(fe, -errno, "read call eventfd: %s", strerror(errno));
        }
    }
}

int vfe_do(struct vfe_queue *q, const struct vfe_req *r, struct vfe_cpl *cpl)
{
    int64_t deadline = vfe_now_ns() + (int64_t)q->fe->opts.timeout_ms * 1000000;
    int rc;

    rc = vfe_submit(q, r);
    if (rc < 0)
        return fail(q->fe, rc, "submit on queue %u: %s", q->index, strerror(-rc));
    rc = vfe_kick(q);
    while (rc == 0) {
        rc = vfe_reap(q, cpl, 1);
        if (rc == 1 && cpl->ctx != r->ctx)
            return fail(q->fe, -EPROTO, "queue %u: completion of another request", q->index);
        if (rc == 1)
            return 0;
        if (rc == 0)
            rc = vfe_wait(q->fe, &q, 1, deadline);
    }
    return rc;
}

/* A cairn-vhost session: the vhost-user control channel of one front-end
 * (QEMU docs/interop/vhost-user.rst) and the device state it configures:
 * features, memory table, rings, config space. The data path is io.c's;
 * the wire format msg.c's. Runs on the server's loop thread.
 *
 *   accept --> RX_HDR --12 bytes (fds gathered)--> RX_PAYLOAD --size bytes-->
 *     decode --ok--> [requests in flight: reading off, no new pops, wait
 *       until drained] --> handle --> reply (GETs; REPLY_ACK) --> RX_HDR
 *   any --EOF, socket error, bad header, oversize, bad fds--> closed:
 *     socket and fds closed, queues stopped, memory unmapped --last
 *     request completes--> freed, the server accepts the next front-end
 *
 * Handling a message waits for the data path to drain: a new memory table,
 * ring address or base must never change under a request that holds
 * pointers into guest memory, and GET_VRING_BASE must report a base with
 * every taken request completed (QEMU then restarts from it). While
 * waiting no queue takes new chains, so the wait ends.
 *
 * Invariants: 1. dev->fd >= 0 exactly while not closed. 2. msg_waiting
 * only while dev->inflight > 0. 3. dev->inflight is the sum of the queues'
 * inflight, and dev is freed only when it is 0 and closed. 4. A queue is
 * started only with rings mapped in dev->mem and a kick fd. */
#define _GNU_SOURCE /* memfd_create */
#include "gateway/vhost/internal.h"

#include "common/assert.h"
#include "common/log.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG(level, dev, fmt, ...)                                                               \
    cairn_log(level, CAIRN_SS_GATEWAY, "vhost: image %s: " fmt, (dev)->srv->image, ##__VA_ARGS__)

static void read_cb(evutil_socket_t fd, short what, void *arg);

uint64_t gw_vhost__dev_features(const struct gw_vhost_server *srv)
{
    uint64_t f = GW_VHOST_BLK_FEATURES | (1ull << GW_VHOST_F_PROTOCOL_FEATURES);

    if (srv->read_only)
        f |= 1ull << GW_VHOST_BLK_F_RO;
    return f;
}

static uint64_t protocol_features(void)
{
    return (1ull << GW_VHOST_PROTOCOL_F_MQ) | (1ull << GW_VHOST_PROTOCOL_F_REPLY_ACK) |
           (1ull << GW_VHOST_PROTOCOL_F_CONFIG) | (1ull << GW_VHOST_PROTOCOL_F_INFLIGHT_SHMFD);
}

static void close_fds(struct gw_vhost_msg *m)
{
    for (unsigned i = 0; i < m->n_fds; i++)
        if (m->fds[i] >= 0)
            close(m->fds[i]);
    m->n_fds = 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* ---- replies ---- */

static int send_reply(struct gw_vhost_dev *dev, size_t len)
{
    ssize_t n = send(dev->fd, dev->tx, len, MSG_NOSIGNAL | MSG_DONTWAIT);

    /* Replies are small; a front-end that leaves them unread has broken
     * the protocol. */
    if (n == (ssize_t)len)
        return 0;
    return n < 0 ? -errno : -EIO;
}

/* A reply that carries @fd (SCM_RIGHTS). */
static int send_reply_fd(struct gw_vhost_dev *dev, size_t len, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = dev->tx, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    ssize_t n;

    memset(&ctl, 0, sizeof(ctl));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    n = sendmsg(dev->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == (ssize_t)len)
        return 0;
    return n < 0 ? -errno : -EIO;
}

static int reply_u64(struct gw_vhost_dev *dev, uint64_t v)
{
    return send_reply(dev, gw_vhost_msg_reply_u64(dev->tx, dev->msg.request, v));
}

/* ---- handlers: 0, or -errno for a request that failed (the session goes on) ---- */

static struct gw_vhost_queue *queue_of(struct gw_vhost_dev *dev, uint32_t index)
{
    return index < dev->srv->num_queues ? &dev->q[index] : NULL;
}

static int set_features(struct gw_vhost_dev *dev, uint64_t f)
{
    if (f & ~gw_vhost__dev_features(dev->srv))
        return -EINVAL;
    dev->features = f;
    return 0;
}

/* Builds the new table aside, then swaps it in and maps the started rings
 * again; the old mappings go only after that. */
static int set_mem_table(struct gw_vhost_dev *dev)
{
    const struct gw_vhost_mem_table *t = &dev->msg.p.mem;
    struct gw_vhost_mem mem = {0};
    int r = 0;

    for (unsigned i = 0; i < t->n && r == 0; i++)
        r = gw_vhost_mem_add(&mem, dev->msg.fds[i], t->r[i].gpa, t->r[i].size, t->r[i].uaddr,
                             t->r[i].mmap_offset);
    if (r < 0) {
        gw_vhost_mem_clear(&mem);
        return r;
    }
    for (unsigned i = 0; i < dev->srv->num_queues; i++)
        gw_vhost__queue_unmap(&dev->q[i]);
    gw_vhost_mem_clear(&dev->mem);
    dev->mem = mem;
    for (unsigned i = 0; i < dev->srv->num_queues; i++) {
        struct gw_vhost_queue *q = &dev->q[i];
        if (q->started && gw_vhost__queue_start(q) < 0) {
            LOG(CAIRN_LOG_WARN, dev, "queue %u: its rings are outside the new memory table", i);
            gw_vhost__queue_stop(q);
        }
    }
    return 0;
}

static int set_vring_num(struct gw_vhost_dev *dev)
{
    struct gw_vhost_queue *q = queue_of(dev, dev->msg.p.state.index);
    uint32_t num = dev->msg.p.state.num;

    if (!q || num == 0 || num > GW_VHOST_VRING_NUM_MAX || (num & (num - 1)))
        return -EINVAL;
    q->num = num;
    return 0;
}

static int set_vring_addr(struct gw_vhost_dev *dev)
{
    const struct gw_vhost_vring_addr *a = &dev->msg.p.addr;
    struct gw_vhost_queue *q = queue_of(dev, a->index);

    struct gw_vhost_vring check;
    int r;

    if (!q)
        return -EINVAL;
    /* Refuse rings outside guest memory now, when memory and size are
     * known (QEMU's order), rather than at the first kick. */
    if (dev->mem.n > 0 && q->num) {
        gw_vhost_vring_init(&check);
        r = gw_vhost_vring_setup(&check, &dev->mem, q->num, a->desc_uaddr, a->avail_uaddr,
                                 a->used_uaddr, false);
        if (r < 0)
            return r;
    }
    q->desc_uaddr = a->desc_uaddr;
    q->avail_uaddr = a->avail_uaddr;
    q->used_uaddr = a->used_uaddr;
    q->have_addr = true;
    if (q->started && gw_vhost__queue_start(q) < 0) {
        gw_vhost__queue_stop(q);
        return -EFAULT;
    }
    return 0;
}

static int set_vring_base(struct gw_vhost_dev *dev)
{
    struct gw_vhost_queue *q = queue_of(dev, dev->msg.p.state.index);

    if (!q || dev->msg.p.state.num > UINT16_MAX)
        return -EINVAL;
    q->base = (uint16_t)dev->msg.p.state.num;
    gw_vhost_vring_set_base(&q->vr, q->base);
    return 0;
}

/* Stops the ring (the spec: GET_VRING_BASE stops it) and reports where it
 * stopped; everything taken has completed (the wait before handling). */
static int get_vring_base(struct gw_vhost_dev *dev)
{
    struct gw_vhost_queue *q = queue_of(dev, dev->msg.p.state.index);
    struct gw_vhost_vring_state s = {.index = dev->msg.p.state.index};

    if (q) {
        CAIRN_ASSERT(q->inflight == 0);
        gw_vhost__queue_stop(q); /* keeps where the ring stopped in q->base */
        s.num = q->base;
        close_fd(&q->kick_fd);
        q->enabled = false;
    }
    return send_reply(dev, gw_vhost_msg_reply_state(dev->tx, dev->msg.request, &s));
}

/* SET_VRING_KICK/CALL/ERR: takes the fd (or none) for ring @index. */
static int set_vring_fd(struct gw_vhost_dev *dev, int **slot)
{
    uint64_t v = dev->msg.p.u64;
    struct gw_vhost_queue *q = queue_of(dev, (uint32_t)(v & GW_VHOST_VRING_IDX_MASK));
    int fd = dev->msg.n_fds ? dev->msg.fds[0] : -1;

    if (!q)
        return -EINVAL;
    dev->msg.n_fds = 0; /* ours now */
    switch (dev->msg.request) {
    case GW_VHOST_USER_SET_VRING_KICK:
        *slot = &q->kick_fd;
        break;
    case GW_VHOST_USER_SET_VRING_CALL:
        *slot = &q->call_fd;
        break;
    default:
        *slot = &q->err_fd;
        break;
    }
    close_fd(*slot);
    **slot = fd;
    return 0;
}

static int set_vring_kick(struct gw_vhost_dev *dev)
{
    struct gw_vhost_queue *q;
    int *slot, r;

    if ((r = set_vring_fd(dev, &slot)) < 0)
        return r;
    q = &dev->q[dev->msg.p.u64 & GW_VHOST_VRING_IDX_MASK];
    gw_vhost__queue_stop(q);
    if (q->kick_fd < 0)
        return -EOPNOTSUPP; /* polling mode is not offered */
    if ((r = gw_vhost__queue_start(q)) < 0)
        return r;
    /* Without protocol features a ring starts enabled (the spec). */
    if (!(dev->features & (1ull << GW_VHOST_F_PROTOCOL_FEATURES)))
        q->enabled = true;
    gw_vhost__queue_process(q);
    return 0;
}

static int set_vring_enable(struct gw_vhost_dev *dev)
{
    struct gw_vhost_queue *q = queue_of(dev, dev->msg.p.state.index);

    if (!q || dev->msg.p.state.num > 1)
        return -EINVAL;
    q->enabled = dev->msg.p.state.num == 1;
    if (q->enabled && q->started)
        gw_vhost__queue_process(q);
    return 0;
}

/* GET_CONFIG: the requested window of virtio_blk_config; size 0 (the
 * spec's error) for a window past its end. */
static int get_config(struct gw_vhost_dev *dev)
{
    struct gw_vhost_config *c = &dev->msg.p.config;
    struct gw_vhost_blk_config cfg;

    gw_vhost_blk_config_init(&cfg, cairn_image_size(dev->srv->img), GW_VHOST_BLK_SIZE,
                             (uint16_t)dev->srv->num_queues, dev->srv->object_size);
    cfg.size_max = GW_VHOST_SIZE_MAX;
    if (c->offset + c->size > sizeof(cfg))
        c->size = 0;
    else
        memcpy(c->data, (const uint8_t *)&cfg + c->offset, c->size);
    return send_reply(dev, gw_vhost_msg_reply_config(dev->tx, c));
}

/* ---- inflight tracking (vhost-user.rst "Inflight I/O tracking") ---- */

static bool inflight_shape_ok(uint16_t num_queues, uint16_t queue_size)
{
    return num_queues >= 1 && num_queues <= GW_VHOST_QUEUES_MAX && queue_size >= 1 &&
           queue_size <= GW_VHOST_VRING_NUM_MAX && !(queue_size & (queue_size - 1));
}

/* GET_INFLIGHT_FD: a fresh zeroed area for @num_queues queues of
 * @queue_size entries, handed to the front-end to keep for us. */
static int get_inflight_fd(struct gw_vhost_dev *dev)
{
    struct gw_vhost_inflight in = dev->msg.p.inflight;
    int fd, r;

    if (!inflight_shape_ok(in.num_queues, in.queue_size)) {
        /* A zero size tells the front-end there is no area (QEMU then
         * goes on without one); a missing reply would hang it. */
        memset(&in, 0, sizeof(in));
        r = send_reply(dev, gw_vhost_msg_reply_inflight(dev->tx, &in));
        return r < 0 ? r : -EINVAL;
    }
    in.mmap_size = gw_vhost_inflight_region_bytes(in.queue_size) * in.num_queues;
    in.mmap_offset = 0;
    if ((fd = memfd_create("cairn-vhost-inflight", MFD_CLOEXEC)) < 0)
        return -errno;
    if (ftruncate(fd, (off_t)in.mmap_size) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    r = send_reply_fd(dev, gw_vhost_msg_reply_inflight(dev->tx, &in), fd);
    close(fd);
    return r;
}

static void inflight_unmap(struct gw_vhost_dev *dev)
{
    if (dev->inflight_map)
        munmap(dev->inflight_map, dev->inflight_map_len);
    dev->inflight_map = NULL;
    dev->inflight_map_len = 0;
}

/* SET_INFLIGHT_FD: maps the area (ours from an earlier GET, maybe of an
 * earlier cairn-vhost); queues attach to it when they start. */
static int set_inflight_fd(struct gw_vhost_dev *dev)
{
    const struct gw_vhost_inflight *in = &dev->msg.p.inflight;
    void *p;

    if (!inflight_shape_ok(in->num_queues, in->queue_size) ||
        in->mmap_size < gw_vhost_inflight_region_bytes(in->queue_size) * in->num_queues ||
        in->mmap_size > SIZE_MAX || in->mmap_offset > INT64_MAX - in->mmap_size)
        return -EINVAL;
    p = mmap(NULL, in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, dev->msg.fds[0],
             (off_t)in->mmap_offset);
    if (p == MAP_FAILED)
        return -errno;
    inflight_unmap(dev);
    dev->inflight_map = p;
    dev->inflight_map_len = in->mmap_size;
    dev->inflight_queues = in->num_queues;
    dev->inflight_queue_size = in->queue_size;
    return 0;
}

/* Runs the decoded message. Returns 0 or -errno (the request failed);
 * *replied tells whether a reply went out already. */
static int handle(struct gw_vhost_dev *dev, bool *replied)
{
    struct gw_vhost_msg *m = &dev->msg;

    *replied = true;
    switch (m->request) {
    case GW_VHOST_USER_GET_FEATURES:
        return reply_u64(dev, gw_vhost__dev_features(dev->srv));
    case GW_VHOST_USER_GET_PROTOCOL_FEATURES:
        return reply_u64(dev, protocol_features());
    case GW_VHOST_USER_GET_QUEUE_NUM:
        return reply_u64(dev, dev->srv->num_queues);
    case GW_VHOST_USER_GET_VRING_BASE:
        return get_vring_base(dev);
    case GW_VHOST_USER_GET_CONFIG:
        return get_config(dev);
    case GW_VHOST_USER_GET_INFLIGHT_FD:
        return get_inflight_fd(dev);
    default:
        break;
    }
    *replied = false;
    switch (m->request) {
    case GW_VHOST_USER_SET_FEATURES:
        return set_features(dev, m->p.u64);
    case GW_VHOST_USER_SET_PROTOCOL_FEATURES:
        if (m->p.u64 & ~protocol_features())
            return -EINVAL;
        dev->protocol_features = m->p.u64;
        return 0;
    case GW_VHOST_USER_SET_OWNER:
        dev->owner = true;
        return 0;
    case GW_VHOST_USER_RESET_OWNER:
        return 0; /* deprecated; the spec recommends ignoring it */
    case GW_VHOST_USER_SET_MEM_TABLE:
        return set_mem_table(dev);
    case GW_VHOST_USER_SET_VRING_NUM:
        return set_vring_num(dev);
    case GW_VHOST_USER_SET_VRING_ADDR:
        return set_vring_addr(dev);
    case GW_VHOST_USER_SET_VRING_BASE:
        return set_vring_base(dev);
    case GW_VHOST_USER_SET_VRING_KICK:
        return set_vring_kick(dev);
    case GW_VHOST_USER_SET_VRING_CALL:
    case GW_VHOST_USER_SET_VRING_ERR:
        return set_vring_fd(dev, &(int *){NULL});
    case GW_VHOST_USER_SET_VRING_ENABLE:
        return set_vring_enable(dev);
    case GW_VHOST_USER_SET_INFLIGHT_FD:
        return set_inflight_fd(dev);
    case GW_VHOST_USER_SET_CONFIG:
        return -EPERM; /* nothing in virtio_blk_config is writable here */
    default:
        return -EOPNOTSUPP;
    }
}

/* Handles dev->msg (decoded or not, @decode_err) and acks it when asked.
 * Returns -errno when the session must end. */
static int run_message(struct gw_vhost_dev *dev, int decode_err)
{
    struct gw_vhost_msg *m = &dev->msg;
    bool replied = false;
    int r = decode_err;

    if (r == 0)
        r = handle(dev, &replied);
    if (r < 0 && r != -EOPNOTSUPP)
        LOG(CAIRN_LOG_WARN, dev, "%s failed: %s", gw_vhost_request_name(m->request),
            strerror(-r));
    close_fds(m);
    if (replied)
        return r == -EPIPE || r == -ECONNRESET || r == -EAGAIN || r == -EIO ? r : 0;
    /* REPLY_ACK (and, harmlessly, whenever a front-end asks): 0 success. */
    if (m->flags & GW_VHOST_MSG_NEED_REPLY)
        return reply_u64(dev, r == 0 ? 0 : 1);
    return 0;
}

/* Whether handling must wait until no request is in flight. */
static bool needs_drain(uint32_t request)
{
    switch (request) {
    case GW_VHOST_USER_GET_FEATURES:
    case GW_VHOST_USER_GET_PROTOCOL_FEATURES:
    case GW_VHOST_USER_GET_QUEUE_NUM:
    case GW_VHOST_USER_GET_CONFIG:
    case GW_VHOST_USER_SET_VRING_CALL:
    case GW_VHOST_USER_SET_VRING_ERR:
    case GW_VHOST_USER_SET_VRING_ENABLE:
        return false;
    default:
        return true;
    }
}

/* A whole message arrived: decode it, then run it now or after draining. */
static int message_in(struct gw_vhost_dev *dev)
{
    int r = gw_vhost_msg_decode(&dev->msg, dev->rx_payload);

    LOG(CAIRN_LOG_DEBUG, dev, "<- %s (%u bytes, %u fds)", gw_vhost_request_name(dev->msg.request),
        dev->msg.size, dev->msg.n_fds);

    if (r == -EPROTO || r == -EBADMSG) {
        LOG(CAIRN_LOG_WARN, dev, "malformed %s (%u bytes, %u fds): %s",
            gw_vhost_request_name(dev->msg.request), dev->msg.size, dev->msg.n_fds,
            strerror(-r));
        close_fds(&dev->msg);
        return r;
    }
    if (r == 0 && needs_drain(dev->msg.request) && dev->inflight > 0) {
        dev->msg_waiting = true;
        event_del(dev->read_ev);
        return 0;
    }
    return run_message(dev, r);
}

void gw_vhost__dev_drained(struct gw_vhost_dev *dev)
{
    int r;

    if (!dev->msg_waiting || dev->inflight > 0 || dev->closed)
        return;
    dev->msg_waiting = false;
    if ((r = run_message(dev, 0)) < 0) {
        gw_vhost__dev_close(dev, strerror(-r));
        return;
    }
    event_add(dev->read_ev, NULL);
    for (unsigned i = 0; i < dev->srv->num_queues; i++)
        if (dev->q[i].started && dev->q[i].enabled)
            gw_vhost__queue_process(&dev->q[i]);
}

/* ---- input ---- */

/* Keeps the fds of one recvmsg in dev->msg; more than a message may carry
 * is a protocol error (the extra ones are closed). */
static int take_fds(struct gw_vhost_dev *dev, struct msghdr *mh)
{
    int bad = 0;

    if (mh->msg_flags & MSG_CTRUNC)
        bad = -EPROTO;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (dev->msg.n_fds < GW_VHOST_MSG_FDS_MAX)
                dev->msg.fds[dev->msg.n_fds++] = fd;
            else {
                close(fd);
                bad = -EPROTO;
            }
        }
    }
    return bad;
}

/* Reads what is there of the current part. 1: the part is complete; 0:
 * more to come; -errno: the session ends (-ECONNRESET on EOF). */
static int rx_part(struct gw_vhost_dev *dev, uint8_t *buf, uint32_t want)
{
    union {
        char buf[CMSG_SPACE(GW_VHOST_MSG_FDS_MAX * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = buf + dev->rx_got, .iov_len = want - dev->rx_got};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof(ctl.buf)};
    ssize_t n;
    int r;

    if (want == 0)
        return 1;
    n = recvmsg(dev->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    if (n == 0)
        return -ECONNRESET;
    if ((r = take_fds(dev, &mh)) < 0)
        return r;
    dev->rx_got += (uint32_t)n;
    return dev->rx_got == want;
}

/* One step of input. 1: progress, go on; 0: wait for more; -errno: end. */
static int rx_step(struct gw_vhost_dev *dev)
{
    int r;

    if (dev->rx == GW_VHOST_RX_HDR) {
        if ((r = rx_part(dev, dev->rx_hdr, GW_VHOST_MSG_HDR_LEN)) <= 0)
            return r;
        if ((r = gw_vhost_msg_parse_hdr(dev->rx_hdr, &dev->msg)) < 0) {
            LOG(CAIRN_LOG_WARN, dev, "bad message header (request %u, flags %#x, size %u)",
                dev->msg.request, dev->msg.flags, dev->msg.size);
            return r;
        }
        dev->rx = GW_VHOST_RX_PAYLOAD;
        dev->rx_got = 0;
    }
    if ((r = rx_part(dev, dev->rx_payload, dev->msg.size)) <= 0)
        return r;
    dev->rx = GW_VHOST_RX_HDR;
    dev->rx_got = 0;
    r = message_in(dev);
    return r < 0 ? r : !dev->msg_waiting;
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct gw_vhost_dev *dev = arg;
    int r;

    (void)fd;
    (void)what;
    /* Bounded: a front-end that floods messages still lets kicks and
     * completions run between batches. */
    for (unsigned i = 0; i < 64; i++) {
        if ((r = rx_step(dev)) < 0) {
            gw_vhost__dev_close(dev, r == -ECONNRESET ? "front-end disconnected" : strerror(-r));
            return;
        }
        if (r == 0)
            return;
    }
}

/* ---- lifetime ---- */

int gw_vhost__dev_create(struct gw_vhost_server *srv, int fd)
{
    struct gw_vhost_dev *dev = calloc(1, sizeof(*dev));

    if (!dev)
        return -ENOMEM;
    dev->srv = srv;
    dev->fd = fd;
    for (unsigned i = 0; i < GW_VHOST_QUEUES_MAX; i++) {
        struct gw_vhost_queue *q = &dev->q[i];
        q->dev = dev;
        q->index = i;
        q->kick_fd = q->call_fd = q->err_fd = -1;
        gw_vhost_vring_init(&q->vr);
    }
    dev->read_ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, read_cb, dev);
    if (!dev->read_ev || event_add(dev->read_ev, NULL) < 0) {
        if (dev->read_ev)
            event_free(dev->read_ev);
        free(dev);
        return -ENOMEM;
    }
    srv->dev = dev;
    LOG(CAIRN_LOG_INFO, dev, "front-end connected");
    return 0;
}

void gw_vhost__dev_free_if_idle(struct gw_vhost_dev *dev)
{
    struct gw_vhost_server *srv = dev->srv;

    if (!dev->closed || dev->inflight > 0)
        return;
    for (unsigned i = 0; i < GW_VHOST_QUEUES_MAX; i++)
        gw_vhost__queue_stop(&dev->q[i]);
    gw_vhost_mem_clear(&dev->mem);
    inflight_unmap(dev);
    free(dev);
    srv->dev = NULL;
    gw_vhost__session_gone(srv);
}

void gw_vhost__dev_close(struct gw_vhost_dev *dev, const char *why)
{
    if (dev->closed)
        return;
    LOG(CAIRN_LOG_INFO, dev, "session closed: %s", why);
    dev->closed = true;
    event_free(dev->read_ev);
    dev->read_ev = NULL;
    close_fd(&dev->fd);
    if (dev->msg_waiting)
        close_fds(&dev->msg);
    dev->msg_waiting = false;
    for (unsigned i = 0; i < GW_VHOST_QUEUES_MAX; i++) {
        struct gw_vhost_queue *q = &dev->q[i];
        if (q->kick_ev) {
            event_free(q->kick_ev);
            q->kick_ev = NULL;
        }
        close_fd(&q->kick_fd);
        close_fd(&q->call_fd);
        close_fd(&q->err_fd);
        q->started = q->enabled = false;
    }
    gw_vhost__dev_free_if_idle(dev);
}

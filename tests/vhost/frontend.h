/* A vhost-user-blk front-end for tests: plays QEMU's part against a backend
 * on a unix socket (QEMU docs/interop/vhost-user.rst, virtio 1.x "Split
 * Virtqueues" and "Block Device"). Guest memory is one memfd mapped here and
 * passed in SET_MEM_TABLE with guest-physical and userspace addresses that
 * differ from our own pointers, so a backend mixing them up fails loudly.
 * Used by vhost_hostile (with the raw API for malformed chains and messages)
 * and vhost_load (the benchmark load generator). Single-threaded: one struct
 * vfe and its queues belong to the calling thread.
 *
 * Every wait has a deadline: a backend that never answers turns into
 * -ETIMEDOUT, a closed socket into -ECONNRESET; errors are -errno and a
 * human-readable reason is kept in fe->err. */
#ifndef CAIRN_TESTS_VHOST_FRONTEND_H
#define CAIRN_TESTS_VHOST_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- vhost-user requests (front-end to back-end) ---- */
enum {
    VFE_GET_FEATURES = 1,
    VFE_SET_FEATURES = 2,
    VFE_SET_OWNER = 3,
    VFE_RESET_OWNER = 4,
    VFE_SET_MEM_TABLE = 5,
    VFE_SET_VRING_NUM = 8,
    VFE_SET_VRING_ADDR = 9,
    VFE_SET_VRING_BASE = 10,
    VFE_GET_VRING_BASE = 11,
    VFE_SET_VRING_KICK = 12,
    VFE_SET_VRING_CALL = 13,
    VFE_SET_VRING_ERR = 14,
    VFE_GET_PROTOCOL_FEATURES = 15,
    VFE_SET_PROTOCOL_FEATURES = 16,
    VFE_GET_QUEUE_NUM = 17,
    VFE_SET_VRING_ENABLE = 18,
    VFE_GET_CONFIG = 24,
    VFE_SET_CONFIG = 25,
};

#define VFE_FLAG_VERSION 0x1u
#define VFE_FLAG_REPLY (1u << 2)
#define VFE_FLAG_NEED_REPLY (1u << 3)
#define VFE_VRING_NOFD (1ull << 8) /* SET_VRING_KICK/CALL: no fd passed */
#define VFE_MAX_REGIONS 8          /* VHOST_MEMORY_BASELINE_NREGIONS */
#define VFE_MAX_PAYLOAD 4096       /* what we are willing to receive */

/* protocol features */
#define VFE_PF_MQ 0
#define VFE_PF_REPLY_ACK 3
#define VFE_PF_CONFIG 9

/* virtio and virtio-blk feature bits */
#define VFE_F_BLK_SIZE_MAX 1
#define VFE_F_BLK_SEG_MAX 2
#define VFE_F_BLK_GEOMETRY 4
#define VFE_F_BLK_RO 5
#define VFE_F_BLK_BLK_SIZE 6
#define VFE_F_BLK_FLUSH 9
#define VFE_F_BLK_TOPOLOGY 10
#define VFE_F_BLK_CONFIG_WCE 11
#define VFE_F_BLK_MQ 12
#define VFE_F_BLK_DISCARD 13
#define VFE_F_BLK_WRITE_ZEROES 14
#define VFE_F_INDIRECT_DESC 28
#define VFE_F_EVENT_IDX 29
#define VFE_F_PROTOCOL_FEATURES 30 /* VHOST_USER_F_PROTOCOL_FEATURES */
#define VFE_F_VERSION_1 32

/* virtio-blk request types and status */
#define VFE_BLK_T_IN 0
#define VFE_BLK_T_OUT 1
#define VFE_BLK_T_FLUSH 4
#define VFE_BLK_T_GET_ID 8
#define VFE_BLK_T_DISCARD 11
#define VFE_BLK_T_WRITE_ZEROES 13
#define VFE_BLK_S_OK 0
#define VFE_BLK_S_IOERR 1
#define VFE_BLK_S_UNSUPP 2
#define VFE_SECTOR 512u

/* split virtqueue descriptor flags */
#define VFE_DESC_F_NEXT 1
#define VFE_DESC_F_WRITE 2
#define VFE_DESC_F_INDIRECT 4

#define VFE_MAX_QUEUES 16
#define VFE_MAX_SEGS 32 /* data segments per vfe_submit request */

/* The wire header of every vhost-user message (little-endian host only). */
struct vfe_msg_hdr {
    uint32_t request;
    uint32_t flags; /* VFE_FLAG_* */
    uint32_t size;  /* payload bytes that follow */
} __attribute__((packed));

struct vfe_vring_desc {
    uint64_t addr; /* guest-physical */
    uint32_t len;
    uint16_t flags; /* VFE_DESC_F_* */
    uint16_t next;
};

struct vfe_region {
    uint64_t gpa;       /* guest-physical base we announce */
    uint64_t uva;       /* "QEMU userspace" base we announce (not our pointer) */
    uint64_t size;      /* bytes */
    uint64_t fd_offset; /* mmap_offset into the memfd */
    uint8_t *ptr;       /* where the region really is in this process */
};

/* What GET_CONFIG returned; limits are 0 when their feature is absent. */
struct vfe_blk_config {
    uint64_t capacity_sectors;
    uint32_t size_max;
    uint32_t seg_max;
    uint32_t blk_size;
    uint16_t num_queues;
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
};

struct vfe_opts {
    const char *socket_path;
    uint64_t mem_size;   /* guest memory bytes; 0 = 64 MiB */
    unsigned nregions;   /* 1 or 2 (split memfd, a GPA gap in between); 0 = 1 */
    unsigned num_queues; /* wanted; clipped to what the backend offers; 0 = 1 */
    unsigned queue_size; /* descriptors per queue, a power of 2; 0 = 256 */
    bool event_idx;      /* negotiate VIRTIO_RING_F_EVENT_IDX when offered */
    bool no_indirect;    /* do not negotiate VIRTIO_RING_F_INDIRECT_DESC */
    int timeout_ms;      /* deadline of every wait; 0 = 5000 */
};

/* One in-flight request slot per descriptor head: header, status byte and
 * an indirect table live at a fixed place in guest memory. */
struct vfe_queue {
    struct vfe *fe;
    unsigned index;
    uint16_t num;                /* queue size */
    struct vfe_vring_desc *desc;  /* our pointers into guest memory */
    uint16_t *avail;             /* flags, idx, ring[num], used_event */
    uint8_t *used;               /* flags, idx, {id, len}[num], avail_event */
    uint64_t desc_gpa, avail_gpa, used_gpa;
    int kick_fd, call_fd;        /* eventfds owned by the queue */
    uint16_t avail_idx;          /* next avail->idx we publish */
    uint16_t kicked_idx;         /* avail_idx at the last kick */
    uint16_t last_used;          /* used entries consumed so far */
    uint16_t *free_stack;        /* free descriptor indexes */
    unsigned nfree;
    uint16_t *shadow_next;       /* our own copy of each chain's links */
    uint16_t *chain_len;         /* per head: descriptors in its chain */
    void **ctx;                  /* per head: caller context */
    bool *inflight;              /* per head: published, not yet used */
    unsigned ninflight;
    uint8_t *slots;              /* per head: hdr(16) status(1) .. indirect */
    uint64_t slots_gpa;
    unsigned slot_stride;
    bool started;
};

struct vfe {
    struct vfe_opts opts;
    int sock;
    int memfd;
    uint8_t *mem;   /* our mapping of the memfd */
    uint64_t mem_size;
    struct vfe_region regions[2];
    unsigned nregions;
    uint64_t alloc_off; /* bump allocator offset into mem */
    uint64_t features;  /* offered by the backend */
    uint64_t acked;     /* what we set */
    uint64_t protocol_features; /* offered */
    uint64_t protocol_acked;
    unsigned backend_queues; /* GET_QUEUE_NUM or config num_queues */
    struct vfe_blk_config cfg;
    struct vfe_queue q[VFE_MAX_QUEUES];
    unsigned nqueues;
    char err[256]; /* why the last call failed */
};

/* A piece of guest memory: our pointer and its guest-physical address. */
struct vfe_buf {
    uint8_t *ptr;
    uint64_t gpa;
    uint64_t len;
};

struct vfe_seg {
    uint64_t gpa;
    uint32_t len;
};

struct vfe_req {
    uint32_t type;   /* VFE_BLK_T_* (any value is sent as is) */
    uint64_t sector;
    const struct vfe_seg *segs; /* data, device-writable for IN and GET_ID */
    unsigned nsegs;             /* <= VFE_MAX_SEGS */
    bool indirect;              /* one ring descriptor pointing at a table */
    void *ctx;                  /* returned in the completion */
};

struct vfe_cpl {
    void *ctx;
    uint16_t head;
    uint32_t len;   /* bytes the device says it wrote */
    uint8_t status; /* the slot's status byte (meaningful for vfe_submit) */
};

/* ---- connection and setup ---- */

/* Fills @o with defaults for @socket_path. */
void vfe_opts_default(struct vfe_opts *o, const char *socket_path);

/* Connects and does the whole QEMU start sequence: SET_OWNER, features,
 * protocol features, GET_QUEUE_NUM, GET_CONFIG, guest memory, every queue
 * set up and enabled. -ENOENT/-ECONNREFUSED when nobody listens; other
 * -errno with fe->err set. On failure everything is released. */
int vfe_open(struct vfe *fe, const struct vfe_opts *o);

/* Connects and maps guest memory only (no messages): for protocol abuse.
 * Then vfe_negotiate() does everything up to GET_CONFIG, vfe_set_mem_table()
 * and vfe_queue_start() the rest. */
int vfe_connect(struct vfe *fe, const struct vfe_opts *o);
int vfe_negotiate(struct vfe *fe);
int vfe_set_mem_table(struct vfe *fe);
int vfe_queue_start(struct vfe *fe, unsigned index);

/* GET_VRING_BASE on every started queue (stops them), with deadlines. */
int vfe_stop(struct vfe *fe);
/* Closes the socket, eventfds and memory. Safe on a zeroed or failed fe. */
void vfe_close(struct vfe *fe);

/* ---- guest memory ---- */

/* Bump allocation of @len bytes aligned to @align inside one region.
 * -ENOMEM when full. vfe_mem_mark/vfe_mem_release rewind it. */
int vfe_mem_alloc(struct vfe *fe, uint64_t len, uint64_t align, struct vfe_buf *out);
uint64_t vfe_mem_mark(const struct vfe *fe);
void vfe_mem_release(struct vfe *fe, uint64_t mark);
/* Guest-physical / announced userspace address of our pointer @p (inside
 * guest memory, else UINT64_MAX). */
uint64_t vfe_gpa(const struct vfe *fe, const void *p);
uint64_t vfe_uva(const struct vfe *fe, const void *p);
/* One past the last GPA of region @i, and a GPA in no region. */
uint64_t vfe_region_end_gpa(const struct vfe *fe, unsigned i);
uint64_t vfe_unmapped_gpa(const struct vfe *fe);

/* ---- requests ---- */

/* Builds header + data + status (direct, or one indirect descriptor) and
 * publishes it in the avail ring without kicking. -EAGAIN when descriptors
 * run out, -EINVAL for a request we cannot express. */
int vfe_submit(struct vfe_queue *q, const struct vfe_req *r);
/* Notifies the backend of everything published since the last kick,
 * honouring VRING_USED_F_NO_NOTIFY / avail_event. */
int vfe_kick(struct vfe_queue *q);
/* Collects up to @max used entries without blocking; returns the count or
 * -EPROTO when the backend returned a head that is not in flight. */
int vfe_reap(struct vfe_queue *q, struct vfe_cpl *out, unsigned max);
/* Blocks until a call eventfd of @qs fires, the socket closes
 * (-ECONNRESET) or @deadline_ns on CLOCK_MONOTONIC passes (-ETIMEDOUT). */
int vfe_wait(struct vfe *fe, struct vfe_queue *const *qs, unsigned nq, int64_t deadline_ns);
/* Submits, kicks and waits for this one request (with opts.timeout_ms);
 * returns 0 with *cpl filled, or -errno. Other completions are an error. */
int vfe_do(struct vfe_queue *q, const struct vfe_req *r, struct vfe_cpl *cpl);

/* ---- raw API for hostile tests ---- */

/* Takes @n free descriptors (idx[0] is the head); their guest contents are
 * the caller's to write through vfe_desc(). -EAGAIN when not enough. */
int vfe_desc_alloc(struct vfe_queue *q, unsigned n, uint16_t *idx);
static inline struct vfe_vring_desc *vfe_desc(struct vfe_queue *q, uint16_t i)
{
    return &q->desc[i];
}
/* Publishes head @head (from vfe_desc_alloc) with context @ctx. */
void vfe_raw_publish(struct vfe_queue *q, uint16_t head, void *ctx);
/* Writes any value into the next avail slot (not tracked). */
void vfe_raw_avail_push(struct vfe_queue *q, uint16_t value);
/* Per-head status byte and header slot, for building chains by hand. */
struct vfe_buf vfe_slot(struct vfe_queue *q, uint16_t head);

/* Sends one message: header {request, flags, size} then @len payload bytes
 * (@size may lie about @len) with @nfds fds in SCM_RIGHTS. */
int vfe_send_msg(struct vfe *fe, uint32_t request, uint32_t flags, uint32_t size,
                 const void *payload, size_t len, const int *fds, unsigned nfds);
/* Receives one reply within @timeout_ms; payload truncated to @cap.
 * -ECONNRESET on EOF, -ETIMEDOUT, -EPROTO on a malformed reply. */
int vfe_recv_msg(struct vfe *fe, struct vfe_msg_hdr *hdr, void *payload, size_t cap,
                 int timeout_ms);
/* A request that expects a reply (GET_*): sends and receives its reply. */
int vfe_get(struct vfe *fe, uint32_t request, const void *in, uint32_t in_len, void *out,
            uint32_t out_cap, uint32_t *out_len);
/* A SET_* request; with REPLY_ACK it sets need_reply and waits for the ack
 * (-EPROTO with fe->err when the backend answers nonzero). */
int vfe_set(struct vfe *fe, uint32_t request, const void *in, uint32_t in_len, const int *fds,
            unsigned nfds);

int64_t vfe_now_ns(void);
const char *vfe_status_name(int status);

#endif

/* cairn-vhost internals: the server (server.c: the listening socket, one
 * session at a time, signals, batching completions), a session's
 * vhost-user control channel (dev.c: messages, feature negotiation, memory
 * table, ring setup) and its data path (io.c: kicks, virtio-blk requests
 * on the image, completions, used-ring publication). Everything here
 * belongs to libcairn's loop thread (cairn_loop_call()), except the stop
 * handshake with main() (srv->stop_*). */
#ifndef CAIRN_GATEWAY_VHOST_INTERNAL_H
#define CAIRN_GATEWAY_VHOST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/cairn.h"
#include "client/image.h"
#include <pthread.h>
#include "gateway/vhost/blk.h"
#include "gateway/vhost/inflight.h"
#include "gateway/vhost/mem.h"
#include "gateway/vhost/msg.h"
#include "gateway/vhost/vring.h"

struct event_base;
struct event;
struct evconnlistener;

#define GW_VHOST_QUEUES_MAX 16u                /* virtqueues one device offers */
#define GW_VHOST_QUEUE_REQS_MAX 256u           /* requests in flight per queue */
#define GW_VHOST_INFLIGHT_BYTES_MAX (64u << 20) /* data buffered per session */
#define GW_VHOST_BUF_KEEP_MAX (1u << 20)       /* a slot keeps its buffer up to this */
#define GW_VHOST_BUF_CACHE_MAX (64u << 20)     /* buffers a session keeps in all */
#define GW_VHOST_SIZE_MAX (256u << 10)         /* size_max: bytes per segment */
#define GW_VHOST_REQ_BYTES_MAX ((size_t)GW_VHOST_SEG_MAX * GW_VHOST_SIZE_MAX)
#define GW_VHOST_BLK_SIZE 512u                 /* logical block size offered */

struct gw_vhost_server_opts {
    struct cairn *cairn;   /* borrowed; outlives the server */
    const char *pool;      /* pool name */
    const char *image;     /* the image served */
    const char *socket;    /* unix socket path to listen on */
    unsigned num_queues;   /* 1..GW_VHOST_QUEUES_MAX */
    bool read_only;        /* VIRTIO_BLK_F_RO */
};

struct gw_vhost_dev;
struct gw_vhost_queue;

/* One virtio-blk request from pop to push. Pooled per queue. */
struct gw_vhost_req {
    struct gw_vhost_queue *q;
    struct gw_vhost_req *next_free;
    struct gw_vhost_chain chain;
    struct gw_vhost_blk_req blk;
    uint8_t *buf;                    /* IN/OUT data; kept for the slot's next request */
    size_t buf_len;                  /* bytes of it the request uses */
    size_t buf_cap;                  /* bytes allocated */
    int result;                      /* 0 or -errno, from libcairn's callback */
};

/* A virtqueue of a session. */
struct gw_vhost_queue {
    struct gw_vhost_dev *dev;
    unsigned index;
    struct gw_vhost_vring vr;
    uint32_t num;                    /* SET_VRING_NUM, 0 until then */
    uint16_t base;                   /* SET_VRING_BASE */
    bool have_addr;                  /* SET_VRING_ADDR seen */
    uint64_t desc_uaddr, avail_uaddr, used_uaddr;
    int kick_fd, call_fd, err_fd;    /* -1 when not set */
    struct event *kick_ev;
    bool started;                    /* kick fd set and rings mapped */
    bool enabled;                    /* SET_VRING_ENABLE, or started w/o protocol features */
    bool broken;                     /* the driver broke the ring: no more processing */
    bool dirty;                      /* pushed since the last publish */
    struct gw_vhost_req *reqs;       /* pool of n_reqs */
    unsigned n_reqs;
    struct gw_vhost_req *free_reqs;
    unsigned inflight;               /* requests popped, not yet pushed */
    struct gw_vhost_inflight_q iflt; /* inflight tracking (INFLIGHT_SHMFD), or none */
    uint16_t *resubmit;              /* heads to take again after a reconnect */
    unsigned n_resubmit, next_resubmit;
};

/* Control channel input: header, then payload, fds gathered on the way. */
enum gw_vhost_rx_state {
    GW_VHOST_RX_HDR,
    GW_VHOST_RX_PAYLOAD,
};

/* A vhost-user session: one front-end connection and the device state it
 * configures. Freed once closed and nothing is in flight. */
struct gw_vhost_dev {
    struct gw_vhost_server *srv;
    int fd;                          /* the control socket; -1 once closed */
    struct event *read_ev;
    bool closed;
    enum gw_vhost_rx_state rx;
    uint8_t rx_hdr[GW_VHOST_MSG_HDR_LEN];
    uint8_t rx_payload[GW_VHOST_MSG_PAYLOAD_MAX];
    uint32_t rx_got;                 /* bytes of the current part */
    struct gw_vhost_msg msg;         /* the message being received or waited on */
    bool msg_waiting;                /* msg waits for the data path to drain */
    uint64_t features;               /* SET_FEATURES */
    uint64_t protocol_features;      /* SET_PROTOCOL_FEATURES */
    bool owner;                      /* SET_OWNER seen */
    struct gw_vhost_mem mem;
    uint8_t *inflight_map;           /* SET_INFLIGHT_FD's area, or NULL */
    size_t inflight_map_len;
    uint16_t inflight_queues;        /* queues it covers */
    uint16_t inflight_queue_size;    /* entries per queue it covers */
    struct gw_vhost_queue q[GW_VHOST_QUEUES_MAX];
    unsigned inflight;               /* requests popped on every queue */
    uint64_t inflight_bytes;         /* data buffered for them */
    uint64_t buf_cache_bytes;        /* allocated in the slots' buffers */
    uint8_t tx[GW_VHOST_MSG_HDR_LEN + GW_VHOST_MSG_PAYLOAD_MAX];
};

struct gw_vhost_server {
    struct event_base *base;         /* libcairn's, set on its loop thread */
    struct cairn *cairn;
    struct cairn_image *img;
    uint32_t object_size;            /* of the image: the optimal I/O size */
    const char *socket_arg;          /* --socket, for setting up */
    char image[CAIRN_IMAGE_NAME_MAX + 1];
    unsigned num_queues;
    bool read_only;
    struct evconnlistener *listener;
    char *socket_path;               /* to unlink at exit */
    struct gw_vhost_dev *dev;        /* the session, or NULL */
    bool stopping;
    struct event *sig_term, *sig_int;
    struct event *flush_ev;          /* activated by a turn's first completion */
    bool flush_pending;
    pthread_mutex_t stop_lock;       /* main() waits for stopped under it */
    pthread_cond_t stop_cond;
    bool stopped;
};

/* server.c */
int gw_vhost_server_create(const struct gw_vhost_server_opts *opts, struct gw_vhost_server **out);
int gw_vhost_server_run(struct gw_vhost_server *srv);
void gw_vhost_server_destroy(struct gw_vhost_server *srv);
/* A session ended and released everything: accept the next front-end. */
void gw_vhost__session_gone(struct gw_vhost_server *srv);
/* libcairn's callback for request @arg: finishes it and schedules the
 * turn's flush. */
void gw_vhost__req_done(int result, void *arg);

/* dev.c */
int gw_vhost__dev_create(struct gw_vhost_server *srv, int fd);
/* Closes the session's socket and stops its queues; frees it now or when
 * its last request completes. */
void gw_vhost__dev_close(struct gw_vhost_dev *dev, const char *why);
/* The data path drained: a message waiting for that runs now. */
void gw_vhost__dev_drained(struct gw_vhost_dev *dev);
void gw_vhost__dev_free_if_idle(struct gw_vhost_dev *dev);
/* The features cairn-vhost offers. */
uint64_t gw_vhost__dev_features(const struct gw_vhost_server *srv);

/* io.c */
/* Maps the rings, allocates the request pool, watches the kick fd. */
int gw_vhost__queue_start(struct gw_vhost_queue *q);
/* Forgets the ring pointers (keeping the base), as when guest memory
 * goes away: nothing may read the rings until the next start. */
void gw_vhost__queue_unmap(struct gw_vhost_queue *q);
/* Stops watching kicks, frees the pool, unmaps (nothing may be in flight). */
void gw_vhost__queue_stop(struct gw_vhost_queue *q);
/* Takes and starts every request the driver made available, as far as
 * the pool and byte budget allow, then publishes. */
void gw_vhost__queue_process(struct gw_vhost_queue *q);
/* Completes requests handed back by libcairn (the loop thread). */
void gw_vhost__io_complete(struct gw_vhost_req *req);
/* Publishes every dirty queue of @dev and signals its call fd. */
void gw_vhost__dev_publish(struct gw_vhost_dev *dev);

#endif

/* libcairn internals, in sections by defining file. Only client/ includes
 * this header. */
#ifndef CAIRN_CLIENT_INTERNAL_H
#define CAIRN_CLIENT_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event_struct.h>

#include "client/cairn.h"
#include "client/image.h"
#include "protocol/auth.h"
#include "protocol/map.h"
#include "protocol/osd_op.h"

struct event;
struct event_base;
struct proto_msgr;
struct proto_monc;
struct proto_conn;
struct proto_frame;
struct cairn_config;

/* ---- conn.c: the connection, its loop thread and the call queue ---- */

struct cairn__msg;
/* Runs on the loop thread. */
typedef void (*cairn__msg_fn)(struct cairn *c, struct cairn__msg *msg);

/* Work posted to the loop thread: always the first member of a struct
 * cairn__call (so a message that arrives after the stop can be cancelled),
 * which stays alive until the call is done. */
struct cairn__msg {
    cairn__msg_fn fn;
    TAILQ_ENTRY(cairn__msg) link; /* c->queue, under c->lock */
};

/* A synchronous call: its msg starts async work on the loop thread, whose
 * completion calls cairn__call_done(); the caller waits on c->cond. */
struct cairn__call {
    struct cairn__msg msg;
    bool done;  /* under c->lock */
    int result; /* valid once done */
};

/* ---- objecter.c: OSD sessions and requests in flight ---- */

struct cairn__req;
struct cairn__attempt;

/* What a request kind (an object op, a listing, a PG command) does at each
 * point of its life; all on the loop thread. */
struct cairn__req_ops {
    /* Encodes one attempt at @epoch for @pg: the metadata into *@meta (the
     * caller frees it) and the data, either borrowed (*@data) or malloc'd
     * (*@owned, which the caller frees; *@data then points into it). 0 or
     * -errno, which fails the request. */
    int (*encode)(struct cairn__req *req, uint64_t epoch, uint32_t pg, uint8_t **meta,
                  size_t *meta_len, const void **data, size_t *data_len, void **owned);
    /* Handles the reply @frame (buffers owned by the caller): 0 or the
     * request's -errno, or -ESTALE with the OSD's epoch in *@epoch. */
    int (*reply)(struct cairn__req *req, struct proto_frame *frame, uint64_t *epoch);
    /* The request finished with @result (it is off every list). */
    void (*done)(struct cairn__req *req, int result);
};

enum cairn__req_state {
    CAIRN__REQ_IDLE = 0, /* not submitted, or done */
    CAIRN__REQ_SENT,     /* an attempt is out */
    CAIRN__REQ_BACKOFF,  /* waiting for the timer, then resent */
    CAIRN__REQ_WAIT_MAP, /* waiting for a map of epoch >= need_epoch */
    CAIRN__REQ_WAIT_POOL /* the pool (or the PG given) is not in our map: fetching the newest */
};

/* A request to a PG's primary, embedded in what it carries (an op, a
 * listing). Fields below ops are the loop thread's. */
struct cairn__req {
    struct cairn__call call; /* first: the message that submits it */
    struct cairn *c;
    const struct cairn__req_ops *ops;
    uint16_t type;           /* PROTO_MSG_OSD_OP, PROTO_MSG_OSD_LIST or PROTO_MSG_OSD_PG_CMD */
    int32_t pool;
    const char *oid;         /* placement by name; NULL: pg is given */
    size_t oid_len;
    uint32_t pg;             /* the PG of the last attempt, or the given one */
    uint32_t timeout_ms;     /* the request's bound; 0: the objecter's op_timeout_ms */
    uint64_t tid;            /* the same on every resend */
    enum cairn__req_state state;
    int32_t osd;             /* the primary of the last attempt, -1 none */
    struct cairn__attempt *attempt; /* the attempt out, if SENT */
    uint64_t deadline_ns;    /* monotonic: -ETIMEDOUT after this */
    uint64_t need_epoch;     /* WAIT_MAP: the epoch awaited */
    uint32_t backoff_ms;     /* the next backoff */
    unsigned attempts;       /* sent so far */
    bool pool_fetched;       /* the newest map was fetched for a missing pool or PG */
    int last_err;            /* the last attempt's transport error, for the reason */
    char why[256];           /* on failure: a one-line reason, may be "" */
    struct event timer;      /* deadline and backoff */
    bool timer_set;          /* timer assigned to the loop's base */
    TAILQ_ENTRY(cairn__req) link; /* objecter.reqs while submitted */
};

/* One outgoing connection per OSD, indexed by OSD id. */
struct cairn__session {
    struct proto_conn *conn; /* NULL: none */
    char addr[PROTO_MAP_ADDR_MAX];
};

struct cairn__objecter {
    uint64_t client_id;        /* random per struct cairn: with tid, an op's identity */
    uint64_t next_tid;
    uint32_t op_timeout_ms;    /* client_op_timeout, or cairn_connect_opts.timeout_ms */
    uint32_t attempt_timeout_ms; /* one attempt's bound before a resend */
    TAILQ_HEAD(, cairn__req) reqs;
    struct cairn__session *sessions;
    uint32_t n_sessions;
    struct cairn__attempt *free_attempts;
    bool fetching;             /* a proto_monc_get_map() is out */
    bool stopped;              /* stop: no more sends */
    struct event fetch_timer;  /* re-fetch the map while an -ESTALE wait lasts */
    bool fetch_timer_set;
    /* Test hooks (any thread, atomic). */
    int corrupt_next_write;
    int corrupt_next_read;
    /* Counters (loop thread), for tests and logs. */
    uint64_t sends, resends;
};

struct cairn {
    /* Set by cairn_connect before the thread starts; read-only after. */
    char entity[PROTO_ENTITY_MAX];
    char conf_path[PATH_MAX];
    char keyring_path[PATH_MAX];
    struct proto_keyring *keyring;
    struct proto_map_mon mons[PROTO_MAP_MAX_MONS]; /* mon_host */
    uint32_t n_mons;
    uint32_t timeout_ms; /* bound on every call */

    /* Owned by the loop thread. */
    struct event_base *base;
    struct event *wake; /* readable efd: drain the queue */
    struct proto_msgr *msgr;
    struct proto_monc *monc;
    bool subscribed;
    bool stopped; /* stop_fn ran: later messages are cancelled */
    struct cairn__objecter obj;

    /* Shared: the queue and what sync callers wait for, under lock. */
    pthread_t thread;
    bool thread_started;
    int efd; /* eventfd: a post wakes the loop */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC; calls done, epoch advanced */
    TAILQ_HEAD(, cairn__msg) queue;
    uint64_t epoch;   /* newest map epoch the loop has */
    unsigned callers; /* threads inside a call or wait */
    bool closing;     /* cairn_shutdown() began: no new calls */
};

/* Posts @msg to the loop thread (any thread). */
void cairn__post(struct cairn *c, struct cairn__msg *msg);
/* Posts @call and waits until cairn__call_done() (not on the loop thread).
 * Returns call->result. */
int cairn__call_run(struct cairn *c, struct cairn__call *call, cairn__msg_fn fn);
/* Loop thread: completes @call with @result and wakes its waiter. */
void cairn__call_done(struct cairn *c, struct cairn__call *call, int result);
/* Formats a transport error of a monitor call as a one-line reason:
 * "cannot reach any monitor (tried a=..., b=...)" for -ETIMEDOUT, etc. */
void cairn__mon_error(const struct cairn *c, int err, char *buf, size_t len);
/* Posts @msg unless cairn_shutdown() began (-ECANCELED), atomically with
 * that check, so the message runs before the stop (any thread). */
int cairn__post_unless_closing(struct cairn *c, struct cairn__msg *msg);

/* ---- objecter.c ---- */

#define CAIRN_OP_TIMEOUT_MS_DEFAULT 30000u
#define CAIRN__ATTEMPT_TIMEOUT_MS 10000u /* one attempt, before a resend */
#define CAIRN__BACKOFF_MIN_MS 50u
#define CAIRN__BACKOFF_MAX_MS 1000u
#define CAIRN__REFETCH_MS 250u /* map re-fetch period while an -ESTALE wait lasts */

/* Before the loop thread starts: client id, lists. */
void cairn__objecter_init(struct cairn *c, uint32_t op_timeout_ms);
/* Once the loop's event_base exists (before the thread starts). */
void cairn__objecter_start(struct cairn *c);
/* Loop thread, before monc and the messenger are destroyed: fails every
 * request with -ECANCELED and closes the OSD sessions. */
void cairn__objecter_stop(struct cairn *c);
/* After the loop thread ended and the messenger is gone: frees the rest. */
void cairn__objecter_fini(struct cairn *c);
/* Loop thread: a new map arrived (monc's newest). */
void cairn__objecter_on_map(struct cairn *c, const struct proto_map *map);
/* Loop thread: starts @req (fields up to ops set; tid assigned here); its
 * ops->done fires exactly once. */
void cairn__req_submit(struct cairn *c, struct cairn__req *req);

/* Test hooks (any thread): flip a byte of the next write payload after its
 * crc32c was computed (the OSD must refuse it: -EBADMSG), or of the next
 * read data received before it is verified (the op fails: -EIO). */
void cairn__test_corrupt_next_write(struct cairn *c);
void cairn__test_corrupt_next_read(struct cairn *c);
/* Loop-thread counters read from a test thread (racy but monotonic). */
uint64_t cairn__test_resends(struct cairn *c);

/* ---- op.c: the compound op ---- */

/* What a step hands back on completion (the caller's out-params). */
struct cairn__step_out {
    const void *data;        /* WRITE(_FULL): the payload (borrowed) */
    void *buf;               /* READ, GETXATTR, OMAP_GET: where the bytes go */
    size_t cap;              /* its room */
    size_t *len;             /* bytes returned (READ) or the value's length */
    struct cairn_stat *st;   /* STAT */
    struct cairn_kv_list **list; /* GETXATTRS, OMAP_LIST */
    int64_t *num;            /* COUNTER_ADD */
    uint64_t *unum;          /* SET_IF_GREATER */
};

struct cairn_op {
    struct cairn__req req;   /* first: in flight through the objecter */
    struct proto_osd_op wire; /* steps (byte fields borrowed), oid, ids */
    struct cairn__step_out out[CAIRN_OP_STEPS_MAX];
    uint64_t write_bytes;    /* payload bytes out */
    uint64_t read_bytes;     /* READ bytes asked for */
    bool has_mutation, has_read;
    /* Completion (written on the loop thread before cb). */
    uint64_t version;
    int failed_step;
    cairn_op_cb cb;
    void *arg;
    int busy;                /* submitted and not completed (atomic) */
};

/* Checks @op for @oid before it is submitted: -EINVAL (bad name, no steps,
 * a write op that reads data). */
int cairn__op_check(const struct cairn_op *op, const char *oid);
/* Encodes one attempt (the objecter's encode for ops). */
int cairn__op_encode(struct cairn_op *op, uint64_t epoch, uint32_t pg, bool corrupt,
                     uint8_t **meta, size_t *meta_len, const void **data, size_t *data_len,
                     void **owned);
/* Checks a decoded reply and its @data (@data_len bytes) against @op and, on
 * success, fills the out-params: 0, the op's -errno (failed_step set),
 * -EIO (a read failed its checksum), -EBADMSG (the reply does not match the
 * op), -ENOMEM. Nothing is written to out-params unless 0. */
int cairn__op_unpack(struct cairn_op *op, const struct proto_osd_reply *reply,
                     const uint8_t *data, size_t data_len);

/* ---- object.c ---- */

/* The op's reason text, for cairn_error_string() on this thread. */
void cairn__set_reason(const struct cairn *c, int err, const char *reason);

/* ---- image.c, image_io.c: block images (client/image.h) ---- */

#define CAIRN__IMAGE_OID_MAX 64u /* "image_data.<16 hex>.<16 hex>" and NUL */
#define CAIRN__IMAGE_WINDOW 64u  /* ops in flight for whole-image walks */

struct cairn__image_req;
struct cairn__image_flush;

/* An open image. The identity and object_size are set at open and never
 * change; the rest is under lock. Requests in flight are on reqs in the
 * order they were started (seq), so a flush waits for exactly the
 * requests before it (image_io.c). */
struct cairn_image {
    struct cairn *c;
    int32_t pool;
    uint64_t id;
    uint32_t object_size;
    char name[CAIRN_IMAGE_NAME_MAX + 1];
    char header_oid[CAIRN__IMAGE_OID_MAX];
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* a request, flush or sync call finished */
    uint64_t size;         /* bytes, as of the last header read or resize */
    uint64_t created_ns;
    uint64_t next_seq;     /* the seq of the next request */
    TAILQ_HEAD(, cairn__image_req) reqs;      /* in flight, by seq */
    TAILQ_HEAD(, cairn__image_flush) flushes; /* waiting, by seq */
    unsigned callbacks;    /* completions firing callbacks outside lock */
};

/* The name of data object @objno of image @id into @buf
 * (CAIRN__IMAGE_OID_MAX bytes). */
void cairn__image_data_oid(char *buf, uint64_t id, uint64_t objno);
/* image_io.c: waits until @img has no request, flush or callback left
 * (any thread but the loop's). */
void cairn__image_drain(struct cairn_image *img);

#endif

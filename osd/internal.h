/* Private interface of cairn-osd, in sections by defining file:
 * loopq.c (store threads -> loop thread hand-off), engine.c (op scheduling:
 * per-object order, duplicates, versions), exec.c (running one op's steps
 * against the store), dup.c (answered-op table), pg.c (the PG table),
 * service.c (messenger handlers: client ops, listing, pings), boot.c
 * (monitor client: boot, beacons, maps), heartbeat.c (peer pings, failure
 * reports), superblock.c (mkfs and identity), daemon.c (lifecycle), main.c.
 * Everything except the loopq post runs on the one thread of the event
 * base; nothing here is locked. Design: docs/osd.md. */
#ifndef CAIRN_OSD_INTERNAL_H
#define CAIRN_OSD_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "osd/store/store.h"
#include "protocol/auth.h"
#include "protocol/map.h"
#include "protocol/msgr.h"
#include "protocol/osd_op.h"

struct event;
struct event_base;
struct proto_conn;
struct proto_msgr;
struct proto_monc;
struct proto_keyring;
struct proto_frame;
struct osd_arena_chunk;

#define OSD_OPS_MAX_DEFAULT 1024u   /* client ops inside the engine at once */
#define OSD_DUP_MAX_DEFAULT 4096u   /* answered write ops remembered per PG */
#define OSD_DUP_ATTACH_MAX 8u       /* duplicates waiting on one in-flight op */
#define OSD_OBJ_BUCKETS 4096u       /* hash buckets of the busy-object table */
#define OSD_PG_BUCKETS 1024u        /* hash buckets of the PG table */
#define OSD_HOLD_MS 10000u          /* an op waits this long for a newer map */
#define OSD_HOLD_MAX 1024u          /* ops waiting for a map at once */
#define OSD_HB_PEERS_MAX 32u        /* heartbeat peers */
#define OSD_BOOT_RETRY_MS 1000u     /* after a refused or lost boot */
#define OSD_READ_MAX (64u << 20)    /* READ bytes of one op (the frame's data limit) */
#define OSD_USER_XATTR_PREFIX "u."  /* store names of user xattrs: prefix + name */
#define OSD_VERSION_XATTR "_v"      /* the object version, 8 bytes little endian */
#define OSD_MSG_MAX 256u            /* reply message, as proto_osd_reply.message */

/* ---- loopq.c ---------------------------------------------------------------
 * Completions from the store's commit thread reach the loop thread through a
 * mutex-protected list and an eventfd the loop watches (STYLE §7). Items are
 * embedded in their owner: posting never allocates. */

struct osd_loopq_item {
    struct osd_loopq_item *next;
    void (*fn)(struct osd_loopq_item *item); /* runs on the loop thread */
};

struct osd_loopq {
    pthread_mutex_t lock;
    struct osd_loopq_item *head, *tail; /* under lock */
    int efd;                            /* eventfd; written when head was empty */
    struct event *ev;                   /* read event on efd */
};

/* 0, -errno (eventfd, event). */
int osd__loopq_init(struct osd_loopq *q, struct event_base *base);
/* Runs what is still queued, then frees. */
void osd__loopq_fini(struct osd_loopq *q);
/* Any thread: @item->fn will run on the loop thread. */
void osd__loopq_post(struct osd_loopq *q, struct osd_loopq_item *item);

/* ---- engine.c: the op execution engine -------------------------------------
 * Client ops of the PGs this OSD is primary for, executed against the store
 * with per-object ordering (docs/osd.md §3). The engine does not know the
 * network: replies leave through hooks, addressed by an opaque session
 * pointer and the request's txid. Tests drive it directly. */

struct osd_engine;
struct osd_pg;
struct osd_obj;

struct osd_engine_hooks {
    /* Sends an encoded reply (PROTO_MSG_OSD_OP) to @sess's request @txid. */
    void (*reply)(void *arg, void *sess, uint64_t txid, const uint8_t *meta, size_t meta_len,
                  const void *data, size_t data_len);
    /* Reference counting of sessions held by ops (optional). */
    void (*sess_ref)(void *arg, void *sess);
    void (*sess_unref)(void *arg, void *sess);
};

struct osd_engine_opts {
    struct event_base *base;
    struct osd_store *store;             /* borrowed; outlives the engine */
    const struct osd_engine_hooks *hooks;
    void *hooks_arg;
    unsigned ops_max;                    /* 0: OSD_OPS_MAX_DEFAULT */
    unsigned dup_max;                    /* per PG; 0: OSD_DUP_MAX_DEFAULT */
    const char *entity;                  /* "osd.3", for logs */
};

/* Where an answer goes. */
struct osd_origin {
    void *sess;
    uint64_t txid;
};

/* One data READ of a read op in flight. */
struct osd_read_slot {
    struct osd_loopq_item item;          /* completion hand-off */
    struct osd_op *op;
    uint32_t step;
    int result;                          /* set on the commit thread, read on the loop */
    size_t out_len;
    uint64_t buf_off;                    /* where it reads into op->rdata */
};

/* A client op inside the engine (one of a pool of ops_max, never freed
 * until the engine is). Owned by the loop thread. */
struct osd_op {
    TAILQ_ENTRY(osd_op) link;            /* obj->waiting, obj->running, the daemon's
                                            held list, or the free list */
    struct osd_engine *e;
    struct osd_pg *pg;
    struct osd_obj *obj;
    struct proto_osd_op req;             /* decoded request; byte fields point into req.priv */
    uint8_t *data;                       /* the frame's data (write payloads); owned */
    size_t data_len;
    struct osd_origin origin;
    struct osd_origin dups[OSD_DUP_ATTACH_MAX]; /* duplicates that arrived meanwhile */
    unsigned n_dups;
    uint64_t held_ns;                    /* daemon: when it started waiting for a map */
    bool is_write;                       /* has a mutation */
    bool is_blind;                       /* a write that does not read the object's state */
    bool running;                        /* on obj->running: txn or reads in the store */
    bool created_coll;                   /* its txn creates the PG's collection */
    struct osd_loopq_item done;          /* txn completion hand-off */
    int store_result;                    /* txn result (commit thread, then loop) */
    struct proto_osd_reply reply;
    struct proto_osd_step_result results[PROTO_OSD_STEPS_MAX];
    struct osd_read_slot reads[PROTO_OSD_STEPS_MAX];
    unsigned reads_pending;              /* READ slots in use */
    unsigned reads_left;                 /* of those, queued and not completed */
    uint8_t *rdata;                      /* READ results, concatenated; owned */
    uint64_t rdata_len;
    struct osd_arena_chunk *arena;       /* result values; freed with the op */
    size_t arena_used;                   /* bytes handed out from the arena */
};
TAILQ_HEAD(osd_op_list, osd_op);

int osd__engine_create(const struct osd_engine_opts *opts, struct osd_engine **out);
/* Every op must have been put back (osd__engine_ops_in_use() == 0). */
void osd__engine_destroy(struct osd_engine *e);
/* The map epoch stamped on replies and versions. */
void osd__engine_set_epoch(struct osd_engine *e, uint64_t epoch);
uint64_t osd__engine_epoch(const struct osd_engine *e);
struct osd_store *osd__engine_store(const struct osd_engine *e);
const char *osd__engine_entity(const struct osd_engine *e);
/* Ops taken and not yet put back. */
unsigned osd__engine_ops_in_use(const struct osd_engine *e);
struct osd_loopq *osd__engine_loopq(struct osd_engine *e);
/* A PROTO_OSD_VALUE_MAX-byte buffer for one synchronous store read at a time. */
uint8_t *osd__engine_scratch(struct osd_engine *e);

/* Takes a free op (req initialised), or NULL when ops_max are in use. */
struct osd_op *osd__op_get(struct osd_engine *e);
/* Returns an op that was not submitted: releases req, frees data, drops
 * the session references of its origin and duplicates. */
void osd__op_put(struct osd_op *op);
/* Records where the answer goes (takes a session reference) and takes
 * ownership of the frame's data @data (malloc'd, may be NULL). */
void osd__op_set_origin(struct osd_op *op, void *sess, uint64_t txid, uint8_t *data,
                        size_t data_len);
/* Submits a decoded op of PG @pg (whose primary we are). The op is the
 * engine's from here on: it is answered exactly once (and its duplicates
 * with it), then put back. */
void osd__op_submit(struct osd_pg *pg, struct osd_op *op);
/* Answers @op with @err (and a formatted message) without running it, then
 * puts it back. */
void osd__op_fail(struct osd_op *op, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Called by exec.c when an op that went to the store finishes (all reads
 * or the txn completed): replies, updates the object's order, puts back. */
void osd__engine_op_finished(struct osd_op *op);

/* ---- exec.c: one op against the store ----------------------------------- */

enum osd_exec_state {
    OSD_EXEC_DONE = 0,    /* answered without store I/O: op->reply is final */
    OSD_EXEC_TXN,         /* a transaction is queued; its completion finishes the op */
    OSD_EXEC_READS,       /* data reads are queued; the last completion finishes it */
};

/* Classifies op->req: sets is_write and is_blind. -EINVAL (with a reason in
 * @why) for a write op that reads data or a READ over OSD_READ_MAX. */
int osd__exec_classify(struct osd_op *op, char *why, size_t why_len);
/* Verifies each write payload's crc32c: 0, or -EBADMSG and the step in *@step. */
int osd__exec_check_payloads(const struct osd_op *op, uint32_t *step);
/* Runs the op's steps: evaluates guards and reads against the object's
 * committed state, builds and queues the transaction of a write op, or
 * queues the data reads of a read op. On failure op->reply holds the
 * error. */
enum osd_exec_state osd__exec_start(struct osd_op *op);
/* Allocates @len bytes that live as long as the op (result values); NULL
 * when out of memory. */
void *osd__op_alloc(struct osd_op *op, size_t len);
void osd__op_free_arena(struct osd_op *op);
/* Fills op->reply with failure @err at @step (-1: none) and a message. */
void osd__op_set_error(struct osd_op *op, int err, int32_t step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- dup.c: answered write ops of one PG ----------------------------------
 * A bounded FIFO of (client_id, tid) -> the encoded reply, so that a resent
 * write op gets its first answer instead of applying twice. In memory only:
 * it does not survive a restart (docs/osd.md §4). */

struct osd_dup_entry {
    uint64_t client_id, tid;
    uint8_t *meta;            /* encoded OsdOpReply; owned */
    size_t meta_len;
    uint32_t chain;           /* next entry index in the bucket + 1, 0: end */
    bool used;
};

struct osd_dup {
    struct osd_dup_entry *ring; /* max entries, allocated at the first insert */
    uint32_t *buckets;          /* entry index + 1, 0: empty */
    uint32_t max, n_buckets;
    uint32_t next;              /* ring slot the next insert takes (the oldest) */
};

void osd__dup_init(struct osd_dup *dup, uint32_t max);
void osd__dup_fini(struct osd_dup *dup);
/* The encoded reply of (@client_id, @tid), or NULL; valid until the next insert. */
const struct osd_dup_entry *osd__dup_find(const struct osd_dup *dup, uint64_t client_id,
                                          uint64_t tid);
/* Remembers a copy of @meta, evicting the oldest entry when full. 0 or -ENOMEM. */
int osd__dup_insert(struct osd_dup *dup, uint64_t client_id, uint64_t tid, const uint8_t *meta,
                    size_t meta_len);

/* ---- pg.c: the PG table --------------------------------------------------- */

enum osd_coll_state {
    OSD_COLL_NONE = 0,   /* no collection in the store */
    OSD_COLL_CREATING,   /* a queued transaction creates it */
    OSD_COLL_EXISTS,
};

struct osd_pg {
    struct osd_pg *next;              /* hash chain */
    int32_t pool;
    uint32_t ps;                      /* the PG number within the pool */
    char coll[24];                    /* store collection "POOL.PGHEX" */
    enum osd_coll_state coll_state;
    bool primary;                     /* our newest map makes us its primary */
    uint64_t ver_epoch;               /* versions: epoch << 32 | counter */
    uint32_t ver_counter;
    unsigned ops;                     /* ops of this PG inside the engine */
    struct osd_dup dup;
};

/* Formats the collection name of PG @ps of pool @pool. */
void osd__pg_coll_name(int32_t pool, uint32_t ps, char *buf, size_t len);
/* The PG, or NULL when the engine has no state for it. */
struct osd_pg *osd__pg_lookup(struct osd_engine *e, int32_t pool, uint32_t ps);
/* The PG, created (not primary) when missing; NULL when out of memory. */
struct osd_pg *osd__pg_get(struct osd_engine *e, int32_t pool, uint32_t ps);
/* Recomputes which PGs @whoami is primary for in @map (@map NULL, or
 * @active false: none). Returns how many PGs changed role; *@n_primary gets
 * the new count. PGs that are neither primary nor busy are dropped. */
unsigned osd__pgs_update(struct osd_engine *e, const struct proto_map *map, int32_t whoami,
                         bool active, unsigned *n_primary);
/* The next version of an object of @pg. */
uint64_t osd__pg_next_version(struct osd_pg *pg, uint64_t epoch);

/* Engine internals shared with pg.c. */
struct osd_pg **osd__engine_pg_buckets(struct osd_engine *e);
uint32_t osd__engine_dup_max(const struct osd_engine *e);
/* Frees every PG (engine teardown). */
void osd__pgs_free(struct osd_engine *e);

/* ---- the daemon (daemon.c, service.c, boot.c, heartbeat.c, superblock.c) -- */

struct osd_opts {
    int32_t id;                          /* N of osd.N */
    char entity[PROTO_ENTITY_MAX];       /* "osd.N" */
    char store_path[PATH_MAX];
    struct osd_store_opts store;
    char addr[PROTO_MAP_ADDR_MAX];       /* osd_addr: where to listen */
    char host[PROTO_MAP_NAME_MAX];       /* osd_host */
    uint32_t weight;                     /* 16.16 */
    uint8_t fsid[16];
    bool has_fsid;
    struct proto_map_mon mons[PROTO_MAP_MAX_MONS];
    uint32_t n_mons;
    uint64_t beacon_ms;
    uint64_t hb_interval_ms;
    uint64_t hb_grace_ms;
};

enum osd_boot_state {
    OSD_STATE_BOOTING = 0, /* OSD_BOOT sent (or to be retried) */
    OSD_STATE_WAIT_UP,     /* accepted at boot_epoch: waiting for a map showing it */
    OSD_STATE_ACTIVE,      /* the map shows us up at our address: serving */
};

/* A connection's state (proto_conn_set_data): every connection once open,
 * and our outgoing heartbeat connections from their start. Referenced by
 * the ops that will answer on it; freed at the last unref after close. */
struct osd_sess {
    struct osd_daemon *d;
    struct proto_conn *conn;             /* NULL once closed */
    unsigned refs;
    struct osd_hb_peer *peer;            /* our outgoing heartbeat connection's peer */
};

struct osd_hb_peer {
    int32_t id;
    char addr[PROTO_MAP_ADDR_MAX];
    uint64_t up_from;
    struct osd_sess *sess;               /* outgoing connection */
    uint64_t last_rx_ns;                 /* last ping answer (or when we started) */
    uint64_t last_report_ns;             /* last failure report, 0: none */
    bool ping_in_flight;
    bool keep;                           /* scratch for the peer-set update */
};

struct osd_daemon {
    struct osd_opts opts;
    struct event_base *base;
    struct proto_keyring *keyring;
    struct proto_msgr *msgr;
    struct proto_monc *monc;
    struct osd_store *store;
    struct osd_engine *engine;
    char addr[PROTO_MAP_ADDR_MAX];       /* the bound address */
    struct proto_map *map;               /* newest map; owned */
    enum osd_boot_state state;
    uint8_t uuid[16];                    /* the store's, from the superblock */
    uint64_t boot_epoch;                 /* epoch of the accepted boot */
    bool boot_in_flight;
    struct osd_op_list held;             /* ops waiting for a newer map or for us to be up */
    unsigned n_held;
    struct osd_hb_peer peers[OSD_HB_PEERS_MAX];
    unsigned n_peers;
    struct event *beacon_ev, *hb_ev, *boot_ev, *hold_ev, *stop_ev;
    struct event *sig_ev[2];
    bool stopping;
    int lock_fd;
    uint64_t stop_deadline_ns;
};

/* superblock.c */
/* --mkfs: creates the store and writes the superblock. 0 or -errno with a
 * one-line reason in @why. */
int osd__mkfs(const struct osd_opts *o, char *why, size_t why_len);
/* Checks the superblock of the open @store: whoami and fsid. Fills @uuid. */
int osd__superblock_check(struct osd_store *store, const struct osd_opts *o, uint8_t uuid[16],
                          char *why, size_t why_len);

/* daemon.c */
int osd__daemon_open(const struct osd_opts *o, struct proto_keyring *kr, struct osd_daemon **out);
int osd__daemon_run(struct osd_daemon *d);
void osd__daemon_close(struct osd_daemon *d);
uint64_t osd__now_ms(void);

/* service.c */
extern const struct osd_engine_hooks osd__engine_hooks;
extern const struct proto_msgr_handlers osd__msgr_handlers;
void osd__sess_unref(struct osd_sess *s);
/* Re-dispatches held ops the current map allows; answers expired ones. */
void osd__held_release(struct osd_daemon *d, bool expire_only);
/* Answers every held op with -EAGAIN (shutdown). */
void osd__held_fail_all(struct osd_daemon *d);

/* boot.c */
int osd__boot_start(struct osd_daemon *d, const uint8_t uuid[16]);
void osd__beacon(struct osd_daemon *d);
void osd__boot_retry(struct osd_daemon *d);

/* heartbeat.c */
/* Brings the peer set in line with the map. */
void osd__hb_update(struct osd_daemon *d);
/* One heartbeat period: pings, silence checks, reports. */
void osd__hb_tick(struct osd_daemon *d);
/* A PROTO_MSG_OSD_PING request on @s. */
void osd__hb_on_ping(struct osd_daemon *d, struct osd_sess *s, const struct proto_frame *f);
void osd__hb_close(struct osd_daemon *d);

#endif

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
#include "protocol/osd_peer.h"
#include "protocol/placement.h"

struct event;
struct event_base;
struct proto_conn;
struct proto_msgr;
struct proto_monc;
struct proto_keyring;
struct proto_frame;
struct osd_arena_chunk;
struct osd_op;
struct osd_deferred;
struct osd_txn;

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
#define OSD_PGMETA_OID "\x01pgmeta" /* a PG's log and info; hidden from clients */
#define OSD_RESERVED_OID_BYTE '\x01' /* oids starting with it are the OSD's own */
#define OSD_PG_LOG_MAX 2000u        /* log entries kept per PG */
#define OSD_RECOVERY_MAX_DEFAULT 8u /* objects being recovered at once per OSD */

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
    /* Sends the REPOP prepared in @op to the PG's replicas (optional: without
     * it PGs have no replicas). Returns how many acknowledgements to wait
     * for; each arrives through osd__repop_acked(). */
    unsigned (*replicate)(void *arg, struct osd_op *op);
    /* @pg must peer again (optional): its log in memory no longer matches
     * the store, or a replica refused a REPOP. */
    void (*repeer)(void *arg, struct osd_pg *pg);
    /* A read of @oid found our copy unreadable (optional): queues a hold on
     * the object that compares its copies and repairs ours from a replica
     * (0), after which the engine runs the read once more. */
    int (*read_repair)(void *arg, struct osd_pg *pg, const char *oid);
    /* An op waits for @oid, which the PG still lacks (optional): fetch it
     * ahead of the objects no op waits for. */
    void (*want_object)(void *arg, struct osd_pg *pg, const char *oid);
};

struct osd_engine_opts {
    struct event_base *base;
    struct osd_store *store;             /* borrowed; outlives the engine */
    const struct osd_engine_hooks *hooks;
    void *hooks_arg;
    unsigned ops_max;                    /* 0: OSD_OPS_MAX_DEFAULT */
    unsigned dup_max;                    /* per PG; 0: OSD_DUP_MAX_DEFAULT */
    const char *entity;                  /* "osd.3", for logs */
    bool replication;                    /* PGs peer: ops wait for the PG's state */
    int32_t whoami;                      /* our OSD id (REPOPs carry it) */
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
    bool repair_tried;                   /* a read that failed its checksum, run again */
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
    /* Replication (repop.c): a write op finishes when its txn is durable
     * here and every replica acknowledged it. */
    uint8_t *repop_meta;                 /* encoded REPOP; owned until sent */
    size_t repop_meta_len;
    uint8_t *repop_data;                 /* its WRITE payloads; owned */
    size_t repop_data_len;
    const char *repop_oid;               /* = req.oid, for log-only repops */
    uint64_t repop_version;              /* the log entry's version */
    unsigned acks_left;                  /* replicas yet to acknowledge */
    unsigned repop_gen;                  /* bumped when waiting for acks is abandoned */
    bool store_done;                     /* the local txn completed */
    bool repl_failed;                    /* a replica refused, or peering restarted */
    /* Internal ops (recovery pushes): run on the loop when the object has no
     * mutation in flight, in FIFO order with client ops; never answered. */
    void (*internal)(struct osd_op *op);
    void *internal_arg;
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
int32_t osd__engine_whoami(const struct osd_engine *e);
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

/* ---- names.c: a growable list of object names ---------------------------------- */

struct osd_names {
    char **v;                 /* each malloc'd */
    uint32_t n, cap;
};

/* Appends a copy of @name (@len bytes). 0 or -ENOMEM. */
int osd__names_add(struct osd_names *l, const char *name, size_t len);
/* Sorts entries [@from, n) and drops repeats among them. */
void osd__names_sort_unique(struct osd_names *l, uint32_t from);
/* Drops entries [@from, n) greater than @end. */
void osd__names_drop_after(struct osd_names *l, uint32_t from, const char *end);
void osd__names_clear(struct osd_names *l);
/* The index of @name in sorted @l, or -1. */
int64_t osd__names_find(const struct osd_names *l, const char *name);

/* ---- pg.c: the PG table --------------------------------------------------- */

enum osd_coll_state {
    OSD_COLL_NONE = 0,   /* no collection in the store */
    OSD_COLL_CREATING,   /* a queued transaction creates it */
    OSD_COLL_EXISTS,
};

/* A PG's log in memory (pglog.c): the newest OSD_PG_LOG_MAX entries, oldest
 * first, in a ring of as many slots, mirrored in the omap of the PG's
 * OSD_PGMETA_OID object (key "l" + big-endian 16-bit slot) together with
 * the info (xattr "info"). */
struct osd_pglog_entry {
    uint64_t version;
    uint64_t client_id, tid;
    char *oid;                        /* owned */
    uint8_t op;                       /* enum proto_pg_log_op */
};

struct osd_pglog {
    struct proto_pg_info info;        /* in effect: persisted, or derived at load */
    struct proto_pg_info stored;      /* as last put into a transaction */
    struct osd_pglog_entry *ring;     /* OSD_PG_LOG_MAX slots */
    uint32_t head;                    /* slot of the oldest entry */
    uint32_t n;
};

struct osd_peering;

struct osd_pg {
    struct osd_pg *next;              /* hash chain */
    int32_t pool;
    uint32_t ps;                      /* the PG number within the pool */
    char coll[24];                    /* store collection "POOL.PGHEX" */
    enum osd_coll_state coll_state;
    bool primary;                     /* our newest map makes us its primary */
    bool member;                      /* we are in its up set */
    bool acting_changed;              /* since the last peering began (pg.c sets, peering clears) */
    uint64_t ver_epoch;               /* versions: epoch << 32 | counter */
    uint32_t ver_counter;
    unsigned ops;                     /* ops of this PG inside the engine */
    struct osd_dup dup;
    /* Replication (docs/osd.md §6). */
    uint32_t state;                   /* OSD_PGS_* (osd/pgstat.h); 0: not primary */
    bool log_loaded;                  /* log and info read from the store */
    struct osd_pglog log;
    uint32_t size, min_size;          /* the pool's, at the last map */
    uint32_t n_acting;                /* acting set = up set; acting[0] is the primary */
    int32_t acting[PROTO_PLACE_MAX_REPLICAS];
    uint64_t acting_up_from[PROTO_PLACE_MAX_REPLICAS];
    uint64_t fence_epoch;             /* repops and activations below it are refused */
    int32_t activated_by;             /* replica: the primary of our last activation */
    unsigned txns;                    /* store transactions of this PG in flight */
    struct osd_peering *peering;      /* primary: peering and recovery; else NULL */
    struct osd_deferred *deferred;    /* peer requests waiting for txns == 0 */
    uint64_t objects_recovered;       /* pushed or pulled since start */
    uint64_t counted_at;              /* log.info.objects recounted at this report (pg.c) */
    /* Objects the primary itself still lacks after adopting a newer log:
     * peering.c pulls them while the PG is active, and ops on them wait
     * (engine.c). Sorted; have[i] once pulled. */
    struct osd_names missing;
    uint8_t *missing_have;
    uint32_t missing_left;
    /* Scrub (scrub.c; docs/osd.md §7), primary only. */
    struct osd_scrub *scrub;          /* the scrub running, or NULL */
    uint32_t scrub_flags;             /* OSD_PGS_SCRUBBING (+ OSD_PGS_DEEP) while one runs */
    bool scrub_loaded;                /* the stamps below were read from the store */
    bool scrub_inconsistent;          /* the last scrub left copies it could not repair */
    uint64_t last_scrub_ns, last_deep_scrub_ns; /* wall clock, 0: never */
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
/* The next number of a PG object recount (pg.c orders recounts by it). */
uint64_t osd__engine_next_count(struct osd_engine *e);
uint32_t osd__engine_dup_max(const struct osd_engine *e);
/* Frees every PG (engine teardown). */
void osd__pgs_free(struct osd_engine *e);

/* ---- lockfile.c: the daemon's lock on its store ------------------------------ */

/* flock(LOCK_EX|LOCK_NB) of @fd, the open STORE/osd.lock, whose content is
 * the holder's pid. While that holder is exiting (gone, or its main thread
 * a zombie while other threads still hold its files, as right after a
 * kill -9) it retries for up to 10 s. -EBUSY with the holder's pid in @pid
 * ("" when unknown). */
int osd__lock_store(int fd, char pid[32]);

/* ---- pglog.c: a PG's log and info ------------------------------------------ */

/* Loads the PG's info and log from the store (once); fills the duplicate
 * table from the log's entries. 0 or -errno. */
int osd__pglog_load(struct osd_engine *e, struct osd_pg *pg);
/* Creates the PG's collection and meta object if missing (synchronous). */
int osd__pg_ensure_coll(struct osd_engine *e, struct osd_pg *pg);
/* Adds entry @ent to the log, in memory and as operations of @txn (which
 * must be on the PG's collection): the entry, the trim of the oldest one
 * when full, and the info with last_update = the entry's version
 * (last_complete follows when the PG was complete). The entry's client
 * reply goes into the duplicate table when @remember_reply. */
int osd__pglog_append(struct osd_pg *pg, struct osd_txn *txn, const struct proto_pg_log_entry *ent,
                      bool remember_reply);
/* Replaces the whole log by @ents (oldest first) with tail @tail: in memory
 * and in @txn. The info's last_update becomes the newest entry (or @tail). */
int osd__pglog_replace(struct osd_pg *pg, struct osd_txn *txn,
                       const struct proto_pg_log_entry *ents, uint32_t n, uint64_t tail);
/* Adds the info as it is in memory to @txn. */
int osd__pglog_write_info(struct osd_pg *pg, struct osd_txn *txn);
/* True when the log holds an entry of @version (or @version is the tail). */
bool osd__pglog_has(const struct osd_pg *pg, uint64_t version);
/* The i-th entry, oldest first. */
const struct osd_pglog_entry *osd__pglog_at(const struct osd_pg *pg, uint32_t i);
/* Fills @out (n entries, oldest first, with version > @after) for a
 * LOG_GET reply or an activation; the oids point into the log. Returns the
 * count; *@out is malloc'd (NULL when none). */
uint32_t osd__pglog_export(const struct osd_pg *pg, uint64_t after, struct proto_pg_log_entry **out);
void osd__pglog_free(struct osd_pglog *log);
/* Queues @txn (taking it, also on failure) on @pg's collection, counted in
 * pg->txns; @done (optional) runs on the loop thread with its result. 0, or
 * the queueing error (@done does not run). */
int osd__pg_queue_txn(struct osd_engine *e, struct osd_pg *pg, struct osd_txn *txn,
                      void (*done)(int result, void *arg), void *arg);
/* Counts the objects in the PG's collection (not the meta object). */
uint64_t osd__pg_count_objects(struct osd_engine *e, struct osd_pg *pg);

/* ---- repop_enc.c: the REPOP of a write op (engine side) ------------------------ */

/* Encodes @txn's object operations (not the PG meta object's) as @op's REPOP
 * for @entry, with prev = the PG's last_update before it. */
int osd__repop_encode(struct osd_op *op, struct osd_txn *txn, const struct proto_pg_log_entry *entry,
                      uint64_t prev, uint64_t act_epoch);
/* A replica answered @op's REPOP of generation @gen with @result. */
void osd__repop_acked(struct osd_op *op, unsigned gen, int result);
/* Abandons waiting for replicas of every write op of @pg (peering restarts):
 * such ops finish once durable here, answered -ESTALE so the client resends
 * and gets the recorded answer. */
void osd__engine_pg_abandon_repops(struct osd_engine *e, struct osd_pg *pg);
/* Starts what waits in the FIFOs of @pg's objects and may start now (the PG
 * became active). */
void osd__engine_pg_kick(struct osd_engine *e, struct osd_pg *pg);
/* Answers every op of @pg that waits in an object FIFO with @err (we lost
 * the PG). */
void osd__engine_pg_fail_waiting(struct osd_engine *e, struct osd_pg *pg, int err);
/* The primary of @pg lacks @names (sorted, unique; taken): ops on them wait
 * until osd__engine_pg_got() (or osd__engine_pg_missing_clear()). */
void osd__engine_pg_missing_set(struct osd_engine *e, struct osd_pg *pg, struct osd_names *names);
/* @oid of @pg is here now: its ops may start. */
void osd__engine_pg_got(struct osd_engine *e, struct osd_pg *pg, const char *oid);
/* Forgets what @pg's primary lacked (a new peering round decides again). */
void osd__engine_pg_missing_clear(struct osd_engine *e, struct osd_pg *pg);
/* Queues an internal op on object @oid of @pg: @fn runs on the loop when
 * it may start (no mutation of the object in flight). -EAGAIN when no op
 * is free. */
int osd__engine_internal(struct osd_engine *e, struct osd_pg *pg, const char *oid,
                         void (*fn)(struct osd_op *op), void *arg);
/* Like osd__engine_internal(), but @fn runs when no op of any kind is in
 * flight on the object, and the object stays its own (client ops wait)
 * until osd__engine_internal_done(@op), which @fn may call at once. Scrub
 * compares and repairs the copies of an object this way. */
int osd__engine_internal_hold(struct osd_engine *e, struct osd_pg *pg, const char *oid,
                              void (*fn)(struct osd_op *op), void *arg);
void osd__engine_internal_done(struct osd_op *op);
/* A logged write failed here after its entry went into the log in memory:
 * forgets the log (reloaded from the store at the next peering) and asks
 * for a new peering. */
void osd__pg_log_diverged(struct osd_engine *e, struct osd_pg *pg);
const struct osd_engine_hooks *osd__engine_get_hooks(const struct osd_engine *e);
void *osd__engine_get_hooks_arg(const struct osd_engine *e);
/* The store txn of @pg completed: counts it down, runs deferred requests. */
void osd__pg_txn_done(struct osd_pg *pg);
/* Set by the daemon: objects @pg's replicas still miss (osd__pg_stats). */
extern uint64_t (*osd__pg_missing_hook)(const struct osd_pg *pg);
/* Set by the daemon: runs @pg's deferred peer requests once txns == 0. */
extern void (*osd__pg_drained_hook)(struct osd_pg *pg);

/* ---- objstate.c: whole objects for recovery ---------------------------------- */

struct osd_obj_state {
    bool exists;
    uint64_t size;
    uint8_t *data;                      /* size bytes */
    struct proto_peer_kv *xattrs, *omap; /* each key and value in one malloc'd buffer */
    uint32_t n_xattrs, n_omap, cap_xattrs, cap_omap;
};

/* Reads @oid whole (absent: exists false). 0, -EFBIG over OSD_READ_MAX, -E2BIG
 * over PROTO_PEER_KV_MAX entries, -errno. */
int osd__obj_state_read(struct osd_store *store, const char *coll, const char *oid,
                        struct osd_obj_state *st);
void osd__obj_state_free(struct osd_obj_state *st);
/* What scrub compares of one copy of an object (docs/osd.md §7). */
struct osd_obj_digest {
    bool exists;
    uint64_t size;
    uint64_t version;       /* OSD_VERSION_XATTR, 0: none */
    uint32_t attr;          /* crc32c of every xattr, names and values, in name order */
    uint32_t omap;          /* deep: crc32c of every omap entry, in key order */
    uint32_t data;          /* deep: crc32c of the bytes [0, size) */
    int read_error;         /* 0, or the store's -errno (-EIO: a block failed its checksum) */
};

/* Digests @oid's copy in @store: size and xattrs; with @deep also every data
 * byte (each block's checksum verified by the store) and the omap. A read
 * failure lands in @out->read_error: the copy is bad, not the scrub. */
void osd__obj_digest(struct osd_store *store, const char *coll, const char *oid, bool deep,
                     struct osd_obj_digest *out);

/* Adds to @txn what replaces @oid by the given state (or removes it). */
int osd__obj_state_apply(struct osd_txn *txn, const char *oid, bool exists, uint64_t size,
                         const uint8_t *data, const struct proto_peer_kv *xattrs,
                         uint32_t n_xattrs, const struct proto_peer_kv *omap, uint32_t n_omap);

/* ---- peer_serve.c, peering.c, recovery.c: replication (daemon side) ---------- */

struct osd_sess;
struct osd_daemon;

/* Forgets @pg's deferred requests (shutdown). */
void osd__peer_deferred_drop(struct osd_pg *pg);
/* Installs the drain hook (once, at daemon start). */
void osd__peer_serve_init(struct osd_daemon *d);
/* @pg's transactions are all durable (peering may go on). */
void osd__peering_on_drained(struct osd_daemon *d, struct osd_pg *pg);
/* A PROTO_MSG_OSD_PEER request on @s (takes the frame's data). */
void osd__peer_on_request(struct osd_daemon *d, struct osd_sess *s, struct proto_frame *f);
/* After a new map: starts peering where the acting set changed, stops it
 * where we lost the primary role. */
void osd__peering_on_map(struct osd_daemon *d);
/* Asks for @pg to peer again soon (a replica refused a REPOP, a store
 * failure). */
void osd__peering_request(struct osd_daemon *d, struct osd_pg *pg);
/* Stops all peering (shutdown). */
void osd__peering_stop_all(struct osd_daemon *d);
/* The engine hooks of replication. */
unsigned osd__replicate(void *arg, struct osd_op *op);
void osd__repeer_hook(void *arg, struct osd_pg *pg);
/* The want_object hook: pulls @oid now if the PG pulls while active. */
void osd__peering_pull_now(void *arg, struct osd_pg *pg, const char *oid);
/* The connection to @osd (our heartbeat peer), or NULL. */
struct proto_conn *osd__peer_conn(struct osd_daemon *d, int32_t osd);
/* Encodes and sends @m as a request to @osd. */
int osd__peer_send(struct osd_daemon *d, int32_t osd, struct proto_osd_peer *m, const void *data,
                   size_t data_len, uint32_t timeout_ms,
                   void (*cb)(int result, struct proto_frame *reply, void *arg), void *arg);
/* Decodes a PROTO_MSG_OSD_PEER reply: 0 with @m filled (release it), or the
 * transport's or the peer's error. */
int osd__peer_reply_decode(int result, struct proto_frame *f, struct proto_osd_peer *m);
/* The same, then frees @f (the decoded @m does not point into it). */
int osd__peer_reply_take(int result, struct proto_frame *f, struct proto_osd_peer *m);

/* ---- objcheck.c: comparing and repairing one object's copies (docs/osd.md §7) -- */

struct osd_obj_check_result {
    bool compared;                       /* the copies were compared */
    bool inconsistent;                   /* some copy differed or was unreadable */
    bool repaired;                       /* every bad copy was replaced by a good one */
    int repair_err;                      /* why not, when inconsistent and not repaired */
    int err;                             /* a replica did not answer: nothing was compared */
    int32_t failed_osd;                  /* which one */
};
typedef void (*osd_obj_check_fn)(struct osd_daemon *d, void *arg, const char *oid,
                                 const struct osd_obj_check_result *res);

/* Holds @oid of @pg (we are its primary), compares its copies (@deep: data
 * and omap too) and repairs the bad ones from a good one; @what names the
 * reason in logs. @fn (optional) runs once the hold ended, maybe before
 * this returns. 0; -EAGAIN (no op free), -ENOMEM, -ESTALE (not our PG):
 * then @fn does not run. */
int osd__obj_check(struct osd_daemon *d, struct osd_pg *pg, const char *oid, bool deep,
                   const char *what, osd_obj_check_fn fn, void *arg);
/* The engine's read_repair hook: a deep check of @oid with no caller. */
int osd__read_repair(void *arg, struct osd_pg *pg, const char *oid);

/* ---- scrub.c: comparing and repairing a PG's copies (docs/osd.md §7) --------- */

struct osd_scrub_result {
    int result;                          /* 0, -EBUSY (not active+clean, or peering), -errno */
    char message[OSD_MSG_MAX];           /* a summary, or why it failed */
    uint64_t objects, inconsistent, repaired, duration_ms;
};
typedef void (*osd_scrub_done_fn)(struct osd_daemon *d, void *arg,
                                  const struct osd_scrub_result *res);

/* Scrubs (@deep: deep-scrubs) @pg, whose primary we are, or joins the
 * scrub running; @fn gets the outcome once (maybe at once). A deep request
 * that finds a shallow scrub running is answered by a deep one after it. */
void osd__scrub_request(struct osd_daemon *d, struct osd_pg *pg, bool deep, osd_scrub_done_fn fn,
                        void *arg);
/* Ends @pg's scrub (peering restarts or stops), answering -EBUSY. */
void osd__scrub_abort(struct osd_daemon *d, struct osd_pg *pg, const char *why);
/* Starts the most overdue scheduled scrub, if any and a slot is free. */
void osd__scrub_tick(struct osd_daemon *d);
/* How often osd__scrub_tick should run. */
uint32_t osd__scrub_tick_ms(void);

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
    unsigned recovery_max;               /* osd_recovery_max_active */
    uint64_t scrub_interval_ms;          /* osd_scrub_interval, 0: never by schedule */
    uint64_t deep_scrub_interval_ms;     /* osd_deep_scrub_interval, 0: never by schedule */
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
    uint64_t hb_last_tick_ns;            /* heartbeat.c: to notice our own stalls */
    unsigned peer_gen;                   /* peering rounds started (peering.c) */
    struct event *repeer_ev;             /* runs requested re-peerings */
    unsigned recovery_active;            /* pushes and pulls in flight, all PGs */
    unsigned recovery_max;
    unsigned scrubs_active;              /* scheduled scrubs running (scrub.c) */
    uint64_t start_wall_ns;              /* scheduled scrubs count intervals from here at most */
    struct event *scrub_ev;
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

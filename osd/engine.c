/* The op execution engine (internal.h, docs/osd.md §3): admits client ops
 * of our PGs, orders them per object, answers duplicates, and hands each op
 * to exec.c when it may run. Loop thread only; no locks.
 *
 * Per busy object (one with ops waiting or running), a FIFO of waiting ops
 * and counts of running mutations and running data reads. Store reads see
 * only committed transactions, and the store may start a read queued before
 * a transaction after preparing that transaction, so:
 *
 *   op kind                        may start when (and it is first in the FIFO)
 *   read op (guards, reads)        no mutation running
 *   blind write (no state needed)  no data read running   (writes pipeline)
 *   other write (guards, RMW)      nothing running
 *
 * Invariants:
 *   1. An op is in exactly one place: the free list, a caller's hands
 *      (taken, not submitted), obj->waiting, obj->running, or (briefly,
 *      while exec runs it) none.
 *   2. obj->muts + obj->reads == the length of obj->running.
 *   3. An op is answered exactly once; its attached duplicates with it.
 *   4. A busy object is freed only when waiting and running are empty. */
#include "osd/internal.h"

#include "common/assert.h"
#include "common/log.h"
#include "osd/pgstat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct osd_obj {
    struct osd_obj *next;        /* hash chain, or the free list */
    struct osd_pg *pg;
    struct osd_op_list waiting;  /* not started, in arrival order */
    struct osd_op_list running;  /* txn or data reads in the store */
    unsigned muts;               /* running write ops */
    unsigned reads;              /* running read ops */
    unsigned kicking;            /* obj_kick frames on the stack (inv. 4) */
    bool missing;                /* the primary lacks it: nothing starts (pg->missing) */
    size_t oid_len;
    char oid[PROTO_OSD_OID_MAX + 1];
};

struct osd_engine {
    struct osd_engine_opts opts;
    struct osd_engine_hooks hooks;
    char entity[PROTO_ENTITY_MAX];
    struct osd_loopq loopq;
    uint64_t epoch;
    struct osd_op_list free_ops;
    unsigned ops_alloc;          /* ops allocated (<= ops_max) */
    unsigned ops_in_use;
    struct osd_obj *free_objs;   /* one per allocated op: busy objects <= ops in use */
    struct osd_obj *obj_buckets[OSD_OBJ_BUCKETS];
    struct osd_pg *pg_buckets[OSD_PG_BUCKETS];
    uint64_t counts;                 /* PG object recounts so far (pg.c) */
    uint8_t *scratch;
};

/* ---- accessors ----------------------------------------------------------- */

void osd__engine_set_epoch(struct osd_engine *e, uint64_t epoch)
{
    e->epoch = epoch;
}

uint64_t osd__engine_epoch(const struct osd_engine *e)
{
    return e->epoch;
}

struct osd_store *osd__engine_store(const struct osd_engine *e)
{
    return e->opts.store;
}

const char *osd__engine_entity(const struct osd_engine *e)
{
    return e->entity;
}

unsigned osd__engine_ops_in_use(const struct osd_engine *e)
{
    return e->ops_in_use;
}

struct osd_loopq *osd__engine_loopq(struct osd_engine *e)
{
    return &e->loopq;
}

uint8_t *osd__engine_scratch(struct osd_engine *e)
{
    return e->scratch;
}

struct osd_pg **osd__engine_pg_buckets(struct osd_engine *e)
{
    return e->pg_buckets;
}

uint64_t osd__engine_next_count(struct osd_engine *e)
{
    return ++e->counts;
}

uint32_t osd__engine_dup_max(const struct osd_engine *e)
{
    return e->opts.dup_max;
}

int32_t osd__engine_whoami(const struct osd_engine *e)
{
    return e->opts.whoami;
}

const struct osd_engine_hooks *osd__engine_get_hooks(const struct osd_engine *e)
{
    return &e->hooks;
}

void *osd__engine_get_hooks_arg(const struct osd_engine *e)
{
    return e->opts.hooks_arg;
}

/* ---- lifecycle ----------------------------------------------------------- */

int osd__engine_create(const struct osd_engine_opts *opts, struct osd_engine **out)
{
    struct osd_engine *e = calloc(1, sizeof(*e));
    int r;

    if (!e)
        return -ENOMEM;
    e->opts = *opts;
    e->hooks = *opts->hooks;
    if (!e->opts.ops_max)
        e->opts.ops_max = OSD_OPS_MAX_DEFAULT;
    if (!e->opts.dup_max)
        e->opts.dup_max = OSD_DUP_MAX_DEFAULT;
    snprintf(e->entity, sizeof(e->entity), "%s", opts->entity ? opts->entity : "osd");
    TAILQ_INIT(&e->free_ops);
    if (!(e->scratch = malloc(PROTO_OSD_VALUE_MAX))) {
        free(e);
        return -ENOMEM;
    }
    if ((r = osd__loopq_init(&e->loopq, opts->base)) < 0) {
        free(e->scratch);
        free(e);
        return r;
    }
    *out = e;
    return 0;
}

void osd__engine_destroy(struct osd_engine *e)
{
    struct osd_op *op;

    if (!e)
        return;
    CAIRN_ASSERT(e->ops_in_use == 0);
    osd__loopq_fini(&e->loopq);
    while ((op = TAILQ_FIRST(&e->free_ops))) {
        TAILQ_REMOVE(&e->free_ops, op, link);
        free(op);
    }
    while (e->free_objs) {
        struct osd_obj *o = e->free_objs;
        e->free_objs = o->next;
        free(o);
    }
    osd__pgs_free(e);
    free(e->scratch);
    free(e);
}

/* ---- op contexts ----------------------------------------------------------- */

static struct osd_op *op_alloc(struct osd_engine *e)
{
    struct osd_op *op = calloc(1, sizeof(*op));
    struct osd_obj *o = calloc(1, sizeof(*o));

    if (!op || !o) {
        free(op);
        free(o);
        return NULL;
    }
    o->next = e->free_objs;
    e->free_objs = o;
    e->ops_alloc++;
    return op;
}

struct osd_op *osd__op_get(struct osd_engine *e)
{
    struct osd_op *op = TAILQ_FIRST(&e->free_ops);

    if (op)
        TAILQ_REMOVE(&e->free_ops, op, link);
    else if (e->ops_alloc >= e->opts.ops_max || !(op = op_alloc(e)))
        return NULL;
    op->e = e;
    proto_osd_op_init(&op->req);
    proto_osd_reply_init(&op->reply);
    e->ops_in_use++;
    return op;
}

static void origin_unref(struct osd_engine *e, struct osd_origin *o)
{
    if (o->sess && e->hooks.sess_unref)
        e->hooks.sess_unref(e->opts.hooks_arg, o->sess);
    o->sess = NULL;
}

void osd__op_put(struct osd_op *op)
{
    struct osd_engine *e = op->e;

    CAIRN_ASSERT(!op->running);
    proto_osd_op_release(&op->req);
    free(op->data);
    free(op->rdata);
    osd__op_free_arena(op);
    origin_unref(e, &op->origin);
    for (unsigned i = 0; i < op->n_dups; i++)
        origin_unref(e, &op->dups[i]);
    free(op->repop_meta);
    free(op->repop_data);
    if (op->pg)
        op->pg->ops--;
    /* A late acknowledgement of this op's REPOP must not count for the
     * next user of the context. */
    unsigned gen = op->repop_gen + 1;
    memset(op, 0, sizeof(*op));
    op->e = e;
    op->repop_gen = gen;
    TAILQ_INSERT_HEAD(&e->free_ops, op, link);
    e->ops_in_use--;
}

void osd__op_set_origin(struct osd_op *op, void *sess, uint64_t txid, uint8_t *data,
                        size_t data_len)
{
    struct osd_engine *e = op->e;

    op->origin = (struct osd_origin){.sess = sess, .txid = txid};
    if (sess && e->hooks.sess_ref)
        e->hooks.sess_ref(e->opts.hooks_arg, sess);
    op->data = data;
    op->data_len = data_len;
}

/* ---- replies --------------------------------------------------------------- */

static void send_to(struct osd_engine *e, const struct osd_origin *o, const uint8_t *meta,
                    size_t meta_len, const void *data, size_t data_len)
{
    if (o->sess || o->txid)
        e->hooks.reply(e->opts.hooks_arg, o->sess, o->txid, meta, meta_len, data, data_len);
}

/* Encodes op->reply, answers the origin and the duplicates (inv. 3), records
 * an executed write op's answer, and puts the op back. */
static void reply_and_put(struct osd_op *op, bool executed)
{
    struct osd_engine *e = op->e;
    uint8_t *meta = NULL;
    size_t meta_len = 0;

    op->reply.epoch = e->epoch;
    if (op->reply.result < 0)
        op->reply.n_results = 0;
    int r = proto_osd_reply_encode(&op->reply, &meta, &meta_len);
    if (r < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s pg %s: cannot encode a reply: %s", e->entity,
                  op->pg ? op->pg->coll : "-", strerror(-r));
        osd__op_put(op); /* the client times out and resends */
        return;
    }
    if (executed && op->is_write && op->pg &&
        osd__dup_insert(&op->pg->dup, op->req.client_id, op->req.tid, meta, meta_len) < 0)
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s pg %s: no memory to remember an answer",
                  e->entity, op->pg->coll);
    if (executed && op->repl_failed && op->reply.result == 0) {
        /* Durable here, not known to be on every replica: the client
         * resends once the PG peered, and gets the answer remembered
         * above. */
        free(meta);
        meta = NULL;
        proto_osd_reply_init(&op->reply);
        op->reply.result = -ESTALE;
        op->reply.epoch = e->epoch;
        snprintf(op->reply.message, sizeof(op->reply.message),
                 "pg %s is peering again; retry", op->pg->coll);
        op->rdata_len = 0;
        if (proto_osd_reply_encode(&op->reply, &meta, &meta_len) < 0) {
            osd__op_put(op);
            return;
        }
    }
    send_to(e, &op->origin, meta, meta_len, op->rdata, op->reply.result < 0 ? 0 : op->rdata_len);
    for (unsigned i = 0; i < op->n_dups; i++)
        send_to(e, &op->dups[i], meta, meta_len, NULL, 0);
    free(meta);
    osd__op_put(op);
}

void osd__op_fail(struct osd_op *op, int err, const char *fmt, ...)
{
    va_list ap;

    proto_osd_reply_init(&op->reply);
    op->reply.result = err;
    va_start(ap, fmt);
    vsnprintf(op->reply.message, sizeof(op->reply.message), fmt, ap);
    va_end(ap);
    op->rdata_len = 0;
    reply_and_put(op, false);
}

/* ---- busy objects ---------------------------------------------------------- */

static uint32_t obj_bucket(const struct osd_pg *pg, const char *oid, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uintptr_t)pg;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)oid[i]) * 0x100000001b3ull;
    return (uint32_t)(h % OSD_OBJ_BUCKETS);
}

static bool pg_lacks(const struct osd_pg *pg, const char *oid)
{
    int64_t i = pg->missing_left ? osd__names_find(&pg->missing, oid) : -1;

    return i >= 0 && !pg->missing_have[i];
}

static struct osd_obj *obj_get(struct osd_engine *e, struct osd_pg *pg, const char *oid)
{
    size_t len = strlen(oid);
    struct osd_obj **b = &e->obj_buckets[obj_bucket(pg, oid, len)];
    struct osd_obj *o;

    for (o = *b; o; o = o->next)
        if (o->pg == pg && o->oid_len == len && memcmp(o->oid, oid, len) == 0)
            return o;
    /* One object per allocated op, and each busy object has an op: the
     * free list cannot be empty while the caller holds an op. */
    o = e->free_objs;
    CAIRN_ASSERT(o != NULL);
    e->free_objs = o->next;
    o->pg = pg;
    TAILQ_INIT(&o->waiting);
    TAILQ_INIT(&o->running);
    o->muts = o->reads = o->kicking = 0;
    o->oid_len = len;
    memcpy(o->oid, oid, len + 1);
    o->missing = pg_lacks(pg, oid);
    o->next = *b;
    *b = o;
    if (o->missing && e->hooks.want_object)
        e->hooks.want_object(e->opts.hooks_arg, pg, o->oid);
    return o;
}

static void obj_maybe_free(struct osd_engine *e, struct osd_obj *o)
{
    if (o->kicking || !TAILQ_EMPTY(&o->waiting) || !TAILQ_EMPTY(&o->running))
        return;
    CAIRN_ASSERT(o->muts == 0 && o->reads == 0); /* inv. 2 */
    struct osd_obj **p = &e->obj_buckets[obj_bucket(o->pg, o->oid, o->oid_len)];
    while (*p != o)
        p = &(*p)->next;
    *p = o->next;
    o->next = e->free_objs;
    e->free_objs = o;
}

/* With replication on, a PG runs reads once peered and writes once active
 * (with min_size replicas); ops wait in their FIFO meanwhile. */
static bool pg_allows(const struct osd_engine *e, const struct osd_op *op)
{
    uint32_t st = op->pg->state;

    if (!e->opts.replication)
        return true;
    if (!op->is_write)
        return st & (OSD_PGS_ACTIVE | OSD_PGS_PEERED);
    return st & OSD_PGS_ACTIVE;
}

static bool can_start(const struct osd_obj *o, const struct osd_op *op)
{
    if (!pg_allows(op->e, op) || o->missing)
        return false;
    if (!op->is_write)
        return o->muts == 0;
    if (op->is_blind)
        return o->reads == 0;
    return o->muts == 0 && o->reads == 0;
}

static void start(struct osd_obj *o, struct osd_op *op)
{
    if (op->internal && op->is_write) {
        /* A holding internal op: the object is its own until
         * osd__engine_internal_done(), which @internal may call at once. */
        o->muts++;
        op->running = true;
        TAILQ_INSERT_TAIL(&o->running, op, link);
        op->internal(op);
        return;
    }
    if (op->internal) {
        op->internal(op);
        osd__op_put(op);
        return;
    }
    switch (osd__exec_start(op)) {
    case OSD_EXEC_DONE:
        reply_and_put(op, true);
        return;
    case OSD_EXEC_TXN:
        o->muts++;
        break;
    case OSD_EXEC_READS:
        o->reads++;
        break;
    }
    op->running = true;
    TAILQ_INSERT_TAIL(&o->running, op, link);
}

/* Starts waiting ops from the head of the FIFO while they may start. */
static void obj_kick(struct osd_engine *e, struct osd_obj *o)
{
    struct osd_op *op;

    o->kicking++;
    while ((op = TAILQ_FIRST(&o->waiting)) && can_start(o, op)) {
        TAILQ_REMOVE(&o->waiting, op, link);
        start(o, op);
    }
    o->kicking--;
    obj_maybe_free(e, o);
}

/* A read found our copy unreadable (a block failed its checksum) and the
 * PG has replicas: a check of the object's copies repairs ours, and the
 * read waits behind it in the object's FIFO to run once more. The client
 * gets the data, or the error when the repair did not help. */
static bool retry_after_repair(struct osd_engine *e, struct osd_obj *o, struct osd_op *op)
{
    if (op->is_write || op->reply.result != -EIO || op->repair_tried || op->pg->n_acting < 2 ||
        !e->hooks.read_repair)
        return false;
    op->repair_tried = true;
    if (e->hooks.read_repair(e->opts.hooks_arg, op->pg, op->req.oid) < 0)
        return false;
    free(op->rdata);
    op->rdata = NULL;
    op->rdata_len = 0;
    op->reads_pending = op->reads_left = 0;
    osd__op_free_arena(op);
    TAILQ_INSERT_TAIL(&o->waiting, op, link);
    return true;
}

void osd__engine_op_finished(struct osd_op *op)
{
    struct osd_engine *e = op->e;
    struct osd_obj *o = op->obj;

    CAIRN_ASSERT(op->running);
    TAILQ_REMOVE(&o->running, op, link);
    op->running = false;
    if (op->is_write)
        o->muts--;
    else
        o->reads--;
    o->kicking++;
    if (!retry_after_repair(e, o, op))
        reply_and_put(op, true);
    o->kicking--;
    obj_kick(e, o);
}

/* ---- admission -------------------------------------------------------------- */

/* A write op answered before (the first answer again) or in flight (the
 * duplicate waits for the original's answer). True when @op was consumed. */
static bool answer_duplicate(struct osd_engine *e, struct osd_obj *o, struct osd_op *op)
{
    const struct osd_dup_entry *en = osd__dup_find(&op->pg->dup, op->req.client_id, op->req.tid);
    struct osd_op_list *lists[2] = {&o->waiting, &o->running};
    struct osd_op *orig;

    if (en) {
        send_to(e, &op->origin, en->meta, en->meta_len, NULL, 0);
        osd__op_put(op);
        return true;
    }
    for (unsigned i = 0; i < 2; i++) {
        TAILQ_FOREACH(orig, lists[i], link)
        {
            if (!orig->is_write || orig->req.client_id != op->req.client_id ||
                orig->req.tid != op->req.tid)
                continue;
            if (orig->n_dups < OSD_DUP_ATTACH_MAX) {
                orig->dups[orig->n_dups++] = op->origin; /* the reference moves */
                op->origin.sess = NULL;
            }
            op->origin.txid = 0;
            osd__op_put(op); /* over the bound: dropped, the client resends */
            return true;
        }
    }
    return false;
}

void osd__op_submit(struct osd_pg *pg, struct osd_op *op)
{
    struct osd_engine *e = op->e;
    char why[OSD_MSG_MAX];
    uint32_t step;

    op->pg = pg;
    pg->ops++;
    if (osd__exec_classify(op, why, sizeof(why)) < 0) {
        osd__op_fail(op, -EINVAL, "%s", why);
        return;
    }
    if (op->is_write && osd__exec_check_payloads(op, &step) < 0) {
        osd__op_set_error(op, -EBADMSG, (int32_t)step, "step %u: payload crc32c mismatch", step);
        reply_and_put(op, false);
        return;
    }
    struct osd_obj *o = obj_get(e, pg, op->req.oid);
    o->kicking++;
    bool consumed = op->is_write && answer_duplicate(e, o, op);
    o->kicking--;
    if (!consumed) {
        op->obj = o;
        TAILQ_INSERT_TAIL(&o->waiting, op, link);
    }
    obj_kick(e, o);
}

/* ---- per-PG operations ------------------------------------------------------ */

/* Collects the busy objects of @pg (kicking or failing may free them). */
static unsigned pg_objects(struct osd_engine *e, struct osd_pg *pg, struct osd_obj ***out)
{
    unsigned n = 0, cap = 0;
    struct osd_obj **v = NULL;

    for (uint32_t b = 0; b < OSD_OBJ_BUCKETS; b++) {
        for (struct osd_obj *o = e->obj_buckets[b]; o; o = o->next) {
            if (o->pg != pg)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                struct osd_obj **nv = realloc(v, cap * sizeof(*nv));
                CAIRN_ASSERT(nv != NULL);
                v = nv;
            }
            v[n++] = o;
            o->kicking++; /* pinned until we are done */
        }
    }
    *out = v;
    return n;
}

static void pg_objects_unpin(struct osd_engine *e, struct osd_obj **v, unsigned n, bool kick)
{
    for (unsigned i = 0; i < n; i++) {
        v[i]->kicking--;
        if (kick)
            obj_kick(e, v[i]);
        else
            obj_maybe_free(e, v[i]);
    }
    free(v);
}

void osd__engine_pg_kick(struct osd_engine *e, struct osd_pg *pg)
{
    struct osd_obj **v;
    unsigned n = pg_objects(e, pg, &v);

    pg_objects_unpin(e, v, n, true);
}

void osd__engine_pg_fail_waiting(struct osd_engine *e, struct osd_pg *pg, int err)
{
    struct osd_obj **v;
    unsigned n = pg_objects(e, pg, &v);
    struct osd_op *op;

    for (unsigned i = 0; i < n; i++) {
        while ((op = TAILQ_FIRST(&v[i]->waiting))) {
            TAILQ_REMOVE(&v[i]->waiting, op, link);
            if (op->internal)
                osd__op_put(op);
            else
                osd__op_fail(op, err, "%s is no longer the primary of pg %s", e->entity,
                             pg->coll);
        }
    }
    pg_objects_unpin(e, v, n, false);
}

void osd__engine_pg_abandon_repops(struct osd_engine *e, struct osd_pg *pg)
{
    struct osd_obj **v;
    unsigned n = pg_objects(e, pg, &v);

    for (unsigned i = 0; i < n; i++) {
        struct osd_op *op, *next;
        for (op = TAILQ_FIRST(&v[i]->running); op; op = next) {
            next = TAILQ_NEXT(op, link);
            if (!op->is_write || op->acks_left == 0)
                continue;
            op->acks_left = 0;
            op->repop_gen++;
            op->repl_failed = true;
            if (op->store_done)
                osd__engine_op_finished(op);
        }
    }
    pg_objects_unpin(e, v, n, false);
}

static int queue_internal(struct osd_engine *e, struct osd_pg *pg, const char *oid,
                          void (*fn)(struct osd_op *op), void *arg, bool hold)
{
    struct osd_op *op = osd__op_get(e);

    if (!op)
        return -EAGAIN;
    snprintf(op->req.oid, sizeof(op->req.oid), "%s", oid);
    op->internal = fn;
    op->internal_arg = arg;
    op->is_write = hold; /* a hold waits like a write: for every read and write */
    op->pg = pg;
    pg->ops++;
    struct osd_obj *o = obj_get(e, pg, op->req.oid);
    op->obj = o;
    TAILQ_INSERT_TAIL(&o->waiting, op, link);
    obj_kick(e, o);
    return 0;
}

int osd__engine_internal(struct osd_engine *e, struct osd_pg *pg, const char *oid,
                         void (*fn)(struct osd_op *op), void *arg)
{
    return queue_internal(e, pg, oid, fn, arg, false);
}

int osd__engine_internal_hold(struct osd_engine *e, struct osd_pg *pg, const char *oid,
                              void (*fn)(struct osd_op *op), void *arg)
{
    return queue_internal(e, pg, oid, fn, arg, true);
}

void osd__engine_internal_done(struct osd_op *op)
{
    struct osd_engine *e = op->e;
    struct osd_obj *o = op->obj;

    CAIRN_ASSERT(op->internal && op->running);
    TAILQ_REMOVE(&o->running, op, link);
    op->running = false;
    o->muts--;
    o->kicking++;
    osd__op_put(op);
    o->kicking--;
    obj_kick(e, o);
}

/* ---- what the primary itself lacks -------------------------------------------- */

void osd__engine_pg_missing_set(struct osd_engine *e, struct osd_pg *pg, struct osd_names *names)
{
    osd__engine_pg_missing_clear(e, pg);
    pg->missing = *names;
    memset(names, 0, sizeof(*names));
    pg->missing_have = calloc(pg->missing.n ? pg->missing.n : 1, 1);
    CAIRN_ASSERT(pg->missing_have != NULL);
    pg->missing_left = pg->missing.n;
    struct osd_obj **v;
    unsigned n = pg_objects(e, pg, &v);
    for (unsigned i = 0; i < n; i++)
        v[i]->missing = pg_lacks(pg, v[i]->oid);
    pg_objects_unpin(e, v, n, false);
}

void osd__engine_pg_got(struct osd_engine *e, struct osd_pg *pg, const char *oid)
{
    int64_t i = pg->missing_left ? osd__names_find(&pg->missing, oid) : -1;
    size_t len = strlen(oid);

    if (i < 0 || pg->missing_have[i])
        return;
    pg->missing_have[i] = 1;
    pg->missing_left--;
    for (struct osd_obj *o = e->obj_buckets[obj_bucket(pg, oid, len)]; o; o = o->next) {
        if (o->pg == pg && o->oid_len == len && memcmp(o->oid, oid, len) == 0) {
            o->missing = false;
            obj_kick(e, o);
            return;
        }
    }
}

void osd__engine_pg_missing_clear(struct osd_engine *e, struct osd_pg *pg)
{
    bool had = pg->missing_left > 0;

    osd__names_clear(&pg->missing);
    free(pg->missing_have);
    pg->missing_have = NULL;
    pg->missing_left = 0;
    if (!had)
        return;
    struct osd_obj **v;
    unsigned n = pg_objects(e, pg, &v);
    for (unsigned i = 0; i < n; i++)
        v[i]->missing = false;
    pg_objects_unpin(e, v, n, true);
}

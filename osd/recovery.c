/* Activation, recovery and the REPOPs of client writes, on a PG's primary
 * (docs/osd.md §6).
 *
 * Activation sends each replica what it needs of our log; then recovery
 * copies objects to replicas in the background, at most
 * OSD_RECOVERY_MAX_DEFAULT pushes in flight per OSD, so that client I/O
 * keeps the disk. A push is an internal op in the object's FIFO (engine.c):
 * it reads the object when no write of it is in flight, and is sent on the
 * same connection as the REPOPs, so a replica applies writes and pushes of
 * an object in the order we did.
 *
 * Log-based recovery pushes the objects of the log entries newer than the
 * replica's last_complete. Backfill walks the object names of both sides in
 * order, a chunk at a time (SCAN of the replica, our own listing, when the
 * replica's answer arrives): objects up to the chunk's end get full REPOPs
 * from then on, the others only their log entry, so that every object ends
 * up either pushed after its last write or written on a copy that was
 * right. When every object is pushed, RECOVERED makes the replica complete.
 * Loop thread only. */
#include "osd/internal.h"
#include "osd/peering.h"
#include "osd/pgstat.h"

#include "common/log.h"
#include "protocol/msg_types.h"
#include "protocol/msgr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUSH_TIMEOUT_MS 30000u
#define REPOP_TIMEOUT_MS 30000u
#define BACKFILL_CHUNK 256u

static void pump(struct osd_peering *p);

static void recovery_fail(struct osd_peering *p, int32_t osd, const char *what, int r)
{
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s pg %s: %s to osd.%d failed: %s; peering again",
              p->d->opts.entity, p->pg->coll, what, osd, strerror(-r));
    osd__peering_request(p->d, p->pg);
}

static void rep_clear(struct osd_replica *rp)
{
    osd__names_clear(&rp->todo);
    free(rp->cursor);
    free(rp->scan_end);
    memset(rp, 0, sizeof(*rp));
}

void osd__recovery_clear(struct osd_peering *p)
{
    for (unsigned i = 0; i < p->n_reps; i++) {
        p->d->recovery_active -= p->reps[i].inflight;
        rep_clear(&p->reps[i]);
    }
    p->n_reps = 0;
    p->activations_left = 0;
}

static int todo_add(struct osd_replica *rp, const char *oid, size_t len)
{
    return osd__names_add(&rp->todo, oid, len);
}

/* ---- the PG's state ---------------------------------------------------------------- */

static uint64_t pg_missing(const struct osd_pg *pg)
{
    const struct osd_peering *p = pg->peering;
    uint64_t n = 0;

    for (unsigned i = 0; p && i < p->n_reps; i++) {
        const struct osd_replica *rp = &p->reps[i];
        if (!rp->done)
            n += rp->mode == OSD_REP_BACKFILL && !rp->scan_all ? pg->log.info.objects + 1
                                                               : rp->todo.n - rp->next + rp->inflight;
    }
    return n + pg->missing_left;
}

static void remove_cb(int result, struct proto_frame *f, void *arg)
{
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);

    if (r < 0 && r != -EBUSY)
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "removing a stray copy failed: %s", strerror(-r));
    proto_osd_peer_release(&m);
    free(arg);
}

/* Clean: OSDs that answered our QUERY with a copy but are not in the
 * acting set drop theirs (they refuse while their map makes them members). */
static void remove_strays(struct osd_peering *p)
{
    if (p->strays_removed)
        return;
    p->strays_removed = true;
    for (unsigned i = 0; i < p->n_infos; i++) {
        const struct osd_peer_info *pi = &p->infos[i];
        if (!pi->answered || !pi->info.exists || pi->acting)
            continue;
        struct proto_osd_peer m;
        proto_osd_peer_init(&m);
        m.op = PROTO_PEER_REMOVE;
        m.pool = p->pg->pool;
        m.pg = p->pg->ps;
        m.epoch = p->epoch;
        struct preq *q = osd__preq_new(p, (int)i, NULL);
        if (q && osd__peer_send(p->d, pi->osd, &m, NULL, 0, PUSH_TIMEOUT_MS, remove_cb, q) < 0)
            free(q);
    }
}

static void update_state(struct osd_peering *p)
{
    struct osd_pg *pg = p->pg;
    uint32_t st = OSD_PGS_ACTIVE;
    bool recovering = pg->missing_left > 0, backfilling = false;

    for (unsigned i = 0; i < p->n_reps; i++) {
        if (p->reps[i].done)
            continue;
        if (p->reps[i].mode == OSD_REP_BACKFILL)
            backfilling = true;
        else
            recovering = true;
    }
    if (pg->n_acting < pg->min_size)
        st = OSD_PGS_PEERED; /* reads only */
    if (pg->n_acting < pg->size)
        st |= OSD_PGS_UNDERSIZED | OSD_PGS_DEGRADED;
    if (recovering)
        st |= OSD_PGS_RECOVERING | OSD_PGS_DEGRADED;
    if (backfilling)
        st |= OSD_PGS_BACKFILLING | OSD_PGS_DEGRADED;
    if (!(st & (OSD_PGS_DEGRADED | OSD_PGS_PEERED)))
        st |= OSD_PGS_CLEAN;
    osd__peering_set_state(p, st);
    if (st & OSD_PGS_CLEAN)
        remove_strays(p);
}

void osd__recovery_update_state(struct osd_peering *p)
{
    update_state(p);
}

void osd__recovery_kick(struct osd_peering *p)
{
    pump(p);
}

/* ---- pushes -------------------------------------------------------------------------- */

static void recovered_cb(int result, struct proto_frame *f, void *arg)
{
    struct preq *q = arg;
    struct osd_peering *p = osd__preq_peering(q);
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);

    if (p) {
        struct osd_replica *rp = &p->reps[osd__preq_idx(q)];
        if (r < 0) {
            recovery_fail(p, rp->osd, "completing recovery", r);
        } else {
            rp->done = true;
            cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s pg %s: osd.%d recovered",
                      p->d->opts.entity, p->pg->coll, rp->osd);
            update_state(p);
        }
    }
    proto_osd_peer_release(&m);
    free(q);
}

static void send_recovered(struct osd_peering *p, unsigned i)
{
    struct osd_replica *rp = &p->reps[i];
    struct proto_osd_peer m;

    rp->recovered_sent = true;
    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_RECOVERED;
    m.pool = p->pg->pool;
    m.pg = p->pg->ps;
    m.act_epoch = p->epoch;
    struct preq *q = osd__preq_new(p, (int)i, NULL);
    int r = q ? osd__peer_send(p->d, rp->osd, &m, NULL, 0, PUSH_TIMEOUT_MS, recovered_cb, q)
              : -ENOMEM;
    if (r < 0) {
        free(q);
        recovery_fail(p, rp->osd, "completing recovery", r);
    }
}

void osd__recovery_slot_freed(struct osd_daemon *d)
{
    struct osd_pg **buckets = osd__engine_pg_buckets(d->engine);

    for (uint32_t b = 0; b < OSD_PG_BUCKETS && d->recovery_active < d->recovery_max; b++) {
        for (struct osd_pg *pg = buckets[b]; pg; pg = pg->next) {
            if (pg->peering && pg->peering->throttled)
                pump(pg->peering);
            if (pg->peering)
                osd__peering_pull_more(pg->peering);
        }
    }
}

static void push_cb(int result, struct proto_frame *f, void *arg)
{
    struct preq *q = arg;
    struct osd_peering *p = osd__preq_peering(q);
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);

    if (p) {
        struct osd_replica *rp = &p->reps[osd__preq_idx(q)];
        rp->inflight--;
        p->d->recovery_active--;
        if (r < 0) {
            recovery_fail(p, rp->osd, osd__preq_oid(q), r);
        } else {
            p->pg->objects_recovered++;
            pump(p);
        }
    }
    /* Else the round moved on; recovery_clear already returned its slot. */
    osd__recovery_slot_freed(osd__preq_daemon(q));
    proto_osd_peer_release(&m);
    free(q);
}

/* An internal op: the object has no write in flight; read it, send it. */
static void push_run(struct osd_op *op)
{
    struct preq *q = op->internal_arg;
    struct osd_peering *p = osd__preq_peering(q);
    struct osd_obj_state st;
    struct proto_osd_peer m;

    if (!p) {
        free(q);
        return;
    }
    struct osd_replica *rp = &p->reps[osd__preq_idx(q)];
    int r = osd__obj_state_read(p->d->store, p->pg->coll, osd__preq_oid(q), &st);
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_OSD, "%s pg %s: push %s to osd.%d (%s, %llu bytes)",
              p->d->opts.entity, p->pg->coll, osd__preq_oid(q), rp->osd,
              r < 0 ? strerror(-r) : st.exists ? "exists" : "absent",
              (unsigned long long)st.size);
    if (r == 0) {
        proto_osd_peer_init(&m);
        m.op = PROTO_PEER_PUSH;
        m.pool = p->pg->pool;
        m.pg = p->pg->ps;
        m.act_epoch = p->epoch;
        m.oid = (struct proto_bytes){(const uint8_t *)osd__preq_oid(q), strlen(osd__preq_oid(q))};
        m.exists = st.exists;
        m.size = st.size;
        m.xattrs = st.xattrs;
        m.n_xattrs = st.n_xattrs;
        m.omap = st.omap;
        m.n_omap = st.n_omap;
        r = osd__peer_send(p->d, rp->osd, &m, st.data, st.exists ? st.size : 0, PUSH_TIMEOUT_MS,
                           push_cb, q);
        osd__obj_state_free(&st);
    }
    if (r < 0) {
        rp->inflight--;
        p->d->recovery_active--;
        recovery_fail(p, rp->osd, osd__preq_oid(q), r);
        free(q);
    }
}

static void scan_rep(struct osd_peering *p, unsigned i);

/* Starts what the throttle allows, for every replica. */
static void pump(struct osd_peering *p)
{
    p->throttled = false;
    if (p->step != OSD_PEER_ACTIVE)
        return;
    for (unsigned i = 0; i < p->n_reps; i++) {
        struct osd_replica *rp = &p->reps[i];
        if (rp->done || rp->recovered_sent || !rp->activated)
            continue;
        if (rp->next < rp->todo.n && p->d->recovery_active >= p->d->recovery_max) {
            p->throttled = true; /* another PG's completion pumps us (osd__recovery_slot_freed) */
            continue;
        }
        while (rp->next < rp->todo.n && p->d->recovery_active < p->d->recovery_max) {
            const char *oid = rp->todo.v[rp->next];
            struct preq *q = osd__preq_new(p, (int)i, oid);
            if (!q || osd__engine_internal(p->d->engine, p->pg, oid, push_run, q) < 0) {
                free(q);
                break; /* no op free: the next completion pumps again */
            }
            rp->next++;
            rp->inflight++;
            p->d->recovery_active++;
            if (rp->mode == OSD_REP_BACKFILL) {
                free(rp->cursor);
                rp->cursor = strdup(oid);
            }
        }
        if (rp->next < rp->todo.n || rp->inflight)
            continue;
        if (rp->mode == OSD_REP_BACKFILL && !rp->scan_all) {
            /* Backfill walks our own names: not before we hold every
             * object (osd__recovery_kick once our pulls are done). */
            if (!rp->scanning && p->pg->missing_left == 0)
                scan_rep(p, i);
            continue;
        }
        send_recovered(p, i);
    }
}

/* ---- backfill scanning ------------------------------------------------------------- */

struct local_scan {
    struct osd_replica *rp;
    const char *end;          /* include names <= end (NULL: all) */
    unsigned n;
    char *last;
    int err;
};

static int local_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    struct local_scan *c = arg;

    (void)v, (void)vl;
    if (kl == 0 || ((const char *)k)[0] == OSD_RESERVED_OID_BYTE)
        return 0;
    c->n++;
    free(c->last);
    c->last = strndup(k, kl);
    if (c->end && strcmp(c->last, c->end) > 0)
        return 0;
    if ((c->err = todo_add(c->rp, k, kl)) < 0)
        return 1;
    return 0;
}

static void scan_cb(int result, struct proto_frame *f, void *arg)
{
    struct preq *q = arg;
    struct osd_peering *p = osd__preq_peering(q);
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);

    if (!p) {
        proto_osd_peer_release(&m);
        free(q);
        return;
    }
    struct osd_replica *rp = &p->reps[osd__preq_idx(q)];
    rp->scanning = false;
    if (r < 0) {
        recovery_fail(p, rp->osd, "backfill scan", r);
        goto out;
    }
    /* The chunk ends at the smaller of the two sides' last names, where a
     * side has more; both exhausted: everything. */
    const char *after = rp->cursor ? rp->cursor : "";
    char *rep_last = m.more && m.n_names ? strndup((const char *)m.names[m.n_names - 1].p,
                                                   m.names[m.n_names - 1].len)
                                         : NULL;
    struct local_scan c = {.rp = rp};
    bool more = false;
    if (p->pg->coll_state == OSD_COLL_EXISTS)
        (void)osd_store_list(p->d->store, p->pg->coll, after[0] ? after : NULL, BACKFILL_CHUNK,
                             local_fn, &c, &more);
    /* local_fn added every listed name; keep those within the chunk. */
    char *local_last = more ? c.last : NULL;
    const char *end = rep_last && local_last ? (strcmp(rep_last, local_last) < 0 ? rep_last
                                                                                : local_last)
                                             : rep_last ? rep_last : local_last;
    for (uint32_t i = 0; r == 0 && i < m.n_names; i++)
        r = todo_add(rp, (const char *)m.names[i].p, m.names[i].len);
    if (r < 0) {
        recovery_fail(p, rp->osd, "backfill scan", r);
    } else {
        if (end)
            osd__names_drop_after(&rp->todo, rp->next, end);
        osd__names_sort_unique(&rp->todo, rp->next);
        free(rp->scan_end);
        rp->scan_end = end ? strdup(end) : NULL;
        rp->scan_all = end == NULL;
        if (end && rp->todo.n == rp->next) {
            /* Nothing in this chunk: move the cursor past it. */
            free(rp->cursor);
            rp->cursor = strdup(end);
        }
        pump(p);
    }
    free(rep_last);
    free(c.last);
out:
    proto_osd_peer_release(&m);
    free(q);
}

static void scan_rep(struct osd_peering *p, unsigned i)
{
    struct osd_replica *rp = &p->reps[i];
    const char *after = rp->cursor ? rp->cursor : "";
    struct proto_osd_peer m;

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_SCAN;
    m.pool = p->pg->pool;
    m.pg = p->pg->ps;
    m.after_name = (struct proto_bytes){(const uint8_t *)after, strlen(after)};
    m.max = BACKFILL_CHUNK;
    struct preq *q = osd__preq_new(p, (int)i, NULL);
    int r = q ? osd__peer_send(p->d, rp->osd, &m, NULL, 0, PUSH_TIMEOUT_MS, scan_cb, q) : -ENOMEM;
    if (r < 0) {
        free(q);
        recovery_fail(p, rp->osd, "backfill scan", r);
        return;
    }
    rp->scanning = true;
}

/* ---- activation --------------------------------------------------------------------- */

static void activated(struct osd_peering *p)
{
    struct osd_pg *pg = p->pg;
    struct osd_txn *txn = osd_txn_create(pg->coll);

    pg->log.info.act_epoch = p->epoch;
    pg->fence_epoch = p->epoch;
    if (txn && osd__pglog_write_info(pg, txn) == 0)
        (void)osd__pg_queue_txn(p->d->engine, pg, txn, NULL, NULL);
    else if (txn)
        osd_txn_destroy(txn);
    p->step = OSD_PEER_ACTIVE;
    update_state(p);
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_OSD, "%s pg %s: active at %llu, last_update %llu",
              p->d->opts.entity, pg->coll, (unsigned long long)p->epoch,
              (unsigned long long)pg->log.info.last_update);
    osd__engine_pg_kick(p->d->engine, pg);
    pump(p);
}

static void activate_cb(int result, struct proto_frame *f, void *arg)
{
    struct preq *q = arg;
    struct osd_peering *p = osd__preq_peering(q);
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);

    if (p && p->step == OSD_PEER_ACTIVATING) {
        struct osd_replica *rp = &p->reps[osd__preq_idx(q)];
        if (r < 0) {
            recovery_fail(p, rp->osd, "activation", r);
        } else {
            rp->activated = true;
            if (--p->activations_left == 0)
                activated(p);
        }
    }
    proto_osd_peer_release(&m);
    free(q);
}

static const struct osd_peer_info *info_of(const struct osd_peering *p, int32_t osd)
{
    for (unsigned i = 0; i < p->n_infos; i++)
        if (p->infos[i].osd == osd && p->infos[i].answered)
            return &p->infos[i];
    return NULL;
}

/* Decides how replica @rp catches up, and what of our log it gets. */
static int plan_replica(struct osd_peering *p, struct osd_replica *rp,
                        const struct proto_pg_info *ri, uint64_t *base)
{
    const struct osd_pg *pg = p->pg;
    const struct proto_pg_info *pi = &pg->log.info;

    *base = 0;
    if (ri && ri->exists && ri->last_update == pi->last_update &&
        ri->last_complete == ri->last_update) {
        rp->mode = OSD_REP_CLEAN;
        rp->done = true;
        *base = ri->last_update;
        return 0;
    }
    if (!ri || !ri->exists) {
        if (pi->last_update == 0 && !pi->exists) {
            rp->mode = OSD_REP_CLEAN; /* nothing anywhere */
            rp->done = true;
            return 0;
        }
        rp->mode = OSD_REP_BACKFILL;
        return 0;
    }
    if (ri->last_complete >= pi->log_tail && ri->last_update <= pi->last_update &&
        osd__pglog_has(pg, ri->last_update)) {
        rp->mode = OSD_REP_LOG;
        *base = ri->last_update;
        for (uint32_t i = 0; i < pg->log.n; i++) {
            const struct osd_pglog_entry *en = osd__pglog_at(pg, i);
            if (en->version > ri->last_complete && todo_add(rp, en->oid, strlen(en->oid)) < 0)
                return -ENOMEM;
        }
        osd__names_sort_unique(&rp->todo, rp->next);
        return 0;
    }
    rp->mode = OSD_REP_BACKFILL;
    return 0;
}

void osd__peering_activate(struct osd_peering *p)
{
    osd__pg_missing_hook = pg_missing;
    struct osd_pg *pg = p->pg;
    int r = osd__pg_ensure_coll(p->d->engine, pg);

    osd__recovery_clear(p);
    p->step = OSD_PEER_ACTIVATING;
    if (r < 0) {
        recovery_fail(p, p->d->opts.id, "creating the PG", r);
        return;
    }
    for (uint32_t a = 1; a < pg->n_acting; a++) {
        unsigned i = p->n_reps++;
        struct osd_replica *rp = &p->reps[i];
        const struct osd_peer_info *pi = info_of(p, pg->acting[a]);
        uint64_t base;
        struct proto_osd_peer m;

        rp->osd = pg->acting[a];
        if ((r = plan_replica(p, rp, pi ? &pi->info : NULL, &base)) < 0) {
            recovery_fail(p, rp->osd, "planning recovery", r);
            return;
        }
        proto_osd_peer_init(&m);
        m.op = PROTO_PEER_ACTIVATE;
        m.pool = pg->pool;
        m.pg = pg->ps;
        m.act_epoch = p->epoch;
        m.base = base;
        m.backfill = rp->mode == OSD_REP_BACKFILL;
        m.last_update = pg->log.info.last_update;
        m.log_tail = pg->log.info.log_tail;
        m.n_entries = osd__pglog_export(pg, m.backfill ? 0 : base, &m.entries);
        struct preq *q = osd__preq_new(p, (int)i, NULL);
        r = q ? osd__peer_send(p->d, rp->osd, &m, NULL, 0, PUSH_TIMEOUT_MS, activate_cb, q)
              : -ENOMEM;
        free(m.entries);
        if (r < 0) {
            free(q);
            recovery_fail(p, rp->osd, "activation", r);
            return;
        }
        p->activations_left++;
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD,
                  "%s pg %s e%llu: osd.%d %s (its log %llu, complete to %llu; ours %llu, tail %llu)",
                  p->d->opts.entity, pg->coll, (unsigned long long)p->epoch, rp->osd,
                  rp->mode == OSD_REP_CLEAN ? "is clean"
                  : rp->mode == OSD_REP_LOG ? "recovers from the log"
                                            : "is backfilled",
                  (unsigned long long)(pi ? pi->info.last_update : 0),
                  (unsigned long long)(pi ? pi->info.last_complete : 0),
                  (unsigned long long)pg->log.info.last_update,
                  (unsigned long long)pg->log.info.log_tail);
    }
    if (p->activations_left == 0)
        activated(p);
}

/* ---- REPOPs of client writes ---------------------------------------------------------- */

struct repop_req {
    struct osd_daemon *d;
    struct osd_op *op;
    unsigned gen;
    int32_t pool;
    uint32_t ps;
    int32_t osd;
};

static void repop_cb(int result, struct proto_frame *f, void *arg)
{
    struct repop_req *q = arg;
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);

    proto_osd_peer_release(&m);
    if (r < 0) {
        struct osd_pg *pg = osd__pg_lookup(q->d->engine, q->pool, q->ps);
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s pg %d.%x: osd.%d did not take a write: %s",
                  q->d->opts.entity, q->pool, q->ps, q->osd, strerror(-r));
        if (pg && pg->primary && q->gen == q->op->repop_gen)
            osd__peering_request(q->d, pg);
    }
    osd__repop_acked(q->op, q->gen, r);
    free(q);
}

/* A log-only copy of @op's REPOP, for a replica that does not have the
 * object yet (backfill beyond its scan). */
static int log_only_meta(const struct osd_op *op, uint8_t **buf, size_t *len)
{
    struct proto_osd_peer m;
    int r = proto_osd_peer_decode(op->repop_meta, op->repop_meta_len, op->repop_data_len, &m,
                                  NULL, 0);

    if (r < 0)
        return r;
    m.log_only = true;
    m.n_txn = 0;
    r = proto_osd_peer_encode(&m, buf, len);
    proto_osd_peer_release(&m);
    return r;
}

static bool beyond_scan(const struct osd_replica *rp, const char *oid)
{
    if (rp->mode != OSD_REP_BACKFILL || rp->done || rp->scan_all)
        return false;
    return !rp->scan_end || strcmp(oid, rp->scan_end) > 0;
}

unsigned osd__replicate(void *arg, struct osd_op *op)
{
    struct osd_daemon *d = arg;
    struct osd_pg *pg = op->pg;
    struct osd_peering *p = pg->peering;
    unsigned n = 0;

    for (uint32_t a = 1; a < pg->n_acting; a++) {
        int32_t osd = pg->acting[a];
        const struct osd_replica *rp = NULL;
        for (unsigned i = 0; p && i < p->n_reps; i++)
            if (p->reps[i].osd == osd)
                rp = &p->reps[i];
        struct proto_conn *conn = osd__peer_conn(d, osd);
        struct repop_req *q = calloc(1, sizeof(*q));
        uint8_t *lo = NULL;
        size_t lo_len = 0;
        bool log_only = rp && beyond_scan(rp, op->req.oid);
        int r = !conn ? -ENOTCONN : !q ? -ENOMEM : 0;
        if (r == 0 && log_only)
            r = log_only_meta(op, &lo, &lo_len);
        if (r == 0) {
            *q = (struct repop_req){.d = d, .op = op, .gen = op->repop_gen, .pool = pg->pool,
                                    .ps = pg->ps, .osd = osd};
            r = proto_conn_request(conn, PROTO_MSG_OSD_PEER, log_only ? lo : op->repop_meta,
                                   log_only ? lo_len : op->repop_meta_len,
                                   log_only ? NULL : op->repop_data,
                                   log_only ? 0 : op->repop_data_len, REPOP_TIMEOUT_MS, repop_cb, q);
        }
        free(lo);
        if (r < 0) {
            free(q);
            op->repl_failed = true;
            cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s pg %s: cannot send a write to osd.%d: %s",
                      d->opts.entity, pg->coll, osd, strerror(-r));
            osd__peering_request(d, pg);
            continue;
        }
        n++;
    }
    free(op->repop_data);
    op->repop_data = NULL;
    return n;
}

/* Comparing and repairing the copies of one object (docs/osd.md §7), for
 * scrub (scrub.c) and for reads that found our copy unreadable.
 *
 * The primary holds the object (osd__engine_internal_hold: no client op of
 * it runs meanwhile), so every write of it acknowledged so far is durable
 * on every replica and no new one can start: the copies must agree exactly.
 * It digests its own copy, asks each replica for the digests of theirs
 * (PROTO_PEER_SCRUB), and compares. The authority is our copy unless it is
 * unreadable (then the newest readable copy): checks run on active PGs,
 * where peering made the primary's copy the newest. A repair happens under
 * the same hold: we push our copy to the replicas that differ, or first
 * pull a readable copy when ours is the bad one. Loop thread only. */
#include "osd/internal.h"
#include "osd/peering.h"

#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_REQ_TIMEOUT_MS 30000u
#define COPIES_MAX (1 + PROTO_PLACE_MAX_REPLICAS)

struct obj_check;

struct check_req {
    struct obj_check *ck;
    unsigned idx;                   /* copy slot: 0 ours, then the replicas' */
};

struct obj_check {
    struct osd_daemon *d;
    int32_t pool;
    uint32_t ps;
    unsigned peer_gen;              /* the peering round it belongs to */
    uint64_t act_epoch;             /* that round's activation (PUSHes carry it) */
    const char *what;               /* "scrub", "deep-scrub", "read-repair": for logs */
    osd_obj_check_fn fn;
    void *arg;
    struct osd_op *op;              /* the hold */
    bool deep;
    unsigned n;                     /* copies: ours, then the replicas' */
    int32_t osd[COPIES_MAX];
    struct osd_obj_digest copy[COPIES_MAX];
    bool bad[COPIES_MAX];
    struct check_req reqs[COPIES_MAX];
    unsigned pending;               /* answers awaited */
    struct osd_obj_check_result res;
    char oid[];
};

/* Our PG, while the round the check began in lasts; else NULL. */
static struct osd_pg *check_pg(const struct obj_check *ck)
{
    struct osd_pg *pg = osd__pg_lookup(ck->d->engine, ck->pool, ck->ps);

    return pg && pg->primary && pg->peering && pg->peering->gen == ck->peer_gen ? pg : NULL;
}

/* Lets the object go and tells the caller. */
static void check_end(struct obj_check *ck)
{
    osd__engine_internal_done(ck->op);
    if (ck->fn)
        ck->fn(ck->d, ck->arg, ck->oid, &ck->res);
    free(ck);
}

/* Why copy @i differs from the authority @a ("" when it does not). */
static void differs(const struct obj_check *ck, unsigned i, unsigned a, char *buf, size_t len)
{
    const struct osd_obj_digest *c = &ck->copy[i], *g = &ck->copy[a];

    buf[0] = 0;
    if (c->read_error)
        snprintf(buf, len, "unreadable (%s)", strerror(-c->read_error));
    else if (c->exists != g->exists)
        snprintf(buf, len, "%s", c->exists ? "present, should be absent" : "missing");
    else if (!c->exists)
        return;
    else if (c->version != g->version)
        snprintf(buf, len, "version %" PRIu64 "'%" PRIu64 ", should be %" PRIu64 "'%" PRIu64,
                 c->version >> 32, c->version & 0xffffffffu, g->version >> 32,
                 g->version & 0xffffffffu);
    else if (c->size != g->size)
        snprintf(buf, len, "size %" PRIu64 ", should be %" PRIu64, c->size, g->size);
    else if (c->attr != g->attr)
        snprintf(buf, len, "xattrs differ");
    else if (ck->deep && c->omap != g->omap)
        snprintf(buf, len, "omap differs");
    else if (ck->deep && c->data != g->data)
        snprintf(buf, len, "data differs (crc32c %08x, should be %08x)", c->data, g->data);
}

/* ---- repairing --------------------------------------------------------------- */

/* One step of a repair ended with @r; the last one ends the check. */
static void repair_step_done(struct obj_check *ck, int r)
{
    struct osd_pg *pg = check_pg(ck);

    if (r < 0 && !ck->res.repair_err)
        ck->res.repair_err = r;
    if (--ck->pending)
        return;
    if (!pg && !ck->res.repair_err)
        ck->res.repair_err = -ESTALE;
    ck->res.repaired = !ck->res.repair_err;
    if (ck->res.repaired)
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s pg %d.%x: %s repaired %s", ck->d->opts.entity,
                  ck->pool, ck->ps, ck->what, ck->oid);
    else
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s pg %d.%x: %s could not repair %s: %s",
                  ck->d->opts.entity, ck->pool, ck->ps, ck->what, ck->oid,
                  strerror(-ck->res.repair_err));
    check_end(ck);
}

static void push_cb(int result, struct proto_frame *f, void *arg)
{
    struct check_req *rq = arg;
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);

    proto_osd_peer_release(&m);
    repair_step_done(rq->ck, r);
}

/* Sends our (good) copy to every bad replica. */
static void push_bad(struct obj_check *ck, struct osd_pg *pg)
{
    struct osd_obj_state st;
    int read = osd__obj_state_read(ck->d->store, pg->coll, ck->oid, &st);
    int r = read;

    ck->pending = 1; /* ours, until every send is out */
    for (unsigned i = 1; r == 0 && i < ck->n; i++) {
        if (!ck->bad[i])
            continue;
        struct proto_osd_peer m;
        proto_osd_peer_init(&m);
        m.op = PROTO_PEER_PUSH;
        m.pool = ck->pool;
        m.pg = ck->ps;
        m.act_epoch = ck->act_epoch;
        m.oid = (struct proto_bytes){(const uint8_t *)ck->oid, strlen(ck->oid)};
        m.exists = st.exists;
        m.size = st.size;
        m.xattrs = st.xattrs;
        m.n_xattrs = st.n_xattrs;
        m.omap = st.omap;
        m.n_omap = st.n_omap;
        ck->reqs[i] = (struct check_req){ck, i};
        r = osd__peer_send(ck->d, ck->osd[i], &m, st.data, st.exists ? st.size : 0,
                           CHECK_REQ_TIMEOUT_MS, push_cb, &ck->reqs[i]);
        ck->pending += r == 0;
    }
    if (read == 0)
        osd__obj_state_free(&st);
    repair_step_done(ck, r); /* drops ours */
}

static void pulled(int result, void *arg)
{
    struct obj_check *ck = arg;
    struct osd_pg *pg = check_pg(ck);

    if (!pg || result < 0) {
        ck->pending = 1;
        repair_step_done(ck, result < 0 ? result : -ESTALE);
        return;
    }
    push_bad(ck, pg); /* the other bad replicas, from our repaired copy */
}

/* Our copy was bad: replaces it with the authority's. */
static void pull_cb(int result, struct proto_frame *f, void *arg)
{
    struct check_req *rq = arg;
    struct obj_check *ck = rq->ck;
    struct osd_pg *pg = check_pg(ck);
    struct proto_osd_peer m;
    int r = osd__peer_reply_decode(result, f, &m);
    struct osd_txn *txn = NULL;

    if (r == 0 && !pg)
        r = -ESTALE;
    if (r == 0 && !(txn = osd_txn_create(pg->coll)))
        r = -ENOMEM;
    if (r == 0)
        r = osd__obj_state_apply(txn, ck->oid, m.exists, m.size, f->data, m.xattrs, m.n_xattrs,
                                 m.omap, m.n_omap);
    if (r == 0) {
        r = osd__pg_queue_txn(ck->d->engine, pg, txn, pulled, ck);
        txn = NULL; /* taken, also on failure */
    }
    if (txn)
        osd_txn_destroy(txn);
    proto_osd_peer_release(&m);
    if (f)
        proto_frame_free(f);
    if (r < 0) {
        ck->pending = 1;
        repair_step_done(ck, r);
    }
}

static void repair(struct obj_check *ck, struct osd_pg *pg, unsigned auth)
{
    if (auth == 0) {
        push_bad(ck, pg);
        return;
    }
    struct proto_osd_peer m;
    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_PULL;
    m.pool = ck->pool;
    m.pg = ck->ps;
    m.oid = (struct proto_bytes){(const uint8_t *)ck->oid, strlen(ck->oid)};
    ck->bad[auth] = false;
    ck->reqs[auth] = (struct check_req){ck, auth};
    int r = osd__peer_send(ck->d, ck->osd[auth], &m, NULL, 0, CHECK_REQ_TIMEOUT_MS, pull_cb,
                           &ck->reqs[auth]);
    if (r < 0)
        pull_cb(r, NULL, &ck->reqs[auth]);
}

/* ---- comparing --------------------------------------------------------------- */

/* The authority: our copy when readable, else the newest readable copy. */
static int choose_auth(const struct obj_check *ck)
{
    int a = -1;

    for (unsigned i = 0; i < ck->n; i++) {
        if (ck->copy[i].read_error)
            continue;
        if (i == 0)
            return 0;
        if (a < 0 || ck->copy[i].version > ck->copy[a].version)
            a = (int)i;
    }
    return a;
}

static void compare(struct obj_check *ck)
{
    struct osd_pg *pg = check_pg(ck);
    char why[128];
    bool any = false;

    if (!pg || ck->res.err) {
        check_end(ck);
        return;
    }
    ck->res.compared = true;
    int a = choose_auth(ck);
    for (unsigned i = 0; i < ck->n; i++) {
        if (a < 0)
            snprintf(why, sizeof(why), "unreadable (%s)", strerror(-ck->copy[i].read_error));
        else
            differs(ck, i, (unsigned)a, why, sizeof(why));
        ck->bad[i] = why[0] != 0;
        any |= ck->bad[i];
        if (ck->bad[i])
            cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s pg %s: %s %s: the copy of osd.%d is %s",
                      ck->d->opts.entity, pg->coll, ck->what, ck->oid, ck->osd[i], why);
    }
    ck->res.inconsistent = any;
    if (!any) {
        check_end(ck);
        return;
    }
    if (a < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s pg %s: %s has no readable copy",
                  ck->d->opts.entity, pg->coll, ck->oid);
        ck->res.repair_err = -EIO;
        check_end(ck);
        return;
    }
    repair(ck, pg, (unsigned)a);
}

static void digest_cb(int result, struct proto_frame *f, void *arg)
{
    struct check_req *rq = arg;
    struct obj_check *ck = rq->ck;
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);

    if (r == 0 && (m.oid.len != strlen(ck->oid) || memcmp(m.oid.p, ck->oid, m.oid.len) != 0))
        r = -EPROTO;
    if (r < 0 && !ck->res.err) {
        ck->res.err = r;
        ck->res.failed_osd = ck->osd[rq->idx];
    } else if (r == 0) {
        ck->copy[rq->idx] = (struct osd_obj_digest){
            .exists = m.exists, .size = m.size, .version = m.obj_version,
            .attr = m.attr_digest, .omap = m.omap_digest, .data = m.data_digest,
            .read_error = m.read_error};
    }
    proto_osd_peer_release(&m);
    if (--ck->pending == 0)
        compare(ck);
}

/* The hold began: digests our copy and asks every replica for its own. */
static void check_run(struct osd_op *op)
{
    struct obj_check *ck = op->internal_arg;
    struct osd_pg *pg = check_pg(ck);

    ck->op = op;
    if (!pg) {
        check_end(ck);
        return;
    }
    osd__obj_digest(ck->d->store, pg->coll, ck->oid, ck->deep, &ck->copy[0]);
    ck->pending = 1; /* ours, until every request is out */
    for (unsigned i = 1; i < ck->n; i++) {
        struct proto_osd_peer m;
        proto_osd_peer_init(&m);
        m.op = PROTO_PEER_SCRUB;
        m.pool = ck->pool;
        m.pg = ck->ps;
        m.oid = (struct proto_bytes){(const uint8_t *)ck->oid, strlen(ck->oid)};
        m.deep = ck->deep;
        ck->reqs[i] = (struct check_req){ck, i};
        int r = osd__peer_send(ck->d, ck->osd[i], &m, NULL, 0, CHECK_REQ_TIMEOUT_MS, digest_cb,
                               &ck->reqs[i]);
        if (r < 0) {
            ck->res.err = r;
            ck->res.failed_osd = ck->osd[i];
            break;
        }
        ck->pending++;
    }
    if (--ck->pending == 0)
        compare(ck);
}

int osd__obj_check(struct osd_daemon *d, struct osd_pg *pg, const char *oid, bool deep,
                   const char *what, osd_obj_check_fn fn, void *arg)
{
    size_t len = strlen(oid) + 1;
    struct obj_check *ck;

    if (!pg->primary || !pg->peering)
        return -ESTALE;
    if (!(ck = calloc(1, sizeof(*ck) + len)))
        return -ENOMEM;
    *ck = (struct obj_check){.d = d, .pool = pg->pool, .ps = pg->ps,
                             .peer_gen = pg->peering->gen, .act_epoch = pg->peering->epoch,
                             .what = what, .fn = fn, .arg = arg, .deep = deep,
                             .res = {.failed_osd = -1}};
    memcpy(ck->oid, oid, len);
    ck->n = pg->n_acting ? pg->n_acting : 1;
    ck->osd[0] = d->opts.id;
    for (unsigned i = 1; i < ck->n; i++)
        ck->osd[i] = pg->acting[i];
    int r = osd__engine_internal_hold(d->engine, pg, oid, check_run, ck);
    if (r < 0)
        free(ck);
    return r;
}

int osd__read_repair(void *arg, struct osd_pg *pg, const char *oid)
{
    struct osd_daemon *d = arg;

    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s pg %s: a read of %s failed its checksum here; "
              "repairing from a replica", d->opts.entity, pg->coll, oid);
    return osd__obj_check(d, pg, oid, true, "read-repair", NULL, NULL);
}

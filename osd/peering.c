/* Peering: how a PG's primary makes its replicas agree before it serves
 * (docs/osd.md §6). On every map that changes a PG's acting set (members,
 * order, or a member that restarted), the primary:
 *
 *   GET_INFO   asks every up OSD for its info about the PG (QUERY; this also
 *              fences older primaries out), and waits for its own writes in
 *              flight to be durable
 *   choose     the authoritative copy: the newest last_update; among equals
 *              a complete one (last_complete == last_update), us, then an
 *              acting member. Newest copy incomplete everywhere: INCOMPLETE,
 *              retried every OSD_INCOMPLETE_RETRY_MS
 *   PULL       when the authority is another OSD: fetch its log (LOG_GET).
 *              Log-based (our copy continues its log): adopt its log at
 *              once, keeping our last_complete, mark the objects of its
 *              entries newer than that as lacking (ops on them wait) and
 *              go on to ACTIVATE, pulling them while active. Otherwise
 *              copy everything it and we hold (a full scan) first, then
 *              adopt its log
 *   ACTIVATE   every replica: clean (same last_update, complete), log-based
 *              (its last_update is in our log and its last_complete not
 *              older than our tail: it gets our newer entries), or
 *              backfill (its log is replaced; it is emptied object by object)
 *   ACTIVE     ops run (writes only with at least min_size members);
 *              recovery.c copies what each replica misses, in the
 *              background
 *
 * A REPOP refused by a replica or a store failure asks for peering again
 * (osd__peering_request). Loop thread only. */
#include "osd/internal.h"
#include "osd/peering.h"
#include "osd/pgstat.h"

#include "common/clock.h"
#include "common/log.h"
#include "protocol/msg_types.h"
#include "protocol/msgr.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_TIMEOUT_MS 3000u       /* an OSD outside the acting set that does not answer */
#define PEER_REQ_TIMEOUT_MS 30000u   /* any other peering request */
#define OSD_INCOMPLETE_RETRY_MS 5000u
#define QUERY_RETRY_MS 300u          /* an acting member that refused or failed a QUERY */

/* ---- request contexts --------------------------------------------------------------- */

/* Callbacks find their PG again by id and drop answers of an older round. */
struct preq {
    struct osd_daemon *d;
    int32_t pool;
    uint32_t ps;
    unsigned gen;
    int idx;                 /* which info, replica or pull slot */
    char oid[];              /* pulls */
};

struct preq *osd__preq_new(struct osd_peering *p, int idx, const char *oid)
{
    size_t len = oid ? strlen(oid) + 1 : 1;
    struct preq *q = calloc(1, sizeof(*q) + len);

    if (!q)
        return NULL;
    *q = (struct preq){.d = p->d, .pool = p->pg->pool, .ps = p->pg->ps, .gen = p->gen,
                       .idx = idx};
    if (oid)
        memcpy(q->oid, oid, len);
    return q;
}

/* The peering a callback belongs to, or NULL when it moved on. */
struct osd_peering *osd__preq_peering(const struct preq *q)
{
    struct osd_pg *pg = osd__pg_lookup(q->d->engine, q->pool, q->ps);

    return pg && pg->peering && pg->peering->gen == q->gen ? pg->peering : NULL;
}

struct osd_daemon *osd__preq_daemon(const struct preq *q)
{
    return q->d;
}

int osd__preq_idx(const struct preq *q)
{
    return q->idx;
}

const char *osd__preq_oid(const struct preq *q)
{
    return q->oid;
}

/* ---- messaging -------------------------------------------------------------------------- */

struct proto_conn *osd__peer_conn(struct osd_daemon *d, int32_t osd)
{
    for (unsigned i = 0; i < OSD_HB_PEERS_MAX; i++)
        if (d->peers[i].id == osd && d->peers[i].sess && d->peers[i].sess->conn)
            return d->peers[i].sess->conn;
    return NULL;
}

int osd__peer_send(struct osd_daemon *d, int32_t osd, struct proto_osd_peer *m, const void *data,
                   size_t data_len, uint32_t timeout_ms,
                   void (*cb)(int result, struct proto_frame *reply, void *arg), void *arg)
{
    struct proto_conn *conn = osd__peer_conn(d, osd);
    uint8_t *buf;
    size_t len;

    if (!conn)
        return -ENOTCONN;
    m->from = d->opts.id;
    if (!m->epoch)
        m->epoch = d->map ? d->map->epoch : 0;
    int r = proto_osd_peer_encode(m, &buf, &len);
    if (r < 0)
        return r;
    r = proto_conn_request(conn, PROTO_MSG_OSD_PEER, buf, len, data, data_len, timeout_ms, cb, arg);
    free(buf);
    return r;
}

int osd__peer_reply_decode(int result, struct proto_frame *f, struct proto_osd_peer *m)
{
    char err[OSD_MSG_MAX] = "";

    proto_osd_peer_init(m);
    if (result < 0)
        return result;
    int r = proto_osd_peer_decode(f->meta, f->hdr.meta_len, f->hdr.data_len, m, err, sizeof(err));
    if (r < 0)
        return r;
    if (m->result < 0) {
        r = m->result;
        proto_osd_peer_release(m);
        proto_osd_peer_init(m);
        return r;
    }
    return 0;
}

int osd__peer_reply_take(int result, struct proto_frame *f, struct proto_osd_peer *m)
{
    int r = osd__peer_reply_decode(result, f, m);

    if (f)
        proto_frame_free(f);
    return r;
}

/* ---- state ---------------------------------------------------------------------------- */

static void peering_free(struct osd_peering *p)
{
    if (!p)
        return;
    if (p->timer)
        event_free(p->timer);
    osd__recovery_clear(p);
    osd__peering_pulls_drop(p);
    free(p->infos);
    free(p->auth_entries);
    proto_osd_peer_release(&p->auth_log);
    osd__names_clear(&p->pull);
    free(p->pull_sent);
    free(p->pull_want);
    free(p);
}

static void peering_restart(struct osd_peering *p);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct osd_peering *p = arg;

    (void)fd, (void)what;
    bool failed = false;
    for (unsigned i = 0; p->step == OSD_PEER_GET_INFO && i < p->n_infos; i++)
        failed |= p->infos[i].failed;
    if (failed)
        peering_restart(p); /* e.g. its map did not have the pool yet */
    else if (p->step == OSD_PEER_GET_INFO)
        osd__peering_continue(p, true);
    else if (p->step == OSD_PEER_INCOMPLETE)
        peering_restart(p);
}

static void arm_timer(struct osd_peering *p, uint32_t ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    event_add(p->timer, &tv);
}

static bool is_acting(const struct osd_pg *pg, int32_t osd)
{
    for (uint32_t i = 0; i < pg->n_acting; i++)
        if (pg->acting[i] == osd)
            return true;
    return false;
}

void osd__peering_set_state(struct osd_peering *p, uint32_t state)
{
    if (p->pg->state != state) {
        p->pg->state = state;
        osd__beacon_soon(p->d);
    }
}

/* ---- GET_INFO ------------------------------------------------------------------------ */

static void query_cb(int result, struct proto_frame *f, void *arg)
{
    struct preq *q = arg;
    struct osd_peering *p = osd__preq_peering(q);
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);

    if (p && p->step == OSD_PEER_GET_INFO) {
        struct osd_peer_info *pi = &p->infos[q->idx];
        if (r == 0 && m.has_info) {
            pi->answered = true;
            pi->info = m.info;
        } else if (!pi->acting) {
            pi->answered = true; /* an OSD outside the acting set: without it */
        } else {
            cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s pg %s: osd.%d did not answer: %s",
                      p->d->opts.entity, p->pg->coll, pi->osd, strerror(-r));
            pi->failed = true;
            arm_timer(p, QUERY_RETRY_MS);
        }
        osd__peering_continue(p, false);
    }
    proto_osd_peer_release(&m);
    free(q);
}

static void send_queries(struct osd_peering *p)
{
    const struct proto_map *map = p->d->map;
    unsigned n = 0;

    free(p->infos);
    p->infos = calloc(map->n_osds ? map->n_osds : 1, sizeof(*p->infos));
    if (!p->infos)
        return;
    for (uint32_t i = 0; i < map->n_osds; i++) {
        const struct proto_map_osd *o = &map->osds[i];
        if (!o->exists || !o->up || o->id == p->d->opts.id)
            continue;
        struct osd_peer_info *pi = &p->infos[n];
        *pi = (struct osd_peer_info){.osd = o->id, .acting = is_acting(p->pg, o->id)};
        struct proto_osd_peer m;
        proto_osd_peer_init(&m);
        m.op = PROTO_PEER_QUERY;
        m.pool = p->pg->pool;
        m.pg = p->pg->ps;
        m.epoch = p->epoch;
        struct preq *q = osd__preq_new(p, (int)n, NULL);
        int r = q ? osd__peer_send(p->d, o->id, &m, NULL, 0,
                                   pi->acting ? PEER_REQ_TIMEOUT_MS : QUERY_TIMEOUT_MS, query_cb, q)
                  : -ENOMEM;
        if (r < 0) {
            free(q);
            pi->answered = !pi->acting;
            pi->failed = pi->acting;
            if (pi->failed)
                arm_timer(p, QUERY_RETRY_MS);
        }
        n++;
    }
    p->n_infos = n;
}

/* The best of two infos for authority: newer, then complete. */
static bool better(const struct proto_pg_info *a, const struct proto_pg_info *b)
{
    if (a->last_update != b->last_update)
        return a->last_update > b->last_update;
    return a->last_complete == a->last_update && b->last_complete != b->last_update;
}

static void start_pull(struct osd_peering *p);

static void choose_and_go(struct osd_peering *p)
{
    struct osd_pg *pg = p->pg;
    const struct proto_pg_info *self = &pg->log.info;
    const struct proto_pg_info *best = self;
    int best_idx = -1;

    for (unsigned i = 0; i < p->n_infos; i++) {
        const struct osd_peer_info *pi = &p->infos[i];
        if (!pi->answered || !pi->info.exists)
            continue;
        if (better(&pi->info, best) ||
            (best_idx >= 0 && !better(best, &pi->info) && pi->acting && !p->infos[best_idx].acting))
            best = &pi->info, best_idx = (int)i;
    }
    if (best->last_complete != best->last_update) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD,
                  "%s pg %s: the newest copy (%s, up to %llu) is incomplete and no complete one "
                  "is up; waiting",
                  p->d->opts.entity, pg->coll,
                  best_idx < 0 ? "ours" : "another OSD's", (unsigned long long)best->last_update);
        p->step = OSD_PEER_INCOMPLETE;
        osd__peering_set_state(p, OSD_PGS_INCOMPLETE | OSD_PGS_PEERING);
        arm_timer(p, OSD_INCOMPLETE_RETRY_MS);
        return;
    }
    if (best_idx < 0) {
        osd__peering_activate(p);
        return;
    }
    p->auth = p->infos[best_idx].osd;
    p->auth_info = p->infos[best_idx].info;
    start_pull(p);
}

void osd__peering_continue(struct osd_peering *p, bool timed_out)
{
    if (p->step != OSD_PEER_GET_INFO)
        return;
    for (unsigned i = 0; i < p->n_infos; i++) {
        struct osd_peer_info *pi = &p->infos[i];
        if (pi->failed)
            return; /* an acting member is unreachable: the next map decides */
        if (!pi->answered && !(timed_out && !pi->acting))
            return;
        pi->answered = true;
    }
    if (p->pg->txns > 0)
        return; /* our own writes first: osd__peering_on_drained goes on */
    choose_and_go(p);
}

void osd__peering_on_drained(struct osd_daemon *d, struct osd_pg *pg)
{
    (void)d;
    if (pg->peering && pg->peering->step == OSD_PEER_GET_INFO)
        osd__peering_continue(pg->peering, false);
}

/* ---- PULL: we are behind ------------------------------------------------------------ */

static void pull_next(struct osd_peering *p);

/* A pull answered: its recovery slot is free. */
static void pull_slot_done(struct osd_peering *p)
{
    p->pull_inflight--;
    p->d->recovery_active--;
}

void osd__peering_pulls_drop(struct osd_peering *p)
{
    p->d->recovery_active -= p->pull_inflight;
    p->pull_inflight = 0;
    p->pull_throttled = false;
}

void osd__peering_pull_more(struct osd_peering *p)
{
    if (p->pull_throttled)
        pull_next(p);
}

/* Sorts the objects to pull and starts from the first. -ENOMEM. */
static int pull_reset(struct osd_peering *p)
{
    osd__names_sort_unique(&p->pull, 0);
    free(p->pull_sent);
    p->pull_sent = calloc(p->pull.n ? p->pull.n : 1, 1);
    p->want_head = p->want_n = 0;
    p->next_pull = 0;
    osd__peering_pulls_drop(p);
    return p->pull_sent ? 0 : -ENOMEM;
}

static bool pulling(const struct osd_peering *p)
{
    return p->step == OSD_PEER_PULL || p->pull_active;
}

static void pull_fail(struct osd_peering *p, const char *what, int r)
{
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s pg %s: %s from osd.%d failed: %s; peering again",
              p->d->opts.entity, p->pg->coll, what, p->auth, strerror(-r));
    if (p->pull_active) {
        p->pull_active = false; /* the next round computes again what we lack */
        osd__peering_request(p->d, p->pg);
        return;
    }
    p->step = OSD_PEER_INCOMPLETE;
    arm_timer(p, 1000);
}

static void complete_done(int result, void *arg)
{
    struct preq *q = arg;
    struct osd_peering *p = osd__preq_peering(q);

    if (p && result < 0)
        osd__peering_request(p->d, p->pg);
    free(q);
}

/* The last object we lacked arrived while active: our copy is complete
 * again, up to the newest entry (writes since activation included). */
static void pull_active_done(struct osd_peering *p)
{
    struct osd_pg *pg = p->pg;
    struct osd_txn *txn = osd_txn_create(pg->coll);
    struct preq *q = osd__preq_new(p, 0, NULL);

    p->pull_active = false;
    pg->log.info.last_complete = pg->log.info.last_update;
    int r = txn && q ? osd__pglog_write_info(pg, txn) : -ENOMEM;
    if (r == 0) {
        r = osd__pg_queue_txn(p->d->engine, pg, txn, complete_done, q);
        txn = NULL;
        q = r == 0 ? NULL : q;
    }
    if (txn)
        osd_txn_destroy(txn);
    free(q);
    if (r < 0)
        osd__peering_request(p->d, pg);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s pg %s: pulled the %u objects it lacked from osd.%d",
              p->d->opts.entity, pg->coll, p->pull.n, p->auth);
    if (p->step == OSD_PEER_ACTIVE) { /* else activated() does both */
        osd__recovery_update_state(p);
        osd__recovery_kick(p);
    }
}

static void adopt_done(struct osd_peering *p, int r)
{
    if (r < 0) {
        pull_fail(p, "adopting the log", r);
        return;
    }
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s pg %s: caught up with osd.%d at %llu (%u objects)",
              p->d->opts.entity, p->pg->coll, p->auth,
              (unsigned long long)p->pg->log.info.last_update, p->pull.n);
    osd__peering_activate(p);
}

/* Our log becomes the authority's, durably. Complete when every object
 * was copied; else last_complete stays where our objects end, so that a
 * restart knows what we still lack. */
static int adopt_log_at(struct osd_peering *p, uint64_t last_complete)
{
    struct osd_pg *pg = p->pg;
    struct osd_txn *txn = osd_txn_create(pg->coll);
    int r = txn ? 0 : -ENOMEM;

    if (r == 0)
        r = osd__pglog_replace(pg, txn, p->auth_log.entries, p->auth_log.n_entries,
                               p->auth_log.info.log_tail);
    if (r == 0) {
        pg->log.info.last_update = p->auth_log.info.last_update;
        pg->log.info.last_complete = last_complete;
        r = osd__pglog_write_info(pg, txn);
    }
    if (r == 0)
        r = osd_store_apply(p->d->store, txn);
    else if (txn)
        osd_txn_destroy(txn);
    if (r < 0) {
        osd__pglog_free(&pg->log);
        pg->log_loaded = false;
        (void)osd__pglog_load(p->d->engine, pg);
    }
    return r;
}

/* Every object copied: our log becomes the authority's. */
static void adopt_log(struct osd_peering *p)
{
    adopt_done(p, adopt_log_at(p, p->auth_log.info.last_update));
}

/* Log-based catch-up without waiting: we take the authority's log now,
 * mark the objects of the entries we miss as lacking (their ops wait until
 * each is pulled, osd__engine_pg_got), activate, and pull them while the
 * PG serves every other object. */
static void adopt_and_activate(struct osd_peering *p)
{
    struct osd_pg *pg = p->pg;
    struct osd_names lack = {0};
    int r = pull_reset(p);

    for (uint32_t i = 0; i < p->pull.n && r == 0; i++)
        r = osd__names_add(&lack, p->pull.v[i], strlen(p->pull.v[i]));
    if (r == 0)
        r = adopt_log_at(p, pg->log.info.last_complete);
    if (r < 0) {
        osd__names_clear(&lack);
        pull_fail(p, "adopting the log", r);
        return;
    }
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD,
              "%s pg %s: took osd.%d's log to %llu; activating while pulling %u objects",
              p->d->opts.entity, pg->coll, p->auth, (unsigned long long)pg->log.info.last_update,
              p->pull.n);
    osd__engine_pg_missing_set(p->d->engine, pg, &lack);
    p->pull_active = true;
    unsigned gen = p->gen;
    osd__peering_activate(p);
    if (p->gen == gen && p->pull_active)
        pull_next(p); /* with nothing to pull, this completes our copy at once */
}

static void pulled(int result, void *arg)
{
    struct preq *q = arg;
    struct osd_peering *p = osd__preq_peering(q);

    if (p && pulling(p)) {
        pull_slot_done(p);
        if (result < 0) {
            pull_fail(p, q->oid, result);
        } else {
            p->pg->objects_recovered++;
            osd__engine_pg_got(p->d->engine, p->pg, q->oid);
            pull_next(p);
        }
        osd__recovery_slot_freed(p->d);
    }
    free(q);
}

static void pull_cb(int result, struct proto_frame *f, void *arg)
{
    struct preq *q = arg;
    struct osd_peering *p = osd__preq_peering(q);
    struct proto_osd_peer m;
    int r = osd__peer_reply_decode(result, f, &m);

    if (p && pulling(p)) {
        struct osd_txn *txn = r == 0 ? osd_txn_create(p->pg->coll) : NULL;
        if (r == 0 && !txn)
            r = -ENOMEM;
        if (r == 0 && (r = osd__obj_state_apply(txn, q->oid, m.exists, m.size, f->data, m.xattrs,
                                                m.n_xattrs, m.omap, m.n_omap)) < 0)
            osd_txn_destroy(txn);
        else if (r == 0 && (r = osd__pg_queue_txn(p->d->engine, p->pg, txn, pulled, q)) == 0)
            q = NULL; /* pulled() has it */
        if (r < 0) {
            pull_slot_done(p);
            pull_fail(p, q->oid, r);
        }
    }
    proto_osd_peer_release(&m);
    if (f)
        proto_frame_free(f);
    free(q);
}

/* Asks the authority for pull entry @i. */
static int pull_send(struct osd_peering *p, uint32_t i)
{
    const char *oid = p->pull.v[i];
    struct proto_osd_peer m;
    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_PULL;
    m.pool = p->pg->pool;
    m.pg = p->pg->ps;
    m.oid = (struct proto_bytes){(const uint8_t *)oid, strlen(oid)};
    struct preq *q = osd__preq_new(p, 0, oid);
    int r = q ? osd__peer_send(p->d, p->auth, &m, NULL, 0, PEER_REQ_TIMEOUT_MS, pull_cb, q)
              : -ENOMEM;
    if (r < 0) {
        free(q);
        pull_fail(p, oid, r);
        return r;
    }
    p->pull_sent[i] = 1;
    p->pull_inflight++;
    p->d->recovery_active++;
    return 0;
}

/* Whether a background pull may start: while active, pulls share the OSD's
 * recovery slots with pushes, so that client ops keep most of the disk and
 * CPU; before activation no op is served anyway, so each PG pulls with
 * its own slots. */
static bool pull_may_start(const struct osd_peering *p)
{
    if (p->pull_active)
        return p->d->recovery_active < p->d->recovery_max;
    return p->pull_inflight < p->d->recovery_max;
}

/* On-demand pulls may take as many slots again as the background ones: a
 * client op waits on each, a background pull on nothing. */
static bool pull_may_start_on_demand(const struct osd_peering *p)
{
    return p->d->recovery_active < 2 * p->d->recovery_max;
}

static void pull_next(struct osd_peering *p)
{
    p->pull_throttled = false;
    while (pulling(p) && p->want_head < p->want_n && pull_may_start_on_demand(p)) {
        uint32_t i = p->pull_want[p->want_head++];
        if (!p->pull_sent[i] && pull_send(p, i) < 0)
            return;
    }
    if (p->want_head == p->want_n)
        p->want_head = p->want_n = 0;
    while (pulling(p) && p->next_pull < p->pull.n && pull_may_start(p)) {
        uint32_t i = p->next_pull++;
        if (!p->pull_sent[i] && pull_send(p, i) < 0)
            return;
    }
    if (p->next_pull < p->pull.n && pulling(p))
        p->pull_throttled = true; /* osd__recovery_slot_freed goes on */
    if (p->next_pull < p->pull.n || p->pull_inflight)
        return;
    if (p->pull_active)
        pull_active_done(p);
    else if (p->step == OSD_PEER_PULL)
        adopt_log(p);
}

void osd__peering_pull_now(void *arg, struct osd_pg *pg, const char *oid)
{
    struct osd_peering *p = pg->peering;

    (void)arg;
    if (!p || !p->pull_active || !p->pull_sent)
        return;
    int64_t i = osd__names_find(&p->pull, oid);
    if (i < 0 || p->pull_sent[i])
        return;
    if (pull_may_start_on_demand(p)) {
        (void)pull_send(p, (uint32_t)i); /* a failure restarts peering */
        return;
    }
    if (p->want_n == p->want_cap) { /* without room it comes in its turn */
        uint32_t cap = p->want_cap ? 2 * p->want_cap : 64;
        uint32_t *v = realloc(p->pull_want, cap * sizeof(*v));
        if (!v)
            return;
        p->pull_want = v;
        p->want_cap = cap;
    }
    p->pull_want[p->want_n++] = (uint32_t)i;
}

static int pull_add(struct osd_peering *p, const char *oid, size_t len)
{
    return osd__names_add(&p->pull, oid, len);
}

static int local_name_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    (void)v, (void)vl;
    if (kl == 0 || ((const char *)k)[0] == OSD_RESERVED_OID_BYTE)
        return 0;
    return pull_add(arg, k, kl) < 0;
}

static void scan_pull_cb(int result, struct proto_frame *f, void *arg);

static void send_scan_for_pull(struct osd_peering *p, const char *after)
{
    struct proto_osd_peer m;

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_SCAN;
    m.pool = p->pg->pool;
    m.pg = p->pg->ps;
    m.after_name = (struct proto_bytes){(const uint8_t *)after, strlen(after)};
    struct preq *q = osd__preq_new(p, 0, after);
    int r = q ? osd__peer_send(p->d, p->auth, &m, NULL, 0, PEER_REQ_TIMEOUT_MS, scan_pull_cb, q)
              : -ENOMEM;
    if (r < 0) {
        free(q);
        pull_fail(p, "scan", r);
    }
}

static void pull_begin(struct osd_peering *p)
{
    int r = pull_reset(p);
    if (r < 0)
        pull_fail(p, "pull", r);
    else
        pull_next(p);
}

static void scan_pull_cb(int result, struct proto_frame *f, void *arg)
{
    struct preq *q = arg;
    struct osd_peering *p = osd__preq_peering(q);
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);

    if (p && p->step == OSD_PEER_PULL) {
        for (uint32_t i = 0; r == 0 && i < m.n_names; i++)
            r = pull_add(p, (const char *)m.names[i].p, m.names[i].len);
        if (r < 0)
            pull_fail(p, "scan", r);
        else if (m.more && m.n_names)
            send_scan_for_pull(p, p->pull.v[p->pull.n - 1]);
        else
            pull_begin(p);
    }
    proto_osd_peer_release(&m);
    free(q);
}

static void log_get_cb(int result, struct proto_frame *f, void *arg)
{
    struct preq *q = arg;
    struct osd_peering *p = osd__preq_peering(q);
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);

    free(q);
    if (!p || p->step != OSD_PEER_PULL) {
        proto_osd_peer_release(&m);
        return;
    }
    if (r < 0 || !m.has_info) {
        proto_osd_peer_release(&m);
        pull_fail(p, "the log", r < 0 ? r : -EBADMSG);
        return;
    }
    p->auth_log = m; /* kept: its entries become our log */
    const struct proto_pg_info *self = &p->pg->log.info;
    bool log_ok = self->exists && self->last_complete >= m.info.log_tail;
    if (log_ok && self->last_update != m.info.log_tail) {
        log_ok = false;
        for (uint32_t i = 0; i < m.n_entries && !log_ok; i++)
            log_ok = m.entries[i].version == self->last_update;
    }
    if (log_ok) {
        for (uint32_t i = 0; i < m.n_entries && r == 0; i++)
            if (m.entries[i].version > self->last_complete)
                r = pull_add(p, (const char *)m.entries[i].oid.p, m.entries[i].oid.len);
        if (r < 0)
            pull_fail(p, "the log", r);
        else
            adopt_and_activate(p);
        return;
    }
    /* Backfill ourselves: everything either side holds. */
    bool more = false;
    if (p->pg->coll_state == OSD_COLL_EXISTS &&
        osd_store_list(p->d->store, p->pg->coll, NULL, 0, local_name_fn, p, &more) < 0) {
        pull_fail(p, "our own listing", -EIO);
        return;
    }
    send_scan_for_pull(p, "");
}

static void start_pull(struct osd_peering *p)
{
    struct proto_osd_peer m;

    p->step = OSD_PEER_PULL;
    if (osd__pg_ensure_coll(p->d->engine, p->pg) < 0) {
        pull_fail(p, "creating the PG", -EIO);
        return;
    }
    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_LOG_GET;
    m.pool = p->pg->pool;
    m.pg = p->pg->ps;
    m.after = 0;
    struct preq *q = osd__preq_new(p, 0, NULL);
    int r = q ? osd__peer_send(p->d, p->auth, &m, NULL, 0, PEER_REQ_TIMEOUT_MS, log_get_cb, q)
              : -ENOMEM;
    if (r < 0) {
        free(q);
        pull_fail(p, "the log", r);
    }
}

/* ---- starting and stopping ---------------------------------------------------------- */

static void peering_restart(struct osd_peering *p)
{
    struct osd_pg *pg = p->pg;
    struct osd_daemon *d = p->d;

    osd__scrub_abort(d, pg, "is peering again");
    osd__engine_pg_abandon_repops(d->engine, pg);
    osd__engine_pg_missing_clear(d->engine, pg);
    p->pull_active = false;
    osd__recovery_clear(p);
    osd__peering_pulls_drop(p);
    proto_osd_peer_release(&p->auth_log);
    proto_osd_peer_init(&p->auth_log);
    osd__names_clear(&p->pull);
    p->next_pull = 0;
    p->gen = ++d->peer_gen;
    p->epoch = d->map->epoch;
    p->strays_removed = false;
    p->step = OSD_PEER_GET_INFO;
    p->auth = -1;
    osd__peering_set_state(p, OSD_PGS_PEERING);
    int r = osd__pglog_load(d->engine, pg);
    if (r < 0) {
        p->step = OSD_PEER_INCOMPLETE;
        osd__peering_set_state(p, OSD_PGS_INCOMPLETE);
        arm_timer(p, OSD_INCOMPLETE_RETRY_MS);
        return;
    }
    pg->log.info.objects = osd__pg_count_objects(d->engine, pg);
    arm_timer(p, QUERY_TIMEOUT_MS);
    send_queries(p);
    osd__peering_continue(p, false);
}

static void peering_start(struct osd_daemon *d, struct osd_pg *pg)
{
    struct osd_peering *p = pg->peering;

    if (!p) {
        if (!(p = calloc(1, sizeof(*p))))
            return;
        p->d = d;
        p->pg = pg;
        proto_osd_peer_init(&p->auth_log);
        if (!(p->timer = evtimer_new(d->base, timer_cb, p))) {
            free(p);
            return;
        }
        pg->peering = p;
    }
    peering_restart(p);
}

static void peering_stop(struct osd_daemon *d, struct osd_pg *pg)
{
    osd__scrub_abort(d, pg, "is no longer ours");
    osd__engine_pg_abandon_repops(d->engine, pg);
    osd__engine_pg_missing_clear(d->engine, pg);
    peering_free(pg->peering);
    pg->peering = NULL;
    pg->state = 0;
    osd__engine_pg_fail_waiting(d->engine, pg, -ESTALE);
}

static void repeer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    osd__peering_on_map(arg);
}

void osd__peering_request(struct osd_daemon *d, struct osd_pg *pg)
{
    pg->acting_changed = true;
    if (!d->repeer_ev)
        d->repeer_ev = evtimer_new(d->base, repeer_cb, d);
    if (d->repeer_ev) {
        struct timeval tv = {0, 0};
        event_add(d->repeer_ev, &tv);
    }
}

void osd__repeer_hook(void *arg, struct osd_pg *pg)
{
    osd__peering_request(arg, pg);
}

void osd__peering_on_map(struct osd_daemon *d)
{
    struct osd_pg **buckets = osd__engine_pg_buckets(d->engine);
    struct osd_pg *todo[64];
    bool again = true;

    /* Starting or stopping may create or prune PGs: collect, then act. */
    while (again) {
        unsigned n = 0;
        again = false;
        for (uint32_t b = 0; b < OSD_PG_BUCKETS && n < 64; b++)
            for (struct osd_pg *pg = buckets[b]; pg && n < 64; pg = pg->next)
                if (pg->acting_changed)
                    todo[n++] = pg;
        again = n == 64;
        for (unsigned i = 0; i < n; i++) {
            struct osd_pg *pg = todo[i];
            pg->acting_changed = false;
            if (pg->primary && d->state == OSD_STATE_ACTIVE && !d->stopping)
                peering_start(d, pg);
            else if (pg->peering || pg->state)
                peering_stop(d, pg);
        }
    }
}

void osd__peering_stop_all(struct osd_daemon *d)
{
    struct osd_pg **buckets = osd__engine_pg_buckets(d->engine);

    for (uint32_t b = 0; b < OSD_PG_BUCKETS; b++)
        for (struct osd_pg *pg = buckets[b]; pg; pg = pg->next) {
            if (pg->peering || pg->state)
                peering_stop(d, pg);
            osd__peer_deferred_drop(pg);
        }
    if (d->repeer_ev) {
        event_free(d->repeer_ev);
        d->repeer_ev = NULL;
    }
}

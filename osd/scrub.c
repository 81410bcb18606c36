/* Scrub (docs/osd.md §7): a PG's primary compares its copy of every object
 * with its replicas' copies and repairs the ones that differ from a good
 * copy. A shallow scrub compares existence, size, version and xattrs; a
 * deep scrub also reads every byte of data and omap, so the store checks
 * each block's crc32c on every copy.
 *
 * The PG is walked in chunks of names: the primary lists a chunk of its
 * own names and asks each replica for its names up to the chunk's end, so
 * an object a replica has and the primary lacks is found too. Then each
 * object of the chunk is compared and repaired under a hold (objcheck.c),
 * SCRUB_INFLIGHT at a time, so clients wait for at most the objects being
 * compared. Scrubs run only on active+clean PGs and end, answered -EBUSY,
 * when the PG peers again. Scheduled scrubs (osd_scrub_interval,
 * osd_deep_scrub_interval) run one at a time per OSD; their stamps live on
 * the PG's meta object. Loop thread only. */
#include "osd/internal.h"
#include "osd/peering.h"
#include "osd/pgstat.h"
#include "protocol/pgstat.h"

#include "common/bytes.h"
#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRUB_CHUNK 128u            /* names listed per chunk */
#define SCRUB_SCAN_MAX 512u         /* names a replica lists per SCAN */
#define SCRUB_INFLIGHT 2u           /* objects held and compared at once */
#define SCRUB_REQ_TIMEOUT_MS 30000u
#define SCRUB_WAITERS_MAX 16u
#define SCRUB_RETRY_MS 20u          /* when the engine had no free op */
#define SCRUB_TICK_MS 2000u         /* how often due scrubs are looked for */
#define SCRUB_ACTIVE_MAX 1u         /* scheduled scrubs at once per OSD */
#define SCRUB_XATTR "scrub"         /* on OSD_PGMETA_OID: stamps and verdict */
#define SCRUB_XATTR_LEN 17u         /* le64 last_scrub_ns, le64 last_deep_ns, u8 inconsistent */

struct scrub_waiter {
    osd_scrub_done_fn fn;
    void *arg;
    bool deep;
    bool fresh;                     /* came after a scheduled scrub had begun comparing:
                                       gets a scrub of its own after it */
};

struct osd_scrub {
    struct osd_daemon *d;
    struct osd_pg *pg;
    unsigned id;                    /* tickets of other scrubs are dropped */
    unsigned peer_gen;              /* the peering round it runs in */
    bool deep;
    bool scheduled;                 /* counted in d->scrubs_active */
    uint64_t start_ns;
    int32_t reps[PROTO_PLACE_MAX_REPLICAS];
    unsigned n_reps;
    char *cursor;                   /* names <= cursor are done; NULL: none yet */
    char *chunk_end;                /* the chunk's last name; NULL: to the end */
    struct osd_names cand;          /* the chunk's objects */
    uint32_t next;                  /* cand.v[next] is the next to compare */
    unsigned inflight;              /* objects held */
    unsigned scans;                 /* replica SCANs outstanding */
    struct event *pump_ev;
    uint64_t objects, inconsistent, repaired;
    bool need_chunk;                /* pump_cb lists the next chunk */
    int error;                      /* a failure pump_cb ends the scrub with */
    char why[OSD_MSG_MAX];
    struct scrub_waiter waiters[SCRUB_WAITERS_MAX];
    unsigned n_waiters;
};

/* Names an answer's scrub without pointing at it: the scrub may be gone. */
struct scrub_ticket {
    struct osd_daemon *d;
    int32_t pool;
    uint32_t ps;
    unsigned id;
    unsigned idx;                   /* replica slot (SCAN) */
};

static unsigned scrub_ids;

static void pump_later(struct osd_scrub *sc, uint32_t ms);
static void chunk_start(struct osd_scrub *sc);

/* ---- lifecycle ----------------------------------------------------------------- */

static struct osd_scrub *scrub_of(const struct scrub_ticket *t)
{
    struct osd_pg *pg = osd__pg_lookup(t->d->engine, t->pool, t->ps);

    return pg && pg->scrub && pg->scrub->id == t->id ? pg->scrub : NULL;
}

static struct scrub_ticket ticket(const struct osd_scrub *sc, unsigned idx)
{
    return (struct scrub_ticket){.d = sc->d, .pool = sc->pg->pool, .ps = sc->pg->ps,
                                 .id = sc->id, .idx = idx};
}

static bool pg_scrubbable(const struct osd_pg *pg)
{
    return pg->primary && pg->peering && pg->peering->step == OSD_PEER_ACTIVE &&
           (pg->state & (OSD_PGS_ACTIVE | OSD_PGS_CLEAN)) == (OSD_PGS_ACTIVE | OSD_PGS_CLEAN);
}

/* Reads the stamps of the last scrubs (once per PG). */
static void stamps_load(struct osd_daemon *d, struct osd_pg *pg)
{
    uint8_t b[SCRUB_XATTR_LEN];
    size_t len = 0;

    if (pg->scrub_loaded)
        return;
    pg->scrub_loaded = true;
    if (pg->coll_state != OSD_COLL_EXISTS ||
        osd_store_getxattr(d->store, pg->coll, OSD_PGMETA_OID, SCRUB_XATTR, b, sizeof(b),
                           &len) < 0 ||
        len != SCRUB_XATTR_LEN)
        return;
    pg->last_scrub_ns = cairn_get_le64(b);
    pg->last_deep_scrub_ns = cairn_get_le64(b + 8);
    pg->scrub_inconsistent = b[16] != 0;
}

static void stamps_save(struct osd_daemon *d, struct osd_pg *pg)
{
    uint8_t b[SCRUB_XATTR_LEN];
    struct osd_txn *txn = osd_txn_create(pg->coll);

    cairn_put_le64(b, pg->last_scrub_ns);
    cairn_put_le64(b + 8, pg->last_deep_scrub_ns);
    b[16] = pg->scrub_inconsistent;
    if (!txn || osd_txn_setxattr(txn, OSD_PGMETA_OID, SCRUB_XATTR, b, sizeof(b)) < 0 ||
        osd__pg_queue_txn(d->engine, pg, txn, NULL, NULL) < 0) {
        if (txn)
            osd_txn_destroy(txn);
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s pg %s: cannot record the scrub's stamp",
                  d->opts.entity, pg->coll);
    }
}

static void scrub_free(struct osd_scrub *sc)
{
    if (sc->pump_ev)
        event_free(sc->pump_ev);
    free(sc->cursor);
    free(sc->chunk_end);
    osd__names_clear(&sc->cand);
    if (sc->scheduled)
        sc->d->scrubs_active--;
    sc->pg->scrub = NULL;
    sc->pg->scrub_flags = 0;
    free(sc);
}

static void answer(struct scrub_waiter *w, struct osd_daemon *d, const struct osd_scrub_result *res)
{
    if (w->fn)
        w->fn(d, w->arg, res);
}

static struct osd_scrub *scrub_new(struct osd_daemon *d, struct osd_pg *pg, bool deep);

/* Ends the scrub with @err (0: it compared everything) and answers. Deep
 * requests that came during a shallow scrub, and requests that came while
 * a scheduled one was under way, start another. */
static void scrub_end(struct osd_scrub *sc, int err, const char *why)
{
    struct osd_daemon *d = sc->d;
    struct osd_pg *pg = sc->pg;
    struct osd_scrub_result res = {.result = err,
                                   .objects = sc->objects,
                                   .inconsistent = sc->inconsistent,
                                   .repaired = sc->repaired,
                                   .duration_ms = (cairn_now_ns() - sc->start_ns) / 1000000u};
    struct scrub_waiter later[SCRUB_WAITERS_MAX];
    unsigned n_later = 0;
    const char *kind = sc->deep ? "deep-scrub" : "scrub";

    if (err == 0) {
        uint64_t now = cairn_wall_ns();
        pg->last_scrub_ns = now;
        if (sc->deep)
            pg->last_deep_scrub_ns = now;
        pg->scrub_inconsistent = sc->inconsistent > sc->repaired;
        pg->log.info.objects = sc->objects; /* a fresh count, for the PG stats */
        stamps_save(d, pg);
        snprintf(res.message, sizeof(res.message), "%" PRIu64 " objects, %" PRIu64
                 " inconsistent, %" PRIu64 " repaired", sc->objects, sc->inconsistent,
                 sc->repaired);
        cairn_log(sc->inconsistent ? CAIRN_LOG_WARN : CAIRN_LOG_INFO, CAIRN_SS_OSD,
                  "%s pg %s: %s done: %s in %" PRIu64 " ms", d->opts.entity, pg->coll, kind,
                  res.message, res.duration_ms);
    } else {
        snprintf(res.message, sizeof(res.message), "%s", why);
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s pg %s: %s stopped: %s", d->opts.entity,
                  pg->coll, kind, why);
    }
    bool later_deep = false;
    for (unsigned i = 0; i < sc->n_waiters; i++) {
        struct scrub_waiter *w = &sc->waiters[i];
        if (err == 0 && (w->fresh || (w->deep && !sc->deep))) {
            w->fresh = false;
            later_deep |= w->deep;
            later[n_later++] = *w;
        } else {
            answer(w, d, &res);
        }
    }
    scrub_free(sc);
    osd__beacon_soon(d);
    if (n_later == 0)
        return;
    struct osd_scrub *next = scrub_new(d, pg, later_deep);
    for (unsigned i = 0; i < n_later; i++) {
        if (next) {
            next->waiters[next->n_waiters++] = later[i];
        } else {
            struct osd_scrub_result busy = {.result = -ENOMEM};
            snprintf(busy.message, sizeof(busy.message), "cannot start a scrub");
            answer(&later[i], d, &busy);
        }
    }
}

static void scrub_fail(struct osd_scrub *sc, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void scrub_fail(struct osd_scrub *sc, int err, const char *fmt, ...)
{
    char why[OSD_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    scrub_end(sc, err, why);
}

/* Records a failure that ends the scrub from the loop, so that no caller
 * sees the scrub vanish under it. The first failure is the one told. */
static void fail_later(struct osd_scrub *sc, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_later(struct osd_scrub *sc, int err, const char *fmt, ...)
{
    va_list ap;

    if (sc->error == 0) {
        sc->error = err;
        va_start(ap, fmt);
        vsnprintf(sc->why, sizeof(sc->why), fmt, ap);
        va_end(ap);
    }
    pump_later(sc, 0);
}

static void pump_cb(evutil_socket_t fd, short what, void *arg);

/* A scrub of @pg, started from the loop; never fails after returning. */
static struct osd_scrub *scrub_new(struct osd_daemon *d, struct osd_pg *pg, bool deep)
{
    struct osd_scrub *sc = calloc(1, sizeof(*sc));

    if (!sc)
        return NULL;
    if (!(sc->pump_ev = evtimer_new(d->base, pump_cb, sc))) {
        free(sc);
        return NULL;
    }
    sc->d = d;
    sc->pg = pg;
    sc->id = ++scrub_ids;
    sc->peer_gen = pg->peering->gen;
    sc->deep = deep;
    sc->start_ns = cairn_now_ns();
    for (uint32_t i = 1; i < pg->n_acting; i++)
        sc->reps[sc->n_reps++] = pg->acting[i];
    pg->scrub = sc;
    pg->scrub_flags = OSD_PGS_SCRUBBING | (deep ? OSD_PGS_DEEP : 0);
    osd__beacon_soon(d);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s pg %s: %s starts", d->opts.entity, pg->coll,
              deep ? "deep-scrub" : "scrub");
    sc->need_chunk = true;
    pump_later(sc, 0);
    return sc;
}

/* ---- comparing the objects ----------------------------------------------------- */

/* One object was compared (objcheck.c): counts it, moves on. */
static void obj_checked(struct osd_daemon *d, void *arg, const char *oid,
                        const struct osd_obj_check_result *res)
{
    struct scrub_ticket *t = arg;
    struct osd_scrub *sc = scrub_of(t);

    (void)d;
    free(t);
    if (!sc)
        return;
    sc->inflight--;
    sc->objects += res->compared;
    sc->inconsistent += res->inconsistent;
    sc->repaired += res->repaired;
    if (res->err)
        fail_later(sc, -EIO, "osd.%d did not answer for %s: %s", res->failed_osd, oid,
                   strerror(-res->err));
    else
        pump_later(sc, 0);
}

/* ---- walking the PG ---------------------------------------------------------- */

/* Holds the next objects of the chunk; true when the chunk is done. */
static bool pump(struct osd_scrub *sc)
{
    while (sc->next < sc->cand.n && sc->inflight < SCRUB_INFLIGHT && !sc->error) {
        const char *oid = sc->cand.v[sc->next];
        struct scrub_ticket *t = malloc(sizeof(*t));
        if (!t) {
            pump_later(sc, SCRUB_RETRY_MS);
            return false;
        }
        *t = ticket(sc, 0);
        /* The check may end (and count down) inside the call: count it first. */
        sc->next++;
        sc->inflight++;
        if (osd__obj_check(sc->d, sc->pg, oid, sc->deep, sc->deep ? "deep-scrub" : "scrub",
                           obj_checked, t) < 0) {
            sc->next--;
            sc->inflight--;
            free(t);
            pump_later(sc, SCRUB_RETRY_MS); /* no op free: the engine is full of clients */
            return false;
        }
    }
    return sc->next == sc->cand.n && sc->inflight == 0 && sc->scans == 0;
}

static void pump_cb(evutil_socket_t fd, short what, void *arg)
{
    struct osd_scrub *sc = arg;

    (void)fd, (void)what;
    if (sc->error) {
        scrub_fail(sc, sc->error, "%s", sc->why);
        return;
    }
    if (!pg_scrubbable(sc->pg) || sc->pg->peering->gen != sc->peer_gen) {
        scrub_fail(sc, -EBUSY, "pg %s is no longer active+clean", sc->pg->coll);
        return;
    }
    if (sc->need_chunk) {
        sc->need_chunk = false;
        chunk_start(sc);
        return;
    }
    if (!pump(sc))
        return;
    if (!sc->chunk_end) {
        scrub_end(sc, 0, NULL);
        return;
    }
    free(sc->cursor);
    sc->cursor = sc->chunk_end;
    sc->chunk_end = NULL;
    sc->need_chunk = true;
    pump_later(sc, 0);
}

/* Runs pump() from the loop: never from inside a completion's stack. */
static void pump_later(struct osd_scrub *sc, uint32_t ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    event_add(sc->pump_ev, &tv);
}

static void send_scan(struct osd_scrub *sc, unsigned i, const char *after);

/* A replica's names after the cursor: those up to the chunk's end join it. */
static void scan_cb(int result, struct proto_frame *f, void *arg)
{
    struct scrub_ticket *t = arg;
    struct osd_scrub *sc = scrub_of(t);
    struct proto_osd_peer m;
    int r = osd__peer_reply_take(result, f, &m);
    bool beyond = false;

    if (!sc)
        goto out;
    sc->scans--;
    if (r < 0) {
        fail_later(sc, -EIO, "osd.%d did not list pg %s: %s", sc->reps[t->idx], sc->pg->coll,
                   strerror(-r));
        goto out;
    }
    for (uint32_t i = 0; i < m.n_names && !beyond; i++) {
        const struct proto_bytes *n = &m.names[i];
        char name[PROTO_PEER_NAME_MAX + 1];
        memcpy(name, n->p, n->len);
        name[n->len] = 0;
        beyond = sc->chunk_end && strcmp(name, sc->chunk_end) > 0;
        if (!beyond && osd__names_add(&sc->cand, name, n->len) < 0) {
            fail_later(sc, -ENOMEM, "out of memory");
            goto out;
        }
    }
    if (m.more && !beyond && m.n_names) {
        char last[PROTO_PEER_NAME_MAX + 1];
        memcpy(last, m.names[m.n_names - 1].p, m.names[m.n_names - 1].len);
        last[m.names[m.n_names - 1].len] = 0;
        send_scan(sc, t->idx, last);
    } else if (sc->scans == 0) {
        osd__names_sort_unique(&sc->cand, 0);
        pump_later(sc, 0);
    }
out:
    proto_osd_peer_release(&m);
    free(t);
}

static void send_scan(struct osd_scrub *sc, unsigned i, const char *after)
{
    struct scrub_ticket *t = malloc(sizeof(*t));
    struct proto_osd_peer m;

    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_SCAN;
    m.pool = sc->pg->pool;
    m.pg = sc->pg->ps;
    m.after_name = (struct proto_bytes){(const uint8_t *)(after ? after : ""),
                                        after ? strlen(after) : 0};
    m.max = SCRUB_SCAN_MAX;
    int r = t ? 0 : -ENOMEM;
    if (t) {
        *t = ticket(sc, i);
        r = osd__peer_send(sc->d, sc->reps[i], &m, NULL, 0, SCRUB_REQ_TIMEOUT_MS, scan_cb, t);
    }
    if (r == 0) {
        sc->scans++;
        return;
    }
    free(t);
    fail_later(sc, -EIO, "cannot ask osd.%d for its names: %s", sc->reps[i], strerror(-r));
}

struct local_list {
    struct osd_names *cand;
    char last[PROTO_PEER_NAME_MAX + 1];
    int err;
};

static int local_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    struct local_list *c = arg;

    (void)v, (void)vl;
    if (kl == 0 || kl > PROTO_PEER_NAME_MAX)
        return 0;
    memcpy(c->last, k, kl);
    c->last[kl] = 0;
    if (((const char *)k)[0] == OSD_RESERVED_OID_BYTE)
        return 0;
    if (osd__names_add(c->cand, k, kl) < 0) {
        c->err = -ENOMEM;
        return 1;
    }
    return 0;
}

/* Lists our next chunk of names and asks the replicas for theirs. */
static void chunk_start(struct osd_scrub *sc)
{
    struct local_list c = {.cand = &sc->cand};
    bool more = false;

    osd__names_clear(&sc->cand);
    sc->next = 0;
    int r = osd_store_list(sc->d->store, sc->pg->coll, sc->cursor, SCRUB_CHUNK, local_fn, &c,
                           &more);
    if (r == -ENOENT)
        r = 0; /* no collection: nothing of ours to compare */
    if (r < 0 || c.err < 0) {
        fail_later(sc, -EIO, "cannot list pg %s: %s", sc->pg->coll,
                   strerror(-(r < 0 ? r : c.err)));
        return;
    }
    sc->chunk_end = more ? strdup(c.last) : NULL;
    if (more && !sc->chunk_end) {
        fail_later(sc, -ENOMEM, "out of memory");
        return;
    }
    for (unsigned i = 0; i < sc->n_reps && !sc->error; i++)
        send_scan(sc, i, sc->cursor);
    if (sc->scans == 0) {
        osd__names_sort_unique(&sc->cand, 0);
        pump_later(sc, 0);
    }
}

/* ---- requests and scheduling ------------------------------------------------- */

void osd__scrub_request(struct osd_daemon *d, struct osd_pg *pg, bool deep, osd_scrub_done_fn fn,
                        void *arg)
{
    struct osd_scrub_result res = {.result = -EBUSY};
    struct osd_scrub *sc = pg->scrub;

    stamps_load(d, pg);
    if (!sc && !pg_scrubbable(pg)) {
        char st[PROTO_PG_STATE_STR_MAX];
        proto_pg_state_format(pg->state, st, sizeof(st));
        snprintf(res.message, sizeof(res.message), "pg %s is %s, not active+clean", pg->coll, st);
        fn(d, arg, &res);
        return;
    }
    if (!sc && !(sc = scrub_new(d, pg, deep))) {
        res.result = -ENOMEM;
        snprintf(res.message, sizeof(res.message), "cannot start a scrub");
        fn(d, arg, &res);
        return;
    }
    if (sc->n_waiters == SCRUB_WAITERS_MAX) {
        snprintf(res.message, sizeof(res.message), "pg %s: scrub busy, try again", pg->coll);
        fn(d, arg, &res);
        return;
    }
    /* Joining a scrub that compares already would report objects compared
     * before the request; resends of a waiting request join freely. */
    bool fresh = sc->scheduled && sc->n_waiters == 0 && (sc->cursor || sc->next || sc->inflight);
    sc->waiters[sc->n_waiters++] = (struct scrub_waiter){fn, arg, deep, fresh};
}

void osd__scrub_abort(struct osd_daemon *d, struct osd_pg *pg, const char *why)
{
    (void)d;
    if (pg->scrub)
        scrub_fail(pg->scrub, -EBUSY, "pg %s %s", pg->coll, why);
}

/* How overdue @pg's next scrub is (0: not due); *@deep says which kind. */
static uint64_t overdue(const struct osd_daemon *d, const struct osd_pg *pg, uint64_t now,
                        bool *deep)
{
    uint64_t since_deep = pg->last_deep_scrub_ns > d->start_wall_ns ? pg->last_deep_scrub_ns
                                                                    : d->start_wall_ns;
    uint64_t since = pg->last_scrub_ns > d->start_wall_ns ? pg->last_scrub_ns : d->start_wall_ns;
    uint64_t deep_iv = d->opts.deep_scrub_interval_ms * 1000000u;
    uint64_t iv = d->opts.scrub_interval_ms * 1000000u;

    *deep = false;
    if (deep_iv && now >= since_deep + deep_iv) {
        *deep = true;
        return now - (since_deep + deep_iv) + 1;
    }
    if (iv && now >= since + iv)
        return now - (since + iv) + 1;
    return 0;
}

void osd__scrub_tick(struct osd_daemon *d)
{
    struct osd_pg **buckets = osd__engine_pg_buckets(d->engine);
    struct osd_pg *best = NULL;
    uint64_t now = cairn_wall_ns(), most = 0;
    bool best_deep = false;

    for (uint32_t b = 0; b < OSD_PG_BUCKETS; b++) {
        for (struct osd_pg *pg = buckets[b]; pg; pg = pg->next) {
            if (!pg->primary)
                continue;
            stamps_load(d, pg);
            bool deep;
            uint64_t o = pg_scrubbable(pg) && !pg->scrub ? overdue(d, pg, now, &deep) : 0;
            if (o > most) {
                most = o;
                best = pg;
                best_deep = deep;
            }
        }
    }
    if (!best || d->scrubs_active >= SCRUB_ACTIVE_MAX)
        return;
    struct osd_scrub *sc = scrub_new(d, best, best_deep);
    if (sc) {
        sc->scheduled = true;
        d->scrubs_active++;
    }
}

uint32_t osd__scrub_tick_ms(void)
{
    return SCRUB_TICK_MS;
}

/* The objecter: where libcairn's object requests (ops, listings, PG
 * commands) go and how they get there (DESIGN.md §6). On the loop thread it
 * computes each request's PG and primary from monc's newest map, keeps one
 * outgoing connection per OSD, and resends until a request is answered,
 * definitely failed, or its deadline (client_op_timeout, or the request's
 * own timeout_ms) passed. What a request carries and what its reply means
 * is the request kind's (object.c, list.c, pgcmd.c).
 *
 *            submit
 *              |
 *              v           reply (not -ESTALE) / deadline / pool gone
 *   +------> SENT ------------------------------------------------> done
 *   |         |  \ -ECONNRESET, -ETIMEDOUT, conn closed
 *   |         |   \---------------> BACKOFF --timer (50 ms .. 1 s)--+
 *   |         | -ESTALE epoch E      |  new map moved the primary   |
 *   |         v                      v                              |
 *   |      WAIT_MAP (epoch >= E, or any newer map when the PG had   |
 *   |         |      no up OSD; the map is fetched for -ESTALE)     |
 *   +---------+-----------------------------------------------------+
 *   (pool, or the PG given, not in our map: WAIT_POOL while the newest map
 *    is fetched once; still missing: -ENOENT)
 *
 * Invariants: 1. A request is on objecter.reqs exactly while submitted and
 * not done; its timer is pending for as long. 2. At most one attempt is
 * live per request (req->attempt); an attempt replaced by a resend is
 * orphaned (attempt->req = NULL) and its answer dropped, so a late reply
 * never touches a request that moved on or was freed. 3. A resend keeps
 * the tid: the OSD deduplicates writes by (client_id, tid). 4. Sessions
 * exist only for OSDs that are up and in at the address we connected to. */
#include "client/internal.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "protocol/monc.h"
#include "protocol/msg_types.h"
#include "protocol/msgr.h"
#include "protocol/placement.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* One attempt's identity, the messenger callback's argument. */
struct cairn__attempt {
    struct cairn *c;
    struct cairn__req *req;      /* NULL once orphaned (inv. 2) */
    struct cairn__attempt *next; /* the free list */
};

static void req_send(struct cairn *c, struct cairn__req *req);

/* ---- attempts ---- */

static struct cairn__attempt *attempt_get(struct cairn *c)
{
    struct cairn__attempt *a = c->obj.free_attempts;

    if (a)
        c->obj.free_attempts = a->next;
    else if (!(a = malloc(sizeof(*a))))
        return NULL;
    a->c = c;
    a->req = NULL;
    a->next = NULL;
    return a;
}

static void attempt_put(struct cairn *c, struct cairn__attempt *a)
{
    a->req = NULL;
    a->next = c->obj.free_attempts;
    c->obj.free_attempts = a;
}

/* Inv. 2: the live attempt, if any, will be ignored when it answers. */
static void req_orphan(struct cairn__req *req)
{
    if (req->attempt) {
        req->attempt->req = NULL;
        req->attempt = NULL;
    }
}

/* ---- timers ---- */

static void req_arm(struct cairn__req *req, uint64_t at_ns)
{
    uint64_t now = cairn_now_ns();
    uint64_t d = at_ns > now ? at_ns - now : 0;
    struct timeval tv = {.tv_sec = (time_t)(d / 1000000000u),
                         .tv_usec = (suseconds_t)(d % 1000000000u / 1000u)};

    evtimer_add(&req->timer, &tv);
}

static uint32_t remaining_ms(const struct cairn__req *req)
{
    uint64_t now = cairn_now_ns();

    return req->deadline_ns > now ? (uint32_t)((req->deadline_ns - now + 999999u) / 1000000u) : 0;
}

/* ---- completion ---- */

static void req_complete(struct cairn *c, struct cairn__req *req, int result)
{
    req_orphan(req);
    TAILQ_REMOVE(&c->obj.reqs, req, link);
    evtimer_del(&req->timer);
    req->state = CAIRN__REQ_IDLE;
    if (result < 0 && result != -ECANCELED)
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_CLIENT, "%s tid %llu pool %d pg %u: %s%s%s", c->entity,
                  (unsigned long long)req->tid, req->pool, req->pg, strerror(-result),
                  req->why[0] ? ": " : "", req->why);
    req->ops->done(req, result);
}

__attribute__((format(printf, 2, 3))) static void req_why(struct cairn__req *req, const char *fmt,
                                                          ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(req->why, sizeof(req->why), fmt, ap);
    va_end(ap);
}

/* The reason of a request that ran out of time, from where it stood. */
static void why_timeout(struct cairn *c, struct cairn__req *req)
{
    const struct proto_map *map = proto_monc_map(c->monc);
    const struct proto_map_osd *o = req->osd >= 0 ? proto_map_osd(map, req->osd) : NULL;
    unsigned ms = req->timeout_ms ? req->timeout_ms : c->obj.op_timeout_ms;

    if (req->state == CAIRN__REQ_WAIT_MAP && req->osd < 0)
        req_why(req, "pg %d.%x has no OSD up to serve it (waited %u ms)", req->pool, req->pg, ms);
    else if (req->state == CAIRN__REQ_WAIT_MAP)
        req_why(req, "waited %u ms for map epoch %llu", ms, (unsigned long long)req->need_epoch);
    else if (req->last_err == -ESTALE)
        req_why(req, "osd.%d does not act as primary of pg %d.%x (waited %u ms)", req->osd,
                req->pool, req->pg, ms);
    else if (o && req->last_err && req->last_err != -ETIMEDOUT)
        req_why(req, "cannot reach osd.%d at %s, primary of pg %d.%x (%s; waited %u ms)", req->osd,
                o->addr, req->pool, req->pg, strerror(-req->last_err), ms);
    else if (o)
        req_why(req, "no answer from osd.%d at %s, primary of pg %d.%x, within %u ms", req->osd,
                o->addr, req->pool, req->pg, ms);
    else
        req_why(req, "no answer within %u ms", ms);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cairn__req *req = arg;
    struct cairn *c = req->c;

    if (cairn_now_ns() >= req->deadline_ns) {
        why_timeout(c, req);
        req_complete(c, req, -ETIMEDOUT);
    } else if (req->state == CAIRN__REQ_BACKOFF) {
        req_send(c, req);
    } else {
        req_arm(req, req->deadline_ns);
    }
}

static void req_backoff(struct cairn *c, struct cairn__req *req, int err)
{
    uint64_t at = cairn_now_ns() + (uint64_t)req->backoff_ms * 1000000u;

    req_orphan(req);
    req->state = CAIRN__REQ_BACKOFF;
    req->last_err = err;
    req->backoff_ms = CAIRN_MIN(req->backoff_ms * 2, CAIRN__BACKOFF_MAX_MS);
    req_arm(req, CAIRN_MIN(at, req->deadline_ns));
}

/* ---- the map ---- */

static void fetch_done(int result, struct proto_map *map, void *arg);

/* Asks the monitors for the newest map (one request at a time); monc
 * hands it to cairn__objecter_on_map() when it is newer. */
static void fetch_map(struct cairn *c)
{
    if (c->obj.fetching || c->obj.stopped)
        return;
    if (proto_monc_get_map(c->monc, fetch_done, c) == 0)
        c->obj.fetching = true;
}

static void fetch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    fetch_map(arg);
}

static void fetch_done(int result, struct proto_map *map, void *arg)
{
    struct cairn *c = arg;
    struct cairn__req *req, *next;
    bool waiting = false;

    proto_map_destroy(map);
    c->obj.fetching = false;
    if (c->obj.stopped)
        return;
    uint64_t epoch = proto_monc_map(c->monc)->epoch;
    for (req = TAILQ_FIRST(&c->obj.reqs); req; req = next) {
        next = TAILQ_NEXT(req, link);
        if (req->state == CAIRN__REQ_WAIT_POOL && result < 0) {
            req_why(req, "cannot fetch the cluster map to find pool %d", req->pool);
            req_complete(c, req, result);
        } else if (req->state == CAIRN__REQ_WAIT_POOL) {
            req_send(c, req); /* found now, or -ENOENT */
        } else if (req->state == CAIRN__REQ_WAIT_MAP && req->osd >= 0 && req->need_epoch > epoch) {
            waiting = true;
        }
    }
    if (waiting && c->obj.fetch_timer_set) {
        struct timeval tv = {0, CAIRN__REFETCH_MS * 1000};
        evtimer_add(&c->obj.fetch_timer, &tv);
    }
}

/* Where @req goes in @map: 0 with *@pg and *@osd (-1: no up OSD with an
 * address), -ENOENT when the pool is not in the map, or -ERANGE when the
 * PG given is not one of the pool's. */
static int req_target(const struct proto_map *map, const struct cairn__req *req, uint32_t *pg,
                      int32_t *osd)
{
    const struct proto_map_pool *pool = proto_map_pool(map, req->pool);
    int32_t up[PROTO_PLACE_MAX_REPLICAS];

    if (!pool)
        return -ENOENT;
    if (!req->oid && req->pg >= pool->pg_num)
        return -ERANGE;
    *pg = req->oid ? proto_place_pg(pool, req->oid, req->oid_len) : req->pg;
    unsigned n = proto_place_up(map, pool, *pg, up, PROTO_PLACE_MAX_REPLICAS);
    const struct proto_map_osd *o = n ? proto_map_osd(map, up[0]) : NULL;
    *osd = o && o->addr[0] ? up[0] : -1;
    return 0;
}

/* ---- sessions ---- */

static int sessions_grow(struct cairn *c, uint32_t n)
{
    struct cairn__objecter *o = &c->obj;

    if (n <= o->n_sessions)
        return 0;
    struct cairn__session *s = realloc(o->sessions, n * sizeof(*s));
    if (!s)
        return -ENOMEM;
    memset(s + o->n_sessions, 0, (n - o->n_sessions) * sizeof(*s));
    o->sessions = s;
    o->n_sessions = n;
    return 0;
}

static void session_close(struct cairn__session *s)
{
    struct proto_conn *conn = s->conn;

    s->conn = NULL;
    s->addr[0] = '\0';
    if (conn)
        proto_conn_close(conn); /* live attempts on it back off */
}

/* The connection to osd.@id at @addr, opened (or replaced) as needed. */
static struct proto_conn *session_get(struct cairn *c, int32_t id, const char *addr)
{
    struct cairn__session *s;
    char peer[32];

    if (sessions_grow(c, (uint32_t)id + 1) < 0)
        return NULL;
    s = &c->obj.sessions[id];
    if (s->conn && strcmp(s->addr, addr) != 0)
        session_close(s);
    if (!s->conn) {
        snprintf(peer, sizeof(peer), "osd.%d", id);
        if (proto_msgr_connect(c->msgr, addr, peer, &s->conn) < 0)
            return NULL;
        snprintf(s->addr, sizeof(s->addr), "%s", addr);
    }
    return s->conn;
}

/* Inv. 4: closes the sessions of OSDs gone, down, out or moved. */
static void sessions_prune(struct cairn *c, const struct proto_map *map)
{
    for (uint32_t i = 0; i < c->obj.n_sessions; i++) {
        struct cairn__session *s = &c->obj.sessions[i];
        const struct proto_map_osd *o = proto_map_osd(map, (int32_t)i);
        if (s->conn && (!o || !o->exists || !o->up || !o->in || strcmp(o->addr, s->addr) != 0))
            session_close(s);
    }
}

/* ---- sending ---- */

/* The -ENOENT of a request whose pool, or the PG it names, is missing. */
static void req_missing(struct cairn *c, struct cairn__req *req, const char *pool_why)
{
    const struct proto_map_pool *pool = proto_map_pool(proto_monc_map(c->monc), req->pool);

    if (pool)
        req_why(req, "pg %d.%x does not exist (pool %d has %u PGs)", req->pool, req->pg, req->pool,
                pool->pg_num);
    else
        req_why(req, "pool %d %s", req->pool, pool_why);
    req_complete(c, req, -ENOENT);
}

/* The pool, or the PG the request names (pg_num grows), is not in our map:
 * fetch the newest once, then -ENOENT. */
static void req_no_pool(struct cairn *c, struct cairn__req *req)
{
    if (req->pool_fetched) {
        req_missing(c, req, "does not exist");
        return;
    }
    req->pool_fetched = true;
    req->state = CAIRN__REQ_WAIT_POOL;
    fetch_map(c);
    if (!c->obj.fetching) /* could not even ask */
        req_missing(c, req, "is not in the cluster map");
}

static void attempt_cb(int result, struct proto_frame *frame, void *arg);

/* Sends one attempt of @req to the primary its PG has in the newest map. */
static void req_send(struct cairn *c, struct cairn__req *req)
{
    const struct proto_map *map = proto_monc_map(c->monc);
    uint8_t *meta = NULL;
    const void *data = NULL;
    void *owned = NULL;
    size_t meta_len = 0, data_len = 0;
    struct proto_conn *conn;
    struct cairn__attempt *a;
    uint32_t pg;
    int32_t osd;

    req_orphan(req);
    int r = req_target(map, req, &pg, &osd);
    if (r < 0) {
        req_no_pool(c, req);
        return;
    }
    req->pg = pg;
    req->osd = osd;
    if (osd < 0 || !(conn = session_get(c, osd, map->osds[osd].addr))) {
        req->state = CAIRN__REQ_WAIT_MAP; /* until the map changes */
        req->need_epoch = map->epoch + 1;
        req_arm(req, req->deadline_ns);
        return;
    }
    r = req->ops->encode(req, map->epoch, pg, &meta, &meta_len, &data, &data_len, &owned);
    if (r == 0 && !(a = attempt_get(c)))
        r = -ENOMEM;
    if (r == 0) {
        uint32_t ms = CAIRN_MIN(c->obj.attempt_timeout_ms, remaining_ms(req));
        a->req = req;
        r = proto_conn_request(conn, req->type, meta, meta_len, data, data_len, ms ? ms : 1,
                               attempt_cb, a);
        if (r < 0)
            attempt_put(c, a);
        else
            req->attempt = a;
    }
    free(meta);
    free(owned);
    if (r == -ENOBUFS || r == -ENOTCONN) {
        req_backoff(c, req, r);
        return;
    }
    if (r < 0) {
        req_why(req, "cannot send to osd.%d: %s", osd, strerror(-r));
        req_complete(c, req, r);
        return;
    }
    c->obj.sends++;
    c->obj.resends += req->attempts++ > 0;
    req->state = CAIRN__REQ_SENT;
    req_arm(req, req->deadline_ns);
}

/* -ESTALE: the OSD's map says it is not the primary. */
static void req_stale(struct cairn *c, struct cairn__req *req, uint64_t epoch)
{
    const struct proto_map *map = proto_monc_map(c->monc);

    req->last_err = -ESTALE;
    if (epoch <= map->epoch) { /* the OSD lags behind us: it will catch up */
        req_backoff(c, req, -ESTALE);
        return;
    }
    req->state = CAIRN__REQ_WAIT_MAP;
    req->need_epoch = epoch;
    req_arm(req, req->deadline_ns);
    fetch_map(c);
}

static void attempt_cb(int result, struct proto_frame *frame, void *arg)
{
    struct cairn__attempt *a = arg;
    struct cairn *c = a->c;
    struct cairn__req *req = a->req;
    uint64_t epoch = 0;

    attempt_put(c, a);
    if (!req) { /* orphaned: the request moved on */
        if (frame)
            proto_frame_free(frame);
        return;
    }
    req->attempt = NULL;
    if (result == -EACCES) {
        req_why(req, "osd.%d refused our key, or we refused its", req->osd);
        req_complete(c, req, -EACCES);
    } else if (result < 0) {
        req_backoff(c, req, result);
    } else {
        int r = req->ops->reply(req, frame, &epoch);
        proto_frame_free(frame);
        if (r == -ESTALE)
            req_stale(c, req, epoch);
        else
            req_complete(c, req, r);
    }
}

/* ---- entry points ---- */

void cairn__req_submit(struct cairn *c, struct cairn__req *req)
{
    struct cairn__objecter *o = &c->obj;

    req->c = c;
    req->tid = ++o->next_tid;
    req->state = CAIRN__REQ_IDLE;
    req->attempt = NULL;
    req->osd = -1;
    req->backoff_ms = CAIRN__BACKOFF_MIN_MS;
    req->attempts = 0;
    req->pool_fetched = false;
    req->last_err = 0;
    req->why[0] = '\0';
    req->deadline_ns = cairn_now_ns() +
                       (uint64_t)(req->timeout_ms ? req->timeout_ms : o->op_timeout_ms) * 1000000u;
    evtimer_assign(&req->timer, c->base, timer_cb, req);
    TAILQ_INSERT_TAIL(&o->reqs, req, link);
    if (o->stopped) {
        req_complete(c, req, -ECANCELED);
        return;
    }
    req_send(c, req);
}

/* A new map: requests whose primary moved go to the new one now. */
static void req_remap(struct cairn *c, struct cairn__req *req, const struct proto_map *map)
{
    uint32_t pg;
    int32_t osd;

    switch (req->state) {
    case CAIRN__REQ_SENT:
    case CAIRN__REQ_BACKOFF:
        if (req_target(map, req, &pg, &osd) < 0) {
            req_why(req, "pool %d was deleted", req->pool);
            req_complete(c, req, -ENOENT);
        } else if (osd != req->osd || pg != req->pg) {
            req_send(c, req);
        }
        break;
    case CAIRN__REQ_WAIT_MAP:
        if (map->epoch >= req->need_epoch)
            req_send(c, req);
        break;
    case CAIRN__REQ_WAIT_POOL:
        if (proto_map_pool(map, req->pool))
            req_send(c, req);
        break;
    case CAIRN__REQ_IDLE:
        CAIRN_ASSERT(!"an idle request on the list"); /* inv. 1 */
    }
}

void cairn__objecter_on_map(struct cairn *c, const struct proto_map *map)
{
    struct cairn__req *req, *next;

    if (c->obj.stopped)
        return;
    sessions_prune(c, map);
    for (req = TAILQ_FIRST(&c->obj.reqs); req; req = next) {
        next = TAILQ_NEXT(req, link);
        req_remap(c, req, map);
    }
}

void cairn__objecter_init(struct cairn *c, uint32_t op_timeout_ms)
{
    struct cairn__objecter *o = &c->obj;

    TAILQ_INIT(&o->reqs);
    if (getrandom(&o->client_id, sizeof(o->client_id), 0) != sizeof(o->client_id))
        o->client_id = cairn_wall_ns() ^ ((uint64_t)getpid() << 32);
    o->client_id |= 1; /* never 0 */
    o->op_timeout_ms = op_timeout_ms;
    o->attempt_timeout_ms = CAIRN__ATTEMPT_TIMEOUT_MS;
}

/* Loop thread, from stop_fn: the base exists, the messenger still runs. */
void cairn__objecter_stop(struct cairn *c)
{
    struct cairn__objecter *o = &c->obj;
    struct cairn__req *req;

    o->stopped = true;
    while ((req = TAILQ_FIRST(&o->reqs))) {
        req_why(req, "the connection was shut down");
        req_complete(c, req, -ECANCELED);
    }
    for (uint32_t i = 0; i < o->n_sessions; i++)
        session_close(&o->sessions[i]);
    if (o->fetch_timer_set)
        evtimer_del(&o->fetch_timer);
}

void cairn__objecter_fini(struct cairn *c)
{
    struct cairn__objecter *o = &c->obj;
    struct cairn__attempt *a;

    CAIRN_ASSERT(TAILQ_EMPTY(&o->reqs));
    while ((a = o->free_attempts)) {
        o->free_attempts = a->next;
        free(a);
    }
    free(o->sessions);
    o->sessions = NULL;
    o->n_sessions = 0;
}

/* Assigns the fetch timer once the loop's base exists. */
void cairn__objecter_start(struct cairn *c)
{
    evtimer_assign(&c->obj.fetch_timer, c->base, fetch_timer_cb, c);
    c->obj.fetch_timer_set = true;
}

void cairn__test_corrupt_next_write(struct cairn *c)
{
    __atomic_store_n(&c->obj.corrupt_next_write, 1, __ATOMIC_RELEASE);
}

void cairn__test_corrupt_next_read(struct cairn *c)
{
    __atomic_store_n(&c->obj.corrupt_next_read, 1, __ATOMIC_RELEASE);
}

uint64_t cairn__test_resends(struct cairn *c)
{
    return __atomic_load_n(&c->obj.resends, __ATOMIC_RELAXED);
}

/* The monitor client (monc.h): mon_host parsing, hunting for a monitor, the
 * session with it, calls with retries and deadlines, and the map
 * subscription. Used by libcairn (client/conn.c), tools and the OSD.
 *
 *   IDLE --a call or subscribe--> HUNTING --the first probe answers--> SESSION
 *    ^                             |   ^                                 |
 *    | nothing left to do          |   | backoff timer                   | a request timed
 *    +------------------------- BACKOFF <-- every probe failed           | out, was reset or
 *                                  ^                                     | refused; keepalive
 *                                  +---- HUNTING <-----------------------+ failed
 *   SESSION --(-EREMOTE naming the leader's address)--> SESSION with the leader
 *
 * A hunt probes every candidate monitor at once: one connection and one
 * STATUS request each. The first to answer becomes the session and the
 * other connections close. Probing one at a time would cost a whole probe
 * timeout per dead monitor, as the messenger retries a refused connect
 * silently instead of failing the requests queued on it. When every probe
 * was refused at authentication, the waiting calls fail with -EACCES at
 * once (no other monitor would take our key either).
 *
 * A call (struct monc_op) is WAITING (for a session), SENT (one request on
 * the session) or DELAYED (after -EAGAIN, until its backoff passes). A
 * request is sent with timeout min(request_timeout, time to the deadline),
 * so a SENT call always hears back from the messenger by its deadline; a
 * WAITING or DELAYED call has a timer that expires it at the deadline.
 *
 * Invariants (monc_check() in debug builds):
 *   1. monc->session != NULL exactly in SESSION.
 *   2. A probe has a connection only in HUNTING; probes_active counts them.
 *   3. A SENT op exists only in SESSION, and its timer is not pending; a
 *      WAITING or DELAYED op's timer is pending.
 *   4. monc->timer is pending in BACKOFF, and in SESSION while subscribed.
 *   5. A messenger callback of ours that fires for a request we abandoned
 *      (an op no longer SENT, a probe without a connection, a session
 *      request of an older session generation) only frees its frame: our
 *      own proto_conn_close() fires those callbacks synchronously, which is
 *      how every request is accounted for before an op is resent or freed. */
#include "protocol/monc.h"
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "protocol/internal.h"
#include "protocol/msg_types.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum monc_state { MONC_IDLE, MONC_HUNTING, MONC_BACKOFF, MONC_SESSION };
enum op_kind { OP_COMMAND, OP_STATUS, OP_GET_MAP, OP_PG_STATS };
enum op_state { OP_WAITING, OP_SENT, OP_DELAYED };

struct proto_monc;

/* One call of the API, from its start until its callback fired. */
struct monc_op {
    struct proto_monc *monc;
    enum op_kind kind;
    enum op_state state;
    uint16_t type; /* PROTO_MSG_MON_* */
    uint8_t *meta; /* encoded request metadata (malloc'd) */
    size_t meta_len;
    proto_monc_reply_cb reply_cb; /* OP_COMMAND, OP_STATUS */
    proto_monc_map_cb map_cb;     /* OP_GET_MAP */
    proto_monc_pg_stats_cb stats_cb; /* OP_PG_STATS */
    struct proto_pg_stats stats;  /* OP_PG_STATS: the answer's data, once decoded */
    void *arg;
    uint64_t deadline_ns;         /* on the monc clock */
    uint32_t backoff_ms;          /* next -EAGAIN delay */
    uint32_t attempts;            /* requests sent */
    int last_err;                 /* transport error to report at the deadline, 0 if none */
    bool answered;                /* reply holds a monitor's -EAGAIN/-EREMOTE answer */
    int fail;                     /* nonzero: complete with it from the timer */
    struct event *timer;          /* deadline (WAITING) or backoff (DELAYED) */
    struct proto_mon_reply reply; /* the last decoded answer */
    TAILQ_ENTRY(monc_op) link;    /* monc->ops */
};

/* A request monc makes for itself on the session: SUBSCRIBE, the keepalive
 * STATUS, and a GET_MAP when the keepalive saw an epoch we lack. */
struct monc_sreq {
    struct proto_monc *monc;
    bool busy;    /* sent, callback not yet fired */
    uint64_t gen; /* the session generation it was sent on */
};

struct monc_probe {
    struct proto_monc *monc;
    uint32_t idx;            /* into monc->mons */
    struct proto_conn *conn; /* NULL when not probing */
};

struct proto_monc {
    struct event_base *base;
    struct proto_msgr *msgr;
    struct proto_monc_opts opts; /* defaults filled in; mons points at conf */
    const struct cairn_clock *clock;
    struct proto_map_mon conf[PROTO_MAP_MAX_MONS]; /* as configured */
    uint32_t n_conf;
    struct proto_map_mon mons[PROTO_MAP_MAX_MONS]; /* candidates: the map's, else conf */
    uint32_t n_mons;
    enum monc_state state;
    struct proto_conn *session; /* SESSION only (inv. 1) */
    char session_mon[PROTO_MAP_NAME_MAX];
    char avoid[PROTO_MAP_NAME_MAX]; /* the next hunt skips it: its session failed */
    uint64_t session_gen;           /* bumped whenever a session ends */
    struct monc_probe probes[PROTO_MAP_MAX_MONS];
    uint32_t probes_active;
    struct proto_conn *fallback; /* HUNTING: a monitor that answered, no leader */
    uint32_t fallback_idx;
    uint32_t n_probed;       /* this hunt: probes started */
    uint32_t probes_refused; /* this hunt: probes refused with -EACCES */
    uint32_t hunt_backoff_ms;
    struct event *timer; /* BACKOFF: rehunt; SESSION: keepalive */
    TAILQ_HEAD(, monc_op) ops;
    proto_monc_sub_cb sub_cb; /* NULL when not subscribed */
    void *sub_arg;
    bool sub_acked; /* the session's SUBSCRIBE was answered 0 */
    struct monc_sreq sub_req, alive_req, fetch_req;
    struct proto_map *map; /* newest seen, owned */
    bool destroying;
    struct proto_monc_stats stats;
};

static void hunt_start(struct proto_monc *monc);
static void session_reset(struct proto_monc *monc, const char *why);
static void ops_send_waiting(struct proto_monc *monc);

/* ---- mon_host parsing ---- */

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t err_len,
                                                          const char *fmt, ...)
{
    va_list ap;

    if (!err || !err_len)
        return;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    return s;
}

/* Parses one "NAME=ADDR" entry (modified in place) into @mon. */
static int parse_entry(char *entry, struct proto_map_mon *mon, char *err, size_t err_len)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char *eq = strchr(entry, '=');
    char *name, *addr;

    if (!*entry) {
        set_err(err, err_len, "empty entry in mon_host");
        return -EINVAL;
    }
    if (!eq) {
        set_err(err, err_len, "mon_host entry '%s': expected NAME=ADDR", entry);
        return -EINVAL;
    }
    *eq = '\0';
    name = trim(entry);
    addr = trim(eq + 1);
    if (strncmp(name, "mon.", 4) == 0)
        name += 4;
    if (!proto_map_name_is_valid(name) || strlen(name) + 4 >= PROTO_ENTITY_MAX) {
        set_err(err, err_len, "mon_host: bad monitor name '%s'", name);
        return -EINVAL;
    }
    if (strlen(addr) >= PROTO_MAP_ADDR_MAX || proto__addr_parse(addr, &ss, &len) < 0) {
        set_err(err, err_len, "mon_host: bad address '%s' (HOST:PORT, [V6]:PORT or unix:PATH)",
                addr);
        return -EINVAL;
    }
    snprintf(mon->name, sizeof(mon->name), "%s", name);
    snprintf(mon->addr, sizeof(mon->addr), "%s", addr);
    return 0;
}

static int check_unique(const struct proto_map_mon *mons, uint32_t n, char *err, size_t err_len)
{
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(mons[i].name, mons[n].name) == 0) {
            set_err(err, err_len, "mon_host: duplicate monitor name '%s'", mons[n].name);
            return -EINVAL;
        }
        if (strcmp(mons[i].addr, mons[n].addr) == 0) {
            set_err(err, err_len, "mon_host: duplicate address '%s'", mons[n].addr);
            return -EINVAL;
        }
    }
    return 0;
}

int proto_monc_parse_mon_host(const char *text, struct proto_map_mon *out, uint32_t max,
                              uint32_t *n, char *err, size_t err_len)
{
    char *copy, *cursor;
    uint32_t count = 0;
    int r = 0;

    if (!text)
        return -EINVAL;
    if (!(copy = strdup(text)))
        return -ENOMEM;
    cursor = trim(copy);
    if (!*cursor) {
        set_err(err, err_len, "mon_host is empty");
        free(copy);
        return -EINVAL;
    }
    for (;;) {
        char *comma = strchr(cursor, ',');
        if (comma)
            *comma = '\0';
        if (count == max) {
            set_err(err, err_len, "mon_host: more monitors than the limit of %u", max);
            r = -ENOSPC;
            break;
        }
        if ((r = parse_entry(trim(cursor), &out[count], err, err_len)) < 0 ||
            (r = check_unique(out, count, err, err_len)) < 0)
            break;
        count++;
        if (!comma)
            break;
        cursor = comma + 1;
    }
    free(copy);
    if (r == 0)
        *n = count;
    return r;
}

/* ---- helpers ---- */

static uint64_t now_ns(const struct proto_monc *monc)
{
    return cairn_clock_now_ns(monc->clock);
}

/* Milliseconds from now until @deadline_ns, 0 when passed. */
static uint32_t ms_until(const struct proto_monc *monc, uint64_t deadline_ns)
{
    uint64_t now = now_ns(monc);

    if (now >= deadline_ns)
        return 0;
    uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static void arm(struct event *ev, uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    evtimer_add(ev, &tv);
}

static bool monc_is_wanted(const struct proto_monc *monc)
{
    return !TAILQ_EMPTY(&monc->ops) || monc->sub_cb;
}

static void monc_check(const struct proto_monc *monc)
{
#ifdef CAIRN_DEBUG
    uint32_t active = 0;
    const struct monc_op *op;

    CAIRN_ASSERT((monc->session != NULL) == (monc->state == MONC_SESSION)); /* inv. 1 */
    for (uint32_t i = 0; i < PROTO_MAP_MAX_MONS; i++)
        active += monc->probes[i].conn != NULL;
    CAIRN_ASSERT(active == monc->probes_active); /* inv. 2 */
    if (active)
        CAIRN_ASSERT(monc->state == MONC_HUNTING);
    TAILQ_FOREACH(op, &monc->ops, link)
    {
        if (op->state == OP_SENT)
            CAIRN_ASSERT(monc->state == MONC_SESSION); /* inv. 3 */
        CAIRN_ASSERT((evtimer_pending(op->timer, NULL) != 0) == (op->state != OP_SENT));
    }
    if (monc->state == MONC_BACKOFF)
        CAIRN_ASSERT(evtimer_pending(monc->timer, NULL)); /* inv. 4 */
#else
    (void)monc;
#endif
}

/* Takes ownership of @map; keeps it when newer than ours and tells the
 * subscriber. */
static void map_accept(struct proto_monc *monc, struct proto_map *map)
{
    if (monc->map && map->epoch <= monc->map->epoch) {
        proto_map_destroy(map);
        return;
    }
    proto_map_destroy(monc->map);
    monc->map = map;
    monc->stats.maps++;
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_PROTO, "monc: map e%llu from mon.%s",
              (unsigned long long)map->epoch, monc->session_mon);
    if (monc->sub_cb)
        monc->sub_cb(map, monc->sub_arg);
}

/* Decodes the map a frame carries as data. NULL when there is none or it
 * does not decode (logged). */
static struct proto_map *frame_map(const struct proto_monc *monc, const struct proto_frame *f)
{
    struct proto_map *map = NULL;

    if (!f->data || !f->hdr.data_len)
        return NULL;
    int r = proto_map_decode(f->data, f->hdr.data_len, &map);
    if (r < 0) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_PROTO, "monc: bad map from mon.%s: %s",
                  monc->session_mon, strerror(-r));
        return NULL;
    }
    return map;
}

/* ---- calls ---- */

static void op_free(struct monc_op *op)
{
    proto_pg_stats_fini(&op->stats);
    event_free(op->timer);
    free(op->meta);
    free(op);
}

/* Fires @op's callback and frees it. For OP_GET_MAP, @map (owned) is the
 * answer. */
static void op_complete(struct monc_op *op, int result, const struct proto_mon_reply *reply,
                        struct proto_map *map)
{
    struct proto_monc *monc = op->monc;

    TAILQ_REMOVE(&monc->ops, op, link);
    evtimer_del(op->timer);
    if (op->kind == OP_GET_MAP) {
        if (result == 0 && !map)
            result = -EBADMSG;
        if (result < 0) {
            proto_map_destroy(map);
            map = NULL;
        }
        op->map_cb(result, map, op->arg);
    } else if (op->kind == OP_PG_STATS) {
        op->stats_cb(result, reply, result == 0 ? &op->stats : NULL, op->arg);
    } else {
        op->reply_cb(result, reply, op->arg);
    }
    op_free(op);
}

/* The deadline passed: report the last answer or error. */
static void op_expire(struct monc_op *op)
{
    if (op->answered) {
        op_complete(op, op->reply.result, &op->reply, NULL);
        return;
    }
    op_complete(op, op->last_err ? op->last_err : -ETIMEDOUT, NULL, NULL);
}

/* Puts @op back to WAITING with its deadline armed. User callbacks never
 * run from here: an op past its deadline, or failed with op->fail, expires
 * from its timer, so state changes of monc never re-enter the caller. */
static void op_wait(struct monc_op *op)
{
    op->state = OP_WAITING;
    arm(op->timer, op->fail ? 0 : ms_until(op->monc, op->deadline_ns));
}

/* Completes @op with @err from its timer, outside the current call chain. */
static void op_fail_soon(struct monc_op *op, int err)
{
    op->fail = err;
    op_wait(op);
}

static void monc_kick(struct proto_monc *monc)
{
    if (monc->state == MONC_SESSION)
        ops_send_waiting(monc);
    else if (monc->state == MONC_IDLE && monc_is_wanted(monc))
        hunt_start(monc);
}

static void op_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct monc_op *op = arg;
    struct proto_monc *monc = op->monc;
    uint32_t ms = ms_until(monc, op->deadline_ns);

    CAIRN_ASSERT(op->state != OP_SENT);
    if (op->fail) {
        op_complete(op, op->fail, NULL, NULL);
    } else if (ms == 0) {
        op_expire(op);
    } else if (op->state == OP_DELAYED) {
        op_wait(op); /* its backoff passed: send it when there is a session */
        monc_kick(monc);
    } else {
        arm(op->timer, ms);
    }
    monc_check(monc);
}

static void op_reply_cb(int result, struct proto_frame *frame, void *arg);

/* Sends @op on the session; on failure it is WAITING again or failing. */
static void op_send(struct monc_op *op)
{
    struct proto_monc *monc = op->monc;
    uint32_t ms = ms_until(monc, op->deadline_ns);

    CAIRN_ASSERT(monc->state == MONC_SESSION && op->state == OP_WAITING);
    if (ms == 0)
        return; /* its timer expires it */
    evtimer_del(op->timer);
    op->state = OP_SENT;
    int r = proto_conn_request(monc->session, op->type, op->meta, op->meta_len, NULL, 0,
                               CAIRN_MIN(ms, monc->opts.request_timeout_ms), op_reply_cb, op);
    if (r == 0) {
        if (op->attempts++)
            monc->stats.resends++;
        return;
    }
    if (r == -EACCES || r == -ENOTCONN) {
        op_wait(op);
        session_reset(monc, "the session's connection is gone");
        return;
    }
    op_fail_soon(op, r);
}

static void ops_send_waiting(struct proto_monc *monc)
{
    struct monc_op *op = TAILQ_FIRST(&monc->ops), *next;

    for (; op && monc->state == MONC_SESSION; op = next) {
        next = TAILQ_NEXT(op, link);
        if (op->state == OP_WAITING && !op->fail)
            op_send(op);
    }
}

/* -EAGAIN (no leader yet): wait, then try again on whatever session exists. */
static void op_delay(struct monc_op *op)
{
    struct proto_monc *monc = op->monc;

    op->state = OP_DELAYED;
    arm(op->timer, CAIRN_MIN(ms_until(monc, op->deadline_ns), op->backoff_ms));
    op->backoff_ms = CAIRN_MIN(op->backoff_ms * 2, monc->opts.backoff_max_ms);
}

/* Index of the candidate monitor with @name (by_name) or listening on
 * @addr, or -1. */
static int mon_find(const struct proto_monc *monc, const char *key, bool by_name)
{
    for (uint32_t i = 0; i < monc->n_mons; i++)
        if (strcmp(by_name ? monc->mons[i].name : monc->mons[i].addr, key) == 0)
            return (int)i;
    return -1;
}

static void session_open(struct proto_monc *monc, uint32_t idx, struct proto_conn *conn);
static void session_end(struct proto_monc *monc, const char *why);

/* Moves the session to the leader, monitor @idx (-1: unknown). True when
 * it moved (the WAITING ops were sent on the new session). */
static bool session_redirect(struct proto_monc *monc, int idx)
{
    struct proto_conn *conn;
    char entity[PROTO_MAP_NAME_MAX + 4]; /* fits PROTO_ENTITY_MAX: names are checked */

    if (idx < 0 || strcmp(monc->mons[idx].name, monc->session_mon) == 0)
        return false;
    snprintf(entity, sizeof(entity), "mon.%s", monc->mons[idx].name);
    if (proto_msgr_connect(monc->msgr, monc->mons[idx].addr, entity, &conn) < 0)
        return false;
    session_end(monc, "moving to the leader");
    session_open(monc, (uint32_t)idx, conn);
    return true;
}

/* A STATUS answer from a follower: the quorum it reports is its copy of the
 * leader's view, which lags (and is empty right after an election), so ask
 * the leader it names; twice at most, in case that name is stale. */
static bool status_from_leader(struct monc_op *op)
{
    struct proto_monc *monc = op->monc;
    const struct proto_mon_status *st = &op->reply.status;

    int idx;

    if (op->kind != OP_STATUS || !op->reply.has_status || !st->leader[0] || op->attempts > 2 ||
        strcmp(st->leader, monc->session_mon) == 0 || (idx = mon_find(monc, st->leader, true)) < 0)
        return false;
    op_wait(op);
    if (!session_redirect(monc, idx))
        op_complete(op, op->reply.result, &op->reply, NULL);
    return true;
}

static void op_handle_answer(struct monc_op *op, struct proto_frame *frame)
{
    struct proto_monc *monc = op->monc;
    int r = proto_mon_reply_decode(frame->meta, frame->hdr.meta_len, &op->reply);

    if (r < 0) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_PROTO, "monc: undecodable reply from mon.%s: %s",
                  monc->session_mon, strerror(-r));
        op_complete(op, -EBADMSG, NULL, NULL);
        return;
    }
    if (op->reply.result == -EAGAIN || op->reply.result == -EREMOTE) {
        /* This monitor cannot serve us now (no leader it knows of, e.g. it
         * is cut off from the majority): go to the leader it names, else
         * retry after a backoff on a monitor found by a new hunt. */
        op->answered = true;
        op_wait(op);
        if (op->reply.result == -EREMOTE && op->reply.leader_addr[0] &&
            session_redirect(monc, mon_find(monc, op->reply.leader_addr, false)))
            return;
        op_delay(op);
        session_reset(monc, "it has no leader to serve us");
        return;
    }
    if (status_from_leader(op))
        return;
    if (op->kind == OP_PG_STATS) {
        r = op->reply.result;
        if (r == 0 && frame->hdr.data_len &&
            (r = proto_mon_pg_stats_decode(frame->data, frame->hdr.data_len, &op->stats)) < 0) {
            cairn_log(CAIRN_LOG_WARN, CAIRN_SS_PROTO, "monc: bad PG stats from mon.%s: %s",
                      monc->session_mon, strerror(-r));
            r = r == -ENOMEM ? r : -EBADMSG;
        }
        op_complete(op, r, r == op->reply.result ? &op->reply : NULL, NULL);
        return;
    }
    if (op->kind != OP_GET_MAP) {
        op_complete(op, op->reply.result, &op->reply, NULL);
        return;
    }
    struct proto_map *map = op->reply.result == 0 ? frame_map(monc, frame) : NULL;
    struct proto_map *copy = map ? proto_map_clone(map) : NULL;
    if (map && !copy) {
        proto_map_destroy(map);
        op_complete(op, -ENOMEM, NULL, NULL);
        return;
    }
    if (map)
        map_accept(monc, map);
    op_complete(op, op->reply.result, NULL, copy);
}

static void op_reply_cb(int result, struct proto_frame *frame, void *arg)
{
    struct monc_op *op = arg;
    struct proto_monc *monc = op->monc;

    if (op->state != OP_SENT) { /* inv. 5 */
        if (frame)
            proto_frame_free(frame);
        return;
    }
    if (result < 0) {
        op->last_err = result == -EACCES ? -EACCES : 0;
        op_wait(op);
        session_reset(monc, result == -ETIMEDOUT ? "a request timed out"
                                                 : "the session's connection failed");
        monc_check(monc);
        return;
    }
    op_handle_answer(op, frame);
    proto_frame_free(frame);
    monc_check(monc);
}

static int op_start(struct proto_monc *monc, enum op_kind kind, uint16_t type, uint8_t *meta,
                    size_t meta_len, void *arg, struct monc_op **out)
{
    struct monc_op *op = calloc(1, sizeof(*op));

    if (!op) {
        free(meta);
        return -ENOMEM;
    }
    if (!(op->timer = evtimer_new(monc->base, op_timer_cb, op))) {
        free(meta);
        free(op);
        return -ENOMEM;
    }
    op->monc = monc;
    op->kind = kind;
    op->type = type;
    op->meta = meta;
    op->meta_len = meta_len;
    op->arg = arg;
    op->backoff_ms = monc->opts.backoff_min_ms;
    op->deadline_ns = now_ns(monc) + (uint64_t)monc->opts.op_timeout_ms * 1000000u;
    op->state = OP_WAITING;
    arm(op->timer, monc->opts.op_timeout_ms);
    TAILQ_INSERT_TAIL(&monc->ops, op, link);
    *out = op;
    return 0;
}

/* Sends a just-started op, or starts the hunt that will. */
static void op_go(struct monc_op *op)
{
    struct proto_monc *monc = op->monc;

    if (monc->state == MONC_SESSION)
        op_send(op);
    else if (monc->state == MONC_IDLE)
        hunt_start(monc);
    monc_check(monc);
}

int proto_monc_command(struct proto_monc *monc, const struct proto_mon_cmd *cmd,
                       proto_monc_reply_cb cb, void *arg)
{
    struct monc_op *op;
    uint8_t *meta;
    size_t len;

    if (monc->destroying)
        return -ECANCELED;
    if (!cb || !cmd || cmd->op == PROTO_MON_OSD_BEACON)
        return -EINVAL;
    int r = proto_mon_cmd_encode(cmd, &meta, &len);
    if (r < 0)
        return r;
    if ((r = op_start(monc, OP_COMMAND, PROTO_MSG_MON_COMMAND, meta, len, arg, &op)) < 0)
        return r;
    op->reply_cb = cb;
    op_go(op);
    return 0;
}

int proto_monc_status(struct proto_monc *monc, proto_monc_reply_cb cb, void *arg)
{
    struct monc_op *op;

    if (monc->destroying)
        return -ECANCELED;
    if (!cb)
        return -EINVAL;
    int r = op_start(monc, OP_STATUS, PROTO_MSG_MON_STATUS, NULL, 0, arg, &op);
    if (r < 0)
        return r;
    op->reply_cb = cb;
    op_go(op);
    return 0;
}

int proto_monc_get_map(struct proto_monc *monc, proto_monc_map_cb cb, void *arg)
{
    struct monc_op *op;
    uint8_t *meta;
    size_t len;

    if (monc->destroying)
        return -ECANCELED;
    if (!cb)
        return -EINVAL;
    int r = proto_mon_map_request_encode(0, &meta, &len);
    if (r < 0)
        return r;
    if ((r = op_start(monc, OP_GET_MAP, PROTO_MSG_MON_GET_MAP, meta, len, arg, &op)) < 0)
        return r;
    op->map_cb = cb;
    op_go(op);
    return 0;
}

int proto_monc_pg_stats(struct proto_monc *monc, proto_monc_pg_stats_cb cb, void *arg)
{
    struct monc_op *op;

    if (monc->destroying)
        return -ECANCELED;
    if (!cb)
        return -EINVAL;
    int r = op_start(monc, OP_PG_STATS, PROTO_MSG_MON_PG_STATS, NULL, 0, arg, &op);
    if (r < 0)
        return r;
    op->stats_cb = cb;
    op_go(op);
    return 0;
}

/* ---- the session's own requests: subscribe, keepalive, fetch ---- */

static void sreq_cb(int result, struct proto_frame *frame, void *arg);

static void sreq_send(struct proto_monc *monc, struct monc_sreq *sq, uint16_t type,
                      uint64_t have_epoch)
{
    uint8_t *meta = NULL;
    size_t len = 0;

    if (sq->busy || monc->state != MONC_SESSION)
        return;
    if (type != PROTO_MSG_MON_STATUS && proto_mon_map_request_encode(have_epoch, &meta, &len) < 0)
        return;
    int r = proto_conn_request(monc->session, type, meta, len, NULL, 0,
                               type == PROTO_MSG_MON_STATUS ? monc->opts.probe_timeout_ms
                                                            : monc->opts.request_timeout_ms,
                               sreq_cb, sq);
    free(meta);
    if (r == 0) {
        sq->busy = true;
        sq->gen = monc->session_gen;
    }
}

static uint64_t have_epoch(const struct proto_monc *monc)
{
    return monc->map ? monc->map->epoch : 0;
}

static void sreq_answer(struct proto_monc *monc, struct monc_sreq *sq,
                        const struct proto_mon_reply *reply, struct proto_frame *frame)
{
    struct proto_map *map;

    if (sq == &monc->alive_req) {
        if (!monc->sub_cb)
            return;
        if (!monc->sub_acked)
            sreq_send(monc, &monc->sub_req, PROTO_MSG_MON_SUBSCRIBE, have_epoch(monc));
        else if (reply->has_status && reply->status.epoch > have_epoch(monc))
            sreq_send(monc, &monc->fetch_req, PROTO_MSG_MON_GET_MAP, 0);
        return;
    }
    if (sq == &monc->sub_req)
        monc->sub_acked = reply->result == 0;
    if (reply->result == 0 && (map = frame_map(monc, frame)))
        map_accept(monc, map);
}

static void sreq_cb(int result, struct proto_frame *frame, void *arg)
{
    struct monc_sreq *sq = arg;
    struct proto_monc *monc = sq->monc;
    struct proto_mon_reply *reply = NULL;

    sq->busy = false;
    if (sq->gen != monc->session_gen || monc->state != MONC_SESSION) /* inv. 5 */
        goto out;
    if (result < 0) {
        session_reset(monc, result == -ETIMEDOUT ? "the session stopped answering"
                                                 : "the session's connection failed");
        goto out;
    }
    if (!(reply = malloc(sizeof(*reply))))
        goto out;
    if (proto_mon_reply_decode(frame->meta, frame->hdr.meta_len, reply) == 0)
        sreq_answer(monc, sq, reply, frame);
out:
    free(reply);
    if (frame)
        proto_frame_free(frame);
    monc_check(monc);
}

/* ---- sessions and hunting ---- */

static void session_open(struct proto_monc *monc, uint32_t idx, struct proto_conn *conn)
{
    CAIRN_ASSERT(!monc->session);
    monc->state = MONC_SESSION;
    monc->session = conn;
    snprintf(monc->session_mon, sizeof(monc->session_mon), "%s", monc->mons[idx].name);
    monc->hunt_backoff_ms = monc->opts.backoff_min_ms;
    monc->sub_acked = false;
    monc->stats.sessions++;
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_PROTO, "monc: session with mon.%s at %s", monc->session_mon,
              monc->mons[idx].addr);
    if (monc->sub_cb) {
        sreq_send(monc, &monc->sub_req, PROTO_MSG_MON_SUBSCRIBE, have_epoch(monc));
        arm(monc->timer, monc->opts.keepalive_ms);
    }
    ops_send_waiting(monc);
}

/* Ends the session: its SENT ops go back to WAITING, its connection closes. */
static void session_end(struct proto_monc *monc, const char *why)
{
    struct proto_conn *conn = monc->session;
    struct monc_op *op;

    CAIRN_ASSERT(monc->state == MONC_SESSION);
    cairn_log(monc->destroying ? CAIRN_LOG_DEBUG : CAIRN_LOG_INFO, CAIRN_SS_PROTO,
              "monc: leaving mon.%s: %s", monc->session_mon, why);
    monc->session = NULL;
    monc->session_gen++;
    monc->state = MONC_IDLE;
    evtimer_del(monc->timer);
    TAILQ_FOREACH(op, &monc->ops, link)
    if (op->state == OP_SENT)
        op_wait(op);
    proto_conn_close(conn); /* fires our abandoned requests' callbacks (inv. 5) */
}

/* Ends a failed session and hunts again, among the other monitors first,
 * when anything still needs a monitor. */
static void session_reset(struct proto_monc *monc, const char *why)
{
    if (monc->state != MONC_SESSION)
        return;
    snprintf(monc->avoid, sizeof(monc->avoid), "%s", monc->session_mon);
    session_end(monc, why);
    if (monc_is_wanted(monc) && !monc->destroying)
        hunt_start(monc);
}

static void probe_stop(struct monc_probe *p)
{
    struct proto_conn *conn = p->conn;

    p->conn = NULL;
    p->monc->probes_active--;
    proto_conn_close(conn);
}

static void hunt_failed(struct proto_monc *monc)
{
    struct monc_op *op;
    bool refused_all = monc->n_probed && monc->probes_refused == monc->n_probed;

    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_PROTO, "monc: no monitor answered (%u refused us)",
              monc->probes_refused);
    TAILQ_FOREACH(op, &monc->ops, link)
    {
        if (refused_all && op->state != OP_SENT)
            op_fail_soon(op, -EACCES);
        else if (monc->probes_refused && !op->answered)
            op->last_err = -EACCES;
    }
    monc->state = MONC_IDLE;
    if (!monc_is_wanted(monc))
        return;
    monc->state = MONC_BACKOFF;
    arm(monc->timer, monc->hunt_backoff_ms);
    monc->hunt_backoff_ms = CAIRN_MIN(monc->hunt_backoff_ms * 2, monc->opts.backoff_max_ms);
}

/* The hunt is over: @conn to monitor @idx becomes the session; every other
 * probe and the fallback close. */
static void hunt_won(struct proto_monc *monc, uint32_t idx, struct proto_conn *conn)
{
    for (uint32_t i = 0; i < monc->n_mons; i++)
        if (monc->probes[i].conn)
            probe_stop(&monc->probes[i]);
    if (monc->fallback && monc->fallback != conn)
        proto_conn_close(monc->fallback);
    monc->fallback = NULL;
    session_open(monc, idx, conn);
}

/* A probe is over (failed, or answered without knowing a leader). */
static void hunt_probe_done(struct proto_monc *monc)
{
    if (monc->probes_active)
        return;
    if (monc->fallback)
        hunt_won(monc, monc->fallback_idx, monc->fallback);
    else
        hunt_failed(monc);
}

/* A probe's STATUS answer: the first monitor that knows a leader wins at
 * once; one that does not is kept as the fallback, taken when no probe
 * does better (during an election no monitor knows a leader). */
static void probe_answered(struct monc_probe *p, const struct proto_mon_reply *reply)
{
    struct proto_monc *monc = p->monc;
    struct proto_conn *conn = p->conn;

    p->conn = NULL;
    monc->probes_active--;
    if (reply->has_status && reply->status.leader[0]) {
        hunt_won(monc, p->idx, conn);
        return;
    }
    if (monc->fallback) {
        proto_conn_close(conn);
    } else {
        monc->fallback = conn;
        monc->fallback_idx = p->idx;
    }
    hunt_probe_done(monc);
}

static void probe_cb(int result, struct proto_frame *frame, void *arg)
{
    struct monc_probe *p = arg;
    struct proto_monc *monc = p->monc;
    struct proto_mon_reply *reply = NULL;

    if (!p->conn) /* inv. 5 */
        goto out;
    if (result == 0 && (reply = malloc(sizeof(*reply))) &&
        proto_mon_reply_decode(frame->meta, frame->hdr.meta_len, reply) == 0 &&
        reply->result == 0) {
        probe_answered(p, reply);
        goto out;
    }
    monc->probes_refused += result == -EACCES;
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_PROTO, "monc: probe of mon.%s failed: %s",
              monc->mons[p->idx].name, strerror(result < 0 ? -result : EBADMSG));
    probe_stop(p);
    hunt_probe_done(monc);
out:
    free(reply);
    if (frame)
        proto_frame_free(frame);
    monc_check(monc);
}

/* The candidates: the monitors of the newest map, else the configured ones. */
static void hunt_candidates(struct proto_monc *monc)
{
    const struct proto_map *map = monc->map;
    uint32_t n = 0;

    for (uint32_t i = 0; map && i < map->n_mons && n < PROTO_MAP_MAX_MONS; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (!proto_map_name_is_valid(map->mons[i].name) ||
            strlen(map->mons[i].name) + 4 >= PROTO_ENTITY_MAX ||
            proto__addr_parse(map->mons[i].addr, &ss, &len) < 0)
            continue;
        monc->mons[n++] = map->mons[i];
    }
    if (n == 0) {
        memcpy(monc->mons, monc->conf, sizeof(monc->conf));
        n = monc->n_conf;
    }
    monc->n_mons = n;
}

static void hunt_start(struct proto_monc *monc)
{
    char entity[PROTO_MAP_NAME_MAX + 4]; /* fits PROTO_ENTITY_MAX: names are checked */

    CAIRN_ASSERT(monc->state == MONC_IDLE || monc->state == MONC_BACKOFF);
    evtimer_del(monc->timer);
    hunt_candidates(monc);
    monc->state = MONC_HUNTING;
    monc->probes_refused = 0;
    monc->n_probed = 0;
    monc->stats.hunts++;
    for (uint32_t i = 0; i < monc->n_mons; i++) {
        struct monc_probe *p = &monc->probes[i];
        struct proto_conn *conn;

        p->idx = i;
        if (monc->n_mons > 1 && strcmp(monc->mons[i].name, monc->avoid) == 0)
            continue;
        snprintf(entity, sizeof(entity), "mon.%s", monc->mons[i].name);
        if (proto_msgr_connect(monc->msgr, monc->mons[i].addr, entity, &conn) < 0)
            continue;
        if (proto_conn_request(conn, PROTO_MSG_MON_STATUS, NULL, 0, NULL, 0,
                               monc->opts.probe_timeout_ms, probe_cb, p) < 0) {
            proto_conn_close(conn);
            continue;
        }
        p->conn = conn;
        monc->probes_active++;
        monc->n_probed++;
    }
    monc->avoid[0] = '\0';
    if (monc->probes_active == 0)
        hunt_failed(monc);
}

static void monc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proto_monc *monc = arg;

    if (monc->state == MONC_BACKOFF) {
        monc->state = MONC_IDLE;
        if (monc_is_wanted(monc))
            hunt_start(monc);
    } else if (monc->state == MONC_SESSION && monc->sub_cb) {
        sreq_send(monc, &monc->alive_req, PROTO_MSG_MON_STATUS, 0);
        arm(monc->timer, monc->opts.keepalive_ms);
    }
    monc_check(monc);
}

/* ---- subscription, beacons, messages ---- */

int proto_monc_subscribe(struct proto_monc *monc, proto_monc_sub_cb cb, void *arg)
{
    if (!cb || monc->destroying)
        return -EINVAL;
    if (monc->sub_cb)
        return -EBUSY;
    monc->sub_cb = cb;
    monc->sub_arg = arg;
    if (monc->state == MONC_SESSION) {
        monc->sub_acked = false;
        sreq_send(monc, &monc->sub_req, PROTO_MSG_MON_SUBSCRIBE, have_epoch(monc));
        arm(monc->timer, monc->opts.keepalive_ms);
    } else if (monc->state == MONC_IDLE) {
        hunt_start(monc);
    }
    monc_check(monc);
    return 0;
}

void proto_monc_unsubscribe(struct proto_monc *monc)
{
    monc->sub_cb = NULL;
    monc->sub_arg = NULL;
    if (monc->state == MONC_SESSION)
        evtimer_del(monc->timer);
}

int proto_monc_beacon_stats(struct proto_monc *monc, const struct proto_mon_cmd *cmd,
                            const struct proto_pg_stats *stats)
{
    uint8_t *meta;
    size_t len;

    if (!cmd || cmd->op != PROTO_MON_OSD_BEACON || monc->destroying)
        return -EINVAL;
    if (monc->state != MONC_SESSION) {
        if (monc->state == MONC_IDLE)
            hunt_start(monc);
        return -ENOTCONN;
    }
    int r = proto_mon_beacon_encode(cmd, stats, &meta, &len);
    if (r < 0)
        return r;
    r = proto_conn_send(monc->session, PROTO_MSG_MON_BEACON, meta, len, NULL, 0);
    free(meta);
    if (r == -EACCES || r == -ENOTCONN) {
        session_reset(monc, "the session's connection is gone");
        return -ENOTCONN;
    }
    return r;
}

int proto_monc_beacon(struct proto_monc *monc, const struct proto_mon_cmd *cmd)
{
    return proto_monc_beacon_stats(monc, cmd, NULL);
}

bool proto_monc_handle_message(struct proto_monc *monc, struct proto_conn *conn,
                               struct proto_frame *frame)
{
    struct proto_map *map;

    if (frame->hdr.type != PROTO_MSG_MON_MAP_UPDATE)
        return false;
    if (conn == monc->session && (map = frame_map(monc, frame)))
        map_accept(monc, map);
    proto_frame_free(frame);
    return true;
}

/* ---- life cycle ---- */

static int opts_init(struct proto_monc *monc, const struct proto_monc_opts *opts)
{
    struct proto_monc_opts *o = &monc->opts;

    if (!opts || !opts->mons || opts->n_mons == 0 || opts->n_mons > PROTO_MAP_MAX_MONS)
        return -EINVAL;
    for (uint32_t i = 0; i < opts->n_mons; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        if (!proto_map_name_is_valid(opts->mons[i].name) ||
            strlen(opts->mons[i].name) + 4 >= PROTO_ENTITY_MAX ||
            proto__addr_parse(opts->mons[i].addr, &ss, &len) < 0)
            return -EINVAL;
        monc->conf[i] = opts->mons[i];
    }
    monc->n_conf = opts->n_mons;
    *o = *opts;
    o->mons = monc->conf;
    o->probe_timeout_ms = o->probe_timeout_ms ? o->probe_timeout_ms : PROTO_MONC_PROBE_TIMEOUT_MS;
    o->request_timeout_ms =
        o->request_timeout_ms ? o->request_timeout_ms : PROTO_MONC_REQUEST_TIMEOUT_MS;
    o->op_timeout_ms = o->op_timeout_ms ? o->op_timeout_ms : PROTO_MONC_OP_TIMEOUT_MS;
    o->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : PROTO_MONC_BACKOFF_MIN_MS;
    o->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : PROTO_MONC_BACKOFF_MAX_MS;
    o->backoff_max_ms = CAIRN_MAX(o->backoff_max_ms, o->backoff_min_ms);
    o->keepalive_ms = o->keepalive_ms ? o->keepalive_ms : PROTO_MONC_KEEPALIVE_MS;
    monc->clock = o->clock ? o->clock : &cairn_real_clock;
    return 0;
}

int proto_monc_create(struct event_base *base, struct proto_msgr *msgr,
                      const struct proto_monc_opts *opts, struct proto_monc **out)
{
    struct proto_monc *monc;
    int r;

    if (!base || !msgr)
        return -EINVAL;
    if (!(monc = calloc(1, sizeof(*monc))))
        return -ENOMEM;
    if ((r = opts_init(monc, opts)) < 0) {
        free(monc);
        return r;
    }
    if (!(monc->timer = evtimer_new(base, monc_timer_cb, monc))) {
        free(monc);
        return -ENOMEM;
    }
    monc->base = base;
    monc->msgr = msgr;
    monc->state = MONC_IDLE;
    monc->hunt_backoff_ms = monc->opts.backoff_min_ms;
    TAILQ_INIT(&monc->ops);
    monc->sub_req.monc = monc->alive_req.monc = monc->fetch_req.monc = monc;
    for (uint32_t i = 0; i < PROTO_MAP_MAX_MONS; i++)
        monc->probes[i].monc = monc;
    *out = monc;
    return 0;
}

void proto_monc_destroy(struct proto_monc *monc)
{
    struct monc_op *op;

    if (!monc)
        return;
    monc->destroying = true;
    monc->sub_cb = NULL;
    session_reset(monc, "shutting down");
    for (uint32_t i = 0; i < PROTO_MAP_MAX_MONS; i++)
        if (monc->probes[i].conn)
            probe_stop(&monc->probes[i]);
    if (monc->fallback)
        proto_conn_close(monc->fallback);
    monc->fallback = NULL;
    while ((op = TAILQ_FIRST(&monc->ops)))
        op_complete(op, -ECANCELED, NULL, NULL);
    event_free(monc->timer);
    proto_map_destroy(monc->map);
    free(monc);
}

const struct proto_map *proto_monc_map(const struct proto_monc *monc)
{
    return monc->map;
}

const char *proto_monc_session_mon(const struct proto_monc *monc)
{
    return monc->state == MONC_SESSION ? monc->session_mon : NULL;
}

void proto_monc_get_stats(const struct proto_monc *monc, struct proto_monc_stats *out)
{
    *out = monc->stats;
}

/* The messenger: creation and teardown, listening and connecting, and the
 * connection state machine (the one place that changes conn->state). Socket
 * I/O, frames and requests live in msgr_conn.c, the handshake messages in
 * msgr_handshake.c. Daemons and libcairn call it on the event_base's thread.
 *
 * Connection states (enum proto_conn_state, internal.h):
 *
 *   outgoing: proto_msgr_connect()                 incoming: accept()
 *     NEW                                            NEW
 *      |                                              |
 *      v              connected                       |
 *   CONNECTING -------------------------> HELLO <-----+   send HELLO
 *      ^                                    | peer HELLO accepted: send AUTH
 *      | backoff timer                      v
 *      | (50 ms doubling to 5 s)          AUTH
 *      |                                    | peer proof good: send AUTH_RESULT 0
 *   BACKOFF                                 v
 *      ^                                  RESULT
 *      |                                    | peer AUTH_RESULT 0
 *      |                                    v
 *      +---- lost (outgoing) ----------   OPEN
 *
 *   lost = socket error, EOF, bad frame or handshake timeout, from CONNECTING,
 *          HELLO, AUTH, RESULT or OPEN; an incoming connection goes to CLOSED.
 *   HELLO|AUTH --we refuse the peer--> LINGER --flushed + peer EOF, or 1 s-->
 *          REFUSED (outgoing) | CLOSED (incoming)
 *   HELLO|AUTH|RESULT --peer refuses us--> REFUSED (outgoing) | CLOSED (incoming)
 *   any state --proto_conn_close(), proto_msgr_destroy()--> CLOSED
 *
 * Invariants (conn_check(), after every transition in debug builds):
 *   1. c->bev is set exactly in CONNECTING, HELLO, AUTH, RESULT, OPEN, LINGER.
 *   2. c->timer is pending in CONNECTING, HELLO, AUTH, RESULT (handshake
 *      deadline), BACKOFF (reconnect delay), LINGER (limit), and no other state.
 *   3. c->pending is empty in OPEN, LINGER, REFUSED and CLOSED: application
 *      frames wait there only until the handshake completes.
 *   4. In OPEN every pending request has been handed to the socket; in any
 *      other state none has. So leaving OPEN fails them all with -ECONNRESET,
 *      while requests queued during a reconnect survive it.
 *   5. No request is pending in LINGER (outgoing), REFUSED or CLOSED.
 *   6. c is on msgr->conns unless CLOSED; a CLOSED c is freed as soon as no
 *      callback of it is on the stack (c->depth == 0). */
#include "protocol/internal.h"
#include "common/assert.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the state machine ---- */

#define S(x) (1u << PROTO_CONN_##x)
static const uint32_t allowed_next[PROTO_CONN_NSTATES] = {
    [PROTO_CONN_NEW] = S(CONNECTING) | S(HELLO) | S(CLOSED),
    [PROTO_CONN_CONNECTING] = S(HELLO) | S(BACKOFF) | S(CLOSED),
    [PROTO_CONN_HELLO] = S(AUTH) | S(LINGER) | S(REFUSED) | S(BACKOFF) | S(CLOSED),
    [PROTO_CONN_AUTH] = S(RESULT) | S(LINGER) | S(REFUSED) | S(BACKOFF) | S(CLOSED),
    [PROTO_CONN_RESULT] = S(OPEN) | S(REFUSED) | S(BACKOFF) | S(CLOSED),
    [PROTO_CONN_OPEN] = S(BACKOFF) | S(CLOSED),
    [PROTO_CONN_BACKOFF] = S(CONNECTING) | S(CLOSED),
    [PROTO_CONN_LINGER] = S(REFUSED) | S(CLOSED),
    [PROTO_CONN_REFUSED] = S(CLOSED),
    [PROTO_CONN_CLOSED] = 0,
};
static const uint32_t with_socket =
    S(CONNECTING) | S(HELLO) | S(AUTH) | S(RESULT) | S(OPEN) | S(LINGER);
#ifdef CAIRN_DEBUG
static const uint32_t with_timer =
    S(CONNECTING) | S(HELLO) | S(AUTH) | S(RESULT) | S(BACKOFF) | S(LINGER);
#endif
#undef S

static const char *const state_names[PROTO_CONN_NSTATES] = {
    [PROTO_CONN_NEW] = "NEW",         [PROTO_CONN_CONNECTING] = "CONNECTING",
    [PROTO_CONN_HELLO] = "HELLO",     [PROTO_CONN_AUTH] = "AUTH",
    [PROTO_CONN_RESULT] = "RESULT",   [PROTO_CONN_OPEN] = "OPEN",
    [PROTO_CONN_BACKOFF] = "BACKOFF", [PROTO_CONN_LINGER] = "LINGER",
    [PROTO_CONN_REFUSED] = "REFUSED", [PROTO_CONN_CLOSED] = "CLOSED",
};

/* What a transition made due, run once the state is settled (callbacks may
 * re-enter the messenger, so they come last). */
struct conn_effects {
    struct proto__req_list failed;
    bool opened;
    bool notify_close;
};

const char *proto__conn_state_name(enum proto_conn_state s)
{
    return s < PROTO_CONN_NSTATES ? state_names[s] : "?";
}

const char *proto__conn_who(const struct proto_conn *c)
{
    if (c->peer[0])
        return c->peer;
    return c->peer_claim[0] ? c->peer_claim : "?";
}

/* "claims " before a name the peer gave but has not proven, for logs. */
static const char *who_prefix(const struct proto_conn *c)
{
    return !c->peer[0] && c->peer_claim[0] ? "claims " : "";
}

static bool state_in(enum proto_conn_state s, uint32_t set)
{
    return (set >> s) & 1u;
}

static void conn_check(const struct proto_conn *c)
{
#ifdef CAIRN_DEBUG
    const uint32_t no_pending = (1u << PROTO_CONN_OPEN) | (1u << PROTO_CONN_LINGER) |
                                (1u << PROTO_CONN_REFUSED) | (1u << PROTO_CONN_CLOSED);
    const uint32_t no_reqs = (1u << PROTO_CONN_REFUSED) | (1u << PROTO_CONN_CLOSED);

    CAIRN_ASSERT((c->bev != NULL) == state_in(c->state, with_socket)); /* inv. 1 */
    CAIRN_ASSERT((evtimer_pending(c->timer, NULL) != 0) == state_in(c->state, with_timer));
    if (state_in(c->state, no_pending))
        CAIRN_ASSERT(evbuffer_get_length(c->pending) == 0); /* inv. 3 */
    if (state_in(c->state, no_reqs))
        CAIRN_ASSERT(c->reqs.count == 0); /* inv. 5 */
    if (c->state == PROTO_CONN_LINGER && c->outgoing)
        CAIRN_ASSERT(c->reqs.count == 0); /* inv. 5 */
#else
    (void)c;
#endif
}

static void arm_timer(struct proto_conn *c, uint32_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

    evtimer_add(c->timer, &tv);
}

static enum proto_conn_state lost_state(const struct proto_conn *c)
{
    return c->outgoing ? PROTO_CONN_BACKOFF : PROTO_CONN_CLOSED;
}

static enum proto_conn_state linger_end(const struct proto_conn *c)
{
    return c->outgoing ? PROTO_CONN_REFUSED : PROTO_CONN_CLOSED;
}

static void set_nodelay(int fd, int family)
{
    int one = 1;

    if (family == AF_INET || family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static enum proto_conn_state enter_connecting(struct proto_conn *c, int *reason)
{
    struct proto_msgr *m = c->msgr;
    int fd = socket(c->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        *reason = -errno;
        return PROTO_CONN_BACKOFF;
    }
    set_nodelay(fd, c->sa.ss_family);
    int r = proto__conn_attach_socket(c, fd);
    if (r < 0) {
        *reason = r;
        return PROTO_CONN_BACKOFF;
    }
    m->stats.connects++;
    /* A connect that fails at once (ECONNREFUSED on a unix socket) is still
     * reported through the event callback; only other errors return -1. */
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&c->sa, (int)c->sa_len) < 0) {
        *reason = errno ? -errno : -ECONNREFUSED;
        proto__conn_drop_socket(c);
        return PROTO_CONN_BACKOFF;
    }
    arm_timer(c, m->opts.handshake_timeout_ms);
    return PROTO_CONN_CONNECTING;
}

static enum proto_conn_state enter_open(struct proto_conn *c, struct conn_effects *fx)
{
    struct proto_msgr *m = c->msgr;

    evtimer_del(c->timer);
    c->backoff_ms = PROTO_MSGR_BACKOFF_MIN_MS;
    c->was_open = true;
    /* At a frame boundary: the frame that got us here was just completed. */
    c->dec.limits = m->opts.limits;
    snprintf(c->peer, sizeof(c->peer), "%s", c->peer_claim);
    proto__conn_flush_pending(c);
    m->stats.handshakes++;
    fx->opened = true;
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MSGR, "conn %s %s (%s) open, features 0x%x",
              c->outgoing ? "to" : "from", c->addr, c->peer, c->features);
    return PROTO_CONN_OPEN;
}

static enum proto_conn_state enter_backoff(struct proto_conn *c, enum proto_conn_state from,
                                           struct conn_effects *fx)
{
    proto__conn_drop_socket(c);
    if (from == PROTO_CONN_OPEN)
        proto__conn_collect_reqs(c, -ECONNRESET, &fx->failed); /* inv. 4 */
    arm_timer(c, c->backoff_ms);
    c->backoff_ms = CAIRN_MIN(c->backoff_ms * 2, PROTO_MSGR_BACKOFF_MAX_MS);
    return PROTO_CONN_BACKOFF;
}

static enum proto_conn_state enter_linger(struct proto_conn *c, struct conn_effects *fx)
{
    if (c->outgoing) {
        proto__conn_collect_reqs(c, -EACCES, &fx->failed);
        evbuffer_drain(c->pending, evbuffer_get_length(c->pending));
    }
    arm_timer(c, PROTO_MSGR_LINGER_MS);
    proto__conn_linger_flush(c);
    return PROTO_CONN_LINGER;
}

static enum proto_conn_state enter_refused(struct proto_conn *c, struct conn_effects *fx)
{
    proto__conn_drop_socket(c);
    evtimer_del(c->timer);
    proto__conn_collect_reqs(c, -EACCES, &fx->failed);
    evbuffer_drain(c->pending, evbuffer_get_length(c->pending));
    return PROTO_CONN_REFUSED;
}

static enum proto_conn_state enter_closed(struct proto_conn *c, int reason, struct conn_effects *fx)
{
    proto__conn_drop_socket(c);
    evtimer_del(c->timer);
    proto__conn_collect_reqs(c, reason == -ECANCELED ? -ECANCELED : -ECONNRESET, &fx->failed);
    evbuffer_drain(c->pending, evbuffer_get_length(c->pending));
    TAILQ_REMOVE(&c->msgr->conns, c, link);
    fx->notify_close = c->outgoing || c->was_open;
    return PROTO_CONN_CLOSED;
}

/* Runs the entry actions of c->state. Returns c->state when they succeeded,
 * or the state to go to instead (with *reason set) when one failed. */
static enum proto_conn_state enter_state(struct proto_conn *c, enum proto_conn_state from,
                                         int *reason, struct conn_effects *fx)
{
    int r = 0;

    switch (c->state) {
    case PROTO_CONN_CONNECTING:
        return enter_connecting(c, reason);
    case PROTO_CONN_HELLO:
        arm_timer(c, c->msgr->opts.handshake_timeout_ms);
        r = proto__hs_send_hello(c);
        break;
    case PROTO_CONN_AUTH:
        r = proto__hs_send_auth(c);
        break;
    case PROTO_CONN_RESULT:
        r = proto__hs_send_result(c, 0, "");
        break;
    case PROTO_CONN_OPEN:
        return enter_open(c, fx);
    case PROTO_CONN_BACKOFF:
        return enter_backoff(c, from, fx);
    case PROTO_CONN_LINGER:
        return enter_linger(c, fx);
    case PROTO_CONN_REFUSED:
        return enter_refused(c, fx);
    case PROTO_CONN_CLOSED:
        return enter_closed(c, *reason, fx);
    default:
        CAIRN_ASSERT(!"no entry into NEW");
    }
    if (r < 0) {
        *reason = r;
        return lost_state(c);
    }
    return c->state;
}

void proto__conn_transition(struct proto_conn *c, enum proto_conn_state to, int reason)
{
    struct proto_msgr *m = c->msgr;
    struct conn_effects fx = {.failed = TAILQ_HEAD_INITIALIZER(fx.failed)};

    CAIRN_ASSERT(c->depth > 0);
    for (;;) {
        enum proto_conn_state from = c->state;

        CAIRN_ASSERT(state_in(to, allowed_next[from]));
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_MSGR, "conn %s (%s): %s -> %s (%d)", c->addr,
                  proto__conn_who(c), state_names[from], state_names[to], reason);
        c->state = to;
        enum proto_conn_state next = enter_state(c, from, &reason, &fx);
        if (next == to)
            break;
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MSGR, "conn %s (%s): entering %s failed: %s", c->addr,
                  proto__conn_who(c), state_names[to], strerror(-reason));
        to = next;
    }
    conn_check(c);
    proto__reqs_fail(m, &fx.failed);
    if (fx.opened && m->handlers.on_open)
        m->handlers.on_open(c, m->arg);
    if (fx.notify_close && m->handlers.on_close)
        m->handlers.on_close(c, reason, m->arg);
}

void proto__conn_lost(struct proto_conn *c, int reason, const char *why)
{
    bool quiet = reason == -ECONNRESET || reason == -ECONNREFUSED || reason == -ENOENT;

    if (c->state == PROTO_CONN_LINGER) {
        /* The peer closed after reading our refusal, as it should. */
        proto__conn_transition(c, linger_end(c), -EACCES);
        return;
    }
    CAIRN_ASSERT(state_in(c->state, with_socket));
    if (c->outgoing)
        cairn_log(quiet ? CAIRN_LOG_INFO : CAIRN_LOG_WARN, CAIRN_SS_MSGR,
                  "conn to %s (%s%s) lost in %s: %s; reconnecting in %u ms", c->addr, who_prefix(c),
                  proto__conn_who(c), state_names[c->state], why, c->backoff_ms);
    else
        cairn_log(quiet ? CAIRN_LOG_INFO : CAIRN_LOG_WARN, CAIRN_SS_MSGR,
                  "dropping conn from %s (%s%s) in %s: %s", c->addr, who_prefix(c),
                  proto__conn_who(c), state_names[c->state], why);
    proto__conn_transition(c, lost_state(c), reason);
}

void proto__conn_refused(struct proto_conn *c, bool by_us, const char *why)
{
    c->msgr->stats.refused++;
    if (by_us) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MSGR, "refused conn %s %s (claims %s): %s",
                  c->outgoing ? "to" : "from", c->addr, c->peer_claim[0] ? c->peer_claim : "?",
                  why);
        proto__conn_transition(c, PROTO_CONN_LINGER, -EACCES);
        return;
    }
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MSGR, "conn %s %s (%s%s) refused by the peer: %s%s",
              c->outgoing ? "to" : "from", c->addr, who_prefix(c), proto__conn_who(c), why,
              c->outgoing ? "; not reconnecting" : "");
    proto__conn_transition(c, linger_end(c), -EACCES);
}

static void conn_on_timer(struct proto_conn *c)
{
    switch (c->state) {
    case PROTO_CONN_BACKOFF:
        proto__conn_transition(c, PROTO_CONN_CONNECTING, 0);
        break;
    case PROTO_CONN_LINGER:
        proto__conn_transition(c, linger_end(c), -EACCES);
        break;
    default:
        CAIRN_ASSERT(c->state >= PROTO_CONN_CONNECTING && c->state <= PROTO_CONN_RESULT);
        proto__conn_lost(c, -ETIMEDOUT,
                         c->state == PROTO_CONN_CONNECTING ? "connect timed out"
                                                           : "handshake timed out");
    }
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proto_conn *c = arg;

    proto__conn_hold(c);
    conn_on_timer(c);
    proto__conn_release(c);
}

/* ---- connection objects ---- */

static void conn_free(struct proto_conn *c)
{
    CAIRN_ASSERT(c->state == PROTO_CONN_CLOSED && c->depth == 0); /* inv. 6 */
    proto_frame_decoder_fini(&c->dec);
    evbuffer_free(c->pending);
    event_free(c->timer);
    proto__reqtab_fini(&c->reqs);
    free(c);
}

void proto__conn_hold(struct proto_conn *c)
{
    c->depth++;
    c->msgr->depth++;
}

void proto__conn_release(struct proto_conn *c)
{
    CAIRN_ASSERT(c->depth > 0);
    c->depth--;
    c->msgr->depth--;
    if (c->depth == 0 && c->state == PROTO_CONN_CLOSED)
        conn_free(c);
}

static struct proto_conn *conn_create(struct proto_msgr *m, bool outgoing)
{
    struct proto_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->msgr = m;
    c->state = PROTO_CONN_NEW;
    c->outgoing = outgoing;
    c->backoff_ms = PROTO_MSGR_BACKOFF_MIN_MS;
    c->pending = evbuffer_new();
    c->timer = evtimer_new(m->base, conn_timer_cb, c);
    if (!c->pending || !c->timer) {
        if (c->pending)
            evbuffer_free(c->pending);
        if (c->timer)
            event_free(c->timer);
        free(c);
        return NULL;
    }
    proto__conn_reset_decoder(c);
    TAILQ_INIT(&c->req_list);
    TAILQ_INSERT_TAIL(&m->conns, c, link);
    return c;
}

void proto_conn_close(struct proto_conn *c)
{
    if (!c || c->state == PROTO_CONN_CLOSED)
        return;
    proto__conn_hold(c);
    proto__conn_transition(c, PROTO_CONN_CLOSED, -ECANCELED);
    proto__conn_release(c);
}

/* ---- addresses ---- */

static int parse_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    size_t n = 0;

    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 5)
            return -EINVAL;
        v = v * 10 + (unsigned long)(s[n] - '0');
    }
    if (n == 0 || v > 65535)
        return -EINVAL;
    *port = (uint16_t)v;
    return 0;
}

static int parse_unix(const char *path, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)ss;
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(sun->sun_path))
        return -EINVAL;
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n + 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

static int parse_inet(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    size_t n = strlen(host);
    char v6[INET6_ADDRSTRLEN];

    if (host[0] != '[') {
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return -EINVAL;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *len = sizeof(*sin);
        return 0;
    }
    if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof(v6))
        return -EINVAL;
    memcpy(v6, host + 1, n - 2);
    v6[n - 2] = '\0';
    if (inet_pton(AF_INET6, v6, &sin6->sin6_addr) != 1)
        return -EINVAL;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    *len = sizeof(*sin6);
    return 0;
}

int proto__addr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 2];
    uint16_t port;

    memset(ss, 0, sizeof(*ss));
    if (!text)
        return -EINVAL;
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(text + 5, ss, len);
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof(host))
        return -EINVAL;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    if (parse_port(colon + 1, &port) < 0)
        return -EINVAL;
    return parse_inet(host, port, ss, len);
}

void proto__addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
    char host[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
    const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;

    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(buf, buflen, "%s:%u", host, ntohs(sin->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(buf, buflen, "[%s]:%u", host, ntohs(sin6->sin6_port));
    } else if (sa->sa_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path)) {
        size_t n = strnlen(sun->sun_path, len - offsetof(struct sockaddr_un, sun_path));
        snprintf(buf, buflen, "unix:%.*s", (int)n, sun->sun_path);
    } else {
        snprintf(buf, buflen, "%s", sa->sa_family == AF_UNIX ? "unix:" : "?");
    }
}

/* ---- the messenger ---- */

int proto_msgr_create(struct event_base *base, const struct proto_msgr_opts *opts,
                      const struct proto_msgr_handlers *handlers, void *arg,
                      struct proto_msgr **out)
{
    uint8_t key[PROTO_KEY_LEN];

    if (!base || !opts || !opts->keyring || !opts->entity || !proto_entity_is_valid(opts->entity))
        return -EINVAL;
    if (proto_keyring_get(opts->keyring, opts->entity, key) < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MSGR, "no key for %s in the keyring", opts->entity);
        return -ENOENT;
    }
    OPENSSL_cleanse(key, sizeof(key));
    struct proto_msgr *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->base = base;
    m->opts = *opts;
    snprintf(m->entity, sizeof(m->entity), "%s", opts->entity);
    m->opts.entity = m->entity;
    if (!m->opts.handshake_timeout_ms)
        m->opts.handshake_timeout_ms = PROTO_MSGR_HANDSHAKE_TIMEOUT_MS;
    if (!m->opts.queue_max_bytes)
        m->opts.queue_max_bytes = PROTO_MSGR_QUEUE_MAX_DEFAULT;
    if (!m->opts.limits.meta_max)
        m->opts.limits.meta_max = PROTO_FRAME_META_MAX_DEFAULT;
    if (!m->opts.limits.data_max)
        m->opts.limits.data_max = PROTO_FRAME_DATA_MAX_DEFAULT;
    if (handlers)
        m->handlers = *handlers;
    m->arg = arg;
    m->next_txid = 1;
    TAILQ_INIT(&m->conns);
    TAILQ_INIT(&m->dirty);
    SLIST_INIT(&m->listeners);
    TAILQ_INIT(&m->req_cache);
    if (!(m->flush = event_new(base, -1, 0, proto__msgr_flush_cb, m))) {
        free(m);
        return -ENOMEM;
    }
    *out = m;
    return 0;
}

static void listener_free(struct proto__listener *l)
{
    event_free(l->resume);
    evconnlistener_free(l->lev);
    if (l->unix_path[0])
        unlink(l->unix_path);
    free(l);
}

void proto_msgr_destroy(struct proto_msgr *m)
{
    struct proto__listener *l;
    struct proto_conn *c;

    if (!m)
        return;
    CAIRN_ASSERT(m->depth == 0); /* not from inside one of our callbacks */
    m->destroying = true;
    while ((l = SLIST_FIRST(&m->listeners))) {
        SLIST_REMOVE_HEAD(&m->listeners, link);
        listener_free(l);
    }
    while ((c = TAILQ_FIRST(&m->conns))) {
        proto__conn_hold(c);
        proto__conn_transition(c, PROTO_CONN_CLOSED, -ECANCELED);
        proto__conn_release(c);
    }
    proto__req_cache_fini(m);
    event_free(m->flush);
    free(m);
}

void proto_msgr_get_stats(const struct proto_msgr *m, struct proto_msgr_stats *out)
{
    *out = m->stats;
}

/* ---- listening ---- */

static void accept_conn(struct proto__listener *l, int fd, const struct sockaddr *sa, socklen_t len)
{
    struct proto_msgr *m = l->msgr;
    struct proto_conn *c = conn_create(m, false);

    if (!c) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MSGR, "dropping conn on %s: out of memory", l->addr);
        close(fd);
        return;
    }
    m->stats.accepted++;
    if (sa->sa_family == AF_UNIX)
        snprintf(c->addr, sizeof(c->addr), "%s", l->addr); /* the peer end has no name */
    else
        proto__addr_format(sa, len, c->addr, sizeof(c->addr));
    set_nodelay(fd, sa->sa_family);
    proto__conn_hold(c);
    int r = proto__conn_attach_socket(c, fd);
    proto__conn_transition(c, r < 0 ? PROTO_CONN_CLOSED : PROTO_CONN_HELLO, r);
    proto__conn_release(c);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    accept_conn(arg, fd, sa, (socklen_t)len);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    struct proto__listener *l = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {0, PROTO_MSGR_ACCEPT_PAUSE_MS * 1000};

    /* Out of descriptors or memory: the listening socket stays readable, so
     * accepting again at once would spin the loop. */
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MSGR, "accept on %s: %s; pausing accepts for %u ms", l->addr,
              strerror(err), PROTO_MSGR_ACCEPT_PAUSE_MS);
    evconnlistener_disable(lev);
    evtimer_add(l->resume, &tv);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proto__listener *l = arg;

    evconnlistener_enable(l->lev);
}

/* Removes a socket file left by a dead process, but never a live socket or
 * a file that is not a socket. */
static int unix_clear_stale(const struct sockaddr_storage *ss, socklen_t len)
{
    const char *path = ((const struct sockaddr_un *)ss)->sun_path;
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EADDRINUSE;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int r = connect(fd, (const struct sockaddr *)ss, len) == 0 ? -EADDRINUSE : -errno;
    close(fd);
    if (r != -ECONNREFUSED)
        return r == -EADDRINUSE ? r : 0; /* bind(2) reports anything else */
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MSGR, "removing stale socket %s", path);
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static int listen_socket(const struct sockaddr_storage *ss, socklen_t len,
                         struct proto__listener *l)
{
    const char *path = ((const struct sockaddr_un *)ss)->sun_path;
    int one = 1, r;

    if (ss->ss_family == AF_UNIX && (r = unix_clear_stale(ss, len)) < 0)
        return r;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* A restarted daemon must get its port back while old sockets sit in TIME_WAIT. */
    if (ss->ss_family != AF_UNIX)
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, SOMAXCONN) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    struct sockaddr_storage bound = *ss;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) < 0)
        blen = len;
    proto__addr_format((struct sockaddr *)&bound, blen, l->addr, sizeof(l->addr));
    if (ss->ss_family == AF_UNIX)
        snprintf(l->unix_path, sizeof(l->unix_path), "%s", path);
    return fd;
}

int proto_msgr_listen(struct proto_msgr *m, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    struct proto__listener *l;
    int r = -ENOMEM;

    if (proto__addr_parse(addr, &ss, &len) < 0)
        return -EINVAL;
    if (!(l = calloc(1, sizeof(*l))))
        return -ENOMEM;
    l->msgr = m;
    if (!(l->resume = evtimer_new(m->base, accept_resume_cb, l)))
        goto out_free;
    int fd = listen_socket(&ss, len, l);
    if (fd < 0) {
        r = fd;
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_MSGR, "cannot listen on %s: %s", addr, strerror(-r));
        goto out_free;
    }
    l->lev = evconnlistener_new(m->base, accept_cb, l,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
    if (!l->lev) {
        close(fd);
        goto out_unlink;
    }
    evconnlistener_set_error_cb(l->lev, accept_error_cb);
    SLIST_INSERT_HEAD(&m->listeners, l, link);
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_MSGR, "%s listening on %s", m->entity, l->addr);
    return 0;

out_unlink:
    if (l->unix_path[0])
        unlink(l->unix_path);
out_free:
    if (l->resume)
        event_free(l->resume);
    free(l);
    return r;
}

int proto_msgr_listen_addr(const struct proto_msgr *m, char *buf, size_t len)
{
    const struct proto__listener *l = SLIST_FIRST(&m->listeners);

    if (!l)
        return -ENOENT;
    if ((size_t)snprintf(buf, len, "%s", l->addr) >= len)
        return -ERANGE;
    return 0;
}

/* ---- connecting ---- */

CAIRN_STATIC_ASSERT(offsetof(struct sockaddr_in, sin_port) ==
                        offsetof(struct sockaddr_in6, sin6_port),
                    "one port check covers both families");

int proto_msgr_connect(struct proto_msgr *m, const char *addr, const char *peer,
                       struct proto_conn **out)
{
    struct sockaddr_storage ss;
    socklen_t len;

    if (proto__addr_parse(addr, &ss, &len) < 0 || (peer && !proto_entity_is_valid(peer)))
        return -EINVAL;
    if (ss.ss_family != AF_UNIX && ((struct sockaddr_in *)&ss)->sin_port == 0)
        return -EINVAL; /* sin_port and sin6_port share their offset */
    if (m->destroying)
        return -ESHUTDOWN;
    struct proto_conn *c = conn_create(m, true);
    if (!c)
        return -ENOMEM;
    c->sa = ss;
    c->sa_len = len;
    proto__addr_format((struct sockaddr *)&ss, len, c->addr, sizeof(c->addr));
    snprintf(c->peer_want, sizeof(c->peer_want), "%s", peer ? peer : "");
    proto__conn_hold(c);
    proto__conn_transition(c, PROTO_CONN_CONNECTING, 0);
    proto__conn_release(c);
    *out = c;
    return 0;
}

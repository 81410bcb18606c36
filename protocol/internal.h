/* Private declarations shared by the files of protocol/, in sections by
 * defining file. Nothing outside protocol/ includes this header. */
#ifndef CAIRN_PROTOCOL_INTERNAL_H
#define CAIRN_PROTOCOL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "protocol/auth.h"
#include "protocol/frame.h"
#include "protocol/msgr.h"

struct ProtobufCMessage;
struct bufferevent;
struct event;
struct evbuffer;
struct evconnlistener;

/* ---- msgr.c: messenger, listen/connect, connection state machine ---- */

#define PROTO_MSGR_HANDSHAKE_VERSION 1u
#define PROTO_MSGR_BACKOFF_MIN_MS 50u
#define PROTO_MSGR_BACKOFF_MAX_MS 5000u
#define PROTO_MSGR_HANDSHAKE_TIMEOUT_MS 5000u
#define PROTO_MSGR_LINGER_MS 1000u /* a refusal's flush-and-close, at most */
#define PROTO_MSGR_QUEUE_MAX_DEFAULT (256u << 20)
#define PROTO_MSGR_MAX_SINGLE_IO (256u << 10) /* bytes per read(2)/write(2): work per turn */
#define PROTO_MSGR_DIRECT_MIN (64u << 10) /* payload left to read straight into the frame */
#define PROTO_MSGR_HS_META_MAX 512u           /* metadata bound of frames before OPEN */
#define PROTO_MSGR_ACCEPT_PAUSE_MS 100u       /* accepts paused after accept(2) failed */
#define PROTO_MSGR_REQ_CACHE 256u             /* request contexts kept for reuse */
#define PROTO_MSGR_ADDR_MAX 128u              /* "unix:" + sun_path, or "[v6]:port" */

/* The states of a connection; the diagram and invariants are at the top of
 * msgr.c, and proto__conn_transition() is the only writer of conn->state. */
enum proto_conn_state {
    PROTO_CONN_NEW,        /* created, no socket yet */
    PROTO_CONN_CONNECTING, /* outgoing: connect(2) in flight */
    PROTO_CONN_HELLO,      /* our HELLO sent, waiting for the peer's */
    PROTO_CONN_AUTH,       /* our AUTH sent, waiting for the peer's */
    PROTO_CONN_RESULT,     /* peer's proof accepted, waiting for its AUTH_RESULT */
    PROTO_CONN_OPEN,       /* authenticated: application frames flow */
    PROTO_CONN_BACKOFF,    /* outgoing: no socket, reconnect timer armed */
    PROTO_CONN_LINGER,     /* we refused the peer: flushing our AUTH_RESULT */
    PROTO_CONN_REFUSED,    /* outgoing: authentication failed; never reconnects */
    PROTO_CONN_CLOSED,     /* terminal: freed once no callback of it is running */
    PROTO_CONN_NSTATES,
};

/* One request waiting for its reply. Contexts are recycled through the
 * messenger's cache, with their timer, so steady traffic does not allocate. */
struct proto__req {
    uint64_t txid;
    struct proto_conn *conn;
    proto_reply_cb cb;
    void *arg;
    int result;                   /* the -errno it fails with, once collected */
    struct event *timer;          /* the request timeout; created once per context */
    TAILQ_ENTRY(proto__req) link; /* conn->req_list, a failure list or the cache */
};
TAILQ_HEAD(proto__req_list, proto__req);

/* Open-addressing hash of the pending requests of one connection, by txid
 * (linear probing, backward-shift deletion, so no tombstones). */
struct proto__reqtab {
    struct proto__req **slots; /* cap entries, NULL when free */
    uint32_t cap;              /* 0 or a power of two */
    uint32_t count;
};

struct proto_conn {
    struct proto_msgr *msgr;
    enum proto_conn_state state;
    bool outgoing;
    bool was_open;            /* reached OPEN at least once (an incoming one is then the user's) */
    bool blackhole;           /* test fault: drop every frame to and from the peer */
    bool shut_wr;             /* LINGER: shutdown(SHUT_WR) done */
    bool dirty;               /* OPEN: on msgr->dirty, output to write */
    int depth;                /* callbacks of this connection on the stack (proto__conn_hold) */
    struct bufferevent *bev;  /* socket; NULL in NEW, BACKOFF, REFUSED, CLOSED */
    struct event *read_ev;    /* reads the socket into bev's input (with bev) */
    struct event *timer;      /* handshake deadline, backoff delay or linger limit */
    struct evbuffer *pending; /* encoded application frames waiting for OPEN */
    struct proto_frame_decoder dec;
    uint32_t backoff_ms;        /* next reconnect delay */
    uint32_t features;          /* negotiated: ours AND the peer's */
    struct sockaddr_storage sa; /* outgoing: where to connect */
    socklen_t sa_len;
    char addr[PROTO_MSGR_ADDR_MAX];    /* peer address as text */
    char peer[PROTO_ENTITY_MAX];       /* authenticated peer, "" until the first OPEN */
    char peer_want[PROTO_ENTITY_MAX];  /* outgoing: the entity expected, "" for any */
    char peer_claim[PROTO_ENTITY_MAX]; /* entity named by the peer's HELLO, for logs */
    uint8_t nonce[PROTO_NONCE_LEN];    /* ours, fresh for every socket */
    uint8_t peer_nonce[PROTO_NONCE_LEN];
    struct proto__reqtab reqs;       /* pending requests by txid */
    struct proto__req_list req_list; /* the same requests, in txid order */
    void *data;                      /* proto_conn_set_data() */
    TAILQ_ENTRY(proto_conn) link;    /* msgr->conns; unlinked when CLOSED */
    TAILQ_ENTRY(proto_conn) dirty_link; /* msgr->dirty, while dirty */
};

struct proto__listener {
    struct proto_msgr *msgr;
    struct evconnlistener *lev;
    struct event *resume;           /* re-enables accepting after an accept error */
    char addr[PROTO_MSGR_ADDR_MAX]; /* as bound, with the chosen port */
    char unix_path[108];            /* socket file to unlink at destroy; "" for TCP */
    SLIST_ENTRY(proto__listener) link;
};

struct proto_msgr {
    struct event_base *base;
    struct proto_msgr_opts opts; /* defaults filled in; opts.entity points at entity */
    struct proto_msgr_handlers handlers;
    void *arg;
    char entity[PROTO_ENTITY_MAX];
    uint64_t next_txid; /* txids are unique per messenger, never 0 */
    int depth;          /* callbacks of any connection on the stack */
    bool destroying;
    TAILQ_HEAD(, proto_conn) conns;          /* every connection not yet CLOSED */
    TAILQ_HEAD(, proto_conn) dirty;          /* OPEN ones with frames to write */
    struct event *flush;                     /* writes them, once per loop turn */
    SLIST_HEAD(, proto__listener) listeners; /* most recent first */
    struct proto__req_list req_cache;        /* recycled request contexts */
    unsigned req_cache_len;
    struct proto_msgr_stats stats;
};

/* Moves @c to @to and runs that state's entry actions, then the callbacks
 * they made due (failed requests, on_open, on_close). @reason is the -errno
 * behind the move (0 for progress). The caller holds @c. */
void proto__conn_transition(struct proto_conn *c, enum proto_conn_state to, int reason);
/* The socket failed or the peer broke the protocol: an outgoing connection
 * backs off and reconnects, an incoming one closes. Logs @why (which says
 * what happened, errno text included) once: INFO for a peer going away or
 * refusing connections, WARN otherwise. */
void proto__conn_lost(struct proto_conn *c, int reason, const char *why);
/* The peer refused us with AUTH_RESULT @result, or we refused it (@by_us,
 * after sending our AUTH_RESULT). Logs once. */
void proto__conn_refused(struct proto_conn *c, bool by_us, const char *why);
/* Pin @c (and its messenger) while a callback of it runs; release frees a
 * CLOSED connection when the last hold goes. */
void proto__conn_hold(struct proto_conn *c);
void proto__conn_release(struct proto_conn *c);
/* Who the peer is, for logs: the authenticated entity, else the one it
 * claimed, else "?". */
const char *proto__conn_who(const struct proto_conn *c);
const char *proto__conn_state_name(enum proto_conn_state s);

/* Parses "HOST:PORT", "[V6]:PORT" (numeric hosts only) or "unix:/path".
 * 0 or -EINVAL. */
int proto__addr_parse(const char *text, struct sockaddr_storage *ss, socklen_t *len);
/* Formats @sa like the addresses proto__addr_parse() accepts. */
void proto__addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);

/* ---- msgr_conn.c: per-connection I/O, frames and requests ---- */

/* Creates the bufferevent for @fd (connected or connecting) and sets the
 * callbacks and watermarks. 0 or -ENOMEM (then @fd is closed). */
int proto__conn_attach_socket(struct proto_conn *c, int fd);
/* Frees the socket and resets the decoder for the next one. */
void proto__conn_drop_socket(struct proto_conn *c);
/* Resets the decoder to the limits of an unauthenticated peer: handshake
 * frames only (small metadata, no data), so a stranger cannot make us
 * allocate more than that. OPEN raises them to opts.limits. */
void proto__conn_reset_decoder(struct proto_conn *c);
/* Moves the frames queued before OPEN to the socket, and from then on
 * writes them directly (below). */
void proto__conn_flush_pending(struct proto_conn *c);
/* The messenger's flush event: an OPEN connection writes its frames itself
 * once per loop turn (all frames queued in that turn, one writev), and asks
 * libevent for writability only when the socket takes less than that. A
 * bufferevent with EV_WRITE enabled instead registers EPOLLOUT for every
 * burst and drops it once drained: two epoll_ctl calls and an extra
 * epoll_wait per burst. */
void proto__msgr_flush_cb(int fd, short what, void *arg);
/* LINGER: once our last bytes are written, shut our half of the socket so
 * the peer reads them and then EOF. */
void proto__conn_linger_flush(struct proto_conn *c);
/* Encodes one frame onto the socket (@control: handshake frames) or, for an
 * application frame before OPEN, onto the pending queue. Dropped silently
 * under blackhole. 0, -ENOBUFS (queue bound), -ENOMEM. */
int proto__conn_emit(struct proto_conn *c, bool control, const struct proto_frame_header *h,
                     const void *meta, const void *data);
/* Detaches every pending request onto @out with @result. */
void proto__conn_collect_reqs(struct proto_conn *c, int result, struct proto__req_list *out);
/* Fires and recycles every request on @list (callbacks may re-enter). */
void proto__reqs_fail(struct proto_msgr *m, struct proto__req_list *list);
/* Frees the request table of @c (it must be empty). */
void proto__reqtab_fini(struct proto__reqtab *t);
/* Frees the messenger's cached request contexts. */
void proto__req_cache_fini(struct proto_msgr *m);

/* ---- msgr_handshake.c: HELLO / AUTH / AUTH_RESULT ---- */

/* Send our HELLO, our AUTH proof, or an AUTH_RESULT. 0 or -errno. */
int proto__hs_send_hello(struct proto_conn *c);
int proto__hs_send_auth(struct proto_conn *c);
int proto__hs_send_result(struct proto_conn *c, int result, const char *reason);
/* Handles a frame received before OPEN; takes ownership of @f. */
void proto__hs_on_frame(struct proto_conn *c, struct proto_frame *f);

/* ---- pb.c: shared by the protobuf codecs ---- */

/* Packs @m into a malloc'd buffer (*@buf, *@len; at least one byte is
 * allocated, so an empty message is not a NULL buffer). 0 or -ENOMEM. */
int proto__pb_pack(const struct ProtobufCMessage *m, uint8_t **buf, size_t *len);

#endif

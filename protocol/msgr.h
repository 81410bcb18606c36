/* The messenger: authenticated, framed, request/response connections over
 * TCP or unix sockets on one libevent event_base (docs/protocol.md).
 *
 * A messenger belongs to the thread running its event_base; every call is
 * made from that thread. Addresses are "HOST:PORT" ("127.0.0.1:6800",
 * "[::1]:6800"; numeric hosts only, no name lookup) or "unix:/path/to/socket".
 *
 * Connection life (outgoing):
 *
 *   CONNECTING -> HANDSHAKE -> OPEN -> (error) -> BACKOFF -> CONNECTING ...
 *                                   \-> proto_conn_close() -> CLOSED
 *
 * Handshake: each side sends HELLO {entity, nonce, features}; each then sends
 * AUTH {proof} (protocol/auth.h) and checks the peer's proof against its
 * keyring. A wrong or unknown key closes the connection with a log line
 * naming the peer entity and address; an outgoing connection refused this
 * way does not retry (-EACCES to its pending requests). Messages sent before
 * the connection is OPEN wait in its queue (bounded). Requests in flight when
 * the connection drops fail with -ECONNRESET; an outgoing connection then
 * reconnects with exponential backoff (50 ms doubling to 5 s).
 *
 * Replies are matched to requests by txid; each request has a timeout after
 * which its callback gets -ETIMEDOUT (a late reply is dropped). */
#ifndef CAIRN_PROTOCOL_MSGR_H
#define CAIRN_PROTOCOL_MSGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/auth.h"
#include "protocol/frame.h"

struct event_base;
struct proto_msgr;
struct proto_conn;

struct proto_msgr_handlers {
    /* A request or one-way message arrived on @conn (OPEN). hdr.txid is 0
     * for a one-way message; answer a request with proto_conn_reply(). The
     * struct @frame points at is valid during the call only, but its meta and
     * data buffers move to the handler: free them with proto_frame_free(frame),
     * or copy *frame to keep them. */
    void (*on_message)(struct proto_conn *conn, struct proto_frame *frame, void *arg);
    /* @conn finished its handshake (incoming or outgoing). Optional. */
    void (*on_open)(struct proto_conn *conn, void *arg);
    /* An incoming @conn that had opened closed (@reason = -errno), or an
     * outgoing one was closed by proto_conn_close() or proto_msgr_destroy()
     * (-ECANCELED). @conn is invalid after this returns. Optional. Incoming
     * connections that never finished their handshake close silently. */
    void (*on_close)(struct proto_conn *conn, int reason, void *arg);
};

struct proto_msgr_opts {
    const char *entity;                        /* our name, e.g. "osd.0"; copied */
    const struct proto_keyring *keyring;       /* borrowed; must outlive the messenger and
                                                  hold our own entity's key */
    struct proto_frame_decoder_limits limits;  /* zero fields mean the defaults */
    uint32_t features;                         /* feature bits we offer */
    uint32_t handshake_timeout_ms;             /* default 5000 */
    size_t queue_max_bytes;                    /* per-connection send queue bound, default 256 MiB */
};

/* 0, -EINVAL (no base or keyring, bad entity name), -ENOENT (the keyring
 * has no key for opts->entity), -ENOMEM. @handlers may be NULL for a
 * messenger that only sends requests. */
int proto_msgr_create(struct event_base *base, const struct proto_msgr_opts *opts,
                      const struct proto_msgr_handlers *handlers, void *arg,
                      struct proto_msgr **out);
/* Closes every connection (callbacks of pending requests get -ECANCELED)
 * and frees the messenger. Not from inside a messenger callback. */
void proto_msgr_destroy(struct proto_msgr *m);

/* Listens on @addr (port 0 picks a free port). 0, -EINVAL (bad address),
 * or the socket call's -errno (e.g. -EADDRINUSE). */
int proto_msgr_listen(struct proto_msgr *m, const char *addr);
/* The address actually bound by the last listen (with the chosen port).
 * 0, -ENOENT (not listening) or -ERANGE (@len too small). */
int proto_msgr_listen_addr(const struct proto_msgr *m, char *buf, size_t len);

/* Counters, for tests and the admin socket. */
struct proto_msgr_stats {
    uint64_t accepted;          /* incoming sockets accepted */
    uint64_t connects;          /* outgoing connect attempts (first and reconnects) */
    uint64_t handshakes;        /* connections that reached OPEN */
    uint64_t refused;           /* handshakes refused, by us or by the peer */
    uint64_t bad_streams;       /* connections dropped for undecodable or unexpected frames */
    uint64_t unmatched_replies; /* replies for no pending request (late or unknown txid) */
    uint64_t direct_writes;     /* OPEN: writes the socket took whole, from the flush */
    uint64_t socket_full;       /* OPEN: times the rest waited for the socket to drain */
};
void proto_msgr_get_stats(const struct proto_msgr *m, struct proto_msgr_stats *out);

/* Starts an outgoing connection to @addr, expected to be entity @peer (NULL:
 * any entity our keyring knows). Returns immediately; the connection opens in
 * the background and reconnects as described above. -EINVAL on a bad address. */
int proto_msgr_connect(struct proto_msgr *m, const char *addr, const char *peer,
                       struct proto_conn **out);
/* Closes @conn: pending requests get -ECANCELED, queued messages are dropped. */
void proto_conn_close(struct proto_conn *conn);

/* A reply (@reply's buffers owned by the callback: free with
 * proto_frame_free; the struct itself is valid during the call, as for
 * on_message) with @result 0, or @reply NULL and @result -ETIMEDOUT,
 * -ECONNRESET, -ECANCELED, -EACCES. Called on the messenger's thread; it may
 * send, close connections or start new ones, but not destroy the messenger. */
typedef void (*proto_reply_cb)(int result, struct proto_frame *reply, void *arg);

/* Sends a request; @cb fires exactly once. The buffers are copied. Returns 0,
 * or -ENOBUFS when the connection's queue is full, -EMSGSIZE over the frame
 * limits, -ENOTCONN after close (callback not fired in those cases); also
 * -EACCES on an outgoing connection whose authentication failed, -EINVAL for
 * a @type below PROTO_MSG_APP_MIN (protocol/msg_types.h), -ENOMEM.
 * @timeout_ms 0 means no timeout. A request queued before OPEN that times
 * out is still sent later; its reply is then dropped. */
int proto_conn_request(struct proto_conn *conn, uint16_t type, const void *meta,
                       size_t meta_len, const void *data, size_t data_len, uint32_t timeout_ms,
                       proto_reply_cb cb, void *arg);
/* Sends a one-way message (no reply expected; it arrives with txid 0). Same returns. */
int proto_conn_send(struct proto_conn *conn, uint16_t type, const void *meta, size_t meta_len,
                    const void *data, size_t data_len);
/* Answers the request with @txid. Same returns. */
int proto_conn_reply(struct proto_conn *conn, uint64_t txid, uint16_t type, const void *meta,
                     size_t meta_len, const void *data, size_t data_len);

/* The authenticated peer entity ("" before the handshake completes). */
const char *proto_conn_peer(const struct proto_conn *conn);
/* The peer's address as text. */
const char *proto_conn_addr(const struct proto_conn *conn);
bool proto_conn_is_open(const struct proto_conn *conn);
/* The feature bits both ends offered (valid once open). */
uint32_t proto_conn_features(const struct proto_conn *conn);
/* Caller data attached to a connection. */
void proto_conn_set_data(struct proto_conn *conn, void *data);
void *proto_conn_get_data(const struct proto_conn *conn);

/* Fault injection for tests: while set, frames to and from @conn are
 * silently dropped, as a network partition would. */
void proto_conn_set_blackhole(struct proto_conn *conn, bool on);

#endif

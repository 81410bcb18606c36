/* Private to gateway/s3/http.c and http_conn.c: the server, connection and
 * request structs, and the functions the two files call across. http_conn.c
 * has the connection state machine (its diagram and invariants head that
 * file); http.c the listener and the request/response API. */
#ifndef CAIRN_GATEWAY_S3_HTTP_INTERNAL_H
#define CAIRN_GATEWAY_S3_HTTP_INTERNAL_H

#include "gateway/s3/http.h"

#include <http_parser.h>
#include <time.h>

struct bufferevent;
struct event;
struct evconnlistener;

#define IN_MAX (1u << 20)      /* unread input buffered per connection, bytes */
#define OUT_MAX (1u << 20)     /* queued output above which no new request is parsed */
#define DISCARD_MAX (1u << 20) /* unread body we read and drop to keep the connection */
#define LINGER_S 2             /* reading after our FIN, before closing */
#define ARENA_BYTES (GW_HTTP_HEAD_MAX + GW_HTTP_URL_MAX + 2 * GW_HTTP_HEADERS_MAX + 16)

enum conn_state { C_HEAD, C_REQ, C_DISCARD, C_DRAIN, C_LINGER, C_CLOSED };
enum body_state { B_UNREAD, B_READING, B_DONE };
enum resp_mode { R_LENGTH, R_CHUNKED, R_EOF, R_NONE };
enum timer_kind { T_NONE, T_IDLE, T_HEAD, T_BODY, T_LINGER };
enum last_cb { L_NONE, L_URL, L_FIELD, L_VALUE };

struct gw_http_req {
    struct gw_http_conn *c;
    void *data;               /* the application's */
    struct gw_http_head head; /* strings in c->arena */
    uint64_t body_received;   /* bytes delivered to on_body */
    enum body_state body;
    bool paused;        /* on_body returned 1, no resume yet */
    bool continue_sent; /* "100 Continue" written */
    bool is_head;       /* HEAD request: response body dropped */
    bool started;       /* gw_http_resp_start done */
    bool drop;          /* response body not sent (HEAD, 204, 304) */
    bool ended;         /* gw_http_resp_end done: no longer the application's */
    bool close_asked;
    bool aborted; /* on_abort fired */
    enum resp_mode mode;
    uint64_t resp_left; /* R_LENGTH: body bytes still due */
    size_t drain_low;
    void (*drain_cb)(struct gw_http_req *req, void *arg);
    void *drain_arg;
};

struct gw_http_conn {
    struct gw_http_server *srv;
    struct gw_http_conn *prev, *next;
    struct bufferevent *bev;
    struct event *timer; /* meaning per timer_kind */
    struct event *kick;  /* runs conn_run at the next safe point */
    enum conn_state state;
    enum timer_kind timer_kind;
    bool tls;
    bool peer_eof;   /* the peer sent FIN (it may still read) */
    bool reading;    /* EV_READ enabled */
    bool will_close; /* the current response is the last one */
    size_t wm_low;   /* write low watermark set on bev */
    http_parser parser;
    bool head_complete, msg_complete; /* of the current request */
    size_t head_bytes;                /* consumed while parsing the head */
    uint64_t discarded;               /* body bytes dropped in DISCARD */
    int err_status;                   /* error found while parsing the head */
    const char *err_code, *err_msg;
    enum last_cb last; /* which head callback ran last */
    size_t url_len;
    char *value_start;
    size_t nhdrs;
    struct gw_http_header hdrs[GW_HTTP_HEADERS_MAX];
    struct gw_http_req req;
    char peer[64];
    size_t arena_len;
    char arena[ARENA_BYTES]; /* url, names, values, path of the current head */
};

struct gw_http_server {
    struct event_base *base;
    struct evconnlistener *lis;
    struct gw_http_handler h;
    struct gw_http_config cfg; /* defaults applied */
    struct gw_http_conn *conns;
    unsigned nconns;
    uint16_t port;
    time_t date_s;
    char date[64]; /* IMF-fixdate of date_s */
};

/* ---- http_conn.c ---- */

/* Serves @fd (taken; closed on failure) as a new connection of @srv. 0 or -ENOMEM. */
int gw_http__conn_create(struct gw_http_server *srv, int fd);
/* Drops the socket now; fires on_abort if the application owns the request.
 * The caller frees the connection with gw_http__conn_free afterwards. */
void gw_http__conn_close(struct gw_http_conn *c, const char *why);
void gw_http__conn_free(struct gw_http_conn *c);
/* Runs the state machine at the next safe point (never from inside this call). */
void gw_http__conn_kick(struct gw_http_conn *c);
/* Whether the current response must be the connection's last. */
bool gw_http__must_close(const struct gw_http_conn *c);

/* ---- http.c ---- */

/* The current time as an IMF-fixdate (RFC 7231 §7.1.1.1), cached per second. */
const char *gw_http__date(struct gw_http_server *srv);

#endif

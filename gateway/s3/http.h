/* HTTP/1.1 server connections for the S3 gateway, on libevent, with
 * Debian's http-parser (libhttp-parser) doing the request parsing.
 *
 * One server owns a listening socket and its connections; everything runs on
 * the thread of the event_base it was created on (in cairn-s3, libcairn's
 * loop thread), and every callback fires there.
 *
 * A request goes through: headers complete -> on_request (the application
 * owns the request from now until gw_http_resp_end) -> optionally the body,
 * streamed to on_body in pieces as it arrives, with backpressure (the socket
 * is not read while the application has paused the body) -> the response,
 * started with gw_http_resp_start, streamed with gw_http_resp_write, ended
 * with gw_http_resp_end. Pipelined requests are parsed one at a time: the
 * next request is not parsed before the previous response has ended, so a
 * connection never has two requests alive.
 *
 * Bounds: request line + headers at most GW_HTTP_HEAD_MAX bytes and
 * GW_HTTP_HEADERS_MAX headers; idle, head and body timeouts; at most
 * max_conns connections. Malformed input gets a 400 (431 for too-large
 * headers, 414 for a too-long target, 408 on a timeout, 501 for an
 * unsupported Transfer-Encoding, 505 for a version other than 1.0/1.1) from
 * the error hook and the connection is closed. Never a crash or unbounded
 * memory: at most about 1 MiB of unread input per connection.
 *
 * Calling any gw_http_req_* or gw_http_resp_* function on a request after
 * gw_http_resp_end or on_abort is a bug (asserted where the memory is still
 * there). Implemented in http.c (listener, response API) and http_conn.c
 * (the connection state machine). */
#ifndef CAIRN_GATEWAY_S3_HTTP_H
#define CAIRN_GATEWAY_S3_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct ssl_ctx_st;

#define GW_HTTP_HEAD_MAX (16u << 10) /* request line + headers, bytes */
#define GW_HTTP_HEADERS_MAX 128u     /* headers per request */
#define GW_HTTP_URL_MAX (8u << 10)   /* request target, bytes */

struct gw_http_server;
struct gw_http_req;

struct gw_http_header {
    const char *name;  /* NUL-terminated, as sent (compare case-insensitively) */
    const char *value; /* NUL-terminated, leading/trailing blanks trimmed */
};

/* A parsed request head; valid from on_request until gw_http_resp_end. */
struct gw_http_head {
    const char *method;  /* "GET", "PUT", ... */
    const char *target;  /* raw request target as sent ("/b/k?x=1") */
    const char *path;    /* target up to '?', raw (percent-encoded) */
    const char *query;   /* after '?', raw, or "" */
    const struct gw_http_header *headers; /* in the order received */
    size_t header_count;
    uint64_t content_length; /* when has_content_length */
    bool has_content_length;
    bool chunked;         /* Transfer-Encoding: chunked (decoded by this layer) */
    bool expect_continue; /* Expect: 100-continue */
    bool keep_alive;      /* per HTTP version and Connection header */
    const char *peer;     /* "127.0.0.1:5555", for logs */
};

/* The application's side. All callbacks run on the server's thread. */
struct gw_http_handler {
    /* A request head is complete. The application now owns @req and must
     * eventually end a response on it with gw_http_resp_end, unless
     * on_abort fires first. To read a body it calls gw_http_req_read_body. */
    void (*on_request)(struct gw_http_req *req, const struct gw_http_head *head, void *arg);

    /* Body bytes (chunked encoding already removed), in order. Return 0 to
     * go on, or 1 to pause (nothing more is delivered until
     * gw_http_req_resume_body). @data is valid only during the call. */
    int (*on_body)(struct gw_http_req *req, const void *data, size_t len, void *arg);

    /* The whole body has been delivered (fires once, after the last on_body;
     * also for an empty body once reading was asked for). */
    void (*on_body_end)(struct gw_http_req *req, void *arg);

    /* The connection died (peer closed or reset, body timeout, write stall,
     * malformed chunked body, gw_http_server_destroy) while the application
     * owned @req; fires at most once. Stop using @req; it is freed after
     * this returns. Any work still in flight must not touch @req again. */
    void (*on_abort)(struct gw_http_req *req, void *arg);

    /* Fills @body (and *@content_type, a static string) with the error
     * document for a protocol-level failure (@status 400, 408, 414, 431,
     * 501, 505, with @code a short S3-style code such as
     * "MalformedRequest" or "RequestHeaderSectionTooLarge" and a one-line
     * @message). Optional; without it the body is the message as text. */
    void (*format_error)(int status, const char *code, const char *message,
                         struct evbuffer *body, const char **content_type, void *arg);
    void *arg;
};

struct gw_http_config {
    const char *listen;       /* "HOST:PORT" ("[::1]:8080" for IPv6), numeric host ("" or
                               * "*": any IPv4); port 0 picks one */
    unsigned max_conns;       /* 0: 1024 */
    unsigned idle_timeout_s;  /* keep-alive connection with no request; 0: 60 */
    unsigned head_timeout_s;  /* from first byte to complete head; 0: 30 */
    unsigned body_timeout_s;  /* no body byte arrives while reading, or no output
                               * byte leaves while some is queued; 0: 60 */
    struct ssl_ctx_st *tls;   /* serve HTTPS with this context (borrowed), or NULL */
};

/* Binds and listens on @config->listen, serving connections on @base. 0 or
 * -errno (-EADDRINUSE, -EINVAL for a bad address). @handler is copied. The
 * process must ignore SIGPIPE (gateway/daemon.c does): libevent writes
 * sockets with writev, so a vanished peer would otherwise kill it. */
int gw_http_server_create(struct event_base *base, const struct gw_http_config *config,
                          const struct gw_http_handler *handler, struct gw_http_server **out);

/* The bound port (useful after port 0). */
uint16_t gw_http_server_port(const struct gw_http_server *srv);

/* Stops listening, closes every connection (on_abort fires for requests
 * the application owns) and frees the server. On the server's thread, not
 * from inside one of its callbacks. NULL is a no-op. */
void gw_http_server_destroy(struct gw_http_server *srv);

/* Serves one already-connected socket @fd (takes ownership; closed on
 * failure): for tests and fuzzing over a socketpair. 0, -EBUSY at
 * max_conns, -ENOMEM. */
int gw_http_server_adopt(struct gw_http_server *srv, int fd);

/* The per-request application pointer. */
void gw_http_req_set_data(struct gw_http_req *req, void *data);
void *gw_http_req_data(const struct gw_http_req *req);

/* Starts delivering the body to on_body/on_body_end (from the loop, not
 * from inside this call); sends "100 Continue" first when the client asked
 * for it and no response was started. Call at most once. */
void gw_http_req_read_body(struct gw_http_req *req);

/* Resumes a body paused by on_body returning 1. */
void gw_http_req_resume_body(struct gw_http_req *req);

/* Body bytes received so far (after chunked decoding). */
uint64_t gw_http_req_body_received(const struct gw_http_req *req);

/* Starts the response: status line and headers (@names/@values, @count of
 * them; this layer adds Date, Server, Content-Length or
 * Transfer-Encoding: chunked, and Connection; do not pass those, except
 * that "Connection: close" in @names makes this the last response). @status
 * is 200..999; names must be HTTP tokens and values free of CR/LF.
 * @content_length is the body size, or -1 to stream it chunked (to an
 * HTTP/1.0 client: delimited by closing). For HEAD requests pass the length
 * the GET would have; no body is sent, nor for 204 and 304. Returns 0, or
 * -EINVAL when a response was already started or an argument is invalid. */
int gw_http_resp_start(struct gw_http_req *req, int status, const char *const *names,
                       const char *const *values, size_t count, int64_t content_length);

/* Appends body bytes (copied). 0; -EINVAL beyond the Content-Length given
 * (nothing written); writes to a body-less response (HEAD, 204, 304) are
 * dropped. */
int gw_http_resp_write(struct gw_http_req *req, const void *data, size_t len);

/* Appends a whole evbuffer's content, moving it without copying (@buf is
 * left empty). */
int gw_http_resp_write_buffer(struct gw_http_req *req, struct evbuffer *buf);

/* Bytes queued for the socket and not yet sent: the application throttles
 * its producer with this and gw_http_resp_on_drain. */
size_t gw_http_resp_pending(const struct gw_http_req *req);

/* Calls @cb once when the queued output drops to @low_bytes or below (soon,
 * from the loop, if it already has; never from inside this call). One
 * pending callback per request; a new call replaces it; gw_http_resp_end
 * cancels it. */
void gw_http_resp_on_drain(struct gw_http_req *req, size_t low_bytes,
                           void (*cb)(struct gw_http_req *req, void *arg), void *arg);

/* Ends the response; the request is freed once its output is sent (do not
 * use @req after this call). When the body was not read to its end, the
 * rest is discarded if it is small (≤ 1 MiB), else the connection closes
 * after the response; with @close true the connection always closes. So
 * does a body shorter than its Content-Length, and a 100-continue request
 * whose body was never asked for. Without gw_http_resp_start first, the
 * response is an empty 500. May be called from inside any callback. */
void gw_http_resp_end(struct gw_http_req *req, bool close);

/* The canonical reason phrase of @status ("Not Found"). */
const char *gw_http_reason(int status);

/* The value of header @name (case-insensitive) in @head, or NULL. When a
 * header repeats, the first. */
const char *gw_http_header(const struct gw_http_head *head, const char *name);

#endif

/* cairn-nbd internals: the server (server.c: listeners, signals, the stop
 * handshake with main()), the control thread for libcairn's synchronous
 * calls (ctl.c), a connection's handshake and option phase (conn.c), its
 * transmission phase (xmit.c) and TLS (tls.c). Everything here belongs to
 * libcairn's loop thread (cairn_loop_call()), except srv->ctl_* and
 * srv->stop_* (under their locks) and a job between its post and its done
 * (the control thread's). */
#ifndef CAIRN_GATEWAY_NBD_INTERNAL_H
#define CAIRN_GATEWAY_NBD_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/cairn.h"
#include "client/image.h"
#include "gateway/nbd/proto.h"

struct event_base;
struct event;
struct bufferevent;
struct evconnlistener;
struct evbuffer;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX, only ever dereferenced in tls.c */

#define GW_NBD_LISTENERS_MAX 16u
#define GW_NBD_INFLIGHT_MAX 64u                /* requests in flight per connection */
#define GW_NBD_INFLIGHT_BYTES_MAX (64u << 20)  /* data bytes held per connection */
#define GW_NBD_STATUS_LEN_MAX (256u << 20)     /* one BLOCK_STATUS reply covers at most */
#define GW_NBD_EXTENTS_MAX 256u                /* descriptors in one BLOCK_STATUS reply */
#define GW_NBD_META_CONTEXT_ID 1u              /* base:allocation */
#define GW_NBD_LINGER_S 5                      /* wait for the client's EOF */

/* NBD spec "TLS support": which of its modes the server runs in. */
enum gw_nbd_tls_mode {
    GW_NBD_TLS_OFF,     /* STARTTLS is ERR_UNSUP */
    GW_NBD_TLS_ON,      /* SELECTIVETLS: STARTTLS offered, plain clients served */
    GW_NBD_TLS_REQUIRE, /* FORCEDTLS: nothing but STARTTLS and ABORT before TLS */
};

struct gw_nbd_server_opts {
    struct cairn *cairn;  /* borrowed; outlives the server */
    const char *pool;     /* pool name, e.g. "images" */
    const char *listen[GW_NBD_LISTENERS_MAX]; /* HOST:PORT */
    unsigned n_listen;
    const char *socket;   /* unix socket path or NULL */
    enum gw_nbd_tls_mode tls;
    const char *tls_cert; /* PEM certificate (chain) and key, needed unless OFF */
    const char *tls_key;
    const char *tls_ca;   /* or NULL; set: client certificates required, verified */
};

/* Work for the control thread (ctl.c): a synchronous libcairn call, which
 * must never run on the loop thread (it would wait for that very thread).
 * Embedded in what it works for; the poster owns it again in @done. */
struct gw_nbd_job {
    struct gw_nbd_job *next;                /* srv->ctl_head, under srv->ctl_lock */
    void (*run)(struct gw_nbd_job *job);    /* control thread: the slow call */
    void (*done)(struct gw_nbd_job *job);   /* loop thread: use its result */
};

/* Room before a READ's data for its reply header, so that header and data
 * go out in one evbuffer chain without a copy. */
#define GW_NBD_READ_HDR_ROOM GW_NBD_CHUNK_OFFSET_DATA_HDR_LEN

/* One request from receipt to reply. Pooled per connection (conn->ios);
 * only the data buffer is allocated per request. */
struct gw_nbd_io {
    struct gw_nbd_io *next;     /* free list */
    struct gw_nbd_conn *conn;
    struct gw_nbd_request req;
    uint8_t *buf;               /* WRITE: req.length bytes; READ: GW_NBD_READ_HDR_ROOM
                                 * more, the data after them; BLOCK_STATUS: extents */
    uint32_t got;               /* WRITE payload bytes received */
    int result;                 /* 0 or -errno, set by the completion */
    struct gw_nbd_job job;      /* BLOCK_STATUS: its map on the control thread */
};

/* Connection states; see the diagram in conn.c. */
enum gw_nbd_conn_state {
    GW_NBD_CONN_FLAGS,      /* greeting sent, waiting for client flags */
    GW_NBD_CONN_OPT,        /* waiting for an option header */
    GW_NBD_CONN_OPT_DATA,   /* waiting for an option's payload */
    GW_NBD_CONN_OPT_SKIP,   /* dropping an oversize option's payload */
    GW_NBD_CONN_OPT_WAIT,   /* an option's libcairn call runs on the control thread */
    GW_NBD_CONN_STARTTLS,   /* STARTTLS acked: flushing the ACK, then TLS */
    GW_NBD_CONN_REQ,        /* transmission: waiting for a request header */
    GW_NBD_CONN_PAYLOAD,    /* receiving a WRITE's payload into conn->cur */
    GW_NBD_CONN_DROP,       /* dropping a refused WRITE's payload */
    GW_NBD_CONN_DRAIN,      /* no more input: finish in-flight, flush replies */
    GW_NBD_CONN_LINGER,     /* our side shut down; dropping input until EOF */
    GW_NBD_CONN_CLOSED,     /* socket gone; freed when nothing is in flight */
};

struct gw_nbd_conn {
    struct gw_nbd_server *srv;
    struct gw_nbd_conn *prev, *next;  /* srv->conns */
    struct bufferevent *bev;          /* NULL once CLOSED */
    enum gw_nbd_conn_state state;
    char peer[80];                    /* for log lines */
    uint32_t client_flags;
    struct gw_nbd_opt_hdr opt;        /* the option being read */
    uint32_t skip_left;               /* OPT_SKIP / DROP bytes still to drop */
    bool tls;                         /* c->bev is the OpenSSL bufferevent */
    bool structured;                  /* NBD_OPT_STRUCTURED_REPLY acked */
    bool meta_alloc;                  /* base:allocation set for meta_export */
    char meta_export[CAIRN_IMAGE_NAME_MAX + 1];
    struct cairn_image *img;          /* the export, from NBD_OPT_GO on */
    struct gw_nbd_job job;            /* an option's open or list, or the final close */
    bool job_busy;                    /* c->job is with the control thread */
    struct cairn_image *job_img;      /* the open's result (OPT_WAIT) */
    uint64_t job_size;                /* the opened image's size */
    int job_result;                   /* 0 or -errno */
    struct evbuffer *job_out;         /* NBD_OPT_LIST: the encoded replies */
    char job_name[CAIRN_IMAGE_NAME_MAX + 1]; /* the export to open */
    struct gw_nbd_limits lim;
    struct gw_nbd_io *cur;            /* WRITE whose payload is arriving */
    struct gw_nbd_io *free_ios;
    unsigned n_inflight;              /* ios handed to libcairn */
    uint64_t inflight_bytes;
    bool read_paused;                 /* EV_READ off for backpressure */
    struct gw_nbd_io ios[GW_NBD_INFLIGHT_MAX];
};

struct gw_nbd_server {
    struct event_base *base;          /* libcairn's, set on its loop thread */
    struct cairn *cairn;
    const struct gw_nbd_server_opts *opts; /* for setting up on the loop thread */
    char pool_name[256];
    int32_t pool;                     /* -1 until found; the control thread's */
    struct evconnlistener *listeners[GW_NBD_LISTENERS_MAX + 1];
    unsigned n_listeners;
    char *socket_path;                /* to unlink at exit */
    enum gw_nbd_tls_mode tls;
    struct ssl_ctx_st *ssl_ctx;       /* set unless tls is OFF */
    struct gw_nbd_conn *conns;
    unsigned n_conns;
    bool stopping;
    struct event *sig_term, *sig_int;
    pthread_mutex_t stop_lock;        /* main() waits for stopped under it */
    pthread_cond_t stop_cond;
    bool stopped;
    pthread_t ctl_thread;             /* runs jobs (ctl.c) */
    bool ctl_started;
    pthread_mutex_t ctl_lock;         /* guards ctl_head, ctl_tail, ctl_quit */
    pthread_cond_t ctl_cond;
    struct gw_nbd_job *ctl_head, *ctl_tail;
    bool ctl_quit;
};

/* server.c */
/* Sets up on libcairn's loop thread; main()'s thread. The reason of a
 * failure is on stderr. */
int gw_nbd_server_create(const struct gw_nbd_server_opts *opts, struct gw_nbd_server **out);
/* Waits until SIGTERM/SIGINT and the last connection is gone; main()'s
 * thread. */
int gw_nbd_server_run(struct gw_nbd_server *srv);
void gw_nbd_server_destroy(struct gw_nbd_server *srv);
/* The pool id, looking it up on first use. -ENOENT. Control thread only
 * (the lookup is synchronous). */
int gw_nbd__server_pool(struct gw_nbd_server *srv, int32_t *pool);
/* Called by conn.c when a connection is freed. */
void gw_nbd__server_conn_gone(struct gw_nbd_server *srv, struct gw_nbd_conn *c);

/* ctl.c */
/* Starts the control thread. -errno. */
int gw_nbd__ctl_start(struct gw_nbd_server *srv);
/* Runs the jobs still queued, then joins the thread; not on the loop
 * thread. */
void gw_nbd__ctl_stop(struct gw_nbd_server *srv);
/* Loop thread: queues @job (its run and done set); job->done runs on the
 * loop thread once job->run returned on the control thread. */
void gw_nbd__ctl_post(struct gw_nbd_server *srv, struct gw_nbd_job *job);

/* conn.c */
/* Takes ownership of @fd on success; on failure the caller closes it. */
int gw_nbd__conn_create(struct gw_nbd_server *srv, int fd, const char *peer);
/* Input is available or can be processed again (after backpressure). */
void gw_nbd__conn_process(struct gw_nbd_conn *c);
void gw_nbd__conn_set_state(struct gw_nbd_conn *c, enum gw_nbd_conn_state next);
/* Closes the socket now; frees @c once nothing is in flight and its image
 * is closed (on the control thread). */
void gw_nbd__conn_close(struct gw_nbd_conn *c, const char *why);
/* Stop reading; once in-flight requests are answered and flushed, shut
 * down our side and linger (conn.c's diagram). */
void gw_nbd__conn_drain(struct gw_nbd_conn *c);
/* Moves a DRAIN connection whose work is done on to LINGER (or closes
 * it); true when it did. */
bool gw_nbd__conn_maybe_finish(struct gw_nbd_conn *c);
/* Server shutdown: close in handshake, drain in transmission. */
void gw_nbd__conn_shutdown(struct gw_nbd_conn *c);
/* Moves @len bytes of input into @buf; false (nothing taken) when fewer
 * are buffered. */
bool gw_nbd__take(struct evbuffer *in, void *buf, size_t len);
/* Drops up to c->skip_left bytes of input; true when none are left. */
bool gw_nbd__skip(struct gw_nbd_conn *c, struct evbuffer *in);

/* tls.c */
/* Loads the certificate, key and CA of @opts into a new SSL_CTX (TLS 1.2
 * and up). -EINVAL with the reason on stderr. */
int gw_nbd__tls_ctx_create(const struct gw_nbd_server_opts *opts, struct ssl_ctx_st **out);
void gw_nbd__tls_ctx_destroy(struct ssl_ctx_st *ctx);
/* Replaces c->bev (its output flushed, its input empty) with an OpenSSL
 * bufferevent on the same socket, accepting a handshake; the caller sets
 * the callbacks. -errno, with c->bev untouched, on failure. */
int gw_nbd__tls_start(struct gw_nbd_conn *c);
/* Sends TLS close_notify before our side of the socket is shut down. */
void gw_nbd__tls_close_notify(struct gw_nbd_conn *c);
/* The TLS error behind a BEV_EVENT_ERROR, in @buf; NULL when there is
 * none. */
const char *gw_nbd__tls_error(struct gw_nbd_conn *c, char *buf, size_t len);

/* xmit.c */
/* One step of the transmission phase: 1 progressed, 0 needs input or is
 * paused, -1 the connection was closed. */
int gw_nbd__xmit_step(struct gw_nbd_conn *c);
/* Reads again after backpressure (either phase), once below the limits. */
void gw_nbd__xmit_resume(struct gw_nbd_conn *c);
/* The libcairn callback of every image aio (@arg is the gw_nbd_io):
 * replies, on the loop thread. */
void gw_nbd__io_done(int result, void *arg);

#endif

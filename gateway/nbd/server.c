/* cairn-nbd's server: the TCP and unix-socket listeners, SIGTERM/SIGINT
 * (stop listening, let connections in transmission finish their in-flight
 * requests, then let main() return), and the server's lifetime.
 * Connections are in conn.c and xmit.c.
 *
 * Threads: listeners, connections, signals and completions all live on
 * libcairn's own loop thread (cairn_loop_call(), client/cairn.h), where
 * libcairn also runs its callbacks: an image aio's callback replies to the
 * request directly, with no hop between threads. The synchronous libcairn
 * calls (open, list, map, close) run on the control thread (ctl.c).
 * main()'s thread only sets up, waits for the stop and tears down. */
#include "gateway/nbd/internal.h"

#include "common/assert.h"
#include "common/log.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- listeners ---- */

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int len, void *arg)
{
    struct gw_nbd_server *srv = arg;
    char peer[80] = "unix";
    int one = 1;

    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        char host[64] = "?";
        const void *a = sa->sa_family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)sa)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr;
        unsigned port = ntohs(sa->sa_family == AF_INET ? ((struct sockaddr_in *)sa)->sin_port
                                                       : ((struct sockaddr_in6 *)sa)->sin6_port);
        evutil_inet_ntop(sa->sa_family, a, host, sizeof(host));
        snprintf(peer, sizeof(peer), "%s:%u", host, port);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (srv->stopping || gw_nbd__conn_create(srv, fd, peer) < 0)
        evutil_closesocket(fd);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_GATEWAY, "nbd: accept: %s",
              evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static int add_listener(struct gw_nbd_server *srv, const struct sockaddr *sa, int sa_len,
                        const char *what)
{
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    struct evconnlistener *lev =
        evconnlistener_new_bind(srv->base, accept_cb, srv, flags, 128, sa, sa_len);

    if (!lev) {
        int err = errno ? errno : EADDRINUSE;
        fprintf(stderr, "cairn-nbd: cannot listen on %s: %s\n", what, strerror(err));
        return -err;
    }
    evconnlistener_set_error_cb(lev, accept_error_cb);
    srv->listeners[srv->n_listeners++] = lev;
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_GATEWAY, "nbd: listening on %s", what);
    return 0;
}

static int listen_tcp(struct gw_nbd_server *srv, const char *hostport)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    if (evutil_parse_sockaddr_port(hostport, (struct sockaddr *)&ss, &len) < 0) {
        fprintf(stderr, "cairn-nbd: bad listen address '%s' (HOST:PORT)\n", hostport);
        return -EINVAL;
    }
    return add_listener(srv, (struct sockaddr *)&ss, len, hostport);
}

static int listen_unix(struct gw_nbd_server *srv, const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "cairn-nbd: socket path too long: %s\n", path);
        return -ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);
    /* A socket left behind by a previous run; never remove anything else. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    if (add_listener(srv, (struct sockaddr *)&sun, (int)sizeof(sun), path) < 0)
        return -EADDRINUSE;
    srv->socket_path = strdup(path);
    return srv->socket_path ? 0 : -ENOMEM;
}

/* ---- shutdown ---- */

static void stop_listening(struct gw_nbd_server *srv)
{
    for (unsigned i = 0; i < srv->n_listeners; i++)
        evconnlistener_free(srv->listeners[i]);
    srv->n_listeners = 0;
    if (srv->socket_path) {
        unlink(srv->socket_path);
        free(srv->socket_path);
        srv->socket_path = NULL;
    }
}

/* Loop thread: once stopping and the last connection is gone, wakes
 * main() out of gw_nbd_server_run(). */
static void maybe_exit(struct gw_nbd_server *srv)
{
    if (!srv->stopping || srv->n_conns > 0)
        return;
    pthread_mutex_lock(&srv->stop_lock);
    srv->stopped = true;
    pthread_cond_signal(&srv->stop_cond);
    pthread_mutex_unlock(&srv->stop_lock);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct gw_nbd_server *srv = arg;
    struct gw_nbd_conn *c, *next;

    if (srv->stopping)
        return;
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_GATEWAY, "nbd: signal %d: stopping (%u connections)",
              (int)sig, srv->n_conns);
    srv->stopping = true;
    stop_listening(srv);
    for (c = srv->conns; c; c = next) {
        next = c->next;
        gw_nbd__conn_shutdown(c);
    }
    maybe_exit(srv);
}

void gw_nbd__server_conn_gone(struct gw_nbd_server *srv, struct gw_nbd_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    CAIRN_ASSERT(srv->n_conns > 0);
    srv->n_conns--;
    maybe_exit(srv);
}

int gw_nbd__server_pool(struct gw_nbd_server *srv, int32_t *pool)
{
    if (srv->pool < 0) {
        int r = cairn_pool_lookup(srv->cairn, srv->pool_name, &srv->pool);
        if (r < 0) {
            srv->pool = -1;
            return r;
        }
    }
    *pool = srv->pool;
    return 0;
}

/* ---- lifetime ---- */

/* Loop thread: signals and listeners, on libcairn's base. */
static int setup_on_loop(struct event_base *base, void *arg)
{
    struct gw_nbd_server *srv = arg;
    const struct gw_nbd_server_opts *opts = srv->opts;
    int r;

    srv->base = base;
    srv->sig_term = evsignal_new(base, SIGTERM, signal_cb, srv);
    srv->sig_int = evsignal_new(base, SIGINT, signal_cb, srv);
    if (!srv->sig_term || !srv->sig_int || event_add(srv->sig_term, NULL) < 0 ||
        event_add(srv->sig_int, NULL) < 0) {
        fprintf(stderr, "cairn-nbd: cannot watch signals\n");
        return -ENOMEM;
    }
    for (unsigned i = 0; i < opts->n_listen; i++)
        if ((r = listen_tcp(srv, opts->listen[i])) < 0)
            return r;
    if (opts->socket && (r = listen_unix(srv, opts->socket)) < 0)
        return r;
    return 0;
}

/* Loop thread: everything setup_on_loop() made, and the connections left
 * (none in flight: the server stopped, or never served). */
static int teardown_on_loop(struct event_base *base, void *arg)
{
    struct gw_nbd_server *srv = arg;
    struct gw_nbd_conn *c, *next;

    (void)base;
    stop_listening(srv);
    for (c = srv->conns; c; c = next) {
        next = c->next;
        CAIRN_ASSERT(c->n_inflight == 0);
        gw_nbd__conn_close(c, "server exit"); /* an image is closed by the control thread */
    }
    if (srv->sig_term)
        event_free(srv->sig_term);
    if (srv->sig_int)
        event_free(srv->sig_int);
    srv->sig_term = srv->sig_int = NULL;
    return 0;
}

int gw_nbd_server_create(const struct gw_nbd_server_opts *opts, struct gw_nbd_server **out)
{
    struct gw_nbd_server *srv = calloc(1, sizeof(*srv));
    int r;

    if (!srv)
        return -ENOMEM;
    srv->cairn = opts->cairn;
    srv->opts = opts;
    srv->pool = -1;
    srv->tls = opts->tls;
    snprintf(srv->pool_name, sizeof(srv->pool_name), "%s", opts->pool);
    pthread_mutex_init(&srv->stop_lock, NULL);
    pthread_cond_init(&srv->stop_cond, NULL);
    pthread_mutex_init(&srv->ctl_lock, NULL);
    pthread_cond_init(&srv->ctl_cond, NULL);
    if (opts->tls != GW_NBD_TLS_OFF && (r = gw_nbd__tls_ctx_create(opts, &srv->ssl_ctx)) < 0)
        goto out_destroy;
    if ((r = gw_nbd__ctl_start(srv)) < 0) {
        fprintf(stderr, "cairn-nbd: cannot start a thread: %s\n", strerror(-r));
        goto out_destroy;
    }
    if ((r = cairn_loop_call(srv->cairn, setup_on_loop, srv)) < 0)
        goto out_destroy; /* the reason is on stderr */
    srv->opts = NULL;
    *out = srv;
    return 0;

out_destroy:
    gw_nbd_server_destroy(srv);
    return r;
}

int gw_nbd_server_run(struct gw_nbd_server *srv)
{
    pthread_mutex_lock(&srv->stop_lock);
    while (!srv->stopped)
        pthread_cond_wait(&srv->stop_cond, &srv->stop_lock);
    pthread_mutex_unlock(&srv->stop_lock);
    return 0;
}

void gw_nbd_server_destroy(struct gw_nbd_server *srv)
{
    if (!srv)
        return;
    if (srv->base)
        cairn_loop_call(srv->cairn, teardown_on_loop, srv);
    gw_nbd__ctl_stop(srv); /* after the closes teardown posted */
    CAIRN_ASSERT(srv->conns == NULL);
    if (srv->ssl_ctx)
        gw_nbd__tls_ctx_destroy(srv->ssl_ctx);
    pthread_cond_destroy(&srv->ctl_cond);
    pthread_mutex_destroy(&srv->ctl_lock);
    pthread_cond_destroy(&srv->stop_cond);
    pthread_mutex_destroy(&srv->stop_lock);
    free(srv);
}

/* cairn-vhost's server: the image it serves, the vhost-user unix socket
 * (one front-end at a time: the listener is off while a session lives, so
 * a second front-end waits in the backlog), completions, and
 * SIGTERM/SIGINT (stop listening, end the session once its requests
 * complete, then let main() return). Sessions are dev.c's, their data
 * path io.c's.
 *
 * Threads: everything runs on libcairn's own loop thread
 * (cairn_loop_call(), client/cairn.h), where libcairn also runs its
 * callbacks: a completed request is finished in its callback, with no hop
 * between threads. Completions of one loop turn are batched: the first one
 * activates srv->flush_ev, which runs after the turn's other callbacks and
 * publishes each queue once. main()'s thread only sets up, waits for the
 * stop and tears down, and does the synchronous libcairn calls (opening
 * and closing the image), which the loop thread must never do. */
#include "gateway/vhost/internal.h"

#include "common/assert.h"
#include "common/log.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- completions (loop thread) ---- */

void gw_vhost__req_done(int result, void *arg)
{
    struct gw_vhost_req *req = arg;
    struct gw_vhost_server *srv = req->q->dev->srv;

    req->result = result;
    gw_vhost__io_complete(req); /* may free a closed session */
    if (!srv->flush_pending) {
        srv->flush_pending = true;
        event_active(srv->flush_ev, EV_READ, 0);
    }
}

/* After a turn's completions: publish, run a message that waited for the
 * drain, and take what waited for free slots or budget. */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct gw_vhost_server *srv = arg;
    struct gw_vhost_dev *dev = srv->dev;

    (void)fd;
    (void)what;
    srv->flush_pending = false;
    if (!dev || dev->closed)
        return;
    gw_vhost__dev_publish(dev);
    if (dev->msg_waiting) {
        gw_vhost__dev_drained(dev);
        return;
    }
    for (unsigned i = 0; i < srv->num_queues; i++)
        if (dev->q[i].started && dev->q[i].enabled)
            gw_vhost__queue_process(&dev->q[i]);
}

/* ---- the socket ---- */

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int len, void *arg)
{
    struct gw_vhost_server *srv = arg;

    (void)sa;
    (void)len;
    if (srv->stopping || srv->dev || gw_vhost__dev_create(srv, fd) < 0) {
        evutil_closesocket(fd);
        return;
    }
    evconnlistener_disable(lev);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    (void)lev;
    (void)arg;
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_GATEWAY, "vhost: accept: %s",
              evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static int listen_unix(struct gw_vhost_server *srv, const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "cairn-vhost: socket path too long: %s\n", path);
        return -ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);
    /* A socket left behind by a previous run; never remove anything else. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    srv->listener = evconnlistener_new_bind(
        srv->base, accept_cb, srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
        (struct sockaddr *)&sun, (int)sizeof(sun));
    if (!srv->listener) {
        fprintf(stderr, "cairn-vhost: cannot listen on %s: %s\n", path, strerror(errno));
        return -EADDRINUSE;
    }
    evconnlistener_set_error_cb(srv->listener, accept_error_cb);
    srv->socket_path = strdup(path);
    return srv->socket_path ? 0 : -ENOMEM;
}

static void stop_listening(struct gw_vhost_server *srv)
{
    if (srv->listener) {
        evconnlistener_free(srv->listener);
        srv->listener = NULL;
    }
    if (srv->socket_path) {
        unlink(srv->socket_path);
        free(srv->socket_path);
        srv->socket_path = NULL;
    }
}

/* ---- stopping ---- */

/* Loop thread: wakes main() out of gw_vhost_server_run(). */
static void set_stopped(struct gw_vhost_server *srv)
{
    pthread_mutex_lock(&srv->stop_lock);
    srv->stopped = true;
    pthread_cond_signal(&srv->stop_cond);
    pthread_mutex_unlock(&srv->stop_lock);
}

void gw_vhost__session_gone(struct gw_vhost_server *srv)
{
    if (srv->stopping)
        set_stopped(srv);
    else if (srv->listener)
        evconnlistener_enable(srv->listener);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct gw_vhost_server *srv = arg;

    (void)what;
    if (srv->stopping)
        return;
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_GATEWAY, "vhost: signal %d: stopping", (int)sig);
    srv->stopping = true;
    stop_listening(srv);
    if (srv->dev)
        gw_vhost__dev_close(srv->dev, "cairn-vhost is stopping"); /* may free it */
    if (!srv->dev)
        set_stopped(srv);
}

/* ---- lifetime ---- */

/* Loop thread: the events and the socket, on libcairn's base. */
static int setup_on_loop(struct event_base *base, void *arg)
{
    struct gw_vhost_server *srv = arg;

    srv->base = base;
    srv->flush_ev = event_new(base, -1, 0, flush_cb, srv);
    srv->sig_term = evsignal_new(base, SIGTERM, signal_cb, srv);
    srv->sig_int = evsignal_new(base, SIGINT, signal_cb, srv);
    if (!srv->flush_ev || !srv->sig_term || !srv->sig_int || event_add(srv->sig_term, NULL) < 0 ||
        event_add(srv->sig_int, NULL) < 0)
        return -ENOMEM;
    return listen_unix(srv, srv->socket_arg);
}

/* Loop thread: everything setup_on_loop() made, and the session (with
 * nothing in flight: the server stopped, or never served). */
static int teardown_on_loop(struct event_base *base, void *arg)
{
    struct gw_vhost_server *srv = arg;

    (void)base;
    stop_listening(srv);
    if (srv->dev) {
        CAIRN_ASSERT(srv->dev->inflight == 0);
        srv->stopping = true;
        gw_vhost__dev_close(srv->dev, "server exit");
    }
    if (srv->flush_ev)
        event_free(srv->flush_ev);
    if (srv->sig_term)
        event_free(srv->sig_term);
    if (srv->sig_int)
        event_free(srv->sig_int);
    srv->flush_ev = srv->sig_term = srv->sig_int = NULL;
    return 0;
}

static int open_image(struct gw_vhost_server *srv, const struct gw_vhost_server_opts *opts)
{
    struct cairn_image_info info;
    int32_t pool;
    int r = cairn_pool_lookup(opts->cairn, opts->pool, &pool);

    if (r < 0) {
        fprintf(stderr, "cairn-vhost: pool %s: %s\n", opts->pool,
                r == -ENOENT ? "no such pool" : strerror(-r));
        return r;
    }
    if ((r = cairn_image_open(opts->cairn, pool, opts->image, &srv->img)) < 0 ||
        (r = cairn_image_stat(srv->img, &info)) < 0) {
        fprintf(stderr, "cairn-vhost: image %s in pool %s: %s\n", opts->image, opts->pool,
                r == -ENOENT ? "no such image" : strerror(-r));
        return r;
    }
    srv->object_size = info.object_size;
    return 0;
}

int gw_vhost_server_create(const struct gw_vhost_server_opts *opts, struct gw_vhost_server **out)
{
    struct gw_vhost_server *srv = calloc(1, sizeof(*srv));
    int r;

    if (!srv)
        return -ENOMEM;
    srv->cairn = opts->cairn;
    srv->num_queues = opts->num_queues;
    srv->read_only = opts->read_only;
    srv->socket_arg = opts->socket;
    snprintf(srv->image, sizeof(srv->image), "%s", opts->image);
    pthread_mutex_init(&srv->stop_lock, NULL);
    pthread_cond_init(&srv->stop_cond, NULL);
    CAIRN_ASSERT(srv->num_queues >= 1 && srv->num_queues <= GW_VHOST_QUEUES_MAX);
    if ((r = open_image(srv, opts)) < 0 ||
        (r = cairn_loop_call(srv->cairn, setup_on_loop, srv)) < 0) {
        gw_vhost_server_destroy(srv);
        return r;
    }
    *out = srv;
    return 0;
}

int gw_vhost_server_run(struct gw_vhost_server *srv)
{
    pthread_mutex_lock(&srv->stop_lock);
    while (!srv->stopped)
        pthread_cond_wait(&srv->stop_cond, &srv->stop_lock);
    pthread_mutex_unlock(&srv->stop_lock);
    return 0;
}

void gw_vhost_server_destroy(struct gw_vhost_server *srv)
{
    if (!srv)
        return;
    if (srv->base)
        cairn_loop_call(srv->cairn, teardown_on_loop, srv);
    if (srv->img)
        cairn_image_close(srv->img);
    pthread_cond_destroy(&srv->stop_cond);
    pthread_mutex_destroy(&srv->stop_lock);
    free(srv);
}

/* cairn-vhost's server: the loop thread's event_base, the image it serves,
 * the vhost-user unix socket (one front-end at a time: the listener is off
 * while a session lives, so a second front-end waits in the backlog), the
 * completion handoff from libcairn's thread, and SIGTERM/SIGINT (stop
 * listening, end the session once its requests complete, leave the
 * loop). Sessions are dev.c's, their data path io.c's. */
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

/* ---- completions ---- */

void gw_vhost__req_done(int result, void *arg)
{
    struct gw_vhost_req *req = arg;

    req->result = result;
    cairn_handoff_push(&req->q->dev->srv->done, &req->node);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct gw_vhost_server *srv = arg;
    struct cairn_handoff_node *n = cairn_handoff_take(&srv->done);
    struct gw_vhost_dev *dev = srv->dev;

    (void)fd;
    (void)what;
    while (n) {
        struct cairn_handoff_node *next = n->next;
        gw_vhost__io_complete((struct gw_vhost_req *)n); /* may free a closed session */
        n = next;
    }
    dev = srv->dev;
    if (!dev || dev->closed)
        return;
    if (dev->msg_waiting) {
        gw_vhost__dev_publish(dev);
        gw_vhost__dev_drained(dev);
        return;
    }
    /* Slots and budget came free: take what waited for them. */
    for (unsigned i = 0; i < srv->num_queues; i++)
        if (dev->q[i].started && dev->q[i].enabled)
            gw_vhost__queue_process(&dev->q[i]);
    gw_vhost__dev_publish(dev);
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

void gw_vhost__session_gone(struct gw_vhost_server *srv)
{
    if (srv->stopping)
        event_base_loopexit(srv->base, NULL);
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
        event_base_loopexit(srv->base, NULL);
}

/* ---- lifetime ---- */

static int create_events(struct gw_vhost_server *srv)
{
    int r = cairn_handoff_init(&srv->done);

    if (r < 0)
        return r;
    srv->done_ev = event_new(srv->base, srv->done.fd, EV_READ | EV_PERSIST, done_cb, srv);
    srv->sig_term = evsignal_new(srv->base, SIGTERM, signal_cb, srv);
    srv->sig_int = evsignal_new(srv->base, SIGINT, signal_cb, srv);
    if (!srv->done_ev || !srv->sig_term || !srv->sig_int || event_add(srv->done_ev, NULL) < 0 ||
        event_add(srv->sig_term, NULL) < 0 || event_add(srv->sig_int, NULL) < 0)
        return -ENOMEM;
    return 0;
}

static int open_image(struct gw_vhost_server *srv, const struct gw_vhost_server_opts *opts)
{
    int32_t pool;
    int r = cairn_pool_lookup(opts->cairn, opts->pool, &pool);

    if (r < 0) {
        fprintf(stderr, "cairn-vhost: pool %s: %s\n", opts->pool,
                r == -ENOENT ? "no such pool" : strerror(-r));
        return r;
    }
    if ((r = cairn_image_open(opts->cairn, pool, opts->image, &srv->img)) < 0) {
        fprintf(stderr, "cairn-vhost: image %s in pool %s: %s\n", opts->image, opts->pool,
                r == -ENOENT ? "no such image" : strerror(-r));
        return r;
    }
    return 0;
}

int gw_vhost_server_create(const struct gw_vhost_server_opts *opts, struct gw_vhost_server **out)
{
    struct gw_vhost_server *srv = calloc(1, sizeof(*srv));
    int r = -ENOMEM;

    if (!srv)
        return -ENOMEM;
    srv->cairn = opts->cairn;
    srv->done.fd = -1;
    srv->num_queues = opts->num_queues;
    srv->read_only = opts->read_only;
    snprintf(srv->image, sizeof(srv->image), "%s", opts->image);
    CAIRN_ASSERT(srv->num_queues >= 1 && srv->num_queues <= GW_VHOST_QUEUES_MAX);
    srv->base = event_base_new();
    if (!srv->base || (r = create_events(srv)) < 0)
        goto out_destroy;
    if ((r = open_image(srv, opts)) < 0 || (r = listen_unix(srv, opts->socket)) < 0)
        goto out_destroy;
    *out = srv;
    return 0;

out_destroy:
    gw_vhost_server_destroy(srv);
    return r;
}

int gw_vhost_server_run(struct gw_vhost_server *srv)
{
    return event_base_dispatch(srv->base) < 0 ? -EIO : 0;
}

void gw_vhost_server_destroy(struct gw_vhost_server *srv)
{
    if (!srv)
        return;
    stop_listening(srv);
    CAIRN_ASSERT(!srv->dev || srv->dev->inflight == 0); /* the loop ran until they finished */
    if (srv->dev) {
        srv->stopping = true;
        gw_vhost__dev_close(srv->dev, "server exit");
    }
    if (srv->img)
        cairn_image_close(srv->img);
    if (srv->done_ev)
        event_free(srv->done_ev);
    if (srv->sig_term)
        event_free(srv->sig_term);
    if (srv->sig_int)
        event_free(srv->sig_int);
    cairn_handoff_fini(&srv->done);
    if (srv->base)
        event_base_free(srv->base);
    free(srv);
}

/* A libcairn connection: config and keyring, the loop thread that owns the
 * event_base, messenger and monitor client, and the queue through which
 * public calls (any thread) reach it (STYLE §7). client/admin.c and later
 * object/image/fs files post their work through cairn__call_run().
 *
 *   caller thread                          loop thread
 *   cairn__call_run(call)
 *     lock; queue += call; unlock
 *     write(efd)  ------------------------> wake_cb: drain queue, run fn
 *     wait on cond until call.done             fn starts async work (monc)
 *                                              ... its callback:
 *     <------------------------------------ cairn__call_done(): done, broadcast
 *
 * Invariants: 1. Only the loop thread touches base, msgr and monc once the
 * thread runs. 2. c->queue, call.done, c->epoch, c->callers and c->closing
 * change under c->lock. 3. cairn_shutdown() frees @c only after the loop
 * thread ended and no caller is inside a call (c->callers == 0). */
#include "client/internal.h"
#include "common/assert.h"
#include "common/config.h"
#include "common/log.h"
#include "protocol/monc.h"
#include "protocol/msgr.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* ---- the queue ---- */

/* Wakes the loop for a queue that was empty before this post: a queue that
 * was not has its wakeup pending already (wake_cb resets the eventfd before
 * it takes the queue). On the loop thread itself (a daemon serving there,
 * cairn_loop_call()) the wake event is activated without a syscall. */
static void queue_wake(struct cairn *c, bool was_empty)
{
    uint64_t one = 1;

    if (!was_empty)
        return;
    if (pthread_equal(pthread_self(), c->thread)) {
        event_active(c->wake, EV_READ, 1);
        return;
    }
    /* An eventfd write fails only when the counter would overflow, and
     * then the loop has a wakeup pending anyway. */
    (void)!write(c->efd, &one, sizeof(one));
}

int cairn__post_unless_closing(struct cairn *c, struct cairn__msg *msg)
{
    bool was_empty;

    pthread_mutex_lock(&c->lock);
    if (c->closing) {
        pthread_mutex_unlock(&c->lock);
        return -ECANCELED;
    }
    was_empty = TAILQ_EMPTY(&c->queue);
    TAILQ_INSERT_TAIL(&c->queue, msg, link);
    pthread_mutex_unlock(&c->lock);
    queue_wake(c, was_empty);
    return 0;
}

void cairn__post(struct cairn *c, struct cairn__msg *msg)
{
    bool was_empty;

    pthread_mutex_lock(&c->lock);
    was_empty = TAILQ_EMPTY(&c->queue);
    TAILQ_INSERT_TAIL(&c->queue, msg, link);
    pthread_mutex_unlock(&c->lock);
    queue_wake(c, was_empty);
}

int cairn__call_run(struct cairn *c, struct cairn__call *call, cairn__msg_fn fn)
{
    CAIRN_ASSERT(!pthread_equal(pthread_self(), c->thread));
    call->msg.fn = fn;
    call->done = false;
    call->result = 0;
    pthread_mutex_lock(&c->lock);
    if (c->closing) {
        pthread_mutex_unlock(&c->lock);
        return -ECANCELED;
    }
    c->callers++;
    pthread_mutex_unlock(&c->lock);
    cairn__post(c, &call->msg);
    pthread_mutex_lock(&c->lock);
    while (!call->done)
        pthread_cond_wait(&c->cond, &c->lock);
    c->callers--;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return call->result;
}

void cairn__call_done(struct cairn *c, struct cairn__call *call, int result)
{
    pthread_mutex_lock(&c->lock);
    call->result = result;
    call->done = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cairn *c = arg;
    TAILQ_HEAD(, cairn__msg) batch = TAILQ_HEAD_INITIALIZER(batch);
    struct cairn__msg *msg;
    uint64_t n;

    (void)!read(c->efd, &n, sizeof(n)); /* first: see queue_wake() */
    pthread_mutex_lock(&c->lock);
    TAILQ_CONCAT(&batch, &c->queue, link);
    pthread_mutex_unlock(&c->lock);
    while ((msg = TAILQ_FIRST(&batch))) {
        TAILQ_REMOVE(&batch, msg, link);
        if (c->stopped) /* posted after the stop: every msg is a call's */
            cairn__call_done(c, (struct cairn__call *)msg, -ECANCELED);
        else
            msg->fn(c, msg); /* may complete and so free @msg's owner */
    }
}

/* After the loop thread ended: cancels calls posted too late to run. */
static void queue_cancel(struct cairn *c)
{
    struct cairn__msg *msg;

    pthread_mutex_lock(&c->lock);
    while ((msg = TAILQ_FIRST(&c->queue))) {
        TAILQ_REMOVE(&c->queue, msg, link);
        struct cairn__call *call = (struct cairn__call *)msg;
        call->result = -ECANCELED;
        call->done = true;
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void *loop_main(void *arg)
{
    struct cairn *c = arg;

    event_base_dispatch(c->base);
    /* stop_fn broke the loop right after freeing the messenger: let the
     * callbacks bufferevent_free() deferred (BEV_OPT_DEFER_CALLBACKS) run,
     * or the last references to those bufferevents are never dropped. */
    for (int i = 0; i < 8 && event_base_loop(c->base, EVLOOP_NONBLOCK) == 0; i++)
        ;
    return NULL;
}

/* ---- the loop thread's objects ---- */

static void msgr_on_message(struct proto_conn *conn, struct proto_frame *frame, void *arg)
{
    struct cairn *c = arg;

    if (!proto_monc_handle_message(c->monc, conn, frame))
        proto_frame_free(frame); /* nothing else talks to a client yet */
}

static void publish_epoch(struct cairn *c, uint64_t epoch)
{
    pthread_mutex_lock(&c->lock);
    if (epoch > c->epoch) {
        c->epoch = epoch;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
}

static void on_map(const struct proto_map *map, void *arg)
{
    publish_epoch(arg, map->epoch);
    cairn__objecter_on_map(arg, map);
}

/* The first map: fetched, then followed by a subscription. */
struct first_map {
    struct cairn__call call;
    struct cairn *c;
};

static void first_map_done(int result, struct proto_map *map, void *arg)
{
    struct first_map *fm = arg;
    struct cairn *c = fm->c;

    if (result == 0) {
        publish_epoch(c, map->epoch);
        proto_map_destroy(map);
        if (!c->subscribed && proto_monc_subscribe(c->monc, on_map, c) == 0)
            c->subscribed = true;
    }
    cairn__call_done(c, &fm->call, result);
}

static void first_map_fn(struct cairn *c, struct cairn__msg *msg)
{
    struct first_map *fm = (struct first_map *)msg;
    int r = proto_monc_get_map(c->monc, first_map_done, fm);

    if (r < 0)
        cairn__call_done(c, &fm->call, r);
}

static void stop_fn(struct cairn *c, struct cairn__msg *msg)
{
    struct cairn__call *call = (struct cairn__call *)msg;

    c->stopped = true;
    cairn__objecter_stop(c); /* requests in flight fire -ECANCELED */
    proto_monc_destroy(c->monc); /* pending calls fire -ECANCELED */
    c->monc = NULL;
    proto_msgr_destroy(c->msgr);
    c->msgr = NULL;
    event_del(c->wake);
    event_base_loopbreak(c->base);
    cairn__call_done(c, call, 0);
}

static int loop_create(struct cairn *c)
{
    static const struct proto_msgr_handlers handlers = {.on_message = msgr_on_message};
    struct proto_msgr_opts mo = {.entity = c->entity, .keyring = c->keyring};
    struct proto_monc_opts co = {
        .mons = c->mons, .n_mons = c->n_mons, .op_timeout_ms = c->timeout_ms};
    int r;

    if (!(c->base = event_base_new()))
        return -ENOMEM;
    if ((c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return -errno;
    if (!(c->wake = event_new(c->base, c->efd, EV_READ | EV_PERSIST, wake_cb, c)) ||
        event_add(c->wake, NULL) < 0)
        return -ENOMEM;
    if ((r = proto_msgr_create(c->base, &mo, &handlers, c, &c->msgr)) < 0)
        return r;
    cairn__objecter_start(c);
    return proto_monc_create(c->base, c->msgr, &co, &c->monc);
}

/* Starts the loop thread with every signal blocked, so signals (and
 * SIGPIPE from a socket write) stay with the application's threads. */
static int thread_start(struct cairn *c)
{
    sigset_t all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&c->thread, NULL, loop_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0)
        return -r;
    c->thread_started = true;
    return 0;
}

/* ---- config ---- */

__attribute__((format(printf, 2, 3))) static void set_err(const struct cairn_connect_opts *o,
                                                          const char *fmt, ...)
{
    va_list ap;

    if (!o->err || !o->err_len)
        return;
    va_start(ap, fmt);
    vsnprintf(o->err, o->err_len, fmt, ap);
    va_end(ap);
}

static int conf_find(struct cairn *c, const struct cairn_connect_opts *o)
{
    int r = cairn_config_find(o->conf_path, c->conf_path, sizeof(c->conf_path));

    if (r == -ENOENT && o->conf_path)
        set_err(o, "config file %s not found", o->conf_path);
    else if (r == -ENOENT && getenv("CAIRN_CONF") && *getenv("CAIRN_CONF"))
        set_err(o, "config file %s ($CAIRN_CONF) not found", getenv("CAIRN_CONF"));
    else if (r == -ENOENT)
        set_err(o, "no config file: use -c FILE, $CAIRN_CONF, ./cairn.conf or "
                   "/etc/cairn/cairn.conf");
    return r;
}

static int keyring_load(struct cairn *c, const struct cairn_config *conf,
                        const struct cairn_connect_opts *o)
{
    const char *path = cairn_config_get(conf, c->entity, "keyring");
    uint8_t key[PROTO_KEY_LEN];
    int r;

    if (!path || !*path) {
        set_err(o, "config %s: no keyring option", c->conf_path);
        return -EINVAL;
    }
    snprintf(c->keyring_path, sizeof(c->keyring_path), "%s", path);
    if ((r = proto_keyring_load(path, &c->keyring)) < 0) {
        set_err(o, "keyring %s: %s", path, strerror(-r));
        return r;
    }
    if (proto_keyring_get(c->keyring, c->entity, key) < 0) {
        set_err(o, "keyring %s has no key for %s", path, c->entity);
        return -EINVAL;
    }
    return 0;
}

static int conf_apply(struct cairn *c, const struct cairn_config *conf,
                      const struct cairn_connect_opts *o)
{
    const char *mon_host = cairn_config_get(conf, c->entity, "mon_host");
    char why[160] = "";
    uint64_t ms;
    int r;

    if (!mon_host) {
        set_err(o, "config %s: no mon_host option", c->conf_path);
        return -EINVAL;
    }
    r = proto_monc_parse_mon_host(mon_host, c->mons, PROTO_MAP_MAX_MONS, &c->n_mons, why,
                                  sizeof(why));
    if (r < 0) {
        set_err(o, "config %s: %s", c->conf_path, why);
        return -EINVAL;
    }
    r = cairn_config_get_ms(conf, c->entity, "client_mount_timeout", CAIRN_MOUNT_TIMEOUT_MS_DEFAULT,
                            &ms);
    if (r == -EINVAL || (r == 0 && (ms == 0 || ms > UINT32_MAX))) {
        set_err(o, "config %s: bad client_mount_timeout (a duration such as 30s)", c->conf_path);
        return -EINVAL;
    }
    c->timeout_ms = o->timeout_ms ? o->timeout_ms : (uint32_t)ms;
    r = cairn_config_get_ms(conf, c->entity, "client_op_timeout", CAIRN_OP_TIMEOUT_MS_DEFAULT, &ms);
    if (r == -EINVAL || (r == 0 && (ms == 0 || ms > UINT32_MAX))) {
        set_err(o, "config %s: bad client_op_timeout (a duration such as 30s)", c->conf_path);
        return -EINVAL;
    }
    c->obj.op_timeout_ms = o->timeout_ms ? o->timeout_ms : (uint32_t)ms;
    return keyring_load(c, conf, o);
}

static int conf_load(struct cairn *c, const struct cairn_connect_opts *o)
{
    struct cairn_config *conf;
    char why[160] = "";
    int r;

    snprintf(c->entity, sizeof(c->entity), "%s", o->entity ? o->entity : CAIRN_DEFAULT_ENTITY);
    if (!proto_entity_is_valid(c->entity)) {
        set_err(o, "bad entity name '%s' (TYPE.ID, e.g. client.admin)", c->entity);
        return -EINVAL;
    }
    if ((r = conf_find(c, o)) < 0)
        return r;
    if ((r = cairn_config_load(c->conf_path, &conf, why, sizeof(why))) < 0) {
        set_err(o, "config %s: %s", c->conf_path, r == -EINVAL ? why : strerror(-r));
        return r;
    }
    r = conf_apply(c, conf, o);
    cairn_config_destroy(conf);
    return r;
}

/* ---- connect and shutdown ---- */

void cairn__mon_error(const struct cairn *c, int err, char *buf, size_t len)
{
    size_t off;

    switch (err) {
    case -ETIMEDOUT:
        off = (size_t)snprintf(buf, len, "cannot reach any monitor (tried ");
        for (uint32_t i = 0; i < c->n_mons && off < len; i++)
            off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", i ? ", " : "", c->mons[i].name,
                                    c->mons[i].addr);
        if (off < len)
            snprintf(buf + off, len - off, ")");
        break;
    case -EACCES:
        snprintf(buf, len,
                 "authentication between %s and the monitors failed "
                 "(check the keys in %s)",
                 c->entity, c->keyring_path);
        break;
    case -ECANCELED:
        snprintf(buf, len, "the connection was shut down");
        break;
    default:
        snprintf(buf, len, "%s", strerror(-err));
    }
}

static struct cairn *cairn_alloc(void)
{
    struct cairn *c = calloc(1, sizeof(*c));
    pthread_condattr_t ca;

    if (!c)
        return NULL;
    c->efd = -1;
    TAILQ_INIT(&c->queue);
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    cairn__objecter_init(c, CAIRN_OP_TIMEOUT_MS_DEFAULT);
    return c;
}

/* Stops the loop thread (if it runs), waits for callers to leave, frees. */
static void cairn_free(struct cairn *c)
{
    struct cairn__call stop;

    pthread_mutex_lock(&c->lock);
    c->closing = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (c->thread_started) {
        stop.msg.fn = stop_fn;
        cairn__post(c, &stop.msg);
        pthread_join(c->thread, NULL);
        queue_cancel(c);
    } else {
        proto_monc_destroy(c->monc);
        if (c->msgr)
            proto_msgr_destroy(c->msgr);
    }
    pthread_mutex_lock(&c->lock);
    while (c->callers)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    cairn__objecter_fini(c);
    if (c->wake)
        event_free(c->wake);
    if (c->base)
        event_base_free(c->base);
    if (c->efd >= 0)
        close(c->efd);
    proto_keyring_destroy(c->keyring);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int cairn_connect_opts(const struct cairn_connect_opts *opts, struct cairn **out)
{
    struct cairn_connect_opts none = {0};
    const struct cairn_connect_opts *o = opts ? opts : &none;
    struct cairn *c = cairn_alloc();
    struct first_map fm;
    int r;

    if (!c)
        return -ENOMEM;
    if ((r = conf_load(c, o)) < 0)
        goto out_free;
    if ((r = loop_create(c)) < 0 || (r = thread_start(c)) < 0) {
        set_err(o, "cannot start the connection: %s", strerror(-r));
        goto out_free;
    }
    fm.c = c;
    if ((r = cairn__call_run(c, &fm.call, first_map_fn)) < 0) {
        if (o->err && o->err_len)
            cairn__mon_error(c, r, o->err, o->err_len);
        goto out_free;
    }
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_CLIENT, "%s connected, map e%llu", c->entity,
              (unsigned long long)c->epoch);
    *out = c;
    return 0;
out_free:
    cairn_free(c);
    return r;
}

int cairn_connect(const char *conf_path, const char *entity, struct cairn **out)
{
    struct cairn_connect_opts o = {.conf_path = conf_path, .entity = entity};

    return cairn_connect_opts(&o, out);
}

void cairn_shutdown(struct cairn *c)
{
    if (c)
        cairn_free(c);
}

const char *cairn_entity(const struct cairn *c)
{
    return c->entity;
}

struct loop_call {
    struct cairn__call call; /* first */
    cairn_loop_fn fn;
    void *arg;
};

static void loop_call_fn(struct cairn *c, struct cairn__msg *msg)
{
    struct loop_call *lc = (struct loop_call *)msg;

    cairn__call_done(c, &lc->call, lc->fn(c->base, lc->arg));
}

int cairn_loop_call(struct cairn *c, cairn_loop_fn fn, void *arg)
{
    struct loop_call lc = {.fn = fn, .arg = arg};

    if (!c || !fn)
        return -EINVAL;
    return cairn__call_run(c, &lc.call, loop_call_fn);
}

const char *cairn_conf_path(const struct cairn *c)
{
    return c->conf_path;
}

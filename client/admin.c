/* libcairn's admin calls (client/cairn_admin.h): each posts a call to the
 * loop thread (client/conn.c), which runs it on the monitor client and
 * completes it from the monc callback. */
#include "client/cairn_admin.h"
#include "client/internal.h"
#include "common/clock.h"
#include "protocol/monc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A monitor command or status call. */
struct mon_call {
    struct cairn__call call;
    struct cairn *c;
    const struct proto_mon_cmd *cmd; /* NULL: a status call */
    struct proto_mon_reply *reply;   /* the caller's; filled on the loop thread */
};

static void mon_call_done(int result, const struct proto_mon_reply *reply, void *arg)
{
    struct mon_call *mc = arg;

    if (reply) {
        *mc->reply = *reply;
        if (result < 0 && !mc->reply->message[0])
            snprintf(mc->reply->message, sizeof(mc->reply->message), "%s", strerror(-result));
    } else {
        proto_mon_reply_init(mc->reply);
        mc->reply->result = result;
        cairn__mon_error(mc->c, result, mc->reply->message, sizeof(mc->reply->message));
    }
    cairn__call_done(mc->c, &mc->call, result);
}

static void mon_call_fn(struct cairn *c, struct cairn__msg *msg)
{
    struct mon_call *mc = (struct mon_call *)msg;
    int r = mc->cmd ? proto_monc_command(c->monc, mc->cmd, mon_call_done, mc)
                    : proto_monc_status(c->monc, mon_call_done, mc);

    if (r < 0)
        mon_call_done(r, NULL, mc);
}

int cairn_mon_command(struct cairn *c, const struct proto_mon_cmd *cmd,
                      struct proto_mon_reply *reply)
{
    struct mon_call mc = {.c = c, .cmd = cmd, .reply = reply};

    if (!cmd || !reply)
        return -EINVAL;
    int r = cairn__call_run(c, &mc.call, mon_call_fn);
    if (r == -ECANCELED) { /* maybe never ran: shutdown */
        proto_mon_reply_init(reply);
        reply->result = r;
        cairn__mon_error(c, r, reply->message, sizeof(reply->message));
    }
    return r;
}

int cairn_status(struct cairn *c, struct proto_mon_status *out)
{
    struct proto_mon_reply *reply = malloc(sizeof(*reply));
    struct mon_call mc = {.c = c, .reply = reply};

    if (!reply)
        return -ENOMEM;
    int r = cairn__call_run(c, &mc.call, mon_call_fn);
    if (r == 0 && !reply->has_status)
        r = -EBADMSG;
    if (r == 0)
        *out = reply->status;
    free(reply);
    return r;
}

/* A PG stats call: the answer lands in @out. */
struct stats_call {
    struct cairn__call call;
    struct cairn *c;
    struct proto_pg_stats *out;
};

static void stats_call_done(int result, const struct proto_mon_reply *reply,
                            struct proto_pg_stats *stats, void *arg)
{
    struct stats_call *sc = arg;

    if (stats) {
        *sc->out = *stats;
        memset(stats, 0, sizeof(*stats)); /* taken: pgs and usage */
    }
    cairn__call_done(sc->c, &sc->call, result);
}

static void stats_call_fn(struct cairn *c, struct cairn__msg *msg)
{
    struct stats_call *sc = (struct stats_call *)msg;
    int r = proto_monc_pg_stats(c->monc, stats_call_done, sc);

    if (r < 0)
        cairn__call_done(c, &sc->call, r);
}

int cairn_pg_stats(struct cairn *c, struct proto_pg_stats *out)
{
    struct stats_call sc = {.c = c, .out = out};

    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    int r = cairn__call_run(c, &sc.call, stats_call_fn);
    if (r < 0)
        proto_pg_stats_fini(out);
    return r;
}

int cairn_cluster_usage(struct cairn *c, uint64_t *total, uint64_t *used)
{
    struct proto_pg_stats st;
    struct proto_map *map = NULL;
    uint64_t t, u;
    int r;

    if (!total || !used)
        return -EINVAL;
    if ((r = cairn_pg_stats(c, &st)) < 0)
        return r;
    if ((r = cairn_map_get(c, &map)) == 0) {
        r = proto_osd_usage_sum(&st, map, &t, &u) ? 0 : -ENODATA;
        proto_map_destroy(map);
    }
    proto_pg_stats_fini(&st);
    if (r == 0) {
        *total = t;
        *used = u;
    }
    return r;
}

/* A copy of monc's newest map. */
struct map_call {
    struct cairn__call call;
    struct proto_map *copy;
};

static void map_call_fn(struct cairn *c, struct cairn__msg *msg)
{
    struct map_call *mc = (struct map_call *)msg;
    const struct proto_map *map = proto_monc_map(c->monc);

    /* cairn_connect() returned only once a map arrived. */
    mc->copy = map ? proto_map_clone(map) : NULL;
    cairn__call_done(c, &mc->call, mc->copy ? 0 : -ENOMEM);
}

int cairn_map_get(struct cairn *c, struct proto_map **copy)
{
    struct map_call mc = {.copy = NULL};

    if (!copy)
        return -EINVAL;
    int r = cairn__call_run(c, &mc.call, map_call_fn);
    if (r == 0)
        *copy = mc.copy;
    return r;
}

int cairn_wait_for_epoch(struct cairn *c, uint64_t epoch, uint32_t timeout_ms)
{
    struct timespec until;
    int r = 0;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    c->callers++;
    while (c->epoch < epoch && r == 0) {
        if (c->closing)
            r = -ECANCELED;
        else if (pthread_cond_timedwait(&c->cond, &c->lock, &until) == ETIMEDOUT)
            r = c->epoch >= epoch ? 0 : -ETIMEDOUT;
    }
    c->callers--;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return r;
}

/* cairn-osd's lifecycle (docs/osd.md §1): takes the store's lock file, opens
 * the store and checks its superblock, starts the engine, the messenger
 * (listening on osd_addr) and the monitor client, arms the timers (beacon,
 * heartbeat, held-op expiry), and on SIGTERM/SIGINT stops taking ops, lets
 * the ops inside the engine finish (their transactions complete), then
 * closes everything. One thread runs the event loop; the store adds its own. */
#include "osd/internal.h"

#include "common/clock.h"
#include "common/log.h"
#include "protocol/monc.h"
#include "protocol/msgr.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define STOP_POLL_MS 10u
#define STOP_DEADLINE_MS 30000u
#define HOLD_CHECK_MS 1000u

uint64_t osd__now_ms(void)
{
    return cairn_now_ns() / 1000000u;
}

/* ---- the lock file ------------------------------------------------------------ */

/* STORE/osd.lock, flocked for the daemon's life and holding its pid, so a
 * second daemon on the same store stops with a clear reason. */
static int take_lock(struct osd_daemon *d)
{
    char path[PATH_MAX + 16], pid[32] = "";
    int fd;

    snprintf(path, sizeof(path), "%s/osd.lock", d->opts.store_path);
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s: %s%s", path, strerror(errno),
                  errno == ENOENT ? " (no store: run cairn-osd --mkfs first)" : "");
        return -errno;
    }
    if (osd__lock_store(fd, pid) < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s is in use by another cairn-osd (pid %s)",
                  d->opts.store_path, pid[0] ? pid : "?");
        close(fd);
        return -EBUSY;
    }
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s: cannot write the pid", path);
    d->lock_fd = fd;
    return 0;
}

static void drop_lock(struct osd_daemon *d)
{
    if (d->lock_fd < 0)
        return;
    if (ftruncate(d->lock_fd, 0) < 0)
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_OSD, "clearing the lock file failed");
    close(d->lock_fd);
    d->lock_fd = -1;
}

/* ---- timers and signals ---------------------------------------------------------- */

static void beacon_cb(evutil_socket_t fd, short what, void *arg)
{
    osd__beacon(arg);
}

static void hb_cb(evutil_socket_t fd, short what, void *arg)
{
    osd__hb_tick(arg);
}

static void boot_cb(evutil_socket_t fd, short what, void *arg)
{
    osd__boot_retry(arg);
}

static void hold_cb(evutil_socket_t fd, short what, void *arg)
{
    osd__held_release(arg, true);
}

/* While stopping: ends the loop once the engine is empty (or at the deadline). */
static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct osd_daemon *d = arg;
    unsigned left = osd__engine_ops_in_use(d->engine);

    if (left == 0 || cairn_now_ns() >= d->stop_deadline_ns) {
        if (left)
            cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s: %u ops still in flight; stopping anyway",
                      d->opts.entity, left);
        event_base_loopbreak(d->base);
    }
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct osd_daemon *d = arg;
    struct timeval tv = {0, STOP_POLL_MS * 1000};

    if (d->stopping)
        return;
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s: %s: finishing %u ops, then stopping",
              d->opts.entity, strsignal((int)sig), osd__engine_ops_in_use(d->engine));
    d->stopping = true;
    d->stop_deadline_ns = cairn_now_ns() + (uint64_t)STOP_DEADLINE_MS * 1000000u;
    osd__held_fail_all(d);
    osd__peering_stop_all(d);
    event_del(d->hb_ev);
    event_del(d->boot_ev);
    event_del(d->scrub_ev);
    event_add(d->stop_ev, &tv);
}

static void scrub_cb(evutil_socket_t fd, short what, void *arg)
{
    struct osd_daemon *d = arg;

    (void)fd, (void)what;
    if (d->state == OSD_STATE_ACTIVE && !d->stopping)
        osd__scrub_tick(d);
}

static struct timeval ms_tv(uint64_t ms)
{
    return (struct timeval){.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
}

static int start_events(struct osd_daemon *d)
{
    struct timeval beacon = ms_tv(d->opts.beacon_ms), hb = ms_tv(d->opts.hb_interval_ms),
                   hold = ms_tv(HOLD_CHECK_MS), scrub = ms_tv(osd__scrub_tick_ms());

    d->beacon_ev = event_new(d->base, -1, EV_PERSIST, beacon_cb, d);
    d->hb_ev = event_new(d->base, -1, EV_PERSIST, hb_cb, d);
    d->hold_ev = event_new(d->base, -1, EV_PERSIST, hold_cb, d);
    d->stop_ev = event_new(d->base, -1, EV_PERSIST, stop_cb, d);
    d->boot_ev = evtimer_new(d->base, boot_cb, d);
    d->scrub_ev = event_new(d->base, -1, EV_PERSIST, scrub_cb, d);
    d->sig_ev[0] = evsignal_new(d->base, SIGTERM, signal_cb, d);
    d->sig_ev[1] = evsignal_new(d->base, SIGINT, signal_cb, d);
    if (!d->beacon_ev || !d->hb_ev || !d->hold_ev || !d->stop_ev || !d->boot_ev ||
        !d->scrub_ev || !d->sig_ev[0] || !d->sig_ev[1])
        return -ENOMEM;
    if (event_add(d->beacon_ev, &beacon) < 0 || event_add(d->hb_ev, &hb) < 0 ||
        event_add(d->hold_ev, &hold) < 0 || event_add(d->scrub_ev, &scrub) < 0 ||
        event_add(d->sig_ev[0], NULL) < 0 ||
        event_add(d->sig_ev[1], NULL) < 0)
        return -EIO;
    return 0;
}

/* ---- lifecycle -------------------------------------------------------------------- */

static int open_store(struct osd_daemon *d, uint8_t uuid[16])
{
    char why[256];
    int r = osd_store_open(d->opts.store_path, &d->opts.store, &d->store);

    if (r < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "opening the store %s: %s%s",
                  d->opts.store_path, strerror(-r),
                  r == -ENOENT  ? " (run cairn-osd --mkfs first)"
                  : r == -EBUSY ? " (is another cairn-osd running?)"
                                : "");
        return r;
    }
    if ((r = osd__superblock_check(d->store, &d->opts, uuid, why, sizeof(why))) < 0)
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s", why);
    return r;
}

static int coll_count_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    (void)k, (void)kl, (void)v, (void)vl;
    (*(unsigned *)arg)++;
    return 0;
}

static int start_messenger(struct osd_daemon *d)
{
    struct proto_msgr_opts mo = {.entity = d->opts.entity, .keyring = d->keyring};
    int r = proto_msgr_create(d->base, &mo, &osd__msgr_handlers, d, &d->msgr);

    if (r < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "messenger: %s%s", strerror(-r),
                  r == -ENOENT ? " (no key for this OSD in the keyring)" : "");
        return r;
    }
    if ((r = proto_msgr_listen(d->msgr, d->opts.addr)) < 0 ||
        (r = proto_msgr_listen_addr(d->msgr, d->addr, sizeof(d->addr))) < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "listening on %s: %s", d->opts.addr,
                  strerror(-r));
        return r;
    }
    return 0;
}

int osd__daemon_open(const struct osd_opts *o, struct proto_keyring *kr, struct osd_daemon **out)
{
    struct osd_daemon *d = calloc(1, sizeof(*d));
    struct osd_engine_opts eo = {.store = NULL, .hooks = &osd__engine_hooks, .entity = o->entity,
                                 .replication = true, .whoami = o->id};
    uint8_t uuid[16];
    unsigned colls = 0;
    int r = -ENOMEM;

    if (!d) {
        proto_keyring_destroy(kr);
        return -ENOMEM;
    }
    d->opts = *o;
    d->keyring = kr;
    d->lock_fd = -1;
    d->recovery_max = o->recovery_max ? o->recovery_max : OSD_RECOVERY_MAX_DEFAULT;
    d->start_wall_ns = cairn_wall_ns();
    TAILQ_INIT(&d->held);
    for (unsigned i = 0; i < OSD_HB_PEERS_MAX; i++)
        d->peers[i].id = -1;
    if (!(d->base = event_base_new()))
        goto fail;
    if ((r = take_lock(d)) < 0 || (r = open_store(d, uuid)) < 0)
        goto fail;
    osd_store_list_collections(d->store, coll_count_fn, &colls);
    eo.base = d->base;
    eo.store = d->store;
    eo.hooks_arg = d;
    osd__peer_serve_init(d);
    if ((r = osd__engine_create(&eo, &d->engine)) < 0 || (r = start_messenger(d)) < 0 ||
        (r = start_events(d)) < 0 || (r = osd__boot_start(d, uuid)) < 0)
        goto fail;
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s listening on %s, store %s (%u collections)",
              o->entity, d->addr, o->store_path, colls);
    *out = d;
    return 0;
fail:
    osd__daemon_close(d);
    return r;
}

int osd__daemon_run(struct osd_daemon *d)
{
    event_base_dispatch(d->base);
    return 0;
}

static void free_events(struct osd_daemon *d)
{
    struct event *evs[] = {d->beacon_ev, d->hb_ev,     d->hold_ev,   d->stop_ev,
                           d->boot_ev,   d->scrub_ev, d->sig_ev[0], d->sig_ev[1]};

    for (unsigned i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
}

void osd__daemon_close(struct osd_daemon *d)
{
    if (!d)
        return;
    free_events(d);
    osd__held_fail_all(d);
    if (d->engine)
        osd__peering_stop_all(d);
    if (d->msgr)
        osd__hb_close(d);
    if (d->monc)
        proto_monc_destroy(d->monc);
    if (d->msgr)
        proto_msgr_destroy(d->msgr);
    /* Deferred bufferevent frees run in one more turn. */
    if (d->base)
        event_base_loop(d->base, EVLOOP_NONBLOCK);
    /* After a forced stop ops may still be in the store: closing the store
     * waits for them, and the engine (which they point at) stays. */
    if (d->store)
        osd_store_close(d->store);
    if (d->engine && osd__engine_ops_in_use(d->engine) == 0)
        osd__engine_destroy(d->engine);
    proto_map_destroy(d->map);
    drop_lock(d);
    if (d->base)
        event_base_free(d->base);
    proto_keyring_destroy(d->keyring);
    free(d);
}

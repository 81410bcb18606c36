/* The OSD's side of the monitor protocol (docs/osd.md §1): boot, beacons
 * and the map subscription, over protocol/monc on the daemon's messenger.
 *
 *   BOOTING --boot accepted at epoch E--> WAIT_UP --map >= E shows us up at
 *      ^                                     |      our address, up_from >= E--> ACTIVE
 *      |                                     | map >= E without us                |
 *      +-------------------------------------+------------------------------------+
 *                  (a map shows us down or elsewhere: boot again)
 *
 * Client ops are served only in ACTIVE (service.c holds them until then).
 * A refused or lost boot is retried every OSD_BOOT_RETRY_MS. */
#include "osd/beacon.h"
#include "osd/internal.h"
#include "osd/pgstat.h"

#include "common/assert.h"
#include "common/log.h"
#include "protocol/monc.h"
#include "protocol/mon.h"
#include "protocol/pgstat.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The wire carries the OSD's flags as they are (protocol/pgstat.h). */
#define SAME_FLAG(x) ((unsigned)OSD_PGS_##x == (unsigned)PROTO_PGS_##x)
CAIRN_STATIC_ASSERT(SAME_FLAG(ACTIVE) && SAME_FLAG(CLEAN) && SAME_FLAG(PEERING) &&
                        SAME_FLAG(DEGRADED) && SAME_FLAG(RECOVERING) && SAME_FLAG(BACKFILLING) &&
                        SAME_FLAG(INCOMPLETE) && SAME_FLAG(INCONSISTENT) && SAME_FLAG(UNDERSIZED) &&
                        SAME_FLAG(PEERED) && SAME_FLAG(SCRUBBING) && SAME_FLAG(DEEP),
                    "PG state flags differ between osd/pgstat.h and protocol/pgstat.h");
#undef SAME_FLAG
CAIRN_STATIC_ASSERT(sizeof(((struct osd_pg_stat *)0)->acting) ==
                        sizeof(((struct proto_pg_stat *)0)->acting),
                    "acting sets differ in size");

static void send_boot(struct osd_daemon *d);

static void schedule_retry(struct osd_daemon *d)
{
    struct timeval tv = {OSD_BOOT_RETRY_MS / 1000, (OSD_BOOT_RETRY_MS % 1000) * 1000};

    if (!d->stopping)
        event_add(d->boot_ev, &tv);
}

void osd__boot_retry(struct osd_daemon *d)
{
    if (d->state == OSD_STATE_BOOTING)
        send_boot(d);
}

static void refresh_pgs(struct osd_daemon *d)
{
    unsigned n_primary;
    unsigned changed = osd__pgs_update(d->engine, d->map, d->opts.id,
                                       d->state == OSD_STATE_ACTIVE, &n_primary);

    if (changed)
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s e%llu: primary of %u PGs (%u changed)",
                  d->opts.entity, (unsigned long long)d->map->epoch, n_primary, changed);
}

/* Moves between WAIT_UP, ACTIVE and BOOTING as the newest map says. */
static void update_state(struct osd_daemon *d)
{
    const struct proto_map_osd *o = proto_map_osd(d->map, d->opts.id);
    bool here = o && o->up && strcmp(o->addr, d->addr) == 0;

    if (d->state == OSD_STATE_WAIT_UP && d->map->epoch >= d->boot_epoch) {
        if (here && o->up_from >= d->boot_epoch) {
            d->state = OSD_STATE_ACTIVE;
            cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s up at %s, epoch %llu", d->opts.entity,
                      d->addr, (unsigned long long)d->map->epoch);
            return;
        }
    } else if (d->state != OSD_STATE_ACTIVE || here) {
        return;
    }
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s: map e%llu shows it %s; booting again",
              d->opts.entity, (unsigned long long)d->map->epoch,
              !o || !o->up ? "down" : "at another address");
    d->state = OSD_STATE_BOOTING;
    send_boot(d);
}

static void on_map(const struct proto_map *map, void *arg)
{
    struct osd_daemon *d = arg;
    struct proto_map *copy;

    if (d->opts.has_fsid && memcmp(map->fsid, d->opts.fsid, 16) != 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s: the monitors serve another cluster's map "
                  "(fsid differs); ignoring it", d->opts.entity);
        return;
    }
    if (d->map && map->epoch <= d->map->epoch)
        return;
    if (!(copy = proto_map_clone(map))) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s: no memory for map e%llu", d->opts.entity,
                  (unsigned long long)map->epoch);
        return;
    }
    proto_map_destroy(d->map);
    d->map = copy;
    osd__engine_set_epoch(d->engine, copy->epoch);
    update_state(d);
    refresh_pgs(d);
    osd__hb_update(d);
    osd__peering_on_map(d);
    osd__held_release(d, false);
}

static void boot_cb(int result, const struct proto_mon_reply *reply, void *arg)
{
    struct osd_daemon *d = arg;

    d->boot_in_flight = false;
    if (result == -ECANCELED || d->stopping)
        return;
    if (result == 0 && reply && reply->id != d->opts.id)
        result = -EINVAL;
    if (result < 0) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s: boot refused: %s%s%s; retrying",
                  d->opts.entity, strerror(-result), reply && reply->message[0] ? ": " : "",
                  reply ? reply->message : "");
        schedule_retry(d);
        return;
    }
    d->boot_epoch = reply->epoch;
    d->state = OSD_STATE_WAIT_UP;
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_OSD, "%s: boot accepted at epoch %llu", d->opts.entity,
              (unsigned long long)reply->epoch);
    if (d->map) {
        update_state(d);
        refresh_pgs(d);
        osd__hb_update(d);
        osd__held_release(d, false);
    }
}

static void send_boot(struct osd_daemon *d)
{
    struct proto_mon_cmd cmd;

    if (d->boot_in_flight || d->stopping)
        return;
    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_BOOT);
    cmd.id = d->opts.id;
    memcpy(cmd.uuid, d->uuid, 16);
    snprintf(cmd.name, sizeof(cmd.name), "%s", d->opts.host);
    snprintf(cmd.value, sizeof(cmd.value), "%s", d->addr);
    cmd.weight = d->opts.weight;
    int r = proto_monc_command(d->monc, &cmd, boot_cb, d);
    if (r < 0) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s: cannot send boot: %s", d->opts.entity,
                  strerror(-r));
        schedule_retry(d);
        return;
    }
    d->boot_in_flight = true;
}

/* @in on the wire. The acting set is the engine's; one that reports none
 * gets the up set of our map, which is what the acting set is until
 * peering keeps other OSDs in it. */
static void pg_stat_to_wire(const struct osd_daemon *d, const struct osd_pg_stat *in,
                            struct proto_pg_stat *out)
{
    const struct proto_map_pool *pool;

    memset(out, 0, sizeof(*out));
    out->pool = in->pool;
    out->ps = in->ps;
    out->state = in->state;
    out->epoch = in->epoch;
    out->last_update = in->last_update;
    out->objects = in->objects;
    out->objects_missing = in->objects_missing;
    out->objects_recovered = in->objects_recovered;
    out->last_scrub_ns = in->last_scrub_ns;
    out->last_deep_scrub_ns = in->last_deep_scrub_ns;
    out->n_acting = in->n_acting < PROTO_PLACE_MAX_REPLICAS ? in->n_acting
                                                             : PROTO_PLACE_MAX_REPLICAS;
    memcpy(out->acting, in->acting, out->n_acting * sizeof(out->acting[0]));
    if (out->n_acting == 0 && d->map && (pool = proto_map_pool(d->map, in->pool)) &&
        in->ps < pool->pg_num)
        out->n_acting = proto_place_up(d->map, pool, in->ps, out->acting,
                                       PROTO_PLACE_MAX_REPLICAS);
}

/* The stats of the PGs we are primary of, into @out: at most
 * PROTO_MON_PG_STATS_MAX (beyond that, the rest go unreported: logged
 * once; the frame's metadata limit is the tighter bound anyway). 0 or
 * -ENOMEM. */
static int collect_stats(struct osd_daemon *d, struct proto_pg_stats *out)
{
    static bool warned;
    unsigned n = osd__pg_stats(d->engine, NULL, 0);
    struct osd_pg_stat *raw;

    if (n > PROTO_MON_PG_STATS_MAX) {
        if (!warned)
            cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s: primary of %u PGs; beacons report "
                      "the first %u", d->opts.entity, n, PROTO_MON_PG_STATS_MAX);
        warned = true;
        n = PROTO_MON_PG_STATS_MAX;
    }
    if (n == 0)
        return 0;
    raw = calloc(n, sizeof(*raw));
    out->pgs = calloc(n, sizeof(*out->pgs));
    if (!raw || !out->pgs) {
        free(raw);
        proto_pg_stats_fini(out);
        return -ENOMEM;
    }
    unsigned got = osd__pg_stats(d->engine, raw, n);
    out->n = got < n ? got : n;
    for (uint32_t i = 0; i < out->n; i++)
        pg_stat_to_wire(d, &raw[i], &out->pgs[i]);
    free(raw);
    return 0;
}

static struct timeval ms_timeval(uint64_t ms)
{
    return (struct timeval){.tv_sec = (time_t)(ms / 1000),
                            .tv_usec = (suseconds_t)(ms % 1000) * 1000};
}

/* Our store's capacity and use in bytes (whole OSD_STORE_BLOCK blocks of
 * the data file) for the monitors' usage figures, as a beacon's stats with
 * no PGs: sent alone when the PG stats cannot go. */
static void store_usage(struct osd_daemon *d, struct proto_pg_stats *out)
{
    struct osd_store_stats st;

    memset(out, 0, sizeof(*out));
    if (!d->store)
        return;
    osd_store_get_stats(d->store, &st);
    out->has_store = true;
    out->store.osd = d->opts.id;
    out->store.bytes_total = st.data_blocks_total * OSD_STORE_BLOCK;
    /* Never more than all of it: the encoder would refuse the beacon,
     * which is our liveness. */
    out->store.bytes_used = CAIRN_MIN(st.data_blocks_used, st.data_blocks_total) * OSD_STORE_BLOCK;
}

void osd__beacon(struct osd_daemon *d)
{
    struct proto_pg_stats stats = {.beacon_ms = (uint32_t)d->opts.beacon_ms};
    struct timeval every = ms_timeval(d->opts.beacon_ms);
    struct proto_pg_stats usage;
    struct proto_mon_cmd cmd;

    /* Back to the full interval after a beacon osd__beacon_soon() hurried. */
    if (d->beacon_ev)
        event_add(d->beacon_ev, &every);
    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_BEACON);
    cmd.id = d->opts.id;
    store_usage(d, &usage);
    int r = collect_stats(d, &stats);
    stats.has_store = usage.has_store;
    stats.store = usage.store;
    /* Without memory for the stats, the usage alone still says we live. */
    r = proto_monc_beacon_stats(d->monc, &cmd, r == 0 ? &stats : usage.has_store ? &usage : NULL);
    if (r == -EMSGSIZE) {
        /* Too many PGs for one frame: liveness first, stats go unreported
         * (logged once). */
        static bool warned;
        if (!warned)
            cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s: the stats of %u PGs do not fit a "
                      "beacon; sending beacons without them", d->opts.entity, stats.n);
        warned = true;
        r = proto_monc_beacon_stats(d->monc, &cmd, usage.has_store ? &usage : NULL);
    }
    if (r < 0 && r != -ENOTCONN)
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_OSD, "%s: beacon: %s", d->opts.entity, strerror(-r));
    proto_pg_stats_fini(&stats);
}

void osd__beacon_soon(struct osd_daemon *d)
{
    struct timeval soon = ms_timeval(OSD_BEACON_SOON_MS), due, now, limit;

    if (!d->beacon_ev || d->stopping)
        return;
    if (event_pending(d->beacon_ev, EV_TIMEOUT, &due) &&
        event_base_gettimeofday_cached(d->base, &now) == 0) {
        evutil_timeradd(&now, &soon, &limit);
        if (evutil_timercmp(&due, &limit, <=))
            return; /* one is due that soon anyway */
    }
    event_add(d->beacon_ev, &soon);
}

int osd__boot_start(struct osd_daemon *d, const uint8_t uuid[16])
{
    struct proto_monc_opts mo = {.mons = d->opts.mons, .n_mons = d->opts.n_mons};
    int r = proto_monc_create(d->base, d->msgr, &mo, &d->monc);

    if (r < 0)
        return r;
    memcpy(d->uuid, uuid, 16);
    if ((r = proto_monc_subscribe(d->monc, on_map, d)) < 0)
        return r;
    d->state = OSD_STATE_BOOTING;
    send_boot(d);
    return 0;
}

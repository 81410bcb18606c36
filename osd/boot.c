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
#include "osd/internal.h"

#include "common/log.h"
#include "protocol/monc.h"
#include "protocol/mon.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

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

void osd__beacon(struct osd_daemon *d)
{
    struct proto_mon_cmd cmd;

    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_BEACON);
    cmd.id = d->opts.id;
    int r = proto_monc_beacon(d->monc, &cmd);
    if (r < 0 && r != -ENOTCONN)
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_OSD, "%s: beacon: %s", d->opts.entity, strerror(-r));
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

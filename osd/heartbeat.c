/* Heartbeats between OSDs (docs/osd.md §5). While active, an OSD pings up
 * to OSD_HB_PEERS_MAX other up OSDs of its map (the ids that follow its own,
 * cyclically: deterministic, and every OSD is watched by its predecessors)
 * every osd_heartbeat_interval, one ping in flight per peer. A peer that
 * has not answered for osd_heartbeat_grace is reported to the monitors with
 * PROTO_MON_OSD_FAILURE, at most once per grace period; the leader marks it
 * down on the first report of an up reporter (monitor/core/failure.c), and
 * the next map drops it from the peer set. Loop thread only. */
#include "osd/internal.h"

#include "common/clock.h"
#include "common/log.h"
#include "protocol/monc.h"
#include "protocol/mon.h"
#include "protocol/msg_types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void peer_close(struct osd_daemon *d, struct osd_hb_peer *p)
{
    /* Closing fires the pending ping's callback (-ECANCELED) and on_close,
     * which detaches and frees the session. */
    if (p->sess && p->sess->conn)
        proto_conn_close(p->sess->conn);
    p->sess = NULL;
    p->ping_in_flight = false;
    p->id = -1;
    d->n_peers--;
}

static int peer_open(struct osd_daemon *d, struct osd_hb_peer *p, const struct proto_map_osd *o)
{
    char entity[PROTO_ENTITY_MAX];
    struct osd_sess *s = calloc(1, sizeof(*s));
    struct proto_conn *conn;

    if (!s)
        return -ENOMEM;
    snprintf(entity, sizeof(entity), "osd.%d", o->id);
    int r = proto_msgr_connect(d->msgr, o->addr, entity, &conn);
    if (r < 0) {
        free(s);
        return r;
    }
    *s = (struct osd_sess){.d = d, .conn = conn, .refs = 1, .peer = p};
    proto_conn_set_data(conn, s);
    *p = (struct osd_hb_peer){.id = o->id, .up_from = o->up_from, .sess = s,
                              .last_rx_ns = cairn_now_ns(), .keep = true};
    snprintf(p->addr, sizeof(p->addr), "%s", o->addr);
    d->n_peers++;
    return 0;
}

static struct osd_hb_peer *peer_find(struct osd_daemon *d, int32_t id)
{
    for (unsigned i = 0; i < OSD_HB_PEERS_MAX; i++)
        if (d->peers[i].id == id && d->peers[i].sess)
            return &d->peers[i];
    return NULL;
}

static struct osd_hb_peer *peer_free_slot(struct osd_daemon *d)
{
    for (unsigned i = 0; i < OSD_HB_PEERS_MAX; i++)
        if (!d->peers[i].sess)
            return &d->peers[i];
    return NULL;
}

static bool is_candidate(const struct osd_daemon *d, const struct proto_map_osd *o)
{
    return o->exists && o->up && o->id != d->opts.id && o->addr[0];
}

/* Keeps (or opens) the connection to @o; reopens when it rebooted. */
static void peer_want(struct osd_daemon *d, const struct proto_map_osd *o)
{
    struct osd_hb_peer *p = peer_find(d, o->id);

    if (p && (strcmp(p->addr, o->addr) != 0 || p->up_from != o->up_from)) {
        peer_close(d, p);
        p = NULL;
    }
    if (p) {
        p->keep = true;
        return;
    }
    if ((p = peer_free_slot(d)) && peer_open(d, p, o) < 0)
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s: cannot connect to osd.%d at %s",
                  d->opts.entity, o->id, o->addr);
}

void osd__hb_update(struct osd_daemon *d)
{
    const struct proto_map *map = d->map;
    unsigned wanted = 0;

    for (unsigned i = 0; i < OSD_HB_PEERS_MAX; i++)
        d->peers[i].keep = false;
    if (d->state == OSD_STATE_ACTIVE && map && map->n_osds > 0) {
        /* The ids after ours, cyclically, up to the peer limit. */
        for (uint32_t k = 1; k < map->n_osds && wanted < OSD_HB_PEERS_MAX; k++) {
            const struct proto_map_osd *o = &map->osds[((uint32_t)d->opts.id + k) % map->n_osds];
            if (is_candidate(d, o)) {
                peer_want(d, o);
                wanted++;
            }
        }
    }
    for (unsigned i = 0; i < OSD_HB_PEERS_MAX; i++)
        if (d->peers[i].sess && !d->peers[i].keep)
            peer_close(d, &d->peers[i]);
}

void osd__hb_close(struct osd_daemon *d)
{
    for (unsigned i = 0; i < OSD_HB_PEERS_MAX; i++)
        if (d->peers[i].sess)
            peer_close(d, &d->peers[i]);
}

/* ---- pings ------------------------------------------------------------------ */

static void ping_cb(int result, struct proto_frame *reply, void *arg)
{
    struct osd_hb_peer *p = arg;
    struct proto_osd_ping ping;

    p->ping_in_flight = false;
    if (!reply)
        return;
    if (result == 0 && proto_osd_ping_decode(reply->meta, reply->hdr.meta_len, &ping) == 0)
        p->last_rx_ns = cairn_now_ns();
    proto_frame_free(reply);
}

static void send_ping(struct osd_daemon *d, struct osd_hb_peer *p, uint64_t now)
{
    struct proto_osd_ping ping = {.epoch = d->map ? d->map->epoch : 0, .stamp_ns = now};
    uint8_t *meta;
    size_t len;

    if (proto_osd_ping_encode(&ping, &meta, &len) < 0)
        return;
    /* One ping in flight, waiting at most a grace: a dead peer's ping
     * times out and the next one goes, so the peer is judged on fresh news. */
    if (proto_conn_request(p->sess->conn, PROTO_MSG_OSD_PING, meta, len, NULL, 0,
                           (uint32_t)d->opts.hb_grace_ms, ping_cb, p) == 0)
        p->ping_in_flight = true;
    free(meta);
}

static void report_cb(int result, const struct proto_mon_reply *reply, void *arg)
{
    (void)arg;
    cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_OSD, "failure report: %s %s", strerror(-result),
              reply ? reply->message : "");
}

static void report(struct osd_daemon *d, struct osd_hb_peer *p, uint64_t now)
{
    struct proto_mon_cmd cmd;

    proto_mon_cmd_init(&cmd, PROTO_MON_OSD_FAILURE);
    cmd.id = p->id;
    snprintf(cmd.name, sizeof(cmd.name), "%s", d->opts.entity);
    if (proto_monc_command(d->monc, &cmd, report_cb, d) < 0)
        return;
    p->last_report_ns = now;
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD, "%s e%llu: osd.%d silent for %llu ms; reported",
              d->opts.entity, (unsigned long long)(d->map ? d->map->epoch : 0), p->id,
              (unsigned long long)((now - p->last_rx_ns) / 1000000u));
}

void osd__hb_tick(struct osd_daemon *d)
{
    uint64_t now = cairn_now_ns(), grace = d->opts.hb_grace_ms * 1000000u;

    if (d->state != OSD_STATE_ACTIVE)
        return;
    uint64_t last = d->hb_last_tick_ns, interval = d->opts.hb_interval_ms * 1000000u;
    d->hb_last_tick_ns = now;
    if (last && now - last > 2 * interval) {
        /* Our own loop stalled (a long store call, the machine swapping):
         * what we did not hear meanwhile says nothing about the peers, so
         * they get a fresh grace instead of a failure report. */
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s: heartbeats stalled for %llu ms; not judging peers",
                  d->opts.entity, (unsigned long long)((now - last) / 1000000u));
        for (unsigned i = 0; i < OSD_HB_PEERS_MAX; i++)
            if (d->peers[i].last_rx_ns < now)
                d->peers[i].last_rx_ns = now;
    }
    for (unsigned i = 0; i < OSD_HB_PEERS_MAX; i++) {
        struct osd_hb_peer *p = &d->peers[i];
        if (!p->sess || !p->sess->conn)
            continue;
        if (!p->ping_in_flight)
            send_ping(d, p, now);
        if (now - p->last_rx_ns >= grace &&
            (p->last_report_ns == 0 || now - p->last_report_ns >= grace))
            report(d, p, now);
    }
}

void osd__hb_on_ping(struct osd_daemon *d, struct osd_sess *s, const struct proto_frame *f)
{
    struct proto_osd_ping ping;
    uint8_t *meta;
    size_t len;

    if (proto_osd_ping_decode(f->meta, f->hdr.meta_len, &ping) < 0)
        return;
    ping.epoch = d->map ? d->map->epoch : 0; /* the stamp is echoed */
    if (proto_osd_ping_encode(&ping, &meta, &len) < 0)
        return;
    if (s->conn)
        proto_conn_reply(s->conn, f->hdr.txid, PROTO_MSG_OSD_PING, meta, len, NULL, 0);
    free(meta);
}

/* Monitor-to-monitor transport for cairn-mon: the peer table and its
 * connections, Raft messages on the wire (struct mon_raft_msg <->
 * protocol/raft_wire.h, field by field), forwarding of client commands and
 * beacons to the leader, the followers' view of the leader's quorum, and the
 * test-only isolation switch. Called by daemon.c and service.c on the loop.
 *
 * Each monitor dials every other monitor of the map (the configured
 * mon_host until it has a map) and sends on its own outgoing connection;
 * when that is not open it answers on the peer's connection to it, which is
 * how a monitor that just joined, and knows nobody yet, reaches the leader.
 * A Raft message with no open connection is dropped: Raft retransmits. */
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "monitor/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/raft_wire.h"

CAIRN_STATIC_ASSERT(PROTO_RAFT_MAX_VOTERS == MON_RAFT_MAX_VOTERS, "voter limits agree");
CAIRN_STATIC_ASSERT(PROTO_RAFT_MAX_ENTRIES == MON_RAFT_MAX_MSG_ENTRIES, "entry limits agree");
CAIRN_STATIC_ASSERT(PROTO_RAFT_MAX_ENTRY_BYTES == MON_RAFT_MAX_ENTRY_BYTES, "size limits agree");
CAIRN_STATIC_ASSERT(PROTO_RAFT_MSG_TYPE_MAX == MON_RAFT_MSG_TYPE_MAX, "message types agree");
CAIRN_STATIC_ASSERT(PROTO_RAFT_MSG_APP == MON_RAFT_MSG_APP, "APP agrees");
CAIRN_STATIC_ASSERT(PROTO_RAFT_MSG_SNAP == MON_RAFT_MSG_SNAP, "SNAP agrees");
CAIRN_STATIC_ASSERT(PROTO_RAFT_ENTRY_TYPE_MAX == MON_RAFT_ENTRY_NOOP, "entry types agree");

/* ---- the peer table ------------------------------------------------------ */

/* The monitor name of a "mon.NAME" entity, or NULL for other entities. */
static const char *mon_name_of_entity(const char *entity)
{
    return strncmp(entity, "mon.", 4) == 0 && entity[4] ? entity + 4 : NULL;
}

struct mon_peer *mon__peer_by_id(struct mon_daemon *d, uint64_t id)
{
    for (uint32_t i = 0; i < MON_MAX_PEERS; i++)
        if (d->peers[i].used && d->peers[i].id == id)
            return &d->peers[i];
    return NULL;
}

static struct mon_peer *peer_by_name(struct mon_daemon *d, const char *name)
{
    for (uint32_t i = 0; i < MON_MAX_PEERS; i++)
        if (d->peers[i].used && strcmp(d->peers[i].name, name) == 0)
            return &d->peers[i];
    return NULL;
}

static struct mon_peer *peer_add(struct mon_daemon *d, const char *name)
{
    for (uint32_t i = 0; i < MON_MAX_PEERS; i++) {
        struct mon_peer *p = &d->peers[i];
        if (p->used)
            continue;
        memset(p, 0, sizeof(*p));
        p->used = true;
        p->id = mon_id_of_name(name);
        snprintf(p->name, sizeof(p->name), "%s", name);
        return p;
    }
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MON, "peer table full; ignoring mon.%s", name);
    return NULL;
}

static void peer_disconnect(struct mon_peer *p)
{
    struct proto_conn *c = p->out;

    p->out = NULL;
    if (c)
        proto_conn_close(c); /* on_close frees its session */
}

static void peer_connect(struct mon_daemon *d, struct mon_peer *p)
{
    char entity[PROTO_MAP_NAME_MAX + 4]; /* proto_msgr_connect checks it is an entity */
    struct mon_sess *s = calloc(1, sizeof(*s));
    struct proto_conn *c;

    snprintf(entity, sizeof(entity), "mon.%s", p->name);
    if (!s || proto_msgr_connect(d->msgr, p->addr, entity, &c) < 0) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MON, "cannot connect to mon.%s at %s", p->name, p->addr);
        free(s);
        return;
    }
    *s = (struct mon_sess){.d = d, .conn = c, .out_peer = p};
    proto_conn_set_data(c, s);
    TAILQ_INSERT_TAIL(&d->sessions, s, link);
    if (d->isolated)
        proto_conn_set_blackhole(c, true);
    p->out = c;
}

/* Makes @name a peer reachable at @addr. */
static void peer_want(struct mon_daemon *d, const char *name, const char *addr, bool *keep)
{
    struct mon_peer *p = peer_by_name(d, name);

    if (strcmp(name, d->opts.name) == 0)
        return;
    if (!p && !(p = peer_add(d, name)))
        return;
    keep[p - d->peers] = true;
    if (strcmp(p->addr, addr) != 0) {
        peer_disconnect(p);
        snprintf(p->addr, sizeof(p->addr), "%s", addr);
    }
    if (!p->out)
        peer_connect(d, p);
}

void mon__peers_sync(struct mon_daemon *d)
{
    const struct proto_map *map = mon_cluster_map(d->cluster);
    bool keep[MON_MAX_PEERS] = {false};

    if (d->has_state) {
        for (uint32_t i = 0; i < map->n_mons; i++)
            peer_want(d, map->mons[i].name, map->mons[i].addr, keep);
    } else {
        for (uint32_t i = 0; i < d->opts.n_conf_mons; i++)
            peer_want(d, d->opts.conf_mons[i].name, d->opts.conf_mons[i].addr, keep);
    }
    /* Peers that left the map; ones that only dialled us stay while their
     * connection lasts (a leader reaching a monitor that has no map yet). */
    for (uint32_t i = 0; i < MON_MAX_PEERS; i++) {
        struct mon_peer *p = &d->peers[i];
        if (!p->used || keep[i] || (!p->addr[0] && p->in))
            continue;
        peer_disconnect(p);
        memset(p, 0, sizeof(*p));
    }
}

void mon__peers_close(struct mon_daemon *d)
{
    for (uint32_t i = 0; i < MON_MAX_PEERS; i++)
        if (d->peers[i].used)
            peer_disconnect(&d->peers[i]);
}

static bool sess_is_monitor(const struct mon_sess *s)
{
    return s->out_peer || mon_name_of_entity(proto_conn_peer(s->conn));
}

void mon__peer_sess_opened(struct mon_daemon *d, struct mon_sess *s)
{
    const char *name = mon_name_of_entity(proto_conn_peer(s->conn));
    struct mon_peer *p;

    if (!name || s->out_peer)
        return;
    if (d->isolated)
        proto_conn_set_blackhole(s->conn, true);
    if (strcmp(name, d->opts.name) == 0 || !proto_map_name_is_valid(name))
        return;
    if ((p = peer_by_name(d, name)) || (p = peer_add(d, name)))
        p->in = s;
}

void mon__peer_sess_closed(struct mon_daemon *d, struct mon_sess *s)
{
    for (uint32_t i = 0; i < MON_MAX_PEERS; i++) {
        struct mon_peer *p = &d->peers[i];
        if (!p->used)
            continue;
        if (p->in == s)
            p->in = NULL;
        if (p->out == s->conn)
            p->out = NULL;
        if (!p->addr[0] && !p->in && !p->out)
            memset(p, 0, sizeof(*p));
    }
}

/* The connection to send to @p on: ours if open, else its own to us. */
static struct proto_conn *peer_conn(const struct mon_peer *p)
{
    if (!p)
        return NULL;
    if (p->out && proto_conn_is_open(p->out))
        return p->out;
    if (p->in && proto_conn_is_open(p->in->conn))
        return p->in->conn;
    return NULL;
}

static struct proto_conn *leader_conn(struct mon_daemon *d)
{
    uint64_t lead = mon_raft_leader(d->raft);

    if (!lead || lead == d->id)
        return NULL;
    return peer_conn(mon__peer_by_id(d, lead));
}

/* ---- Raft messages on the wire ------------------------------------------- */

static void to_wire(struct mon_daemon *d, const struct mon_raft_msg *m, struct proto_raft_msg *w)
{
    struct proto_raft_entry *ents = d->out_ents;

    *w = (struct proto_raft_msg){
        .type = m->type,
        .from = m->from,
        .to = m->to,
        .term = m->term,
        .log_term = m->log_term,
        .index = m->index,
        .commit = m->commit,
        .reject = m->reject,
        .force = m->force,
        .reject_hint = m->reject_hint,
        .n_entries = m->n_entries,
        .entries = m->n_entries ? ents : NULL,
    };
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct mon_raft_entry *e = &m->entries[i];
        ents[i] = (struct proto_raft_entry){
            .index = e->index, .term = e->term, .type = e->type, .len = e->len, .data = e->data};
    }
    if (m->snapshot) {
        const struct mon_raft_snapshot *s = m->snapshot;
        w->has_snapshot = true;
        w->snapshot.index = s->index;
        w->snapshot.term = s->term;
        w->snapshot.n_voters = s->membership.n_voters;
        memcpy(w->snapshot.voters, s->membership.voters, sizeof(w->snapshot.voters));
        w->snapshot.len = s->len;
        w->snapshot.data = s->data;
    }
}

static void from_wire(struct mon_daemon *d, const struct proto_raft_msg *w, struct mon_raft_msg *m,
                      struct mon_raft_snapshot *snap)
{
    *m = (struct mon_raft_msg){
        .type = w->type,
        .from = w->from,
        .to = w->to,
        .term = w->term,
        .log_term = w->log_term,
        .index = w->index,
        .commit = w->commit,
        .reject = w->reject,
        .force = w->force,
        .reject_hint = w->reject_hint,
        .n_entries = w->n_entries,
        .entries = w->n_entries ? d->in_ents : NULL,
    };
    for (uint32_t i = 0; i < w->n_entries; i++) {
        const struct proto_raft_entry *e = &w->entries[i];
        d->in_ents[i] = (struct mon_raft_entry){
            .index = e->index, .term = e->term, .type = e->type, .len = e->len, .data = e->data};
    }
    if (w->has_snapshot) {
        *snap = (struct mon_raft_snapshot){.index = w->snapshot.index,
                                           .term = w->snapshot.term,
                                           .len = w->snapshot.len,
                                           .data = w->snapshot.data};
        snap->membership.n_voters = w->snapshot.n_voters;
        memcpy(snap->membership.voters, w->snapshot.voters, sizeof(snap->membership.voters));
        m->snapshot = snap;
    }
}

void mon__peer_send_raft(struct mon_daemon *d, const struct mon_raft_msg *m)
{
    struct proto_conn *c = peer_conn(mon__peer_by_id(d, m->to));
    struct proto_raft_msg w;
    uint8_t *meta, *data;
    size_t ml, dl;

    if (!c)
        return;
    to_wire(d, m, &w);
    int r = proto_raft_msg_encode(&w, &meta, &ml, &data, &dl);
    if (r == 0) {
        r = proto_conn_send(c, PROTO_MSG_MON_RAFT, meta, ml, data, dl);
        free(meta);
        free(data);
    }
    if (r < 0)
        cairn_log(r == -ENOBUFS ? CAIRN_LOG_DEBUG : CAIRN_LOG_WARN, CAIRN_SS_MON,
                  "raft %s to mon.%s dropped: %s", mon_raft_msg_type_name(m->type),
                  proto_conn_peer(c), strerror(-r));
}

/* Remembers that the sender is alive (the leader's quorum view) and where
 * to answer it; refuses a monitor speaking for another one. */
static int note_sender(struct mon_daemon *d, struct mon_sess *s, uint64_t from)
{
    const char *name = mon_name_of_entity(proto_conn_peer(s->conn));
    struct mon_peer *p;

    if (!name || mon_id_of_name(name) != from)
        return -EACCES;
    if (!(p = mon__peer_by_id(d, from)) && !(p = peer_add(d, name)))
        return 0;
    p->heard_ns = cairn_now_ns();
    if (!s->out_peer && (!p->in || !proto_conn_is_open(p->in->conn)))
        p->in = s;
    return 0;
}

void mon__peer_on_raft(struct mon_daemon *d, struct mon_sess *s, struct proto_frame *f)
{
    struct proto_raft_msg w;
    struct mon_raft_snapshot snap;
    struct mon_raft_msg m;
    int r = proto_raft_msg_decode(f->meta, f->hdr.meta_len, f->data, f->hdr.data_len, &w);

    if (r < 0) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MON, "undecodable raft message from %s (%s): %s",
                  proto_conn_peer(s->conn), proto_conn_addr(s->conn), strerror(-r));
        return;
    }
    if ((r = note_sender(d, s, w.from)) < 0) {
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MON, "raft message from %s claims node %016llx",
                  proto_conn_peer(s->conn), (unsigned long long)w.from);
    } else {
        from_wire(d, &w, &m, &snap);
        r = mon_raft_step(d->raft, &m);
        if (r < 0)
            cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_MON, "raft %s from %s refused: %s",
                      mon_raft_msg_type_name(m.type), proto_conn_peer(s->conn), strerror(-r));
    }
    proto_raft_msg_fini(&w);
    mon__drive_soon(d);
}

/* ---- forwarding to the leader -------------------------------------------- */

static void forward_cb(int result, struct proto_frame *reply, void *arg)
{
    struct mon_waiter *w = arg;
    struct mon_daemon *d = w->d;

    if (result == 0 && w->sess) {
        int r = proto_conn_reply(w->sess->conn, w->txid, w->reply_type, reply->meta,
                                 reply->hdr.meta_len, reply->data, reply->hdr.data_len);
        if (r < 0)
            cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_MON, "relaying to %s: %s",
                      proto_conn_peer(w->sess->conn), strerror(-r));
    } else if (result < 0 && w->fail_err) {
        mon__reply_error(w->sess, w->txid, w->reply_type, w->fail_err,
                         "forwarding to the leader failed: %s", strerror(-result));
    } else if (result < 0) {
        mon__reply_error(w->sess, w->txid, w->reply_type, -EAGAIN,
                         "forwarding to the leader failed: %s; retry", strerror(-result));
    }
    if (reply)
        proto_frame_free(reply);
    TAILQ_REMOVE(&d->waiters, w, link);
    free(w);
}

int mon__forward_command(struct mon_daemon *d, struct mon_sess *sess, uint64_t txid,
                         uint16_t reply_type, const uint8_t *meta, size_t meta_len)
{
    struct proto_conn *c = leader_conn(d);
    struct mon_waiter *w;

    if (!c || !(w = calloc(1, sizeof(*w))))
        return -EAGAIN;
    *w = (struct mon_waiter){
        .d = d, .sess = sess, .txid = txid, .reply_type = reply_type, .forwarded = true};
    int r = proto_conn_request(c, PROTO_MSG_MON_FORWARD, meta, meta_len, NULL, 0,
                               MON_FORWARD_TIMEOUT_MS, forward_cb, w);
    if (r < 0) {
        free(w);
        return -EAGAIN;
    }
    TAILQ_INSERT_TAIL(&d->waiters, w, link);
    return 0;
}

int mon__forward_pg_stats(struct mon_daemon *d, struct mon_sess *sess, uint64_t txid)
{
    struct proto_conn *c = leader_conn(d);
    struct mon_waiter *w;

    if (!c || !(w = calloc(1, sizeof(*w))))
        return -ENODATA;
    *w = (struct mon_waiter){.d = d,
                             .sess = sess,
                             .txid = txid,
                             .reply_type = PROTO_MSG_MON_PG_STATS,
                             .forwarded = true,
                             .fail_err = -ENODATA};
    int r = proto_conn_request(c, PROTO_MSG_MON_PG_STATS, NULL, 0, NULL, 0,
                               MON_FORWARD_TIMEOUT_MS, forward_cb, w);
    if (r < 0) {
        free(w);
        return -ENODATA;
    }
    TAILQ_INSERT_TAIL(&d->waiters, w, link);
    return 0;
}

void mon__forward_beacon(struct mon_daemon *d, const uint8_t *meta, size_t meta_len)
{
    struct proto_conn *c = leader_conn(d);

    if (c)
        (void)proto_conn_send(c, PROTO_MSG_MON_BEACON, meta, meta_len, NULL, 0);
}

/* ---- the leader's quorum ------------------------------------------------- */

static void status_cb(int result, struct proto_frame *reply, void *arg)
{
    struct mon_daemon *d = arg;
    struct proto_mon_reply *rep = malloc(sizeof(*rep));
    uint64_t lead = mon_raft_leader(d->raft);
    const char *name = lead ? mon__name_of(d, lead) : NULL;

    d->view.busy = false;
    if (result == 0 && rep && proto_mon_reply_decode(reply->meta, reply->hdr.meta_len, rep) == 0 &&
        rep->has_status && name && strcmp(rep->status.leader, name) == 0) {
        d->view.leader = lead;
        d->view.at_ns = cairn_now_ns();
        d->view.n_quorum = CAIRN_MIN(rep->status.n_quorum, PROTO_MAP_MAX_MONS);
        memcpy(d->view.quorum, rep->status.quorum, sizeof(d->view.quorum));
    }
    free(rep);
    if (reply)
        proto_frame_free(reply);
}

void mon__peer_poll_status(struct mon_daemon *d)
{
    struct proto_conn *c = leader_conn(d);

    if (!c || d->view.busy)
        return;
    if (proto_conn_request(c, PROTO_MSG_MON_STATUS, NULL, 0, NULL, 0, MON_STATUS_POLL_MS, status_cb,
                           d) == 0)
        d->view.busy = true;
}

static void quorum_add(struct proto_mon_status *st, const char *name)
{
    if (name && st->n_quorum < PROTO_MAP_MAX_MONS)
        snprintf(st->quorum[st->n_quorum++], sizeof(st->quorum[0]), "%s", name);
}

void mon__status_quorum(struct mon_daemon *d, struct proto_mon_status *st)
{
    uint64_t lead = mon_raft_leader(d->raft), now = cairn_now_ns();
    uint64_t recent_ns = (uint64_t)d->opts.election_ticks * d->opts.tick_ms * 1000000u;
    const struct mon_raft_membership *m = mon_raft_membership(d->raft);
    const char *name = lead ? mon__name_of(d, lead) : NULL;

    st->n_quorum = 0;
    snprintf(st->leader, sizeof(st->leader), "%s", name ? name : "");
    if (lead == d->id) {
        /* Voters the leader heard from within an election timeout. */
        for (uint32_t i = 0; i < m->n_voters; i++) {
            struct mon_peer *p = mon__peer_by_id(d, m->voters[i]);
            if (m->voters[i] == d->id || (p && p->heard_ns && now - p->heard_ns < recent_ns))
                quorum_add(st, mon__name_of(d, m->voters[i]));
        }
    } else if (lead && d->view.leader == lead && now - d->view.at_ns < 3 * recent_ns) {
        for (uint32_t i = 0; i < d->view.n_quorum; i++)
            quorum_add(st, d->view.quorum[i]);
    }
}

/* ---- test: partition this monitor from its peers ------------------------- */

void mon__set_isolated(struct mon_daemon *d, bool on)
{
    struct mon_sess *s;

    d->isolated = on;
    TAILQ_FOREACH(s, &d->sessions, link)
    if (sess_is_monitor(s))
        proto_conn_set_blackhole(s->conn, on);
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MON, "test: %s",
              on ? "isolated from every peer monitor" : "peer traffic restored");
}

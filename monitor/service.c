/* The client-facing side of cairn-mon: the messenger callbacks, sessions,
 * and the PROTO_MSG_MON_* requests (protocol/msg_types.h, protocol/mon.h).
 * Each handler decodes and validates, answers reads from committed state,
 * hands writes to the driver (daemon.c) on the leader or forwards them
 * (peer.c) on a follower. Input from the network never asserts: a bad
 * request gets an error reply, a bad one-way message a rate-limited log line.
 *
 * Who may do what (the peer entity was proven by the handshake):
 *   mon.*     Raft messages, forwarded commands and beacons, everything else
 *   client.*  every command, status, PG stats, maps; test commands only
 *             client.admin
 *   osd.N     OSD_BOOT, OSD_FAILURE (reported as itself), CONFIG_GET,
 *             beacons (with PG stats) for osd.N, status, PG stats, maps
 *   others    status, PG stats and maps */
#include "common/assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "monitor/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD_INPUT_LOGS_PER_S 10u

/* ---- replies ------------------------------------------------------------- */

void mon__reply(struct mon_sess *s, uint64_t txid, uint16_t type, const struct proto_mon_reply *rep,
                const void *data, size_t data_len)
{
    uint8_t *meta;
    size_t len;

    if (!s || txid == 0)
        return;
    int r = proto_mon_reply_encode(rep, &meta, &len);
    if (r == 0) {
        r = proto_conn_reply(s->conn, txid, type, meta, len, data, data_len);
        free(meta);
    }
    if (r < 0)
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_MON, "reply to %s dropped: %s",
                  proto_conn_peer(s->conn), strerror(-r));
}

void mon__reply_error(struct mon_sess *s, uint64_t txid, uint16_t type, int err, const char *fmt,
                      ...)
{
    struct proto_mon_reply *rep;
    va_list ap;

    if (!s || txid == 0 || !(rep = malloc(sizeof(*rep))))
        return;
    proto_mon_reply_init(rep);
    rep->result = err;
    va_start(ap, fmt);
    vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
    va_end(ap);
    mon__reply(s, txid, type, rep, NULL, 0);
    free(rep);
}

/* Logs refused input, at most BAD_INPUT_LOGS_PER_S lines a second. */
__attribute__((format(printf, 2, 3))) static void bad_input(const struct mon_sess *s,
                                                            const char *fmt, ...)
{
    static struct cairn_log_limit limit = {.per_s = BAD_INPUT_LOGS_PER_S};
    char what[200];
    va_list ap;

    if (!cairn_log_limit_allow(&limit, CAIRN_SS_MON, "refused requests"))
        return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_MON, "refused from %s (%s): %s", proto_conn_peer(s->conn),
              proto_conn_addr(s->conn), what);
}

/* ---- who may do what ----------------------------------------------------- */

static bool entity_has_type(const char *entity, const char *type)
{
    size_t n = strlen(type);
    return strncmp(entity, type, n) == 0 && entity[n] == '.';
}

/* The id of an "osd.N" entity, or -1. */
static int32_t osd_id_of_entity(const char *entity)
{
    char *end;

    if (!entity_has_type(entity, "osd") || entity[4] < '0' || entity[4] > '9')
        return -1;
    long v = strtol(entity + 4, &end, 10);
    return *end || v < 0 || v >= (long)PROTO_MAP_MAX_OSDS ? -1 : (int32_t)v;
}

/* Who may run what: client.* and mon.* anything; osd.N only boot and
 * beacon as osd.N (id -1 on boot means its own id), failure reports and
 * config reads. Every failure report is filed under the sender's entity, so
 * nobody can pose as other reporters. */
static int authorize(const struct mon_sess *s, struct proto_mon_cmd *cmd)
{
    const char *who = proto_conn_peer(s->conn);
    int32_t osd = osd_id_of_entity(who);

    if (cmd->op == PROTO_MON_OSD_FAILURE)
        snprintf(cmd->name, sizeof(cmd->name), "%s", who);
    if (entity_has_type(who, "client") || entity_has_type(who, "mon"))
        return 0;
    if (osd < 0)
        return -EACCES;
    switch (cmd->op) {
    case PROTO_MON_OSD_BOOT:
        if (cmd->id == -1)
            cmd->id = osd;
        return cmd->id == osd ? 0 : -EACCES;
    case PROTO_MON_OSD_BEACON:
        return cmd->id == osd ? 0 : -EACCES;
    case PROTO_MON_OSD_FAILURE:
    case PROTO_MON_CONFIG_GET:
        return 0;
    default:
        return -EACCES;
    }
}

/* A report counts only from a client, a monitor, or an OSD the map has up:
 * an isolated OSD that sees everyone as dead must not mark them down. */
static bool reporter_is_credible(struct mon_daemon *d, const char *reporter)
{
    int32_t osd = osd_id_of_entity(reporter);
    if (osd < 0)
        return true;
    const struct proto_map_osd *o = proto_map_osd(mon_cluster_map(d->cluster), osd);
    return o != NULL && o->up;
}

static bool op_is_read_only(uint32_t op)
{
    return op == PROTO_MON_KEY_GET || op == PROTO_MON_KEY_LS || op == PROTO_MON_CONFIG_GET;
}

static bool sess_is_monitor(const struct mon_sess *s);

/* ---- commands ------------------------------------------------------------ */

struct request {
    struct mon_sess *s;
    uint64_t txid;
    uint16_t type;  /* reply type: the request's */
    bool forwarded; /* arrived as PROTO_MSG_MON_FORWARD from a monitor */
};

static void answer_query(struct mon_daemon *d, const struct request *q,
                         const struct proto_mon_cmd *cmd)
{
    struct proto_mon_reply *rep = malloc(sizeof(*rep));

    if (!rep) {
        mon__reply_error(q->s, q->txid, q->type, -ENOMEM, "out of memory");
        return;
    }
    proto_mon_reply_init(rep);
    mon_cluster_query(d->cluster, cmd, rep);
    rep->epoch = mon_cluster_map(d->cluster)->epoch;
    mon__reply(q->s, q->txid, q->type, rep, NULL, 0);
    free(rep);
}

static void leader_failure_report(struct mon_daemon *d, const struct request *q,
                                  const struct proto_mon_cmd *cmd)
{
    if (cmd->id < 0 || !proto_entity_is_valid(cmd->name)) {
        mon__reply_error(q->s, q->txid, q->type, -EINVAL, "osd failure needs an id and a reporter");
        return;
    }
    if (!reporter_is_credible(d, cmd->name)) {
        mon__reply_error(q->s, q->txid, q->type, 0, "failure report ignored: %s is not up",
                         cmd->name);
        return;
    }
    if (d->failure)
        mon_failure_report(d->failure, cmd->id, cmd->name, mon__now_ms());
    mon__reply_error(q->s, q->txid, q->type, 0, "failure report noted");
}

static void leader_write(struct mon_daemon *d, const struct request *q, struct proto_mon_cmd *cmd)
{
    char msg[PROTO_MON_MESSAGE_MAX] = "";
    int r = mon__prepare_command(d, cmd);

    if (r == 0 && (r = mon_cluster_check(d->cluster, cmd, msg, sizeof(msg))) < 0) {
        mon__reply_error(q->s, q->txid, q->type, r, "%s", msg);
        return;
    }
    if (r == 0)
        r = mon__propose(d, cmd, q->s, q->txid, q->type);
    if (r == -EREMOTE || r == -EAGAIN)
        mon__reply_error(q->s, q->txid, q->type, -EAGAIN, "%s; retry",
                         r == -EREMOTE ? "leadership changed" : "the log is busy");
    else if (r < 0)
        mon__reply_error(q->s, q->txid, q->type, r, "cannot propose: %s", strerror(-r));
}

/* A write (or failure report) on a follower: to the leader. */
static void follower_write(struct mon_daemon *d, const struct request *q,
                           const struct proto_mon_cmd *cmd)
{
    uint8_t *meta;
    size_t len;

    if (q->forwarded) { /* never forward twice: the sender's view was stale */
        mon__reply_error(q->s, q->txid, q->type, -EAGAIN, "mon.%s is not the leader; retry",
                         d->opts.name);
        return;
    }
    if (proto_mon_cmd_encode(cmd, &meta, &len) < 0) {
        mon__reply_error(q->s, q->txid, q->type, -ENOMEM, "out of memory");
        return;
    }
    int r = mon__forward_command(d, q->s, q->txid, q->type, meta, len);
    free(meta);
    if (r < 0)
        mon__reply_error(q->s, q->txid, q->type, -EAGAIN, "%s",
                         mon_raft_leader(d->raft) ? "the leader is unreachable; retry"
                                                  : "no leader elected yet; retry");
}

/* A beacon, with the PG stats (@stats NULL or beacon_ms 0: none) and
 * store usage (has_store) it carries; the leader takes stats->pgs. */
static void handle_beacon_cmd(struct mon_daemon *d, const struct proto_mon_cmd *cmd,
                              struct proto_pg_stats *stats, const uint8_t *meta, size_t len)
{
    if (mon__is_leader(d)) {
        if (d->failure && cmd->id >= 0)
            mon_failure_beacon(d->failure, cmd->id, mon__now_ms());
        if (d->pgstats && stats && (stats->beacon_ms || stats->has_store))
            mon_pgstats_report(d->pgstats, cmd->id, stats, mon__now_ms());
    } else {
        mon__forward_beacon(d, meta, len);
    }
}

static void handle_command(struct mon_daemon *d, const struct request *q,
                           const struct proto_frame *f)
{
    struct proto_mon_cmd cmd;
    int r = proto_mon_cmd_decode(f->meta, f->hdr.meta_len, &cmd);

    if (r < 0) {
        bad_input(q->s, "undecodable MonCommand (%s)", strerror(-r));
        mon__reply_error(q->s, q->txid, q->type, r, "undecodable MonCommand");
        return;
    }
    if (!q->forwarded && authorize(q->s, &cmd) < 0) {
        bad_input(q->s, "%s not allowed", proto_mon_op_name(cmd.op));
        mon__reply_error(q->s, q->txid, q->type, -EACCES, "%s may not run %s",
                         proto_conn_peer(q->s->conn), proto_mon_op_name(cmd.op));
        return;
    }
    if (!d->has_state) {
        mon__reply_error(q->s, q->txid, q->type, -EAGAIN,
                         "mon.%s has not joined the cluster yet; retry", d->opts.name);
    } else if (op_is_read_only(cmd.op)) {
        answer_query(d, q, &cmd);
    } else if (cmd.op == PROTO_MON_OSD_BEACON) {
        handle_beacon_cmd(d, &cmd, NULL, f->meta, f->hdr.meta_len);
        mon__reply_error(q->s, q->txid, q->type, 0, "beacon noted");
    } else if (!mon__is_leader(d)) {
        follower_write(d, q, &cmd);
    } else if (cmd.op == PROTO_MON_OSD_FAILURE) {
        leader_failure_report(d, q, &cmd);
    } else {
        leader_write(d, q, &cmd);
    }
}

/* ---- status, maps, subscriptions ----------------------------------------- */

void mon__status(struct mon_daemon *d, struct proto_mon_status *st)
{
    memset(st, 0, sizeof(*st));
    mon__status_quorum(d, st);
    st->term = mon_raft_term(d->raft);
    st->commit_index = mon_raft_commit(d->raft);
    st->applied_index = mon_raft_applied(d->raft);
    st->epoch = d->has_state ? mon_cluster_map(d->cluster)->epoch : 0;
}

static void handle_status(struct mon_daemon *d, const struct request *q,
                          const struct proto_frame *f)
{
    struct proto_mon_reply *rep = malloc(sizeof(*rep));

    if (!rep)
        return;
    proto_mon_reply_init(rep);
    rep->has_status = true;
    mon__status(d, &rep->status);
    rep->epoch = rep->status.epoch;
    mon__reply(q->s, q->txid, q->type, rep, NULL, 0);
    free(rep);
}

/* PG_STATS: the leader answers from its soft state; a follower relays the
 * question once (never a monitor's: no loops) and says -ENODATA when it
 * cannot, so that the CLI falls back to the map at once. */
static void handle_pg_stats(struct mon_daemon *d, const struct request *q)
{
    struct proto_pg_stats st;
    struct proto_mon_reply *rep;
    uint8_t *buf = NULL;
    size_t len = 0;

    if (!d->has_state || !mon__is_leader(d) || !d->pgstats) {
        if (d->has_state && !mon__is_leader(d) && !sess_is_monitor(q->s) &&
            mon__forward_pg_stats(d, q->s, q->txid) == 0)
            return;
        mon__reply_error(q->s, q->txid, q->type, -ENODATA, "mon.%s has no PG stats: %s",
                         d->opts.name, mon__is_leader(d) ? "out of memory" : "not the leader");
        return;
    }
    if (mon_pgstats_collect(d->pgstats, mon_cluster_map(d->cluster), mon__now_ms(), &st) < 0 ||
        proto_mon_pg_stats_encode(&st, &buf, &len) < 0 || !(rep = malloc(sizeof(*rep)))) {
        proto_pg_stats_fini(&st);
        free(buf);
        mon__reply_error(q->s, q->txid, q->type, -ENOMEM, "out of memory");
        return;
    }
    proto_mon_reply_init(rep);
    rep->epoch = mon_cluster_map(d->cluster)->epoch;
    mon__reply(q->s, q->txid, q->type, rep, buf, len);
    proto_pg_stats_fini(&st);
    free(buf);
    free(rep);
}

/* Answers GET_MAP and SUBSCRIBE: the map rides along when newer than the
 * asker's epoch. */
static void answer_map(struct mon_daemon *d, const struct request *q, uint64_t have)
{
    const struct proto_map *map = mon_cluster_map(d->cluster);
    struct proto_mon_reply *rep = malloc(sizeof(*rep));
    uint8_t *buf = NULL;
    size_t len = 0;

    if (!rep || (map->epoch > have && proto_map_encode(map, &buf, &len) < 0)) {
        free(rep);
        mon__reply_error(q->s, q->txid, q->type, -ENOMEM, "out of memory");
        return;
    }
    proto_mon_reply_init(rep);
    rep->epoch = map->epoch;
    mon__reply(q->s, q->txid, q->type, rep, buf, len);
    free(buf);
    free(rep);
}

static void handle_map_request(struct mon_daemon *d, const struct request *q,
                               const struct proto_frame *f)
{
    uint64_t have = 0;
    int r = proto_mon_map_request_decode(f->meta, f->hdr.meta_len, &have);

    if (r < 0) {
        bad_input(q->s, "undecodable MapRequest");
        mon__reply_error(q->s, q->txid, q->type, r, "undecodable MapRequest");
        return;
    }
    if (!d->has_state) {
        mon__reply_error(q->s, q->txid, q->type, -EAGAIN,
                         "mon.%s has not joined the cluster yet; retry", d->opts.name);
        return;
    }
    answer_map(d, q, have);
    if (f->hdr.type == PROTO_MSG_MON_SUBSCRIBE) {
        q->s->subscribed = true;
        q->s->sent_epoch = CAIRN_MAX(have, mon_cluster_map(d->cluster)->epoch);
    }
}

void mon__push_maps(struct mon_daemon *d)
{
    const struct proto_map *map = mon_cluster_map(d->cluster);
    struct mon_sess *s;
    uint8_t *buf = NULL;
    size_t len = 0;

    if (!d->has_state || map->epoch <= d->pushed_epoch)
        return;
    if (proto_map_encode(map, &buf, &len) < 0)
        return; /* subscribers catch up with the next epoch or their keepalive */
    d->pushed_epoch = map->epoch;
    TAILQ_FOREACH(s, &d->sessions, link)
    {
        if (!s->subscribed || s->sent_epoch >= map->epoch)
            continue;
        if (proto_conn_send(s->conn, PROTO_MSG_MON_MAP_UPDATE, NULL, 0, buf, len) == 0)
            s->sent_epoch = map->epoch;
    }
    free(buf);
}

/* ---- one-way messages and test commands ---------------------------------- */

static void handle_beacon(struct mon_daemon *d, struct mon_sess *s, const struct proto_frame *f)
{
    const char *who = proto_conn_peer(s->conn);
    struct proto_pg_stats stats = {0};
    struct proto_mon_cmd cmd;
    int r = proto_mon_beacon_decode(f->meta, f->hdr.meta_len, &cmd, &stats);

    if (r < 0) {
        bad_input(s, "malformed beacon (%s)", strerror(-r));
        return;
    }
    if (!entity_has_type(who, "mon") && osd_id_of_entity(who) != cmd.id)
        bad_input(s, "beacon for osd.%d", cmd.id);
    else if (d->has_state)
        handle_beacon_cmd(d, &cmd, &stats, f->meta, f->hdr.meta_len);
    proto_pg_stats_fini(&stats);
}

static void handle_isolate(struct mon_daemon *d, const struct request *q,
                           const struct proto_frame *f)
{
    if (!d->opts.allow_test_commands) {
        bad_input(q->s, "test command while mon_allow_test_commands is off");
        mon__reply_error(q->s, q->txid, q->type, -EPERM,
                         "test commands are disabled (mon_allow_test_commands)");
        return;
    }
    if (strcmp(proto_conn_peer(q->s->conn), "client.admin") != 0) {
        mon__reply_error(q->s, q->txid, q->type, -EACCES, "test commands need client.admin");
        return;
    }
    if (f->hdr.data_len != 1 || (f->data[0] != '0' && f->data[0] != '1')) {
        mon__reply_error(q->s, q->txid, q->type, -EINVAL, "isolate takes \"1\" or \"0\"");
        return;
    }
    mon__set_isolated(d, f->data[0] == '1');
    mon__reply_error(q->s, q->txid, q->type, 0, "%s", d->isolated ? "isolated" : "healed");
}

/* ---- dispatch ------------------------------------------------------------ */

static bool sess_is_monitor(const struct mon_sess *s)
{
    return entity_has_type(proto_conn_peer(s->conn), "mon");
}

/* A monitor whose own map no longer lists it has been removed (mon rm):
 * its state stops advancing, so it must not serve clients, or they would
 * read a stale map or retry commands there. Raft and forwarded traffic
 * still flow, so a removed leader can hand over. */
static bool refuse_if_removed(struct mon_daemon *d, const struct request *q,
                              const struct proto_frame *f)
{
    if (q->forwarded || !d->has_state || f->hdr.type == MON_MSG_TEST_ISOLATE ||
        proto_map_mon(mon_cluster_map(d->cluster), d->opts.name) != NULL)
        return false;
    mon__reply_error(q->s, q->txid, q->type, -EAGAIN,
                     "mon.%s has been removed from the cluster; ask another monitor",
                     d->opts.name);
    return true;
}

/* Requests: true when handled. */
static bool dispatch_request(struct mon_daemon *d, const struct request *q,
                             const struct proto_frame *f)
{
    if (refuse_if_removed(d, q, f))
        return true;
    switch (f->hdr.type) {
    case PROTO_MSG_MON_COMMAND:
        handle_command(d, q, f);
        return true;
    case PROTO_MSG_MON_FORWARD:
        if (!q->forwarded) {
            mon__reply_error(q->s, q->txid, q->type, -EACCES, "only monitors forward");
            bad_input(q->s, "forward from a non-monitor");
        } else {
            handle_command(d, q, f);
        }
        return true;
    case PROTO_MSG_MON_STATUS:
        handle_status(d, q, f);
        return true;
    case PROTO_MSG_MON_PG_STATS:
        handle_pg_stats(d, q);
        return true;
    case PROTO_MSG_MON_GET_MAP:
    case PROTO_MSG_MON_SUBSCRIBE:
        handle_map_request(d, q, f);
        return true;
    case MON_MSG_TEST_ISOLATE:
        handle_isolate(d, q, f);
        return true;
    }
    return false;
}

static void on_message(struct proto_conn *conn, struct proto_frame *f, void *arg)
{
    struct mon_daemon *d = arg;
    struct mon_sess *s = proto_conn_get_data(conn);
    struct request q = {.s = s, .txid = f->hdr.txid, .type = f->hdr.type};

    if (!s || d->fatal)
        goto out;
    q.forwarded = f->hdr.type == PROTO_MSG_MON_FORWARD && sess_is_monitor(s);
    if (f->hdr.txid != 0) {
        if (!dispatch_request(d, &q, f)) {
            bad_input(s, "unknown request type %u", f->hdr.type);
            mon__reply_error(s, q.txid, q.type, -EOPNOTSUPP, "unknown request type %u",
                             f->hdr.type);
        }
    } else if (f->hdr.type == PROTO_MSG_MON_RAFT && sess_is_monitor(s)) {
        mon__peer_on_raft(d, s, f);
    } else if (f->hdr.type == PROTO_MSG_MON_BEACON) {
        handle_beacon(d, s, f);
    } else {
        bad_input(s, "unexpected one-way message type %u", f->hdr.type);
    }
out:
    proto_frame_free(f);
}

static void on_open(struct proto_conn *conn, void *arg)
{
    struct mon_daemon *d = arg;
    struct mon_sess *s = proto_conn_get_data(conn);

    if (s) /* our outgoing connection to a peer, reconnected */
        return;
    if (!(s = calloc(1, sizeof(*s)))) {
        proto_conn_close(conn);
        return;
    }
    s->d = d;
    s->conn = conn;
    proto_conn_set_data(conn, s);
    TAILQ_INSERT_TAIL(&d->sessions, s, link);
    mon__peer_sess_opened(d, s);
}

static void on_close(struct proto_conn *conn, int reason, void *arg)
{
    struct mon_daemon *d = arg;
    struct mon_sess *s = proto_conn_get_data(conn);
    struct mon_waiter *w;

    if (!s)
        return;
    TAILQ_FOREACH(w, &d->waiters, link)
    if (w->sess == s)
        w->sess = NULL;
    mon__peer_sess_closed(d, s);
    TAILQ_REMOVE(&d->sessions, s, link);
    proto_conn_set_data(conn, NULL);
    free(s);
}

const struct proto_msgr_handlers mon__handlers = {
    .on_message = on_message,
    .on_open = on_open,
    .on_close = on_close,
};

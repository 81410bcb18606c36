/* Private interface of the cairn-mon daemon, in sections by defining file:
 * daemon.c (state, the Raft driver, proposals), peer.c (monitor-to-monitor
 * transport), service.c (client-facing messages and sessions), main.c (the
 * command line). Everything runs on the one thread of d->base; nothing here
 * is locked. Overview: monitor/README.md and docs/monitor.md. */
#ifndef CAIRN_MONITOR_INTERNAL_H
#define CAIRN_MONITOR_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "monitor/core/cluster.h"
#include "monitor/core/failure.h"
#include "monitor/core/pgstats.h"
#include "monitor/core/raft.h"
#include "monitor/log_store.h"
#include "protocol/auth.h"
#include "protocol/map.h"
#include "protocol/mon.h"
#include "protocol/msg_types.h"
#include "protocol/msgr.h"

struct event;
struct event_base;

/* A test-only request (msg_types.h range 65000..65535), honoured only from
 * client.admin when the config sets mon_allow_test_commands = true. Data:
 * "1" isolates this monitor from its peers (every monitor-to-monitor
 * connection is blackholed, as a partition would), "0" heals it. Reply:
 * MonReply. */
#define MON_MSG_TEST_ISOLATE ((uint16_t)(PROTO_MSG_TEST_MIN + 100))

#define MON_MAX_PEERS 16u               /* map monitors plus configured ones */
/* A follower's wait for the leader's answer to a forward: below monc's
 * per-attempt timeout, so that clients hear -EAGAIN rather than nothing. */
#define MON_FORWARD_TIMEOUT_MS 8000u
#define MON_STATUS_POLL_MS 1000u        /* followers refresh the leader's quorum view */
#define MON_FAILURE_TICK_MS 1000u       /* the leader's failure detector period */
#define MON_MAX_FAILURE_CMDS 32u        /* commands taken from one detector tick */

/* ---- options (main.c fills them from the config) ---- */

struct mon_opts {
    char name[PROTO_MAP_NAME_MAX];      /* "a" for mon.a */
    char entity[PROTO_ENTITY_MAX];      /* "mon.a" */
    char data_dir[PATH_MAX];            /* mon_data */
    char listen_addr[PROTO_MAP_ADDR_MAX];
    uint8_t fsid[16];
    struct proto_map_mon conf_mons[PROTO_MAP_MAX_MONS]; /* mon_host, in order */
    uint32_t n_conf_mons;
    uint32_t tick_ms;                   /* Raft tick */
    uint32_t election_ticks;
    uint32_t heartbeat_ticks;
    uint64_t snapshot_every;            /* applied entries between snapshots */
    struct mon_failure_opts failure;
    bool allow_test_commands;
};

/* ---- sessions, peers, waiters ---- */

struct mon_daemon;
struct mon_peer;

/* Our state for one connection (proto_conn_set_data): every incoming
 * connection once open, and our outgoing connections to peers. */
struct mon_sess {
    TAILQ_ENTRY(mon_sess) link;         /* on d->sessions */
    struct mon_daemon *d;
    struct proto_conn *conn;
    struct mon_peer *out_peer;          /* our outgoing connection to this peer, else NULL */
    bool subscribed;                    /* gets PROTO_MSG_MON_MAP_UPDATE */
    uint64_t sent_epoch;                /* newest epoch it was sent */
};
TAILQ_HEAD(mon_sess_list, mon_sess);

/* Another monitor. Its Raft id is mon_id_of_name(name). */
struct mon_peer {
    bool used;
    uint64_t id;
    char name[PROTO_MAP_NAME_MAX];
    char addr[PROTO_MAP_ADDR_MAX];      /* "" while unknown (it connected to us) */
    struct proto_conn *out;             /* our connection to addr, or NULL */
    struct mon_sess *in;                /* its newest open connection to us, or NULL */
    uint64_t heard_ns;                  /* monotonic: last Raft message from it */
};

/* A client request waiting for the log (a proposal) or for the leader (a
 * forward). Freed once answered; sess turns NULL if the client leaves. */
struct mon_waiter {
    TAILQ_ENTRY(mon_waiter) link;       /* on d->waiters */
    struct mon_daemon *d;
    struct mon_sess *sess;
    uint64_t txid;
    uint16_t reply_type;
    bool forwarded;                     /* waits for a FORWARD reply, not the log */
    int fail_err;                       /* forwarded: the error a failed forward answers
                                           (0: -EAGAIN, the client retries) */
    uint64_t term, index;               /* the proposed entry */
};
TAILQ_HEAD(mon_waiter_list, mon_waiter);

/* The leader's quorum as a follower last heard it (for STATUS). */
struct mon_leader_view {
    uint64_t leader;                    /* id the view came from */
    uint64_t at_ns;                     /* monotonic time it arrived */
    uint32_t n_quorum;
    char quorum[PROTO_MAP_MAX_MONS][PROTO_MAP_NAME_MAX];
    bool busy;                          /* a poll is in flight */
};

struct mon_daemon {
    struct mon_opts opts;
    uint64_t id;                        /* our Raft id */
    uint8_t fsid[16];                   /* the cluster's, from the store's identity */
    struct event_base *base;
    struct event *tick_ev;
    struct event *drive_ev;             /* runs mon__drive once per loop turn */
    struct event *sig_ev[2];            /* SIGTERM, SIGINT */
    struct proto_keyring *keyring;      /* the messenger's: file keys + applied keys */
    struct proto_keyring *file_keyring; /* the keyring file alone (KEY_RM falls back to it) */
    struct proto_msgr *msgr;
    struct mon_log_store *store;
    struct mon_raft *raft;
    struct mon_cluster *cluster;
    bool has_state;                     /* false for a joiner until its first snapshot */
    struct mon_failure *failure;        /* leader only */
    struct mon_pgstats *pgstats;        /* leader only: the OSDs' PG stats (soft state) */
    struct mon_peer peers[MON_MAX_PEERS];
    struct mon_sess_list sessions;
    struct mon_waiter_list waiters;
    struct mon_leader_view view;
    uint64_t ticks;
    uint64_t seen_term;                 /* term and role at the end of the last drive */
    bool seen_leader;
    uint64_t seen_lead;
    uint64_t pushed_epoch;              /* newest epoch pushed to subscribers */
    bool isolated;                      /* test: peers blackholed */
    bool fatal;                         /* the store failed: stop (sticky) */
    struct proto_mon_reply apply_reply; /* scratch: the reply of the entry being applied */
    struct mon_raft_entry *in_ents;     /* scratch: MON_RAFT_MAX_MSG_ENTRIES */
    void *out_ents;                     /* scratch: struct proto_raft_entry[...] */
};

/* ---- daemon.c ---- */

/* The Raft id of monitor @name: FNV-1a 64 of the name (1 if that is 0), so
 * every monitor derives the same id from the map with no coordination and a
 * monitor added later gets one too. */
uint64_t mon_id_of_name(const char *name);

/* --mkfs: creates @o->data_dir with the store. @join: an empty monitor that
 * learns everything from the leader. 0, or -EEXIST (not empty), -EINVAL
 * (bad mon_host), -errno, with a one-line reason in @why. */
int mon__mkfs(const struct mon_opts *o, bool join, char *why, size_t why_len);
/* Opens the store, rebuilds the state, listens. Takes ownership of the
 * keyrings. 0 or -errno (logged). */
int mon__daemon_open(const struct mon_opts *o, struct proto_keyring *kr,
                     struct proto_keyring *file_kr, struct mon_daemon **out);
/* Runs the loop until SIGTERM/SIGINT (0) or a fatal store error (-EIO). */
int mon__daemon_run(struct mon_daemon *d);
void mon__daemon_close(struct mon_daemon *d);

/* The Raft driver: while the core has a ready, persist (synced), send,
 * apply, advance; then react to role changes and compact. Called after
 * every step, tick and proposal. */
void mon__drive(struct mon_daemon *d);
/* Schedules one mon__drive at the end of this loop turn, so that every
 * proposal and Raft message that arrives in the turn shares one synced
 * write and one round of messages (STYLE §7: flush once per turn). */
void mon__drive_soon(struct mon_daemon *d);
bool mon__is_leader(const struct mon_daemon *d);
/* Name of monitor @id from the map or the peer table; NULL if unknown. */
const char *mon__name_of(const struct mon_daemon *d, uint64_t id);
/* Leader, before check and propose: stamps @cmd with the wall clock and,
 * for KEY_CREATE, the new key (the keyring file's key for an entity it
 * knows, else a fresh random one). 0 or -EIO. */
int mon__prepare_command(struct mon_daemon *d, struct proto_mon_cmd *cmd);
/* Proposes @cmd; on 0 a waiter answers @sess when the entry applies (@sess
 * may be NULL: nobody waits). -EREMOTE (not the leader), -EAGAIN,
 * -EMSGSIZE, -ENOMEM from the core; the caller answers. */
int mon__propose(struct mon_daemon *d, const struct proto_mon_cmd *cmd, struct mon_sess *sess,
                 uint64_t txid, uint16_t reply_type);
uint64_t mon__now_ms(void);

/* ---- peer.c ---- */

/* Brings the peer table in line with the map's monitors (and, for a
 * monitor without state yet, the configured ones): connects, reconnects on
 * an address change, closes removed peers. */
void mon__peers_sync(struct mon_daemon *d);
void mon__peers_close(struct mon_daemon *d);
struct mon_peer *mon__peer_by_id(struct mon_daemon *d, uint64_t id);
/* Sends one Raft message from a ready (dropped when the peer is unreachable:
 * Raft retransmits). */
void mon__peer_send_raft(struct mon_daemon *d, const struct mon_raft_msg *m);
/* A PROTO_MSG_MON_RAFT frame from monitor session @s. */
void mon__peer_on_raft(struct mon_daemon *d, struct mon_sess *s, struct proto_frame *f);
/* An incoming session from a monitor opened or closed. */
void mon__peer_sess_opened(struct mon_daemon *d, struct mon_sess *s);
void mon__peer_sess_closed(struct mon_daemon *d, struct mon_sess *s);
/* Forwards a client's encoded MonCommand to the leader; the reply is relayed
 * to @sess. 0, or -EAGAIN when no leader is reachable (caller answers). */
int mon__forward_command(struct mon_daemon *d, struct mon_sess *sess, uint64_t txid,
                         uint16_t reply_type, const uint8_t *meta, size_t meta_len);
/* Relays a PG_STATS request to the leader, its reply to @sess (an error
 * reply -ENODATA when the forward fails). 0, or -ENODATA when no leader is
 * reachable (caller answers). */
int mon__forward_pg_stats(struct mon_daemon *d, struct mon_sess *sess, uint64_t txid);
/* Forwards a beacon one-way to the leader (dropped when none is known). */
void mon__forward_beacon(struct mon_daemon *d, const uint8_t *meta, size_t meta_len);
/* Followers: refreshes d->view from the leader now and then. */
void mon__peer_poll_status(struct mon_daemon *d);
/* Fills @st's leader and quorum. */
void mon__status_quorum(struct mon_daemon *d, struct proto_mon_status *st);
void mon__set_isolated(struct mon_daemon *d, bool on);

/* ---- service.c ---- */

extern const struct proto_msgr_handlers mon__handlers;
/* Encodes and sends @rep (plus @data) as the reply to @txid on @s; logs and
 * drops it when the connection is gone. */
void mon__reply(struct mon_sess *s, uint64_t txid, uint16_t type,
                const struct proto_mon_reply *rep, const void *data, size_t data_len);
/* Replies with result @err and a formatted one-line message. */
void mon__reply_error(struct mon_sess *s, uint64_t txid, uint16_t type, int err,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Pushes the current map to every subscriber that has not seen it. */
void mon__push_maps(struct mon_daemon *d);
/* Fills @st with this monitor's view (MON_STATUS). */
void mon__status(struct mon_daemon *d, struct proto_mon_status *st);

#endif

/* The monitor client: how the CLI, libcairn and the OSD talk to the monitors
 * (DESIGN.md §5). It runs on the caller's event_base and messenger, keeps
 * one session with one monitor at a time, finds one by hunting through the
 * mon_host list, resends calls when the session breaks, and keeps a
 * subscriber's map current. The monitor side is monitor/; the messages are
 * PROTO_MSG_MON_* (protocol/msg_types.h) with the structs of protocol/mon.h.
 *
 * Every function is called on the thread running the messenger's
 * event_base; every callback runs there too. An asynchronous call that
 * returns an error never fires its callback; one that returns 0 fires it
 * exactly once: with the answer, when the call's deadline passes
 * (-ETIMEDOUT), when every monitor refused our key (-EACCES), or from
 * proto_monc_destroy() (-ECANCELED). Commands are resent after a timeout or
 * a lost session, so a non-idempotent command that did apply may come back
 * as e.g. -EEXIST. Details and the state diagram: monc.c. */
#ifndef CAIRN_PROTOCOL_MONC_H
#define CAIRN_PROTOCOL_MONC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/frame.h"
#include "protocol/map.h"
#include "protocol/mon.h"

struct event_base;
struct proto_msgr;
struct proto_conn;
struct proto_monc;
struct cairn_clock;

#define PROTO_MONC_PROBE_TIMEOUT_MS 2000u
#define PROTO_MONC_REQUEST_TIMEOUT_MS 10000u
#define PROTO_MONC_OP_TIMEOUT_MS 30000u
#define PROTO_MONC_BACKOFF_MIN_MS 100u
#define PROTO_MONC_BACKOFF_MAX_MS 2000u
#define PROTO_MONC_KEEPALIVE_MS 2000u

/* Zero fields take the defaults above. */
struct proto_monc_opts {
    const struct proto_map_mon *mons; /* the monitors to hunt among; copied */
    uint32_t n_mons;                  /* 1..PROTO_MAP_MAX_MONS */
    uint32_t probe_timeout_ms;        /* a hunt's wait for a monitor's answer */
    uint32_t request_timeout_ms;      /* one attempt of a call on the session */
    uint32_t op_timeout_ms;           /* a call's overall deadline, retries included */
    uint32_t backoff_min_ms;          /* first delay after a failed hunt or -EAGAIN; doubles */
    uint32_t backoff_max_ms;          /* the delay's upper bound */
    uint32_t keepalive_ms;            /* while subscribed: how often the session is checked */
    const struct cairn_clock *clock;  /* for deadlines; NULL = the real clock; borrowed */
};

/* Counters, for tests and logs. */
struct proto_monc_stats {
    uint64_t hunts;    /* hunts started */
    uint64_t sessions; /* sessions established */
    uint64_t resends;  /* calls sent again after a failure or -EAGAIN/-EREMOTE */
    uint64_t maps;     /* new map epochs received */
};

/* A command's or status call's outcome. @reply is non-NULL when a monitor
 * answered (then @result == reply->result, 0 or the command's -errno, and
 * reply->message says why it failed); NULL when none did: -ETIMEDOUT,
 * -EACCES, -ECANCELED, -EBADMSG (undecodable answer), -ENOMEM. @reply is
 * valid during the call only. */
typedef void (*proto_monc_reply_cb)(int result, const struct proto_mon_reply *reply, void *arg);
/* proto_monc_get_map()'s outcome: 0 and a map the callback owns (free it
 * with proto_map_destroy), or -errno as above and NULL. */
typedef void (*proto_monc_map_cb)(int result, struct proto_map *map, void *arg);
/* proto_monc_pg_stats()'s outcome: @result and @reply as for
 * proto_monc_reply_cb (-ENODATA: the monitor has no stats to give, e.g.
 * no leader; -EOPNOTSUPP: an older monitor); @stats is non-NULL exactly
 * when @result is 0, valid during the call only (the callback may take
 * stats->pgs and stats->usage, leaving NULL there). */
typedef void (*proto_monc_pg_stats_cb)(int result, const struct proto_mon_reply *reply,
                                       struct proto_pg_stats *stats, void *arg);
/* A subscriber's new map, borrowed: valid during the call only. */
typedef void (*proto_monc_sub_cb)(const struct proto_map *map, void *arg);

/* Parses a mon_host value, "NAME=ADDR[,NAME=ADDR...]" such as
 * "a=127.0.0.1:6789,b=[::1]:6790,c=unix:/run/mon.c" (NAME may carry the
 * "mon." prefix; spaces around entries are ignored), into @out (@max
 * entries). 0 and *@n; -EINVAL with a reason in @err (if not NULL) for an
 * empty list or entry, an entry without '=', a bad name or address, a
 * duplicate name or address; -ENOSPC for more than @max monitors. */
int proto_monc_parse_mon_host(const char *text, struct proto_map_mon *out, uint32_t max,
                              uint32_t *n, char *err, size_t err_len);

/* Creates a monitor client on @msgr (whose keyring must hold the key of
 * each monitor entity mon.NAME). Idle until the first call. 0, -EINVAL (no
 * or too many monitors, a bad monitor name), -ENOMEM. */
int proto_monc_create(struct event_base *base, struct proto_msgr *msgr,
                      const struct proto_monc_opts *opts, struct proto_monc **out);
/* Fires every pending callback with -ECANCELED, closes its connections and
 * frees @monc. Call before destroying the messenger; not from a monc callback. */
void proto_monc_destroy(struct proto_monc *monc);

/* Offers a frame from the messenger's on_message handler: returns true when
 * monc took it (a PROTO_MSG_MON_MAP_UPDATE; @frame's buffers are then
 * freed), false when it is not monc's (the caller keeps handling it). */
bool proto_monc_handle_message(struct proto_monc *monc, struct proto_conn *conn,
                               struct proto_frame *frame);

/* Sends @cmd (copied) to the monitors; @cb gets the reply. 0, -EINVAL (no
 * @cb, a beacon), -ENOMEM. */
int proto_monc_command(struct proto_monc *monc, const struct proto_mon_cmd *cmd,
                       proto_monc_reply_cb cb, void *arg);
/* Asks where the quorum stands; @cb gets a reply with has_status set. A
 * follower's answer naming another monitor as the leader moves the session
 * to that leader and asks it (twice at most), since only the leader knows
 * the quorum first-hand. 0, -EINVAL, -ENOMEM. */
int proto_monc_status(struct proto_monc *monc, proto_monc_reply_cb cb, void *arg);
/* Fetches the leader's soft-state PG stats (PROTO_MSG_MON_PG_STATS; a
 * follower relays the question). 0, -EINVAL, -ENOMEM. */
int proto_monc_pg_stats(struct proto_monc *monc, proto_monc_pg_stats_cb cb, void *arg);
/* Fetches the latest committed map. 0, -EINVAL, -ENOMEM. */
int proto_monc_get_map(struct proto_monc *monc, proto_monc_map_cb cb, void *arg);

/* Subscribes to map updates: @cb gets each map newer than the last one it
 * got, in increasing epochs (epochs committed in a burst may be skipped),
 * from whichever monitor the session is with; after a lost session monc
 * hunts again and resubscribes from the epoch it has. Never fails later:
 * it keeps hunting. 0, -EBUSY (already subscribed), -EINVAL. */
int proto_monc_subscribe(struct proto_monc *monc, proto_monc_sub_cb cb, void *arg);
void proto_monc_unsubscribe(struct proto_monc *monc);

/* Sends a one-way PROTO_MSG_MON_BEACON carrying @cmd (op OSD_BEACON) on the
 * session, starting a hunt when there is none. 0, -EINVAL (another op),
 * -ENOTCONN (no session yet: try again at the next beacon), -ENOBUFS, -ENOMEM. */
int proto_monc_beacon(struct proto_monc *monc, const struct proto_mon_cmd *cmd);
/* The same with the sender's PG stats and store usage (@stats NULL:
 * none; see proto_mon_beacon_encode); -EINVAL also for bad @stats. */
int proto_monc_beacon_stats(struct proto_monc *monc, const struct proto_mon_cmd *cmd,
                            const struct proto_pg_stats *stats);

/* The newest map monc has seen (NULL before the first); valid until control
 * returns to the event loop. */
const struct proto_map *proto_monc_map(const struct proto_monc *monc);
/* The name of the monitor of the current session, or NULL while hunting. */
const char *proto_monc_session_mon(const struct proto_monc *monc);
void proto_monc_get_stats(const struct proto_monc *monc, struct proto_monc_stats *out);

#endif

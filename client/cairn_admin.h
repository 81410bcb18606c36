/* libcairn's admin calls: monitor commands, quorum status, the cluster map
 * and PG scrubs, for the `cairn` CLI, cairn-bench and tests. They use the
 * structs of protocol/mon.h and protocol/map.h; gateways use client/cairn.h
 * only.
 *
 * Every call here is synchronous and thread-safe (see client/cairn.h) and
 * is bounded by the connection's timeout (cairn_connect_opts.timeout_ms or
 * client_mount_timeout): monitors are hunted for, and calls resent, until
 * then. A command resent after a lost answer may report the outcome of its
 * second attempt (e.g. -EEXIST for a pool the first attempt created). */
#ifndef CAIRN_CLIENT_CAIRN_ADMIN_H
#define CAIRN_CLIENT_CAIRN_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "client/cairn.h"
#include "protocol/map.h"
#include "protocol/mon.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs @cmd (any op but OSD_BEACON) on the monitors and waits for the
 * answer, which always lands in @reply: reply->result is the return value
 * and reply->message a one-line reason when it is negative, also when no
 * monitor answered. Returns 0 or the command's -errno (-EEXIST, -ENOENT,
 * -EINVAL, -EBUSY, -ENOSPC, -EAGAIN when no leader was elected in time, ...),
 * or -ETIMEDOUT (no monitor reachable), -EACCES (key refused), -EINVAL (a
 * beacon), -ECANCELED (shutdown), -ENOMEM. */
int cairn_mon_command(struct cairn *c, const struct proto_mon_cmd *cmd,
                      struct proto_mon_reply *reply);

/* Where the monitors stand, as one monitor (preferably one that knows the
 * leader) sees it: leader, quorum, term, commit index, map epoch. 0 or the
 * transport errors of cairn_mon_command(). */
int cairn_status(struct cairn *c, struct proto_mon_status *out);

/* The PG stats the leader monitor holds (soft state from the OSDs'
 * beacons; docs/monitor.md): only stats of OSDs that are up and the PG's
 * primary in the leader's map, from fresh beacons, and the latest store
 * usage of every OSD in that map (@out->usage; cairn_cluster_usage() sums
 * it). On 0 @out->pgs and @out->usage are the caller's
 * (proto_pg_stats_fini). -ENODATA when the monitors have none to
 * give (no leader, or the leader is unreachable), -EOPNOTSUPP from an older
 * monitor, or the transport errors of cairn_mon_command(); then @out is
 * left zeroed. Callers fall back to states derived from the map. */
int cairn_pg_stats(struct cairn *c, struct proto_pg_stats *out);

/* The cluster's raw capacity and use in bytes, every replica counted: the
 * sums, over the OSDs up and in in this connection's newest map, of the
 * store sizes and allocated bytes their latest beacons reported to the
 * leader (soft state; docs/monitor.md "Store usage"). An OSD that has not
 * reported yet adds nothing, so right after start-up the figures may be
 * low for one beacon interval. Divide by a pool's size for what it can
 * hold. 0 with *@total and *@used set; -ENODATA when no OSD that counts has
 * reported (an older cluster, or one just started) or the monitors have no
 * stats to give; otherwise the errors of cairn_pg_stats() and
 * cairn_map_get(), -EINVAL for NULL outputs. The outputs are untouched on
 * failure. */
int cairn_cluster_usage(struct cairn *c, uint64_t *total, uint64_t *used);

struct cairn_scrub_result {
    uint64_t objects;      /* objects compared */
    uint64_t inconsistent; /* objects whose copies disagreed or could not be read */
    uint64_t repaired;     /* of those, repaired from a good copy (<= inconsistent) */
    uint64_t duration_ms;  /* how long the scrub ran on the primary */
};

/* Scrubs (@deep: deep-scrubs) PG @pg of pool @pool on its primary and waits
 * for the end, up to the connection's timeout. 0 with @out filled; -EBUSY
 * (the PG is not active+clean: try again once it is), -ENOENT (no such
 * pool or PG), -ETIMEDOUT, or another -errno; cairn_strerror-style reason
 * via the usual last-error mechanism of the library (cairn_error_string()
 * on this thread: the primary's message, or which OSD did not answer).
 * The command is resent when the primary changes or an attempt goes
 * unanswered; the primary attaches a resent command to the scrub already
 * running. @out is untouched on failure. */
int cairn_pg_scrub(struct cairn *c, int32_t pool, uint32_t pg, bool deep,
                   struct cairn_scrub_result *out);

/* A copy of the newest cluster map this connection has (it follows every
 * new epoch), which the caller frees with proto_map_destroy(). 0 or -ENOMEM,
 * -ECANCELED. */
int cairn_map_get(struct cairn *c, struct proto_map **copy);

/* Waits until the connection has a map of epoch @epoch or newer. 0, or
 * -ETIMEDOUT after @timeout_ms. */
int cairn_wait_for_epoch(struct cairn *c, uint64_t epoch, uint32_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif

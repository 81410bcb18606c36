/* The monitors' replicated state machine: the cluster map, entity keys and
 * config options. Pure and deterministic: every monitor applies the same
 * committed commands in the same order and reaches the same state and the
 * same replies; nothing here reads a clock or does I/O (the leader stamps
 * each command with its wall clock before proposing it).
 *
 * Initial state: the fsid and the initial monitors, identical on every
 * monitor (cairn-mon --mkfs builds it from the config). */
#ifndef CAIRN_MONITOR_CORE_CLUSTER_H
#define CAIRN_MONITOR_CORE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/auth.h"
#include "protocol/map.h"
#include "protocol/mon.h"

#define MON_CLUSTER_MAX_KEYS 65536u
#define MON_CLUSTER_MAX_CONFIG 4096u

struct mon_cluster;

struct mon_cluster_init {
    uint8_t fsid[16];
    uint32_t n_mons;
    struct proto_map_mon mons[PROTO_MAP_MAX_MONS];
};

/* Creates the initial state (epoch 1). 0, -EINVAL (bad monitor name or
 * address, no monitors), -ENOMEM. */
int mon_cluster_create(const struct mon_cluster_init *init, struct mon_cluster **out);
void mon_cluster_destroy(struct mon_cluster *c);

/* Validates @cmd against the current state without changing it: 0 when it
 * would apply, else the -errno apply would give, with a one-line reason in
 * @msg. The leader calls it before proposing, so that commands that cannot
 * succeed never enter the log; apply checks again (the state may have
 * changed in between). */
int mon_cluster_check(const struct mon_cluster *c, const struct proto_mon_cmd *cmd, char *msg,
                      size_t msg_len);

/* Applies one committed command; fills @reply (result 0 or -errno with a
 * reason, id for OSD_BOOT and POOL_CREATE, key for KEY_CREATE, epoch). A
 * command that fails changes nothing. The map epoch increases by one when
 * the map changed, and map->modified_ns becomes cmd->stamp_ns; a command
 * that finds the map already as asked (OSD_DOWN of a down OSD, IN of an in
 * one, POOL_SET to the current value, ...) succeeds without a new epoch,
 * with a note in reply->message. Keys and config are not in the map: no
 * epoch. Read-only ops (KEY_GET, KEY_LS, CONFIG_GET), OSD_FAILURE and
 * OSD_BEACON are refused here with -EINVAL. Errors: -EEXIST, -ENOENT,
 * -EINVAL, -EBUSY (e.g. removing an up OSD or the last monitor), -ENOSPC (a
 * limit), and -ENOMEM, which unlike the others is local to this monitor
 * (its peers may have applied the command): the driver must stop applying.
 *
 * OSD_BOOT with id -1 gives the id of the existing OSD with cmd->uuid (an
 * OSD that lost its id file re-learns it), else the lowest free id; with an
 * id, that OSD must have cmd->uuid or not exist (then it is created with
 * that id). It sets addr, host, up and up_from (the new epoch) and keeps
 * in/out and weight; a new OSD is in. The uuid is kept per OSD in this
 * state (and its snapshots), not in the map. */
void mon_cluster_apply(struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                       struct proto_mon_reply *reply);

/* Answers a read-only op (KEY_GET, KEY_LS, CONFIG_GET) from the current
 * state: result 0, -ENOENT, or -EINVAL (a bad name, or not a query). */
void mon_cluster_query(const struct mon_cluster *c, const struct proto_mon_cmd *cmd,
                       struct proto_mon_reply *reply);

/* The current map; valid until the next apply/restore. */
const struct proto_map *mon_cluster_map(const struct mon_cluster *c);
/* Copies @entity's key. 0 or -ENOENT. */
int mon_cluster_key(const struct mon_cluster *c, const char *entity,
                    uint8_t key[PROTO_KEY_LEN]);
/* Config value of @key, NULL when unset; valid until the next apply. */
const char *mon_cluster_config(const struct mon_cluster *c, const char *key);

/* Serializes the whole state (map, keys, config, counters) for a Raft
 * snapshot: malloc'd buffer in *buf (caller frees). 0 or -ENOMEM. */
int mon_cluster_snapshot(const struct mon_cluster *c, uint8_t **buf, size_t *len);
/* Replaces the state with a decoded snapshot. 0, -EBADMSG (truncated, bad
 * magic, trailing bytes, or the map does not parse), -EINVAL (a value out of
 * range or an inconsistency, e.g. a uuid for a missing OSD), -ENOMEM; on
 * failure the state is unchanged. The format is in cluster_snapshot.c. */
int mon_cluster_restore(struct mon_cluster *c, const uint8_t *buf, size_t len);

#endif

/* The monitor service protocol as plain C structs (DESIGN.md §5, §8). The
 * same command struct travels from a client to a monitor, is forwarded by a
 * follower to the leader, and is what the leader proposes as a Raft entry,
 * so the replicated state machine (monitor/core/cluster.h) applies exactly
 * what was asked. Encoding is protobuf (mon.proto); decode validates every
 * string's length and NUL-termination. */
#ifndef CAIRN_PROTOCOL_MON_H
#define CAIRN_PROTOCOL_MON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/auth.h"
#include "protocol/map.h"
#include "protocol/pgstat.h"

#define PROTO_MON_NAME_MAX 128u
#define PROTO_MON_VALUE_MAX 256u
#define PROTO_MON_MESSAGE_MAX 256u

enum proto_mon_op {
    PROTO_MON_OP_NONE = 0,
    /* pools */
    PROTO_MON_POOL_CREATE = 1,   /* name, size, min_size, pg_num, failure_domain (0 = defaults;
                                    failure_domain is PROTO_MON_FD_*) -> reply id = pool id */
    PROTO_MON_POOL_RM = 2,       /* name */
    PROTO_MON_POOL_SET = 3,      /* name, key ("size", "min_size", "pg_num" as decimal;
                                    "failure_domain": "osd" or "host"), value */
    /* OSDs */
    PROTO_MON_OSD_BOOT = 10,     /* id (-1: assign one), uuid, host (name), addr (value),
                                    weight (a new OSD's initial weight; 0 = 1.0) -> id */
    PROTO_MON_OSD_IN = 11,       /* id */
    PROTO_MON_OSD_OUT = 12,      /* id */
    PROTO_MON_OSD_RM = 13,       /* id; refused while up */
    PROTO_MON_OSD_REWEIGHT = 14, /* id, weight (16.16) */
    PROTO_MON_OSD_DOWN = 15,     /* id: mark down (failure detection or admin) */
    PROTO_MON_OSD_FAILURE = 16,  /* id = target, name = reporter entity: a peer's report */
    PROTO_MON_OSD_BEACON = 17,   /* id: liveness, not a Raft entry; may carry PG stats
                                    (proto_mon_beacon_encode) */
    /* monitors */
    PROTO_MON_MON_ADD = 20,      /* name, value = address */
    PROTO_MON_MON_RM = 21,       /* name */
    /* keys */
    PROTO_MON_KEY_CREATE = 30,   /* name = entity -> key (existing key returned if present);
                                    value = base64 of the new key (proto_key_to_base64):
                                    a client sends ""; the leader fills it in before
                                    mon_cluster_check() and proposing, so that every monitor
                                    applies the same bytes */
    PROTO_MON_KEY_RM = 31,       /* name */
    PROTO_MON_KEY_GET = 32,      /* name -> key; read only */
    PROTO_MON_KEY_LS = 33,       /* name = list entities after this one ("" = from the
                                    start) -> text: one entity per line, in order, as many
                                    as fit; message says when the list was cut; read only */
    /* config */
    PROTO_MON_CONFIG_SET = 40,   /* key, value */
    PROTO_MON_CONFIG_RM = 41,    /* key */
    PROTO_MON_CONFIG_GET = 42,   /* key -> text; read only */
    /* marks an upper bound for validation */
    PROTO_MON_OP_MAX = 42,
};

/* POOL_CREATE failure_domain: enum proto_failure_domain + 1, since that
 * enum's PROTO_FD_OSD is 0, which here means "the default" (host). */
#define PROTO_MON_FD_DEFAULT 0u
#define PROTO_MON_FD_OSD (PROTO_FD_OSD + 1u)
#define PROTO_MON_FD_HOST (PROTO_FD_HOST + 1u)

struct proto_mon_cmd {
    uint32_t op;                          /* enum proto_mon_op */
    int32_t id;                           /* OSD id; -1 when not used */
    char name[PROTO_MON_NAME_MAX];        /* pool, monitor, entity, host */
    char key[PROTO_MON_NAME_MAX];         /* property or config key */
    char value[PROTO_MON_VALUE_MAX];      /* address or property/config value */
    uint32_t size, min_size, pg_num;      /* POOL_CREATE */
    uint32_t failure_domain;              /* PROTO_MON_FD_* */
    uint32_t weight;                      /* 16.16 fixed point */
    uint8_t uuid[16];                     /* OSD_BOOT: the store's uuid */
    uint64_t stamp_ns;                    /* set by the leader when proposing: wall clock */
};

struct proto_mon_status {
    char leader[PROTO_MAP_NAME_MAX];      /* monitor name, "" when none known */
    uint32_t n_quorum;
    char quorum[PROTO_MAP_MAX_MONS][PROTO_MAP_NAME_MAX]; /* monitors in touch with the leader */
    uint64_t term;
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t epoch;                       /* map epoch */
};

struct proto_mon_reply {
    int32_t result;                       /* 0 or -errno */
    char message[PROTO_MON_MESSAGE_MAX];  /* one-line reason on failure, or info */
    int32_t id;                           /* OSD_BOOT: the OSD id; POOL_CREATE: the pool
                                             id; -1 otherwise */
    uint64_t epoch;                       /* map epoch once the change applied */
    bool has_key;
    uint8_t key[PROTO_KEY_LEN];           /* KEY_CREATE / KEY_GET */
    char text[4096];                      /* KEY_LS, CONFIG_GET output */
    bool has_status;
    struct proto_mon_status status;       /* MON_STATUS */
    char leader_addr[PROTO_MAP_ADDR_MAX]; /* with -EREMOTE: where the leader is */
};

/* Fills @cmd with zeros and id = -1. */
void proto_mon_cmd_init(struct proto_mon_cmd *cmd, enum proto_mon_op op);
void proto_mon_reply_init(struct proto_mon_reply *reply);
/* Human name of an op ("pool create"), for logs; "unknown" for other values. */
const char *proto_mon_op_name(uint32_t op);
/* True for the ops of enum proto_mon_op (not PROTO_MON_OP_NONE, not a gap). */
bool proto_mon_op_is_valid(uint32_t op);

/* Encoders return a malloc'd buffer (caller frees) in *@buf, *@len: 0, -ENOMEM,
 * or -EINVAL when a string is not NUL-terminated within its buffer or
 * status.n_quorum > PROTO_MAP_MAX_MONS (a caller bug). Only fields that
 * differ from their init values are written. */
int proto_mon_cmd_encode(const struct proto_mon_cmd *cmd, uint8_t **buf, size_t *len);
int proto_mon_reply_encode(const struct proto_mon_reply *reply, uint8_t **buf, size_t *len);
/* Decoders: 0, -EBADMSG (does not parse), -EINVAL (op not valid per
 * proto_mon_op_is_valid, string too long for its buffer, uuid not 16 bytes,
 * key not PROTO_KEY_LEN bytes, id < -1, result > 0, more than
 * PROTO_MAP_MAX_MONS quorum names), -ENOMEM (reply). Absent fields take their
 * init values (id -1). On failure *@cmd or *@reply is unchanged. */
int proto_mon_cmd_decode(const uint8_t *buf, size_t len, struct proto_mon_cmd *cmd);
int proto_mon_reply_decode(const uint8_t *buf, size_t len, struct proto_mon_reply *reply);

/* An OSD_BEACON with the sender's PG stats (mon.proto MonCommand fields 13,
 * 14) and, when stats->has_store, its store's usage (fields 15, 16;
 * stats->store.osd is not sent: the beacon's id says whose). @stats NULL: a
 * plain beacon, as proto_mon_cmd_encode(); else stats->beacon_ms must be
 * > 0 and stats->n <= PROTO_MON_PG_STATS_MAX, except that beacon_ms 0 with
 * no PGs sends the usage alone; store.bytes_used must not exceed
 * bytes_total (-EINVAL otherwise, as for a @cmd that is not an
 * OSD_BEACON). Returns as proto_mon_cmd_encode(). */
int proto_mon_beacon_encode(const struct proto_mon_cmd *cmd, const struct proto_pg_stats *stats,
                            uint8_t **buf, size_t *len);
/* Decodes a beacon: the command as proto_mon_cmd_decode() (op must be
 * OSD_BEACON) and its stats into @stats (pgs malloc'd, free with
 * proto_pg_stats_fini; beacon_ms 0 and no pgs when it carries none;
 * has_store with store.osd = cmd->id when it carries the usage).
 * 0, -EBADMSG, -EINVAL (not a beacon; more than PROTO_MON_PG_STATS_MAX
 * PGs; a PG with pool < 0, more than PROTO_PLACE_MAX_REPLICAS acting
 * OSDs or an acting id outside [0, PROTO_MAP_MAX_OSDS); stats without
 * beacon_ms; only one of the two store fields, or used above total),
 * -ENOMEM. On failure *@cmd and *@stats are unchanged. */
int proto_mon_beacon_decode(const uint8_t *buf, size_t len, struct proto_mon_cmd *cmd,
                            struct proto_pg_stats *stats);

/* PgStatsReply, the data of a PROTO_MSG_MON_PG_STATS reply: @stats->pgs,
 * objects_per_s and usage (n_usage <= PROTO_MAP_MAX_OSDS entries, OSD ids
 * strictly increasing within [0, PROTO_MAP_MAX_OSDS), bytes_used <=
 * bytes_total). Encode: 0, -EINVAL (n > PROTO_MON_PG_STATS_MAX, a PG with
 * n_acting > PROTO_PLACE_MAX_REPLICAS, or usage breaking those rules),
 * -ENOMEM. Decode (usage malloc'd too): as the beacon's stats (beacon_ms
 * 0), or -EINVAL for a negative or non-finite rate or usage breaking those
 * rules. */
int proto_mon_pg_stats_encode(const struct proto_pg_stats *stats, uint8_t **buf, size_t *len);
int proto_mon_pg_stats_decode(const uint8_t *buf, size_t len, struct proto_pg_stats *stats);

/* MapRequest: the epoch the asker already has (0 = none). */
int proto_mon_map_request_encode(uint64_t have_epoch, uint8_t **buf, size_t *len);
int proto_mon_map_request_decode(const uint8_t *buf, size_t len, uint64_t *have_epoch);

#endif

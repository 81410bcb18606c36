/* PG states on the wire: what a PG's primary reports with its beacons
 * (mon.proto PgStat), what the leader monitor keeps and hands to `cairn
 * status`, `cairn pg ls` and `cairn health`. The flag values and names are
 * the OSD's (osd/pgstat.h, checked by static asserts in osd/boot.c); they
 * live here too because the CLI and the monitor may not include OSD
 * headers. Encoding: protocol/mon.h. */
#ifndef CAIRN_PROTOCOL_PGSTAT_H
#define CAIRN_PROTOCOL_PGSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/map.h"
#include "protocol/placement.h"

/* PGs in one beacon or one PG_STATS reply, at most: checked by decoders. */
#define PROTO_MON_PG_STATS_MAX 65536u

enum proto_pg_state_flag {
    PROTO_PGS_ACTIVE = 1u << 0,
    PROTO_PGS_CLEAN = 1u << 1,
    PROTO_PGS_PEERING = 1u << 2,
    PROTO_PGS_DEGRADED = 1u << 3,
    PROTO_PGS_RECOVERING = 1u << 4,
    PROTO_PGS_BACKFILLING = 1u << 5,
    PROTO_PGS_INCOMPLETE = 1u << 6,
    PROTO_PGS_INCONSISTENT = 1u << 7,
    PROTO_PGS_UNDERSIZED = 1u << 8,
    PROTO_PGS_PEERED = 1u << 9,
    PROTO_PGS_SCRUBBING = 1u << 10,
    PROTO_PGS_DEEP = 1u << 11,
};
#define PROTO_PGS_NFLAGS 12u

/* Longest state string proto_pg_state_format() writes, with its NUL. */
#define PROTO_PG_STATE_STR_MAX 160u

/* One PG as its primary reports it; the fields of osd/pgstat.h. */
struct proto_pg_stat {
    int32_t pool;
    uint32_t ps;          /* < the pool's pg_num */
    uint32_t state;       /* PROTO_PGS_*; unknown bits possible */
    uint64_t epoch;       /* the map epoch this describes */
    uint64_t last_update; /* newest log entry: epoch << 32 | counter */
    uint64_t objects;
    uint64_t objects_missing;                   /* left to recover or backfill, all replicas */
    uint64_t objects_recovered;                 /* since the primary's daemon started */
    uint64_t last_scrub_ns, last_deep_scrub_ns; /* wall clock, 0: never */
    uint32_t n_acting;                          /* <= PROTO_PLACE_MAX_REPLICAS */
    int32_t acting[PROTO_PLACE_MAX_REPLICAS];   /* acting[0]: the primary */
};

/* One OSD's object store as its latest beacon reported it. */
struct proto_osd_usage {
    int32_t osd;          /* [0, PROTO_MAP_MAX_OSDS) */
    uint64_t bytes_total; /* the data file's capacity */
    uint64_t bytes_used;  /* allocated data blocks; <= bytes_total */
};

/* A set of PG stats: a beacon's, or the leader's answer to PG_STATS. */
struct proto_pg_stats {
    uint32_t n;
    struct proto_pg_stat *pgs; /* n entries, malloc'd; NULL when n == 0 */
    uint32_t beacon_ms;        /* beacon: the sender's interval; 0: the
                                  beacon carries no stats (older OSD) */
    double objects_per_s;      /* PG_STATS reply: recovery rate */
    /* Beacon: the sender's store, when has_store (an older OSD's beacon
     * has none; its last known usage then stands). id is the sender's. */
    bool has_store;
    struct proto_osd_usage store;
    /* PG_STATS reply: every OSD's latest usage, ids strictly increasing;
     * malloc'd, NULL when n_usage == 0. */
    uint32_t n_usage;
    struct proto_osd_usage *usage;
};

/* Frees @s->pgs and @s->usage and zeroes @s. */
void proto_pg_stats_fini(struct proto_pg_stats *s);

/* Sums the usage entries of @s whose OSD exists and is up and in in @map
 * (an OSD that is down or out offers no space to new writes) into *@total
 * and *@used, in bytes. Returns how many OSDs counted; with 0 the outputs
 * are 0 too (usage unknown, not an empty cluster). */
uint32_t proto_osd_usage_sum(const struct proto_pg_stats *s, const struct proto_map *map,
                             uint64_t *total, uint64_t *used);

/* Writes the names of the known flags of @state, joined by '+' in flag
 * order ("active+clean", "active+recovering+degraded"), to @buf (at least
 * PROTO_PG_STATE_STR_MAX bytes for the whole string); "inactive" when no
 * known flag is set. Returns @buf. */
char *proto_pg_state_format(uint32_t state, char *buf, size_t len);
/* The name of flag bit @bit ("active"), or NULL past the known flags. */
const char *proto_pg_state_name(unsigned bit);

#endif

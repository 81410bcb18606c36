/* What a PG's primary reports about it (docs/osd.md §6): its state as a set
 * of flags, and the figures behind them. The primary fills these from its
 * peering and recovery state; the daemon sends them to the monitors with
 * its beacons, and `cairn status`, `cairn pg ls` and `cairn health` show
 * them. */
#ifndef CAIRN_OSD_PGSTAT_H
#define CAIRN_OSD_PGSTAT_H

#include <stdint.h>

#include "protocol/placement.h"

enum osd_pg_state_flag {
    OSD_PGS_ACTIVE = 1u << 0,       /* serves reads and writes */
    OSD_PGS_CLEAN = 1u << 1,        /* every replica of the acting set is complete, size met */
    OSD_PGS_PEERING = 1u << 2,      /* gathering the replicas' logs; I/O waits */
    OSD_PGS_DEGRADED = 1u << 3,     /* fewer complete copies than the pool's size */
    OSD_PGS_RECOVERING = 1u << 4,   /* log-based recovery is copying objects */
    OSD_PGS_BACKFILLING = 1u << 5,  /* full-scan backfill is copying objects */
    OSD_PGS_INCOMPLETE = 1u << 6,   /* no complete copy of the newest data is up; I/O waits */
    OSD_PGS_INCONSISTENT = 1u << 7, /* the last scrub found copies that disagree */
    OSD_PGS_UNDERSIZED = 1u << 8,   /* fewer OSDs in the acting set than the pool's size */
    OSD_PGS_PEERED = 1u << 9,       /* peered below min_size: reads only, writes wait */
    OSD_PGS_SCRUBBING = 1u << 10,   /* a scrub runs */
    OSD_PGS_DEEP = 1u << 11,        /* with SCRUBBING: a deep scrub */
};

/* Names of the flags, in the order they are printed ("active+clean",
 * "active+recovering+degraded"); index = bit number. */
#define OSD_PGS_NAMES                                                                          \
    {"active", "clean", "peering", "degraded", "recovering", "backfilling", "incomplete",    \
     "inconsistent", "undersized", "peered", "scrubbing", "deep"}

struct osd_pg_stat {
    int32_t pool;
    uint32_t ps;
    uint32_t state;                           /* OSD_PGS_* */
    uint64_t epoch;                           /* the map epoch this describes */
    uint64_t last_update;                     /* version of the newest log entry */
    uint64_t objects;                         /* objects in the PG: the primary recounts one PG per report */
    uint64_t objects_missing;                 /* left to recover or backfill, all replicas */
    uint64_t objects_recovered;               /* copied by recovery since the daemon started */
    uint64_t last_scrub_ns, last_deep_scrub_ns; /* wall clock, 0: never */
    uint32_t n_acting;
    int32_t acting[PROTO_PLACE_MAX_REPLICAS]; /* acting[0] is the primary (us) */
};

struct osd_engine;

/* Fills @out with up to @max stats of the PGs this OSD is the primary of
 * (osd/pg.c); returns how many PGs that is (may exceed @max). */
unsigned osd__pg_stats(struct osd_engine *e, struct osd_pg_stat *out, unsigned max);

#endif

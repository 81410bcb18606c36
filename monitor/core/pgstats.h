/* The leader's PG stats (docs/monitor.md "PG stats"): soft state, not
 * replicated and not persisted, rebuilt by each new leader from the OSDs'
 * beacons. For each OSD it keeps the stats of its latest beacon, when that
 * arrived, a recovery rate from two reports, and its store's usage. Pure: the caller passes the
 * time (monotonic ms) and the current map; no I/O, no clock.
 *
 * A PG's stat counts only when (1) the OSD that reported it is up in the
 * map, (2) it is the PG's primary there (up[0] of proto_place_up), and (3)
 * its beacon is fresh: no older than MON_PGSTATS_STALE_BEACONS of the
 * beacon intervals the OSD announced. */
#ifndef CAIRN_MONITOR_CORE_PGSTATS_H
#define CAIRN_MONITOR_CORE_PGSTATS_H

#include <stdint.h>

#include "protocol/map.h"
#include "protocol/pgstat.h"

#define MON_PGSTATS_STALE_BEACONS 3u   /* beacon intervals until a report is stale */
#define MON_PGSTATS_BEACON_MS_MIN 100u /* announced intervals are clamped to this range */
#define MON_PGSTATS_BEACON_MS_MAX 60000u
#define MON_PGSTATS_RATE_WINDOW_MS 1000u /* least time between two samples of a rate */

struct mon_pgstats;

/* 0 or -ENOMEM. */
int mon_pgstats_create(struct mon_pgstats **out);
void mon_pgstats_destroy(struct mon_pgstats *t);

/* @osd's beacon carried @stats: its PGs when stats->beacon_ms > 0, its
 * store usage when stats->has_store (kept until a later beacon carries
 * one: an older OSD's beacon, without it, leaves it alone). Takes
 * stats->pgs (leaves NULL there) in every case. Out-of-range ids are
 * ignored.
 *
 * The OSD's recovery rate: the sum of objects_recovered over its PGs,
 * compared with an earlier report at least MON_PGSTATS_RATE_WINDOW_MS
 * older: (sum - earlier sum) / elapsed seconds. A sum that went down (the
 * OSD restarted, a PG moved away) starts the rate over at 0. */
void mon_pgstats_report(struct mon_pgstats *t, int32_t osd, struct proto_pg_stats *stats,
                        uint64_t now_ms);
/* Forgets every OSD's stats (leadership lost). */
void mon_pgstats_clear(struct mon_pgstats *t);

/* The stats that count under @map at @now_ms, in OSD order then report
 * order, into @out (pgs malloc'd; free with proto_pg_stats_fini), with
 * objects_per_s the sum of the rates of the OSDs with fresh reports, up in
 * @map, and usage (malloc'd) the latest store usage of every OSD that
 * exists in @map, up or not, in id order: whoever sums it decides which
 * count (proto_osd_usage_sum). 0 or -ENOMEM (then @out is zeroed). */
int mon_pgstats_collect(const struct mon_pgstats *t, const struct proto_map *map, uint64_t now_ms,
                        struct proto_pg_stats *out);

#endif

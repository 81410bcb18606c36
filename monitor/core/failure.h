/* Failure detection on the leader monitor (DESIGN.md §4, §5): soft state,
 * rebuilt by each new leader. OSDs send beacons every few seconds; peers
 * report OSDs they cannot reach. The detector turns silence and reports
 * into commands for the leader to propose: mark down after a grace period,
 * mark out after a longer one so that the OSD's data is re-replicated.
 * Pure: the caller passes the time (monotonic ms) and the current map. */
#ifndef CAIRN_MONITOR_CORE_FAILURE_H
#define CAIRN_MONITOR_CORE_FAILURE_H

#include <stdint.h>

#include "protocol/map.h"
#include "protocol/mon.h"

struct mon_failure_opts {
    uint64_t down_grace_ms;     /* no beacon for this long: down (default 6000) */
    uint64_t out_after_ms;      /* down for this long: out (default 60000; 0 = never) */
    uint32_t min_reporters;     /* distinct peers whose reports mark an OSD down at once
                                   (default 1) */
    uint64_t report_window_ms;  /* reports older than this are forgotten (default 10000) */
};

struct mon_failure;

void mon_failure_opts_default(struct mon_failure_opts *opts);
/* @now_ms starts every OSD's grace afresh (a new leader has seen nothing yet).
 * 0, -EINVAL (down_grace_ms or report_window_ms 0, min_reporters 0 or above
 * 32), -ENOMEM. */
int mon_failure_create(const struct mon_failure_opts *opts, uint64_t now_ms,
                       struct mon_failure **out);
void mon_failure_destroy(struct mon_failure *f);

/* An OSD said it is alive. */
void mon_failure_beacon(struct mon_failure *f, int32_t osd, uint64_t now_ms);
/* @reporter (an entity name) could not reach @osd. Reports by the OSD
 * itself, by invalid entity names, or about ids out of range are ignored. */
void mon_failure_report(struct mon_failure *f, int32_t osd, const char *reporter,
                        uint64_t now_ms);
/* Decides what to propose now: fills up to @max commands (OSD_DOWN, OSD_OUT)
 * into @out and returns how many. A command is returned once; if the map
 * still shows the old state after the next grace period it is returned again.
 * Only OSDs up in @map are marked down and only down, in ones out; the out
 * timer starts at the first tick that sees an OSD down and in. An OSD whose
 * up_from changes (it booted again) gets a fresh grace. The commands have
 * stamp_ns 0: the leader stamps them when proposing. */
unsigned mon_failure_tick(struct mon_failure *f, const struct proto_map *map, uint64_t now_ms,
                          struct proto_mon_cmd *out, unsigned max);

#endif

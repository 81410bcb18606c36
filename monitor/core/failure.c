/* The leader's failure detector (failure.h): beacons and peer reports in,
 * OSD_DOWN / OSD_OUT commands out. Soft state, one slot per possible OSD
 * id; the map passed to each tick is the truth about who is up and in, the
 * detector only remembers times. Called from the monitor daemon's loop on
 * the leader; pure (time comes from the caller).
 *
 * Per OSD, as seen by successive ticks:
 *
 *   up in map --(no beacon for down_grace_ms, or min_reporters distinct
 *                reports within report_window_ms)--> propose DOWN
 *   down+in in map, since the first tick that saw it so
 *              --(out_after_ms)--> propose OUT
 *
 * Invariants:
 *   1. DOWN is proposed only for an OSD the map shows up, OUT only for one
 *      it shows down and in.
 *   2. A proposal is repeated only after down_grace_ms, and only while the
 *      map still shows the old state.
 *   3. A new incarnation (up_from changed, or up again after down) starts a
 *      fresh grace and forgets old reports. */
#include "monitor/core/failure.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "protocol/auth.h"

#define MAX_REPORTERS 32u /* distinct reporters remembered per OSD */

struct report {
    char reporter[PROTO_ENTITY_MAX];
    uint64_t at_ms;
};

struct osd_track {
    uint64_t last_beacon_ms;   /* last beacon, or when the grace (re)started */
    bool seen;                 /* a tick saw it exist */
    bool seen_up;              /* the last tick saw it up, with up_from */
    uint64_t up_from;          /* map epoch of that incarnation */
    bool down_in;              /* the last tick saw it down and in ... */
    uint64_t down_in_since_ms; /* ... since this tick */
    bool down_proposed;        /* DOWN returned at down_proposed_ms */
    uint64_t down_proposed_ms;
    bool out_proposed; /* OUT returned at out_proposed_ms */
    uint64_t out_proposed_ms;
    struct report *reports; /* MAX_REPORTERS slots once the first report came */
    uint32_t n_reports;
};

struct mon_failure {
    struct mon_failure_opts opts;
    bool ticked;            /* a tick ran: later appearances are witnessed */
    struct osd_track *osds; /* PROTO_MAP_MAX_OSDS, by id */
};

void mon_failure_opts_default(struct mon_failure_opts *opts)
{
    opts->down_grace_ms = 6000;
    opts->out_after_ms = 60000;
    opts->min_reporters = 1;
    opts->report_window_ms = 10000;
}

int mon_failure_create(const struct mon_failure_opts *opts, uint64_t now_ms,
                       struct mon_failure **out)
{
    if (opts->down_grace_ms == 0 || opts->min_reporters == 0 ||
        opts->min_reporters > MAX_REPORTERS || opts->report_window_ms == 0)
        return -EINVAL;
    struct mon_failure *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->osds = calloc(PROTO_MAP_MAX_OSDS, sizeof(*f->osds));
    if (!f->osds) {
        free(f);
        return -ENOMEM;
    }
    f->opts = *opts;
    for (uint32_t i = 0; i < PROTO_MAP_MAX_OSDS; i++)
        f->osds[i].last_beacon_ms = now_ms;
    *out = f;
    return 0;
}

static void clear_reports(struct osd_track *t)
{
    free(t->reports);
    t->reports = NULL;
    t->n_reports = 0;
}

void mon_failure_destroy(struct mon_failure *f)
{
    if (!f)
        return;
    for (uint32_t i = 0; i < PROTO_MAP_MAX_OSDS; i++)
        clear_reports(&f->osds[i]);
    free(f->osds);
    free(f);
}

static struct osd_track *track(struct mon_failure *f, int32_t osd)
{
    if (osd < 0 || (uint32_t)osd >= PROTO_MAP_MAX_OSDS)
        return NULL;
    return &f->osds[osd];
}

void mon_failure_beacon(struct mon_failure *f, int32_t osd, uint64_t now_ms)
{
    struct osd_track *t = track(f, osd);
    if (t && now_ms > t->last_beacon_ms)
        t->last_beacon_ms = now_ms;
}

/* Drops reports older than the window. */
static void prune_reports(const struct mon_failure *f, struct osd_track *t, uint64_t now_ms)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < t->n_reports; i++)
        if (now_ms - t->reports[i].at_ms < f->opts.report_window_ms)
            t->reports[kept++] = t->reports[i];
    t->n_reports = kept;
    if (kept == 0)
        clear_reports(t);
}

/* Whether @reporter is the OSD itself ("osd.ID"), which cannot vouch for
 * its own failure. */
static bool is_self(int32_t osd, const char *reporter)
{
    char self[PROTO_ENTITY_MAX];
    snprintf(self, sizeof(self), "osd.%d", osd);
    return strcmp(self, reporter) == 0;
}

void mon_failure_report(struct mon_failure *f, int32_t osd, const char *reporter, uint64_t now_ms)
{
    struct osd_track *t = track(f, osd);
    if (!t || !reporter || !proto_entity_is_valid(reporter) || is_self(osd, reporter))
        return;
    prune_reports(f, t, now_ms);
    for (uint32_t i = 0; i < t->n_reports; i++) {
        if (strcmp(t->reports[i].reporter, reporter) == 0) {
            t->reports[i].at_ms = now_ms;
            return;
        }
    }
    if (!t->reports) {
        /* Out of memory only loses the report: the grace still applies. */
        t->reports = calloc(MAX_REPORTERS, sizeof(*t->reports));
        if (!t->reports)
            return;
    }
    uint32_t slot = t->n_reports;
    if (slot == MAX_REPORTERS) {
        slot = 0; /* full: replace the oldest */
        for (uint32_t i = 1; i < t->n_reports; i++)
            if (t->reports[i].at_ms < t->reports[slot].at_ms)
                slot = i;
    } else {
        t->n_reports++;
    }
    strcpy(t->reports[slot].reporter, reporter);
    t->reports[slot].at_ms = now_ms;
}

/* A proposal may be made now: never made, or made a grace period ago and
 * the map did not change (the caller clears the flag when it did). */
static bool may_propose(const struct mon_failure *f, bool proposed, uint64_t at_ms, uint64_t now_ms)
{
    return !proposed || now_ms < at_ms || now_ms - at_ms >= f->opts.down_grace_ms;
}

/* Resets the tracking of an OSD the map shows up; a new incarnation gets a
 * fresh grace (inv. 3). */
static void observe_up(struct mon_failure *f, struct osd_track *t, const struct proto_map_osd *o,
                       uint64_t now_ms)
{
    if (!t->seen_up || t->up_from != o->up_from) {
        /* The first tick after the leader started gives every OSD the grace
         * from mon_failure_create(); later, we witnessed it coming up. */
        if (t->seen || f->ticked) {
            if (now_ms > t->last_beacon_ms)
                t->last_beacon_ms = now_ms;
            clear_reports(t); /* about the previous incarnation */
        }
        t->seen_up = true;
        t->up_from = o->up_from;
        t->down_proposed = false;
    }
    t->down_in = false;
    t->out_proposed = false;
}

static bool should_be_down(struct mon_failure *f, struct osd_track *t, uint64_t now_ms)
{
    prune_reports(f, t, now_ms);
    if (t->n_reports >= f->opts.min_reporters)
        return true;
    return now_ms >= t->last_beacon_ms && now_ms - t->last_beacon_ms >= f->opts.down_grace_ms;
}

/* The command for osd @id, if one is due; updates the proposal times. */
static bool decide(struct mon_failure *f, const struct proto_map_osd *o, uint64_t now_ms,
                   enum proto_mon_op *op)
{
    struct osd_track *t = &f->osds[o->id];
    if (o->up) {
        observe_up(f, t, o, now_ms);
        if (!should_be_down(f, t, now_ms) ||
            !may_propose(f, t->down_proposed, t->down_proposed_ms, now_ms))
            return false;
        t->down_proposed = true;
        t->down_proposed_ms = now_ms;
        *op = PROTO_MON_OSD_DOWN;
        return true;
    }
    t->seen_up = false;
    t->down_proposed = false;
    clear_reports(t);
    if (!o->in) {
        t->down_in = false;
        t->out_proposed = false;
        return false;
    }
    if (!t->down_in) {
        t->down_in = true;
        t->down_in_since_ms = now_ms;
    }
    if (f->opts.out_after_ms == 0 || now_ms - t->down_in_since_ms < f->opts.out_after_ms ||
        !may_propose(f, t->out_proposed, t->out_proposed_ms, now_ms))
        return false;
    t->out_proposed = true;
    t->out_proposed_ms = now_ms;
    *op = PROTO_MON_OSD_OUT;
    return true;
}

unsigned mon_failure_tick(struct mon_failure *f, const struct proto_map *map, uint64_t now_ms,
                          struct proto_mon_cmd *out, unsigned max)
{
    unsigned n = 0;
    uint32_t n_osds = CAIRN_MIN(map->n_osds, PROTO_MAP_MAX_OSDS);
    uint32_t i;
    for (i = 0; i < n_osds && n < max; i++) {
        const struct proto_map_osd *o = &map->osds[i];
        struct osd_track *t = &f->osds[i];
        enum proto_mon_op op;
        if (!o->exists) {
            uint64_t beacon = t->last_beacon_ms;
            clear_reports(t);
            memset(t, 0, sizeof(*t));
            t->last_beacon_ms = beacon;
            continue;
        }
        if (decide(f, o, now_ms, &op)) {
            proto_mon_cmd_init(&out[n], op);
            out[n].id = (int32_t)i;
            n++;
        }
        t->seen = true;
    }
    /* Only a tick that looked at every OSD ends the first-tick rule of
     * observe_up(); OSDs left for the next tick keep the leader's grace. */
    if (i == n_osds)
        f->ticked = true;
    return n;
}

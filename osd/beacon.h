/* Beacons with PG stats (docs/osd.md §1): the daemon's periodic beacon
 * (osd_beacon_interval) carries the stats of every PG this OSD is the
 * primary of (osd/pgstat.h), so the leader monitor can show real PG states.
 * Implemented in boot.c; called on the daemon's loop thread only. */
#ifndef CAIRN_OSD_BEACON_H
#define CAIRN_OSD_BEACON_H

struct osd_daemon;

/* How soon a beacon goes out after osd__beacon_soon(), at most. */
#define OSD_BEACON_SOON_MS 500u

/* Asks for a beacon within OSD_BEACON_SOON_MS, because a PG's state
 * changed. Coalescing: calls while a beacon is already due that soon change
 * nothing, so a burst of changes costs one beacon, and beacons go out at
 * most every OSD_BEACON_SOON_MS however often this is called. The next
 * periodic beacon follows a full interval after it. Does nothing before
 * the daemon's timers exist or while it stops. */
void osd__beacon_soon(struct osd_daemon *d);

#endif

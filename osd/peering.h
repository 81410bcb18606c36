/* Shared by peering.c (getting to active) and recovery.c (activation,
 * copying what replicas miss, and the REPOPs of client writes): the state
 * a primary keeps about one PG's peering. Loop thread only. */
#ifndef CAIRN_OSD_PEERING_H
#define CAIRN_OSD_PEERING_H

#include "osd/internal.h"

struct event;

enum osd_peer_step {
    OSD_PEER_GET_INFO = 1, /* asking every up OSD for its info */
    OSD_PEER_PULL,         /* copying what we lack from the authority */
    OSD_PEER_ACTIVATING,   /* waiting for the replicas to take the activation */
    OSD_PEER_ACTIVE,       /* serving; recovery may run */
    OSD_PEER_INCOMPLETE,   /* waiting for a timer to try again */
};

/* What one up OSD said about the PG. */
struct osd_peer_info {
    int32_t osd;
    bool acting;
    bool answered;
    bool failed;           /* an acting member that could not be asked */
    struct proto_pg_info info;
};

enum osd_rep_mode {
    OSD_REP_CLEAN = 0,
    OSD_REP_LOG,           /* misses the objects of some log entries */
    OSD_REP_BACKFILL,      /* gets every object, in name order */
};

/* A replica of the acting set, as its primary recovers it. */
struct osd_replica {
    int32_t osd;
    enum osd_rep_mode mode;
    bool activated;
    bool recovered_sent;
    bool done;             /* complete: RECOVERED acknowledged (or clean) */
    struct osd_names todo; /* objects to push, in order */
    uint32_t next;         /* todo.v[next] is the next to push */
    unsigned inflight;     /* pushes in flight */
    /* Backfill: objects <= scan_end get full REPOPs; others only the log
     * entry, until the scan passes them. */
    char *cursor;          /* names <= cursor are pushed ("" none) */
    char *scan_end;        /* NULL: nothing scanned yet */
    bool scan_all;         /* the scan reached the end: every object is in reach */
    bool scanning;
};

struct osd_peering {
    struct osd_daemon *d;
    struct osd_pg *pg;
    uint64_t epoch;        /* the map epoch this round started at: the activation's */
    unsigned gen;          /* answers of older rounds are dropped */
    enum osd_peer_step step;
    struct event *timer;
    struct osd_peer_info *infos;
    unsigned n_infos;
    int32_t auth;          /* the OSD we pull from, -1: we are the authority */
    struct proto_pg_info auth_info;
    struct proto_osd_peer auth_log;       /* its LOG_GET reply */
    struct proto_pg_log_entry *auth_entries;
    struct osd_names pull; /* objects to pull from the authority */
    uint32_t next_pull;
    uint8_t *pull_sent;    /* per pull entry: requested, in turn or on demand */
    uint32_t *pull_want;   /* entries ops wait for, not yet requested (FIFO) */
    uint32_t want_head, want_n, want_cap;
    bool pull_throttled;   /* background pulls wait for a free recovery slot */
    unsigned pull_inflight;
    bool pull_active;      /* pulls go on while the PG is active (pg->missing gates
                              the objects we still lack) */
    struct osd_replica reps[PROTO_PLACE_MAX_REPLICAS];
    unsigned n_reps;
    unsigned activations_left;
    bool throttled;        /* recovery waits for a free push slot */
    bool strays_removed;   /* REMOVE sent to the copies outside the acting set */
};

struct preq;
struct preq *osd__preq_new(struct osd_peering *p, int idx, const char *oid);
struct osd_peering *osd__preq_peering(const struct preq *q);
int osd__preq_idx(const struct preq *q);
struct osd_daemon *osd__preq_daemon(const struct preq *q);
const char *osd__preq_oid(const struct preq *q);

/* peering.c */
void osd__peering_continue(struct osd_peering *p, bool timed_out);
void osd__peering_set_state(struct osd_peering *p, uint32_t state);

/* recovery.c */
/* We hold the authoritative copy: activates the replicas. */
void osd__peering_activate(struct osd_peering *p);
/* Forgets the replicas' recovery state (a new round, or the end). */
void osd__recovery_clear(struct osd_peering *p);
/* Recomputes the PG's state from its replicas and what we still lack. */
void osd__recovery_update_state(struct osd_peering *p);
/* Starts what recovery may start now (our own pulls ended). */
void osd__recovery_kick(struct osd_peering *p);
/* A recovery slot of the OSD freed up: PGs whose pushes or pulls wait for
 * one go on (recovery.c). */
void osd__recovery_slot_freed(struct osd_daemon *d);
/* Returns the recovery slots of the pulls in flight (the round is over). */
void osd__peering_pulls_drop(struct osd_peering *p);
/* Starts the pulls that waited for a recovery slot. */
void osd__peering_pull_more(struct osd_peering *p);

/* boot.c: sends a beacon soon (PG states changed). */
void osd__beacon_soon(struct osd_daemon *d);

#endif

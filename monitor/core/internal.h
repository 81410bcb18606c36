/* Private declarations of the Raft core, in sections by defining file.
 * Nothing outside monitor/core/ includes this. */
#ifndef CAIRN_MONITOR_CORE_INTERNAL_H
#define CAIRN_MONITOR_CORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/assert.h"
#include "monitor/core/raft.h"

/* ---- raft_log.c: the in-memory log after the snapshot ------------------ */

/* Entries snap_index+1 .. snap_index+n, contiguous. Each entry's data points
 * into the one byte buffer @data, so the log costs two reallocs when it grows
 * and none per entry (STYLE §5); pointers are rebased when @data moves. */
struct mon__log {
    struct mon_raft_entry *ents; /* ents[i].index == snap_index + 1 + i */
    size_t n;                    /* entries in use */
    size_t cap;                  /* entries allocated */
    uint8_t *data;               /* payload bytes of ents, in order */
    size_t data_len;             /* bytes in use */
    size_t data_cap;             /* bytes allocated */
    uint64_t snap_index;         /* last index covered by the snapshot */
    uint64_t snap_term;          /* its term */
    uint64_t stabled;            /* last index the driver persisted, >= snap_index */
};

int mon__log_init(struct mon__log *l);
void mon__log_fini(struct mon__log *l);
uint64_t mon__log_last_index(const struct mon__log *l);
uint64_t mon__log_last_term(const struct mon__log *l);
/* True and *term if @index is the snapshot index or in the log. */
bool mon__log_term(const struct mon__log *l, uint64_t index, uint64_t *term);
bool mon__log_match_term(const struct mon__log *l, uint64_t index, uint64_t term);
/* The entry at @index, or NULL if compacted or beyond the log. */
const struct mon_raft_entry *mon__log_entry(const struct mon__log *l, uint64_t index);
/* Makes room for @n more entries with @bytes more data; 0 or -ENOMEM. */
int mon__log_reserve(struct mon__log *l, size_t n, size_t bytes);
/* Appends a copy of @e (e->index must be last + 1); room must be reserved. */
void mon__log_append(struct mon__log *l, const struct mon_raft_entry *e);
/* Removes entries >= @from (> snap_index); stabled follows. */
void mon__log_truncate(struct mon__log *l, uint64_t from);
/* Discards entries <= @index (which must be stable and in the log). */
void mon__log_compact(struct mon__log *l, uint64_t index, uint64_t term);
/* Empties the log and makes (index, term) the snapshot point. */
void mon__log_reset(struct mon__log *l, uint64_t index, uint64_t term);
/* Raft §5.4.1: is (last_term, last_index) at least as up to date as ours? */
bool mon__log_is_up_to_date(const struct mon__log *l, uint64_t last_term, uint64_t last_index);
/* Largest j <= @index with term(j) <= @term, or snap_index (fast backtracking). */
uint64_t mon__log_find_conflict_by_term(const struct mon__log *l, uint64_t index, uint64_t term);
/* Bytes of payload in entries after @index. */
uint64_t mon__log_bytes_after(const struct mon__log *l, uint64_t index);

/* ---- raft_replicate.c: per-follower progress, leader and follower paths - */

enum mon__pr_state {
    MON__PR_PROBE = 0,     /* one append at a time until a match is found */
    MON__PR_REPLICATE = 1, /* pipelined appends within max_inflight entries */
    MON__PR_SNAPSHOT = 2,  /* a snapshot is in flight */
};

/* What the leader knows about one voter (itself included). */
struct mon__progress {
    uint64_t id;
    uint64_t match; /* highest index known replicated */
    uint64_t next;  /* next index to send; match < next <= last + 1 */
    enum mon__pr_state state;
    uint64_t pending_snapshot; /* snapshot index sent, in MON__PR_SNAPSHOT */
    uint32_t snap_wait_ticks;  /* ticks since that snapshot was sent */
    bool probe_sent;           /* MON__PR_PROBE: an append is in flight */
    bool recent_active;        /* heard from in this election timeout (check-quorum) */
};

/* Leader: fresh progress for every voter (on election). */
void mon__pr_reset(struct mon_raft *r);
/* Leader: progress follows a configuration change, keeping known peers. */
void mon__pr_sync(struct mon_raft *r);
struct mon__progress *mon__pr_find(struct mon_raft *r, uint64_t id);
void mon__bcast_append(struct mon_raft *r);
void mon__bcast_heartbeat(struct mon_raft *r);
bool mon__maybe_commit(struct mon_raft *r);
void mon__pr_tick(struct mon_raft *r);
int mon__leader_app_resp(struct mon_raft *r, const struct mon_raft_msg *m);
void mon__leader_heartbeat_resp(struct mon_raft *r, const struct mon_raft_msg *m);
int mon__handle_append(struct mon_raft *r, const struct mon_raft_msg *m);
void mon__handle_heartbeat(struct mon_raft *r, const struct mon_raft_msg *m);
int mon__handle_snapshot(struct mon_raft *r, const struct mon_raft_msg *m);
void mon__send_timeout_now(struct mon_raft *r, uint64_t to);
/* Leader: sends @pr's next append unless its flow is paused. */
void mon__send_append_to(struct mon_raft *r, struct mon__progress *pr);
/* Leader: appends one entry of its term, then replicates it. 0 or -ENOMEM. */
int mon__leader_append(struct mon_raft *r, uint32_t type, const void *data, uint32_t len);

/* ---- raft_membership.c: configuration and quorums ----------------------- */

bool mon__membership_is_valid(const struct mon_raft_membership *m);
uint32_t mon__quorum(const struct mon_raft *r);
bool mon__is_promotable(const struct mon_raft *r);
/* Scans the log backwards for the newest config entry (else the snapshot's). */
void mon__conf_reload(struct mon_raft *r);
/* Applies config entries among @e[0..n) just appended (thesis §4.1). */
void mon__conf_appended(struct mon_raft *r, const struct mon_raft_entry *e, size_t n);
/* The configuration in force at @index (<= last), for compaction. */
void mon__conf_at(const struct mon_raft *r, uint64_t index, struct mon_raft_membership *out);

/* ---- raft_outbox.c: queued messages, ready and advance ------------------ */

/* Messages created by a step, copied (with their entries) into buffers owned
 * by the core until advance; SNAP messages reference the core's snapshot. */
struct mon__outbox {
    struct mon_raft_msg *msgs;
    size_t *ent_first; /* per message: first index into ents */
    size_t n, cap;
    struct mon_raft_entry *ents; /* entry headers; data fixed up in ready */
    size_t *data_off;            /* per entry: offset of its bytes in data */
    size_t n_ents, ents_cap;
    uint8_t *data;
    size_t data_len, data_cap;
    uint64_t dropped; /* messages lost to -ENOMEM (same as a drop) */
};

void mon__outbox_fini(struct mon__outbox *o);
/* Queues @m from this node (term filled in if 0) with copies of its entries. */
void mon__send(struct mon_raft *r, const struct mon_raft_msg *m);

/* ---- raft_validate.c: untrusted input ---------------------------------- */

int mon__msg_validate(const struct mon_raft *r, const struct mon_raft_msg *m);
int mon__entries_validate(const struct mon_raft_entry *e, size_t n, uint64_t first_index,
                          uint64_t min_term, uint64_t max_term);
int mon__snapshot_validate(const struct mon_raft_snapshot *s, bool allow_empty);

/* ---- raft.c: roles, timers, elections ---------------------------------- */

struct mon__vote {
    uint64_t id;
    bool granted;
};

struct mon_raft {
    struct mon_raft_config cfg;
    uint64_t id;
    enum mon_raft_role role;
    uint64_t term;    /* hard state */
    uint64_t vote;    /* hard state */
    uint64_t commit;  /* hard state */
    uint64_t applied; /* last index the driver applied (confirmed by advance) */
    uint64_t lead;    /* known leader of term, 0 if none */
    struct mon__log log;
    struct mon_raft_snapshot snap; /* latest snapshot; data owned (snap_buf) */
    uint8_t *snap_buf;
    bool snap_pending;               /* received snapshot not yet handed to the driver */
    struct mon_raft_membership conf; /* newest config in the log (thesis §4.1) */
    uint64_t conf_index;             /* index of its entry, or snap.index */
    struct mon__progress prs[MON_RAFT_MAX_VOTERS]; /* leader only; one per voter */
    uint32_t n_prs;
    struct mon__vote votes[MON_RAFT_MAX_VOTERS]; /* (pre-)candidate tally */
    uint32_t n_votes;
    uint32_t election_elapsed;   /* ticks since reset / last leader contact */
    uint32_t heartbeat_elapsed;  /* leader: ticks since last heartbeat */
    uint32_t randomized_timeout; /* in [election_ticks, 2 * election_ticks) */
    uint64_t transferee;         /* leader: transfer target, 0 if none */
    uint32_t transfer_elapsed;   /* ticks since the transfer started */
    uint64_t term_start_index;   /* leader: index of its no-op entry */
    uint64_t rng;                /* splitmix64 state for election jitter */
    struct mon__outbox out;
    struct mon_raft_hard_state prev_hs; /* last hard state handed to the driver */
    bool in_ready;                      /* between mon_raft_ready() and advance */
    uint64_t rd_stable_to;              /* last index of the ready's entries */
    uint64_t rd_applied_to;             /* last index of the ready's committed entries */
    struct mon_raft_hard_state rd_hs;
};

void mon__trace(const struct mon_raft *r, enum mon_raft_trace_kind kind, uint64_t a, uint64_t b);
void mon__become_follower(struct mon_raft *r, uint64_t term, uint64_t lead);
void mon__commit_to(struct mon_raft *r, uint64_t index);
/* Calls mon_raft_check() and aborts naming the invariant; CAIRN_DEBUG only. */
void mon__debug_check(const struct mon_raft *r);

#endif

/* The monitor's Raft core: a pure state machine in the etcd-raft style. It
 * does no I/O, reads no clock and draws no OS randomness: the driver feeds it
 * messages (mon_raft_step), ticks (mon_raft_tick) and proposals, then collects
 * what to persist, send and apply with mon_raft_ready() and confirms with
 * mon_raft_advance(). Callers: the cairn-mon driver, tests/sim/raft_sim and
 * tests/unit/monitor/test_raft. State diagram and invariants: raft.c.
 *
 * Threading: a struct mon_raft belongs to one thread; no call blocks.
 *
 * Driver contract, once per loop turn while mon_raft_has_ready():
 *   1. mon_raft_ready(r, &rd);
 *   2. if rd.snapshot: replace the persisted snapshot and drop the whole
 *      persisted log; restore the state machine from rd.snapshot->data;
 *   3. if rd.n_entries: delete persisted entries with index >= rd.entries[0].index
 *      (a conflicting suffix), then append rd.entries;
 *   4. if rd.has_hard_state: write rd.hard_state;  -- 2..4 in one synced write
 *   5. only now send rd.msgs (persist-before-send: a vote or an append ack
 *      must never be visible before it is durable);
 *   6. apply rd.committed in order;
 *   7. mon_raft_advance(r, &rd).
 * No other mutating call (step, tick, propose, compact...) may come between
 * ready and advance. */
#ifndef CAIRN_MONITOR_CORE_RAFT_H
#define CAIRN_MONITOR_CORE_RAFT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits. Messages exceeding them are rejected by mon_raft_step(). */
#define MON_RAFT_MAX_VOTERS 9
#define MON_RAFT_MAX_MSG_ENTRIES 4096
#define MON_RAFT_MAX_ENTRY_BYTES (1u << 20)
#define MON_RAFT_MAX_SNAPSHOT_BYTES (1ull << 32)
/* Indexes and terms beyond this are malformed, so that index + count and
 * term + 1 can never overflow anywhere in the core. */
#define MON_RAFT_MAX_INDEX (1ull << 62)

/* Returned by mon_raft_propose*() and mon_raft_transfer_leader() on a node
 * that is not the leader; mon_raft_leader() names the leader if known. */
#define MON_RAFT_ENOTLEADER EREMOTE

enum mon_raft_role {
    MON_RAFT_FOLLOWER = 0,
    MON_RAFT_PRE_CANDIDATE = 1,
    MON_RAFT_CANDIDATE = 2,
    MON_RAFT_LEADER = 3,
};

enum mon_raft_entry_type {
    MON_RAFT_ENTRY_NORMAL = 0, /* opaque client command */
    MON_RAFT_ENTRY_CONF = 1,   /* membership; data is the encoded voter set */
    MON_RAFT_ENTRY_NOOP = 2,   /* appended by a new leader (Raft §8); empty */
};

struct mon_raft_entry {
    uint64_t index;   /* position in the log, >= 1 */
    uint64_t term;    /* term of the leader that created it */
    uint32_t type;    /* enum mon_raft_entry_type */
    uint32_t len;     /* bytes at data, <= MON_RAFT_MAX_ENTRY_BYTES */
    const void *data; /* borrowed; see each call for lifetime */
};

/* A voter set, sorted ascending, no duplicates, ids nonzero. */
struct mon_raft_membership {
    uint32_t n_voters;
    uint64_t voters[MON_RAFT_MAX_VOTERS];
};

/* Persisted by the driver whenever a ready says so. */
struct mon_raft_hard_state {
    uint64_t term;   /* current term */
    uint64_t vote;   /* id voted for in term, 0 if none */
    uint64_t commit; /* highest index known committed */
};

/* A snapshot covers every entry up to index; data is the driver's serialized
 * state machine at that index, opaque to the core. */
struct mon_raft_snapshot {
    uint64_t index;                        /* last entry covered; 0 = empty */
    uint64_t term;                         /* term of that entry */
    struct mon_raft_membership membership; /* configuration as of index */
    uint64_t len;                          /* bytes at data */
    const void *data;
};

enum mon_raft_msg_type {
    MON_RAFT_MSG_PREVOTE = 1, /* thesis §9.6: would you vote for me at term? */
    MON_RAFT_MSG_PREVOTE_RESP = 2,
    MON_RAFT_MSG_VOTE = 3, /* RequestVote (§5.2) */
    MON_RAFT_MSG_VOTE_RESP = 4,
    MON_RAFT_MSG_APP = 5,       /* AppendEntries (§5.3) */
    MON_RAFT_MSG_APP_RESP = 6,  /* also answers MON_RAFT_MSG_SNAP */
    MON_RAFT_MSG_HEARTBEAT = 7, /* empty AppendEntries carrying commit */
    MON_RAFT_MSG_HEARTBEAT_RESP = 8,
    MON_RAFT_MSG_SNAP = 9,         /* InstallSnapshot (§7) */
    MON_RAFT_MSG_TIMEOUT_NOW = 10, /* leadership transfer (thesis §3.10) */
};
#define MON_RAFT_MSG_TYPE_MAX MON_RAFT_MSG_TIMEOUT_NOW

/* One Raft message. Field use by type:
 *   PREVOTE/VOTE   term (proposed), log_term+index (candidate's last entry), force
 *   *VOTE_RESP     term, reject
 *   APP            term, log_term+index (entry preceding entries), entries, commit
 *   APP_RESP       term, index (last matching index, or the rejected index),
 *                  reject, reject_hint + log_term (follower's conflict hint)
 *   HEARTBEAT      term, commit;  HEARTBEAT_RESP term
 *   SNAP           term, snapshot;  TIMEOUT_NOW term
 * Messages in a ready point into buffers owned by the core (entries, their
 * data, the snapshot), valid until mon_raft_advance(). Messages given to
 * mon_raft_step() are borrowed for the duration of the call only. */
struct mon_raft_msg {
    uint32_t type; /* enum mon_raft_msg_type */
    uint64_t from; /* sender id, nonzero */
    uint64_t to;   /* receiver id, nonzero */
    uint64_t term; /* sender's term (or proposed term for PREVOTE) */
    uint64_t log_term;
    uint64_t index;
    const struct mon_raft_entry *entries;
    uint32_t n_entries; /* <= MON_RAFT_MAX_MSG_ENTRIES; APP only */
    uint64_t commit;
    bool reject;
    bool force; /* vote request from a transfer: bypasses the lease */
    uint64_t reject_hint;
    const struct mon_raft_snapshot *snapshot; /* SNAP only */
};

/* Deterministic trace events for the simulator and debugging; pure cores
 * don't log (STYLE §6). */
enum mon_raft_trace_kind {
    MON_RAFT_TRACE_BECOME_FOLLOWER = 1, /* a = leader id or 0 */
    MON_RAFT_TRACE_BECOME_PRE_CANDIDATE,
    MON_RAFT_TRACE_BECOME_CANDIDATE,
    MON_RAFT_TRACE_BECOME_LEADER,
    MON_RAFT_TRACE_COMMIT,   /* a = new commit index */
    MON_RAFT_TRACE_TRUNCATE, /* a = first index removed */
    MON_RAFT_TRACE_RESTORE,  /* a = snapshot index, b = its term */
    MON_RAFT_TRACE_CONF,     /* a = index of the config entry, b = number of voters */
    MON_RAFT_TRACE_VOTE,     /* a = candidate, b = 1 if pre-vote */
    MON_RAFT_TRACE_CHECK_QUORUM_LOST,
    MON_RAFT_TRACE_TRANSFER, /* a = transferee, b = 1 started / 0 aborted */
    MON_RAFT_TRACE_REJECT,   /* a = message type, b = -errno */
};

struct mon_raft_trace_event {
    enum mon_raft_trace_kind kind;
    uint64_t id;   /* node emitting the event */
    uint64_t term; /* its term after the event */
    uint64_t a, b; /* kind specific */
};

typedef void (*mon_raft_trace_fn)(void *arg, const struct mon_raft_trace_event *ev);

struct mon_raft_config {
    uint64_t id;                    /* this node, nonzero */
    uint32_t election_ticks;        /* election timeout, randomized in [e, 2e); > heartbeat_ticks */
    uint32_t heartbeat_ticks;       /* leader heartbeat interval, >= 1 */
    uint64_t seed;                  /* election jitter PRNG seed (caller-chosen) */
    uint64_t applied;               /* index the state machine already holds (0 = snapshot's) */
    bool pre_vote;                  /* thesis §9.6 pre-vote; recommended */
    bool check_quorum;              /* leader steps down without a quorum; followers keep a lease */
    uint32_t max_msg_entries;       /* per APP message, 1..MON_RAFT_MAX_MSG_ENTRIES */
    uint64_t max_msg_bytes;         /* soft cap on entry bytes per APP message, >= 1 */
    uint32_t max_inflight;          /* entries sent but not yet acked per follower, >= 1 */
    uint64_t max_uncommitted_bytes; /* proposals beyond this get -EAGAIN, >= 1 */
    uint32_t max_log_entries;       /* proposals get -EAGAIN while the log is this long */
    mon_raft_trace_fn trace;        /* optional */
    void *trace_arg;
};

struct mon_raft;

/* Fills @cfg with defaults (election 10 ticks, heartbeat 1, pre-vote and
 * check-quorum on) for node @id. */
void mon_raft_config_default(struct mon_raft_config *cfg, uint64_t id);

/* Creates a node from persisted state: @hs (NULL = zero), @snap (NULL = the
 * empty snapshot: index 0, no voters) and the @n persisted entries that
 * follow the snapshot. A node to be added later starts from nothing; the
 * initial members of a new cluster start from mon_raft_bootstrap()'s state.
 * Everything is copied. Returns 0 and *out, -EINVAL for a bad @cfg, -EBADMSG
 * for inconsistent persisted state (including a snapshot of index 0 that
 * lists voters), -ENOMEM. */
int mon_raft_create(const struct mon_raft_config *cfg, const struct mon_raft_hard_state *hs,
                    const struct mon_raft_snapshot *snap, const struct mon_raft_entry *entries,
                    size_t n, struct mon_raft **out);
void mon_raft_destroy(struct mon_raft *r);

/* Feeds one message from the network; @m is borrowed for the call. Returns 0
 * (including for stale messages, which are ignored as Raft says, and answers
 * from nodes outside the configuration, whatever their term), -EINVAL for a
 * malformed message or one not addressed to this node, -EPROTO for a well
 * formed one that contradicts the protocol (a second leader in our term, an
 * ack of entries never sent), -ENOMEM. A rejected message leaves the node unchanged. */
int mon_raft_step(struct mon_raft *r, const struct mon_raft_msg *m);

/* Advances logical time by one tick (election and heartbeat timers). */
void mon_raft_tick(struct mon_raft *r);

/* Appends a normal entry with a copy of @data. Returns 0, -EREMOTE
 * (MON_RAFT_ENOTLEADER; see mon_raft_leader()), -EAGAIN while a leadership
 * transfer runs or the log or uncommitted bytes are over their limits
 * (compact or retry later), -EMSGSIZE, -ENOMEM. */
int mon_raft_propose(struct mon_raft *r, const void *data, size_t len);

enum mon_raft_conf_op {
    MON_RAFT_CONF_ADD_VOTER = 1,
    MON_RAFT_CONF_REMOVE_VOTER = 2,
};

/* Single-server membership change (thesis §4.1): appends a config entry,
 * which takes effect on each node as soon as it is in its log. One change at
 * a time. Returns 0, -EREMOTE, -EBUSY while a config entry is uncommitted,
 * -EAGAIN until the leader committed an entry of its term or during a
 * transfer, -EEXIST (already a voter), -ENOENT (not a voter), -ENOSPC (too
 * many voters), -EINVAL (bad id, or removing the leader itself: transfer
 * leadership first), -ENOMEM. */
int mon_raft_propose_conf(struct mon_raft *r, enum mon_raft_conf_op op, uint64_t node);

/* Leader only: hands leadership to voter @to once its log is up to date,
 * via TIMEOUT_NOW (thesis §3.10). Proposals get -EAGAIN until it completes
 * or aborts after an election timeout. Returns 0, -EREMOTE, -EINVAL. */
int mon_raft_transfer_leader(struct mon_raft *r, uint64_t to);

/* Snapshot and log compaction (Raft §7). The driver serialized its state
 * machine at @index (<= the applied index) into @data; the core keeps a copy
 * to send to lagging followers and discards its entries up to @index. The
 * driver persists the snapshot and drops its own entries up to @index itself.
 * Returns 0, -EINVAL (index not applied, or not past the current snapshot),
 * -EFBIG, -ENOMEM. */
int mon_raft_compact(struct mon_raft *r, uint64_t index, const void *data, size_t len);

bool mon_raft_has_ready(const struct mon_raft *r);

struct mon_raft_ready {
    bool has_hard_state;
    struct mon_raft_hard_state hard_state;
    const struct mon_raft_snapshot *snapshot; /* received snapshot to persist and apply */
    const struct mon_raft_entry *entries;     /* to persist; see the contract above */
    size_t n_entries;
    const struct mon_raft_msg *msgs; /* to send after persisting */
    size_t n_msgs;
    const struct mon_raft_entry *committed; /* to apply, in order */
    size_t n_committed;
};

/* Fills @rd; all pointers borrow from @r until mon_raft_advance(). */
void mon_raft_ready(struct mon_raft *r, struct mon_raft_ready *rd);
/* Confirms the ready was persisted, sent and applied. */
void mon_raft_advance(struct mon_raft *r, const struct mon_raft_ready *rd);

/* Observers. */
uint64_t mon_raft_id(const struct mon_raft *r);
uint64_t mon_raft_leader(const struct mon_raft *r); /* 0 if unknown */
enum mon_raft_role mon_raft_role(const struct mon_raft *r);
uint64_t mon_raft_term(const struct mon_raft *r);
uint64_t mon_raft_commit(const struct mon_raft *r);
uint64_t mon_raft_applied(const struct mon_raft *r);
uint64_t mon_raft_last_index(const struct mon_raft *r);
uint64_t mon_raft_first_index(const struct mon_raft *r); /* snapshot index + 1 */
/* The entry at @index if still in the log (borrowed until the next mutating call). */
const struct mon_raft_entry *mon_raft_entry(const struct mon_raft *r, uint64_t index);
/* Term of @index: 0 and *term on success, -ENOENT if compacted or beyond the log. */
int mon_raft_log_term(const struct mon_raft *r, uint64_t index, uint64_t *term);
const struct mon_raft_membership *mon_raft_membership(const struct mon_raft *r);
const struct mon_raft_snapshot *mon_raft_snapshot(const struct mon_raft *r);
const char *mon_raft_role_name(enum mon_raft_role role);
const char *mon_raft_msg_type_name(uint32_t type);
const char *mon_raft_trace_name(enum mon_raft_trace_kind kind);

/* Membership helpers. */
bool mon_raft_membership_has(const struct mon_raft_membership *m, uint64_t id);
/* Largest config entry payload. */
#define MON_RAFT_CONF_MAX_BYTES (4 + 8 * MON_RAFT_MAX_VOTERS)

/* The persisted state of every initial member of a new cluster: one config
 * entry (index 1, term 1, listing @voters, committed: every member holds it)
 * in @entry, its payload in @buf (MON_RAFT_CONF_MAX_BYTES), and @hs. The
 * driver persists them, then calls mon_raft_create(cfg, hs, NULL, entry, 1).
 * Because the first configuration is a log entry rather than an assumption
 * at index 0, every node, including ones added later, agrees on the
 * configuration at every index. Returns 0 or -EINVAL (empty or invalid). */
int mon_raft_bootstrap(const struct mon_raft_membership *voters, struct mon_raft_hard_state *hs,
                       struct mon_raft_entry *entry, void *buf);

/* Encodes a config entry payload into @buf (MON_RAFT_CONF_MAX_BYTES);
 * returns its length. */
size_t mon_raft_membership_encode(const struct mon_raft_membership *m, void *buf);
/* Decodes and validates a config entry payload: 0 or -EINVAL. */
int mon_raft_membership_decode(const void *buf, size_t len, struct mon_raft_membership *m);

/* Checks every invariant listed in raft.c. Returns 0, or -EUCLEAN and a
 * static description naming the invariant in *why (may be NULL). Runs
 * automatically after each call in CAIRN_DEBUG builds. */
int mon_raft_check(const struct mon_raft *r, const char **why);

#endif

/* The invariant checker for the Raft core (the invariants are listed at the
 * top of raft.c) and the name tables used by traces and tests. The checker
 * walks the whole log, so it runs after every call only in CAIRN_DEBUG
 * builds; the simulator also calls it after every step. */
#include <errno.h>

#include "monitor/core/internal.h"

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        *why = (msg);                                                                              \
        return -EUCLEAN;                                                                           \
    } while (0)

static int check_indexes(const struct mon_raft *r, const char **why)
{
    uint64_t last = mon__log_last_index(&r->log);

    if (r->snap.index != r->log.snap_index || r->snap.term != r->log.snap_term)
        FAIL("inv. 1: snapshot and log disagree on the compaction point");
    if (r->applied > r->commit || r->commit > last)
        FAIL("inv. 1: applied <= commit <= last index");
    if (!r->snap_pending && r->applied < r->snap.index)
        FAIL("inv. 1: applied below the snapshot without a pending snapshot");
    if (r->log.stabled < r->log.snap_index || r->log.stabled > last)
        FAIL("inv. 2: snap.index <= stabled <= last index");
    if (r->prev_hs.term > r->term || r->prev_hs.commit > r->commit)
        FAIL("inv. 8: persisted hard state ahead of the current one");
    return 0;
}

static int check_log(const struct mon_raft *r, const char **why)
{
    const struct mon__log *l = &r->log;
    uint64_t term = l->snap_term;
    size_t off = 0;

    for (size_t i = 0; i < l->n; i++) {
        const struct mon_raft_entry *e = &l->ents[i];
        if (e->index != l->snap_index + 1 + i)
            FAIL("inv. 3: log indexes are contiguous");
        if (e->term < term || e->term > r->term)
            FAIL("inv. 3: log terms non-decreasing and <= term");
        if ((const uint8_t *)e->data != l->data + off)
            FAIL("inv. 9: entry payloads packed in order");
        term = e->term;
        off += e->len;
    }
    if (off != l->data_len)
        FAIL("inv. 9: payload bytes add up");
    return 0;
}

static int check_role(const struct mon_raft *r, const char **why)
{
    switch (r->role) {
    case MON_RAFT_LEADER:
        if (r->lead != r->id)
            FAIL("inv. 4: a leader leads");
        if (!mon_raft_membership_has(&r->conf, r->id))
            FAIL("inv. 5: a leader is a voter of its configuration");
        break;
    case MON_RAFT_CANDIDATE:
        if (r->vote != r->id)
            FAIL("inv. 4: a candidate voted for itself");
        /* fallthrough */
    case MON_RAFT_PRE_CANDIDATE:
        if (r->lead != 0)
            FAIL("inv. 4: (pre-)candidates know no leader");
        break;
    case MON_RAFT_FOLLOWER:
        if (r->lead == r->id)
            FAIL("inv. 4: a follower does not lead");
        break;
    default:
        FAIL("inv. 4: unknown role");
    }
    if (r->role != MON_RAFT_LEADER && r->transferee != 0)
        FAIL("inv. 10: only a leader transfers");
    return 0;
}

static int check_progress(const struct mon_raft *r, const char **why)
{
    uint64_t last = mon__log_last_index(&r->log);

    if (r->n_prs != r->conf.n_voters)
        FAIL("inv. 5: one progress per voter");
    for (uint32_t i = 0; i < r->n_prs; i++) {
        const struct mon__progress *pr = &r->prs[i];
        if (pr->id != r->conf.voters[i])
            FAIL("inv. 5: progress follows the configuration");
        if (pr->id == r->id && pr->match != last)
            FAIL("inv. 5: the leader matches itself");
        if (pr->match >= pr->next || pr->next > last + 1)
            FAIL("inv. 5: match < next <= last + 1");
    }
    if (r->transferee != 0 &&
        (r->transferee == r->id || !mon_raft_membership_has(&r->conf, r->transferee)))
        FAIL("inv. 10: transfer target is another voter");
    if (r->conf_index > r->term_start_index && r->commit < r->term_start_index)
        FAIL("inv. 7: config change before an entry of the term committed");
    uint32_t uncommitted = 0;
    for (uint64_t i = r->commit + 1; i <= last; i++)
        uncommitted += mon__log_entry(&r->log, i)->type == MON_RAFT_ENTRY_CONF;
    if (uncommitted > 1)
        FAIL("inv. 7: at most one uncommitted config entry");
    return 0;
}

static int check_conf(const struct mon_raft *r, const char **why)
{
    struct mon_raft_membership m;

    mon__conf_at(r, mon__log_last_index(&r->log), &m);
    if (m.n_voters != r->conf.n_voters)
        FAIL("inv. 6: conf is the newest config in the log");
    for (uint32_t i = 0; i < m.n_voters; i++)
        if (m.voters[i] != r->conf.voters[i])
            FAIL("inv. 6: conf is the newest config in the log");
    return 0;
}

int mon_raft_check(const struct mon_raft *r, const char **why)
{
    const char *dummy;
    int rc;

    why = why ? why : &dummy;
    rc = check_indexes(r, why);
    if (rc == 0)
        rc = check_log(r, why);
    if (rc == 0)
        rc = check_role(r, why);
    if (rc == 0 && r->role == MON_RAFT_LEADER)
        rc = check_progress(r, why);
    if (rc == 0)
        rc = check_conf(r, why);
    return rc;
}

const char *mon_raft_role_name(enum mon_raft_role role)
{
    switch (role) {
    case MON_RAFT_FOLLOWER:
        return "follower";
    case MON_RAFT_PRE_CANDIDATE:
        return "pre-candidate";
    case MON_RAFT_CANDIDATE:
        return "candidate";
    case MON_RAFT_LEADER:
        return "leader";
    }
    return "?";
}

const char *mon_raft_msg_type_name(uint32_t type)
{
    static const char *const names[] = {
        [MON_RAFT_MSG_PREVOTE] = "prevote",
        [MON_RAFT_MSG_PREVOTE_RESP] = "prevote-resp",
        [MON_RAFT_MSG_VOTE] = "vote",
        [MON_RAFT_MSG_VOTE_RESP] = "vote-resp",
        [MON_RAFT_MSG_APP] = "app",
        [MON_RAFT_MSG_APP_RESP] = "app-resp",
        [MON_RAFT_MSG_HEARTBEAT] = "heartbeat",
        [MON_RAFT_MSG_HEARTBEAT_RESP] = "heartbeat-resp",
        [MON_RAFT_MSG_SNAP] = "snap",
        [MON_RAFT_MSG_TIMEOUT_NOW] = "timeout-now",
    };

    if (type >= CAIRN_ARRAY_SIZE(names) || !names[type])
        return "?";
    return names[type];
}

const char *mon_raft_trace_name(enum mon_raft_trace_kind kind)
{
    static const char *const names[] = {
        [MON_RAFT_TRACE_BECOME_FOLLOWER] = "follower",
        [MON_RAFT_TRACE_BECOME_PRE_CANDIDATE] = "pre-candidate",
        [MON_RAFT_TRACE_BECOME_CANDIDATE] = "candidate",
        [MON_RAFT_TRACE_BECOME_LEADER] = "leader",
        [MON_RAFT_TRACE_COMMIT] = "commit",
        [MON_RAFT_TRACE_TRUNCATE] = "truncate",
        [MON_RAFT_TRACE_RESTORE] = "restore",
        [MON_RAFT_TRACE_CONF] = "conf",
        [MON_RAFT_TRACE_VOTE] = "vote",
        [MON_RAFT_TRACE_CHECK_QUORUM_LOST] = "check-quorum-lost",
        [MON_RAFT_TRACE_TRANSFER] = "transfer",
        [MON_RAFT_TRACE_REJECT] = "reject",
    };

    if ((unsigned)kind >= CAIRN_ARRAY_SIZE(names) || !names[kind])
        return "?";
    return names[kind];
}

/* Raft roles, timers and elections: creation from persisted state, the
 * step() dispatcher with its term rules, tick(), pre-vote and vote. Log
 * replication lives in raft_replicate.c, membership in raft_membership.c,
 * the outbox and ready/advance in raft_outbox.c, input checks in
 * raft_validate.c and the invariant checker in raft_check.c.
 *
 * Roles (Raft §5.2, thesis §9.6 pre-vote, §3.10 transfer):
 *
 *                timeout (promotable, pre_vote)
 *   +----------+ ------------------------------> +---------------+ --+ timeout:
 *   | FOLLOWER |                                 | PRE_CANDIDATE |   | pre-vote
 *   +----------+ <------------------------------ +---------------+ <-+ again
 *    ^  ^   |     pre-vote lost, leader seen,           |
 *    |  |   |     higher term                           | pre-vote quorum
 *    |  |   | timeout (no pre_vote), TIMEOUT_NOW        v
 *    |  |   +-------------------------------------> +-----------+ --+ timeout:
 *    |  |                                           | CANDIDATE |   | next term
 *    |  +------------------------------------------ +-----------+ <-+
 *    |     vote lost, leader seen, higher term            |
 *    |                                                    | vote quorum
 *    |     higher term, check-quorum lost            +--------+
 *    +---------------------------------------------- | LEADER |
 *                                                    +--------+
 *
 * "Leader seen" is an append, heartbeat or snapshot of the current term.
 * Pre-candidates keep their term; candidates increment it and vote for
 * themselves; a node outside its own configuration never leaves FOLLOWER.
 *
 * Invariants (checked by mon_raft_check(), cited as "inv. N"):
 *  1. snap.index <= applied <= commit <= last index; applied may trail
 *     snap.index only while a received snapshot is pending (snap_pending).
 *  2. snap.index <= stabled <= last index.
 *  3. Log entries are contiguous from snap.index + 1 and their terms never
 *     decrease, are >= snap.term and <= term.
 *  4. A leader's lead is itself; a follower's lead is 0 or another node;
 *     (pre-)candidates have lead 0. A candidate voted for itself.
 *  5. A leader is a voter of its own configuration (it refuses to remove
 *     itself) and has exactly one progress per voter; its own match is its
 *     last index; for every progress match < next <= last + 1.
 *  6. conf is the newest config entry of the log, else the snapshot's
 *     (thesis §4.1: a configuration is used as soon as it is appended).
 *  7. A leader has at most one uncommitted config entry, and only after
 *     committing an entry of its term (the single-server change fix).
 *  8. The hard state last handed to the driver never runs ahead of the
 *     current one: prev_hs.term <= term, prev_hs.commit <= commit.
 *  9. Entry payloads lie packed in the log's byte buffer.
 * 10. A transfer target is a voter other than the leader itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/core/internal.h"

void mon_raft_config_default(struct mon_raft_config *cfg, uint64_t id)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->id = id;
    cfg->election_ticks = 10;
    cfg->heartbeat_ticks = 1;
    cfg->seed = id;
    cfg->pre_vote = true;
    cfg->check_quorum = true;
    cfg->max_msg_entries = 64;
    cfg->max_msg_bytes = 1u << 20;
    cfg->max_inflight = 256;
    cfg->max_uncommitted_bytes = 4u << 20;
    cfg->max_log_entries = 100000;
}

void mon__trace(const struct mon_raft *r, enum mon_raft_trace_kind kind, uint64_t a, uint64_t b)
{
    if (!r->cfg.trace)
        return;
    struct mon_raft_trace_event ev = {
        .kind = kind,
        .id = r->id,
        .term = r->term,
        .a = a,
        .b = b,
    };
    r->cfg.trace(r->cfg.trace_arg, &ev);
}

void mon__debug_check(const struct mon_raft *r)
{
#ifdef CAIRN_DEBUG
    const char *why = NULL;

    if (mon_raft_check(r, &why) != 0)
        cairn__assert_fail(why, __FILE__, __LINE__, __func__);
#else
    (void)r;
#endif
}

/* splitmix64: the caller seeds it, so elections replay exactly. */
static uint64_t rng_next(struct mon_raft *r)
{
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void reset_timers(struct mon_raft *r)
{
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    r->randomized_timeout = r->cfg.election_ticks + (uint32_t)(rng_next(r) % r->cfg.election_ticks);
}

/* Common part of every role change: a new term forgets the vote. */
static void reset(struct mon_raft *r, uint64_t term)
{
    if (r->term != term) {
        CAIRN_ASSERT(term > r->term);
        r->term = term;
        r->vote = 0;
    }
    r->lead = 0;
    r->transferee = 0;
    r->n_votes = 0;
    reset_timers(r);
}

void mon__become_follower(struct mon_raft *r, uint64_t term, uint64_t lead)
{
    reset(r, term);
    r->role = MON_RAFT_FOLLOWER;
    r->lead = lead;
    mon__trace(r, MON_RAFT_TRACE_BECOME_FOLLOWER, lead, 0);
}

static void become_pre_candidate(struct mon_raft *r)
{
    /* Pre-vote changes neither term nor vote (thesis §9.6). */
    r->role = MON_RAFT_PRE_CANDIDATE;
    r->lead = 0;
    r->n_votes = 0;
    reset_timers(r);
    mon__trace(r, MON_RAFT_TRACE_BECOME_PRE_CANDIDATE, 0, 0);
}

static void become_candidate(struct mon_raft *r)
{
    reset(r, r->term + 1);
    r->role = MON_RAFT_CANDIDATE;
    r->vote = r->id;
    mon__trace(r, MON_RAFT_TRACE_BECOME_CANDIDATE, 0, 0);
}

static void become_leader(struct mon_raft *r)
{
    reset(r, r->term);
    r->role = MON_RAFT_LEADER;
    r->lead = r->id;
    mon__pr_reset(r);
    mon__trace(r, MON_RAFT_TRACE_BECOME_LEADER, 0, 0);
    /* Raft §8: a no-op of the new term lets earlier entries commit. */
    if (mon__leader_append(r, MON_RAFT_ENTRY_NOOP, NULL, 0) != 0) {
        mon__become_follower(r, r->term, 0);
        return;
    }
    r->term_start_index = mon__log_last_index(&r->log);
}

enum poll_result { POLL_PENDING, POLL_WON, POLL_LOST };

/* Records one (pre-)vote and counts the voters of the configuration. */
static enum poll_result poll(struct mon_raft *r, uint64_t id, bool granted)
{
    uint32_t yes = 0, no = 0, i;

    for (i = 0; i < r->n_votes && r->votes[i].id != id; i++)
        ;
    if (i == r->n_votes && i < MON_RAFT_MAX_VOTERS) {
        r->votes[i].id = id;
        r->votes[i].granted = granted;
        r->n_votes++;
    }
    for (i = 0; i < r->n_votes; i++) {
        if (!mon_raft_membership_has(&r->conf, r->votes[i].id))
            continue;
        if (r->votes[i].granted)
            yes++;
        else
            no++;
    }
    if (yes >= mon__quorum(r))
        return POLL_WON;
    if (no > r->conf.n_voters - mon__quorum(r))
        return POLL_LOST;
    return POLL_PENDING;
}

static void campaign(struct mon_raft *r, bool pre, bool transfer)
{
    if (!mon__is_promotable(r))
        return;
    if (pre)
        become_pre_candidate(r);
    else
        become_candidate(r);
    if (poll(r, r->id, true) == POLL_WON) {
        if (pre)
            campaign(r, false, transfer);
        else
            become_leader(r);
        return;
    }
    for (uint32_t i = 0; i < r->conf.n_voters; i++) {
        if (r->conf.voters[i] == r->id)
            continue;
        struct mon_raft_msg m = {
            .type = pre ? MON_RAFT_MSG_PREVOTE : MON_RAFT_MSG_VOTE,
            .to = r->conf.voters[i],
            .term = pre ? r->term + 1 : r->term,
            .log_term = mon__log_last_term(&r->log),
            .index = mon__log_last_index(&r->log),
            .force = transfer,
        };
        mon__send(r, &m);
    }
}

static void tally(struct mon_raft *r, const struct mon_raft_msg *m)
{
    bool pre = r->role == MON_RAFT_PRE_CANDIDATE;

    if (m->type != (pre ? MON_RAFT_MSG_PREVOTE_RESP : MON_RAFT_MSG_VOTE_RESP))
        return;
    /* A grant must be for the term this round proposes. */
    if (!m->reject && m->term != (pre ? r->term + 1 : r->term))
        return;
    switch (poll(r, m->from, !m->reject)) {
    case POLL_WON:
        if (pre)
            campaign(r, false, false);
        else
            become_leader(r);
        break;
    case POLL_LOST:
        mon__become_follower(r, r->term, 0);
        break;
    case POLL_PENDING:
        break;
    }
}

static void handle_vote_request(struct mon_raft *r, const struct mon_raft_msg *m)
{
    bool pre = m->type == MON_RAFT_MSG_PREVOTE;
    bool can_vote =
        r->vote == m->from || (r->vote == 0 && r->lead == 0) || (pre && m->term > r->term);
    struct mon_raft_msg resp = {
        .type = pre ? MON_RAFT_MSG_PREVOTE_RESP : MON_RAFT_MSG_VOTE_RESP,
        .to = m->from,
    };

    if (can_vote && mon__log_is_up_to_date(&r->log, m->log_term, m->index)) {
        resp.term = m->term;
        mon__send(r, &resp);
        if (!pre) {
            r->election_elapsed = 0;
            r->vote = m->from;
        }
        mon__trace(r, MON_RAFT_TRACE_VOTE, m->from, pre);
        return;
    }
    resp.term = r->term;
    resp.reject = true;
    mon__send(r, &resp);
}

/* A node that heard from a leader within the minimum election timeout
 * ignores vote requests (thesis §4.2.3, with check-quorum) and pre-votes
 * (§9.6), so removed or partitioned servers cannot depose a healthy leader. */
static bool in_lease(const struct mon_raft *r, const struct mon_raft_msg *m)
{
    if (!r->cfg.check_quorum && m->type != MON_RAFT_MSG_PREVOTE)
        return false;
    return r->lead != 0 && r->election_elapsed < r->cfg.election_ticks;
}

static bool is_response(uint32_t type)
{
    return type == MON_RAFT_MSG_PREVOTE_RESP || type == MON_RAFT_MSG_VOTE_RESP ||
           type == MON_RAFT_MSG_APP_RESP || type == MON_RAFT_MSG_HEARTBEAT_RESP;
}

static bool is_from_leader(uint32_t type)
{
    return type == MON_RAFT_MSG_APP || type == MON_RAFT_MSG_HEARTBEAT || type == MON_RAFT_MSG_SNAP;
}

/* Raft §5.1 term rules, with the pre-vote exceptions. Returns 1 when the
 * message is fully handled (stale or ignored), 0 to continue, or -errno. */
static int step_term(struct mon_raft *r, const struct mon_raft_msg *m)
{
    bool vote_req = m->type == MON_RAFT_MSG_PREVOTE || m->type == MON_RAFT_MSG_VOTE;

    /* We only ask voters; an answer from elsewhere is stale (it was asked
     * before a removal), whatever its term: a removed server may have
     * campaigned alone to any term, and must not disrupt us (thesis §4.2.3). */
    if (is_response(m->type) && !mon_raft_membership_has(&r->conf, m->from))
        return 1;
    if (m->term > r->term) {
        if (vote_req && !m->force && in_lease(r, m))
            return 1;
        if (m->type == MON_RAFT_MSG_PREVOTE || (m->type == MON_RAFT_MSG_PREVOTE_RESP && !m->reject))
            return 0;
        mon__become_follower(r, m->term, is_from_leader(m->type) ? m->from : 0);
        return 0;
    }
    if (m->term == r->term)
        return 0;
    /* A stale leader learns the new term from our answer and steps down;
     * with pre-vote or check-quorum it could not learn it otherwise. */
    if ((r->cfg.check_quorum || r->cfg.pre_vote) &&
        (m->type == MON_RAFT_MSG_APP || m->type == MON_RAFT_MSG_HEARTBEAT)) {
        struct mon_raft_msg resp = {.type = MON_RAFT_MSG_APP_RESP, .to = m->from};
        mon__send(r, &resp);
    } else if (m->type == MON_RAFT_MSG_PREVOTE) {
        struct mon_raft_msg resp = {
            .type = MON_RAFT_MSG_PREVOTE_RESP,
            .to = m->from,
            .reject = true,
        };
        mon__send(r, &resp);
    }
    return 1;
}

static int step_leader(struct mon_raft *r, const struct mon_raft_msg *m)
{
    switch (m->type) {
    case MON_RAFT_MSG_APP_RESP:
        return mon__leader_app_resp(r, m);
    case MON_RAFT_MSG_HEARTBEAT_RESP:
        mon__leader_heartbeat_resp(r, m);
        return 0;
    case MON_RAFT_MSG_APP:
    case MON_RAFT_MSG_HEARTBEAT:
    case MON_RAFT_MSG_SNAP:
        return -EPROTO; /* a second leader in our term (§5.2 election safety) */
    default:
        return 0;
    }
}

static int step_follower(struct mon_raft *r, const struct mon_raft_msg *m)
{
    if (is_from_leader(m->type)) {
        if (r->lead != 0 && r->lead != m->from)
            return -EPROTO;
        r->election_elapsed = 0;
        r->lead = m->from;
    }
    switch (m->type) {
    case MON_RAFT_MSG_APP:
        return mon__handle_append(r, m);
    case MON_RAFT_MSG_HEARTBEAT:
        mon__handle_heartbeat(r, m);
        return 0;
    case MON_RAFT_MSG_SNAP:
        return mon__handle_snapshot(r, m);
    case MON_RAFT_MSG_TIMEOUT_NOW:
        /* Thesis §3.10: start a real election now, skipping pre-vote. */
        campaign(r, false, true);
        return 0;
    default:
        return 0;
    }
}

static int step_role(struct mon_raft *r, const struct mon_raft_msg *m)
{
    if (m->type == MON_RAFT_MSG_PREVOTE || m->type == MON_RAFT_MSG_VOTE) {
        handle_vote_request(r, m);
        return 0;
    }
    switch (r->role) {
    case MON_RAFT_LEADER:
        return step_leader(r, m);
    case MON_RAFT_PRE_CANDIDATE:
    case MON_RAFT_CANDIDATE:
        if (is_from_leader(m->type)) {
            mon__become_follower(r, r->term, m->from);
            return step_follower(r, m);
        }
        tally(r, m);
        return 0;
    case MON_RAFT_FOLLOWER:
        return step_follower(r, m);
    }
    return 0;
}

int mon_raft_step(struct mon_raft *r, const struct mon_raft_msg *m)
{
    CAIRN_ASSERT(!r->in_ready);
    int rc = mon__msg_validate(r, m);
    if (rc == 0)
        rc = step_term(r, m);
    if (rc == 0)
        rc = step_role(r, m);
    if (rc < 0)
        mon__trace(r, MON_RAFT_TRACE_REJECT, m->type, (uint64_t)-rc);
    mon__debug_check(r);
    return rc < 0 ? rc : 0;
}

static void tick_leader(struct mon_raft *r)
{
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    mon__pr_tick(r);
    if (r->transferee != 0 && ++r->transfer_elapsed >= r->cfg.election_ticks) {
        mon__trace(r, MON_RAFT_TRACE_TRANSFER, r->transferee, 0);
        r->transferee = 0;
    }
    if (r->election_elapsed >= r->cfg.election_ticks) {
        r->election_elapsed = 0;
        if (r->cfg.check_quorum) {
            uint32_t active = 0;
            for (uint32_t i = 0; i < r->n_prs; i++) {
                active += r->prs[i].recent_active || r->prs[i].id == r->id;
                r->prs[i].recent_active = false;
            }
            if (active < mon__quorum(r)) {
                mon__trace(r, MON_RAFT_TRACE_CHECK_QUORUM_LOST, active, 0);
                mon__become_follower(r, r->term, 0);
                return;
            }
        }
    }
    if (r->heartbeat_elapsed >= r->cfg.heartbeat_ticks) {
        r->heartbeat_elapsed = 0;
        mon__bcast_heartbeat(r);
    }
}

void mon_raft_tick(struct mon_raft *r)
{
    CAIRN_ASSERT(!r->in_ready);
    if (r->role == MON_RAFT_LEADER) {
        tick_leader(r);
    } else {
        if (r->election_elapsed < UINT32_MAX)
            r->election_elapsed++;
        if (mon__is_promotable(r) && r->election_elapsed >= r->randomized_timeout) {
            r->election_elapsed = 0;
            campaign(r, r->cfg.pre_vote, false);
        }
    }
    mon__debug_check(r);
}

int mon_raft_propose(struct mon_raft *r, const void *data, size_t len)
{
    CAIRN_ASSERT(!r->in_ready);
    if (len > 0 && !data)
        return -EINVAL;
    if (len > MON_RAFT_MAX_ENTRY_BYTES)
        return -EMSGSIZE;
    if (r->role != MON_RAFT_LEADER)
        return -MON_RAFT_ENOTLEADER;
    if (r->transferee != 0 || r->log.n >= r->cfg.max_log_entries)
        return -EAGAIN;
    uint64_t pending = mon__log_bytes_after(&r->log, r->commit);
    if (pending > 0 && pending + len > r->cfg.max_uncommitted_bytes)
        return -EAGAIN;
    int rc = mon__leader_append(r, MON_RAFT_ENTRY_NORMAL, data, (uint32_t)len);
    mon__debug_check(r);
    return rc;
}

static int config_validate(const struct mon_raft_config *c)
{
    if (c->id == 0 || c->heartbeat_ticks == 0 || c->election_ticks <= c->heartbeat_ticks)
        return -EINVAL;
    if (c->election_ticks > UINT32_MAX / 2)
        return -EINVAL;
    if (c->max_msg_entries == 0 || c->max_msg_entries > MON_RAFT_MAX_MSG_ENTRIES)
        return -EINVAL;
    if (c->max_msg_bytes == 0 || c->max_inflight == 0 || c->max_uncommitted_bytes == 0 ||
        c->max_log_entries == 0)
        return -EINVAL;
    return 0;
}

static int persisted_validate(const struct mon_raft_hard_state *hs,
                              const struct mon_raft_snapshot *s, const struct mon_raft_entry *e,
                              size_t n)
{
    if (mon__snapshot_validate(s, true) != 0)
        return -EBADMSG;
    if (n > 0 && !e)
        return -EBADMSG;
    if (mon__entries_validate(e, n, s->index + 1, s->term, hs->term) != 0)
        return -EBADMSG;
    if (s->term > hs->term || hs->term > MON_RAFT_MAX_INDEX || hs->commit > s->index + n)
        return -EBADMSG;
    return 0;
}

static int restore_persisted(struct mon_raft *r, const struct mon_raft_snapshot *s,
                             const struct mon_raft_entry *e, size_t n)
{
    size_t bytes = 0;

    if (s->len) {
        r->snap_buf = malloc(s->len);
        if (!r->snap_buf)
            return -ENOMEM;
        memcpy(r->snap_buf, s->data, s->len);
    }
    r->snap = *s;
    r->snap.data = r->snap_buf;
    mon__log_reset(&r->log, s->index, s->term);
    for (size_t i = 0; i < n; i++)
        bytes += e[i].len;
    if (mon__log_reserve(&r->log, n, bytes) != 0)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        mon__log_append(&r->log, &e[i]);
    r->log.stabled = mon__log_last_index(&r->log);
    mon__conf_reload(r);
    return 0;
}

int mon_raft_create(const struct mon_raft_config *cfg, const struct mon_raft_hard_state *hs,
                    const struct mon_raft_snapshot *snap, const struct mon_raft_entry *entries,
                    size_t n, struct mon_raft **out)
{
    static const struct mon_raft_hard_state zero_hs;
    static const struct mon_raft_snapshot empty_snap;
    struct mon_raft *r;
    int rc;

    if (!cfg || !out || config_validate(cfg) != 0)
        return -EINVAL;
    hs = hs ? hs : &zero_hs;
    snap = snap ? snap : &empty_snap;
    rc = persisted_validate(hs, snap, entries, n);
    if (rc != 0)
        return rc;
    uint64_t commit = CAIRN_MAX(hs->commit, snap->index);
    uint64_t applied = CAIRN_MAX(cfg->applied, snap->index);
    if (applied > commit)
        return -EINVAL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    if (mon__log_init(&r->log) != 0) {
        free(r);
        return -ENOMEM;
    }
    r->cfg = *cfg;
    r->id = cfg->id;
    r->rng = cfg->seed;
    rc = restore_persisted(r, snap, entries, n);
    if (rc != 0) {
        mon_raft_destroy(r);
        return rc;
    }
    r->term = hs->term;
    r->vote = hs->vote;
    r->commit = commit;
    r->applied = applied;
    r->prev_hs = *hs;
    mon__become_follower(r, r->term, 0);
    mon__debug_check(r);
    *out = r;
    return 0;
}

void mon_raft_destroy(struct mon_raft *r)
{
    if (!r)
        return;
    mon__log_fini(&r->log);
    mon__outbox_fini(&r->out);
    free(r->snap_buf);
    free(r);
}

/* Log replication (Raft §5.3, §5.4, §7): the leader's per-follower progress
 * (probe, pipelined replicate, snapshot), commitment by counting, and the
 * follower's handling of appends, heartbeats and snapshots. Called from the
 * role dispatch in raft.c; messages leave through mon__send(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/core/internal.h"

static void pr_init(struct mon__progress *pr, uint64_t id, uint64_t last)
{
    memset(pr, 0, sizeof(*pr));
    pr->id = id;
    pr->next = last + 1;
    pr->state = MON__PR_PROBE;
}

void mon__pr_reset(struct mon_raft *r)
{
    uint64_t last = mon__log_last_index(&r->log);

    r->n_prs = r->conf.n_voters;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct mon__progress *pr = &r->prs[i];
        pr_init(pr, r->conf.voters[i], last);
        if (pr->id == r->id) {
            pr->match = last;
            pr->state = MON__PR_REPLICATE;
        }
    }
}

void mon__pr_sync(struct mon_raft *r)
{
    struct mon__progress old[MON_RAFT_MAX_VOTERS];
    uint32_t n_old = r->n_prs;
    uint64_t last = mon__log_last_index(&r->log);

    memcpy(old, r->prs, sizeof(old));
    r->n_prs = r->conf.n_voters;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        uint64_t id = r->conf.voters[i];
        uint32_t j;
        for (j = 0; j < n_old && old[j].id != id; j++)
            ;
        if (j < n_old) {
            r->prs[i] = old[j];
            continue;
        }
        /* A new voter counts as active until its first election timeout. */
        pr_init(&r->prs[i], id, last);
        r->prs[i].recent_active = true;
    }
    if (r->transferee != 0 && !mon_raft_membership_has(&r->conf, r->transferee))
        r->transferee = 0;
}

struct mon__progress *mon__pr_find(struct mon_raft *r, uint64_t id)
{
    for (uint32_t i = 0; i < r->n_prs; i++)
        if (r->prs[i].id == id)
            return &r->prs[i];
    return NULL;
}

static uint64_t pr_inflight(const struct mon__progress *pr)
{
    return pr->next - 1 - pr->match;
}

static bool pr_is_paused(const struct mon_raft *r, const struct mon__progress *pr)
{
    switch (pr->state) {
    case MON__PR_PROBE:
        return pr->probe_sent;
    case MON__PR_REPLICATE:
        return pr_inflight(pr) >= r->cfg.max_inflight;
    case MON__PR_SNAPSHOT:
        return true;
    }
    return true;
}

static void pr_become_probe(struct mon__progress *pr)
{
    if (pr->state == MON__PR_SNAPSHOT)
        pr->next = CAIRN_MAX(pr->match + 1, pr->pending_snapshot + 1);
    else
        pr->next = pr->match + 1;
    pr->state = MON__PR_PROBE;
    pr->pending_snapshot = 0;
    pr->probe_sent = false;
}

static void pr_become_replicate(struct mon__progress *pr)
{
    pr->state = MON__PR_REPLICATE;
    pr->next = pr->match + 1;
    pr->probe_sent = false;
}

static bool pr_maybe_update(struct mon__progress *pr, uint64_t index)
{
    bool updated = false;

    if (pr->match < index) {
        pr->match = index;
        pr->probe_sent = false;
        updated = true;
    }
    if (pr->next < index + 1)
        pr->next = index + 1;
    return updated;
}

/* Applies a rejection of the append whose previous index was @rejected;
 * @hint is where the follower's log may match. False if stale. */
static bool pr_maybe_decr_to(struct mon__progress *pr, uint64_t rejected, uint64_t hint)
{
    if (pr->state == MON__PR_REPLICATE) {
        if (rejected <= pr->match)
            return false;
        pr->next = pr->match + 1;
        return true;
    }
    if (pr->next - 1 != rejected)
        return false;
    pr->next = CAIRN_MAX(CAIRN_MIN(rejected, hint + 1), pr->match + 1);
    pr->probe_sent = false;
    return true;
}

static void send_snapshot(struct mon_raft *r, struct mon__progress *pr)
{
    CAIRN_ASSERT(r->snap.index > 0);
    pr->state = MON__PR_SNAPSHOT;
    pr->pending_snapshot = r->snap.index;
    pr->snap_wait_ticks = 0;
    struct mon_raft_msg m = {.type = MON_RAFT_MSG_SNAP, .to = pr->id};
    mon__send(r, &m);
}

/* How many entries from @first fit in one message to @pr. */
static uint32_t append_count(const struct mon_raft *r, const struct mon__progress *pr,
                             uint64_t first)
{
    uint64_t last = mon__log_last_index(&r->log);
    uint64_t budget = r->cfg.max_msg_entries, bytes = 0;
    uint32_t n = 0;

    if (pr->state == MON__PR_REPLICATE)
        budget = CAIRN_MIN(budget, r->cfg.max_inflight - pr_inflight(pr));
    while (n < budget && first + n <= last) {
        const struct mon_raft_entry *e = mon__log_entry(&r->log, first + n);
        if (n > 0 && bytes + e->len > r->cfg.max_msg_bytes)
            break;
        bytes += e->len;
        n++;
    }
    return n;
}

/* Sends the next append (or the snapshot, if the entries are compacted).
 * Returns false if nothing was sent. */
static bool send_append(struct mon_raft *r, struct mon__progress *pr, bool send_if_empty)
{
    uint64_t prev = pr->next - 1, prev_term;

    if (pr_is_paused(r, pr))
        return false;
    if (!mon__log_term(&r->log, prev, &prev_term)) {
        send_snapshot(r, pr);
        return true;
    }
    uint32_t n = append_count(r, pr, prev + 1);
    if (n == 0 && !send_if_empty)
        return false;
    struct mon_raft_msg m = {
        .type = MON_RAFT_MSG_APP,
        .to = pr->id,
        .log_term = prev_term,
        .index = prev,
        .entries = n ? mon__log_entry(&r->log, prev + 1) : NULL,
        .n_entries = n,
        .commit = r->commit,
    };
    mon__send(r, &m);
    if (pr->state == MON__PR_REPLICATE)
        pr->next = prev + n + 1;
    else
        pr->probe_sent = true;
    return true;
}

void mon__send_append_to(struct mon_raft *r, struct mon__progress *pr)
{
    send_append(r, pr, true);
}

void mon__bcast_append(struct mon_raft *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++)
        if (r->prs[i].id != r->id)
            send_append(r, &r->prs[i], true);
}

void mon__bcast_heartbeat(struct mon_raft *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        const struct mon__progress *pr = &r->prs[i];
        if (pr->id == r->id)
            continue;
        /* Never beyond what the follower is known to hold (it may have a
         * divergent suffix past its match). */
        struct mon_raft_msg m = {
            .type = MON_RAFT_MSG_HEARTBEAT,
            .to = pr->id,
            .commit = CAIRN_MIN(pr->match, r->commit),
        };
        mon__send(r, &m);
    }
}

void mon__send_timeout_now(struct mon_raft *r, uint64_t to)
{
    struct mon_raft_msg m = {.type = MON_RAFT_MSG_TIMEOUT_NOW, .to = to};

    mon__send(r, &m);
}

void mon__commit_to(struct mon_raft *r, uint64_t index)
{
    if (index <= r->commit)
        return;
    CAIRN_ASSERT(index <= mon__log_last_index(&r->log));
    r->commit = index;
    mon__trace(r, MON_RAFT_TRACE_COMMIT, index, 0);
}

/* Raft §5.4.2: the highest index held by a quorum commits, but only if it
 * is of the current term; earlier entries commit with it (Figure 8). */
bool mon__maybe_commit(struct mon_raft *r)
{
    uint64_t match[MON_RAFT_MAX_VOTERS];
    uint32_t n = r->n_prs;

    for (uint32_t i = 0; i < n; i++) {
        uint64_t m = r->prs[i].id == r->id ? mon__log_last_index(&r->log) : r->prs[i].match;
        uint32_t j = i;
        for (; j > 0 && match[j - 1] < m; j--)
            match[j] = match[j - 1];
        match[j] = m;
    }
    uint64_t mci = match[mon__quorum(r) - 1];
    if (mci <= r->commit || !mon__log_match_term(&r->log, mci, r->term))
        return false;
    mon__commit_to(r, mci);
    return true;
}

void mon__pr_tick(struct mon_raft *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct mon__progress *pr = &r->prs[i];
        /* The snapshot may have been lost: probe again, which resends it. */
        if (pr->state == MON__PR_SNAPSHOT && ++pr->snap_wait_ticks >= r->cfg.election_ticks)
            pr_become_probe(pr);
    }
}

int mon__leader_append(struct mon_raft *r, uint32_t type, const void *data, uint32_t len)
{
    int rc = mon__log_reserve(&r->log, 1, len);
    if (rc != 0)
        return rc;
    struct mon_raft_entry e = {
        .index = mon__log_last_index(&r->log) + 1,
        .term = r->term,
        .type = type,
        .len = len,
        .data = data,
    };
    mon__log_append(&r->log, &e);
    struct mon__progress *self = mon__pr_find(r, r->id);
    CAIRN_ASSERT(self != NULL);
    self->match = e.index;
    self->next = e.index + 1;
    if (type == MON_RAFT_ENTRY_CONF)
        mon__conf_appended(r, mon__log_entry(&r->log, e.index), 1);
    mon__maybe_commit(r);
    mon__bcast_append(r);
    return 0;
}

static void leader_app_reject(struct mon_raft *r, struct mon__progress *pr,
                              const struct mon_raft_msg *m)
{
    uint64_t hint = m->reject_hint;

    /* Fast backtracking: skip every entry of ours whose term the follower
     * cannot have at or below its hint. */
    if (m->log_term > 0)
        hint = mon__log_find_conflict_by_term(&r->log, m->reject_hint, m->log_term);
    if (!pr_maybe_decr_to(pr, m->index, hint))
        return;
    if (pr->state == MON__PR_REPLICATE)
        pr_become_probe(pr);
    send_append(r, pr, true);
}

int mon__leader_app_resp(struct mon_raft *r, const struct mon_raft_msg *m)
{
    struct mon__progress *pr = mon__pr_find(r, m->from);
    uint64_t last = mon__log_last_index(&r->log);

    if (!pr)
        return 0;
    if (m->index > last)
        return -EPROTO; /* acknowledges entries we never sent */
    pr->recent_active = true;
    if (m->reject) {
        leader_app_reject(r, pr, m);
        return 0;
    }
    if (!pr_maybe_update(pr, m->index))
        return 0;
    if (pr->state == MON__PR_PROBE) {
        pr_become_replicate(pr);
    } else if (pr->state == MON__PR_SNAPSHOT && pr->match >= r->log.snap_index) {
        pr_become_probe(pr);
        pr_become_replicate(pr);
    }
    if (mon__maybe_commit(r))
        mon__bcast_append(r);
    else
        while (send_append(r, pr, false))
            ;
    if (m->from == r->transferee && pr->match == last)
        mon__send_timeout_now(r, m->from);
    return 0;
}

void mon__leader_heartbeat_resp(struct mon_raft *r, const struct mon_raft_msg *m)
{
    struct mon__progress *pr = mon__pr_find(r, m->from);
    uint64_t last = mon__log_last_index(&r->log);

    if (!pr)
        return;
    pr->recent_active = true;
    pr->probe_sent = false;
    if (pr->match < last) {
        /* A full window with a lagging match means appends were lost. */
        if (pr->state == MON__PR_REPLICATE && pr_is_paused(r, pr))
            pr_become_probe(pr);
        /* An empty append probes the follower; a gap makes it reject. */
        send_append(r, pr, true);
    }
    if (m->from == r->transferee && pr->match == last)
        mon__send_timeout_now(r, m->from);
}

/* Follower side of §5.3: the consistency check, then conflict repair. */
static int append_entries(struct mon_raft *r, const struct mon_raft_msg *m)
{
    uint32_t i = 0;
    size_t bytes = 0;

    while (i < m->n_entries &&
           mon__log_match_term(&r->log, m->entries[i].index, m->entries[i].term))
        i++;
    if (i == m->n_entries)
        return 0;
    uint64_t from = m->entries[i].index;
    /* The caller answered appends below our commit already, so a conflict
     * can never reach a committed entry (§5.4). */
    CAIRN_ASSERT(from > r->commit);
    for (uint32_t j = i; j < m->n_entries; j++)
        bytes += m->entries[j].len;
    int rc = mon__log_reserve(&r->log, m->n_entries - i, bytes);
    if (rc != 0)
        return rc;
    bool truncated = from <= mon__log_last_index(&r->log);
    if (truncated) {
        mon__log_truncate(&r->log, from);
        mon__trace(r, MON_RAFT_TRACE_TRUNCATE, from, 0);
    }
    for (uint32_t j = i; j < m->n_entries; j++)
        mon__log_append(&r->log, &m->entries[j]);
    if (truncated && r->conf_index >= from)
        mon__conf_reload(r);
    else
        mon__conf_appended(r, mon__log_entry(&r->log, from), m->n_entries - i);
    return 0;
}

int mon__handle_append(struct mon_raft *r, const struct mon_raft_msg *m)
{
    struct mon_raft_msg resp = {.type = MON_RAFT_MSG_APP_RESP, .to = m->from};

    if (m->index < r->commit) {
        resp.index = r->commit;
        mon__send(r, &resp);
        return 0;
    }
    if (!mon__log_match_term(&r->log, m->index, m->log_term)) {
        uint64_t last = mon__log_last_index(&r->log);
        uint64_t hint =
            mon__log_find_conflict_by_term(&r->log, CAIRN_MIN(m->index, last), m->log_term);
        bool known = mon__log_term(&r->log, hint, &resp.log_term);
        CAIRN_ASSERT(known);
        resp.index = m->index;
        resp.reject = true;
        resp.reject_hint = hint;
        mon__send(r, &resp);
        return 0;
    }
    int rc = append_entries(r, m);
    if (rc != 0)
        return rc;
    uint64_t last_new = m->index + m->n_entries;
    mon__commit_to(r, CAIRN_MIN(m->commit, last_new));
    resp.index = last_new;
    mon__send(r, &resp);
    return 0;
}

void mon__handle_heartbeat(struct mon_raft *r, const struct mon_raft_msg *m)
{
    struct mon_raft_msg resp = {.type = MON_RAFT_MSG_HEARTBEAT_RESP, .to = m->from};

    mon__commit_to(r, CAIRN_MIN(m->commit, mon__log_last_index(&r->log)));
    mon__send(r, &resp);
}

static int restore(struct mon_raft *r, const struct mon_raft_snapshot *s)
{
    uint8_t *buf = NULL;

    if (s->len) {
        buf = malloc(s->len);
        if (!buf)
            return -ENOMEM;
        memcpy(buf, s->data, s->len);
    }
    free(r->snap_buf);
    r->snap_buf = buf;
    r->snap = *s;
    r->snap.data = buf;
    r->snap_pending = true;
    mon__log_reset(&r->log, s->index, s->term);
    r->commit = s->index;
    r->conf = s->membership;
    r->conf_index = s->index;
    mon__trace(r, MON_RAFT_TRACE_RESTORE, s->index, s->term);
    return 0;
}

int mon__handle_snapshot(struct mon_raft *r, const struct mon_raft_msg *m)
{
    const struct mon_raft_snapshot *s = m->snapshot;
    struct mon_raft_msg resp = {.type = MON_RAFT_MSG_APP_RESP, .to = m->from};

    if (s->index <= r->commit) {
        resp.index = r->commit;
    } else if (mon__log_match_term(&r->log, s->index, s->term)) {
        /* We hold the snapshot's last entry, hence (log matching) all before
         * it: fast-forward instead of discarding the log. */
        mon__commit_to(r, s->index);
        resp.index = r->commit;
    } else {
        int rc = restore(r, s);
        if (rc != 0)
            return rc;
        resp.index = s->index;
    }
    mon__send(r, &resp);
    return 0;
}

/* Validation of untrusted input: every message handed to mon_raft_step()
 * and the persisted state handed to mon_raft_create(). Checks only what can
 * be judged without the node's state beyond its id; the protocol handlers
 * reject the rest with -EPROTO. Never asserts (STYLE §4, §14.6). */
#include <errno.h>

#include "monitor/core/internal.h"

static int entry_validate(const struct mon_raft_entry *e)
{
    struct mon_raft_membership m;

    if (e->len > MON_RAFT_MAX_ENTRY_BYTES || (e->len > 0 && !e->data))
        return -EINVAL;
    switch (e->type) {
    case MON_RAFT_ENTRY_NORMAL:
        return 0;
    case MON_RAFT_ENTRY_NOOP:
        return e->len == 0 ? 0 : -EINVAL;
    case MON_RAFT_ENTRY_CONF:
        return mon_raft_membership_decode(e->data, e->len, &m);
    }
    return -EINVAL;
}

/* Entries must be contiguous from @first_index, with terms non-decreasing
 * from @min_term and at most @max_term. */
int mon__entries_validate(const struct mon_raft_entry *e, size_t n, uint64_t first_index,
                          uint64_t min_term, uint64_t max_term)
{
    uint64_t term = min_term;

    if (first_index > MON_RAFT_MAX_INDEX || n > MON_RAFT_MAX_INDEX - first_index)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (e[i].index != first_index + i)
            return -EINVAL;
        if (e[i].term == 0 || e[i].term < term || e[i].term > max_term ||
            e[i].term > MON_RAFT_MAX_INDEX)
            return -EINVAL;
        term = e[i].term;
        if (entry_validate(&e[i]) != 0)
            return -EINVAL;
    }
    return 0;
}

int mon__snapshot_validate(const struct mon_raft_snapshot *s, bool allow_empty)
{
    if ((s->index == 0) != (s->term == 0))
        return -EINVAL;
    if (s->index > MON_RAFT_MAX_INDEX || s->term > MON_RAFT_MAX_INDEX)
        return -EINVAL;
    if (s->index == 0 && !allow_empty)
        return -EINVAL;
    if (!mon__membership_is_valid(&s->membership))
        return -EINVAL;
    /* Configurations live in the log from index 1 (mon_raft_bootstrap()), so
     * the empty snapshot has none and every real one has voters. */
    if ((s->membership.n_voters == 0) != (s->index == 0))
        return -EINVAL;
    if (s->len > MON_RAFT_MAX_SNAPSHOT_BYTES || (s->len > 0 && !s->data))
        return -EINVAL;
    return 0;
}

/* (log_term, index) names an entry: only index 0 has term 0, and no entry
 * is newer than the message's term. */
static bool position_is_valid(const struct mon_raft_msg *m)
{
    return (m->index == 0) == (m->log_term == 0) && m->log_term <= m->term;
}

static int append_validate(const struct mon_raft_msg *m)
{
    if (!position_is_valid(m))
        return -EINVAL;
    if (m->n_entries > MON_RAFT_MAX_MSG_ENTRIES || (m->n_entries > 0 && !m->entries))
        return -EINVAL;
    return mon__entries_validate(m->entries, m->n_entries, m->index + 1, m->log_term, m->term);
}

static int resp_validate(const struct mon_raft_msg *m)
{
    if (m->log_term > m->term)
        return -EINVAL;
    if (m->reject && m->reject_hint > m->index)
        return -EINVAL;
    return 0;
}

int mon__msg_validate(const struct mon_raft *r, const struct mon_raft_msg *m)
{
    if (!m || m->type < MON_RAFT_MSG_PREVOTE || m->type > MON_RAFT_MSG_TYPE_MAX)
        return -EINVAL;
    if (m->from == 0 || m->from == r->id || m->to != r->id || m->term == 0)
        return -EINVAL;
    if (m->term > MON_RAFT_MAX_INDEX || m->index > MON_RAFT_MAX_INDEX ||
        m->reject_hint > MON_RAFT_MAX_INDEX)
        return -EINVAL;
    if ((m->n_entries > 0 || m->entries) && m->type != MON_RAFT_MSG_APP)
        return -EINVAL;
    if (m->snapshot && m->type != MON_RAFT_MSG_SNAP)
        return -EINVAL;
    switch (m->type) {
    case MON_RAFT_MSG_APP:
        return append_validate(m);
    case MON_RAFT_MSG_SNAP:
        if (!m->snapshot || m->snapshot->term > m->term)
            return -EINVAL;
        return mon__snapshot_validate(m->snapshot, false);
    case MON_RAFT_MSG_PREVOTE:
    case MON_RAFT_MSG_VOTE:
        return position_is_valid(m) ? 0 : -EINVAL;
    case MON_RAFT_MSG_APP_RESP:
        return resp_validate(m);
    default:
        return 0;
    }
}

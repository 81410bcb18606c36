/* Membership (thesis §4.1): config entries carry the whole new voter set,
 * each node uses the newest config in its log whether committed or not, and
 * the leader allows one change at a time. Also quorum arithmetic and
 * leadership transfer (thesis §3.10). Called from raft.c and
 * raft_replicate.c when entries are appended, truncated or restored. */
#include <errno.h>
#include <string.h>

#include "monitor/core/internal.h"

/* Config entry payload: u32 count, then count u64 ids, little-endian. */
#define CONF_HDR_BYTES 4u
CAIRN_STATIC_ASSERT(MON_RAFT_CONF_MAX_BYTES == CONF_HDR_BYTES + 8 * MON_RAFT_MAX_VOTERS,
                    "config payload size");

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

bool mon_raft_membership_has(const struct mon_raft_membership *m, uint64_t id)
{
    for (uint32_t i = 0; i < m->n_voters && i < MON_RAFT_MAX_VOTERS; i++)
        if (m->voters[i] == id)
            return true;
    return false;
}

bool mon__membership_is_valid(const struct mon_raft_membership *m)
{
    if (m->n_voters > MON_RAFT_MAX_VOTERS)
        return false;
    for (uint32_t i = 0; i < m->n_voters; i++) {
        if (m->voters[i] == 0)
            return false;
        if (i > 0 && m->voters[i] <= m->voters[i - 1])
            return false;
    }
    return true;
}

size_t mon_raft_membership_encode(const struct mon_raft_membership *m, void *buf)
{
    uint8_t *p = buf;

    CAIRN_ASSERT(mon__membership_is_valid(m));
    put_le(p, m->n_voters, CONF_HDR_BYTES);
    for (uint32_t i = 0; i < m->n_voters; i++)
        put_le(p + CONF_HDR_BYTES + 8 * i, m->voters[i], 8);
    return CONF_HDR_BYTES + 8 * (size_t)m->n_voters;
}

int mon_raft_membership_decode(const void *buf, size_t len, struct mon_raft_membership *m)
{
    const uint8_t *p = buf;
    struct mon_raft_membership tmp;

    if (len < CONF_HDR_BYTES || !buf)
        return -EINVAL;
    uint64_t n = get_le(p, CONF_HDR_BYTES);
    if (n == 0 || n > MON_RAFT_MAX_VOTERS || len != CONF_HDR_BYTES + 8 * n)
        return -EINVAL;
    memset(&tmp, 0, sizeof(tmp));
    tmp.n_voters = (uint32_t)n;
    for (uint32_t i = 0; i < n; i++)
        tmp.voters[i] = get_le(p + CONF_HDR_BYTES + 8 * i, 8);
    if (!mon__membership_is_valid(&tmp))
        return -EINVAL;
    *m = tmp;
    return 0;
}

int mon_raft_bootstrap(const struct mon_raft_membership *voters, struct mon_raft_hard_state *hs,
                       struct mon_raft_entry *entry, void *buf)
{
    if (!voters || voters->n_voters == 0 || !mon__membership_is_valid(voters))
        return -EINVAL;
    size_t len = mon_raft_membership_encode(voters, buf);
    *entry = (struct mon_raft_entry){
        .index = 1,
        .term = 1,
        .type = MON_RAFT_ENTRY_CONF,
        .len = (uint32_t)len,
        .data = buf,
    };
    *hs = (struct mon_raft_hard_state){.term = 1, .vote = 0, .commit = 1};
    return 0;
}

uint32_t mon__quorum(const struct mon_raft *r)
{
    return r->conf.n_voters / 2 + 1;
}

bool mon__is_promotable(const struct mon_raft *r)
{
    return mon_raft_membership_has(&r->conf, r->id) && !r->snap_pending;
}

static void conf_set(struct mon_raft *r, const struct mon_raft_membership *m, uint64_t index)
{
    r->conf = *m;
    r->conf_index = index;
    mon__trace(r, MON_RAFT_TRACE_CONF, index, m->n_voters);
    if (r->role == MON_RAFT_LEADER)
        mon__pr_sync(r);
}

/* The newest config entry at or below @index, or NULL for the snapshot's. */
static const struct mon_raft_entry *conf_entry_at(const struct mon_raft *r, uint64_t index)
{
    for (uint64_t i = index; i > r->log.snap_index; i--) {
        const struct mon_raft_entry *e = mon__log_entry(&r->log, i);
        if (e->type == MON_RAFT_ENTRY_CONF)
            return e;
    }
    return NULL;
}

void mon__conf_at(const struct mon_raft *r, uint64_t index, struct mon_raft_membership *out)
{
    const struct mon_raft_entry *e = conf_entry_at(r, index);

    if (!e) {
        *out = r->snap.membership;
        return;
    }
    int rc = mon_raft_membership_decode(e->data, e->len, out);
    CAIRN_ASSERT(rc == 0); /* validated when it entered the log */
}

void mon__conf_reload(struct mon_raft *r)
{
    const struct mon_raft_entry *e = conf_entry_at(r, mon__log_last_index(&r->log));
    struct mon_raft_membership m;

    if (!e) {
        conf_set(r, &r->snap.membership, r->snap.index);
        return;
    }
    int rc = mon_raft_membership_decode(e->data, e->len, &m);
    CAIRN_ASSERT(rc == 0);
    conf_set(r, &m, e->index);
}

void mon__conf_appended(struct mon_raft *r, const struct mon_raft_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct mon_raft_membership m;
        if (e[i].type != MON_RAFT_ENTRY_CONF)
            continue;
        int rc = mon_raft_membership_decode(e[i].data, e[i].len, &m);
        CAIRN_ASSERT(rc == 0);
        conf_set(r, &m, e[i].index);
    }
}

static int conf_change(const struct mon_raft *r, enum mon_raft_conf_op op, uint64_t node,
                       struct mon_raft_membership *m)
{
    uint32_t i;

    *m = r->conf;
    for (i = 0; i < m->n_voters && m->voters[i] < node; i++)
        ;
    bool present = i < m->n_voters && m->voters[i] == node;
    switch (op) {
    case MON_RAFT_CONF_ADD_VOTER:
        if (present)
            return -EEXIST;
        if (m->n_voters == MON_RAFT_MAX_VOTERS)
            return -ENOSPC;
        memmove(&m->voters[i + 1], &m->voters[i], (m->n_voters - i) * sizeof(uint64_t));
        m->voters[i] = node;
        m->n_voters++;
        return 0;
    case MON_RAFT_CONF_REMOVE_VOTER:
        if (!present)
            return -ENOENT;
        if (node == r->id)
            return -EINVAL;
        memmove(&m->voters[i], &m->voters[i + 1], (m->n_voters - i - 1) * sizeof(uint64_t));
        m->n_voters--;
        m->voters[m->n_voters] = 0;
        return 0;
    }
    return -EINVAL;
}

int mon_raft_propose_conf(struct mon_raft *r, enum mon_raft_conf_op op, uint64_t node)
{
    uint8_t buf[MON_RAFT_CONF_MAX_BYTES];
    struct mon_raft_membership m;

    CAIRN_ASSERT(!r->in_ready);
    if (node == 0)
        return -EINVAL;
    if (r->role != MON_RAFT_LEADER)
        return -MON_RAFT_ENOTLEADER;
    if (r->transferee != 0)
        return -EAGAIN;
    if (r->conf_index > r->commit)
        return -EBUSY;
    /* Until an entry of this term commits, an uncommitted config of an old
     * term may still win; changing again could split the quorum (Ongaro,
     * raft-dev 2015, "bug in single-server membership changes"). */
    if (r->commit < r->term_start_index)
        return -EAGAIN;
    int rc = conf_change(r, op, node, &m);
    if (rc != 0)
        return rc;
    size_t len = mon_raft_membership_encode(&m, buf);
    rc = mon__leader_append(r, MON_RAFT_ENTRY_CONF, buf, (uint32_t)len);
    mon__debug_check(r);
    return rc;
}

int mon_raft_transfer_leader(struct mon_raft *r, uint64_t to)
{
    CAIRN_ASSERT(!r->in_ready);
    if (r->role != MON_RAFT_LEADER)
        return -MON_RAFT_ENOTLEADER;
    if (to == r->id || !mon_raft_membership_has(&r->conf, to))
        return -EINVAL;
    if (r->transferee == to)
        return 0;
    r->transferee = to;
    r->transfer_elapsed = 0;
    mon__trace(r, MON_RAFT_TRACE_TRANSFER, to, 1);
    struct mon__progress *pr = mon__pr_find(r, to);
    CAIRN_ASSERT(pr != NULL);
    if (pr->match == mon__log_last_index(&r->log))
        mon__send_timeout_now(r, to);
    else
        mon__send_append_to(r, pr);
    mon__debug_check(r);
    return 0;
}

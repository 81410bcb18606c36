/* The core's outputs: the outbox of messages created by steps and ticks,
 * mon_raft_ready()/mon_raft_advance() that hand the driver what to persist,
 * send and apply, compaction, and the read-only observers. The driver is
 * the only caller of ready/advance (see the contract in raft.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/core/internal.h"

void mon__outbox_fini(struct mon__outbox *o)
{
    free(o->msgs);
    free(o->ent_first);
    free(o->ents);
    free(o->data_off);
    free(o->data);
    memset(o, 0, sizeof(*o));
}

/* Grows two parallel arrays sharing one capacity to hold @need elements. */
static int grow_pair(void **a, size_t a_elem, void **b, size_t b_elem, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t cap2 = *cap ? *cap : 16;
    while (cap2 < need)
        cap2 *= 2;
    void *na = realloc(*a, cap2 * a_elem);
    if (!na)
        return -ENOMEM;
    *a = na;
    void *nb = realloc(*b, cap2 * b_elem);
    if (!nb)
        return -ENOMEM;
    *b = nb;
    *cap = cap2;
    return 0;
}

static int grow_bytes(struct mon__outbox *o, size_t need)
{
    if (need <= o->data_cap)
        return 0;
    size_t cap = o->data_cap ? o->data_cap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *d = realloc(o->data, cap);
    if (!d)
        return -ENOMEM;
    o->data = d;
    o->data_cap = cap;
    return 0;
}

static int outbox_reserve(struct mon__outbox *o, const struct mon_raft_msg *m)
{
    size_t bytes = 0;

    for (uint32_t i = 0; i < m->n_entries; i++)
        bytes += m->entries[i].len;
    if (grow_pair((void **)&o->msgs, sizeof(*o->msgs), (void **)&o->ent_first,
                  sizeof(*o->ent_first), &o->cap, o->n + 1) != 0)
        return -ENOMEM;
    if (grow_pair((void **)&o->ents, sizeof(*o->ents), (void **)&o->data_off, sizeof(*o->data_off),
                  &o->ents_cap, o->n_ents + m->n_entries) != 0)
        return -ENOMEM;
    return grow_bytes(o, o->data_len + bytes);
}

void mon__send(struct mon_raft *r, const struct mon_raft_msg *m)
{
    struct mon__outbox *o = &r->out;

    CAIRN_ASSERT(m->to != 0 && m->to != r->id);
    CAIRN_ASSERT(!r->in_ready);
    /* Losing a message to memory pressure is a network drop, which Raft
     * tolerates; the state change that produced it stands. */
    if (outbox_reserve(o, m) != 0) {
        o->dropped++;
        return;
    }
    struct mon_raft_msg *dst = &o->msgs[o->n];
    *dst = *m;
    dst->from = r->id;
    if (dst->term == 0)
        dst->term = r->term;
    dst->entries = NULL;
    dst->snapshot = NULL;
    o->ent_first[o->n++] = o->n_ents;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        o->ents[o->n_ents] = m->entries[i];
        o->data_off[o->n_ents++] = o->data_len;
        if (m->entries[i].len)
            memcpy(o->data + o->data_len, m->entries[i].data, m->entries[i].len);
        o->data_len += m->entries[i].len;
    }
}

static struct mon_raft_hard_state hard_state(const struct mon_raft *r)
{
    struct mon_raft_hard_state hs = {.term = r->term, .vote = r->vote, .commit = r->commit};

    return hs;
}

static bool hs_equal(const struct mon_raft_hard_state *a, const struct mon_raft_hard_state *b)
{
    return a->term == b->term && a->vote == b->vote && a->commit == b->commit;
}

/* Entries after this index are to be applied; a pending snapshot replaces
 * everything up to its index. */
static uint64_t apply_base(const struct mon_raft *r)
{
    return r->snap_pending ? r->snap.index : r->applied;
}

bool mon_raft_has_ready(const struct mon_raft *r)
{
    struct mon_raft_hard_state hs = hard_state(r);

    return r->out.n > 0 || r->snap_pending || r->log.stabled < mon__log_last_index(&r->log) ||
           !hs_equal(&hs, &r->prev_hs) || r->commit > apply_base(r);
}

/* Points the queued messages at their entries and at the snapshot, now that
 * no buffer will move before advance. */
static void outbox_fixup(struct mon_raft *r)
{
    struct mon__outbox *o = &r->out;

    for (size_t i = 0; i < o->n_ents; i++)
        o->ents[i].data = o->data + o->data_off[i];
    for (size_t i = 0; i < o->n; i++) {
        struct mon_raft_msg *m = &o->msgs[i];
        m->entries = m->n_entries ? &o->ents[o->ent_first[i]] : NULL;
        if (m->type == MON_RAFT_MSG_SNAP)
            m->snapshot = &r->snap;
    }
}

void mon_raft_ready(struct mon_raft *r, struct mon_raft_ready *rd)
{
    uint64_t last = mon__log_last_index(&r->log);
    uint64_t base = apply_base(r);

    CAIRN_ASSERT(!r->in_ready);
    memset(rd, 0, sizeof(*rd));
    rd->hard_state = hard_state(r);
    rd->has_hard_state = !hs_equal(&rd->hard_state, &r->prev_hs);
    rd->snapshot = r->snap_pending ? &r->snap : NULL;
    if (r->log.stabled < last) {
        rd->entries = mon__log_entry(&r->log, r->log.stabled + 1);
        rd->n_entries = (size_t)(last - r->log.stabled);
    }
    outbox_fixup(r);
    rd->msgs = r->out.msgs;
    rd->n_msgs = r->out.n;
    if (r->commit > base) {
        rd->committed = mon__log_entry(&r->log, base + 1);
        rd->n_committed = (size_t)(r->commit - base);
    }
    r->rd_stable_to = last;
    r->rd_applied_to = CAIRN_MAX(base, r->commit);
    r->rd_hs = rd->hard_state;
    r->in_ready = true;
}

void mon_raft_advance(struct mon_raft *r, const struct mon_raft_ready *rd)
{
    CAIRN_ASSERT(r->in_ready);
    CAIRN_ASSERT(rd->n_msgs == r->out.n);
    r->in_ready = false;
    r->log.stabled = r->rd_stable_to;
    r->applied = r->rd_applied_to;
    r->prev_hs = r->rd_hs;
    r->snap_pending = false;
    r->out.n = 0;
    r->out.n_ents = 0;
    r->out.data_len = 0;
    mon__debug_check(r);
}

int mon_raft_compact(struct mon_raft *r, uint64_t index, const void *data, size_t len)
{
    struct mon_raft_membership m;
    uint64_t term;
    uint8_t *buf = NULL;

    CAIRN_ASSERT(!r->in_ready);
    if (len > 0 && !data)
        return -EINVAL;
    if (len > MON_RAFT_MAX_SNAPSHOT_BYTES)
        return -EFBIG;
    if (index <= r->snap.index || index > r->applied)
        return -EINVAL;
    bool known = mon__log_term(&r->log, index, &term);
    CAIRN_ASSERT(known); /* inv. 1: snap.index < index <= applied <= last */
    if (len) {
        buf = malloc(len);
        if (!buf)
            return -ENOMEM;
        memcpy(buf, data, len);
    }
    mon__conf_at(r, index, &m);
    free(r->snap_buf);
    r->snap_buf = buf;
    r->snap.index = index;
    r->snap.term = term;
    r->snap.membership = m;
    r->snap.len = len;
    r->snap.data = buf;
    mon__log_compact(&r->log, index, term);
    mon__debug_check(r);
    return 0;
}

uint64_t mon_raft_id(const struct mon_raft *r)
{
    return r->id;
}

uint64_t mon_raft_leader(const struct mon_raft *r)
{
    return r->lead;
}

enum mon_raft_role mon_raft_role(const struct mon_raft *r)
{
    return r->role;
}

uint64_t mon_raft_term(const struct mon_raft *r)
{
    return r->term;
}

uint64_t mon_raft_commit(const struct mon_raft *r)
{
    return r->commit;
}

uint64_t mon_raft_applied(const struct mon_raft *r)
{
    return r->applied;
}

uint64_t mon_raft_last_index(const struct mon_raft *r)
{
    return mon__log_last_index(&r->log);
}

uint64_t mon_raft_first_index(const struct mon_raft *r)
{
    return r->log.snap_index + 1;
}

const struct mon_raft_entry *mon_raft_entry(const struct mon_raft *r, uint64_t index)
{
    return mon__log_entry(&r->log, index);
}

int mon_raft_log_term(const struct mon_raft *r, uint64_t index, uint64_t *term)
{
    return mon__log_term(&r->log, index, term) ? 0 : -ENOENT;
}

const struct mon_raft_membership *mon_raft_membership(const struct mon_raft *r)
{
    return &r->conf;
}

const struct mon_raft_snapshot *mon_raft_snapshot(const struct mon_raft *r)
{
    return &r->snap;
}

/* Global safety checkers of the Raft simulator; see sim_check.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "tests/sim/sim_check.h"

#define VIOLATION(c, ...) (snprintf((c)->violation, sizeof((c)->violation), __VA_ARGS__), false)

void sim_check_init(struct sim_check *c)
{
    memset(c, 0, sizeof(*c));
    c->table_size = 1024;
    c->table = calloc(c->table_size, sizeof(*c->table));
    CAIRN_ASSERT(c->table != NULL);
}

void sim_check_fini(struct sim_check *c)
{
    free(c->leader_of_term);
    free(c->commits);
    free(c->table);
    memset(c, 0, sizeof(*c));
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 29);
}

uint64_t sim_entry_hash(const struct mon_raft_entry *e)
{
    uint64_t h = 0xcbf29ce484222325ull ^ e->type;
    const uint8_t *p = e->data;

    for (uint32_t i = 0; i < e->len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return mix(h, e->len);
}

uint64_t sim_state_next(uint64_t state, const struct mon_raft_entry *e)
{
    return mix(mix(mix(state, e->index), e->term), sim_entry_hash(e));
}

bool sim_check_leader(struct sim_check *c, uint64_t id, uint64_t term)
{
    if (term >= c->n_terms) {
        size_t n = c->n_terms ? c->n_terms : 64;
        while (n <= term)
            n *= 2;
        c->leader_of_term = realloc(c->leader_of_term, n * sizeof(uint64_t));
        CAIRN_ASSERT(c->leader_of_term != NULL);
        memset(c->leader_of_term + c->n_terms, 0, (n - c->n_terms) * sizeof(uint64_t));
        c->n_terms = n;
    }
    if (c->leader_of_term[term] == 0)
        c->leader_of_term[term] = id;
    if (c->leader_of_term[term] != id)
        return VIOLATION(c,
                         "election safety: n%" PRIu64 " and n%" PRIu64 " both lead term %" PRIu64,
                         c->leader_of_term[term], id, term);
    return true;
}

static struct sim_logent *table_slot(struct sim_check *c, uint64_t index, uint64_t term)
{
    size_t mask = c->table_size - 1;
    size_t i = (size_t)mix(index, term) & mask;

    while (c->table[i].index != 0 && (c->table[i].index != index || c->table[i].term != term))
        i = (i + 1) & mask;
    return &c->table[i];
}

static void table_grow(struct sim_check *c)
{
    struct sim_logent *old = c->table;
    size_t old_size = c->table_size;

    c->table_size *= 2;
    c->table = calloc(c->table_size, sizeof(*c->table));
    CAIRN_ASSERT(c->table != NULL);
    for (size_t i = 0; i < old_size; i++)
        if (old[i].index != 0)
            *table_slot(c, old[i].index, old[i].term) = old[i];
    free(old);
}

bool sim_check_persist(struct sim_check *c, uint64_t id, const struct mon_raft *r,
                       const struct mon_raft_ready *rd)
{
    for (size_t i = 0; i < rd->n_entries; i++) {
        const struct mon_raft_entry *e = &rd->entries[i];
        uint64_t prev_term;
        if (mon_raft_log_term(r, e->index - 1, &prev_term) != 0)
            return VIOLATION(c, "n%" PRIu64 " persists %" PRIu64 " without its predecessor", id,
                             e->index);
        if (2 * (c->table_used + 1) > c->table_size)
            table_grow(c);
        struct sim_logent *s = table_slot(c, e->index, e->term);
        uint64_t h = sim_entry_hash(e);
        if (s->index == 0) {
            *s = (struct sim_logent){e->index, e->term, h, prev_term};
            c->table_used++;
        } else if (s->data_hash != h || s->prev_term != prev_term) {
            return VIOLATION(c,
                             "log matching: n%" PRIu64 " entry %" PRIu64 " term %" PRIu64
                             " differs (prev term %" PRIu64 " vs %" PRIu64 ")",
                             id, e->index, e->term, prev_term, s->prev_term);
        }
    }
    return true;
}

static struct sim_commit *commit_rec(struct sim_check *c, uint64_t index)
{
    return index >= 1 && index <= c->n_commits ? &c->commits[index - 1] : NULL;
}

static void commit_push(struct sim_check *c, const struct mon_raft_entry *e, uint64_t term)
{
    if (c->n_commits == c->cap_commits) {
        c->cap_commits = c->cap_commits ? 2 * c->cap_commits : 1024;
        c->commits = realloc(c->commits, c->cap_commits * sizeof(*c->commits));
        CAIRN_ASSERT(c->commits != NULL);
    }
    CAIRN_ASSERT(e->index == c->n_commits + 1);
    c->commits[c->n_commits++] = (struct sim_commit){
        .term = e->term,
        .data_hash = sim_entry_hash(e),
        .commit_term = term,
    };
}

void sim_check_bootstrap(struct sim_check *c, const struct mon_raft_entry *e)
{
    commit_push(c, e, 0);
}

bool sim_check_commits(struct sim_check *c, const struct mon_raft *r)
{
    uint64_t commit = mon_raft_commit(r);

    if (mon_raft_role(r) != MON_RAFT_LEADER)
        return true;
    for (uint64_t i = c->n_commits + 1; i <= commit; i++) {
        const struct mon_raft_entry *e = mon_raft_entry(r, i);
        if (!e)
            return VIOLATION(c, "leader n%" PRIu64 " committed %" PRIu64 " but lacks it",
                             mon_raft_id(r), i);
        commit_push(c, e, mon_raft_term(r));
    }
    return sim_check_leader_completeness(c, r);
}

bool sim_check_leader_completeness(struct sim_check *c, const struct mon_raft *r)
{
    uint64_t first = mon_raft_first_index(r), term = mon_raft_term(r);

    if (mon_raft_role(r) != MON_RAFT_LEADER)
        return true;
    for (uint64_t i = first; i <= c->n_commits; i++) {
        const struct sim_commit *rec = commit_rec(c, i);
        const struct mon_raft_entry *e = mon_raft_entry(r, i);
        if (rec->commit_term > term)
            continue;
        if (!e || e->term != rec->term || sim_entry_hash(e) != rec->data_hash)
            return VIOLATION(c,
                             "leader completeness: leader n%" PRIu64 " of term %" PRIu64
                             " lacks %" PRIu64 " committed in term %" PRIu64,
                             mon_raft_id(r), term, i, rec->commit_term);
    }
    return true;
}

bool sim_check_apply(struct sim_check *c, uint64_t id, const struct mon_raft_entry *e,
                     uint64_t state)
{
    struct sim_commit *rec = commit_rec(c, e->index);

    if (!rec)
        return VIOLATION(c, "n%" PRIu64 " applies %" PRIu64 " which no leader committed", id,
                         e->index);
    if (rec->term != e->term || rec->data_hash != sim_entry_hash(e))
        return VIOLATION(c,
                         "committed entry changed: n%" PRIu64 " applies %" PRIu64 " term %" PRIu64
                         ", committed term %" PRIu64,
                         id, e->index, e->term, rec->term);
    if (!rec->has_state) {
        rec->state_hash = state;
        rec->has_state = true;
    } else if (rec->state_hash != state) {
        return VIOLATION(c, "state divergence: n%" PRIu64 " after %" PRIu64, id, e->index);
    }
    return true;
}

bool sim_check_snapshot(struct sim_check *c, uint64_t id, uint64_t index, uint64_t state)
{
    struct sim_commit *rec = commit_rec(c, index);

    if (!rec || !rec->has_state)
        return VIOLATION(c, "n%" PRIu64 " restores a snapshot at %" PRIu64 " nobody applied", id,
                         index);
    if (rec->state_hash != state)
        return VIOLATION(c, "snapshot state divergence: n%" PRIu64 " at %" PRIu64, id, index);
    return true;
}

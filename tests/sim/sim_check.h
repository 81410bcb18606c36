/* The simulator's global checkers: what every node does is compared with
 * a record of everything any node ever did. Each function returns true if
 * the property holds, else false with a description in c->violation.
 * Single-threaded; used by raft_sim.c after every step and every ready. */
#ifndef CAIRN_TESTS_SIM_SIM_CHECK_H
#define CAIRN_TESTS_SIM_SIM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/core/raft.h"

/* One committed index as first seen. */
struct sim_commit {
    uint64_t term;        /* entry term */
    uint64_t data_hash;   /* hash of type and payload */
    uint64_t commit_term; /* term of the leader that committed it */
    uint64_t state_hash;  /* state machine hash after applying it, once known */
    bool has_state;
};

/* (index, term) -> what the entry holds and the term before it. */
struct sim_logent {
    uint64_t index, term; /* index 0: empty slot */
    uint64_t data_hash;
    uint64_t prev_term;
};

struct sim_check {
    uint64_t *leader_of_term; /* [term] = leader id or 0 */
    size_t n_terms;
    struct sim_commit *commits; /* [index - 1] */
    size_t n_commits;           /* highest index any leader committed */
    size_t cap_commits;
    struct sim_logent *table; /* open addressing, power-of-two size */
    size_t table_size, table_used;
    char violation[256];
};

void sim_check_init(struct sim_check *c);
void sim_check_fini(struct sim_check *c);

uint64_t sim_entry_hash(const struct mon_raft_entry *e);
uint64_t sim_state_next(uint64_t state, const struct mon_raft_entry *e);

/* Records an entry committed from the start: the bootstrap config. */
void sim_check_bootstrap(struct sim_check *c, const struct mon_raft_entry *e);
/* Election safety (Raft §5.2): at most one leader per term. */
bool sim_check_leader(struct sim_check *c, uint64_t id, uint64_t term);
/* Log matching (§5.3): same (index, term) means same entry and same term
 * before it, for every entry node @id persists; @r gives the previous terms. */
bool sim_check_persist(struct sim_check *c, uint64_t id, const struct mon_raft *r,
                       const struct mon_raft_ready *rd);
/* Records what leader @r committed; a commit never changes (§5.4). */
bool sim_check_commits(struct sim_check *c, const struct mon_raft *r);
/* Leader completeness (§5.4.3): a leader holds every entry committed in an
 * earlier term. */
bool sim_check_leader_completeness(struct sim_check *c, const struct mon_raft *r);
/* State machine safety: node @id applies @e (in order) reaching @state. */
bool sim_check_apply(struct sim_check *c, uint64_t id, const struct mon_raft_entry *e,
                     uint64_t state);
/* A snapshot restored at @index must carry the state every node reached. */
bool sim_check_snapshot(struct sim_check *c, uint64_t id, uint64_t index, uint64_t state);

#endif

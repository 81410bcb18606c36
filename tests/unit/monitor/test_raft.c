/* Raft core scenario tests: scripted message interleavings over a tiny
 * in-memory network (a FIFO of message copies, a cut matrix and a drop
 * predicate), each citing the Raft paper (§) or Ongaro's thesis. Nodes
 * persist through tests/sim/sim_disk.c exactly as the simulator's driver
 * does, so crash and restart keep only what was persisted. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/assert.h"
#include "monitor/core/raft.h"
#include "tests/sim/sim_disk.h"
#include "tests/sim/sim_net.h"

#define TN_MAX 8
#define TQ_MAX 8192

struct tapplied {
    uint64_t index, term;
    char data[48];
};

struct tnode {
    uint64_t id;
    bool up;
    struct mon_raft *r;
    struct sim_disk disk;
    struct tapplied applied[256];
    size_t n_applied;
    uint64_t restored_index; /* last snapshot the driver restored */
    char restored_data[64];
};

struct tnet;
typedef bool (*tdrop_fn)(struct tnet *t, const struct mon_raft_msg *m);

struct tnet {
    struct mon_raft_config cfg; /* template; id and seed set per node */
    struct tnode nodes[TN_MAX + 1];
    uint32_t n;
    struct sim_msg *q[TQ_MAX];
    size_t nq;
    bool cut[TN_MAX + 1][TN_MAX + 1]; /* [from][to] */
    tdrop_fn drop;
};

/* ---- the harness ------------------------------------------------------- */

static struct mon_raft *R(struct tnet *t, uint64_t id)
{
    return t->nodes[id].r;
}

static void t_drain(struct tnet *t, uint64_t id)
{
    struct tnode *n = &t->nodes[id];
    struct mon_raft_ready rd;

    while (n->up && mon_raft_has_ready(n->r)) {
        mon_raft_ready(n->r, &rd);
        sim_disk_save_ready(&n->disk, &rd);      /* persist ... */
        for (size_t i = 0; i < rd.n_msgs; i++) { /* ... before sending */
            assert_true(t->nq < TQ_MAX);
            t->q[t->nq++] = sim_msg_copy(&rd.msgs[i]);
        }
        if (rd.snapshot) {
            n->restored_index = rd.snapshot->index;
            size_t len = CAIRN_MIN(rd.snapshot->len, sizeof(n->restored_data) - 1);
            memcpy(n->restored_data, rd.snapshot->data, len);
            n->restored_data[len] = 0;
        }
        for (size_t i = 0; i < rd.n_committed; i++) {
            const struct mon_raft_entry *e = &rd.committed[i];
            struct tapplied *a = &n->applied[n->n_applied++ % 256];
            a->index = e->index;
            a->term = e->term;
            size_t len = CAIRN_MIN(e->len, sizeof(a->data) - 1);
            memcpy(a->data, e->data, len);
            a->data[len] = 0;
        }
        mon_raft_advance(n->r, &rd);
        assert_int_equal(mon_raft_check(n->r, NULL), 0);
    }
}

static void t_start(struct tnet *t, uint64_t id)
{
    struct mon_raft_config cfg = t->cfg;

    cfg.id = id;
    cfg.seed = id * 7919;
    assert_int_equal(sim_disk_open(&t->nodes[id].disk, &cfg, &t->nodes[id].r), 0);
    t->nodes[id].up = true;
    t_drain(t, id);
}

/* @n_nodes nodes, the first @n_voters of them the initial voters. */
static struct tnet *t_new(uint32_t n_nodes, uint32_t n_voters, const struct mon_raft_config *cfg)
{
    struct tnet *t = calloc(1, sizeof(*t));
    uint64_t voters[TN_MAX];

    assert_non_null(t);
    if (cfg)
        t->cfg = *cfg;
    else
        mon_raft_config_default(&t->cfg, 1);
    t->n = n_nodes;
    for (uint32_t i = 0; i < n_voters; i++)
        voters[i] = i + 1;
    for (uint32_t i = 1; i <= n_nodes; i++) {
        t->nodes[i].id = i;
        sim_disk_init(&t->nodes[i].disk, voters, i <= n_voters ? n_voters : 0);
    }
    return t;
}

static void t_start_all(struct tnet *t)
{
    for (uint32_t i = 1; i <= t->n; i++)
        t_start(t, i);
}

static void t_crash(struct tnet *t, uint64_t id)
{
    mon_raft_destroy(t->nodes[id].r);
    t->nodes[id].r = NULL;
    t->nodes[id].up = false;
}

static void t_free(struct tnet *t)
{
    for (uint32_t i = 1; i <= t->n; i++) {
        mon_raft_destroy(t->nodes[i].r);
        sim_disk_fini(&t->nodes[i].disk);
    }
    for (size_t i = 0; i < t->nq; i++)
        sim_msg_free(t->q[i]);
    free(t);
}

/* Delivers queued messages in FIFO order, including those they cause,
 * dropping what is cut, down or refused by t->drop. Asserts every step is
 * accepted. Returns the number delivered. */
static size_t t_deliver_all(struct tnet *t)
{
    size_t delivered = 0;

    for (size_t head = 0; head < t->nq; head++) {
        struct sim_msg *sm = t->q[head];
        const struct mon_raft_msg *m = &sm->m;
        struct tnode *to = &t->nodes[m->to];
        if (to->up && !t->cut[m->from][m->to] && !(t->drop && t->drop(t, m))) {
            assert_int_equal(mon_raft_step(to->r, m), 0);
            t_drain(t, m->to);
            delivered++;
        }
        sim_msg_free(sm);
        t->q[head] = NULL;
        assert_true(head < 100000);
    }
    t->nq = 0;
    return delivered;
}

static void t_tick(struct tnet *t, uint64_t id, int ticks)
{
    for (int i = 0; i < ticks; i++) {
        mon_raft_tick(R(t, id));
        t_drain(t, id);
    }
}

/* Ticks @id alone, delivering after each tick, until it leads. */
static void t_elect(struct tnet *t, uint64_t id)
{
    for (int i = 0; i < 200 && mon_raft_role(R(t, id)) != MON_RAFT_LEADER; i++) {
        t_tick(t, id, 1);
        t_deliver_all(t);
    }
    assert_int_equal(mon_raft_role(R(t, id)), MON_RAFT_LEADER);
    t_deliver_all(t);
}

static void t_isolate(struct tnet *t, uint64_t id, bool on)
{
    for (uint32_t i = 1; i <= t->n; i++) {
        t->cut[id][i] = on;
        t->cut[i][id] = on;
    }
}

static void t_propose(struct tnet *t, uint64_t id, const char *s)
{
    assert_int_equal(mon_raft_propose(R(t, id), s, strlen(s)), 0);
    t_drain(t, id);
}

static bool t_applied(const struct tnode *n, const char *s)
{
    for (size_t i = 0; i < CAIRN_MIN(n->n_applied, 256); i++)
        if (strcmp(n->applied[i].data, s) == 0)
            return true;
    return false;
}

static uint64_t entry_term(struct tnet *t, uint64_t id, uint64_t index)
{
    uint64_t term = 0;

    assert_int_equal(mon_raft_log_term(R(t, id), index, &term), 0);
    return term;
}

static void assert_logs_equal(struct tnet *t, uint64_t a, uint64_t b)
{
    uint64_t last = mon_raft_last_index(R(t, a));

    assert_int_equal(mon_raft_last_index(R(t, b)), last);
    for (uint64_t i = CAIRN_MAX(mon_raft_first_index(R(t, a)), mon_raft_first_index(R(t, b)));
         i <= last; i++) {
        const struct mon_raft_entry *x = mon_raft_entry(R(t, a), i);
        const struct mon_raft_entry *y = mon_raft_entry(R(t, b), i);
        assert_int_equal(x->term, y->term);
        assert_int_equal(x->len, y->len);
        assert_memory_equal(x->data, y->data, x->len);
    }
}

static struct mon_raft_config cfg_classic(void)
{
    struct mon_raft_config cfg;

    mon_raft_config_default(&cfg, 1);
    cfg.pre_vote = false;
    cfg.check_quorum = false;
    return cfg;
}

/* ---- elections --------------------------------------------------------- */

/* §5.2: each server votes for at most one candidate per term, so two
 * candidates of one term cannot both win. */
static void test_raft_election_safety_one_vote_per_term(void **state)
{
    struct mon_raft_config cfg = cfg_classic();
    struct tnet *t = t_new(5, 5, &cfg);
    (void)state;

    t_start_all(t);
    /* 1 and 2 time out together and campaign for the same term. */
    t_tick(t, 1, 20);
    t_tick(t, 2, 20);
    assert_int_equal(mon_raft_role(R(t, 1)), MON_RAFT_CANDIDATE);
    assert_int_equal(mon_raft_role(R(t, 2)), MON_RAFT_CANDIDATE);
    assert_int_equal(mon_raft_term(R(t, 1)), mon_raft_term(R(t, 2)));
    t_deliver_all(t);
    int leaders = 0;
    for (uint64_t i = 1; i <= 5; i++)
        leaders += mon_raft_role(R(t, i)) == MON_RAFT_LEADER && mon_raft_term(R(t, i)) == 2;
    assert_true(leaders <= 1);

    /* A direct check: node 3 already voted in term 7 for 4 and refuses 5. */
    struct mon_raft_msg v = {
        .type = MON_RAFT_MSG_VOTE, .from = 4, .to = 3, .term = 7, .log_term = 5, .index = 100};
    assert_int_equal(mon_raft_step(R(t, 3), &v), 0);
    v.from = 5;
    assert_int_equal(mon_raft_step(R(t, 3), &v), 0);
    struct mon_raft_ready rd;
    mon_raft_ready(R(t, 3), &rd);
    assert_int_equal(rd.n_msgs, 2);
    assert_false(rd.msgs[0].reject);
    assert_true(rd.msgs[1].reject);
    assert_true(rd.has_hard_state);
    assert_int_equal(rd.hard_state.vote, 4);
    mon_raft_advance(R(t, 3), &rd);
    t_free(t);
}

/* Thesis §9.6: a partitioned node's pre-votes fail, so its term stays put
 * and it rejoins without deposing the leader. */
static void test_raft_prevote_isolated_node_does_not_disrupt(void **state)
{
    struct tnet *t = t_new(3, 3, NULL);
    (void)state;

    t_start_all(t);
    t_elect(t, 1);
    uint64_t term = mon_raft_term(R(t, 1));
    t_isolate(t, 3, true);
    t_tick(t, 3, 100);
    t_deliver_all(t);
    assert_int_equal(mon_raft_term(R(t, 3)), term);
    assert_int_equal(mon_raft_role(R(t, 3)), MON_RAFT_PRE_CANDIDATE);
    t_isolate(t, 3, false);
    t_tick(t, 1, 1); /* a heartbeat */
    t_deliver_all(t);
    assert_int_equal(mon_raft_role(R(t, 1)), MON_RAFT_LEADER);
    assert_int_equal(mon_raft_term(R(t, 1)), term);
    assert_int_equal(mon_raft_role(R(t, 3)), MON_RAFT_FOLLOWER);
    assert_int_equal(mon_raft_leader(R(t, 3)), 1);
    t_free(t);
}

/* The contrast (§9.6's motivation): without pre-vote the isolated node's
 * term climbs and its return forces a new election. */
static void test_raft_without_prevote_isolated_node_disrupts(void **state)
{
    struct mon_raft_config cfg = cfg_classic();
    struct tnet *t = t_new(3, 3, &cfg);
    (void)state;

    t_start_all(t);
    t_elect(t, 1);
    uint64_t term = mon_raft_term(R(t, 1));
    t_isolate(t, 3, true);
    t_tick(t, 3, 100);
    t_deliver_all(t);
    assert_true(mon_raft_term(R(t, 3)) > term + 1);
    t_isolate(t, 3, false);
    t_tick(t, 3, 40);
    t_deliver_all(t);
    assert_true(mon_raft_term(R(t, 1)) > term);
    t_free(t);
}

/* Check-quorum (thesis §6.2): a leader cut off from a quorum steps down
 * within an election timeout instead of serving stale reads forever. */
static void test_raft_check_quorum_partitioned_leader_steps_down(void **state)
{
    struct tnet *t = t_new(3, 3, NULL);
    (void)state;

    t_start_all(t);
    t_elect(t, 1);
    t_isolate(t, 1, true);
    t_tick(t, 1, 2 * (int)t->cfg.election_ticks);
    t_deliver_all(t);
    assert_int_equal(mon_raft_role(R(t, 1)), MON_RAFT_FOLLOWER);
    assert_int_equal(mon_raft_leader(R(t, 1)), 0);
    assert_int_equal(mon_raft_propose(R(t, 1), "x", 1), -MON_RAFT_ENOTLEADER);
    t_free(t);

    struct mon_raft_config cfg = cfg_classic();
    t = t_new(3, 3, &cfg);
    t_start_all(t);
    t_elect(t, 1);
    t_isolate(t, 1, true);
    t_tick(t, 1, 2 * (int)t->cfg.election_ticks);
    assert_int_equal(mon_raft_role(R(t, 1)), MON_RAFT_LEADER);
    t_free(t);
}

/* ---- replication ------------------------------------------------------- */

/* Figure 8 layout here: index 1 is the bootstrap config (term 1), index 2
 * S1's no-op of term 2, index 3 the contested entry, index 4 S1's no-op of
 * term 4. */
#define FIG8_A 3

/* Phase (c) below: S1's own no-op (index 4) reaches nobody that already
 * holds index 3. */
static bool fig8_drop_c(struct tnet *t, const struct mon_raft_msg *m)
{
    uint64_t term;

    if (m->type != MON_RAFT_MSG_APP || m->from != 1 || m->index + m->n_entries <= FIG8_A)
        return false;
    return mon_raft_log_term(R(t, m->to), FIG8_A, &term) == 0;
}

static bool drop_app_from_leader(struct tnet *t, const struct mon_raft_msg *m)
{
    (void)t;
    return m->type == MON_RAFT_MSG_APP;
}

/* §5.4.2 and Figure 8: a leader may not commit an entry of an earlier term
 * by counting replicas, even on a majority; otherwise (d) erases it. */
static void test_raft_figure8_stale_term_entry_not_committed(void **state)
{
    struct mon_raft_config cfg = cfg_classic();
    cfg.max_msg_entries = 1;
    cfg.max_inflight = 1;
    struct tnet *t = t_new(5, 5, &cfg);
    (void)state;

    t_start_all(t);
    t_elect(t, 1); /* term 2, no-op at index 2 committed everywhere */
    assert_int_equal(mon_raft_commit(R(t, 1)), 2);
    /* (a) S1 replicates A (index 3, term 2) to S2 only, then crashes. */
    for (uint64_t i = 3; i <= 5; i++)
        t->cut[1][i] = true;
    t_propose(t, 1, "A");
    t_deliver_all(t);
    assert_int_equal(entry_term(t, 2, FIG8_A), 2);
    t_crash(t, 1);
    memset(t->cut, 0, sizeof(t->cut));
    /* (b) S5 wins term 3 with S3 and S4, appends its no-op at index 3 and
     * crashes before sending it. */
    t->drop = drop_app_from_leader;
    t_elect(t, 5);
    assert_int_equal(mon_raft_term(R(t, 5)), 3);
    assert_int_equal(entry_term(t, 5, FIG8_A), 3);
    t_crash(t, 5);
    /* (c) S1 restarts and leads term 4; A reaches S3 and S4 (a majority with
     * S1 and S2) but S1's own no-op (index 4) does not. */
    t->drop = fig8_drop_c;
    t_start(t, 1);
    t_elect(t, 1);
    assert_int_equal(mon_raft_term(R(t, 1)), 4);
    assert_int_equal(entry_term(t, 3, FIG8_A), 2);
    assert_int_equal(entry_term(t, 4, FIG8_A), 2);
    assert_int_equal(mon_raft_commit(R(t, 1)), 2); /* A is not committed */
    /* (d) S1 crashes; S5 wins with S2, S3, S4 and overwrites A: safe,
     * because A never committed and nobody applied it. */
    t_crash(t, 1);
    t->drop = NULL;
    t_start(t, 5);
    t_elect(t, 5);
    for (uint64_t i = 2; i <= 4; i++) {
        assert_int_equal(entry_term(t, i, FIG8_A), 3);
        assert_false(t_applied(&t->nodes[i], "A"));
    }
    assert_true(mon_raft_commit(R(t, 5)) > FIG8_A);
    t_free(t);
}

/* A log with the given terms; entry 1 is the bootstrap config of 7 voters,
 * in @conf (MON_RAFT_CONF_MAX_BYTES). */
static struct mon_raft_entry *fig7_log(const uint64_t *terms, size_t n, char (*data)[48],
                                       uint8_t *conf)
{
    struct mon_raft_membership m = {7, {1, 2, 3, 4, 5, 6, 7}};
    struct mon_raft_hard_state hs;
    struct mon_raft_entry *e = calloc(n, sizeof(*e));

    assert_non_null(e);
    assert_int_equal(mon_raft_bootstrap(&m, &hs, &e[0], conf), 0);
    for (size_t i = 1; i < n; i++) {
        snprintf(data[i], 48, "i%zut%" PRIu64, i + 1, terms[i]);
        e[i] = (struct mon_raft_entry){.index = i + 1,
                                       .term = terms[i],
                                       .type = MON_RAFT_ENTRY_NORMAL,
                                       .len = (uint32_t)strlen(data[i]),
                                       .data = data[i]};
    }
    return e;
}

/* §5.3 and Figure 7: followers missing entries, holding extra uncommitted
 * ones, or both, are all repaired to the leader's log (with the conflict
 * hint skipping whole terms). */
static void test_raft_log_repair_figure7(void **state)
{
    static const uint64_t logs[7][12] = {
        {1, 1, 1, 4, 4, 5, 5, 6, 6, 6},       /* leader */
        {1, 1, 1, 4, 4, 5, 5, 6, 6},          /* (a) */
        {1, 1, 1, 4},                         /* (b) */
        {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},    /* (c) */
        {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7}, /* (d) */
        {1, 1, 1, 4, 4, 4, 4},                /* (e) */
        {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},    /* (f) */
    };
    static const size_t lens[7] = {10, 9, 4, 11, 12, 7, 11};
    struct mon_raft_config cfg = cfg_classic();
    struct tnet *t = t_new(7, 0, &cfg);
    char data[12][48];
    uint8_t conf[MON_RAFT_CONF_MAX_BYTES];
    (void)state;

    for (uint64_t id = 1; id <= 7; id++) {
        struct mon_raft_entry *e = fig7_log(logs[id - 1], lens[id - 1], data, conf);
        struct sim_disk *d = &t->nodes[id].disk;
        struct mon_raft_ready rd = {.entries = e,
                                    .n_entries = lens[id - 1],
                                    .has_hard_state = true,
                                    .hard_state = {.term = 8}};
        sim_disk_save_ready(d, &rd);
        free(e);
    }
    t_start_all(t);
    t_elect(t, 1);
    assert_int_equal(mon_raft_term(R(t, 1)), 9);
    t_tick(t, 1, 1);
    t_deliver_all(t);
    for (uint64_t id = 2; id <= 7; id++)
        assert_logs_equal(t, 1, id);
    assert_int_equal(mon_raft_last_index(R(t, 1)), 11); /* + the term-9 no-op */
    assert_int_equal(mon_raft_commit(R(t, 4)), 11);
    t_free(t);
}

/* §7: a follower that fell behind the leader's compacted log receives the
 * snapshot, restores it and then follows the log. */
static void test_raft_snapshot_install_lagging_follower(void **state)
{
    struct tnet *t = t_new(3, 3, NULL);
    char buf[32];
    (void)state;

    t_start_all(t);
    t_elect(t, 1);
    t_crash(t, 3);
    for (int i = 0; i < 10; i++) {
        snprintf(buf, sizeof(buf), "cmd%d", i);
        t_propose(t, 1, buf);
        t_deliver_all(t);
    }
    uint64_t applied = mon_raft_applied(R(t, 1));
    assert_int_equal(applied, 12); /* bootstrap config, no-op, 10 commands */
    assert_int_equal(mon_raft_compact(R(t, 1), applied + 1, "s", 1), -EINVAL);
    assert_int_equal(mon_raft_compact(R(t, 1), applied, "state@12", 8), 0);
    assert_int_equal(mon_raft_compact(R(t, 1), applied, "state@12", 8), -EINVAL);
    assert_int_equal(mon_raft_first_index(R(t, 1)), 13);
    assert_int_equal(mon_raft_snapshot(R(t, 1))->membership.n_voters, 3);
    t_start(t, 3);
    t_tick(t, 1, 1);
    t_deliver_all(t);
    assert_int_equal(t->nodes[3].restored_index, 12);
    assert_string_equal(t->nodes[3].restored_data, "state@12");
    assert_int_equal(mon_raft_snapshot(R(t, 3))->index, 12);
    t_propose(t, 1, "after");
    t_deliver_all(t);
    assert_true(t_applied(&t->nodes[3], "after"));
    assert_logs_equal(t, 1, 3);
    t_free(t);
}

/* §7 (InstallSnapshot, step 6): a follower already holding the snapshot's
 * last entry keeps its log and only moves its commit; it acknowledges that
 * index, not its last one, whose suffix may still diverge from the leader. */
static void test_raft_snapshot_of_held_entry_fast_forwards(void **state)
{
    struct tnet *t = t_new(3, 3, NULL);
    struct mon_raft_entry e[3] = {
        {.index = 2, .term = 2, .len = 1, .data = "a"},
        {.index = 3, .term = 2, .len = 1, .data = "b"},
        {.index = 4, .term = 3, .len = 1, .data = "x"}, /* uncommitted, may diverge */
    };
    struct mon_raft_ready saved = {
        .entries = e, .n_entries = 3, .has_hard_state = true, .hard_state = {.term = 3, .commit = 1}};
    (void)state;

    sim_disk_save_ready(&t->nodes[2].disk, &saved);
    t_start(t, 2);
    struct mon_raft_snapshot snap = {
        .index = 3, .term = 2, .membership = {3, {1, 2, 3}}, .len = 1, .data = "s"};
    struct mon_raft_msg m = {
        .type = MON_RAFT_MSG_SNAP, .from = 1, .to = 2, .term = 4, .snapshot = &snap};
    assert_int_equal(mon_raft_step(R(t, 2), &m), 0);
    assert_int_equal(mon_raft_commit(R(t, 2)), 3);
    assert_int_equal(mon_raft_last_index(R(t, 2)), 4);
    struct mon_raft_ready rd;
    mon_raft_ready(R(t, 2), &rd);
    assert_null(rd.snapshot);
    assert_int_equal(rd.n_committed, 2); /* a and b, from the log */
    assert_int_equal(rd.n_msgs, 1);
    assert_int_equal(rd.msgs[0].type, MON_RAFT_MSG_APP_RESP);
    assert_int_equal(rd.msgs[0].index, 3);
    assert_false(rd.msgs[0].reject);
    mon_raft_advance(R(t, 2), &rd);
    t_free(t);
}

/* ---- membership -------------------------------------------------------- */

/* Thesis §4.1: a new server joins with one config entry, used by each node
 * as soon as it is appended; one change at a time. */
static void test_raft_add_server(void **state)
{
    struct tnet *t = t_new(4, 3, NULL);
    (void)state;

    t_start_all(t);
    t_elect(t, 1);
    assert_int_equal(mon_raft_membership(R(t, 4))->n_voters, 0);
    assert_int_equal(mon_raft_propose_conf(R(t, 1), MON_RAFT_CONF_ADD_VOTER, 4), 0);
    /* In force on the leader before it commits ... */
    assert_true(mon_raft_membership_has(mon_raft_membership(R(t, 1)), 4));
    assert_true(mon_raft_commit(R(t, 1)) < mon_raft_last_index(R(t, 1)));
    /* ... and the next change waits for it. */
    assert_int_equal(mon_raft_propose_conf(R(t, 1), MON_RAFT_CONF_REMOVE_VOTER, 2), -EBUSY);
    t_drain(t, 1);
    t_deliver_all(t);
    for (uint64_t i = 1; i <= 4; i++)
        assert_int_equal(mon_raft_membership(R(t, i))->n_voters, 4);
    assert_logs_equal(t, 1, 4);
    assert_int_equal(mon_raft_propose_conf(R(t, 1), MON_RAFT_CONF_ADD_VOTER, 4), -EEXIST);
    /* The newcomer knows the configuration at every index, even before the
     * one that added it. Regression: raft_sim seed 3020551 (before the
     * bootstrap entry existed) had a joined leader send a snapshot with no
     * voters, having assumed its own empty index-0 configuration. */
    assert_int_equal(mon_raft_compact(R(t, 4), 2, "s", 1), 0);
    assert_int_equal(mon_raft_snapshot(R(t, 4))->membership.n_voters, 3);
    /* Quorum is now 3 of 4: 1 and 2 alone cannot commit. */
    t_isolate(t, 3, true);
    t_isolate(t, 4, true);
    t_propose(t, 1, "needs-3");
    t_deliver_all(t);
    assert_false(t_applied(&t->nodes[1], "needs-3"));
    t_isolate(t, 4, false);
    t_tick(t, 1, 1);
    t_deliver_all(t);
    assert_true(t_applied(&t->nodes[1], "needs-3"));
    t_free(t);
}

/* Thesis §4.1 and the single-server-change fix (raft-dev 2015): a leader
 * changes membership only after committing an entry of its term. */
static void test_raft_remove_server(void **state)
{
    struct tnet *t = t_new(3, 3, NULL);
    (void)state;

    t_start_all(t);
    t->drop = drop_app_from_leader;
    t_elect(t, 1);
    assert_int_equal(mon_raft_propose_conf(R(t, 1), MON_RAFT_CONF_REMOVE_VOTER, 3), -EAGAIN);
    t->drop = NULL;
    t_tick(t, 1, 1);
    t_deliver_all(t);
    assert_int_equal(mon_raft_commit(R(t, 1)), 2);
    assert_int_equal(mon_raft_propose_conf(R(t, 1), MON_RAFT_CONF_REMOVE_VOTER, 1), -EINVAL);
    assert_int_equal(mon_raft_propose_conf(R(t, 2), MON_RAFT_CONF_REMOVE_VOTER, 3),
                     -MON_RAFT_ENOTLEADER);
    assert_int_equal(mon_raft_propose_conf(R(t, 1), MON_RAFT_CONF_REMOVE_VOTER, 9), -ENOENT);
    assert_int_equal(mon_raft_propose_conf(R(t, 1), 77, 3), -EINVAL);
    assert_int_equal(mon_raft_propose_conf(R(t, 1), MON_RAFT_CONF_REMOVE_VOTER, 3), 0);
    assert_int_equal(mon_raft_membership(R(t, 1))->n_voters, 2);
    t_drain(t, 1);
    t_deliver_all(t);
    assert_int_equal(mon_raft_membership(R(t, 2))->n_voters, 2);
    /* The leader stopped replicating to 3 when it appended the entry, so 3
     * may never learn of its removal (thesis §4.2.3); it times out, but its
     * pre-votes fail and it cannot disrupt the cluster. */
    uint64_t term = mon_raft_term(R(t, 1));
    for (int i = 0; i < 50; i++) {
        t_tick(t, 3, 1);
        t_deliver_all(t);
    }
    assert_int_equal(mon_raft_term(R(t, 3)), term);
    assert_int_equal(mon_raft_role(R(t, 1)), MON_RAFT_LEADER);
    assert_int_equal(mon_raft_term(R(t, 1)), term);
    /* The two remaining voters commit alone. */
    t_isolate(t, 3, true);
    t_propose(t, 1, "two-of-two");
    t_deliver_all(t);
    assert_true(t_applied(&t->nodes[2], "two-of-two"));
    t_free(t);
}

/* Thesis §3.10: the leader brings the target up to date, sends TimeoutNow,
 * and the target wins at once despite the other followers' leases. */
static void test_raft_leadership_transfer(void **state)
{
    struct tnet *t = t_new(3, 3, NULL);
    (void)state;

    t_start_all(t);
    t_elect(t, 1);
    uint64_t term = mon_raft_term(R(t, 1));
    assert_int_equal(mon_raft_transfer_leader(R(t, 1), 1), -EINVAL);
    assert_int_equal(mon_raft_transfer_leader(R(t, 1), 9), -EINVAL);
    assert_int_equal(mon_raft_transfer_leader(R(t, 2), 3), -MON_RAFT_ENOTLEADER);
    assert_int_equal(mon_raft_transfer_leader(R(t, 1), 2), 0);
    assert_int_equal(mon_raft_propose(R(t, 1), "x", 1), -EAGAIN);
    t_drain(t, 1);
    t_deliver_all(t);
    assert_int_equal(mon_raft_role(R(t, 2)), MON_RAFT_LEADER);
    assert_int_equal(mon_raft_term(R(t, 2)), term + 1);
    assert_int_equal(mon_raft_leader(R(t, 1)), 2);

    /* A lagging target is caught up first. */
    t_isolate(t, 3, true);
    t_propose(t, 2, "while-3-was-away");
    t_deliver_all(t);
    t_isolate(t, 3, false);
    assert_int_equal(mon_raft_transfer_leader(R(t, 2), 3), 0);
    t_drain(t, 2);
    t_deliver_all(t);
    assert_int_equal(mon_raft_role(R(t, 3)), MON_RAFT_LEADER);
    assert_true(t_applied(&t->nodes[3], "while-3-was-away"));
    t_free(t);
}

/* ---- untrusted input and persistence ----------------------------------- */

struct snapshot_of_node {
    uint64_t term, commit, last;
    enum mon_raft_role role;
};

static struct snapshot_of_node observe(struct mon_raft *r)
{
    return (struct snapshot_of_node){mon_raft_term(r), mon_raft_commit(r), mon_raft_last_index(r),
                                     mon_raft_role(r)};
}

static void expect_refused(struct mon_raft *r, const struct mon_raft_msg *m, int err)
{
    struct snapshot_of_node before = observe(r);

    assert_int_equal(mon_raft_step(r, m), err);
    struct snapshot_of_node after = observe(r);
    assert_int_equal(after.term, before.term);
    assert_int_equal(after.commit, before.commit);
    assert_int_equal(after.last, before.last);
    assert_int_equal(after.role, before.role);
    assert_false(mon_raft_has_ready(r));
    assert_int_equal(mon_raft_check(r, NULL), 0);
}

static void malformed_envelope(struct mon_raft *r, uint64_t term)
{
    struct mon_raft_msg ok = {.type = MON_RAFT_MSG_HEARTBEAT, .from = 2, .to = 1, .term = term};
    struct mon_raft_msg m;
    struct mon_raft_entry e = {.index = 1, .term = 1};

    m = ok, m.type = 0;
    expect_refused(r, &m, -EINVAL);
    m = ok, m.type = 99;
    expect_refused(r, &m, -EINVAL);
    m = ok, m.from = 0;
    expect_refused(r, &m, -EINVAL);
    m = ok, m.from = 1; /* from ourselves */
    expect_refused(r, &m, -EINVAL);
    m = ok, m.to = 3;
    expect_refused(r, &m, -EINVAL);
    m = ok, m.term = 0;
    expect_refused(r, &m, -EINVAL);
    m = ok, m.entries = &e, m.n_entries = 1; /* entries on a heartbeat */
    expect_refused(r, &m, -EINVAL);
    m = ok, m.type = MON_RAFT_MSG_SNAP; /* no snapshot */
    expect_refused(r, &m, -EINVAL);
    m = ok, m.type = MON_RAFT_MSG_VOTE, m.term = 50, m.log_term = 51, m.index = 1;
    expect_refused(r, &m, -EINVAL);
    m = ok, m.type = MON_RAFT_MSG_APP_RESP, m.reject = true, m.index = 2, m.reject_hint = 3;
    expect_refused(r, &m, -EINVAL);
}

/* Renumbers the message's (static) entries to follow m->index. */
static void bad_index_entries(struct mon_raft_msg *m)
{
    static struct mon_raft_entry e[2];

    for (uint32_t i = 0; i < 2; i++)
        e[i] = (struct mon_raft_entry){.index = m->index + 1 + i, .term = 1, .len = 0};
    m->log_term = 1;
    m->entries = e;
    m->n_entries = 2;
}

static void malformed_append(struct mon_raft *r, uint64_t term)
{
    struct mon_raft_entry e[2] = {
        {.index = 2, .term = term, .type = MON_RAFT_ENTRY_NORMAL, .len = 1, .data = "a"},
        {.index = 3, .term = term, .type = MON_RAFT_ENTRY_NORMAL, .len = 1, .data = "b"},
    };
    struct mon_raft_msg ok = {.type = MON_RAFT_MSG_APP,
                              .from = 2,
                              .to = 1,
                              .term = term + 5,
                              .log_term = 1,
                              .index = 1,
                              .entries = e,
                              .n_entries = 2};
    struct mon_raft_msg m;

    m = ok, m.entries = NULL; /* count without entries */
    expect_refused(r, &m, -EINVAL);
    m = ok, m.index = 2; /* entries do not follow index */
    expect_refused(r, &m, -EINVAL);
    m = ok, m.n_entries = MON_RAFT_MAX_MSG_ENTRIES + 1;
    expect_refused(r, &m, -EINVAL);
    m = ok, m.index = UINT64_MAX, m.n_entries = 0; /* next index overflows */
    expect_refused(r, &m, -EINVAL);
    m = ok, m.index = UINT64_MAX - 1;
    expect_refused(r, &m, -EINVAL);
    m = ok, m.index = MON_RAFT_MAX_INDEX - 2; /* index + count beyond the limit */
    bad_index_entries(&m);
    expect_refused(r, &m, -EINVAL);
    m = ok, m.term = MON_RAFT_MAX_INDEX + 1;
    expect_refused(r, &m, -EINVAL);
    m = ok, m.log_term = 0; /* index 1 cannot have term 0 */
    expect_refused(r, &m, -EINVAL);
    m = ok, m.term = term - 1 + 1, m.log_term = term + 1; /* entry newer than message */
    expect_refused(r, &m, -EINVAL);
    struct mon_raft_entry bad[2] = {e[0], e[1]};
    m = ok, m.entries = bad;
    bad[1].term = term - 1; /* terms go backwards */
    expect_refused(r, &m, -EINVAL);
    bad[1] = e[1], bad[1].type = MON_RAFT_ENTRY_CONF; /* undecodable config */
    expect_refused(r, &m, -EINVAL);
    bad[1] = e[1], bad[1].type = MON_RAFT_ENTRY_NOOP; /* no-op with a payload */
    expect_refused(r, &m, -EINVAL);
    bad[1] = e[1], bad[1].type = 7;
    expect_refused(r, &m, -EINVAL);
    bad[1] = e[1], bad[1].len = MON_RAFT_MAX_ENTRY_BYTES + 1;
    expect_refused(r, &m, -EINVAL);
    bad[1] = e[1], bad[1].data = NULL;
    expect_refused(r, &m, -EINVAL);
}

static void malformed_snapshot(struct mon_raft *r, uint64_t term)
{
    struct mon_raft_snapshot s = {
        .index = 10, .term = term, .membership = {1, {1}}, .len = 1, .data = "s"};
    struct mon_raft_msg m = {
        .type = MON_RAFT_MSG_SNAP, .from = 2, .to = 1, .term = term, .snapshot = &s};

    s.term = term + 1; /* snapshot newer than its message */
    expect_refused(r, &m, -EINVAL);
    s.term = term, s.membership.n_voters = 0;
    expect_refused(r, &m, -EINVAL);
    s.membership = (struct mon_raft_membership){2, {3, 3}}; /* duplicate voter */
    expect_refused(r, &m, -EINVAL);
    s.membership = (struct mon_raft_membership){1, {1}}, s.data = NULL;
    expect_refused(r, &m, -EINVAL);
    s.data = "s", s.index = 0;
    expect_refused(r, &m, -EINVAL);
}

/* STYLE §4: network input is validated, refused with an errno and leaves
 * the node untouched; never an assertion. */
static void test_raft_malformed_messages_rejected(void **state)
{
    struct tnet *t = t_new(3, 3, NULL);
    (void)state;

    t_start_all(t);
    t_elect(t, 1);
    uint64_t term = mon_raft_term(R(t, 1));
    malformed_envelope(R(t, 1), term);
    malformed_append(R(t, 1), term);
    malformed_snapshot(R(t, 1), term);

    /* Well formed but contradicting the protocol: -EPROTO. */
    struct mon_raft_msg ack = {.type = MON_RAFT_MSG_APP_RESP,
                               .from = 2,
                               .to = 1,
                               .term = term,
                               .index = 1000}; /* acks entries never sent */
    expect_refused(R(t, 1), &ack, -EPROTO);
    struct mon_raft_msg app = {.type = MON_RAFT_MSG_APP,
                               .from = 2,
                               .to = 1,
                               .term = term,
                               .log_term = 1,
                               .index = 1}; /* a second leader in our term */
    expect_refused(R(t, 1), &app, -EPROTO);
    app.to = 2, app.from = 3; /* at follower 2, whose leader is 1 */
    expect_refused(R(t, 2), &app, -EPROTO);

    /* A response with a future term from a node outside the configuration
     * is stale, not a reason to step down nor an error: a removed server may
     * have campaigned alone to any term. Regression: raft_sim seed 239
     * (--steps 40000, fault profile of the first version) caught the core
     * refusing such an answer with -EPROTO. */
    struct mon_raft_msg stray = {
        .type = MON_RAFT_MSG_APP_RESP, .from = 7, .to = 1, .term = term + 100};
    expect_refused(R(t, 1), &stray, 0);
    assert_int_equal(mon_raft_role(R(t, 1)), MON_RAFT_LEADER);
    t_free(t);
}

/* §5.1/Figure 2: term and vote are persisted before the vote is sent, so a
 * restarted node never votes twice in a term. */
static void test_raft_restart_keeps_term_and_vote(void **state)
{
    struct tnet *t = t_new(3, 3, NULL);
    (void)state;

    t_start_all(t);
    struct mon_raft_msg v = {
        .type = MON_RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 5, .log_term = 1, .index = 1};
    assert_int_equal(mon_raft_step(R(t, 2), &v), 0);
    t_drain(t, 2);
    assert_int_equal(t->nodes[2].disk.hs.term, 5);
    assert_int_equal(t->nodes[2].disk.hs.vote, 1);
    t_crash(t, 2);
    for (size_t i = 0; i < t->nq; i++)
        sim_msg_free(t->q[i]);
    t->nq = 0;
    t_start(t, 2);
    assert_int_equal(mon_raft_term(R(t, 2)), 5);
    v.from = 3;
    assert_int_equal(mon_raft_step(R(t, 2), &v), 0);
    t_drain(t, 2);
    assert_int_equal(t->nq, 1);
    assert_int_equal(t->q[0]->m.type, MON_RAFT_MSG_VOTE_RESP);
    assert_true(t->q[0]->m.reject);
    v.from = 1; /* a retransmission from the one we voted for is granted again */
    assert_int_equal(mon_raft_step(R(t, 2), &v), 0);
    t_drain(t, 2);
    assert_false(t->q[1]->m.reject);
    t_free(t);
}

/* mon_raft_create() checks what it is given: the config (-EINVAL) and the
 * persisted state (-EBADMSG). */
static void test_raft_create_validates_persisted_state(void **state)
{
    struct mon_raft_config cfg;
    struct mon_raft *r = NULL;
    struct mon_raft_snapshot snap = {0};
    struct mon_raft_hard_state hs = {.term = 2};
    struct mon_raft_entry e[2] = {{.index = 1, .term = 1}, {.index = 2, .term = 2}};
    (void)state;

    mon_raft_config_default(&cfg, 0);
    assert_int_equal(mon_raft_create(&cfg, &hs, &snap, e, 2, &r), -EINVAL);
    mon_raft_config_default(&cfg, 1);
    cfg.election_ticks = cfg.heartbeat_ticks;
    assert_int_equal(mon_raft_create(&cfg, &hs, &snap, e, 2, &r), -EINVAL);
    mon_raft_config_default(&cfg, 1);
    e[1].index = 3;
    assert_int_equal(mon_raft_create(&cfg, &hs, &snap, e, 2, &r), -EBADMSG);
    e[1].index = 2, e[1].term = 3; /* newer than the hard state's term */
    assert_int_equal(mon_raft_create(&cfg, &hs, &snap, e, 2, &r), -EBADMSG);
    e[1].term = 2, hs.commit = 3;
    assert_int_equal(mon_raft_create(&cfg, &hs, &snap, e, 2, &r), -EBADMSG);
    hs.commit = 1, snap.index = 5; /* snapshot index without a term */
    assert_int_equal(mon_raft_create(&cfg, &hs, &snap, e, 2, &r), -EBADMSG);
    snap.index = 0, snap.membership = (struct mon_raft_membership){1, {1}};
    assert_int_equal(mon_raft_create(&cfg, &hs, &snap, e, 2, &r), -EBADMSG); /* voters at 0 */
    snap.membership.n_voters = 0, cfg.applied = 2; /* applied beyond commit */
    assert_int_equal(mon_raft_create(&cfg, &hs, &snap, e, 2, &r), -EINVAL);
    assert_null(r);
    struct mon_raft_membership none = {0};
    assert_int_equal(mon_raft_bootstrap(&none, &hs, e, NULL), -EINVAL);
    cfg.applied = 0;
    assert_int_equal(mon_raft_create(&cfg, &hs, &snap, e, 2, &r), 0);
    assert_int_equal(mon_raft_term(r), 2);
    assert_int_equal(mon_raft_commit(r), 1);
    struct mon_raft_ready rd;
    mon_raft_ready(r, &rd);
    assert_int_equal(rd.n_committed, 1); /* committed, not yet applied */
    assert_int_equal(rd.n_entries, 0);   /* already persisted */
    mon_raft_advance(r, &rd);
    mon_raft_destroy(r);
}

/* The driver contract on one node: a proposal comes out as an entry to
 * persist, then as a committed entry; errors name the cause. */
static void test_raft_single_node_propose_and_ready(void **state)
{
    struct tnet *t = t_new(1, 1, NULL);
    static char big[MON_RAFT_MAX_ENTRY_BYTES + 1];
    (void)state;

    t_start_all(t);
    assert_int_equal(mon_raft_propose(R(t, 1), "x", 1), -MON_RAFT_ENOTLEADER);
    t_elect(t, 1);
    assert_int_equal(mon_raft_propose(R(t, 1), NULL, 1), -EINVAL);
    assert_int_equal(mon_raft_propose(R(t, 1), big, sizeof(big)), -EMSGSIZE);
    assert_int_equal(mon_raft_propose(R(t, 1), "hello", 5), 0);
    struct mon_raft_ready rd;
    assert_true(mon_raft_has_ready(R(t, 1)));
    mon_raft_ready(R(t, 1), &rd);
    assert_int_equal(rd.n_entries, 1);
    assert_int_equal(rd.entries[0].index, 3); /* after the config and the no-op */
    assert_int_equal(rd.n_committed, 1);
    assert_memory_equal(rd.committed[0].data, "hello", 5);
    assert_int_equal(rd.n_msgs, 0);
    sim_disk_save_ready(&t->nodes[1].disk, &rd);
    mon_raft_advance(R(t, 1), &rd);
    assert_false(mon_raft_has_ready(R(t, 1)));
    assert_int_equal(mon_raft_applied(R(t, 1)), 3);
    t_free(t);
}

/* A follower redirects proposals to the leader it knows. */
static void test_raft_follower_redirects_and_log_limit(void **state)
{
    struct mon_raft_config cfg;
    mon_raft_config_default(&cfg, 1);
    cfg.max_log_entries = 4;
    struct tnet *t = t_new(3, 3, &cfg);
    (void)state;

    t_start_all(t);
    t_elect(t, 1);
    assert_int_equal(mon_raft_propose(R(t, 2), "x", 1), -MON_RAFT_ENOTLEADER);
    assert_int_equal(mon_raft_leader(R(t, 2)), 1);
    t_propose(t, 1, "a");
    t_propose(t, 1, "b");
    assert_int_equal(mon_raft_propose(R(t, 1), "c", 1), -EAGAIN); /* compact first */
    t_deliver_all(t);
    assert_int_equal(mon_raft_compact(R(t, 1), mon_raft_applied(R(t, 1)), "s", 1), 0);
    t_propose(t, 1, "c");
    t_free(t);
}

/* Builds a message with every field near the interesting values (and
 * sometimes far off): mostly well formed, often contradictory. */
static void random_msg(uint64_t *rng, struct mon_raft *r, struct mon_raft_msg *m,
                       struct mon_raft_entry *e, struct mon_raft_snapshot *snap)
{
    uint64_t term = mon_raft_term(r), last = mon_raft_last_index(r);

    memset(m, 0, sizeof(*m));
    m->type = (uint32_t)sim_rand_range(rng, 0, MON_RAFT_MSG_TYPE_MAX + 1);
    m->from = sim_rand_range(rng, 0, 4);
    m->to = sim_chance(rng, 950000) ? mon_raft_id(r) : sim_rand_range(rng, 0, 4);
    m->term = sim_chance(rng, 30000) ? sim_rand(rng) : term + sim_rand_range(rng, 0, 3) - 1;
    m->index = sim_chance(rng, 30000) ? sim_rand(rng) : last + sim_rand_range(rng, 0, 6) - 3;
    m->log_term = sim_rand_range(rng, 0, m->term < 8 ? m->term : 8);
    m->commit = last + sim_rand_range(rng, 0, 4) - 2;
    m->reject = sim_chance(rng, 300000);
    m->force = sim_chance(rng, 100000);
    m->reject_hint = sim_rand_range(rng, 0, m->index < 8 ? m->index : 8);
    if (m->type == MON_RAFT_MSG_APP || sim_chance(rng, 20000)) {
        m->n_entries = (uint32_t)sim_rand_range(rng, 0, 3);
        for (uint32_t i = 0; i < m->n_entries; i++)
            e[i] = (struct mon_raft_entry){
                .index = m->index + 1 + i + (sim_chance(rng, 20000) ? 1 : 0),
                .term = CAIRN_MAX(m->log_term, 1) + sim_rand_range(rng, 0, 1),
                .type = sim_chance(rng, 950000) ? MON_RAFT_ENTRY_NORMAL
                                                : (uint32_t)sim_rand_range(rng, 0, 3),
                .len = 1,
                .data = "r"};
        m->entries = m->n_entries ? e : NULL;
    }
    if (m->type == MON_RAFT_MSG_SNAP || sim_chance(rng, 20000)) {
        *snap =
            (struct mon_raft_snapshot){.index = last + sim_rand_range(rng, 0, 4) - 2,
                                       .term = sim_rand_range(rng, 0, m->term < 8 ? m->term : 8),
                                       .membership = {sim_chance(rng, 900000) ? 3 : 1, {1, 2, 3}},
                                       .len = 1,
                                       .data = "s"};
        m->snapshot = snap;
    }
}

/* STYLE §4 and §14.6: whatever arrives, the core returns an error or
 * handles it, and its invariants hold. Randomized: prints its seed, and
 * CAIRN_SEED replays. */
static void test_raft_random_messages_keep_invariants(void **state)
{
    const char *env = getenv("CAIRN_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 20250101, rng = seed;
    struct mon_raft_entry e[3];
    struct mon_raft_snapshot snap;
    struct mon_raft_msg m;
    struct tnet *t = t_new(3, 3, NULL);
    (void)state;

    printf("seed=%" PRIu64 "\n", seed);
    t_start_all(t);
    t_elect(t, 1);
    for (int i = 0; i < 30000; i++) {
        uint64_t id = sim_rand_range(&rng, 1, 3);
        random_msg(&rng, R(t, id), &m, e, &snap);
        int rc = mon_raft_step(R(t, id), &m);
        assert_true(rc == 0 || rc == -EINVAL || rc == -EPROTO);
        if (sim_chance(&rng, 100000))
            mon_raft_tick(R(t, id));
        t_drain(t, id);
        for (size_t k = 0; k < t->nq; k++)
            sim_msg_free(t->q[k]);
        t->nq = 0;
        if (sim_chance(&rng, 5000)) { /* restart from disk */
            t_crash(t, id);
            t_start(t, id);
        }
    }
    t_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raft_election_safety_one_vote_per_term),
        cmocka_unit_test(test_raft_prevote_isolated_node_does_not_disrupt),
        cmocka_unit_test(test_raft_without_prevote_isolated_node_disrupts),
        cmocka_unit_test(test_raft_check_quorum_partitioned_leader_steps_down),
        cmocka_unit_test(test_raft_figure8_stale_term_entry_not_committed),
        cmocka_unit_test(test_raft_log_repair_figure7),
        cmocka_unit_test(test_raft_snapshot_install_lagging_follower),
        cmocka_unit_test(test_raft_snapshot_of_held_entry_fast_forwards),
        cmocka_unit_test(test_raft_add_server),
        cmocka_unit_test(test_raft_remove_server),
        cmocka_unit_test(test_raft_leadership_transfer),
        cmocka_unit_test(test_raft_malformed_messages_rejected),
        cmocka_unit_test(test_raft_restart_keeps_term_and_vote),
        cmocka_unit_test(test_raft_create_validates_persisted_state),
        cmocka_unit_test(test_raft_single_node_propose_and_ready),
        cmocka_unit_test(test_raft_follower_redirects_and_log_limit),
        cmocka_unit_test(test_raft_random_messages_keep_invariants),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

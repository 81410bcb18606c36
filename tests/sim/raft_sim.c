/* raft_sim: the deterministic Raft simulator (STYLE §9, TigerBeetle VOPR).
 * Real monitor/core Raft cores run over a simulated network, clock and disk
 * in one thread; a seeded PRNG picks every fault: drops, duplicates,
 * reordering delays, partitions (symmetric and one-way), crashes that lose
 * all that was not persisted, client proposals, membership changes and
 * leadership transfers. Checkers (sim_check.c) run after every step; after
 * the fault phase the network heals and a liveness check follows.
 *
 *   raft_sim --seed N                replay one seed
 *   raft_sim --seeds K [--first N]   K seeds from N
 *   raft_sim --soak --seconds S      seeds until S wall-clock seconds pass
 *   options: --nodes 3|5, --steps N (fault-phase events, default 40000, as
 *   ctest), -v
 * Exit status 0, or 1 with the seed, the step and a trace tail. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/assert.h"
#include "tests/sim/sim_check.h"
#include "tests/sim/sim_disk.h"
#include "tests/sim/sim_net.h"

#define SIM_MAX_NODES 6 /* 5 initial voters + 1 spare to add */
#define TICK_US 10000   /* one Raft tick: 10 ms of simulated time */
#define HEAL_DEADLINE_US (30ull * 1000 * 1000)
#define RING_SIZE 96 /* trace records kept for a violation report */
#define MARKER "liveness-marker"

struct sim_opts {
    uint64_t first; /* first seed */
    uint64_t seeds; /* how many */
    uint32_t nodes; /* initial voters */
    uint64_t steps; /* events in the fault phase */
    bool soak;
    double seconds;
    bool verbose;
};

/* One simulated monitor: a core, its disk and its (volatile) state machine. */
struct node {
    uint64_t id;
    bool up;
    struct mon_raft *r;
    struct sim_disk disk;
    uint64_t sm_applied; /* state machine: last applied index */
    uint64_t sm_state;   /* and the hash chain of everything applied */
};

enum trace_src {
    TR_RAFT,
    TR_DELIVER,
    TR_DROP,
    TR_CRASH,
    TR_RESTART,
    TR_PARTITION,
    TR_HEAL,
    TR_PROPOSE,
    TR_CONF,
    TR_TRANSFER
};

struct trace_rec {
    uint64_t time_us;
    enum trace_src src;
    uint64_t node;
    uint64_t v[5];
};

struct sim {
    const struct sim_opts *o;
    uint64_t seed;
    uint64_t rng;
    uint64_t now; /* simulated microseconds */
    uint64_t step;
    struct sim_queue q;
    struct node nodes[SIM_MAX_NODES + 1];               /* by id, 1-based */
    uint32_t n_nodes;                                   /* including the spare */
    bool blocked[SIM_MAX_NODES + 1][SIM_MAX_NODES + 1]; /* [from][to] */
    uint64_t partition_gen;
    /* The seed's fault profile, per million. */
    uint32_t p_drop, p_dup, p_slow, p_crash_mid_ready;
    bool conf_changes, transfers;
    uint64_t compact_every;
    struct mon_raft_config base;
    /* Phases. */
    bool healed;
    uint64_t heal_time;
    uint64_t marker_index; /* committed marker, 0 until seen */
    uint64_t client_seq;
    struct sim_check chk;
    bool failed;
    struct trace_rec ring[RING_SIZE];
    uint64_t ring_n;
    /* Statistics. */
    uint64_t crashes, msgs, proposals, elections, confs, transfers_done;
    uint64_t restores, truncations, quorum_lost;
};

static struct sim *g_sim; /* for the SIGABRT report only */

static void trace(struct sim *s, enum trace_src src, uint64_t node, uint64_t a, uint64_t b,
                  uint64_t c, uint64_t d, uint64_t e)
{
    struct trace_rec *t = &s->ring[s->ring_n++ % RING_SIZE];

    *t = (struct trace_rec){s->now, src, node, {a, b, c, d, e}};
}

static void raft_trace_hook(void *arg, const struct mon_raft_trace_event *ev)
{
    struct sim *s = arg;

    if (ev->kind == MON_RAFT_TRACE_BECOME_LEADER)
        s->elections++;
    if (ev->kind == MON_RAFT_TRACE_RESTORE)
        s->restores++;
    if (ev->kind == MON_RAFT_TRACE_TRUNCATE)
        s->truncations++;
    if (ev->kind == MON_RAFT_TRACE_CHECK_QUORUM_LOST)
        s->quorum_lost++;
    trace(s, TR_RAFT, ev->id, ev->kind, ev->term, ev->a, ev->b, 0);
}

static void print_rec(const struct trace_rec *t)
{
    const uint64_t *v = t->v;

    printf("  %8.3fms n%" PRIu64 " ", (double)t->time_us / 1000.0, t->node);
    switch (t->src) {
    case TR_RAFT:
        printf("%s term=%" PRIu64 " a=%" PRIu64 " b=%" PRIu64 "\n",
               mon_raft_trace_name((enum mon_raft_trace_kind)v[0]), v[1], v[2], v[3]);
        break;
    case TR_DELIVER:
    case TR_DROP:
        printf("%s %s from n%" PRIu64 " term=%" PRIu64 " index=%" PRIu64 " n=%" PRIu64
               " reject=%" PRIu64 "\n",
               t->src == TR_DROP ? "drop" : "recv", mon_raft_msg_type_name((uint32_t)v[0]), v[1],
               v[2], v[3], v[4] >> 1, v[4] & 1);
        break;
    case TR_CRASH:
        printf("crash%s\n", v[0] ? " (after persisting, before sending)" : "");
        break;
    case TR_RESTART:
        printf("restart term=%" PRIu64 " commit=%" PRIu64 " last=%" PRIu64 "\n", v[0], v[1], v[2]);
        break;
    case TR_PARTITION:
        printf("partition gen=%" PRIu64 " kind=%" PRIu64 " mask=%#" PRIx64 "\n", v[0], v[1], v[2]);
        break;
    case TR_HEAL:
        printf("heal gen=%" PRIu64 "\n", v[0]);
        break;
    case TR_PROPOSE:
        printf("propose rc=%" PRId64 " index=%" PRIu64 "\n", (int64_t)v[0], v[1]);
        break;
    case TR_CONF:
        printf("conf op=%" PRIu64 " node=n%" PRIu64 " rc=%" PRId64 "\n", v[0], v[1], (int64_t)v[2]);
        break;
    case TR_TRANSFER:
        printf("transfer to n%" PRIu64 " rc=%" PRId64 "\n", v[0], (int64_t)v[1]);
        break;
    }
}

static void report(struct sim *s, const char *what)
{
    uint64_t n = s->ring_n < RING_SIZE ? s->ring_n : RING_SIZE;

    printf("VIOLATION seed=%" PRIu64 " step=%" PRIu64 " time=%.3fms: %s\n", s->seed, s->step,
           (double)s->now / 1000.0, what);
    printf("trace tail (last %" PRIu64 " events):\n", n);
    for (uint64_t i = s->ring_n - n; i < s->ring_n; i++)
        print_rec(&s->ring[i % RING_SIZE]);
    printf("replay: raft_sim --seed %" PRIu64 " --nodes %u --steps %" PRIu64 "\n", s->seed,
           s->o->nodes, s->o->steps);
    fflush(stdout);
}

static void on_abort(int sig)
{
    (void)sig;
    if (g_sim)
        report(g_sim, "core assertion failed (message on stderr)");
    _exit(1);
}

static bool fail(struct sim *s, const char *what)
{
    if (!s->failed)
        report(s, what);
    s->failed = true;
    return false;
}

static bool check(struct sim *s, bool ok)
{
    return ok ? true : fail(s, s->chk.violation);
}

static void schedule(struct sim *s, uint64_t delay_us, enum sim_event_kind kind, uint64_t node,
                     uint64_t arg, struct sim_msg *msg)
{
    struct sim_event ev = {
        .time_us = s->now + delay_us,
        .kind = kind,
        .node = node,
        .arg = arg,
        .msg = msg,
    };
    sim_queue_push(&s->q, ev);
}

/* ---- the network ------------------------------------------------------- */

static uint64_t net_delay(struct sim *s)
{
    if (sim_chance(&s->rng, s->p_slow))
        return sim_rand_range(&s->rng, 5000, 80000);
    return sim_rand_range(&s->rng, 200, 4000);
}

static void net_send(struct sim *s, const struct mon_raft_msg *m)
{
    s->msgs++;
    if (sim_chance(&s->rng, s->p_drop))
        return;
    schedule(s, net_delay(s), SIM_EV_DELIVER, m->to, 0, sim_msg_copy(m));
    if (sim_chance(&s->rng, s->p_dup))
        schedule(s, net_delay(s), SIM_EV_DELIVER, m->to, 0, sim_msg_copy(m));
}

/* ---- the driver: the persist-before-send contract of raft.h ------------ */

static void node_crash(struct sim *s, struct node *n, bool mid_ready);

#define SNAP_HDR 16

static void sm_restore(struct sim *s, struct node *n, const struct mon_raft_snapshot *snap)
{
    const uint8_t *p = snap->data;
    uint64_t index, state;

    if (snap->index == 0) {
        n->sm_applied = 0;
        n->sm_state = 0;
        return;
    }
    CAIRN_ASSERT(snap->len >= SNAP_HDR);
    memcpy(&index, p, 8);
    memcpy(&state, p + 8, 8);
    for (uint64_t i = SNAP_HDR; i < snap->len; i++)
        if (p[i] != (uint8_t)(index + i))
            fail(s, "snapshot payload corrupted in transit");
    if (index != snap->index)
        fail(s, "snapshot payload is for another index");
    check(s, sim_check_snapshot(&s->chk, n->id, index, state));
    n->sm_applied = index;
    n->sm_state = state;
}

static void sm_apply(struct sim *s, struct node *n, const struct mon_raft_entry *e)
{
    if (e->index != n->sm_applied + 1) {
        fail(s, "entries applied out of order");
        return;
    }
    /* Applying something that is not durable locally breaks the contract. */
    const struct mon_raft_entry *d = sim_disk_entry(&n->disk, e->index);
    if (e->index > n->disk.snap.index && (!d || d->term != e->term))
        fail(s, "applying an entry that is not persisted");
    n->sm_state = sim_state_next(n->sm_state, e);
    n->sm_applied = e->index;
    check(s, sim_check_apply(&s->chk, n->id, e, n->sm_state));
    if (e->len == sizeof(MARKER) - 1 && memcmp(e->data, MARKER, e->len) == 0 && s->healed)
        s->marker_index = e->index;
}

static void maybe_compact(struct sim *s, struct node *n)
{
    uint8_t buf[SNAP_HDR + 64];
    const struct mon_raft_snapshot *cur = mon_raft_snapshot(n->r);

    if (n->sm_applied < cur->index + s->compact_every)
        return;
    size_t len = SNAP_HDR + (size_t)sim_rand_range(&s->rng, 0, 64);
    memcpy(buf, &n->sm_applied, 8);
    memcpy(buf + 8, &n->sm_state, 8);
    for (size_t i = SNAP_HDR; i < len; i++)
        buf[i] = (uint8_t)(n->sm_applied + i);
    int rc = mon_raft_compact(n->r, n->sm_applied, buf, len);
    if (rc != 0) {
        fail(s, "mon_raft_compact failed at the applied index");
        return;
    }
    sim_disk_save_snapshot(&n->disk, mon_raft_snapshot(n->r));
}

static void drain(struct sim *s, struct node *n)
{
    struct mon_raft_ready rd;

    while (n->up && !s->failed && mon_raft_has_ready(n->r)) {
        check(s, sim_check_commits(&s->chk, n->r));
        mon_raft_ready(n->r, &rd);
        check(s, sim_check_persist(&s->chk, n->id, n->r, &rd));
        sim_disk_save_ready(&n->disk, &rd); /* 2-4: one synced write */
        if (sim_chance(&s->rng, s->p_crash_mid_ready)) {
            node_crash(s, n, true);
            return;
        }
        for (size_t i = 0; i < rd.n_msgs; i++) /* 5: only now send */
            net_send(s, &rd.msgs[i]);
        if (rd.snapshot)
            sm_restore(s, n, rd.snapshot);
        for (size_t i = 0; i < rd.n_committed; i++) /* 6: apply in order */
            sm_apply(s, n, &rd.committed[i]);
        mon_raft_advance(n->r, &rd);
        if (n->sm_applied != mon_raft_applied(n->r))
            fail(s, "core and state machine disagree on the applied index");
        maybe_compact(s, n);
    }
}

/* ---- node lifecycle ---------------------------------------------------- */

static void node_crash(struct sim *s, struct node *n, bool mid_ready)
{
    trace(s, TR_CRASH, n->id, mid_ready, 0, 0, 0, 0);
    mon_raft_destroy(n->r);
    n->r = NULL;
    n->up = false;
    s->crashes++;
    if (!s->healed)
        schedule(s, sim_rand_range(&s->rng, 10000, 1500000), SIM_EV_RESTART, n->id, 0, NULL);
}

/* Everything the disk says is committed must be what was committed. */
static void check_durable(struct sim *s, struct node *n)
{
    for (uint64_t i = n->disk.snap.index + 1; i <= n->disk.hs.commit; i++) {
        const struct mon_raft_entry *e = sim_disk_entry(&n->disk, i);
        const struct sim_commit *rec = i <= s->chk.n_commits ? &s->chk.commits[i - 1] : NULL;
        if (!e || !rec || e->term != rec->term || sim_entry_hash(e) != rec->data_hash) {
            fail(s, "a persisted committed entry was lost or changed");
            return;
        }
    }
}

static void node_start(struct sim *s, struct node *n)
{
    struct mon_raft_config cfg = s->base;

    cfg.id = n->id;
    cfg.seed = sim_rand(&s->rng);
    cfg.trace = raft_trace_hook;
    cfg.trace_arg = s;
    int rc = sim_disk_open(&n->disk, &cfg, &n->r);
    if (rc != 0) {
        fail(s, "mon_raft_create rejected a disk the driver wrote");
        return;
    }
    n->up = true;
    check_durable(s, n);
    sm_restore(s, n, &n->disk.snap);
    trace(s, TR_RESTART, n->id, n->disk.hs.term, n->disk.hs.commit, mon_raft_last_index(n->r), 0,
          0);
    schedule(s, sim_rand_range(&s->rng, 1, TICK_US), SIM_EV_TICK, n->id, 0, NULL);
    drain(s, n);
}

/* The up node that leads the highest term, or NULL. */
static struct node *find_leader(struct sim *s)
{
    struct node *best = NULL;

    for (uint32_t i = 1; i <= s->n_nodes; i++) {
        struct node *n = &s->nodes[i];
        if (n->up && mon_raft_role(n->r) == MON_RAFT_LEADER &&
            (!best || mon_raft_term(n->r) > mon_raft_term(best->r)))
            best = n;
    }
    return best;
}

static struct node *random_up_node(struct sim *s)
{
    uint64_t start = sim_rand(&s->rng);

    for (uint32_t k = 0; k < s->n_nodes; k++) {
        struct node *n = &s->nodes[1 + (start + k) % s->n_nodes];
        if (n->up)
            return n;
    }
    return NULL;
}

/* ---- workload and faults ----------------------------------------------- */

static void client_propose(struct sim *s)
{
    uint8_t buf[64];
    size_t len;
    struct node *n = random_up_node(s);

    if (!n)
        return;
    if (s->healed && s->marker_index == 0) {
        len = sizeof(MARKER) - 1;
        memcpy(buf, MARKER, len);
    } else {
        len = 8 + (size_t)sim_rand_range(&s->rng, 0, 40);
        s->client_seq++;
        memcpy(buf, &s->client_seq, 8);
        for (size_t i = 8; i < len; i++)
            buf[i] = (uint8_t)sim_rand(&s->rng);
    }
    int rc = mon_raft_propose(n->r, buf, len);
    uint64_t hint = mon_raft_leader(n->r);
    if (rc == -MON_RAFT_ENOTLEADER && hint != 0 && hint <= s->n_nodes && s->nodes[hint].up) {
        n = &s->nodes[hint];
        rc = mon_raft_propose(n->r, buf, len);
    }
    trace(s, TR_PROPOSE, n->id, (uint64_t)(int64_t)rc, mon_raft_last_index(n->r), 0, 0, 0);
    s->proposals += rc == 0;
    drain(s, n);
}

static void partition(struct sim *s)
{
    uint64_t kind = sim_rand(&s->rng) % 3, mask = sim_rand(&s->rng);
    uint64_t victim = sim_rand_range(&s->rng, 1, s->n_nodes);
    struct node *l = sim_rand(&s->rng) % 2 ? find_leader(s) : NULL;

    victim = l ? l->id : victim;

    memset(s->blocked, 0, sizeof(s->blocked));
    s->partition_gen++;
    for (uint32_t a = 1; a <= s->n_nodes; a++) {
        for (uint32_t b = 1; b <= s->n_nodes; b++) {
            if (a == b)
                continue;
            if (kind == 0) /* isolate one node */
                s->blocked[a][b] = a == victim || b == victim;
            else if (kind == 1) /* two sides */
                s->blocked[a][b] = ((mask >> a) & 1) != ((mask >> b) & 1);
            else /* random one-way links */
                s->blocked[a][b] = sim_chance(&s->rng, 300000);
        }
    }
    trace(s, TR_PARTITION, kind == 0 ? victim : 0, s->partition_gen, kind, mask, 0, 0);
    schedule(s, sim_rand_range(&s->rng, 50000, 2000000), SIM_EV_HEAL, 0, s->partition_gen, NULL);
}

static void change_membership(struct sim *s)
{
    struct node *l = find_leader(s);

    if (!l)
        return;
    const struct mon_raft_membership *m = mon_raft_membership(l->r);
    uint64_t id = sim_rand_range(&s->rng, 1, s->n_nodes);
    enum mon_raft_conf_op op = MON_RAFT_CONF_ADD_VOTER;
    if (mon_raft_membership_has(m, id)) {
        if (m->n_voters <= 2 || id == l->id)
            return;
        op = MON_RAFT_CONF_REMOVE_VOTER;
    }
    int rc = mon_raft_propose_conf(l->r, op, id);
    trace(s, TR_CONF, l->id, op, id, (uint64_t)(int64_t)rc, 0, 0);
    s->confs += rc == 0;
    drain(s, l);
}

static void transfer(struct sim *s)
{
    struct node *l = find_leader(s);

    if (!l)
        return;
    const struct mon_raft_membership *m = mon_raft_membership(l->r);
    uint64_t to = m->voters[sim_rand(&s->rng) % m->n_voters];
    if (to == l->id)
        return;
    int rc = mon_raft_transfer_leader(l->r, to);
    trace(s, TR_TRANSFER, l->id, to, (uint64_t)(int64_t)rc, 0, 0, 0);
    s->transfers_done += rc == 0;
    drain(s, l);
}

static void inject_fault(struct sim *s)
{
    struct node *n;

    switch (sim_rand(&s->rng) % 8) {
    case 0:
    case 1:
        /* Leaders are the interesting victims: half the crashes hit one. */
        n = sim_rand(&s->rng) % 2 ? find_leader(s) : NULL;
        n = n ? n : random_up_node(s);
        if (n)
            node_crash(s, n, false);
        break;
    case 2:
    case 3:
        partition(s);
        break;
    case 4:
        if (s->conf_changes)
            change_membership(s);
        break;
    case 5:
        if (s->transfers)
            transfer(s);
        break;
    default:
        break;
    }
}

/* ---- the event loop ---------------------------------------------------- */

static void deliver(struct sim *s, struct sim_msg *sm)
{
    const struct mon_raft_msg *m = &sm->m;
    struct node *n = &s->nodes[m->to];
    uint64_t v4 = ((uint64_t)m->n_entries << 1) | m->reject;

    if (!n->up || s->blocked[m->from][m->to]) {
        trace(s, TR_DROP, m->to, m->type, m->from, m->term, m->index, v4);
        return;
    }
    trace(s, TR_DELIVER, m->to, m->type, m->from, m->term, m->index, v4);
    int rc = mon_raft_step(n->r, m);
    /* Every message here came from a correct core, so nothing may be refused. */
    if (rc != 0) {
        char what[96];
        snprintf(what, sizeof(what), "mon_raft_step refused a %s from n%" PRIu64 ": %s",
                 mon_raft_msg_type_name(m->type), m->from, strerror(-rc));
        fail(s, what);
        return;
    }
    drain(s, n);
}

static void dispatch(struct sim *s, struct sim_event *ev)
{
    struct node *n = ev->node ? &s->nodes[ev->node] : NULL;

    switch (ev->kind) {
    case SIM_EV_DELIVER:
        deliver(s, ev->msg);
        sim_msg_free(ev->msg);
        break;
    case SIM_EV_TICK:
        if (!n->up)
            break; /* a restart schedules new ticks */
        mon_raft_tick(n->r);
        drain(s, n);
        schedule(s, TICK_US, SIM_EV_TICK, n->id, 0, NULL);
        break;
    case SIM_EV_CLIENT:
        client_propose(s);
        schedule(s, sim_rand_range(&s->rng, 2000, 60000), SIM_EV_CLIENT, 0, 0, NULL);
        break;
    case SIM_EV_FAULT:
        if (s->healed)
            break;
        inject_fault(s);
        schedule(s, sim_rand_range(&s->rng, 20000, 250000), SIM_EV_FAULT, 0, 0, NULL);
        break;
    case SIM_EV_RESTART:
        if (!n->up)
            node_start(s, n);
        break;
    case SIM_EV_HEAL:
        if (ev->arg == s->partition_gen) {
            memset(s->blocked, 0, sizeof(s->blocked));
            trace(s, TR_HEAL, 0, ev->arg, 0, 0, 0, 0);
        }
        break;
    }
}

/* After every step: each core's own invariants, then the global ones. */
static void check_nodes(struct sim *s)
{
    for (uint32_t i = 1; i <= s->n_nodes && !s->failed; i++) {
        struct node *n = &s->nodes[i];
        const char *why;
        if (!n->up)
            continue;
        if (mon_raft_check(n->r, &why) != 0) {
            fail(s, why);
            return;
        }
        if (mon_raft_role(n->r) != MON_RAFT_LEADER)
            continue;
        check(s, sim_check_leader(&s->chk, n->id, mon_raft_term(n->r)));
        check(s, sim_check_commits(&s->chk, n->r));
    }
}

/* End of the fault phase: every node up, every link healthy. */
static void heal_all(struct sim *s)
{
    s->healed = true;
    s->heal_time = s->now;
    memset(s->blocked, 0, sizeof(s->blocked));
    s->p_drop = s->p_dup = s->p_crash_mid_ready = 0;
    s->p_slow /= 4;
    trace(s, TR_HEAL, 0, 0, 0, 0, 0, 0);
    for (uint32_t i = 1; i <= s->n_nodes && !s->failed; i++)
        if (!s->nodes[i].up)
            node_start(s, &s->nodes[i]);
}

/* Liveness: a leader exists, a proposal made after the heal committed, and
 * every voter of the leader's configuration applied it. */
static bool is_live(struct sim *s)
{
    struct node *l = find_leader(s);

    if (!l || s->marker_index == 0)
        return false;
    const struct mon_raft_membership *m = mon_raft_membership(l->r);
    for (uint32_t i = 0; i < m->n_voters; i++) {
        struct node *n = &s->nodes[m->voters[i]];
        if (!n->up || n->sm_applied < s->marker_index)
            return false;
    }
    return true;
}

static uint32_t pick(struct sim *s, const uint32_t *choices, size_t n)
{
    return choices[sim_rand(&s->rng) % n];
}

static void sim_setup(struct sim *s, const struct sim_opts *o, uint64_t seed)
{
    uint64_t voters[SIM_MAX_NODES];

    memset(s, 0, sizeof(*s));
    s->o = o;
    s->seed = seed;
    s->rng = seed * 0x2545f4914f6cdd1dull + 1;
    s->p_drop = (uint32_t)sim_rand_range(&s->rng, 0, 150000);
    s->p_dup = (uint32_t)sim_rand_range(&s->rng, 0, 50000);
    s->p_slow = (uint32_t)sim_rand_range(&s->rng, 0, 100000);
    s->p_crash_mid_ready = (uint32_t)sim_rand_range(&s->rng, 0, 2000);
    mon_raft_config_default(&s->base, 1);
    s->base.heartbeat_ticks = (uint32_t)sim_rand_range(&s->rng, 1, 3);
    s->base.pre_vote = sim_rand(&s->rng) % 8 != 0;
    s->base.check_quorum = sim_rand(&s->rng) % 8 != 0;
    /* Small windows split a new leader's catch-up into many messages, which
     * opens the Figure 8 (§5.4.2) window, so they are drawn often. */
    s->base.max_msg_entries = pick(s, (const uint32_t[]){1, 1, 2, 4, 16}, 5);
    s->base.max_msg_bytes = sim_rand_range(&s->rng, 64, 2048);
    s->base.max_inflight = pick(s, (const uint32_t[]){1, 1, 2, 8, 64}, 5);
    /* Without pre-vote or the lease a removed server disrupts forever
     * (thesis §4.2.3), which the liveness check would rightly flag. */
    s->conf_changes = (s->base.pre_vote || s->base.check_quorum) && sim_rand(&s->rng) % 3 == 0;
    s->transfers = sim_rand(&s->rng) % 2 == 0;
    s->compact_every = sim_rand_range(&s->rng, 2, 40);
    s->n_nodes = o->nodes + (s->conf_changes ? 1 : 0);
    for (uint32_t i = 0; i < o->nodes; i++)
        voters[i] = i + 1;
    sim_queue_init(&s->q);
    sim_check_init(&s->chk);
    for (uint32_t i = 1; i <= s->n_nodes; i++) {
        s->nodes[i].id = i;
        sim_disk_init(&s->nodes[i].disk, voters, i <= o->nodes ? o->nodes : 0);
    }
    sim_check_bootstrap(&s->chk, sim_disk_entry(&s->nodes[1].disk, 1));
    for (uint32_t i = 1; i <= s->n_nodes && !s->failed; i++)
        node_start(s, &s->nodes[i]);
    schedule(s, sim_rand_range(&s->rng, 0, 50000), SIM_EV_CLIENT, 0, 0, NULL);
    schedule(s, sim_rand_range(&s->rng, 0, 250000), SIM_EV_FAULT, 0, 0, NULL);
}

static void sim_teardown(struct sim *s)
{
    for (uint32_t i = 1; i <= s->n_nodes; i++) {
        mon_raft_destroy(s->nodes[i].r);
        sim_disk_fini(&s->nodes[i].disk);
    }
    sim_queue_fini(&s->q);
    sim_check_fini(&s->chk);
}

struct totals {
    uint64_t seeds, steps, commits, elections, crashes, confs, transfers;
    uint64_t restores, truncations, quorum_lost;
};

static int run_seed(const struct sim_opts *o, uint64_t seed, struct totals *t)
{
    struct sim *s = malloc(sizeof(*s));
    struct sim_event ev;

    CAIRN_ASSERT(s != NULL);
    g_sim = s;
    sim_setup(s, o, seed);
    while (!s->failed) {
        if (!s->healed && s->step >= o->steps)
            heal_all(s);
        if (s->healed && is_live(s))
            break;
        if (!sim_queue_pop(&s->q, &ev)) {
            fail(s, "event queue ran dry");
            break;
        }
        s->now = ev.time_us;
        s->step++;
        if (s->healed && s->now > s->heal_time + HEAL_DEADLINE_US) {
            sim_msg_free(ev.msg);
            fail(s, "liveness: no progress 30 s after the network healed");
            break;
        }
        dispatch(s, &ev);
        if (!s->failed)
            check_nodes(s);
    }
    if (o->verbose)
        printf("seed=%" PRIu64 " %s steps=%" PRIu64 " commits=%zu elections=%" PRIu64
               " crashes=%" PRIu64 " confs=%" PRIu64 " transfers=%" PRIu64 " msgs=%" PRIu64 "\n",
               seed, s->failed ? "FAIL" : "ok", s->step, s->chk.n_commits, s->elections, s->crashes,
               s->confs, s->transfers_done, s->msgs);
    t->seeds++;
    t->steps += s->step;
    t->commits += s->chk.n_commits;
    t->elections += s->elections;
    t->crashes += s->crashes;
    t->confs += s->confs;
    t->transfers += s->transfers_done;
    t->restores += s->restores;
    t->truncations += s->truncations;
    t->quorum_lost += s->quorum_lost;
    int rc = s->failed ? 1 : 0;
    sim_teardown(s);
    g_sim = NULL;
    free(s);
    return rc;
}

static double wall_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: raft_sim [--seed N | --seeds K [--first N] | --soak --seconds S]\n"
                    "                [--nodes 3|5] [--steps N] [-v]\n");
    exit(2);
}

static void parse(int argc, char **argv, struct sim_opts *o)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'},
        {"seeds", required_argument, NULL, 'k'},
        {"first", required_argument, NULL, 'f'},
        {"nodes", required_argument, NULL, 'n'},
        {"steps", required_argument, NULL, 't'},
        {"soak", no_argument, NULL, 'S'},
        {"seconds", required_argument, NULL, 'T'},
        {"verbose", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    const char *env = getenv("CAIRN_SEED");
    int c;

    *o = (struct sim_opts){.seeds = 1, .nodes = 3, .steps = 40000, .seconds = 60};
    o->first = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
    while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->first = strtoull(optarg, NULL, 0);
            o->seeds = 1;
            break;
        case 'k':
            o->seeds = strtoull(optarg, NULL, 0);
            break;
        case 'f':
            o->first = strtoull(optarg, NULL, 0);
            break;
        case 'n':
            o->nodes = (uint32_t)atoi(optarg);
            break;
        case 't':
            o->steps = strtoull(optarg, NULL, 0);
            break;
        case 'S':
            o->soak = true;
            break;
        case 'T':
            o->seconds = atof(optarg);
            break;
        case 'v':
            o->verbose = true;
            break;
        default:
            usage();
        }
    }
    if (optind != argc || o->nodes < 1 || o->nodes > SIM_MAX_NODES - 1 || o->seeds == 0)
        usage();
}

int main(int argc, char **argv)
{
    struct sim_opts o;
    struct totals t = {0};
    double start = wall_seconds();

    parse(argc, argv, &o);
    signal(SIGABRT, on_abort);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("seed=%" PRIu64 " seeds=%s%" PRIu64 " nodes=%u steps=%" PRIu64 "\n", o.first,
           o.soak ? "soak:" : "", o.soak ? (uint64_t)o.seconds : o.seeds, o.nodes, o.steps);
    for (uint64_t i = 0;; i++) {
        if (o.soak ? wall_seconds() - start >= o.seconds : i >= o.seeds)
            break;
        if (run_seed(&o, o.first + i, &t) != 0)
            return 1;
    }
    printf("ok: %" PRIu64 " seeds, %" PRIu64 " steps, %" PRIu64 " commits, %" PRIu64
           " elections, %" PRIu64 " crashes, %" PRIu64 " config changes, %" PRIu64
           " transfers, %" PRIu64 " snapshot installs, %" PRIu64 " truncations, %" PRIu64
           " check-quorum step-downs, %.1fs\n",
           t.seeds, t.steps, t.commits, t.elections, t.crashes, t.confs, t.transfers, t.restores,
           t.truncations, t.quorum_lost, wall_seconds() - start);
    return 0;
}

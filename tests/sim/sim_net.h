/* Simulator plumbing: a seeded PRNG, the single event queue ordered by
 * (time, seq), and self-contained copies of Raft messages in flight (the
 * network owns them; the sending core's ready buffers are gone by the time
 * they are delivered). Single-threaded; used by raft_sim.c. */
#ifndef CAIRN_TESTS_SIM_SIM_NET_H
#define CAIRN_TESTS_SIM_SIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/core/raft.h"

/* splitmix64; every random choice of a run flows from one seed. */
uint64_t sim_rand(uint64_t *state);
/* Uniform in [lo, hi]. */
uint64_t sim_rand_range(uint64_t *state, uint64_t lo, uint64_t hi);
/* True with probability @per_million / 1e6. */
bool sim_chance(uint64_t *state, uint32_t per_million);

/* A message with its entries, their data and its snapshot in one block. */
struct sim_msg {
    struct mon_raft_msg m;
    struct mon_raft_snapshot snap;
};

struct sim_msg *sim_msg_copy(const struct mon_raft_msg *m);
void sim_msg_free(struct sim_msg *sm);

enum sim_event_kind {
    SIM_EV_DELIVER = 1, /* msg to msg->m.to */
    SIM_EV_TICK,        /* node */
    SIM_EV_CLIENT,      /* a client proposal */
    SIM_EV_FAULT,       /* pick and inject a fault */
    SIM_EV_RESTART,     /* node */
    SIM_EV_HEAL,        /* end one partition */
};

struct sim_event {
    uint64_t time_us;
    uint64_t seq; /* tie-breaker: insertion order */
    enum sim_event_kind kind;
    uint64_t node;
    uint64_t arg; /* kind specific (partition generation for HEAL) */
    struct sim_msg *msg;
};

/* A binary min-heap of events by (time_us, seq). */
struct sim_queue {
    struct sim_event *ev;
    size_t n, cap;
    uint64_t next_seq;
};

void sim_queue_init(struct sim_queue *q);
/* Frees the queue and any messages still in it. */
void sim_queue_fini(struct sim_queue *q);
void sim_queue_push(struct sim_queue *q, struct sim_event ev);
bool sim_queue_pop(struct sim_queue *q, struct sim_event *out);

#endif

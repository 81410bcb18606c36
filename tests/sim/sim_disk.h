/* A node's durable state in the simulator and the scenario tests: what the
 * driver persisted, and nothing else, survives a simulated crash. Implements
 * steps 2-4 of the driver contract in monitor/core/raft.h exactly as the
 * real driver does (one synced write per ready). Single-threaded. */
#ifndef CAIRN_TESTS_SIM_SIM_DISK_H
#define CAIRN_TESTS_SIM_SIM_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "monitor/core/raft.h"

struct sim_disk {
    struct mon_raft_hard_state hs;
    struct mon_raft_snapshot snap; /* data owned */
    struct mon_raft_entry *ents;   /* entries after snap.index; each data owned */
    size_t n, cap;
    uint64_t writes; /* synced writes, for statistics */
};

/* An empty disk (a node waiting to be added), or with @n_voters > 0 the
 * persisted state of an initial member listing @voters (mon_raft_bootstrap). */
void sim_disk_init(struct sim_disk *d, const uint64_t *voters, uint32_t n_voters);
void sim_disk_fini(struct sim_disk *d);

/* Persists a ready: snapshot (dropping the whole log), the suffix of entries
 * (replacing persisted entries from rd->entries[0].index on), hard state. */
void sim_disk_save_ready(struct sim_disk *d, const struct mon_raft_ready *rd);

/* Persists the driver's own compaction: @snap replaces the snapshot and the
 * entries it covers are dropped. */
void sim_disk_save_snapshot(struct sim_disk *d, const struct mon_raft_snapshot *snap);

/* Creates a core from the disk, as a restarting driver does. */
int sim_disk_open(const struct sim_disk *d, const struct mon_raft_config *cfg,
                  struct mon_raft **out);

/* The persisted entry at @index, or NULL. */
const struct mon_raft_entry *sim_disk_entry(const struct sim_disk *d, uint64_t index);

#endif

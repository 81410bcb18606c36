/* The monitor's persistent Raft state in RocksDB: its identity, the hard
 * state (term, vote, commit), the log entries after the snapshot, and the
 * snapshot itself (metadata plus the serialized cluster state). Every write
 * is one synced WriteBatch, so a crash leaves either all of it or none.
 * Used by the monitor driver (daemon.c) on its loop thread; RocksDB types
 * never leave log_store.c.
 *
 * Keys and records (integers little-endian; every record ends with a crc32c
 * of its key and body, checked on load: a mismatch is -EBADMSG):
 *   "i"                 identity: version, node id, name, fsid, flags
 *   "h"                 hard state: term, vote, commit
 *   "s"                 snapshot metadata: index, term, voters, data length and crc
 *   "S"                 snapshot data (raw; its crc lives in "s")
 *   "e" + u64 BE index  one entry: term, type, data
 * Big-endian indexes make RocksDB's byte order the log order.
 *
 * Invariants after every successful write (checked on load):
 *   1. Entries are contiguous from snapshot index + 1 (no gaps, no entry at
 *      or below the snapshot index).
 *   2. The snapshot record and its data are written in the same batch.
 * A failed write leaves the store refusing further writes (-EIO) until it is
 * reopened: memory and disk may disagree (STYLE §4, sticky errors). */
#ifndef CAIRN_MONITOR_LOG_STORE_H
#define CAIRN_MONITOR_LOG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/core/raft.h"

#define MON_LOG_NAME_MAX 64u

struct mon_log_store;

/* Who this store belongs to; written once by mkfs. */
struct mon_log_ident {
    uint64_t id;                   /* Raft node id (daemon.c: derived from the name) */
    char name[MON_LOG_NAME_MAX];   /* monitor name, "a" for mon.a */
    uint8_t fsid[16];              /* the cluster's fsid */
    bool joined;                   /* created by --mkfs --join: state comes from the leader */
};

/* Everything load() found; owned by the struct, freed by mon_log_state_fini(). */
struct mon_log_state {
    struct mon_log_ident ident;
    struct mon_raft_hard_state hs;       /* zero when never written */
    bool has_snapshot;
    struct mon_raft_snapshot snap;       /* data malloc'd (NULL when len is 0) */
    struct mon_raft_entry *entries;      /* each entry's data malloc'd */
    size_t n_entries;
};

/* Opens the store in directory @dir. With @create the directory must not
 * hold a store yet (-EEXIST); without it the store must exist (-ENOENT).
 * -EBUSY when another process (or handle) has it open. Other failures:
 * -EIO (logged), -ENOMEM. */
int mon_log_store_open(const char *dir, bool create, struct mon_log_store **out);
void mon_log_store_close(struct mon_log_store *s);

/* Writes the identity and, when @snap is not NULL, the initial snapshot
 * (mkfs). One synced batch. 0, -EIO, -ENOMEM. */
int mon_log_store_init(struct mon_log_store *s, const struct mon_log_ident *ident,
                       const struct mon_raft_snapshot *snap);

/* Reads everything back (at start-up). 0, -EBADMSG (a record fails its crc
 * or does not parse, the identity is missing, or the entries break inv. 1;
 * logged with the key), -EIO, -ENOMEM. On failure @st is zeroed. */
int mon_log_store_load(struct mon_log_store *s, struct mon_log_state *st);
void mon_log_state_fini(struct mon_log_state *st);

/* Persists steps 2-4 of the Raft driver contract (raft.h) for @rd in one
 * synced batch: a received snapshot replaces the stored one and drops every
 * entry; entries replace the stored suffix from rd->entries[0].index on; the
 * hard state is overwritten. Borrows @rd for the call. 0, -EINVAL (entries
 * that would leave a gap), -EIO (sticky), -ENOMEM. */
int mon_log_store_save_ready(struct mon_log_store *s, const struct mon_raft_ready *rd);

/* Compaction (Raft §7): stores @snap (taken by mon_raft_compact at its
 * index) and deletes the entries up to its index, in one synced batch.
 * 0, -EINVAL (@snap not past the stored one), -EIO (sticky), -ENOMEM. */
int mon_log_store_save_snapshot(struct mon_log_store *s, const struct mon_raft_snapshot *snap);

/* Bounds of the stored log: the snapshot index and the last entry index
 * (equal when no entry follows the snapshot). */
void mon_log_store_bounds(const struct mon_log_store *s, uint64_t *snap_index,
                          uint64_t *last_index);

#endif

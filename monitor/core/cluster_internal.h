/* Private declarations of the cluster state machine (monitor/core/cluster.h),
 * shared by cluster.c (commands) and cluster_snapshot.c (serialization).
 * Kept apart from internal.h, which belongs to the Raft core. */
#ifndef CAIRN_MONITOR_CORE_CLUSTER_INTERNAL_H
#define CAIRN_MONITOR_CORE_CLUSTER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/core/cluster.h"

#define MON_CONFIG_KEY_MAX PROTO_MON_NAME_MAX    /* incl. NUL */
#define MON_CONFIG_VALUE_MAX PROTO_MON_VALUE_MAX /* incl. NUL */

struct mon__key_entry {
    char entity[PROTO_ENTITY_MAX]; /* first: the table's sort key */
    uint8_t key[PROTO_KEY_LEN];
};

struct mon__config_entry {
    char key[MON_CONFIG_KEY_MAX]; /* first: the table's sort key */
    char value[MON_CONFIG_VALUE_MAX];
};

/* An array of fixed-size items sorted by the NUL-terminated name each item
 * starts with (strcmp order), so iteration, snapshots and listings are in
 * one order on every monitor. Owns its memory. */
struct mon__table {
    uint8_t *items; /* n items of item_size bytes, strictly ascending names */
    uint32_t n;
    uint32_t cap; /* items allocated */
    size_t item_size;
};

/* The replicated state. Invariants (mon__cluster_verify):
 *   1. uuids[i] is non-zero exactly when osd.i exists in the map, and no two
 *      existing OSDs share a uuid.
 *   2. next_pool_id is greater than every pool id in the map.
 *   3. keys and config are strictly ascending, with valid names. */
struct mon_cluster {
    struct proto_map *map;
    uint8_t (*uuids)[16];     /* PROTO_MAP_MAX_OSDS entries, by OSD id */
    int32_t next_pool_id;     /* never reused: starts at 1 */
    struct mon__table keys;   /* struct mon__key_entry */
    struct mon__table config; /* struct mon__config_entry */
};

/* ---- cluster.c ---------------------------------------------------------- */

void mon__table_init(struct mon__table *t, size_t item_size);
void mon__table_fini(struct mon__table *t);
/* Item @i; @i < t->n. */
void *mon__table_at(const struct mon__table *t, uint32_t i);
/* Index of @name, or of where it would be inserted; *@found says which. */
uint32_t mon__table_find(const struct mon__table *t, const char *name, bool *found);
/* Room for @n items in total. 0 or -ENOMEM (table unchanged). */
int mon__table_reserve(struct mon__table *t, uint32_t n);
/* Inserts a zeroed item at @i (room reserved) and returns it. */
void *mon__table_insert(struct mon__table *t, uint32_t i);
void mon__table_remove(struct mon__table *t, uint32_t i);

bool mon__config_key_is_valid(const char *key);
bool mon__config_value_is_valid(const char *value);
bool mon__uuid_is_zero(const uint8_t uuid[16]);
/* Whether two existing OSDs share a uuid (inv. 1), by sorting a copy:
 * 0 (all distinct), -EINVAL (a duplicate), -ENOMEM. */
int mon__uuids_check_unique(const struct mon_cluster *c);
/* Asserts the invariants above; a no-op unless CAIRN_DEBUG. */
void mon__cluster_verify(const struct mon_cluster *c);

#endif

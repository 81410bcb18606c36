/* Placement (DESIGN.md §2): object name -> placement group -> ordered OSD
 * list. A pure function of the cluster map, computed identically by every
 * client and daemon; no I/O, no allocation.
 *
 *   PG      = stable_mod(xxHash64(name, seed = pool id), pg_num)
 *   OSDs    = weighted rendezvous (straw2): every candidate draws
 *             ln(u) / weight with u = hash(pool, pg, candidate) in (0, 1];
 *             candidates ranked by draw, largest first. With failure domain
 *             "host", hosts are ranked first (host weight = the sum of its
 *             in OSDs' weights) and each chosen host contributes the winner
 *             of a draw among its own OSDs, so replicas land on distinct hosts.
 *
 * Ranking by ln(u)/w is weighted sampling without replacement, which gives
 * the properties tested in tests/unit/placement: deterministic; adding one OSD
 * moves about its weight share of PGs and nothing else; weights respected; an
 * OSD that leaves moves only the PGs it was in.
 *
 * The "raw" set considers OSDs that exist, are in, and have weight > 0;
 * the "up" set is the raw set without the down OSDs (order kept); its first
 * entry is the PG's primary. A down OSD therefore only degrades its PGs; when
 * it is marked out, placement moves its PGs elsewhere. */
#ifndef CAIRN_PROTOCOL_PLACEMENT_H
#define CAIRN_PROTOCOL_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/map.h"

#define PROTO_PLACE_MAX_REPLICAS 16u

/* The PG of object @name (@len bytes) in @pool. */
uint32_t proto_place_pg(const struct proto_map_pool *pool, const void *name, size_t len);

/* The ordered raw set of PG @pg of @pool: up to pool->size OSD ids, written
 * to @out (room for @max). Returns how many (fewer than size when the map
 * has too few OSDs or failure domains). */
unsigned proto_place_raw(const struct proto_map *map, const struct proto_map_pool *pool,
                         uint32_t pg, int32_t *out, unsigned max);
/* The up set: the raw set without down OSDs. Returns how many; out[0] is
 * the primary (when the return is > 0). */
unsigned proto_place_up(const struct proto_map *map, const struct proto_map_pool *pool,
                        uint32_t pg, int32_t *out, unsigned max);

/* Ceph's stable modulo: x mod b such that growing b moves few values.
 * @mask is the next power of two of b, minus one. */
static inline uint32_t proto_stable_mod(uint32_t x, uint32_t b, uint32_t mask)
{
    return (x & mask) < b ? (x & mask) : (x & (mask >> 1));
}

#endif

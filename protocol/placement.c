/* Weighted rendezvous placement; see placement.h. Floating point here uses
 * only IEEE basic operations (the logarithm is computed by a fixed series,
 * not libm, and the build disables FMA contraction: -ffp-contract=off) so that
 * every machine computes bit-identical draws. */
#include "protocol/placement.h"
#include "common/assert.h"

#include <math.h>
#include <string.h>
#include <xxhash.h>


#define DRAW_NONE (-INFINITY)

/* Natural logarithm of x in (0, 1], deterministic across machines:
 * x = m * 2^e with m in [0.5, 1); ln m = 2 atanh(s), s = (m - 1) / (m + 1). */
static double det_ln(double x)
{
    int e;
    double m = frexp(x, &e); /* exact */
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s, term = s, sum = 0.0;
    for (int k = 1; k <= 29; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return 2.0 * sum + e * 0.69314718055994530942;
}

static uint64_t draw_hash(int32_t pool, uint32_t pg, uint32_t kind, int64_t item)
{
    uint64_t in[3] = {((uint64_t)(uint32_t)pool << 32) | pg, kind, (uint64_t)item};
    return XXH64(in, sizeof(in), 0x63616972ull /* "cair" */);
}

/* ln(u) / weight with u in (0, 1]; larger is better. */
static double straw2(uint64_t h, double weight)
{
    double u = ((double)(h >> 11) + 1.0) * (1.0 / 9007199254740992.0); /* 2^-53 */
    return det_ln(u) / weight;
}

uint32_t proto_place_pg(const struct proto_map_pool *pool, const void *name, size_t len)
{
    uint64_t h = XXH64(name, len, (uint64_t)(uint32_t)pool->id);
    uint32_t x = (uint32_t)(h ^ (h >> 32));
    uint32_t mask = 1;
    while (mask < pool->pg_num)
        mask <<= 1;
    return proto_stable_mod(x, pool->pg_num, mask - 1);
}

static bool osd_is_candidate(const struct proto_map_osd *o)
{
    return o->exists && o->in && o->weight > 0;
}

/* Inserts @id with draw @d into the top-@want list (@best, @out, *@n
 * entries), kept ordered by draw, largest first; drops what falls off. */
static void rank_insert(double *best, int32_t *out, unsigned *n, unsigned want, double d,
                        int32_t id)
{
    unsigned pos = *n < want ? *n : want;
    while (pos > 0 && best[pos - 1] < d)
        pos--;
    if (pos >= want)
        return;
    unsigned last = *n < want ? *n : want - 1;
    memmove(&best[pos + 1], &best[pos], (last - pos) * sizeof(best[0]));
    memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof(out[0]));
    best[pos] = d;
    out[pos] = id;
    if (*n < want)
        (*n)++;
}

/* Ranked choice of distinct OSDs (failure domain "osd"). */
static unsigned choose_osds(const struct proto_map *map, const struct proto_map_pool *pool,
                            uint32_t pg, int32_t *out, unsigned want)
{
    double best[PROTO_PLACE_MAX_REPLICAS];
    unsigned n = 0;
    for (uint32_t i = 0; i < map->n_osds; i++) {
        const struct proto_map_osd *o = &map->osds[i];
        if (!osd_is_candidate(o))
            continue;
        rank_insert(best, out, &n, want, straw2(draw_hash(pool->id, pg, 0, o->id), o->weight),
                    o->id);
    }
    return n;
}

static uint64_t host_key(const char *host)
{
    return XXH64(host, strlen(host), 0x686f7374ull /* "host" */);
}

/* The winner among @host's candidate OSDs, and the host's total weight. */
static int32_t host_winner(const struct proto_map *map, const struct proto_map_pool *pool,
                           uint32_t pg, const char *host, double *host_weight)
{
    int32_t winner = -1;
    double best = DRAW_NONE, total = 0;
    for (uint32_t i = 0; i < map->n_osds; i++) {
        const struct proto_map_osd *o = &map->osds[i];
        if (!osd_is_candidate(o) || strcmp(o->host, host) != 0)
            continue;
        total += o->weight;
        double d = straw2(draw_hash(pool->id, pg, 1, o->id), o->weight);
        if (winner < 0 || d > best) {
            best = d;
            winner = o->id;
        }
    }
    *host_weight = total;
    return winner;
}

static bool host_seen_before(const struct proto_map *map, uint32_t idx)
{
    for (uint32_t j = 0; j < idx; j++)
        if (osd_is_candidate(&map->osds[j]) &&
            strcmp(map->osds[j].host, map->osds[idx].host) == 0)
            return true;
    return false;
}

/* Ranked choice of distinct hosts, one OSD from each. */
static unsigned choose_hosts(const struct proto_map *map, const struct proto_map_pool *pool,
                             uint32_t pg, int32_t *out, unsigned want)
{
    double best[PROTO_PLACE_MAX_REPLICAS];
    unsigned n = 0;
    for (uint32_t i = 0; i < map->n_osds; i++) {
        const struct proto_map_osd *o = &map->osds[i];
        if (!osd_is_candidate(o) || host_seen_before(map, i))
            continue;
        double weight;
        int32_t winner = host_winner(map, pool, pg, o->host, &weight);
        double d = straw2(draw_hash(pool->id, pg, 2, (int64_t)host_key(o->host)), weight);
        rank_insert(best, out, &n, want, d, winner);
    }
    return n;
}

unsigned proto_place_raw(const struct proto_map *map, const struct proto_map_pool *pool,
                         uint32_t pg, int32_t *out, unsigned max)
{
    unsigned want = pool->size;
    if (want > max)
        want = max;
    if (want > PROTO_PLACE_MAX_REPLICAS)
        want = PROTO_PLACE_MAX_REPLICAS;
    if (want == 0)
        return 0;
    if (pool->failure_domain == PROTO_FD_HOST)
        return choose_hosts(map, pool, pg, out, want);
    return choose_osds(map, pool, pg, out, want);
}

unsigned proto_place_up(const struct proto_map *map, const struct proto_map_pool *pool,
                        uint32_t pg, int32_t *out, unsigned max)
{
    int32_t raw[PROTO_PLACE_MAX_REPLICAS];
    unsigned n = proto_place_raw(map, pool, pg, raw, PROTO_PLACE_MAX_REPLICAS);
    unsigned k = 0;
    for (unsigned i = 0; i < n && k < max; i++)
        if (map->osds[raw[i]].up)
            out[k++] = raw[i];
    return k;
}

/* Every PG of the map with its state, for `cairn status`, `cairn pg ls` and
 * `cairn health` (docs/cli.md "PG states"): a pure function of the cluster
 * map and the leader monitor's PG stats, unit-tested on its own
 * (tests/unit/cli/test_pgview.c).
 *
 * With stats (from_osds), a PG's state is what its primary reported, with
 * two rules from the map on top: a PG with no OSD up is "inactive" (nobody
 * could report it), and a PG whose up set is smaller than its pool's size
 * is undersized and degraded, never clean, since reports lag the map by up
 * to a beacon interval. A PG without a report is "unknown". Without stats
 * (no leader, an older monitor), states come from the map alone, as
 * before: "active+clean", "active+degraded" or "inactive". */
#include "protocol/placement.h"
#include "tools/cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_pg_state_str(uint32_t state, bool unknown, char *buf, size_t len)
{
    if (unknown) {
        snprintf(buf, len, "unknown");
        return buf;
    }
    return proto_pg_state_format(state, buf, len);
}

void cli_pgid_format(int32_t pool, uint32_t ps, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRId32 ".%" PRIx32, pool, ps);
}

/* The digits at @s in @base (10 or 16), at least one, into *@v; -EINVAL
 * when there are none or the value passes @max. *@end: the first non-digit. */
static int digits_parse(const char *s, unsigned base, uint64_t max, uint64_t *v, const char **end)
{
    const char *p = s;
    uint64_t n = 0;

    for (;; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            break;
        n = n * base + d;
        if (n > max)
            return -EINVAL;
    }
    if (p == s)
        return -EINVAL;
    *v = n;
    *end = p;
    return 0;
}

int cli_pgid_parse(const char *s, int32_t *pool, uint32_t *ps)
{
    uint64_t p, q;
    const char *end;

    if (digits_parse(s, 10, INT32_MAX, &p, &end) < 0 || *end != '.' ||
        digits_parse(end + 1, 16, UINT32_MAX, &q, &end) < 0 || *end)
        return -EINVAL;
    *pool = (int32_t)p;
    *ps = (uint32_t)q;
    return 0;
}

void cli_version_format(uint64_t version, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRIu64 "'%" PRIu64, version >> 32, version & 0xffffffffu);
}

/* The state from the map alone (the rules of cli_pgs_count). */
static uint32_t map_state(const struct proto_map_pool *pool, unsigned n_up)
{
    if (n_up >= pool->size)
        return PROTO_PGS_ACTIVE | PROTO_PGS_CLEAN;
    if (n_up >= pool->min_size && n_up > 0)
        return PROTO_PGS_ACTIVE | PROTO_PGS_DEGRADED;
    return 0; /* "inactive" */
}

static int count_add(struct cli_pg_view *v, uint32_t state, bool unknown)
{
    struct cli_pg_count *c;

    for (size_t i = 0; i < v->n_counts; i++) {
        if (v->counts[i].unknown == unknown && v->counts[i].state == state) {
            v->counts[i].count++;
            return 0;
        }
    }
    if (v->n_counts == v->cap_counts) {
        size_t cap = v->cap_counts ? v->cap_counts * 2 : 8;
        if (!(c = realloc(v->counts, cap * sizeof(*c))))
            return -ENOMEM;
        v->counts = c;
        v->cap_counts = cap;
    }
    v->counts[v->n_counts++] =
        (struct cli_pg_count){.state = state, .unknown = unknown, .count = 1};
    return 0;
}

/* Known states by their flags, then "inactive", then "unknown". */
static int count_cmp(const void *a, const void *b)
{
    const struct cli_pg_count *x = a, *y = b;
    uint64_t kx = x->unknown ? UINT64_MAX : x->state ? x->state : UINT64_MAX - 1;
    uint64_t ky = y->unknown ? UINT64_MAX : y->state ? y->state : UINT64_MAX - 1;

    return kx < ky ? -1 : kx > ky;
}

/* The index of @pool_id among @map's pools counted into the view, or -1. */
static long pool_base(const struct proto_map *map, const size_t *bases, int32_t pool_id,
                      uint32_t *pg_num)
{
    for (uint32_t p = 0; p < map->n_pools; p++) {
        if (map->pools[p].id == pool_id && bases[p] != SIZE_MAX) {
            *pg_num = map->pools[p].pg_num;
            return (long)bases[p];
        }
    }
    return -1;
}

/* Fills every PG of the pools selected by @pool (-1: all) from the map;
 * @bases gets each pool's first index (SIZE_MAX: not selected). */
static int fill_from_map(const struct proto_map *map, int32_t pool, size_t *bases,
                         struct cli_pg_view *v)
{
    size_t total = 0;

    for (uint32_t p = 0; p < map->n_pools; p++) {
        bases[p] = SIZE_MAX;
        if (pool < 0 || map->pools[p].id == pool) {
            bases[p] = total;
            total += map->pools[p].pg_num;
        }
    }
    if (total && !(v->pgs = calloc(total, sizeof(*v->pgs))))
        return -ENOMEM;
    v->n = total;
    for (uint32_t p = 0; p < map->n_pools; p++) {
        const struct proto_map_pool *mp = &map->pools[p];
        for (uint32_t ps = 0; bases[p] != SIZE_MAX && ps < mp->pg_num; ps++) {
            struct cli_pg *pg = &v->pgs[bases[p] + ps];
            pg->pool = mp->id;
            pg->ps = ps;
            pg->size = mp->size;
            pg->n_up = proto_place_up(map, mp, ps, pg->up, PROTO_PLACE_MAX_REPLICAS);
            pg->n_raw = proto_place_raw(map, mp, ps, pg->raw, PROTO_PLACE_MAX_REPLICAS);
            pg->state = map_state(mp, pg->n_up);
        }
    }
    return 0;
}

/* Applies the primaries' reports (the first one per PG wins). */
static void apply_stats(const struct proto_map *map, const struct proto_pg_stats *stats,
                        const size_t *bases, struct cli_pg_view *v)
{
    for (size_t i = 0; i < v->n; i++) {
        v->pgs[i].unknown = v->pgs[i].n_up > 0;
        if (v->pgs[i].unknown)
            v->pgs[i].state = 0;
    }
    for (uint32_t i = 0; i < stats->n; i++) {
        const struct proto_pg_stat *st = &stats->pgs[i];
        uint32_t pg_num = 0;
        long base = pool_base(map, bases, st->pool, &pg_num);
        if (base < 0 || st->ps >= pg_num)
            continue;
        struct cli_pg *pg = &v->pgs[(size_t)base + st->ps];
        if (pg->stat || pg->n_up == 0)
            continue;
        pg->stat = st;
        pg->unknown = false;
        pg->state = st->state;
        if (pg->n_up < pg->size)
            pg->state = (pg->state & ~PROTO_PGS_CLEAN) | PROTO_PGS_UNDERSIZED | PROTO_PGS_DEGRADED;
        v->objects_missing += st->objects_missing;
    }
    v->objects_per_s = stats->objects_per_s;
}

int cli_pg_view_build(const struct proto_map *map, const struct proto_pg_stats *stats, int32_t pool,
                      struct cli_pg_view *v)
{
    size_t *bases = calloc(map->n_pools ? map->n_pools : 1, sizeof(*bases));
    int r = -ENOMEM;

    memset(v, 0, sizeof(*v));
    if (!bases || (r = fill_from_map(map, pool, bases, v)) < 0)
        goto out;
    v->from_osds = stats != NULL;
    if (stats)
        apply_stats(map, stats, bases, v);
    for (size_t i = 0; i < v->n && r == 0; i++)
        r = count_add(v, v->pgs[i].state, v->pgs[i].unknown);
    if (r == 0 && v->n_counts)
        qsort(v->counts, v->n_counts, sizeof(*v->counts), count_cmp);
out:
    free(bases);
    if (r < 0)
        cli_pg_view_fini(v);
    return r;
}

void cli_pg_view_fini(struct cli_pg_view *v)
{
    free(v->pgs);
    free(v->counts);
    memset(v, 0, sizeof(*v));
}

uint64_t cli_pg_view_count(const struct cli_pg_view *v, uint32_t state)
{
    for (size_t i = 0; i < v->n_counts; i++)
        if (!v->counts[i].unknown && v->counts[i].state == state)
            return v->counts[i].count;
    return 0;
}

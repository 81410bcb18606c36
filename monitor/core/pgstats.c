/* The leader's PG stats (pgstats.h): one slot per OSD id, replaced by each
 * beacon that carries stats, filtered against the map when read. A slot
 * also keeps the store usage of the latest beacon that carried one.
 *
 * Invariants:
 *   1. A slot's pgs is NULL exactly when its n is 0.
 *   2. at_ms is 0 exactly for a slot that never had a report (or was
 *      cleared); such a slot counts for nothing. */
#include "monitor/core/pgstats.h"
#include "common/assert.h"
#include "protocol/placement.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    struct proto_pg_stat *pgs; /* the latest report, owned */
    uint32_t n;
    uint32_t beacon_ms; /* announced, clamped */
    uint64_t at_ms;     /* when it arrived; 0: none */
    uint64_t base_ms;   /* the rate's earlier sample: time and recovered sum */
    uint64_t base_recovered;
    double rate;    /* objects/s */
    bool has_usage; /* usage holds the latest store usage reported */
    struct proto_osd_usage usage;
};

struct mon_pgstats {
    struct slot slots[PROTO_MAP_MAX_OSDS];
};

int mon_pgstats_create(struct mon_pgstats **out)
{
    struct mon_pgstats *t = calloc(1, sizeof(*t));

    if (!t)
        return -ENOMEM;
    *out = t;
    return 0;
}

void mon_pgstats_clear(struct mon_pgstats *t)
{
    for (uint32_t i = 0; i < PROTO_MAP_MAX_OSDS; i++)
        free(t->slots[i].pgs);
    memset(t, 0, sizeof(*t));
}

void mon_pgstats_destroy(struct mon_pgstats *t)
{
    if (!t)
        return;
    mon_pgstats_clear(t);
    free(t);
}

static uint64_t recovered_sum(const struct proto_pg_stats *s)
{
    uint64_t sum = 0;

    for (uint32_t i = 0; i < s->n; i++)
        sum += s->pgs[i].objects_recovered;
    return sum;
}

static void rate_update(struct slot *sl, uint64_t sum, uint64_t now_ms)
{
    if (!sl->at_ms || sum < sl->base_recovered || now_ms < sl->base_ms) {
        sl->base_ms = now_ms;
        sl->base_recovered = sum;
        sl->rate = 0;
    } else if (now_ms - sl->base_ms >= MON_PGSTATS_RATE_WINDOW_MS) {
        sl->rate = (double)(sum - sl->base_recovered) * 1000.0 / (double)(now_ms - sl->base_ms);
        sl->base_ms = now_ms;
        sl->base_recovered = sum;
    }
}

void mon_pgstats_report(struct mon_pgstats *t, int32_t osd, struct proto_pg_stats *stats,
                        uint64_t now_ms)
{
    struct proto_pg_stat *pgs = stats->pgs;
    uint32_t n = stats->n;

    stats->pgs = NULL;
    stats->n = 0;
    if (osd < 0 || (uint32_t)osd >= PROTO_MAP_MAX_OSDS) {
        free(pgs);
        return;
    }
    struct slot *sl = &t->slots[osd];
    if (stats->has_store) {
        sl->has_usage = true;
        sl->usage = stats->store;
        sl->usage.osd = osd;
    }
    if (stats->beacon_ms == 0) {
        free(pgs);
        return;
    }
    struct proto_pg_stats view = {.n = n, .pgs = pgs};
    rate_update(sl, recovered_sum(&view), now_ms);
    free(sl->pgs);
    sl->pgs = n ? pgs : NULL;
    if (!n)
        free(pgs);
    sl->n = n;
    sl->beacon_ms = stats->beacon_ms < MON_PGSTATS_BEACON_MS_MIN   ? MON_PGSTATS_BEACON_MS_MIN
                    : stats->beacon_ms > MON_PGSTATS_BEACON_MS_MAX ? MON_PGSTATS_BEACON_MS_MAX
                                                                   : stats->beacon_ms;
    sl->at_ms = now_ms ? now_ms : 1;
    CAIRN_ASSERT((sl->pgs == NULL) == (sl->n == 0)); /* inv. 1 */
}

/* A slot whose report counts at all: fresh, from an OSD up in @map. */
static bool slot_counts(const struct slot *sl, const struct proto_map *map, int32_t osd,
                        uint64_t now_ms)
{
    const struct proto_map_osd *o;

    if (!sl->at_ms || now_ms > sl->at_ms + (uint64_t)sl->beacon_ms * MON_PGSTATS_STALE_BEACONS)
        return false;
    o = proto_map_osd(map, osd);
    return o && o->exists && o->up;
}

/* Whether @osd is the primary of @st's PG in @map. */
static bool is_primary(const struct proto_map *map, const struct proto_pg_stat *st, int32_t osd)
{
    const struct proto_map_pool *pool = proto_map_pool(map, st->pool);
    int32_t up[PROTO_PLACE_MAX_REPLICAS];

    if (!pool || st->ps >= pool->pg_num)
        return false;
    return proto_place_up(map, pool, st->ps, up, PROTO_PLACE_MAX_REPLICAS) > 0 && up[0] == osd;
}

/* The latest usage of every OSD that exists in @map, in id order, into
 * @out->usage. 0 or -ENOMEM. */
static int collect_usage(const struct mon_pgstats *t, const struct proto_map *map,
                         struct proto_pg_stats *out)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < PROTO_MAP_MAX_OSDS; i++)
        n += t->slots[i].has_usage && proto_map_osd(map, (int32_t)i);
    if (n == 0)
        return 0;
    if (!(out->usage = malloc(sizeof(*out->usage) * n)))
        return -ENOMEM;
    for (uint32_t i = 0; i < PROTO_MAP_MAX_OSDS && out->n_usage < n; i++)
        if (t->slots[i].has_usage && proto_map_osd(map, (int32_t)i))
            out->usage[out->n_usage++] = t->slots[i].usage;
    return 0;
}

int mon_pgstats_collect(const struct mon_pgstats *t, const struct proto_map *map, uint64_t now_ms,
                        struct proto_pg_stats *out)
{
    uint64_t total = 0;

    memset(out, 0, sizeof(*out));
    if (collect_usage(t, map, out) < 0)
        return -ENOMEM;
    for (uint32_t i = 0; i < PROTO_MAP_MAX_OSDS; i++)
        if (slot_counts(&t->slots[i], map, (int32_t)i, now_ms))
            total += t->slots[i].n;
    if (total > PROTO_MON_PG_STATS_MAX)
        total = PROTO_MON_PG_STATS_MAX;
    if (total && !(out->pgs = malloc(sizeof(*out->pgs) * total))) {
        proto_pg_stats_fini(out);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < PROTO_MAP_MAX_OSDS; i++) {
        const struct slot *sl = &t->slots[i];
        if (!slot_counts(sl, map, (int32_t)i, now_ms))
            continue;
        out->objects_per_s += sl->rate;
        for (uint32_t k = 0; k < sl->n && out->n < total; k++)
            if (is_primary(map, &sl->pgs[k], (int32_t)i))
                out->pgs[out->n++] = sl->pgs[k];
    }
    if (out->n == 0) {
        free(out->pgs);
        out->pgs = NULL;
    }
    return 0;
}

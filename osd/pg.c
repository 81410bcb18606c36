/* The PG table (internal.h, docs/osd.md §2): the PGs this OSD is primary
 * for under its newest map, found by computing every pool's up sets, plus
 * PGs that still have ops inside the engine after losing the role. A PG's
 * store collection is created with the first write to it; at creation of
 * the PG's state we look whether the store already has it. */
#include "osd/internal.h"
#include "osd/pgstat.h"

#include "common/log.h"
#include "protocol/placement.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void osd__pg_coll_name(int32_t pool, uint32_t ps, char *buf, size_t len)
{
    snprintf(buf, len, "%d.%x", pool, ps);
}

static uint32_t pg_bucket(int32_t pool, uint32_t ps)
{
    uint64_t h = ((uint64_t)(uint32_t)pool << 32 | ps) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 40) % OSD_PG_BUCKETS;
}

struct osd_pg *osd__pg_lookup(struct osd_engine *e, int32_t pool, uint32_t ps)
{
    struct osd_pg *pg = osd__engine_pg_buckets(e)[pg_bucket(pool, ps)];

    while (pg && (pg->pool != pool || pg->ps != ps))
        pg = pg->next;
    return pg;
}

static int noop_kv(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    (void)k, (void)kl, (void)v, (void)vl, (void)arg;
    return 1;
}

static enum osd_coll_state coll_probe(struct osd_engine *e, const char *coll)
{
    bool more;
    int r = osd_store_list(osd__engine_store(e), coll, NULL, 1, noop_kv, NULL, &more);

    return r == -ENOENT ? OSD_COLL_NONE : OSD_COLL_EXISTS;
}

struct osd_pg *osd__pg_get(struct osd_engine *e, int32_t pool, uint32_t ps)
{
    struct osd_pg *pg = osd__pg_lookup(e, pool, ps);

    if (pg)
        return pg;
    if (!(pg = calloc(1, sizeof(*pg))))
        return NULL;
    pg->pool = pool;
    pg->ps = ps;
    pg->activated_by = -1;
    osd__pg_coll_name(pool, ps, pg->coll, sizeof(pg->coll));
    pg->coll_state = coll_probe(e, pg->coll);
    osd__dup_init(&pg->dup, osd__engine_dup_max(e));
    struct osd_pg **b = &osd__engine_pg_buckets(e)[pg_bucket(pool, ps)];
    pg->next = *b;
    *b = pg;
    return pg;
}

uint64_t osd__pg_next_version(struct osd_pg *pg, uint64_t epoch)
{
    /* Versions increase per PG across restarts without a persisted counter:
     * every boot commits a new epoch, and the counter restarts with it. */
    if (pg->ver_epoch != epoch) {
        pg->ver_epoch = epoch;
        pg->ver_counter = 0;
    }
    pg->ver_counter++;
    uint64_t v = epoch << 32 | pg->ver_counter;
    /* A log adopted from a peer may already hold versions of this epoch. */
    if (pg->log_loaded && v <= pg->log.info.last_update) {
        v = pg->log.info.last_update + 1;
        pg->ver_epoch = v >> 32;
        pg->ver_counter = (uint32_t)v;
    }
    return v;
}

void (*osd__pg_drained_hook)(struct osd_pg *pg);

void osd__pg_txn_done(struct osd_pg *pg)
{
    if (pg->txns > 0)
        pg->txns--;
    if (pg->txns == 0 && (pg->deferred || pg->peering) && osd__pg_drained_hook)
        osd__pg_drained_hook(pg);
}

void osd__pg_log_diverged(struct osd_engine *e, struct osd_pg *pg)
{
    const struct osd_engine_hooks *h = osd__engine_get_hooks(e);

    cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s pg %s: a logged write failed here; peering again",
              osd__engine_entity(e), pg->coll);
    osd__pglog_free(&pg->log);
    pg->log_loaded = false;
    if (h->repeer)
        h->repeer(osd__engine_get_hooks_arg(e), pg);
}

static void pg_free(struct osd_pg *pg)
{
    osd__dup_fini(&pg->dup);
    osd__pglog_free(&pg->log);
    osd__names_clear(&pg->missing);
    free(pg->missing_have);
    free(pg);
}

/* Drops PGs that are not ours and have nothing inside the engine. Their
 * duplicate tables go with them: a PG that comes back starts afresh. */
static void pgs_prune(struct osd_engine *e)
{
    struct osd_pg **buckets = osd__engine_pg_buckets(e);

    for (uint32_t b = 0; b < OSD_PG_BUCKETS; b++) {
        for (struct osd_pg **p = &buckets[b]; *p;) {
            struct osd_pg *pg = *p;
            if (!pg->primary && !pg->member && pg->ops == 0 && pg->txns == 0 &&
                !pg->deferred && !pg->peering && !pg->acting_changed) {
                *p = pg->next;
                pg_free(pg);
            } else {
                p = &pg->next;
            }
        }
    }
}

void osd__pgs_free(struct osd_engine *e)
{
    struct osd_pg **buckets = osd__engine_pg_buckets(e);

    for (uint32_t b = 0; b < OSD_PG_BUCKETS; b++) {
        while (buckets[b]) {
            struct osd_pg *pg = buckets[b];
            buckets[b] = pg->next;
            pg_free(pg);
        }
    }
}

/* Records @pg's acting set under @map; sets pg->acting_changed when it
 * differs from the last one (members, order, or a member restarted). */
static void pg_set_acting(struct osd_pg *pg, const struct proto_map *map,
                          const struct proto_map_pool *pool, const int32_t *up, unsigned n)
{
    bool changed = n != pg->n_acting;

    for (unsigned i = 0; i < n; i++) {
        const struct proto_map_osd *o = proto_map_osd(map, up[i]);
        uint64_t up_from = o ? o->up_from : 0;
        changed |= i >= pg->n_acting || pg->acting[i] != up[i] || pg->acting_up_from[i] != up_from;
        pg->acting[i] = up[i];
        pg->acting_up_from[i] = up_from;
    }
    pg->n_acting = n;
    pg->size = pool->size;
    pg->min_size = pool->min_size;
    pg->acting_changed |= changed;
}

/* Marks every PG of @pool whose up set starts with @whoami; counts changes. */
static unsigned pool_update(struct osd_engine *e, const struct proto_map *map,
                            const struct proto_map_pool *pool, int32_t whoami, unsigned *n_primary)
{
    int32_t up[PROTO_PLACE_MAX_REPLICAS];
    unsigned changed = 0;

    for (uint32_t ps = 0; ps < pool->pg_num; ps++) {
        unsigned n = proto_place_up(map, pool, ps, up, PROTO_PLACE_MAX_REPLICAS);
        bool mine = n > 0 && up[0] == whoami;
        bool member = false;
        for (unsigned i = 0; i < n; i++)
            member |= up[i] == whoami;
        struct osd_pg *pg = member ? osd__pg_get(e, pool->id, ps) : osd__pg_lookup(e, pool->id, ps);
        if (!pg) {
            if (member)
                cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s pg %d.%x: out of memory",
                          osd__engine_entity(e), pool->id, ps);
            continue;
        }
        changed += pg->primary != mine;
        if (pg->primary != mine)
            pg->acting_changed = true;
        pg->primary = mine;
        pg->member = member;
        pg_set_acting(pg, map, pool, up, n);
        *n_primary += mine;
    }
    return changed;
}

unsigned osd__pgs_update(struct osd_engine *e, const struct proto_map *map, int32_t whoami,
                         bool active, unsigned *n_primary)
{
    struct osd_pg **buckets = osd__engine_pg_buckets(e);
    unsigned changed = 0;

    *n_primary = 0;
    if (map && active) {
        for (uint32_t i = 0; i < map->n_pools; i++)
            changed += pool_update(e, map, &map->pools[i], whoami, n_primary);
    }
    /* PGs of pools that are gone, or all of them when we are not active. */
    for (uint32_t b = 0; b < OSD_PG_BUCKETS; b++) {
        for (struct osd_pg *pg = buckets[b]; pg; pg = pg->next) {
            const struct proto_map_pool *pool = map ? proto_map_pool(map, pg->pool) : NULL;
            if (!active || !pool || pg->ps >= pool->pg_num) {
                changed += pg->primary;
                pg->acting_changed |= pg->primary;
                pg->primary = false;
                pg->member = false;
            }
        }
    }
    pgs_prune(e);
    return changed;
}

/* Objects left to copy to the PG's replicas (peering.c's business; the
 * daemon sets it, the engine-only build reports 0). */
uint64_t (*osd__pg_missing_hook)(const struct osd_pg *pg);

unsigned osd__pg_stats(struct osd_engine *e, struct osd_pg_stat *out, unsigned max)
{
    struct osd_pg **buckets = osd__engine_pg_buckets(e);
    struct osd_pg *stalest = NULL;
    unsigned n = 0;

    for (uint32_t b = 0; b < OSD_PG_BUCKETS; b++) {
        for (struct osd_pg *pg = buckets[b]; pg; pg = pg->next) {
            if (!pg->primary)
                continue;
            if (!stalest || pg->counted_at < stalest->counted_at)
                stalest = pg;
            if (n < max) {
                struct osd_pg_stat *st = &out[n];
                memset(st, 0, sizeof(*st));
                st->pool = pg->pool;
                st->ps = pg->ps;
                st->state = pg->state | pg->scrub_flags |
                            (pg->scrub_inconsistent ? OSD_PGS_INCONSISTENT : 0);
                st->epoch = osd__engine_epoch(e);
                st->last_update = pg->log.info.last_update;
                st->objects = pg->log.info.objects;
                st->objects_missing = osd__pg_missing_hook ? osd__pg_missing_hook(pg) : 0;
                st->objects_recovered = pg->objects_recovered;
                st->last_scrub_ns = pg->last_scrub_ns;
                st->last_deep_scrub_ns = pg->last_deep_scrub_ns;
                st->n_acting = pg->n_acting;
                memcpy(st->acting, pg->acting, sizeof(st->acting));
            }
            n++;
        }
    }
    /* Writes do not know whether they create an object (blind writes do
     * not look): each report recounts the PG counted longest ago, so every
     * count is at most one round of reports old. */
    if (stalest && max) {
        stalest->log.info.objects = osd__pg_count_objects(e, stalest);
        stalest->counted_at = osd__engine_next_count(e);
    }
    return n;
}

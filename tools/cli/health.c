/* The health rules of docs/cli.md and the PG states they use: a pure
 * function of the cluster map, the monitors' status and (when the leader
 * has them) the PG states the OSDs report (pgview.c), used by `cairn
 * status` and `cairn health` (status.c) and unit-tested on its own. */
#include "common/assert.h"
#include "protocol/placement.h"
#include "tools/cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_LIST_MAX 16 /* names spelled out in one reason; then "and N more" */

const char *cli_health_name(enum cli_health_level level)
{
    static const char *const names[] = {"ok", "warn", "error"};
    return names[level];
}

__attribute__((format(printf, 3, 4))) static void
add_reason(struct cli_health *h, enum cli_health_level level, const char *fmt, ...)
{
    va_list ap;

    if (level > h->level)
        h->level = level;
    if (h->n == CLI_HEALTH_MAX_REASONS)
        return;
    va_start(ap, fmt);
    vsnprintf(h->reasons[h->n++], CLI_HEALTH_REASON_MAX, fmt, ap);
    va_end(ap);
}

/* Appends "PREFIXNAME" to the comma-separated @list of @count names so far. */
static void list_add(char *list, size_t len, unsigned count, const char *prefix, const char *name)
{
    size_t off = strlen(list);

    if (count < NAME_LIST_MAX)
        snprintf(list + off, len - off, "%s%s%s", count ? ", " : "", prefix, name);
}

static void list_end(char *list, size_t len, unsigned count)
{
    size_t off = strlen(list);

    if (count > NAME_LIST_MAX)
        snprintf(list + off, len - off, " and %u more", count - NAME_LIST_MAX);
}

static bool in_quorum(const struct proto_mon_status *st, const char *name)
{
    for (uint32_t i = 0; i < st->n_quorum && i < PROTO_MAP_MAX_MONS; i++)
        if (strcmp(st->quorum[i], name) == 0)
            return true;
    return false;
}

static void health_mons(const struct proto_map *map, const struct proto_mon_status *st,
                        struct cli_health *h)
{
    char list[CLI_HEALTH_REASON_MAX / 2] = "";
    unsigned out = 0;

    if (!st->leader[0]) {
        add_reason(h, CLI_HEALTH_ERROR, "no monitor leader: the monitors have no quorum");
        return;
    }
    if (st->n_quorum < map->n_mons / 2 + 1)
        add_reason(h, CLI_HEALTH_ERROR, "quorum lost: %u of %u monitors in quorum", st->n_quorum,
                   map->n_mons);
    for (uint32_t i = 0; i < map->n_mons; i++)
        if (!in_quorum(st, map->mons[i].name))
            list_add(list, sizeof(list), out++, "mon.", map->mons[i].name);
    list_end(list, sizeof(list), out);
    if (out)
        add_reason(h, CLI_HEALTH_WARN, "%u monitor%s out of quorum: %s", out, out == 1 ? "" : "s",
                   list);
}

static void health_osds(const struct proto_map *map, struct cli_health *h)
{
    char list[CLI_HEALTH_REASON_MAX / 2] = "", id[16];
    unsigned total = 0, down = 0;

    for (uint32_t i = 0; i < map->n_osds; i++) {
        const struct proto_map_osd *o = &map->osds[i];
        if (!o->exists)
            continue;
        total++;
        if (!o->up) {
            snprintf(id, sizeof(id), "%d", o->id);
            list_add(list, sizeof(list), down++, "osd.", id);
        }
    }
    list_end(list, sizeof(list), down);
    if (total == 0)
        add_reason(h, CLI_HEALTH_WARN, "no OSDs in the cluster");
    else if (down)
        add_reason(h, CLI_HEALTH_WARN, "%u OSD%s down: %s", down, down == 1 ? "" : "s", list);
}

void cli_pgs_count(const struct proto_map *map, struct cli_pg_states *states,
                   uint32_t *osd_pgs, uint32_t *osd_primary)
{
    int32_t up[PROTO_PLACE_MAX_REPLICAS];

    memset(states, 0, sizeof(*states));
    for (uint32_t p = 0; p < map->n_pools; p++) {
        const struct proto_map_pool *pool = &map->pools[p];
        for (uint32_t pg = 0; pg < pool->pg_num; pg++) {
            unsigned n = proto_place_up(map, pool, pg, up, PROTO_PLACE_MAX_REPLICAS);
            if (n >= pool->size)
                states->clean++;
            else if (n >= pool->min_size)
                states->degraded++;
            else
                states->inactive++;
            for (unsigned i = 0; i < n && osd_pgs; i++)
                if (up[i] >= 0 && (uint32_t)up[i] < map->n_osds)
                    osd_pgs[up[i]]++;
            if (n && osd_primary && up[0] >= 0 && (uint32_t)up[0] < map->n_osds)
                osd_primary[up[0]]++;
        }
    }
}

static void health_pgs(const struct proto_map *map, struct cli_health *h)
{
    struct cli_pg_states s;

    cli_pgs_count(map, &s, NULL, NULL);
    if (s.inactive)
        add_reason(h, CLI_HEALTH_ERROR, "%llu PG%s inactive: fewer OSDs up than min_size",
                   (unsigned long long)s.inactive, s.inactive == 1 ? "" : "s");
    if (s.degraded)
        add_reason(h, CLI_HEALTH_WARN, "%llu PG%s degraded: fewer copies up than size",
                   (unsigned long long)s.degraded, s.degraded == 1 ? "" : "s");
}

/* ---- PG states the OSDs reported ---- */

#define PGID_LIST_MAX 4 /* PG ids spelled out in one reason */

/* One kind of PG problem: which PGs, and the down OSDs among their raw sets. */
struct pg_problem {
    uint64_t count;
    uint8_t down[PROTO_MAP_MAX_OSDS / 8]; /* bitmap by OSD id */
    unsigned n_down;
    char pgids[PGID_LIST_MAX * 24];       /* "1.a, 1.b" */
};

static void problem_add(struct pg_problem *pb, const struct proto_map *map, const struct cli_pg *pg)
{
    char id[24];

    if (pb->count < PGID_LIST_MAX) {
        cli_pgid_format(pg->pool, pg->ps, id, sizeof(id));
        list_add(pb->pgids, sizeof(pb->pgids), (unsigned)pb->count, "", id);
    }
    pb->count++;
    for (unsigned i = 0; i < pg->n_raw; i++) {
        int32_t o = pg->raw[i];
        const struct proto_map_osd *osd = proto_map_osd(map, o);
        if (!osd || osd->up || (pb->down[o / 8] & (1u << (o % 8))))
            continue;
        pb->down[o / 8] |= (uint8_t)(1u << (o % 8));
        pb->n_down++;
    }
}

/* ": osd.3 is down", ": osd.3, osd.5 are down", or "" when none is. */
static void down_suffix(const struct pg_problem *pb, char *buf, size_t len)
{
    char list[CLI_HEALTH_REASON_MAX / 2] = "", id[16];
    unsigned n = 0;

    buf[0] = '\0';
    if (!pb->n_down)
        return;
    for (uint32_t o = 0; o < PROTO_MAP_MAX_OSDS; o++) {
        if (pb->down[o / 8] & (1u << (o % 8))) {
            snprintf(id, sizeof(id), "%u", o);
            list_add(list, sizeof(list), n++, "osd.", id);
        }
    }
    list_end(list, sizeof(list), n);
    snprintf(buf, len, ": %s %s down", list, n == 1 ? "is" : "are");
}

enum { PB_INACTIVE, PB_INCOMPLETE, PB_PEERED, PB_INCONSISTENT, PB_DEGRADED, PB_PEERING,
       PB_UNKNOWN, PB_N };

static void health_pg_view(const struct proto_map *map, const struct cli_pg_view *v,
                           struct cli_health *h)
{
    struct pg_problem *pb = calloc(PB_N, sizeof(*pb));
    char down[CLI_HEALTH_REASON_MAX / 2 + 16];
    bool recovering = false;

    if (!pb) {
        health_pgs(map, h);
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        const struct cli_pg *pg = &v->pgs[i];
        uint32_t s = pg->state;
        if (pg->unknown)
            problem_add(&pb[PB_UNKNOWN], map, pg);
        else if (s == 0)
            problem_add(&pb[PB_INACTIVE], map, pg);
        if (s & PROTO_PGS_INCOMPLETE)
            problem_add(&pb[PB_INCOMPLETE], map, pg);
        if (s & PROTO_PGS_PEERED)
            problem_add(&pb[PB_PEERED], map, pg);
        if (s & PROTO_PGS_INCONSISTENT)
            problem_add(&pb[PB_INCONSISTENT], map, pg);
        if (s & (PROTO_PGS_DEGRADED | PROTO_PGS_UNDERSIZED))
            problem_add(&pb[PB_DEGRADED], map, pg);
        if (s & PROTO_PGS_PEERING)
            problem_add(&pb[PB_PEERING], map, pg);
        recovering |= (s & (PROTO_PGS_RECOVERING | PROTO_PGS_BACKFILLING)) != 0;
    }
#define N_PGS(p) (unsigned long long)(p).count, (p).count == 1 ? "" : "s"
    if (pb[PB_INACTIVE].count) {
        down_suffix(&pb[PB_INACTIVE], down, sizeof(down));
        add_reason(h, CLI_HEALTH_ERROR, "%llu PG%s inactive%s", N_PGS(pb[PB_INACTIVE]), down);
    }
    if (pb[PB_INCOMPLETE].count) {
        down_suffix(&pb[PB_INCOMPLETE], down, sizeof(down));
        add_reason(h, CLI_HEALTH_ERROR, "%llu PG%s incomplete (no complete copy is up)%s",
                   N_PGS(pb[PB_INCOMPLETE]), down);
    }
    if (pb[PB_PEERED].count) {
        down_suffix(&pb[PB_PEERED], down, sizeof(down));
        add_reason(h, CLI_HEALTH_ERROR, "%llu PG%s peered (below min_size, writes wait)%s",
                   N_PGS(pb[PB_PEERED]), down);
    }
    if (pb[PB_INCONSISTENT].count) {
        uint64_t more = pb[PB_INCONSISTENT].count - CAIRN_MIN(pb[PB_INCONSISTENT].count,
                                                              (uint64_t)PGID_LIST_MAX);
        char tail[48] = "";
        if (more)
            snprintf(tail, sizeof(tail), " and %llu more", (unsigned long long)more);
        add_reason(h, CLI_HEALTH_ERROR, "%llu PG%s inconsistent (run cairn pg deep-scrub %s%s)",
                   N_PGS(pb[PB_INCONSISTENT]), pb[PB_INCONSISTENT].pgids, tail);
    }
    if (pb[PB_DEGRADED].count) {
        down_suffix(&pb[PB_DEGRADED], down, sizeof(down));
        add_reason(h, CLI_HEALTH_WARN, "%llu PG%s degraded%s%s", N_PGS(pb[PB_DEGRADED]), down,
                   recovering ? (down[0] ? "; recovering" : ": recovering") : "");
    }
    if (pb[PB_PEERING].count)
        add_reason(h, CLI_HEALTH_WARN, "%llu PG%s peering", N_PGS(pb[PB_PEERING]));
    if (pb[PB_UNKNOWN].count)
        add_reason(h, CLI_HEALTH_WARN, "%llu PG%s unknown: no report from their primary yet",
                   N_PGS(pb[PB_UNKNOWN]));
#undef N_PGS
    free(pb);
}

void cli_health_eval(const struct proto_map *map, const struct proto_mon_status *st,
                     struct cli_health *h)
{
    cli_health_eval_view(map, st, NULL, h);
}

void cli_health_eval_view(const struct proto_map *map, const struct proto_mon_status *st,
                          const struct cli_pg_view *view, struct cli_health *h)
{
    memset(h, 0, sizeof(*h));
    health_mons(map, st, h);
    health_osds(map, h);
    if (view && view->from_osds)
        health_pg_view(map, view, h);
    else
        health_pgs(map, h);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

void cli_quorum_sort(struct proto_mon_status *st)
{
    uint32_t n = st->n_quorum < PROTO_MAP_MAX_MONS ? st->n_quorum : PROTO_MAP_MAX_MONS;

    qsort(st->quorum, n, sizeof(st->quorum[0]), name_cmp);
}

/* PG state strings (pgstat.h): the one place that turns PROTO_PGS_* flags
 * into "active+clean", used by the monitor's logs and by the CLI. */
#include "protocol/pgstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[PROTO_PGS_NFLAGS] = {
    "active",     "clean",        "peering",    "degraded", "recovering", "backfilling",
    "incomplete", "inconsistent", "undersized", "peered",   "scrubbing",  "deep",
};

const char *proto_pg_state_name(unsigned bit)
{
    return bit < PROTO_PGS_NFLAGS ? names[bit] : NULL;
}

char *proto_pg_state_format(uint32_t state, char *buf, size_t len)
{
    size_t off = 0;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (unsigned bit = 0; bit < PROTO_PGS_NFLAGS; bit++) {
        if (!(state & (1u << bit)))
            continue;
        int n = snprintf(buf + off, len - off, "%s%s", off ? "+" : "", names[bit]);
        if (n < 0 || (size_t)n >= len - off)
            return buf; /* cut: the caller's buffer is smaller than documented */
        off += (size_t)n;
    }
    if (off == 0)
        snprintf(buf, len, "inactive");
    return buf;
}

void proto_pg_stats_fini(struct proto_pg_stats *s)
{
    free(s->pgs);
    free(s->usage);
    memset(s, 0, sizeof(*s));
}

uint32_t proto_osd_usage_sum(const struct proto_pg_stats *s, const struct proto_map *map,
                             uint64_t *total, uint64_t *used)
{
    uint32_t counted = 0;

    *total = *used = 0;
    for (uint32_t i = 0; i < s->n_usage; i++) {
        const struct proto_osd_usage *u = &s->usage[i];
        const struct proto_map_osd *o = proto_map_osd(map, u->osd);
        if (!o || !o->exists || !o->up || !o->in)
            continue;
        *total += u->bytes_total;
        *used += u->bytes_used;
        counted++;
    }
    return counted;
}

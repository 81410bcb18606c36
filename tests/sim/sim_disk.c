/* Simulated durable storage for Raft nodes; see sim_disk.h. Allocation
 * failures abort: this is test scaffolding, not the data path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assert.h"
#include "tests/sim/sim_disk.h"

static void *xmemdup(const void *p, size_t len)
{
    void *q = malloc(len ? len : 1);

    CAIRN_ASSERT(q != NULL);
    if (len)
        memcpy(q, p, len);
    return q;
}

static void append(struct sim_disk *d, const struct mon_raft_entry *e);

void sim_disk_init(struct sim_disk *d, const uint64_t *voters, uint32_t n_voters)
{
    struct mon_raft_membership m = {.n_voters = n_voters};
    uint8_t buf[MON_RAFT_CONF_MAX_BYTES];
    struct mon_raft_entry e;

    memset(d, 0, sizeof(*d));
    d->snap.data = xmemdup(NULL, 0);
    if (n_voters == 0)
        return;
    CAIRN_ASSERT(n_voters <= MON_RAFT_MAX_VOTERS);
    for (uint32_t i = 0; i < n_voters; i++)
        m.voters[i] = voters[i];
    int rc = mon_raft_bootstrap(&m, &d->hs, &e, buf);
    CAIRN_ASSERT(rc == 0);
    append(d, &e);
}

static void drop_from(struct sim_disk *d, size_t i)
{
    for (size_t j = i; j < d->n; j++)
        free((void *)d->ents[j].data);
    d->n = i;
}

void sim_disk_fini(struct sim_disk *d)
{
    drop_from(d, 0);
    free(d->ents);
    free((void *)d->snap.data);
    memset(d, 0, sizeof(*d));
}

static void set_snapshot(struct sim_disk *d, const struct mon_raft_snapshot *s)
{
    free((void *)d->snap.data);
    d->snap = *s;
    d->snap.data = xmemdup(s->data, s->len);
}

static void append(struct sim_disk *d, const struct mon_raft_entry *e)
{
    CAIRN_ASSERT(e->index == d->snap.index + d->n + 1);
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 64;
        d->ents = realloc(d->ents, d->cap * sizeof(*d->ents));
        CAIRN_ASSERT(d->ents != NULL);
    }
    d->ents[d->n] = *e;
    d->ents[d->n].data = xmemdup(e->data, e->len);
    d->n++;
}

void sim_disk_save_ready(struct sim_disk *d, const struct mon_raft_ready *rd)
{
    if (rd->snapshot) {
        drop_from(d, 0);
        set_snapshot(d, rd->snapshot);
    }
    if (rd->n_entries) {
        uint64_t first = rd->entries[0].index;
        CAIRN_ASSERT(first > d->snap.index && first <= d->snap.index + d->n + 1);
        drop_from(d, (size_t)(first - d->snap.index - 1));
        for (size_t i = 0; i < rd->n_entries; i++)
            append(d, &rd->entries[i]);
    }
    if (rd->has_hard_state)
        d->hs = rd->hard_state;
    d->writes++;
}

void sim_disk_save_snapshot(struct sim_disk *d, const struct mon_raft_snapshot *snap)
{
    CAIRN_ASSERT(snap->index > d->snap.index && snap->index <= d->snap.index + d->n);
    size_t drop = (size_t)(snap->index - d->snap.index);
    for (size_t i = 0; i < drop; i++)
        free((void *)d->ents[i].data);
    memmove(d->ents, d->ents + drop, (d->n - drop) * sizeof(*d->ents));
    d->n -= drop;
    set_snapshot(d, snap);
    d->writes++;
}

int sim_disk_open(const struct sim_disk *d, const struct mon_raft_config *cfg,
                  struct mon_raft **out)
{
    return mon_raft_create(cfg, &d->hs, &d->snap, d->ents, d->n, out);
}

const struct mon_raft_entry *sim_disk_entry(const struct sim_disk *d, uint64_t index)
{
    if (index <= d->snap.index || index > d->snap.index + d->n)
        return NULL;
    return &d->ents[index - d->snap.index - 1];
}

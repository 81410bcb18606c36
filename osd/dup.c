/* The answered-op table of one PG (internal.h, docs/osd.md §4): a ring of
 * the last @max write ops' encoded replies, indexed by a hash of (client_id,
 * tid). The ring's next slot is always the oldest entry, so eviction is
 * taking that slot and unlinking it from its bucket. Loop thread only. */
#include "osd/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t bucket_of(const struct osd_dup *dup, uint64_t client_id, uint64_t tid)
{
    uint64_t h = (client_id ^ (tid * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;

    return (uint32_t)(h >> 32) % dup->n_buckets;
}

void osd__dup_init(struct osd_dup *dup, uint32_t max)
{
    memset(dup, 0, sizeof(*dup));
    dup->max = max ? max : 1;
    dup->n_buckets = dup->max;
}

void osd__dup_fini(struct osd_dup *dup)
{
    for (uint32_t i = 0; dup->ring && i < dup->max; i++)
        free(dup->ring[i].meta);
    free(dup->ring);
    free(dup->buckets);
    dup->ring = NULL;
    dup->buckets = NULL;
}

const struct osd_dup_entry *osd__dup_find(const struct osd_dup *dup, uint64_t client_id,
                                          uint64_t tid)
{
    if (!dup->ring)
        return NULL;
    for (uint32_t i = dup->buckets[bucket_of(dup, client_id, tid)]; i; i = dup->ring[i - 1].chain) {
        const struct osd_dup_entry *en = &dup->ring[i - 1];
        if (en->client_id == client_id && en->tid == tid)
            return en;
    }
    return NULL;
}

static void unlink_slot(struct osd_dup *dup, uint32_t slot)
{
    struct osd_dup_entry *en = &dup->ring[slot];
    uint32_t *p = &dup->buckets[bucket_of(dup, en->client_id, en->tid)];

    while (*p && *p != slot + 1)
        p = &dup->ring[*p - 1].chain;
    if (*p)
        *p = en->chain;
    free(en->meta);
    memset(en, 0, sizeof(*en));
}

int osd__dup_insert(struct osd_dup *dup, uint64_t client_id, uint64_t tid, const uint8_t *meta,
                    size_t meta_len)
{
    if (!dup->ring) {
        dup->ring = calloc(dup->max, sizeof(*dup->ring));
        dup->buckets = calloc(dup->n_buckets, sizeof(*dup->buckets));
        if (!dup->ring || !dup->buckets) {
            osd__dup_fini(dup);
            return -ENOMEM;
        }
    }
    uint8_t *copy = malloc(meta_len ? meta_len : 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, meta, meta_len);
    uint32_t slot = dup->next;
    if (dup->ring[slot].used)
        unlink_slot(dup, slot);
    struct osd_dup_entry *en = &dup->ring[slot];
    uint32_t b = bucket_of(dup, client_id, tid);
    *en = (struct osd_dup_entry){.client_id = client_id,
                                 .tid = tid,
                                 .meta = copy,
                                 .meta_len = meta_len,
                                 .chain = dup->buckets[b],
                                 .used = true};
    dup->buckets[b] = slot + 1;
    dup->next = (slot + 1) % dup->max;
    return 0;
}

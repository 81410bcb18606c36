/* A small open-addressing hash map from a non-zero u64 to a pointer, with
 * linear probing and backward-shift deletion (no tombstones). Used by the
 * commit thread for pending deferred blocks, the group's new-block writes and
 * the checksum-warning filter. Not thread-safe; the owner serializes. */
#include "osd/store/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t slot_of(const struct osd__u64map *m, uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (uint32_t)key & m->mask;
}

static int alloc_table(struct osd__u64map *m, uint32_t cap)
{
    m->keys = calloc(cap, sizeof(*m->keys));
    m->vals = calloc(cap, sizeof(*m->vals));
    if (m->keys == NULL || m->vals == NULL) {
        free(m->keys);
        free(m->vals);
        return -ENOMEM;
    }
    m->mask = cap - 1;
    m->count = 0;
    return 0;
}

int osd__u64map_init(struct osd__u64map *m, uint32_t cap_hint)
{
    uint32_t cap = 16;
    while (cap < cap_hint * 2)
        cap *= 2;
    return alloc_table(m, cap);
}

void osd__u64map_fini(struct osd__u64map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

void *osd__u64map_get(const struct osd__u64map *m, uint64_t key)
{
    CAIRN_ASSERT(key != 0);
    for (uint32_t i = slot_of(m, key);; i = (i + 1) & m->mask) {
        if (m->keys[i] == key)
            return m->vals[i];
        if (m->keys[i] == 0)
            return NULL;
    }
}

static int grow(struct osd__u64map *m)
{
    struct osd__u64map old = *m;
    if (alloc_table(m, (old.mask + 1) * 2) != 0) {
        *m = old;
        return -ENOMEM;
    }
    for (uint32_t i = 0; i <= old.mask; i++) {
        if (old.keys[i] != 0)
            osd__u64map_put(m, old.keys[i], old.vals[i]);
    }
    free(old.keys);
    free(old.vals);
    return 0;
}

int osd__u64map_put(struct osd__u64map *m, uint64_t key, void *val)
{
    CAIRN_ASSERT(key != 0);
    if ((m->count + 1) * 4 > (m->mask + 1) * 3 && grow(m) != 0)
        return -ENOMEM;
    for (uint32_t i = slot_of(m, key);; i = (i + 1) & m->mask) {
        if (m->keys[i] == key) {
            m->vals[i] = val;
            return 0;
        }
        if (m->keys[i] == 0) {
            m->keys[i] = key;
            m->vals[i] = val;
            m->count++;
            return 0;
        }
    }
}

void osd__u64map_del(struct osd__u64map *m, uint64_t key)
{
    uint32_t i = slot_of(m, key);
    while (m->keys[i] != key) {
        if (m->keys[i] == 0)
            return;
        i = (i + 1) & m->mask;
    }
    /* Backward shift: move later members of the probe run into the hole. */
    for (uint32_t j = (i + 1) & m->mask; m->keys[j] != 0; j = (j + 1) & m->mask) {
        uint32_t home = slot_of(m, m->keys[j]);
        bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->vals[i] = NULL;
    m->count--;
}

void osd__u64map_clear(struct osd__u64map *m)
{
    if (m->count == 0)
        return;
    memset(m->keys, 0, (size_t)(m->mask + 1) * sizeof(*m->keys));
    m->count = 0;
}

uint64_t osd__u64map_slot(const struct osd__u64map *m, uint32_t slot, void **val)
{
    if (slot > m->mask || m->keys[slot] == 0)
        return 0;
    *val = m->vals[slot];
    return m->keys[slot];
}

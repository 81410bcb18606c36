/* The record cache: the collection, object and extent records the commit
 * thread last saw in RocksDB. A replicated 4 KiB write looks up four of them
 * (its collection, its object, its extent shard and the PG log's object), and
 * without the cache each is a RocksDB point read: a memtable search plus, for
 * older keys, an SST probe. Entries are on a chained hash table and an LRU
 * list; the byte budget counts entries, keys and values. The loop thread's
 * metadata reads (meta.c) peek at it too: the lock covers the chains and
 * values, which only the commit thread changes, so its own lookups go
 * without (they move entries on the LRU list, which no peek reads). */
#include "osd/store/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_ROUND 64u /* value capacity granule: an extent shard grows in place */

struct osd__rc_entry {
    struct osd__rc_entry *hnext; /* same bucket */
    struct osd__rc_entry *newer; /* LRU neighbours */
    struct osd__rc_entry *older;
    uint32_t hash;
    uint32_t klen;
    uint32_t vlen;
    uint32_t vcap;
    bool absent;   /* RocksDB does not have the key */
    uint8_t mem[]; /* key, then vcap bytes of value */
};

static size_t entry_bytes(uint32_t klen, uint32_t vcap)
{
    return sizeof(struct osd__rc_entry) + klen + vcap;
}

int osd__rc_init(struct osd__rcache *c, size_t max_bytes)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->max_bytes = max_bytes;
    if (max_bytes == 0)
        return 0;
    c->nbuckets = 1024;
    c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
    return c->buckets != NULL ? 0 : -ENOMEM;
}

static void clear_locked(struct osd__rcache *c)
{
    for (struct osd__rc_entry *e = c->newest, *next; e != NULL; e = next) {
        next = e->older;
        free(e);
    }
    if (c->buckets != NULL)
        memset(c->buckets, 0, c->nbuckets * sizeof(*c->buckets));
    c->newest = c->oldest = NULL;
    c->count = 0;
    c->bytes = 0;
}

void osd__rc_clear(struct osd__rcache *c)
{
    pthread_mutex_lock(&c->lock);
    clear_locked(c);
    pthread_mutex_unlock(&c->lock);
}

void osd__rc_fini(struct osd__rcache *c)
{
    clear_locked(c);
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    memset(c, 0, sizeof(*c));
}

bool osd__rc_is_cached_kind(const void *k, size_t kl)
{
    const uint8_t *p = k;
    return kl > 0 && (p[0] == OSD__K_COLL || p[0] == OSD__K_OBJ || p[0] == OSD__K_EXT);
}

/* The link that points at the entry for the key, or at the bucket's end. */
static struct osd__rc_entry **slot_of(struct osd__rcache *c, const void *k, size_t kl, uint32_t h)
{
    struct osd__rc_entry **pp = &c->buckets[h & (c->nbuckets - 1)];
    while (*pp != NULL && ((*pp)->hash != h || (*pp)->klen != kl || memcmp((*pp)->mem, k, kl) != 0))
        pp = &(*pp)->hnext;
    return pp;
}

static void lru_unlink(struct osd__rcache *c, struct osd__rc_entry *e)
{
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
}

static void lru_push(struct osd__rcache *c, struct osd__rc_entry *e)
{
    e->newer = NULL;
    e->older = c->newest;
    if (c->newest != NULL)
        c->newest->newer = e;
    c->newest = e;
    if (c->oldest == NULL)
        c->oldest = e;
}

/* Removes the entry *@pp points at. */
static void drop(struct osd__rcache *c, struct osd__rc_entry **pp)
{
    struct osd__rc_entry *e = *pp;
    *pp = e->hnext;
    lru_unlink(c, e);
    c->count--;
    c->bytes -= entry_bytes(e->klen, e->vcap);
    free(e);
}

static void evict_to_budget(struct osd__rcache *c)
{
    while (c->bytes > c->max_bytes && c->oldest != NULL) {
        struct osd__rc_entry *e = c->oldest;
        drop(c, slot_of(c, e->mem, e->klen, e->hash));
    }
}

/* Doubles the bucket array once there are more entries than buckets; on
 * failure the chains just grow longer. */
static void maybe_grow(struct osd__rcache *c)
{
    if (c->count <= c->nbuckets || c->nbuckets >= (1u << 30))
        return;
    uint32_t n = c->nbuckets * 2;
    struct osd__rc_entry **b = calloc(n, sizeof(*b));
    if (b == NULL)
        return;
    for (struct osd__rc_entry *e = c->newest; e != NULL; e = e->older) {
        e->hnext = b[e->hash & (n - 1)];
        b[e->hash & (n - 1)] = e;
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

int osd__rc_get(struct osd__rcache *c, const void *k, size_t kl, const uint8_t **val, size_t *vl)
{
    if (c->nbuckets == 0)
        return -ENOENT;
    struct osd__rc_entry *e = *slot_of(c, k, kl, osd__key_hash(k, kl));
    if (e == NULL)
        return -ENOENT;
    lru_unlink(c, e);
    lru_push(c, e);
    if (e->absent)
        return 0;
    *val = e->mem + e->klen;
    *vl = e->vlen;
    return 1;
}

static void set_locked(struct osd__rcache *c, const void *k, size_t kl, const void *val,
                       size_t vl)
{
    uint32_t h = osd__key_hash(k, kl);
    struct osd__rc_entry **pp = slot_of(c, k, kl, h);
    struct osd__rc_entry *e = *pp;
    if (e != NULL && (val == NULL || vl <= e->vcap)) {
        lru_unlink(c, e); /* reuse in place */
    } else {
        if (e != NULL)
            drop(c, pp);
        uint32_t vcap = val == NULL ? 0 : (uint32_t)CAIRN_ALIGN_UP(vl, VALUE_ROUND);
        e = malloc(entry_bytes((uint32_t)kl, vcap));
        if (e == NULL)
            return; /* forgotten: the next lookup asks RocksDB */
        memcpy(e->mem, k, kl);
        e->hash = h;
        e->klen = (uint32_t)kl;
        e->vcap = vcap;
        e->hnext = c->buckets[h & (c->nbuckets - 1)];
        c->buckets[h & (c->nbuckets - 1)] = e;
        c->count++;
        c->bytes += entry_bytes(e->klen, vcap);
    }
    e->absent = val == NULL;
    e->vlen = val == NULL ? 0 : (uint32_t)vl;
    if (vl > 0 && val != NULL)
        memcpy(e->mem + e->klen, val, vl);
    lru_push(c, e);
    evict_to_budget(c);
    maybe_grow(c);
}

void osd__rc_set(struct osd__rcache *c, const void *k, size_t kl, const void *val, size_t vl)
{
    if (c->nbuckets == 0)
        return;
    pthread_mutex_lock(&c->lock);
    set_locked(c, k, kl, val, vl);
    pthread_mutex_unlock(&c->lock);
}

void osd__rc_apply(struct osd__rcache *c, const struct osd__overlay *ov)
{
    if (c->nbuckets == 0)
        return;
    pthread_mutex_lock(&c->lock);
    for (uint32_t i = 0; i < ov->n; i++) {
        const struct osd__ov_entry *e = &ov->ents[i];
        if (e->kind == OSD__OV_DEL_RANGE || !osd__rc_is_cached_kind(e->key, e->klen) ||
            !osd__ov_is_latest(ov, i))
            continue;
        set_locked(c, e->key, e->klen, e->kind == OSD__OV_PUT ? e->val : NULL, e->vlen);
    }
    pthread_mutex_unlock(&c->lock);
}

int osd__rc_peek(struct osd__rcache *c, const void *k, size_t kl, void *buf, size_t cap,
                 size_t *vl)
{
    int rc = -ENOENT;
    pthread_mutex_lock(&c->lock); /* nbuckets too: a growing table changes it */
    const struct osd__rc_entry *e =
        c->nbuckets != 0 ? *slot_of(c, k, kl, osd__key_hash(k, kl)) : NULL;
    if (e != NULL && e->absent) {
        rc = 0;
    } else if (e != NULL && e->vlen <= cap) {
        memcpy(buf, e->mem + e->klen, e->vlen);
        *vl = e->vlen;
        rc = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

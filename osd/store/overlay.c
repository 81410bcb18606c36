/* The overlay: the metadata changes of the group being prepared, as an
 * ordered log (which becomes the group's one RocksDB batch) plus a hash index
 * from key to its newest entry, so that later transactions of the group read
 * what earlier ones wrote. Keys and values live in an arena reset per group.
 * A transaction that fails rolls the log back to its mark: entries are only
 * ever appended, so the popped entries are always the heads of their bucket
 * chains. Commit thread only. */
#include "osd/store/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (1u << 20)
#define ARENA_KEEP (8u << 20)  /* bytes of chunks kept across groups */

static void *arena_alloc(struct osd__arena *a, size_t len)
{
    len = CAIRN_ALIGN_UP(len, 16);
    for (;;) {
        if (a->cur < a->nchunks && a->used + len <= a->chunks[a->cur].size) {
            void *p = a->chunks[a->cur].mem + a->used;
            a->used += len;
            return p;
        }
        if (a->cur + 1 < a->nchunks && a->chunks[a->cur + 1].size >= len) {
            a->cur++;
            a->used = 0;
            continue;
        }
        /* Insert a fresh chunk after the current one. */
        size_t size = CAIRN_MAX((size_t)ARENA_CHUNK, len);
        struct osd__arena_chunk *c =
            realloc(a->chunks, (a->nchunks + 1) * sizeof(*a->chunks));
        if (c == NULL)
            return NULL;
        a->chunks = c;
        uint8_t *mem = malloc(size);
        if (mem == NULL)
            return NULL;
        uint32_t at = a->nchunks == 0 ? 0 : a->cur + 1;
        memmove(&c[at + 1], &c[at], (a->nchunks - at) * sizeof(*c));
        c[at] = (struct osd__arena_chunk){.mem = mem, .size = size};
        a->nchunks++;
        a->cur = at;
        a->used = 0;
    }
}

static void arena_reset(struct osd__arena *a)
{
    size_t kept = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < a->nchunks; i++) {
        if (kept + a->chunks[i].size <= ARENA_KEEP) {
            kept += a->chunks[i].size;
            a->chunks[n++] = a->chunks[i];
        } else {
            free(a->chunks[i].mem);
        }
    }
    a->nchunks = n;
    a->cur = 0;
    a->used = 0;
}

int osd__ov_init(struct osd__overlay *ov)
{
    memset(ov, 0, sizeof(*ov));
    ov->cap = 256;
    ov->nbuckets = 512;
    ov->ents = malloc(ov->cap * sizeof(*ov->ents));
    ov->buckets = malloc(ov->nbuckets * sizeof(*ov->buckets));
    if (ov->ents == NULL || ov->buckets == NULL)
        return -ENOMEM;
    memset(ov->buckets, 0xff, ov->nbuckets * sizeof(*ov->buckets));
    return 0;
}

void osd__ov_fini(struct osd__overlay *ov)
{
    for (uint32_t i = 0; i < ov->arena.nchunks; i++)
        free(ov->arena.chunks[i].mem);
    free(ov->arena.chunks);
    free(ov->ents);
    free(ov->buckets);
    memset(ov, 0, sizeof(*ov));
}

void osd__ov_reset(struct osd__overlay *ov)
{
    if (ov->n > 0)
        memset(ov->buckets, 0xff, ov->nbuckets * sizeof(*ov->buckets));
    ov->n = 0;
    arena_reset(&ov->arena);
}

void *osd__ov_alloc(struct osd__overlay *ov, size_t len)
{
    return arena_alloc(&ov->arena, len);
}

static void bucket_link(struct osd__overlay *ov, uint32_t i)
{
    uint32_t b = ov->ents[i].hash & (ov->nbuckets - 1);
    ov->ents[i].hnext = ov->buckets[b];
    ov->buckets[b] = (int32_t)i;
}

/* Doubles the entry log, and the buckets with it (relinking in log order
 * keeps newer entries ahead of older ones). */
static int grow(struct osd__overlay *ov)
{
    struct osd__ov_entry *e = realloc(ov->ents, ov->cap * 2 * sizeof(*e));
    if (e == NULL)
        return -ENOMEM;
    ov->ents = e;
    ov->cap *= 2;
    int32_t *b = realloc(ov->buckets, ov->nbuckets * 2 * sizeof(*b));
    if (b == NULL)
        return -ENOMEM;
    ov->buckets = b;
    ov->nbuckets *= 2;
    memset(ov->buckets, 0xff, ov->nbuckets * sizeof(*ov->buckets));
    for (uint32_t i = 0; i < ov->n; i++) {
        if (ov->ents[i].kind != OSD__OV_DEL_RANGE)
            bucket_link(ov, i);
    }
    return 0;
}

static int append(struct osd__overlay *ov, uint8_t kind, const void *k, size_t kl,
                  const void *v, size_t vl)
{
    if (ov->n == ov->cap && grow(ov) != 0)
        return -ENOMEM;
    uint8_t *kc = arena_alloc(&ov->arena, kl + vl);
    if (kc == NULL)
        return -ENOMEM;
    memcpy(kc, k, kl);
    if (vl > 0)
        memcpy(kc + kl, v, vl);
    uint32_t i = ov->n++;
    ov->ents[i] = (struct osd__ov_entry){
        .key = kc,
        .val = kc + kl,
        .klen = (uint32_t)kl,
        .vlen = (uint32_t)vl,
        .hash = osd__key_hash(k, kl),
        .hnext = -1,
        .kind = kind,
    };
    if (kind != OSD__OV_DEL_RANGE)
        bucket_link(ov, i);
    return 0;
}

int osd__ov_put(struct osd__overlay *ov, const void *k, size_t kl, const void *v, size_t vl)
{
    return append(ov, OSD__OV_PUT, k, kl, v, vl);
}

int osd__ov_del(struct osd__overlay *ov, const void *k, size_t kl)
{
    return append(ov, OSD__OV_DEL, k, kl, NULL, 0);
}

int osd__ov_del_range(struct osd__overlay *ov, const void *start, size_t sl, const void *end,
                      size_t el)
{
    return append(ov, OSD__OV_DEL_RANGE, start, sl, end, el);
}

static int32_t find(const struct osd__overlay *ov, const void *k, size_t kl, uint32_t h)
{
    int32_t i = ov->buckets[h & (ov->nbuckets - 1)];
    for (; i >= 0; i = ov->ents[i].hnext) {
        const struct osd__ov_entry *e = &ov->ents[i];
        if (e->hash == h && e->klen == kl && memcmp(e->key, k, kl) == 0)
            return i;
    }
    return -1;
}

int osd__ov_get(const struct osd__overlay *ov, const void *k, size_t kl, const uint8_t **val,
                size_t *vl)
{
    int32_t i = find(ov, k, kl, osd__key_hash(k, kl));
    if (i < 0)
        return -ENOENT;
    const struct osd__ov_entry *e = &ov->ents[i];
    if (e->kind == OSD__OV_DEL)
        return 0;
    *val = e->val;
    *vl = e->vlen;
    return 1;
}

bool osd__ov_is_latest(const struct osd__overlay *ov, uint32_t i)
{
    const struct osd__ov_entry *e = &ov->ents[i];
    if (e->kind == OSD__OV_DEL_RANGE)
        return false;
    return find(ov, e->key, e->klen, e->hash) == (int32_t)i;
}

void osd__ov_mark(const struct osd__overlay *ov, struct osd__ov_mark *m)
{
    m->n = ov->n;
    m->arena_cur = ov->arena.cur;
    m->arena_used = ov->arena.used;
}

void osd__ov_rollback(struct osd__overlay *ov, const struct osd__ov_mark *m)
{
    CAIRN_ASSERT(m->n <= ov->n);
    while (ov->n > m->n) {
        uint32_t i = --ov->n;
        const struct osd__ov_entry *e = &ov->ents[i];
        if (e->kind == OSD__OV_DEL_RANGE)
            continue;
        uint32_t b = e->hash & (ov->nbuckets - 1);
        /* Entries are appended only, so the newest is the bucket head. */
        CAIRN_ASSERT(ov->buckets[b] == (int32_t)i);
        ov->buckets[b] = e->hnext;
    }
    ov->arena.cur = m->arena_cur;
    ov->arena.used = m->arena_used;
}

/* The data-file block allocator: two in-memory bitmaps and a next-fit cursor,
 * owned by the commit thread. `disk` is what the next batch persists (the A
 * records of every region touched); `avail` is what may be handed out now.
 * A freed block is cleared in `disk` at once but in `avail` only after the
 * batch that frees it is durable (inv. 3), so committed metadata can never
 * point at a block that is being rewritten. Per-transaction marks let a
 * failed transaction give back exactly what it took. */
#include "osd/store/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool bit_get(const uint64_t *bm, uint64_t b)
{
    return (bm[b / 64] >> (b % 64)) & 1;
}

static void bit_set(uint64_t *bm, uint64_t b)
{
    bm[b / 64] |= 1ull << (b % 64);
}

static void bit_clear(uint64_t *bm, uint64_t b)
{
    bm[b / 64] &= ~(1ull << (b % 64));
}

/* Appends a run, merging with the last one unless that one is below @floor
 * (it belongs to the sealed, in-flight group). */
static int runvec_push(struct osd__runvec *rv, uint64_t start, uint64_t count, uint32_t floor)
{
    if (rv->n > floor && rv->v[rv->n - 1].start + rv->v[rv->n - 1].count == start) {
        rv->v[rv->n - 1].count += count;
        return 0;
    }
    if (rv->n == rv->cap) {
        uint32_t cap = rv->cap ? rv->cap * 2 : 64;
        struct osd__run *v = realloc(rv->v, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        rv->v = v;
        rv->cap = cap;
    }
    rv->v[rv->n++] = (struct osd__run){start, count};
    return 0;
}

static void mark_dirty(struct osd__alloc *a, uint64_t start, uint64_t count)
{
    uint32_t r0 = (uint32_t)(start / OSD__REGION_BLOCKS);
    uint32_t r1 = (uint32_t)((start + count - 1) / OSD__REGION_BLOCKS);
    for (uint32_t r = r0; r <= r1; r++) {
        if (!a->dirty[r]) {
            a->dirty[r] = 1;
            a->dirty_list[a->ndirty++] = r;
        }
    }
}

int osd__alloc_init(struct osd__alloc *a, uint64_t nblocks)
{
    memset(a, 0, sizeof(*a));
    a->nblocks = nblocks;
    a->nregions = (uint32_t)((nblocks + OSD__REGION_BLOCKS - 1) / OSD__REGION_BLOCKS);
    a->nwords = (uint64_t)a->nregions * (OSD__REGION_BLOCKS / 64);
    a->avail = calloc(a->nwords, 8);
    a->disk = calloc(a->nwords, 8);
    a->dirty = calloc(a->nregions, 1);
    a->dirty_list = calloc(a->nregions, sizeof(*a->dirty_list));
    if (a->avail == NULL || a->disk == NULL || a->dirty == NULL || a->dirty_list == NULL)
        return -ENOMEM;
    a->cursor = 1;
    return 0;
}

void osd__alloc_fini(struct osd__alloc *a)
{
    free(a->avail);
    free(a->disk);
    free(a->dirty);
    free(a->dirty_list);
    free(a->allocs.v);
    free(a->frees.v);
    memset(a, 0, sizeof(*a));
}

int osd__alloc_load_region(struct osd__alloc *a, uint32_t region, const void *val, size_t len)
{
    if (region >= a->nregions || len != OSD__REGION_BYTES)
        return -EIO;
    const uint8_t *p = val;
    uint64_t *w = a->disk + (uint64_t)region * (OSD__REGION_BLOCKS / 64);
    for (unsigned i = 0; i < OSD__REGION_BLOCKS / 64; i++)
        w[i] = osd__get_le64(p + i * 8);
    return 0;
}

void osd__alloc_loaded(struct osd__alloc *a)
{
    bit_set(a->disk, 0); /* inv. 1: block 0 is never allocated, 0 means hole */
    for (uint64_t b = a->nblocks; b < a->nwords * 64; b++)
        bit_set(a->disk, b);
    memcpy(a->avail, a->disk, a->nwords * 8);
    uint64_t used = 0;
    for (uint64_t i = 0; i < a->nwords; i++)
        used += (uint64_t)__builtin_popcountll(a->avail[i]);
    a->free_count = a->nwords * 64 - used;
}

/* The first clear bit of avail at or after @from, or nblocks. */
static uint64_t find_free(const struct osd__alloc *a, uint64_t from)
{
    uint64_t w = from / 64;
    if (w >= a->nwords)
        return a->nblocks;
    uint64_t bits = ~a->avail[w] & (~0ull << (from % 64));
    while (bits == 0) {
        if (++w >= a->nwords)
            return a->nblocks;
        bits = ~a->avail[w];
    }
    uint64_t b = w * 64 + (uint64_t)__builtin_ctzll(bits);
    return b < a->nblocks ? b : a->nblocks;
}

uint64_t osd__alloc_run(struct osd__alloc *a, uint64_t want, uint64_t *start)
{
    if (a->free_count == 0 || want == 0)
        return 0;
    uint64_t b = find_free(a, a->cursor);
    if (b >= a->nblocks)
        b = find_free(a, 1);
    CAIRN_ASSERT(b < a->nblocks); /* free_count > 0 */
    uint64_t n = 0;
    while (n < want && b + n < a->nblocks && !bit_get(a->avail, b + n)) {
        bit_set(a->avail, b + n);
        bit_set(a->disk, b + n);
        n++;
    }
    if (runvec_push(&a->allocs, b, n, 0) != 0) {
        for (uint64_t i = 0; i < n; i++) {
            bit_clear(a->avail, b + i);
            bit_clear(a->disk, b + i);
        }
        return 0;
    }
    a->free_count -= n;
    a->cursor = b + n;
    mark_dirty(a, b, n);
    *start = b;
    return n;
}

int osd__alloc_free(struct osd__alloc *a, uint64_t start, uint64_t count)
{
    for (uint64_t i = 0; i < count; i++) {
        CAIRN_ASSERT(start + i != 0 && start + i < a->nblocks); /* inv. 1 */
        CAIRN_ASSERT(bit_get(a->disk, start + i));              /* inv. 2: no double free */
        CAIRN_ASSERT(bit_get(a->avail, start + i));
    }
    if (runvec_push(&a->frees, start, count, a->sealed_frees) != 0)
        return -ENOMEM;
    for (uint64_t i = 0; i < count; i++)
        bit_clear(a->disk, start + i);
    mark_dirty(a, start, count);
    return 0;
}

bool osd__alloc_is_used(const struct osd__alloc *a, uint64_t block)
{
    return block < a->nblocks && bit_get(a->disk, block);
}

void osd__alloc_mark(const struct osd__alloc *a, struct osd__alloc_mark *m)
{
    m->nallocs = a->allocs.n;
    m->nfrees = a->frees.n;
    /* Runs merge at the tail, so remember the tail run's length too. */
    m->alloc_tail = a->allocs.n > 0 ? a->allocs.v[a->allocs.n - 1].count : 0;
    m->free_tail = a->frees.n > 0 ? a->frees.v[a->frees.n - 1].count : 0;
    m->cursor = a->cursor;
}

/* Pops runs past @n and trims run @n-1 back to @tail blocks, calling @undo
 * on every block removed. */
static void runvec_rollback(struct osd__alloc *a, struct osd__runvec *rv, uint32_t n,
                            uint64_t tail, void (*undo)(struct osd__alloc *, uint64_t))
{
    while (rv->n > n) {
        struct osd__run *r = &rv->v[rv->n - 1];
        for (uint64_t i = 0; i < r->count; i++)
            undo(a, r->start + i);
        rv->n--;
    }
    if (n > 0 && rv->v[n - 1].count > tail) {
        struct osd__run *r = &rv->v[n - 1];
        for (uint64_t i = tail; i < r->count; i++)
            undo(a, r->start + i);
        r->count = tail;
    }
}

static void undo_free(struct osd__alloc *a, uint64_t b)
{
    bit_set(a->disk, b);
}

static void undo_alloc(struct osd__alloc *a, uint64_t b)
{
    bit_clear(a->avail, b);
    bit_clear(a->disk, b);
    a->free_count++;
}

void osd__alloc_rollback(struct osd__alloc *a, const struct osd__alloc_mark *m)
{
    /* Frees first: a block allocated and freed after the mark ends up free. */
    runvec_rollback(a, &a->frees, m->nfrees, m->free_tail, undo_free);
    runvec_rollback(a, &a->allocs, m->nallocs, m->alloc_tail, undo_alloc);
    a->cursor = m->cursor;
}

void osd__alloc_seal(struct osd__alloc *a)
{
    a->allocs.n = 0;
    a->sealed_frees = a->frees.n;
    for (uint32_t i = 0; i < a->ndirty; i++)
        a->dirty[a->dirty_list[i]] = 0;
    a->ndirty = 0;
}

void osd__alloc_commit(struct osd__alloc *a)
{
    uint32_t n = a->sealed_frees;
    for (uint32_t i = 0; i < n; i++) {
        const struct osd__run *r = &a->frees.v[i];
        for (uint64_t j = 0; j < r->count; j++)
            bit_clear(a->avail, r->start + j);
        a->free_count += r->count;
    }
    if (n > 0)
        memmove(a->frees.v, a->frees.v + n, (a->frees.n - n) * sizeof(*a->frees.v));
    a->frees.n -= n;
    a->sealed_frees = 0;
}

void osd__alloc_encode_region(const struct osd__alloc *a, uint32_t r, uint8_t *out)
{
    const uint64_t *w = a->disk + (uint64_t)r * (OSD__REGION_BLOCKS / 64);
    for (unsigned i = 0; i < OSD__REGION_BLOCKS / 64; i++)
        osd__put_le64(out + i * 8, w[i]);
}

void osd__alloc_mkfs_region(uint64_t nblocks, uint32_t r, uint8_t *out)
{
    memset(out, 0, OSD__REGION_BYTES);
    if (r == 0)
        out[0] = 1; /* inv. 1 */
    uint64_t first = (uint64_t)r * OSD__REGION_BLOCKS;
    for (uint64_t b = CAIRN_MAX(first, nblocks); b < first + OSD__REGION_BLOCKS; b++)
        out[(b - first) / 8] |= (uint8_t)(1u << ((b - first) % 8));
}

uint64_t osd__alloc_used(const struct osd__alloc *a)
{
    return a->nblocks - a->free_count;
}

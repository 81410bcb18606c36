/* Extent maps: the shard cursor that loads, edits and stores E records
 * through the overlay, and the block-level edits built on it: freeing a block,
 * writing part of a block through a deferred image, and punching every block
 * past a logical offset. Called by prep.c on the commit thread while a
 * transaction is prepared; all changes go to the overlay, the allocator and
 * the deferred map, so a failed transaction rolls them back. */
#include "osd/store/internal.h"

#include "common/crc32c.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Shard counts up to this are looked up one by one; above it, the existing
 * shards are found by iterating RocksDB and the overlay. */
#define PUNCH_DIRECT_SHARDS 16u
#define WARN_MAX 4096u

void osd__ecur_init(struct osd__ecur *c, uint64_t nid)
{
    c->nid = nid;
    c->loaded = false;
    c->dirty = false;
    c->existed = false;
}

int osd__ecur_flush(struct osd_store *s, struct osd__ecur *c)
{
    if (!c->loaded || !c->dirty)
        return 0;
    uint8_t key[16];
    uint8_t val[OSD__SHARD_ENC_MAX];
    size_t kl = osd__key_ext(key, c->nid, c->shard);
    size_t vl = osd__shard_encode(&c->s, val);
    int rc = 0;
    if (vl > 0)
        rc = osd__ov_put(s->ov, key, kl, val, vl);
    else if (c->existed)
        rc = osd__ov_del(s->ov, key, kl);
    if (rc != 0)
        return rc;
    c->existed = vl > 0;
    c->dirty = false;
    return 0;
}

int osd__ecur_seek(struct osd_store *s, struct osd__ecur *c, uint64_t lblock)
{
    uint32_t shard = (uint32_t)(lblock / OSD__SHARD_BLOCKS);
    if (c->loaded && c->shard == shard)
        return 0;
    int rc = osd__ecur_flush(s, c);
    if (rc != 0)
        return rc;
    c->loaded = false;
    uint8_t key[16];
    size_t kl = osd__key_ext(key, c->nid, shard);
    const uint8_t *val;
    size_t vl;
    rc = osd__lookup(s, key, kl, &val, &vl);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        if (osd__shard_decode(val, vl, s->nblocks, &c->s) != 0) {
            cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE,
                      "store: bad extent record nid %llu shard %u",
                      (unsigned long long)c->nid, shard);
            return -EIO;
        }
    } else {
        memset(&c->s, 0, sizeof(c->s));
    }
    c->existed = rc == 1;
    c->shard = shard;
    c->loaded = true;
    c->dirty = false;
    return 0;
}

int osd__block_free(struct osd_store *s, uint64_t pblock)
{
    int rc = osd__alloc_free(&s->alloc, pblock, 1);
    if (rc != 0)
        return rc;
    return osd__dfr_cancel(s, pblock);
}

void osd__csum_error(struct osd_store *s, uint64_t nid, uint64_t lblock, uint64_t pblock)
{
    OSD__STAT_ADD(s, csum_errors, 1);
    uint64_t h = (nid * 0x9e3779b97f4a7c15ull) ^ lblock;
    h |= 1; /* u64map keys are never 0 */
    if (s->warned.count >= WARN_MAX || osd__u64map_get(&s->warned, h) != NULL)
        return;
    osd__u64map_put(&s->warned, h, (void *)1);
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_STORE,
              "store %s: crc32c mismatch nid %llu block %llu (data block %llu)", s->path,
              (unsigned long long)nid, (unsigned long long)lblock, (unsigned long long)pblock);
}

int osd__block_read_current(struct osd_store *s, uint64_t nid, uint64_t lblock,
                            uint64_t pblock, uint32_t crc, uint8_t *out)
{
    const uint8_t *img = osd__dmap_lookup(&s->dmap, pblock);
    if (img == NULL)
        img = osd__u64map_get(&s->gwmap, pblock);
    if (img != NULL) {
        memcpy(out, img, OSD_STORE_BLOCK);
        return 0;
    }
    int rc = osd__io_sync(s, OSD_IO_READ, pblock, out, OSD_STORE_BLOCK);
    if (rc != 0)
        return rc;
    if (cairn_crc32c(0, out, OSD_STORE_BLOCK) != crc) {
        osd__csum_error(s, nid, lblock, pblock);
        return -EIO;
    }
    return 0;
}

int osd__block_defer(struct osd_store *s, struct osd__ecur *c, uint64_t nid, uint64_t lblock,
                     uint32_t boff, const void *data, uint32_t len, int64_t *blocks_delta)
{
    CAIRN_ASSERT(boff + len <= OSD_STORE_BLOCK && len > 0);
    int rc = osd__ecur_seek(s, c, lblock);
    if (rc != 0)
        return rc;
    unsigned idx = (unsigned)(lblock % OSD__SHARD_BLOCKS);
    uint64_t pb = c->s.pblock[idx];
    if (pb == 0 && data == NULL)
        return 0; /* zeroing a hole */
    uint8_t *img = osd__dmap_image_get(&s->dmap);
    if (img == NULL)
        return -ENOMEM;
    bool whole = boff == 0 && len == OSD_STORE_BLOCK;
    if (pb == 0) {
        if (osd__alloc_run(&s->alloc, 1, &pb) == 0) {
            osd__dmap_image_put(&s->dmap, img);
            return -ENOSPC;
        }
        memset(img, 0, OSD_STORE_BLOCK);
        (*blocks_delta)++;
    } else if (!whole) {
        rc = osd__block_read_current(s, nid, lblock, pb, c->s.crc[idx], img);
        if (rc != 0) {
            osd__dmap_image_put(&s->dmap, img);
            return rc;
        }
    }
    if (data != NULL)
        memcpy(img + boff, data, len);
    else
        memset(img + boff, 0, len);
    uint32_t crc = cairn_crc32c(0, img, OSD_STORE_BLOCK);
    rc = osd__dfr_add(s, pb, img); /* takes @img, inv. 5 */
    if (rc != 0)
        return rc;
    c->s.pblock[idx] = pb;
    c->s.crc[idx] = crc;
    c->dirty = true;
    return 0;
}

/* Frees the blocks at or beyond @from in the shard under the cursor. */
static int punch_shard(struct osd_store *s, struct osd__ecur *c, uint64_t from,
                       int64_t *blocks_delta)
{
    uint64_t base = (uint64_t)c->shard * OSD__SHARD_BLOCKS;
    unsigned first = from > base ? (unsigned)(from - base) : 0;
    for (unsigned i = first; i < OSD__SHARD_BLOCKS; i++) {
        if (c->s.pblock[i] == 0)
            continue;
        int rc = osd__block_free(s, c->s.pblock[i]);
        if (rc != 0)
            return rc;
        c->s.pblock[i] = 0;
        c->s.crc[i] = 0;
        c->dirty = true;
        (*blocks_delta)--;
    }
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

struct u32vec {
    uint32_t *v;
    uint32_t n;
    uint32_t cap;
};

static int u32vec_push(struct u32vec *vec, uint32_t x)
{
    if (vec->n == vec->cap) {
        uint32_t cap = vec->cap ? vec->cap * 2 : 64;
        uint32_t *v = realloc(vec->v, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        vec->v = v;
        vec->cap = cap;
    }
    vec->v[vec->n++] = x;
    return 0;
}

/* Shard indices >= @first of @nid that RocksDB holds. */
static int db_shards(struct osd_store *s, uint64_t nid, uint32_t first, struct u32vec *vec)
{
    uint8_t lo[16], hi[16];
    size_t lol = osd__key_ext(lo, nid, first);
    size_t hil = osd__key_nid(hi, OSD__K_EXT, nid + 1);
    struct osd__kv_iter *it;
    int rc = osd__kv_iter_create(s->kv, lo, lol, hi, hil, &it);
    if (rc != 0)
        return rc;
    for (; rc == 0 && osd__kv_iter_valid(it); osd__kv_iter_next(it)) {
        size_t kl;
        const uint8_t *k = osd__kv_iter_key(it, &kl);
        rc = kl == 13 ? u32vec_push(vec, osd__get_be32(k + 9)) : -EIO;
    }
    if (rc == 0)
        rc = osd__kv_iter_status(it);
    osd__kv_iter_destroy(it);
    return rc;
}

/* Adds the shard indices >= @first of @nid that the overlays hold. */
static int overlay_shards(struct osd_store *s, uint64_t nid, uint32_t first, struct u32vec *vec)
{
    uint8_t prefix[16];
    osd__key_nid(prefix, OSD__K_EXT, nid);
    const struct osd__overlay *ovs[2] = {s->ov, s->ov_prev};
    for (unsigned o = 0; o < 2 && ovs[o] != NULL; o++) {
        for (uint32_t i = 0; i < ovs[o]->n; i++) {
            const struct osd__ov_entry *e = &ovs[o]->ents[i];
            if (e->klen != 13 || memcmp(e->key, prefix, 9) != 0)
                continue;
            uint32_t idx = osd__get_be32(e->key + 9);
            if (idx < first || !osd__ov_entry_live(s, ovs[o], i))
                continue;
            int rc = u32vec_push(vec, idx);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Collects the indices >= @first of the shards of @nid that exist in RocksDB
 * or in the overlay, sorted and unique. */
static int existing_shards(struct osd_store *s, uint64_t nid, uint32_t first, uint32_t **out,
                           uint32_t *n)
{
    struct u32vec vec = {0};
    int rc = db_shards(s, nid, first, &vec);
    if (rc == 0)
        rc = overlay_shards(s, nid, first, &vec);
    if (rc != 0) {
        free(vec.v);
        return rc;
    }
    if (vec.n > 0)
        qsort(vec.v, vec.n, sizeof(*vec.v), cmp_u32);
    uint32_t u = 0;
    for (uint32_t i = 0; i < vec.n; i++) {
        if (u == 0 || vec.v[u - 1] != vec.v[i])
            vec.v[u++] = vec.v[i];
    }
    *out = vec.v;
    *n = u;
    return 0;
}

int osd__ext_punch_from(struct osd_store *s, uint64_t nid, uint64_t size, uint64_t from,
                        int64_t *blocks_delta)
{
    uint64_t nb = CAIRN_ALIGN_UP(size, OSD_STORE_BLOCK) / OSD_STORE_BLOCK;
    if (from >= nb)
        return 0; /* inv. 4: no blocks at or past the end */
    uint32_t first = (uint32_t)(from / OSD__SHARD_BLOCKS);
    uint32_t end = (uint32_t)((nb + OSD__SHARD_BLOCKS - 1) / OSD__SHARD_BLOCKS);
    uint32_t *idx = NULL, n = 0;
    bool scanned = end - first > PUNCH_DIRECT_SHARDS;
    if (scanned) {
        int rc = existing_shards(s, nid, first, &idx, &n);
        if (rc != 0)
            return rc;
    }
    struct osd__ecur c;
    osd__ecur_init(&c, nid);
    int rc = 0;
    uint32_t count = scanned ? n : end - first;
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        uint32_t sh = scanned ? idx[i] : first + i;
        rc = osd__ecur_seek(s, &c, (uint64_t)sh * OSD__SHARD_BLOCKS);
        if (rc == 0)
            rc = punch_shard(s, &c, from, blocks_delta);
    }
    if (rc == 0)
        rc = osd__ecur_flush(s, &c);
    free(idx);
    return rc;
}

/* Deferred writes: partial-block overwrites whose full 4 KiB image rides in
 * the RocksDB batch as a D record and is written in place only after that
 * batch is durable. The map pblock -> newest image serves reads and later
 * read-modify-writes until the image is applied. Entries added while a group
 * is prepared are journaled so a failed transaction can undo them; a block
 * freed while an image is pending has that image cancelled and its D record
 * deleted in the same batch (inv. 7). Commit thread only. */
#include "osd/store/internal.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IMG_CACHE_MAX 256u

enum {
    J_ADD = 1,
    J_CANCEL = 2,
};

int osd__dmap_init(struct osd__dmap *dm)
{
    memset(dm, 0, sizeof(*dm));
    dm->img_cache = calloc(IMG_CACHE_MAX, sizeof(*dm->img_cache));
    if (dm->img_cache == NULL)
        return -ENOMEM;
    return osd__u64map_init(&dm->map, 64);
}

static void dfr_free(struct osd__dmap *dm, struct osd__dfr *d)
{
    osd__dmap_image_put(dm, d->image);
    free(d);
}

void osd__dmap_fini(struct osd__dmap *dm)
{
    for (uint32_t i = 0; dm->map.keys != NULL && i <= dm->map.mask; i++) {
        void *v;
        if (osd__u64map_slot(&dm->map, i, &v) != 0) {
            struct osd__dfr *d = v;
            if (d->older != NULL)
                dfr_free(dm, d->older);
            dfr_free(dm, d);
        }
    }
    osd__u64map_fini(&dm->map);
    for (uint32_t i = 0; i < dm->ncache; i++)
        free(dm->img_cache[i]);
    free(dm->img_cache);
    free(dm->journal);
    memset(dm, 0, sizeof(*dm));
}

uint8_t *osd__dmap_image_get(struct osd__dmap *dm)
{
    if (dm->ncache > 0)
        return dm->img_cache[--dm->ncache];
    void *p = NULL;
    if (posix_memalign(&p, OSD_STORE_BLOCK, OSD_STORE_BLOCK) != 0)
        return NULL;
    return p;
}

void osd__dmap_image_put(struct osd__dmap *dm, uint8_t *img)
{
    if (dm->ncache < IMG_CACHE_MAX)
        dm->img_cache[dm->ncache++] = img;
    else
        free(img);
}

const uint8_t *osd__dmap_lookup(const struct osd__dmap *dm, uint64_t pblock)
{
    const struct osd__dfr *d = osd__u64map_get(&dm->map, pblock);
    return d != NULL && !d->cancelled ? d->image : NULL;
}

static int journal_push(struct osd__dmap *dm, struct osd__dfr *d, uint8_t op)
{
    if (dm->njournal == dm->jcap) {
        uint32_t cap = dm->jcap ? dm->jcap * 2 : 64;
        struct osd__dfr_jent *j = realloc(dm->journal, cap * sizeof(*j));
        if (j == NULL)
            return -ENOMEM;
        dm->journal = j;
        dm->jcap = cap;
    }
    dm->journal[dm->njournal++] = (struct osd__dfr_jent){.d = d, .op = op};
    return 0;
}

static int del_record(struct osd_store *s, uint64_t seq)
{
    uint8_t key[16];
    size_t kl = osd__key_defer(key, seq);
    return osd__ov_del(s->ov, key, kl);
}

int osd__dfr_add(struct osd_store *s, uint64_t pblock, uint8_t *image)
{
    struct osd__dmap *dm = &s->dmap;
    struct osd__dfr *d = malloc(sizeof(*d));
    uint8_t *rec = osd__ov_alloc(s->ov, OSD__DEFER_LEN);
    if (d == NULL || rec == NULL || journal_push(dm, d, J_ADD) != 0) {
        free(d);
        osd__dmap_image_put(dm, image);
        return -ENOMEM;
    }
    *d = (struct osd__dfr){.pblock = pblock, .seq = s->next_dseq++, .image = image};
    d->older = osd__u64map_get(&dm->map, pblock);
    CAIRN_ASSERT(d->older == NULL || !d->older->cancelled); /* freed blocks are unreferenced */
    uint8_t key[16];
    size_t kl = osd__key_defer(key, d->seq);
    osd__defer_encode(pblock, image, rec);
    int rc = osd__ov_put(s->ov, key, kl, rec, OSD__DEFER_LEN);
    /* inv. 8: one live D record per block; the new image supersedes the old. */
    if (rc == 0 && d->older != NULL)
        rc = del_record(s, d->older->seq);
    if (rc == 0)
        rc = osd__u64map_put(&dm->map, pblock, d);
    if (rc != 0) {
        dm->njournal--;
        dfr_free(dm, d);
        return rc;
    }
    return 0;
}

int osd__dfr_cancel(struct osd_store *s, uint64_t pblock)
{
    struct osd__dfr *d = osd__u64map_get(&s->dmap.map, pblock);
    if (d == NULL || d->cancelled)
        return 0;
    int rc = journal_push(&s->dmap, d, J_CANCEL);
    if (rc == 0)
        rc = del_record(s, d->seq);
    if (rc != 0)
        return rc;
    d->cancelled = true;
    return 0;
}

uint32_t osd__dfr_mark(const struct osd_store *s)
{
    return s->dmap.njournal;
}

void osd__dfr_rollback(struct osd_store *s, uint32_t mark)
{
    struct osd__dmap *dm = &s->dmap;
    if (mark < dm->sealed)
        dm->sealed = mark; /* only after a failed batch: the store is failed */
    while (dm->njournal > mark) {
        struct osd__dfr_jent *j = &dm->journal[--dm->njournal];
        struct osd__dfr *d = j->d;
        if (j->op == J_CANCEL) {
            d->cancelled = false;
            continue;
        }
        if (d->older != NULL)
            osd__u64map_put(&dm->map, d->pblock, d->older); /* slot exists: no alloc */
        else
            osd__u64map_del(&dm->map, d->pblock);
        dfr_free(dm, d);
    }
}

/* Drops @d, which the map no longer references. */
static void retire(struct osd__dmap *dm, struct osd__dfr *d)
{
    if (d->committed)
        dm->committed--;
    dfr_free(dm, d);
}

void osd__dfr_seal(struct osd_store *s)
{
    s->dmap.sealed = s->dmap.njournal;
}

void osd__dfr_commit(struct osd_store *s)
{
    struct osd__dmap *dm = &s->dmap;
    for (uint32_t i = 0; i < dm->sealed; i++) {
        struct osd__dfr *d = dm->journal[i].d;
        if (dm->journal[i].op == J_ADD) {
            if (d->older != NULL)
                retire(dm, d->older);
            d->older = NULL;
            d->committed = true;
            dm->committed++;
            OSD__STAT_ADD(s, deferred_writes, 1);
        } else {
            CAIRN_ASSERT(osd__u64map_get(&dm->map, d->pblock) == d); /* inv. 7 */
            osd__u64map_del(&dm->map, d->pblock);
            retire(dm, d);
        }
    }
    if (dm->sealed > 0)
        memmove(dm->journal, dm->journal + dm->sealed,
                (dm->njournal - dm->sealed) * sizeof(*dm->journal));
    dm->njournal -= dm->sealed;
    dm->sealed = 0;
    OSD__STAT_SET(s, deferred_pending, dm->committed);
}

static int cmp_pblock(const void *a, const void *b)
{
    const struct osd__dfr *x = *(struct osd__dfr *const *)a;
    const struct osd__dfr *y = *(struct osd__dfr *const *)b;
    return x->pblock < y->pblock ? -1 : x->pblock > y->pblock;
}

/* Submits the sorted images, merging neighbouring blocks into one request. */
static int submit_images(struct osd_store *s, struct osd__dfr **v, uint32_t n)
{
    for (uint32_t i = 0; i < n;) {
        struct osd__ioreq *r = osd__ioreq_get(s);
        if (r == NULL)
            return -EIO;
        uint32_t k = 0;
        while (i + k < n && k < OSD_IO_MAX_IOV && v[i + k]->pblock == v[i]->pblock + k) {
            r->iovs[k].iov_base = v[i + k]->image;
            r->iovs[k].iov_len = OSD_STORE_BLOCK;
            k++;
        }
        r->req.op = OSD_IO_WRITE;
        r->req.fd = s->data_fd;
        r->req.offset = v[i]->pblock * OSD_STORE_BLOCK;
        r->req.iov = r->iovs;
        r->req.iovcnt = (int)k;
        r->req.cb = osd__ioreq_write_done;
        r->count = k;
        int rc = osd_io_submit(s->io, &r->req);
        if (rc != 0) {
            osd__ioreq_put(s, r);
            return rc;
        }
        i += k;
    }
    return 0;
}

/* Deletes the applied images' D records. Unsynced: a later synced batch makes
 * the deletes durable before any applied block can be reused (inv. 8). */
static int delete_records(struct osd_store *s, struct osd__dfr **v, uint32_t n)
{
    osd__kv_batch_clear(s->batch);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t key[16];
        size_t kl = osd__key_defer(key, v[i]->seq);
        osd__kv_batch_del(s->batch, key, kl);
    }
    return osd__kv_write(s->kv, s->batch, false);
}

int osd__dfr_apply(struct osd_store *s)
{
    struct osd__dmap *dm = &s->dmap;
    if (dm->committed == 0 || osd__store_is_failed(s))
        return 0;
    CAIRN_ASSERT(dm->njournal == 0);           /* between groups only */
    CAIRN_ASSERT(dm->map.count == dm->committed);
    uint32_t n = 0;
    struct osd__dfr **v = malloc(dm->map.count * sizeof(*v));
    if (v == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i <= dm->map.mask; i++) {
        void *d;
        if (osd__u64map_slot(&dm->map, i, &d) != 0)
            v[n++] = d;
    }
    qsort(v, n, sizeof(*v), cmp_pblock);
    int rc = submit_images(s, v, n);
    int drc = osd__io_drain(s);
    if (rc == 0)
        rc = drc != 0 ? drc : s->io_error;
    if (rc == 0 && s->opts.sync)
        rc = osd__io_sync(s, OSD_IO_FDATASYNC, 0, NULL, 0);
    if (rc == 0)
        rc = delete_records(s, v, n);
    if (rc != 0) {
        osd__store_fail(s, rc, "deferred apply");
        free(v);
        return rc;
    }
    for (uint32_t i = 0; i < n; i++)
        dfr_free(dm, v[i]);
    osd__u64map_clear(&dm->map);
    dm->committed = 0;
    OSD__STAT_SET(s, deferred_pending, 0);
    free(v);
    return 0;
}

static int replay_one(struct osd_store *s, const uint8_t *k, size_t kl, const uint8_t *v,
                      size_t vl, uint64_t *max_seq)
{
    uint64_t pblock;
    const uint8_t *image;
    if (kl != 9 || osd__defer_decode(v, vl, s->nblocks, &pblock, &image) != 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store %s: bad deferred record", s->path);
        return -EIO;
    }
    uint64_t seq = osd__get_be64(k + 1);
    *max_seq = CAIRN_MAX(*max_seq, seq);
    memcpy(s->scratch, image, OSD_STORE_BLOCK);
    int rc = osd__io_sync(s, OSD_IO_WRITE, pblock, s->scratch, OSD_STORE_BLOCK);
    if (rc == 0)
        osd__kv_batch_del(s->batch, k, kl);
    return rc;
}

int osd__dfr_replay(struct osd_store *s)
{
    uint8_t lo[1] = {OSD__K_DEFER}, hi[1] = {OSD__K_DEFER + 1};
    struct osd__kv_iter *it;
    int rc = osd__kv_iter_create(s->kv, lo, 1, hi, 1, &it);
    if (rc != 0)
        return rc;
    uint64_t max_seq = 0, count = 0;
    osd__kv_batch_clear(s->batch);
    for (; rc == 0 && osd__kv_iter_valid(it); osd__kv_iter_next(it), count++) {
        size_t kl, vl;
        const uint8_t *k = osd__kv_iter_key(it, &kl);
        const uint8_t *v = osd__kv_iter_value(it, &vl);
        rc = replay_one(s, k, kl, v, vl, &max_seq);
    }
    if (rc == 0)
        rc = osd__kv_iter_status(it);
    osd__kv_iter_destroy(it);
    if (rc == 0 && count > 0) {
        rc = osd__io_sync(s, OSD_IO_FDATASYNC, 0, NULL, 0);
        if (rc == 0)
            rc = osd__kv_write(s->kv, s->batch, true);
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_STORE, "store %s: replayed %llu deferred writes",
                  s->path, (unsigned long long)count);
    }
    s->next_dseq = max_seq + 1;
    return rc;
}

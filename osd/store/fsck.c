/* fsck: decodes every record, rebuilds the used-block bitmap from the extent
 * maps and compares it with the persisted allocator records (leaked,
 * double-used, referenced-but-free blocks); deep mode also reads every
 * referenced block and checks its crc32c. Runs on the commit thread between
 * groups (osd_store_fsck sends it there), so the store is quiescent. */
#include "osd/store/internal.h"

#include "common/crc32c.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct objinfo {
    uint64_t size;
    uint64_t blocks;      /* from the object record */
    uint64_t seen;        /* referenced by its extent shards */
};

struct fsck {
    struct osd_store *s;
    struct osd_fsck_report *rep;
    bool deep;
    uint64_t *ref;        /* blocks referenced by some extent */
    uint64_t *persisted;  /* A records as stored */
    struct osd__u64map objs; /* nid -> struct objinfo */
};

__attribute__((format(printf, 3, 4))) static void fsck_err(struct fsck *f, uint64_t *counter,
                                                          const char *fmt, ...)
{
    (*counter)++;
    f->rep->errors++;
    if (f->rep->first_error[0] != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->rep->first_error, sizeof(f->rep->first_error), fmt, ap);
    va_end(ap);
}

static bool bit(const uint64_t *bm, uint64_t b)
{
    return (bm[b / 64] >> (b % 64)) & 1;
}

/* Iterates keys with one prefix byte, calling @fn for each. */
static int each(struct fsck *f, uint8_t prefix,
                int (*fn)(struct fsck *, const uint8_t *, size_t, const uint8_t *, size_t))
{
    uint8_t lo[1] = {prefix}, hi[1] = {(uint8_t)(prefix + 1)};
    struct osd__kv_iter *it;
    int rc = osd__kv_iter_create(f->s->kv, lo, 1, hi, 1, &it);
    if (rc != 0)
        return rc;
    for (; rc == 0 && osd__kv_iter_valid(it); osd__kv_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = osd__kv_iter_key(it, &kl);
        const uint8_t *v = osd__kv_iter_value(it, &vl);
        rc = fn(f, k, kl, v, vl);
    }
    if (rc == 0)
        rc = osd__kv_iter_status(it);
    osd__kv_iter_destroy(it);
    return rc;
}

static int check_alloc(struct fsck *f, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    uint32_t r = kl == 5 ? osd__get_be32(k + 1) : UINT32_MAX;
    if (r >= f->s->alloc.nregions || vl != OSD__REGION_BYTES) {
        fsck_err(f, &f->rep->bad_records, "bad allocator record");
        return 0;
    }
    for (unsigned i = 0; i < OSD__REGION_BYTES / 8; i++)
        f->persisted[(uint64_t)r * (OSD__REGION_BLOCKS / 64) + i] = osd__get_le64(v + i * 8);
    return 0;
}

static int check_obj(struct fsck *f, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct osd__onode on;
    const uint8_t *sep = kl > 1 ? memchr(k + 1, 0, kl - 1) : NULL;
    if (sep == NULL || osd__onode_decode(v, vl, &on) != 0 ||
        osd__u64map_get(&f->objs, on.nid) != NULL) {
        fsck_err(f, &f->rep->bad_records, "bad object record %.*s", (int)kl - 1, k + 1);
        return 0;
    }
    uint8_t ckey[OSD__KEY_MAX];
    size_t cl = osd__key_coll(ckey, (const char *)k + 1, (size_t)(sep - k - 1));
    void *cv;
    size_t cvl;
    int rc = osd__kv_get(f->s->kv, ckey, cl, &cv, &cvl);
    if (rc == 0)
        free(cv);
    else if (rc == -ENOENT)
        fsck_err(f, &f->rep->bad_records, "object %s without collection", sep + 1);
    else
        return rc;
    struct objinfo *oi = calloc(1, sizeof(*oi));
    if (oi == NULL)
        return -ENOMEM;
    oi->size = on.size;
    oi->blocks = on.blocks;
    f->rep->objects++;
    return osd__u64map_put(&f->objs, on.nid, oi);
}

static void check_data(struct fsck *f, uint64_t nid, uint64_t lblock, uint64_t pb, uint32_t crc)
{
    struct osd_store *s = f->s;
    const uint8_t *img = osd__dmap_lookup(&s->dmap, pb);
    if (img == NULL && osd__io_sync(s, OSD_IO_READ, pb, s->scratch, OSD_STORE_BLOCK) != 0) {
        fsck_err(f, &f->rep->csum_errors, "read error nid %llu block %llu",
                 (unsigned long long)nid, (unsigned long long)lblock);
        return;
    }
    if (cairn_crc32c(0, img != NULL ? img : s->scratch, OSD_STORE_BLOCK) != crc)
        fsck_err(f, &f->rep->csum_errors, "crc32c mismatch nid %llu block %llu (data block %llu)",
                 (unsigned long long)nid, (unsigned long long)lblock, (unsigned long long)pb);
}

static int check_ext(struct fsck *f, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct osd__shard sh;
    uint64_t nid = kl == 13 ? osd__get_be64(k + 1) : 0;
    struct objinfo *oi = nid != 0 ? osd__u64map_get(&f->objs, nid) : NULL;
    if (oi == NULL || osd__shard_decode(v, vl, f->s->nblocks, &sh) != 0) {
        fsck_err(f, &f->rep->bad_records, "bad or orphan extent record nid %llu",
                 (unsigned long long)nid);
        return 0;
    }
    uint64_t base = (uint64_t)osd__get_be32(k + 9) * OSD__SHARD_BLOCKS;
    for (unsigned i = 0; i < OSD__SHARD_BLOCKS; i++) {
        uint64_t pb = sh.pblock[i];
        if (pb == 0)
            continue;
        f->rep->blocks_referenced++;
        oi->seen++;
        if ((base + i) * OSD_STORE_BLOCK >= oi->size)
            fsck_err(f, &f->rep->bad_records, "nid %llu block %llu past the end",
                     (unsigned long long)nid, (unsigned long long)(base + i));
        if (bit(f->ref, pb))
            fsck_err(f, &f->rep->blocks_double_used, "data block %llu referenced twice",
                     (unsigned long long)pb);
        else if (!bit(f->persisted, pb))
            fsck_err(f, &f->rep->blocks_double_used, "data block %llu referenced but free",
                     (unsigned long long)pb);
        f->ref[pb / 64] |= 1ull << (pb % 64);
        if (f->deep)
            check_data(f, nid, base + i, pb, sh.crc[i]);
    }
    return 0;
}

/* X and M records must belong to a live object. */
static int check_owned(struct fsck *f, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    (void)v;
    (void)vl;
    if (kl < 9 || osd__u64map_get(&f->objs, osd__get_be64(k + 1)) == NULL)
        fsck_err(f, &f->rep->bad_records, "orphan %c record", k[0]);
    return 0;
}

static int check_defer(struct fsck *f, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    uint64_t pb;
    const uint8_t *img;
    if (kl != 9 || osd__defer_decode(v, vl, f->s->nblocks, &pb, &img) != 0)
        fsck_err(f, &f->rep->bad_records, "bad deferred record");
    return 0;
}

static void compare(struct fsck *f)
{
    for (uint64_t b = 1; b < f->s->nblocks; b++) {
        if (bit(f->persisted, b) && !bit(f->ref, b))
            fsck_err(f, &f->rep->blocks_leaked, "data block %llu leaked",
                     (unsigned long long)b);
    }
    for (uint32_t i = 0; i <= f->objs.mask; i++) {
        void *v;
        uint64_t nid = osd__u64map_slot(&f->objs, i, &v);
        struct objinfo *oi = v;
        if (nid != 0 && oi->seen != oi->blocks)
            fsck_err(f, &f->rep->bad_records, "nid %llu counts %llu blocks, maps %llu",
                     (unsigned long long)nid, (unsigned long long)oi->blocks,
                     (unsigned long long)oi->seen);
    }
}

int osd__fsck_run(struct osd_store *s, bool deep, struct osd_fsck_report *rep)
{
    struct fsck f = {.s = s, .rep = rep, .deep = deep};
    memset(rep, 0, sizeof(*rep));
    f.ref = calloc(s->alloc.nwords, 8);
    f.persisted = calloc(s->alloc.nwords, 8);
    int rc = f.ref == NULL || f.persisted == NULL ? -ENOMEM : osd__u64map_init(&f.objs, 1024);
    if (rc == 0)
        rc = each(&f, OSD__K_ALLOC, check_alloc);
    if (rc == 0)
        rc = each(&f, OSD__K_OBJ, check_obj);
    if (rc == 0)
        rc = each(&f, OSD__K_EXT, check_ext);
    if (rc == 0)
        rc = each(&f, OSD__K_XATTR, check_owned);
    if (rc == 0)
        rc = each(&f, OSD__K_OMAP, check_owned);
    if (rc == 0)
        rc = each(&f, OSD__K_DEFER, check_defer);
    if (rc == 0)
        compare(&f);
    for (uint32_t i = 0; f.objs.keys != NULL && i <= f.objs.mask; i++) {
        void *v;
        if (osd__u64map_slot(&f.objs, i, &v) != 0)
            free(v);
    }
    osd__u64map_fini(&f.objs);
    free(f.ref);
    free(f.persisted);
    return rc;
}

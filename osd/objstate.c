/* Whole-object state for recovery (docs/osd.md §6): read an object's data,
 * xattrs (its version among them) and omap from the store, and replace an
 * object by such a state in one transaction. Pushes, pulls and backfill
 * copy objects this way; scrub digests them (§8). Loop thread only. */
#include "osd/internal.h"

#include "common/bytes.h"
#include "common/crc32c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct kv_collect {
    struct osd_obj_state *st;
    bool omap;
    int err;
};

static int kv_add(struct kv_collect *c, const void *k, size_t kl, const void *v, size_t vl)
{
    struct osd_obj_state *st = c->st;
    struct proto_peer_kv **arr = c->omap ? &st->omap : &st->xattrs;
    uint32_t *n = c->omap ? &st->n_omap : &st->n_xattrs;
    uint32_t *cap = c->omap ? &st->cap_omap : &st->cap_xattrs;

    if (*n >= PROTO_PEER_KV_MAX)
        return c->err = -E2BIG;
    if (*n == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 16;
        struct proto_peer_kv *a = realloc(*arr, ncap * sizeof(*a));
        if (!a)
            return c->err = -ENOMEM;
        *arr = a;
        *cap = ncap;
    }
    uint8_t *buf = malloc(kl + vl + 1);
    if (!buf)
        return c->err = -ENOMEM;
    memcpy(buf, k, kl);
    if (vl)
        memcpy(buf + kl, v, vl);
    (*arr)[(*n)++] = (struct proto_peer_kv){{buf, kl}, {buf + kl, vl}};
    return 0;
}

static int kv_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    return kv_add(arg, k, kl, v, vl) < 0 ? 1 : 0;
}

void osd__obj_state_free(struct osd_obj_state *st)
{
    for (uint32_t i = 0; i < st->n_xattrs; i++)
        free((void *)st->xattrs[i].key.p);
    for (uint32_t i = 0; i < st->n_omap; i++)
        free((void *)st->omap[i].key.p);
    free(st->xattrs);
    free(st->omap);
    free(st->data);
    memset(st, 0, sizeof(*st));
}

int osd__obj_state_read(struct osd_store *store, const char *coll, const char *oid,
                        struct osd_obj_state *st)
{
    struct osd_obj_stat os;
    bool more = false;
    size_t got = 0;

    memset(st, 0, sizeof(*st));
    int r = osd_store_stat(store, coll, oid, &os);
    if (r == -ENOENT)
        return 0; /* absent: exists = false */
    if (r < 0)
        return r;
    if (os.size > OSD_READ_MAX)
        return -EFBIG;
    st->exists = true;
    st->size = os.size;
    if (os.size && !(st->data = malloc(os.size)))
        return -ENOMEM;
    if (os.size && (r = osd_store_read(store, coll, oid, 0, os.size, st->data, &got)) < 0)
        goto fail;
    if (got != os.size) {
        r = -EIO;
        goto fail;
    }
    struct kv_collect c = {.st = st};
    if ((r = osd_store_xattrs(store, coll, oid, kv_fn, &c)) < 0 || (r = c.err) < 0)
        goto fail;
    c.omap = true;
    r = osd_store_omap_list(store, coll, oid, NULL, 0, 0, kv_fn, &c, &more);
    if (r < 0 || (r = c.err) < 0)
        goto fail;
    return 0;
fail:
    osd__obj_state_free(st);
    return r < 0 ? r : -EIO;
}

int osd__obj_state_apply(struct osd_txn *txn, const char *oid, bool exists, uint64_t size,
                         const uint8_t *data, const struct proto_peer_kv *xattrs,
                         uint32_t n_xattrs, const struct proto_peer_kv *omap, uint32_t n_omap)
{
    char name[OSD_STORE_XATTR_NAME_MAX + 1];
    /* touch + remove: whatever was there goes, whether it existed or not. */
    int r = osd_txn_touch(txn, oid);

    if (r == 0)
        r = osd_txn_remove(txn, oid);
    if (r < 0 || !exists)
        return r;
    if ((r = osd_txn_touch(txn, oid)) < 0)
        return r;
    if (size && (r = osd_txn_write(txn, oid, 0, data, size)) < 0)
        return r;
    for (uint32_t i = 0; i < n_xattrs; i++) {
        if (xattrs[i].key.len > OSD_STORE_XATTR_NAME_MAX)
            return -EINVAL;
        memcpy(name, xattrs[i].key.p, xattrs[i].key.len);
        name[xattrs[i].key.len] = 0;
        if ((r = osd_txn_setxattr(txn, oid, name, xattrs[i].value.p, xattrs[i].value.len)) < 0)
            return r;
    }
    for (uint32_t i = 0; i < n_omap; i++)
        if ((r = osd_txn_omap_set(txn, oid, omap[i].key.p, omap[i].key.len, omap[i].value.p,
                                  omap[i].value.len)) < 0)
            return r;
    return 0;
}

/* ---- digests for scrub --------------------------------------------------------- */

#define DIGEST_READ_CHUNK (1u << 20)

struct kv_digest {
    uint32_t crc;
    uint64_t version;
    bool xattrs;             /* pick the version out */
};

/* Length-prefixed, so that ("ab","c") and ("a","bc") differ. */
static int digest_kv_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    struct kv_digest *c = arg;
    uint8_t len[8];

    for (unsigned i = 0; i < 4; i++) {
        len[i] = (uint8_t)(kl >> (8 * i));
        len[4 + i] = (uint8_t)(vl >> (8 * i));
    }
    c->crc = cairn_crc32c(c->crc, len, 4);
    c->crc = cairn_crc32c(c->crc, k, kl);
    c->crc = cairn_crc32c(c->crc, len + 4, 4);
    c->crc = cairn_crc32c(c->crc, v, vl);
    if (c->xattrs && kl == strlen(OSD_VERSION_XATTR) && memcmp(k, OSD_VERSION_XATTR, kl) == 0 &&
        vl == 8)
        c->version = cairn_get_le64(v);
    return 0;
}

static int digest_data(struct osd_store *store, const char *coll, const char *oid, uint64_t size,
                       uint32_t *crc)
{
    uint8_t *buf = malloc(size < DIGEST_READ_CHUNK ? (size ? size : 1) : DIGEST_READ_CHUNK);
    int r = buf ? 0 : -ENOMEM;

    *crc = 0;
    for (uint64_t off = 0; r == 0 && off < size;) {
        size_t want = size - off < DIGEST_READ_CHUNK ? (size_t)(size - off) : DIGEST_READ_CHUNK;
        size_t got = 0;
        r = osd_store_read(store, coll, oid, off, want, buf, &got);
        if (r == 0 && got != want)
            r = -EIO;
        if (r == 0)
            *crc = cairn_crc32c(*crc, buf, got);
        off += want;
    }
    free(buf);
    return r;
}

void osd__obj_digest(struct osd_store *store, const char *coll, const char *oid, bool deep,
                     struct osd_obj_digest *out)
{
    struct osd_obj_stat os;
    struct kv_digest xa = {.xattrs = true}, om = {0};
    bool more = false;

    memset(out, 0, sizeof(*out));
    int r = osd_store_stat(store, coll, oid, &os);
    if (r == -ENOENT)
        return;
    out->exists = r == 0;
    out->size = r == 0 ? os.size : 0;
    if (r == 0)
        r = osd_store_xattrs(store, coll, oid, digest_kv_fn, &xa);
    out->attr = xa.crc;
    out->version = xa.version;
    if (r == 0 && deep)
        r = osd_store_omap_list(store, coll, oid, NULL, 0, 0, digest_kv_fn, &om, &more);
    out->omap = om.crc;
    if (r == 0 && deep)
        r = digest_data(store, coll, oid, out->size, &out->data);
    out->read_error = r;
}

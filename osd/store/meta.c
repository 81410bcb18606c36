/* Metadata-only reads (stat, xattrs, omap, listings) run on the caller's
 * thread straight against RocksDB: the commit thread fires a callback only
 * after the group's batch is written, so these see every transaction whose
 * callback has fired. Object records come from the record cache when it
 * holds them (it is brought up to date before those callbacks fire, too).
 * Iterations use RocksDB's implicit snapshot. */
#include "osd/store/internal.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OKEY_MAX (2u + 2u * OSD_STORE_NAME_MAX)

static bool name_ok(const char *name)
{
    if (name == NULL)
        return false;
    size_t len = strnlen(name, OSD_STORE_NAME_MAX + 1);
    return len > 0 && len <= OSD_STORE_NAME_MAX;
}

static int get_onode(struct osd_store *s, const char *coll, const char *oid,
                     struct osd__onode *on)
{
    if (s == NULL || !name_ok(coll) || !name_ok(oid))
        return -EINVAL;
    uint8_t key[OKEY_MAX];
    size_t kl = osd__key_obj(key, coll, strlen(coll), oid, strlen(oid));
    uint8_t cached[OSD__ONODE_MAX];
    void *v = NULL;
    size_t vl;
    int rc = osd__rc_peek(&s->rcache, key, kl, cached, sizeof(cached), &vl);
    if (rc == 0)
        return -ENOENT;
    if (rc < 0 && (rc = osd__kv_get(s->kv, key, kl, &v, &vl)) != 0)
        return rc;
    rc = osd__onode_decode(v != NULL ? v : cached, vl, on);
    free(v);
    if (rc != 0)
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store %s: bad object record %s/%s",
                  s->path, coll, oid);
    return rc;
}

int osd_store_stat(struct osd_store *s, const char *coll, const char *oid,
                   struct osd_obj_stat *st)
{
    struct osd__onode on;
    int rc = get_onode(s, coll, oid, &on);
    if (rc != 0)
        return rc;
    st->size = on.size;
    st->mtime_ns = on.mtime_ns;
    st->blocks = on.blocks;
    return 0;
}

/* Copies a value of @vl bytes into @buf (-ERANGE past @cap); @len gets @vl. */
static int copy_out(const void *v, size_t vl, void *buf, size_t cap, size_t *len)
{
    if (len != NULL)
        *len = vl;
    if (vl > cap)
        return -ERANGE;
    if (vl > 0)
        memcpy(buf, v, vl);
    return 0;
}

/* Point lookup of one key under an object: copies the value into @buf. */
static int get_value(struct osd_store *s, const uint8_t *key, size_t kl, void *buf, size_t cap,
                     size_t *len)
{
    void *v;
    size_t vl;
    int rc = osd__kv_get(s->kv, key, kl, &v, &vl);
    if (rc == -ENOENT)
        return -ENODATA;
    if (rc != 0)
        return rc;
    rc = copy_out(v, vl, buf, cap, len);
    free(v);
    return rc;
}

int osd_store_getxattr(struct osd_store *s, const char *coll, const char *oid,
                       const char *name, void *buf, size_t cap, size_t *len)
{
    struct osd__onode on;
    if (name == NULL || strnlen(name, OSD_STORE_XATTR_NAME_MAX + 1) > OSD_STORE_XATTR_NAME_MAX ||
        (buf == NULL && cap > 0))
        return -EINVAL;
    int rc = get_onode(s, coll, oid, &on);
    if (rc != 0)
        return rc;
    const uint8_t *v;
    size_t vl;
    if (osd__xa_find(&on, name, strlen(name), &v, &vl))
        return copy_out(v, vl, buf, cap, len);
    if ((on.flags & OSD__ONODE_XKEYS) == 0)
        return -ENODATA;
    uint8_t key[16 + OSD_STORE_XATTR_NAME_MAX];
    size_t kl = osd__key_xattr(key, on.nid, name, strlen(name));
    return get_value(s, key, kl, buf, cap, len);
}

int osd_store_omap_get(struct osd_store *s, const char *coll, const char *oid,
                       const void *key, size_t key_len, void *buf, size_t cap, size_t *len)
{
    struct osd__onode on;
    if (key_len > OSD__OMAP_KEY_MAX || (key == NULL && key_len > 0) || (buf == NULL && cap > 0))
        return -EINVAL;
    int rc = get_onode(s, coll, oid, &on);
    if (rc != 0)
        return rc;
    uint8_t k[16 + OSD__OMAP_KEY_MAX];
    size_t kl = osd__key_omap(k, on.nid, key, key_len);
    return get_value(s, k, kl, buf, cap, len);
}

/* Calls @fn for keys in [@lo, @hi) after stripping @strip prefix bytes;
 * skips a key equal to @skip; stops after @max (0: no limit). */
struct scan {
    const uint8_t *lo;
    size_t lol;
    const uint8_t *hi;
    size_t hil;
    size_t strip;
    bool names_only;
    unsigned max;
    osd_store_kv_fn fn;
    void *arg;
    bool *more;
};

static int scan(struct osd_store *s, const struct scan *sc, const uint8_t *skip, size_t skipl)
{
    struct osd__kv_iter *it;
    int rc = osd__kv_iter_create(s->kv, sc->lo, sc->lol, sc->hi, sc->hil, &it);
    if (rc != 0)
        return rc;
    unsigned n = 0;
    if (sc->more != NULL)
        *sc->more = false;
    for (; osd__kv_iter_valid(it); osd__kv_iter_next(it)) {
        size_t kl, vl = 0;
        const uint8_t *k = osd__kv_iter_key(it, &kl);
        const uint8_t *v = sc->names_only ? NULL : osd__kv_iter_value(it, &vl);
        if (kl < sc->strip)
            continue;
        if (skip != NULL && kl == skipl && memcmp(k, skip, kl) == 0)
            continue;
        if (sc->max > 0 && n == sc->max) {
            *sc->more = true;
            break;
        }
        n++;
        rc = sc->fn(k + sc->strip, kl - sc->strip, v, vl, sc->arg);
        if (rc != 0)
            break;
    }
    if (rc == 0)
        rc = osd__kv_iter_status(it);
    osd__kv_iter_destroy(it);
    return rc;
}

/* Merges the inline xattrs into the X keys' walk, both in name order (a
 * name is never in both places). */
struct xa_merge {
    const struct osd__onode *on;
    size_t next; /* offset of the next inline xattr to pass on */
    osd_store_kv_fn fn;
    void *arg;
};

/* Passes on the inline xattrs that sort before @name (all, when NULL). */
static int xa_merge_upto(struct xa_merge *m, const uint8_t *name, size_t nlen)
{
    const uint8_t *n, *v;
    size_t nl, vl, after;
    while ((after = osd__xa_entry(m->on, m->next, &n, &nl, &v, &vl)) != 0) {
        if (name != NULL && osd__name_cmp(n, nl, name, nlen) > 0)
            break;
        m->next = after;
        int rc = m->fn(n, nl, v, vl, m->arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int xa_merge_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    struct xa_merge *m = arg;
    int rc = xa_merge_upto(m, k, kl);
    return rc != 0 ? rc : m->fn(k, kl, v, vl, m->arg);
}

int osd_store_xattrs(struct osd_store *s, const char *coll, const char *oid,
                     osd_store_kv_fn fn, void *arg)
{
    struct osd__onode on;
    if (fn == NULL)
        return -EINVAL;
    int rc = get_onode(s, coll, oid, &on);
    if (rc != 0)
        return rc;
    struct xa_merge m = {.on = &on, .fn = fn, .arg = arg};
    if ((on.flags & OSD__ONODE_XKEYS) != 0) {
        uint8_t lo[16], hi[16];
        struct scan sc = {.lo = lo, .lol = osd__key_nid(lo, OSD__K_XATTR, on.nid), .hi = hi,
                          .hil = osd__key_nid(hi, OSD__K_XATTR, on.nid + 1), .strip = 9,
                          .fn = xa_merge_fn, .arg = &m};
        rc = scan(s, &sc, NULL, 0);
        if (rc != 0)
            return rc;
    }
    return xa_merge_upto(&m, NULL, 0);
}

int osd_store_omap_list(struct osd_store *s, const char *coll, const char *oid,
                        const void *after, size_t after_len, unsigned max, osd_store_kv_fn fn,
                        void *arg, bool *more)
{
    struct osd__onode on;
    if (fn == NULL || more == NULL || after_len > OSD__OMAP_KEY_MAX ||
        (after == NULL && after_len > 0))
        return -EINVAL;
    int rc = get_onode(s, coll, oid, &on);
    if (rc != 0)
        return rc;
    uint8_t lo[16 + OSD__OMAP_KEY_MAX], hi[16];
    size_t lol = after != NULL ? osd__key_omap(lo, on.nid, after, after_len)
                               : osd__key_nid(lo, OSD__K_OMAP, on.nid);
    struct scan sc = {.lo = lo, .lol = lol, .hi = hi,
                      .hil = osd__key_nid(hi, OSD__K_OMAP, on.nid + 1), .strip = 9,
                      .max = max, .fn = fn, .arg = arg, .more = more};
    return scan(s, &sc, after != NULL ? lo : NULL, lol);
}

static int coll_check(struct osd_store *s, const char *coll)
{
    uint8_t key[OKEY_MAX];
    size_t kl = osd__key_coll(key, coll, strlen(coll));
    void *v;
    size_t vl;
    int rc = osd__kv_get(s->kv, key, kl, &v, &vl);
    if (rc == 0)
        free(v);
    return rc;
}

int osd_store_list(struct osd_store *s, const char *coll, const char *after, unsigned max,
                   osd_store_kv_fn fn, void *arg, bool *more)
{
    if (s == NULL || !name_ok(coll) || fn == NULL || more == NULL ||
        (after != NULL && strnlen(after, OSD_STORE_NAME_MAX + 1) > OSD_STORE_NAME_MAX))
        return -EINVAL;
    int rc = coll_check(s, coll);
    if (rc != 0)
        return rc;
    size_t cl = strlen(coll);
    uint8_t lo[OKEY_MAX], hi[OKEY_MAX];
    size_t pl = osd__key_obj(hi, coll, cl, "", 0);
    hi[pl - 1] = 1;
    size_t lol = osd__key_obj(lo, coll, cl, after != NULL ? after : "",
                              after != NULL ? strlen(after) : 0);
    struct scan sc = {.lo = lo, .lol = lol, .hi = hi, .hil = pl, .strip = pl,
                      .names_only = true, .max = max, .fn = fn, .arg = arg, .more = more};
    return scan(s, &sc, after != NULL ? lo : NULL, lol);
}

int osd_store_list_collections(struct osd_store *s, osd_store_kv_fn fn, void *arg)
{
    if (s == NULL || fn == NULL)
        return -EINVAL;
    uint8_t lo[1] = {OSD__K_COLL}, hi[1] = {OSD__K_COLL + 1};
    struct scan sc = {.lo = lo, .lol = 1, .hi = hi, .hil = 1, .strip = 1,
                      .names_only = true, .fn = fn, .arg = arg};
    return scan(s, &sc, NULL, 0);
}

/* Preparing one transaction on the commit thread: each operation reads the
 * current state through the overlay (the group's earlier changes, then
 * RocksDB), checks its preconditions and records its changes in the overlay,
 * the allocator, the deferred map and the group's list of new-block writes.
 * On error the caller (commit.c) rolls all of them back to the transaction's
 * mark, so a failed transaction changes nothing. */
#include "osd/store/internal.h"

#include "common/crc32c.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OKEY_MAX (2u + 2u * OSD_STORE_NAME_MAX)
#define DEL_KEYS_MAX 64u /* more keys of a kind than this: one range delete */

/* The object an operation works on. */
struct obj {
    uint8_t key[OKEY_MAX];
    size_t klen;
    bool exists;
    struct osd__onode on;
};

int osd__ov_state(struct osd_store *s, const void *k, size_t kl, const uint8_t **val,
                  size_t *vl)
{
    int rc = osd__ov_get(s->ov, k, kl, val, vl);
    if (rc == -ENOENT && s->ov_prev != NULL)
        rc = osd__ov_get(s->ov_prev, k, kl, val, vl);
    return rc;
}

bool osd__ov_entry_live(struct osd_store *s, const struct osd__overlay *ov, uint32_t i)
{
    const struct osd__ov_entry *e = &ov->ents[i];
    if (e->kind != OSD__OV_PUT || !osd__ov_is_latest(ov, i))
        return false;
    const uint8_t *v;
    size_t vl;
    return ov == s->ov || osd__ov_get(s->ov, e->key, e->klen, &v, &vl) == -ENOENT;
}

/* The group's copy of a looked-up value: valid until the group ends. */
static int arena_copy(struct osd_store *s, const void *v, size_t len, const uint8_t **val,
                      size_t *vl)
{
    uint8_t *copy = osd__ov_alloc(s->ov, len);
    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, v, len);
    *val = copy;
    *vl = len;
    return 1;
}

int osd__lookup(struct osd_store *s, const void *k, size_t kl, const uint8_t **val,
                size_t *vl)
{
    int rc = osd__ov_state(s, k, kl, val, vl);
    if (rc != -ENOENT)
        return rc;
    bool cached_kind = osd__rc_is_cached_kind(k, kl);
    const uint8_t *cv;
    size_t cvl;
    rc = cached_kind ? osd__rc_get(&s->rcache, k, kl, &cv, &cvl) : -ENOENT;
    if (rc != -ENOENT) {
        OSD__STAT_ADD(s, record_cache_hits, 1);
        return rc == 0 ? 0 : arena_copy(s, cv, cvl, val, vl);
    }
    void *v;
    size_t len;
    OSD__STAT_ADD(s, kv_lookups, 1);
    rc = osd__kv_get(s->kv, k, kl, &v, &len);
    if (rc == -ENOENT && cached_kind)
        osd__rc_set(&s->rcache, k, kl, NULL, 0);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return -EIO;
    if (cached_kind)
        osd__rc_set(&s->rcache, k, kl, v, len);
    rc = arena_copy(s, v, len, val, vl);
    free(v);
    return rc;
}

static int coll_exists(struct osd_store *s, const struct osd_txn *t)
{
    uint8_t key[OKEY_MAX];
    size_t kl = osd__key_coll(key, t->coll, t->coll_len);
    const uint8_t *v;
    size_t vl;
    return osd__lookup(s, key, kl, &v, &vl);
}

/* 1 when the collection holds an object (in the overlay or RocksDB). */
static int coll_has_objects(struct osd_store *s, const struct osd_txn *t)
{
    uint8_t lo[OKEY_MAX], hi[OKEY_MAX];
    size_t lol = osd__key_obj(lo, t->coll, t->coll_len, "", 0);
    memcpy(hi, lo, lol);
    hi[lol - 1] = 1; /* "O" coll "\1": just past every name */
    const struct osd__overlay *ovs[2] = {s->ov, s->ov_prev};
    for (unsigned o = 0; o < 2 && ovs[o] != NULL; o++) {
        for (uint32_t i = 0; i < ovs[o]->n; i++) {
            const struct osd__ov_entry *e = &ovs[o]->ents[i];
            if (e->klen >= lol && memcmp(e->key, lo, lol) == 0 &&
                osd__ov_entry_live(s, ovs[o], i))
                return 1;
        }
    }
    struct osd__kv_iter *it;
    int rc = osd__kv_iter_create(s->kv, lo, lol, hi, lol, &it);
    if (rc != 0)
        return rc;
    int found = 0;
    for (; !found && osd__kv_iter_valid(it); osd__kv_iter_next(it)) {
        size_t kl;
        const uint8_t *k = osd__kv_iter_key(it, &kl);
        const uint8_t *v;
        size_t vl;
        found = osd__ov_state(s, k, kl, &v, &vl) != 0; /* unknown or present */
    }
    rc = osd__kv_iter_status(it);
    osd__kv_iter_destroy(it);
    return rc != 0 ? rc : found;
}

static int obj_load(struct osd_store *s, const struct osd_txn *t, const struct osd__op *op,
                    struct obj *o)
{
    o->klen = osd__key_obj(o->key, t->coll, t->coll_len, op->oid, op->oid_len);
    const uint8_t *v;
    size_t vl;
    int rc = osd__lookup(s, o->key, o->klen, &v, &vl);
    if (rc < 0)
        return rc;
    o->exists = rc == 1;
    if (o->exists && osd__onode_decode(v, vl, &o->on) != 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store %s: bad object record %s/%s",
                  s->path, t->coll, op->oid);
        return -EIO;
    }
    return 0;
}

static void obj_create(struct osd_store *s, struct obj *o)
{
    if (o->exists)
        return;
    memset(&o->on, 0, sizeof(o->on));
    o->on.nid = s->next_nid++;
    o->exists = true;
}

static int obj_store(struct osd_store *s, struct obj *o)
{
    uint8_t val[OSD__ONODE_MAX];
    size_t len = osd__onode_encode(&o->on, val);
    return osd__ov_put(s->ov, o->key, o->klen, val, len);
}

static void blocks_apply(struct obj *o, int64_t delta)
{
    CAIRN_ASSERT(delta >= 0 || (uint64_t)-delta <= o->on.blocks);
    o->on.blocks = (uint64_t)((int64_t)o->on.blocks + delta);
}

/* Writes whole blocks [@b, @end) of @op to freshly allocated blocks (inv. 3). */
static int write_full(struct osd_store *s, struct osd__ecur *c, const struct osd__op *op,
                      uint64_t b, uint64_t end, int64_t *delta)
{
    uint64_t b0 = op->off / OSD_STORE_BLOCK;
    while (b < end) {
        uint64_t p;
        uint64_t want = CAIRN_MIN(end - b, (uint64_t)(OSD__IO_MAX_BYTES / OSD_STORE_BLOCK));
        uint64_t n = osd__alloc_run(&s->alloc, want, &p);
        if (n == 0)
            return -ENOSPC;
        const uint8_t *src = op->data + (b - b0) * OSD_STORE_BLOCK;
        int rc = osd__gw_add(s, p, n, src);
        for (uint64_t i = 0; rc == 0 && i < n; i++) {
            rc = osd__ecur_seek(s, c, b + i);
            if (rc != 0)
                break;
            unsigned idx = (unsigned)((b + i) % OSD__SHARD_BLOCKS);
            if (c->s.pblock[idx] != 0)
                rc = osd__block_free(s, c->s.pblock[idx]);
            else
                (*delta)++;
            c->s.pblock[idx] = p + i;
            c->s.crc[idx] = cairn_crc32c(0, src + i * OSD_STORE_BLOCK, OSD_STORE_BLOCK);
            c->dirty = true;
        }
        if (rc != 0)
            return rc;
        b += n;
    }
    return 0;
}

/* Ends a write that changed blocks up to byte @end: stores the extent shard
 * under the cursor and updates the object's block count and size. */
static int write_finish(struct osd_store *s, struct obj *o, struct osd__ecur *c, int rc,
                        int64_t delta, uint64_t end)
{
    if (rc == 0)
        rc = osd__ecur_flush(s, c);
    if (rc != 0)
        return rc;
    blocks_apply(o, delta);
    o->on.size = CAIRN_MAX(o->on.size, end);
    return 0;
}

/* A small write: every block it touches, whole or partial, becomes a deferred
 * image in the batch (inv. 5), so the group needs no data-file flush. */
static int write_deferred(struct osd_store *s, struct obj *o, const struct osd__op *op)
{
    uint64_t end = op->off + op->len;
    uint64_t base = CAIRN_ALIGN_DOWN(op->off, OSD_STORE_BLOCK); /* op->data is block-aligned */
    struct osd__ecur c;
    int64_t delta = 0;
    int rc = 0;
    osd__ecur_init(&c, o->on.nid);
    for (uint64_t pos = op->off; rc == 0 && pos < end;) {
        uint64_t b = pos / OSD_STORE_BLOCK;
        uint32_t boff = (uint32_t)(pos % OSD_STORE_BLOCK);
        uint32_t len = (uint32_t)CAIRN_MIN(end - pos, (uint64_t)(OSD_STORE_BLOCK - boff));
        rc = osd__block_defer(s, &c, o->on.nid, b, boff, op->data + (pos - base), len,
                              &delta);
        pos += len;
    }
    return write_finish(s, o, &c, rc, delta, end);
}

static int op_write(struct osd_store *s, struct obj *o, const struct osd__op *op)
{
    if (op->len == 0)
        return 0;
    uint64_t end = op->off + op->len;
    uint64_t b0 = op->off / OSD_STORE_BLOCK;
    uint64_t b1 = (end - 1) / OSD_STORE_BLOCK;
    uint64_t full0 = CAIRN_ALIGN_UP(op->off, OSD_STORE_BLOCK) / OSD_STORE_BLOCK;
    uint64_t full1 = end / OSD_STORE_BLOCK; /* exclusive */
    struct osd__ecur c;
    int64_t delta = 0;
    int rc = 0;
    osd__ecur_init(&c, o->on.nid);
    if (op->len <= s->opts.deferred_max_bytes)
        return write_deferred(s, o, op);
    bool head = op->off % OSD_STORE_BLOCK != 0;
    if (head) {
        uint32_t boff = (uint32_t)(op->off % OSD_STORE_BLOCK);
        uint32_t len = (uint32_t)CAIRN_MIN(op->len, OSD_STORE_BLOCK - boff);
        rc = osd__block_defer(s, &c, o->on.nid, b0, boff, op->data + boff, len, &delta);
    }
    if (rc == 0 && full0 < full1)
        rc = write_full(s, &c, op, full0, full1, &delta);
    if (rc == 0 && end % OSD_STORE_BLOCK != 0 && !(head && b1 == b0)) {
        uint32_t len = (uint32_t)(end % OSD_STORE_BLOCK);
        rc = osd__block_defer(s, &c, o->on.nid, b1, 0,
                              op->data + (b1 - b0) * OSD_STORE_BLOCK, len, &delta);
    }
    return write_finish(s, o, &c, rc, delta, end);
}

/* Zeroes [@off, @end): whole blocks become holes, partial ones are deferred. */
static int zero_range(struct osd_store *s, struct obj *o, uint64_t off, uint64_t end)
{
    uint64_t nb = CAIRN_ALIGN_UP(o->on.size, OSD_STORE_BLOCK) / OSD_STORE_BLOCK;
    struct osd__ecur c;
    int64_t delta = 0;
    int rc = 0;
    osd__ecur_init(&c, o->on.nid);
    for (uint64_t b = off / OSD_STORE_BLOCK; rc == 0 && b < nb && b * OSD_STORE_BLOCK < end;
         b++) {
        uint64_t bs = b * OSD_STORE_BLOCK;
        uint32_t boff = (uint32_t)(CAIRN_MAX(off, bs) - bs);
        uint32_t len = (uint32_t)(CAIRN_MIN(end, bs + OSD_STORE_BLOCK) - bs) - boff;
        if (len < OSD_STORE_BLOCK) {
            rc = osd__block_defer(s, &c, o->on.nid, b, boff, NULL, len, &delta);
            continue;
        }
        rc = osd__ecur_seek(s, &c, b);
        unsigned idx = (unsigned)(b % OSD__SHARD_BLOCKS);
        if (rc != 0 || c.s.pblock[idx] == 0)
            continue;
        rc = osd__block_free(s, c.s.pblock[idx]);
        c.s.pblock[idx] = 0;
        c.s.crc[idx] = 0;
        c.dirty = true;
        delta--;
    }
    if (rc == 0)
        rc = osd__ecur_flush(s, &c);
    if (rc == 0)
        blocks_apply(o, delta);
    return rc;
}

static int op_zero(struct osd_store *s, struct obj *o, const struct osd__op *op)
{
    if (op->len == 0)
        return 0;
    int rc = zero_range(s, o, op->off, op->off + op->len);
    if (rc == 0)
        o->on.size = CAIRN_MAX(o->on.size, op->off + op->len);
    return rc;
}

static int op_truncate(struct osd_store *s, struct obj *o, uint64_t size)
{
    if (size < o->on.size) {
        int64_t delta = 0;
        uint64_t from = CAIRN_ALIGN_UP(size, OSD_STORE_BLOCK) / OSD_STORE_BLOCK;
        int rc = osd__ext_punch_from(s, o->on.nid, o->on.size, from, &delta);
        if (rc != 0)
            return rc;
        blocks_apply(o, delta);
        /* inv. 4: bytes past the end read as zeros after a later extension. */
        if (size % OSD_STORE_BLOCK != 0) {
            rc = zero_range(s, o, size, CAIRN_ALIGN_UP(size, OSD_STORE_BLOCK));
            if (rc != 0)
                return rc;
        }
    }
    o->on.size = size;
    return 0;
}

/* Keys of one kind of one object, gathered for deletion. */
struct keyset {
    uint8_t *buf;    /* the keys, back to back */
    size_t used, cap;
    uint32_t len[DEL_KEYS_MAX];
    uint32_t n;
};

/* 1 when the set is full (the caller falls back to a range delete). */
static int keyset_add(struct keyset *ks, const uint8_t *k, size_t kl)
{
    if (ks->n == DEL_KEYS_MAX)
        return 1;
    if (ks->used + kl > ks->cap) {
        size_t cap = CAIRN_MAX(ks->cap * 2, ks->used + kl + 1024);
        uint8_t *b = realloc(ks->buf, cap);
        if (b == NULL)
            return -ENOMEM;
        ks->buf = b;
        ks->cap = cap;
    }
    memcpy(ks->buf + ks->used, k, kl);
    ks->used += kl;
    ks->len[ks->n++] = (uint32_t)kl;
    return 0;
}

/* Gathers the live keys in [@lo, @hi) of the overlays and of RocksDB (a key
 * may be in both). 1 when there are more than DEL_KEYS_MAX. */
static int keyset_gather(struct osd_store *s, const uint8_t *lo, const uint8_t *hi,
                         struct keyset *ks)
{
    const struct osd__overlay *ovs[2] = {s->ov, s->ov_prev};
    int rc = 0;
    for (unsigned o = 0; rc == 0 && o < 2 && ovs[o] != NULL; o++) {
        for (uint32_t i = 0; rc == 0 && i < ovs[o]->n; i++) {
            const struct osd__ov_entry *e = &ovs[o]->ents[i];
            if (e->klen >= 9 && memcmp(e->key, lo, 9) == 0 && osd__ov_entry_live(s, ovs[o], i))
                rc = keyset_add(ks, e->key, e->klen);
        }
    }
    struct osd__kv_iter *it;
    if (rc != 0 || (rc = osd__kv_iter_create(s->kv, lo, 9, hi, 9, &it)) != 0)
        return rc;
    for (; rc == 0 && osd__kv_iter_valid(it); osd__kv_iter_next(it)) {
        size_t kl;
        const uint8_t *k = osd__kv_iter_key(it, &kl);
        const uint8_t *v;
        size_t vl;
        if (osd__ov_state(s, k, kl, &v, &vl) == -ENOENT) /* else the overlays said */
            rc = keyset_add(ks, k, kl);
    }
    if (rc == 0)
        rc = osd__kv_iter_status(it);
    osd__kv_iter_destroy(it);
    return rc;
}

/* Deletes the keys of kind @kind (X or M) of object @nid: one by one when
 * there are few, else with one range delete. RocksDB 7 fragments every range
 * delete its memtable holds on each read, so an OSD applying thousands of
 * recovered objects (each "remove, then write") spent most of its commit
 * thread on that. */
static int del_nid_keys(struct osd_store *s, char kind, uint64_t nid)
{
    uint8_t lo[16], hi[16];
    osd__key_nid(lo, kind, nid);
    osd__key_nid(hi, kind, nid + 1);
    struct keyset ks = {0};
    int rc = keyset_gather(s, lo, hi, &ks);
    if (rc == 1)
        rc = osd__ov_del_range(s->ov, lo, 9, hi, 9);
    else
        for (size_t i = 0, off = 0; rc == 0 && i < ks.n; off += ks.len[i++])
            rc = osd__ov_del(s->ov, ks.buf + off, ks.len[i]);
    free(ks.buf);
    return rc;
}

static int op_remove(struct osd_store *s, struct obj *o)
{
    int64_t delta = 0;
    /* Punching deletes every extent shard (none lies past the end, inv. 4). */
    int rc = osd__ext_punch_from(s, o->on.nid, o->on.size, 0, &delta);
    if (rc == 0 && (o->on.flags & OSD__ONODE_XKEYS) != 0)
        rc = del_nid_keys(s, OSD__K_XATTR, o->on.nid);
    if (rc == 0)
        rc = del_nid_keys(s, OSD__K_OMAP, o->on.nid);
    if (rc == 0)
        rc = osd__ov_del(s->ov, o->key, o->klen);
    o->exists = false;
    return rc;
}

/* A small xattr goes into the object record when it has room, any other
 * into an X key; a name is never in both (setting it in one place deletes
 * it from the other). OSD__ONODE_XKEYS says whether X keys may exist, so
 * objects without large xattrs never look for them. */
static int op_xattr(struct osd_store *s, struct obj *o, const struct osd__op *op)
{
    uint8_t key[OSD__KEY_MAX];
    size_t kl = osd__key_xattr(key, o->on.nid, op->key, op->klen);
    bool xkeys = (o->on.flags & OSD__ONODE_XKEYS) != 0;
    if (op->type == OSD__OP_SETXATTR) {
        if (osd__xa_set(&o->on, op->key, op->klen, op->val, op->vlen) == 0)
            return xkeys ? osd__ov_del(s->ov, key, kl) : 0;
        osd__xa_del(&o->on, op->key, op->klen);
        o->on.flags |= OSD__ONODE_XKEYS;
        return osd__ov_put(s->ov, key, kl, op->val, op->vlen);
    }
    if (osd__xa_del(&o->on, op->key, op->klen))
        return 0;
    if (!xkeys)
        return -ENODATA;
    const uint8_t *v;
    size_t vl;
    int rc = osd__lookup(s, key, kl, &v, &vl);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -ENODATA;
    return osd__ov_del(s->ov, key, kl);
}

static int op_omap(struct osd_store *s, struct obj *o, const struct osd__op *op)
{
    uint8_t key[OSD__KEY_MAX];
    if (op->type == OSD__OP_OMAP_CLEAR)
        return del_nid_keys(s, OSD__K_OMAP, o->on.nid);
    size_t kl = osd__key_omap(key, o->on.nid, op->key, op->klen);
    if (op->type == OSD__OP_OMAP_SET)
        return osd__ov_put(s->ov, key, kl, op->val, op->vlen);
    return osd__ov_del(s->ov, key, kl);
}

static int op_collection(struct osd_store *s, const struct osd_txn *t, const struct osd__op *op)
{
    uint8_t key[OKEY_MAX];
    size_t kl = osd__key_coll(key, t->coll, t->coll_len);
    int rc = coll_exists(s, t);
    if (rc < 0)
        return rc;
    if (op->type == OSD__OP_MKCOLL) {
        static const uint8_t val[1] = {1};
        return rc == 1 ? -EEXIST : osd__ov_put(s->ov, key, kl, val, sizeof(val));
    }
    if (rc == 0)
        return -ENOENT;
    rc = coll_has_objects(s, t);
    if (rc != 0)
        return rc < 0 ? rc : -ENOTEMPTY;
    return osd__ov_del(s->ov, key, kl);
}

/* Operations that need the object to exist, and those that create it. */
static bool op_needs_object(uint8_t type)
{
    return type == OSD__OP_REMOVE || type == OSD__OP_RMXATTR || type == OSD__OP_OMAP_RM ||
           type == OSD__OP_OMAP_CLEAR;
}

static bool op_is_omap(uint8_t type)
{
    return type == OSD__OP_OMAP_SET || type == OSD__OP_OMAP_RM || type == OSD__OP_OMAP_CLEAR;
}

static bool op_is_xattr(uint8_t type)
{
    return type == OSD__OP_SETXATTR || type == OSD__OP_RMXATTR;
}

static int op_object(struct osd_store *s, const struct osd_txn *t, const struct osd__op *op,
                     uint64_t now_ns)
{
    struct obj o;
    int rc = obj_load(s, t, op, &o);
    if (rc != 0)
        return rc;
    if (!o.exists && op_needs_object(op->type))
        return -ENOENT;
    if (o.exists && op->type == OSD__OP_CREATE_EXCL)
        return -EEXIST;
    bool created = !o.exists;
    obj_create(s, &o);
    switch (op->type) {
    case OSD__OP_TOUCH:
    case OSD__OP_CREATE_EXCL:
        break;
    case OSD__OP_WRITE:
        rc = op_write(s, &o, op);
        break;
    case OSD__OP_ZERO:
        rc = op_zero(s, &o, op);
        break;
    case OSD__OP_TRUNCATE:
        rc = op_truncate(s, &o, op->off);
        break;
    case OSD__OP_REMOVE:
        return op_remove(s, &o);
    case OSD__OP_SETXATTR:
    case OSD__OP_RMXATTR:
        rc = op_xattr(s, &o, op);
        break;
    default:
        rc = op_omap(s, &o, op);
        break;
    }
    if (rc != 0)
        return rc;
    /* mtime is the last change of data or size. An omap change of an
     * existing object leaves its record alone, which keeps a put per
     * transaction (the PG log's object) out of the batch; an xattr change
     * rewrites it (its inline xattrs or flags may have changed) and keeps
     * mtime. */
    if (!created && op_is_omap(op->type))
        return 0;
    if (created || !op_is_xattr(op->type))
        o.on.mtime_ns = now_ns;
    return obj_store(s, &o);
}

int osd__prep_txn(struct osd_store *s, struct osd_txn *t, uint64_t now_ns)
{
    int coll = -1; /* unknown until an object operation needs it */
    for (unsigned i = 0; i < t->nops; i++) {
        const struct osd__op *op = &t->ops[i];
        int rc;
        if (op->type == OSD__OP_MKCOLL || op->type == OSD__OP_RMCOLL) {
            rc = op_collection(s, t, op);
            coll = -1;
        } else {
            if (coll < 0)
                coll = coll_exists(s, t);
            rc = coll < 0 ? coll : coll == 0 ? -ENOENT : op_object(s, t, op, now_ns);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

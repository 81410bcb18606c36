/* Key and record encoding for the object store's RocksDB (docs/store.md §2).
 * Integers are written byte by byte (big-endian inside keys so that keys sort
 * numerically, little-endian inside values); nothing is a struct dump. Every
 * decoder validates its input completely and returns -EIO on garbage: the
 * callers count it as a bad record. Pure functions, any thread. */
#include "osd/store/internal.h"

#include <errno.h>
#include <string.h>

#define ONODE_VERSION 1u
#define SHARD_VERSION 1u
#define DEFER_VERSION 1u
#define SHARD_ENTRY_LEN 13u

const uint8_t osd__key_next_nid[OSD__KEY_NEXT_NID_LEN] = {'S', 'n', 'i', 'd'};

uint32_t osd__key_hash(const void *k, size_t kl)
{
    const uint8_t *p = k;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < kl; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

void osd__put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

void osd__put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

void osd__put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

void osd__put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

uint32_t osd__get_be32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | p[i];
    return v;
}

uint64_t osd__get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

uint32_t osd__get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t osd__get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- keys ---- */

size_t osd__key_coll(uint8_t *out, const char *coll, size_t coll_len)
{
    CAIRN_ASSERT(coll_len <= OSD_STORE_NAME_MAX);
    out[0] = OSD__K_COLL;
    memcpy(out + 1, coll, coll_len);
    return 1 + coll_len;
}

size_t osd__key_obj(uint8_t *out, const char *coll, size_t coll_len, const char *name,
                    size_t name_len)
{
    CAIRN_ASSERT(coll_len <= OSD_STORE_NAME_MAX);
    CAIRN_ASSERT(name_len <= OSD_STORE_NAME_MAX);
    out[0] = OSD__K_OBJ;
    memcpy(out + 1, coll, coll_len);
    out[1 + coll_len] = 0;
    memcpy(out + 2 + coll_len, name, name_len);
    return 2 + coll_len + name_len;
}

size_t osd__key_nid(uint8_t *out, char kind, uint64_t nid)
{
    out[0] = (uint8_t)kind;
    osd__put_be64(out + 1, nid);
    return 9;
}

size_t osd__key_ext(uint8_t *out, uint64_t nid, uint32_t shard)
{
    osd__key_nid(out, OSD__K_EXT, nid);
    osd__put_be32(out + 9, shard);
    return 13;
}

size_t osd__key_xattr(uint8_t *out, uint64_t nid, const void *name, size_t name_len)
{
    CAIRN_ASSERT(name_len <= OSD_STORE_XATTR_NAME_MAX);
    osd__key_nid(out, OSD__K_XATTR, nid);
    memcpy(out + 9, name, name_len);
    return 9 + name_len;
}

size_t osd__key_omap(uint8_t *out, uint64_t nid, const void *key, size_t key_len)
{
    CAIRN_ASSERT(key_len <= OSD__OMAP_KEY_MAX);
    osd__key_nid(out, OSD__K_OMAP, nid);
    memcpy(out + 9, key, key_len);
    return 9 + key_len;
}

size_t osd__key_alloc(uint8_t *out, uint32_t region)
{
    out[0] = OSD__K_ALLOC;
    osd__put_be32(out + 1, region);
    return 5;
}

size_t osd__key_defer(uint8_t *out, uint64_t seq)
{
    return osd__key_nid(out, OSD__K_DEFER, seq);
}

/* ---- records ---- */

size_t osd__onode_encode(const struct osd__onode *on, uint8_t *out)
{
    out[0] = ONODE_VERSION;
    osd__put_le32(out + 1, on->flags);
    osd__put_le64(out + 5, on->nid);
    osd__put_le64(out + 13, on->size);
    osd__put_le64(out + 21, on->mtime_ns);
    osd__put_le64(out + 29, on->blocks);
    memcpy(out + OSD__ONODE_FIXED_LEN, on->xa, on->xa_len);
    return OSD__ONODE_FIXED_LEN + on->xa_len;
}

/* The inline area: entries of name_len u8 (1..), value_len u8, name,
 * value, with names strictly increasing in byte order. */
static bool xa_valid(const uint8_t *a, size_t len)
{
    const uint8_t *prev = NULL;
    size_t prevl = 0;
    for (size_t off = 0; off < len;) {
        if (len - off < 2 || a[off] == 0 || len - off - 2 < (size_t)a[off] + a[off + 1])
            return false;
        const uint8_t *name = a + off + 2;
        size_t nl = a[off];
        if (prev != NULL && osd__name_cmp(prev, prevl, name, nl) >= 0)
            return false;
        prev = name;
        prevl = nl;
        off += 2u + nl + a[off + 1];
    }
    return true;
}

int osd__onode_decode(const void *buf, size_t len, struct osd__onode *on)
{
    const uint8_t *p = buf;
    if (len < OSD__ONODE_FIXED_LEN || len > OSD__ONODE_MAX || p[0] != ONODE_VERSION)
        return -EIO;
    on->flags = osd__get_le32(p + 1);
    on->nid = osd__get_le64(p + 5);
    on->size = osd__get_le64(p + 13);
    on->mtime_ns = osd__get_le64(p + 21);
    on->blocks = osd__get_le64(p + 29);
    on->xa_len = (uint16_t)(len - OSD__ONODE_FIXED_LEN);
    if (on->nid == 0 || on->size > OSD_STORE_OBJECT_MAX || (on->flags & ~OSD__ONODE_XKEYS) != 0)
        return -EIO;
    if (on->blocks > CAIRN_ALIGN_UP(on->size, OSD_STORE_BLOCK) / OSD_STORE_BLOCK)
        return -EIO;
    if (!xa_valid(p + OSD__ONODE_FIXED_LEN, on->xa_len))
        return -EIO;
    memcpy(on->xa, p + OSD__ONODE_FIXED_LEN, on->xa_len);
    return 0;
}

size_t osd__shard_encode(const struct osd__shard *s, uint8_t *out)
{
    uint8_t *p = out + 2;
    unsigned count = 0;
    for (unsigned i = 0; i < OSD__SHARD_BLOCKS; i++) {
        if (s->pblock[i] == 0)
            continue;
        p[0] = (uint8_t)i;
        osd__put_le64(p + 1, s->pblock[i]);
        osd__put_le32(p + 9, s->crc[i]);
        p += SHARD_ENTRY_LEN;
        count++;
    }
    if (count == 0)
        return 0;
    out[0] = SHARD_VERSION;
    out[1] = (uint8_t)count;
    return (size_t)(p - out);
}

int osd__shard_decode(const void *buf, size_t len, uint64_t nblocks, struct osd__shard *s)
{
    const uint8_t *p = buf;
    if (len < 2 || p[0] != SHARD_VERSION || p[1] == 0 || p[1] > OSD__SHARD_BLOCKS)
        return -EIO;
    if (len != 2 + (size_t)p[1] * SHARD_ENTRY_LEN)
        return -EIO;
    memset(s, 0, sizeof(*s));
    int prev = -1;
    for (unsigned i = 0; i < p[1]; i++) {
        const uint8_t *e = p + 2 + i * SHARD_ENTRY_LEN;
        uint64_t pb = osd__get_le64(e + 1);
        if ((int)e[0] <= prev || e[0] >= OSD__SHARD_BLOCKS || pb == 0 || pb >= nblocks)
            return -EIO;
        prev = e[0];
        s->pblock[e[0]] = pb;
        s->crc[e[0]] = osd__get_le32(e + 9);
    }
    return 0;
}

void osd__defer_encode(uint64_t pblock, const void *image, uint8_t *out)
{
    out[0] = DEFER_VERSION;
    osd__put_le64(out + 1, pblock);
    memcpy(out + 9, image, OSD_STORE_BLOCK);
}

int osd__defer_decode(const void *buf, size_t len, uint64_t nblocks, uint64_t *pblock,
                      const uint8_t **image)
{
    const uint8_t *p = buf;
    if (len != OSD__DEFER_LEN || p[0] != DEFER_VERSION)
        return -EIO;
    uint64_t pb = osd__get_le64(p + 1);
    if (pb == 0 || pb >= nblocks)
        return -EIO;
    *pblock = pb;
    *image = p + 9;
    return 0;
}

void osd__u64_encode(uint64_t v, uint8_t *out)
{
    osd__put_le64(out, v);
}

int osd__u64_decode(const void *buf, size_t len, uint64_t *v)
{
    if (len != 8)
        return -EIO;
    *v = osd__get_le64(buf);
    return 0;
}

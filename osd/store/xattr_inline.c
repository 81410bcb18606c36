/* The inline xattrs of an object record (docs/store.md §2): a small sorted
 * area of name_len u8, value_len u8, name, value entries inside the O
 * record, so that the small xattrs every write sets (the OSD's object
 * version) change the record the write rewrites anyway instead of adding
 * a RocksDB key, and reads find them with the record. Pure functions on a
 * decoded record, any thread. */
#include "osd/store/internal.h"

#include <errno.h>

/* Offset of the entry named @name, or of the first entry after it. */
static size_t xa_seek(const struct osd__onode *on, const void *name, size_t nlen, bool *found)
{
    size_t off = 0;
    *found = false;
    while (off < on->xa_len) {
        const uint8_t *e = on->xa + off;
        int c = osd__name_cmp(e + 2, e[0], name, nlen);
        if (c >= 0) {
            *found = c == 0;
            break;
        }
        off += 2u + e[0] + e[1];
    }
    return off;
}

static size_t entry_len(const struct osd__onode *on, size_t off)
{
    return 2u + on->xa[off] + on->xa[off + 1];
}

int osd__xa_find(const struct osd__onode *on, const void *name, size_t nlen, const uint8_t **val,
                 size_t *vlen)
{
    bool found;
    size_t off = xa_seek(on, name, nlen, &found);
    if (!found)
        return 0;
    *val = on->xa + off + 2 + on->xa[off];
    *vlen = on->xa[off + 1];
    return 1;
}

int osd__xa_del(struct osd__onode *on, const void *name, size_t nlen)
{
    bool found;
    size_t off = xa_seek(on, name, nlen, &found);
    if (!found)
        return 0;
    size_t el = entry_len(on, off);
    memmove(on->xa + off, on->xa + off + el, on->xa_len - off - el);
    on->xa_len = (uint16_t)(on->xa_len - el);
    return 1;
}

int osd__xa_set(struct osd__onode *on, const void *name, size_t nlen, const void *val, size_t vlen)
{
    if (nlen == 0 || nlen + vlen > OSD__XA_INLINE_MAX)
        return -ENOSPC;
    bool found;
    size_t off = xa_seek(on, name, nlen, &found);
    size_t old = found ? entry_len(on, off) : 0, el = 2u + nlen + vlen;
    if (on->xa_len - old + el > OSD__XA_AREA_MAX)
        return -ENOSPC;
    memmove(on->xa + off + el, on->xa + off + old, on->xa_len - off - old);
    on->xa[off] = (uint8_t)nlen;
    on->xa[off + 1] = (uint8_t)vlen;
    memcpy(on->xa + off + 2, name, nlen);
    if (vlen > 0)
        memcpy(on->xa + off + 2 + nlen, val, vlen);
    on->xa_len = (uint16_t)(on->xa_len - old + el);
    return 0;
}

size_t osd__xa_entry(const struct osd__onode *on, size_t off, const uint8_t **name, size_t *nlen,
                     const uint8_t **val, size_t *vlen)
{
    if (off >= on->xa_len)
        return 0;
    *name = on->xa + off + 2;
    *nlen = on->xa[off];
    *val = *name + *nlen;
    *vlen = on->xa[off + 1];
    return off + entry_len(on, off);
}

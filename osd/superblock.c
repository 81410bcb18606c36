/* The OSD's identity in its store (docs/osd.md §1): collection "meta",
 * object "superblock", xattrs fsid (16 bytes), uuid (16 random bytes, the
 * store's identity at the monitors) and whoami (the id, 4 bytes little
 * endian). Written once by --mkfs, checked at every start. */
#include "osd/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define SB_COLL "meta"
#define SB_OBJ "superblock"

static int write_superblock(struct osd_store *store, const struct osd_opts *o)
{
    uint8_t uuid[16], who[4];
    struct osd_txn *txn = osd_txn_create(SB_COLL);
    int r;

    if (getrandom(uuid, sizeof(uuid), 0) != (ssize_t)sizeof(uuid))
        return -EIO;
    uuid[6] = (uuid[6] & 0x0f) | 0x40; /* a version 4 UUID */
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    for (int i = 0; i < 4; i++)
        who[i] = (uint8_t)((uint32_t)o->id >> (8 * i));
    if (!txn)
        return -ENOMEM;
    if ((r = osd_txn_create_collection(txn)) < 0 || (r = osd_txn_touch(txn, SB_OBJ)) < 0 ||
        (r = osd_txn_setxattr(txn, SB_OBJ, "fsid", o->fsid, 16)) < 0 ||
        (r = osd_txn_setxattr(txn, SB_OBJ, "uuid", uuid, 16)) < 0 ||
        (r = osd_txn_setxattr(txn, SB_OBJ, "whoami", who, 4)) < 0) {
        osd_txn_destroy(txn);
        return r;
    }
    return osd_store_apply(store, txn);
}

int osd__mkfs(const struct osd_opts *o, char *why, size_t why_len)
{
    struct osd_store *store;
    int r = osd_store_mkfs(o->store_path, &o->store);

    if (r < 0) {
        snprintf(why, why_len, "creating the store in %s: %s%s", o->store_path, strerror(-r),
                 r == -EEXIST ? " (it holds a store already)" : "");
        return r;
    }
    if ((r = osd_store_open(o->store_path, &o->store, &store)) < 0) {
        snprintf(why, why_len, "opening the new store in %s: %s", o->store_path, strerror(-r));
        return r;
    }
    if ((r = write_superblock(store, o)) < 0)
        snprintf(why, why_len, "writing the superblock: %s", strerror(-r));
    osd_store_close(store);
    return r;
}

static int get16(struct osd_store *store, const char *name, uint8_t out[16])
{
    size_t len;
    int r = osd_store_getxattr(store, SB_COLL, SB_OBJ, name, out, 16, &len);

    return r < 0 ? r : len == 16 ? 0 : -EIO;
}

int osd__superblock_check(struct osd_store *store, const struct osd_opts *o, uint8_t uuid[16],
                          char *why, size_t why_len)
{
    uint8_t fsid[16], who[4];
    size_t len;
    int r = osd_store_getxattr(store, SB_COLL, SB_OBJ, "whoami", who, sizeof(who), &len);

    if (r == 0 && len != 4)
        r = -EIO;
    if (r == 0)
        r = get16(store, "fsid", fsid);
    if (r == 0)
        r = get16(store, "uuid", uuid);
    if (r < 0) {
        snprintf(why, why_len, "%s has no valid superblock (%s); was it made with --mkfs?",
                 o->store_path, strerror(-r));
        return -EINVAL;
    }
    int32_t id = (int32_t)((uint32_t)who[0] | (uint32_t)who[1] << 8 | (uint32_t)who[2] << 16 |
                           (uint32_t)who[3] << 24);
    if (id != o->id) {
        snprintf(why, why_len, "%s belongs to osd.%d, not osd.%d", o->store_path, id, o->id);
        return -EINVAL;
    }
    if (o->has_fsid && memcmp(fsid, o->fsid, 16) != 0) {
        snprintf(why, why_len, "%s belongs to another cluster (its fsid differs from the config's)",
                 o->store_path);
        return -EINVAL;
    }
    return 0;
}

/* Administration of the S3 gateway's data, synchronous, over libcairn: the
 * users and their access keys (`cairn s3 user create|ls|rm|key`) and the
 * garbage collector of orphaned data (`cairn s3 gc`). Used by the cairn
 * CLI; never on libcairn's loop thread (these calls wait). Layout in
 * layout.h. */
#ifndef CAIRN_GATEWAY_S3_ADMIN_H
#define CAIRN_GATEWAY_S3_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/cairn.h"
#include "gateway/s3/layout.h"

struct gw_s3_key {
    char access[GW_S3_ACCESS_LEN + 1];
    char secret[GW_S3_SECRET_LEN + 1];
};

/* A user name: 1..GW_S3_USER_NAME_MAX of [A-Za-z0-9._@-]. */
bool gw_s3_user_name_is_valid(const char *name);

/* Creates user @name with a fresh access key (20 characters, A-Z0-9) and
 * secret (40, base64 alphabet without '+' and '/'), both from the OS's
 * randomness. 0; -EEXIST the user exists; -EINVAL bad name; or libcairn's
 * -errno. One atomic op on s3.users: the name and the key appear
 * together or not at all. */
int gw_s3_user_create(struct cairn *c, int32_t pool, const char *name, struct gw_s3_key *out);

/* Adds another access key to existing user @name. 0, -ENOENT, -errno. */
int gw_s3_user_add_key(struct cairn *c, int32_t pool, const char *name, struct gw_s3_key *out);

/* Removes user @name and all its keys (its buckets stay). 0, -ENOENT,
 * -EINVAL (bad name), -errno. */
int gw_s3_user_remove(struct cairn *c, int32_t pool, const char *name);

/* Calls @fn for each user in name order with its access keys (secrets are
 * not shown: @access lists @n access key ids, in byte order; @created_s is
 * the oldest key's creation). @fn returns non-zero to stop (a negative
 * value is returned). 0 or -errno (no user at all is 0 with no call). */
typedef int (*gw_s3_user_fn)(const char *name, int64_t created_s, const char *const *access,
                             size_t n, void *arg);
int gw_s3_user_list(struct cairn *c, int32_t pool, gw_s3_user_fn fn, void *arg);

/* What a garbage collection found and did. */
struct gw_s3_gc_stats {
    uint64_t objects_scanned;  /* objects of the pool looked at */
    uint64_t orphans;          /* unreferenced data/manifest/parts/index objects */
    uint64_t removed;          /* of which removed (not with dry_run, and old enough) */
    uint64_t too_young;        /* orphans younger than the grace period, kept */
};

/* Removes what no bucket index, upload or bucket record refers to: data
 * stripes, manifests and parts objects of objects that were replaced,
 * deleted, or never committed (a gateway killed mid-upload), and index
 * shards of buckets whose creation never completed. Only orphans whose id
 * is older than @grace_s seconds are removed, so uploads in progress are
 * safe. With @dry_run nothing is removed. 0 or -errno; -EBADMSG when a
 * bucket record or index entry cannot be decoded (then nothing was removed:
 * the data it names cannot be told from garbage). @stats is set on 0. */
int gw_s3_gc(struct cairn *c, int32_t pool, uint32_t grace_s, bool dry_run,
             struct gw_s3_gc_stats *stats);

#endif

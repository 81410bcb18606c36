/* How the S3 gateway keeps users, buckets and objects in a Cairn pool
 * (docs/s3.md has the picture). Pure: names of the RADOS-style objects,
 * shard choice, and the encodings of the records kept in omap values. Every
 * decoder treats its input as untrusted (it comes back from the cluster and
 * could be damaged or written by a newer version): -EBADMSG, never a crash.
 *
 *   s3.users                       omap "key/ACCESS" -> user record,
 *                                  omap "user/NAME" -> "" (the name index)
 *   s3.buckets                     omap NAME -> bucket record
 *   s3.index.BUCKETID.SHARD        omap KEY -> entry (the bucket index, sharded
 *                                  by crc32c(KEY) % shards; objects up to
 *                                  GW_S3_INLINE_MAX carry their data in it);
 *                                  xattr "state"
 *   s3.data.DATAID.N               the N-th 4 MiB stripe of an object's data
 *   s3.mpu.BUCKETID                omap UPLOADID -> upload record (an entry
 *                                  whose key field names the object)
 *   s3.parts.UPLOADID              omap "%05u" part number -> part record (an entry)
 *   s3.data.UPLOADID.pPART.ATTEMPT.N  stripes of one upload of a part (each
 *                                  upload of a part number writes fresh
 *                                  stripes under a new ATTEMPT, so a retry
 *                                  never tears the part it replaces)
 *   s3.manifest.UPLOADID           data: the part sizes of a completed upload
 *
 * A DATAID (and an UPLOADID) is 24 hex digits: 8 of the creation time in
 * seconds, then 16 random, so an orphan's age is known without a lookup.
 * Any thread. */
#ifndef CAIRN_GATEWAY_S3_LAYOUT_H
#define CAIRN_GATEWAY_S3_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define GW_S3_POOL_DEFAULT "s3"
#define GW_S3_USERS_OID "s3.users"
#define GW_S3_BUCKETS_OID "s3.buckets"
#define GW_S3_STRIPE_BYTES (4u << 20)   /* data object size */
#define GW_S3_SHARDS_DEFAULT 32u        /* index shards of a new bucket */
#define GW_S3_SHARDS_MAX 64u
#define GW_S3_ID_LEN 24u                /* hex digits of a DATAID/UPLOADID */
#define GW_S3_BUCKET_NAME_MAX 63u
#define GW_S3_USER_NAME_MAX 64u
#define GW_S3_META_MAX 2048u            /* user metadata, bytes (S3's limit) */
#define GW_S3_ETAG_MAX 48u              /* "hex32-10000" plus quotes fits */
#define GW_S3_OID_MAX 96u               /* our object names (keys never appear in them) */
#define GW_S3_SECRET_LEN 40u            /* generated secret keys */
#define GW_S3_ACCESS_LEN 20u            /* generated access keys */
#define GW_S3_INLINE_MAX (8u << 10)     /* objects up to this size live in their index entry */

/* ---- ids and names ---- */

/* A new DATAID/UPLOADID for time @now: NUL-terminated, GW_S3_ID_LEN digits. */
void gw_s3_id_new(time_t now, char id[GW_S3_ID_LEN + 1]);

/* The creation time encoded in @id; -EINVAL when @id is not a valid id. */
int gw_s3_id_time(const char *id, time_t *out);

/* The index shard of @key among @shards. */
uint32_t gw_s3_shard_of(const char *key, size_t key_len, uint32_t shards);

void gw_s3_oid_index(const char *bucket_id, uint32_t shard, char out[GW_S3_OID_MAX]);
void gw_s3_oid_data(const char *data_id, uint32_t stripe, char out[GW_S3_OID_MAX]);
void gw_s3_oid_part(const char *upload_id, uint32_t part, uint32_t attempt, uint32_t stripe,
                    char out[GW_S3_OID_MAX]);
void gw_s3_oid_manifest(const char *upload_id, char out[GW_S3_OID_MAX]);
void gw_s3_oid_uploads(const char *bucket_id, char out[GW_S3_OID_MAX]);
void gw_s3_oid_parts(const char *upload_id, char out[GW_S3_OID_MAX]);

/* Parses a data object name back: the DATAID (or UPLOADID) into @id. -EINVAL
 * when @oid is not one of ours. For the garbage collector. */
int gw_s3_oid_data_id(const char *oid, char id[GW_S3_ID_LEN + 1]);

/* Bucket names as S3 requires: 3..63 of [a-z0-9.-], starting and ending
 * with a letter or digit, no "..", not an IPv4 address. */
bool gw_s3_bucket_name_is_valid(const char *name);

/* ---- records ---- */

struct gw_s3_user {
    char name[GW_S3_USER_NAME_MAX + 1];
    char secret[GW_S3_SECRET_LEN + 1];
    int64_t created_s;
};

struct gw_s3_bucket {
    char id[GW_S3_ID_LEN + 1];
    char owner[GW_S3_USER_NAME_MAX + 1];
    char region[33];
    int64_t created_s;
    uint32_t shards;
};

/* One object as its index entry describes it. Strings are NUL-terminated
 * and point into the decoded buffer (valid while it lives); the encoder
 * reads them. */
struct gw_s3_entry {
    uint64_t size;
    int64_t mtime_ns;
    char etag[GW_S3_ETAG_MAX + 1];  /* without quotes */
    char data_id[GW_S3_ID_LEN + 1]; /* DATAID, or UPLOADID when parts > 0 */
    const char *content_type;       /* "" when none */
    const char *content_encoding;
    const char *content_disposition;
    const char *cache_control;
    const char *content_language;
    const char *expires;
    const char *meta;               /* user metadata: "name\0value\0"... */
    size_t meta_len;
    uint8_t cksum_algo;             /* enum gw_s3_cksum_algo */
    const char *cksum;              /* base64, "" when none */
    uint32_t parts;                 /* 0: simple; else a multipart object whose
                                       part sizes are in s3.manifest.UPLOADID */
    const char *key;                /* upload records: the object key; else "" */
    uint32_t attempt;               /* part records: whose stripes hold the part */
    bool has_inline;                /* small objects: the data is in the entry */
    const void *inline_data;
    size_t inline_len;
};

/* The manifest of a completed multipart upload (s3.manifest.UPLOADID):
 * u32 count, then (u32 number, u32 attempt, u64 size) per part, little
 * endian. */
#define GW_S3_MANIFEST_PARTS_MAX 10000u
struct gw_s3_manifest_part {
    uint32_t number;
    uint32_t attempt;
    uint64_t size;
};
static inline size_t gw_s3_manifest_bytes(uint32_t n)
{
    return 4 + (size_t)n * 16;
}
void gw_s3_manifest_encode(const struct gw_s3_manifest_part *parts, uint32_t n, uint8_t *out);
/* Decodes into a new array (free() it). 0, -EBADMSG (malformed, or the
 * sizes do not add up to @total), or -ENOMEM. */
int gw_s3_manifest_decode(const void *buf, size_t len, uint64_t total,
                          struct gw_s3_manifest_part **parts, uint32_t *n);

/* Encodes: returns the byte count written into @buf, or -ENOSPC when over
 * @cap (callers size @buf CAIRN_VALUE_MAX). */
int gw_s3_user_encode(const struct gw_s3_user *u, uint8_t *buf, size_t cap);
int gw_s3_user_decode(const void *buf, size_t len, struct gw_s3_user *out);
int gw_s3_bucket_encode(const struct gw_s3_bucket *b, uint8_t *buf, size_t cap);
int gw_s3_bucket_decode(const void *buf, size_t len, struct gw_s3_bucket *out);
int gw_s3_entry_encode(const struct gw_s3_entry *e, uint8_t *buf, size_t cap);
/* Decodes @buf in place (it must be writable: strings get their NULs
 * there); @out's strings point into @buf. */
int gw_s3_entry_decode(void *buf, size_t len, struct gw_s3_entry *out);

#endif

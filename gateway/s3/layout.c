/* The S3 gateway's layout in its pool (layout.h): object names, shards, ids
 * and the record encodings.
 *
 * Records are a version byte then tagged fields: tag (1 byte), length
 * (4 bytes, little endian), bytes. A decoder skips tags it does not know,
 * so a newer gateway can add fields an older one still reads; a known
 * field with a wrong length, a string with a NUL or a truncated field makes
 * the whole record -EBADMSG. */
#include "gateway/s3/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/assert.h"
#include "common/crc32c.h"

#define RECORD_VERSION 1u

enum tag {
    T_NAME = 1,
    T_SECRET = 2,
    T_CREATED = 3,
    T_ID = 4,
    T_OWNER = 5,
    T_REGION = 6,
    T_SHARDS = 7,
    T_SIZE = 8,
    T_MTIME = 9,
    T_ETAG = 10,
    T_DATA_ID = 11,
    T_CTYPE = 12,
    T_CENC = 13,
    T_CDISP = 14,
    T_CACHE = 15,
    T_META = 16,
    T_CKALGO = 17,
    T_CKSUM = 18,
    T_PARTS = 19,
    T_KEY = 20,
    T_INLINE = 21,
    T_ATTEMPT = 22,
    T_CLANG = 23,
    T_EXPIRES = 24,
};

/* ---- ids and names ---- */

void gw_s3_id_new(time_t now, char id[GW_S3_ID_LEN + 1])
{
    uint8_t rnd[8];

    /* RAND_bytes only fails when the system has no entropy source at all. */
    CAIRN_ASSERT(RAND_bytes(rnd, sizeof(rnd)) == 1);
    snprintf(id, GW_S3_ID_LEN + 1, "%08x%02x%02x%02x%02x%02x%02x%02x%02x",
             (uint32_t)now, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int gw_s3_id_time(const char *id, time_t *out)
{
    uint32_t t = 0;

    if (strlen(id) != GW_S3_ID_LEN || !is_lower_hex(id, GW_S3_ID_LEN))
        return -EINVAL;
    for (int i = 0; i < 8; i++)
        t = t << 4 | (uint32_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
    *out = (time_t)t;
    return 0;
}

uint32_t gw_s3_shard_of(const char *key, size_t key_len, uint32_t shards)
{
    CAIRN_ASSERT(shards > 0);
    return cairn_crc32c(0, key, key_len) % shards;
}

void gw_s3_oid_index(const char *bucket_id, uint32_t shard, char out[GW_S3_OID_MAX])
{
    snprintf(out, GW_S3_OID_MAX, "s3.index.%s.%u", bucket_id, shard);
}

void gw_s3_oid_data(const char *data_id, uint32_t stripe, char out[GW_S3_OID_MAX])
{
    snprintf(out, GW_S3_OID_MAX, "s3.data.%s.%u", data_id, stripe);
}

void gw_s3_oid_part(const char *upload_id, uint32_t part, uint32_t attempt, uint32_t stripe,
                    char out[GW_S3_OID_MAX])
{
    snprintf(out, GW_S3_OID_MAX, "s3.data.%s.p%u.%08x.%u", upload_id, part, attempt, stripe);
}

void gw_s3_oid_manifest(const char *upload_id, char out[GW_S3_OID_MAX])
{
    snprintf(out, GW_S3_OID_MAX, "s3.manifest.%s", upload_id);
}

void gw_s3_oid_uploads(const char *bucket_id, char out[GW_S3_OID_MAX])
{
    snprintf(out, GW_S3_OID_MAX, "s3.mpu.%s", bucket_id);
}

void gw_s3_oid_parts(const char *upload_id, char out[GW_S3_OID_MAX])
{
    snprintf(out, GW_S3_OID_MAX, "s3.parts.%s", upload_id);
}

int gw_s3_oid_data_id(const char *oid, char id[GW_S3_ID_LEN + 1])
{
    const char *p;

    if (strncmp(oid, "s3.data.", 8) == 0)
        p = oid + 8;
    else if (strncmp(oid, "s3.manifest.", 12) == 0)
        p = oid + 12;
    else if (strncmp(oid, "s3.parts.", 9) == 0)
        p = oid + 9;
    else
        return -EINVAL;
    if (strlen(p) < GW_S3_ID_LEN || !is_lower_hex(p, GW_S3_ID_LEN) ||
        (p[GW_S3_ID_LEN] != '.' && p[GW_S3_ID_LEN] != '\0'))
        return -EINVAL;
    memcpy(id, p, GW_S3_ID_LEN);
    id[GW_S3_ID_LEN] = '\0';
    return 0;
}

bool gw_s3_bucket_name_is_valid(const char *name)
{
    size_t n = strlen(name);
    unsigned dots = 0, digits_only = 1;

    if (n < 3 || n > GW_S3_BUCKET_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '-')
            return false;
        if ((i == 0 || i == n - 1) && !alnum)
            return false;
        if (c == '.' && (name[i + 1] == '.' || name[i + 1] == '-' || name[i - 1] == '-'))
            return false;
        dots += c == '.';
        if (c != '.' && !(c >= '0' && c <= '9'))
            digits_only = 0;
    }
    if (digits_only && dots == 3)
        return false; /* looks like an IPv4 address */
    /* Reserved by S3 for its own naming schemes. */
    if (strncmp(name, "xn--", 4) == 0 || strncmp(name, "sthree-", 7) == 0 ||
        (n >= 8 && strcmp(name + n - 8, "-s3alias") == 0) ||
        (n >= 7 && strcmp(name + n - 7, "--ol-s3") == 0))
        return false;
    return true;
}

/* ---- the record codec ---- */

struct writer {
    uint8_t *buf;
    size_t cap, len;
    bool full;
};

static void put_field(struct writer *w, uint8_t tag, const void *data, size_t len)
{
    if (w->full || len > UINT32_MAX || w->cap - w->len < 5 + len) {
        w->full = true;
        return;
    }
    w->buf[w->len] = tag;
    for (int i = 0; i < 4; i++)
        w->buf[w->len + 1 + i] = (uint8_t)(len >> (8 * i));
    if (len)
        memcpy(w->buf + w->len + 5, data, len);
    w->len += 5 + len;
}

static void put_str(struct writer *w, uint8_t tag, const char *s)
{
    if (s && s[0])
        put_field(w, tag, s, strlen(s));
}

static void put_u64(struct writer *w, uint8_t tag, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put_field(w, tag, b, sizeof(b));
}

static void writer_init(struct writer *w, uint8_t *buf, size_t cap)
{
    *w = (struct writer){ .buf = buf, .cap = cap };
    if (cap < 1)
        w->full = true;
    else
        buf[w->len++] = RECORD_VERSION;
}

static int writer_end(const struct writer *w)
{
    return w->full ? -ENOSPC : (int)w->len;
}

/* Walks the fields of a record, calling @fn for each (0 or -EBADMSG). @fn
 * may rewrite its own field's bytes and the 5-byte header before them (see
 * inplace_str), never anything after. */
typedef int (*field_fn)(uint8_t tag, uint8_t *data, uint32_t len, void *arg);

static int walk(void *buf, size_t len, field_fn fn, void *arg)
{
    uint8_t *p = buf, *end = p + len;

    if (len < 1 || p[0] != RECORD_VERSION)
        return -EBADMSG;
    p++;
    while (p < end) {
        uint32_t flen = 0;
        uint8_t tag;
        int r;

        if (end - p < 5)
            return -EBADMSG;
        tag = p[0];
        for (int i = 0; i < 4; i++)
            flen |= (uint32_t)p[1 + i] << (8 * i);
        if ((size_t)(end - p - 5) < flen)
            return -EBADMSG;
        r = fn(tag, p + 5, flen, arg);
        if (r < 0)
            return r;
        p += 5 + flen;
    }
    return 0;
}

static int get_u64(const uint8_t *data, uint32_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len != 8)
        return -EBADMSG;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)data[i] << (8 * i);
    *out = v;
    return 0;
}

/* Copies a string field into a fixed array; NULs or overflow are -EBADMSG. */
static int get_str(const uint8_t *data, uint32_t len, char *out, size_t cap)
{
    if (len >= cap || memchr(data, '\0', len))
        return -EBADMSG;
    memcpy(out, data, len);
    out[len] = '\0';
    return 0;
}

/* ---- users ---- */

int gw_s3_user_encode(const struct gw_s3_user *u, uint8_t *buf, size_t cap)
{
    struct writer w;

    writer_init(&w, buf, cap);
    put_str(&w, T_NAME, u->name);
    put_str(&w, T_SECRET, u->secret);
    put_u64(&w, T_CREATED, (uint64_t)u->created_s);
    return writer_end(&w);
}

static int user_field(uint8_t tag, uint8_t *data, uint32_t len, void *arg)
{
    struct gw_s3_user *u = arg;
    uint64_t v;

    switch (tag) {
    case T_NAME:
        return get_str(data, len, u->name, sizeof(u->name));
    case T_SECRET:
        return get_str(data, len, u->secret, sizeof(u->secret));
    case T_CREATED:
        if (get_u64(data, len, &v) < 0)
            return -EBADMSG;
        u->created_s = (int64_t)v;
        return 0;
    default:
        return 0;
    }
}

int gw_s3_user_decode(const void *buf, size_t len, struct gw_s3_user *out)
{
    int r;

    memset(out, 0, sizeof(*out));
    r = walk((void *)buf, len, user_field, out); /* user_field never writes to data */
    if (r == 0 && (!out->name[0] || !out->secret[0]))
        r = -EBADMSG;
    return r;
}

/* ---- buckets ---- */

int gw_s3_bucket_encode(const struct gw_s3_bucket *b, uint8_t *buf, size_t cap)
{
    struct writer w;

    writer_init(&w, buf, cap);
    put_str(&w, T_ID, b->id);
    put_str(&w, T_OWNER, b->owner);
    put_str(&w, T_REGION, b->region);
    put_u64(&w, T_CREATED, (uint64_t)b->created_s);
    put_u64(&w, T_SHARDS, b->shards);
    return writer_end(&w);
}

static int bucket_field(uint8_t tag, uint8_t *data, uint32_t len, void *arg)
{
    struct gw_s3_bucket *b = arg;
    uint64_t v;

    switch (tag) {
    case T_ID:
        return get_str(data, len, b->id, sizeof(b->id));
    case T_OWNER:
        return get_str(data, len, b->owner, sizeof(b->owner));
    case T_REGION:
        return get_str(data, len, b->region, sizeof(b->region));
    case T_CREATED:
        if (get_u64(data, len, &v) < 0)
            return -EBADMSG;
        b->created_s = (int64_t)v;
        return 0;
    case T_SHARDS:
        if (get_u64(data, len, &v) < 0 || v < 1 || v > GW_S3_SHARDS_MAX)
            return -EBADMSG;
        b->shards = (uint32_t)v;
        return 0;
    default:
        return 0;
    }
}

int gw_s3_bucket_decode(const void *buf, size_t len, struct gw_s3_bucket *out)
{
    time_t t;
    int r;

    memset(out, 0, sizeof(*out));
    r = walk((void *)buf, len, bucket_field, out);
    if (r == 0 && (gw_s3_id_time(out->id, &t) < 0 || out->shards == 0))
        r = -EBADMSG;
    return r;
}

/* ---- index entries ---- */

int gw_s3_entry_encode(const struct gw_s3_entry *e, uint8_t *buf, size_t cap)
{
    struct writer w;

    writer_init(&w, buf, cap);
    put_u64(&w, T_SIZE, e->size);
    put_u64(&w, T_MTIME, (uint64_t)e->mtime_ns);
    put_str(&w, T_ETAG, e->etag);
    put_str(&w, T_DATA_ID, e->data_id);
    put_str(&w, T_CTYPE, e->content_type);
    put_str(&w, T_CENC, e->content_encoding);
    put_str(&w, T_CDISP, e->content_disposition);
    put_str(&w, T_CACHE, e->cache_control);
    put_str(&w, T_CLANG, e->content_language);
    put_str(&w, T_EXPIRES, e->expires);
    if (e->meta_len)
        put_field(&w, T_META, e->meta, e->meta_len);
    if (e->cksum_algo) {
        put_u64(&w, T_CKALGO, e->cksum_algo);
        put_str(&w, T_CKSUM, e->cksum);
    }
    if (e->parts)
        put_u64(&w, T_PARTS, e->parts);
    put_str(&w, T_KEY, e->key);
    if (e->has_inline)
        put_field(&w, T_INLINE, e->inline_data, e->inline_len);
    if (e->attempt)
        put_u64(&w, T_ATTEMPT, e->attempt);
    return writer_end(&w);
}

/* A string field decoded in place: the byte before the next field's tag
 * cannot hold the NUL, so the string is moved one byte back over its own
 * 5-byte field header, which is no longer needed. */
static const char *inplace_str(uint8_t *data, uint32_t len, int *err)
{
    char *s = (char *)data - 1;

    if (memchr(data, '\0', len)) {
        *err = -EBADMSG;
        return "";
    }
    memmove(s, data, len);
    s[len] = '\0';
    return s;
}

/* User metadata: "name\0value\0" pairs; each string non-empty for names. */
static int meta_is_valid(const uint8_t *m, uint32_t len)
{
    uint32_t strings = 0;

    if (len == 0 || len > GW_S3_META_MAX * 2 || m[len - 1] != '\0')
        return 0;
    for (uint32_t i = 0; i < len; i++)
        strings += m[i] == '\0';
    return strings % 2 == 0;
}

static int entry_field(uint8_t tag, uint8_t *data, uint32_t len, void *arg)
{
    struct gw_s3_entry *e = arg;
    int err = 0;
    uint64_t v;

    switch (tag) {
    case T_SIZE:
        return get_u64(data, len, &e->size);
    case T_MTIME:
        if (get_u64(data, len, &v) < 0)
            return -EBADMSG;
        e->mtime_ns = (int64_t)v;
        return 0;
    case T_ETAG:
        return get_str(data, len, e->etag, sizeof(e->etag));
    case T_DATA_ID:
        return get_str(data, len, e->data_id, sizeof(e->data_id));
    case T_CTYPE:
        e->content_type = inplace_str(data, len, &err);
        return err;
    case T_CENC:
        e->content_encoding = inplace_str(data, len, &err);
        return err;
    case T_CDISP:
        e->content_disposition = inplace_str(data, len, &err);
        return err;
    case T_CACHE:
        e->cache_control = inplace_str(data, len, &err);
        return err;
    case T_CLANG:
        e->content_language = inplace_str(data, len, &err);
        return err;
    case T_EXPIRES:
        e->expires = inplace_str(data, len, &err);
        return err;
    case T_META:
        if (!meta_is_valid(data, len))
            return -EBADMSG;
        memmove(data - 1, data, len);
        e->meta = (const char *)data - 1;
        e->meta_len = len;
        return 0;
    case T_CKALGO:
        if (get_u64(data, len, &v) < 0 || v > 4)
            return -EBADMSG;
        e->cksum_algo = (uint8_t)v;
        return 0;
    case T_CKSUM:
        e->cksum = inplace_str(data, len, &err);
        return err;
    case T_PARTS:
        if (get_u64(data, len, &v) < 0 || v < 1 || v > GW_S3_MANIFEST_PARTS_MAX)
            return -EBADMSG;
        e->parts = (uint32_t)v;
        return 0;
    case T_KEY:
        e->key = inplace_str(data, len, &err);
        return err;
    case T_ATTEMPT:
        if (get_u64(data, len, &v) < 0 || v > UINT32_MAX)
            return -EBADMSG;
        e->attempt = (uint32_t)v;
        return 0;
    case T_INLINE:
        if (len > GW_S3_INLINE_MAX)
            return -EBADMSG;
        e->has_inline = true;
        e->inline_data = data;
        e->inline_len = len;
        return 0;
    default:
        return 0;
    }
}

int gw_s3_entry_decode(void *buf, size_t len, struct gw_s3_entry *out)
{
    time_t t;
    int r;

    memset(out, 0, sizeof(*out));
    out->content_type = out->content_encoding = "";
    out->content_disposition = out->cache_control = out->cksum = out->key = "";
    out->content_language = out->expires = "";
    r = walk(buf, len, entry_field, out);
    if (r == 0 && gw_s3_id_time(out->data_id, &t) < 0)
        r = -EBADMSG;
    if (r == 0 && out->has_inline && (out->inline_len != out->size || out->parts))
        r = -EBADMSG;
    return r;
}

/* ---- manifests ---- */

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void gw_s3_manifest_encode(const struct gw_s3_manifest_part *parts, uint32_t n, uint8_t *out)
{
    put_le(out, n, 4);
    for (uint32_t i = 0; i < n; i++) {
        put_le(out + 4 + (size_t)i * 16, parts[i].number, 4);
        put_le(out + 8 + (size_t)i * 16, parts[i].attempt, 4);
        put_le(out + 12 + (size_t)i * 16, parts[i].size, 8);
    }
}

int gw_s3_manifest_decode(const void *buf, size_t len, uint64_t total,
                          struct gw_s3_manifest_part **parts, uint32_t *n)
{
    const uint8_t *m = buf;
    struct gw_s3_manifest_part *p;
    uint64_t sum = 0;
    uint32_t count;

    if (len < 4)
        return -EBADMSG;
    count = (uint32_t)get_le(m, 4);
    if (count == 0 || count > GW_S3_MANIFEST_PARTS_MAX || len != gw_s3_manifest_bytes(count))
        return -EBADMSG;
    p = calloc(count, sizeof(*p));
    if (!p)
        return -ENOMEM;
    for (uint32_t i = 0; i < count; i++) {
        p[i].number = (uint32_t)get_le(m + 4 + (size_t)i * 16, 4);
        p[i].attempt = (uint32_t)get_le(m + 8 + (size_t)i * 16, 4);
        p[i].size = get_le(m + 12 + (size_t)i * 16, 8);
        if (p[i].size > total - sum) {
            free(p);
            return -EBADMSG;
        }
        sum += p[i].size;
    }
    if (sum != total) {
        free(p);
        return -EBADMSG;
    }
    *parts = p;
    *n = count;
    return 0;
}

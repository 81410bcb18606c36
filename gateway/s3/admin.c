/* Administration of the S3 gateway's data (admin.h): users and their keys
 * in the omap of s3.users, and the garbage collector of orphaned objects.
 *
 * Users: "user/NAME" -> "" is the name index, "key/ACCESS" -> user record
 * the key the gateway authenticates with. Every change is one atomic op
 * guarded by a compare-and-set on the name index, so no key is ever added
 * to a user that does not exist.
 *
 * gc: the referenced ids are collected first (upload records before index
 * entries: CompleteMultipartUpload writes the index entry before it drops
 * the upload record, so an upload completing meanwhile is seen in one or
 * the other), then the pool is listed and what no id covers is an orphan.
 * Anything created after the collection started has a young id and is
 * kept by the grace period. */
#include "gateway/s3/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define USER_PREFIX "user/"
#define KEY_PREFIX "key/"
#define LIST_PAGE 1000u
#define KEY_TRIES 4                         /* fresh access keys tried on a collision */
#define RM_BATCH (CAIRN_OP_STEPS_MAX - 1u)  /* key removals per op, after the guard */
#define RECORD_MAX 512u                     /* an encoded user record */

/* ---- omap scans ---- */

/* Called per omap entry; non-zero stops the scan (and is returned). */
typedef int (*scan_fn)(struct cairn_kv *kv, void *arg);

/* Calls @fn for each omap entry of @oid whose key starts with @prefix, in
 * key order, a page at a time. A missing object has no entries. */
static int scan(struct cairn *c, int32_t pool, const char *oid, const char *prefix, scan_fn fn,
                void *arg)
{
    char after[CAIRN_OMAP_KEY_MAX];
    size_t plen = strlen(prefix), after_len = plen;
    bool more = true;
    int r = 0;

    memcpy(after, prefix, plen); /* the prefix itself is never a key */
    while (more && r == 0) {
        struct cairn_op *op = cairn_op_create();
        struct cairn_kv_list *l = NULL;

        if (!op)
            return -ENOMEM;
        r = cairn_op_omap_list(op, after_len ? after : NULL, after_len, LIST_PAGE, &l);
        if (r == 0)
            r = cairn_op_exec(c, pool, oid, op);
        cairn_op_destroy(op);
        if (r < 0)
            return r == -ENOENT ? 0 : r;
        more = l->more && l->n > 0;
        for (size_t i = 0; i < l->n && r == 0; i++) {
            struct cairn_kv *kv = &l->kv[i];
            if (kv->key_len < plen || memcmp(kv->key, prefix, plen) != 0) {
                more = false; /* keys are sorted: the prefix's range ended */
                break;
            }
            r = fn(kv, arg);
        }
        if (more && l->kv[l->n - 1].key_len <= sizeof(after)) {
            after_len = l->kv[l->n - 1].key_len;
            memcpy(after, l->kv[l->n - 1].key, after_len);
        }
        cairn_kv_list_free(l);
    }
    return r;
}

/* ---- users ---- */

bool gw_s3_user_name_is_valid(const char *name)
{
    size_t n = strlen(name);

    if (n < 1 || n > GW_S3_USER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '@' || ch == '-'))
            return false;
    }
    return true;
}

/* @n characters of @alphabet into @out (NUL-terminated); bytes past the
 * largest multiple of the alphabet's size are rejected so that every
 * character is equally likely. */
static int random_string(char *out, size_t n, const char *alphabet)
{
    unsigned size = (unsigned)strlen(alphabet), limit = 256 - 256 % size;
    uint8_t buf[64];
    size_t got = 0;

    while (got < n) {
        if (RAND_bytes(buf, sizeof(buf)) != 1)
            return -EIO;
        for (size_t i = 0; i < sizeof(buf) && got < n; i++)
            if (buf[i] < limit)
                out[got++] = alphabet[buf[i] % size];
    }
    out[n] = '\0';
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

static int key_new(struct gw_s3_key *k)
{
    int r = random_string(k->access, GW_S3_ACCESS_LEN, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");

    if (r == 0)
        r = random_string(k->secret, GW_S3_SECRET_LEN,
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    return r;
}

/* One op: the name index must be absent (@create) or present, and the new
 * key absent; a taken key (a 2^-103 chance) is retried with a fresh one. */
static int key_add(struct cairn *c, int32_t pool, const char *name, bool create,
                   struct gw_s3_key *out)
{
    char ukey[sizeof(USER_PREFIX) + GW_S3_USER_NAME_MAX], kkey[sizeof(KEY_PREFIX) + 32];
    struct gw_s3_user u = {.created_s = time(NULL)};
    uint8_t rec[RECORD_MAX];
    struct gw_s3_key k;
    int r = -EIO, n, step;

    if (!gw_s3_user_name_is_valid(name))
        return -EINVAL;
    snprintf(ukey, sizeof(ukey), USER_PREFIX "%s", name);
    snprintf(u.name, sizeof(u.name), "%s", name);
    for (int t = 0; t < KEY_TRIES; t++) {
        struct cairn_op *op;
        if ((r = key_new(&k)) < 0)
            break;
        memcpy(u.secret, k.secret, sizeof(k.secret));
        if ((n = r = gw_s3_user_encode(&u, rec, sizeof(rec))) < 0)
            break;
        snprintf(kkey, sizeof(kkey), KEY_PREFIX "%s", k.access);
        if (!(op = cairn_op_create())) {
            r = -ENOMEM;
            break;
        }
        r = cairn_op_omap_cas(op, ukey, strlen(ukey), create ? NULL : "", 0, "", 0);
        if (r == 0)
            r = cairn_op_omap_cas(op, kkey, strlen(kkey), NULL, 0, rec, (size_t)n);
        if (r == 0)
            r = cairn_op_exec(c, pool, GW_S3_USERS_OID, op);
        step = cairn_op_failed_step(op);
        cairn_op_destroy(op);
        if (r == -ECANCELED && step == 0)
            r = create ? -EEXIST : -ENOENT;
        if (r != -ECANCELED)
            break;
    }
    if (r >= 0)
        *out = k;
    OPENSSL_cleanse(&k, sizeof(k));
    OPENSSL_cleanse(&u, sizeof(u));
    OPENSSL_cleanse(rec, sizeof(rec));
    return r < 0 ? r : 0;
}

int gw_s3_user_create(struct cairn *c, int32_t pool, const char *name, struct gw_s3_key *out)
{
    return key_add(c, pool, name, true, out);
}

int gw_s3_user_add_key(struct cairn *c, int32_t pool, const char *name, struct gw_s3_key *out)
{
    return key_add(c, pool, name, false, out);
}

/* The keys of s3.users, as read (secrets are not kept). */
struct key_rec {
    char *key; /* "key/ACCESS", malloc'd */
    char name[GW_S3_USER_NAME_MAX + 1];
    int64_t created_s;
};

struct key_set {
    const char *only; /* the keys of this user only; NULL: all */
    struct key_rec *v;
    size_t n, cap;
};

static void key_set_clear(struct key_set *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        free(ks->v[i].key);
    free(ks->v);
    ks->v = NULL;
    ks->n = ks->cap = 0;
}

/* A scan_fn: adds one key record; damaged ones are skipped (the gateway
 * cannot authenticate with them either). */
static int key_collect(struct cairn_kv *kv, void *arg)
{
    struct key_set *ks = arg;
    struct gw_s3_user u;
    struct key_rec *kr;

    if (gw_s3_user_decode(kv->value, kv->value_len, &u) < 0 || memchr(kv->key, 0, kv->key_len))
        return 0;
    OPENSSL_cleanse(u.secret, sizeof(u.secret));
    if (ks->only && strcmp(u.name, ks->only) != 0)
        return 0;
    if (ks->n == ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 16;
        struct key_rec *v = realloc(ks->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        ks->v = v;
        ks->cap = cap;
    }
    kr = &ks->v[ks->n];
    if (!(kr->key = strndup(kv->key, kv->key_len)))
        return -ENOMEM;
    memcpy(kr->name, u.name, sizeof(kr->name));
    kr->created_s = u.created_s;
    ks->n++;
    return 0;
}

/* Removes the keys of @ks in ops of up to RM_BATCH. Unless @sweep, each op
 * requires the name index @ukey, and the last one removes it too (so a
 * failure leaves a user with fewer keys, never keys without a user); with
 * @sweep each op requires @ukey absent. */
static int keys_remove(struct cairn *c, int32_t pool, const char *ukey, const struct key_set *ks,
                       bool sweep)
{
    size_t i = 0;
    int r = 0, step;

    do {
        size_t m = ks->n - i < RM_BATCH ? ks->n - i : RM_BATCH;
        bool last = i + m == ks->n;
        struct cairn_op *op = cairn_op_create();

        if (!op)
            return -ENOMEM;
        if (sweep)
            r = cairn_op_omap_cas(op, ukey, strlen(ukey), NULL, 0, NULL, 0);
        else
            r = cairn_op_omap_cas(op, ukey, strlen(ukey), "", 0, last ? NULL : "", 0);
        for (size_t j = 0; j < m && r == 0; j++)
            r = cairn_op_omap_rm(op, ks->v[i + j].key, strlen(ks->v[i + j].key));
        if (r == 0)
            r = cairn_op_exec(c, pool, GW_S3_USERS_OID, op);
        step = cairn_op_failed_step(op);
        cairn_op_destroy(op);
        if (r == -ECANCELED && step == 0)
            return sweep ? 0 : -ENOENT; /* sweep: the name was taken again, keys and all */
        i += m;
    } while (r == 0 && i < ks->n);
    return r;
}

int gw_s3_user_remove(struct cairn *c, int32_t pool, const char *name)
{
    char ukey[sizeof(USER_PREFIX) + GW_S3_USER_NAME_MAX];
    struct key_set ks = {.only = name};
    int r;

    if (!gw_s3_user_name_is_valid(name))
        return -EINVAL;
    snprintf(ukey, sizeof(ukey), USER_PREFIX "%s", name);
    r = scan(c, pool, GW_S3_USERS_OID, KEY_PREFIX, key_collect, &ks);
    if (r == 0)
        r = keys_remove(c, pool, ukey, &ks, false);
    key_set_clear(&ks);
    /* A key added between the scan and the removal survived it: sweep once
     * more, now that no key can be added under the name. */
    if (r == 0)
        r = scan(c, pool, GW_S3_USERS_OID, KEY_PREFIX, key_collect, &ks);
    if (r == 0 && ks.n > 0)
        r = keys_remove(c, pool, ukey, &ks, true);
    key_set_clear(&ks);
    return r;
}

/* The names of the name index. */
struct name_set {
    char **v;
    size_t n, cap;
};

static int name_collect(struct cairn_kv *kv, void *arg)
{
    struct name_set *ns = arg;
    size_t plen = strlen(USER_PREFIX);

    if (memchr(kv->key, 0, kv->key_len) || kv->key_len - plen > GW_S3_USER_NAME_MAX)
        return 0;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 16;
        char **v = realloc(ns->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        ns->v = v;
        ns->cap = cap;
    }
    if (!(ns->v[ns->n] = strndup((char *)kv->key + plen, kv->key_len - plen)))
        return -ENOMEM;
    ns->n++;
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    const struct key_rec *x = a, *y = b;
    int r = strcmp(x->name, y->name);

    return r ? r : strcmp(x->key, y->key);
}

/* Walks the names (sorted) and the keys (sorted by name) side by side. */
static int users_report(const struct name_set *ns, const struct key_set *ks, gw_s3_user_fn fn,
                        void *arg)
{
    const char **access = malloc((ks->n + 1) * sizeof(*access));
    size_t k = 0;
    int r = 0;

    if (!access)
        return -ENOMEM;
    for (size_t i = 0; i < ns->n && r == 0; i++) {
        int64_t created = 0;
        size_t n = 0;
        while (k < ks->n && strcmp(ks->v[k].name, ns->v[i]) < 0)
            k++; /* a key whose user is gone (a removal that raced an add) */
        for (; k < ks->n && strcmp(ks->v[k].name, ns->v[i]) == 0; k++) {
            /* The user's creation: its first key's. */
            if (n == 0 || ks->v[k].created_s < created)
                created = ks->v[k].created_s;
            access[n++] = ks->v[k].key + strlen(KEY_PREFIX);
        }
        r = fn(ns->v[i], created, access, n, arg);
    }
    free(access);
    return r > 0 ? 0 : r;
}

int gw_s3_user_list(struct cairn *c, int32_t pool, gw_s3_user_fn fn, void *arg)
{
    struct name_set ns = {0};
    struct key_set ks = {0};
    int r = scan(c, pool, GW_S3_USERS_OID, USER_PREFIX, name_collect, &ns);

    if (r == 0)
        r = scan(c, pool, GW_S3_USERS_OID, KEY_PREFIX, key_collect, &ks);
    if (r == 0) {
        if (ks.n)
            qsort(ks.v, ks.n, sizeof(*ks.v), key_cmp);
        r = users_report(&ns, &ks, fn, arg);
    }
    for (size_t i = 0; i < ns.n; i++)
        free(ns.v[i]);
    free(ns.v);
    key_set_clear(&ks);
    return r;
}

/* ---- gc: the referenced ids ---- */

typedef char gc_id[GW_S3_ID_LEN + 1];

struct gc {
    struct cairn *c;
    int32_t pool;
    gc_id *ids; /* referenced DATAIDs, UPLOADIDs and bucket ids; sorted once collected */
    size_t n, cap;
    struct gw_s3_bucket *buckets;
    size_t n_buckets, cap_buckets;
    time_t now;
    uint32_t grace_s;
    bool dry_run;
    struct gw_s3_gc_stats stats;
};

static int ids_add(struct gc *g, const char *id)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        gc_id *v = realloc(g->ids, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        g->ids = v;
        g->cap = cap;
    }
    memcpy(g->ids[g->n++], id, sizeof(gc_id));
    return 0;
}

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, GW_S3_ID_LEN);
}

static bool ids_have(const struct gc *g, const char *id)
{
    return g->n && bsearch(id, g->ids, g->n, sizeof(gc_id), id_cmp);
}

/* A scan_fn over s3.buckets: each record's id, and the record for later. */
static int bucket_collect(struct cairn_kv *kv, void *arg)
{
    struct gc *g = arg;
    struct gw_s3_bucket b;

    if (gw_s3_bucket_decode(kv->value, kv->value_len, &b) < 0)
        return -EBADMSG; /* its index would be taken for an orphan's */
    if (g->n_buckets == g->cap_buckets) {
        size_t cap = g->cap_buckets ? g->cap_buckets * 2 : 16;
        struct gw_s3_bucket *v = realloc(g->buckets, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        g->buckets = v;
        g->cap_buckets = cap;
    }
    g->buckets[g->n_buckets++] = b;
    return ids_add(g, b.id);
}

/* A scan_fn over an upload list: the UPLOADID is the key (and the record's
 * data_id); a damaged record still names its upload by its key. */
static int upload_collect(struct cairn_kv *kv, void *arg)
{
    struct gc *g = arg;
    struct gw_s3_entry e;
    gc_id id;
    time_t t;
    int r = 0;

    if (kv->key_len == GW_S3_ID_LEN) {
        memcpy(id, kv->key, GW_S3_ID_LEN);
        id[GW_S3_ID_LEN] = '\0';
        if (gw_s3_id_time(id, &t) == 0)
            r = ids_add(g, id);
    }
    if (r == 0 && gw_s3_entry_decode(kv->value, kv->value_len, &e) == 0)
        r = ids_add(g, e.data_id);
    return r;
}

/* A scan_fn over an index shard: the entry's DATAID or UPLOADID. */
static int entry_collect(struct cairn_kv *kv, void *arg)
{
    struct gw_s3_entry e;

    if (gw_s3_entry_decode(kv->value, kv->value_len, &e) < 0)
        return -EBADMSG; /* the data it names would be taken for an orphan */
    return ids_add(arg, e.data_id);
}

static int gc_collect(struct gc *g)
{
    char oid[GW_S3_OID_MAX];
    int r = scan(g->c, g->pool, GW_S3_BUCKETS_OID, "", bucket_collect, g);

    for (size_t i = 0; i < g->n_buckets && r == 0; i++) {
        const struct gw_s3_bucket *b = &g->buckets[i];
        gw_s3_oid_uploads(b->id, oid);
        r = scan(g->c, g->pool, oid, "", upload_collect, g); /* before the index: see top */
        for (uint32_t s = 0; s < b->shards && r == 0; s++) {
            gw_s3_oid_index(b->id, s, oid);
            r = scan(g->c, g->pool, oid, "", entry_collect, g);
        }
    }
    if (r == 0 && g->n)
        qsort(g->ids, g->n, sizeof(gc_id), id_cmp);
    return r;
}

/* ---- gc: the pool walk ---- */

/* The BUCKETID of "s3.index.BUCKETID.N" or "s3.mpu.BUCKETID". -EINVAL for
 * any other name. */
static int container_id(const char *oid, gc_id id)
{
    const char *p, *end;
    time_t t;

    if (strncmp(oid, "s3.index.", 9) == 0)
        p = oid + 9;
    else if (strncmp(oid, "s3.mpu.", 7) == 0)
        p = oid + 7;
    else
        return -EINVAL;
    if (strnlen(p, GW_S3_ID_LEN) < GW_S3_ID_LEN)
        return -EINVAL;
    end = p + GW_S3_ID_LEN;
    if (p == oid + 9) { /* an index shard: ".N" follows */
        if (end[0] != '.' || !end[1] || strspn(end + 1, "0123456789") != strlen(end + 1))
            return -EINVAL;
    } else if (*end) {
        return -EINVAL;
    }
    memcpy(id, p, GW_S3_ID_LEN);
    id[GW_S3_ID_LEN] = '\0';
    return gw_s3_id_time(id, &t);
}

/* A cairn_list_fn: classifies one object and removes it when it is an old
 * enough orphan. Runs on the caller's thread (cairn_list is synchronous). */
static int gc_object(const char *name, void *arg)
{
    struct gc *g = arg;
    gc_id id;
    time_t t;
    int r;

    g->stats.objects_scanned++;
    if (gw_s3_oid_data_id(name, id) < 0 && container_id(name, id) < 0)
        return 0; /* s3.users, s3.buckets, or not ours */
    if (ids_have(g, id) || gw_s3_id_time(id, &t) < 0)
        return 0;
    g->stats.orphans++;
    if (t > g->now || (uint64_t)(g->now - t) < g->grace_s) {
        g->stats.too_young++;
        return 0;
    }
    if (g->dry_run)
        return 0;
    r = cairn_remove(g->c, g->pool, name);
    if (r < 0 && r != -ENOENT)
        return r;
    g->stats.removed++;
    return 0;
}

int gw_s3_gc(struct cairn *c, int32_t pool, uint32_t grace_s, bool dry_run,
             struct gw_s3_gc_stats *stats)
{
    struct gc g = {.c = c, .pool = pool, .grace_s = grace_s, .dry_run = dry_run};
    struct cairn_list_cursor cur;
    int r;

    /* The clock before the collection: an id younger than that is never
     * taken for an old orphan. */
    g.now = time(NULL);
    r = gc_collect(&g);
    memset(&cur, 0, sizeof(cur));
    while (r == 0 && !cur.done)
        r = cairn_list(c, pool, &cur, 0, gc_object, &g);
    if (r == 0)
        *stats = g.stats;
    free(g.ids);
    free(g.buckets);
    return r;
}

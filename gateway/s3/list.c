/* ListObjects (v1), ListObjectsV2 and ListObjectVersions of cairn-s3.
 *
 * A bucket index is sharded by a hash of the key, and each shard is an
 * omap sorted by key; a listing merges the shards: every shard keeps a
 * small buffer of its next keys (fetched with omap_list after the shard's
 * own cursor), the smallest head is taken next, and a shard whose buffer
 * runs dry is refilled before the merge goes on. With a delimiter, keys
 * that roll up into a CommonPrefix are skipped wholesale: every shard's
 * cursor jumps to PREFIX "\xff" (keys are UTF-8, which never has 0xff).
 * A page costs about max-keys / shards entries per shard and round. */
#define _GNU_SOURCE /* memmem */
#include "gateway/s3/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/assert.h"

#define XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define LIST_MAX_KEYS 1000u

enum list_kind { LIST_V1, LIST_V2, LIST_VERSIONS };

struct shard_buf {
    struct cairn_kv_list *list; /* the fetched entries, or NULL */
    size_t pos;                 /* next unconsumed entry of list */
    char *after;                /* the shard's cursor (exclusive) */
    size_t after_len;
    bool exhausted;             /* nothing after the cursor */
    struct cairn_kv_list *incoming;
};

struct list_state {
    enum list_kind kind;
    struct shard_buf shards[GW_S3_SHARDS_MAX];
    uint32_t nshards;
    unsigned pending;           /* fetches in flight */
    int err;
    /* the request */
    const char *prefix, *delimiter;
    size_t prefix_len, delim_len;
    unsigned max_keys;
    bool url_encode, fetch_owner;
    /* the answer */
    unsigned count;             /* Contents + CommonPrefixes emitted */
    bool truncated;
    char *last;                 /* last key or prefix emitted (the next marker) */
    size_t last_len;
    char *marker;               /* where the listing starts (exclusive), or NULL */
    size_t marker_len;
    struct evbuffer *body;      /* Contents / Version elements */
    struct evbuffer *prefixes;  /* CommonPrefixes elements */
};

static void list_free(void *p)
{
    struct list_state *ls = p;

    if (!ls)
        return;
    for (uint32_t i = 0; i < ls->nshards; i++) {
        cairn_kv_list_free(ls->shards[i].list);
        cairn_kv_list_free(ls->shards[i].incoming);
        free(ls->shards[i].after);
    }
    free(ls->last);
    free(ls->marker);
    if (ls->body)
        evbuffer_free(ls->body);
    if (ls->prefixes)
        evbuffer_free(ls->prefixes);
    free(ls);
}

static int set_bytes(char **dst, size_t *dst_len, const void *src, size_t len)
{
    char *p = malloc(len + 1);

    if (!p)
        return -ENOMEM;
    memcpy(p, src, len);
    p[len] = '\0';
    free(*dst);
    *dst = p;
    *dst_len = len;
    return 0;
}

/* ---- output ---- */

/* Keys in listings: as is, or URL-encoded when the client asked
 * (encoding-type=url, which keeps control characters out of the XML). */
static void key_element(struct list_state *ls, struct evbuffer *out, const char *name,
                        const char *key, size_t len)
{
    static const char safe[] = "-_.~/";

    if (!ls->url_encode) {
        evbuffer_add_printf(out, "<%s>", name);
        gw_s3_xml_escape(out, key, len);
        evbuffer_add_printf(out, "</%s>", name);
        return;
    }
    evbuffer_add_printf(out, "<%s>", name);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c && strchr(safe, c)))
            evbuffer_add(out, &c, 1);
        else
            evbuffer_add_printf(out, "%%%02X", c);
    }
    evbuffer_add_printf(out, "</%s>", name);
}

static void emit_object(struct s3_req *r, struct list_state *ls, const char *key, size_t klen,
                        const struct gw_s3_entry *e)
{
    struct evbuffer *out = ls->body;
    const char *el = ls->kind == LIST_VERSIONS ? "Version" : "Contents";
    char date[40];

    s3__iso_date(e->mtime_ns, date);
    gw_s3_xml_open(out, el, NULL);
    key_element(ls, out, "Key", key, klen);
    if (ls->kind == LIST_VERSIONS) {
        gw_s3_xml_element(out, "VersionId", "null");
        gw_s3_xml_element(out, "IsLatest", "true");
    }
    gw_s3_xml_element(out, "LastModified", date);
    gw_s3_xml_elementf(out, "ETag", "\"%s\"", e->etag);
    gw_s3_xml_elementf(out, "Size", "%" PRIu64, e->size);
    gw_s3_xml_element(out, "StorageClass", "STANDARD");
    if (ls->kind != LIST_V2 || ls->fetch_owner) {
        s3__owner_xml(out, "Owner", r->binfo.owner);
    }
    gw_s3_xml_close(out, el);
}

static void emit_prefix(struct list_state *ls, const char *cp, size_t len)
{
    gw_s3_xml_open(ls->prefixes, "CommonPrefixes", NULL);
    key_element(ls, ls->prefixes, "Prefix", cp, len);
    gw_s3_xml_close(ls->prefixes, "CommonPrefixes");
}

static void header_element(struct list_state *ls, struct evbuffer *out, const char *name,
                           const char *v)
{
    if (v)
        key_element(ls, out, name, v, strlen(v));
}

/* The continuation token of v2 is the next marker in hex: opaque to
 * clients, and free of characters XML or URLs would mangle. */
static char *hex_token(const char *key, size_t len)
{
    char *t = malloc(2 * len + 1);
    if (t)
        gw_s3_hex(key, len, t);
    return t;
}

static void respond(struct s3_req *r, struct list_state *ls)
{
    struct evbuffer *out = evbuffer_new();
    const char *root = ls->kind == LIST_VERSIONS ? "ListVersionsResult" : "ListBucketResult";

    gw_s3_xml_declaration(out);
    gw_s3_xml_open(out, root, XMLNS);
    gw_s3_xml_element(out, "Name", r->bucket);
    key_element(ls, out, "Prefix", ls->prefix, ls->prefix_len);
    if (ls->kind == LIST_V1) {
        header_element(ls, out, "Marker", s3__param(r, "marker") ? s3__param(r, "marker") : "");
        if (ls->truncated && ls->last)
            key_element(ls, out, "NextMarker", ls->last, ls->last_len);
    } else if (ls->kind == LIST_V2) {
        const char *ct = s3__param(r, "continuation-token"), *sa = s3__param(r, "start-after");
        gw_s3_xml_elementf(out, "KeyCount", "%u", ls->count);
        if (ct)
            gw_s3_xml_element(out, "ContinuationToken", ct);
        if (ls->truncated && ls->last) {
            char *t = hex_token(ls->last, ls->last_len);
            gw_s3_xml_element(out, "NextContinuationToken", t ? t : "");
            free(t);
        }
        if (sa)
            header_element(ls, out, "StartAfter", sa);
    } else {
        header_element(ls, out, "KeyMarker", s3__param(r, "key-marker") ?
                                                 s3__param(r, "key-marker") : "");
        gw_s3_xml_element(out, "VersionIdMarker", "");
        if (ls->truncated && ls->last) {
            key_element(ls, out, "NextKeyMarker", ls->last, ls->last_len);
            gw_s3_xml_element(out, "NextVersionIdMarker", "null");
        }
    }
    gw_s3_xml_elementf(out, "MaxKeys", "%u", ls->max_keys);
    if (ls->delimiter)
        key_element(ls, out, "Delimiter", ls->delimiter, ls->delim_len);
    if (ls->url_encode)
        gw_s3_xml_element(out, "EncodingType", "url");
    gw_s3_xml_element(out, "IsTruncated", ls->truncated ? "true" : "false");
    evbuffer_add_buffer(out, ls->body);
    evbuffer_add_buffer(out, ls->prefixes);
    gw_s3_xml_close(out, root);
    s3__respond(r, 200, NULL, NULL, 0, out);
    evbuffer_free(out);
}

/* ---- the merge ---- */

static void fetch(struct s3_req *r);

static bool key_less(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c < 0 || (c == 0 && al < bl);
}

/* Moves every shard's cursor to @after (exclusive) when it is behind,
 * dropping buffered entries before it. */
static int skip_to(struct list_state *ls, const char *after, size_t len)
{
    for (uint32_t i = 0; i < ls->nshards; i++) {
        struct shard_buf *s = &ls->shards[i];
        while (s->list && s->pos < s->list->n &&
               !key_less(after, len, s->list->kv[s->pos].key, s->list->kv[s->pos].key_len))
            s->pos++;
        if (s->list && s->pos < s->list->n)
            continue;
        if (!s->after || key_less(s->after, s->after_len, after, len))
            if (set_bytes(&s->after, &s->after_len, after, len) < 0)
                return -ENOMEM;
    }
    return 0;
}

/* Handles one key in order. Returns 1 when the listing is complete. */
static int take(struct s3_req *r, struct list_state *ls, struct cairn_kv *kv)
{
    const char *key = kv->key;
    size_t klen = kv->key_len;
    struct gw_s3_entry e;

    if (klen < ls->prefix_len || memcmp(key, ls->prefix, ls->prefix_len) != 0)
        return key_less(ls->prefix, ls->prefix_len, key, klen) ? 1 : 0;
    if (ls->delimiter) {
        const char *d = memmem(key + ls->prefix_len, klen - ls->prefix_len, ls->delimiter,
                               ls->delim_len);
        if (d) {
            size_t cplen = (size_t)(d - key) + ls->delim_len;
            bool seen = ls->marker && !key_less(ls->marker, ls->marker_len, key, cplen);
            char *skip;
            if (!seen && ls->count == ls->max_keys) {
                ls->truncated = true;
                return 1;
            }
            /* A CommonPrefix at or before the marker was on an earlier page
             * (the marker is that prefix): skip its keys, emit nothing. */
            if (!seen) {
                emit_prefix(ls, key, cplen);
                ls->count++;
                if (set_bytes(&ls->last, &ls->last_len, key, cplen) < 0)
                    return -ENOMEM;
            }
            skip = malloc(cplen + 1);
            if (!skip)
                return -ENOMEM;
            memcpy(skip, key, cplen);
            skip[cplen] = (char)0xff;
            int rc = skip_to(ls, skip, cplen + 1);
            free(skip);
            return rc;
        }
    }
    if (ls->count == ls->max_keys) {
        ls->truncated = true;
        return 1;
    }
    if (gw_s3_entry_decode(kv->value, kv->value_len, &e) < 0)
        return 0; /* a damaged entry is not listed (cairn s3 gc reports it) */
    emit_object(r, ls, key, klen, &e);
    ls->count++;
    return set_bytes(&ls->last, &ls->last_len, key, klen);
}

/* Merges until a shard needs a refill (0) or the listing is done (1). */
static int merge(struct s3_req *r, struct list_state *ls)
{
    for (;;) {
        struct shard_buf *best = NULL;
        int rc;

        for (uint32_t i = 0; i < ls->nshards; i++) {
            struct shard_buf *s = &ls->shards[i];
            if (!s->list || s->pos == s->list->n) {
                if (!s->exhausted)
                    return 0; /* must refill before anything can be taken */
                continue;
            }
            if (!best || key_less(s->list->kv[s->pos].key, s->list->kv[s->pos].key_len,
                                  best->list->kv[best->pos].key,
                                  best->list->kv[best->pos].key_len))
                best = s;
        }
        if (!best)
            return 1;
        size_t pos = best->pos;
        rc = take(r, ls, &best->list->kv[pos]);
        if (rc != 0)
            return rc;
        if (best->pos == pos) /* skip_to may have moved past it already */
            best->pos++;
    }
}

static void step(struct s3_req *r)
{
    struct list_state *ls = r->op_state;
    int rc;

    if (ls->err) {
        s3__error_errno(r, ls->err == -ENOENT ? -EIO : ls->err);
        return;
    }
    rc = merge(r, ls);
    if (rc < 0) {
        s3__error_errno(r, rc);
        return;
    }
    if (rc == 1) {
        respond(r, ls);
        return;
    }
    fetch(r);
}

static void fetched(struct s3_req *r, int err, struct cairn_op *op)
{
    struct list_state *ls = r->op_state;

    (void)op;
    if (err < 0 && !ls->err)
        ls->err = err;
    if (--ls->pending == 0 && r->http) {
        for (uint32_t i = 0; i < ls->nshards; i++) {
            struct shard_buf *s = &ls->shards[i];
            struct cairn_kv_list *l = s->incoming;
            if (!l)
                continue;
            s->incoming = NULL;
            cairn_kv_list_free(s->list);
            s->list = l;
            s->pos = 0;
            s->exhausted = !l->more;
            if (l->n && set_bytes(&s->after, &s->after_len, l->kv[l->n - 1].key,
                                  l->kv[l->n - 1].key_len) < 0)
                ls->err = -ENOMEM;
        }
        step(r);
    }
}

/* Refills every shard whose buffer is empty. */
static void fetch(struct s3_req *r)
{
    struct list_state *ls = r->op_state;
    unsigned batch = ls->max_keys / ls->nshards + 16;

    CAIRN_ASSERT(ls->pending == 0);
    ls->pending = 1; /* held until every fetch is issued */
    for (uint32_t i = 0; i < ls->nshards; i++) {
        struct shard_buf *s = &ls->shards[i];
        struct cairn_op *op;
        char oid[GW_S3_OID_MAX];
        if ((s->list && s->pos < s->list->n) || s->exhausted)
            continue;
        op = cairn_op_create();
        if (!op) {
            ls->err = -ENOMEM;
            break;
        }
        gw_s3_oid_index(r->binfo.id, i, oid);
        cairn_op_omap_list(op, s->after, s->after_len, batch, &s->incoming);
        ls->pending++;
        s3__exec(r, oid, op, fetched);
    }
    fetched(r, 0, NULL);
}

/* ---- requests ---- */

static int parse_max_keys(const char *v, unsigned *out)
{
    char *end;
    unsigned long n;

    *out = LIST_MAX_KEYS;
    if (!v)
        return 0;
    n = strtoul(v, &end, 10);
    if (!*v || *end || v[0] == '-')
        return -EINVAL;
    *out = n > LIST_MAX_KEYS ? LIST_MAX_KEYS : (unsigned)n;
    return 0;
}

/* The key after which the listing starts: v1 marker, v2 continuation
 * token (hex) or start-after, whichever is later; versions key-marker. */
static int start_after(struct s3_req *r, struct list_state *ls, char **out, size_t *out_len)
{
    const char *a = NULL;
    char *tok = NULL;
    size_t n = 0;

    *out = NULL;
    *out_len = 0;
    if (ls->kind == LIST_V1) {
        a = s3__param(r, "marker");
    } else if (ls->kind == LIST_VERSIONS) {
        a = s3__param(r, "key-marker");
    } else {
        const char *ct = s3__param(r, "continuation-token");
        a = s3__param(r, "start-after");
        if (ct) {
            size_t tl = strlen(ct);
            if (tl % 2 || tl == 0 || tl > 2 * GW_S3_KEY_MAX)
                return -EINVAL;
            tok = malloc(tl / 2 + 1);
            if (!tok)
                return -ENOMEM;
            for (size_t i = 0; i < tl / 2; i++) {
                unsigned v;
                if (sscanf(ct + 2 * i, "%2x", &v) != 1) {
                    free(tok);
                    return -EINVAL;
                }
                tok[i] = (char)v;
            }
            tok[tl / 2] = '\0';
            if (!a || key_less(a, strlen(a), tok, tl / 2))
                a = tok;
        }
    }
    if (a && *a) {
        n = strlen(a);
        *out = malloc(n + 1);
        if (*out)
            memcpy(*out, a, n + 1);
        *out_len = n;
    }
    int rc = a && *a && !*out ? -ENOMEM : 0; /* before free: @a may be @tok */
    free(tok);
    return rc;
}

static void list_found(struct s3_req *r, int err)
{
    struct list_state *ls = r->op_state;
    char *after;
    size_t after_len;

    if (err == -ENOENT) {
        s3__error(r, "NoSuchBucket", NULL);
        return;
    }
    if (err < 0) {
        s3__error_errno(r, err);
        return;
    }
    if (strcmp(r->binfo.owner, r->user.name) != 0) {
        s3__error(r, "AccessDenied", NULL);
        return;
    }
    ls->nshards = r->binfo.shards;
    if (start_after(r, ls, &after, &after_len) < 0) {
        s3__error(r, "InvalidArgument", "Invalid marker or continuation token.");
        return;
    }
    if (after && set_bytes(&ls->marker, &ls->marker_len, after, after_len) < 0)
        ls->err = -ENOMEM;
    if (ls->prefix_len && (!after || key_less(after, after_len, ls->prefix, ls->prefix_len))) {
        /* Start near the prefix: every key > prefix minus its last byte. */
        free(after);
        after = malloc(ls->prefix_len);
        if (!after) {
            s3__error(r, "InternalError", NULL);
            return;
        }
        after_len = ls->prefix_len - 1;
        memcpy(after, ls->prefix, after_len);
        if (after_len == 0) {
            free(after);
            after = NULL;
        }
    }
    if (after) {
        for (uint32_t i = 0; i < ls->nshards; i++)
            if (set_bytes(&ls->shards[i].after, &ls->shards[i].after_len, after, after_len) < 0)
                ls->err = -ENOMEM;
        free(after);
    }
    if (ls->max_keys == 0) {
        respond(r, ls);
        return;
    }
    fetch(r);
}

static void list_start(struct s3_req *r, enum list_kind kind)
{
    struct list_state *ls = calloc(1, sizeof(*ls));
    const char *enc = s3__param(r, "encoding-type"), *fo = s3__param(r, "fetch-owner");

    if (!ls) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    r->op_state = ls;
    r->op_free = list_free;
    ls->kind = kind;
    ls->prefix = s3__param(r, "prefix") ? s3__param(r, "prefix") : "";
    ls->prefix_len = strlen(ls->prefix);
    ls->delimiter = s3__param(r, "delimiter");
    if (ls->delimiter && !ls->delimiter[0])
        ls->delimiter = NULL;
    ls->delim_len = ls->delimiter ? strlen(ls->delimiter) : 0;
    ls->url_encode = enc && strcmp(enc, "url") == 0;
    ls->fetch_owner = fo && strcmp(fo, "true") == 0;
    ls->body = evbuffer_new();
    ls->prefixes = evbuffer_new();
    if (enc && !ls->url_encode) {
        s3__error(r, "InvalidArgument", "Invalid Encoding Method specified in Request");
        return;
    }
    if (parse_max_keys(s3__param(r, "max-keys"), &ls->max_keys) < 0) {
        s3__error(r, "InvalidArgument", "Provided max-keys not an integer or within integer "
                                        "range");
        return;
    }
    s3__bucket_lookup(r, list_found);
}

void s3__bucket_list(struct s3_req *r)
{
    const char *lt = s3__param(r, "list-type");

    if (lt && strcmp(lt, "2") != 0) {
        s3__error(r, "InvalidArgument", "Invalid list-type.");
        return;
    }
    list_start(r, lt ? LIST_V2 : LIST_V1);
}

void s3__bucket_list_versions(struct s3_req *r)
{
    list_start(r, LIST_VERSIONS);
}

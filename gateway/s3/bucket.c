/* Bucket operations of cairn-s3: ListBuckets, CreateBucket, HeadBucket,
 * DeleteBucket, GetBucketLocation, GetBucketVersioning.
 *
 * A bucket is a record in the s3.buckets omap plus its index shards. Create
 * makes the shards first (each with xattr state=live), then claims the name
 * with one omap compare-and-set: two creators race only on that step, and
 * the loser removes its shards. Delete marks every shard "deleting" while
 * reading whether it holds a key (one atomic op per shard); uploads check
 * state=live in the same op that inserts a key, so nothing can land in a
 * bucket once it is seen empty. A non-empty bucket gets its shards set
 * back to live. */
#include "gateway/s3/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/assert.h"
#include "common/log.h"

#define XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

struct bucket_state {
    struct gw_s3_bucket b;
    uint32_t shard;           /* next shard to act on */
    bool not_empty;
    struct cairn_kv_list *list;
    uint8_t value[1024];
    size_t value_len;
    struct evbuffer *out;
    char after[GW_S3_BUCKET_NAME_MAX + 1];
};

static void state_free(void *p)
{
    struct bucket_state *st = p;

    if (!st)
        return;
    cairn_kv_list_free(st->list);
    if (st->out)
        evbuffer_free(st->out);
    free(st);
}

static struct bucket_state *state_new(struct s3_req *r)
{
    struct bucket_state *st = calloc(1, sizeof(*st));

    if (!st)
        return NULL;
    CAIRN_ASSERT(!r->op_state);
    r->op_state = st;
    r->op_free = state_free;
    return st;
}

/* ---- ListBuckets ---- */

static void service_page(struct s3_req *r);

static void service_listed(struct s3_req *r, int err, struct cairn_op *op)
{
    struct bucket_state *st = r->op_state;
    struct cairn_kv_list *l = st->list;

    (void)op;
    st->list = NULL;
    if (err == -ENOENT) { /* no bucket was ever created */
        err = 0;
        l = NULL;
    }
    if (err < 0) {
        s3__error_errno(r, err);
        return;
    }
    for (size_t i = 0; l && i < l->n; i++) {
        struct gw_s3_bucket b;
        char date[40];
        if (gw_s3_bucket_decode(l->kv[i].value, l->kv[i].value_len, &b) < 0 ||
            strcmp(b.owner, r->user.name) != 0 || l->kv[i].key_len >= sizeof(st->after))
            continue;
        gw_s3_xml_open(st->out, "Bucket", NULL);
        snprintf(st->after, sizeof(st->after), "%.*s", (int)l->kv[i].key_len,
                 (const char *)l->kv[i].key);
        gw_s3_xml_element(st->out, "Name", st->after);
        s3__iso_date(b.created_s * 1000000000LL, date);
        gw_s3_xml_element(st->out, "CreationDate", date);
        gw_s3_xml_close(st->out, "Bucket");
    }
    if (l && l->n)
        snprintf(st->after, sizeof(st->after), "%.*s", (int)l->kv[l->n - 1].key_len,
                 (const char *)l->kv[l->n - 1].key);
    if (l && l->more) {
        cairn_kv_list_free(l);
        service_page(r);
        return;
    }
    cairn_kv_list_free(l);
    gw_s3_xml_close(st->out, "Buckets");
    gw_s3_xml_close(st->out, "ListAllMyBucketsResult");
    s3__respond(r, 200, NULL, NULL, 0, st->out);
}

static void service_page(struct s3_req *r)
{
    struct bucket_state *st = r->op_state;
    struct cairn_op *op = cairn_op_create();

    if (!op) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    cairn_op_omap_list(op, st->after[0] ? st->after : NULL, strlen(st->after), 1000,
                       &st->list);
    s3__exec(r, GW_S3_BUCKETS_OID, op, service_listed);
}

void s3__service_list(struct s3_req *r)
{
    struct bucket_state *st = state_new(r);

    if (!st || !(st->out = evbuffer_new())) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    gw_s3_xml_declaration(st->out);
    gw_s3_xml_open(st->out, "ListAllMyBucketsResult", XMLNS);
    s3__owner_xml(st->out, "Owner", r->user.name);
    gw_s3_xml_open(st->out, "Buckets", NULL);
    service_page(r);
}

/* ---- CreateBucket ---- */

static void create_shard(struct s3_req *r);

static void create_existing(struct s3_req *r, int err, struct cairn_op *op)
{
    struct bucket_state *st = r->op_state;
    struct gw_s3_bucket other;

    (void)op;
    if (err == 0 && gw_s3_bucket_decode(st->value, st->value_len, &other) == 0 &&
        strcmp(other.owner, r->user.name) == 0)
        s3__error(r, "BucketAlreadyOwnedByYou", NULL);
    else
        s3__error(r, "BucketAlreadyExists", NULL);
}

static void remove_shards_async(struct s3_gw *gw, const struct gw_s3_bucket *b);

static void create_claimed(struct s3_req *r, int err, struct cairn_op *op)
{
    struct bucket_state *st = r->op_state;
    const char *n[1] = {"Location"};
    char loc[GW_S3_BUCKET_NAME_MAX + 4];
    const char *v[1] = {loc};

    (void)op;
    if (err == -ECANCELED) {
        struct cairn_op *get = cairn_op_create();
        remove_shards_async(r->gw, &st->b);
        if (!get) {
            s3__error(r, "BucketAlreadyExists", NULL);
            return;
        }
        cairn_op_omap_get(get, r->bucket, strlen(r->bucket), st->value, sizeof(st->value),
                          &st->value_len);
        s3__exec(r, GW_S3_BUCKETS_OID, get, create_existing);
        return;
    }
    if (err < 0) {
        remove_shards_async(r->gw, &st->b);
        s3__error_errno(r, err);
        return;
    }
    s3__bucket_remember(r->gw, r->bucket, &st->b);
    snprintf(loc, sizeof(loc), "/%s", r->bucket);
    s3__respond(r, 200, n, v, 1, NULL);
}

static void create_claim(struct s3_req *r)
{
    struct bucket_state *st = r->op_state;
    struct cairn_op *op = cairn_op_create();
    int n = gw_s3_bucket_encode(&st->b, st->value, sizeof(st->value));

    CAIRN_ASSERT(n > 0);
    if (!op) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    cairn_op_omap_cas(op, r->bucket, strlen(r->bucket), NULL, 0, st->value, (size_t)n);
    s3__exec(r, GW_S3_BUCKETS_OID, op, create_claimed);
}

static void shard_created(struct s3_req *r, int err, struct cairn_op *op)
{
    struct bucket_state *st = r->op_state;

    (void)op;
    if (err < 0) {
        remove_shards_async(r->gw, &st->b);
        s3__error_errno(r, err);
        return;
    }
    st->shard++;
    create_shard(r);
}

static void create_shard(struct s3_req *r)
{
    struct bucket_state *st = r->op_state;
    struct cairn_op *op;
    char oid[GW_S3_OID_MAX];

    if (!r->http)
        return; /* the client went away: the shards are orphans for gc */
    if (st->shard == st->b.shards) {
        create_claim(r);
        return;
    }
    op = cairn_op_create();
    if (!op) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    gw_s3_oid_index(st->b.id, st->shard, oid);
    cairn_op_create_object(op, true);
    cairn_op_setxattr(op, "state", "live", 4);
    s3__exec(r, oid, op, shard_created);
}

static void create_body(struct s3_req *r, int err)
{
    struct bucket_state *st;
    char region[sizeof(((struct gw_s3_bucket *)0)->region)];
    const char *reason = NULL;

    if (err < 0) {
        s3__error(r, s3__body_error_code(err), NULL);
        return;
    }
    if (gw_s3_parse_create_bucket(r->body.mem, r->body.mem_len, region, sizeof(region),
                                  &reason) < 0) {
        s3__error(r, "MalformedXML", reason);
        return;
    }
    if (region[0] && strcmp(region, r->gw->region) != 0) {
        s3__error(r, "InvalidLocationConstraint", NULL);
        return;
    }
    st = state_new(r);
    if (!st) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    gw_s3_id_new(time(NULL), st->b.id);
    snprintf(st->b.owner, sizeof(st->b.owner), "%s", r->user.name);
    snprintf(st->b.region, sizeof(st->b.region), "%s", r->gw->region);
    st->b.created_s = time(NULL);
    st->b.shards = GW_S3_SHARDS_DEFAULT;
    create_shard(r);
}

void s3__bucket_create(struct s3_req *r)
{
    if (!gw_s3_bucket_name_is_valid(r->bucket)) {
        s3__error(r, "InvalidBucketName", NULL);
        return;
    }
    s3__body_read(r, NULL, 64u << 10, create_body);
}

/* ---- HeadBucket, location, versioning ---- */

static void head_found(struct s3_req *r, int err)
{
    const char *n[1] = {"x-amz-bucket-region"}, *v[1] = {r->binfo.region};

    if (s3__bucket_owned(r, err))
        s3__respond(r, 200, n, v, 1, NULL);
}

void s3__bucket_head(struct s3_req *r)
{
    s3__bucket_lookup(r, head_found);
}

static void location_found(struct s3_req *r, int err)
{
    struct evbuffer *out;

    if (!s3__bucket_owned(r, err))
        return;
    out = evbuffer_new();
    gw_s3_xml_declaration(out);
    evbuffer_add_printf(out, "<LocationConstraint xmlns=\"%s\">", XMLNS);
    /* S3 answers an empty constraint for us-east-1. */
    if (strcmp(r->binfo.region, "us-east-1") != 0)
        gw_s3_xml_escape(out, r->binfo.region, strlen(r->binfo.region));
    gw_s3_xml_close(out, "LocationConstraint");
    s3__respond(r, 200, NULL, NULL, 0, out);
    evbuffer_free(out);
}

void s3__bucket_location(struct s3_req *r)
{
    s3__bucket_lookup(r, location_found);
}

static void versioning_found(struct s3_req *r, int err)
{
    struct evbuffer *out;

    if (!s3__bucket_owned(r, err))
        return;
    out = evbuffer_new();
    gw_s3_xml_declaration(out);
    evbuffer_add_printf(out, "<VersioningConfiguration xmlns=\"%s\"/>", XMLNS);
    s3__respond(r, 200, NULL, NULL, 0, out);
    evbuffer_free(out);
}

void s3__bucket_versioning(struct s3_req *r)
{
    s3__bucket_lookup(r, versioning_found);
}

/* ---- DeleteBucket ---- */

static void remove_shards_async(struct s3_gw *gw, const struct gw_s3_bucket *b)
{
    char oid[GW_S3_OID_MAX];

    for (uint32_t i = 0; i < b->shards; i++) {
        gw_s3_oid_index(b->id, i, oid);
        s3__remove_async(gw, oid);
    }
    gw_s3_oid_uploads(b->id, oid);
    s3__remove_async(gw, oid);
}

static void delete_mark(struct s3_req *r);

static void delete_unclaimed(struct s3_req *r, int err, struct cairn_op *op)
{
    struct bucket_state *st = r->op_state;

    (void)op;
    if (err < 0 && err != -ECANCELED) {
        s3__error_errno(r, err);
        return;
    }
    s3__bucket_forget(r->gw, r->bucket);
    remove_shards_async(r->gw, &st->b);
    s3__respond(r, 204, NULL, NULL, 0, NULL);
}

static void delete_unclaim(struct s3_req *r)
{
    struct bucket_state *st = r->op_state;
    struct cairn_op *op = cairn_op_create();
    int n = gw_s3_bucket_encode(&st->b, st->value, sizeof(st->value));

    if (!op || n < 0) {
        cairn_op_destroy(op);
        s3__error(r, "InternalError", NULL);
        return;
    }
    /* Only the record we checked: a bucket re-created meanwhile stays. */
    cairn_op_omap_cas(op, r->bucket, strlen(r->bucket), st->value, (size_t)n, NULL, 0);
    s3__exec(r, GW_S3_BUCKETS_OID, op, delete_unclaimed);
}

static void delete_revive(struct s3_req *r);

static void shard_revived(struct s3_req *r, int err, struct cairn_op *op)
{
    struct bucket_state *st = r->op_state;

    (void)op;
    (void)err;
    if (st->shard == 0) {
        s3__error(r, "BucketNotEmpty", NULL);
        return;
    }
    delete_revive(r);
}

/* Sets the shards marked so far back to live, last first. */
static void delete_revive(struct s3_req *r)
{
    struct bucket_state *st = r->op_state;
    struct cairn_op *op = cairn_op_create();
    char oid[GW_S3_OID_MAX];

    if (!op) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    gw_s3_oid_index(st->b.id, --st->shard, oid);
    cairn_op_setxattr(op, "state", "live", 4);
    s3__exec(r, oid, op, shard_revived);
}

static void shard_marked(struct s3_req *r, int err, struct cairn_op *op)
{
    struct bucket_state *st = r->op_state;

    (void)op;
    if (err < 0 && err != -ENOENT) {
        s3__error_errno(r, err);
        return;
    }
    st->shard++;
    if (st->list && st->list->n > 0)
        st->not_empty = true;
    cairn_kv_list_free(st->list);
    st->list = NULL;
    if (st->not_empty) {
        delete_revive(r);
        return;
    }
    delete_mark(r);
}

static void delete_mark(struct s3_req *r)
{
    struct bucket_state *st = r->op_state;
    struct cairn_op *op;
    char oid[GW_S3_OID_MAX];

    if (st->shard == st->b.shards) {
        delete_unclaim(r);
        return;
    }
    op = cairn_op_create();
    if (!op) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    gw_s3_oid_index(st->b.id, st->shard, oid);
    cairn_op_assert_exists(op);
    cairn_op_omap_list(op, NULL, 0, 1, &st->list);
    cairn_op_setxattr(op, "state", "deleting", 8);
    s3__exec(r, oid, op, shard_marked);
}

static void delete_found(struct s3_req *r, int err)
{
    struct bucket_state *st;

    if (!s3__bucket_owned(r, err))
        return;
    st = state_new(r);
    if (!st) {
        s3__error(r, "InternalError", NULL);
        return;
    }
    st->b = r->binfo;
    delete_mark(r);
}

void s3__bucket_delete(struct s3_req *r)
{
    s3__bucket_forget(r->gw, r->bucket); /* decide on the cluster's record */
    s3__bucket_lookup(r, delete_found);
}

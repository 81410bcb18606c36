/* s3_fill: puts N empty objects into an S3 bucket's index directly through
 * libcairn, 64 keys per op, so listing tests can have 100,000 keys in
 * seconds instead of the minutes 100,000 PUTs take. The entries are what
 * cairn-s3 itself writes for an empty object (the layout is gateway/s3/
 * layout.h): listing them is listing real objects, and GET answers them.
 *
 *   s3_fill -c CONF [--pool s3] --bucket NAME --count N [--dirs D]
 *
 * Keys: "dNNN/fNNNNNN" spread over D directories (default 100). Exit 0, 1
 * on failure (one line on stderr), 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cairn.h"
#include "gateway/s3/layout.h"

#define BATCH 64u
#define EMPTY_MD5 "d41d8cd98f00b204e9800998ecf8427e"

struct batch {
    char keys[BATCH][32];
    uint8_t values[BATCH][256];
    size_t lens[BATCH];
    unsigned n;
};

static int bucket_record(struct cairn *c, int32_t pool, const char *name,
                         struct gw_s3_bucket *b)
{
    struct cairn_op *op = cairn_op_create();
    uint8_t buf[1024];
    size_t len = 0;
    int r;

    if (!op)
        return -ENOMEM;
    cairn_op_omap_get(op, name, strlen(name), buf, sizeof(buf), &len);
    r = cairn_op_exec(c, pool, GW_S3_BUCKETS_OID, op);
    cairn_op_destroy(op);
    return r < 0 ? r : gw_s3_bucket_decode(buf, len, b);
}

/* Writes the batch's keys of shard @shard in one op. */
static int flush_shard(struct cairn *c, int32_t pool, const struct gw_s3_bucket *b,
                       uint32_t shard, struct batch *bt)
{
    struct cairn_op *op;
    char oid[GW_S3_OID_MAX];
    int r;

    if (bt->n == 0)
        return 0;
    op = cairn_op_create();
    if (!op)
        return -ENOMEM;
    for (unsigned i = 0; i < bt->n; i++)
        cairn_op_omap_set(op, bt->keys[i], strlen(bt->keys[i]), bt->values[i], bt->lens[i]);
    gw_s3_oid_index(b->id, shard, oid);
    r = cairn_op_exec(c, pool, oid, op);
    cairn_op_destroy(op);
    bt->n = 0;
    return r;
}

static int fill(struct cairn *c, int32_t pool, const struct gw_s3_bucket *b, unsigned count,
                unsigned dirs)
{
    struct batch *bt = calloc(b->shards, sizeof(*bt));
    struct gw_s3_entry e = {0};
    int r = 0;

    if (!bt)
        return -ENOMEM;
    e.mtime_ns = (int64_t)time(NULL) * 1000000000;
    snprintf(e.etag, sizeof(e.etag), "%s", EMPTY_MD5);
    e.content_type = e.content_encoding = e.content_disposition = e.cache_control = "";
    e.cksum = e.key = "";
    e.has_inline = true;
    for (unsigned i = 0; i < count && r == 0; i++) {
        char key[32];
        uint32_t shard;
        struct batch *s;
        int n;
        snprintf(key, sizeof(key), "d%03u/f%06u", i % dirs, i);
        shard = gw_s3_shard_of(key, strlen(key), b->shards);
        s = &bt[shard];
        gw_s3_id_new(time(NULL), e.data_id);
        n = gw_s3_entry_encode(&e, s->values[s->n], sizeof(s->values[s->n]));
        if (n < 0) {
            r = n;
            break;
        }
        memcpy(s->keys[s->n], key, sizeof(key));
        s->lens[s->n++] = (size_t)n;
        if (s->n == BATCH)
            r = flush_shard(c, pool, b, shard, s);
    }
    for (uint32_t s = 0; s < b->shards && r == 0; s++)
        r = flush_shard(c, pool, b, s, &bt[s]);
    free(bt);
    return r;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"conf", required_argument, NULL, 'c'},  {"pool", required_argument, NULL, 'p'},
        {"bucket", required_argument, NULL, 'b'}, {"count", required_argument, NULL, 'n'},
        {"dirs", required_argument, NULL, 'd'},  {NULL, 0, NULL, 0},
    };
    const char *conf = NULL, *pool_name = GW_S3_POOL_DEFAULT, *bucket = NULL;
    unsigned count = 0, dirs = 100;
    struct gw_s3_bucket b;
    struct cairn *c;
    int32_t pool;
    int opt, r;

    while ((opt = getopt_long(argc, argv, "c:p:b:n:d:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': conf = optarg; break;
        case 'p': pool_name = optarg; break;
        case 'b': bucket = optarg; break;
        case 'n': count = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'd': dirs = (unsigned)strtoul(optarg, NULL, 10); break;
        default: return 2;
        }
    }
    if (!bucket || count == 0 || dirs == 0) {
        fprintf(stderr, "usage: s3_fill -c CONF [--pool P] --bucket NAME --count N [--dirs D]\n");
        return 2;
    }
    r = cairn_connect(conf, CAIRN_DEFAULT_ENTITY, &c);
    if (r < 0) {
        fprintf(stderr, "s3_fill: connect: %s\n", strerror(-r));
        return 1;
    }
    r = cairn_pool_lookup(c, pool_name, &pool);
    if (r == 0)
        r = bucket_record(c, pool, bucket, &b);
    if (r == 0)
        r = fill(c, pool, &b, count, dirs);
    cairn_shutdown(c);
    if (r < 0) {
        fprintf(stderr, "s3_fill: %s\n", strerror(-r));
        return 1;
    }
    return 0;
}

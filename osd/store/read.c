/* Data reads. The public calls queue a read on the commit thread, which owns
 * the I/O ring and the pending deferred images. A read starts between
 * groups and sees the in-flight group's overlay over RocksDB, so it sees
 * every transaction whose callback has fired (and possibly one whose batch
 * is being written, whose data is already on disk). It fills holes with
 * zeros and pending blocks from their images, and reads the rest in
 * physically contiguous runs of up to 1 MiB, straight into the caller's
 * buffer when that is block-aligned. Every block read from disk is checked
 * against its crc32c when its I/O completes. */
#include "osd/store/internal.h"

#include "common/crc32c.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RUN_MAX_BLOCKS (OSD__IO_MAX_BYTES / OSD_STORE_BLOCK)

struct run {
    uint64_t pblock;   /* first physical block, 0 when no run is open */
    uint32_t first;    /* first block index in the read */
    uint32_t count;
};

/* A committed-or-in-flight value: the in-flight group's overlay, then the
 * record cache, then RocksDB (the current group is empty while reads start).
 * malloc'd. */
static int read_get(struct osd_store *s, const void *k, size_t kl, void **val, size_t *vl)
{
    const uint8_t *v;
    size_t len;
    int rc = s->ov_prev != NULL ? osd__ov_get(s->ov_prev, k, kl, &v, &len) : -ENOENT;
    bool cached_kind = rc == -ENOENT && osd__rc_is_cached_kind(k, kl);
    if (cached_kind) {
        rc = osd__rc_get(&s->rcache, k, kl, &v, &len);
        if (rc != -ENOENT)
            OSD__STAT_ADD(s, record_cache_hits, 1);
    }
    if (rc == -ENOENT) {
        OSD__STAT_ADD(s, kv_lookups, 1);
        rc = osd__kv_get(s->kv, k, kl, val, vl);
        if (cached_kind && (rc == 0 || rc == -ENOENT))
            osd__rc_set(&s->rcache, k, kl, rc == 0 ? *val : NULL, rc == 0 ? *vl : 0);
        return rc;
    }
    if (rc == 0)
        return -ENOENT;
    *val = malloc(len + 1);
    if (*val == NULL)
        return -ENOMEM;
    memcpy(*val, v, len);
    *vl = len;
    return 0;
}

void osd__read_finish(struct osd_store *s, struct osd__read *r)
{
    int result = r->result;
    size_t out_len = result == 0 ? r->out_len : 0;
    if (result == 0 && r->bounce != NULL)
        memcpy(r->buf, r->bounce + r->off % OSD_STORE_BLOCK, r->out_len);
    free(r->bounce);
    if (r->crc != r->crc_inline)
        free(r->crc);
    r->bounce = NULL;
    r->crc = NULL;
    osd_store_read_cb cb = r->cb;
    void *arg = r->arg;
    if (r->pooled) {
        pthread_mutex_lock(&s->lock);
        r->q.next = (struct osd__qitem *)s->read_free;
        s->read_free = r;
        pthread_mutex_unlock(&s->lock);
    }
    cb(result, out_len, arg); /* a synchronous reader's @r is gone after this */
}

static void read_done(struct osd_io_req *req, int res)
{
    struct osd__ioreq *io = req->arg;
    struct osd__read *r = io->owner;
    struct osd_store *s = io->store;
    if (res != (int)(io->count * OSD_STORE_BLOCK)) {
        r->result = res < 0 ? res : -EIO;
    } else {
        for (uint32_t i = io->first; i < io->first + io->count; i++) {
            const uint8_t *blk = r->dst + (size_t)i * OSD_STORE_BLOCK;
            if (cairn_crc32c(0, blk, OSD_STORE_BLOCK) == r->crc[i])
                continue;
            osd__csum_error(s, r->nid, r->first_block + i, io->pblock + (i - io->first));
            r->result = -EIO;
        }
    }
    osd__ioreq_put(s, io);
    CAIRN_ASSERT(s->reads_in_flight > 0);
    s->reads_in_flight--;
    if (--r->ios == 0)
        osd__read_finish(s, r);
}

static int run_submit(struct osd_store *s, struct osd__read *r, struct run *run)
{
    if (run->count == 0)
        return 0;
    struct osd__ioreq *io = osd__ioreq_get(s);
    if (io == NULL)
        return -EIO;
    io->iovs[0].iov_base = r->dst + (size_t)run->first * OSD_STORE_BLOCK;
    io->iovs[0].iov_len = (size_t)run->count * OSD_STORE_BLOCK;
    io->req.op = OSD_IO_READ;
    io->req.fd = s->data_fd;
    io->req.offset = run->pblock * OSD_STORE_BLOCK;
    io->req.iov = io->iovs;
    io->req.iovcnt = 1;
    io->req.cb = read_done;
    io->owner = r;
    io->first = run->first;
    io->count = run->count;
    io->pblock = run->pblock;
    r->ios++;
    s->reads_in_flight++;
    int rc = osd_io_submit(s->io, &io->req);
    if (rc != 0) {
        r->ios--;
        s->reads_in_flight--;
        osd__ioreq_put(s, io);
        return rc;
    }
    run->count = 0;
    return 0;
}

/* Plans block @i (physical @pb, expected @crc): zeros, an image, or a run. */
static int plan_block(struct osd_store *s, struct osd__read *r, struct run *run, uint32_t i,
                      uint64_t pb, uint32_t crc)
{
    uint8_t *dst = r->dst + (size_t)i * OSD_STORE_BLOCK;
    const uint8_t *img = pb != 0 ? osd__dmap_lookup(&s->dmap, pb) : NULL;
    if (pb == 0 || img != NULL) {
        if (pb == 0)
            memset(dst, 0, OSD_STORE_BLOCK);
        else
            memcpy(dst, img, OSD_STORE_BLOCK);
        return run_submit(s, r, run);
    }
    if (run->count > 0 &&
        (pb != run->pblock + run->count || run->count == RUN_MAX_BLOCKS)) {
        int rc = run_submit(s, r, run);
        if (rc != 0)
            return rc;
    }
    if (run->count == 0) {
        run->pblock = pb;
        run->first = i;
    }
    run->count++;
    r->crc[i] = crc;
    return 0;
}

/* Walks the extent shards covering the read and submits its I/O. */
static int plan_read(struct osd_store *s, struct osd__read *r)
{
    struct run run = {0};
    struct osd__shard sh;
    uint64_t last = r->first_block + r->nblocks;
    for (uint64_t b = r->first_block; b < last;) {
        uint8_t key[16];
        uint32_t shard = (uint32_t)(b / OSD__SHARD_BLOCKS);
        void *v = NULL;
        size_t vl;
        int rc = read_get(s, key, osd__key_ext(key, r->nid, shard), &v, &vl);
        if (rc == -ENOENT)
            memset(&sh, 0, sizeof(sh));
        else if (rc == 0)
            rc = osd__shard_decode(v, vl, s->nblocks, &sh);
        free(v);
        if (rc < 0 && rc != -ENOENT)
            return -EIO;
        uint64_t end = CAIRN_MIN(last, (uint64_t)(shard + 1) * OSD__SHARD_BLOCKS);
        for (; b < end; b++) {
            unsigned idx = (unsigned)(b % OSD__SHARD_BLOCKS);
            rc = plan_block(s, r, &run, (uint32_t)(b - r->first_block), sh.pblock[idx],
                            sh.crc[idx]);
            if (rc != 0)
                return rc;
        }
    }
    return run_submit(s, r, &run);
}

/* Looks the object up and sizes the read. 1 when there is data to read. */
static int read_setup(struct osd_store *s, struct osd__read *r)
{
    uint8_t key[2 + 2 * OSD_STORE_NAME_MAX];
    size_t kl = osd__key_obj(key, r->coll, strlen(r->coll), r->oid, strlen(r->oid));
    void *v;
    size_t vl;
    struct osd__onode on;
    int rc = read_get(s, key, kl, &v, &vl);
    if (rc != 0)
        return rc;
    rc = osd__onode_decode(v, vl, &on);
    free(v);
    if (rc != 0 || r->off >= on.size || r->len == 0)
        return rc;
    r->nid = on.nid;
    r->out_len = (size_t)CAIRN_MIN((uint64_t)r->len, on.size - r->off);
    r->first_block = r->off / OSD_STORE_BLOCK;
    r->nblocks = (uint32_t)((r->off + r->out_len - 1) / OSD_STORE_BLOCK - r->first_block + 1);
    bool direct = (uintptr_t)r->buf % OSD_STORE_BLOCK == 0 && r->off % OSD_STORE_BLOCK == 0 &&
                  r->out_len % OSD_STORE_BLOCK == 0;
    if (direct) {
        r->dst = r->buf;
    } else {
        void *p = NULL;
        if (posix_memalign(&p, OSD_STORE_BLOCK, (size_t)r->nblocks * OSD_STORE_BLOCK) != 0)
            return -ENOMEM;
        r->bounce = r->dst = p;
    }
    r->crc = r->nblocks <= OSD__READ_INLINE ? r->crc_inline
                                            : malloc(r->nblocks * sizeof(*r->crc));
    return r->crc == NULL ? -ENOMEM : 1;
}

void osd__read_start(struct osd_store *s, struct osd__read *r)
{
    r->result = 0;
    r->out_len = 0;
    r->bounce = NULL;
    r->crc = NULL;
    r->ios = 1; /* held while submitting: completions may run meanwhile */
    int rc = read_setup(s, r);
    if (rc == 1)
        rc = plan_read(s, r);
    if (rc < 0)
        r->result = rc;
    if (--r->ios == 0)
        osd__read_finish(s, r);
}

/* ---- public calls ---- */

static bool read_args_ok(const char *coll, const char *oid, const void *buf, size_t len)
{
    return coll != NULL && oid != NULL && strnlen(coll, OSD_STORE_NAME_MAX + 1) > 0 &&
           strnlen(coll, OSD_STORE_NAME_MAX + 1) <= OSD_STORE_NAME_MAX &&
           strnlen(oid, OSD_STORE_NAME_MAX + 1) > 0 &&
           strnlen(oid, OSD_STORE_NAME_MAX + 1) <= OSD_STORE_NAME_MAX &&
           (buf != NULL || len == 0) && len <= OSD__READ_MAX;
}

static void read_fill(struct osd__read *r, const char *coll, const char *oid, uint64_t off,
                      size_t len, void *buf, osd_store_read_cb cb, void *arg)
{
    r->q.kind = OSD__Q_READ;
    r->q.next = NULL;
    strcpy(r->coll, coll);
    strcpy(r->oid, oid);
    r->off = off;
    r->len = len;
    r->buf = buf;
    r->cb = cb;
    r->arg = arg;
}

/* Called with store->lock held. */
static void read_enqueue(struct osd_store *s, struct osd__read *r)
{
    r->store = s;
    if (s->qtail != NULL)
        s->qtail->next = &r->q;
    else
        s->qhead = &r->q;
    s->qtail = &r->q;
    osd__wake(s);
}

int osd_store_read_async(struct osd_store *s, const char *coll, const char *oid, uint64_t off,
                         size_t len, void *buf, osd_store_read_cb cb, void *arg)
{
    if (s == NULL || cb == NULL || !read_args_ok(coll, oid, buf, len))
        return -EINVAL;
    pthread_mutex_lock(&s->lock);
    struct osd__read *r = s->read_free;
    if (r == NULL) {
        pthread_mutex_unlock(&s->lock);
        return -EAGAIN;
    }
    s->read_free = (struct osd__read *)r->q.next;
    read_fill(r, coll, oid, off, len, buf, cb, arg);
    read_enqueue(s, r);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

struct read_wait {
    sem_t done;
    int result;
    size_t out_len;
};

static void read_wait_cb(int result, size_t out_len, void *arg)
{
    struct read_wait *w = arg;
    w->result = result;
    w->out_len = out_len;
    sem_post(&w->done);
}

int osd_store_read(struct osd_store *s, const char *coll, const char *oid, uint64_t off,
                   size_t len, void *buf, size_t *out_len)
{
    if (s == NULL || !read_args_ok(coll, oid, buf, len))
        return -EINVAL;
    struct read_wait w = {.result = 0};
    struct osd__read *r = malloc(sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    sem_init(&w.done, 0, 0);
    read_fill(r, coll, oid, off, len, buf, read_wait_cb, &w);
    r->pooled = false;
    pthread_mutex_lock(&s->lock);
    read_enqueue(s, r);
    pthread_mutex_unlock(&s->lock);
    while (sem_wait(&w.done) != 0)
        ;
    sem_destroy(&w.done);
    free(r);
    if (w.result == 0 && out_len != NULL)
        *out_len = w.out_len;
    return w.result;
}

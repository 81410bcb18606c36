/* The commit thread and the kv thread. Per group:
 *
 *   commit thread:  prepare txns (each rolls back alone on error) -> submit
 *                   new-block writes -> wait -> [more txns arrived while the
 *                   previous batch is written? prepare them into this group]
 *                   -> wait for the previous batch -> finalize it (release its
 *                   frees, commit its deferred images, callbacks) -> hand over
 *   kv thread:      fdatasync data (if written) -> ONE synced RocksDB write
 *
 * so group N's syncs overlap group N+1's preparation and data writes; at most
 * one batch is at the kv thread (the WAL stays in group order). Deferred
 * images are applied in place between groups, when enough pend or when idle.
 * The commit thread owns the osd_io instance, the allocator, the overlays,
 * the deferred map and the I/O request pool; other threads touch only the
 * queue and the kv hand-off (under store->lock) and the stats (atomics).
 * States and invariants: docs/store.md §5-6. */
#include "osd/store/internal.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define IDLE_APPLY_NS (20 * 1000 * 1000) /* apply deferred blocks after 20 ms idle */
#define META_CHECK_NS (100 * 1000 * 1000) /* statvfs interval with room to spare */

struct sync_wait {
    int res;
    bool done;
};

/* Everything a transaction's rollback needs. */
struct txn_mark {
    struct osd__ov_mark ov;
    struct osd__alloc_mark alloc;
    uint32_t dfr;
    uint32_t ngw;
    uint64_t next_nid;
};

/* ---- I/O request pool ---- */

struct osd__ioreq *osd__ioreq_get(struct osd_store *s)
{
    while (s->ioreq_free == NULL) {
        int rc = osd_io_wait(s->io, 1);
        if (rc < 0) {
            osd__store_fail(s, rc, "io wait");
            return NULL;
        }
    }
    struct osd__ioreq *r = s->ioreq_free;
    s->ioreq_free = r->next_free;
    memset(&r->req, 0, sizeof(r->req));
    r->req.arg = r;
    r->store = s;
    r->owner = NULL;
    r->first = 0;
    r->count = 0;
    return r;
}

void osd__ioreq_put(struct osd_store *s, struct osd__ioreq *r)
{
    r->next_free = s->ioreq_free;
    s->ioreq_free = r;
}

void osd__ioreq_write_done(struct osd_io_req *req, int res)
{
    struct osd__ioreq *r = req->arg;
    struct osd_store *s = r->store;
    if (res != (int)((size_t)r->count * OSD_STORE_BLOCK) && s->io_error == 0)
        s->io_error = res < 0 ? res : -EIO;
    osd__ioreq_put(s, r);
}

int osd__io_drain(struct osd_store *s)
{
    while (osd_io_in_flight(s->io) > 0) {
        int rc = osd_io_wait(s->io, osd_io_in_flight(s->io));
        if (rc < 0)
            return rc;
    }
    return 0;
}

void osd__wake(struct osd_store *s)
{
    uint64_t one = 1;
    pthread_cond_signal(&s->cond_work);
    if (s->polling) { /* the eventfd only matters to a commit thread in poll() */
        ssize_t w = write(s->wake_fd, &one, sizeof(one)); /* fails only when saturated */
        (void)w;
    }
}

/* Waits until no read I/O is in flight (inv. 11). */
static void drain_reads(struct osd_store *s)
{
    while (s->reads_in_flight > 0) {
        int rc = osd_io_wait(s->io, 1);
        if (rc < 0) {
            osd__store_fail(s, rc, "io wait");
            return;
        }
    }
}

static void sync_done(struct osd_io_req *req, int res)
{
    struct osd__ioreq *r = req->arg;
    struct sync_wait *w = r->owner;
    w->res = res;
    w->done = true;
    osd__ioreq_put(r->store, r);
}

int osd__io_sync(struct osd_store *s, int op, uint64_t pblock, void *buf, size_t len)
{
    struct sync_wait w = {0};
    struct osd__ioreq *r = osd__ioreq_get(s);
    if (r == NULL)
        return -EIO;
    r->iovs[0].iov_base = buf;
    r->iovs[0].iov_len = len;
    r->req.op = (enum osd_io_op)op;
    r->req.fd = s->data_fd;
    r->req.offset = pblock * OSD_STORE_BLOCK;
    r->req.iov = r->iovs;
    r->req.iovcnt = 1;
    r->req.cb = sync_done;
    r->owner = &w;
    int rc = osd_io_submit(s->io, &r->req);
    if (rc != 0) {
        osd__ioreq_put(s, r);
        return rc;
    }
    while (!w.done) {
        rc = osd_io_wait(s->io, 1);
        if (rc < 0)
            return rc; /* the request stays owned by the instance: store fails */
    }
    if (op == OSD_IO_FDATASYNC)
        return w.res < 0 ? w.res : 0;
    return w.res == (int)len ? 0 : w.res < 0 ? w.res : -EIO;
}

/* ---- the group's new-block writes ---- */

int osd__gw_add(struct osd_store *s, uint64_t pblock, uint64_t count, const uint8_t *src)
{
    if (s->ngw == s->gwcap) {
        uint32_t cap = s->gwcap ? s->gwcap * 2 : 64;
        struct osd__gwrite *g = realloc(s->gw, cap * sizeof(*g));
        if (g == NULL)
            return -ENOMEM;
        s->gw = g;
        s->gwcap = cap;
    }
    for (uint64_t i = 0; i < count; i++) {
        int rc = osd__u64map_put(&s->gwmap, pblock + i, (void *)(src + i * OSD_STORE_BLOCK));
        if (rc != 0) {
            while (i-- > 0)
                osd__u64map_del(&s->gwmap, pblock + i);
            return rc;
        }
    }
    s->gw[s->ngw++] = (struct osd__gwrite){.pblock = pblock, .count = count, .src = src};
    return 0;
}

/* Submits the group's new-block writes not yet sent. */
static int gw_submit(struct osd_store *s)
{
    for (; s->gw_sent < s->ngw; s->gw_sent++) {
        const struct osd__gwrite *g = &s->gw[s->gw_sent];
        struct osd__ioreq *r = osd__ioreq_get(s);
        if (r == NULL)
            return -EIO;
        r->iovs[0].iov_base = (void *)g->src;
        r->iovs[0].iov_len = g->count * OSD_STORE_BLOCK;
        r->req.op = OSD_IO_WRITE;
        r->req.fd = s->data_fd;
        r->req.offset = g->pblock * OSD_STORE_BLOCK;
        r->req.iov = r->iovs;
        r->req.iovcnt = 1;
        r->req.cb = osd__ioreq_write_done;
        r->count = (uint32_t)g->count;
        int rc = osd_io_submit(s->io, &r->req);
        if (rc != 0) {
            osd__ioreq_put(s, r);
            return rc;
        }
    }
    s->data_written = s->data_written || s->ngw > 0;
    return osd_io_flush(s->io);
}

/* ---- transactions ---- */

static void txn_mark(struct osd_store *s, struct txn_mark *m)
{
    osd__ov_mark(s->ov, &m->ov);
    osd__alloc_mark(&s->alloc, &m->alloc);
    m->dfr = osd__dfr_mark(s);
    m->ngw = s->ngw;
    m->next_nid = s->next_nid;
}

static void txn_rollback(struct osd_store *s, const struct txn_mark *m)
{
    osd__dfr_rollback(s, m->dfr);
    osd__alloc_rollback(&s->alloc, &m->alloc);
    CAIRN_ASSERT(m->ngw >= s->gw_sent); /* submitted writes belong to earlier txns */
    while (s->ngw > m->ngw) {
        const struct osd__gwrite *g = &s->gw[--s->ngw];
        for (uint64_t i = 0; i < g->count; i++)
            osd__u64map_del(&s->gwmap, g->pblock + i);
    }
    s->next_nid = m->next_nid;
    osd__ov_rollback(s->ov, &m->ov);
}

/* Sets s->meta_low when the metadata file system has less than the reserve
 * free. A statvfs per group is a syscall per group; while the last one found
 * at least four times the reserve free, one every META_CHECK_NS suffices
 * (metadata grows by far less than three reserves in that time). */
static void check_meta_space(struct osd_store *s)
{
    struct statvfs st;
    uint64_t now = cairn_now_ns();
    if (s->opts.meta_reserve_bytes == 0 ||
        (s->meta_roomy && now - s->meta_checked_ns < META_CHECK_NS))
        return;
    s->meta_low = false;
    s->meta_roomy = false;
    s->meta_checked_ns = now;
    if (statvfs(s->path, &st) != 0)
        return;
    uint64_t avail = (uint64_t)st.f_bavail * st.f_frsize;
    s->meta_low = avail < s->opts.meta_reserve_bytes;
    s->meta_roomy = avail / 4 >= s->opts.meta_reserve_bytes;
}

/* Prepares every transaction of the group; returns how many succeeded. */
static unsigned prepare_txns(struct osd_store *s, struct osd__qitem *txns)
{
    uint64_t now_ns = cairn_wall_ns();
    unsigned ok = 0;
    check_meta_space(s);
    for (struct osd__qitem *q = txns; q != NULL; q = q->next) {
        struct osd_txn *t = (struct osd_txn *)q;
        if (osd__store_is_failed(s)) {
            t->result = -EROFS;
            continue;
        }
        if (s->meta_low && !t->removal_only) {
            t->result = -ENOSPC;
            continue;
        }
        struct txn_mark m;
        txn_mark(s, &m);
        t->result = osd__prep_txn(s, t, now_ns);
        if (t->result != 0)
            txn_rollback(s, &m);
        else
            ok++;
    }
    return ok;
}

static int entry_key_cmp(const void *a, const void *b)
{
    const struct osd__ov_entry *x = *(const struct osd__ov_entry *const *)a;
    const struct osd__ov_entry *y = *(const struct osd__ov_entry *const *)b;
    int c = memcmp(x->key, y->key, CAIRN_MIN(x->klen, y->klen));
    return c != 0 ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static void batch_add(struct osd__kv_batch *b, const struct osd__ov_entry *e)
{
    if (e->kind == OSD__OV_PUT)
        osd__kv_batch_put(b, e->key, e->klen, e->val, e->vlen);
    else
        osd__kv_batch_del(b, e->key, e->klen);
}

/* Adds the newest entry of each key logged in ents[from, to), in key order:
 * RocksDB keeps the position of its last memtable insert, so an insert next
 * to the previous one skips most of the skip-list search. The keys are
 * distinct, so their order within the run does not matter. Without memory
 * for the sort, log order. */
static void add_run_sorted(struct osd_store *s, struct osd__group *g, uint32_t from, uint32_t to)
{
    if (to - from > s->sort_cap) {
        uint32_t cap = CAIRN_MAX(to - from, 2 * s->sort_cap);
        const struct osd__ov_entry **v = realloc(s->sort_buf, cap * sizeof(*v));
        if (v != NULL) {
            s->sort_buf = v;
            s->sort_cap = cap;
        }
    }
    uint32_t n = 0;
    for (uint32_t i = from; i < to; i++) {
        if (!osd__ov_is_latest(&g->ov, i))
            continue;
        if (to - from > s->sort_cap)
            batch_add(g->batch, &g->ov.ents[i]);
        else
            s->sort_buf[n++] = &g->ov.ents[i];
    }
    if (n > 1)
        qsort(s->sort_buf, n, sizeof(*s->sort_buf), entry_key_cmp);
    for (uint32_t i = 0; i < n; i++)
        batch_add(g->batch, s->sort_buf[i]);
}

/* Turns the overlay log into the group's batch (the newest entry per key;
 * range deletes keep their place in the log, the runs between them are
 * sorted) plus allocator regions. */
static void build_batch(struct osd_store *s, struct osd__group *g)
{
    struct osd__kv_batch *b = g->batch;
    osd__kv_batch_clear(b);
    uint32_t run = 0;
    for (uint32_t i = 0; i <= g->ov.n; i++) {
        if (i < g->ov.n && g->ov.ents[i].kind != OSD__OV_DEL_RANGE)
            continue;
        add_run_sorted(s, g, run, i);
        run = i + 1;
        if (i < g->ov.n) {
            const struct osd__ov_entry *e = &g->ov.ents[i];
            osd__kv_batch_del_range(b, e->key, e->klen, e->val, e->vlen);
        }
    }
    for (uint32_t i = 0; i < s->alloc.ndirty; i++) {
        uint8_t key[8], val[OSD__REGION_BYTES];
        uint32_t r = s->alloc.dirty_list[i];
        size_t kl = osd__key_alloc(key, r);
        osd__alloc_encode_region(&s->alloc, r, val);
        osd__kv_batch_put(b, key, kl, val, sizeof(val));
    }
    if (s->next_nid != s->persisted_nid) {
        uint8_t val[8];
        osd__u64_encode(s->next_nid, val);
        osd__kv_batch_put(b, osd__key_next_nid, OSD__KEY_NEXT_NID_LEN, val, sizeof(val));
        s->persisted_nid = s->next_nid;
    }
}

/* ---- the kv thread ---- */

void *osd__kv_main(void *arg)
{
    struct osd_store *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->kv_req == NULL && !s->kv_stop)
            pthread_cond_wait(&s->cond_kv, &s->lock);
        struct osd__group *g = s->kv_req;
        if (g == NULL)
            break;
        pthread_mutex_unlock(&s->lock);
        /* inv. 3: the group's new blocks were written and synced by the
         * commit thread before the hand-off. */
        int rc = osd__kv_write(s->kv, g->batch, s->opts.sync);
        pthread_mutex_lock(&s->lock);
        g->kv_result = rc;
        s->kv_req = NULL;
        s->kv_done = g;
        osd__wake(s);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Fires the callbacks of a finished group and frees its transactions. */
static void complete_txns(struct osd_store *s, struct osd__qitem *txns)
{
    unsigned n = 0, ok = 0;
    for (struct osd__qitem *q = txns; q != NULL; q = q->next) {
        n++;
        ok += ((struct osd_txn *)q)->result == 0;
    }
    OSD__STAT_ADD(s, txns_committed, ok);
    OSD__STAT_SET(s, blocks_used, osd__alloc_used(&s->alloc));
    /* Room first: a callback may queue the next transaction. */
    pthread_mutex_lock(&s->lock);
    s->txns_in_flight -= n;
    pthread_cond_broadcast(&s->cond_space);
    pthread_mutex_unlock(&s->lock);
    for (struct osd__qitem *q = txns, *next; q != NULL; q = next) {
        struct osd_txn *t = (struct osd_txn *)q;
        next = q->next;
        if (t->cb != NULL)
            t->cb(t->result, t->arg);
        osd_txn_destroy(t);
    }
}

static void fail_txns(struct osd__qitem *txns, int err)
{
    for (struct osd__qitem *q = txns; q != NULL; q = q->next) {
        struct osd_txn *t = (struct osd_txn *)q;
        if (t->result == 0)
            t->result = err;
    }
}

/* The in-flight group's batch is written (or failed): release its frees,
 * commit its deferred images (inv. 3, 5), fire its callbacks. */
static void finalize(struct osd_store *s)
{
    struct osd__group *g = s->inflight;
    s->inflight = NULL;
    s->ov_prev = NULL;
    if (g->kv_result == 0) {
        osd__rc_apply(&s->rcache, &g->ov);
        drain_reads(s); /* inv. 11: no read of a freed block is still in flight */
        osd__alloc_commit(&s->alloc);
        osd__dfr_commit(s);
        OSD__STAT_ADD(s, kv_commits, 1);
    } else {
        osd__store_fail(s, g->kv_result, "metadata write");
        osd__rc_clear(&s->rcache); /* RocksDB's state is unknown now */
        /* inv. 9: reads must not see images that never became durable. */
        osd__dfr_rollback(s, 0);
        fail_txns(g->txns, g->kv_result == -ENOSPC ? -ENOSPC : -EIO);
    }
    osd__ov_reset(&g->ov);
    struct osd__qitem *txns = g->txns;
    g->txns = NULL;
    complete_txns(s, txns);
}

/* Waits for the in-flight group, if any, and finalizes it. */
static void kv_wait(struct osd_store *s)
{
    if (s->inflight == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    while (s->kv_done == NULL)
        pthread_cond_wait(&s->cond_work, &s->lock);
    CAIRN_ASSERT(s->kv_done == s->inflight);
    s->kv_done = NULL;
    pthread_mutex_unlock(&s->lock);
    finalize(s);
}

/* Seals the current group: builds its batch and makes it the in-flight one;
 * the next group starts empty. */
static struct osd__group *seal(struct osd_store *s)
{
    struct osd__group *g = s->cur;
    CAIRN_ASSERT(s->inflight == NULL); /* inv. 10: one batch at a time, in group order */
    build_batch(s, g);
    osd__alloc_seal(&s->alloc);
    osd__dfr_seal(s);
    s->cur = g == &s->groups[0] ? &s->groups[1] : &s->groups[0];
    CAIRN_ASSERT(s->cur->txns == NULL && s->cur->ov.n == 0);
    s->ov = &s->cur->ov;
    s->inflight = g;
    s->ov_prev = &g->ov;
    return g;
}

/* Seals the current group and hands its batch to the kv thread. */
static void kv_hand(struct osd_store *s)
{
    struct osd__group *g = seal(s);
    pthread_mutex_lock(&s->lock);
    s->kv_req = g;
    pthread_cond_signal(&s->cond_kv);
    pthread_mutex_unlock(&s->lock);
}

/* Seals the current group and writes its batch on this thread. Used for a
 * group without new-block writes when nothing is queued behind it: the
 * hand-off to the kv thread and the wake-up back would cost two thread
 * switches and overlap with nothing but the cheap preparation of what
 * arrives meanwhile (which then forms the next, larger group). Groups that
 * wrote data keep the kv thread, so the next group's data writes overlap
 * this group's WAL sync. */
static void kv_inline(struct osd_store *s)
{
    struct osd__group *g = seal(s);
    g->kv_result = osd__kv_write(s->kv, g->batch, s->opts.sync);
    finalize(s);
}

static bool queue_empty(struct osd_store *s)
{
    pthread_mutex_lock(&s->lock);
    bool empty = s->qhead == NULL;
    pthread_mutex_unlock(&s->lock);
    return empty;
}

static void gw_reset(struct osd_store *s)
{
    s->ngw = 0;
    s->gw_sent = 0;
    osd__u64map_clear(&s->gwmap);
    s->io_error = 0;
    s->data_written = false;
}

/* Waits for the group's new-block writes (and reads started this turn) and
 * makes them durable (inv. 3). The flush runs here, not on the kv thread, so
 * it overlaps with the previous group's metadata sync. */
static int finish_data(struct osd_store *s, int rc)
{
    int drc = osd__io_drain(s);
    if (rc == 0)
        rc = drc != 0 ? drc : s->io_error;
    if (rc == 0 && s->data_written && s->opts.sync)
        rc = osd__io_sync(s, OSD_IO_FDATASYNC, 0, NULL, 0);
    s->cur->data_written = s->data_written;
    gw_reset(s);
    if (rc != 0)
        osd__store_fail(s, rc, "data write");
    return rc;
}

/* The items of one turn, sorted by kind (queue order kept within a kind). */
struct turn {
    struct osd__qitem *txns, **ttail;
    struct osd__qitem *reads, **rtail;
    struct osd__qitem *calls, **ctail;
};

static void turn_init(struct turn *t)
{
    t->txns = t->reads = t->calls = NULL;
    t->ttail = &t->txns;
    t->rtail = &t->reads;
    t->ctail = &t->calls;
}

static void turn_add(struct turn *t, struct osd__qitem *items)
{
    for (struct osd__qitem *q = items, *next; q != NULL; q = next) {
        next = q->next;
        q->next = NULL;
        struct osd__qitem ***tail = q->kind == OSD__Q_TXN    ? &t->ttail
                                    : q->kind == OSD__Q_READ ? &t->rtail
                                                             : &t->ctail;
        **tail = q;
        *tail = &q->next;
    }
}

/* While the kv thread writes the previous batch: waits for it or for more
 * queued work, which joins the current group (group commit). */
static void absorb(struct osd_store *s, struct turn *t)
{
    pthread_mutex_lock(&s->lock);
    while (s->kv_done == NULL && s->qhead == NULL)
        pthread_cond_wait(&s->cond_work, &s->lock);
    struct osd__qitem *items = s->qhead;
    s->qhead = s->qtail = NULL;
    pthread_mutex_unlock(&s->lock);
    turn_add(t, items);
}

/* Ends a group that will not be written: failed, or nothing succeeded. */
static void drop_group(struct osd_store *s, struct osd__group *g)
{
    if (osd__store_is_failed(s)) {
        osd__dfr_rollback(s, 0);
        fail_txns(g->txns, -EIO);
    }
    CAIRN_ASSERT(s->dmap.njournal == 0);
    osd__ov_reset(s->ov);
    struct osd__qitem *txns = g->txns;
    g->txns = NULL;
    complete_txns(s, txns);
}

/* One group: prepares and writes the data of the turn's transactions, and of
 * those that arrive while the previous batch is being written; then hands
 * the batch to the kv thread (docs/store.md §5). */
static void run_txns(struct osd_store *s, struct turn *t)
{
    struct osd__group *g = s->cur;
    struct osd__qitem **gtail = &g->txns;
    unsigned ok = 0;
    int rc = 0;
    CAIRN_ASSERT(g->txns == NULL);
    while (t->txns != NULL) {
        struct osd__qitem *batch = t->txns;
        t->txns = NULL;
        t->ttail = &t->txns;
        *gtail = batch;
        while (*gtail != NULL)
            gtail = &(*gtail)->next;
        ok += prepare_txns(s, batch);
        rc = gw_submit(s); /* in flight while more transactions are prepared */
        if (rc != 0 || s->inflight == NULL || osd__store_is_failed(s))
            break;
        absorb(s, t);
    }
    finish_data(s, rc);
    kv_wait(s);
    if (osd__store_is_failed(s) || ok == 0)
        drop_group(s, g);
    else if (!g->data_written && queue_empty(s))
        kv_inline(s);
    else
        kv_hand(s);
}

static void run_calls(struct osd_store *s, struct osd__qitem *calls)
{
    if (calls != NULL) {
        kv_wait(s); /* calls run on a quiescent store */
        int rc = osd__io_drain(s);
        if (rc != 0)
            osd__store_fail(s, rc, "io wait");
    }
    for (struct osd__qitem *q = calls, *next; q != NULL; q = next) {
        struct osd__call *c = (struct osd__call *)q;
        next = q->next;
        c->result = c->fn(s, c->arg);
        sem_post(&c->done); /* @c may be gone after this */
    }
}

/* Reads see the in-flight group, never a partially prepared one. */
static void start_reads(struct osd_store *s, struct turn *t)
{
    CAIRN_ASSERT(s->ov->n == 0);
    for (struct osd__qitem *q = t->reads, *next; q != NULL; q = next) {
        next = q->next;
        osd__read_start(s, (struct osd__read *)q);
    }
    t->reads = NULL;
    t->rtail = &t->reads;
    int rc = osd_io_flush(s->io);
    if (rc != 0)
        osd__store_fail(s, rc, "io submit");
}

/* One turn: reads start at once; transactions form one group (with what
 * arrives meanwhile); reads that arrived meanwhile start after the hand-off;
 * calls run last, on a quiescent store. Reads complete whenever their I/O
 * does, possibly during a later turn (inv. 11). */
static void run_items(struct osd_store *s, struct osd__qitem *items)
{
    struct turn t;
    turn_init(&t);
    turn_add(&t, items);
    start_reads(s, &t);
    if (t.txns != NULL)
        run_txns(s, &t);
    start_reads(s, &t);
    run_calls(s, t.calls);
}

/* Sleeps until new work is signalled or an I/O completes, then runs the
 * callbacks of the completed I/O. Called without s->lock. */
static void wait_io_or_wake(struct osd_store *s)
{
    struct pollfd fds[2] = {{.fd = s->wake_fd, .events = POLLIN},
                            {.fd = osd_io_event_fd(s->io), .events = POLLIN}};
    uint64_t n;
    if (poll(fds, fds[1].fd >= 0 ? 2 : 1, fds[1].fd >= 0 ? -1 : 1) < 0 && errno != EINTR)
        return;
    ssize_t r = read(s->wake_fd, &n, sizeof(n)); /* clears it; EAGAIN when not set */
    (void)r;
    int rc = osd_io_reap(s->io, ~0u);
    if (rc < 0)
        osd__store_fail(s, rc, "io reap");
}

static bool apply_due(const struct osd_store *s)
{
    return s->dmap.committed > 0 && !s->hold_deferred && !s->failed;
}

static void apply_deferred(struct osd_store *s)
{
    kv_wait(s);      /* in-place writes only between groups */
    drain_reads(s);  /* inv. 11: nobody reads a block being rewritten in place */
    osd__dfr_apply(s);
}

/* Waits for queued work or a written batch; applies deferred blocks when
 * idle for a while. Returns the queued items (NULL when none) and whether
 * the kv thread is done or the store is closing. */
static struct osd__qitem *wait_work(struct osd_store *s, bool *kv_ready, bool *stop)
{
    pthread_mutex_lock(&s->lock);
    while (s->qhead == NULL && s->kv_done == NULL && !s->stop) {
        if (s->reads_in_flight > 0) {
            /* Every signal from now on also writes wake_fd, so nothing is
             * missed between the check above and the poll. */
            s->polling = true;
            pthread_mutex_unlock(&s->lock);
            wait_io_or_wake(s);
            pthread_mutex_lock(&s->lock);
            s->polling = false;
            continue;
        }
        if (!apply_due(s) || s->inflight != NULL) {
            pthread_cond_wait(&s->cond_work, &s->lock);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += IDLE_APPLY_NS;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        if (pthread_cond_timedwait(&s->cond_work, &s->lock, &ts) == ETIMEDOUT &&
            s->qhead == NULL) {
            pthread_mutex_unlock(&s->lock);
            apply_deferred(s);
            pthread_mutex_lock(&s->lock);
        }
    }
    struct osd__qitem *items = s->qhead;
    s->qhead = s->qtail = NULL;
    *kv_ready = s->kv_done != NULL;
    *stop = s->stop;
    pthread_mutex_unlock(&s->lock);
    return items;
}

static int startup(struct osd_store *s)
{
    int rc = osd_io_create(s->opts.backend, s->opts.io_depth, &s->io);
    if (rc != 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store %s: io backend %s: %s", s->path,
                  osd_io_backend_name(s->opts.backend), strerror(-rc));
        return rc;
    }
    unsigned n = s->opts.io_depth + 64;
    s->ioreqs = calloc(n, sizeof(*s->ioreqs));
    if (s->ioreqs == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++)
        osd__ioreq_put(s, &s->ioreqs[i]);
    return osd__dfr_replay(s);
}

void *osd__commit_main(void *arg)
{
    struct osd_store *s = arg;
    s->start_result = startup(s);
    sem_post(&s->started);
    if (s->start_result != 0)
        return NULL;
    for (;;) {
        bool kv_ready, stop;
        struct osd__qitem *items = wait_work(s, &kv_ready, &stop);
        if (kv_ready || (items == NULL && stop))
            kv_wait(s); /* callbacks first: clients then queue more */
        if (items != NULL)
            run_items(s, items);
        else if (stop)
            break;
        if (apply_due(s) && s->dmap.committed >= OSD__DEFER_APPLY_MIN)
            apply_deferred(s);
    }
    if (apply_due(s))
        apply_deferred(s);
    drain_reads(s);
    return NULL;
}

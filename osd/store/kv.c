/* The only file that calls RocksDB: opens the metadata database with the
 * store's options, and wraps get, write batches and bounded iterators in
 * our own types so that no rocksdb_* type leaves this file. RocksDB handles
 * are thread-safe: the commit thread writes, any thread reads.
 *
 * Batches are made durable by the store's journal (journal.c), not by
 * RocksDB's WAL: each one is appended there, with the journal position it
 * ends at put into the batch itself, and then written to the memtable with
 * the WAL off. A flusher thread flushes the memtables when half the ring is
 * in use and frees the ring up to what they held; open replays the records
 * after the position the database holds (docs/store.md §3a). */
#include "osd/store/internal.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <rocksdb/c.h>
#include <stdlib.h>
#include <string.h>

struct osd__kv {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_block_based_table_options_t *table;
    rocksdb_cache_t *cache;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo_sync;  /* WAL on: batches too large for a record */
    rocksdb_writeoptions_t *wo_nowal; /* journaled batches */
    rocksdb_flushoptions_t *fo;

    struct osd__journal *jnl;
    size_t jput_bytes;     /* what the journal position adds to a batch's data */
    pthread_mutex_t lock;  /* journal, flusher state; held across one write */
    pthread_cond_t cond;   /* flush wanted / flush done */
    pthread_t flusher;
    bool flusher_started, flusher_stop, flush_wanted;
    int failed;            /* a journal write or flush failed: -EIO from now on */
    uint64_t flushes;
};

struct osd__kv_iter {
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ro;
    size_t hil;
    uint8_t hi[];             /* upper bound, must outlive the iterator */
};

/* Maps a RocksDB error string to -errno, logs it, frees it. */
static int kv_error(char *err, const char *what)
{
    int rc = strstr(err, "No space") != NULL ? -ENOSPC : -EIO;
    cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store: rocksdb %s: %s", what, err);
    rocksdb_free(err);
    return rc;
}

static rocksdb_options_t *kv_options(struct osd__kv *kv, bool create)
{
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, create);
    rocksdb_options_set_error_if_exists(o, create);
    rocksdb_options_increase_parallelism(o, 2);
    rocksdb_options_set_max_background_jobs(o, 2);
    /* 32 MiB memtables (up to three: one filling, two flushing) keep an OSD
     * under its memory budget; with 64 MiB an OSD peaked at 260 MiB RSS
     * under replicated writes. Smaller skip lists also cost less per insert. */
    rocksdb_options_set_write_buffer_size(o, 32u << 20);
    rocksdb_options_set_max_write_buffer_number(o, 3);
    rocksdb_options_set_max_total_wal_size(o, 512u << 20);
    rocksdb_options_set_manual_wal_flush(o, 0);
    /* No recycle_log_file_num: RocksDB 7 turns it off under the
     * point-in-time WAL recovery the store relies on (the LOG shows 0), and
     * on this disk an append and an overwrite cost the same fdatasync. */
    rocksdb_options_set_compression(o, rocksdb_no_compression);
    kv->cache = rocksdb_cache_create_lru(64u << 20);
    kv->table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(kv->table, kv->cache);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(kv->table, 1);
    rocksdb_block_based_options_set_filter_policy(kv->table,
                                                  rocksdb_filterpolicy_create_bloom(10));
    rocksdb_options_set_block_based_table_factory(o, kv->table);
    return o;
}

static void flusher_stop(struct osd__kv *kv);

static void kv_free(struct osd__kv *kv)
{
    flusher_stop(kv);
    if (kv->db != NULL && kv->jnl != NULL && kv->failed == 0) {
        /* Everything into SSTs, so the next open has nothing to replay. */
        char *err = NULL;
        rocksdb_flush(kv->db, kv->fo, &err);
        if (err != NULL)
            kv_error(err, "flush");
    }
    osd__journal_close(kv->jnl);
    if (kv->db != NULL)
        rocksdb_close(kv->db);
    if (kv->opts != NULL)
        rocksdb_options_destroy(kv->opts);
    if (kv->table != NULL)
        rocksdb_block_based_options_destroy(kv->table);
    if (kv->cache != NULL)
        rocksdb_cache_destroy(kv->cache);
    if (kv->ro != NULL)
        rocksdb_readoptions_destroy(kv->ro);
    if (kv->wo_sync != NULL)
        rocksdb_writeoptions_destroy(kv->wo_sync);
    if (kv->wo_nowal != NULL)
        rocksdb_writeoptions_destroy(kv->wo_nowal);
    if (kv->fo != NULL)
        rocksdb_flushoptions_destroy(kv->fo);
    pthread_cond_destroy(&kv->cond);
    pthread_mutex_destroy(&kv->lock);
    free(kv);
}

/* ---- the journal ---- */

/* Flushes the memtables whenever a writer asks, then frees the ring up to
 * the last record written before the flush began. */
static void *flusher_main(void *arg)
{
    struct osd__kv *kv = arg;
    pthread_mutex_lock(&kv->lock);
    while (!kv->flusher_stop) {
        if (!kv->flush_wanted || kv->failed != 0) {
            pthread_cond_wait(&kv->cond, &kv->lock);
            continue;
        }
        /* Every record up to here is in the memtables (the lock is held
         * across a record's write and its memtable insert). */
        uint64_t last_end = osd__journal_last(kv->jnl).vend;
        pthread_mutex_unlock(&kv->lock);
        char *err = NULL;
        rocksdb_flush(kv->db, kv->fo, &err);
        pthread_mutex_lock(&kv->lock);
        if (err != NULL)
            kv->failed = kv_error(err, "flush") == -ENOSPC ? -ENOSPC : -EIO;
        else
            osd__journal_trim(kv->jnl, last_end);
        kv->flushes++;
        kv->flush_wanted = false;
        pthread_cond_broadcast(&kv->cond);
    }
    pthread_mutex_unlock(&kv->lock);
    return NULL;
}

static void flusher_stop(struct osd__kv *kv)
{
    if (!kv->flusher_started)
        return;
    pthread_mutex_lock(&kv->lock);
    kv->flusher_stop = true;
    pthread_cond_broadcast(&kv->cond);
    pthread_mutex_unlock(&kv->lock);
    pthread_join(kv->flusher, NULL);
    kv->flusher_started = false;
}

/* The journal position the database holds; *@found is false when it holds
 * none (a new store, or one made before stores had a journal). */
static int stored_position(struct osd__kv *kv, bool *found, struct osd__jpos *pos)
{
    void *v;
    size_t vl;
    int rc = osd__kv_get(kv, OSD__JOURNAL_KEY, OSD__JOURNAL_KEY_LEN, &v, &vl);
    *found = rc == 0;
    if (rc == -ENOENT)
        return 0;
    if (rc != 0)
        return rc;
    rc = osd__jpos_decode(v, vl, pos);
    free(v);
    if (rc != 0)
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store: bad journal position record");
    return rc;
}

/* Opens the journal (creating it for a new store, or for one made before
 * stores had a journal: then the database holds no position yet) and
 * applies the records the database lacks. */
static int journal_recover(struct osd__kv *kv, const char *path, uint64_t ring_bytes,
                           bool create)
{
    bool found = false;
    struct osd__jpos pos;
    int rc = create ? osd__journal_create(path, ring_bytes) : stored_position(kv, &found, &pos);
    if (rc != 0)
        return rc;
    rc = osd__journal_open(path, &kv->jnl);
    if (rc == -ENOENT && !found) {
        rc = osd__journal_create(path, ring_bytes);
        if (rc == 0)
            rc = osd__journal_open(path, &kv->jnl);
    } else if (rc == -ENOENT) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store: journal %s is missing", path);
        rc = -EIO;
    }
    if (rc != 0)
        return rc;
    if (!found)
        pos = osd__journal_origin(kv->jnl);
    uint64_t durable_end = pos.vend;
    const void *payload;
    size_t len;
    unsigned replayed = 0;
    uint64_t bytes = 0, t0 = cairn_now_ns();
    while ((rc = osd__journal_next(kv->jnl, &pos, &payload, &len)) == 1) {
        bytes += len;
        rocksdb_writebatch_t *b = rocksdb_writebatch_create_from(payload, len);
        char *err = NULL;
        rocksdb_write(kv->db, kv->wo_nowal, b, &err);
        rocksdb_writebatch_destroy(b);
        if (err != NULL)
            return kv_error(err, "journal replay");
        replayed++;
    }
    if (rc != 0)
        return rc;
    if (replayed > 0)
        cairn_log(CAIRN_LOG_INFO, CAIRN_SS_STORE,
                  "store: replayed %u journal records (%.1f MiB) in %.0f ms", replayed,
                  (double)bytes / (1 << 20), (double)(cairn_now_ns() - t0) / 1e6);
    osd__journal_start(kv->jnl, &pos, durable_end);
    return 0;
}

/* The bytes a journal position adds to a batch's data. */
static size_t jput_bytes(void)
{
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    size_t before, after;
    uint8_t v[OSD__JPOS_BYTES] = {0};
    rocksdb_writebatch_data(b, &before);
    rocksdb_writebatch_put(b, OSD__JOURNAL_KEY, OSD__JOURNAL_KEY_LEN, (const char *)v, sizeof(v));
    rocksdb_writebatch_data(b, &after);
    rocksdb_writebatch_destroy(b);
    return after - before;
}

int osd__kv_open(const char *dir, const char *journal, uint64_t journal_bytes, bool create,
                 struct osd__kv **out)
{
    struct osd__kv *kv = calloc(1, sizeof(*kv));
    if (kv == NULL)
        return -ENOMEM;
    pthread_mutex_init(&kv->lock, NULL);
    pthread_cond_init(&kv->cond, NULL);
    kv->opts = kv_options(kv, create);
    kv->ro = rocksdb_readoptions_create();
    kv->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(kv->wo_sync, 1);
    kv->wo_nowal = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(kv->wo_nowal, 1);
    kv->fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(kv->fo, 1);
    kv->jput_bytes = jput_bytes();
    char *err = NULL;
    kv->db = rocksdb_open(kv->opts, dir, &err);
    int rc = err != NULL ? kv_error(err, "open") : 0;
    if (rc == 0)
        rc = journal_recover(kv, journal, journal_bytes, create);
    if (rc == 0 && pthread_create(&kv->flusher, NULL, flusher_main, kv) != 0)
        rc = -EAGAIN;
    if (rc != 0) {
        kv->failed = rc; /* no flush at close */
        kv_free(kv);
        return rc;
    }
    kv->flusher_started = true;
    *out = kv;
    return 0;
}

void osd__kv_close(struct osd__kv *kv)
{
    if (kv != NULL)
        kv_free(kv);
}

void osd__kv_destroy_dir(const char *dir)
{
    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    rocksdb_destroy_db(o, dir, &err);
    if (err != NULL)
        kv_error(err, "destroy");
    rocksdb_options_destroy(o);
}

int osd__kv_get(struct osd__kv *kv, const void *key, size_t klen, void **val, size_t *vlen)
{
    char *err = NULL;
    size_t len = 0;
    char *v = rocksdb_get(kv->db, kv->ro, key, klen, &len, &err);
    if (err != NULL)
        return kv_error(err, "get");
    if (v == NULL)
        return -ENOENT;
    *val = v;
    *vlen = len;
    return 0;
}

/* ---- batches ---- */

struct osd__kv_batch *osd__kv_batch_create(void)
{
    return (struct osd__kv_batch *)rocksdb_writebatch_create();
}

void osd__kv_batch_destroy(struct osd__kv_batch *b)
{
    if (b != NULL)
        rocksdb_writebatch_destroy((rocksdb_writebatch_t *)b);
}

void osd__kv_batch_clear(struct osd__kv_batch *b)
{
    rocksdb_writebatch_clear((rocksdb_writebatch_t *)b);
}

void osd__kv_batch_put(struct osd__kv_batch *b, const void *k, size_t kl, const void *v,
                       size_t vl)
{
    rocksdb_writebatch_put((rocksdb_writebatch_t *)b, k, kl, v, vl);
}

void osd__kv_batch_del(struct osd__kv_batch *b, const void *k, size_t kl)
{
    rocksdb_writebatch_delete((rocksdb_writebatch_t *)b, k, kl);
}

void osd__kv_batch_del_range(struct osd__kv_batch *b, const void *start, size_t sl,
                             const void *end, size_t el)
{
    rocksdb_writebatch_delete_range((rocksdb_writebatch_t *)b, start, sl, end, el);
}

unsigned osd__kv_batch_count(struct osd__kv_batch *b)
{
    return (unsigned)rocksdb_writebatch_count((rocksdb_writebatch_t *)b);
}

/* A batch too large for one record: with every journaled batch flushed into
 * SSTs first, RocksDB's own WAL keeps it in order with them. */
static int write_large(struct osd__kv *kv, rocksdb_writebatch_t *b)
{
    char *err = NULL;
    rocksdb_flush(kv->db, kv->fo, &err);
    if (err == NULL) {
        osd__journal_trim(kv->jnl, osd__journal_last(kv->jnl).vend);
        rocksdb_write(kv->db, kv->wo_sync, b, &err);
    }
    return err != NULL ? kv_error(err, "write") : 0;
}

int osd__kv_write(struct osd__kv *kv, struct osd__kv_batch *batch, bool sync)
{
    rocksdb_writebatch_t *b = (rocksdb_writebatch_t *)batch;
    size_t len;
    rocksdb_writebatch_data(b, &len);
    len += kv->jput_bytes;
    pthread_mutex_lock(&kv->lock);
    int rc = kv->failed;
    if (rc == 0 && len > osd__journal_max_payload(kv->jnl)) {
        rc = write_large(kv, b);
        goto out;
    }
    while (rc == 0 && !osd__journal_fits(kv->jnl, len)) {
        kv->flush_wanted = true;
        pthread_cond_broadcast(&kv->cond);
        pthread_cond_wait(&kv->cond, &kv->lock);
        rc = kv->failed;
    }
    if (rc != 0)
        goto out;
    struct osd__jpos pos = osd__journal_next_pos(kv->jnl, len);
    uint8_t v[OSD__JPOS_BYTES];
    osd__jpos_encode(&pos, v);
    rocksdb_writebatch_put(b, OSD__JOURNAL_KEY, OSD__JOURNAL_KEY_LEN, (const char *)v, sizeof(v));
    size_t n;
    const char *data = rocksdb_writebatch_data(b, &n);
    CAIRN_ASSERT(n == len);
    rc = osd__journal_append(kv->jnl, data, n, sync);
    if (rc != 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store: journal write: %s", strerror(-rc));
        kv->failed = rc = -EIO;
        goto out;
    }
    char *err = NULL;
    rocksdb_write(kv->db, kv->wo_nowal, b, &err);
    if (err != NULL) {
        /* The record is durable but the memtable lacks it: stop here, a
         * reopen replays it. */
        kv->failed = rc = kv_error(err, "write");
        goto out;
    }
    if (!kv->flush_wanted &&
        osd__journal_used(kv->jnl) > osd__journal_ring_bytes(kv->jnl) / 2) {
        kv->flush_wanted = true;
        pthread_cond_broadcast(&kv->cond);
    }
out:
    pthread_mutex_unlock(&kv->lock);
    return rc;
}

void osd__kv_journal_stats(struct osd__kv *kv, uint64_t *flushes, uint64_t *used)
{
    pthread_mutex_lock(&kv->lock);
    *flushes = kv->flushes;
    *used = osd__journal_used(kv->jnl);
    pthread_mutex_unlock(&kv->lock);
}

/* ---- iterators ---- */

int osd__kv_iter_create(struct osd__kv *kv, const void *lo, size_t lol, const void *hi,
                        size_t hil, struct osd__kv_iter **out)
{
    struct osd__kv_iter *it = malloc(sizeof(*it) + hil);
    if (it == NULL)
        return -ENOMEM;
    memcpy(it->hi, hi, hil);
    it->hil = hil;
    it->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_iterate_upper_bound(it->ro, (const char *)it->hi, hil);
    it->it = rocksdb_create_iterator(kv->db, it->ro);
    rocksdb_iter_seek(it->it, lo, lol);
    *out = it;
    return 0;
}

void osd__kv_iter_destroy(struct osd__kv_iter *it)
{
    if (it == NULL)
        return;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ro);
    free(it);
}

bool osd__kv_iter_valid(struct osd__kv_iter *it)
{
    return rocksdb_iter_valid(it->it) != 0;
}

void osd__kv_iter_next(struct osd__kv_iter *it)
{
    rocksdb_iter_next(it->it);
}

void osd__kv_iter_seek(struct osd__kv_iter *it, const void *key, size_t klen)
{
    rocksdb_iter_seek(it->it, key, klen);
}

const uint8_t *osd__kv_iter_key(struct osd__kv_iter *it, size_t *klen)
{
    return (const uint8_t *)rocksdb_iter_key(it->it, klen);
}

const uint8_t *osd__kv_iter_value(struct osd__kv_iter *it, size_t *vlen)
{
    return (const uint8_t *)rocksdb_iter_value(it->it, vlen);
}

int osd__kv_iter_status(struct osd__kv_iter *it)
{
    char *err = NULL;
    rocksdb_iter_get_error(it->it, &err);
    if (err != NULL)
        return kv_error(err, "iterate");
    return 0;
}

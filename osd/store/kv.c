/* The only file that calls RocksDB: opens the metadata database with the
 * store's options, and wraps get, write batches and bounded iterators in
 * our own types so that no rocksdb_* type leaves this file. RocksDB handles
 * are thread-safe: the commit thread writes, any thread reads. */
#include "osd/store/internal.h"

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
    rocksdb_writeoptions_t *wo_sync;
    rocksdb_writeoptions_t *wo_nosync;
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

static void kv_free(struct osd__kv *kv)
{
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
    if (kv->wo_nosync != NULL)
        rocksdb_writeoptions_destroy(kv->wo_nosync);
    free(kv);
}

int osd__kv_open(const char *dir, bool create, struct osd__kv **out)
{
    struct osd__kv *kv = calloc(1, sizeof(*kv));
    if (kv == NULL)
        return -ENOMEM;
    kv->opts = kv_options(kv, create);
    char *err = NULL;
    kv->db = rocksdb_open(kv->opts, dir, &err);
    if (err != NULL) {
        int rc = kv_error(err, "open");
        kv_free(kv);
        return rc;
    }
    kv->ro = rocksdb_readoptions_create();
    kv->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(kv->wo_sync, 1);
    kv->wo_nosync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(kv->wo_nosync, 0);
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

int osd__kv_write(struct osd__kv *kv, struct osd__kv_batch *b, bool sync)
{
    char *err = NULL;
    rocksdb_write(kv->db, sync ? kv->wo_sync : kv->wo_nosync, (rocksdb_writebatch_t *)b, &err);
    if (err != NULL)
        return kv_error(err, "write");
    return 0;
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

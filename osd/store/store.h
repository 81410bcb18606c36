/* The object store engine: a local, transactional, checksummed object store,
 * one per OSD (docs/store.md has the on-disk layout).
 *
 * Metadata (object records, extent maps with a crc32c per 4 KiB block,
 * xattrs, omap, allocator bitmap, deferred writes) lives in RocksDB; object
 * data lives in one preallocated data file written and read with O_DIRECT
 * through osd/io (io_uring, or libaio). Objects are grouped in collections
 * (one per placement group).
 *
 * Durability: when a transaction's callback reports 0, the transaction is on
 * stable storage. A crash at any instant leaves every object either before or
 * after each transaction, never in between.
 *
 * Threads: the store runs one internal thread (the commit thread) that owns
 * the allocator, the I/O ring and the RocksDB write path, and groups
 * concurrent transactions into one synced RocksDB write. Every public call is
 * thread-safe. Completion callbacks run on the commit thread: keep them
 * short, and never call a blocking osd_store_* function from one.
 *
 * Errors: every call returns 0 or a negative errno. After a failed sync or a
 * failed metadata write the store turns read-only (osd_store_is_failed()):
 * later transactions fail with -EROFS until it is closed and reopened, which
 * replays the last consistent state. */
#ifndef CAIRN_OSD_STORE_H
#define CAIRN_OSD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "osd/io/io.h"

#define OSD_STORE_BLOCK 4096u
#define OSD_STORE_NAME_MAX 1024u     /* collection and object names, bytes */
#define OSD_STORE_XATTR_NAME_MAX 255u
#define OSD_STORE_VALUE_MAX (64u << 10) /* xattr and omap values, bytes */
#define OSD_STORE_OBJECT_MAX (1ull << 40)

struct osd_store;
struct osd_txn;

struct osd_store_opts {
    uint64_t data_size_bytes;     /* data file size at mkfs (rounded to blocks) */
    enum osd_io_backend backend;  /* I/O backend */
    unsigned io_depth;            /* requests in flight, default 128 */
    unsigned max_txns_in_flight;  /* queue bound; osd_store_queue returns -EAGAIN beyond */
    uint64_t meta_reserve_bytes;  /* free space kept on the metadata file system: writes
                                     fail with -ENOSPC below it, removals still work */
    bool sync;                    /* false only for benchmarks of the non-durable path */
    uint32_t deferred_max_bytes;  /* writes of at most this many bytes ride in the RocksDB
                                     batch and are applied in place later, so a group of
                                     small writes costs one flush instead of two (the data
                                     file's and the WAL's); larger ones go copy-on-write */
    size_t record_cache_bytes;    /* committed collection, object and extent records kept in
                                     memory for the commit thread's lookups; 0 disables */
};

/* Fills @opts with defaults: 1 GiB data file, default backend, depth 128,
 * 1024 transactions in flight, 64 MiB metadata reserve, sync on, writes of
 * up to 16 KiB deferred (one WAL flush instead of a data flush plus a WAL
 * flush: about half the latency of a small durable write on this kind of disk),
 * an 8 MiB record cache. */
void osd_store_opts_default(struct osd_store_opts *opts);

/* Creates a new store in directory @path (created if missing; must not hold a
 * store already: -EEXIST; -EBUSY while a process has it open; -EINVAL for a
 * data size under 64 blocks). Writes the data file to its full size. */
int osd_store_mkfs(const char *path, const struct osd_store_opts *opts);
/* Opens the store at @path, replaying deferred writes. -ENOENT when there is
 * no store, -EBUSY when another process has it open. */
int osd_store_open(const char *path, const struct osd_store_opts *opts, struct osd_store **out);
/* Waits for queued transactions, then closes. */
void osd_store_close(struct osd_store *store);

/* ---- Transactions ----------------------------------------------------
 * A transaction is a list of operations on objects of one collection,
 * applied atomically and in order. Building one only records the operations;
 * the data buffers passed to osd_txn_write are copied (so the caller may reuse
 * them once the call returns). Builders return 0 or -EINVAL (bad name,
 * length) / -ENOMEM; after a builder error, the transaction must be destroyed. */
/* NULL for a bad collection name (empty, longer than OSD_STORE_NAME_MAX) or
 * when out of memory. Write, zero, truncate, touch, setxattr and omap_set
 * create a missing object; remove, rmxattr, omap_rm and omap_clear need it
 * (-ENOENT). An empty write creates without extending; a zero past the end
 * extends the object. */
struct osd_txn *osd_txn_create(const char *coll);
void osd_txn_destroy(struct osd_txn *txn);

int osd_txn_create_collection(struct osd_txn *txn);  /* -EEXIST at apply if present */
int osd_txn_remove_collection(struct osd_txn *txn);  /* -ENOTEMPTY at apply if not empty */
int osd_txn_touch(struct osd_txn *txn, const char *oid);           /* create if missing */
int osd_txn_create_exclusive(struct osd_txn *txn, const char *oid); /* -EEXIST at apply */
int osd_txn_write(struct osd_txn *txn, const char *oid, uint64_t off, const void *data,
                  size_t len);
int osd_txn_zero(struct osd_txn *txn, const char *oid, uint64_t off, uint64_t len);
int osd_txn_truncate(struct osd_txn *txn, const char *oid, uint64_t size);
int osd_txn_remove(struct osd_txn *txn, const char *oid);            /* -ENOENT at apply */
int osd_txn_setxattr(struct osd_txn *txn, const char *oid, const char *name,
                     const void *value, size_t len);
int osd_txn_rmxattr(struct osd_txn *txn, const char *oid, const char *name); /* -ENODATA */
int osd_txn_omap_set(struct osd_txn *txn, const char *oid, const void *key, size_t key_len,
                     const void *value, size_t value_len);
int osd_txn_omap_rm(struct osd_txn *txn, const char *oid, const void *key, size_t key_len);
int osd_txn_omap_clear(struct osd_txn *txn, const char *oid);
/* Number of operations recorded. */
unsigned osd_txn_op_count(const struct osd_txn *txn);

/* A read-only view of one recorded operation, for shipping a transaction
 * to replicas. Pointers are valid while the transaction is. */
enum osd_txn_op_kind {
    OSD_TXN_MKCOLL = 1,
    OSD_TXN_RMCOLL,
    OSD_TXN_TOUCH,
    OSD_TXN_CREATE_EXCL,
    OSD_TXN_WRITE,        /* off, len, data */
    OSD_TXN_ZERO,         /* off, len */
    OSD_TXN_TRUNCATE,     /* off = the new size */
    OSD_TXN_REMOVE,
    OSD_TXN_SETXATTR,     /* key = name, val */
    OSD_TXN_RMXATTR,      /* key = name */
    OSD_TXN_OMAP_SET,     /* key, val */
    OSD_TXN_OMAP_RM,      /* key */
    OSD_TXN_OMAP_CLEAR,
};

struct osd_txn_op_view {
    enum osd_txn_op_kind kind;
    const char *oid;      /* NULL for MKCOLL and RMCOLL */
    const void *key;
    size_t key_len;
    const void *val;
    size_t val_len;
    uint64_t off, len;
    const void *data;     /* WRITE: len bytes */
};

/* Calls @fn for each operation of @txn in order; @fn returns non-zero to
 * stop (that value is returned). */
int osd_txn_foreach(const struct osd_txn *txn,
                    int (*fn)(const struct osd_txn_op_view *op, void *arg), void *arg);

typedef void (*osd_store_cb)(int result, void *arg);

/* Queues @txn and takes ownership of it. @cb fires exactly once, on the
 * commit thread, with 0 once the transaction is durable, or with -errno when
 * it failed and changed nothing: -ENOENT (missing object or collection),
 * -EEXIST, -ENOTEMPTY, -ENODATA, -ENOSPC (data file or metadata reserve
 * full), -EIO, -EROFS (store failed). Transactions on one collection apply
 * in queue order. If this call itself fails (-EAGAIN when the queue is full,
 * -EROFS, -EINVAL) the callback does not fire and the caller keeps @txn. */
int osd_store_queue(struct osd_store *store, struct osd_txn *txn, osd_store_cb cb, void *arg);
/* Queues @txn (taking ownership, also on failure) and waits for it: the
 * result above. When the queue is full it waits for room instead of -EAGAIN. */
int osd_store_apply(struct osd_store *store, struct osd_txn *txn);

/* ---- Reads ------------------------------------------------------------
 * Reads see every transaction whose callback has fired. Every data block is
 * verified against its crc32c: a mismatch returns -EIO, counts in
 * osd_store_stats.csum_errors and logs the object and block once. */
struct osd_obj_stat {
    uint64_t size;       /* bytes */
    uint64_t mtime_ns;   /* wall clock of the last change of data or size */
    uint64_t blocks;     /* allocated 4 KiB blocks */
};

/* Reads up to @len bytes at @off into @buf; *@out_len gets the bytes read
 * (short at end of object; holes read as zeros). -ENOENT for a missing object. */
int osd_store_read(struct osd_store *store, const char *coll, const char *oid, uint64_t off,
                   size_t len, void *buf, size_t *out_len);
typedef void (*osd_store_read_cb)(int result, size_t out_len, void *arg);
/* The same, asynchronously: @cb fires once on the commit thread with the
 * result and the bytes read; @buf must stay valid until then. If the call
 * fails (-EAGAIN, -EINVAL) the callback does not fire. */
int osd_store_read_async(struct osd_store *store, const char *coll, const char *oid,
                         uint64_t off, size_t len, void *buf, osd_store_read_cb cb, void *arg);
int osd_store_stat(struct osd_store *store, const char *coll, const char *oid,
                   struct osd_obj_stat *st);
/* Copies the value into @buf (up to @cap bytes); *@len gets its full length.
 * -ENOENT (object), -ENODATA (no such xattr), -ERANGE when @cap is too small. */
int osd_store_getxattr(struct osd_store *store, const char *coll, const char *oid,
                       const char *name, void *buf, size_t cap, size_t *len);
typedef int (*osd_store_kv_fn)(const void *key, size_t key_len, const void *value,
                               size_t value_len, void *arg);
/* Calls @fn for each xattr in name order; @fn returns non-zero to stop (that
 * value is returned). Keys and values are valid only during the call. */
int osd_store_xattrs(struct osd_store *store, const char *coll, const char *oid,
                     osd_store_kv_fn fn, void *arg);
int osd_store_omap_get(struct osd_store *store, const char *coll, const char *oid,
                       const void *key, size_t key_len, void *buf, size_t cap, size_t *len);
/* Calls @fn for up to @max omap entries with keys > @after (all when @after is
 * NULL), in byte order (@max 0: no limit). *@more is set when entries remain.
 * osd_store_omap_get returns -ENODATA for a missing key. */
int osd_store_omap_list(struct osd_store *store, const char *coll, const char *oid,
                        const void *after, size_t after_len, unsigned max, osd_store_kv_fn fn,
                        void *arg, bool *more);
/* Lists up to @max object names of @coll greater than @after (NULL: from the
 * start), in byte order (@max 0: no limit); @fn gets (name, name_len, NULL, 0).
 * -ENOENT when the collection does not exist. */
int osd_store_list(struct osd_store *store, const char *coll, const char *after, unsigned max,
                   osd_store_kv_fn fn, void *arg, bool *more);
/* Lists collections, in byte order. */
int osd_store_list_collections(struct osd_store *store, osd_store_kv_fn fn, void *arg);

/* ---- Health -------------------------------------------------------------*/
struct osd_store_stats {
    uint64_t data_blocks_total;
    uint64_t data_blocks_used;
    uint64_t txns_committed;
    uint64_t kv_commits;         /* synced RocksDB writes; txns/kv_commits = group size */
    uint64_t deferred_writes;    /* small writes that went through the RocksDB batch */
    uint64_t deferred_pending;   /* deferred writes not yet applied in place */
    uint64_t csum_errors;        /* blocks that failed crc32c verification on read */
    uint64_t kv_lookups;         /* point reads the commit thread sent to RocksDB */
    uint64_t record_cache_hits;  /* lookups the record cache answered instead */
    uint64_t journal_flushes;    /* memtable flushes that freed journal ring space */
    uint64_t journal_bytes_used; /* ring bytes holding records not yet in SSTs */
};
void osd_store_get_stats(struct osd_store *store, struct osd_store_stats *out);
bool osd_store_is_failed(struct osd_store *store);

struct osd_fsck_report {
    uint64_t objects;
    uint64_t blocks_referenced;
    uint64_t errors;              /* total of the counts below */
    uint64_t blocks_leaked;       /* marked used, referenced by nothing */
    uint64_t blocks_double_used;  /* referenced twice, or referenced and marked free */
    uint64_t bad_records;         /* metadata that does not decode */
    uint64_t csum_errors;         /* deep fsck only: data blocks failing crc32c */
    char first_error[256];        /* description of the first error found */
};
/* Checks the store's metadata (and with @deep, reads and verifies every data
 * block). Runs on a quiescent, open store. 0 when the check ran (look at
 * report->errors), or -errno. */
int osd_store_fsck(struct osd_store *store, bool deep, struct osd_fsck_report *report);

#endif

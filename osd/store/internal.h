/* Private declarations of the object store, in sections by defining file.
 * docs/store.md describes the on-disk layout and numbers the invariants
 * (inv. N) that the asserts below and in the .c files cite.
 * RocksDB types never appear here: kv.c wraps them behind struct osd__kv. */
#ifndef CAIRN_OSD_STORE_INTERNAL_H
#define CAIRN_OSD_STORE_INTERNAL_H

#include "osd/store/store.h"

#include "common/assert.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OSD__SHARD_BLOCKS 64u       /* logical blocks per extent shard */
#define OSD__REGION_BLOCKS 8192u    /* allocator blocks per A record */
#define OSD__REGION_BYTES (OSD__REGION_BLOCKS / 8u)
#define OSD__OMAP_KEY_MAX 4096u     /* omap key bytes */
#define OSD__KEY_MAX (16u + 2u * OSD_STORE_NAME_MAX + OSD__OMAP_KEY_MAX)
#define OSD__IO_MAX_BYTES (4u << 20) /* largest single data I/O we issue */
/* Deferred blocks pending before an apply; larger bursts of in-place writes
 * delay every WAL append queued behind them on the disk (docs/store.md §5). */
#define OSD__DEFER_APPLY_MIN 32u

CAIRN_STATIC_ASSERT(OSD__REGION_BLOCKS % 64u == 0, "regions hold whole bitmap words");
CAIRN_STATIC_ASSERT(OSD__IO_MAX_BYTES % OSD_STORE_BLOCK == 0, "I/Os are whole blocks");

/* Key prefixes, one byte per kind (docs/store.md §2). */
enum {
    OSD__K_ALLOC = 'A',
    OSD__K_COLL = 'C',
    OSD__K_DEFER = 'D',
    OSD__K_EXT = 'E',
    OSD__K_OMAP = 'M',
    OSD__K_OBJ = 'O',
    OSD__K_STATE = 'S',
    OSD__K_XATTR = 'X',
};

/* ---- keys.c: key and record encoding ------------------------------------ */

/* Small xattrs live in the object record itself (docs/store.md §2): an
 * xattr whose name and value together take at most OSD__XA_INLINE_MAX
 * bytes, while the record's area has room for it. The others are X keys. */
#define OSD__XA_INLINE_MAX 128u
#define OSD__XA_AREA_MAX 512u
#define OSD__ONODE_XKEYS 1u /* flags: the object may have X keys */

/* An object record (O key). */
struct osd__onode {
    uint64_t nid;       /* unique object id, never reused; 0 is invalid */
    uint64_t size;      /* bytes */
    uint64_t mtime_ns;  /* wall clock of the last change */
    uint64_t blocks;    /* allocated data blocks */
    uint32_t flags;     /* OSD__ONODE_XKEYS */
    uint16_t xa_len;    /* bytes used in xa */
    /* inline xattrs in name order: name_len u8, value_len u8, name, value */
    uint8_t xa[OSD__XA_AREA_MAX];
};
#define OSD__ONODE_FIXED_LEN 37u
#define OSD__ONODE_MAX (OSD__ONODE_FIXED_LEN + OSD__XA_AREA_MAX)

/* The decoded form of one extent shard (E key): 64 logical blocks. */
struct osd__shard {
    uint64_t pblock[OSD__SHARD_BLOCKS]; /* physical block, 0 = hole */
    uint32_t crc[OSD__SHARD_BLOCKS];    /* crc32c of the 4 KiB block */
};
#define OSD__SHARD_ENC_MAX (2u + OSD__SHARD_BLOCKS * 13u)
#define OSD__DEFER_LEN (1u + 8u + OSD_STORE_BLOCK)

void osd__put_be32(uint8_t *p, uint32_t v);
void osd__put_be64(uint8_t *p, uint64_t v);
void osd__put_le32(uint8_t *p, uint32_t v);
void osd__put_le64(uint8_t *p, uint64_t v);
uint32_t osd__get_be32(const uint8_t *p);
uint64_t osd__get_be64(const uint8_t *p);
uint32_t osd__get_le32(const uint8_t *p);
uint64_t osd__get_le64(const uint8_t *p);

/* Key builders write into @out (OSD__KEY_MAX bytes) and return the length. */
size_t osd__key_coll(uint8_t *out, const char *coll, size_t coll_len);
/* "O" coll "\0" name; with name_len 0 it is the prefix of the collection. */
size_t osd__key_obj(uint8_t *out, const char *coll, size_t coll_len, const char *name,
                    size_t name_len);
size_t osd__key_ext(uint8_t *out, uint64_t nid, uint32_t shard);
size_t osd__key_nid(uint8_t *out, char kind, uint64_t nid); /* prefix of X/M/E of @nid */
size_t osd__key_xattr(uint8_t *out, uint64_t nid, const void *name, size_t name_len);
size_t osd__key_omap(uint8_t *out, uint64_t nid, const void *key, size_t key_len);
size_t osd__key_alloc(uint8_t *out, uint32_t region);
size_t osd__key_defer(uint8_t *out, uint64_t seq);
/* FNV-1a of a key: the overlay's and the record cache's hash. */
uint32_t osd__key_hash(const void *k, size_t kl);
extern const uint8_t osd__key_next_nid[];
#define OSD__KEY_NEXT_NID_LEN 4u

/* Byte order of names, a prefix first: the order of their X keys. */
static inline int osd__name_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

/* Writes at most OSD__ONODE_MAX bytes; returns the length. */
size_t osd__onode_encode(const struct osd__onode *on, uint8_t *out);
/* -EIO for anything that is not a valid record. */
int osd__onode_decode(const void *buf, size_t len, struct osd__onode *on);
/* The inline xattr @name: 1 and its value, or 0 when it is not inline. */
int osd__xa_find(const struct osd__onode *on, const void *name, size_t nlen,
                 const uint8_t **val, size_t *vlen);
/* Sets @name inline: 0, or -ENOSPC when it is too big or the area is full
 * (the caller then keeps it in an X key). */
int osd__xa_set(struct osd__onode *on, const void *name, size_t nlen, const void *val,
                size_t vlen);
/* Removes @name from the area: 1 when it was there, else 0. */
int osd__xa_del(struct osd__onode *on, const void *name, size_t nlen);
/* The inline xattr at byte offset @off of the area (0: the first, in name
 * order): returns the offset of the next one, or 0 when @off is past the
 * last. */
size_t osd__xa_entry(const struct osd__onode *on, size_t off, const uint8_t **name,
                     size_t *nlen, const uint8_t **val, size_t *vlen);
/* Returns the encoded length (at most OSD__SHARD_ENC_MAX); 0 when all holes. */
size_t osd__shard_encode(const struct osd__shard *s, uint8_t *out);
/* Validates every entry against @nblocks (block numbers in 1..nblocks-1). */
int osd__shard_decode(const void *buf, size_t len, uint64_t nblocks, struct osd__shard *s);
void osd__defer_encode(uint64_t pblock, const void *image, uint8_t *out);
int osd__defer_decode(const void *buf, size_t len, uint64_t nblocks, uint64_t *pblock,
                      const uint8_t **image);
void osd__u64_encode(uint64_t v, uint8_t *out);
int osd__u64_decode(const void *buf, size_t len, uint64_t *v);

/* ---- kv.c: the RocksDB wrapper ------------------------------------------ */

struct osd__kv;
struct osd__kv_batch;
struct osd__kv_iter;

/* Opens the database in @dir with its journal at @journal (a ring of
 * @journal_bytes when it has to be created) and replays the journal.
 * @create: mkfs (create both, fail if the database is present).
 * -EIO / -ENOENT, message logged. */
int osd__kv_open(const char *dir, const char *journal, uint64_t journal_bytes, bool create,
                 struct osd__kv **out);
void osd__kv_close(struct osd__kv *kv);
/* Removes a half-created database at @dir (crashed mkfs). */
void osd__kv_destroy_dir(const char *dir);
/* 0 with a malloc'd *@val (free with free()), -ENOENT, or -EIO. */
int osd__kv_get(struct osd__kv *kv, const void *key, size_t klen, void **val, size_t *vlen);

struct osd__kv_batch *osd__kv_batch_create(void);
void osd__kv_batch_destroy(struct osd__kv_batch *b);
void osd__kv_batch_clear(struct osd__kv_batch *b);
void osd__kv_batch_put(struct osd__kv_batch *b, const void *k, size_t kl, const void *v,
                       size_t vl);
void osd__kv_batch_del(struct osd__kv_batch *b, const void *k, size_t kl);
void osd__kv_batch_del_range(struct osd__kv_batch *b, const void *start, size_t sl,
                             const void *end, size_t el);
unsigned osd__kv_batch_count(struct osd__kv_batch *b);
/* 0, -ENOSPC (RocksDB says "No space") or -EIO; the error is logged. */
int osd__kv_write(struct osd__kv *kv, struct osd__kv_batch *b, bool sync);
/* Memtable flushes the journal asked for, and the ring bytes in use. */
void osd__kv_journal_stats(struct osd__kv *kv, uint64_t *flushes, uint64_t *used);

/* An iterator over keys in [@lo, @hi) on an implicit snapshot. */
int osd__kv_iter_create(struct osd__kv *kv, const void *lo, size_t lol, const void *hi,
                        size_t hil, struct osd__kv_iter **out);
void osd__kv_iter_destroy(struct osd__kv_iter *it);
bool osd__kv_iter_valid(struct osd__kv_iter *it);
void osd__kv_iter_next(struct osd__kv_iter *it);
void osd__kv_iter_seek(struct osd__kv_iter *it, const void *key, size_t klen);
const uint8_t *osd__kv_iter_key(struct osd__kv_iter *it, size_t *klen);
const uint8_t *osd__kv_iter_value(struct osd__kv_iter *it, size_t *vlen);
/* 0, or -EIO when the iteration stopped on an error. */
int osd__kv_iter_status(struct osd__kv_iter *it);

/* ---- journal.c: the metadata journal in front of RocksDB ----------------
 * A ring of checksummed records, one per RocksDB batch, written with
 * O_DIRECT into a file that is preallocated with zeros, so that a durable
 * append is one write and one cache flush with no file system metadata to
 * persist (docs/store.md §3a). kv.c owns the policy; this file only the
 * format. Records are addressed by a logical offset that only grows; the
 * physical place is 4096 + v % ring. One thread at a time. */

struct osd__journal;

/* Where replay resumes: the last record applied (its seq, the logical offset
 * just past it, and the incarnation nonce it was written with). A batch
 * carries the one of its own record under OSD__JOURNAL_KEY. */
struct osd__jpos {
    uint64_t seq;
    uint64_t vend;
    uint64_t nonce;
};
#define OSD__JOURNAL_KEY "Sjnl"
#define OSD__JOURNAL_KEY_LEN 4u
#define OSD__JPOS_BYTES 25u /* version byte + three u64 */

void osd__jpos_encode(const struct osd__jpos *pos, uint8_t out[OSD__JPOS_BYTES]);
int osd__jpos_decode(const void *buf, size_t len, struct osd__jpos *pos);

/* Creates (or recreates) the journal at @path with a ring of @ring_bytes
 * (a multiple of 4096, at least 1 MiB), written with zeros and fsynced. */
int osd__journal_create(const char *path, uint64_t ring_bytes);
/* Opens it: -ENOENT when missing, -EIO when its header is bad. */
int osd__journal_open(const char *path, struct osd__journal **out);
void osd__journal_close(struct osd__journal *j);
uint64_t osd__journal_ring_bytes(const struct osd__journal *j);
/* The position before the first record of a new journal. */
struct osd__jpos osd__journal_origin(const struct osd__journal *j);

/* Replay: reads the record after @at. 1 with *@payload (@len bytes, valid
 * until the next call) and *@at moved to it; 0 when there is none (a
 * torn, stale or foreign record ends the journal); -EIO on a read error. */
int osd__journal_next(struct osd__journal *j, struct osd__jpos *at, const void **payload,
                      size_t *len);
/* After replay: appends follow @at, and the ring from @tail_vend on is
 * kept (the records after the last one the database holds durably). */
void osd__journal_start(struct osd__journal *j, const struct osd__jpos *at, uint64_t tail_vend);

/* The largest payload one record may carry (a quarter of the ring). */
size_t osd__journal_max_payload(const struct osd__journal *j);
/* True when a record of @len payload bytes fits before the tail. */
bool osd__journal_fits(const struct osd__journal *j, size_t len);
/* The position the next record of @len payload bytes will have. */
struct osd__jpos osd__journal_next_pos(const struct osd__journal *j, size_t len);
/* Writes that record (after osd__journal_fits; @len as given to next_pos);
 * with @sync, durable on return, together with every earlier record. */
int osd__journal_append(struct osd__journal *j, const void *payload, size_t len, bool sync);
/* The newest record's position (replayed or appended). */
struct osd__jpos osd__journal_last(const struct osd__journal *j);
/* Logical bytes between the tail and the next append. */
uint64_t osd__journal_used(const struct osd__journal *j);
/* Frees the ring before @vend (everything up to there is durable elsewhere). */
void osd__journal_trim(struct osd__journal *j, uint64_t vend);

/* ---- u64map.c: open-addressing map from u64 (never 0) to pointer -------- */

struct osd__u64map {
    uint64_t *keys;   /* 0 = empty slot */
    void **vals;
    uint32_t mask;    /* capacity - 1, capacity a power of two */
    uint32_t count;
};
int osd__u64map_init(struct osd__u64map *m, uint32_t cap_hint);
void osd__u64map_fini(struct osd__u64map *m);
void *osd__u64map_get(const struct osd__u64map *m, uint64_t key);
/* Inserts or replaces. -ENOMEM. */
int osd__u64map_put(struct osd__u64map *m, uint64_t key, void *val);
void osd__u64map_del(struct osd__u64map *m, uint64_t key);
void osd__u64map_clear(struct osd__u64map *m);
/* Iteration: slots 0..mask; returns the key at @slot or 0. */
uint64_t osd__u64map_slot(const struct osd__u64map *m, uint32_t slot, void **val);

/* ---- overlay.c: the state being prepared in one group ------------------- */

enum osd__ov_kind {
    OSD__OV_PUT = 1,
    OSD__OV_DEL,
    OSD__OV_DEL_RANGE,
};

struct osd__ov_entry {
    const uint8_t *key;  /* arena; for DEL_RANGE the start key */
    const uint8_t *val;  /* arena; for DEL_RANGE the end key */
    uint32_t klen;
    uint32_t vlen;
    uint32_t hash;
    int32_t hnext;       /* older entry in the same bucket, -1 at the end */
    uint8_t kind;        /* enum osd__ov_kind */
};

struct osd__arena_chunk {
    uint8_t *mem;
    size_t size;
};

struct osd__arena {
    struct osd__arena_chunk *chunks;
    uint32_t nchunks;
    uint32_t cur;        /* chunk being filled */
    size_t used;         /* bytes used in chunks[cur] */
};

struct osd__overlay {
    struct osd__ov_entry *ents;  /* the group's log of changes, in order */
    uint32_t n;
    uint32_t cap;
    int32_t *buckets;            /* newest entry per bucket, -1 when empty */
    uint32_t nbuckets;           /* a power of two */
    struct osd__arena arena;
};

struct osd__ov_mark {
    uint32_t n;
    uint32_t arena_cur;
    size_t arena_used;
};

int osd__ov_init(struct osd__overlay *ov);
void osd__ov_fini(struct osd__overlay *ov);
/* Empties the log and the arena (after the group's batch is written). */
void osd__ov_reset(struct osd__overlay *ov);
/* Arena memory, valid until osd__ov_reset or a rollback past it; 16-aligned. */
void *osd__ov_alloc(struct osd__overlay *ov, size_t len);
/* Put and delete copy the key (and value) into the arena. -ENOMEM. */
int osd__ov_put(struct osd__overlay *ov, const void *k, size_t kl, const void *v, size_t vl);
int osd__ov_del(struct osd__overlay *ov, const void *k, size_t kl);
/* A range delete is only logged: lookups do not see it (inv. 6). */
int osd__ov_del_range(struct osd__overlay *ov, const void *start, size_t sl, const void *end,
                      size_t el);
/* 1 with the value, 0 when deleted in the overlay, -ENOENT when the overlay
 * does not know the key. */
int osd__ov_get(const struct osd__overlay *ov, const void *k, size_t kl, const uint8_t **val,
                size_t *vl);
/* True when entry @i is the newest for its key. */
bool osd__ov_is_latest(const struct osd__overlay *ov, uint32_t i);
void osd__ov_mark(const struct osd__overlay *ov, struct osd__ov_mark *m);
void osd__ov_rollback(struct osd__overlay *ov, const struct osd__ov_mark *m);

/* ---- rcache.c: committed records the commit thread looked up ----------- */

/* A byte-bounded LRU cache of collection, object and extent records (C, O and
 * E keys) exactly as RocksDB holds them, absences included. Filled by lookups
 * that reached RocksDB and by each group's changes once its batch is durable,
 * so for any key it holds it agrees with RocksDB (docs/store.md §4). Range
 * deletes are not applied: they only cover keys of a removed object's nid,
 * which is never looked up again (nids are never reused). The commit thread
 * alone changes it; other threads may peek (osd__rc_peek) under @lock, which
 * every change of the hash chains or of a value holds. */
struct osd__rc_entry;

struct osd__rcache {
    pthread_mutex_t lock;
    struct osd__rc_entry **buckets;
    uint32_t nbuckets;            /* a power of two, 0 when disabled */
    uint32_t count;
    size_t bytes;                 /* entries, keys and values */
    size_t max_bytes;
    struct osd__rc_entry *newest; /* LRU list: newest ... oldest */
    struct osd__rc_entry *oldest;
};

/* @max_bytes 0 disables the cache (every get misses, sets are ignored). */
int osd__rc_init(struct osd__rcache *c, size_t max_bytes);
void osd__rc_fini(struct osd__rcache *c);
void osd__rc_clear(struct osd__rcache *c);
/* True for the kinds of keys the cache holds. */
bool osd__rc_is_cached_kind(const void *k, size_t kl);
/* 1 with the value (valid until the next call on the cache), 0 when RocksDB
 * does not have the key, -ENOENT when the cache does not know. */
int osd__rc_get(struct osd__rcache *c, const void *k, size_t kl, const uint8_t **val,
                size_t *vl);
/* Records the value RocksDB holds for @k (@val NULL: absent). When memory
 * runs out the key is forgotten instead, never left stale. */
void osd__rc_set(struct osd__rcache *c, const void *k, size_t kl, const void *val, size_t vl);
/* Applies a group's changes once its batch is durable. */
void osd__rc_apply(struct osd__rcache *c, const struct osd__overlay *ov);
/* Any thread: copies the cached value of @k into @buf. 1 with *@vl its
 * length, 0 when RocksDB does not have the key, -ENOENT when the cache does
 * not know or the value is longer than @cap. Never fills the cache: a
 * value read beside the commit thread may already be stale. */
int osd__rc_peek(struct osd__rcache *c, const void *k, size_t kl, void *buf, size_t cap,
                 size_t *vl);

/* ---- alloc.c: the block allocator (commit thread) ----------------------- */

struct osd__run {
    uint64_t start;
    uint64_t count;
};

struct osd__runvec {
    struct osd__run *v;
    uint32_t n;
    uint32_t cap;
};

struct osd__alloc {
    uint64_t nblocks;      /* data file blocks; block 0 is reserved (inv. 1) */
    uint64_t nwords;
    uint64_t *avail;       /* bit set: not allocatable (used or pending free) */
    uint64_t *disk;        /* bit set: used in the state the next batch persists */
    uint64_t free_count;   /* clear bits in avail */
    uint64_t cursor;       /* next-fit search start */
    uint8_t *dirty;        /* one byte per region: A record to rewrite */
    uint32_t *dirty_list;
    uint32_t ndirty;
    uint32_t nregions;
    struct osd__runvec allocs; /* this group's allocations, in order */
    struct osd__runvec frees;  /* frees pending until durable (inv. 3): the in-flight
                                  group's first, then the current group's */
    uint32_t sealed_frees;     /* runs of frees that belong to the in-flight group */
};

struct osd__alloc_mark {
    uint32_t nallocs;
    uint32_t nfrees;
    uint64_t alloc_tail;   /* length of the last alloc run at mark time */
    uint64_t free_tail;
    uint64_t cursor;
};

int osd__alloc_init(struct osd__alloc *a, uint64_t nblocks);
void osd__alloc_fini(struct osd__alloc *a);
/* Loads one A record at open. -EIO when malformed. */
int osd__alloc_load_region(struct osd__alloc *a, uint32_t region, const void *val, size_t len);
/* Finishes loading: reserves block 0 and the tail bits, counts free blocks. */
void osd__alloc_loaded(struct osd__alloc *a);
/* Allocates up to @want contiguous blocks at the cursor; returns the count (0 when
 * the data file is full) and the first block in *@start. */
uint64_t osd__alloc_run(struct osd__alloc *a, uint64_t want, uint64_t *start);
/* Frees blocks: persisted free by this group's batch, reusable after it (inv. 3). */
int osd__alloc_free(struct osd__alloc *a, uint64_t start, uint64_t count);
bool osd__alloc_is_used(const struct osd__alloc *a, uint64_t block);
void osd__alloc_mark(const struct osd__alloc *a, struct osd__alloc_mark *m);
void osd__alloc_rollback(struct osd__alloc *a, const struct osd__alloc_mark *m);
/* The current group's batch is built: its frees wait for that batch. */
void osd__alloc_seal(struct osd__alloc *a);
/* After the sealed batch is durable: its pending frees become allocatable. */
void osd__alloc_commit(struct osd__alloc *a);
/* Encodes region @r of the disk bitmap into @out (OSD__REGION_BYTES). */
void osd__alloc_encode_region(const struct osd__alloc *a, uint32_t r, uint8_t *out);
/* Fills an initial region image for mkfs (block 0 used). */
void osd__alloc_mkfs_region(uint64_t nblocks, uint32_t r, uint8_t *out);
uint64_t osd__alloc_used(const struct osd__alloc *a);

/* ---- deferred.c: pending deferred block images (commit thread) ---------- */

struct osd__dfr {
    uint64_t pblock;
    uint64_t seq;             /* D record key */
    uint8_t *image;           /* 4 KiB, 4096-aligned */
    struct osd__dfr *older;   /* committed entry this group entry replaces */
    bool committed;           /* its batch is durable */
    bool cancelled;           /* its block was freed in the group being prepared */
};

struct osd__dfr_jent {
    struct osd__dfr *d;
    uint8_t op;               /* 1 add, 2 cancel */
};

struct osd__dmap {
    struct osd__u64map map;   /* pblock -> newest osd__dfr */
    struct osd__dfr_jent *journal; /* this group's changes, in order */
    uint32_t njournal;
    uint32_t jcap;
    uint32_t sealed;          /* journal entries of the in-flight group */
    uint64_t committed;       /* committed entries not yet applied */
    void **img_cache;         /* free 4 KiB aligned buffers */
    uint32_t ncache;
};

int osd__dmap_init(struct osd__dmap *dm);
void osd__dmap_fini(struct osd__dmap *dm);
uint8_t *osd__dmap_image_get(struct osd__dmap *dm);
void osd__dmap_image_put(struct osd__dmap *dm, uint8_t *img);
/* The newest image for @pblock that is not cancelled, or NULL. */
const uint8_t *osd__dmap_lookup(const struct osd__dmap *dm, uint64_t pblock);

/* ---- store.c / commit.c: the store and its commit thread ---------------- */

enum osd__qkind {
    OSD__Q_TXN = 1,
    OSD__Q_READ,
    OSD__Q_CALL,
};

struct osd__qitem {
    struct osd__qitem *next;
    uint8_t kind;             /* enum osd__qkind */
};

enum osd__op_type {
    OSD__OP_MKCOLL = 1,
    OSD__OP_RMCOLL,
    OSD__OP_TOUCH,
    OSD__OP_CREATE_EXCL,
    OSD__OP_WRITE,
    OSD__OP_ZERO,
    OSD__OP_TRUNCATE,
    OSD__OP_REMOVE,
    OSD__OP_SETXATTR,
    OSD__OP_RMXATTR,
    OSD__OP_OMAP_SET,
    OSD__OP_OMAP_RM,
    OSD__OP_OMAP_CLEAR,
};

struct osd__op {
    const char *oid;          /* txn arena, NUL-terminated */
    const uint8_t *key;       /* xattr name or omap key */
    const uint8_t *val;       /* xattr or omap value */
    uint8_t *data;            /* write: 4096-aligned copy; byte off%4096 is data[0] */
    uint64_t off;             /* write/zero offset, truncate size */
    uint64_t len;
    uint32_t oid_len;
    uint32_t klen;
    uint32_t vlen;
    uint8_t type;             /* enum osd__op_type */
};

struct osd__tarena {
    struct osd__tarena *next;
    size_t used;
    size_t size;
    uint8_t mem[];
};

struct osd_txn {
    struct osd__qitem q;      /* first: the queue link */
    osd_store_cb cb;
    void *arg;
    char *coll;               /* txn arena */
    size_t coll_len;
    struct osd__op *ops;
    unsigned nops;
    unsigned cap;
    struct osd__tarena *arena;
    int result;               /* set by the commit thread */
    bool removal_only;        /* only removals: allowed under the metadata reserve */
    struct osd__op inline_ops[4];
};

/* A block-read plan entry: where block i of the read comes from. */
enum osd__rsrc {
    OSD__R_HOLE = 0,
    OSD__R_DISK,
    OSD__R_DEFERRED,
};

#define OSD__READ_INLINE 64u
#define OSD__READ_MAX (1u << 30) /* bytes per read call */

struct osd__read {
    struct osd__qitem q;      /* first: the queue link */
    struct osd_store *store;
    char coll[OSD_STORE_NAME_MAX + 1];
    char oid[OSD_STORE_NAME_MAX + 1];
    uint64_t off;
    size_t len;
    uint8_t *buf;             /* caller's buffer */
    osd_store_read_cb cb;
    void *arg;
    /* Commit thread state. */
    uint8_t *dst;             /* aligned destination (buf or bounce) */
    uint8_t *bounce;          /* NULL when reading into buf directly */
    uint64_t nid;
    uint64_t first_block;
    uint32_t nblocks;
    uint32_t *crc;            /* expected crc per block (DISK only) */
    uint32_t crc_inline[OSD__READ_INLINE];
    size_t out_len;
    unsigned ios;             /* data I/Os in flight */
    int result;
    bool pooled;              /* from the read pool (async) */
    /* Synchronous callers. */
    sem_t done;
};

struct osd__call {
    struct osd__qitem q;      /* first */
    int (*fn)(struct osd_store *store, void *arg);
    void *arg;
    int result;
    sem_t done;
};

struct osd__ioreq {
    struct osd_io_req req;    /* req.arg points back here */
    struct iovec iovs[OSD_IO_MAX_IOV];
    struct osd_store *store;
    void *owner;              /* the read, or a synchronous waiter */
    uint32_t first;           /* reads: first block index in the read */
    uint32_t count;           /* blocks */
    uint64_t pblock;          /* reads: first physical block */
    struct osd__ioreq *next_free;
};

/* A group's new-block data write (submitted after all txns are prepared). */
struct osd__gwrite {
    uint64_t pblock;
    uint64_t count;
    const uint8_t *src;
};

struct osd__stats {
    uint64_t txns_committed;
    uint64_t kv_commits;
    uint64_t deferred_writes;
    uint64_t deferred_pending;
    uint64_t csum_errors;
    uint64_t blocks_used;
    uint64_t kv_lookups;
    uint64_t record_cache_hits;
};

/* One group of transactions: prepared by the commit thread, then written by
 * the kv thread while the next group is prepared (docs/store.md §5). */
struct osd__group {
    struct osd__overlay ov;     /* its metadata changes */
    struct osd__qitem *txns;    /* its transactions, results set */
    struct osd__kv_batch *batch;
    bool data_written;          /* new blocks to fdatasync before the batch */
    int kv_result;              /* set by the kv thread */
};

struct osd_store {
    char *path;
    int dir_fd;               /* holds the flock (inv. 0) */
    int data_fd;              /* O_DIRECT */
    struct osd_store_opts opts;
    uint64_t nblocks;
    struct osd__kv *kv;

    /* Queue: protected by lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond_work;   /* the commit thread waits for work */
    int wake_fd;                /* eventfd, written with cond_work while polling: lets
                                   the commit thread wait for work and I/O completions
                                   at once */
    bool polling;               /* the commit thread waits in poll(), not on cond_work */
    pthread_cond_t cond_space;  /* osd_store_apply waits for room */
    struct osd__qitem *qhead;
    struct osd__qitem *qtail;
    unsigned txns_in_flight;    /* queued or being committed */
    struct osd__read *read_pool;
    struct osd__read *read_free;  /* free list, linked through q.next */
    bool stop;
    pthread_t thread;
    sem_t started;
    int start_result;

    /* The kv thread: writes one group's batch at a time (under lock). */
    pthread_t kv_thread;
    pthread_cond_t cond_kv;     /* the kv thread waits for a batch */
    struct osd__group *kv_req;  /* batch to write */
    struct osd__group *kv_done; /* batch written, result in kv_result */
    bool kv_stop;
    bool kv_started;

    /* Commit thread only. */
    struct osd_io *io;
    struct osd__alloc alloc;
    struct osd__group groups[2];
    struct osd__group *cur;     /* being prepared */
    struct osd__group *inflight; /* at the kv thread, or NULL */
    struct osd__overlay *ov;    /* &cur->ov */
    struct osd__overlay *ov_prev; /* &inflight->ov, or NULL */
    struct osd__dmap dmap;
    struct osd__rcache rcache;
    const struct osd__ov_entry **sort_buf; /* build_batch's scratch */
    uint32_t sort_cap;
    struct osd__u64map gwmap;   /* pblock -> source of a pending group write */
    struct osd__gwrite *gw;
    uint32_t ngw;
    uint32_t gw_sent;           /* gw[0..gw_sent) are submitted */
    uint32_t gwcap;
    struct osd__ioreq *ioreqs;
    struct osd__ioreq *ioreq_free;
    uint8_t *scratch;           /* one aligned block for read-modify-write */
    struct osd__kv_batch *batch; /* deferred apply and replay */
    uint64_t next_nid;
    uint64_t persisted_nid;
    uint64_t next_dseq;
    unsigned reads_in_flight;   /* read I/Os submitted and not completed; they may
                                   span groups (inv. 11) */
    int io_error;               /* first data I/O error of the group */
    bool data_written;          /* the group wrote new blocks */
    bool meta_low;              /* metadata file system below the reserve */
    bool meta_roomy;            /* ...and above four reserves at meta_checked_ns */
    uint64_t meta_checked_ns;   /* monotonic time of the last statvfs */
    bool hold_deferred;         /* test hook: never apply deferred blocks */
    struct osd__u64map warned;  /* (nid, block) hashes already logged */

    /* Shared: atomics. */
    bool failed;
    struct osd__stats stats;
};

#define OSD__STAT_ADD(s, field, v) __atomic_add_fetch(&(s)->stats.field, (v), __ATOMIC_RELAXED)
#define OSD__STAT_SET(s, field, v) __atomic_store_n(&(s)->stats.field, (v), __ATOMIC_RELAXED)

void osd__store_fail(struct osd_store *s, int err, const char *what);
bool osd__store_is_failed(struct osd_store *s);
/* Runs @fn on the commit thread and waits for it. */
int osd__store_call(struct osd_store *s, int (*fn)(struct osd_store *, void *), void *arg);

/* commit.c */
void *osd__commit_main(void *arg);
/* The kv thread: writes each handed group's batch (synced), one at a time. */
void *osd__kv_main(void *arg);
struct osd__ioreq *osd__ioreq_get(struct osd_store *s);
void osd__ioreq_put(struct osd_store *s, struct osd__ioreq *r);
/* Completion of data writes: records the first error in s->io_error. */
void osd__ioreq_write_done(struct osd_io_req *req, int res);
/* Waits for every data I/O in flight. */
int osd__io_drain(struct osd_store *s);
/* Wakes the commit thread (cond_work, and wake_fd when it polls); called with
 * s->lock held. */
void osd__wake(struct osd_store *s);
/* Records a new-block write of @count blocks from @src for the group. */
int osd__gw_add(struct osd_store *s, uint64_t pblock, uint64_t count, const uint8_t *src);
/* Synchronous helpers on the commit thread (replay, RMW, fsck). */
int osd__io_sync(struct osd_store *s, int op, uint64_t pblock, void *buf, size_t len);

/* prep.c: preparing one transaction into the overlay */
int osd__prep_txn(struct osd_store *s, struct osd_txn *t, uint64_t now_ns);
/* Overlay, record cache, then RocksDB. 1 with *val valid until the group ends,
 * 0 when absent, -EIO. */
int osd__lookup(struct osd_store *s, const void *k, size_t kl, const uint8_t **val,
                size_t *vl);
/* The current, then the in-flight overlay: 1, 0 (deleted) or -ENOENT (unknown). */
int osd__ov_state(struct osd_store *s, const void *k, size_t kl, const uint8_t **val,
                  size_t *vl);
/* True when entry @i of @ov (current or in-flight) is a PUT that nothing shadows. */
bool osd__ov_entry_live(struct osd_store *s, const struct osd__overlay *ov, uint32_t i);

/* extent.c: shard cursor and block-level edits within one txn */
struct osd__ecur {
    uint64_t nid;
    uint32_t shard;
    bool loaded;
    bool dirty;
    bool existed;             /* the key exists (overlay or RocksDB) */
    struct osd__shard s;
};
void osd__ecur_init(struct osd__ecur *c, uint64_t nid);
/* Loads the shard holding logical block @lblock (flushing the previous one). */
int osd__ecur_seek(struct osd_store *s, struct osd__ecur *c, uint64_t lblock);
int osd__ecur_flush(struct osd_store *s, struct osd__ecur *c);
/* Frees a physical block (cancelling its pending deferred image, inv. 7). */
int osd__block_free(struct osd_store *s, uint64_t pblock);
/* Writes @len bytes at @boff of logical block @lblock through a deferred image. */
int osd__block_defer(struct osd_store *s, struct osd__ecur *c, uint64_t nid, uint64_t lblock,
                     uint32_t boff, const void *data, uint32_t len, int64_t *blocks_delta);
/* Frees every block at or beyond logical block @from; deletes emptied shards. */
int osd__ext_punch_from(struct osd_store *s, uint64_t nid, uint64_t size, uint64_t from,
                        int64_t *blocks_delta);
/* Reads the current content of @pblock (deferred image, group write, or disk
 * with crc check against @crc) into @out. */
int osd__block_read_current(struct osd_store *s, uint64_t nid, uint64_t lblock,
                            uint64_t pblock, uint32_t crc, uint8_t *out);
void osd__csum_error(struct osd_store *s, uint64_t nid, uint64_t lblock, uint64_t pblock);

/* deferred.c (commit thread) */
int osd__dfr_add(struct osd_store *s, uint64_t pblock, uint8_t *image);
int osd__dfr_cancel(struct osd_store *s, uint64_t pblock);
uint32_t osd__dfr_mark(const struct osd_store *s);
void osd__dfr_rollback(struct osd_store *s, uint32_t mark);
void osd__dfr_seal(struct osd_store *s);
/* The sealed (in-flight) group's batch is durable. */
void osd__dfr_commit(struct osd_store *s);
/* Writes committed images in place, syncs, deletes their D records. */
int osd__dfr_apply(struct osd_store *s);
/* At open: applies every D record found in RocksDB. */
int osd__dfr_replay(struct osd_store *s);

/* read.c */
void osd__read_start(struct osd_store *s, struct osd__read *r);
void osd__read_finish(struct osd_store *s, struct osd__read *r);

/* fsck.c */
int osd__fsck_run(struct osd_store *s, bool deep, struct osd_fsck_report *rep);

/* Test hooks (tests/unit/store): stop (true) or resume the in-place apply of
 * deferred blocks, also at close, so a reopen must replay them. */
int osd__store_hold_deferred(struct osd_store *s, bool hold);

#endif

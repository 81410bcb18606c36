/* The store's life cycle: mkfs (superblock, zero-filled data file, initial
 * metadata), open (lock, validate, load the allocator, start the commit
 * thread, which replays deferred writes), close, health and the
 * message-to-commit-thread helper used by fsck and test hooks.
 * Layout and invariants: docs/store.md. */
#define _GNU_SOURCE /* O_DIRECT */
#include "osd/store/internal.h"

#include "common/crc32c.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SB_MAGIC "CAIRNSTO"
#define SB_VERSION 1u
#define SB_LEN 28u
#define MKFS_CHUNK (8u << 20)
#define MIN_BLOCKS 64u

void osd_store_opts_default(struct osd_store_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->data_size_bytes = 1ull << 30;
    opts->backend = osd_io_backend_default();
    opts->io_depth = 128;
    opts->max_txns_in_flight = 1024;
    opts->meta_reserve_bytes = 64ull << 20;
    opts->sync = true;
    opts->deferred_max_bytes = 16u << 10;
    opts->record_cache_bytes = 8u << 20;
}

static void path_join(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* ---- superblock ---- */

static int sb_write(int dfd, uint64_t data_size)
{
    uint8_t sb[SB_LEN];
    memcpy(sb, SB_MAGIC, 8);
    osd__put_le32(sb + 8, SB_VERSION);
    osd__put_le32(sb + 12, OSD_STORE_BLOCK);
    osd__put_le64(sb + 16, data_size);
    osd__put_le32(sb + 24, cairn_crc32c(0, sb, 24));
    int fd = openat(dfd, "superblock.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (write(fd, sb, sizeof(sb)) != (ssize_t)sizeof(sb) || fsync(fd) != 0)
        rc = errno != 0 ? -errno : -EIO;
    close(fd);
    if (rc == 0 && renameat(dfd, "superblock.tmp", dfd, "superblock") != 0)
        rc = -errno;
    if (rc == 0 && fsync(dfd) != 0)
        rc = -errno;
    return rc;
}

static int sb_read(int dfd, uint64_t *data_size)
{
    uint8_t sb[SB_LEN + 1];
    int fd = openat(dfd, "superblock", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ENOENT : -errno;
    ssize_t n = read(fd, sb, sizeof(sb));
    close(fd);
    if (n != SB_LEN || memcmp(sb, SB_MAGIC, 8) != 0 ||
        osd__get_le32(sb + 24) != cairn_crc32c(0, sb, 24) ||
        osd__get_le32(sb + 8) != SB_VERSION || osd__get_le32(sb + 12) != OSD_STORE_BLOCK)
        return -EIO;
    *data_size = osd__get_le64(sb + 16);
    if (*data_size % OSD_STORE_BLOCK != 0 || *data_size < MIN_BLOCKS * OSD_STORE_BLOCK)
        return -EIO;
    return 0;
}

/* Opens @path as a directory and takes its lock (inv. 0). */
static int dir_lock(const char *path, int *out)
{
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    if (flock(dfd, LOCK_EX | LOCK_NB) != 0) {
        int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(dfd);
        return rc;
    }
    *out = dfd;
    return 0;
}

/* ---- mkfs ---- */

/* Zero-fills the data file with large O_DIRECT writes (no page-cache copy);
 * buffered where the file system refuses O_DIRECT (tmpfs). */
static int mkfs_data(int dfd, uint64_t size)
{
    int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
    int fd = openat(dfd, "data", flags | O_DIRECT, 0644);
    if (fd < 0 && errno == EINVAL)
        fd = openat(dfd, "data", flags, 0644);
    if (fd < 0)
        return -errno;
    void *zeros = NULL;
    int rc = posix_memalign(&zeros, OSD_STORE_BLOCK, MKFS_CHUNK) != 0 ? -ENOMEM : 0;
    if (rc == 0)
        memset(zeros, 0, MKFS_CHUNK);
    for (uint64_t off = 0; rc == 0 && off < size;) {
        size_t len = (size_t)CAIRN_MIN((uint64_t)MKFS_CHUNK, size - off);
        ssize_t n = pwrite(fd, zeros, len, (off_t)off);
        if (n <= 0)
            rc = n < 0 ? -errno : -EIO;
        else
            off += (uint64_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    free(zeros);
    close(fd);
    return rc;
}

/* The journal's ring: a sixteenth of the data file, 16 to 256 MiB. A full
 * ring waits for a memtable flush; at 256 MiB that is every ~16,000 small
 * writes (each record is at least a block), 16 MiB suits test stores. */
static uint64_t journal_bytes(uint64_t data_size)
{
    uint64_t b = CAIRN_ALIGN_DOWN(data_size / 16, OSD_STORE_BLOCK);
    return CAIRN_MIN(CAIRN_MAX(b, 16ull << 20), 256ull << 20);
}

static int kv_open(const char *path, uint64_t data_size, bool create, struct osd__kv **kv)
{
    char dir[4096], jnl[4096];
    path_join(dir, sizeof(dir), path, "meta");
    path_join(jnl, sizeof(jnl), path, "journal");
    if (create)
        osd__kv_destroy_dir(dir); /* a crashed mkfs may have left one */
    return osd__kv_open(dir, jnl, journal_bytes(data_size), create, kv);
}

static int mkfs_meta(const char *path, uint64_t nblocks)
{
    struct osd__kv *kv;
    int rc = kv_open(path, nblocks * OSD_STORE_BLOCK, true, &kv);
    if (rc != 0)
        return rc;
    struct osd__kv_batch *b = osd__kv_batch_create();
    uint32_t nregions = (uint32_t)((nblocks + OSD__REGION_BLOCKS - 1) / OSD__REGION_BLOCKS);
    for (uint32_t r = 0; r < nregions; r++) {
        uint8_t key[8], val[OSD__REGION_BYTES];
        size_t kl = osd__key_alloc(key, r);
        osd__alloc_mkfs_region(nblocks, r, val);
        osd__kv_batch_put(b, key, kl, val, sizeof(val));
    }
    uint8_t nid[8];
    osd__u64_encode(1, nid);
    osd__kv_batch_put(b, osd__key_next_nid, OSD__KEY_NEXT_NID_LEN, nid, sizeof(nid));
    rc = osd__kv_write(kv, b, true);
    osd__kv_batch_destroy(b);
    osd__kv_close(kv);
    return rc;
}

int osd_store_mkfs(const char *path, const struct osd_store_opts *opts)
{
    struct osd_store_opts def;
    if (opts == NULL) {
        osd_store_opts_default(&def);
        opts = &def;
    }
    uint64_t size = CAIRN_ALIGN_DOWN(opts->data_size_bytes, OSD_STORE_BLOCK);
    if (path == NULL || size < MIN_BLOCKS * OSD_STORE_BLOCK ||
        size / OSD_STORE_BLOCK > UINT32_MAX * (uint64_t)OSD__REGION_BLOCKS)
        return -EINVAL;
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -errno;
    int dfd;
    int rc = dir_lock(path, &dfd);
    if (rc != 0)
        return rc;
    if (faccessat(dfd, "superblock", F_OK, 0) == 0) {
        rc = -EEXIST;
        goto out_unlock;
    }
    rc = mkfs_data(dfd, size);
    if (rc == 0)
        rc = mkfs_meta(path, size / OSD_STORE_BLOCK);
    /* The superblock goes last: it is what makes the directory a store. */
    if (rc == 0)
        rc = sb_write(dfd, size);
    if (rc != 0)
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store %s: mkfs: %s", path, strerror(-rc));
out_unlock:
    close(dfd);
    return rc;
}

/* ---- open / close ---- */

static int load_alloc(struct osd_store *s)
{
    int rc = osd__alloc_init(&s->alloc, s->nblocks);
    if (rc != 0)
        return rc;
    uint8_t lo[1] = {OSD__K_ALLOC}, hi[1] = {OSD__K_ALLOC + 1};
    struct osd__kv_iter *it;
    rc = osd__kv_iter_create(s->kv, lo, 1, hi, 1, &it);
    if (rc != 0)
        return rc;
    uint32_t loaded = 0;
    for (; rc == 0 && osd__kv_iter_valid(it); osd__kv_iter_next(it), loaded++) {
        size_t kl, vl;
        const uint8_t *k = osd__kv_iter_key(it, &kl);
        const uint8_t *v = osd__kv_iter_value(it, &vl);
        rc = kl == 5 ? osd__alloc_load_region(&s->alloc, osd__get_be32(k + 1), v, vl) : -EIO;
    }
    if (rc == 0)
        rc = osd__kv_iter_status(it);
    osd__kv_iter_destroy(it);
    if (rc == 0 && loaded != s->alloc.nregions)
        rc = -EIO;
    if (rc != 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store %s: bad allocator records", s->path);
        return rc;
    }
    osd__alloc_loaded(&s->alloc);
    return 0;
}

static int load_state(struct osd_store *s)
{
    void *v;
    size_t vl;
    int rc = osd__kv_get(s->kv, osd__key_next_nid, OSD__KEY_NEXT_NID_LEN, &v, &vl);
    if (rc != 0)
        return -EIO;
    rc = osd__u64_decode(v, vl, &s->next_nid);
    free(v);
    if (rc != 0 || s->next_nid == 0)
        return -EIO;
    s->persisted_nid = s->next_nid;
    return 0;
}

static int open_files(struct osd_store *s)
{
    uint64_t data_size = 0;
    int rc = sb_read(s->dir_fd, &data_size);
    if (rc != 0)
        return rc;
    s->data_fd = openat(s->dir_fd, "data", O_RDWR | O_DIRECT | O_CLOEXEC);
    if (s->data_fd < 0)
        return errno == ENOENT ? -EIO : -errno;
    struct stat st;
    if (fstat(s->data_fd, &st) != 0 || (uint64_t)st.st_size != data_size)
        return -EIO;
    s->nblocks = data_size / OSD_STORE_BLOCK;
    rc = kv_open(s->path, data_size, false, &s->kv);
    return rc == -ENOENT ? -EIO : rc;
}

static int init_memory(struct osd_store *s)
{
    int rc = 0;
    for (unsigned i = 0; rc == 0 && i < 2; i++) {
        rc = osd__ov_init(&s->groups[i].ov);
        s->groups[i].batch = osd__kv_batch_create();
    }
    s->cur = &s->groups[0];
    s->ov = &s->cur->ov;
    if (rc == 0)
        rc = osd__dmap_init(&s->dmap);
    if (rc == 0)
        rc = osd__u64map_init(&s->gwmap, 1024);
    if (rc == 0)
        rc = osd__u64map_init(&s->warned, 64);
    if (rc == 0)
        rc = osd__rc_init(&s->rcache, s->opts.record_cache_bytes);
    if (rc != 0)
        return rc;
    s->batch = osd__kv_batch_create();
    void *p = NULL;
    if (posix_memalign(&p, OSD_STORE_BLOCK, OSD_STORE_BLOCK) != 0)
        return -ENOMEM;
    s->scratch = p;
    unsigned n = s->opts.max_txns_in_flight;
    s->read_pool = calloc(n, sizeof(*s->read_pool));
    if (s->read_pool == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        s->read_pool[i].pooled = true;
        s->read_pool[i].q.next = (struct osd__qitem *)s->read_free;
        s->read_free = &s->read_pool[i];
    }
    return 0;
}

static void kv_thread_stop(struct osd_store *s)
{
    if (!s->kv_started)
        return;
    pthread_mutex_lock(&s->lock);
    s->kv_stop = true;
    pthread_cond_signal(&s->cond_kv);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->kv_thread, NULL);
    s->kv_started = false;
}

static void store_free(struct osd_store *s)
{
    kv_thread_stop(s);
    if (s->io != NULL) {
        osd__io_drain(s);
        osd_io_destroy(s->io);
    }
    free(s->ioreqs);
    osd__kv_batch_destroy(s->batch);
    osd__kv_close(s->kv);
    osd__alloc_fini(&s->alloc);
    for (unsigned i = 0; i < 2; i++) {
        osd__ov_fini(&s->groups[i].ov);
        osd__kv_batch_destroy(s->groups[i].batch);
    }
    osd__dmap_fini(&s->dmap);
    osd__u64map_fini(&s->gwmap);
    osd__u64map_fini(&s->warned);
    osd__rc_fini(&s->rcache);
    free(s->sort_buf);
    free(s->gw);
    free(s->scratch);
    free(s->read_pool);
    if (s->data_fd >= 0)
        close(s->data_fd);
    if (s->dir_fd >= 0)
        close(s->dir_fd); /* drops the flock */
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond_work);
    pthread_cond_destroy(&s->cond_space);
    pthread_cond_destroy(&s->cond_kv);
    sem_destroy(&s->started);
    free(s->path);
    free(s);
}

static struct osd_store *store_alloc(const char *path, const struct osd_store_opts *opts)
{
    struct osd_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->dir_fd = -1;
    s->data_fd = -1;
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond_work, NULL);
    pthread_cond_init(&s->cond_space, NULL);
    pthread_cond_init(&s->cond_kv, NULL);
    sem_init(&s->started, 0, 0);
    s->path = strdup(path);
    if (opts != NULL)
        s->opts = *opts;
    else
        osd_store_opts_default(&s->opts);
    if (s->opts.io_depth == 0)
        s->opts.io_depth = 128;
    if (s->opts.max_txns_in_flight == 0)
        s->opts.max_txns_in_flight = 1024;
    if (s->path == NULL || s->wake_fd < 0) {
        store_free(s);
        return NULL;
    }
    return s;
}

int osd_store_open(const char *path, const struct osd_store_opts *opts, struct osd_store **out)
{
    if (path == NULL || out == NULL)
        return -EINVAL;
    struct osd_store *s = store_alloc(path, opts);
    if (s == NULL)
        return -ENOMEM;
    int rc = dir_lock(path, &s->dir_fd);
    if (rc == 0)
        rc = open_files(s);
    if (rc == 0)
        rc = load_alloc(s);
    if (rc == 0)
        rc = load_state(s);
    if (rc == 0)
        rc = init_memory(s);
    if (rc == 0) {
        OSD__STAT_SET(s, blocks_used, osd__alloc_used(&s->alloc));
        rc = -pthread_create(&s->kv_thread, NULL, osd__kv_main, s);
        s->kv_started = rc == 0;
        if (rc == 0) /* names for top -H and perf; best effort */
            (void)pthread_setname_np(s->kv_thread, "store-kv");
    }
    if (rc == 0)
        rc = -pthread_create(&s->thread, NULL, osd__commit_main, s);
    if (rc == 0) {
        (void)pthread_setname_np(s->thread, "store-commit");
        sem_wait(&s->started);
        rc = s->start_result;
        if (rc != 0)
            pthread_join(s->thread, NULL);
    }
    if (rc != 0) {
        if (rc != -ENOENT && rc != -EBUSY)
            cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store %s: open: %s", path,
                      strerror(-rc));
        store_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void osd_store_close(struct osd_store *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    osd__wake(s);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    store_free(s);
}

/* ---- health ---- */

void osd__store_fail(struct osd_store *s, int err, const char *what)
{
    if (__atomic_exchange_n(&s->failed, true, __ATOMIC_ACQ_REL))
        return;
    cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store %s: %s failed (%s): store is read-only",
              s->path, what, strerror(err < 0 ? -err : err));
}

bool osd__store_is_failed(struct osd_store *s)
{
    return __atomic_load_n(&s->failed, __ATOMIC_ACQUIRE);
}

bool osd_store_is_failed(struct osd_store *s)
{
    return osd__store_is_failed(s);
}

void osd_store_get_stats(struct osd_store *s, struct osd_store_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->data_blocks_total = s->nblocks;
    out->data_blocks_used = __atomic_load_n(&s->stats.blocks_used, __ATOMIC_RELAXED);
    out->txns_committed = __atomic_load_n(&s->stats.txns_committed, __ATOMIC_RELAXED);
    out->kv_commits = __atomic_load_n(&s->stats.kv_commits, __ATOMIC_RELAXED);
    out->deferred_writes = __atomic_load_n(&s->stats.deferred_writes, __ATOMIC_RELAXED);
    out->deferred_pending = __atomic_load_n(&s->stats.deferred_pending, __ATOMIC_RELAXED);
    out->csum_errors = __atomic_load_n(&s->stats.csum_errors, __ATOMIC_RELAXED);
    out->kv_lookups = __atomic_load_n(&s->stats.kv_lookups, __ATOMIC_RELAXED);
    out->record_cache_hits = __atomic_load_n(&s->stats.record_cache_hits, __ATOMIC_RELAXED);
    osd__kv_journal_stats(s->kv, &out->journal_flushes, &out->journal_bytes_used);
}

int osd__store_call(struct osd_store *s, int (*fn)(struct osd_store *, void *), void *arg)
{
    struct osd__call c = {.q.kind = OSD__Q_CALL, .fn = fn, .arg = arg};
    sem_init(&c.done, 0, 0);
    pthread_mutex_lock(&s->lock);
    if (s->qtail != NULL)
        s->qtail->next = &c.q;
    else
        s->qhead = &c.q;
    s->qtail = &c.q;
    osd__wake(s);
    pthread_mutex_unlock(&s->lock);
    while (sem_wait(&c.done) != 0)
        ;
    sem_destroy(&c.done);
    return c.result;
}

struct fsck_args {
    bool deep;
    struct osd_fsck_report *rep;
};

static int fsck_call(struct osd_store *s, void *arg)
{
    struct fsck_args *a = arg;
    return osd__fsck_run(s, a->deep, a->rep);
}

int osd_store_fsck(struct osd_store *s, bool deep, struct osd_fsck_report *report)
{
    if (s == NULL || report == NULL)
        return -EINVAL;
    struct fsck_args a = {.deep = deep, .rep = report};
    return osd__store_call(s, fsck_call, &a);
}

static int hold_call(struct osd_store *s, void *arg)
{
    s->hold_deferred = *(bool *)arg;
    return 0;
}

int osd__store_hold_deferred(struct osd_store *s, bool hold)
{
    return osd__store_call(s, hold_call, &hold);
}

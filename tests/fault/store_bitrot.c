/* End-to-end bit-rot test for the object store (osd/store/store.h): one
 * flipped byte in the data file must be caught by the block checksums.
 *
 * Writes objects of known blocks, closes the store, finds one block of one
 * object in the data file by scanning the store directory for its content,
 * flips a byte there, and reopens: reads touching that block fail with -EIO,
 * the rest of the object and every other object still read back intact, a
 * deep fsck reports exactly that corruption, and rewriting the block heals
 * it. Unit tests cover the checksum code itself; this checks the whole path
 * through the on-disk file. Run by ctest (labels store, fault). */
#define _GNU_SOURCE
#include "osd/store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_OBJ 8u
#define OBJ_BLOCKS 16u
#define OBJ_BYTES (OBJ_BLOCKS * OSD_STORE_BLOCK)
#define DATA_SIZE_BYTES (32ull << 20)
#define BAD_OBJ 3u     /* the object whose block rots */
#define BAD_BLOCK 5u   /* ... and which block */
#define BAD_BYTE 1234u /* byte within the block */
#define COLL "pg.2.7"
#define SCAN_CHUNK (1u << 20)

/* A place in a file where the rotting block was found. */
struct found_at {
    char path[PATH_MAX];
    uint64_t offset; /* bytes */
    uint64_t file_size;
    unsigned matches; /* over all files */
};

static char store_dir[PATH_MAX];
static const uint8_t *scan_pattern; /* nftw has no context argument */
static struct found_at found;

static int failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int failf(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* Block @blk of object @obj: a readable stamp, then bytes unique to it. */
static void fill_block(uint8_t *buf, unsigned obj, unsigned blk)
{
    uint64_t s = ((uint64_t)obj << 32 | blk) * 0x9e3779b97f4a7c15ull + 1;

    for (unsigned i = 0; i < OSD_STORE_BLOCK; i += 8) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        memcpy(buf + i, &s, 8);
    }
    snprintf((char *)buf, 64, "cairn-bitrot obj=%u blk=%u", obj, blk);
}

static void oid_name(unsigned obj, char *buf, size_t cap)
{
    snprintf(buf, cap, "rot.%u", obj);
}

static int open_store(struct osd_store **st)
{
    struct osd_store_opts opts;
    int rc;

    osd_store_opts_default(&opts);
    opts.data_size_bytes = DATA_SIZE_BYTES;
    rc = osd_store_open(store_dir, &opts, st);
    return rc < 0 ? failf("osd_store_open %s: %s", store_dir, strerror(-rc)) : 0;
}

static int write_blocks(struct osd_store *st, unsigned obj, unsigned first, unsigned n)
{
    static uint8_t buf[OBJ_BYTES];
    struct osd_txn *txn = osd_txn_create(COLL);
    char oid[32];
    int rc;

    if (!txn)
        return failf("osd_txn_create: out of memory");
    oid_name(obj, oid, sizeof(oid));
    for (unsigned b = 0; b < n; b++)
        fill_block(buf + (size_t)b * OSD_STORE_BLOCK, obj, first + b);
    rc = osd_txn_write(txn, oid, (uint64_t)first * OSD_STORE_BLOCK, buf,
                       (size_t)n * OSD_STORE_BLOCK);
    if (rc < 0) {
        osd_txn_destroy(txn);
        return failf("osd_txn_write: %s", strerror(-rc));
    }
    rc = osd_store_apply(st, txn);
    return rc < 0 ? failf("writing %s: %s", oid, strerror(-rc)) : 0;
}

static int populate(void)
{
    struct osd_store_opts opts;
    struct osd_store *st;
    struct osd_txn *txn;
    int rc;

    osd_store_opts_default(&opts);
    opts.data_size_bytes = DATA_SIZE_BYTES;
    rc = osd_store_mkfs(store_dir, &opts);
    if (rc < 0)
        return failf("osd_store_mkfs %s: %s", store_dir, strerror(-rc));
    if (open_store(&st) < 0)
        return -1;
    txn = osd_txn_create(COLL);
    rc = txn ? osd_txn_create_collection(txn) : -ENOMEM;
    if (rc == 0)
        rc = osd_store_apply(st, txn);
    else if (txn)
        osd_txn_destroy(txn);
    if (rc < 0)
        failf("creating collection %s: %s", COLL, strerror(-rc));
    for (unsigned obj = 0; obj < N_OBJ && rc == 0; obj++)
        rc = write_blocks(st, obj, 0, OBJ_BLOCKS);
    osd_store_close(st);
    return rc < 0 ? -1 : 0;
}

/* ---- Finding and flipping the block on disk --------------------------- */

static int scan_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    static uint8_t buf[SCAN_CHUNK];
    int fd;
    ssize_t n;

    (void)ftw;
    if (type != FTW_F || !S_ISREG(sb->st_mode))
        return 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    for (uint64_t off = 0; (n = pread(fd, buf, sizeof(buf), (off_t)off)) > 0; off += (uint64_t)n) {
        for (ssize_t p = 0; p + OSD_STORE_BLOCK <= n; p += OSD_STORE_BLOCK) {
            if (memcmp(buf + p, scan_pattern, OSD_STORE_BLOCK) != 0)
                continue;
            /* Prefer the data file (the largest file) over a log holding a copy. */
            if (found.matches++ == 0 || (uint64_t)sb->st_size > found.file_size) {
                snprintf(found.path, sizeof(found.path), "%s", path);
                found.offset = off + (uint64_t)p;
                found.file_size = (uint64_t)sb->st_size;
            }
        }
        if (n % OSD_STORE_BLOCK)
            break;
    }
    close(fd);
    return 0;
}

static int flip_byte(void)
{
    static uint8_t pattern[OSD_STORE_BLOCK];
    uint8_t byte;
    int fd, rc = 0;

    fill_block(pattern, BAD_OBJ, BAD_BLOCK);
    scan_pattern = pattern;
    nftw(store_dir, scan_file, 16, FTW_PHYS);
    if (found.matches == 0)
        return failf("block %u of object %u not found in any file under %s", BAD_BLOCK, BAD_OBJ,
                     store_dir);
    if (found.file_size < DATA_SIZE_BYTES || found.matches > 1)
        fprintf(stderr,
                "note: %u copies of the block; flipping the one in %s (%" PRIu64 " bytes)\n",
                found.matches, found.path, found.file_size);
    fd = open(found.path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return failf("open %s: %s", found.path, strerror(errno));
    if (pread(fd, &byte, 1, (off_t)(found.offset + BAD_BYTE)) != 1)
        rc = failf("pread %s: %s", found.path, strerror(errno));
    byte ^= 0x5a;
    if (rc == 0 && pwrite(fd, &byte, 1, (off_t)(found.offset + BAD_BYTE)) != 1)
        rc = failf("pwrite %s: %s", found.path, strerror(errno));
    if (rc == 0 && fsync(fd) < 0)
        rc = failf("fsync %s: %s", found.path, strerror(errno));
    close(fd);
    printf("flipped byte %" PRIu64 " of %s (object %u block %u)\n", found.offset + BAD_BYTE,
           found.path, BAD_OBJ, BAD_BLOCK);
    return rc;
}

/* ---- Checks after the flip --------------------------------------------- */

/* Reads blocks [first, first + n) of @obj: the result, and -EBADMSG when the
 * read succeeded with the wrong bytes. */
static int read_blocks(struct osd_store *st, unsigned obj, unsigned first, unsigned n)
{
    static uint8_t buf[OBJ_BYTES], want[OSD_STORE_BLOCK];
    char oid[32];
    size_t got = 0;
    int rc;

    oid_name(obj, oid, sizeof(oid));
    rc = osd_store_read(st, COLL, oid, (uint64_t)first * OSD_STORE_BLOCK,
                        (size_t)n * OSD_STORE_BLOCK, buf, &got);
    if (rc < 0)
        return rc;
    if (got != (size_t)n * OSD_STORE_BLOCK)
        return -EBADMSG;
    for (unsigned b = 0; b < n; b++) {
        fill_block(want, obj, first + b);
        if (memcmp(buf + (size_t)b * OSD_STORE_BLOCK, want, OSD_STORE_BLOCK) != 0)
            return -EBADMSG;
    }
    return 0;
}

static int expect_read(struct osd_store *st, unsigned obj, unsigned first, unsigned n, int want)
{
    int rc = read_blocks(st, obj, first, n);

    if (rc == want)
        return 0;
    return failf("read of object %u blocks %u-%u: expected %d (%s), got %d (%s)", obj, first,
                 first + n - 1, want, want ? strerror(-want) : "intact data", rc,
                 rc == -EBADMSG ? "wrong data" : strerror(-rc));
}

static int expect_fsck(struct osd_store *st, bool deep, uint64_t errors, uint64_t csum)
{
    struct osd_fsck_report rep;
    int rc;

    memset(&rep, 0, sizeof(rep));
    rc = osd_store_fsck(st, deep, &rep);
    if (rc < 0)
        return failf("osd_store_fsck(deep=%d): %s", deep, strerror(-rc));
    printf("fsck deep=%d: %" PRIu64 " objects, %" PRIu64 " errors, %" PRIu64 " csum errors%s%s\n",
           deep, rep.objects, rep.errors, rep.csum_errors, rep.errors ? ": " : "", rep.first_error);
    if (rep.errors != errors || rep.csum_errors != csum || rep.objects != N_OBJ)
        return failf("fsck deep=%d: expected %" PRIu64 " errors (%" PRIu64
                     " csum) over %u objects, got %" PRIu64 " (%" PRIu64 " csum) over %" PRIu64,
                     deep, errors, csum, N_OBJ, rep.errors, rep.csum_errors, rep.objects);
    return 0;
}

static int check_rotten(struct osd_store *st)
{
    struct osd_store_stats stats;

    if (expect_read(st, BAD_OBJ, 0, OBJ_BLOCKS, -EIO) < 0 ||
        expect_read(st, BAD_OBJ, BAD_BLOCK, 1, -EIO) < 0 ||
        expect_read(st, BAD_OBJ, 0, BAD_BLOCK, 0) < 0 ||
        expect_read(st, BAD_OBJ, BAD_BLOCK + 1, OBJ_BLOCKS - BAD_BLOCK - 1, 0) < 0)
        return -1;
    for (unsigned obj = 0; obj < N_OBJ; obj++)
        if (obj != BAD_OBJ && expect_read(st, obj, 0, OBJ_BLOCKS, 0) < 0)
            return -1;
    osd_store_get_stats(st, &stats);
    if (stats.csum_errors == 0)
        return failf("osd_store_stats.csum_errors is 0 after failed reads");
    if (expect_fsck(st, false, 0, 0) < 0 || expect_fsck(st, true, 1, 1) < 0)
        return -1;
    if (osd_store_is_failed(st))
        return failf("a checksum error on read must not fail the store");
    return 0;
}

/* Overwriting the whole rotten block replaces it; the store is clean again. */
static int check_healed(struct osd_store *st)
{
    if (write_blocks(st, BAD_OBJ, BAD_BLOCK, 1) < 0)
        return -1;
    if (expect_read(st, BAD_OBJ, 0, OBJ_BLOCKS, 0) < 0)
        return -1;
    return expect_fsck(st, true, 0, 0);
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    struct osd_store *st = NULL;
    int rc;

    if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: store_bitrot [DIR]   (a temporary store goes under DIR)\n");
        return 2;
    }
    snprintf(store_dir, sizeof(store_dir), "%s/cairn-store-bitrot.XXXXXX", base);
    if (!mkdtemp(store_dir)) {
        fprintf(stderr, "mkdtemp %s: %s\n", store_dir, strerror(errno));
        return 1;
    }
    rc = populate();
    if (rc == 0)
        rc = flip_byte();
    if (rc == 0)
        rc = open_store(&st);
    if (rc == 0) {
        rc = check_rotten(st);
        if (rc == 0)
            rc = check_healed(st);
        osd_store_close(st);
    }
    if (rc == 0) {
        printf("ok: the flipped byte was detected and healed\n");
        nftw(store_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else {
        fprintf(stderr, "store kept in %s\n", store_dir);
    }
    return rc < 0 ? 1 : 0;
}

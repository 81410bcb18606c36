/* The metadata journal's format (see internal.h and docs/store.md §3a).
 *
 * File: block 0 is the header ("CAIRNJNL", version, ring size, journal id,
 * crc32c); the ring follows. A record starts on a block boundary with a
 * 48-byte header and its payload, padded with zeros to whole blocks:
 *
 *   magic u32 | len u32 | seq u64 | vstart u64 | prev_nonce u64 | nonce u64
 *   | crc32c u32 (header with this field zero, then the payload) | 0 u32
 *
 * A record never straddles the end of the ring: one that would is written
 * at the start of the next lap instead. Replay accepts the record after
 * position P only if its seq is P's plus one, it sits at P's end (or at the
 * start of the next lap), names P's nonce as its predecessor's and its crc
 * matches. Seqs and logical offsets only grow, so an old lap's record never
 * matches; each open draws a new nonce, so a record an earlier incarnation
 * wrote past the point where replay stopped (behind a torn one) never
 * chains onto what this incarnation writes there. */
#define _GNU_SOURCE /* O_DIRECT, pwritev2 */
#include "osd/store/internal.h"

#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define JNL_BLOCK 4096u
#define JNL_MAGIC "CAIRNJNL"
#define JNL_VERSION 1u
#define JNL_HDR_CRC_AT 32u
#define REC_MAGIC 0x4352434au /* "JCRC" little-endian */
#define REC_HDR 48u
#define REC_CRC_AT 40u
#define JPOS_VERSION 1u
#define GET32(p) ((uint32_t)cairn_get_le((p), 4))

struct osd__journal {
    int fd;
    uint64_t ring;         /* ring bytes */
    uint64_t id;           /* the origin's nonce */
    uint64_t nonce;        /* this incarnation's */
    struct osd__jpos last; /* the newest record (replayed or appended) */
    uint64_t tail;         /* logical offset before which the ring is free */
    bool unsynced;         /* a record may sit in a volatile cache */
    uint8_t *buf;          /* aligned record buffer */
    size_t buf_cap;
};

void osd__jpos_encode(const struct osd__jpos *pos, uint8_t out[OSD__JPOS_BYTES])
{
    out[0] = JPOS_VERSION;
    cairn_put_le64(out + 1, pos->seq);
    cairn_put_le64(out + 9, pos->vend);
    cairn_put_le64(out + 17, pos->nonce);
}

int osd__jpos_decode(const void *buf, size_t len, struct osd__jpos *pos)
{
    const uint8_t *p = buf;
    if (len != OSD__JPOS_BYTES || p[0] != JPOS_VERSION)
        return -EIO;
    pos->seq = cairn_get_le64(p + 1);
    pos->vend = cairn_get_le64(p + 9);
    pos->nonce = cairn_get_le64(p + 17);
    return 0;
}

static uint64_t random_u64(void)
{
    uint64_t v = 0;
    while (v == 0)
        if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
            v = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
    return v;
}

static size_t record_bytes(size_t len)
{
    return CAIRN_ALIGN_UP(REC_HDR + len, (size_t)JNL_BLOCK);
}

/* Grows the aligned buffer to @n bytes, keeping its contents. */
static int buf_reserve(struct osd__journal *j, size_t n)
{
    if (n <= j->buf_cap)
        return 0;
    void *p = NULL;
    if (posix_memalign(&p, JNL_BLOCK, n) != 0)
        return -ENOMEM;
    if (j->buf != NULL)
        memcpy(p, j->buf, j->buf_cap); /* a record's first block is already read */
    free(j->buf);
    j->buf = p;
    j->buf_cap = n;
    return 0;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w, n -= (size_t)w, off += (uint64_t)w;
    }
    return 0;
}

static int pread_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        p += r, n -= (size_t)r, off += (uint64_t)r;
    }
    return 0;
}

static void header_encode(uint8_t *b, uint64_t ring, uint64_t id)
{
    memset(b, 0, JNL_BLOCK);
    memcpy(b, JNL_MAGIC, 8);
    cairn_put_le(b + 8, JNL_VERSION, 4);
    cairn_put_le64(b + 16, ring);
    cairn_put_le64(b + 24, id);
    cairn_put_le(b + JNL_HDR_CRC_AT, cairn_crc32c(0, b, JNL_HDR_CRC_AT), 4);
}

/* fsyncs the directory holding @path, so that a new file's entry is durable. */
static int sync_parent(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int osd__journal_create(const char *path, uint64_t ring_bytes)
{
    if (ring_bytes < (1u << 20) || ring_bytes % JNL_BLOCK != 0)
        return -EINVAL;
    const size_t chunk = 1u << 20;
    void *p = NULL;
    if (posix_memalign(&p, JNL_BLOCK, chunk) != 0)
        return -ENOMEM;
    uint8_t *b = p;
    int rc = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    /* Zeros over the whole ring: overwrites then never allocate blocks or
     * convert unwritten extents, so a record's flush has no metadata. */
    memset(b, 0, chunk);
    for (uint64_t off = JNL_BLOCK; rc == 0 && off < JNL_BLOCK + ring_bytes;) {
        size_t n = (size_t)CAIRN_MIN((uint64_t)chunk, JNL_BLOCK + ring_bytes - off);
        rc = pwrite_all(fd, b, n, off);
        off += n;
    }
    header_encode(b, ring_bytes, random_u64());
    if (rc == 0)
        rc = pwrite_all(fd, b, JNL_BLOCK, 0);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0)
        rc = sync_parent(path);
out:
    free(p);
    return rc;
}

int osd__journal_open(const char *path, struct osd__journal **out)
{
    struct osd__journal *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -ENOMEM;
    int rc = buf_reserve(j, 64u << 10);
    j->fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (rc == 0 && j->fd < 0)
        rc = -errno;
    if (rc == 0)
        rc = pread_all(j->fd, j->buf, JNL_BLOCK, 0);
    if (rc == 0) {
        const uint8_t *b = j->buf;
        j->ring = cairn_get_le64(b + 16);
        j->id = cairn_get_le64(b + 24);
        struct stat st;
        if (memcmp(b, JNL_MAGIC, 8) != 0 || GET32(b + 8) != JNL_VERSION ||
            GET32(b + JNL_HDR_CRC_AT) != cairn_crc32c(0, b, JNL_HDR_CRC_AT) ||
            j->ring < (1u << 20) || j->ring % JNL_BLOCK != 0 || fstat(j->fd, &st) != 0 ||
            (uint64_t)st.st_size < JNL_BLOCK + j->ring)
            rc = -EIO;
    }
    if (rc != 0) {
        if (rc != -ENOENT)
            cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_STORE, "store: journal %s: %s", path,
                      rc == -EIO ? "bad header" : strerror(-rc));
        osd__journal_close(j);
        return rc;
    }
    j->nonce = random_u64();
    j->last = osd__journal_origin(j);
    j->unsynced = true;
    *out = j;
    return 0;
}

void osd__journal_close(struct osd__journal *j)
{
    if (j == NULL)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->buf);
    free(j);
}

uint64_t osd__journal_ring_bytes(const struct osd__journal *j)
{
    return j->ring;
}

struct osd__jpos osd__journal_origin(const struct osd__journal *j)
{
    return (struct osd__jpos){.seq = 0, .vend = 0, .nonce = j->id};
}

size_t osd__journal_max_payload(const struct osd__journal *j)
{
    return (size_t)(j->ring / 4) - REC_HDR;
}

/* Where a record of @rb bytes following logical offset @v starts. */
static uint64_t place(const struct osd__journal *j, uint64_t v, size_t rb)
{
    uint64_t p = v % j->ring;
    return p + rb > j->ring ? v + (j->ring - p) : v;
}

struct osd__jpos osd__journal_next_pos(const struct osd__journal *j, size_t len)
{
    size_t rb = record_bytes(len);
    return (struct osd__jpos){
        .seq = j->last.seq + 1, .vend = place(j, j->last.vend, rb) + rb, .nonce = j->nonce};
}

bool osd__journal_fits(const struct osd__journal *j, size_t len)
{
    return len <= osd__journal_max_payload(j) &&
           osd__journal_next_pos(j, len).vend - j->tail <= j->ring;
}

struct osd__jpos osd__journal_last(const struct osd__journal *j)
{
    return j->last;
}

uint64_t osd__journal_used(const struct osd__journal *j)
{
    return j->last.vend - j->tail;
}

void osd__journal_trim(struct osd__journal *j, uint64_t vend)
{
    if (vend > j->tail)
        j->tail = vend;
}

void osd__journal_start(struct osd__journal *j, const struct osd__jpos *at, uint64_t tail_vend)
{
    j->last = *at;
    j->tail = tail_vend;
    /* Replayed records may still sit in the device's cache: the first
     * durable append flushes the whole cache, not just itself. */
    j->unsynced = true;
}

static void record_header(uint8_t *b, size_t len, uint64_t seq, uint64_t vstart,
                          uint64_t prev_nonce, uint64_t nonce)
{
    cairn_put_le(b, REC_MAGIC, 4);
    cairn_put_le(b + 4, (uint32_t)len, 4);
    cairn_put_le64(b + 8, seq);
    cairn_put_le64(b + 16, vstart);
    cairn_put_le64(b + 24, prev_nonce);
    cairn_put_le64(b + 32, nonce);
    cairn_put_le(b + REC_CRC_AT, 0, 4);
    cairn_put_le(b + 44, 0, 4);
}

static uint32_t record_crc(const uint8_t *b, size_t len)
{
    return cairn_crc32c(0, b, REC_HDR + len);
}

/* Writes @rb bytes of the buffer at logical @v; durable on return with @sync. */
static int write_record(struct osd__journal *j, size_t rb, uint64_t v, bool sync)
{
    uint64_t off = JNL_BLOCK + v % j->ring;
    if (sync && !j->unsynced) {
        /* Nothing earlier is pending: one write that is durable on return
         * (a FUA write where the device has it, else write and flush). */
        struct iovec iov = {.iov_base = j->buf, .iov_len = rb};
        ssize_t w;
        do
            w = pwritev2(j->fd, &iov, 1, (off_t)off, RWF_DSYNC);
        while (w < 0 && errno == EINTR);
        if (w == (ssize_t)rb)
            return 0;
        if (w >= 0 || (errno != EOPNOTSUPP && errno != EINVAL))
            return w < 0 ? -errno : -EIO;
    }
    int rc = pwrite_all(j->fd, j->buf, rb, off);
    if (rc == 0 && sync && fdatasync(j->fd) != 0)
        rc = -errno;
    return rc;
}

int osd__journal_append(struct osd__journal *j, const void *payload, size_t len, bool sync)
{
    CAIRN_ASSERT(osd__journal_fits(j, len));
    size_t rb = record_bytes(len);
    struct osd__jpos pos = osd__journal_next_pos(j, len);
    uint64_t vstart = pos.vend - rb;
    int rc = buf_reserve(j, rb);
    if (rc != 0)
        return rc;
    uint8_t *b = j->buf;
    record_header(b, len, pos.seq, vstart, j->last.nonce, j->nonce);
    memcpy(b + REC_HDR, payload, len);
    memset(b + REC_HDR + len, 0, rb - REC_HDR - len);
    cairn_put_le(b + REC_CRC_AT, record_crc(b, len), 4);
    rc = write_record(j, rb, vstart, sync);
    if (rc != 0)
        return rc;
    j->last = pos;
    j->unsynced = !sync;
    return 0;
}

/* Reads and checks the record that would follow @at at logical @v: 1 when
 * it is there (*@len set, payload at buf + REC_HDR), 0 when not, or -EIO. */
static int read_record_at(struct osd__journal *j, const struct osd__jpos *at, uint64_t v,
                          size_t *len)
{
    uint64_t off = JNL_BLOCK + v % j->ring;
    if (pread_all(j->fd, j->buf, JNL_BLOCK, off) != 0)
        return -EIO;
    const uint8_t *b = j->buf;
    size_t n = (size_t)cairn_get_le(b + 4, 4);
    if (GET32(b) != REC_MAGIC || cairn_get_le64(b + 8) != at->seq + 1 ||
        cairn_get_le64(b + 16) != v || cairn_get_le64(b + 24) != at->nonce ||
        n > osd__journal_max_payload(j))
        return 0;
    size_t rb = record_bytes(n);
    if (v % j->ring + rb > j->ring)
        return 0;
    if (buf_reserve(j, rb) != 0)
        return -EIO;
    if (rb > JNL_BLOCK && pread_all(j->fd, j->buf + JNL_BLOCK, rb - JNL_BLOCK, off + JNL_BLOCK))
        return -EIO;
    uint8_t *h = j->buf;
    uint32_t crc = GET32(h + REC_CRC_AT);
    cairn_put_le(h + REC_CRC_AT, 0, 4);
    if (crc != record_crc(h, n))
        return 0;
    *len = n;
    return 1;
}

int osd__journal_next(struct osd__journal *j, struct osd__jpos *at, const void **payload,
                      size_t *len)
{
    uint64_t v = at->vend;
    uint64_t next_lap = v % j->ring == 0 ? v : v + (j->ring - v % j->ring);
    int rc = read_record_at(j, at, v, len);
    if (rc == 0 && next_lap != v) {
        v = next_lap;
        rc = read_record_at(j, at, v, len);
    }
    if (rc <= 0)
        return rc;
    at->seq++;
    at->vend = v + record_bytes(*len);
    at->nonce = cairn_get_le64(j->buf + 32);
    *payload = j->buf + REC_HDR;
    return 1;
}

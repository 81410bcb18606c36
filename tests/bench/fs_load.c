/* fs_load: the file-system load of tests/bench/bench_fuse and
 * tests/fuse/test_bigdir.sh. Each workload runs one of two ways: through
 * libcairn's file system (client/fs.h, "direct", the benchmark's
 * reference) or with POSIX calls under a directory (--mount DIR, a
 * mount.cairn mount). Timing and the report are the same on both sides.
 *
 *   fs_load [-c CONF] [--name ENTITY] [--pool POOL] [--volume VOL]
 *           [--mount DIR] [--json] MODE ARGS
 *   modes:  write PATH --mib N     N MiB, 1 MiB per call (POSIX: then fsync)
 *           read PATH              to the end, 1 MiB per call
 *           create DIR --files N [--threads T] [--size BYTES] [--prefix P]
 *                  [--first K]     files P.%08u, K..K+N-1, spread over T
 *                                  threads: create, write BYTES, close
 *           unlink DIR --files N [--threads T] [--prefix P] [--first K]
 *                                  removes those files
 *           ls DIR                 every entry and its attributes (what
 *                                  `ls -l` asks: readdir, then one stat each)
 *
 * PATH and DIR are relative to the volume's root (or to --mount); create
 * makes DIR when missing. write stamps each MiB with its index and read checks
 * it, so a read that returns other bytes is an error. Prints one line
 * (JSON with --json): ops, bytes, seconds, ops/s, MB/s (10^6 bytes),
 * errors; exit 1 when any operation failed. */
#define _GNU_SOURCE
#include "client/cairn.h"
#include "client/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES (1u << 20) /* one write or read call */
#define THREADS_MAX 64u
#define FILE_BYTES_MAX (1u << 20)
#define LS_PAGE 1024u /* entries per cairn_fs_readdir call */
#define ERRORS_SHOWN 5u

struct args {
    const char *conf, *name, *pool, *volume, *mount, *mode, *path, *prefix;
    uint64_t mib, files, first;
    uint32_t threads, size;
    bool json;
};

struct load {
    struct args a;
    struct cairn *c;
    struct cairn_fs *fs; /* NULL with --mount */
    atomic_uint_fast64_t ops, bytes, errors;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counts a failure of @what on @name (-errno @rc), printing the first few. */
static void op_failed(struct load *ld, const char *what, const char *name, int rc)
{
    if (atomic_fetch_add(&ld->errors, 1) < ERRORS_SHOWN)
        fprintf(stderr, "fs_load: %s %s: %s\n", what, name, strerror(-rc));
}

/* ---- options ---- */

static int usage(void)
{
    fprintf(stderr, "usage: fs_load [-c CONF] [--name ENTITY] [--pool POOL] [--volume VOL] "
                    "[--mount DIR] [--json]\n"
                    "               write PATH --mib N | read PATH | ls DIR |\n"
                    "               create|unlink DIR --files N [--threads T] [--size BYTES] "
                    "[--prefix P] [--first K]\n");
    return 2;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    *a = (struct args){.pool = CAIRN_FS_DEFAULT_POOL,
                       .volume = "default",
                       .prefix = "f",
                       .threads = 1,
                       .size = 4096};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--json") == 0) {
            a->json = true;
            continue;
        }
        if (o[0] != '-') { /* MODE, then its PATH */
            if (a->mode || !v)
                return usage();
            a->mode = o;
            a->path = v;
            i++;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(o, "-c") == 0 || strcmp(o, "--conf") == 0)
            a->conf = v;
        else if (strcmp(o, "--name") == 0)
            a->name = v;
        else if (strcmp(o, "--pool") == 0)
            a->pool = v;
        else if (strcmp(o, "--volume") == 0)
            a->volume = v;
        else if (strcmp(o, "--mount") == 0)
            a->mount = v;
        else if (strcmp(o, "--prefix") == 0)
            a->prefix = v;
        else if (strcmp(o, "--mib") == 0)
            a->mib = strtoull(v, NULL, 0);
        else if (strcmp(o, "--files") == 0)
            a->files = strtoull(v, NULL, 0);
        else if (strcmp(o, "--first") == 0)
            a->first = strtoull(v, NULL, 0);
        else if (strcmp(o, "--threads") == 0)
            a->threads = (uint32_t)strtoul(v, NULL, 0);
        else if (strcmp(o, "--size") == 0)
            a->size = (uint32_t)strtoul(v, NULL, 0);
        else
            return usage();
    }
    if (!a->mode || a->threads == 0 || a->threads > THREADS_MAX || a->size > FILE_BYTES_MAX)
        return usage();
    if (strcmp(a->mode, "write") == 0)
        return a->mib ? 0 : usage();
    if (strcmp(a->mode, "create") == 0 || strcmp(a->mode, "unlink") == 0)
        return a->files ? 0 : usage();
    return strcmp(a->mode, "read") == 0 || strcmp(a->mode, "ls") == 0 ? 0 : usage();
}

/* ---- paths ---- */

/* The inode of directory @path (relative to the root; "" or "." is the
 * root), made (mode 0755) when its last component is missing and @make. */
static int dir_ino(struct load *ld, const char *path, bool make, uint64_t *ino)
{
    char buf[4096], *save = NULL;
    struct cairn_fs_attr attr;
    uint64_t cur = CAIRN_FS_ROOT_INO;

    if (strlen(path) >= sizeof(buf))
        return -ENAMETOOLONG;
    strcpy(buf, path);
    for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (strcmp(p, ".") == 0)
            continue;
        int rc = cairn_fs_lookup(ld->fs, NULL, cur, p, &attr);
        if (rc == -ENOENT && make)
            rc = cairn_fs_mkdir(ld->fs, NULL, cur, p, 0755, &attr);
        if (rc == -EEXIST)
            rc = cairn_fs_lookup(ld->fs, NULL, cur, p, &attr);
        if (rc < 0)
            return rc;
        cur = attr.ino;
    }
    *ino = cur;
    return 0;
}

/* Splits @path into its directory's inode and its last component. */
static int split(struct load *ld, const char *path, uint64_t *parent, const char **name)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];

    *name = slash ? slash + 1 : path;
    if (!**name || (size_t)(*name - path) >= sizeof(dir))
        return -EINVAL;
    snprintf(dir, sizeof(dir), "%.*s", (int)(*name - path), path);
    return dir_ino(ld, dir, false, parent);
}

static void mount_path(const struct load *ld, const char *rel, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", ld->a.mount, rel);
}

/* ---- sequential write and read ---- */

static void stamp(uint8_t *chunk, uint64_t index)
{
    memcpy(chunk, &index, sizeof(index));
}

static bool stamp_is(const uint8_t *chunk, size_t len, uint64_t index)
{
    uint64_t got;

    if (len < sizeof(got))
        return true; /* a short tail cannot hold a stamp; write never makes one */
    memcpy(&got, chunk, sizeof(got));
    return got == index;
}

static int seq_write_direct(struct load *ld, uint8_t *chunk)
{
    struct cairn_fs_attr attr, sz = {0};
    const char *name;
    uint64_t parent;
    int rc = split(ld, ld->a.path, &parent, &name);

    if (rc == 0)
        rc = cairn_fs_mknod(ld->fs, NULL, parent, name, S_IFREG | 0644, 0, &attr);
    if (rc == -EEXIST && (rc = cairn_fs_lookup(ld->fs, NULL, parent, name, &attr)) == 0)
        rc = cairn_fs_setattr(ld->fs, NULL, attr.ino, &sz, CAIRN_FS_SET_SIZE, &attr);
    for (uint64_t i = 0; rc == 0 && i < ld->a.mib; i++) {
        stamp(chunk, i);
        rc = cairn_fs_write(ld->fs, attr.ino, i * CHUNK_BYTES, chunk, CHUNK_BYTES, false, NULL);
        if (rc == 0) {
            ld->ops++;
            ld->bytes += CHUNK_BYTES;
        }
    }
    return rc;
}

static int seq_write_posix(struct load *ld, uint8_t *chunk)
{
    char path[4096];
    int fd, rc = 0;

    mount_path(ld, ld->a.path, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    for (uint64_t i = 0; rc == 0 && i < ld->a.mib; i++) {
        stamp(chunk, i);
        ssize_t w = pwrite(fd, chunk, CHUNK_BYTES, (off_t)(i * CHUNK_BYTES));
        if (w < 0)
            rc = -errno;
        else if (w != CHUNK_BYTES)
            rc = -EIO;
        else {
            ld->ops++;
            ld->bytes += CHUNK_BYTES;
        }
    }
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

static int seq_read_direct(struct load *ld, uint8_t *chunk)
{
    struct cairn_fs_attr attr;
    const char *name;
    uint64_t parent;
    size_t got = CHUNK_BYTES;
    int rc = split(ld, ld->a.path, &parent, &name);

    if (rc == 0)
        rc = cairn_fs_lookup(ld->fs, NULL, parent, name, &attr);
    for (uint64_t i = 0; rc == 0 && got == CHUNK_BYTES; i++) {
        rc = cairn_fs_read(ld->fs, attr.ino, i * CHUNK_BYTES, CHUNK_BYTES, chunk, &got);
        if (rc == 0 && got > 0 && !stamp_is(chunk, got, i))
            rc = -EBADMSG;
        if (rc == 0 && got > 0) {
            ld->ops++;
            ld->bytes += got;
        }
    }
    return rc;
}

static int seq_read_posix(struct load *ld, uint8_t *chunk)
{
    char path[4096];
    ssize_t got = CHUNK_BYTES;
    int fd, rc = 0;

    mount_path(ld, ld->a.path, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (uint64_t i = 0; rc == 0 && got == CHUNK_BYTES; i++) {
        got = pread(fd, chunk, CHUNK_BYTES, (off_t)(i * CHUNK_BYTES));
        if (got < 0)
            rc = -errno;
        else if (got > 0 && !stamp_is(chunk, (size_t)got, i))
            rc = -EBADMSG;
        else if (got > 0) {
            ld->ops++;
            ld->bytes += (uint64_t)got;
        }
    }
    close(fd);
    return rc;
}

static int run_seq(struct load *ld)
{
    bool write = strcmp(ld->a.mode, "write") == 0;
    uint8_t *chunk = malloc(CHUNK_BYTES);
    int rc;

    if (!chunk)
        return -ENOMEM;
    for (size_t i = 0; i < CHUNK_BYTES; i++)
        chunk[i] = (uint8_t)(i * 131 + 7);
    if (ld->fs)
        rc = write ? seq_write_direct(ld, chunk) : seq_read_direct(ld, chunk);
    else
        rc = write ? seq_write_posix(ld, chunk) : seq_read_posix(ld, chunk);
    if (rc < 0)
        op_failed(ld, ld->a.mode, ld->a.path, rc);
    free(chunk);
    return rc;
}

/* ---- many files: create, write, close; or unlink ---- */

struct worker {
    struct load *ld;
    pthread_t thread;
    uint32_t index;      /* this thread's files: first + index + k * threads */
    uint64_t dir;        /* the directory's inode (direct) */
    const uint8_t *data; /* the files' content, shared */
    bool removing;       /* unlink them instead */
};

static int create_direct(struct worker *w, const char *name)
{
    struct load *ld = w->ld;
    struct cairn_fs_attr attr;
    int rc = cairn_fs_mknod(ld->fs, NULL, w->dir, name, S_IFREG | 0644, 0, &attr);

    if (rc == 0 && ld->a.size > 0)
        rc = cairn_fs_write(ld->fs, attr.ino, 0, w->data, ld->a.size, false, NULL);
    return rc;
}

static int create_posix(struct worker *w, const char *name)
{
    struct load *ld = w->ld;
    char path[4096];
    int fd, rc = 0;

    snprintf(path, sizeof(path), "%s/%s/%s", ld->a.mount, ld->a.path, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (ld->a.size > 0) {
        ssize_t n = write(fd, w->data, ld->a.size);
        rc = n < 0 ? -errno : (size_t)n != ld->a.size ? -EIO : 0;
    }
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

static int unlink_one(struct worker *w, const char *name)
{
    struct load *ld = w->ld;
    char path[4096];

    if (ld->fs)
        return cairn_fs_unlink(ld->fs, NULL, w->dir, name);
    snprintf(path, sizeof(path), "%s/%s/%s", ld->a.mount, ld->a.path, name);
    return unlink(path) < 0 ? -errno : 0;
}

static void *files_worker(void *arg)
{
    struct worker *w = arg;
    struct load *ld = w->ld;
    char name[CAIRN_FS_NAME_MAX + 1];
    int rc;

    for (uint64_t k = w->index; k < ld->a.files; k += ld->a.threads) {
        snprintf(name, sizeof(name), "%s.%08" PRIu64, ld->a.prefix, ld->a.first + k);
        if (w->removing)
            rc = unlink_one(w, name);
        else
            rc = ld->fs ? create_direct(w, name) : create_posix(w, name);
        if (rc < 0) {
            op_failed(ld, ld->a.mode, name, rc);
            continue;
        }
        ld->ops++;
        ld->bytes += w->removing ? 0 : ld->a.size;
    }
    return NULL;
}

/* The directory is found (create: made) before the clock starts. */
static int files_dir(struct load *ld, bool make, uint64_t *dir)
{
    char path[4096];

    if (ld->fs)
        return dir_ino(ld, ld->a.path, make, dir);
    if (!make)
        return 0;
    mount_path(ld, ld->a.path, path, sizeof(path));
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int run_files(struct load *ld, uint64_t dir, bool removing)
{
    struct worker w[THREADS_MAX];
    uint8_t *data = malloc(ld->a.size ? ld->a.size : 1);
    uint32_t started = 0;
    int rc = data ? 0 : -ENOMEM;

    for (uint32_t i = 0; data && i < ld->a.size; i++)
        data[i] = (uint8_t)(i * 131 + 7);
    for (uint32_t t = 0; rc == 0 && t < ld->a.threads; t++) {
        w[t] =
            (struct worker){.ld = ld, .index = t, .dir = dir, .data = data, .removing = removing};
        rc = -pthread_create(&w[t].thread, NULL, files_worker, &w[t]);
        if (rc == 0)
            started++;
    }
    for (uint32_t t = 0; t < started; t++)
        pthread_join(w[t].thread, NULL);
    free(data);
    return rc;
}

/* ---- ls -l ---- */

struct page {
    char (*names)[CAIRN_FS_NAME_MAX + 1];
    uint64_t *inos;
    unsigned n;
};

static int page_add(const char *name, uint64_t ino, uint32_t type, void *arg)
{
    struct page *p = arg;

    (void)type;
    snprintf(p->names[p->n], sizeof(p->names[p->n]), "%s", name);
    p->inos[p->n++] = ino;
    return 0;
}

/* Pages through the directory and asks each entry's attributes, one at a
 * time, as `ls -l` does (and as mount.cairn's readdirplus does). */
static int ls_direct(struct load *ld)
{
    struct page p = {.names = malloc(LS_PAGE * sizeof(*p.names)),
                     .inos = malloc(LS_PAGE * sizeof(*p.inos))};
    struct cairn_fs_attr attr;
    char after[CAIRN_FS_NAME_MAX + 1] = "";
    bool more = true;
    uint64_t dir;
    int rc = p.names && p.inos ? dir_ino(ld, ld->a.path, false, &dir) : -ENOMEM;

    while (rc == 0 && more) {
        p.n = 0;
        rc = cairn_fs_readdir(ld->fs, dir, after[0] ? after : NULL, LS_PAGE, page_add, &p, &more);
        for (unsigned i = 0; rc == 0 && i < p.n; i++) {
            int r = cairn_fs_getattr(ld->fs, p.inos[i], &attr);
            if (r < 0)
                op_failed(ld, "getattr", p.names[i], r);
            else
                ld->ops++;
        }
        if (rc == 0 && p.n == 0)
            break;
        if (rc == 0)
            memcpy(after, p.names[p.n - 1], sizeof(after));
    }
    free(p.names);
    free(p.inos);
    return rc;
}

static int ls_posix(struct load *ld)
{
    char path[4096];
    struct dirent *e;
    struct stat st;
    DIR *d;

    mount_path(ld, ld->a.path, path, sizeof(path));
    d = opendir(path);
    if (!d)
        return -errno;
    while ((errno = 0, e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            op_failed(ld, "stat", e->d_name, -errno);
        else
            ld->ops++;
    }
    int rc = errno ? -errno : 0;
    closedir(d);
    return rc;
}

/* ---- the run ---- */

static int connect_fs(struct load *ld)
{
    int32_t pool;
    int rc = cairn_connect(ld->a.conf, ld->a.name, &ld->c);

    if (rc < 0) {
        fprintf(stderr, "fs_load: connect: %s\n", strerror(-rc));
        return rc;
    }
    rc = cairn_pool_lookup(ld->c, ld->a.pool, &pool);
    if (rc == 0)
        rc = cairn_fs_open(ld->c, pool, ld->a.volume, &ld->fs);
    if (rc < 0)
        fprintf(stderr, "fs_load: volume %s in pool %s: %s\n", ld->a.volume, ld->a.pool,
                strerror(-rc));
    return rc;
}

static void report(const struct load *ld, double secs)
{
    uint64_t ops = ld->ops, bytes = ld->bytes, errors = ld->errors;
    double ops_s = secs > 0 ? (double)ops / secs : 0;
    double mb_s = secs > 0 ? (double)bytes / 1e6 / secs : 0;
    const char *side = ld->a.mount ? "mount" : "direct";

    if (ld->a.json) {
        printf("{\"mode\":\"%s\",\"side\":\"%s\",\"threads\":%" PRIu32 ",\"seconds\":%.3f,"
               "\"ops\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"errors\":%" PRIu64
               ",\"ops_per_s\":%.1f,\"mb_per_s\":%.2f}\n",
               ld->a.mode, side, ld->a.threads, secs, ops, bytes, errors, ops_s, mb_s);
        return;
    }
    printf("fs_load: %s %s (%s, %" PRIu32 " threads) %.3f s: %" PRIu64 " ops, %" PRIu64
           " errors, %.1f ops/s, %.2f MB/s\n",
           ld->a.mode, ld->a.path, side, ld->a.threads, secs, ops, errors, ops_s, mb_s);
}

int main(int argc, char **argv)
{
    static struct load ld;
    uint64_t dir = 0, t0;
    double secs;
    bool create, removing;
    int rc = parse_args(argc, argv, &ld.a);

    if (rc)
        return rc;
    if (!ld.a.mount && (rc = connect_fs(&ld)) < 0)
        goto out;
    create = strcmp(ld.a.mode, "create") == 0;
    removing = strcmp(ld.a.mode, "unlink") == 0;
    if ((create || removing) && (rc = files_dir(&ld, create, &dir)) < 0) {
        fprintf(stderr, "fs_load: directory %s: %s\n", ld.a.path, strerror(-rc));
        goto out;
    }
    t0 = now_ns();
    if (create || removing)
        rc = run_files(&ld, dir, removing);
    else if (strcmp(ld.a.mode, "ls") == 0)
        rc = ld.fs ? ls_direct(&ld) : ls_posix(&ld);
    else
        rc = run_seq(&ld);
    secs = (double)(now_ns() - t0) / 1e9;
    if (rc < 0 && ld.errors == 0)
        fprintf(stderr, "fs_load: %s %s: %s\n", ld.a.mode, ld.a.path, strerror(-rc));
    report(&ld, secs);
out:
    if (ld.fs)
        cairn_fs_close(ld.fs);
    if (ld.c)
        cairn_shutdown(ld.c);
    return rc < 0 || ld.errors ? 1 : 0;
}

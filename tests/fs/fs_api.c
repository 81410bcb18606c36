/* fs_api: the file-system API (client/fs.h) against a real cluster, one
 * check after another, each named in its failure:
 *
 *   fs_api -c CONF -p POOL -v VOLUME
 *
 * VOLUME must exist and be empty (the script creates it with the CLI).
 * Volumes, every error listed in fs.h that the API can reach, names and
 * permissions, sparse and > 4 GiB files, appends from two handles at once,
 * rename (over files, across directories, of directories, into itself),
 * link counts, symlinks, xattrs, fallocate, statfs, locks between two
 * clients (and a dead client's lease), a 5,000-entry
 * directory read in pages, and two crash shapes (a half-done cross-directory
 * rename, an orphan inode) that cairn_fs_check repairs. Ends with a check
 * that must find the volume consistent. Exit 0 when everything held. */
#define _GNU_SOURCE
#include "client/fs_internal.h"
#include "common/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define BIG_DIR 5000u
#define APPENDS 60

static unsigned failures;
static const char *check_name = "setup";
static struct cairn *cl;
static int32_t pool;
static struct cairn_fs *fs;
static uint64_t pub; /* a 0777 directory where users create */

static const struct cairn_fs_cred root = {0, 0, NULL, 0};
static const uint32_t alice_groups[] = {100};
static const struct cairn_fs_cred alice = {1000, 1000, alice_groups, 1};
static const struct cairn_fs_cred bob = {1001, 1001, NULL, 0};

static void fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fs_api: %s: FAIL: ", check_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    failures++;
}

#define EXPECT(got, want, what)                                                                \
    do {                                                                                       \
        int g_ = (got), w_ = (want);                                                           \
        if (g_ != w_)                                                                          \
            fail("%s (line %d): got %d (%s), want %d (%s)", what, __LINE__, g_,                \
                 strerror(g_ < 0 ? -g_ : 0), w_, strerror(w_ < 0 ? -w_ : 0));                  \
    } while (0)
#define TRUE(cond, what)                                                                       \
    do {                                                                                       \
        if (!(cond))                                                                           \
            fail("%s (line %d): %s", what, __LINE__, #cond);                                   \
    } while (0)

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mkfile(uint64_t dir, const char *name, uint32_t mode,
                       const struct cairn_fs_cred *cred)
{
    struct cairn_fs_attr a = {0};
    int r = cairn_fs_mknod(fs, cred, dir, name, mode, 0, &a);

    if (r < 0)
        fail("mknod %s: %s", name, strerror(-r));
    return a.ino;
}

static uint64_t mkdir_(uint64_t dir, const char *name, uint32_t mode,
                       const struct cairn_fs_cred *cred)
{
    struct cairn_fs_attr a = {0};
    int r = cairn_fs_mkdir(fs, cred, dir, name, mode, &a);

    if (r < 0)
        fail("mkdir %s: %s", name, strerror(-r));
    return a.ino;
}

static uint32_t nlink_of(uint64_t ino)
{
    struct cairn_fs_attr a = {0};

    return cairn_fs_getattr(fs, ino, &a) == 0 ? a.nlink : 0;
}

/* ---- volumes ---- */

static int count_vol(const char *name, int64_t created_s, void *arg)
{
    if (strcmp(name, "fsapi-tmp") == 0 && created_s > 0)
        ++*(int *)arg;
    return 0;
}

static void test_volumes(void)
{
    struct cairn_fs *tmp;
    int seen = 0;

    check_name = "volumes";
    EXPECT(cairn_fs_create(cl, pool, "fsapi-tmp"), 0, "create");
    EXPECT(cairn_fs_create(cl, pool, "fsapi-tmp"), -EEXIST, "create twice");
    EXPECT(cairn_fs_create(cl, pool, ".hidden"), -EINVAL, "leading dot");
    EXPECT(cairn_fs_create(cl, pool, "a/b"), -EINVAL, "slash");
    EXPECT(cairn_fs_create(cl, 4000, "x"), -ENOENT, "no such pool");
    EXPECT(cairn_fs_list(cl, pool, count_vol, &seen), 0, "list");
    EXPECT(seen, 1, "listed once");
    EXPECT(cairn_fs_open(cl, pool, "fsapi-tmp", &tmp), 0, "open");
    if (failures == 0) {
        struct cairn_fs_attr a;
        EXPECT(cairn_fs_mkdir(tmp, &root, CAIRN_FS_ROOT_INO, "d", 0755, &a), 0, "mkdir");
        cairn_fs_close(tmp);
    }
    EXPECT(cairn_fs_remove(cl, pool, "fsapi-tmp"), 0, "remove");
    EXPECT(cairn_fs_remove(cl, pool, "fsapi-tmp"), -ENOENT, "remove twice");
    EXPECT(cairn_fs_open(cl, pool, "fsapi-tmp", &tmp), -ENOENT, "open removed");
    EXPECT(cairn_fs_open(cl, pool, "nosuchvol", &tmp), -ENOENT, "open missing");
}

/* ---- names, attributes, permissions ---- */

static void test_names(void)
{
    struct cairn_fs_attr a, r0;
    char longname[CAIRN_FS_NAME_MAX + 2];
    uint64_t f, d, priv;

    check_name = "names";
    EXPECT(cairn_fs_getattr(fs, CAIRN_FS_ROOT_INO, &r0), 0, "getattr root");
    TRUE(S_ISDIR(r0.mode) && (r0.mode & 07777) == 0755 && r0.uid == 0 && r0.nlink == 3 &&
             r0.parent == CAIRN_FS_ROOT_INO,
         "root attributes");
    EXPECT(cairn_fs_getattr(fs, 0xdeadbeef, &a), -ENOENT, "getattr missing");
    f = mkfile(CAIRN_FS_ROOT_INO, "f1", 0644, &root);
    EXPECT(cairn_fs_lookup(fs, &root, CAIRN_FS_ROOT_INO, "f1", &a), 0, "lookup");
    TRUE(a.ino == f && S_ISREG(a.mode) && a.nlink == 1 && a.size == 0, "file attributes");
    EXPECT(cairn_fs_lookup(fs, &root, CAIRN_FS_ROOT_INO, "nope", &a), -ENOENT, "lookup missing");
    EXPECT(cairn_fs_lookup(fs, &root, f, "x", &a), -ENOTDIR, "lookup in a file");
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    EXPECT(cairn_fs_lookup(fs, &root, CAIRN_FS_ROOT_INO, longname, &a), -ENAMETOOLONG,
           "lookup long name");
    EXPECT(cairn_fs_mknod(fs, &root, CAIRN_FS_ROOT_INO, longname, 0644, 0, &a), -ENAMETOOLONG,
           "mknod long name");
    longname[CAIRN_FS_NAME_MAX] = '\0';
    EXPECT(cairn_fs_mknod(fs, &root, CAIRN_FS_ROOT_INO, longname, 0644, 0, &a), 0,
           "mknod 255-byte name");
    EXPECT(cairn_fs_unlink(fs, &root, CAIRN_FS_ROOT_INO, longname), 0, "unlink 255-byte name");
    EXPECT(cairn_fs_mknod(fs, &root, CAIRN_FS_ROOT_INO, "f1", 0644, 0, &a), -EEXIST,
           "exclusive create");
    EXPECT(cairn_fs_mkdir(fs, &root, CAIRN_FS_ROOT_INO, "f1", 0755, &a), -EEXIST, "mkdir over");
    EXPECT(cairn_fs_mknod(fs, &root, 0x7777777, "x", 0644, 0, &a), -ENOENT, "missing parent");
    EXPECT(cairn_fs_mknod(fs, &root, f, "x", 0644, 0, &a), -ENOTDIR, "parent is a file");
    d = mkdir_(CAIRN_FS_ROOT_INO, "d", 0755, &root);
    EXPECT(cairn_fs_getattr(fs, d, &a), 0, "getattr dir");
    TRUE(S_ISDIR(a.mode) && a.nlink == 2 && a.parent == CAIRN_FS_ROOT_INO, "dir attributes");
    EXPECT((int)nlink_of(CAIRN_FS_ROOT_INO), (int)r0.nlink + 1, "root nlink after mkdir");
    EXPECT(cairn_fs_mknod(fs, &alice, d, "x", 0644, 0, &a), -EACCES, "create without w");
    priv = mkdir_(CAIRN_FS_ROOT_INO, "priv", 0700, &root);
    mkfile(priv, "inside", 0644, &root);
    EXPECT(cairn_fs_lookup(fs, &alice, priv, "inside", &a), -EACCES, "lookup without x");
    EXPECT(cairn_fs_lookup(fs, &root, priv, "inside", &a), 0, "root looks up");
    EXPECT(cairn_fs_lookup(fs, &alice, d, "..", &a), 0, "lookup ..");
    TRUE(a.ino == CAIRN_FS_ROOT_INO, ".. is the root");
    EXPECT(cairn_fs_mknod(fs, &root, d, "fifo", S_IFIFO | 0600, 0, &a), 0, "mkfifo");
    TRUE(S_ISFIFO(a.mode), "fifo type");
    EXPECT(cairn_fs_mknod(fs, &root, d, "null", S_IFCHR | 0666, makedev(1, 3), &a), 0,
           "mknod char");
    TRUE(S_ISCHR(a.mode) && a.rdev == makedev(1, 3), "char device");
    EXPECT(cairn_fs_mknod(fs, &alice, CAIRN_FS_ROOT_INO, "dev", S_IFCHR | 0666, 1, &a), -EPERM,
           "mknod char as user");
    EXPECT(cairn_fs_mknod(fs, &root, d, "bad", S_IFDIR | 0755, 0, &a), -EINVAL,
           "mknod a directory");
    EXPECT(cairn_fs_mknod(fs, &root, d, "a/b", 0644, 0, &a), -EINVAL, "slash in a name");
    EXPECT(cairn_fs_access(fs, &alice, f, R_OK), 0, "access r");
    EXPECT(cairn_fs_access(fs, &alice, f, W_OK), -EACCES, "access w");
    EXPECT(cairn_fs_access(fs, &root, f, X_OK), -EACCES, "root x on 0644");
    EXPECT(cairn_fs_access(fs, &root, f, W_OK | R_OK), 0, "root rw");
}

static void test_setattr(void)
{
    struct cairn_fs_attr in = {0}, a;
    uint64_t f = mkfile(pub, "attrs", 0644, &alice);

    check_name = "setattr";
    in.mode = 0600;
    EXPECT(cairn_fs_setattr(fs, &bob, f, &in, CAIRN_FS_SET_MODE, &a), -EPERM, "chmod by other");
    EXPECT(cairn_fs_setattr(fs, &alice, f, &in, CAIRN_FS_SET_MODE, &a), 0, "chmod by owner");
    TRUE((a.mode & 07777) == 0600 && S_ISREG(a.mode), "mode set");
    in.uid = 1001;
    EXPECT(cairn_fs_setattr(fs, &alice, f, &in, CAIRN_FS_SET_UID, &a), -EPERM, "chown by user");
    in.gid = 100;
    EXPECT(cairn_fs_setattr(fs, &alice, f, &in, CAIRN_FS_SET_GID, &a), 0, "chgrp to own group");
    in.gid = 5;
    EXPECT(cairn_fs_setattr(fs, &alice, f, &in, CAIRN_FS_SET_GID, &a), -EPERM, "chgrp other");
    in.mode = 06755;
    EXPECT(cairn_fs_setattr(fs, &root, f, &in, CAIRN_FS_SET_MODE, &a), 0, "chmod setuid");
    TRUE((a.mode & 07777) == 06755, "setuid set");
    in.uid = 1001;
    EXPECT(cairn_fs_setattr(fs, &root, f, &in, CAIRN_FS_SET_UID, &a), 0, "chown by root");
    TRUE(a.uid == 1001 && (a.mode & (S_ISUID | S_ISGID)) == 0, "chown clears setuid");
    in.mtime_ns = 1234567890123456789ll;
    EXPECT(cairn_fs_setattr(fs, &alice, f, &in, CAIRN_FS_SET_MTIME, &a), -EPERM,
           "explicit time by other");
    EXPECT(cairn_fs_setattr(fs, &alice, f, &in, CAIRN_FS_SET_MTIME_NOW, &a), -EACCES,
           "now without write");
    EXPECT(cairn_fs_setattr(fs, &bob, f, &in, CAIRN_FS_SET_MTIME, &a), 0, "explicit by owner");
    TRUE(a.mtime_ns == 1234567890123456789ll, "mtime set");
    in.size = 100;
    EXPECT(cairn_fs_setattr(fs, &bob, CAIRN_FS_ROOT_INO, &in, CAIRN_FS_SET_SIZE, &a), -EISDIR,
           "truncate a dir");
    EXPECT(cairn_fs_setattr(fs, &bob, f, &in, CAIRN_FS_SET_SIZE, &a), 0, "extend");
    TRUE(a.size == 100, "size after extend");
    EXPECT(cairn_fs_setattr(fs, &bob, 0x7777777, &in, CAIRN_FS_SET_MODE, &a), -ENOENT,
           "setattr missing");
}

/* ---- data ---- */

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static bool is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static void read_expect(uint64_t ino, uint64_t off, const uint8_t *want, size_t len,
                        const char *what)
{
    uint8_t *got = malloc(len + 1);
    size_t n = 0;

    EXPECT(cairn_fs_read(fs, ino, off, len, got, &n), 0, what);
    if (n != len)
        fail("%s: read %zu bytes, want %zu", what, n, len);
    else if (want ? memcmp(got, want, len) != 0 : !is_zero(got, len))
        fail("%s: data differs", what);
    free(got);
}

static void test_data(void)
{
    size_t len = 3 * MIB, n = 0;
    uint8_t *buf = malloc(len), small[64];
    uint64_t f = mkfile(CAIRN_FS_ROOT_INO, "data", 0644, &root), at = 0;
    struct cairn_fs_attr a, in = {0};

    check_name = "data";
    fill(buf, len, 1);
    /* Across the first stripe boundary, leaving a hole in front. */
    EXPECT(cairn_fs_write(fs, f, 3 * MIB, buf, len, false, &at), 0, "write across stripes");
    TRUE(at == 3 * MIB, "written_at");
    EXPECT(cairn_fs_getattr(fs, f, &a), 0, "getattr");
    TRUE(a.size == 6 * MIB, "size after write");
    read_expect(f, 3 * MIB, buf, len, "read back");
    read_expect(f, 0, NULL, 3 * MIB, "hole reads as zeros");
    EXPECT(cairn_fs_read(fs, f, 6 * MIB - 10, 64, small, &n), 0, "read at the end");
    TRUE(n == 10, "short read at the end");
    EXPECT(cairn_fs_read(fs, f, 7 * MIB, 64, small, &n), 0, "read past the end");
    TRUE(n == 0, "nothing past the end");
    /* Sparse beyond 4 GiB. */
    EXPECT(cairn_fs_write(fs, f, 5 * GIB, buf, 4096, false, &at), 0, "write at 5 GiB");
    EXPECT(cairn_fs_getattr(fs, f, &a), 0, "getattr");
    TRUE(a.size == 5 * GIB + 4096, "size past 4 GiB");
    read_expect(f, 5 * GIB, buf, 4096, "read at 5 GiB");
    read_expect(f, 4 * GIB + 100, NULL, 8192, "hole at 4 GiB");
    EXPECT(cairn_fs_write(fs, f, CAIRN_FS_FILE_MAX, buf, 1, false, &at), -EFBIG, "past max");
    /* Truncate down, then up: the cut data does not come back. */
    in.size = 3 * MIB + 100;
    EXPECT(cairn_fs_setattr(fs, &root, f, &in, CAIRN_FS_SET_SIZE, &a), 0, "truncate down");
    TRUE(a.size == 3 * MIB + 100, "size after truncate");
    in.size = 6 * MIB;
    EXPECT(cairn_fs_setattr(fs, &root, f, &in, CAIRN_FS_SET_SIZE, &a), 0, "truncate up");
    read_expect(f, 3 * MIB, buf, 100, "kept part");
    read_expect(f, 3 * MIB + 100, NULL, 3 * MIB - 100, "cut part reads as zeros");
    /* fallocate. */
    EXPECT(cairn_fs_fallocate(fs, f, 0, 0, 7 * MIB), 0, "fallocate extends");
    EXPECT(cairn_fs_getattr(fs, f, &a), 0, "getattr");
    TRUE(a.size == 7 * MIB, "size after fallocate");
    EXPECT(cairn_fs_write(fs, f, 0, buf, 5 * MIB > len ? len : 5 * MIB, false, &at), 0, "fill");
    EXPECT(cairn_fs_fallocate(fs, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1000, 2 * MIB),
           0, "punch");
    read_expect(f, 0, buf, 1000, "before the hole");
    read_expect(f, 1000, NULL, 2 * MIB, "punched");
    read_expect(f, 1000 + 2 * MIB, buf + 1000 + 2 * MIB, len - 1000 - 2 * MIB, "after the hole");
    EXPECT(cairn_fs_getattr(fs, f, &a), 0, "getattr");
    TRUE(a.size == 7 * MIB, "punch keeps the size");
    EXPECT(cairn_fs_fallocate(fs, f, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), -EOPNOTSUPP,
           "unsupported mode");
    EXPECT(cairn_fs_read(fs, CAIRN_FS_ROOT_INO, 0, 10, small, &n), -EISDIR, "read a dir");
    free(buf);
}

struct appender {
    struct cairn_fs *h;
    uint64_t ino;
    char tag;
    uint64_t at[APPENDS];
    int err;
};

static void *append_main(void *arg)
{
    struct appender *ap = arg;
    char rec[16];

    for (int i = 0; i < APPENDS && !ap->err; i++) {
        snprintf(rec, sizeof(rec), "%c%013d\n", ap->tag, i);
        ap->err = cairn_fs_write(ap->h, ap->ino, 0, rec, 15, true, &ap->at[i]);
    }
    return NULL;
}

static void test_append(void)
{
    struct appender ap[2] = {{.tag = 'A'}, {.tag = 'B'}};
    struct cairn_fs *fs2 = NULL;
    pthread_t th[2];
    struct cairn_fs_attr a;
    char got[16], want[16];
    size_t n;

    check_name = "append";
    ap[0].ino = ap[1].ino = mkfile(CAIRN_FS_ROOT_INO, "log", 0644, &root);
    EXPECT(cairn_fs_open(cl, pool, getenv("FS_API_VOLUME"), &fs2), 0, "second handle");
    if (!fs2)
        return;
    ap[0].h = fs;
    ap[1].h = fs2;
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, append_main, &ap[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    EXPECT(ap[0].err, 0, "appender A");
    EXPECT(ap[1].err, 0, "appender B");
    EXPECT(cairn_fs_getattr(fs, ap[0].ino, &a), 0, "getattr");
    TRUE(a.size == 2 * APPENDS * 15, "every append counted");
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < APPENDS; i++) {
            snprintf(want, sizeof(want), "%c%013d\n", ap[k].tag, i);
            n = 0;
            if (cairn_fs_read(fs, ap[k].ino, ap[k].at[i], 15, got, &n) < 0 || n != 15 ||
                memcmp(got, want, 15) != 0) {
                fail("record %c%d at %" PRIu64 " lost", ap[k].tag, i, ap[k].at[i]);
                return;
            }
        }
    cairn_fs_close(fs2);
}

/* ---- links, unlink, rmdir, symlinks ---- */

static void test_links(void)
{
    struct cairn_fs_attr a;
    char target[64];
    uint64_t d = mkdir_(CAIRN_FS_ROOT_INO, "links", 0777, &root);
    uint64_t f = mkfile(d, "orig", 0644, &root), sub, tmp;

    check_name = "links";
    EXPECT(cairn_fs_write(fs, f, 0, "payload", 7, false, NULL), 0, "write");
    EXPECT(cairn_fs_link(fs, &root, f, d, "second", &a), 0, "link");
    TRUE(a.nlink == 2, "nlink 2");
    EXPECT(cairn_fs_link(fs, &root, f, CAIRN_FS_ROOT_INO, "third", &a), 0, "link elsewhere");
    TRUE(a.nlink == 3, "nlink 3");
    EXPECT(cairn_fs_link(fs, &root, f, d, "second", &a), -EEXIST, "link over a name");
    EXPECT(cairn_fs_link(fs, &root, d, CAIRN_FS_ROOT_INO, "dirlink", &a), -EPERM, "link a dir");
    EXPECT(cairn_fs_unlink(fs, &root, d, "orig"), 0, "unlink one");
    EXPECT((int)nlink_of(f), 2, "nlink after unlink");
    read_expect(f, 0, (const uint8_t *)"payload", 7, "data stays");
    EXPECT(cairn_fs_unlink(fs, &root, CAIRN_FS_ROOT_INO, "third"), 0, "unlink two");
    EXPECT(cairn_fs_unlink(fs, &root, d, "second"), 0, "unlink last");
    EXPECT(cairn_fs_getattr(fs, f, &a), -ENOENT, "inode gone at nlink 0");
    EXPECT(cairn_fs_unlink(fs, &root, d, "second"), -ENOENT, "unlink missing");
    sub = mkdir_(d, "sub", 0755, &root);
    EXPECT(cairn_fs_unlink(fs, &root, d, "sub"), -EISDIR, "unlink a dir");
    mkfile(sub, "child", 0644, &root);
    EXPECT(cairn_fs_rmdir(fs, &root, d, "sub"), -ENOTEMPTY, "rmdir non-empty");
    EXPECT(cairn_fs_unlink(fs, &alice, sub, "child"), -EACCES, "unlink without w");
    EXPECT(cairn_fs_unlink(fs, &root, sub, "child"), 0, "unlink child");
    mkfile(d, "plain", 0644, &root);
    EXPECT(cairn_fs_rmdir(fs, &root, d, "plain"), -ENOTDIR, "rmdir a file");
    EXPECT(cairn_fs_rmdir(fs, &root, d, "none"), -ENOENT, "rmdir missing");
    EXPECT(cairn_fs_rmdir(fs, &root, d, "sub"), 0, "rmdir");
    EXPECT(cairn_fs_getattr(fs, sub, &a), -ENOENT, "dir gone");
    EXPECT((int)nlink_of(d), 2, "parent nlink after rmdir");
    /* The sticky bit. */
    tmp = mkdir_(CAIRN_FS_ROOT_INO, "tmp", 01777, &root);
    mkfile(tmp, "alices", 0644, &alice);
    EXPECT(cairn_fs_unlink(fs, &bob, tmp, "alices"), -EPERM, "sticky: other user");
    EXPECT(cairn_fs_rename(fs, &bob, tmp, "alices", tmp, "bobs", 0), -EPERM, "sticky rename");
    EXPECT(cairn_fs_unlink(fs, &alice, tmp, "alices"), 0, "sticky: owner");
    /* Symlinks. */
    EXPECT(cairn_fs_symlink(fs, &root, d, "ln", "../some/where", &a), 0, "symlink");
    TRUE(S_ISLNK(a.mode) && a.size == 13, "symlink attributes");
    EXPECT(cairn_fs_readlink(fs, a.ino, target, sizeof(target)), 0, "readlink");
    TRUE(strcmp(target, "../some/where") == 0, "target");
    EXPECT(cairn_fs_readlink(fs, a.ino, target, 4), 0, "readlink truncated");
    TRUE(strcmp(target, "../") == 0, "truncated target");
    EXPECT(cairn_fs_readlink(fs, d, target, sizeof(target)), -EINVAL, "readlink a dir");
    EXPECT(cairn_fs_symlink(fs, &root, d, "ln", "x", &a), -EEXIST, "symlink over");
}

/* Two handles linking and unlinking one file at once: no count is lost. */
struct linker {
    struct cairn_fs *h;
    uint64_t ino, dir;
    char tag;
    bool unlink;
    int err;
};

static void *link_main(void *arg)
{
    struct linker *l = arg;
    char name[32];

    for (int i = 0; i < 25 && !l->err; i++) {
        snprintf(name, sizeof(name), "%c%d", l->tag, i);
        l->err = l->unlink ? cairn_fs_unlink(l->h, &root, l->dir, name)
                           : cairn_fs_link(l->h, &root, l->ino, l->dir, name, NULL);
    }
    return NULL;
}

static void test_concurrent_links(void)
{
    struct cairn_fs *fs2 = NULL;
    struct linker l[2];
    pthread_t th[2];
    uint64_t d = mkdir_(CAIRN_FS_ROOT_INO, "clinks", 0755, &root), f = mkfile(d, "f", 0644, &root);

    check_name = "concurrent links";
    EXPECT(cairn_fs_open(cl, pool, getenv("FS_API_VOLUME"), &fs2), 0, "second handle");
    if (!fs2)
        return;
    for (int pass = 0; pass < 2; pass++) {
        l[0] = (struct linker){fs, f, d, 'a', pass == 1, 0};
        l[1] = (struct linker){fs2, f, d, 'b', pass == 1, 0};
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, link_main, &l[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        EXPECT(l[0].err, 0, "thread a");
        EXPECT(l[1].err, 0, "thread b");
        EXPECT((int)nlink_of(f), pass == 0 ? 51 : 1, "nlink");
    }
    cairn_fs_close(fs2);
}

/* ---- rename ---- */

static void test_rename(void)
{
    struct cairn_fs_attr a;
    uint64_t r = mkdir_(CAIRN_FS_ROOT_INO, "ren", 0755, &root);
    uint64_t x = mkdir_(r, "x", 0755, &root), y = mkdir_(r, "y", 0755, &root);
    uint64_t f1 = mkfile(x, "f1", 0644, &root), f2 = mkfile(x, "f2", 0644, &root), moved;

    check_name = "rename";
    EXPECT(cairn_fs_rename(fs, &root, x, "f1", x, "f2", 0), 0, "over a file");
    EXPECT(cairn_fs_lookup(fs, &root, x, "f2", &a), 0, "lookup new");
    TRUE(a.ino == f1, "new name is the moved file");
    EXPECT(cairn_fs_lookup(fs, &root, x, "f1", &a), -ENOENT, "old name gone");
    EXPECT(cairn_fs_getattr(fs, f2, &a), -ENOENT, "replaced inode gone");
    EXPECT(cairn_fs_rename(fs, &root, x, "f2", y, "g", 0), 0, "across dirs");
    EXPECT(cairn_fs_lookup(fs, &root, y, "g", &a), 0, "lookup moved");
    TRUE(a.ino == f1 && a.nlink == 1, "moved file");
    EXPECT(cairn_fs_lookup(fs, &root, x, "f2", &a), -ENOENT, "source gone");
    mkfile(x, "h", 0644, &root);
    EXPECT(cairn_fs_rename(fs, &root, x, "h", y, "g", CAIRN_FS_RENAME_NOREPLACE), -EEXIST,
           "noreplace");
    EXPECT(cairn_fs_rename(fs, &root, x, "nope", y, "z", 0), -ENOENT, "missing source");
    moved = mkdir_(x, "sub", 0755, &root);
    mkdir_(moved, "deeper", 0755, &root);
    EXPECT(cairn_fs_rename(fs, &root, x, "sub", moved, "self", 0), -EINVAL, "into itself");
    EXPECT(cairn_fs_rename(fs, &root, r, "x", moved, "loop", 0), -EINVAL, "under a child");
    EXPECT(cairn_fs_rename(fs, &root, x, "sub", y, "g", 0), -ENOTDIR, "dir over file");
    EXPECT(cairn_fs_rename(fs, &root, y, "g", x, "sub", 0), -EISDIR, "file over dir");
    mkdir_(y, "full", 0755, &root);
    mkfile(x, "sub_file", 0644, &root);
    mkfile(y, "keep", 0644, &root);
    mkfile(moved, "w", 0644, &root);
    EXPECT(cairn_fs_rename(fs, &root, r, "y", r, "x2", 0), 0, "dir within a dir");
    EXPECT(cairn_fs_rename(fs, &root, r, "x2", r, "y", 0), 0, "and back");
    uint32_t xl = nlink_of(x), yl = nlink_of(y);
    EXPECT(cairn_fs_rename(fs, &root, x, "sub", y, "sub", 0), 0, "dir across dirs");
    EXPECT(cairn_fs_getattr(fs, moved, &a), 0, "getattr moved dir");
    TRUE(a.parent == y, "parent pointer follows");
    EXPECT(cairn_fs_lookup(fs, &root, moved, "..", &a), 0, "lookup ..");
    TRUE(a.ino == y, ".. is the new parent");
    EXPECT((int)nlink_of(x), (int)xl - 1, "old parent nlink");
    EXPECT((int)nlink_of(y), (int)yl + 1, "new parent nlink");
    mkdir_(y, "empty", 0755, &root);
    EXPECT(cairn_fs_rename(fs, &root, y, "sub", y, "full", 0), 0, "dir over empty dir");
    mkfile(y, "other", 0644, &root);
    EXPECT(cairn_fs_rename(fs, &root, y, "empty", y, "full", 0), -ENOTEMPTY,
           "dir over non-empty");
    EXPECT(cairn_fs_link(fs, &root, f1, y, "hard", &a), 0, "link");
    EXPECT(cairn_fs_rename(fs, &root, y, "g", y, "hard", 0), 0, "onto the same inode");
    EXPECT(cairn_fs_lookup(fs, &root, y, "g", &a), 0, "both names stay");
    EXPECT(cairn_fs_rename(fs, &alice, y, "g", x, "g", 0), -EACCES, "without w");
}

/* ---- xattrs ---- */

static void test_xattrs(void)
{
    uint64_t f = mkfile(pub, "xa", 0644, &alice);
    char buf[256];
    size_t len = 0;

    check_name = "xattrs";
    EXPECT(cairn_fs_setxattr(fs, &alice, f, "user.color", "blue", 4, 0), 0, "set");
    EXPECT(cairn_fs_getxattr(fs, f, "user.color", buf, sizeof(buf), &len), 0, "get");
    TRUE(len == 4 && memcmp(buf, "blue", 4) == 0, "value");
    EXPECT(cairn_fs_getxattr(fs, f, "user.color", NULL, 0, &len), 0, "get length");
    TRUE(len == 4, "length");
    EXPECT(cairn_fs_getxattr(fs, f, "user.color", buf, 2, &len), -ERANGE, "get small");
    EXPECT(cairn_fs_getxattr(fs, f, "user.none", buf, sizeof(buf), &len), -ENODATA, "absent");
    EXPECT(cairn_fs_setxattr(fs, &alice, f, "user.color", "red", 3, XATTR_CREATE), -EEXIST,
           "create existing");
    EXPECT(cairn_fs_setxattr(fs, &alice, f, "user.size", "1", 1, XATTR_REPLACE), -ENODATA,
           "replace absent");
    EXPECT(cairn_fs_setxattr(fs, &alice, f, "user.color", "red", 3, XATTR_REPLACE), 0,
           "replace");
    EXPECT(cairn_fs_setxattr(fs, &alice, f, "user.b", "", 0, XATTR_CREATE), 0, "empty value");
    EXPECT(cairn_fs_setxattr(fs, &bob, f, "user.c", "x", 1, 0), -EACCES, "set by other");
    EXPECT(cairn_fs_setxattr(fs, &alice, f, "trusted.t", "x", 1, 0), -EPERM, "trusted by user");
    EXPECT(cairn_fs_setxattr(fs, &root, f, "trusted.t", "x", 1, 0), 0, "trusted by root");
    EXPECT(cairn_fs_setxattr(fs, &root, f, "system.posix_acl_access", "x", 1, 0), -EOPNOTSUPP,
           "system namespace");
    EXPECT(cairn_fs_listxattr(fs, f, NULL, 0, &len), 0, "list length");
    TRUE(len == sizeof("user.b") + sizeof("user.color") + sizeof("trusted.t"), "list size");
    EXPECT(cairn_fs_listxattr(fs, f, buf, 3, &len), -ERANGE, "list small");
    EXPECT(cairn_fs_listxattr(fs, f, buf, sizeof(buf), &len), 0, "list");
    TRUE(len == 28 && memmem(buf, len, "user.color", 11) && memmem(buf, len, "user.b", 7),
         "names");
    EXPECT(cairn_fs_removexattr(fs, &alice, f, "user.color"), 0, "remove");
    EXPECT(cairn_fs_removexattr(fs, &alice, f, "user.color"), -ENODATA, "remove absent");
    EXPECT(cairn_fs_getxattr(fs, f, "user.color", buf, sizeof(buf), &len), -ENODATA, "gone");
}

/* ---- statfs, readdir ---- */

static void test_statfs(void)
{
    struct statvfs st;

    check_name = "statfs";
    EXPECT(cairn_fs_statfs(fs, &st), 0, "statfs");
    TRUE(st.f_blocks > 0 && st.f_bsize == 4096 && st.f_namemax == CAIRN_FS_NAME_MAX, "sizes");
}

struct seen {
    uint8_t *seen;
    char last[CAIRN_FS_NAME_MAX + 1];
    unsigned count, bad;
};

static int dirent_cb(const char *name, uint64_t ino, uint32_t type, void *arg)
{
    struct seen *s = arg;
    unsigned i;

    if (s->count && strcmp(name, s->last) <= 0)
        s->bad++;
    snprintf(s->last, sizeof(s->last), "%s", name);
    s->count++;
    if (sscanf(name, "e%u", &i) != 1 || i >= BIG_DIR || s->seen[i]++ || type != S_IFREG || !ino)
        s->bad++;
    return 0;
}

struct creator {
    uint64_t dir;
    unsigned from, to;
    int err;
};

static void *create_main(void *arg)
{
    struct creator *cr = arg;
    char name[32];

    for (unsigned i = cr->from; i < cr->to && !cr->err; i++) {
        snprintf(name, sizeof(name), "e%05u", i);
        cr->err = cairn_fs_mknod(fs, &root, cr->dir, name, 0644, 0, NULL);
    }
    return NULL;
}

static void test_big_dir(void)
{
    struct creator cr[4];
    pthread_t th[4];
    struct seen s = {.seen = calloc(BIG_DIR, 1)};
    struct cairn_fs_attr a;
    bool more = true;
    double t0 = now_s();
    unsigned pages = 0;

    check_name = "readdir";
    uint64_t d = mkdir_(CAIRN_FS_ROOT_INO, "big", 0755, &root);
    for (unsigned i = 0; i < 4; i++) {
        cr[i] = (struct creator){d, i * BIG_DIR / 4, (i + 1) * BIG_DIR / 4, 0};
        pthread_create(&th[i], NULL, create_main, &cr[i]);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        EXPECT(cr[i].err, 0, "create entries");
    }
    fprintf(stderr, "fs_api: %u entries created in %.1f s\n", BIG_DIR, now_s() - t0);
    t0 = now_s();
    while (more && pages < 100) {
        EXPECT(cairn_fs_readdir(fs, d, s.count ? s.last : NULL, 1000, dirent_cb, &s, &more), 0,
               "readdir page");
        pages++;
    }
    fprintf(stderr, "fs_api: readdir of %u in %u pages: %.2f s\n", s.count, pages,
            now_s() - t0);
    TRUE(s.count == BIG_DIR && s.bad == 0, "every name once, in order");
    TRUE(pages == BIG_DIR / 1000 || pages == BIG_DIR / 1000 + 1, "pages of 1000");
    EXPECT(cairn_fs_readdir(fs, mkfile(d, "zfile", 0644, &root), NULL, 10, dirent_cb, &s, &more),
           -ENOTDIR, "readdir a file");
    t0 = now_s();
    for (unsigned i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof(name), "e%05u", (i * 7919) % BIG_DIR);
        if (cairn_fs_lookup(fs, &root, d, name, &a) < 0) {
            fail("lookup %s", name);
            break;
        }
    }
    fprintf(stderr, "fs_api: 1000 lookups in a %u-entry dir: %.3f s\n", BIG_DIR, now_s() - t0);
    free(s.seen);
}

/* ---- crash shapes and the check ---- */

static void check_expect(bool repair, uint64_t intents, uint64_t orphans, const char *what)
{
    struct cairn_fs_check_report rep;

    EXPECT(cairn_fs_check(cl, pool, getenv("FS_API_VOLUME"), repair, &rep), 0, what);
    fprintf(stderr,
            "fs_api: %s: inodes %" PRIu64 " dirs %" PRIu64 " entries %" PRIu64
            " orphans %" PRIu64 " dangling %" PRIu64 " bad_nlink %" PRIu64 " intents %" PRIu64
            " repaired %" PRIu64 "\n",
            what, rep.inodes, rep.directories, rep.entries, rep.orphans, rep.dangling,
            rep.bad_nlink, rep.intents, rep.repaired);
    TRUE(rep.intents == intents && rep.orphans == orphans && rep.dangling == 0, what);
    if (repair)
        TRUE(rep.repaired == rep.intents + rep.orphans + rep.bad_nlink, what);
    else if (intents == 0 && orphans == 0)
        TRUE(rep.bad_nlink == 0, what);
}

static void test_crash(void)
{
    char oid[CAIRN__FS_OID_MAX];
    struct cairn_fs_attr a = {0};
    uint8_t rec[CAIRN__FS_ATTR_LEN];
    uint64_t s = mkdir_(CAIRN_FS_ROOT_INO, "cs", 0755, &root);
    uint64_t t = mkdir_(CAIRN_FS_ROOT_INO, "ct", 0755, &root);
    uint64_t f = mkfile(s, "file", 0644, &root), dsub = mkdir_(s, "dsub", 0755, &root), orphan;

    check_name = "crash";
    check_expect(false, 0, 0, "check before");
    /* Dies after the intent and the new name: rolled forward. */
    EXPECT(cairn__fs_rename_steps(fs, &root, s, "file", t, "moved", 0, 2), 0, "half rename");
    /* Dies after the intent only: rolled back. */
    EXPECT(cairn__fs_rename_steps(fs, &root, s, "dsub", t, "dmoved", 0, 1), 0, "intent only");
    /* An inode nobody links, with a data stripe. */
    EXPECT(cairn__fs_ino_alloc(fs, &orphan), 0, "ino");
    a.mode = S_IFREG | 0644;
    a.nlink = 1;
    a.ino = orphan;
    a.size = 10;
    cairn__fs_oid_inode(oid, fs->vol, orphan);
    struct cairn_op *op = cairn_op_create();
    int r = cairn__fs_inode_create_steps(op, &a, NULL, rec);
    EXPECT(r == 0 ? cairn_op_exec(cl, pool, oid, op) : r, 0, "orphan inode");
    cairn_op_destroy(op);
    EXPECT(cairn_fs_write(fs, orphan, 0, "0123456789", 10, false, NULL), 0, "orphan data");
    check_expect(false, 2, 1, "check finds");
    check_expect(true, 2, 1, "repair");
    check_expect(false, 0, 0, "check after repair");
    EXPECT(cairn_fs_lookup(fs, &root, t, "moved", &a), 0, "rolled forward");
    TRUE(a.ino == f && a.nlink == 1, "moved file");
    EXPECT(cairn_fs_lookup(fs, &root, s, "file", &a), -ENOENT, "old name gone");
    EXPECT(cairn_fs_lookup(fs, &root, s, "dsub", &a), 0, "rolled back");
    TRUE(a.ino == dsub && a.parent == s, "dir stays");
    EXPECT(cairn_fs_lookup(fs, &root, t, "dmoved", &a), -ENOENT, "no new name");
    EXPECT(cairn_fs_getattr(fs, orphan, &a), -ENOENT, "orphan removed");
}

/* ---- damaged records: -EIO, never a crash; check removes them ---- */

static int count_entry(const char *name, uint64_t ino, uint32_t type, void *arg)
{
    ++*(unsigned *)arg;
    return 0;
}

static void test_damaged(void)
{
    struct cairn_fs *d = NULL;
    struct cairn_fs_attr a;
    struct cairn_fs_check_report rep;
    char oid[CAIRN__FS_OID_MAX];
    unsigned n = 0;
    bool more;

    check_name = "damaged";
    EXPECT(cairn_fs_create(cl, pool, "fsapi-dmg"), 0, "create");
    EXPECT(cairn_fs_open(cl, pool, "fsapi-dmg", &d), 0, "open");
    if (!d)
        return;
    EXPECT(cairn_fs_mknod(d, &root, CAIRN_FS_ROOT_INO, "f", 0644, 0, &a), 0, "mknod");
    EXPECT(cairn_fs_mknod(d, &root, CAIRN_FS_ROOT_INO, "ok", 0644, 0, NULL), 0, "mknod ok");
    cairn__fs_oid_inode(oid, d->vol, a.ino);
    struct cairn_op *op = cairn_op_create();
    EXPECT(cairn_op_setxattr(op, "attr", "garbage", 7), 0, "build");
    EXPECT(cairn_op_exec(cl, pool, oid, op), 0, "damage attr");
    cairn_op_destroy(op);
    EXPECT(cairn_fs_getattr(d, a.ino, &a), -EIO, "getattr damaged");
    EXPECT(cairn_fs_lookup(d, &root, CAIRN_FS_ROOT_INO, "f", &a), -EIO, "lookup damaged");
    cairn__fs_oid_inode(oid, d->vol, CAIRN_FS_ROOT_INO);
    op = cairn_op_create();
    EXPECT(cairn_op_omap_set(op, "bad", 3, "xyz", 3), 0, "build");
    EXPECT(cairn_op_exec(cl, pool, oid, op), 0, "damage entry");
    cairn_op_destroy(op);
    EXPECT(cairn_fs_lookup(d, &root, CAIRN_FS_ROOT_INO, "bad", &a), -EIO, "lookup bad entry");
    EXPECT(cairn_fs_readdir(d, CAIRN_FS_ROOT_INO, NULL, 100, count_entry, &n, &more), -EIO,
           "readdir bad entry");
    EXPECT(cairn_fs_check(cl, pool, "fsapi-dmg", true, &rep), 0, "repair");
    TRUE(rep.dangling == 1 && rep.orphans == 1 && rep.repaired == 2, "damage found");
    /* The damaged inode went; its name goes at the next pass. */
    EXPECT(cairn_fs_check(cl, pool, "fsapi-dmg", true, &rep), 0, "repair again");
    EXPECT(cairn_fs_check(cl, pool, "fsapi-dmg", false, &rep), 0, "check");
    TRUE(rep.dangling + rep.orphans + rep.bad_nlink + rep.intents == 0, "clean after repair");
    n = 0;
    EXPECT(cairn_fs_readdir(d, CAIRN_FS_ROOT_INO, NULL, 100, count_entry, &n, &more), 0,
           "readdir after repair");
    TRUE(n == 1, "only the good entry stays");
    cairn_fs_close(d);
    EXPECT(cairn_fs_remove(cl, pool, "fsapi-dmg"), 0, "remove");
}

/* Locks between two handles of the volume (two clients): ranges,
 * conversion, the two kinds apart, and a client that dies with a lock: its
 * lease runs out and a blocked waiter gets the lock. */
static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int lk(struct cairn_fs *h, uint64_t ino, uint64_t owner, enum cairn_fs_lock_kind kind,
              int type, uint64_t start, uint64_t end, bool wait)
{
    struct cairn_fs_lock l = {.type = type, .start = start, .end = end, .pid = 42};

    return cairn_fs_setlk(h, ino, owner, kind, &l, wait, NULL, NULL);
}

static void test_locks(const char *vol)
{
    struct cairn_fs *mine = NULL, *other = NULL;
    struct cairn_fs_lock q;
    uint64_t f = mkfile(CAIRN_FS_ROOT_INO, "locked", 0644, &root);
    const enum cairn_fs_lock_kind P = CAIRN_FS_LOCK_POSIX, F = CAIRN_FS_LOCK_FLOCK;

    check_name = "locks";
    EXPECT(cairn_fs_open(cl, pool, vol, &mine), 0, "first client");
    EXPECT(cairn_fs_open(cl, pool, vol, &other), 0, "second client");
    EXPECT(lk(mine, f, 1, P, F_WRLCK, 0, 99, false), 0, "lock [0,99]");
    EXPECT(lk(other, f, 1, P, F_WRLCK, 50, 60, false), -EAGAIN, "same owner id, other client");
    EXPECT(lk(mine, f, 2, P, F_RDLCK, 99, 99, false), -EAGAIN, "other owner, overlap");
    EXPECT(lk(mine, f, 2, P, F_WRLCK, 100, CAIRN_FS_LOCK_EOF, false), 0, "adjacent range");
    q = (struct cairn_fs_lock){.type = F_RDLCK, .start = 0, .end = CAIRN_FS_LOCK_EOF};
    EXPECT(cairn_fs_getlk(other, f, 9, &q), 0, "getlk");
    TRUE(q.type == F_WRLCK && q.start == 0 && q.end == 99 && q.pid == 42, "getlk: first conflict");
    EXPECT(lk(mine, f, 1, P, F_UNLCK, 10, 19, false), 0, "unlock the middle");
    EXPECT(lk(other, f, 7, P, F_WRLCK, 10, 19, false), 0, "the hole is free");
    EXPECT(lk(other, f, 7, P, F_WRLCK, 9, 9, false), -EAGAIN, "left piece kept");
    EXPECT(lk(other, f, 7, P, F_WRLCK, 20, 20, false), -EAGAIN, "right piece kept");
    EXPECT(lk(mine, f, 1, P, F_RDLCK, 0, 99, false), -EAGAIN, "over another's hole");
    EXPECT(lk(other, f, 7, F, F_WRLCK, 0, CAIRN_FS_LOCK_EOF, false), 0, "flock beside POSIX");
    EXPECT(lk(mine, f, 1, F, F_RDLCK, 0, CAIRN_FS_LOCK_EOF, false), -EAGAIN, "flock conflict");
    EXPECT(cairn_fs_unlock_owner(other, f, 7, F), 0, "flock released");
    EXPECT(lk(mine, f, 1, F, F_RDLCK, 0, CAIRN_FS_LOCK_EOF, false), 0, "flock shared");
    EXPECT(lk(mine, f, 1, F, F_WRLCK, 0, CAIRN_FS_LOCK_EOF, false), 0, "flock upgraded");
    EXPECT(cairn_fs_unlock_owner(mine, f, 1, F), 0, "flock unlock");
    EXPECT(cairn_fs_unlock_owner(other, f, 7, P), 0, "posix unlock");
    EXPECT(cairn_fs_unlock_owner(mine, f, 1, P), 0, "owner 1 unlock");
    EXPECT(cairn_fs_unlock_owner(mine, f, 2, P), 0, "owner 2 unlock");
    EXPECT(lk(other, f, 7, P, F_WRLCK, 0, CAIRN_FS_LOCK_EOF, false), 0, "all free again");
    EXPECT(lk(mine, f, 1, P, F_WRLCK, 5, 5, false), -EAGAIN, "held by the other client");
    /* The other client dies holding it: a blocked waiter gets the lock
     * once its lease (shortened here) has run out, not before. */
    cairn__fs_lock_lease_ns = 1500000000;
    cairn__fs_locks_abandon(other);
    int64_t t0 = mono_ms();
    EXPECT(lk(mine, f, 1, P, F_WRLCK, 5, 5, true), 0, "granted after the lease");
    int64_t waited = mono_ms() - t0;
    TRUE(waited >= 500 && waited < 20000, "waited for the lease");
    fprintf(stderr, "fs_api: locks: a dead client's lock went after %" PRId64 " ms\n", waited);
    EXPECT(cairn_fs_unlock_owner(mine, f, 1, P), 0, "unlock");
    cairn_fs_close(mine); /* a clean close ends its session */
    cairn_fs_close(other);
    /* The dead client's session is a leftover for check (its lease ran
     * out), removed by repair. */
    check_name = "locks check";
    check_expect(false, 0, 1, "dead session found");
    check_expect(true, 0, 1, "dead session removed");
    check_expect(false, 0, 0, "no session left");
    cairn__fs_lock_lease_ns = (int64_t)CAIRN_FS_LOCK_LEASE_S * 1000000000;
    EXPECT(cairn_fs_unlink(fs, &root, CAIRN_FS_ROOT_INO, "locked"), 0, "unlink the locked file");
}

int main(int argc, char **argv)
{
    const char *conf = NULL, *vol = NULL, *pool_name = NULL;
    int opt, r;

    while ((opt = getopt(argc, argv, "c:p:v:")) != -1) {
        if (opt == 'c')
            conf = optarg;
        else if (opt == 'p')
            pool_name = optarg;
        else if (opt == 'v')
            vol = optarg;
        else
            return 2;
    }
    if (!conf || !vol || !pool_name) {
        fprintf(stderr, "usage: fs_api -c CONF -p POOL -v VOLUME\n");
        return 2;
    }
    setenv("FS_API_VOLUME", vol, 1);
    if ((r = cairn_connect(conf, NULL, &cl)) < 0 || (r = cairn_pool_lookup(cl, pool_name, &pool)) < 0 ||
        (r = cairn_fs_open(cl, pool, vol, &fs)) < 0) {
        fprintf(stderr, "fs_api: setup: %s\n", strerror(-r));
        return 1;
    }
    test_volumes();
    pub = mkdir_(CAIRN_FS_ROOT_INO, "pub", 0777, &root);
    test_names();
    test_setattr();
    test_data();
    test_append();
    test_links();
    test_concurrent_links();
    test_rename();
    test_xattrs();
    test_statfs();
    test_locks(vol);
    test_crash();
    test_damaged();
    if (!getenv("FS_API_SKIP_BIG"))
        test_big_dir();
    check_name = "final";
    check_expect(false, 0, 0, "final check");
    cairn_fs_close(fs);
    cairn_shutdown(cl);
    fprintf(stderr, "fs_api: %s (%u failures)\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}

/* img_api: block images (client/image.h) against a real cluster, one check
 * after another, each named in its failure:
 *
 *   img_api CONF POOL [--seed S]
 *
 * create/list/remove/recreate, thin reads, writes across object
 * boundaries, discard and write_zeroes (read back and map), resize,
 * bounds, requests wider than the in-flight window, concurrent writers on
 * two connections, flush.
 * The seed (printed first) drives the concurrent writers' order.
 * Exit 0 when everything held, 1 otherwise. */
#include "client/image.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OS (64u << 10) /* small objects: many boundaries, quick walks */
#define SECTOR 4096u

static unsigned failures;
static const char *check_name = "setup";

static void fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "img_api: %s: FAIL: ", check_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    failures++;
}

/* Expects @got == @want from the call named @what. */
#define EXPECT(got, want, what)                                                                  \
    do {                                                                                       \
        int g_ = (got), w_ = (want);                                                           \
        if (g_ != w_)                                                                          \
            fail("%s: got %d (%s), want %d", what, g_, strerror(g_ < 0 ? -g_ : 0), w_);        \
    } while (0)

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)mix(seed + i / 8) ^ (uint8_t)i;
}

static bool all_zero(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i])
            return false;
    return true;
}

/* ---- names and listing ---- */

struct names {
    char list[16][CAIRN_IMAGE_NAME_MAX + 1];
    unsigned n;
};

static int collect(const char *name, void *arg)
{
    struct names *ns = arg;

    if (ns->n < 16)
        snprintf(ns->list[ns->n++], sizeof(ns->list[0]), "%s", name);
    return 0;
}

static bool listed(struct cairn *c, int32_t pool, const char *name)
{
    struct names ns = {0};

    EXPECT(cairn_image_list(c, pool, collect, &ns), 0, "list");
    for (unsigned i = 0; i < ns.n; i++)
        if (strcmp(ns.list[i], name) == 0)
            return true;
    return false;
}

/* ---- map ---- */

struct extents {
    uint64_t off[64], len[64];
    bool data[64];
    unsigned n;
};

static int extent_cb(uint64_t off, uint64_t len, bool data, void *arg)
{
    struct extents *e = arg;

    if (e->n < 64) {
        e->off[e->n] = off;
        e->len[e->n] = len;
        e->data[e->n] = data;
        e->n++;
    }
    return 0;
}

/* Whether object @objno of @img is allocated, per map. */
static int allocated(struct cairn_image *img, uint64_t objno)
{
    struct extents e = {0};
    int r = cairn_image_map(img, objno * OS, OS, extent_cb, &e);

    if (r < 0 || e.n != 1)
        return -1;
    return e.data[0];
}

/* ---- checks ---- */

static void check_lifecycle(struct cairn *c, int32_t pool)
{
    struct cairn_image *img;
    uint8_t *buf = malloc(OS);

    check_name = "lifecycle";
    EXPECT(cairn_image_create(c, pool, "life", 3 * OS, OS), 0, "create");
    EXPECT(cairn_image_create(c, pool, "life", OS, OS), -EEXIST, "create again");
    EXPECT(cairn_image_create(c, pool, ".hidden", OS, 0), -EINVAL, "leading dot");
    EXPECT(cairn_image_create(c, pool, "a/b", OS, 0), -EINVAL, "slash");
    EXPECT(cairn_image_create(c, pool, "", OS, 0), -EINVAL, "empty name");
    EXPECT(cairn_image_create(c, pool, "odd", OS, 3u << 16), -EINVAL, "object size not 2^n");
    EXPECT(cairn_image_create(c, pool, "big", CAIRN_IMAGE_SIZE_MAX + 1, 0), -EINVAL, "size");
    if (!listed(c, pool, "life"))
        fail("'life' is not listed");
    EXPECT(cairn_image_open(c, pool, "life", &img), 0, "open");
    fill(buf, OS, 1);
    EXPECT(cairn_image_write(img, OS, OS, buf), 0, "write");
    cairn_image_close(img);
    EXPECT(cairn_image_remove(c, pool, "life"), 0, "remove");
    EXPECT(cairn_image_remove(c, pool, "life"), -ENOENT, "remove again");
    EXPECT(cairn_image_open(c, pool, "life", &img), -ENOENT, "open removed");
    if (listed(c, pool, "life"))
        fail("'life' is still listed");
    /* Recreated under the same name: a new id, so no old data. */
    EXPECT(cairn_image_create(c, pool, "life", 3 * OS, OS), 0, "recreate");
    EXPECT(cairn_image_open(c, pool, "life", &img), 0, "open recreated");
    memset(buf, 0xee, OS);
    EXPECT(cairn_image_read(img, OS, OS, buf), 0, "read recreated");
    if (!all_zero(buf, OS))
        fail("the recreated image shows old data");
    cairn_image_close(img);
    EXPECT(cairn_image_remove(c, pool, "life"), 0, "remove recreated");
    free(buf);
}

static void check_rw(struct cairn_image *img)
{
    size_t len = 3 * OS + 1000;
    uint8_t *w = malloc(len), *r = malloc(len);
    struct cairn_image_info info;

    check_name = "thin";
    EXPECT(cairn_image_stat(img, &info), 0, "stat");
    if (info.size != 16 * OS || info.object_size != OS || strcmp(info.name, "rw") != 0)
        fail("stat: size %" PRIu64 " object_size %u name %s", info.size, info.object_size,
             info.name);
    memset(r, 0xee, len);
    EXPECT(cairn_image_read(img, 0, len, r), 0, "read of a new image");
    if (!all_zero(r, len))
        fail("a new image does not read as zeros");
    if (allocated(img, 0) != 0)
        fail("a new image has data objects");

    check_name = "boundaries";
    fill(w, len, 2);
    EXPECT(cairn_image_write(img, OS - 500, len, w), 0, "write across 4 objects");
    EXPECT(cairn_image_read(img, OS - 500, len, r), 0, "read back");
    if (memcmp(w, r, len) != 0)
        fail("data written across object boundaries does not read back");
    /* A short object (only its head written) reads with a zero tail. */
    EXPECT(cairn_image_read(img, 4 * OS, OS, r), 0, "read the short tail object");
    if (memcmp(r, w + 3 * OS + 500, 500) != 0 || !all_zero(r + 500, OS - 500))
        fail("the short object's tail is not zeros");
    EXPECT(cairn_image_write(img, 0, 0, w), 0, "zero-length write");
    free(w);
    free(r);
}

static void check_discard(struct cairn_image *img)
{
    uint8_t *w = malloc(4 * OS), *r = malloc(4 * OS);

    check_name = "discard";
    fill(w, 4 * OS, 3);
    EXPECT(cairn_image_write(img, 8 * OS, 4 * OS, w), 0, "write objects 8..11");
    /* Objects 9 and 10 whole, 8 and 11 in part. */
    EXPECT(cairn_image_discard(img, 8 * OS + 100, 3 * OS), 0, "discard");
    if (allocated(img, 9) != 0 || allocated(img, 10) != 0)
        fail("wholly discarded objects still exist");
    if (allocated(img, 8) != 1 || allocated(img, 11) != 1)
        fail("partly discarded objects are gone");
    EXPECT(cairn_image_read(img, 8 * OS, 4 * OS, r), 0, "read back");
    if (memcmp(r, w, 100) != 0 || !all_zero(r + 100, 3 * OS) ||
        memcmp(r + 3 * OS + 100, w + 3 * OS + 100, OS - 100) != 0)
        fail("discarded range does not read as zeros, or its neighbours changed");
    /* Discarding part of a hole allocates nothing. */
    EXPECT(cairn_image_discard(img, 13 * OS + 10, 100), 0, "discard in a hole");
    if (allocated(img, 13) != 0)
        fail("discard allocated an object");

    check_name = "write_zeroes";
    EXPECT(cairn_image_write_zeroes(img, 13 * OS, OS + 10, false), 0, "zeroes, no unmap");
    if (allocated(img, 13) != 1 || allocated(img, 14) != 1)
        fail("write_zeroes without unmap left holes");
    EXPECT(cairn_image_read(img, 13 * OS, OS + 10, r), 0, "read zeroes");
    if (!all_zero(r, OS + 10))
        fail("write_zeroes without unmap does not read as zeros");
    EXPECT(cairn_image_write(img, 15 * OS, OS, w), 0, "write object 15");
    EXPECT(cairn_image_write_zeroes(img, 13 * OS, 3 * OS, true), 0, "zeroes, may unmap");
    if (allocated(img, 13) != 0 || allocated(img, 14) != 0 || allocated(img, 15) != 0)
        fail("write_zeroes with unmap left objects");
    EXPECT(cairn_image_read(img, 13 * OS, 3 * OS, r), 0, "read unmapped");
    if (!all_zero(r, 3 * OS))
        fail("unmapped range does not read as zeros");
    free(w);
    free(r);
}

static void check_map(struct cairn_image *img)
{
    struct extents e = {0};

    check_name = "map";
    /* Objects 0..4 hold data (check_rw), 5..7 not, 8 and 11 do. */
    EXPECT(cairn_image_map(img, 0, 12 * OS, extent_cb, &e), 0, "map");
    uint64_t want_off[] = {0, 5 * OS, 8 * OS, 9 * OS, 11 * OS};
    uint64_t want_len[] = {5 * OS, 3 * OS, OS, 2 * OS, OS};
    bool want_data[] = {true, false, true, false, true};
    if (e.n != 5) {
        fail("map gave %u extents, want 5", e.n);
        return;
    }
    for (unsigned i = 0; i < 5; i++)
        if (e.off[i] != want_off[i] || e.len[i] != want_len[i] || e.data[i] != want_data[i])
            fail("extent %u: %" PRIu64 "+%" PRIu64 " %s", i, e.off[i], e.len[i],
                 e.data[i] ? "data" : "hole");
    e.n = 0;
    EXPECT(cairn_image_map(img, OS / 2, OS, extent_cb, &e), 0, "map unaligned");
    if (e.n != 1 || e.off[0] != OS / 2 || e.len[0] != OS || !e.data[0])
        fail("unaligned map is not clipped to the range");
}

static void never_cb(int result, void *arg)
{
    (void)arg;
    fail("a callback fired after a synchronous failure (%d)", result);
}

static void check_bounds(struct cairn_image *img)
{
    uint8_t buf[16];

    check_name = "bounds";
    uint64_t size = cairn_image_size(img);
    EXPECT(cairn_image_read(img, size - 8, 16, buf), -EINVAL, "read past the end");
    EXPECT(cairn_image_write(img, size, 1, buf), -EINVAL, "write at the end");
    EXPECT(cairn_image_write(img, UINT64_MAX - 4, 8, buf), -EINVAL, "offset overflow");
    EXPECT(cairn_image_discard(img, size - 1, 2), -EINVAL, "discard past the end");
    EXPECT(cairn_image_write_zeroes(img, size + 1, 0, true), -EINVAL, "zeroes past the end");
    EXPECT(cairn_image_aio_read(img, size, 1, buf, never_cb, NULL), -EINVAL,
           "async read past the end");
    EXPECT(cairn_image_read(img, size - 8, 8, buf), 0, "read the last bytes");
}

static void check_resize(struct cairn *c, int32_t pool, struct cairn_image *img)
{
    uint8_t *w = malloc(2 * OS), *r = malloc(2 * OS);
    struct cairn_image *other;
    struct cairn_image_info info;

    check_name = "resize";
    fill(w, 2 * OS, 4);
    EXPECT(cairn_image_write(img, 2 * OS, 2 * OS, w), 0, "write objects 2..3");
    EXPECT(cairn_image_open(c, pool, "rw", &other), 0, "open a second handle");
    EXPECT(cairn_image_resize(img, 2 * OS + 100), 0, "shrink into object 2");
    if (cairn_image_size(img) != 2 * OS + 100)
        fail("size after shrink: %" PRIu64, cairn_image_size(img));
    if (cairn_image_size(other) != 16 * OS)
        fail("the other handle learnt the size without a refresh");
    EXPECT(cairn_image_stat(other, &info), 0, "stat on the other handle");
    if (info.size != 2 * OS + 100)
        fail("the other handle's stat says %" PRIu64, info.size);
    EXPECT(cairn_image_read(img, 2 * OS + 100, 1, r), -EINVAL, "read past the shrunk end");
    EXPECT(cairn_image_resize(img, 20 * OS), 0, "grow");
    memset(r, 0xee, 2 * OS);
    EXPECT(cairn_image_read(img, 2 * OS, 2 * OS, r), 0, "read after grow");
    if (memcmp(r, w, 100) != 0 || !all_zero(r + 100, 2 * OS - 100))
        fail("data beyond the shrink came back after growing");
    if (allocated(img, 3) != 0)
        fail("object 3 survived the shrink");
    cairn_image_close(other);
    free(w);
    free(r);
}

/* One request of many more pieces than a request keeps in flight. */
static void check_wide(struct cairn *c, int32_t pool)
{
    size_t len = 40 * OS + 123;
    uint8_t *w = malloc(len), *r = malloc(len);
    struct cairn_image *img;
    struct extents e = {0};

    check_name = "wide";
    EXPECT(cairn_image_create(c, pool, "wide", 48 * OS, OS), 0, "create");
    EXPECT(cairn_image_open(c, pool, "wide", &img), 0, "open");
    fill(w, len, 5);
    EXPECT(cairn_image_write(img, 1000, len, w), 0, "write 41 objects at once");
    EXPECT(cairn_image_read(img, 1000, len, r), 0, "read them back");
    if (memcmp(w, r, len) != 0)
        fail("a 41-object write does not read back");
    EXPECT(cairn_image_discard(img, 0, 48 * OS), 0, "discard everything");
    EXPECT(cairn_image_map(img, 0, 48 * OS, extent_cb, &e), 0, "map");
    if (e.n != 1 || e.data[0] || e.len[0] != 48 * OS)
        fail("a whole-image discard left data (%u extents)", e.n);
    cairn_image_close(img);
    EXPECT(cairn_image_remove(c, pool, "wide"), 0, "remove");
    free(w);
    free(r);
}

/* ---- concurrent writers ---- */

#define CW_SECTORS 256u /* 1 MiB: 16 objects */

struct writer {
    const char *conf;
    int32_t pool;
    unsigned who;      /* 1 or 2: in every byte of its sectors */
    bool overlap;      /* every sector, else only sectors of its parity */
    uint64_t seed;
    int err;
};

static void writer_cb(int result, void *arg)
{
    int *slot = arg;

    __atomic_store_n(slot, result < 0 ? result : 1, __ATOMIC_RELEASE);
}

/* Writes its sectors in a shuffled order, 32 at a time in flight. */
static void *writer_main(void *arg)
{
    struct writer *wr = arg;
    struct cairn *c;
    struct cairn_image *img;
    static const unsigned depth = 32;
    uint8_t *bufs = malloc((size_t)depth * SECTOR);
    int done[32];
    unsigned order[CW_SECTORS], n = 0;

    if ((wr->err = cairn_connect(wr->conf, NULL, &c)) < 0)
        return NULL;
    if ((wr->err = cairn_image_open(c, wr->pool, "shared", &img)) < 0) {
        cairn_shutdown(c);
        return NULL;
    }
    for (unsigned s = 0; s < CW_SECTORS; s++)
        if (wr->overlap || s % 2 == wr->who - 1)
            order[n++] = s;
    for (unsigned i = n; i > 1; i--) {
        unsigned j = (unsigned)(mix(wr->seed + i) % i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (unsigned i = 0; i < n && wr->err == 0; i += depth) {
        unsigned k = n - i < depth ? n - i : depth;
        for (unsigned j = 0; j < k; j++) {
            memset(bufs + (size_t)j * SECTOR, (int)(wr->who << 4 | (order[i + j] & 15)), SECTOR);
            done[j] = 0;
            int r = cairn_image_aio_write(img, (uint64_t)order[i + j] * SECTOR, SECTOR,
                                          bufs + (size_t)j * SECTOR, writer_cb, &done[j]);
            if (r < 0)
                done[j] = r;
        }
        /* Flush returns only once the writes before it completed. */
        int r = cairn_image_flush(img);
        for (unsigned j = 0; j < k; j++) {
            int d = __atomic_load_n(&done[j], __ATOMIC_ACQUIRE);
            if (r == 0 && d == 0)
                wr->err = -EPROTO; /* a write still in flight after flush */
            else if (d < 0 && wr->err == 0)
                wr->err = d;
        }
        if (r < 0 && wr->err == 0)
            wr->err = r;
    }
    cairn_image_close(img);
    cairn_shutdown(c);
    free(bufs);
    return NULL;
}

static void check_concurrent(const char *conf, struct cairn *c, int32_t pool, uint64_t seed,
                             bool overlap)
{
    struct writer wr[2];
    pthread_t th[2];
    struct cairn_image *img;
    uint8_t *buf = malloc((size_t)CW_SECTORS * SECTOR);
    unsigned from[3] = {0};

    check_name = overlap ? "concurrent overlapping" : "concurrent disjoint";
    EXPECT(cairn_image_create(c, pool, "shared", (uint64_t)CW_SECTORS * SECTOR, OS), 0,
           "create");
    for (unsigned i = 0; i < 2; i++) {
        wr[i] = (struct writer){
            .conf = conf, .pool = pool, .who = i + 1, .overlap = overlap, .seed = seed * 2 + i};
        pthread_create(&th[i], NULL, writer_main, &wr[i]);
    }
    for (unsigned i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        EXPECT(wr[i].err, 0, "writer");
    }
    EXPECT(cairn_image_open(c, pool, "shared", &img), 0, "open");
    EXPECT(cairn_image_read(img, 0, (size_t)CW_SECTORS * SECTOR, buf), 0, "read all");
    for (unsigned s = 0; s < CW_SECTORS; s++) {
        const uint8_t *p = buf + (size_t)s * SECTOR;
        unsigned who = p[0] >> 4;
        bool ok = (p[0] & 15) == (s & 15) && (who == 1 || who == 2) &&
                  (overlap || who == s % 2 + 1);
        for (unsigned i = 1; i < SECTOR && ok; i++)
            ok = p[i] == p[0];
        if (!ok) {
            fail("sector %u is not one writer's data (first byte %#x)", s, p[0]);
            break;
        }
        from[who]++;
    }
    printf("%s: sectors from writer 1: %u, writer 2: %u\n", check_name, from[1], from[2]);
    cairn_image_close(img);
    EXPECT(cairn_image_remove(c, pool, "shared"), 0, "remove");
    free(buf);
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    struct cairn *c;
    struct cairn_image *img;
    int32_t pool;
    uint64_t seed = (uint64_t)time(NULL);

    if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--seed") == 0)) {
        fprintf(stderr, "usage: img_api CONF POOL [--seed S]\n");
        return 2;
    }
    if (argc == 5)
        seed = strtoull(argv[4], NULL, 10);
    printf("img_api: seed %" PRIu64 "\n", seed);
    EXPECT(cairn_connect(argv[1], NULL, &c), 0, "connect");
    if (failures)
        return 1;
    EXPECT(cairn_pool_lookup(c, argv[2], &pool), 0, "pool lookup");
    if (failures)
        return 1;
    check_lifecycle(c, pool);
    check_name = "open";
    EXPECT(cairn_image_create(c, pool, "rw", 16 * OS, OS), 0, "create rw");
    EXPECT(cairn_image_open(c, pool, "rw", &img), 0, "open rw");
    if (failures == 0) {
        check_rw(img);
        check_discard(img);
        check_map(img);
        check_bounds(img);
        check_resize(c, pool, img);
        cairn_image_close(img);
        check_name = "remove";
        EXPECT(cairn_image_remove(c, pool, "rw"), 0, "remove rw");
    }
    check_wide(c, pool);
    check_concurrent(argv[1], c, pool, seed, false);
    check_concurrent(argv[1], c, pool, seed, true);
    cairn_shutdown(c);
    printf("img_api: %s (%u failures)\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}

/* Block images (client/image.h): the layout of an image in its pool and
 * everything but the I/O path (image_io.c): create, remove, list, open,
 * stat, resize and map.
 *
 * Layout (docs/images.md):
 *   image_directory            omap: name -> id (16 lowercase hex digits)
 *   image_header.<id>          xattrs size (u64 LE), object_size (u32 LE),
 *                              created_ns (u64 LE), name
 *   image_data.<id>.<objno>    bytes [objno * object_size, +object_size),
 *                              objno as 16 hex digits; absent = zeros
 *
 * Order of changes, so that a crash leaves something the same call can
 * finish: create adds the directory entry, then the header (undoing the
 * entry if that fails); remove deletes data, header, then the entry;
 * shrinking removes the data beyond the new end before the header says
 * the new size, so data past a shrink never reappears on a later grow. */
#include "client/internal.h"
#include "common/assert.h"
#include "common/bytes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define DIRECTORY_OID "image_directory"
#define ID_HEX 16u
#define RESIZE_TRIES 8
#define MAP_BATCH 4096u /* objects whose existence one map round learns */

/* ---- names and encodings ---------------------------------------------------- */

static bool name_is_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > CAIRN_IMAGE_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("_.+@=-", ch)))
            return false;
    }
    return true;
}

static bool object_size_is_valid(uint32_t os)
{
    return os >= CAIRN_IMAGE_OBJECT_SIZE_MIN && os <= CAIRN_IMAGE_OBJECT_SIZE_MAX &&
           (os & (os - 1)) == 0;
}

/* 16 lowercase hex digits of @v at @p; returns the end. */
static char *put_hex64(char *p, uint64_t v)
{
    for (int i = 15; i >= 0; i--, v >>= 4)
        p[i] = "0123456789abcdef"[v & 15];
    return p + 16;
}

/* "image_data.%016x.%016x", without snprintf: every request names its
 * objects, and the formatted print was 2 % of cairn-nbd's CPU. */
void cairn__image_data_oid(char *buf, uint64_t id, uint64_t objno)
{
    static const char prefix[] = "image_data.";
    CAIRN_STATIC_ASSERT(sizeof(prefix) - 1 + 16 + 1 + 16 < CAIRN__IMAGE_OID_MAX,
                        "a data object's name fits");
    memcpy(buf, prefix, sizeof(prefix) - 1);
    char *p = put_hex64(buf + sizeof(prefix) - 1, id);
    *p++ = '.';
    p = put_hex64(p, objno);
    *p = '\0';
}

static void header_oid(char *buf, uint64_t id)
{
    snprintf(buf, CAIRN__IMAGE_OID_MAX, "image_header.%016" PRIx64, id);
}

/* Parses a directory value: 16 lowercase hex digits. -EBADMSG otherwise. */
static int id_parse(const char *hex, size_t len, uint64_t *id)
{
    uint64_t v = 0;

    if (len != ID_HEX)
        return -EBADMSG;
    for (size_t i = 0; i < len; i++) {
        char ch = hex[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0)
            return -EBADMSG;
        v = v << 4 | (uint64_t)d;
    }
    *id = v;
    return 0;
}

static uint64_t objects_of(uint64_t size, uint32_t os)
{
    return size / os + (size % os != 0);
}

/* Runs @op on @oid and destroys it; @built is the builders' result. */
static int run(struct cairn *c, int32_t pool, const char *oid, struct cairn_op *op, int built)
{
    int r = !op ? -ENOMEM : built < 0 ? built : cairn_op_exec(c, pool, oid, op);

    cairn_op_destroy(op);
    return r;
}

/* ---- the directory and the header ------------------------------------------- */

/* The id of image @name: -ENOENT when there is none. */
static int directory_get(struct cairn *c, int32_t pool, const char *name, uint64_t *id)
{
    char hex[ID_HEX + 1];
    size_t len = 0;
    struct cairn_op *op = cairn_op_create();
    int r = run(c, pool, DIRECTORY_OID, op,
                op ? cairn_op_omap_get(op, name, strlen(name), hex, sizeof(hex), &len) : 0);

    if (r == -ENODATA || r == -ERANGE)
        r = r == -ERANGE ? -EBADMSG : -ENOENT;
    return r < 0 ? r : id_parse(hex, len, id);
}

/* Sets @name's entry from @expect (NULL: absent) to @value (NULL: removed). */
static int directory_cas(struct cairn *c, int32_t pool, const char *name, const char *expect,
                         const char *value)
{
    struct cairn_op *op = cairn_op_create();

    return run(c, pool, DIRECTORY_OID, op,
               op ? cairn_op_omap_cas(op, name, strlen(name), expect, expect ? ID_HEX : 0, value,
                                      value ? ID_HEX : 0)
                  : 0);
}

struct header {
    uint64_t size;
    uint32_t object_size;
    uint64_t created_ns;
    char name[CAIRN_IMAGE_NAME_MAX + 1];
};

/* Reads and checks header @oid: -ENOENT, -EBADMSG (malformed). */
static int header_read(struct cairn *c, int32_t pool, const char *oid, struct header *h)
{
    uint8_t size[8], os[4], created[8];
    size_t lens[4] = {0};
    struct cairn_op *op = cairn_op_create();
    int r = op ? 0 : -ENOMEM;

    memset(h, 0, sizeof(*h));
    if (r == 0)
        r = cairn_op_getxattr(op, "size", size, sizeof(size), &lens[0]);
    if (r == 0)
        r = cairn_op_getxattr(op, "object_size", os, sizeof(os), &lens[1]);
    if (r == 0)
        r = cairn_op_getxattr(op, "created_ns", created, sizeof(created), &lens[2]);
    if (r == 0)
        r = cairn_op_getxattr(op, "name", h->name, CAIRN_IMAGE_NAME_MAX, &lens[3]);
    r = run(c, pool, oid, op, r);
    if (r == -ENODATA || r == -ERANGE)
        return -EBADMSG;
    if (r < 0)
        return r;
    if (lens[0] != 8 || lens[1] != 4 || lens[2] != 8)
        return -EBADMSG;
    h->size = cairn_get_le(size, 8);
    h->object_size = (uint32_t)cairn_get_le(os, 4);
    h->created_ns = cairn_get_le(created, 8);
    if (h->size > CAIRN_IMAGE_SIZE_MAX || !object_size_is_valid(h->object_size))
        return -EBADMSG;
    return 0;
}

/* The header of a new image, created exclusively in one op. */
static int header_create(struct cairn *c, int32_t pool, uint64_t id, const char *name,
                         uint64_t size, uint32_t os)
{
    char oid[CAIRN__IMAGE_OID_MAX];
    uint8_t size_le[8], os_le[8], created_le[8];
    struct timespec ts;
    struct cairn_op *op = cairn_op_create();
    int r = op ? 0 : -ENOMEM;

    clock_gettime(CLOCK_REALTIME, &ts);
    cairn_put_le64(size_le, size);
    cairn_put_le64(os_le, os);
    cairn_put_le64(created_le, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    header_oid(oid, id);
    if (r == 0)
        r = cairn_op_create_object(op, true);
    if (r == 0)
        r = cairn_op_setxattr(op, "size", size_le, 8);
    if (r == 0)
        r = cairn_op_setxattr(op, "object_size", os_le, 4);
    if (r == 0)
        r = cairn_op_setxattr(op, "created_ns", created_le, 8);
    if (r == 0)
        r = cairn_op_setxattr(op, "name", name, strlen(name));
    return run(c, pool, oid, op, r);
}

/* ---- walks: one op per data object, many in flight --------------------------- */

/* Records the steps for object @objno. */
typedef int (*walk_build_fn)(struct cairn_op *op, uint64_t objno, void *arg);
/* Loop thread: object @objno's op finished with @result; returns what
 * counts (0 to accept, e.g. -ENOENT for a removal). */
typedef int (*walk_done_fn)(uint64_t objno, int result, void *arg);

struct walk;

struct walk_slot {
    struct walk *w;
    uint64_t objno;
    unsigned index;
    char oid[CAIRN__IMAGE_OID_MAX];
};

struct walk {
    walk_build_fn build;
    walk_done_fn done;
    void *arg;
    pthread_mutex_t lock;
    pthread_cond_t cond;  /* a slot came free */
    int err;              /* the first error, under lock */
    unsigned n_free;      /* under lock */
    unsigned free[CAIRN__IMAGE_WINDOW];
    struct walk_slot slots[CAIRN__IMAGE_WINDOW];
};

static void walk_cb(int result, struct cairn_op *op, void *arg)
{
    struct walk_slot *s = arg;
    struct walk *w = s->w;

    result = w->done(s->objno, result, w->arg);
    cairn_op_destroy(op);
    pthread_mutex_lock(&w->lock);
    if (result < 0 && w->err == 0)
        w->err = result;
    w->free[w->n_free++] = s->index;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Starts the op of object @objno in a free slot; 0 or the sync error. */
static int walk_one(struct walk *w, struct cairn *c, int32_t pool, uint64_t id, uint64_t objno)
{
    struct walk_slot *s;
    struct cairn_op *op;
    int r;

    pthread_mutex_lock(&w->lock);
    while (w->n_free == 0)
        pthread_cond_wait(&w->cond, &w->lock);
    r = w->err;
    s = r == 0 ? &w->slots[w->free[--w->n_free]] : NULL;
    pthread_mutex_unlock(&w->lock);
    if (r < 0)
        return r;
    s->objno = objno;
    cairn__image_data_oid(s->oid, id, objno);
    r = (op = cairn_op_create()) ? w->build(op, objno, w->arg) : -ENOMEM;
    if (r == 0 && (r = cairn_op_exec_async(c, pool, s->oid, op, walk_cb, s)) == 0)
        return 0;
    cairn_op_destroy(op);
    pthread_mutex_lock(&w->lock);
    w->free[w->n_free++] = s->index;
    pthread_mutex_unlock(&w->lock);
    return r;
}

/* Runs @build's op on every data object [@first, @end) of image @id, up to
 * CAIRN__IMAGE_WINDOW at a time, and waits for all: 0 or the first error. */
static int walk_objects(struct cairn *c, int32_t pool, uint64_t id, uint64_t first, uint64_t end,
                        walk_build_fn build, walk_done_fn done, void *arg)
{
    struct walk *w = calloc(1, sizeof(*w));
    int r = 0;

    if (!w)
        return -ENOMEM;
    w->build = build;
    w->done = done;
    w->arg = arg;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    for (unsigned i = 0; i < CAIRN__IMAGE_WINDOW; i++) {
        w->slots[i].w = w;
        w->slots[i].index = i;
        w->free[w->n_free++] = i;
    }
    for (uint64_t objno = first; objno < end && r == 0; objno++)
        r = walk_one(w, c, pool, id, objno);
    pthread_mutex_lock(&w->lock);
    while (w->n_free < CAIRN__IMAGE_WINDOW)
        pthread_cond_wait(&w->cond, &w->lock);
    if (r == 0)
        r = w->err;
    pthread_mutex_unlock(&w->lock);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return r;
}

static int absent_is_fine(uint64_t objno, int result, void *arg)
{
    (void)objno, (void)arg;
    return result == -ENOENT ? 0 : result;
}

/* Trimming [@size, old end): objects past the new end go, the one it cuts
 * is truncated if it exists. */
struct trim {
    uint64_t tail_objno; /* the object the new end cuts, or UINT64_MAX */
    uint64_t tail_len;   /* its new length */
};

static int trim_build(struct cairn_op *op, uint64_t objno, void *arg)
{
    const struct trim *t = arg;

    if (objno != t->tail_objno)
        return cairn_op_remove(op);
    int r = cairn_op_assert_exists(op);
    return r < 0 ? r : cairn_op_truncate(op, t->tail_len);
}

/* Removes the data of image @id beyond @size, up to @old_size. */
static int trim_data(struct cairn *c, int32_t pool, uint64_t id, uint32_t os, uint64_t size,
                     uint64_t old_size)
{
    struct trim t = {.tail_objno = size % os ? size / os : UINT64_MAX, .tail_len = size % os};

    return walk_objects(c, pool, id, size / os, objects_of(old_size, os), trim_build,
                        absent_is_fine, &t);
}

/* ---- create, remove, list -------------------------------------------------- */

int cairn_image_create(struct cairn *c, int32_t pool, const char *name, uint64_t size,
                       uint32_t object_size)
{
    char hex[ID_HEX + 1];
    uint64_t id = 0;
    int r;

    if (!object_size)
        object_size = CAIRN_IMAGE_OBJECT_SIZE_DEFAULT;
    if (!c || !name_is_valid(name) || size > CAIRN_IMAGE_SIZE_MAX ||
        !object_size_is_valid(object_size))
        return -EINVAL;
    while (id == 0)
        if (getrandom(&id, sizeof(id), 0) != sizeof(id))
            return -EIO;
    snprintf(hex, sizeof(hex), "%016" PRIx64, id);
    r = directory_cas(c, pool, name, NULL, hex);
    if (r == -ECANCELED)
        return -EEXIST;
    if (r < 0)
        return r;
    if ((r = header_create(c, pool, id, name, size, object_size)) < 0)
        (void)directory_cas(c, pool, name, hex, NULL);
    return r;
}

static int remove_build(struct cairn_op *op, uint64_t objno, void *arg)
{
    (void)objno, (void)arg;
    return cairn_op_remove(op);
}

int cairn_image_remove(struct cairn *c, int32_t pool, const char *name)
{
    char oid[CAIRN__IMAGE_OID_MAX], hex[ID_HEX + 1];
    struct header h;
    uint64_t id;
    int r;

    if (!c || !name_is_valid(name))
        return -EINVAL;
    if ((r = directory_get(c, pool, name, &id)) < 0)
        return r;
    header_oid(oid, id);
    /* No header: an earlier removal got past the data and the header. */
    r = header_read(c, pool, oid, &h);
    if (r < 0 && r != -ENOENT)
        return r;
    if (r == 0 && (r = walk_objects(c, pool, id, 0, objects_of(h.size, h.object_size),
                                    remove_build, absent_is_fine, NULL)) < 0)
        return r;
    if ((r = cairn_remove(c, pool, oid)) < 0 && r != -ENOENT)
        return r;
    snprintf(hex, sizeof(hex), "%016" PRIx64, id);
    r = directory_cas(c, pool, name, hex, NULL);
    return r == -ECANCELED ? 0 : r; /* a concurrent remove got there first */
}

int cairn_image_list(struct cairn *c, int32_t pool, cairn_image_list_fn fn, void *arg)
{
    char after[CAIRN_IMAGE_NAME_MAX + 1] = "", name[CAIRN_IMAGE_NAME_MAX + 1];
    bool more = true;
    int r = 0;

    if (!c || !fn)
        return -EINVAL;
    while (more && r == 0) {
        struct cairn_kv_list *list = NULL;
        struct cairn_op *op = cairn_op_create();
        r = run(c, pool, DIRECTORY_OID, op,
                op ? cairn_op_omap_list(op, after[0] ? after : NULL, strlen(after), 0, &list) : 0);
        if (r == -ENOENT) /* no image was ever created here */
            return 0;
        more = r == 0 && list->more && list->n > 0;
        for (size_t i = 0; r == 0 && list && i < list->n; i++) {
            const struct cairn_kv *kv = &list->kv[i];
            if (kv->key_len > CAIRN_IMAGE_NAME_MAX)
                continue;
            memcpy(name, kv->key, kv->key_len);
            name[kv->key_len] = '\0';
            memcpy(after, name, kv->key_len + 1);
            r = fn(name, arg);
        }
        cairn_kv_list_free(list);
    }
    return r;
}

/* ---- open, stat, resize ----------------------------------------------------- */

int cairn_image_open(struct cairn *c, int32_t pool, const char *name, struct cairn_image **out)
{
    struct cairn_image *img;
    struct header h;
    uint64_t id;
    int r;

    if (!c || !out || !name_is_valid(name))
        return -EINVAL;
    if ((r = directory_get(c, pool, name, &id)) < 0)
        return r;
    if (!(img = calloc(1, sizeof(*img))))
        return -ENOMEM;
    header_oid(img->header_oid, id);
    if ((r = header_read(c, pool, img->header_oid, &h)) < 0) {
        free(img);
        return r;
    }
    img->c = c;
    img->pool = pool;
    img->id = id;
    img->object_size = h.object_size;
    img->size = h.size;
    img->created_ns = h.created_ns;
    snprintf(img->name, sizeof(img->name), "%s", name);
    pthread_mutex_init(&img->lock, NULL);
    pthread_cond_init(&img->cond, NULL);
    TAILQ_INIT(&img->reqs);
    TAILQ_INIT(&img->flushes);
    *out = img;
    return 0;
}

void cairn_image_close(struct cairn_image *img)
{
    if (!img)
        return;
    cairn__image_drain(img);
    pthread_cond_destroy(&img->cond);
    pthread_mutex_destroy(&img->lock);
    free(img);
}

uint64_t cairn_image_size(const struct cairn_image *img)
{
    struct cairn_image *m = (struct cairn_image *)img;
    uint64_t size;

    pthread_mutex_lock(&m->lock);
    size = m->size;
    pthread_mutex_unlock(&m->lock);
    return size;
}

int cairn_image_refresh(struct cairn_image *img)
{
    struct header h;
    int r;

    if (!img)
        return -EINVAL;
    if ((r = header_read(img->c, img->pool, img->header_oid, &h)) < 0)
        return r;
    pthread_mutex_lock(&img->lock);
    img->size = h.size;
    pthread_mutex_unlock(&img->lock);
    return 0;
}

int cairn_image_stat(struct cairn_image *img, struct cairn_image_info *info)
{
    int r = info ? cairn_image_refresh(img) : -EINVAL;

    if (r < 0)
        return r;
    memset(info, 0, sizeof(*info));
    snprintf(info->name, sizeof(info->name), "%s", img->name);
    info->size = cairn_image_size(img);
    info->object_size = img->object_size;
    info->id = img->id;
    info->created_ns = img->created_ns;
    return 0;
}

/* Sets the header's size from @old to @size, atomically: -ECANCELED when
 * another resize got there first. */
static int header_set_size(struct cairn_image *img, uint64_t old, uint64_t size)
{
    uint8_t old_le[8], size_le[8];
    struct cairn_op *op = cairn_op_create();
    int r = op ? 0 : -ENOMEM;

    cairn_put_le64(old_le, old);
    cairn_put_le64(size_le, size);
    if (r == 0)
        r = cairn_op_cmpxattr(op, "size", old_le, 8);
    if (r == 0)
        r = cairn_op_setxattr(op, "size", size_le, 8);
    return run(img->c, img->pool, img->header_oid, op, r);
}

int cairn_image_resize(struct cairn_image *img, uint64_t size)
{
    struct header h;
    int r = -ECANCELED;

    if (!img || size > CAIRN_IMAGE_SIZE_MAX)
        return -EINVAL;
    for (int tries = 0; tries < RESIZE_TRIES && r == -ECANCELED; tries++) {
        if ((r = header_read(img->c, img->pool, img->header_oid, &h)) < 0)
            return r;
        if (size < h.size &&
            (r = trim_data(img->c, img->pool, img->id, img->object_size, size, h.size)) < 0)
            return r;
        r = header_set_size(img, h.size, size);
    }
    if (r < 0)
        return r;
    pthread_mutex_lock(&img->lock);
    img->size = size;
    pthread_mutex_unlock(&img->lock);
    return 0;
}

/* ---- map ------------------------------------------------------------------------ */

struct map_batch {
    uint64_t first;          /* objno of exists[0] */
    bool exists[MAP_BATCH];  /* written on the loop thread, read after the walk */
};

static int exists_build(struct cairn_op *op, uint64_t objno, void *arg)
{
    (void)objno, (void)arg;
    return cairn_op_assert_exists(op);
}

static int exists_done(uint64_t objno, int result, void *arg)
{
    struct map_batch *b = arg;

    b->exists[objno - b->first] = result == 0;
    return result == -ENOENT ? 0 : result;
}

/* An extent being merged: [off, +len), data or a hole; len 0 = none yet. */
struct extent {
    uint64_t off, len;
    bool data;
};

/* Adds [@off, +@len) to @e, calling @fn for the extent it ends. */
static int extent_add(struct extent *e, uint64_t off, uint64_t len, bool data,
                      cairn_image_extent_fn fn, void *arg)
{
    int r = 0;

    if (e->len && e->data == data) {
        e->len += len;
        return 0;
    }
    if (e->len)
        r = fn(e->off, e->len, e->data, arg);
    *e = (struct extent){.off = off, .len = len, .data = data};
    return r;
}

int cairn_image_map(struct cairn_image *img, uint64_t off, uint64_t len,
                    cairn_image_extent_fn fn, void *arg)
{
    struct map_batch *b;
    struct extent e = {0};
    uint64_t size = img ? cairn_image_size(img) : 0, end = off + len, os;
    int r = 0;

    if (!img || !fn || off > size || len > size - off)
        return -EINVAL;
    if (len == 0 || !(b = calloc(1, sizeof(*b))))
        return len == 0 ? 0 : -ENOMEM;
    os = img->object_size;
    for (uint64_t first = off / os; first * os < end && r == 0; first += MAP_BATCH) {
        uint64_t stop = objects_of(end, (uint32_t)os);
        stop = stop - first < MAP_BATCH ? stop : first + MAP_BATCH;
        b->first = first;
        memset(b->exists, 0, sizeof(b->exists));
        r = walk_objects(img->c, img->pool, img->id, first, stop, exists_build, exists_done, b);
        for (uint64_t objno = first; objno < stop && r == 0; objno++) {
            uint64_t from = objno * os > off ? objno * os : off;
            uint64_t to = (objno + 1) * os < end ? (objno + 1) * os : end;
            r = extent_add(&e, from, to - from, b->exists[objno - first], fn, arg);
        }
    }
    if (r == 0 && e.len)
        r = fn(e.off, e.len, e.data, arg);
    free(b);
    return r;
}

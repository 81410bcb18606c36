/* Block images on libcairn objects (DESIGN.md §6): the API the NBD and
 * vhost-user-blk front-ends and `cairn image` use.
 *
 * An image is a header object plus data objects of object_size bytes (a
 * power of two, 64 KiB..64 MiB, 4 MiB by default) in one pool, and an entry
 * in the pool's image directory (an omap). Thin provisioned: a data object
 * that does not exist reads as zeros; discarding or zeroing a whole object
 * removes it. Data objects are named after the image's id, not its name, so
 * an image removed and created again under the same name never sees the old
 * data.
 *
 * Consistency: a write is split at object boundaries into one compound op
 * per object; each such piece is atomic (a reader sees all of it or none of
 * it), like sectors of a disk, and is durable when the call completes (the
 * OSD acknowledges only durable writes). Several clients may open one image
 * and write concurrently, as several hosts on a shared disk would. flush
 * waits for every write of this handle that is still in flight.
 *
 * Size: I/O past the image's size fails with -EINVAL, before anything is
 * sent. resize changes the header atomically; shrinking removes or
 * truncates the data objects beyond the new end. Another handle learns the
 * new size on cairn_image_stat() or cairn_image_refresh().
 *
 * Threads and callbacks: every call is thread-safe; async callbacks run on
 * the connection's loop thread (client/cairn.h) and must not block. Calls
 * return 0 or a negative errno. */
#ifndef CAIRN_CLIENT_IMAGE_H
#define CAIRN_CLIENT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/cairn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAIRN_IMAGE_NAME_MAX 200u                   /* bytes, [A-Za-z0-9_.+@=-], no leading '.' */
#define CAIRN_IMAGE_OBJECT_SIZE_DEFAULT (4u << 20)
#define CAIRN_IMAGE_OBJECT_SIZE_MIN (64u << 10)
#define CAIRN_IMAGE_OBJECT_SIZE_MAX (64u << 20)
#define CAIRN_IMAGE_SIZE_MAX (1ull << 50)         /* 1 PiB */
#define CAIRN_IMAGE_DEFAULT_POOL "images"

struct cairn_image;

/* Creates image @name of @size bytes (0 allowed) with data objects of
 * @object_size bytes (0: the default). -EEXIST, -EINVAL (name, sizes),
 * -ENOENT (pool). */
int cairn_image_create(struct cairn *c, int32_t pool, const char *name, uint64_t size,
                       uint32_t object_size);
/* Removes the image and all its data objects. -ENOENT. Handles still open
 * elsewhere fail their next I/O with -ENOENT. A removal interrupted by a
 * crash can be run again. */
int cairn_image_remove(struct cairn *c, int32_t pool, const char *name);
/* Calls @fn for every image of @pool in name order; @fn returns non-zero to
 * stop (that value is returned). */
typedef int (*cairn_image_list_fn)(const char *name, void *arg);
int cairn_image_list(struct cairn *c, int32_t pool, cairn_image_list_fn fn, void *arg);

/* Opens an image. -ENOENT. Close with cairn_image_close(), which waits for
 * this handle's I/O in flight. */
int cairn_image_open(struct cairn *c, int32_t pool, const char *name, struct cairn_image **out);
void cairn_image_close(struct cairn_image *img);

struct cairn_image_info {
    char name[CAIRN_IMAGE_NAME_MAX + 1];
    uint64_t size;
    uint32_t object_size;
    uint64_t id;          /* names the data objects */
    uint64_t created_ns;  /* wall clock */
};
/* Reads the header again (learning another handle's resize) and fills @info. */
int cairn_image_stat(struct cairn_image *img, struct cairn_image_info *info);
/* The size this handle knows, without a round trip. */
uint64_t cairn_image_size(const struct cairn_image *img);
/* Re-reads the header. */
int cairn_image_refresh(struct cairn_image *img);
int cairn_image_resize(struct cairn_image *img, uint64_t size);

/* Synchronous I/O. @off + @len must be within the size (-EINVAL). */
int cairn_image_read(struct cairn_image *img, uint64_t off, size_t len, void *buf);
int cairn_image_write(struct cairn_image *img, uint64_t off, size_t len, const void *buf);
/* Deallocates: the range reads as zeros afterwards; whole data objects in
 * it are removed, partial ones zeroed. */
int cairn_image_discard(struct cairn_image *img, uint64_t off, uint64_t len);
/* Writes zeros; with @may_unmap, like discard; without, every byte of the
 * range ends up allocated (NBD's NO_HOLE). */
int cairn_image_write_zeroes(struct cairn_image *img, uint64_t off, uint64_t len,
                             bool may_unmap);
int cairn_image_flush(struct cairn_image *img);

/* Asynchronous I/O: @cb fires exactly once, on the loop thread, if the call
 * returns 0. Buffers must stay valid until then. */
typedef void (*cairn_image_cb)(int result, void *arg);
int cairn_image_aio_read(struct cairn_image *img, uint64_t off, size_t len, void *buf,
                         cairn_image_cb cb, void *arg);
int cairn_image_aio_write(struct cairn_image *img, uint64_t off, size_t len, const void *buf,
                          cairn_image_cb cb, void *arg);
int cairn_image_aio_discard(struct cairn_image *img, uint64_t off, uint64_t len,
                            cairn_image_cb cb, void *arg);
int cairn_image_aio_write_zeroes(struct cairn_image *img, uint64_t off, uint64_t len,
                                 bool may_unmap, cairn_image_cb cb, void *arg);
int cairn_image_aio_flush(struct cairn_image *img, cairn_image_cb cb, void *arg);

/* Allocation: calls @fn with the extents covering [@off, @off + @len) in
 * order, each either data (@data true) or a hole, at object granularity (an
 * existing data object is data). @fn returns non-zero to stop. */
typedef int (*cairn_image_extent_fn)(uint64_t off, uint64_t len, bool data, void *arg);
int cairn_image_map(struct cairn_image *img, uint64_t off, uint64_t len,
                    cairn_image_extent_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif

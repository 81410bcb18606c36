/* libcairn: the C API of a Cairn cluster (DESIGN.md §6), the only one that
 * gateways and tools use. This header holds the connection; the admin
 * calls are in client/cairn_admin.h; objects are below; images and the
 * file system join as their issues land.
 *
 * Conventions for every call: 0 on success or a negative errno; out-params
 * are untouched on failure unless documented; handles are opaque. A
 * struct cairn runs one event-loop thread of its own; every public call is
 * thread-safe (it posts work to that thread and, when synchronous, waits
 * for the answer), except cairn_shutdown(). Callbacks, where there are
 * any, run on the loop thread and must not block. */
#ifndef CAIRN_CLIENT_CAIRN_H
#define CAIRN_CLIENT_CAIRN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A connection to a cluster. */
struct cairn;

#define CAIRN_DEFAULT_ENTITY "client.admin"
#define CAIRN_MOUNT_TIMEOUT_MS_DEFAULT 30000u

struct cairn_connect_opts {
    /* The config file; NULL finds it per the operator contract: $CAIRN_CONF,
     * else ./cairn.conf, else /etc/cairn/cairn.conf. */
    const char *conf_path;
    /* Who we are, e.g. "client.admin" (NULL); its key must be in the keyring
     * the config names. */
    const char *entity;
    /* Bound on connecting and on each later call; 0 = config option
     * client_mount_timeout (a duration, e.g. "30s"), default 30 s. */
    uint32_t timeout_ms;
    /* Optional: where a failed connect writes a one-line reason without the
     * trailing newline, such as "cannot reach any monitor (tried
     * a=127.0.0.1:6789, b=127.0.0.1:6790)". */
    char *err;
    size_t err_len;
};

/* Connects: reads the config and the keyring, starts the connection's
 * thread, finds a monitor and fetches the first cluster map, then keeps the
 * map current in the background. On success *@out is the handle; free it
 * with cairn_shutdown(). Errors: -ENOENT (no config file found, or the
 * keyring file is missing), -EINVAL (bad config, mon_host, keyring or
 * entity name; no key for the entity), -ETIMEDOUT (no monitor answered
 * within the timeout), -EACCES (the monitors refused our key), -ENOMEM,
 * -EAGAIN (thread creation). */
int cairn_connect_opts(const struct cairn_connect_opts *opts, struct cairn **out);
/* cairn_connect_opts() with just a config path and an entity (either may be
 * NULL for the default). */
int cairn_connect(const char *conf_path, const char *entity, struct cairn **out);

/* Closes the connection: calls in flight on other threads fail with
 * -ECANCELED, the thread stops and @c is freed. No call on @c may start
 * once this is called, and it must not be called from a callback. */
void cairn_shutdown(struct cairn *c);

struct event_base; /* libevent's */

/* A daemon's work on the connection's own loop thread. cairn_loop_call()
 * runs @fn(@base, @arg) there, @base being the libevent base of that
 * thread, and waits for it to return; what @fn puts on @base (events on
 * the daemon's sockets and eventfds) then runs on the same thread as
 * libcairn's callbacks, so a daemon that serves I/O there (cairn-vhost)
 * completes requests without a hop between threads. The rules, since the
 * loop is libcairn's: events on @base are added, changed and freed only on
 * the loop thread (in @fn or in callbacks); callbacks must not block and
 * must not call the synchronous functions of this API (they would wait for
 * the very thread they run on); everything put on @base must be freed by
 * another cairn_loop_call() before cairn_shutdown(). Any thread but the
 * loop's. Returns @fn's result, or -ECANCELED when the connection is
 * closing (then @fn did not run). */
typedef int (*cairn_loop_fn)(struct event_base *base, void *arg);
int cairn_loop_call(struct cairn *c, cairn_loop_fn fn, void *arg);

/* The entity this connection authenticated as ("client.admin"); valid
 * until cairn_shutdown(). */
const char *cairn_entity(const struct cairn *c);
/* The config file in use; valid until cairn_shutdown(). */
const char *cairn_conf_path(const struct cairn *c);

/* A one-line reason for @err, a -errno a call on @c returned, into @buf:
 * e.g. "cannot reach any monitor (tried a=127.0.0.1:6789)" for -ETIMEDOUT,
 * else strerror's text. Any thread. */
void cairn_error_string(const struct cairn *c, int err, char *buf, size_t len);

/* ---- Pools and objects ------------------------------------------------
 * Objects live in pools; a pool is named by its id (cairn_pool_lookup).
 * The library computes each object's placement from the cluster map, sends
 * its operations to the PG's primary OSD, resends them when the map changes
 * or a connection breaks, and returns only once an operation is durable on
 * the OSDs or has definitely failed (or the call's timeout passed:
 * -ETIMEDOUT). Payloads are checksummed end to end (crc32c): a write
 * corrupted on its way is refused by the OSD (-EBADMSG), and read data that
 * fails its checksum is never handed over (-EIO). */

#define CAIRN_OID_MAX 1024u            /* object names: 1..1024 bytes, no NUL */
#define CAIRN_XATTR_NAME_MAX 250u      /* xattr names: 1..250 bytes */
#define CAIRN_OMAP_KEY_MAX 1024u       /* omap keys: 1..1024 bytes */
#define CAIRN_VALUE_MAX (64u << 10)    /* xattr and omap values */
#define CAIRN_OP_STEPS_MAX 64u         /* steps in one compound op */
#define CAIRN_OP_DATA_MAX (64u << 20)  /* payload bytes of one op, each way */

/* The id of pool @name. -ENOENT when no such pool exists (after fetching the
 * newest map once, so a pool just created is found). */
int cairn_pool_lookup(struct cairn *c, const char *name, int32_t *pool);

/* A compound operation on one object: any mix of the steps below, executed
 * by the OSD atomically against the object as it was when the op started
 * (guards and reads see that state; mutations apply in order; if a step
 * fails, nothing changes). An op with a mutation may not also read data
 * (cairn_op_read: -EINVAL at exec). Builders only record a step: the buffers
 * they are given are borrowed until the op completes, and their out-params
 * are filled when it completes with 0. Builders return 0, -EINVAL (a name,
 * key or value over its limit), -E2BIG (more than CAIRN_OP_STEPS_MAX steps
 * or CAIRN_OP_DATA_MAX bytes) or -ENOMEM; after a builder error the op is
 * still usable without the failed step. */
struct cairn_op;

struct cairn_op *cairn_op_create(void);
/* Not while the op is in flight. */
void cairn_op_destroy(struct cairn_op *op);

/* Reads: the object must exist (-ENOENT). */
int cairn_op_read(struct cairn_op *op, uint64_t off, size_t len, void *buf, size_t *out_len);
struct cairn_stat {
    uint64_t size;
    uint64_t mtime_ns;
    uint64_t version;  /* increases with every change of the object */
};
int cairn_op_stat(struct cairn_op *op, struct cairn_stat *st);
/* The value goes into @buf (up to @cap bytes), *@len gets its full length
 * (the op fails with -ERANGE when it does not fit). -ENODATA when absent. */
int cairn_op_getxattr(struct cairn_op *op, const char *name, void *buf, size_t cap, size_t *len);
int cairn_op_omap_get(struct cairn_op *op, const void *key, size_t key_len, void *buf,
                      size_t cap, size_t *len);

/* A list of key/value pairs a step returns; free with cairn_kv_list_free(). */
struct cairn_kv {
    void *key;
    size_t key_len;
    void *value;
    size_t value_len;
};
struct cairn_kv_list {
    size_t n;
    struct cairn_kv *kv;
    bool more;  /* cairn_op_omap_list: entries remain after the last */
};
void cairn_kv_list_free(struct cairn_kv_list *list);
/* Every xattr, in name order; *@out is set on completion. */
int cairn_op_getxattrs(struct cairn_op *op, struct cairn_kv_list **out);
/* Up to @max omap entries (0: as many as fit in one reply) with keys after
 * @after (NULL: from the first), in byte order. */
int cairn_op_omap_list(struct cairn_op *op, const void *after, size_t after_len, unsigned max,
                       struct cairn_kv_list **out);

/* Guards: the op fails (-ENOENT, -ECANCELED) unless they hold. */
int cairn_op_assert_exists(struct cairn_op *op);
/* The object's version must be @version (0: the object must not exist). */
int cairn_op_assert_version(struct cairn_op *op, uint64_t version);
/* The xattr must equal @value (@value NULL: must be absent). */
int cairn_op_cmpxattr(struct cairn_op *op, const char *name, const void *value, size_t len);

/* Mutations. All but remove and rmxattr create a missing object. */
int cairn_op_write(struct cairn_op *op, uint64_t off, const void *data, size_t len);
int cairn_op_write_full(struct cairn_op *op, const void *data, size_t len);
int cairn_op_truncate(struct cairn_op *op, uint64_t size);
int cairn_op_zero(struct cairn_op *op, uint64_t off, uint64_t len);
/* @exclusive: the op fails with -EEXIST when the object exists. */
int cairn_op_create_object(struct cairn_op *op, bool exclusive);
int cairn_op_remove(struct cairn_op *op);
int cairn_op_setxattr(struct cairn_op *op, const char *name, const void *value, size_t len);
int cairn_op_rmxattr(struct cairn_op *op, const char *name);
int cairn_op_omap_set(struct cairn_op *op, const void *key, size_t key_len, const void *value,
                      size_t value_len);
int cairn_op_omap_rm(struct cairn_op *op, const void *key, size_t key_len);
int cairn_op_omap_clear(struct cairn_op *op);

/* Atomic read-modify-write primitives. */
/* Adds @delta to the xattr @name read as a little-endian int64 (absent: 0);
 * *@result (may be NULL) gets the new value. -EOVERFLOW, or -EINVAL when the
 * xattr is not 8 bytes. */
int cairn_op_counter_add(struct cairn_op *op, const char *name, int64_t delta, int64_t *result);
/* Sets the xattr @name (a little-endian uint64) to @value when it is absent
 * or smaller; *@result (may be NULL) gets the value after the step. */
int cairn_op_set_if_greater(struct cairn_op *op, const char *name, uint64_t value,
                            uint64_t *result);
/* Sets omap @key to @value only if it currently equals @expect (@expect
 * NULL: only if absent); @value NULL removes the key. -ECANCELED otherwise. */
int cairn_op_omap_cas(struct cairn_op *op, const void *key, size_t key_len, const void *expect,
                      size_t expect_len, const void *value, size_t value_len);

/* Runs @op on object @oid of @pool and waits. 0, or the failing step's
 * -errno (cairn_op_failed_step() says which), -ENOENT (no such pool),
 * -EINVAL (bad name, or a write op that reads data), -ETIMEDOUT,
 * -ECANCELED (shutdown), -EBADMSG, -EIO, -ENOSPC, -EROFS. */
int cairn_op_exec(struct cairn *c, int32_t pool, const char *oid, struct cairn_op *op);
/* @result as cairn_op_exec() returns it. Runs on the library's thread: keep
 * it short; it may destroy @op and start other async calls, not sync ones. */
typedef void (*cairn_op_cb)(int result, struct cairn_op *op, void *arg);
/* The same without waiting: @cb fires exactly once if this returns 0. */
int cairn_op_exec_async(struct cairn *c, int32_t pool, const char *oid, struct cairn_op *op,
                        cairn_op_cb cb, void *arg);
/* After completion: the object's version after the op (0: it does not
 * exist), and the index of the step that failed (-1: none). */
uint64_t cairn_op_version(const struct cairn_op *op);
int cairn_op_failed_step(const struct cairn_op *op);

/* One-step conveniences. */
int cairn_write_full(struct cairn *c, int32_t pool, const char *oid, const void *data,
                     size_t len);
int cairn_write(struct cairn *c, int32_t pool, const char *oid, uint64_t off, const void *data,
                size_t len);
int cairn_read(struct cairn *c, int32_t pool, const char *oid, uint64_t off, size_t len,
               void *buf, size_t *out_len);
int cairn_stat(struct cairn *c, int32_t pool, const char *oid, struct cairn_stat *st);
int cairn_remove(struct cairn *c, int32_t pool, const char *oid);

/* Listing: the object names of a pool, PG by PG, each PG's in byte order.
 * Zero a cursor to start; each call lists up to @max names (0: a default
 * page) into @fn and advances the cursor; cursor->done is set once every PG
 * was listed. @fn returns non-zero to stop early (that value is returned;
 * the cursor then stays before the name it was given). Names created or
 * removed during a listing may or may not appear. */
struct cairn_list_cursor {
    uint32_t pg;
    char after[CAIRN_OID_MAX + 1];
    bool done;
};
typedef int (*cairn_list_fn)(const char *name, void *arg);
int cairn_list(struct cairn *c, int32_t pool, struct cairn_list_cursor *cursor, unsigned max,
               cairn_list_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif

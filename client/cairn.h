/* libcairn: the C API of a Cairn cluster (DESIGN.md §6), the only one that
 * gateways and tools use. This header holds the connection; the admin
 * calls are in client/cairn_admin.h; objects, images and the file system
 * join as their issues land.
 *
 * Conventions for every call: 0 on success or a negative errno; out-params
 * are untouched on failure unless documented; handles are opaque. A
 * struct cairn runs one event-loop thread of its own; every public call is
 * thread-safe (it posts work to that thread and, when synchronous, waits
 * for the answer), except cairn_shutdown(). Callbacks, where there are
 * any, run on the loop thread and must not block. */
#ifndef CAIRN_CLIENT_CAIRN_H
#define CAIRN_CLIENT_CAIRN_H

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

/* The entity this connection authenticated as ("client.admin"); valid
 * until cairn_shutdown(). */
const char *cairn_entity(const struct cairn *c);
/* The config file in use; valid until cairn_shutdown(). */
const char *cairn_conf_path(const struct cairn *c);

/* A one-line reason for @err, a -errno a call on @c returned, into @buf:
 * e.g. "cannot reach any monitor (tried a=127.0.0.1:6789)" for -ETIMEDOUT,
 * else strerror's text. Any thread. */
void cairn_error_string(const struct cairn *c, int err, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif

/* Objects through libcairn (client/cairn.h): pool lookup, running a
 * compound op synchronously or asynchronously through the objecter
 * (objecter.c), the one-step conveniences, and the error strings of the
 * object calls. */
#include "client/internal.h"
#include "common/assert.h"
#include "common/log.h"
#include "protocol/frame.h"
#include "protocol/monc.h"
#include "protocol/msg_types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the op as an objecter request ---- */

static int op_encode(struct cairn__req *req, uint64_t epoch, uint32_t pg, uint8_t **meta,
                     size_t *meta_len, const void **data, size_t *data_len, void **owned)
{
    struct cairn_op *op = (struct cairn_op *)req;
    struct cairn *c = req->c;
    bool corrupt =
        op->write_bytes && __atomic_exchange_n(&c->obj.corrupt_next_write, 0, __ATOMIC_ACQ_REL);

    op->wire.client_id = c->obj.client_id;
    op->wire.tid = req->tid;
    op->wire.pool = req->pool;
    return cairn__op_encode(op, epoch, pg, corrupt, meta, meta_len, data, data_len, owned);
}

static int op_reply(struct cairn__req *req, struct proto_frame *f, uint64_t *epoch)
{
    struct cairn_op *op = (struct cairn_op *)req;
    struct cairn *c = req->c;
    struct proto_osd_reply reply;

    int r = proto_osd_reply_decode(f->meta, f->hdr.meta_len, f->hdr.data_len, &reply);
    if (r < 0) {
        snprintf(req->why, sizeof(req->why), "osd.%d sent a malformed reply (%s)", req->osd,
                 strerror(-r));
        return -EIO;
    }
    if (reply.result == -ESTALE) {
        *epoch = reply.epoch;
        proto_osd_reply_release(&reply);
        return -ESTALE;
    }
    if (f->hdr.data_len && __atomic_exchange_n(&c->obj.corrupt_next_read, 0, __ATOMIC_ACQ_REL))
        f->data[f->hdr.data_len / 2] ^= 0x5a;
    r = cairn__op_unpack(op, &reply, f->data, f->hdr.data_len);
    if (r == -EIO)
        snprintf(req->why, sizeof(req->why),
                 "data read from osd.%d failed its checksum (pg %d.%x); nothing was returned",
                 req->osd, req->pool, req->pg);
    else if (r == -EBADMSG && reply.result == 0)
        snprintf(req->why, sizeof(req->why), "osd.%d's reply does not match the op", req->osd);
    else if (r < 0 && reply.message[0])
        snprintf(req->why, sizeof(req->why), "%s", reply.message);
    proto_osd_reply_release(&reply);
    return r;
}

static void op_done(struct cairn__req *req, int result)
{
    struct cairn_op *op = (struct cairn_op *)req;
    cairn_op_cb cb = op->cb;
    void *arg = op->arg;

    __atomic_store_n(&op->busy, 0, __ATOMIC_RELEASE);
    if (!cb) { /* a sync call waits */
        cairn__call_done(req->c, &req->call, result);
        return;
    }
    cairn__set_reason(req->c, result, req->why);
    cb(result, op, arg); /* may destroy @op */
}

static const struct cairn__req_ops op_req_ops = {
    .encode = op_encode, .reply = op_reply, .done = op_done};

static void exec_fn(struct cairn *c, struct cairn__msg *msg)
{
    cairn__req_submit(c, &((struct cairn_op *)msg)->req);
}

/* Checks and readies @op for a run (caller's thread). */
static int op_prepare(struct cairn *c, int32_t pool, const char *oid, struct cairn_op *op,
                      cairn_op_cb cb, void *arg)
{
    int r = cairn__op_check(op, oid);

    if (!c || r < 0)
        return -EINVAL;
    if (pool < 0)
        return -ENOENT;
    if (__atomic_exchange_n(&op->busy, 1, __ATOMIC_ACQ_REL))
        return -EBUSY;
    size_t n = strlen(oid);
    memcpy(op->wire.oid, oid, n + 1);
    op->wire.pool = pool;
    op->version = 0;
    op->failed_step = -1;
    op->cb = cb;
    op->arg = arg;
    memset(&op->req, 0, sizeof(op->req));
    op->req.ops = &op_req_ops;
    op->req.type = PROTO_MSG_OSD_OP;
    op->req.pool = pool;
    op->req.oid = op->wire.oid;
    op->req.oid_len = n;
    op->req.call.msg.fn = exec_fn;
    return 0;
}

int cairn_op_exec(struct cairn *c, int32_t pool, const char *oid, struct cairn_op *op)
{
    int r = op_prepare(c, pool, oid, op, NULL, NULL);

    if (r < 0)
        return r;
    r = cairn__call_run(c, &op->req.call, exec_fn);
    /* A call cancelled before it ran never reached op_done. */
    __atomic_store_n(&op->busy, 0, __ATOMIC_RELEASE);
    cairn__set_reason(c, r, op->req.why);
    return r;
}

int cairn_op_exec_async(struct cairn *c, int32_t pool, const char *oid, struct cairn_op *op,
                        cairn_op_cb cb, void *arg)
{
    if (!cb)
        return -EINVAL;
    int r = op_prepare(c, pool, oid, op, cb, arg);
    if (r < 0)
        return r;
    if ((r = cairn__post_unless_closing(c, &op->req.call.msg)) < 0)
        __atomic_store_n(&op->busy, 0, __ATOMIC_RELEASE);
    return r;
}

/* ---- one-step conveniences ---- */

/* Runs a one-step op built by the caller's builder on a stack-free op. */
static int run1(struct cairn *c, int32_t pool, const char *oid, struct cairn_op *op, int built)
{
    int r = built < 0 ? built : cairn_op_exec(c, pool, oid, op);

    cairn_op_destroy(op);
    return r;
}

int cairn_write_full(struct cairn *c, int32_t pool, const char *oid, const void *data, size_t len)
{
    struct cairn_op *op = cairn_op_create();

    return op ? run1(c, pool, oid, op, cairn_op_write_full(op, data, len)) : -ENOMEM;
}

int cairn_write(struct cairn *c, int32_t pool, const char *oid, uint64_t off, const void *data,
                size_t len)
{
    struct cairn_op *op = cairn_op_create();

    return op ? run1(c, pool, oid, op, cairn_op_write(op, off, data, len)) : -ENOMEM;
}

int cairn_read(struct cairn *c, int32_t pool, const char *oid, uint64_t off, size_t len, void *buf,
               size_t *out_len)
{
    struct cairn_op *op = cairn_op_create();

    return op ? run1(c, pool, oid, op, cairn_op_read(op, off, len, buf, out_len)) : -ENOMEM;
}

int cairn_stat(struct cairn *c, int32_t pool, const char *oid, struct cairn_stat *st)
{
    struct cairn_op *op = cairn_op_create();

    return op ? run1(c, pool, oid, op, cairn_op_stat(op, st)) : -ENOMEM;
}

int cairn_remove(struct cairn *c, int32_t pool, const char *oid)
{
    struct cairn_op *op = cairn_op_create();

    return op ? run1(c, pool, oid, op, cairn_op_remove(op)) : -ENOMEM;
}

/* ---- pools ---- */

struct lookup_call {
    struct cairn__call call;
    struct cairn *c;
    const char *name;
    int32_t id;
};

static int lookup_in(struct lookup_call *lc, const struct proto_map *map)
{
    const struct proto_map_pool *p = map ? proto_map_pool_by_name(map, lc->name) : NULL;

    if (!p)
        return -ENOENT;
    lc->id = p->id;
    return 0;
}

static void lookup_fetched(int result, struct proto_map *map, void *arg)
{
    struct lookup_call *lc = arg;

    /* monc keeps the newer of its map and @map; ask the newest. */
    int r = result < 0 ? result : lookup_in(lc, proto_monc_map(lc->c->monc));
    if (r == -ENOENT && map)
        r = lookup_in(lc, map);
    proto_map_destroy(map);
    cairn__call_done(lc->c, &lc->call, r);
}

static void lookup_fn(struct cairn *c, struct cairn__msg *msg)
{
    struct lookup_call *lc = (struct lookup_call *)msg;

    if (lookup_in(lc, proto_monc_map(c->monc)) == 0) {
        cairn__call_done(c, &lc->call, 0);
        return;
    }
    int r = proto_monc_get_map(c->monc, lookup_fetched, lc);
    if (r < 0)
        cairn__call_done(c, &lc->call, r);
}

int cairn_pool_lookup(struct cairn *c, const char *name, int32_t *pool)
{
    struct lookup_call lc = {.c = c, .name = name};

    if (!c || !name || !pool)
        return -EINVAL;
    int r = cairn__call_run(c, &lc.call, lookup_fn);
    if (r == 0)
        *pool = lc.id;
    if (r == -ENOENT) {
        char why[128];
        snprintf(why, sizeof(why), "pool '%.64s' does not exist", name);
        cairn__set_reason(c, r, why);
    } else {
        cairn__set_reason(c, r, "");
    }
    return r;
}

/* ---- error strings ---- */

/* The reason of the last object call on this thread: a call's detail
 * (which OSD did not answer, the OSD's message) for cairn_error_string(). */
static __thread struct {
    const struct cairn *c;
    int err;
    char text[256];
} reason;

void cairn__set_reason(const struct cairn *c, int err, const char *text)
{
    reason.c = c;
    reason.err = err;
    snprintf(reason.text, sizeof(reason.text), "%s", err < 0 && text ? text : "");
}

static const char *object_error(int err)
{
    switch (err) {
    case -ENOENT:
        return "no such object or pool";
    case -EEXIST:
        return "the object already exists";
    case -ENODATA:
        return "no such xattr or omap key";
    case -ECANCELED:
        return "a compare step did not match";
    case -ERANGE:
        return "the value does not fit the buffer given";
    case -E2BIG:
        return "the op is too large (over 64 steps or 64 MiB of data)";
    case -EOVERFLOW:
        return "the counter would overflow";
    case -EBADMSG:
        return "the OSD refused a payload that failed its checksum in flight";
    case -EIO:
        return "I/O error: data failed its checksum or the OSD's store failed";
    case -ENOSPC:
        return "the cluster is out of space";
    case -EROFS:
        return "the OSD's store is read-only after an error";
    case -EBUSY:
        return "the op is already in flight";
    default:
        return NULL;
    }
}

void cairn_error_string(const struct cairn *c, int err, char *buf, size_t len)
{
    const char *text;
    bool closing;

    if (!buf || !len)
        return;
    if (reason.c == c && reason.err == err && reason.text[0]) {
        snprintf(buf, len, "%s", reason.text);
        return;
    }
    pthread_mutex_lock((pthread_mutex_t *)&c->lock);
    closing = c->closing;
    pthread_mutex_unlock((pthread_mutex_t *)&c->lock);
    /* -ECANCELED is both a guard's mismatch and a shutdown. */
    if (err == -ETIMEDOUT || err == -EACCES || (err == -ECANCELED && closing))
        cairn__mon_error(c, err, buf, len);
    else if ((text = object_error(err)))
        snprintf(buf, len, "%s", text);
    else
        cairn__mon_error(c, err, buf, len);
}

/* Transaction builders and submission. A transaction records operations and
 * copies their arguments (names into a small per-transaction arena, write
 * data into a 4096-aligned buffer laid out so that whole blocks of the write
 * can be submitted to O_DIRECT as they are). osd_store_queue hands it to the
 * commit thread; any thread may build and queue. */
#include "osd/store/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TARENA_CHUNK 1024u

static void *tarena_alloc(struct osd_txn *t, size_t len)
{
    len = CAIRN_ALIGN_UP(len, 8);
    struct osd__tarena *a = t->arena;
    if (a == NULL || a->used + len > a->size) {
        size_t size = CAIRN_MAX((size_t)TARENA_CHUNK, len);
        a = malloc(sizeof(*a) + size);
        if (a == NULL)
            return NULL;
        a->next = t->arena;
        a->used = 0;
        a->size = size;
        t->arena = a;
    }
    void *p = a->mem + a->used;
    a->used += len;
    return p;
}

static void *tarena_dup(struct osd_txn *t, const void *p, size_t len)
{
    uint8_t *c = tarena_alloc(t, len + 1);
    if (c == NULL)
        return NULL;
    if (len > 0)
        memcpy(c, p, len);
    c[len] = 0;
    return c;
}

static bool name_ok(const char *name)
{
    if (name == NULL)
        return false;
    size_t len = strnlen(name, OSD_STORE_NAME_MAX + 1);
    return len > 0 && len <= OSD_STORE_NAME_MAX;
}

struct osd_txn *osd_txn_create(const char *coll)
{
    if (!name_ok(coll))
        return NULL;
    struct osd_txn *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->q.kind = OSD__Q_TXN;
    t->ops = t->inline_ops;
    t->cap = CAIRN_ARRAY_SIZE(t->inline_ops);
    t->removal_only = true;
    t->coll_len = strlen(coll);
    t->coll = tarena_dup(t, coll, t->coll_len);
    if (t->coll == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void osd_txn_destroy(struct osd_txn *t)
{
    if (t == NULL)
        return;
    for (unsigned i = 0; i < t->nops; i++)
        free(t->ops[i].data);
    if (t->ops != t->inline_ops)
        free(t->ops);
    for (struct osd__tarena *a = t->arena, *next; a != NULL; a = next) {
        next = a->next;
        free(a);
    }
    free(t);
}

unsigned osd_txn_op_count(const struct osd_txn *t)
{
    return t->nops;
}

/* Appends an operation on @oid (may be NULL for collection operations). */
static struct osd__op *add_op(struct osd_txn *t, uint8_t type, const char *oid)
{
    if (t->nops == t->cap) {
        unsigned cap = t->cap * 2;
        struct osd__op *ops = malloc(cap * sizeof(*ops));
        if (ops == NULL)
            return NULL;
        memcpy(ops, t->ops, t->nops * sizeof(*ops));
        if (t->ops != t->inline_ops)
            free(t->ops);
        t->ops = ops;
        t->cap = cap;
    }
    struct osd__op *op = &t->ops[t->nops];
    memset(op, 0, sizeof(*op));
    op->type = type;
    if (oid != NULL) {
        op->oid_len = (uint32_t)strlen(oid);
        op->oid = tarena_dup(t, oid, op->oid_len);
        if (op->oid == NULL)
            return NULL;
    }
    bool removal = type == OSD__OP_REMOVE || type == OSD__OP_RMCOLL ||
                   type == OSD__OP_RMXATTR || type == OSD__OP_OMAP_RM ||
                   type == OSD__OP_OMAP_CLEAR;
    t->removal_only = t->removal_only && removal;
    t->nops++;
    return op;
}

/* Copies @len bytes into the op's key (xattr name, omap key) or value. */
static int set_kv(struct osd_txn *t, struct osd__op *op, const void *k, size_t kl,
                  const void *v, size_t vl)
{
    op->key = tarena_dup(t, k, kl);
    op->val = tarena_dup(t, v, vl);
    if (op->key == NULL || op->val == NULL)
        return -ENOMEM;
    op->klen = (uint32_t)kl;
    op->vlen = (uint32_t)vl;
    return 0;
}

int osd_txn_create_collection(struct osd_txn *t)
{
    if (t == NULL)
        return -EINVAL;
    return add_op(t, OSD__OP_MKCOLL, NULL) != NULL ? 0 : -ENOMEM;
}

int osd_txn_remove_collection(struct osd_txn *t)
{
    if (t == NULL)
        return -EINVAL;
    return add_op(t, OSD__OP_RMCOLL, NULL) != NULL ? 0 : -ENOMEM;
}

static int simple_op(struct osd_txn *t, uint8_t type, const char *oid)
{
    if (t == NULL || !name_ok(oid))
        return -EINVAL;
    return add_op(t, type, oid) != NULL ? 0 : -ENOMEM;
}

int osd_txn_touch(struct osd_txn *t, const char *oid)
{
    return simple_op(t, OSD__OP_TOUCH, oid);
}

int osd_txn_create_exclusive(struct osd_txn *t, const char *oid)
{
    return simple_op(t, OSD__OP_CREATE_EXCL, oid);
}

int osd_txn_remove(struct osd_txn *t, const char *oid)
{
    return simple_op(t, OSD__OP_REMOVE, oid);
}

int osd_txn_omap_clear(struct osd_txn *t, const char *oid)
{
    return simple_op(t, OSD__OP_OMAP_CLEAR, oid);
}

static bool range_ok(uint64_t off, uint64_t len)
{
    return off <= OSD_STORE_OBJECT_MAX && len <= OSD_STORE_OBJECT_MAX - off;
}

int osd_txn_write(struct osd_txn *t, const char *oid, uint64_t off, const void *data,
                  size_t len)
{
    if (t == NULL || !name_ok(oid) || !range_ok(off, len) || (data == NULL && len > 0))
        return -EINVAL;
    uint8_t *buf = NULL;
    if (len > 0) {
        size_t head = (size_t)(off % OSD_STORE_BLOCK);
        void *p = NULL;
        if (posix_memalign(&p, OSD_STORE_BLOCK, CAIRN_ALIGN_UP(head + len, OSD_STORE_BLOCK)))
            return -ENOMEM;
        buf = p;
        memcpy(buf + head, data, len);
    }
    struct osd__op *op = add_op(t, OSD__OP_WRITE, oid);
    if (op == NULL) {
        free(buf);
        return -ENOMEM;
    }
    op->off = off;
    op->len = len;
    op->data = buf;
    return 0;
}

int osd_txn_zero(struct osd_txn *t, const char *oid, uint64_t off, uint64_t len)
{
    if (t == NULL || !name_ok(oid) || !range_ok(off, len))
        return -EINVAL;
    struct osd__op *op = add_op(t, OSD__OP_ZERO, oid);
    if (op == NULL)
        return -ENOMEM;
    op->off = off;
    op->len = len;
    return 0;
}

int osd_txn_truncate(struct osd_txn *t, const char *oid, uint64_t size)
{
    if (t == NULL || !name_ok(oid) || size > OSD_STORE_OBJECT_MAX)
        return -EINVAL;
    struct osd__op *op = add_op(t, OSD__OP_TRUNCATE, oid);
    if (op == NULL)
        return -ENOMEM;
    op->off = size;
    return 0;
}

static bool xattr_name_ok(const char *name)
{
    if (name == NULL)
        return false;
    size_t len = strnlen(name, OSD_STORE_XATTR_NAME_MAX + 1);
    return len > 0 && len <= OSD_STORE_XATTR_NAME_MAX;
}

int osd_txn_setxattr(struct osd_txn *t, const char *oid, const char *name, const void *value,
                     size_t len)
{
    if (t == NULL || !name_ok(oid) || !xattr_name_ok(name) || len > OSD_STORE_VALUE_MAX ||
        (value == NULL && len > 0))
        return -EINVAL;
    struct osd__op *op = add_op(t, OSD__OP_SETXATTR, oid);
    return op == NULL ? -ENOMEM : set_kv(t, op, name, strlen(name), value, len);
}

int osd_txn_rmxattr(struct osd_txn *t, const char *oid, const char *name)
{
    if (t == NULL || !name_ok(oid) || !xattr_name_ok(name))
        return -EINVAL;
    struct osd__op *op = add_op(t, OSD__OP_RMXATTR, oid);
    return op == NULL ? -ENOMEM : set_kv(t, op, name, strlen(name), NULL, 0);
}

int osd_txn_omap_set(struct osd_txn *t, const char *oid, const void *key, size_t key_len,
                     const void *value, size_t value_len)
{
    if (t == NULL || !name_ok(oid) || key_len > OSD__OMAP_KEY_MAX ||
        (key == NULL && key_len > 0) || value_len > OSD_STORE_VALUE_MAX ||
        (value == NULL && value_len > 0))
        return -EINVAL;
    struct osd__op *op = add_op(t, OSD__OP_OMAP_SET, oid);
    return op == NULL ? -ENOMEM : set_kv(t, op, key, key_len, value, value_len);
}

int osd_txn_omap_rm(struct osd_txn *t, const char *oid, const void *key, size_t key_len)
{
    if (t == NULL || !name_ok(oid) || key_len > OSD__OMAP_KEY_MAX ||
        (key == NULL && key_len > 0))
        return -EINVAL;
    struct osd__op *op = add_op(t, OSD__OP_OMAP_RM, oid);
    return op == NULL ? -ENOMEM : set_kv(t, op, key, key_len, NULL, 0);
}

/* ---- submission ---- */

static int enqueue(struct osd_store *s, struct osd_txn *t, osd_store_cb cb, void *arg,
                   bool wait)
{
    if (osd__store_is_failed(s))
        return -EROFS;
    t->cb = cb;
    t->arg = arg;
    t->q.next = NULL;
    t->result = 0;
    pthread_mutex_lock(&s->lock);
    while (s->txns_in_flight >= s->opts.max_txns_in_flight) {
        if (!wait) {
            pthread_mutex_unlock(&s->lock);
            return -EAGAIN;
        }
        pthread_cond_wait(&s->cond_space, &s->lock);
    }
    if (s->qtail != NULL)
        s->qtail->next = &t->q;
    else
        s->qhead = &t->q;
    s->qtail = &t->q;
    s->txns_in_flight++;
    osd__wake(s);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int osd_store_queue(struct osd_store *s, struct osd_txn *t, osd_store_cb cb, void *arg)
{
    if (s == NULL || t == NULL)
        return -EINVAL;
    return enqueue(s, t, cb, arg, false);
}

struct apply_wait {
    sem_t done;
    int result;
};

static void apply_cb(int result, void *arg)
{
    struct apply_wait *w = arg;
    w->result = result;
    sem_post(&w->done);
}

int osd_store_apply(struct osd_store *s, struct osd_txn *t)
{
    if (s == NULL || t == NULL) {
        osd_txn_destroy(t);
        return -EINVAL;
    }
    struct apply_wait w = {.result = 0};
    sem_init(&w.done, 0, 0);
    int rc = enqueue(s, t, apply_cb, &w, true);
    if (rc != 0) {
        osd_txn_destroy(t);
    } else {
        while (sem_wait(&w.done) != 0)
            ;
        rc = w.result;
    }
    sem_destroy(&w.done);
    return rc;
}

_Static_assert((int)OSD_TXN_MKCOLL == OSD__OP_MKCOLL && (int)OSD_TXN_OMAP_CLEAR == OSD__OP_OMAP_CLEAR &&
                   (int)OSD_TXN_WRITE == OSD__OP_WRITE && (int)OSD_TXN_SETXATTR == OSD__OP_SETXATTR,
               "the public operation kinds mirror the internal ones");

int osd_txn_foreach(const struct osd_txn *t,
                    int (*fn)(const struct osd_txn_op_view *op, void *arg), void *arg)
{
    for (unsigned i = 0; i < t->nops; i++) {
        const struct osd__op *op = &t->ops[i];
        struct osd_txn_op_view v = {
            .kind = (enum osd_txn_op_kind)op->type,
            .oid = op->type == OSD__OP_MKCOLL || op->type == OSD__OP_RMCOLL ? NULL : op->oid,
            .key = op->key,
            .key_len = op->klen,
            .val = op->val,
            .val_len = op->vlen,
            .off = op->off,
            .len = op->len,
            .data = op->type == OSD__OP_WRITE && op->data
                        ? op->data + (op->off % OSD_STORE_BLOCK) : NULL,
        };
        int r = fn(&v, arg);
        if (r)
            return r;
    }
    return 0;
}

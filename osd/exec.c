/* Running one client op against the store (protocol/osd_op.h semantics,
 * docs/osd.md §3). engine.c decides when an op may run; this file turns its
 * steps into results, a store transaction, or data reads. Loop thread only.
 *
 * Guard and read steps see the object as it was when the op started (the
 * committed state: engine.c starts an op that reads state only when no
 * mutation of the object is in flight). Mutations apply in step order in
 * one transaction; a read-modify-write step (COUNTER_ADD, SET_IF_GREATER,
 * OMAP_CAS, and the existence checks of REMOVE, RMXATTR, CREATE EXCL) sees
 * the earlier mutations of its own op through a small list of pending
 * effects laid over the committed state. Any failing step discards the
 * transaction: nothing changes. User xattrs live in the store under
 * OSD_USER_XATTR_PREFIX; the version under OSD_VERSION_XATTR. */
#include "osd/internal.h"

#include "common/assert.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (64u << 10)
/* Entries of one reply: with the values bounded by PROTO_OSD_REPLY_VALUES_MAX,
 * this keeps the encoded reply under the frame's 1 MiB metadata limit. */
#define REPLY_ENTRIES_MAX 16384u

struct osd_arena_chunk {
    struct osd_arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

/* An earlier mutation of this op, as later steps of it must see it. */
enum pend_kind { P_XATTR, P_OMAP, P_OMAP_CLEAR, P_REMOVE };

struct pend {
    enum pend_kind kind;
    const void *name;     /* user xattr name (unprefixed) or omap key */
    size_t name_len;
    const void *value;    /* NULL: absent (removed) */
    size_t value_len;
    uint8_t num[8];       /* COUNTER_ADD, SET_IF_GREATER: the new value */
};

struct exec {
    struct osd_op *op;
    struct osd_store *store;
    const char *coll, *oid;
    bool exists;                        /* committed state when the op started */
    struct osd_obj_stat st;
    uint64_t version;
    bool cur_exists;                    /* after the mutations so far */
    struct pend pend[PROTO_OSD_STEPS_MAX];
    unsigned n_pend;
    struct osd_txn *txn;
    uint8_t *scratch;                   /* PROTO_OSD_VALUE_MAX bytes */
    uint64_t rdata_len;                 /* read op: bytes of the READ buffer */
    size_t value_bytes;                 /* result keys and values so far */
    uint32_t entries;                   /* result entries so far */
};

/* ---- arena and errors ------------------------------------------------------ */

void *osd__op_alloc(struct osd_op *op, size_t len)
{
    struct osd_arena_chunk *c = op->arena;
    size_t need = CAIRN_ALIGN_UP(len ? len : 1, sizeof(max_align_t));

    if (!c || c->cap - c->used < need) {
        size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
        if (!(c = malloc(sizeof(*c) + cap)))
            return NULL;
        c->next = op->arena;
        c->used = 0;
        c->cap = cap;
        op->arena = c;
    }
    void *p = (uint8_t *)c->data + c->used;
    c->used += need;
    op->arena_used += len;
    return p;
}

void osd__op_free_arena(struct osd_op *op)
{
    while (op->arena) {
        struct osd_arena_chunk *c = op->arena;
        op->arena = c->next;
        free(c);
    }
    op->arena_used = 0;
}

static void vset_error(struct osd_op *op, int err, int32_t step, const char *fmt, va_list ap)
{
    op->reply.result = err;
    op->reply.failed_step = step;
    op->reply.n_results = 0;
    vsnprintf(op->reply.message, sizeof(op->reply.message), fmt, ap);
}

void osd__op_set_error(struct osd_op *op, int err, int32_t step, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vset_error(op, err, step, fmt, ap);
    va_end(ap);
}

/* Fails the current step @i with @err; returns @err. */
__attribute__((format(printf, 4, 5))) static int step_fail(struct exec *x, uint32_t i, int err,
                                                           const char *fmt, ...)
{
    va_list ap;
    char what[200];

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    osd__op_set_error(x->op, err, (int32_t)i, "step %u (%s): %s", i,
                      proto_osd_step_name(x->op->req.steps[i].type), what);
    return err;
}

/* ---- classification ------------------------------------------------------- */

/* Mutations that need no knowledge of the object's state (engine.c may
 * queue them behind in-flight writes of the same object). */
static bool step_is_blind(const struct proto_osd_step *s)
{
    switch (s->type) {
    case PROTO_OSD_WRITE:
    case PROTO_OSD_WRITE_FULL:
    case PROTO_OSD_TRUNCATE:
    case PROTO_OSD_ZERO:
    case PROTO_OSD_SETXATTR:
    case PROTO_OSD_OMAP_SET:
    case PROTO_OSD_OMAP_RM:
    case PROTO_OSD_OMAP_CLEAR:
        return true;
    case PROTO_OSD_CREATE:
        return !(s->flags & PROTO_OSD_F_EXCL);
    default:
        return false;
    }
}

int osd__exec_classify(struct osd_op *op, char *why, size_t why_len)
{
    const struct proto_osd_op *r = &op->req;
    bool has_read = false, blind = true;
    uint64_t read_len = 0;

    op->is_write = false;
    for (uint32_t i = 0; i < r->n_steps; i++) {
        const struct proto_osd_step *s = &r->steps[i];
        op->is_write |= proto_osd_step_is_mutation(s->type);
        blind &= step_is_blind(s);
        if (s->type == PROTO_OSD_READ) {
            has_read = true;
            read_len += s->len;
        }
    }
    op->is_blind = op->is_write && blind;
    if (r->n_steps == 0) {
        snprintf(why, why_len, "an op needs at least one step");
        return -EINVAL;
    }
    if (op->is_write && has_read) {
        snprintf(why, why_len, "a write op cannot read data (READ with a mutation)");
        return -EINVAL;
    }
    if (read_len > OSD_READ_MAX) {
        snprintf(why, why_len, "READ steps ask for %llu bytes, more than %u in one op",
                 (unsigned long long)read_len, OSD_READ_MAX);
        return -EINVAL;
    }
    return 0;
}

int osd__exec_check_payloads(const struct osd_op *op, uint32_t *step)
{
    for (uint32_t i = 0; i < op->req.n_steps; i++) {
        const struct proto_osd_step *s = &op->req.steps[i];
        if (s->type != PROTO_OSD_WRITE && s->type != PROTO_OSD_WRITE_FULL)
            continue;
        /* The decoder checked that the payloads add up to the frame's data. */
        if (cairn_crc32c(0, op->data + s->data_off, s->len) != s->crc) {
            *step = i;
            return -EBADMSG;
        }
    }
    return 0;
}

/* ---- the committed state ----------------------------------------------------- */

static void xattr_name(char out[OSD_STORE_XATTR_NAME_MAX + 1], const void *name, size_t len)
{
    size_t p = sizeof(OSD_USER_XATTR_PREFIX) - 1;

    memcpy(out, OSD_USER_XATTR_PREFIX, p);
    memcpy(out + p, name, len); /* len <= PROTO_OSD_XATTR_NAME_MAX, checked by decode */
    out[p + len] = '\0';
}

/* Loads existence, size, mtime and version. 0 or a store error. */
static int load_state(struct exec *x)
{
    uint8_t v[8];
    size_t len;
    int r = osd_store_stat(x->store, x->coll, x->oid, &x->st);

    x->exists = r == 0;
    x->version = 0;
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    r = osd_store_getxattr(x->store, x->coll, x->oid, OSD_VERSION_XATTR, v, sizeof(v), &len);
    if (r == 0 && len == 8)
        x->version = cairn_get_le64(v);
    return r == -ENODATA || r == -ERANGE ? 0 : r;
}

/* The committed value of user xattr @name into x->scratch. 0, -ENODATA
 * (absent, or the object is), -errno. */
static int committed_xattr(struct exec *x, const void *name, size_t name_len, size_t *len)
{
    char sname[OSD_STORE_XATTR_NAME_MAX + 1];

    if (!x->exists)
        return -ENODATA;
    xattr_name(sname, name, name_len);
    int r = osd_store_getxattr(x->store, x->coll, x->oid, sname, x->scratch, PROTO_OSD_VALUE_MAX,
                               len);
    return r == -ENOENT ? -ENODATA : r;
}

static int committed_omap(struct exec *x, const void *key, size_t key_len, size_t *len)
{
    if (!x->exists)
        return -ENODATA;
    int r = osd_store_omap_get(x->store, x->coll, x->oid, key, key_len, x->scratch,
                               PROTO_OSD_VALUE_MAX, len);
    return r == -ENOENT ? -ENODATA : r;
}

/* The current value (committed state plus this op's earlier mutations) of
 * xattr (@omap false) or omap key @name: 0 and *@val/@len, -ENODATA, -errno. */
static int current_value(struct exec *x, bool omap, const void *name, size_t name_len,
                         const void **val, size_t *len)
{
    for (unsigned i = x->n_pend; i-- > 0;) {
        const struct pend *p = &x->pend[i];
        if (p->kind == P_REMOVE || (omap && p->kind == P_OMAP_CLEAR))
            return -ENODATA;
        if (p->kind != (omap ? P_OMAP : P_XATTR) || p->name_len != name_len ||
            memcmp(p->name, name, name_len) != 0)
            continue;
        if (!p->value)
            return -ENODATA;
        *val = p->value;
        *len = p->value_len;
        return 0;
    }
    int r = omap ? committed_omap(x, name, name_len, len)
                 : committed_xattr(x, name, name_len, len);
    if (r == 0)
        *val = x->scratch;
    return r;
}

static struct pend *pend_add(struct exec *x, enum pend_kind kind, const void *name, size_t len,
                             const void *value, size_t value_len)
{
    struct pend *p = &x->pend[x->n_pend++];

    *p = (struct pend){.kind = kind, .name = name, .name_len = len, .value = value,
                       .value_len = value_len};
    return p;
}

/* Copies @len bytes into the op's arena as result value of @res. */
static int result_value(struct exec *x, struct proto_osd_step_result *res, const void *v,
                        size_t len)
{
    if (x->value_bytes + len > PROTO_OSD_REPLY_VALUES_MAX)
        return -E2BIG;
    void *copy = osd__op_alloc(x->op, len);
    if (!copy)
        return -ENOMEM;
    x->value_bytes += len;
    memcpy(copy, v, len);
    res->has_value = true;
    res->value = copy;
    res->value_len = len;
    return 0;
}

/* ---- guard and read steps (the committed state) ---------------------------- */

/* Collects key/value pairs into a temporary array, then the op's arena. */
struct collect {
    struct exec *x;
    struct proto_osd_kv *kv;
    uint32_t n, cap;
    bool strip_prefix;     /* GETXATTRS: only user xattrs, prefix stripped */
    bool soft_limit;       /* OMAP_LIST: stop (more) instead of failing at the limits */
    bool stopped;
    int err;
};

static int collect_fn(const void *key, size_t key_len, const void *value, size_t value_len,
                      void *arg)
{
    struct collect *c = arg;
    struct exec *x = c->x;
    size_t plen = sizeof(OSD_USER_XATTR_PREFIX) - 1;

    if (c->strip_prefix) {
        if (key_len <= plen || memcmp(key, OSD_USER_XATTR_PREFIX, plen) != 0)
            return 0;
        key = (const uint8_t *)key + plen;
        key_len -= plen;
    }
    if (x->value_bytes + key_len + value_len > PROTO_OSD_REPLY_VALUES_MAX ||
        x->entries >= REPLY_ENTRIES_MAX) {
        c->stopped = true;
        c->err = c->soft_limit ? 0 : -E2BIG;
        return 1;
    }
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 16;
        struct proto_osd_kv *kv = realloc(c->kv, cap * sizeof(*kv));
        if (!kv)
            return c->err = -ENOMEM, 1;
        c->kv = kv;
        c->cap = cap;
    }
    uint8_t *copy = osd__op_alloc(x->op, key_len + value_len);
    if (!copy)
        return c->err = -ENOMEM, 1;
    memcpy(copy, key, key_len);
    memcpy(copy + key_len, value, value_len);
    c->kv[c->n++] = (struct proto_osd_kv){.key = copy, .key_len = key_len,
                                          .value = copy + key_len, .value_len = value_len};
    x->value_bytes += key_len + value_len;
    x->entries++;
    return 0;
}

/* Moves the collected entries into the arena as @res's entries. */
static int collect_finish(struct collect *c, struct proto_osd_step_result *res)
{
    if (c->err == 0 && c->n) {
        res->entries = osd__op_alloc(c->x->op, c->n * sizeof(*c->kv));
        if (res->entries)
            memcpy(res->entries, c->kv, c->n * sizeof(*c->kv));
        else
            c->err = -ENOMEM;
        res->n_entries = res->entries ? c->n : 0;
    }
    free(c->kv);
    return c->err;
}

static int step_getxattrs(struct exec *x, uint32_t i, struct proto_osd_step_result *res)
{
    struct collect c = {.x = x, .strip_prefix = true};
    int r = osd_store_xattrs(x->store, x->coll, x->oid, collect_fn, &c);

    if (r < 0 && r != 1)
        c.err = r;
    r = collect_finish(&c, res);
    return r == 0 ? 0 : step_fail(x, i, r, "%s", r == -E2BIG ? "the xattrs do not fit in one reply"
                                                              : strerror(-r));
}

static int step_omap_list(struct exec *x, uint32_t i, struct proto_osd_step_result *res)
{
    const struct proto_osd_step *s = &x->op->req.steps[i];
    struct collect c = {.x = x, .soft_limit = true};
    bool more = false;
    int r = osd_store_omap_list(x->store, x->coll, x->oid, s->name_len ? s->name : NULL,
                                s->name_len, s->max, collect_fn, &c, &more);

    if (r < 0)
        c.err = r;
    res->more = more || c.stopped;
    r = collect_finish(&c, res);
    return r == 0 ? 0 : step_fail(x, i, r, "%s", strerror(-r));
}

static int step_value_read(struct exec *x, uint32_t i, bool omap,
                           struct proto_osd_step_result *res)
{
    const struct proto_osd_step *s = &x->op->req.steps[i];
    size_t len;
    int r = omap ? committed_omap(x, s->name, s->name_len, &len)
                 : committed_xattr(x, s->name, s->name_len, &len);

    if (r == 0)
        r = result_value(x, res, x->scratch, len);
    if (r == -ENODATA)
        return step_fail(x, i, r, "no such %s", omap ? "key" : "xattr");
    return r == 0 ? 0 : step_fail(x, i, r, "%s", strerror(-r));
}

static int step_cmpxattr(struct exec *x, uint32_t i)
{
    const struct proto_osd_step *s = &x->op->req.steps[i];
    size_t len;
    int r = committed_xattr(x, s->name, s->name_len, &len);

    if (r < 0 && r != -ENODATA)
        return step_fail(x, i, r, "%s", strerror(-r));
    bool absent = r == -ENODATA;
    if (s->flags & PROTO_OSD_F_ABSENT)
        return absent ? 0 : step_fail(x, i, -ECANCELED, "the xattr is present");
    if (absent || len != s->value_len || memcmp(x->scratch, s->value, len) != 0)
        return step_fail(x, i, -ECANCELED, "the xattr %s", absent ? "is absent" : "differs");
    return 0;
}

/* READ of a read op: reserves its place in the data buffer (block aligned,
 * so the store reads straight into it); exec_reads() queues them. */
static int step_read(struct exec *x, uint32_t i)
{
    struct osd_op *op = x->op;
    struct osd_read_slot *slot = &op->reads[op->reads_pending++];

    slot->op = op;
    slot->step = i;
    slot->buf_off = x->rdata_len;
    x->rdata_len += CAIRN_ALIGN_UP(op->req.steps[i].len, OSD_STORE_BLOCK);
    return 0;
}

/* The steps that read the state the op started with. */
static int step_guard_or_read(struct exec *x, uint32_t i, struct proto_osd_step_result *res)
{
    const struct proto_osd_step *s = &x->op->req.steps[i];

    if (!x->exists && s->type != PROTO_OSD_ASSERT_VERSION && s->type != PROTO_OSD_CMPXATTR)
        return step_fail(x, i, -ENOENT, "no such object");
    switch (s->type) {
    case PROTO_OSD_READ:
        return step_read(x, i);
    case PROTO_OSD_STAT:
        res->size = x->st.size;
        res->mtime_ns = x->st.mtime_ns;
        return 0;
    case PROTO_OSD_GETXATTR:
        return step_value_read(x, i, false, res);
    case PROTO_OSD_OMAP_GET:
        return step_value_read(x, i, true, res);
    case PROTO_OSD_GETXATTRS:
        return step_getxattrs(x, i, res);
    case PROTO_OSD_OMAP_LIST:
        return step_omap_list(x, i, res);
    case PROTO_OSD_ASSERT_EXISTS:
        return 0;
    case PROTO_OSD_ASSERT_VERSION:
        if (s->version == 0 ? x->exists : (!x->exists || x->version != s->version))
            return step_fail(x, i, -ECANCELED, "the object's version is %llu",
                             (unsigned long long)(x->exists ? x->version : 0));
        return 0;
    case PROTO_OSD_CMPXATTR:
        return step_cmpxattr(x, i);
    }
    return step_fail(x, i, -EINVAL, "not a read step");
}

/* ---- mutation steps (into the transaction) ---------------------------------- */

/* A builder error is a request the store cannot take (a length past the
 * object size limit): the client's fault. */
static int built(struct exec *x, uint32_t i, int r)
{
    if (r == 0)
        return 0;
    return step_fail(x, i, r == -ENOMEM ? -ENOMEM : -EINVAL, "%s",
                     r == -ENOMEM ? "out of memory" : "offset or length out of range");
}

static int txn_setxattr(struct exec *x, const void *name, size_t len, const void *v, size_t vlen)
{
    char sname[OSD_STORE_XATTR_NAME_MAX + 1];

    xattr_name(sname, name, len);
    return osd_txn_setxattr(x->txn, x->oid, sname, v, vlen);
}

static int step_data(struct exec *x, uint32_t i)
{
    const struct proto_osd_step *s = &x->op->req.steps[i];
    const uint8_t *payload = x->op->data ? x->op->data + s->data_off : NULL;
    int r;

    switch (s->type) {
    case PROTO_OSD_WRITE:
        if (s->off > OSD_STORE_OBJECT_MAX || s->len > OSD_STORE_OBJECT_MAX - s->off)
            return step_fail(x, i, -EFBIG, "past the object size limit");
        return built(x, i, osd_txn_write(x->txn, x->oid, s->off, payload, s->len));
    case PROTO_OSD_WRITE_FULL:
        if (s->len > OSD_STORE_OBJECT_MAX)
            return step_fail(x, i, -EFBIG, "past the object size limit");
        /* Truncating to the new length, not to 0, leaves the blocks the
         * write covers allocated: it then overwrites them (a small write in
         * place through the WAL) instead of freeing and allocating again. */
        r = osd_txn_truncate(x->txn, x->oid, s->len);
        return built(x, i, r ? r : osd_txn_write(x->txn, x->oid, 0, payload, s->len));
    case PROTO_OSD_TRUNCATE:
        if (s->off > OSD_STORE_OBJECT_MAX)
            return step_fail(x, i, -EFBIG, "past the object size limit");
        return built(x, i, osd_txn_truncate(x->txn, x->oid, s->off));
    default: /* ZERO */
        if (s->off > OSD_STORE_OBJECT_MAX || s->len > OSD_STORE_OBJECT_MAX - s->off)
            return step_fail(x, i, -EFBIG, "past the object size limit");
        return built(x, i, osd_txn_zero(x->txn, x->oid, s->off, s->len));
    }
}

static int step_create(struct exec *x, uint32_t i)
{
    const struct proto_osd_step *s = &x->op->req.steps[i];

    if (!(s->flags & PROTO_OSD_F_EXCL))
        return built(x, i, osd_txn_touch(x->txn, x->oid));
    if (x->cur_exists)
        return step_fail(x, i, -EEXIST, "the object exists");
    return built(x, i, osd_txn_create_exclusive(x->txn, x->oid));
}

static int step_remove(struct exec *x, uint32_t i)
{
    if (!x->cur_exists)
        return step_fail(x, i, -ENOENT, "no such object");
    pend_add(x, P_REMOVE, NULL, 0, NULL, 0);
    x->cur_exists = false;
    return built(x, i, osd_txn_remove(x->txn, x->oid));
}

static int step_xattr(struct exec *x, uint32_t i)
{
    const struct proto_osd_step *s = &x->op->req.steps[i];
    char sname[OSD_STORE_XATTR_NAME_MAX + 1];
    const void *v;
    size_t len;

    if (s->type == PROTO_OSD_SETXATTR) {
        pend_add(x, P_XATTR, s->name, s->name_len, s->value ? s->value : "", s->value_len);
        return built(x, i, txn_setxattr(x, s->name, s->name_len, s->value, s->value_len));
    }
    if (!x->cur_exists)
        return step_fail(x, i, -ENOENT, "no such object");
    int r = current_value(x, false, s->name, s->name_len, &v, &len);
    if (r < 0)
        return step_fail(x, i, r, "%s", r == -ENODATA ? "no such xattr" : strerror(-r));
    pend_add(x, P_XATTR, s->name, s->name_len, NULL, 0);
    xattr_name(sname, s->name, s->name_len);
    return built(x, i, osd_txn_rmxattr(x->txn, x->oid, sname));
}

static int step_omap(struct exec *x, uint32_t i)
{
    const struct proto_osd_step *s = &x->op->req.steps[i];
    /* The store's omap removals need the object; ours create it. */
    int r = s->type == PROTO_OSD_OMAP_SET ? 0 : osd_txn_touch(x->txn, x->oid);

    if (r)
        return built(x, i, r);
    switch (s->type) {
    case PROTO_OSD_OMAP_SET:
        pend_add(x, P_OMAP, s->name, s->name_len, s->value ? s->value : "", s->value_len);
        return built(x, i, osd_txn_omap_set(x->txn, x->oid, s->name, s->name_len, s->value,
                                            s->value_len));
    case PROTO_OSD_OMAP_RM:
        pend_add(x, P_OMAP, s->name, s->name_len, NULL, 0);
        return built(x, i, osd_txn_omap_rm(x->txn, x->oid, s->name, s->name_len));
    default: /* OMAP_CLEAR */
        pend_add(x, P_OMAP_CLEAR, NULL, 0, NULL, 0);
        return built(x, i, osd_txn_omap_clear(x->txn, x->oid));
    }
}

/* COUNTER_ADD and SET_IF_GREATER: the xattr as an 8-byte little-endian number. */
static int step_number(struct exec *x, uint32_t i, struct proto_osd_step_result *res)
{
    const struct proto_osd_step *s = &x->op->req.steps[i];
    const void *v;
    size_t len;
    uint64_t cur = 0, next;
    int r = current_value(x, false, s->name, s->name_len, &v, &len);

    if (r < 0 && r != -ENODATA)
        return step_fail(x, i, r, "%s", strerror(-r));
    if (r == 0 && len != 8)
        return step_fail(x, i, -EINVAL, "the xattr holds %zu bytes, not an 8-byte number", len);
    if (r == 0)
        cur = cairn_get_le64(v);
    if (s->type == PROTO_OSD_COUNTER_ADD) {
        int64_t sum;
        if (__builtin_add_overflow((int64_t)cur, s->delta, &sum))
            return step_fail(x, i, -EOVERFLOW, "%lld + %lld overflows", (long long)(int64_t)cur,
                             (long long)s->delta);
        next = (uint64_t)sum;
    } else {
        next = r == -ENODATA || cur < s->version ? s->version : cur;
    }
    res->num = (int64_t)next;
    struct pend *p = pend_add(x, P_XATTR, s->name, s->name_len, NULL, 8);
    cairn_put_le64(p->num, next);
    p->value = p->num;
    return built(x, i, txn_setxattr(x, s->name, s->name_len, p->num, 8));
}

static int step_omap_cas(struct exec *x, uint32_t i, struct proto_osd_step_result *res)
{
    const struct proto_osd_step *s = &x->op->req.steps[i];
    const void *v;
    size_t len;
    int r = current_value(x, true, s->name, s->name_len, &v, &len);

    if (r < 0 && r != -ENODATA)
        return step_fail(x, i, r, "%s", strerror(-r));
    bool absent = r == -ENODATA;
    if ((s->flags & PROTO_OSD_F_ABSENT) ? !absent
                                        : absent || len != s->value_len ||
                                              memcmp(v, s->value, len) != 0)
        return step_fail(x, i, -ECANCELED, "the key %s", absent ? "is absent" : "differs");
    if (!absent && (r = result_value(x, res, v, len)) < 0)
        return step_fail(x, i, r, "%s", strerror(-r));
    if ((r = osd_txn_touch(x->txn, x->oid)) < 0)
        return built(x, i, r);
    if (s->flags & PROTO_OSD_F_DELETE) {
        pend_add(x, P_OMAP, s->name, s->name_len, NULL, 0);
        return built(x, i, osd_txn_omap_rm(x->txn, x->oid, s->name, s->name_len));
    }
    pend_add(x, P_OMAP, s->name, s->name_len, s->value2 ? s->value2 : "", s->value2_len);
    return built(x, i, osd_txn_omap_set(x->txn, x->oid, s->name, s->name_len, s->value2,
                                        s->value2_len));
}

static int step_mutation(struct exec *x, uint32_t i, struct proto_osd_step_result *res)
{
    int r;

    switch (x->op->req.steps[i].type) {
    case PROTO_OSD_WRITE:
    case PROTO_OSD_WRITE_FULL:
    case PROTO_OSD_TRUNCATE:
    case PROTO_OSD_ZERO:
        r = step_data(x, i);
        break;
    case PROTO_OSD_CREATE:
        r = step_create(x, i);
        break;
    case PROTO_OSD_REMOVE:
        return step_remove(x, i); /* the one mutation after which it does not exist */
    case PROTO_OSD_SETXATTR:
    case PROTO_OSD_RMXATTR:
        r = step_xattr(x, i);
        break;
    case PROTO_OSD_OMAP_SET:
    case PROTO_OSD_OMAP_RM:
    case PROTO_OSD_OMAP_CLEAR:
        r = step_omap(x, i);
        break;
    case PROTO_OSD_COUNTER_ADD:
    case PROTO_OSD_SET_IF_GREATER:
        r = step_number(x, i, res);
        break;
    default: /* OMAP_CAS */
        r = step_omap_cas(x, i, res);
        break;
    }
    if (r == 0)
        x->cur_exists = true;
    return r;
}

/* ---- completions (loop thread, through the loopq) --------------------------- */

static void txn_done(struct osd_loopq_item *item)
{
    struct osd_op *op = (struct osd_op *)((char *)item - offsetof(struct osd_op, done));
    struct osd_pg *pg = op->pg;
    int r = op->store_result;

    op->store_done = true;
    osd__pg_txn_done(pg);

    if (op->created_coll && pg->coll_state == OSD_COLL_CREATING)
        pg->coll_state = r == 0 ? OSD_COLL_EXISTS : OSD_COLL_NONE;
    if (r < 0) {
        cairn_log(r == -ENOENT || r == -EEXIST ? CAIRN_LOG_DEBUG : CAIRN_LOG_WARN, CAIRN_SS_OSD,
                  "%s pg %s e%llu: transaction on %s failed: %s", osd__engine_entity(op->e),
                  pg->coll, (unsigned long long)osd__engine_epoch(op->e), op->req.oid,
                  strerror(-r));
        osd__op_set_error(op, r, -1, "store: %s", strerror(-r));
        op->reply.version = 0;
        if (pg->log_loaded)
            osd__pg_log_diverged(op->e, pg);
    }
    if (op->acks_left == 0)
        osd__engine_op_finished(op);
}

/* Commit thread: hand over to the loop. */
static void txn_cb(int result, void *arg)
{
    struct osd_op *op = arg;

    op->store_result = result;
    op->done.fn = txn_done;
    osd__loopq_post(osd__engine_loopq(op->e), &op->done);
}

/* All reads of @op completed: the first failing READ (in step order) fails
 * the op; otherwise the results are packed end to end with their crc32c. */
static void reads_finish(struct osd_op *op)
{
    uint64_t at = 0;

    for (unsigned k = 0; k < op->reads_pending; k++) {
        const struct osd_read_slot *s = &op->reads[k];
        if (s->result < 0) {
            osd__op_set_error(op, s->result, (int32_t)s->step, "step %u (read): %s", s->step,
                              strerror(-s->result));
            return;
        }
    }
    for (unsigned k = 0; k < op->reads_pending; k++) {
        const struct osd_read_slot *s = &op->reads[k];
        struct proto_osd_step_result *res = &op->results[s->step];
        if (at != s->buf_off)
            memmove(op->rdata + at, op->rdata + s->buf_off, s->out_len);
        res->len = s->out_len;
        res->crc = cairn_crc32c(0, op->rdata + at, s->out_len);
        at += s->out_len;
    }
    op->rdata_len = at;
}

static void read_done(struct osd_loopq_item *item)
{
    struct osd_read_slot *s = (struct osd_read_slot *)item;
    struct osd_op *op = s->op;

    if (--op->reads_left > 0)
        return;
    reads_finish(op);
    osd__engine_op_finished(op);
}

static void read_cb(int result, size_t out_len, void *arg)
{
    struct osd_read_slot *s = arg;

    s->result = result;
    s->out_len = out_len;
    s->item.fn = read_done;
    osd__loopq_post(osd__engine_loopq(s->op->e), &s->item);
}

/* ---- running an op --------------------------------------------------------- */

static enum osd_exec_state fail_done(struct exec *x)
{
    if (x->txn)
        osd_txn_destroy(x->txn);
    x->op->rdata_len = 0;
    x->op->reads_pending = 0;
    return OSD_EXEC_DONE;
}

/* Queues the data reads of a read op (all at once: they see one state). */
static enum osd_exec_state exec_reads(struct exec *x)
{
    struct osd_op *op = x->op;
    void *buf = NULL;
    unsigned queued = 0;
    int r = 0;

    if (posix_memalign(&buf, OSD_STORE_BLOCK, x->rdata_len ? x->rdata_len : 1)) {
        osd__op_set_error(op, -ENOMEM, -1, "out of memory for %llu bytes of reads",
                          (unsigned long long)x->rdata_len);
        return fail_done(x);
    }
    op->rdata = buf;
    for (unsigned k = 0; k < op->reads_pending; k++) {
        struct osd_read_slot *s = &op->reads[k];
        const struct proto_osd_step *st = &op->req.steps[s->step];
        /* The pool of async reads is as deep as the store's queue: a full
         * one means overload. The reads already queued must still finish. */
        s->out_len = 0;
        s->result = r; /* before the call: the completion may come at once */
        if (r == 0 && (r = osd_store_read_async(x->store, x->coll, x->oid, st->off, st->len,
                                                op->rdata + s->buf_off, read_cb, s)) < 0)
            s->result = r;
        queued += r == 0;
    }
    /* Completions run on this thread, after we return. */
    op->reads_left = queued;
    if (queued)
        return OSD_EXEC_READS;
    reads_finish(op);
    return fail_done(x);
}

static int run_steps(struct exec *x)
{
    struct osd_op *op = x->op;

    for (uint32_t i = 0; i < op->req.n_steps; i++) {
        struct proto_osd_step_result *res = &op->results[i];
        memset(res, 0, sizeof(*res));
        int r = proto_osd_step_is_mutation(op->req.steps[i].type) ? step_mutation(x, i, res)
                                                                  : step_guard_or_read(x, i, res);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Adds the op's log entry to its transaction and prepares its REPOP: on a
 * PG whose log is loaded (replication is on), every write op is logged. */
static int log_and_prepare_repop(struct exec *x, uint64_t version)
{
    struct osd_op *op = x->op;
    struct osd_pg *pg = op->pg;
    uint8_t *meta = NULL;
    size_t meta_len = 0;
    uint64_t prev = pg->log.info.last_update;

    op->reply.epoch = osd__engine_epoch(op->e);
    int r = proto_osd_reply_encode(&op->reply, &meta, &meta_len);
    if (r < 0)
        return r;
    struct proto_pg_log_entry ent = {
        .version = version,
        .op = x->cur_exists ? PROTO_PG_LOG_MODIFY : PROTO_PG_LOG_DELETE,
        .oid = {(const uint8_t *)x->oid, strlen(x->oid)},
        .client_id = op->req.client_id,
        .tid = op->req.tid,
        .reply = {meta, meta_len > PROTO_PEER_REPLY_MAX ? 0 : meta_len},
    };
    if (pg->n_acting > 1)
        r = osd__repop_encode(op, x->txn, &ent, prev, pg->log.info.act_epoch);
    if (r == 0)
        r = osd__pglog_append(pg, x->txn, &ent, false);
    op->repop_version = version;
    free(meta);
    return r;
}

/* Sets the new version and queues the transaction of a write op. */
static enum osd_exec_state exec_commit(struct exec *x)
{
    struct osd_op *op = x->op;
    struct osd_pg *pg = op->pg;
    uint64_t version = osd__pg_next_version(pg, osd__engine_epoch(op->e));
    uint8_t v[8];
    int r = 0;

    op->reply.version = x->cur_exists ? version : 0; /* 0: removed by the op */
    if (x->cur_exists) {
        cairn_put_le64(v, version);
        r = osd_txn_setxattr(x->txn, x->oid, OSD_VERSION_XATTR, v, sizeof(v));
    }
    if (r == 0 && pg->log_loaded)
        r = log_and_prepare_repop(x, version);
    if (r == 0)
        r = osd_store_queue(x->store, x->txn, txn_cb, op);
    if (r < 0) {
        /* Nothing was sent, but the log in memory may hold the entry. */
        if (pg->log_loaded)
            osd__pg_log_diverged(op->e, pg);
        osd__op_set_error(op, r, -1, "store: %s", strerror(-r));
        return fail_done(x);
    }
    x->txn = NULL; /* the store's now */
    pg->txns++;
    if (pg->coll_state == OSD_COLL_NONE) {
        pg->coll_state = OSD_COLL_CREATING;
        op->created_coll = true;
    }
    op->store_done = false;
    op->repl_failed = false;
    op->acks_left = 0;
    if (op->repop_meta) {
        const struct osd_engine_hooks *h = osd__engine_get_hooks(op->e);
        op->acks_left = h->replicate ? h->replicate(osd__engine_get_hooks_arg(op->e), op) : 0;
    }
    return OSD_EXEC_TXN;
}

enum osd_exec_state osd__exec_start(struct osd_op *op)
{
    struct exec x = {.op = op,
                     .store = osd__engine_store(op->e),
                     .coll = op->pg->coll,
                     .oid = op->req.oid,
                     .scratch = osd__engine_scratch(op->e)};
    int r;

    proto_osd_reply_init(&op->reply);
    op->reply.results = op->results;
    op->reply.n_results = op->req.n_steps;
    op->reads_pending = 0;
    if (!op->is_blind && (r = load_state(&x)) < 0) {
        osd__op_set_error(op, r, -1, "store: %s", strerror(-r));
        return fail_done(&x);
    }
    x.cur_exists = x.exists;
    op->reply.version = x.exists ? x.version : 0; /* what a failure reports */
    if (op->is_write) {
        if (!(x.txn = osd_txn_create(x.coll)) ||
            (op->pg->coll_state == OSD_COLL_NONE && osd_txn_create_collection(x.txn) < 0)) {
            osd__op_set_error(op, -ENOMEM, -1, "out of memory");
            return fail_done(&x);
        }
    }
    if (run_steps(&x) < 0)
        return fail_done(&x);
    if (op->is_write)
        return exec_commit(&x);
    return op->reads_pending ? exec_reads(&x) : OSD_EXEC_DONE;
}

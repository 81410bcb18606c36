/* The compound op (client/cairn.h): builders that record steps with their
 * limits, the encoding of one attempt for the objecter, and the unpacking
 * of the OSD's reply into the caller's out-params, checksums verified
 * first. Pure: no I/O, no thread of its own; exec lives in object.c and
 * the sending in objecter.c. */
#include "client/internal.h"
#include "common/assert.h"
#include "common/crc32c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

CAIRN_STATIC_ASSERT(CAIRN_OID_MAX == PROTO_OSD_OID_MAX, "client and wire limits agree");
CAIRN_STATIC_ASSERT(CAIRN_XATTR_NAME_MAX == PROTO_OSD_XATTR_NAME_MAX,
                    "client and wire limits agree");
CAIRN_STATIC_ASSERT(CAIRN_OMAP_KEY_MAX == PROTO_OSD_OMAP_KEY_MAX, "client and wire limits agree");
CAIRN_STATIC_ASSERT(CAIRN_VALUE_MAX == PROTO_OSD_VALUE_MAX, "client and wire limits agree");
CAIRN_STATIC_ASSERT(CAIRN_OP_STEPS_MAX == PROTO_OSD_STEPS_MAX, "client and wire limits agree");
CAIRN_STATIC_ASSERT(CAIRN_OP_DATA_MAX <= PROTO_OSD_READ_MAX, "client and wire limits agree");

struct cairn_op *cairn_op_create(void)
{
    struct cairn_op *op = calloc(1, sizeof(*op));

    if (!op)
        return NULL;
    proto_osd_op_init(&op->wire);
    op->failed_step = -1;
    return op;
}

void cairn_op_destroy(struct cairn_op *op)
{
    if (!op)
        return;
    CAIRN_ASSERT(!__atomic_load_n(&op->busy, __ATOMIC_ACQUIRE));
    free(op);
}

uint64_t cairn_op_version(const struct cairn_op *op)
{
    return op->version;
}

int cairn_op_failed_step(const struct cairn_op *op)
{
    return op->failed_step;
}

void cairn_kv_list_free(struct cairn_kv_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        free(list->kv[i].key);
        free(list->kv[i].value);
    }
    free(list->kv);
    free(list);
}

/* ---- builders ---- */

/* A new step of @type, or NULL when the op is full (-E2BIG). The caller
 * fills it and commits it with step_commit(), or drops it by not doing so. */
static struct proto_osd_step *step_new(struct cairn_op *op, uint32_t type,
                                       struct cairn__step_out **out)
{
    if (op->wire.n_steps >= CAIRN_OP_STEPS_MAX)
        return NULL;
    struct proto_osd_step *s = &op->wire.steps[op->wire.n_steps];
    memset(s, 0, sizeof(*s));
    s->type = type;
    *out = &op->out[op->wire.n_steps];
    memset(*out, 0, sizeof(**out));
    return s;
}

static int step_commit(struct cairn_op *op)
{
    const struct proto_osd_step *s = &op->wire.steps[op->wire.n_steps];

    if (proto_osd_step_is_mutation(s->type))
        op->has_mutation = true;
    if (s->type == PROTO_OSD_READ) {
        op->has_read = true;
        op->read_bytes += s->len;
    }
    if (s->type == PROTO_OSD_WRITE || s->type == PROTO_OSD_WRITE_FULL)
        op->write_bytes += s->len;
    op->wire.n_steps++;
    return 0;
}

static bool xattr_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    return n >= 1 && n <= CAIRN_XATTR_NAME_MAX;
}

static bool key_ok(const void *key, size_t len)
{
    return key && len >= 1 && len <= CAIRN_OMAP_KEY_MAX;
}

static bool value_ok(const void *value, size_t len)
{
    return (value || len == 0) && len <= CAIRN_VALUE_MAX;
}

/* A step that names an xattr, with an optional value. */
static int xattr_step(struct cairn_op *op, uint32_t type, const char *name, const void *value,
                      size_t len, struct cairn__step_out **out)
{
    struct cairn__step_out *o;

    if (!op || !xattr_name_ok(name) || !value_ok(value, len))
        return -EINVAL;
    struct proto_osd_step *s = step_new(op, type, &o);
    if (!s)
        return -E2BIG;
    s->name = name;
    s->name_len = strlen(name);
    s->value = value;
    s->value_len = len;
    if (out)
        *out = o;
    return 0;
}

/* A step that names an omap key, with an optional value. */
static int key_step(struct cairn_op *op, uint32_t type, const void *key, size_t key_len,
                    const void *value, size_t len, struct cairn__step_out **out)
{
    struct cairn__step_out *o;

    if (!op || !key_ok(key, key_len) || !value_ok(value, len))
        return -EINVAL;
    struct proto_osd_step *s = step_new(op, type, &o);
    if (!s)
        return -E2BIG;
    s->name = key;
    s->name_len = key_len;
    s->value = value;
    s->value_len = len;
    if (out)
        *out = o;
    return 0;
}

/* A step with no name or value. */
static int plain_step(struct cairn_op *op, uint32_t type, struct proto_osd_step **step,
                      struct cairn__step_out **out)
{
    struct cairn__step_out *o;

    if (!op)
        return -EINVAL;
    struct proto_osd_step *s = step_new(op, type, &o);
    if (!s)
        return -E2BIG;
    if (step)
        *step = s;
    if (out)
        *out = o;
    return 0;
}

/* READ, WRITE and WRITE_FULL: a range and the bytes it moves, within the
 * op's budget of CAIRN_OP_DATA_MAX bytes each way. */
static int data_step(struct cairn_op *op, uint32_t type, uint64_t off, size_t len, bool has_buf,
                     uint64_t used, struct cairn__step_out **out)
{
    struct proto_osd_step *s;

    if (!op || (!has_buf && len) || len > UINT64_MAX - off)
        return -EINVAL;
    if (len > CAIRN_OP_DATA_MAX - used)
        return -E2BIG;
    int r = plain_step(op, type, &s, out);
    if (r < 0)
        return r;
    s->off = off;
    s->len = len;
    return 0;
}

int cairn_op_read(struct cairn_op *op, uint64_t off, size_t len, void *buf, size_t *out_len)
{
    struct cairn__step_out *o;
    int r = data_step(op, PROTO_OSD_READ, off, len, buf != NULL, op ? op->read_bytes : 0, &o);

    if (r < 0)
        return r;
    o->buf = buf;
    o->cap = len;
    o->len = out_len;
    return step_commit(op);
}

int cairn_op_stat(struct cairn_op *op, struct cairn_stat *st)
{
    struct cairn__step_out *o;
    int r = plain_step(op, PROTO_OSD_STAT, NULL, &o);

    if (r < 0)
        return r;
    o->st = st;
    return step_commit(op);
}

int cairn_op_getxattr(struct cairn_op *op, const char *name, void *buf, size_t cap, size_t *len)
{
    struct cairn__step_out *o;

    if (!buf && cap)
        return -EINVAL;
    int r = xattr_step(op, PROTO_OSD_GETXATTR, name, NULL, 0, &o);
    if (r < 0)
        return r;
    o->buf = buf;
    o->cap = cap;
    o->len = len;
    return step_commit(op);
}

int cairn_op_omap_get(struct cairn_op *op, const void *key, size_t key_len, void *buf, size_t cap,
                      size_t *len)
{
    struct cairn__step_out *o;

    if (!buf && cap)
        return -EINVAL;
    int r = key_step(op, PROTO_OSD_OMAP_GET, key, key_len, NULL, 0, &o);
    if (r < 0)
        return r;
    o->buf = buf;
    o->cap = cap;
    o->len = len;
    return step_commit(op);
}

int cairn_op_getxattrs(struct cairn_op *op, struct cairn_kv_list **out)
{
    struct cairn__step_out *o;

    if (!out)
        return -EINVAL;
    int r = plain_step(op, PROTO_OSD_GETXATTRS, NULL, &o);
    if (r < 0)
        return r;
    o->list = out;
    return step_commit(op);
}

int cairn_op_omap_list(struct cairn_op *op, const void *after, size_t after_len, unsigned max,
                       struct cairn_kv_list **out)
{
    struct proto_osd_step *s;
    struct cairn__step_out *o;

    if (!out || (after && !key_ok(after, after_len)) || max > PROTO_OSD_OMAP_LIST_MAX)
        return -EINVAL;
    int r = plain_step(op, PROTO_OSD_OMAP_LIST, &s, &o);
    if (r < 0)
        return r;
    s->name = after;
    s->name_len = after ? after_len : 0;
    s->max = max;
    o->list = out;
    return step_commit(op);
}

int cairn_op_assert_exists(struct cairn_op *op)
{
    int r = plain_step(op, PROTO_OSD_ASSERT_EXISTS, NULL, NULL);

    return r < 0 ? r : step_commit(op);
}

int cairn_op_assert_version(struct cairn_op *op, uint64_t version)
{
    struct proto_osd_step *s;
    int r = plain_step(op, PROTO_OSD_ASSERT_VERSION, &s, NULL);

    if (r < 0)
        return r;
    s->version = version;
    return step_commit(op);
}

int cairn_op_cmpxattr(struct cairn_op *op, const char *name, const void *value, size_t len)
{
    int r = xattr_step(op, PROTO_OSD_CMPXATTR, name, value, value ? len : 0, NULL);

    if (r < 0)
        return r;
    if (!value)
        op->wire.steps[op->wire.n_steps].flags = PROTO_OSD_F_ABSENT;
    return step_commit(op);
}

/* WRITE and WRITE_FULL: the payload and its checksum. */
static int write_step(struct cairn_op *op, uint32_t type, uint64_t off, const void *data,
                      size_t len)
{
    struct cairn__step_out *o;
    int r = data_step(op, type, off, len, data != NULL, op ? op->write_bytes : 0, &o);

    if (r < 0)
        return r;
    op->wire.steps[op->wire.n_steps].crc = cairn_crc32c(0, data, len);
    o->data = data;
    return step_commit(op);
}

int cairn_op_write(struct cairn_op *op, uint64_t off, const void *data, size_t len)
{
    return write_step(op, PROTO_OSD_WRITE, off, data, len);
}

int cairn_op_write_full(struct cairn_op *op, const void *data, size_t len)
{
    return write_step(op, PROTO_OSD_WRITE_FULL, 0, data, len);
}

int cairn_op_truncate(struct cairn_op *op, uint64_t size)
{
    struct proto_osd_step *s;
    int r = plain_step(op, PROTO_OSD_TRUNCATE, &s, NULL);

    if (r < 0)
        return r;
    s->off = size;
    return step_commit(op);
}

int cairn_op_zero(struct cairn_op *op, uint64_t off, uint64_t len)
{
    struct proto_osd_step *s;

    if (op && len > UINT64_MAX - off)
        return -EINVAL;
    int r = plain_step(op, PROTO_OSD_ZERO, &s, NULL);
    if (r < 0)
        return r;
    s->off = off;
    s->len = len;
    return step_commit(op);
}

int cairn_op_create_object(struct cairn_op *op, bool exclusive)
{
    struct proto_osd_step *s;
    int r = plain_step(op, PROTO_OSD_CREATE, &s, NULL);

    if (r < 0)
        return r;
    s->flags = exclusive ? PROTO_OSD_F_EXCL : 0;
    return step_commit(op);
}

int cairn_op_remove(struct cairn_op *op)
{
    int r = plain_step(op, PROTO_OSD_REMOVE, NULL, NULL);

    return r < 0 ? r : step_commit(op);
}

int cairn_op_setxattr(struct cairn_op *op, const char *name, const void *value, size_t len)
{
    int r = xattr_step(op, PROTO_OSD_SETXATTR, name, value, len, NULL);

    return r < 0 ? r : step_commit(op);
}

int cairn_op_rmxattr(struct cairn_op *op, const char *name)
{
    int r = xattr_step(op, PROTO_OSD_RMXATTR, name, NULL, 0, NULL);

    return r < 0 ? r : step_commit(op);
}

int cairn_op_omap_set(struct cairn_op *op, const void *key, size_t key_len, const void *value,
                      size_t value_len)
{
    int r = key_step(op, PROTO_OSD_OMAP_SET, key, key_len, value, value_len, NULL);

    return r < 0 ? r : step_commit(op);
}

int cairn_op_omap_rm(struct cairn_op *op, const void *key, size_t key_len)
{
    int r = key_step(op, PROTO_OSD_OMAP_RM, key, key_len, NULL, 0, NULL);

    return r < 0 ? r : step_commit(op);
}

int cairn_op_omap_clear(struct cairn_op *op)
{
    int r = plain_step(op, PROTO_OSD_OMAP_CLEAR, NULL, NULL);

    return r < 0 ? r : step_commit(op);
}

int cairn_op_counter_add(struct cairn_op *op, const char *name, int64_t delta, int64_t *result)
{
    struct cairn__step_out *o;
    int r = xattr_step(op, PROTO_OSD_COUNTER_ADD, name, NULL, 0, &o);

    if (r < 0)
        return r;
    op->wire.steps[op->wire.n_steps].delta = delta;
    o->num = result;
    return step_commit(op);
}

int cairn_op_set_if_greater(struct cairn_op *op, const char *name, uint64_t value, uint64_t *result)
{
    struct cairn__step_out *o;
    int r = xattr_step(op, PROTO_OSD_SET_IF_GREATER, name, NULL, 0, &o);

    if (r < 0)
        return r;
    op->wire.steps[op->wire.n_steps].version = value;
    o->unum = result;
    return step_commit(op);
}

int cairn_op_omap_cas(struct cairn_op *op, const void *key, size_t key_len, const void *expect,
                      size_t expect_len, const void *value, size_t value_len)
{
    if (!value_ok(value, value ? value_len : 0))
        return -EINVAL;
    int r = key_step(op, PROTO_OSD_OMAP_CAS, key, key_len, expect, expect ? expect_len : 0, NULL);
    if (r < 0)
        return r;
    struct proto_osd_step *s = &op->wire.steps[op->wire.n_steps];
    s->flags = (expect ? 0 : PROTO_OSD_F_ABSENT) | (value ? 0 : PROTO_OSD_F_DELETE);
    s->value2 = value;
    s->value2_len = value ? value_len : 0;
    return step_commit(op);
}

/* ---- exec support ---- */

int cairn__op_check(const struct cairn_op *op, const char *oid)
{
    size_t n = oid ? strnlen(oid, CAIRN_OID_MAX + 1) : 0;

    if (!op || n == 0 || n > CAIRN_OID_MAX || op->wire.n_steps == 0)
        return -EINVAL;
    if (op->has_mutation && op->has_read)
        return -EINVAL;
    return 0;
}

/* The write payloads concatenated in step order into one buffer. */
static void *payload_gather(const struct cairn_op *op)
{
    uint8_t *buf = malloc(op->write_bytes ? op->write_bytes : 1);
    size_t off = 0;

    if (!buf)
        return NULL;
    for (uint32_t i = 0; i < op->wire.n_steps; i++) {
        const struct proto_osd_step *s = &op->wire.steps[i];
        if (s->type != PROTO_OSD_WRITE && s->type != PROTO_OSD_WRITE_FULL)
            continue;
        if (s->len)
            memcpy(buf + off, op->out[i].data, s->len);
        off += s->len;
    }
    return buf;
}

int cairn__op_encode(struct cairn_op *op, uint64_t epoch, uint32_t pg, bool corrupt, uint8_t **meta,
                     size_t *meta_len, const void **data, size_t *data_len, void **owned)
{
    unsigned writes = 0;
    int last = -1;

    op->wire.epoch = epoch;
    op->wire.pg = pg;
    int r = proto_osd_op_encode(&op->wire, meta, meta_len);
    if (r < 0)
        return r;
    for (uint32_t i = 0; i < op->wire.n_steps; i++)
        if (op->wire.steps[i].type == PROTO_OSD_WRITE ||
            op->wire.steps[i].type == PROTO_OSD_WRITE_FULL)
            writes++, last = (int)i;
    *owned = NULL;
    *data_len = op->write_bytes;
    *data = NULL;
    if (op->write_bytes == 0)
        return 0;
    /* One payload goes out from the caller's buffer as it is; several, or
     * one to corrupt on purpose, are gathered into a copy. */
    if (writes == 1 && !corrupt) {
        *data = op->out[last].data;
        return 0;
    }
    if (!(*owned = payload_gather(op))) {
        free(*meta);
        *meta = NULL;
        return -ENOMEM;
    }
    if (corrupt)
        ((uint8_t *)*owned)[op->write_bytes / 2] ^= 0x5a;
    *data = *owned;
    return 0;
}

/* ---- the reply ---- */

/* A GETXATTRS or OMAP_LIST result as a caller-owned list. */
static int kv_list_make(const struct proto_osd_step_result *res, struct cairn_kv_list **out)
{
    struct cairn_kv_list *l = calloc(1, sizeof(*l));

    if (!l || (res->n_entries && !(l->kv = calloc(res->n_entries, sizeof(*l->kv))))) {
        free(l);
        return -ENOMEM;
    }
    l->more = res->more;
    for (uint32_t i = 0; i < res->n_entries; i++, l->n++) {
        const struct proto_osd_kv *kv = &res->entries[i];
        struct cairn_kv *dst = &l->kv[i];
        /* One spare byte each, so text keys and values can be used as C
         * strings. */
        dst->key = malloc(kv->key_len + 1);
        dst->value = malloc(kv->value_len + 1);
        if (!dst->key || !dst->value) {
            free(dst->key);
            free(dst->value);
            cairn_kv_list_free(l);
            return -ENOMEM;
        }
        memcpy(dst->key, kv->key, kv->key_len);
        ((char *)dst->key)[kv->key_len] = '\0';
        dst->key_len = kv->key_len;
        if (kv->value_len)
            memcpy(dst->value, kv->value, kv->value_len);
        ((char *)dst->value)[kv->value_len] = '\0';
        dst->value_len = kv->value_len;
    }
    *out = l;
    return 0;
}

/* Pass 1: every result is consistent with its step and every read's data
 * passes its checksum; the lists are built (into @lists). 0, -EIO,
 * -EBADMSG, -ERANGE (with *@bad the step), -ENOMEM. */
static int results_check(struct cairn_op *op, const struct proto_osd_reply *reply,
                         const uint8_t *data, size_t data_len, struct cairn_kv_list **lists,
                         int *bad)
{
    for (uint32_t i = 0; i < op->wire.n_steps; i++) {
        const struct proto_osd_step *s = &op->wire.steps[i];
        const struct proto_osd_step_result *res = &reply->results[i];
        *bad = (int)i;
        switch (s->type) {
        case PROTO_OSD_READ:
            if (res->len > s->len || res->data_off + res->len > data_len)
                return -EBADMSG;
            if (cairn_crc32c(0, data + res->data_off, res->len) != res->crc)
                return -EIO;
            break;
        case PROTO_OSD_GETXATTR:
        case PROTO_OSD_OMAP_GET:
            if (!res->has_value)
                return -EBADMSG;
            if (res->value_len > op->out[i].cap)
                return -ERANGE;
            break;
        case PROTO_OSD_GETXATTRS:
        case PROTO_OSD_OMAP_LIST: {
            int r = kv_list_make(res, &lists[i]);
            if (r < 0)
                return r;
            break;
        }
        default:
            if (res->len)
                return -EBADMSG; /* data for a step that reads none */
        }
    }
    *bad = -1;
    return 0;
}

/* Pass 2: the out-params. */
static void results_copy(struct cairn_op *op, const struct proto_osd_reply *reply,
                         const uint8_t *data, struct cairn_kv_list **lists)
{
    for (uint32_t i = 0; i < op->wire.n_steps; i++) {
        const struct proto_osd_step_result *res = &reply->results[i];
        struct cairn__step_out *o = &op->out[i];
        switch (op->wire.steps[i].type) {
        case PROTO_OSD_READ:
            if (res->len)
                memcpy(o->buf, data + res->data_off, res->len);
            if (o->len)
                *o->len = res->len;
            break;
        case PROTO_OSD_STAT:
            if (o->st) {
                o->st->size = res->size;
                o->st->mtime_ns = res->mtime_ns;
                o->st->version = reply->version;
            }
            break;
        case PROTO_OSD_GETXATTR:
        case PROTO_OSD_OMAP_GET:
            if (res->value_len)
                memcpy(o->buf, res->value, res->value_len);
            if (o->len)
                *o->len = res->value_len;
            break;
        case PROTO_OSD_GETXATTRS:
        case PROTO_OSD_OMAP_LIST:
            *o->list = lists[i];
            lists[i] = NULL;
            break;
        case PROTO_OSD_COUNTER_ADD:
            if (o->num)
                *o->num = res->num;
            break;
        case PROTO_OSD_SET_IF_GREATER:
            if (o->unum)
                *o->unum = (uint64_t)res->num;
            break;
        }
    }
}

int cairn__op_unpack(struct cairn_op *op, const struct proto_osd_reply *reply, const uint8_t *data,
                     size_t data_len)
{
    struct cairn_kv_list *lists[CAIRN_OP_STEPS_MAX] = {0};
    int bad = -1, r;

    op->version = reply->version;
    op->failed_step = -1;
    if (reply->result < 0) {
        op->failed_step = reply->failed_step < (int)op->wire.n_steps ? reply->failed_step : -1;
        return reply->result;
    }
    if (reply->n_results != op->wire.n_steps)
        return -EBADMSG;
    r = results_check(op, reply, data, data_len, lists, &bad);
    if (r == 0)
        results_copy(op, reply, data, lists);
    else if (r == -ERANGE)
        op->failed_step = bad;
    for (uint32_t i = 0; i < op->wire.n_steps; i++)
        cairn_kv_list_free(lists[i]);
    return r;
}

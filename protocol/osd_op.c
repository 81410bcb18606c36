/* The OSD client-operation codec (protocol/osd_op.h): protobuf encoding of
 * compound ops, their replies, object listings, PG commands and pings. Encoders write only
 * fields that differ from their defaults and check the same rules the
 * decoders do, so whatever we send a peer of the same version accepts.
 * Decoders validate every field, since all of it comes from the network.
 * Called by the client library, the OSD and tests/fuzz/fuzz_osd_op.c. */
#include "protocol/osd_op.h"
#include "protocol/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osd_op.pb-c.h"

#define STEP_FLAGS_ALL (PROTO_OSD_F_EXCL | PROTO_OSD_F_ABSENT | PROTO_OSD_F_DELETE)
#define STEP_TYPE_MAX PROTO_OSD_OMAP_CAS

/* What a step's name field holds, and so which limits apply to it. */
enum name_kind {
    NAME_UNUSED, /* ignored by the step; bounded like an omap key all the same */
    NAME_XATTR,  /* 1..PROTO_OSD_XATTR_NAME_MAX bytes, no NUL */
    NAME_KEY,    /* 1..PROTO_OSD_OMAP_KEY_MAX bytes */
    NAME_AFTER,  /* 0..PROTO_OSD_OMAP_KEY_MAX bytes */
};

struct step_info {
    const char *name; /* NULL: not a step type */
    enum name_kind name_kind;
};

static const struct step_info step_infos[STEP_TYPE_MAX + 1] = {
    [PROTO_OSD_READ] = {"read", NAME_UNUSED},
    [PROTO_OSD_STAT] = {"stat", NAME_UNUSED},
    [PROTO_OSD_GETXATTR] = {"getxattr", NAME_XATTR},
    [PROTO_OSD_GETXATTRS] = {"getxattrs", NAME_UNUSED},
    [PROTO_OSD_OMAP_GET] = {"omap_get", NAME_KEY},
    [PROTO_OSD_OMAP_LIST] = {"omap_list", NAME_AFTER},
    [PROTO_OSD_ASSERT_EXISTS] = {"assert_exists", NAME_UNUSED},
    [PROTO_OSD_ASSERT_VERSION] = {"assert_version", NAME_UNUSED},
    [PROTO_OSD_CMPXATTR] = {"cmpxattr", NAME_XATTR},
    [PROTO_OSD_WRITE] = {"write", NAME_UNUSED},
    [PROTO_OSD_WRITE_FULL] = {"write_full", NAME_UNUSED},
    [PROTO_OSD_TRUNCATE] = {"truncate", NAME_UNUSED},
    [PROTO_OSD_ZERO] = {"zero", NAME_UNUSED},
    [PROTO_OSD_CREATE] = {"create", NAME_UNUSED},
    [PROTO_OSD_REMOVE] = {"remove", NAME_UNUSED},
    [PROTO_OSD_SETXATTR] = {"setxattr", NAME_XATTR},
    [PROTO_OSD_RMXATTR] = {"rmxattr", NAME_XATTR},
    [PROTO_OSD_OMAP_SET] = {"omap_set", NAME_KEY},
    [PROTO_OSD_OMAP_RM] = {"omap_rm", NAME_KEY},
    [PROTO_OSD_OMAP_CLEAR] = {"omap_clear", NAME_UNUSED},
    [PROTO_OSD_COUNTER_ADD] = {"counter_add", NAME_XATTR},
    [PROTO_OSD_SET_IF_GREATER] = {"set_if_greater", NAME_XATTR},
    [PROTO_OSD_OMAP_CAS] = {"omap_cas", NAME_KEY},
};

bool proto_osd_step_is_valid(uint32_t type)
{
    return type <= STEP_TYPE_MAX && step_infos[type].name != NULL;
}

bool proto_osd_step_is_mutation(uint32_t type)
{
    return proto_osd_step_is_valid(type) && type >= PROTO_OSD_WRITE;
}

const char *proto_osd_step_name(uint32_t type)
{
    return proto_osd_step_is_valid(type) ? step_infos[type].name : "unknown";
}

/* ---- helpers ------------------------------------------------------------ */

/* Writes a reason into @err (when given) and returns -EINVAL. */
static int bad(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static bool result_is_valid(int32_t result)
{
    return result <= 0 && result >= PROTO_OSD_RESULT_MIN;
}

/* Object names (oids, listing names and cursors): at most PROTO_OSD_OID_MAX
 * bytes, at least @min, no NUL. */
static int oid_check(const void *oid, size_t len, size_t min, char *err, size_t err_len)
{
    if (len < min || len > PROTO_OSD_OID_MAX)
        return bad(err, err_len, "object name of %zu bytes is not %zu..%u", len, min,
                   PROTO_OSD_OID_MAX);
    if (len && memchr(oid, '\0', len))
        return bad(err, err_len, "object name contains a NUL byte");
    return 0;
}

/* Length of a C string in a fixed buffer, or -EINVAL when it is not
 * NUL-terminated there (a caller bug when encoding). */
static ssize_t fixed_strlen(const char *s, size_t cap)
{
    size_t len = strnlen(s, cap);
    return len < cap ? (ssize_t)len : -EINVAL;
}

/* Copies bytes checked by oid_check() into a fixed NUL-terminated buffer. */
static void copy_oid(char *dst, const ProtobufCBinaryData *src)
{
    if (src->len)
        memcpy(dst, src->data, src->len);
    dst[src->len] = '\0';
}

/* A bytes field for encoding: absent when empty. */
static void set_bytes(protobuf_c_boolean *has, ProtobufCBinaryData *f, const void *p, size_t len)
{
    *has = len != 0;
    f->data = (uint8_t *)p;
    f->len = len;
}

/* ---- op steps ----------------------------------------------------------- */

static int name_check(const struct proto_osd_step *s, uint32_t i, char *err, size_t err_len)
{
    enum name_kind kind = step_infos[s->type].name_kind;
    size_t max = kind == NAME_XATTR ? PROTO_OSD_XATTR_NAME_MAX : PROTO_OSD_OMAP_KEY_MAX;
    const char *what = kind == NAME_XATTR ? "xattr name" : kind == NAME_UNUSED ? "name" : "omap key";

    if (s->name_len > max)
        return bad(err, err_len, "step %u: %s of %zu bytes exceeds %zu", i, what, s->name_len,
                   max);
    if ((kind == NAME_XATTR || kind == NAME_KEY) && s->name_len == 0)
        return bad(err, err_len, "step %u: empty %s", i, what);
    if (kind == NAME_XATTR && memchr(s->name, '\0', s->name_len))
        return bad(err, err_len, "step %u: xattr name contains a NUL byte", i);
    return 0;
}

/* The ranges of @s (the caller checked its type). */
static int range_check(const struct proto_osd_step *s, uint32_t i, char *err, size_t err_len)
{
    bool ranged = s->type == PROTO_OSD_READ || s->type == PROTO_OSD_WRITE ||
                  s->type == PROTO_OSD_ZERO;

    if (ranged && s->len > UINT64_MAX - s->off)
        return bad(err, err_len, "step %u: range %llu+%llu overflows", i,
                   (unsigned long long)s->off, (unsigned long long)s->len);
    if (s->type == PROTO_OSD_READ && s->len > PROTO_OSD_READ_MAX)
        return bad(err, err_len, "step %u: read of %llu bytes exceeds %u", i,
                   (unsigned long long)s->len, PROTO_OSD_READ_MAX);
    if (s->type == PROTO_OSD_OMAP_LIST && s->max > PROTO_OSD_OMAP_LIST_MAX)
        return bad(err, err_len, "step %u: omap list of %u entries exceeds %u", i, s->max,
                   PROTO_OSD_OMAP_LIST_MAX);
    return 0;
}

static bool step_has_payload(const struct proto_osd_step *s)
{
    return s->type == PROTO_OSD_WRITE || s->type == PROTO_OSD_WRITE_FULL;
}

/* Checks step @i and adds its write payload to *@payload. Shared by encode
 * (a caller bug) and decode (input). */
static int step_check(const struct proto_osd_step *s, uint32_t i, uint64_t *payload, char *err,
                      size_t err_len)
{
    if (!proto_osd_step_is_valid(s->type))
        return bad(err, err_len, "step %u: unknown type %u", i, s->type);
    if (s->flags & ~STEP_FLAGS_ALL)
        return bad(err, err_len, "step %u: unknown flags 0x%x", i, s->flags & ~STEP_FLAGS_ALL);
    if ((s->name_len && !s->name) || (s->value_len && !s->value) || (s->value2_len && !s->value2))
        return bad(err, err_len, "step %u: a byte field has a length but no bytes", i);
    int r = name_check(s, i, err, err_len);
    if (r < 0)
        return r;
    if (s->value_len > PROTO_OSD_VALUE_MAX || s->value2_len > PROTO_OSD_VALUE_MAX)
        return bad(err, err_len, "step %u: value of %zu bytes exceeds %u", i,
                   s->value_len > s->value2_len ? s->value_len : s->value2_len,
                   PROTO_OSD_VALUE_MAX);
    r = range_check(s, i, err, err_len);
    if (r < 0)
        return r;
    if (step_has_payload(s)) {
        if (s->len > UINT64_MAX - *payload)
            return bad(err, err_len, "step %u: write payload lengths overflow", i);
        *payload += s->len;
    }
    return 0;
}

/* The parts of an op outside its steps. */
static int head_check(bool has_pool, int32_t pool, const void *oid, size_t oid_len,
                      size_t n_steps, char *err, size_t err_len)
{
    if (!has_pool)
        return bad(err, err_len, "no pool");
    if (pool < 0)
        return bad(err, err_len, "pool %d is negative", pool);
    int r = oid_check(oid, oid_len, 1, err, err_len);
    if (r < 0)
        return r;
    if (n_steps == 0 || n_steps > PROTO_OSD_STEPS_MAX)
        return bad(err, err_len, "%zu steps is not 1..%u", n_steps, PROTO_OSD_STEPS_MAX);
    return 0;
}

static void step_to_pb(const struct proto_osd_step *s, Cairn__OsdStep *p)
{
    cairn__osd_step__init(p);
    p->has_type = true;
    p->type = s->type;
    p->has_flags = s->flags != 0;
    p->flags = s->flags;
    p->has_off = s->off != 0;
    p->off = s->off;
    p->has_len = s->len != 0;
    p->len = s->len;
    set_bytes(&p->has_name, &p->name, s->name, s->name_len);
    set_bytes(&p->has_value, &p->value, s->value, s->value_len);
    set_bytes(&p->has_value2, &p->value2, s->value2, s->value2_len);
    p->has_crc = s->crc != 0;
    p->crc = s->crc;
    p->has_delta = s->delta != 0;
    p->delta = s->delta;
    p->has_version = s->version != 0;
    p->version = s->version;
    p->has_max = s->max != 0;
    p->max = s->max;
}

/* Byte fields point into @p (absent ones are NULL, length 0). */
static void step_from_pb(const Cairn__OsdStep *p, struct proto_osd_step *s)
{
    memset(s, 0, sizeof(*s));
    s->type = p->type;
    s->flags = p->flags;
    s->off = p->off;
    s->len = p->len;
    s->name = p->name.data;
    s->name_len = p->name.len;
    s->value = p->value.data;
    s->value_len = p->value.len;
    s->value2 = p->value2.data;
    s->value2_len = p->value2.len;
    s->crc = p->crc;
    s->delta = p->delta;
    s->version = p->version;
    s->max = p->max;
}

/* ---- ops ---------------------------------------------------------------- */

void proto_osd_op_init(struct proto_osd_op *op)
{
    memset(op, 0, sizeof(*op));
}

int proto_osd_op_encode(const struct proto_osd_op *op, uint8_t **buf, size_t *len)
{
    Cairn__OsdOp m = CAIRN__OSD_OP__INIT;
    ssize_t oid_len = fixed_strlen(op->oid, sizeof(op->oid));
    uint64_t payload = 0;

    if (oid_len < 0 || head_check(true, op->pool, op->oid, (size_t)oid_len, op->n_steps, NULL, 0))
        return -EINVAL;
    for (uint32_t i = 0; i < op->n_steps; i++)
        if (step_check(&op->steps[i], i, &payload, NULL, 0) < 0)
            return -EINVAL;

    /* The steps, then the pointer array protobuf-c wants. */
    Cairn__OsdStep *steps = malloc(op->n_steps * (sizeof(*steps) + sizeof(Cairn__OsdStep *)));
    if (!steps)
        return -ENOMEM;
    Cairn__OsdStep **ptrs = (Cairn__OsdStep **)(steps + op->n_steps);
    for (uint32_t i = 0; i < op->n_steps; i++) {
        step_to_pb(&op->steps[i], &steps[i]);
        ptrs[i] = &steps[i];
    }
    m.has_epoch = op->epoch != 0;
    m.epoch = op->epoch;
    m.has_pool = true; /* pool 0 is a pool: absent is refused */
    m.pool = op->pool;
    m.has_pg = op->pg != 0;
    m.pg = op->pg;
    set_bytes(&m.has_oid, &m.oid, op->oid, (size_t)oid_len);
    m.has_client_id = op->client_id != 0;
    m.client_id = op->client_id;
    m.has_tid = op->tid != 0;
    m.tid = op->tid;
    m.n_steps = op->n_steps;
    m.steps = ptrs;
    int r = proto__pb_pack(&m.base, buf, len);
    free(steps);
    return r;
}

/* Checks all of @m against @data_len without writing anything. */
static int op_check_pb(const Cairn__OsdOp *m, uint64_t data_len, char *err, size_t err_len)
{
    struct proto_osd_step s;
    uint64_t payload = 0;

    int r = head_check(m->has_pool, m->pool, m->oid.data, m->oid.len, m->n_steps, err, err_len);
    for (size_t i = 0; r == 0 && i < m->n_steps; i++) {
        step_from_pb(m->steps[i], &s);
        r = step_check(&s, (uint32_t)i, &payload, err, err_len);
    }
    if (r == 0 && payload != data_len)
        r = bad(err, err_len, "write payloads of %llu bytes but %llu bytes of data",
                (unsigned long long)payload, (unsigned long long)data_len);
    return r;
}

int proto_osd_op_decode(const uint8_t *buf, size_t len, uint64_t data_len,
                        struct proto_osd_op *op, char *err, size_t err_len)
{
    Cairn__OsdOp *m = cairn__osd_op__unpack(NULL, len, buf);
    uint64_t data_off = 0;

    if (!m) {
        bad(err, err_len, "op metadata does not parse");
        return -EBADMSG;
    }
    int r = op_check_pb(m, data_len, err, err_len);
    if (r < 0) {
        cairn__osd_op__free_unpacked(m, NULL);
        return r;
    }
    op->epoch = m->epoch;
    op->pool = m->pool;
    op->pg = m->pg;
    copy_oid(op->oid, &m->oid);
    op->client_id = m->client_id;
    op->tid = m->tid;
    op->n_steps = (uint32_t)m->n_steps;
    for (uint32_t i = 0; i < op->n_steps; i++) {
        struct proto_osd_step *s = &op->steps[i];
        step_from_pb(m->steps[i], s);
        s->data_off = data_off;
        if (step_has_payload(s))
            data_off += s->len;
    }
    op->priv = m;
    return 0;
}

void proto_osd_op_release(struct proto_osd_op *op)
{
    if (op->priv)
        protobuf_c_message_free_unpacked(op->priv, NULL);
    op->priv = NULL;
    op->n_steps = 0;
}

/* ---- replies ------------------------------------------------------------ */

void proto_osd_reply_init(struct proto_osd_reply *reply)
{
    memset(reply, 0, sizeof(*reply));
    reply->failed_step = -1;
}

static int kv_check(const struct proto_osd_kv *kv)
{
    if (kv->key_len == 0 || kv->key_len > PROTO_OSD_OMAP_KEY_MAX || !kv->key)
        return -EINVAL;
    if (kv->value_len > PROTO_OSD_VALUE_MAX || (kv->value_len && !kv->value))
        return -EINVAL;
    return 0;
}

static int result_check(const struct proto_osd_step_result *res)
{
    if (!result_is_valid(res->rval))
        return -EINVAL;
    if (res->value_len > PROTO_OSD_VALUE_MAX || (res->value_len && !res->value))
        return -EINVAL;
    if (res->n_entries && !res->entries)
        return -EINVAL;
    for (uint32_t i = 0; i < res->n_entries; i++)
        if (kv_check(&res->entries[i]) < 0)
            return -EINVAL;
    return 0;
}

/* Checks @reply, shared by encode and decode; *@data_len is the sum of the
 * READ lengths. The message is checked by the caller. */
static int reply_check(const struct proto_osd_reply *reply, uint64_t *data_len)
{
    uint64_t sum = 0;

    if (!result_is_valid(reply->result) || reply->failed_step < -1)
        return -EINVAL;
    if (reply->n_results > PROTO_OSD_STEPS_MAX || (reply->n_results && !reply->results))
        return -EINVAL;
    for (uint32_t i = 0; i < reply->n_results; i++) {
        const struct proto_osd_step_result *res = &reply->results[i];
        if (result_check(res) < 0 || res->len > UINT64_MAX - sum)
            return -EINVAL;
        sum += res->len;
    }
    *data_len = sum;
    return 0;
}

static void result_to_pb(const struct proto_osd_step_result *res, Cairn__OsdStepResult *p,
                         Cairn__OsdKv *kvs, Cairn__OsdKv **kv_ptrs)
{
    cairn__osd_step_result__init(p);
    p->has_rval = res->rval != 0;
    p->rval = res->rval;
    p->has_len = res->len != 0;
    p->len = res->len;
    p->has_crc = res->crc != 0;
    p->crc = res->crc;
    /* An empty value is still a value (has_value). */
    p->has_value = res->has_value;
    p->value.data = (uint8_t *)res->value;
    p->value.len = res->has_value ? res->value_len : 0;
    p->has_size = res->size != 0;
    p->size = res->size;
    p->has_mtime_ns = res->mtime_ns != 0;
    p->mtime_ns = res->mtime_ns;
    p->has_num = res->num != 0;
    p->num = res->num;
    for (uint32_t i = 0; i < res->n_entries; i++) {
        cairn__osd_kv__init(&kvs[i]);
        set_bytes(&kvs[i].has_key, &kvs[i].key, res->entries[i].key, res->entries[i].key_len);
        set_bytes(&kvs[i].has_value, &kvs[i].value, res->entries[i].value,
                  res->entries[i].value_len);
        kv_ptrs[i] = &kvs[i];
    }
    p->n_entries = res->n_entries;
    p->entries = kv_ptrs;
    p->has_more = res->more;
    p->more = res->more;
}

/* The protobuf form of the results of @reply, in one allocation. */
struct reply_pb {
    Cairn__OsdStepResult *results;
    Cairn__OsdStepResult **result_ptrs;
    Cairn__OsdKv *kvs;
    Cairn__OsdKv **kv_ptrs;
};

static int reply_pb_alloc(const struct proto_osd_reply *reply, struct reply_pb *pb)
{
    size_t n = reply->n_results, n_kv = 0;

    for (uint32_t i = 0; i < reply->n_results; i++)
        n_kv += reply->results[i].n_entries;
    size_t per_kv = sizeof(*pb->kvs) + sizeof(*pb->kv_ptrs);
    if (n_kv > SIZE_MAX / 2 / per_kv)
        return -ENOMEM;
    /* Results first: their alignment suits the pointer arrays after them. */
    char *p = malloc(n * (sizeof(*pb->results) + sizeof(*pb->result_ptrs)) + n_kv * per_kv + 1);
    if (!p)
        return -ENOMEM;
    pb->results = (Cairn__OsdStepResult *)p;
    pb->kvs = (Cairn__OsdKv *)(pb->results + n);
    pb->result_ptrs = (Cairn__OsdStepResult **)(pb->kvs + n_kv);
    pb->kv_ptrs = (Cairn__OsdKv **)(pb->result_ptrs + n);
    return 0;
}

int proto_osd_reply_encode(const struct proto_osd_reply *reply, uint8_t **buf, size_t *len)
{
    Cairn__OsdOpReply m = CAIRN__OSD_OP_REPLY__INIT;
    struct reply_pb pb;
    uint64_t data_len;
    size_t kv_used = 0;

    if (fixed_strlen(reply->message, sizeof(reply->message)) < 0 ||
        reply_check(reply, &data_len) < 0)
        return -EINVAL;
    if (reply_pb_alloc(reply, &pb) < 0)
        return -ENOMEM;
    for (uint32_t i = 0; i < reply->n_results; i++) {
        result_to_pb(&reply->results[i], &pb.results[i], pb.kvs + kv_used,
                     pb.kv_ptrs + kv_used);
        kv_used += reply->results[i].n_entries;
        pb.result_ptrs[i] = &pb.results[i];
    }
    m.has_result = reply->result != 0;
    m.result = reply->result;
    m.has_epoch = reply->epoch != 0;
    m.epoch = reply->epoch;
    m.has_version = reply->version != 0;
    m.version = reply->version;
    m.has_failed_step = reply->failed_step != -1;
    m.failed_step = reply->failed_step;
    m.message = reply->message[0] ? (char *)reply->message : NULL;
    m.n_results = reply->n_results;
    m.results = pb.result_ptrs;
    int r = proto__pb_pack(&m.base, buf, len);
    free(pb.results);
    return r;
}

/* Fills @res from @p, its entries from the array at @kvs; byte fields point
 * into @p. */
static void result_from_pb(const Cairn__OsdStepResult *p, struct proto_osd_step_result *res,
                           struct proto_osd_kv *kvs)
{
    memset(res, 0, sizeof(*res));
    res->rval = p->rval;
    res->len = p->len;
    res->crc = p->crc;
    res->has_value = p->has_value;
    res->value = p->value.data;
    res->value_len = p->value.len;
    res->size = p->size;
    res->mtime_ns = p->mtime_ns;
    res->num = p->num;
    res->n_entries = (uint32_t)p->n_entries;
    res->entries = p->n_entries ? kvs : NULL;
    for (size_t i = 0; i < p->n_entries; i++) {
        kvs[i].key = p->entries[i]->key.data;
        kvs[i].key_len = p->entries[i]->key.len;
        kvs[i].value = p->entries[i]->value.data;
        kvs[i].value_len = p->entries[i]->value.len;
    }
    res->more = p->more;
}

/* Converts the results of @m into one allocation at reply->results (NULL
 * when there are none). -EINVAL (too many), -ENOMEM. */
static int results_from_pb(const Cairn__OsdOpReply *m, struct proto_osd_reply *reply)
{
    size_t n_kv = 0;

    if (m->n_results > PROTO_OSD_STEPS_MAX)
        return -EINVAL;
    for (size_t i = 0; i < m->n_results; i++) {
        if (m->results[i]->n_entries > UINT32_MAX)
            return -EINVAL;
        n_kv += m->results[i]->n_entries; /* bounded by the message size */
    }
    reply->n_results = (uint32_t)m->n_results;
    reply->results = NULL;
    if (m->n_results == 0)
        return 0;
    reply->results = malloc(m->n_results * sizeof(*reply->results) +
                            n_kv * sizeof(struct proto_osd_kv));
    if (!reply->results)
        return -ENOMEM;
    struct proto_osd_kv *kvs = (struct proto_osd_kv *)(reply->results + m->n_results);
    for (size_t i = 0; i < m->n_results; i++) {
        result_from_pb(m->results[i], &reply->results[i], kvs);
        kvs += m->results[i]->n_entries;
    }
    return 0;
}

/* Fills @reply from @m and checks it; on failure frees what it allocated. */
static int reply_from_pb(const Cairn__OsdOpReply *m, uint64_t data_len,
                         struct proto_osd_reply *reply)
{
    uint64_t read_len, off = 0;

    size_t msg_len = m->message ? strlen(m->message) : 0;
    if (msg_len >= sizeof(reply->message))
        return -EINVAL;
    memcpy(reply->message, m->message ? m->message : "", msg_len);
    reply->message[msg_len] = '\0';
    reply->result = m->result;
    reply->epoch = m->epoch;
    reply->version = m->version;
    reply->failed_step = m->has_failed_step ? m->failed_step : -1;
    int r = results_from_pb(m, reply);
    if (r < 0)
        return r;
    if (reply_check(reply, &read_len) < 0 || read_len != data_len) {
        free(reply->results);
        return -EINVAL;
    }
    for (uint32_t i = 0; i < reply->n_results; i++) {
        reply->results[i].data_off = off;
        off += reply->results[i].len;
    }
    return 0;
}

int proto_osd_reply_decode(const uint8_t *buf, size_t len, uint64_t data_len,
                           struct proto_osd_reply *reply)
{
    Cairn__OsdOpReply *m = cairn__osd_op_reply__unpack(NULL, len, buf);
    struct proto_osd_reply tmp;

    if (!m)
        return -EBADMSG;
    proto_osd_reply_init(&tmp);
    int r = reply_from_pb(m, data_len, &tmp);
    if (r < 0) {
        cairn__osd_op_reply__free_unpacked(m, NULL);
        return r;
    }
    tmp.priv = m;
    *reply = tmp;
    return 0;
}

void proto_osd_reply_release(struct proto_osd_reply *reply)
{
    free(reply->results);
    if (reply->priv)
        protobuf_c_message_free_unpacked(reply->priv, NULL);
    reply->results = NULL;
    reply->n_results = 0;
    reply->priv = NULL;
}

/* ---- listing ------------------------------------------------------------ */

void proto_osd_list_init(struct proto_osd_list *list)
{
    memset(list, 0, sizeof(*list));
}

static int list_check(int32_t pool, uint32_t max)
{
    return pool < 0 || max > PROTO_OSD_LIST_MAX ? -EINVAL : 0;
}

int proto_osd_list_encode(const struct proto_osd_list *list, uint8_t **buf, size_t *len)
{
    Cairn__OsdList m = CAIRN__OSD_LIST__INIT;
    ssize_t after_len = fixed_strlen(list->after, sizeof(list->after));

    if (after_len < 0 || list_check(list->pool, list->max) < 0)
        return -EINVAL;
    m.has_epoch = list->epoch != 0;
    m.epoch = list->epoch;
    m.has_pool = true;
    m.pool = list->pool;
    m.has_pg = list->pg != 0;
    m.pg = list->pg;
    set_bytes(&m.has_after, &m.after, list->after, (size_t)after_len);
    m.has_max = list->max != 0;
    m.max = list->max;
    return proto__pb_pack(&m.base, buf, len);
}

int proto_osd_list_decode(const uint8_t *buf, size_t len, struct proto_osd_list *list)
{
    Cairn__OsdList *m = cairn__osd_list__unpack(NULL, len, buf);

    if (!m)
        return -EBADMSG;
    int r = -EINVAL;
    if (m->has_pool && list_check(m->pool, m->max) == 0 &&
        oid_check(m->after.data, m->after.len, 0, NULL, 0) == 0) {
        list->epoch = m->epoch;
        list->pool = m->pool;
        list->pg = m->pg;
        copy_oid(list->after, &m->after);
        list->max = m->max;
        r = 0;
    }
    cairn__osd_list__free_unpacked(m, NULL);
    return r;
}

int proto_osd_list_reply_encode(const struct proto_osd_list_reply *reply, uint8_t **buf,
                                size_t *len)
{
    Cairn__OsdListReply m = CAIRN__OSD_LIST_REPLY__INIT;

    if (!result_is_valid(reply->result) || reply->n_names > PROTO_OSD_LIST_MAX ||
        (reply->n_names && !reply->names))
        return -EINVAL;
    ProtobufCBinaryData *names = malloc(reply->n_names * sizeof(*names) + 1);
    if (!names)
        return -ENOMEM;
    for (uint32_t i = 0; i < reply->n_names; i++) {
        const char *name = reply->names[i];
        names[i].len = name ? strnlen(name, PROTO_OSD_OID_MAX + 1) : 0;
        names[i].data = (uint8_t *)name;
        if (oid_check(name, names[i].len, 1, NULL, 0) < 0) {
            free(names);
            return -EINVAL;
        }
    }
    m.has_result = reply->result != 0;
    m.result = reply->result;
    m.has_epoch = reply->epoch != 0;
    m.epoch = reply->epoch;
    m.n_names = reply->n_names;
    m.names = names;
    m.has_more = reply->more;
    m.more = reply->more;
    int r = proto__pb_pack(&m.base, buf, len);
    free(names);
    return r;
}

/* Copies the names of @m into one allocation: the pointer array, then the
 * NUL-terminated strings. */
static int names_from_pb(const Cairn__OsdListReply *m, struct proto_osd_list_reply *reply)
{
    if (m->n_names > PROTO_OSD_LIST_MAX)
        return -EINVAL;
    size_t bytes = m->n_names * sizeof(char *);
    for (size_t i = 0; i < m->n_names; i++) {
        if (oid_check(m->names[i].data, m->names[i].len, 1, NULL, 0) < 0)
            return -EINVAL;
        bytes += m->names[i].len + 1;
    }
    const char **names = malloc(bytes + 1);
    if (!names)
        return -ENOMEM;
    char *p = (char *)(names + m->n_names);
    for (size_t i = 0; i < m->n_names; i++) {
        copy_oid(p, &m->names[i]);
        names[i] = p;
        p += m->names[i].len + 1;
    }
    reply->n_names = (uint32_t)m->n_names;
    reply->names = names;
    return 0;
}

int proto_osd_list_reply_decode(const uint8_t *buf, size_t len,
                                struct proto_osd_list_reply *reply)
{
    Cairn__OsdListReply *m = cairn__osd_list_reply__unpack(NULL, len, buf);
    struct proto_osd_list_reply tmp = {0};

    if (!m)
        return -EBADMSG;
    int r = result_is_valid(m->result) ? names_from_pb(m, &tmp) : -EINVAL;
    if (r == 0) {
        tmp.result = m->result;
        tmp.epoch = m->epoch;
        tmp.more = m->more;
        *reply = tmp;
    }
    cairn__osd_list_reply__free_unpacked(m, NULL);
    return r;
}

void proto_osd_list_reply_release(struct proto_osd_list_reply *reply)
{
    free(reply->names);
    reply->names = NULL;
    reply->n_names = 0;
    reply->priv = NULL;
}

/* ---- PG commands -------------------------------------------------------- */

void proto_osd_pg_cmd_init(struct proto_osd_pg_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
}

static int pg_cmd_check(int32_t pool, uint32_t op)
{
    return pool < 0 || op == 0 || op > PROTO_OSD_PG_CMD_OP_MAX ? -EINVAL : 0;
}

int proto_osd_pg_cmd_encode(const struct proto_osd_pg_cmd *cmd, uint8_t **buf, size_t *len)
{
    Cairn__OsdPgCmd m = CAIRN__OSD_PG_CMD__INIT;

    if (pg_cmd_check(cmd->pool, cmd->op) < 0)
        return -EINVAL;
    m.has_epoch = cmd->epoch != 0;
    m.epoch = cmd->epoch;
    m.has_pool = true;
    m.pool = cmd->pool;
    m.has_pg = cmd->pg != 0;
    m.pg = cmd->pg;
    m.has_op = true;
    m.op = cmd->op;
    return proto__pb_pack(&m.base, buf, len);
}

int proto_osd_pg_cmd_decode(const uint8_t *buf, size_t len, struct proto_osd_pg_cmd *cmd)
{
    Cairn__OsdPgCmd *m = cairn__osd_pg_cmd__unpack(NULL, len, buf);

    if (!m)
        return -EBADMSG;
    int r = -EINVAL;
    if (m->has_pool && pg_cmd_check(m->pool, m->op) == 0) {
        cmd->epoch = m->epoch;
        cmd->pool = m->pool;
        cmd->pg = m->pg;
        cmd->op = m->op;
        r = 0;
    }
    cairn__osd_pg_cmd__free_unpacked(m, NULL);
    return r;
}

static int pg_cmd_reply_check(int32_t result, uint64_t inconsistent, uint64_t repaired)
{
    return !result_is_valid(result) || repaired > inconsistent ? -EINVAL : 0;
}

int proto_osd_pg_cmd_reply_encode(const struct proto_osd_pg_cmd_reply *reply, uint8_t **buf,
                                  size_t *len)
{
    Cairn__OsdPgCmdReply m = CAIRN__OSD_PG_CMD_REPLY__INIT;
    ssize_t msg_len = fixed_strlen(reply->message, sizeof(reply->message));

    if (msg_len < 0 || pg_cmd_reply_check(reply->result, reply->inconsistent, reply->repaired) < 0)
        return -EINVAL;
    m.has_result = reply->result != 0;
    m.result = reply->result;
    m.has_epoch = reply->epoch != 0;
    m.epoch = reply->epoch;
    set_bytes(&m.has_message, &m.message, reply->message, (size_t)msg_len);
    m.has_objects = reply->objects != 0;
    m.objects = reply->objects;
    m.has_inconsistent = reply->inconsistent != 0;
    m.inconsistent = reply->inconsistent;
    m.has_repaired = reply->repaired != 0;
    m.repaired = reply->repaired;
    m.has_duration_ms = reply->duration_ms != 0;
    m.duration_ms = reply->duration_ms;
    return proto__pb_pack(&m.base, buf, len);
}

int proto_osd_pg_cmd_reply_decode(const uint8_t *buf, size_t len,
                                  struct proto_osd_pg_cmd_reply *reply)
{
    Cairn__OsdPgCmdReply *m = cairn__osd_pg_cmd_reply__unpack(NULL, len, buf);

    if (!m)
        return -EBADMSG;
    int r = -EINVAL;
    if (pg_cmd_reply_check(m->result, m->inconsistent, m->repaired) == 0 &&
        m->message.len < sizeof(reply->message) &&
        (m->message.len == 0 || !memchr(m->message.data, '\0', m->message.len))) {
        reply->result = m->result;
        reply->epoch = m->epoch;
        if (m->message.len)
            memcpy(reply->message, m->message.data, m->message.len);
        reply->message[m->message.len] = '\0';
        reply->objects = m->objects;
        reply->inconsistent = m->inconsistent;
        reply->repaired = m->repaired;
        reply->duration_ms = m->duration_ms;
        r = 0;
    }
    cairn__osd_pg_cmd_reply__free_unpacked(m, NULL);
    return r;
}

/* ---- ping --------------------------------------------------------------- */

int proto_osd_ping_encode(const struct proto_osd_ping *ping, uint8_t **buf, size_t *len)
{
    Cairn__OsdPing m = CAIRN__OSD_PING__INIT;

    m.has_epoch = ping->epoch != 0;
    m.epoch = ping->epoch;
    m.has_stamp_ns = ping->stamp_ns != 0;
    m.stamp_ns = ping->stamp_ns;
    return proto__pb_pack(&m.base, buf, len);
}

int proto_osd_ping_decode(const uint8_t *buf, size_t len, struct proto_osd_ping *ping)
{
    Cairn__OsdPing *m = cairn__osd_ping__unpack(NULL, len, buf);

    if (!m)
        return -EBADMSG;
    ping->epoch = m->epoch;
    ping->stamp_ns = m->stamp_ns;
    cairn__osd_ping__free_unpacked(m, NULL);
    return 0;
}

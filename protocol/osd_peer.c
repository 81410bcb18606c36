/* The OSD peering codec (protocol/osd_peer.h): protobuf encoding of the one
 * message OSDs exchange for peering, recovery and replication. Encode writes
 * only fields that differ from their defaults and checks the rules decode
 * does, so whatever we send a peer of the same version accepts. Decode
 * validates every field, since all of it comes from the network; what each
 * op means is the OSD's business. Called by the OSD and
 * tests/fuzz/fuzz_osd_peer.c. */
#include "protocol/osd_peer.h"
#include "protocol/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osd_peer.pb-c.h"

#define RESULT_MIN (-4095) /* results: 0 or -errno >= this */

/* What decode allocates, pointed to by proto_osd_peer.priv: this header,
 * then the arrays of the struct (entries, names, xattrs, omap, txn) in the
 * same allocation. versions point into the unpacked message. */
struct peer_priv {
    Cairn__OsdPeer *pb;
};

/* Offsets of the arrays in one allocation, each aligned for any member. */
static size_t round_up(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* ---- checks, shared by encode (caller bugs) and decode (input) ---------- */

/* Writes "@item @i: reason" (or "reason" when @item is NULL) into @err,
 * when given, and returns -EINVAL. */
static int bad_at(char *err, size_t err_len, const char *item, uint32_t i, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int bad_at(char *err, size_t err_len, const char *item, uint32_t i, const char *fmt, ...)
{
    if (!err || !err_len)
        return -EINVAL;
    int n = item ? snprintf(err, err_len, "%s %u: ", item, i) : 0;
    if (n >= 0 && (size_t)n < err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* The limits of one byte field. */
struct bytes_rule {
    const char *what;
    size_t min, max;
    bool no_nul;
};

static const struct bytes_rule oid_rule = {"oid", 1, PROTO_PEER_NAME_MAX, true};
static const struct bytes_rule opt_oid_rule = {"oid", 0, PROTO_PEER_NAME_MAX, true};
static const struct bytes_rule after_name_rule = {"after_name", 0, PROTO_PEER_NAME_MAX, false};
static const struct bytes_rule reply_rule = {"reply", 0, PROTO_PEER_REPLY_MAX, false};
static const struct bytes_rule xattr_name_rule = {"xattr name", 1, PROTO_PEER_XATTR_NAME_MAX,
                                                  true};
static const struct bytes_rule omap_key_rule = {"omap key", 0, PROTO_PEER_VALUE_MAX, false};
static const struct bytes_rule key_rule = {"key", 0, PROTO_PEER_VALUE_MAX, false};
static const struct bytes_rule value_rule = {"value", 0, PROTO_PEER_VALUE_MAX, false};

static int bytes_check(const struct proto_bytes *b, const struct bytes_rule *rule,
                       const char *item, uint32_t i, char *err, size_t err_len)
{
    if (b->len && !b->p)
        return bad_at(err, err_len, item, i, "%s has a length but no bytes", rule->what);
    if (b->len < rule->min || b->len > rule->max)
        return bad_at(err, err_len, item, i, "%s of %zu bytes is not %zu..%zu", rule->what,
                      b->len, rule->min, rule->max);
    if (rule->no_nul && b->len && memchr(b->p, '\0', b->len))
        return bad_at(err, err_len, item, i, "%s contains a NUL byte", rule->what);
    return 0;
}

/* A count and its array: at most @max, and an array when not 0. */
static int count_check(size_t n, const void *array, uint32_t max, const char *what, char *err,
                       size_t err_len)
{
    if (n > max)
        return bad_at(err, err_len, NULL, 0, "%zu %s exceed %u", n, what, max);
    if (n && !array)
        return bad_at(err, err_len, NULL, 0, "%zu %s but no array", n, what);
    return 0;
}

/* PULL, PUSH and SCRUB name their object; a failed reply need not. */
static bool needs_oid(const struct proto_osd_peer *m)
{
    return (m->op == PROTO_PEER_PULL || m->op == PROTO_PEER_PUSH || m->op == PROTO_PEER_SCRUB) &&
           m->result == 0;
}

static int head_check(const struct proto_osd_peer *m, char *err, size_t err_len)
{
    if (m->op < 1 || m->op > PROTO_PEER_OP_MAX)
        return bad_at(err, err_len, NULL, 0, "unknown op %u", m->op);
    if (m->result > 0 || m->result < RESULT_MIN)
        return bad_at(err, err_len, NULL, 0, "result %d is not 0 or -errno", (int)m->result);
    if (m->read_error > 0 || m->read_error < RESULT_MIN)
        return bad_at(err, err_len, NULL, 0, "read_error %d is not 0 or -errno",
                      (int)m->read_error);
    int r = count_check(m->n_entries, m->entries, PROTO_PEER_ENTRIES_MAX, "entries", err, err_len);
    if (r == 0)
        r = count_check(m->n_names, m->names, PROTO_PEER_NAMES_MAX, "names", err, err_len);
    if (r == 0)
        r = count_check(m->n_names, m->versions, PROTO_PEER_NAMES_MAX, "versions", err, err_len);
    if (r == 0)
        r = count_check(m->n_xattrs, m->xattrs, PROTO_PEER_KV_MAX, "xattrs", err, err_len);
    if (r == 0)
        r = count_check(m->n_omap, m->omap, PROTO_PEER_KV_MAX, "omap entries", err, err_len);
    if (r == 0)
        r = count_check(m->n_txn, m->txn, PROTO_PEER_TXN_MAX, "txn ops", err, err_len);
    if (r == 0)
        r = bytes_check(&m->after_name, &after_name_rule, NULL, 0, err, err_len);
    if (r == 0)
        r = bytes_check(&m->oid, needs_oid(m) ? &oid_rule : &opt_oid_rule, NULL, 0, err,
                        err_len);
    return r;
}

static int entry_check(const struct proto_pg_log_entry *e, uint32_t i, char *err, size_t err_len)
{
    if (e->op != PROTO_PG_LOG_MODIFY && e->op != PROTO_PG_LOG_DELETE)
        return bad_at(err, err_len, "entry", i, "unknown op %u", e->op);
    int r = bytes_check(&e->oid, &oid_rule, "entry", i, err, err_len);
    return r ? r : bytes_check(&e->reply, &reply_rule, "entry", i, err, err_len);
}

static int kv_check(const struct proto_peer_kv *kv, bool xattr, uint32_t i, char *err,
                    size_t err_len)
{
    const char *item = xattr ? "xattr" : "omap";
    int r = bytes_check(&kv->key, xattr ? &xattr_name_rule : &omap_key_rule, item, i, err,
                        err_len);
    return r ? r : bytes_check(&kv->value, &value_rule, item, i, err, err_len);
}

/* Checks txn op @i and adds a WRITE's length to *@writes. */
static int txn_check(const struct proto_txn_op *t, uint32_t i, uint64_t *writes, char *err,
                     size_t err_len)
{
    if (t->type < 1 || t->type > PROTO_TXN_TYPE_MAX)
        return bad_at(err, err_len, "txn", i, "unknown type %u", t->type);
    bool xattr = t->type == PROTO_TXN_SETXATTR || t->type == PROTO_TXN_RMXATTR;
    int r = bytes_check(&t->oid, &oid_rule, "txn", i, err, err_len);
    if (r == 0)
        r = bytes_check(&t->key, xattr ? &xattr_name_rule : &key_rule, "txn", i, err, err_len);
    if (r == 0)
        r = bytes_check(&t->val, &value_rule, "txn", i, err, err_len);
    if (r < 0)
        return r;
    if ((t->type == PROTO_TXN_WRITE || t->type == PROTO_TXN_ZERO) && t->len > UINT64_MAX - t->off)
        return bad_at(err, err_len, "txn", i, "range %llu+%llu overflows",
                      (unsigned long long)t->off, (unsigned long long)t->len);
    if (t->type == PROTO_TXN_WRITE) {
        if (t->len > UINT64_MAX - *writes)
            return bad_at(err, err_len, "txn", i, "write lengths overflow");
        *writes += t->len;
    }
    return 0;
}

/* Checks all of @m but its data; *@writes is the sum of its WRITE lengths. */
static int peer_check(const struct proto_osd_peer *m, uint64_t *writes, char *err,
                      size_t err_len)
{
    int r = head_check(m, err, err_len);

    *writes = 0;
    for (uint32_t i = 0; r == 0 && i < m->n_entries; i++)
        r = entry_check(&m->entries[i], i, err, err_len);
    for (uint32_t i = 0; r == 0 && i < m->n_names; i++)
        r = bytes_check(&m->names[i], &oid_rule, "name", i, err, err_len);
    for (uint32_t i = 0; r == 0 && i < m->n_xattrs; i++)
        r = kv_check(&m->xattrs[i], true, i, err, err_len);
    for (uint32_t i = 0; r == 0 && i < m->n_omap; i++)
        r = kv_check(&m->omap[i], false, i, err, err_len);
    for (uint32_t i = 0; r == 0 && i < m->n_txn; i++)
        r = txn_check(&m->txn[i], i, writes, err, err_len);
    return r;
}

/* The frame's data: a REPOP's WRITE payloads, a PUSH's or a PULL reply's
 * object bytes, nothing otherwise. */
static int data_check(const struct proto_osd_peer *m, uint64_t writes, uint64_t data_len,
                      char *err, size_t err_len)
{
    unsigned long long dl = data_len;

    switch (m->op) {
    case PROTO_PEER_REPOP:
        if (writes != data_len)
            return bad_at(err, err_len, NULL, 0, "txn writes of %llu bytes but %llu bytes of data",
                          (unsigned long long)writes, dl);
        return 0;
    case PROTO_PEER_PULL:
    case PROTO_PEER_PUSH:
        if (!m->exists && data_len)
            return bad_at(err, err_len, NULL, 0, "%llu bytes of data for an absent object", dl);
        if ((m->exists || m->op == PROTO_PEER_PUSH) && m->size != data_len)
            return bad_at(err, err_len, NULL, 0, "size %llu but %llu bytes of data",
                          (unsigned long long)m->size, dl);
        return 0;
    default:
        if (data_len)
            return bad_at(err, err_len, NULL, 0, "op %u carries no data but %llu bytes came",
                          m->op, dl);
        return 0;
    }
}

/* ---- encode ------------------------------------------------------------- */

void proto_osd_peer_init(struct proto_osd_peer *m)
{
    memset(m, 0, sizeof(*m));
    m->from = -1;
}

/* A bytes field for encoding: absent when empty. */
static void set_bytes(protobuf_c_boolean *has, ProtobufCBinaryData *f, struct proto_bytes b)
{
    *has = b.len != 0;
    f->data = (uint8_t *)b.p;
    f->len = b.len;
}

/* The protobuf form of the arrays of a message, in one allocation. */
struct peer_pb {
    void *mem;
    Cairn__PgLogEntry *entries, **entry_ptrs;
    ProtobufCBinaryData *names;
    Cairn__PeerKv *kvs, **kv_ptrs; /* xattrs, then omap */
    Cairn__TxnOp *txn, **txn_ptrs;
};

static int peer_pb_alloc(const struct proto_osd_peer *m, struct peer_pb *pb)
{
    size_t n_kv = (size_t)m->n_xattrs + m->n_omap;
    size_t sizes[] = {
        m->n_entries * sizeof(*pb->entries), m->n_entries * sizeof(*pb->entry_ptrs),
        m->n_names * sizeof(*pb->names),     n_kv * sizeof(*pb->kvs),
        n_kv * sizeof(*pb->kv_ptrs),         m->n_txn * sizeof(*pb->txn),
        m->n_txn * sizeof(*pb->txn_ptrs),
    };
    size_t offs[sizeof(sizes) / sizeof(sizes[0])], total = 0;

    /* The counts were checked, so none of this overflows. */
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        offs[i] = total;
        total += round_up(sizes[i]);
    }
    char *p = malloc(total + 1);
    if (!p)
        return -ENOMEM;
    pb->mem = p;
    pb->entries = (Cairn__PgLogEntry *)(p + offs[0]);
    pb->entry_ptrs = (Cairn__PgLogEntry **)(p + offs[1]);
    pb->names = (ProtobufCBinaryData *)(p + offs[2]);
    pb->kvs = (Cairn__PeerKv *)(p + offs[3]);
    pb->kv_ptrs = (Cairn__PeerKv **)(p + offs[4]);
    pb->txn = (Cairn__TxnOp *)(p + offs[5]);
    pb->txn_ptrs = (Cairn__TxnOp **)(p + offs[6]);
    return 0;
}

static void entry_to_pb(const struct proto_pg_log_entry *e, Cairn__PgLogEntry *p)
{
    cairn__pg_log_entry__init(p);
    p->has_version = e->version != 0;
    p->version = e->version;
    p->has_op = true;
    p->op = e->op;
    set_bytes(&p->has_oid, &p->oid, e->oid);
    p->has_client_id = e->client_id != 0;
    p->client_id = e->client_id;
    p->has_tid = e->tid != 0;
    p->tid = e->tid;
    set_bytes(&p->has_reply, &p->reply, e->reply);
}

static void txn_to_pb(const struct proto_txn_op *t, Cairn__TxnOp *p)
{
    cairn__txn_op__init(p);
    p->has_type = true;
    p->type = t->type;
    set_bytes(&p->has_oid, &p->oid, t->oid);
    set_bytes(&p->has_key, &p->key, t->key);
    set_bytes(&p->has_val, &p->val, t->val);
    p->has_off = t->off != 0;
    p->off = t->off;
    p->has_len = t->len != 0;
    p->len = t->len;
}

static void kvs_to_pb(const struct proto_peer_kv *kvs, uint32_t n, Cairn__PeerKv *p,
                      Cairn__PeerKv **ptrs)
{
    for (uint32_t i = 0; i < n; i++) {
        cairn__peer_kv__init(&p[i]);
        set_bytes(&p[i].has_key, &p[i].key, kvs[i].key);
        set_bytes(&p[i].has_value, &p[i].value, kvs[i].value);
        ptrs[i] = &p[i];
    }
}

static void arrays_to_pb(const struct proto_osd_peer *m, struct peer_pb *pb, Cairn__OsdPeer *p)
{
    for (uint32_t i = 0; i < m->n_entries; i++) {
        entry_to_pb(&m->entries[i], &pb->entries[i]);
        pb->entry_ptrs[i] = &pb->entries[i];
    }
    p->n_entries = m->n_entries;
    p->entries = pb->entry_ptrs;
    for (uint32_t i = 0; i < m->n_names; i++) {
        pb->names[i].data = (uint8_t *)m->names[i].p;
        pb->names[i].len = m->names[i].len;
    }
    p->n_names = m->n_names;
    p->names = pb->names;
    p->n_versions = m->n_names;
    p->versions = m->versions;
    kvs_to_pb(m->xattrs, m->n_xattrs, pb->kvs, pb->kv_ptrs);
    p->n_xattrs = m->n_xattrs;
    p->xattrs = pb->kv_ptrs;
    kvs_to_pb(m->omap, m->n_omap, pb->kvs + m->n_xattrs, pb->kv_ptrs + m->n_xattrs);
    p->n_omap = m->n_omap;
    p->omap = pb->kv_ptrs + m->n_xattrs;
    for (uint32_t i = 0; i < m->n_txn; i++) {
        txn_to_pb(&m->txn[i], &pb->txn[i]);
        pb->txn_ptrs[i] = &pb->txn[i];
    }
    p->n_txn = m->n_txn;
    p->txn = pb->txn_ptrs;
}

static void info_to_pb(const struct proto_pg_info *info, Cairn__PgInfo *p)
{
    cairn__pg_info__init(p);
    p->has_exists = info->exists;
    p->exists = info->exists;
    p->has_last_update = info->last_update != 0;
    p->last_update = info->last_update;
    p->has_last_complete = info->last_complete != 0;
    p->last_complete = info->last_complete;
    p->has_log_tail = info->log_tail != 0;
    p->log_tail = info->log_tail;
    p->has_act_epoch = info->act_epoch != 0;
    p->act_epoch = info->act_epoch;
    p->has_objects = info->objects != 0;
    p->objects = info->objects;
}

/* Sets an optional scalar field of @p when it differs from its default. */
#define SET_FIELD(p, field, value, dflt)                                                           \
    do {                                                                                           \
        (p)->has_##field = (value) != (dflt);                                                      \
        (p)->field = (value);                                                                      \
    } while (0)

static void head_to_pb(const struct proto_osd_peer *m, Cairn__OsdPeer *p)
{
    SET_FIELD(p, op, m->op, 0u);
    SET_FIELD(p, result, m->result, 0);
    p->message = m->message[0] ? (char *)m->message : NULL;
    SET_FIELD(p, from, m->from, -1);
    SET_FIELD(p, epoch, m->epoch, 0u);
    SET_FIELD(p, pool, m->pool, 0);
    SET_FIELD(p, pg, m->pg, 0u);
    SET_FIELD(p, act_epoch, m->act_epoch, 0u);
    SET_FIELD(p, after, m->after, 0u);
    set_bytes(&p->has_after_name, &p->after_name, m->after_name);
    SET_FIELD(p, max, m->max, 0u);
    SET_FIELD(p, more, m->more, false);
    SET_FIELD(p, base_version, m->base, 0u);
    SET_FIELD(p, last_update, m->last_update, 0u);
    SET_FIELD(p, log_tail, m->log_tail, 0u);
    SET_FIELD(p, backfill, m->backfill, false);
    SET_FIELD(p, prev, m->prev, 0u);
    SET_FIELD(p, log_only, m->log_only, false);
    set_bytes(&p->has_oid, &p->oid, m->oid);
    SET_FIELD(p, exists, m->exists, false);
    SET_FIELD(p, size, m->size, 0u);
    SET_FIELD(p, deep, m->deep, false);
    SET_FIELD(p, obj_version, m->obj_version, 0u);
    SET_FIELD(p, attr_digest, m->attr_digest, 0u);
    SET_FIELD(p, omap_digest, m->omap_digest, 0u);
    SET_FIELD(p, data_digest, m->data_digest, 0u);
    SET_FIELD(p, read_error, m->read_error, 0);
}

int proto_osd_peer_encode(const struct proto_osd_peer *m, uint8_t **buf, size_t *len)
{
    Cairn__OsdPeer p = CAIRN__OSD_PEER__INIT;
    Cairn__PgInfo info;
    struct peer_pb pb;
    uint64_t writes;

    if (strnlen(m->message, sizeof(m->message)) == sizeof(m->message) ||
        peer_check(m, &writes, NULL, 0) < 0)
        return -EINVAL;
    if (peer_pb_alloc(m, &pb) < 0)
        return -ENOMEM;
    head_to_pb(m, &p);
    if (m->has_info) {
        info_to_pb(&m->info, &info);
        p.info = &info;
    }
    arrays_to_pb(m, &pb, &p);
    int r = proto__pb_pack(&p.base, buf, len);
    free(pb.mem);
    return r;
}

/* ---- decode ------------------------------------------------------------- */

static struct proto_bytes from_pb_bytes(ProtobufCBinaryData b)
{
    return (struct proto_bytes){.p = b.data, .len = b.len};
}

/* The counts of @p, before anything is allocated for them. */
static int counts_check_pb(const Cairn__OsdPeer *p, char *err, size_t err_len)
{
    int r = count_check(p->n_entries, p->entries, PROTO_PEER_ENTRIES_MAX, "entries", err,
                        err_len);
    if (r == 0)
        r = count_check(p->n_names, p->names, PROTO_PEER_NAMES_MAX, "names", err, err_len);
    if (r == 0 && p->n_versions != p->n_names)
        r = bad_at(err, err_len, NULL, 0, "%zu names but %zu versions", p->n_names,
                   p->n_versions);
    if (r == 0)
        r = count_check(p->n_xattrs, p->xattrs, PROTO_PEER_KV_MAX, "xattrs", err, err_len);
    if (r == 0)
        r = count_check(p->n_omap, p->omap, PROTO_PEER_KV_MAX, "omap entries", err, err_len);
    if (r == 0)
        r = count_check(p->n_txn, p->txn, PROTO_PEER_TXN_MAX, "txn ops", err, err_len);
    return r;
}

static void head_from_pb(const Cairn__OsdPeer *p, struct proto_osd_peer *m)
{
    size_t msg_len = p->message ? strlen(p->message) : 0;

    proto_osd_peer_init(m);
    m->op = p->op;
    m->result = p->result;
    /* A longer reason is cut, not refused: it is only for humans. */
    if (msg_len >= sizeof(m->message))
        msg_len = sizeof(m->message) - 1;
    memcpy(m->message, p->message ? p->message : "", msg_len);
    m->message[msg_len] = '\0';
    m->from = p->has_from ? p->from : -1;
    m->epoch = p->epoch;
    m->pool = p->pool;
    m->pg = p->pg;
    m->act_epoch = p->act_epoch;
    m->after = p->after;
    m->after_name = from_pb_bytes(p->after_name);
    m->max = p->max;
    m->more = p->more;
    m->base = p->base_version;
    m->last_update = p->last_update;
    m->log_tail = p->log_tail;
    m->backfill = p->backfill;
    m->prev = p->prev;
    m->log_only = p->log_only;
    m->oid = from_pb_bytes(p->oid);
    m->exists = p->exists;
    m->size = p->size;
    m->deep = p->deep;
    m->obj_version = p->obj_version;
    m->attr_digest = p->attr_digest;
    m->omap_digest = p->omap_digest;
    m->data_digest = p->data_digest;
    m->read_error = p->read_error;
}

static void info_from_pb(const Cairn__PgInfo *p, struct proto_pg_info *info)
{
    info->exists = p->exists;
    info->last_update = p->last_update;
    info->last_complete = p->last_complete;
    info->log_tail = p->log_tail;
    info->act_epoch = p->act_epoch;
    info->objects = p->objects;
}

static void entry_from_pb(const Cairn__PgLogEntry *p, struct proto_pg_log_entry *e)
{
    e->version = p->version;
    e->op = p->op;
    e->oid = from_pb_bytes(p->oid);
    e->client_id = p->client_id;
    e->tid = p->tid;
    e->reply = from_pb_bytes(p->reply);
}

static void txn_from_pb(const Cairn__TxnOp *p, struct proto_txn_op *t)
{
    t->type = p->type;
    t->oid = from_pb_bytes(p->oid);
    t->key = from_pb_bytes(p->key);
    t->val = from_pb_bytes(p->val);
    t->off = p->off;
    t->len = p->len;
    t->data_off = 0;
}

static void kvs_from_pb(Cairn__PeerKv *const *p, size_t n, struct proto_peer_kv *kvs)
{
    for (size_t i = 0; i < n; i++) {
        kvs[i].key = from_pb_bytes(p[i]->key);
        kvs[i].value = from_pb_bytes(p[i]->value);
    }
}

/* Allocates the priv block of @m (counts checked) and fills the arrays. */
static int arrays_from_pb(Cairn__OsdPeer *p, struct proto_osd_peer *m)
{
    size_t n_kv = p->n_xattrs + p->n_omap;
    size_t off_entries = round_up(sizeof(struct peer_priv));
    size_t off_names = off_entries + round_up(p->n_entries * sizeof(*m->entries));
    size_t off_kvs = off_names + round_up(p->n_names * sizeof(*m->names));
    size_t off_txn = off_kvs + round_up(n_kv * sizeof(*m->xattrs));
    size_t total = off_txn + p->n_txn * sizeof(*m->txn);

    char *mem = calloc(1, total);
    if (!mem)
        return -ENOMEM;
    struct peer_priv *priv = (struct peer_priv *)mem;
    priv->pb = p;
    m->priv = priv;
    m->n_entries = (uint32_t)p->n_entries;
    m->entries = p->n_entries ? (struct proto_pg_log_entry *)(mem + off_entries) : NULL;
    for (size_t i = 0; i < p->n_entries; i++)
        entry_from_pb(p->entries[i], &m->entries[i]);
    m->n_names = (uint32_t)p->n_names;
    m->names = p->n_names ? (struct proto_bytes *)(mem + off_names) : NULL;
    m->versions = p->n_names ? p->versions : NULL;
    for (size_t i = 0; i < p->n_names; i++)
        m->names[i] = from_pb_bytes(p->names[i]);
    m->n_xattrs = (uint32_t)p->n_xattrs;
    m->xattrs = p->n_xattrs ? (struct proto_peer_kv *)(mem + off_kvs) : NULL;
    kvs_from_pb(p->xattrs, p->n_xattrs, m->xattrs);
    m->n_omap = (uint32_t)p->n_omap;
    m->omap = p->n_omap ? (struct proto_peer_kv *)(mem + off_kvs) + p->n_xattrs : NULL;
    kvs_from_pb(p->omap, p->n_omap, m->omap);
    m->n_txn = (uint32_t)p->n_txn;
    m->txn = p->n_txn ? (struct proto_txn_op *)(mem + off_txn) : NULL;
    for (size_t i = 0; i < p->n_txn; i++)
        txn_from_pb(p->txn[i], &m->txn[i]);
    return 0;
}

/* Converts @p into @m and checks it; on failure @m holds nothing to free
 * but @p. */
static int peer_from_pb(Cairn__OsdPeer *p, uint64_t data_len, struct proto_osd_peer *m,
                        char *err, size_t err_len)
{
    uint64_t writes, off = 0;

    head_from_pb(p, m);
    if (p->info) {
        m->has_info = true;
        info_from_pb(p->info, &m->info);
    }
    int r = counts_check_pb(p, err, err_len);
    if (r == 0) {
        r = arrays_from_pb(p, m);
        if (r < 0) {
            bad_at(err, err_len, NULL, 0, "out of memory");
            return r;
        }
    }
    if (r == 0)
        r = peer_check(m, &writes, err, err_len);
    if (r == 0)
        r = data_check(m, writes, data_len, err, err_len);
    if (r < 0) {
        free(m->priv);
        m->priv = NULL;
        return r;
    }
    for (uint32_t i = 0; i < m->n_txn; i++) {
        if (m->txn[i].type != PROTO_TXN_WRITE)
            continue;
        m->txn[i].data_off = off;
        off += m->txn[i].len;
    }
    return 0;
}

int proto_osd_peer_decode(const uint8_t *buf, size_t len, uint64_t data_len,
                          struct proto_osd_peer *m, char *err, size_t err_len)
{
    struct proto_osd_peer tmp;

    Cairn__OsdPeer *p = cairn__osd_peer__unpack(NULL, len, buf);
    if (!p) {
        bad_at(err, err_len, NULL, 0, "peer metadata does not parse");
        return -EBADMSG;
    }
    int r = peer_from_pb(p, data_len, &tmp, err, err_len);
    if (r < 0) {
        cairn__osd_peer__free_unpacked(p, NULL);
        return r;
    }
    *m = tmp;
    return 0;
}

void proto_osd_peer_release(struct proto_osd_peer *m)
{
    struct peer_priv *priv = m->priv;

    if (!priv)
        return; /* not decoded: the caller owns the arrays */
    cairn__osd_peer__free_unpacked(priv->pb, NULL);
    free(priv);
    m->priv = NULL;
    m->n_entries = m->n_names = m->n_xattrs = m->n_omap = m->n_txn = 0;
    m->entries = NULL;
    m->names = NULL;
    m->versions = NULL;
    m->xattrs = m->omap = NULL;
    m->txn = NULL;
    m->oid = m->after_name = (struct proto_bytes){0};
}

/* The store crash test's model: deterministic payloads, objects as the
 * acknowledged transactions left them, comparing them with a store, and
 * building store transactions from their descriptions (store_crash.h). */
#define _GNU_SOURCE
#include "store_crash.h"

#include <sys/mman.h>

/* ---- Deterministic data ------------------------------------------------ */

uint64_t crash_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rng_next(struct rng *r)
{
    r->s = crash_mix64(r->s);
    return r->s;
}

/* Uniform in [0, n); n > 0. */
uint32_t crash_rng_below(struct rng *r, uint32_t n)
{
    CAIRN_ASSERT(n > 0);
    return (uint32_t)(rng_next(r) % n);
}

static void fill_payload(uint8_t *buf, size_t len, uint64_t seq, unsigned obj, unsigned opi)
{
    uint64_t s = crash_mix64(seq ^ ((uint64_t)obj << 48) ^ ((uint64_t)opi << 40));
    struct stamp st = {
        .magic = STAMP_MAGIC, .obj = (uint16_t)obj, .opi = (uint16_t)opi, .seq = seq};

    for (size_t i = 0; i < len; i += 8) {
        s = crash_mix64(s);
        memcpy(buf + i, &s, CAIRN_MIN(sizeof(s), len - i));
    }
    if (len >= sizeof(st))
        memcpy(buf, &st, sizeof(st));
}

void crash_coll_name(unsigned coll, char *buf, size_t cap)
{
    snprintf(buf, cap, "pg.1.%u", coll);
}

void crash_oid_name(unsigned obj, char *buf, size_t cap)
{
    snprintf(buf, cap, "rbd_data.crash.%04u", obj);
}

static void xattr_name(unsigned slot, char *buf, size_t cap)
{
    snprintf(buf, cap, "user.attr%u", slot);
}

static void omap_key(unsigned slot, char *buf, size_t cap)
{
    snprintf(buf, cap, "key.%02u", slot);
}

noreturn void crash_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

uint64_t crash_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- The model ------------------------------------------------------- */

void crash_obj_init(struct obj_state *o)
{
    memset(o, 0, sizeof(*o));
    /* Shared with forked children: the parent's model is updated by the
     * child that verifies a round (store_crash.c: run_in_child). */
    o->data = mmap(NULL, OBJ_SIZE_MAX, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (o->data == MAP_FAILED)
        crash_die("out of memory");
}

static void obj_clear(struct obj_state *o)
{
    memset(o->data, 0, o->size);
    o->exists = false;
    o->size = 0;
    memset(o->xattr, 0, sizeof(o->xattr));
    memset(o->omap, 0, sizeof(o->omap));
}

void crash_obj_copy(struct obj_state *dst, const struct obj_state *src)
{
    uint8_t *data = dst->data;

    memcpy(data, src->data, OBJ_SIZE_MAX);
    *dst = *src;
    dst->data = data;
}

static void kv_set(struct kv_slot *kv, const struct op *op, uint64_t seq, unsigned opi)
{
    kv->present = true;
    kv->len = (uint16_t)op->len;
    fill_payload(kv->val, op->len, seq, op->obj, opi);
}

/* Applies operation @opi of transaction @seq to the object it names. */
void crash_obj_apply_op(struct obj_state *o, const struct op *op, uint64_t seq, unsigned opi)
{
    switch (op->code) {
    case OP_TOUCH:
    case OP_CREATE_EXCL:
        o->exists = true;
        break;
    case OP_WRITE:
        fill_payload(o->data + op->off, op->len, seq, op->obj, opi);
        o->size = CAIRN_MAX(o->size, op->off + op->len);
        break;
    case OP_ZERO:
        memset(o->data + op->off, 0, op->len);
        break;
    case OP_TRUNCATE:
        if (op->off < o->size)
            memset(o->data + op->off, 0, o->size - op->off);
        o->size = op->off;
        break;
    case OP_REMOVE:
        obj_clear(o);
        break;
    case OP_SETXATTR:
        kv_set(&o->xattr[op->slot], op, seq, opi);
        break;
    case OP_RMXATTR:
        o->xattr[op->slot].present = false;
        break;
    case OP_OMAP_SET:
        kv_set(&o->omap[op->slot], op, seq, opi);
        break;
    case OP_OMAP_RM:
        o->omap[op->slot].present = false;
        break;
    case OP_OMAP_CLEAR:
        memset(o->omap, 0, sizeof(o->omap));
        break;
    default:
        CAIRN_ASSERT(!"unknown op");
    }
}

/* Applies the operations of @d that touch object @obj, in order, to @o. */
void crash_obj_apply_txn(struct obj_state *o, unsigned obj, const struct txn_desc *d)
{
    for (unsigned i = 0; i < d->nops; i++)
        if (d->ops[i].obj == obj)
            crash_obj_apply_op(o, &d->ops[i], d->seq, i);
}

bool crash_txn_touches(const struct txn_desc *d, unsigned obj)
{
    for (unsigned i = 0; i < d->nops; i++)
        if (d->ops[i].obj == obj)
            return true;
    return false;
}

static const char *op_name(unsigned code)
{
    static const char *const names[] = {
        [OP_TOUCH] = "touch",       [OP_CREATE_EXCL] = "create_excl", [OP_WRITE] = "write",
        [OP_ZERO] = "zero",         [OP_TRUNCATE] = "truncate",       [OP_REMOVE] = "remove",
        [OP_SETXATTR] = "setxattr", [OP_RMXATTR] = "rmxattr",         [OP_OMAP_SET] = "omap_set",
        [OP_OMAP_RM] = "omap_rm",   [OP_OMAP_CLEAR] = "omap_clear",
    };

    return code < CAIRN_ARRAY_SIZE(names) && names[code] ? names[code] : "?";
}

void crash_txn_print(const struct txn_desc *d)
{
    fprintf(stderr, "  txn seq=%" PRIu64 " coll=%u ops=%u:\n", d->seq, d->coll, d->nops);
    for (unsigned i = 0; i < d->nops; i++) {
        const struct op *op = &d->ops[i];
        fprintf(stderr, "    [%u] %s obj=%u off=%" PRIu64 " len=%u slot=%u\n", i, op_name(op->code),
                op->obj, op->off, op->len, op->slot);
    }
}

/* ---- Comparing an object with the model ------------------------------ */

/* Describes where the bytes found at @off came from, using the nearest stamp. */
static void describe_found(const uint8_t *data, uint64_t off, char *buf, size_t cap)
{
    uint64_t lo = off > 65536 ? off - 65536 : 0;
    struct stamp st;

    snprintf(buf, cap, "no stamp nearby");
    for (uint64_t p = off + 1; p-- > lo;) {
        if (p + sizeof(st) > OBJ_SIZE_MAX)
            continue;
        memcpy(&st, data + p, sizeof(st));
        if (st.magic == STAMP_MAGIC) {
            snprintf(buf, cap, "stamp at %" PRIu64 ": seq=%" PRIu64 " obj=%u op=%u", p, st.seq,
                     st.obj, st.opi);
            return;
        }
    }
}

static bool kv_diff(const char *what, unsigned slot, const struct kv_slot *e,
                    const struct kv_slot *f, char *msg, size_t cap)
{
    if (e->present != f->present) {
        snprintf(msg, cap, "%s %u: expected %s, found %s", what, slot,
                 e->present ? "present" : "absent", f->present ? "present" : "absent");
        return false;
    }
    if (e->present && (e->len != f->len || memcmp(e->val, f->val, e->len) != 0)) {
        snprintf(msg, cap, "%s %u: value differs (expected len %u, found len %u)", what, slot,
                 e->len, f->len);
        return false;
    }
    return true;
}

static bool data_diff(const struct obj_state *e, const struct obj_state *f, char *msg, size_t cap)
{
    uint64_t first = 0, count = 0;
    char where[96];

    for (uint64_t i = 0; i < e->size; i++) {
        if (e->data[i] != f->data[i] && count++ == 0)
            first = i;
    }
    if (count == 0)
        return true;
    describe_found(f->data, first, where, sizeof(where));
    snprintf(msg, cap,
             "data differs at offset %" PRIu64 " (block %" PRIu64 "): expected 0x%02x, found "
             "0x%02x, %" PRIu64 " bytes differ; found bytes: %s",
             first, first / OSD_STORE_BLOCK, e->data[first], f->data[first], count, where);
    return false;
}

/* True when @f equals the expected @e; otherwise describes the first
 * difference in @msg. */
bool crash_obj_equal(const struct obj_state *e, const struct obj_state *f, char *msg, size_t cap)
{
    if (e->exists != f->exists) {
        snprintf(msg, cap, "expected %s, found %s", e->exists ? "present" : "absent",
                 f->exists ? "present" : "absent");
        return false;
    }
    if (e->size != f->size) {
        snprintf(msg, cap, "size: expected %" PRIu64 ", found %" PRIu64, e->size, f->size);
        return false;
    }
    if (!data_diff(e, f, msg, cap))
        return false;
    for (unsigned i = 0; i < N_XATTR; i++)
        if (!kv_diff("xattr", i, &e->xattr[i], &f->xattr[i], msg, cap))
            return false;
    for (unsigned i = 0; i < N_OMAP; i++)
        if (!kv_diff("omap key", i, &e->omap[i], &f->omap[i], msg, cap))
            return false;
    return true;
}

/* ---- Reading an object back from the store --------------------------- */

struct kv_load {
    struct kv_slot *slots;
    unsigned nslots;
    bool is_xattr;
    char err[128];
};

static int kv_load_cb(const void *key, size_t key_len, const void *value, size_t value_len,
                      void *arg)
{
    struct kv_load *l = arg;
    char name[64];

    for (unsigned i = 0; i < l->nslots; i++) {
        if (l->is_xattr)
            xattr_name(i, name, sizeof(name));
        else
            omap_key(i, name, sizeof(name));
        if (strlen(name) != key_len || memcmp(name, key, key_len) != 0)
            continue;
        if (value_len > KV_VAL_MAX || l->slots[i].present) {
            snprintf(l->err, sizeof(l->err), "%s: bad entry (value %zu bytes, seen before %d)",
                     name, value_len, l->slots[i].present);
            return 1;
        }
        l->slots[i].present = true;
        l->slots[i].len = (uint16_t)value_len;
        memcpy(l->slots[i].val, value, value_len);
        return 0;
    }
    snprintf(l->err, sizeof(l->err), "unexpected %s of %zu bytes",
             l->is_xattr ? "xattr" : "omap key", key_len);
    return 1;
}

/* Checks the point lookups (getxattr, omap_get) against the listed slots. */
static int kv_crosscheck(struct osd_store *st, const char *coll, const char *oid,
                         const struct obj_state *f, char *msg, size_t cap)
{
    uint8_t val[KV_VAL_MAX];
    char name[64];
    size_t len = 0;
    int rc;

    for (unsigned i = 0; i < N_XATTR + N_OMAP; i++) {
        bool x = i < N_XATTR;
        const struct kv_slot *kv = x ? &f->xattr[i] : &f->omap[i - N_XATTR];

        if (x) {
            xattr_name(i, name, sizeof(name));
            rc = osd_store_getxattr(st, coll, oid, name, val, sizeof(val), &len);
        } else {
            omap_key(i - N_XATTR, name, sizeof(name));
            rc = osd_store_omap_get(st, coll, oid, name, strlen(name), val, sizeof(val), &len);
        }
        if (kv->present && rc == 0 && len == kv->len && memcmp(val, kv->val, len) == 0)
            continue;
        if (!kv->present && (rc == -ENODATA || (!x && rc == -ENOENT)))
            continue;
        snprintf(msg, cap, "%s %s: listed as %s (len %u) but lookup returned %d, len %zu",
                 x ? "getxattr" : "omap_get", name, kv->present ? "present" : "absent", kv->len, rc,
                 len);
        return -EBADMSG;
    }
    return 0;
}

static int obj_load_kv(struct osd_store *st, const char *coll, const char *oid, struct obj_state *f,
                       char *msg, size_t cap)
{
    struct kv_load xl = {.slots = f->xattr, .nslots = N_XATTR, .is_xattr = true};
    struct kv_load ol = {.slots = f->omap, .nslots = N_OMAP, .is_xattr = false};
    bool more = false;
    int rc;

    rc = osd_store_xattrs(st, coll, oid, kv_load_cb, &xl);
    if (rc != 0) {
        snprintf(msg, cap, "osd_store_xattrs: %d %s", rc, xl.err);
        return rc < 0 ? rc : -EBADMSG;
    }
    rc = osd_store_omap_list(st, coll, oid, NULL, 0, 1000, kv_load_cb, &ol, &more);
    if (rc != 0 || more) {
        snprintf(msg, cap, "osd_store_omap_list: %d more=%d %s", rc, more, ol.err);
        return rc < 0 ? rc : -EBADMSG;
    }
    return kv_crosscheck(st, coll, oid, f, msg, cap);
}

/* Reads object @obj (data, size, xattrs, omap) from the store into @f.
 * Returns 0, or -errno with @msg saying what failed. */
int crash_obj_load(struct osd_store *st, unsigned obj, struct obj_state *f, char *msg, size_t cap)
{
    char coll[32], oid[64];
    struct osd_obj_stat ost;
    size_t got = 0;
    int rc;

    obj_clear(f);
    crash_coll_name(obj % N_COLL, coll, sizeof(coll));
    crash_oid_name(obj, oid, sizeof(oid));
    rc = osd_store_stat(st, coll, oid, &ost);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0 || ost.size > OBJ_SIZE_MAX) {
        snprintf(msg, cap, "osd_store_stat: %d (%s), size %" PRIu64, rc, strerror(-rc),
                 rc < 0 ? 0 : ost.size);
        return rc < 0 ? rc : -EBADMSG;
    }
    f->exists = true;
    rc = osd_store_read(st, coll, oid, 0, OBJ_SIZE_MAX, f->data, &got);
    if (rc < 0 || got != ost.size) {
        snprintf(msg, cap, "osd_store_read: %d (%s), got %zu bytes of %" PRIu64, rc, strerror(-rc),
                 got, ost.size);
        memset(f->data, 0, OBJ_SIZE_MAX);
        return rc < 0 ? rc : -EBADMSG;
    }
    f->size = ost.size;
    return obj_load_kv(st, coll, oid, f, msg, cap);
}

/* ---- Building a store transaction from its description --------------- */

static int txn_add_op(struct osd_txn *t, const struct txn_desc *d, unsigned i, uint8_t *scratch)
{
    const struct op *op = &d->ops[i];
    char oid[64], name[64];

    crash_oid_name(op->obj, oid, sizeof(oid));
    switch (op->code) {
    case OP_TOUCH:
        return osd_txn_touch(t, oid);
    case OP_CREATE_EXCL:
        return osd_txn_create_exclusive(t, oid);
    case OP_WRITE:
        fill_payload(scratch, op->len, d->seq, op->obj, i);
        return osd_txn_write(t, oid, op->off, scratch, op->len);
    case OP_ZERO:
        return osd_txn_zero(t, oid, op->off, op->len);
    case OP_TRUNCATE:
        return osd_txn_truncate(t, oid, op->off);
    case OP_REMOVE:
        return osd_txn_remove(t, oid);
    case OP_SETXATTR:
        xattr_name(op->slot, name, sizeof(name));
        fill_payload(scratch, op->len, d->seq, op->obj, i);
        return osd_txn_setxattr(t, oid, name, scratch, op->len);
    case OP_RMXATTR:
        xattr_name(op->slot, name, sizeof(name));
        return osd_txn_rmxattr(t, oid, name);
    case OP_OMAP_SET:
        omap_key(op->slot, name, sizeof(name));
        fill_payload(scratch, op->len, d->seq, op->obj, i);
        return osd_txn_omap_set(t, oid, name, strlen(name), scratch, op->len);
    case OP_OMAP_RM:
        omap_key(op->slot, name, sizeof(name));
        return osd_txn_omap_rm(t, oid, name, strlen(name));
    case OP_OMAP_CLEAR:
        return osd_txn_omap_clear(t, oid);
    }
    return -EINVAL;
}

int crash_txn_build(const struct txn_desc *d, uint8_t *scratch, struct osd_txn **out)
{
    char coll[32];
    struct osd_txn *t;
    int rc;

    crash_coll_name(d->coll, coll, sizeof(coll));
    t = osd_txn_create(coll);
    if (!t)
        return -ENOMEM;
    for (unsigned i = 0; i < d->nops; i++) {
        rc = txn_add_op(t, d, i, scratch);
        if (rc < 0) {
            osd_txn_destroy(t);
            return rc;
        }
    }
    CAIRN_ASSERT(osd_txn_op_count(t) == d->nops);
    *out = t;
    return 0;
}

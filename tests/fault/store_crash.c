/* Crash-consistency test for the object store (osd/store/store.h): no
 * acknowledged transaction is lost, and no transaction is ever torn.
 *
 * The parent creates a store and runs rounds. In each round a forked child
 * opens the store and queues random transactions (many in flight, at most one
 * per object), reporting each one to the parent through a pipe: SUBMIT (the
 * whole transaction) before osd_store_queue(), ACK once the callback fired.
 * The parent SIGKILLs the child 5-300 ms after it started writing, reopens
 * the store and checks every object (data, size, xattrs, omap) against its
 * model: the state after the acknowledged transactions, or after the one
 * in-flight transaction too, which must then be present in all of its objects
 * or in none. A deep fsck must report no error. Every seventh round kills
 * the child 0-30 ms after fork instead, while it opens the store and replays
 * deferred writes; every tenth round the child closes the store cleanly, and
 * nothing may be left in flight.
 *
 * SIGKILL keeps the page cache, so this proves process-crash consistency;
 * power loss needs the simulated disk (tests/sim). Run by ctest (labels
 * store, fault); `store_crash --help` lists the options. */
#define _GNU_SOURCE
#include "common/assert.h"
#include "common/log.h"
#include "osd/store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_OBJ 40u                 /* objects, spread over the collections */
#define N_COLL 2u                 /* collections; object i lives in i % N_COLL */
#define OBJ_SIZE_MAX (512u << 10) /* no write or truncate goes beyond, bytes */
#define N_XATTR 4u                /* xattr names per object */
#define N_OMAP 12u                /* omap keys per object */
#define KV_VAL_MAX 200u           /* xattr and omap value length, bytes */
#define TXN_OPS_MAX 10u           /* operations per transaction */
#define CHILD_DEPTH 20u           /* transactions in flight in the child */
#define DATA_SIZE_BYTES (128ull << 20)
#define CLEAN_ROUND_EVERY 10u /* every Nth round ends with a clean close */
#define CLEAN_ROUND_TXNS 300u /* transactions a clean round runs */
#define READ_CHECK_EVERY 50u  /* the child re-reads an idle object this often */
#define KILL_DELAY_MS_MIN 5u
#define KILL_DELAY_MS_MAX 300u
#define KILL_OPEN_ROUND_EVERY 7u /* every Nth round kills the child while it opens */
#define KILL_OPEN_DELAY_MS_MAX 30u
#define CHILD_TIMEOUT_MS 60000 /* longest wait for any record from the child */
#define REC_MAGIC 0x43524153u
#define STAMP_MAGIC 0x53544d50u

enum op_code {
    OP_TOUCH = 1,
    OP_CREATE_EXCL,
    OP_WRITE,
    OP_ZERO,     /* only inside the object: zero past the end is not specified */
    OP_TRUNCATE, /* off is the new size */
    OP_REMOVE,
    OP_SETXATTR,
    OP_RMXATTR, /* only of a present xattr */
    OP_OMAP_SET,
    OP_OMAP_RM, /* only of a present key */
    OP_OMAP_CLEAR,
};

/* One operation; with the transaction's sequence number it determines every
 * byte the operation writes, so the parent can replay it into its model. */
struct op {
    uint8_t code; /* enum op_code */
    uint8_t obj;  /* object index */
    uint8_t slot; /* xattr name or omap key index */
    uint8_t pad;
    uint32_t len; /* bytes written or zeroed, or value length */
    uint64_t off; /* offset, or the new size for OP_TRUNCATE */
};

struct txn_desc {
    uint64_t seq; /* unique over the whole run */
    uint8_t coll; /* collection index */
    uint8_t nops;
    struct op ops[TXN_OPS_MAX];
};

enum rec_type { REC_READY = 1, REC_SUBMIT, REC_ACK };

/* What the child writes to the pipe; one write(2) each, atomic (PIPE_BUF). */
struct rec {
    uint32_t magic;
    uint32_t type;  /* enum rec_type */
    int32_t result; /* REC_ACK: the callback's result */
    uint32_t pad;
    struct txn_desc txn; /* REC_SUBMIT: the transaction; REC_ACK: seq only */
};
CAIRN_STATIC_ASSERT(sizeof(struct rec) <= PIPE_BUF, "a record must be one atomic pipe write");

/* Written at the start of every payload of 16 bytes or more, so a mismatch
 * report can say which transaction the found bytes came from. */
struct stamp {
    uint32_t magic;
    uint16_t obj;
    uint16_t opi;
    uint64_t seq;
};

struct kv_slot {
    bool present;
    uint16_t len;
    uint8_t val[KV_VAL_MAX];
};

/* An object as the model (or a read of the store) sees it. Invariant: data
 * past size is zero, so holes and extending truncates read as zeros. */
struct obj_state {
    bool exists;
    uint64_t size; /* bytes */
    uint8_t *data; /* OBJ_SIZE_MAX bytes */
    struct kv_slot xattr[N_XATTR];
    struct kv_slot omap[N_OMAP];
};

struct rng {
    uint64_t s;
};

/* ---- Deterministic data ------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t rng_next(struct rng *r)
{
    r->s = mix64(r->s);
    return r->s;
}

/* Uniform in [0, n); n > 0. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    CAIRN_ASSERT(n > 0);
    return (uint32_t)(rng_next(r) % n);
}

static void fill_payload(uint8_t *buf, size_t len, uint64_t seq, unsigned obj, unsigned opi)
{
    uint64_t s = mix64(seq ^ ((uint64_t)obj << 48) ^ ((uint64_t)opi << 40));
    struct stamp st = {
        .magic = STAMP_MAGIC, .obj = (uint16_t)obj, .opi = (uint16_t)opi, .seq = seq};

    for (size_t i = 0; i < len; i += 8) {
        s = mix64(s);
        memcpy(buf + i, &s, CAIRN_MIN(sizeof(s), len - i));
    }
    if (len >= sizeof(st))
        memcpy(buf, &st, sizeof(st));
}

static void coll_name(unsigned coll, char *buf, size_t cap)
{
    snprintf(buf, cap, "pg.1.%u", coll);
}

static void oid_name(unsigned obj, char *buf, size_t cap)
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

static noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static noreturn void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- The model ------------------------------------------------------- */

static void obj_init(struct obj_state *o)
{
    memset(o, 0, sizeof(*o));
    o->data = calloc(1, OBJ_SIZE_MAX);
    if (!o->data)
        die("out of memory");
}

static void obj_clear(struct obj_state *o)
{
    memset(o->data, 0, o->size);
    o->exists = false;
    o->size = 0;
    memset(o->xattr, 0, sizeof(o->xattr));
    memset(o->omap, 0, sizeof(o->omap));
}

static void obj_copy(struct obj_state *dst, const struct obj_state *src)
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
static void obj_apply_op(struct obj_state *o, const struct op *op, uint64_t seq, unsigned opi)
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
static void obj_apply_txn(struct obj_state *o, unsigned obj, const struct txn_desc *d)
{
    for (unsigned i = 0; i < d->nops; i++)
        if (d->ops[i].obj == obj)
            obj_apply_op(o, &d->ops[i], d->seq, i);
}

static bool txn_touches(const struct txn_desc *d, unsigned obj)
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

static void txn_print(const struct txn_desc *d)
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
static bool obj_equal(const struct obj_state *e, const struct obj_state *f, char *msg, size_t cap)
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
static int obj_load(struct osd_store *st, unsigned obj, struct obj_state *f, char *msg, size_t cap)
{
    char coll[32], oid[64];
    struct osd_obj_stat ost;
    size_t got = 0;
    int rc;

    obj_clear(f);
    coll_name(obj % N_COLL, coll, sizeof(coll));
    oid_name(obj, oid, sizeof(oid));
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

    oid_name(op->obj, oid, sizeof(oid));
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

static int txn_build(const struct txn_desc *d, uint8_t *scratch, struct osd_txn **out)
{
    char coll[32];
    struct osd_txn *t;
    int rc;

    coll_name(d->coll, coll, sizeof(coll));
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

/* ---- Generating random transactions (child) -------------------------- */

static void gen_add(struct txn_desc *d, struct obj_state *o, struct op op)
{
    CAIRN_ASSERT(d->nops < TXN_OPS_MAX);
    obj_apply_op(o, &op, d->seq, d->nops);
    d->ops[d->nops++] = op;
}

/* A write, a zero or a truncate: whole aligned blocks take the copy-on-write
 * path, small unaligned writes the deferred one. */
static struct op gen_data_op(struct rng *r, const struct obj_state *o, unsigned obj)
{
    struct op op = {.code = OP_WRITE, .obj = (uint8_t)obj};
    unsigned pick = rng_below(r, 100);
    uint32_t nblk;

    if (pick < 30) {
        nblk = rng_below(r, 8) == 0 ? 17 + rng_below(r, 48) : 1 + rng_below(r, 4);
        op.len = nblk * OSD_STORE_BLOCK;
        op.off =
            (uint64_t)rng_below(r, OBJ_SIZE_MAX / OSD_STORE_BLOCK - nblk + 1) * OSD_STORE_BLOCK;
    } else if (pick < 65) {
        op.len = 1 + rng_below(r, 3000);
        op.off = rng_below(r, OBJ_SIZE_MAX - op.len + 1);
    } else if (pick < 75) {
        op.len = OSD_STORE_BLOCK + 1 + rng_below(r, 40000);
        op.off = rng_below(r, OBJ_SIZE_MAX - op.len + 1);
    } else if (pick < 85 && o->size > 0) {
        op.code = OP_ZERO;
        op.off = rng_below(r, (uint32_t)o->size);
        op.len = 1 + rng_below(r, (uint32_t)CAIRN_MIN(o->size - op.off, 65536u));
        uint64_t a = CAIRN_ALIGN_UP(op.off, OSD_STORE_BLOCK);

        if (rng_below(r, 2) && a + OSD_STORE_BLOCK <= o->size) {
            uint64_t room = (o->size - a) / OSD_STORE_BLOCK;

            op.off = a;
            op.len = OSD_STORE_BLOCK * (1 + rng_below(r, (uint32_t)CAIRN_MIN(room, 16u)));
        }
    } else {
        op.code = OP_TRUNCATE;
        op.off = rng_below(r, OBJ_SIZE_MAX + 1);
        if (rng_below(r, 2))
            op.off = CAIRN_ALIGN_DOWN(op.off, OSD_STORE_BLOCK);
    }
    return op;
}

static struct op gen_meta_op(struct rng *r, const struct obj_state *o, unsigned obj)
{
    struct op op = {.obj = (uint8_t)obj};
    unsigned pick = rng_below(r, 100);

    if (pick < 30) {
        op.code = OP_SETXATTR;
        op.slot = (uint8_t)rng_below(r, N_XATTR);
        op.len = rng_below(r, KV_VAL_MAX + 1);
    } else if (pick < 40) {
        op.slot = (uint8_t)rng_below(r, N_XATTR);
        op.code = o->xattr[op.slot].present ? OP_RMXATTR : OP_TOUCH;
    } else if (pick < 75) {
        op.code = OP_OMAP_SET;
        op.slot = (uint8_t)rng_below(r, N_OMAP);
        op.len = rng_below(r, KV_VAL_MAX + 1);
    } else if (pick < 88) {
        op.slot = (uint8_t)rng_below(r, N_OMAP);
        op.code = o->omap[op.slot].present ? OP_OMAP_RM : OP_TOUCH;
    } else if (pick < 91) {
        op.code = OP_OMAP_CLEAR;
    } else {
        op.code = OP_REMOVE;
    }
    return op;
}

/* Appends 1-3 operations on object @obj to @d, valid against the child's
 * model @o (which they update): the store must accept all of them. */
static void gen_object_ops(struct rng *r, struct txn_desc *d, struct obj_state *o, unsigned obj)
{
    unsigned n = 1 + rng_below(r, 3);

    for (unsigned k = 0; k < n && d->nops + 2u <= TXN_OPS_MAX; k++) {
        if (!o->exists) {
            struct op create = {.code = rng_below(r, 2) ? OP_TOUCH : OP_CREATE_EXCL,
                                .obj = (uint8_t)obj};
            gen_add(d, o, create);
        }
        struct op op = rng_below(r, 100) < 60 ? gen_data_op(r, o, obj) : gen_meta_op(r, o, obj);
        gen_add(d, o, op);
    }
}

/* ---- The child: queues transactions until killed --------------------- */

struct child_slot {
    struct child *c;
    bool used;
    struct txn_desc d;
};

struct child {
    struct osd_store *store;
    int fd; /* the pipe to the parent */
    struct rng rng;
    struct obj_state *model; /* state after every submitted transaction (main thread) */
    struct obj_state found;  /* scratch for read checks (main thread) */
    uint8_t *scratch;        /* payload buffer (main thread) */
    uint64_t next_seq;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool busy[N_OBJ];                     /* a transaction on the object is in flight (lock) */
    unsigned in_flight;                   /* (lock) */
    struct child_slot slots[CHILD_DEPTH]; /* (lock) */
};

static void rec_send(int fd, const struct rec *rec)
{
    ssize_t n = write(fd, rec, sizeof(*rec));

    /* A short or failed write means the parent is gone or broken. */
    if (n != (ssize_t)sizeof(*rec))
        _exit(3);
}

/* Runs on the store's commit thread: one pipe write, then bookkeeping. */
static void child_txn_done(int result, void *arg)
{
    struct child_slot *s = arg;
    struct child *c = s->c;
    struct rec rec = {.magic = REC_MAGIC, .type = REC_ACK, .result = result};

    rec.txn.seq = s->d.seq;
    rec_send(c->fd, &rec);
    pthread_mutex_lock(&c->lock);
    for (unsigned i = 0; i < s->d.nops; i++)
        c->busy[s->d.ops[i].obj] = false;
    s->used = false;
    c->in_flight--;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* Picks 1-3 idle objects of one collection (under c->lock). Returns how many. */
static unsigned child_pick_objects(struct child *c, unsigned objs[3])
{
    unsigned start = rng_below(&c->rng, N_OBJ), want = 1 + rng_below(&c->rng, 100) / 60;
    unsigned n = 0, coll = N_COLL;

    want += rng_below(&c->rng, 100) < 15;
    for (unsigned k = 0; k < N_OBJ && n < want; k++) {
        unsigned obj = (start + k) % N_OBJ;

        if (c->busy[obj] || (coll != N_COLL && obj % N_COLL != coll))
            continue;
        coll = obj % N_COLL;
        objs[n++] = obj;
    }
    return n;
}

/* Waits for room and idle objects, then fills a slot with a new transaction. */
static struct child_slot *child_next_txn(struct child *c)
{
    struct child_slot *s = NULL;
    unsigned objs[3], n;

    pthread_mutex_lock(&c->lock);
    while (c->in_flight >= CHILD_DEPTH || (n = child_pick_objects(c, objs)) == 0)
        pthread_cond_wait(&c->cond, &c->lock);
    for (unsigned i = 0; i < CHILD_DEPTH && !s; i++)
        if (!c->slots[i].used)
            s = &c->slots[i];
    CAIRN_ASSERT(s != NULL);
    s->used = true;
    c->in_flight++;
    for (unsigned i = 0; i < n; i++)
        c->busy[objs[i]] = true;
    pthread_mutex_unlock(&c->lock);

    memset(&s->d, 0, sizeof(s->d));
    s->d.seq = c->next_seq++;
    s->d.coll = (uint8_t)(objs[0] % N_COLL);
    for (unsigned i = 0; i < n; i++)
        gen_object_ops(&c->rng, &s->d, &c->model[objs[i]], objs[i]);
    return s;
}

static void child_submit(struct child *c, struct child_slot *s)
{
    struct rec rec = {.magic = REC_MAGIC, .type = REC_SUBMIT, .txn = s->d};
    struct osd_txn *t;
    int rc;

    rc = txn_build(&s->d, c->scratch, &t);
    if (rc < 0) {
        fprintf(stderr, "child: building txn %" PRIu64 ": %s\n", s->d.seq, strerror(-rc));
        _exit(4);
    }
    rec_send(c->fd, &rec);
    while ((rc = osd_store_queue(c->store, t, child_txn_done, s)) == -EAGAIN)
        usleep(1000);
    if (rc < 0) {
        fprintf(stderr, "child: osd_store_queue txn %" PRIu64 ": %s\n", s->d.seq, strerror(-rc));
        _exit(4);
    }
}

/* Reads an idle object back: reads must see every acknowledged transaction. */
static void child_read_check(struct child *c)
{
    unsigned obj = rng_below(&c->rng, N_OBJ);
    char msg[256];
    int rc;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        unsigned k = 0;

        while (k < N_OBJ && c->busy[(obj + k) % N_OBJ])
            k++;
        if (k < N_OBJ) {
            obj = (obj + k) % N_OBJ;
            break;
        }
        pthread_cond_wait(&c->cond, &c->lock);
    }
    c->busy[obj] = true;
    pthread_mutex_unlock(&c->lock);

    rc = obj_load(c->store, obj, &c->found, msg, sizeof(msg));
    if (rc == 0 && !obj_equal(&c->model[obj], &c->found, msg, sizeof(msg)))
        rc = -EBADMSG;
    if (rc < 0) {
        fprintf(stderr, "FAIL child read check: obj %u: %s\n", obj, msg);
        _exit(6);
    }
    pthread_mutex_lock(&c->lock);
    c->busy[obj] = false;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

struct round_cfg {
    const char *dir;
    struct osd_store_opts opts;
    uint64_t first_seq;
    uint64_t rng_seed;
    bool clean; /* stop after CLEAN_ROUND_TXNS and close the store */
};

/* The child's whole life: open, report READY, queue transactions. */
static noreturn void child_main(int fd, struct obj_state *model, const struct round_cfg *cfg)
{
    static struct child c;
    struct rec ready = {.magic = REC_MAGIC, .type = REC_READY};
    int rc;

    c.fd = fd;
    c.model = model;
    c.rng.s = cfg->rng_seed;
    c.next_seq = cfg->first_seq;
    obj_init(&c.found);
    c.scratch = malloc(OBJ_SIZE_MAX);
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    for (unsigned i = 0; i < CHILD_DEPTH; i++)
        c.slots[i].c = &c;
    rc = osd_store_open(cfg->dir, &cfg->opts, &c.store);
    if (rc < 0) {
        fprintf(stderr, "child: osd_store_open %s: %s\n", cfg->dir, strerror(-rc));
        _exit(4);
    }
    rec_send(fd, &ready);
    for (unsigned n = 1; !cfg->clean || n <= CLEAN_ROUND_TXNS; n++) {
        child_submit(&c, child_next_txn(&c));
        if (n % READ_CHECK_EVERY == 0)
            child_read_check(&c);
    }
    osd_store_close(c.store);
    _exit(0);
}

/* ---- The parent: kills, reopens, checks ------------------------------- */

struct crash_test {
    /* Options. */
    uint64_t seed;
    unsigned rounds;
    unsigned seconds; /* stop after this long; 0: no limit */
    enum osd_io_backend backend;
    const char *base_dir;
    bool keep;
    /* State. */
    char dir[PATH_MAX]; /* the store */
    struct rng rng;
    struct obj_state model[N_OBJ];        /* state after the acknowledged transactions */
    struct obj_state found[N_OBJ];        /* what the store holds after a crash */
    struct obj_state after;               /* scratch: model plus an in-flight transaction */
    struct txn_desc pending[CHILD_DEPTH]; /* submitted, not acknowledged */
    unsigned npending;
    uint64_t next_seq;
    unsigned round;
    /* Counters for the summary. */
    uint64_t acked, inflight_applied, inflight_dropped;
    unsigned killed_in_open; /* children killed before they reported READY */
};

static void test_opts(const struct crash_test *t, struct osd_store_opts *opts)
{
    osd_store_opts_default(opts);
    opts->data_size_bytes = DATA_SIZE_BYTES;
    opts->backend = t->backend;
    opts->sync = true;
    /* Odd rounds send every write of up to 64 KiB through the deferred path
     * (whole blocks included), even rounds only partial blocks. */
    opts->deferred_max_bytes = t->round % 2 ? 64u << 10 : 0;
}

static int fail(const struct crash_test *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints a failure with the round and seed; returns -1 for the caller to pass up. */
static int fail(const struct crash_test *t, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "FAIL round %u seed=%" PRIu64 ": ", t->round, t->seed);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static int pending_find(const struct crash_test *t, uint64_t seq)
{
    for (unsigned i = 0; i < t->npending; i++)
        if (t->pending[i].seq == seq)
            return (int)i;
    return -1;
}

/* The child is ours, but its records still drive memcpy()s in the parent. */
static bool txn_is_valid(const struct txn_desc *d)
{
    if (d->nops == 0 || d->nops > TXN_OPS_MAX || d->coll >= N_COLL)
        return false;
    for (unsigned i = 0; i < d->nops; i++) {
        const struct op *op = &d->ops[i];

        if (op->code < OP_TOUCH || op->code > OP_OMAP_CLEAR || op->obj >= N_OBJ ||
            op->obj % N_COLL != d->coll || op->slot >= N_OMAP || op->len > OBJ_SIZE_MAX ||
            op->off > OBJ_SIZE_MAX - op->len)
            return false;
        if ((op->code == OP_SETXATTR || op->code == OP_OMAP_SET) && op->len > KV_VAL_MAX)
            return false;
        if ((op->code == OP_SETXATTR || op->code == OP_RMXATTR) && op->slot >= N_XATTR)
            return false;
    }
    return true;
}

static int handle_submit(struct crash_test *t, const struct txn_desc *d)
{
    if (d->seq != t->next_seq || !txn_is_valid(d) || t->npending == CHILD_DEPTH)
        return fail(t, "bad SUBMIT record: seq %" PRIu64 " (expected %" PRIu64 "), %u ops", d->seq,
                    t->next_seq, d->nops);
    for (unsigned i = 0; i < d->nops; i++)
        for (unsigned p = 0; p < t->npending; p++)
            if (txn_touches(&t->pending[p], d->ops[i].obj))
                return fail(t, "txn %" PRIu64 ": object %u already has a txn in flight", d->seq,
                            d->ops[i].obj);
    t->pending[t->npending++] = *d;
    t->next_seq++;
    return 0;
}

static int handle_ack(struct crash_test *t, uint64_t seq, int result)
{
    int i = pending_find(t, seq);
    struct txn_desc *d;

    if (i < 0)
        return fail(t, "ACK for txn %" PRIu64 ", which is not in flight", seq);
    d = &t->pending[i];
    if (result != 0) {
        fail(t, "txn %" PRIu64 " failed: %d (%s); it was valid against the model", seq, result,
             strerror(-result));
        txn_print(d);
        return -1;
    }
    for (unsigned obj = 0; obj < N_OBJ; obj++)
        obj_apply_txn(&t->model[obj], obj, d);
    t->pending[i] = t->pending[--t->npending];
    t->acked++;
    return 0;
}

static int handle_rec(struct crash_test *t, const struct rec *rec)
{
    if (rec->magic != REC_MAGIC)
        return fail(t, "bad record from the child (magic 0x%08x)", rec->magic);
    switch (rec->type) {
    case REC_SUBMIT:
        return handle_submit(t, &rec->txn);
    case REC_ACK:
        return handle_ack(t, rec->txn.seq, rec->result);
    default:
        return fail(t, "unexpected record type %u from the child", rec->type);
    }
}

/* Reads one record: 1, 0 on timeout, -EPIPE at end of file, or -errno. */
static int rec_read(int fd, struct rec *rec, int timeout_ms)
{
    size_t have = 0;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    while (have < sizeof(*rec)) {
        int n = poll(&pfd, 1, have ? -1 : timeout_ms);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        ssize_t r = read(fd, (uint8_t *)rec + have, sizeof(*rec) - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return have ? -EBADMSG : -EPIPE;
        have += (size_t)r;
    }
    return 1;
}

static void describe_status(int status, char *buf, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(buf, cap, "exited with %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, cap, "status 0x%x", status);
}

enum round_kind {
    ROUND_KILL,      /* SIGKILL 5-300 ms after the child reported READY */
    ROUND_KILL_OPEN, /* SIGKILL 0-30 ms after fork: during open and its replay */
    ROUND_CLEAN,     /* the child closes the store and exits */
};

static enum round_kind round_kind_of(unsigned round)
{
    if (round % CLEAN_ROUND_EVERY == 0)
        return ROUND_CLEAN;
    return round % KILL_OPEN_ROUND_EVERY == 0 ? ROUND_KILL_OPEN : ROUND_KILL;
}

/* Follows the child's records until it is gone, killing it @delay_ms after
 * the moment @kind says. Returns 0 or -1 (after killing the child). */
static int round_follow(struct crash_test *t, int fd, pid_t pid, enum round_kind kind,
                        uint64_t delay_ms)
{
    uint64_t kill_at = kind == ROUND_KILL_OPEN ? now_ms() + delay_ms : 0;
    bool killed = false, ready = false;
    struct rec rec;
    int rc;

    for (;;) {
        uint64_t now = now_ms();
        int timeout = CHILD_TIMEOUT_MS;

        if (kill_at && !killed && now >= kill_at) {
            kill(pid, SIGKILL);
            killed = true;
        } else if (kill_at && !killed) {
            timeout = (int)(kill_at - now);
        }
        rc = rec_read(fd, &rec, timeout);
        if (rc == -EPIPE) {
            t->killed_in_open += killed && !ready;
            return 0;
        }
        if (rc == 0 && (killed || !kill_at)) {
            kill(pid, SIGKILL);
            return fail(t, "no record from the child for %d ms", CHILD_TIMEOUT_MS);
        }
        if (rc > 0 && rec.magic == REC_MAGIC && rec.type == REC_READY) {
            ready = true;
            if (kind == ROUND_KILL)
                kill_at = now_ms() + delay_ms;
            continue;
        }
        if (rc < 0 || (rc > 0 && handle_rec(t, &rec) < 0)) {
            kill(pid, SIGKILL);
            return rc < 0 ? fail(t, "reading from the child: %s", strerror(-rc)) : -1;
        }
    }
}

/* Checks how the child ended, given how the round was meant to end. */
static int check_child_status(struct crash_test *t, enum round_kind kind, int status)
{
    char how[96];

    describe_status(status, how, sizeof(how));
    if (kind == ROUND_CLEAN && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        return fail(t, "clean child %s", how);
    if (kind != ROUND_CLEAN && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
        return fail(t, "child %s before it was killed", how);
    if (kind == ROUND_CLEAN && t->npending)
        return fail(t, "%u txns unacknowledged after a clean close", t->npending);
    return 0;
}

/* Runs the child of one round and collects its records. */
static int round_run_child(struct crash_test *t)
{
    enum round_kind kind = round_kind_of(t->round);
    struct round_cfg cfg = {.dir = t->dir,
                            .first_seq = t->next_seq,
                            .rng_seed = mix64(t->seed ^ ((uint64_t)t->round << 32)),
                            .clean = kind == ROUND_CLEAN};
    uint64_t delay_ms =
        kind == ROUND_KILL_OPEN
            ? rng_below(&t->rng, KILL_OPEN_DELAY_MS_MAX + 1)
            : KILL_DELAY_MS_MIN + rng_below(&t->rng, KILL_DELAY_MS_MAX - KILL_DELAY_MS_MIN + 1);
    int fds[2], status = 0, rc;
    pid_t pid;

    test_opts(t, &cfg.opts);
    if (pipe2(fds, O_CLOEXEC) < 0)
        return fail(t, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return fail(t, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], t->model, &cfg);
    }
    close(fds[1]);
    rc = round_follow(t, fds[0], pid, kind, delay_ms);
    close(fds[0]);
    if (rc < 0)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return rc < 0 ? rc : check_child_status(t, kind, status);
}

/* Resolves in-flight transaction @d: all of its objects must show it, or none. */
static int resolve_pending(struct crash_test *t, const struct txn_desc *d)
{
    bool all_before = true, all_after = true;
    char msg_before[N_OBJ][320], msg_after[N_OBJ][320];

    for (unsigned obj = 0; obj < N_OBJ; obj++) {
        if (!txn_touches(d, obj))
            continue;
        obj_copy(&t->after, &t->model[obj]);
        obj_apply_txn(&t->after, obj, d);
        all_before &= obj_equal(&t->model[obj], &t->found[obj], msg_before[obj], 320);
        all_after &= obj_equal(&t->after, &t->found[obj], msg_after[obj], 320);
    }
    if (all_after) {
        for (unsigned obj = 0; obj < N_OBJ; obj++)
            obj_apply_txn(&t->model[obj], obj, d);
        t->inflight_applied++;
        return 0;
    }
    if (all_before) {
        t->inflight_dropped++;
        return 0;
    }
    fail(t,
         "in-flight txn %" PRIu64 " is torn or corrupt: its objects match neither the "
         "state before it nor the state after it",
         d->seq);
    txn_print(d);
    for (unsigned obj = 0; obj < N_OBJ; obj++) {
        if (!txn_touches(d, obj))
            continue;
        fprintf(stderr, "  obj %u vs before: %s\n", obj,
                obj_equal(&t->model[obj], &t->found[obj], msg_before[obj], 320) ? "equal"
                                                                                : msg_before[obj]);
        obj_copy(&t->after, &t->model[obj]);
        obj_apply_txn(&t->after, obj, d);
        fprintf(stderr, "  obj %u vs after:  %s\n", obj,
                obj_equal(&t->after, &t->found[obj], msg_after[obj], 320) ? "equal"
                                                                          : msg_after[obj]);
    }
    return -1;
}

struct list_check {
    bool seen[N_OBJ];
    unsigned coll;
    char err[128];
};

static int list_cb(const void *key, size_t key_len, const void *value, size_t value_len, void *arg)
{
    struct list_check *l = arg;
    char oid[64];

    (void)value, (void)value_len;
    for (unsigned obj = l->coll; obj < N_OBJ; obj += N_COLL) {
        oid_name(obj, oid, sizeof(oid));
        if (strlen(oid) == key_len && memcmp(oid, key, key_len) == 0 && !l->seen[obj]) {
            l->seen[obj] = true;
            return 0;
        }
    }
    snprintf(l->err, sizeof(l->err), "unexpected or repeated name '%.*s'", (int)key_len,
             (const char *)key);
    return 1;
}

/* Object listings must name exactly the objects that exist. */
static int check_listing(struct crash_test *t, struct osd_store *st)
{
    for (unsigned c = 0; c < N_COLL; c++) {
        struct list_check l = {.coll = c};
        char coll[32];
        bool more = false;
        int rc;

        coll_name(c, coll, sizeof(coll));
        rc = osd_store_list(st, coll, NULL, 1000, list_cb, &l, &more);
        if (rc != 0 || more)
            return fail(t, "osd_store_list %s: %d more=%d %s", coll, rc, more, l.err);
        for (unsigned obj = c; obj < N_OBJ; obj += N_COLL)
            if (l.seen[obj] != t->model[obj].exists)
                return fail(t, "osd_store_list %s: obj %u listed=%d, exists=%d", coll, obj,
                            l.seen[obj], t->model[obj].exists);
    }
    return 0;
}

static int check_objects(struct crash_test *t, struct osd_store *st)
{
    char msg[320];
    int rc;

    for (unsigned obj = 0; obj < N_OBJ; obj++) {
        rc = obj_load(st, obj, &t->found[obj], msg, sizeof(msg));
        if (rc < 0)
            return fail(t, "obj %u: reading it back: %s", obj, msg);
    }
    for (unsigned i = 0; i < t->npending; i++)
        if (resolve_pending(t, &t->pending[i]) < 0)
            return -1;
    for (unsigned obj = 0; obj < N_OBJ; obj++) {
        bool in_flight = false;

        for (unsigned i = 0; i < t->npending; i++)
            in_flight |= txn_touches(&t->pending[i], obj);
        if (!in_flight && !obj_equal(&t->model[obj], &t->found[obj], msg, sizeof(msg)))
            return fail(t, "obj %u lost acknowledged state: %s", obj, msg);
    }
    t->npending = 0;
    return check_listing(t, st);
}

static int check_fsck(struct crash_test *t, struct osd_store *st)
{
    struct osd_fsck_report rep;
    struct osd_store_stats stats;
    int rc;

    memset(&rep, 0, sizeof(rep));
    rc = osd_store_fsck(st, true, &rep);
    if (rc < 0)
        return fail(t, "osd_store_fsck: %s", strerror(-rc));
    if (rep.errors)
        return fail(t,
                    "deep fsck: %" PRIu64 " errors (leaked %" PRIu64 ", double used %" PRIu64
                    ", bad records %" PRIu64 ", csum %" PRIu64 "): %s",
                    rep.errors, rep.blocks_leaked, rep.blocks_double_used, rep.bad_records,
                    rep.csum_errors, rep.first_error);
    osd_store_get_stats(st, &stats);
    if (stats.csum_errors)
        return fail(t, "%" PRIu64 " checksum errors on read", stats.csum_errors);
    if (osd_store_is_failed(st))
        return fail(t, "the store is failed after recovery");
    return 0;
}

/* Reopens the store after a crash and checks it against the model. */
static int round_verify(struct crash_test *t)
{
    struct osd_store_opts opts;
    struct osd_store *st;
    int rc;

    test_opts(t, &opts);
    rc = osd_store_open(t->dir, &opts, &st);
    if (rc < 0)
        return fail(t, "reopening the store: %s", strerror(-rc));
    rc = check_objects(t, st);
    if (rc == 0)
        rc = check_fsck(t, st);
    osd_store_close(st);
    return rc;
}

/* ---- Set-up and main ---------------------------------------------------- */

static int setup_store(struct crash_test *t)
{
    struct osd_store_opts opts;
    struct osd_store *st;
    char coll[32];
    int rc;

    test_opts(t, &opts);
    rc = osd_store_mkfs(t->dir, &opts);
    if (rc < 0)
        return fail(t, "osd_store_mkfs %s: %s", t->dir, strerror(-rc));
    rc = osd_store_open(t->dir, &opts, &st);
    if (rc < 0)
        return fail(t, "osd_store_open %s: %s", t->dir, strerror(-rc));
    for (unsigned c = 0; c < N_COLL && rc == 0; c++) {
        struct osd_txn *txn;

        coll_name(c, coll, sizeof(coll));
        txn = osd_txn_create(coll);
        rc = txn ? osd_txn_create_collection(txn) : -ENOMEM;
        if (rc == 0)
            rc = osd_store_apply(st, txn);
        else if (txn)
            osd_txn_destroy(txn);
    }
    osd_store_close(st);
    return rc < 0 ? fail(t, "creating collections: %s", strerror(-rc)) : 0;
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

static noreturn void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: store_crash [--seed N] [--rounds R] [--soak] [--seconds S]\n"
            "                   [--backend uring|aio|sync] [--dir DIR] [--keep]\n"
            "  --seed N     replay a run (the seed is printed first; or CAIRN_SEED=N)\n"
            "  --rounds R   crash rounds (default 50)\n"
            "  --soak       run until --seconds pass (default 3600)\n"
            "  --seconds S  stop after S seconds, whatever the rounds\n"
            "  --backend B  the store's I/O backend (default: the best available)\n"
            "  --dir DIR    where the temporary store goes (default $TMPDIR or /var/tmp)\n"
            "  --keep       keep the store directory (always kept on failure)\n");
    exit(status);
}

static unsigned long long parse_num(const char *opt, const char *s)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s ? s : "", &end, 0);
    if (!s || !*s || *end || errno || s[0] == '-') {
        fprintf(stderr, "store_crash: %s needs a number, got '%s'\n", opt, s ? s : "");
        usage(2);
    }
    return v;
}

static void parse_args(struct crash_test *t, int argc, char **argv)
{
    bool soak = false, have_seed = false;

    t->rounds = 50;
    t->backend = osd_io_backend_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            usage(0);
        else if (!strcmp(a, "--soak"))
            soak = true;
        else if (!strcmp(a, "--keep"))
            t->keep = true;
        else if (!strcmp(a, "--seed") && ++i)
            t->seed = parse_num(a, v), have_seed = true;
        else if (!strcmp(a, "--rounds") && ++i)
            t->rounds = (unsigned)parse_num(a, v);
        else if (!strcmp(a, "--seconds") && ++i)
            t->seconds = (unsigned)parse_num(a, v);
        else if (!strcmp(a, "--dir") && ++i && v)
            t->base_dir = v;
        else if (!strcmp(a, "--backend") && ++i && v && osd_io_backend_parse(v, &t->backend) == 0)
            continue;
        else {
            fprintf(stderr, "store_crash: bad argument '%s'\n", a);
            usage(2);
        }
    }
    if (soak) {
        t->rounds = UINT_MAX;
        t->seconds = t->seconds ? t->seconds : 3600;
    }
    if (!have_seed && getenv("CAIRN_SEED"))
        t->seed = parse_num("CAIRN_SEED", getenv("CAIRN_SEED")), have_seed = true;
    if (!have_seed)
        t->seed = mix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
}

static int run_rounds(struct crash_test *t)
{
    uint64_t start = now_ms();

    for (t->round = 1; t->round <= t->rounds; t->round++) {
        if (t->seconds && now_ms() - start >= (uint64_t)t->seconds * 1000)
            break;
        if (round_run_child(t) < 0 || round_verify(t) < 0)
            return -1;
    }
    t->round--;
    printf("ok: %u rounds in %.1f s, %" PRIu64 " txns acknowledged, in flight at the crash: "
           "%" PRIu64 " applied, %" PRIu64 " dropped; %u children killed while opening\n",
           t->round, (double)(now_ms() - start) / 1000.0, t->acked, t->inflight_applied,
           t->inflight_dropped, t->killed_in_open);
    return 0;
}

int main(int argc, char **argv)
{
    static struct crash_test t;
    const char *base;
    int rc;

    parse_args(&t, argc, argv);
    cairn_log_set_level(CAIRN_LOG_WARN); /* recovery reports each replay at INFO */
    printf("seed=%" PRIu64 "\n", t.seed);
    fflush(stdout);
    t.rng.s = t.seed;
    t.next_seq = 1;
    for (unsigned i = 0; i < N_OBJ; i++) {
        obj_init(&t.model[i]);
        obj_init(&t.found[i]);
    }
    obj_init(&t.after);
    base = t.base_dir ? t.base_dir : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    snprintf(t.dir, sizeof(t.dir), "%s/cairn-store-crash.XXXXXX", base);
    if (!mkdtemp(t.dir))
        die("mkdtemp %s: %s", t.dir, strerror(errno));
    printf("store in %s, backend %s\n", t.dir, osd_io_backend_name(t.backend));
    rc = setup_store(&t);
    if (rc == 0)
        rc = run_rounds(&t);
    if (rc < 0)
        fprintf(stderr, "store kept in %s; replay with --seed %" PRIu64 "\n", t.dir, t.seed);
    else if (!t.keep)
        nftw(t.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc < 0 ? 1 : 0;
}

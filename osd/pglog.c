/* A PG's log and info (internal.h, docs/osd.md §6). Both live in the PG's
 * own collection, in the object OSD_PGMETA_OID, so that every write
 * transaction carries its log entry atomically with the data:
 *
 *   xattr "info"          fmt 1, last_update, last_complete, log_tail,
 *                         act_epoch (u64 little endian each)
 *   omap "l" + be16(slot) fmt 2, op, version, client_id, tid (u64 LE),
 *                         oid_len (u16), oid, reply_len (u32), reply (the
 *                         client's answer)
 *
 * In memory a ring of OSD_PG_LOG_MAX slots keeps the entries (without
 * replies: those go into the duplicate table, so that a resent op gets its
 * first answer even after a restart or a failover). An entry's omap key is
 * its ring slot, so the newest entry of a full log overwrites the oldest
 * one's key: trimming costs no delete. Loop thread only.
 *
 * An append to a complete copy does not rewrite the info: loading derives
 * it from the last info written and the log (derive_info), which saves a
 * store record per replicated write. */
#include "osd/internal.h"

#include "common/bytes.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INFO_XATTR "info"
#define INFO_FMT 1u
#define ENTRY_FMT 2u
#define ENTRY_HEAD (1u + 1u + 3u * 8u + 2u) /* up to the oid */
#define INFO_LEN (1u + 4u * 8u)
#define KEY_LEN 3u
_Static_assert(OSD_PG_LOG_MAX <= 65536, "a ring slot is a 16-bit key");

static void entry_key(uint32_t ring_slot, uint8_t key[KEY_LEN])
{
    key[0] = 'l';
    key[1] = (uint8_t)(ring_slot >> 8);
    key[2] = (uint8_t)ring_slot;
}

static struct osd_pglog_entry *slot(const struct osd_pglog *log, uint32_t i)
{
    return &log->ring[(log->head + i) % OSD_PG_LOG_MAX];
}

const struct osd_pglog_entry *osd__pglog_at(const struct osd_pg *pg, uint32_t i)
{
    return slot(&pg->log, i);
}

void osd__pglog_free(struct osd_pglog *log)
{
    if (log->ring) /* every slot: a failed load may leave entries anywhere */
        for (uint32_t i = 0; i < OSD_PG_LOG_MAX; i++)
            free(log->ring[i].oid);
    free(log->ring);
    log->ring = NULL;
    log->n = log->head = 0;
}

/* Drops the oldest entry from memory; returns its version. */
static uint64_t ring_pop(struct osd_pglog *log)
{
    struct osd_pglog_entry *en = slot(log, 0);
    uint64_t v = en->version;

    free(en->oid);
    en->oid = NULL;
    log->head = (log->head + 1) % OSD_PG_LOG_MAX;
    log->n--;
    return v;
}

/* The ring slot (and omap key) of the next entry: the oldest one's when full. */
static uint32_t next_slot(const struct osd_pglog *log)
{
    return (log->head + log->n) % OSD_PG_LOG_MAX;
}

static int entry_set(struct osd_pglog_entry *en, const struct proto_pg_log_entry *ent)
{
    char *oid = malloc(ent->oid.len + 1);

    if (!oid)
        return -ENOMEM;
    memcpy(oid, ent->oid.p, ent->oid.len);
    oid[ent->oid.len] = 0;
    *en = (struct osd_pglog_entry){.version = ent->version, .client_id = ent->client_id,
                                   .tid = ent->tid, .oid = oid, .op = (uint8_t)ent->op};
    return 0;
}

static int ring_push(struct osd_pglog *log, const struct proto_pg_log_entry *ent)
{
    if (log->n == OSD_PG_LOG_MAX)
        log->info.log_tail = ring_pop(log);
    int r = entry_set(slot(log, log->n), ent);
    if (r == 0)
        log->n++;
    return r;
}

static void remember(struct osd_pg *pg, const struct proto_pg_log_entry *ent)
{
    if (ent->client_id && ent->reply.len &&
        !osd__dup_find(&pg->dup, ent->client_id, ent->tid))
        (void)osd__dup_insert(&pg->dup, ent->client_id, ent->tid, ent->reply.p, ent->reply.len);
}

/* ---- the store side ---------------------------------------------------------- */

static int entry_encode(const struct proto_pg_log_entry *ent, uint8_t **out, size_t *len)
{
    size_t n = ENTRY_HEAD + ent->oid.len + 4 + ent->reply.len;
    uint8_t *b = malloc(n), *p = b;

    if (!b)
        return -ENOMEM;
    *p++ = ENTRY_FMT;
    *p++ = (uint8_t)ent->op;
    cairn_put_le64(p, ent->version), p += 8;
    cairn_put_le64(p, ent->client_id), p += 8;
    cairn_put_le64(p, ent->tid), p += 8;
    *p++ = (uint8_t)ent->oid.len;
    *p++ = (uint8_t)(ent->oid.len >> 8);
    memcpy(p, ent->oid.p, ent->oid.len), p += ent->oid.len;
    for (unsigned i = 0; i < 4; i++)
        *p++ = (uint8_t)(ent->reply.len >> (8 * i));
    if (ent->reply.len)
        memcpy(p, ent->reply.p, ent->reply.len);
    *out = b;
    *len = n;
    return 0;
}

static int entry_decode(const uint8_t *key, size_t klen, const uint8_t *v, size_t vlen,
                        struct proto_pg_log_entry *ent, uint32_t *ring_slot)
{
    if (klen != KEY_LEN || key[0] != 'l' || vlen < ENTRY_HEAD + 4 || v[0] != ENTRY_FMT)
        return -EIO;
    *ring_slot = (uint32_t)key[1] << 8 | key[2];
    ent->op = v[1];
    ent->version = cairn_get_le64(v + 2);
    ent->client_id = cairn_get_le64(v + 10);
    ent->tid = cairn_get_le64(v + 18);
    size_t oid_len = v[26] | (size_t)v[27] << 8;
    if (*ring_slot >= OSD_PG_LOG_MAX || ENTRY_HEAD + oid_len + 4 > vlen)
        return -EIO;
    ent->oid = (struct proto_bytes){v + ENTRY_HEAD, oid_len};
    const uint8_t *r = v + ENTRY_HEAD + oid_len;
    size_t reply_len = r[0] | (size_t)r[1] << 8 | (size_t)r[2] << 16 | (size_t)r[3] << 24;
    if (ENTRY_HEAD + oid_len + 4 + reply_len != vlen)
        return -EIO;
    ent->reply = (struct proto_bytes){r + 4, reply_len};
    return 0;
}

int osd__pglog_write_info(struct osd_pg *pg, struct osd_txn *txn)
{
    const struct proto_pg_info *in = &pg->log.info;
    uint8_t b[INFO_LEN];

    b[0] = INFO_FMT;
    cairn_put_le64(b + 1, in->last_update);
    cairn_put_le64(b + 9, in->last_complete);
    cairn_put_le64(b + 17, in->log_tail);
    cairn_put_le64(b + 25, in->act_epoch);
    int r = osd_txn_setxattr(txn, OSD_PGMETA_OID, INFO_XATTR, b, sizeof(b));
    if (r == 0)
        pg->log.stored = *in;
    return r;
}

/* True when loading would give the info in memory without writing it: the
 * info written last was complete and of this activation, and the copy is
 * still complete (derive_info makes the newest entry last_update and
 * last_complete, and only ever moves log_tail forward). */
static bool info_implied(const struct osd_pglog *log)
{
    const struct proto_pg_info *in = &log->info, *st = &log->stored;
    return st->exists && st->last_complete == st->last_update &&
           st->act_epoch == in->act_epoch && in->last_complete == in->last_update &&
           st->last_update <= in->last_update;
}

/* Stores @ent in the slot it takes in the ring, and pushes it there. */
static int add_entry(struct osd_pg *pg, struct osd_txn *txn, const struct proto_pg_log_entry *ent)
{
    uint8_t key[KEY_LEN], *val;
    size_t vlen;
    int r = entry_encode(ent, &val, &vlen);

    if (r < 0)
        return r;
    entry_key(next_slot(&pg->log), key);
    r = osd_txn_omap_set(txn, OSD_PGMETA_OID, key, sizeof(key), val, vlen);
    free(val);
    return r < 0 ? r : ring_push(&pg->log, ent);
}

int osd__pglog_append(struct osd_pg *pg, struct osd_txn *txn, const struct proto_pg_log_entry *ent,
                      bool remember_reply)
{
    struct osd_pglog *log = &pg->log;
    bool complete = log->info.last_complete == log->info.last_update;
    int r = add_entry(pg, txn, ent);

    if (r < 0)
        return r;
    log->info.last_update = ent->version;
    if (complete)
        log->info.last_complete = ent->version;
    log->info.exists = true;
    if (remember_reply)
        remember(pg, ent);
    return info_implied(log) ? 0 : osd__pglog_write_info(pg, txn);
}

int osd__pglog_replace(struct osd_pg *pg, struct osd_txn *txn,
                       const struct proto_pg_log_entry *ents, uint32_t n, uint64_t tail)
{
    struct osd_pglog *log = &pg->log;
    int r;

    if (n > OSD_PG_LOG_MAX) {
        tail = ents[n - OSD_PG_LOG_MAX - 1].version;
        ents += n - OSD_PG_LOG_MAX;
        n = OSD_PG_LOG_MAX;
    }
    if ((r = osd_txn_touch(txn, OSD_PGMETA_OID)) < 0 ||
        (r = osd_txn_omap_clear(txn, OSD_PGMETA_OID)) < 0)
        return r;
    while (log->n)
        ring_pop(log);
    log->info.log_tail = tail;
    log->info.last_update = tail;
    for (uint32_t i = 0; i < n; i++) {
        if ((r = add_entry(pg, txn, &ents[i])) < 0)
            return r;
        remember(pg, &ents[i]);
        log->info.last_update = ents[i].version;
    }
    log->info.exists = true;
    return osd__pglog_write_info(pg, txn);
}

bool osd__pglog_has(const struct osd_pg *pg, uint64_t version)
{
    const struct osd_pglog *log = &pg->log;

    if (version == log->info.log_tail)
        return true;
    /* Versions increase along the ring: binary search. */
    uint32_t lo = 0, hi = log->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        uint64_t v = slot(log, mid)->version;
        if (v == version)
            return true;
        if (v < version)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

uint32_t osd__pglog_export(const struct osd_pg *pg, uint64_t after, struct proto_pg_log_entry **out)
{
    const struct osd_pglog *log = &pg->log;
    uint32_t first = 0, n;

    while (first < log->n && slot(log, first)->version <= after)
        first++;
    n = log->n - first;
    *out = NULL;
    if (n == 0 || !(*out = calloc(n, sizeof(**out))))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct osd_pglog_entry *en = slot(log, first + i);
        const struct osd_dup_entry *d = osd__dup_find(&pg->dup, en->client_id, en->tid);
        (*out)[i] = (struct proto_pg_log_entry){
            .version = en->version, .op = en->op,
            .oid = {(const uint8_t *)en->oid, strlen(en->oid)},
            .client_id = en->client_id, .tid = en->tid,
            .reply = {d && en->client_id ? d->meta : NULL, d && en->client_id ? d->meta_len : 0}};
    }
    return n;
}

/* ---- loading ---------------------------------------------------------------- */

struct loaded_reply {
    size_t len;
    uint8_t data[];
};

struct load_ctx {
    struct osd_pg *pg;
    struct loaded_reply **replies; /* per slot; owned */
    uint32_t n;
    int err;
};

/* Puts each entry back into its slot (they come in slot order) and keeps
 * its reply until the entries' order is known. */
static int load_entry(const void *key, size_t klen, const void *v, size_t vlen, void *arg)
{
    struct load_ctx *c = arg;
    struct proto_pg_log_entry ent;
    uint32_t ring_slot;

    if (entry_decode(key, klen, v, vlen, &ent, &ring_slot) < 0) {
        c->err = -EIO;
        return 1;
    }
    struct loaded_reply *reply = malloc(sizeof(*reply) + ent.reply.len);
    if (!reply || (c->err = entry_set(&c->pg->log.ring[ring_slot], &ent)) < 0) {
        free(reply);
        c->err = -ENOMEM;
        return 1;
    }
    reply->len = ent.reply.len;
    if (ent.reply.len)
        memcpy(reply->data, ent.reply.p, ent.reply.len);
    c->replies[ring_slot] = reply;
    c->n++;
    return 0;
}

/* Fills the duplicate table oldest first, as the entries were appended
 * (a table smaller than the log keeps the newest answers). */
static void remember_loaded(struct load_ctx *c)
{
    struct osd_pglog *log = &c->pg->log;

    for (uint32_t i = 0; i < log->n; i++) {
        uint32_t s = (log->head + i) % OSD_PG_LOG_MAX;
        const struct osd_pglog_entry *en = &log->ring[s];
        struct proto_pg_log_entry ent = {
            .client_id = en->client_id, .tid = en->tid,
            .reply = {c->replies[s]->data, c->replies[s]->len}};
        remember(c->pg, &ent);
    }
}

/* Finds the oldest of @n loaded entries; they must fill the slots from it
 * on, cyclically, with increasing versions (as appends leave them). */
static int ring_settle(struct osd_pglog *log, uint32_t n)
{
    uint32_t head = 0;

    for (uint32_t i = 0; i < OSD_PG_LOG_MAX; i++)
        if (log->ring[i].oid && (!log->ring[head].oid ||
                                 log->ring[i].version < log->ring[head].version))
            head = i;
    log->head = head;
    log->n = n;
    for (uint32_t i = 0; i < n; i++) {
        const struct osd_pglog_entry *en = slot(log, i);
        if (!en->oid || (i > 0 && en->version <= slot(log, i - 1)->version))
            return -EIO;
    }
    return 0;
}

/* Completes the info read from the store with the entries appended since it
 * was written (osd__pglog_append skips the write while the copy is
 * complete, and only then): the newest entry is last_update, and
 * last_complete too. Those appends may have trimmed entries the stored
 * log_tail does not know of; the oldest entry loaded then becomes the
 * tail, which may be one entry newer than the real one: a tail only has to
 * be no older than the newest trimmed entry. */
static void derive_info(struct osd_pglog *log)
{
    struct proto_pg_info *in = &log->info;
    uint64_t newest = log->n ? slot(log, log->n - 1)->version : 0;

    if (newest > in->last_update) {
        if (in->last_complete == in->last_update)
            in->last_complete = newest;
        in->last_update = newest;
        if (log->n == OSD_PG_LOG_MAX)
            in->log_tail = ring_pop(log);
    }
    /* An entry trimmed in memory keeps its slot in the store until an
     * append reuses it, and the info may have been written meanwhile. */
    while (log->n > 0 && slot(log, 0)->version <= in->log_tail)
        ring_pop(log);
    log->stored = *in;
}

int osd__pglog_load(struct osd_engine *e, struct osd_pg *pg)
{
    struct osd_store *st = osd__engine_store(e);
    struct osd_pglog *log = &pg->log;
    uint8_t b[INFO_LEN];
    size_t len = 0;
    bool more = false;

    if (pg->log_loaded)
        return 0;
    osd__pglog_free(log);
    if (!(log->ring = calloc(OSD_PG_LOG_MAX, sizeof(*log->ring))))
        return -ENOMEM;
    memset(&log->info, 0, sizeof(log->info));
    memset(&log->stored, 0, sizeof(log->stored));
    int r = osd_store_getxattr(st, pg->coll, OSD_PGMETA_OID, INFO_XATTR, b, sizeof(b), &len);
    if (r == -ENOENT || r == -ENODATA) {
        log->info.exists = pg->coll_state == OSD_COLL_EXISTS;
        pg->log_loaded = true;
        return 0;
    }
    if (r < 0 || len != INFO_LEN || b[0] != INFO_FMT) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s pg %s: unreadable info: %s",
                  osd__engine_entity(e), pg->coll, r < 0 ? strerror(-r) : "bad format");
        return r < 0 ? r : -EIO;
    }
    log->info = (struct proto_pg_info){.exists = true,
                                       .last_update = cairn_get_le64(b + 1),
                                       .last_complete = cairn_get_le64(b + 9),
                                       .log_tail = cairn_get_le64(b + 17),
                                       .act_epoch = cairn_get_le64(b + 25)};
    struct load_ctx c = {.pg = pg};
    if (!(c.replies = calloc(OSD_PG_LOG_MAX, sizeof(*c.replies))))
        return -ENOMEM;
    r = osd_store_omap_list(st, pg->coll, OSD_PGMETA_OID, NULL, 0, 0, load_entry, &c, &more);
    if (r == 0 && c.err == 0)
        c.err = ring_settle(log, c.n);
    if (r == 0 && c.err == 0)
        remember_loaded(&c);
    for (uint32_t i = 0; i < OSD_PG_LOG_MAX; i++)
        free(c.replies[i]);
    free(c.replies);
    if (r < 0 || c.err < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s pg %s: unreadable log: %s",
                  osd__engine_entity(e), pg->coll, strerror(-(r < 0 ? r : c.err)));
        osd__pglog_free(log);
        return r < 0 ? r : c.err;
    }
    derive_info(log);
    pg->log_loaded = true;
    return 0;
}

int osd__pg_ensure_coll(struct osd_engine *e, struct osd_pg *pg)
{
    if (pg->coll_state == OSD_COLL_EXISTS)
        return 0;
    struct osd_txn *txn = osd_txn_create(pg->coll);
    if (!txn)
        return -ENOMEM;
    int r = osd_txn_create_collection(txn);
    if (r == 0)
        r = osd_txn_touch(txn, OSD_PGMETA_OID);
    if (r < 0) {
        osd_txn_destroy(txn);
        return r;
    }
    r = osd_store_apply(osd__engine_store(e), txn);
    if (r == 0 || r == -EEXIST)
        pg->coll_state = OSD_COLL_EXISTS;
    return r == -EEXIST ? 0 : r;
}

static int count_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    (void)v, (void)vl;
    if (!(kl > 0 && ((const char *)k)[0] == OSD_RESERVED_OID_BYTE))
        (*(uint64_t *)arg)++;
    return 0;
}

uint64_t osd__pg_count_objects(struct osd_engine *e, struct osd_pg *pg)
{
    uint64_t n = 0;
    bool more = false;

    if (pg->coll_state != OSD_COLL_EXISTS)
        return 0;
    (void)osd_store_list(osd__engine_store(e), pg->coll, NULL, 0, count_fn, &n, &more);
    return n;
}

/* ---- transactions of the daemon's own (peering, recovery) ---------------------- */

struct pg_txn {
    struct osd_loopq_item item;
    struct osd_engine *e;
    struct osd_pg *pg;
    void (*done)(int result, void *arg);
    void *arg;
    int result;
};

static void pg_txn_done(struct osd_loopq_item *item)
{
    struct pg_txn *t = (struct pg_txn *)item;
    struct osd_pg *pg = t->pg;

    if (t->result < 0) /* it may have carried the info: appends write it again */
        pg->log.stored.exists = false;
    if (t->done)
        t->done(t->result, t->arg);
    free(t);
    osd__pg_txn_done(pg);
}

static void pg_txn_cb(int result, void *arg)
{
    struct pg_txn *t = arg;

    t->result = result;
    t->item.fn = pg_txn_done;
    osd__loopq_post(osd__engine_loopq(t->e), &t->item);
}

int osd__pg_queue_txn(struct osd_engine *e, struct osd_pg *pg, struct osd_txn *txn,
                      void (*done)(int result, void *arg), void *arg)
{
    struct pg_txn *t = calloc(1, sizeof(*t));
    int r = t ? 0 : -ENOMEM;

    if (t) {
        *t = (struct pg_txn){.e = e, .pg = pg, .done = done, .arg = arg};
        r = osd_store_queue(osd__engine_store(e), txn, pg_txn_cb, t);
    }
    if (r < 0) {
        osd_txn_destroy(txn);
        free(t);
        pg->log.stored.exists = false; /* as in pg_txn_done */
        return r;
    }
    pg->txns++;
    return 0;
}

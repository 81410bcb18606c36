/* The answering side of replication (docs/osd.md §6): what an OSD does
 * with the PROTO_MSG_OSD_PEER requests of a PG's primary (protocol/
 * osd_peer.h). Any OSD answers QUERY, LOG_GET, SCAN and PULL for any PG it
 * holds; a replica takes ACTIVATE, then REPOPs and PUSHes from the primary
 * that activated it, and RECOVERED when it holds every object. SCRUB
 * reports the digests of one object's copy.
 *
 * Fencing: answering a QUERY of epoch E refuses from then on every REPOP,
 * PUSH and ACTIVATE of an activation older than E, so a primary that lost
 * its role cannot get a write acknowledged behind the new primary's back.
 * Requests that read the PG's state (QUERY, LOG_GET, SCAN, PULL, ACTIVATE)
 * wait until the PG's transactions in flight are durable, so what they
 * report is what survives a crash. A REPOP must continue the log exactly
 * (prev == our last_update): a replica never has holes in its log. */
#include "osd/internal.h"

#include "common/bytes.h"
#include "common/log.h"
#include "protocol/msg_types.h"
#include "protocol/msgr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_MAX 1000u

struct osd_deferred {
    struct osd_deferred *next;
    struct osd_sess *s;
    uint64_t txid;
    uint8_t *meta;
    size_t meta_len;
    uint8_t *data;
    size_t data_len;
};

/* A replica-side transaction whose completion answers the request. */
struct peer_txn {
    struct osd_daemon *d;
    struct osd_sess *s;
    uint64_t txid;
    struct osd_pg *pg;
    uint32_t op;
    char *oid;                /* PUSH: echoed in the reply */
};

static void handle(struct osd_daemon *d, struct osd_sess *s, uint64_t txid, const uint8_t *meta,
                   size_t meta_len, uint8_t *data, size_t data_len);

/* ---- replies ------------------------------------------------------------------- */

static void reply(struct osd_sess *s, uint64_t txid, struct proto_osd_peer *m, const void *data,
                  size_t data_len)
{
    uint8_t *buf;
    size_t len;

    if (!s->conn)
        return;
    int r = proto_osd_peer_encode(m, &buf, &len);
    if (r < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "cannot encode a peer reply (op %u): %s", m->op,
                  strerror(-r));
        return;
    }
    (void)proto_conn_reply(s->conn, txid, PROTO_MSG_OSD_PEER, buf, len, data, data_len);
    free(buf);
}

__attribute__((format(printf, 5, 6))) static void reply_err(struct osd_sess *s, uint64_t txid,
                                                            uint32_t op, int err,
                                                            const char *fmt, ...)
{
    struct proto_osd_peer m;
    va_list ap;

    proto_osd_peer_init(&m);
    m.op = op;
    m.result = err;
    va_start(ap, fmt);
    vsnprintf(m.message, sizeof(m.message), fmt, ap);
    va_end(ap);
    reply(s, txid, &m, NULL, 0);
}

static void reply_info(struct osd_daemon *d, struct osd_sess *s, uint64_t txid, uint32_t op,
                       struct osd_pg *pg)
{
    struct proto_osd_peer m;

    proto_osd_peer_init(&m);
    m.op = op;
    m.from = d->opts.id;
    m.epoch = d->map ? d->map->epoch : 0;
    m.has_info = true;
    m.info = pg->log.info;
    reply(s, txid, &m, NULL, 0);
}

/* ---- deferral until the PG's transactions are durable ------------------------------ */

static void defer(struct osd_pg *pg, struct osd_sess *s, uint64_t txid, const uint8_t *meta,
                  size_t meta_len, uint8_t *data, size_t data_len)
{
    struct osd_deferred *df = calloc(1, sizeof(*df)), **tail;

    if (!df || !(df->meta = malloc(meta_len ? meta_len : 1))) {
        free(df);
        free(data);
        return; /* the asker times out and asks again */
    }
    memcpy(df->meta, meta, meta_len);
    *df = (struct osd_deferred){.s = s, .txid = txid, .meta = df->meta, .meta_len = meta_len,
                                .data = data, .data_len = data_len};
    s->refs++;
    for (tail = &pg->deferred; *tail; tail = &(*tail)->next)
        ;
    *tail = df;
}

static struct osd_daemon *drain_daemon; /* the one daemon of the process */

void osd__peer_deferred_drop(struct osd_pg *pg)
{
    struct osd_deferred *df;

    while ((df = pg->deferred)) {
        pg->deferred = df->next;
        osd__sess_unref(df->s);
        free(df->meta);
        free(df->data);
        free(df);
    }
}

static void on_drained(struct osd_pg *pg)
{
    struct osd_deferred *df;

    if (pg->peering)
        osd__peering_on_drained(drain_daemon, pg);
    while (pg->txns == 0 && (df = pg->deferred)) {
        pg->deferred = df->next;
        handle(drain_daemon, df->s, df->txid, df->meta, df->meta_len, df->data, df->data_len);
        osd__sess_unref(df->s);
        free(df->meta);
        free(df);
    }
}

/* ---- transactions answered on completion ------------------------------------------ */

/* The transaction of a request is durable (or failed): answer it. */
static void ptxn_done(int result, void *arg)
{
    struct peer_txn *t = arg;
    struct osd_pg *pg = t->pg;

    if (result < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_OSD, "%s pg %s: replicated transaction failed: %s",
                  t->d->opts.entity, pg->coll, strerror(-result));
        /* Our log in memory is ahead of the store: forget it. */
        osd__pglog_free(&pg->log);
        pg->log_loaded = false;
        reply_err(t->s, t->txid, t->op, result, "store: %s", strerror(-result));
    } else if (t->op == PROTO_PEER_ACTIVATE) {
        reply_info(t->d, t->s, t->txid, t->op, pg);
    } else {
        struct proto_osd_peer m;
        proto_osd_peer_init(&m);
        m.op = t->op;
        m.from = t->d->opts.id;
        if (t->oid)
            m.oid = (struct proto_bytes){(const uint8_t *)t->oid, strlen(t->oid)};
        reply(t->s, t->txid, &m, NULL, 0);
    }
    osd__sess_unref(t->s);
    free(t->oid);
    free(t);
}

/* Queues @txn for @pg; the reply to (@s, @txid) goes out when it is durable. */
static void queue_txn(struct osd_daemon *d, struct osd_sess *s, uint64_t txid, uint32_t op,
                      struct osd_pg *pg, struct osd_txn *txn, const char *oid)
{
    struct peer_txn *t = calloc(1, sizeof(*t));
    int r = t ? 0 : -ENOMEM;

    if (t) {
        *t = (struct peer_txn){.d = d, .s = s, .txid = txid, .pg = pg, .op = op};
        if (oid && !(t->oid = strdup(oid)))
            r = -ENOMEM;
    }
    if (r == 0) {
        s->refs++;
        r = osd__pg_queue_txn(d->engine, pg, txn, ptxn_done, t);
        if (r < 0)
            s->refs--;
    } else {
        osd_txn_destroy(txn);
    }
    if (r < 0) {
        if (t)
            free(t->oid);
        free(t);
        osd__pglog_free(&pg->log);
        pg->log_loaded = false;
        reply_err(s, txid, op, r, "store: %s", strerror(-r));
    }
}

/* ---- the requests ----------------------------------------------------------------- */

static bool from_our_primary(const struct osd_pg *pg, const struct proto_osd_peer *m)
{
    return m->from == pg->activated_by && m->act_epoch == pg->log.info.act_epoch &&
           m->act_epoch >= pg->fence_epoch;
}

static void on_query(struct osd_daemon *d, struct osd_sess *s, uint64_t txid, struct osd_pg *pg,
                     const struct proto_osd_peer *m)
{
    if (m->epoch > pg->fence_epoch)
        pg->fence_epoch = m->epoch;
    if (pg->primary && m->from != d->opts.id && pg->peering)
        osd__peering_request(d, pg); /* someone else peers it: our map is behind */
    if (pg->log.info.exists && !pg->log.info.objects)
        pg->log.info.objects = osd__pg_count_objects(d->engine, pg);
    reply_info(d, s, txid, m->op, pg);
}

static void on_log_get(struct osd_daemon *d, struct osd_sess *s, uint64_t txid,
                       struct osd_pg *pg, const struct proto_osd_peer *m)
{
    struct proto_osd_peer r;

    proto_osd_peer_init(&r);
    r.op = m->op;
    r.from = d->opts.id;
    r.has_info = true;
    r.info = pg->log.info;
    r.n_entries = osd__pglog_export(pg, m->after, &r.entries);
    reply(s, txid, &r, NULL, 0);
    free(r.entries);
}

struct scan_ctx {
    struct osd_daemon *d;
    struct osd_pg *pg;
    struct proto_bytes *names;
    uint64_t *versions;
    uint32_t n;
    char *buf;
    size_t buf_len;
};

static int scan_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    struct scan_ctx *c = arg;

    (void)v, (void)vl;
    if (kl == 0 || ((const char *)k)[0] == OSD_RESERVED_OID_BYTE)
        return 0;
    char *name = malloc(kl + 1);
    if (!name)
        return 1;
    memcpy(name, k, kl);
    name[kl] = 0;
    c->names[c->n] = (struct proto_bytes){(const uint8_t *)name, kl};
    c->versions[c->n++] = 0;
    return 0;
}

static void on_scan(struct osd_daemon *d, struct osd_sess *s, uint64_t txid, struct osd_pg *pg,
                    const struct proto_osd_peer *m)
{
    char after[PROTO_PEER_NAME_MAX + 1];
    uint32_t max = m->max && m->max < SCAN_MAX ? m->max : SCAN_MAX;
    struct scan_ctx c = {.d = d, .pg = pg};
    struct proto_osd_peer r;
    bool more = false;

    if (m->after_name.len > 0) /* an empty name may come as NULL */
        memcpy(after, m->after_name.p, m->after_name.len);
    after[m->after_name.len] = 0;
    c.names = calloc(max + 1, sizeof(*c.names));
    c.versions = calloc(max + 1, sizeof(*c.versions));
    if (!c.names || !c.versions) {
        reply_err(s, txid, m->op, -ENOMEM, "out of memory");
        goto out;
    }
    int rr = pg->coll_state == OSD_COLL_EXISTS
                 ? osd_store_list(d->store, pg->coll, after[0] ? after : NULL, max, scan_fn, &c,
                                  &more)
                 : 0;
    if (rr < 0 && rr != -ENOENT) {
        reply_err(s, txid, m->op, rr, "list: %s", strerror(-rr));
        goto out;
    }
    for (uint32_t i = 0; i < c.n; i++) {
        uint8_t v[8];
        size_t len = 0;
        if (osd_store_getxattr(d->store, pg->coll, (const char *)c.names[i].p, OSD_VERSION_XATTR,
                               v, sizeof(v), &len) == 0 && len == 8)
            c.versions[i] = cairn_get_le64(v);
    }
    proto_osd_peer_init(&r);
    r.op = m->op;
    r.from = d->opts.id;
    r.n_names = c.n;
    r.names = c.names;
    r.versions = c.versions;
    r.more = more;
    reply(s, txid, &r, NULL, 0);
out:
    for (uint32_t i = 0; c.names && i < c.n; i++)
        free((void *)c.names[i].p);
    free(c.names);
    free(c.versions);
}

static void on_pull(struct osd_daemon *d, struct osd_sess *s, uint64_t txid, struct osd_pg *pg,
                    const struct proto_osd_peer *m)
{
    char oid[PROTO_PEER_NAME_MAX + 1];
    struct osd_obj_state st;
    struct proto_osd_peer r;

    memcpy(oid, m->oid.p, m->oid.len);
    oid[m->oid.len] = 0;
    int rr = pg->coll_state == OSD_COLL_EXISTS
                 ? osd__obj_state_read(d->store, pg->coll, oid, &st)
                 : (memset(&st, 0, sizeof(st)), 0);
    if (rr < 0) {
        reply_err(s, txid, m->op, rr, "read %s: %s", oid, strerror(-rr));
        return;
    }
    proto_osd_peer_init(&r);
    r.op = m->op;
    r.from = d->opts.id;
    r.oid = m->oid;
    r.exists = st.exists;
    r.size = st.size;
    r.n_xattrs = st.n_xattrs;
    r.xattrs = st.xattrs;
    r.n_omap = st.n_omap;
    r.omap = st.omap;
    reply(s, txid, &r, st.data, st.exists ? st.size : 0);
    osd__obj_state_free(&st);
}

static struct osd_txn *pg_txn(struct osd_daemon *d, struct osd_pg *pg)
{
    if (osd__pg_ensure_coll(d->engine, pg) < 0)
        return NULL;
    return osd_txn_create(pg->coll);
}

static void on_push(struct osd_daemon *d, struct osd_sess *s, uint64_t txid, struct osd_pg *pg,
                    const struct proto_osd_peer *m, const uint8_t *data)
{
    char oid[PROTO_PEER_NAME_MAX + 1];
    struct osd_txn *txn;

    if (!from_our_primary(pg, m)) {
        reply_err(s, txid, m->op, -ESTALE, "push from osd.%d of activation %llu refused",
                  m->from, (unsigned long long)m->act_epoch);
        return;
    }
    memcpy(oid, m->oid.p, m->oid.len);
    oid[m->oid.len] = 0;
    if (!(txn = pg_txn(d, pg))) {
        reply_err(s, txid, m->op, -ENOMEM, "cannot create the PG");
        return;
    }
    int r = osd__obj_state_apply(txn, oid, m->exists, m->size, data, m->xattrs, m->n_xattrs,
                                 m->omap, m->n_omap);
    if (r < 0) {
        osd_txn_destroy(txn);
        reply_err(s, txid, m->op, r, "push of %s: %s", oid, strerror(-r));
        return;
    }
    queue_txn(d, s, txid, m->op, pg, txn, oid);
}

static void on_activate(struct osd_daemon *d, struct osd_sess *s, uint64_t txid,
                        struct osd_pg *pg, const struct proto_osd_peer *m)
{
    struct proto_pg_info *in = &pg->log.info;
    struct osd_txn *txn;
    int r = 0;

    if (m->act_epoch < pg->fence_epoch || m->act_epoch < in->act_epoch) {
        reply_err(s, txid, m->op, -ESTALE, "activation %llu is older than %llu",
                  (unsigned long long)m->act_epoch,
                  (unsigned long long)(pg->fence_epoch > in->act_epoch ? pg->fence_epoch
                                                                       : in->act_epoch));
        return;
    }
    if (!m->backfill && m->base != in->last_update) {
        reply_err(s, txid, m->op, -EINVAL, "activation from %llu, our log ends at %llu",
                  (unsigned long long)m->base, (unsigned long long)in->last_update);
        return;
    }
    if (!(txn = pg_txn(d, pg))) {
        reply_err(s, txid, m->op, -ENOMEM, "cannot create the PG");
        return;
    }
    pg->fence_epoch = m->act_epoch;
    pg->activated_by = m->from;
    uint64_t lc = in->last_complete; /* entries appended name objects we may lack */
    if (m->backfill) {
        r = osd__pglog_replace(pg, txn, m->entries, m->n_entries, m->log_tail);
        lc = 0;
    } else {
        for (uint32_t i = 0; r == 0 && i < m->n_entries; i++)
            r = osd__pglog_append(pg, txn, &m->entries[i], true);
    }
    in->last_complete = lc;
    in->act_epoch = m->act_epoch;
    in->exists = true;
    if (r == 0)
        r = osd__pglog_write_info(pg, txn);
    if (r < 0) {
        osd_txn_destroy(txn);
        osd__pglog_free(&pg->log);
        pg->log_loaded = false;
        reply_err(s, txid, m->op, r, "activation: %s", strerror(-r));
        return;
    }
    queue_txn(d, s, txid, m->op, pg, txn, NULL);
}

static void on_recovered(struct osd_daemon *d, struct osd_sess *s, uint64_t txid,
                         struct osd_pg *pg, const struct proto_osd_peer *m)
{
    struct osd_txn *txn;

    if (!from_our_primary(pg, m)) {
        reply_err(s, txid, m->op, -ESTALE, "recovered from osd.%d refused", m->from);
        return;
    }
    if (!(txn = pg_txn(d, pg))) {
        reply_err(s, txid, m->op, -ENOMEM, "cannot create the PG");
        return;
    }
    pg->log.info.last_complete = pg->log.info.last_update;
    if (osd__pglog_write_info(pg, txn) < 0) {
        osd_txn_destroy(txn);
        reply_err(s, txid, m->op, -ENOMEM, "out of memory");
        return;
    }
    queue_txn(d, s, txid, m->op, pg, txn, NULL);
}

static int txn_add(struct osd_txn *txn, const struct proto_txn_op *o, const uint8_t *data)
{
    char oid[PROTO_PEER_NAME_MAX + 1], name[OSD_STORE_XATTR_NAME_MAX + 1];

    memcpy(oid, o->oid.p, o->oid.len);
    oid[o->oid.len] = 0;
    if (oid[0] == OSD_RESERVED_OID_BYTE)
        return -EINVAL;
    if (o->type == PROTO_TXN_SETXATTR || o->type == PROTO_TXN_RMXATTR) {
        if (o->key.len > OSD_STORE_XATTR_NAME_MAX)
            return -EINVAL;
        memcpy(name, o->key.p, o->key.len);
        name[o->key.len] = 0;
    }
    switch (o->type) {
    case PROTO_TXN_TOUCH:
        return osd_txn_touch(txn, oid);
    case PROTO_TXN_CREATE_EXCL:
        return osd_txn_create_exclusive(txn, oid);
    case PROTO_TXN_WRITE:
        return osd_txn_write(txn, oid, o->off, data + o->data_off, o->len);
    case PROTO_TXN_ZERO:
        return osd_txn_zero(txn, oid, o->off, o->len);
    case PROTO_TXN_TRUNCATE:
        return osd_txn_truncate(txn, oid, o->off);
    case PROTO_TXN_REMOVE:
        return osd_txn_remove(txn, oid);
    case PROTO_TXN_SETXATTR:
        return osd_txn_setxattr(txn, oid, name, o->val.p, o->val.len);
    case PROTO_TXN_RMXATTR:
        return osd_txn_rmxattr(txn, oid, name);
    case PROTO_TXN_OMAP_SET:
        return osd_txn_omap_set(txn, oid, o->key.p, o->key.len, o->val.p, o->val.len);
    case PROTO_TXN_OMAP_RM:
        return osd_txn_omap_rm(txn, oid, o->key.p, o->key.len);
    case PROTO_TXN_OMAP_CLEAR:
        return osd_txn_omap_clear(txn, oid);
    default:
        return -EINVAL;
    }
}

static void on_repop(struct osd_daemon *d, struct osd_sess *s, uint64_t txid, struct osd_pg *pg,
                     const struct proto_osd_peer *m, const uint8_t *data)
{
    struct osd_txn *txn;
    int r = 0;

    if (!from_our_primary(pg, m) || m->prev != pg->log.info.last_update || m->n_entries != 1) {
        reply_err(s, txid, m->op, -ESTALE,
                  "repop %llu after %llu from osd.%d (activation %llu) refused: we follow osd.%d "
                  "(activation %llu, fence %llu), our log ends at %llu",
                  (unsigned long long)(m->n_entries ? m->entries[0].version : 0),
                  (unsigned long long)m->prev, m->from, (unsigned long long)m->act_epoch,
                  pg->activated_by, (unsigned long long)pg->log.info.act_epoch,
                  (unsigned long long)pg->fence_epoch,
                  (unsigned long long)pg->log.info.last_update);
        return;
    }
    if (!(txn = pg_txn(d, pg))) {
        reply_err(s, txid, m->op, -ENOMEM, "cannot create the PG");
        return;
    }
    for (uint32_t i = 0; r == 0 && !m->log_only && i < m->n_txn; i++)
        r = txn_add(txn, &m->txn[i], data);
    if (r == 0)
        r = osd__pglog_append(pg, txn, &m->entries[0], true);
    if (r < 0) {
        osd_txn_destroy(txn);
        osd__pglog_free(&pg->log);
        pg->log_loaded = false;
        reply_err(s, txid, m->op, r, "repop: %s", strerror(-r));
        return;
    }
    queue_txn(d, s, txid, m->op, pg, txn, NULL);
}

struct remove_ctx {
    char **names;
    uint32_t n, cap;
};

static int remove_name_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    struct remove_ctx *c = arg;

    (void)v, (void)vl;
    if (c->n == c->cap)
        return 1;
    if (!(c->names[c->n] = strndup(k, kl)))
        return 1;
    c->n++;
    return 0;
}

/* Deletes every object of @pg's collection, then the collection. */
static int remove_pg_data(struct osd_daemon *d, struct osd_pg *pg)
{
    struct remove_ctx c = {.cap = 512};
    bool more = true;
    int r = 0;

    if (!(c.names = calloc(c.cap, sizeof(*c.names))))
        return -ENOMEM;
    while (r == 0 && more) {
        struct osd_txn *txn = osd_txn_create(pg->coll);
        c.n = 0;
        more = false;
        r = txn ? osd_store_list(d->store, pg->coll, NULL, c.cap, remove_name_fn, &c, &more)
                : -ENOMEM;
        for (uint32_t i = 0; r == 0 && i < c.n; i++)
            r = osd_txn_remove(txn, c.names[i]);
        if (r == 0 && !more)
            r = osd_txn_remove_collection(txn);
        if (r == 0)
            r = osd_store_apply(d->store, txn);
        else if (txn)
            osd_txn_destroy(txn);
        for (uint32_t i = 0; i < c.n; i++)
            free(c.names[i]);
    }
    free(c.names);
    return r == -ENOENT ? 0 : r;
}

static void on_remove(struct osd_daemon *d, struct osd_sess *s, uint64_t txid,
                      struct osd_pg *pg, const struct proto_osd_peer *m)
{
    if (pg->member || pg->primary) {
        reply_err(s, txid, m->op, -EBUSY, "%s is a member of pg %s in epoch %llu",
                  d->opts.entity, pg->coll, (unsigned long long)d->map->epoch);
        return;
    }
    uint64_t objects = osd__pg_count_objects(d->engine, pg);
    int r = pg->coll_state == OSD_COLL_EXISTS ? remove_pg_data(d, pg) : 0;
    if (r < 0) {
        reply_err(s, txid, m->op, r, "removing pg %s: %s", pg->coll, strerror(-r));
        return;
    }
    cairn_log(CAIRN_LOG_INFO, CAIRN_SS_OSD,
              "%s pg %s: removed our stray copy (%llu objects); osd.%d holds it clean",
              d->opts.entity, pg->coll, (unsigned long long)objects, m->from);
    osd__pglog_free(&pg->log);
    pg->log_loaded = false;
    pg->coll_state = OSD_COLL_NONE;
    pg->fence_epoch = m->epoch > pg->fence_epoch ? m->epoch : pg->fence_epoch;
    reply_info(d, s, txid, m->op, pg);
}

/* The digests of our copy of one object. Not deferred behind the PG's
 * transactions: the primary holds the object while it asks, so every write
 * of it we acknowledged is durable and none is coming. */
static void on_scrub(struct osd_daemon *d, struct osd_sess *s, uint64_t txid, struct osd_pg *pg,
                     const struct proto_osd_peer *m)
{
    char oid[PROTO_PEER_NAME_MAX + 1];
    struct osd_obj_digest dg = {0};
    struct proto_osd_peer r;

    memcpy(oid, m->oid.p, m->oid.len);
    oid[m->oid.len] = 0;
    if (pg->coll_state == OSD_COLL_EXISTS)
        osd__obj_digest(d->store, pg->coll, oid, m->deep, &dg);
    if (dg.read_error)
        cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s pg %s: scrub cannot read %s: %s",
                  d->opts.entity, pg->coll, oid, strerror(-dg.read_error));
    proto_osd_peer_init(&r);
    r.op = m->op;
    r.from = d->opts.id;
    r.oid = m->oid;
    r.deep = m->deep;
    r.exists = dg.exists;
    r.size = dg.size;
    r.obj_version = dg.version;
    r.attr_digest = dg.attr;
    r.omap_digest = dg.omap;
    r.data_digest = dg.data;
    r.read_error = dg.read_error;
    reply(s, txid, &r, NULL, 0);
}

/* ---- dispatch ----------------------------------------------------------------------- */

static bool needs_drain(uint32_t op)
{
    return op == PROTO_PEER_QUERY || op == PROTO_PEER_LOG_GET || op == PROTO_PEER_SCAN ||
           op == PROTO_PEER_PULL || op == PROTO_PEER_ACTIVATE || op == PROTO_PEER_REMOVE;
}

static void handle(struct osd_daemon *d, struct osd_sess *s, uint64_t txid, const uint8_t *meta,
                   size_t meta_len, uint8_t *data, size_t data_len)
{
    struct proto_osd_peer m;
    char err[OSD_MSG_MAX] = "";
    int r;

    if (!s->conn) {
        free(data);
        return;
    }
    if ((r = proto_osd_peer_decode(meta, meta_len, data_len, &m, err, sizeof(err))) < 0) {
        static struct cairn_log_limit limit = {.per_s = 10};
        if (cairn_log_limit_allow(&limit, CAIRN_SS_OSD, "refused peer requests"))
            cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s: peer request from %s refused: %s",
                      d->opts.entity, proto_conn_peer(s->conn), err[0] ? err : strerror(-r));
        /* Any valid op: the asker reads only the result. */
        reply_err(s, txid, PROTO_PEER_QUERY, r == -ENOMEM ? -ENOMEM : -EINVAL, "%s",
                  err[0] ? err : "undecodable OsdPeer");
        free(data);
        return;
    }
    const struct proto_map_pool *pool = d->map ? proto_map_pool(d->map, m.pool) : NULL;
    struct osd_pg *pg = NULL;
    if (d->stopping || d->state != OSD_STATE_ACTIVE) {
        reply_err(s, txid, m.op, -EAGAIN, "%s is not serving", d->opts.entity);
        goto out;
    }
    if (!pool || m.pg >= pool->pg_num) {
        reply_err(s, txid, m.op, -ENOENT, "no pg %d.%x in epoch %llu", m.pool, m.pg,
                  (unsigned long long)(d->map ? d->map->epoch : 0));
        goto out;
    }
    if (!(pg = osd__pg_get(d->engine, m.pool, m.pg)) ||
        (r = osd__pglog_load(d->engine, pg)) < 0) {
        reply_err(s, txid, m.op, pg ? r : -ENOMEM, "cannot load pg %d.%x", m.pool, m.pg);
        goto out;
    }
    if (needs_drain(m.op) && pg->txns > 0) {
        defer(pg, s, txid, meta, meta_len, data, data_len);
        data = NULL;
        goto out;
    }
    switch (m.op) {
    case PROTO_PEER_QUERY:
        on_query(d, s, txid, pg, &m);
        break;
    case PROTO_PEER_LOG_GET:
        on_log_get(d, s, txid, pg, &m);
        break;
    case PROTO_PEER_SCAN:
        on_scan(d, s, txid, pg, &m);
        break;
    case PROTO_PEER_PULL:
        on_pull(d, s, txid, pg, &m);
        break;
    case PROTO_PEER_PUSH:
        on_push(d, s, txid, pg, &m, data);
        break;
    case PROTO_PEER_ACTIVATE:
        on_activate(d, s, txid, pg, &m);
        break;
    case PROTO_PEER_RECOVERED:
        on_recovered(d, s, txid, pg, &m);
        break;
    case PROTO_PEER_REPOP:
        on_repop(d, s, txid, pg, &m, data);
        break;
    case PROTO_PEER_REMOVE:
        on_remove(d, s, txid, pg, &m);
        break;
    case PROTO_PEER_SCRUB:
        on_scrub(d, s, txid, pg, &m);
        break;
    default:
        reply_err(s, txid, m.op, -EOPNOTSUPP, "peer op %u is not supported", m.op);
        break;
    }
out:
    proto_osd_peer_release(&m);
    free(data);
}

void osd__peer_serve_init(struct osd_daemon *d)
{
    drain_daemon = d;
    osd__pg_drained_hook = on_drained;
}

void osd__peer_on_request(struct osd_daemon *d, struct osd_sess *s, struct proto_frame *f)
{
    uint8_t *data = f->data;

    f->data = NULL;
    handle(d, s, f->hdr.txid, f->meta, f->hdr.meta_len, data, f->hdr.data_len);
}

/* The network side of cairn-osd: messenger callbacks, sessions, and the
 * client requests PROTO_MSG_OSD_OP, PROTO_MSG_OSD_LIST and PROTO_MSG_OSD_PG_CMD
 * (protocol/osd_op.h; scrubs run in scrub.c).
 * Each handler decodes and validates (a malformed request gets an error
 * reply, never a crash), checks the request against our map (docs/osd.md
 * §2: misdirected -> -ESTALE, newer epoch -> held until our map catches
 * up), then hands ops to the engine. Pings go to heartbeat.c, map updates
 * to monc. Loop thread only.
 *
 * Sessions: every connection once open (and our outgoing heartbeat ones
 * from their start) has a struct osd_sess, referenced by the connection
 * until it closes and by each op that will answer on it, so a reply to a
 * closed connection is dropped instead of touching freed memory. */
#include "osd/internal.h"
#include "osd/pgstat.h"

#include "common/clock.h"
#include "common/log.h"
#include "protocol/msg_types.h"
#include "protocol/msgr.h"
#include "protocol/monc.h"
#include "protocol/placement.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD_INPUT_LOGS_PER_S 10u

/* Logs refused input, at most BAD_INPUT_LOGS_PER_S lines a second. */
__attribute__((format(printf, 2, 3))) static void bad_input(const struct osd_sess *s,
                                                            const char *fmt, ...)
{
    static struct cairn_log_limit limit = {.per_s = BAD_INPUT_LOGS_PER_S};
    char what[200];
    va_list ap;

    if (!cairn_log_limit_allow(&limit, CAIRN_SS_OSD, "refused requests"))
        return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    cairn_log(CAIRN_LOG_WARN, CAIRN_SS_OSD, "%s refused from %s (%s): %s", s->d->opts.entity,
              s->conn ? proto_conn_peer(s->conn) : "?", s->conn ? proto_conn_addr(s->conn) : "?",
              what);
}

/* ---- sessions and the engine's hooks ---------------------------------------- */

void osd__sess_unref(struct osd_sess *s)
{
    if (--s->refs == 0)
        free(s);
}

static void hook_reply(void *arg, void *sess, uint64_t txid, const uint8_t *meta, size_t meta_len,
                       const void *data, size_t data_len)
{
    struct osd_sess *s = sess;

    (void)arg;
    if (!s || !s->conn || txid == 0)
        return; /* the client left: it resends elsewhere, or not at all */
    int r = proto_conn_reply(s->conn, txid, PROTO_MSG_OSD_OP, meta, meta_len, data, data_len);
    if (r < 0)
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_OSD, "reply to %s dropped: %s",
                  proto_conn_peer(s->conn), strerror(-r));
}

static void hook_ref(void *arg, void *sess)
{
    (void)arg;
    ((struct osd_sess *)sess)->refs++;
}

static void hook_unref(void *arg, void *sess)
{
    (void)arg;
    osd__sess_unref(sess);
}

const struct osd_engine_hooks osd__engine_hooks = {
    .reply = hook_reply,
    .sess_ref = hook_ref,
    .sess_unref = hook_unref,
    .replicate = osd__replicate,
    .repeer = osd__repeer_hook,
    .read_repair = osd__read_repair,
    .want_object = osd__peering_pull_now,
};

/* ---- client ops -------------------------------------------------------------- */

static uint64_t map_epoch(const struct osd_daemon *d)
{
    return d->map ? d->map->epoch : 0;
}

static void hold(struct osd_daemon *d, struct osd_op *op)
{
    if (d->n_held >= OSD_HOLD_MAX) {
        osd__op_fail(op, -ESTALE, "%s is waiting for a map for too many ops; retry",
                     d->opts.entity);
        return;
    }
    if (!op->held_ns)
        op->held_ns = cairn_now_ns();
    TAILQ_INSERT_TAIL(&d->held, op, link);
    d->n_held++;
}

/* Routes a decoded op: hold, refuse as misdirected, or run. */
static void dispatch_op(struct osd_daemon *d, struct osd_op *op)
{
    const struct proto_osd_op *r = &op->req;

    if (d->stopping) {
        osd__op_fail(op, -ESTALE, "%s is shutting down", d->opts.entity);
        return;
    }
    if (d->state != OSD_STATE_ACTIVE || r->epoch > map_epoch(d)) {
        hold(d, op);
        return;
    }
    if (r->oid[0] == OSD_RESERVED_OID_BYTE) {
        osd__op_fail(op, -EINVAL, "object names starting with byte 0x01 are reserved");
        return;
    }
    const struct proto_map_pool *pool = proto_map_pool(d->map, r->pool);
    if (!pool) {
        osd__op_fail(op, -ENOENT, "no such pool %d in epoch %llu", r->pool,
                     (unsigned long long)map_epoch(d));
        return;
    }
    uint32_t ps = proto_place_pg(pool, r->oid, strlen(r->oid));
    struct osd_pg *pg = osd__pg_lookup(d->engine, r->pool, ps);
    if (r->pg != ps || !pg || !pg->primary) {
        osd__op_fail(op, -ESTALE, "%s is not the primary of pg %d.%x in epoch %llu%s",
                     d->opts.entity, r->pool, r->pg, (unsigned long long)map_epoch(d),
                     r->pg != ps ? " (the object is in another pg)" : "");
        return;
    }
    osd__op_submit(pg, op);
}

/* Answers a request that has no op context (no free one). */
static void reply_error(struct osd_sess *s, uint64_t txid, uint16_t type, int err,
                        const char *why)
{
    struct proto_osd_reply rep;
    uint8_t *meta;
    size_t len;

    proto_osd_reply_init(&rep);
    rep.result = err;
    rep.epoch = map_epoch(s->d);
    snprintf(rep.message, sizeof(rep.message), "%s", why);
    if (proto_osd_reply_encode(&rep, &meta, &len) < 0)
        return;
    hook_reply(NULL, s, txid, meta, len, NULL, 0);
    (void)type;
    free(meta);
}

static void handle_op(struct osd_daemon *d, struct osd_sess *s, struct proto_frame *f)
{
    struct osd_op *op = osd__op_get(d->engine);
    char err[OSD_MSG_MAX] = "";

    if (!op) {
        reply_error(s, f->hdr.txid, PROTO_MSG_OSD_OP, -ESTALE, "too many ops in flight; retry");
        return;
    }
    osd__op_set_origin(op, s, f->hdr.txid, f->data, f->hdr.data_len);
    f->data = NULL; /* the op's now */
    int r = proto_osd_op_decode(f->meta, f->hdr.meta_len, f->hdr.data_len, &op->req, err,
                                sizeof(err));
    if (r < 0) {
        bad_input(s, "OsdOp: %s", err[0] ? err : strerror(-r));
        osd__op_fail(op, r == -ENOMEM ? -ENOMEM : -EINVAL, "%s",
                     err[0] ? err : r == -EBADMSG ? "undecodable OsdOp metadata" : strerror(-r));
        return;
    }
    dispatch_op(d, op);
}

void osd__held_release(struct osd_daemon *d, bool expire_only)
{
    struct osd_op_list recheck = TAILQ_HEAD_INITIALIZER(recheck);
    uint64_t now = cairn_now_ns();
    struct osd_op *op;

    TAILQ_CONCAT(&recheck, &d->held, link);
    d->n_held = 0;
    while ((op = TAILQ_FIRST(&recheck))) {
        TAILQ_REMOVE(&recheck, op, link);
        if (now - op->held_ns >= (uint64_t)OSD_HOLD_MS * 1000000u)
            osd__op_fail(op, -ESTALE, "%s waited %us for %s (op epoch %llu, ours %llu)",
                         d->opts.entity, OSD_HOLD_MS / 1000,
                         d->state != OSD_STATE_ACTIVE ? "its boot" : "a newer map",
                         (unsigned long long)op->req.epoch, (unsigned long long)map_epoch(d));
        else if (expire_only)
            hold(d, op);
        else
            dispatch_op(d, op);
    }
}

void osd__held_fail_all(struct osd_daemon *d)
{
    struct osd_op *op;

    while ((op = TAILQ_FIRST(&d->held))) {
        TAILQ_REMOVE(&d->held, op, link);
        d->n_held--;
        osd__op_fail(op, -ESTALE, "%s is shutting down", d->opts.entity);
    }
}

/* ---- listing ---------------------------------------------------------------- */

struct names {
    char *buf;         /* PROTO_OSD_LIST_MAX names of up to PROTO_OSD_OID_MAX + 1 bytes */
    const char **ptrs;
    uint32_t n;
};

static int name_fn(const void *key, size_t key_len, const void *v, size_t vl, void *arg)
{
    struct names *nm = arg;
    char *p = nm->buf + (size_t)nm->n * (PROTO_OSD_OID_MAX + 1);

    (void)v, (void)vl;
    if (key_len > PROTO_OSD_OID_MAX || (key_len && *(const char *)key == OSD_RESERVED_OID_BYTE))
        return 0; /* not a client object: skip */
    memcpy(p, key, key_len);
    p[key_len] = '\0';
    nm->ptrs[nm->n++] = p;
    return 0;
}

/* Checks a request for PG @ps of pool @pool_id, sent at @epoch, against
 * our map: 0 with *@pg, or the error to answer and why. */
static int pg_check(struct osd_daemon *d, uint64_t epoch, int32_t pool_id, uint32_t ps,
                    struct osd_pg **pg, char *why, size_t why_len)
{
    const struct proto_map_pool *pool = d->map ? proto_map_pool(d->map, pool_id) : NULL;

    if (d->state != OSD_STATE_ACTIVE || epoch > map_epoch(d)) {
        snprintf(why, why_len, "%s is not up in epoch %llu yet", d->opts.entity,
                 (unsigned long long)epoch);
        return -ESTALE;
    }
    if (!pool) {
        snprintf(why, why_len, "no such pool %d", pool_id);
        return -ENOENT;
    }
    if (ps >= pool->pg_num) {
        snprintf(why, why_len, "pool %d has no pg %x", pool_id, ps);
        return -ENOENT;
    }
    *pg = osd__pg_lookup(d->engine, pool_id, ps);
    if (!*pg || !(*pg)->primary) {
        snprintf(why, why_len, "%s is not the primary of pg %d.%x", d->opts.entity, pool_id, ps);
        return -ESTALE;
    }
    return 0;
}

static void list_reply(struct osd_sess *s, uint64_t txid, struct proto_osd_list_reply *rep)
{
    uint8_t *meta;
    size_t len;

    rep->epoch = map_epoch(s->d);
    if (proto_osd_list_reply_encode(rep, &meta, &len) < 0)
        return;
    if (s->conn)
        proto_conn_reply(s->conn, txid, PROTO_MSG_OSD_LIST, meta, len, NULL, 0);
    free(meta);
}

static void handle_list(struct osd_daemon *d, struct osd_sess *s, const struct proto_frame *f)
{
    struct proto_osd_list_reply rep = {0};
    struct proto_osd_list l;
    struct names nm = {0};
    struct osd_pg *pg = NULL;
    char why[OSD_MSG_MAX];
    bool more = false;

    if (proto_osd_list_decode(f->meta, f->hdr.meta_len, &l) < 0) {
        bad_input(s, "undecodable OsdList");
        rep.result = -EINVAL;
    } else if ((rep.result = pg_check(d, l.epoch, l.pool, l.pg, &pg, why, sizeof(why))) < 0) {
        cairn_log(CAIRN_LOG_DEBUG, CAIRN_SS_OSD, "list refused: %s", why);
    } else if (!(pg->state & (OSD_PGS_ACTIVE | OSD_PGS_PEERED)) || pg->missing_left) {
        /* Our store does not hold the PG's newest names yet (peering, or
         * objects we still pull): the client backs off and asks again. */
        rep.result = -ESTALE;
    } else {
        uint32_t max = l.max && l.max < PROTO_OSD_LIST_MAX ? l.max : PROTO_OSD_LIST_MAX;
        nm.buf = malloc((size_t)max * (PROTO_OSD_OID_MAX + 1));
        nm.ptrs = malloc(max * sizeof(*nm.ptrs));
        int r = !nm.buf || !nm.ptrs ? -ENOMEM
                                     : osd_store_list(d->store, pg->coll, l.after[0] ? l.after : NULL,
                                                      max, name_fn, &nm, &more);
        rep.result = r == -ENOENT ? 0 : r; /* no collection yet: nothing written */
        rep.n_names = nm.n;
        rep.names = nm.ptrs;
        rep.more = more;
    }
    list_reply(s, f->hdr.txid, &rep);
    free(nm.buf);
    free(nm.ptrs);
}

/* ---- PG commands (scrub) -------------------------------------------------------- */

/* Where a PG command's answer goes; holds a reference on the session. */
struct pg_cmd_waiter {
    struct osd_sess *s;
    uint64_t txid;
};

static void pg_cmd_reply(struct osd_sess *s, uint64_t txid, struct proto_osd_pg_cmd_reply *rep)
{
    uint8_t *meta;
    size_t len;

    rep->epoch = map_epoch(s->d);
    if (proto_osd_pg_cmd_reply_encode(rep, &meta, &len) < 0)
        return;
    if (s->conn)
        proto_conn_reply(s->conn, txid, PROTO_MSG_OSD_PG_CMD, meta, len, NULL, 0);
    free(meta);
}

static void scrub_done(struct osd_daemon *d, void *arg, const struct osd_scrub_result *res)
{
    struct pg_cmd_waiter *w = arg;
    struct proto_osd_pg_cmd_reply rep = {.result = res->result,
                                         .objects = res->objects,
                                         .inconsistent = res->inconsistent,
                                         .repaired = res->repaired,
                                         .duration_ms = res->duration_ms};

    (void)d;
    snprintf(rep.message, sizeof(rep.message), "%s", res->message);
    pg_cmd_reply(w->s, w->txid, &rep);
    osd__sess_unref(w->s);
    free(w);
}

static void handle_pg_cmd(struct osd_daemon *d, struct osd_sess *s, const struct proto_frame *f)
{
    struct proto_osd_pg_cmd_reply rep = {0};
    struct proto_osd_pg_cmd c;
    struct osd_pg *pg = NULL;
    struct pg_cmd_waiter *w;

    if (proto_osd_pg_cmd_decode(f->meta, f->hdr.meta_len, &c) < 0) {
        bad_input(s, "undecodable OsdPgCmd");
        rep.result = -EINVAL;
        snprintf(rep.message, sizeof(rep.message), "undecodable OsdPgCmd");
    } else if ((rep.result = pg_check(d, c.epoch, c.pool, c.pg, &pg, rep.message,
                                      sizeof(rep.message))) == 0) {
        if (!(w = malloc(sizeof(*w)))) {
            rep.result = -ENOMEM;
            snprintf(rep.message, sizeof(rep.message), "out of memory");
        } else {
            *w = (struct pg_cmd_waiter){s, f->hdr.txid};
            s->refs++;
            osd__scrub_request(d, pg, c.op == PROTO_OSD_PG_DEEP_SCRUB, scrub_done, w);
            return;
        }
    }
    pg_cmd_reply(s, f->hdr.txid, &rep);
}

/* ---- messenger callbacks ----------------------------------------------------- */

static void on_message(struct proto_conn *conn, struct proto_frame *f, void *arg)
{
    struct osd_daemon *d = arg;
    struct osd_sess *s = proto_conn_get_data(conn);

    if (d->monc && proto_monc_handle_message(d->monc, conn, f))
        return;
    if (!s || f->hdr.txid == 0) {
        if (s)
            bad_input(s, "unexpected one-way message type %u", f->hdr.type);
        goto out;
    }
    switch (f->hdr.type) {
    case PROTO_MSG_OSD_OP:
        handle_op(d, s, f);
        break;
    case PROTO_MSG_OSD_LIST:
        handle_list(d, s, f);
        break;
    case PROTO_MSG_OSD_PG_CMD:
        handle_pg_cmd(d, s, f);
        break;
    case PROTO_MSG_OSD_PING:
        osd__hb_on_ping(d, s, f);
        break;
    case PROTO_MSG_OSD_PEER:
        osd__peer_on_request(d, s, f);
        break;
    default:
        bad_input(s, "unknown request type %u", f->hdr.type);
        break;
    }
out:
    proto_frame_free(f);
}

static void on_open(struct proto_conn *conn, void *arg)
{
    struct osd_sess *s = proto_conn_get_data(conn);

    if (s) /* ours (heartbeat), reconnected */
        return;
    if (!(s = calloc(1, sizeof(*s)))) {
        proto_conn_close(conn);
        return;
    }
    s->d = arg;
    s->conn = conn;
    s->refs = 1; /* the connection's */
    proto_conn_set_data(conn, s);
}

static void on_close(struct proto_conn *conn, int reason, void *arg)
{
    struct osd_sess *s = proto_conn_get_data(conn);

    (void)arg, (void)reason;
    if (!s)
        return;
    proto_conn_set_data(conn, NULL);
    s->conn = NULL;
    if (s->peer)
        s->peer->sess = NULL;
    s->peer = NULL;
    osd__sess_unref(s);
}

const struct proto_msgr_handlers osd__msgr_handlers = {
    .on_message = on_message,
    .on_open = on_open,
    .on_close = on_close,
};

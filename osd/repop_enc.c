/* The primary's side of a replicated write (docs/osd.md §6): the REPOP
 * message of a write op, built from the op's store transaction, and the
 * bookkeeping of its acknowledgements. Sending is the daemon's
 * (hooks.replicate, osd/repop.c). Loop thread only. */
#include "osd/internal.h"

#include "common/assert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct enc {
    struct proto_txn_op *ops;
    uint32_t n, cap;
    uint8_t *data;
    size_t data_len, data_cap;
    int err;
};

static int enc_data(struct enc *x, const void *p, size_t len)
{
    if (x->data_len + len > x->data_cap) {
        size_t cap = x->data_cap ? x->data_cap * 2 : 65536;
        while (cap < x->data_len + len)
            cap *= 2;
        uint8_t *d = realloc(x->data, cap);
        if (!d)
            return -ENOMEM;
        x->data = d;
        x->data_cap = cap;
    }
    if (len)
        memcpy(x->data + x->data_len, p, len);
    x->data_len += len;
    return 0;
}

static const uint32_t kind_to_wire[] = {
    [OSD_TXN_TOUCH] = PROTO_TXN_TOUCH,       [OSD_TXN_CREATE_EXCL] = PROTO_TXN_CREATE_EXCL,
    [OSD_TXN_WRITE] = PROTO_TXN_WRITE,       [OSD_TXN_ZERO] = PROTO_TXN_ZERO,
    [OSD_TXN_TRUNCATE] = PROTO_TXN_TRUNCATE, [OSD_TXN_REMOVE] = PROTO_TXN_REMOVE,
    [OSD_TXN_SETXATTR] = PROTO_TXN_SETXATTR, [OSD_TXN_RMXATTR] = PROTO_TXN_RMXATTR,
    [OSD_TXN_OMAP_SET] = PROTO_TXN_OMAP_SET, [OSD_TXN_OMAP_RM] = PROTO_TXN_OMAP_RM,
    [OSD_TXN_OMAP_CLEAR] = PROTO_TXN_OMAP_CLEAR,
};

static int enc_op(const struct osd_txn_op_view *v, void *arg)
{
    struct enc *x = arg;

    /* The collection is the replica's business, and so is its own log. */
    if (!v->oid || v->oid[0] == OSD_RESERVED_OID_BYTE)
        return 0;
    if (x->n == x->cap) {
        uint32_t cap = x->cap ? x->cap * 2 : 8;
        struct proto_txn_op *o = realloc(x->ops, cap * sizeof(*o));
        if (!o)
            return x->err = -ENOMEM;
        x->ops = o;
        x->cap = cap;
    }
    x->ops[x->n++] = (struct proto_txn_op){
        .type = kind_to_wire[v->kind],
        .oid = {(const uint8_t *)v->oid, strlen(v->oid)},
        .key = {v->key, v->key_len},
        .val = {v->val, v->val_len},
        .off = v->off,
        .len = v->len,
    };
    if (v->kind == OSD_TXN_WRITE && enc_data(x, v->data, v->len) < 0)
        return x->err = -ENOMEM;
    return 0;
}

int osd__repop_encode(struct osd_op *op, struct osd_txn *txn, const struct proto_pg_log_entry *entry,
                      uint64_t prev, uint64_t act_epoch)
{
    struct enc x = {0};
    struct proto_osd_peer m;
    int r;

    (void)osd_txn_foreach(txn, enc_op, &x);
    if (x.err < 0) {
        free(x.ops);
        free(x.data);
        return x.err;
    }
    proto_osd_peer_init(&m);
    m.op = PROTO_PEER_REPOP;
    m.pool = op->pg->pool;
    m.pg = op->pg->ps;
    m.epoch = osd__engine_epoch(op->e);
    m.from = osd__engine_whoami(op->e);
    m.act_epoch = act_epoch;
    m.prev = prev;
    m.n_entries = 1;
    m.entries = (struct proto_pg_log_entry *)entry;
    m.n_txn = x.n;
    m.txn = x.ops;
    r = proto_osd_peer_encode(&m, &op->repop_meta, &op->repop_meta_len);
    free(x.ops);
    if (r < 0) {
        free(x.data);
        return r;
    }
    op->repop_data = x.data;
    op->repop_data_len = x.data_len;
    return 0;
}

void osd__repop_acked(struct osd_op *op, unsigned gen, int result)
{
    if (gen != op->repop_gen || op->acks_left == 0)
        return; /* abandoned: the op moved on */
    if (result < 0)
        op->repl_failed = true;
    if (--op->acks_left == 0 && op->store_done)
        osd__engine_op_finished(op);
}

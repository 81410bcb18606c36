/* Fuzz target for the OSD peering codec (protocol/osd_peer.c). An input is
 *   u64 data_len (little-endian; absent in inputs under 8 bytes: 0) | metadata
 * and the metadata is decoded against data_len. Whatever decodes must satisfy
 * the documented rules and survive encode + decode with identical fields; a
 * failed decode leaves its output untouched with a terminated reason. Any
 * crash, leak, sanitizer report or abort() is a bug. Built by
 * tests/fuzz/CMakeLists.txt; seeds in corpus/osd_peer/ (written by
 * gen_corpus_osd_peer.c). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/osd_peer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_bytes(struct proto_bytes a, struct proto_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool is_name(struct proto_bytes b, size_t min, size_t max)
{
    return b.len >= min && b.len <= max && (b.len == 0 || !memchr(b.p, '\0', b.len));
}

static void check_txn(const struct proto_osd_peer *m, uint64_t data_len)
{
    uint64_t off = 0;

    for (uint32_t i = 0; i < m->n_txn; i++) {
        const struct proto_txn_op *t = &m->txn[i];
        if (t->type < 1 || t->type > PROTO_TXN_TYPE_MAX ||
            !is_name(t->oid, 1, PROTO_PEER_NAME_MAX) || t->key.len > PROTO_PEER_VALUE_MAX ||
            t->val.len > PROTO_PEER_VALUE_MAX)
            abort();
        if ((t->type == PROTO_TXN_SETXATTR || t->type == PROTO_TXN_RMXATTR) &&
            !is_name(t->key, 1, PROTO_PEER_XATTR_NAME_MAX))
            abort();
        if (t->type != PROTO_TXN_WRITE)
            continue;
        if (t->data_off != off || t->len > UINT64_MAX - t->off)
            abort();
        off += t->len;
    }
    if (m->op == PROTO_PEER_REPOP && off != data_len)
        abort();
}

static void check_peer(const struct proto_osd_peer *m, uint64_t data_len)
{
    if (m->op < 1 || m->op > PROTO_PEER_OP_MAX || m->result > 0 || m->read_error > 0 ||
        !memchr(m->message, '\0', sizeof(m->message)))
        abort();
    if (m->n_entries > PROTO_PEER_ENTRIES_MAX || m->n_names > PROTO_PEER_NAMES_MAX ||
        m->n_xattrs > PROTO_PEER_KV_MAX || m->n_omap > PROTO_PEER_KV_MAX ||
        m->n_txn > PROTO_PEER_TXN_MAX)
        abort();
    if (!is_name(m->oid, 0, PROTO_PEER_NAME_MAX) || m->after_name.len > PROTO_PEER_NAME_MAX)
        abort();
    for (uint32_t i = 0; i < m->n_entries; i++)
        if (m->entries[i].op < 1 || m->entries[i].op > 2 ||
            !is_name(m->entries[i].oid, 1, PROTO_PEER_NAME_MAX) ||
            m->entries[i].reply.len > PROTO_PEER_REPLY_MAX)
            abort();
    for (uint32_t i = 0; i < m->n_names; i++)
        if (!is_name(m->names[i], 1, PROTO_PEER_NAME_MAX))
            abort();
    for (uint32_t i = 0; i < m->n_xattrs; i++)
        if (!is_name(m->xattrs[i].key, 1, PROTO_PEER_XATTR_NAME_MAX) ||
            m->xattrs[i].value.len > PROTO_PEER_VALUE_MAX)
            abort();
    for (uint32_t i = 0; i < m->n_omap; i++)
        if (m->omap[i].key.len > PROTO_PEER_VALUE_MAX ||
            m->omap[i].value.len > PROTO_PEER_VALUE_MAX)
            abort();
    check_txn(m, data_len);
    bool object = m->op == PROTO_PEER_PULL || m->op == PROTO_PEER_PUSH;
    if (object && (m->exists || m->op == PROTO_PEER_PUSH) && m->size != data_len)
        abort();
    if (data_len && !(m->op == PROTO_PEER_REPOP || (object && m->exists)))
        abort();
}

static bool same_arrays(const struct proto_osd_peer *a, const struct proto_osd_peer *b)
{
    if (a->n_entries != b->n_entries || a->n_names != b->n_names || a->n_xattrs != b->n_xattrs ||
        a->n_omap != b->n_omap || a->n_txn != b->n_txn)
        return false;
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const struct proto_pg_log_entry *x = &a->entries[i], *y = &b->entries[i];
        if (x->version != y->version || x->op != y->op || x->client_id != y->client_id ||
            x->tid != y->tid || !same_bytes(x->oid, y->oid) || !same_bytes(x->reply, y->reply))
            return false;
    }
    for (uint32_t i = 0; i < a->n_names; i++)
        if (!same_bytes(a->names[i], b->names[i]) || a->versions[i] != b->versions[i])
            return false;
    for (uint32_t i = 0; i < a->n_xattrs; i++)
        if (!same_bytes(a->xattrs[i].key, b->xattrs[i].key) ||
            !same_bytes(a->xattrs[i].value, b->xattrs[i].value))
            return false;
    for (uint32_t i = 0; i < a->n_omap; i++)
        if (!same_bytes(a->omap[i].key, b->omap[i].key) ||
            !same_bytes(a->omap[i].value, b->omap[i].value))
            return false;
    for (uint32_t i = 0; i < a->n_txn; i++) {
        const struct proto_txn_op *x = &a->txn[i], *y = &b->txn[i];
        if (x->type != y->type || x->off != y->off || x->len != y->len ||
            x->data_off != y->data_off || !same_bytes(x->oid, y->oid) ||
            !same_bytes(x->key, y->key) || !same_bytes(x->val, y->val))
            return false;
    }
    return true;
}

static bool same_peer(const struct proto_osd_peer *a, const struct proto_osd_peer *b)
{
    return a->op == b->op && a->result == b->result && strcmp(a->message, b->message) == 0 &&
           a->from == b->from && a->epoch == b->epoch && a->pool == b->pool && a->pg == b->pg &&
           a->act_epoch == b->act_epoch && a->has_info == b->has_info &&
           (!a->has_info || memcmp(&a->info, &b->info, sizeof(a->info)) == 0) &&
           a->after == b->after && same_bytes(a->after_name, b->after_name) &&
           a->max == b->max && a->more == b->more && a->base == b->base &&
           a->last_update == b->last_update && a->log_tail == b->log_tail &&
           a->backfill == b->backfill && a->prev == b->prev && a->log_only == b->log_only &&
           same_bytes(a->oid, b->oid) && a->exists == b->exists && a->size == b->size &&
           a->deep == b->deep && a->obj_version == b->obj_version &&
           a->attr_digest == b->attr_digest && a->omap_digest == b->omap_digest &&
           a->data_digest == b->data_digest && a->read_error == b->read_error &&
           same_arrays(a, b);
}

static void round_trip(const struct proto_osd_peer *m, uint64_t data_len)
{
    struct proto_osd_peer again;
    uint8_t *buf;
    size_t len;

    int r = proto_osd_peer_encode(m, &buf, &len);
    if (r == -ENOMEM)
        return;
    if (r != 0)
        abort(); /* decode accepted it, so encode must too */
    r = proto_osd_peer_decode(buf, len, data_len, &again, NULL, 0);
    free(buf);
    if (r == -ENOMEM)
        return;
    if (r != 0 || !same_peer(m, &again))
        abort();
    proto_osd_peer_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_osd_peer m, before;
    uint64_t data_len = 0;
    char err[128];

    if (size >= 8) {
        for (int i = 7; i >= 0; i--)
            data_len = data_len << 8 | data[i];
        data += 8;
        size -= 8;
    }
    memset(&m, 0x5a, sizeof(m));
    before = m;
    int r = proto_osd_peer_decode(data, size, data_len, &m, err, sizeof(err));
    if (r == 0) {
        check_peer(&m, data_len);
        round_trip(&m, data_len);
        proto_osd_peer_release(&m);
    } else if ((r != -EBADMSG && r != -EINVAL && r != -ENOMEM) ||
               memcmp(&m, &before, sizeof(m)) != 0 || !memchr(err, '\0', sizeof(err))) {
        abort(); /* a documented error, the output untouched, a terminated reason */
    }
    return 0;
}

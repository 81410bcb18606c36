/* Raft message wire codec (raft_wire.h): struct proto_raft_msg <-> protobuf
 * metadata plus a raw data section. One validation function serves both
 * directions, so that whatever we send, a peer of the same version accepts.
 * Called by the monitor driver (monitor/daemon.c) and the fuzz target. */
#include "protocol/raft_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft_wire.pb-c.h"

static int entries_validate(const struct proto_raft_msg *m)
{
    if (m->n_entries == 0)
        return 0;
    if (m->type != PROTO_RAFT_MSG_APP || m->n_entries > PROTO_RAFT_MAX_ENTRIES || !m->entries)
        return -EINVAL;
    /* Contiguous from index + 1 (raft.h: index is the entry preceding them);
     * also rules out index overflow. */
    if (m->index > UINT64_MAX - m->n_entries)
        return -EINVAL;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct proto_raft_entry *e = &m->entries[i];
        if (e->index != m->index + 1 + i || e->term == 0)
            return -EINVAL;
        if (e->type > PROTO_RAFT_ENTRY_TYPE_MAX || e->len > PROTO_RAFT_MAX_ENTRY_BYTES)
            return -EINVAL;
    }
    return 0;
}

static int snapshot_validate(const struct proto_raft_msg *m)
{
    const struct proto_raft_snapshot *s = &m->snapshot;

    if (m->has_snapshot != (m->type == PROTO_RAFT_MSG_SNAP))
        return -EINVAL;
    if (!m->has_snapshot)
        return 0;
    if ((s->index == 0) != (s->term == 0) || s->n_voters > PROTO_RAFT_MAX_VOTERS)
        return -EINVAL;
    for (uint32_t i = 0; i < s->n_voters; i++) {
        if (s->voters[i] == 0 || (i > 0 && s->voters[i] <= s->voters[i - 1]))
            return -EINVAL;
    }
    return 0;
}

static int msg_validate(const struct proto_raft_msg *m)
{
    if (m->type == 0 || m->type > PROTO_RAFT_MSG_TYPE_MAX || m->from == 0 || m->to == 0)
        return -EINVAL;
    int r = entries_validate(m);
    return r < 0 ? r : snapshot_validate(m);
}

/* ---- encoding ---------------------------------------------------------- */

/* Bytes of the data section, or -EMSGSIZE past 4 GiB (a frame's u32). */
static int64_t data_section_len(const struct proto_raft_msg *m)
{
    uint64_t total = m->has_snapshot ? m->snapshot.len : 0;

    for (uint32_t i = 0; i < m->n_entries; i++)
        total += m->entries[i].len;
    return total > UINT32_MAX ? -EMSGSIZE : (int64_t)total;
}

static void fill_data(const struct proto_raft_msg *m, uint8_t *out)
{
    for (uint32_t i = 0; i < m->n_entries; i++) {
        if (m->entries[i].len)
            memcpy(out, m->entries[i].data, m->entries[i].len);
        out += m->entries[i].len;
    }
    if (m->has_snapshot && m->snapshot.len)
        memcpy(out, m->snapshot.data, (size_t)m->snapshot.len);
}

static void fill_header(const struct proto_raft_msg *m, RaftWireMsg *w)
{
    w->has_type = w->has_from = w->has_to = w->has_term = true;
    w->has_log_term = w->has_index = w->has_commit = true;
    w->type = m->type;
    w->from = m->from;
    w->to = m->to;
    w->term = m->term;
    w->log_term = m->log_term;
    w->index = m->index;
    w->commit = m->commit;
    /* Only set when true: the common case costs no bytes. */
    w->has_reject = w->reject = m->reject;
    w->has_force = w->force = m->force;
    w->has_reject_hint = m->reject_hint != 0;
    w->reject_hint = m->reject_hint;
}

/* Packs @w with @m's entry and snapshot headers into *meta. */
static int pack_meta(const struct proto_raft_msg *m, RaftWireMsg *w, uint8_t **meta,
                     size_t *meta_len)
{
    RaftWireEntry *ents = calloc(m->n_entries + 1, sizeof(*ents));
    RaftWireEntry **ptrs = calloc(m->n_entries + 1, sizeof(*ptrs));
    RaftWireSnapshot snap = RAFT_WIRE_SNAPSHOT__INIT;
    uint64_t voters[PROTO_RAFT_MAX_VOTERS];
    int r = -ENOMEM;

    if (!ents || !ptrs)
        goto out_free;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        raft_wire_entry__init(&ents[i]);
        ents[i].has_index = ents[i].has_term = ents[i].has_type = ents[i].has_len = true;
        ents[i].index = m->entries[i].index;
        ents[i].term = m->entries[i].term;
        ents[i].type = m->entries[i].type;
        ents[i].len = m->entries[i].len;
        ptrs[i] = &ents[i];
    }
    w->n_entries = m->n_entries;
    w->entries = ptrs;
    if (m->has_snapshot) {
        snap.has_index = snap.has_term = snap.has_len = true;
        snap.index = m->snapshot.index;
        snap.term = m->snapshot.term;
        snap.len = m->snapshot.len;
        memcpy(voters, m->snapshot.voters, m->snapshot.n_voters * sizeof(voters[0]));
        snap.n_voters = m->snapshot.n_voters;
        snap.voters = voters;
        w->snapshot = &snap;
    }
    *meta_len = raft_wire_msg__get_packed_size(w);
    *meta = malloc(*meta_len ? *meta_len : 1);
    if (*meta) {
        raft_wire_msg__pack(w, *meta);
        r = 0;
    }
out_free:
    free(ents);
    free(ptrs);
    return r;
}

int proto_raft_msg_encode(const struct proto_raft_msg *m, uint8_t **meta, size_t *meta_len,
                          uint8_t **data, size_t *data_len)
{
    RaftWireMsg w = RAFT_WIRE_MSG__INIT;
    uint8_t *d = NULL;
    int r = msg_validate(m);

    if (r < 0)
        return r;
    int64_t dl = data_section_len(m);
    if (dl < 0)
        return (int)dl;
    if (dl > 0) {
        if (!(d = malloc((size_t)dl)))
            return -ENOMEM;
        fill_data(m, d);
    }
    fill_header(m, &w);
    r = pack_meta(m, &w, meta, meta_len);
    if (r < 0) {
        free(d);
        return r;
    }
    *data = d;
    *data_len = (size_t)dl;
    return 0;
}

/* ---- decoding ---------------------------------------------------------- */

static int decode_snapshot(const RaftWireSnapshot *s, struct proto_raft_msg *out)
{
    if (s->n_voters > PROTO_RAFT_MAX_VOTERS)
        return -EINVAL;
    out->has_snapshot = true;
    out->snapshot.index = s->index;
    out->snapshot.term = s->term;
    out->snapshot.len = s->len;
    out->snapshot.n_voters = (uint32_t)s->n_voters;
    for (size_t i = 0; i < s->n_voters; i++)
        out->snapshot.voters[i] = s->voters[i];
    return 0;
}

static int decode_entries(const RaftWireMsg *w, struct proto_raft_msg *out)
{
    if (w->n_entries == 0)
        return 0;
    if (w->n_entries > PROTO_RAFT_MAX_ENTRIES)
        return -EINVAL;
    out->entries = calloc(w->n_entries, sizeof(*out->entries));
    if (!out->entries)
        return -ENOMEM;
    out->n_entries = (uint32_t)w->n_entries;
    for (size_t i = 0; i < w->n_entries; i++) {
        out->entries[i].index = w->entries[i]->index;
        out->entries[i].term = w->entries[i]->term;
        out->entries[i].type = w->entries[i]->type;
        out->entries[i].len = w->entries[i]->len;
    }
    return 0;
}

/* Points every payload into @data; the lengths must use it up exactly. */
static int attach_data(struct proto_raft_msg *m, const uint8_t *data, size_t data_len)
{
    size_t off = 0;

    for (uint32_t i = 0; i < m->n_entries; i++) {
        struct proto_raft_entry *e = &m->entries[i];
        if (e->len > data_len - off)
            return -EBADMSG;
        e->data = e->len ? data + off : NULL;
        off += e->len;
    }
    if (m->has_snapshot) {
        if (m->snapshot.len > data_len - off)
            return -EBADMSG;
        m->snapshot.data = m->snapshot.len ? data + off : NULL;
        off += (size_t)m->snapshot.len;
    }
    return off == data_len ? 0 : -EBADMSG;
}

int proto_raft_msg_decode(const uint8_t *meta, size_t meta_len, const uint8_t *data,
                          size_t data_len, struct proto_raft_msg *out)
{
    memset(out, 0, sizeof(*out));
    if (data_len > 0 && !data)
        return -EINVAL;
    RaftWireMsg *w = raft_wire_msg__unpack(NULL, meta_len, meta);
    if (!w)
        return -EBADMSG;
    out->type = w->type;
    out->from = w->from;
    out->to = w->to;
    out->term = w->term;
    out->log_term = w->log_term;
    out->index = w->index;
    out->commit = w->commit;
    out->reject = w->reject;
    out->force = w->force;
    out->reject_hint = w->reject_hint;
    int r = decode_entries(w, out);
    if (r == 0 && w->snapshot)
        r = decode_snapshot(w->snapshot, out);
    raft_wire_msg__free_unpacked(w, NULL);
    if (r == 0)
        r = msg_validate(out);
    if (r == 0)
        r = attach_data(out, data, data_len);
    if (r < 0) {
        proto_raft_msg_fini(out);
        memset(out, 0, sizeof(*out));
    }
    return r;
}

void proto_raft_msg_fini(struct proto_raft_msg *m)
{
    free(m->entries);
    m->entries = NULL;
    m->n_entries = 0;
}

/* Fuzz target for the Raft message codec (protocol/raft_wire.c). An input is
 *   u16 meta_len (little-endian) | metadata (meta_len bytes, clamped) | data section
 * as one PROTO_MSG_MON_RAFT frame carries them. A message that decodes must
 * satisfy the documented rules and survive an encode/decode round trip with
 * identical fields and payloads. Any crash, leak or sanitizer report is a
 * bug. Built by tests/fuzz/CMakeLists.txt; seeds in corpus/raft_msg/
 * (written by gen_corpus_raft_msg.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/raft_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rules(const struct proto_raft_msg *m)
{
    if (m->type == 0 || m->type > PROTO_RAFT_MSG_TYPE_MAX || !m->from || !m->to)
        abort();
    if (m->n_entries > PROTO_RAFT_MAX_ENTRIES || (m->n_entries && m->type != PROTO_RAFT_MSG_APP))
        abort();
    if (m->has_snapshot != (m->type == PROTO_RAFT_MSG_SNAP) ||
        m->snapshot.n_voters > PROTO_RAFT_MAX_VOTERS)
        abort();
    for (uint32_t i = 0; i < m->n_entries; i++) {
        if (m->entries[i].index != m->index + 1 + i || (m->entries[i].len && !m->entries[i].data))
            abort();
    }
}

static void check_same(const struct proto_raft_msg *a, const struct proto_raft_msg *b)
{
    if (a->type != b->type || a->from != b->from || a->to != b->to || a->term != b->term ||
        a->log_term != b->log_term || a->index != b->index || a->commit != b->commit ||
        a->reject != b->reject || a->force != b->force || a->reject_hint != b->reject_hint ||
        a->n_entries != b->n_entries || a->has_snapshot != b->has_snapshot)
        abort();
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const struct proto_raft_entry *x = &a->entries[i], *y = &b->entries[i];
        if (x->term != y->term || x->type != y->type || x->len != y->len ||
            (x->len && memcmp(x->data, y->data, x->len) != 0))
            abort();
    }
    if (a->snapshot.len != b->snapshot.len ||
        memcmp(a->snapshot.voters, b->snapshot.voters, sizeof(a->snapshot.voters)) != 0 ||
        (a->snapshot.len && memcmp(a->snapshot.data, b->snapshot.data, a->snapshot.len) != 0))
        abort();
}

static void round_trip(const struct proto_raft_msg *m)
{
    struct proto_raft_msg again;
    uint8_t *meta, *data;
    size_t ml, dl;

    if (proto_raft_msg_encode(m, &meta, &ml, &data, &dl) != 0)
        abort(); /* decode accepted it, so encode must too */
    if (proto_raft_msg_decode(meta, ml, data, dl, &again) != 0)
        abort();
    check_same(m, &again);
    proto_raft_msg_fini(&again);
    free(meta);
    free(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_raft_msg m;

    if (size < 2)
        return 0;
    size_t meta_len = (size_t)data[0] | (size_t)data[1] << 8;
    if (meta_len > size - 2)
        meta_len = size - 2;
    const uint8_t *meta = data + 2;
    const uint8_t *payload = meta + meta_len;
    size_t payload_len = size - 2 - meta_len;
    int r = proto_raft_msg_decode(meta, meta_len, payload_len ? payload : NULL, payload_len, &m);
    if (r == 0) {
        check_rules(&m);
        round_trip(&m);
    } else if (m.entries || m.n_entries) {
        abort(); /* a failed decode leaves nothing to free */
    }
    proto_raft_msg_fini(&m);
    return 0;
}

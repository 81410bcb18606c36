/* Wire encoding of the monitors' Raft messages (PROTO_MSG_MON_RAFT). A plain
 * C mirror of monitor/core/raft.h's struct mon_raft_msg, so that protobuf
 * types stay inside protocol/ and the Raft core stays free of wire formats;
 * the monitor driver copies fields between the two.
 *
 * One message is one frame: the metadata (raft_wire.proto) holds every field
 * and the entry and snapshot headers; the frame's data section holds the
 * entry payloads back to back, in order, then the snapshot payload. Decoding
 * is strict: anything out of range or inconsistent is refused, since the
 * bytes come from the network. */
#ifndef CAIRN_PROTOCOL_RAFT_WIRE_H
#define CAIRN_PROTOCOL_RAFT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits; equal to the Raft core's (checked by the monitor at compile time). */
#define PROTO_RAFT_MAX_VOTERS 9u
#define PROTO_RAFT_MAX_ENTRIES 4096u
#define PROTO_RAFT_MAX_ENTRY_BYTES (1u << 20)
#define PROTO_RAFT_MSG_TYPE_MAX 10u   /* message types are 1..10 (enum mon_raft_msg_type) */
#define PROTO_RAFT_MSG_APP 5u         /* the only type that carries entries */
#define PROTO_RAFT_MSG_SNAP 9u        /* the only type that carries a snapshot */
#define PROTO_RAFT_ENTRY_TYPE_MAX 2u  /* entry types are 0..2 (enum mon_raft_entry_type) */

struct proto_raft_entry {
    uint64_t index;   /* log position, >= 1 */
    uint64_t term;    /* >= 1 */
    uint32_t type;    /* enum mon_raft_entry_type */
    uint32_t len;     /* bytes at data, <= PROTO_RAFT_MAX_ENTRY_BYTES */
    const void *data; /* borrowed: see encode/decode */
};

struct proto_raft_snapshot {
    uint64_t index;
    uint64_t term;
    uint32_t n_voters;                        /* <= PROTO_RAFT_MAX_VOTERS */
    uint64_t voters[PROTO_RAFT_MAX_VOTERS];   /* ascending, nonzero */
    uint64_t len;                             /* bytes at data */
    const void *data;                         /* borrowed */
};

/* Field meanings per message type: monitor/core/raft.h, struct mon_raft_msg. */
struct proto_raft_msg {
    uint32_t type;                   /* 1..PROTO_RAFT_MSG_TYPE_MAX */
    uint64_t from, to;               /* nonzero node ids */
    uint64_t term;
    uint64_t log_term;
    uint64_t index;
    uint64_t commit;
    bool reject;
    bool force;
    uint64_t reject_hint;
    uint32_t n_entries;              /* APP only; <= PROTO_RAFT_MAX_ENTRIES */
    struct proto_raft_entry *entries;/* after decode: owned, freed by proto_raft_msg_fini() */
    bool has_snapshot;               /* exactly for SNAP */
    struct proto_raft_snapshot snapshot;
};

/* Encodes @m into a malloc'd metadata buffer (*@meta, *@meta_len) and a
 * malloc'd data section (*@data, *@data_len; NULL and 0 when empty); the
 * caller frees both. Nothing is borrowed afterwards. 0, -EINVAL (@m breaks
 * a rule that decode checks), -EMSGSIZE (data section over 4 GiB), -ENOMEM. */
int proto_raft_msg_encode(const struct proto_raft_msg *m, uint8_t **meta, size_t *meta_len,
                          uint8_t **data, size_t *data_len);

/* Decodes and validates one message. On success @out->entries is a malloc'd
 * array (release with proto_raft_msg_fini()) and every entry's and the
 * snapshot's data point into @data, which must outlive @out. Checks: the
 * metadata parses; type in range; from and to nonzero; entries only in APP,
 * at most PROTO_RAFT_MAX_ENTRIES, each with a known type, nonzero term, a
 * length within PROTO_RAFT_MAX_ENTRY_BYTES and indexes contiguous from
 * index + 1; a snapshot exactly in SNAP, its index and term both zero or
 * both nonzero, its voters ascending, nonzero and at most
 * PROTO_RAFT_MAX_VOTERS; the payload lengths add up to @data_len exactly.
 * Returns 0, -EBADMSG (does not parse, or the lengths disagree with the data
 * section), -EINVAL (a field out of range), -ENOMEM; @out is zeroed on
 * failure. */
int proto_raft_msg_decode(const uint8_t *meta, size_t meta_len, const uint8_t *data,
                          size_t data_len, struct proto_raft_msg *out);

/* Frees what decode allocated; @m may be zeroed or already finished. */
void proto_raft_msg_fini(struct proto_raft_msg *m);

#endif

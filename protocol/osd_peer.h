/* OSD-to-OSD replication and peering messages (DESIGN.md §4; docs/osd.md
 * §6): PROTO_MSG_OSD_PEER (protocol/msg_types.h). One message shape serves
 * every peering request and its reply; the op says which fields mean
 * something. The metadata is protobuf (osd_peer.proto); bulk data travels
 * as the frame's data, never in the metadata:
 *
 *   op          request fields (from, epoch, pool, pg always)   reply fields (result always)
 *   QUERY       -                                               info
 *   LOG_GET     after (version)                                 info, entries with version > after
 *                                                               (all the log when after < its tail)
 *   SCAN        after_name, max                                 names (> after_name, in byte order,
 *                                                               at most max), versions, more
 *   PULL        oid                                             exists, size, xattrs, omap, data =
 *                                                               the object's bytes [0, size)
 *   PUSH        act_epoch, oid, exists, size, xattrs, omap,     -
 *               data = the object's bytes
 *   ACTIVATE    act_epoch, base, last_update, log_tail,         info (after activation)
 *               backfill, entries (version > base)
 *   RECOVERED   act_epoch                                       -
 *   REPOP       act_epoch, prev, entry (entries[0]), log_only,  -
 *               txn (the object mutations), data = the WRITE
 *               payloads concatenated in txn order
 *   REMOVE      -                                               -
 *   SCRUB       oid, deep                                       oid, exists, size, obj_version,
 *                                                               attr_digest, and when deep
 *                                                               omap_digest, data_digest;
 *                                                               read_error (0 or the store's
 *                                                               -errno, e.g. -EIO: a checksum
 *                                                               mismatch)
 *
 * Versions are (epoch << 32 | counter), as in the client's replies. */
#ifndef CAIRN_PROTOCOL_OSD_PEER_H
#define CAIRN_PROTOCOL_OSD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_PEER_ENTRIES_MAX 100000u /* log entries in one message */
#define PROTO_PEER_NAMES_MAX 10000u    /* SCAN names in one reply */
#define PROTO_PEER_KV_MAX 100000u      /* xattrs or omap entries of one object */
#define PROTO_PEER_TXN_MAX 4096u       /* txn operations of one REPOP */
#define PROTO_PEER_REPLY_MAX 65536u    /* an entry's stored client reply, bytes */
#define PROTO_PEER_NAME_MAX 1024u      /* oids, scan cursors, xattr names */
#define PROTO_PEER_VALUE_MAX 65536u    /* xattr values, omap keys and values */
#define PROTO_PEER_XATTR_NAME_MAX 255u /* xattr names: 1..255 bytes, no NUL (the store's
                                          OSD_STORE_XATTR_NAME_MAX) */

enum proto_peer_op {
    PROTO_PEER_QUERY = 1,
    PROTO_PEER_LOG_GET = 2,
    PROTO_PEER_SCAN = 3,
    PROTO_PEER_PULL = 4,
    PROTO_PEER_PUSH = 5,
    PROTO_PEER_ACTIVATE = 6,
    PROTO_PEER_RECOVERED = 7,
    PROTO_PEER_REPOP = 8,
    PROTO_PEER_REMOVE = 9,
    PROTO_PEER_SCRUB = 10,
    PROTO_PEER_OP_MAX = 10,
};

/* A byte string; decode points into the message (valid until release). */
struct proto_bytes {
    const uint8_t *p;
    size_t len;
};

/* A PG's replication state on one OSD. */
struct proto_pg_info {
    bool exists;            /* the OSD holds anything of the PG */
    uint64_t last_update;   /* version of its newest log entry (0: none) */
    uint64_t last_complete; /* every object is correct up to this version */
    uint64_t log_tail;      /* the log holds every entry with version > log_tail */
    uint64_t act_epoch;     /* epoch of the last activation it took part in */
    uint64_t objects;       /* objects it holds */
};

enum proto_pg_log_op {
    PROTO_PG_LOG_MODIFY = 1, /* the object exists after the entry */
    PROTO_PG_LOG_DELETE = 2, /* the entry removed it */
};

struct proto_pg_log_entry {
    uint64_t version;
    uint32_t op;               /* enum proto_pg_log_op */
    struct proto_bytes oid;    /* 1..PROTO_PEER_NAME_MAX bytes, no NUL */
    uint64_t client_id, tid;   /* the client op that made it (duplicate detection) */
    struct proto_bytes reply;  /* its encoded OsdOpReply, <= PROTO_PEER_REPLY_MAX */
};

struct proto_peer_kv {
    struct proto_bytes key, value;
};

/* One store transaction operation (osd/store/store.h osd_txn_*). */
enum proto_txn_op_type {
    PROTO_TXN_TOUCH = 1,
    PROTO_TXN_CREATE_EXCL = 2,
    PROTO_TXN_WRITE = 3,       /* off, len; the data is the next len bytes of the frame's */
    PROTO_TXN_ZERO = 4,        /* off, len */
    PROTO_TXN_TRUNCATE = 5,    /* off = the new size */
    PROTO_TXN_REMOVE = 6,
    PROTO_TXN_SETXATTR = 7,    /* key = name, val */
    PROTO_TXN_RMXATTR = 8,     /* key = name */
    PROTO_TXN_OMAP_SET = 9,    /* key, val */
    PROTO_TXN_OMAP_RM = 10,    /* key */
    PROTO_TXN_OMAP_CLEAR = 11,
    PROTO_TXN_TYPE_MAX = 11,
};

struct proto_txn_op {
    uint32_t type;             /* enum proto_txn_op_type */
    struct proto_bytes oid;    /* 1..PROTO_PEER_NAME_MAX bytes, no NUL */
    struct proto_bytes key, val;
    uint64_t off, len;
    uint64_t data_off;         /* decode fills it for WRITE: where its bytes start in the data */
};

struct proto_osd_peer {
    uint32_t op;               /* enum proto_peer_op */
    int32_t result;            /* replies: 0 or -errno */
    char message[256];         /* replies: a reason on failure */
    int32_t from;              /* the sender's OSD id */
    uint64_t epoch;            /* the sender's map epoch */
    int32_t pool;
    uint32_t pg;
    uint64_t act_epoch;
    bool has_info;
    struct proto_pg_info info;
    uint64_t after;            /* LOG_GET */
    struct proto_bytes after_name; /* SCAN */
    uint32_t max;              /* SCAN */
    bool more;                 /* SCAN reply */
    uint64_t base, last_update, log_tail; /* ACTIVATE */
    bool backfill;             /* ACTIVATE */
    uint64_t prev;             /* REPOP: the primary's last_update before this entry */
    bool log_only;             /* REPOP: record the entry, apply no txn */
    struct proto_bytes oid;    /* PULL, PUSH */
    bool exists;               /* PULL reply, PUSH */
    uint64_t size;             /* PULL reply, PUSH: bytes of data */
    uint32_t n_entries;
    struct proto_pg_log_entry *entries;
    uint32_t n_names;          /* SCAN reply: names[i] has version versions[i] */
    struct proto_bytes *names;
    uint64_t *versions;
    uint32_t n_xattrs, n_omap;
    struct proto_peer_kv *xattrs, *omap;
    uint32_t n_txn;
    struct proto_txn_op *txn;
    bool deep;                 /* SCRUB */
    uint64_t obj_version;      /* SCRUB reply */
    uint32_t attr_digest, omap_digest, data_digest; /* SCRUB reply (crc32c) */
    int32_t read_error;        /* SCRUB reply: 0 or -errno */
    void *priv;                /* decode: the backing message and arrays */
};

void proto_osd_peer_init(struct proto_osd_peer *m);
/* Encodes @m (caller frees *@buf). 0, -ENOMEM, -EINVAL (caller bug: a limit
 * below exceeded, unknown op). */
int proto_osd_peer_encode(const struct proto_osd_peer *m, uint8_t **buf, size_t *len);
/* Decodes and validates metadata @buf against the frame's @data_len: known
 * op and txn op types, counts and lengths within the limits above, oids
 * non-empty without NUL, xattr names without NUL, the WRITE lengths of a
 * REPOP adding up to exactly @data_len (data_off filled in), a PUSH's or a
 * PULL reply's size equal to @data_len when exists. 0; -EBADMSG (does not
 * parse), -EINVAL (with a reason in @err when not NULL), -ENOMEM. On
 * success release with proto_osd_peer_release(). */
int proto_osd_peer_decode(const uint8_t *buf, size_t len, uint64_t data_len,
                          struct proto_osd_peer *m, char *err, size_t err_len);
void proto_osd_peer_release(struct proto_osd_peer *m);

#endif

/* OSD client operations (DESIGN.md §4, §6): the compound operation a client
 * sends to a PG's primary, its reply, object listing and an operator's
 * commands to a PG (scrub). Encoding is protobuf (osd_op.proto) for the
 * metadata; bulk data never is: the write payloads of an op travel as the
 * frame's data, concatenated in step order, and so do the bytes a reply's
 * READ steps return.
 *
 * A compound op names one object and carries up to PROTO_OSD_STEPS_MAX steps.
 * The OSD runs them atomically against the object as it was when the op
 * started: guard and read steps see that state, mutations apply in order in
 * one store transaction, and if any step fails nothing changes (the reply's
 * result is that step's error and failed_step its index). An op with any
 * mutation is a "write op"; a write op may carry guards and metadata reads
 * (STAT, GETXATTR(S), OMAP_GET, OMAP_LIST) but not READ of data (-EINVAL).
 *
 * Step semantics (the fields each step uses are listed; others are ignored):
 *   READ           off, len          data: up to len bytes at off (short at
 *                                    the end; holes read as zeros); result
 *                                    len and crc32c of the returned bytes
 *   STAT                             result size, mtime_ns (and the reply's
 *                                    version)
 *   GETXATTR       name              result value; -ENODATA when absent
 *   GETXATTRS                        result entries (name, value) in order
 *   OMAP_GET       name (the key)    result value; -ENODATA when absent
 *   OMAP_LIST      name (after), max result entries with keys > after, in
 *                                    byte order, at most max (0: as many as
 *                                    fit in PROTO_OSD_REPLY_VALUES_MAX bytes);
 *                                    more when some remain
 *   ASSERT_EXISTS                    -ENOENT when the object does not exist
 *   ASSERT_VERSION version           -ECANCELED unless the object's version
 *                                    equals it (0: the object must not exist)
 *   CMPXATTR       name, value       -ECANCELED unless the xattr equals value;
 *                  flags ABSENT      ... unless the xattr is absent
 *   WRITE          off, len, crc     data: len bytes written at off
 *   WRITE_FULL     len, crc          data: the object's whole new content
 *   TRUNCATE       off               the new size
 *   ZERO           off, len
 *   CREATE         flags EXCL        creates an empty object; with EXCL,
 *                                    -EEXIST when it exists
 *   REMOVE                           -ENOENT when it does not exist
 *   SETXATTR       name, value
 *   RMXATTR        name              -ENODATA when absent
 *   OMAP_SET       name (key), value
 *   OMAP_RM        name (key)        (absent keys are fine)
 *   OMAP_CLEAR
 *   COUNTER_ADD    name, delta       the xattr as a little-endian int64
 *                                    (absent: 0) plus delta; result num = the
 *                                    new value; -EINVAL when the xattr is not
 *                                    8 bytes, -EOVERFLOW on overflow
 *   SET_IF_GREATER name, version     the xattr as a little-endian uint64 is set
 *                                    to version when absent or smaller; result
 *                                    num = the value after the step (never a
 *                                    failure: it is "max")
 *   OMAP_CAS       name (key), value (expected), value2 (new)
 *                  flags ABSENT      expected: the key must be absent
 *                  flags DELETE      new: remove the key
 *                                    -ECANCELED on mismatch; result value =
 *                                    the current value (absent: none)
 * Mutations create a missing object, except REMOVE and RMXATTR. User xattr
 * names and omap keys are opaque bytes without NUL (xattr names); the OSD
 * keeps its own attributes in a separate namespace.
 *
 * Every write op gives the object a new version (increasing per PG); the
 * reply carries the object's version after the op (0: it does not exist).
 *
 * Reply results that are not 0:
 *   -ESTALE    misdirected: this OSD is not the PG's primary in its map, or
 *              the PG does not exist; reply.epoch is the OSD's map epoch,
 *              and the client retries once it has a map at least that new
 *   -ENOENT, -EEXIST, -ENODATA, -ECANCELED, -EINVAL, -EOVERFLOW: per step
 *   -EBADMSG   a write payload failed its crc32c (corrupt in flight)
 *   -ENOSPC, -EIO, -EROFS: from the store
 * The OSD answers a duplicate of a write op it already applied (same
 * client_id and tid, e.g. resent after a lost reply) with the first
 * answer instead of applying it twice. */
#ifndef CAIRN_PROTOCOL_OSD_OP_H
#define CAIRN_PROTOCOL_OSD_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_OSD_OID_MAX 1024u             /* object names: 1..1024 bytes, no NUL */
#define PROTO_OSD_XATTR_NAME_MAX 250u       /* 1..250 bytes, no NUL (the OSD prefixes
                                               its namespace in the store) */
#define PROTO_OSD_OMAP_KEY_MAX 1024u        /* 1..1024 bytes, any */
#define PROTO_OSD_VALUE_MAX (64u << 10)     /* xattr and omap values */
#define PROTO_OSD_STEPS_MAX 64u             /* steps per compound op */
#define PROTO_OSD_REPLY_VALUES_MAX (512u << 10) /* xattr/omap bytes in one reply */
#define PROTO_OSD_LIST_MAX 1000u            /* names per listing reply */
#define PROTO_OSD_READ_MAX (64u << 20)      /* READ: bytes one step may ask for */
#define PROTO_OSD_OMAP_LIST_MAX 100000u     /* OMAP_LIST: entries one step may ask for */
#define PROTO_OSD_RESULT_MIN (-4095)        /* results and rvals: 0 or -errno >= this */

enum proto_osd_step_type {
    PROTO_OSD_STEP_NONE = 0,
    /* reads and guards */
    PROTO_OSD_READ = 1,
    PROTO_OSD_STAT = 2,
    PROTO_OSD_GETXATTR = 3,
    PROTO_OSD_GETXATTRS = 4,
    PROTO_OSD_OMAP_GET = 5,
    PROTO_OSD_OMAP_LIST = 6,
    PROTO_OSD_ASSERT_EXISTS = 10,
    PROTO_OSD_ASSERT_VERSION = 11,
    PROTO_OSD_CMPXATTR = 12,
    /* mutations */
    PROTO_OSD_WRITE = 20,
    PROTO_OSD_WRITE_FULL = 21,
    PROTO_OSD_TRUNCATE = 22,
    PROTO_OSD_ZERO = 23,
    PROTO_OSD_CREATE = 24,
    PROTO_OSD_REMOVE = 25,
    PROTO_OSD_SETXATTR = 26,
    PROTO_OSD_RMXATTR = 27,
    PROTO_OSD_OMAP_SET = 28,
    PROTO_OSD_OMAP_RM = 29,
    PROTO_OSD_OMAP_CLEAR = 30,
    /* atomic read-modify-write primitives (mutations) */
    PROTO_OSD_COUNTER_ADD = 40,
    PROTO_OSD_SET_IF_GREATER = 41,
    PROTO_OSD_OMAP_CAS = 42,
};

/* Step flags. */
#define PROTO_OSD_F_EXCL 0x1u   /* CREATE: fail with -EEXIST if it exists */
#define PROTO_OSD_F_ABSENT 0x2u /* CMPXATTR, OMAP_CAS: expect no value */
#define PROTO_OSD_F_DELETE 0x4u /* OMAP_CAS: remove the key instead of setting value2 */

/* True for the types of enum proto_osd_step_type (not NONE, not a gap). */
bool proto_osd_step_is_valid(uint32_t type);
/* True for the mutations (types 20 and up). */
bool proto_osd_step_is_mutation(uint32_t type);
/* Human name of a step type ("write"), for logs; "unknown" otherwise. */
const char *proto_osd_step_name(uint32_t type);

/* One step. Byte fields point into memory owned by whoever filled the
 * struct: the caller when encoding, the decoded message when decoding
 * (valid until proto_osd_op_release()). */
struct proto_osd_step {
    uint32_t type;          /* enum proto_osd_step_type */
    uint32_t flags;         /* PROTO_OSD_F_* */
    uint64_t off;
    uint64_t len;           /* READ, ZERO: length; WRITE(_FULL): payload bytes */
    const void *name;       /* xattr name or omap key (OMAP_LIST: after) */
    size_t name_len;
    const void *value;      /* xattr/omap value; OMAP_CAS: expected */
    size_t value_len;
    const void *value2;     /* OMAP_CAS: the new value */
    size_t value2_len;
    uint32_t crc;           /* WRITE(_FULL): crc32c of the payload */
    int64_t delta;          /* COUNTER_ADD */
    uint64_t version;       /* ASSERT_VERSION; SET_IF_GREATER: the candidate */
    uint32_t max;           /* OMAP_LIST: entries wanted (0: as many as fit) */
    uint64_t data_off;      /* decode fills it: where the payload starts in
                               the frame's data */
};

/* A compound op on one object (PROTO_MSG_OSD_OP request metadata). */
struct proto_osd_op {
    uint64_t epoch;         /* the client's map epoch */
    int32_t pool;
    uint32_t pg;            /* the PG the client computed (the OSD checks it) */
    char oid[PROTO_OSD_OID_MAX + 1]; /* NUL-terminated */
    uint64_t client_id;     /* random per client instance: with tid, the op's identity */
    uint64_t tid;           /* the client's op number, the same on every resend */
    uint32_t n_steps;
    struct proto_osd_step steps[PROTO_OSD_STEPS_MAX];
    void *priv;             /* decode: the message the byte fields point into */
};

void proto_osd_op_init(struct proto_osd_op *op);
/* Encodes @op (caller frees *@buf). 0, -ENOMEM, -EINVAL (caller bug: bad
 * name, too many steps, invalid type). */
int proto_osd_op_encode(const struct proto_osd_op *op, uint8_t **buf, size_t *len);
/* Decodes and validates metadata @buf against the frame's @data_len: known
 * step types, name and value limits, oid 1..PROTO_OSD_OID_MAX bytes without
 * NUL, xattr names without NUL, pool >= 0, READ len <= PROTO_OSD_READ_MAX,
 * OMAP_LIST max <= PROTO_OSD_OMAP_LIST_MAX, off + len of READ, WRITE and ZERO
 * within 2^64, unknown flag bits refused, the write payload lengths adding up
 * to exactly @data_len (each step's data_off filled in). 0; -EBADMSG (does
 * not parse), -EINVAL (a check above, with a reason in @err when not NULL),
 * -ENOMEM. On success release with proto_osd_op_release(); on failure
 * nothing needs releasing. */
int proto_osd_op_decode(const uint8_t *buf, size_t len, uint64_t data_len,
                        struct proto_osd_op *op, char *err, size_t err_len);
void proto_osd_op_release(struct proto_osd_op *op);

/* A key/value pair of a GETXATTRS or OMAP_LIST result. */
struct proto_osd_kv {
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
};

/* The result of one step, in step order. */
struct proto_osd_step_result {
    int32_t rval;           /* 0 or -errno (only the failed step has one) */
    uint64_t len;           /* READ: bytes returned in the reply data */
    uint32_t crc;           /* READ: crc32c of those bytes */
    uint64_t data_off;      /* decode fills it: where they start in the data */
    bool has_value;
    const void *value;      /* GETXATTR, OMAP_GET; OMAP_CAS: current value */
    size_t value_len;
    uint64_t size;          /* STAT */
    uint64_t mtime_ns;      /* STAT */
    int64_t num;            /* COUNTER_ADD: new value; SET_IF_GREATER: value after */
    uint32_t n_entries;     /* GETXATTRS, OMAP_LIST */
    struct proto_osd_kv *entries;
    bool more;              /* OMAP_LIST: entries remain */
};

/* PROTO_MSG_OSD_OP reply metadata. */
struct proto_osd_reply {
    int32_t result;         /* 0 or -errno */
    uint64_t epoch;         /* the OSD's map epoch */
    uint64_t version;       /* the object's version after the op, 0: absent */
    int32_t failed_step;    /* the index of the step that failed, or -1 */
    char message[256];      /* a one-line reason on failure, may be "" */
    uint32_t n_results;     /* n_steps on success, 0 on failure */
    struct proto_osd_step_result *results;
    void *priv;             /* decode: backing message */
};

void proto_osd_reply_init(struct proto_osd_reply *reply);
/* 0, -ENOMEM, -EINVAL (caller bug: result > 0, unterminated message). */
int proto_osd_reply_encode(const struct proto_osd_reply *reply, uint8_t **buf, size_t *len);
/* Decodes; the READ lengths must add up to @data_len exactly (data_off
 * filled in). 0, -EBADMSG, -EINVAL, -ENOMEM; release on success. */
int proto_osd_reply_decode(const uint8_t *buf, size_t len, uint64_t data_len,
                           struct proto_osd_reply *reply);
void proto_osd_reply_release(struct proto_osd_reply *reply);

/* PROTO_MSG_OSD_LIST: the object names of one PG, in byte order. */
struct proto_osd_list {
    uint64_t epoch;
    int32_t pool;
    uint32_t pg;
    char after[PROTO_OSD_OID_MAX + 1]; /* list names > after; "" = from the start */
    uint32_t max;                      /* 1..PROTO_OSD_LIST_MAX (0 = the maximum) */
};
struct proto_osd_list_reply {
    int32_t result;         /* 0, -ESTALE (misdirected, as above), -errno */
    uint64_t epoch;
    uint32_t n_names;
    const char **names;     /* NUL-terminated, each 1..PROTO_OSD_OID_MAX bytes */
    bool more;
    void *priv;
};

void proto_osd_list_init(struct proto_osd_list *list);
/* Encoders: 0, -ENOMEM, -EINVAL (a caller bug: a rule decode checks).
 * List decode: 0, -EBADMSG, -EINVAL (pool absent or < 0, after longer than
 * PROTO_OSD_OID_MAX or holding a NUL, max > PROTO_OSD_LIST_MAX); *@list is
 * unchanged on failure. List reply decode: 0, -EBADMSG, -EINVAL (result > 0
 * or < PROTO_OSD_RESULT_MIN, more than PROTO_OSD_LIST_MAX names, a name not
 * 1..PROTO_OSD_OID_MAX bytes or holding a NUL), -ENOMEM; names are copied
 * into one allocation freed by proto_osd_list_reply_release(), and nothing
 * needs releasing on failure. */
int proto_osd_list_encode(const struct proto_osd_list *list, uint8_t **buf, size_t *len);
int proto_osd_list_decode(const uint8_t *buf, size_t len, struct proto_osd_list *list);
int proto_osd_list_reply_encode(const struct proto_osd_list_reply *reply, uint8_t **buf,
                                size_t *len);
int proto_osd_list_reply_decode(const uint8_t *buf, size_t len,
                                struct proto_osd_list_reply *reply);
void proto_osd_list_reply_release(struct proto_osd_list_reply *reply);

/* PROTO_MSG_OSD_PG_CMD: an operator's command to a PG's primary. The reply
 * comes when the command has finished (a scrub: when every object was
 * compared and what could be repaired was). A command resent while the
 * same scrub runs (the client's attempts time out after 10 s) attaches to
 * it rather than starting another. */
enum proto_osd_pg_cmd_op {
    PROTO_OSD_PG_SCRUB = 1,      /* compare object lists, versions, sizes, xattrs of the copies */
    PROTO_OSD_PG_DEEP_SCRUB = 2, /* and read every copy's data and omap, checking checksums */
    PROTO_OSD_PG_CMD_OP_MAX = 2,
};
struct proto_osd_pg_cmd {
    uint64_t epoch;         /* the sender's map epoch */
    int32_t pool;
    uint32_t pg;
    uint32_t op;            /* enum proto_osd_pg_cmd_op */
};
struct proto_osd_pg_cmd_reply {
    int32_t result;         /* 0, -ESTALE (misdirected, as for ops: epoch is the OSD's),
                               -EBUSY (the PG is not active+clean, or peering restarted the
                               scrub), -errno */
    uint64_t epoch;
    char message[256];      /* a one-line reason when result < 0, else a summary or "" */
    uint64_t objects;       /* objects compared */
    uint64_t inconsistent;  /* objects whose copies disagreed or could not be read */
    uint64_t repaired;      /* of those, repaired from a good copy */
    uint64_t duration_ms;
};

void proto_osd_pg_cmd_init(struct proto_osd_pg_cmd *cmd);
/* Encoders: 0, -ENOMEM, -EINVAL (a caller bug: a rule decode checks).
 * Command decode: 0, -EBADMSG, -EINVAL (pool absent or < 0, op not an enum
 * proto_osd_pg_cmd_op). Reply decode: 0, -EBADMSG, -EINVAL (result > 0 or
 * < PROTO_OSD_RESULT_MIN, repaired > inconsistent, a message holding a NUL
 * or not shorter than the message field). The reply holds no pointers:
 * nothing needs releasing. Decoders leave *@cmd, *@reply unchanged on
 * failure. */
int proto_osd_pg_cmd_encode(const struct proto_osd_pg_cmd *cmd, uint8_t **buf, size_t *len);
int proto_osd_pg_cmd_decode(const uint8_t *buf, size_t len, struct proto_osd_pg_cmd *cmd);
int proto_osd_pg_cmd_reply_encode(const struct proto_osd_pg_cmd_reply *reply, uint8_t **buf,
                                  size_t *len);
int proto_osd_pg_cmd_reply_decode(const uint8_t *buf, size_t len,
                                  struct proto_osd_pg_cmd_reply *reply);

/* PROTO_MSG_OSD_PING: heartbeats between OSDs. The request carries the
 * sender's map epoch and a stamp the reply echoes. */
struct proto_osd_ping {
    uint64_t epoch;
    uint64_t stamp_ns;
};
int proto_osd_ping_encode(const struct proto_osd_ping *ping, uint8_t **buf, size_t *len);
/* Ping encode: 0 or -ENOMEM. Decode: 0 or -EBADMSG (then *@ping is unchanged). */
int proto_osd_ping_decode(const uint8_t *buf, size_t len, struct proto_osd_ping *ping);

#endif

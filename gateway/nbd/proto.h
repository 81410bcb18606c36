/* The NBD wire protocol (NetworkBlockDevice/nbd doc/proto.md), as pure
 * functions with no sockets, no allocation and no libcairn: parsers for
 * what a client sends (client flags, option headers and option payloads,
 * transmission request headers) and encoders for what the server sends
 * (greeting, option replies and NBD_INFO_*, simple and structured replies).
 * Used by the server (conn.c), the unit tests and the fuzz targets.
 *
 * Parsers validate untrusted input and return 0 or a negative errno; they
 * never assert on it. Encoders write into a caller buffer big enough for
 * the fixed size given by the matching GW_NBD_*_LEN constant and return the
 * number of bytes written. All wire integers are big-endian. */
#ifndef CAIRN_GATEWAY_NBD_PROTO_H
#define CAIRN_GATEWAY_NBD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- constants of the spec ---- */
#define GW_NBD_MAGIC 0x4e42444d41474943ull    /* "NBDMAGIC" */
#define GW_NBD_IHAVEOPT 0x49484156454f5054ull /* "IHAVEOPT" */
#define GW_NBD_REP_MAGIC 0x0003e889045565a9ull
#define GW_NBD_REQUEST_MAGIC 0x25609513u
#define GW_NBD_SIMPLE_REPLY_MAGIC 0x67446698u
#define GW_NBD_STRUCTURED_REPLY_MAGIC 0x668e33efu

/* handshake flags (server) and client flags */
#define GW_NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define GW_NBD_FLAG_NO_ZEROES (1u << 1)
#define GW_NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define GW_NBD_FLAG_C_NO_ZEROES (1u << 1)

/* options */
enum {
    GW_NBD_OPT_EXPORT_NAME = 1,
    GW_NBD_OPT_ABORT = 2,
    GW_NBD_OPT_LIST = 3,
    GW_NBD_OPT_STARTTLS = 5,
    GW_NBD_OPT_INFO = 6,
    GW_NBD_OPT_GO = 7,
    GW_NBD_OPT_STRUCTURED_REPLY = 8,
    GW_NBD_OPT_LIST_META_CONTEXT = 9,
    GW_NBD_OPT_SET_META_CONTEXT = 10,
};

/* option reply types */
#define GW_NBD_REP_ACK 1u
#define GW_NBD_REP_SERVER 2u
#define GW_NBD_REP_INFO 3u
#define GW_NBD_REP_META_CONTEXT 4u
#define GW_NBD_REP_ERR(n) (0x80000000u | (n))
#define GW_NBD_REP_ERR_UNSUP GW_NBD_REP_ERR(1)
#define GW_NBD_REP_ERR_POLICY GW_NBD_REP_ERR(2)
#define GW_NBD_REP_ERR_INVALID GW_NBD_REP_ERR(3)
#define GW_NBD_REP_ERR_PLATFORM GW_NBD_REP_ERR(4)
#define GW_NBD_REP_ERR_TLS_REQD GW_NBD_REP_ERR(5)
#define GW_NBD_REP_ERR_UNKNOWN GW_NBD_REP_ERR(6)
#define GW_NBD_REP_ERR_SHUTDOWN GW_NBD_REP_ERR(7)
#define GW_NBD_REP_ERR_BLOCK_SIZE_REQD GW_NBD_REP_ERR(8)
#define GW_NBD_REP_ERR_TOO_BIG GW_NBD_REP_ERR(9)

/* NBD_INFO_* */
enum {
    GW_NBD_INFO_EXPORT = 0,
    GW_NBD_INFO_NAME = 1,
    GW_NBD_INFO_DESCRIPTION = 2,
    GW_NBD_INFO_BLOCK_SIZE = 3,
};

/* transmission flags */
#define GW_NBD_FLAG_HAS_FLAGS (1u << 0)
#define GW_NBD_FLAG_READ_ONLY (1u << 1)
#define GW_NBD_FLAG_SEND_FLUSH (1u << 2)
#define GW_NBD_FLAG_SEND_FUA (1u << 3)
#define GW_NBD_FLAG_SEND_TRIM (1u << 5)
#define GW_NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define GW_NBD_FLAG_SEND_DF (1u << 7)
#define GW_NBD_FLAG_CAN_MULTI_CONN (1u << 8)

/* commands and their flags */
enum {
    GW_NBD_CMD_READ = 0,
    GW_NBD_CMD_WRITE = 1,
    GW_NBD_CMD_DISC = 2,
    GW_NBD_CMD_FLUSH = 3,
    GW_NBD_CMD_TRIM = 4,
    GW_NBD_CMD_CACHE = 5,
    GW_NBD_CMD_WRITE_ZEROES = 6,
    GW_NBD_CMD_BLOCK_STATUS = 7,
};
#define GW_NBD_CMD_FLAG_FUA (1u << 0)
#define GW_NBD_CMD_FLAG_NO_HOLE (1u << 1)
#define GW_NBD_CMD_FLAG_DF (1u << 2)
#define GW_NBD_CMD_FLAG_REQ_ONE (1u << 3)
#define GW_NBD_CMD_FLAG_FAST_ZERO (1u << 4)

/* structured reply chunks */
#define GW_NBD_REPLY_FLAG_DONE (1u << 0)
enum {
    GW_NBD_REPLY_TYPE_NONE = 0,
    GW_NBD_REPLY_TYPE_OFFSET_DATA = 1,
    GW_NBD_REPLY_TYPE_OFFSET_HOLE = 2,
    GW_NBD_REPLY_TYPE_BLOCK_STATUS = 5,
    GW_NBD_REPLY_TYPE_ERROR = (1 << 15) + 1,
};

/* base:allocation status flags */
#define GW_NBD_STATE_HOLE (1u << 0)
#define GW_NBD_STATE_ZERO (1u << 1)
#define GW_NBD_META_BASE_ALLOCATION "base:allocation"

/* wire error values (the spec's errno numbers, not the host's) */
enum {
    GW_NBD_EPERM = 1,
    GW_NBD_EIO = 5,
    GW_NBD_ENOMEM = 12,
    GW_NBD_EINVAL = 22,
    GW_NBD_ENOSPC = 28,
    GW_NBD_EOVERFLOW = 75,
    GW_NBD_ENOTSUP = 95,
    GW_NBD_ESHUTDOWN = 108,
};

/* ---- our limits ---- */
#define GW_NBD_STRING_MAX 4096u         /* spec: strings MUST be no longer */
#define GW_NBD_OPT_DATA_MAX (64u << 10) /* option payloads we buffer */
/* Larger option payloads up to this are read and discarded and answered
 * with NBD_REP_ERR_TOO_BIG; beyond it the connection is closed. */
#define GW_NBD_OPT_DISCARD_MAX (16u << 20)
#define GW_NBD_INFO_REQ_MAX 32u         /* NBD_INFO_* requests we look at */
#define GW_NBD_META_QUERIES_MAX 64u
#define GW_NBD_BLOCK_MIN 1u
#define GW_NBD_BLOCK_PREFERRED 4096u
#define GW_NBD_PAYLOAD_MAX (32u << 20)  /* maximum block size we advertise */

/* ---- sizes of fixed messages ---- */
#define GW_NBD_GREETING_LEN 18u      /* NBDMAGIC, IHAVEOPT, handshake flags */
#define GW_NBD_CLIENT_FLAGS_LEN 4u
#define GW_NBD_OPT_HDR_LEN 16u       /* IHAVEOPT, option, length */
#define GW_NBD_REP_HDR_LEN 20u       /* magic, option, type, length */
#define GW_NBD_EXPORT_NAME_REPLY_LEN 134u /* size, flags, 124 zeroes */
#define GW_NBD_REQUEST_LEN 28u
#define GW_NBD_SIMPLE_REPLY_LEN 16u
#define GW_NBD_CHUNK_HDR_LEN 20u     /* magic, flags, type, cookie, length */
#define GW_NBD_INFO_EXPORT_LEN 12u   /* type, size, flags */
#define GW_NBD_INFO_BLOCK_SIZE_LEN 14u
#define GW_NBD_EXTENT_LEN 8u

/* ---- handshake and options ---- */

size_t gw_nbd_encode_greeting(uint8_t out[GW_NBD_GREETING_LEN]);
/* The client's 32-bit flags. -EPROTO when a bit we do not know is set or
 * FIXED_NEWSTYLE is missing: the spec says the server MUST then close. */
int gw_nbd_parse_client_flags(const uint8_t in[GW_NBD_CLIENT_FLAGS_LEN], uint32_t *flags);

struct gw_nbd_opt_hdr {
    uint32_t opt;
    uint32_t len; /* payload bytes that follow */
};
/* -EPROTO on a bad magic (the stream is lost: close). */
int gw_nbd_parse_opt_hdr(const uint8_t in[GW_NBD_OPT_HDR_LEN], struct gw_nbd_opt_hdr *hdr);

/* What to do with an option's payload before reading it. */
enum gw_nbd_opt_len_verdict {
    GW_NBD_OPT_READ,    /* buffer it and handle the option */
    GW_NBD_OPT_DISCARD, /* skip it and reply NBD_REP_ERR_TOO_BIG */
    GW_NBD_OPT_CLOSE,   /* close the connection */
};
enum gw_nbd_opt_len_verdict gw_nbd_opt_len_verdict(const struct gw_nbd_opt_hdr *hdr);

/* NBD_OPT_INFO / NBD_OPT_GO payload. @name points into the payload. */
struct gw_nbd_info_req {
    const char *name;
    uint32_t name_len;
    uint16_t n_info;                         /* requests in @info */
    uint16_t info[GW_NBD_INFO_REQ_MAX];      /* beyond the max: dropped */
};
/* -EINVAL when the lengths do not add up or the name is too long or has a
 * NUL (reply NBD_REP_ERR_INVALID). */
int gw_nbd_parse_info_req(const uint8_t *data, uint32_t len, struct gw_nbd_info_req *req);

/* NBD_OPT_LIST_META_CONTEXT / SET_META_CONTEXT payload. */
struct gw_nbd_meta_req {
    const char *name; /* export name, points into the payload */
    uint32_t name_len;
    uint32_t n_queries;
    const uint8_t *queries; /* n_queries (length, string) pairs, validated */
    uint32_t queries_len;
};
/* -EINVAL on inconsistent lengths, too many queries, or a string over
 * GW_NBD_STRING_MAX (reply NBD_REP_ERR_INVALID). */
int gw_nbd_parse_meta_req(const uint8_t *data, uint32_t len, struct gw_nbd_meta_req *req);
/* The query at *@pos (start at 0) of a validated request; advances *@pos. */
void gw_nbd_meta_query_next(const struct gw_nbd_meta_req *req, uint32_t *pos, const char **q,
                            uint32_t *q_len);
/* Whether @q (a query or a context name) selects base:allocation: the name
 * itself, or for LIST the namespace query "base:". */
bool gw_nbd_meta_query_matches(const char *q, uint32_t q_len, bool list);

/* An export name is acceptable when it is 1..GW_NBD_STRING_MAX bytes
 * without NUL. */
bool gw_nbd_name_is_valid(const char *name, uint32_t len);

/* Option reply header; @len payload bytes follow. */
size_t gw_nbd_encode_rep_hdr(uint8_t out[GW_NBD_REP_HDR_LEN], uint32_t opt, uint32_t type,
                             uint32_t len);
/* NBD_OPT_EXPORT_NAME's reply: size, transmission flags and, unless
 * @no_zeroes, 124 zero bytes. */
size_t gw_nbd_encode_export_name_reply(uint8_t out[GW_NBD_EXPORT_NAME_REPLY_LEN], uint64_t size,
                                       uint16_t tflags, bool no_zeroes);
/* NBD_REP_INFO payloads. */
size_t gw_nbd_encode_info_export(uint8_t out[GW_NBD_INFO_EXPORT_LEN], uint64_t size,
                                 uint16_t tflags);
size_t gw_nbd_encode_info_block_size(uint8_t out[GW_NBD_INFO_BLOCK_SIZE_LEN], uint32_t min,
                                     uint32_t preferred, uint32_t max);
/* NBD_INFO_NAME / DESCRIPTION: 2 bytes of type; the string follows. */
size_t gw_nbd_encode_info_string_hdr(uint8_t out[2], uint16_t type);
/* NBD_REP_SERVER: 4 bytes of name length; the name follows. */
size_t gw_nbd_encode_rep_server_hdr(uint8_t out[4], uint32_t name_len);
/* NBD_REP_META_CONTEXT: 4 bytes of context id; the name follows. */
size_t gw_nbd_encode_rep_meta_hdr(uint8_t out[4], uint32_t context_id);

/* ---- transmission ---- */

struct gw_nbd_request {
    uint16_t flags;
    uint16_t type;
    uint64_t cookie;
    uint64_t offset;
    uint32_t length;
};
/* -EPROTO on a bad magic: the stream is lost, close. */
int gw_nbd_parse_request(const uint8_t in[GW_NBD_REQUEST_LEN], struct gw_nbd_request *req);

/* What the server negotiated, for validating requests. */
struct gw_nbd_limits {
    uint64_t size;        /* export size in bytes */
    uint32_t payload_max; /* maximum READ/WRITE length */
    bool structured;      /* NBD_OPT_STRUCTURED_REPLY was acked */
    bool meta_alloc;      /* base:allocation was selected */
};
/* How a parsed request is answered. */
enum gw_nbd_verdict {
    GW_NBD_OK,    /* execute it */
    GW_NBD_ERROR, /* reply with *@err (a GW_NBD_E* value) without doing it;
                   * a WRITE's payload must still be read and dropped */
    GW_NBD_CLOSE, /* protocol violation: close the connection */
};
/* Checks type, flags, alignment (our minimum block is 1, so anything
 * goes) and bounds: EINVAL for reads, trims and block-status beyond the
 * end, ENOSPC for writes and write-zeroes beyond the end, EINVAL for
 * unknown commands or flags, and flags not valid for the command, and
 * over-long reads; a WRITE longer than @payload_max closes (its payload
 * cannot be skipped safely). DISC is GW_NBD_OK: the caller closes. */
enum gw_nbd_verdict gw_nbd_validate_request(const struct gw_nbd_request *req,
                                            const struct gw_nbd_limits *lim, uint32_t *err);

/* The one mapping from an internal -errno to an NBD wire error. */
uint32_t gw_nbd_errno_to_wire(int err);

size_t gw_nbd_encode_simple_reply(uint8_t out[GW_NBD_SIMPLE_REPLY_LEN], uint32_t err,
                                  uint64_t cookie);
/* A structured reply chunk header; @len payload bytes follow. */
size_t gw_nbd_encode_chunk_hdr(uint8_t out[GW_NBD_CHUNK_HDR_LEN], uint16_t flags,
                               uint16_t type, uint64_t cookie, uint32_t len);
/* Full chunks for the fixed-size ones. */
#define GW_NBD_CHUNK_OFFSET_DATA_HDR_LEN (GW_NBD_CHUNK_HDR_LEN + 8u) /* data follows */
size_t gw_nbd_encode_offset_data_hdr(uint8_t out[GW_NBD_CHUNK_OFFSET_DATA_HDR_LEN],
                                     uint16_t flags, uint64_t cookie, uint64_t offset,
                                     uint32_t data_len);
#define GW_NBD_CHUNK_OFFSET_HOLE_LEN (GW_NBD_CHUNK_HDR_LEN + 12u)
size_t gw_nbd_encode_offset_hole(uint8_t out[GW_NBD_CHUNK_OFFSET_HOLE_LEN], uint16_t flags,
                                 uint64_t cookie, uint64_t offset, uint32_t hole_len);
/* NBD_REPLY_TYPE_ERROR with a message of @msg_len bytes (<= 4096) that the
 * caller appends. */
#define GW_NBD_CHUNK_ERROR_HDR_LEN (GW_NBD_CHUNK_HDR_LEN + 6u)
size_t gw_nbd_encode_error_hdr(uint8_t out[GW_NBD_CHUNK_ERROR_HDR_LEN], uint64_t cookie,
                               uint32_t err, uint16_t msg_len);
/* NBD_REPLY_TYPE_BLOCK_STATUS header for @n_extents descriptors that the
 * caller appends with gw_nbd_encode_extent(). */
#define GW_NBD_CHUNK_BLOCK_STATUS_HDR_LEN (GW_NBD_CHUNK_HDR_LEN + 4u)
size_t gw_nbd_encode_block_status_hdr(uint8_t out[GW_NBD_CHUNK_BLOCK_STATUS_HDR_LEN],
                                      uint16_t flags, uint64_t cookie, uint32_t context_id,
                                      uint32_t n_extents);
size_t gw_nbd_encode_extent(uint8_t out[GW_NBD_EXTENT_LEN], uint32_t len, uint32_t status);

#endif

/* The NBD wire protocol as pure functions (proto.h): parsing and checking
 * what clients send, encoding what the server sends. No I/O, no allocation;
 * the connection code (conn.c) owns buffers and sockets. Every length from
 * the wire is checked before it is used (spec "Conventions": strings are at
 * most 4096 bytes). */
#include "gateway/nbd/proto.h"

#include <errno.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- handshake and options ---- */

size_t gw_nbd_encode_greeting(uint8_t out[GW_NBD_GREETING_LEN])
{
    put64(out, GW_NBD_MAGIC);
    put64(out + 8, GW_NBD_IHAVEOPT);
    put16(out + 16, GW_NBD_FLAG_FIXED_NEWSTYLE | GW_NBD_FLAG_NO_ZEROES);
    return GW_NBD_GREETING_LEN;
}

int gw_nbd_parse_client_flags(const uint8_t in[GW_NBD_CLIENT_FLAGS_LEN], uint32_t *flags)
{
    uint32_t f = get32(in);

    /* Spec, "Fixed newstyle negotiation": a server that does not recognise a
     * client flag MUST close; we also require the fixed variant, since
     * without it option errors cannot be reported. */
    if (f & ~(GW_NBD_FLAG_C_FIXED_NEWSTYLE | GW_NBD_FLAG_C_NO_ZEROES))
        return -EPROTO;
    if (!(f & GW_NBD_FLAG_C_FIXED_NEWSTYLE))
        return -EPROTO;
    *flags = f;
    return 0;
}

int gw_nbd_parse_opt_hdr(const uint8_t in[GW_NBD_OPT_HDR_LEN], struct gw_nbd_opt_hdr *hdr)
{
    if (get64(in) != GW_NBD_IHAVEOPT)
        return -EPROTO;
    hdr->opt = get32(in + 8);
    hdr->len = get32(in + 12);
    return 0;
}

enum gw_nbd_opt_len_verdict gw_nbd_opt_len_verdict(const struct gw_nbd_opt_hdr *hdr)
{
    if (hdr->len <= GW_NBD_OPT_DATA_MAX)
        return GW_NBD_OPT_READ;
    /* NBD_OPT_EXPORT_NAME has no error reply: the only answer is to close. */
    if (hdr->opt == GW_NBD_OPT_EXPORT_NAME || hdr->len > GW_NBD_OPT_DISCARD_MAX)
        return GW_NBD_OPT_CLOSE;
    return GW_NBD_OPT_DISCARD;
}

bool gw_nbd_name_is_valid(const char *name, uint32_t len)
{
    return len >= 1 && len <= GW_NBD_STRING_MAX && !memchr(name, '\0', len);
}

int gw_nbd_parse_info_req(const uint8_t *data, uint32_t len, struct gw_nbd_info_req *req)
{
    uint32_t name_len;
    uint16_t n;

    if (len < 6)
        return -EINVAL;
    name_len = get32(data);
    if (name_len > GW_NBD_STRING_MAX || name_len > len - 6)
        return -EINVAL;
    n = get16(data + 4 + name_len);
    if ((uint64_t)len != 6u + name_len + 2u * n)
        return -EINVAL;
    if (memchr(data + 4, '\0', name_len))
        return -EINVAL;
    req->name = (const char *)(data + 4);
    req->name_len = name_len;
    req->n_info = 0;
    for (uint16_t i = 0; i < n && i < GW_NBD_INFO_REQ_MAX; i++)
        req->info[req->n_info++] = get16(data + 6 + name_len + 2u * i);
    return 0;
}

int gw_nbd_parse_meta_req(const uint8_t *data, uint32_t len, struct gw_nbd_meta_req *req)
{
    uint32_t name_len, n, pos;

    if (len < 8)
        return -EINVAL;
    name_len = get32(data);
    if (name_len > GW_NBD_STRING_MAX || name_len > len - 8)
        return -EINVAL;
    if (memchr(data + 4, '\0', name_len))
        return -EINVAL;
    n = get32(data + 4 + name_len);
    if (n > GW_NBD_META_QUERIES_MAX)
        return -EINVAL;
    pos = 8 + name_len;
    for (uint32_t i = 0; i < n; i++) {
        if (len - pos < 4)
            return -EINVAL;
        uint32_t q_len = get32(data + pos);
        if (q_len > GW_NBD_STRING_MAX || q_len > len - pos - 4)
            return -EINVAL;
        if (memchr(data + pos + 4, '\0', q_len))
            return -EINVAL;
        pos += 4 + q_len;
    }
    if (pos != len)
        return -EINVAL;
    req->name = (const char *)(data + 4);
    req->name_len = name_len;
    req->n_queries = n;
    req->queries = data + 8 + name_len;
    req->queries_len = len - 8 - name_len;
    return 0;
}

void gw_nbd_meta_query_next(const struct gw_nbd_meta_req *req, uint32_t *pos, const char **q,
                            uint32_t *q_len)
{
    *q_len = get32(req->queries + *pos);
    *q = (const char *)(req->queries + *pos + 4);
    *pos += 4 + *q_len;
}

bool gw_nbd_meta_query_matches(const char *q, uint32_t q_len, bool list)
{
    static const char full[] = GW_NBD_META_BASE_ALLOCATION;

    if (q_len == sizeof(full) - 1 && memcmp(q, full, q_len) == 0)
        return true;
    /* Spec, NBD_OPT_LIST_META_CONTEXT: a query of just "namespace:" lists
     * every context of the namespace. */
    return list && q_len == 5 && memcmp(q, "base:", 5) == 0;
}

size_t gw_nbd_encode_rep_hdr(uint8_t out[GW_NBD_REP_HDR_LEN], uint32_t opt, uint32_t type,
                             uint32_t len)
{
    put64(out, GW_NBD_REP_MAGIC);
    put32(out + 8, opt);
    put32(out + 12, type);
    put32(out + 16, len);
    return GW_NBD_REP_HDR_LEN;
}

size_t gw_nbd_encode_export_name_reply(uint8_t out[GW_NBD_EXPORT_NAME_REPLY_LEN], uint64_t size,
                                       uint16_t tflags, bool no_zeroes)
{
    put64(out, size);
    put16(out + 8, tflags);
    if (no_zeroes)
        return 10;
    memset(out + 10, 0, 124);
    return GW_NBD_EXPORT_NAME_REPLY_LEN;
}

size_t gw_nbd_encode_info_export(uint8_t out[GW_NBD_INFO_EXPORT_LEN], uint64_t size,
                                 uint16_t tflags)
{
    put16(out, GW_NBD_INFO_EXPORT);
    put64(out + 2, size);
    put16(out + 10, tflags);
    return GW_NBD_INFO_EXPORT_LEN;
}

size_t gw_nbd_encode_info_block_size(uint8_t out[GW_NBD_INFO_BLOCK_SIZE_LEN], uint32_t min,
                                     uint32_t preferred, uint32_t max)
{
    put16(out, GW_NBD_INFO_BLOCK_SIZE);
    put32(out + 2, min);
    put32(out + 6, preferred);
    put32(out + 10, max);
    return GW_NBD_INFO_BLOCK_SIZE_LEN;
}

size_t gw_nbd_encode_info_string_hdr(uint8_t out[2], uint16_t type)
{
    put16(out, type);
    return 2;
}

size_t gw_nbd_encode_rep_server_hdr(uint8_t out[4], uint32_t name_len)
{
    put32(out, name_len);
    return 4;
}

size_t gw_nbd_encode_rep_meta_hdr(uint8_t out[4], uint32_t context_id)
{
    put32(out, context_id);
    return 4;
}

/* ---- transmission ---- */

int gw_nbd_parse_request(const uint8_t in[GW_NBD_REQUEST_LEN], struct gw_nbd_request *req)
{
    if (get32(in) != GW_NBD_REQUEST_MAGIC)
        return -EPROTO;
    req->flags = get16(in + 4);
    req->type = get16(in + 6);
    req->cookie = get64(in + 8);
    req->offset = get64(in + 16);
    req->length = get32(in + 24);
    return 0;
}

/* Flags each command may carry. FUA is accepted everywhere (a no-op where
 * nothing is written); FAST_ZERO is refused since we do not advertise it. */
static uint16_t allowed_flags(uint16_t type, const struct gw_nbd_limits *lim)
{
    switch (type) {
    case GW_NBD_CMD_READ:
        return GW_NBD_CMD_FLAG_FUA | (lim->structured ? GW_NBD_CMD_FLAG_DF : 0);
    case GW_NBD_CMD_WRITE_ZEROES:
        return GW_NBD_CMD_FLAG_FUA | GW_NBD_CMD_FLAG_NO_HOLE;
    case GW_NBD_CMD_BLOCK_STATUS:
        return GW_NBD_CMD_FLAG_FUA | GW_NBD_CMD_FLAG_REQ_ONE;
    default:
        return GW_NBD_CMD_FLAG_FUA;
    }
}

static bool beyond_end(const struct gw_nbd_request *req, const struct gw_nbd_limits *lim)
{
    return req->offset > lim->size || req->length > lim->size - req->offset;
}

enum gw_nbd_verdict gw_nbd_validate_request(const struct gw_nbd_request *req,
                                            const struct gw_nbd_limits *lim, uint32_t *err)
{
    *err = GW_NBD_EINVAL;
    /* Checked first: a WRITE whose payload we will not read loses the stream. */
    if (req->type == GW_NBD_CMD_WRITE && req->length > lim->payload_max)
        return GW_NBD_CLOSE;
    switch (req->type) {
    case GW_NBD_CMD_READ:
    case GW_NBD_CMD_WRITE:
    case GW_NBD_CMD_FLUSH:
    case GW_NBD_CMD_TRIM:
    case GW_NBD_CMD_WRITE_ZEROES:
    case GW_NBD_CMD_DISC:
        break;
    case GW_NBD_CMD_BLOCK_STATUS:
        if (!lim->meta_alloc || req->length == 0)
            return GW_NBD_ERROR;
        break;
    default:
        return GW_NBD_ERROR;
    }
    if (req->flags & ~allowed_flags(req->type, lim))
        return GW_NBD_ERROR;
    if (req->type == GW_NBD_CMD_READ && req->length > lim->payload_max)
        return GW_NBD_ERROR;
    /* Spec, "Request message": offset + length beyond the export is EINVAL,
     * except for writes, which SHOULD get ENOSPC. FLUSH carries no range. */
    if (req->type != GW_NBD_CMD_FLUSH && req->type != GW_NBD_CMD_DISC && beyond_end(req, lim)) {
        if (req->type == GW_NBD_CMD_WRITE || req->type == GW_NBD_CMD_WRITE_ZEROES)
            *err = GW_NBD_ENOSPC;
        return GW_NBD_ERROR;
    }
    *err = 0;
    return GW_NBD_OK;
}

uint32_t gw_nbd_errno_to_wire(int err)
{
    switch (err < 0 ? -err : err) {
    case 0:
        return 0;
    case EPERM:
    case EACCES:
    case EROFS:
        return GW_NBD_EPERM;
    case ENOMEM:
        return GW_NBD_ENOMEM;
    case EINVAL:
        return GW_NBD_EINVAL;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return GW_NBD_ENOSPC;
    case EOVERFLOW:
        return GW_NBD_EOVERFLOW;
    case ENOTSUP:
        return GW_NBD_ENOTSUP;
    case ESHUTDOWN:
        return GW_NBD_ESHUTDOWN;
    default:
        return GW_NBD_EIO;
    }
}

size_t gw_nbd_encode_simple_reply(uint8_t out[GW_NBD_SIMPLE_REPLY_LEN], uint32_t err,
                                  uint64_t cookie)
{
    put32(out, GW_NBD_SIMPLE_REPLY_MAGIC);
    put32(out + 4, err);
    put64(out + 8, cookie);
    return GW_NBD_SIMPLE_REPLY_LEN;
}

size_t gw_nbd_encode_chunk_hdr(uint8_t out[GW_NBD_CHUNK_HDR_LEN], uint16_t flags,
                               uint16_t type, uint64_t cookie, uint32_t len)
{
    put32(out, GW_NBD_STRUCTURED_REPLY_MAGIC);
    put16(out + 4, flags);
    put16(out + 6, type);
    put64(out + 8, cookie);
    put32(out + 16, len);
    return GW_NBD_CHUNK_HDR_LEN;
}

size_t gw_nbd_encode_offset_data_hdr(uint8_t out[GW_NBD_CHUNK_OFFSET_DATA_HDR_LEN],
                                     uint16_t flags, uint64_t cookie, uint64_t offset,
                                     uint32_t data_len)
{
    gw_nbd_encode_chunk_hdr(out, flags, GW_NBD_REPLY_TYPE_OFFSET_DATA, cookie, 8 + data_len);
    put64(out + GW_NBD_CHUNK_HDR_LEN, offset);
    return GW_NBD_CHUNK_OFFSET_DATA_HDR_LEN;
}

size_t gw_nbd_encode_offset_hole(uint8_t out[GW_NBD_CHUNK_OFFSET_HOLE_LEN], uint16_t flags,
                                 uint64_t cookie, uint64_t offset, uint32_t hole_len)
{
    gw_nbd_encode_chunk_hdr(out, flags, GW_NBD_REPLY_TYPE_OFFSET_HOLE, cookie, 12);
    put64(out + GW_NBD_CHUNK_HDR_LEN, offset);
    put32(out + GW_NBD_CHUNK_HDR_LEN + 8, hole_len);
    return GW_NBD_CHUNK_OFFSET_HOLE_LEN;
}

size_t gw_nbd_encode_error_hdr(uint8_t out[GW_NBD_CHUNK_ERROR_HDR_LEN], uint64_t cookie,
                               uint32_t err, uint16_t msg_len)
{
    gw_nbd_encode_chunk_hdr(out, GW_NBD_REPLY_FLAG_DONE, GW_NBD_REPLY_TYPE_ERROR, cookie,
                            6u + msg_len);
    put32(out + GW_NBD_CHUNK_HDR_LEN, err);
    put16(out + GW_NBD_CHUNK_HDR_LEN + 4, msg_len);
    return GW_NBD_CHUNK_ERROR_HDR_LEN;
}

size_t gw_nbd_encode_block_status_hdr(uint8_t out[GW_NBD_CHUNK_BLOCK_STATUS_HDR_LEN],
                                      uint16_t flags, uint64_t cookie, uint32_t context_id,
                                      uint32_t n_extents)
{
    gw_nbd_encode_chunk_hdr(out, flags, GW_NBD_REPLY_TYPE_BLOCK_STATUS, cookie,
                            4u + GW_NBD_EXTENT_LEN * n_extents);
    put32(out + GW_NBD_CHUNK_HDR_LEN, context_id);
    return GW_NBD_CHUNK_BLOCK_STATUS_HDR_LEN;
}

size_t gw_nbd_encode_extent(uint8_t out[GW_NBD_EXTENT_LEN], uint32_t len, uint32_t status)
{
    put32(out, len);
    put32(out + 4, status);
    return GW_NBD_EXTENT_LEN;
}

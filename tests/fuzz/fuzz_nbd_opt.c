/* Fuzz target for the NBD handshake and option parsers
 * (gateway/nbd/proto.c). The input is what a client sends after the
 * greeting: 4 bytes of client flags, then options (header and payload),
 * each checked the way conn.c does: the length verdict first, then the
 * payload parser for the option. Parsed results are checked against the
 * input's bounds; any crash, sanitizer report or abort() is a bug. Built
 * by tests/fuzz/CMakeLists.txt (libFuzzer or replay). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/nbd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_in(const void *p, size_t len, const uint8_t *base, size_t size)
{
    const uint8_t *q = p;
    if (q < base || q + len > base + size)
        abort();
}

static void info(const uint8_t *p, uint32_t len)
{
    struct gw_nbd_info_req req;

    if (gw_nbd_parse_info_req(p, len, &req) < 0)
        return;
    check_in(req.name, req.name_len, p, len);
    if (req.n_info > GW_NBD_INFO_REQ_MAX || req.name_len > GW_NBD_STRING_MAX)
        abort();
    if (memchr(req.name, '\0', req.name_len))
        abort();
}

static void meta(const uint8_t *p, uint32_t len)
{
    struct gw_nbd_meta_req req;
    uint32_t pos = 0, q_len;
    const char *q;

    if (gw_nbd_parse_meta_req(p, len, &req) < 0)
        return;
    check_in(req.name, req.name_len, p, len);
    check_in(req.queries, req.queries_len, p, len);
    if (req.n_queries > GW_NBD_META_QUERIES_MAX)
        abort();
    for (uint32_t i = 0; i < req.n_queries; i++) {
        gw_nbd_meta_query_next(&req, &pos, &q, &q_len);
        check_in(q, q_len, req.queries, req.queries_len);
        gw_nbd_meta_query_matches(q, q_len, i & 1);
    }
    if (pos != req.queries_len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_nbd_opt_hdr hdr;
    uint32_t flags;
    size_t off = GW_NBD_CLIENT_FLAGS_LEN;

    if (size < GW_NBD_CLIENT_FLAGS_LEN || gw_nbd_parse_client_flags(data, &flags) < 0)
        return 0;
    while (size - off >= GW_NBD_OPT_HDR_LEN) {
        if (gw_nbd_parse_opt_hdr(data + off, &hdr) < 0)
            return 0;
        off += GW_NBD_OPT_HDR_LEN;
        enum gw_nbd_opt_len_verdict v = gw_nbd_opt_len_verdict(&hdr);
        if (v == GW_NBD_OPT_CLOSE)
            return 0;
        if (v == GW_NBD_OPT_DISCARD && hdr.len <= GW_NBD_OPT_DATA_MAX)
            abort();
        /* the payload is what is left, up to its length */
        uint32_t len = (uint32_t)(hdr.len < size - off ? hdr.len : size - off);
        const uint8_t *p = data + off;
        if (v == GW_NBD_OPT_READ) {
            if (hdr.opt == GW_NBD_OPT_INFO || hdr.opt == GW_NBD_OPT_GO)
                info(p, len);
            else if (hdr.opt == GW_NBD_OPT_LIST_META_CONTEXT ||
                     hdr.opt == GW_NBD_OPT_SET_META_CONTEXT)
                meta(p, len);
            else if (hdr.opt == GW_NBD_OPT_EXPORT_NAME)
                gw_nbd_name_is_valid((const char *)p, len);
        }
        off += len;
    }
    return 0;
}

/* Fuzz target for the NBD transmission request parser and checks
 * (gateway/nbd/proto.c). The first 10 input bytes choose the negotiated
 * limits (export size, structured replies, base:allocation); the rest is a
 * stream of 28-byte request headers, each parsed and validated as xmit.c
 * does, with a WRITE's payload skipped. Verdicts are checked against the
 * spec's rules: an accepted request lies within the export and the payload
 * limit, and an error carries a spec errno. Built by tests/fuzz/CMakeLists.txt. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/nbd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ok(const struct gw_nbd_request *req, const struct gw_nbd_limits *lim)
{
    if (req->type == GW_NBD_CMD_FLUSH || req->type == GW_NBD_CMD_DISC)
        return;
    if (req->offset > lim->size || req->length > lim->size - req->offset)
        abort();
    if ((req->type == GW_NBD_CMD_READ || req->type == GW_NBD_CMD_WRITE) &&
        req->length > lim->payload_max)
        abort();
    if (req->type == GW_NBD_CMD_BLOCK_STATUS && (!lim->meta_alloc || req->length == 0))
        abort();
    if (req->type > GW_NBD_CMD_BLOCK_STATUS || req->type == GW_NBD_CMD_CACHE)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_nbd_limits lim = {.payload_max = GW_NBD_PAYLOAD_MAX};
    struct gw_nbd_request req;
    uint8_t out[GW_NBD_CHUNK_OFFSET_DATA_HDR_LEN];
    size_t off = 10;
    uint32_t err;

    if (size < off)
        return 0;
    for (int i = 0; i < 8; i++)
        lim.size = lim.size << 8 | data[i];
    lim.structured = data[8] & 1;
    lim.meta_alloc = data[9] & 1;
    while (size - off >= GW_NBD_REQUEST_LEN) {
        if (gw_nbd_parse_request(data + off, &req) < 0)
            return 0;
        off += GW_NBD_REQUEST_LEN;
        switch (gw_nbd_validate_request(&req, &lim, &err)) {
        case GW_NBD_CLOSE:
            if (req.type != GW_NBD_CMD_WRITE || req.length <= lim.payload_max)
                abort();
            return 0;
        case GW_NBD_ERROR:
            if (err != GW_NBD_EINVAL && err != GW_NBD_ENOSPC)
                abort();
            gw_nbd_encode_simple_reply(out, err, req.cookie);
            gw_nbd_encode_error_hdr(out, req.cookie, err, 0);
            break;
        case GW_NBD_OK:
            if (err != 0)
                abort();
            check_ok(&req, &lim);
            gw_nbd_encode_offset_data_hdr(out, GW_NBD_REPLY_FLAG_DONE, req.cookie, req.offset,
                                          req.length);
            break;
        }
        if (req.type == GW_NBD_CMD_WRITE)
            off += req.length < size - off ? req.length : size - off;
    }
    return 0;
}

/* Fuzz target for the SigV4 credential parsers and the canonical request
 * (gateway/s3/sigv4.c). The first input byte picks the Authorization header
 * parser or the presigned query parser; the rest is the header value or raw
 * query. Whatever parses must be well formed (signature 64 lowercase hex,
 * 1..GW_S3_SIGNED_HEADERS_MAX names, service "s3"), a refusal must carry the
 * parser's errno and a reason, and an accepted credential is then signed and
 * verified against a request whose path and query are the same bytes.
 * Built by tests/fuzz/CMakeLists.txt. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/s3/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_auth(const struct gw_s3_auth *a)
{
    if (strlen(a->signature) != GW_S3_SIG_HEX_LEN)
        abort();
    for (size_t i = 0; i < GW_S3_SIG_HEX_LEN; i++)
        if (!strchr("0123456789abcdef", a->signature[i]))
            abort();
    if (a->signed_count == 0 || a->signed_count > GW_S3_SIGNED_HEADERS_MAX)
        abort();
    if (strcmp(a->service, "s3") != 0 || strlen(a->date) != 8 || !a->access_key[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[GW_S3_AUTH_HEADER_MAX * 4 + 1];
    const struct gw_s3_header h[] = {{"Host", "h"}, {"x-amz-date", "20130524T000000Z"}};
    struct gw_s3_auth auth;
    char sig[GW_S3_SIG_HEX_LEN + 1], cr[512];
    const char *reason = NULL;
    int rc;

    if (size < 1 || size - 1 >= sizeof(text))
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    bool header = data[0] & 1;
    rc = header ? gw_s3_sigv4_parse_header(text, &auth, &reason)
                : gw_s3_sigv4_parse_query(text, &auth, &reason);
    if (rc != 0) {
        if (rc != (header ? -EINVAL : -EBADMSG) || !reason || !reason[0])
            abort();
        return 0;
    }
    check_auth(&auth);
    if (header) {
        memcpy(auth.amz_date, "20130524T000000Z", 17);
        auth.amz_time = 1369353600;
    }
    const struct gw_s3_request req = {"GET", text, text, h, 2, "UNSIGNED-PAYLOAD"};
    rc = gw_s3_sigv4_canonical_request(&req, &auth, cr, sizeof(cr));
    if (rc < 0 && rc != -ENOSPC && rc != -EINVAL && rc != -EBADMSG)
        abort();
    rc = gw_s3_sigv4_sign(&req, &auth, "secret", sig);
    if (rc == 0 && strlen(sig) != GW_S3_SIG_HEX_LEN)
        abort();
    rc = gw_s3_sigv4_verify(&req, &auth, "secret", auth.amz_time, &reason);
    if (rc != -EACCES && rc != -EINVAL && rc != -EBADMSG && rc != 0)
        abort();
    return 0;
}

/* Fuzz target for the aws-chunked decoder (gateway/s3/chunked.c). Byte 0
 * picks the mode (mod 3: signed, signed with trailers, unsigned with
 * trailers), byte 1 the sizes of the pieces the rest is fed in; the signing
 * key, date, scope and seed signature are those of the AWS chunked-upload
 * example, so the corpus can hold validly signed bodies. Checks: only the
 * documented results, consumed within the piece, payload accounting, sticky
 * completion and errors, well-formed trailers. Built by
 * tests/fuzz/CMakeLists.txt. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/s3/chunked.h"

#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int emit(void *arg, const void *p, size_t len)
{
    uint64_t *total = arg;
    if (len == 0)
        abort();
    *total += len;
    return 0;
}

static void check_trailers(const struct gw_s3_chunked *d)
{
    if (d->trailer_count > GW_S3_TRAILERS_MAX)
        abort();
    for (size_t i = 0; i < d->trailer_count; i++) {
        const char *n = d->trailers[i].name;
        if (!n[0] || strpbrk(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ: \t"))
            abort();
        if (gw_s3_chunked_trailer(d, n) != d->trailers[i].value)
            abort(); /* duplicates are refused */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t key[GW_S3_KEY_LEN];
    static int have_key;
    struct gw_s3_chunked d;
    uint64_t total = 0;
    int rc = 0;

    if (!have_key) {
        gw_s3_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1",
                                "s3", key);
        have_key = 1;
    }
    if (size < 2)
        return 0;
    enum gw_s3_chunked_mode mode = (enum gw_s3_chunked_mode)(1 + data[0] % 3);
    unsigned step = data[1];
    gw_s3_chunked_init(&d, mode, key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                       SEED);
    size_t off = 2, k = 0;
    while (off < size && rc == 0) {
        /* Piece sizes 1..size cycling with the step byte; 0 means all. */
        size_t n = step ? 1 + (step * ++k) % 97 : size - off;
        size_t used = 0;
        if (n > size - off)
            n = size - off;
        rc = gw_s3_chunked_feed(&d, data + off, n, &used, emit, &total);
        if (used > n || (rc == 0 && used != n))
            abort();
        off += used;
    }
    if (rc != 0 && rc != 1 && rc != -EBADMSG && rc != -EACCES)
        abort();
    if (d.decoded_bytes != total)
        abort();
    check_trailers(&d);
    if (rc != 0) {
        size_t used = 99;
        if (gw_s3_chunked_feed(&d, data, size, &used, emit, &total) != rc || used != 0)
            abort();
    }
    gw_s3_chunked_fini(&d);
    return 0;
}

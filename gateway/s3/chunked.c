/* The aws-chunked decoder (see chunked.h): a byte-at-a-time-safe state
 * machine that strips the chunk framing of a streaming S3 upload, checks
 * each chunk signature (and the trailer signature) against the chain that
 * starts at the request's seed signature, and collects the trailers. The
 * HTTP layer feeds it the body as it arrives and stores the payload it hands
 * out. Spec: AWS S3 API Reference, "Signature Calculations for the
 * Authorization Header: Transferring Payload in Multiple Chunks" and "...
 * Including Trailing Headers".
 *
 *        +--------+  size>0  +------+  size bytes  +---------+
 *   ---> | HEADER | -------> | DATA | -----------> | DATA_CR |
 *        +--------+          +------+  (verify)    +---------+
 *          ^   | size=0 (verify)                      | "\r"
 *          |   +------ SIGNED ---------------------> +---------+
 *          |   |                                     | DATA_LF |
 *          |   | trailer modes                       +---------+
 *          |   v                                        | "\n": size>0 -> HEADER
 *        +---------+  "\r\n" (verify trailer sig)       |       size=0 -> DONE
 *        | TRAILER | --------------------------------> DONE
 *        +---------+
 *
 * Invariants: (1) d->state is one of the ST_* values, or a negative errno
 * once decoding failed (sticky); (2) line_len ≤ LINE_BUF, and the line never
 * holds an LF; (3) in DATA, chunk_left ≤ chunk_size ≤ GW_S3_CHUNK_SIZE_MAX. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_CTX: the embedded, allocation-free hash */
#include "gateway/s3/chunked.h"

#include "common/assert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

enum {
    ST_HEADER = 1, /* reading "SIZE[;chunk-signature=SIG]\r\n" */
    ST_DATA,       /* chunk_left payload bytes to go */
    ST_DATA_CR,    /* the "\r" after a chunk's data */
    ST_DATA_LF,    /* the "\n" after a chunk's data */
    ST_TRAILER,    /* reading trailer lines up to an empty one */
    ST_DONE,
};

/* A line's text plus its CR: the longer of the two limits. */
#define LINE_TEXT_MAX GW_S3_TRAILER_LINE_MAX
#define LINE_BUF (LINE_TEXT_MAX + 1)
CAIRN_STATIC_ASSERT(GW_S3_CHUNK_LINE_MAX <= LINE_TEXT_MAX, "chunk header lines fit the buffer");
CAIRN_STATIC_ASSERT(sizeof(((struct gw_s3_chunked *)0)->line) >= LINE_BUF, "line buffer");

#define SIG_PREFIX ";chunk-signature="
#define TRAILER_SIG "x-amz-trailer-signature"

enum gw_s3_chunked_mode gw_s3_chunked_mode_of(const char *payload_hash)
{
    if (!payload_hash)
        return 0;
    if (strcmp(payload_hash, GW_S3_STREAMING_PAYLOAD) == 0)
        return GW_S3_CHUNKED_SIGNED;
    if (strcmp(payload_hash, GW_S3_STREAMING_PAYLOAD_TRAILER) == 0)
        return GW_S3_CHUNKED_SIGNED_TRAILER;
    if (strcmp(payload_hash, GW_S3_STREAMING_UNSIGNED_TRAILER) == 0)
        return GW_S3_CHUNKED_UNSIGNED_TRAILER;
    return 0;
}

static bool is_signed(const struct gw_s3_chunked *d)
{
    return d->mode != GW_S3_CHUNKED_UNSIGNED_TRAILER;
}

void gw_s3_chunked_init(struct gw_s3_chunked *d, enum gw_s3_chunked_mode mode,
                        const uint8_t key[GW_S3_KEY_LEN], const char *amz_date, const char *scope,
                        const char *seed_signature)
{
    CAIRN_ASSERT(mode >= GW_S3_CHUNKED_SIGNED && mode <= GW_S3_CHUNKED_UNSIGNED_TRAILER);
    memset(d, 0, sizeof(*d));
    d->mode = mode;
    d->state = ST_HEADER;
    if (!is_signed(d))
        return;
    CAIRN_ASSERT(key && amz_date && scope && seed_signature);
    CAIRN_ASSERT(strlen(amz_date) < sizeof(d->amz_date));
    CAIRN_ASSERT(strlen(scope) < sizeof(d->scope));
    CAIRN_ASSERT(strlen(seed_signature) == GW_S3_SIG_HEX_LEN);
    memcpy(d->key, key, GW_S3_KEY_LEN);
    strcpy(d->amz_date, amz_date);
    strcpy(d->scope, scope);
    strcpy(d->prev_sig, seed_signature);
}

void gw_s3_chunked_fini(struct gw_s3_chunked *d)
{
    OPENSSL_cleanse(d->key, sizeof(d->key));
}

const char *gw_s3_chunked_trailer(const struct gw_s3_chunked *d, const char *name)
{
    for (size_t i = 0; i < d->trailer_count; i++)
        if (strcmp(d->trailers[i].name, name) == 0)
            return d->trailers[i].value;
    return NULL;
}

/* ---- signatures ----------------------------------------------------------- */

/* Checks d->chunk_sig against the chunk just hashed; it then becomes prev_sig. */
static int verify_chunk(struct gw_s3_chunked *d)
{
    uint8_t sha[SHA256_DIGEST_LENGTH];
    char want[GW_S3_SIG_HEX_LEN + 1];

    if (!is_signed(d))
        return 0;
    SHA256_Final(sha, &d->chunk_hash);
    gw_s3_sigv4_chunk_signature(d->key, d->amz_date, d->scope, d->prev_sig, sha, want);
    if (CRYPTO_memcmp(want, d->chunk_sig, GW_S3_SIG_HEX_LEN) != 0)
        return -EACCES;
    memcpy(d->prev_sig, d->chunk_sig, sizeof(d->prev_sig));
    d->chunk_sig[0] = '\0'; /* reused for the trailer signature */
    return 0;
}

static void hex32(const uint8_t *in, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[64] = '\0';
}

/* HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope "\n" prev "\n"
 * hex(sha256(trailers))), the trailers as "name:value\n" lines, against the
 * x-amz-trailer-signature received (in d->chunk_sig). */
static int verify_trailer(struct gw_s3_chunked *d)
{
    SHA256_CTX sha;
    uint8_t digest[SHA256_DIGEST_LENGTH], mac[SHA256_DIGEST_LENGTH];
    char hex[GW_S3_SIG_HEX_LEN + 1], want[GW_S3_SIG_HEX_LEN + 1];
    unsigned mac_len = 0;

    SHA256_Init(&sha);
    for (size_t i = 0; i < d->trailer_count; i++) {
        SHA256_Update(&sha, d->trailers[i].name, strlen(d->trailers[i].name));
        SHA256_Update(&sha, ":", 1);
        SHA256_Update(&sha, d->trailers[i].value, strlen(d->trailers[i].value));
        SHA256_Update(&sha, "\n", 1);
    }
    SHA256_Final(digest, &sha);
    hex32(digest, hex);

    char sts[32 + sizeof(d->amz_date) + sizeof(d->scope) + 2 * GW_S3_SIG_HEX_LEN];
    int n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s", d->amz_date,
                     d->scope, d->prev_sig, hex);
    CAIRN_ASSERT(n > 0 && (size_t)n < sizeof(sts));
    unsigned char *ok =
        HMAC(EVP_sha256(), d->key, GW_S3_KEY_LEN, (unsigned char *)sts, (size_t)n, mac, &mac_len);
    CAIRN_ASSERT(ok && mac_len == sizeof(mac));
    hex32(mac, want);
    OPENSSL_cleanse(mac, sizeof(mac));
    return CRYPTO_memcmp(want, d->chunk_sig, GW_S3_SIG_HEX_LEN) == 0 ? 0 : -EACCES;
}

/* ---- framing ------------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses a chunk header line (without its CRLF) and starts the chunk. */
static int chunk_header(struct gw_s3_chunked *d, const char *line, size_t len)
{
    size_t i = 0;
    uint64_t size = 0;

    for (; i < len && hexval(line[i]) >= 0; i++) {
        if (i == 16)
            return -EBADMSG;
        size = size << 4 | (uint64_t)hexval(line[i]);
    }
    if (i == 0 || size > GW_S3_CHUNK_SIZE_MAX)
        return -EBADMSG;
    if (is_signed(d)) {
        const size_t plen = sizeof(SIG_PREFIX) - 1;
        if (len - i != plen + GW_S3_SIG_HEX_LEN || memcmp(line + i, SIG_PREFIX, plen) != 0)
            return -EBADMSG;
        i += plen;
        for (size_t k = 0; k < GW_S3_SIG_HEX_LEN; k++)
            if (!strchr("0123456789abcdef", line[i + k]) || !line[i + k])
                return -EBADMSG;
        memcpy(d->chunk_sig, line + i, GW_S3_SIG_HEX_LEN);
        d->chunk_sig[GW_S3_SIG_HEX_LEN] = '\0';
        SHA256_Init(&d->chunk_hash);
    } else if (i != len) {
        return -EBADMSG;
    }
    d->chunk_size = d->chunk_left = size;
    if (size > 0) {
        d->state = ST_DATA;
        return 0;
    }
    /* The final chunk: its (empty) data is complete now. */
    int rc = verify_chunk(d);
    if (rc < 0)
        return rc;
    d->state = d->mode == GW_S3_CHUNKED_SIGNED ? ST_DATA_CR : ST_TRAILER;
    return 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses one trailer line (without its CRLF); the empty line ends them. */
static int trailer_line(struct gw_s3_chunked *d, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    char name[sizeof(d->trailers[0].name)];

    if (len == 0) {
        if (d->mode == GW_S3_CHUNKED_SIGNED_TRAILER) {
            if (!d->chunk_sig[0])
                return -EBADMSG; /* no x-amz-trailer-signature */
            int rc = verify_trailer(d);
            if (rc < 0)
                return rc;
        }
        d->state = ST_DONE;
        return 0;
    }
    /* Nothing may follow the trailer signature but the empty line. */
    if (!colon || colon == line || (size_t)(colon - line) >= sizeof(name) ||
        (d->mode == GW_S3_CHUNKED_SIGNED_TRAILER && d->chunk_sig[0]))
        return -EBADMSG;
    size_t nlen = (size_t)(colon - line);
    for (size_t i = 0; i < nlen; i++) {
        char c = line[i];
        if (c <= ' ' || c >= 0x7f)
            return -EBADMSG;
        name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    name[nlen] = '\0';
    const char *v = colon + 1, *end = line + len;
    while (v < end && is_blank(*v))
        v++;
    while (end > v && is_blank(end[-1]))
        end--;
    size_t vlen = (size_t)(end - v);
    if (memchr(v, '\0', vlen))
        return -EBADMSG;
    if (strcmp(name, TRAILER_SIG) == 0) {
        if (d->mode != GW_S3_CHUNKED_SIGNED_TRAILER || vlen != GW_S3_SIG_HEX_LEN ||
            strspn(v, "0123456789abcdef") < GW_S3_SIG_HEX_LEN)
            return -EBADMSG;
        memcpy(d->chunk_sig, v, GW_S3_SIG_HEX_LEN);
        d->chunk_sig[GW_S3_SIG_HEX_LEN] = '\0';
        return 0;
    }
    if (d->trailer_count == GW_S3_TRAILERS_MAX || vlen >= sizeof(d->trailers[0].value) ||
        gw_s3_chunked_trailer(d, name))
        return -EBADMSG;
    struct gw_s3_trailer *t = &d->trailers[d->trailer_count++];
    memcpy(t->name, name, nlen + 1);
    memcpy(t->value, v, vlen);
    t->value[vlen] = '\0';
    return 0;
}

/* Adds byte @c to the current line; at its LF, hands the line on. */
static int line_byte(struct gw_s3_chunked *d, char c)
{
    size_t max = d->state == ST_HEADER ? GW_S3_CHUNK_LINE_MAX : GW_S3_TRAILER_LINE_MAX;

    if (c != '\n') {
        /* Room for the text and its CR; a CR must be the last byte. */
        if (d->line_len > max || (d->line_len == max && c != '\r') ||
            (d->line_len > 0 && d->line[d->line_len - 1] == '\r'))
            return -EBADMSG;
        d->line[d->line_len++] = c;
        return 0;
    }
    if (d->line_len == 0 || d->line[d->line_len - 1] != '\r')
        return -EBADMSG;
    size_t len = d->line_len - 1;
    d->line_len = 0;
    if (d->state == ST_HEADER)
        return chunk_header(d, d->line, len);
    return trailer_line(d, d->line, len);
}

/* Payload bytes of the current chunk: hashed, handed out, and the chunk
 * verified once complete. Returns the bytes used or a negative errno. */
static ssize_t chunk_data(struct gw_s3_chunked *d, const uint8_t *p, size_t len,
                          gw_s3_chunked_emit_fn emit, void *arg)
{
    size_t n = len < d->chunk_left ? len : (size_t)d->chunk_left;

    if (is_signed(d))
        SHA256_Update(&d->chunk_hash, p, n);
    d->chunk_left -= n;
    d->decoded_bytes += n;
    int rc = emit(arg, p, n);
    if (rc < 0)
        return rc;
    if (d->chunk_left == 0) {
        if ((rc = verify_chunk(d)) < 0)
            return rc;
        d->state = ST_DATA_CR;
    }
    return (ssize_t)n;
}

int gw_s3_chunked_feed(struct gw_s3_chunked *d, const void *in, size_t len, size_t *consumed,
                       gw_s3_chunked_emit_fn emit, void *arg)
{
    const uint8_t *p = in;
    size_t i = 0;
    int rc = 0;

    while (i < len && d->state > 0 && d->state != ST_DONE && rc == 0) {
        switch (d->state) {
        case ST_DATA: {
            ssize_t n = chunk_data(d, p + i, len - i, emit, arg);
            if (n < 0)
                rc = (int)n;
            else
                i += (size_t)n;
            break;
        }
        case ST_DATA_CR:
            rc = p[i++] == '\r' ? 0 : -EBADMSG;
            d->state = ST_DATA_LF;
            break;
        case ST_DATA_LF:
            rc = p[i++] == '\n' ? 0 : -EBADMSG;
            d->state = d->chunk_size == 0 ? ST_DONE : ST_HEADER;
            break;
        default:
            CAIRN_ASSERT(d->state == ST_HEADER || d->state == ST_TRAILER);
            rc = line_byte(d, (char)p[i++]);
            break;
        }
    }
    if (rc < 0)
        d->state = rc;
    *consumed = i;
    if (d->state < 0)
        return d->state;
    return d->state == ST_DONE ? 1 : 0;
}

/* Entity keyrings (load, save, lookup), key generation and base64, and the
 * HMAC-SHA256 proofs of the connection handshake (see auth.h). The messenger
 * calls the proof functions; daemons and tools load and save keyrings. The
 * file syntax is parsed by common/config.c; this file only gives it meaning.
 * Key material is wiped (OPENSSL_cleanse) before its memory is released. */
#define _GNU_SOURCE /* mkostemp */
#include "protocol/auth.h"

#include "common/clock.h"
#include "common/assert.h"
#include "common/config.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define KEY_B64_LEN 44u /* 4 * ceil(32 / 3): 43 characters and one '=' */
CAIRN_STATIC_ASSERT(KEY_B64_LEN == 4 * ((PROTO_KEY_LEN + 2) / 3), "base64 length of a key");

struct keyring_entry {
    char entity[PROTO_ENTITY_MAX]; /* valid entity name, NUL-terminated */
    uint8_t key[PROTO_KEY_LEN];
};

/* Entries in insertion order (a loaded file keeps its order on save). */
struct proto_keyring {
    struct keyring_entry *entries;
    size_t count;
    size_t cap;
    char *path;                /* the file it was loaded from, or NULL */
    uint64_t reloaded_ns;      /* last re-read for an unknown entity */
};

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_id_char(char c)
{
    return is_lower(c) || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool proto_entity_is_valid(const char *name)
{
    size_t len = strnlen(name, PROTO_ENTITY_MAX);
    size_t i = 0;

    if (len == PROTO_ENTITY_MAX)
        return false;
    while (is_lower(name[i]))
        i++;
    if (i == 0 || name[i] != '.')
        return false;
    size_t id_start = ++i;
    while (is_id_char(name[i]))
        i++;
    return i > id_start && i == len;
}

struct proto_keyring *proto_keyring_create(void)
{
    return calloc(1, sizeof(struct proto_keyring));
}

void proto_keyring_destroy(struct proto_keyring *kr)
{
    if (!kr)
        return;
    if (kr->entries)
        OPENSSL_cleanse(kr->entries, kr->cap * sizeof(*kr->entries));
    free(kr->entries);
    free(kr->path);
    free(kr);
}

static struct keyring_entry *find(const struct proto_keyring *kr, const char *entity)
{
    for (size_t i = 0; i < kr->count; i++)
        if (strcmp(kr->entries[i].entity, entity) == 0)
            return &kr->entries[i];
    return NULL;
}

/* Makes room for one more entry. realloc is not used so that no copy of
 * the keys is left behind in freed memory. */
static int grow(struct proto_keyring *kr)
{
    if (kr->count < kr->cap)
        return 0;
    size_t cap = kr->cap ? kr->cap * 2 : 8;
    struct keyring_entry *e = calloc(cap, sizeof(*e));
    if (!e)
        return -ENOMEM;
    if (kr->entries) {
        memcpy(e, kr->entries, kr->count * sizeof(*e));
        OPENSSL_cleanse(kr->entries, kr->cap * sizeof(*e));
        free(kr->entries);
    }
    kr->entries = e;
    kr->cap = cap;
    return 0;
}

int proto_keyring_set(struct proto_keyring *kr, const char *entity,
                      const uint8_t key[PROTO_KEY_LEN])
{
    if (!proto_entity_is_valid(entity))
        return -EINVAL;
    struct keyring_entry *e = find(kr, entity);
    if (!e) {
        int r = grow(kr);
        if (r < 0)
            return r;
        e = &kr->entries[kr->count++];
        snprintf(e->entity, sizeof(e->entity), "%s", entity);
    }
    memcpy(e->key, key, PROTO_KEY_LEN);
    return 0;
}

int proto_keyring_get(const struct proto_keyring *kr, const char *entity,
                      uint8_t key[PROTO_KEY_LEN])
{
    const struct keyring_entry *e = find(kr, entity);
    if (!e)
        return -ENOENT;
    memcpy(key, e->key, PROTO_KEY_LEN);
    return 0;
}

int proto_key_generate(uint8_t key[PROTO_KEY_LEN])
{
    return RAND_bytes(key, PROTO_KEY_LEN) == 1 ? 0 : -EIO;
}

void proto_key_to_base64(const uint8_t key[PROTO_KEY_LEN], char out[KEY_B64_LEN + 1])
{
    int n = EVP_EncodeBlock((unsigned char *)out, key, PROTO_KEY_LEN);
    CAIRN_ASSERT(n == KEY_B64_LEN);
}

/* EVP_DecodeBlock is lenient (it trims whitespace, keeps the bytes the
 * padding stands for, and ignores the unused low bits of the last
 * character), so only text that encodes back to itself is accepted: one key
 * has exactly one spelling. */
int proto_key_from_base64(const char *text, uint8_t key[PROTO_KEY_LEN])
{
    uint8_t raw[PROTO_KEY_LEN + 1]; /* the '=' decodes to one more (zero) byte */
    char again[KEY_B64_LEN + 1];
    int r = -EINVAL;

    if (strnlen(text, KEY_B64_LEN + 1) != KEY_B64_LEN)
        return -EINVAL;
    if (EVP_DecodeBlock(raw, (const unsigned char *)text, KEY_B64_LEN) != sizeof(raw))
        goto out_wipe;
    proto_key_to_base64(raw, again);
    if (strcmp(again, text) != 0)
        goto out_wipe;
    memcpy(key, raw, PROTO_KEY_LEN);
    r = 0;
out_wipe:
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(again, sizeof(again));
    return r;
}

/* State of one keyring load; config callbacks cannot return errors. */
struct load_ctx {
    struct proto_keyring *kr;
    const struct cairn_config *conf;
    const char *path;
    const char *section; /* the section being read */
    unsigned keys;       /* "key" lines seen in it */
    int err;             /* first error, or 0 */
};

static void load_error(struct load_ctx *c, const char *why)
{
    cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_PROTO, "keyring %s: [%s]: %s", c->path, c->section, why);
    if (c->err == 0)
        c->err = -EINVAL;
}

static void load_key(const char *key, const char *value, void *arg)
{
    struct load_ctx *c = arg;
    uint8_t k[PROTO_KEY_LEN];

    /* Other settings (say, capabilities) may follow in later versions. */
    if (strcmp(key, "key") != 0)
        return;
    c->keys++;
    if (proto_key_from_base64(value, k) < 0) {
        load_error(c, "key is not the base64 of 32 bytes");
        return;
    }
    int r = proto_keyring_set(c->kr, c->section, k);
    OPENSSL_cleanse(k, sizeof(k));
    if (r < 0 && c->err == 0)
        c->err = r;
}

static void load_section(const char *section, void *arg)
{
    struct load_ctx *c = arg;

    c->section = section;
    c->keys = 0;
    if (!proto_entity_is_valid(section)) {
        load_error(c, strcmp(section, "global") == 0 ? "setting outside an [entity] section"
                                                     : "bad entity name");
        return;
    }
    cairn_config_each(c->conf, section, load_key, c);
    if (c->keys == 0)
        load_error(c, "no key");
}

int proto_keyring_load(const char *path, struct proto_keyring **out)
{
    struct cairn_config *conf;
    char err[256];
    int r = cairn_config_load(path, &conf, err, sizeof(err));

    if (r < 0) {
        cairn_log(CAIRN_LOG_ERROR, CAIRN_SS_PROTO, "keyring %s", err);
        return r;
    }
    struct load_ctx c = {.kr = proto_keyring_create(), .conf = conf, .path = path};
    if (!c.kr) {
        cairn_config_destroy(conf);
        return -ENOMEM;
    }
    cairn_config_each_section(conf, load_section, &c);
    /* The config keeps the base64 text of the keys: it is freed as is, as
     * common/ knows nothing of secrets. */
    cairn_config_destroy(conf);
    if (c.err < 0) {
        proto_keyring_destroy(c.kr);
        return c.err;
    }
    c.kr->path = strdup(path); /* NULL only disables re-reading */
    *out = c.kr;
    return 0;
}

/* The file text of @kr, NUL-terminated, in a buffer the caller wipes and frees. */
static char *format_keyring(const struct proto_keyring *kr, size_t *len)
{
    /* "[" name "]\nkey = " base64 "\n\n" */
    size_t per_entry = 1 + PROTO_ENTITY_MAX + 8 + KEY_B64_LEN + 2;
    size_t cap = kr->count * per_entry + 1;
    char *text = malloc(cap);
    char b64[KEY_B64_LEN + 1];
    size_t n = 0;

    if (!text)
        return NULL;
    text[0] = '\0';
    for (size_t i = 0; i < kr->count; i++) {
        proto_key_to_base64(kr->entries[i].key, b64);
        n += (size_t)snprintf(text + n, cap - n, "[%s]\nkey = %s\n\n", kr->entries[i].entity, b64);
        CAIRN_ASSERT(n < cap);
    }
    OPENSSL_cleanse(b64, sizeof(b64));
    *len = n;
    return text;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Makes a rename in @path's directory durable. */
static int fsync_parent(const char *path)
{
    char *copy = strdup(path);
    int r = 0;

    if (!copy)
        return -ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0)
        r = -errno;
    if (fd >= 0)
        close(fd);
    free(copy);
    return r;
}

/* Writes @text to a temporary file beside @path (mode 0600 whatever the
 * umask), syncs it, and renames it over @path, so a reader sees the old or
 * the new keyring, never a partial one. */
static int write_atomic(const char *path, const char *text, size_t len)
{
    size_t tmp_len = strlen(path) + sizeof(".tmp.XXXXXX");
    char *tmp = malloc(tmp_len);
    int r;

    if (!tmp)
        return -ENOMEM;
    snprintf(tmp, tmp_len, "%s.tmp.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        goto out_free;
    }
    r = fchmod(fd, 0600) < 0 ? -errno : 0;
    if (r == 0)
        r = write_all(fd, text, len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
    else
        r = fsync_parent(path);
out_free:
    free(tmp);
    return r;
}

int proto_keyring_save(const struct proto_keyring *kr, const char *path)
{
    size_t len = 0;
    char *text = format_keyring(kr, &len);

    if (!text)
        return -ENOMEM;
    int r = write_atomic(path, text, len);
    OPENSSL_cleanse(text, len);
    free(text);
    return r;
}

/* The message under the HMAC, byte by byte (n1, n2 < PROTO_ENTITY_MAX):
 *
 *   offset          size  content
 *   0               1     role: 'C' (connecting side) or 'S' (accepting side)
 *   1               1     n1 = strlen(own_entity)
 *   2               n1    own_entity, without NUL
 *   2+n1            1     n2 = strlen(peer_entity)
 *   3+n1            n2    peer_entity, without NUL
 *   3+n1+n2         32    own nonce
 *   35+n1+n2        32    peer nonce
 *
 * The length bytes make the split between the two names unambiguous
 * ("client.a" + "b.c" differs from "client.ab" + ".c"). */
void proto_auth_proof(const uint8_t key[PROTO_KEY_LEN], char role, const char *own_entity,
                      const char *peer_entity, const uint8_t own_nonce[PROTO_NONCE_LEN],
                      const uint8_t peer_nonce[PROTO_NONCE_LEN], uint8_t out[PROTO_PROOF_LEN])
{
    uint8_t msg[1 + 2 * PROTO_ENTITY_MAX + 2 * PROTO_NONCE_LEN];
    const char *names[2] = {own_entity, peer_entity};
    unsigned int out_len = 0;
    size_t n = 0;

    CAIRN_ASSERT(role == 'C' || role == 'S');
    msg[n++] = (uint8_t)role;
    for (int i = 0; i < 2; i++) {
        CAIRN_ASSERT(proto_entity_is_valid(names[i]));
        size_t len = strlen(names[i]);
        msg[n++] = (uint8_t)len;
        memcpy(msg + n, names[i], len);
        n += len;
    }
    memcpy(msg + n, own_nonce, PROTO_NONCE_LEN);
    n += PROTO_NONCE_LEN;
    memcpy(msg + n, peer_nonce, PROTO_NONCE_LEN);
    n += PROTO_NONCE_LEN;
    CAIRN_ASSERT(n <= sizeof(msg));
    /* HMAC() fails only when OpenSSL cannot allocate; a proof must never
     * silently come out as a predictable value, so that is fatal. */
    const uint8_t *mac = HMAC(EVP_sha256(), key, PROTO_KEY_LEN, msg, n, out, &out_len);
    CAIRN_ASSERT(mac != NULL);
    CAIRN_ASSERT(out_len == PROTO_PROOF_LEN);
}

int proto_auth_proof_check(const uint8_t a[PROTO_PROOF_LEN], const uint8_t b[PROTO_PROOF_LEN])
{
    return CRYPTO_memcmp(a, b, PROTO_PROOF_LEN) == 0 ? 0 : -EACCES;
}

#define KEYRING_RELOAD_NS 1000000000ull

int proto_keyring_find(const struct proto_keyring *ckr, const char *entity,
                       uint8_t key[PROTO_KEY_LEN])
{
    /* Every keyring is allocated mutable; re-reading refills it like a
     * cache, so the messenger's borrowed const pointer may do it. */
    struct proto_keyring *kr = (struct proto_keyring *)(uintptr_t)ckr;
    struct proto_keyring *fresh;
    uint64_t now = cairn_now_ns();

    if (proto_keyring_get(kr, entity, key) == 0)
        return 0;
    if (!kr->path || (kr->reloaded_ns && now - kr->reloaded_ns < KEYRING_RELOAD_NS))
        return -ENOENT;
    kr->reloaded_ns = now;
    if (proto_keyring_load(kr->path, &fresh) < 0)
        return -ENOENT;
    for (size_t i = 0; i < fresh->count; i++)
        if (!find(kr, fresh->entries[i].entity))
            (void)proto_keyring_set(kr, fresh->entries[i].entity, fresh->entries[i].key);
    proto_keyring_destroy(fresh);
    return proto_keyring_get(kr, entity, key);
}

/* Entity keys and the proofs of the connection handshake.
 *
 * A keyring file has the config format (common/config.h), one section per
 * entity:  [client.admin]  key = <base64 of 32 random bytes>
 * Each end of a connection proves it holds its own entity's key with
 * HMAC-SHA256 over both fresh nonces and both names (docs/protocol.md), and
 * checks the peer's proof against the key its keyring has for the peer. */
#ifndef CAIRN_PROTOCOL_AUTH_H
#define CAIRN_PROTOCOL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_KEY_LEN 32u
#define PROTO_NONCE_LEN 32u
#define PROTO_PROOF_LEN 32u
#define PROTO_ENTITY_MAX 64u

struct proto_keyring;

/* True when @name is a valid entity name: [a-z]+\.[A-Za-z0-9_-]+, shorter
 * than PROTO_ENTITY_MAX ("client.admin", "osd.3", "mon.a"). Check names that
 * arrive from the network with this before using them. */
bool proto_entity_is_valid(const char *name);

/* Loads a keyring file. -errno, or -EINVAL (logged with the line number for a
 * syntax error, with the section otherwise) when a key does not decode to
 * PROTO_KEY_LEN bytes, a section name is not a valid entity or has no key. */
int proto_keyring_load(const char *path, struct proto_keyring **out);
/* An empty keyring (for tests and tools that generate keys). */
struct proto_keyring *proto_keyring_create(void);
void proto_keyring_destroy(struct proto_keyring *kr);
/* Adds or replaces @entity's key. 0, -EINVAL (bad entity name), -ENOMEM. */
int proto_keyring_set(struct proto_keyring *kr, const char *entity,
                      const uint8_t key[PROTO_KEY_LEN]);
/* Copies @entity's key into @key. 0 or -ENOENT. */
int proto_keyring_get(const struct proto_keyring *kr, const char *entity,
                      uint8_t key[PROTO_KEY_LEN]);
/* As proto_keyring_get, but an entity missing from a keyring loaded from a
 * file re-reads the file (at most once a second) and adds the entities it
 * did not have: daemons learn the keys of OSDs added after they started.
 * Keys it already has are never replaced. Not thread-safe: one thread (the
 * messenger's) uses a keyring. */
int proto_keyring_find(const struct proto_keyring *kr, const char *entity,
                       uint8_t key[PROTO_KEY_LEN]);
/* Writes the keyring to @path atomically with mode 0600. 0 or -errno. */
int proto_keyring_save(const struct proto_keyring *kr, const char *path);
/* Fills @key with fresh random bytes (OpenSSL RAND_bytes). 0 or -EIO. */
int proto_key_generate(uint8_t key[PROTO_KEY_LEN]);
/* Base64 text of a key (44 chars + NUL). */
void proto_key_to_base64(const uint8_t key[PROTO_KEY_LEN], char out[45]);
int proto_key_from_base64(const char *text, uint8_t key[PROTO_KEY_LEN]);

/* The handshake proof: HMAC-SHA256(key, role || own entity || peer entity ||
 * own nonce || peer nonce), role being 'C' for the connecting side and 'S'
 * for the accepting side, so a proof cannot be reflected back. Each name is
 * preceded by its length in one byte (exact layout in auth.c). Both names
 * must be valid (proto_entity_is_valid), @role 'C' or 'S': asserted. */
void proto_auth_proof(const uint8_t key[PROTO_KEY_LEN], char role, const char *own_entity,
                      const char *peer_entity, const uint8_t own_nonce[PROTO_NONCE_LEN],
                      const uint8_t peer_nonce[PROTO_NONCE_LEN], uint8_t out[PROTO_PROOF_LEN]);
/* Constant-time comparison of two proofs: 0 when equal, -EACCES otherwise. */
int proto_auth_proof_check(const uint8_t a[PROTO_PROOF_LEN], const uint8_t b[PROTO_PROOF_LEN]);

#endif

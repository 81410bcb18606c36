/* The connection handshake: the HELLO, AUTH and AUTH_RESULT frames (metadata
 * from handshake.proto), nonces, proofs (protocol/auth.h) and every check on
 * what the peer sends before OPEN. It decides; msgr.c makes the state
 * changes. The byte-level sequence is in docs/protocol.md. */
#include "protocol/internal.h"
#include "protocol/msg_types.h"
#include "common/assert.h"
#include "common/log.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "handshake.pb-c.h"

/* Every handshake message packs into at most this: a name shorter than
 * PROTO_ENTITY_MAX, a nonce or proof, a few varints, a reason under 128. */
#define HS_META_MAX 256u
CAIRN_STATIC_ASSERT(HS_META_MAX <= PROTO_MSGR_HS_META_MAX, "peers accept our handshake frames");

/* What a received handshake frame means for the connection. */
enum hs_verdict {
    HS_NEXT,    /* accepted: move on to the next handshake state */
    HS_REFUSE,  /* we refuse the peer: tell it why, then close */
    HS_REFUSED, /* the peer refused us */
    HS_BROKEN,  /* not our protocol: drop the connection */
};

static int send_control(struct proto_conn *c, uint16_t type, const ProtobufCMessage *msg)
{
    uint8_t buf[HS_META_MAX];
    size_t len = protobuf_c_message_get_packed_size(msg);
    struct proto_frame_header h = {.type = type, .meta_len = (uint32_t)len};

    CAIRN_ASSERT(len <= sizeof(buf));
    protobuf_c_message_pack(msg, buf);
    return proto__conn_emit(c, true, &h, buf, NULL);
}

int proto__hs_send_hello(struct proto_conn *c)
{
    struct proto_msgr *m = c->msgr;
    Cairn__HandshakeHello hello = CAIRN__HANDSHAKE_HELLO__INIT;

    /* A fresh nonce per socket, so no proof can be replayed on another one. */
    if (RAND_bytes(c->nonce, sizeof(c->nonce)) != 1)
        return -EIO;
    c->peer_claim[0] = '\0';
    hello.entity = m->entity;
    hello.nonce.data = c->nonce;
    hello.nonce.len = sizeof(c->nonce);
    hello.features = m->opts.features;
    hello.version = PROTO_MSGR_HANDSHAKE_VERSION;
    return send_control(c, PROTO_MSG_HELLO, &hello.base);
}

int proto__hs_send_auth(struct proto_conn *c)
{
    struct proto_msgr *m = c->msgr;
    Cairn__HandshakeAuth auth = CAIRN__HANDSHAKE_AUTH__INIT;
    uint8_t key[PROTO_KEY_LEN];
    uint8_t proof[PROTO_PROOF_LEN];

    if (proto_keyring_get(m->opts.keyring, m->entity, key) < 0)
        return -ENOKEY; /* someone removed our own key from the keyring */
    proto_auth_proof(key, c->outgoing ? 'C' : 'S', m->entity, c->peer_claim, c->nonce,
                     c->peer_nonce, proof);
    OPENSSL_cleanse(key, sizeof(key));
    auth.proof.data = proof;
    auth.proof.len = sizeof(proof);
    return send_control(c, PROTO_MSG_AUTH, &auth.base);
}

int proto__hs_send_result(struct proto_conn *c, int result, const char *reason)
{
    Cairn__HandshakeAuthResult res = CAIRN__HANDSHAKE_AUTH_RESULT__INIT;

    res.result = result;
    res.reason = (char *)reason;
    return send_control(c, PROTO_MSG_AUTH_RESULT, &res.base);
}

static enum hs_verdict check_hello(struct proto_conn *c, const Cairn__HandshakeHello *h, char *why,
                                   size_t len)
{
    struct proto_msgr *m = c->msgr;
    uint8_t key[PROTO_KEY_LEN];

    if (!proto_entity_is_valid(h->entity)) {
        snprintf(why, len, "bad entity name");
        return HS_REFUSE;
    }
    snprintf(c->peer_claim, sizeof(c->peer_claim), "%s", h->entity);
    if (h->nonce.len != PROTO_NONCE_LEN) {
        snprintf(why, len, "HELLO nonce of %zu bytes", h->nonce.len);
        return HS_BROKEN;
    }
    if (h->version < 1) {
        snprintf(why, len, "unsupported handshake version %u", h->version);
        return HS_REFUSE;
    }
    if (c->peer_want[0] && strcmp(c->peer_want, h->entity) != 0) {
        snprintf(why, len, "expected %s", c->peer_want);
        return HS_REFUSE;
    }
    if (proto_keyring_find(m->opts.keyring, h->entity, key) < 0) {
        snprintf(why, len, "unknown entity");
        return HS_REFUSE;
    }
    OPENSSL_cleanse(key, sizeof(key));
    memcpy(c->peer_nonce, h->nonce.data, PROTO_NONCE_LEN);
    c->features = m->opts.features & h->features;
    return HS_NEXT;
}

static enum hs_verdict on_hello(struct proto_conn *c, const struct proto_frame *f, char *why,
                                size_t len)
{
    Cairn__HandshakeHello *h = cairn__handshake_hello__unpack(NULL, f->hdr.meta_len, f->meta);

    if (!h) {
        snprintf(why, len, "undecodable HELLO");
        return HS_BROKEN;
    }
    enum hs_verdict v = check_hello(c, h, why, len);
    cairn__handshake_hello__free_unpacked(h, NULL);
    return v;
}

/* The peer's proof is checked with the key our keyring holds for the
 * entity it claimed, computed from its side (its role, its nonce first). */
static enum hs_verdict check_proof(struct proto_conn *c, const uint8_t proof[PROTO_PROOF_LEN],
                                   char *why, size_t len)
{
    struct proto_msgr *m = c->msgr;
    uint8_t key[PROTO_KEY_LEN];
    uint8_t want[PROTO_PROOF_LEN];

    if (proto_keyring_find(m->opts.keyring, c->peer_claim, key) < 0) {
        snprintf(why, len, "unknown entity");
        return HS_REFUSE;
    }
    proto_auth_proof(key, c->outgoing ? 'S' : 'C', c->peer_claim, m->entity, c->peer_nonce,
                     c->nonce, want);
    OPENSSL_cleanse(key, sizeof(key));
    if (proto_auth_proof_check(want, proof) < 0) {
        snprintf(why, len, "bad proof");
        return HS_REFUSE;
    }
    return HS_NEXT;
}

static enum hs_verdict on_auth(struct proto_conn *c, const struct proto_frame *f, char *why,
                               size_t len)
{
    Cairn__HandshakeAuth *a = cairn__handshake_auth__unpack(NULL, f->hdr.meta_len, f->meta);
    enum hs_verdict v;

    if (!a) {
        snprintf(why, len, "undecodable AUTH");
        return HS_BROKEN;
    }
    if (a->proof.len != PROTO_PROOF_LEN) {
        snprintf(why, len, "bad proof");
        v = HS_REFUSE;
    } else {
        v = check_proof(c, a->proof.data, why, len);
    }
    cairn__handshake_auth__free_unpacked(a, NULL);
    return v;
}

/* Quotes the peer's reason for our log, keeping printable ASCII only. */
static void copy_reason(char *why, size_t len, const char *reason)
{
    size_t n = 0;

    CAIRN_ASSERT(len >= 3);
    why[n++] = '"';
    for (; *reason && n + 2 < len; reason++)
        why[n++] = (*reason >= 0x20 && *reason < 0x7f && *reason != '"') ? *reason : '?';
    why[n++] = '"';
    why[n] = '\0';
}

static enum hs_verdict on_result(struct proto_conn *c, const struct proto_frame *f, char *why,
                                 size_t len)
{
    Cairn__HandshakeAuthResult *r =
        cairn__handshake_auth_result__unpack(NULL, f->hdr.meta_len, f->meta);
    enum hs_verdict v = HS_NEXT;

    if (!r) {
        snprintf(why, len, "undecodable AUTH_RESULT");
        return HS_BROKEN;
    }
    if (r->result != 0) {
        copy_reason(why, len, r->reason);
        v = HS_REFUSED;
    } else if (c->state != PROTO_CONN_RESULT) {
        /* Acceptance can only follow our AUTH and the check of the peer's. */
        snprintf(why, len, "AUTH_RESULT 0 in %s", proto__conn_state_name(c->state));
        v = HS_BROKEN;
    }
    cairn__handshake_auth_result__free_unpacked(r, NULL);
    return v;
}

static enum hs_verdict judge(struct proto_conn *c, const struct proto_frame *f, char *why,
                             size_t len)
{
    if (f->hdr.type == PROTO_MSG_AUTH_RESULT)
        return on_result(c, f, why, len);
    if (f->hdr.type == PROTO_MSG_HELLO && c->state == PROTO_CONN_HELLO)
        return on_hello(c, f, why, len);
    if (f->hdr.type == PROTO_MSG_AUTH && c->state == PROTO_CONN_AUTH)
        return on_auth(c, f, why, len);
    snprintf(why, len, "message type %u during the handshake (%s)", f->hdr.type,
             proto__conn_state_name(c->state));
    return HS_BROKEN;
}

static enum proto_conn_state next_state(enum proto_conn_state s)
{
    switch (s) {
    case PROTO_CONN_HELLO:
        return PROTO_CONN_AUTH;
    case PROTO_CONN_AUTH:
        return PROTO_CONN_RESULT;
    default:
        CAIRN_ASSERT(s == PROTO_CONN_RESULT);
        return PROTO_CONN_OPEN;
    }
}

void proto__hs_on_frame(struct proto_conn *c, struct proto_frame *f)
{
    char why[128] = "";
    enum hs_verdict v = judge(c, f, why, sizeof(why));

    proto_frame_free(f);
    switch (v) {
    case HS_NEXT:
        proto__conn_transition(c, next_state(c->state), 0);
        break;
    case HS_REFUSE:
        /* Best effort: the refusal is logged here whether or not it reaches the peer. */
        (void)proto__hs_send_result(c, -EACCES, why);
        proto__conn_refused(c, true, why);
        break;
    case HS_REFUSED:
        proto__conn_refused(c, false, why);
        break;
    case HS_BROKEN:
        c->msgr->stats.bad_streams++;
        proto__conn_lost(c, -EPROTO, why);
        break;
    }
}

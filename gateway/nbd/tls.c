/* cairn-nbd's TLS (NBD spec "TLS support", NBD_OPT_STARTTLS): the server's
 * one SSL_CTX, loaded at start, and the switch of a connection's socket
 * from a plain bufferevent to an OpenSSL one. The only file that includes
 * OpenSSL headers; conn.c decides when to switch.
 *
 * The switch happens once the NBD_REP_ACK to STARTTLS has been flushed and
 * nothing more was read (the client may send only its TLS handshake after
 * the ACK): the plain bufferevent is freed, and an OpenSSL bufferevent in
 * BUFFEREVENT_SSL_ACCEPTING state takes over a dup() of the socket, so
 * each bufferevent owns (and closes) its own descriptor. */
#include "gateway/nbd/internal.h"

#include "common/assert.h"
#include "common/log.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The reason for the last OpenSSL error (or "unknown error"); clears the
 * queue. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, len, "unknown error");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

__attribute__((format(printf, 2, 3))) static int ctx_fail(SSL_CTX *ctx, const char *fmt, ...)
{
    char what[512], why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    fprintf(stderr, "cairn-nbd: %s: %s\n", what, ssl_reason(why, sizeof(why)));
    SSL_CTX_free(ctx);
    return -EINVAL;
}

int gw_nbd__tls_ctx_create(const struct gw_nbd_server_opts *opts, struct ssl_ctx_st **out)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    CAIRN_ASSERT(opts->tls_cert && opts->tls_key);
    if (!ctx)
        return ctx_fail(NULL, "cannot create a TLS context");
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
        return ctx_fail(ctx, "cannot require TLS 1.2");
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    /* OpenSSL 3 reports a close without close_notify as an error, which
     * libevent 2.1 does not treat as a dirty shutdown; NBD frames every
     * message, so a truncated stream is detected there anyway. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    if (SSL_CTX_use_certificate_chain_file(ctx, opts->tls_cert) != 1)
        return ctx_fail(ctx, "TLS certificate %s", opts->tls_cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, opts->tls_key, SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
        return ctx_fail(ctx, "TLS key %s", opts->tls_key);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return ctx_fail(ctx, "TLS key %s does not match certificate %s", opts->tls_key,
                        opts->tls_cert);
    if (opts->tls_ca) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(opts->tls_ca);

        if (!names || SSL_CTX_load_verify_locations(ctx, opts->tls_ca, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return ctx_fail(ctx, "TLS CA %s", opts->tls_ca);
        }
        SSL_CTX_set_client_CA_list(ctx, names); /* takes @names */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    *out = ctx;
    return 0;
}

void gw_nbd__tls_ctx_destroy(struct ssl_ctx_st *ctx)
{
    SSL_CTX_free(ctx);
}

int gw_nbd__tls_start(struct gw_nbd_conn *c)
{
    struct bufferevent *bev;
    SSL *ssl;
    int fd;

    CAIRN_ASSERT(c->srv->ssl_ctx && !c->tls);
    ssl = SSL_new(c->srv->ssl_ctx);
    if (!ssl)
        return -ENOMEM;
    fd = dup(bufferevent_getfd(c->bev));
    if (fd < 0) {
        SSL_free(ssl);
        return -errno;
    }
    evutil_make_socket_closeonexec(fd);
    /* Frees @ssl and closes @fd when it is freed; a failure leaves both. */
    bev = bufferevent_openssl_socket_new(c->srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                         BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        close(fd);
        return -ENOMEM;
    }
    /* A client that closes without close_notify: EOF, not an error. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    bufferevent_free(c->bev); /* closes the original descriptor only */
    c->bev = bev;
    c->tls = true;
    return 0;
}

void gw_nbd__tls_close_notify(struct gw_nbd_conn *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

    /* Our output is flushed, so the alert follows the last reply; a
     * failure only means the client reads an unclean EOF. */
    if (ssl && SSL_shutdown(ssl) < 0)
        ERR_clear_error();
}

const char *gw_nbd__tls_error(struct gw_nbd_conn *c, char *buf, size_t len)
{
    unsigned long e = c->tls ? bufferevent_get_openssl_error(c->bev) : 0;

    if (e == 0)
        return NULL;
    ERR_error_string_n(e, buf, len);
    return buf;
}

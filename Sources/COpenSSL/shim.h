// OpenSSL (libssl-dev): libcrypto for the SHA-256 of API key secrets and their constant-time comparison; libssl
// for HTTPS. The helpers below wrap what OpenSSL declares as macros (which Swift cannot call) and the ALPN
// selection callback.
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

/// TLS 1.2 and 1.3 only.
static inline int scored_ssl_ctx_tls12_minimum(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

/// ALPN: the server speaks http/1.1 only. A client that offers ALPN without it is refused (RFC 7301 §3.2,
/// no_application_protocol); one that offers none is served.
static inline int scored_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                     const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    static const unsigned char http11[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
    unsigned char *selected = NULL;
    unsigned char selectedLength = 0;
    if (SSL_select_next_proto(&selected, &selectedLength, http11, sizeof http11, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        *outlen = selectedLength;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static inline void scored_ssl_ctx_use_alpn(SSL_CTX *ctx) {
    SSL_CTX_set_alpn_select_cb(ctx, scored_alpn_select, NULL);
}

/// Memory BIOs report "retry" instead of end of data when empty.
static inline void scored_bio_mem_eof_retry(BIO *bio) { BIO_set_mem_eof_return(bio, -1); }

static inline int ERR_GET_REASON_shim(unsigned long e) { return ERR_GET_REASON(e); }

static inline long scored_bio_pending(BIO *bio) { return (long)BIO_ctrl_pending(bio); }

static inline void scored_ssl_ctx_no_renegotiation(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
}

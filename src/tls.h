/*
 * tls.h: the OpenSSL contexts of the TLS listeners and of HTTPS backends.
 *
 * A `struct tls_server` is built from a parsed config (its tls block): one
 * SSL_CTX per certificate, with the names each certificate is valid for.
 * A `struct tls_client` is one backend's context (verification, CA
 * certificates, ALPN). Both are immutable once built and shared by every
 * worker thread; a reload builds new ones with the new config, and
 * connections keep the ones they started with (an SSL holds a reference to
 * its SSL_CTX).
 */
#ifndef FRESHD_TLS_H
#define FRESHD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct bufferevent;
struct config;
struct tls_server;

/*
 * Builds the contexts of c's tls block: reads every certificate chain and
 * key, checks that each key matches its certificate, applies the cipher
 * settings. Returns 0 with *out set (NULL when c has no certificate), or
 * -1 with "file:line: message" in err (the certificate's line, or the tls
 * block's for a cipher list) and nothing allocated. The caller frees *out
 * with tls_server_free (config_free does, for config->tls).
 */
int tls_server_new(const struct config *c, struct tls_server **out, char *err,
    size_t errlen);
/* Frees ts; NULL is a no-op. Connections still open keep their contexts. */
void tls_server_free(struct tls_server *ts);

/*
 * A new SSL for an accepted connection, with the default certificate until
 * the client's server name picks another; NULL when OpenSSL cannot allocate
 * one. The caller owns it (bufferevent_openssl frees it with the
 * bufferevent).
 */
SSL *tls_server_ssl(struct tls_server *ts);

/*
 * The index (in the tls block's order) of the certificate that a client
 * asking for server name `name` gets: the first whose names match it (an
 * exact name, or a "*.domain" wildcard covering one left-most label, RFC
 * 6125 §6.4.3), else 0 (the default). NULL name: 0.
 */
size_t tls_server_pick(const struct tls_server *ts, const char *name);

/*
 * Builds every context c needs: c->tls (tls_server_new) and the
 * tls_client of each backend with tls on. Returns 0, or -1 with
 * "file:line: message" in err and none of them built. config_free frees
 * them.
 */
int tls_build(struct config *c, char *err, size_t errlen);

/*
 * A new SSL for a connection to server host of the backend whose context
 * tc is: SNI and the name the certificate must carry are the backend's
 * tls-server-name, else host (an IP address is checked as one, and sent
 * as no SNI, RFC 6066 §3). NULL when OpenSSL cannot make one.
 */
SSL *tls_client_ssl(struct tls_client *tc, const char *host);
/* Frees tc; NULL is a no-op. */
void tls_client_free(struct tls_client *tc);

/*
 * True when DNS name pattern (a certificate's name, possibly "*.domain")
 * matches host name; case-insensitive, one trailing dot of name ignored.
 */
bool tls_name_match(const char *pattern, const char *name);

/*
 * Why the TLS connection of bufferevent bev (libevent's OpenSSL one) failed,
 * for the log: OpenSSL's reason for its oldest error, else the socket error
 * (errno). Its other errors are dropped, so the next failure starts clean.
 * The string is static.
 */
const char *tls_bufferevent_error(struct bufferevent *bev);

#endif

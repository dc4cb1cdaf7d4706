/*
 * tls.c: the OpenSSL contexts of the TLS listeners and of HTTPS backends
 * (see tls.h).
 *
 * Design:
 *
 * - One SSL_CTX per certificate, all with the same settings; the first
 *   is the default and every connection starts on it. A server name sent
 *   by the client (SNI, RFC 6066 §3) is looked up in the names of the
 *   certificates (subjectAltName DNS names, else the subject's common
 *   name, RFC 6125 §6.4.4) in file order, and the connection moves to the
 *   first context that matches (SSL_set_SSL_CTX in the servername
 *   callback). A name that matches nothing gets the default certificate,
 *   as a client without SNI does. Session tickets are issued and checked
 *   by the context the connection started on (OpenSSL's session_ctx), so
 *   resumption works across certificates.
 *
 * - TLS 1.2 and 1.3 only (RFC 8996 deprecates the older versions). ALPN
 *   (RFC 7301) offers http/1.1 alone: a client that offers ALPN without
 *   it gets the fatal no_application_protocol alert that §3.2 requires; a
 *   client without ALPN is served HTTP/1.1 as well. No renegotiation, no
 *   compression; the server's cipher order wins.
 *
 * - A client that closes without close_notify is taken as an end of
 *   stream, not an error (SSL_OP_IGNORE_UNEXPECTED_EOF): HTTP/1.1 framing
 *   already tells a truncated request from a complete one.
 *
 * - Backends (tls_client): one context per backend with tls on: TLS 1.2
 *   and 1.3, ALPN http/1.1, the peer's chain verified against tls-ca or
 *   the system's default store (SSL_CTX_set_default_verify_paths), and its
 *   name (RFC 6125: subjectAltName DNS names, or the IP address) checked
 *   against tls-server-name or the server's host. Without tls-verify
 *   nothing is checked (a test or a private network's business). An
 *   unexpected EOF from a backend is an error, not an end: it could cut a
 *   close-delimited body short (RFC 8446 §6.1).
 *
 * - Errors come back as text ("file:line: message"), never logged here;
 *   the OpenSSL error queue is always left empty, since it is per thread
 *   and a stale entry would be blamed on the next connection.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/bufferevent_ssl.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "tls.h"
#include "util.h"

struct tls_cert {
	SSL_CTX		*ctx;
	char		**names;	/* lower case, as in the certificate */
	size_t		nnames;
};

struct tls_server {
	struct tls_cert	*certs;
	size_t		ncerts;
};

struct tls_client {
	SSL_CTX		*ctx;
	char		*server_name;	/* the backend's tls-server-name, or NULL */
	bool		verify;
};

/* ALPN protocol list, wire format (RFC 7301 §3.1). */
static const unsigned char alpn_http11[] = "\x08http/1.1";

/* The reason of the oldest queued OpenSSL error, in lower case; clears the queue. */
static void
ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
	size_t i;

	snprintf(buf, len, "%s", r != NULL ? r : "unknown OpenSSL error");
	for (i = 0; buf[i] != '\0'; i++)
		buf[i] = (char)tolower((unsigned char)buf[i]);
	ERR_clear_error();
}

/* Formats "file:line: message" into err; returns -1. */
static int terr(char *err, size_t errlen, const struct config *c, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
terr(char *err, size_t errlen, const struct config *c, unsigned line,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return -1;
	n = snprintf(err, errlen, "%s:%u: ", c->file != NULL ? c->file : "(config)",
	    line);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A readable file, or the reason it is not (strerror, lower case). */
static bool
readable(const char *path, char *why, size_t len)
{
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		fclose(f);
		return true;
	}
	snprintf(why, len, "%s", strerror(errno));
	if (why[0] >= 'A' && why[0] <= 'Z')
		why[0] = (char)(why[0] - 'A' + 'a');
	return false;
}

bool
tls_name_match(const char *pattern, const char *name)
{
	size_t n = strlen(name), plen = strlen(pattern);
	const char *dot;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || plen == 0)
		return false;
	if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* RFC 6125 §6.4.3: the wildcard is the whole left-most label
		 * and stands for exactly one non-empty label. */
		dot = memchr(name, '.', n);
		if (dot == NULL || dot == name)
			return false;
		return (size_t)(name + n - dot) == plen - 1 &&
		    strncasecmp(dot, pattern + 1, plen - 1) == 0;
	}
	return plen == n && strncasecmp(pattern, name, n) == 0;
}

size_t
tls_server_pick(const struct tls_server *ts, const char *name)
{
	size_t i, j;

	if (name == NULL)
		return 0;
	for (i = 0; i < ts->ncerts; i++)
		for (j = 0; j < ts->certs[i].nnames; j++)
			if (tls_name_match(ts->certs[i].names[j], name))
				return i;
	return 0;
}

/* SNI: move the connection to the certificate its server name picks. */
static int
servername_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_server *ts = arg;
	size_t i = tls_server_pick(ts, SSL_get_servername(ssl,
	    TLSEXT_NAMETYPE_host_name));

	(void)alert;
	if (i != 0 && SSL_set_SSL_CTX(ssl, ts->certs[i].ctx) == NULL)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

/* ALPN: http/1.1 or nothing (see the file comment). */
static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg)
{
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, alpn_http11,
	    sizeof(alpn_http11) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static void
add_name(struct tls_cert *tc, const char *s, size_t n)
{
	char *name;
	size_t i;

	if (n == 0 || memchr(s, '\0', n) != NULL)
		return;
	name = xstrndup(s, n);
	for (i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	tc->names = xrealloc(tc->names, (tc->nnames + 1) * sizeof(*tc->names));
	tc->names[tc->nnames++] = name;
}

/* The DNS names of the context's leaf certificate (see the file comment). */
static void
collect_names(struct tls_cert *tc)
{
	X509 *x = SSL_CTX_get0_certificate(tc->ctx);
	GENERAL_NAMES *gens;
	int i;

	AN(x);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (gens != NULL) {
		for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

			if (g->type == GEN_DNS)
				add_name(tc, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
				    (size_t)ASN1_STRING_length(g->d.dNSName));
		}
		GENERAL_NAMES_free(gens);
	}
	if (tc->nnames == 0) {
		X509_NAME *subj = X509_get_subject_name(x);
		int k = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);

		if (k >= 0) {
			ASN1_STRING *cn = X509_NAME_ENTRY_get_data(
			    X509_NAME_get_entry(subj, k));

			add_name(tc, (const char *)ASN1_STRING_get0_data(cn),
			    (size_t)ASN1_STRING_length(cn));
		}
	}
	ERR_clear_error();
}

/* One context with the shared settings; -1 with err on a bad cipher list. */
static int
new_ctx(const struct config *c, SSL_CTX **out, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF;
	char why[256];

	AN(ctx);
	if (!c->tls_session_tickets)
		opts |= SSL_OP_NO_TICKET;
	SSL_CTX_set_options(ctx, opts);
	AN(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION));
	/* libevent may hand SSL_write a moved copy of a blocked write. An
	 * idle keep-alive connection gives back OpenSSL's record buffers, as
	 * nginx's do: 2000 idle TLS clients grew freshd's RssAnon by 15.6 KiB
	 * each with this mode, by 28.4 KiB without. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_RELEASE_BUFFERS);
	AN(SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"freshd", 6));
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	if (SSL_CTX_set_cipher_list(ctx, c->tls_ciphers) != 1) {
		ssl_reason(why, sizeof(why));
		SSL_CTX_free(ctx);
		return terr(err, errlen, c, c->tls_line, "invalid ciphers \"%.64s\" "
		    "in block \"tls\": %s", c->tls_ciphers, why);
	}
	if (SSL_CTX_set_ciphersuites(ctx, c->tls_ciphersuites) != 1) {
		ssl_reason(why, sizeof(why));
		SSL_CTX_free(ctx);
		return terr(err, errlen, c, c->tls_line, "invalid ciphersuites "
		    "\"%.64s\" in block \"tls\": %s", c->tls_ciphersuites, why);
	}
	*out = ctx;
	return 0;
}

/* Loads one certificate and its key into tc->ctx. */
static int
load_cert(const struct config *c, const struct cfg_certificate *cc,
    struct tls_cert *tc, char *err, size_t errlen)
{
	char why[256];

	if (!readable(cc->chain, why, sizeof(why)))
		return terr(err, errlen, c, cc->line, "cannot read certificate "
		    "chain \"%s\": %s", cc->chain, why);
	if (strcmp(cc->key, cc->chain) != 0 && !readable(cc->key, why, sizeof(why)))
		return terr(err, errlen, c, cc->line, "cannot read private key "
		    "\"%s\": %s", cc->key, why);
	if (SSL_CTX_use_certificate_chain_file(tc->ctx, cc->chain) != 1) {
		ssl_reason(why, sizeof(why));
		return terr(err, errlen, c, cc->line, "invalid certificate chain "
		    "\"%s\": %s", cc->chain, why);
	}
	if (SSL_CTX_use_PrivateKey_file(tc->ctx, cc->key, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_error();

		ssl_reason(why, sizeof(why));
		if (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			return terr(err, errlen, c, cc->line, "private key \"%s\" "
			    "does not match certificate \"%s\"", cc->key, cc->chain);
		return terr(err, errlen, c, cc->line, "invalid private key "
		    "\"%s\": %s", cc->key, why);
	}
	if (SSL_CTX_check_private_key(tc->ctx) != 1) {
		ERR_clear_error();
		return terr(err, errlen, c, cc->line, "private key \"%s\" does not "
		    "match certificate \"%s\"", cc->key, cc->chain);
	}
	collect_names(tc);
	return 0;
}

int
tls_server_new(const struct config *c, struct tls_server **out, char *err,
    size_t errlen)
{
	struct tls_server *ts;
	size_t i;

	*out = NULL;
	if (c->ntls_certificates == 0)
		return 0;
	ts = xcalloc(1, sizeof(*ts));
	ts->certs = xcalloc(c->ntls_certificates, sizeof(*ts->certs));
	for (i = 0; i < c->ntls_certificates; i++) {
		struct tls_cert *tc = &ts->certs[i];

		ts->ncerts++;
		if (new_ctx(c, &tc->ctx, err, errlen) != 0 ||
		    load_cert(c, &c->tls_certificates[i], tc, err, errlen) != 0) {
			ERR_clear_error();
			tls_server_free(ts);
			return -1;
		}
	}
	/* Only the default context's callback runs: it sees the ClientHello. */
	SSL_CTX_set_tlsext_servername_callback(ts->certs[0].ctx, servername_cb);
	SSL_CTX_set_tlsext_servername_arg(ts->certs[0].ctx, ts);
	*out = ts;
	return 0;
}

void
tls_server_free(struct tls_server *ts)
{
	size_t i, j;

	if (ts == NULL)
		return;
	for (i = 0; i < ts->ncerts; i++) {
		SSL_CTX_free(ts->certs[i].ctx);
		for (j = 0; j < ts->certs[i].nnames; j++)
			free(ts->certs[i].names[j]);
		free(ts->certs[i].names);
	}
	free(ts->certs);
	free(ts);
}

SSL *
tls_server_ssl(struct tls_server *ts)
{
	SSL *ssl = SSL_new(ts->certs[0].ctx);

	if (ssl == NULL)
		ERR_clear_error();
	return ssl;
}

/* One backend's context (see the file comment). */
static int
client_new(const struct config *c, const struct cfg_backend *b,
    struct tls_client **out, char *err, size_t errlen)
{
	struct tls_client *tc;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char why[256];

	AN(ctx);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	AN(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION));
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	AZ(SSL_CTX_set_alpn_protos(ctx, alpn_http11, sizeof(alpn_http11) - 1));
	if (b->tls_verify) {
		if (b->tls_ca != NULL && !readable(b->tls_ca, why, sizeof(why))) {
			SSL_CTX_free(ctx);
			return terr(err, errlen, c, b->tls_ca_line, "cannot read "
			    "tls-ca \"%s\": %s", b->tls_ca, why);
		}
		if ((b->tls_ca != NULL ?
		    SSL_CTX_load_verify_locations(ctx, b->tls_ca, NULL) :
		    SSL_CTX_set_default_verify_paths(ctx)) != 1) {
			ssl_reason(why, sizeof(why));
			SSL_CTX_free(ctx);
			return terr(err, errlen, c, b->tls_ca_line, "invalid tls-ca "
			    "\"%s\": %s", b->tls_ca != NULL ? b->tls_ca :
			    "(system default)", why);
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	tc = xcalloc(1, sizeof(*tc));
	tc->ctx = ctx;
	tc->verify = b->tls_verify;
	if (b->tls_server_name != NULL)
		tc->server_name = xstrdup(b->tls_server_name);
	*out = tc;
	return 0;
}

int
tls_build(struct config *c, char *err, size_t errlen)
{
	size_t i;

	if (tls_server_new(c, &c->tls, err, errlen) != 0)
		return -1;
	for (i = 0; i < c->nbackends; i++) {
		struct cfg_backend *b = &c->backends[i];

		if (b->tls && client_new(c, b, &b->tls_client, err, errlen) != 0) {
			while (i-- > 0) {
				tls_client_free(c->backends[i].tls_client);
				c->backends[i].tls_client = NULL;
			}
			tls_server_free(c->tls);
			c->tls = NULL;
			ERR_clear_error();
			return -1;
		}
	}
	return 0;
}

SSL *
tls_client_ssl(struct tls_client *tc, const char *host)
{
	SSL *ssl = SSL_new(tc->ctx);
	const char *name = tc->server_name != NULL ? tc->server_name : host;
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, name, ip) == 1 ||
	    inet_pton(AF_INET6, name, ip) == 1;

	if (ssl == NULL) {
		ERR_clear_error();
		return NULL;
	}
	if (!is_ip)
		AN(SSL_set_tlsext_host_name(ssl, name));
	if (tc->verify) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

		/* RFC 6125 §6.4.3: a wildcard covers one whole left-most label. */
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		AN(is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, name) :
		    X509_VERIFY_PARAM_set1_host(vp, name, 0));
	}
	return ssl;
}

void
tls_client_free(struct tls_client *tc)
{
	if (tc == NULL)
		return;
	SSL_CTX_free(tc->ctx);
	free(tc->server_name);
	free(tc);
}

const char *
tls_bufferevent_error(struct bufferevent *bev)
{
	unsigned long e = bufferevent_get_openssl_error(bev);
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

	while (bufferevent_get_openssl_error(bev) != 0)
		continue;
	return why != NULL ? why : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
}

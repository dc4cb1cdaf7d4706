/*
 * check_tls.c: the TLS server contexts (src/tls.c).
 *
 * Name matching (RFC 6125 §6.4.3 wildcards) table-driven; then real
 * contexts built from certificates that the test makes itself with
 * OpenSSL in a mkdtemp() directory: which certificate a server name picks,
 * and the "file:line: message" errors for a missing file, a key that does
 * not match its certificate and a cipher list that selects nothing; the
 * backends' client contexts (SNI and the name checked, tls-ca errors).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "tls.h"

static const struct {
	const char	*pattern;
	const char	*name;
	bool		match;
} names[] = {
	{ "example.com", "example.com", true },
	{ "example.com", "EXAMPLE.com", true },
	{ "example.com", "example.com.", true },	/* absolute form */
	{ "example.com", "www.example.com", false },
	{ "example.com", "example.co", false },
	{ "example.com", "", false },
	{ "*.example.com", "www.example.com", true },
	{ "*.example.com", "WWW.Example.Com", true },
	{ "*.example.com", "example.com", false },	/* one label, not zero */
	{ "*.example.com", "a.b.example.com", false },	/* nor two */
	{ "*.example.com", ".example.com", false },
	{ "*.example.com", "wwwexample.com", false },
	{ "*", "example", false },
	{ "", "example.com", false },
};

START_TEST(test_name_match)
{
	ck_assert_msg(tls_name_match(names[_i].pattern, names[_i].name) ==
	    names[_i].match, "\"%s\" vs \"%s\": want %d", names[_i].pattern,
	    names[_i].name, names[_i].match);
}
END_TEST

/* ---- real contexts ---- */

static char dir[256];

/* Writes a self-signed EC certificate for cn (SAN san, or none) and its key. */
static void
make_cert(const char *name, const char *cn, const char *san)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *subj;
	char path[512];
	FILE *f;

	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	subj = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	ck_assert_int_eq(X509_set_issuer_name(x, subj), 1);
	if (san != NULL) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, san);

		ck_assert_ptr_nonnull(ext);
		ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/check_tls.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	make_cert("dflt", "default.test", NULL);
	make_cert("a", "a.test", "DNS:a.test,DNS:*.a.test");
	make_cert("b", "ignored-cn.test", "DNS:b.test");
}

static void
teardown(void)
{
	const char *files[] = { "dflt", "a", "b" };
	char path[512];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s.pem", dir, files[i]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.key", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* tmpl with every "%s" replaced by the directory. */
static void
expand(const char *tmpl, char *out, size_t len)
{
	size_t n = 0, dl = strlen(dir);

	for (; *tmpl != '\0'; tmpl++) {
		if (tmpl[0] == '%' && tmpl[1] == 's') {
			ck_assert_uint_lt(n + dl, len);
			memcpy(out + n, dir, dl);
			n += dl;
			tmpl++;
			continue;
		}
		ck_assert_uint_lt(n + 1, len);
		out[n++] = *tmpl;
	}
	out[n] = '\0';
}

/* Parses a config whose tls block is `body` (%s is the directory). */
static struct config *
tls_config(const char *body)
{
	char text[4096], block[2048], err[256];
	struct config *c = NULL;

	expand(body, block, sizeof(block));
	snprintf(text, sizeof(text), "listen 127.0.0.1:8443 tls;\ntls {\n%s}\n", block);
	ck_assert_msg(config_parse("t.conf", text, strlen(text), &c, err,
	    sizeof(err)) == 0, "%s", err);
	return c;
}

START_TEST(test_pick)
{
	struct config *c = tls_config(
	    "certificate %s/dflt.pem %s/dflt.key;\n"
	    "certificate %s/a.pem %s/a.key;\n"
	    "certificate %s/b.pem %s/b.key;\n");
	struct tls_server *ts = NULL;
	char err[256] = "";

	ck_assert_msg(tls_server_new(c, &ts, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_nonnull(ts);
	ck_assert_uint_eq(tls_server_pick(ts, "default.test"), 0);
	ck_assert_uint_eq(tls_server_pick(ts, "a.test"), 1);
	ck_assert_uint_eq(tls_server_pick(ts, "www.a.test"), 1);
	ck_assert_uint_eq(tls_server_pick(ts, "B.TEST."), 2);
	/* b's common name does not count: it has subjectAltNames. */
	ck_assert_uint_eq(tls_server_pick(ts, "ignored-cn.test"), 0);
	ck_assert_uint_eq(tls_server_pick(ts, "unknown.test"), 0);
	ck_assert_uint_eq(tls_server_pick(ts, NULL), 0);
	c->tls = ts;		/* freed with the config */
	config_free(c);
}
END_TEST

START_TEST(test_no_certificate)
{
	struct config *c = config_default();
	struct tls_server *ts = (struct tls_server *)&ts;

	ck_assert_int_eq(tls_server_new(c, &ts, NULL, 0), 0);
	ck_assert_ptr_null(ts);
	config_free(c);
}
END_TEST

static const struct {
	const char	*block;
	const char	*want;		/* the message, %s the directory */
} bad[] = {
	{ "certificate %s/none.pem %s/a.key;\n",
	  "t.conf:3: cannot read certificate chain \"%s/none.pem\": no such file "
	  "or directory" },
	{ "certificate %s/a.pem\n%s/none.key;\n",
	  "t.conf:3: cannot read private key \"%s/none.key\": no such file or "
	  "directory" },
	{ "\ncertificate %s/a.pem %s/b.key;\n",
	  "t.conf:4: private key \"%s/b.key\" does not match certificate "
	  "\"%s/a.pem\"" },
	{ "certificate %s/a.key %s/a.key;\n",
	  "t.conf:3: invalid certificate chain \"%s/a.key\": no start line" },
	{ "certificate %s/a.pem %s/a.key;\nciphers NOSUCH;\n",
	  "t.conf:2: invalid ciphers \"NOSUCH\" in block \"tls\": no cipher match" },
	{ "certificate %s/a.pem %s/a.key;\nciphersuites TLS_NOSUCH;\n",
	  "t.conf:2: invalid ciphersuites \"TLS_NOSUCH\" in block \"tls\": no "
	  "cipher match" },
};

START_TEST(test_errors)
{
	struct config *c = tls_config(bad[_i].block);
	struct tls_server *ts = (struct tls_server *)&ts;
	char err[1024] = "", want[1024];

	expand(bad[_i].want, want, sizeof(want));
	ck_assert_int_eq(tls_server_new(c, &ts, err, sizeof(err)), -1);
	ck_assert_ptr_null(ts);
	ck_assert_str_eq(err, want);
	ck_assert_uint_eq(ERR_peek_error(), 0);	/* the queue is left empty */
	config_free(c);
}
END_TEST

/* Parses text (%s: the directory) and runs tls_build; its result in *rc. */
static struct config *
build(const char *tmpl, int *rc, char *err, size_t errlen)
{
	char text[4096], perr[256];
	struct config *c = NULL;

	expand(tmpl, text, sizeof(text));
	ck_assert_msg(config_parse("t.conf", text, strlen(text), &c, perr,
	    sizeof(perr)) == 0, "%s", perr);
	*rc = tls_build(c, err, errlen);
	return c;
}

START_TEST(test_client)
{
	char err[256] = "";
	int rc;
	struct config *c = build(
	    "backend plain { server 127.0.0.1:1; }\n"
	    "backend named { server 127.0.0.1:1; tls on; tls-ca %s/a.pem;\n"
	    "  tls-server-name a.test; }\n"
	    "backend byhost { server origin.test:443; tls on; tls-verify off; }\n",
	    &rc, err, sizeof(err));
	SSL *ssl;

	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_ptr_null(c->tls);
	ck_assert_ptr_null(c->backends[0].tls_client);
	ck_assert_ptr_nonnull(c->backends[1].tls_client);
	ck_assert_ptr_nonnull(c->backends[2].tls_client);
	/* tls-server-name wins over the host, for SNI and the check. */
	ssl = tls_client_ssl(c->backends[1].tls_client, "127.0.0.1");
	ck_assert_ptr_nonnull(ssl);
	ck_assert_str_eq(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name), "a.test");
	ck_assert_str_eq(X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0), "a.test");
	ck_assert_int_eq(SSL_get_verify_mode(ssl), SSL_VERIFY_PEER);
	SSL_free(ssl);
	/* Else the host, unless it is an IP address (RFC 6066 §3: no SNI). */
	ssl = tls_client_ssl(c->backends[2].tls_client, "origin.test");
	ck_assert_str_eq(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
	    "origin.test");
	ck_assert_int_eq(SSL_get_verify_mode(ssl), SSL_VERIFY_NONE);
	SSL_free(ssl);
	ssl = tls_client_ssl(c->backends[2].tls_client, "::1");
	ck_assert_ptr_null(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	SSL_free(ssl);
	config_free(c);
}
END_TEST

START_TEST(test_client_errors)
{
	char err[1024] = "", want[1024];
	int rc;
	struct config *c = build(
	    "backend a { server h:1; tls on; }\n"
	    "backend b { server h:1; tls on;\n tls-ca %s/none.pem; }\n",
	    &rc, err, sizeof(err));

	ck_assert_int_eq(rc, -1);
	expand("t.conf:3: cannot read tls-ca \"%s/none.pem\": no such file or "
	    "directory", want, sizeof(want));
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(c->backends[0].tls_client);	/* undone */
	ck_assert_uint_eq(ERR_peek_error(), 0);
	config_free(c);
	c = build("backend b { server h:1; tls on; tls-ca %s/a.key; }\n", &rc, err,
	    sizeof(err));
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(err, "t.conf:1: invalid tls-ca") == err, "%s", err);
	ck_assert_uint_eq(ERR_peek_error(), 0);
	config_free(c);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_loop_test(tc, test_name_match, 0, sizeof(names) / sizeof(names[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("contexts");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pick);
	tcase_add_test(tc, test_no_certificate);
	tcase_add_loop_test(tc, test_errors, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_client);
	tcase_add_test(tc, test_client_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tls_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * check_cache_key.c: table-driven unit tests for src/cache_key.c (primary
 * key normalisation, hashing, reference resolution, Vary secondary keys).
 * Each row names the RFC section it checks.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_key.h"
#include "headers.h"
#include "http1.h"
#include "util.h"

/* Parses "Name: value" lines into f (initialised here). */
static void
parse_fields(struct fields *f, const char *text)
{
	char *buf, *line, *next;

	fields_init(f);
	if (text == NULL)
		return;
	buf = xstrdup(text);
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		char *colon, *value;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		colon = strchr(line, ':');
		ck_assert_ptr_nonnull(colon);
		value = colon + 1;
		while (*value == ' ')
			value++;
		fields_add(f, line, (size_t)(colon - line), value, strlen(value));
	}
	free(buf);
}

/* ---- primary key (RFC 3986 §6.2) ---- */

struct primary_case {
	const char	*name;
	const char	*scheme;
	const char	*authority;
	const char	*target;
	const char	*want;		/* NULL: refused */
};

static const struct primary_case primary_cases[] = {
	{ "3986 6.2.2 plain", "http", "example.com", "/", "http://example.com/" },
	{ "3986 6.2.2.1 scheme and host are lower-cased", "HTTP", "Example.COM",
	  "/A/b", "http://example.com/A/b" },
	{ "3986 6.2.3 default port 80 removed for http", "http",
	  "example.com:80", "/", "http://example.com/" },
	{ "3986 6.2.3 default port 443 removed for https", "https",
	  "example.com:443", "/x", "https://example.com/x" },
	{ "3986 6.2.3 port 443 kept for http", "http", "example.com:443", "/",
	  "http://example.com:443/" },
	{ "3986 6.2.3 port 80 kept for https", "https", "example.com:80", "/",
	  "https://example.com:80/" },
	{ "3986 6.2.3 empty port removed", "http", "example.com:", "/",
	  "http://example.com/" },
	{ "3986 6.2.3 leading zeros of the port", "http", "example.com:0080",
	  "/", "http://example.com/" },
	{ "3986 6.2.3 other port kept", "http", "example.com:8080", "/",
	  "http://example.com:8080/" },
	{ "3986 6.2.3 unknown scheme keeps its port", "ftp", "example.com:21",
	  "/", "ftp://example.com:21/" },
	{ "1034 3.1 trailing dot of the host removed", "http", "example.com.",
	  "/", "http://example.com/" },
	{ "1034 3.1 trailing dot removed before the port", "http",
	  "example.com.:8080", "/", "http://example.com:8080/" },
	{ "3986 3.2.2 IPv6 literal with port", "http", "[::1]:8080", "/",
	  "http://[::1]:8080/" },
	{ "3986 6.2.2.1 IPv6 literal lower-cased", "http", "[2001:DB8::1]", "/",
	  "http://[2001:db8::1]/" },
	{ "3986 3.2.2 IPv4 address", "http", "192.0.2.1:80", "/a",
	  "http://192.0.2.1/a" },
	{ "3986 6.2.2.2 escaped unreserved characters decoded", "http",
	  "example.com", "/%41%62%7e%2D%5f%2E", "http://example.com/Ab~-_." },
	{ "3986 6.2.2.1 escape hex upper-cased", "http", "example.com",
	  "/a%2fb%3a%c3%a9", "http://example.com/a%2Fb%3A%C3%A9" },
	{ "3986 6.2.2.2 decoded dots are not collapsed", "http", "example.com",
	  "/a/%2e%2e/b", "http://example.com/a/../b" },
	{ "3986 6.2.2.3 dot-segments are kept", "http", "example.com",
	  "/a/./b/../c", "http://example.com/a/./b/../c" },
	{ "3986 2.1 a stray % is kept", "http", "example.com", "/a%zz%4",
	  "http://example.com/a%zz%4" },
	{ "3986 3.4 query kept verbatim", "http", "example.com",
	  "/a?b=%41&c=%2f", "http://example.com/a?b=%41&c=%2f" },
	{ "3986 3.4 query order kept", "http", "example.com", "/a?z=1&a=2",
	  "http://example.com/a?z=1&a=2" },
	{ "3986 3.4 empty query kept", "http", "example.com", "/a?",
	  "http://example.com/a?" },
	{ "3986 6.2.3 empty path is /", "http", "example.com", "",
	  "http://example.com/" },
	{ "3986 6.2.2 path case is significant", "http", "example.com", "/A",
	  "http://example.com/A" },
	{ "9110 4.2.4 userinfo refused", "http", "user@example.com", "/", NULL },
	{ "3986 3.2.3 non-numeric port refused", "http", "example.com:ab", "/",
	  NULL },
	{ "3986 3.2.3 port above 65535 refused", "http", "example.com:65536",
	  "/", NULL },
	{ "3986 3.2.2 empty host refused", "http", ":80", "/", NULL },
	{ "3986 3.2.2 a host of a single dot refused", "http", ".", "/", NULL },
	{ "3986 3.2.2 space in host refused", "http", "exa mple.com", "/", NULL },
	{ "3986 3.2.2 unterminated IPv6 literal refused", "http", "[::1", "/",
	  NULL },
	{ "3986 3.2.2 empty IPv6 literal refused", "http", "[]:80", "/", NULL },
	{ "3986 3.2.2 junk after an IPv6 literal refused", "http", "[::1]x",
	  "/", NULL },
	{ "3986 3.1 bad scheme refused", "ht tp", "example.com", "/", NULL },
	{ "3986 3.1 empty scheme refused", "", "example.com", "/", NULL },
	{ "3986 3.1 scheme starting with a digit refused", "1http",
	  "example.com", "/", NULL },
	{ "9112 3.2.4 asterisk-form has no key", "http", "example.com", "*",
	  NULL },
	{ "9112 3.2 path must start with /", "http", "example.com", "a", NULL },
	{ "9112 3.2 space in path refused", "http", "example.com", "/a b", NULL },
	{ "9112 3.2 fragment in a target refused", "http", "example.com",
	  "/a#b", NULL },
};

START_TEST(test_primary)
{
	const struct primary_case *c = &primary_cases[_i];
	char *key = NULL;
	int rc;

	rc = cache_key_primary(c->scheme, c->authority, c->target, &key);
	if (c->want == NULL) {
		ck_assert_msg(rc == -1, "%s: accepted as %s", c->name, key);
		ck_assert_ptr_null(key);
	} else {
		ck_assert_msg(rc == 0, "%s: refused", c->name);
		ck_assert_msg(strcmp(key, c->want) == 0, "%s: got %s", c->name, key);
		free(key);
	}
}
END_TEST

START_TEST(test_rfc9112_3_2_request_key)
{
	struct http_request req;
	char *key;

	memset(&req, 0, sizeof(req));
	req.authority = "Example.com:80";
	req.path = "/x?y";
	ck_assert_int_eq(cache_key_request(&req, "http", &key), 0);
	ck_assert_str_eq(key, "http://example.com/x?y");
	free(key);
	/* absolute-form: the request's own scheme wins over the listener's */
	req.scheme = "https";
	req.authority = "example.com:443";
	ck_assert_int_eq(cache_key_request(&req, "http", &key), 0);
	ck_assert_str_eq(key, "https://example.com/x?y");
	free(key);
	req.authority = NULL;
	ck_assert_int_eq(cache_key_request(&req, "http", &key), -1);
}
END_TEST

START_TEST(test_fnv1a_vectors)
{
	/* FNV-1a 64-bit reference values. */
	ck_assert_uint_eq(cache_key_hash("", 0), UINT64_C(0xcbf29ce484222325));
	ck_assert_uint_eq(cache_key_hash("a", 1), UINT64_C(0xaf63dc4c8601ec8c));
	ck_assert_uint_eq(cache_key_hash("foobar", 6),
	    UINT64_C(0x85944171f73967e8));
	ck_assert_uint_ne(cache_key_hash("http://a/1", 10),
	    cache_key_hash("http://a/2", 10));
}
END_TEST

/* ---- reference resolution (RFC 3986 §5.4 examples) ---- */

struct resolve_case {
	const char	*name;
	const char	*ref;
	const char	*want;		/* NULL: refused */
};

#define BASE	"http://a/b/c/d;p?q"

static const struct resolve_case resolve_cases[] = {
	{ "3986 5.4.1 g", "g", "http://a/b/c/g" },
	{ "3986 5.4.1 ./g", "./g", "http://a/b/c/g" },
	{ "3986 5.4.1 g/", "g/", "http://a/b/c/g/" },
	{ "3986 5.4.1 /g", "/g", "http://a/g" },
	{ "3986 5.4.1 //g", "//g", "http://g/" },
	{ "3986 5.4.1 ?y", "?y", "http://a/b/c/d;p?y" },
	{ "3986 5.4.1 g?y", "g?y", "http://a/b/c/g?y" },
	{ "3986 5.4.1 #s", "#s", "http://a/b/c/d;p?q" },
	{ "3986 5.4.1 g#s", "g#s", "http://a/b/c/g" },
	{ "3986 5.4.1 g?y#s", "g?y#s", "http://a/b/c/g?y" },
	{ "3986 5.4.1 ;x", ";x", "http://a/b/c/;x" },
	{ "3986 5.4.1 g;x?y#s", "g;x?y#s", "http://a/b/c/g;x?y" },
	{ "3986 5.4.1 empty", "", "http://a/b/c/d;p?q" },
	{ "3986 5.4.1 .", ".", "http://a/b/c/" },
	{ "3986 5.4.1 ./", "./", "http://a/b/c/" },
	{ "3986 5.4.1 ..", "..", "http://a/b/" },
	{ "3986 5.4.1 ../", "../", "http://a/b/" },
	{ "3986 5.4.1 ../g", "../g", "http://a/b/g" },
	{ "3986 5.4.1 ../..", "../..", "http://a/" },
	{ "3986 5.4.1 ../../", "../../", "http://a/" },
	{ "3986 5.4.1 ../../g", "../../g", "http://a/g" },
	{ "3986 5.4.2 ../../../g", "../../../g", "http://a/g" },
	{ "3986 5.4.2 ../../../../g", "../../../../g", "http://a/g" },
	{ "3986 5.4.2 /./g", "/./g", "http://a/g" },
	{ "3986 5.4.2 /../g", "/../g", "http://a/g" },
	{ "3986 5.4.2 g.", "g.", "http://a/b/c/g." },
	{ "3986 5.4.2 .g", ".g", "http://a/b/c/.g" },
	{ "3986 5.4.2 g..", "g..", "http://a/b/c/g.." },
	{ "3986 5.4.2 ..g", "..g", "http://a/b/c/..g" },
	{ "3986 5.4.2 ./../g", "./../g", "http://a/b/g" },
	{ "3986 5.4.2 ./g/.", "./g/.", "http://a/b/c/g/" },
	{ "3986 5.4.2 g/./h", "g/./h", "http://a/b/c/g/h" },
	{ "3986 5.4.2 g/../h", "g/../h", "http://a/b/c/h" },
	{ "3986 5.4.2 g;x=1/./y", "g;x=1/./y", "http://a/b/c/g;x=1/y" },
	{ "3986 5.4.2 g;x=1/../y", "g;x=1/../y", "http://a/b/c/y" },
	{ "3986 5.4.2 g?y/./x", "g?y/./x", "http://a/b/c/g?y/./x" },
	{ "3986 5.4.2 g?y/../x", "g?y/../x", "http://a/b/c/g?y/../x" },
	{ "3986 5.4.2 g#s/./x", "g#s/./x", "http://a/b/c/g" },
	{ "3986 5.4.2 http:g (strict: no authority)", "http:g", NULL },
	{ "3986 5.2.2 absolute URI is normalised", "HTTPS://A:443/x",
	  "https://a/x" },
	{ "3986 5.2.2 non-http URI without authority", "mailto:x@y", NULL },
	{ "3986 2 a space makes the reference unusable", "a b", NULL },
};

START_TEST(test_resolve)
{
	const struct resolve_case *c = &resolve_cases[_i];
	char *key = NULL;
	int rc = cache_key_resolve(BASE, c->ref, strlen(c->ref), &key);

	if (c->want == NULL) {
		ck_assert_msg(rc == -1, "%s: got %s", c->name, key);
	} else {
		ck_assert_msg(rc == 0, "%s: refused", c->name);
		ck_assert_msg(strcmp(key, c->want) == 0, "%s: got %s", c->name, key);
		free(key);
	}
}
END_TEST

START_TEST(test_rfc6454_same_origin)
{
	ck_assert(cache_key_same_origin("http://a/x", "http://a/y?z"));
	ck_assert(!cache_key_same_origin("http://a/x", "https://a/x"));
	ck_assert(!cache_key_same_origin("http://a/x", "http://a:8080/x"));
	ck_assert(!cache_key_same_origin("http://a/x", "http://ab/x"));
	ck_assert(!cache_key_same_origin("http://ab/x", "http://a/x"));
}
END_TEST

/* ---- Vary names (RFC 9110 §12.5.5) ---- */

struct names_case {
	const char		*name;
	const char		*resp;
	enum cache_key_vary	want;
	const char		*names;
};

static const struct names_case names_cases[] = {
	{ "9110 12.5.5 one name, lower-cased", "Vary: Accept-Encoding",
	  CACHE_KEY_VARY_LIST, "accept-encoding" },
	{ "9110 12.5.5 names sorted", "Vary: Accept-Language, Accept-Encoding",
	  CACHE_KEY_VARY_LIST, "accept-encoding,accept-language" },
	{ "9110 5.3 lines combined and duplicates dropped",
	  "Vary: accept-encoding\nVary: Origin, Accept-Encoding",
	  CACHE_KEY_VARY_LIST, "accept-encoding,origin" },
	{ "9110 12.5.5 * alone", "Vary: *", CACHE_KEY_VARY_STAR, NULL },
	{ "9110 12.5.5 * among names", "Vary: Accept, *", CACHE_KEY_VARY_STAR,
	  NULL },
	{ "9110 12.5.5 no Vary", "Content-Type: text/plain", CACHE_KEY_VARY_NONE,
	  NULL },
	{ "9110 5.6.1 empty Vary", "Vary: ", CACHE_KEY_VARY_NONE, NULL },
	{ "9110 5.6.2 members that are not tokens are ignored",
	  "Vary: \"x\", Accept", CACHE_KEY_VARY_LIST, "accept" },
};

START_TEST(test_vary_names)
{
	const struct names_case *c = &names_cases[_i];
	struct fields f;
	char *names = NULL;
	enum cache_key_vary got;

	parse_fields(&f, c->resp);
	got = cache_key_vary_names(&f, &names);
	ck_assert_msg(got == c->want, "%s: %d", c->name, got);
	if (c->names != NULL) {
		ck_assert_msg(strcmp(names, c->names) == 0, "%s: %s", c->name, names);
		free(names);
	} else {
		ck_assert_ptr_null(names);
	}
	fields_free(&f);
}
END_TEST

/* ---- Vary secondary keys (RFC 9111 §4.1) ---- */

struct vary_case {
	const char	*name;
	const char	*names;
	const char	*req;
	bool		first_lang;	/* Accept-Language keyed on its first member */
	const char	*want;		/* NULL: never matches */
};

static const struct vary_case vary_cases[] = {
	{ "9111 4.1 Accept-Encoding reduced and ordered", "accept-encoding",
	  "Accept-Encoding: gzip, deflate, br", false,
	  "accept-encoding=br,deflate,gzip,identity\n" },
	{ "9111 4.1 Accept-Encoding order and spaces do not matter",
	  "accept-encoding", "Accept-Encoding: br,gzip ,deflate", false,
	  "accept-encoding=br,deflate,gzip,identity\n" },
	{ "9111 4.1 absent field differs from any value", "accept-encoding",
	  NULL, false, "accept-encoding\n" },
	{ "9110 12.5.3 empty Accept-Encoding means identity only",
	  "accept-encoding", "Accept-Encoding: ", false,
	  "accept-encoding=identity\n" },
	{ "9110 12.5.3 q=0 excludes a coding", "accept-encoding",
	  "Accept-Encoding: gzip;q=0, br", false, "accept-encoding=br,identity\n" },
	{ "9110 12.5.3 q=0.000 excludes a coding", "accept-encoding",
	  "Accept-Encoding: gzip;q=0.000, br;q=0.001", false,
	  "accept-encoding=br,identity\n" },
	{ "9110 12.5.3 * accepts every coding", "accept-encoding",
	  "Accept-Encoding: *", false,
	  "accept-encoding=br,deflate,gzip,identity,zstd\n" },
	{ "9110 12.5.3 *;q=0 refuses everything unlisted", "accept-encoding",
	  "Accept-Encoding: *;q=0", false, "accept-encoding=\n" },
	{ "9110 12.5.3 *;q=0 with a listed coding", "accept-encoding",
	  "Accept-Encoding: *;q=0, gzip", false, "accept-encoding=gzip\n" },
	{ "9110 12.5.3 identity;q=0", "accept-encoding",
	  "Accept-Encoding: identity;q=0, gzip", false, "accept-encoding=gzip\n" },
	{ "9110 8.4.1.3 x-gzip is gzip", "accept-encoding",
	  "Accept-Encoding: x-gzip", false, "accept-encoding=gzip,identity\n" },
	{ "9110 12.5.3 codings freshd does not serve are ignored",
	  "accept-encoding", "Accept-Encoding: compress, gzip, exi", false,
	  "accept-encoding=gzip,identity\n" },
	{ "9110 12.4.2 coding and weight names are case-insensitive",
	  "accept-encoding", "Accept-Encoding: GZIP;Q=0.5, ZSTD", false,
	  "accept-encoding=gzip,identity,zstd\n" },
	{ "9110 12.4.2 an invalid weight drops the member", "accept-encoding",
	  "Accept-Encoding: gzip;q=2, br;q=0.5x", false,
	  "accept-encoding=identity\n" },
	{ "9110 12.4.2 q=1.000 is valid", "accept-encoding",
	  "Accept-Encoding: zstd;q=1.000, br;q=1", false,
	  "accept-encoding=br,identity,zstd\n" },
	{ "9110 5.3 Accept-Encoding lines are combined", "accept-encoding",
	  "Accept-Encoding: gzip\nAccept-Encoding: br", false,
	  "accept-encoding=br,gzip,identity\n" },
	{ "9110 12.5.4 Accept-Language is case-insensitive", "accept-language",
	  "Accept-Language: en-US, fr;q=0.5", false,
	  "accept-language=en-us,fr;q=0.5\n" },
	{ "9110 12.5.4 Accept-Language members of equal weight have no order",
	  "accept-language", "Accept-Language: en, DE", false,
	  "accept-language=de,en\n" },
	{ "9110 12.5.4 Accept-Language sorted by weight, q=0 dropped",
	  "accept-language", "Accept-Language: fr;q=0.25, de;q=1.0, it;q=0, en;q=0.8", false,
	  "accept-language=de,en;q=0.8,fr;q=0.25\n" },
	{ "9111 4.1 configured first-member normalisation", "accept-language",
	  "Accept-Language: en-US;q=1, fr;q=0.5", true,
	  "accept-language=en-us\n" },
	{ "9111 4.1 Cookie values keep their case", "cookie",
	  "Cookie: Session=AbC", false, "cookie=Session=AbC\n" },
	{ "9111 4.1 whitespace normalised", "x-thing",
	  "X-Thing:  a   b ,  c\t", false, "x-thing=a b,c\n" },
	{ "9111 4.1 field lines combined", "x-thing",
	  "X-Thing: a\nX-Thing: b", false, "x-thing=a,b\n" },
	{ "9110 5.6.4 quoted strings are kept whole", "x-thing",
	  "X-Thing: \"a  b\" ,c", false, "x-thing=\"a  b\",c\n" },
	{ "9111 4.1 an empty value differs from an absent field", "x-thing",
	  "X-Thing: ", false, "x-thing=\n" },
	{ "9111 4.1 several selecting fields", "accept-encoding,accept-language",
	  "Accept-Encoding: gzip", false,
	  "accept-encoding=gzip,identity\naccept-language\n" },
	{ "9110 5.1 request field names are case-insensitive", "accept-encoding",
	  "ACCEPT-ENCODING: gzip", false, "accept-encoding=gzip,identity\n" },
	{ "9111 4.1 Vary: * never matches", "*", "Accept: */*", false, NULL },
	{ "9111 4.1 * among names never matches", "accept,*", NULL, false, NULL },
};

START_TEST(test_vary)
{
	static const char *const lang[] = { "Accept-Language" };
	const struct vary_case *c = &vary_cases[_i];
	struct cache_key_config cfg;
	struct fields req;
	char *got;

	cache_key_config_default(&cfg);
	if (c->first_lang) {
		cfg.first_member = lang;
		cfg.nfirst_member = 1;
	}
	parse_fields(&req, c->req);
	got = cache_key_vary(&cfg, c->names, &req);
	if (c->want == NULL) {
		ck_assert_msg(got == NULL, "%s: got %s", c->name, got);
	} else {
		ck_assert_msg(got != NULL && strcmp(got, c->want) == 0,
		    "%s: got [%s]", c->name, got ? got : "(null)");
		free(got);
	}
	fields_free(&req);
}
END_TEST

/*
 * Selecting a stored variant by its Content-Language (RFC 9111 §4.1
 * normalisation, RFC 9110 §12.5.4 weights): the stored key, then which
 * requests it serves.
 */
struct lang_case {
	const char	*name;
	const char	*names;		/* the stored Vary names */
	const char	*stored_req;	/* the request that fetched it */
	const char	*resp;		/* the response's fields */
	const char	*req;		/* a later request */
	int		want;		/* cache_key_vary_match */
};

static const struct lang_case lang_cases[] = {
	{ "9111 4.1 the same request matches exactly", "accept-language",
	  "Accept-Language: en, de", "Content-Language: de",
	  "Accept-Language: de, en", 2 },
	{ "9110 12.5.4 the stored language is the one preferred most",
	  "accept-language", "Accept-Language: en, de", "Content-Language: de",
	  "Accept-Language: fr;q=0.5, de;q=1.0", 1 },
	{ "9110 12.5.4 language tags are case-insensitive", "accept-language",
	  "Accept-Language: en, de", "Content-Language: DE",
	  "Accept-Language: De", 1 },
	{ "9110 12.5.4 another language preferred most does not match",
	  "accept-language", "Accept-Language: en, de", "Content-Language: de",
	  "Accept-Language: en;q=0.9, de;q=0.8", 0 },
	{ "9110 12.5.4 a tie at the top is no single preference",
	  "accept-language", "Accept-Language: en, de", "Content-Language: de",
	  "Accept-Language: de, fr", 0 },
	{ "9110 12.5.4 a tie below the top does not matter", "accept-language",
	  "Accept-Language: en, de", "Content-Language: de",
	  "Accept-Language: de, fr;q=0.5, it;q=0.5", 1 },
	{ "9110 12.5.4 * is no language", "accept-language",
	  "Accept-Language: en, de", "Content-Language: de",
	  "Accept-Language: *", 0 },
	{ "9111 4.1 no Accept-Language does not match by language",
	  "accept-language", "Accept-Language: en, de", "Content-Language: de",
	  NULL, 0 },
	{ "9111 4.1 several Content-Language tags: exact matches only",
	  "accept-language", "Accept-Language: en, de",
	  "Content-Language: de, en", "Accept-Language: de", 0 },
	{ "9111 4.1 without Content-Language: exact matches only",
	  "accept-language", "Accept-Language: en, de", NULL,
	  "Accept-Language: de", 0 },
	{ "9111 4.1 the other selecting fields must still match",
	  "accept-encoding,accept-language",
	  "Accept-Language: en, de\nAccept-Encoding: gzip", "Content-Language: de",
	  "Accept-Language: de\nAccept-Encoding: br", 0 },
	{ "9111 4.1 with the other fields equal, the language selects",
	  "accept-encoding,accept-language",
	  "Accept-Language: en, de\nAccept-Encoding: gzip", "Content-Language: de",
	  "Accept-Language: de\nAccept-Encoding: gzip", 1 },
	{ "9111 4.1 a stored request without Accept-Language",
	  "accept-language", NULL, "Content-Language: de",
	  "Accept-Language: de;q=0.9, en;q=0.1", 1 },
};

START_TEST(test_rfc9111_4_1_language_selects)
{
	const struct lang_case *c = &lang_cases[_i];
	struct cache_key_config cfg;
	struct fields sreq, resp, req;
	char *stored, *got;
	int m;

	cache_key_config_default(&cfg);
	parse_fields(&sreq, c->stored_req);
	parse_fields(&resp, c->resp);
	parse_fields(&req, c->req);
	stored = cache_key_vary_stored(&cfg, c->names, &sreq, &resp);
	got = cache_key_vary(&cfg, c->names, &req);
	ck_assert_ptr_nonnull(stored);
	ck_assert_ptr_nonnull(got);
	m = cache_key_vary_match(stored, strlen(stored), got, strlen(got));
	ck_assert_msg(m == c->want, "%s: stored [%s] request [%s]: %d", c->name, stored,
	    got, m);
	free(got);
	/* The request that fetched it always matches exactly. */
	got = cache_key_vary(&cfg, c->names, &sreq);
	ck_assert_msg(cache_key_vary_match(stored, strlen(stored), got, strlen(got)) == 2,
	    "%s: its own request [%s]", c->name, got);
	free(stored);
	free(got);
	fields_free(&sreq);
	fields_free(&resp);
	fields_free(&req);
}
END_TEST

/* The stored form: DEL and the lower-cased tag on the accept-language line. */
START_TEST(test_vary_stored_form)
{
	struct cache_key_config cfg;
	struct fields req, resp;
	char *k;

	cache_key_config_default(&cfg);
	parse_fields(&req, "Accept-Language: en, DE\nAccept-Encoding: gzip");
	parse_fields(&resp, "Content-Language: De-AT");
	k = cache_key_vary_stored(&cfg, "accept-encoding,accept-language", &req, &resp);
	ck_assert_str_eq(k, "accept-encoding=gzip,identity\naccept-language=de,en\x7f" "de-at\n");
	free(k);
	fields_free(&resp);
	parse_fields(&resp, "Content-Language: de");
	k = cache_key_vary_stored(&cfg, "accept-encoding", &req, &resp);
	ck_assert_str_eq(k, "accept-encoding=gzip,identity\n");
	free(k);
	fields_free(&req);
	fields_free(&resp);
	/* Bytes no field value holds: malformed keys never match. */
	ck_assert_int_eq(cache_key_vary_match("a=1\n", 4, "a=1", 3), 0);
	ck_assert_int_eq(cache_key_vary_match("a=1\nb\n", 6, "a=1\n", 4), 0);
}
END_TEST

START_TEST(test_config_default_empty)
{
	struct cache_key_config cfg;

	cache_key_config_default(&cfg);
	ck_assert_ptr_null(cfg.first_member);
	ck_assert_uint_eq(cfg.nfirst_member, 0);
}
END_TEST

static Suite *
cache_key_suite(void)
{
	Suite *s = suite_create("cache_key");
	TCase *tc;

	tc = tcase_create("primary");
	tcase_add_loop_test(tc, test_primary, 0, (int)ARRAY_LEN(primary_cases));
	tcase_add_test(tc, test_rfc9112_3_2_request_key);
	tcase_add_test(tc, test_fnv1a_vectors);
	suite_add_tcase(s, tc);

	tc = tcase_create("resolve");
	tcase_add_loop_test(tc, test_resolve, 0, (int)ARRAY_LEN(resolve_cases));
	tcase_add_test(tc, test_rfc6454_same_origin);
	suite_add_tcase(s, tc);

	tc = tcase_create("vary");
	tcase_add_loop_test(tc, test_vary_names, 0, (int)ARRAY_LEN(names_cases));
	tcase_add_loop_test(tc, test_vary, 0, (int)ARRAY_LEN(vary_cases));
	tcase_add_loop_test(tc, test_rfc9111_4_1_language_selects, 0,
	    (int)ARRAY_LEN(lang_cases));
	tcase_add_test(tc, test_vary_stored_form);
	tcase_add_test(tc, test_config_default_empty);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cache_key_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

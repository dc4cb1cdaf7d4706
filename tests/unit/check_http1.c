/*
 * check_http1.c: unit tests for src/http1.c: request and response heads
 * (every target form, every rejection with its status, limits while
 * complete and incomplete), framing, the chunked decoder (fed whole, split
 * at every byte, one byte at a time) and serialisation.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "http1.h"

#define S(lit)	(lit), (sizeof(lit) - 1)

static const struct http1_limits lim = {
	.max_request_line = 8192,
	.max_head_bytes = 65536,
	.max_fields = 100,
	.allow_connect = false,
};

/* Parses a complete request that must be accepted and fill *req. */
static void
parse_ok(const char *buf, size_t len, const struct http1_limits *l,
    struct http_request *req, size_t *head_len)
{
	int st = 0;
	const char *why = NULL;
	enum http1_result r;

	r = http1_parse_request(buf, len, l, req, head_len, &st, &why);
	ck_assert_msg(r == HTTP1_DONE, "rejected (%d %s): %.*s", st,
	    why ? why : "incomplete", (int)len, buf);
}

/* The status a complete request is refused with (0: accepted, 1: incomplete). */
static int
req_status(const char *buf, size_t len, const struct http1_limits *l)
{
	struct http_request req;
	size_t hl;
	int st = 0;
	const char *why = NULL;
	enum http1_result r;

	r = http1_parse_request(buf, len, l, &req, &hl, &st, &why);
	if (r == HTTP1_DONE) {
		http1_request_free(&req);
		return 0;
	}
	if (r == HTTP1_INCOMPLETE)
		return 1;
	ck_assert_ptr_nonnull(why);
	return st;
}

struct reject_case {
	const char	*in;
	int		status;
};

static void
check_rejects(const struct reject_case *c, size_t n, const struct http1_limits *l)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int st = req_status(c[i].in, strlen(c[i].in), l);

		ck_assert_msg(st == c[i].status, "case %zu: got %d, want %d: %s",
		    i, st, c[i].status, c[i].in);
	}
}

#define CHECK_REJECTS(cases)	check_rejects((cases), sizeof(cases) / sizeof((cases)[0]), &lim)

/* Every proper prefix of a valid head is INCOMPLETE, and allocates nothing. */
static void
check_prefixes_incomplete(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		ck_assert_msg(req_status(buf, i, &lim) == 1, "prefix %zu of %s", i, buf);
}

/* ---- request line and target forms (RFC 9112 §3) ---- */

START_TEST(test_rfc9112_3_2_1_origin_form)
{
	static const char in[] = "GET /a/b?c=d&e HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
	struct http_request req;
	size_t hl;

	parse_ok(S(in), &lim, &req, &hl);
	ck_assert_uint_eq(hl, sizeof(in) - 1);
	ck_assert_int_eq(req.method, HTTP_M_GET);
	ck_assert_str_eq(req.method_name, "GET");
	ck_assert_int_eq(req.form, TARGET_ORIGIN);
	ck_assert_str_eq(req.target, "/a/b?c=d&e");
	ck_assert_str_eq(req.path, "/a/b?c=d&e");
	ck_assert_ptr_null(req.scheme);
	ck_assert_str_eq(req.authority, "example.com");
	ck_assert_int_eq(req.version, 11);
	ck_assert_uint_eq(req.fields.n, 2);
	ck_assert_str_eq(req.fields.v[1].name, "Accept");
	ck_assert_str_eq(req.fields.v[1].value, "*/*");
	ck_assert_uint_eq(req.fields.v[1].value_len, 3);
	ck_assert_int_eq(req.body, BODY_NONE);
	ck_assert(req.keep_alive);
	ck_assert(!req.expect_continue);
	http1_request_free(&req);
	check_prefixes_incomplete(S(in));
}
END_TEST

START_TEST(test_rfc9112_3_2_2_absolute_form_replaces_host)
{
	static const char in[] = "GET HTTP://Example.COM:8080/p?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n";
	struct http_request req;
	size_t hl;

	parse_ok(S(in), &lim, &req, &hl);
	ck_assert_int_eq(req.form, TARGET_ABSOLUTE);
	ck_assert_str_eq(req.target, "HTTP://Example.COM:8080/p?q=1");
	ck_assert_str_eq(req.scheme, "http");
	ck_assert_str_eq(req.authority, "Example.COM:8080");
	ck_assert_str_eq(req.path, "/p?q=1");
	/* §3.2.2: the Host received is replaced by the target's authority. */
	ck_assert_uint_eq(fields_count(&req.fields, "Host"), 1);
	ck_assert_str_eq(fields_get(&req.fields, "Host")->value, "Example.COM:8080");
	ck_assert_uint_eq(fields_get(&req.fields, "Host")->value_len, 16);
	http1_request_free(&req);
}
END_TEST

START_TEST(test_rfc9112_3_2_1_absolute_form_empty_path_is_slash)
{
	static const struct {
		const char	*in;
		const char	*scheme;
		const char	*authority;
		const char	*path;
	} cases[] = {
		{ "GET https://h HTTP/1.1\r\nHost: h\r\n\r\n", "https", "h", "/" },
		{ "GET http://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", "http", "h", "/?x=1" },
		{ "GET hTTpS://[::1]:8443/ HTTP/1.1\r\nHost: h\r\n\r\n", "https", "[::1]:8443", "/" },
		{ "GET http://10.0.0.1//x HTTP/1.1\r\nHost: h\r\n\r\n", "http", "10.0.0.1", "//x" },
	};
	struct http_request req;
	size_t i, hl;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_ok(cases[i].in, strlen(cases[i].in), &lim, &req, &hl);
		ck_assert_int_eq(req.form, TARGET_ABSOLUTE);
		ck_assert_str_eq(req.scheme, cases[i].scheme);
		ck_assert_str_eq(req.authority, cases[i].authority);
		ck_assert_str_eq(req.path, cases[i].path);
		http1_request_free(&req);
	}
}
END_TEST

START_TEST(test_rfc9112_3_2_2_absolute_form_http10_without_host)
{
	static const char in[] = "GET http://a.example/x HTTP/1.0\r\n\r\n";
	struct http_request req;
	size_t hl;

	parse_ok(S(in), &lim, &req, &hl);
	ck_assert_int_eq(req.version, 10);
	ck_assert_str_eq(req.authority, "a.example");
	ck_assert_uint_eq(req.fields.n, 0);
	ck_assert(!req.keep_alive);
	http1_request_free(&req);
}
END_TEST

START_TEST(test_rfc9112_3_2_2_absolute_form_rejections)
{
	static const struct reject_case cases[] = {
		{ "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET http:/h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		/* RFC 9110 §4.2.4: userinfo is an error. */
		{ "GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET http://h:99999/ HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET http://h:8x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET http://[::1/ HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET http://h/a#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET http://h/%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET urn:x HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET h/p HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		/* The Host must still be valid when it is replaced. */
		{ "GET http://h/ HTTP/1.1\r\nHost: a b\r\n\r\n", 400 },
		{ "GET http://h/ HTTP/1.1\r\n\r\n", 400 },
	};

	CHECK_REJECTS(cases);
}
END_TEST

START_TEST(test_rfc9112_3_2_3_authority_form_connect)
{
	static const char in[] = "CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\n";
	struct http1_limits l = lim;
	struct http_request req;
	size_t hl;

	l.allow_connect = true;
	parse_ok(S(in), &l, &req, &hl);
	ck_assert_int_eq(req.method, HTTP_M_CONNECT);
	ck_assert_int_eq(req.form, TARGET_AUTHORITY);
	ck_assert_str_eq(req.authority, "db.example:5432");
	ck_assert_str_eq(req.path, "");
	http1_request_free(&req);

	ck_assert_int_eq(req_status(S("CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n"), &l), 400);
	ck_assert_int_eq(req_status(S("CONNECT h: HTTP/1.1\r\nHost: h\r\n\r\n"), &l), 400);
	ck_assert_int_eq(req_status(S("CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n"), &l), 400);
	ck_assert_int_eq(req_status(S("CONNECT http://h:1/ HTTP/1.1\r\nHost: h\r\n\r\n"), &l), 400);
	ck_assert_int_eq(req_status(S("GET h:443 HTTP/1.1\r\nHost: h\r\n\r\n"), &l), 400);
}
END_TEST

START_TEST(test_rfc9112_3_2_3_connect_refused_unless_allowed)
{
	ck_assert_int_eq(req_status(S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"), &lim), 501);
}
END_TEST

START_TEST(test_rfc9112_3_2_4_asterisk_form)
{
	static const char in[] = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
	struct http_request req;
	size_t hl;

	parse_ok(S(in), &lim, &req, &hl);
	ck_assert_int_eq(req.method, HTTP_M_OPTIONS);
	ck_assert_int_eq(req.form, TARGET_ASTERISK);
	ck_assert_str_eq(req.path, "*");
	ck_assert_str_eq(req.authority, "h");
	http1_request_free(&req);
	ck_assert_int_eq(req_status(S("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), &lim), 400);
	ck_assert_int_eq(req_status(S("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n"), &lim), 400);
}
END_TEST

START_TEST(test_rfc9110_9_1_methods_case_sensitive)
{
	static const char in[] = "PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char lower[] = "get / HTTP/1.1\r\nHost: h\r\n\r\n";
	struct http_request req;
	size_t hl;

	parse_ok(S(in), &lim, &req, &hl);
	ck_assert_int_eq(req.method, HTTP_M_OTHER);
	ck_assert_str_eq(req.method_name, "PURGE");
	http1_request_free(&req);
	parse_ok(S(lower), &lim, &req, &hl);
	ck_assert_int_eq(req.method, HTTP_M_OTHER);
	ck_assert_str_eq(req.method_name, "get");
	http1_request_free(&req);

	ck_assert_int_eq(http_method_from_name(S("GET")), HTTP_M_GET);
	ck_assert_int_eq(http_method_from_name(S("HEAD")), HTTP_M_HEAD);
	ck_assert_int_eq(http_method_from_name(S("POST")), HTTP_M_POST);
	ck_assert_int_eq(http_method_from_name(S("PUT")), HTTP_M_PUT);
	ck_assert_int_eq(http_method_from_name(S("DELETE")), HTTP_M_DELETE);
	ck_assert_int_eq(http_method_from_name(S("OPTIONS")), HTTP_M_OPTIONS);
	ck_assert_int_eq(http_method_from_name(S("PATCH")), HTTP_M_PATCH);
	ck_assert_int_eq(http_method_from_name(S("CONNECT")), HTTP_M_CONNECT);
	ck_assert_int_eq(http_method_from_name(S("TRACE")), HTTP_M_TRACE);
	ck_assert_int_eq(http_method_from_name(S("GETS")), HTTP_M_OTHER);
	ck_assert_int_eq(http_method_from_name(S("GE")), HTTP_M_OTHER);
	ck_assert_int_eq(http_method_from_name(S("Get")), HTTP_M_OTHER);
}
END_TEST

START_TEST(test_rfc9110_9_2_safe_and_idempotent)
{
	ck_assert(http_method_is_safe(HTTP_M_GET));
	ck_assert(http_method_is_safe(HTTP_M_HEAD));
	ck_assert(http_method_is_safe(HTTP_M_OPTIONS));
	ck_assert(http_method_is_safe(HTTP_M_TRACE));
	ck_assert(!http_method_is_safe(HTTP_M_POST));
	ck_assert(!http_method_is_safe(HTTP_M_PUT));
	ck_assert(!http_method_is_safe(HTTP_M_DELETE));
	ck_assert(!http_method_is_safe(HTTP_M_PATCH));
	ck_assert(!http_method_is_safe(HTTP_M_CONNECT));
	ck_assert(!http_method_is_safe(HTTP_M_OTHER));
	ck_assert(http_method_is_idempotent(HTTP_M_GET));
	ck_assert(http_method_is_idempotent(HTTP_M_PUT));
	ck_assert(http_method_is_idempotent(HTTP_M_DELETE));
	ck_assert(!http_method_is_idempotent(HTTP_M_POST));
	ck_assert(!http_method_is_idempotent(HTTP_M_PATCH));
	ck_assert(!http_method_is_idempotent(HTTP_M_CONNECT));
	ck_assert(!http_method_is_idempotent(HTTP_M_OTHER));
}
END_TEST

START_TEST(test_rfc9112_3_malformed_request_lines)
{
	static const struct reject_case cases[] = {
		{ "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ " GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET /\tHTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400 },
		{ "GET /\r\nHost: h\r\n\r\n", 400 },
		{ "GET\r\nHost: h\r\n\r\n", 400 },
		{ "/ HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET / http/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400 },
		{ "GET / HTTP/1\r\nHost: h\r\n\r\n", 400 },
		{ "GET / HTTP/a.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET / x HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		/* Target bytes: no controls, no fragment, no raw non-ASCII. */
		{ "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET /a%2 HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET /a%g0 HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET a HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	};

	CHECK_REJECTS(cases);
	ck_assert_int_eq(req_status(S("GET /%41%7e|{} HTTP/1.1\r\nHost: h\r\n\r\n"), &lim), 0);
	ck_assert_int_eq(req_status(S("GET /a\0 HTTP/1.1\r\nHost: h\r\n\r\n"), &lim), 400);
}
END_TEST

START_TEST(test_rfc9112_2_3_versions)
{
	static const struct reject_case cases[] = {
		{ "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505 },
		{ "GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505 },
		{ "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505 },
		{ "GET / HTTP/3.1\r\nHost: h\r\n\r\n", 505 },
	};
	struct http_request req;
	size_t hl;

	CHECK_REJECTS(cases);
	parse_ok(S("GET / HTTP/1.0\r\n\r\n"), &lim, &req, &hl);
	ck_assert_int_eq(req.version, 10);
	ck_assert_ptr_null(req.authority);
	http1_request_free(&req);
}
END_TEST

START_TEST(test_rfc9112_2_2_leading_empty_lines_skipped)
{
	static const char in[] = "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
	struct http_request req;
	size_t hl;

	parse_ok(S(in), &lim, &req, &hl);
	ck_assert_uint_eq(hl, sizeof(in) - 1);
	ck_assert_str_eq(req.method_name, "GET");
	http1_request_free(&req);
	check_prefixes_incomplete(S(in));
	ck_assert_int_eq(req_status(S("\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), &lim), 400);
	ck_assert_int_eq(req_status(S("\r\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), &lim), 400);
	ck_assert_int_eq(req_status(S("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n"), &lim), 400);
}
END_TEST

START_TEST(test_rfc9112_9_pipelined_requests)
{
	static const char first[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char in[] =
	    "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
	    "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
	    "GET /3 HTTP/1.1\r\nHost: h\r\n";
	struct http_request req;
	size_t hl, off = 0;

	parse_ok(in, sizeof(in) - 1, &lim, &req, &hl);
	ck_assert_str_eq(req.path, "/1");
	ck_assert_uint_eq(hl, sizeof(first) - 1);
	http1_request_free(&req);
	off += hl;
	parse_ok(in + off, sizeof(in) - 1 - off, &lim, &req, &hl);
	ck_assert_str_eq(req.path, "/2");
	ck_assert_int_eq(req.body, BODY_LENGTH);
	ck_assert_uint_eq(req.content_length, 3);
	ck_assert_mem_eq(in + off + hl, "abc", 3);
	http1_request_free(&req);
	off += hl + 3;
	ck_assert_int_eq(req_status(in + off, sizeof(in) - 1 - off, &lim), 1);
}
END_TEST

START_TEST(test_rfc9112_head_survives_buffer_reuse)
{
	char buf[] = "GET /x HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n";
	struct http_request req;
	size_t hl;

	parse_ok(buf, sizeof(buf) - 1, &lim, &req, &hl);
	memset(buf, 'Z', sizeof(buf));
	ck_assert_str_eq(req.path, "/x");
	ck_assert_str_eq(fields_get(&req.fields, "x-a")->value, "b");
	http1_request_free(&req);
}
END_TEST

/* ---- field lines (RFC 9112 §5) ---- */

START_TEST(test_rfc9112_5_field_values_trimmed_and_validated)
{
	static const char in[] =
	    "GET / HTTP/1.1\r\nHost:h\r\nX-Empty:\r\nX-Ws: \t a \t b \t \r\n"
	    "X-Obs: caf\xc3\xa9\r\nX-Tab:\tv\r\n\r\n";
	struct http_request req;
	size_t hl;

	parse_ok(S(in), &lim, &req, &hl);
	ck_assert_str_eq(fields_get(&req.fields, "Host")->value, "h");
	ck_assert_str_eq(fields_get(&req.fields, "X-Empty")->value, "");
	ck_assert_uint_eq(fields_get(&req.fields, "X-Empty")->value_len, 0);
	ck_assert_str_eq(fields_get(&req.fields, "X-Ws")->value, "a \t b");
	ck_assert_uint_eq(fields_get(&req.fields, "X-Ws")->value_len, 5);
	ck_assert_str_eq(fields_get(&req.fields, "X-Obs")->value, "caf\xc3\xa9");
	ck_assert_str_eq(fields_get(&req.fields, "X-Tab")->value, "v");
	ck_assert_str_eq(req.fields.v[1].name, "X-Empty");
	ck_assert_uint_eq(req.fields.v[1].name_len, 7);
	http1_request_free(&req);
}
END_TEST

START_TEST(test_rfc9112_5_2_obs_fold_rejected)
{
	static const struct reject_case cases[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400 },
		/* §2.2: whitespace between the start line and the first field. */
		{ "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\n\tHost: h\r\n\r\n", 400 },
	};

	CHECK_REJECTS(cases);
}
END_TEST

START_TEST(test_rfc9112_5_1_field_name_errors)
{
	static const struct reject_case cases[] = {
		{ "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nContent-Length\t: 0\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX\x7fY: v\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: v\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX Y: v\r\n\r\n", 400 },
	};

	CHECK_REJECTS(cases);
	ck_assert_int_eq(req_status(S("GET / HTTP/1.1\r\nHost: h\r\nX\0Y: v\r\n\r\n"), &lim), 400);
}
END_TEST

START_TEST(test_rfc9110_5_5_field_value_bytes_rejected)
{
	static const struct reject_case cases[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\x0b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\x1b[0m\r\n\r\n", 400 },
	};

	CHECK_REJECTS(cases);
	ck_assert_int_eq(req_status(S("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n"), &lim), 400);
}
END_TEST

START_TEST(test_rfc9112_2_2_bare_cr_rejected)
{
	static const struct reject_case cases[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\r\n\r\n", 400 },
		{ "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX\r: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\n\rX: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\r\r\n", 400 },
	};

	CHECK_REJECTS(cases);
}
END_TEST

START_TEST(test_rfc9112_2_2_bare_lf_rejected)
{
	static const struct reject_case cases[] = {
		{ "GET / HTTP/1.1\nHost: h\n\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\n\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nX: a\nb\r\n\r\n", 400 },
		/* Refused as soon as the bare LF arrives, not when the head ends. */
		{ "GET / HTTP/1.1\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: h\nX: y", 400 },
	};

	CHECK_REJECTS(cases);
}
END_TEST

/* ---- framing (RFC 9112 §6, RFC 9110 §8.6) ---- */

START_TEST(test_rfc9110_8_6_content_length_values)
{
	static const struct {
		const char	*cl;
		int		status;
		unsigned long long value;
	} cases[] = {
		{ "5", 0, 5 },
		{ "005", 0, 5 },
		{ "5, 5", 0, 5 },
		{ "5,5 ,  5", 0, 5 },
		{ "9223372036854775807", 0, 9223372036854775807ULL },
		{ "0", 0, 0 },
		{ "5, 6", 400, 0 },
		{ "+5", 400, 0 },
		{ "-5", 400, 0 },
		{ "5 5", 400, 0 },
		{ "5a", 400, 0 },
		{ "0x5", 400, 0 },
		{ "", 400, 0 },
		{ "5,", 400, 0 },
		{ ",5", 400, 0 },
		{ "5,,5", 400, 0 },
		{ "\"5\"", 400, 0 },
		{ "9223372036854775808", 400, 0 },
		{ "18446744073709551616", 400, 0 },
		{ "99999999999999999999999999", 400, 0 },
		{ "5;x", 400, 0 },
	};
	char buf[256];
	struct http_request req;
	size_t i, hl;
	int st, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = snprintf(buf, sizeof(buf),
		    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n", cases[i].cl);
		st = req_status(buf, (size_t)n, &lim);
		ck_assert_msg(st == cases[i].status, "Content-Length: %s: %d", cases[i].cl, st);
		if (st != 0)
			continue;
		parse_ok(buf, (size_t)n, &lim, &req, &hl);
		ck_assert_int_eq(req.body, cases[i].value ? BODY_LENGTH : BODY_NONE);
		ck_assert_uint_eq(req.content_length, cases[i].value);
		http1_request_free(&req);
	}
}
END_TEST

START_TEST(test_rfc9112_6_3_repeated_content_length_fields)
{
	struct http_request req;
	size_t hl;

	parse_ok(S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n"),
	    &lim, &req, &hl);
	ck_assert_uint_eq(req.content_length, 7);
	http1_request_free(&req);
	ck_assert_int_eq(req_status(S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n"
	    "Content-Length: 8\r\n\r\n"), &lim), 400);
	ck_assert_int_eq(req_status(S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n"
	    "Content-Length: x\r\n\r\n"), &lim), 400);
}
END_TEST

START_TEST(test_rfc9112_6_1_chunked_request)
{
	struct http_request req;
	size_t hl;

	parse_ok(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"),
	    &lim, &req, &hl);
	ck_assert_int_eq(req.body, BODY_CHUNKED);
	http1_request_free(&req);
	parse_ok(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,\tchunked ,\r\n\r\n"),
	    &lim, &req, &hl);
	ck_assert_int_eq(req.body, BODY_CHUNKED);
	http1_request_free(&req);
}
END_TEST

START_TEST(test_rfc9112_6_1_te_and_cl_rejected)
{
	static const struct reject_case cases[] = {
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
	};

	CHECK_REJECTS(cases);
}
END_TEST

START_TEST(test_rfc9112_6_1_te_in_http10_rejected)
{
	ck_assert_int_eq(req_status(S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), &lim), 400);
}
END_TEST

START_TEST(test_rfc9112_6_3_te_final_not_chunked_rejected)
{
	static const struct reject_case cases[] = {
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked-x\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\x01\r\n\r\n", 400 },
	};

	CHECK_REJECTS(cases);
}
END_TEST

START_TEST(test_rfc9112_7_chunked_twice_rejected)
{
	static const struct reject_case cases[] = {
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
	};

	CHECK_REJECTS(cases);
}
END_TEST

START_TEST(test_rfc9112_6_1_unknown_coding_501)
{
	static const struct reject_case cases[] = {
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo;p=1, chunked\r\n\r\n", 501 },
		{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br\r\nTransfer-Encoding: chunked\r\n\r\n", 501 },
	};

	CHECK_REJECTS(cases);
}
END_TEST

/* ---- Host (RFC 9112 §3.2, RFC 9110 §7.2) ---- */

START_TEST(test_rfc9112_3_2_host_required_once_and_valid)
{
	static const struct reject_case cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400 },
		{ "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a:x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a:000080\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: []\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a%2\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nHost: xn--bcher-kva.example:65535\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nHost: a%2Eb\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 0 },
	};

	CHECK_REJECTS(cases);
}
END_TEST

/* ---- connection management (RFC 9112 §9.3) and Expect (RFC 9110 §10.1.1) ---- */

static bool
req_keep_alive(const char *buf, size_t len)
{
	struct http_request req;
	size_t hl;
	bool ka;

	parse_ok(buf, len, &lim, &req, &hl);
	ka = req.keep_alive;
	http1_request_free(&req);
	return ka;
}

START_TEST(test_rfc9112_9_3_keep_alive)
{
	ck_assert(req_keep_alive(S("GET / HTTP/1.1\r\nHost: h\r\n\r\n")));
	ck_assert(!req_keep_alive(S("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")));
	ck_assert(!req_keep_alive(S("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n")));
	ck_assert(!req_keep_alive(S("GET / HTTP/1.1\r\nHost: h\r\nConnection: x\r\nConnection: close\r\n\r\n")));
	ck_assert(req_keep_alive(S("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n")));
	ck_assert(!req_keep_alive(S("GET / HTTP/1.0\r\n\r\n")));
	ck_assert(req_keep_alive(S("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")));
	ck_assert(!req_keep_alive(S("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")));
}
END_TEST

START_TEST(test_rfc9110_10_1_1_expect)
{
	struct http_request req;
	size_t hl;

	parse_ok(S("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 9\r\n\r\n"),
	    &lim, &req, &hl);
	ck_assert(req.expect_continue);
	http1_request_free(&req);
	/* An HTTP/1.0 request's 100-continue is ignored. */
	parse_ok(S("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), &lim, &req, &hl);
	ck_assert(!req.expect_continue);
	http1_request_free(&req);
	ck_assert_int_eq(req_status(S("GET / HTTP/1.1\r\nHost: h\r\nExpect: foo\r\n\r\n"), &lim), 417);
	ck_assert_int_eq(req_status(S("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, x\r\n\r\n"), &lim), 417);
	ck_assert_int_eq(req_status(S("GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n"), &lim), 417);
}
END_TEST

/* ---- limits ---- */

/* "GET /aaa...a HTTP/1.1" with a request line of exactly n bytes. */
static char *
long_request(size_t line, const char *rest)
{
	size_t tl = line - 13, n = line + strlen(rest) + 2;
	char *p = malloc(n + 1);

	ck_assert_ptr_nonnull(p);
	memcpy(p, "GET /", 5);
	memset(p + 5, 'a', tl - 1);
	memcpy(p + 4 + tl, " HTTP/1.1\r\n", 11);
	strcpy(p + line + 2, rest);
	return p;
}

START_TEST(test_rfc9112_3_request_line_limit_414)
{
	struct http1_limits l = lim;
	char *p;

	l.max_request_line = 100;
	p = long_request(100, "Host: h\r\n\r\n");
	ck_assert_uint_eq(strchr(p, '\r') - p, 100);
	ck_assert_int_eq(req_status(p, strlen(p), &l), 0);
	/* Exactly at the limit, the CR arrived but not the LF: wait. */
	ck_assert_int_eq(req_status(p, 101, &l), 1);
	ck_assert_int_eq(req_status(p, 100, &l), 1);
	free(p);
	p = long_request(101, "Host: h\r\n\r\n");
	ck_assert_int_eq(req_status(p, strlen(p), &l), 414);
	/* Incomplete: refused once 101 bytes without a line end have arrived. */
	ck_assert_int_eq(req_status(p, 100, &l), 1);
	ck_assert_int_eq(req_status(p, 101, &l), 414);
	free(p);
	/* Leading empty lines do not count towards the request line. */
	p = long_request(100, "Host: h\r\n\r\n");
	{
		char *q = malloc(strlen(p) + 3);

		ck_assert_ptr_nonnull(q);
		strcpy(q, "\r\n");
		strcat(q, p);
		ck_assert_int_eq(req_status(q, strlen(q), &l), 0);
		free(q);
	}
	free(p);
}
END_TEST

START_TEST(test_rfc6585_5_head_size_limit_431)
{
	static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nX-A: 0123456789\r\n\r\n";
	struct http1_limits l = lim;
	size_t n = sizeof(in) - 1;

	l.max_head_bytes = n;
	ck_assert_int_eq(req_status(in, n, &l), 0);
	l.max_head_bytes = n - 1;
	ck_assert_int_eq(req_status(in, n, &l), 431);
	/* While incomplete: more bytes than the limit and no end yet. */
	l.max_head_bytes = 30;
	ck_assert_int_eq(req_status(in, 30, &l), 1);
	ck_assert_int_eq(req_status(in, 31, &l), 431);
	/* Leading empty lines count towards the head. */
	l.max_head_bytes = 4;
	ck_assert_int_eq(req_status(S("\r\n\r\n\r\n"), &l), 431);
}
END_TEST

START_TEST(test_rfc6585_5_field_count_limit_431)
{
	static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
	struct http1_limits l = lim;

	l.max_fields = 4;
	ck_assert_int_eq(req_status(S(in), &l), 0);
	l.max_fields = 3;
	ck_assert_int_eq(req_status(S(in), &l), 431);
	/* While incomplete: the fourth complete field line is one too many. */
	ck_assert_int_eq(req_status(in, sizeof(in) - 3, &l), 431);
	ck_assert_int_eq(req_status(in, sizeof(in) - 9, &l), 1);
}
END_TEST

START_TEST(test_rfc9112_incomplete_allocates_nothing)
{
	static const char in[] = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";

	check_prefixes_incomplete(S(in));
	ck_assert_int_eq(req_status(S(""), &lim), 1);
	ck_assert_int_eq(req_status(S("\r"), &lim), 1);
}
END_TEST

/* ---- responses (RFC 9112 §4, §6.3) ---- */

static void
resp_ok(const char *buf, size_t len, enum http_method m, struct http_response *resp,
    size_t *hl)
{
	const char *why = NULL;
	enum http1_result r;

	r = http1_parse_response(buf, len, &lim, m, resp, hl, &why);
	ck_assert_msg(r == HTTP1_DONE, "rejected (%s): %.*s", why ? why : "incomplete",
	    (int)len, buf);
}

static enum http1_result
resp_result(const char *buf, size_t len, enum http_method m)
{
	struct http_response resp;
	const char *why = NULL;
	size_t hl;
	enum http1_result r;

	r = http1_parse_response(buf, len, &lim, m, &resp, &hl, &why);
	if (r == HTTP1_DONE)
		http1_response_free(&resp);
	if (r == HTTP1_INVALID)
		ck_assert_ptr_nonnull(why);
	return r;
}

START_TEST(test_rfc9112_4_status_line)
{
	static const char in[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	static const char lead[] = "\r\nHTTP/1.1 304 Not Modified\r\n\r\n";
	struct http_response resp;
	size_t hl, i;

	resp_ok(S(in), HTTP_M_GET, &resp, &hl);
	ck_assert_uint_eq(hl, sizeof(in) - 6);
	ck_assert_int_eq(resp.version, 11);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq(resp.reason, "OK");
	ck_assert_int_eq(resp.body, BODY_LENGTH);
	ck_assert_uint_eq(resp.content_length, 5);
	ck_assert(resp.keep_alive);
	http1_response_free(&resp);
	for (i = 0; i < hl; i++)
		ck_assert_int_eq(resp_result(in, i, HTTP_M_GET), HTTP1_INCOMPLETE);

	resp_ok(S("HTTP/1.0 404 Not  Found \t\r\nContent-Length: 0\r\n\r\n"), HTTP_M_GET, &resp, &hl);
	ck_assert_int_eq(resp.version, 10);
	ck_assert_int_eq(resp.status, 404);
	ck_assert_str_eq(resp.reason, "Not  Found \t");
	http1_response_free(&resp);
	resp_ok(S("HTTP/1.1 204 \r\n\r\n"), HTTP_M_GET, &resp, &hl);
	ck_assert_str_eq(resp.reason, "");
	http1_response_free(&resp);
	/* Leniency: no SP before an empty reason. */
	resp_ok(S("HTTP/1.1 204\r\n\r\n"), HTTP_M_GET, &resp, &hl);
	ck_assert_int_eq(resp.status, 204);
	ck_assert_str_eq(resp.reason, "");
	http1_response_free(&resp);
	/* §2.2: empty lines before the status line are skipped. */
	resp_ok(S(lead), HTTP_M_GET, &resp, &hl);
	ck_assert_uint_eq(hl, sizeof(lead) - 1);
	ck_assert_int_eq(resp.status, 304);
	http1_response_free(&resp);
	/* RFC 9110 §15: 600-999 are invalid codes, to be handled as 5xx, not
	 * a malformed message. */
	resp_ok(S("HTTP/1.1 999 unknown\r\nContent-Length: 3\r\n\r\nabc"), HTTP_M_GET,
	    &resp, &hl);
	ck_assert_int_eq(resp.status, 999);
	ck_assert_int_eq(resp.body, BODY_LENGTH);
	http1_response_free(&resp);
}
END_TEST

START_TEST(test_rfc9112_4_malformed_status_lines)
{
	static const char *const bad[] = {
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 X\r\n\r\n",
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.2 200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"HTTP/1.1 200 OK\rX\r\n\r\n",
		"HTTP/1.1 200 OK\n\n",
		" HTTP/1.1 200 OK\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: \x7f\r\n\r\n",
		"HTTP/1.1 200 OK\r\n X: y\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: y\nZ: w\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(resp_result(bad[i], strlen(bad[i]), HTTP_M_GET) == HTTP1_INVALID,
		    "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_rfc9112_5_2_response_obs_fold_replaced)
{
	struct http_response resp;
	size_t hl;

	resp_ok(S("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\tc\r\nX-B: d\r\nContent-Length: 0\r\n\r\n"),
	    HTTP_M_GET, &resp, &hl);
	ck_assert_uint_eq(resp.fields.n, 3);
	ck_assert_str_eq(fields_get(&resp.fields, "X-A")->value, "a   b  \tc");
	ck_assert_str_eq(fields_get(&resp.fields, "X-B")->value, "d");
	http1_response_free(&resp);
	/* A value that starts on a continuation line is trimmed like any other. */
	resp_ok(S("HTTP/1.1 200 OK\r\nX-C:\r\n  e \r\nContent-Length: 0\r\n\r\n"),
	    HTTP_M_GET, &resp, &hl);
	ck_assert_str_eq(fields_get(&resp.fields, "X-C")->value, "e");
	http1_response_free(&resp);
}
END_TEST

struct framing_case {
	const char		*in;
	enum http_method	m;
	enum http1_result	r;
	enum http_body		body;
	unsigned long long	cl;
	bool			keep_alive;
};

START_TEST(test_rfc9112_6_3_response_framing)
{
	static const struct framing_case cases[] = {
		/* (1) HEAD, 1xx, 204, 304: no content whatever the fields say. */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", HTTP_M_HEAD, HTTP1_DONE, BODY_NONE, 0, true },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_M_HEAD, HTTP1_DONE, BODY_NONE, 0, true },
		{ "HTTP/1.1 100 Continue\r\n\r\n", HTTP_M_POST, HTTP1_DONE, BODY_NONE, 0, true },
		{ "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_NONE, 0, true },
		{ "HTTP/1.1 204 No Content\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_NONE, 0, true },
		{ "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_NONE, 0, true },
		/* (2) 2xx to CONNECT: a tunnel, not a body. */
		{ "HTTP/1.1 200 OK\r\n\r\n", HTTP_M_CONNECT, HTTP1_DONE, BODY_NONE, 0, true },
		{ "HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n", HTTP_M_CONNECT, HTTP1_DONE, BODY_LENGTH, 3, true },
		/* (3) both: never guess. */
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", HTTP_M_GET, HTTP1_INVALID, 0, 0, false },
		{ "HTTP/1.1 304 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", HTTP_M_GET, HTTP1_INVALID, 0, 0, false },
		/* (4) Transfer-Encoding. */
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_CHUNKED, 0, true },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_CHUNKED, 0, true },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_UNTIL_CLOSE, 0, false },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_UNTIL_CLOSE, 0, false },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", HTTP_M_GET, HTTP1_INVALID, 0, 0, false },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", HTTP_M_GET, HTTP1_INVALID, 0, 0, false },
		/* §6.1: TE in an HTTP/1.0 response is faulty framing: read to the close. */
		{ "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_UNTIL_CLOSE, 0, false },
		/* (5) bad Content-Length. */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", HTTP_M_GET, HTTP1_INVALID, 0, 0, false },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", HTTP_M_GET, HTTP1_INVALID, 0, 0, false },
		{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", HTTP_M_GET, HTTP1_INVALID, 0, 0, false },
		/* (6) Content-Length. */
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_LENGTH, 5, true },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_NONE, 0, true },
		/* (8) neither: to the close. */
		{ "HTTP/1.1 200 OK\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_UNTIL_CLOSE, 0, false },
		/* §9.3 */
		{ "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_LENGTH, 1, false },
		{ "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_LENGTH, 1, false },
		{ "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", HTTP_M_GET, HTTP1_DONE, BODY_LENGTH, 1, true },
	};
	struct http_response resp;
	const char *why;
	size_t i, hl;
	enum http1_result r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct framing_case *c = &cases[i];

		why = NULL;
		r = http1_parse_response(c->in, strlen(c->in), &lim, c->m, &resp, &hl, &why);
		ck_assert_msg(r == c->r, "case %zu: result %d (%s)", i, r, why ? why : "-");
		if (r != HTTP1_DONE)
			continue;
		ck_assert_msg(resp.body == c->body, "case %zu: body %d", i, resp.body);
		ck_assert_msg(resp.content_length == c->cl, "case %zu: cl %llu", i,
		    (unsigned long long)resp.content_length);
		ck_assert_msg(resp.keep_alive == c->keep_alive, "case %zu: keep-alive", i);
		http1_response_free(&resp);
	}
}
END_TEST

START_TEST(test_rfc6585_5_response_limits)
{
	struct http1_limits l = lim;
	struct http_response resp;
	const char *why;
	size_t hl;

	l.max_fields = 1;
	ck_assert_int_eq(http1_parse_response(S("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n"),
	    &l, HTTP_M_GET, &resp, &hl, &why), HTTP1_INVALID);
	l = lim;
	l.max_head_bytes = 20;
	ck_assert_int_eq(http1_parse_response(S("HTTP/1.1 200 OK\r\nA: 1"),
	    &l, HTTP_M_GET, &resp, &hl, &why), HTTP1_INVALID);
	ck_assert_int_eq(http1_parse_response(S("HTTP/1.1 200 OK\r\nA: "),
	    &l, HTTP_M_GET, &resp, &hl, &why), HTTP1_INCOMPLETE);
}
END_TEST

/* ---- chunked decoder (RFC 9112 §7.1) ---- */

struct dechunk {
	enum chunked_result	r;
	size_t			consumed;
	char			data[512];
	size_t			data_len;
};

/*
 * Decodes in[0..len) feeding it `piece` bytes at a time (re-feeding what a call
 * left unconsumed), until DONE, ERROR or the end of the input.
 */
static void
dechunk(const char *in, size_t len, size_t piece, struct http1_chunked *c,
    struct dechunk *out)
{
	size_t off = 0, avail = 0, used, dlen;
	const char *data;
	enum chunked_result r = CHUNKED_NEED_MORE;

	memset(out, 0, sizeof(*out));
	for (;;) {
		if (avail == 0 || r == CHUNKED_NEED_MORE) {
			if (off + avail == len)
				break;
			avail += piece;
			if (off + avail > len)
				avail = len - off;
		}
		r = http1_chunked_feed(c, in + off, avail, &used, &data, &dlen);
		ck_assert_uint_le(used, avail);
		if (r == CHUNKED_DATA) {
			ck_assert_uint_gt(dlen, 0);
			ck_assert(data >= in + off && data + dlen == in + off + used);
			ck_assert_uint_le(out->data_len + dlen, sizeof(out->data));
			memcpy(out->data + out->data_len, data, dlen);
			out->data_len += dlen;
		} else {
			ck_assert_uint_eq(dlen, 0);
		}
		off += used;
		avail -= used;
		if (r == CHUNKED_DONE || r == CHUNKED_ERROR)
			break;
		if (r == CHUNKED_NEED_MORE)
			ck_assert_uint_eq(avail, 0);
	}
	out->r = r;
	out->consumed = off;
}

static void
dechunk_default(const char *in, size_t len, size_t piece, struct dechunk *out)
{
	struct http1_chunked c;

	http1_chunked_init(&c);
	dechunk(in, len, piece, &c, out);
}

START_TEST(test_rfc9112_7_1_chunked_basic)
{
	static const char in[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
	struct dechunk d;

	dechunk_default(S(in), sizeof(in), &d);
	ck_assert_int_eq(d.r, CHUNKED_DONE);
	ck_assert_uint_eq(d.consumed, sizeof(in) - 1);
	ck_assert_uint_eq(d.data_len, 11);
	ck_assert_mem_eq(d.data, "hello world", 11);
}
END_TEST

START_TEST(test_rfc9112_7_1_chunked_defaults)
{
	struct http1_chunked c;

	http1_chunked_init(&c);
	ck_assert_uint_eq(c.max_line, 4096);
	ck_assert_uint_eq(c.max_trailer, 16384);
	ck_assert_uint_eq(c.remaining, 0);
}
END_TEST

/* Splitting the input anywhere, or feeding one byte at a time, changes nothing. */
START_TEST(test_rfc9112_7_1_chunked_any_split)
{
	static const char in[] =
	    "A;name=\"v;\\\"al\" ; x = y\r\n0123456789\r\n"
	    "1 ;e\r\nZ\r\n"
	    "00010\r\nabcdefghijklmnop\r\n"
	    "0\r\nX-Trailer: t\r\nY:\r\n\r\n"
	    "GET /next";
	const size_t body_end = sizeof(in) - 1 - 9;
	struct dechunk whole, d;
	size_t piece, cut;

	dechunk_default(S(in), sizeof(in), &whole);
	ck_assert_int_eq(whole.r, CHUNKED_DONE);
	ck_assert_uint_eq(whole.consumed, body_end);
	ck_assert_uint_eq(whole.data_len, 27);
	ck_assert_mem_eq(whole.data, "0123456789Zabcdefghijklmnop", 27);
	for (piece = 1; piece < 8; piece++) {
		dechunk_default(S(in), piece, &d);
		ck_assert_int_eq(d.r, CHUNKED_DONE);
		ck_assert_uint_eq(d.consumed, body_end);
		ck_assert_uint_eq(d.data_len, whole.data_len);
		ck_assert_mem_eq(d.data, whole.data, whole.data_len);
	}
	/* Two calls, cut at every byte. */
	for (cut = 0; cut <= body_end; cut++) {
		struct http1_chunked c;
		const char *data;
		size_t used, dlen, got = 0, off = 0;
		char out[64];
		enum chunked_result r;

		http1_chunked_init(&c);
		do {
			size_t end = off < cut ? cut : sizeof(in) - 1;

			r = http1_chunked_feed(&c, in + off, end - off, &used, &data, &dlen);
			if (r == CHUNKED_DATA) {
				memcpy(out + got, data, dlen);
				got += dlen;
			}
			off += used;
		} while (r == CHUNKED_DATA || (r == CHUNKED_NEED_MORE && off < sizeof(in) - 1));
		ck_assert_msg(r == CHUNKED_DONE, "cut %zu: %d", cut, r);
		ck_assert_uint_eq(off, body_end);
		ck_assert_uint_eq(got, 27);
		ck_assert_mem_eq(out, whole.data, 27);
	}
}
END_TEST

START_TEST(test_rfc9112_7_1_chunked_done_leaves_next_message)
{
	static const char in[] = "0\r\n\r\nHTTP/1.1 200 OK\r\n";
	struct http1_chunked c;
	const char *data;
	size_t used, dlen;

	http1_chunked_init(&c);
	ck_assert_int_eq(http1_chunked_feed(&c, S(in), &used, &data, &dlen), CHUNKED_DONE);
	ck_assert_uint_eq(used, 5);
	ck_assert_int_eq(http1_chunked_feed(&c, in + 5, sizeof(in) - 6, &used, &data, &dlen),
	    CHUNKED_DONE);
	ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(test_rfc9112_7_1_chunked_hex_sizes)
{
	static const struct {
		const char		*in;
		enum chunked_result	r;
		unsigned long long	remaining;
	} cases[] = {
		{ "a\r\n", CHUNKED_NEED_MORE, 10 },
		{ "A\r\n", CHUNKED_NEED_MORE, 10 },
		{ "0000000000000fF\r\n", CHUNKED_NEED_MORE, 255 },
		{ "7fffffffffffffff\r\n", CHUNKED_NEED_MORE, 0x7fffffffffffffffULL },
		{ "7FFFFFFFFFFFFFFF;x\r\n", CHUNKED_NEED_MORE, 0x7fffffffffffffffULL },
		/* More than 63 bits or more than 16 digits. */
		{ "8000000000000000\r\n", CHUNKED_ERROR, 0 },
		{ "ffffffffffffffff\r\n", CHUNKED_ERROR, 0 },
		{ "10000000000000000\r\n", CHUNKED_ERROR, 0 },
		{ "00000000000000001\r\n", CHUNKED_ERROR, 0 },
		{ "\r\n", CHUNKED_ERROR, 0 },
		{ "g\r\n", CHUNKED_ERROR, 0 },
		{ "-1\r\n", CHUNKED_ERROR, 0 },
		{ "+1\r\n", CHUNKED_ERROR, 0 },
		{ "0x5\r\n", CHUNKED_ERROR, 0 },
		{ " 5\r\n", CHUNKED_ERROR, 0 },
		{ "5 \r\n", CHUNKED_ERROR, 0 },
		{ "5\n", CHUNKED_ERROR, 0 },
		{ "5\r\r\n", CHUNKED_ERROR, 0 },
		{ ";x\r\n", CHUNKED_ERROR, 0 },
	};
	struct http1_chunked c;
	const char *data;
	size_t i, used, dlen;
	enum chunked_result r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http1_chunked_init(&c);
		r = http1_chunked_feed(&c, cases[i].in, strlen(cases[i].in), &used, &data, &dlen);
		ck_assert_msg(r == cases[i].r, "\"%s\": %d", cases[i].in, r);
		if (r == CHUNKED_NEED_MORE) {
			ck_assert_uint_eq(used, strlen(cases[i].in));
			ck_assert_uint_eq(c.remaining, cases[i].remaining);
		}
	}
}
END_TEST

START_TEST(test_rfc9112_7_1_1_chunk_extensions)
{
	static const struct {
		const char		*in;
		enum chunked_result	r;
	} cases[] = {
		{ "1;a\r\nx\r\n0\r\n\r\n", CHUNKED_DONE },
		{ "1;a=b\r\nx\r\n0\r\n\r\n", CHUNKED_DONE },
		{ "1 \t; a = b ;c;d=\"\"\r\nx\r\n0;last\r\n\r\n", CHUNKED_DONE },
		{ "1;a=\"q\\\"\\\\;,\x80\"\r\nx\r\n0\r\n\r\n", CHUNKED_DONE },
		{ "1;a=\"x\" ;b\r\nx\r\n0\r\n\r\n", CHUNKED_DONE },
		{ "1;\r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
		{ "1;=b\r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
		{ "1;a=\r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
		{ "1;a=b c\r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
		{ "1;a \r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
		{ "1;a=b \r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
		{ "1;a=\"b\r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
		{ "1;a=\"b\"c\r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
		{ "1;a=\"\x01\"\r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
		{ "1;a=\"\\\x01\"\r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
		{ "1;a(b)\r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
		{ "1;a=b\n\r\nx\r\n0\r\n\r\n", CHUNKED_ERROR },
	};
	struct dechunk d;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dechunk_default(cases[i].in, strlen(cases[i].in), 1, &d);
		ck_assert_msg(d.r == cases[i].r, "case %zu: %d", i, d.r);
		if (d.r == CHUNKED_DONE) {
			ck_assert_uint_eq(d.data_len, 1);
			ck_assert_uint_eq(d.consumed, strlen(cases[i].in));
		}
	}
}
END_TEST

START_TEST(test_rfc9112_7_1_crlf_after_data_required)
{
	static const char *const bad[] = {
		"5\r\nhelloX\r\n0\r\n\r\n",
		"5\r\nhello\n0\r\n\r\n",
		"5\r\nhello\r0\r\n\r\n",
		"5\r\nhello0\r\n\r\n",
		"5\r\nhello world\r\n0\r\n\r\n",
	};
	struct dechunk d;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dechunk_default(bad[i], strlen(bad[i]), 64, &d);
		ck_assert_msg(d.r == CHUNKED_ERROR, "case %zu: %d", i, d.r);
		ck_assert_uint_eq(d.data_len, 5);
	}
}
END_TEST

START_TEST(test_rfc9112_7_1_2_trailers)
{
	static const struct {
		const char		*in;
		enum chunked_result	r;
	} cases[] = {
		{ "0\r\nX-Checksum: abc\r\nY:\t v \r\n\r\n", CHUNKED_DONE },
		{ "0\r\nX:\r\n\r\n", CHUNKED_DONE },
		{ "0\r\n X: a\r\n\r\n", CHUNKED_ERROR },
		{ "0\r\nX: a\r\n b\r\n\r\n", CHUNKED_ERROR },
		{ "0\r\nX : a\r\n\r\n", CHUNKED_ERROR },
		{ "0\r\n: a\r\n\r\n", CHUNKED_ERROR },
		{ "0\r\nX: a\x01\r\n\r\n", CHUNKED_ERROR },
		{ "0\r\nX: a\n\r\n", CHUNKED_ERROR },
		{ "0\r\nX: a\r\n\n", CHUNKED_ERROR },
		{ "0\r\nX: a\rb\r\n\r\n", CHUNKED_ERROR },
		{ "0\r\n\n", CHUNKED_ERROR },
		{ "0\r\n\rX", CHUNKED_ERROR },
		{ "0\r\nNoColon\r\n\r\n", CHUNKED_ERROR },
	};
	struct dechunk d;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dechunk_default(cases[i].in, strlen(cases[i].in), 1, &d);
		ck_assert_msg(d.r == cases[i].r, "case %zu: %d", i, d.r);
		ck_assert_uint_eq(d.data_len, 0);
	}
}
END_TEST

START_TEST(test_rfc9112_7_1_line_and_trailer_limits)
{
	struct http1_chunked c;
	struct dechunk d;

	http1_chunked_init(&c);
	c.max_line = 7;	/* the size line with its CRLF */
	dechunk(S("5;abc\r\nhello\r\n0\r\n\r\n"), 3, &c, &d);
	ck_assert_int_eq(d.r, CHUNKED_DONE);
	http1_chunked_init(&c);
	c.max_line = 7;
	dechunk(S("5;abcd\r\nhello\r\n0\r\n\r\n"), 3, &c, &d);
	ck_assert_int_eq(d.r, CHUNKED_ERROR);
	ck_assert_uint_eq(d.data_len, 0);

	http1_chunked_init(&c);
	c.max_trailer = 11;	/* trailer lines and the final CRLF */
	dechunk(S("0\r\nA: 1234\r\n\r\n"), 1, &c, &d);
	ck_assert_int_eq(d.r, CHUNKED_DONE);
	http1_chunked_init(&c);
	c.max_trailer = 11;
	dechunk(S("0\r\nA: 12345\r\n\r\n"), 1, &c, &d);
	ck_assert_int_eq(d.r, CHUNKED_ERROR);
}
END_TEST

START_TEST(test_rfc9112_7_1_error_is_sticky)
{
	struct http1_chunked c;
	const char *data;
	size_t used, dlen;

	http1_chunked_init(&c);
	ck_assert_int_eq(http1_chunked_feed(&c, S("z"), &used, &data, &dlen), CHUNKED_ERROR);
	ck_assert_int_eq(http1_chunked_feed(&c, S("0\r\n\r\n"), &used, &data, &dlen), CHUNKED_ERROR);
	ck_assert_uint_eq(used, 0);
	http1_chunked_init(&c);
	ck_assert_int_eq(http1_chunked_feed(&c, S(""), &used, &data, &dlen), CHUNKED_NEED_MORE);
	ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(test_rfc9112_7_1_large_chunk_streams)
{
	struct http1_chunked c;
	const char *data;
	size_t used, dlen;
	char buf[4096];

	memset(buf, 'x', sizeof(buf));
	http1_chunked_init(&c);
	ck_assert_int_eq(http1_chunked_feed(&c, S("100000\r\n"), &used, &data, &dlen), CHUNKED_NEED_MORE);
	ck_assert_uint_eq(c.remaining, 0x100000);
	ck_assert_int_eq(http1_chunked_feed(&c, buf, sizeof(buf), &used, &data, &dlen), CHUNKED_DATA);
	ck_assert_ptr_eq(data, buf);
	ck_assert_uint_eq(dlen, sizeof(buf));
	ck_assert_uint_eq(c.remaining, 0x100000 - sizeof(buf));
}
END_TEST

START_TEST(test_rfc9112_7_1_pipelined_chunked_request)
{
	static const char in[] =
	    "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\n\r\n"
	    "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
	struct http_request req;
	struct dechunk d;
	size_t hl, off;

	parse_ok(S(in), &lim, &req, &hl);
	ck_assert_int_eq(req.body, BODY_CHUNKED);
	http1_request_free(&req);
	dechunk_default(in + hl, sizeof(in) - 1 - hl, 1, &d);
	ck_assert_int_eq(d.r, CHUNKED_DONE);
	ck_assert_mem_eq(d.data, "abc", 3);
	off = hl + d.consumed;
	parse_ok(in + off, sizeof(in) - 1 - off, &lim, &req, &hl);
	ck_assert_str_eq(req.path, "/b");
	ck_assert_uint_eq(off + hl, sizeof(in) - 1);
	http1_request_free(&req);
}
END_TEST

/* ---- serialisation ---- */

static char *
drain(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

START_TEST(test_rfc9112_3_write_request_head_round_trip)
{
	struct evbuffer *b = evbuffer_new();
	struct fields f;
	struct http_request req;
	size_t hl;
	char *s;

	fields_init(&f);
	fields_add_str(&f, "Host", "origin.example");
	fields_add_str(&f, "X-Forwarded-For", "192.0.2.1");
	http1_write_request_head(b, "GET", "/p?q", &f);
	s = drain(b);
	ck_assert_str_eq(s, "GET /p?q HTTP/1.1\r\nHost: origin.example\r\n"
	    "X-Forwarded-For: 192.0.2.1\r\n\r\n");
	parse_ok(s, strlen(s), &lim, &req, &hl);
	ck_assert_uint_eq(hl, strlen(s));
	ck_assert_str_eq(req.authority, "origin.example");
	http1_request_free(&req);
	free(s);
	fields_free(&f);
	fields_init(&f);
	http1_write_request_head(b, "OPTIONS", "*", &f);
	s = drain(b);
	ck_assert_str_eq(s, "OPTIONS * HTTP/1.1\r\n\r\n");
	free(s);
	evbuffer_free(b);
}
END_TEST

START_TEST(test_rfc9112_4_write_response_head)
{
	struct evbuffer *b = evbuffer_new();
	struct fields f;
	struct http_response resp;
	size_t hl;
	char *s;

	fields_init(&f);
	fields_add_str(&f, "Content-Length", "0");
	http1_write_response_head(b, 404, NULL, &f);
	s = drain(b);
	ck_assert_str_eq(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	resp_ok(s, strlen(s), HTTP_M_GET, &resp, &hl);
	ck_assert_int_eq(resp.status, 404);
	ck_assert_int_eq(resp.body, BODY_NONE);
	http1_response_free(&resp);
	free(s);
	http1_write_response_head(b, 299, "Custom Thing", &f);
	s = drain(b);
	ck_assert_str_eq(s, "HTTP/1.1 299 Custom Thing\r\nContent-Length: 0\r\n\r\n");
	free(s);
	fields_free(&f);
	evbuffer_free(b);
}
END_TEST

START_TEST(test_rfc9112_7_1_write_chunk_round_trip)
{
	struct evbuffer *b = evbuffer_new();
	char big[300];
	struct dechunk d;
	char *s;

	memset(big, 'b', sizeof(big));
	http1_write_chunk(b, "hello", 5);
	s = drain(b);
	ck_assert_str_eq(s, "5\r\nhello\r\n");
	free(s);
	http1_write_chunk(b, big, 255);
	http1_write_chunk(b, big, 16);
	http1_write_chunk(b, NULL, 0);
	s = drain(b);
	ck_assert_mem_eq(s, "ff\r\n", 4);
	ck_assert_mem_eq(s + 4 + 255, "\r\n10\r\n", 6);
	ck_assert_str_eq(s + strlen(s) - 5, "0\r\n\r\n");
	dechunk_default(s, strlen(s), 7, &d);
	ck_assert_int_eq(d.r, CHUNKED_DONE);
	ck_assert_uint_eq(d.data_len, 271);
	ck_assert_uint_eq(d.consumed, strlen(s));
	free(s);
	evbuffer_free(b);
}
END_TEST

START_TEST(test_rfc9110_15_status_reasons)
{
	static const int known[] = {
		100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303,
		304, 305, 306, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407,
		408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422,
		426, 429, 431, 500, 501, 502, 503, 504, 505,
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ck_assert_msg(strcmp(http_status_reason(known[i]), "Unknown") != 0,
		    "%d", known[i]);
	ck_assert_str_eq(http_status_reason(200), "OK");
	ck_assert_str_eq(http_status_reason(413), "Content Too Large");
	ck_assert_str_eq(http_status_reason(422), "Unprocessable Content");
	ck_assert_str_eq(http_status_reason(431), "Request Header Fields Too Large");
	ck_assert_str_eq(http_status_reason(599), "Unknown");
	ck_assert_str_eq(http_status_reason(0), "Unknown");
}
END_TEST

static Suite *
http1_suite(void)
{
	Suite *s = suite_create("http1");
	TCase *tc;

	tc = tcase_create("request_line");
	tcase_add_test(tc, test_rfc9112_3_2_1_origin_form);
	tcase_add_test(tc, test_rfc9112_3_2_2_absolute_form_replaces_host);
	tcase_add_test(tc, test_rfc9112_3_2_1_absolute_form_empty_path_is_slash);
	tcase_add_test(tc, test_rfc9112_3_2_2_absolute_form_http10_without_host);
	tcase_add_test(tc, test_rfc9112_3_2_2_absolute_form_rejections);
	tcase_add_test(tc, test_rfc9112_3_2_3_authority_form_connect);
	tcase_add_test(tc, test_rfc9112_3_2_3_connect_refused_unless_allowed);
	tcase_add_test(tc, test_rfc9112_3_2_4_asterisk_form);
	tcase_add_test(tc, test_rfc9110_9_1_methods_case_sensitive);
	tcase_add_test(tc, test_rfc9110_9_2_safe_and_idempotent);
	tcase_add_test(tc, test_rfc9112_3_malformed_request_lines);
	tcase_add_test(tc, test_rfc9112_2_3_versions);
	tcase_add_test(tc, test_rfc9112_2_2_leading_empty_lines_skipped);
	tcase_add_test(tc, test_rfc9112_9_pipelined_requests);
	tcase_add_test(tc, test_rfc9112_head_survives_buffer_reuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_add_test(tc, test_rfc9112_5_field_values_trimmed_and_validated);
	tcase_add_test(tc, test_rfc9112_5_2_obs_fold_rejected);
	tcase_add_test(tc, test_rfc9112_5_1_field_name_errors);
	tcase_add_test(tc, test_rfc9110_5_5_field_value_bytes_rejected);
	tcase_add_test(tc, test_rfc9112_2_2_bare_cr_rejected);
	tcase_add_test(tc, test_rfc9112_2_2_bare_lf_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("framing");
	tcase_add_test(tc, test_rfc9110_8_6_content_length_values);
	tcase_add_test(tc, test_rfc9112_6_3_repeated_content_length_fields);
	tcase_add_test(tc, test_rfc9112_6_1_chunked_request);
	tcase_add_test(tc, test_rfc9112_6_1_te_and_cl_rejected);
	tcase_add_test(tc, test_rfc9112_6_1_te_in_http10_rejected);
	tcase_add_test(tc, test_rfc9112_6_3_te_final_not_chunked_rejected);
	tcase_add_test(tc, test_rfc9112_7_chunked_twice_rejected);
	tcase_add_test(tc, test_rfc9112_6_1_unknown_coding_501);
	tcase_add_test(tc, test_rfc9112_3_2_host_required_once_and_valid);
	tcase_add_test(tc, test_rfc9112_9_3_keep_alive);
	tcase_add_test(tc, test_rfc9110_10_1_1_expect);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_rfc9112_3_request_line_limit_414);
	tcase_add_test(tc, test_rfc6585_5_head_size_limit_431);
	tcase_add_test(tc, test_rfc6585_5_field_count_limit_431);
	tcase_add_test(tc, test_rfc9112_incomplete_allocates_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("response");
	tcase_add_test(tc, test_rfc9112_4_status_line);
	tcase_add_test(tc, test_rfc9112_4_malformed_status_lines);
	tcase_add_test(tc, test_rfc9112_5_2_response_obs_fold_replaced);
	tcase_add_test(tc, test_rfc9112_6_3_response_framing);
	tcase_add_test(tc, test_rfc6585_5_response_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("chunked");
	tcase_add_test(tc, test_rfc9112_7_1_chunked_basic);
	tcase_add_test(tc, test_rfc9112_7_1_chunked_defaults);
	tcase_add_test(tc, test_rfc9112_7_1_chunked_any_split);
	tcase_add_test(tc, test_rfc9112_7_1_chunked_done_leaves_next_message);
	tcase_add_test(tc, test_rfc9112_7_1_chunked_hex_sizes);
	tcase_add_test(tc, test_rfc9112_7_1_1_chunk_extensions);
	tcase_add_test(tc, test_rfc9112_7_1_crlf_after_data_required);
	tcase_add_test(tc, test_rfc9112_7_1_2_trailers);
	tcase_add_test(tc, test_rfc9112_7_1_line_and_trailer_limits);
	tcase_add_test(tc, test_rfc9112_7_1_error_is_sticky);
	tcase_add_test(tc, test_rfc9112_7_1_large_chunk_streams);
	tcase_add_test(tc, test_rfc9112_7_1_pipelined_chunked_request);
	suite_add_tcase(s, tc);

	tc = tcase_create("serialisation");
	tcase_add_test(tc, test_rfc9112_3_write_request_head_round_trip);
	tcase_add_test(tc, test_rfc9112_4_write_response_head);
	tcase_add_test(tc, test_rfc9112_7_1_write_chunk_round_trip);
	tcase_add_test(tc, test_rfc9110_15_status_reasons);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http1_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

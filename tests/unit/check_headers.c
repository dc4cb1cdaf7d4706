/*
 * check_headers.c: unit tests for src/headers.c (field lists, list members
 * and tokens, the byte-class table, hop-by-hop stripping, HTTP dates).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headers.h"

/* ---- byte classes: every entry against the RFC definitions ---- */

static const char alpha_digit[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static bool
in_set(int c, const char *set)
{
	return c != 0 && strchr(set, c) != NULL;
}

/* The store's header block: fields survive a round trip in order. */
START_TEST(test_field_block_round_trip)
{
	struct fields f, g;
	char *b;
	size_t len;

	fields_init(&f);
	fields_init(&g);
	fields_add_str(&f, "Content-Type", "text/plain");
	fields_add_str(&f, "Set-Cookie", "a=1");
	fields_add_str(&f, "Set-Cookie", "b=2");
	fields_add_str(&f, "X-Empty", "");
	b = fields_to_block(&f, &len);
	ck_assert_str_eq(b, "Content-Type: text/plain\r\nSet-Cookie: a=1\r\n"
	    "Set-Cookie: b=2\r\nX-Empty: \r\n");
	ck_assert_uint_eq(len, strlen(b));
	ck_assert_int_eq(fields_from_block_ref(&g, b, len), 0);
	ck_assert_uint_eq(g.n, 4);
	ck_assert_str_eq(g.v[2].name, "Set-Cookie");
	ck_assert_str_eq(g.v[2].value, "b=2");
	ck_assert_str_eq(g.v[3].value, "");
	fields_free(&g);
	free(b);
	fields_free(&f);
}
END_TEST

START_TEST(test_field_block_rejects_line_without_colon)
{
	struct fields g;
	char bad[] = "A: 1\r\nno colon here\r\n";

	fields_init(&g);
	ck_assert_int_eq(fields_from_block_ref(&g, bad, sizeof(bad) - 1), -1);
	ck_assert_uint_eq(g.n, 1);
	fields_free(&g);
}
END_TEST

START_TEST(test_rfc9110_5_6_2_tchar_class)
{
	int c;
	char set[128];

	snprintf(set, sizeof(set), "%s%s", alpha_digit, "!#$%&'*+-.^_`|~");
	for (c = 0; c < 256; c++)
		ck_assert_msg(headers_is((unsigned char)c, HDR_C_TCHAR) ==
		    in_set(c, set), "tchar 0x%02x", c);
}
END_TEST

START_TEST(test_rfc9110_5_5_field_value_class)
{
	int c;
	bool want;

	for (c = 0; c < 256; c++) {
		want = (c >= 0x21 && c <= 0x7e) || c >= 0x80 || c == ' ' || c == '\t';
		ck_assert_msg(headers_is((unsigned char)c, HDR_C_FVALUE) == want,
		    "field-value 0x%02x", c);
	}
}
END_TEST

START_TEST(test_rfc3986_other_classes)
{
	int c;
	char reg[128];
	bool qd;

	snprintf(reg, sizeof(reg), "%s%s", alpha_digit, "-._~!$&'()*+,;=");
	for (c = 0; c < 256; c++) {
		ck_assert_msg(headers_is((unsigned char)c, HDR_C_HEX) ==
		    in_set(c, "0123456789abcdefABCDEF"), "hex 0x%02x", c);
		ck_assert_msg(headers_is((unsigned char)c, HDR_C_DIGIT) ==
		    in_set(c, "0123456789"), "digit 0x%02x", c);
		ck_assert_msg(headers_is((unsigned char)c, HDR_C_REGNAME) ==
		    in_set(c, reg), "reg-name 0x%02x", c);
		ck_assert_msg(headers_is((unsigned char)c, HDR_C_TARGET) ==
		    (c >= 0x21 && c <= 0x7e && c != '#'), "target 0x%02x", c);
		ck_assert_msg(headers_is((unsigned char)c, HDR_C_WS) ==
		    (c == ' ' || c == '\t'), "ws 0x%02x", c);
		/* RFC 9110 §5.6.4 qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
		qd = c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
		    (c >= 0x5d && c <= 0x7e) || c >= 0x80;
		ck_assert_msg(headers_is((unsigned char)c, HDR_C_QDTEXT) == qd,
		    "qdtext 0x%02x", c);
	}
}
END_TEST

START_TEST(test_rfc9110_5_6_2_is_token)
{
	ck_assert(is_token("Content-Type", 12));
	ck_assert(is_token("!#$%&'*+-.^_`|~09azAZ", 21));
	ck_assert(!is_token("", 0));
	ck_assert(!is_token("a b", 3));
	ck_assert(!is_token("a:b", 3));
	ck_assert(!is_token("a\"b", 3));
	ck_assert(!is_token("a\0b", 3));
	ck_assert(!is_token("\xc3\xa9", 2));
}
END_TEST

START_TEST(test_rfc9110_5_5_is_field_value)
{
	ck_assert(is_field_value("", 0));
	ck_assert(is_field_value("text/html; q=0.5, \t\"x\"", 22));
	ck_assert(is_field_value("caf\xc3\xa9", 5));
	ck_assert(!is_field_value("a\rb", 3));
	ck_assert(!is_field_value("a\nb", 3));
	ck_assert(!is_field_value("a\0b", 3));
	ck_assert(!is_field_value("a\x7f", 2));
	ck_assert(!is_field_value("\x01", 1));
}
END_TEST

START_TEST(test_rfc9110_5_1_str_ieq)
{
	ck_assert(str_ieq("content-LENGTH", 14, "Content-Length"));
	ck_assert(!str_ieq("Content-Lengt", 13, "Content-Length"));
	ck_assert(!str_ieq("Content-Lengths", 15, "Content-Length"));
	ck_assert(str_ieq("", 0, ""));
	ck_assert(!str_ieq("a", 1, ""));
	/* Only ASCII letters fold: 0xc0 is not 0xe0. */
	ck_assert(!str_ieq("\xc0", 1, "\xe0"));
}
END_TEST

/* ---- field lists ---- */

START_TEST(test_fields_add_get_count_remove)
{
	struct fields f;
	const struct field *fl;

	fields_init(&f);
	fields_add_str(&f, "Host", "a.example");
	fields_add(&f, "Accept", 6, "text/htmlXX", 9);
	fields_add_str(&f, "accept", "*/*");
	ck_assert_uint_eq(f.n, 3);
	fl = fields_get(&f, "ACCEPT");
	ck_assert_ptr_nonnull(fl);
	ck_assert_str_eq(fl->value, "text/html");
	ck_assert_uint_eq(fl->value_len, 9);
	ck_assert_uint_eq(fields_count(&f, "Accept"), 2);
	ck_assert_ptr_null(fields_get(&f, "Age"));
	ck_assert_uint_eq(fields_remove(&f, "accept"), 2);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(f.v[0].name, "Host");
	ck_assert_uint_eq(fields_remove(&f, "accept"), 0);
	fields_free(&f);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_ptr_null(f.v);
}
END_TEST

START_TEST(test_fields_remove_at_keeps_order)
{
	struct fields f;

	fields_init(&f);
	fields_add_str(&f, "A", "1");
	fields_add_str(&f, "B", "2");
	fields_add_str(&f, "C", "3");
	fields_remove_at(&f, 1);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_str_eq(f.v[0].name, "A");
	ck_assert_str_eq(f.v[1].name, "C");
	fields_free(&f);
}
END_TEST

START_TEST(test_fields_set_replaces_all_in_place)
{
	struct fields f;

	fields_init(&f);
	fields_add_str(&f, "A", "1");
	fields_add_str(&f, "Via", "x");
	fields_add_str(&f, "B", "2");
	fields_add_str(&f, "via", "y");
	fields_set(&f, "Via", "1.1 freshd");
	ck_assert_uint_eq(f.n, 3);
	ck_assert_str_eq(f.v[1].name, "Via");
	ck_assert_str_eq(f.v[1].value, "1.1 freshd");
	ck_assert_str_eq(f.v[2].name, "B");
	fields_set(&f, "Age", "5");
	ck_assert_uint_eq(f.n, 4);
	ck_assert_str_eq(f.v[3].name, "Age");
	ck_assert_str_eq(f.v[3].value, "5");
	fields_free(&f);
}
END_TEST

START_TEST(test_fields_ref_not_freed_and_copy_is_deep)
{
	/* A referenced entry points at this stack buffer: freeing it would trip ASan. */
	char buf[] = "X-Ref\0value";
	struct fields f, g;

	fields_init(&f);
	fields_add_ref(&f, buf, 5, buf + 6, 5);
	fields_add_str(&f, "Owned", "yes");
	fields_copy(&g, &f);
	ck_assert_uint_eq(g.n, 2);
	ck_assert(g.v[0].owned);
	ck_assert_ptr_ne(g.v[0].name, buf);
	ck_assert_str_eq(g.v[0].name, "X-Ref");
	ck_assert_str_eq(g.v[0].value, "value");
	ck_assert_str_eq(g.v[1].value, "yes");
	fields_free(&f);
	ck_assert_str_eq(g.v[0].value, "value");
	fields_free(&g);
	ck_assert_str_eq(buf + 6, "value");

	fields_init(&f);
	fields_copy(&g, &f);
	ck_assert_uint_eq(g.n, 0);
	fields_free(&g);
}
END_TEST

/* A view shares the strings: removing from it leaves the source whole. */
START_TEST(test_fields_view)
{
	struct fields f, g;

	fields_init(&f);
	fields_add_str(&f, "Age", "3");
	fields_add_str(&f, "ETag", "\"a\"");
	fields_view(&g, &f);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_ptr_eq(g.v[1].value, f.v[1].value);
	ck_assert(!g.v[0].owned);
	ck_assert_uint_eq(fields_remove(&g, "age"), 1);
	fields_add_str(&g, "X-New", "1");
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(g.v[0].name, "ETag");
	fields_free(&g);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_str_eq(fields_get(&f, "Age")->value, "3");
	fields_free(&f);

	fields_init(&f);
	fields_view(&g, &f);
	ck_assert_uint_eq(g.n, 0);
	fields_free(&g);
}
END_TEST

START_TEST(test_fields_many_grow)
{
	struct fields f;
	char name[16];
	int i;

	fields_init(&f);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "X-%d", i);
		fields_add_str(&f, name, name);
	}
	ck_assert_uint_eq(f.n, 200);
	ck_assert_str_eq(fields_get(&f, "x-199")->value, "X-199");
	fields_free(&f);
}
END_TEST

/* ---- lists (RFC 9110 §5.6.1) ---- */

/* Joins every member that list_next yields with '|'. */
static void
members(const char *v, char *out, size_t outlen)
{
	const char *pos = v, *tok;
	size_t len;

	out[0] = '\0';
	while (list_next(&pos, v + strlen(v), &tok, &len)) {
		if (out[0] != '\0')
			strncat(out, "|", outlen - strlen(out) - 1);
		strncat(out, tok, len < outlen - strlen(out) - 1 ? len : outlen - strlen(out) - 1);
	}
}

START_TEST(test_rfc9110_5_6_1_list_members)
{
	char out[256];

	members("a, b ,c", out, sizeof(out));
	ck_assert_str_eq(out, "a|b|c");
	members(" , ,a,,\t,b , ", out, sizeof(out));
	ck_assert_str_eq(out, "a|b");
	members("", out, sizeof(out));
	ck_assert_str_eq(out, "");
	members(" ,, ", out, sizeof(out));
	ck_assert_str_eq(out, "");
	members("text/html;q=0.5 , x; a=b", out, sizeof(out));
	ck_assert_str_eq(out, "text/html;q=0.5|x; a=b");
}
END_TEST

START_TEST(test_rfc9110_5_6_4_list_quoted_commas)
{
	char out[256];

	members("a=\"x, y\", b", out, sizeof(out));
	ck_assert_str_eq(out, "a=\"x, y\"|b");
	members("\"q\\\", r\", s", out, sizeof(out));
	ck_assert_str_eq(out, "\"q\\\", r\"|s");
	/* An unterminated quoted-string runs to the end of the value. */
	members("a, \"b, c", out, sizeof(out));
	ck_assert_str_eq(out, "a|\"b, c");
	members("W/\"1\" , \"2,3\" ", out, sizeof(out));
	ck_assert_str_eq(out, "W/\"1\"|\"2,3\"");
}
END_TEST

START_TEST(test_rfc9110_5_6_1_has_token)
{
	struct fields f;

	fields_init(&f);
	fields_add_str(&f, "Connection", "Keep-Alive , Upgrade");
	fields_add_str(&f, "Cache-Control", "private=\"no-store, x\", max-age=5");
	fields_add_str(&f, "Accept-Encoding", "gzip;q=1.0, br ; q=0.5");
	fields_add_str(&f, "connection", "close");
	ck_assert(fields_has_token(&f, "Connection", "keep-alive"));
	ck_assert(fields_has_token(&f, "Connection", "upgrade"));
	ck_assert(fields_has_token(&f, "CONNECTION", "close"));
	ck_assert(!fields_has_token(&f, "Connection", "keep"));
	ck_assert(fields_has_token(&f, "Accept-Encoding", "gzip"));
	ck_assert(fields_has_token(&f, "Accept-Encoding", "br"));
	/* A comma inside quotes does not make "no-store" a member. */
	ck_assert(!fields_has_token(&f, "Cache-Control", "no-store"));
	ck_assert(!fields_has_token(&f, "Cache-Control", "x"));
	ck_assert(!fields_has_token(&f, "Pragma", "no-cache"));
	fields_free(&f);
}
END_TEST

/* ---- hop-by-hop (RFC 9110 §7.6.1) ---- */

START_TEST(test_rfc9110_7_6_1_hop_by_hop_table)
{
	static const char *const hop[] = {
		"Connection", "keep-alive", "Proxy-Connection", "te", "Trailer",
		"TRANSFER-ENCODING", "Upgrade", "Proxy-Authorization",
		"Proxy-Authenticate",
	};
	static const char *const end[] = {
		"Host", "Content-Length", "Cache-Control", "Trailers", "T",
		"Authorization", "Connection-X",
	};
	size_t i;

	for (i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		ck_assert_msg(header_is_hop_by_hop(hop[i], strlen(hop[i])), "%s", hop[i]);
	for (i = 0; i < sizeof(end) / sizeof(end[0]); i++)
		ck_assert_msg(!header_is_hop_by_hop(end[i], strlen(end[i])), "%s", end[i]);
}
END_TEST

static void
add_hop_mix(struct fields *f)
{
	fields_init(f);
	fields_add_str(f, "Host", "a");
	fields_add_str(f, "Connection", "X-Secret, keep-alive");
	fields_add_str(f, "x-secret", "1");
	fields_add_str(f, "Keep-Alive", "timeout=5");
	fields_add_str(f, "Proxy-Connection", "keep-alive");
	fields_add_str(f, "TE", "trailers");
	fields_add_str(f, "Trailer", "X-T");
	fields_add_str(f, "Transfer-Encoding", "chunked");
	fields_add_str(f, "Upgrade", "h2c");
	fields_add_str(f, "Proxy-Authorization", "Basic eA==");
	fields_add_str(f, "Proxy-Authenticate", "Basic");
	fields_add_str(f, "connection", "x-other");
	fields_add_str(f, "X-Other", "2");
	fields_add_str(f, "Accept", "*/*");
}

START_TEST(test_rfc9110_7_6_1_strip_connection_named)
{
	struct fields f;

	add_hop_mix(&f);
	fields_strip_hop_by_hop(&f, false);
	ck_assert_uint_eq(f.n, 2);
	ck_assert_str_eq(f.v[0].name, "Host");
	ck_assert_str_eq(f.v[1].name, "Accept");
	fields_free(&f);
}
END_TEST

START_TEST(test_rfc9110_7_6_1_strip_keeps_proxy_auth)
{
	struct fields f;

	add_hop_mix(&f);
	fields_strip_hop_by_hop(&f, true);
	ck_assert_uint_eq(f.n, 4);
	ck_assert_str_eq(f.v[0].name, "Host");
	ck_assert_str_eq(f.v[1].name, "Proxy-Authorization");
	ck_assert_str_eq(f.v[2].name, "Proxy-Authenticate");
	ck_assert_str_eq(f.v[3].name, "Accept");
	fields_free(&f);
}
END_TEST

START_TEST(test_rfc9110_7_6_1_strip_ref_fields)
{
	char conn[] = "Connection\0x-a";
	char xa[] = "X-A\0v";
	struct fields f;

	fields_init(&f);
	fields_add_ref(&f, conn, 10, conn + 11, 3);
	fields_add_ref(&f, xa, 3, xa + 4, 1);
	fields_add_str(&f, "X-B", "kept");
	fields_strip_hop_by_hop(&f, false);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(f.v[0].name, "X-B");
	fields_free(&f);
	fields_init(&f);
	fields_strip_hop_by_hop(&f, false);
	ck_assert_uint_eq(f.n, 0);
}
END_TEST

/* More fields than the stripper's on-stack decision array holds. */
START_TEST(test_rfc9110_7_6_1_strip_many_fields)
{
	struct fields f;
	char name[16];
	size_t i;

	fields_init(&f);
	for (i = 0; i < 150; i++) {
		snprintf(name, sizeof(name), "X-%zu", i);
		fields_add_str(&f, name, "v");
	}
	fields_add_str(&f, "Connection", "x-149, X-7");
	fields_add_str(&f, "Upgrade", "websocket");
	fields_strip_hop_by_hop(&f, false);
	ck_assert_uint_eq(f.n, 148);
	ck_assert_ptr_null(fields_get(&f, "X-7"));
	ck_assert_ptr_null(fields_get(&f, "X-149"));
	ck_assert_str_eq(f.v[147].name, "X-148");
	fields_free(&f);
}
END_TEST

/* ---- dates (RFC 9110 §5.6.7) ---- */

/* Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example. */
#define RFC_EXAMPLE_T	((time_t)784111777)

START_TEST(test_rfc9110_5_6_7_three_formats)
{
	time_t t;

	ck_assert_int_eq(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 29, &t), 0);
	ck_assert_int_eq((long long)t, (long long)RFC_EXAMPLE_T);
	t = 0;
	ck_assert_int_eq(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t), 0);
	ck_assert_int_eq((long long)t, (long long)RFC_EXAMPLE_T);
	t = 0;
	ck_assert_int_eq(http_date_parse("Sun Nov  6 08:49:37 1994", 24, &t), 0);
	ck_assert_int_eq((long long)t, (long long)RFC_EXAMPLE_T);
	t = 0;
	ck_assert_int_eq(http_date_parse("Thu Nov 16 08:49:37 1994", 24, &t), 0);
	ck_assert_int_eq((long long)t, (long long)RFC_EXAMPLE_T + 10 * 86400);
	/* asctime's day is 2DIGIT or SP DIGIT (RFC 9110 §5.6.7). */
	ck_assert_int_eq(http_date_parse("Sun Nov 06 08:49:37 1994", 24, &t), 0);
	ck_assert_int_eq((long long)t, (long long)RFC_EXAMPLE_T);
	/* Surrounding whitespace (an untrimmed field value) is ignored. */
	ck_assert_int_eq(http_date_parse(" Sun, 06 Nov 1994 08:49:37 GMT\t", 31, &t), 0);
	ck_assert_int_eq((long long)t, (long long)RFC_EXAMPLE_T);
}
END_TEST

START_TEST(test_rfc9110_5_6_7_rfc850_two_digit_year)
{
	time_t t;
	char buf[40];

	/* 94 would be more than 50 years ahead as 2094: it is 1994. */
	ck_assert_int_eq(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t), 0);
	ck_assert_str_eq(http_date_format(t, buf, sizeof(buf)), "Sun, 06 Nov 1994 08:49:37 GMT");
	/* 05 is 2005, not 1905. */
	ck_assert_int_eq(http_date_parse("Saturday, 01-Jan-05 00:00:00 GMT", 32, &t), 0);
	ck_assert_str_eq(http_date_format(t, buf, sizeof(buf)), "Sat, 01 Jan 2005 00:00:00 GMT");
}
END_TEST

START_TEST(test_rfc9110_5_6_7_format_round_trip)
{
	static const struct {
		long long	t;
		const char	*s;
	} cases[] = {
		{ 0, "Thu, 01 Jan 1970 00:00:00 GMT" },
		{ 784111777, "Sun, 06 Nov 1994 08:49:37 GMT" },
		{ 951782400, "Tue, 29 Feb 2000 00:00:00 GMT" },
		{ 1709164799, "Wed, 28 Feb 2024 23:59:59 GMT" },
		{ 2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT" },
		{ 4107542400LL, "Mon, 01 Mar 2100 00:00:00 GMT" },
		{ 253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT" },
	};
	char buf[30];
	time_t t;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_str_eq(http_date_format((time_t)cases[i].t, buf, sizeof(buf)), cases[i].s);
		ck_assert_int_eq(http_date_parse(buf, strlen(buf), &t), 0);
		ck_assert_int_eq((long long)t, cases[i].t);
	}
	/* Every day of four years, through a leap day, survives the round trip. */
	for (i = 0; i < 4 * 366; i++) {
		long long v = 946684800LL + (long long)i * 86400 + 45296;

		http_date_format((time_t)v, buf, sizeof(buf));
		ck_assert_int_eq(http_date_parse(buf, strlen(buf), &t), 0);
		ck_assert_int_eq((long long)t, v);
	}
}
END_TEST

START_TEST(test_rfc9110_5_6_7_format_clamps)
{
	char buf[30];

	ck_assert_str_eq(http_date_format((time_t)-5, buf, sizeof(buf)), "Thu, 01 Jan 1970 00:00:00 GMT");
	ck_assert_str_eq(http_date_format((time_t)300000000000LL, buf, sizeof(buf)),
	    "Fri, 31 Dec 9999 23:59:59 GMT");
}
END_TEST

START_TEST(test_rfc9110_5_6_7_leap_second)
{
	time_t t;

	ck_assert_int_eq(http_date_parse("Sat, 31 Dec 2016 23:59:60 GMT", 29, &t), 0);
	ck_assert_int_eq((long long)t, 1483228800LL);
}
END_TEST

START_TEST(test_rfc9110_5_6_7_invalid_dates)
{
	static const char *const bad[] = {
		"",
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 06 Nov 1994 08:49:37 gmt",
		"sun, 06 Nov 1994 08:49:37 GMT",
		"Sun, 06 nov 1994 08:49:37 GMT",
		"Sun, 6 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 94 08:49:37 GMT",
		"Sun, 06 Nov 1994 8:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT",
		"Sun, 06 Nov 1994 08:60:00 GMT",
		"Sun, 06 Nov 1994 08:49:61 GMT",
		"Sun, 00 Nov 1994 08:49:37 GMT",
		"Sun, 31 Nov 1994 08:49:37 GMT",
		"Wed, 29 Feb 2023 08:49:37 GMT",
		"Thu, 29 Feb 1900 08:49:37 GMT",
		"Xyz, 06 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08:49:37 GMTX",
		"Sun,  06 Nov 1994 08:49:37 GMT",
		"Sun, 06-Nov-1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08-49-37 GMT",
		"Sun, 06 Nov 1994 08:49:37",
		"Sunday, 06-Nov-94 08:49:37 UTC",
		"Sunday, 06 Nov 94 08:49:37 GMT",
		"Sundae, 06-Nov-94 08:49:37 GMT",
		"Sunday, 6-Nov-94 08:49:37 GMT",
		"Sun Nov 6 08:49:37 1994",
		"Sun Nov  6 08:49:37 94",
		"Sun Nov 0 6 08:49:37 1994",
		"Sun Nov 06 08:49:37 19 4",
		"Sun Nov  6 08:49:37\t1994",
		"1994-11-06T08:49:37Z",
		"784111777",
	};
	time_t t;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(http_date_parse(bad[i], strlen(bad[i]), &t) == -1,
		    "accepted \"%s\"", bad[i]);
	/* A valid date with an embedded NUL in the length is not accepted. */
	ck_assert_int_eq(http_date_parse("Sun, 06 Nov 1994 08:49:37 G\0T", 29, &t), -1);
}
END_TEST

START_TEST(test_rfc9110_5_6_7_leap_years)
{
	time_t t;

	ck_assert_int_eq(http_date_parse("Tue, 29 Feb 2000 00:00:00 GMT", 29, &t), 0);
	ck_assert_int_eq(http_date_parse("Thu, 29 Feb 2024 00:00:00 GMT", 29, &t), 0);
	ck_assert_int_eq(http_date_parse("Mon, 29 Feb 2100 00:00:00 GMT", 29, &t), -1);
	ck_assert_int_eq(http_date_parse("Tue Feb 29 12:00:00 2000", 24, &t), 0);
	ck_assert_int_eq((long long)t, 951825600LL);
}
END_TEST

static Suite *
headers_suite(void)
{
	Suite *s = suite_create("headers");
	TCase *tc;

	tc = tcase_create("classes");
	tcase_add_test(tc, test_rfc9110_5_6_2_tchar_class);
	tcase_add_test(tc, test_rfc9110_5_5_field_value_class);
	tcase_add_test(tc, test_rfc3986_other_classes);
	tcase_add_test(tc, test_rfc9110_5_6_2_is_token);
	tcase_add_test(tc, test_rfc9110_5_5_is_field_value);
	tcase_add_test(tc, test_rfc9110_5_1_str_ieq);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_add_test(tc, test_fields_add_get_count_remove);
	tcase_add_test(tc, test_fields_remove_at_keeps_order);
	tcase_add_test(tc, test_fields_set_replaces_all_in_place);
	tcase_add_test(tc, test_fields_ref_not_freed_and_copy_is_deep);
	tcase_add_test(tc, test_fields_view);
	tcase_add_test(tc, test_fields_many_grow);
	suite_add_tcase(s, tc);

	tc = tcase_create("lists");
	tcase_add_test(tc, test_rfc9110_5_6_1_list_members);
	tcase_add_test(tc, test_rfc9110_5_6_4_list_quoted_commas);
	tcase_add_test(tc, test_rfc9110_5_6_1_has_token);
	suite_add_tcase(s, tc);

	tc = tcase_create("hop_by_hop");
	tcase_add_test(tc, test_rfc9110_7_6_1_hop_by_hop_table);
	tcase_add_test(tc, test_rfc9110_7_6_1_strip_connection_named);
	tcase_add_test(tc, test_rfc9110_7_6_1_strip_keeps_proxy_auth);
	tcase_add_test(tc, test_rfc9110_7_6_1_strip_ref_fields);
	tcase_add_test(tc, test_rfc9110_7_6_1_strip_many_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("dates");
	tcase_add_test(tc, test_rfc9110_5_6_7_three_formats);
	tcase_add_test(tc, test_rfc9110_5_6_7_rfc850_two_digit_year);
	tcase_add_test(tc, test_rfc9110_5_6_7_format_round_trip);
	tcase_add_test(tc, test_rfc9110_5_6_7_format_clamps);
	tcase_add_test(tc, test_rfc9110_5_6_7_leap_second);
	tcase_add_test(tc, test_rfc9110_5_6_7_invalid_dates);
	tcase_add_test(tc, test_rfc9110_5_6_7_leap_years);
	tcase_add_test(tc, test_field_block_round_trip);
	tcase_add_test(tc, test_field_block_rejects_line_without_colon);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(headers_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

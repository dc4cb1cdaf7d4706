/*
 * check_range.c: Range / If-Range evaluation and multipart/byteranges
 * framing (RFC 9110 §13.1.5, §14).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headers.h"
#include "range.h"

struct range_case {
	const char		*name;
	const char		*range;		/* Range value, NULL: none */
	const char		*if_range;	/* If-Range value, NULL: none */
	uint64_t		len;
	enum range_result	want;
	size_t			n;
	uint64_t		first[3];
	uint64_t		last[3];
};

static const char stored_etag[] = "\"v1\"";
static const char stored_lm[] = "Wed, 01 Jan 2020 00:00:00 GMT";

static const struct range_case cases[] = {
	{ "9110 14.2 no Range", NULL, NULL, 100, RANGE_NONE, 0, {0}, {0} },
	{ "9110 14.1.2 first-last", "bytes=0-9", NULL, 100, RANGE_SATISFIABLE, 1, {0}, {9} },
	{ "9110 14.1.2 open-ended", "bytes=90-", NULL, 100, RANGE_SATISFIABLE, 1, {90}, {99} },
	{ "9110 14.1.2 last beyond the end is clipped", "bytes=50-500", NULL, 100,
	  RANGE_SATISFIABLE, 1, {50}, {99} },
	{ "9110 14.1.2 suffix", "bytes=-10", NULL, 100, RANGE_SATISFIABLE, 1, {90}, {99} },
	{ "9110 14.1.2 suffix longer than the body", "bytes=-1000", NULL, 100,
	  RANGE_SATISFIABLE, 1, {0}, {99} },
	{ "9110 14.1.1 unit is case-insensitive", "Bytes=1-2", NULL, 100,
	  RANGE_SATISFIABLE, 1, {1}, {2} },
	{ "9110 14.1.2 first beyond the end: 416", "bytes=100-", NULL, 100,
	  RANGE_UNSATISFIABLE, 0, {0}, {0} },
	{ "9110 14.1.2 zero-length suffix: 416", "bytes=-0", NULL, 100,
	  RANGE_UNSATISFIABLE, 0, {0}, {0} },
	{ "9110 14.2 syntax error ignores Range", "bytes=5-2", NULL, 100, RANGE_NONE, 0,
	  {0}, {0} },
	{ "9110 14.2 other unit ignored", "items=0-1", NULL, 100, RANGE_NONE, 0, {0}, {0} },
	{ "9110 14.2 garbage ignored", "bytes=abc", NULL, 100, RANGE_NONE, 0, {0}, {0} },
	{ "9110 14.6 two ranges", "bytes=0-1, 10-19", NULL, 100, RANGE_SATISFIABLE, 2,
	  {0, 10}, {1, 19} },
	{ "9110 14.2 overlapping ranges coalesced", "bytes=10-20,15-30,0-0", NULL, 100,
	  RANGE_SATISFIABLE, 2, {0, 10}, {0, 30} },
	{ "9110 14.2 adjacent ranges coalesced", "bytes=0-9,10-19", NULL, 100,
	  RANGE_SATISFIABLE, 1, {0}, {19} },
	{ "9110 14.2 unsatisfiable member skipped", "bytes=500-600,0-4", NULL, 100,
	  RANGE_SATISFIABLE, 1, {0}, {4} },
	{ "9110 13.1.5 If-Range strong match", "bytes=0-1", "\"v1\"", 100,
	  RANGE_SATISFIABLE, 1, {0}, {1} },
	{ "9110 13.1.5 If-Range mismatch sends all", "bytes=0-1", "\"v2\"", 100,
	  RANGE_NONE, 0, {0}, {0} },
	{ "9110 13.1.5 If-Range weak never matches", "bytes=0-1", "W/\"v1\"", 100,
	  RANGE_NONE, 0, {0}, {0} },
	{ "9110 13.1.5 If-Range date equal to Last-Modified", "bytes=0-1", stored_lm, 100,
	  RANGE_SATISFIABLE, 1, {0}, {1} },
	{ "9110 13.1.5 If-Range other date sends all", "bytes=0-1",
	  "Thu, 02 Jan 2020 00:00:00 GMT", 100, RANGE_NONE, 0, {0}, {0} },
};

START_TEST(test_range_table)
{
	const struct range_case *c = &cases[_i];
	struct fields req, stored;
	struct range_set set;
	enum range_result r;
	size_t k;

	fields_init(&req);
	fields_init(&stored);
	fields_add_str(&stored, "ETag", stored_etag);
	fields_add_str(&stored, "Last-Modified", stored_lm);
	if (c->range != NULL)
		fields_add_str(&req, "Range", c->range);
	if (c->if_range != NULL)
		fields_add_str(&req, "If-Range", c->if_range);
	r = range_evaluate(&req, &stored, c->len, &set);
	ck_assert_msg(r == c->want, "%s: result %d, want %d", c->name, r, c->want);
	if (r == RANGE_SATISFIABLE) {
		ck_assert_msg(set.n == c->n, "%s: %zu parts, want %zu", c->name, set.n, c->n);
		for (k = 0; k < set.n; k++) {
			ck_assert_msg(set.r[k].first == c->first[k] && set.r[k].last == c->last[k],
			    "%s: part %zu is %llu-%llu", c->name, k,
			    (unsigned long long)set.r[k].first, (unsigned long long)set.r[k].last);
		}
	}
	fields_free(&req);
	fields_free(&stored);
}
END_TEST

START_TEST(test_rfc9110_14_2_too_many_parts_sends_all)
{
	struct fields req, stored;
	struct range_set set;
	char buf[1024];
	size_t off = 0;
	int i;

	off += (size_t)snprintf(buf + off, sizeof(buf) - off, "bytes=");
	for (i = 0; i < RANGE_MAX + 1; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%d-%d",
		    i ? "," : "", i * 10, i * 10 + 1);
	fields_init(&req);
	fields_init(&stored);
	fields_add_str(&req, "Range", buf);
	ck_assert_int_eq(range_evaluate(&req, &stored, 10000, &set), RANGE_NONE);
	fields_free(&req);
	fields_free(&stored);
}
END_TEST

START_TEST(test_rfc9110_14_6_multipart_framing)
{
	struct range_set set = { 2, { { 0, 1 }, { 10, 12 } } };
	char head[256], tail[64];
	size_t hl, tl;
	uint64_t total;

	hl = range_part_head(head, sizeof(head), "B", "text/plain", &set.r[1], 100);
	ck_assert_str_eq(head, "\r\n--B\r\nContent-Type: text/plain\r\n"
	    "Content-Range: bytes 10-12/100\r\n\r\n");
	ck_assert_uint_eq(hl, strlen(head));
	tl = range_part_tail(tail, sizeof(tail), "B");
	ck_assert_str_eq(tail, "\r\n--B--\r\n");
	total = range_multipart_length(&set, "B", "text/plain", 100);
	ck_assert_uint_eq(total,
	    range_part_head(NULL, 0, "B", "text/plain", &set.r[0], 100) + 2 +
	    hl + 3 + tl);
	hl = range_part_head(head, sizeof(head), "B", NULL, &set.r[0], 100);
	ck_assert_str_eq(head, "\r\n--B\r\nContent-Range: bytes 0-1/100\r\n\r\n");
}
END_TEST

/* range_starts_past: which missed Range requests go to the origin as they are. */
struct past_case {
	const char	*name;
	const char	*range;		/* NULL: no Range */
	uint64_t	offset;
	bool		want;
};

static const struct past_case past_cases[] = {
	{ "9110 14.2 no Range", NULL, 100, false },
	{ "9110 14.1.2 starts before the offset", "bytes=50-", 100, false },
	{ "9110 14.1.2 starts at the offset", "bytes=100-199", 100, false },
	{ "9110 14.1.2 starts past the offset", "bytes=101-", 100, true },
	{ "9110 14.1.2 suffix counts as past", "bytes=-10", 100, true },
	{ "9110 14.1.2 zero-length suffix is not", "bytes=-0", 100, false },
	{ "9110 14.1.1 unit is case-insensitive", "BYTES=200-", 100, true },
	{ "9110 14.6 every range past", "bytes=200-299, -5", 100, true },
	{ "9110 14.6 one range before", "bytes=200-299, 0-9", 100, false },
	{ "9110 14.2 syntax error", "bytes=300-200", 100, false },
	{ "9110 14.2 other unit", "items=200-", 100, false },
	{ "9110 14.2 empty set", "bytes=", 100, false },
	{ "offset 0: all but the first byte", "bytes=1-", 0, true },
	{ "offset 0: from the first byte", "bytes=0-", 0, false },
};

START_TEST(test_range_starts_past)
{
	const struct past_case *c = &past_cases[_i];
	struct fields req;

	fields_init(&req);
	if (c->range != NULL)
		fields_add(&req, "Range", 5, c->range, strlen(c->range));
	ck_assert_msg(range_starts_past(&req, c->offset) == c->want, "%s", c->name);
	fields_free(&req);
}
END_TEST

static Suite *
range_suite(void)
{
	Suite *s = suite_create("range");
	TCase *tc = tcase_create("range");

	tcase_add_loop_test(tc, test_range_table, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_rfc9110_14_2_too_many_parts_sends_all);
	tcase_add_test(tc, test_rfc9110_14_6_multipart_framing);
	tcase_add_loop_test(tc, test_range_starts_past, 0,
	    (int)(sizeof(past_cases) / sizeof(past_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(range_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

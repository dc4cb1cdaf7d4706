/*
 * range.c: Range and If-Range evaluation, and multipart/byteranges framing
 * (see range.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "policy.h"
#include "range.h"

/* Parses an unsigned decimal; returns the next position or NULL. */
static const char *
parse_u64(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = p;

	while (p < end && *p >= '0' && *p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return NULL;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p == start)
		return NULL;
	*out = v;
	return p;
}

/*
 * RFC 9110 §13.1.5: If-Range holds when its entity-tag matches the stored
 * one strongly, or its date equals the stored Last-Modified (a weak
 * validator never satisfies it).
 */
static bool
if_range_holds(const struct fields *req, const struct fields *stored)
{
	const struct field *ir = fields_get(req, "If-Range");
	const struct field *v;
	time_t a, b;

	if (ir == NULL)
		return true;
	if ((ir->value_len > 0 && ir->value[0] == '"') ||
	    (ir->value_len > 2 && memcmp(ir->value, "W/\"", 3) == 0)) {
		v = fields_get(stored, "ETag");
		return v != NULL && policy_etag_match(ir->value, ir->value_len,
		    v->value, v->value_len, true);
	}
	v = fields_get(stored, "Last-Modified");
	if (v == NULL || http_date_parse(ir->value, ir->value_len, &a) != 0 ||
	    http_date_parse(v->value, v->value_len, &b) != 0)
		return false;
	return a == b;
}

enum spec_result {
	SPEC_BAD = 0,		/* syntax error: the whole header is ignored */
	SPEC_OK,
	SPEC_UNSATISFIABLE,
};

/* One range-spec (§14.1.1) of s[0..len) against body_len. */
static enum spec_result
parse_spec(const char *s, size_t len, uint64_t body_len, struct range_spec *out)
{
	const char *p = s, *end = s + len;
	uint64_t a, b;

	if (p < end && *p == '-') {
		/* suffix-range: the last b bytes */
		p = parse_u64(p + 1, end, &b);
		if (p == NULL || p != end)
			return SPEC_BAD;
		if (b == 0 || body_len == 0)
			return SPEC_UNSATISFIABLE;
		out->first = b >= body_len ? 0 : body_len - b;
		out->last = body_len - 1;
		return SPEC_OK;
	}
	p = parse_u64(p, end, &a);
	if (p == NULL || p == end || *p != '-')
		return SPEC_BAD;
	p++;
	if (p < end) {
		p = parse_u64(p, end, &b);
		if (p == NULL || p != end || b < a)
			return SPEC_BAD;
	} else {
		b = UINT64_MAX;
	}
	if (a >= body_len)
		return SPEC_UNSATISFIABLE;
	out->first = a;
	out->last = b >= body_len ? body_len - 1 : b;
	return SPEC_OK;
}

static int
cmp_spec(const void *x, const void *y)
{
	const struct range_spec *a = x, *b = y;

	return a->first < b->first ? -1 : a->first > b->first;
}

/*
 * The byte-range set of the request's one Range field, [*pos, *end); false
 * when there is none, several, or another unit (RFC 9110 §14.1.1: the unit
 * is case-insensitive).
 */
static bool
range_set_of(const struct fields *req, const char **pos, const char **end)
{
	const struct field *rf = fields_get(req, "Range");

	if (rf == NULL || fields_count(req, "Range") != 1 ||
	    rf->value_len < 6 || strncasecmp(rf->value, "bytes=", 6) != 0)
		return false;
	*pos = rf->value + 6;
	*end = rf->value + rf->value_len;
	return true;
}

enum range_result
range_evaluate(const struct fields *req, const struct fields *stored,
    uint64_t body_len, struct range_set *out)
{
	struct range_spec all[4 * RANGE_MAX];
	const char *pos, *end, *tok;
	size_t len, n = 0, i;
	bool any = false;

	out->n = 0;
	if (!range_set_of(req, &pos, &end) || !if_range_holds(req, stored))
		return RANGE_NONE;
	while (list_next(&pos, end, &tok, &len)) {
		struct range_spec r;

		any = true;
		switch (parse_spec(tok, len, body_len, &r)) {
		case SPEC_BAD:
			return RANGE_NONE;
		case SPEC_UNSATISFIABLE:
			break;
		case SPEC_OK:
			if (n == sizeof(all) / sizeof(all[0]))
				return RANGE_NONE;
			all[n++] = r;
			break;
		}
	}
	if (!any)
		return RANGE_NONE;
	if (n == 0)
		return RANGE_UNSATISFIABLE;
	qsort(all, n, sizeof(all[0]), cmp_spec);
	for (i = 0; i < n; i++) {
		struct range_spec *last = out->n > 0 ? &out->r[out->n - 1] : NULL;

		if (last != NULL && all[i].first <= last->last + 1) {
			if (all[i].last > last->last)
				last->last = all[i].last;
			continue;
		}
		if (out->n == RANGE_MAX) {
			out->n = 0;
			return RANGE_NONE;
		}
		out->r[out->n++] = all[i];
	}
	return RANGE_SATISFIABLE;
}

bool
range_starts_past(const struct fields *req, uint64_t offset)
{
	const char *pos, *end, *tok;
	size_t len;
	bool any = false;

	if (!range_set_of(req, &pos, &end))
		return false;
	while (list_next(&pos, end, &tok, &len)) {
		struct range_spec r;

		/* Against an unbounded length, a suffix range starts near
		 * UINT64_MAX and "a-" at a. */
		if (parse_spec(tok, len, UINT64_MAX, &r) != SPEC_OK || r.first <= offset)
			return false;
		any = true;
	}
	return any;
}

size_t
range_part_head(char *buf, size_t size, const char *boundary,
    const char *content_type, const struct range_spec *r, uint64_t body_len)
{
	int k;

	if (content_type != NULL)
		k = snprintf(buf, size, "\r\n--%s\r\nContent-Type: %s\r\n"
		    "Content-Range: bytes %llu-%llu/%llu\r\n\r\n", boundary, content_type,
		    (unsigned long long)r->first, (unsigned long long)r->last,
		    (unsigned long long)body_len);
	else
		k = snprintf(buf, size, "\r\n--%s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
		    boundary, (unsigned long long)r->first, (unsigned long long)r->last,
		    (unsigned long long)body_len);
	return k < 0 ? 0 : (size_t)k;
}

size_t
range_part_tail(char *buf, size_t size, const char *boundary)
{
	int k = snprintf(buf, size, "\r\n--%s--\r\n", boundary);

	return k < 0 ? 0 : (size_t)k;
}

uint64_t
range_multipart_length(const struct range_set *set, const char *boundary,
    const char *content_type, uint64_t body_len)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < set->n; i++) {
		total += range_part_head(NULL, 0, boundary, content_type, &set->r[i], body_len);
		total += set->r[i].last - set->r[i].first + 1;
	}
	return total + range_part_tail(NULL, 0, boundary);
}

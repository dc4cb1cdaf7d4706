/*
 * range.c: Range and If-Range evaluation (see range.h).
 */
#include <string.h>
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
	if (ir->value_len > 0 && (ir->value[0] == '"' || ir->value[0] == 'W')) {
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

enum range_result
range_evaluate(const struct fields *req, const struct fields *stored,
    uint64_t body_len, struct range_spec *out)
{
	const struct field *rf = fields_get(req, "Range");
	const char *p, *end;
	uint64_t a, b;

	if (rf == NULL || fields_count(req, "Range") != 1)
		return RANGE_NONE;
	p = rf->value;
	end = rf->value + rf->value_len;
	/* RFC 9110 §14.1.1: the unit is case-insensitive. */
	if (rf->value_len < 6 || strncasecmp(p, "bytes=", 6) != 0)
		return RANGE_NONE;
	p += 6;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (memchr(p, ',', (size_t)(end - p)) != NULL)
		return RANGE_NONE;	/* several ranges: the whole body (range.h) */
	if (!if_range_holds(req, stored))
		return RANGE_NONE;
	if (p < end && *p == '-') {
		/* suffix-range: the last b bytes */
		p = parse_u64(p + 1, end, &b);
		if (p == NULL)
			return RANGE_NONE;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p != end)
			return RANGE_NONE;
		if (b == 0 || body_len == 0)
			return RANGE_UNSATISFIABLE;
		out->first = b >= body_len ? 0 : body_len - b;
		out->last = body_len - 1;
		return RANGE_SATISFIABLE;
	}
	p = parse_u64(p, end, &a);
	if (p == NULL || p == end || *p != '-')
		return RANGE_NONE;
	p++;
	if (p < end && *p >= '0' && *p <= '9') {
		p = parse_u64(p, end, &b);
		if (p == NULL || b < a)
			return RANGE_NONE;
	} else {
		b = UINT64_MAX;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p != end)
		return RANGE_NONE;
	if (a >= body_len)
		return RANGE_UNSATISFIABLE;
	out->first = a;
	out->last = b >= body_len ? body_len - 1 : b;
	return RANGE_SATISFIABLE;
}

/*
 * range.h: Range requests against a stored full response (pure).
 *
 * RFC 9110 §14: one satisfiable range is served as 206 with Content-Range;
 * several as 206 multipart/byteranges (§14.6); a range set none of whose
 * ranges can be satisfied is 416. Overlapping or adjacent ranges are
 * coalesced and the parts sent in ascending order (§14.2 allows both); a set
 * of more than RANGE_MAX parts after coalescing gets the whole body (200),
 * which bounds the cost of pathological requests. If-Range (§13.1.5) with a
 * validator that does not match strongly also gets 200.
 */
#ifndef FRESHD_RANGE_H
#define FRESHD_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "headers.h"

#define RANGE_MAX	16

enum range_result {
	RANGE_NONE = 0,		/* no usable Range: send the whole body */
	RANGE_SATISFIABLE,	/* send the parts with 206 */
	RANGE_UNSATISFIABLE,	/* 416 */
};

struct range_spec {
	uint64_t	first;
	uint64_t	last;	/* inclusive */
};

struct range_set {
	size_t			n;
	struct range_spec	r[RANGE_MAX];
};

/*
 * Evaluates the request's Range (and If-Range) against a stored response of
 * body_len bytes whose header fields are stored. On RANGE_SATISFIABLE, out
 * holds 1 to RANGE_MAX ascending, disjoint parts.
 */
enum range_result range_evaluate(const struct fields *req, const struct fields *stored,
    uint64_t body_len, struct range_set *out);

/*
 * True when the request's Range is a valid byte-range set every range of
 * which starts past offset (a suffix range counts as past it: it names the
 * end of a representation of unknown length). Used on a miss, where no
 * length is known yet; If-Range is not looked at.
 */
bool range_starts_past(const struct fields *req, uint64_t offset);

/*
 * The head of one part of a multipart/byteranges body (RFC 9110 §14.6):
 * "\r\n--BOUNDARY\r\nContent-Type: T\r\nContent-Range: bytes a-b/len\r\n\r\n"
 * (no Content-Type line when content_type is NULL). Writes at most size
 * bytes into buf and returns the full length, like snprintf.
 */
size_t range_part_head(char *buf, size_t size, const char *boundary,
    const char *content_type, const struct range_spec *r, uint64_t body_len);
/* The closing delimiter "\r\n--BOUNDARY--\r\n"; same contract. */
size_t range_part_tail(char *buf, size_t size, const char *boundary);
/* Content-Length of the whole multipart body for the set. */
uint64_t range_multipart_length(const struct range_set *set, const char *boundary,
    const char *content_type, uint64_t body_len);

#endif

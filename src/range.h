/*
 * range.h: Range requests against a stored full response (pure).
 *
 * RFC 9110 §14: one byte range is served as 206 with Content-Range; a range
 * set that cannot be satisfied is 416. Several ranges are answered with the
 * whole representation (200), which §14.2 allows and which avoids
 * multipart/byteranges' overhead and its amplification risk. If-Range
 * (§13.1.5) with a validator that does not match strongly also gets 200.
 */
#ifndef FRESHD_RANGE_H
#define FRESHD_RANGE_H

#include <stdint.h>

#include "headers.h"

enum range_result {
	RANGE_NONE = 0,		/* no usable Range: send the whole body */
	RANGE_SATISFIABLE,	/* send [first, last] with 206 */
	RANGE_UNSATISFIABLE,	/* 416 */
};

struct range_spec {
	uint64_t	first;
	uint64_t	last;	/* inclusive */
};

/*
 * Evaluates the request's Range (and If-Range) against a stored response of
 * body_len bytes whose header fields are stored.
 */
enum range_result range_evaluate(const struct fields *req, const struct fields *stored,
    uint64_t body_len, struct range_spec *out);

#endif

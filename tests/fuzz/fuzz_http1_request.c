/*
 * fuzz_http1_request.c: libFuzzer target for http1_parse_request.
 *
 * Beyond "no crash, no leak, no undefined behaviour", every accepted head is
 * checked against invariants that a smuggling bug would break, and the
 * process aborts when one fails:
 * - the head is self-delimiting: buf[0..head_len) alone parses to the same
 *   head_len, and a head cut one byte short is INCOMPLETE;
 * - refusals carry one of the documented statuses and a reason;
 * - a request re-serialised by http1_write_request_head parses again to the
 *   same method, target, field count and framing;
 * - a chunked body that follows is fed to the chunked decoder.
 * Each input is parsed under the default limits and under tight ones (CONNECT
 * allowed), so the 414 and 431 paths are reached too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "http1.h"

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

extern const char *fuzz_target_name;
const char *fuzz_target_name = "http1_request";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct http1_limits tight = {
	.max_request_line = 64,
	.max_head_bytes = 256,
	.max_fields = 8,
	.allow_connect = true,
};

static void
check_status(enum http1_result r, int st, const char *why)
{
	if (r != HTTP1_INVALID)
		return;
	CHECK(why != NULL);
	CHECK(st == 400 || st == 414 || st == 417 || st == 431 || st == 501 ||
	    st == 505);
}

static void
reserialise(const struct http_request *req, const struct http1_limits *lim)
{
	struct evbuffer *b = evbuffer_new();
	struct http_request again;
	struct http1_limits big = *lim;
	size_t hl, n;
	const char *why = NULL;
	char *s;
	int st = 0;

	CHECK(b != NULL);
	http1_write_request_head(b, req->method_name, req->target, &req->fields);
	n = evbuffer_get_length(b);
	s = malloc(n);
	CHECK(s != NULL);
	evbuffer_remove(b, s, n);
	evbuffer_free(b);
	/* The re-serialised request line may be longer ("HTTP/1.1", no leading CRLF aside). */
	big.max_request_line = n;
	big.max_head_bytes = n;
	CHECK(http1_parse_request(s, n, &big, &again, &hl, &st, &why) == HTTP1_DONE);
	CHECK(hl == n);
	CHECK(again.method == req->method);
	CHECK(strcmp(again.method_name, req->method_name) == 0);
	CHECK(strcmp(again.target, req->target) == 0);
	CHECK(strcmp(again.path, req->path) == 0);
	CHECK(again.form == req->form);
	CHECK(again.fields.n == req->fields.n);
	CHECK(again.body == req->body);
	CHECK(again.content_length == req->content_length);
	http1_request_free(&again);
	free(s);
}

static void
one(const char *buf, size_t len, const struct http1_limits *lim)
{
	struct http_request req, again;
	size_t hl, hl2;
	const char *why = NULL;
	int st = 0;
	enum http1_result r;

	r = http1_parse_request(buf, len, lim, &req, &hl, &st, &why);
	check_status(r, st, why);
	if (r != HTTP1_DONE)
		return;
	CHECK(hl > 0 && hl <= len);
	CHECK(req.version == 10 || req.version == 11);
	CHECK(req.method_name != NULL && req.target != NULL && req.path != NULL);
	CHECK(req.body != BODY_UNTIL_CLOSE);
	CHECK(req.body != BODY_LENGTH || req.content_length > 0);
	CHECK(req.version == 11 || req.authority != NULL || fields_count(&req.fields, "Host") == 0);

	CHECK(http1_parse_request(buf, hl, lim, &again, &hl2, &st, &why) == HTTP1_DONE);
	CHECK(hl2 == hl);
	http1_request_free(&again);
	CHECK(http1_parse_request(buf, hl - 1, lim, &again, &hl2, &st, &why) == HTTP1_INCOMPLETE);

	if (fields_count(&req.fields, "Host") == 1)
		reserialise(&req, lim);

	if (req.body == BODY_CHUNKED) {
		struct http1_chunked c;
		const char *d;
		size_t off = hl, used, dlen;
		enum chunked_result cr;

		http1_chunked_init(&c);
		do {
			cr = http1_chunked_feed(&c, buf + off, len - off, &used, &d, &dlen);
			CHECK(used <= len - off);
			off += used;
		} while (cr == CHUNKED_DATA);
	}
	http1_request_free(&req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one((const char *)data, size, &http1_default_limits);
	one((const char *)data, size, &tight);
	return 0;
}

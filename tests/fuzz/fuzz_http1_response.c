/*
 * fuzz_http1_response.c: libFuzzer target for http1_parse_response.
 *
 * The first input byte picks the request method the response answers (GET,
 * HEAD, CONNECT or POST); the rest is the response. Accepted heads are
 * checked against invariants (the process aborts when one fails):
 * - buf[0..head_len) alone parses to the same head_len; one byte short is
 *   INCOMPLETE;
 * - framing is consistent: BODY_UNTIL_CLOSE never keeps the connection,
 *   BODY_LENGTH has a length, bodiless statuses and HEAD have no body;
 * - re-serialised by http1_write_response_head, an HTTP/1.1 response parses
 *   to the same status, field count and framing;
 * - a chunked body that follows is fed to the chunked decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "http1.h"

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

extern const char *fuzz_target_name;
const char *fuzz_target_name = "http1_response";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum http_method methods[4] = {
	HTTP_M_GET, HTTP_M_HEAD, HTTP_M_CONNECT, HTTP_M_POST,
};

static void
reserialise(const struct http_response *resp, enum http_method m)
{
	struct evbuffer *b = evbuffer_new();
	struct http_response again;
	struct http1_limits big = http1_default_limits;
	const char *why = NULL;
	size_t hl, n;
	char *s;

	CHECK(b != NULL);
	http1_write_response_head(b, resp->status, resp->reason, &resp->fields);
	n = evbuffer_get_length(b);
	s = malloc(n);
	CHECK(s != NULL);
	evbuffer_remove(b, s, n);
	evbuffer_free(b);
	big.max_head_bytes = n;
	CHECK(http1_parse_response(s, n, &big, m, &again, &hl, &why) == HTTP1_DONE);
	CHECK(hl == n);
	CHECK(again.status == resp->status);
	CHECK(strcmp(again.reason, resp->reason) == 0);
	CHECK(again.fields.n == resp->fields.n);
	CHECK(again.body == resp->body);
	CHECK(again.content_length == resp->content_length);
	CHECK(again.keep_alive == resp->keep_alive);
	http1_response_free(&again);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response resp, again;
	enum http_method m;
	const char *buf, *why = NULL;
	size_t len, hl, hl2;
	enum http1_result r;

	if (size < 1)
		return 0;
	m = methods[data[0] & 3];
	buf = (const char *)data + 1;
	len = size - 1;
	r = http1_parse_response(buf, len, &http1_default_limits, m, &resp, &hl, &why);
	if (r == HTTP1_INVALID)
		CHECK(why != NULL);
	if (r != HTTP1_DONE)
		return 0;
	CHECK(hl > 0 && hl <= len);
	CHECK(resp.status >= 100 && resp.status <= 599);
	CHECK(resp.version == 10 || resp.version == 11);
	CHECK(resp.reason != NULL);
	CHECK(resp.body != BODY_UNTIL_CLOSE || !resp.keep_alive);
	CHECK(resp.body != BODY_LENGTH || resp.content_length > 0);
	if (m == HTTP_M_HEAD || resp.status < 200 || resp.status == 204 || resp.status == 304)
		CHECK(resp.body == BODY_NONE);

	CHECK(http1_parse_response(buf, hl, &http1_default_limits, m, &again, &hl2, &why) == HTTP1_DONE);
	CHECK(hl2 == hl);
	http1_response_free(&again);
	CHECK(http1_parse_response(buf, hl - 1, &http1_default_limits, m, &again, &hl2, &why) ==
	    HTTP1_INCOMPLETE);

	if (resp.version == 11)
		reserialise(&resp, m);

	if (resp.body == BODY_CHUNKED) {
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
	http1_response_free(&resp);
	return 0;
}

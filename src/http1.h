/*
 * http1.h: RFC 9112 message parsing and serialisation (pure, no I/O).
 *
 * The parser works on a contiguous buffer holding the bytes received so far.
 * It returns HTTP1_INCOMPLETE until the empty line that ends the head has
 * arrived (checking the limits on what it has seen, so an endless request
 * line or header section is refused early), then HTTP1_DONE with the head
 * parsed and the number of bytes it used, or HTTP1_INVALID with the status
 * code to answer with. A parsed message owns a private copy of its head:
 * the input buffer can be drained as soon as the call returns.
 *
 * Bodies are framed per RFC 9112 §6.1-6.3; chunked bodies are decoded by the
 * incremental decoder below. Serialisation always re-frames: freshd never
 * forwards the peer's framing bytes.
 */
#ifndef FRESHD_HTTP1_H
#define FRESHD_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "headers.h"

struct evbuffer;

enum http_method {
	HTTP_M_OTHER = 0,
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_OPTIONS,
	HTTP_M_PATCH,
	HTTP_M_CONNECT,
	HTTP_M_TRACE,
};

enum http_target_form {
	TARGET_ORIGIN = 0,	/* /path?query */
	TARGET_ABSOLUTE,	/* http://host/path */
	TARGET_AUTHORITY,	/* host:port, CONNECT only */
	TARGET_ASTERISK,	/* *, OPTIONS only */
};

enum http_body {
	BODY_NONE = 0,		/* no body (or Content-Length: 0) */
	BODY_LENGTH,		/* content_length bytes */
	BODY_CHUNKED,		/* chunked transfer coding */
	BODY_UNTIL_CLOSE,	/* responses only: read until the connection closes */
};

enum http1_result {
	HTTP1_INVALID = -1,
	HTTP1_DONE = 0,
	HTTP1_INCOMPLETE = 1,
};

struct http1_limits {
	size_t	max_request_line;	/* longer request line: 414 */
	size_t	max_head_bytes;		/* larger header section: 431 */
	size_t	max_fields;		/* more header fields: 431 */
	bool	allow_connect;		/* authority-form CONNECT accepted */
};

/*
 * Defaults for callers without a configuration of their own (tests, fuzz
 * targets): request line 8192 bytes (RFC 9112 §3 recommends supporting at
 * least 8000 octets), head 65536 bytes, 100 fields, no CONNECT.
 */
extern const struct http1_limits http1_default_limits;

struct http_request {
	char			*raw;		/* owned copy of the head */
	enum http_method	method;
	char			*method_name;	/* as received (case-sensitive) */
	enum http_target_form	form;
	char			*target;	/* request-target as received */
	char			*scheme;	/* absolute-form only, lower-cased; else NULL */
	char			*authority;	/* absolute-form authority, else the Host value */
	char			*path;		/* path and query; "*" for asterisk-form */
	int			version;	/* 10 or 11 */
	struct fields		fields;
	enum http_body		body;
	uint64_t		content_length;	/* BODY_LENGTH only */
	bool			keep_alive;	/* RFC 9112 §9.3 from version and Connection */
	bool			expect_continue;
};

struct http_response {
	char			*raw;		/* owned copy of the head */
	int			version;	/* 10 or 11 */
	int			status;
	char			*reason;
	struct fields		fields;
	enum http_body		body;
	uint64_t		content_length;	/* BODY_LENGTH only */
	bool			keep_alive;
};

/*
 * Parses a request head from buf[0..len). On HTTP1_DONE, *req is filled (the
 * caller frees it with http1_request_free) and *head_len is the number of
 * bytes of buf the head occupied. On HTTP1_INVALID, *err_status is 400, 414,
 * 431 or 501 and *err_reason a short static explanation; the connection must
 * then be closed. On HTTP1_INCOMPLETE nothing is allocated.
 */
enum http1_result http1_parse_request(const char *buf, size_t len,
    const struct http1_limits *lim, struct http_request *req, size_t *head_len,
    int *err_status, const char **err_reason);
void http1_request_free(struct http_request *req);

/*
 * Parses a response head. req_method decides bodiless responses (HEAD, 2xx to
 * CONNECT); 1xx, 204 and 304 never have a body. A message with both
 * Transfer-Encoding and Content-Length, or with a bad Content-Length, is
 * HTTP1_INVALID (the proxy answers 502 rather than guess the framing).
 * Interim 1xx responses are returned like any other (the caller skips them).
 */
enum http1_result http1_parse_response(const char *buf, size_t len,
    const struct http1_limits *lim, enum http_method req_method,
    struct http_response *resp, size_t *head_len, const char **err_reason);
void http1_response_free(struct http_response *resp);

/*
 * RFC 9110 §8.6: a Content-Length value, 1*DIGIT, or a list of one repeated
 * value (taken as that value). True with *out set; false for anything else
 * (empty members, signs, inner whitespace, values above 2^63-1).
 */
bool http1_parse_content_length(const char *v, size_t len, uint64_t *out);

/* Method classification (RFC 9110 §9.2). */
enum http_method http_method_from_name(const char *name, size_t len);
bool http_method_is_safe(enum http_method m);
bool http_method_is_idempotent(enum http_method m);
/* The standard reason phrase, or "Unknown". */
const char *http_status_reason(int status);

/*
 * Incremental chunked decoder (RFC 9112 §7.1). Chunk extensions are parsed
 * and ignored; trailer fields are parsed and discarded. Chunk sizes that
 * overflow 63 bits, bad hex, missing CRLFs, or a trailer section larger than
 * the limit are errors.
 */
struct http1_chunked {
	int		state;
	uint64_t	remaining;	/* bytes left in the current chunk */
	size_t		line_len;	/* bytes of the current size/trailer line seen */
	size_t		trailer_bytes;
	size_t		max_line;	/* size line (with extensions) limit */
	size_t		max_trailer;	/* trailer section limit */
	bool		size_digits;	/* at least one hex digit seen on this size line */
};

enum chunked_result {
	CHUNKED_ERROR = -1,
	CHUNKED_NEED_MORE = 0,	/* all input consumed; feed more */
	CHUNKED_DATA = 1,	/* *data, *data_len: body data inside the input */
	CHUNKED_DONE = 2,	/* last chunk and trailers consumed */
};

void http1_chunked_init(struct http1_chunked *c);
/*
 * Feeds in[0..len). *consumed is how many input bytes the call used (on
 * CHUNKED_DATA they include the data span, which is the last data_len bytes
 * of the consumed ones). Bytes after CHUNKED_DONE belong to the next message.
 */
enum chunked_result http1_chunked_feed(struct http1_chunked *c, const char *in,
    size_t len, size_t *consumed, const char **data, size_t *data_len);

/* Serialisation into an evbuffer (memory only). Heads end with the empty line. */
void http1_write_request_head(struct evbuffer *out, const char *method,
    const char *target, const struct fields *f);
void http1_write_response_head(struct evbuffer *out, int status,
    const char *reason, const struct fields *f);
/* Writes one chunk (size line, data, CRLF); len 0 writes the last chunk and the empty trailer. */
void http1_write_chunk(struct evbuffer *out, const void *data, size_t len);

#endif

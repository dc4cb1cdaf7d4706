/*
 * fetch.h: one exchange with an origin server.
 *
 * A fetch sends one request (head, then the body the caller streams into it)
 * over a pooled upstream connection and streams the response back to its
 * sink through callbacks. It owns the upstream connection for the duration
 * and gives it back to the pool only when the exchange completed cleanly on
 * both sides.
 *
 * Failure rules (RFC 9110 §9.2.2): when a reused connection turns out to be
 * closed before any response byte arrived, the request is sent again once on
 * a new connection, but only for idempotent methods and only while the part
 * of the request body already sent is still held (up to RETRY_BODY_MAX
 * bytes). POST and PATCH are never retried.
 *
 * Lifetime: the sink's on_head / on_body callbacks may call fetch_pause,
 * fetch_resume and fetch_abort. After on_error or on_end the fetch is gone:
 * the sink must forget its pointer there. fetch_abort frees it without
 * calling back.
 */
#ifndef FRESHD_FETCH_H
#define FRESHD_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "http1.h"

struct worker;
struct cfg_backend;
struct config_ref;
struct evbuffer;
struct fetch;

enum fetch_end {
	FETCH_COMPLETE = 0,	/* the whole response body arrived */
	FETCH_TRUNCATED,	/* the origin failed mid-body: the client must see it */
};

struct fetch_sink {
	/* The response head arrived. resp stays valid until on_end. */
	void	(*on_head)(void *arg, struct http_response *resp);
	/* n body bytes are at the front of src: the sink removes exactly n. */
	void	(*on_body)(void *arg, struct evbuffer *src, size_t n);
	void	(*on_end)(void *arg, enum fetch_end how);
	/* No response head could be had: status is 502 or 504. */
	void	(*on_error)(void *arg, int status, const char *why);
	/* The request body backlog fell below the low mark: send more. */
	void	(*on_body_drained)(void *arg);
};

struct fetch_request {
	struct config_ref	*cfg;		/* the config backend belongs to (held) */
	const char		*method_name;
	enum http_method	method;
	const char		*target;
	struct fields		*fields;	/* borrowed until fetch ends */
	enum http_body		body;		/* BODY_NONE, BODY_LENGTH or BODY_CHUNKED */
	uint64_t		content_length;
};

/* Starts a fetch; the sink hears about it through callbacks only. */
struct fetch *fetch_start(struct worker *w, const struct cfg_backend *b,
    const struct fetch_request *req, const struct fetch_sink *sink, void *arg);

/*
 * Request body streaming: append decoded bytes (moved out of data), then
 * call fetch_body_end once. fetch_body_congested says whether the caller
 * should stop reading its client until on_body_drained.
 */
void fetch_body_add(struct fetch *f, struct evbuffer *data, size_t n);
void fetch_body_end(struct fetch *f);
bool fetch_body_congested(const struct fetch *f);

/* Response backpressure: stop / restart reading from the origin. */
void fetch_pause(struct fetch *f);
void fetch_resume(struct fetch *f);

/* Cancels the fetch (client gone); the upstream connection is closed. */
void fetch_abort(struct fetch *f);

/* Milliseconds since fetch_start, for the access log. */
double fetch_elapsed_ms(const struct fetch *f);

#endif

/*
 * fetch.c: one request/response exchange with an origin (see fetch.h).
 *
 * States: ACQUIRE (waiting for a pooled or new connection) → EXCHANGE (head
 * written; body streaming out; response head awaited) → BODY (response body
 * streaming to the sink) → gone. The request body is re-framed: a
 * Content-Length body is sent as is, a chunked one is sent re-chunked, and
 * bytes that arrive before the connection is ready wait in `pending`.
 *
 * Timeouts: first-byte (request sent → response head) and read (between
 * response bytes) use the bufferevent read timeout; a stalled request body
 * (origin not reading) uses the write timeout with the read-timeout value.
 *
 * Re-entrancy: sink callbacks may abort the fetch. `busy` counts the frames
 * of fetch code on the stack; a fetch aborted while busy is only marked dead
 * and freed when the outermost frame unwinds.
 *
 * Body pieces: libevent 2.1 reads at most 4 KiB per read event, so a body
 * that the origin sent at once would reach the sink in 4 KiB pieces, and
 * with request collapsing every piece costs each waiter a wake-up and a
 * write to its client. Before body bytes go to the sink, what the socket
 * already holds is read too, up to BODY_FILL (fill_body): pieces are as big
 * as the origin is ahead of us, and the first bytes are never held back.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "fetch.h"
#include "log.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

#define FETCH_MAGIC		0x46455443u
#define RETRY_BODY_MAX		(64u * 1024u)
#define BODY_HIGH_MARK		(256u * 1024u)
#define BODY_LOW_MARK		(64u * 1024u)
#define RESP_HEAD_MAX		(64u * 1024u)
#define BODY_FILL		(256u * 1024u)

enum fetch_state {
	ST_ACQUIRE = 0,
	ST_EXCHANGE,
	ST_BODY,
	ST_FINISHED,
};

struct fetch {
	unsigned		magic;
	enum fetch_state	state;
	struct worker		*worker;
	const struct cfg_backend *backend;
	const struct fetch_sink	*sink;
	void			*arg;
	enum http_method	method;
	enum http_body		req_body;
	char			*head;		/* serialised request head, kept for a retry */
	size_t			head_len;
	struct upstream_wait	wait;
	struct upstream_conn	*conn;
	struct evbuffer		*pending;	/* framed body bytes waiting for the connection */
	struct evbuffer		*retry;		/* framed body bytes sent, while a retry is possible */
	bool			retry_possible;
	bool			retried;
	bool			body_done;	/* the caller ended the request body */
	bool			got_bytes;	/* any response byte arrived */
	struct http_response	resp;
	bool			have_resp;
	uint64_t		remaining;	/* BODY_LENGTH response bytes left */
	struct http1_chunked	chunked;
	bool			paused;
	bool			eof;		/* the origin closed (seen while paused) */
	bool			conn_error;	/* ...with an error (reset): never a clean end */
	struct config_ref	*cfg;		/* keeps backend alive across a reload */
	struct event		*head_timer;	/* first-byte deadline for the whole head */
	int			busy;
	bool			dead;
	int			fail_status;
	const char		*fail_why;
	struct event		*fail_ev;
	struct timeval		start;
};

static void process_input(struct fetch *f);

static void
fetch_free(struct fetch *f)
{
	CHECK_OBJ(f, FETCH_MAGIC);
	if (f->state == ST_ACQUIRE)
		upstream_cancel(&f->wait);
	if (f->conn != NULL)
		upstream_release(f->conn, false);
	if (f->have_resp)
		http1_response_free(&f->resp);
	evbuffer_free(f->pending);
	if (f->retry != NULL)
		evbuffer_free(f->retry);
	event_free(f->fail_ev);
	event_free(f->head_timer);
	free(f->head);
	worker_config_release(f->cfg);
	FREE_OBJ(f);
}

/* Leaves a fetch frame; frees the fetch if it died meanwhile. Returns true if gone. */
static bool
leave(struct fetch *f)
{
	ASSERT(f->busy > 0);
	if (--f->busy == 0 && f->dead) {
		fetch_free(f);
		return true;
	}
	return f->dead;
}

static void
fail_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;

	CHECK_OBJ(f, FETCH_MAGIC);
	f->busy++;
	f->state = ST_FINISHED;
	f->sink->on_error(f->arg, f->fail_status, f->fail_why);
	f->dead = true;
	leave(f);
}

/*
 * No response head will come. The sink hears it from the event loop, never
 * from inside the call that caused it, so fetch_start never calls back.
 */
static void
fail(struct fetch *f, int status, const char *why)
{
	if (f->conn != NULL) {
		upstream_release(f->conn, false);
		f->conn = NULL;
	}
	f->state = ST_FINISHED;
	f->fail_status = status;
	f->fail_why = why;
	event_active(f->fail_ev, EV_TIMEOUT, 0);
}

static void
finish(struct fetch *f, enum fetch_end how)
{
	bool reusable;

	reusable = how == FETCH_COMPLETE && f->resp.keep_alive && f->body_done &&
	    evbuffer_get_length(f->pending) == 0;
	if (f->conn != NULL) {
		upstream_release(f->conn, reusable);
		f->conn = NULL;
	}
	f->state = ST_FINISHED;
	f->busy++;
	f->sink->on_end(f->arg, how);
	f->dead = true;
	leave(f);
}

static struct timeval
ms_tv(unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000u), (suseconds_t)((ms % 1000u) * 1000u) };
	return tv;
}

static bool
may_retry(const struct fetch *f)
{
	return !f->retried && !f->got_bytes && f->conn != NULL &&
	    f->conn->requests > 0 && f->retry_possible &&
	    http_method_is_idempotent(f->method);
}

static void on_conn(void *arg, struct upstream_conn *conn, enum upstream_error err);

/*
 * The response head must be complete within first-byte-timeout of the end
 * of the request. The bufferevent's read timeout restarts at every byte, so
 * an origin that dribbles its head would never trip it; this deadline does.
 */
static void
head_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;

	CHECK_OBJ(f, FETCH_MAGIC);
	if (f->have_resp || f->state != ST_EXCHANGE)
		return;
	f->busy++;
	log_warn("upstream %s: no complete response head within the first-byte timeout",
	    upstream_conn_name(f->conn));
	fail(f, 504, "upstream timed out");
	leave(f);
}

static void
arm_head_timer(struct fetch *f)
{
	struct timeval tv = ms_tv(f->backend->first_byte_timeout_ms);

	evtimer_add(f->head_timer, &tv);
}

static void
retry(struct fetch *f)
{
	log_info("upstream %s: reused connection closed before a response; retrying",
	    upstream_conn_name(f->conn));
	upstream_release(f->conn, false);
	f->conn = NULL;
	f->retried = true;
	f->worker->stats.upstream_retries++;
	f->state = ST_ACQUIRE;
	upstream_acquire(&f->wait, f->worker, f->backend, true, on_conn, f);
}

static void
upstream_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct fetch *f = arg;

	CHECK_OBJ(f, FETCH_MAGIC);
	f->busy++;
	if (what & BEV_EVENT_TIMEOUT) {
		if (!f->have_resp) {
			log_warn("upstream %s: no response within the timeout",
			    upstream_conn_name(f->conn));
			fail(f, 504, "upstream timed out");
		} else {
			log_warn("upstream %s: response body stalled", upstream_conn_name(f->conn));
			finish(f, FETCH_TRUNCATED);
		}
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (!f->have_resp) {
			if (may_retry(f))
				retry(f);
			else
				fail(f, 502, "upstream closed the connection without a response");
		} else {
			f->eof = true;
			f->conn_error = (what & BEV_EVENT_ERROR) != 0;
			if (!f->paused)
				process_input(f);
		}
	}
	leave(f);
}

static void
upstream_readcb(struct bufferevent *bev, void *arg)
{
	struct fetch *f = arg;

	CHECK_OBJ(f, FETCH_MAGIC);
	f->busy++;
	process_input(f);
	leave(f);
}

static void
upstream_writecb(struct bufferevent *bev, void *arg)
{
	struct fetch *f = arg;

	CHECK_OBJ(f, FETCH_MAGIC);
	if (f->body_done || f->sink->on_body_drained == NULL)
		return;
	f->busy++;
	f->sink->on_body_drained(f->arg);
	leave(f);
}

/*
 * True when the response uses a transfer coding other than chunked alone:
 * freshd does not decode those, and once Transfer-Encoding is stripped the
 * client could not tell (RFC 9112 §6.1), so such a response is a 502.
 */
static bool
unsupported_coding(const struct http_response *resp)
{
	const struct field *te = fields_get(&resp->fields, "Transfer-Encoding");

	if (te == NULL)
		return false;
	return fields_count(&resp->fields, "Transfer-Encoding") != 1 ||
	    !str_ieq(te->value, te->value_len, "chunked");
}

/* Parses the response head; returns false when there is nothing more to do now. */
static bool
read_head(struct fetch *f, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in), head_len = 0;
	size_t want = len < RESP_HEAD_MAX ? len : RESP_HEAD_MAX;
	const char *why = NULL;
	struct http1_limits lim = { RESP_HEAD_MAX, RESP_HEAD_MAX, 256, false };
	enum http1_result r;
	struct timeval tv;

	r = http1_parse_response((const char *)evbuffer_pullup(in, (ssize_t)want), want,
	    &lim, f->method, &f->resp, &head_len, &why);
	if (r == HTTP1_INCOMPLETE) {
		if (len >= RESP_HEAD_MAX)
			fail(f, 502, "upstream response head too large");
		return false;
	}
	if (r == HTTP1_INVALID) {
		log_warn("upstream %s: invalid response: %s", upstream_conn_name(f->conn),
		    why ? why : "?");
		fail(f, 502, "invalid response from upstream");
		return false;
	}
	evbuffer_drain(in, head_len);
	if (f->resp.status >= 100 && f->resp.status < 200) {
		/* Interim responses are not forwarded; 101 is never asked for. */
		bool upgrade = f->resp.status == 101;
		http1_response_free(&f->resp);
		if (upgrade) {
			fail(f, 502, "unexpected 101 from upstream");
			return false;
		}
		return true;
	}
	if (unsupported_coding(&f->resp)) {
		http1_response_free(&f->resp);
		fail(f, 502, "unsupported transfer coding from upstream");
		return false;
	}
	f->have_resp = true;
	f->state = ST_BODY;
	evtimer_del(f->head_timer);
	tv = ms_tv(f->backend->read_timeout_ms);
	bufferevent_set_timeouts(f->conn->bev, &tv, &tv);
	if (f->resp.body == BODY_LENGTH)
		f->remaining = f->resp.content_length;
	else if (f->resp.body == BODY_CHUNKED)
		http1_chunked_init(&f->chunked);
	f->sink->on_head(f->arg, &f->resp);
	if (f->dead)
		return false;
	if (f->resp.body == BODY_NONE || (f->resp.body == BODY_LENGTH && f->remaining == 0)) {
		finish(f, FETCH_COMPLETE);
		return false;
	}
	return true;
}

/* Moves response body bytes to the sink; returns false to stop the loop. */
static bool
read_body(struct fetch *f, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in);

	switch (f->resp.body) {
	case BODY_LENGTH: {
		size_t n = len < f->remaining ? len : (size_t)f->remaining;
		if (n > 0) {
			f->remaining -= n;
			f->sink->on_body(f->arg, in, n);
			if (f->dead)
				return false;
		}
		if (f->remaining == 0) {
			finish(f, FETCH_COMPLETE);
			return false;
		}
		if (f->eof) {
			finish(f, FETCH_TRUNCATED);
			return false;
		}
		return false;
	}
	case BODY_CHUNKED: {
		struct evbuffer_iovec v;
		size_t consumed = 0, dlen = 0;
		const char *data = NULL;
		enum chunked_result r;

		if (len == 0) {
			if (f->eof)
				finish(f, FETCH_TRUNCATED);
			return false;
		}
		AN(evbuffer_peek(in, -1, NULL, &v, 1));
		r = http1_chunked_feed(&f->chunked, v.iov_base, v.iov_len, &consumed,
		    &data, &dlen);
		switch (r) {
		case CHUNKED_DATA:
			evbuffer_drain(in, consumed - dlen);
			f->sink->on_body(f->arg, in, dlen);
			return !f->dead;
		case CHUNKED_NEED_MORE:
			evbuffer_drain(in, consumed);
			return true;
		case CHUNKED_DONE:
			evbuffer_drain(in, consumed);
			finish(f, FETCH_COMPLETE);
			return false;
		case CHUNKED_ERROR:
			log_warn("upstream %s: invalid chunked body", upstream_conn_name(f->conn));
			finish(f, FETCH_TRUNCATED);
			return false;
		}
		return false;
	}
	case BODY_UNTIL_CLOSE:
		if (len > 0) {
			f->sink->on_body(f->arg, in, len);
			if (f->dead)
				return false;
		}
		/* A close-delimited body ends cleanly only with a clean close: a
		 * reset means the rest is missing (RFC 9112 §8). */
		if (f->eof)
			finish(f, f->conn_error ? FETCH_TRUNCATED : FETCH_COMPLETE);
		return false;
	case BODY_NONE:
		break;
	}
	return false;
}

/*
 * Reads what the origin socket holds now into in, up to BODY_FILL bytes in
 * all (never past the end of a sized body), without waiting (see the file
 * comment). Not for a TLS connection: its bytes must go through OpenSSL,
 * and its bufferevent reads whole records anyway. A plaintext connection
 * is a socket bufferevent (upstream.c), so
 * reading its descriptor directly keeps the byte order; the bufferevent
 * keeps the end of its input buffer frozen between its own reads, and so
 * unfreezes it for a moment the same way. End of file is left for the
 * bufferevent to report; an error is recorded as one (a reset must not pass
 * for the clean end of a close-delimited body).
 */
static void
fill_body(struct fetch *f, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in), want, left;
	evutil_socket_t fd = bufferevent_getfd(f->conn->bev);
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	int avail = 0, nv, i, err;
	ssize_t got;

	if (f->conn->tls || fd < 0 || f->eof || len >= BODY_FILL ||
	    f->resp.body == BODY_NONE)
		return;
	want = BODY_FILL - len;
	if (f->resp.body == BODY_LENGTH) {
		if (f->remaining <= len)
			return;
		if (want > f->remaining - len)
			want = (size_t)(f->remaining - len);
	}
	if (ioctl(fd, FIONREAD, &avail) != 0 || avail <= 0)
		return;
	if (want > (size_t)avail)
		want = (size_t)avail;
	evbuffer_unfreeze(in, 0);
	nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2);
	if (nv <= 0) {
		evbuffer_freeze(in, 0);
		return;
	}
	for (i = 0, left = want; i < nv; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	do
		got = readv(fd, iov, nv);
	while (got < 0 && errno == EINTR);
	err = errno;
	if (got <= 0) {
		evbuffer_commit_space(in, v, 0);
		evbuffer_freeze(in, 0);
		if (got < 0 && err != EAGAIN && err != EWOULDBLOCK) {
			f->eof = true;
			f->conn_error = true;
		}
		return;
	}
	for (i = 0, left = (size_t)got; i < nv; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
	}
	evbuffer_commit_space(in, v, v[0].iov_len == (size_t)got ? 1 : nv);
	evbuffer_freeze(in, 0);
}

static void
process_input(struct fetch *f)
{
	struct evbuffer *in;
	bool filled = false;

	while (!f->dead && f->conn != NULL && !f->paused) {
		in = bufferevent_get_input(f->conn->bev);
		if (f->have_resp && !filled) {
			fill_body(f, in);
			filled = true;
		}
		if (evbuffer_get_length(in) > 0)
			f->got_bytes = true;
		if (!f->have_resp) {
			if (evbuffer_get_length(in) == 0)
				return;
			if (!read_head(f, in))
				return;
		} else if (!read_body(f, in)) {
			return;
		}
	}
}

static void
on_conn(void *arg, struct upstream_conn *conn, enum upstream_error err)
{
	struct fetch *f = arg;
	struct bufferevent *bev;
	struct evbuffer *out;
	struct timeval rtv, wtv;

	CHECK_OBJ(f, FETCH_MAGIC);
	if (err != UPSTREAM_OK) {
		fail(f, err == UPSTREAM_TIMEOUT ? 504 : 502,
		    err == UPSTREAM_TIMEOUT ? "upstream connect timed out" :
		    "upstream refused the connection");
		return;
	}
	f->conn = conn;
	f->state = ST_EXCHANGE;
	bev = conn->bev;
	out = bufferevent_get_output(bev);
	bufferevent_setcb(bev, upstream_readcb, upstream_writecb, upstream_eventcb, f);
	bufferevent_setwatermark(bev, EV_WRITE, BODY_LOW_MARK, 0);
	/*
	 * The first-byte timeout runs from the end of the request: while the
	 * body uploads, only the write timeout (origin not reading) applies.
	 */
	rtv = ms_tv(f->backend->first_byte_timeout_ms);
	wtv = ms_tv(f->backend->read_timeout_ms);
	bufferevent_set_timeouts(bev, f->body_done ? &rtv : NULL, &wtv);
	if (f->body_done)
		arm_head_timer(f);
	evbuffer_add(out, f->head, f->head_len);
	if (f->retried && f->retry != NULL)
		evbuffer_add_buffer(out, f->retry);
	evbuffer_add_buffer(out, f->pending);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

struct fetch *
fetch_start(struct worker *w, const struct cfg_backend *b,
    const struct fetch_request *req, const struct fetch_sink *sink, void *arg)
{
	struct fetch *f;
	struct evbuffer *head;
	char num[32];

	f = xcalloc(1, sizeof(*f));
	f->magic = FETCH_MAGIC;
	f->worker = w;
	f->backend = b;
	f->cfg = req->cfg;
	worker_config_hold(f->cfg);
	f->sink = sink;
	f->arg = arg;
	f->method = req->method;
	f->req_body = req->body;
	f->pending = evbuffer_new();
	f->retry = evbuffer_new();
	AN(f->pending);
	AN(f->retry);
	f->retry_possible = true;
	f->body_done = req->body == BODY_NONE;
	f->fail_ev = event_new(w->base, -1, 0, fail_cb, f);
	AN(f->fail_ev);
	f->head_timer = evtimer_new(w->base, head_timer_cb, f);
	AN(f->head_timer);
	gettimeofday(&f->start, NULL);

	/* freshd re-frames every message (RFC 9112 §6.1, §6.3). */
	fields_remove(req->fields, "Content-Length");
	fields_remove(req->fields, "Transfer-Encoding");
	if (req->body == BODY_LENGTH) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)req->content_length);
		fields_add_str(req->fields, "Content-Length", num);
	} else if (req->body == BODY_CHUNKED) {
		fields_add_str(req->fields, "Transfer-Encoding", "chunked");
	}
	head = evbuffer_new();
	AN(head);
	http1_write_request_head(head, req->method_name, req->target, req->fields);
	f->head_len = evbuffer_get_length(head);
	f->head = xmalloc(f->head_len);
	evbuffer_remove(head, f->head, f->head_len);
	evbuffer_free(head);

	upstream_acquire(&f->wait, w, b, false, on_conn, f);
	return f;
}

/* Where framed body bytes go: the connection once ready, else pending. */
static struct evbuffer *
body_dest(struct fetch *f)
{
	if (f->conn != NULL && f->state != ST_ACQUIRE)
		return bufferevent_get_output(f->conn->bev);
	return f->pending;
}

static void
keep_for_retry(struct fetch *f, const void *data, size_t n)
{
	/* Once retried, no second retry: what is not yet sent waits in pending. */
	if (!f->retry_possible || f->retried)
		return;
	if (evbuffer_get_length(f->retry) + n > RETRY_BODY_MAX) {
		f->retry_possible = false;
		evbuffer_free(f->retry);
		f->retry = NULL;
		return;
	}
	evbuffer_add(f->retry, data, n);
}

void
fetch_body_add(struct fetch *f, struct evbuffer *data, size_t n)
{
	struct evbuffer *dst;
	char line[32];
	int k;

	CHECK_OBJ(f, FETCH_MAGIC);
	if (f->state == ST_FINISHED) {
		evbuffer_drain(data, n);
		return;
	}
	if (n == 0)
		return;
	dst = body_dest(f);
	if (f->req_body == BODY_CHUNKED) {
		k = snprintf(line, sizeof(line), "%zx\r\n", n);
		keep_for_retry(f, line, (size_t)k);
		evbuffer_add(dst, line, (size_t)k);
	}
	if (f->retry_possible) {
		const unsigned char *p = evbuffer_pullup(data, (ssize_t)n);
		keep_for_retry(f, p, n);
	}
	evbuffer_remove_buffer(data, dst, n);
	if (f->req_body == BODY_CHUNKED) {
		keep_for_retry(f, "\r\n", 2);
		evbuffer_add(dst, "\r\n", 2);
	}
}

void
fetch_body_end(struct fetch *f)
{
	CHECK_OBJ(f, FETCH_MAGIC);
	if (f->body_done)
		return;
	f->body_done = true;
	if (f->state == ST_FINISHED)
		return;
	if (f->req_body == BODY_CHUNKED) {
		keep_for_retry(f, "0\r\n\r\n", 5);
		evbuffer_add(body_dest(f), "0\r\n\r\n", 5);
	}
	if (f->conn != NULL && f->state == ST_EXCHANGE && !f->have_resp) {
		struct timeval rtv = ms_tv(f->backend->first_byte_timeout_ms);
		struct timeval wtv = ms_tv(f->backend->read_timeout_ms);
		bufferevent_set_timeouts(f->conn->bev, &rtv, &wtv);
		arm_head_timer(f);
	}
}

bool
fetch_body_congested(const struct fetch *f)
{
	size_t n = evbuffer_get_length(f->pending);

	if (f->conn != NULL && f->state != ST_ACQUIRE)
		n += evbuffer_get_length(bufferevent_get_output(f->conn->bev));
	return n > BODY_HIGH_MARK;
}

void
fetch_pause(struct fetch *f)
{
	CHECK_OBJ(f, FETCH_MAGIC);
	f->paused = true;
	if (f->conn != NULL)
		bufferevent_disable(f->conn->bev, EV_READ);
}

void
fetch_resume(struct fetch *f)
{
	CHECK_OBJ(f, FETCH_MAGIC);
	if (!f->paused)
		return;
	f->paused = false;
	if (f->conn == NULL || f->state == ST_FINISHED)
		return;
	bufferevent_enable(f->conn->bev, EV_READ);
	if (f->busy > 0)
		return;	/* the frame below us continues the loop */
	f->busy++;
	process_input(f);
	leave(f);
}

void
fetch_abort(struct fetch *f)
{
	CHECK_OBJ(f, FETCH_MAGIC);
	if (f->conn != NULL) {
		upstream_release(f->conn, false);
		f->conn = NULL;
	}
	if (f->busy > 0) {
		if (f->state == ST_ACQUIRE)
			upstream_cancel(&f->wait);
		f->state = ST_FINISHED;
		f->dead = true;
		event_del(f->fail_ev);
		return;
	}
	fetch_free(f);
}

double
fetch_elapsed_ms(const struct fetch *f)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	return (double)(now.tv_sec - f->start.tv_sec) * 1000.0 +
	    (double)(now.tv_usec - f->start.tv_usec) / 1000.0;
}

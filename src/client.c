/*
 * client.c: the client connection state machine (see client.h).
 *
 * Timeouts, all on one timer event:
 *   - idle: nothing received since the last response (keep-alive): the
 *     connection is closed silently after idle-timeout;
 *   - header: bytes of a request head have arrived (or the connection is new):
 *     the whole head must arrive within header-timeout, else 408 and close
 *     (a new connection that sent nothing is closed silently);
 *   - linger: after our FIN, discard what the client still sends for
 *     LINGER_MS, and longer (up to send-timeout) while the kernel still
 *     holds unsent response bytes: closing a socket with a full send queue
 *     toward a slow reader lets the kernel drop the tail.
 * The bufferevent's write timeout (send-timeout) catches a client that stops
 * reading; its read timeout (idle-timeout) catches a stalled request body.
 *
 * Output: requests write into a staging buffer (client_output), not into
 * the bufferevent's. Adding to it activates flush_ev, which runs once the
 * current callback is over, still in the same loop pass: when the
 * bufferevent has nothing queued, the staged bytes are written to the
 * socket at once, and only what the kernel does not take is handed to the
 * bufferevent (held only briefly when client_output_pin says it references
 * store memory: hold_refs). A keep-alive hit thus costs one writev and no
 * write-interest change (epoll_ctl) at all, and its head and body leave in
 * one segment. A large body from the store takes a shorter way while
 * nothing is queued: written at once, a batch of references per write,
 * with what the kernel refuses let go to be staged again
 * (client_output_send).
 *
 * Reading is disabled while a request runs and its body (if any) is fully
 * read, so pipelined requests stay in the kernel until their turn and a
 * client cannot make us buffer without bound.
 *
 * Input: the socket is read here (read_ev, read_ready), into the
 * bufferevent's input buffer, and not by the bufferevent itself: libevent
 * asks the kernel how much is readable (ioctl FIONREAD) before every read,
 * a syscall per request that a 1 KiB hit does not need (6% of the CPU of a
 * hit). read_ready reports EOF, errors and the read timeout to eventcb as
 * the bufferevent would have, reading stopped first.
 *
 * TLS: a connection accepted on a TLS listener has an OpenSSL bufferevent
 * (libevent_openssl, on the socket) instead, which reads and decrypts:
 * read_on / read_off / set_timeouts act on it rather than on read_ev
 * (c->tls picks, one predictable branch; plaintext connections keep their
 * syscalls exactly as they were). Staged output goes to SSL_write while
 * the bufferevent has nothing queued (tls_write_staged), as plaintext goes
 * to the socket, and to the bufferevent otherwise. SIOCOUTQ is asked
 * for both kinds: it only reads the kernel's queue, which holds encrypted
 * bytes just as it holds plain ones. The handshake runs within the first
 * request's header timeout: a connection whose handshake has not completed
 * when it fires is closed without more ado, and a failed handshake closes
 * the connection (logged at debug level: clients do that all the time).
 * Closing sends close_notify (RFC 8446 §6.1) before our FIN. The OpenSSL
 * bufferevent runs its callbacks deferred, from the loop, so that none of
 * them (an error that frees the client) can run inside a call of ours
 * that gives it output or enables reading.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "client.h"
#include "config.h"
#include "headers.h"
#include "log.h"
#include "req.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

#define CLIENT_HIGH_MARK	(256u * 1024u)
#define CLIENT_LOW_MARK		(64u * 1024u)
#define CLIENT_MAX_WRITE	(1024u * 1024u)
#define LINGER_MS		2000u
#define LINGER_TICK_MS		200u

#define CLIENT_READ_MAX		(16u * 1024u)	/* libevent's own default */
#define CLIENT_REF_HOLD_MS	20u	/* hold_refs */
#define CLIENT_SEND_PIECES	64	/* client_output_send drops from no more pieces */
#define TLS_RECORD_MAX		16384u	/* a TLS record's plaintext, at most */

static void parse_head(struct client *c);
static void pump_body(struct client *c);
static void writecb(struct bufferevent *bev, void *arg);

static struct timeval
ms_tv(unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000u), (suseconds_t)((ms % 1000u) * 1000u) };
	return tv;
}

static const struct config *
cfg(const struct client *c)
{
	return c->cfg->cfg;
}

static void
client_free(struct client *c)
{
	struct worker *w;

	CHECK_OBJ(c, CLIENT_MAGIC);
	if (c->req != NULL)
		req_client_gone(c->req);
	ASSERT(c->req == NULL);
	w = c->worker;
	if (c->read_ev != NULL)
		event_free(c->read_ev);
	event_free(c->timer);
	event_free(c->next_ev);
	event_free(c->flush_ev);
	if (c->ref_ev != NULL)
		event_free(c->ref_ev);
	evbuffer_free(c->out);
	bufferevent_free(c->bev);
	worker_config_release(c->cfg);
	worker_client_closed(w, c);
	FREE_OBJ(c);
}

/* event_add without a timeout keeps one set before: hence read_timer_armed. */
static void
read_on(struct client *c)
{
	if (c->tls) {
		AZ(bufferevent_enable(c->bev, EV_READ));
		return;
	}
	if (c->read_tv_set) {
		AZ(event_add(c->read_ev, &c->read_tv));
		c->read_timer_armed = true;
		return;
	}
	AZ(event_add(c->read_ev, NULL));
	if (c->read_timer_armed) {
		AZ(event_remove_timer(c->read_ev));
		c->read_timer_armed = false;
	}
}

static void
read_off(struct client *c)
{
	if (c->tls) {
		AZ(bufferevent_disable(c->bev, EV_READ));
		return;
	}
	AZ(event_del(c->read_ev));
	c->read_timer_armed = false;
}

/* The read timeout (read_ev's; NULL: none) and the bufferevent's write one. */
static void
set_timeouts(struct client *c, const struct timeval *rtv, const struct timeval *wtv)
{
	c->read_tv_set = rtv != NULL;
	if (rtv != NULL)
		c->read_tv = *rtv;
	if (c->tls) {
		AZ(bufferevent_set_timeouts(c->bev, rtv, wtv));
		return;
	}
	if (event_pending(c->read_ev, EV_READ, NULL))
		read_on(c);
	AZ(bufferevent_set_timeouts(c->bev, NULL, wtv));
}

static void
arm_timer(struct client *c, unsigned ms)
{
	struct timeval tv = ms_tv(ms);

	evtimer_add(c->timer, &tv);
}

static void
linger(struct client *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	c->state = CLIENT_LINGER;
	c->linger_ticks = 0;
	if (c->tls && c->tls_ready && !c->aborted) {
		/* close_notify; it fails harmlessly if the socket is full. */
		(void)SSL_shutdown(bufferevent_openssl_get_ssl(c->bev));
		ERR_clear_error();
	}
	if (fd >= 0)
		shutdown(fd, SHUT_WR);
	set_timeouts(c, NULL, NULL);
	read_on(c);
	arm_timer(c, LINGER_TICK_MS);
}

/* Response bytes not yet handed to the kernel: staged and queued. */
static size_t
pending_output(const struct client *c)
{
	return evbuffer_get_length(c->out) +
	    evbuffer_get_length(bufferevent_get_output(c->bev));
}

/*
 * Replaces the contents of the bufferevent's output by a copy of them, so
 * that none of its chains references store memory any more. A socket
 * bufferevent's output start is frozen (only the bufferevent drains it),
 * hence the unfreeze; an OpenSSL one's is not (and must stay so), and it
 * takes a moved copy of a blocked write (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
 */
static void
copy_queued(struct client *c)
{
	struct evbuffer *queued = bufferevent_get_output(c->bev);
	struct evbuffer *held = evbuffer_new();

	AN(held);
	if (!c->tls)
		AZ(evbuffer_unfreeze(queued, 1));
	AZ(evbuffer_add_buffer(held, queued));
	if (!c->tls)
		AZ(evbuffer_freeze(queued, 1));
	while (evbuffer_get_length(held) > 0) {
		struct evbuffer_iovec v;

		AN(evbuffer_peek(held, -1, NULL, &v, 1));
		AZ(evbuffer_add(queued, v.iov_base, v.iov_len));
		AZ(evbuffer_drain(held, v.iov_len));
	}
	evbuffer_free(held);
}

static void
ref_hold_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd;
	(void)what;
	CHECK_OBJ(c, CLIENT_MAGIC);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		copy_queued(c);
}

/*
 * The staged store references that the socket did not take go to the
 * bufferevent as they are, for at most CLIENT_REF_HOLD_MS: each holds an
 * LMDB read transaction, which must not last (a stalled client would keep
 * a reader slot and the pages freed since from reuse), but copying them at
 * once costs more than the copy into the kernel itself (the copies land
 * in memory that is cold by the time the socket takes them). The hold
 * runs from when the queue was last empty: a queue that drains in time
 * sends every reference uncopied; one that does not is copied whole.
 */
static void
hold_refs(struct client *c, bool queue_was_empty)
{
	struct timeval tv = ms_tv(CLIENT_REF_HOLD_MS);

	if (c->ref_ev == NULL) {
		c->ref_ev = evtimer_new(c->worker->base, ref_hold_cb, c);
		AN(c->ref_ev);
	}
	if (queue_was_empty || !evtimer_pending(c->ref_ev, NULL))
		AZ(evtimer_add(c->ref_ev, &tv));
}

/*
 * The TLS form of the direct write. libevent's OpenSSL bufferevent writes
 * only once the socket reports writable: two epoll_ctl calls and a loop
 * pass per response. So while its queue is empty the staged bytes go to
 * SSL_write here, a record's worth at a time made contiguous (a small
 * response is one record and one write syscall). A write that OpenSSL
 * refuses must be retried with the same bytes, at the same or another
 * address (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), and no fewer of them:
 * they stay at the front of the staged buffer, one chain, and libevent
 * retries with the first chain of its queue, which is that one.
 */
static void
tls_write_staged(struct client *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	size_t len;

	while ((len = evbuffer_get_length(c->out)) > 0) {
		size_t n = len < TLS_RECORD_MAX ? len : TLS_RECORD_MAX;
		unsigned char *p = evbuffer_pullup(c->out, (ev_ssize_t)n);
		int r = SSL_write(ssl, p, (int)n);

		if (r <= 0) {
			/* The bufferevent meets the same condition and reports
			 * it; the thread's error queue must not keep it. */
			ERR_clear_error();
			return;
		}
		AZ(evbuffer_drain(c->out, (size_t)r));
	}
}

/*
 * Sends the staged bytes: straight to the socket when the bufferevent has
 * nothing queued (order is kept), the rest through the bufferevent, whose
 * write event, timeout and error reporting take over from there.
 */
static void
flush_staged(struct client *c)
{
	struct evbuffer *queued = bufferevent_get_output(c->bev);
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	bool was_empty = evbuffer_get_length(queued) == 0;

	if (evbuffer_get_length(c->out) == 0)
		return;
	if (was_empty && c->tls) {
		if (c->tls_ready && c->state != CLIENT_LINGER)
			tls_write_staged(c);
	} else if (was_empty && fd >= 0) {
		(void)evbuffer_write(c->out, fd);
	}
	if (c->out_pinned && evbuffer_get_length(c->out) > 0)
		hold_refs(c, was_empty);
	c->out_pinned = false;
	if (evbuffer_get_length(c->out) > 0)
		AZ(evbuffer_add_buffer(queued, c->out));
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	CHECK_OBJ(c, CLIENT_MAGIC);
	flush_staged(c);
	/* Bytes written here never reach the bufferevent's low mark, so do
	 * what its write callback would have done once they are gone. */
	if (pending_output(c) <= (c->state == CLIENT_CLOSING ? 0 : CLIENT_LOW_MARK))
		writecb(c->bev, c);
}

static void
staged_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct client *c = arg;

	if (info->n_added > 0)
		event_active(c->flush_ev, EV_TIMEOUT, 0);
}

/* Bytes the kernel has not yet sent on the connection (0 when unknown). */
static int
unsent_bytes(const struct client *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	int n = 0;

	if (fd < 0 || ioctl(fd, SIOCOUTQ, &n) != 0)
		return 0;
	return n;
}

/* Flushes what is queued, then lingers (see the file comment). */
static void
start_closing(struct client *c)
{
	c->state = CLIENT_CLOSING;
	evtimer_del(c->timer);
	/* From now on only the write timeout: a request body's read timeout
	 * must not close the connection while the response still goes out. */
	{
		struct timeval tv = ms_tv(cfg(c)->send_timeout_ms);
		set_timeouts(c, NULL, &tv);
		c->body_timeout = false;
	}
	/* Keep reading (and discarding) so unread request bytes do not turn
	 * our close into a reset that destroys the response in flight. */
	read_on(c);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (pending_output(c) == 0)
		linger(c);
}

/* Back to reading heads: arms the idle (or first-request header) timer. */
static void
enter_head(struct client *c)
{
	c->state = CLIENT_HEAD;
	c->head_timer = false;
	c->output_wait = false;
	c->response_done = false;
	c->body_done = false;
	c->body_paused = false;
	c->body = BODY_NONE;
	c->last_unsent = INT_MAX;
	c->stalled_ms = 0;
	bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_LOW_MARK, 0);
	/* Between requests only the timer measures idleness (timer_cb knows a
	 * response still being sent); the read timeout is for request bodies. */
	if (c->body_timeout) {
		struct timeval wtv = ms_tv(cfg(c)->send_timeout_ms);

		set_timeouts(c, NULL, &wtv);
		c->body_timeout = false;
	}
	read_on(c);
	/* A new connection has header-timeout for its whole first head (not
	 * re-armed at its first byte). */
	if (c->requests == 0) {
		c->head_timer = true;
		arm_timer(c, cfg(c)->header_timeout_ms);
	} else {
		arm_timer(c, cfg(c)->idle_timeout_ms);
	}
}

/*
 * Parses the next request, unless the responses queued are above the high
 * mark: a client that pipelines requests without reading the answers would
 * otherwise make freshd queue them without bound, since a response finished
 * within its callback (a hit) is held back by nothing else. Reading resumes
 * in writecb once the output is down to the low mark.
 */
static void
next_request(struct client *c)
{
	if (pending_output(c) > CLIENT_HIGH_MARK) {
		c->output_wait = true;
		read_off(c);
		return;
	}
	parse_head(c);
}

static void
next_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	CHECK_OBJ(c, CLIENT_MAGIC);
	if (c->state != CLIENT_HEAD)
		return;
	if (worker_is_draining(c->worker)) {
		start_closing(c);
		return;
	}
	enter_head(c);
	next_request(c);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	CHECK_OBJ(c, CLIENT_MAGIC);
	switch (c->state) {
	case CLIENT_HEAD:
		if (c->tls && !c->tls_ready) {
			log_debug("client %s: TLS handshake not done within "
			    "header-timeout", c->addr);
			client_free(c);
			return;
		}
		if (c->head_timer &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
			client_send_error(c, 408, true, false);
			return;
		}
		{
			size_t out = pending_output(c);
			int n = unsent_bytes(c);

			if (out > 0 || n > 0) {
				/* Not idle: the last response is still being sent. The
				 * write timeout watches user space; the kernel's queue
				 * counts as progress only while it shrinks. */
				if (out == 0 && n >= c->last_unsent)
					c->stalled_ms += cfg(c)->idle_timeout_ms;
				else
					c->stalled_ms = 0;
				c->last_unsent = n;
				if (c->stalled_ms >= cfg(c)->send_timeout_ms) {
					client_free(c);
					return;
				}
				arm_timer(c, cfg(c)->idle_timeout_ms);
				return;
			}
		}
		/* Idle: close, but let the kernel deliver what it still holds. */
		linger(c);
		return;
	case CLIENT_LINGER:
		c->linger_ticks++;
		if ((unsent_bytes(c) > 0 &&
		    c->linger_ticks * LINGER_TICK_MS < cfg(c)->send_timeout_ms) ||
		    c->linger_ticks * LINGER_TICK_MS < LINGER_MS) {
			arm_timer(c, LINGER_TICK_MS);
			return;
		}
		client_free(c);
		return;
	case CLIENT_REQUEST:
	case CLIENT_CLOSING:
		break;
	}
}

static void
readcb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	CHECK_OBJ(c, CLIENT_MAGIC);
	switch (c->state) {
	case CLIENT_HEAD:
		next_request(c);
		break;
	case CLIENT_REQUEST:
		if (!c->body_done)
			pump_body(c);
		else
			read_off(c);
		break;
	case CLIENT_CLOSING:
	case CLIENT_LINGER:
		evbuffer_drain(in, evbuffer_get_length(in));
		break;
	}
}

static void
writecb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	CHECK_OBJ(c, CLIENT_MAGIC);
	switch (c->state) {
	case CLIENT_REQUEST:
		if (c->req != NULL)
			req_client_drained(c->req);
		break;
	case CLIENT_CLOSING:
		if (pending_output(c) == 0)
			linger(c);
		break;
	case CLIENT_HEAD:
		if (c->output_wait && pending_output(c) <= CLIENT_LOW_MARK) {
			c->output_wait = false;
			read_on(c);
			parse_head(c);
		}
		break;
	case CLIENT_LINGER:
		break;
	}
}

/*
 * The client ended its stream and we still send: stop reading. libevent's
 * OpenSSL bufferevent has stopped writing as well (its conn_closed), where
 * TCP and TLS 1.3 leave our direction open: what is queued for a
 * half-closed client must still go out, under the write timeout.
 */
static void
half_closed(struct client *c)
{
	read_off(c);
	if (c->tls)
		AZ(bufferevent_enable(c->bev, EV_WRITE));
}

static void
eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	CHECK_OBJ(c, CLIENT_MAGIC);
	if (what & BEV_EVENT_CONNECTED) {
		/* The TLS handshake is done: requests may come. */
		c->tls_ready = true;
		return;
	}
	if (c->tls && (what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING))
		read_off(c);	/* as read_ready does; the bufferevent does not */
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
	    c->state == CLIENT_CLOSING) {
		/* The client half-closed; keep flushing our response. */
		half_closed(c);
		return;
	}
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
	    c->state == CLIENT_HEAD && pending_output(c) > 0) {
		/* The client half-closed after its last request: finish sending
		 * the response, then close. */
		start_closing(c);
		half_closed(c);
		return;
	}
	if ((what & BEV_EVENT_EOF) && c->state == CLIENT_REQUEST && c->body_done &&
	    (what & BEV_EVENT_READING)) {
		/* Half-close after a complete request: answer, then close. */
		c->close_after = true;
		half_closed(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    c->state == CLIENT_REQUEST && c->req != NULL) {
		log_info("client %s: request body stalled", c->addr);
		req_fail(c->req, 408);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && c->tls)
		log_debug("client %s: TLS%s: %s", c->addr,
		    c->tls_ready ? "" : " handshake", tls_bufferevent_error(c->bev));
	else if (what & BEV_EVENT_ERROR)
		log_debug("client %s: %s", c->addr,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	client_free(c);
}

/* read_ev: the socket is readable, or the read timeout expired. */
static void
read_ready(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	char buf[CLIENT_READ_MAX];
	ssize_t n;

	CHECK_OBJ(c, CLIENT_MAGIC);
	if (what & EV_TIMEOUT) {
		read_off(c);
		eventcb(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, c);
		return;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n > 0) {
		struct evbuffer *in = bufferevent_get_input(c->bev);

		/* The bufferevent keeps its input's end frozen but to itself. */
		AZ(evbuffer_unfreeze(in, 0));
		AZ(evbuffer_add(in, buf, (size_t)n));
		AZ(evbuffer_freeze(in, 0));
		readcb(c->bev, c);
	} else if (n == 0) {
		read_off(c);
		eventcb(c->bev, BEV_EVENT_READING | BEV_EVENT_EOF, c);
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		int err = errno;

		read_off(c);
		errno = err;
		eventcb(c->bev, BEV_EVENT_READING | BEV_EVENT_ERROR, c);
	}
}

static void
start_request(struct client *c, struct http_request *hr)
{
	struct timeval tv = ms_tv(cfg(c)->idle_timeout_ms);

	evtimer_del(c->timer);
	c->state = CLIENT_REQUEST;
	c->requests++;
	c->worker->stats.requests++;
	c->body = hr->body;
	c->body_remaining = hr->body == BODY_LENGTH ? hr->content_length : 0;
	c->body_total = 0;
	c->body_max = 0;
	c->body_done = hr->body == BODY_NONE;
	c->body_paused = false;
	c->response_done = false;
	c->close_after = !hr->keep_alive || worker_is_draining(c->worker);
	if (c->body == BODY_CHUNKED)
		http1_chunked_init(&c->chunked);
	/* A stalled request body is caught by the read timeout. */
	if (!c->body_done) {
		struct timeval wtv = ms_tv(cfg(c)->send_timeout_ms);

		set_timeouts(c, &tv, &wtv);
		c->body_timeout = true;
	}
	req_start(c, hr);
	/* Reading stops only when the request outlives this callback: a hit
	 * is answered by now, and toggling read interest costs a syscall. */
	if (c->state == CLIENT_REQUEST && c->body_done)
		read_off(c);
	if (c->state == CLIENT_REQUEST && c->req != NULL && !c->body_done)
		pump_body(c);
}

static void
parse_head(struct client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	const struct config *conf = cfg(c);
	struct http1_limits lim = {
		conf->max_request_line, conf->max_head_bytes, conf->max_fields, false,
	};
	struct http_request hr;
	size_t len, want, head_len = 0;
	int status = 400;
	const char *why = NULL;
	enum http1_result r;

	len = evbuffer_get_length(in);
	if (len == 0)
		return;
	if (!c->head_timer) {
		c->head_timer = true;
		arm_timer(c, conf->header_timeout_ms);
	}
	/* The parser sees at most what the limits allow, plus the CRLFs. */
	want = conf->max_request_line + conf->max_head_bytes + 4;
	if (want > len)
		want = len;
	r = http1_parse_request((const char *)evbuffer_pullup(in, (ssize_t)want), want,
	    &lim, &hr, &head_len, &status, &why);
	if (r == HTTP1_INCOMPLETE) {
		if (want < len) {
			/* More bytes than any acceptable head, and no end in sight. */
			client_send_error(c, 431, true, false);
		}
		return;
	}
	if (r == HTTP1_INVALID) {
		log_info("client %s: bad request (%d): %s", c->addr, status, why ? why : "?");
		client_send_error(c, status, true, false);
		return;
	}
	evbuffer_drain(in, head_len);
	start_request(c, &hr);
}

static void
body_finished(struct client *c)
{
	c->body_done = true;
	read_off(c);
	req_body_end(c->req);
}

static void
pump_body(struct client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (!c->body_done && !c->body_paused && c->req != NULL &&
	    c->state == CLIENT_REQUEST) {
		size_t len = evbuffer_get_length(in);

		if (len == 0)
			return;
		if (c->body == BODY_LENGTH) {
			size_t n = len < c->body_remaining ? len : (size_t)c->body_remaining;
			c->body_remaining -= n;
			c->body_total += n;
			req_body_data(c->req, in, n);
			if (c->body_remaining == 0 && c->req != NULL)
				body_finished(c);
		} else {
			struct evbuffer_iovec v;
			size_t consumed = 0, dlen = 0;
			const char *data = NULL;
			enum chunked_result r;

			AN(evbuffer_peek(in, -1, NULL, &v, 1));
			r = http1_chunked_feed(&c->chunked, v.iov_base, v.iov_len,
			    &consumed, &data, &dlen);
			switch (r) {
			case CHUNKED_DATA:
				evbuffer_drain(in, consumed - dlen);
				c->body_total += dlen;
				if (c->body_max != 0 && c->body_total > c->body_max) {
					req_fail(c->req, 413);
					return;
				}
				req_body_data(c->req, in, dlen);
				break;
			case CHUNKED_NEED_MORE:
				evbuffer_drain(in, consumed);
				break;
			case CHUNKED_DONE:
				evbuffer_drain(in, consumed);
				body_finished(c);
				break;
			case CHUNKED_ERROR:
				log_info("client %s: invalid chunked request body", c->addr);
				req_fail(c->req, 400);
				return;
			}
		}
	}
}

void
client_accept(struct worker *w, evutil_socket_t fd, const struct sockaddr *sa, int salen,
    bool tls)
{
	struct client *c;
	int one = 1;

	c = xcalloc(1, sizeof(*c));
	c->magic = CLIENT_MAGIC;
	c->worker = w;
	c->cfg = worker_config_acquire();
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->addr,
		    sizeof(c->addr));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->addr,
		    sizeof(c->addr));
	else
		snprintf(c->addr, sizeof(c->addr), "unix");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->tls = tls;
	if (tls) {
		/* main.c never publishes a config without contexts while a
		 * TLS listener runs. */
		SSL *ssl = tls_server_ssl(c->cfg->cfg->tls);

		AN(ssl);
		/* Deferred callbacks: libevent_openssl encrypts and writes
		 * as soon as output is added, and without them a write error
		 * would run eventcb (which frees the client) inside
		 * flush_staged's evbuffer_add_buffer. */
		c->bev = bufferevent_openssl_socket_new(w->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		AN(c->bev);
		/* Unexpected EOF is an end of stream (tls.c). */
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
		AN(c->bev);
		c->read_ev = event_new(w->base, fd, EV_READ | EV_PERSIST, read_ready, c);
		AN(c->read_ev);
	}
	/* libevent writes at most 16 KiB per writable event by default: one
	 * loop pass per 16 KiB of a large hit. */
	AZ(bufferevent_set_max_single_write(c->bev, CLIENT_MAX_WRITE));
	c->timer = evtimer_new(w->base, timer_cb, c);
	c->next_ev = event_new(w->base, -1, 0, next_cb, c);
	c->flush_ev = event_new(w->base, -1, 0, flush_cb, c);
	c->out = evbuffer_new();
	AN(c->timer);
	AN(c->next_ev);
	AN(c->flush_ev);
	AN(c->out);
	AN(evbuffer_add_cb(c->out, staged_cb, c));
	LIST_INSERT_HEAD(&w->clients, c, link);
	w->nclients++;
	w->stats.connections++;
	bufferevent_setcb(c->bev, readcb, writecb, eventcb, c);
	{
		struct timeval wtv = ms_tv(cfg(c)->send_timeout_ms);
		set_timeouts(c, NULL, &wtv);
	}
	enter_head(c);
}

struct evbuffer *
client_output(struct client *c)
{
	return c->out;
}

void
client_output_pin(struct client *c)
{
	c->out_pinned = true;
}

bool
client_output_congested(const struct client *c)
{
	return pending_output(c) > CLIENT_HIGH_MARK;
}

bool
client_output_through(const struct client *c)
{
	CHECK_OBJ(c, CLIENT_MAGIC);
	return !c->tls && c->state == CLIENT_REQUEST &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 &&
	    bufferevent_getfd(c->bev) >= 0;
}

/*
 * What a large stored body gains by going to the kernel in one writev
 * rather than a chunk per pass of the event loop: the kernel's queue no
 * longer runs dry between the pieces, with client and freshd both idle
 * (docs/departures.md). Only references are staged so (no memory of ours),
 * and no more than before is left queued for a client that does not keep
 * up: what the kernel refuses beyond the high mark is let go, whole pieces
 * from the end (splitting a reference would copy it), and never more than
 * the caller's last max_drop bytes. Anything staged before those (a head,
 * a chunk staged while the previous response still drained) is kept.
 */
size_t
client_output_send(struct client *c, size_t max_drop)
{
	struct evbuffer *queued = bufferevent_get_output(c->bev);
	struct evbuffer_iovec v[CLIENT_SEND_PIECES];
	size_t left, must, keep = 0;
	int i, n;

	CHECK_OBJ(c, CLIENT_MAGIC);
	ASSERT(client_output_through(c));
	(void)evbuffer_write(c->out, bufferevent_getfd(c->bev));
	left = evbuffer_get_length(c->out);
	must = left > max_drop ? left - max_drop : 0;
	n = evbuffer_peek(c->out, -1, NULL, v, CLIENT_SEND_PIECES);
	if (n > CLIENT_SEND_PIECES) {
		keep = left;
	} else {
		for (i = 0; i < n; i++) {
			if (keep >= must && i > 0 && keep + v[i].iov_len > CLIENT_HIGH_MARK)
				break;
			keep += v[i].iov_len;
		}
	}
	ASSERT(evbuffer_remove_buffer(c->out, queued, keep) == (int)keep);
	left -= keep;
	AZ(evbuffer_drain(c->out, left));
	if (c->out_pinned && keep > 0)
		hold_refs(c, true);
	c->out_pinned = false;
	return left;
}

void
client_body_pause(struct client *c)
{
	CHECK_OBJ(c, CLIENT_MAGIC);
	if (c->body_done || c->body_paused)
		return;
	c->body_paused = true;
	read_off(c);
}

void
client_body_resume(struct client *c)
{
	CHECK_OBJ(c, CLIENT_MAGIC);
	if (!c->body_paused)
		return;
	c->body_paused = false;
	if (c->body_done || c->state != CLIENT_REQUEST)
		return;
	read_on(c);
	pump_body(c);
}

void
client_body_limit(struct client *c, uint64_t max)
{
	c->body_max = max;
}

void
client_continue(struct client *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (!c->body_done && c->body_total == 0 &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
		evbuffer_add(c->out, cont, sizeof(cont) - 1);
}

void
client_response_done(struct client *c, bool keep_alive)
{
	CHECK_OBJ(c, CLIENT_MAGIC);
	c->response_done = true;
	if (!keep_alive || c->close_after || !c->body_done ||
	    worker_is_draining(c->worker)) {
		start_closing(c);
		return;
	}
	/* The next request is parsed from a fresh stack (pipelining). */
	c->state = CLIENT_HEAD;
	event_active(c->next_ev, EV_TIMEOUT, 0);
}

void
client_response_abort(struct client *c)
{
	CHECK_OBJ(c, CLIENT_MAGIC);
	/* What was queued still goes out; the framing stays unfinished (no
	 * last chunk, fewer bytes than Content-Length), so the client can tell.
	 * A close-delimited body has no framing to leave unfinished: over TLS
	 * the missing close_notify is what says it was cut (RFC 8446 §6.1,
	 * RFC 9112 §9.8), so linger does not send one. */
	c->aborted = true;
	start_closing(c);
}

void
client_send_error(struct client *c, int status, bool close_conn, bool no_body)
{
	struct evbuffer *out = c->out;
	char date[40], body[96];
	int blen;

	CHECK_OBJ(c, CLIENT_MAGIC);
	/* Say so whenever the connection will close, whatever the reason. */
	if (c->state == CLIENT_REQUEST &&
	    (c->close_after || !c->body_done || worker_is_draining(c->worker)))
		close_conn = true;
	http_date_format(time(NULL), date, sizeof(date));
	blen = snprintf(body, sizeof(body), "%d %s\n", status, http_status_reason(status));
	evbuffer_add_printf(out,
	    "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %d\r\nCache-Control: no-store\r\n%s\r\n",
	    status, http_status_reason(status), date, blen,
	    close_conn ? "Connection: close\r\n" : "");
	if (!no_body)
		evbuffer_add(out, body, (size_t)blen);
	if (c->state == CLIENT_HEAD) {
		/* No request was started (a bad head): nothing else to finish. */
		c->body_done = true;
	}
	client_response_done(c, !close_conn);
}

void
client_close_if_idle(struct client *c)
{
	CHECK_OBJ(c, CLIENT_MAGIC);
	if (c->state == CLIENT_HEAD &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 &&
	    pending_output(c) == 0)
		client_free(c);
}

void
client_destroy(struct client *c)
{
	client_free(c);
}

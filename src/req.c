/*
 * req.c: the request state machine (see req.h).
 *
 * Steps, in the order one request goes through them:
 *   REQ_ROUTE     Host (and path) → site; method and body-size checks
 *   REQ_LOOKUP    GET/HEAD without a body: cache key, store lookup (URL, then
 *                 Vary), policy_decide → hit / stale / revalidate / miss / pass
 *   REQ_HIT       serve the stored response (304 to a matching conditional
 *                 request, 206 for a Range, HEAD from a stored GET)
 *   REQ_WAIT      miss or revalidation: the request waits on the in-flight
 *                 fetch for its key (inflight.c: collapsing, store fill)
 *   REQ_PASS      forward without the cache (fetch.c directly); unsafe
 *                 methods invalidate afterwards (RFC 9111 §4.4)
 *   REQ_DELIVER   response head and body stream to the client
 *   REQ_DONE      the access-log record is written and the request freed
 *
 * Every response gets Via, Age (when served from or through the cache) and
 * Cache-Status (RFC 9211). Re-framing toward the client (RFC 9112 §6): a
 * known length is sent as Content-Length; otherwise chunked to HTTP/1.1
 * clients and close-delimited to HTTP/1.0 ones. The origin's framing bytes
 * are never relayed.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cache.h"
#include "cache_key.h"
#include "client.h"
#include "config.h"
#include "fetch.h"
#include "headers.h"
#include "hot.h"
#include "http1.h"
#include "inflight.h"
#include "log.h"
#include "policy.h"
#include "range.h"
#include "req.h"
#include "route.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#define REQ_MAGIC	0x52455131u
#define TAKE_MAX	(256u * 1024u)
#define HOT_COPY_MAX	(32u * 1024u)	/* hot bodies up to this are copied, not referenced */
#define RELOOKUP_TRIES	3		/* lookups repeated when a hit's object vanishes */
#define RELOOKUP_US	2000
#define STORE_SEND_BATCH (1024u * 1024u)	/* store_progress: bytes per direct write */

static const struct timeval no_time = { 0, 0 };	/* the next loop pass */

enum req_step {
	REQ_ROUTE = 0,
	REQ_LOOKUP,
	REQ_HIT,
	REQ_WAIT,
	REQ_PASS,
	REQ_DELIVER,
	REQ_DONE,
};

enum out_framing {
	OUT_NONE = 0,		/* no body (HEAD, 204, 304) */
	OUT_LENGTH,		/* Content-Length */
	OUT_CHUNKED,		/* chunked, to HTTP/1.1 clients */
	OUT_CLOSE,		/* close-delimited, to HTTP/1.0 clients */
};

enum body_source {
	SRC_NONE = 0,
	SRC_FETCH,		/* pass: the fetch's sink callbacks */
	SRC_INFLIGHT,		/* miss / revalidation: the in-flight object */
	SRC_STORE,		/* hit: chunks from the store */
};

struct req {
	unsigned		magic;
	enum req_step		step;
	struct client		*client;
	struct http_request	hr;
	const struct cfg_site	*site;
	struct fields		up_fields;	/* the request as sent upstream */
	struct fetch		*fetch;		/* pass only */
	/* pass: a POST response stored for GETs of its URI (RFC 9110 §9.3.3) */
	struct store_write	*post_sw;
	char			*post_block;	/* its stored header block */
	size_t			post_block_len;
	time_t			post_response_time;
	int			status;
	enum out_framing	framing;
	enum body_source	src;
	bool			keep_alive;	/* the response allows connection reuse */
	uint64_t		bytes_out;
	double			upstream_ms;
	const char		*cache_status;	/* access-log word */
	struct timeval		start;
	time_t			now;

	/* cache */
	char			*pkey;
	size_t			pkey_len;
	bool			plain;		/* hot_request_plain */
	uint64_t		key_hash;	/* store_key_hash */
	uint32_t		key_version;	/* store_key_version before the lookup */
	bool			have_obj;
	struct store_object	obj;
	bool			pinned;		/* store_pin(obj.id) held while its body is sent */
	unsigned		relookups;	/* lookups repeated after a refused pin */
	struct event		*relookup_ev;
	struct event		*store_resume_ev;	/* store_progress: the next batch */
	struct fields		obj_fields;
	bool			vary_checked;	/* stored variants had Vary */
	struct policy_config	pcfg;		/* the cache's policy with the site's settings */
	struct policy_decision	dec;
	struct policy_cache_status cs;
	bool			revalidating;
	struct inflight_waiter	wt;
	struct event		*wake_ev;
	bool			waiting;
	struct inflight_head	ih;
	bool			have_ih;
	struct evbuffer		*tmp;
	/* store body, or a Range of an in-flight body: the bytes still to send */
	uint64_t		send_from;
	uint64_t		send_left;
	bool			ranged;		/* in-flight body: only [send_from, +send_left) */
	uint64_t		taken;		/* in-flight body bytes taken so far */
	/* multipart/byteranges from the store (RFC 9110 §14.6) */
	struct range_set	parts;
	size_t			next_part;	/* parts not yet started: [next_part, n) */
	char			boundary[40];
	char			*part_type;	/* the stored Content-Type, or NULL */
};

static void on_head(void *arg, struct http_response *resp);
static void on_body(void *arg, struct evbuffer *src, size_t n);
static void on_end(void *arg, enum fetch_end how);
static void on_error(void *arg, int status, const char *why);
static void on_body_drained(void *arg);
static void wait_progress(struct req *r);
static void do_lookup(struct req *r);
static void start_pass(struct req *r);

static const struct fetch_sink pass_sink = {
	on_head, on_body, on_end, on_error, on_body_drained,
};

static const struct config *
req_cfg(const struct req *r)
{
	return r->client->cfg->cfg;
}

/*
 * The scheme the client used (RFC 9110 §4.2): "https" on a TLS listener.
 * It is the default scheme of the cache key, so responses to http and to
 * https requests are stored apart (and same-origin checks for invalidation
 * compare it), and it is what X-Forwarded-Proto and Forwarded's proto say.
 */
static const char *
scheme(const struct req *r)
{
	return r->client->tls ? "https" : "http";
}

static const char *
via_name(const struct req *r)
{
	const struct config *conf = req_cfg(r);

	return conf->via_name ? conf->via_name : "freshd";
}

/* Decimal digits of v into buf (at least 21 bytes); returns buf. Hot path. */
static char *
dec(uint64_t v, char *buf)
{
	char tmp[21];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return buf;
}

/* "1.x NAME" for Via (RFC 9110 §7.6.3) into buf (at least 300 bytes). */
static const char *
via_value(const struct req *r, int version, char *buf)
{
	const char *name = via_name(r);
	size_t n = strlen(name);

	if (n > 290)
		n = 290;
	memcpy(buf, version == 10 ? "1.0 " : "1.1 ", 4);
	memcpy(buf + 4, name, n);
	buf[4 + n] = '\0';
	return buf;
}

static void
stop_waiting(struct req *r)
{
	if (r->wt.inf != NULL)
		inflight_leave(&r->wt);
	r->waiting = false;
}

static void
req_free(struct req *r)
{
	CHECK_OBJ(r, REQ_MAGIC);
	AZ(r->fetch);
	stop_waiting(r);
	if (r->post_sw != NULL)
		store_write_abort(r->post_sw);
	free(r->post_block);
	if (r->wake_ev != NULL)
		event_free(r->wake_ev);
	if (r->relookup_ev != NULL)
		event_free(r->relookup_ev);
	if (r->store_resume_ev != NULL)
		event_free(r->store_resume_ev);
	if (r->have_ih)
		inflight_head_free(&r->ih);
	/* The response ended, or was cut short: the body may go now. */
	if (r->pinned)
		store_unpin(cache_get()->store, r->obj.id);
	if (r->have_obj)
		store_object_free(&r->obj);
	if (r->tmp != NULL)
		evbuffer_free(r->tmp);
	fields_free(&r->obj_fields);
	free(r->part_type);
	http1_request_free(&r->hr);
	fields_free(&r->up_fields);
	free(r->pkey);
	FREE_OBJ(r);
}

void
req_finish(struct req *r)
{
	struct access_record rec;
	struct timeval now;

	CHECK_OBJ(r, REQ_MAGIC);
	r->step = REQ_DONE;
	gettimeofday(&now, NULL);
	memset(&rec, 0, sizeof(rec));
	rec.client = r->client->addr;
	rec.method = r->hr.method_name;
	rec.target = r->hr.target;
	rec.status = r->status;
	rec.bytes = r->bytes_out;
	rec.total_ms = (double)(now.tv_sec - r->start.tv_sec) * 1000.0 +
	    (double)(now.tv_usec - r->start.tv_usec) / 1000.0;
	rec.upstream_ms = r->upstream_ms;
	rec.cache_status = r->cache_status;
	log_access(&rec);
	r->client->req = NULL;
	req_free(r);
}

/* Answers with a generated error response and ends the request. */
static void
respond_error(struct req *r, int status, bool close_conn)
{
	struct client *c = r->client;
	size_t before = evbuffer_get_length(client_output(c));

	r->status = status;
	client_send_error(c, status, close_conn, r->hr.method == HTTP_M_HEAD);
	r->bytes_out += evbuffer_get_length(client_output(c)) - before;
	req_finish(r);
}

/* Appends ", value" to a list field, or adds it (one field line kept). */
static void
append_to_list(struct fields *f, const char *name, const char *value)
{
	const struct field *old = fields_get(f, name);
	char *joined;
	size_t n;

	if (old == NULL) {
		fields_add_str(f, name, value);
		return;
	}
	n = old->value_len + 2 + strlen(value) + 1;
	joined = xmalloc(n);
	snprintf(joined, n, "%s, %s", old->value, value);
	fields_set(f, name, joined);
	free(joined);
}

/* The request as the origin will see it. */
static void
build_upstream_fields(struct req *r)
{
	const struct cfg_site *site = r->site;
	const struct client *c = r->client;
	const char *host = r->hr.authority;
	char buf[512];

	fields_free(&r->up_fields);
	fields_copy(&r->up_fields, &r->hr.fields);
	fields_strip_hop_by_hop(&r->up_fields, site->pass_proxy_authorization);
	/*
	 * CGI-style backends (RFC 3875 §4.1.18: WSGI, PHP, Rack) turn "-" into
	 * "_" in field names, so "X_Forwarded_For" from a client would reach
	 * them as the X-Forwarded-For that freshd appends to. Dropped unless
	 * the site keeps them.
	 */
	if (!site->underscore_fields) {
		for (size_t i = r->up_fields.n; i-- > 0;)
			if (memchr(r->up_fields.v[i].name, '_', r->up_fields.v[i].name_len))
				fields_remove_at(&r->up_fields, i);
	}
	/* freshd answers Expect itself (client_continue). */
	fields_remove(&r->up_fields, "Expect");

	switch (site->host_header) {
	case HOST_KEEP:
		break;
	case HOST_BACKEND:
		if (site->backend->nservers > 0) {
			const struct cfg_server *s = &site->backend->servers[0];
			/* Config hosts are stored without brackets (IPv6). */
			if (strchr(s->host, ':') != NULL)
				snprintf(buf, sizeof(buf), "[%s]:%u", s->host, s->port);
			else
				snprintf(buf, sizeof(buf), "%s:%u", s->host, s->port);
			fields_set(&r->up_fields, "Host", buf);
		}
		break;
	case HOST_SET:
		fields_set(&r->up_fields, "Host", site->host_value);
		break;
	}
	/* RFC 9110 §7.6.3: the protocol version the request was received with. */
	append_to_list(&r->up_fields, "Via", via_value(r, r->hr.version, buf));
	if (cache_get() != NULL && cache_get()->policy.surrogate_control) {
		/* Edge Architecture §2: announce ourselves as a surrogate. */
		snprintf(buf, sizeof(buf), "%s=\"Surrogate/1.0\"",
		    cache_get()->policy.surrogate_target);
		append_to_list(&r->up_fields, "Surrogate-Capability", buf);
	}
	if (site->x_forwarded_for)
		append_to_list(&r->up_fields, "X-Forwarded-For", c->addr);
	if (site->x_forwarded_proto)
		fields_set(&r->up_fields, "X-Forwarded-Proto", scheme(r));
	if (site->forwarded) {
		/* RFC 7239 §6: IPv6 addresses are quoted and bracketed. */
		if (strchr(c->addr, ':') != NULL)
			snprintf(buf, sizeof(buf), "for=\"[%s]\";proto=%s", c->addr,
			    scheme(r));
		else
			snprintf(buf, sizeof(buf), "for=%s;proto=%s", c->addr, scheme(r));
		if (host != NULL && is_token(host, strlen(host)) &&
		    strlen(buf) + strlen(host) + 7 < sizeof(buf)) {
			strcat(buf, ";host=");
			strcat(buf, host);
		}
		append_to_list(&r->up_fields, "Forwarded", buf);
	}
}

static void
fill_fetch_request(struct req *r, struct fetch_request *fr)
{
	memset(fr, 0, sizeof(*fr));
	fr->cfg = r->client->cfg;
	fr->method_name = r->hr.method_name;
	fr->method = r->hr.method;
	fr->target = r->hr.form == TARGET_ASTERISK ? "*" : r->hr.path;
	fr->fields = &r->up_fields;
	fr->body = r->hr.body;
	fr->content_length = r->hr.content_length;
}

/*
 * Writes a response head to the client with the fields every response of
 * freshd carries (Via, Cache-Status, Connection) and decides the framing:
 * body_len >= 0 is a known length; -1 is unknown (chunked or close).
 */
static void
send_head(struct req *r, int status, const char *reason, struct fields *f,
    int version, bool bodiless, int64_t body_len)
{
	struct client *c = r->client;
	struct evbuffer *out = client_output(c);
	char buf[300], *cs;
	size_t before;

	r->step = REQ_DELIVER;
	r->status = status;
	fields_strip_hop_by_hop(f, false);
	/* RFC 9110 §6.6.1: an origin without a clock is no excuse. */
	if (fields_get(f, "Date") == NULL)
		fields_add_str(f, "Date", http_date_format(time(NULL), buf, sizeof(buf)));
	append_to_list(f, "Via", via_value(r, version, buf));
	if (cache_get() != NULL) {
		/* Surrogate-Control is for surrogates: it ends here (Edge Arch. §3). */
		if (cache_get()->policy.surrogate_control)
			fields_remove(f, "Surrogate-Control");
		cs = policy_cache_status(via_name(r), &r->cs);
		fields_remove(f, "Cache-Status");
		fields_add_str(f, "Cache-Status", cs);
		free(cs);
	}
	if (bodiless) {
		r->framing = OUT_NONE;
		if (status == 204 || status < 200)
			fields_remove(f, "Content-Length");
	} else if (body_len >= 0) {
		r->framing = OUT_LENGTH;
		fields_set(f, "Content-Length", dec((uint64_t)body_len, buf));
	} else {
		fields_remove(f, "Content-Length");
		if (r->hr.version == 11) {
			r->framing = OUT_CHUNKED;
			fields_add_str(f, "Transfer-Encoding", "chunked");
		} else {
			r->framing = OUT_CLOSE;
		}
	}
	r->keep_alive = !(r->framing == OUT_CLOSE || c->close_after || !c->body_done ||
	    worker_is_draining(c->worker));
	if (!r->keep_alive)
		fields_add_str(f, "Connection", "close");
	else if (r->hr.version == 10)
		fields_add_str(f, "Connection", "keep-alive");
	before = evbuffer_get_length(out);
	http1_write_response_head(out, status,
	    reason && reason[0] ? reason : http_status_reason(status), f);
	r->bytes_out += evbuffer_get_length(out) - before;
}

/* Sends n body bytes, taken from src (drained) or else copied from data,
 * framed as the response is. */
static void
send_framed(struct req *r, struct evbuffer *src, const void *data, size_t n)
{
	struct evbuffer *out = client_output(r->client);

	if (r->framing == OUT_NONE) {
		if (src != NULL)
			evbuffer_drain(src, n);
		return;
	}
	if (n == 0)
		return;
	if (r->framing == OUT_CHUNKED)
		evbuffer_add_printf(out, "%zx\r\n", n);
	if (src != NULL)
		evbuffer_remove_buffer(src, out, n);
	else
		evbuffer_add(out, data, n);
	if (r->framing == OUT_CHUNKED)
		evbuffer_add(out, "\r\n", 2);
	r->bytes_out += n;
}

/* Appends n bytes from src to the client with the chosen framing. */
static void
send_body(struct req *r, struct evbuffer *src, size_t n)
{
	send_framed(r, src, NULL, n);
}

/* The same, from memory. */
static void
send_bytes(struct req *r, const void *data, size_t n)
{
	send_framed(r, NULL, data, n);
}

/* The response is complete: last chunk, log, and keep-alive or close. */
static void
send_end(struct req *r)
{
	struct client *c = r->client;
	bool keep;

	if (r->framing == OUT_CHUNKED) {
		evbuffer_add(client_output(c), "0\r\n\r\n", 5);
		r->bytes_out += 5;
	}
	keep = r->keep_alive;
	req_finish(r);
	client_response_done(c, keep);
}

/* The response cannot be completed: the client must see it truncated. */
static void
send_abort(struct req *r)
{
	struct client *c = r->client;

	req_finish(r);
	client_response_abort(c);
}

static void
policy_stored_of(const struct req *r, struct policy_stored *s)
{
	s->status = r->obj.status;
	s->fields = &r->obj_fields;
	s->request_time = r->obj.request_time;
	s->response_time = r->obj.response_time;
}

/* ---- hits: serving a stored response ---------------------------------- */

/*
 * Writes what is staged, of which the last `staged` bytes are this batch of
 * the body, and gives what the socket refused of the batch back to the
 * body still to send (client_output_send let go of it). Says whether the
 * socket took it all.
 */
static bool
store_sent(struct req *r, size_t staged)
{
	size_t dropped = client_output_send(r->client, staged);

	ASSERT(dropped <= staged);
	r->send_from -= dropped;
	r->send_left += dropped;
	r->bytes_out -= dropped;
	return client_output_through(r->client);
}

static void
store_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct req *r = arg;

	CHECK_OBJ(r, REQ_MAGIC);
	req_client_drained(r);
}

/*
 * Sends store chunks covering [send_from, send_from + send_left) while the
 * client keeps up. While nothing is queued for a plain TCP client, up to
 * STORE_SEND_BATCH of them go to the socket in one write
 * (client_output_send), one batch per pass of the event loop: a client
 * whose kernel keeps taking them (a fast local one) would otherwise hold
 * the worker for the whole body, every other connection waiting.
 */
static void
store_progress(struct req *r)
{
	struct cache *cache = cache_get();
	size_t batch = 0;
	bool through;

	/* A batch went out this loop pass: store_resume_cb goes on. */
	if (r->store_resume_ev != NULL && evtimer_pending(r->store_resume_ev, NULL))
		return;
	through = r->obj.body == NULL && r->parts.n == 0 &&
	    r->framing == OUT_LENGTH && client_output_through(r->client);
	for (;;) {
		uint32_t idx;
		uint64_t skip;
		size_t len, n;
		int rc;

		if (r->send_left == 0 && r->next_part < r->parts.n) {
			/* The next part of a multipart/byteranges body. */
			const struct range_spec *p = &r->parts.r[r->next_part++];
			size_t hl = range_part_head(NULL, 0, r->boundary, r->part_type, p,
			    r->obj.body_len);
			char *head = xmalloc(hl + 1);

			range_part_head(head, hl + 1, r->boundary, r->part_type, p,
			    r->obj.body_len);
			evbuffer_add(client_output(r->client), head, hl);
			free(head);
			r->bytes_out += hl;
			r->send_from = p->first;
			r->send_left = p->last - p->first + 1;
		}
		if (batch > 0 && (r->send_left == 0 || batch >= STORE_SEND_BATCH)) {
			through = store_sent(r, batch);
			batch = 0;
			if (!through)
				break;
			if (r->send_left > 0) {
				if (r->store_resume_ev == NULL)
					r->store_resume_ev = evtimer_new(r->client->worker->base,
					    store_resume_cb, r);
				AN(r->store_resume_ev);
				AZ(evtimer_add(r->store_resume_ev, &no_time));
				return;
			}
		}
		if (r->send_left == 0 || (!through && client_output_congested(r->client)))
			break;
		if (r->obj.body != NULL) {
			/* Inline: the body came with the lookup. */
			n = (size_t)r->send_left;
			send_bytes(r, r->obj.body + r->send_from, n);
			r->send_from += n;
			r->send_left -= n;
			continue;
		}
		idx = (uint32_t)(r->send_from / r->obj.chunk_size);
		skip = r->send_from % r->obj.chunk_size;
		/* By reference from the map when a reader slot is free; the
		 * client copies what its socket does not take at once. */
		rc = store_read_chunk_ref(cache->store, r->obj.id, idx, r->tmp);
		if (rc == STORE_EBUSY)
			rc = store_read_chunk(cache->store, r->obj.id, idx, r->tmp);
		else if (rc == 0)
			client_output_pin(r->client);
		if (rc != 0) {
			/* Pinned (serve_stored), so not evicted: the read failed. */
			log_warn("%s: stored object %llu unreadable while being sent (%d)",
			    r->pkey, (unsigned long long)r->obj.id, rc);
			evbuffer_drain(r->tmp, evbuffer_get_length(r->tmp));
			send_abort(r);
			return;
		}
		len = evbuffer_get_length(r->tmp);
		if (skip >= len) {
			evbuffer_drain(r->tmp, len);
			send_abort(r);
			return;
		}
		evbuffer_drain(r->tmp, (size_t)skip);
		n = len - (size_t)skip;
		if (n > r->send_left)
			n = (size_t)r->send_left;
		send_body(r, r->tmp, n);
		evbuffer_drain(r->tmp, evbuffer_get_length(r->tmp));
		r->send_from += n;
		r->send_left -= n;
		if (through)
			batch += n;
	}
	if (r->send_left == 0 && r->next_part == r->parts.n) {
		if (r->parts.n > 1) {
			char tail[128];
			size_t tl = range_part_tail(tail, sizeof(tail), r->boundary);
			evbuffer_add(client_output(r->client), tail, tl);
			r->bytes_out += tl;
		}
		send_end(r);
	}
}

/* ---- hot hits: the worker's table of ready responses (hot.h) ---------- */

/*
 * Whether this hit's response may go into the hot table: a plain GET
 * (hot_request_plain) answered with a fresh, complete 200 that has no Vary
 * and a Date of its own, whose Cache-Status says nothing but hit and ttl
 * (and the key where the site shows it). Called before send_head edits the
 * stored fields.
 */
static bool
hot_candidate(const struct req *r)
{
	return r->plain && r->hr.method == HTTP_M_GET && r->dec.action == POLICY_FRESH &&
	    !r->revalidating && r->obj.status == 200 && r->obj.vary_len == 0 &&
	    r->obj.body_len <= HOT_MAX_BODY && r->cs.detail == NULL &&
	    !r->cs.stored && !r->cs.collapsed && r->cs.fwd_status == 0 &&
	    fields_get(&r->obj_fields, "Date") != NULL;
}

/*
 * Puts the response just sent into the hot table: its head as send_head
 * wrote it, less the fields serve_hot writes per request, and its body.
 * age is the Age sent.
 */
static void
hot_keep(struct req *r, int64_t age)
{
	struct cache *cache = cache_get();
	struct evbuffer *head, *body;
	struct hot_entry e;
	struct fields f;
	size_t len;

	if (!hot_admit(r->client->worker->hot, r->pkey, r->pkey_len))
		return;
	head = evbuffer_new();
	body = evbuffer_new();
	AN(head);
	AN(body);
	if (r->obj.body != NULL)
		evbuffer_add(body, r->obj.body, r->obj.body_len);
	for (uint32_t i = 0; i < r->obj.chunk_count; i++)
		if (store_read_chunk(cache->store, r->obj.id, i, body) != 0)
			goto out;
	if (evbuffer_get_length(body) != r->obj.body_len)
		goto out;
	fields_view(&f, &r->obj_fields);
	fields_remove(&f, "Age");
	fields_remove(&f, "Cache-Status");
	fields_remove(&f, "Connection");
	http1_write_response_head(head, r->status, http_status_reason(r->status), &f);
	fields_free(&f);
	/* Without the blank line that ends the head. */
	len = evbuffer_get_length(head);
	ASSERT(len >= 2);
	memset(&e, 0, sizeof(e));
	e.pkey = r->pkey;
	e.pkey_len = r->pkey_len;
	e.store_hash = r->key_hash;
	e.version = r->key_version;
	e.cfg_generation = r->client->cfg->generation;
	e.site = r->site;
	e.object_id = r->obj.id;
	e.touched = r->now;	/* serve_stored has just touched it */
	e.since = r->now;
	e.fresh_until = (time_t)(r->now + r->dec.ttl);
	e.age_base = age - (int64_t)r->now;
	e.ttl_base = r->dec.ttl + (int64_t)r->now;
	e.head = (char *)evbuffer_pullup(head, -1);
	e.head_len = len - 2;
	e.body = (char *)evbuffer_pullup(body, -1);
	e.body_len = r->obj.body_len;
	(void)hot_put(r->client->worker->hot, &e);
out:
	evbuffer_free(head);
	evbuffer_free(body);
}

static void
release_hot_body(const void *data, size_t len, void *cookie)
{
	hot_body_release(cookie);
}

/*
 * Answers a plain request from the hot table: the stored head, then the
 * fields that change per request (Age, Cache-Status, Connection) as
 * send_head would write them, then the body. Returns false when the table
 * has no usable entry; the request then goes through the store.
 */
static bool
serve_hot(struct req *r)
{
	struct client *c = r->client;
	struct hot *hot = c->worker->hot;
	struct store *store = cache_get()->store;
	const struct hot_entry *e;
	struct evbuffer *out;
	struct evbuffer_iovec v;
	char num[32], *cs, *p;
	const char *age_s, *conn;
	int64_t age;
	size_t total, body_len, copied;

	e = hot_find(hot, r->pkey, r->pkey_len, c->cfg->generation, r->site, r->now);
	if (e == NULL)
		return false;
	/*
	 * The key version shows an invalidation or an eviction once it is
	 * committed, so it is checked on every hit. The eviction policy hears
	 * of hits at most once a second per entry: recency to the second is
	 * all SIEVE's visited bit and LRU's order need (S3-FIFO's frequency,
	 * capped at 3, then counts seconds with hits), and with 10^6 objects
	 * store_touch's lookup misses the CPU caches on every call.
	 */
	if (store_key_version(store, e->store_hash) != e->version ||
	    (e->touched != r->now && !store_touch(store, e->object_id))) {
		hot_drop(hot, r->pkey, r->pkey_len);
		return false;
	}
	hot_touched(e, r->now);
	r->step = REQ_DELIVER;
	r->src = SRC_STORE;
	r->status = 200;
	r->cache_status = "HIT";
	r->cs.hit = true;
	r->cs.fwd = POLICY_FWD_NONE;
	r->cs.detail = NULL;
	r->cs.has_ttl = true;
	r->cs.ttl = e->ttl_base - (int64_t)r->now;
	age = e->age_base + (int64_t)r->now;
	r->framing = r->hr.method == HTTP_M_HEAD ? OUT_NONE : OUT_LENGTH;
	r->keep_alive = !(c->close_after || !c->body_done || worker_is_draining(c->worker));
	age_s = dec((uint64_t)(age < 0 ? 0 : age), num);
	cs = policy_cache_status(via_name(r), &r->cs);
	conn = !r->keep_alive ? "Connection: close\r\n" :
	    r->hr.version == 10 ? "Connection: keep-alive\r\n" : "";
	body_len = r->framing == OUT_LENGTH ? e->body_len : 0;
	/* A small response goes as one contiguous piece (one buffer callback);
	 * a larger body is referenced, not copied. */
	copied = body_len <= HOT_COPY_MAX ? body_len : 0;
	total = e->head_len + 5 + strlen(age_s) + 16 + strlen(cs) + 2 + strlen(conn) + 2 +
	    copied;
	out = client_output(c);
	AN(evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) == 1);
	ASSERT(v.iov_len >= total);
	p = v.iov_base;
	p = mempcpy(p, e->head, e->head_len);
	p = mempcpy(p, "Age: ", 5);
	p = mempcpy(p, age_s, strlen(age_s));
	p = mempcpy(p, "\r\nCache-Status: ", 16);
	p = mempcpy(p, cs, strlen(cs));
	p = mempcpy(p, "\r\n", 2);
	p = mempcpy(p, conn, strlen(conn));
	p = mempcpy(p, "\r\n", 2);
	p = mempcpy(p, e->body, copied);
	ASSERT(p == (char *)v.iov_base + total);
	free(cs);
	v.iov_len = total;
	AZ(evbuffer_commit_space(out, &v, 1));
	if (copied < body_len)
		AZ(evbuffer_add_reference(out, e->body, body_len, release_hot_body,
		    hot_body_hold(e)));
	r->bytes_out += total + (body_len - copied);
	send_end(r);
	return true;
}

/* Looks the request up again, from scratch (see serve_stored). */
static void
relookup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct req *r = arg;

	CHECK_OBJ(r, REQ_MAGIC);
	if (r->have_obj) {
		store_object_free(&r->obj);
		r->have_obj = false;
	}
	fields_free(&r->obj_fields);
	fields_init(&r->obj_fields);
	free(r->pkey);
	r->pkey = NULL;
	r->vary_checked = false;
	r->cs = (struct policy_cache_status){ 0 };
	do_lookup(r);
}

/*
 * Serves the stored object (r->obj with r->obj_fields, possibly just
 * freshened by a 304): 304 to a matching conditional request, 206/416 for a
 * Range, the whole body otherwise.
 */
static void
serve_stored(struct req *r)
{
	struct policy_stored st;
	struct fields f, *sf = &r->obj_fields;
	struct range_set rs;
	char buf[128];
	int64_t age;
	enum range_result rr;

	r->step = REQ_HIT;
	r->src = SRC_STORE;
	policy_stored_of(r, &st);
	age = policy_current_age(&st, r->now);
	dec((uint64_t)(age < 0 ? 0 : age), buf);

	if (policy_client_conditional(&r->hr, &st) == POLICY_COND_NOT_MODIFIED) {
		policy_304_fields(&r->pcfg, &r->obj_fields, &f);
		fields_set(&f, "Age", buf);
		send_head(r, 304, NULL, &f, 11, true, 0);
		fields_free(&f);
		send_end(r);
		return;
	}
	r->send_from = 0;
	r->send_left = r->obj.body_len;
	rr = RANGE_NONE;
	if (r->obj.status == 200)
		rr = range_evaluate(&r->hr.fields, &r->obj_fields, r->obj.body_len, &rs);
	if (rr == RANGE_UNSATISFIABLE) {
		fields_init(&f);
		snprintf(buf, sizeof(buf), "bytes */%llu", (unsigned long long)r->obj.body_len);
		fields_add_str(&f, "Content-Range", buf);
		fields_add_str(&f, "Content-Type", "text/plain");
		send_head(r, 416, NULL, &f, 11, false, 0);
		fields_free(&f);
		send_end(r);
		return;
	}
	/*
	 * The body's chunks must stay while it is sent, however slowly the
	 * client reads: pin the object (unpinned in req_free). One evicted or
	 * invalidated since the lookup (or during a revalidation) has none to
	 * send: the request goes to the origin instead, as a miss that is not
	 * stored, or gets the 504 of only-if-cached (RFC 9111 §5.2.1.7). When
	 * slow readers already pin half the store, the body goes unpinned:
	 * evicted meanwhile, it is cut short (the client can tell). An inline
	 * body came whole with the lookup: nothing to keep, but after a
	 * revalidation it is sent only if the object is still stored.
	 */
	if (r->hr.method != HTTP_M_HEAD && r->obj.body_len > 0 &&
	    (r->obj.body == NULL || r->revalidating)) {
		struct policy_request_cc rcc;
		int pin;

		/* An inline body needs no pin, only the object's presence. */
		if (r->obj.body != NULL)
			pin = store_touch(cache_get()->store, r->obj.id) ? 0 : STORE_ENOTFOUND;
		else
			pin = store_pin(cache_get()->store, r->obj.id, r->obj.body_len);
		if (pin == 0) {
			r->pinned = r->obj.body == NULL;
		} else if (pin == STORE_EBUSY) {
			log_info("%s: pinned objects fill half the store; sending "
			    "object %llu unpinned", r->pkey, (unsigned long long)r->obj.id);
		} else if (r->relookups < RELOOKUP_TRIES && !r->waiting && !r->revalidating) {
			/*
			 * Most often the object is being replaced (a refresh
			 * just finished) and its successor commits within
			 * milliseconds: look again then rather than go to the
			 * origin once more.
			 */
			struct timeval tv = { 0, RELOOKUP_US };

			/* Nothing is sent meanwhile: a drained client must not
			 * make req_client_drained send a body (no head yet). */
			r->step = REQ_LOOKUP;
			r->src = SRC_NONE;
			r->relookups++;
			if (r->relookup_ev == NULL)
				r->relookup_ev = evtimer_new(r->client->worker->base, relookup_cb, r);
			AN(r->relookup_ev);
			AZ(evtimer_add(r->relookup_ev, &tv));
			return;
		} else {
			r->cache_status = "MISS";
			r->cs = (struct policy_cache_status){ .fwd = POLICY_FWD_MISS,
			    .key = r->cs.key };
			policy_request_cc(&r->hr.fields, &rcc);
			if (rcc.only_if_cached)
				respond_error(r, 504, false);
			else
				start_pass(r);
			return;
		}
	}
	/* The stored fields are sent as they are, edited in place: the
	 * policy is done with them (no copy on the hit path). */
	fields_set(sf, "Age", buf);
	if (rr == RANGE_SATISFIABLE && rs.n == 1) {
		snprintf(buf, sizeof(buf), "bytes %llu-%llu/%llu",
		    (unsigned long long)rs.r[0].first, (unsigned long long)rs.r[0].last,
		    (unsigned long long)r->obj.body_len);
		fields_set(sf, "Content-Range", buf);
		r->send_from = rs.r[0].first;
		r->send_left = rs.r[0].last - rs.r[0].first + 1;
		send_head(r, 206, NULL, sf, 11, r->hr.method == HTTP_M_HEAD,
		    (int64_t)r->send_left);
	} else if (rr == RANGE_SATISFIABLE) {
		const struct field *ct = fields_get(&r->obj_fields, "Content-Type");
		uint64_t total;

		r->parts = rs;
		r->next_part = 0;
		r->send_left = 0;
		snprintf(r->boundary, sizeof(r->boundary), "freshd-%016llx%08x",
		    (unsigned long long)r->obj.id, (unsigned)r->start.tv_usec);
		r->part_type = ct != NULL ? xstrndup(ct->value, ct->value_len) : NULL;
		total = range_multipart_length(&rs, r->boundary, r->part_type, r->obj.body_len);
		fields_remove(sf, "Content-Range");
		snprintf(buf, sizeof(buf), "multipart/byteranges; boundary=%s", r->boundary);
		fields_set(sf, "Content-Type", buf);
		send_head(r, 206, NULL, sf, 11, r->hr.method == HTTP_M_HEAD, (int64_t)total);
	} else {
		bool hot = hot_candidate(r);

		/* RFC 9110 §9.3.2: HEAD gets the length a GET would, even when
		 * the origin sent the body chunked. */
		if (r->hr.method == HTTP_M_HEAD && r->obj.status >= 200 &&
		    r->obj.status != 204 && r->obj.status != 304)
			fields_set(sf, "Content-Length", dec(r->obj.body_len, buf));
		send_head(r, r->obj.status, NULL, sf, 11, r->hr.method == HTTP_M_HEAD ||
		    r->obj.status == 204 || r->obj.status == 304 || r->obj.status < 200,
		    (int64_t)r->obj.body_len);
		if (hot)
			hot_keep(r, age);
	}
	if (r->hr.method == HTTP_M_HEAD || r->framing == OUT_NONE) {
		send_end(r);
		return;
	}
	if (r->tmp == NULL && r->obj.body == NULL)
		r->tmp = evbuffer_new();
	AN(r->tmp != NULL || r->obj.body != NULL);
	store_progress(r);
}

/* ---- misses and revalidations: waiting on the in-flight fetch ---------- */

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct req *r = arg;

	CHECK_OBJ(r, REQ_MAGIC);
	if (r->waiting)
		wait_progress(r);
}

/* Removes what would make the origin answer with less than the full object. */
static void
strip_client_validators(struct fields *f)
{
	fields_remove(f, "If-None-Match");
	fields_remove(f, "If-Modified-Since");
	fields_remove(f, "Range");
	fields_remove(f, "If-Range");
}

/*
 * Starts (or joins) the in-flight fetch for this request. collapse false
 * fetches on its own (hit-for-miss, or released from another fetch).
 */
static void
start_wait(struct req *r, bool collapse)
{
	struct inflight_params p;
	struct fetch_request fr;
	char *key = NULL;
	size_t n;

	r->step = REQ_WAIT;
	build_upstream_fields(r);
	strip_client_validators(&r->up_fields);
	if (r->revalidating)
		policy_revalidation_fields(&r->obj_fields, &r->up_fields);
	fill_fetch_request(r, &fr);
	/* HEAD is fetched for itself and never shared with GETs. */
	if (collapse && r->hr.method == HTTP_M_GET) {
		if (r->revalidating) {
			n = strlen(r->pkey) + 32;
			key = xmalloc(n);
			snprintf(key, n, "%s\n#%llu", r->pkey, (unsigned long long)r->obj.id);
		} else {
			key = xstrdup(r->pkey);
		}
	}
	memset(&p, 0, sizeof(p));
	p.key = key;
	p.pkey = r->pkey;
	p.method = r->hr.method;
	p.req_fields = &r->hr.fields;
	p.worker = r->client->worker;
	p.backend = r->site->backend;
	p.fetch = &fr;
	p.revalidate = r->revalidating;
	p.stored_id = r->have_obj ? r->obj.id : 0;
	p.stored_status = r->have_obj ? r->obj.status : 0;
	p.stored_body_len = r->have_obj ? r->obj.body_len : 0;
	p.hfm_key = r->hr.method == HTTP_M_GET && !r->revalidating ? r->pkey : NULL;
	p.stored_fields = r->have_obj ? &r->obj_fields : NULL;
	p.request_time = r->now;
	if (r->wake_ev == NULL) {
		r->wake_ev = event_new(r->client->worker->base, -1, 0, wake_cb, r);
		AN(r->wake_ev);
	}
	r->wt.wake = r->wake_ev;
	r->wt.req_fields = &r->hr.fields;
	r->waiting = true;
	r->src = SRC_INFLIGHT;
	if (inflight_join(&p, &r->wt) == INFLIGHT_JOINED)
		r->cs.collapsed = true;
	free(key);
}

/* Takes body bytes from the in-flight object while the client keeps up. */
static void
inflight_body_progress(struct req *r)
{
	for (;;) {
		enum inflight_end end;
		size_t n = 0;

		if (client_output_congested(r->client))
			return;
		end = inflight_take_body(&r->wt, r->tmp, TAKE_MAX, &n);
		if (r->ranged) {
			/* Keep only the part of [taken, taken + n) inside the range. */
			uint64_t lo = r->taken, hi = r->taken + n, keep;
			size_t skip = r->send_from > lo ? (size_t)(r->send_from - lo) : 0;

			if (skip > n)
				skip = n;
			evbuffer_drain(r->tmp, skip);
			keep = hi > lo + skip ? hi - lo - skip : 0;
			if (keep > r->send_left)
				keep = r->send_left;
			send_body(r, r->tmp, (size_t)keep);
			evbuffer_drain(r->tmp, evbuffer_get_length(r->tmp));
			r->taken = hi;
			r->send_from += keep;
			r->send_left -= keep;
			if (r->send_left == 0) {
				stop_waiting(r);
				send_end(r);
				return;
			}
		} else if (n > 0) {
			send_body(r, r->tmp, n);
		}
		if (end == INFLIGHT_COMPLETE) {
			stop_waiting(r);
			send_end(r);
			return;
		}
		if (end == INFLIGHT_TRUNCATED) {
			stop_waiting(r);
			r->cache_status = "TRUNCATED";
			send_abort(r);
			return;
		}
		if (n < TAKE_MAX)
			return;
	}
}

/*
 * A failed revalidation: when stale-if-error allows it (RFC 5861 §4), leaves
 * the in-flight fetch, serves the stale response and returns true (the
 * request is over and freed); otherwise returns false and changes nothing.
 */
static bool
try_stale_on_error(struct req *r, int origin_status)
{
	struct policy_stored st;

	if (!r->have_obj)
		return false;
	policy_stored_of(r, &st);
	if (!policy_stale_if_error(&r->pcfg, &r->hr, &st, origin_status, r->now))
		return false;
	stop_waiting(r);
	r->cache_status = "STALE";
	r->cs.hit = true;
	r->cs.fwd = POLICY_FWD_NONE;
	r->cs.fwd_status = 0;
	r->cs.detail = "stale-if-error";
	r->cs.has_ttl = true;
	r->cs.ttl = r->dec.ttl;
	serve_stored(r);
	return true;
}

static void
deliver_inflight_head(struct req *r)
{
	struct inflight_head *h = &r->ih;
	struct policy_stored st;
	bool bodiless;
	int64_t len;

	r->cs.fwd_status = h->status;
	r->cs.stored = h->storable;
	if (h->storable) {
		int64_t life = policy_freshness_lifetime(&r->pcfg, h->status,
		    &h->fields, h->response_time);

		/* A waiter's own conditional request, against the new response. */
		st.status = h->status;
		st.fields = &h->fields;
		st.request_time = h->request_time;
		st.response_time = h->response_time;
		/* RFC 9211 §2.7: what is left, so an Age from upstream counts. */
		r->cs.has_ttl = true;
		r->cs.ttl = life - policy_current_age(&st, r->now);
		if (h->status == 200 &&
		    policy_client_conditional(&r->hr, &st) == POLICY_COND_NOT_MODIFIED) {
			struct fields f;
			policy_304_fields(&r->pcfg, &h->fields, &f);
			fields_set(&f, "Age", "0");
			send_head(r, 304, NULL, &f, h->version, true, 0);
			fields_free(&f);
			stop_waiting(r);
			send_end(r);
			return;
		}
	}
	bodiless = r->hr.method == HTTP_M_HEAD || h->status == 204 || h->status == 304 ||
	    h->status < 200;
	len = h->body == BODY_LENGTH ? (int64_t)h->content_length :
	    h->body == BODY_NONE ? 0 : -1;
	/* RFC 9111 §4.2.3, §5.1: the age of what the origin just sent. */
	st.status = h->status;
	st.fields = &h->fields;
	st.request_time = h->request_time;
	st.response_time = h->response_time;
	{
		char age[32];
		snprintf(age, sizeof(age), "%lld",
		    (long long)policy_current_age(&st, time(NULL)));
		fields_set(&h->fields, "Age", age);
	}
	if (r->hr.method == HTTP_M_GET && h->status == 200 && h->storable &&
	    h->body == BODY_LENGTH && !bodiless) {
		struct range_set rs;
		enum range_result rr = range_evaluate(&r->hr.fields, &h->fields,
		    h->content_length, &rs);
		/* One range from the stream; several get the whole body (200). */
		if (rr == RANGE_SATISFIABLE && rs.n == 1) {
			char cr[96];
			snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu",
			    (unsigned long long)rs.r[0].first, (unsigned long long)rs.r[0].last,
			    (unsigned long long)h->content_length);
			fields_set(&h->fields, "Content-Range", cr);
			r->send_from = rs.r[0].first;
			r->send_left = rs.r[0].last - rs.r[0].first + 1;
			r->ranged = true;
			send_head(r, 206, NULL, &h->fields, h->version, false,
			    (int64_t)r->send_left);
			if (r->tmp == NULL)
				r->tmp = evbuffer_new();
			AN(r->tmp);
			inflight_body_progress(r);
			return;
		}
	}
	if (bodiless && r->hr.method == HTTP_M_HEAD) {
		/* Keep the origin's Content-Length for HEAD (RFC 9110 §9.3.2). */
		send_head(r, h->status, h->reason, &h->fields, h->version, true, 0);
	} else {
		send_head(r, h->status, h->reason, &h->fields, h->version, bodiless, len);
	}
	if (r->framing == OUT_NONE && h->body != BODY_NONE && r->hr.method != HTTP_M_HEAD) {
		/* Bodiless status with a body from the origin: drop it. */
		stop_waiting(r);
		send_end(r);
		return;
	}
	if (r->tmp == NULL)
		r->tmp = evbuffer_new();
	AN(r->tmp);
	inflight_body_progress(r);
}

static void
wait_progress(struct req *r)
{
	enum inflight_poll p;
	int fail_status = 502;

	if (r->have_ih) {
		inflight_body_progress(r);
		return;
	}
	p = inflight_take_head(&r->wt, &r->ih, &fail_status);
	switch (p) {
	case INFLIGHT_WAIT:
		return;
	case INFLIGHT_RELEASED:
		/* Not for us (not shareable, or another variant): fetch alone. */
		stop_waiting(r);
		r->cs.collapsed = false;
		start_wait(r, false);
		return;
	case INFLIGHT_FAILED:
		stop_waiting(r);
		if (r->revalidating && try_stale_on_error(r, 0))
			return;
		/* RFC 9111 §5.2.2.2: a stored response that must be revalidated and
		 * cannot be is answered with 504. */
		respond_error(r, r->revalidating ? 504 : fail_status, false);
		return;
	case INFLIGHT_HEAD:
		r->have_ih = true;
		{
			struct timeval now;
			gettimeofday(&now, NULL);
			r->upstream_ms = (double)(now.tv_sec - r->start.tv_sec) * 1000.0 +
			    (double)(now.tv_usec - r->start.tv_usec) / 1000.0;
		}
		break;
	}
	if (r->ih.not_modified && r->have_obj) {
		stop_waiting(r);
		fields_free(&r->obj_fields);
		fields_copy(&r->obj_fields, &r->ih.fields);
		r->obj.request_time = r->ih.request_time;
		r->obj.response_time = r->ih.response_time;
		r->cache_status = "REVALIDATED";
		r->cs.fwd_status = r->ih.status;
		/* RFC 9211 §2.6, §2.7: stored, and its ttl, only when the
		 * freshened response was written (not a private answer). */
		r->cs.stored = r->ih.storable;
		if (r->ih.storable) {
			struct policy_stored st;
			policy_stored_of(r, &st);
			r->cs.has_ttl = true;
			r->cs.ttl = policy_freshness_lifetime(&r->pcfg, st.status,
			    st.fields, st.response_time) - policy_current_age(&st, r->now);
		}
		serve_stored(r);
		return;
	}
	/* try_stale_on_error serves (and ends) the request when it returns true. */
	if (r->revalidating && r->ih.status >= 500 && try_stale_on_error(r, r->ih.status))
		return;
	deliver_inflight_head(r);
}

/* ---- lookup ------------------------------------------------------------ */

static int
secondary_key_cb(void *arg, const char *vary, size_t vary_len, char **sk, size_t *sk_len)
{
	struct req *r = arg;
	struct cache *cache = cache_get();
	char *names = xstrndup(vary, vary_len);
	char *k;

	r->vary_checked = true;
	k = cache_key_vary(&cache->keys, names, &r->hr.fields);
	free(names);
	if (k == NULL)
		return -1;
	*sk = k;
	*sk_len = strlen(k);
	return 0;
}

static void
do_lookup(struct req *r)
{
	struct cache *cache = cache_get();
	struct policy_stored st;
	int rc;

	r->step = REQ_LOOKUP;
	if (cache_key_request(&r->hr, scheme(r), &r->pkey) != 0) {
		r->cs.fwd = POLICY_FWD_BYPASS;
		r->cs.detail = "key";
		start_pass(r);
		return;
	}
	if (r->site->cache_status_key)
		r->cs.key = r->pkey;
	r->pkey_len = strlen(r->pkey);
	r->plain = hot_request_plain(&r->hr);
	if (r->plain) {
		if (serve_hot(r))
			return;
		/* Read before the lookup: see store_key_version. */
		r->key_hash = store_key_hash(cache->store, r->pkey, r->pkey_len);
		r->key_version = store_key_version(cache->store, r->key_hash);
	}
	rc = store_lookup(cache->store, r->pkey, r->pkey_len, secondary_key_cb, r, &r->obj);
	if (rc != 0 && r->plain)
		hot_seen(r->client->worker->hot, r->pkey, r->pkey_len);
	if (rc == 0) {
		r->have_obj = true;
		if (fields_from_block_ref(&r->obj_fields, r->obj.headers,
		    r->obj.headers_len) != 0) {
			log_warn("%s: unreadable stored header block; treating as a miss", r->pkey);
			store_object_free(&r->obj);
			r->have_obj = false;
			fields_free(&r->obj_fields);
			fields_init(&r->obj_fields);
		}
	}
	if (r->have_obj)
		policy_stored_of(r, &st);
	policy_decide(&r->pcfg, &r->hr, r->have_obj ? &st : NULL,
	    !r->have_obj && r->vary_checked, r->now, &r->dec);
	r->cs.fwd = r->dec.fwd;
	r->cs.detail = r->dec.detail;
	switch (r->dec.action) {
	case POLICY_PASS:
		r->cache_status = "PASS";
		start_pass(r);
		return;
	case POLICY_GATEWAY_TIMEOUT:
		r->cache_status = "MISS";
		respond_error(r, 504, false);
		return;
	case POLICY_FRESH:
		r->cache_status = "HIT";
		r->cs.hit = true;
		r->cs.fwd = POLICY_FWD_NONE;
		r->cs.has_ttl = true;
		r->cs.ttl = r->dec.ttl;
		serve_stored(r);
		return;
	case POLICY_STALE_OK: {
		/* RFC 5861 §3: answer now, refresh in the background. */
		struct inflight_params p;
		struct fetch_request fr;
		char key[64];
		size_t n = strlen(r->pkey) + sizeof(key);
		char *k = xmalloc(n);

		r->cache_status = "STALE";
		r->cs.hit = true;
		r->cs.fwd = POLICY_FWD_NONE;
		r->cs.has_ttl = true;
		r->cs.ttl = r->dec.ttl;
		r->cs.detail = "stale-while-revalidate";
		snprintf(k, n, "%s\n#%llu", r->pkey, (unsigned long long)r->obj.id);
		build_upstream_fields(r);
		strip_client_validators(&r->up_fields);
		policy_revalidation_fields(&r->obj_fields, &r->up_fields);
		fill_fetch_request(r, &fr);
		memset(&p, 0, sizeof(p));
		p.key = k;
		p.pkey = r->pkey;
		p.method = HTTP_M_GET;
		p.req_fields = &r->hr.fields;
		p.worker = r->client->worker;
		p.backend = r->site->backend;
		p.fetch = &fr;
		p.revalidate = true;
		p.stored_id = r->obj.id;
		p.stored_status = r->obj.status;
		p.stored_body_len = r->obj.body_len;
		p.stored_fields = &r->obj_fields;
		p.request_time = r->now;
		fr.method_name = "GET";
		fr.method = HTTP_M_GET;
		if (!inflight_hit_for_miss(k))
			inflight_join(&p, NULL);
		free(k);
		serve_stored(r);
		return;
	}
	case POLICY_REVALIDATE:
		r->cache_status = "REVALIDATED";
		r->revalidating = r->have_obj;
		start_wait(r, true);
		return;
	case POLICY_MISS:
		r->cache_status = "MISS";
		if (r->have_obj) {
			store_object_free(&r->obj);
			r->have_obj = false;
		}
		/*
		 * A miss fetches the whole response to store it and serves the
		 * range as the body streams in; a client seeking far into a
		 * large object would wait for everything before its offset.
		 * Past the site's limit the Range goes to the origin as it is,
		 * and the 206 is not stored (RFC 9111 §3.3 allows a cache not
		 * to store partial content).
		 */
		if (r->hr.method == HTTP_M_GET &&
		    range_starts_past(&r->hr.fields, r->site->range_offset_limit)) {
			r->cs.detail = "range-offset";
			start_pass(r);
			return;
		}
		start_wait(r, !inflight_hit_for_miss(r->pkey));
		return;
	}
}

/* ---- pass -------------------------------------------------------------- */

static void
start_pass(struct req *r)
{
	struct fetch_request fr;

	r->step = REQ_PASS;
	r->src = SRC_FETCH;
	build_upstream_fields(r);
	fill_fetch_request(r, &fr);
	r->fetch = fetch_start(r->client->worker, r->site->backend, &fr, &pass_sink, r);
}

/* RFC 9111 §4.4: an unsafe method's success invalidates what it touched. */
static void
invalidate_after(struct req *r, const struct http_response *resp)
{
	struct cache *cache = cache_get();
	char *keys[3], *target = NULL;
	size_t i, n;

	if (cache == NULL || http_method_is_safe(r->hr.method))
		return;
	if (cache_key_request(&r->hr, scheme(r), &target) != 0)
		return;
	n = policy_invalidations(&r->hr, target, resp->status, &resp->fields, keys);
	for (i = 0; i < n; i++) {
		store_invalidate(cache->store, keys[i], strlen(keys[i]));
		free(keys[i]);
	}
	free(target);
}

void
req_start(struct client *c, struct http_request *hr)
{
	const struct config *conf = c->cfg->cfg;
	struct req *r;

	r = xcalloc(1, sizeof(*r));
	r->magic = REQ_MAGIC;
	r->client = c;
	r->hr = *hr;
	memset(hr, 0, sizeof(*hr));
	r->upstream_ms = -1;
	r->cache_status = "PASS";
	r->now = time(NULL);
	fields_init(&r->up_fields);
	fields_init(&r->obj_fields);
	gettimeofday(&r->start, NULL);
	c->req = r;

	r->step = REQ_ROUTE;
	/*
	 * An absolute-form target (RFC 9112 §3.2.2) names its own scheme. The
	 * connection's scheme is the one freshd keys, forwards and invalidates
	 * with, so a target that names the other one is not ours to answer
	 * (RFC 9110 §15.5.20): taking it would let a plaintext client fill
	 * the https entries with responses made for http, and the reverse.
	 */
	if (r->hr.scheme != NULL && strcasecmp(r->hr.scheme, scheme(r)) != 0) {
		r->cache_status = "-";
		respond_error(r, 421, false);
		return;
	}
	r->site = route_find(conf, r->hr.authority, r->hr.path);
	if (r->site == NULL) {
		r->cache_status = "-";
		respond_error(r, 404, false);
		return;
	}
	if (r->hr.method == HTTP_M_CONNECT || r->hr.method == HTTP_M_TRACE) {
		r->cache_status = "-";
		respond_error(r, 405, false);
		return;
	}
	if (r->hr.body == BODY_LENGTH && r->site->max_body != 0 &&
	    r->hr.content_length > r->site->max_body) {
		r->cache_status = "-";
		respond_error(r, 413, true);
		return;
	}
	client_body_limit(c, r->site->max_body);
	if (r->hr.expect_continue && r->hr.body != BODY_NONE && r->hr.version == 11)
		client_continue(c);

	if (cache_get() != NULL) {
		r->pcfg = cache_get()->policy;
		if (!r->site->heuristic)
			r->pcfg.heuristic_fraction = 0;
	}
	if (cache_get() != NULL && r->site->cache && r->hr.body == BODY_NONE &&
	    (r->hr.method == HTTP_M_GET || r->hr.method == HTTP_M_HEAD)) {
		do_lookup(r);
		return;
	}
	r->cs.fwd = http_method_is_safe(r->hr.method) ? POLICY_FWD_BYPASS : POLICY_FWD_METHOD;
	if (!r->site->cache)
		r->cs.fwd = POLICY_FWD_BYPASS;
	start_pass(r);
}

/*
 * RFC 9110 §9.3.3: a POST response with explicit freshness whose
 * Content-Location is the POST's own URI is the response a GET of that URI
 * would get; it is stored under the GET's key as it streams to the client.
 * Called after invalidate_after, whose invalidation of the URI the store
 * commits first.
 */
static void
store_post_response(struct req *r, const struct http_response *resp)
{
	struct cache *cache = cache_get();
	struct fields stored;
	char *key = NULL;

	if (cache == NULL || !r->site->cache || r->hr.method != HTTP_M_POST ||
	    cache_key_request(&r->hr, scheme(r), &key) != 0)
		return;
	if (policy_post_reusable(&r->pcfg, &r->hr, key, resp->status, &resp->fields, NULL)) {
		r->post_response_time = time(NULL);
		policy_store_fields(&r->pcfg, &resp->fields, r->post_response_time, &stored);
		r->post_block = fields_to_block(&stored, &r->post_block_len);
		fields_free(&stored);
		r->post_sw = store_write_begin(cache->store, key, strlen(key));
		r->cs.stored = true;
	}
	free(key);
}

/* Appends the n bytes at the front of src to the POST response being stored. */
static void
store_post_body(struct req *r, struct evbuffer *src, size_t n)
{
	struct evbuffer_ptr pos;
	struct evbuffer_iovec v[8];
	int k;

	AZ(evbuffer_ptr_set(src, &pos, 0, EVBUFFER_PTR_SET));
	while (n > 0 && r->post_sw != NULL) {
		k = evbuffer_peek(src, (ev_ssize_t)n, &pos, v, 8);
		for (int i = 0; i < k && i < 8 && n > 0; i++) {
			size_t take = v[i].iov_len < n ? v[i].iov_len : n;

			if (store_write_append(r->post_sw, v[i].iov_base, take) != 0) {
				/* Not stored after all (queue full, or too large). */
				store_write_abort(r->post_sw);
				r->post_sw = NULL;
				return;
			}
			n -= take;
			AZ(evbuffer_ptr_set(src, &pos, take, EVBUFFER_PTR_ADD));
		}
	}
}

/* The stored POST response is complete (or not): commit or drop it. */
static void
store_post_end(struct req *r, bool complete)
{
	struct store_object_meta meta;

	if (r->post_sw == NULL)
		return;
	if (!complete) {
		store_write_abort(r->post_sw);
		r->post_sw = NULL;
		return;
	}
	memset(&meta, 0, sizeof(meta));
	meta.status = r->cs.fwd_status;
	meta.request_time = r->now;
	meta.response_time = r->post_response_time;
	meta.headers = r->post_block;
	meta.headers_len = r->post_block_len;
	meta.secondary_key = "";
	meta.vary = "";
	if (store_write_finish(r->post_sw, &meta) != 0)
		log_warn("store: could not queue the POST response for %s", r->hr.target);
	r->post_sw = NULL;
}

/* Pass: the response head, re-framed for this client. */
static void
on_head(void *arg, struct http_response *resp)
{
	struct req *r = arg;
	struct fields f;
	bool bodiless;
	int64_t len;

	CHECK_OBJ(r, REQ_MAGIC);
	invalidate_after(r, resp);
	store_post_response(r, resp);
	r->cs.fwd_status = resp->status;
	fields_copy(&f, &resp->fields);
	bodiless = r->hr.method == HTTP_M_HEAD || resp->status == 204 ||
	    resp->status == 304 || resp->status < 200;
	len = resp->body == BODY_LENGTH ? (int64_t)resp->content_length :
	    resp->body == BODY_NONE ? 0 : -1;
	send_head(r, resp->status, resp->reason, &f, resp->version, bodiless, len);
	fields_free(&f);
}

static void
on_body(void *arg, struct evbuffer *src, size_t n)
{
	struct req *r = arg;

	CHECK_OBJ(r, REQ_MAGIC);
	if (r->post_sw != NULL)
		store_post_body(r, src, n);
	send_body(r, src, n);
	/* Backpressure: a slow client pauses the origin (STYLE.md §10). */
	if (client_output_congested(r->client))
		fetch_pause(r->fetch);
}

static void
on_end(void *arg, enum fetch_end how)
{
	struct req *r = arg;

	CHECK_OBJ(r, REQ_MAGIC);
	r->upstream_ms = fetch_elapsed_ms(r->fetch);
	r->fetch = NULL;
	store_post_end(r, how == FETCH_COMPLETE);
	if (how == FETCH_TRUNCATED) {
		log_warn("upstream response for %s %s truncated", r->hr.method_name,
		    r->hr.target);
		r->cache_status = "TRUNCATED";
		send_abort(r);
		return;
	}
	send_end(r);
}

static void
on_error(void *arg, int status, const char *why)
{
	struct req *r = arg;

	CHECK_OBJ(r, REQ_MAGIC);
	r->upstream_ms = fetch_elapsed_ms(r->fetch);
	r->fetch = NULL;
	log_warn("%s %s: %d: %s", r->hr.method_name, r->hr.target, status, why);
	respond_error(r, status, false);
}

static void
on_body_drained(void *arg)
{
	struct req *r = arg;

	CHECK_OBJ(r, REQ_MAGIC);
	client_body_resume(r->client);
}

void
req_body_data(struct req *r, struct evbuffer *in, size_t n)
{
	CHECK_OBJ(r, REQ_MAGIC);
	if (r->fetch == NULL) {
		evbuffer_drain(in, n);
		return;
	}
	fetch_body_add(r->fetch, in, n);
	if (fetch_body_congested(r->fetch))
		client_body_pause(r->client);
}

void
req_body_end(struct req *r)
{
	CHECK_OBJ(r, REQ_MAGIC);
	if (r->fetch != NULL)
		fetch_body_end(r->fetch);
}

void
req_fail(struct req *r, int status)
{
	CHECK_OBJ(r, REQ_MAGIC);
	if (r->fetch != NULL) {
		fetch_abort(r->fetch);
		r->fetch = NULL;
	}
	stop_waiting(r);
	if (r->step != REQ_DELIVER && r->step != REQ_HIT) {
		respond_error(r, status, true);
		return;
	}
	send_abort(r);
}

void
req_client_drained(struct req *r)
{
	CHECK_OBJ(r, REQ_MAGIC);
	switch (r->src) {
	case SRC_FETCH:
		if (r->fetch != NULL)
			fetch_resume(r->fetch);
		break;
	case SRC_INFLIGHT:
		if (r->waiting && r->have_ih)
			inflight_body_progress(r);
		break;
	case SRC_STORE:
		if (r->step == REQ_HIT || r->step == REQ_DELIVER)
			store_progress(r);
		break;
	case SRC_NONE:
		break;
	}
}

void
req_client_gone(struct req *r)
{
	CHECK_OBJ(r, REQ_MAGIC);
	if (r->fetch != NULL) {
		fetch_abort(r->fetch);
		r->fetch = NULL;
	}
	stop_waiting(r);
	if (r->step != REQ_DELIVER && r->step != REQ_HIT)
		r->status = 499;
	r->cache_status = "ABORTED";
	req_finish(r);
}

/*
 * origin.c: the scripted origin server of the end-to-end tests.
 *
 * A small keep-alive HTTP/1.1 server on libevent bufferevents whose answer to
 * each request is scripted by the request's query string (and by any
 * X-Origin-Script request fields, read as more query parameters), and which
 * records everything it receives so a test can check exactly what freshd
 * forwarded. The vocabulary is documented in tests/e2e/README.md.
 *
 * Design decisions:
 * - It has its own deliberately small HTTP/1.1 parser and does not link
 *   libfreshd: the proxy's parser must not be the judge of its own output.
 *   Anything it cannot parse is recorded with an "error" and answered 400.
 * - A request is recorded in the log as soon as its head is parsed (with
 *   "complete": false), and updated as its body arrives, so a request whose
 *   body never finished (freshd gave up half-way) is visible too.
 * - Bodies are never buffered whole: request bodies are hashed (SHA-256,
 *   implemented below, ~80 lines) as they arrive and then dropped; response
 *   bodies are generated lazily, at most HIGH_WATER bytes ahead of what the
 *   socket accepted, from a pattern (byte i of a body is PATTERN[i % 36]),
 *   so a 1 GiB response costs a few hundred KiB.
 * - Responses are strictly in request order: the next pipelined request is
 *   parsed only once the current response has been queued completely.
 * - Control requests (path starting with "/__") never count in the stats nor
 *   appear in the log; a connection whose first request is a control request
 *   is left out of the connection counts.
 * - If standard input is a pipe, the origin exits when it reaches end of
 *   file, so a test harness that dies never leaves an origin behind.
 * - A cache test needs one URL (one cache key) to be answered differently
 *   over time (slower, failing, changed), so a rule set through POST /__rule
 *   replaces the script of matching targets; --default-query scripts targets
 *   that have no query at all (a demo origin for scripts/run).
 * - Log entries carry wall-clock times (when the head arrived, when the
 *   response was fully queued) so tests can tell whether a client saw bytes
 *   before the origin had finished sending them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "util.h"

#define PATTERN		"abcdefghijklmnopqrstuvwxyz0123456789"
#define PATTERN_LEN	36
#define PIECE		(64 * 1024)	/* largest body piece queued at once */
#define HIGH_WATER	(256 * 1024)	/* stop generating above this much queued output */
#define LOW_WATER	(64 * 1024)	/* resume generating below this */
#define MAX_HEAD	(1024 * 1024)	/* a longer request head is an error */
#define MAX_LINE	4096		/* chunk-size and trailer lines */
#define MAX_FIELDS	1000

/* ---- SHA-256 (FIPS 180-4) ---- */

struct sha256 {
	uint32_t	h[8];
	uint64_t	len;		/* bytes hashed so far */
	uint8_t		buf[64];
	size_t		used;		/* bytes waiting in buf */
};

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n)	(((x) >> (n)) | ((x) << (32 - (n))))

static void
sha256_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = w[i - 16] + w[i - 7] +
		    (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
		    (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
	e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
	for (i = 0; i < 64; i++) {
		t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) +
		    sha_k[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		h = g; g = f; f = e; e = d + t1;
		d = c; c = b; b = a; a = t1 + t2;
	}
	s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
	s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void
sha256_init(struct sha256 *s)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memset(s, 0, sizeof(*s));
	memcpy(s->h, iv, sizeof(iv));
}

static void
sha256_update(struct sha256 *s, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t take;

	s->len += n;
	if (s->used > 0) {
		take = 64 - s->used < n ? 64 - s->used : n;
		memcpy(s->buf + s->used, p, take);
		s->used += take;
		p += take;
		n -= take;
		if (s->used < 64)
			return;
		sha256_block(s, s->buf);
		s->used = 0;
	}
	for (; n >= 64; p += 64, n -= 64)
		sha256_block(s, p);
	memcpy(s->buf, p, n);
	s->used = n;
}

/* Finishes the hash into out as 64 lower-case hex digits and a NUL. */
static void
sha256_hex(struct sha256 *s, char out[65])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[72];
	size_t npad = (s->used < 56 ? 56 : 120) - s->used;
	int i;

	memset(pad, 0, sizeof(pad));
	pad[0] = 0x80;
	for (i = 0; i < 8; i++)
		pad[npad + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, pad, npad + 8);
	ASSERT(s->used == 0);
	for (i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08" PRIx32, s->h[i]);
}

/* ---- state ---- */

struct field {
	char	*name;
	char	*value;
};

/* One received request as /__log reports it. */
struct record {
	unsigned	conn;		/* connection number, in accept order from 1 */
	unsigned	seq;		/* request number on its connection, from 1 */
	char		*method;
	char		*target;
	char		*version;
	struct field	*fields;
	size_t		nfields;
	uint64_t	body_len;
	char		sha[65];	/* empty until the body is complete */
	bool		complete;	/* head and whole body arrived */
	bool		dropped;	/* closed without a response */
	const char	*error;		/* why the request was refused, or NULL */
	double		t_ms;		/* wall clock (ms since the epoch) when the head was parsed */
	double		done_ms;	/* when the last response byte was queued; 0 before */
};

enum body_src {
	SRC_PATTERN = 0,
	SRC_BUFFER,		/* script->body (echo, control answers) */
	SRC_SSE,
};

/* What a request asked the origin to do. */
struct script {
	int		status;
	uint64_t	size;
	size_t		chunk;
	unsigned	delay_ms;
	unsigned	body_delay_ms;
	unsigned	count;		/* SSE events */
	int64_t		reset_after;	/* -1: none */
	bool		chunked;
	bool		close;
	bool		noresp;
	bool		echo;
	bool		nolength;
	bool		sse;
	bool		nodate;
	bool		has_lastmod;
	int64_t		stall_after;	/* -1: none */
	time_t		lastmod;	/* lastmod=: Last-Modified, If-Modified-Since */
	char		*etag;
	struct evbuffer	*hdrs;		/* "Name: value\r\n" lines from hdr= */
	bool		has_ctype;
	struct evbuffer	*raw;		/* raw=: the whole response, verbatim */
};

/* POST /__rule: requests whose target contains match are scripted by script. */
struct rule {
	char	*match;
	char	*script;
};

enum cstate {
	C_HEAD = 0,	/* waiting for a request head */
	C_BODY,		/* reading a request body */
	C_WAIT,		/* delay= before the response head */
	C_SEND,		/* generating the response body */
	C_CLOSING,	/* response queued: close once it is flushed */
	C_RESET,	/* reset_after reached: RST once flushed */
};

enum chunk_state {
	CH_SIZE = 0,
	CH_DATA,
	CH_DATA_END,
	CH_TRAILER,
};

struct conn {
	unsigned		id;
	unsigned		epoch;		/* counters generation at accept */
	struct bufferevent	*bev;
	struct event		*timer;		/* delay= and body_delay= */
	struct event		*kick;		/* resumes parsing after a response */
	enum cstate		state;
	bool			control;	/* first request was a control request */
	unsigned		nreq;
	struct conn		*prev, *next;

	/* the request being read */
	struct record		*rec;
	bool			rec_owned;	/* not in the log: freed with the request */
	bool			is_control_req;
	bool			chunked_req;
	enum chunk_state	chs;
	uint64_t		body_left;	/* Content-Length or current chunk */
	struct sha256		sha;
	bool			keep_alive;
	bool			head_req;
	bool			http10;
	char			*inm;		/* If-None-Match */
	char			*ims;		/* If-Modified-Since */

	/* the response being sent */
	struct script		sc;
	enum body_src		src;
	struct evbuffer		*body;		/* SRC_BUFFER */
	struct evbuffer		*head;		/* response head held during delay= */
	uint64_t		left;		/* bytes (or SSE events) still to send */
	uint64_t		sent;		/* body bytes (or events) sent */
	bool			chunked_resp;
	bool			close_after;
	unsigned		reset_polls;	/* C_RESET: send-queue checks so far */
};

static struct {
	struct event_base	*base;
	struct conn		*conns;
	struct record		**log;
	size_t			nlog, alog;
	unsigned		next_conn;
	unsigned		epoch;
	long			connections;	/* accepted non-control, since reset */
	long			requests;	/* non-control requests, since reset */
	long			open;		/* non-control connections open now */
	unsigned		drop_reused;	/* armed by POST /__arm */
	const char		*default_query;	/* --default-query */
	struct rule		*rules;		/* POST /__rule */
	size_t			nrules;
	char			pattern[PIECE + PATTERN_LEN];
} g;

static void pump(struct conn *c);

/* ---- small helpers ---- */

static const char *
reason(int status)
{
	static const struct { int code; const char *text; } t[] = {
		{ 100, "Continue" }, { 200, "OK" }, { 201, "Created" },
		{ 202, "Accepted" }, { 203, "Non-Authoritative Information" },
		{ 204, "No Content" }, { 206, "Partial Content" },
		{ 301, "Moved Permanently" }, { 302, "Found" },
		{ 303, "See Other" }, { 304, "Not Modified" },
		{ 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" },
		{ 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 410, "Gone" },
		{ 412, "Precondition Failed" }, { 418, "I'm a teapot" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(t); i++)
		if (t[i].code == status)
			return t[i].text;
	return "Unknown";
}

/* RFC 9110 §6.4.1: 1xx, 204 and 304 responses never have content. */
static bool
bodiless_status(int status)
{
	return status < 200 || status == 204 || status == 304;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decodes %XX and '+' (form encoding) in place; returns the new length. */
static size_t
url_decode(char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			s[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
		    hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			s[o++] = (char)(hexval((unsigned char)s[i + 1]) * 16 +
			    hexval((unsigned char)s[i + 2]));
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

static uint64_t
num(const char *v)
{
	return strtoull(v, NULL, 10);
}

/* Wall-clock milliseconds since the epoch (comparable with Python's time.time()). */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Formats t as an IMF-fixdate (RFC 9110 §5.6.7). */
static void
http_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Parses an IMF-fixdate; false if s is not one. */
static bool
http_date_parse(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return false;
	*out = timegm(&tm);
	return true;
}

/* Appends s as a JSON string; bytes outside printable ASCII become \u00XX. */
static void
json_str(struct evbuffer *out, const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		evbuffer_add(out, "null", 4);
		return;
	}
	evbuffer_add(out, "\"", 1);
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			evbuffer_add_printf(out, "\\u%04x", *p);
		else
			evbuffer_add(out, p, 1);
	}
	evbuffer_add(out, "\"", 1);
}

static void
json_record(struct evbuffer *out, const struct record *r)
{
	size_t i;

	evbuffer_add_printf(out, "{\"conn\": %u, \"seq\": %u, \"method\": ",
	    r->conn, r->seq);
	json_str(out, r->method);
	evbuffer_add_printf(out, ", \"target\": ");
	json_str(out, r->target);
	evbuffer_add_printf(out, ", \"version\": ");
	json_str(out, r->version);
	evbuffer_add_printf(out, ", \"headers\": [");
	for (i = 0; i < r->nfields; i++) {
		evbuffer_add_printf(out, "%s[", i ? ", " : "");
		json_str(out, r->fields[i].name);
		evbuffer_add_printf(out, ", ");
		json_str(out, r->fields[i].value);
		evbuffer_add_printf(out, "]");
	}
	evbuffer_add_printf(out, "], \"body_length\": %" PRIu64
	    ", \"body_sha256\": \"%s\", \"complete\": %s, \"dropped\": %s, \"error\": ",
	    r->body_len, r->sha, r->complete ? "true" : "false",
	    r->dropped ? "true" : "false");
	json_str(out, r->error);
	evbuffer_add_printf(out, ", \"t_ms\": %.3f, \"done_ms\": %.3f}", r->t_ms, r->done_ms);
}

static void
record_free(struct record *r)
{
	size_t i;

	for (i = 0; i < r->nfields; i++) {
		free(r->fields[i].name);
		free(r->fields[i].value);
	}
	free(r->fields);
	free(r->method);
	free(r->target);
	free(r->version);
	free(r);
}

static void
log_push(struct record *r)
{
	if (g.nlog == g.alog) {
		g.alog = g.alog ? 2 * g.alog : 64;
		g.log = xrealloc(g.log, g.alog * sizeof(*g.log));
	}
	g.log[g.nlog++] = r;
}

static void
script_clear(struct script *s)
{
	free(s->etag);
	if (s->hdrs != NULL)
		evbuffer_free(s->hdrs);
	if (s->raw != NULL)
		evbuffer_free(s->raw);
	memset(s, 0, sizeof(*s));
	s->status = 200;
	s->chunk = 16384;
	s->count = 3;
	s->reset_after = -1;
	s->stall_after = -1;
}

/* Applies one decoded query parameter to the script; unknown names are ignored. */
static void
script_param(struct script *s, const char *k, const char *v)
{
	const char *colon;

	if (strcmp(k, "status") == 0)
		s->status = (int)num(v);
	else if (strcmp(k, "size") == 0)
		s->size = num(v);
	else if (strcmp(k, "chunked") == 0)
		s->chunked = num(v) != 0;
	else if (strcmp(k, "chunk") == 0)
		s->chunk = num(v) ? (size_t)num(v) : 1;
	else if (strcmp(k, "delay") == 0)
		s->delay_ms = (unsigned)num(v);
	else if (strcmp(k, "body_delay") == 0)
		s->body_delay_ms = (unsigned)num(v);
	else if (strcmp(k, "count") == 0)
		s->count = (unsigned)num(v);
	else if (strcmp(k, "reset_after") == 0)
		s->reset_after = (int64_t)num(v);
	else if (strcmp(k, "close") == 0)
		s->close = num(v) != 0;
	else if (strcmp(k, "noresp") == 0)
		s->noresp = num(v) != 0;
	else if (strcmp(k, "echo") == 0)
		s->echo = num(v) != 0;
	else if (strcmp(k, "nolength") == 0)
		s->nolength = num(v) != 0;
	else if (strcmp(k, "sse") == 0)
		s->sse = num(v) != 0;
	else if (strcmp(k, "nodate") == 0)
		s->nodate = num(v) != 0;
	else if (strcmp(k, "stall_after") == 0)
		s->stall_after = (int64_t)num(v);
	else if (strcmp(k, "lastmod") == 0) {
		s->has_lastmod = true;
		s->lastmod = (time_t)num(v);
	}
	else if (strcmp(k, "etag") == 0) {
		free(s->etag);
		s->etag = xstrdup(v);
	} else if (strcmp(k, "raw") == 0) {
		if (s->raw == NULL)
			s->raw = evbuffer_new();
		evbuffer_add(s->raw, v, strlen(v));
	} else if (strcmp(k, "hdr") == 0 && (colon = strchr(v, ':')) != NULL) {
		if (s->hdrs == NULL)
			s->hdrs = evbuffer_new();
		if (colon - v == 12 && strncasecmp(v, "Content-Type", 12) == 0)
			s->has_ctype = true;
		evbuffer_add(s->hdrs, v, (size_t)(colon - v));
		for (colon++; *colon == ' '; colon++)
			continue;
		evbuffer_add_printf(s->hdrs, ": %s\r\n", colon);
	}
}

/* Parses "a=1&b=2" (URL-encoded) into the script. */
static void
script_parse(struct script *s, const char *query)
{
	char *q = xstrdup(query), *p = q, *amp, *eq;
	size_t klen;

	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		if (amp != NULL)
			*amp = '\0';
		eq = strchr(p, '=');
		if (eq != NULL) {
			*eq = '\0';
			klen = url_decode(p, strlen(p));
			p[klen] = '\0';
			eq[1 + url_decode(eq + 1, strlen(eq + 1))] = '\0';
			script_param(s, p, eq + 1);
		}
		p = amp ? amp + 1 : NULL;
	}
	free(q);
}

static const char *
field_get(const struct record *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nfields; i++)
		if (strcasecmp(r->fields[i].name, name) == 0)
			return r->fields[i].value;
	return NULL;
}

/* True if the comma-separated list value contains token (case-insensitive). */
static bool
list_has(const char *value, const char *token)
{
	size_t tl = strlen(token);
	const char *p = value;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, token, tl) == 0 &&
		    (p[tl] == '\0' || p[tl] == ',' || p[tl] == ' ' || p[tl] == '\t'))
			return true;
		p = strchr(p, ',');
	}
	return false;
}

/* ---- connections ---- */

/* Lets go of the current request's record (freeing it if the log does not hold it). */
static void
rec_done(struct conn *c)
{
	if (c->rec != NULL && c->rec_owned)
		record_free(c->rec);
	c->rec = NULL;
	c->rec_owned = false;
}

static void
conn_free(struct conn *c)
{
	if (c->rec != NULL && !c->rec->complete && c->rec->error == NULL)
		c->rec->error = "connection closed before the request was complete";
	rec_done(c);
	if (!c->control)
		g.open--;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		g.conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	event_free(c->timer);
	bufferevent_free(c->bev);
	if (c->body != NULL)
		evbuffer_free(c->body);
	evbuffer_free(c->head);
	script_clear(&c->sc);
	free(c->inm);
	free(c->ims);
	event_free(c->kick);
	free(c);
}

/*
 * Closes with a TCP RST (SO_LINGER 0) instead of a FIN, once the kernel's
 * send queue is empty (SIOCOUTQ: every byte sent was acknowledged), since a
 * reset discards whatever is still queued: the peer must get exactly the
 * bytes promised before the RST. Polls every 2 ms for at most 2 s.
 */
static void
conn_reset(struct conn *c)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 2000 };
	int queued = 0;

	if (ioctl(bufferevent_getfd(c->bev), SIOCOUTQ, &queued) == 0 && queued > 0 &&
	    c->reset_polls++ < 1000) {
		evtimer_add(c->timer, &tv);
		return;
	}
	(void)setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET, SO_LINGER, &l,
	    sizeof(l));
	conn_free(c);
}

/* Waits for the output to drain, then closes (or resets). */
static void
conn_flush_then(struct conn *c, enum cstate st)
{
	c->state = st;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		if (st == C_RESET)
			conn_reset(c);
		else
			conn_free(c);
	}
}

static void
date_header(struct evbuffer *out)
{
	char buf[64];

	http_date(time(NULL), buf, sizeof(buf));
	evbuffer_add_printf(out, "Date: %s\r\n", buf);
}

/* Ends the response: back to reading requests, or close. */
static void
response_done(struct conn *c)
{
	if (c->rec != NULL)
		c->rec->done_ms = now_ms();
	if (c->close_after) {
		conn_flush_then(c, C_CLOSING);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_WRITE, LOW_WATER, 0);
	c->state = C_HEAD;
	if (c->body != NULL) {
		evbuffer_free(c->body);
		c->body = NULL;
	}
	script_clear(&c->sc);
	rec_done(c);
	free(c->inm);
	c->inm = NULL;
	free(c->ims);
	c->ims = NULL;
	event_active(c->kick, 0, 0);	/* parse any pipelined request, unnested */
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (c->state == C_RESET) {
		conn_reset(c);
		return;
	}
	if (c->state == C_WAIT) {
		c->state = C_SEND;
		evbuffer_add_buffer(out, c->head);
	}
	pump(c);
}

/* Queues one piece of the body; returns its length (events count 1). */
static uint64_t
piece(struct conn *c, struct evbuffer *out)
{
	uint64_t n;
	char ev[64];
	int evlen;

	if (c->src == SRC_SSE) {
		evlen = snprintf(ev, sizeof(ev), "id: %" PRIu64 "\ndata: event %" PRIu64 "\n\n",
		    c->sent, c->sent);
		if (c->chunked_resp)
			evbuffer_add_printf(out, "%x\r\n", (unsigned)evlen);
		evbuffer_add(out, ev, (size_t)evlen);
		if (c->chunked_resp)
			evbuffer_add(out, "\r\n", 2);
		return 1;
	}
	n = c->left;
	if (c->sc.body_delay_ms > 0 || c->chunked_resp)
		n = n < c->sc.chunk ? n : c->sc.chunk;
	if (n > PIECE)
		n = PIECE;
	if (c->sc.reset_after >= 0 && n > (uint64_t)c->sc.reset_after - c->sent)
		n = (uint64_t)c->sc.reset_after - c->sent;
	if (c->sc.stall_after >= 0 && n > (uint64_t)c->sc.stall_after - c->sent)
		n = (uint64_t)c->sc.stall_after - c->sent;
	if (c->chunked_resp)
		evbuffer_add_printf(out, "%" PRIx64 "\r\n", n);
	if (c->src == SRC_PATTERN)
		evbuffer_add_reference(out, g.pattern + c->sent % PATTERN_LEN,
		    (size_t)n, NULL, NULL);
	else
		evbuffer_remove_buffer(c->body, out, (size_t)n);
	if (c->chunked_resp)
		evbuffer_add(out, "\r\n", 2);
	return n;
}

/* Generates body pieces until the output is full, a body_delay pause, or the end. */
static void
pump(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct timeval tv;
	uint64_t n;

	while (c->left > 0) {
		if (c->sc.reset_after >= 0 && c->sent >= (uint64_t)c->sc.reset_after) {
			conn_flush_then(c, C_RESET);
			return;
		}
		/* stall_after: the rest never comes; the peer has to give up. */
		if (c->sc.stall_after >= 0 && c->sent >= (uint64_t)c->sc.stall_after)
			return;
		if (evbuffer_get_length(out) >= HIGH_WATER)
			return;		/* the write callback resumes */
		n = piece(c, out);
		c->sent += n;
		c->left -= n;
		if (c->sc.body_delay_ms > 0 && c->left > 0) {
			tv.tv_sec = c->sc.body_delay_ms / 1000;
			tv.tv_usec = (c->sc.body_delay_ms % 1000) * 1000;
			evtimer_add(c->timer, &tv);
			return;
		}
	}
	if (c->chunked_resp)
		evbuffer_add(out, "0\r\n\r\n", 5);
	if (c->sc.reset_after >= 0) {
		conn_flush_then(c, C_RESET);	/* reset_after >= size: RST after it all */
		return;
	}
	response_done(c);
}

/* Sends the scripted response to the request just read. */
static void
respond(struct conn *c)
{
	struct script *s = &c->sc;
	struct record *r = c->rec;
	struct evbuffer *head = evbuffer_new();
	struct timeval tv;
	uint64_t len = 0;
	bool body_allowed;
	char tag[512], date[64];
	time_t ims;

	c->close_after = !c->keep_alive || s->close || s->nolength;
	if (s->raw != NULL) {
		evbuffer_add_buffer(bufferevent_get_output(c->bev), s->raw);
		evbuffer_free(head);
		c->left = 0;
		response_done(c);
		return;
	}
	/* RFC 9110 §13.1.2: If-None-Match against the scripted ETag. */
	if (s->etag != NULL) {
		snprintf(tag, sizeof(tag), "\"%s\"", s->etag);
		if (c->inm != NULL && (strstr(c->inm, tag) != NULL ||
		    strcmp(c->inm, "*") == 0))
			s->status = 304;
	}
	/* RFC 9110 §13.2.2: If-Modified-Since only without If-None-Match. */
	if (s->has_lastmod && c->inm == NULL && c->ims != NULL &&
	    http_date_parse(c->ims, &ims) && ims >= s->lastmod &&
	    (strcmp(r->method, "GET") == 0 || c->head_req))
		s->status = 304;
	body_allowed = !bodiless_status(s->status);
	c->src = SRC_PATTERN;
	if (s->sse) {
		c->src = SRC_SSE;
		len = s->count;
		s->reset_after = -1;	/* counts bytes: meaningless for events */
	} else if (s->echo) {
		c->src = SRC_BUFFER;
		c->body = evbuffer_new();
		json_record(c->body, r);
		evbuffer_add(c->body, "\n", 1);
		len = evbuffer_get_length(c->body);
	} else {
		len = s->size;
	}
	c->chunked_resp = (s->chunked || s->sse) && !s->nolength && !c->http10 &&
	    body_allowed;
	if ((s->chunked || s->sse) && c->http10)
		c->close_after = true;	/* close-delimited for HTTP/1.0 */

	evbuffer_add_printf(head, "HTTP/1.1 %d %s\r\n", s->status, reason(s->status));
	if (!s->nodate)
		date_header(head);
	evbuffer_add_printf(head, "X-Origin-Conn: %u\r\nX-Origin-Seq: %u\r\n",
	    c->id, c->nreq);
	if (s->etag != NULL)
		evbuffer_add_printf(head, "ETag: %s\r\n", tag);
	if (s->has_lastmod) {
		http_date(s->lastmod, date, sizeof(date));
		evbuffer_add_printf(head, "Last-Modified: %s\r\n", date);
	}
	if (s->hdrs != NULL)
		evbuffer_add_buffer(head, s->hdrs);
	if (body_allowed && !s->has_ctype)
		evbuffer_add_printf(head, "Content-Type: %s\r\n",
		    s->sse ? "text/event-stream" : s->echo ? "application/json" :
		    "text/plain");
	if (body_allowed) {
		if (c->chunked_resp)
			evbuffer_add_printf(head, "Transfer-Encoding: chunked\r\n");
		else if (!s->nolength && !s->sse && !((s->chunked) && c->http10))
			evbuffer_add_printf(head, "Content-Length: %" PRIu64 "\r\n", len);
	}
	if (c->close_after)
		evbuffer_add_printf(head, "Connection: close\r\n");
	else if (c->http10)
		evbuffer_add_printf(head, "Connection: keep-alive\r\n");
	evbuffer_add(head, "\r\n", 2);

	c->left = body_allowed && !c->head_req ? len : 0;
	if (c->head_req)
		c->chunked_resp = false;	/* RFC 9110 §9.3.2: the head only */
	c->sent = 0;
	if (s->delay_ms > 0) {
		evbuffer_add_buffer(c->head, head);
		evbuffer_free(head);
		c->state = C_WAIT;
		tv.tv_sec = s->delay_ms / 1000;
		tv.tv_usec = (s->delay_ms % 1000) * 1000;
		evtimer_add(c->timer, &tv);
		return;
	}
	evbuffer_add_buffer(bufferevent_get_output(c->bev), head);
	evbuffer_free(head);
	c->state = C_SEND;
	pump(c);
}

/* ---- control requests (never logged, never counted) ---- */

/* Closes every idle keep-alive connection but the asking one; returns how many. */
static int
drop_idle(struct conn *self)
{
	struct conn *c, *next;
	int n = 0;

	for (c = g.conns; c != NULL; c = next) {
		next = c->next;
		if (c != self && !c->control && c->state == C_HEAD && c->rec == NULL &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
			conn_free(c);
			n++;
		}
	}
	return n;
}

/* The decoded value of parameter name in query ("a=1&b=2"), or NULL; the caller frees it. */
static char *
query_get(const char *query, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = query, *end;
	char *v;

	while (p != NULL && *p != '\0') {
		end = strchr(p, '&');
		if (end == NULL)
			end = p + strlen(p);
		if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			v = xstrndup(p + nlen + 1, (size_t)(end - p - (ptrdiff_t)nlen - 1));
			v[url_decode(v, strlen(v))] = '\0';
			return v;
		}
		p = *end ? end + 1 : NULL;
	}
	return NULL;
}

/*
 * POST /__rule?match=M&script=Q: requests whose target contains M are
 * scripted by Q instead of their own query string; an empty or missing Q
 * removes the rule for M. Returns the number of rules.
 */
static size_t
set_rule(const char *query)
{
	char *match = query ? query_get(query, "match") : NULL;
	char *script = query ? query_get(query, "script") : NULL;
	size_t i;

	if (match == NULL || *match == '\0') {
		free(match);
		free(script);
		return g.nrules;
	}
	for (i = 0; i < g.nrules; i++)
		if (strcmp(g.rules[i].match, match) == 0)
			break;
	if (i < g.nrules) {
		free(g.rules[i].match);
		free(g.rules[i].script);
		g.rules[i] = g.rules[--g.nrules];
	}
	if (script != NULL && *script != '\0') {
		g.rules = xrealloc(g.rules, (g.nrules + 1) * sizeof(*g.rules));
		g.rules[g.nrules].match = match;
		g.rules[g.nrules].script = script;
		g.nrules++;
		return g.nrules;
	}
	free(match);
	free(script);
	return g.nrules;
}

static void
reset_all(void)
{
	struct conn *c;
	size_t i;

	/* A request still being read keeps its record, now owned by its connection. */
	for (c = g.conns; c != NULL; c = c->next)
		if (c->rec != NULL)
			c->rec_owned = true;
	for (i = 0; i < g.nlog; i++) {
		for (c = g.conns; c != NULL; c = c->next)
			if (c->rec == g.log[i])
				break;
		if (c == NULL)
			record_free(g.log[i]);
	}
	g.nlog = 0;
	g.connections = 0;
	g.requests = 0;
	g.drop_reused = 0;
	g.epoch++;
	for (i = 0; i < g.nrules; i++) {
		free(g.rules[i].match);
		free(g.rules[i].script);
	}
	free(g.rules);
	g.rules = NULL;
	g.nrules = 0;
}

static void
control(struct conn *c)
{
	const struct record *r = c->rec;
	struct evbuffer *b = evbuffer_new(), *out = bufferevent_get_output(c->bev);
	const char *q = strchr(r->target, '?');
	size_t plen = q ? (size_t)(q - r->target) : strlen(r->target);
	bool get = strcmp(r->method, "GET") == 0, post = strcmp(r->method, "POST") == 0;
	int status = 200;
	size_t i;

#define IS(path) (plen == strlen(path) && strncmp(r->target, path, plen) == 0)
	if (get && IS("/__stats")) {
		evbuffer_add_printf(b, "{\"connections\": %ld, \"requests\": %ld, "
		    "\"open\": %ld, \"logged\": %zu}\n", g.connections, g.requests,
		    g.open, g.nlog);
	} else if (get && IS("/__log")) {
		evbuffer_add(b, "[", 1);
		for (i = 0; i < g.nlog; i++) {
			evbuffer_add(b, i ? ",\n" : "\n", i ? 2 : 1);
			json_record(b, g.log[i]);
		}
		evbuffer_add(b, "\n]\n", 3);
	} else if (post && IS("/__reset")) {
		reset_all();
		evbuffer_add_printf(b, "{\"ok\": true}\n");
	} else if (post && IS("/__drop")) {
		evbuffer_add_printf(b, "{\"dropped\": %d}\n", drop_idle(c));
	} else if (post && IS("/__arm")) {
		/* drop_reused=N: the next N requests arriving on an already used
		 * connection are read, then the connection is closed unanswered. */
		if (q != NULL && strncmp(q + 1, "drop_reused=", 12) == 0)
			g.drop_reused = (unsigned)num(q + 13);
		evbuffer_add_printf(b, "{\"drop_reused\": %u}\n", g.drop_reused);
	} else if (post && IS("/__rule")) {
		evbuffer_add_printf(b, "{\"rules\": %zu}\n", set_rule(q ? q + 1 : NULL));
	} else {
		status = 404;
		evbuffer_add_printf(b, "{\"error\": \"unknown control request\"}\n");
	}
#undef IS
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n%s\r\n", status, reason(status),
	    evbuffer_get_length(b), c->keep_alive ? "" : "Connection: close\r\n");
	evbuffer_add_buffer(out, b);
	evbuffer_free(b);
	c->close_after = !c->keep_alive;
	response_done(c);
}

/* ---- reading requests ---- */

/* Answers 400 to a request the origin cannot parse, and closes. */
static void
refuse(struct conn *c, const char *why)
{
	if (c->rec != NULL && c->rec->error == NULL)
		c->rec->error = why;
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
	    strlen(why) + 1, why);
	conn_flush_then(c, C_CLOSING);
}

static void
add_field(struct record *r, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	r->fields = xrealloc(r->fields, (r->nfields + 1) * sizeof(*r->fields));
	r->fields[r->nfields].name = xstrndup(name, nlen);
	r->fields[r->nfields].value = xstrndup(value, vlen);
	r->nfields++;
}

/* Splits buf (the head, each line ending in CRLF) into r; returns NULL or why it is bad. */
static const char *
parse_head(struct record *r, char *buf)
{
	char *line = buf, *next, *sp1, *sp2, *colon, *v, *e;

	next = strstr(line, "\r\n");
	*next = '\0';
	next += 2;
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (sp2 == NULL || sp1 == line || sp2 == sp1 + 1)
		return "malformed request line";
	r->method = xstrndup(line, (size_t)(sp1 - line));
	r->target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	r->version = xstrdup(sp2 + 1);
	if (strcmp(r->version, "HTTP/1.1") != 0 && strcmp(r->version, "HTTP/1.0") != 0)
		return "unsupported HTTP version";
	while (*next != '\0') {
		line = next;
		next = strstr(line, "\r\n");
		*next = '\0';
		next += 2;
		if (*line == ' ' || *line == '\t')
			return "obs-fold in the header section";
		if (strchr(line, '\r') != NULL)
			return "bare CR in the header section";
		colon = strchr(line, ':');
		if (colon == NULL || colon == line)
			return "field line without a name";
		if (colon[-1] == ' ' || colon[-1] == '\t')
			return "whitespace between field name and colon";
		if (r->nfields == MAX_FIELDS)
			return "too many fields";
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			continue;
		for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
			continue;
		add_field(r, line, (size_t)(colon - line), v, (size_t)(e - v));
	}
	return NULL;
}

/* Decides the request body's framing (RFC 9112 §6.3); returns NULL or why it is bad. */
static const char *
framing(struct conn *c)
{
	const struct record *r = c->rec;
	const char *te = NULL, *cl = NULL, *last, *p;
	size_t i, ncl = 0;
	char *end;

	for (i = 0; i < r->nfields; i++) {
		if (strcasecmp(r->fields[i].name, "Transfer-Encoding") == 0)
			te = r->fields[i].value;
		else if (strcasecmp(r->fields[i].name, "Content-Length") == 0) {
			cl = r->fields[i].value;
			ncl++;
		}
	}
	c->chunked_req = false;
	c->body_left = 0;
	if (te != NULL) {
		if (cl != NULL)
			return "both Transfer-Encoding and Content-Length";
		for (last = te, p = te; *p; p++)
			if (*p == ',')
				last = p + 1;
		while (*last == ' ' || *last == '\t')
			last++;
		if (strcasecmp(last, "chunked") != 0)
			return "chunked is not the final transfer coding";
		c->chunked_req = true;
		c->chs = CH_SIZE;
		return NULL;
	}
	if (cl != NULL) {
		if (ncl > 1 || *cl < '0' || *cl > '9')
			return "invalid Content-Length";
		errno = 0;
		c->body_left = strtoull(cl, &end, 10);
		if (*end != '\0' || errno != 0)
			return "invalid Content-Length";
	}
	return NULL;
}

/* Sets up the request after its head: counters, log, script, framing. */
static const char *
start_request(struct conn *c)
{
	struct record *r = c->rec;
	const char *q, *conn_f, *why;
	size_t i;

	c->is_control_req = strncmp(r->target, "/__", 3) == 0;
	if (c->is_control_req) {
		c->rec_owned = true;
		if (c->nreq == 1 && !c->control) {
			c->control = true;
			g.open--;
			if (c->epoch == g.epoch)
				g.connections--;
		}
	} else {
		log_push(r);
		g.requests++;
	}
	c->http10 = strcmp(r->version, "HTTP/1.0") == 0;
	c->head_req = strcmp(r->method, "HEAD") == 0;
	conn_f = field_get(r, "Connection");
	/* RFC 9112 §9.3: persistence from the version and Connection. */
	c->keep_alive = c->http10 ? conn_f != NULL && list_has(conn_f, "keep-alive") :
	    conn_f == NULL || !list_has(conn_f, "close");
	script_clear(&c->sc);
	q = strchr(r->target, '?');
	if (q != NULL)
		script_parse(&c->sc, q + 1);
	else if (g.default_query != NULL && !c->is_control_req)
		script_parse(&c->sc, g.default_query);
	for (i = 0; i < g.nrules && !c->is_control_req; i++) {
		if (strstr(r->target, g.rules[i].match) != NULL) {
			script_clear(&c->sc);
			script_parse(&c->sc, g.rules[i].script);
			break;
		}
	}
	for (i = 0; i < r->nfields; i++)
		if (strcasecmp(r->fields[i].name, "X-Origin-Script") == 0)
			script_parse(&c->sc, r->fields[i].value);
	if (field_get(r, "If-None-Match") != NULL)
		c->inm = xstrdup(field_get(r, "If-None-Match"));
	if (field_get(r, "If-Modified-Since") != NULL)
		c->ims = xstrdup(field_get(r, "If-Modified-Since"));
	if (!c->is_control_req && g.drop_reused > 0 && c->nreq > 1) {
		g.drop_reused--;
		c->sc.noresp = true;
	}
	if ((why = framing(c)) != NULL)
		return why;
	sha256_init(&c->sha);
	/* RFC 9110 §10.1.1: answer 100-continue before reading the body. */
	if ((c->chunked_req || c->body_left > 0) && field_get(r, "Expect") != NULL &&
	    list_has(field_get(r, "Expect"), "100-continue"))
		evbuffer_add_printf(bufferevent_get_output(c->bev),
		    "HTTP/1.1 100 Continue\r\n\r\n");
	return NULL;
}

/* Reads a request head; returns 1 when one was parsed, 0 for more input, -1 if c is gone. */
static int
read_head(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr p;
	char two[2], *buf;
	const char *why;
	size_t hlen;

	/* RFC 9112 §2.2: empty lines before a request line are ignored. */
	while (evbuffer_copyout(in, two, 2) == 2 && two[0] == '\r' && two[1] == '\n')
		evbuffer_drain(in, 2);
	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos < 0) {
		if (evbuffer_get_length(in) > MAX_HEAD) {
			c->rec = xcalloc(1, sizeof(*c->rec));
			c->rec->conn = c->id;
			log_push(c->rec);
			g.requests++;
			refuse(c, "request head too large");
			return -1;
		}
		return 0;
	}
	hlen = (size_t)p.pos + 4;
	buf = xmalloc(hlen + 1);
	evbuffer_remove(in, buf, hlen);
	buf[hlen - 2] = '\0';
	c->nreq++;
	c->rec = xcalloc(1, sizeof(*c->rec));
	c->rec->conn = c->id;
	c->rec->seq = c->nreq;
	c->rec->t_ms = now_ms();
	why = parse_head(c->rec, buf);
	free(buf);
	if (why != NULL) {
		if (c->rec->target == NULL || strncmp(c->rec->target, "/__", 3) != 0) {
			log_push(c->rec);
			g.requests++;
		} else
			c->rec_owned = true;
		refuse(c, why);
		return -1;
	}
	if ((why = start_request(c)) != NULL) {
		refuse(c, why);
		return -1;
	}
	c->state = C_BODY;
	return 1;
}

/* Hashes and drops n body bytes from the input. */
static void
consume(struct conn *c, struct evbuffer *in, size_t n)
{
	struct evbuffer_iovec v[16];
	size_t done, len;
	int i, k;

	c->rec->body_len += n;
	while (n > 0) {
		k = evbuffer_peek(in, (ev_ssize_t)n, NULL, v, 16);
		done = 0;
		for (i = 0; i < k && i < 16 && done < n; i++) {
			len = v[i].iov_len < n - done ? v[i].iov_len : n - done;
			sha256_update(&c->sha, v[i].iov_base, len);
			done += len;
		}
		evbuffer_drain(in, done);
		n -= done;
	}
}

/* Parses a chunk-size line (RFC 9112 §7.1); returns false if it is invalid. */
static bool
chunk_size(const char *line, uint64_t *size)
{
	const char *p = line;
	int d;

	*size = 0;
	for (; (d = hexval((unsigned char)*p)) >= 0; p++) {
		if (*size >> 59)
			return false;	/* would overflow 63 bits */
		*size = *size * 16 + (uint64_t)d;
	}
	if (p == line)
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' || *p == ';';
}

/* Reads body bytes; returns 1 when the body is complete, 0 for more input, -1 if c is gone. */
static int
read_body(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t avail, n;
	char *line, two[2];

	for (;;) {
		avail = evbuffer_get_length(in);
		if (!c->chunked_req || c->chs == CH_DATA) {
			n = avail < c->body_left ? avail : (size_t)c->body_left;
			consume(c, in, n);
			c->body_left -= n;
			if (c->body_left > 0)
				return 0;
			if (!c->chunked_req)
				return 1;
			c->chs = CH_DATA_END;
			continue;
		}
		switch (c->chs) {
		case CH_SIZE:
		case CH_TRAILER:
			line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT);
			if (line == NULL) {
				if (avail > MAX_LINE) {
					refuse(c, "chunk-size or trailer line too long");
					return -1;
				}
				return 0;
			}
			if (c->chs == CH_TRAILER) {
				free(line);
				if (n == 0)
					return 1;
				continue;
			}
			if (!chunk_size(line, &c->body_left)) {
				free(line);
				refuse(c, "invalid chunk size");
				return -1;
			}
			free(line);
			c->chs = c->body_left == 0 ? CH_TRAILER : CH_DATA;
			break;
		case CH_DATA_END:
			if (evbuffer_copyout(in, two, 2) < 2)
				return 0;
			if (two[0] != '\r' || two[1] != '\n') {
				refuse(c, "chunk data not followed by CRLF");
				return -1;
			}
			evbuffer_drain(in, 2);
			c->chs = CH_SIZE;
			break;
		case CH_DATA:
			ASSERT(0);
		}
	}
}

/* The whole request arrived: answer it. */
static void
request_complete(struct conn *c)
{
	c->rec->complete = true;
	sha256_hex(&c->sha, c->rec->sha);
	if (c->is_control_req) {
		control(c);
		return;
	}
	if (c->sc.noresp) {
		c->rec->dropped = true;
		conn_free(c);
		return;
	}
	respond(c);
}

/* Parses whatever input is buffered, one request at a time. */
static void
conn_process(struct conn *c)
{
	int rc;

	if (c->state == C_HEAD) {
		rc = read_head(c);
		if (rc <= 0)
			return;
	}
	if (c->state == C_BODY) {
		rc = read_body(c);
		if (rc <= 0)
			return;
		request_complete(c);	/* may free c: nothing after this */
	}
}

/* ---- libevent callbacks ---- */

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_process(arg);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	conn_process(arg);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->state == C_SEND && !evtimer_pending(c->timer, NULL))
		pump(c);
	else if ((c->state == C_CLOSING || c->state == C_RESET) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
	{
		if (c->state == C_RESET)
			conn_reset(c);
		else
			conn_free(c);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(arg);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->id = ++g.next_conn;
	c->epoch = g.epoch;
	c->bev = bufferevent_socket_new(g.base, fd, BEV_OPT_CLOSE_ON_FREE);
	AN(c->bev);
	c->timer = evtimer_new(g.base, timer_cb, c);
	c->kick = event_new(g.base, -1, 0, kick_cb, c);
	c->head = evbuffer_new();
	AN(c->timer);
	AN(c->kick);
	AN(c->head);
	script_clear(&c->sc);
	c->next = g.conns;
	if (g.conns != NULL)
		g.conns->prev = c;
	g.conns = c;
	g.connections++;
	g.open++;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, LOW_WATER, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[256];

	if (read(fd, buf, sizeof(buf)) <= 0)
		event_base_loopbreak(g.base);
}

static void
usage(void)
{
	fprintf(stderr, "usage: origin --port N [--host ADDR] [--default-query QUERY]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port = NULL;
	struct evconnlistener *lis;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct event *stdin_ev = NULL;
	struct stat st;
	char addr[300];
	int i, len;
	uint16_t bound;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = argv[++i];
		else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
			host = argv[++i];
		else if (strcmp(argv[i], "--default-query") == 0 && i + 1 < argc)
			g.default_query = argv[++i];
		else
			usage();
	}
	if (port == NULL)
		usage();
	for (i = 0; i < (int)sizeof(g.pattern); i++)
		g.pattern[i] = PATTERN[i % PATTERN_LEN];
	signal(SIGPIPE, SIG_IGN);
	snprintf(addr, sizeof(addr), "%s port %s", host, port);
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)num(port));
		len = (int)sizeof(struct sockaddr_in6);
	} else if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)num(port));
		len = (int)sizeof(struct sockaddr_in);
	} else {
		fprintf(stderr, "origin: --host needs a numeric address, not %s\n", host);
		return 2;
	}
	g.base = event_base_new();
	AN(g.base);
	lis = evconnlistener_new_bind(g.base, accept_cb, NULL,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128,
	    (struct sockaddr *)&ss, len);
	if (lis == NULL) {
		fprintf(stderr, "origin: cannot listen on %s: %s\n", addr, strerror(errno));
		return 1;
	}
	AZ(getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)&ss, &sslen));
	bound = ss.ss_family == AF_INET6 ?
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
	    ntohs(((struct sockaddr_in *)&ss)->sin_port);
	printf("PORT %u\n", bound);
	fflush(stdout);
	if (fstat(0, &st) == 0 && S_ISFIFO(st.st_mode)) {
		stdin_ev = event_new(g.base, 0, EV_READ | EV_PERSIST, stdin_cb, NULL);
		event_add(stdin_ev, NULL);
	}
	event_base_dispatch(g.base);

	while (g.conns != NULL)
		conn_free(g.conns);
	reset_all();
	free(g.log);
	if (stdin_ev != NULL)
		event_free(stdin_ev);
	evconnlistener_free(lis);
	event_base_free(g.base);
	return 0;
}

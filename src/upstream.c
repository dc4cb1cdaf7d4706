/*
 * upstream.c: per-worker pools of keep-alive connections to backend servers.
 *
 * One `struct upstream_server` per (worker, host:port), found by name in a
 * short list (a worker talks to a handful of servers). Each holds:
 *   - the idle connections, most recently released first (LIFO reuse);
 *   - the count of open connections, capped by the backend's pool-max;
 *   - a FIFO of acquisitions waiting for the cap to free a slot;
 *   - `down_until`: after a refused connect the server is skipped by the
 *     round-robin for DOWN_MS, unless every server is down.
 *
 * An idle connection keeps EV_READ enabled with the pool's idle timeout as
 * the read timeout: the server closing it, sending stray bytes, or the
 * timeout firing all close it at once, so a dead connection is rarely handed
 * out. A connection closed by the server between our check and our write is
 * still possible; fetch.c retries idempotent requests in that case.
 *
 * Server names are resolved with getaddrinfo() when a worker first uses the
 * server (blocking, once per worker and server) and cached thereafter.
 *
 * HTTPS backends (tls on): the connection's bufferevent is libevent's
 * OpenSSL one, connecting then shaking hands (tls.c makes the SSL: SNI,
 * certificate checks), all within the connect timeout; BEV_EVENT_CONNECTED
 * comes once the handshake is done. Its callbacks are deferred, since it
 * writes as soon as output is added. A TLS server is pooled apart from a
 * plaintext one at the same address, and apart from the same address
 * reached with other TLS settings (the pool's name says them all).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "tls.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

#define DOWN_MS		2000

struct upstream_server {
	char				name[300];
	char				host[256];	/* as configured: SNI, certificate name */
	char				*key;		/* what tells pools apart: pool_key */
	struct sockaddr_storage		addr;
	socklen_t			addrlen;
	bool				resolved;
	struct worker			*worker;
	LIST_HEAD(, upstream_conn)	idle;
	unsigned			nidle;
	unsigned			nopen;
	uint64_t			down_until_ms;
	/* Pool limits of the backend that last used this server (the config
	 * may change on reload; the newest use wins). */
	unsigned			pool_idle;
	unsigned			idle_timeout_ms;
	TAILQ_HEAD(, upstream_wait)	waiting;
	struct upstream_server		*next;
};

struct backend_rr {
	char			*name;
	unsigned		next;
	struct backend_rr	*link;
};

struct upstream_pools {
	struct worker		*worker;
	struct upstream_server	*servers;
	struct backend_rr	*rr;
};

static void try_next_server(struct upstream_wait *wait);
static void serve_waiter(struct upstream_server *s);

static uint64_t
now_ms(struct worker *w)
{
	struct timeval tv;

	event_base_gettimeofday_cached(w->base, &tv);
	return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static struct timeval
ms_to_tv(unsigned ms)
{
	struct timeval tv = { (time_t)(ms / 1000u), (suseconds_t)((ms % 1000u) * 1000u) };
	return tv;
}

struct upstream_pools *
upstream_pools_new(struct worker *w)
{
	struct upstream_pools *p = xcalloc(1, sizeof(*p));

	p->worker = w;
	return p;
}

static void
conn_close(struct upstream_conn *c)
{
	CHECK_OBJ(c, UPSTREAM_CONN_MAGIC);
	if (c->idle) {
		LIST_REMOVE(c, idle_link);
		c->server->nidle--;
	}
	c->server->nopen--;
	bufferevent_free(c->bev);
	FREE_OBJ(c);
}

void
upstream_pools_free(struct upstream_pools *p)
{
	struct upstream_server *s, *snext;
	struct backend_rr *r, *rnext;

	if (p == NULL)
		return;
	for (s = p->servers; s != NULL; s = snext) {
		snext = s->next;
		while (!LIST_EMPTY(&s->idle))
			conn_close(LIST_FIRST(&s->idle));
		free(s->key);
		free(s);
	}
	for (r = p->rr; r != NULL; r = rnext) {
		rnext = r->link;
		free(r->name);
		free(r);
	}
	free(p);
}

/*
 * What a pool is for, in full (xmalloc'd): the address, and for TLS every
 * setting its connections were checked with. Two backends whose settings
 * differ must not share connections, however long a CA path or name.
 */
static char *
pool_key(const struct cfg_backend *b, const struct cfg_server *cs)
{
	const char *sn = b->tls && b->tls_server_name != NULL ? b->tls_server_name : NULL;
	const char *ca = b->tls && b->tls_ca != NULL ? b->tls_ca : NULL;
	char *key;

	if (asprintf(&key, "%s%s:%u%s%s%s%s%s", b->tls ? "https://" : "", cs->host,
	    cs->port, sn ? " name=" : "", sn ? sn : "",
	    b->tls && !b->tls_verify ? " noverify" : "", ca ? " ca=" : "",
	    ca ? ca : "") < 0)
		FRESHD_ASSERT_FAIL("out of memory");
	return key;
}

/* The pool of server cs of backend b: see the file comment for TLS. */
static struct upstream_server *
server_get(struct upstream_pools *p, const struct cfg_backend *b,
    const struct cfg_server *cs)
{
	struct upstream_server *s;
	char *key = pool_key(b, cs);

	for (s = p->servers; s != NULL; s = s->next)
		if (strcmp(s->key, key) == 0) {
			free(key);
			return s;
		}
	s = xcalloc(1, sizeof(*s));
	s->key = key;
	/* The name is for logs: the key, cut if it must be. */
	snprintf(s->name, sizeof(s->name), "%s", key);
	snprintf(s->host, sizeof(s->host), "%s", cs->host);
	s->worker = p->worker;
	LIST_INIT(&s->idle);
	TAILQ_INIT(&s->waiting);
	s->next = p->servers;
	p->servers = s;
	return s;
}

static int
server_resolve(struct upstream_server *s, const struct cfg_server *cs)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	const char *host = cs->host;
	char v6[256];
	int rc;

	if (s->resolved)
		return 0;
	/* "[::1]" as written in the config: strip the brackets for getaddrinfo. */
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n >= 2 && n - 2 < sizeof(v6) && host[n - 1] == ']') {
			memcpy(v6, host + 1, n - 2);
			v6[n - 2] = '\0';
			host = v6;
		}
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", cs->port);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		log_error("upstream %s: cannot resolve: %s", s->name, gai_strerror(rc));
		return -1;
	}
	memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
	s->addrlen = res->ai_addrlen;
	s->resolved = true;
	freeaddrinfo(res);
	return 0;
}

static struct backend_rr *
rr_get(struct upstream_pools *p, const struct cfg_backend *b)
{
	struct backend_rr *r;

	for (r = p->rr; r != NULL; r = r->link)
		if (strcmp(r->name, b->name) == 0)
			return r;
	r = xcalloc(1, sizeof(*r));
	r->name = xstrdup(b->name);
	r->link = p->rr;
	p->rr = r;
	return r;
}

/*
 * The next server in round-robin order that is not marked down; when every
 * server is down, the next one anyway (a refusal is better than no attempt).
 */
static const struct cfg_server *
pick_server(struct upstream_pools *p, const struct cfg_backend *b)
{
	struct backend_rr *r = rr_get(p, b);
	uint64_t now = now_ms(p->worker);
	size_t i;

	for (i = 0; i < b->nservers; i++) {
		const struct cfg_server *cs = &b->servers[(r->next + i) % b->nservers];
		struct upstream_server *s = server_get(p, b, cs);
		if (s->down_until_ms <= now) {
			r->next = (unsigned)((r->next + i + 1) % b->nservers);
			return cs;
		}
	}
	i = r->next % b->nservers;
	r->next = (unsigned)((i + 1) % b->nservers);
	return &b->servers[i];
}

static void
complete(struct upstream_wait *wait, struct upstream_conn *c, enum upstream_error err)
{
	if (wait->queue_timer != NULL) {
		event_free(wait->queue_timer);
		wait->queue_timer = NULL;
	}
	wait->server = NULL;
	wait->connecting = NULL;
	wait->queued = false;
	wait->cb(wait->arg, c, err);
}

static void
idle_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_conn *c = arg;

	CHECK_OBJ(c, UPSTREAM_CONN_MAGIC);
	conn_close(c);
}

static void
idle_readcb(struct bufferevent *bev, void *arg)
{
	struct upstream_conn *c = arg;

	/* A server must not send anything on an idle connection. */
	CHECK_OBJ(c, UPSTREAM_CONN_MAGIC);
	log_debug("upstream %s: unexpected bytes on an idle connection", c->server->name);
	conn_close(c);
}

static void
set_nodelay(struct bufferevent *bev)
{
	int one = 1;
	evutil_socket_t fd = bufferevent_getfd(bev);

	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Why a TLS connection failed: the certificate check, or OpenSSL's reason. */
static void
log_tls_failure(const struct upstream_server *s, struct bufferevent *bev)
{
	long v = SSL_get_verify_result(bufferevent_openssl_get_ssl(bev));
	const char *why = tls_bufferevent_error(bev);

	if (v != X509_V_OK)
		log_warn("upstream %s: TLS handshake failed: certificate: %s", s->name,
		    X509_verify_cert_error_string(v));
	else
		log_warn("upstream %s: TLS handshake failed: %s", s->name, why);
}

static void
connect_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_wait *wait = arg;
	struct upstream_conn *c = wait->connecting;
	struct upstream_server *s = wait->server;
	bool tls;

	CHECK_OBJ(c, UPSTREAM_CONN_MAGIC);
	if (what & BEV_EVENT_CONNECTED) {
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		bufferevent_set_timeouts(bev, NULL, NULL);
		set_nodelay(bev);
		wait->worker->stats.upstream_connects++;
		complete(wait, c, UPSTREAM_OK);
		return;
	}
	/* A TLS failure's reason lives in the SSL, which conn_close frees. */
	tls = c->tls;
	if (tls && !(what & BEV_EVENT_TIMEOUT))
		log_tls_failure(s, bev);
	conn_close(c);
	wait->connecting = NULL;
	/* The slot this connection held goes to the next queued acquisition. */
	serve_waiter(s);
	if (what & BEV_EVENT_TIMEOUT) {
		log_warn("upstream %s: connect timed out", s->name);
		complete(wait, NULL, UPSTREAM_TIMEOUT);
		return;
	}
	if (!tls)
		log_warn("upstream %s: connect failed: %s", s->name,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	s->down_until_ms = now_ms(wait->worker) + DOWN_MS;
	try_next_server(wait);
}

static void
start_connect(struct upstream_wait *wait, struct upstream_server *s)
{
	struct upstream_conn *c;
	struct timeval tv = ms_to_tv(wait->backend->connect_timeout_ms);

	c = xcalloc(1, sizeof(*c));
	c->magic = UPSTREAM_CONN_MAGIC;
	c->server = s;
	if (wait->backend->tls) {
		/* tls_build made the context of every backend with tls on. */
		SSL *ssl = tls_client_ssl(wait->backend->tls_client, s->host);

		AN(ssl);
		c->tls = true;
		c->bev = bufferevent_openssl_socket_new(wait->worker->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	} else {
		c->bev = bufferevent_socket_new(wait->worker->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
	}
	AN(c->bev);
	s->nopen++;
	wait->server = s;
	wait->connecting = c;
	bufferevent_setcb(c->bev, NULL, NULL, connect_eventcb, wait);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&s->addr,
	    (int)s->addrlen) != 0) {
		/* Immediate failure (e.g. no route); the event callback is not called. */
		conn_close(c);
		wait->connecting = NULL;
		serve_waiter(s);
		log_warn("upstream %s: connect failed at once", s->name);
		s->down_until_ms = now_ms(wait->worker) + DOWN_MS;
		try_next_server(wait);
	}
}

static void
queue_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_wait *wait = arg;

	log_warn("upstream %s: no connection free within the connect timeout (pool-max)",
	    wait->server->name);
	TAILQ_REMOVE(&wait->server->waiting, wait, link);
	wait->queued = false;
	complete(wait, NULL, UPSTREAM_TIMEOUT);
}

static void
try_next_server(struct upstream_wait *wait)
{
	struct upstream_pools *p = wait->worker->pools;
	const struct cfg_backend *b = wait->backend;
	const struct cfg_server *cs;
	struct upstream_server *s;
	struct upstream_conn *c;

	if (wait->tries >= b->nservers) {
		complete(wait, NULL, UPSTREAM_REFUSED);
		return;
	}
	wait->tries++;
	cs = pick_server(p, b);
	s = server_get(p, b, cs);
	s->pool_idle = b->pool_idle;
	s->idle_timeout_ms = b->idle_timeout_ms;
	if (server_resolve(s, cs) != 0) {
		s->down_until_ms = now_ms(wait->worker) + DOWN_MS;
		try_next_server(wait);
		return;
	}
	if (!wait->fresh_only && (c = LIST_FIRST(&s->idle)) != NULL) {
		LIST_REMOVE(c, idle_link);
		s->nidle--;
		c->idle = false;
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		bufferevent_disable(c->bev, EV_READ);
		wait->worker->stats.upstream_reuses++;
		complete(wait, c, UPSTREAM_OK);
		return;
	}
	if (b->pool_max != 0 && s->nopen >= b->pool_max) {
		/* Wait for a slot (upstream_release hands it over), but no longer
		 * than a connect may take: then 504. */
		struct timeval tv = ms_to_tv(b->connect_timeout_ms);

		wait->server = s;
		wait->queued = true;
		TAILQ_INSERT_TAIL(&s->waiting, wait, link);
		wait->queue_timer = evtimer_new(wait->worker->base, queue_timeout_cb, wait);
		AN(wait->queue_timer);
		evtimer_add(wait->queue_timer, &tv);
		return;
	}
	start_connect(wait, s);
}

void
upstream_acquire(struct upstream_wait *wait, struct worker *w,
    const struct cfg_backend *b, bool fresh_only, upstream_ready_f *cb, void *arg)
{
	memset(wait, 0, sizeof(*wait));
	wait->cb = cb;
	wait->arg = arg;
	wait->worker = w;
	wait->backend = b;
	wait->fresh_only = fresh_only;
	try_next_server(wait);
}

void
upstream_cancel(struct upstream_wait *wait)
{
	struct upstream_server *s = wait->server;

	if (wait->queue_timer != NULL) {
		event_free(wait->queue_timer);
		wait->queue_timer = NULL;
	}
	if (wait->queued) {
		TAILQ_REMOVE(&s->waiting, wait, link);
		wait->queued = false;
	}
	if (wait->connecting != NULL) {
		conn_close(wait->connecting);
		wait->connecting = NULL;
		serve_waiter(s);
	}
	wait->server = NULL;
}

/* Hands a freed slot (or an idle connection) to the first queued waiter. */
static void
serve_waiter(struct upstream_server *s)
{
	struct upstream_wait *wait = TAILQ_FIRST(&s->waiting);
	struct upstream_conn *c;

	if (wait == NULL)
		return;
	TAILQ_REMOVE(&s->waiting, wait, link);
	wait->queued = false;
	if (wait->queue_timer != NULL) {
		event_free(wait->queue_timer);
		wait->queue_timer = NULL;
	}
	if (!wait->fresh_only && (c = LIST_FIRST(&s->idle)) != NULL) {
		LIST_REMOVE(c, idle_link);
		s->nidle--;
		c->idle = false;
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_set_timeouts(c->bev, NULL, NULL);
		bufferevent_disable(c->bev, EV_READ);
		complete(wait, c, UPSTREAM_OK);
		return;
	}
	start_connect(wait, s);
}

void
upstream_release(struct upstream_conn *c, bool reusable)
{
	struct upstream_server *s;
	struct timeval tv;
	struct worker *w;

	CHECK_OBJ(c, UPSTREAM_CONN_MAGIC);
	s = c->server;
	w = s->worker;
	c->requests++;
	if (!reusable || worker_is_draining(w) ||
	    evbuffer_get_length(bufferevent_get_input(c->bev)) != 0 ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) != 0) {
		conn_close(c);
		serve_waiter(s);
		return;
	}
	if (s->nidle >= s->pool_idle) {
		conn_close(c);
		serve_waiter(s);
		return;
	}
	tv = ms_to_tv(s->idle_timeout_ms);
	c->idle = true;
	LIST_INSERT_HEAD(&s->idle, c, idle_link);
	s->nidle++;
	bufferevent_setcb(c->bev, idle_readcb, NULL, idle_eventcb, c);
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ);
	serve_waiter(s);
}

const char *
upstream_conn_name(const struct upstream_conn *c)
{
	return c->server->name;
}

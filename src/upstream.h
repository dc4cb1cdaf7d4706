/*
 * upstream.h: connections to backends, pooled with keep-alive.
 *
 * Pools are per worker and per backend server (host:port), so no locks.
 * Idle connections are reused last-in first-out (the most recently used one
 * is the least likely to have been closed by the server). A backend with
 * several servers is balanced round-robin; a server that refused a
 * connection is skipped for a short while.
 */
#ifndef FRESHD_UPSTREAM_H
#define FRESHD_UPSTREAM_H

#include <stdbool.h>
#include <sys/queue.h>

struct worker;
struct cfg_backend;
struct bufferevent;
struct upstream_server;
struct event;

enum upstream_error {
	UPSTREAM_OK = 0,
	UPSTREAM_REFUSED,	/* every server refused or was unreachable: 502 */
	UPSTREAM_TIMEOUT,	/* connect timed out: 504 */
};

#define UPSTREAM_CONN_MAGIC	0x55504331u

struct upstream_conn {
	unsigned		magic;
	struct upstream_server	*server;
	struct bufferevent	*bev;		/* an OpenSSL one when tls */
	bool			tls;
	unsigned		requests;	/* requests sent on this connection so far */
	bool			idle;
	LIST_ENTRY(upstream_conn) idle_link;
};

typedef void upstream_ready_f(void *arg, struct upstream_conn *conn,
    enum upstream_error err);

/* A pending acquisition; owned by the caller, which may cancel it. */
struct upstream_wait {
	upstream_ready_f		*cb;
	void				*arg;
	struct worker			*worker;
	const struct cfg_backend	*backend;
	unsigned			tries;		/* servers tried so far */
	bool				fresh_only;	/* do not take an idle connection */
	bool				queued;
	struct upstream_server		*server;	/* while connecting or queued */
	struct upstream_conn		*connecting;
	struct event			*queue_timer;	/* bounds the wait for a pool slot */
	TAILQ_ENTRY(upstream_wait)	link;
};

struct upstream_pools *upstream_pools_new(struct worker *w);
void upstream_pools_free(struct upstream_pools *p);

/*
 * Gets a connection to backend b for w: an idle pooled one (unless
 * fresh_only), else a new one. cb is called exactly once (maybe before this
 * returns) unless upstream_cancel is called first. The caller owns wait.
 */
void upstream_acquire(struct upstream_wait *wait, struct worker *w,
    const struct cfg_backend *b, bool fresh_only, upstream_ready_f *cb, void *arg);
/* Abandons a pending acquisition; cb will not be called. */
void upstream_cancel(struct upstream_wait *wait);
/*
 * Gives a connection back: kept idle in its pool when reusable (the whole
 * exchange completed and both sides allow keep-alive), closed otherwise.
 * The caller must not touch conn afterwards.
 */
void upstream_release(struct upstream_conn *conn, bool reusable);
/* "host:port" of the connection's server, for logs. */
const char *upstream_conn_name(const struct upstream_conn *conn);

#endif

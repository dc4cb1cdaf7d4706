/*
 * worker.h: worker threads and the configuration they share.
 *
 * Each worker is one thread with its own event_base, its own listening
 * sockets (SO_REUSEPORT: the kernel spreads connections), its own upstream
 * pools and its own counters. A connection lives its whole life on the
 * worker that accepted it, so nothing on the request path takes a lock.
 *
 * The configuration is shared read-only. A reload publishes a new one; each
 * connection holds a reference to the config it started with, so a reload
 * never changes the ground under a request in flight.
 */
#ifndef FRESHD_WORKER_H
#define FRESHD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "config.h"

struct event_base;
struct evconnlistener;
struct event;
struct client;
struct upstream_pools;

/* A reference-counted configuration (see the file comment). */
struct config_ref {
	struct config	*cfg;
	atomic_uint	refs;
	uint64_t	generation;	/* 1 for the first config published, then 2, ... */
};

struct worker_stats {
	uint64_t	connections;
	uint64_t	requests;
	uint64_t	upstream_connects;
	uint64_t	upstream_reuses;
	uint64_t	upstream_retries;
};

#define WORKER_MAGIC	0x574b5221u

struct worker {
	unsigned		magic;
	unsigned		id;
	pthread_t		thread;
	struct event_base	*base;
	struct evconnlistener	**listeners;
	size_t			nlisteners;
	bool			accept_paused;
	unsigned		nclients;
	unsigned		fetches_owned;	/* in-flight fetches this worker runs */
	LIST_HEAD(, client)	clients;
	struct upstream_pools	*pools;
	struct event		*stop_ev;	/* activated from the main thread */
	atomic_bool		draining;
	struct worker_stats	stats;
	struct hot		*hot;		/* hot stored responses (hot.h) */
};

/* The config currently published, with a reference the caller must release. */
struct config_ref *worker_config_acquire(void);
void worker_config_release(struct config_ref *r);
/* Takes one more reference on r (something that outlives its owner uses it). */
void worker_config_hold(struct config_ref *r);
/* Publishes c (ownership passes to the worker module); NULL at exit. */
void worker_config_publish(struct config *c);

/*
 * Creates n workers with the published config: binds every listener in every
 * worker (SO_REUSEPORT), then starts the threads. Returns 0, or -1 with err.
 */
int workers_start(unsigned n, char *err, size_t errlen);
/*
 * Stops accepting, lets requests in flight finish for up to grace_ms, then
 * closes what is left and joins the threads.
 */
void workers_stop(unsigned grace_ms);

/* Called by client.c when a connection of w closes. */
void worker_client_closed(struct worker *w, struct client *c);
/* Called by client.c when a connection becomes idle during a drain. */
bool worker_is_draining(const struct worker *w);
/*
 * Called by inflight.c, in w's thread, when w starts and ends a fetch that
 * other workers' requests may wait on: a draining worker keeps its loop
 * running until those are over (or the grace time ends).
 */
void worker_fetch_started(struct worker *w);
void worker_fetch_ended(struct worker *w);

#endif

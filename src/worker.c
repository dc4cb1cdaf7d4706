/*
 * worker.c: worker threads, their listeners, and the shared configuration
 * (see worker.h).
 *
 * Every worker binds its own socket for each listener with SO_REUSEPORT, so
 * the kernel spreads new connections across workers and no accept lock is
 * needed. When a worker reaches its connection cap it disables its listeners
 * (new connections wait in the kernel's backlog, they are not refused) and
 * enables them again when a connection closes.
 *
 * Stopping: the main thread activates each worker's stop event (libevent is
 * set up for threads, so event_active is safe across threads). The worker
 * closes its listeners and its idle connections; busy ones close after their
 * response; the loop exits when none is left or the grace time is over.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "client.h"
#include "config.h"
#include "hot.h"
#include "inflight.h"
#include "log.h"
#include "upstream.h"
#include "util.h"
#include "worker.h"

static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config_ref *current_config;

static struct worker **workers;
static unsigned nworkers;
static unsigned stop_grace_ms;

struct config_ref *
worker_config_acquire(void)
{
	struct config_ref *r;

	pthread_mutex_lock(&config_lock);
	r = current_config;
	AN(r);
	atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&config_lock);
	return r;
}

void
worker_config_release(struct config_ref *r)
{
	if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1) {
		config_free(r->cfg);
		free(r);
	}
}

void
worker_config_hold(struct config_ref *r)
{
	AN(r);
	atomic_fetch_add(&r->refs, 1);
}

void
worker_config_publish(struct config *c)
{
	struct config_ref *r = NULL, *old;

	/* NULL unpublishes (at exit): the last reference frees the config. */
	if (c != NULL) {
		static uint64_t generations;

		r = xcalloc(1, sizeof(*r));
		r->cfg = c;
		r->generation = ++generations;
		atomic_init(&r->refs, 1);	/* the reference "current" holds */
	}
	pthread_mutex_lock(&config_lock);
	old = current_config;
	current_config = r;
	pthread_mutex_unlock(&config_lock);
	worker_config_release(old);
}

bool
worker_is_draining(const struct worker *w)
{
	return atomic_load(&w->draining);
}

static void
set_accepting(struct worker *w, bool on)
{
	size_t i;

	if (w->accept_paused == !on)
		return;
	w->accept_paused = !on;
	for (i = 0; i < w->nlisteners; i++) {
		if (w->listeners[i] == NULL)
			continue;
		if (on)
			evconnlistener_enable(w->listeners[i]);
		else
			evconnlistener_disable(w->listeners[i]);
	}
}

static void
accepted(struct worker *w, evutil_socket_t fd, struct sockaddr *sa, int salen,
    bool tls)
{
	struct config_ref *r;
	unsigned cap;

	CHECK_OBJ(w, WORKER_MAGIC);
	if (worker_is_draining(w)) {
		close(fd);
		return;
	}
	client_accept(w, fd, sa, salen, tls);
	r = worker_config_acquire();
	cap = r->cfg->max_connections;
	worker_config_release(r);
	if (cap != 0 && w->nclients >= cap)
		set_accepting(w, false);
}

/* A listener's kind is its callback: no lookup on the accept path. */
static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	accepted(arg, fd, sa, salen, false);
}

static void
accept_tls_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	accepted(arg, fd, sa, salen, true);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	/* EMFILE and friends: log; libevent keeps the listener and retries. */
	log_error("accept: %s", evutil_socket_error_to_string(err));
}

void
worker_client_closed(struct worker *w, struct client *c)
{
	struct config_ref *r;
	unsigned cap;

	CHECK_OBJ(w, WORKER_MAGIC);
	LIST_REMOVE(c, link);
	w->nclients--;
	if (worker_is_draining(w)) {
		if (w->nclients == 0 && w->fetches_owned == 0)
			event_base_loopexit(w->base, NULL);
		return;
	}
	if (w->accept_paused) {
		r = worker_config_acquire();
		cap = r->cfg->max_connections;
		worker_config_release(r);
		if (cap == 0 || w->nclients < cap)
			set_accepting(w, true);
	}
}

void
worker_fetch_started(struct worker *w)
{
	CHECK_OBJ(w, WORKER_MAGIC);
	w->fetches_owned++;
}

void
worker_fetch_ended(struct worker *w)
{
	CHECK_OBJ(w, WORKER_MAGIC);
	ASSERT(w->fetches_owned > 0);
	w->fetches_owned--;
	if (worker_is_draining(w) && w->nclients == 0 && w->fetches_owned == 0)
		event_base_loopexit(w->base, NULL);
}

/*
 * A worker's event base. epoll's changelist defers and merges the interest
 * changes of one loop pass: a keep-alive hit disables reading, queues its
 * response and enables reading again before the pass ends, which then costs
 * no epoll_ctl at all (freshd never dup()s a socket, the changelist's one
 * caveat).
 */
static struct event_base *
new_base(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	AN(ec);
	AZ(event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST));
	/* A large hit to a fast reader reschedules itself in the same pass;
	 * after this many callbacks the loop looks at the sockets again, so
	 * one connection cannot starve the others. */
	AZ(event_config_set_max_dispatch_interval(ec, NULL, 64, 0));
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct client *c, *next;
	struct timeval grace = { (time_t)(stop_grace_ms / 1000u),
	    (suseconds_t)((stop_grace_ms % 1000u) * 1000u) };
	size_t i;

	CHECK_OBJ(w, WORKER_MAGIC);
	atomic_store(&w->draining, true);
	for (i = 0; i < w->nlisteners; i++) {
		if (w->listeners[i] != NULL)
			evconnlistener_free(w->listeners[i]);
		w->listeners[i] = NULL;
	}
	for (c = LIST_FIRST(&w->clients); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		client_close_if_idle(c);
	}
	if (w->nclients == 0 && w->fetches_owned == 0)
		event_base_loopexit(w->base, NULL);
	else
		event_base_loopexit(w->base, &grace);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	return NULL;
}

static int
bind_listener(struct worker *w, const struct cfg_listener *l, size_t idx,
    char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8], host[256];
	const char *h = l->host;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%u", l->port);
	if (h != NULL && h[0] == '[') {
		size_t n = strlen(h);
		snprintf(host, sizeof(host), "%.*s", (int)(n >= 2 ? n - 2 : 0), h + 1);
		h = host;
	}
	if (h != NULL && strcmp(h, "*") == 0)
		h = NULL;
	rc = getaddrinfo(h, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot listen on %s:%u: %s", l->host, l->port,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		w->listeners[idx] = evconnlistener_new_bind(w->base,
		    l->tls ? accept_tls_cb : accept_cb, w,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
		    LEV_OPT_CLOSE_ON_EXEC, 1024, ai->ai_addr, (int)ai->ai_addrlen);
		if (w->listeners[idx] != NULL)
			break;
	}
	if (w->listeners[idx] == NULL) {
		snprintf(err, errlen, "cannot listen on %s:%u: %s", l->host, l->port,
		    strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	evconnlistener_set_error_cb(w->listeners[idx], accept_error_cb);
	freeaddrinfo(res);
	return 0;
}

static void
worker_free(struct worker *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->nlisteners; i++)
		if (w->listeners[i] != NULL)
			evconnlistener_free(w->listeners[i]);
	free(w->listeners);
	upstream_pools_free(w->pools);
	hot_free(w->hot);
	if (w->stop_ev != NULL)
		event_free(w->stop_ev);
	if (w->base != NULL)
		event_base_free(w->base);
	FREE_OBJ(w);
}

int
workers_start(unsigned n, char *err, size_t errlen)
{
	struct config_ref *r;
	sigset_t all, old;
	unsigned i;
	size_t j;

	AZ(evthread_use_pthreads());
	r = worker_config_acquire();
	workers = xcalloc(n, sizeof(*workers));
	nworkers = n;
	for (i = 0; i < n; i++) {
		struct worker *w = xcalloc(1, sizeof(*w));
		w->magic = WORKER_MAGIC;
		w->id = i;
		LIST_INIT(&w->clients);
		atomic_init(&w->draining, false);
		w->base = new_base();
		AN(w->base);
		w->pools = upstream_pools_new(w);
		w->hot = hot_new(r->cfg->cache_hot_memory);
		w->stop_ev = event_new(w->base, -1, 0, stop_cb, w);
		AN(w->stop_ev);
		w->nlisteners = r->cfg->nlisteners;
		w->listeners = xcalloc(w->nlisteners, sizeof(*w->listeners));
		workers[i] = w;
		for (j = 0; j < r->cfg->nlisteners; j++) {
			if (bind_listener(w, &r->cfg->listeners[j], j, err, errlen) != 0) {
				worker_config_release(r);
				for (i = 0; i < n; i++)
					worker_free(workers[i]);
				free(workers);
				workers = NULL;
				nworkers = 0;
				return -1;
			}
		}
	}
	worker_config_release(r);
	/* Signals are the main thread's business: workers never see them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++)
		AZ(pthread_create(&workers[i]->thread, NULL, worker_main, workers[i]));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

void
workers_stop(unsigned grace_ms)
{
	unsigned i;

	stop_grace_ms = grace_ms;
	for (i = 0; i < nworkers; i++)
		event_active(workers[i]->stop_ev, EV_TIMEOUT, 0);
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i]->thread, NULL);
	/*
	 * Three passes, because objects of one worker reach into another's
	 * event base (a waiter wakes the fetch's owner): clients everywhere,
	 * then the fetches nobody waits for, then the bases.
	 */
	for (i = 0; i < nworkers; i++)
		while (!LIST_EMPTY(&workers[i]->clients))
			client_destroy(LIST_FIRST(&workers[i]->clients));
	inflight_shutdown();
	for (i = 0; i < nworkers; i++)
		worker_free(workers[i]);
	free(workers);
	workers = NULL;
	nworkers = 0;
}

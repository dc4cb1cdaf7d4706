/*
 * inflight.c: request collapsing and cache filling (see inflight.h for the
 * model). Locking: one mutex, `lock`, guards the table, the hit-for-miss
 * list and every field marked "shared" below. Owner-side fields are touched
 * only by the owner's worker thread. Nothing that may call back (fetch_*,
 * store_*) is called with the lock held, except fetch_pause, which never
 * calls back. Events are activated under the lock (event_active is
 * thread-safe) but freed only by the thread whose callback they run, so no
 * thread ever waits for another while holding the lock.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "cache.h"
#include "cache_key.h"
#include "inflight.h"
#include "log.h"
#include "policy.h"
#include "store.h"
#include "util.h"
#include "worker.h"

#define INFLIGHT_MAGIC	0x494e464cu
#define HFM_MAX		4096
/*
 * Bodies up to this size stay in memory until the store has committed the
 * object, so a request arriving between the end of the fetch and the commit
 * still finds it (joins the finished object instead of fetching again).
 */
#define INFLIGHT_RETAIN	(1024u * 1024u)
/* Pieces are gathered into blocks of at least this size. */
#define BLOCK_MIN	(16u * 1024u)
/*
 * While the store's write queue is congested, the origin is read no
 * further (the object would otherwise be refused by the full queue): the
 * queue is polled this often, for at most STORE_WAIT_MAX_MS at a time;
 * past that the disk is taken to be failing to keep up, and the object is
 * served at the origin's pace without being stored.
 */
#define STORE_POLL_MS		2
#define STORE_WAIT_MAX_MS	2000

static const struct timeval store_poll = { 0, STORE_POLL_MS * 1000 };

/*
 * lag() is asked only while the origin is paused or more than
 * INFLIGHT_MAX_LAG bytes are kept, so never while a body is retained for
 * late joiners (free_taken keeps taken blocks then): its walk over taken
 * blocks ends at once.
 */
_Static_assert(INFLIGHT_RETAIN < INFLIGHT_MAX_LAG,
    "a retained body fits the lag window");

enum inf_state {
	S_WAIT = 0,	/* no response head yet */
	S_HEAD,		/* head known, body streaming */
	S_DONE,		/* the fetch ended (complete or truncated) */
	S_FAILED,	/* no response */
};

/*
 * Body bytes are shared with the waiters' output buffers by reference
 * (evbuffer_add_reference), not copied per waiter: each block's memory is
 * reference-counted, the in-flight object holding one reference and every
 * output buffer that points into it another, dropped by libevent once the
 * bytes are sent (in that waiter's thread, hence the atomic count).
 */
struct block_mem {
	atomic_uint	refs;
	char		data[];
};

/*
 * A waiter's position is (block number, offset inside it): each block
 * counts the waiters positioned in it (`nw`), and a block is freed when it
 * is first in line and that count is zero. A waiter moves to the next block
 * when it takes bytes from it, so one that has taken everything stays at
 * the end of the last block (which may still grow); before the first block
 * arrives, waiters are at the frontier, counted in `nw_end`.
 */
struct block {
	struct block_mem	*mem;
	size_t			len;
	uint64_t		off;		/* body offset of its first byte */
	unsigned		nw;		/* waiters positioned in it (not released) */
};

static struct block_mem *
block_mem_new(size_t len)
{
	struct block_mem *m = xmalloc(sizeof(*m) + len);

	atomic_init(&m->refs, 1);
	return m;
}

static void
block_mem_unref(struct block_mem *m)
{
	if (m != NULL && atomic_fetch_sub(&m->refs, 1) == 1)
		free(m);
}

/* evbuffer_add_reference cleanup: the output buffer is done with the bytes. */
static void
block_mem_release(const void *data, size_t len, void *arg)
{
	block_mem_unref(arg);
}

struct inflight {
	unsigned		magic;
	unsigned		refs;		/* shared: waiters, +1 while the owner side lives */
	char			*key;		/* NULL when not collapsible */
	bool			in_table;	/* shared */
	LIST_ENTRY(inflight)	table_link;
	LIST_ENTRY(inflight)	all_link;	/* every live object (shutdown) */

	/* owner side */
	struct worker		*owner;
	struct fetch		*fetch;
	struct store_write	*sw;
	struct event		*owner_ev;	/* shared pointer: NULL once the owner side ended */
	bool			paused;		/* shared: for waiters that lag */
	bool			store_wait;	/* paused for the store's write queue */
	struct event		*store_ev;	/* polls the queue while store_wait */
	struct timespec		store_wait_since;
	char			*pkey;
	enum http_method	method;
	struct fields		req_fields;
	char			*vary_names;
	char			*owner_skey;
	char			*store_block;	/* header fields to store */
	size_t			store_block_len;
	bool			revalidate;
	bool			background;	/* runs without waiters (see inflight_join) */
	uint64_t		stored_id;
	int			stored_status;
	uint64_t		stored_body_len;
	char			*hfm_key;
	struct fields		stored_fields;

	/* shared */
	enum inf_state		state;
	bool			truncated;
	int			fail_status;
	bool			shareable;
	bool			joinable;
	bool			commit_pending;	/* stays joinable until the store has it */
	enum cache_key_vary	vary_kind;
	struct inflight_head	head;
	struct block		*blocks;
	size_t			nblocks;
	size_t			cap;
	size_t			base;		/* number of blocks[0] (earlier ones dropped) */
	size_t			first;		/* blocks before it are freed */
	uint64_t		first_off;	/* body offset of blocks[first] */
	uint64_t		total;		/* body bytes received */
	unsigned		nw_end;		/* waiters at the frontier (struct block) */
	TAILQ_HEAD(, inflight_waiter) waiters;
	TAILQ_HEAD(, inflight_waiter) armed;	/* to wake when something changes */
};

struct hfm_entry {
	char	*key;
	time_t	until;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, inflight) table = LIST_HEAD_INITIALIZER(table);
static LIST_HEAD(, inflight) all = LIST_HEAD_INITIALIZER(all);
static struct hfm_entry hfm[HFM_MAX];
static size_t nhfm;

static void on_head(void *arg, struct http_response *resp);
static void on_body(void *arg, struct evbuffer *src, size_t n);
static void on_end(void *arg, enum fetch_end how);
static void on_error(void *arg, int status, const char *why);
static void committed_cb(void *arg);

static const struct fetch_sink inflight_sink = {
	on_head, on_body, on_end, on_error, NULL,
};

/* Hit-for-miss memory (lock held). */
static void
hfm_set(const char *key, bool on)
{
	time_t now = time(NULL);
	size_t i;

	for (i = 0; i < nhfm; i++) {
		if (strcmp(hfm[i].key, key) != 0 && hfm[i].until > now)
			continue;
		/* Same key, or an expired entry: drop it. */
		free(hfm[i].key);
		hfm[i--] = hfm[--nhfm];
	}
	if (!on)
		return;
	if (nhfm == HFM_MAX) {
		free(hfm[0].key);
		hfm[0] = hfm[--nhfm];
	}
	hfm[nhfm].key = xstrdup(key);
	hfm[nhfm].until = now + INFLIGHT_HFM_SECONDS;
	nhfm++;
}

bool
inflight_hit_for_miss(const char *key)
{
	time_t now = time(NULL);
	bool found = false;
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nhfm && !found; i++)
		found = hfm[i].until > now && strcmp(hfm[i].key, key) == 0;
	pthread_mutex_unlock(&lock);
	return found;
}

/*
 * Whether a request with these fields selects the owner's variant, once the
 * response's Vary is known (RFC 9111 §4.1). Lock held.
 */
static bool
same_variant(const struct inflight *inf, const struct fields *req_fields)
{
	struct cache *cache = cache_get();
	char *sk;
	bool same;

	if (inf->state == S_WAIT || inf->vary_kind != CACHE_KEY_VARY_LIST ||
	    inf->head.not_modified)
		return true;
	if (cache == NULL || inf->owner_skey == NULL)
		return false;
	sk = cache_key_vary(&cache->keys, inf->vary_names, req_fields);
	same = sk != NULL && cache_key_vary_match(inf->owner_skey, strlen(inf->owner_skey),
	    sk, strlen(sk)) > 0;
	free(sk);
	return same;
}

/*
 * Whether the response may answer another request without going to the
 * origin: collapsing must not bend RFC 9111 §4, so a waiter gets it only
 * when it would be served from the cache as fresh (or stale where its own
 * request or the response allows). A no-cache or max-age=0 response, or a
 * request with no-cache, sends that waiter to the origin. Lock held.
 */
static bool
servable_to(const struct inflight *inf, const struct fields *req_fields)
{
	struct cache *cache = cache_get();
	struct http_request req;
	struct policy_stored st;
	struct policy_decision d;

	if (inf->state == S_WAIT)
		return true;
	if (cache == NULL)
		return false;
	memset(&req, 0, sizeof(req));
	req.method = HTTP_M_GET;
	req.version = 11;
	req.fields = *req_fields;
	st.status = inf->head.not_modified ? inf->stored_status : inf->head.status;
	st.fields = &inf->head.fields;
	st.request_time = inf->head.request_time;
	st.response_time = inf->head.response_time;
	policy_decide(&cache->policy, &req, &st, false, time(NULL), &d);
	return d.action == POLICY_FRESH || d.action == POLICY_STALE_OK;
}

/* Asks to be woken at the next change. Lock held. */
static void
arm(struct inflight *inf, struct inflight_waiter *wt)
{
	if (!wt->armed) {
		wt->armed = true;
		TAILQ_INSERT_TAIL(&inf->armed, wt, arm_link);
	}
}

static void
disarm(struct inflight *inf, struct inflight_waiter *wt)
{
	if (wt->armed) {
		wt->armed = false;
		TAILQ_REMOVE(&inf->armed, wt, arm_link);
	}
}

/*
 * Something changed (head, body bytes, the end): wakes the waiters that
 * asked for it. The others are scheduled already, or wait for their client
 * to drain and then take what is there. Lock held.
 */
static void
wake_armed(struct inflight *inf)
{
	struct inflight_waiter *wt;

	while ((wt = TAILQ_FIRST(&inf->armed)) != NULL) {
		TAILQ_REMOVE(&inf->armed, wt, arm_link);
		wt->armed = false;
		event_active(wt->wake, EV_TIMEOUT, 0);
	}
}

/* Counts a waiter in (delta 1) or out of (-1) its block. Lock held. */
static void
count_waiter(struct inflight *inf, const struct inflight_waiter *wt, int delta)
{
	size_t i = wt->blk - inf->base;
	unsigned *c;

	ASSERT(wt->blk >= inf->base + inf->first && i <= inf->nblocks);
	c = i < inf->nblocks ? &inf->blocks[i].nw : &inf->nw_end;
	if (delta > 0) {
		(*c)++;
	} else {
		ASSERT(*c > 0);
		(*c)--;
	}
}

static void
table_remove(struct inflight *inf)
{
	if (inf->in_table) {
		LIST_REMOVE(inf, table_link);
		inf->in_table = false;
	}
	inf->joinable = false;
}

static void store_wait_cb(evutil_socket_t fd, short what, void *arg);

static void
inflight_free(struct inflight *inf)
{
	size_t i;

	CHECK_OBJ(inf, INFLIGHT_MAGIC);
	ASSERT(inf->refs == 0);
	AZ(inf->owner_ev);
	AZ(inf->store_ev);
	pthread_mutex_lock(&lock);
	LIST_REMOVE(inf, all_link);
	pthread_mutex_unlock(&lock);
	for (i = inf->first; i < inf->nblocks; i++)
		block_mem_unref(inf->blocks[i].mem);
	free(inf->blocks);
	inflight_head_free(&inf->head);
	fields_free(&inf->req_fields);
	fields_free(&inf->stored_fields);
	free(inf->key);
	free(inf->hfm_key);
	free(inf->pkey);
	free(inf->vary_names);
	free(inf->owner_skey);
	free(inf->store_block);
	FREE_OBJ(inf);
}

/*
 * How far the slowest waiter is behind the origin, counted from the start
 * of its block (0 when none waits). Lock held.
 */
static uint64_t
lag(const struct inflight *inf)
{
	size_t i;

	for (i = inf->first; i < inf->nblocks; i++)
		if (inf->blocks[i].nw > 0)
			return inf->total - inf->blocks[i].off;
	return 0;
}

/* Frees the blocks every waiter has taken. Lock held. */
static void
free_taken(struct inflight *inf)
{
	struct block *b;

	if (inf->joinable && inf->total <= INFLIGHT_RETAIN)
		return;
	while (inf->first < inf->nblocks && inf->blocks[inf->first].nw == 0) {
		b = &inf->blocks[inf->first];
		inf->first_off = b->off + b->len;
		block_mem_unref(b->mem);
		b->mem = NULL;
		inf->first++;
		/* A late request could not get the start of the body any more. */
		inf->joinable = false;
	}
	if (inf->first > 1024 && inf->first * 2 > inf->nblocks) {
		/* Waiters hold block numbers, not indexes: only base moves. */
		memmove(inf->blocks, inf->blocks + inf->first,
		    (inf->nblocks - inf->first) * sizeof(*inf->blocks));
		inf->base += inf->first;
		inf->nblocks -= inf->first;
		inf->first = 0;
	}
}

static void
owner_side_end(struct inflight *inf)
{
	/* Lock held; owner thread. */
	if (!inf->commit_pending)
		table_remove(inf);
	if (inf->owner_ev != NULL) {
		event_free(inf->owner_ev);
		inf->owner_ev = NULL;
		worker_fetch_ended(inf->owner);
	}
	if (inf->store_ev != NULL) {
		event_free(inf->store_ev);
		inf->store_ev = NULL;
	}
	inf->fetch = NULL;
	inf->refs--;
}

/* Owner thread: a waiter left or caught up. */
static void
owner_cb(evutil_socket_t fd, short what, void *arg)
{
	struct inflight *inf = arg;
	bool abort_it = false, resume = false, free_it = false;
	struct fetch *f;

	CHECK_OBJ(inf, INFLIGHT_MAGIC);
	pthread_mutex_lock(&lock);
	f = inf->fetch;
	if (f == NULL) {
		pthread_mutex_unlock(&lock);
		return;
	}
	if (TAILQ_EMPTY(&inf->waiters) && inf->sw == NULL && !inf->background) {
		/* Nobody wants it and nothing is being stored. */
		abort_it = true;
		inf->state = S_FAILED;
		inf->fail_status = 502;
		owner_side_end(inf);
		free_it = inf->refs == 0;
	} else if (inf->paused && lag(inf) < INFLIGHT_MAX_LAG / 2) {
		inf->paused = false;
		resume = !inf->store_wait;
	}
	pthread_mutex_unlock(&lock);
	if (abort_it) {
		fetch_abort(f);
		if (free_it)
			inflight_free(inf);
		return;
	}
	if (resume)
		fetch_resume(f);
}

enum inflight_join
inflight_join(const struct inflight_params *p, struct inflight_waiter *wt)
{
	struct inflight *inf;

	if (wt != NULL) {
		wt->inf = NULL;
		wt->offset = 0;
		wt->blk = 0;
		wt->blk_off = 0;
		wt->owner = false;
		wt->released = false;
		wt->head_taken = false;
		wt->armed = false;
	}

	pthread_mutex_lock(&lock);
	if (p->key != NULL && wt == NULL) {
		/* A background refresh: one at a time per key is enough. */
		LIST_FOREACH(inf, &table, table_link) {
			if (strcmp(inf->key, p->key) == 0) {
				pthread_mutex_unlock(&lock);
				return INFLIGHT_JOINED;
			}
		}
	}
	if (p->key != NULL && wt != NULL) {
		LIST_FOREACH(inf, &table, table_link) {
			if (inf->joinable && strcmp(inf->key, p->key) == 0 &&
			    same_variant(inf, p->req_fields) &&
			    servable_to(inf, p->req_fields)) {
				/* Joinable: nothing freed, so block 0 is first. */
				ASSERT(inf->base == 0 && inf->first == 0);
				wt->inf = inf;
				inf->refs++;
				TAILQ_INSERT_TAIL(&inf->waiters, wt, link);
				count_waiter(inf, wt, 1);
				if (inf->state != S_WAIT)
					event_active(wt->wake, EV_TIMEOUT, 0);
				else
					arm(inf, wt);
				pthread_mutex_unlock(&lock);
				return INFLIGHT_JOINED;
			}
		}
	}
	inf = xcalloc(1, sizeof(*inf));
	inf->magic = INFLIGHT_MAGIC;
	inf->refs = wt != NULL ? 2 : 1;
	inf->background = wt == NULL;
	inf->key = p->key ? xstrdup(p->key) : NULL;
	inf->owner = p->worker;
	inf->pkey = xstrdup(p->pkey);
	inf->method = p->method;
	fields_copy(&inf->req_fields, p->req_fields);
	if (p->stored_fields != NULL)
		fields_copy(&inf->stored_fields, p->stored_fields);
	else
		fields_init(&inf->stored_fields);
	inf->revalidate = p->revalidate;
	inf->stored_id = p->stored_id;
	inf->stored_status = p->stored_status;
	inf->stored_body_len = p->stored_body_len;
	inf->hfm_key = p->hfm_key ? xstrdup(p->hfm_key) : NULL;
	inf->head.request_time = p->request_time;
	fields_init(&inf->head.fields);
	inf->joinable = p->key != NULL;
	TAILQ_INIT(&inf->waiters);
	TAILQ_INIT(&inf->armed);
	if (wt != NULL) {
		wt->inf = inf;
		wt->owner = true;
		TAILQ_INSERT_TAIL(&inf->waiters, wt, link);
		count_waiter(inf, wt, 1);
		arm(inf, wt);
	}
	if (p->key != NULL) {
		LIST_INSERT_HEAD(&table, inf, table_link);
		inf->in_table = true;
	}
	inf->owner_ev = event_new(p->worker->base, -1, 0, owner_cb, inf);
	AN(inf->owner_ev);
	inf->store_ev = evtimer_new(p->worker->base, store_wait_cb, inf);
	AN(inf->store_ev);
	worker_fetch_started(p->worker);
	LIST_INSERT_HEAD(&all, inf, all_link);
	pthread_mutex_unlock(&lock);

	/* fetch_start never calls back before it returns (fetch.h). */
	inf->fetch = fetch_start(p->worker, p->backend, p->fetch, &inflight_sink, inf);
	return INFLIGHT_STARTED;
}

/* The store's view of the owner's request (method and fields are all policy reads). */
static void
owner_request(const struct inflight *inf, struct http_request *req)
{
	memset(req, 0, sizeof(*req));
	req->method = inf->method;
	req->fields = inf->req_fields;
	req->version = 11;
}

/*
 * Owner thread, before queueing a store write whose completion calls
 * committed_cb: keeps inf (a reference) and, while it is in the table, keeps
 * it joinable until the commit (commit_pending). commit_unhold undoes it
 * when the write could not be queued (committed_cb will not run).
 */
static void
commit_hold(struct inflight *inf)
{
	pthread_mutex_lock(&lock);
	inf->commit_pending = inf->in_table;
	inf->refs++;
	pthread_mutex_unlock(&lock);
}

static void
commit_unhold(struct inflight *inf)
{
	pthread_mutex_lock(&lock);
	inf->commit_pending = false;
	inf->refs--;
	pthread_mutex_unlock(&lock);
}

/*
 * Owner thread, revalidation: merges the origin's fields (a 304, or a 200
 * to HEAD) into the stored response, into merged (the owner's answer), and
 * queues the freshened head for the store (RFC 9111 §4.3.4, §3.2). Returns
 * false, storing nothing, when the merged response may not be stored, as
 * the answer to a GET of the owner's request (RFC 9111 §3): a 304 or HEAD
 * answer that now says private or no-store, or that answers a request with
 * Authorization, must not reach other clients through the stored response;
 * the stored one then stays as it was, stale, and is revalidated again.
 */
static bool
freshen_stored(struct inflight *inf, struct cache *cache,
    const struct http_request *oreq, const struct fields *resp, time_t now,
    struct fields *merged)
{
	struct store_object_meta meta;
	struct http_request get = *oreq;
	const char *why = NULL;
	char *block;
	size_t len;

	fields_free(merged);
	policy_merge_304(&cache->policy, &inf->stored_fields, resp, now, merged);
	get.method = HTTP_M_GET;
	if (!policy_storable(&cache->policy, &get, inf->stored_status, merged, &why)) {
		log_debug("not freshening %s: %s", inf->pkey, why);
		return false;
	}
	block = fields_to_block(merged, &len);
	memset(&meta, 0, sizeof(meta));
	meta.status = inf->stored_status;
	meta.request_time = inf->head.request_time;
	meta.response_time = now;
	meta.headers = block;
	meta.headers_len = len;
	/* Joinable until the store has the freshened headers, so the next
	 * request does not revalidate the old copy again. */
	meta.committed = committed_cb;
	meta.committed_arg = inf;
	commit_hold(inf);
	if (store_update_meta(cache->store, inf->stored_id, &meta) != 0)
		commit_unhold(inf);
	free(block);
	return true;
}

static void
on_head(void *arg, struct http_response *resp)
{
	struct inflight *inf = arg;
	struct cache *cache = cache_get();
	struct inflight_waiter *wt;
	struct http_request oreq;
	struct fields merged, stored;
	enum cache_key_vary vk = CACHE_KEY_VARY_NONE;
	char *names = NULL, *oskey = NULL;
	const char *why = NULL;
	bool storable = false, not_modified = false, shared_ok = true;
	bool freshened = false;
	time_t now = time(NULL);

	CHECK_OBJ(inf, INFLIGHT_MAGIC);
	owner_request(inf, &oreq);
	fields_init(&merged);
	if (inf->revalidate && resp->status == 304 && cache != NULL) {
		not_modified = true;
		if (policy_304_matches(&inf->stored_fields, &resp->fields)) {
			shared_ok = freshened = freshen_stored(inf, cache, &oreq,
			    &resp->fields, now, &merged);
		} else {
			/* The 304 selects no stored response (RFC 9111 §4.3.4): nothing
			 * is updated; the stored one is served as it is. */
			fields_copy(&merged, &inf->stored_fields);
		}
	} else if (inf->revalidate && inf->method == HTTP_M_HEAD && resp->status == 200 &&
	    cache != NULL) {
		/* RFC 9111 §4.3.5: a 200 to HEAD freshens the stored GET response
		 * when it describes the same representation, and otherwise shows
		 * the stored one out of date (a stored error or redirect is out
		 * of date once the origin answers 200). A HEAD answer that may
		 * not be stored freshens nothing, and the client gets it as it
		 * came. */
		if (inf->stored_status == 200 && policy_head_freshens(&inf->stored_fields,
		    inf->stored_body_len, &resp->fields)) {
			not_modified = freshened = freshen_stored(inf, cache, &oreq,
			    &resp->fields, now, &merged);
			if (!not_modified) {
				fields_free(&merged);
				fields_init(&merged);
			}
		} else if (store_invalidate(cache->store, inf->pkey, strlen(inf->pkey)) < 0) {
			log_warn("could not invalidate %s after a changed HEAD response",
			    inf->pkey);
		}
	} else if (cache != NULL && inf->method == HTTP_M_GET) {
		storable = policy_storable(&cache->policy, &oreq, resp->status,
		    &resp->fields, &why);
		vk = cache_key_vary_names(&resp->fields, &names);
		if (storable && vk == CACHE_KEY_VARY_LIST)
			oskey = cache_key_vary_stored(&cache->keys, names, &inf->req_fields,
			    &resp->fields);
		if (storable) {
			policy_store_fields(&cache->policy, &resp->fields, now, &stored);
			inf->store_block = fields_to_block(&stored, &inf->store_block_len);
			fields_free(&stored);
			inf->sw = store_write_begin(cache->store, inf->pkey, strlen(inf->pkey));
		}
	}

	pthread_mutex_lock(&lock);
	inf->vary_names = names;
	inf->owner_skey = oskey;
	inf->vary_kind = vk;
	inf->state = S_HEAD;
	inf->shareable = (storable && vk != CACHE_KEY_VARY_STAR) ||
	    (not_modified && shared_ok);
	inf->head.status = resp->status;
	inf->head.reason = xstrdup(resp->reason ? resp->reason : "");
	if (not_modified) {
		inf->head.fields = merged;
	} else {
		fields_copy(&inf->head.fields, &resp->fields);
		fields_strip_hop_by_hop(&inf->head.fields, false);
	}
	inf->head.body = resp->body;
	inf->head.content_length = resp->content_length;
	inf->head.version = resp->version;
	/* For a revalidation: whether the freshened head went to the store. */
	inf->head.storable = not_modified ? freshened : storable;
	inf->head.not_modified = not_modified;
	inf->head.response_time = now;
	TAILQ_FOREACH(wt, &inf->waiters, link) {
		if (wt->owner)
			continue;
		if (!inf->shareable || !same_variant(inf, wt->req_fields) ||
		    !servable_to(inf, wt->req_fields)) {
			wt->released = true;
			count_waiter(inf, wt, -1);
		}
	}
	if (inf->hfm_key != NULL)
		hfm_set(inf->hfm_key, !inf->shareable);
	if (!inf->shareable)
		table_remove(inf);
	wake_armed(inf);
	pthread_mutex_unlock(&lock);
	if (why != NULL)
		log_debug("not storing %s: %s", inf->pkey, why);
}

/*
 * Says why a response that was being stored is not: too large is routine
 * (info); a full write queue means the disk cannot keep up with the misses,
 * which an operator must hear of, at most once a second, with the count.
 */
static void
note_not_stored(const char *pkey, int rc)
{
	static atomic_uint_fast64_t dropped;
	static _Atomic time_t last;
	time_t now = time(NULL), was = atomic_load(&last);
	uint64_t n;

	if (rc == STORE_ENOSPC) {
		log_info("not storing %s: larger than the largest object the store takes", pkey);
		return;
	}
	n = atomic_fetch_add(&dropped, 1) + 1;
	if (now != was && atomic_compare_exchange_strong(&last, &was, now)) {
		atomic_fetch_sub(&dropped, n);
		log_warn("store write queue full: %llu response(s) served without being "
		    "stored (the last %s)", (unsigned long long)n, pkey);
	}
}

static long
ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Owner thread: the fetch waits for the store's write queue (on_body). */
static void
store_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct inflight *inf = arg;
	bool resume, idle;

	CHECK_OBJ(inf, INFLIGHT_MAGIC);
	if (inf->sw != NULL && store_write_congested(cache_get()->store)) {
		if (ms_since(&inf->store_wait_since) < STORE_WAIT_MAX_MS) {
			AZ(evtimer_add(inf->store_ev, &store_poll));
			return;
		}
		note_not_stored(inf->pkey, STORE_EBUSY);
		store_write_abort(inf->sw);
		inf->sw = NULL;
	}
	pthread_mutex_lock(&lock);
	inf->store_wait = false;
	resume = !inf->paused;
	idle = TAILQ_EMPTY(&inf->waiters) && inf->sw == NULL && !inf->background;
	if (idle && inf->owner_ev != NULL)
		event_active(inf->owner_ev, EV_TIMEOUT, 0);	/* nobody wants it now */
	pthread_mutex_unlock(&lock);
	if (resume && inf->fetch != NULL)
		fetch_resume(inf->fetch);
}

static void
on_body(void *arg, struct evbuffer *src, size_t n)
{
	struct inflight *inf = arg;
	struct block b;
	int rc;

	CHECK_OBJ(inf, INFLIGHT_MAGIC);
	if (n == 0)
		return;
	b.mem = block_mem_new(n);
	b.len = n;
	evbuffer_remove(src, b.mem->data, n);
	if (inf->sw != NULL && (rc = store_write_append(inf->sw, b.mem->data, n)) != 0) {
		/* The store cannot take it now: serve without storing. */
		note_not_stored(inf->pkey, rc);
		store_write_abort(inf->sw);
		inf->sw = NULL;
	}
	if (inf->sw != NULL && !inf->store_wait && store_write_congested(cache_get()->store)) {
		inf->store_wait = true;
		clock_gettime(CLOCK_MONOTONIC, &inf->store_wait_since);
		AZ(evtimer_add(inf->store_ev, &store_poll));
		fetch_pause(inf->fetch);
	}
	pthread_mutex_lock(&lock);
	if (inf->nblocks > inf->first &&
	    inf->blocks[inf->nblocks - 1].len + n <= BLOCK_MIN &&
	    atomic_load(&inf->blocks[inf->nblocks - 1].mem->refs) == 1) {
		/* Small pieces (a trickling origin) grow the last block rather
		 * than the block list, while no output buffer points into it
		 * (waiters index blocks, not pointers). */
		struct block *last = &inf->blocks[inf->nblocks - 1];
		struct block_mem *m = xrealloc(last->mem, sizeof(*m) + last->len + n);

		last->mem = m;
		memcpy(m->data + last->len, b.mem->data, n);
		last->len += n;
		block_mem_unref(b.mem);
	} else {
		if (inf->nblocks == inf->cap) {
			inf->cap = inf->cap ? inf->cap * 2 : 16;
			inf->blocks = xrealloc(inf->blocks, inf->cap * sizeof(*inf->blocks));
		}
		/* The waiters at the frontier are now in this block. */
		b.off = inf->total;
		b.nw = inf->nw_end;
		inf->nw_end = 0;
		inf->blocks[inf->nblocks++] = b;
	}
	inf->total += n;
	free_taken(inf);
	if (!inf->paused && inf->total - inf->first_off > INFLIGHT_MAX_LAG &&
	    lag(inf) > INFLIGHT_MAX_LAG) {
		inf->paused = true;
		fetch_pause(inf->fetch);
	}
	wake_armed(inf);
	if (TAILQ_EMPTY(&inf->waiters) && inf->sw == NULL && !inf->background &&
	    inf->owner_ev != NULL)
		event_active(inf->owner_ev, EV_TIMEOUT, 0);
	pthread_mutex_unlock(&lock);
}

/* Writer thread: the object is in the store; lookups find it from now on. */
static void
committed_cb(void *arg)
{
	struct inflight *inf = arg;
	bool free_it;

	CHECK_OBJ(inf, INFLIGHT_MAGIC);
	pthread_mutex_lock(&lock);
	inf->commit_pending = false;
	table_remove(inf);
	inf->refs--;
	free_it = inf->refs == 0;
	pthread_mutex_unlock(&lock);
	if (free_it)
		inflight_free(inf);
}

static void
on_end(void *arg, enum fetch_end how)
{
	struct inflight *inf = arg;
	bool free_it;

	CHECK_OBJ(inf, INFLIGHT_MAGIC);
	if (inf->sw != NULL) {
		if (how == FETCH_COMPLETE) {
			struct store_object_meta meta;

			memset(&meta, 0, sizeof(meta));
			meta.status = inf->head.status;
			meta.request_time = inf->head.request_time;
			meta.response_time = inf->head.response_time;
			meta.headers = inf->store_block;
			meta.headers_len = inf->store_block_len;
			meta.secondary_key = inf->owner_skey ? inf->owner_skey : "";
			meta.secondary_key_len = inf->owner_skey ? strlen(inf->owner_skey) : 0;
			meta.vary = inf->vary_names ? inf->vary_names : "";
			meta.vary_len = inf->vary_names ? strlen(inf->vary_names) : 0;
			meta.committed = committed_cb;
			meta.committed_arg = inf;
			commit_hold(inf);
			if (store_write_finish(inf->sw, &meta) != 0) {
				log_warn("store: could not queue %s", inf->pkey);
				commit_unhold(inf);
			}
		} else {
			store_write_abort(inf->sw);
		}
		inf->sw = NULL;
	}
	pthread_mutex_lock(&lock);
	inf->state = S_DONE;
	inf->truncated = how == FETCH_TRUNCATED;
	wake_armed(inf);
	owner_side_end(inf);
	free_it = inf->refs == 0;
	pthread_mutex_unlock(&lock);
	if (free_it)
		inflight_free(inf);
}

static void
on_error(void *arg, int status, const char *why)
{
	struct inflight *inf = arg;
	bool free_it;

	CHECK_OBJ(inf, INFLIGHT_MAGIC);
	log_warn("fetch %s: %d: %s", inf->pkey, status, why);
	if (inf->sw != NULL) {
		store_write_abort(inf->sw);
		inf->sw = NULL;
	}
	pthread_mutex_lock(&lock);
	inf->state = S_FAILED;
	inf->fail_status = status;
	wake_armed(inf);
	owner_side_end(inf);
	free_it = inf->refs == 0;
	pthread_mutex_unlock(&lock);
	if (free_it)
		inflight_free(inf);
}

enum inflight_poll
inflight_take_head(struct inflight_waiter *wt, struct inflight_head *head, int *fail_status)
{
	struct inflight *inf = wt->inf;
	enum inflight_poll r;

	CHECK_OBJ(inf, INFLIGHT_MAGIC);
	pthread_mutex_lock(&lock);
	if (wt->released) {
		r = INFLIGHT_RELEASED;
	} else if (inf->state == S_WAIT) {
		arm(inf, wt);
		r = INFLIGHT_WAIT;
	} else if (inf->state == S_FAILED) {
		*fail_status = inf->fail_status;
		r = INFLIGHT_FAILED;
	} else {
		*head = inf->head;
		head->reason = xstrdup(inf->head.reason);
		fields_copy(&head->fields, &inf->head.fields);
		wt->head_taken = true;
		r = INFLIGHT_HEAD;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void
inflight_head_free(struct inflight_head *head)
{
	free(head->reason);
	head->reason = NULL;
	fields_free(&head->fields);
}

enum inflight_end
inflight_take_body(struct inflight_waiter *wt, struct evbuffer *out, size_t max, size_t *n)
{
	struct inflight *inf = wt->inf;
	enum inflight_end end = INFLIGHT_MORE;
	size_t taken = 0;

	CHECK_OBJ(inf, INFLIGHT_MAGIC);
	pthread_mutex_lock(&lock);
	AZ(wt->released);
	while (taken < max && wt->blk < inf->base + inf->nblocks) {
		struct block *b = &inf->blocks[wt->blk - inf->base];
		size_t k = b->len - wt->blk_off;

		if (k == 0) {
			/* The last block may still grow (on_body): move on only
			 * when there is a next one. */
			if (wt->blk + 1 == inf->base + inf->nblocks)
				break;
			count_waiter(inf, wt, -1);
			wt->blk++;
			wt->blk_off = 0;
			count_waiter(inf, wt, 1);
			continue;
		}
		ASSERT(b->mem != NULL);
		if (k > max - taken)
			k = max - taken;
		atomic_fetch_add(&b->mem->refs, 1);
		if (evbuffer_add_reference(out, b->mem->data + wt->blk_off, k,
		    block_mem_release, b->mem) != 0)
			FRESHD_ASSERT_FAIL("evbuffer_add_reference");
		taken += k;
		wt->offset += k;
		wt->blk_off += k;
	}
	if (wt->offset == inf->total) {
		if (inf->state == S_DONE)
			end = inf->truncated ? INFLIGHT_TRUNCATED : INFLIGHT_COMPLETE;
		else
			arm(inf, wt);	/* it has everything there is */
	}
	if (taken > 0) {
		free_taken(inf);
		if (inf->paused && inf->owner_ev != NULL &&
		    lag(inf) < INFLIGHT_MAX_LAG / 2)
			event_active(inf->owner_ev, EV_TIMEOUT, 0);
	}
	pthread_mutex_unlock(&lock);
	*n = taken;
	return end;
}

void
inflight_leave(struct inflight_waiter *wt)
{
	struct inflight *inf = wt->inf;
	bool free_it;

	if (inf == NULL)
		return;
	CHECK_OBJ(inf, INFLIGHT_MAGIC);
	pthread_mutex_lock(&lock);
	TAILQ_REMOVE(&inf->waiters, wt, link);
	disarm(inf, wt);
	if (!wt->released)
		count_waiter(inf, wt, -1);
	inf->refs--;
	free_taken(inf);
	if (inf->owner_ev != NULL)
		event_active(inf->owner_ev, EV_TIMEOUT, 0);
	free_it = inf->refs == 0;
	pthread_mutex_unlock(&lock);
	wt->inf = NULL;
	if (free_it)
		inflight_free(inf);
}

void
inflight_shutdown(void)
{
	struct inflight *inf;
	struct fetch *f;
	bool free_it;

	pthread_mutex_lock(&lock);
	for (;;) {
		/* Rescan after each unlock: the store writer may free objects
		 * that wait for a commit meanwhile. */
		LIST_FOREACH(inf, &all, all_link)
			if (inf->owner_ev != NULL)
				break;
		if (inf == NULL)
			break;
		f = inf->fetch;
		if (inf->sw != NULL) {
			store_write_abort(inf->sw);
			inf->sw = NULL;
		}
		inf->state = S_FAILED;
		owner_side_end(inf);
		free_it = inf->refs == 0;
		pthread_mutex_unlock(&lock);
		if (f != NULL)
			fetch_abort(f);
		if (free_it)
			inflight_free(inf);
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < nhfm; i++)
		free(hfm[i].key);
	nhfm = 0;
}

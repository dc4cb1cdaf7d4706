/*
 * inflight.h: request collapsing and cache filling.
 *
 * An in-flight object is one origin fetch (fetch.c) for a cache key, shared
 * by every request that wants that key while it runs (the waiters), and
 * written into the store as it streams in when the response is storable.
 *
 * The fetch runs on the worker of the request that started it (the owner)
 * and outlives that request: if the first client goes away, the others (and
 * the store) still get the body. Waiters may live on any worker. All shared
 * state sits behind one mutex; a waiter is told that something changed by
 * its own event (`wake`, on its own event_base) being activated, and then
 * copies what it needs under the lock, in its own thread.
 *
 * Body bytes are kept in memory blocks until every waiter has taken them.
 * When the slowest waiter falls more than INFLIGHT_MAX_LAG bytes behind, the
 * origin is paused until it catches up, so memory stays bounded however
 * large the object. Once a block has been freed, a late request cannot join
 * any more (it fetches on its own).
 *
 * Scale (a thousand waiters on one key): no operation of one waiter walks
 * the others. Each block counts the waiters positioned in it, so the blocks
 * everybody has passed are found at the front of the list; and new bytes
 * wake only the waiters that asked for them (`armed`: they had taken all
 * there was), not those already scheduled or held back by their own slow
 * client, which come back when their output drains. fetch.c hands the body
 * over in pieces as large as the origin is ahead, so a waiter is woken, and
 * writes to its client, a few times per MiB rather than once per 4 KiB.
 *
 * A response that may not be shared (not storable: private, no-store,
 * Authorization...) goes only to the owner; the other waiters are released
 * and go to the origin on their own, and the key is remembered for
 * INFLIGHT_HFM_SECONDS so that the next burst does not queue behind one
 * fetch again ("hit-for-miss": those requests fetch without collapsing, and
 * a storable answer ends it). A waiter whose request selects a different
 * variant (Vary) than the owner's is released the same way.
 */
#ifndef FRESHD_INFLIGHT_H
#define FRESHD_INFLIGHT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "fetch.h"
#include "headers.h"
#include "http1.h"

struct event;
struct evbuffer;
struct worker;
struct cfg_backend;
struct inflight;

#define INFLIGHT_MAX_LAG	(4u * 1024u * 1024u)
#define INFLIGHT_HFM_SECONDS	30

/* Every field but wake and req_fields belongs to inflight.c. */
struct inflight_waiter {
	struct inflight		*inf;
	struct event		*wake;		/* the waiter's own event (its thread) */
	const struct fields	*req_fields;	/* the waiter's request (Vary check) */
	uint64_t		offset;		/* body bytes taken so far */
	size_t			blk;		/* number of the block holding offset
						   (counted from the first block ever) */
	size_t			blk_off;	/* offset inside that block */
	bool			owner;
	bool			released;	/* not for this waiter: fetch on your own */
	bool			head_taken;
	bool			armed;		/* wake it when something changes */
	TAILQ_ENTRY(inflight_waiter) link;
	TAILQ_ENTRY(inflight_waiter) arm_link;
};

/* What starting a fetch needs; every pointer is read during the call only. */
struct inflight_params {
	const char			*key;		/* collapsing key; NULL: do not collapse */
	const char			*hfm_key;	/* hit-for-miss memory key (even when
							   not collapsing); NULL: none */
	const char			*pkey;		/* primary key for the store */
	const char			*skey_vary;	/* for a revalidation: the stored Vary names */
	enum http_method		method;
	const struct fields		*req_fields;	/* the owner's request fields */
	struct worker			*worker;
	const struct cfg_backend	*backend;
	const struct fetch_request	*fetch;
	/* Revalidation of a stored object (conditional request). */
	bool				revalidate;
	uint64_t			stored_id;
	int				stored_status;
	uint64_t			stored_body_len;
	const struct fields		*stored_fields;
	time_t				request_time;
};

enum inflight_join {
	INFLIGHT_STARTED = 0,	/* a new fetch; the caller is its owner */
	INFLIGHT_JOINED,	/* the caller waits on a fetch already running */
};

/*
 * Joins the fetch running for p->key (when p->key is set and one is
 * joinable), else starts one owned by the caller. wt->wake and
 * wt->req_fields must be set by the caller; the rest is initialised here.
 * wt NULL starts a background fetch that nobody waits for (a
 * stale-while-revalidate refresh): it runs to its end to update the store;
 * when a fetch for p->key is already running, nothing is started.
 */
enum inflight_join inflight_join(const struct inflight_params *p,
    struct inflight_waiter *wt);

/* True while key is remembered as not shareable (see the file comment). */
bool inflight_hit_for_miss(const char *key);

enum inflight_poll {
	INFLIGHT_WAIT = 0,	/* nothing yet */
	INFLIGHT_HEAD,		/* *head is filled */
	INFLIGHT_RELEASED,	/* go to the origin on your own */
	INFLIGHT_FAILED,	/* no response: *fail_status is 502 or 504 */
};

/* A waiter's copy of the response head. */
struct inflight_head {
	int		status;
	char		*reason;
	struct fields	fields;		/* as received, hop-by-hop fields removed */
	enum http_body	body;
	uint64_t	content_length;
	int		version;
	bool		storable;	/* being stored; not_modified: the freshened head was */
	bool		not_modified;	/* revalidation answered 304 (or 200 to HEAD, RFC
					   9111 §4.3.5): fields are the merged ones */
	time_t		request_time;
	time_t		response_time;
};

/*
 * Takes the response head once it is there (INFLIGHT_WAIT: wt->wake fires
 * when something changes). The caller frees head with inflight_head_free.
 */
enum inflight_poll inflight_take_head(struct inflight_waiter *wt,
    struct inflight_head *head, int *fail_status);
void inflight_head_free(struct inflight_head *head);

enum inflight_end {
	INFLIGHT_MORE = 0,	/* more may come: wait for the next wake */
	INFLIGHT_COMPLETE,	/* everything taken */
	INFLIGHT_TRUNCATED,	/* the origin failed mid-body */
};

/*
 * Appends up to max body bytes past wt->offset to out, as references to
 * the shared blocks; *n is how many. A waiter that has taken everything
 * there is gets woken when more comes; one that stops early (max reached,
 * its client congested) is not woken again and must call again on its own
 * (when its client drains).
 */
enum inflight_end inflight_take_body(struct inflight_waiter *wt,
    struct evbuffer *out, size_t max, size_t *n);

/* Stops waiting (done, or the client left). wt may be reused afterwards. */
void inflight_leave(struct inflight_waiter *wt);

/*
 * At exit, once every worker thread has stopped and every client is gone
 * (their event bases still exist): aborts the fetches still running
 * (background refreshes, store fills) and frees what nobody holds. Objects
 * waiting for a store commit are freed by the commit, when the store closes.
 */
void inflight_shutdown(void);

#endif

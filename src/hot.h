/*
 * hot.h: a worker's table of hot stored responses, ready to send.
 *
 * A fresh hit costs a store lookup (an LMDB read transaction, a record and
 * a header block to decode), the policy decision, and the response head
 * built field by field. For a plain request (see hot_request_plain) the
 * outcome of all of that is a function of the time only, until the stored
 * response becomes stale or the store changes it. The table keeps that
 * outcome: the response head already serialised (without the fields that
 * change per request: Age, Cache-Status, Connection), the body when it is
 * small, and the conditions under which it may still be used:
 *   - since <= now < fresh_until (the policy's freshness for this
 *     response; a clock stepping back ends the entry too);
 *   - the same site of the same configuration generation answers;
 *   - checked by the caller, since the table knows nothing of the store:
 *     the store's key version is the one read before the lookup that
 *     produced the entry (store_key_version: no newer object, no 304
 *     update, no invalidation since), and the object is still stored
 *     (store_touch, which also keeps its eviction state accurate).
 *
 * One table per worker thread: no locking. Entries live in small sets chosen
 * by a hash of the primary key (a full set replaces its least hit entry),
 * and the table holds at most max_bytes of heads and bodies. Pure: no I/O.
 */
#ifndef FRESHD_HOT_H
#define FRESHD_HOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct http_request;

/* Bodies larger than this are not kept (the store serves them). */
#define HOT_MAX_BODY	(64u * 1024u)

struct hot_entry {
	char		*pkey;
	size_t		pkey_len;
	uint64_t	hash;
	uint64_t	store_hash;	/* store_key_hash of pkey */
	uint32_t	version;	/* store_key_version before the lookup */
	uint64_t	cfg_generation;
	const void	*site;		/* compared, never dereferenced */
	uint64_t	object_id;
	time_t		touched;	/* when the store last heard of a hit (hot_touched) */
	time_t		since;		/* usable while since <= now < fresh_until */
	time_t		fresh_until;
	int64_t		age_base;	/* Age at time t is age_base + t */
	int64_t		ttl_base;	/* Cache-Status ttl at time t is ttl_base - t */
	char		*head;		/* status line and fields, without the blank line */
	size_t		head_len;
	char		*body;		/* hot_body_hold keeps it alive past the entry */
	size_t		body_len;
};

struct hot;

/* A table holding at most max_bytes of entries, in one slot per KiB of it. */
struct hot *hot_new(size_t max_bytes);
/* Frees the table and every entry. NULL is a no-op. */
void hot_free(struct hot *h);

/*
 * True when hr is a request the table may answer: GET or HEAD, without a
 * body, and without any field that changes how a cache answers it:
 * Cache-Control, Pragma (RFC 9111 §5.2.1, §5.4), conditionals and Range
 * (RFC 9110 §13, §14), Authorization (RFC 9111 §3.5).
 */
bool hot_request_plain(const struct http_request *hr);

/*
 * The entry for primary key pk that is still usable at now for the
 * configuration generation and site, or NULL; an entry found unusable is
 * dropped. The entry stays valid until the next hot_put or hot_drop.
 */
const struct hot_entry *hot_find(struct hot *h, const char *pk, size_t pk_len,
    uint64_t cfg_generation, const void *site, time_t now);

/*
 * Notes that pk was asked for and not found anywhere (a miss): its first
 * hit may then be admitted at once (hot_admit).
 */
void hot_seen(struct hot *h, const char *pk, size_t pk_len);

/*
 * Whether an entry for pk should be made now (call before building one, and
 * call hot_put only when it says yes). Yes only when pk was seen before
 * (by hot_seen or an earlier refused hot_admit, and not forgotten since for
 * another key), and its set has a free slot or an entry not hit since the
 * last few candidates for the set came; otherwise that entry loses one of
 * its hits and pk is remembered. So a key requested once does not push out
 * one requested all the time, and keys requested once in a while do not
 * churn the table, on a skewed workload larger than the table.
 */
bool hot_admit(struct hot *h, const char *pk, size_t pk_len);

/*
 * Keeps a copy of e (its pkey, head and body are copied; e->hash is
 * computed here), replacing pk's entry, else a free slot of its set or the
 * set's least hit (then oldest) entry, and freeing other
 * entries (least hit first) when the table's bound requires. An entry
 * larger than the bound, or whose body exceeds HOT_MAX_BODY, is not kept
 * (what held its slot is dropped all the same). Returns true when kept.
 */
bool hot_put(struct hot *h, const struct hot_entry *e);

/*
 * Records that the store's eviction was told of a hit on e (an entry
 * hot_find returned) at now, so that later hits in the same second need not
 * tell it again (e->touched).
 */
void hot_touched(const struct hot_entry *e, time_t now);

/* Drops the entry for pk, if any (its object is gone from the store). */
void hot_drop(struct hot *h, const char *pk, size_t pk_len);

/*
 * Takes a reference on the body of e (of an entry in a table, not a caller's
 * template) for a consumer that sends it without copying, e.g. through
 * evbuffer_add_reference: the body stays allocated, even after the entry is
 * replaced or the table freed, until hot_body_release(cookie). Same thread.
 */
void *hot_body_hold(const struct hot_entry *e);
void hot_body_release(void *cookie);

/* Entries and bytes held, for tests and statistics. */
size_t hot_count(const struct hot *h);
size_t hot_bytes(const struct hot *h);

#endif

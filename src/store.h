/*
 * store.h: the LMDB cache store (variants, objects, body chunks, eviction,
 * size bound, persistence, integrity check at open). docs/store.md describes
 * the on-disk layout, the record formats and the threading rules.
 *
 * Threads: lookups and chunk reads run in any thread (short LMDB read
 * transactions, results copied out); every write is queued to the store's
 * one writer thread, which commits in batches. Write calls therefore return
 * once the operation is queued, not committed: store_sync waits for commits.
 *
 * An object is written as it streams in (store_write_begin, _append...,
 * _finish or _abort) and becomes visible to lookups only once complete.
 *
 * Errors are the negative STORE_E* codes below; 0 is success.
 */
#ifndef FRESHD_STORE_H
#define FRESHD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store_evict.h"

struct evbuffer;
struct store;
struct store_write;

enum store_error {
	STORE_OK = 0,
	STORE_ENOTFOUND = -1,	/* a miss: no complete object, or not that one */
	STORE_ENOSPC = -2,	/* object larger than the store accepts (MDB_MAP_FULL never escapes) */
	STORE_EBUSY = -3,	/* the write queue is full: abandon storing this object */
	STORE_EIO = -4,		/* LMDB or system error */
};

/* Tuning for store_open; a zero member takes the default. */
struct store_options {
	/* Body bytes per chunk record; default 256 KiB. */
	uint32_t	chunk_size;
	/* Write queue bound; default bound/8, within [4 chunks, 64 MiB]. */
	uint64_t	queue_bytes;
	/* Chunk bytes per write transaction; default bound/16, within [1 chunk, 16 MiB]. */
	uint64_t	batch_bytes;
	/* LMDB mapsize = bound + slack; default bound/8 + 4 batches + 2 MiB. */
	uint64_t	map_slack;
	/* Largest body stored; default bound/2. */
	uint64_t	max_object;
	unsigned	max_readers;	/* LMDB reader slots; default 1022 */
	enum store_evict_policy policy;	/* default: STORE_EVICT_DEFAULT (SIEVE) */
	bool		nosync;		/* MDB_NOSYNC: no fsync at all (tests, benchmarks) */
	/*
	 * How a stored secondary key selects for a request's (the store only
	 * compares them): 2 an exact match, 1 a looser one, 0 none; a lookup
	 * takes the first exact match, else the first looser one. NULL:
	 * byte equality.
	 */
	int		(*sk_match)(const char *stored, size_t stored_len,
	    const char *req, size_t req_len);
	/* Test hook: replaces the keyed hash of primary keys (to force collisions). */
	uint64_t	(*hash_override)(const void *key, size_t len);
};

/*
 * What a lookup returns: a copy of the object's metadata, owned by the
 * caller, in one allocation (store_object_free). A small body (at most 4
 * KiB, written with no chunk) comes with it, so that its hit reads nothing
 * more from the store.
 */
struct store_object {
	uint64_t	id;
	int		status;
	uint32_t	flags;		/* the caller's flags word, stored as given */
	time_t		request_time;	/* RFC 9111 §4.2.3 request_time */
	time_t		response_time;	/* RFC 9111 §4.2.3 response_time */
	uint64_t	body_len;
	uint32_t	chunk_count;	/* 0: the body, if any, is in body */
	uint32_t	chunk_size;	/* every chunk but the last holds this many bytes */
	const char	*body;		/* body_len bytes when chunk_count is 0, else NULL */
	char		*headers;	/* raw "Name: value\r\n" lines, NUL-terminated */
	size_t		headers_len;
	char		*primary_key;
	size_t		primary_key_len;
	char		*secondary_key;
	size_t		secondary_key_len;
	char		*vary;		/* the stored Vary field names, as given at finish */
	size_t		vary_len;
};

/* What a writer gives for an object; the store copies everything it keeps. */
struct store_object_meta {
	int		status;
	uint32_t	flags;
	time_t		request_time;
	time_t		response_time;
	const char	*headers;	/* raw "Name: value\r\n" lines */
	size_t		headers_len;
	const char	*secondary_key;	/* the request's secondary key under vary */
	size_t		secondary_key_len;
	const char	*vary;		/* the response's Vary names, normalised by the caller */
	size_t		vary_len;
	/*
	 * store_write_finish and store_update_meta: called once, from the
	 * writer thread, after the transaction committed (or the operation was
	 * dropped), when the call returned 0. It must not wait for the writer.
	 */
	void		(*committed)(void *arg);
	void		*committed_arg;
};

struct store_stats {
	uint64_t	bound;			/* configured size bound, bytes */
	uint64_t	bytes;			/* charged bytes now stored (<= bound) */
	uint64_t	objects;		/* complete objects */
	uint64_t	chunks;			/* chunk records, unfinished objects included */
	uint64_t	lookups;
	uint64_t	hits;
	uint64_t	inserts;		/* objects committed */
	uint64_t	evictions;
	uint64_t	invalidations;		/* objects removed by store_invalidate */
	uint64_t	write_rejects;		/* STORE_EBUSY / STORE_ENOSPC returned to writers */
	uint64_t	write_failures;		/* objects the writer dropped after a failed commit */
	uint64_t	map_full;		/* MDB_MAP_FULL recovered from by evicting more */
	uint64_t	txns;			/* write transactions committed */
	uint64_t	queue_bytes;		/* bytes waiting in the write queue */
	uint64_t	open_orphan_chunks;	/* deleted by the integrity check at open */
	uint64_t	open_bad_objects;	/* deleted at open: unreadable, incomplete, unreferenced */
	uint64_t	open_bad_variants;	/* variants entries dropped at open */
};

/*
 * Opens (creating dir and the database when missing) the store in dir,
 * bounded to size_bound bytes; opt may be NULL. Runs the integrity check
 * (orphan chunks, incomplete or unreferenced objects, dangling variants
 * entries are deleted), rebuilds the eviction state, evicts down to the bound
 * and starts the writer thread. A store written in an unknown format version
 * is emptied. One process at a time: a second open of the same dir fails.
 * Returns the store, or NULL with a message in err.
 */
struct store *store_open(const char *dir, uint64_t size_bound,
    const struct store_options *opt, char *err, size_t errlen);
/* Commits everything queued, stops the writer and closes. NULL is a no-op. */
void store_close(struct store *s);
/* Blocks until every write queued before the call is committed (or dropped). */
void store_sync(struct store *s);

/*
 * Turns the stored Vary field names (vary[0..vary_len), never empty when
 * called) into the request's secondary key: sets *sk to a malloc'd buffer
 * (the store frees it) and *sk_len, and returns 0, or returns -1 when the
 * request cannot match (e.g. "Vary: *"), which is a miss.
 */
typedef int store_secondary_key_f(void *arg, const char *vary, size_t vary_len,
    char **sk, size_t *sk_len);

/*
 * Looks up the complete object stored for primary key pk and the secondary
 * key that sk_cb computes from the stored Vary names (sk_cb is not called
 * when the response had no Vary; a NULL sk_cb makes objects with Vary a miss).
 * On a hit returns 0, fills *out (free with store_object_free) and marks the
 * object accessed for eviction; otherwise returns STORE_ENOTFOUND (or
 * STORE_EIO) and *out is untouched. A primary-key hash collision is a miss.
 */
int store_lookup(struct store *s, const char *pk, size_t pk_len,
    store_secondary_key_f *sk_cb, void *arg, struct store_object *out);
/* Frees what a hit put in *o (not o itself). */
void store_object_free(struct store_object *o);

/* The store's (keyed) hash of primary key pk, for store_key_version. */
uint64_t store_key_hash(struct store *s, const char *pk, size_t pk_len);
/*
 * A number that changes whenever what store_lookup returns for the primary
 * key whose store_key_hash is hash may have changed: an object for it was
 * committed (or its stored headers were updated), invalidated or evicted.
 * The change happens after the commit, so a caller that reads the number
 * before its lookup and finds it unchanged later knows that what the lookup
 * returned is still what is stored. Keys share numbers (a spurious change
 * is possible, a missed one is not).
 */
uint32_t store_key_version(struct store *s, uint64_t hash);
/*
 * Marks object id accessed for eviction, as a lookup would, for a caller
 * that serves a copy of it. Returns false when the object is no longer
 * stored (evicted or invalidated, which store_key_version shows too, a
 * commit later).
 */
bool store_touch(struct store *s, uint64_t id);

/*
 * Keeps the body of object id (bytes long) readable while it is sent,
 * however long that takes (Varnish's object reference, without an LMDB read
 * transaction held meanwhile). Returns 0 when the object is still stored,
 * and pins it; STORE_ENOTFOUND (nothing pinned) when it was evicted,
 * invalidated or replaced since the lookup; STORE_EBUSY when pinning a
 * further object would take the bytes of pinned objects past half the
 * bound (slow readers must not be able to hold the whole store, and half
 * is room for the largest object: the caller then sends the body
 * unpinned). A pinned object may still be
 * evicted, invalidated or replaced, and then lookups miss it at once, but
 * its chunks stay readable with store_read_chunk until the last
 * store_unpin; the writer deletes them then. They count toward the size
 * bound until deleted (docs/store.md). Pins may nest (one per reader; only
 * the first counts its bytes); any thread; they live in memory only. Every
 * pin must be undone before store_close.
 */
int store_pin(struct store *s, uint64_t id, uint64_t bytes);
/* Undoes one store_pin(s, id, ...) that returned 0. */
void store_unpin(struct store *s, uint64_t id);

/*
 * Appends a copy of chunk index (0-based, below the object's chunk_count; an
 * inline body has none) of object id to out. Returns 0, or
 * STORE_ENOTFOUND when the object was deleted or evicted since the lookup
 * (never while it is pinned): the caller then cuts the response short.
 */
int store_read_chunk(struct store *s, uint64_t id, uint32_t index,
    struct evbuffer *out);

/*
 * Like store_read_chunk, but appends a reference to the chunk's bytes in the
 * store's map rather than a copy (a large hit then costs no memcpy). The
 * read transaction that keeps them valid stays open until out lets go of
 * the reference, and meanwhile holds a reader slot and keeps the writer
 * from reusing pages freed since: the caller must let go within the
 * current callback (client.c copies what the socket did not take). Returns
 * 0, STORE_ENOTFOUND, or STORE_EBUSY when half the reader slots are already
 * held this way (copy instead).
 */
int store_read_chunk_ref(struct store *s, uint64_t id, uint32_t index,
    struct evbuffer *out);

/*
 * Starts storing a response for primary key pk (copied). The returned handle
 * belongs to the caller, who must end it with store_write_finish or
 * store_write_abort (both free it).
 */
struct store_write *store_write_begin(struct store *s, const char *pk,
    size_t pk_len);
/*
 * Adds body bytes; full chunks are queued for the writer. Returns 0,
 * STORE_EBUSY when the write queue is full or STORE_ENOSPC past max_object:
 * the object is then abandoned (later appends fail, finish aborts) and the
 * caller simply stops storing it while it keeps serving its client.
 */
int store_write_append(struct store_write *w, const void *data, size_t len);
/*
 * Queues the last chunk, the object record and the variants update as one
 * operation, committed in one transaction: the object becomes visible then,
 * replacing any object with the same primary and secondary keys. A response
 * whose Vary names differ from the stored ones replaces every variant of the
 * URL. Frees w. Returns 0 when queued, or an error (the object is then
 * abandoned and its queued chunks deleted).
 */
int store_write_finish(struct store_write *w, const struct store_object_meta *meta);
/* Abandons the object: its queued or committed chunks are deleted. Frees w. */
void store_write_abort(struct store_write *w);

/*
 * True while the write queue holds more than half its bound: the disk is
 * behind the objects being written. A writer fed by a network peer should
 * then stop reading until it is false again, so that an object arriving
 * faster than the disk writes is stored rather than refused (appends fail
 * with STORE_EBUSY only at the full bound). Any thread.
 */
bool store_write_congested(struct store *s);

/*
 * Queues a replacement of the status, flags, times and headers of object id,
 * keeping its body and keys (after a 304 from the origin, RFC 9111 §4.3.4;
 * meta's secondary_key and vary are ignored). Returns 0 when queued.
 */
int store_update_meta(struct store *s, uint64_t id, const struct store_object_meta *meta);
/*
 * Removes every variant stored for primary key pk (RFC 9111 §4.4). They stop
 * being visible to lookups before the call returns; the records are deleted
 * by the writer. Returns the number of objects hidden (>= 0) or STORE_EIO.
 */
int store_invalidate(struct store *s, const char *pk, size_t pk_len);
/* Fills *out with the current counters. Returns 0. */
int store_stats(struct store *s, struct store_stats *out);

#endif

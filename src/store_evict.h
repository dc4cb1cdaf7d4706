/*
 * store_evict.h: the store's eviction policies over object ids (pure: no I/O,
 * no locks; the caller serialises access).
 *
 * A policy tracks the set of evictable objects, each known by its object id
 * (unique for the life of the store), a stable key (the hash of its primary
 * key: S3-FIFO's ghost queue remembers keys, since a re-fetched object gets a
 * new id) and a size in bytes. The store inserts an object once it is
 * committed, marks it on every hit, removes it when it is deleted for another
 * reason, and pops victims while it is over its size bound. The eviction
 * simulator (tests/evict/) drives the very same functions.
 */
#ifndef FRESHD_STORE_EVICT_H
#define FRESHD_STORE_EVICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_evict_policy {
	STORE_EVICT_DEFAULT = 0,	/* the measured winner (docs/store.md) */
	STORE_EVICT_LRU,		/* exact LRU: list moved to front on every hit */
	STORE_EVICT_SIEVE,		/* SIEVE (NSDI '24): FIFO + visited bit + hand */
	STORE_EVICT_S3FIFO,		/* S3-FIFO (SOSP '23): small + main + ghost FIFOs */
};

struct store_evict_victim {
	uint64_t	id;
	uint64_t	key;
	uint64_t	size;
};

struct store_evict;

/*
 * A new, empty policy. capacity is the cache size in bytes (S3-FIFO sizes its
 * small and ghost queues from it; the others ignore it). STORE_EVICT_DEFAULT
 * is resolved here. The caller frees the result with store_evict_free.
 */
struct store_evict *store_evict_new(enum store_evict_policy policy,
    uint64_t capacity);
void store_evict_free(struct store_evict *e);

/* The policy actually in use (never STORE_EVICT_DEFAULT). */
enum store_evict_policy store_evict_policy(const struct store_evict *e);
/* "lru", "sieve", "s3fifo" ("default" for STORE_EVICT_DEFAULT). */
const char *store_evict_policy_name(enum store_evict_policy policy);
/* Parses one of the names above; returns 0, or -1 for an unknown name. */
int store_evict_policy_parse(const char *name, enum store_evict_policy *out);

/* Starts tracking a new object; id must not be tracked already. */
void store_evict_insert(struct store_evict *e, uint64_t id, uint64_t key,
    uint64_t size);
/* Records a hit. Returns false (and does nothing) when id is not tracked. */
bool store_evict_access(struct store_evict *e, uint64_t id);
/* Stops tracking id; returns false when it was not tracked. */
bool store_evict_remove(struct store_evict *e, uint64_t id);
bool store_evict_contains(const struct store_evict *e, uint64_t id);
/*
 * Chooses the next victim, stops tracking it and describes it in *v.
 * Returns false when nothing is tracked.
 */
bool store_evict_pop(struct store_evict *e, struct store_evict_victim *v);

/* Number and total size of the tracked objects. */
size_t store_evict_count(const struct store_evict *e);
uint64_t store_evict_bytes(const struct store_evict *e);

#endif

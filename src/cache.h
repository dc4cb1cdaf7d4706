/*
 * cache.h: the process-wide cache context: the store, and the policy and
 * key settings every worker reads. Opened once at start-up, before the
 * workers start, and closed after they stop; read-only in between.
 */
#ifndef FRESHD_CACHE_H
#define FRESHD_CACHE_H

#include <stddef.h>

#include "cache_key.h"
#include "policy.h"

struct config;
struct store;

struct cache {
	struct store		*store;
	struct policy_config	policy;
	struct cache_key_config	keys;
};

/*
 * Opens the store in c->cache_dir bounded to c->cache_size. Returns 0, or -1
 * with a message in err (start-up then fails).
 */
int cache_open(const struct config *c, char *err, size_t errlen);
/* Flushes queued writes and closes the store. */
void cache_close(void);
/* The cache, or NULL when none is open (unit tests). */
struct cache *cache_get(void);

#endif

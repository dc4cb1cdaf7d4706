/*
 * cache.c: the process-wide cache context (see cache.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cache.h"
#include "config.h"
#include "store.h"
#include "store_evict.h"
#include "util.h"

static struct cache the_cache;
static bool cache_is_open;
/* Copies of the config strings the settings point to: a reload frees the
 * config, while the cache keeps the settings it opened with. */
static char *targeted_field;
static char *surrogate_target;
static char **first_member;
static size_t nfirst_member;

/* mkdir -p: the default ./var/freshd must work on a fresh checkout. */
static int
make_dirs(const char *path, char *err, size_t errlen)
{
	char buf[4096];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf)) {
		snprintf(err, errlen, "cache directory \"%s\": bad path", path);
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create cache directory %s: %s", buf,
			    strerror(errno));
			return -1;
		}
		buf[i] = path[i];
	}
	return 0;
}

int
cache_open(const struct config *c, char *err, size_t errlen)
{
	char serr[512];

	if (make_dirs(c->cache_dir, err, errlen) != 0)
		return -1;
	struct store_options opt;
	size_t i;

	policy_config_default(&the_cache.policy);
	the_cache.policy.heuristic_fraction = c->cache_heuristic_fraction;
	the_cache.policy.heuristic_max = (int64_t)c->cache_heuristic_max_s;
	the_cache.policy.max_ttl = (int64_t)c->cache_max_ttl_s;
	the_cache.policy.stale_if_unreachable = (int64_t)c->cache_stale_if_unreachable_s;
	the_cache.policy.cdn_cache_control = c->cache_cdn_cache_control;
	targeted_field = c->cache_targeted_field ? xstrdup(c->cache_targeted_field) : NULL;
	the_cache.policy.targeted_field = targeted_field;
	if (c->via_name != NULL) {
		surrogate_target = xstrdup(c->via_name);
		the_cache.policy.surrogate_target = surrogate_target;
	}
	cache_key_config_default(&the_cache.keys);
	nfirst_member = c->ncache_vary_first_member;
	first_member = xcalloc(nfirst_member, sizeof(*first_member));
	for (i = 0; i < nfirst_member; i++)
		first_member[i] = xstrdup(c->cache_vary_first_member[i]);
	the_cache.keys.first_member = (const char *const *)first_member;
	the_cache.keys.nfirst_member = nfirst_member;

	memset(&opt, 0, sizeof(opt));
	if (c->cache_eviction != NULL &&
	    store_evict_policy_parse(c->cache_eviction, &opt.policy) != 0) {
		snprintf(err, errlen, "unknown eviction policy \"%s\"", c->cache_eviction);
		return -1;
	}
	/* Variants are selected by the keys' own rules (Accept-Language). */
	opt.sk_match = cache_key_vary_match;
	the_cache.store = store_open(c->cache_dir, c->cache_size, &opt, serr, sizeof(serr));
	if (the_cache.store == NULL) {
		snprintf(err, errlen, "cannot open the cache store in %s: %s", c->cache_dir, serr);
		return -1;
	}
	cache_is_open = true;
	return 0;
}

void
cache_close(void)
{
	if (!cache_is_open)
		return;
	size_t i;

	store_close(the_cache.store);
	the_cache.store = NULL;
	cache_is_open = false;
	for (i = 0; i < nfirst_member; i++)
		free(first_member[i]);
	free(first_member);
	free(targeted_field);
	free(surrogate_target);
	surrogate_target = NULL;
	first_member = NULL;
	targeted_field = NULL;
}

struct cache *
cache_get(void)
{
	return cache_is_open ? &the_cache : NULL;
}

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
#include "util.h"

static struct cache the_cache;
static bool cache_is_open;

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
	policy_config_default(&the_cache.policy);
	cache_key_config_default(&the_cache.keys);
	the_cache.store = store_open(c->cache_dir, c->cache_size, NULL, serr, sizeof(serr));
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
	store_close(the_cache.store);
	the_cache.store = NULL;
	cache_is_open = false;
}

struct cache *
cache_get(void)
{
	return cache_is_open ? &the_cache : NULL;
}

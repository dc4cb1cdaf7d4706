/*
 * sim.c: replays a synthetic request stream through the store's eviction
 * policies (src/store_evict.c, the very code the store runs) and reports the
 * object and byte hit ratios of each.
 *
 * The trace: `keys` objects whose sizes are log-uniform between min and max
 * bytes (fixed per key), requested with Zipf(alpha) popularity; popularity
 * rank and size are independent (ranks are a random permutation of keys). The
 * cache holds `percent` of the working set (the sum of all sizes). A miss
 * inserts the object under a new id, as the store does for a re-fetched URL,
 * then pops victims until the cache fits. Requests of the first `warmup`
 * fraction fill the cache and are not counted. Everything derives from the
 * seed, so a run is reproducible; every policy sees the same trace.
 *
 * Usage: sim [-n keys] [-r requests] [-a alpha] [-c percent] [-m min] [-M max]
 *            [-w warmup] [-s seed]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store_evict.h"
#include "util.h"

struct params {
	size_t		keys;
	size_t		requests;
	double		alpha;
	double		percent;
	double		min_size;
	double		max_size;
	double		warmup;
	uint64_t	seed;
};

static uint64_t
splitmix(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
uniform(uint64_t *state)
{
	return (double)(splitmix(state) >> 11) * 0x1.0p-53;
}

/* Inverse-CDF sampling of Zipf(alpha) over ranks 0..n-1. */
static size_t
zipf_rank(const double *cdf, size_t n, double u)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
run(enum store_evict_policy policy, const struct params *p, const uint32_t *trace,
    const uint64_t *size, uint64_t capacity)
{
	struct store_evict *e = store_evict_new(policy, capacity);
	uint64_t *cur = xcalloc(p->keys, sizeof(*cur));	/* key -> resident id, 0: none */
	uint64_t next_id = 1, hits = 0, reqs = 0, hit_bytes = 0, req_bytes = 0;
	size_t warm = (size_t)(p->warmup * (double)p->requests);

	for (size_t i = 0; i < p->requests; i++) {
		uint32_t k = trace[i];
		bool hit = cur[k] != 0;

		if (hit)
			AN(store_evict_access(e, cur[k]));
		if (i >= warm) {
			reqs++;
			req_bytes += size[k];
			hits += hit;
			hit_bytes += hit ? size[k] : 0;
		}
		if (hit || size[k] > capacity)
			continue;
		cur[k] = next_id++;
		store_evict_insert(e, cur[k], k, size[k]);
		while (store_evict_bytes(e) > capacity) {
			struct store_evict_victim v;
			AN(store_evict_pop(e, &v));
			ASSERT(cur[v.key] == v.id);
			cur[v.key] = 0;
		}
	}
	printf("%-7s objects %.4f  bytes %.4f\n", store_evict_policy_name(policy),
	    (double)hits / (double)reqs, (double)hit_bytes / (double)req_bytes);
	free(cur);
	store_evict_free(e);
}

static void
usage(void)
{
	fprintf(stderr, "usage: sim [-n keys] [-r requests] [-a alpha] [-c percent]"
	    " [-m min] [-M max] [-w warmup] [-s seed]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct params p = { .keys = 100000, .requests = 2000000, .alpha = 0.9,
	    .percent = 10, .min_size = 1024, .max_size = 1048576, .warmup = 0.1,
	    .seed = 1 };
	int c;

	while ((c = getopt(argc, argv, "n:r:a:c:m:M:w:s:")) != -1) {
		switch (c) {
		case 'n': p.keys = strtoul(optarg, NULL, 10); break;
		case 'r': p.requests = strtoul(optarg, NULL, 10); break;
		case 'a': p.alpha = strtod(optarg, NULL); break;
		case 'c': p.percent = strtod(optarg, NULL); break;
		case 'm': p.min_size = strtod(optarg, NULL); break;
		case 'M': p.max_size = strtod(optarg, NULL); break;
		case 'w': p.warmup = strtod(optarg, NULL); break;
		case 's': p.seed = strtoull(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (p.keys < 2 || p.keys > UINT32_MAX || p.requests == 0 || p.alpha <= 0
	    || p.percent <= 0 || p.percent > 100 || p.min_size < 1
	    || p.max_size < p.min_size || p.warmup < 0 || p.warmup >= 1)
		usage();

	uint64_t rng = p.seed, total = 0;
	uint64_t *size = xmalloc(p.keys * sizeof(*size));
	uint32_t *key_of_rank = xmalloc(p.keys * sizeof(*key_of_rank));
	double *cdf = xmalloc(p.keys * sizeof(*cdf));
	uint32_t *trace = xmalloc(p.requests * sizeof(*trace));

	for (size_t k = 0; k < p.keys; k++) {
		double l = log(p.min_size) + uniform(&rng) * (log(p.max_size) - log(p.min_size));
		size[k] = (uint64_t)exp(l);
		total += size[k];
		key_of_rank[k] = (uint32_t)k;
	}
	for (size_t i = p.keys - 1; i > 0; i--) {	/* Fisher-Yates */
		size_t j = (size_t)(splitmix(&rng) % (i + 1));
		uint32_t t = key_of_rank[i];
		key_of_rank[i] = key_of_rank[j];
		key_of_rank[j] = t;
	}
	double sum = 0;
	for (size_t r = 0; r < p.keys; r++) {
		sum += pow((double)(r + 1), -p.alpha);
		cdf[r] = sum;
	}
	for (size_t r = 0; r < p.keys; r++)
		cdf[r] /= sum;
	for (size_t i = 0; i < p.requests; i++)
		trace[i] = key_of_rank[zipf_rank(cdf, p.keys, uniform(&rng))];

	uint64_t capacity = (uint64_t)((double)total * p.percent / 100);
	printf("keys %zu, requests %zu, zipf alpha %.2f, sizes %.0f..%.0f bytes,"
	    " cache %.1f%% of %.2f GiB, warm-up %.0f%%, seed %llu\n", p.keys,
	    p.requests, p.alpha, p.min_size, p.max_size, p.percent,
	    (double)total / (1 << 30), p.warmup * 100, (unsigned long long)p.seed);
	run(STORE_EVICT_LRU, &p, trace, size, capacity);
	run(STORE_EVICT_SIEVE, &p, trace, size, capacity);
	run(STORE_EVICT_S3FIFO, &p, trace, size, capacity);
	free(trace);
	free(cdf);
	free(key_of_rank);
	free(size);
	return 0;
}

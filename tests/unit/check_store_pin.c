/*
 * check_store_pin.c: store_pin and store_unpin, which keep a stored body
 * readable chunk by chunk while a (slow) client is sent it: an object pinned
 * and then evicted, invalidated (RFC 9111 §4.4) or replaced is a miss for new
 * lookups at once, yet its chunks stay until the last unpin, and the writer
 * deletes them then. The kept chunks count toward the size bound, which
 * holds throughout; after the unpin the accounting comes down by them.
 *
 * Real LMDB stores in a mkdtemp() directory (removed at the end), opened with
 * MDB_NOSYNC and 64 KiB chunks. The pin table's writer-side steps, whose
 * races with readers cannot be timed from outside, are driven directly
 * through store_int.h while the writer thread is idle.
 */
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "store.h"
#include "store_evict.h"
#include "store_int.h"

#define KIB	1024u
#define MIB	(1024u * 1024u)
#define CHUNK	(64 * KIB)

static char base[256];		/* the mkdtemp() directory */

/* ---- helpers ------------------------------------------------------------- */

/* slack 0: the default map slack. */
static struct store *
open_store_slack(const char *name, uint64_t bound, enum store_evict_policy policy,
    uint64_t slack)
{
	struct store_options o = { .chunk_size = CHUNK, .nosync = true,
	    .queue_bytes = 16 * MIB, .policy = policy, .map_slack = slack };
	char dir[512], err[256];
	struct store *s;

	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/%s", base, name), (int)sizeof(dir));
	s = store_open(dir, bound, &o, err, sizeof(err));
	ck_assert_msg(s != NULL, "store_open: %s", err);
	return s;
}

static struct store *
open_store(const char *name, uint64_t bound, enum store_evict_policy policy)
{
	return open_store_slack(name, bound, policy, 0);
}

static uint8_t
body_byte(unsigned seed, size_t i)
{
	return (uint8_t)(seed * 131u + i * 31u + (i >> 9));
}

/* Stores len bytes of body seed under url and waits for the commit. */
static void
put(struct store *s, const char *url, unsigned seed, size_t len)
{
	struct store_write *w = store_write_begin(s, url, strlen(url));
	uint8_t *body = malloc(len);
	const char *hdr = "Content-Type: text/plain\r\n";
	struct store_object_meta m = { .status = 200, .headers = hdr,
	    .headers_len = strlen(hdr), .secondary_key = "", .vary = "" };

	ck_assert_ptr_nonnull(body);
	for (size_t i = 0; i < len; i++)
		body[i] = body_byte(seed, i);
	ck_assert_int_eq(store_write_append(w, body, len), 0);
	ck_assert_int_eq(store_write_finish(w, &m), 0);
	free(body);
	store_sync(s);
}

static int
lookup(struct store *s, const char *url, struct store_object *out)
{
	return store_lookup(s, url, strlen(url), NULL, NULL, out);
}

/* Looks url up, which must hit; returns its id, with *chunks set if asked. */
static uint64_t
id_of(struct store *s, const char *url, uint32_t *chunks)
{
	struct store_object o;
	uint64_t id;

	ck_assert_msg(lookup(s, url, &o) == 0, "%s is not stored", url);
	id = o.id;
	if (chunks != NULL)
		*chunks = o.chunk_count;
	store_object_free(&o);
	return id;
}

static bool
present(struct store *s, const char *url)
{
	struct store_object o;

	if (lookup(s, url, &o) != 0)
		return false;
	store_object_free(&o);
	return true;
}

/*
 * Reads chunks [0, nchunks) of object id one by one, as req.c does, and
 * compares them with body seed of len bytes. Returns 0, or the first error.
 */
static int
read_body(struct store *s, uint64_t id, uint32_t nchunks, unsigned seed, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	size_t off = 0;
	int ret = 0;

	ck_assert_ptr_nonnull(b);
	for (uint32_t i = 0; i < nchunks && ret == 0; i++) {
		if ((ret = store_read_chunk(s, id, i, b)) != 0)
			break;
		size_t n = evbuffer_get_length(b);
		uint8_t *p = evbuffer_pullup(b, -1);
		for (size_t j = 0; j < n; j++)
			if (p[j] != body_byte(seed, off + j))
				ck_abort_msg("object %llu: byte %zu differs",
				    (unsigned long long)id, off + j);
		off += n;
		evbuffer_drain(b, n);
	}
	if (ret == 0)
		ck_assert_uint_eq(off, len);
	evbuffer_free(b);
	return ret;
}

static struct store_stats
stats(struct store *s)
{
	struct store_stats st;

	ck_assert_int_eq(store_stats(s, &st), 0);
	return st;
}

/* The writer's lock on the pin table (store_int.h). */
static void
lock(struct store *s)
{
	ck_assert_int_eq(pthread_mutex_lock(&s->ev_mtx), 0);
}

static void
unlock(struct store *s)
{
	ck_assert_int_eq(pthread_mutex_unlock(&s->ev_mtx), 0);
}

static size_t
npins(struct store *s)
{
	size_t n;

	lock(s);
	n = s->npins;
	unlock(s);
	return n;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(pin_of_a_missing_object_is_refused)
{
	struct store *s = open_store("missing", 2 * MIB, STORE_EVICT_DEFAULT);
	uint64_t id;

	ck_assert_int_eq(store_pin(s, 12345, 0), STORE_ENOTFOUND);
	put(s, "http://x/inv", 1, 100 * KIB);
	id = id_of(s, "http://x/inv", NULL);
	ck_assert_int_eq(store_invalidate(s, "http://x/inv", 12), 1);
	/* Hidden at once (RFC 9111 §4.4): refused before the writer deleted it. */
	ck_assert_int_eq(store_pin(s, id, 0), STORE_ENOTFOUND);
	store_sync(s);
	ck_assert_int_eq(store_pin(s, id, 0), STORE_ENOTFOUND);

	put(s, "http://x/old", 2, 100 * KIB);
	id = id_of(s, "http://x/old", NULL);
	for (unsigned i = 0; i < 30; i++) {
		char url[64];
		snprintf(url, sizeof(url), "http://x/fill%u", i);
		put(s, url, 10 + i, 100 * KIB);
		ck_assert(present(s, url));
	}
	ck_assert(!present(s, "http://x/old"));
	ck_assert_int_eq(store_pin(s, id, 0), STORE_ENOTFOUND);
	ck_assert_uint_eq(npins(s), 0);
	store_close(s);
}
END_TEST

/*
 * Slow readers must not be able to hold the whole store: a new object is
 * not pinned past half the bound (STORE_EBUSY, the caller sends it
 * unpinned), while an object pinned already takes more readers, and an
 * unpin gives the room back.
 */
START_TEST(pins_stop_at_half_the_bound)
{
	const uint64_t bound = 4 * MIB;
	struct store *s = open_store("budget", bound, STORE_EVICT_DEFAULT);
	uint64_t a, b, c;

	put(s, "http://x/a", 1, 1200 * KIB);
	put(s, "http://x/b", 2, 600 * KIB);
	put(s, "http://x/c", 3, 400 * KIB);
	a = id_of(s, "http://x/a", NULL);
	b = id_of(s, "http://x/b", NULL);
	c = id_of(s, "http://x/c", NULL);
	ck_assert_int_eq(store_pin(s, a, 1200 * KIB), 0);
	ck_assert_int_eq(store_pin(s, b, 600 * KIB), 0);
	/* 1800 KiB pinned of a 2 MiB half: 400 KiB more do not fit. */
	ck_assert_int_eq(store_pin(s, c, 400 * KIB), STORE_EBUSY);
	ck_assert_int_eq(store_pin(s, a, 1200 * KIB), 0);	/* a second reader */
	ck_assert_uint_eq(npins(s), 2);
	store_unpin(s, b);
	ck_assert_int_eq(store_pin(s, c, 400 * KIB), 0);
	store_unpin(s, a);
	store_unpin(s, a);
	store_unpin(s, c);
	ck_assert_uint_eq(npins(s), 0);
	store_close(s);
}
END_TEST

/* Evicted while pinned, for each policy: the bound holds, the body stays. */
START_TEST(evicted_while_pinned_stays_readable)
{
	const uint64_t bound = MIB;
	char name[32];
	struct store *s;
	struct store_stats st, kept, after;
	uint32_t nchunks;
	uint64_t id;

	snprintf(name, sizeof(name), "evict%d", _i);
	s = open_store(name, bound, (enum store_evict_policy)_i);
	put(s, "http://x/held", 1, 200 * KIB + 5);
	id = id_of(s, "http://x/held", &nchunks);
	ck_assert_uint_eq(nchunks, 4);
	ck_assert_int_eq(store_pin(s, id, 0), 0);
	/*
	 * 4 MiB through a 1 MiB store, each new object looked up once as the
	 * pinned one was (so that SIEVE's hand comes round to it), and the
	 * pinned one never again.
	 */
	for (unsigned i = 0; i < 40; i++) {
		char url[64];
		snprintf(url, sizeof(url), "http://x/fill%u", i);
		put(s, url, 10 + i, 100 * KIB);
		ck_assert(present(s, url));
		st = stats(s);
		ck_assert_msg(st.bytes <= bound, "%llu bytes charged over a bound of %llu",
		    (unsigned long long)st.bytes, (unsigned long long)bound);
	}
	ck_assert_msg(!present(s, "http://x/held"), "the pinned object was never evicted");
	ck_assert_int_eq(read_body(s, id, nchunks, 1, 200 * KIB + 5), 0);
	/* Its chunks are still charged: the live objects (2 chunks each) and 4. */
	kept = stats(s);
	ck_assert_uint_eq(kept.chunks, kept.objects * 2 + 4);
	ck_assert_uint_le(kept.bytes, bound);

	store_unpin(s, id);
	store_sync(s);
	ck_assert_int_eq(read_body(s, id, nchunks, 1, 200 * KIB + 5), STORE_ENOTFOUND);
	after = stats(s);
	ck_assert_uint_eq(after.objects, kept.objects);
	ck_assert_uint_eq(after.chunks, after.objects * 2);
	ck_assert_uint_ge(kept.bytes - after.bytes, 200 * KIB);
	ck_assert_uint_eq(npins(s), 0);
	store_close(s);
}
END_TEST

/* RFC 9111 §4.4: invalidation while two readers hold the object. */
START_TEST(invalidated_while_pinned_stays_readable)
{
	struct store *s = open_store("inval", 2 * MIB, STORE_EVICT_DEFAULT);
	struct store_stats st;
	uint32_t nchunks;
	uint64_t id;

	put(s, "http://x/i", 3, 3 * CHUNK);
	id = id_of(s, "http://x/i", &nchunks);
	ck_assert_int_eq(store_pin(s, id, 0), 0);
	ck_assert_int_eq(store_invalidate(s, "http://x/i", 10), 1);
	ck_assert(!present(s, "http://x/i"));
	store_sync(s);
	st = stats(s);
	ck_assert_uint_eq(st.objects, 0);
	ck_assert_uint_eq(st.chunks, 3);
	ck_assert_uint_eq(st.invalidations, 1);
	/* A second reader that looked it up before the invalidation. */
	ck_assert_int_eq(store_pin(s, id, 0), 0);
	ck_assert_int_eq(read_body(s, id, nchunks, 3, 3 * CHUNK), 0);
	store_unpin(s, id);
	store_sync(s);
	ck_assert_int_eq(read_body(s, id, nchunks, 3, 3 * CHUNK), 0);
	store_unpin(s, id);
	store_sync(s);
	ck_assert_int_eq(read_body(s, id, nchunks, 3, 3 * CHUNK), STORE_ENOTFOUND);
	st = stats(s);
	ck_assert_uint_eq(st.chunks, 0);
	ck_assert_uint_eq(st.bytes, 0);
	/* Gone for good: a late pin is refused. */
	ck_assert_int_eq(store_pin(s, id, 0), STORE_ENOTFOUND);
	ck_assert_uint_eq(npins(s), 0);
	store_close(s);
}
END_TEST

/* A new response for the same URL replaces the pinned one. */
START_TEST(replaced_while_pinned_stays_readable)
{
	struct store *s = open_store("replace", 2 * MIB, STORE_EVICT_DEFAULT);
	uint32_t n1, n2;
	uint64_t id1, id2;

	put(s, "http://x/r", 4, 2 * CHUNK + 100);
	id1 = id_of(s, "http://x/r", &n1);
	ck_assert_int_eq(store_pin(s, id1, 0), 0);
	put(s, "http://x/r", 5, CHUNK + 7);
	id2 = id_of(s, "http://x/r", &n2);
	ck_assert_uint_ne(id1, id2);
	ck_assert_int_eq(read_body(s, id2, n2, 5, CHUNK + 7), 0);
	ck_assert_int_eq(read_body(s, id1, n1, 4, 2 * CHUNK + 100), 0);
	ck_assert_uint_eq(stats(s).chunks, n1 + n2);
	store_unpin(s, id1);
	store_sync(s);
	ck_assert_int_eq(read_body(s, id1, n1, 4, 2 * CHUNK + 100), STORE_ENOTFOUND);
	ck_assert_int_eq(read_body(s, id2, n2, 5, CHUNK + 7), 0);
	ck_assert_uint_eq(stats(s).chunks, n2);
	store_close(s);
}
END_TEST

/*
 * The writer's side of the pin table, stepped by hand (the writer thread is
 * idle: nothing is queued): a visible object whose chunks a transaction
 * deletes is refused until the transaction ends; a pinned one is kept; a
 * kept object whose last reader left during the transaction is released by
 * the commit; one whose reader leaves after it, by the unpin.
 */
START_TEST(pin_table_follows_the_writer)
{
	struct store *s = open_store("table", 2 * MIB, STORE_EVICT_DEFAULT);
	uint64_t id;
	bool kept, release;

	put(s, "http://x/t", 6, 2 * CHUNK);
	id = id_of(s, "http://x/t", NULL);

	lock(s);
	kept = store_pin_deleting(s, id);
	unlock(s);
	ck_assert(!kept);
	ck_assert_int_eq(store_pin(s, id, 0), STORE_ENOTFOUND);		/* dying */
	lock(s);
	store_pin_undying(s, id);		/* as after an abort */
	unlock(s);
	ck_assert_uint_eq(npins(s), 0);

	ck_assert_int_eq(store_pin(s, id, 0), 0);
	lock(s);
	kept = store_pin_deleting(s, id);
	unlock(s);
	ck_assert(kept);
	store_unpin(s, id);			/* during the transaction */
	lock(s);
	release = store_pin_deleted(s, id);	/* its commit */
	unlock(s);
	ck_assert(release);
	ck_assert_uint_eq(npins(s), 0);

	ck_assert_int_eq(store_pin(s, id, 0), 0);
	lock(s);
	kept = store_pin_deleting(s, id);
	release = store_pin_deleted(s, id);
	unlock(s);
	ck_assert(kept);
	ck_assert(!release);
	ck_assert_int_eq(store_pin(s, id, 0), 0);		/* gone, but held: a second reader */
	store_unpin(s, id);
	ck_assert_uint_eq(npins(s), 1);
	store_unpin(s, id);			/* the last: queues the release */
	store_sync(s);
	ck_assert_int_eq(read_body(s, id, 2, 6, 2 * CHUNK), STORE_ENOTFOUND);
	ck_assert_uint_eq(npins(s), 0);
	/* The record was never deleted by a transaction: take it out for real. */
	ck_assert_int_eq(store_invalidate(s, "http://x/t", 10), 1);
	store_close(s);
}
END_TEST

/* 300 pinned objects (bodies in chunks: an inline body has nothing to keep):
 * the table grows, and pins and unpins in any order. */
START_TEST(many_pins_in_any_order)
{
	enum { N = 300 };
	struct store *s = open_store("many", 4 * MIB, STORE_EVICT_DEFAULT);
	uint64_t ids[N];
	char url[64];

	for (unsigned i = 0; i < N; i++) {
		snprintf(url, sizeof(url), "http://x/m%u", i);
		put(s, url, i, STORE_INLINE_MAX + 1 + i);
		ids[i] = id_of(s, url, NULL);
	}
	for (unsigned i = 0; i < 2 * N; i++)
		ck_assert_int_eq(store_pin(s, ids[(i * 7u) % N], 0), 0);
	ck_assert_uint_eq(npins(s), N);
	for (unsigned i = 0; i < N; i++)
		store_unpin(s, ids[(i * 13u) % N]);
	ck_assert_uint_eq(npins(s), N);
	for (unsigned i = 0; i < N; i++) {
		snprintf(url, sizeof(url), "http://x/m%u", i);
		ck_assert_int_eq(store_invalidate(s, url, strlen(url)), 1);
	}
	store_sync(s);
	ck_assert_uint_eq(stats(s).chunks, N);
	for (unsigned i = 0; i < N; i++)
		ck_assert_int_eq(read_body(s, ids[i], 1, i, STORE_INLINE_MAX + 1 + i), 0);
	for (unsigned i = 0; i < N; i++)
		store_unpin(s, ids[(i * 11u + 5) % N]);
	store_sync(s);
	ck_assert_uint_eq(npins(s), 0);
	ck_assert_uint_eq(stats(s).chunks, 0);
	ck_assert_uint_eq(stats(s).bytes, 0);
	for (unsigned i = 0; i < N; i++)
		ck_assert_int_eq(read_body(s, ids[i], 1, i, 1000 + i), STORE_ENOTFOUND);
	store_close(s);
}
END_TEST

#define NURLS	16

static size_t
len_of(unsigned url, unsigned version)
{
	return 20 * KIB + ((url * 7u + version * 13u) % 9u) * 10 * KIB;
}

struct pinner {
	struct store	*s;
	atomic_bool	*done;
	unsigned	seed;
	unsigned	pinned_reads;
};

/* Holds up to 4 pins at a time, reading each body in full while held. */
static void *
pinner_main(void *p)
{
	struct pinner *a = p;
	struct { uint64_t id; uint32_t n; unsigned seed; size_t len; } held[4];
	unsigned nheld = 0, i = a->seed;
	char url[64];

	while (!atomic_load(a->done)) {
		struct store_object o;
		unsigned k = (i++ * 2654435761u) % NURLS;

		snprintf(url, sizeof(url), "http://x/c%u", k);
		if (nheld == 4 || (nheld > 0 && i % 3 == 0)) {
			nheld--;
			ck_assert_int_eq(read_body(a->s, held[nheld].id, held[nheld].n,
			    held[nheld].seed, held[nheld].len), 0);
			store_unpin(a->s, held[nheld].id);
			a->pinned_reads++;
		}
		if (lookup(a->s, url, &o) != 0)
			continue;
		/* The headers name the version (seed) the body was written from. */
		unsigned seed;
		ck_assert_int_eq(sscanf(o.headers, "X-Seed: %u", &seed), 1);
		if (store_pin(a->s, o.id, 0) == 0) {
			held[nheld].id = o.id;
			held[nheld].n = o.chunk_count;
			held[nheld].seed = seed;
			held[nheld].len = o.body_len;
			nheld++;
		}
		store_object_free(&o);
	}
	while (nheld > 0) {
		nheld--;
		ck_assert_int_eq(read_body(a->s, held[nheld].id, held[nheld].n,
		    held[nheld].seed, held[nheld].len), 0);
		store_unpin(a->s, held[nheld].id);
		a->pinned_reads++;
	}
	return NULL;
}

/* Stores version v of URL k, its seed in an X-Seed field; no sync. */
static void
put_version(struct store *s, unsigned k, unsigned v)
{
	char url[64], hdr[64];
	unsigned seed = k * 1000 + v;
	size_t len = len_of(k, v);
	struct store_write *w;
	uint8_t *body = malloc(len);

	ck_assert_ptr_nonnull(body);
	snprintf(url, sizeof(url), "http://x/c%u", k);
	snprintf(hdr, sizeof(hdr), "X-Seed: %u\r\n", seed);
	struct store_object_meta m = { .status = 200, .headers = hdr,
	    .headers_len = strlen(hdr), .secondary_key = "", .vary = "" };
	for (size_t i = 0; i < len; i++)
		body[i] = body_byte(seed, i);
	w = store_write_begin(s, url, strlen(url));
	ck_assert_int_eq(store_write_append(w, body, len), 0);
	ck_assert_int_eq(store_write_finish(w, &m), 0);
	free(body);
}

/*
 * Two threads pin, read and unpin while the writer replaces, evicts and
 * invalidates under them: every pinned read is whole and right, the bound
 * holds, and at the end no chunk is left that no object accounts for. The
 * map has room for every byte written (16 MiB of slack), so that the
 * readers' snapshots never make the writer hit MDB_MAP_FULL: an operation
 * dropped then (the documented last resort) would also leave chunks behind.
 */
START_TEST(two_threads_pin_while_the_writer_deletes)
{
	const uint64_t bound = MIB;
	struct store *s = open_store_slack("threads", bound, STORE_EVICT_DEFAULT, 16 * MIB);
	atomic_bool done = false;
	struct pinner a[2];
	pthread_t th[2];
	uint64_t live_chunks = 0;

	for (unsigned k = 0; k < NURLS; k++)
		put_version(s, k, 0);
	store_sync(s);
	for (unsigned t = 0; t < 2; t++) {
		a[t] = (struct pinner){ .s = s, .done = &done, .seed = t * 7919 };
		ck_assert_int_eq(pthread_create(&th[t], NULL, pinner_main, &a[t]), 0);
	}
	for (unsigned v = 1; v <= 150; v++) {
		unsigned k = (v * 5u) % NURLS;
		char url[64];

		put_version(s, k, v);
		if (v % 10 == 0) {
			snprintf(url, sizeof(url), "http://x/c%u", (k + 3) % NURLS);
			ck_assert_int_ge(store_invalidate(s, url, strlen(url)), 0);
		}
		if (v % 16 == 0) {
			store_sync(s);
			ck_assert_uint_le(stats(s).bytes, bound);
		}
	}
	store_sync(s);
	atomic_store(&done, true);
	for (unsigned t = 0; t < 2; t++)
		ck_assert_int_eq(pthread_join(th[t], NULL), 0);
	ck_assert_uint_gt(a[0].pinned_reads + a[1].pinned_reads, 0);
	store_sync(s);
	ck_assert_uint_eq(npins(s), 0);
	for (unsigned k = 0; k < NURLS; k++) {
		char url[64];
		struct store_object o;
		snprintf(url, sizeof(url), "http://x/c%u", k);
		if (lookup(s, url, &o) == 0) {
			live_chunks += o.chunk_count;
			store_object_free(&o);
		}
	}
	ck_assert_uint_eq(stats(s).map_full, 0);
	ck_assert_uint_eq(stats(s).chunks, live_chunks);
	ck_assert_uint_le(stats(s).bytes, bound);
	store_close(s);
}
END_TEST

/* Pins live in memory: kept chunks left by a crash are orphans at the next open. */
START_TEST(kept_chunks_do_not_survive_a_crash)
{
	struct store *s;
	struct store_stats st;
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *c = open_store("crash", 2 * MIB, STORE_EVICT_DEFAULT);
		put(c, "http://x/k", 7, 3 * CHUNK);
		put(c, "http://x/other", 8, CHUNK);
		if (store_pin(c, id_of(c, "http://x/k", NULL), 0) != 0)
			_exit(2);
		store_invalidate(c, "http://x/k", 10);
		store_sync(c);
		kill(getpid(), SIGKILL);
		_exit(3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "child status %#x", status);
	s = open_store("crash", 2 * MIB, STORE_EVICT_DEFAULT);
	st = stats(s);
	ck_assert_uint_eq(st.open_orphan_chunks, 3);
	ck_assert_uint_eq(st.objects, 1);
	ck_assert_uint_eq(st.chunks, 1);
	ck_assert(present(s, "http://x/other"));
	store_close(s);
}
END_TEST

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static Suite *
pin_suite(void)
{
	Suite *s = suite_create("store_pin");
	TCase *tc = tcase_create("pin");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, pin_of_a_missing_object_is_refused);
	tcase_add_test(tc, pins_stop_at_half_the_bound);
	tcase_add_loop_test(tc, evicted_while_pinned_stays_readable, STORE_EVICT_LRU,
	    STORE_EVICT_S3FIFO + 1);
	tcase_add_test(tc, invalidated_while_pinned_stays_readable);
	tcase_add_test(tc, replaced_while_pinned_stays_readable);
	tcase_add_test(tc, pin_table_follows_the_writer);
	tcase_add_test(tc, many_pins_in_any_order);
	tcase_add_test(tc, two_threads_pin_while_the_writer_deletes);
	tcase_add_test(tc, kept_chunks_do_not_survive_a_crash);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	SRunner *sr;
	int failed;

	snprintf(base, sizeof(base), "%s/check_store_pin.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	sr = srunner_create(pin_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? 0 : 1;
}

/*
 * check_store_version.c: the store's per-key version numbers and
 * store_touch, which the workers' hot tables (src/hot.h) rely on to stop
 * serving a copy of a stored response once the store would answer
 * differently: store_key_version must change after an object for the key
 * is committed or its headers are updated (RFC 9111 §4.3.4), at once when
 * the key is invalidated (RFC 9111 §4.4), and must not change for a key of
 * another counter; store_touch must say whether an object is still stored.
 *
 * Real LMDB stores in a mkdtemp() directory (removed at the end), opened
 * with MDB_NOSYNC. The hash_override hook gives the test URLs hashes that
 * fall on different version counters.
 */
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define KIB	1024u
#define MIB	(1024u * 1024u)

#define URL_A	"http://x/a"
#define URL_B	"http://x/b"
#define HASH_A	0x1001u
#define HASH_B	0x2002u

static char base[256];		/* the mkdtemp() directory */

/* URL_A and URL_B get fixed hashes, apart modulo any power of two up to
 * 2^12; other keys an FNV-1a hash. */
static uint64_t
test_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ull;

	if (len == strlen(URL_A) && memcmp(key, URL_A, len) == 0)
		return HASH_A;
	if (len == strlen(URL_B) && memcmp(key, URL_B, len) == 0)
		return HASH_B;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static struct store *
open_store_policy(const char *name, uint64_t bound, bool override,
    enum store_evict_policy policy)
{
	struct store_options o = { .chunk_size = 64 * KIB, .nosync = true,
	    .queue_bytes = 16 * MIB, .policy = policy };
	char dir[512], err[256];
	struct store *s;

	if (override)
		o.hash_override = test_hash;
	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s/%s", base, name), (int)sizeof(dir));
	s = store_open(dir, bound, &o, err, sizeof(err));
	ck_assert_msg(s != NULL, "store_open: %s", err);
	return s;
}

static struct store *
open_store(const char *name, uint64_t bound, bool override)
{
	return open_store_policy(name, bound, override, STORE_EVICT_DEFAULT);
}

/* Queues an object of len bytes for url; returns store_write_finish's result. */
static int
put(struct store *s, const char *url, size_t len, const char *headers,
    void (*committed)(void *), void *arg)
{
	struct store_write *w = store_write_begin(s, url, strlen(url));
	char *body = malloc(len ? len : 1);
	const char *hdr = headers != NULL ? headers : "Content-Type: text/plain\r\n";
	struct store_object_meta m = {
		.status = 200, .request_time = 1000, .response_time = 1001,
		.headers = hdr, .headers_len = strlen(hdr),
		.secondary_key = "", .vary = "",
		.committed = committed, .committed_arg = arg,
	};

	ck_assert_ptr_nonnull(body);
	memset(body, 'b', len);
	ck_assert_int_eq(store_write_append(w, body, len), 0);
	free(body);
	return store_write_finish(w, &m);
}

/* The id of the object stored for url (a lookup: marks it accessed). */
static uint64_t
stored_id(struct store *s, const char *url)
{
	struct store_object o;
	uint64_t id;

	ck_assert_int_eq(store_lookup(s, url, strlen(url), NULL, NULL, &o), 0);
	id = o.id;
	store_object_free(&o);
	return id;
}

static bool
present(struct store *s, const char *url)
{
	struct store_object o;

	if (store_lookup(s, url, strlen(url), NULL, NULL, &o) != 0)
		return false;
	store_object_free(&o);
	return true;
}

static uint32_t
version(struct store *s, const char *url)
{
	return store_key_version(s, store_key_hash(s, url, strlen(url)));
}

START_TEST(key_hash_is_the_stores_hash)
{
	struct store *s = open_store("hash-override", 16 * MIB, true);

	ck_assert_uint_eq(store_key_hash(s, URL_A, strlen(URL_A)), HASH_A);
	ck_assert_uint_eq(store_key_hash(s, URL_B, strlen(URL_B)), HASH_B);
	store_close(s);

	s = open_store("hash-keyed", 16 * MIB, false);
	ck_assert_uint_eq(store_key_hash(s, URL_A, strlen(URL_A)),
	    store_key_hash(s, URL_A, strlen(URL_A)));
	ck_assert_uint_ne(store_key_hash(s, URL_A, strlen(URL_A)),
	    store_key_hash(s, URL_B, strlen(URL_B)));
	store_close(s);
}
END_TEST

/* A committed object for the key changes its version; another key's stays. */
START_TEST(version_changes_once_an_object_is_committed)
{
	struct store *s = open_store("finish", 16 * MIB, true);
	uint32_t a0 = version(s, URL_A), b0 = version(s, URL_B), a1;

	ck_assert_int_eq(put(s, URL_A, 100, NULL, NULL, NULL), 0);
	store_sync(s);
	ck_assert(present(s, URL_A));
	a1 = version(s, URL_A);
	ck_assert_uint_ne(a1, a0);
	ck_assert_uint_eq(version(s, URL_B), b0);

	/* A replacement for the same key changes it again. */
	ck_assert_int_eq(put(s, URL_A, 200, NULL, NULL, NULL), 0);
	store_sync(s);
	ck_assert_uint_ne(version(s, URL_A), a1);
	ck_assert_uint_eq(version(s, URL_B), b0);
	store_close(s);
}
END_TEST

struct seen {
	struct store	*s;
	uint32_t	before;
	_Atomic int	called;
	_Atomic uint32_t version;
};

static void
record_version(void *arg)
{
	struct seen *v = arg;

	atomic_store(&v->version, version(v->s, URL_A));
	atomic_store(&v->called, 1);
}

/* Whoever learns of the commit through the committed callback already sees
 * the new version. */
START_TEST(version_changed_when_the_committed_callback_runs)
{
	struct store *s = open_store("callback", 16 * MIB, true);
	struct seen v = { .s = s };

	v.before = version(s, URL_A);
	ck_assert_int_eq(put(s, URL_A, 100, NULL, record_version, &v), 0);
	store_sync(s);
	ck_assert_int_eq(atomic_load(&v.called), 1);
	ck_assert_uint_ne(atomic_load(&v.version), v.before);
	store_close(s);
}
END_TEST

/* Holds the writer thread in a committed callback until released. */
struct gate {
	pthread_mutex_t	mtx;
	pthread_cond_t	cond;
	bool		entered;
	bool		released;
};

static void
hold_writer(void *arg)
{
	struct gate *g = arg;

	pthread_mutex_lock(&g->mtx);
	g->entered = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->released)
		pthread_cond_wait(&g->cond, &g->mtx);
	pthread_mutex_unlock(&g->mtx);
}

/*
 * The order the hot tables rely on: a version read while the object is
 * queued (its lookup still a miss, or the old object) must differ from the
 * version once the object is visible. The writer is held so the object
 * stays queued while the version is read.
 */
START_TEST(version_read_while_queued_changes_after_the_commit)
{
	struct store *s = open_store("queued", 16 * MIB, true);
	struct gate g = { .mtx = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	uint32_t queued;

	ck_assert_int_eq(put(s, "http://x/hold", 10, NULL, hold_writer, &g), 0);
	pthread_mutex_lock(&g.mtx);
	while (!g.entered)
		pthread_cond_wait(&g.cond, &g.mtx);
	pthread_mutex_unlock(&g.mtx);

	ck_assert_int_eq(put(s, URL_A, 100, NULL, NULL, NULL), 0);
	queued = version(s, URL_A);
	ck_assert(!present(s, URL_A));

	pthread_mutex_lock(&g.mtx);
	g.released = true;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.mtx);
	store_sync(s);
	ck_assert(present(s, URL_A));
	ck_assert_uint_ne(version(s, URL_A), queued);
	store_close(s);
}
END_TEST

/* RFC 9111 §4.3.4: new headers from a 304 change what a lookup returns. */
START_TEST(version_changes_once_an_update_is_committed)
{
	struct store *s = open_store("update", 16 * MIB, true);
	const char *hdr = "ETag: \"v2\"\r\nX-Updated: 1\r\n";
	struct store_object_meta m = { .status = 200, .request_time = 2000,
	    .response_time = 2001, .headers = hdr, .headers_len = strlen(hdr) };
	struct store_object o;
	uint32_t a1, b0 = version(s, URL_B);
	uint64_t id;

	ck_assert_int_eq(put(s, URL_A, 100, "ETag: \"v1\"\r\n", NULL, NULL), 0);
	store_sync(s);
	id = stored_id(s, URL_A);
	a1 = version(s, URL_A);
	ck_assert_int_eq(store_update_meta(s, id, &m), 0);
	store_sync(s);
	ck_assert_int_eq(store_lookup(s, URL_A, strlen(URL_A), NULL, NULL, &o), 0);
	ck_assert_ptr_nonnull(strstr(o.headers, "X-Updated: 1"));
	store_object_free(&o);
	ck_assert_uint_ne(version(s, URL_A), a1);
	ck_assert_uint_eq(version(s, URL_B), b0);
	store_close(s);
}
END_TEST

/* RFC 9111 §4.4: invalidation hides the object before store_invalidate
 * returns, so the version changes by then too, and the object is no longer
 * touchable. */
START_TEST(version_changes_before_invalidate_returns)
{
	struct store *s = open_store("invalidate", 16 * MIB, true);
	uint32_t a1, b1;
	uint64_t id;

	ck_assert_int_eq(put(s, URL_A, 100, NULL, NULL, NULL), 0);
	ck_assert_int_eq(put(s, URL_B, 100, NULL, NULL, NULL), 0);
	store_sync(s);
	id = stored_id(s, URL_A);
	a1 = version(s, URL_A);
	b1 = version(s, URL_B);
	ck_assert_int_eq(store_invalidate(s, URL_A, strlen(URL_A)), 1);
	ck_assert_uint_ne(version(s, URL_A), a1);
	ck_assert(!store_touch(s, id));
	ck_assert(!present(s, URL_A));
	ck_assert_uint_eq(version(s, URL_B), b1);
	ck_assert(present(s, URL_B));
	store_sync(s);
	ck_assert(!store_touch(s, id));
	store_close(s);
}
END_TEST

START_TEST(touch_true_for_a_stored_object_false_for_others)
{
	struct store *s = open_store("touch", 16 * MIB, true);
	uint64_t id;

	ck_assert_int_eq(put(s, URL_A, 100, NULL, NULL, NULL), 0);
	store_sync(s);
	id = stored_id(s, URL_A);
	ck_assert(store_touch(s, id));
	ck_assert(store_touch(s, id));
	ck_assert(!store_touch(s, id + 1000));
	store_close(s);
}
END_TEST

/* An object replaced by a newer one for the same key is no longer stored. */
START_TEST(touch_false_after_replacement)
{
	struct store *s = open_store("replace", 16 * MIB, true);
	uint64_t old, new;

	ck_assert_int_eq(put(s, URL_A, 100, NULL, NULL, NULL), 0);
	store_sync(s);
	old = stored_id(s, URL_A);
	ck_assert_int_eq(put(s, URL_A, 300, NULL, NULL, NULL), 0);
	store_sync(s);
	new = stored_id(s, URL_A);
	ck_assert_uint_ne(old, new);
	ck_assert(!store_touch(s, old));
	ck_assert(store_touch(s, new));
	store_close(s);
}
END_TEST

/*
 * A 2 MiB store written 40 objects of 150 KiB: the first one, not used since
 * its id was read, is evicted, and store_touch says so. LRU, because reading
 * the id is a use, which SIEVE rightly protects from a stream of new objects.
 */
START_TEST(touch_false_after_eviction)
{
	struct store *s = open_store_policy("evict", 2 * MIB, true, STORE_EVICT_LRU);
	struct store_stats st;
	char url[64];
	uint64_t first, last = 0;

	ck_assert_int_eq(put(s, URL_A, 150 * KIB, NULL, NULL, NULL), 0);
	store_sync(s);
	first = stored_id(s, URL_A);
	for (unsigned i = 0; i < 40; i++) {
		snprintf(url, sizeof(url), "http://x/fill%u", i);
		ck_assert_int_eq(put(s, url, 150 * KIB, NULL, NULL, NULL), 0);
		store_sync(s);
	}
	ck_assert_int_eq(store_stats(s, &st), 0);
	ck_assert_uint_gt(st.evictions, 0);
	ck_assert(!store_touch(s, first));
	ck_assert(!present(s, URL_A));
	last = stored_id(s, url);
	ck_assert(store_touch(s, last));
	store_close(s);
}
END_TEST

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static Suite *
store_version_suite(void)
{
	Suite *s = suite_create("store_version");
	TCase *tc = tcase_create("lmdb");

	tcase_add_test(tc, key_hash_is_the_stores_hash);
	tcase_add_test(tc, version_changes_once_an_object_is_committed);
	tcase_add_test(tc, version_changed_when_the_committed_callback_runs);
	tcase_add_test(tc, version_read_while_queued_changes_after_the_commit);
	tcase_add_test(tc, version_changes_once_an_update_is_committed);
	tcase_add_test(tc, version_changes_before_invalidate_returns);
	tcase_add_test(tc, touch_true_for_a_stored_object_false_for_others);
	tcase_add_test(tc, touch_false_after_replacement);
	tcase_add_test(tc, touch_false_after_eviction);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	SRunner *sr;
	int failed;

	snprintf(base, sizeof(base), "%s/check_store_version.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	sr = srunner_create(store_version_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? 0 : 1;
}

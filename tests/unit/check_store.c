/*
 * check_store.c: the LMDB cache store against a real LMDB in a mkdtemp()
 * directory (removed at the end), plus its pure parts: the record formats,
 * the key hash and the eviction policies.
 *
 * Each test gets its own store directory under the temporary one. Stores are
 * opened with MDB_NOSYNC (a kill -9 keeps the page cache, so crash safety
 * does not depend on fsync) and small chunks so that multi-chunk objects,
 * eviction and the full-map path are cheap to reach.
 */
#include <check.h>
#include <errno.h>
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
#include <lmdb.h>

#include "store.h"
#include "store_evict.h"
#include "store_int.h"

#define KIB	1024u
#define MIB	(1024u * 1024u)

static char base[256];		/* the mkdtemp() directory */

/* ---- helpers ------------------------------------------------------------- */

static void
store_dir(char *buf, size_t len, const char *name)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/%s", base, name), (int)len);
}

static struct store_options
small_opts(void)
{
	return (struct store_options){ .chunk_size = 64 * KIB, .nosync = true,
	    .queue_bytes = 16 * MIB };
}

static struct store *
open_store(const char *name, uint64_t bound, const struct store_options *o)
{
	char dir[512], err[256];
	struct store *s;

	store_dir(dir, sizeof(dir), name);
	s = store_open(dir, bound, o, err, sizeof(err));
	ck_assert_msg(s != NULL, "store_open: %s", err);
	return s;
}

/* Deterministic body bytes: object seed, offset. */
static uint8_t
body_byte(unsigned seed, size_t i)
{
	return (uint8_t)(seed * 131u + i * 31u + (i >> 9));
}

static uint8_t *
make_body(unsigned seed, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < len; i++)
		b[i] = body_byte(seed, i);
	return b;
}

struct obj {
	const char	*url;
	const char	*sk;
	const char	*vary;
	const char	*headers;
	int		status;
	unsigned	seed;
	size_t		len;
};

/* Writes o in pieces of `piece` bytes (0: one append); returns finish's result. */
static int
put_object(struct store *s, const struct obj *o, size_t piece)
{
	uint8_t *body = make_body(o->seed, o->len);
	struct store_write *w = store_write_begin(s, o->url, strlen(o->url));
	int ret = 0;

	if (piece == 0)
		piece = o->len ? o->len : 1;
	for (size_t off = 0; off < o->len && ret == 0; off += piece) {
		size_t n = o->len - off < piece ? o->len - off : piece;
		ret = store_write_append(w, body + off, n);
	}
	const char *hdr = o->headers ? o->headers : "Content-Type: text/plain\r\n";
	struct store_object_meta m = {
		.status = o->status ? o->status : 200, .flags = 7,
		.request_time = 1000, .response_time = 1001,
		.headers = hdr, .headers_len = strlen(hdr),
		.secondary_key = o->sk ? o->sk : "", .secondary_key_len = o->sk ? strlen(o->sk) : 0,
		.vary = o->vary ? o->vary : "", .vary_len = o->vary ? strlen(o->vary) : 0,
	};
	int fret = store_write_finish(w, &m);
	free(body);
	return ret != 0 ? ret : fret;
}

/* The secondary-key callback: the request's key is arg, whatever the names. */
static int
sk_of_arg(void *arg, const char *vary, size_t vary_len, char **sk, size_t *sk_len)
{
	ck_assert_uint_gt(vary_len, 0);
	if (arg == NULL)
		return -1;
	*sk = strdup(arg);
	*sk_len = strlen(arg);
	return 0;
}

static int
lookup(struct store *s, const char *url, const char *sk, struct store_object *out)
{
	return store_lookup(s, url, strlen(url), sk_of_arg, (void *)sk, out);
}

/* Reads o's body (inline, or every chunk) and compares it with the body of
 * seed; 0, or the error. */
static int
check_body(struct store *s, const struct store_object *o, unsigned seed)
{
	struct evbuffer *b = evbuffer_new();
	int ret = 0;

	ck_assert((o->body != NULL) == (o->chunk_count == 0 && o->body_len > 0));
	if (o->body != NULL)
		evbuffer_add(b, o->body, o->body_len);
	for (uint32_t i = 0; i < o->chunk_count && ret == 0; i++)
		ret = store_read_chunk(s, o->id, i, b);
	if (ret == 0) {
		size_t len = evbuffer_get_length(b);
		uint8_t *p = evbuffer_pullup(b, -1);
		ck_assert_uint_eq(len, o->body_len);
		for (size_t i = 0; i < len; i++)
			if (p[i] != body_byte(seed, i))
				ck_abort_msg("body byte %zu differs", i);
	}
	evbuffer_free(b);
	return ret;
}

static bool
present(struct store *s, const char *url, const char *sk)
{
	struct store_object o;

	if (lookup(s, url, sk, &o) != 0)
		return false;
	store_object_free(&o);
	return true;
}

static struct store_stats
stats(struct store *s)
{
	struct store_stats st;

	ck_assert_int_eq(store_stats(s, &st), 0);
	return st;
}

/* ---- pure parts ---------------------------------------------------------- */

START_TEST(siphash_reference_vector)
{
	/* SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e. */
	uint8_t key[16], msg[15];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	ck_assert_uint_eq(store_siphash(key, msg, sizeof(msg)), 0xa129ca6149be45e5ULL);
}
END_TEST

START_TEST(objrec_round_trip_and_versions)
{
	struct store_objrec r = { .status = 203, .flags = 0x80000001u,
	    .request_time = -5, .response_time = 1700000000, .body_len = 300000,
	    .chunk_count = 5, .chunk_size = 65536, .pk = "http://a/b", .pk_len = 10,
	    .sk = "gzip", .sk_len = 4, .hdr = "A: b\r\n", .hdr_len = 6 }, d;
	size_t len;
	uint8_t *b = store_objrec_encode(&r, &len);

	ck_assert_uint_eq(len, STORE_OBJREC_HDR + 20);
	ck_assert_int_eq(store_objrec_decode(b, len, &d), 0);
	ck_assert_uint_eq(d.status, 203);
	ck_assert_uint_eq(d.flags, 0x80000001u);
	ck_assert_int_eq(d.request_time, -5);
	ck_assert_int_eq(d.response_time, 1700000000);
	ck_assert_uint_eq(d.body_len, 300000);
	ck_assert_uint_eq(d.chunk_count, 5);
	ck_assert_int_eq(memcmp(d.pk, "http://a/b", 10), 0);
	ck_assert_int_eq(memcmp(d.sk, "gzip", 4), 0);
	ck_assert_int_eq(memcmp(d.hdr, "A: b\r\n", 6), 0);
	ck_assert_ptr_null(d.body);
	ck_assert_int_ne(store_objrec_decode(b, len - 1, &d), 0);
	b[0] = 1;	/* version 1 reads the same when no body is inline */
	ck_assert_int_eq(store_objrec_decode(b, len, &d), 0);
	ck_assert_uint_eq(d.chunk_count, 5);
	b[0] = 3;	/* an unknown version is refused */
	ck_assert_int_ne(store_objrec_decode(b, len, &d), 0);
	free(b);
	r.chunk_count = 4;	/* 4 chunks of 64 KiB cannot hold 300000 bytes */
	b = store_objrec_encode(&r, &len);
	ck_assert_int_ne(store_objrec_decode(b, len, &d), 0);
	free(b);
}
END_TEST

/* No chunk: the body follows the header block, up to STORE_INLINE_MAX. */
START_TEST(objrec_inline_body)
{
	static const char body[] = "0123456789";
	struct store_objrec r = { .status = 200, .body_len = 10, .chunk_count = 0,
	    .chunk_size = 65536, .body = (const uint8_t *)body, .pk = "http://a/b",
	    .pk_len = 10, .hdr = "A: b\r\n", .hdr_len = 6 }, d;
	size_t len;
	uint8_t *b = store_objrec_encode(&r, &len), *big;

	ck_assert_uint_eq(len, STORE_OBJREC_HDR + 16 + 10);
	ck_assert_int_eq(store_objrec_decode(b, len, &d), 0);
	ck_assert_uint_eq(d.body_len, 10);
	ck_assert_uint_eq(d.chunk_count, 0);
	ck_assert_ptr_nonnull(d.body);
	ck_assert_int_eq(memcmp(d.body, body, 10), 0);
	ck_assert_int_eq(memcmp(d.hdr, "A: b\r\n", 6), 0);
	ck_assert_int_ne(store_objrec_decode(b, len - 1, &d), 0);
	/* Version 1 had no inline body: no chunk meant no body. */
	b[0] = 1;
	ck_assert_int_ne(store_objrec_decode(b, len, &d), 0);
	free(b);

	/* An inline body longer than STORE_INLINE_MAX is refused, even when the
	 * lengths add up (a record of a bigger STORE_INLINE_MAX, or damage). */
	r.body_len = STORE_INLINE_MAX + 1;
	r.chunk_count = 1;
	r.body = NULL;
	b = store_objrec_encode(&r, &len);
	big = calloc(1, len + STORE_INLINE_MAX + 1);
	ck_assert_ptr_nonnull(big);
	memcpy(big, b, len);
	store_put32(big + 32, 0);
	ck_assert_int_ne(store_objrec_decode(big, len + STORE_INLINE_MAX + 1, &d), 0);
	free(big);
	free(b);
}
END_TEST

START_TEST(varrec_round_trip_and_versions)
{
	struct store_varrec r = { .vary = "accept-encoding", .vary_len = 15 }, d;
	size_t len;

	store_varrec_add(&r, 7, "gzip", 4);
	store_varrec_add(&r, 9, "", 0);
	uint8_t *b = store_varrec_encode(&r, &len);
	ck_assert_int_eq(store_varrec_decode(b, len, &d), 0);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_uint_eq(d.v[0].id, 7);
	ck_assert_uint_eq(d.v[1].id, 9);
	ck_assert_uint_eq(d.v[1].sk_len, 0);
	ck_assert_int_eq(memcmp(d.vary, "accept-encoding", 15), 0);
	store_varrec_free(&d);
	ck_assert_int_ne(store_varrec_decode(b, len - 1, &d), 0);
	b[0] = 0;
	ck_assert_int_ne(store_varrec_decode(b, len, &d), 0);
	free(b);
	store_varrec_free(&r);
}
END_TEST

START_TEST(evict_lru_order)
{
	struct store_evict *e = store_evict_new(STORE_EVICT_LRU, 100);
	struct store_evict_victim v;

	for (uint64_t id = 1; id <= 4; id++)
		store_evict_insert(e, id, id, 10);
	ck_assert(store_evict_access(e, 1));
	ck_assert(!store_evict_access(e, 99));
	ck_assert(store_evict_pop(e, &v));
	ck_assert_uint_eq(v.id, 2);
	ck_assert_uint_eq(v.size, 10);
	ck_assert(store_evict_remove(e, 3));
	ck_assert(!store_evict_remove(e, 3));
	ck_assert(store_evict_pop(e, &v));
	ck_assert_uint_eq(v.id, 4);
	ck_assert(store_evict_pop(e, &v));
	ck_assert_uint_eq(v.id, 1);
	ck_assert(!store_evict_pop(e, &v));
	ck_assert_uint_eq(store_evict_bytes(e), 0);
	store_evict_free(e);
}
END_TEST

START_TEST(evict_sieve_keeps_visited)
{
	struct store_evict *e = store_evict_new(STORE_EVICT_DEFAULT, 100);
	struct store_evict_victim v;

	ck_assert_int_eq(store_evict_policy(e), STORE_EVICT_SIEVE);
	for (uint64_t id = 1; id <= 4; id++)
		store_evict_insert(e, id, id, 10);
	store_evict_access(e, 1);
	store_evict_access(e, 3);
	/* The hand starts at the oldest: 1 is spared (bit cleared), 2 goes. */
	ck_assert(store_evict_pop(e, &v));
	ck_assert_uint_eq(v.id, 2);
	/* The hand moves on: 3 is spared, 4 goes; then it wraps to 1. */
	ck_assert(store_evict_pop(e, &v));
	ck_assert_uint_eq(v.id, 4);
	ck_assert(store_evict_pop(e, &v));
	ck_assert_uint_eq(v.id, 1);
	ck_assert_uint_eq(store_evict_count(e), 1);
	store_evict_free(e);
}
END_TEST

START_TEST(evict_s3fifo_ghost_goes_to_main)
{
	struct store_evict *e = store_evict_new(STORE_EVICT_S3FIFO, 1000);
	struct store_evict_victim v;

	/* Small queue share is 100 bytes: 1 and 2 fill more than that. */
	store_evict_insert(e, 1, 501, 60);
	store_evict_insert(e, 2, 502, 60);
	store_evict_access(e, 2);
	ck_assert(store_evict_pop(e, &v));
	ck_assert_uint_eq(v.id, 1);		/* never hit: out, key 501 a ghost */
	store_evict_insert(e, 3, 501, 60);	/* ghost hit: straight to main */
	store_evict_insert(e, 4, 504, 60);
	store_evict_insert(e, 5, 505, 60);
	/* Small holds 2, 4, 5 (180 > 100): 2 (hit) moves to main, 4 goes. */
	ck_assert(store_evict_pop(e, &v));
	ck_assert_uint_eq(v.id, 4);
	/* Small is within its share: main's tail goes, 3 (never hit) before 2. */
	ck_assert(store_evict_pop(e, &v));
	ck_assert_uint_eq(v.id, 3);
	ck_assert(store_evict_contains(e, 2));
	ck_assert(store_evict_contains(e, 5));
	store_evict_free(e);
}
END_TEST

START_TEST(evict_many_ids)
{
	enum store_evict_policy p = (enum store_evict_policy)_i;
	struct store_evict *e = store_evict_new(p, 1 << 30);
	struct store_evict_victim v;
	size_t n = 0;

	for (uint64_t id = 1; id <= 20000; id++)
		store_evict_insert(e, id, id * 7, 1);
	for (uint64_t id = 1; id <= 20000; id += 2)
		ck_assert(store_evict_remove(e, id));
	for (uint64_t id = 1; id <= 20000; id++)
		ck_assert(store_evict_contains(e, id) == (id % 2 == 0));
	ck_assert_uint_eq(store_evict_count(e), 10000);
	while (store_evict_pop(e, &v)) {
		ck_assert_uint_eq(v.id % 2, 0);
		n++;
	}
	ck_assert_uint_eq(n, 10000);
	store_evict_free(e);
}
END_TEST

START_TEST(evict_policy_names)
{
	enum store_evict_policy p;

	ck_assert_int_eq(store_evict_policy_parse("SIEVE", &p), 0);
	ck_assert_int_eq(p, STORE_EVICT_SIEVE);
	ck_assert_int_eq(store_evict_policy_parse("s3fifo", &p), 0);
	ck_assert_str_eq(store_evict_policy_name(p), "s3fifo");
	ck_assert_int_eq(store_evict_policy_parse("arc", &p), -1);
}
END_TEST

/* ---- the store ----------------------------------------------------------- */

START_TEST(round_trip_small_multi_and_empty)
{
	struct store_options o = small_opts();
	struct store *s = open_store("rt", 16 * MIB, &o);
	struct obj small = { .url = "http://x/small", .seed = 1, .len = 1000 };
	struct obj multi = { .url = "http://x/multi", .seed = 2, .len = 5 * 64 * KIB + 17,
	    .status = 203, .headers = "ETag: \"v1\"\r\nContent-Length: 327697\r\n" };
	struct obj exact = { .url = "http://x/exact", .seed = 3, .len = 2 * 64 * KIB };
	struct obj empty = { .url = "http://x/empty", .seed = 4, .len = 0, .status = 204 };
	struct store_object r;
	struct evbuffer *b = evbuffer_new();

	ck_assert_int_eq(put_object(s, &small, 0), 0);
	ck_assert_int_eq(put_object(s, &multi, 1000), 0);
	ck_assert_int_eq(put_object(s, &exact, 64 * KIB), 0);
	ck_assert_int_eq(put_object(s, &empty, 0), 0);
	store_sync(s);

	ck_assert_int_eq(lookup(s, "http://x/small", NULL, &r), 0);
	ck_assert_uint_eq(r.body_len, 1000);
	ck_assert_uint_eq(r.chunk_count, 0);	/* inline: at most STORE_INLINE_MAX */
	ck_assert_ptr_nonnull(r.body);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.flags, 7);
	ck_assert_int_eq(r.request_time, 1000);
	ck_assert_int_eq(r.response_time, 1001);
	ck_assert_str_eq(r.headers, "Content-Type: text/plain\r\n");
	ck_assert_str_eq(r.primary_key, "http://x/small");
	ck_assert_int_eq(check_body(s, &r, 1), 0);
	store_object_free(&r);

	ck_assert_int_eq(lookup(s, "http://x/multi", NULL, &r), 0);
	ck_assert_uint_eq(r.chunk_count, 6);
	ck_assert_ptr_null(r.body);
	ck_assert_uint_eq(r.chunk_size, 64 * KIB);
	ck_assert_int_eq(r.status, 203);
	ck_assert_str_eq(r.headers, multi.headers);
	ck_assert_int_eq(check_body(s, &r, 2), 0);
	ck_assert_int_eq(store_read_chunk(s, r.id, 6, b), STORE_ENOTFOUND);
	ck_assert_uint_eq(evbuffer_get_length(b), 0);
	store_object_free(&r);

	ck_assert_int_eq(lookup(s, "http://x/exact", NULL, &r), 0);
	ck_assert_uint_eq(r.chunk_count, 2);
	ck_assert_int_eq(check_body(s, &r, 3), 0);
	store_object_free(&r);

	ck_assert_int_eq(lookup(s, "http://x/empty", NULL, &r), 0);
	ck_assert_uint_eq(r.chunk_count, 0);
	ck_assert_uint_eq(r.body_len, 0);
	ck_assert_int_eq(r.status, 204);
	store_object_free(&r);

	ck_assert_int_eq(lookup(s, "http://x/none", NULL, &r), STORE_ENOTFOUND);
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.objects, 4);
	ck_assert_uint_eq(st.chunks, 6 + 2);	/* small's body is inline */
	ck_assert_uint_eq(st.inserts, 4);
	evbuffer_free(b);
	store_close(s);
}
END_TEST

/* RFC 9111 §4.1: a stored response is selected by its Vary fields. */
START_TEST(variants_select_and_replace)
{
	struct store_options o = small_opts();
	struct store *s = open_store("vary", 16 * MIB, &o);
	struct obj gz = { .url = "http://x/v", .sk = "gzip", .vary = "accept-encoding",
	    .seed = 1, .len = 100 };
	struct obj br = { .url = "http://x/v", .sk = "br", .vary = "accept-encoding",
	    .seed = 2, .len = 200 * KIB };
	struct obj gz2 = { .url = "http://x/v", .sk = "gzip", .vary = "accept-encoding",
	    .seed = 3, .len = 300 };
	struct store_object r, old;
	struct evbuffer *b = evbuffer_new();

	ck_assert_int_eq(put_object(s, &gz, 0), 0);
	ck_assert_int_eq(put_object(s, &br, 0), 0);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/v", "gzip", &old), 0);
	ck_assert_uint_eq(old.body_len, 100);
	ck_assert_str_eq(old.vary, "accept-encoding");
	ck_assert_str_eq(old.secondary_key, "gzip");
	ck_assert_int_eq(lookup(s, "http://x/v", "br", &r), 0);
	ck_assert_int_eq(check_body(s, &r, 2), 0);
	store_object_free(&r);
	ck_assert_int_eq(lookup(s, "http://x/v", "identity", &r), STORE_ENOTFOUND);
	ck_assert_int_eq(lookup(s, "http://x/v", NULL, &r), STORE_ENOTFOUND);	/* callback refuses */
	ck_assert_int_eq(store_lookup(s, "http://x/v", 10, NULL, NULL, &r), STORE_ENOTFOUND);

	/* A new gzip response replaces the old one, chunks and all. */
	ck_assert_int_eq(put_object(s, &gz2, 0), 0);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/v", "gzip", &r), 0);
	ck_assert_uint_ne(r.id, old.id);
	ck_assert_int_eq(check_body(s, &r, 3), 0);
	store_object_free(&r);
	ck_assert_int_eq(store_read_chunk(s, old.id, 0, b), STORE_ENOTFOUND);
	store_object_free(&old);
	ck_assert(present(s, "http://x/v", "br"));
	ck_assert_uint_eq(stats(s).objects, 2);

	/* A response with other Vary names replaces every variant. */
	struct obj lang = { .url = "http://x/v", .sk = "en", .vary = "accept-language",
	    .seed = 4, .len = 10 };
	ck_assert_int_eq(put_object(s, &lang, 0), 0);
	store_sync(s);
	ck_assert(present(s, "http://x/v", "en"));
	ck_assert(!present(s, "http://x/v", "br"));
	ck_assert(!present(s, "http://x/v", "gzip"));
	ck_assert_uint_eq(stats(s).objects, 1);
	ck_assert_uint_eq(stats(s).chunks, 0);	/* lang's 10 bytes are inline */
	evbuffer_free(b);
	store_close(s);
}
END_TEST

static uint64_t
same_hash(const void *key, size_t len)
{
	return 42;
}

START_TEST(hash_collision_is_a_miss)
{
	struct store_options o = small_opts();
	o.hash_override = same_hash;
	struct store *s = open_store("collide", 16 * MIB, &o);
	struct obj a = { .url = "http://x/a", .seed = 1, .len = 100 };
	struct obj b = { .url = "http://x/b", .seed = 2, .len = 200 };
	struct store_object r;

	ck_assert_int_eq(put_object(s, &a, 0), 0);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/b", NULL, &r), STORE_ENOTFOUND);
	ck_assert_int_eq(lookup(s, "http://x/a", NULL, &r), 0);
	ck_assert_int_eq(check_body(s, &r, 1), 0);
	store_object_free(&r);
	/* The colliding URL takes the variants record over; a is now a miss. */
	ck_assert_int_eq(put_object(s, &b, 0), 0);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/a", NULL, &r), STORE_ENOTFOUND);
	ck_assert_int_eq(lookup(s, "http://x/b", NULL, &r), 0);
	ck_assert_int_eq(check_body(s, &r, 2), 0);
	store_object_free(&r);
	ck_assert_uint_eq(stats(s).objects, 1);
	/* Invalidating a leaves b alone. */
	ck_assert_int_eq(store_invalidate(s, "http://x/a", 10), 0);
	store_sync(s);
	ck_assert(present(s, "http://x/b", NULL));
	store_close(s);
}
END_TEST

START_TEST(visible_only_when_complete)
{
	struct store_options o = small_opts();
	struct store *s = open_store("visible", 16 * MIB, &o);
	uint8_t *body = make_body(9, 4 * 64 * KIB + 5);
	struct store_object_meta m = { .status = 200, .headers = "", .headers_len = 0 };
	struct store_object r;

	struct store_write *w = store_write_begin(s, "http://x/w", 10);
	ck_assert_int_eq(store_write_append(w, body, 3 * 64 * KIB), 0);
	store_sync(s);
	ck_assert_uint_eq(stats(s).chunks, 3);		/* committed, yet invisible */
	ck_assert_int_eq(lookup(s, "http://x/w", NULL, &r), STORE_ENOTFOUND);
	ck_assert_int_eq(store_write_append(w, body + 3 * 64 * KIB, 64 * KIB + 5), 0);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/w", NULL, &r), STORE_ENOTFOUND);
	ck_assert_int_eq(store_write_finish(w, &m), 0);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/w", NULL, &r), 0);
	ck_assert_int_eq(check_body(s, &r, 9), 0);
	store_object_free(&r);

	/* Aborted: never visible, its committed chunks deleted. */
	w = store_write_begin(s, "http://x/ab", 11);
	ck_assert_int_eq(store_write_append(w, body, 2 * 64 * KIB + 1), 0);
	store_sync(s);
	ck_assert_uint_eq(stats(s).chunks, 5 + 2);
	store_write_abort(w);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/ab", NULL, &r), STORE_ENOTFOUND);
	ck_assert_uint_eq(stats(s).chunks, 5);
	ck_assert_uint_eq(stats(s).objects, 1);
	free(body);
	store_close(s);
}
END_TEST

START_TEST(too_big_is_refused)
{
	struct store_options o = small_opts();
	o.max_object = 100 * KIB;
	struct store *s = open_store("toobig", 16 * MIB, &o);
	uint8_t *body = make_body(1, 101 * KIB);
	struct store_object_meta m = { .status = 200 };
	struct store_object r;

	struct store_write *w = store_write_begin(s, "http://x/big", 12);
	ck_assert_int_eq(store_write_append(w, body, 64 * KIB), 0);
	ck_assert_int_eq(store_write_append(w, body, 37 * KIB), STORE_ENOSPC);
	ck_assert_int_eq(store_write_append(w, body, 1), STORE_ENOSPC);
	ck_assert_int_eq(store_write_finish(w, &m), STORE_ENOSPC);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/big", NULL, &r), STORE_ENOTFOUND);
	ck_assert_uint_eq(stats(s).chunks, 0);
	ck_assert_uint_ge(stats(s).write_rejects, 1);
	free(body);
	store_close(s);
}
END_TEST

START_TEST(queue_bound_refuses_and_abandons)
{
	struct store_options o = small_opts();
	o.queue_bytes = 4 * 64 * KIB;
	struct store *s = open_store("queue", 16 * MIB, &o);
	uint8_t *body = make_body(1, 64 * KIB);
	struct store_object_meta m = { .status = 200 };
	struct store_object r;
	MDB_txn *block;
	int ret = 0, n = 0;

	/* Hold LMDB's write lock so that the writer cannot drain the queue. */
	ck_assert_int_eq(mdb_txn_begin(s->env, NULL, 0, &block), 0);
	struct store_write *w = store_write_begin(s, "http://x/q", 10);
	while (n < 100 && (ret = store_write_append(w, body, 64 * KIB)) == 0)
		n++;
	ck_assert_int_eq(ret, STORE_EBUSY);
	ck_assert_int_le(n, 5);		/* the writer may hold one batch */
	ck_assert_int_eq(store_write_append(w, body, 1), STORE_EBUSY);
	ck_assert_int_eq(store_write_finish(w, &m), STORE_EBUSY);
	mdb_txn_abort(block);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/q", NULL, &r), STORE_ENOTFOUND);
	ck_assert_uint_eq(stats(s).chunks, 0);
	ck_assert_uint_eq(stats(s).queue_bytes, 0);
	free(body);
	store_close(s);
}
END_TEST

/*
 * store_write_congested: false while the queue holds at most half its
 * bound, true beyond (appends still succeed up to the bound), false again
 * once the writer drained it; the object written meanwhile is stored.
 */
START_TEST(queue_congested_past_half_its_bound)
{
	struct store_options o = small_opts();
	o.queue_bytes = 8 * 64 * KIB;
	struct store *s = open_store("congested", 16 * MIB, &o);
	uint8_t *body = make_body(1, 64 * KIB);
	struct store_object_meta m = { .status = 200 };
	struct store_object r;
	MDB_txn *block;
	int n = 0;

	ck_assert(!store_write_congested(s));
	ck_assert_int_eq(mdb_txn_begin(s->env, NULL, 0, &block), 0);
	struct store_write *w = store_write_begin(s, "http://x/c", 10);
	while (n < 20 && !store_write_congested(s)) {
		ck_assert_int_eq(store_write_append(w, body, 64 * KIB), 0);
		n++;
	}
	/* More than half of 8 chunks queued (the writer may hold a batch
	 * taken before it blocked, which no longer counts). */
	ck_assert_int_ge(n, 5);
	ck_assert_int_lt(n, 20);
	ck_assert_int_eq(store_write_append(w, body, 64 * KIB), 0);
	ck_assert(store_write_congested(s));
	mdb_txn_abort(block);
	ck_assert_int_eq(store_write_finish(w, &m), 0);
	store_sync(s);
	ck_assert(!store_write_congested(s));
	ck_assert_int_eq(lookup(s, "http://x/c", NULL, &r), 0);
	ck_assert_uint_eq(r.body_len, (uint64_t)(n + 1) * 64 * KIB);
	store_object_free(&r);
	free(body);
	store_close(s);
}
END_TEST

/*
 * Objects finished out of id order, as concurrent misses finish (here in
 * windows of 8 begun together and finished shuffled): a put that is not
 * the largest key is refused as an append (store_tx_put) and made the
 * ordinary way. Every object is stored and found, with its own body.
 */
START_TEST(objects_finished_out_of_id_order_all_stored)
{
	static const unsigned order[8] = { 2, 0, 1, 5, 3, 4, 7, 6 };
	struct store_options o = small_opts();
	struct store *s = open_store("append", 16 * MIB, &o);
	struct store_object_meta m = { .status = 200, .headers = "A: b\r\n", .headers_len = 6 };
	struct store_object r;
	char url[64];

	for (unsigned i = 0; i < 400; i += 8) {
		struct store_write *w[8];

		for (unsigned j = 0; j < 8; j++) {
			uint8_t *body = make_body(i + j, 1400);

			snprintf(url, sizeof(url), "http://x/a%u", i + j);
			w[j] = store_write_begin(s, url, strlen(url));
			ck_assert_int_eq(store_write_append(w[j], body, 1400), 0);
			free(body);
		}
		for (unsigned j = 0; j < 8; j++)
			ck_assert_int_eq(store_write_finish(w[order[j]], &m), 0);
		if (i % 64 == 56)
			store_sync(s);	/* several batches, as under load */
	}
	store_sync(s);
	ck_assert_uint_eq(stats(s).objects, 400);
	for (unsigned i = 0; i < 400; i++) {
		snprintf(url, sizeof(url), "http://x/a%u", i);
		ck_assert_int_eq(lookup(s, url, NULL, &r), 0);
		ck_assert_int_eq(check_body(s, &r, i), 0);
		store_object_free(&r);
	}
	store_close(s);
}
END_TEST

START_TEST(persists_across_reopen)
{
	struct store_options o = small_opts();
	struct store *s = open_store("persist", 16 * MIB, &o);
	struct obj a = { .url = "http://x/p", .seed = 5, .len = 3 * 64 * KIB + 3 };
	struct obj b = { .url = "http://x/v", .sk = "br", .vary = "accept-encoding",
	    .seed = 6, .len = 10 };
	struct store_object r;

	ck_assert_int_eq(put_object(s, &a, 0), 0);
	ck_assert_int_eq(put_object(s, &b, 0), 0);
	store_close(s);
	s = open_store("persist", 16 * MIB, &o);
	ck_assert_int_eq(lookup(s, "http://x/p", NULL, &r), 0);
	ck_assert_int_eq(check_body(s, &r, 5), 0);
	uint64_t id = r.id;
	store_object_free(&r);
	ck_assert(present(s, "http://x/v", "br"));
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.objects, 2);
	ck_assert_uint_eq(st.open_orphan_chunks + st.open_bad_objects + st.open_bad_variants, 0);
	/* New ids keep growing after a restart. */
	ck_assert_int_eq(put_object(s, &a, 0), 0);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/p", NULL, &r), 0);
	ck_assert_uint_gt(r.id, id);
	store_object_free(&r);
	store_close(s);
}
END_TEST

START_TEST(second_open_refused)
{
	struct store_options o = small_opts();
	struct store *s = open_store("twice", 16 * MIB, &o);
	char dir[512], err[256];

	store_dir(dir, sizeof(dir), "twice");
	ck_assert_ptr_null(store_open(dir, 16 * MIB, &o, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "in use"));
	ck_assert_ptr_null(store_open(dir, 1000, &o, err, sizeof(err)));
	store_close(s);
}
END_TEST

/* A writer killed in the middle of an object: the store opens clean. */
START_TEST(crash_leaves_no_trace)
{
	struct store_options o = small_opts();
	struct store *s = open_store("crash", 16 * MIB, &o);
	struct obj a = { .url = "http://x/before", .seed = 1, .len = 2 * 64 * KIB + 9 };
	int status;

	ck_assert_int_eq(put_object(s, &a, 0), 0);
	store_close(s);

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct store *c = open_store("crash", 16 * MIB, &o);
		uint8_t *body = make_body(2, 64 * KIB);
		if (!c->open_clean)	/* the parent closed it cleanly */
			_exit(2);
		struct store_write *w = store_write_begin(c, "http://x/torn", 13);
		for (int i = 0; i < 5; i++)
			if (store_write_append(w, body, 64 * KIB) != 0)
				_exit(3);
		store_sync(c);
		kill(getpid(), SIGKILL);
		_exit(4);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "child status %#x", status);

	/* The child's clean open took the record out: this open checks. */
	s = open_store("crash", 16 * MIB, &o);
	ck_assert(!s->open_clean);
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.open_orphan_chunks, 5);
	ck_assert_uint_eq(st.chunks, 3);
	ck_assert_uint_eq(st.objects, 1);
	ck_assert(!present(s, "http://x/torn", NULL));
	struct store_object r;
	ck_assert_int_eq(lookup(s, "http://x/before", NULL, &r), 0);
	ck_assert_int_eq(check_body(s, &r, 1), 0);
	store_object_free(&r);
	store_close(s);
}
END_TEST

/* Commits a transaction behind the store's back (rewrites meta next_id). */
static void
commit_behind(const char *name)
{
	char dir[512];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 7, "next_id" }, v;

	store_dir(dir, sizeof(dir), name);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 4), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	ck_assert_int_eq(mdb_get(txn, dbi, &k, &v), 0);
	uint8_t id[8];
	ck_assert_uint_eq(v.mv_size, sizeof(id));
	memcpy(id, v.mv_data, sizeof(id));
	v.mv_data = id;
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/*
 * After store_close the next open skips the check and rebuilds the same
 * accounting and eviction state as the check does; a transaction committed
 * after the close makes the open check again.
 */
START_TEST(clean_close_skips_the_check)
{
	struct store_options o = small_opts();
	struct store *s = open_store("clean", 16 * MIB, &o);
	struct obj objs[] = {
		{ .url = "http://x/multi", .seed = 1, .len = 3 * 64 * KIB + 11 },
		{ .url = "http://x/exact", .seed = 2, .len = 2 * 64 * KIB },
		{ .url = "http://x/empty", .seed = 3, .len = 0, .status = 204 },
		{ .url = "http://x/v", .sk = "gzip", .vary = "accept-encoding", .seed = 4, .len = 5000 },
		{ .url = "http://x/v", .sk = "br", .vary = "accept-encoding", .seed = 5, .len = 70 * KIB },
		{ .url = "http://x/gone", .seed = 6, .len = 100 * KIB },
	};

	ck_assert(!s->open_clean);	/* a new store */
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
		ck_assert_int_eq(put_object(s, &objs[i], 0), 0);
	store_sync(s);
	ck_assert_int_eq(store_invalidate(s, "http://x/gone", 13), 1);
	store_sync(s);
	struct store_stats before = stats(s);
	ck_assert_uint_eq(before.objects, 5);
	store_close(s);

	s = open_store("clean", 16 * MIB, &o);
	ck_assert(s->open_clean);
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.bytes, before.bytes);
	ck_assert_uint_eq(st.objects, before.objects);
	ck_assert_uint_eq(st.chunks, before.chunks);
	ck_assert_uint_eq(st.open_orphan_chunks + st.open_bad_objects + st.open_bad_variants, 0);
	size_t tracked = store_evict_count(s->ev);
	uint64_t tracked_bytes = store_evict_bytes(s->ev);
	ck_assert_uint_eq(tracked, 5);
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]) - 1; i++) {
		struct store_object r;
		ck_assert_int_eq(lookup(s, objs[i].url, objs[i].sk, &r), 0);
		ck_assert_int_eq(check_body(s, &r, objs[i].seed), 0);
		store_object_free(&r);
	}
	ck_assert(!present(s, "http://x/gone", NULL));
	store_close(s);

	/* Clean again; then another process commits: the record is stale. */
	s = open_store("clean", 16 * MIB, &o);
	ck_assert(s->open_clean);
	store_close(s);
	commit_behind("clean");
	s = open_store("clean", 16 * MIB, &o);
	ck_assert(!s->open_clean);
	st = stats(s);
	ck_assert_uint_eq(st.bytes, before.bytes);
	ck_assert_uint_eq(st.objects, before.objects);
	ck_assert_uint_eq(st.chunks, before.chunks);
	ck_assert_uint_eq(st.open_orphan_chunks + st.open_bad_objects + st.open_bad_variants, 0);
	ck_assert_uint_eq(store_evict_count(s->ev), tracked);
	ck_assert_uint_eq(store_evict_bytes(s->ev), tracked_bytes);
	ck_assert(present(s, "http://x/v", "br"));
	store_close(s);
}
END_TEST

/*
 * A clean record that claims to be the last transaction but whose counts are
 * not the DBs' is not trusted: used below the objects' charge (0), one
 * object too many (1), one chunk too many (2), or a chunk left out (3).
 */
START_TEST(clean_record_must_match_the_dbs)
{
	struct store_options o = small_opts();
	char name[32], dir[512];
	snprintf(name, sizeof(name), "mismatch%d", _i);
	struct store *s = open_store(name, 16 * MIB, &o);
	struct obj a = { .url = "http://x/a", .seed = 1, .len = 2 * 64 * KIB + 5 };

	ck_assert_int_eq(put_object(s, &a, 0), 0);
	store_sync(s);
	struct store_stats before = stats(s);
	store_close(s);

	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, chunks;
	MDB_val k = { strlen(STORE_CLEAN_KEY), STORE_CLEAN_KEY }, v;
	uint8_t rec[STORE_CLEAN_LEN], ck[STORE_CHUNK_KEY];
	store_dir(dir, sizeof(dir), name);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 4), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	ck_assert_int_eq(mdb_get(txn, meta, &k, &v), 0);
	ck_assert_uint_eq(v.mv_size, sizeof(rec));
	memcpy(rec, v.mv_data, sizeof(rec));
	store_put64(rec, mdb_txn_id(txn));
	if (_i == 0) {
		store_put64(rec + 8, 0);
	} else if (_i == 1 || _i == 2) {
		uint8_t *count = rec + 8 * (size_t)(_i + 1);	/* objects, chunks */
		store_put64(count, store_get64(count) + 1);
	} else {
		MDB_val kk = { sizeof(ck), ck }, vv = { 10, "0123456789" };
		store_put64(ck, 999999);
		store_put32(ck + 8, 0);
		ck_assert_int_eq(mdb_dbi_open(txn, "chunks", 0, &chunks), 0);
		ck_assert_int_eq(mdb_put(txn, chunks, &kk, &vv, 0), 0);
	}
	v = (MDB_val){ sizeof(rec), rec };
	ck_assert_int_eq(mdb_put(txn, meta, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	s = open_store(name, 16 * MIB, &o);
	ck_assert(!s->open_clean);
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.bytes, before.bytes);
	ck_assert_uint_eq(st.objects, before.objects);
	ck_assert_uint_eq(st.chunks, before.chunks);
	ck_assert_uint_eq(st.open_orphan_chunks, _i == 3);
	ck_assert(present(s, "http://x/a", NULL));
	store_close(s);
}
END_TEST

/* An object still being written at store_close: its chunks are found. */
START_TEST(write_open_at_close_is_checked)
{
	struct store_options o = small_opts();
	struct store *s = open_store("openwrite", 16 * MIB, &o);
	struct obj a = { .url = "http://x/kept", .seed = 1, .len = 64 * KIB + 1 };
	int status;

	ck_assert_int_eq(put_object(s, &a, 0), 0);
	store_close(s);

	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* A caller that never finished nor aborted: store_close all the same. */
		struct store *c = open_store("openwrite", 16 * MIB, &o);
		uint8_t *body = make_body(2, 3 * 64 * KIB);
		struct store_write *w = store_write_begin(c, "http://x/unfinished", 19);
		if (store_write_append(w, body, 3 * 64 * KIB) != 0)
			_exit(3);
		store_close(c);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);

	s = open_store("openwrite", 16 * MIB, &o);
	ck_assert(!s->open_clean);
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.open_orphan_chunks, 3);
	ck_assert_uint_eq(st.objects, 1);
	ck_assert_uint_eq(st.chunks, 2);
	ck_assert(!present(s, "http://x/unfinished", NULL));
	struct store_object r;
	ck_assert_int_eq(lookup(s, "http://x/kept", NULL, &r), 0);
	ck_assert_int_eq(check_body(s, &r, 1), 0);
	store_object_free(&r);
	store_close(s);
	s = open_store("openwrite", 16 * MIB, &o);
	ck_assert(s->open_clean);
	ck_assert_uint_eq(stats(s).bytes, st.bytes);
	store_close(s);
}
END_TEST

START_TEST(unknown_record_version_dropped_at_open)
{
	struct store_options o = small_opts();
	struct store *s = open_store("version", 16 * MIB, &o);
	struct obj a = { .url = "http://x/a", .seed = 1, .len = 70 * KIB };
	struct obj b = { .url = "http://x/b", .seed = 2, .len = 10 };
	struct store_object r;

	ck_assert_int_eq(put_object(s, &a, 0), 0);
	ck_assert_int_eq(put_object(s, &b, 0), 0);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/a", NULL, &r), 0);
	uint64_t id = r.id;
	store_object_free(&r);
	store_close(s);

	/* Rewrite a's objects record with version 3, behind the store's back. */
	char dir[512];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	store_dir(dir, sizeof(dir), "version");
	store_put64(kb, id);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 4), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "objects", 0, &dbi), 0);
	ck_assert_int_eq(mdb_get(txn, dbi, &k, &v), 0);
	uint8_t *rec = malloc(v.mv_size);
	memcpy(rec, v.mv_data, v.mv_size);
	rec[0] = 3;
	v.mv_data = rec;
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(rec);

	/* The rewrite committed after the clean close: the check runs. */
	s = open_store("version", 16 * MIB, &o);
	ck_assert(!s->open_clean);
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.open_bad_objects, 1);
	ck_assert_uint_eq(st.open_orphan_chunks, 2);
	ck_assert_uint_eq(st.open_bad_variants, 1);
	ck_assert(!present(s, "http://x/a", NULL));
	ck_assert(present(s, "http://x/b", NULL));
	ck_assert_uint_eq(st.objects, 1);
	ck_assert_uint_eq(st.chunks, 0);	/* b's 10 bytes are inline */
	store_close(s);
}
END_TEST

START_TEST(unknown_format_empties_store)
{
	struct store_options o = small_opts();
	struct store *s = open_store("format", 16 * MIB, &o);
	struct obj a = { .url = "http://x/a", .seed = 1, .len = 70 * KIB };

	ck_assert_int_eq(put_object(s, &a, 0), 0);
	store_close(s);

	/* A future layout: meta "format" = 99. */
	char dir[512];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t fmt[4];
	MDB_val k = { 6, "format" }, v = { 4, fmt };
	store_dir(dir, sizeof(dir), "format");
	store_put32(fmt, 99);
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 4), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	s = open_store("format", 16 * MIB, &o);
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.objects, 0);
	ck_assert_uint_eq(st.chunks, 0);
	ck_assert_uint_eq(st.bytes, 0);
	ck_assert(!present(s, "http://x/a", NULL));
	ck_assert_int_eq(put_object(s, &a, 0), 0);
	store_sync(s);
	ck_assert(present(s, "http://x/a", NULL));
	store_close(s);
}
END_TEST

/* Writing ten times the bound: no error, never above it, the newest kept. */
START_TEST(size_bound_holds)
{
	struct store_options o = small_opts();
	const uint64_t bound = 4 * MIB;
	o.queue_bytes = 0;	/* the default: 512 KiB here, more than one object */
	struct store *s = open_store("bound", bound, &o);
	char url[64];
	uint64_t written = 0;
	unsigned n = 0;

	while (written < 10 * bound) {
		size_t len = 100 * KIB + (n * 7919u) % (200 * KIB);
		snprintf(url, sizeof(url), "http://x/%u", n);
		struct obj ob = { .url = url, .seed = n, .len = len };
		ck_assert_int_eq(put_object(s, &ob, 16 * KIB), 0);
		written += len;
		n++;
		store_sync(s);
		ck_assert_uint_le(stats(s).bytes, bound);
	}
	store_sync(s);
	struct store_stats st = stats(s);
	ck_assert_uint_le(st.bytes, bound);
	ck_assert_uint_gt(st.bytes, bound / 2);
	ck_assert_uint_gt(st.evictions, 0);
	ck_assert_uint_eq(st.write_failures, 0);
	ck_assert_uint_eq(st.write_rejects, 0);
	ck_assert_uint_eq(st.inserts, n);
	ck_assert_uint_eq(st.objects + st.evictions, n);
	for (unsigned i = n - 5; i < n; i++) {
		struct store_object r;
		snprintf(url, sizeof(url), "http://x/%u", i);
		ck_assert_int_eq(lookup(s, url, NULL, &r), 0);
		ck_assert_int_eq(check_body(s, &r, i), 0);
		store_object_free(&r);
	}
	ck_assert(!present(s, "http://x/0", NULL));
	store_close(s);

	/* Reopened with half the bound: evicted down to it at (a clean) open. */
	s = open_store("bound", bound / 2, &o);
	ck_assert(s->open_clean);
	ck_assert_uint_le(stats(s).bytes, bound / 2);
	snprintf(url, sizeof(url), "http://x/%u", n - 1);
	ck_assert(present(s, url, NULL));
	store_close(s);
}
END_TEST

/* With almost no map slack LMDB reports MAP_FULL; no caller ever sees it. */
START_TEST(map_full_is_absorbed)
{
	struct store_options o = small_opts();
	o.map_slack = 64 * KIB;
	const uint64_t bound = 2 * MIB;
	struct store *s = open_store("mapfull", bound, &o);
	char url[64];

	unsigned n;

	for (n = 0; n < 60; n++) {
		snprintf(url, sizeof(url), "http://x/%u", n);
		struct obj ob = { .url = url, .seed = n, .len = 150 * KIB };
		ck_assert_int_eq(put_object(s, &ob, 0), 0);
		store_sync(s);
		ck_assert_uint_le(stats(s).bytes, bound);
	}
	ck_assert_uint_gt(stats(s).map_full, 0);
	/* Not wedged: the newest objects were stored and are served. */
	for (unsigned i = n - 3; i < n; i++) {
		struct store_object r;
		snprintf(url, sizeof(url), "http://x/%u", i);
		ck_assert_int_eq(lookup(s, url, NULL, &r), 0);
		ck_assert_int_eq(check_body(s, &r, i), 0);
		store_object_free(&r);
	}
	store_close(s);
}
END_TEST

/* A hit marks the object: under eviction pressure it outlives its peers. */
START_TEST(hits_protect_from_eviction)
{
	enum store_evict_policy p = (enum store_evict_policy)_i;
	struct store_options o = small_opts();
	o.policy = p;
	const uint64_t bound = 2 * MIB;
	struct store *s = open_store(store_evict_policy_name(p), bound, &o);
	char url[64];
	unsigned n;

	for (n = 0; n < 10; n++) {
		snprintf(url, sizeof(url), "http://x/%u", n);
		struct obj ob = { .url = url, .seed = n, .len = 150 * KIB };
		ck_assert_int_eq(put_object(s, &ob, 0), 0);
	}
	store_sync(s);
	ck_assert_uint_eq(stats(s).evictions, 0);
	ck_assert(present(s, "http://x/0", NULL));
	for (; stats(s).evictions < 3; n++) {
		snprintf(url, sizeof(url), "http://x/%u", n);
		struct obj ob = { .url = url, .seed = n, .len = 150 * KIB };
		ck_assert_int_eq(put_object(s, &ob, 0), 0);
		store_sync(s);
	}
	ck_assert(present(s, "http://x/0", NULL));
	ck_assert(!present(s, "http://x/1", NULL));
	store_close(s);
}
END_TEST

/* RFC 9111 §4.3.4: a 304 updates the stored headers; the body stays. */
/* RFC 9111 §4.3.4, for a body in chunks (0) and an inline one (1). */
START_TEST(update_meta_keeps_body)
{
	struct store_options o = small_opts();
	struct store *s = open_store(_i == 0 ? "update" : "update_inline", 16 * MIB, &o);
	struct obj a = { .url = "http://x/u", .sk = "gzip", .vary = "accept-encoding",
	    .seed = 3, .len = _i == 0 ? 100 * KIB : 3000, .headers = "ETag: \"a\"\r\n" };
	struct store_object r, r2;

	ck_assert_int_eq(put_object(s, &a, 0), 0);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/u", "gzip", &r), 0);
	const char *h = "ETag: \"a\"\r\nCache-Control: max-age=60\r\n";
	struct store_object_meta m = { .status = 200, .flags = 9, .request_time = 2000,
	    .response_time = 2001, .headers = h, .headers_len = strlen(h),
	    .secondary_key = "ignored", .secondary_key_len = 7 };
	ck_assert_int_eq(store_update_meta(s, r.id, &m), 0);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/u", "gzip", &r2), 0);
	ck_assert_uint_eq(r2.id, r.id);
	ck_assert_str_eq(r2.headers, h);
	ck_assert_uint_eq(r2.flags, 9);
	ck_assert_int_eq(r2.request_time, 2000);
	ck_assert_int_eq(r2.response_time, 2001);
	ck_assert_str_eq(r2.secondary_key, "gzip");
	ck_assert_uint_eq(r2.chunk_count, r.chunk_count);
	ck_assert_int_eq(check_body(s, &r2, 3), 0);
	store_object_free(&r2);
	/* An update for an object that is gone is harmless. */
	ck_assert_int_eq(store_update_meta(s, r.id + 1000, &m), 0);
	store_sync(s);
	store_object_free(&r);
	store_close(s);
}
END_TEST

/* RFC 9111 §4.4: invalidation removes every stored response of the URL. */
START_TEST(invalidate_every_variant)
{
	struct store_options o = small_opts();
	struct store *s = open_store("invalidate", 16 * MIB, &o);
	struct obj gz = { .url = "http://x/i", .sk = "gzip", .vary = "accept-encoding",
	    .seed = 1, .len = 100 * KIB };
	struct obj br = { .url = "http://x/i", .sk = "br", .vary = "accept-encoding",
	    .seed = 2, .len = 10 };
	struct obj other = { .url = "http://x/j", .seed = 3, .len = 10 };

	ck_assert_int_eq(put_object(s, &gz, 0), 0);
	ck_assert_int_eq(put_object(s, &br, 0), 0);
	ck_assert_int_eq(put_object(s, &other, 0), 0);
	store_sync(s);
	ck_assert_int_eq(store_invalidate(s, "http://x/i", 10), 2);
	/* Gone for lookups at once, before the writer deleted anything. */
	ck_assert(!present(s, "http://x/i", "gzip"));
	ck_assert(!present(s, "http://x/i", "br"));
	store_sync(s);
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.invalidations, 2);
	ck_assert_uint_eq(st.objects, 1);
	ck_assert_uint_eq(st.chunks, 0);	/* j's 10 bytes are inline */
	ck_assert(present(s, "http://x/j", NULL));
	ck_assert_int_eq(store_invalidate(s, "http://x/i", 10), 0);
	ck_assert_int_eq(store_invalidate(s, "http://x/none", 13), 0);
	store_close(s);
}
END_TEST

/* ---- invalidations that fail (RFC 9111 §4.4) ------------------------------ */

/* Whether the store directory `name` holds the pending-invalidations file. */
static bool
pending_file(const char *name)
{
	char dir[512], path[600];

	store_dir(dir, sizeof(dir), name);
	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, STORE_PENDING_FILE),
	    (int)sizeof(path));
	return access(path, F_OK) == 0;
}

/* The test hook of store_int.h: operations of these kinds fail with rc. */
static void
set_fault(struct store *s, unsigned kinds, int rc)
{
	atomic_store(&s->fault_rc, rc);
	atomic_store(&s->fault_ops, kinds);
}

static const struct obj inv_gz = { .url = "http://x/i", .sk = "gzip",
    .vary = "accept-encoding", .seed = 1, .len = 100 * KIB };
static const struct obj inv_br = { .url = "http://x/i", .sk = "br",
    .vary = "accept-encoding", .seed = 2, .len = 10 };
static const struct obj inv_other = { .url = "http://x/j", .seed = 3, .len = 10 };

/* Stores the two variants of http://x/i and http://x/j; returns the gzip id. */
static uint64_t
put_inv_objects(struct store *s)
{
	struct store_object r;

	ck_assert_int_eq(put_object(s, &inv_gz, 0), 0);
	ck_assert_int_eq(put_object(s, &inv_br, 0), 0);
	ck_assert_int_eq(put_object(s, &inv_other, 0), 0);
	store_sync(s);
	ck_assert_int_eq(lookup(s, "http://x/i", "gzip", &r), 0);
	uint64_t id = r.id;
	store_object_free(&r);
	return id;
}

/* Neither variant of http://x/i is served, http://x/j is. */
static void
assert_invalidated(struct store *s)
{
	ck_assert(!present(s, "http://x/i", "gzip"));
	ck_assert(!present(s, "http://x/i", "br"));
	ck_assert(present(s, "http://x/j", NULL));
}

/*
 * An invalidation whose commit fails (an I/O error, or MDB_MAP_FULL that
 * evicting cannot cure) stays hidden: a miss, no pin, no touch, though the
 * objects are still stored. Every later batch retries it first (nothing
 * commits while it fails), and once it can commit the objects go, before a
 * response stored after the invalidation, which survives.
 */
START_TEST(failed_invalidation_is_retried)
{
	static const int codes[] = { EIO, MDB_MAP_FULL };
	struct store_options o = small_opts();
	char name[32];
	snprintf(name, sizeof(name), "invretry%d", _i);
	struct store *s = open_store(name, 16 * MIB, &o);
	uint64_t id = put_inv_objects(s);
	struct obj k = { .url = "http://x/k", .seed = 4, .len = 10 };
	struct obj gz2 = inv_gz;
	struct store_object r;

	gz2.seed = 5;
	set_fault(s, 1u << OP_INVALIDATE, codes[_i]);
	ck_assert_int_eq(store_invalidate(s, "http://x/i", 10), 2);
	store_sync(s);
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.objects, 3);
	ck_assert_uint_eq(st.invalidations, 0);
	ck_assert_uint_eq(st.write_failures, 1);
	ck_assert_uint_eq(st.map_full > 0, codes[_i] == MDB_MAP_FULL);
	ck_assert_uint_eq(s->npending, 1);
	ck_assert(pending_file(name));
	assert_invalidated(s);
	ck_assert_int_eq(store_pin(s, id, 0), STORE_ENOTFOUND);
	ck_assert(!store_touch(s, id));

	/* Still failing: the next batch fails with it, and nothing is shown. */
	ck_assert_int_eq(put_object(s, &k, 0), 0);
	store_sync(s);
	ck_assert(!present(s, "http://x/k", NULL));
	ck_assert_uint_eq(stats(s).objects, 3);
	ck_assert_uint_eq(s->npending, 1);
	assert_invalidated(s);
	ck_assert_int_eq(store_pin(s, id, 0), STORE_ENOTFOUND);

	/* It can commit: the next batch deletes them, then stores its own. */
	set_fault(s, 0, 0);
	ck_assert_int_eq(put_object(s, &gz2, 0), 0);
	store_sync(s);
	st = stats(s);
	ck_assert_uint_eq(s->npending, 0);
	ck_assert(!pending_file(name));
	ck_assert_uint_eq(st.invalidations, 2);
	ck_assert_uint_eq(st.objects, 2);
	ck_assert_uint_eq(st.chunks, 2);	/* gz2's; j's 10 bytes are inline */
	ck_assert_int_eq(lookup(s, "http://x/i", "gzip", &r), 0);
	ck_assert_uint_gt(r.id, id);
	ck_assert_int_eq(check_body(s, &r, 5), 0);
	store_object_free(&r);
	ck_assert(!present(s, "http://x/i", "br"));
	ck_assert(present(s, "http://x/j", NULL));
	store_close(s);

	s = open_store(name, 16 * MIB, &o);
	ck_assert(s->open_clean);
	ck_assert_uint_eq(stats(s).objects, 2);
	ck_assert(present(s, "http://x/i", "gzip"));
	ck_assert(!present(s, "http://x/i", "br"));
	store_close(s);
}
END_TEST

/*
 * The process ends while an invalidation still fails: closed cleanly (0),
 * whose last retry fails too, or killed (1, a child that _exit()s). The
 * next open hides the objects before anything can look them up, deletes
 * them, and forgets the invalidation once that committed.
 */
START_TEST(pending_invalidation_survives_restart)
{
	struct store_options o = small_opts();
	char name[32];
	snprintf(name, sizeof(name), "invrestart%d", _i);
	struct store *s = open_store(name, 16 * MIB, &o);
	int status;

	(void)put_inv_objects(s);
	if (_i == 0) {
		set_fault(s, 1u << OP_INVALIDATE, EIO);
		ck_assert_int_eq(store_invalidate(s, "http://x/i", 10), 2);
		store_close(s);
	} else {
		store_close(s);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			struct store *c = open_store(name, 16 * MIB, &o);
			set_fault(c, 1u << OP_INVALIDATE, EIO);
			if (store_invalidate(c, "http://x/i", 10) != 2)
				_exit(2);
			store_sync(c);
			_exit(c->npending == 1 ? 0 : 3);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "child status %#x", status);
	}
	ck_assert(pending_file(name));

	s = open_store(name, 16 * MIB, &o);
	/* A clean close left the DBs consistent: the hidden objects were still in them. */
	ck_assert(s->open_clean == (_i == 0));
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.invalidations, 2);
	ck_assert_uint_eq(st.objects, 1);
	ck_assert_uint_eq(st.chunks, 0);	/* j's 10 bytes are inline */
	ck_assert_uint_eq(s->npending, 0);
	ck_assert(!pending_file(name));
	assert_invalidated(s);
	store_close(s);

	s = open_store(name, 16 * MIB, &o);
	ck_assert_uint_eq(stats(s).objects, 1);
	assert_invalidated(s);
	store_close(s);
}
END_TEST

/*
 * Neither the commit nor the pending file can be written: the last resort,
 * at close, deletes the data file, and the next open starts empty rather
 * than serve what was invalidated.
 */
START_TEST(unrecorded_invalidation_empties_the_store)
{
	struct store_options o = small_opts();
	struct store *s = open_store("invwipe", 16 * MIB, &o);

	(void)put_inv_objects(s);
	set_fault(s, 1u << OP_INVALIDATE, EIO);
	atomic_store(&s->fault_record, true);
	ck_assert_int_eq(store_invalidate(s, "http://x/i", 10), 2);
	store_sync(s);
	ck_assert_uint_eq(s->npending, 1);
	ck_assert(!pending_file("invwipe"));
	assert_invalidated(s);
	store_close(s);

	s = open_store("invwipe", 16 * MIB, &o);
	struct store_stats st = stats(s);
	ck_assert_uint_eq(st.objects, 0);
	ck_assert_uint_eq(st.chunks, 0);
	ck_assert(!present(s, "http://x/i", "gzip"));
	ck_assert(!present(s, "http://x/j", NULL));
	ck_assert_int_eq(put_object(s, &inv_other, 0), 0);
	store_sync(s);
	ck_assert(present(s, "http://x/j", NULL));
	store_close(s);
}
END_TEST

/* A pending-invalidations file that does not parse: the store is emptied. */
START_TEST(unreadable_pending_file_empties_the_store)
{
	struct store_options o = small_opts();
	struct store *s = open_store("invbad", 16 * MIB, &o);
	char dir[512], path[600];

	(void)put_inv_objects(s);
	store_close(s);
	store_dir(dir, sizeof(dir), "invbad");
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_PENDING_FILE);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	/* The right header, then a record longer than the file. */
	ck_assert_int_eq(fwrite("FINV\0\0\0\1\0\0\1\0http", 1, 16, f), 16);
	ck_assert_int_eq(fclose(f), 0);

	s = open_store("invbad", 16 * MIB, &o);
	ck_assert_uint_eq(stats(s).objects, 0);
	ck_assert(!present(s, "http://x/j", NULL));
	ck_assert(!pending_file("invbad"));
	store_close(s);
}
END_TEST

/*
 * RFC 9111 §4.3.4: a 304's freshening that cannot be committed must not
 * leave the old headers served: the URL is invalidated instead. That
 * invalidation commits at once (0), or fails too and is retried (1).
 */
START_TEST(failed_update_invalidates_the_url)
{
	struct store_options o = small_opts();
	char name[32];
	snprintf(name, sizeof(name), "invupdate%d", _i);
	struct store *s = open_store(name, 16 * MIB, &o);
	uint64_t id = put_inv_objects(s);
	const char *h = "ETag: \"b\"\r\nCache-Control: no-cache\r\n";
	struct store_object_meta m = { .status = 200, .request_time = 2000,
	    .response_time = 2001, .headers = h, .headers_len = strlen(h) };

	set_fault(s, 1u << OP_UPDATE | (_i == 1 ? 1u << OP_INVALIDATE : 0), EIO);
	ck_assert_int_eq(store_update_meta(s, id, &m), 0);
	store_sync(s);
	assert_invalidated(s);
	if (_i == 1) {
		ck_assert_uint_eq(s->npending, 1);
		ck_assert(pending_file(name));
		ck_assert_uint_eq(stats(s).objects, 3);
		set_fault(s, 0, 0);
		ck_assert_int_eq(store_update_meta(s, id + 1000, &m), 0);
		store_sync(s);
	}
	ck_assert(!pending_file(name));
	ck_assert_uint_eq(s->npending, 0);
	ck_assert_uint_eq(stats(s).objects, 1);
	ck_assert_uint_eq(stats(s).invalidations, 2);
	assert_invalidated(s);
	store_close(s);
}
END_TEST

struct reader_arg {
	struct store	*s;
	atomic_bool	*done;
	unsigned	nurls;
	unsigned	hits;
	unsigned	full_reads;
};

static void *
reader_main(void *p)
{
	struct reader_arg *a = p;
	char url[64];
	unsigned i = 0;

	while (!atomic_load(a->done)) {
		struct store_object r;
		unsigned k = (i++ * 2654435761u) % a->nurls;
		snprintf(url, sizeof(url), "http://x/%u", k);
		if (lookup(a->s, url, NULL, &r) != 0)
			continue;
		a->hits++;
		ck_assert_uint_eq(r.body_len, 20 * KIB + k * 3 * KIB);
		/* A complete object, or evicted while we read: never a torn body. */
		if (check_body(a->s, &r, k) == 0)
			a->full_reads++;
		store_object_free(&r);
	}
	return NULL;
}

START_TEST(concurrent_readers_see_complete_objects)
{
	struct store_options o = small_opts();
	o.chunk_size = 16 * KIB;
	struct store *s = open_store("threads", 2 * MIB, &o);
	atomic_bool done = false;
	struct reader_arg a[2] = { { s, &done, 64, 0, 0 }, { s, &done, 64, 0, 0 } };
	pthread_t t[2];
	char url[64];

	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader_main, &a[i]), 0);
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned k = 0; k < 64; k++) {
			snprintf(url, sizeof(url), "http://x/%u", k);
			struct obj ob = { .url = url, .seed = k, .len = 20 * KIB + k * 3 * KIB };
			ck_assert_int_eq(put_object(s, &ob, 5000), 0);
			if (k % 16 == 15)
				store_sync(s);
		}
	}
	store_sync(s);
	atomic_store(&done, true);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_uint_gt(a[0].full_reads + a[1].full_reads, 0);
	ck_assert_uint_gt(stats(s).evictions, 0);
	store_close(s);
}
END_TEST

/* ---- the suite ----------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *pure = tcase_create("pure");
	TCase *lmdb = tcase_create("lmdb");

	tcase_add_test(pure, siphash_reference_vector);
	tcase_add_test(pure, objrec_round_trip_and_versions);
	tcase_add_test(pure, objrec_inline_body);
	tcase_add_test(pure, varrec_round_trip_and_versions);
	tcase_add_test(pure, evict_lru_order);
	tcase_add_test(pure, evict_sieve_keeps_visited);
	tcase_add_test(pure, evict_s3fifo_ghost_goes_to_main);
	tcase_add_loop_test(pure, evict_many_ids, STORE_EVICT_LRU, STORE_EVICT_S3FIFO + 1);
	tcase_add_test(pure, evict_policy_names);
	suite_add_tcase(s, pure);

	tcase_set_timeout(lmdb, 60);
	tcase_add_test(lmdb, round_trip_small_multi_and_empty);
	tcase_add_test(lmdb, variants_select_and_replace);
	tcase_add_test(lmdb, hash_collision_is_a_miss);
	tcase_add_test(lmdb, visible_only_when_complete);
	tcase_add_test(lmdb, too_big_is_refused);
	tcase_add_test(lmdb, queue_bound_refuses_and_abandons);
	tcase_add_test(lmdb, queue_congested_past_half_its_bound);
	tcase_add_test(lmdb, objects_finished_out_of_id_order_all_stored);
	tcase_add_test(lmdb, persists_across_reopen);
	tcase_add_test(lmdb, second_open_refused);
	tcase_add_test(lmdb, crash_leaves_no_trace);
	tcase_add_test(lmdb, clean_close_skips_the_check);
	tcase_add_loop_test(lmdb, clean_record_must_match_the_dbs, 0, 4);
	tcase_add_test(lmdb, write_open_at_close_is_checked);
	tcase_add_test(lmdb, unknown_record_version_dropped_at_open);
	tcase_add_test(lmdb, unknown_format_empties_store);
	tcase_add_test(lmdb, size_bound_holds);
	tcase_add_test(lmdb, map_full_is_absorbed);
	tcase_add_loop_test(lmdb, hits_protect_from_eviction, STORE_EVICT_LRU, STORE_EVICT_S3FIFO + 1);
	tcase_add_loop_test(lmdb, update_meta_keeps_body, 0, 2);
	tcase_add_test(lmdb, invalidate_every_variant);
	tcase_add_loop_test(lmdb, failed_invalidation_is_retried, 0, 2);
	tcase_add_loop_test(lmdb, pending_invalidation_survives_restart, 0, 2);
	tcase_add_test(lmdb, unrecorded_invalidation_empties_the_store);
	tcase_add_test(lmdb, unreadable_pending_file_empties_the_store);
	tcase_add_loop_test(lmdb, failed_update_invalidates_the_url, 0, 2);
	tcase_add_test(lmdb, concurrent_readers_see_complete_objects);
	suite_add_tcase(s, lmdb);
	return s;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");
	SRunner *sr;
	int failed;

	snprintf(base, sizeof(base), "%s/check_store.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return failed == 0 ? 0 : 1;
}

/*
 * check_hot.c: the per-worker table of ready hot responses (src/hot.c):
 * which requests it may answer (hot_request_plain, table-driven, each row
 * naming the RFC section that makes a field matter), and the table itself:
 * an entry is found only for its own key, site and configuration generation
 * and only while since <= now < fresh_until; an unusable entry is dropped;
 * a key sharing a slot never gets another key's response; the byte bound
 * and HOT_MAX_BODY are respected; the counters return to 0; and admission:
 * a key gets in at its second sighting (or first hit after a miss), keys
 * asked for once never, and a key hit all the time stays.
 *
 * Requests are built by the real parser (http1_parse_request), so the table
 * sees what req.c gives it. Check forks each test, so LeakSanitizer checks
 * every test's hot_free on its own.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hot.h"
#include "http1.h"

/* ---- hot_request_plain --------------------------------------------------- */

struct plain_case {
	const char	*name;
	const char	*head;		/* request head; the blank line is added */
	bool		want;
};

static const struct plain_case plain_cases[] = {
	{ "plain GET", "GET /a HTTP/1.1\r\nHost: h\r\n", true },
	{ "plain HEAD", "HEAD /a HTTP/1.1\r\nHost: h\r\n", true },
	{ "plain GET from an HTTP/1.0 client", "GET /a HTTP/1.0\r\n", true },
	{ "GET with unrelated fields", "GET /a HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n"
	  "Accept: */*\r\nAccept-Encoding: gzip\r\nCookie: c=1\r\nConnection: keep-alive\r\n",
	  true },
	{ "field starting with I but not If-: Indeed", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "Indeed: yes\r\n", true },
	{ "field named If alone", "GET /a HTTP/1.1\r\nHost: h\r\nIf: x\r\n", true },
	{ "field named Ifx-Thing", "GET /a HTTP/1.1\r\nHost: h\r\nIfx-Thing: x\r\n", true },
	{ "fields that only start like Range, Pragma, Cache-Control, Authorization",
	  "GET /a HTTP/1.1\r\nHost: h\r\nRanges: 1\r\nPragmatic: 1\r\nCache-Controlled: 1\r\n"
	  "Authorization-Hint: 1\r\nAuth: 1\r\nCache: 1\r\n", true },
	{ "9112 6.3 Content-Length: 0 is no body", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "Content-Length: 0\r\n", true },
	{ "9110 9.3.3 POST", "POST /a HTTP/1.1\r\nHost: h\r\n", false },
	{ "9110 9.3.4 PUT", "PUT /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n", false },
	{ "9110 9.3.5 DELETE", "DELETE /a HTTP/1.1\r\nHost: h\r\n", false },
	{ "9110 9.3.7 OPTIONS", "OPTIONS /a HTTP/1.1\r\nHost: h\r\n", false },
	{ "9110 9.3.1 GET with a sized body", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "Content-Length: 5\r\n", false },
	{ "9110 9.3.1 GET with a chunked body", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "Transfer-Encoding: chunked\r\n", false },
	{ "9111 5.2.1 Cache-Control", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "Cache-Control: max-age=100\r\n", false },
	{ "9111 5.2.1 cache-control lower case", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "cache-control: no-cache\r\n", false },
	{ "9111 5.2.1 CACHE-CONTROL upper case on HEAD", "HEAD /a HTTP/1.1\r\nHost: h\r\n"
	  "CACHE-CONTROL: only-if-cached\r\n", false },
	{ "9111 5.2.1 empty Cache-Control", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "Cache-Control:\r\n", false },
	{ "9111 5.4 Pragma", "GET /a HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n", false },
	{ "9111 5.4 pRaGmA mixed case", "GET /a HTTP/1.1\r\nHost: h\r\npRaGmA: x\r\n", false },
	{ "9110 14.2 Range", "GET /a HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n", false },
	{ "9110 14.2 range lower case", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "range: bytes=0-1\r\n", false },
	{ "9110 13.1.2 If-None-Match", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "If-None-Match: \"v1\"\r\n", false },
	{ "9110 13.1.2 if-none-match lower case on HEAD", "HEAD /a HTTP/1.1\r\nHost: h\r\n"
	  "if-none-match: *\r\n", false },
	{ "9110 13.1.3 If-Modified-Since", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "If-Modified-Since: Wed, 01 Jan 2020 00:00:00 GMT\r\n", false },
	{ "9110 13.1.5 If-Range", "GET /a HTTP/1.1\r\nHost: h\r\nIf-Range: \"v1\"\r\n",
	  false },
	{ "9110 13.1.1 If-Match", "GET /a HTTP/1.1\r\nHost: h\r\nIf-Match: \"v1\"\r\n",
	  false },
	{ "9110 13.1.4 IF-UNMODIFIED-SINCE upper case", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "IF-UNMODIFIED-SINCE: Wed, 01 Jan 2020 00:00:00 GMT\r\n", false },
	{ "9111 3.5 Authorization", "GET /a HTTP/1.1\r\nHost: h\r\n"
	  "Authorization: Basic eDp5\r\n", false },
	{ "9111 3.5 authorization lower case, after other fields",
	  "GET /a HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nauthorization: Bearer t\r\n", false },
};

START_TEST(request_plain_table)
{
	const struct plain_case *c = &plain_cases[_i];
	struct http_request req;
	char buf[1024];
	const char *why;
	size_t head_len;
	int n, st;

	n = snprintf(buf, sizeof(buf), "%s\r\n", c->head);
	ck_assert_int_lt(n, (int)sizeof(buf));
	ck_assert_msg(http1_parse_request(buf, (size_t)n, &http1_default_limits, &req,
	    &head_len, &st, &why) == HTTP1_DONE, "%s: the request does not parse", c->name);
	ck_assert_msg(hot_request_plain(&req) == c->want, "%s: hot_request_plain is %s",
	    c->name, c->want ? "false" : "true");
	http1_request_free(&req);
}
END_TEST

/* ---- the table ----------------------------------------------------------- */

#define GEN	7u

static const int site_a, site_b;	/* only their addresses matter */

/* An entry for pk, usable in [since, fresh_until), with the given bodies. */
static struct hot_entry
entry(const char *pk, const char *head, const char *body, size_t body_len,
    time_t since, time_t fresh_until)
{
	struct hot_entry e;

	memset(&e, 0, sizeof(e));
	e.pkey = (char *)pk;
	e.pkey_len = strlen(pk);
	e.store_hash = 0x1234;
	e.version = 5;
	e.cfg_generation = GEN;
	e.site = &site_a;
	e.object_id = 99;
	e.since = since;
	e.fresh_until = fresh_until;
	e.age_base = 3 - since;
	e.ttl_base = fresh_until;
	e.head = (char *)head;
	e.head_len = strlen(head);
	e.body = (char *)body;
	e.body_len = body_len;
	return e;
}

static const struct hot_entry *
find(struct hot *h, const char *pk, uint64_t gen, const void *site, time_t now)
{
	return hot_find(h, pk, strlen(pk), gen, site, now);
}

/* Key i's own key, head and body, so that a lookup can tell whose it got. */
static void
key_of(unsigned i, char *pk, size_t pkn, char *head, size_t hn, char *body, size_t bn)
{
	ck_assert_int_lt(snprintf(pk, pkn, "http://h/k%u", i), (int)pkn);
	ck_assert_int_lt(snprintf(head, hn, "HTTP/1.1 200 OK\r\nX-Key: %u", i), (int)hn);
	ck_assert_int_lt(snprintf(body, bn, "body of key %u", i), (int)bn);
}

START_TEST(found_while_fresh_with_copies_of_everything)
{
	struct hot *h = hot_new(1u << 20);
	char pk[] = "http://h/a", head[] = "HTTP/1.1 200 OK\r\nX-A: 1", body[] = "hello";
	struct hot_entry e = entry(pk, head, body, 5, 100, 160);
	const struct hot_entry *f;

	ck_assert(hot_put(h, &e));
	/* The table keeps copies: the caller's buffers may change at once. */
	memset(pk + 9, 'z', 1);
	memset(head, '#', sizeof(head) - 1);
	memset(body, '#', sizeof(body) - 1);
	for (time_t now = 100; now < 160; now += 59) {
		f = find(h, "http://h/a", GEN, &site_a, now);
		ck_assert_msg(f != NULL, "not found at %lld in [100, 160)", (long long)now);
		ck_assert_uint_eq(f->pkey_len, 10);
		ck_assert(memcmp(f->pkey, "http://h/a", 10) == 0);
		ck_assert_uint_eq(f->head_len, strlen("HTTP/1.1 200 OK\r\nX-A: 1"));
		ck_assert(memcmp(f->head, "HTTP/1.1 200 OK\r\nX-A: 1", f->head_len) == 0);
		ck_assert_uint_eq(f->body_len, 5);
		ck_assert(memcmp(f->body, "hello", 5) == 0);
		ck_assert_uint_eq(f->store_hash, 0x1234);
		ck_assert_uint_eq(f->version, 5);
		ck_assert_uint_eq(f->object_id, 99);
		ck_assert_uint_eq(f->cfg_generation, GEN);
		ck_assert_ptr_eq(f->site, &site_a);
		ck_assert_int_eq(f->since, 100);
		ck_assert_int_eq(f->fresh_until, 160);
		ck_assert_int_eq(f->age_base, 3 - 100);
		ck_assert_int_eq(f->ttl_base, 160);
	}
	ck_assert_uint_eq(hot_count(h), 1);
	/* At least the head and the body are charged to the bound. */
	ck_assert_uint_ge(hot_bytes(h), strlen(head) + 5);
	hot_free(h);
}
END_TEST

/* RFC 9111 §4.2: no longer fresh at fresh_until; the entry goes. */
START_TEST(not_found_and_dropped_once_stale)
{
	struct hot *h = hot_new(1u << 20);
	struct hot_entry e = entry("http://h/a", "HTTP/1.1 200 OK", "x", 1, 100, 160);

	ck_assert(hot_put(h, &e));
	ck_assert_ptr_null(find(h, "http://h/a", GEN, &site_a, 160));
	ck_assert_uint_eq(hot_count(h), 0);
	ck_assert_uint_eq(hot_bytes(h), 0);
	/* Dropped, not just hidden: a time inside the window finds nothing. */
	ck_assert_ptr_null(find(h, "http://h/a", GEN, &site_a, 120));

	ck_assert(hot_put(h, &e));
	ck_assert_ptr_null(find(h, "http://h/a", GEN, &site_a, 100000));
	ck_assert_uint_eq(hot_count(h), 0);
	hot_free(h);
}
END_TEST

/* A clock stepping back before the entry was made ends it too. */
START_TEST(not_found_and_dropped_before_since)
{
	struct hot *h = hot_new(1u << 20);
	struct hot_entry e = entry("http://h/a", "HTTP/1.1 200 OK", "x", 1, 100, 160);

	ck_assert(hot_put(h, &e));
	ck_assert_ptr_null(find(h, "http://h/a", GEN, &site_a, 99));
	ck_assert_uint_eq(hot_count(h), 0);
	ck_assert_uint_eq(hot_bytes(h), 0);
	ck_assert_ptr_null(find(h, "http://h/a", GEN, &site_a, 100));
	hot_free(h);
}
END_TEST

/* A reloaded configuration may answer differently (Via name, site rules). */
START_TEST(not_found_and_dropped_for_another_generation)
{
	struct hot *h = hot_new(1u << 20);
	struct hot_entry e = entry("http://h/a", "HTTP/1.1 200 OK", "x", 1, 100, 160);

	ck_assert(hot_put(h, &e));
	ck_assert_ptr_null(find(h, "http://h/a", GEN + 1, &site_a, 120));
	ck_assert_uint_eq(hot_count(h), 0);
	ck_assert_uint_eq(hot_bytes(h), 0);
	ck_assert_ptr_null(find(h, "http://h/a", GEN, &site_a, 120));
	hot_free(h);
}
END_TEST

START_TEST(not_found_and_dropped_for_another_site)
{
	struct hot *h = hot_new(1u << 20);
	struct hot_entry e = entry("http://h/a", "HTTP/1.1 200 OK", "x", 1, 100, 160);

	ck_assert(hot_put(h, &e));
	ck_assert_ptr_null(find(h, "http://h/a", GEN, &site_b, 120));
	ck_assert_uint_eq(hot_count(h), 0);
	ck_assert_uint_eq(hot_bytes(h), 0);
	ck_assert_ptr_null(find(h, "http://h/a", GEN, &site_a, 120));
	hot_free(h);
}
END_TEST

/* Another key, a prefix of the key or an extension of it: no answer, and
 * the entry stays for its own key. */
START_TEST(other_keys_not_found_and_entry_kept)
{
	struct hot *h = hot_new(1u << 20);
	struct hot_entry e = entry("http://h/ab", "HTTP/1.1 200 OK", "x", 1, 100, 160);
	const char *others[] = { "http://h/ac", "http://h/a", "http://h/abc", "", "HTTP://H/AB" };

	ck_assert(hot_put(h, &e));
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		ck_assert_msg(find(h, others[i], GEN, &site_a, 120) == NULL,
		    "\"%s\" found the entry of http://h/ab", others[i]);
	ck_assert_uint_eq(hot_count(h), 1);
	ck_assert_ptr_nonnull(find(h, "http://h/ab", GEN, &site_a, 120));
	hot_free(h);
}
END_TEST

/*
 * Many more keys than the table has slots: keys share slots. Every lookup
 * returns nothing or the entry of its own key (its own head and body), the
 * newest key is always there, and the entries found are exactly the ones
 * the table counts.
 */
START_TEST(keys_sharing_a_slot_never_get_each_others_entry)
{
	const unsigned n = 40000;
	struct hot *h = hot_new((size_t)1 << 30);
	char pk[64], head[64], body[64];
	size_t found = 0;

	for (unsigned i = 0; i < n; i++) {
		key_of(i, pk, sizeof(pk), head, sizeof(head), body, sizeof(body));
		struct hot_entry e = entry(pk, head, body, strlen(body), 100, 160);
		ck_assert(hot_put(h, &e));
		ck_assert_ptr_nonnull(find(h, pk, GEN, &site_a, 120));
	}
	ck_assert_uint_lt(hot_count(h), n);
	for (unsigned i = 0; i < n; i++) {
		const struct hot_entry *f;

		key_of(i, pk, sizeof(pk), head, sizeof(head), body, sizeof(body));
		f = find(h, pk, GEN, &site_a, 120);
		if (f == NULL)
			continue;
		found++;
		ck_assert_msg(f->pkey_len == strlen(pk) && memcmp(f->pkey, pk, f->pkey_len) == 0,
		    "lookup of %s returned the entry of %.*s", pk, (int)f->pkey_len, f->pkey);
		ck_assert_msg(f->head_len == strlen(head) && memcmp(f->head, head, f->head_len) == 0,
		    "lookup of %s returned head %.*s", pk, (int)f->head_len, f->head);
		ck_assert_msg(f->body_len == strlen(body) && memcmp(f->body, body, f->body_len) == 0,
		    "lookup of %s returned body %.*s", pk, (int)f->body_len, f->body);
	}
	ck_assert_uint_eq(found, hot_count(h));
	ck_assert_uint_gt(found, 0);
	hot_free(h);
}
END_TEST

/*
 * A key pushed out of its full set by others (no entry hit, so the oldest
 * goes first): a 16 MiB table has 16384 slots (one per KiB), and 100,000
 * keys over its 4096 sets of 4 fill every set, with far fewer bytes than
 * the bound. The first key then finds nothing, and dropping it leaves
 * every other entry alone.
 */
START_TEST(drop_of_a_key_leaves_the_key_that_took_its_slot)
{
	struct hot *h = hot_new((size_t)16 << 20);
	struct hot_entry a = entry("http://h/first", "HTTP/1.1 200 OK\r\nX-Key: first", "A", 1,
	    90, 160);
	char pk[64], head[64], body[64];
	size_t count;

	ck_assert(hot_put(h, &a));
	for (unsigned i = 0; i < 100000; i++) {
		key_of(i, pk, sizeof(pk), head, sizeof(head), body, sizeof(body));
		struct hot_entry e = entry(pk, head, body, strlen(body), 100, 160);
		ck_assert(hot_put(h, &e));
	}
	count = hot_count(h);
	ck_assert_uint_eq(count, 16384);
	ck_assert_ptr_null(find(h, "http://h/first", GEN, &site_a, 120));
	hot_drop(h, "http://h/first", strlen("http://h/first"));
	ck_assert_uint_eq(hot_count(h), count);
	const struct hot_entry *f = find(h, pk, GEN, &site_a, 120);
	ck_assert_ptr_nonnull(f);
	ck_assert(f->body_len == strlen(body) && memcmp(f->body, body, f->body_len) == 0);
	hot_free(h);
}
END_TEST

/* ---- admission (hot_admit, hot_seen) -------------------------------------- */

/* What req.c does with a hit from the store: an entry only when admitted. */
static bool
offer(struct hot *h, const char *pk, const char *head, const char *body, time_t now)
{
	struct hot_entry e = entry(pk, head, body, strlen(body), now, now + 1000);

	return hot_admit(h, pk, strlen(pk)) && hot_put(h, &e);
}

/* A key is admitted at its second sighting, or at once after a miss. */
START_TEST(admitted_at_the_second_sighting_or_after_a_miss)
{
	struct hot *h = hot_new(1u << 20);

	ck_assert(!offer(h, "http://h/a", "HTTP/1.1 200 OK", "a", 100));
	ck_assert_ptr_null(find(h, "http://h/a", GEN, &site_a, 100));
	ck_assert(offer(h, "http://h/a", "HTTP/1.1 200 OK", "a", 100));
	ck_assert_ptr_nonnull(find(h, "http://h/a", GEN, &site_a, 100));
	hot_seen(h, "http://h/b", strlen("http://h/b"));
	ck_assert(offer(h, "http://h/b", "HTTP/1.1 200 OK", "b", 100));
	ck_assert_uint_eq(hot_count(h), 2);
	hot_free(h);
}
END_TEST

/*
 * Keys asked for once each never get in, however many: they would only
 * push out entries before being hit again. Keys asked for twice do, as long
 * as their sets have room (500 keys over 4096 sets of 4).
 */
START_TEST(keys_asked_once_never_admitted_keys_asked_twice_are)
{
	struct hot *h = hot_new((size_t)1 << 30);
	char pk[64], head[64], body[64];
	unsigned once = 0, twice = 0;

	for (unsigned i = 0; i < 100000; i++) {
		key_of(i, pk, sizeof(pk), head, sizeof(head), body, sizeof(body));
		once += offer(h, pk, head, body, 100);
	}
	ck_assert_uint_eq(once, 0);
	ck_assert_uint_eq(hot_count(h), 0);
	for (unsigned i = 200000; i < 200500; i++) {
		key_of(i, pk, sizeof(pk), head, sizeof(head), body, sizeof(body));
		ck_assert(!offer(h, pk, head, body, 100));
		twice += offer(h, pk, head, body, 100);
	}
	ck_assert_uint_eq(twice, 500);
	ck_assert_uint_eq(hot_count(h), 500);
	hot_free(h);
}
END_TEST

/*
 * A key hit all the time stays while 200,000 others, each asked for a few
 * times (some get in), come and go; among them, the other entries hit
 * often stay too.
 */
START_TEST(often_hit_keys_stay_while_others_pass)
{
	struct hot *h = hot_new((size_t)1 << 30);
	char pk[64], head[64], body[64];
	const char *hot_pk = "http://h/hot";

	ck_assert(!offer(h, hot_pk, "HTTP/1.1 200 OK", "hot", 100));
	ck_assert(offer(h, hot_pk, "HTTP/1.1 200 OK", "hot", 100));
	for (unsigned i = 0; i < 200000; i++) {
		key_of(i, pk, sizeof(pk), head, sizeof(head), body, sizeof(body));
		for (int k = 0; k < 3; k++)
			if (find(h, pk, GEN, &site_a, 100) == NULL)
				(void)offer(h, pk, head, body, 100);
		ck_assert_msg(find(h, hot_pk, GEN, &site_a, 100) != NULL,
		    "the key hit every time was pushed out after %u other keys", i + 1);
	}
	ck_assert_uint_gt(hot_count(h), 1000);
	hot_free(h);
}
END_TEST

START_TEST(body_over_hot_max_body_refused)
{
	struct hot *h = hot_new((size_t)1 << 30);
	char *big = malloc(HOT_MAX_BODY + 1);
	struct hot_entry e;

	ck_assert_ptr_nonnull(big);
	memset(big, 'b', HOT_MAX_BODY + 1);
	e = entry("http://h/big", "HTTP/1.1 200 OK", big, HOT_MAX_BODY + 1, 100, 160);
	ck_assert(!hot_put(h, &e));
	ck_assert_uint_eq(hot_count(h), 0);
	ck_assert_uint_eq(hot_bytes(h), 0);
	ck_assert_ptr_null(find(h, "http://h/big", GEN, &site_a, 120));
	/* The limit itself is kept. */
	e = entry("http://h/max", "HTTP/1.1 200 OK", big, HOT_MAX_BODY, 100, 160);
	ck_assert(hot_put(h, &e));
	const struct hot_entry *f = find(h, "http://h/max", GEN, &site_a, 120);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->body_len, HOT_MAX_BODY);
	ck_assert(memcmp(f->body, big, HOT_MAX_BODY) == 0);
	free(big);
	hot_free(h);
}
END_TEST

START_TEST(empty_body_kept)
{
	struct hot *h = hot_new(1u << 20);
	struct hot_entry e = entry("http://h/empty", "HTTP/1.1 200 OK\r\nContent-Length: 0",
	    NULL, 0, 100, 160);
	const struct hot_entry *f;

	ck_assert(hot_put(h, &e));
	f = find(h, "http://h/empty", GEN, &site_a, 120);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->body_len, 0);
	hot_drop(h, "http://h/empty", strlen("http://h/empty"));
	ck_assert_uint_eq(hot_count(h), 0);
	ck_assert_uint_eq(hot_bytes(h), 0);
	hot_free(h);
}
END_TEST

/* A table too small for any entry keeps nothing. */
START_TEST(zero_bound_keeps_nothing)
{
	struct hot *h = hot_new(0);
	struct hot_entry e = entry("http://h/a", "HTTP/1.1 200 OK", "x", 1, 100, 160);

	ck_assert(!hot_put(h, &e));
	ck_assert_uint_eq(hot_count(h), 0);
	ck_assert_uint_eq(hot_bytes(h), 0);
	ck_assert_ptr_null(find(h, "http://h/a", GEN, &site_a, 120));
	hot_free(h);
}
END_TEST

/*
 * 4 KiB bodies into a 64 KiB table: hot_bytes never passes the bound, and
 * what hot_put says (kept or refused) is what hot_find sees. An entry larger
 * than the whole bound is refused.
 */
START_TEST(byte_bound_respected_and_refused_entries_absent)
{
	const size_t max = 64 * 1024, blen = 4096;
	struct hot *h = hot_new(max);
	char *body = malloc(blen);
	char pk[64], head[64], unused[64];
	unsigned kept = 0, refused = 0;

	ck_assert_ptr_nonnull(body);
	for (unsigned i = 0; i < 100; i++) {
		key_of(i, pk, sizeof(pk), head, sizeof(head), unused, sizeof(unused));
		memset(body, 'a' + (int)(i % 26), blen);
		struct hot_entry e = entry(pk, head, body, blen, 100, 160);
		bool ok = hot_put(h, &e);
		const struct hot_entry *f = find(h, pk, GEN, &site_a, 120);

		ck_assert_uint_le(hot_bytes(h), max);
		if (ok) {
			kept++;
			ck_assert_msg(f != NULL, "%s kept but not found", pk);
			ck_assert(f->body_len == blen && memcmp(f->body, body, blen) == 0);
		} else {
			refused++;
			ck_assert_msg(f == NULL, "%s refused but found", pk);
		}
	}
	ck_assert_uint_gt(kept, max / blen / 2);
	ck_assert_uint_eq(kept + refused, 100);
	/* At least the bodies held are charged: no more than max / blen of them. */
	ck_assert_uint_le(hot_count(h), max / blen);
	ck_assert_uint_ge(hot_bytes(h), hot_count(h) * blen);
	/* Room made by drops is usable again. */
	for (unsigned i = 0; i < 100; i++) {
		key_of(i, pk, sizeof(pk), head, sizeof(head), unused, sizeof(unused));
		hot_drop(h, pk, strlen(pk));
	}
	ck_assert_uint_eq(hot_count(h), 0);
	ck_assert_uint_eq(hot_bytes(h), 0);
	key_of(1000, pk, sizeof(pk), head, sizeof(head), unused, sizeof(unused));
	struct hot_entry e = entry(pk, head, body, blen, 100, 160);
	ck_assert(hot_put(h, &e));
	/* Head and body together over the bound: never kept. */
	body = realloc(body, max);
	ck_assert_ptr_nonnull(body);
	memset(body, 'm', max);
	key_of(1001, pk, sizeof(pk), head, sizeof(head), unused, sizeof(unused));
	e = entry(pk, head, body, max, 100, 160);
	ck_assert(!hot_put(h, &e));
	ck_assert_ptr_null(find(h, pk, GEN, &site_a, 120));
	ck_assert_uint_le(hot_bytes(h), max);
	free(body);
	hot_free(h);
}
END_TEST

/*
 * The table is meant to approximate "the most recently served objects"
 * (hot.c). A worker's table fills with the first objects served; once they
 * are stale and never asked for again, objects served now must still get
 * in. Here: a 1 MiB table offered 3 MiB of 16 KiB entries that end at 160,
 * then 100 other keys put three times each (three hits from the store) at
 * 200.
 */
START_TEST(full_table_of_stale_entries_still_takes_new_ones)
{
	const size_t max = 1024 * 1024, blen = 16 * 1024;
	struct hot *h = hot_new(max);
	char *body = malloc(blen);
	char pk[64], head[64], unused[64];
	unsigned i, kept = 0;

	ck_assert_ptr_nonnull(body);
	memset(body, 'o', blen);
	for (i = 0; i < 200; i++) {
		key_of(i, pk, sizeof(pk), head, sizeof(head), unused, sizeof(unused));
		struct hot_entry e = entry(pk, head, body, blen, 100, 160);
		(void)hot_put(h, &e);
	}
	ck_assert_uint_gt(hot_bytes(h), max - 2 * blen);
	memset(body, 'n', blen);
	for (i = 5000; i < 5100; i++) {
		bool ok = false;

		key_of(i, pk, sizeof(pk), head, sizeof(head), unused, sizeof(unused));
		struct hot_entry e = entry(pk, head, body, blen, 200, 300);
		for (int hit = 0; hit < 3 && !ok; hit++)
			ok = hot_put(h, &e);
		kept += ok && find(h, pk, GEN, &site_a, 200) != NULL;
		ck_assert_uint_le(hot_bytes(h), max);
	}
	ck_assert_msg(kept >= 90, "of 100 keys served three times each after every entry "
	    "held went stale, %u were kept (table: %zu entries, %zu bytes of %zu)", kept,
	    hot_count(h), hot_bytes(h), max);
	free(body);
	hot_free(h);
}
END_TEST

/* A new entry for a key replaces the old one: one entry, the new content. */
START_TEST(put_for_the_same_key_replaces)
{
	struct hot *h = hot_new(1u << 20);
	struct hot_entry a = entry("http://h/a", "HTTP/1.1 200 OK\r\nX-V: 1", "old", 3, 100, 160);
	struct hot_entry b = entry("http://h/a", "HTTP/1.1 200 OK\r\nX-V: 2", "newer", 5, 110,
	    170);
	const struct hot_entry *f;
	size_t bytes_b;

	ck_assert(hot_put(h, &b));
	bytes_b = hot_bytes(h);
	hot_drop(h, "http://h/a", strlen("http://h/a"));
	ck_assert(hot_put(h, &a));
	ck_assert(hot_put(h, &b));
	ck_assert_uint_eq(hot_count(h), 1);
	ck_assert_uint_eq(hot_bytes(h), bytes_b);
	f = find(h, "http://h/a", GEN, &site_a, 120);
	ck_assert_ptr_nonnull(f);
	ck_assert(f->body_len == 5 && memcmp(f->body, "newer", 5) == 0);
	ck_assert_int_eq(f->fresh_until, 170);
	hot_free(h);
}
END_TEST

START_TEST(drop_removes_only_its_key)
{
	struct hot *h = hot_new(1u << 20);
	struct hot_entry a = entry("http://h/a", "HTTP/1.1 200 OK", "x", 1, 100, 160);

	hot_drop(h, "http://h/a", strlen("http://h/a"));	/* absent: nothing happens */
	ck_assert_uint_eq(hot_count(h), 0);
	ck_assert(hot_put(h, &a));
	hot_drop(h, "http://h/b", strlen("http://h/b"));
	hot_drop(h, "http://h/", strlen("http://h/"));
	ck_assert_uint_eq(hot_count(h), 1);
	ck_assert_ptr_nonnull(find(h, "http://h/a", GEN, &site_a, 120));
	hot_drop(h, "http://h/a", strlen("http://h/a"));
	ck_assert_uint_eq(hot_count(h), 0);
	ck_assert_uint_eq(hot_bytes(h), 0);
	ck_assert_ptr_null(find(h, "http://h/a", GEN, &site_a, 120));
	hot_free(h);
}
END_TEST

/* Entries go by drops and by unusable lookups; the counters end at 0. */
START_TEST(count_and_bytes_back_to_zero)
{
	struct hot *h = hot_new((size_t)1 << 30);
	char pk[64], head[64], body[64];
	size_t count, bytes;

	for (unsigned i = 0; i < 1000; i++) {
		key_of(i, pk, sizeof(pk), head, sizeof(head), body, sizeof(body));
		struct hot_entry e = entry(pk, head, body, strlen(body), 100, 160);
		ck_assert(hot_put(h, &e));
	}
	count = hot_count(h);
	bytes = hot_bytes(h);
	ck_assert_uint_gt(count, 0);
	ck_assert_uint_gt(bytes, 0);
	for (unsigned i = 0; i < 1000; i++) {
		key_of(i, pk, sizeof(pk), head, sizeof(head), body, sizeof(body));
		if (i % 2 == 0)
			hot_drop(h, pk, strlen(pk));
		else
			(void)find(h, pk, GEN, &site_a, 160);	/* stale: dropped */
		ck_assert_uint_le(hot_count(h), count);
		ck_assert_uint_le(hot_bytes(h), bytes);
	}
	ck_assert_uint_eq(hot_count(h), 0);
	ck_assert_uint_eq(hot_bytes(h), 0);
	hot_free(h);
}
END_TEST

/* Offered twice its bound, then freed: LeakSanitizer sees nothing left. */
START_TEST(free_of_a_full_table_releases_everything)
{
	const size_t max = 256 * 1024;
	struct hot *h = hot_new(max);
	char pk[64], head[64], unused[64], body[1000];

	memset(body, 'f', sizeof(body));
	for (unsigned i = 0; i < 2 * max / sizeof(body); i++) {
		key_of(i, pk, sizeof(pk), head, sizeof(head), unused, sizeof(unused));
		struct hot_entry e = entry(pk, head, body, sizeof(body), 100, 160);
		(void)hot_put(h, &e);
	}
	ck_assert_uint_gt(hot_bytes(h), max - 2 * sizeof(body));
	ck_assert_uint_gt(hot_count(h), 100);
	hot_free(h);
	hot_free(NULL);
}
END_TEST

static Suite *
hot_suite(void)
{
	Suite *s = suite_create("hot");
	TCase *plain = tcase_create("plain");
	TCase *table = tcase_create("table");

	tcase_add_loop_test(plain, request_plain_table, 0,
	    (int)(sizeof(plain_cases) / sizeof(plain_cases[0])));
	tcase_add_test(table, found_while_fresh_with_copies_of_everything);
	tcase_add_test(table, not_found_and_dropped_once_stale);
	tcase_add_test(table, not_found_and_dropped_before_since);
	tcase_add_test(table, not_found_and_dropped_for_another_generation);
	tcase_add_test(table, not_found_and_dropped_for_another_site);
	tcase_add_test(table, other_keys_not_found_and_entry_kept);
	tcase_add_test(table, keys_sharing_a_slot_never_get_each_others_entry);
	tcase_add_test(table, drop_of_a_key_leaves_the_key_that_took_its_slot);
	tcase_add_test(table, body_over_hot_max_body_refused);
	tcase_add_test(table, empty_body_kept);
	tcase_add_test(table, zero_bound_keeps_nothing);
	tcase_add_test(table, byte_bound_respected_and_refused_entries_absent);
	tcase_add_test(table, full_table_of_stale_entries_still_takes_new_ones);
	tcase_add_test(table, put_for_the_same_key_replaces);
	tcase_add_test(table, drop_removes_only_its_key);
	tcase_add_test(table, count_and_bytes_back_to_zero);
	tcase_add_test(table, free_of_a_full_table_releases_everything);
	tcase_add_test(table, admitted_at_the_second_sighting_or_after_a_miss);
	tcase_add_test(table, keys_asked_once_never_admitted_keys_asked_twice_are);
	tcase_add_test(table, often_hit_keys_stay_while_others_pass);
	suite_add_tcase(s, plain);
	suite_add_tcase(s, table);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hot_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

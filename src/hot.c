/*
 * hot.c: a worker's table of hot stored responses (see hot.h).
 *
 * Set-associative: one slot per KiB of the bound (a power of two, at least
 * HOT_MIN_SLOTS) in sets of HOT_WAYS, the set chosen by a
 * 64-bit FNV-1a hash of the primary key. Which keys hold a set is decided by
 * admission (hot_admit) and a small frequency score: each hit adds one (up to
 * HOT_SCORE_MAX), each candidate turned away takes one from the set's least
 * hit entry, and a candidate gets in only when that entry is down to zero and
 * the candidate was seen before (a "doorkeeper": one 16-bit fingerprint per
 * cell of a direct-mapped array, overwritten as keys come). So a key asked
 * for once does not push out one asked for all the time, and on a workload
 * larger than the table most misses do not copy an entry in only to see it
 * pushed out before its next hit: on a Zipf(0.99) load over 10^6 keys, 4 ways
 * and the doorkeeper raise the table's hit ratio from 0.59 to 0.65 and cut
 * the entries made from 0.33 to 0.06 per request (docs/departures.md). The
 * byte bound is checked at insertion: an entry that does not fit is simply
 * not kept (the store still serves it).
 */
#include "hot.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "headers.h"
#include "http1.h"
#include "util.h"

#define HOT_MIN_SLOTS	64u
#define HOT_MAX_SLOTS	((size_t)1 << 24)
#define HOT_WAYS	4u
#define HOT_SCORE_MAX	3u
#define HOT_DOOR_PER_SLOT 4u		/* doorkeeper cells per slot */

/* A body shared by its entry and the consumers holding it (hot_body_hold). */
struct body {
	unsigned	refs;
	char		data[];
};

struct hot {
	struct hot_entry	**slot;		/* nslots / HOT_WAYS sets of HOT_WAYS */
	size_t			nslots;
	uint16_t		*door;		/* fingerprints of keys seen */
	size_t			hand;		/* make_room's clock hand */
	size_t			count;
	size_t			bytes;
	size_t			max_bytes;
};

static uint64_t
hash_key(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The doorkeeper cell of a hash, and the fingerprint kept there (never 0,
 * the empty cell); both from bits that the set index does not use. */
static uint16_t *
door_cell(struct hot *h, uint64_t hash)
{
	return &h->door[(hash >> 32) % (h->nslots * HOT_DOOR_PER_SLOT)];
}

static uint16_t
fingerprint(uint64_t hash)
{
	return (uint16_t)(hash >> 48) | 1u;
}

static struct hot_entry **
set_of(struct hot *h, uint64_t hash)
{
	return &h->slot[(hash % (h->nslots / HOT_WAYS)) * HOT_WAYS];
}

/* The slot holding pk's entry, or NULL. */
static struct hot_entry **
slot_of(struct hot *h, uint64_t hash, const char *pk, size_t pk_len)
{
	struct hot_entry **set = set_of(h, hash);

	for (unsigned w = 0; w < HOT_WAYS; w++) {
		const struct hot_entry *e = set[w];

		if (e != NULL && e->hash == hash && e->pkey_len == pk_len &&
		    memcmp(e->pkey, pk, pk_len) == 0)
			return &set[w];
	}
	return NULL;
}

/* The slot a new entry of the set takes: a free one, else the least hit
 * entry's, the oldest of those. */
static struct hot_entry **
victim_of(struct hot *h, uint64_t hash)
{
	struct hot_entry **set = set_of(h, hash), **v = NULL;

	for (unsigned w = 0; w < HOT_WAYS; w++) {
		if (set[w] == NULL)
			return &set[w];
		if (v == NULL || set[w]->score < (*v)->score ||
		    (set[w]->score == (*v)->score && set[w]->since < (*v)->since))
			v = &set[w];
	}
	return v;
}

static size_t
entry_bytes(const struct hot_entry *e)
{
	return sizeof(*e) + e->pkey_len + e->head_len + e->body_len;
}

static void
entry_free(struct hot *h, struct hot_entry *e)
{
	h->count--;
	h->bytes -= entry_bytes(e);
	free(e->pkey);
	free(e->head);
	hot_body_release(e->body - offsetof(struct body, data));
	free(e);
}

struct hot *
hot_new(size_t max_bytes)
{
	struct hot *h = xcalloc(1, sizeof(*h));

	h->nslots = HOT_MIN_SLOTS;
	while (h->nslots < max_bytes / 1024 && h->nslots < HOT_MAX_SLOTS)
		h->nslots *= 2;
	h->slot = xcalloc(h->nslots, sizeof(*h->slot));
	h->door = xcalloc(h->nslots * HOT_DOOR_PER_SLOT, sizeof(*h->door));
	h->max_bytes = max_bytes;
	return h;
}

void
hot_free(struct hot *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->nslots; i++)
		if (h->slot[i] != NULL)
			entry_free(h, h->slot[i]);
	free(h->slot);
	free(h->door);
	free(h);
}

/* Field names that make a request other than plain, by first letter. */
static bool
changes_answer(const struct field *f)
{
	switch (f->name[0] | 0x20) {
	case 'a':
		return str_ieq(f->name, f->name_len, "Authorization");
	case 'c':
		return str_ieq(f->name, f->name_len, "Cache-Control");
	case 'i':
		return f->name_len > 3 && (f->name[1] | 0x20) == 'f' && f->name[2] == '-';
	case 'p':
		return str_ieq(f->name, f->name_len, "Pragma");
	case 'r':
		return str_ieq(f->name, f->name_len, "Range");
	default:
		return false;
	}
}

bool
hot_request_plain(const struct http_request *hr)
{
	if (hr->method != HTTP_M_GET && hr->method != HTTP_M_HEAD)
		return false;
	if (hr->body != BODY_NONE)
		return false;
	for (size_t i = 0; i < hr->fields.n; i++)
		if (changes_answer(&hr->fields.v[i]))
			return false;
	return true;
}

const struct hot_entry *
hot_find(struct hot *h, const char *pk, size_t pk_len, uint64_t cfg_generation,
    const void *site, time_t now)
{
	struct hot_entry **sp = slot_of(h, hash_key(pk, pk_len), pk, pk_len), *e;

	if (sp == NULL)
		return NULL;
	e = *sp;
	if (e->cfg_generation != cfg_generation ||
	    e->site != site || now < e->since || now >= e->fresh_until) {
		entry_free(h, e);
		*sp = NULL;
		return NULL;
	}
	if (e->score < HOT_SCORE_MAX)
		e->score++;
	return e;
}

void
hot_seen(struct hot *h, const char *pk, size_t pk_len)
{
	uint64_t hash = hash_key(pk, pk_len);

	*door_cell(h, hash) = fingerprint(hash);
}

bool
hot_admit(struct hot *h, const char *pk, size_t pk_len)
{
	uint64_t hash = hash_key(pk, pk_len);
	struct hot_entry *v = *victim_of(h, hash);
	uint16_t *cell = door_cell(h, hash), fp = fingerprint(hash);

	if (v != NULL && v->score > 0) {
		v->score--;
		*cell = fp;
		return false;
	}
	if (*cell != fp) {
		*cell = fp;
		return false;
	}
	*cell = 0;
	return true;
}

/*
 * Frees entries until need more bytes fit: a clock over the slots, taking
 * entries whose score is zero and lowering the others', so that stale,
 * unreachable (an older configuration's) and rarely hit entries go first.
 */
static void
make_room(struct hot *h, size_t need)
{
	while (h->bytes + need > h->max_bytes) {
		struct hot_entry **sp = &h->slot[h->hand];

		h->hand = (h->hand + 1) % h->nslots;
		if (*sp == NULL)
			continue;
		if ((*sp)->score > 0) {
			(*sp)->score--;
			continue;
		}
		entry_free(h, *sp);
		*sp = NULL;
	}
}

bool
hot_put(struct hot *h, const struct hot_entry *src)
{
	struct hot_entry *e, **sp;
	struct body *b;
	size_t need = entry_bytes(src);
	uint64_t hash = hash_key(src->pkey, src->pkey_len);

	if ((sp = slot_of(h, hash, src->pkey, src->pkey_len)) == NULL)
		sp = victim_of(h, hash);
	if (*sp != NULL) {
		entry_free(h, *sp);
		*sp = NULL;
	}
	if (src->body_len > HOT_MAX_BODY || need > h->max_bytes)
		return false;
	make_room(h, need);
	e = xmalloc(sizeof(*e));
	*e = *src;
	e->hash = hash;
	e->score = 0;
	e->pkey = xmalloc(src->pkey_len + 1);
	memcpy(e->pkey, src->pkey, src->pkey_len);
	e->pkey[src->pkey_len] = '\0';
	e->head = xmalloc(src->head_len + 1);
	memcpy(e->head, src->head, src->head_len);
	e->head[src->head_len] = '\0';
	b = xmalloc(sizeof(*b) + src->body_len + 1);
	b->refs = 1;
	e->body = b->data;
	if (src->body_len > 0)
		memcpy(e->body, src->body, src->body_len);
	*sp = e;
	h->count++;
	h->bytes += need;
	return true;
}

void
hot_drop(struct hot *h, const char *pk, size_t pk_len)
{
	struct hot_entry **sp = slot_of(h, hash_key(pk, pk_len), pk, pk_len);

	if (sp != NULL) {
		entry_free(h, *sp);
		*sp = NULL;
	}
}

void *
hot_body_hold(const struct hot_entry *e)
{
	struct body *b = (struct body *)(void *)(e->body - offsetof(struct body, data));

	b->refs++;
	return b;
}

void
hot_body_release(void *cookie)
{
	struct body *b = cookie;

	ASSERT(b->refs > 0);
	if (--b->refs == 0)
		free(b);
}

size_t
hot_count(const struct hot *h)
{
	return h->count;
}

size_t
hot_bytes(const struct hot *h)
{
	return h->bytes;
}

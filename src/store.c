/*
 * store.c: the LMDB cache store's front: open and close, the read path
 * (lookups and chunk reads, in any thread) and the write API, which only
 * queues operations for the writer thread. Record formats are in
 * store_record.c, the eviction policies in store_evict.c; docs/store.md has
 * the whole design.
 *
 * The writer side lives in store_writer.c (the thread and its operations),
 * store_txn.c (the LMDB write wrapper, accounting, eviction) and
 * store_recover.c (the integrity check at open).
 *
 * Layout: one LMDB environment in the store directory with four DBs:
 * `variants` (hash of the primary key -> Vary names and the list of
 * (secondary key, object id)), `objects` (object id, 8 bytes big-endian so
 * cursor order is id order -> metadata), `chunks` ((id, index) -> body bytes)
 * and `meta` (format version, hash key, next object id).
 *
 * Reads: the environment is opened with MDB_NOTLS, so a read transaction is
 * not tied to a thread. A small pool keeps reset transactions; a read takes
 * one, renews it, copies what it needs out of the map and resets it before
 * returning, so no transaction outlives a call (never across an event-loop
 * turn). MDB_READERS_FULL is retried once after mdb_reader_check clears the
 * slots of dead processes.
 *
 * Visibility: a lookup answers only for an object that is both committed and
 * tracked by the eviction policy. The writer adds an object to the policy
 * right after the commit that made it complete; store_invalidate and
 * eviction take it out before its records are deleted. So an invalidated
 * object is a miss as soon as store_invalidate returns, though the writer
 * deletes it later. Nothing puts a hidden object back in the policy: the
 * writer retries an invalidation until it commits, and an open that finds
 * one still pending (listed in the store directory) hides its objects again
 * before the store is used (store_writer.c, store_recover.c).
 *
 * Pins (store_pin): a reader that sends a body keeps the object's chunks
 * from being deleted, the way Varnish keeps a reference on an object while
 * it is delivered, but without holding a read transaction (and so an LMDB
 * snapshot) for as long as a slow client takes. The pin table maps object
 * ids to reader counts, in memory, under ev_mtx (the lock a hit takes
 * anyway). When the writer deletes a pinned object, the record goes (lookups
 * miss it) but the chunks stay, still charged, until the last store_unpin
 * queues their deletion (OP_RELEASE). While the writer deletes the chunks
 * of an object that is not pinned but still visible (a replacement, whose
 * policy entry goes only at the commit), the table marks it dying, and
 * store_pin refuses it until the transaction is over: a pin is never
 * granted on chunks an uncommitted transaction has already deleted.
 *
 * One process per store: store_open takes an exclusive flock on
 * `store.lock` in the directory, because the eviction state and the byte
 * accounting live in this process's memory.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "util.h"

#define WRITE_MAGIC		0x53545752u
#define KIB			1024ULL
#define MIB			(1024 * KIB)
#define DEFAULT_CHUNK		(256 * KIB)
#define MIN_CHUNK		512
#define MAX_CHUNK		(64 * MIB)
#define MIN_BOUND		MIB
#define DEFAULT_READERS		1022
#define PINS_MIN		64	/* initial pin table slots */

struct store_write {
	unsigned	magic;
	struct store	*s;
	uint64_t	id;
	char		*pk;
	size_t		pk_len;
	uint64_t	pk_hash;
	uint8_t		*buf;		/* the chunk being filled (chunk_size bytes) */
	size_t		buf_len;
	uint32_t	nchunks;	/* full chunks queued */
	uint64_t	body_len;
	int		error;		/* non-zero: abandoned */
};

static uint64_t
clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

int
store_map_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return STORE_ENOTFOUND;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case ENOSPC:
		return STORE_ENOSPC;
	default:
		return STORE_EIO;
	}
}

uint64_t
store_pk_hash(const struct store *s, const void *pk, size_t len)
{
	if (s->hash_override != NULL)
		return s->hash_override(pk, len);
	return store_siphash(s->hash_key, pk, len);
}

uint64_t
store_key_hash(struct store *s, const char *pk, size_t pk_len)
{
	CHECK_OBJ(s, STORE_MAGIC);
	return store_pk_hash(s, pk, pk_len);
}

uint32_t
store_key_version(struct store *s, uint64_t hash)
{
	CHECK_OBJ(s, STORE_MAGIC);
	return atomic_load_explicit(&s->key_versions[hash % STORE_KEY_VERSIONS],
	    memory_order_acquire);
}

void
store_key_bump(struct store *s, uint64_t pk_hash)
{
	atomic_fetch_add_explicit(&s->key_versions[pk_hash % STORE_KEY_VERSIONS], 1,
	    memory_order_release);
}

bool
store_touch(struct store *s, uint64_t id)
{
	CHECK_OBJ(s, STORE_MAGIC);
	bool live;

	AZ(pthread_mutex_lock(&s->ev_mtx));
	live = store_evict_access(s->ev, id);
	AZ(pthread_mutex_unlock(&s->ev_mtx));
	return live;
}

/* ---- pins --------------------------------------------------------------- */

static size_t
pin_home(const struct store *s, uint64_t id)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (s->pins_cap - 1);
}

/* The slot holding id, or the empty slot where it would go. ev_mtx held. */
static struct store_pin *
pin_slot(const struct store *s, uint64_t id)
{
	size_t i = pin_home(s, id);

	while (s->pins[i].state != STORE_PIN_EMPTY && s->pins[i].id != id)
		i = (i + 1) & (s->pins_cap - 1);
	return &s->pins[i];
}

/* Makes room for one more entry (load at most 1/2). ev_mtx held. */
static void
pins_reserve(struct store *s)
{
	struct store_pin *old = s->pins;
	size_t cap = s->pins_cap;

	if ((s->npins + 1) * 2 <= cap)
		return;
	s->pins_cap = cap * 2;
	s->pins = xcalloc(s->pins_cap, sizeof(*s->pins));
	for (size_t i = 0; i < cap; i++)
		if (old[i].state != STORE_PIN_EMPTY)
			*pin_slot(s, old[i].id) = old[i];
	free(old);
}

static void
pin_add(struct store *s, struct store_pin *p, uint64_t id, uint64_t bytes,
    uint32_t refs, enum store_pin_state state)
{
	*p = (struct store_pin){ .id = id, .bytes = bytes, .refs = refs, .state = state };
	s->npins++;
	s->pinned_bytes += bytes;
}

/* Empties slot p, shifting back the entries that probed past it. ev_mtx held. */
static void
pin_remove(struct store *s, struct store_pin *p)
{
	size_t mask = s->pins_cap - 1, i = (size_t)(p - s->pins), j = i;

	ASSERT(s->pinned_bytes >= p->bytes);
	s->pinned_bytes -= p->bytes;
	for (;;) {
		j = (j + 1) & mask;
		if (s->pins[j].state == STORE_PIN_EMPTY)
			break;
		/* Entry j may fill hole i unless its home lies in (i, j]. */
		size_t home = pin_home(s, s->pins[j].id);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->pins[i] = s->pins[j];
			i = j;
		}
	}
	s->pins[i] = (struct store_pin){ 0 };
	s->npins--;
}

int
store_pin(struct store *s, uint64_t id, uint64_t bytes)
{
	CHECK_OBJ(s, STORE_MAGIC);
	struct store_pin *p;
	int ret = 0;

	AZ(pthread_mutex_lock(&s->ev_mtx));
	pins_reserve(s);
	p = pin_slot(s, id);
	if (p->state == STORE_PIN_HELD || p->state == STORE_PIN_GONE) {
		/* Held already: its chunks are kept, even if it is gone. */
		ASSERT(p->refs < UINT32_MAX);
		p->refs++;
	} else if (p->state != STORE_PIN_EMPTY || !store_evict_contains(s->ev, id)) {
		ret = STORE_ENOTFOUND;	/* not stored, or its chunks are being deleted */
	} else if (bytes > 0 && s->pinned_bytes + bytes > s->bound / 2) {
		ret = STORE_EBUSY;
	} else {
		pin_add(s, p, id, bytes, 1, STORE_PIN_HELD);
	}
	AZ(pthread_mutex_unlock(&s->ev_mtx));
	return ret;
}

void
store_unpin(struct store *s, uint64_t id)
{
	CHECK_OBJ(s, STORE_MAGIC);
	struct store_pin *p;
	bool release = false;

	AZ(pthread_mutex_lock(&s->ev_mtx));
	p = pin_slot(s, id);
	ASSERT((p->state == STORE_PIN_HELD || p->state == STORE_PIN_GONE) && p->refs > 0);
	if (--p->refs == 0) {
		release = p->state == STORE_PIN_GONE;
		pin_remove(s, p);
	}
	AZ(pthread_mutex_unlock(&s->ev_mtx));
	if (release)
		store_release(s, id);
}

bool
store_pin_deleting(struct store *s, uint64_t id)
{
	struct store_pin *p;

	pins_reserve(s);
	p = pin_slot(s, id);
	if (p->state == STORE_PIN_HELD || p->state == STORE_PIN_GONE)
		return true;
	/* Only a visible object can be pinned meanwhile (not a popped victim,
	 * nor an invalidated one): only it needs the mark. */
	if (p->state == STORE_PIN_EMPTY && store_evict_contains(s->ev, id))
		pin_add(s, p, id, 0, 0, STORE_PIN_DYING);
	return false;
}

void
store_pin_undying(struct store *s, uint64_t id)
{
	struct store_pin *p = pin_slot(s, id);

	if (p->state == STORE_PIN_DYING)
		pin_remove(s, p);
}

bool
store_pin_deleted(struct store *s, uint64_t id)
{
	struct store_pin *p = pin_slot(s, id);

	if (p->state != STORE_PIN_HELD && p->state != STORE_PIN_GONE)
		return true;	/* the last reader left during the transaction */
	p->state = STORE_PIN_GONE;
	return false;
}

void
store_op_free(struct store_op *op)
{
	if (op == NULL)
		return;
	free(op->data);
	free(op->rec);
	free(op->vary);
	free(op->pk);
	free(op);
}

/* ---- open and close ------------------------------------------------------ */

static int
mkdir_p(const char *dir)
{
	char *p = xstrdup(dir);
	int ret = 0;

	for (char *c = p + 1;; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		char saved = *c;
		*c = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			ret = -1;
			break;
		}
		*c = saved;
		if (saved == '\0')
			break;
	}
	free(p);
	return ret;
}

static int
take_lock(struct store *s, const char *dir, char *err, size_t errlen)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/store.lock", dir) >= sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "%s: %s", dir, errno == EWOULDBLOCK
		    ? "store in use by another process" : strerror(errno));
		return -1;
	}
	return 0;
}

/* Releases whatever store_open got as far as setting up. */
static void
destroy(struct store *s)
{
	for (size_t i = 0; i < s->rd_n; i++)
		mdb_txn_abort(s->rd_pool[i]);
	free(s->rd_pool);
	if (s->env != NULL)
		mdb_env_close(s->env);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	store_evict_free(s->ev);
	free(s->pins);
	free(s->doomed);
	for (size_t i = 0; i < s->npending; i++)
		free(s->pending[i].pk);
	free(s->pending);
	free(s->key_versions);
	AZ(pthread_mutex_destroy(&s->rd_mtx));
	AZ(pthread_mutex_destroy(&s->ev_mtx));
	AZ(pthread_mutex_destroy(&s->q_mtx));
	AZ(pthread_mutex_destroy(&s->st_mtx));
	AZ(pthread_cond_destroy(&s->q_cond));
	AZ(pthread_cond_destroy(&s->done_cond));
	FREE_OBJ(s);
}

/* Fills the tunables from opt and the bound; 0 or -1 with err. */
static int
configure(struct store *s, uint64_t bound, const struct store_options *o,
    uint64_t *slack, char *err, size_t errlen)
{
	s->bound = bound;
	s->chunk_size = o->chunk_size ? o->chunk_size : DEFAULT_CHUNK;
	if (bound < MIN_BOUND) {
		snprintf(err, errlen, "cache size %llu is below the minimum of 1 MiB",
		    (unsigned long long)bound);
		return -1;
	}
	if (s->chunk_size < MIN_CHUNK || s->chunk_size > MAX_CHUNK
	    || (uint64_t)s->chunk_size * 4 > bound) {
		snprintf(err, errlen, "chunk size %u must be within [512 B, 64 MiB]"
		    " and at most a quarter of the cache size", s->chunk_size);
		return -1;
	}
	s->batch_max = o->batch_bytes ? o->batch_bytes
	    : clamp(bound / 16, s->chunk_size, 16 * MIB);
	/* The queue is memory, not disk: a small store still absorbs a burst
	 * of a few objects rather than dropping them. */
	s->queue_max = o->queue_bytes ? o->queue_bytes
	    : clamp(bound / 8, 16 * MIB > 4ULL * s->chunk_size ? 16 * MIB :
	    4ULL * s->chunk_size, 64 * MIB);
	if (s->queue_max < s->chunk_size) {
		snprintf(err, errlen, "write queue bound must hold at least one chunk");
		return -1;
	}
	s->max_object = o->max_object ? o->max_object : bound / 2;
	/* Chunk indices are 32-bit. */
	s->max_object = clamp(s->max_object, 0, (uint64_t)s->chunk_size * (UINT32_MAX - 1));
	if (s->max_object > bound) {
		snprintf(err, errlen, "largest object must not exceed the cache size");
		return -1;
	}
	*slack = o->map_slack ? o->map_slack : bound / 8 + 4 * s->batch_max + 2 * MIB;
	s->hash_override = o->hash_override;
	s->sk_match = o->sk_match;
	s->nosync = o->nosync;
	return 0;
}

static int
open_env(struct store *s, const char *dir, uint64_t slack, const struct store_options *o,
    char *err, size_t errlen)
{
	unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | MDB_NOMETASYNC;
	MDB_stat st;
	int dead, rc;

	if (o->nosync)
		flags |= MDB_NOSYNC;
	if ((rc = mdb_env_create(&s->env)) != 0)
		goto fail;
	if ((rc = mdb_env_set_maxdbs(s->env, 4)) != 0
	    || (rc = mdb_env_set_mapsize(s->env, (size_t)(s->bound + slack))) != 0
	    || (rc = mdb_env_set_maxreaders(s->env,
		o->max_readers ? o->max_readers : DEFAULT_READERS)) != 0
	    || (rc = mdb_env_open(s->env, dir, flags, 0600)) != 0
	    || (rc = mdb_reader_check(s->env, &dead)) != 0
	    || (rc = mdb_env_stat(s->env, &st)) != 0)
		goto fail;
	s->psize = st.ms_psize;
	/* Half the reader slots at most are pinned by referenced chunks. */
	s->max_chunk_refs = (o->max_readers ? o->max_readers : DEFAULT_READERS) / 2;
	/* LMDB moves a value to overflow pages past this node size (mdb.c me_nodemax). */
	s->nodemax = (((s->psize - 16) / 2) & ~(size_t)1) - 2;
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
	return -1;
}

struct store *
store_open(const char *dir, uint64_t size_bound, const struct store_options *opt,
    char *err, size_t errlen)
{
	struct store_options o = opt != NULL ? *opt : (struct store_options){ 0 };
	struct store *s = xcalloc(1, sizeof(*s));
	uint64_t slack;

	if (errlen > 0)
		err[0] = '\0';
	s->magic = STORE_MAGIC;
	s->lock_fd = -1;
	s->dir_fd = -1;
	s->key_versions = xcalloc(STORE_KEY_VERSIONS, sizeof(*s->key_versions));
	s->pins_cap = PINS_MIN;
	s->pins = xcalloc(s->pins_cap, sizeof(*s->pins));
	AZ(pthread_mutex_init(&s->rd_mtx, NULL));
	AZ(pthread_mutex_init(&s->ev_mtx, NULL));
	AZ(pthread_mutex_init(&s->q_mtx, NULL));
	AZ(pthread_mutex_init(&s->st_mtx, NULL));
	AZ(pthread_cond_init(&s->q_cond, NULL));
	AZ(pthread_cond_init(&s->done_cond, NULL));
	if (configure(s, size_bound, &o, &slack, err, errlen) != 0)
		goto fail;
	if (mkdir_p(dir) != 0
	    || (s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (take_lock(s, dir, err, errlen) != 0
	    || open_env(s, dir, slack, &o, err, errlen) != 0)
		goto fail;
	s->ev = store_evict_new(o.policy, size_bound);
	s->st.bound = size_bound;
	if (store_recover(s, err, errlen) != 0)
		goto fail;
	if (pthread_create(&s->writer, NULL, store_writer_main, s) != 0) {
		snprintf(err, errlen, "%s: cannot start the store writer thread", dir);
		goto fail;
	}
	return s;
fail:
	destroy(s);
	return NULL;
}

void
store_sync(struct store *s)
{
	CHECK_OBJ(s, STORE_MAGIC);
	AZ(pthread_mutex_lock(&s->q_mtx));
	uint64_t target = s->seq_queued;
	while (s->seq_done < target)
		AZ(pthread_cond_wait(&s->done_cond, &s->q_mtx));
	AZ(pthread_mutex_unlock(&s->q_mtx));
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	CHECK_OBJ(s, STORE_MAGIC);
	AZ(pthread_mutex_lock(&s->q_mtx));
	s->stop = true;
	AZ(pthread_cond_signal(&s->q_cond));
	AZ(pthread_mutex_unlock(&s->q_mtx));
	AZ(pthread_join(s->writer, NULL));
	ASSERT(s->q_head == NULL);
	/* Every pin was undone (store.h); a dying mark lasts one transaction. */
	ASSERT(s->npins == 0);
	store_close_state(s);
	destroy(s);
}

/* ---- read transactions --------------------------------------------------- */

static int
rtxn_begin(struct store *s, MDB_txn **out)
{
	MDB_txn *txn = NULL;
	int dead, rc;

	AZ(pthread_mutex_lock(&s->rd_mtx));
	if (s->rd_n > 0)
		txn = s->rd_pool[--s->rd_n];
	AZ(pthread_mutex_unlock(&s->rd_mtx));
	if (txn != NULL) {
		if (mdb_txn_renew(txn) == 0) {
			*out = txn;
			return 0;
		}
		mdb_txn_abort(txn);
	}
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc == MDB_READERS_FULL) {
		mdb_reader_check(s->env, &dead);
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	}
	if (rc != 0)
		return store_map_err(rc);
	*out = txn;
	return 0;
}

static void
rtxn_end(struct store *s, MDB_txn *txn)
{
	mdb_txn_reset(txn);
	AZ(pthread_mutex_lock(&s->rd_mtx));
	if (s->rd_n == s->rd_cap) {
		s->rd_cap = s->rd_cap ? s->rd_cap * 2 : 8;
		s->rd_pool = xrealloc(s->rd_pool, s->rd_cap * sizeof(*s->rd_pool));
	}
	s->rd_pool[s->rd_n++] = txn;
	AZ(pthread_mutex_unlock(&s->rd_mtx));
}

/* ---- lookups ------------------------------------------------------------- */

/* Appends n bytes and a NUL at *p; returns where they went. */
static char *
put_str(char **p, const void *src, size_t n)
{
	char *s = *p;

	if (n > 0)
		memcpy(s, src, n);
	s[n] = '\0';
	*p += n + 1;
	return s;
}

/* Fills o from r and vr, its strings and inline body in one allocation
 * (headers first: store_object_free frees that). */
static void
copy_out(struct store_object *o, uint64_t id, const struct store_objrec *r,
    const struct store_varrec *vr)
{
	size_t body_len = r->body != NULL ? (size_t)r->body_len : 0;
	char *p = xmalloc((size_t)r->hdr_len + r->pk_len + r->sk_len + vr->vary_len + 4 +
	    body_len);

	o->id = id;
	o->status = r->status;
	o->flags = r->flags;
	o->request_time = (time_t)r->request_time;
	o->response_time = (time_t)r->response_time;
	o->body_len = r->body_len;
	o->chunk_count = r->chunk_count;
	o->chunk_size = r->chunk_size;
	o->headers = put_str(&p, r->hdr, r->hdr_len);
	o->headers_len = r->hdr_len;
	o->primary_key = put_str(&p, r->pk, r->pk_len);
	o->primary_key_len = r->pk_len;
	o->secondary_key = put_str(&p, r->sk, r->sk_len);
	o->secondary_key_len = r->sk_len;
	o->vary = put_str(&p, vr->vary, vr->vary_len);
	o->vary_len = vr->vary_len;
	o->body = NULL;
	if (r->body != NULL) {
		memcpy(p, r->body, body_len);
		o->body = p;
	}
}

static bool
bytes_eq(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The lookup proper, inside txn; fills *o on a hit. */
static int
find(struct store *s, MDB_txn *txn, const char *pk, size_t pk_len,
    store_secondary_key_f *sk_cb, void *arg, struct store_object *o)
{
	uint8_t kb[8];
	MDB_val k = { sizeof(kb), kb }, v;
	struct store_varrec vr;
	struct store_objrec r;
	const struct store_varent *pick = NULL;
	char *sk = NULL;
	size_t sk_len = 0;
	int ret, rc, best = 0;

	store_put64(kb, store_pk_hash(s, pk, pk_len));
	if ((rc = mdb_get(txn, s->dbi_variants, &k, &v)) != 0)
		return store_map_err(rc);
	if (store_varrec_decode(v.mv_data, v.mv_size, &vr) != 0)
		return STORE_ENOTFOUND;
	ret = STORE_ENOTFOUND;
	if (vr.vary_len > 0 && (sk_cb == NULL || sk_cb(arg, vr.vary, vr.vary_len, &sk, &sk_len) != 0))
		goto out;
	for (size_t i = 0; i < vr.n && best < 2; i++) {
		int m = s->sk_match != NULL ?
		    s->sk_match(vr.v[i].sk, vr.v[i].sk_len, sk, sk_len) :
		    bytes_eq(vr.v[i].sk, vr.v[i].sk_len, sk, sk_len) ? 2 : 0;

		if (m > best) {
			best = m;
			pick = &vr.v[i];
		}
	}
	if (pick != NULL) {
		store_put64(kb, pick->id);
		if ((rc = mdb_get(txn, s->dbi_objects, &k, &v)) != 0) {
			ret = store_map_err(rc);
			goto out;
		}
		/* The URL comparison makes a hash collision a miss. */
		if (store_objrec_decode(v.mv_data, v.mv_size, &r) == 0
		    && bytes_eq(r.pk, r.pk_len, pk, pk_len)
		    && bytes_eq(r.sk, r.sk_len, pick->sk, pick->sk_len)) {
			copy_out(o, pick->id, &r, &vr);
			ret = 0;
		}
	}
out:
	free(sk);
	store_varrec_free(&vr);
	return ret;
}

int
store_lookup(struct store *s, const char *pk, size_t pk_len,
    store_secondary_key_f *sk_cb, void *arg, struct store_object *out)
{
	CHECK_OBJ(s, STORE_MAGIC);
	struct store_object o = { 0 };
	MDB_txn *txn;
	int ret;

	atomic_fetch_add(&s->lookups, 1);
	if ((ret = rtxn_begin(s, &txn)) != 0)
		return ret;
	ret = find(s, txn, pk, pk_len, sk_cb, arg, &o);
	rtxn_end(s, txn);
	if (ret != 0)
		return ret;
	AZ(pthread_mutex_lock(&s->ev_mtx));
	bool live = store_evict_access(s->ev, o.id);
	AZ(pthread_mutex_unlock(&s->ev_mtx));
	if (!live) {
		/* Committed but being invalidated or evicted, or not yet tracked. */
		store_object_free(&o);
		return STORE_ENOTFOUND;
	}
	atomic_fetch_add(&s->hits, 1);
	*out = o;
	return 0;
}

void
store_object_free(struct store_object *o)
{
	free(o->headers);
	*o = (struct store_object){ 0 };
}

int
store_read_chunk(struct store *s, uint64_t id, uint32_t index, struct evbuffer *out)
{
	CHECK_OBJ(s, STORE_MAGIC);
	uint8_t kb[STORE_CHUNK_KEY];
	MDB_val k = { sizeof(kb), kb }, v;
	MDB_txn *txn;
	int ret, rc;

	store_put64(kb, id);
	store_put32(kb + 8, index);
	if ((ret = rtxn_begin(s, &txn)) != 0)
		return ret;
	if ((rc = mdb_get(txn, s->dbi_chunks, &k, &v)) != 0)
		ret = store_map_err(rc);
	else if (evbuffer_add(out, v.mv_data, v.mv_size) != 0)
		ret = STORE_EIO;
	rtxn_end(s, txn);
	return ret;
}

/* What keeps a referenced chunk's bytes valid: its read transaction. */
struct chunk_ref {
	struct store	*s;
	MDB_txn		*txn;
};

static void
chunk_ref_done(const void *data, size_t len, void *arg)
{
	struct chunk_ref *ref = arg;

	rtxn_end(ref->s, ref->txn);
	atomic_fetch_sub(&ref->s->chunk_refs, 1);
	free(ref);
}

int
store_read_chunk_ref(struct store *s, uint64_t id, uint32_t index, struct evbuffer *out)
{
	CHECK_OBJ(s, STORE_MAGIC);
	uint8_t kb[STORE_CHUNK_KEY];
	MDB_val k = { sizeof(kb), kb }, v;
	struct chunk_ref *ref;
	MDB_txn *txn;
	int ret, rc;

	if (atomic_fetch_add(&s->chunk_refs, 1) >= s->max_chunk_refs) {
		atomic_fetch_sub(&s->chunk_refs, 1);
		return STORE_EBUSY;
	}
	store_put64(kb, id);
	store_put32(kb + 8, index);
	if ((ret = rtxn_begin(s, &txn)) != 0) {
		atomic_fetch_sub(&s->chunk_refs, 1);
		return ret;
	}
	if ((rc = mdb_get(txn, s->dbi_chunks, &k, &v)) != 0) {
		rtxn_end(s, txn);
		atomic_fetch_sub(&s->chunk_refs, 1);
		return store_map_err(rc);
	}
	ref = xmalloc(sizeof(*ref));
	ref->s = s;
	ref->txn = txn;
	if (evbuffer_add_reference(out, v.mv_data, v.mv_size, chunk_ref_done, ref) != 0) {
		chunk_ref_done(NULL, 0, ref);
		return STORE_EIO;
	}
	return 0;
}

/* ---- the write API: queue operations for the writer ---------------------- */

/* Queues op, refusing it when bounded and the queue is full. Takes op. */
static int
enqueue(struct store *s, struct store_op *op, bool bounded)
{
	AZ(pthread_mutex_lock(&s->q_mtx));
	ASSERT(!s->stop);
	if (bounded && s->q_bytes + op->cost > s->queue_max) {
		AZ(pthread_mutex_unlock(&s->q_mtx));
		store_op_free(op);
		return STORE_EBUSY;
	}
	op->seq = ++s->seq_queued;
	if (s->q_tail != NULL)
		s->q_tail->next = op;
	else
		s->q_head = op;
	s->q_tail = op;
	s->q_bytes += op->cost;
	AZ(pthread_cond_signal(&s->q_cond));
	AZ(pthread_mutex_unlock(&s->q_mtx));
	return 0;
}

struct store_write *
store_write_begin(struct store *s, const char *pk, size_t pk_len)
{
	CHECK_OBJ(s, STORE_MAGIC);
	struct store_write *w = xcalloc(1, sizeof(*w));

	w->magic = WRITE_MAGIC;
	w->s = s;
	w->pk = xstrndup(pk, pk_len);
	w->pk_len = pk_len;
	w->pk_hash = store_pk_hash(s, pk, pk_len);
	AZ(pthread_mutex_lock(&s->q_mtx));
	w->id = s->next_id++;
	AZ(pthread_mutex_unlock(&s->q_mtx));
	return w;
}

static int
abandon(struct store_write *w, int error)
{
	w->error = error;
	atomic_fetch_add(&w->s->write_rejects, 1);
	return error;
}

int
store_write_append(struct store_write *w, const void *data, size_t len)
{
	CHECK_OBJ(w, WRITE_MAGIC);
	struct store *s = w->s;
	const uint8_t *p = data;

	if (w->error != 0)
		return w->error;
	if (len > s->max_object - w->body_len)
		return abandon(w, STORE_ENOSPC);
	while (len > 0) {
		if (w->buf == NULL)
			w->buf = xmalloc(s->chunk_size);
		size_t n = s->chunk_size - w->buf_len;
		if (n > len)
			n = len;
		memcpy(w->buf + w->buf_len, p, n);
		w->buf_len += n;
		w->body_len += n;
		p += n;
		len -= n;
		if (w->buf_len < s->chunk_size)
			break;
		struct store_op *op = xcalloc(1, sizeof(*op));
		op->kind = OP_CHUNK;
		op->id = w->id;
		op->index = w->nchunks;
		op->data = w->buf;
		op->len = op->cost = w->buf_len;
		w->buf = NULL;
		w->buf_len = 0;
		if (enqueue(s, op, true) != 0)
			return abandon(w, STORE_EBUSY);
		w->nchunks++;
	}
	return 0;
}

static void
write_free(struct store_write *w)
{
	free(w->buf);
	free(w->pk);
	FREE_OBJ(w);
}

int
store_write_finish(struct store_write *w, const struct store_object_meta *meta)
{
	CHECK_OBJ(w, WRITE_MAGIC);
	struct store *s = w->s;
	int ret;

	if (w->error != 0) {
		ret = w->error;
		store_write_abort(w);
		return ret;
	}
	ASSERT(meta->status >= 0 && meta->status <= UINT16_MAX);
	if (w->pk_len > UINT32_MAX || meta->secondary_key_len > UINT32_MAX
	    || meta->headers_len > UINT32_MAX || meta->vary_len > UINT32_MAX) {
		abandon(w, STORE_ENOSPC);
		store_write_abort(w);
		return STORE_ENOSPC;
	}
	/* A body that never filled a chunk and is small goes in the record:
	 * its hits then read one record instead of a record and a chunk. */
	bool inline_body = w->nchunks == 0 && w->body_len > 0 && w->body_len <= STORE_INLINE_MAX;
	struct store_objrec r = {
		.status = (uint16_t)meta->status, .flags = meta->flags,
		.request_time = meta->request_time, .response_time = meta->response_time,
		.body_len = w->body_len,
		.chunk_count = inline_body ? 0 : w->nchunks + (w->buf_len > 0),
		.chunk_size = s->chunk_size,
		.body = inline_body ? w->buf : NULL,
		.pk = w->pk, .pk_len = (uint32_t)w->pk_len,
		.sk = meta->secondary_key, .sk_len = (uint32_t)meta->secondary_key_len,
		.hdr = meta->headers, .hdr_len = (uint32_t)meta->headers_len,
	};
	struct store_op *op = xcalloc(1, sizeof(*op));
	op->done = meta->committed;
	op->done_arg = meta->committed_arg;
	op->kind = OP_FINISH;
	op->id = w->id;
	op->index = w->nchunks;
	op->rec = store_objrec_encode(&r, &op->rec_len);
	if (inline_body) {
		free(w->buf);
	} else {
		op->data = w->buf;
		op->len = w->buf_len;
	}
	op->vary = xstrndup(meta->vary != NULL ? meta->vary : "", meta->vary_len);
	op->vary_len = meta->vary_len;
	op->pk_hash = w->pk_hash;
	op->cost = op->len + op->rec_len + op->vary_len;
	w->buf = NULL;
	w->buf_len = 0;
	if ((ret = enqueue(s, op, true)) != 0) {
		abandon(w, ret);
		store_write_abort(w);
		return ret;
	}
	write_free(w);
	return 0;
}

void
store_release(struct store *s, uint64_t id)
{
	struct store_op *op = xcalloc(1, sizeof(*op));

	op->kind = OP_RELEASE;
	op->id = id;
	AZ(enqueue(s, op, false));
}

bool
store_write_congested(struct store *s)
{
	CHECK_OBJ(s, STORE_MAGIC);
	bool congested;

	AZ(pthread_mutex_lock(&s->q_mtx));
	congested = s->q_bytes > s->queue_max / 2;
	AZ(pthread_mutex_unlock(&s->q_mtx));
	return congested;
}

void
store_write_abort(struct store_write *w)
{
	CHECK_OBJ(w, WRITE_MAGIC);

	if (w->nchunks > 0) {
		struct store_op *op = xcalloc(1, sizeof(*op));
		op->kind = OP_ABORT;
		op->id = w->id;
		AZ(enqueue(w->s, op, false));
	}
	write_free(w);
}

int
store_update_meta(struct store *s, uint64_t id, const struct store_object_meta *meta)
{
	CHECK_OBJ(s, STORE_MAGIC);
	ASSERT(meta->status >= 0 && meta->status <= UINT16_MAX);
	if (meta->headers_len > UINT32_MAX)
		return STORE_ENOSPC;
	struct store_op *op = xcalloc(1, sizeof(*op));
	op->done = meta->committed;
	op->done_arg = meta->committed_arg;

	op->kind = OP_UPDATE;
	op->id = id;
	op->status = (uint16_t)meta->status;
	op->flags = meta->flags;
	op->request_time = meta->request_time;
	op->response_time = meta->response_time;
	op->data = (uint8_t *)xstrndup(meta->headers != NULL ? meta->headers : "",
	    meta->headers_len);
	op->len = meta->headers_len;
	op->cost = op->len;
	return enqueue(s, op, false);
}

/* The ids of the objects stored for pk, read in one read transaction. */
static int
ids_of(struct store *s, const char *pk, size_t pk_len, uint64_t **ids, size_t *n)
{
	uint8_t kb[8];
	MDB_val k = { sizeof(kb), kb }, v;
	struct store_varrec vr;
	struct store_objrec r;
	MDB_txn *txn;
	int ret, rc;

	*ids = NULL;
	*n = 0;
	if ((ret = rtxn_begin(s, &txn)) != 0)
		return ret;
	store_put64(kb, store_pk_hash(s, pk, pk_len));
	rc = mdb_get(txn, s->dbi_variants, &k, &v);
	if (rc != 0 || store_varrec_decode(v.mv_data, v.mv_size, &vr) != 0) {
		rtxn_end(s, txn);
		return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_map_err(rc);
	}
	*ids = xcalloc(vr.n, sizeof(**ids));
	for (size_t i = 0; i < vr.n; i++) {
		store_put64(kb, vr.v[i].id);
		if (mdb_get(txn, s->dbi_objects, &k, &v) == 0
		    && store_objrec_decode(v.mv_data, v.mv_size, &r) == 0
		    && bytes_eq(r.pk, r.pk_len, pk, pk_len))
			(*ids)[(*n)++] = vr.v[i].id;
	}
	store_varrec_free(&vr);
	rtxn_end(s, txn);
	return 0;
}

int
store_hide(struct store *s, const char *pk, size_t pk_len)
{
	uint64_t *ids;
	size_t n;
	int ret, hidden = 0;

	if ((ret = ids_of(s, pk, pk_len, &ids, &n)) != 0)
		return ret;
	AZ(pthread_mutex_lock(&s->ev_mtx));
	for (size_t i = 0; i < n; i++)
		hidden += store_evict_remove(s->ev, ids[i]);
	AZ(pthread_mutex_unlock(&s->ev_mtx));
	free(ids);
	/* Hidden from lookups now, so from copies of lookups too. */
	store_key_bump(s, store_pk_hash(s, pk, pk_len));
	return hidden;
}

int
store_object_key(struct store *s, uint64_t id, char **pk, size_t *pk_len)
{
	uint8_t kb[8];
	MDB_val k = { sizeof(kb), kb }, v;
	struct store_objrec r;
	MDB_txn *txn;
	int ret, rc;

	if ((ret = rtxn_begin(s, &txn)) != 0)
		return ret;
	store_put64(kb, id);
	if ((rc = mdb_get(txn, s->dbi_objects, &k, &v)) != 0) {
		ret = store_map_err(rc);
	} else if (store_objrec_decode(v.mv_data, v.mv_size, &r) != 0) {
		ret = STORE_ENOTFOUND;
	} else {
		*pk = xstrndup(r.pk, r.pk_len);
		*pk_len = r.pk_len;
	}
	rtxn_end(s, txn);
	return ret;
}

/*
 * RFC 9111 §4.4: hidden at once; the writer deletes the records. Should it
 * fail to (even alone), it keeps the key in s->pending and retries until it
 * commits, and the next open deletes them if the process ends first
 * (store_writer.c, store_recover.c): the hidden objects never come back.
 */
int
store_invalidate(struct store *s, const char *pk, size_t pk_len)
{
	CHECK_OBJ(s, STORE_MAGIC);
	int hidden;

	if (pk_len > UINT32_MAX)
		return 0;	/* no object has such a key (store_write_finish) */
	if ((hidden = store_hide(s, pk, pk_len)) < 0)
		return hidden;
	struct store_op *op = xcalloc(1, sizeof(*op));
	op->kind = OP_INVALIDATE;
	op->pk = xstrndup(pk, pk_len);
	op->pk_len = pk_len;
	op->pk_hash = store_pk_hash(s, pk, pk_len);
	op->cost = pk_len;
	AZ(enqueue(s, op, false));
	return hidden;
}

int
store_stats(struct store *s, struct store_stats *out)
{
	CHECK_OBJ(s, STORE_MAGIC);
	AZ(pthread_mutex_lock(&s->st_mtx));
	*out = s->st;
	AZ(pthread_mutex_unlock(&s->st_mtx));
	out->lookups = atomic_load(&s->lookups);
	out->hits = atomic_load(&s->hits);
	out->write_rejects = atomic_load(&s->write_rejects);
	AZ(pthread_mutex_lock(&s->q_mtx));
	out->queue_bytes = s->q_bytes;
	AZ(pthread_mutex_unlock(&s->q_mtx));
	return 0;
}

/*
 * store_txn.c: the one wrapper around LMDB write transactions, and the
 * record-level steps every writer operation is made of (chunks, objects,
 * variants entries, eviction), with the byte accounting they imply.
 *
 * Following Knot DNS's knot_lmdb, a struct store_txn carries a sticky `ret`:
 * the first error is kept and every later call becomes a no-op, so an
 * operation is a straight sequence of calls checked once, at commit. LMDB
 * codes are mapped once (store_map_err): MDB_MAP_FULL, MDB_TXN_FULL and
 * ENOSPC all become STORE_ENOSPC, the writer's cue to evict more and retry.
 *
 * Accounting: `counts.used` charges every objects, variants and chunks record
 * with an estimate of the bytes LMDB needs for it: key + value + node header
 * inside a leaf page, or, for values past LMDB's leaf limit (me_nodemax),
 * whole overflow pages, so a chunk is charged its page-rounded size. What the
 * estimate leaves out (branch pages, partly filled leaves, pages freed by the
 * last transactions that LMDB cannot reuse yet) is what the map slack is for.
 *
 * In-memory effects wait for the commit: objects a transaction completes join
 * the eviction policy, and ids it deletes leave it, only once the commit
 * succeeded (struct store_fx); so do the version bumps of the keys of
 * evicted objects (store_key_version). Victims are popped from the policy while the
 * transaction runs; if it aborts they are reinserted, at the policy's
 * insertion point (they lose their recency: aborts are rare), and the counts
 * are restored.
 *
 * Pinned objects (store_pin): deleting an object that readers hold deletes
 * its record (and takes it out of the policy at the commit, as always) but
 * keeps its chunks, still charged, so the bound keeps counting them and
 * eviction makes room elsewhere. The commit marks the pin gone, and the last
 * store_unpin queues the chunks' deletion. Deleting the chunks of a visible
 * object that nobody holds marks it dying in the pin table until the commit
 * or abort, so that no reader pins chunks already deleted in a transaction
 * not yet committed.
 *
 * Values read in a write transaction point into pages that the next change
 * may move, so whatever is kept across a change is copied first
 * (store_tx_get_copy).
 */
#include "store_int.h"

#include "util.h"

#define NODE_HDR	8	/* LMDB leaf node header */
#define NODE_SLOT	2	/* the node's slot in its page's index */
#define OVF_HDR		16	/* header of an overflow page run */
#define PGNO_SIZE	8	/* a big node holds the overflow page number */

/* ---- accounting ---------------------------------------------------------- */

static uint64_t
charge(const struct store *s, size_t klen, size_t vlen)
{
	if (NODE_HDR + klen + vlen <= s->nodemax)
		return NODE_HDR + klen + vlen + NODE_SLOT;
	uint64_t pages = (OVF_HDR + vlen + s->psize - 1) / s->psize;
	return NODE_HDR + klen + PGNO_SIZE + NODE_SLOT + pages * s->psize;
}

/* What an object's records cost, for the eviction policy's size. */
uint64_t
store_object_charge(const struct store *s, const struct store_objrec *r,
    size_t rec_len)
{
	uint64_t c = charge(s, 8, rec_len);

	if (r->chunk_count > 0) {
		uint64_t full = r->chunk_count - 1;
		c += full * charge(s, STORE_CHUNK_KEY, r->chunk_size);
		c += charge(s, STORE_CHUNK_KEY, r->body_len - full * r->chunk_size);
	}
	return c;
}

void
store_account(struct store_txn *t, MDB_dbi dbi, size_t klen, size_t vlen,
    int sign)
{
	struct store *s = t->s;
	uint64_t c = charge(s, klen, vlen);

	if (dbi == s->dbi_meta)
		return;
	if (sign > 0) {
		s->counts.used += c;
		s->counts.objects += dbi == s->dbi_objects;
		s->counts.chunks += dbi == s->dbi_chunks;
	} else {
		ASSERT(s->counts.used >= c);
		s->counts.used -= c;
		s->counts.objects -= dbi == s->dbi_objects;
		s->counts.chunks -= dbi == s->dbi_chunks;
	}
}

/* ---- the transaction wrapper --------------------------------------------- */

void
store_tx_fail(struct store_txn *t, int rc)
{
	if (t->ret != 0)
		return;
	t->ret = store_map_err(rc);
	if (t->ret == STORE_ENOTFOUND)
		t->ret = STORE_EIO;
	t->map_full = rc == MDB_MAP_FULL;
}

void
store_tx_effect(struct store_txn *t, enum store_fx_kind kind, uint64_t id,
    uint64_t key, uint64_t size)
{
	if (t->nfx == t->fxcap) {
		t->fxcap = t->fxcap ? t->fxcap * 2 : 16;
		t->fx = xrealloc(t->fx, t->fxcap * sizeof(*t->fx));
	}
	t->fx[t->nfx++] = (struct store_fx){ .kind = kind,
	    .v = { .id = id, .key = key, .size = size } };
}

/* 0 with *v (valid until the next change), STORE_ENOTFOUND, or the sticky error. */
int
store_tx_get(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen,
    MDB_val *v)
{
	MDB_val k = { klen, (void *)key };
	int rc;

	if (t->ret != 0)
		return t->ret;
	if ((rc = mdb_get(t->txn, dbi, &k, v)) == MDB_NOTFOUND)
		return STORE_ENOTFOUND;
	if (rc != 0)
		store_tx_fail(t, rc);
	return t->ret;
}

/* Like tx_get, with a malloc'd copy that survives later changes. */
int
store_tx_get_copy(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen,
    void **copy, size_t *len)
{
	MDB_val v;
	int ret = store_tx_get(t, dbi, key, klen, &v);

	if (ret != 0)
		return ret;
	*copy = xmalloc(v.mv_size);
	memcpy(*copy, v.mv_data, v.mv_size);
	*len = v.mv_size;
	return 0;
}

void
store_tx_put(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen,
    const void *data, size_t len)
{
	MDB_val k = { klen, (void *)key }, v = { len, (void *)data }, old;
	unsigned flags = 0;
	int ret, rc;

	if ((ret = store_tx_get(t, dbi, key, klen, &old)) == 0)
		store_account(t, dbi, klen, old.mv_size, -1);
	else if (ret != STORE_ENOTFOUND)
		return;
	/*
	 * Object ids only grow, so a new object or chunk key is nearly always
	 * the largest. A page that an ordinary put splits keeps half its
	 * entries and never gets more (later keys are larger); an append
	 * leaves it full. With 1 KiB bodies that halves the pages the objects
	 * use. A key that is not the largest (objects finished out of order)
	 * is refused with MDB_KEYEXIST and put the ordinary way.
	 */
	if (ret == STORE_ENOTFOUND && (dbi == t->s->dbi_objects || dbi == t->s->dbi_chunks))
		flags = MDB_APPEND;
	rc = mdb_put(t->txn, dbi, &k, &v, flags);
	if (rc == MDB_KEYEXIST && flags != 0)
		rc = mdb_put(t->txn, dbi, &k, &v, 0);
	if (rc != 0) {
		store_tx_fail(t, rc);
		return;
	}
	store_account(t, dbi, klen, len, +1);
}

void
store_tx_del(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen)
{
	MDB_val k = { klen, (void *)key }, old;
	int rc;

	if (store_tx_get(t, dbi, key, klen, &old) != 0)
		return;
	store_account(t, dbi, klen, old.mv_size, -1);
	if ((rc = mdb_del(t->txn, dbi, &k, NULL)) != 0)
		store_tx_fail(t, rc);
}

void
store_tx_begin(struct store *s, struct store_txn *t)
{
	int rc;

	*t = (struct store_txn){ .s = s, .saved = s->counts };
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &t->txn)) != 0) {
		t->txn = NULL;
		store_tx_fail(t, rc);
	}
}

size_t
store_doomed_find(const struct store *s, uint64_t id)
{
	for (size_t i = 0; i < s->ndoomed; i++)
		if (s->doomed[i].id == id)
			return i;
	return SIZE_MAX;
}

/* Commits (or, after an error, aborts) and applies or undoes the effects. */
int
store_tx_commit(struct store_txn *t)
{
	struct store *s = t->s;
	uint64_t *release = NULL;
	size_t nrelease = 0;
	int rc;

	if (t->ret == 0) {
		if ((rc = mdb_txn_commit(t->txn)) != 0)
			store_tx_fail(t, rc);
	} else if (t->txn != NULL) {
		mdb_txn_abort(t->txn);
	}
	AZ(pthread_mutex_lock(&s->ev_mtx));
	if (t->ret == 0) {
		for (size_t i = 0; i < t->nfx; i++) {
			struct store_fx *f = &t->fx[i];
			switch (f->kind) {
			case STORE_FX_INSERT:
				store_evict_insert(s->ev, f->v.id, f->v.key, f->v.size);
				break;
			case STORE_FX_REMOVE:
				store_evict_remove(s->ev, f->v.id);
				break;
			case STORE_FX_DYING:
				store_pin_undying(s, f->v.id);
				break;
			case STORE_FX_KEPT:
				if (!store_pin_deleted(s, f->v.id))
					break;
				if (release == NULL)
					release = xmalloc(t->nfx * sizeof(*release));
				release[nrelease++] = f->v.id;
				break;
			case STORE_FX_UNDOOM:
				break;
			}
		}
	} else {
		for (size_t i = 0; i < t->nvictims; i++)
			store_evict_insert(s->ev, t->victims[i].id, t->victims[i].key,
			    t->victims[i].size);
		for (size_t i = 0; i < t->nfx; i++)
			if (t->fx[i].kind == STORE_FX_DYING)
				store_pin_undying(s, t->fx[i].v.id);
	}
	AZ(pthread_mutex_unlock(&s->ev_mtx));
	/* Kept for readers who all left before the commit: delete them now. */
	for (size_t i = 0; i < nrelease; i++)
		store_release(s, release[i]);
	free(release);
	if (t->ret == 0) {
		/* Copies of evicted objects elsewhere (the workers' hot tables)
		 * see the eviction at their next use: see store_key_version. */
		for (size_t i = 0; i < t->nvictims; i++)
			store_key_bump(s, t->victims[i].key);
		for (size_t i = 0; i < t->nfx; i++) {
			size_t d = store_doomed_find(s, t->fx[i].v.id);
			if (t->fx[i].kind == STORE_FX_UNDOOM && d != SIZE_MAX)
				s->doomed[d] = s->doomed[--s->ndoomed];
		}
		AZ(pthread_mutex_lock(&s->st_mtx));
		s->st.bytes = s->counts.used;
		s->st.objects = s->counts.objects;
		s->st.chunks = s->counts.chunks;
		s->st.inserts += t->inserts;
		s->st.evictions += t->evictions;
		s->st.invalidations += t->invalidations;
		s->st.txns++;
		AZ(pthread_mutex_unlock(&s->st_mtx));
	} else {
		s->counts = t->saved;
	}
	free(t->victims);
	free(t->fx);
	return t->ret;
}

/* ---- objects, chunks and variants ---------------------------------------- */

void
store_tx_put_chunk(struct store_txn *t, uint64_t id, uint32_t index,
    const void *data, size_t len)
{
	uint8_t kb[STORE_CHUNK_KEY];

	store_put64(kb, id);
	store_put32(kb + 8, index);
	store_tx_put(t, t->s->dbi_chunks, kb, sizeof(kb), data, len);
}

void
store_tx_delete_chunks(struct store_txn *t, uint64_t id)
{
	uint8_t kb[STORE_CHUNK_KEY];
	MDB_val k = { sizeof(kb), kb }, v;
	MDB_cursor *c;
	int rc;

	if (t->ret != 0)
		return;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi_chunks, &c)) != 0) {
		store_tx_fail(t, rc);
		return;
	}
	store_put64(kb, id);
	store_put32(kb + 8, 0);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == STORE_CHUNK_KEY && store_get64(k.mv_data) == id) {
		store_account(t, t->s->dbi_chunks, k.mv_size, v.mv_size, -1);
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		/* After a delete, MDB_NEXT yields the item that followed it. */
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		store_tx_fail(t, rc);
	mdb_cursor_close(c);
}

/* Deletes an object's record, and its chunks unless readers hold it. */
void
store_tx_delete_object(struct store_txn *t, uint64_t id)
{
	struct store *s = t->s;
	uint8_t kb[8];
	bool kept;

	store_put64(kb, id);
	store_tx_del(t, s->dbi_objects, kb, sizeof(kb));
	AZ(pthread_mutex_lock(&s->ev_mtx));
	kept = store_pin_deleting(s, id);
	AZ(pthread_mutex_unlock(&s->ev_mtx));
	if (kept) {
		store_tx_effect(t, STORE_FX_KEPT, id, 0, 0);
	} else {
		store_tx_delete_chunks(t, id);
		store_tx_effect(t, STORE_FX_DYING, id, 0, 0);
	}
	store_tx_effect(t, STORE_FX_REMOVE, id, 0, 0);
}

void
store_tx_put_variants(struct store_txn *t, const uint8_t kb[8],
    const struct store_varrec *vr)
{
	size_t len;

	if (vr->n == 0) {
		store_tx_del(t, t->s->dbi_variants, kb, 8);
		return;
	}
	uint8_t *buf = store_varrec_encode(vr, &len);
	store_tx_put(t, t->s->dbi_variants, kb, 8, buf, len);
	free(buf);
}

/* Removes the entry for id from the variants record of hash h. */
static void
unlink_variant(struct store_txn *t, uint64_t h, uint64_t id)
{
	struct store_varrec vr;
	uint8_t kb[8];
	void *copy;
	size_t len;

	store_put64(kb, h);
	if (store_tx_get_copy(t, t->s->dbi_variants, kb, sizeof(kb), &copy, &len) != 0)
		return;
	if (store_varrec_decode(copy, len, &vr) == 0) {
		for (size_t i = 0; i < vr.n; i++) {
			if (vr.v[i].id == id) {
				store_varrec_remove(&vr, i);
				store_tx_put_variants(t, kb, &vr);
				break;
			}
		}
		store_varrec_free(&vr);
	}
	free(copy);
}

/* Evicts until used <= limit; false when the policy had nothing to give. */
bool
store_tx_evict(struct store_txn *t, uint64_t limit)
{
	struct store *s = t->s;
	struct store_evict_victim v;

	while (t->ret == 0 && s->counts.used > limit) {
		AZ(pthread_mutex_lock(&s->ev_mtx));
		bool got = store_evict_pop(s->ev, &v);
		AZ(pthread_mutex_unlock(&s->ev_mtx));
		if (!got)
			return false;
		if (t->nvictims == t->vcap) {
			t->vcap = t->vcap ? t->vcap * 2 : 16;
			t->victims = xrealloc(t->victims, t->vcap * sizeof(*t->victims));
		}
		t->victims[t->nvictims++] = v;
		unlink_variant(t, v.key, v.id);
		store_tx_delete_object(t, v.id);
		t->evictions++;
	}
	return true;
}

void
store_tx_put_next_id(struct store_txn *t)
{
	uint8_t v[8];

	AZ(pthread_mutex_lock(&t->s->q_mtx));
	store_put64(v, t->s->next_id);
	AZ(pthread_mutex_unlock(&t->s->q_mtx));
	store_tx_put(t, t->s->dbi_meta, "next_id", 7, v, sizeof(v));
}


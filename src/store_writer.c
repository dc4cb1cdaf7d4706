/*
 * store_writer.c: the store's single writer thread: it takes operations from
 * the queue that store.c fills and commits them in batches.
 *
 * Batches: the writer takes whatever is queued, up to BATCH_OPS operations or
 * batch_max chunk bytes, and applies it in one write transaction, so the
 * fsync cost is shared and no worker ever waits for the disk. A FINISH
 * operation carries an object's last chunk, its objects record and its
 * variants update: they commit together, which is what makes an object
 * visible only once complete (its earlier chunks may have committed in
 * earlier batches; after a crash they are orphans that store_recover.c
 * deletes at the next open).
 *
 * The size bound: at the end of every transaction the writer evicts until
 * the charged bytes are within the bound, in the same transaction, so no
 * committed state ever exceeds it. Should LMDB report MDB_MAP_FULL all the
 * same (the map is bound + slack), the transaction is aborted, a separate
 * one evicts a margin below the bound (doubling with each attempt), and the
 * batch is retried, up to ATTEMPTS times; then each operation is tried
 * alone. An operation that still fails is dropped: its object is "doomed",
 * later chunks for it are skipped and its committed chunks are deleted.
 * Callers never see MDB_MAP_FULL: their writes were only queued.
 *
 * Pins: an object deleted while readers hold it (store_pin) keeps its
 * chunks (store_txn.c); the last store_unpin queues OP_RELEASE, which
 * deletes them. A release that fails even alone leaves the id doomed, so the
 * next transaction's cleanup deletes them instead.
 *
 * Invalidations (RFC 9111 §4.4) are never dropped: store_invalidate hid the
 * objects already, and a restart would show them again. One that fails even
 * alone joins s->pending, which every later transaction retries first (so
 * while it keeps failing, nothing else commits either: the same holds for
 * the doomed cleanup), and is written to STORE_PENDING_FILE before
 * store_sync returns, so that the next open deletes its objects should the
 * process end first (store_recover.c). A 304 freshening (OP_UPDATE) that
 * fails becomes an invalidation of its URL: serving the old headers would
 * ignore the 304's (RFC 9111 §4.3.4).
 */
#include "store_int.h"

#include "util.h"

#define BATCH_OPS	256
#define ATTEMPTS	4

enum owner {
	OWNER_NONE = 0,	/* no (readable) object record */
	OWNER_SAME,	/* an object of this primary key */
	OWNER_OTHER,	/* another URL whose key hashes alike */
};

static enum owner
owner_of(struct store_txn *t, uint64_t id, const char *pk, size_t pk_len)
{
	uint8_t kb[8];
	struct store_objrec r;
	MDB_val v;

	store_put64(kb, id);
	if (store_tx_get(t, t->s->dbi_objects, kb, sizeof(kb), &v) != 0
	    || store_objrec_decode(v.mv_data, v.mv_size, &r) != 0)
		return OWNER_NONE;
	if (r.pk_len == pk_len && memcmp(r.pk, pk, pk_len) == 0)
		return OWNER_SAME;
	return OWNER_OTHER;
}

/* ---- operations ---------------------------------------------------------- */

static void
apply_chunk(struct store_txn *t, const struct store_op *op)
{
	if (store_doomed_find(t->s, op->id) == SIZE_MAX)
		store_tx_put_chunk(t, op->id, op->index, op->data, op->len);
}

static void
apply_abort(struct store_txn *t, const struct store_op *op)
{
	store_tx_delete_chunks(t, op->id);
	store_tx_effect(t, STORE_FX_UNDOOM, op->id, 0, 0);
}

/*
 * The last chunk, the object record and the variants entry, in this
 * transaction. The new entry replaces the one with the same secondary key;
 * entries of another Vary, of another URL (hash collision) or pointing at
 * nothing go too, with their objects.
 */
static void
apply_finish(struct store_txn *t, const struct store_op *op)
{
	struct store *s = t->s;
	struct store_objrec r;
	struct store_varrec old, vr = { 0 };
	uint8_t hk[8], ok[8];
	void *copy = NULL;
	size_t len;

	if (store_doomed_find(s, op->id) != SIZE_MAX) {
		apply_abort(t, op);
		return;
	}
	AZ(store_objrec_decode(op->rec, op->rec_len, &r));
	if (op->len > 0)
		store_tx_put_chunk(t, op->id, op->index, op->data, op->len);
	store_put64(hk, op->pk_hash);
	if (store_tx_get_copy(t, s->dbi_variants, hk, sizeof(hk), &copy, &len) == 0
	    && store_varrec_decode(copy, len, &old) == 0) {
		bool same_vary = old.vary_len == op->vary_len
		    && memcmp(old.vary, op->vary, op->vary_len) == 0;
		for (size_t i = 0; i < old.n; i++) {
			const struct store_varent *e = &old.v[i];
			bool same_sk = e->sk_len == r.sk_len && memcmp(e->sk, r.sk, r.sk_len) == 0;
			if (same_vary && !same_sk
			    && owner_of(t, e->id, r.pk, r.pk_len) == OWNER_SAME)
				store_varrec_add(&vr, e->id, e->sk, e->sk_len);
			else
				store_tx_delete_object(t, e->id);
		}
		store_varrec_free(&old);
	}
	while (vr.n >= STORE_MAX_VARIANTS) {
		store_tx_delete_object(t, vr.v[0].id);
		store_varrec_remove(&vr, 0);
	}
	vr.vary = op->vary;
	vr.vary_len = (uint32_t)op->vary_len;
	store_varrec_add(&vr, op->id, r.sk, r.sk_len);
	store_tx_put_variants(t, hk, &vr);
	store_varrec_free(&vr);
	free(copy);
	store_put64(ok, op->id);
	store_tx_put(t, s->dbi_objects, ok, sizeof(ok), op->rec, op->rec_len);
	store_tx_effect(t, STORE_FX_INSERT, op->id, op->pk_hash,
	    store_object_charge(s, &r, op->rec_len));
	t->inserts++;
}

/* RFC 9111 §4.3.4: new status, times and header block; body and keys kept. */
static void
apply_update(struct store_txn *t, struct store_op *op)
{
	struct store_objrec r;
	uint8_t kb[8];
	void *copy;
	size_t len, rec_len;

	store_put64(kb, op->id);
	if (store_tx_get_copy(t, t->s->dbi_objects, kb, sizeof(kb), &copy, &len) != 0)
		return;		/* evicted or replaced meanwhile */
	if (store_objrec_decode(copy, len, &r) == 0) {
		/* For store_key_bump once committed. */
		op->pk_hash = store_pk_hash(t->s, r.pk, r.pk_len);
		r.status = op->status;
		r.flags = op->flags;
		r.request_time = op->request_time;
		r.response_time = op->response_time;
		r.hdr = (const char *)op->data;
		r.hdr_len = (uint32_t)op->len;
		uint8_t *rec = store_objrec_encode(&r, &rec_len);
		store_tx_put(t, t->s->dbi_objects, kb, sizeof(kb), rec, rec_len);
		free(rec);
	}
	free(copy);
}

/*
 * Test hook (store_int.h): fails t as LMDB would when an operation of this
 * kind is set to fail.
 */
static void
fault(struct store_txn *t, enum store_op_kind kind)
{
	if (atomic_load(&t->s->fault_ops) & (1u << kind))
		store_tx_fail(t, atomic_load(&t->s->fault_rc));
}

/* RFC 9111 §4.4: every stored response of the URL pk (hash pk_hash) goes. */
static void
invalidate(struct store_txn *t, const char *pk, size_t pk_len, uint64_t pk_hash)
{
	struct store_varrec old, vr = { 0 };
	uint8_t hk[8];
	void *copy;
	size_t len;

	store_put64(hk, pk_hash);
	if (store_tx_get_copy(t, t->s->dbi_variants, hk, sizeof(hk), &copy, &len) != 0)
		return;
	if (store_varrec_decode(copy, len, &old) == 0) {
		for (size_t i = 0; i < old.n; i++) {
			switch (owner_of(t, old.v[i].id, pk, pk_len)) {
			case OWNER_SAME:
				store_tx_delete_object(t, old.v[i].id);
				t->invalidations++;
				break;
			case OWNER_OTHER:
				store_varrec_add(&vr, old.v[i].id, old.v[i].sk, old.v[i].sk_len);
				break;
			case OWNER_NONE:
				break;
			}
		}
		vr.vary = old.vary;
		vr.vary_len = old.vary_len;
		if (vr.n != old.n)
			store_tx_put_variants(t, hk, &vr);
		store_varrec_free(&old);
		store_varrec_free(&vr);
	}
	free(copy);
}

/* The chunks of a deleted object whose last reader left (store_unpin). */
static void
apply_release(struct store_txn *t, const struct store_op *op)
{
	store_tx_delete_chunks(t, op->id);
}

static void
apply_op(struct store_txn *t, struct store_op *op)
{
	fault(t, op->kind);
	switch (op->kind) {
	case OP_CHUNK:
		apply_chunk(t, op);
		break;
	case OP_FINISH:
		apply_finish(t, op);
		break;
	case OP_ABORT:
		apply_abort(t, op);
		break;
	case OP_UPDATE:
		apply_update(t, op);
		break;
	case OP_INVALIDATE:
		invalidate(t, op->pk, op->pk_len, op->pk_hash);
		break;
	case OP_RELEASE:
		apply_release(t, op);
		break;
	}
}

/* ---- batches ------------------------------------------------------------- */

/*
 * Deletes the chunks of doomed objects whose finish or abort was seen, and
 * retries the invalidations that failed: before the batch's operations, so
 * that these see them done (a response stored after an invalidation
 * survives it) and the space they free helps the batch.
 */
static void
cleanup(struct store_txn *t)
{
	struct store *s = t->s;

	for (size_t i = 0; i < s->ndoomed; i++) {
		if (s->doomed[i].closed) {
			store_tx_delete_chunks(t, s->doomed[i].id);
			store_tx_effect(t, STORE_FX_UNDOOM, s->doomed[i].id, 0, 0);
		}
	}
	for (size_t i = 0; i < s->npending; i++) {
		fault(t, OP_INVALIDATE);
		invalidate(t, s->pending[i].pk, s->pending[i].pk_len, s->pending[i].pk_hash);
	}
}

/* The pending invalidations committed: forget them (and, next, the file). */
static void
pending_done(struct store *s)
{
	if (s->npending == 0)
		return;
	for (size_t i = 0; i < s->npending; i++)
		free(s->pending[i].pk);
	s->npending = 0;
	s->pending_dirty = true;
	s->pending_covered = true;
}

int
store_writer_pend(struct store *s, const char *pk, size_t pk_len)
{
	uint64_t h = store_pk_hash(s, pk, pk_len);
	size_t i;

	for (i = 0; i < s->npending; i++)
		if (s->pending[i].pk_hash == h && s->pending[i].pk_len == pk_len
		    && memcmp(s->pending[i].pk, pk, pk_len) == 0)
			break;
	if (i == s->npending) {
		if (s->npending == s->pending_cap) {
			s->pending_cap = s->pending_cap ? s->pending_cap * 2 : 8;
			s->pending = xrealloc(s->pending, s->pending_cap * sizeof(*s->pending));
		}
		s->pending[s->npending++] = (struct store_pending){
		    .pk = xstrndup(pk, pk_len), .pk_len = pk_len, .pk_hash = h };
		s->pending_dirty = true;
		s->pending_covered = false;
	}
	/*
	 * store_invalidate hid what was stored when it was called; an object
	 * committed since by an operation queued before the invalidation is
	 * visible, and goes too.
	 */
	return store_hide(s, pk, pk_len);
}

/*
 * After MDB_MAP_FULL: evicts a margin below the bound in its own transaction,
 * the margin doubling with each attempt. The free space LMDB needs may be
 * there already, but not as a run of pages long enough for a chunk
 * (fragmentation), or not reusable yet (LMDB reuses the pages a transaction
 * frees only once no snapshot can see them); evicting more solves both.
 */
static int
make_headroom(struct store *s, int attempt)
{
	uint64_t margin = s->batch_max * 2 > s->bound / 16 ? s->batch_max * 2 : s->bound / 16;
	uint64_t limit, shifted = margin << (attempt - 1);
	struct store_txn t;

	limit = s->bound > shifted ? s->bound - shifted : 0;
	store_tx_begin(s, &t);
	if (!store_tx_evict(&t, limit) && t.nvictims == 0 && t.ret == 0)
		t.ret = STORE_ENOSPC;
	return store_tx_commit(&t);
}

int
store_writer_apply(struct store *s, struct store_op *const *ops, size_t n)
{
	for (int attempt = 1;; attempt++) {
		struct store_txn t;
		store_tx_begin(s, &t);
		cleanup(&t);
		for (size_t i = 0; i < n; i++)
			apply_op(&t, ops[i]);
		if (!store_tx_evict(&t, s->bound) && t.ret == 0)
			t.ret = STORE_ENOSPC;	/* what is left is not evictable */
		store_tx_put_next_id(&t);
		int ret = store_tx_commit(&t);
		if (ret == 0) {
			pending_done(s);
			return 0;
		}
		if (!t.map_full || attempt == ATTEMPTS)
			return ret;
		AZ(pthread_mutex_lock(&s->st_mtx));
		s->st.map_full++;
		AZ(pthread_mutex_unlock(&s->st_mtx));
		if (make_headroom(s, attempt) != 0)
			return ret;
	}
}

/* Marks id doomed; returns true when it was not already. */
static bool
doom(struct store *s, uint64_t id, bool closed)
{
	size_t d = store_doomed_find(s, id);

	if (d != SIZE_MAX) {
		s->doomed[d].closed |= closed;
		return false;
	}
	if (s->ndoomed == s->doomed_cap) {
		s->doomed_cap = s->doomed_cap ? s->doomed_cap * 2 : 8;
		s->doomed = xrealloc(s->doomed, s->doomed_cap * sizeof(*s->doomed));
	}
	s->doomed[s->ndoomed++] = (struct store_doomed){ .id = id, .closed = closed };
	return true;
}

/*
 * An operation that could not be committed even alone is dropped; an
 * invalidation is kept for retries instead.
 */
static void
fail_op(struct store *s, const struct store_op *op)
{
	bool counted = true;
	char *pk;
	size_t len;

	switch (op->kind) {
	case OP_CHUNK:
		counted = doom(s, op->id, false);
		break;
	case OP_FINISH:
	case OP_ABORT:
		counted = doom(s, op->id, true) && op->kind == OP_FINISH;
		break;
	case OP_RELEASE:
		/* Its chunks go with the next cleanup_doomed. */
		counted = false;
		(void)doom(s, op->id, true);
		break;
	case OP_UPDATE:
		/*
		 * RFC 9111 §4.3.4: the stored headers must not outlive the 304
		 * that replaced them (it may have shortened the freshness or
		 * withdrawn stale-if-error), so the URL is invalidated instead,
		 * as a cache may always do.
		 */
		if (store_object_key(s, op->id, &pk, &len) == 0) {
			(void)store_writer_pend(s, pk, len);
			free(pk);
		}
		break;
	case OP_INVALIDATE:
		/* A failure to hide leaves visible only what was committed after
		 * store_invalidate's call, until the retry commits. */
		(void)store_writer_pend(s, op->pk, op->pk_len);
		break;
	}
	if (counted) {
		AZ(pthread_mutex_lock(&s->st_mtx));
		s->st.write_failures++;
		AZ(pthread_mutex_unlock(&s->st_mtx));
	}
}

static bool
cleanup_pending(const struct store *s)
{
	for (size_t i = 0; i < s->ndoomed; i++)
		if (s->doomed[i].closed)
			return true;
	return s->npending > 0;
}

static void
run_batch(struct store *s, struct store_op *const *ops, size_t n)
{
	if (store_writer_apply(s, ops, n) == 0)
		return;
	if (n == 1)
		fail_op(s, ops[0]);
	for (size_t i = 0; n > 1 && i < n; i++)
		if (store_writer_apply(s, &ops[i], 1) != 0)
			fail_op(s, ops[i]);
	/* Dropped objects' chunks go now rather than with the next batch, and
	 * failed invalidations get a first retry. */
	if (cleanup_pending(s))
		(void)store_writer_apply(s, NULL, 0);
}

void *
store_writer_main(void *arg)
{
	struct store *s = arg;
	struct store_op **batch = xmalloc(BATCH_OPS * sizeof(*batch));

	CHECK_OBJ(s, STORE_MAGIC);
	AZ(pthread_mutex_lock(&s->q_mtx));
	for (;;) {
		while (s->q_head == NULL && !s->stop)
			AZ(pthread_cond_wait(&s->q_cond, &s->q_mtx));
		if (s->q_head == NULL)
			break;		/* stopping, and drained */
		size_t n = 0;
		uint64_t bytes = 0, cost = 0;
		while (s->q_head != NULL && n < BATCH_OPS
		    && (n == 0 || bytes + s->q_head->len <= s->batch_max)) {
			struct store_op *op = s->q_head;
			s->q_head = op->next;
			if (s->q_head == NULL)
				s->q_tail = NULL;
			batch[n++] = op;
			bytes += op->len;
			cost += op->cost;
		}
		uint64_t seq = batch[n - 1]->seq;
		AZ(pthread_mutex_unlock(&s->q_mtx));
		run_batch(s, batch, n);
		/* Before store_sync returns: an invalidation that failed is on disk. */
		store_pending_record(s);
		for (size_t i = 0; i < n; i++) {
			/* What lookups of these keys return has changed (or, for an
			 * op that failed, may have): see store_key_version. */
			if (batch[i]->kind == OP_FINISH || batch[i]->kind == OP_UPDATE)
				store_key_bump(s, batch[i]->pk_hash);
			if (batch[i]->done != NULL)
				batch[i]->done(batch[i]->done_arg);
			store_op_free(batch[i]);
		}
		AZ(pthread_mutex_lock(&s->q_mtx));
		s->q_bytes -= cost;
		s->seq_done = seq;
		AZ(pthread_cond_broadcast(&s->done_cond));
	}
	AZ(pthread_mutex_unlock(&s->q_mtx));
	free(batch);
	return NULL;
}

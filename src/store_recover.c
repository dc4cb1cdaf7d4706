/*
 * store_recover.c: what store_open does to a store before the writer thread
 * starts, in one write transaction: after a crash, the integrity check; after
 * a clean close, only the rebuild of the in-memory state. It is why opening
 * after a kill -9 needs no repair tool.
 *
 * The integrity check deletes:
 * - objects records that do not decode (unknown version, bad lengths);
 * - chunks without an object record (the chunks of an object that was being
 *   written when the process died), and chunks that do not fit their object;
 * - objects whose chunks do not add up to their body;
 * - variants entries that point at a missing or incomplete object, or at an
 *   object whose primary key hashes elsewhere, and records left empty;
 * - objects that no variants entry points at.
 * Then it rebuilds the byte accounting and the eviction policy from what is
 * left, in id order (oldest first, nothing marked as recently used), and
 * evicts down to the bound when the store was opened with a smaller one.
 *
 * The check reads chunk keys and value sizes, never chunk bytes: mv_size
 * comes from the leaf node, and a chunk too large for a leaf lives in
 * overflow pages that LMDB only points at (mdb_node_read computes mv_data
 * from the page number without reading the page). The chunks walk is a merge
 * with the objects found, both in id order.
 *
 * Clean close: store_close writes a meta "clean" record (store_close_state):
 * the id of the transaction that writes it and the byte, object and chunk
 * counts. The next open deletes it in its own transaction, so a crash at any
 * later point leaves no record behind. The record is trusted only when no
 * transaction committed after it (a process that does not know the record,
 * or a tool, may have written since). Then the open reads the objects DB
 * alone, to rebuild the eviction policy, and takes the byte count from the
 * record; it runs the full check after all when a record does not decode,
 * the counts are not the DBs', or the objects' chunks are fewer than the
 * chunks DB holds (an object whose write was still open at the close left
 * its chunks). Neither the variants DB nor the chunks are read.
 *
 * Pending invalidations (RFC 9111 §4.4): one the writer could not commit
 * is listed in STORE_PENDING_FILE, in the store directory, until it commits
 * (store_pending_record). Neither the check nor the clean load knows about
 * them, and both would make their objects visible again, so the open then
 * hides the objects of every listed key before the store is used, and
 * commits their deletion (or leaves it to the writer's retries). A file that
 * cannot be read empties the store. At close, an invalidation that is
 * neither committed nor listed (the disk took neither) makes store_close
 * delete the data file, so that the next open starts empty.
 *
 * The scans walk each DB with a cursor and only note what to delete; the
 * deletions happen after the cursor is closed. Records deleted as damaged
 * were never charged; records that pass are charged as they are seen, and
 * later deletions go through the accounted store_tx_* calls.
 */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define PENDING_MAGIC	0x46494e56u	/* "FINV" */
#define PENDING_VERSION	1u
#define PENDING_HDR	8		/* u32 magic, u32 version */
/* Larger is not read (the store is emptied instead): a million URLs. */
#define PENDING_MAX	(64 << 20)
#define PENDING_TMP	STORE_PENDING_FILE ".tmp"
#define DATA_FILE	"data.mdb"	/* LMDB's data file in the store directory */

/* What the scans learn about one objects record. */
struct scanned {
	uint64_t	id;
	uint64_t	pk_hash;
	uint64_t	charge;
	uint64_t	chunked_len;	/* body bytes kept in chunks (0 when inline) */
	uint64_t	seen_bytes;
	uint32_t	chunk_count;
	uint32_t	chunk_size;
	uint32_t	seen_chunks;
	bool		referenced;
};

struct scan {
	struct scanned	*v;
	size_t		n;
	size_t		cap;
	MDB_val		*dead;		/* keys to delete without accounting */
	size_t		ndead;
	size_t		deadcap;
	uint64_t	max_id;
};

static void
mark_dead(struct scan *sc, const MDB_val *k)
{
	if (sc->ndead == sc->deadcap) {
		sc->deadcap = sc->deadcap ? sc->deadcap * 2 : 16;
		sc->dead = xrealloc(sc->dead, sc->deadcap * sizeof(*sc->dead));
	}
	void *copy = xmalloc(k->mv_size);
	memcpy(copy, k->mv_data, k->mv_size);
	sc->dead[sc->ndead++] = (MDB_val){ k->mv_size, copy };
}

static void
delete_dead(struct store_txn *t, struct scan *sc, MDB_dbi dbi)
{
	int rc;

	for (size_t i = 0; i < sc->ndead; i++) {
		if (t->ret == 0 && (rc = mdb_del(t->txn, dbi, &sc->dead[i], NULL)) != 0)
			store_tx_fail(t, rc);
		free(sc->dead[i].mv_data);
	}
	sc->ndead = 0;
}

static struct scanned *
scanned_find(struct scan *sc, uint64_t id)
{
	size_t lo = 0, hi = sc->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sc->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sc->n && sc->v[lo].id == id ? &sc->v[lo] : NULL;
}

static int
open_cursor(struct store_txn *t, MDB_dbi dbi, MDB_cursor **c)
{
	int rc;

	if (t->ret == 0 && (rc = mdb_cursor_open(t->txn, dbi, c)) != 0)
		store_tx_fail(t, rc);
	return t->ret;
}

static void
end_scan(struct store_txn *t, MDB_cursor *c, int rc)
{
	if (rc != MDB_NOTFOUND)
		store_tx_fail(t, rc);
	mdb_cursor_close(c);
}

/* Notes the objects record under k, rec_len bytes, that decoded as r. */
static void
add_scanned(struct store *s, struct scan *sc, const MDB_val *k, size_t rec_len,
    const struct store_objrec *r, bool referenced)
{
	uint64_t id = store_get64(k->mv_data);

	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 64;
		sc->v = xrealloc(sc->v, sc->cap * sizeof(*sc->v));
	}
	sc->v[sc->n] = (struct scanned){ .id = id,
	    .pk_hash = store_pk_hash(s, r->pk, r->pk_len),
	    .charge = store_object_charge(s, r, rec_len), .chunked_len = r->chunk_count > 0 ? r->body_len : 0,
	    .chunk_count = r->chunk_count, .chunk_size = r->chunk_size,
	    .referenced = referenced };
	if (id > sc->max_id)
		sc->max_id = id;
	sc->n++;
}

static void
scan_objects(struct store_txn *t, struct scan *sc)
{
	struct store *s = t->s;
	struct store_objrec r;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (open_cursor(t, s->dbi_objects, &c) != 0)
		return;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		if (k.mv_size != 8 || store_objrec_decode(v.mv_data, v.mv_size, &r) != 0) {
			mark_dead(sc, &k);
			s->st.open_bad_objects++;
			continue;
		}
		store_account(t, s->dbi_objects, k.mv_size, v.mv_size, +1);
		add_scanned(s, sc, &k, v.mv_size, &r, false);
	}
	end_scan(t, c, rc);
	delete_dead(t, sc, s->dbi_objects);
}

/* True when chunk index of o, len bytes long, is the next one it expects. */
static bool
chunk_fits(const struct scanned *o, uint32_t index, size_t len)
{
	if (index != o->seen_chunks || index >= o->chunk_count)
		return false;
	if (index + 1 < o->chunk_count)
		return len == o->chunk_size;
	return len == o->chunked_len - (uint64_t)index * o->chunk_size;
}

/*
 * Chunk keys sort by (id, index) and sc->v by id, so one pass over both
 * finds each chunk's object. Only the key and v.mv_size are read.
 */
static void
scan_chunks(struct store_txn *t, struct scan *sc)
{
	struct store *s = t->s;
	struct scanned *o = sc->v, *end = sc->v + sc->n;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (open_cursor(t, s->dbi_chunks, &c) != 0)
		return;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		bool fits = false;
		if (k.mv_size == STORE_CHUNK_KEY) {
			uint64_t id = store_get64(k.mv_data);
			if (id > sc->max_id)
				sc->max_id = id;
			while (o < end && o->id < id)
				o++;
			fits = o < end && o->id == id
			    && chunk_fits(o, store_get32((uint8_t *)k.mv_data + 8), v.mv_size);
		}
		if (!fits) {
			mark_dead(sc, &k);
			s->st.open_orphan_chunks++;
			continue;
		}
		store_account(t, s->dbi_chunks, k.mv_size, v.mv_size, +1);
		o->seen_chunks++;
		o->seen_bytes += v.mv_size;
	}
	end_scan(t, c, rc);
	delete_dead(t, sc, s->dbi_chunks);
}

/* Keeps the entries that point at a complete object of the record's hash. */
static void
scan_variants(struct store_txn *t, struct scan *sc)
{
	struct store *s = t->s;
	struct store_varrec vr, keep;
	MDB_val *puts = NULL;
	size_t nputs = 0;
	MDB_cursor *c;
	MDB_val k, v;
	int rc;

	if (open_cursor(t, s->dbi_variants, &c) != 0)
		return;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		if (k.mv_size != 8 || store_varrec_decode(v.mv_data, v.mv_size, &vr) != 0) {
			mark_dead(sc, &k);
			s->st.open_bad_variants++;
			continue;
		}
		keep = (struct store_varrec){ .vary = vr.vary, .vary_len = vr.vary_len };
		for (size_t i = 0; i < vr.n; i++) {
			struct scanned *o = scanned_find(sc, vr.v[i].id);
			if (o != NULL && !o->referenced && o->pk_hash == store_get64(k.mv_data)
			    && o->seen_chunks == o->chunk_count && o->seen_bytes == o->chunked_len) {
				o->referenced = true;
				store_varrec_add(&keep, vr.v[i].id, vr.v[i].sk, vr.v[i].sk_len);
			} else {
				s->st.open_bad_variants++;
			}
		}
		if (keep.n == 0) {
			mark_dead(sc, &k);
		} else {
			store_account(t, s->dbi_variants, k.mv_size, v.mv_size, +1);
			if (keep.n != vr.n) {
				/* Rewritten after the scan: [key, new record] pairs. */
				puts = xrealloc(puts, (nputs + 2) * sizeof(*puts));
				puts[nputs].mv_data = xmalloc(8);
				memcpy(puts[nputs].mv_data, k.mv_data, 8);
				puts[nputs].mv_size = 8;
				puts[nputs + 1].mv_data = store_varrec_encode(&keep,
				    &puts[nputs + 1].mv_size);
				nputs += 2;
			}
		}
		store_varrec_free(&keep);
		store_varrec_free(&vr);
	}
	end_scan(t, c, rc);
	delete_dead(t, sc, s->dbi_variants);
	for (size_t i = 0; i < nputs; i += 2) {
		store_tx_put(t, s->dbi_variants, puts[i].mv_data, 8, puts[i + 1].mv_data,
		    puts[i + 1].mv_size);
		free(puts[i].mv_data);
		free(puts[i + 1].mv_data);
	}
	free(puts);
}

static int
open_dbis(struct store_txn *t)
{
	struct { const char *name; MDB_dbi *dbi; } dbs[] = {
		{ "meta", &t->s->dbi_meta }, { "variants", &t->s->dbi_variants },
		{ "objects", &t->s->dbi_objects }, { "chunks", &t->s->dbi_chunks },
	};
	int rc;

	for (size_t i = 0; i < ARRAY_LEN(dbs) && t->ret == 0; i++)
		if ((rc = mdb_dbi_open(t->txn, dbs[i].name, MDB_CREATE, dbs[i].dbi)) != 0)
			store_tx_fail(t, rc);
	return t->ret;
}

/*
 * Loads the format, hash key and next id from meta. A store of another
 * format (or none, with data in it) is emptied: it is a cache. So is one
 * whose pending invalidations cannot be read (wipe). Returns 0 or a STORE_E*
 * code.
 */
static int
check_meta(struct store_txn *t, bool wipe, char *err, size_t errlen)
{
	struct store *s = t->s;
	MDB_stat st;
	MDB_val v;
	uint8_t fmt[4];
	int rc;

	store_put32(fmt, STORE_FORMAT);
	int ret = store_tx_get(t, s->dbi_meta, "format", 6, &v);
	bool ours = !wipe && ret == 0 && v.mv_size == 4 && memcmp(v.mv_data, fmt, 4) == 0
	    && store_tx_get(t, s->dbi_meta, "hash_key", 8, &v) == 0 && v.mv_size == 16;
	if (ours) {
		memcpy(s->hash_key, v.mv_data, 16);
		s->next_id = 1;
		if (store_tx_get(t, s->dbi_meta, "next_id", 7, &v) == 0 && v.mv_size == 8)
			s->next_id = store_get64(v.mv_data);
		return t->ret;
	}
	if (t->ret != 0)
		return t->ret;
	if (ret == STORE_ENOTFOUND && (rc = mdb_stat(t->txn, s->dbi_objects, &st)) == 0
	    && st.ms_entries == 0) {
		/* A new store. */
	} else {
		MDB_dbi all[] = { s->dbi_meta, s->dbi_variants, s->dbi_objects, s->dbi_chunks };
		for (size_t i = 0; i < ARRAY_LEN(all) && t->ret == 0; i++)
			if ((rc = mdb_drop(t->txn, all[i], 0)) != 0)
				store_tx_fail(t, rc);
	}
	if (getrandom(s->hash_key, sizeof(s->hash_key), 0) != (ssize_t)sizeof(s->hash_key)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		t->ret = STORE_EIO;
		return t->ret;
	}
	store_tx_put(t, s->dbi_meta, "format", 6, fmt, sizeof(fmt));
	store_tx_put(t, s->dbi_meta, "hash_key", 8, s->hash_key, sizeof(s->hash_key));
	s->next_id = 1;
	return t->ret;
}

/*
 * Takes the meta "clean" record out (the deletion commits with this
 * transaction). True, with *counts set from it, when there was one and it
 * was written by the last transaction that committed.
 */
static bool
take_clean(struct store_txn *t, struct store_counts *counts)
{
	struct store *s = t->s;
	uint8_t rec[STORE_CLEAN_LEN];
	MDB_val v;

	if (store_tx_get(t, s->dbi_meta, STORE_CLEAN_KEY, strlen(STORE_CLEAN_KEY), &v) != 0)
		return false;
	bool ok = v.mv_size == STORE_CLEAN_LEN;
	if (ok)
		memcpy(rec, v.mv_data, STORE_CLEAN_LEN);
	store_tx_del(t, s->dbi_meta, STORE_CLEAN_KEY, strlen(STORE_CLEAN_KEY));
	if (!ok || store_get64(rec) + 1 != mdb_txn_id(t->txn))
		return false;
	*counts = (struct store_counts){ .used = store_get64(rec + 8),
	    .objects = store_get64(rec + 16), .chunks = store_get64(rec + 24) };
	return true;
}

/*
 * After a clean close: reads the objects DB alone, and the chunk count from
 * the chunks DB's header. True, with sc filled, when every record decodes,
 * the counts of the clean record are the DBs', and the objects' chunks are
 * all the chunks there are (none of an unfinished object is left); false
 * when the full check must run.
 */
static bool
load_clean(struct store_txn *t, struct scan *sc, const struct store_counts *counts)
{
	struct store *s = t->s;
	struct store_objrec r;
	uint64_t chunks = 0, charged = 0;
	MDB_cursor *c;
	MDB_stat st;
	MDB_val k, v;
	int rc;

	if (open_cursor(t, s->dbi_objects, &c) != 0)
		return false;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		if (k.mv_size != 8 || store_objrec_decode(v.mv_data, v.mv_size, &r) != 0)
			break;
		add_scanned(s, sc, &k, v.mv_size, &r, true);
		chunks += r.chunk_count;
		charged += sc->v[sc->n - 1].charge;
	}
	if (rc == 0) {
		mdb_cursor_close(c);
		return false;
	}
	end_scan(t, c, rc);
	if (t->ret == 0 && (rc = mdb_stat(t->txn, s->dbi_chunks, &st)) != 0)
		store_tx_fail(t, rc);
	if (t->ret != 0 || sc->n != counts->objects || chunks != st.ms_entries
	    || chunks != counts->chunks || charged > counts->used)
		return false;
	return true;
}

/* The integrity check; fills sc with what is left. */
static void
check_all(struct store_txn *t, struct scan *sc)
{
	scan_objects(t, sc);
	scan_chunks(t, sc);
	scan_variants(t, sc);
	for (size_t i = 0; i < sc->n; i++) {
		if (!sc->v[i].referenced) {
			store_tx_delete_object(t, sc->v[i].id);
			t->s->st.open_bad_objects++;
		}
	}
}

/* ---- pending invalidations ---------------------------------------------- */

/*
 * The record at *off of a STORE_PENDING_FILE image: true with pk set and *off
 * moved past it; false at the end or at a record that does not fit.
 */
static bool
next_pending(const uint8_t *buf, size_t len, size_t *off, const char **pk,
    size_t *pk_len)
{
	if (len - *off < 4)
		return false;
	uint32_t n = store_get32(buf + *off);
	if (len - *off - 4 < n)
		return false;
	*pk = (const char *)buf + *off + 4;
	*pk_len = n;
	*off += 4 + (size_t)n;
	return true;
}

/*
 * Reads STORE_PENDING_FILE: 0 with *buf malloc'd (NULL when there is no
 * file) and *len, or -1 when it cannot be read or does not parse.
 */
static int
read_pending(struct store *s, uint8_t **buf, size_t *len)
{
	struct stat st;
	const char *pk;
	size_t pk_len, off = PENDING_HDR, got = 0;
	ssize_t n;
	int fd;

	*buf = NULL;
	*len = 0;
	if ((fd = openat(s->dir_fd, STORE_PENDING_FILE, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) != 0 || st.st_size < PENDING_HDR || st.st_size > PENDING_MAX) {
		close(fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	*buf = xmalloc(*len);
	while (got < *len && (n = read(fd, *buf + got, *len - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (got == *len && store_get32(*buf) == PENDING_MAGIC
	    && store_get32(*buf + 4) == PENDING_VERSION) {
		while (next_pending(*buf, *len, &off, &pk, &pk_len))
			continue;
		if (off == *len)
			return 0;
	}
	free(*buf);
	*buf = NULL;
	return -1;
}

static bool
write_full(int fd, const void *p, size_t len)
{
	ssize_t n;

	for (; len > 0; p = (const uint8_t *)p + n, len -= (size_t)n)
		if ((n = write(fd, p, len)) <= 0)
			return false;
	return true;
}

/*
 * STORE_PENDING_FILE: u32 magic "FINV", u32 version 1, then per pending
 * invalidation a u32 length and the primary key. It is written whole to a
 * temporary file that is then renamed over it, so a crash leaves either list.
 */
void
store_pending_record(struct store *s)
{
	uint8_t b[PENDING_HDR];
	bool ok;
	int fd;

	if (!s->pending_dirty || atomic_load(&s->fault_record))
		return;
	if (s->npending == 0) {
		/* Should this be lost, the next open invalidates again: a miss. */
		if (unlinkat(s->dir_fd, STORE_PENDING_FILE, 0) == 0 || errno == ENOENT)
			s->pending_dirty = false;
		return;
	}
	fd = openat(s->dir_fd, PENDING_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	store_put32(b, PENDING_MAGIC);
	store_put32(b + 4, PENDING_VERSION);
	ok = write_full(fd, b, PENDING_HDR);
	for (size_t i = 0; ok && i < s->npending; i++) {
		/* store_invalidate takes no longer key; objects records hold none. */
		ASSERT(s->pending[i].pk_len <= UINT32_MAX);
		store_put32(b, (uint32_t)s->pending[i].pk_len);
		ok = write_full(fd, b, 4) && write_full(fd, s->pending[i].pk,
		    s->pending[i].pk_len);
	}
	ok = ok && (s->nosync || fdatasync(fd) == 0);
	ok = close(fd) == 0 && ok;
	if (!ok || renameat(s->dir_fd, PENDING_TMP, s->dir_fd, STORE_PENDING_FILE) != 0) {
		(void)unlinkat(s->dir_fd, PENDING_TMP, 0);
		return;
	}
	/* The rename must survive a power failure too. */
	if (!s->nosync && fsync(s->dir_fd) != 0)
		return;
	s->pending_dirty = false;
	s->pending_covered = true;
}

/*
 * At open: the invalidations in buf (read_pending) are pending again, their
 * objects hidden from the start. 0 or STORE_EIO.
 */
static int
resume_pending(struct store *s, const uint8_t *buf, size_t len)
{
	const char *pk;
	size_t pk_len, off = PENDING_HDR;

	while (buf != NULL && next_pending(buf, len, &off, &pk, &pk_len))
		if (store_writer_pend(s, pk, pk_len) < 0)
			return STORE_EIO;
	/* The file lists them already. */
	s->pending_dirty = false;
	s->pending_covered = true;
	return 0;
}

int
store_recover(struct store *s, char *err, size_t errlen)
{
	struct store_counts counts;
	struct scan sc = { 0 };
	struct store_txn t;
	uint8_t *pend;
	size_t pend_len;
	int ret;

	s->counts = (struct store_counts){ 0 };
	s->open_clean = false;
	/* Pending invalidations that cannot be read: the store is emptied. */
	bool wipe = read_pending(s, &pend, &pend_len) != 0;
	store_tx_begin(s, &t);
	if (open_dbis(&t) == 0 && check_meta(&t, wipe, err, errlen) == 0) {
		if (take_clean(&t, &counts) && load_clean(&t, &sc, &counts)) {
			s->open_clean = true;
			s->counts = counts;
		} else {
			sc.n = 0;
			sc.max_id = 0;
			check_all(&t, &sc);
		}
		if (sc.max_id >= s->next_id)
			s->next_id = sc.max_id + 1;
		store_tx_put_next_id(&t);
	}
	if ((ret = store_tx_commit(&t)) != 0) {
		if (errlen > 0 && err[0] == '\0')
			snprintf(err, errlen, "store integrity check failed: %s",
			    ret == STORE_ENOSPC ? "no space" : "I/O error");
		goto out;
	}
	/* Oldest first, none recently used: the best guess after a restart. */
	for (size_t i = 0; i < sc.n; i++)
		if (sc.v[i].referenced)
			store_evict_insert(s->ev, sc.v[i].id, sc.v[i].pk_hash, sc.v[i].charge);
	/*
	 * RFC 9111 §4.4: invalidations that had not committed when the last
	 * process ended. The check knows nothing of them: their objects are
	 * hidden again before any lookup, and deleted below, or by the writer.
	 */
	if ((ret = resume_pending(s, pend, pend_len)) != 0) {
		snprintf(err, errlen, "cannot read the store to resume invalidations");
		goto out;
	}
	s->pending_dirty |= wipe;	/* its file goes */
	if (s->counts.used > s->bound || s->npending > 0) {
		/* A smaller bound than last time: evict down to it now. */
		if ((ret = store_writer_apply(s, NULL, 0)) != 0 && s->counts.used > s->bound) {
			snprintf(err, errlen, "cannot evict down to the cache size");
			goto out;
		}
		ret = 0;
	}
	store_pending_record(s);
out:
	free(pend);
	free(sc.v);
	free(sc.dead);
	return ret;
}

/* Records that the store was closed cleanly (see the top of this file). */
static void
mark_clean(struct store *s)
{
	uint8_t rec[STORE_CLEAN_LEN];
	struct store_txn t;

	/* A doomed object may have left chunks behind: let the next open check. */
	if (s->ndoomed > 0)
		return;
	store_tx_begin(s, &t);
	if (t.ret == 0) {
		store_put64(rec, mdb_txn_id(t.txn));
		store_put64(rec + 8, s->counts.used);
		store_put64(rec + 16, s->counts.objects);
		store_put64(rec + 24, s->counts.chunks);
		store_tx_put_next_id(&t);
		store_tx_put(&t, s->dbi_meta, STORE_CLEAN_KEY, strlen(STORE_CLEAN_KEY), rec,
		    sizeof(rec));
	}
	store_tx_commit(&t);
}

void
store_close_state(struct store *s)
{
	if (s->npending > 0)
		(void)store_writer_apply(s, NULL, 0);
	store_pending_record(s);
	if (s->npending > 0 && !s->pending_covered) {
		/*
		 * RFC 9111 §4.4: an invalidation neither committed nor recorded
		 * (the disk took neither). Without the data file the next open
		 * starts empty, rather than serve what was invalidated.
		 */
		(void)unlinkat(s->dir_fd, DATA_FILE, 0);
		return;
	}
	/* Pending invalidations left the DBs consistent: the file resumes them. */
	mark_clean(s);
}

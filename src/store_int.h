/*
 * store_int.h: what the store's own files share (store.c: open, close, the
 * read path and the write API; store_txn.c: the LMDB write-transaction
 * wrapper, accounting and eviction; store_writer.c: the writer thread;
 * store_recover.c: the integrity check at open; store_record.c: record
 * formats and the key hash). No other module includes this header (the
 * store's own unit test does, to reach the record codec and the env).
 *
 * Locks (never nested: each is taken alone, for a few instructions):
 * - rd_mtx guards the pool of reset read transactions;
 * - ev_mtx guards the eviction policy (hits from any thread, the writer's
 *   inserts, removals and pops) and the pin table (store_pin and
 *   store_unpin from any thread, the writer's deletions);
 * - q_mtx guards the write queue, the sequence numbers and next_id;
 * - st_mtx guards the writer-maintained counters in `st`.
 * Everything under "writer only" is touched by the writer thread alone
 * (and by store_open before that thread starts).
 */
#ifndef FRESHD_STORE_INT_H
#define FRESHD_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_MAGIC		0x53544f52u
#define STORE_FORMAT		1u	/* the meta "format" value: the layout of all DBs */
#define STORE_OBJREC_VERSION	2u	/* first byte of objects records written (1 is read too) */
#define STORE_VARREC_VERSION	1u	/* first byte of variants records */
/* Bodies up to this long are kept in the objects record, not in chunks. */
#define STORE_INLINE_MAX	4096u
#define STORE_MAX_VARIANTS	32	/* beyond: the oldest variant of the URL goes */
#define STORE_OBJREC_HDR	52	/* fixed part of an objects record */
#define STORE_VARREC_HDR	8	/* fixed part of a variants record */
#define STORE_VARENT_HDR	12	/* fixed part of a variants entry */
#define STORE_CHUNK_KEY		12	/* (id, index) big-endian */
/* meta "clean" (store_recover.c): u64 txn id, u64 used bytes, objects, chunks */
#define STORE_CLEAN_KEY		"clean"
#define STORE_CLEAN_LEN		32
#define STORE_KEY_VERSIONS	65536u	/* store_key_version counters */
/* In the store directory: the invalidations not committed yet (store_recover.c). */
#define STORE_PENDING_FILE	"invalidations"

/* ---- big-endian fields --------------------------------------------------- */

static inline void
store_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
store_put32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline void
store_put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint16_t
store_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
store_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
store_get64(const uint8_t *p)
{
	return (uint64_t)store_get32(p) << 32 | store_get32(p + 4);
}

/* ---- records (store_record.c) ------------------------------------------- */

/* An objects record; the strings point into the buffer it was decoded from. */
struct store_objrec {
	uint16_t	status;
	uint32_t	flags;
	int64_t		request_time;
	int64_t		response_time;
	uint64_t	body_len;
	uint32_t	chunk_count;	/* 0: the body is inline (version 2) */
	uint32_t	chunk_size;
	const uint8_t	*body;		/* the inline body, when chunk_count is 0 */
	const char	*pk;
	uint32_t	pk_len;
	const char	*sk;
	uint32_t	sk_len;
	const char	*hdr;
	uint32_t	hdr_len;
};

struct store_varent {
	uint64_t	id;
	const char	*sk;
	uint32_t	sk_len;
};

/* A variants record; vary and the entries' sk point into the source buffer. */
struct store_varrec {
	const char		*vary;
	uint32_t		vary_len;
	struct store_varent	*v;	/* owned array */
	size_t			n;
	size_t			cap;
};

/* Encodes r (version STORE_OBJREC_VERSION); returns a malloc'd buffer, *len set. */
uint8_t *store_objrec_encode(const struct store_objrec *r, size_t *len);
/* Decodes buf; returns 0, or -1 for an unknown version or a malformed record. */
int store_objrec_decode(const void *buf, size_t len, struct store_objrec *r);
uint8_t *store_varrec_encode(const struct store_varrec *r, size_t *len);
/* Same contract; on success r->v is allocated (store_varrec_free). */
int store_varrec_decode(const void *buf, size_t len, struct store_varrec *r);
/* Appends an entry (pointers kept as given). */
void store_varrec_add(struct store_varrec *r, uint64_t id, const char *sk, uint32_t sk_len);
/* Removes entry i, keeping order. */
void store_varrec_remove(struct store_varrec *r, size_t i);
void store_varrec_free(struct store_varrec *r);
/* SipHash-2-4 of data under a 16-byte key. */
uint64_t store_siphash(const uint8_t key[16], const void *data, size_t len);

/* ---- the store ----------------------------------------------------------- */

struct store_counts {
	uint64_t	used;		/* charged bytes of objects, chunks, variants */
	uint64_t	objects;
	uint64_t	chunks;
};

enum store_op_kind {
	OP_CHUNK = 0,	/* a full chunk of an unfinished object */
	OP_FINISH,	/* last chunk + object record + variants entry */
	OP_ABORT,	/* delete the chunks of an abandoned object */
	OP_UPDATE,	/* replace status, flags, times, headers */
	OP_INVALIDATE,	/* delete every variant of a primary key */
	OP_RELEASE,	/* delete the chunks kept for readers once the last one left */
};

struct store_op {
	struct store_op		*next;
	enum store_op_kind	kind;
	uint64_t		seq;
	uint64_t		id;		/* CHUNK, FINISH, ABORT, UPDATE */
	uint32_t		index;		/* CHUNK, FINISH: index of data */
	/* CHUNK, FINISH: chunk bytes (len 0: none); UPDATE: the header block. */
	uint8_t			*data;
	size_t			len;
	uint16_t		status;		/* UPDATE */
	uint32_t		flags;		/* UPDATE */
	int64_t			request_time;	/* UPDATE */
	int64_t			response_time;	/* UPDATE */
	uint8_t			*rec;		/* FINISH: the objects record */
	size_t			rec_len;
	char			*vary;		/* FINISH */
	size_t			vary_len;
	char			*pk;		/* INVALIDATE */
	size_t			pk_len;
	uint64_t		pk_hash;	/* FINISH, INVALIDATE */
	size_t			cost;		/* bytes counted against the queue bound */
	void			(*done)(void *arg);	/* FINISH: after the commit */
	void			*done_arg;
};

/*
 * A slot of the pin table (store.c): an object that readers hold with
 * store_pin, or that the writer is deleting in an uncommitted transaction.
 */
enum store_pin_state {
	STORE_PIN_EMPTY = 0,	/* a free slot */
	STORE_PIN_HELD,		/* refs readers hold it */
	STORE_PIN_GONE,		/* held, and its record's deletion committed: the
				 * chunks stay until the last store_unpin */
	STORE_PIN_DYING,	/* not held, and its chunks are being deleted by the
				 * writer's current transaction: store_pin refuses it */
};

struct store_pin {
	uint64_t		id;
	uint64_t		bytes;		/* counted in pinned_bytes */
	uint32_t		refs;
	enum store_pin_state	state;
};

/* An object whose writes failed: its later chunk ops are skipped. */
struct store_doomed {
	uint64_t	id;
	bool		closed;		/* its finish/abort was seen: only cleanup left */
};

/*
 * An invalidation (RFC 9111 §4.4) that the writer could not commit: its
 * objects are hidden (out of the eviction policy) but still stored. It is
 * retried at the start of every later transaction, and listed in the
 * store directory's STORE_PENDING_FILE so that the next open deletes them
 * even after a crash (store_recover.c).
 */
struct store_pending {
	char		*pk;
	size_t		pk_len;
	uint64_t	pk_hash;
};

struct store {
	unsigned		magic;

	/* fixed at open */
	MDB_env			*env;
	MDB_dbi			dbi_meta;
	MDB_dbi			dbi_variants;
	MDB_dbi			dbi_objects;
	MDB_dbi			dbi_chunks;
	int			lock_fd;
	int			dir_fd;		/* the store directory */
	bool			nosync;		/* store_options.nosync */
	uint64_t		bound;
	uint64_t		queue_max;
	uint64_t		batch_max;
	uint64_t		max_object;
	uint32_t		chunk_size;
	unsigned		psize;		/* LMDB page size */
	size_t			nodemax;	/* largest node kept inside a leaf page */
	uint8_t			hash_key[16];
	uint64_t		(*hash_override)(const void *key, size_t len);
	int			(*sk_match)(const char *stored, size_t stored_len,
	    const char *req, size_t req_len);
	bool			open_clean;	/* closed cleanly: the check was skipped */

	/* read transactions, reset and ready for renewal */
	pthread_mutex_t		rd_mtx;
	MDB_txn			**rd_pool;
	size_t			rd_n;
	size_t			rd_cap;

	pthread_mutex_t		ev_mtx;
	struct store_evict	*ev;
	/* open addressing, linear probing; pins_cap a power of two */
	struct store_pin	*pins;
	size_t			npins;
	size_t			pins_cap;
	uint64_t		pinned_bytes;	/* bytes of the objects pinned */

	pthread_mutex_t		q_mtx;
	pthread_cond_t		q_cond;		/* the writer waits for work */
	pthread_cond_t		done_cond;	/* store_sync waits for commits */
	struct store_op		*q_head;
	struct store_op		*q_tail;
	uint64_t		q_bytes;
	uint64_t		seq_queued;
	uint64_t		seq_done;
	uint64_t		next_id;
	bool			stop;
	pthread_t		writer;

	/* writer only */
	struct store_counts	counts;
	struct store_doomed	*doomed;
	size_t			ndoomed;
	size_t			doomed_cap;
	struct store_pending	*pending;
	size_t			npending;
	size_t			pending_cap;
	bool			pending_dirty;	/* STORE_PENDING_FILE differs from it */
	bool			pending_covered; /* the file lists every entry (or more) */

	atomic_uint_fast64_t	lookups;
	atomic_uint_fast64_t	hits;
	atomic_uint_fast64_t	write_rejects;
	/* store_read_chunk_ref: read transactions its references hold */
	atomic_uint		chunk_refs;
	unsigned		max_chunk_refs;
	/* store_key_version's counters, indexed by primary-key hash */
	atomic_uint_least32_t	*key_versions;
	pthread_mutex_t		st_mtx;
	struct store_stats	st;	/* the writer's counters */

	/*
	 * Test hooks, for tests/unit/check_store.c only (zero otherwise): an
	 * operation whose kind has bit (1 << kind) in fault_ops makes its
	 * transaction fail with LMDB or errno code fault_rc (invalidations
	 * retried from s->pending included), and fault_record makes writing
	 * STORE_PENDING_FILE fail.
	 */
	atomic_uint		fault_ops;
	atomic_int		fault_rc;
	atomic_bool		fault_record;
};

/* store.c */
/* The hash of a primary key that keys the variants DB. */
uint64_t store_pk_hash(const struct store *s, const void *pk, size_t len);
/* Changes store_key_version for keys hashing to pk_hash (after a commit). */
void store_key_bump(struct store *s, uint64_t pk_hash);
/* Maps an LMDB or errno code to a STORE_E* code. */
int store_map_err(int rc);
/* Frees a queued operation and everything it owns. */
void store_op_free(struct store_op *op);
/*
 * The pin table's side of a deletion (the writer thread, with ev_mtx held).
 * store_pin_deleting: the writer deletes object id's record in the current
 * transaction. Returns true when readers hold it (its chunks must be kept:
 * STORE_FX_KEPT); otherwise store_pin refuses id from now on (its chunks
 * go: STORE_FX_DYING). store_pin_undying ends that refusal once the
 * transaction is over (the object is either gone or, after an abort, still
 * stored). store_pin_deleted: the deletion of a kept object committed;
 * returns true when no reader holds it any more, and the caller must then
 * store_release its chunks.
 */
bool store_pin_deleting(struct store *s, uint64_t id);
void store_pin_undying(struct store *s, uint64_t id);
bool store_pin_deleted(struct store *s, uint64_t id);
/* Queues the deletion of the chunks of id, a deleted object (OP_RELEASE). */
void store_release(struct store *s, uint64_t id);
/*
 * Hides every object stored for primary key pk from lookups, pins and
 * eviction (takes it out of the policy) and bumps the key's version: the
 * first half of an invalidation, whose records the writer deletes later.
 * Any thread. Returns how many objects it hid, or STORE_EIO.
 */
int store_hide(struct store *s, const char *pk, size_t pk_len);
/*
 * The primary key of object id: 0 with *pk malloc'd (the caller frees it),
 * STORE_ENOTFOUND when no such object is stored, or STORE_EIO.
 */
int store_object_key(struct store *s, uint64_t id, char **pk, size_t *pk_len);

/* ---- write transactions (store_txn.c) ----------------------------------- */

enum store_fx_kind {
	STORE_FX_INSERT = 0,	/* start tracking v (a completed object) */
	STORE_FX_REMOVE,	/* stop tracking v.id (deleted) */
	STORE_FX_UNDOOM,	/* forget the doomed entry v.id (cleaned up) */
	STORE_FX_KEPT,		/* v.id deleted, its chunks kept for pinned readers */
	STORE_FX_DYING,		/* v.id's chunks deleted: end store_pin's refusal */
};

/* An in-memory effect of a transaction, applied only once it committed. */
struct store_fx {
	enum store_fx_kind		kind;
	struct store_evict_victim	v;
};

struct store_txn {
	struct store			*s;
	MDB_txn				*txn;
	int				ret;		/* sticky: first STORE_E* error */
	bool				map_full;	/* ret came from MDB_MAP_FULL */
	struct store_counts		saved;		/* restored on abort */
	struct store_evict_victim	*victims;	/* popped: reinserted on abort */
	size_t				nvictims;
	size_t				vcap;
	struct store_fx			*fx;		/* applied on commit */
	size_t				nfx;
	size_t				fxcap;
	uint64_t			inserts;
	uint64_t			evictions;
	uint64_t			invalidations;
};

/*
 * Begins a write transaction (writer thread, or store_open before it starts).
 * Every store_tx_* call on t is a no-op once t->ret is set; store_tx_commit
 * must end every begun t.
 */
void store_tx_begin(struct store *s, struct store_txn *t);
/*
 * Commits t (or aborts it when t->ret is set, or when the commit fails),
 * then applies its effects to the eviction policy and the counters, or
 * reinserts its victims and restores the counts. Returns t->ret.
 */
int store_tx_commit(struct store_txn *t);
/* Records an LMDB or errno failure in t->ret (the first one wins). */
void store_tx_fail(struct store_txn *t, int rc);
/* Queues an effect for the commit. */
void store_tx_effect(struct store_txn *t, enum store_fx_kind kind, uint64_t id,
    uint64_t key, uint64_t size);
/*
 * Reads a value: 0 with *v pointing into the map (valid until the next change
 * in t), STORE_ENOTFOUND, or the sticky error.
 */
int store_tx_get(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen,
    MDB_val *v);
/* Same, into a malloc'd *copy (the caller frees it) that survives changes. */
int store_tx_get_copy(struct store_txn *t, MDB_dbi dbi, const void *key,
    size_t klen, void **copy, size_t *len);
/* Writes or overwrites a value, keeping the byte accounting right. */
void store_tx_put(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen,
    const void *data, size_t len);
/* Deletes a value if present, keeping the byte accounting right. */
void store_tx_del(struct store_txn *t, MDB_dbi dbi, const void *key, size_t klen);
/* Adds (sign > 0) or removes the charge of a record of that DB to s->counts. */
void store_account(struct store_txn *t, MDB_dbi dbi, size_t klen, size_t vlen,
    int sign);
/* The charge of an object's record and chunks: its size for the policy. */
uint64_t store_object_charge(const struct store *s, const struct store_objrec *r,
    size_t rec_len);

void store_tx_put_chunk(struct store_txn *t, uint64_t id, uint32_t index,
    const void *data, size_t len);
/* Deletes every chunk of object id. */
void store_tx_delete_chunks(struct store_txn *t, uint64_t id);
/*
 * Deletes an object's record and chunks, not its variants entry. The chunks
 * of an object that readers hold (store_pin) are kept, and still charged,
 * until the last store_unpin.
 */
void store_tx_delete_object(struct store_txn *t, uint64_t id);
/* Writes vr under the hash key kb, or deletes the record when vr is empty. */
void store_tx_put_variants(struct store_txn *t, const uint8_t kb[8],
    const struct store_varrec *vr);
/*
 * Pops victims and deletes them (record, chunks, variants entry) until the
 * charged bytes are <= limit. Returns false when the policy ran out first.
 */
bool store_tx_evict(struct store_txn *t, uint64_t limit);
/* Stores s->next_id in the meta DB. */
void store_tx_put_next_id(struct store_txn *t);
/* Index of id in s->doomed, or SIZE_MAX. */
size_t store_doomed_find(const struct store *s, uint64_t id);

/* ---- the writer (store_writer.c) and the check at open (store_recover.c) - */

/*
 * Applies ops[0..n) (n may be 0) in one transaction that ends by evicting
 * down to the bound; after MDB_MAP_FULL evicts further and retries. Returns
 * 0 or the last STORE_E* error. Writer thread, or store_open before it.
 */
int store_writer_apply(struct store *s, struct store_op *const *ops, size_t n);
/* The writer thread's body; arg is the store. */
void *store_writer_main(void *arg);
/*
 * Runs in store_open before the writer starts: opens the DBs, checks the
 * format, loads or creates the hash key and next id, repairs the DBs (unless
 * the store was closed cleanly: s->open_clean), fills s->ev and s->counts,
 * hides and deletes the objects of the invalidations that STORE_PENDING_FILE
 * lists, and evicts down to the bound. Returns 0, or a STORE_E* code with a
 * message in err.
 */
int store_recover(struct store *s, char *err, size_t errlen);
/*
 * Adds pk to s->pending (once) and hides its objects (store_hide): for an
 * invalidation that could not be committed, or was found pending at open.
 * Writer thread, or store_open before it starts. Returns what store_hide
 * returned.
 */
int store_writer_pend(struct store *s, const char *pk, size_t pk_len);
/*
 * Makes STORE_PENDING_FILE list s->pending (removes it when empty), when it
 * does not already; a failure leaves s->pending_dirty set, to try again
 * after the next batch. Writer thread, or store_open / store_close.
 */
void store_pending_record(struct store *s);
/*
 * Runs in store_close once the writer has stopped: a last try at the
 * pending invalidations; then, if one is still neither committed nor
 * recorded in STORE_PENDING_FILE, deletes the data file so that the next
 * open starts empty (the last resort: a restart must not serve what was
 * invalidated); otherwise records in the meta DB that the store was closed
 * cleanly, so that the next open skips the check. A failure to write that
 * record leaves none (the next open runs the check).
 */
void store_close_state(struct store *s);

#endif

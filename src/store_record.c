/*
 * store_record.c: the binary formats of the store's records and the keyed
 * hash of primary keys (pure: no I/O, no LMDB).
 *
 * All integers are big-endian. Every record opens with a version byte;
 * a record of another version (or whose lengths do not add up) is refused,
 * which the read path treats as a miss and the integrity check at open as
 * damage to delete. A change of layout takes a new version number.
 *
 * objects record, version 2 (key: object id, 8 bytes):
 *	 0  u8   version (2)
 *	 1  u8   reserved (0)
 *	 2  u16  status
 *	 4  u32  flags (the caller's word, stored as given)
 *	 8  i64  request_time (seconds since the epoch)
 *	16  i64  response_time
 *	24  u64  body length
 *	32  u32  chunk count
 *	36  u32  chunk size (every chunk but the last is this long)
 *	40  u32  primary key length  P
 *	44  u32  secondary key length S
 *	48  u32  header block length H
 *	52  P bytes primary key, S bytes secondary key, H bytes header block
 *	    (raw "Name: value\r\n" lines); then, when the chunk count is 0,
 *	    the body (body length bytes, at most STORE_INLINE_MAX); nothing
 *	    after.
 * Version 1 is version 2 without inline bodies (a chunk count of 0 meant an
 * empty body); it is still read, so a store written before inline bodies
 * stays usable.
 *
 * variants record, version 1 (key: hash of the primary key, 8 bytes):
 *	 0  u8   version (1)
 *	 1  u8   reserved (0)
 *	 2  u16  entry count N
 *	 4  u32  Vary names length V
 *	 8  V bytes of Vary names, then N entries of
 *	    { u64 object id, u32 secondary key length K, K bytes }; nothing after.
 *
 * The hash is SipHash-2-4 under a random key kept in the meta DB, so a client
 * cannot aim collisions at another URL's variants record.
 */
#include "store_int.h"

#include "util.h"

uint8_t *
store_objrec_encode(const struct store_objrec *r, size_t *len)
{
	size_t inline_len = r->chunk_count == 0 ? (size_t)r->body_len : 0;
	size_t n = STORE_OBJREC_HDR + (size_t)r->pk_len + r->sk_len + r->hdr_len + inline_len;
	uint8_t *b = xmalloc(n);

	ASSERT(inline_len <= STORE_INLINE_MAX);
	b[0] = STORE_OBJREC_VERSION;
	b[1] = 0;
	store_put16(b + 2, r->status);
	store_put32(b + 4, r->flags);
	store_put64(b + 8, (uint64_t)r->request_time);
	store_put64(b + 16, (uint64_t)r->response_time);
	store_put64(b + 24, r->body_len);
	store_put32(b + 32, r->chunk_count);
	store_put32(b + 36, r->chunk_size);
	store_put32(b + 40, r->pk_len);
	store_put32(b + 44, r->sk_len);
	store_put32(b + 48, r->hdr_len);
	uint8_t *p = b + STORE_OBJREC_HDR;
	if (r->pk_len > 0)
		memcpy(p, r->pk, r->pk_len);
	p += r->pk_len;
	if (r->sk_len > 0)
		memcpy(p, r->sk, r->sk_len);
	p += r->sk_len;
	if (r->hdr_len > 0)
		memcpy(p, r->hdr, r->hdr_len);
	p += r->hdr_len;
	if (inline_len > 0)
		memcpy(p, r->body, inline_len);
	*len = n;
	return b;
}

int
store_objrec_decode(const void *buf, size_t len, struct store_objrec *r)
{
	const uint8_t *b = buf;
	uint64_t inline_len;

	if (len < STORE_OBJREC_HDR || (b[0] != 1 && b[0] != STORE_OBJREC_VERSION))
		return -1;
	r->status = store_get16(b + 2);
	r->flags = store_get32(b + 4);
	r->request_time = (int64_t)store_get64(b + 8);
	r->response_time = (int64_t)store_get64(b + 16);
	r->body_len = store_get64(b + 24);
	r->chunk_count = store_get32(b + 32);
	r->chunk_size = store_get32(b + 36);
	r->pk_len = store_get32(b + 40);
	r->sk_len = store_get32(b + 44);
	r->hdr_len = store_get32(b + 48);
	inline_len = b[0] != 1 && r->chunk_count == 0 ? r->body_len : 0;
	if (inline_len > STORE_INLINE_MAX ||
	    (uint64_t)STORE_OBJREC_HDR + r->pk_len + r->sk_len + r->hdr_len + inline_len != len)
		return -1;
	/* The chunk train must be able to hold exactly body_len bytes. */
	if (r->chunk_size == 0 || (inline_len == 0 && r->body_len > (uint64_t)r->chunk_count * r->chunk_size)
	    || (r->chunk_count > 0 && r->body_len <= (uint64_t)(r->chunk_count - 1) * r->chunk_size))
		return -1;
	r->pk = (const char *)b + STORE_OBJREC_HDR;
	r->sk = r->pk + r->pk_len;
	r->hdr = r->sk + r->sk_len;
	r->body = inline_len > 0 ? (const uint8_t *)r->hdr + r->hdr_len : NULL;
	return 0;
}

uint8_t *
store_varrec_encode(const struct store_varrec *r, size_t *len)
{
	size_t n = STORE_VARREC_HDR + r->vary_len;

	ASSERT(r->n <= UINT16_MAX);
	for (size_t i = 0; i < r->n; i++)
		n += STORE_VARENT_HDR + r->v[i].sk_len;
	uint8_t *b = xmalloc(n);
	b[0] = STORE_VARREC_VERSION;
	b[1] = 0;
	store_put16(b + 2, (uint16_t)r->n);
	store_put32(b + 4, r->vary_len);
	uint8_t *p = b + STORE_VARREC_HDR;
	if (r->vary_len > 0)
		memcpy(p, r->vary, r->vary_len);
	p += r->vary_len;
	for (size_t i = 0; i < r->n; i++) {
		store_put64(p, r->v[i].id);
		store_put32(p + 8, r->v[i].sk_len);
		p += STORE_VARENT_HDR;
		if (r->v[i].sk_len > 0)
			memcpy(p, r->v[i].sk, r->v[i].sk_len);
		p += r->v[i].sk_len;
	}
	*len = n;
	return b;
}

void
store_varrec_add(struct store_varrec *r, uint64_t id, const char *sk, uint32_t sk_len)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 4;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	r->v[r->n++] = (struct store_varent){ .id = id, .sk = sk, .sk_len = sk_len };
}

void
store_varrec_remove(struct store_varrec *r, size_t i)
{
	ASSERT(i < r->n);
	memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(*r->v));
	r->n--;
}

int
store_varrec_decode(const void *buf, size_t len, struct store_varrec *r)
{
	const uint8_t *b = buf;

	*r = (struct store_varrec){ 0 };
	if (len < STORE_VARREC_HDR || b[0] != STORE_VARREC_VERSION)
		return -1;
	size_t n = store_get16(b + 2);
	r->vary_len = store_get32(b + 4);
	if (r->vary_len > len - STORE_VARREC_HDR)
		return -1;
	r->vary = (const char *)b + STORE_VARREC_HDR;
	size_t off = STORE_VARREC_HDR + r->vary_len;
	for (size_t i = 0; i < n; i++) {
		if (len - off < STORE_VARENT_HDR)
			goto bad;
		uint64_t id = store_get64(b + off);
		uint32_t sk_len = store_get32(b + off + 8);
		off += STORE_VARENT_HDR;
		if (sk_len > len - off)
			goto bad;
		store_varrec_add(r, id, (const char *)b + off, sk_len);
		off += sk_len;
	}
	if (off != len)
		goto bad;
	return 0;
bad:
	store_varrec_free(r);
	return -1;
}

void
store_varrec_free(struct store_varrec *r)
{
	free(r->v);
	*r = (struct store_varrec){ 0 };
}

/* ---- SipHash-2-4 (Aumasson and Bernstein, 2012) -------------------------- */

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
rotl(uint64_t x, unsigned b)
{
	return x << b | x >> (64 - b);
}

struct sip {
	uint64_t	v0, v1, v2, v3;
};

static void
sip_round(struct sip *s)
{
	s->v0 += s->v1; s->v1 = rotl(s->v1, 13); s->v1 ^= s->v0; s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3; s->v3 = rotl(s->v3, 16); s->v3 ^= s->v2;
	s->v0 += s->v3; s->v3 = rotl(s->v3, 21); s->v3 ^= s->v0;
	s->v2 += s->v1; s->v1 = rotl(s->v1, 17); s->v1 ^= s->v2; s->v2 = rotl(s->v2, 32);
}

uint64_t
store_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	struct sip s = {
		.v0 = 0x736f6d6570736575ULL ^ k0, .v1 = 0x646f72616e646f6dULL ^ k1,
		.v2 = 0x6c7967656e657261ULL ^ k0, .v3 = 0x7465646279746573ULL ^ k1,
	};
	size_t whole = len - len % 8;

	for (size_t i = 0; i < whole; i += 8) {
		uint64_t m = le64(in + i);
		s.v3 ^= m;
		sip_round(&s);
		sip_round(&s);
		s.v0 ^= m;
	}
	uint64_t last = (uint64_t)len << 56;
	for (size_t i = 0; i < len % 8; i++)
		last |= (uint64_t)in[whole + i] << (8 * i);
	s.v3 ^= last;
	sip_round(&s);
	sip_round(&s);
	s.v0 ^= last;
	s.v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

/*
 * cache_key.h: the primary cache key (the normalised target URI) and the
 * Vary secondary key (pure, no I/O).
 *
 * A primary key is a plain string such as "http://example.com/a?b": it is
 * what the store keeps in each object and compares on lookup, so a collision
 * of cache_key_hash() is a miss, never a wrong response. Keys are built only
 * by cache_key_primary() (or its wrappers), so two keys are equal exactly
 * when the normalisation below makes the URIs equal.
 *
 * A secondary key is one line per selecting header field named by Vary,
 * "name=value\n" (or "name\n" when the request lacks the field), in the
 * canonical order of cache_key_vary_names().
 */
#ifndef FRESHD_CACHE_KEY_H
#define FRESHD_CACHE_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "headers.h"

struct http_request;

/*
 * Builds the primary key of scheme://authority target (RFC 3986 §6.2.2 and
 * §6.2.3 normalisation): scheme and host lower-cased, a trailing dot of the
 * host removed, an empty port and the scheme's default port (80 for http,
 * 443 for https) removed, leading zeros of the port dropped; in the path,
 * percent-encoded unreserved characters decoded and the hex digits of the
 * other escapes upper-cased; an empty path becomes "/". Dot-segments are
 * kept (an origin may tell "/a/../b" from "/b") and the query is kept
 * verbatim (its order is significant to the origin).
 * Returns 0 and sets *out (xmalloc'd, the caller frees it), or -1 when the
 * scheme, authority (userinfo, bad port, empty or bad host) or target (not
 * starting with '/') is unusable; *out is then untouched.
 */
int cache_key_primary(const char *scheme, const char *authority,
    const char *target, char **out);

/*
 * The primary key of a parsed request: its own scheme when it came in
 * absolute-form, else default_scheme ("http" or "https", from the
 * listener), with req->authority and req->path. Same contract as
 * cache_key_primary.
 */
int cache_key_request(const struct http_request *req,
    const char *default_scheme, char **out);

/* 64-bit FNV-1a of key[0..len): the store's index for a primary key. */
uint64_t cache_key_hash(const char *key, size_t len);

/*
 * Resolves the URI-reference ref[0..ref_len) (a Location or Content-Location
 * value) against base, a primary key, per RFC 3986 §5.2 (the fragment is
 * dropped), and normalises the result like cache_key_primary. Returns 0 and
 * sets *out (xmalloc'd), or -1 when ref or the result is unusable.
 */
int cache_key_resolve(const char *base, const char *ref, size_t ref_len,
    char **out);

/*
 * True when primary keys a and b have the same origin (scheme and
 * authority, RFC 6454 / RFC 9110 §4.3.1); both must be primary keys.
 */
bool cache_key_same_origin(const char *a, const char *b);

enum cache_key_vary {
	CACHE_KEY_VARY_NONE = 0,	/* no Vary, or an empty one */
	CACHE_KEY_VARY_LIST,		/* *out holds the names */
	CACHE_KEY_VARY_STAR,		/* Vary: * (RFC 9111 §4.1: never matches) */
};

/*
 * The canonical list of the selecting header field names of a response:
 * every Vary field line combined, names lower-cased, sorted and deduplicated,
 * joined by "," (e.g. "accept-encoding,accept-language"). The store keeps it
 * per primary key and passes it to cache_key_vary(). Sets *out (xmalloc'd)
 * only for CACHE_KEY_VARY_LIST. Members that are not tokens are ignored.
 */
enum cache_key_vary cache_key_vary_names(const struct fields *resp, char **out);

/*
 * Secondary-key normalisation settings. first_member lists fields keyed on
 * their first list member only, without parameters (e.g. "Accept-Language"
 * so that "en-US,en;q=0.9" keys as "en-us"): this trades exactness for hit
 * ratio, so the default list is empty.
 */
struct cache_key_config {
	const char *const	*first_member;
	size_t			nfirst_member;
};

/* Fills c with the defaults (no first-member fields). */
void cache_key_config_default(struct cache_key_config *c);

/*
 * The secondary key of request fields req for the canonical names (from
 * cache_key_vary_names). Values of each selecting field are combined as a
 * comma list with whitespace normalised (RFC 9111 §4.1). Accept-Encoding is
 * reduced to the acceptable subset of {br, deflate, gzip, identity, zstd}
 * in that order (q=0 excluded, "*" expanded, x-gzip is gzip); Accept,
 * Accept-Charset and Accept-Language are lower-cased; other values keep
 * their case (Cookie and Authorization values are case-sensitive).
 * Returns the key (xmalloc'd), or NULL when names contains "*".
 */
char *cache_key_vary(const struct cache_key_config *cfg, const char *names,
    const struct fields *req);

/*
 * The secondary key a response is stored under: cache_key_vary of the
 * request that fetched it, plus, when the response varies on
 * Accept-Language and names exactly one language in Content-Language, that
 * language appended to the accept-language line after a DEL byte (which no
 * field value can hold). cache_key_vary_match uses it to select the stored
 * variant for requests that list their languages differently (RFC 9111
 * §4.1 lets a cache normalise by the field's semantics). Returns an
 * xmalloc'd key, or NULL when names contains "*".
 */
char *cache_key_vary_stored(const struct cache_key_config *cfg, const char *names,
    const struct fields *req, const struct fields *resp);

/*
 * Whether the stored secondary key stored (from cache_key_vary_stored)
 * selects the variant for a request whose cache_key_vary is req: 2 when the
 * request's selecting fields match those of the stored request, 1 when they
 * match except Accept-Language and the stored response's language is the
 * one the request prefers most (the single tag of highest weight, RFC 9110
 * §12.5.4: the origin, which has that language, would choose it), else 0.
 */
int cache_key_vary_match(const char *stored, size_t stored_len, const char *req,
    size_t req_len);

#endif

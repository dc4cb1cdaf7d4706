/*
 * policy.h: RFC 9111 caching policy for a shared cache (pure, no I/O).
 *
 * Everything here is a function of its arguments: the parsed request, the
 * origin's response or a stored object's metadata, the configuration and the
 * current time (whole seconds: HTTP's delta-seconds and dates are seconds).
 * The request state machine (req.c) calls, in order:
 *
 *   policy_decide()           on every request, with the stored object found
 *                             by the cache key and Vary (or none);
 *   policy_client_conditional() and policy_304_fields()
 *                             when it serves a stored response;
 *   policy_revalidation_fields()
 *                             to build the conditional request to the origin;
 *   policy_storable(), policy_store_fields()
 *                             when the origin's response arrives;
 *   policy_304_matches(), policy_merge_304()
 *                             when the origin answers a revalidation with 304;
 *   policy_head_freshens()    when it answers a HEAD revalidation with 200;
 *   policy_stale_if_error()   when the origin fails or is unreachable;
 *   policy_invalidations()    after an unsafe request;
 *   policy_cache_status()     to write the Cache-Status field (RFC 9211).
 *
 * Decisions, with the RFC sections behind them and the known differences
 * with the http-cache-semantics library, are in docs/policy.md.
 */
#ifndef FRESHD_POLICY_H
#define FRESHD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "headers.h"
#include "http1.h"

/* RFC 9111 §1.2.2: the value an overflowing delta-seconds becomes. */
#define POLICY_DELTA_MAX	INT64_C(2147483648)

struct policy_config {
	bool		shared;			/* shared-cache rules (default true) */
	double		heuristic_fraction;	/* of Date - Last-Modified (0.1); 0 disables */
	int64_t		heuristic_max;		/* heuristic lifetime cap, s (86400); 0: none */
	int64_t		max_ttl;		/* cap on any freshness lifetime, s; 0: none */
	const char	*targeted_field;	/* own targeted field, checked before CDN-Cache-Control
						   ("Freshd-Cache-Control"); NULL: none */
	bool		cdn_cache_control;	/* honour CDN-Cache-Control (RFC 9213; true) */
	bool		surrogate_control;	/* honour Surrogate-Control, after the
						   RFC 9213 fields (true) */
	const char	*surrogate_target;	/* our device token in Surrogate-Control
						   and Surrogate-Capability ("freshd") */
	int64_t		stale_if_unreachable;	/* s of staleness served when the origin cannot
						   be reached and no directive forbids it (0) */
};

/* Fills cfg with the defaults given above. */
void policy_config_default(struct policy_config *cfg);

/*
 * Response cache directives in force for this cache: those of the first
 * valid targeted field (RFC 9213 §2.1), else those of Cache-Control.
 * Delta values are -1 when absent, POLICY_INVALID when present with a
 * malformed value (no value, not delta-seconds) or, for max-age and
 * s-maxage, duplicated with different values (RFC 9111 §4.2.1).
 */
#define POLICY_INVALID	INT64_C(-2)

enum policy_cc_source {
	POLICY_CC_NONE = 0,		/* no directives at all */
	POLICY_CC_CACHE_CONTROL,	/* Cache-Control (with Expires) */
	POLICY_CC_TARGETED,		/* cfg->targeted_field */
	POLICY_CC_CDN,			/* CDN-Cache-Control */
	POLICY_CC_SURROGATE,		/* Surrogate-Control (Edge Architecture) */
};

struct policy_response_cc {
	enum policy_cc_source	source;
	bool	no_store;
	bool	no_cache;		/* unqualified: always revalidate */
	bool	no_cache_fields;	/* qualified: named fields are not stored */
	bool	private_;		/* unqualified */
	bool	private_fields;		/* qualified: named fields not stored (shared) */
	bool	public_;
	bool	must_revalidate;
	bool	proxy_revalidate;
	bool	must_understand;
	bool	immutable;
	int64_t	max_age;
	int64_t	s_maxage;
	int64_t	stale_while_revalidate;
	int64_t	stale_if_error;
};

/* Parses the response directives of resp (see the struct). */
void policy_response_cc(const struct policy_config *cfg,
    const struct fields *resp, struct policy_response_cc *out);

/*
 * Request directives (RFC 9111 §5.2.1); -1 when absent. max_stale without a
 * value is POLICY_DELTA_MAX; a malformed value counts as 0. Pragma: no-cache
 * counts as no-cache only when there is no Cache-Control field (§5.4).
 */
struct policy_request_cc {
	bool	no_cache;
	bool	no_store;
	bool	only_if_cached;
	int64_t	max_age;
	int64_t	max_stale;
	int64_t	min_fresh;
	int64_t	stale_if_error;		/* RFC 5861 §4 */
};

void policy_request_cc(const struct fields *req, struct policy_request_cc *out);

/*
 * Storability (RFC 9111 §3) of the response (status, resp) to req, for this
 * cache. Returns true when it may be stored (after policy_store_fields);
 * otherwise false with *why (may be NULL) set to a short static reason for
 * logs and Cache-Status detail ("method", "no-store", "private", ...).
 */
bool policy_storable(const struct policy_config *cfg,
    const struct http_request *req, int status, const struct fields *resp,
    const char **why);

/*
 * Whether the response (status, resp) to POST request req, whose primary
 * cache key is target_key, may be stored as the response to a GET of that
 * URI (RFC 9110 §9.3.3): a 200 or 203 with explicit freshness (max-age,
 * s-maxage or Expires, never heuristic), a Content-Location naming the
 * target URI itself, no Vary, and storable by every rule that applies to a
 * GET (policy_storable). Returns false with *why (may be NULL) otherwise.
 */
bool policy_post_reusable(const struct policy_config *cfg,
    const struct http_request *req, const char *target_key, int status,
    const struct fields *resp, const char **why);

/*
 * The fields to store for an origin response (RFC 9111 §3.1): a copy of resp
 * without hop-by-hop fields and those named in Connection, without
 * Proxy-Authentication-Info, without the fields named by a qualified no-cache
 * (and, in a shared cache, private) directive, and with a Date field set to
 * response_time when the response had none (RFC 9110 §6.6.1). out is
 * initialised by the call; the caller frees it with fields_free().
 */
void policy_store_fields(const struct policy_config *cfg,
    const struct fields *resp, time_t response_time, struct fields *out);

/*
 * Freshness lifetime in seconds (RFC 9111 §4.2.1, shared cache): targeted
 * field's s-maxage or max-age, else s-maxage > max-age > Expires - Date
 * (Date absent: response_time) > heuristic (§4.2.2) for heuristically
 * cacheable statuses or public responses; 0 with unqualified no-cache
 * (most restrictive directive wins) and for invalid or conflicting values.
 * Capped by cfg->max_ttl and POLICY_DELTA_MAX. Never negative.
 */
int64_t policy_freshness_lifetime(const struct policy_config *cfg, int status,
    const struct fields *resp, time_t response_time);

/* A stored object as the policy sees it. */
struct policy_stored {
	int			status;
	const struct fields	*fields;	/* stored response header fields */
	time_t			request_time;	/* when the request that fetched it was sent */
	time_t			response_time;	/* when the response head was received */
};

/* RFC 9111 §4.2.3, each intermediate value in seconds. */
struct policy_age {
	int64_t	age_value;		/* Age field, 0 when absent or invalid (§5.1) */
	int64_t	date_value;		/* Date field, or response_time */
	int64_t	apparent_age;
	int64_t	response_delay;
	int64_t	corrected_age_value;
	int64_t	corrected_initial_age;
	int64_t	resident_time;
	int64_t	current_age;
};

/* Computes every age value of s at time now. */
void policy_age(const struct policy_stored *s, time_t now,
    struct policy_age *out);

/* The current_age of s at now: the Age value to send with it (§4). */
int64_t policy_current_age(const struct policy_stored *s, time_t now);

/* The time at which s becomes stale (response_time + lifetime - initial age). */
time_t policy_stale_at(const struct policy_config *cfg,
    const struct policy_stored *s);

enum policy_action {
	POLICY_PASS = 0,	/* forward; do not use or fill the cache */
	POLICY_MISS,		/* nothing usable stored: fetch, store if storable */
	POLICY_FRESH,		/* serve the stored response (stale when allowed by max-stale) */
	POLICY_STALE_OK,	/* serve it stale now and revalidate in the background
				   (RFC 5861 §3 stale-while-revalidate) */
	POLICY_REVALIDATE,	/* conditional request to the origin first */
	POLICY_GATEWAY_TIMEOUT,	/* only-if-cached and nothing usable: answer 504
				   (RFC 9111 §5.2.1.7) */
};

/* RFC 9211 §2.2 fwd reasons. */
enum policy_fwd {
	POLICY_FWD_NONE = 0,	/* not forwarded: a hit */
	POLICY_FWD_BYPASS,	/* configured not to cache */
	POLICY_FWD_METHOD,
	POLICY_FWD_URI_MISS,
	POLICY_FWD_VARY_MISS,
	POLICY_FWD_MISS,
	POLICY_FWD_REQUEST,	/* a fresh response exists but the request forbade it */
	POLICY_FWD_STALE,
	POLICY_FWD_PARTIAL,
};

struct policy_decision {
	enum policy_action	action;
	enum policy_fwd		fwd;
	bool			stale;		/* the stored response is stale */
	int64_t			lifetime;	/* freshness lifetime of the stored response */
	int64_t			age;		/* its current age */
	int64_t			ttl;		/* lifetime - age (negative once stale) */
	const char		*detail;	/* short static reason, or NULL */
};

/*
 * What to do with req at now (RFC 9111 §4), given the stored response
 * selected by the primary and secondary keys (NULL when none). vary_miss
 * tells that responses exist for the URI but none matched Vary (only read
 * when stored is NULL). Fills *out; lifetime, age and ttl are 0 without a
 * stored response.
 */
void policy_decide(const struct policy_config *cfg,
    const struct http_request *req, const struct policy_stored *stored,
    bool vary_miss, time_t now, struct policy_decision *out);

/* Lower-case names for logs and tests: "pass", "miss", "fresh", ... */
const char *policy_action_name(enum policy_action a);
/* RFC 9211 fwd token ("uri-miss", ...), or NULL for POLICY_FWD_NONE. */
const char *policy_fwd_name(enum policy_fwd f);

/*
 * Stale-if-error (RFC 5861 §4, RFC 9111 §4.2.4): true when the stale stored
 * response s may be served instead of the origin's failure. origin_status
 * is the origin's status, or 0 when it could not be reached. Errors are
 * 500, 502, 503, 504 and 0. Allowed while the staleness is within the
 * response's or the request's stale-if-error (or, for 0,
 * cfg->stale_if_unreachable), never with no-cache, must-revalidate or, in a
 * shared cache, proxy-revalidate (the caller then answers 504 when the
 * origin is unreachable, RFC 9111 §5.2.2.2); with s-maxage in a shared
 * cache, only the response's own stale-if-error counts (§5.2.2.10). The
 * request's other directives do not bound cfg->stale_if_unreachable: they
 * state preferences (§5.2.1), and a disconnected cache may serve stale
 * (§4.2.4). A fresh s is always usable.
 */
bool policy_stale_if_error(const struct policy_config *cfg,
    const struct http_request *req, const struct policy_stored *s,
    int origin_status, time_t now);

enum policy_cond {
	POLICY_COND_FULL = 0,		/* send the stored response */
	POLICY_COND_NOT_MODIFIED,	/* send 304 with policy_304_fields() */
};

/*
 * Evaluates the client's If-None-Match / If-Modified-Since against the stored
 * response (RFC 9111 §4.3.2, precedence RFC 9110 §13.2.2) for GET and HEAD
 * of a stored 200. If-None-Match: "*" or a weak match of the stored ETag
 * (§8.8.3.2). If-Modified-Since, only without If-None-Match and when a single
 * valid date: not modified when the stored Last-Modified (else Date, else
 * response_time) is not later. If-Match and If-Unmodified-Since are for the
 * origin (policy_decide passes such requests).
 */
enum policy_cond policy_client_conditional(const struct http_request *req,
    const struct policy_stored *s);

/*
 * The header fields of a 304 built from a stored response (RFC 9110
 * §15.4.5): Cache-Control, the targeted fields, Content-Location, Date, ETag,
 * Expires, Vary, and Last-Modified when there is no ETag. out is initialised
 * by the call; Age, Cache-Status and Via are the caller's.
 */
void policy_304_fields(const struct policy_config *cfg,
    const struct fields *stored, struct fields *out);

/*
 * Adds the validators of the stored response to the request fields sent to
 * the origin (RFC 9111 §4.3.1): If-None-Match with the stored ETag,
 * If-Modified-Since with the stored Last-Modified; any such fields already
 * in req_out (the client's) are replaced. Returns false when the stored
 * response has no validator (the request is then unconditional).
 */
bool policy_revalidation_fields(const struct fields *stored,
    struct fields *req_out);

/*
 * RFC 9111 §4.3.4 selection: true when the origin's 304 (fields resp304)
 * applies to the stored response: the 304's strong ETag equals the stored
 * strong ETag; else its weak ETag matches weakly; else, with no ETag, its
 * Last-Modified equals the stored one; else, with no validator at all, the
 * stored response has none either. (When several stored responses match a
 * weak validator, the caller picks the most recent.)
 */
bool policy_304_matches(const struct fields *stored, const struct fields *resp304);

/*
 * RFC 9111 §4.3.5: true when a 200 answering a HEAD (fields head) may
 * freshen the stored GET response (stored, with a body of stored_len
 * bytes) the way a 304 does (policy_merge_304): each validator the HEAD
 * response carries (ETag, Last-Modified) equals the stored one, and its
 * Content-Length, if any, is stored_len. False means the stored response
 * no longer describes the resource and must be treated as stale.
 */
bool policy_head_freshens(const struct fields *stored, uint64_t stored_len,
    const struct fields *head);

/*
 * Freshens stored with the 304's fields (RFC 9111 §4.3.4, §3.2) into out
 * (initialised by the call): each field of the 304 replaces all stored
 * instances, except Content-Length, Content-Encoding, Content-Range,
 * Transfer-Encoding and the fields policy_store_fields() never stores; the
 * old Age is dropped when the 304 has none and Date is set to response_time
 * when the 304 has none (its metadata is that of the new message). The
 * caller then sets the object's request_time/response_time to those of the
 * revalidation.
 */
void policy_merge_304(const struct policy_config *cfg,
    const struct fields *stored, const struct fields *resp304,
    time_t response_time, struct fields *out);

/*
 * RFC 9111 §4.4: the primary keys to invalidate after an unsafe request
 * (any method but GET, HEAD, OPTIONS, TRACE) answered with a 2xx or 3xx:
 * target_key, then Location and Content-Location resolved against it when
 * they have the same origin. Returns how many keys were written to out (up
 * to 3, deduplicated, each xmalloc'd and freed by the caller).
 */
size_t policy_invalidations(const struct http_request *req,
    const char *target_key, int status, const struct fields *resp,
    char *out[3]);

/* RFC 9211 Cache-Status member for one response of this cache. */
struct policy_cache_status {
	bool		hit;
	enum policy_fwd	fwd;		/* POLICY_FWD_NONE: no fwd parameter */
	int		fwd_status;	/* 0: none */
	bool		has_ttl;
	int64_t		ttl;
	bool		stored;
	bool		collapsed;
	const char	*key;		/* NULL: none */
	const char	*detail;	/* NULL: none */
};

/*
 * The Cache-Status field value for this cache's entry, a Structured Field
 * list member (RFC 8941): the cache name, then hit, fwd, fwd-status, ttl,
 * stored, collapsed, key, detail as parameters, e.g.
 * `freshd; fwd=uri-miss; fwd-status=200; stored`. The name and detail are
 * tokens when they can be, else strings; key is always a string. Bytes a
 * string cannot hold (outside %x20-7E) are written as '?'. Returns an
 * xmalloc'd string.
 */
char *policy_cache_status(const char *name, const struct policy_cache_status *cs);

/*
 * Entity-tag comparison (RFC 9110 §8.8.3.2) of two entity-tags as they
 * appear in fields ([W/]"opaque"): strong requires both to be strong.
 * Malformed tags never match.
 */
bool policy_etag_match(const char *a, size_t a_len, const char *b,
    size_t b_len, bool strong);

#endif

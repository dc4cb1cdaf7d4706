/*
 * policy.c: RFC 9111 for a shared cache, with RFC 5861 (stale-while-
 * revalidate, stale-if-error), RFC 9213 (targeted cache-control fields) and
 * RFC 9211 (Cache-Status).
 *
 * Directives. Cache-Control (RFC 9111 §5.2) and the targeted fields (RFC
 * 9213, Structured Field dictionaries, RFC 8941 §3.2) are both reduced to a
 * stream of (name, value) directives fed to one function, so they mean the
 * same thing wherever they come from. A targeted field is used only when it
 * parses as a whole; then Cache-Control and Expires are ignored for this
 * cache (RFC 9213 §2.1), for storability as well as freshness. Directive
 * names are case-insensitive in Cache-Control (§5.2), lower-case by syntax
 * in targeted fields. Quoted values are accepted for delta-seconds (§5.2:
 * SHOULD accept). A duplicated delta directive with different values
 * invalidates it (§4.2.1: "the response should be considered stale"); a
 * malformed one (max-age=abc, max-age=-1, max-age with no value) also makes
 * the response stale; an overflowing one becomes 2^31 (§1.2.2).
 *
 * Readings taken where the RFCs leave a choice (argued in docs/policy.md):
 *  - immutable (RFC 8246) has no effect: a request's no-cache or max-age=0
 *    still revalidates;
 *  - a shared cache never serves stale on a client's max-stale when the
 *    response has must-revalidate, proxy-revalidate or s-maxage (§5.2.2.10
 *    gives s-maxage proxy-revalidate semantics), and never serves stale at
 *    all with no-cache, must-revalidate or proxy-revalidate (§4.2.4); an
 *    origin's own stale-while-revalidate / stale-if-error next to s-maxage
 *    is honoured, being an explicit permission in the same response;
 *  - Vary: * responses are not stored (they could never be selected, §4.1);
 *  - 206 responses are not stored (no range support, §3.3);
 *  - HEAD and POST responses are not stored; GET responses serve HEAD;
 *  - qualified no-cache / private: the named fields are not stored and the
 *    rest of the response is (§3.1, §5.2.2.4, §5.2.2.7);
 *  - Set-Cookie does not prevent storing (§3, as the RFC says);
 *  - If-Match / If-Unmodified-Since go to the origin (§4.3.2).
 *
 * Times are whole seconds (time_t instants, int64_t durations).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache_key.h"
#include "policy.h"
#include "util.h"

#define CDN_CACHE_CONTROL	"CDN-Cache-Control"

void
policy_config_default(struct policy_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->shared = true;
	cfg->heuristic_fraction = 0.1;
	cfg->heuristic_max = 86400;
	cfg->max_ttl = 0;
	cfg->targeted_field = "Freshd-Cache-Control";
	cfg->cdn_cache_control = true;
	cfg->surrogate_control = true;
	cfg->surrogate_target = "freshd";
	cfg->stale_if_unreachable = 0;
}

/* ---- small helpers ---- */

/* A growable NUL-terminated string. */
struct sbuf {
	char	*p;
	size_t	len;
	size_t	cap;
};

static void
sb_init(struct sbuf *b)
{
	b->cap = 64;
	b->p = xmalloc(b->cap);
	b->len = 0;
	b->p[0] = '\0';
}

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	while (b->len + n + 1 > b->cap) {
		b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_adds(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Appends v in decimal (Cache-Status is on every response: no printf). */
static void
sb_add_int(struct sbuf *b, int64_t v)
{
	char num[24];
	size_t n = sizeof(num);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		num[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		num[--n] = '-';
	sb_add(b, num + n, sizeof(num) - n);
}

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t
max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * delta-seconds = 1*DIGIT (RFC 9111 §1.2.2). Returns the value (capped at
 * POLICY_DELTA_MAX), or POLICY_INVALID.
 */
static int64_t
parse_delta(const char *s, size_t len)
{
	int64_t v = 0;
	size_t i;

	if (len == 0)
		return POLICY_INVALID;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return POLICY_INVALID;
		if (v < POLICY_DELTA_MAX)
			v = v * 10 + (s[i] - '0');
	}
	return min64(v, POLICY_DELTA_MAX);
}

/* The first field called name parsed as an HTTP-date; false when absent or invalid. */
static bool
field_date(const struct fields *f, const char *name, time_t *out)
{
	const struct field *fl = fields_get(f, name);

	return fl != NULL && http_date_parse(fl->value, fl->value_len, out) == 0;
}

static bool
is_final(int status)
{
	return status >= 200 && status <= 599;
}

/* RFC 9110 §15.1: heuristically cacheable status codes. */
static bool
heuristically_cacheable(int status)
{
	switch (status) {
	case 200: case 203: case 204: case 206: case 300: case 301: case 308:
	case 404: case 405: case 410: case 414: case 501:
		return true;
	default:
		return false;
	}
}

/*
 * Status codes whose caching requirements freshd implements, for
 * must-understand (RFC 9111 §5.2.2.3).
 */
static bool
understood(int status)
{
	switch (status) {
	case 200: case 203: case 204: case 300: case 301: case 302: case 303:
	case 307: case 308: case 404: case 405: case 410: case 414: case 501:
		return true;
	default:
		return false;
	}
}

/* ---- directives ---- */

/*
 * One cache directive, whatever field it came from. value points into the
 * field (still escaped when quoted); bad marks a Structured Field value of a
 * type no directive takes (decimal, byte sequence, inner list, false
 * boolean has already been dropped).
 */
struct directive {
	const char	*name;
	size_t		name_len;
	const char	*value;
	size_t		value_len;
	bool		has_value;
	bool		quoted;
	bool		sf;		/* from a Structured Field (no quoted deltas) */
	bool		bad;
};

typedef void (*directive_f)(void *ctx, const struct directive *d);

/*
 * Visits the directives of every field line called name, in Cache-Control
 * syntax: cache-directive = token [ "=" ( token / quoted-string ) ]
 * (RFC 9111 §5.2). Members that are not of that form are skipped. Returns
 * true when the field is present.
 */
static bool
visit_cc(const struct fields *f, const char *name, directive_f fn, void *ctx)
{
	bool present = false;
	size_t i;

	for (i = 0; i < f->n; i++) {
		const struct field *fl = &f->v[i];
		const char *pos = fl->value, *end = fl->value + fl->value_len, *tok;
		size_t len;

		if (!str_ieq(fl->name, fl->name_len, name))
			continue;
		present = true;
		while (list_next(&pos, end, &tok, &len)) {
			struct directive d;
			const char *eq = memchr(tok, '=', len);

			memset(&d, 0, sizeof(d));
			d.name = tok;
			d.name_len = eq != NULL ? (size_t)(eq - tok) : len;
			if (!is_token(d.name, d.name_len))
				continue;
			if (eq != NULL) {
				d.has_value = true;
				d.value = eq + 1;
				d.value_len = len - d.name_len - 1;
				if (d.value_len >= 2 && d.value[0] == '"' &&
				    d.value[d.value_len - 1] == '"') {
					d.quoted = true;
					d.value++;
					d.value_len -= 2;
				} else if (!is_token(d.value, d.value_len)) {
					d.bad = true;
				}
			}
			fn(ctx, &d);
		}
	}
	return present;
}

/* ---- Structured Field dictionaries (RFC 8941 §4.2.2) ---- */

enum sf_type {
	SF_BOOL,
	SF_INT,
	SF_STRING,
	SF_TOKEN,
	SF_OTHER,	/* decimal, byte sequence, inner list */
};

struct sf_member {
	const char	*key;
	size_t		key_len;
	enum sf_type	type;
	bool		b;
	const char	*v;		/* integer digits, string contents, token */
	size_t		v_len;
};

struct sf_parser {
	const char	*p;
	const char	*end;
};

static bool
sf_lcalpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool
sf_key(struct sf_parser *ps, const char **key, size_t *len)
{
	const char *s = ps->p;

	if (ps->p >= ps->end || !(sf_lcalpha(*ps->p) || *ps->p == '*'))
		return false;
	ps->p++;
	while (ps->p < ps->end && (sf_lcalpha(*ps->p) ||
	    isdigit((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '-' ||
	    *ps->p == '.' || *ps->p == '*'))
		ps->p++;
	*key = s;
	*len = (size_t)(ps->p - s);
	return true;
}

/* sf-integer / sf-decimal (RFC 8941 §4.2.4). */
static bool
sf_number(struct sf_parser *ps, struct sf_member *m)
{
	const char *s = ps->p;
	size_t digits = 0, frac = 0;
	bool dot = false;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	while (ps->p < ps->end) {
		char c = *ps->p;

		if (isdigit((unsigned char)c)) {
			if (dot)
				frac++;
			else
				digits++;
		} else if (c == '.' && !dot) {
			if (digits > 12)
				return false;
			dot = true;
		} else {
			break;
		}
		ps->p++;
	}
	if (digits == 0 || (!dot && digits > 15) || (dot && (frac < 1 || frac > 3)))
		return false;
	m->type = dot ? SF_OTHER : SF_INT;
	m->v = s;
	m->v_len = (size_t)(ps->p - s);
	return true;
}

static bool
sf_bare_item(struct sf_parser *ps, struct sf_member *m)
{
	char c;

	if (ps->p >= ps->end)
		return false;
	c = *ps->p;
	if (c == '-' || isdigit((unsigned char)c))
		return sf_number(ps, m);
	if (c == '"') {
		/* sf-string: printable ASCII, \" and \\ escapes (§4.2.5). */
		m->type = SF_STRING;
		m->v = ++ps->p;
		while (ps->p < ps->end && *ps->p != '"') {
			unsigned char u = (unsigned char)*ps->p;

			if (u == '\\') {
				if (ps->p + 1 >= ps->end ||
				    (ps->p[1] != '"' && ps->p[1] != '\\'))
					return false;
				ps->p++;
			} else if (u < 0x20 || u > 0x7e) {
				return false;
			}
			ps->p++;
		}
		if (ps->p >= ps->end)
			return false;
		m->v_len = (size_t)(ps->p - m->v);
		ps->p++;
		return true;
	}
	if (isalpha((unsigned char)c) || c == '*') {
		/* sf-token (§4.2.6). */
		m->type = SF_TOKEN;
		m->v = ps->p++;
		while (ps->p < ps->end && (headers_is((unsigned char)*ps->p,
		    HDR_C_TCHAR) || *ps->p == ':' || *ps->p == '/'))
			ps->p++;
		m->v_len = (size_t)(ps->p - m->v);
		return true;
	}
	if (c == ':') {
		/* sf-binary (§4.2.7). */
		m->type = SF_OTHER;
		ps->p++;
		while (ps->p < ps->end && (isalnum((unsigned char)*ps->p) ||
		    *ps->p == '+' || *ps->p == '/' || *ps->p == '='))
			ps->p++;
		if (ps->p >= ps->end || *ps->p != ':')
			return false;
		ps->p++;
		return true;
	}
	if (c == '?') {
		/* sf-boolean (§4.2.8). */
		if (ps->p + 1 >= ps->end || (ps->p[1] != '0' && ps->p[1] != '1'))
			return false;
		m->type = SF_BOOL;
		m->b = ps->p[1] == '1';
		ps->p += 2;
		return true;
	}
	return false;
}

/* parameters = *( ";" *SP key [ "=" bare-item ] ); values are ignored. */
static bool
sf_parameters(struct sf_parser *ps)
{
	while (ps->p < ps->end && *ps->p == ';') {
		struct sf_member ignored;
		const char *key;
		size_t len;

		ps->p++;
		while (ps->p < ps->end && *ps->p == ' ')
			ps->p++;
		if (!sf_key(ps, &key, &len))
			return false;
		if (ps->p < ps->end && *ps->p == '=') {
			ps->p++;
			if (!sf_bare_item(ps, &ignored))
				return false;
		}
	}
	return true;
}

/* inner-list = "(" *SP [ sf-item *( 1*SP sf-item ) *SP ] ")" parameters */
static bool
sf_inner_list(struct sf_parser *ps)
{
	ps->p++;
	for (;;) {
		struct sf_member item;

		while (ps->p < ps->end && *ps->p == ' ')
			ps->p++;
		if (ps->p >= ps->end)
			return false;
		if (*ps->p == ')') {
			ps->p++;
			return sf_parameters(ps);
		}
		if (!sf_bare_item(ps, &item) || !sf_parameters(ps))
			return false;
		if (ps->p < ps->end && *ps->p != ' ' && *ps->p != ')')
			return false;
	}
}

/*
 * Parses a whole sf-dictionary (§4.2.2) into *out (xmalloc'd, *n members).
 * Returns false, with nothing allocated, when the text is not one, or when
 * it is empty (RFC 9213 §2.1 wants a valid, non-empty value).
 */
static bool
sf_dictionary(const char *s, size_t len, struct sf_member **out, size_t *n)
{
	struct sf_parser ps = { s, s + len };
	struct sf_member *v = NULL;
	size_t cnt = 0, cap = 0;

	while (ps.p < ps.end && *ps.p == ' ')
		ps.p++;
	while (ps.end > ps.p && ps.end[-1] == ' ')
		ps.end--;
	if (ps.p >= ps.end)
		return false;
	for (;;) {
		struct sf_member m;

		memset(&m, 0, sizeof(m));
		if (!sf_key(&ps, &m.key, &m.key_len))
			goto fail;
		if (ps.p < ps.end && *ps.p == '=') {
			ps.p++;
			if (ps.p < ps.end && *ps.p == '(') {
				m.type = SF_OTHER;
				if (!sf_inner_list(&ps))
					goto fail;
			} else if (!sf_bare_item(&ps, &m) || !sf_parameters(&ps)) {
				goto fail;
			}
		} else {
			m.type = SF_BOOL;
			m.b = true;
			if (!sf_parameters(&ps))
				goto fail;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[cnt++] = m;
		while (ps.p < ps.end && is_ows(*ps.p))
			ps.p++;
		if (ps.p >= ps.end)
			break;
		if (*ps.p != ',')
			goto fail;
		ps.p++;
		while (ps.p < ps.end && is_ows(*ps.p))
			ps.p++;
		if (ps.p >= ps.end)
			goto fail;	/* trailing comma */
	}
	*out = v;
	*n = cnt;
	return true;
fail:
	free(v);
	return false;
}

/*
 * Visits the directives of the targeted field called name (RFC 9213 §2.1):
 * all its lines combined, parsed as one dictionary. When a key repeats, the
 * last value wins (RFC 8941 §4.2.2). Returns false, visiting nothing, when
 * the field is absent, empty or invalid.
 */
static bool
visit_sf(const struct fields *f, const char *name, directive_f fn, void *ctx)
{
	struct sbuf all;
	struct sf_member *m;
	size_t i, j, n;
	bool any = false;

	sb_init(&all);
	for (i = 0; i < f->n; i++) {
		if (!str_ieq(f->v[i].name, f->v[i].name_len, name))
			continue;
		if (any)
			sb_adds(&all, ", ");
		sb_add(&all, f->v[i].value, f->v[i].value_len);
		any = true;
	}
	if (!any || !sf_dictionary(all.p, all.len, &m, &n)) {
		free(all.p);
		return false;
	}
	for (i = 0; i < n; i++) {
		struct directive d;
		bool later = false;

		for (j = i + 1; j < n && !later; j++)
			later = m[j].key_len == m[i].key_len &&
			    memcmp(m[j].key, m[i].key, m[i].key_len) == 0;
		if (later || (m[i].type == SF_BOOL && !m[i].b))
			continue;
		memset(&d, 0, sizeof(d));
		d.name = m[i].key;
		d.name_len = m[i].key_len;
		d.sf = true;
		if (m[i].type != SF_BOOL) {
			d.has_value = true;
			d.value = m[i].v;
			d.value_len = m[i].v_len;
			d.quoted = m[i].type == SF_STRING;
			d.bad = m[i].type == SF_OTHER;
		}
		fn(ctx, &d);
	}
	free(m);
	free(all.p);
	return true;
}

/* The value of a delta directive, or POLICY_INVALID. */
static int64_t
directive_delta(const struct directive *d)
{
	if (!d->has_value || d->bad || (d->sf && d->quoted))
		return POLICY_INVALID;
	return parse_delta(d->value, d->value_len);
}

/* Records a delta directive; a different repeated value invalidates it. */
static void
set_delta(int64_t *slot, int64_t v)
{
	if (*slot == -1)
		*slot = v;
	else if (*slot != v)
		*slot = POLICY_INVALID;	/* RFC 9111 §4.2.1 duplicates */
}

/*
 * True when no-cache / private carries a field-name list: a token or a
 * quoted string in Cache-Control, a string in a targeted field. Any other
 * value leaves the directive unqualified (the restrictive reading).
 */
static bool
qualified(const struct directive *d)
{
	return d->has_value && !d->bad && (!d->sf || d->quoted);
}

static void
apply_response(void *ctx, const struct directive *d)
{
	struct policy_response_cc *cc = ctx;
	const char *n = d->name;
	size_t l = d->name_len;

	if (str_ieq(n, l, "max-age"))
		set_delta(&cc->max_age, directive_delta(d));
	else if (str_ieq(n, l, "s-maxage"))
		set_delta(&cc->s_maxage, directive_delta(d));
	else if (str_ieq(n, l, "stale-while-revalidate"))
		set_delta(&cc->stale_while_revalidate, directive_delta(d));
	else if (str_ieq(n, l, "stale-if-error"))
		set_delta(&cc->stale_if_error, directive_delta(d));
	else if (str_ieq(n, l, "no-cache")) {
		/* §5.2.2.4: a field-name list qualifies it. */
		if (qualified(d))
			cc->no_cache_fields = true;
		else
			cc->no_cache = true;
	} else if (str_ieq(n, l, "private")) {
		/* §5.2.2.7. */
		if (qualified(d))
			cc->private_fields = true;
		else
			cc->private_ = true;
	} else if (str_ieq(n, l, "no-store"))
		cc->no_store = true;
	else if (str_ieq(n, l, "public"))
		cc->public_ = true;
	else if (str_ieq(n, l, "must-revalidate"))
		cc->must_revalidate = true;
	else if (str_ieq(n, l, "proxy-revalidate"))
		cc->proxy_revalidate = true;
	else if (str_ieq(n, l, "must-understand"))
		cc->must_understand = true;
	else if (str_ieq(n, l, "immutable"))
		cc->immutable = true;
}

/*
 * Surrogate-Control (W3C Edge Architecture 1.0 §3): a comma list of
 * directives, each optionally targeted with ";device-token". Only untargeted
 * directives and those targeted at cfg->surrogate_target apply. max-age may
 * carry "+stale" (ignored: staleness comes from Cache-Control's RFC 5861
 * directives). Returns true when at least one directive applies.
 */
static bool
visit_surrogate(const struct policy_config *cfg, const struct fields *f,
    directive_f fn, void *ctx)
{
	bool applied = false;
	size_t i;

	for (i = 0; i < f->n; i++) {
		const struct field *fl = &f->v[i];
		const char *pos = fl->value, *end = fl->value + fl->value_len, *tok;
		size_t len;

		if (!str_ieq(fl->name, fl->name_len, "Surrogate-Control"))
			continue;
		while (list_next(&pos, end, &tok, &len)) {
			struct directive d;
			const char *semi = memchr(tok, ';', len), *eq, *plus;
			size_t dlen = semi != NULL ? (size_t)(semi - tok) : len;

			if (semi != NULL) {
				const char *t = semi + 1;
				size_t tlen = len - dlen - 1;
				if (cfg->surrogate_target == NULL ||
				    !str_ieq(t, tlen, cfg->surrogate_target))
					continue;
			}
			memset(&d, 0, sizeof(d));
			eq = memchr(tok, '=', dlen);
			d.name = tok;
			d.name_len = eq != NULL ? (size_t)(eq - tok) : dlen;
			if (!is_token(d.name, d.name_len))
				continue;
			if (eq != NULL) {
				d.has_value = true;
				d.value = eq + 1;
				d.value_len = dlen - d.name_len - 1;
				plus = memchr(d.value, '+', d.value_len);
				if (plus != NULL)
					d.value_len = (size_t)(plus - d.value);
				if (!is_token(d.value, d.value_len))
					d.bad = true;
			}
			fn(ctx, &d);
			applied = true;
		}
	}
	return applied;
}

/* Which field holds the directives in force, and visits them with fn. */
static enum policy_cc_source
visit_response(const struct policy_config *cfg, const struct fields *resp,
    directive_f fn, void *ctx)
{
	/* RFC 9213 §2.1: the first valid targeted field in target-list order. */
	if (cfg->targeted_field != NULL &&
	    visit_sf(resp, cfg->targeted_field, fn, ctx))
		return POLICY_CC_TARGETED;
	if (cfg->cdn_cache_control && visit_sf(resp, CDN_CACHE_CONTROL, fn, ctx))
		return POLICY_CC_CDN;
	if (cfg->surrogate_control && visit_surrogate(cfg, resp, fn, ctx))
		return POLICY_CC_SURROGATE;
	if (visit_cc(resp, "Cache-Control", fn, ctx))
		return POLICY_CC_CACHE_CONTROL;
	return POLICY_CC_NONE;
}

void
policy_response_cc(const struct policy_config *cfg, const struct fields *resp,
    struct policy_response_cc *out)
{
	AN(cfg);
	AN(resp);
	memset(out, 0, sizeof(*out));
	out->max_age = out->s_maxage = -1;
	out->stale_while_revalidate = out->stale_if_error = -1;
	out->source = visit_response(cfg, resp, apply_response, out);
}

static void
apply_request(void *ctx, const struct directive *d)
{
	struct policy_request_cc *rq = ctx;
	const char *n = d->name;
	size_t l = d->name_len;
	int64_t v;

	if (str_ieq(n, l, "no-cache"))
		rq->no_cache = true;
	else if (str_ieq(n, l, "no-store"))
		rq->no_store = true;
	else if (str_ieq(n, l, "only-if-cached"))
		rq->only_if_cached = true;
	else if (str_ieq(n, l, "max-stale")) {
		/* §5.2.1.2: no value means any staleness. */
		v = d->has_value ? directive_delta(d) : POLICY_DELTA_MAX;
		if (rq->max_stale == -1)
			rq->max_stale = v == POLICY_INVALID ? 0 : v;
	} else {
		int64_t *slot = NULL;

		if (str_ieq(n, l, "max-age"))
			slot = &rq->max_age;
		else if (str_ieq(n, l, "min-fresh"))
			slot = &rq->min_fresh;
		else if (str_ieq(n, l, "stale-if-error"))
			slot = &rq->stale_if_error;
		if (slot == NULL || *slot != -1)
			return;
		v = directive_delta(d);
		*slot = v == POLICY_INVALID ? 0 : v;
	}
}

void
policy_request_cc(const struct fields *req, struct policy_request_cc *out)
{
	AN(req);
	memset(out, 0, sizeof(*out));
	out->max_age = out->max_stale = out->min_fresh = -1;
	out->stale_if_error = -1;
	/* RFC 9111 §5.4: Pragma: no-cache only without Cache-Control. */
	if (!visit_cc(req, "Cache-Control", apply_request, out) &&
	    fields_has_token(req, "Pragma", "no-cache"))
		out->no_cache = true;
}

/* ---- storing (RFC 9111 §3) ---- */

static bool
vary_star(const struct fields *resp)
{
	char *names;

	switch (cache_key_vary_names(resp, &names)) {
	case CACHE_KEY_VARY_STAR:
		return true;
	case CACHE_KEY_VARY_LIST:
		free(names);
		return false;
	default:
		return false;
	}
}

bool
policy_storable(const struct policy_config *cfg, const struct http_request *req,
    int status, const struct fields *resp, const char **why)
{
	struct policy_response_cc cc;
	struct policy_request_cc rq;
	const char *reason = NULL;
	bool explicit;

	AN(cfg);
	AN(req);
	AN(resp);
	policy_request_cc(&req->fields, &rq);
	policy_response_cc(cfg, resp, &cc);
	/* §3, last condition: something makes the response worth keeping. */
	explicit = cc.public_ || cc.max_age != -1 ||
	    (cfg->shared && cc.s_maxage != -1) ||
	    (!cfg->shared && (cc.private_ || cc.private_fields)) ||
	    ((cc.source == POLICY_CC_CACHE_CONTROL || cc.source == POLICY_CC_NONE) &&
	    fields_get(resp, "Expires") != NULL);
	if (req->method != HTTP_M_GET)
		reason = "method";			/* §3: freshd stores GET only */
	else if (rq.no_store)
		reason = "request no-store";		/* §5.2.1.5 */
	else if (!is_final(status) || status == 304)
		reason = "status";			/* §3: final; 304 merges */
	else if (status == 206)
		reason = "partial content";		/* §3.3: no range support */
	else if (cc.must_understand && !understood(status))
		reason = "must-understand";		/* §5.2.2.3 */
	else if (cc.no_store && !cc.must_understand)
		reason = "no-store";			/* §5.2.2.5 */
	else if (cfg->shared && cc.private_)
		reason = "private";			/* §5.2.2.7 */
	else if (cfg->shared && fields_get(&req->fields, "Authorization") != NULL &&
	    !cc.must_revalidate && !cc.public_ && cc.s_maxage == -1)
		reason = "authorization";		/* §3.5 */
	else if (vary_star(resp))
		reason = "vary *";			/* §4.1: never selected */
	else if (!explicit && !heuristically_cacheable(status))
		reason = "not cacheable";		/* §3 last condition */
	if (why != NULL)
		*why = reason;
	return reason == NULL;
}

bool
policy_post_reusable(const struct policy_config *cfg, const struct http_request *req,
    const char *target_key, int status, const struct fields *resp, const char **why)
{
	struct http_request as_get;
	struct policy_response_cc cc;
	const struct field *cl;
	const char *reason = NULL;
	char *key = NULL;

	AN(cfg);
	AN(req);
	AN(target_key);
	AN(resp);
	policy_response_cc(cfg, resp, &cc);
	cl = fields_get(resp, "Content-Location");
	if (req->method != HTTP_M_POST)
		reason = "method";
	else if (status != 200 && status != 203)
		reason = "status";
	else if (cl == NULL || fields_count(resp, "Content-Location") != 1 ||
	    cache_key_resolve(target_key, cl->value, cl->value_len, &key) != 0 ||
	    strcmp(key, target_key) != 0)
		reason = "content-location";		/* RFC 9110 §9.3.3 */
	else if (cc.max_age == -1 && !(cfg->shared && cc.s_maxage != -1) &&
	    !((cc.source == POLICY_CC_CACHE_CONTROL || cc.source == POLICY_CC_NONE) &&
	    fields_get(resp, "Expires") != NULL))
		reason = "no explicit freshness";	/* RFC 9110 §9.3.3 */
	else if (fields_get(resp, "Vary") != NULL)
		reason = "vary";
	free(key);
	if (reason == NULL) {
		/* Everything else is what a GET's response would need. */
		as_get = *req;
		as_get.method = HTTP_M_GET;
		if (!policy_storable(cfg, &as_get, status, resp, &reason))
			AN(reason);
	}
	if (why != NULL)
		*why = reason;
	return reason == NULL;
}

/* Collects the field names of qualified no-cache / private directives. */
struct named {
	bool	shared;
	char	**names;
	size_t	n;
	size_t	cap;
};

static void
collect_named(void *ctx, const struct directive *d)
{
	struct named *nm = ctx;
	const char *pos, *end, *tok;
	size_t len;

	if (!qualified(d))
		return;
	if (!str_ieq(d->name, d->name_len, "no-cache") &&
	    !(nm->shared && str_ieq(d->name, d->name_len, "private")))
		return;
	pos = d->value;
	end = d->value + d->value_len;
	while (list_next(&pos, end, &tok, &len)) {
		if (!is_token(tok, len))
			continue;
		if (nm->n == nm->cap) {
			nm->cap = nm->cap ? nm->cap * 2 : 4;
			nm->names = xrealloc(nm->names, nm->cap * sizeof(*nm->names));
		}
		nm->names[nm->n++] = xstrndup(tok, len);
	}
}

/*
 * RFC 9111 §3.1: removes from f the fields that the directives in force in
 * f itself name in a qualified no-cache (every cache) or private (shared).
 */
static void
strip_named(const struct policy_config *cfg, struct fields *f)
{
	struct named nm;
	size_t i;

	memset(&nm, 0, sizeof(nm));
	nm.shared = cfg->shared;
	visit_response(cfg, f, collect_named, &nm);
	for (i = 0; i < nm.n; i++) {
		fields_remove(f, nm.names[i]);
		free(nm.names[i]);
	}
	free(nm.names);
}

/* Sets Date to t unless f has a valid one (RFC 9110 §6.6.1). */
static void
ensure_date(struct fields *f, time_t t)
{
	char buf[32];
	time_t d;

	if (fields_count(f, "Date") == 1 && field_date(f, "Date", &d))
		return;
	fields_set(f, "Date", http_date_format(t, buf, sizeof(buf)));
}

void
policy_store_fields(const struct policy_config *cfg, const struct fields *resp,
    time_t response_time, struct fields *out)
{
	AN(cfg);
	AN(resp);
	fields_copy(out, resp);
	/* §3.1: Connection and what it names; proxy-specific fields. */
	fields_strip_hop_by_hop(out, false);
	fields_remove(out, "Proxy-Authentication-Info");
	strip_named(cfg, out);
	ensure_date(out, response_time);
}

/* ---- freshness (RFC 9111 §4.2) ---- */

/* The Date value of a response: its Date field, else response_time. */
static int64_t
date_value(const struct fields *f, time_t response_time)
{
	time_t d;

	return field_date(f, "Date", &d) ? (int64_t)d : (int64_t)response_time;
}

/* Expires - Date (§4.2.1); 0 for an invalid or repeated-different Expires. */
static int64_t
expires_lifetime(const struct fields *resp, time_t response_time)
{
	const struct field *first = fields_get(resp, "Expires");
	time_t exp;
	size_t i;

	for (i = 0; i < resp->n; i++) {
		const struct field *fl = &resp->v[i];

		/* §4.2.1: differing duplicates make the response stale. */
		if (str_ieq(fl->name, fl->name_len, "Expires") &&
		    (fl->value_len != first->value_len ||
		    memcmp(fl->value, first->value, fl->value_len) != 0))
			return 0;
	}
	/* §5.3: an invalid date (e.g. "0") is in the past. */
	if (http_date_parse(first->value, first->value_len, &exp) != 0)
		return 0;
	return max64(0, (int64_t)exp - date_value(resp, response_time));
}

/* §4.2.2 heuristic: a fraction of Date - Last-Modified, capped. */
static int64_t
heuristic_lifetime(const struct policy_config *cfg, const struct fields *resp,
    time_t response_time)
{
	int64_t date = date_value(resp, response_time), since, lt;
	time_t lm;

	if (cfg->heuristic_fraction <= 0 || !field_date(resp, "Last-Modified", &lm))
		return 0;
	since = date - (int64_t)lm;
	if (since <= 0)
		return 0;
	lt = (int64_t)((double)since * cfg->heuristic_fraction);
	if (cfg->heuristic_max > 0)
		lt = min64(lt, cfg->heuristic_max);
	return max64(0, lt);
}

static int64_t
lifetime_of(const struct policy_config *cfg, const struct policy_response_cc *cc,
    int status, const struct fields *resp, time_t response_time)
{
	int64_t lt;

	if (cc->no_cache)
		lt = 0;		/* §4.2.1: the most restrictive directive wins */
	else if (cfg->shared && cc->s_maxage != -1)
		lt = cc->s_maxage;
	else if (cc->max_age != -1)
		lt = cc->max_age;
	else if ((cc->source == POLICY_CC_CACHE_CONTROL ||
	    cc->source == POLICY_CC_NONE) && fields_get(resp, "Expires") != NULL)
		lt = expires_lifetime(resp, response_time);
	else if (heuristically_cacheable(status) || cc->public_)
		lt = heuristic_lifetime(cfg, resp, response_time);
	else
		lt = 0;
	if (lt < 0)
		lt = 0;		/* POLICY_INVALID: stale */
	if (cfg->max_ttl > 0)
		lt = min64(lt, cfg->max_ttl);
	return min64(lt, POLICY_DELTA_MAX);
}

int64_t
policy_freshness_lifetime(const struct policy_config *cfg, int status,
    const struct fields *resp, time_t response_time)
{
	struct policy_response_cc cc;

	policy_response_cc(cfg, resp, &cc);
	return lifetime_of(cfg, &cc, status, resp, response_time);
}

/* ---- age (RFC 9111 §4.2.3) ---- */

/*
 * §5.1: a list-valued Age is read by its first member. What freshd cannot
 * read with certainty (several field lines, members separated by anything
 * but a bare comma, a sign, a fraction, parameters, text) counts as "older
 * than any lifetime" rather than being ignored: an age we cannot know must
 * not make a response look fresher than it may be (docs/policy.md).
 */
static int64_t
age_value(const struct fields *f)
{
	const struct field *fl = fields_get(f, "Age");
	const char *comma;
	size_t i, len;

	if (fl == NULL)
		return 0;
	if (fields_count(f, "Age") != 1 || fl->value_len == 0)
		return POLICY_DELTA_MAX;
	for (i = 0; i < fl->value_len; i++) {
		char c = fl->value[i];
		if (!(c >= '0' && c <= '9') &&
		    !(c == ',' && i > 0 && i + 1 < fl->value_len && fl->value[i + 1] != ','))
			return POLICY_DELTA_MAX;
	}
	comma = memchr(fl->value, ',', fl->value_len);
	len = comma != NULL ? (size_t)(comma - fl->value) : fl->value_len;
	return parse_delta(fl->value, len);
}

void
policy_age(const struct policy_stored *s, time_t now, struct policy_age *out)
{
	AN(s);
	AN(s->fields);
	out->age_value = age_value(s->fields);
	out->date_value = date_value(s->fields, s->response_time);
	out->apparent_age = max64(0, (int64_t)s->response_time - out->date_value);
	out->response_delay = max64(0,
	    (int64_t)s->response_time - (int64_t)s->request_time);
	out->corrected_age_value = out->age_value + out->response_delay;
	out->corrected_initial_age = max64(out->apparent_age,
	    out->corrected_age_value);
	/* A clock stepping back never makes a response younger. */
	out->resident_time = max64(0, (int64_t)now - (int64_t)s->response_time);
	out->current_age = min64(out->corrected_initial_age + out->resident_time,
	    POLICY_DELTA_MAX);
}

int64_t
policy_current_age(const struct policy_stored *s, time_t now)
{
	struct policy_age a;

	policy_age(s, now, &a);
	return a.current_age;
}

time_t
policy_stale_at(const struct policy_config *cfg, const struct policy_stored *s)
{
	struct policy_age a;
	int64_t lt = policy_freshness_lifetime(cfg, s->status, s->fields,
	    s->response_time);

	policy_age(s, s->response_time, &a);
	return (time_t)((int64_t)s->response_time + lt - a.corrected_initial_age);
}

/* ---- decide (RFC 9111 §4) ---- */

static void
set_action(struct policy_decision *out, enum policy_action a,
    enum policy_fwd fwd, const char *detail)
{
	out->action = a;
	out->fwd = fwd;
	out->detail = detail;
}

void
policy_decide(const struct policy_config *cfg, const struct http_request *req,
    const struct policy_stored *stored, bool vary_miss, time_t now,
    struct policy_decision *out)
{
	struct policy_request_cc rq;
	struct policy_response_cc cc;
	enum policy_fwd fwd_req;
	int64_t staleness;
	bool no_stale, client_stale;

	AN(cfg);
	AN(req);
	memset(out, 0, sizeof(*out));
	if (req->method != HTTP_M_GET && req->method != HTTP_M_HEAD) {
		/* §4: unsafe methods are written through; others not cached. */
		set_action(out, POLICY_PASS, POLICY_FWD_METHOD, "method");
		return;
	}
	if (fields_get(&req->fields, "If-Match") != NULL ||
	    fields_get(&req->fields, "If-Unmodified-Since") != NULL) {
		/* §4.3.2: these preconditions are the origin's to evaluate. */
		set_action(out, POLICY_PASS, POLICY_FWD_REQUEST,
		    "origin precondition");
		return;
	}
	policy_request_cc(&req->fields, &rq);
	if (stored == NULL) {
		set_action(out, rq.only_if_cached ? POLICY_GATEWAY_TIMEOUT :
		    POLICY_MISS, vary_miss ? POLICY_FWD_VARY_MISS :
		    POLICY_FWD_URI_MISS, NULL);
		return;
	}

	policy_response_cc(cfg, stored->fields, &cc);
	out->lifetime = lifetime_of(cfg, &cc, stored->status, stored->fields,
	    stored->response_time);
	out->age = policy_current_age(stored, now);
	out->ttl = out->lifetime - out->age;
	/* §4.2: fresh when freshness_lifetime > current_age. */
	out->stale = out->lifetime <= out->age;
	staleness = out->age - out->lifetime;
	fwd_req = out->stale ? POLICY_FWD_STALE : POLICY_FWD_REQUEST;

	/* §4.2.4: no stale response against these directives. */
	no_stale = cc.no_cache || cc.must_revalidate ||
	    (cfg->shared && cc.proxy_revalidate);
	/* §5.2.2.10: s-maxage brings proxy-revalidate for the client's max-stale. */
	client_stale = !no_stale && !(cfg->shared && cc.s_maxage != -1);

	if (rq.no_cache)
		set_action(out, POLICY_REVALIDATE, fwd_req, "request no-cache");	/* §5.2.1.4 */
	else if (cc.no_cache)
		set_action(out, POLICY_REVALIDATE, POLICY_FWD_STALE, "no-cache");	/* §5.2.2.4 */
	else if (rq.max_age >= 0 && out->age > rq.max_age)
		set_action(out, POLICY_REVALIDATE, fwd_req, "request max-age");	/* §5.2.1.1 */
	else if (rq.min_fresh >= 0 && out->ttl < rq.min_fresh)
		set_action(out, POLICY_REVALIDATE, fwd_req, "request min-fresh");	/* §5.2.1.3 */
	else if (!out->stale)
		set_action(out, POLICY_FRESH, POLICY_FWD_NONE, NULL);
	else if (client_stale && rq.max_stale >= 0 && staleness <= rq.max_stale)
		set_action(out, POLICY_FRESH, POLICY_FWD_NONE, "max-stale");	/* §5.2.1.2 */
	else if (!no_stale && cc.stale_while_revalidate > 0 &&
	    staleness < cc.stale_while_revalidate)
		set_action(out, POLICY_STALE_OK, POLICY_FWD_NONE,
		    "stale-while-revalidate");	/* RFC 5861 §3 */
	else
		set_action(out, POLICY_REVALIDATE, POLICY_FWD_STALE, NULL);

	/* §5.2.1.7: only-if-cached never goes to the origin. */
	if (rq.only_if_cached && out->action == POLICY_REVALIDATE)
		out->action = POLICY_GATEWAY_TIMEOUT;
}

const char *
policy_action_name(enum policy_action a)
{
	switch (a) {
	case POLICY_PASS:		return "pass";
	case POLICY_MISS:		return "miss";
	case POLICY_FRESH:		return "fresh";
	case POLICY_STALE_OK:		return "stale-ok";
	case POLICY_REVALIDATE:		return "revalidate";
	case POLICY_GATEWAY_TIMEOUT:	return "gateway-timeout";
	}
	return "unknown";
}

const char *
policy_fwd_name(enum policy_fwd f)
{
	switch (f) {
	case POLICY_FWD_NONE:		return NULL;
	case POLICY_FWD_BYPASS:		return "bypass";
	case POLICY_FWD_METHOD:		return "method";
	case POLICY_FWD_URI_MISS:	return "uri-miss";
	case POLICY_FWD_VARY_MISS:	return "vary-miss";
	case POLICY_FWD_MISS:		return "miss";
	case POLICY_FWD_REQUEST:	return "request";
	case POLICY_FWD_STALE:		return "stale";
	case POLICY_FWD_PARTIAL:	return "partial";
	}
	return NULL;
}

bool
policy_stale_if_error(const struct policy_config *cfg,
    const struct http_request *req, const struct policy_stored *s,
    int origin_status, time_t now)
{
	struct policy_response_cc cc;
	struct policy_request_cc rq;
	int64_t lt, age, allowance = 0;

	AN(cfg);
	AN(req);
	AN(s);
	/* RFC 5861 §4: an error is a 500, 502, 503 or 504 (or no answer). */
	if (origin_status != 0 && origin_status != 500 && origin_status != 502 &&
	    origin_status != 503 && origin_status != 504)
		return false;
	policy_response_cc(cfg, s->fields, &cc);
	lt = lifetime_of(cfg, &cc, s->status, s->fields, s->response_time);
	age = policy_current_age(s, now);
	if (lt > age)
		return true;
	/* RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.8. */
	if (cc.no_cache || cc.must_revalidate || (cfg->shared && cc.proxy_revalidate))
		return false;
	allowance = max64(cc.stale_if_error, 0);
	/* s-maxage carries proxy-revalidate for a shared cache (§5.2.2.10): only
	 * the origin's own stale-if-error next to it is honoured (as its
	 * stale-while-revalidate is, docs/policy.md), not the client's, nor the
	 * staleness freshd allows itself when the origin is unreachable. */
	if (!(cfg->shared && cc.s_maxage != -1)) {
		policy_request_cc(&req->fields, &rq);
		allowance = max64(allowance, rq.stale_if_error);
		if (origin_status == 0)
			allowance = max64(allowance, cfg->stale_if_unreachable);
	}
	return age - lt < allowance;
}

/* ---- conditional requests ---- */

/* entity-tag = [ weak ] opaque-tag (RFC 9110 §8.8.3). */
static bool
etag_parse(const char *s, size_t len, bool *weak, const char **opaque,
    size_t *olen)
{
	size_t i;

	while (len > 0 && is_ows(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_ows(s[len - 1]))
		len--;
	*weak = len >= 2 && s[0] == 'W' && s[1] == '/';
	if (*weak) {
		s += 2;
		len -= 2;
	}
	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return false;
	for (i = 1; i + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* etagc = %x21 / %x23-7E / obs-text */
		if (c < 0x21 || c == '"' || c == 0x7f)
			return false;
	}
	*opaque = s + 1;
	*olen = len - 2;
	return true;
}

bool
policy_etag_match(const char *a, size_t a_len, const char *b, size_t b_len,
    bool strong)
{
	const char *oa, *ob;
	size_t la, lb;
	bool wa, wb;

	if (!etag_parse(a, a_len, &wa, &oa, &la) ||
	    !etag_parse(b, b_len, &wb, &ob, &lb))
		return false;
	/* §8.8.3.2: strong comparison needs both strong; weak ignores W/. */
	if (strong && (wa || wb))
		return false;
	return la == lb && memcmp(oa, ob, la) == 0;
}

enum policy_cond
policy_client_conditional(const struct http_request *req,
    const struct policy_stored *s)
{
	const struct field *etag, *ims;
	time_t since, last;
	size_t i;
	bool inm = false;

	AN(req);
	AN(s);
	if ((req->method != HTTP_M_GET && req->method != HTTP_M_HEAD) ||
	    s->status != 200)
		return POLICY_COND_FULL;
	etag = fields_get(s->fields, "ETag");
	/* RFC 9110 §13.2.2 step 3: If-None-Match. */
	for (i = 0; i < req->fields.n; i++) {
		const struct field *f = &req->fields.v[i];
		const char *pos = f->value, *end = f->value + f->value_len, *tok;
		size_t len;

		if (!str_ieq(f->name, f->name_len, "If-None-Match"))
			continue;
		inm = true;
		while (list_next(&pos, end, &tok, &len)) {
			if (len == 1 && tok[0] == '*')
				return POLICY_COND_NOT_MODIFIED;
			if (etag != NULL && policy_etag_match(tok, len,
			    etag->value, etag->value_len, false))
				return POLICY_COND_NOT_MODIFIED;
		}
	}
	if (inm)
		return POLICY_COND_FULL;
	/* Step 4: If-Modified-Since, ignored when invalid or repeated (§13.1.3). */
	ims = fields_get(&req->fields, "If-Modified-Since");
	if (ims == NULL || fields_count(&req->fields, "If-Modified-Since") != 1 ||
	    http_date_parse(ims->value, ims->value_len, &since) != 0)
		return POLICY_COND_FULL;
	/* RFC 9111 §4.3.2: Last-Modified, else Date, else the receive time. */
	if (!field_date(s->fields, "Last-Modified", &last))
		last = (time_t)date_value(s->fields, s->response_time);
	return last <= since ? POLICY_COND_NOT_MODIFIED : POLICY_COND_FULL;
}

static bool
name_is_one_of(const struct field *f, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] != NULL && str_ieq(f->name, f->name_len, names[i]))
			return true;
	return false;
}

void
policy_304_fields(const struct policy_config *cfg, const struct fields *stored,
    struct fields *out)
{
	/* RFC 9110 §15.4.5, with the targeted cache-control fields. */
	const char *names[] = {
		"Cache-Control", "Content-Location", "Date", "ETag", "Expires",
		"Vary", CDN_CACHE_CONTROL, NULL, NULL,
	};
	size_t i;

	AN(cfg);
	AN(stored);
	names[7] = cfg->targeted_field;
	/* Last-Modified only helps a recipient that has no ETag to go by. */
	if (fields_get(stored, "ETag") == NULL)
		names[8] = "Last-Modified";
	fields_init(out);
	for (i = 0; i < stored->n; i++) {
		const struct field *f = &stored->v[i];

		if (name_is_one_of(f, names, ARRAY_LEN(names)))
			fields_add(out, f->name, f->name_len, f->value,
			    f->value_len);
	}
}

bool
policy_revalidation_fields(const struct fields *stored, struct fields *req_out)
{
	const struct field *etag = fields_get(stored, "ETag");
	const struct field *lm = fields_get(stored, "Last-Modified");

	/* RFC 9111 §4.3.1: the stored validators, not the client's. */
	fields_remove(req_out, "If-None-Match");
	fields_remove(req_out, "If-Modified-Since");
	if (etag != NULL)
		fields_add(req_out, "If-None-Match", 13, etag->value,
		    etag->value_len);
	if (lm != NULL)
		fields_add(req_out, "If-Modified-Since", 17, lm->value,
		    lm->value_len);
	return etag != NULL || lm != NULL;
}

/* Last-Modified values equal as dates (or byte for byte when not dates). */
static bool
same_last_modified(const struct field *a, const struct field *b)
{
	time_t ta, tb;

	if (http_date_parse(a->value, a->value_len, &ta) == 0 &&
	    http_date_parse(b->value, b->value_len, &tb) == 0)
		return ta == tb;
	return a->value_len == b->value_len &&
	    memcmp(a->value, b->value, a->value_len) == 0;
}

bool
policy_304_matches(const struct fields *stored, const struct fields *resp304)
{
	const struct field *se = fields_get(stored, "ETag");
	const struct field *sl = fields_get(stored, "Last-Modified");
	const struct field *ne = fields_get(resp304, "ETag");
	const struct field *nl = fields_get(resp304, "Last-Modified");
	const char *o;
	size_t ol;
	bool weak;

	/* RFC 9111 §4.3.4, in its order. */
	if (ne != NULL) {
		if (se == NULL || !etag_parse(ne->value, ne->value_len, &weak, &o, &ol))
			return false;
		return policy_etag_match(ne->value, ne->value_len, se->value,
		    se->value_len, !weak);
	}
	if (nl != NULL)
		return sl != NULL && same_last_modified(sl, nl);
	return se == NULL && sl == NULL;
}

static bool
same_etag(const struct field *a, const struct field *b)
{
	const char *oa, *ob;
	size_t la, lb;
	bool wa, wb;

	return etag_parse(a->value, a->value_len, &wa, &oa, &la) &&
	    etag_parse(b->value, b->value_len, &wb, &ob, &lb) &&
	    wa == wb && la == lb && memcmp(oa, ob, la) == 0;
}

bool
policy_head_freshens(const struct fields *stored, uint64_t stored_len,
    const struct fields *head)
{
	const struct field *se = fields_get(stored, "ETag");
	const struct field *sl = fields_get(stored, "Last-Modified");
	const struct field *ne = fields_get(head, "ETag");
	const struct field *nl = fields_get(head, "Last-Modified");
	const struct field *cl = fields_get(head, "Content-Length");
	uint64_t len;

	/* "matching values": the same entity-tag, weakness included. */
	if (ne != NULL && (se == NULL || !same_etag(se, ne)))
		return false;
	if (nl != NULL && (sl == NULL || !same_last_modified(sl, nl)))
		return false;
	if (cl == NULL)
		return true;
	return http1_parse_content_length(cl->value, cl->value_len, &len) &&
	    len == stored_len;
}

/*
 * Fields a 304 never updates (RFC 9111 §3.2): they describe the stored body
 * (Content-MD5, RFC 1864, and Content-Digest, RFC 9530 §2, are digests of
 * the bytes freshd keeps).
 */
static const char *const not_updated[] = {
	"Content-Length", "Content-Encoding", "Content-Range", "Content-MD5",
	"Content-Digest", "Transfer-Encoding", "Proxy-Authentication-Info",
};

void
policy_merge_304(const struct policy_config *cfg, const struct fields *stored,
    const struct fields *resp304, time_t response_time, struct fields *out)
{
	struct fields upd;
	char buf[32];
	time_t d;
	size_t i;

	AN(cfg);
	fields_copy(out, stored);
	fields_copy(&upd, resp304);
	fields_strip_hop_by_hop(&upd, false);
	for (i = 0; i < ARRAY_LEN(not_updated); i++)
		fields_remove(&upd, not_updated[i]);
	/* Each field of the 304 replaces every stored instance (§3.2). */
	for (i = 0; i < upd.n; i++)
		fields_remove(out, upd.v[i].name);
	for (i = 0; i < upd.n; i++)
		fields_add(out, upd.v[i].name, upd.v[i].name_len, upd.v[i].value,
		    upd.v[i].value_len);
	fields_free(&upd);
	/*
	 * The freshened response's age and date are those of the 304: a 304
	 * without a valid Date gets its receive time (RFC 9110 §6.6.1).
	 */
	if (fields_get(resp304, "Age") == NULL)
		fields_remove(out, "Age");
	if (fields_count(resp304, "Date") != 1 || !field_date(resp304, "Date", &d))
		fields_set(out, "Date", http_date_format(response_time, buf,
		    sizeof(buf)));
	strip_named(cfg, out);
}

/* ---- invalidation (RFC 9111 §4.4) ---- */

size_t
policy_invalidations(const struct http_request *req, const char *target_key,
    int status, const struct fields *resp, char *out[3])
{
	static const char *const refs[] = { "Location", "Content-Location" };
	size_t n = 0, i, j;

	AN(req);
	AN(target_key);
	if (http_method_is_safe(req->method) || status < 200 || status > 399)
		return 0;
	out[n++] = xstrdup(target_key);
	for (i = 0; i < ARRAY_LEN(refs); i++) {
		const struct field *f = fields_get(resp, refs[i]);
		char *key;
		bool dup = false;

		if (f == NULL ||
		    cache_key_resolve(target_key, f->value, f->value_len, &key) != 0)
			continue;
		/* §4.4: never another origin's URIs (denial of service). */
		for (j = 0; j < n; j++)
			dup = dup || strcmp(out[j], key) == 0;
		if (dup || !cache_key_same_origin(key, target_key)) {
			free(key);
			continue;
		}
		out[n++] = key;
	}
	return n;
}

/* ---- Cache-Status (RFC 9211) ---- */

/* sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" ) (RFC 8941 §3.3.4). */
static bool
sf_is_token(const char *s)
{
	size_t i;

	if (!isalpha((unsigned char)s[0]) && s[0] != '*')
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (!headers_is((unsigned char)s[i], HDR_C_TCHAR) &&
		    s[i] != ':' && s[i] != '/')
			return false;
	return true;
}

static void
add_sf_string(struct sbuf *b, const char *s)
{
	sb_adds(b, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			sb_add(b, esc, 2);
		} else {
			char ch = (c < 0x20 || c > 0x7e) ? '?' : (char)c;

			sb_add(b, &ch, 1);
		}
	}
	sb_adds(b, "\"");
}

static void
add_sf_token_or_string(struct sbuf *b, const char *s)
{
	if (sf_is_token(s))
		sb_adds(b, s);
	else
		add_sf_string(b, s);
}

char *
policy_cache_status(const char *name, const struct policy_cache_status *cs)
{
	struct sbuf b;

	AN(name);
	AN(cs);
	sb_init(&b);
	add_sf_token_or_string(&b, name);
	if (cs->hit)
		sb_adds(&b, "; hit");
	if (cs->fwd != POLICY_FWD_NONE) {
		sb_adds(&b, "; fwd=");
		sb_adds(&b, policy_fwd_name(cs->fwd));
	}
	if (cs->fwd_status > 0) {
		sb_adds(&b, "; fwd-status=");
		sb_add_int(&b, cs->fwd_status);
	}
	if (cs->has_ttl) {
		sb_adds(&b, "; ttl=");
		sb_add_int(&b, cs->ttl);
	}
	if (cs->stored)
		sb_adds(&b, "; stored");
	if (cs->collapsed)
		sb_adds(&b, "; collapsed");
	if (cs->key != NULL) {
		sb_adds(&b, "; key=");
		add_sf_string(&b, cs->key);
	}
	if (cs->detail != NULL) {
		sb_adds(&b, "; detail=");
		add_sf_token_or_string(&b, cs->detail);
	}
	return b.p;
}

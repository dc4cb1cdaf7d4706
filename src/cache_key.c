/*
 * cache_key.c: primary and secondary (Vary) cache keys.
 *
 * Primary key. The target URI is normalised with the syntax- and
 * scheme-based rules of RFC 3986 §6.2.2-6.2.3 that cannot change what the
 * origin sees as the same resource: case of scheme and host, default and
 * empty ports, a trailing dot of the host (a fully qualified name is the same
 * host), empty path = "/", percent-encoded unreserved characters decoded and
 * the hex digits of the remaining escapes upper-cased. Deliberately NOT
 * done: dot-segment removal (the request is forwarded with its path as
 * received, and an origin may map "/a/../b" elsewhere than "/b"), any
 * change to the query (parameter order and encoding are the origin's
 * business), IDNA or IP-address canonicalisation. Userinfo in the
 * authority is refused (RFC 9110 §4.2.4).
 *
 * Secondary key. For each selecting field named by Vary, in canonical
 * (sorted) name order, one line "name=value\n", or "name\n" when the request
 * has no such field, so that absent and empty differ (RFC 9111 §4.1:
 * "If ... a header field is absent from a request, it can only match
 * another request if it is also absent there"). The value is the
 * normalised combination of all the field's lines; see cache_key_vary().
 *
 * Hash: 64-bit FNV-1a, chosen for simplicity; collisions are harmless
 * because the store compares full keys.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>

#include "cache_key.h"
#include "http1.h"
#include "util.h"

/* A growable NUL-terminated string. */
struct sbuf {
	char	*p;
	size_t	len;
	size_t	cap;
};

static void
sb_init(struct sbuf *b, size_t hint)
{
	b->cap = hint + 1;
	b->p = xmalloc(b->cap);
	b->len = 0;
	b->p[0] = '\0';
}

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_addc(struct sbuf *b, char c)
{
	sb_add(b, &c, 1);
}

/* Appends s[0..n) lower-cased (ASCII). */
static void
sb_add_lower(struct sbuf *b, const char *s, size_t n)
{
	char *d;

	sb_add(b, s, n);
	d = b->p + b->len - n;
	for (size_t i = 0; i < n; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] - 'A' + 'a');
}

static void
sb_adds(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3986 §2.3 unreserved. */
static bool
is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 §3.1 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
static bool
is_scheme(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !isalpha((unsigned char)s[0]))
		return false;
	for (i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '+' && c != '-' && c != '.')
			return false;
	}
	return true;
}

/* Appends the scheme and the normalised authority; -1 when unusable. */
static int
add_origin(struct sbuf *b, const char *scheme, size_t scheme_len,
    const char *auth, size_t auth_len)
{
	const char *host = auth, *port = NULL, *p;
	size_t host_len = auth_len, port_len = 0, i;
	unsigned long pv = 0;
	bool ipv6 = false;

	if (!is_scheme(scheme, scheme_len))
		return -1;
	/* RFC 9110 §4.2.4: userinfo is deprecated and treated as an error. */
	if (memchr(auth, '@', auth_len) != NULL)
		return -1;
	if (auth_len > 0 && auth[0] == '[') {
		p = memchr(auth, ']', auth_len);
		if (p == NULL)
			return -1;
		host_len = (size_t)(p - auth) + 1;
		ipv6 = true;
		if (host_len < auth_len) {
			if (auth[host_len] != ':')
				return -1;
			port = auth + host_len + 1;
			port_len = auth_len - host_len - 1;
		}
	} else if ((p = memchr(auth, ':', auth_len)) != NULL) {
		host_len = (size_t)(p - auth);
		port = p + 1;
		port_len = auth_len - host_len - 1;
	}
	/* A fully qualified name ("example.com.") is the same host. */
	if (!ipv6 && host_len > 0 && host[host_len - 1] == '.')
		host_len--;
	if (host_len == 0 || (ipv6 && host_len <= 2))
		return -1;
	for (i = 0; i < host_len; i++) {
		unsigned char c = (unsigned char)host[i];

		if (ipv6) {
			if (i == 0 || i == host_len - 1)
				continue;
			if (!isxdigit(c) && c != ':' && c != '.')
				return -1;
		} else if (!headers_is(c, HDR_C_REGNAME) && c != '%') {
			return -1;
		}
	}
	for (i = 0; i < port_len; i++) {
		if (!isdigit((unsigned char)port[i]))
			return -1;
		pv = pv * 10 + (unsigned long)(port[i] - '0');
		if (pv > 65535)
			return -1;
	}

	sb_add_lower(b, scheme, scheme_len);
	sb_adds(b, "://");
	sb_add_lower(b, host, host_len);
	/* RFC 3986 §6.2.3: an empty or default port is omitted. */
	if (port_len > 0) {
		bool http = b->len >= 7 && memcmp(b->p, "http://", 7) == 0;
		bool https = b->len >= 8 && memcmp(b->p, "https://", 8) == 0;

		if (!((http && pv == 80) || (https && pv == 443))) {
			char num[8];
			size_t n = sizeof(num);

			/* Digits without leading zeros: ":0080" is ":80". */
			do {
				num[--n] = (char)('0' + pv % 10);
				pv /= 10;
			} while (pv != 0);
			num[--n] = ':';
			sb_add(b, num + n, sizeof(num) - n);
		}
	}
	return 0;
}

/*
 * Appends the normalised path and query of target[0..len): escapes of
 * unreserved characters decoded, other escapes' hex upper-cased (RFC 3986
 * §6.2.2.1-2); the query verbatim. A '%' not followed by two hex digits is
 * kept as is (no valid escape can produce it, so it cannot collide).
 */
static int
add_path(struct sbuf *b, const char *target, size_t len)
{
	const char *q = memchr(target, '?', len);
	size_t path_len = q != NULL ? (size_t)(q - target) : len, i;

	if (len == 0) {
		sb_addc(b, '/');
		return 0;
	}
	if (path_len == 0 || target[0] != '/')
		return -1;
	for (i = 0; i < path_len; i++) {
		unsigned char c = (unsigned char)target[i];
		size_t run;

		if (c <= 0x20 || c >= 0x7f || c == '#')
			return -1;
		/* Ordinary bytes are copied a run at a time. */
		for (run = 0; i + run < path_len; run++) {
			unsigned char d = (unsigned char)target[i + run];

			if (d <= 0x20 || d >= 0x7f || d == '#' || d == '%')
				break;
		}
		if (run > 0) {
			sb_add(b, target + i, run);
			i += run - 1;
			continue;
		}
		if (c == '%' && i + 2 < path_len && hexval(target[i + 1]) >= 0 &&
		    hexval(target[i + 2]) >= 0) {
			int v = hexval(target[i + 1]) * 16 + hexval(target[i + 2]);

			if (is_unreserved((unsigned char)v)) {
				sb_addc(b, (char)v);
			} else {
				static const char hex[] = "0123456789ABCDEF";
				char esc[3] = { '%', hex[v >> 4], hex[v & 15] };

				sb_add(b, esc, 3);
			}
			i += 2;
			continue;
		}
		sb_addc(b, (char)c);
	}
	for (i = path_len; i < len; i++) {
		unsigned char c = (unsigned char)target[i];

		if (c <= 0x20 || c >= 0x7f || c == '#')
			return -1;
	}
	sb_add(b, target + path_len, len - path_len);
	return 0;
}

static int
build_key(const char *scheme, size_t scheme_len, const char *auth,
    size_t auth_len, const char *target, size_t target_len, char **out)
{
	struct sbuf b;

	sb_init(&b, scheme_len + auth_len + target_len + 8);
	if (add_origin(&b, scheme, scheme_len, auth, auth_len) != 0 ||
	    add_path(&b, target, target_len) != 0) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	return 0;
}

int
cache_key_primary(const char *scheme, const char *authority,
    const char *target, char **out)
{
	AN(scheme);
	AN(authority);
	AN(target);
	AN(out);
	return build_key(scheme, strlen(scheme), authority, strlen(authority),
	    target, strlen(target), out);
}

int
cache_key_request(const struct http_request *req, const char *default_scheme,
    char **out)
{
	AN(req);
	if (req->authority == NULL || req->path == NULL)
		return -1;
	return cache_key_primary(req->scheme != NULL ? req->scheme :
	    default_scheme, req->authority, req->path, out);
}

uint64_t
cache_key_hash(const char *key, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

/* ---- reference resolution (RFC 3986 §5.2) ---- */

/* The components of a URI reference; a NULL pointer means "undefined". */
struct uri_ref {
	const char	*scheme, *auth, *path, *query;
	size_t		scheme_len, auth_len, path_len, query_len;
};

/* RFC 3986 Appendix B split of s[0..len); the fragment is dropped. */
static void
split_ref(const char *s, size_t len, struct uri_ref *r)
{
	const char *end = s + len, *p = s, *hash;

	memset(r, 0, sizeof(*r));
	hash = memchr(s, '#', len);
	if (hash != NULL)
		end = hash;
	while (p < end && *p != ':' && *p != '/' && *p != '?')
		p++;
	if (p < end && *p == ':' && p > s && is_scheme(s, (size_t)(p - s))) {
		r->scheme = s;
		r->scheme_len = (size_t)(p - s);
		s = p + 1;
	}
	if (end - s >= 2 && s[0] == '/' && s[1] == '/') {
		s += 2;
		p = s;
		while (p < end && *p != '/' && *p != '?')
			p++;
		r->auth = s;
		r->auth_len = (size_t)(p - s);
		s = p;
	}
	p = s;
	while (p < end && *p != '?')
		p++;
	r->path = s;
	r->path_len = (size_t)(p - s);
	if (p < end) {
		r->query = p + 1;
		r->query_len = (size_t)(end - p - 1);
	}
}

/* RFC 3986 §5.2.4 remove_dot_segments, appending the result to out. */
static void
remove_dot_segments(const char *in, size_t len, struct sbuf *out)
{
	const char *end = in + len;
	size_t start = out->len;

	while (in < end) {
		size_t n = (size_t)(end - in);

		if (n >= 3 && memcmp(in, "../", 3) == 0) {
			in += 3;
		} else if (n >= 2 && memcmp(in, "./", 2) == 0) {
			in += 2;
		} else if (n >= 3 && memcmp(in, "/./", 3) == 0) {
			in += 2;
		} else if (n == 2 && memcmp(in, "/.", 2) == 0) {
			sb_addc(out, '/');
			in += 2;
		} else if ((n >= 4 && memcmp(in, "/../", 4) == 0) ||
		    (n == 3 && memcmp(in, "/..", 3) == 0)) {
			/* Drop the last output segment and its '/'. */
			while (out->len > start && out->p[out->len - 1] != '/')
				out->len--;
			if (out->len > start)
				out->len--;
			out->p[out->len] = '\0';
			/* "/../x" leaves "/x" to copy; a final "/.." leaves "/". */
			if (n == 3)
				sb_addc(out, '/');
			in += 3;
		} else if ((n == 1 && in[0] == '.') ||
		    (n == 2 && memcmp(in, "..", 2) == 0)) {
			in = end;
		} else {
			const char *seg = in;

			if (*seg == '/')
				seg++;
			while (seg < end && *seg != '/')
				seg++;
			sb_add(out, in, (size_t)(seg - in));
			in = seg;
		}
	}
}

int
cache_key_resolve(const char *base, const char *ref, size_t ref_len,
    char **out)
{
	struct uri_ref b, r;
	struct sbuf path;
	const char *scheme, *auth, *query;
	size_t scheme_len, auth_len, query_len, i;
	int rc;

	AN(base);
	AN(ref);
	for (i = 0; i < ref_len; i++) {
		unsigned char c = (unsigned char)ref[i];

		if (c <= 0x20 || c >= 0x7f)
			return -1;
	}
	split_ref(base, strlen(base), &b);
	AN(b.scheme);
	AN(b.auth);
	split_ref(ref, ref_len, &r);

	/* RFC 3986 §5.2.2, strict parser. */
	sb_init(&path, b.path_len + r.path_len + 2);
	query = r.query;
	query_len = r.query_len;
	if (r.scheme != NULL) {
		scheme = r.scheme;
		scheme_len = r.scheme_len;
		if (r.auth == NULL) {
			free(path.p);
			return -1;	/* no authority: not an http(s) URI */
		}
		auth = r.auth;
		auth_len = r.auth_len;
		remove_dot_segments(r.path, r.path_len, &path);
	} else {
		scheme = b.scheme;
		scheme_len = b.scheme_len;
		if (r.auth != NULL) {
			auth = r.auth;
			auth_len = r.auth_len;
			remove_dot_segments(r.path, r.path_len, &path);
		} else {
			auth = b.auth;
			auth_len = b.auth_len;
			if (r.path_len == 0) {
				sb_add(&path, b.path, b.path_len);
				if (r.query == NULL) {
					query = b.query;
					query_len = b.query_len;
				}
			} else if (r.path[0] == '/') {
				remove_dot_segments(r.path, r.path_len, &path);
			} else {
				/* §5.2.3 merge: base path up to its last '/'. */
				struct sbuf merged;
				size_t keep = b.path_len;

				while (keep > 0 && b.path[keep - 1] != '/')
					keep--;
				sb_init(&merged, keep + r.path_len + 1);
				if (keep == 0)
					sb_addc(&merged, '/');
				else
					sb_add(&merged, b.path, keep);
				sb_add(&merged, r.path, r.path_len);
				remove_dot_segments(merged.p, merged.len, &path);
				free(merged.p);
			}
		}
	}
	if (query != NULL) {
		sb_addc(&path, '?');
		sb_add(&path, query, query_len);
	}
	rc = build_key(scheme, scheme_len, auth, auth_len, path.p, path.len, out);
	free(path.p);
	return rc;
}

/* Length of the "scheme://authority" prefix of a primary key. */
static size_t
origin_len(const char *key)
{
	const char *p = strstr(key, "://");

	AN(p);
	p += 3;
	while (*p != '\0' && *p != '/')
		p++;
	return (size_t)(p - key);
}

bool
cache_key_same_origin(const char *a, const char *b)
{
	size_t la = origin_len(a), lb = origin_len(b);

	return la == lb && memcmp(a, b, la) == 0;
}

/* ---- Vary ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

enum cache_key_vary
cache_key_vary_names(const struct fields *resp, char **out)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i, j;
	bool star = false;
	struct sbuf b;

	for (i = 0; i < resp->n; i++) {
		const struct field *f = &resp->v[i];
		const char *pos = f->value, *end = f->value + f->value_len, *tok;
		size_t len;

		if (!str_ieq(f->name, f->name_len, "Vary"))
			continue;
		while (list_next(&pos, end, &tok, &len)) {
			if (len == 1 && tok[0] == '*') {
				star = true;
				continue;
			}
			if (!is_token(tok, len))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 4;
				names = xrealloc(names, cap * sizeof(*names));
			}
			names[n] = xstrndup(tok, len);
			for (j = 0; j < len; j++)
				names[n][j] = lower(names[n][j]);
			n++;
		}
	}
	if (star || n == 0) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
		return star ? CACHE_KEY_VARY_STAR : CACHE_KEY_VARY_NONE;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	sb_init(&b, 64);
	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(names[i], names[i - 1]) != 0) {
			if (b.len > 0)
				sb_addc(&b, ',');
			sb_adds(&b, names[i]);
		}
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	*out = b.p;
	return CACHE_KEY_VARY_LIST;
}

void
cache_key_config_default(struct cache_key_config *c)
{
	c->first_member = NULL;
	c->nfirst_member = 0;
}

/* Request fields whose values are case-insensitive (RFC 9110 §12.5). */
static const char *const ci_fields[] = {
	"accept", "accept-charset", "accept-language",
};

static bool
name_in(const char *name, size_t len, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (str_ieq(name, len, list[i]))
			return true;
	return false;
}

/* Content codings that freshd serves (encoding.c), in key order. */
static const char *const codings[] = {
	"br", "deflate", "gzip", "identity", "zstd",
};
#define IDENTITY 3

/*
 * Parses the weight of an Accept-Encoding member's parameters (RFC 9110
 * §12.4.2): sets *zero when q is 0. Returns false for a malformed weight.
 */
static bool
weight_is_zero(const char *params, size_t len, bool *zero)
{
	const char *p = params, *end = params + len;

	*zero = false;
	while (p < end) {
		const char *name, *val;
		size_t nlen, vlen;

		while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
			p++;
		name = p;
		while (p < end && *p != '=' && *p != ';')
			p++;
		nlen = (size_t)(p - name);
		while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
			nlen--;
		if (p >= end || *p != '=')
			continue;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		val = p;
		while (p < end && *p != ';' && *p != ' ' && *p != '\t')
			p++;
		vlen = (size_t)(p - val);
		if (!str_ieq(name, nlen, "q"))
			continue;
		/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
		if (vlen == 0 || vlen > 5 || (val[0] != '0' && val[0] != '1') ||
		    (vlen > 1 && val[1] != '.'))
			return false;
		{
			bool nonzero = val[0] == '1';
			size_t i;

			for (i = 2; i < vlen; i++) {
				if (!isdigit((unsigned char)val[i]))
					return false;
				if (val[i] != '0') {
					if (val[0] == '1')
						return false;
					nonzero = true;
				}
			}
			*zero = !nonzero;
		}
	}
	return true;
}

/*
 * Accept-Encoding reduced to the acceptable subset of codings[] (RFC 9110
 * §12.5.3): listed with q>0, or not listed and "*" has q>0; identity is
 * acceptable unless refused by "identity;q=0" or by an unlisted "*;q=0".
 */
static void
add_accept_encoding(struct sbuf *b, const struct fields *req)
{
	int state[ARRAY_LEN(codings)];	/* -1 unlisted, 0 refused, 1 accepted */
	int star = -1;
	size_t i, k, len;
	bool first = true;

	for (k = 0; k < ARRAY_LEN(codings); k++)
		state[k] = -1;
	for (i = 0; i < req->n; i++) {
		const struct field *f = &req->v[i];
		const char *pos = f->value, *end = f->value + f->value_len, *tok;

		if (!str_ieq(f->name, f->name_len, "Accept-Encoding"))
			continue;
		while (list_next(&pos, end, &tok, &len)) {
			const char *semi = memchr(tok, ';', len);
			size_t clen = semi != NULL ? (size_t)(semi - tok) : len;
			bool zero;

			while (clen > 0 && (tok[clen - 1] == ' ' || tok[clen - 1] == '\t'))
				clen--;
			if (semi != NULL && !weight_is_zero(semi,
			    len - (size_t)(semi - tok), &zero))
				continue;
			if (semi == NULL)
				zero = false;
			if (clen == 1 && tok[0] == '*') {
				star = !zero;
				continue;
			}
			/* RFC 9110 §8.4.1.3: x-gzip is gzip. */
			if (str_ieq(tok, clen, "x-gzip")) {
				tok = "gzip";
				clen = 4;
			}
			for (k = 0; k < ARRAY_LEN(codings); k++)
				if (str_ieq(tok, clen, codings[k]))
					state[k] = !zero;
		}
	}
	for (k = 0; k < ARRAY_LEN(codings); k++) {
		bool ok;

		if (state[k] >= 0)
			ok = state[k] == 1;
		else if (k == IDENTITY)
			ok = star != 0;
		else
			ok = star == 1;
		if (!ok)
			continue;
		if (!first)
			sb_addc(b, ',');
		sb_adds(b, codings[k]);
		first = false;
	}
}

struct lang_pref {
	const char	*tag;
	size_t		len;
	int		q;	/* thousandths */
};

/* RFC 9110 §12.4.2 weight in thousandths (1000 without q); -1 when malformed. */
static int
weight_of(const char *params, size_t len)
{
	const char *p = memchr(params, '=', len), *end = params + len;
	int q = 0, scale = 100;

	if (p == NULL)
		return 1000;
	p++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || (*p != '0' && *p != '1'))
		return -1;
	q = (*p - '0') * 1000;
	p++;
	if (p < end && *p == '.')
		for (p++; p < end && isdigit((unsigned char)*p) && scale > 0; p++, scale /= 10)
			q += (*p - '0') * scale;
	return q > 1000 ? -1 : q;
}

static int
cmp_lang(const void *a, const void *b)
{
	const struct lang_pref *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c;

	if (x->q != y->q)
		return y->q - x->q;
	c = strncasecmp(x->tag, y->tag, n);
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/*
 * Accept-Language as a preference order rather than a string: tags
 * lower-cased, q=0 dropped, sorted by weight then tag, so "en, de" and
 * "de,en" (equal weights) key the same variant (RFC 9110 §12.5.4 gives
 * members of equal weight no order).
 */
static void
add_accept_language(struct sbuf *b, const struct fields *req)
{
	struct lang_pref prefs[32];
	size_t n = 0, i, k, len;

	for (i = 0; i < req->n; i++) {
		const struct field *f = &req->v[i];
		const char *pos = f->value, *end = f->value + f->value_len, *tok;

		if (!str_ieq(f->name, f->name_len, "Accept-Language"))
			continue;
		while (n < ARRAY_LEN(prefs) && list_next(&pos, end, &tok, &len)) {
			const char *semi = memchr(tok, ';', len);
			size_t tlen = semi != NULL ? (size_t)(semi - tok) : len;
			int q = semi != NULL ? weight_of(semi, len - tlen) : 1000;

			while (tlen > 0 && (tok[tlen - 1] == ' ' || tok[tlen - 1] == '\t'))
				tlen--;
			if (q <= 0 || tlen == 0)
				continue;
			prefs[n].tag = tok;
			prefs[n].len = tlen;
			prefs[n].q = q;
			n++;
		}
	}
	qsort(prefs, n, sizeof(prefs[0]), cmp_lang);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sb_addc(b, ',');
		for (k = 0; k < prefs[i].len; k++)
			sb_addc(b, lower(prefs[i].tag[k]));
		if (prefs[i].q != 1000) {
			char w[16];
			int q = prefs[i].q, digits = 3;

			while (q % 10 == 0) {
				q /= 10;
				digits--;
			}
			snprintf(w, sizeof(w), ";q=0.%0*d", digits, q);
			sb_adds(b, w);
		}
	}
}

/*
 * Appends v[0..len) with whitespace normalised: outside quoted strings,
 * runs of SP/HTAB become one SP and OWS around ',' is removed; leading and
 * trailing OWS are dropped by the caller's trimming of each line.
 */
static void
add_normalised(struct sbuf *b, const char *v, size_t len, bool fold)
{
	size_t i = 0;
	bool space = false;

	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	while (len > i && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	for (; i < len; i++) {
		char c = v[i];

		if (c == '"') {
			sb_addc(b, c);
			for (i++; i < len && v[i] != '"'; i++) {
				if (v[i] == '\\' && i + 1 < len)
					sb_addc(b, v[i++]);
				sb_addc(b, v[i]);
			}
			if (i < len)
				sb_addc(b, '"');
			space = false;
			continue;
		}
		if (c == ' ' || c == '\t') {
			space = true;
			continue;
		}
		if (c == ',') {
			sb_addc(b, ',');
			space = false;
			while (i + 1 < len && (v[i + 1] == ' ' || v[i + 1] == '\t'))
				i++;
			continue;
		}
		if (space && b->len > 0 && b->p[b->len - 1] != ',')
			sb_addc(b, ' ');
		space = false;
		sb_addc(b, fold ? lower(c) : c);
	}
}

/* Appends the first list member of the field, without parameters. */
static void
add_first_member(struct sbuf *b, const struct fields *req, const char *name,
    bool fold)
{
	size_t i, len;

	for (i = 0; i < req->n; i++) {
		const struct field *f = &req->v[i];
		const char *pos = f->value, *end = f->value + f->value_len, *tok;

		if (!str_ieq(f->name, f->name_len, name))
			continue;
		if (list_next(&pos, end, &tok, &len)) {
			const char *semi = memchr(tok, ';', len);

			if (semi != NULL)
				len = (size_t)(semi - tok);
			add_normalised(b, tok, len, fold);
			return;
		}
	}
}

char *
cache_key_vary(const struct cache_key_config *cfg, const char *names,
    const struct fields *req)
{
	struct sbuf b;
	const char *p = names;

	AN(cfg);
	AN(names);
	sb_init(&b, 64);
	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p), i;
		bool present = false, fold;

		if (len == 1 && p[0] == '*') {
			free(b.p);
			return NULL;
		}
		if (len > 0) {
			char *name = xstrndup(p, len);

			present = fields_get(req, name) != NULL;
			for (i = 0; i < len; i++)
				sb_addc(&b, lower(p[i]));
			if (present) {
				sb_addc(&b, '=');
				fold = name_in(p, len, ci_fields, ARRAY_LEN(ci_fields));
				if (str_ieq(p, len, "accept-encoding")) {
					add_accept_encoding(&b, req);
				} else if (str_ieq(p, len, "accept-language") &&
				    !name_in(p, len, cfg->first_member, cfg->nfirst_member)) {
					add_accept_language(&b, req);
				} else if (name_in(p, len, cfg->first_member,
				    cfg->nfirst_member)) {
					add_first_member(&b, req, name, fold);
				} else {
					bool first = true;

					for (i = 0; i < req->n; i++) {
						const struct field *f = &req->v[i];

						if (!str_ieq(f->name, f->name_len, name))
							continue;
						if (!first)
							sb_addc(&b, ',');
						add_normalised(&b, f->value,
						    f->value_len, fold);
						first = false;
					}
				}
			}
			free(name);
			sb_addc(&b, '\n');
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return b.p;
}

#define LANG_LINE	"accept-language"
#define LANG_MARK	'\x7f'

/* The single language tag of Content-Language, or false. */
static bool
content_language(const struct fields *resp, const char **tag, size_t *len)
{
	const struct field *f = fields_get(resp, "Content-Language");
	const char *pos, *end, *tok, *more;
	size_t n, more_len;

	if (f == NULL || fields_count(resp, "Content-Language") != 1)
		return false;
	pos = f->value;
	end = f->value + f->value_len;
	if (!list_next(&pos, end, &tok, &n) || list_next(&pos, end, &more, &more_len))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)tok[i]) && tok[i] != '-')
			return false;
	*tag = tok;
	*len = n;
	return true;
}

char *
cache_key_vary_stored(const struct cache_key_config *cfg, const char *names,
    const struct fields *req, const struct fields *resp)
{
	char *sk = cache_key_vary(cfg, names, req), *line, *nl = NULL, *out;
	const char *tag;
	size_t len, at;

	if (sk == NULL || !content_language(resp, &tag, &len))
		return sk;
	/* The accept-language line: at the start or after a newline. */
	for (line = sk; line != NULL && *line != '\0'; line = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (strncmp(line, LANG_LINE, sizeof(LANG_LINE) - 1) == 0 &&
		    (line[sizeof(LANG_LINE) - 1] == '=' || line[sizeof(LANG_LINE) - 1] == '\n'))
			break;
	}
	if (line == NULL || *line == '\0' || nl == NULL)
		return sk;
	at = (size_t)(nl - sk);
	out = xmalloc(strlen(sk) + len + 2);
	memcpy(out, sk, at);
	out[at] = LANG_MARK;
	for (size_t i = 0; i < len; i++)
		out[at + 1 + i] = lower(tag[i]);
	strcpy(out + at + 1 + len, sk + at);
	free(sk);
	return out;
}

/* One member of an accept-language line: tag[;q=w]; returns what follows. */
static const char *
lang_member(const char *v, const char *end, const char **tag, size_t *tlen,
    const char **w, size_t *wlen)
{
	const char *comma = memchr(v, ',', (size_t)(end - v));
	const char *stop = comma != NULL ? comma : end;
	const char *semi = memchr(v, ';', (size_t)(stop - v));

	*tag = v;
	*tlen = (size_t)((semi != NULL ? semi : stop) - v);
	*w = semi != NULL ? semi : stop;
	*wlen = (size_t)(stop - *w);
	return comma != NULL ? comma + 1 : NULL;
}

/*
 * The tag an accept-language line (as add_accept_language writes it:
 * sorted by weight, weights other than 1 written out) prefers most, when
 * exactly one tag has the highest weight; false otherwise.
 */
static bool
preferred_language(const char *v, size_t n, const char **tag, size_t *len)
{
	const char *end = v + n, *next, *w, *tag2, *w2;
	size_t wlen, tlen2, wlen2;

	next = lang_member(v, end, tag, len, &w, &wlen);
	if (*len == 0 || (*len == 1 && **tag == '*'))
		return false;
	if (next == NULL)
		return true;
	(void)lang_member(next, end, &tag2, &tlen2, &w2, &wlen2);
	/* The same weight second is a tie: no single preference. */
	return !(wlen == wlen2 && memcmp(w, w2, wlen) == 0);
}

int
cache_key_vary_match(const char *stored, size_t stored_len, const char *req,
    size_t req_len)
{
	const char *s = stored, *se = stored + stored_len, *r = req, *re = req + req_len;
	int score = 2;

	while (s < se && r < re) {
		const char *snl = memchr(s, '\n', (size_t)(se - s));
		const char *rnl = memchr(r, '\n', (size_t)(re - r));
		const char *mark, *tag;
		size_t sl, rl, plen, tlen;

		if (snl == NULL || rnl == NULL)
			return 0;
		sl = (size_t)(snl - s);
		rl = (size_t)(rnl - r);
		mark = memchr(s, LANG_MARK, sl);
		plen = mark != NULL ? (size_t)(mark - s) : sl;
		if (plen == rl && memcmp(s, r, rl) == 0) {
			/* The same selecting field values. */
		} else if (mark != NULL && rl >= sizeof(LANG_LINE) &&
		    memcmp(r, LANG_LINE "=", sizeof(LANG_LINE)) == 0 &&
		    preferred_language(r + sizeof(LANG_LINE), rl - sizeof(LANG_LINE),
		    &tag, &tlen) &&
		    tlen == sl - plen - 1 && memcmp(tag, mark + 1, tlen) == 0) {
			score = 1;
		} else {
			return 0;
		}
		s = snl + 1;
		r = rnl + 1;
	}
	return s == se && r == re ? score : 0;
}

/*
 * headers.c: header field lists, field-value lists and tokens, the
 * hop-by-hop table and HTTP dates (RFC 9110 §5, §7.6.1, §5.6.7).
 *
 * Storage. A field added with fields_add owns one allocation holding
 * "name\0value\0"; `name` points at its start and is what fields_free
 * releases. Fields added with fields_add_ref point into memory the caller
 * keeps alive (the parser's private copy of a head) and are never freed here.
 *
 * Byte classes. headers_ctype is the one table of RFC character classes the
 * parsers use (tchar, field-value bytes, HEXDIG, request-target bytes,
 * reg-name bytes, qdtext, whitespace). check_headers.c verifies every entry
 * against the RFC definitions written out as strings.
 *
 * Hop-by-hop fields are one table (hop_by_hop below); both
 * header_is_hop_by_hop and fields_strip_hop_by_hop read it.
 *
 * Dates. Parsing is strict about the three grammars of RFC 9110 §5.6.7 (day
 * and month names are case-sensitive, as %s"..." in the ABNF) but does not
 * check that the day name matches the date: the name carries no information
 * and RFC 9110 asks recipients to be robust. Conversions use day-count
 * arithmetic (no timegm, gmtime or strftime), so everything here is
 * thread-safe. An rfc850-date's two-digit year is placed in the century that
 * makes it at most 50 years in the future, relative to the current clock
 * (RFC 9110 §5.6.7).
 */
#include "headers.h"

#include <string.h>

#include "util.h"

/*
 * Flags per byte: 0x01 tchar, 0x02 field-value byte, 0x04 HEXDIG, 0x08
 * DIGIT, 0x10 request-target byte, 0x20 reg-name byte, 0x40 qdtext, 0x80
 * SP/HTAB (the HDR_C_* constants of headers.h).
 */
const uint8_t headers_ctype[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc2, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 0x00 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* 0x10 */
	0xc2, 0x73, 0x12, 0x43, 0x73, 0x53, 0x73, 0x73, 0x72, 0x72, 0x73, 0x73, 0x72, 0x73, 0x73, 0x52,	/* 0x20 */
	0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x52, 0x72, 0x52, 0x72, 0x52, 0x52,	/* 0x30 */
	0x52, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73,	/* 0x40 */
	0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x52, 0x12, 0x52, 0x53, 0x73,	/* 0x50 */
	0x53, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73,	/* 0x60 */
	0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x73, 0x52, 0x53, 0x52, 0x73, 0x00,	/* 0x70 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,	/* 0x80 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,	/* 0x90 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,	/* 0xa0 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,	/* 0xb0 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,	/* 0xc0 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,	/* 0xd0 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,	/* 0xe0 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,	/* 0xf0 */
};

/*
 * RFC 9110 §7.6.1 hop-by-hop fields, plus the proxy authentication fields
 * (RFC 9110 §11.7.1-2: consumed by the proxy they are addressed to).
 */
#define HOP(name, proxy_auth)	{ name, sizeof(name) - 1, proxy_auth }
static const struct {
	const char	*name;
	size_t		len;
	bool		proxy_auth;
} hop_by_hop[] = {
	HOP("Connection",		false),
	HOP("Keep-Alive",		false),
	HOP("Proxy-Connection",		false),
	HOP("TE",			false),
	HOP("Trailer",			false),
	HOP("Transfer-Encoding",	false),
	HOP("Upgrade",			false),
	HOP("Proxy-Authorization",	true),
	HOP("Proxy-Authenticate",	true),
};
#undef HOP

static inline unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* ASCII case-insensitive equality of n bytes. */
static bool
mem_ieq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

bool
str_ieq(const char *a, size_t a_len, const char *b)
{
	size_t i;

	for (i = 0; i < a_len; i++) {
		if (b[i] == '\0' ||
		    lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	}
	return b[a_len] == '\0';
}

bool
is_token(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!headers_is((unsigned char)s[i], HDR_C_TCHAR))
			return false;
	return true;
}

bool
is_field_value(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!headers_is((unsigned char)s[i], HDR_C_FVALUE))
			return false;
	return true;
}

/* ---- field lists ---- */

void
fields_init(struct fields *f)
{
	f->v = NULL;
	f->n = 0;
	f->cap = 0;
}

void
fields_free(struct fields *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->v[i].owned)
			free(f->v[i].name);
	free(f->v);
	fields_init(f);
}

static struct field *
push(struct fields *f)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	return &f->v[f->n++];
}

/* Fills fl with one allocation holding "name\0value\0". */
static void
set_owned(struct field *fl, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
	char *p = xmalloc(name_len + value_len + 2);

	memcpy(p, name, name_len);
	p[name_len] = '\0';
	memcpy(p + name_len + 1, value, value_len);
	p[name_len + 1 + value_len] = '\0';
	fl->name = p;
	fl->name_len = name_len;
	fl->value = p + name_len + 1;
	fl->value_len = value_len;
	fl->owned = true;
}

void
fields_add(struct fields *f, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
	set_owned(push(f), name, name_len, value, value_len);
}

void
fields_add_str(struct fields *f, const char *name, const char *value)
{
	fields_add(f, name, strlen(name), value, strlen(value));
}

void
fields_add_ref(struct fields *f, char *name, size_t name_len,
    char *value, size_t value_len)
{
	struct field *fl = push(f);

	fl->name = name;
	fl->name_len = name_len;
	fl->value = value;
	fl->value_len = value_len;
	fl->owned = false;
}

void
fields_copy(struct fields *dst, const struct fields *src)
{
	size_t i;

	fields_init(dst);
	if (src->n == 0)
		return;
	dst->cap = src->n;
	dst->v = xmalloc(dst->cap * sizeof(*dst->v));
	for (i = 0; i < src->n; i++)
		set_owned(&dst->v[i], src->v[i].name, src->v[i].name_len,
		    src->v[i].value, src->v[i].value_len);
	dst->n = src->n;
}

void
fields_view(struct fields *dst, const struct fields *src)
{
	fields_init(dst);
	if (src->n == 0)
		return;
	dst->cap = src->n;
	dst->v = xmalloc(dst->cap * sizeof(*dst->v));
	for (size_t i = 0; i < src->n; i++) {
		dst->v[i] = src->v[i];
		dst->v[i].owned = false;
	}
	dst->n = src->n;
}

/* Hot: every field lookup. The first byte rejects most names cheaply. */
static inline bool
name_is(const struct field *fl, const char *name)
{
	if (fl->name_len == 0 || lower((unsigned char)fl->name[0]) !=
	    lower((unsigned char)name[0]))
		return false;
	return str_ieq(fl->name, fl->name_len, name);
}

void
fields_set(struct fields *f, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		if (!name_is(&f->v[i], name))
			continue;
		/* Replace the first in place (keeping its position), drop the rest. */
		if (f->v[i].owned)
			free(f->v[i].name);
		set_owned(&f->v[i], name, strlen(name), value, strlen(value));
		i++;
		while (i < f->n) {
			if (name_is(&f->v[i], name))
				fields_remove_at(f, i);
			else
				i++;
		}
		return;
	}
	fields_add_str(f, name, value);
}

const struct field *
fields_get(const struct fields *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (name_is(&f->v[i], name))
			return &f->v[i];
	return NULL;
}

size_t
fields_count(const struct fields *f, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < f->n; i++)
		if (name_is(&f->v[i], name))
			n++;
	return n;
}

void
fields_remove_at(struct fields *f, size_t i)
{
	ASSERT(i < f->n);
	if (f->v[i].owned)
		free(f->v[i].name);
	memmove(&f->v[i], &f->v[i + 1], (f->n - i - 1) * sizeof(*f->v));
	f->n--;
}

size_t
fields_remove(struct fields *f, const char *name)
{
	size_t i, w = 0, removed = 0;

	for (i = 0; i < f->n; i++) {
		if (name_is(&f->v[i], name)) {
			if (f->v[i].owned)
				free(f->v[i].name);
			removed++;
		} else {
			f->v[w++] = f->v[i];
		}
	}
	f->n = w;
	return removed;
}

/* ---- lists and tokens (RFC 9110 §5.6.1) ---- */

bool
list_next(const char **pos, const char *end, const char **tok, size_t *tok_len)
{
	const char *p = *pos, *start, *last;

	for (;;) {
		/* Empty members and surrounding OWS are skipped (§5.6.1.2). */
		while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
			p++;
		if (p >= end) {
			*pos = p;
			return false;
		}
		start = p;
		last = p;
		while (p < end && *p != ',') {
			if (*p == '"') {
				/* §5.6.4: a quoted-string is skipped whole, escapes too. */
				p++;
				while (p < end && *p != '"') {
					if (*p == '\\' && p + 1 < end)
						p++;
					p++;
				}
				if (p < end)
					p++;
				last = p;
				continue;
			}
			if (*p != ' ' && *p != '\t')
				last = p + 1;
			p++;
		}
		if (last > start) {
			*tok = start;
			*tok_len = (size_t)(last - start);
			*pos = p;
			return true;
		}
	}
}

bool
fields_has_token(const struct fields *f, const char *name, const char *token)
{
	const char *pos, *end, *tok;
	size_t i, len;

	for (i = 0; i < f->n; i++) {
		if (!name_is(&f->v[i], name))
			continue;
		pos = f->v[i].value;
		end = pos + f->v[i].value_len;
		while (list_next(&pos, end, &tok, &len)) {
			const char *semi = memchr(tok, ';', len);

			if (semi != NULL) {
				/* Parameters follow ';' after optional BWS. */
				len = (size_t)(semi - tok);
				while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
					len--;
			}
			if (str_ieq(tok, len, token))
				return true;
		}
	}
	return false;
}

/* ---- hop-by-hop (RFC 9110 §7.6.1) ---- */

static bool
hop_lookup(const char *name, size_t len, bool *proxy_auth)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(hop_by_hop); i++) {
		if (len == hop_by_hop[i].len && mem_ieq(name, hop_by_hop[i].name, len)) {
			*proxy_auth = hop_by_hop[i].proxy_auth;
			return true;
		}
	}
	return false;
}

bool
header_is_hop_by_hop(const char *name, size_t len)
{
	bool proxy_auth;

	return hop_lookup(name, len, &proxy_auth);
}

/* True when some Connection field of f lists the field name (§7.6.1). */
static bool
named_in_connection(const struct fields *f, const char *name, size_t name_len)
{
	const char *pos, *end, *tok;
	size_t i, len;

	for (i = 0; i < f->n; i++) {
		if (!name_is(&f->v[i], "Connection"))
			continue;
		pos = f->v[i].value;
		end = pos + f->v[i].value_len;
		while (list_next(&pos, end, &tok, &len))
			if (len == name_len && mem_ieq(tok, name, len))
				return true;
	}
	return false;
}

void
fields_strip_hop_by_hop(struct fields *f, bool keep_proxy_auth)
{
	bool small[64], *drop, proxy_auth, has_connection = false;
	size_t i, w = 0;

	if (f->n == 0)
		return;
	/*
	 * Decide for every field before removing any: the Connection fields
	 * are themselves removed but must be read for every other field. This
	 * runs on every request, so the common sizes use no heap and a message
	 * without Connection skips the per-field Connection scan.
	 */
	drop = f->n <= ARRAY_LEN(small) ? small : xmalloc(f->n * sizeof(*drop));
	for (i = 0; i < f->n; i++) {
		drop[i] = false;
		if (hop_lookup(f->v[i].name, f->v[i].name_len, &proxy_auth)) {
			drop[i] = !(proxy_auth && keep_proxy_auth);
			if (name_is(&f->v[i], "Connection"))
				has_connection = true;
		}
	}
	/* §7.6.1: a proxy MUST remove the fields Connection names. */
	for (i = 0; has_connection && i < f->n; i++)
		if (!drop[i] && named_in_connection(f, f->v[i].name, f->v[i].name_len))
			drop[i] = true;
	for (i = 0; i < f->n; i++) {
		if (drop[i]) {
			if (f->v[i].owned)
				free(f->v[i].name);
		} else {
			f->v[w++] = f->v[i];
		}
	}
	f->n = w;
	if (drop != small)
		free(drop);
}

/* ---- HTTP dates (RFC 9110 §5.6.7) ---- */

static const char day_short[7][4] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char *const day_long[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday",
};
static const char month_names[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12, d 1-31). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* n decimal digits at s into *out; false unless all n are digits. */
static bool
digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int
month_from_name(const char *s)
{
	int i;

	for (i = 0; i < 12; i++)
		if (memcmp(s, month_names[i], 3) == 0)
			return i + 1;
	return 0;
}

static bool
short_day(const char *s)
{
	int i;

	for (i = 0; i < 7; i++)
		if (memcmp(s, day_short[i], 3) == 0)
			return true;
	return false;
}

/* Length of the long day name that s starts with, or 0. */
static size_t
long_day(const char *s, size_t len)
{
	size_t i, n;

	for (i = 0; i < 7; i++) {
		n = strlen(day_long[i]);
		if (len >= n && memcmp(s, day_long[i], n) == 0)
			return n;
	}
	return 0;
}

/* time-of-day = hour ":" minute ":" second (8 bytes at s). */
static bool
parse_tod(const char *s, int *h, int *mi, int *sec)
{
	if (s[2] != ':' || s[5] != ':')
		return false;
	if (!digits(s, 2, h) || !digits(s + 3, 2, mi) || !digits(s + 6, 2, sec))
		return false;
	/* second 60 is a leap second; it counts as the next minute's 00. */
	return *h <= 23 && *mi <= 59 && *sec <= 60;
}

/* The current UTC year, for the rfc850-date two-digit year rule. */
static int64_t
current_year(void)
{
	int64_t y;
	int m, d;
	time_t now = time(NULL);

	civil_from_days((int64_t)now / 86400, &y, &m, &d);
	return y;
}

int
http_date_parse(const char *s, size_t len, time_t *out)
{
	int day, mon, h, mi, sec, yy;
	int64_t year, t;
	size_t n;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;

	if (len == 29 && s[3] == ',') {
		/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
		if (!short_day(s) || s[4] != ' ' || !digits(s + 5, 2, &day) ||
		    s[7] != ' ' || (mon = month_from_name(s + 8)) == 0 ||
		    s[11] != ' ' || !digits(s + 12, 4, &yy) || s[16] != ' ' ||
		    !parse_tod(s + 17, &h, &mi, &sec) ||
		    memcmp(s + 25, " GMT", 4) != 0)
			return -1;
		year = yy;
	} else if (len == 24 && s[3] == ' ') {
		/* asctime-date: "Sun Nov  6 08:49:37 1994" */
		if (!short_day(s) || (mon = month_from_name(s + 4)) == 0 ||
		    s[7] != ' ')
			return -1;
		if (s[8] == ' ') {
			if (!digits(s + 9, 1, &day))
				return -1;
		} else if (!digits(s + 8, 2, &day)) {
			return -1;
		}
		if (s[10] != ' ' || !parse_tod(s + 11, &h, &mi, &sec) ||
		    s[19] != ' ' || !digits(s + 20, 4, &yy))
			return -1;
		year = yy;
	} else if ((n = long_day(s, len)) != 0 && len == n + 24) {
		/* rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT" */
		int64_t cur;

		s += n;
		if (s[0] != ',' || s[1] != ' ' || !digits(s + 2, 2, &day) ||
		    s[4] != '-' || (mon = month_from_name(s + 5)) == 0 ||
		    s[8] != '-' || !digits(s + 9, 2, &yy) || s[11] != ' ' ||
		    !parse_tod(s + 12, &h, &mi, &sec) ||
		    memcmp(s + 20, " GMT", 4) != 0)
			return -1;
		/* §5.6.7: more than 50 years ahead means the previous century. */
		cur = current_year();
		year = cur - cur % 100 + yy;
		if (year > cur + 50)
			year -= 100;
	} else {
		return -1;
	}
	if (day < 1 || day > days_in_month(year, mon))
		return -1;
	t = days_from_civil(year, mon, day) * 86400 + h * 3600 + mi * 60 + sec;
	*out = (time_t)t;
	return 0;
}

char *
http_date_format(time_t t, char *buf, size_t buflen)
{
	/* 9999-12-31T23:59:59Z: the last instant IMF-fixdate's 4-digit year holds. */
	const int64_t max = INT64_C(253402300799);
	int64_t v = (int64_t)t, days, secs, y;
	int m, d, wday;

	ASSERT(buflen >= 30);
	if (v < 0)
		v = 0;
	if (v > max)
		v = max;
	days = v / 86400;
	secs = v % 86400;
	civil_from_days(days, &y, &m, &d);
	wday = (int)((days + 4) % 7);	/* 1970-01-01 was a Thursday */
	snprintf(buf, buflen, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    day_short[wday], d, month_names[m - 1], (int)y, (int)(secs / 3600),
	    (int)(secs / 60 % 60), (int)(secs % 60));
	return buf;
}

char *
fields_to_block(const struct fields *f, size_t *len)
{
	size_t i, n = 0, off = 0;
	char *b;

	for (i = 0; i < f->n; i++)
		n += f->v[i].name_len + 2 + f->v[i].value_len + 2;
	b = xmalloc(n + 1);
	for (i = 0; i < f->n; i++) {
		memcpy(b + off, f->v[i].name, f->v[i].name_len);
		off += f->v[i].name_len;
		memcpy(b + off, ": ", 2);
		off += 2;
		memcpy(b + off, f->v[i].value, f->v[i].value_len);
		off += f->v[i].value_len;
		memcpy(b + off, "\r\n", 2);
		off += 2;
	}
	b[off] = '\0';
	*len = off;
	return b;
}

int
fields_from_block_ref(struct fields *f, char *block, size_t len)
{
	char *p = block, *end = block + len;

	while (p < end) {
		char *eol = memchr(p, '\n', (size_t)(end - p));
		char *line_end, *colon, *v;

		if (eol == NULL)
			eol = end;
		line_end = eol;
		if (line_end > p && line_end[-1] == '\r')
			line_end--;
		if (line_end == p) {
			p = eol + 1;
			continue;
		}
		colon = memchr(p, ':', (size_t)(line_end - p));
		if (colon == NULL || colon == p)
			return -1;
		v = colon + 1;
		while (v < line_end && (*v == ' ' || *v == '\t'))
			v++;
		if (line_end == end)
			return -1;	/* no room for the value's NUL */
		*colon = '\0';
		*line_end = '\0';
		fields_add_ref(f, p, (size_t)(colon - p), v, (size_t)(line_end - v));
		p = eol + 1;
	}
	return 0;
}

/*
 * headers.h: header field lists and field-value helpers (pure, no I/O).
 *
 * A `struct fields` is an ordered list of (name, value) pairs. Names and
 * values are NUL-terminated and also carry their lengths. Entries either own
 * their storage (fields_add copies) or reference memory owned by someone else
 * (fields_add_ref, used by the parser to point into its copy of the head);
 * fields_free releases only what the list owns.
 *
 * Name comparison is ASCII case-insensitive everywhere (RFC 9110 §5.1).
 */
#ifndef FRESHD_HEADERS_H
#define FRESHD_HEADERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct field {
	char		*name;
	char		*value;
	size_t		name_len;
	size_t		value_len;
	bool		owned;
};

struct fields {
	struct field	*v;
	size_t		n;
	size_t		cap;
};

void fields_init(struct fields *f);
void fields_free(struct fields *f);
/* Deep copy of src into dst (dst is initialised by the call). */
void fields_copy(struct fields *dst, const struct fields *src);
/*
 * A view of src in dst (initialised by the call): its own array of fields
 * that reference src's names and values, so removing from it copies no
 * string. Valid while src's strings are; fields_free(dst) frees only the
 * array and what was added to dst since.
 */
void fields_view(struct fields *dst, const struct fields *src);

/* Appends a copy of name/value. */
void fields_add(struct fields *f, const char *name, size_t name_len,
    const char *value, size_t value_len);
/* Appends a C-string pair (copied). */
void fields_add_str(struct fields *f, const char *name, const char *value);
/* Appends a pair that points into memory the caller keeps alive. */
void fields_add_ref(struct fields *f, char *name, size_t name_len,
    char *value, size_t value_len);
/* Replaces every field called name by one with value (copied). */
void fields_set(struct fields *f, const char *name, const char *value);

/* First field with that name, or NULL. */
const struct field *fields_get(const struct fields *f, const char *name);
/* Number of fields with that name. */
size_t fields_count(const struct fields *f, const char *name);
/* Removes every field with that name; returns how many were removed. */
size_t fields_remove(struct fields *f, const char *name);
/* Removes the field at index i, keeping order. */
void fields_remove_at(struct fields *f, size_t i);

/*
 * True when some field called name has, in its comma-separated list value,
 * a member equal (case-insensitively) to token, ignoring parameters after ';'
 * and optional whitespace (RFC 9110 §5.6.1).
 */
bool fields_has_token(const struct fields *f, const char *name, const char *token);

/*
 * Iterates over the members of a comma-separated list (RFC 9110 §5.6.1).
 * *pos starts at the beginning of the value; each call sets *tok and *tok_len to
 * the next non-empty member with surrounding whitespace trimmed and returns
 * true, or returns false at the end. Quoted strings are skipped over whole,
 * so a comma inside quotes does not split.
 */
bool list_next(const char **pos, const char *end, const char **tok, size_t *tok_len);

/* ASCII case-insensitive comparison of a length-delimited string with a C string. */
bool str_ieq(const char *a, size_t a_len, const char *b);

/*
 * Byte classes shared by the parsers (one table, in headers.c), so that the
 * hot loops do one lookup per byte. A byte is in a class when its entry has
 * the flag set.
 */
#define HDR_C_TCHAR	0x01	/* RFC 9110 §5.6.2 tchar */
#define HDR_C_FVALUE	0x02	/* RFC 9110 §5.5 field-vchar, obs-text, SP, HTAB */
#define HDR_C_HEX	0x04	/* RFC 5234 HEXDIG (either case) */
#define HDR_C_DIGIT	0x08	/* RFC 5234 DIGIT */
#define HDR_C_TARGET	0x10	/* request-target byte: VCHAR but '#' (RFC 9112 §3.2) */
#define HDR_C_REGNAME	0x20	/* RFC 3986 unreserved / sub-delims */
#define HDR_C_QDTEXT	0x40	/* RFC 9110 §5.6.4 qdtext */
#define HDR_C_WS	0x80	/* SP / HTAB */
extern const uint8_t headers_ctype[256];

static inline bool
headers_is(unsigned char c, uint8_t cls)
{
	return (headers_ctype[c] & cls) != 0;
}

/* RFC 9110 §5.6.2 token characters; true when every byte of s is a tchar and len > 0. */
bool is_token(const char *s, size_t len);
/* RFC 9110 §5.5: field-value bytes (VCHAR, obs-text, SP, HTAB). */
bool is_field_value(const char *s, size_t len);

/*
 * A field block: "Name: value\r\n" lines, the form the store keeps a
 * response's header fields in. fields_to_block returns an xmalloc'd,
 * NUL-terminated block and its length in *len. fields_from_block_ref
 * appends the fields of a block to f without copying: they point into
 * block, which is edited in place (NULs after names and values) and must
 * outlive f. It returns 0, or -1 when a line is not "name: value" (f then
 * holds the lines before it).
 */
char *fields_to_block(const struct fields *f, size_t *len);
int fields_from_block_ref(struct fields *f, char *block, size_t len);

/*
 * Hop-by-hop fields that a proxy never forwards (RFC 9110 §7.6.1):
 * Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding,
 * Upgrade, and Proxy-Authorization / Proxy-Authenticate.
 */
bool header_is_hop_by_hop(const char *name, size_t len);

/*
 * Removes hop-by-hop fields and every field named in Connection.
 * keep_proxy_auth keeps Proxy-Authorization (site config).
 */
void fields_strip_hop_by_hop(struct fields *f, bool keep_proxy_auth);

/*
 * HTTP dates (RFC 9110 §5.6.7). http_date_parse accepts IMF-fixdate, the
 * obsolete RFC 850 and asctime forms; returns 0 and sets *out, or -1 when the
 * value is not a valid date. http_date_format writes IMF-fixdate into buf
 * (at least 30 bytes) and returns buf.
 */
int http_date_parse(const char *s, size_t len, time_t *out);
char *http_date_format(time_t t, char *buf, size_t buflen);

#endif

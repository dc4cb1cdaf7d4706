/*
 * http1.c: RFC 9112 message parsing and serialisation (pure: no I/O).
 *
 * This file is the proxy's defence against request smuggling, so it is
 * strict where RFC 9112 lets a recipient choose, and every choice is made
 * the same way for every peer:
 *
 * - Lines end in CRLF. A bare LF (RFC 9112 §2.2 says a recipient MAY accept
 *   one) and a bare CR anywhere in a head are rejected (400).
 * - Empty lines before the start line are skipped (§2.2) and counted in
 *   head_len and in the head size limit.
 * - Requests: obs-fold, whitespace before the first field or before a
 *   colon, non-token names, control bytes in values, Transfer-Encoding
 *   with Content-Length, Transfer-Encoding in HTTP/1.0, bad or differing
 *   Content-Length values, chunked not final or applied twice: 400.
 *   Transfer codings other than chunked: 501 (freshd decodes none).
 *   Versions other than 1.0 and 1.1: 505. An Expect other than
 *   100-continue: 417. CONNECT when the limits do not allow it: 501.
 * - The request-target's bytes are checked against VCHAR minus '#'
 *   (a target carries no fragment) with complete percent-encodings; the
 *   finer RFC 3986 classes are not enforced (clients send '|' or '{' raw).
 *   Host and absolute-form authorities are checked against RFC 3986
 *   (reg-name, IPv4, bracketed IPv6; no userinfo, RFC 9110 §4.2.4; port at
 *   most 65535). An empty host is invalid (RFC 9110 §4.2.1).
 * - Responses: obs-fold is replaced by SP (RFC 9112 §5.2 lets a proxy do
 *   that instead of answering 502); everything else is as strict as for
 *   requests and answered by the caller with 502. A status line without the
 *   SP before an empty reason ("HTTP/1.1 200") is accepted. Framing follows
 *   RFC 9112 §6.3 to the letter: "gzip, chunked" is BODY_CHUNKED (the gzip
 *   transfer coding is not undone here), a Transfer-Encoding whose final
 *   coding is not chunked, or any Transfer-Encoding in an HTTP/1.0
 *   response (§6.1: faulty framing), is BODY_UNTIL_CLOSE.
 * - CONNECT (authority-form) has the target as authority and "" as path.
 *
 * Limits. The head (skipped empty lines, start line, fields, the final
 * empty line) may not exceed max_head_bytes, nor hold more than max_fields
 * field lines (431); the request line, CRLF excluded, may not exceed
 * max_request_line (414). All three are checked on every call, so an
 * endless head is refused while it is still INCOMPLETE.
 *
 * Cost. A call makes one memchr pass over the lines to find the end of the
 * head (and, while INCOMPLETE, nothing else); a complete head is copied once
 * and parsed in one pass over the copy with a byte-class table lookup per
 * byte. Names and values are NUL-terminated in place in the copy, which the
 * message owns (`raw`); its fields point into it. After the head, `raw` has
 * room for the absolute-form scheme, authority and path.
 *
 * The chunked decoder is a byte-at-a-time state machine for size lines and
 * trailers (switch, no function pointers) and hands out body data as spans
 * of the input, so it never copies the body.
 */
#include "http1.h"

#include <string.h>

#include <event2/buffer.h>

#include "util.h"

const struct http1_limits http1_default_limits = {
	.max_request_line = 8192,
	.max_head_bytes = 65536,
	.max_fields = 100,
	.allow_connect = false,
};

static inline bool
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ---- methods and statuses ---- */

static const struct {
	const char		*name;
	size_t			len;
	enum http_method	m;
} methods[] = {
	{ "GET",	3,	HTTP_M_GET },
	{ "HEAD",	4,	HTTP_M_HEAD },
	{ "POST",	4,	HTTP_M_POST },
	{ "PUT",	3,	HTTP_M_PUT },
	{ "DELETE",	6,	HTTP_M_DELETE },
	{ "OPTIONS",	7,	HTTP_M_OPTIONS },
	{ "PATCH",	5,	HTTP_M_PATCH },
	{ "CONNECT",	7,	HTTP_M_CONNECT },
	{ "TRACE",	5,	HTTP_M_TRACE },
};

enum http_method
http_method_from_name(const char *name, size_t len)
{
	size_t i;

	/* RFC 9110 §9.1: method names are case-sensitive. */
	for (i = 0; i < ARRAY_LEN(methods); i++)
		if (methods[i].len == len && memcmp(methods[i].name, name, len) == 0)
			return methods[i].m;
	return HTTP_M_OTHER;
}

bool
http_method_is_safe(enum http_method m)
{
	/* RFC 9110 §9.2.1 */
	return m == HTTP_M_GET || m == HTTP_M_HEAD || m == HTTP_M_OPTIONS ||
	    m == HTTP_M_TRACE;
}

bool
http_method_is_idempotent(enum http_method m)
{
	/* RFC 9110 §9.2.2 */
	return http_method_is_safe(m) || m == HTTP_M_PUT || m == HTTP_M_DELETE;
}

const char *
http_status_reason(int status)
{
	switch (status) {
	/* RFC 9110 §15 */
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 103: return "Early Hints";		/* RFC 8297 */
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 306: return "Unused";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 418: return "Unused";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";		/* RFC 6585 */
	case 429: return "Too Many Requests";			/* RFC 6585 */
	case 431: return "Request Header Fields Too Large";	/* RFC 6585 */
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* ---- finding the head ---- */

struct head_span {
	size_t	start;		/* first byte of the start line */
	size_t	line_end;	/* offset of the CR that ends the start line */
	size_t	end;		/* offset just past the empty line */
};

/*
 * Finds the end of the head in buf[0..len) with one memchr per line, checking
 * line endings and the limits on the way. Returns HTTP1_DONE with *hs filled,
 * HTTP1_INCOMPLETE, or HTTP1_INVALID with *status and *reason.
 */
static enum http1_result
find_head(const char *buf, size_t len, const struct http1_limits *lim,
    bool request, struct head_span *hs, int *status, const char **reason)
{
	const char *lf;
	size_t pos = 0, eol, n, nfields = 0;

	/* RFC 9112 §2.2: ignore empty lines before the start line. */
	while (pos < len && buf[pos] == '\r') {
		if (pos + 1 == len)
			break;
		if (buf[pos + 1] != '\n')
			goto bare_cr;
		pos += 2;
	}
	if (pos < len && buf[pos] == '\n')
		goto bare_lf;
	hs->start = pos;
	lf = memchr(buf + pos, '\n', len - pos);
	if (lf == NULL) {
		n = len - pos;
		if (n > 0 && buf[len - 1] == '\r')
			n--;
		if (request && n > lim->max_request_line)
			goto uri_too_long;
		if (len > lim->max_head_bytes)
			goto too_large;
		return HTTP1_INCOMPLETE;
	}
	eol = (size_t)(lf - buf);
	if (buf[eol - 1] != '\r')
		goto bare_lf;
	if (request && eol - 1 - pos > lim->max_request_line)
		goto uri_too_long;
	hs->line_end = eol - 1;
	pos = eol + 1;
	for (;;) {
		lf = memchr(buf + pos, '\n', len - pos);
		if (lf == NULL) {
			if (len > lim->max_head_bytes)
				goto too_large;
			return HTTP1_INCOMPLETE;
		}
		eol = (size_t)(lf - buf);
		if (eol == pos || buf[eol - 1] != '\r')
			goto bare_lf;
		if (eol == pos + 1) {
			hs->end = eol + 1;
			if (hs->end > lim->max_head_bytes)
				goto too_large;
			return HTTP1_DONE;
		}
		if (buf[pos] == '\r')
			goto bare_cr;
		if (++nfields > lim->max_fields)
			goto too_large;
		pos = eol + 1;
	}

bare_cr:
	*status = 400;
	*reason = "bare CR in head";
	return HTTP1_INVALID;
bare_lf:
	*status = 400;
	*reason = "line not ended by CRLF";
	return HTTP1_INVALID;
uri_too_long:
	*status = 414;
	*reason = "request line too long";
	return HTTP1_INVALID;
too_large:
	*status = 431;
	*reason = "header section too large";
	return HTTP1_INVALID;
}

/* ---- field lines ---- */

/* What the framing and connection rules need from the fields. */
struct head_info {
	size_t		host_count;
	size_t		host_idx;
	bool		cl_seen;
	uint64_t	cl;
	bool		te_seen;
	bool		te_bad;		/* a member that is not a transfer-coding */
	bool		te_other;	/* a coding other than chunked */
	bool		te_chunked_last;
	unsigned	te_chunked;	/* times chunked appears */
	bool		conn_close;
	bool		conn_keep_alive;
	bool		expect_continue;
	bool		expect_other;
};

bool
http1_parse_content_length(const char *v, size_t len, uint64_t *out)
{
	uint64_t n, first = 0;
	bool have = false;
	size_t i = 0;

	for (;;) {
		while (i < len && is_ws(v[i]))
			i++;
		if (i == len || !is_digit(v[i]))
			return false;
		n = 0;
		while (i < len && is_digit(v[i])) {
			unsigned d = (unsigned)(v[i] - '0');

			if (n > ((uint64_t)INT64_MAX - d) / 10)
				return false;
			n = n * 10 + d;
			i++;
		}
		while (i < len && is_ws(v[i]))
			i++;
		if (have && n != first)
			return false;
		first = n;
		have = true;
		if (i == len)
			break;
		if (v[i] != ',')
			return false;
		i++;
	}
	*out = first;
	return true;
}

/* RFC 9112 §6.1: Transfer-Encoding = #transfer-coding, in order. */
static void
note_transfer_coding(struct head_info *hi, const char *v, size_t len)
{
	const char *pos = v, *tok;
	size_t tlen, n;

	hi->te_seen = true;
	while (list_next(&pos, v + len, &tok, &tlen)) {
		for (n = 0; n < tlen && headers_is((unsigned char)tok[n], HDR_C_TCHAR); n++)
			continue;
		if (n == 0 || (n < tlen && !is_ws(tok[n]) && tok[n] != ';')) {
			hi->te_bad = true;
			continue;
		}
		if (str_ieq(tok, n, "chunked")) {
			/* chunked takes no parameters (RFC 9112 §7). */
			if (n != tlen)
				hi->te_bad = true;
			hi->te_chunked++;
			hi->te_chunked_last = true;
		} else {
			hi->te_other = true;
			hi->te_chunked_last = false;
		}
	}
}

static void
note_connection(struct head_info *hi, const char *v, size_t len)
{
	const char *pos = v, *tok;
	size_t tlen;

	while (list_next(&pos, v + len, &tok, &tlen)) {
		if (str_ieq(tok, tlen, "close"))
			hi->conn_close = true;
		else if (str_ieq(tok, tlen, "keep-alive"))
			hi->conn_keep_alive = true;
	}
}

static void
note_expect(struct head_info *hi, const char *v, size_t len)
{
	const char *pos = v, *tok;
	size_t tlen;

	/* RFC 9110 §10.1.1: 100-continue is the only expectation defined. */
	while (list_next(&pos, v + len, &tok, &tlen)) {
		if (str_ieq(tok, tlen, "100-continue"))
			hi->expect_continue = true;
		else
			hi->expect_other = true;
	}
}

/*
 * Records what the framing rules need from one field. Returns false for a
 * field whose value makes the message invalid on its own.
 */
static bool
note_field(struct head_info *hi, size_t idx, const char *name, size_t nlen,
    const char *v, size_t vlen, const char **reason)
{
	uint64_t cl;

	switch (nlen) {
	case 4:
		if (str_ieq(name, nlen, "Host")) {
			hi->host_count++;
			hi->host_idx = idx;
		}
		break;
	case 6:
		if (str_ieq(name, nlen, "Expect"))
			note_expect(hi, v, vlen);
		break;
	case 10:
		if (str_ieq(name, nlen, "Connection"))
			note_connection(hi, v, vlen);
		break;
	case 14:
		if (!str_ieq(name, nlen, "Content-Length"))
			break;
		if (!http1_parse_content_length(v, vlen, &cl)) {
			*reason = "invalid Content-Length";
			return false;
		}
		/* RFC 9112 §6.3 (5): differing values are unrecoverable. */
		if (hi->cl_seen && cl != hi->cl) {
			*reason = "conflicting Content-Length";
			return false;
		}
		hi->cl_seen = true;
		hi->cl = cl;
		break;
	case 17:
		if (str_ieq(name, nlen, "Transfer-Encoding"))
			note_transfer_coding(hi, v, vlen);
		break;
	default:
		break;
	}
	return true;
}

/*
 * Parses the field lines in [p, end), end being the CR of the empty line that
 * ends the head (the scan guaranteed every LF follows a CR). Names and
 * values are NUL-terminated in place and added to f by reference. With
 * unfold, obs-fold is replaced by SP (RFC 9112 §5.2); without, it is an
 * error. Returns false with *reason on a bad line.
 */
static bool
parse_fields(char *p, const char *end, struct fields *f, bool unfold,
    struct head_info *hi, const char **reason)
{
	char *name, *v, *q, *ve;
	size_t nlen;

	/* Up to end, not to the first CR: a line may start with a bare CR. */
	while (p < end) {
		/*
		 * RFC 9112 §5.2 (obs-fold) and §2.2 (whitespace before the first
		 * field): a line may not start with whitespace.
		 */
		if (is_ws(*p)) {
			*reason = "obs-fold or whitespace-prefixed line";
			return false;
		}
		name = p;
		while (headers_is((unsigned char)*p, HDR_C_TCHAR))
			p++;
		/* RFC 9112 §5.1: no whitespace between name and colon. */
		if (p == name || *p != ':') {
			*reason = "invalid field name";
			return false;
		}
		nlen = (size_t)(p - name);
		*p++ = '\0';
		v = p;
		q = p;
		for (;;) {
			/* RFC 9110 §5.5: VCHAR, obs-text, SP, HTAB only. */
			while (headers_is((unsigned char)*q, HDR_C_FVALUE))
				q++;
			if (q[0] != '\r' || q[1] != '\n') {
				*reason = "invalid byte in field value";
				return false;
			}
			if (unfold && is_ws(q[2])) {
				q[0] = ' ';
				q[1] = ' ';
				q += 2;
				continue;
			}
			break;
		}
		p = q + 2;
		/* RFC 9112 §5.1: OWS around the value is not part of it. */
		while (v < q && is_ws(*v))
			v++;
		ve = q;
		while (ve > v && is_ws(ve[-1]))
			ve--;
		*ve = '\0';
		fields_add_ref(f, name, nlen, v, (size_t)(ve - v));
		if (!note_field(hi, f->n - 1, name, nlen, v, (size_t)(ve - v), reason))
			return false;
	}
	return true;
}

/* ---- request targets and authorities ---- */

/*
 * RFC 3986 authority as RFC 9110 §4.2 allows it in http(s) URIs and Host:
 * host [ ":" port ], host a reg-name, IPv4address or bracketed IPv6 literal,
 * never empty, no userinfo. need_port for CONNECT's authority-form (RFC 9112
 * §3.2.3).
 */
static bool
valid_authority(const char *s, size_t len, bool need_port)
{
	size_t i = 0, ndig = 0;
	unsigned port = 0;

	if (len == 0)
		return false;
	if (s[0] == '[') {
		for (i = 1; i < len; i++)
			if (!headers_is((unsigned char)s[i], HDR_C_HEX) &&
			    s[i] != ':' && s[i] != '.')
				break;
		if (i == 1 || i == len || s[i] != ']')
			return false;
		i++;
	} else {
		while (i < len) {
			if (s[i] == '%') {
				if (i + 2 >= len ||
				    !headers_is((unsigned char)s[i + 1], HDR_C_HEX) ||
				    !headers_is((unsigned char)s[i + 2], HDR_C_HEX))
					return false;
				i += 3;
			} else if (headers_is((unsigned char)s[i], HDR_C_REGNAME)) {
				i++;
			} else {
				break;
			}
		}
		if (i == 0)
			return false;
	}
	if (i == len)
		return !need_port;
	if (s[i++] != ':')
		return false;
	for (; i < len; i++) {
		if (!is_digit(s[i]) || ++ndig > 5)
			return false;
		port = port * 10 + (unsigned)(s[i] - '0');
	}
	if (port > 65535)
		return false;
	return ndig > 0 || !need_port;
}

/* Path and query bytes: VCHAR but '#', and complete percent-encodings. */
static bool
valid_path(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!headers_is((unsigned char)s[i], HDR_C_TARGET))
			return false;
		if (s[i] == '%' && (i + 2 >= len ||
		    !headers_is((unsigned char)s[i + 1], HDR_C_HEX) ||
		    !headers_is((unsigned char)s[i + 2], HDR_C_HEX)))
			return false;
	}
	return true;
}

/*
 * Classifies req->target (RFC 9112 §3.2) and fills form, scheme, authority
 * and path. extra is the spare room after the head in raw, big enough for
 * "https\0" + authority + "\0/" + path + "\0". Returns 0 or an error status.
 */
static int
parse_target(struct http_request *req, size_t tlen, char *extra,
    const struct http1_limits *lim, const char **reason)
{
	char *t = req->target;
	const char *a, *rest;
	size_t alen, off;

	if (t[0] == '/') {
		/* §3.2.1 origin-form; CONNECT takes authority-form only (§3.2.3). */
		if (req->method == HTTP_M_CONNECT)
			goto bad;
		if (!valid_path(t, tlen))
			goto bad;
		req->form = TARGET_ORIGIN;
		req->path = t;
		return 0;
	}
	if (tlen == 1 && t[0] == '*') {
		/* §3.2.4 asterisk-form: OPTIONS only. */
		if (req->method != HTTP_M_OPTIONS)
			goto bad;
		req->form = TARGET_ASTERISK;
		req->path = t;
		return 0;
	}
	if (req->method == HTTP_M_CONNECT) {
		/* §3.2.3 authority-form: the path is empty. */
		if (!lim->allow_connect) {
			*reason = "CONNECT not supported";
			return 501;
		}
		if (!valid_authority(t, tlen, true))
			goto bad;
		req->form = TARGET_AUTHORITY;
		req->authority = t;
		req->path = t + tlen;
		return 0;
	}
	/* §3.2.2 absolute-form, for the http and https schemes only. */
	if (tlen > 7 && str_ieq(t, 7, "http://"))
		off = 7;
	else if (tlen > 8 && str_ieq(t, 8, "https://"))
		off = 8;
	else
		goto bad;
	a = t + off;
	for (alen = 0; off + alen < tlen; alen++)
		if (a[alen] == '/' || a[alen] == '?')
			break;
	rest = a + alen;
	if (!valid_authority(a, alen, false) ||
	    !valid_path(rest, tlen - off - alen))
		goto bad;
	req->form = TARGET_ABSOLUTE;
	req->scheme = extra;
	memcpy(extra, off == 7 ? "http" : "https", off - 2);
	extra[off - 3] = '\0';
	extra += off - 2;
	req->authority = extra;
	memcpy(extra, a, alen);
	extra[alen] = '\0';
	extra += alen + 1;
	req->path = extra;
	/* §3.2.1: an empty path is sent as "/". */
	if (*rest != '/')
		*extra++ = '/';
	memcpy(extra, rest, tlen - off - alen);
	extra[tlen - off - alen] = '\0';
	return 0;

bad:
	*reason = "invalid request-target";
	return 400;
}

/*
 * Parses "method SP request-target SP HTTP-version" (RFC 9112 §3) in
 * raw[0..rl), exactly one SP between the three. Returns 0 or an error status;
 * on success *tlen is the target's length.
 */
static int
parse_request_line(struct http_request *req, size_t rl, size_t *tlen,
    const char **reason)
{
	char *p = req->raw, *end = p + rl, *t;

	while (p < end && headers_is((unsigned char)*p, HDR_C_TCHAR))
		p++;
	if (p == req->raw || p == end || *p != ' ')
		goto bad;
	*p++ = '\0';
	req->method_name = req->raw;
	req->method = http_method_from_name(req->raw, (size_t)(p - 1 - req->raw));
	t = p;
	while (p < end && *p != ' ')
		p++;
	if (p == t || p == end)
		goto bad;
	*p++ = '\0';
	req->target = t;
	*tlen = (size_t)(p - 1 - t);
	/* §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. */
	if (end - p != 8 || memcmp(p, "HTTP/", 5) != 0 || !is_digit(p[5]) ||
	    p[6] != '.' || !is_digit(p[7])) {
		*reason = "malformed HTTP version";
		return 400;
	}
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1')) {
		*reason = "HTTP version not supported";
		return 505;
	}
	req->version = p[7] == '0' ? 10 : 11;
	*end = '\0';
	return 0;

bad:
	*reason = "malformed request line";
	return 400;
}

/* Everything after the request line; returns 0 or an error status. */
static int
parse_request_head(struct http_request *req, size_t hl, size_t rl, char *extra,
    const struct http1_limits *lim, const char **reason)
{
	struct head_info hi;
	struct field *host = NULL;
	size_t tlen;
	int st;

	if ((st = parse_request_line(req, rl, &tlen, reason)) != 0)
		return st;
	memset(&hi, 0, sizeof(hi));
	if (!parse_fields(req->raw + rl + 2, req->raw + hl - 2, &req->fields,
	    false, &hi, reason))
		return 400;

	/* RFC 9112 §3.2: exactly one valid Host in HTTP/1.1, at most one in 1.0. */
	if (hi.host_count > 1) {
		*reason = "more than one Host";
		return 400;
	}
	if (hi.host_count == 0 && req->version == 11) {
		*reason = "missing Host";
		return 400;
	}
	if (hi.host_count == 1) {
		host = &req->fields.v[hi.host_idx];
		if (!valid_authority(host->value, host->value_len, false)) {
			*reason = "invalid Host";
			return 400;
		}
		req->authority = host->value;
	}

	if (hi.te_seen) {
		/* RFC 9112 §6.1: HTTP/1.0 framing with Transfer-Encoding is faulty. */
		if (req->version == 10) {
			*reason = "Transfer-Encoding in HTTP/1.0";
			return 400;
		}
		/* §6.1: TE and CL together is a smuggling attempt; reject. */
		if (hi.cl_seen) {
			*reason = "both Transfer-Encoding and Content-Length";
			return 400;
		}
		if (hi.te_bad) {
			*reason = "invalid Transfer-Encoding";
			return 400;
		}
		/* §7: chunked at most once; §6.3 (4): chunked final. */
		if (hi.te_chunked > 1) {
			*reason = "chunked applied more than once";
			return 400;
		}
		if (!hi.te_chunked_last) {
			*reason = "final transfer coding is not chunked";
			return 400;
		}
		/* §6.1: a transfer coding the server does not understand: 501. */
		if (hi.te_other) {
			*reason = "unsupported transfer coding";
			return 501;
		}
		req->body = BODY_CHUNKED;
	} else if (hi.cl_seen && hi.cl > 0) {
		req->body = BODY_LENGTH;
		req->content_length = hi.cl;
	} else {
		/* §6.3 (6): no TE, no CL: a request has no content. */
		req->body = BODY_NONE;
	}

	if (hi.expect_other) {
		*reason = "unsupported expectation";
		return 417;
	}
	/* RFC 9110 §10.1.1: ignore 100-continue in an HTTP/1.0 request. */
	req->expect_continue = hi.expect_continue && req->version == 11;

	/* RFC 9112 §9.3 */
	if (req->version == 11)
		req->keep_alive = !hi.conn_close;
	else
		req->keep_alive = hi.conn_keep_alive && !hi.conn_close;

	if ((st = parse_target(req, tlen, extra, lim, reason)) != 0)
		return st;
	/* §3.2.2: the absolute-form authority replaces Host. */
	if (req->form == TARGET_ABSOLUTE && host != NULL) {
		host->value = req->authority;
		host->value_len = strlen(req->authority);
	}
	return 0;
}

enum http1_result
http1_parse_request(const char *buf, size_t len,
    const struct http1_limits *lim, struct http_request *req, size_t *head_len,
    int *err_status, const char **err_reason)
{
	struct head_span hs;
	enum http1_result r;
	size_t hl, rl;
	int st;

	r = find_head(buf, len, lim, true, &hs, err_status, err_reason);
	if (r != HTTP1_DONE)
		return r;
	hl = hs.end - hs.start;
	rl = hs.line_end - hs.start;
	memset(req, 0, sizeof(*req));
	fields_init(&req->fields);
	/* The head, its NUL, then room for absolute-form pieces (< rl + 8). */
	req->raw = xmalloc(hl + 1 + rl + 8);
	memcpy(req->raw, buf + hs.start, hl);
	req->raw[hl] = '\0';
	st = parse_request_head(req, hl, rl, req->raw + hl + 1, lim, err_reason);
	if (st != 0) {
		http1_request_free(req);
		*err_status = st;
		return HTTP1_INVALID;
	}
	*head_len = hs.end;
	return HTTP1_DONE;
}

void
http1_request_free(struct http_request *req)
{
	fields_free(&req->fields);
	free(req->raw);
	memset(req, 0, sizeof(*req));
}

/* ---- responses ---- */

/*
 * status-line = HTTP-version SP status-code SP [ reason-phrase ]
 * (RFC 9112 §4), in raw[0..sl). Returns false with *reason. Any three
 * digits from 100 are accepted: RFC 9110 §15 says codes above 599 are to be
 * handled as 5xx, not as a malformed message.
 */
static bool
parse_status_line(struct http_response *resp, size_t sl, const char **reason)
{
	char *p = resp->raw;
	size_t i;

	if (sl < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '9' || !is_digit(p[10]) || !is_digit(p[11]) ||
	    (sl > 12 && p[12] != ' ')) {
		*reason = "malformed status line";
		return false;
	}
	resp->version = p[7] == '0' ? 10 : 11;
	resp->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	for (i = 13; i < sl; i++) {
		if (!headers_is((unsigned char)p[i], HDR_C_FVALUE)) {
			*reason = "invalid byte in reason phrase";
			return false;
		}
	}
	resp->reason = p + (sl > 12 ? 13 : 12);
	p[sl] = '\0';
	return true;
}

/* RFC 9112 §6.3 and §9.3; returns false with *reason. */
static bool
frame_response(struct http_response *resp, enum http_method req_method,
    const struct head_info *hi, const char **reason)
{
	int st = resp->status;

	/* §6.1, §6.3 (3): never guess between TE and CL. */
	if (hi->te_seen && hi->cl_seen) {
		*reason = "both Transfer-Encoding and Content-Length";
		return false;
	}
	if (hi->te_seen && (hi->te_bad || hi->te_chunked > 1)) {
		*reason = "invalid Transfer-Encoding";
		return false;
	}
	if (req_method == HTTP_M_HEAD || st < 200 || st == 204 || st == 304) {
		/* §6.3 (1) */
		resp->body = BODY_NONE;
	} else if (req_method == HTTP_M_CONNECT && st < 300) {
		/* §6.3 (2): a tunnel follows. */
		resp->body = BODY_NONE;
	} else if (hi->te_seen) {
		/*
		 * §6.3 (4); §6.1: Transfer-Encoding in HTTP/1.0 is faulty
		 * framing, so the only safe end is the close.
		 */
		if (hi->te_chunked_last && resp->version == 11)
			resp->body = BODY_CHUNKED;
		else
			resp->body = BODY_UNTIL_CLOSE;
	} else if (hi->cl_seen) {
		/* §6.3 (6) */
		resp->body = hi->cl > 0 ? BODY_LENGTH : BODY_NONE;
		resp->content_length = hi->cl;
	} else {
		/* §6.3 (8) */
		resp->body = BODY_UNTIL_CLOSE;
	}
	/* §9.3 */
	if (resp->version == 11)
		resp->keep_alive = !hi->conn_close;
	else
		resp->keep_alive = hi->conn_keep_alive && !hi->conn_close;
	if (resp->body == BODY_UNTIL_CLOSE)
		resp->keep_alive = false;
	return true;
}

enum http1_result
http1_parse_response(const char *buf, size_t len,
    const struct http1_limits *lim, enum http_method req_method,
    struct http_response *resp, size_t *head_len, const char **err_reason)
{
	struct head_span hs;
	struct head_info hi;
	enum http1_result r;
	size_t hl, sl;
	int status;

	r = find_head(buf, len, lim, false, &hs, &status, err_reason);
	if (r != HTTP1_DONE)
		return r;
	hl = hs.end - hs.start;
	sl = hs.line_end - hs.start;
	memset(resp, 0, sizeof(*resp));
	fields_init(&resp->fields);
	resp->raw = xmalloc(hl + 1);
	memcpy(resp->raw, buf + hs.start, hl);
	resp->raw[hl] = '\0';
	memset(&hi, 0, sizeof(hi));
	if (!parse_status_line(resp, sl, err_reason) ||
	    !parse_fields(resp->raw + sl + 2, resp->raw + hl - 2, &resp->fields,
	    true, &hi, err_reason) ||
	    !frame_response(resp, req_method, &hi, err_reason)) {
		http1_response_free(resp);
		return HTTP1_INVALID;
	}
	*head_len = hs.end;
	return HTTP1_DONE;
}

void
http1_response_free(struct http_response *resp)
{
	fields_free(&resp->fields);
	free(resp->raw);
	memset(resp, 0, sizeof(*resp));
}

/* ---- chunked decoder (RFC 9112 §7.1) ---- */

enum chunked_state {
	CS_SIZE = 0,		/* chunk-size hex digits */
	CS_SIZE_WS,		/* BWS after size or value: ';' must follow */
	CS_EXT_NAME_START,	/* after ';': BWS, then a token */
	CS_EXT_NAME,
	CS_EXT_NAME_WS,		/* BWS after a name: '=' or ';' */
	CS_EXT_VALUE_START,	/* after '=': BWS, then token or quoted-string */
	CS_EXT_VALUE,
	CS_EXT_QUOTED,
	CS_EXT_QUOTED_ESC,
	CS_EXT_QUOTED_END,
	CS_SIZE_LF,		/* CR seen at the end of the size line */
	CS_DATA,
	CS_DATA_CR,
	CS_DATA_LF,
	CS_TRAILER_START,	/* start of a trailer line or the final CRLF */
	CS_TRAILER_NAME,
	CS_TRAILER_VALUE,
	CS_TRAILER_LF,
	CS_END_LF,		/* CR of the final empty line seen */
	CS_DONE,
	CS_ERROR,
};

void
http1_chunked_init(struct http1_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CS_SIZE;
	c->max_line = 4096;
	c->max_trailer = 16384;
}

enum chunked_result
http1_chunked_feed(struct http1_chunked *c, const char *in, size_t len,
    size_t *consumed, const char **data, size_t *data_len)
{
	size_t i = 0, n;
	unsigned char ch;
	int st = c->state;

	*consumed = 0;
	*data = NULL;
	*data_len = 0;
	if (st == CS_ERROR)
		return CHUNKED_ERROR;
	if (st == CS_DONE)
		return CHUNKED_DONE;

	while (i < len) {
		if (st == CS_DATA) {
			n = len - i;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			c->remaining -= n;
			if (c->remaining == 0)
				st = CS_DATA_CR;
			c->state = st;
			*data = in + i;
			*data_len = n;
			*consumed = i + n;
			return CHUNKED_DATA;
		}
		ch = (unsigned char)in[i++];
		if (st < CS_DATA) {
			/* The size line, extensions included, has a limit. */
			if (++c->line_len > c->max_line)
				goto error;
		} else if (st >= CS_TRAILER_START) {
			if (++c->trailer_bytes > c->max_trailer)
				goto error;
		}
		switch (st) {
		case CS_SIZE:
			if (headers_is(ch, HDR_C_HEX)) {
				/* At most 16 digits and 63 bits. */
				if (c->line_len > 16 ||
				    c->remaining > (UINT64_MAX >> 1) >> 4)
					goto error;
				c->remaining = c->remaining << 4 |
				    (uint64_t)(ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10);
				c->size_digits = true;
				break;
			}
			if (!c->size_digits)
				goto error;
			if (ch == ';')
				st = CS_EXT_NAME_START;
			else if (ch == ' ' || ch == '\t')
				st = CS_SIZE_WS;	/* §7.1.1: BWS before ';' */
			else if (ch == '\r')
				st = CS_SIZE_LF;
			else
				goto error;
			break;
		case CS_SIZE_WS:
			if (ch == ';')
				st = CS_EXT_NAME_START;
			else if (ch != ' ' && ch != '\t')
				goto error;
			break;
		case CS_EXT_NAME_START:
			if (headers_is(ch, HDR_C_TCHAR))
				st = CS_EXT_NAME;
			else if (ch != ' ' && ch != '\t')
				goto error;
			break;
		case CS_EXT_NAME:
			if (headers_is(ch, HDR_C_TCHAR))
				break;
			if (ch == ';')
				st = CS_EXT_NAME_START;
			else if (ch == '=')
				st = CS_EXT_VALUE_START;
			else if (ch == ' ' || ch == '\t')
				st = CS_EXT_NAME_WS;
			else if (ch == '\r')
				st = CS_SIZE_LF;
			else
				goto error;
			break;
		case CS_EXT_NAME_WS:
			if (ch == '=')
				st = CS_EXT_VALUE_START;
			else if (ch == ';')
				st = CS_EXT_NAME_START;
			else if (ch != ' ' && ch != '\t')
				goto error;
			break;
		case CS_EXT_VALUE_START:
			if (headers_is(ch, HDR_C_TCHAR))
				st = CS_EXT_VALUE;
			else if (ch == '"')
				st = CS_EXT_QUOTED;
			else if (ch != ' ' && ch != '\t')
				goto error;
			break;
		case CS_EXT_VALUE:
			if (headers_is(ch, HDR_C_TCHAR))
				break;
			if (ch == ';')
				st = CS_EXT_NAME_START;
			else if (ch == ' ' || ch == '\t')
				st = CS_SIZE_WS;
			else if (ch == '\r')
				st = CS_SIZE_LF;
			else
				goto error;
			break;
		case CS_EXT_QUOTED:
			/* RFC 9110 §5.6.4 quoted-string */
			if (ch == '"')
				st = CS_EXT_QUOTED_END;
			else if (ch == '\\')
				st = CS_EXT_QUOTED_ESC;
			else if (!headers_is(ch, HDR_C_QDTEXT))
				goto error;
			break;
		case CS_EXT_QUOTED_ESC:
			if (!headers_is(ch, HDR_C_FVALUE))
				goto error;
			st = CS_EXT_QUOTED;
			break;
		case CS_EXT_QUOTED_END:
			if (ch == ';')
				st = CS_EXT_NAME_START;
			else if (ch == ' ' || ch == '\t')
				st = CS_SIZE_WS;
			else if (ch == '\r')
				st = CS_SIZE_LF;
			else
				goto error;
			break;
		case CS_SIZE_LF:
			if (ch != '\n')
				goto error;
			c->line_len = 0;
			c->size_digits = false;
			/* §7.1: last-chunk is a size of zero; trailers follow. */
			st = c->remaining == 0 ? CS_TRAILER_START : CS_DATA;
			break;
		case CS_DATA_CR:
			if (ch != '\r')
				goto error;
			st = CS_DATA_LF;
			break;
		case CS_DATA_LF:
			if (ch != '\n')
				goto error;
			st = CS_SIZE;
			break;
		case CS_TRAILER_START:
			/* §7.1.2: trailer fields, with the field-line grammar. */
			if (ch == '\r')
				st = CS_END_LF;
			else if (headers_is(ch, HDR_C_TCHAR))
				st = CS_TRAILER_NAME;
			else
				goto error;
			break;
		case CS_TRAILER_NAME:
			if (ch == ':')
				st = CS_TRAILER_VALUE;
			else if (!headers_is(ch, HDR_C_TCHAR))
				goto error;
			break;
		case CS_TRAILER_VALUE:
			if (ch == '\r')
				st = CS_TRAILER_LF;
			else if (!headers_is(ch, HDR_C_FVALUE))
				goto error;
			break;
		case CS_TRAILER_LF:
			if (ch != '\n')
				goto error;
			st = CS_TRAILER_START;
			break;
		case CS_END_LF:
			if (ch != '\n')
				goto error;
			c->state = CS_DONE;
			*consumed = i;
			return CHUNKED_DONE;
		default:
			FRESHD_ASSERT_FAIL("chunked decoder state");
		}
	}
	c->state = st;
	*consumed = i;
	return CHUNKED_NEED_MORE;

error:
	c->state = CS_ERROR;
	*consumed = i;
	return CHUNKED_ERROR;
}

/* ---- serialisation ---- */

static size_t
fields_wire_len(const struct fields *f)
{
	size_t i, n = 0;

	for (i = 0; i < f->n; i++)
		n += f->v[i].name_len + 2 + f->v[i].value_len + 2;
	return n;
}

struct piece {
	const char	*p;
	size_t		n;
};

/*
 * Appends the start line (the concatenation of np pieces), the fields and the
 * final CRLF to out in one reserved region, so a head costs one evbuffer
 * operation however many fields it has. The caller has validated every name
 * and value (nothing here re-checks for CR or LF).
 */
static void
write_head(struct evbuffer *out, const struct piece *line, size_t np,
    const struct fields *f)
{
	struct evbuffer_iovec vec;
	size_t i, total = fields_wire_len(f) + 2;
	char *p;

	for (i = 0; i < np; i++)
		total += line[i].n;
	if (evbuffer_reserve_space(out, (ev_ssize_t)total, &vec, 1) != 1)
		FRESHD_ASSERT_FAIL("evbuffer_reserve_space");
	p = vec.iov_base;
	for (i = 0; i < np; i++) {
		memcpy(p, line[i].p, line[i].n);
		p += line[i].n;
	}
	for (i = 0; i < f->n; i++) {
		memcpy(p, f->v[i].name, f->v[i].name_len);
		p += f->v[i].name_len;
		*p++ = ':';
		*p++ = ' ';
		memcpy(p, f->v[i].value, f->v[i].value_len);
		p += f->v[i].value_len;
		*p++ = '\r';
		*p++ = '\n';
	}
	*p++ = '\r';
	*p++ = '\n';
	vec.iov_len = total;
	if (evbuffer_commit_space(out, &vec, 1) != 0)
		FRESHD_ASSERT_FAIL("evbuffer_commit_space");
}

void
http1_write_request_head(struct evbuffer *out, const char *method,
    const char *target, const struct fields *f)
{
	/* RFC 9112 §3: method SP request-target SP HTTP-version CRLF */
	const struct piece line[] = {
		{ method, strlen(method) },
		{ " ", 1 },
		{ target, strlen(target) },
		{ " HTTP/1.1\r\n", 11 },
	};

	write_head(out, line, ARRAY_LEN(line), f);
}

void
http1_write_response_head(struct evbuffer *out, int status,
    const char *reason, const struct fields *f)
{
	const char code[3] = {
		(char)('0' + status / 100 % 10),
		(char)('0' + status / 10 % 10),
		(char)('0' + status % 10),
	};
	const char *r = reason != NULL ? reason : http_status_reason(status);
	/* RFC 9112 §4: HTTP-version SP status-code SP [ reason-phrase ] CRLF */
	const struct piece line[] = {
		{ "HTTP/1.1 ", 9 },
		{ code, 3 },
		{ " ", 1 },
		{ r, strlen(r) },
		{ "\r\n", 2 },
	};

	ASSERT(status >= 100 && status <= 999);
	write_head(out, line, ARRAY_LEN(line), f);
}

void
http1_write_chunk(struct evbuffer *out, const void *data, size_t len)
{
	char line[24];
	int n;

	if (len == 0) {
		/* RFC 9112 §7.1: last-chunk, then an empty trailer section. */
		evbuffer_add(out, "0\r\n\r\n", 5);
		return;
	}
	n = snprintf(line, sizeof(line), "%zx\r\n", len);
	evbuffer_add(out, line, (size_t)n);
	evbuffer_add(out, data, len);
	evbuffer_add(out, "\r\n", 2);
}

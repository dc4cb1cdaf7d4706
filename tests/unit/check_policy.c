/*
 * check_policy.c: table-driven unit tests for src/policy.c.
 *
 * Every row names the RFC section it checks ("9111 4.2.1 ..."). Header
 * fields are written as text, one "Name: value" per line; "{T}", "{T+N}"
 * and "{T-N}" stand for the IMF-fixdate of T0, T0+N and T0-N, where T0 is
 * the response time of every stored response unless a row says otherwise.
 * A row's cfg string adjusts the default configuration: "private",
 * "frac=F", "hmax=N", "maxttl=N", "notarget", "nocdn", "unreach=N".
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headers.h"
#include "http1.h"
#include "policy.h"
#include "util.h"

#define T0	((time_t)1700000000)

/* ---- helpers ---- */

/* Expands the {T...} placeholders of text into a new string. */
static char *
expand(const char *text)
{
	size_t cap = strlen(text) * 4 + 64, len = 0;
	char *out = xmalloc(cap);
	const char *p = text;

	while (*p != '\0') {
		if (p[0] == '{' && p[1] == 'T') {
			char *close = strchr(p, '}'), date[32];
			long off = 0;

			ck_assert_ptr_nonnull(close);
			if (p[2] == '+' || p[2] == '-')
				off = strtol(p + 2, NULL, 10);
			http_date_format(T0 + off, date, sizeof(date));
			memcpy(out + len, date, strlen(date));
			len += strlen(date);
			p = close + 1;
			continue;
		}
		out[len++] = *p++;
	}
	out[len] = '\0';
	return out;
}

/* Parses "Name: value" lines into f (initialised here). */
static void
parse_fields(struct fields *f, const char *text)
{
	char *buf, *line, *next;

	fields_init(f);
	if (text == NULL)
		return;
	buf = expand(text);
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		char *colon, *value;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		colon = strchr(line, ':');
		ck_assert_ptr_nonnull(colon);
		value = colon + 1;
		while (*value == ' ')
			value++;
		fields_add(f, line, (size_t)(colon - line), value, strlen(value));
	}
	free(buf);
}

/* Joins fields as "Name: value|Name: value" for comparisons. */
static char *
join_fields(const struct fields *f)
{
	size_t i, cap = 16;
	char *out;

	for (i = 0; i < f->n; i++)
		cap += f->v[i].name_len + f->v[i].value_len + 3;
	out = xmalloc(cap);
	out[0] = '\0';
	for (i = 0; i < f->n; i++) {
		if (i > 0)
			strcat(out, "|");
		strcat(out, f->v[i].name);
		strcat(out, ": ");
		strcat(out, f->v[i].value);
	}
	return out;
}

static void
make_cfg(struct policy_config *cfg, const char *spec)
{
	const char *p = spec;

	policy_config_default(cfg);
	while (p != NULL && *p != '\0') {
		if (strncmp(p, "private", 7) == 0)
			cfg->shared = false;
		else if (strncmp(p, "frac=", 5) == 0)
			cfg->heuristic_fraction = strtod(p + 5, NULL);
		else if (strncmp(p, "hmax=", 5) == 0)
			cfg->heuristic_max = strtoll(p + 5, NULL, 10);
		else if (strncmp(p, "maxttl=", 7) == 0)
			cfg->max_ttl = strtoll(p + 7, NULL, 10);
		else if (strncmp(p, "notarget", 8) == 0)
			cfg->targeted_field = NULL;
		else if (strncmp(p, "nocdn", 5) == 0)
			cfg->cdn_cache_control = false;
		else if (strncmp(p, "unreach=", 8) == 0)
			cfg->stale_if_unreachable = strtoll(p + 8, NULL, 10);
		else
			ck_abort_msg("bad cfg spec %s", p);
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
}

static void
make_req(struct http_request *r, const char *method, const char *fields)
{
	memset(r, 0, sizeof(*r));
	r->method = http_method_from_name(method, strlen(method));
	r->authority = "example.com";
	r->path = "/";
	parse_fields(&r->fields, fields);
}

/* ---- storability (RFC 9111 §3) ---- */

/* The target key of make_req's requests. */
#define POST_KEY	"http://example.com/"

struct storable_case {
	const char	*name;
	const char	*cfg;
	const char	*method;
	const char	*req;
	int		status;
	const char	*resp;
	bool		want;
	const char	*why;		/* expected reason when not storable */
};

static const struct storable_case storable_cases[] = {
	{ "9111 3 GET 200 with max-age", NULL, "GET", NULL, 200,
	  "Cache-Control: max-age=60", true, NULL },
	{ "9111 3 GET 200 without directives (heuristically cacheable)", NULL,
	  "GET", NULL, 200, "Content-Type: text/plain", true, NULL },
	{ "9111 3 HEAD responses are not stored", NULL, "HEAD", NULL, 200,
	  "Cache-Control: max-age=60", false, "method" },
	{ "9111 3 POST responses are not stored even with max-age", NULL,
	  "POST", NULL, 200, "Cache-Control: max-age=60", false, "method" },
	{ "9111 3 PUT responses are not stored", NULL, "PUT", NULL, 200,
	  "Cache-Control: public, max-age=60", false, "method" },
	{ "9111 5.2.1.5 request no-store", NULL, "GET",
	  "Cache-Control: no-store", 200, "Cache-Control: max-age=60", false,
	  "request no-store" },
	{ "9111 5.2.1.5 request no-store among other directives", NULL, "GET",
	  "Cache-Control: max-age=0, no-store", 200, "Cache-Control: public",
	  false, "request no-store" },
	{ "9111 5.4 request Pragma is not no-store", NULL, "GET",
	  "Pragma: no-store", 200, "Cache-Control: max-age=60", true, NULL },
	{ "9111 5.2.2.5 response no-store", NULL, "GET", NULL, 200,
	  "Cache-Control: no-store, max-age=60", false, "no-store" },
	{ "9111 5.2 directive names are case-insensitive (No-Store)", NULL,
	  "GET", NULL, 200, "Cache-Control: No-Store", false, "no-store" },
	{ "9111 5.2.2.5 no-store on a second Cache-Control line", NULL, "GET",
	  NULL, 200, "Cache-Control: max-age=60\nCache-Control: no-store",
	  false, "no-store" },
	{ "9111 5.2.2.7 private in a shared cache", NULL, "GET", NULL, 200,
	  "Cache-Control: private, max-age=60", false, "private" },
	{ "9111 5.2.2.7 private in a private cache", "private", "GET", NULL, 200,
	  "Cache-Control: private", true, NULL },
	{ "9111 5.2.2.7 qualified private stores the rest", NULL, "GET", NULL,
	  200, "Cache-Control: private=\"Set-Cookie\", max-age=60", true, NULL },
	{ "9111 3.5 Authorization without permission", NULL, "GET",
	  "Authorization: Basic dTpw", 200, "Cache-Control: max-age=60", false,
	  "authorization" },
	{ "9111 3.5 Authorization with public", NULL, "GET",
	  "Authorization: Basic dTpw", 200, "Cache-Control: public, max-age=60",
	  true, NULL },
	{ "9111 3.5 Authorization with s-maxage", NULL, "GET",
	  "Authorization: Basic dTpw", 200, "Cache-Control: s-maxage=60", true,
	  NULL },
	{ "9111 3.5 Authorization with must-revalidate", NULL, "GET",
	  "Authorization: Basic dTpw", 200,
	  "Cache-Control: max-age=60, must-revalidate", true, NULL },
	{ "9111 3.5 Authorization with proxy-revalidate only", NULL, "GET",
	  "Authorization: Basic dTpw", 200,
	  "Cache-Control: max-age=60, proxy-revalidate", false, "authorization" },
	{ "9111 3.5 Authorization in a private cache", "private", "GET",
	  "Authorization: Basic dTpw", 200, "Cache-Control: max-age=60", true,
	  NULL },
	{ "9111 3.5 Authorization with public in a targeted field", NULL, "GET",
	  "Authorization: Basic dTpw", 200,
	  "CDN-Cache-Control: public, max-age=10", true, NULL },
	{ "9111 3 302 without explicit freshness", NULL, "GET", NULL, 302,
	  "Location: /x", false, "not cacheable" },
	{ "9111 3 302 with max-age", NULL, "GET", NULL, 302,
	  "Location: /x\nCache-Control: max-age=60", true, NULL },
	{ "9111 3 302 with Expires", NULL, "GET", NULL, 302,
	  "Location: /x\nExpires: {T+60}", true, NULL },
	{ "9111 3 307 with public", NULL, "GET", NULL, 307,
	  "Cache-Control: public", true, NULL },
	{ "9111 3 500 without explicit freshness", NULL, "GET", NULL, 500, NULL,
	  false, "not cacheable" },
	{ "9111 3 500 with max-age (status need not be understood)", NULL,
	  "GET", NULL, 500, "Cache-Control: max-age=5", true, NULL },
	{ "9111 3 503 with Expires", NULL, "GET", NULL, 503,
	  "Expires: {T+30}", true, NULL },
	{ "9111 3 201 without explicit freshness", NULL, "GET", NULL, 201, NULL,
	  false, "not cacheable" },
	{ "9110 15.1 404 is heuristically cacheable", NULL, "GET", NULL, 404,
	  NULL, true, NULL },
	{ "9110 15.1 410 is heuristically cacheable", NULL, "GET", NULL, 410,
	  NULL, true, NULL },
	{ "9110 15.1 301 is heuristically cacheable", NULL, "GET", NULL, 301,
	  "Location: /y", true, NULL },
	{ "9110 15.1 501 is heuristically cacheable", NULL, "GET", NULL, 501,
	  NULL, true, NULL },
	{ "9110 15.1 204 is heuristically cacheable", NULL, "GET", NULL, 204,
	  NULL, true, NULL },
	{ "9111 3.3 206 is not stored (no range support)", NULL, "GET", NULL,
	  206, "Cache-Control: max-age=60\nContent-Range: bytes 0-1/10", false,
	  "partial content" },
	{ "9111 4.3.4 a 304 is merged, never stored", NULL, "GET", NULL, 304,
	  "Cache-Control: max-age=60", false, "status" },
	{ "9111 3 1xx is not final", NULL, "GET", NULL, 103,
	  "Cache-Control: max-age=60", false, "status" },
	{ "9111 4.1 Vary: * is not stored", NULL, "GET", NULL, 200,
	  "Cache-Control: max-age=60\nVary: *", false, "vary *" },
	{ "9111 4.1 Vary with * among names is not stored", NULL, "GET", NULL,
	  200, "Vary: Accept-Encoding, *", false, "vary *" },
	{ "9111 4.1 Vary with names is stored", NULL, "GET", NULL, 200,
	  "Cache-Control: max-age=60\nVary: Accept-Encoding", true, NULL },
	{ "9111 3 Set-Cookie does not prevent storing", NULL, "GET", NULL, 200,
	  "Set-Cookie: a=b\nCache-Control: max-age=60", true, NULL },
	{ "9111 5.2.2.3 must-understand overrides no-store for 200", NULL, "GET",
	  NULL, 200, "Cache-Control: must-understand, no-store, max-age=60",
	  true, NULL },
	{ "9111 5.2.2.3 must-understand with a status not understood", NULL,
	  "GET", NULL, 299, "Cache-Control: must-understand, max-age=60", false,
	  "must-understand" },
	{ "9111 5.2.2.4 no-cache responses are stored", NULL, "GET", NULL, 200,
	  "Cache-Control: no-cache", true, NULL },
	{ "9111 5.4 response Pragma: no-cache does not prevent storing", NULL,
	  "GET", NULL, 200, "Pragma: no-cache", true, NULL },
	{ "9213 2.1 CDN-Cache-Control no-store replaces Cache-Control", NULL,
	  "GET", NULL, 200,
	  "Cache-Control: max-age=60\nCDN-Cache-Control: no-store", false,
	  "no-store" },
	{ "9213 2.1 CDN-Cache-Control replaces Cache-Control private", NULL,
	  "GET", NULL, 200,
	  "Cache-Control: private\nCDN-Cache-Control: max-age=60", true, NULL },
	{ "9213 2.1 invalid CDN-Cache-Control falls back to Cache-Control",
	  NULL, "GET", NULL, 200,
	  "Cache-Control: no-store\nCDN-Cache-Control: Max-Age=60", false,
	  "no-store" },
	{ "9213 2.1 own targeted field comes before CDN-Cache-Control", NULL,
	  "GET", NULL, 200,
	  "Freshd-Cache-Control: no-store\nCDN-Cache-Control: max-age=60",
	  false, "no-store" },
	{ "9213 2.1 own targeted field can be disabled", "notarget", "GET", NULL,
	  200, "Freshd-Cache-Control: no-store\nCache-Control: max-age=60", true,
	  NULL },
	{ "9213 2.1 CDN-Cache-Control can be disabled", "nocdn", "GET", NULL,
	  200, "CDN-Cache-Control: no-store\nCache-Control: max-age=60", true,
	  NULL },
	{ "9213 2.1 targeted field ignores Expires for storability", NULL, "GET",
	  NULL, 302, "CDN-Cache-Control: must-revalidate\nExpires: {T+60}",
	  false, "not cacheable" },
};

/*
 * Runs one storability case through policy_storable, or, for post,
 * through policy_post_reusable with the target key of make_req's requests.
 */
static void
check_storable_case(const struct storable_case *c, bool post)
{
	struct policy_config cfg;
	struct http_request req;
	struct fields resp;
	const char *why = "unset";
	bool got;

	make_cfg(&cfg, c->cfg);
	make_req(&req, c->method, c->req);
	parse_fields(&resp, c->resp);
	got = post ? policy_post_reusable(&cfg, &req, POST_KEY, c->status, &resp, &why) :
	    policy_storable(&cfg, &req, c->status, &resp, &why);
	ck_assert_msg(got == c->want, "%s: %s %d", c->name, post ? "reusable" : "storable",
	    got);
	if (c->want)
		ck_assert_msg(why == NULL, "%s: why %s", c->name, why);
	else
		ck_assert_msg(why != NULL && strcmp(why, c->why) == 0,
		    "%s: why %s", c->name, why ? why : "(null)");
	fields_free(&resp);
	fields_free(&req.fields);
}

START_TEST(test_storable)
{
	check_storable_case(&storable_cases[_i], false);
}
END_TEST

/* ---- POST responses reused for GET (RFC 9110 §9.3.3) ---- */

static const struct storable_case post_cases[] = {
	{ "9110 9.3.3 explicit freshness and Content-Location of the URI", NULL,
	  "POST", NULL, 200, "Cache-Control: max-age=60\nContent-Location: /", true,
	  NULL },
	{ "9110 9.3.3 absolute Content-Location of the URI", NULL, "POST", NULL, 200,
	  "Cache-Control: max-age=60\nContent-Location: http://example.com/", true,
	  NULL },
	{ "9110 9.3.3 Expires counts as explicit freshness", NULL, "POST", NULL, 203,
	  "Expires: {T+60}\nContent-Location: /", true, NULL },
	{ "9110 9.3.3 s-maxage counts in a shared cache", NULL, "POST", NULL, 200,
	  "Cache-Control: s-maxage=60\nContent-Location: /", true, NULL },
	{ "9110 9.3.3 another URI in Content-Location", NULL, "POST", NULL, 200,
	  "Cache-Control: max-age=60\nContent-Location: /other", false,
	  "content-location" },
	{ "9110 9.3.3 another origin in Content-Location", NULL, "POST", NULL, 200,
	  "Cache-Control: max-age=60\nContent-Location: http://evil.example/",
	  false, "content-location" },
	{ "9110 9.3.3 no Content-Location", NULL, "POST", NULL, 200,
	  "Cache-Control: max-age=60", false, "content-location" },
	{ "9110 9.3.3 two Content-Location fields", NULL, "POST", NULL, 200,
	  "Cache-Control: max-age=60\nContent-Location: /\nContent-Location: /",
	  false, "content-location" },
	{ "9110 9.3.3 heuristic freshness is not enough", NULL, "POST", NULL, 200,
	  "Last-Modified: {T-3600}\nContent-Location: /", false,
	  "no explicit freshness" },
	{ "9110 9.3.3 public alone is not explicit freshness", NULL, "POST", NULL,
	  200, "Cache-Control: public\nContent-Location: /", false,
	  "no explicit freshness" },
	{ "9110 9.3.3 201 is not reused", NULL, "POST", NULL, 201,
	  "Cache-Control: max-age=60\nContent-Location: /", false, "status" },
	{ "9110 9.3.3 Vary is not handled for POST", NULL, "POST", NULL, 200,
	  "Cache-Control: max-age=60\nContent-Location: /\nVary: Accept", false,
	  "vary" },
	{ "9111 5.2.2.5 no-store still applies", NULL, "POST", NULL, 200,
	  "Cache-Control: max-age=60, no-store\nContent-Location: /", false,
	  "no-store" },
	{ "9111 5.2.2.7 private still applies", NULL, "POST", NULL, 200,
	  "Cache-Control: max-age=60, private\nContent-Location: /", false,
	  "private" },
	{ "9111 3.5 Authorization still applies", NULL, "POST",
	  "Authorization: Basic dTpw", 200,
	  "Cache-Control: max-age=60\nContent-Location: /", false, "authorization" },
	{ "9110 9.3.3 only POST", NULL, "PUT", NULL, 200,
	  "Cache-Control: max-age=60\nContent-Location: /", false, "method" },
};

START_TEST(test_post_reusable)
{
	check_storable_case(&post_cases[_i], true);
}
END_TEST

/* ---- freshness lifetime (RFC 9111 §4.2.1, §4.2.2) ---- */

struct lifetime_case {
	const char	*name;
	const char	*cfg;
	int		status;
	const char	*resp;
	int64_t		want;
};

static const struct lifetime_case lifetime_cases[] = {
	{ "9111 4.2.1 max-age", NULL, 200, "Cache-Control: max-age=60", 60 },
	{ "9111 4.2.1 s-maxage beats max-age", NULL, 200,
	  "Cache-Control: max-age=60, s-maxage=30", 30 },
	{ "9111 4.2.1 s-maxage is ignored by a private cache", "private", 200,
	  "Cache-Control: max-age=60, s-maxage=30", 60 },
	{ "9111 4.2.1 s-maxage=0", NULL, 200,
	  "Cache-Control: s-maxage=0, max-age=60", 0 },
	{ "9111 4.2.1 max-age beats Expires", NULL, 200,
	  "Cache-Control: max-age=60\nDate: {T}\nExpires: {T+600}", 60 },
	{ "9111 4.2.1 Expires minus Date", NULL, 200,
	  "Date: {T}\nExpires: {T+600}", 600 },
	{ "9111 4.2.1 Expires minus Date when Date is in the past", NULL, 200,
	  "Date: {T-100}\nExpires: {T+500}", 600 },
	{ "9111 4.2.1 Expires minus response time without Date", NULL, 200,
	  "Expires: {T+100}", 100 },
	{ "9111 4.2.1 Expires minus response time with an invalid Date", NULL,
	  200, "Date: yesterday\nExpires: {T+100}", 100 },
	{ "9111 4.2.1 Expires before Date", NULL, 200,
	  "Date: {T}\nExpires: {T-10}", 0 },
	{ "9111 5.3 invalid Expires \"0\" is already expired", NULL, 200,
	  "Expires: 0", 0 },
	{ "9111 5.3 invalid Expires blocks the heuristic", NULL, 200,
	  "Expires: soon\nLast-Modified: {T-10000}", 0 },
	{ "9111 4.2.1 duplicate Expires with different values", NULL, 200,
	  "Date: {T}\nExpires: {T+600}\nExpires: {T+60}", 0 },
	{ "9111 4.2.1 duplicate Expires with the same value", NULL, 200,
	  "Date: {T}\nExpires: {T+600}\nExpires: {T+600}", 600 },
	{ "9111 4.2.1 duplicate max-age with different values", NULL, 200,
	  "Cache-Control: max-age=60, max-age=120", 0 },
	{ "9111 4.2.1 duplicate max-age across field lines", NULL, 200,
	  "Cache-Control: max-age=60\nCache-Control: max-age=120", 0 },
	{ "9111 4.2.1 duplicate max-age with the same value", NULL, 200,
	  "Cache-Control: max-age=60, max-age=60", 60 },
	{ "9111 4.2.1 duplicate s-maxage with different values", NULL, 200,
	  "Cache-Control: s-maxage=60, max-age=600, s-maxage=10", 0 },
	{ "9111 5.2 quoted max-age is accepted", NULL, 200,
	  "Cache-Control: max-age=\"60\"", 60 },
	{ "9111 1.2.2 max-age=-1 is invalid: stale", NULL, 200,
	  "Cache-Control: max-age=-1", 0 },
	{ "9111 1.2.2 max-age=abc is invalid: stale", NULL, 200,
	  "Cache-Control: max-age=abc", 0 },
	{ "9111 1.2.2 max-age without a value is invalid: stale", NULL, 200,
	  "Cache-Control: max-age", 0 },
	{ "9111 1.2.2 max-age with a trailing letter is invalid", NULL, 200,
	  "Cache-Control: max-age=10s", 0 },
	{ "9111 1.2.2 overflowing max-age becomes 2^31", NULL, 200,
	  "Cache-Control: max-age=99999999999999999999", POLICY_DELTA_MAX },
	{ "9111 1.2.2 max-age just above 2^31 becomes 2^31", NULL, 200,
	  "Cache-Control: max-age=2147483649", POLICY_DELTA_MAX },
	{ "9111 5.2 directive names are case-insensitive", NULL, 200,
	  "Cache-Control: MAX-AGE=60", 60 },
	{ "9111 5.2 unknown directives are ignored", NULL, 200,
	  "Cache-Control: foo=bar, max-age=60, baz", 60 },
	{ "9111 5.2 whitespace around list members", NULL, 200,
	  "Cache-Control:   max-age=60 ,   public  ", 60 },
	{ "9111 4.2.1 invalid max-age hides Expires", NULL, 200,
	  "Cache-Control: max-age=abc\nExpires: {T+600}", 0 },
	{ "9111 4.2.1 invalid s-maxage hides max-age", NULL, 200,
	  "Cache-Control: s-maxage=x, max-age=600", 0 },
	{ "9111 4.2.1 no-cache with max-age: most restrictive wins", NULL, 200,
	  "Cache-Control: max-age=60, no-cache", 0 },
	{ "9111 5.2.2.4 qualified no-cache keeps the lifetime", NULL, 200,
	  "Cache-Control: no-cache=\"Set-Cookie\", max-age=60", 60 },
	{ "9111 5.2.2.4 unquoted qualified no-cache", NULL, 200,
	  "Cache-Control: no-cache=Set-Cookie, max-age=60", 60 },
	{ "9111 4.2.2 heuristic: 10% of Date - Last-Modified", NULL, 200,
	  "Date: {T}\nLast-Modified: {T-1000}", 100 },
	{ "9111 4.2.2 heuristic without Date uses the response time", NULL, 200,
	  "Last-Modified: {T-1000}", 100 },
	{ "9111 4.2.2 heuristic rounds down", NULL, 200,
	  "Date: {T}\nLast-Modified: {T-1009}", 100 },
	{ "9111 4.2.2 heuristic capped at one day", NULL, 200,
	  "Date: {T}\nLast-Modified: {T-10000000}", 86400 },
	{ "9111 4.2.2 heuristic fraction is configurable", "frac=0.2", 200,
	  "Date: {T}\nLast-Modified: {T-1000}", 200 },
	{ "9111 4.2.2 heuristic cap is configurable", "hmax=50", 200,
	  "Date: {T}\nLast-Modified: {T-1000}", 50 },
	{ "9111 4.2.2 heuristic disabled by a zero fraction", "frac=0", 200,
	  "Date: {T}\nLast-Modified: {T-1000}", 0 },
	{ "9111 4.2.2 no heuristic for 302", NULL, 302,
	  "Date: {T}\nLast-Modified: {T-1000}", 0 },
	{ "9111 4.2.2 heuristic for a public 302", NULL, 302,
	  "Cache-Control: public\nDate: {T}\nLast-Modified: {T-1000}", 100 },
	{ "9111 4.2.2 heuristic for 404", NULL, 404,
	  "Date: {T}\nLast-Modified: {T-1000}", 100 },
	{ "9111 4.2.2 no heuristic when Expires is present", NULL, 200,
	  "Expires: 0\nLast-Modified: {T-1000}", 0 },
	{ "9111 4.2.2 no heuristic with no-cache", NULL, 200,
	  "Cache-Control: no-cache\nLast-Modified: {T-1000}", 0 },
	{ "9111 4.2.2 Last-Modified after Date", NULL, 200,
	  "Date: {T}\nLast-Modified: {T+10}", 0 },
	{ "9111 4.2.2 no Last-Modified, no heuristic", NULL, 200,
	  "Date: {T}", 0 },
	{ "9111 4.2.2 invalid Last-Modified, no heuristic", NULL, 200,
	  "Date: {T}\nLast-Modified: long ago", 0 },
	{ "8246 2 immutable does not extend the lifetime", NULL, 200,
	  "Cache-Control: immutable\nDate: {T}\nExpires: {T+10}", 10 },
	{ "9213 2.1 CDN-Cache-Control max-age wins over Cache-Control", NULL,
	  200, "Cache-Control: max-age=60\nCDN-Cache-Control: max-age=600", 600 },
	{ "9213 2.1 CDN-Cache-Control makes Expires ignored", NULL, 200,
	  "CDN-Cache-Control: must-revalidate\nExpires: {T+600}", 0 },
	{ "9213 2.1 CDN-Cache-Control s-maxage", NULL, 200,
	  "CDN-Cache-Control: s-maxage=30, max-age=300", 30 },
	{ "9213 2.1 own targeted field beats CDN-Cache-Control", NULL, 200,
	  "Freshd-Cache-Control: max-age=5\nCDN-Cache-Control: max-age=600", 5 },
	{ "9213 2.1 invalid targeted field (trailing comma) is ignored", NULL,
	  200, "CDN-Cache-Control: max-age=600,\nCache-Control: max-age=60", 60 },
	{ "9213 2.1 invalid targeted field (upper-case key) is ignored", NULL,
	  200, "CDN-Cache-Control: Max-Age=600\nCache-Control: max-age=5", 5 },
	{ "9213 2.1 empty targeted field is ignored", NULL, 200,
	  "CDN-Cache-Control: \nCache-Control: max-age=5", 5 },
	{ "9213 2.1 CDN-Cache-Control disabled", "nocdn", 200,
	  "CDN-Cache-Control: max-age=600\nCache-Control: max-age=5", 5 },
	{ "8941 4.2.2 targeted field: the last duplicate key wins", NULL, 200,
	  "CDN-Cache-Control: max-age=10, max-age=20", 20 },
	{ "8941 4.2 targeted field lines are combined", NULL, 200,
	  "CDN-Cache-Control: public\nCDN-Cache-Control: max-age=30", 30 },
	{ "8941 3.3.3 targeted max-age as a string is invalid: stale", NULL, 200,
	  "CDN-Cache-Control: max-age=\"60\"\nCache-Control: max-age=600", 0 },
	{ "8941 3.3.2 targeted max-age as a decimal is invalid: stale", NULL, 200,
	  "CDN-Cache-Control: max-age=1.5", 0 },
	{ "8941 3.1.2 targeted member parameters are ignored", NULL, 200,
	  "CDN-Cache-Control: max-age=60;foo=bar", 60 },
	{ "8941 3.3.6 targeted no-cache=?0 is absent", NULL, 200,
	  "CDN-Cache-Control: no-cache=?0, max-age=60", 60 },
	{ "8941 3.3.6 targeted no-cache (true) wins", NULL, 200,
	  "CDN-Cache-Control: no-cache, max-age=60", 0 },
	{ "8941 3.1.1 targeted inner list value is not a delta", NULL, 200,
	  "CDN-Cache-Control: max-age=(1 2)", 0 },
	{ "9111 4.2.1 configured max TTL caps max-age", "maxttl=100", 200,
	  "Cache-Control: max-age=1000", 100 },
	{ "9111 4.2.1 configured max TTL caps s-maxage", "maxttl=100", 200,
	  "Cache-Control: s-maxage=1000", 100 },
};

START_TEST(test_lifetime)
{
	const struct lifetime_case *c = &lifetime_cases[_i];
	struct policy_config cfg;
	struct fields resp;
	int64_t got;

	make_cfg(&cfg, c->cfg);
	parse_fields(&resp, c->resp);
	got = policy_freshness_lifetime(&cfg, c->status, &resp, T0);
	ck_assert_msg(got == c->want, "%s: lifetime %lld, want %lld", c->name,
	    (long long)got, (long long)c->want);
	fields_free(&resp);
}
END_TEST

/* ---- age (RFC 9111 §4.2.3) ---- */

struct age_case {
	const char	*name;
	const char	*resp;
	int		req_off;	/* request_time - T0 */
	int		now_off;	/* now - T0 (response_time is T0) */
	int64_t		apparent;
	int64_t		initial;	/* corrected_initial_age */
	int64_t		current;
};

static const struct age_case age_cases[] = {
	{ "9111 4.2.3 no Age, Date equal to the response time",
	  "Date: {T}", 0, 10, 0, 0, 10 },
	{ "9111 4.2.3 Age value is added", "Date: {T}\nAge: 30", 0, 10, 0, 30, 40 },
	{ "9111 4.2.3 apparent age from an old Date", "Date: {T-50}", 0, 10,
	  50, 50, 60 },
	{ "9111 4.2.3 the larger of apparent age and corrected Age",
	  "Date: {T-50}\nAge: 20", 0, 0, 50, 50, 50 },
	{ "9111 4.2.3 corrected Age larger than apparent age",
	  "Date: {T-5}\nAge: 20", 0, 0, 5, 20, 20 },
	{ "9111 4.2.3 response delay is added to Age", "Date: {T}\nAge: 20",
	  -5, 10, 0, 25, 35 },
	{ "9111 4.2.3 response delay alone", "Date: {T}", -7, 0, 0, 7, 7 },
	{ "9111 4.2.3 a Date in the future gives no apparent age",
	  "Date: {T+100}", 0, 10, 0, 0, 10 },
	{ "9111 4.2.3 no Date: the response time stands for it", NULL, 0, 10,
	  0, 0, 10 },
	{ "9111 4.2.3 invalid Date: the response time stands for it",
	  "Date: never", 0, 10, 0, 0, 10 },
	{ "9111 5.1 an unreadable Age makes the response stale", "Date: {T}\nAge: abc",
	  0, 10, 0, POLICY_DELTA_MAX, POLICY_DELTA_MAX },
	{ "9111 5.1 a negative Age makes the response stale", "Date: {T}\nAge: -5",
	  0, 10, 0, POLICY_DELTA_MAX, POLICY_DELTA_MAX },
	{ "9111 5.1 a list Age with whitespace makes the response stale",
	  "Date: {T}\nAge: 10, 20", 0, 0, 0, POLICY_DELTA_MAX, POLICY_DELTA_MAX },
	{ "9111 5.1 a bare-comma list Age uses its first member",
	  "Date: {T}\nAge: 10,7200", 0, 0, 0, 10, 10 },
	{ "9111 5.1 two Age lines make the response stale", "Date: {T}\nAge: 0\nAge: 0",
	  0, 0, 0, POLICY_DELTA_MAX, POLICY_DELTA_MAX },
	{ "9111 1.2.2 an overflowing Age becomes 2^31",
	  "Date: {T}\nAge: 99999999999999999999", 0, 100, 0, POLICY_DELTA_MAX,
	  POLICY_DELTA_MAX },
	{ "9111 4.2.3 a clock stepping back gives no negative resident time",
	  "Date: {T}\nAge: 5", 0, -10, 0, 5, 5 },
};

START_TEST(test_age)
{
	const struct age_case *c = &age_cases[_i];
	struct policy_stored s;
	struct policy_age a;
	struct fields resp;

	parse_fields(&resp, c->resp);
	s.status = 200;
	s.fields = &resp;
	s.request_time = T0 + c->req_off;
	s.response_time = T0;
	policy_age(&s, T0 + c->now_off, &a);
	ck_assert_msg(a.apparent_age == c->apparent, "%s: apparent %lld",
	    c->name, (long long)a.apparent_age);
	ck_assert_msg(a.corrected_initial_age == c->initial,
	    "%s: corrected_initial_age %lld", c->name,
	    (long long)a.corrected_initial_age);
	ck_assert_msg(a.current_age == c->current, "%s: current_age %lld",
	    c->name, (long long)a.current_age);
	ck_assert_msg(policy_current_age(&s, T0 + c->now_off) == c->current,
	    "%s: policy_current_age", c->name);
	fields_free(&resp);
}
END_TEST

/* ---- decide (RFC 9111 §4, §5.2, RFC 5861) ---- */

#define NONE		0	/* no stored response */
#define VARYMISS	(-1)	/* none, but the URI has other variants */

struct decide_case {
	const char		*name;
	const char		*cfg;
	const char		*method;
	const char		*req;
	int			status;		/* of the stored response, or NONE / VARYMISS */
	const char		*stored;
	int			now_off;
	enum policy_action	action;
	enum policy_fwd		fwd;
	const char		*detail;
};

static const struct decide_case decide_cases[] = {
	{ "9111 4 nothing stored: miss", NULL, "GET", NULL, NONE, NULL, 0,
	  POLICY_MISS, POLICY_FWD_URI_MISS, NULL },
	{ "9111 4.1 only other variants stored: vary miss", NULL, "GET", NULL,
	  VARYMISS, NULL, 0, POLICY_MISS, POLICY_FWD_VARY_MISS, NULL },
	{ "9111 5.2.1.7 only-if-cached and nothing stored: 504", NULL, "GET",
	  "Cache-Control: only-if-cached", NONE, NULL, 0,
	  POLICY_GATEWAY_TIMEOUT, POLICY_FWD_URI_MISS, NULL },
	{ "9111 4 POST is passed", NULL, "POST", NULL, 200,
	  "Cache-Control: max-age=60", 0, POLICY_PASS, POLICY_FWD_METHOD,
	  "method" },
	{ "9111 4 PUT is passed", NULL, "PUT", NULL, NONE, NULL, 0, POLICY_PASS,
	  POLICY_FWD_METHOD, "method" },
	{ "9111 4 OPTIONS is passed", NULL, "OPTIONS", NULL, NONE, NULL, 0,
	  POLICY_PASS, POLICY_FWD_METHOD, "method" },
	{ "9111 4 unknown methods are passed", NULL, "PURGE", NULL, NONE, NULL,
	  0, POLICY_PASS, POLICY_FWD_METHOD, "method" },
	{ "9111 4.2 fresh: served", NULL, "GET", NULL, 200,
	  "Cache-Control: max-age=60", 10, POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9111 4.2 age equal to the lifetime is stale", NULL, "GET", NULL, 200,
	  "Cache-Control: max-age=60", 60, POLICY_REVALIDATE, POLICY_FWD_STALE,
	  NULL },
	{ "9111 4.2 stale: revalidate", NULL, "GET", NULL, 200,
	  "Cache-Control: max-age=60", 100, POLICY_REVALIDATE, POLICY_FWD_STALE,
	  NULL },
	{ "9110 9.3.2 HEAD is served from a stored GET", NULL, "HEAD", NULL, 200,
	  "Cache-Control: max-age=60", 10, POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9111 4 a stored 404 is served while fresh", NULL, "GET", NULL, 404,
	  "Cache-Control: max-age=60", 10, POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9111 5.2.1.4 request no-cache on a fresh response", NULL, "GET",
	  "Cache-Control: no-cache", 200, "Cache-Control: max-age=60", 10,
	  POLICY_REVALIDATE, POLICY_FWD_REQUEST, "request no-cache" },
	{ "9111 5.2.1.4 request no-cache on a stale response", NULL, "GET",
	  "Cache-Control: no-cache", 200, "Cache-Control: max-age=60", 100,
	  POLICY_REVALIDATE, POLICY_FWD_STALE, "request no-cache" },
	{ "9111 5.2.1 request directive names are case-insensitive", NULL, "GET",
	  "Cache-Control: NO-CACHE", 200, "Cache-Control: max-age=60", 10,
	  POLICY_REVALIDATE, POLICY_FWD_REQUEST, "request no-cache" },
	{ "9111 5.4 Pragma: no-cache without Cache-Control", NULL, "GET",
	  "Pragma: no-cache", 200, "Cache-Control: max-age=60", 10,
	  POLICY_REVALIDATE, POLICY_FWD_REQUEST, "request no-cache" },
	{ "9111 5.4 Pragma is ignored when Cache-Control is present", NULL, "GET",
	  "Cache-Control: max-stale=10\nPragma: no-cache", 200,
	  "Cache-Control: max-age=60", 10, POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9111 5.2.1.1 request max-age=0 on a fresh response", NULL, "GET",
	  "Cache-Control: max-age=0", 200, "Cache-Control: max-age=60", 10,
	  POLICY_REVALIDATE, POLICY_FWD_REQUEST, "request max-age" },
	{ "9111 5.2.1.1 request max-age above the age", NULL, "GET",
	  "Cache-Control: max-age=30", 200, "Cache-Control: max-age=60", 10,
	  POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9111 5.2.1.1 request max-age equal to the age", NULL, "GET",
	  "Cache-Control: max-age=10", 200, "Cache-Control: max-age=60", 10,
	  POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9111 5.2.1.1 invalid request max-age counts as 0", NULL, "GET",
	  "Cache-Control: max-age=soon", 200, "Cache-Control: max-age=60", 10,
	  POLICY_REVALIDATE, POLICY_FWD_REQUEST, "request max-age" },
	{ "9111 5.2.1.3 min-fresh not met", NULL, "GET",
	  "Cache-Control: min-fresh=55", 200, "Cache-Control: max-age=60", 10,
	  POLICY_REVALIDATE, POLICY_FWD_REQUEST, "request min-fresh" },
	{ "9111 5.2.1.3 min-fresh just met", NULL, "GET",
	  "Cache-Control: min-fresh=50", 200, "Cache-Control: max-age=60", 10,
	  POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9111 5.2.1.3 min-fresh rules out max-stale", NULL, "GET",
	  "Cache-Control: min-fresh=0, max-stale", 200,
	  "Cache-Control: max-age=60", 100, POLICY_REVALIDATE, POLICY_FWD_STALE,
	  "request min-fresh" },
	{ "9111 5.2.1.2 max-stale without a value serves any staleness", NULL,
	  "GET", "Cache-Control: max-stale", 200, "Cache-Control: max-age=60",
	  100000, POLICY_FRESH, POLICY_FWD_NONE, "max-stale" },
	{ "9111 5.2.1.2 max-stale within its bound", NULL, "GET",
	  "Cache-Control: max-stale=50", 200, "Cache-Control: max-age=60", 100,
	  POLICY_FRESH, POLICY_FWD_NONE, "max-stale" },
	{ "9111 5.2.1.2 max-stale bound is inclusive", NULL, "GET",
	  "Cache-Control: max-stale=40", 200, "Cache-Control: max-age=60", 100,
	  POLICY_FRESH, POLICY_FWD_NONE, "max-stale" },
	{ "9111 5.2.1.2 max-stale exceeded", NULL, "GET",
	  "Cache-Control: max-stale=39", 200, "Cache-Control: max-age=60", 100,
	  POLICY_REVALIDATE, POLICY_FWD_STALE, NULL },
	{ "9111 5.2.1.2 invalid max-stale counts as 0", NULL, "GET",
	  "Cache-Control: max-stale=abc", 200, "Cache-Control: max-age=60", 61,
	  POLICY_REVALIDATE, POLICY_FWD_STALE, NULL },
	{ "9111 5.2.1.1 request max-age wins over max-stale", NULL, "GET",
	  "Cache-Control: max-age=5, max-stale", 200, "Cache-Control: max-age=60",
	  100, POLICY_REVALIDATE, POLICY_FWD_STALE, "request max-age" },
	{ "9111 5.2.2.2 must-revalidate refuses max-stale", NULL, "GET",
	  "Cache-Control: max-stale", 200,
	  "Cache-Control: max-age=60, must-revalidate", 100, POLICY_REVALIDATE,
	  POLICY_FWD_STALE, NULL },
	{ "9111 5.2.2.2 must-revalidate: a fresh response is served", NULL,
	  "GET", NULL, 200, "Cache-Control: max-age=60, must-revalidate", 10,
	  POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9111 5.2.2.8 proxy-revalidate refuses max-stale (shared)", NULL,
	  "GET", "Cache-Control: max-stale", 200,
	  "Cache-Control: max-age=60, proxy-revalidate", 100, POLICY_REVALIDATE,
	  POLICY_FWD_STALE, NULL },
	{ "9111 5.2.2.8 proxy-revalidate allows max-stale (private)", "private",
	  "GET", "Cache-Control: max-stale", 200,
	  "Cache-Control: max-age=60, proxy-revalidate", 100, POLICY_FRESH,
	  POLICY_FWD_NONE, "max-stale" },
	{ "9111 5.2.2.8 proxy-revalidate: a fresh response is served", NULL,
	  "GET", NULL, 200, "Cache-Control: max-age=60, proxy-revalidate", 10,
	  POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9111 5.2.2.10 s-maxage refuses max-stale", NULL, "GET",
	  "Cache-Control: max-stale", 200, "Cache-Control: s-maxage=60", 100,
	  POLICY_REVALIDATE, POLICY_FWD_STALE, NULL },
	{ "9111 5.2.2.4 response no-cache revalidates even when young", NULL,
	  "GET", NULL, 200, "Cache-Control: max-age=60, no-cache", 10,
	  POLICY_REVALIDATE, POLICY_FWD_STALE, "no-cache" },
	{ "9111 5.2.2.4 response no-cache refuses max-stale", NULL, "GET",
	  "Cache-Control: max-stale", 200, "Cache-Control: no-cache", 10,
	  POLICY_REVALIDATE, POLICY_FWD_STALE, "no-cache" },
	{ "9111 5.2.2.4 qualified no-cache is served while fresh", NULL, "GET",
	  NULL, 200, "Cache-Control: no-cache=\"Set-Cookie\", max-age=60", 10,
	  POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "5861 3 stale-while-revalidate within its window", NULL, "GET", NULL,
	  200, "Cache-Control: max-age=60, stale-while-revalidate=30", 70,
	  POLICY_STALE_OK, POLICY_FWD_NONE, "stale-while-revalidate" },
	{ "5861 3 stale-while-revalidate window exceeded", NULL, "GET", NULL,
	  200, "Cache-Control: max-age=60, stale-while-revalidate=30", 90,
	  POLICY_REVALIDATE, POLICY_FWD_STALE, NULL },
	{ "5861 3 stale-while-revalidate=0 never serves stale", NULL, "GET",
	  NULL, 200, "Cache-Control: max-age=60, stale-while-revalidate=0", 60,
	  POLICY_REVALIDATE, POLICY_FWD_STALE, NULL },
	{ "9111 4.2.4 must-revalidate overrides stale-while-revalidate", NULL,
	  "GET", NULL, 200,
	  "Cache-Control: max-age=60, must-revalidate, stale-while-revalidate=30",
	  70, POLICY_REVALIDATE, POLICY_FWD_STALE, NULL },
	{ "9111 4.2.4 proxy-revalidate overrides stale-while-revalidate", NULL,
	  "GET", NULL, 200,
	  "Cache-Control: max-age=60, proxy-revalidate, stale-while-revalidate=30",
	  70, POLICY_REVALIDATE, POLICY_FWD_STALE, NULL },
	{ "5861 3 the origin's stale-while-revalidate holds with s-maxage", NULL,
	  "GET", NULL, 200, "Cache-Control: s-maxage=60, stale-while-revalidate=30",
	  70, POLICY_STALE_OK, POLICY_FWD_NONE, "stale-while-revalidate" },
	{ "9111 4.2.4 no-cache overrides stale-while-revalidate", NULL, "GET",
	  NULL, 200, "Cache-Control: no-cache, stale-while-revalidate=30", 5,
	  POLICY_REVALIDATE, POLICY_FWD_STALE, "no-cache" },
	{ "5861 3 request max-age=0 rules out stale-while-revalidate", NULL,
	  "GET", "Cache-Control: max-age=0", 200,
	  "Cache-Control: max-age=60, stale-while-revalidate=30", 70,
	  POLICY_REVALIDATE, POLICY_FWD_STALE, "request max-age" },
	{ "9111 5.2.1.7 only-if-cached with a stale response: 504", NULL, "GET",
	  "Cache-Control: only-if-cached", 200, "Cache-Control: max-age=60", 100,
	  POLICY_GATEWAY_TIMEOUT, POLICY_FWD_STALE, NULL },
	{ "9111 5.2.1.7 only-if-cached with a fresh response", NULL, "GET",
	  "Cache-Control: only-if-cached", 200, "Cache-Control: max-age=60", 10,
	  POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9111 5.2.1.7 only-if-cached and max-stale", NULL, "GET",
	  "Cache-Control: only-if-cached, max-stale", 200,
	  "Cache-Control: max-age=60", 100, POLICY_FRESH, POLICY_FWD_NONE,
	  "max-stale" },
	{ "9111 5.2.1.7 only-if-cached with stale-while-revalidate", NULL, "GET",
	  "Cache-Control: only-if-cached", 200,
	  "Cache-Control: max-age=60, stale-while-revalidate=30", 70,
	  POLICY_STALE_OK, POLICY_FWD_NONE, "stale-while-revalidate" },
	{ "9111 4.3.2 If-Match goes to the origin", NULL, "GET",
	  "If-Match: \"a\"", 200, "Cache-Control: max-age=60\nETag: \"a\"", 10,
	  POLICY_PASS, POLICY_FWD_REQUEST, "origin precondition" },
	{ "9111 4.3.2 If-Unmodified-Since goes to the origin", NULL, "GET",
	  "If-Unmodified-Since: {T}", 200, "Cache-Control: max-age=60", 10,
	  POLICY_PASS, POLICY_FWD_REQUEST, "origin precondition" },
	{ "9111 4.3.2 If-None-Match is answered by the cache", NULL, "GET",
	  "If-None-Match: \"a\"", 200, "Cache-Control: max-age=60\nETag: \"a\"",
	  10, POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "8246 2 immutable: request no-cache still revalidates", NULL, "GET",
	  "Cache-Control: no-cache", 200, "Cache-Control: max-age=600, immutable",
	  10, POLICY_REVALIDATE, POLICY_FWD_REQUEST, "request no-cache" },
	{ "8246 2 immutable: request max-age=0 still revalidates", NULL, "GET",
	  "Cache-Control: max-age=0", 200,
	  "Cache-Control: max-age=600, immutable", 10, POLICY_REVALIDATE,
	  POLICY_FWD_REQUEST, "request max-age" },
	{ "9111 4.2.2 heuristically fresh", NULL, "GET", NULL, 200,
	  "Date: {T}\nLast-Modified: {T-1000}", 50, POLICY_FRESH,
	  POLICY_FWD_NONE, NULL },
	{ "9111 4.2.2 heuristically stale", NULL, "GET", NULL, 200,
	  "Date: {T}\nLast-Modified: {T-1000}", 100, POLICY_REVALIDATE,
	  POLICY_FWD_STALE, NULL },
	{ "9111 4.2.3 the Age field counts towards staleness", NULL, "GET", NULL,
	  200, "Cache-Control: max-age=60\nAge: 55", 10, POLICY_REVALIDATE,
	  POLICY_FWD_STALE, NULL },
	{ "9111 4.2.1 conflicting max-age: stale", NULL, "GET", NULL, 200,
	  "Cache-Control: max-age=60, max-age=600", 1, POLICY_REVALIDATE,
	  POLICY_FWD_STALE, NULL },
	{ "9111 5.2.1.5 request no-store may still be served", NULL, "GET",
	  "Cache-Control: no-store", 200, "Cache-Control: max-age=60", 10,
	  POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9213 2.1 CDN-Cache-Control lifetime is used", NULL, "GET", NULL, 200,
	  "Cache-Control: max-age=10\nCDN-Cache-Control: max-age=600", 100,
	  POLICY_FRESH, POLICY_FWD_NONE, NULL },
	{ "9213 2.1 CDN-Cache-Control must-revalidate", NULL, "GET",
	  "Cache-Control: max-stale", 200,
	  "Cache-Control: max-age=10\nCDN-Cache-Control: max-age=60, must-revalidate",
	  100, POLICY_REVALIDATE, POLICY_FWD_STALE, NULL },
};

START_TEST(test_decide)
{
	const struct decide_case *c = &decide_cases[_i];
	struct policy_config cfg;
	struct policy_decision d;
	struct policy_stored s;
	struct http_request req;
	struct fields stored;
	bool have = c->status > 0;

	make_cfg(&cfg, c->cfg);
	make_req(&req, c->method, c->req);
	parse_fields(&stored, c->stored);
	s.status = c->status;
	s.fields = &stored;
	s.request_time = T0;
	s.response_time = T0;
	policy_decide(&cfg, &req, have ? &s : NULL, c->status == VARYMISS,
	    T0 + c->now_off, &d);
	ck_assert_msg(d.action == c->action, "%s: action %s, want %s", c->name,
	    policy_action_name(d.action), policy_action_name(c->action));
	ck_assert_msg(d.fwd == c->fwd, "%s: fwd %s", c->name,
	    policy_fwd_name(d.fwd) ? policy_fwd_name(d.fwd) : "none");
	if (c->detail == NULL)
		ck_assert_msg(d.detail == NULL, "%s: detail %s", c->name, d.detail);
	else
		ck_assert_msg(d.detail != NULL && strcmp(d.detail, c->detail) == 0,
		    "%s: detail %s", c->name, d.detail ? d.detail : "(null)");
	fields_free(&stored);
	fields_free(&req.fields);
}
END_TEST

START_TEST(test_rfc9111_4_2_decision_numbers)
{
	struct policy_config cfg;
	struct policy_decision d;
	struct policy_stored s;
	struct http_request req;
	struct fields stored;

	policy_config_default(&cfg);
	make_req(&req, "GET", NULL);
	parse_fields(&stored, "Cache-Control: max-age=100\nAge: 15\nDate: {T}");
	s.status = 200;
	s.fields = &stored;
	s.request_time = T0;
	s.response_time = T0;
	policy_decide(&cfg, &req, &s, false, T0 + 5, &d);
	ck_assert_int_eq(d.lifetime, 100);
	ck_assert_int_eq(d.age, 20);
	ck_assert_int_eq(d.ttl, 80);
	ck_assert(!d.stale);
	policy_decide(&cfg, &req, &s, false, T0 + 95, &d);
	ck_assert_int_eq(d.ttl, -10);
	ck_assert(d.stale);
	/* The object turns stale at response_time + 100 - 15. */
	ck_assert_int_eq(policy_stale_at(&cfg, &s), T0 + 85);
	fields_free(&stored);
	fields_free(&req.fields);
}
END_TEST

START_TEST(test_rfc9211_names)
{
	ck_assert_str_eq(policy_action_name(POLICY_STALE_OK), "stale-ok");
	ck_assert_str_eq(policy_action_name(POLICY_GATEWAY_TIMEOUT),
	    "gateway-timeout");
	ck_assert_ptr_null(policy_fwd_name(POLICY_FWD_NONE));
	ck_assert_str_eq(policy_fwd_name(POLICY_FWD_VARY_MISS), "vary-miss");
	ck_assert_str_eq(policy_fwd_name(POLICY_FWD_PARTIAL), "partial");
}
END_TEST

/* ---- request directives (RFC 9111 §5.2.1) ---- */

START_TEST(test_rfc9111_5_2_1_request_directives)
{
	struct policy_request_cc rq;
	struct fields f;

	parse_fields(&f, "Cache-Control: max-age=\"5\", max-stale, min-fresh=7, "
	    "only-if-cached, stale-if-error=9");
	policy_request_cc(&f, &rq);
	ck_assert_int_eq(rq.max_age, 5);
	ck_assert_int_eq(rq.max_stale, POLICY_DELTA_MAX);
	ck_assert_int_eq(rq.min_fresh, 7);
	ck_assert_int_eq(rq.stale_if_error, 9);
	ck_assert(rq.only_if_cached);
	ck_assert(!rq.no_cache && !rq.no_store);
	fields_free(&f);

	parse_fields(&f, "Pragma: no-cache");
	policy_request_cc(&f, &rq);
	ck_assert(rq.no_cache);
	ck_assert_int_eq(rq.max_age, -1);
	ck_assert_int_eq(rq.max_stale, -1);
	fields_free(&f);
}
END_TEST

START_TEST(test_rfc9111_5_2_2_response_directives)
{
	struct policy_config cfg;
	struct policy_response_cc cc;
	struct fields f;

	policy_config_default(&cfg);
	parse_fields(&f, "Cache-Control: public, must-revalidate, "
	    "proxy-revalidate, immutable, must-understand, "
	    "stale-while-revalidate=3, stale-if-error=4, s-maxage=abc");
	policy_response_cc(&cfg, &f, &cc);
	ck_assert_int_eq(cc.source, POLICY_CC_CACHE_CONTROL);
	ck_assert(cc.public_ && cc.must_revalidate && cc.proxy_revalidate);
	ck_assert(cc.immutable && cc.must_understand);
	ck_assert_int_eq(cc.stale_while_revalidate, 3);
	ck_assert_int_eq(cc.stale_if_error, 4);
	ck_assert_int_eq(cc.s_maxage, POLICY_INVALID);
	ck_assert_int_eq(cc.max_age, -1);
	fields_free(&f);

	parse_fields(&f, "Freshd-Cache-Control: private=\"X-A\", no-cache=\"X-B\"");
	policy_response_cc(&cfg, &f, &cc);
	ck_assert_int_eq(cc.source, POLICY_CC_TARGETED);
	ck_assert(cc.private_fields && !cc.private_);
	ck_assert(cc.no_cache_fields && !cc.no_cache);
	fields_free(&f);

	parse_fields(&f, "CDN-Cache-Control: no-cache=1");
	policy_response_cc(&cfg, &f, &cc);
	ck_assert_int_eq(cc.source, POLICY_CC_CDN);
	ck_assert(cc.no_cache && !cc.no_cache_fields);
	fields_free(&f);

	parse_fields(&f, "Expires: 0");
	policy_response_cc(&cfg, &f, &cc);
	ck_assert_int_eq(cc.source, POLICY_CC_NONE);
	fields_free(&f);
}
END_TEST

/* ---- stale-if-error (RFC 5861 §4) ---- */

struct sie_case {
	const char	*name;
	const char	*cfg;
	const char	*req;
	const char	*stored;
	int		origin_status;
	int		now_off;
	bool		want;
};

static const struct sie_case sie_cases[] = {
	{ "5861 4 within stale-if-error on a 500", NULL, NULL,
	  "Cache-Control: max-age=60, stale-if-error=100", 500, 100, true },
	{ "5861 4 stale-if-error exceeded", NULL, NULL,
	  "Cache-Control: max-age=60, stale-if-error=100", 500, 160, false },
	{ "5861 4 502 is an error", NULL, NULL,
	  "Cache-Control: max-age=60, stale-if-error=100", 502, 100, true },
	{ "5861 4 503 is an error", NULL, NULL,
	  "Cache-Control: max-age=60, stale-if-error=100", 503, 100, true },
	{ "5861 4 504 is an error", NULL, NULL,
	  "Cache-Control: max-age=60, stale-if-error=100", 504, 100, true },
	{ "5861 4 404 is not an error", NULL, NULL,
	  "Cache-Control: max-age=60, stale-if-error=100", 404, 100, false },
	{ "5861 4 501 is not in the list", NULL, NULL,
	  "Cache-Control: max-age=60, stale-if-error=100", 501, 100, false },
	{ "5861 4 unreachable origin", NULL, NULL,
	  "Cache-Control: max-age=60, stale-if-error=100", 0, 100, true },
	{ "9111 5.2.2.2 must-revalidate: never stale, even on error", NULL,
	  NULL, "Cache-Control: max-age=60, must-revalidate, stale-if-error=100",
	  0, 100, false },
	{ "9111 5.2.2.8 proxy-revalidate: never stale in a shared cache", NULL,
	  NULL, "Cache-Control: max-age=60, proxy-revalidate, stale-if-error=100",
	  500, 100, false },
	{ "9111 5.2.2.8 proxy-revalidate: stale allowed in a private cache",
	  "private", NULL,
	  "Cache-Control: max-age=60, proxy-revalidate, stale-if-error=100",
	  500, 100, true },
	{ "9111 4.2.4 no-cache: never stale", NULL, NULL,
	  "Cache-Control: no-cache, stale-if-error=100", 500, 10, false },
	{ "5861 4 request stale-if-error", NULL, "Cache-Control: stale-if-error=100",
	  "Cache-Control: max-age=60", 500, 100, true },
	{ "5861 4 no stale-if-error: no stale on error", NULL, NULL,
	  "Cache-Control: max-age=60", 500, 100, false },
	{ "9111 4.2.4 disconnected: configured staleness", "unreach=3600", NULL,
	  "Cache-Control: max-age=60", 0, 1000, true },
	{ "9111 4.2.4 configured staleness is for unreachable origins only",
	  "unreach=3600", NULL, "Cache-Control: max-age=60", 500, 1000, false },
	{ "5861 4 a fresh response is always usable", NULL, NULL,
	  "Cache-Control: max-age=60", 500, 10, true },
	{ "5861 4 stale-if-error with s-maxage is honoured", NULL, NULL,
	  "Cache-Control: s-maxage=60, stale-if-error=100", 503, 100, true },
	{ "9111 5.2.2.10 s-maxage: no configured staleness when unreachable",
	  "unreach=3600", NULL, "Cache-Control: s-maxage=60", 0, 100, false },
	{ "9111 5.2.2.10 s-maxage: no request stale-if-error", NULL,
	  "Cache-Control: stale-if-error=100", "Cache-Control: s-maxage=60", 503, 100,
	  false },
	{ "9111 4.2.4 configured staleness bounded when unreachable", "unreach=3600",
	  NULL, "Cache-Control: max-age=60", 0, 3700, false },
};

START_TEST(test_stale_if_error)
{
	const struct sie_case *c = &sie_cases[_i];
	struct policy_config cfg;
	struct policy_stored s;
	struct http_request req;
	struct fields stored;
	bool got;

	make_cfg(&cfg, c->cfg);
	make_req(&req, "GET", c->req);
	parse_fields(&stored, c->stored);
	s.status = 200;
	s.fields = &stored;
	s.request_time = s.response_time = T0;
	got = policy_stale_if_error(&cfg, &req, &s, c->origin_status,
	    T0 + c->now_off);
	ck_assert_msg(got == c->want, "%s: %d", c->name, got);
	fields_free(&stored);
	fields_free(&req.fields);
}
END_TEST

/* ---- conditional requests from clients (RFC 9110 §13, RFC 9111 §4.3.2) ---- */

struct cond_case {
	const char		*name;
	const char		*method;
	const char		*req;
	int			status;
	const char		*stored;
	enum policy_cond	want;
};

#define FULL	POLICY_COND_FULL
#define NOTMOD	POLICY_COND_NOT_MODIFIED

static const struct cond_case cond_cases[] = {
	{ "9110 13.1.2 If-None-Match equal strong tags", "GET",
	  "If-None-Match: \"a\"", 200, "ETag: \"a\"", NOTMOD },
	{ "9110 8.8.3.2 If-None-Match compares weakly", "GET",
	  "If-None-Match: \"a\"", 200, "ETag: W/\"a\"", NOTMOD },
	{ "9110 8.8.3.2 weak tags on both sides match weakly", "GET",
	  "If-None-Match: W/\"a\"", 200, "ETag: W/\"a\"", NOTMOD },
	{ "9110 13.1.2 If-None-Match list containing the tag", "GET",
	  "If-None-Match: \"x\", W/\"y\", \"a\"", 200, "ETag: \"a\"", NOTMOD },
	{ "9110 13.1.2 If-None-Match over several field lines", "GET",
	  "If-None-Match: \"x\"\nIf-None-Match: \"a\"", 200, "ETag: \"a\"",
	  NOTMOD },
	{ "9110 13.1.2 If-None-Match mismatch", "GET", "If-None-Match: \"b\"",
	  200, "ETag: \"a\"", FULL },
	{ "9110 8.8.3 entity-tags are case-sensitive", "GET",
	  "If-None-Match: \"A\"", 200, "ETag: \"a\"", FULL },
	{ "9110 13.1.2 If-None-Match: * matches any stored response", "GET",
	  "If-None-Match: *", 200, "Content-Type: text/plain", NOTMOD },
	{ "9110 13.1.2 If-None-Match without a stored ETag", "GET",
	  "If-None-Match: \"a\"", 200, "Last-Modified: {T-100}", FULL },
	{ "9110 8.8.3 malformed If-None-Match member never matches", "GET",
	  "If-None-Match: a", 200, "ETag: \"a\"", FULL },
	{ "9110 13.2.2 If-None-Match takes precedence over If-Modified-Since",
	  "GET", "If-None-Match: \"b\"\nIf-Modified-Since: {T}", 200,
	  "ETag: \"a\"\nLast-Modified: {T-100}", FULL },
	{ "9110 13.1.2 HEAD with If-None-Match", "HEAD", "If-None-Match: \"a\"",
	  200, "ETag: \"a\"", NOTMOD },
	{ "9110 13.1.3 If-Modified-Since equal to Last-Modified", "GET",
	  "If-Modified-Since: {T-100}", 200, "Last-Modified: {T-100}", NOTMOD },
	{ "9110 13.1.3 If-Modified-Since after Last-Modified", "GET",
	  "If-Modified-Since: {T-50}", 200, "Last-Modified: {T-100}", NOTMOD },
	{ "9110 13.1.3 If-Modified-Since before Last-Modified", "GET",
	  "If-Modified-Since: {T-200}", 200, "Last-Modified: {T-100}", FULL },
	{ "9110 13.1.3 invalid If-Modified-Since is ignored", "GET",
	  "If-Modified-Since: yesterday", 200, "Last-Modified: {T-100}", FULL },
	{ "9110 13.1.3 repeated If-Modified-Since is ignored", "GET",
	  "If-Modified-Since: {T}\nIf-Modified-Since: {T}", 200,
	  "Last-Modified: {T-100}", FULL },
	{ "9110 5.6.7 If-Modified-Since in rfc850 form",
	  "GET", "If-Modified-Since: Tuesday, 14-Nov-23 22:13:20 GMT", 200,
	  "Last-Modified: {T-100}", NOTMOD },
	{ "9111 4.3.2 If-Modified-Since against Date without Last-Modified",
	  "GET", "If-Modified-Since: {T}", 200, "Date: {T}", NOTMOD },
	{ "9111 4.3.2 If-Modified-Since before Date without Last-Modified",
	  "GET", "If-Modified-Since: {T-1}", 200, "Date: {T}", FULL },
	{ "9111 4.3.2 If-Modified-Since against the response time", "GET",
	  "If-Modified-Since: {T}", 200, "Content-Type: text/plain", NOTMOD },
	{ "9110 13.1.3 If-Modified-Since only for GET and HEAD", "POST",
	  "If-Modified-Since: {T}", 200, "Last-Modified: {T-100}", FULL },
	{ "9111 4.3.2 only a stored 200 answers conditionals", "GET",
	  "If-None-Match: *", 404, "ETag: \"a\"", FULL },
	{ "9111 4.3.2 no conditional: full response", "GET", NULL, 200,
	  "ETag: \"a\"", FULL },
};

START_TEST(test_client_conditional)
{
	const struct cond_case *c = &cond_cases[_i];
	struct policy_stored s;
	struct http_request req;
	struct fields stored;
	enum policy_cond got;

	make_req(&req, c->method, c->req);
	parse_fields(&stored, c->stored);
	s.status = c->status;
	s.fields = &stored;
	s.request_time = s.response_time = T0;
	got = policy_client_conditional(&req, &s);
	ck_assert_msg(got == c->want, "%s: %d", c->name, got);
	fields_free(&stored);
	fields_free(&req.fields);
}
END_TEST

struct etag_case {
	const char	*name;
	const char	*a;
	const char	*b;
	bool		strong;
	bool		weak;
};

static const struct etag_case etag_cases[] = {
	{ "9110 8.8.3.2 W/\"1\" vs W/\"1\"", "W/\"1\"", "W/\"1\"", false, true },
	{ "9110 8.8.3.2 W/\"1\" vs W/\"2\"", "W/\"1\"", "W/\"2\"", false, false },
	{ "9110 8.8.3.2 W/\"1\" vs \"1\"", "W/\"1\"", "\"1\"", false, true },
	{ "9110 8.8.3.2 \"1\" vs \"1\"", "\"1\"", "\"1\"", true, true },
	{ "9110 8.8.3 empty opaque tags", "\"\"", "\"\"", true, true },
	{ "9110 8.8.3 unquoted tag is malformed", "1", "1", false, false },
	{ "9110 8.8.3 lower-case w/ is not weak", "w/\"1\"", "\"1\"", false, false },
	{ "9110 8.8.3 a space inside is malformed", "\"a b\"", "\"a b\"", false,
	  false },
	{ "9110 8.8.3 surrounding whitespace is trimmed", " \"1\" ", "\"1\"",
	  true, true },
};

START_TEST(test_etag_match)
{
	const struct etag_case *c = &etag_cases[_i];

	ck_assert_msg(policy_etag_match(c->a, strlen(c->a), c->b, strlen(c->b),
	    true) == c->strong, "%s: strong", c->name);
	ck_assert_msg(policy_etag_match(c->a, strlen(c->a), c->b, strlen(c->b),
	    false) == c->weak, "%s: weak", c->name);
}
END_TEST

/* ---- header-field builders ---- */

struct fields_case {
	const char	*name;
	const char	*cfg;
	const char	*in;
	const char	*in2;		/* the 304 for merges */
	const char	*want;		/* joined "Name: value|..." (dates expanded) */
};

static void
check_fields_eq(const char *name, const struct fields *got, const char *want)
{
	char *g = join_fields(got), *w = expand(want);

	ck_assert_msg(strcmp(g, w) == 0, "%s:\n got  %s\n want %s", name, g, w);
	free(g);
	free(w);
}

static const struct fields_case not_modified_cases[] = {
	{ "9110 15.4.5 304 fields from a stored response", NULL,
	  "Content-Type: text/html\nContent-Length: 10\nETag: \"a\"\n"
	  "Cache-Control: max-age=60\nDate: {T}\nVary: Accept-Encoding\n"
	  "Last-Modified: {T-100}\nSet-Cookie: a=b\nContent-Location: /x\n"
	  "Expires: {T+60}\nCDN-Cache-Control: max-age=5\n"
	  "Freshd-Cache-Control: max-age=6", NULL,
	  "ETag: \"a\"|Cache-Control: max-age=60|Date: {T}|Vary: Accept-Encoding|"
	  "Content-Location: /x|Expires: {T+60}|CDN-Cache-Control: max-age=5|"
	  "Freshd-Cache-Control: max-age=6" },
	{ "9110 15.4.5 Last-Modified when there is no ETag", NULL,
	  "Content-Type: text/html\nLast-Modified: {T-100}\nDate: {T}", NULL,
	  "Last-Modified: {T-100}|Date: {T}" },
	{ "9110 15.4.5 no targeted field of ours when disabled", "notarget",
	  "Freshd-Cache-Control: max-age=6\nDate: {T}", NULL, "Date: {T}" },
};

START_TEST(test_304_fields)
{
	const struct fields_case *c = &not_modified_cases[_i];
	struct policy_config cfg;
	struct fields in, out;

	make_cfg(&cfg, c->cfg);
	parse_fields(&in, c->in);
	policy_304_fields(&cfg, &in, &out);
	check_fields_eq(c->name, &out, c->want);
	fields_free(&in);
	fields_free(&out);
}
END_TEST

static const struct fields_case store_cases[] = {
	{ "9111 3.1 hop-by-hop and Connection-named fields are not stored", NULL,
	  "Date: {T}\nConnection: close, X-Hop\nKeep-Alive: timeout=5\n"
	  "X-Hop: 1\nTransfer-Encoding: chunked\nContent-Type: text/plain", NULL,
	  "Date: {T}|Content-Type: text/plain" },
	{ "9111 3.1 proxy-specific fields are not stored", NULL,
	  "Date: {T}\nProxy-Authenticate: Basic\nProxy-Authentication-Info: x",
	  NULL, "Date: {T}" },
	{ "9111 5.2.2.4 qualified no-cache fields are not stored", NULL,
	  "Date: {T}\nCache-Control: no-cache=\"Set-Cookie, X-Secret\"\n"
	  "Set-Cookie: a=b\nX-Secret: s\nX-Public: p", NULL,
	  "Date: {T}|Cache-Control: no-cache=\"Set-Cookie, X-Secret\"|"
	  "X-Public: p" },
	{ "9111 5.2.2.7 qualified private fields are not stored (shared)", NULL,
	  "Date: {T}\nCache-Control: private=Set-Cookie, max-age=5\n"
	  "Set-Cookie: a=b", NULL,
	  "Date: {T}|Cache-Control: private=Set-Cookie, max-age=5" },
	{ "9111 5.2.2.7 qualified private fields are kept (private cache)",
	  "private", "Date: {T}\nCache-Control: private=Set-Cookie\n"
	  "Set-Cookie: a=b", NULL,
	  "Date: {T}|Cache-Control: private=Set-Cookie|Set-Cookie: a=b" },
	{ "9213 2.1 targeted no-cache field list", NULL,
	  "Date: {T}\nCDN-Cache-Control: no-cache=\"X-A\"\nX-A: 1\nX-B: 2", NULL,
	  "Date: {T}|CDN-Cache-Control: no-cache=\"X-A\"|X-B: 2" },
	{ "9110 6.6.1 a missing Date is added", NULL, "Content-Type: text/plain",
	  NULL, "Content-Type: text/plain|Date: {T}" },
	{ "9110 6.6.1 an invalid Date is replaced", NULL,
	  "Date: whenever\nContent-Type: text/plain", NULL,
	  "Date: {T}|Content-Type: text/plain" },
};

START_TEST(test_store_fields)
{
	const struct fields_case *c = &store_cases[_i];
	struct policy_config cfg;
	struct fields in, out;

	make_cfg(&cfg, c->cfg);
	parse_fields(&in, c->in);
	policy_store_fields(&cfg, &in, T0, &out);
	check_fields_eq(c->name, &out, c->want);
	fields_free(&in);
	fields_free(&out);
}
END_TEST

static const struct fields_case merge_cases[] = {
	{ "9111 4.3.4 304 fields replace the stored ones", NULL,
	  "Content-Length: 10\nContent-Type: text/html\nETag: \"a\"\n"
	  "Cache-Control: max-age=60\nAge: 100\nDate: {T-1000}\nX-Old: 1",
	  "Cache-Control: max-age=120\nETag: \"a\"\nDate: {T}\nX-New: 2",
	  "Content-Length: 10|Content-Type: text/html|X-Old: 1|"
	  "Cache-Control: max-age=120|ETag: \"a\"|Date: {T}|X-New: 2" },
	{ "9111 3.2 Content-Length and body fields are not updated", NULL,
	  "Content-Length: 10\nContent-Encoding: gzip\nDate: {T-5}",
	  "Content-Length: 0\nContent-Encoding: br\nContent-Range: bytes 0-1/2\n"
	  "Transfer-Encoding: chunked\nDate: {T}",
	  "Content-Length: 10|Content-Encoding: gzip|Date: {T}" },
	{ "9111 3.1 hop-by-hop fields of the 304 are not merged", NULL,
	  "Date: {T-5}\nX-A: 1",
	  "Connection: close, X-A\nX-A: 2\nKeep-Alive: timeout=1\nDate: {T}",
	  "X-A: 1|Date: {T}" },
	{ "9111 3.2 every instance of a field is replaced", NULL,
	  "Link: <a>\nLink: <b>\nDate: {T-5}", "Link: <c>\nDate: {T}",
	  "Link: <c>|Date: {T}" },
	{ "9111 4.3.4 a 304 without Date gets the response time", NULL,
	  "Date: {T-1000}\nETag: \"a\"", "ETag: \"a\"",
	  "Date: {T}|ETag: \"a\"" },
	{ "9111 4.3.4 a 304 with its own Age keeps it", NULL,
	  "Date: {T-1000}\nAge: 100", "Date: {T}\nAge: 3", "Date: {T}|Age: 3" },
	{ "9111 3.1 fields named by the merged no-cache are removed", NULL,
	  "Date: {T-5}\nSet-Cookie: a=b",
	  "Cache-Control: no-cache=\"Set-Cookie\"\nSet-Cookie: c=d\nDate: {T}",
	  "Cache-Control: no-cache=\"Set-Cookie\"|Date: {T}" },
};

START_TEST(test_merge_304)
{
	const struct fields_case *c = &merge_cases[_i];
	struct policy_config cfg;
	struct fields in, upd, out;

	make_cfg(&cfg, c->cfg);
	parse_fields(&in, c->in);
	parse_fields(&upd, c->in2);
	policy_merge_304(&cfg, &in, &upd, T0, &out);
	check_fields_eq(c->name, &out, c->want);
	fields_free(&in);
	fields_free(&upd);
	fields_free(&out);
}
END_TEST

static const struct fields_case reval_cases[] = {
	{ "9111 4.3.1 ETag and Last-Modified become validators", NULL,
	  "ETag: W/\"a\"\nLast-Modified: {T-100}", "Accept: */*",
	  "Accept: */*|If-None-Match: W/\"a\"|If-Modified-Since: {T-100}" },
	{ "9111 4.3.1 the client's validators are replaced", NULL,
	  "ETag: \"a\"", "If-None-Match: \"zz\"\nIf-Modified-Since: {T}\nX: 1",
	  "X: 1|If-None-Match: \"a\"" },
	{ "9111 4.3.1 no stored validator: unconditional", NULL,
	  "Content-Type: text/plain", "If-None-Match: \"zz\"\nX: 1", "X: 1" },
};

START_TEST(test_revalidation_fields)
{
	const struct fields_case *c = &reval_cases[_i];
	struct fields stored, req;
	bool got;

	parse_fields(&stored, c->in);
	parse_fields(&req, c->in2);
	got = policy_revalidation_fields(&stored, &req);
	ck_assert_msg(got == (fields_get(&stored, "ETag") != NULL ||
	    fields_get(&stored, "Last-Modified") != NULL), "%s: result", c->name);
	check_fields_eq(c->name, &req, c->want);
	fields_free(&stored);
	fields_free(&req);
}
END_TEST

struct match_case {
	const char	*name;
	const char	*stored;
	const char	*resp304;
	bool		want;
};

static const struct match_case match_cases[] = {
	{ "9111 4.3.4 same strong ETag", "ETag: \"a\"", "ETag: \"a\"", true },
	{ "9111 4.3.4 different strong ETag", "ETag: \"a\"", "ETag: \"b\"", false },
	{ "9111 4.3.4 strong 304 ETag vs weak stored ETag", "ETag: W/\"a\"",
	  "ETag: \"a\"", false },
	{ "9111 4.3.4 weak 304 ETag matches weakly", "ETag: \"a\"",
	  "ETag: W/\"a\"", true },
	{ "9111 4.3.4 weak 304 ETag mismatch", "ETag: W/\"a\"", "ETag: W/\"b\"",
	  false },
	{ "9111 4.3.4 304 ETag but none stored", "Last-Modified: {T}",
	  "ETag: \"a\"", false },
	{ "9111 4.3.4 same Last-Modified", "ETag: \"a\"\nLast-Modified: {T-9}",
	  "Last-Modified: {T-9}", true },
	{ "9111 4.3.4 different Last-Modified", "Last-Modified: {T-9}",
	  "Last-Modified: {T-8}", false },
	{ "9111 4.3.4 no validators on either side", "Content-Type: text/plain",
	  "Date: {T}", true },
	{ "9111 4.3.4 no validator in the 304 but one stored", "ETag: \"a\"",
	  "Date: {T}", false },
};

START_TEST(test_304_matches)
{
	const struct match_case *c = &match_cases[_i];
	struct fields stored, r;

	parse_fields(&stored, c->stored);
	parse_fields(&r, c->resp304);
	ck_assert_msg(policy_304_matches(&stored, &r) == c->want, "%s", c->name);
	fields_free(&stored);
	fields_free(&r);
}
END_TEST

/* ---- freshening with HEAD (RFC 9111 §4.3.5) ---- */

struct head_case {
	const char	*name;
	const char	*stored;
	uint64_t	stored_len;
	const char	*head;
	bool		want;
};

static const struct head_case head_cases[] = {
	{ "9111 4.3.5 no validators, same length", NULL, 10,
	  "Content-Length: 10", true },
	{ "9111 4.3.5 no validators, no length", NULL, 10, NULL, true },
	{ "9111 4.3.5 another length", NULL, 10, "Content-Length: 11", false },
	{ "9111 4.3.5 a length that is not a number", NULL, 10,
	  "Content-Length: 1O", false },
	{ "9110 8.6 a repeated length is that length", NULL, 10,
	  "Content-Length: 10, 10", true },
	{ "9110 8.6 differing lengths", NULL, 10, "Content-Length: 10, 11", false },
	{ "9110 8.6 leading zeros are digits", NULL, 10,
	  "Content-Length: 00000000000000000010", true },
	{ "9110 8.6 a length past 2^63-1", NULL, 10,
	  "Content-Length: 99999999999999999999", false },
	{ "9111 4.3.5 same strong ETag", "ETag: \"a\"", 10,
	  "ETag: \"a\"\nContent-Length: 10", true },
	{ "9111 4.3.5 another ETag", "ETag: \"a\"", 10, "ETag: \"b\"", false },
	{ "9111 4.3.5 weak against strong is another ETag", "ETag: \"a\"", 10,
	  "ETag: W/\"a\"", false },
	{ "9111 4.3.5 same weak ETag", "ETag: W/\"a\"", 10, "ETag: W/\"a\"", true },
	{ "9111 4.3.5 an ETag where none was stored", NULL, 10, "ETag: \"a\"", false },
	{ "9111 4.3.5 a stored ETag the HEAD does not send", "ETag: \"a\"", 10,
	  "Content-Length: 10", true },
	{ "9111 4.3.5 same Last-Modified", "Last-Modified: Mon, 02 Jan 2023 00:00:00 GMT",
	  10, "Last-Modified: Mon, 02 Jan 2023 00:00:00 GMT", true },
	{ "9111 4.3.5 another Last-Modified",
	  "Last-Modified: Mon, 02 Jan 2023 00:00:00 GMT", 10,
	  "Last-Modified: Tue, 03 Jan 2023 00:00:00 GMT", false },
	{ "9111 4.3.5 same ETag, another Last-Modified",
	  "ETag: \"a\"\nLast-Modified: Mon, 02 Jan 2023 00:00:00 GMT", 10,
	  "ETag: \"a\"\nLast-Modified: Tue, 03 Jan 2023 00:00:00 GMT", false },
};

START_TEST(test_head_freshens)
{
	const struct head_case *c = &head_cases[_i];
	struct fields stored, head;

	parse_fields(&stored, c->stored);
	parse_fields(&head, c->head);
	ck_assert_msg(policy_head_freshens(&stored, c->stored_len, &head) == c->want,
	    "%s", c->name);
	fields_free(&stored);
	fields_free(&head);
}
END_TEST

/* ---- invalidation (RFC 9111 §4.4) ---- */

struct inval_case {
	const char	*name;
	const char	*method;
	const char	*target;
	int		status;
	const char	*resp;
	const char	*want;		/* keys separated by spaces; "" for none */
};

static const struct inval_case inval_cases[] = {
	{ "9111 4.4 POST 200 invalidates the target", "POST",
	  "http://example.com/a", 200, NULL, "http://example.com/a" },
	{ "9111 4.4 GET invalidates nothing", "GET", "http://example.com/a", 200,
	  "Location: /b", "" },
	{ "9111 4.4 HEAD invalidates nothing", "HEAD", "http://example.com/a",
	  200, NULL, "" },
	{ "9111 4.4 an error status invalidates nothing (500)", "POST",
	  "http://example.com/a", 500, NULL, "" },
	{ "9111 4.4 an error status invalidates nothing (404)", "DELETE",
	  "http://example.com/a", 404, NULL, "" },
	{ "9111 4.4 a 1xx invalidates nothing", "POST", "http://example.com/a",
	  100, NULL, "" },
	{ "9111 4.4 303 with a same-origin Location", "POST",
	  "http://example.com/a", 303, "Location: /other",
	  "http://example.com/a http://example.com/other" },
	{ "9111 4.4 PUT with Content-Location", "PUT", "http://example.com/a/b",
	  201, "Content-Location: /a/b?v=2",
	  "http://example.com/a/b http://example.com/a/b?v=2" },
	{ "9111 4.4 Location and Content-Location", "PATCH",
	  "http://example.com/a", 200, "Location: /l\nContent-Location: c",
	  "http://example.com/a http://example.com/l http://example.com/c" },
	{ "9111 4.4 another origin's Location is not invalidated", "DELETE",
	  "http://example.com/a", 204, "Location: http://evil.example/x",
	  "http://example.com/a" },
	{ "9111 4.4 another scheme is another origin", "POST",
	  "http://example.com/a", 200, "Location: https://example.com/a",
	  "http://example.com/a" },
	{ "9111 4.4 relative Location with dot-segments", "POST",
	  "http://example.com/a/b", 200, "Location: ../c",
	  "http://example.com/a/b http://example.com/c" },
	{ "9111 4.4 Location equal to the target is not repeated", "POST",
	  "http://example.com/a", 200, "Location: http://EXAMPLE.com:80/a",
	  "http://example.com/a" },
	{ "9111 4.4 network-path Location", "POST", "http://example.com/a", 302,
	  "Location: //example.com./x", "http://example.com/a http://example.com/x" },
	{ "9111 4.4 unknown methods are unsafe", "PURGE", "http://example.com/a",
	  200, NULL, "http://example.com/a" },
	{ "9111 4.4 an unusable Location is skipped", "POST",
	  "http://example.com/a", 200, "Location: http://exa mple.com/",
	  "http://example.com/a" },
};

START_TEST(test_invalidations)
{
	const struct inval_case *c = &inval_cases[_i];
	struct http_request req;
	struct fields resp;
	char *out[3], got[512];
	size_t n, i;

	make_req(&req, c->method, NULL);
	parse_fields(&resp, c->resp);
	n = policy_invalidations(&req, c->target, c->status, &resp, out);
	got[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(got, " ");
		strcat(got, out[i]);
		free(out[i]);
	}
	ck_assert_msg(strcmp(got, c->want) == 0, "%s: got \"%s\"", c->name, got);
	fields_free(&resp);
	fields_free(&req.fields);
}
END_TEST

/* ---- Cache-Status (RFC 9211) ---- */

struct status_case {
	const char			*name;
	const char			*cache;
	struct policy_cache_status	cs;
	const char			*want;
};

static const struct status_case status_cases[] = {
	{ "9211 2.1 hit with ttl", "freshd",
	  { .hit = true, .has_ttl = true, .ttl = 376 }, "freshd; hit; ttl=376" },
	{ "9211 2.2 miss forwarded and stored", "freshd",
	  { .fwd = POLICY_FWD_URI_MISS, .fwd_status = 200, .stored = true },
	  "freshd; fwd=uri-miss; fwd-status=200; stored" },
	{ "9211 2.2 stale revalidated with a 304", "freshd",
	  { .fwd = POLICY_FWD_STALE, .fwd_status = 304, .has_ttl = true,
	    .ttl = 60, .stored = true },
	  "freshd; fwd=stale; fwd-status=304; ttl=60; stored" },
	{ "9211 2.3 negative ttl of a stale hit", "freshd",
	  { .hit = true, .has_ttl = true, .ttl = -12,
	    .detail = "stale-while-revalidate" },
	  "freshd; hit; ttl=-12; detail=stale-while-revalidate" },
	{ "9211 2.6 collapsed request", "freshd",
	  { .fwd = POLICY_FWD_URI_MISS, .fwd_status = 200, .collapsed = true },
	  "freshd; fwd=uri-miss; fwd-status=200; collapsed" },
	{ "9211 2.2 vary-miss", "freshd", { .fwd = POLICY_FWD_VARY_MISS },
	  "freshd; fwd=vary-miss" },
	{ "9211 2.2 method", "freshd", { .fwd = POLICY_FWD_METHOD },
	  "freshd; fwd=method" },
	{ "9211 2.2 bypass", "freshd", { .fwd = POLICY_FWD_BYPASS },
	  "freshd; fwd=bypass" },
	{ "9211 2.2 request", "freshd", { .fwd = POLICY_FWD_REQUEST },
	  "freshd; fwd=request" },
	{ "9211 2.7 key is a string", "freshd",
	  { .hit = true, .key = "http://example.com/a?b" },
	  "freshd; hit; key=\"http://example.com/a?b\"" },
	{ "8941 3.3.3 quotes and backslashes are escaped in strings", "freshd",
	  { .hit = true, .key = "a\"b\\c" }, "freshd; hit; key=\"a\\\"b\\\\c\"" },
	{ "8941 3.3.3 bytes outside printable ASCII become ?", "freshd",
	  { .hit = true, .key = "a\tb\xc3\xa9" }, "freshd; hit; key=\"a?b??\"" },
	{ "9211 2.8 detail as a string when not a token", "freshd",
	  { .fwd = POLICY_FWD_REQUEST, .detail = "origin precondition" },
	  "freshd; fwd=request; detail=\"origin precondition\"" },
	{ "9211 2 cache name as a string when not a token", "edge cache",
	  { .hit = true }, "\"edge cache\"; hit" },
	{ "9211 2 cache name with : and / is a token", "freshd/1:a",
	  { .hit = true }, "freshd/1:a; hit" },
	{ "9211 2 name alone", "freshd", { .hit = false }, "freshd" },
};

START_TEST(test_cache_status)
{
	const struct status_case *c = &status_cases[_i];
	char *got = policy_cache_status(c->cache, &c->cs);

	ck_assert_msg(strcmp(got, c->want) == 0, "%s: got %s", c->name, got);
	free(got);
}
END_TEST

START_TEST(test_config_defaults)
{
	struct policy_config cfg;

	policy_config_default(&cfg);
	ck_assert(cfg.shared);
	ck_assert(cfg.heuristic_fraction > 0.099 && cfg.heuristic_fraction < 0.101);
	ck_assert_int_eq(cfg.heuristic_max, 86400);
	ck_assert_int_eq(cfg.max_ttl, 0);
	ck_assert_str_eq(cfg.targeted_field, "Freshd-Cache-Control");
	ck_assert(cfg.cdn_cache_control);
	ck_assert_int_eq(cfg.stale_if_unreachable, 0);
}
END_TEST

static Suite *
policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

#define LOOP(name, fn, table)						\
	do {								\
		tc = tcase_create(name);				\
		tcase_add_loop_test(tc, fn, 0, (int)ARRAY_LEN(table));	\
		suite_add_tcase(s, tc);					\
	} while (0)

	LOOP("storable", test_storable, storable_cases);
	LOOP("post reusable", test_post_reusable, post_cases);
	LOOP("lifetime", test_lifetime, lifetime_cases);
	LOOP("age", test_age, age_cases);
	LOOP("decide", test_decide, decide_cases);
	LOOP("stale-if-error", test_stale_if_error, sie_cases);
	LOOP("client conditional", test_client_conditional, cond_cases);
	LOOP("etag", test_etag_match, etag_cases);
	LOOP("304 fields", test_304_fields, not_modified_cases);
	LOOP("store fields", test_store_fields, store_cases);
	LOOP("merge 304", test_merge_304, merge_cases);
	LOOP("revalidation fields", test_revalidation_fields, reval_cases);
	LOOP("304 matches", test_304_matches, match_cases);
	LOOP("HEAD freshens", test_head_freshens, head_cases);
	LOOP("invalidation", test_invalidations, inval_cases);
	LOOP("cache-status", test_cache_status, status_cases);
#undef LOOP
	tc = tcase_create("misc");
	tcase_add_test(tc, test_rfc9111_4_2_decision_numbers);
	tcase_add_test(tc, test_rfc9211_names);
	tcase_add_test(tc, test_rfc9111_5_2_1_request_directives);
	tcase_add_test(tc, test_rfc9111_5_2_2_response_directives);
	tcase_add_test(tc, test_config_defaults);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

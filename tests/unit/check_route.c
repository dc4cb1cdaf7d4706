/*
 * check_route.c: Host and path to site (src/route.c), table-driven.
 *
 * The sites come from a parsed config, so the host patterns are the ones
 * config.c normalised. Host handling follows RFC 9110 §7.2 (Host carries
 * an optional port) and RFC 3986 §3.2.2 (host names are case-insensitive).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "route.h"

/* No catch-all: some requests match no site. */
static const char specific_conf[] =
	"backend b { server 127.0.0.1:8000; }\n"
	"site api { hosts api.example.com; path-prefix /v1/; backend b; }\n"
	"site www { hosts example.com www.example.com; backend b; }\n"
	"site wild { hosts *.example.com; backend b; }\n"
	"site literal { hosts [::1] 127.0.0.1; backend b; }\n"
	"site dotted { hosts Dotted.Example.; backend b; }\n"
	"site prefix { hosts prefix.example; path-prefix /api; backend b; }\n";

/* Ends with a catch-all. */
static const char catchall_conf[] =
	"backend b { server 127.0.0.1:8000; }\n"
	"site images { hosts img.example; path-prefix /images/; backend b; }\n"
	"site any { hosts *; backend b; }\n";

static const struct {
	const char	*conf;
	const char	*host;
	const char	*path;
	const char	*site;		/* NULL: no site */
} cases[] = {
	/* exact names: case, port, trailing dot (RFC 9110 §7.2) */
	{ specific_conf, "example.com", "/", "www" },
	{ specific_conf, "EXAMPLE.Com", "/", "www" },
	{ specific_conf, "example.com:8080", "/index.html", "www" },
	{ specific_conf, "example.com.", "/", "www" },
	{ specific_conf, "example.com.:443", "/", "www" },
	{ specific_conf, "www.example.com", "/", "www" },	/* before the wildcard */
	{ specific_conf, "example.co", "/", NULL },
	{ specific_conf, "example.comm", "/", NULL },
	{ specific_conf, "xexample.com", "/", NULL },
	{ specific_conf, "example.com.evil", "/", NULL },
	/* wildcards: any depth, never the bare domain */
	{ specific_conf, "a.example.com", "/", "wild" },
	{ specific_conf, "A.B.Example.COM:80", "/", "wild" },
	{ specific_conf, "a.example.com.", "/", "wild" },
	{ specific_conf, ".example.com", "/", NULL },
	{ specific_conf, "a..example.com", "/", NULL },
	{ specific_conf, "notexample.com", "/", NULL },
	{ specific_conf, "a.notexample.com", "/", NULL },
	/* path prefixes, the query ignored */
	{ specific_conf, "api.example.com", "/v1/users", "api" },
	{ specific_conf, "api.example.com", "/v1/", "api" },
	{ specific_conf, "api.example.com", "/v1/x?y=1", "api" },
	{ specific_conf, "api.example.com", "/v1", "wild" },
	{ specific_conf, "api.example.com", "/v2?/v1/", "wild" },
	{ specific_conf, "api.example.com", "/V1/users", "wild" },
	{ specific_conf, "prefix.example", "/api", "prefix" },
	{ specific_conf, "prefix.example", "/apis", "prefix" },	/* plain prefix */
	{ specific_conf, "prefix.example", "/ap", NULL },
	{ specific_conf, "prefix.example", "/", NULL },
	{ specific_conf, "prefix.example", NULL, NULL },
	/* literals, with and without a port */
	{ specific_conf, "[::1]", "/", "literal" },
	{ specific_conf, "[::1]:8080", "/", "literal" },
	{ specific_conf, "127.0.0.1:80", "/", "literal" },
	{ specific_conf, "[::2]:8080", "/", NULL },
	{ specific_conf, "dotted.example", "/", "dotted" },
	{ specific_conf, "DOTTED.EXAMPLE.:1", "/", "dotted" },
	/* no host */
	{ specific_conf, NULL, "/", NULL },
	{ specific_conf, "", "/", NULL },
	{ specific_conf, ":80", "/", NULL },
	/* the catch-all takes everything the sites before it do not */
	{ catchall_conf, "img.example", "/images/a.png", "images" },
	{ catchall_conf, "img.example", "/images", "any" },
	{ catchall_conf, "other.example", "/images/a.png", "any" },
	{ catchall_conf, NULL, "/", "any" },
	{ catchall_conf, "", "/", "any" },
	{ catchall_conf, NULL, NULL, "any" },
	{ catchall_conf, "[::1]:8080", "*", "any" },
};

START_TEST(test_route)
{
	struct config *c = NULL;
	const struct cfg_site *s;
	char err[256];

	if (config_parse("route.conf", cases[_i].conf, strlen(cases[_i].conf), &c,
	    err, sizeof(err)) != 0)
		ck_abort_msg("%s", err);
	s = route_find(c, cases[_i].host, cases[_i].path);
	if (cases[_i].site == NULL)
		ck_assert_msg(s == NULL, "host %s path %s: got site %s, want none",
		    cases[_i].host ? cases[_i].host : "(null)",
		    cases[_i].path ? cases[_i].path : "(null)", s->name);
	else
		ck_assert_msg(s != NULL && strcmp(s->name, cases[_i].site) == 0,
		    "host %s path %s: got site %s, want %s",
		    cases[_i].host ? cases[_i].host : "(null)",
		    cases[_i].path ? cases[_i].path : "(null)",
		    s ? s->name : "(none)", cases[_i].site);
	config_free(c);
}
END_TEST

/* The site returned is the config's own, with its backend. */
START_TEST(test_route_returns_config_site)
{
	struct config *c = NULL;
	const struct cfg_site *s;
	char err[256];

	ck_assert_int_eq(config_parse("route.conf", catchall_conf,
	    strlen(catchall_conf), &c, err, sizeof(err)), 0);
	s = route_find(c, "x", "/");
	ck_assert_ptr_eq(s, &c->sites[1]);
	ck_assert_ptr_eq(s->backend, &c->backends[0]);
	config_free(c);
}
END_TEST

/* Quick mode (--origin only) takes every request. */
START_TEST(test_route_quick_mode)
{
	struct config *c = config_default();
	struct config_overrides o = { .origin = "http://127.0.0.1:8000" };
	char err[256];

	ck_assert_ptr_null(route_find(c, "example.com", "/"));
	ck_assert_int_eq(config_apply_overrides(c, &o, err, sizeof(err)), 0);
	ck_assert_ptr_eq(route_find(c, "example.com", "/x"), &c->sites[0]);
	ck_assert_ptr_eq(route_find(c, NULL, NULL), &c->sites[0]);
	config_free(c);
}
END_TEST

static Suite *
route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("route");

	tcase_add_loop_test(tc, test_route, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_route_returns_config_site);
	tcase_add_test(tc, test_route_quick_mode);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(route_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

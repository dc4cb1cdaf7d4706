/*
 * check_config.c: the config parser (src/config.c).
 *
 * Every directive is parsed into its struct member; every kind of error is
 * reported as "FILE:LINE: message" with the right line (last line, nested
 * blocks, after comments); the value parsers' edge cases and overflows; the
 * command-line overrides and validation; and the keyword table against
 * man/freshd.conf.5 (each keyword's name, syntax, doc sentence and default
 * appear there verbatim).
 */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define FILE_NAME	"t.conf"

static struct config *
parse_ok(const char *text)
{
	struct config *c = NULL;
	char err[256] = "";

	if (config_parse(FILE_NAME, text, strlen(text), &c, err, sizeof(err)) != 0)
		ck_abort_msg("unexpected error: %s\n--- in:\n%s", err, text);
	ck_assert_ptr_nonnull(c);
	return c;
}

static void
parse_err(const char *text, const char *want)
{
	struct config *c = NULL;
	char err[256] = "";

	ck_assert_msg(config_parse(FILE_NAME, text, strlen(text), &c, err,
	    sizeof(err)) == -1, "no error for:\n%s", text);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(err, want);
}

/* ---- every directive ---- */

static const char full_text[] =
	"# every directive, none at its default\n"
	"workers 4;\n"
	"listen 127.0.0.1:8081;\n"
	"listen [::1]:8082;\n"
	"listen *:8083 tls;\n"
	"via edge-1;\n"
	"tls {\n"
	"    certificate /etc/freshd/a.pem /etc/freshd/a.key;\n"
	"    certificate \"/etc/freshd/b both.pem\";\n"
	"    ciphers ECDHE-RSA-AES128-GCM-SHA256;\n"
	"    ciphersuites TLS_AES_128_GCM_SHA256;\n"
	"    session-tickets off;\n"
	"}\n"
	"limits {\n"
	"    request-line 4k;\n"
	"    header-bytes 64K;\n"
	"    header-fields 50;\n"
	"    connections 123;\n"
	"    header-timeout 1500ms;\n"
	"    idle-timeout 2m;\n"
	"    send-timeout 1h;\n"
	"}\n"
	"cache {\n"
	"    dir \"/var/cache/fresh d\";\n"
	"    size 2g;\n"
	"    eviction s3fifo;\n"
	"    heuristic-fraction 2.5%;\n"
	"    heuristic-max 2h;\n"
	"    max-ttl 30d;\n"
	"    targeted-field Edge-Cache-Control;\n"
	"    cdn-cache-control off;\n"
	"    vary-first-member Accept-Language;\n"
	"    vary-first-member accept X-Device \"X-Flags\";\n"
	"    stale-if-unreachable 90;\n"
	"}\n"
	"log {\n"
	"    access /var/log/access.log;\n"
	"    error /var/log/error.log;\n"
	"    level debug;\n"
	"}\n"
	"site www {\n"
	"    hosts Example.COM. *.example.com;\n"
	"    path-prefix /app/;\n"
	"    backend later;\n"
	"    max-body 0;\n"
	"    host-header set internal.example:8443;\n"
	"    x-forwarded-for off;\n"
	"    x-forwarded-proto off;\n"
	"    forwarded on;\n"
	"    pass-proxy-authorization on;\n"
	"    cache off;\n"
	"    cache-status-key on;\n"
	"    heuristic off;\n"
	"    range-offset-limit 0;\n"
	"    underscore-fields on;\n"
	"}\n"
	"backend later {\n"
	"    server 10.0.0.1:80;\n"
	"    server [2001:db8::1]:8080;\n"
	"    server origin.example:81;\n"
	"    pool-idle 7;\n"
	"    pool-max 9;\n"
	"    idle-timeout 5s;\n"
	"    connect-timeout 250ms;\n"
	"    first-byte-timeout 10;\n"
	"    read-timeout 1m;\n"
	"}\n";

START_TEST(test_every_directive)
{
	struct config *c = parse_ok(full_text);
	const struct cfg_backend *b;
	const struct cfg_site *s;

	ck_assert_str_eq(c->file, FILE_NAME);
	ck_assert_uint_eq(c->workers, 4);
	ck_assert_uint_eq(c->nlisteners, 3);
	ck_assert_str_eq(c->listeners[0].host, "127.0.0.1");
	ck_assert_uint_eq(c->listeners[0].port, 8081);
	ck_assert_str_eq(c->listeners[1].host, "::1");
	ck_assert_uint_eq(c->listeners[1].port, 8082);
	ck_assert_str_eq(c->listeners[2].host, "*");
	ck_assert_uint_eq(c->listeners[2].port, 8083);
	ck_assert(!c->listeners[0].tls && !c->listeners[1].tls && c->listeners[2].tls);
	ck_assert_uint_eq(c->listeners[2].line, 5);
	ck_assert_str_eq(c->via_name, "edge-1");
	ck_assert_uint_eq(c->tls_line, 7);
	ck_assert_uint_eq(c->ntls_certificates, 2);
	ck_assert_str_eq(c->tls_certificates[0].chain, "/etc/freshd/a.pem");
	ck_assert_str_eq(c->tls_certificates[0].key, "/etc/freshd/a.key");
	ck_assert_uint_eq(c->tls_certificates[0].line, 8);
	ck_assert_str_eq(c->tls_certificates[1].chain, "/etc/freshd/b both.pem");
	ck_assert_str_eq(c->tls_certificates[1].key, "/etc/freshd/b both.pem");
	ck_assert_uint_eq(c->tls_certificates[1].line, 9);
	ck_assert_str_eq(c->tls_ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
	ck_assert_str_eq(c->tls_ciphersuites, "TLS_AES_128_GCM_SHA256");
	ck_assert(!c->tls_session_tickets);
	ck_assert_ptr_null(c->tls);	/* built by tls_server_new, not the parser */

	ck_assert_uint_eq(c->max_request_line, 4096);
	ck_assert_uint_eq(c->max_head_bytes, 65536);
	ck_assert_uint_eq(c->max_fields, 50);
	ck_assert_uint_eq(c->max_connections, 123);
	ck_assert_uint_eq(c->header_timeout_ms, 1500);
	ck_assert_uint_eq(c->idle_timeout_ms, 120000);
	ck_assert_uint_eq(c->send_timeout_ms, 3600000);

	ck_assert_str_eq(c->cache_dir, "/var/cache/fresh d");
	ck_assert_uint_eq(c->cache_size, (uint64_t)2 << 30);
	ck_assert_str_eq(c->cache_eviction, "s3fifo");
	ck_assert_double_eq(c->cache_heuristic_fraction, 0.025);
	ck_assert_uint_eq(c->cache_heuristic_max_s, 7200);	/* seconds, not ms */
	ck_assert_uint_eq(c->cache_max_ttl_s, 30 * 86400);
	ck_assert_str_eq(c->cache_targeted_field, "Edge-Cache-Control");
	ck_assert(!c->cache_cdn_cache_control);
	ck_assert_uint_eq(c->ncache_vary_first_member, 4);	/* both lines, in order */
	ck_assert_str_eq(c->cache_vary_first_member[0], "Accept-Language");
	ck_assert_str_eq(c->cache_vary_first_member[1], "accept");
	ck_assert_str_eq(c->cache_vary_first_member[2], "X-Device");
	ck_assert_str_eq(c->cache_vary_first_member[3], "X-Flags");
	ck_assert_uint_eq(c->cache_stale_if_unreachable_s, 90);

	ck_assert_str_eq(c->access_log, "/var/log/access.log");
	ck_assert_str_eq(c->error_log, "/var/log/error.log");
	ck_assert_int_eq(c->log_level, LOG_LEVEL_DEBUG);

	ck_assert_uint_eq(c->nbackends, 1);
	b = &c->backends[0];
	ck_assert_str_eq(b->name, "later");
	ck_assert_uint_eq(b->nservers, 3);
	ck_assert_str_eq(b->servers[0].host, "10.0.0.1");
	ck_assert_uint_eq(b->servers[0].port, 80);
	ck_assert_str_eq(b->servers[1].host, "2001:db8::1");
	ck_assert_uint_eq(b->servers[1].port, 8080);
	ck_assert_str_eq(b->servers[2].host, "origin.example");
	ck_assert_uint_eq(b->servers[2].port, 81);
	ck_assert_uint_eq(b->pool_idle, 7);
	ck_assert_uint_eq(b->pool_max, 9);
	ck_assert_uint_eq(b->idle_timeout_ms, 5000);
	ck_assert_uint_eq(b->connect_timeout_ms, 250);
	ck_assert_uint_eq(b->first_byte_timeout_ms, 10000);
	ck_assert_uint_eq(b->read_timeout_ms, 60000);

	ck_assert_uint_eq(c->nsites, 1);
	s = &c->sites[0];
	ck_assert_str_eq(s->name, "www");
	ck_assert_uint_eq(s->nhosts, 2);
	ck_assert_str_eq(s->hosts[0], "example.com");	/* normalised */
	ck_assert_str_eq(s->hosts[1], "*.example.com");
	ck_assert_str_eq(s->path_prefix, "/app/");
	ck_assert_ptr_eq(s->backend, b);		/* defined later in the file */
	ck_assert_uint_eq(s->max_body, 0);
	ck_assert_int_eq(s->host_header, HOST_SET);
	ck_assert_str_eq(s->host_value, "internal.example:8443");
	ck_assert(!s->x_forwarded_for);
	ck_assert(!s->x_forwarded_proto);
	ck_assert(s->forwarded);
	ck_assert(s->pass_proxy_authorization);
	ck_assert(!s->cache);
	ck_assert(s->cache_status_key);
	ck_assert(!s->heuristic);
	ck_assert_uint_eq(s->range_offset_limit, 0);
	ck_assert(s->underscore_fields);
	config_free(c);
}
END_TEST

/* The defaults, whichever way a config is made. */
static void
check_defaults(const struct config *c)
{
	ck_assert_uint_eq(c->workers, 0);
	ck_assert_uint_eq(c->nlisteners, 1);
	ck_assert_str_eq(c->listeners[0].host, "127.0.0.1");
	ck_assert_uint_eq(c->listeners[0].port, 8080);
	ck_assert_str_eq(c->via_name, "freshd");
	ck_assert_uint_eq(c->max_request_line, 8 * 1024);
	ck_assert_uint_eq(c->max_head_bytes, 32 * 1024);
	ck_assert_uint_eq(c->max_fields, 100);
	ck_assert_uint_eq(c->max_connections, 10000);
	ck_assert_uint_eq(c->header_timeout_ms, 10000);
	ck_assert_uint_eq(c->idle_timeout_ms, 60000);
	ck_assert_uint_eq(c->send_timeout_ms, 60000);
	ck_assert_str_eq(c->cache_dir, "./var/freshd");
	ck_assert_uint_eq(c->cache_size, (uint64_t)1 << 30);
	ck_assert_str_eq(c->cache_eviction, "sieve");
	ck_assert_double_eq(c->cache_heuristic_fraction, 0.1);	/* RFC 9111 §4.2.2's 10% */
	ck_assert_uint_eq(c->cache_heuristic_max_s, 86400);
	ck_assert_uint_eq(c->cache_max_ttl_s, 0);
	ck_assert_str_eq(c->cache_targeted_field, "Freshd-Cache-Control");
	ck_assert(c->cache_cdn_cache_control);
	ck_assert_uint_eq(c->ncache_vary_first_member, 0);
	ck_assert_ptr_null(c->cache_vary_first_member);
	ck_assert_uint_eq(c->cache_stale_if_unreachable_s, 86400);
	ck_assert_str_eq(c->access_log, "stderr");
	ck_assert_str_eq(c->error_log, "stderr");
	ck_assert_int_eq(c->log_level, LOG_LEVEL_INFO);
	ck_assert(!c->listeners[0].tls);
	ck_assert_uint_eq(c->ntls_certificates, 0);
	ck_assert_uint_eq(c->tls_line, 0);
	ck_assert_str_eq(c->tls_ciphers,
	    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
	ck_assert_str_eq(c->tls_ciphersuites,
	    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256");
	ck_assert(c->tls_session_tickets);
	ck_assert_ptr_null(c->tls);
}

static void
check_backend_defaults(const struct cfg_backend *b)
{
	ck_assert_uint_eq(b->pool_idle, 32);
	ck_assert_uint_eq(b->pool_max, 0);
	ck_assert_uint_eq(b->idle_timeout_ms, 60000);
	ck_assert_uint_eq(b->connect_timeout_ms, 3000);
	ck_assert_uint_eq(b->first_byte_timeout_ms, 60000);
	ck_assert_uint_eq(b->read_timeout_ms, 60000);
}

static void
check_site_defaults(const struct cfg_site *s)
{
	ck_assert_uint_eq(s->nhosts, 1);
	ck_assert_str_eq(s->hosts[0], "*");
	ck_assert_str_eq(s->path_prefix, "/");
	ck_assert_uint_eq(s->max_body, (uint64_t)1 << 30);
	ck_assert_int_eq(s->host_header, HOST_KEEP);
	ck_assert_ptr_null(s->host_value);
	ck_assert(s->x_forwarded_for);
	ck_assert(s->x_forwarded_proto);
	ck_assert(!s->forwarded);
	ck_assert(!s->pass_proxy_authorization);
	ck_assert(s->cache);
	ck_assert(!s->cache_status_key);
	ck_assert(s->heuristic);
	ck_assert_uint_eq(s->range_offset_limit, 1024 * 1024);
	ck_assert(!s->underscore_fields);
}

START_TEST(test_config_default)
{
	struct config *c = config_default();

	check_defaults(c);
	ck_assert_ptr_null(c->file);
	ck_assert_uint_eq(c->nbackends, 0);
	ck_assert_uint_eq(c->nsites, 0);
	config_free(c);
}
END_TEST

START_TEST(test_empty_file)
{
	struct config *c = parse_ok("  # nothing but a comment\n\n");

	check_defaults(c);
	ck_assert_str_eq(c->file, FILE_NAME);
	ck_assert_uint_eq(c->nsites, 0);
	config_free(c);
}
END_TEST

/* The example of the format's definition, every directive at its default. */
START_TEST(test_documented_defaults)
{
	struct config *c = parse_ok(
	    "workers 0;\nlisten 127.0.0.1:8080;\nvia freshd;\n"
	    "limits {\n request-line 8k;\n header-bytes 32k;\n header-fields 100;\n"
	    " connections 10000;\n header-timeout 10s;\n idle-timeout 60s;\n"
	    " send-timeout 60s;\n}\n"
	    "cache {\n dir ./var/freshd;\n size 1g;\n eviction sieve;\n"
	    " heuristic-fraction 10%;\n heuristic-max 1d;\n max-ttl 0;\n"
	    " targeted-field Freshd-Cache-Control;\n cdn-cache-control on;\n"
	    " stale-if-unreachable 1d;\n}\n"
	    "log {\n access stderr;\n error stderr;\n level info;\n}\n"
	    "backend origin {\n server 127.0.0.1:8000;\n pool-idle 32;\n"
	    " pool-max 0;\n idle-timeout 60s;\n connect-timeout 3s;\n"
	    " first-byte-timeout 60s;\n read-timeout 60s;\n}\n"
	    "site default {\n hosts *;\n path-prefix /;\n backend origin;\n"
	    " max-body 1g;\n host-header keep;\n x-forwarded-for on;\n"
	    " x-forwarded-proto on;\n forwarded off;\n"
	    " pass-proxy-authorization off;\n cache on;\n cache-status-key off;\n"
	    " heuristic on;\n underscore-fields off;\n range-offset-limit 1m;\n}\n");

	check_defaults(c);
	ck_assert_uint_eq(c->nbackends, 1);
	check_backend_defaults(&c->backends[0]);
	ck_assert_uint_eq(c->nsites, 1);
	check_site_defaults(&c->sites[0]);
	ck_assert_ptr_eq(c->sites[0].backend, &c->backends[0]);
	config_free(c);
}
END_TEST

/* Blocks that give nothing but what is required get every default. */
START_TEST(test_block_defaults)
{
	struct config *c = parse_ok(
	    "site s{backend b;}backend b{server h:1;}limits{}cache{}log{}");

	check_defaults(c);
	check_backend_defaults(&c->backends[0]);
	check_site_defaults(&c->sites[0]);
	config_free(c);
}
END_TEST

START_TEST(test_sites_in_order)
{
	struct config *c = parse_ok(
	    "backend a { server a.example:80; }\n"
	    "backend b { server b.example:80; server b2.example:80; }\n"
	    "site one { hosts one.example; backend b; }\n"
	    "site two { backend a; }\n"
	    "site three { hosts three.example \"quoted.example\"; backend b; }\n");

	ck_assert_uint_eq(c->nsites, 3);
	ck_assert_str_eq(c->sites[0].name, "one");
	ck_assert_str_eq(c->sites[1].name, "two");
	ck_assert_str_eq(c->sites[2].name, "three");
	ck_assert_ptr_eq(c->sites[0].backend, &c->backends[1]);
	ck_assert_ptr_eq(c->sites[1].backend, &c->backends[0]);
	ck_assert_ptr_eq(c->sites[2].backend, &c->backends[1]);
	ck_assert_uint_eq(c->sites[2].nhosts, 2);
	ck_assert_str_eq(c->sites[2].hosts[1], "quoted.example");
	ck_assert_uint_eq(c->backends[1].nservers, 2);
	config_free(c);
}
END_TEST

START_TEST(test_host_header_modes)
{
	struct config *c = parse_ok(
	    "backend b { server h:1; }\n"
	    "site k { backend b; host-header keep; }\n"
	    "site b { backend b; host-header backend; }\n"
	    "site s { backend b; host-header set \"[::1]:8080\"; }\n");

	ck_assert_int_eq(c->sites[0].host_header, HOST_KEEP);
	ck_assert_int_eq(c->sites[1].host_header, HOST_BACKEND);
	ck_assert_ptr_null(c->sites[1].host_value);
	ck_assert_int_eq(c->sites[2].host_header, HOST_SET);
	ck_assert_str_eq(c->sites[2].host_value, "[::1]:8080");
	config_free(c);
}
END_TEST

START_TEST(test_cache_values)
{
	struct config *c = parse_ok(
	    "cache {\n"
	    "    heuristic-fraction 0%;\n"		/* disables heuristic freshness */
	    "    heuristic-max 0;\n"
	    "    max-ttl 365d;\n"
	    "    targeted-field off;\n"
	    "    eviction lru;\n"
	    "    vary-first-member \"X!#$%&'*+-.^_`|~9\";\n"	/* every tchar */
	    "}\n");

	ck_assert_double_eq(c->cache_heuristic_fraction, 0);
	ck_assert_uint_eq(c->cache_heuristic_max_s, 0);
	ck_assert_uint_eq(c->cache_max_ttl_s, 365 * 86400);
	ck_assert_ptr_null(c->cache_targeted_field);
	ck_assert_str_eq(c->cache_eviction, "lru");
	ck_assert_uint_eq(c->ncache_vary_first_member, 1);
	ck_assert_str_eq(c->cache_vary_first_member[0], "X!#$%&'*+-.^_`|~9");
	config_free(c);

	c = parse_ok("cache { heuristic-fraction 100%; eviction sieve; }");
	ck_assert_double_eq(c->cache_heuristic_fraction, 1);
	ck_assert_str_eq(c->cache_eviction, "sieve");
	config_free(c);
}
END_TEST

/* Each site has its own cache switches; the defaults hold where none is given. */
START_TEST(test_site_cache_switches)
{
	struct config *c = parse_ok(
	    "backend b { server h:1; }\n"
	    "site off { backend b; cache off; heuristic off; }\n"
	    "site key { backend b; cache-status-key on; }\n"
	    "site plain { backend b; }\n");

	ck_assert(!c->sites[0].cache);
	ck_assert(!c->sites[0].heuristic);
	ck_assert(!c->sites[0].cache_status_key);
	ck_assert(c->sites[1].cache);
	ck_assert(c->sites[1].heuristic);
	ck_assert(c->sites[1].cache_status_key);
	check_site_defaults(&c->sites[2]);
	config_free(c);
}
END_TEST

START_TEST(test_syntax_variants)
{
	/* No whitespace where none is needed, CRLF line ends, comments glued
	 * to tokens, quoted strings with both escapes, a final line without
	 * a newline. */
	struct config *c = parse_ok(
	    "via freshd;# comment right after\r\n"
	    "cache{dir \"a \\\"b\\\" \\\\c # not a comment\";size 16M;}\r\n"
	    "log { access off; level warn; }#end\r\n"
	    "listen 0.0.0.0:1;listen 127.0.0.1:65535;");

	ck_assert_str_eq(c->cache_dir, "a \"b\" \\c # not a comment");
	ck_assert_uint_eq(c->cache_size, 16u << 20);
	ck_assert_str_eq(c->access_log, "off");
	ck_assert_int_eq(c->log_level, LOG_LEVEL_WARN);
	ck_assert_uint_eq(c->nlisteners, 2);
	ck_assert_uint_eq(c->listeners[1].port, 65535);
	config_free(c);
}
END_TEST

/* ---- errors: exact "FILE:LINE: message" ---- */

static const struct {
	const char	*text;
	const char	*want;
} errors[] = {
	/* TLS listeners and the tls block */
	{ "listen 127.0.0.1:8443 ssl;\n",
	  "t.conf:1: invalid option \"ssl\" for \"listen\": expected tls or "
	  "nothing after the address" },
	{ "listen 127.0.0.1:8443 tls tls;\n",
	  "t.conf:1: wrong number of arguments for \"listen\": expected 1 to 2, got 3" },
	{ "workers 1;\nlisten 127.0.0.1:8443 tls;\n",
	  "t.conf:2: listener 127.0.0.1:8443 is marked tls but no certificate is "
	  "given: expected a tls block with a \"certificate\" directive" },
	{ "listen 127.0.0.1:8443 tls;\ntls {\n  ciphers HIGH;\n}\n",
	  "t.conf:2: tls \"tls\" has no \"certificate\" directive: at least one "
	  "is required" },
	{ "tls { certificate a b c; }\n",
	  "t.conf:1: wrong number of arguments for \"certificate\": expected 1 to "
	  "2, got 3" },
	{ "tls { certificate \"\"; }\n",
	  "t.conf:1: empty path for \"certificate\": expected a PEM file" },
	{ "tls { certificate a;\n ciphers \"HIGH !aNULL\"; }\n",
	  "t.conf:2: invalid cipher list \"HIGH !aNULL\" for \"ciphers\": expected "
	  "names separated by \":\" in OpenSSL's syntax" },
	{ "tls { certificate a; session-tickets maybe; }\n",
	  "t.conf:1: invalid value \"maybe\" for \"session-tickets\": expected on "
	  "or off" },
	{ "tls { certificate a; }\ntls { certificate b; }\n",
	  "t.conf:2: duplicate block \"tls\": first opened at line 1" },
	{ "tls { listen 127.0.0.1:1; }\n",
	  "t.conf:1: unknown directive \"listen\" in block \"tls\"" },
	/* unknown directives, at the top and in each kind of block */
	{ "lissten 127.0.0.1:8080;\n",
	  "t.conf:1: unknown directive \"lissten\" in block \"main\"" },
	{ "limits {\n    request-lin 8k;\n}\n",
	  "t.conf:2: unknown directive \"request-lin\" in block \"limits\"" },
	{ "backend b {\n server h:1;\n}\nsite s {\n backend b;\n caching on;\n}\n",
	  "t.conf:6: unknown directive \"caching\" in block \"site\"" },
	{ "cache {\n heuristic on;\n}\n",
	  "t.conf:2: unknown directive \"heuristic\" in block \"cache\"" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n max-ttl 1h;\n}\n",
	  "t.conf:4: unknown directive \"max-ttl\" in block \"site\"" },
	{ "limits {\n limits {\n }\n}\n",
	  "t.conf:2: unknown directive \"limits\" in block \"limits\"" },
	{ "Workers 1;", "t.conf:1: unknown directive \"Workers\" in block \"main\"" },
	/* after comments spanning several lines */
	{ "# one\n# two\n\n   # three { ; }\nworkers x;\n",
	  "t.conf:5: invalid number \"x\" for \"workers\": expected an integer from 0 to 1024" },
	/* missing ";" */
	{ "workers 4\nvia x;\n", "t.conf:1: missing \";\" after \"workers\"" },
	{ "via x", "t.conf:1: missing \";\" after \"via\"" },
	{ "via x\n# trailing comment\n\n", "t.conf:1: missing \";\" after \"via\"" },
	{ "log {\n level info\n}\n", "t.conf:2: missing \";\" after \"level\"" },
	{ "backend b { server h:1; }\nsite s {\n  hosts a.example\n"
	  "    b.example\n  backend b;\n}\n",
	  "t.conf:4: missing \";\" after \"hosts\"" },
	{ "via x\nlimits {\n}\n", "t.conf:1: missing \";\" after \"via\"" },
	/* braces */
	{ "limits {\n connections 5;\n",
	  "t.conf:2: unexpected end of file: block \"limits\" opened at line 1 "
	  "is not closed, expected \"}\"" },
	{ "limits {\n connections 5;",
	  "t.conf:2: unexpected end of file: block \"limits\" opened at line 1 "
	  "is not closed, expected \"}\"" },
	{ "via x;\n}\n", "t.conf:2: unexpected \"}\": no block is open" },
	{ "log { level info; } }", "t.conf:1: unexpected \"}\": no block is open" },
	{ "via x {\n}\n",
	  "t.conf:1: unexpected \"{\": \"via\" is not a block in block \"main\", expected \";\"" },
	{ "limits;\n", "t.conf:1: unexpected \";\": expected \"{\" after \"limits\"" },
	{ "\n\nlimits", "t.conf:3: unexpected end of file: expected \"{\" after \"limits\"" },
	{ "{ }", "t.conf:1: unexpected \"{\": expected a directive name" },
	{ "via x;\n;\n", "t.conf:2: unexpected \";\": expected a directive name" },
	{ "\"via\" x;", "t.conf:1: unexpected string \"via\": expected a directive name" },
	/* labels */
	{ "backend {\n}\n",
	  "t.conf:1: missing label for block \"backend\": expected backend NAME { ... }" },
	{ "site a b {\n}\n",
	  "t.conf:1: too many labels for block \"site\": expected site NAME { ... }" },
	{ "cache x {\n}\n", "t.conf:1: block \"cache\" takes no label: expected cache { ... }" },
	{ "backend \"a b\" { server h:1; }",
	  "t.conf:1: invalid label \"a b\" for block \"backend\": expected letters, "
	  "digits, \"-\", \"_\" or \".\"" },
	/* argument counts */
	{ "workers 1 2;", "t.conf:1: wrong number of arguments for \"workers\": expected 1, got 2" },
	{ "\nworkers;", "t.conf:2: wrong number of arguments for \"workers\": expected 1, got 0" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n hosts;\n}",
	  "t.conf:4: wrong number of arguments for \"hosts\": expected at least 1, got 0" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n host-header set;\n}",
	  "t.conf:4: wrong number of arguments for \"host-header set\": expected a value" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n host-header keep x;\n}",
	  "t.conf:4: wrong number of arguments for \"host-header keep\": expected none after it" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n host-header set a b;\n}",
	  "t.conf:4: wrong number of arguments for \"host-header\": expected 1 to 2, got 3" },
	/* values */
	{ "cache {\n  dir /x;\n  size 12q;\n}\n",
	  "t.conf:3: invalid size \"12q\" for \"size\": expected a number with optional k, m or g" },
	{ "cache { size 16383g; size 1k; }",
	  "t.conf:1: duplicate directive \"size\": first given at line 1" },
	{ "cache { size 17179869184g; }",
	  "t.conf:1: invalid size \"17179869184g\" for \"size\": expected a number "
	  "with optional k, m or g" },
	{ "cache { size 1k; }",
	  "t.conf:1: invalid size \"1k\" for \"size\": expected at least 64k" },
	{ "limits { request-line 8; }",
	  "t.conf:1: invalid size \"8\" for \"request-line\": expected from 16 to 1m" },
	{ "limits { header-bytes 32kb; }",
	  "t.conf:1: invalid size \"32kb\" for \"header-bytes\": expected a number "
	  "with optional k, m or g" },
	{ "workers 2000;",
	  "t.conf:1: invalid number \"2000\" for \"workers\": expected an integer from 0 to 1024" },
	{ "workers -1;",
	  "t.conf:1: invalid number \"-1\" for \"workers\": expected an integer from 0 to 1024" },
	{ "limits { header-fields 0; }",
	  "t.conf:1: invalid number \"0\" for \"header-fields\": expected an integer from 1 to 100000" },
	{ "limits { header-timeout 0; }",
	  "t.conf:1: invalid duration \"0\" for \"header-timeout\": expected from 1ms to 24h" },
	{ "limits { idle-timeout 25h; }",
	  "t.conf:1: invalid duration \"25h\" for \"idle-timeout\": expected from 1ms to 24h" },
	{ "limits { send-timeout 10d; }",
	  "t.conf:1: invalid duration \"10d\" for \"send-timeout\": expected from 1ms to 24h" },
	{ "limits { send-timeout 5000000h; }",
	  "t.conf:1: invalid duration \"5000000h\" for \"send-timeout\": expected a number "
	  "with optional ms, s, m, h or d" },
	{ "limits { send-timeout 1w; }",
	  "t.conf:1: invalid duration \"1w\" for \"send-timeout\": expected a number "
	  "with optional ms, s, m, h or d" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n forwarded yes;\n}",
	  "t.conf:4: invalid value \"yes\" for \"forwarded\": expected on or off" },
	{ "via \"free shd\";",
	  "t.conf:1: invalid name \"free shd\" for \"via\": expected letters, digits, "
	  "\"-\", \"_\" or \".\"" },
	{ "cache { dir \"\"; }", "t.conf:1: empty path for \"dir\": expected a directory" },
	{ "log { access \"\"; }",
	  "t.conf:1: empty path for \"access\": expected a path, stderr or off" },
	{ "log { error off; }",
	  "t.conf:1: invalid value \"off\" for \"error\": expected a path or stderr" },
	{ "log { level verbose; }",
	  "t.conf:1: invalid level \"verbose\" for \"level\": expected error, warn, info or debug" },
	{ "listen 127.0.0.1:0;",
	  "t.conf:1: invalid address \"127.0.0.1:0\" for \"listen\": expected HOST:PORT, "
	  "[IPV6]:PORT or *:PORT with a port from 1 to 65535" },
	{ "listen ::1:80;",
	  "t.conf:1: invalid address \"::1:80\" for \"listen\": expected HOST:PORT, "
	  "[IPV6]:PORT or *:PORT with a port from 1 to 65535" },
	{ "backend b {\n server *:80;\n}",
	  "t.conf:2: invalid address \"*:80\" for \"server\": expected HOST:PORT or "
	  "[IPV6]:PORT with a port from 1 to 65535" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n hosts ok.example a*.example;\n}",
	  "t.conf:4: invalid host pattern \"a*.example\" for \"hosts\": expected a host "
	  "name, *.DOMAIN or *" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n path-prefix api;\n}",
	  "t.conf:4: invalid path prefix \"api\" for \"path-prefix\": expected a path "
	  "starting with \"/\", without \"?\" or \"#\"" },
	{ "backend b { server h:1; }\nsite s {\n backend \"b b\";\n}",
	  "t.conf:3: invalid name \"b b\" for \"backend\": expected letters, digits, "
	  "\"-\", \"_\" or \".\"" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n host-header replace;\n}",
	  "t.conf:4: invalid value \"replace\" for \"host-header\": expected keep, "
	  "backend or set VALUE" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n host-header set \"a\\\\b\";\n}",
	  "t.conf:4: invalid host \"a\\b\" for \"host-header set\": expected HOST or HOST:PORT" },
	/* the cache block's freshness and store directives */
	{ "cache {\n heuristic-fraction 10;\n}\n",
	  "t.conf:2: invalid percentage \"10\" for \"heuristic-fraction\": expected "
	  "from 0% to 100%, such as 10% or 2.5%" },
	{ "cache {\n\n heuristic-fraction 100.5%;\n}\n",
	  "t.conf:3: invalid percentage \"100.5%\" for \"heuristic-fraction\": expected "
	  "from 0% to 100%, such as 10% or 2.5%" },
	{ "cache { heuristic-fraction -1%; }",
	  "t.conf:1: invalid percentage \"-1%\" for \"heuristic-fraction\": expected "
	  "from 0% to 100%, such as 10% or 2.5%" },
	{ "cache { heuristic-fraction 0.1; }",
	  "t.conf:1: invalid percentage \"0.1\" for \"heuristic-fraction\": expected "
	  "from 0% to 100%, such as 10% or 2.5%" },
	{ "cache { heuristic-fraction 10 %; }",
	  "t.conf:1: wrong number of arguments for \"heuristic-fraction\": expected 1, got 2" },
	{ "cache {\n heuristic-max 1500ms;\n}\n",
	  "t.conf:2: invalid duration \"1500ms\" for \"heuristic-max\": expected whole "
	  "seconds: a number with optional s, m, h or d" },
	{ "cache { max-ttl 366d; }",
	  "t.conf:1: invalid duration \"366d\" for \"max-ttl\": expected from 0 to 365d" },
	{ "cache { max-ttl 5000000000; }",
	  "t.conf:1: invalid duration \"5000000000\" for \"max-ttl\": expected whole "
	  "seconds: a number with optional s, m, h or d" },
	{ "backend b {\n tls-server-name a..b;\n}\n",
	  "t.conf:2: invalid host name \"a..b\" for \"tls-server-name\": expected labels "
	  "of 1 to 63 characters separated by dots, 253 in all" },
	{ "backend b { tls-server-name aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; }",
	  "t.conf:1: invalid host name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.\" for \"tls-server-name\": "
	  "expected labels of 1 to 63 characters separated by dots, 253 in all" },
	{ "cache { stale-if-unreachable 1y; }",
	  "t.conf:1: invalid duration \"1y\" for \"stale-if-unreachable\": expected whole "
	  "seconds: a number with optional s, m, h or d" },
	{ "cache {\n\n targeted-field \"Bad Name\";\n}\n",
	  "t.conf:3: invalid field name \"Bad Name\" for \"targeted-field\": expected a "
	  "token of letters, digits and !#$%&'*+-.^_`|~, or off" },
	{ "cache { targeted-field Edge-Cache-Control:; }",
	  "t.conf:1: invalid field name \"Edge-Cache-Control:\" for \"targeted-field\": "
	  "expected a token of letters, digits and !#$%&'*+-.^_`|~, or off" },
	{ "cache { targeted-field \"\"; }",
	  "t.conf:1: invalid field name \"\" for \"targeted-field\": expected a token of "
	  "letters, digits and !#$%&'*+-.^_`|~, or off" },
	{ "cache { cdn-cache-control yes; }",
	  "t.conf:1: invalid value \"yes\" for \"cdn-cache-control\": expected on or off" },
	{ "cache {\n vary-first-member Accept\n   \"Accept Language\";\n}\n",
	  "t.conf:3: invalid field name \"Accept Language\" for \"vary-first-member\": "
	  "expected a token of letters, digits and !#$%&'*+-.^_`|~" },
	{ "cache { vary-first-member Accept; vary-first-member (x); }",
	  "t.conf:1: invalid field name \"(x)\" for \"vary-first-member\": expected a "
	  "token of letters, digits and !#$%&'*+-.^_`|~" },
	{ "cache {\n vary-first-member;\n}\n",
	  "t.conf:2: wrong number of arguments for \"vary-first-member\": expected at "
	  "least 1, got 0" },
	{ "cache {\n eviction clock;\n}\n",
	  "t.conf:2: invalid eviction policy \"clock\" for \"eviction\": expected sieve, "
	  "lru or s3fifo" },
	{ "cache { eviction SIEVE; }",
	  "t.conf:1: invalid eviction policy \"SIEVE\" for \"eviction\": expected sieve, "
	  "lru or s3fifo" },
	{ "cache { eviction lru s3fifo; }",
	  "t.conf:1: wrong number of arguments for \"eviction\": expected 1, got 2" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n cache x;\n}",
	  "t.conf:4: invalid value \"x\" for \"cache\": expected on or off" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n cache-status-key 1;\n}",
	  "t.conf:4: invalid value \"1\" for \"cache-status-key\": expected on or off" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n heuristic;\n}",
	  "t.conf:4: wrong number of arguments for \"heuristic\": expected 1, got 0" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n cache on\n heuristic off;\n}",
	  "t.conf:4: missing \";\" after \"cache\"" },
	/* duplicates */
	{ "via a;\nvia b;\n", "t.conf:2: duplicate directive \"via\": first given at line 1" },
	{ "limits {\n}\n\nlimits { }\n",
	  "t.conf:4: duplicate block \"limits\": first opened at line 1" },
	{ "backend origin {\n server h:1;\n}\nbackend origin {\n server h:2;\n}\n",
	  "t.conf:4: duplicate backend \"origin\": first defined at line 1" },
	{ "backend b { server h:1; }\nsite s { backend b; }\nsite x { backend b; }\n"
	  "site s { backend b; }\n",
	  "t.conf:4: duplicate site \"s\": first defined at line 2" },
	{ "backend b {\n server h:1;\n pool-max 1;\n pool-max 2;\n}\n",
	  "t.conf:4: duplicate directive \"pool-max\": first given at line 3" },
	{ "cache {\n eviction lru;\n\n eviction sieve;\n}\n",
	  "t.conf:4: duplicate directive \"eviction\": first given at line 2" },
	{ "cache {\n targeted-field off;\n targeted-field X-CC;\n}\n",
	  "t.conf:3: duplicate directive \"targeted-field\": first given at line 2" },
	{ "backend b { server h:1; }\nsite s {\n backend b;\n cache off;\n cache on;\n}",
	  "t.conf:5: duplicate directive \"cache\": first given at line 4" },
	/* references and required directives */
	{ "backend b { server h:1; }\nsite s {\n\n backend nothere;\n}\n",
	  "t.conf:4: undefined backend \"nothere\" in site \"s\": expected the label "
	  "of a backend block" },
	{ "backend b { server h:1; }\n\nsite s {\n hosts *;\n}\n",
	  "t.conf:3: site \"s\" has no \"backend\" directive: one is required" },
	{ "backend b {\n pool-idle 1;\n}\n",
	  "t.conf:1: backend \"b\" has no \"server\" directive: at least one is required" },
	/* lexical */
	{ "via \"abc;\nworkers 1;",
	  "t.conf:1: unterminated string: expected a closing '\"' on the same line" },
	{ "via \"abc\\\"", "t.conf:1: unterminated string: expected a closing '\"' on the same line" },
	{ "via x;\nvia \"a\\nb\";", "t.conf:2: invalid escape in string: expected \\\" or \\\\" },
	{ "via x;\nvia a\x01;", "t.conf:2: invalid character 0x01" },
	{ "via \"a\x7f\";", "t.conf:1: invalid character 0x7f in string" },
};

START_TEST(test_errors)
{
	parse_err(errors[_i].text, errors[_i].want);
}
END_TEST

START_TEST(test_error_nul_byte)
{
	static const char text[] = "via x;\nworkers 1\0;\n";
	struct config *c = NULL;
	char err[256];

	ck_assert_int_eq(config_parse(FILE_NAME, text, sizeof(text) - 1, &c, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "t.conf:2: invalid character 0x00");
	/* A short buffer truncates, an absent one is not written. */
	ck_assert_int_eq(config_parse(FILE_NAME, text, sizeof(text) - 1, &c, err, 8), -1);
	ck_assert_str_eq(err, "t.conf:");
	ck_assert_int_eq(config_parse(FILE_NAME, text, sizeof(text) - 1, &c, NULL, 0), -1);
	ck_assert_ptr_null(c);
}
END_TEST

/* ---- value parsers ---- */

static const struct {
	const char	*in;
	int		ret;
	uint64_t	out;
} sizes[] = {
	{ "0", 0, 0 },
	{ "512", 0, 512 },
	{ "16k", 0, 16384 },
	{ "16K", 0, 16384 },
	{ "1m", 0, 1048576 },
	{ "2G", 0, (uint64_t)2 << 30 },
	{ "007", 0, 7 },
	{ "18446744073709551615", 0, UINT64_MAX },
	{ "17179869183g", 0, (uint64_t)17179869183 << 30 },
	{ "18446744073709551616", -1, 0 },
	{ "17179869184g", -1, 0 },
	{ "99999999999999999999999", -1, 0 },
	{ "", -1, 0 },
	{ "k", -1, 0 },
	{ "1t", -1, 0 },
	{ "1kb", -1, 0 },
	{ "-1", -1, 0 },
	{ "+1", -1, 0 },
	{ " 1", -1, 0 },
	{ "1 k", -1, 0 },
	{ "1.5m", -1, 0 },
	{ "0x10", -1, 0 },
};

START_TEST(test_sizes)
{
	uint64_t v = 12345;

	ck_assert_msg(config_parse_size(sizes[_i].in, &v) == sizes[_i].ret,
	    "\"%s\"", sizes[_i].in);
	if (sizes[_i].ret == 0)
		ck_assert_uint_eq(v, sizes[_i].out);
	else
		ck_assert_uint_eq(v, 12345);	/* untouched */
}
END_TEST

static const struct {
	const char	*in;
	int		ret;
	unsigned	ms;
} durations[] = {
	{ "0", 0, 0 },
	{ "10", 0, 10000 },
	{ "10s", 0, 10000 },
	{ "10S", 0, 10000 },
	{ "500ms", 0, 500 },
	{ "500MS", 0, 500 },
	{ "5m", 0, 300000 },
	{ "1h", 0, 3600000 },
	{ "4294967295ms", 0, 4294967295u },
	{ "4294967s", 0, 4294967000u },
	{ "1193h", 0, 4294800000u },
	{ "4294967296ms", -1, 0 },
	{ "4294968s", -1, 0 },
	{ "1194h", -1, 0 },
	{ "71583m", -1, 0 },
	{ "99999999999999999999ms", -1, 0 },
	{ "", -1, 0 },
	{ "s", -1, 0 },
	{ "ms", -1, 0 },
	{ "1d", 0, 86400000 },
	{ "1D", 0, 86400000 },
	{ "49d", 0, 4233600000u },
	{ "50d", -1, 0 },
	{ "1dd", -1, 0 },
	{ "d", -1, 0 },
	{ "1w", -1, 0 },
	{ "1sec", -1, 0 },
	{ "1.5s", -1, 0 },
	{ "-1s", -1, 0 },
	{ "1 s", -1, 0 },
};

START_TEST(test_durations)
{
	unsigned v = 12345;

	ck_assert_msg(config_parse_duration(durations[_i].in, &v) == durations[_i].ret,
	    "\"%s\"", durations[_i].in);
	if (durations[_i].ret == 0)
		ck_assert_uint_eq(v, durations[_i].ms);
	else
		ck_assert_uint_eq(v, 12345);
}
END_TEST

/* The seconds members (config.h): same units as durations but "ms". */
static const struct {
	const char	*in;
	int		ret;
	unsigned	s;
} seconds[] = {
	{ "0", 0, 0 },
	{ "90", 0, 90 },
	{ "90s", 0, 90 },
	{ "2m", 0, 120 },
	{ "1h", 0, 3600 },
	{ "1d", 0, 86400 },
	{ "7D", 0, 604800 },
	{ "365d", 0, 31536000 },
	{ "49710d", 0, 4294944000u },
	{ "4294967295", 0, 4294967295u },
	{ "4294967295s", 0, 4294967295u },
	{ "4294967296", -1, 0 },
	{ "49711d", -1, 0 },
	{ "99999999999999999999d", -1, 0 },
	{ "1000ms", -1, 0 },
	{ "0ms", -1, 0 },
	{ "", -1, 0 },
	{ "s", -1, 0 },
	{ "d", -1, 0 },
	{ "1.5d", -1, 0 },
	{ "-1", -1, 0 },
	{ "1w", -1, 0 },
	{ "1 d", -1, 0 },
};

START_TEST(test_seconds)
{
	unsigned v = 12345;

	ck_assert_msg(config_parse_seconds(seconds[_i].in, &v) == seconds[_i].ret,
	    "\"%s\"", seconds[_i].in);
	if (seconds[_i].ret == 0)
		ck_assert_uint_eq(v, seconds[_i].s);
	else
		ck_assert_uint_eq(v, 12345);
}
END_TEST

/* heuristic-fraction (RFC 9111 §4.2.2): N% to N / 100, correctly rounded. */
static const struct {
	const char	*in;
	int		ret;
	double		fraction;
} percents[] = {
	{ "0%", 0, 0 },
	{ "10%", 0, 0.1 },
	{ "2.5%", 0, 0.025 },
	{ "100%", 0, 1 },
	{ "100.000%", 0, 1 },
	{ "007%", 0, 0.07 },
	{ "0.001%", 0, 0.00001 },
	{ "99.99%", 0, 0.9999 },
	{ "33.3333333333333%", 0, 0.333333333333333 },	/* 15 digits */
	{ "33.33333333333333%", -1, 0 },		/* 16 */
	{ "100.001%", -1, 0 },
	{ "101%", -1, 0 },
	{ "18446744073709551616%", -1, 0 },
	{ "10", -1, 0 },
	{ "%", -1, 0 },
	{ "", -1, 0 },
	{ ".5%", -1, 0 },
	{ "5.%", -1, 0 },
	{ "1.2.3%", -1, 0 },
	{ "-1%", -1, 0 },
	{ "+1%", -1, 0 },
	{ "1e1%", -1, 0 },
	{ " 1%", -1, 0 },
	{ "1 %", -1, 0 },
	{ "10%%", -1, 0 },
	{ "1,5%", -1, 0 },
};

START_TEST(test_percents)
{
	double v = 12345;

	ck_assert_msg(config_parse_percent(percents[_i].in, &v) == percents[_i].ret,
	    "\"%s\"", percents[_i].in);
	if (percents[_i].ret == 0)
		ck_assert_double_eq(v, percents[_i].fraction);
	else
		ck_assert_double_eq(v, 12345);
}
END_TEST

static const struct {
	const char	*in;
	int		ret;
	const char	*host;
	uint16_t	port;
} hostports[] = {
	{ "127.0.0.1:8080", 0, "127.0.0.1", 8080 },
	{ "localhost:1", 0, "localhost", 1 },
	{ "Origin.Example:65535", 0, "Origin.Example", 65535 },
	{ "[::1]:8080", 0, "::1", 8080 },
	{ "[2001:db8::42]:443", 0, "2001:db8::42", 443 },
	{ "[::ffff:10.0.0.1]:80", 0, "::ffff:10.0.0.1", 80 },
	{ "*:8080", 0, "*", 8080 },
	{ "host:08080", 0, "host", 8080 },
	{ "a_b-c.d:9", 0, "a_b-c.d", 9 },
	{ "host:0", -1, NULL, 0 },
	{ "host:65536", -1, NULL, 0 },
	{ "host:99999999999999999999", -1, NULL, 0 },
	{ "host:", -1, NULL, 0 },
	{ "host", -1, NULL, 0 },
	{ ":80", -1, NULL, 0 },
	{ "::1:80", -1, NULL, 0 },
	{ "[::1]", -1, NULL, 0 },
	{ "[::1]80", -1, NULL, 0 },
	{ "[::1:80", -1, NULL, 0 },
	{ "[]:80", -1, NULL, 0 },
	{ "[not-v6]:80", -1, NULL, 0 },
	{ "[127.0.0.1]:80", -1, NULL, 0 },
	{ "host:+80", -1, NULL, 0 },
	{ "host:-80", -1, NULL, 0 },
	{ "host:80 ", -1, NULL, 0 },
	{ "ho st:80", -1, NULL, 0 },
	{ "a..b:80", -1, NULL, 0 },
	{ ".a:80", -1, NULL, 0 },
	{ "**:80", -1, NULL, 0 },
	{ "*.example:80", -1, NULL, 0 },
	{ "user@host:80", -1, NULL, 0 },
	{ "host:80/path", -1, NULL, 0 },
	{ "", -1, NULL, 0 },
};

START_TEST(test_hostports)
{
	char *host = NULL;
	uint16_t port = 0;

	ck_assert_msg(config_parse_hostport(hostports[_i].in, &host, &port) ==
	    hostports[_i].ret, "\"%s\"", hostports[_i].in);
	if (hostports[_i].ret == 0) {
		ck_assert_str_eq(host, hostports[_i].host);
		ck_assert_uint_eq(port, hostports[_i].port);
	} else {
		ck_assert_ptr_null(host);
	}
	free(host);
}
END_TEST

START_TEST(test_hostname_length)
{
	char name[300], *host = NULL;
	uint16_t port;

	/* 253 bytes of name is the DNS limit (RFC 1035 §2.3.4). */
	memset(name, 'a', sizeof(name));
	for (size_t i = 63; i < 253; i += 64)
		name[i] = '.';
	strcpy(name + 253, ":80");
	ck_assert_int_eq(config_parse_hostport(name, &host, &port), 0);
	ck_assert_uint_eq(strlen(host), 253);
	free(host);
	name[253] = 'a';
	strcpy(name + 254, ":80");
	ck_assert_int_eq(config_parse_hostport(name, &host, &port), -1);
}
END_TEST

/* ---- overrides and validation ---- */

START_TEST(test_validate_needs_site)
{
	struct config *c = config_default();
	char err[256];

	ck_assert_int_eq(config_validate(c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no site configured: give --origin http://HOST:PORT "
	    "or a config file with a site block");
	config_free(c);
}
END_TEST

START_TEST(test_origin_quick_mode)
{
	struct config *c = config_default();
	struct config_overrides o = { .origin = "http://127.0.0.1:8000" };
	char err[256] = "";

	ck_assert_int_eq(config_apply_overrides(c, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(config_validate(c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c->nbackends, 1);
	ck_assert_str_eq(c->backends[0].name, "origin");
	check_backend_defaults(&c->backends[0]);
	ck_assert_uint_eq(c->backends[0].nservers, 1);
	ck_assert_str_eq(c->backends[0].servers[0].host, "127.0.0.1");
	ck_assert_uint_eq(c->backends[0].servers[0].port, 8000);
	ck_assert_uint_eq(c->nsites, 1);
	ck_assert_str_eq(c->sites[0].name, "default");
	check_site_defaults(&c->sites[0]);
	ck_assert_ptr_eq(c->sites[0].backend, &c->backends[0]);
	check_defaults(c);
	config_free(c);
}
END_TEST

/* A file with backends but no site: "origin" is reused, not duplicated. */
START_TEST(test_origin_no_site_with_backends)
{
	struct config *c = parse_ok(
	    "backend other { server o:1; }\n"
	    "backend origin { server a:1; server b:2; pool-idle 3; }\n");
	struct config_overrides o = { .origin = "http://new.example" };
	char err[256];

	ck_assert_int_eq(config_apply_overrides(c, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(c->nbackends, 2);
	ck_assert_uint_eq(c->nsites, 1);
	ck_assert_ptr_eq(c->sites[0].backend, &c->backends[1]);
	ck_assert_uint_eq(c->backends[1].pool_idle, 3);
	ck_assert_uint_eq(c->backends[1].nservers, 1);
	ck_assert_str_eq(c->backends[1].servers[0].host, "new.example");
	ck_assert_uint_eq(c->backends[1].servers[0].port, 80);
	ck_assert(!c->backends[1].tls);
	ck_assert_uint_eq(c->backends[0].nservers, 1);
	ck_assert_str_eq(c->backends[0].servers[0].host, "o");
	config_free(c);
}
END_TEST

/* An https:// origin: port 443 by default, and TLS on for the backends it
 * names (and only those); an http:// one turns it off again. */
START_TEST(test_origin_https)
{
	struct config *c = parse_ok(
	    "backend used { server a:1; }\n"
	    "backend unused { server u:1; tls on; }\n"
	    "site s { backend used; }\n");
	struct config_overrides o = { .origin = "HTTPS://secure.example" };
	char err[256];

	ck_assert_int_eq(config_apply_overrides(c, &o, err, sizeof(err)), 0);
	ck_assert_str_eq(c->backends[0].servers[0].host, "secure.example");
	ck_assert_uint_eq(c->backends[0].servers[0].port, 443);
	ck_assert(c->backends[0].tls);
	ck_assert(c->backends[0].tls_verify);
	ck_assert(c->backends[1].tls);
	o.origin = "http://plain.example:8080";
	ck_assert_int_eq(config_apply_overrides(c, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(c->backends[0].servers[0].port, 8080);
	ck_assert(!c->backends[0].tls);
	config_free(c);

	c = config_default();
	o.origin = "https://[::1]:8443";
	ck_assert_int_eq(config_apply_overrides(c, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(c->nsites, 1);
	ck_assert_str_eq(c->sites[0].backend->servers[0].host, "::1");
	ck_assert_uint_eq(c->sites[0].backend->servers[0].port, 8443);
	ck_assert(c->sites[0].backend->tls);
	config_free(c);
}
END_TEST

START_TEST(test_origin_with_sites)
{
	struct config *c = parse_ok(
	    "backend used1 { server a:1; server a:2; }\n"
	    "backend unused { server u:1; }\n"
	    "backend used2 { server b:1; }\n"
	    "site x { hosts x.example; backend used1; }\n"
	    "site y { backend used2; }\n"
	    "site z { backend used1; }\n");
	struct config_overrides o = { .origin = "HTTP://[::1]:9000/" };
	char err[256];
	size_t i;

	ck_assert_int_eq(config_apply_overrides(c, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(c->nbackends, 3);
	ck_assert_uint_eq(c->nsites, 3);
	for (i = 0; i < 3; i += 2) {
		ck_assert_uint_eq(c->backends[i].nservers, 1);
		ck_assert_str_eq(c->backends[i].servers[0].host, "::1");
		ck_assert_uint_eq(c->backends[i].servers[0].port, 9000);
	}
	ck_assert_str_eq(c->backends[1].servers[0].host, "u");
	ck_assert_str_eq(c->sites[0].hosts[0], "x.example");
	config_free(c);
}
END_TEST

START_TEST(test_other_overrides)
{
	struct config *c = parse_ok("listen a:1;\nlisten b:2;\nworkers 3;\n"
	    "cache { dir /old; }\n");
	struct config_overrides o = {
		.listen = "[::]:8443", .cache_dir = "/new", .workers = 5,
	};
	char err[256];

	ck_assert_int_eq(config_apply_overrides(c, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(c->nlisteners, 1);
	ck_assert_str_eq(c->listeners[0].host, "::");
	ck_assert_uint_eq(c->listeners[0].port, 8443);
	ck_assert_str_eq(c->cache_dir, "/new");
	ck_assert_uint_eq(c->workers, 5);
	ck_assert_uint_eq(c->nsites, 0);		/* no origin given */

	/* Nothing set: nothing changes. */
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(config_apply_overrides(c, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(c->workers, 5);
	ck_assert_uint_eq(c->nlisteners, 1);
	config_free(c);
}
END_TEST

static const struct {
	struct config_overrides	o;
	const char		*want;
} bad_overrides[] = {
	{ { .origin = "ftp://a.example" },
	  "invalid --origin \"ftp://a.example\": expected http://HOST[:PORT] or https://HOST[:PORT]" },
	{ { .origin = "https://a.example/x" },
	  "invalid --origin \"https://a.example/x\": expected http://HOST[:PORT] or https://HOST[:PORT]" },
	{ { .origin = "http://a.example/path" },
	  "invalid --origin \"http://a.example/path\": expected http://HOST[:PORT] or https://HOST[:PORT]" },
	{ { .origin = "http://a.example:8000/x?y" },
	  "invalid --origin \"http://a.example:8000/x?y\": expected http://HOST[:PORT] or https://HOST[:PORT]" },
	{ { .origin = "a.example:8000" },
	  "invalid --origin \"a.example:8000\": expected http://HOST[:PORT] or https://HOST[:PORT]" },
	{ { .origin = "http://" },
	  "invalid --origin \"http://\": expected http://HOST[:PORT] or https://HOST[:PORT]" },
	{ { .origin = "http://user@a.example" },
	  "invalid --origin \"http://user@a.example\": expected http://HOST[:PORT] or https://HOST[:PORT]" },
	{ { .origin = "http://a.example:0" },
	  "invalid --origin \"http://a.example:0\": expected http://HOST[:PORT] or https://HOST[:PORT]" },
	{ { .origin = "http://*:80" },
	  "invalid --origin \"http://*:80\": expected http://HOST[:PORT] or https://HOST[:PORT]" },
	{ { .origin = "http://::1" },
	  "invalid --origin \"http://::1\": expected http://HOST[:PORT] or https://HOST[:PORT]" },
	{ { .origin = "garbage" },
	  "invalid --origin \"garbage\": expected http://HOST[:PORT] or https://HOST[:PORT]" },
	{ { .origin = "http://ok:1", .listen = "8080" },
	  "invalid --listen \"8080\": expected HOST:PORT, [IPV6]:PORT or *:PORT with "
	  "a port from 1 to 65535" },
	{ { .origin = "http://ok:1", .cache_dir = "" },
	  "invalid --cache-dir: expected a directory" },
	{ { .origin = "http://ok:1", .workers = 1025 },
	  "invalid --workers 1025: expected an integer from 0 to 1024" },
};

START_TEST(test_bad_overrides)
{
	struct config *c = config_default();
	char err[256];

	ck_assert_int_eq(config_apply_overrides(c, &bad_overrides[_i].o, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, bad_overrides[_i].want);
	/* Nothing was applied. */
	ck_assert_uint_eq(c->nsites, 0);
	ck_assert_uint_eq(c->nbackends, 0);
	check_defaults(c);
	config_free(c);
}
END_TEST

START_TEST(test_validate_needs_listener)
{
	struct config *c = parse_ok("backend b { server h:1; }\nsite s { backend b; }\n");
	char err[256];

	ck_assert_int_eq(config_validate(c, err, sizeof(err)), 0);
	c->nlisteners = 0;
	ck_assert_int_eq(config_validate(c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no listener configured: give --listen ADDR:PORT "
	    "or a \"listen\" directive");
	c->nlisteners = 1;
	config_free(c);
}
END_TEST

/* ---- files ---- */

START_TEST(test_load)
{
	char path[] = "/tmp/check_config_XXXXXX";
	struct config *c = NULL;
	char err[512], want[512];
	int fd = mkstemp(path);
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs("backend b { server h:1; }\nsite s { backend b; }\n", f);
	fclose(f);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c->file, path);
	ck_assert_uint_eq(c->nsites, 1);
	config_free(c);

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("workers 1;\n\nworkers 2;\n", f);
	fclose(f);
	c = NULL;
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
	ck_assert_ptr_null(c);
	snprintf(want, sizeof(want), "%s:3: duplicate directive \"workers\": "
	    "first given at line 1", path);
	ck_assert_str_eq(err, want);

	unlink(path);
	ck_assert_int_eq(config_load(path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot read: no such file or directory", path);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(config_load("/", &c, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/: cannot read: is a directory");
}
END_TEST

/* ---- the keyword table and the man page ---- */

/* The man page, from $srcdir (tests/, as make check sets it) or the cwd. */
static char *
read_man_page(void)
{
	static char buf[1 << 20];
	const char *srcdir = getenv("srcdir");
	char path[1024];
	const char *dirs[] = { srcdir, "." };
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		FILE *f;
		size_t n;

		if (dirs[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/../man/freshd.conf.5", dirs[i]);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		ck_assert_uint_lt(n, sizeof(buf) - 1);
		buf[n] = '\0';
		return buf;
	}
	ck_abort_msg("man/freshd.conf.5 not found: run from tests/ or set srcdir");
	return NULL;
}

/*
 * Undoes the man page's "\-" and drops its "\:" (a place where a long
 * value may break), so it reads like the table.
 */
static void
unescape_hyphens(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] == ':') {
			s++;
			continue;
		}
		if (s[0] == '\\' && s[1] == '-')
			s++;
		*w++ = *s;
	}
	*w = '\0';
}

START_TEST(test_man_page_matches_table)
{
	char *man = read_man_page();
	char want[1024];
	struct config_keyword kw;
	size_t i;

	unescape_hyphens(man);
	for (i = 0; config_keyword(i, &kw); i++) {
		snprintf(want, sizeof(want), "\\fB%s\\fR \\fI%s\\fR\n%s\n", kw.name,
		    kw.syntax, kw.doc);
		if (kw.def != NULL)
			snprintf(want + strlen(want), sizeof(want) - strlen(want),
			    ".br\nDefault: \\fB%s\\fR.\n", kw.def);
		ck_assert_msg(strstr(man, want) != NULL, "%s/%s: man page lacks:\n%s",
		    kw.block, kw.name, want);
	}
	ck_assert_uint_ge(i, 47);
}
END_TEST

START_TEST(test_keyword_table)
{
	struct config_keyword kw;
	size_t i, blocks = 0;

	for (i = 0; config_keyword(i, &kw); i++) {
		ck_assert_ptr_nonnull(kw.doc);
		ck_assert_ptr_nonnull(kw.syntax);
		if (strcmp(kw.syntax, "{ ... }") == 0 ||
		    strcmp(kw.syntax, "NAME { ... }") == 0)
			blocks++;
	}
	ck_assert_uint_eq(blocks, 6);
	ck_assert(!config_keyword(i, &kw));
	ck_assert(!config_keyword(SIZE_MAX, &kw));
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("directives");
	tcase_add_test(tc, test_every_directive);
	tcase_add_test(tc, test_config_default);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_documented_defaults);
	tcase_add_test(tc, test_block_defaults);
	tcase_add_test(tc, test_sites_in_order);
	tcase_add_test(tc, test_host_header_modes);
	tcase_add_test(tc, test_cache_values);
	tcase_add_test(tc, test_site_cache_switches);
	tcase_add_test(tc, test_syntax_variants);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_errors, 0, sizeof(errors) / sizeof(errors[0]));
	tcase_add_test(tc, test_error_nul_byte);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_loop_test(tc, test_sizes, 0, sizeof(sizes) / sizeof(sizes[0]));
	tcase_add_loop_test(tc, test_durations, 0,
	    sizeof(durations) / sizeof(durations[0]));
	tcase_add_loop_test(tc, test_seconds, 0, sizeof(seconds) / sizeof(seconds[0]));
	tcase_add_loop_test(tc, test_percents, 0, sizeof(percents) / sizeof(percents[0]));
	tcase_add_loop_test(tc, test_hostports, 0,
	    sizeof(hostports) / sizeof(hostports[0]));
	tcase_add_test(tc, test_hostname_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("overrides");
	tcase_add_test(tc, test_validate_needs_site);
	tcase_add_test(tc, test_origin_quick_mode);
	tcase_add_test(tc, test_origin_no_site_with_backends);
	tcase_add_test(tc, test_origin_https);
	tcase_add_test(tc, test_origin_with_sites);
	tcase_add_test(tc, test_other_overrides);
	tcase_add_loop_test(tc, test_bad_overrides, 0,
	    sizeof(bad_overrides) / sizeof(bad_overrides[0]));
	tcase_add_test(tc, test_validate_needs_listener);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_keyword_table);
	tcase_add_test(tc, test_man_page_matches_table);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

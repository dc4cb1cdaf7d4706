/*
 * config.h: the in-memory configuration that workers read.
 *
 * The parser builds an immutable `struct config` from a file (or from the
 * quick-mode flags alone); workers only ever read it. A reload builds a new
 * one and swaps the pointer, so nothing here is ever modified in place once
 * start-up is over. Errors are reported as "file:line: message".
 *
 * Durations are stored in milliseconds, sizes in bytes, except members
 * whose name ends in "_s": those are whole seconds, the unit of the
 * freshness lifetimes and ages they are compared with (RFC 9111 §1.2.2
 * delta-seconds), and may exceed what an unsigned count of milliseconds
 * holds (about 49 days).
 */
#ifndef FRESHD_CONFIG_H
#define FRESHD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfg_listener {
	char		*host;		/* numeric address or name; "*" for any */
	uint16_t	port;
	bool		tls;		/* `listen ... tls`: TLS with the tls block's certificates */
	unsigned	line;		/* where it was given (0: command line) */
};

/* A `certificate` of the tls block: PEM chain (leaf first) and private key. */
struct cfg_certificate {
	char		*chain;
	char		*key;		/* the chain's file when the directive names one file */
	unsigned	line;
};

struct tls_server;
struct tls_client;

struct cfg_server {
	char		*host;
	uint16_t	port;
};

struct cfg_backend {
	char			*name;
	struct cfg_server	*servers;
	size_t			nservers;
	unsigned		pool_idle;		/* idle keep-alive connections kept per worker */
	unsigned		pool_max;		/* connections open at once per worker (0: no cap) */
	unsigned		idle_timeout_ms;	/* idle pooled connection closed after */
	unsigned		connect_timeout_ms;
	unsigned		first_byte_timeout_ms;
	unsigned		read_timeout_ms;	/* between bytes once the response started */
	/* HTTPS to the servers (tls.c builds tls_client from these) */
	bool			tls;
	bool			tls_verify;		/* certificate and name checked */
	char			*tls_ca;		/* CA file; NULL: the system's store */
	unsigned		tls_ca_line;
	char			*tls_server_name;	/* SNI and name checked; NULL: the server's host */
	struct tls_client	*tls_client;		/* built after parsing (tls_build), owned */
};

enum cfg_host_header {
	HOST_KEEP = 0,		/* forward the client's Host */
	HOST_BACKEND,		/* the backend server's host:port */
	HOST_SET,		/* a fixed value (host_value) */
};

struct cfg_site {
	char			*name;
	char			**hosts;	/* "example.com", "*.example.com" or "*" */
	size_t			nhosts;
	char			*path_prefix;	/* "/" matches everything */
	struct cfg_backend	*backend;	/* points into config->backends */
	uint64_t		max_body;	/* request body limit: 413 beyond */
	enum cfg_host_header	host_header;
	char			*host_value;	/* HOST_SET only */
	bool			x_forwarded_for;
	bool			x_forwarded_proto;
	bool			forwarded;	/* RFC 7239 Forwarded */
	bool			pass_proxy_authorization;
	/* off: every request is forwarded, without lookup or storing; responses
	 * still carry Cache-Status, with fwd=bypass (RFC 9211 §2.2). */
	bool			cache;
	bool			cache_status_key;	/* Cache-Status key="..." (RFC 9211 §2.7) */
	bool			heuristic;	/* heuristic freshness (RFC 9111 §4.2.2) */
	uint64_t		range_offset_limit;	/* range_starts_past on a miss: pass */
	bool			underscore_fields;	/* forward names with "_" */
};

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

struct config {
	char			*file;		/* NULL in quick mode */
	unsigned		workers;	/* 0: one per core */
	struct cfg_listener	*listeners;
	size_t			nlisteners;
	struct cfg_backend	*backends;
	size_t			nbackends;
	struct cfg_site		*sites;		/* in file order; first match wins */
	size_t			nsites;

	/* limits */
	size_t			max_request_line;
	size_t			max_head_bytes;
	size_t			max_fields;
	unsigned		max_connections;	/* per worker; accepting pauses beyond */
	unsigned		header_timeout_ms;	/* whole request head must arrive within */
	unsigned		idle_timeout_ms;	/* keep-alive idle time between requests */
	unsigned		send_timeout_ms;	/* client not reading for this long: closed */

	/* cache */
	char			*cache_dir;
	uint64_t		cache_size;
	uint64_t		cache_hot_memory;	/* per worker (hot.h) */
	char			*cache_eviction;	/* "sieve", "lru" or "s3fifo" */
	/* Heuristic freshness (RFC 9111 §4.2.2): this fraction (0..1) of
	 * Date - Last-Modified, capped at cache_heuristic_max_s; 0 disables. */
	double			cache_heuristic_fraction;
	unsigned		cache_heuristic_max_s;	/* seconds; 0: no cap */
	unsigned		cache_max_ttl_s;	/* cap on any freshness lifetime, s; 0: none */
	/* Staleness, in seconds, that may be served when the origin cannot be
	 * reached and no directive forbids it; 0: none. */
	unsigned		cache_stale_if_unreachable_s;
	/* freshd's own targeted cache-control field (RFC 9213), as written;
	 * NULL: off. */
	char			*cache_targeted_field;
	bool			cache_cdn_cache_control;	/* honour CDN-Cache-Control */
	/* Field names, as written (compare case-insensitively), whose value
	 * counts by its first list member only in Vary secondary keys. */
	char			**cache_vary_first_member;
	size_t			ncache_vary_first_member;

	/* logs: a path, "stderr", or "off" */
	char			*access_log;
	char			*error_log;
	enum log_level		log_level;

	char			*via_name;	/* pseudonym in Via; default "freshd" */

	/* tls block (tls.c builds the OpenSSL contexts from it) */
	struct cfg_certificate	*tls_certificates;	/* in file order; the first is the default */
	size_t			ntls_certificates;
	char			*tls_ciphers;		/* TLS 1.2 cipher list, OpenSSL syntax */
	char			*tls_ciphersuites;	/* TLS 1.3 suites, OpenSSL syntax */
	bool			tls_session_tickets;
	unsigned		tls_line;		/* where the tls block opens (0: none) */
	/*
	 * The server contexts built from the above by tls_server_new() once the
	 * file is parsed (main.c), owned by the config and freed with it; NULL
	 * when no certificate is configured. Parsing never sets it.
	 */
	struct tls_server	*tls;
};

/* Quick-mode and command-line overrides; NULL/0 members are not set. */
struct config_overrides {
	const char	*origin;	/* http[s]://HOST[:PORT] */
	const char	*listen;	/* ADDR:PORT */
	const char	*cache_dir;
	unsigned	workers;
};

/*
 * Parses text (the contents of the file called name). Returns 0 and sets
 * *out, or -1 with "name:line: message" in err.
 */
int config_parse(const char *name, const char *text, size_t len,
    struct config **out, char *err, size_t errlen);
/* Reads and parses a file. Same contract as config_parse. */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
/* The configuration with no file: defaults only (no sites until an origin is given). */
struct config *config_default(void);
/*
 * Applies overrides. --origin replaces the servers of the backend of every
 * site, or creates site "default" (hosts *) with backend "origin" when
 * there is none; an https:// origin turns tls on for those backends (with
 * their verification settings: on, against the system's CAs, by default),
 * an http:// one turns it off.
 * Returns 0, or -1 with a message in err.
 */
int config_apply_overrides(struct config *c, const struct config_overrides *o,
    char *err, size_t errlen);
/* Checks that the result is usable (at least one listener and site...). */
int config_validate(const struct config *c, char *err, size_t errlen);
void config_free(struct config *c);

/* Value parsers shared by the file and the command line. */
int config_parse_size(const char *s, uint64_t *out);		/* 512, 16k, 1m, 2g */
int config_parse_duration(const char *s, unsigned *out_ms);	/* 500ms, 30s, 5m, 1h, 1d */
int config_parse_seconds(const char *s, unsigned *out_s);	/* 30, 30s, 5m, 1h, 7d; no ms */
int config_parse_percent(const char *s, double *out_fraction);	/* 10%, 2.5%: 0.1, 0.025 */
int config_parse_hostport(const char *s, char **host, uint16_t *port);	/* host:port, [v6]:port */

/* One row of the keyword table, as documented in freshd.conf(5). */
struct config_keyword {
	const char	*block;		/* "main", "limits", "cache", "log", "tls", "backend", "site" */
	const char	*name;
	const char	*syntax;	/* its arguments, e.g. "SIZE" or "NAME { ... }" */
	const char	*def;		/* default as written in a file; NULL: none */
	const char	*doc;		/* one sentence, verbatim in the man page */
};
/*
 * Copies the i-th row of the keyword table (in file order) to *out and
 * returns true; false once i is past the end. The strings are static.
 */
bool config_keyword(size_t i, struct config_keyword *out);

#endif

/*
 * config.c: the configuration file, its defaults, the command-line
 * overrides and the checks that make a config usable.
 *
 * Design:
 *
 * - Every keyword is one row of KEYWORDS below (shared/STYLE.md practice
 *   11): the block it belongs to, its name, its type, flags, its default,
 *   its bounds, where it is stored and one sentence of documentation. The
 *   parser, the defaults (config_default() parses the defaults through the
 *   same setters as file values), the duplicate and required checks and
 *   the man page (freshd.conf(5) carries each doc sentence verbatim; the
 *   unit test checks) all come from this one table. A keyword of type
 *   T_BLOCK opens the block of the same name (blocks[]).
 *
 * - The syntax is a small strict block format: "#" starts a comment that
 *   runs to the end of the line (outside quoted strings, anywhere else),
 *   tokens are words or double-quoted strings (only \" and \\ escapes, no
 *   newline inside), a directive is `name arg... ;`, a block is
 *   `name [label] { ... }`. Blocks nest one level: they appear only at the
 *   top ("main"). Control characters other than tab, CR and LF are
 *   rejected, NUL included, since the text is length-delimited.
 *
 * - Errors are "FILE:LINE: message", message in lower case, saying what is
 *   wrong and what was expected. An error at the end of the file is
 *   reported on the file's last line (a final newline does not start a
 *   new line). A missing ";" is reported where it is missing: a word that
 *   is a directive of the current block, found on a later line while
 *   arguments are being collected, is taken as the start of the next
 *   directive.
 *
 * - Durations have one syntax (parse_duration) and two units: timeouts
 *   are milliseconds (T_DURATION), freshness lifetimes whole seconds
 *   (T_SECONDS: the delta-seconds of RFC 9111 §1.2.2, which may exceed
 *   the 49 days an unsigned count of milliseconds holds). A percentage is
 *   parsed by hand rather than with strtod, which follows the locale.
 *
 * - Sites name their backend, which may be defined later in the file; the
 *   names are kept aside while parsing and resolved into pointers into
 *   config->backends at the end, so growing the backends array never
 *   leaves a dangling pointer.
 *
 * - The parser owns the config it builds until it returns it; on any error
 *   it frees it (config_free copes with partly built configs).
 *
 * - The tls block and the backends' tls directives only name files and
 *   OpenSSL settings: parsing stays pure, and tls.c reads the files and
 *   builds the contexts afterwards (tls_build), reporting at the lines kept
 *   here (a certificate's, the tls block's, a tls-ca's). The config owns
 *   those contexts (config->tls, each backend's tls_client) and config_free
 *   frees them, so whoever holds a config holds its contexts.
 *
 * Parsing is pure (no I/O); config_load is the one function that reads a
 * file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "tls.h"
#include "util.h"

#define CONFIG_MAX_FILE		(16u * 1024 * 1024)
#define MAX_HOSTNAME		253

enum block {
	B_MAIN = 0,
	B_LIMITS,
	B_CACHE,
	B_LOG,
	B_TLS,
	B_BACKEND,
	B_SITE,
	NBLOCKS
};

enum objkind {
	OBJ_CONFIG = 0,
	OBJ_BACKEND,
	OBJ_SITE,
};

static const struct blockdef {
	const char	*name;
	enum objkind	obj;		/* the struct its keywords are stored in */
	bool		labeled;	/* `name LABEL { ... }`, label unique */
} blocks[NBLOCKS] = {
	[B_MAIN] =	{ "main",	OBJ_CONFIG,	false },
	[B_LIMITS] =	{ "limits",	OBJ_CONFIG,	false },
	[B_CACHE] =	{ "cache",	OBJ_CONFIG,	false },
	[B_LOG] =	{ "log",	OBJ_CONFIG,	false },
	[B_TLS] =	{ "tls",	OBJ_CONFIG,	false },
	[B_BACKEND] =	{ "backend",	OBJ_BACKEND,	true },
	[B_SITE] =	{ "site",	OBJ_SITE,	true },
};

enum kwtype {
	T_BLOCK = 0,
	T_UINT,
	T_SIZE,
	T_DURATION,
	T_BOOL,
	T_NAME,
	T_SERVER_NAME,
	T_DIR,
	T_ACCESS_LOG,
	T_ERROR_LOG,
	T_LEVEL,
	T_LISTEN,
	T_SERVER,
	T_HOSTS,
	T_PATH_PREFIX,
	T_BACKEND_REF,
	T_HOST_HEADER,
	T_SECONDS,
	T_PERCENT,
	T_EVICTION,
	T_TARGETED_FIELD,
	T_FIELDS,
	T_CERTIFICATE,
	T_CIPHERS,
	T_CA_FILE,
};

/* Row flags. */
#define F_NONE		0u
#define F_REPEAT	1u	/* may be given more than once; each adds */
#define F_REQUIRED	2u	/* the block is an error without it */

#define DUR_MAX		(24u * 3600 * 1000)	/* 24h, in ms */

/*
 * TLS defaults: for TLS 1.2 only forward-secret ECDHE key exchange with
 * AEAD ciphers (RFC 9325 section 4.2), for TLS 1.3 OpenSSL's own list.
 */
#define TLS_DEFAULT_CIPHERS						\
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"	\
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"	\
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_DEFAULT_SUITES						\
	"TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define SEC_MAX		(365u * 24 * 3600)	/* 365d, in s (T_SECONDS) */

/* Where a value goes: offset and size of a member of the block's struct. */
#define FC(m)	offsetof(struct config, m), sizeof(((struct config *)0)->m)
#define FB(m)	offsetof(struct cfg_backend, m), sizeof(((struct cfg_backend *)0)->m)
#define FS(m)	offsetof(struct cfg_site, m), sizeof(((struct cfg_site *)0)->m)
#define NF	0, 0	/* stored by the type's own setter, or a block */

/*
 * The keyword table. Columns: block, name, type, flags, default (as it would
 * be written in the file; NULL: none), min, max (numbers, sizes, bytes;
 * durations in ms, T_SECONDS in s), storage, doc. Blocks are listed in the order the man page
 * documents them.
 */
#define KEYWORDS(X)							\
	X(B_MAIN, "workers", T_UINT, F_NONE, "0", 0, 1024, FC(workers),	\
	    "Worker threads; 0 starts one per CPU core.")		\
	X(B_MAIN, "listen", T_LISTEN, F_REPEAT, "127.0.0.1:8080", 0, 0, NF, \
	    "Address and port to accept clients on, over TLS with the certificates of the tls block when followed by tls; repeatable.") \
	X(B_MAIN, "via", T_NAME, F_NONE, "freshd", 0, 0, FC(via_name),	\
	    "Pseudonym this proxy adds to the Via header field.")	\
	X(B_MAIN, "limits", T_BLOCK, F_NONE, NULL, 0, 0, NF,		\
	    "Limits on client connections and requests.")		\
	X(B_MAIN, "cache", T_BLOCK, F_NONE, NULL, 0, 0, NF,		\
	    "Where the cache is stored, how large it may grow and how long what it holds stays fresh.") \
	X(B_MAIN, "log", T_BLOCK, F_NONE, NULL, 0, 0, NF,		\
	    "Error and access logs.")					\
	X(B_MAIN, "tls", T_BLOCK, F_NONE, NULL, 0, 0, NF,		\
	    "Certificates and settings of the listeners marked tls.")	\
	X(B_MAIN, "backend", T_BLOCK, F_REPEAT, NULL, 0, 0, NF,		\
	    "A group of origin servers; the label names it.")		\
	X(B_MAIN, "site", T_BLOCK, F_REPEAT, NULL, 0, 0, NF,		\
	    "Which requests a site takes and the backend that serves them; the label names it.") \
	X(B_LIMITS, "request-line", T_SIZE, F_NONE, "8k", 16, 1024 * 1024, \
	    FC(max_request_line),					\
	    "Longest request line accepted; a longer one is answered 414.") \
	X(B_LIMITS, "header-bytes", T_SIZE, F_NONE, "32k", 16, 16 * 1024 * 1024, \
	    FC(max_head_bytes),						\
	    "Largest request header section accepted; a larger one is answered 431.") \
	X(B_LIMITS, "header-fields", T_UINT, F_NONE, "100", 1, 100000,	\
	    FC(max_fields),						\
	    "Most header fields accepted in a request; more are answered 431.") \
	X(B_LIMITS, "connections", T_UINT, F_NONE, "10000", 1, 1000000, \
	    FC(max_connections),					\
	    "Client connections open at once per worker; beyond it, accepting pauses.") \
	X(B_LIMITS, "header-timeout", T_DURATION, F_NONE, "10s", 1, DUR_MAX, \
	    FC(header_timeout_ms),					\
	    "Time allowed for a whole request head to arrive; then 408.") \
	X(B_LIMITS, "idle-timeout", T_DURATION, F_NONE, "60s", 1, DUR_MAX, \
	    FC(idle_timeout_ms),					\
	    "Time a keep-alive connection may stay idle between requests.") \
	X(B_LIMITS, "send-timeout", T_DURATION, F_NONE, "60s", 1, DUR_MAX, \
	    FC(send_timeout_ms),					\
	    "A client that reads nothing for this long is closed.")	\
	X(B_CACHE, "dir", T_DIR, F_NONE, "./var/freshd", 0, 0, FC(cache_dir), \
	    "Directory that holds the cache store.")			\
	X(B_CACHE, "size", T_SIZE, F_NONE, "1g", 64 * 1024, UINT64_MAX,	\
	    FC(cache_size),						\
	    "Upper bound on the size of the cache store.")		\
	X(B_CACHE, "hot-memory", T_SIZE, F_NONE, "64m", 0, 4ULL << 30,	\
	    FC(cache_hot_memory),					\
	    "Memory each worker keeps for ready copies of small, often hit responses, answered without reading the store; 0 keeps none.") \
	X(B_CACHE, "eviction", T_EVICTION, F_NONE, "sieve", 0, 0,	\
	    FC(cache_eviction),						\
	    "How the store picks what to evict when it is full: sieve, lru or s3fifo.") \
	X(B_CACHE, "heuristic-fraction", T_PERCENT, F_NONE, "10%", 0, 0, \
	    FC(cache_heuristic_fraction),				\
	    "A response with no explicit lifetime stays fresh for this share of the time between its Last-Modified and Date; 0% disables it.") \
	X(B_CACHE, "heuristic-max", T_SECONDS, F_NONE, "1d", 0, SEC_MAX, \
	    FC(cache_heuristic_max_s),					\
	    "Longest heuristic freshness lifetime; 0 means no cap.")	\
	X(B_CACHE, "max-ttl", T_SECONDS, F_NONE, "0", 0, SEC_MAX,	\
	    FC(cache_max_ttl_s),					\
	    "Longest freshness lifetime of any response, whatever the origin says; 0 means no cap.") \
	X(B_CACHE, "targeted-field", T_TARGETED_FIELD, F_NONE,		\
	    "Freshd-Cache-Control", 0, 0, FC(cache_targeted_field),	\
	    "Name of freshd's own targeted cache-control field (RFC 9213), obeyed before any other; off for none.") \
	X(B_CACHE, "cdn-cache-control", T_BOOL, F_NONE, "on", 0, 0,	\
	    FC(cache_cdn_cache_control),				\
	    "Obey CDN-Cache-Control (RFC 9213) before Cache-Control.")	\
	X(B_CACHE, "vary-first-member", T_FIELDS, F_REPEAT, NULL, 0, 0, NF, \
	    "Request fields that a Vary secondary key takes by their first list member only; repeatable, none by default.") \
	X(B_CACHE, "stale-if-unreachable", T_SECONDS, F_NONE, "1d", 0, SEC_MAX, \
	    FC(cache_stale_if_unreachable_s),				\
	    "How stale a stored response may be served when the origin cannot be reached and no directive forbids it.") \
	X(B_LOG, "access", T_ACCESS_LOG, F_NONE, "stderr", 0, 0, FC(access_log), \
	    "Where the access log goes: a file path, stderr or off.")	\
	X(B_LOG, "error", T_ERROR_LOG, F_NONE, "stderr", 0, 0, FC(error_log), \
	    "Where the error log goes: a file path or stderr.")		\
	X(B_LOG, "level", T_LEVEL, F_NONE, "info", 0, 0, FC(log_level),	\
	    "Least severe messages written to the error log: error, warn, info or debug.") \
	X(B_TLS, "certificate", T_CERTIFICATE, F_REPEAT | F_REQUIRED, NULL, 0, 0, NF, \
	    "A PEM certificate chain (leaf first) and its private key, or one file holding both; repeatable: a client gets the certificate whose names match the server name it sent (SNI), else the first one.") \
	X(B_TLS, "ciphers", T_CIPHERS, F_NONE, TLS_DEFAULT_CIPHERS, 0, 0, \
	    FC(tls_ciphers),						\
	    "Cipher list offered with TLS 1.2, in OpenSSL's syntax.")	\
	X(B_TLS, "ciphersuites", T_CIPHERS, F_NONE, TLS_DEFAULT_SUITES, 0, 0, \
	    FC(tls_ciphersuites),					\
	    "Cipher suites offered with TLS 1.3, in OpenSSL's syntax.")	\
	X(B_TLS, "session-tickets", T_BOOL, F_NONE, "on", 0, 0,	\
	    FC(tls_session_tickets),					\
	    "Let clients resume sessions with tickets (RFC 8446 section 4.6.1), sparing a full handshake.") \
	X(B_BACKEND, "server", T_SERVER, F_REPEAT | F_REQUIRED, NULL, 0, 0, NF, \
	    "An origin server; repeatable, used in turn (round-robin); at least one.") \
	X(B_BACKEND, "pool-idle", T_UINT, F_NONE, "32", 0, 100000, FB(pool_idle), \
	    "Idle keep-alive connections kept per worker.")		\
	X(B_BACKEND, "pool-max", T_UINT, F_NONE, "0", 0, 100000, FB(pool_max), \
	    "Connections open at once per worker; 0 means no cap.")	\
	X(B_BACKEND, "idle-timeout", T_DURATION, F_NONE, "60s", 1, DUR_MAX, \
	    FB(idle_timeout_ms),					\
	    "An idle pooled connection is closed after this long.")	\
	X(B_BACKEND, "connect-timeout", T_DURATION, F_NONE, "3s", 1, DUR_MAX, \
	    FB(connect_timeout_ms),					\
	    "Time allowed to connect to a server.")			\
	X(B_BACKEND, "first-byte-timeout", T_DURATION, F_NONE, "60s", 1, DUR_MAX, \
	    FB(first_byte_timeout_ms),					\
	    "Time allowed for the response to start once the request is sent.") \
	X(B_BACKEND, "read-timeout", T_DURATION, F_NONE, "60s", 1, DUR_MAX, \
	    FB(read_timeout_ms),					\
	    "Time allowed between bytes once the response has started.") \
	X(B_BACKEND, "tls", T_BOOL, F_NONE, "off", 0, 0, FB(tls),	\
	    "Talk to the servers over TLS (HTTPS), TLS 1.2 or 1.3.")	\
	X(B_BACKEND, "tls-verify", T_BOOL, F_NONE, "on", 0, 0, FB(tls_verify), \
	    "Check each server's certificate chain (against tls-ca, else the system's CA certificates) and that it names the server.") \
	X(B_BACKEND, "tls-ca", T_CA_FILE, F_NONE, NULL, 0, 0, NF,	\
	    "A PEM file of the CA certificates that server certificates must chain to, instead of the system's.") \
	X(B_BACKEND, "tls-server-name", T_SERVER_NAME, F_NONE, NULL, 0, 0, \
	    FB(tls_server_name),					\
	    "The name sent as SNI and checked in the certificate; by default each server's host (no SNI for an IP address).") \
	X(B_SITE, "hosts", T_HOSTS, F_NONE, "*", 0, 0, NF,		\
	    "Host names the site takes: example.com, *.example.com (any subdomain) or * (any).") \
	X(B_SITE, "path-prefix", T_PATH_PREFIX, F_NONE, "/", 0, 0, FS(path_prefix), \
	    "Request paths the site takes: those starting with this string.") \
	X(B_SITE, "backend", T_BACKEND_REF, F_REQUIRED, NULL, 0, 0, NF,	\
	    "The backend that serves the site; it may be defined later in the file.") \
	X(B_SITE, "max-body", T_SIZE, F_NONE, "1g", 0, UINT64_MAX, FS(max_body), \
	    "Largest request body accepted; a larger one is answered 413.") \
	X(B_SITE, "host-header", T_HOST_HEADER, F_NONE, "keep", 0, 0, NF, \
	    "Host sent to the backend: the client's (keep), the server's host:port (backend) or a fixed one (set VALUE).") \
	X(B_SITE, "x-forwarded-for", T_BOOL, F_NONE, "on", 0, 0, FS(x_forwarded_for), \
	    "Append the client address to X-Forwarded-For.")		\
	X(B_SITE, "x-forwarded-proto", T_BOOL, F_NONE, "on", 0, 0, FS(x_forwarded_proto), \
	    "Set X-Forwarded-Proto to the scheme the client used.")	\
	X(B_SITE, "forwarded", T_BOOL, F_NONE, "off", 0, 0, FS(forwarded), \
	    "Append the client address to a Forwarded field (RFC 7239).") \
	X(B_SITE, "pass-proxy-authorization", T_BOOL, F_NONE, "off", 0, 0, \
	    FS(pass_proxy_authorization),				\
	    "Forward Proxy-Authorization to the backend instead of removing it.") \
	X(B_SITE, "cache", T_BOOL, F_NONE, "on", 0, 0, FS(cache),	\
	    "Use the cache; off forwards every request without lookup or storing (Cache-Status fwd=bypass).") \
	X(B_SITE, "cache-status-key", T_BOOL, F_NONE, "off", 0, 0,	\
	    FS(cache_status_key),					\
	    "Add the cache key to the Cache-Status field (its key parameter, RFC 9211).") \
	X(B_SITE, "heuristic", T_BOOL, F_NONE, "on", 0, 0, FS(heuristic), \
	    "Give responses with no explicit lifetime a heuristic one (see heuristic-fraction); off: none.") \
	X(B_SITE, "underscore-fields", T_BOOL, F_NONE, "off", 0, 0,	\
	    FS(underscore_fields),					\
	    "Forward request fields whose names contain an underscore; off drops them, as nginx and Apache do.") \
	X(B_SITE, "range-offset-limit", T_SIZE, F_NONE, "1m", 0, UINT64_MAX, \
	    FS(range_offset_limit),					\
	    "A Range request that misses and starts past this offset is forwarded as it is and its answer not stored; nearer ones fetch and store the whole response.")

struct keyword {
	enum block	block;
	const char	*name;
	enum kwtype	type;
	unsigned	flags;
	const char	*def;
	uint64_t	min;
	uint64_t	max;
	size_t		off;
	size_t		size;
	const char	*doc;
};

#define KW_ROW(blk, nm, ty, fl, df, mn, mx, field, dc)			\
	{ blk, nm, ty, fl, df, mn, mx, field, dc },
static const struct keyword keywords[] = { KEYWORDS(KW_ROW) };
#undef KW_ROW

#define NKEYWORDS	ARRAY_LEN(keywords)

/* A token of the file. Words and strings own their text. */
enum tokkind {
	TOK_EOF = 0,
	TOK_WORD,
	TOK_STRING,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_SEMI,
};

struct token {
	enum tokkind	kind;
	char		*text;
	unsigned	line;
};

struct tokens {
	struct token	*v;
	size_t		n;
	size_t		cap;
};

struct parser {
	const char	*name;		/* file name for messages */
	const char	*s;
	size_t		len;
	size_t		pos;
	unsigned	line;
	char		*err;
	size_t		errlen;
	struct config	*c;
	/* per backend and site: where it was defined */
	unsigned	*backend_line;
	unsigned	*site_line;
	/* per site: the backend it names, and where */
	size_t		nsite_backend;
	char		**site_backend;
	unsigned	*site_backend_line;
};

typedef int setter_f(struct parser *, const struct keyword *, void *obj,
    const struct token *argv, size_t argc);

static setter_f set_uint, set_size, set_duration, set_bool, set_name, set_server_name,
    set_dir, set_access_log, set_error_log, set_level, set_listen, set_server,
    set_hosts, set_path_prefix, set_backend_ref, set_host_header, set_seconds,
    set_percent, set_eviction, set_targeted_field, set_fields, set_certificate,
    set_ciphers, set_ca_file;

/* How each type is written and parsed. maxargs 0: no upper bound. */
static const struct typedesc {
	const char	*syntax;
	unsigned	minargs;
	unsigned	maxargs;
	setter_f	*set;
} types[] = {
	[T_BLOCK] =		{ "{ ... }",			0, 0, NULL },
	[T_UINT] =		{ "N",				1, 1, set_uint },
	[T_SIZE] =		{ "SIZE",			1, 1, set_size },
	[T_DURATION] =		{ "DURATION",			1, 1, set_duration },
	[T_BOOL] =		{ "on|off",			1, 1, set_bool },
	[T_NAME] =		{ "NAME",			1, 1, set_name },
	[T_SERVER_NAME] =	{ "NAME",			1, 1, set_server_name },
	[T_DIR] =		{ "PATH",			1, 1, set_dir },
	[T_ACCESS_LOG] =	{ "PATH|stderr|off",		1, 1, set_access_log },
	[T_ERROR_LOG] =		{ "PATH|stderr",		1, 1, set_error_log },
	[T_LEVEL] =		{ "error|warn|info|debug",	1, 1, set_level },
	[T_LISTEN] =		{ "HOST:PORT [tls]",		1, 2, set_listen },
	[T_SERVER] =		{ "HOST:PORT",			1, 1, set_server },
	[T_HOSTS] =		{ "PATTERN...",			1, 0, set_hosts },
	[T_PATH_PREFIX] =	{ "PREFIX",			1, 1, set_path_prefix },
	[T_BACKEND_REF] =	{ "NAME",			1, 1, set_backend_ref },
	[T_HOST_HEADER] =	{ "keep|backend|set VALUE",	1, 2, set_host_header },
	[T_SECONDS] =		{ "DURATION",			1, 1, set_seconds },
	[T_PERCENT] =		{ "PERCENT",			1, 1, set_percent },
	[T_EVICTION] =		{ "sieve|lru|s3fifo",		1, 1, set_eviction },
	[T_TARGETED_FIELD] =	{ "FIELD|off",			1, 1, set_targeted_field },
	[T_FIELDS] =		{ "FIELD...",			1, 0, set_fields },
	[T_CERTIFICATE] =	{ "CHAIN [KEY]",		1, 2, set_certificate },
	[T_CIPHERS] =		{ "LIST",			1, 1, set_ciphers },
	[T_CA_FILE] =		{ "PATH",			1, 1, set_ca_file },
};

/* The store's eviction policies: names store_evict_policy_parse() takes. */
static const char *const eviction_names[] = { "sieve", "lru", "s3fifo" };

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

/* ---- errors ---- */

static int perr(struct parser *p, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats "name:line: message" into p->err; returns -1. */
static int
perr(struct parser *p, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err == NULL || p->errlen == 0)
		return -1;
	n = snprintf(p->err, p->errlen, "%s:%u: ", p->name, line);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Formats a message without a location; returns -1. */
static int
msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- value parsers ---- */

/* Decimal digits only; false on an empty string, other bytes or overflow. */
static bool
parse_digits(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * "512", "16k", "1m", "2g" (powers of 1024, suffix case-insensitive) to
 * bytes. Returns 0, or -1 on anything else or when the result does not fit
 * in 64 bits.
 */
int
config_parse_size(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t v, mult = 1;

	if (n > 0) {
		switch (s[n - 1]) {
		case 'k': case 'K': mult = 1024; n--; break;
		case 'm': case 'M': mult = 1024 * 1024; n--; break;
		case 'g': case 'G': mult = 1024 * 1024 * 1024; n--; break;
		default: break;
		}
	}
	if (!parse_digits(s, n, &v) || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/*
 * A number with an optional unit (ms, s, m, h, d; case-insensitive; a bare
 * number is seconds) to a count of `unit` milliseconds (1: ms, 1000: s).
 * Returns 0, or -1 on anything else, on a unit finer than `unit` or when the
 * result does not fit in 64 bits.
 */
static int
parse_duration(const char *s, uint64_t unit, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t v, mult = 1000;

	if (n >= 2 && strcasecmp(s + n - 2, "ms") == 0) {
		mult = 1;
		n -= 2;
	} else if (n >= 1) {
		switch (s[n - 1]) {
		case 's': case 'S': mult = 1000; n--; break;
		case 'm': case 'M': mult = 60 * 1000; n--; break;
		case 'h': case 'H': mult = 3600 * 1000; n--; break;
		case 'd': case 'D': mult = 24 * 3600 * 1000; n--; break;
		default: break;
		}
	}
	if (mult % unit != 0)
		return -1;
	mult /= unit;
	if (!parse_digits(s, n, &v) || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/*
 * "500ms", "30s", "5m", "1h", "1d", or a bare number of seconds (units
 * case-insensitive) to milliseconds. Returns 0, or -1 on anything else or
 * when the result does not fit in an unsigned.
 */
int
config_parse_duration(const char *s, unsigned *out_ms)
{
	uint64_t v;

	if (parse_duration(s, 1, &v) != 0 || v > UINT_MAX)
		return -1;
	*out_ms = (unsigned)v;
	return 0;
}

/*
 * The same durations in whole seconds, for the members that hold seconds
 * (see config.h): "30", "30s", "5m", "1h", "7d"; "ms" is refused. Returns
 * 0, or -1 on anything else or when the result does not fit in an unsigned.
 */
int
config_parse_seconds(const char *s, unsigned *out_s)
{
	uint64_t v;

	if (parse_duration(s, 1000, &v) != 0 || v > UINT_MAX)
		return -1;
	*out_s = (unsigned)v;
	return 0;
}

/*
 * "N%" with N from 0 to 100, decimals allowed ("10%", "2.5%", "100.0%"), to
 * a fraction from 0 to 1. At most 15 digits in all, so the digits are exact
 * in a double and the result is N / 100 correctly rounded. Returns 0, or -1
 * on anything else (no sign, exponent, bare "." or missing "%").
 */
int
config_parse_percent(const char *s, double *out_fraction)
{
	char digits[16];
	size_t n = strlen(s), i, nd = 0, decimals = 0;
	uint64_t v, scale = 1;
	bool dot = false;

	if (n < 2 || s[n - 1] != '%' || s[0] == '.' || s[n - 2] == '.')
		return -1;
	for (i = 0; i < n - 1; i++) {
		if (s[i] == '.' && !dot) {
			dot = true;
			continue;
		}
		if (s[i] < '0' || s[i] > '9' || nd == sizeof(digits) - 1)
			return -1;
		digits[nd++] = s[i];
		if (dot)
			decimals++;
	}
	for (i = 0; i < decimals + 2; i++)
		scale *= 10;
	if (!parse_digits(digits, nd, &v) || v > scale)	/* above 100% */
		return -1;
	*out_fraction = (double)v / (double)scale;
	return 0;
}

/* A DNS name or IPv4 literal: letters, digits, "-", "_" and dots between
 * non-empty labels; at most 253 bytes. */
static bool
valid_hostname(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > MAX_HOSTNAME)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
		label++;
	}
	return label > 0;
}

/* The inside of "[...]": an IPv6 literal. */
static bool
valid_v6(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN];
	unsigned char addr[16];

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, addr) == 1;
}

static bool
parse_port(const char *s, size_t n, uint16_t *port)
{
	uint64_t v;

	if (n > 5 || !parse_digits(s, n, &v) || v < 1 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/*
 * "host:port", "[v6]:port" or "*:port" (port 1-65535). Returns 0 with *host
 * set to a string the caller frees (the v6 address without brackets, or
 * "*"), or -1 with nothing allocated.
 */
int
config_parse_hostport(const char *s, char **host, uint16_t *port)
{
	const char *colon, *h;
	size_t hn;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = s + 1;
		hn = (size_t)(close - h);
		colon = close + 1;
		if (!valid_v6(h, hn))
			return -1;
	} else {
		colon = strchr(s, ':');
		if (colon == NULL || strchr(colon + 1, ':') != NULL)
			return -1;
		h = s;
		hn = (size_t)(colon - s);
		if (!(hn == 1 && h[0] == '*') && !valid_hostname(h, hn))
			return -1;
	}
	if (!parse_port(colon + 1, strlen(colon + 1), port))
		return -1;
	*host = xstrndup(h, hn);
	return 0;
}

/* Letters, digits, "-", "_" and "."; used for labels, Via and names. */
static bool
valid_name(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

/* A field name: a token (RFC 9110 §5.1; tchar in §5.6.2). */
static bool
valid_field_name(const char *s)
{
	size_t i;

	if (s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL))
			return false;
	}
	return true;
}

/* ---- building blocks ---- */

static void
free_backend(struct cfg_backend *b)
{
	size_t i;

	free(b->name);
	for (i = 0; i < b->nservers; i++)
		free(b->servers[i].host);
	free(b->servers);
	free(b->tls_ca);
	free(b->tls_server_name);
	tls_client_free(b->tls_client);
}

static void
free_hosts(struct cfg_site *s)
{
	size_t i;

	for (i = 0; i < s->nhosts; i++)
		free(s->hosts[i]);
	free(s->hosts);
	s->hosts = NULL;
	s->nhosts = 0;
}

static void
free_site(struct cfg_site *s)
{
	free(s->name);
	free_hosts(s);
	free(s->path_prefix);
	free(s->host_value);
}

/*
 * Frees c and everything it owns; NULL is a no-op. Copes with partly built
 * configs (the parser's error path).
 */
void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->file);
	for (i = 0; i < c->nlisteners; i++)
		free(c->listeners[i].host);
	free(c->listeners);
	for (i = 0; i < c->nbackends; i++)
		free_backend(&c->backends[i]);
	free(c->backends);
	for (i = 0; i < c->nsites; i++)
		free_site(&c->sites[i]);
	free(c->sites);
	free(c->cache_dir);
	free(c->cache_eviction);
	free(c->cache_targeted_field);
	for (i = 0; i < c->ncache_vary_first_member; i++)
		free(c->cache_vary_first_member[i]);
	free(c->cache_vary_first_member);
	free(c->access_log);
	free(c->error_log);
	free(c->via_name);
	for (i = 0; i < c->ntls_certificates; i++) {
		free(c->tls_certificates[i].chain);
		free(c->tls_certificates[i].key);
	}
	free(c->tls_certificates);
	free(c->tls_ciphers);
	free(c->tls_ciphersuites);
	tls_server_free(c->tls);
	free(c);
}

static void *
field(void *obj, const struct keyword *kw)
{
	return (char *)obj + kw->off;
}

static void
store_uint(void *obj, const struct keyword *kw, uint64_t v)
{
	if (kw->size == sizeof(uint64_t)) {
		uint64_t x = v;

		memcpy(field(obj, kw), &x, sizeof(x));
	} else {
		uint32_t x = (uint32_t)v;

		ASSERT(kw->size == sizeof(uint32_t) && v <= UINT32_MAX);
		memcpy(field(obj, kw), &x, sizeof(x));
	}
}

static void
store_str(void *obj, const struct keyword *kw, const char *v)
{
	char **f = field(obj, kw);

	ASSERT(kw->size == sizeof(char *));
	free(*f);
	*f = xstrdup(v);
}

/* The row's upper bound, capped by the width of its field. */
static uint64_t
kw_max(const struct keyword *kw)
{
	if (kw->size == sizeof(uint32_t) && kw->max > UINT32_MAX)
		return UINT32_MAX;
	return kw->max;
}

/* Writes a byte count the way a file would: "16m" when exact, else digits. */
static void
fmt_size(char *buf, size_t len, uint64_t v)
{
	static const char suffix[] = "kmg";
	int i;

	for (i = 2; i >= 0; i--) {
		uint64_t unit = (uint64_t)1 << (10 * (i + 1));

		if (v != 0 && v % unit == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", v / unit, suffix[i]);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

static void
fmt_duration(char *buf, size_t len, uint64_t ms)
{
	if (ms != 0 && ms % (3600 * 1000) == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / (3600 * 1000));
	else if (ms != 0 && ms % (60 * 1000) == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / (60 * 1000));
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ms);
}

/* Writes a count of seconds the way a file would: "0", "7d", "90m"... */
static void
fmt_seconds(char *buf, size_t len, uint64_t s)
{
	if (s == 0)
		snprintf(buf, len, "0");
	else if (s % (24 * 3600) == 0)
		snprintf(buf, len, "%" PRIu64 "d", s / (24 * 3600));
	else
		fmt_duration(buf, len, s * 1000);
}

/* ---- setters: one per type; argc is within the type's bounds ---- */

static int
set_uint(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	uint64_t v;
	const char *s = argv[0].text;

	if (!parse_digits(s, strlen(s), &v) || v < kw->min || v > kw_max(kw))
		return perr(p, argv[0].line, "invalid number \"%.64s\" for \"%s\": "
		    "expected an integer from %" PRIu64 " to %" PRIu64,
		    s, kw->name, kw->min, kw_max(kw));
	store_uint(obj, kw, v);
	return 0;
}

static int
set_size(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	uint64_t v;
	char lo[32], hi[32];
	const char *s = argv[0].text;

	if (config_parse_size(s, &v) != 0)
		return perr(p, argv[0].line, "invalid size \"%.64s\" for \"%s\": "
		    "expected a number with optional k, m or g", s, kw->name);
	if (v < kw->min || v > kw_max(kw)) {
		fmt_size(lo, sizeof(lo), kw->min);
		fmt_size(hi, sizeof(hi), kw_max(kw));
		if (kw_max(kw) == UINT64_MAX)
			return perr(p, argv[0].line, "invalid size \"%.64s\" for "
			    "\"%s\": expected at least %s", s, kw->name, lo);
		return perr(p, argv[0].line, "invalid size \"%.64s\" for \"%s\": "
		    "expected from %s to %s", s, kw->name, lo, hi);
	}
	store_uint(obj, kw, v);
	return 0;
}

static int
set_duration(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	unsigned v;
	char lo[32], hi[32];
	const char *s = argv[0].text;

	if (config_parse_duration(s, &v) != 0)
		return perr(p, argv[0].line, "invalid duration \"%.64s\" for \"%s\": "
		    "expected a number with optional ms, s, m, h or d", s, kw->name);
	if (v < kw->min || v > kw_max(kw)) {
		fmt_duration(lo, sizeof(lo), kw->min);
		fmt_duration(hi, sizeof(hi), kw_max(kw));
		return perr(p, argv[0].line, "invalid duration \"%.64s\" for \"%s\": "
		    "expected from %s to %s", s, kw->name, lo, hi);
	}
	ASSERT(kw->size == sizeof(unsigned));
	memcpy(field(obj, kw), &v, sizeof(v));
	return 0;
}

static int
set_bool(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	bool v;

	if (strcmp(argv[0].text, "on") == 0)
		v = true;
	else if (strcmp(argv[0].text, "off") == 0)
		v = false;
	else
		return perr(p, argv[0].line, "invalid value \"%.64s\" for \"%s\": "
		    "expected on or off", argv[0].text, kw->name);
	ASSERT(kw->size == sizeof(bool));
	memcpy(field(obj, kw), &v, sizeof(v));
	return 0;
}

static int
set_name(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	if (!valid_name(argv[0].text))
		return perr(p, argv[0].line, "invalid name \"%.64s\" for \"%s\": "
		    "expected letters, digits, \"-\", \"_\" or \".\"",
		    argv[0].text, kw->name);
	store_str(obj, kw, argv[0].text);
	return 0;
}

/*
 * A host name for SNI (RFC 6066 §3) and certificate checks: dot-separated
 * labels of 1 to 63 characters, 253 in all (RFC 1035 §2.3.4), which is
 * also what OpenSSL accepts as a server name.
 */
static int
set_server_name(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	const char *s = argv[0].text;
	size_t i, label = 0;
	bool ok = strlen(s) <= 253;

	if (!valid_name(s))
		return set_name(p, kw, obj, argv, argc);
	for (i = 0; ok; i++) {
		if (s[i] != '.' && s[i] != '\0') {
			label++;
			continue;
		}
		ok = label >= 1 && label <= 63;
		if (s[i] == '\0')
			break;
		label = 0;
	}
	if (!ok)
		return perr(p, argv[0].line, "invalid host name \"%.64s\" for \"%s\": "
		    "expected labels of 1 to 63 characters separated by dots, 253 in all",
		    s, kw->name);
	store_str(obj, kw, s);
	return 0;
}

static int
set_dir(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	if (argv[0].text[0] == '\0')
		return perr(p, argv[0].line, "empty path for \"%s\": "
		    "expected a directory", kw->name);
	store_str(obj, kw, argv[0].text);
	return 0;
}

static int
set_access_log(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	if (argv[0].text[0] == '\0')
		return perr(p, argv[0].line, "empty path for \"%s\": "
		    "expected a path, stderr or off", kw->name);
	store_str(obj, kw, argv[0].text);
	return 0;
}

static int
set_error_log(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	if (argv[0].text[0] == '\0' || strcmp(argv[0].text, "off") == 0)
		return perr(p, argv[0].line, "invalid value \"%.64s\" for \"%s\": "
		    "expected a path or stderr", argv[0].text, kw->name);
	store_str(obj, kw, argv[0].text);
	return 0;
}

static int
set_level(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	enum log_level l;

	ASSERT(kw->size == sizeof(enum log_level));
	for (l = LOG_LEVEL_ERROR; l <= LOG_LEVEL_DEBUG; l++) {
		if (strcmp(argv[0].text, level_names[l]) == 0) {
			memcpy(field(obj, kw), &l, sizeof(l));
			return 0;
		}
	}
	return perr(p, argv[0].line, "invalid level \"%.64s\" for \"%s\": "
	    "expected error, warn, info or debug", argv[0].text, kw->name);
}

static int
set_listen(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	struct config *c = obj;
	char *host;
	uint16_t port;

	if (argc == 2 && strcmp(argv[1].text, "tls") != 0)
		return perr(p, argv[1].line, "invalid option \"%.64s\" for \"%s\": "
		    "expected tls or nothing after the address", argv[1].text,
		    kw->name);
	if (config_parse_hostport(argv[0].text, &host, &port) != 0)
		return perr(p, argv[0].line, "invalid address \"%.64s\" for \"%s\": "
		    "expected HOST:PORT, [IPV6]:PORT or *:PORT with a port from 1 to 65535",
		    argv[0].text, kw->name);
	c->listeners = xrealloc(c->listeners,
	    (c->nlisteners + 1) * sizeof(*c->listeners));
	c->listeners[c->nlisteners].host = host;
	c->listeners[c->nlisteners].port = port;
	c->listeners[c->nlisteners].tls = argc == 2;
	c->listeners[c->nlisteners].line = argv[0].line;
	c->nlisteners++;
	return 0;
}

/* A server address: like a listener's, but "*" cannot be connected to. */
static int
parse_server(const char *s, char **host, uint16_t *port)
{
	if (config_parse_hostport(s, host, port) != 0)
		return -1;
	if (strcmp(*host, "*") == 0) {
		free(*host);
		*host = NULL;
		return -1;
	}
	return 0;
}

static void
add_server(struct cfg_backend *b, char *host, uint16_t port)
{
	b->servers = xrealloc(b->servers, (b->nservers + 1) * sizeof(*b->servers));
	b->servers[b->nservers].host = host;
	b->servers[b->nservers].port = port;
	b->nservers++;
}

static int
set_server(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	char *host;
	uint16_t port;

	if (parse_server(argv[0].text, &host, &port) != 0)
		return perr(p, argv[0].line, "invalid address \"%.64s\" for \"%s\": "
		    "expected HOST:PORT or [IPV6]:PORT with a port from 1 to 65535",
		    argv[0].text, kw->name);
	add_server(obj, host, port);
	return 0;
}

/*
 * A host pattern, normalised for route.c: lower case, one trailing dot
 * dropped. "*", "*.DOMAIN", a host name, an IPv4 or a [IPv6] literal.
 * Returns NULL when s is none of these.
 */
static char *
host_pattern(const char *s)
{
	size_t n = strlen(s), i;
	char *out;

	if (n > 1 && s[n - 1] == '.')
		n--;
	if (n == 1 && s[0] == '*')
		return xstrdup("*");
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		if (!valid_v6(s + 1, n - 2))
			return NULL;
	} else if (n >= 2 && s[0] == '*' && s[1] == '.') {
		if (!valid_hostname(s + 2, n - 2))
			return NULL;
	} else if (!valid_hostname(s, n)) {
		return NULL;
	}
	out = xstrndup(s, n);
	for (i = 0; i < n; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	return out;
}

static int
set_hosts(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	struct cfg_site *s = obj;
	char **hosts = xcalloc(argc, sizeof(*hosts));
	size_t i, j;

	for (i = 0; i < argc; i++) {
		hosts[i] = host_pattern(argv[i].text);
		if (hosts[i] == NULL) {
			for (j = 0; j < i; j++)
				free(hosts[j]);
			free(hosts);
			return perr(p, argv[i].line, "invalid host pattern \"%.64s\" "
			    "for \"%s\": expected a host name, *.DOMAIN or *",
			    argv[i].text, kw->name);
		}
	}
	free_hosts(s);
	s->hosts = hosts;
	s->nhosts = argc;
	return 0;
}

static int
set_path_prefix(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	const char *s = argv[0].text;

	if (s[0] != '/' || strpbrk(s, "?# ") != NULL)
		return perr(p, argv[0].line, "invalid path prefix \"%.64s\" for \"%s\": "
		    "expected a path starting with \"/\", without \"?\" or \"#\"",
		    s, kw->name);
	store_str(obj, kw, s);
	return 0;
}

static int
set_backend_ref(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	size_t i = p->c->nsites - 1;

	ASSERT(obj == &p->c->sites[i]);
	if (!valid_name(argv[0].text))
		return perr(p, argv[0].line, "invalid name \"%.64s\" for \"%s\": "
		    "expected letters, digits, \"-\", \"_\" or \".\"",
		    argv[0].text, kw->name);
	free(p->site_backend[i]);
	p->site_backend[i] = xstrdup(argv[0].text);
	p->site_backend_line[i] = argv[0].line;
	return 0;
}

/* A fixed Host value: a host name or literal with an optional port. */
static bool
valid_host_value(const char *s)
{
	size_t n = strlen(s);
	char *host;
	uint16_t port;
	bool ok;

	if (config_parse_hostport(s, &host, &port) == 0) {
		ok = strcmp(host, "*") != 0;
		free(host);
		return ok;
	}
	if (s[0] == '[')
		return n >= 2 && s[n - 1] == ']' && valid_v6(s + 1, n - 2);
	return valid_hostname(s, n);
}

static int
set_host_header(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	struct cfg_site *s = obj;
	enum cfg_host_header h;

	if (strcmp(argv[0].text, "keep") == 0)
		h = HOST_KEEP;
	else if (strcmp(argv[0].text, "backend") == 0)
		h = HOST_BACKEND;
	else if (strcmp(argv[0].text, "set") == 0)
		h = HOST_SET;
	else
		return perr(p, argv[0].line, "invalid value \"%.64s\" for \"%s\": "
		    "expected keep, backend or set VALUE", argv[0].text, kw->name);
	if (h == HOST_SET && argc != 2)
		return perr(p, argv[0].line, "wrong number of arguments for "
		    "\"%s set\": expected a value", kw->name);
	if (h != HOST_SET && argc != 1)
		return perr(p, argv[1].line, "wrong number of arguments for "
		    "\"%s %s\": expected none after it", kw->name, argv[0].text);
	if (h == HOST_SET && !valid_host_value(argv[1].text))
		return perr(p, argv[1].line, "invalid host \"%.64s\" for \"%s set\": "
		    "expected HOST or HOST:PORT", argv[1].text, kw->name);
	free(s->host_value);
	s->host_value = h == HOST_SET ? xstrdup(argv[1].text) : NULL;
	s->host_header = h;
	return 0;
}

static int
set_seconds(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	unsigned v;
	char lo[32], hi[32];
	const char *s = argv[0].text;

	if (config_parse_seconds(s, &v) != 0)
		return perr(p, argv[0].line, "invalid duration \"%.64s\" for \"%s\": "
		    "expected whole seconds: a number with optional s, m, h or d",
		    s, kw->name);
	if (v < kw->min || v > kw_max(kw)) {
		fmt_seconds(lo, sizeof(lo), kw->min);
		fmt_seconds(hi, sizeof(hi), kw_max(kw));
		return perr(p, argv[0].line, "invalid duration \"%.64s\" for \"%s\": "
		    "expected from %s to %s", s, kw->name, lo, hi);
	}
	ASSERT(kw->size == sizeof(unsigned));
	memcpy(field(obj, kw), &v, sizeof(v));
	return 0;
}

/* RFC 9111 §4.2.2: the fraction of Date - Last-Modified, written in %. */
static int
set_percent(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	double v;

	if (config_parse_percent(argv[0].text, &v) != 0)
		return perr(p, argv[0].line, "invalid percentage \"%.64s\" for "
		    "\"%s\": expected from 0%% to 100%%, such as 10%% or 2.5%%",
		    argv[0].text, kw->name);
	ASSERT(kw->size == sizeof(double));
	memcpy(field(obj, kw), &v, sizeof(v));
	return 0;
}

static int
set_eviction(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(eviction_names); i++) {
		if (strcmp(argv[0].text, eviction_names[i]) == 0) {
			store_str(obj, kw, eviction_names[i]);
			return 0;
		}
	}
	return perr(p, argv[0].line, "invalid eviction policy \"%.64s\" for "
	    "\"%s\": expected sieve, lru or s3fifo", argv[0].text, kw->name);
}

/* A field name (RFC 9213 §2: a targeted field is named by the cache), or off. */
static int
set_targeted_field(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	char **f = field(obj, kw);

	ASSERT(kw->size == sizeof(char *));
	if (strcmp(argv[0].text, "off") == 0) {
		free(*f);
		*f = NULL;
		return 0;
	}
	if (!valid_field_name(argv[0].text))
		return perr(p, argv[0].line, "invalid field name \"%.64s\" for "
		    "\"%s\": expected a token of letters, digits and "
		    "!#$%%&'*+-.^_`|~, or off", argv[0].text, kw->name);
	store_str(obj, kw, argv[0].text);
	return 0;
}

/* vary-first-member: every argument is added to the list. */
static int
set_fields(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	struct config *c = obj;
	size_t i;

	for (i = 0; i < argc; i++)
		if (!valid_field_name(argv[i].text))
			return perr(p, argv[i].line, "invalid field name \"%.64s\" "
			    "for \"%s\": expected a token of letters, digits and "
			    "!#$%%&'*+-.^_`|~", argv[i].text, kw->name);
	c->cache_vary_first_member = xrealloc(c->cache_vary_first_member,
	    (c->ncache_vary_first_member + argc) *
	    sizeof(*c->cache_vary_first_member));
	for (i = 0; i < argc; i++)
		c->cache_vary_first_member[c->ncache_vary_first_member++] =
		    xstrdup(argv[i].text);
	return 0;
}

/* A file name; the files are read when the TLS contexts are built (tls.c). */
static int
set_certificate(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	struct config *c = obj;
	struct cfg_certificate *cert;
	size_t i;

	for (i = 0; i < argc; i++)
		if (argv[i].text[0] == '\0')
			return perr(p, argv[i].line, "empty path for \"%s\": "
			    "expected a PEM file", kw->name);
	c->tls_certificates = xrealloc(c->tls_certificates,
	    (c->ntls_certificates + 1) * sizeof(*c->tls_certificates));
	cert = &c->tls_certificates[c->ntls_certificates++];
	cert->chain = xstrdup(argv[0].text);
	cert->key = xstrdup(argv[argc - 1].text);
	cert->line = argv[0].line;
	return 0;
}

/*
 * An OpenSSL cipher string: only its alphabet is checked here (letters,
 * digits and + - _ . : ! @ =); whether it names a cipher is known when the
 * contexts are built (tls.c), which reports it at the tls block's line.
 */
static int
set_ciphers(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	const char *s = argv[0].text;
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("+-_.:!@=", s[i]) != NULL))
			break;
	if (i == 0 || s[i] != '\0')
		return perr(p, argv[0].line, "invalid cipher list \"%.64s\" for "
		    "\"%s\": expected names separated by \":\" in OpenSSL's syntax",
		    s, kw->name);
	store_str(obj, kw, s);
	return 0;
}

/* tls-ca: a file name, read when the contexts are built (tls.c). */
static int
set_ca_file(struct parser *p, const struct keyword *kw, void *obj,
    const struct token *argv, size_t argc)
{
	struct cfg_backend *b = obj;

	if (argv[0].text[0] == '\0')
		return perr(p, argv[0].line, "empty path for \"%s\": "
		    "expected a PEM file", kw->name);
	free(b->tls_ca);
	b->tls_ca = xstrdup(argv[0].text);
	b->tls_ca_line = argv[0].line;
	return 0;
}

/* ---- defaults ---- */

/* Applies one row's default through its setter (defaults are valid). */
static void
apply_default(struct parser *p, const struct keyword *kw, void *obj)
{
	struct token t;

	t.kind = TOK_WORD;
	t.text = xstrdup(kw->def);
	t.line = 0;
	AZ(types[kw->type].set(p, kw, obj, &t, 1));
	free(t.text);
}

/*
 * The defaults of every row of block blk: when starting the block those that
 * replace (single-valued), when finishing it those that add (repeatable, only
 * if the block gave none; seen is NULL when it cannot have).
 */
static void
apply_defaults(struct parser *p, enum block blk, void *obj, bool finishing,
    const unsigned *seen)
{
	size_t i;

	for (i = 0; i < NKEYWORDS; i++) {
		const struct keyword *kw = &keywords[i];

		if (kw->block != blk || kw->def == NULL)
			continue;
		if (((kw->flags & F_REPEAT) != 0) != finishing)
			continue;
		if (finishing && seen != NULL && seen[i] != 0)
			continue;
		apply_default(p, kw, obj);
	}
}

static struct cfg_backend *
add_backend(struct parser *p, const char *name, unsigned line)
{
	struct config *c = p->c;
	struct cfg_backend *b;

	c->backends = xrealloc(c->backends, (c->nbackends + 1) * sizeof(*c->backends));
	p->backend_line = xrealloc(p->backend_line,
	    (c->nbackends + 1) * sizeof(*p->backend_line));
	p->backend_line[c->nbackends] = line;
	b = &c->backends[c->nbackends++];
	memset(b, 0, sizeof(*b));
	b->name = xstrdup(name);
	apply_defaults(p, B_BACKEND, b, false, NULL);
	return b;
}

static struct cfg_site *
add_site(struct parser *p, const char *name, unsigned line)
{
	struct config *c = p->c;
	struct cfg_site *s;
	size_t n = c->nsites + 1;

	c->sites = xrealloc(c->sites, n * sizeof(*c->sites));
	p->site_line = xrealloc(p->site_line, n * sizeof(*p->site_line));
	p->site_backend = xrealloc(p->site_backend, n * sizeof(*p->site_backend));
	p->site_backend_line = xrealloc(p->site_backend_line,
	    n * sizeof(*p->site_backend_line));
	p->site_line[n - 1] = line;
	p->site_backend[n - 1] = NULL;
	p->site_backend_line[n - 1] = 0;
	p->nsite_backend = n;
	s = &c->sites[c->nsites++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	apply_defaults(p, B_SITE, s, false, NULL);
	return s;
}

static void
parser_init(struct parser *p, const char *name, const char *text, size_t len,
    char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->s = text;
	p->len = len;
	p->line = 1;
	p->err = err;
	p->errlen = errlen;
}

/* A new config for p, with the defaults of every top-level block. */
static void
parser_new_config(struct parser *p)
{
	p->c = xcalloc(1, sizeof(*p->c));
	apply_defaults(p, B_MAIN, p->c, false, NULL);
	apply_defaults(p, B_LIMITS, p->c, false, NULL);
	apply_defaults(p, B_CACHE, p->c, false, NULL);
	apply_defaults(p, B_LOG, p->c, false, NULL);
	apply_defaults(p, B_TLS, p->c, false, NULL);
}

static void
parser_fini(struct parser *p)
{
	size_t i;

	for (i = 0; i < p->nsite_backend; i++)
		free(p->site_backend[i]);
	free(p->site_backend);
	free(p->site_backend_line);
	free(p->site_line);
	free(p->backend_line);
	config_free(p->c);
	p->c = NULL;
}

/* ---- lexer ---- */

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool
is_control(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f;
}

/* The line the end of the text is on: a final newline starts no new line. */
static unsigned
eof_line(const struct parser *p)
{
	if (p->len > 0 && p->s[p->len - 1] == '\n' && p->line > 1)
		return p->line - 1;
	return p->line;
}

/* A double-quoted string; the only escapes are \" and \\. */
static int
lex_string(struct parser *p, struct token *t)
{
	size_t end, n = 0;
	char *buf;

	for (end = p->pos + 1; end < p->len; end++) {
		unsigned char ch = (unsigned char)p->s[end];

		if (ch == '"' || ch == '\n')
			break;
		if (ch == '\\' && end + 1 < p->len && p->s[end + 1] != '\n')
			end++;
	}
	if (end >= p->len || p->s[end] != '"')
		return perr(p, t->line, "unterminated string: "
		    "expected a closing '\"' on the same line");
	buf = xmalloc(end - p->pos);
	for (p->pos++; p->pos < end; p->pos++) {
		unsigned char ch = (unsigned char)p->s[p->pos];

		if (is_control(ch) || ch == '\r') {
			free(buf);
			return perr(p, t->line, "invalid character 0x%02x in string",
			    ch);
		}
		if (ch == '\\') {
			ch = (unsigned char)p->s[++p->pos];
			if (ch != '"' && ch != '\\') {
				free(buf);
				return perr(p, t->line, "invalid escape in string: "
				    "expected \\\" or \\\\");
			}
		}
		buf[n++] = (char)ch;
	}
	p->pos++;		/* the closing quote */
	buf[n] = '\0';
	t->kind = TOK_STRING;
	t->text = buf;
	return 0;
}

/* The next token; 0, or -1 with the error set. Words and strings own text. */
static int
lex(struct parser *p, struct token *t)
{
	size_t start;

	t->text = NULL;
	for (;;) {
		while (p->pos < p->len && is_space(p->s[p->pos])) {
			if (p->s[p->pos] == '\n')
				p->line++;
			p->pos++;
		}
		if (p->pos < p->len && p->s[p->pos] == '#') {
			while (p->pos < p->len && p->s[p->pos] != '\n')
				p->pos++;
			continue;
		}
		break;
	}
	t->line = p->line;
	if (p->pos >= p->len) {
		t->kind = TOK_EOF;
		t->line = eof_line(p);
		return 0;
	}
	switch (p->s[p->pos]) {
	case '{': t->kind = TOK_LBRACE; p->pos++; return 0;
	case '}': t->kind = TOK_RBRACE; p->pos++; return 0;
	case ';': t->kind = TOK_SEMI; p->pos++; return 0;
	case '"': return lex_string(p, t);
	default: break;
	}
	start = p->pos;
	while (p->pos < p->len) {
		unsigned char ch = (unsigned char)p->s[p->pos];

		if (is_space((char)ch) || ch == '{' || ch == '}' || ch == ';' ||
		    ch == '#' || ch == '"')
			break;
		if (is_control(ch))
			return perr(p, p->line, "invalid character 0x%02x", ch);
		p->pos++;
	}
	t->kind = TOK_WORD;
	t->text = xstrndup(p->s + start, p->pos - start);
	return 0;
}

static void
tokens_push(struct tokens *ts, struct token *t)
{
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? 2 * ts->cap : 4;
		ts->v = xrealloc(ts->v, ts->cap * sizeof(*ts->v));
	}
	ts->v[ts->n++] = *t;
	t->text = NULL;
}

static void
tokens_clear(struct tokens *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		free(ts->v[i].text);
	free(ts->v);
	memset(ts, 0, sizeof(*ts));
}

/* ---- parser ---- */

static const struct keyword *
lookup(enum block blk, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYWORDS; i++)
		if (keywords[i].block == blk && strcmp(keywords[i].name, name) == 0)
			return &keywords[i];
	return NULL;
}

static const char *
tokdesc(const struct token *t)
{
	switch (t->kind) {
	case TOK_EOF: return "end of file";
	case TOK_LBRACE: return "\"{\"";
	case TOK_RBRACE: return "\"}\"";
	case TOK_SEMI: return "\";\"";
	case TOK_WORD: return "word";
	case TOK_STRING: return "string";
	}
	return "token";
}

/*
 * Collects a directive's arguments up to its ";" into args. A word on a
 * later line that is itself a directive of the block means the ";" was
 * forgotten on the line before.
 */
static int
collect_args(struct parser *p, enum block blk, const struct token *name,
    struct tokens *args)
{
	struct token t;
	unsigned last = name->line;

	for (;;) {
		if (lex(p, &t) != 0)
			return -1;
		switch (t.kind) {
		case TOK_SEMI:
			return 0;
		case TOK_WORD:
			if (t.line > last && lookup(blk, t.text) != NULL) {
				free(t.text);
				return perr(p, last, "missing \";\" after \"%s\"",
				    name->text);
			}
			/* FALLTHROUGH */
		case TOK_STRING:
			last = t.line;
			tokens_push(args, &t);
			break;
		case TOK_LBRACE:
			return perr(p, t.line, "unexpected \"{\": \"%s\" is not a "
			    "block in block \"%s\", expected \";\"", name->text,
			    blocks[blk].name);
		case TOK_RBRACE:
		case TOK_EOF:
			return perr(p, last, "missing \";\" after \"%s\"", name->text);
		}
	}
}

static int parse_block(struct parser *p, enum block blk, void *obj,
    unsigned open_line, unsigned *seen);

/* The block a T_BLOCK keyword opens: the one of the same name. */
static enum block
child_block(const struct keyword *kw)
{
	enum block b;

	ASSERT(kw->type == T_BLOCK);
	for (b = B_MAIN; b < NBLOCKS; b++)
		if (strcmp(blocks[b].name, kw->name) == 0)
			return b;
	FRESHD_ASSERT_FAIL("block keyword without a block");
}

/* The required and repeatable rows of a finished block. */
static int
finish_block(struct parser *p, enum block blk, void *obj, unsigned open_line,
    const unsigned *seen, const char *label)
{
	size_t i;

	for (i = 0; i < NKEYWORDS; i++) {
		const struct keyword *kw = &keywords[i];

		if (kw->block != blk || seen[i] != 0 || (kw->flags & F_REQUIRED) == 0)
			continue;
		return perr(p, open_line, "%s \"%s\" has no \"%s\" directive: %s",
		    blocks[blk].name, label, kw->name, (kw->flags & F_REPEAT) ?
		    "at least one is required" : "one is required");
	}
	apply_defaults(p, blk, obj, true, seen);
	return 0;
}

/* A block keyword was read: its label, "{", the body and "}". */
static int
parse_child(struct parser *p, const struct keyword *kw, const struct token *name,
    unsigned *seen)
{
	enum block child;
	const struct blockdef *bd;
	struct tokens label = { 0 };
	struct token t;
	unsigned cseen[NKEYWORDS];
	void *obj;
	size_t i;
	int ret = -1;

	child = child_block(kw);
	bd = &blocks[child];
	for (;;) {
		if (lex(p, &t) != 0)
			goto out;
		if (t.kind == TOK_LBRACE)
			break;
		if (t.kind != TOK_WORD && t.kind != TOK_STRING) {
			perr(p, t.line, "unexpected %s: expected \"{\" after \"%s\"",
			    tokdesc(&t), kw->name);
			goto out;
		}
		tokens_push(&label, &t);
	}
	if (bd->labeled && label.n != 1) {
		perr(p, name->line, label.n == 0 ?
		    "missing label for block \"%s\": expected %s NAME { ... }" :
		    "too many labels for block \"%s\": expected %s NAME { ... }",
		    kw->name, kw->name);
		goto out;
	}
	if (!bd->labeled && label.n != 0) {
		perr(p, label.v[0].line, "block \"%s\" takes no label: "
		    "expected %s { ... }", kw->name, kw->name);
		goto out;
	}
	if (bd->labeled && !valid_name(label.v[0].text)) {
		perr(p, label.v[0].line, "invalid label \"%.64s\" for block \"%s\": "
		    "expected letters, digits, \"-\", \"_\" or \".\"",
		    label.v[0].text, kw->name);
		goto out;
	}
	if (!bd->labeled && seen[kw - keywords] != 0) {
		perr(p, name->line, "duplicate block \"%s\": first opened at line %u",
		    kw->name, seen[kw - keywords]);
		goto out;
	}
	seen[kw - keywords] = name->line;
	if (child == B_BACKEND) {
		for (i = 0; i < p->c->nbackends; i++) {
			if (strcmp(p->c->backends[i].name, label.v[0].text) == 0) {
				perr(p, name->line, "duplicate backend \"%s\": first "
				    "defined at line %u", label.v[0].text,
				    p->backend_line[i]);
				goto out;
			}
		}
		obj = add_backend(p, label.v[0].text, name->line);
	} else if (child == B_SITE) {
		for (i = 0; i < p->c->nsites; i++) {
			if (strcmp(p->c->sites[i].name, label.v[0].text) == 0) {
				perr(p, name->line, "duplicate site \"%s\": first "
				    "defined at line %u", label.v[0].text,
				    p->site_line[i]);
				goto out;
			}
		}
		obj = add_site(p, label.v[0].text, name->line);
	} else {
		obj = p->c;
		if (child == B_TLS)
			p->c->tls_line = name->line;
	}
	memset(cseen, 0, sizeof(cseen));
	if (parse_block(p, child, obj, name->line, cseen) != 0)
		goto out;
	ret = finish_block(p, child, obj, name->line, cseen,
	    bd->labeled ? label.v[0].text : kw->name);
out:
	tokens_clear(&label);
	return ret;
}

/* A directive whose name was read: its arguments, checks, then its setter. */
static int
parse_directive(struct parser *p, enum block blk, void *obj,
    const struct keyword *kw, const struct token *name, unsigned *seen)
{
	const struct typedesc *ty = &types[kw->type];
	struct tokens args = { 0 };
	size_t idx = (size_t)(kw - keywords);
	int ret = -1;

	if (collect_args(p, blk, name, &args) != 0)
		goto out;
	if ((kw->flags & F_REPEAT) == 0 && seen[idx] != 0) {
		perr(p, name->line, "duplicate directive \"%s\": first given at "
		    "line %u", kw->name, seen[idx]);
		goto out;
	}
	if (args.n < ty->minargs || (ty->maxargs != 0 && args.n > ty->maxargs)) {
		if (ty->maxargs == 0)
			perr(p, name->line, "wrong number of arguments for \"%s\": "
			    "expected at least %u, got %zu", kw->name, ty->minargs,
			    args.n);
		else if (ty->minargs == ty->maxargs)
			perr(p, name->line, "wrong number of arguments for \"%s\": "
			    "expected %u, got %zu", kw->name, ty->minargs, args.n);
		else
			perr(p, name->line, "wrong number of arguments for \"%s\": "
			    "expected %u to %u, got %zu", kw->name, ty->minargs,
			    ty->maxargs, args.n);
		goto out;
	}
	seen[idx] = name->line;
	ret = ty->set(p, kw, obj, args.v, args.n);
out:
	tokens_clear(&args);
	return ret;
}

/*
 * The statements of one block, up to its "}" (or the end of the file for
 * "main"). seen[i] records the line keyword i was first given on.
 */
static int
parse_block(struct parser *p, enum block blk, void *obj, unsigned open_line,
    unsigned *seen)
{
	struct token t;
	const struct keyword *kw;
	int ret;

	for (;;) {
		if (lex(p, &t) != 0)
			return -1;
		if (t.kind == TOK_EOF) {
			if (blk == B_MAIN)
				return 0;
			return perr(p, t.line, "unexpected end of file: block "
			    "\"%s\" opened at line %u is not closed, expected \"}\"",
			    blocks[blk].name, open_line);
		}
		if (t.kind == TOK_RBRACE) {
			if (blk != B_MAIN)
				return 0;
			return perr(p, t.line, "unexpected \"}\": no block is open");
		}
		if (t.kind == TOK_STRING) {
			ret = perr(p, t.line, "unexpected string \"%.64s\": expected "
			    "a directive name", t.text);
			free(t.text);
			return ret;
		}
		if (t.kind != TOK_WORD)
			return perr(p, t.line, "unexpected %s: expected a directive "
			    "name", tokdesc(&t));
		kw = lookup(blk, t.text);
		if (kw == NULL)
			ret = perr(p, t.line, "unknown directive \"%.64s\" in block "
			    "\"%s\"", t.text, blocks[blk].name);
		else if (kw->type == T_BLOCK)
			ret = parse_child(p, kw, &t, seen);
		else
			ret = parse_directive(p, blk, obj, kw, &t, seen);
		free(t.text);
		if (ret != 0)
			return -1;
	}
}

/* Points every site at the backend it names. */
static int
resolve_backends(struct parser *p)
{
	struct config *c = p->c;
	size_t i, j;

	for (i = 0; i < c->nsites; i++) {
		for (j = 0; j < c->nbackends; j++)
			if (strcmp(c->backends[j].name, p->site_backend[i]) == 0)
				break;
		if (j == c->nbackends)
			return perr(p, p->site_backend_line[i], "undefined backend "
			    "\"%s\" in site \"%s\": expected the label of a backend "
			    "block", p->site_backend[i], c->sites[i].name);
		c->sites[i].backend = &c->backends[j];
	}
	return 0;
}

/* Every listener marked tls needs a certificate. */
static int
check_tls_listeners(struct parser *p)
{
	const struct config *c = p->c;
	size_t i;

	for (i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].tls && c->ntls_certificates == 0)
			return perr(p, c->listeners[i].line, "listener %s:%u is marked "
			    "tls but no certificate is given: expected a tls block "
			    "with a \"certificate\" directive", c->listeners[i].host,
			    c->listeners[i].port);
	return 0;
}

/*
 * Parses text (the contents of the file called name; not NUL-terminated,
 * NUL bytes are an error). Returns 0 with *out set to a config the caller
 * frees with config_free, or -1 with "name:line: message" in err (when err
 * is not NULL) and nothing allocated.
 */
int
config_parse(const char *name, const char *text, size_t len,
    struct config **out, char *err, size_t errlen)
{
	struct parser p;
	unsigned seen[NKEYWORDS];
	int ret = -1;

	parser_init(&p, name, text, len, err, errlen);
	parser_new_config(&p);
	memset(seen, 0, sizeof(seen));
	if (parse_block(&p, B_MAIN, p.c, 1, seen) != 0 ||
	    finish_block(&p, B_MAIN, p.c, 1, seen, "main") != 0 ||
	    resolve_backends(&p) != 0 || check_tls_listeners(&p) != 0)
		goto out;
	p.c->file = xstrdup(name);
	*out = p.c;
	p.c = NULL;
	ret = 0;
out:
	parser_fini(&p);
	return ret;
}

/*
 * Reads the file at path and parses it (config_parse). Read errors are
 * "path: cannot read: reason".
 */
int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	FILE *f;
	char *buf = NULL, reason[128];
	size_t len = 0, cap = 0, n;
	int ret, saved;

	f = fopen(path, "rb");
	if (f == NULL)
		goto fail;
	for (;;) {
		if (len == cap) {
			if (cap >= CONFIG_MAX_FILE) {
				fclose(f);
				free(buf);
				return msg(err, errlen, "%s: cannot read: larger than "
				    "%u bytes", path, CONFIG_MAX_FILE);
			}
			cap = cap ? 2 * cap : 4096;
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		saved = errno;
		fclose(f);
		errno = saved;
		goto fail;
	}
	fclose(f);
	ret = config_parse(path, buf, len, out, err, errlen);
	free(buf);
	return ret;
fail:
	free(buf);
	snprintf(reason, sizeof(reason), "%s", strerror(errno));
	if (reason[0] >= 'A' && reason[0] <= 'Z')
		reason[0] = (char)(reason[0] - 'A' + 'a');
	return msg(err, errlen, "%s: cannot read: %s", path, reason);
}

/*
 * The configuration of quick mode before any flag: every default, the
 * default listener, no backend and no site; file is NULL. The caller frees
 * it with config_free.
 */
struct config *
config_default(void)
{
	struct parser p;
	unsigned seen[NKEYWORDS];
	struct config *c;

	parser_init(&p, "(defaults)", "", 0, NULL, 0);
	parser_new_config(&p);
	memset(seen, 0, sizeof(seen));
	AZ(finish_block(&p, B_MAIN, p.c, 1, seen, "main"));
	c = p.c;
	p.c = NULL;
	parser_fini(&p);
	return c;
}

/*
 * "http://HOST:PORT", "http://HOST" (port 80), the same with https:// (port
 * 443, *tls set), or any of them with a lone "/" path (the same resource,
 * RFC 9110 §4.2.3). Returns 0 with *host allocated, or -1.
 */
static int
parse_origin(const char *s, char **host, uint16_t *port, bool *tls)
{
	const char *auth, *end;
	char *hp;
	size_t n;
	int ret;

	*tls = strncasecmp(s, "https://", 8) == 0;
	if (!*tls && strncasecmp(s, "http://", 7) != 0)
		return -1;
	auth = s + (*tls ? 8 : 7);
	end = strchr(auth, '/');
	n = end != NULL ? (size_t)(end - auth) : strlen(auth);
	if (end != NULL && end[1] != '\0')
		return -1;
	if (n == 0 || memchr(auth, '@', n) != NULL)
		return -1;
	if ((auth[0] == '[' && auth[n - 1] == ']') ||
	    (auth[0] != '[' && memchr(auth, ':', n) == NULL)) {
		hp = xmalloc(n + 5);
		memcpy(hp, auth, n);
		memcpy(hp + n, *tls ? ":443" : ":80", *tls ? 5 : 4);
	} else {
		hp = xstrndup(auth, n);
	}
	ret = parse_server(hp, host, port);
	free(hp);
	return ret;
}

static void
set_servers(struct cfg_backend *b, const char *host, uint16_t port)
{
	size_t i;

	for (i = 0; i < b->nservers; i++)
		free(b->servers[i].host);
	b->nservers = 0;
	add_server(b, xstrdup(host), port);
}

/* --origin: see config.h. The scheme sets tls on the backends it names. */
static void
apply_origin(struct config *c, const char *host, uint16_t port, bool tls)
{
	struct parser p;
	struct cfg_backend *b = NULL;
	struct cfg_site *s;
	size_t i, j;

	if (c->nsites > 0) {
		for (i = 0; i < c->nbackends; i++) {
			for (j = 0; j < c->nsites; j++)
				if (c->sites[j].backend == &c->backends[i])
					break;
			if (j < c->nsites) {
				set_servers(&c->backends[i], host, port);
				c->backends[i].tls = tls;
			}
		}
		return;
	}
	/* No site: the quick-mode pair, through the parser's defaults. */
	parser_init(&p, "(defaults)", "", 0, NULL, 0);
	p.c = c;
	for (i = 0; i < c->nbackends; i++)
		if (strcmp(c->backends[i].name, "origin") == 0)
			b = &c->backends[i];
	if (b == NULL)
		b = add_backend(&p, "origin", 0);
	set_servers(b, host, port);
	b->tls = tls;
	s = add_site(&p, "default", 0);
	s->backend = b;
	p.c = NULL;
	parser_fini(&p);
}

/*
 * Applies the command-line overrides to c (see config.h). Every override is
 * checked before any is applied, so on error c is unchanged. Returns 0, or
 * -1 with a message (no location) in err.
 */
int
config_apply_overrides(struct config *c, const struct config_overrides *o,
    char *err, size_t errlen)
{
	const struct keyword *workers = lookup(B_MAIN, "workers");
	char *ohost = NULL, *lhost = NULL;
	uint16_t oport = 0, lport = 0;
	bool otls = false;
	size_t i;

	AN(workers);
	if (o->origin != NULL && parse_origin(o->origin, &ohost, &oport, &otls) != 0)
		return msg(err, errlen, "invalid --origin \"%.64s\": expected "
		    "http://HOST[:PORT] or https://HOST[:PORT]", o->origin);
	if (o->listen != NULL && config_parse_hostport(o->listen, &lhost, &lport) != 0) {
		free(ohost);
		return msg(err, errlen, "invalid --listen \"%.64s\": expected "
		    "HOST:PORT, [IPV6]:PORT or *:PORT with a port from 1 to 65535",
		    o->listen);
	}
	if ((o->cache_dir != NULL && o->cache_dir[0] == '\0') ||
	    o->workers > workers->max) {
		free(ohost);
		free(lhost);
		return o->workers > workers->max ?
		    msg(err, errlen, "invalid --workers %u: expected an integer "
		    "from 0 to %" PRIu64, o->workers, workers->max) :
		    msg(err, errlen, "invalid --cache-dir: expected a directory");
	}
	if (ohost != NULL) {
		apply_origin(c, ohost, oport, otls);
		free(ohost);
	}
	if (lhost != NULL) {
		for (i = 0; i < c->nlisteners; i++)
			free(c->listeners[i].host);
		c->listeners = xrealloc(c->listeners, sizeof(*c->listeners));
		c->listeners[0].host = lhost;
		c->listeners[0].port = lport;
		c->listeners[0].tls = false;
		c->listeners[0].line = 0;
		c->nlisteners = 1;
	}
	if (o->cache_dir != NULL) {
		free(c->cache_dir);
		c->cache_dir = xstrdup(o->cache_dir);
	}
	if (o->workers != 0)
		c->workers = o->workers;
	return 0;
}

/*
 * Checks that c can serve: a listener and a site, every site with a backend
 * that has a server. Returns 0, or -1 with a message in err.
 */
int
config_validate(const struct config *c, char *err, size_t errlen)
{
	size_t i;

	if (c->nlisteners == 0)
		return msg(err, errlen, "no listener configured: give --listen "
		    "ADDR:PORT or a \"listen\" directive");
	if (c->nsites == 0)
		return msg(err, errlen, "no site configured: give --origin "
		    "http://HOST:PORT or a config file with a site block");
	for (i = 0; i < c->nsites; i++) {
		if (c->sites[i].backend == NULL || c->sites[i].backend->nservers == 0)
			return msg(err, errlen, "site \"%s\" has no backend server",
			    c->sites[i].name);
	}
	return 0;
}

/* See config.h. */
bool
config_keyword(size_t i, struct config_keyword *out)
{
	const struct keyword *kw;

	if (i >= NKEYWORDS)
		return false;
	kw = &keywords[i];
	out->block = blocks[kw->block].name;
	out->name = kw->name;
	out->syntax = types[kw->type].syntax;
	if (kw->type == T_BLOCK && blocks[child_block(kw)].labeled)
		out->syntax = "NAME { ... }";
	out->def = kw->def;
	out->doc = kw->doc;
	return true;
}

/*
 * route.c: which site takes a request, from its Host and its path (pure).
 *
 * Sites are tried in config order and the first whose host patterns and
 * path prefix both match wins, so a catch-all site ("hosts *;") belongs
 * last. Nothing is allocated: the Host value is compared in place.
 *
 * Host (RFC 9110 §7.2): the port is stripped (also after an IPv6 literal,
 * "[::1]:8080" is "[::1]"), one trailing dot is ignored ("example.com." is
 * "example.com"), and the comparison is ASCII case-insensitive (host names
 * are, RFC 3986 §3.2.2). Patterns were normalised by config.c (lower case,
 * no trailing dot): "example.com" matches that name only, "*.example.com"
 * any name below it at any depth but not example.com itself, "*" any host,
 * an empty or absent one included.
 *
 * Path: path_prefix is a plain string prefix of the request target's path
 * ("/api" takes "/api", "/api/x" and also "/apis"); write "/api/" for
 * segment boundaries. "/" takes every request, "OPTIONS *" included. A prefix holds no "?" (config.c refuses it), so
 * matching against a target that still carries its query compares only the
 * path. A NULL path is taken as "/".
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "route.h"

/* The host part of a Host value: port and one trailing dot dropped. */
static size_t
host_len(const char *host)
{
	const char *end;
	size_t n;

	if (host[0] == '[') {
		end = strchr(host, ']');
		n = end != NULL ? (size_t)(end - host) + 1 : strlen(host);
	} else {
		end = strchr(host, ':');
		n = end != NULL ? (size_t)(end - host) : strlen(host);
	}
	if (n > 1 && host[n - 1] == '.')
		n--;
	return n;
}

static bool
host_matches(const char *pattern, const char *host, size_t n)
{
	size_t pn = strlen(pattern);

	if (strcmp(pattern, "*") == 0)
		return true;
	if (pattern[0] == '*') {
		/* "*.example.com": at least one label, then ".example.com". */
		pn--;
		pattern++;
		return n > pn && host[n - pn - 1] != '.' &&
		    strncasecmp(host + n - pn, pattern, pn) == 0;
	}
	return n == pn && strncasecmp(host, pattern, n) == 0;
}

/*
 * The first site of c, in config order, that takes host and path (see the
 * top of this file), or NULL. host is the Host field value or the authority
 * of an absolute target, NULL when there is none; path is the request
 * target's path, with or without its query. The site is owned by c.
 */
const struct cfg_site *
route_find(const struct config *c, const char *host, const char *path)
{
	size_t i, j, n;

	if (host == NULL)
		host = "";
	if (path == NULL)
		path = "/";
	n = host_len(host);
	for (i = 0; i < c->nsites; i++) {
		const struct cfg_site *s = &c->sites[i];

		if (strcmp(s->path_prefix, "/") != 0 &&
		    strncmp(path, s->path_prefix, strlen(s->path_prefix)) != 0)
			continue;
		for (j = 0; j < s->nhosts; j++)
			if (host_matches(s->hosts[j], host, n))
				return s;
	}
	return NULL;
}

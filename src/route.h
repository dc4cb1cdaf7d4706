/*
 * route.h: Host (and path prefix) to site (pure).
 */
#ifndef FRESHD_ROUTE_H
#define FRESHD_ROUTE_H

#include <stddef.h>

struct config;
struct cfg_site;

/*
 * The first site, in config order, whose host patterns match host (port
 * stripped, case-insensitive; "*.example.com" matches any subdomain, "*"
 * anything) and whose path_prefix is a prefix of path. NULL when none does.
 */
const struct cfg_site *route_find(const struct config *c, const char *host,
    const char *path);

#endif

/*
 * util.h: the small assertion and object-checking vocabulary every module uses.
 *
 * "Can't happen" conditions (a programmer's mistake) are checked with the
 * cheap asserts below and abort with the location; conditions that input or
 * resources can cause are returned as errors and never asserted.
 *
 * Long-lived structs carry a `magic` member as their first field; CHECK_OBJ
 * verifies it at module boundaries, FREE_OBJ zeroes it before free() so a
 * use-after-free trips the next check instead of reading garbage.
 */
#ifndef FRESHD_UTIL_H
#define FRESHD_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRESHD_ASSERT_FAIL(cond)                                              \
	do {                                                                  \
		fprintf(stderr, "freshd: assertion failed: %s (%s:%d %s)\n", \
		    cond, __FILE__, __LINE__, __func__);                      \
		abort();                                                      \
	} while (0)

#define AN(x)	do { if ((x) == 0) FRESHD_ASSERT_FAIL(#x " != 0"); } while (0)
#define AZ(x)	do { if ((x) != 0) FRESHD_ASSERT_FAIL(#x " == 0"); } while (0)
#define ASSERT(x) do { if (!(x)) FRESHD_ASSERT_FAIL(#x); } while (0)

#define CHECK_OBJ(ptr, type_magic)                                            \
	do { ASSERT((ptr) != NULL); ASSERT((ptr)->magic == (type_magic)); } while (0)
#define CHECK_OBJ_ORNULL(ptr, type_magic)                                     \
	do { if ((ptr) != NULL) ASSERT((ptr)->magic == (type_magic)); } while (0)
#define FREE_OBJ(ptr)                                                         \
	do { (ptr)->magic = 0; free(ptr); (ptr) = NULL; } while (0)

#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

/* Allocation failure is treated as fatal: a proxy that cannot allocate a few
 * bytes cannot answer anyone, and unwinding every caller costs more clarity
 * than it buys. */
static inline void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL) FRESHD_ASSERT_FAIL("out of memory");
	return p;
}

static inline void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (p == NULL) FRESHD_ASSERT_FAIL("out of memory");
	return p;
}

static inline void *
xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);
	if (p == NULL) FRESHD_ASSERT_FAIL("out of memory");
	return p;
}

static inline char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static inline char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

#endif

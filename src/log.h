/*
 * log.h: the error log and the access log.
 *
 * Both are plain file descriptors written with one write(2) per line, so
 * lines from different worker threads never interleave (O_APPEND makes each
 * write atomic for regular files; pipes are atomic up to PIPE_BUF). Reopening
 * (SIGUSR1) dup2()s the new file onto the old descriptor number, so writers
 * in other threads never see a closed descriptor.
 */
#ifndef FRESHD_LOG_H
#define FRESHD_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include "config.h"

/* Opens (or reopens) the logs named in c. Returns 0, or -1 with err set. */
int log_open(const struct config *c, char *err, size_t errlen);
/* Reopens the same paths (after log rotation). */
void log_reopen(void);
void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* One access-log record; strings may be NULL ("-"). */
struct access_record {
	const char	*client;
	const char	*method;
	const char	*target;
	int		status;
	uint64_t	bytes;		/* response bytes sent, head included */
	double		total_ms;
	double		upstream_ms;	/* < 0 when no upstream was involved */
	const char	*cache_status;
};

void log_access(const struct access_record *r);

#endif

/*
 * log.c: the error log and the access log (see log.h for the concurrency
 * rules). Formatting happens into a stack buffer; a line longer than the
 * buffer is cut rather than split across two writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define LOG_LINE_MAX	4096

struct log_target {
	int	fd;		/* -1: off */
	char	path[1024];	/* empty: stderr or off */
};

static struct log_target error_log = { STDERR_FILENO, "" };
static struct log_target access_log = { STDERR_FILENO, "" };
static volatile enum log_level current_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static int
open_target(struct log_target *t, const char *spec, char *err, size_t errlen)
{
	int fd;

	if (spec == NULL || strcmp(spec, "stderr") == 0) {
		t->path[0] = '\0';
		t->fd = STDERR_FILENO;
		return 0;
	}
	if (strcmp(spec, "off") == 0) {
		t->path[0] = '\0';
		t->fd = -1;
		return 0;
	}
	if (strlen(spec) >= sizeof(t->path)) {
		snprintf(err, errlen, "log path too long: %s", spec);
		return -1;
	}
	fd = open(spec, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open log %s: %s", spec, strerror(errno));
		return -1;
	}
	/* Keep the descriptor number stable across reopens (see log.h). */
	if (t->fd > STDERR_FILENO) {
		dup2(fd, t->fd);
		close(fd);
	} else {
		t->fd = fd;
	}
	snprintf(t->path, sizeof(t->path), "%s", spec);
	return 0;
}

int
log_open(const struct config *c, char *err, size_t errlen)
{
	if (open_target(&error_log, c->error_log, err, errlen) != 0)
		return -1;
	if (open_target(&access_log, c->access_log, err, errlen) != 0)
		return -1;
	current_level = c->log_level;
	return 0;
}

static void
reopen_target(struct log_target *t)
{
	char err[256];
	char path[sizeof(t->path)];

	if (t->path[0] == '\0')
		return;
	memcpy(path, t->path, sizeof(path));
	if (open_target(t, path, err, sizeof(err)) != 0)
		log_error("%s", err);
}

void
log_reopen(void)
{
	reopen_target(&error_log);
	reopen_target(&access_log);
}

void
log_set_level(enum log_level level)
{
	current_level = level;
}

/* ISO-8601 UTC with milliseconds: 2026-11-27T21:15:03.123Z */
static size_t
format_now(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	return (size_t)snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(tv.tv_usec / 1000));
}

static void
write_line(int fd, char *buf, size_t n)
{
	ssize_t w;

	if (n >= LOG_LINE_MAX)
		n = LOG_LINE_MAX - 1;
	buf[n++] = '\n';
	do {
		w = write(fd, buf, n);
	} while (w < 0 && errno == EINTR);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char buf[LOG_LINE_MAX + 1];
	size_t n;
	int k;
	va_list ap;

	if (level > current_level || error_log.fd < 0)
		return;
	n = format_now(buf, LOG_LINE_MAX);
	k = snprintf(buf + n, LOG_LINE_MAX - n, " [%s] ", level_names[level]);
	n += (size_t)k;
	va_start(ap, fmt);
	k = vsnprintf(buf + n, LOG_LINE_MAX - n, fmt, ap);
	va_end(ap);
	if (k > 0)
		n += (size_t)k;
	write_line(error_log.fd, buf, n);
}

void
log_access(const struct access_record *r)
{
	char buf[LOG_LINE_MAX + 1];
	char upstream[32];
	size_t n;
	int k;

	if (access_log.fd < 0)
		return;
	if (r->upstream_ms < 0)
		snprintf(upstream, sizeof(upstream), "-");
	else
		snprintf(upstream, sizeof(upstream), "%.1f", r->upstream_ms);
	n = format_now(buf, LOG_LINE_MAX);
	k = snprintf(buf + n, LOG_LINE_MAX - n, " %s %s %s %d %llu %.1f %s %s",
	    r->client ? r->client : "-", r->method ? r->method : "-",
	    r->target ? r->target : "-", r->status, (unsigned long long)r->bytes,
	    r->total_ms, upstream, r->cache_status ? r->cache_status : "-");
	if (k > 0)
		n += (size_t)k;
	write_line(access_log.fd, buf, n);
}

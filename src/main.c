/*
 * main.c: command line, start-up, signals and exit codes.
 *
 * Exit codes: 0 success, 1 configuration error, 2 usage error, 3 start-up
 * failure (cannot bind, cannot open a log or the cache store).
 *
 * Signals are blocked in every thread and taken synchronously by the main
 * thread with sigwait(): TERM/INT drain and exit, HUP reloads the config
 * (a bad one is logged and the running one kept), USR1 reopens the logs.
 *
 * A config is complete once its TLS contexts are built (load_config), so
 * `-t` checks certificate files and keys too, and a reload reads them
 * again: new connections get the new certificates. Listeners are bound
 * once, at start-up; a reload that would leave a running TLS listener
 * without a certificate is refused.
 */
#include "autoconf.h"
#include "config.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "log.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

#define EXIT_CONFIG	1
#define EXIT_USAGE	2
#define EXIT_STARTUP	3
#define STOP_GRACE_MS	10000u

static const char usage_text[] =
    "usage: freshd [-c FILE] [-t] [--origin http[s]://HOST[:PORT]]\n"
    "              [--listen ADDR:PORT] [--cache-dir DIR] [--workers N]\n"
    "              [-h] [--version]\n"
    "\n"
    "  -c, --config FILE   configuration file (see freshd.conf(5))\n"
    "  -t, --test          check the configuration and exit\n"
    "      --origin URL    front this origin (quick mode, or override the config)\n"
    "      --listen A:P    listen on this address (default 127.0.0.1:8080)\n"
    "      --cache-dir DIR cache directory (default ./var/freshd)\n"
    "      --workers N     worker threads (default: one per core)\n"
    "  -h, --help          this help\n"
    "      --version       print the version\n";

struct options {
	const char			*config_file;
	bool				test_only;
	struct config_overrides		ov;
};

static int
parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_ORIGIN = 256, OPT_LISTEN, OPT_CACHE_DIR, OPT_WORKERS, OPT_VERSION };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "origin", required_argument, NULL, OPT_ORIGIN },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	char *end;
	unsigned long n;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config_file = optarg;
			break;
		case 't':
			o->test_only = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case OPT_ORIGIN:
			o->ov.origin = optarg;
			break;
		case OPT_LISTEN:
			o->ov.listen = optarg;
			break;
		case OPT_CACHE_DIR:
			o->ov.cache_dir = optarg;
			break;
		case OPT_WORKERS:
			n = strtoul(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || n < 1 || n > 1024) {
				fprintf(stderr, "freshd: --workers: expected a number from 1 to 1024, got \"%s\"\n",
				    optarg);
				return -1;
			}
			o->ov.workers = (unsigned)n;
			break;
		case OPT_VERSION:
			printf("freshd %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			fputs(usage_text, stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "freshd: unexpected argument \"%s\"\n", argv[optind]);
		fputs(usage_text, stderr);
		return -1;
	}
	return 0;
}

/* Loads the config file (or the defaults) and applies the flags. */
static struct config *
load_config(const struct options *o, char *err, size_t errlen)
{
	struct config *c = NULL;

	if (o->config_file != NULL) {
		if (config_load(o->config_file, &c, err, errlen) != 0)
			return NULL;
	} else {
		c = config_default();
	}
	if (config_apply_overrides(c, &o->ov, err, errlen) != 0 ||
	    config_validate(c, err, errlen) != 0 ||
	    tls_build(c, err, errlen) != 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

/* True when a listener of c is a TLS one. */
static bool
has_tls_listener(const struct config *c)
{
	size_t i;

	for (i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].tls)
			return true;
	return false;
}

/* tls_listening: the listeners bound at start-up include a TLS one. */
static void
reload(const struct options *o, bool tls_listening)
{
	char err[1024];
	struct config *c;

	if (o->config_file == NULL) {
		log_info("SIGHUP: no configuration file to reload");
		return;
	}
	c = load_config(o, err, sizeof(err));
	if (c == NULL) {
		log_error("reload failed, keeping the running configuration: %s", err);
		return;
	}
	if (tls_listening && c->tls == NULL) {
		log_error("reload failed, keeping the running configuration: %s has "
		    "no certificate, but a TLS listener is running", o->config_file);
		config_free(c);
		return;
	}
	log_set_level(c->log_level);
	worker_config_publish(c);
	log_info("configuration reloaded from %s (listeners and workers change only on restart)",
	    o->config_file);
}

static unsigned
default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1u;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct config *c;
	char err[1024];
	sigset_t set;
	unsigned nworkers;
	size_t i;
	int sig;
	bool tls_listening;

	if (parse_args(argc, argv, &o) != 0)
		return EXIT_USAGE;
	c = load_config(&o, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "freshd: %s\n", err);
		return EXIT_CONFIG;
	}
	if (o.test_only) {
		printf("freshd: configuration %s is valid\n",
		    o.config_file ? o.config_file : "(command line)");
		config_free(c);
		return 0;
	}
	if (log_open(c, err, sizeof(err)) != 0) {
		fprintf(stderr, "freshd: %s\n", err);
		config_free(c);
		return EXIT_STARTUP;
	}
	nworkers = c->workers ? c->workers : default_workers();
	/*
	 * Large hits move 256 KiB store chunks through evbuffers. glibc would
	 * mmap each one and trim the worker arenas after each free: a page
	 * fault and a zeroed page for every 4 KiB sent (a quarter of the CPU
	 * of a 1 MiB hit). Keep such buffers in the heap, and freed memory
	 * (up to 64 MiB an arena) for the next response.
	 */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (cache_open(c, err, sizeof(err)) != 0) {
		fprintf(stderr, "freshd: %s\n", err);
		config_free(c);
		return EXIT_STARTUP;
	}
	tls_listening = has_tls_listener(c);
	worker_config_publish(c);
	if (workers_start(nworkers, err, sizeof(err)) != 0) {
		fprintf(stderr, "freshd: %s\n", err);
		worker_config_publish(NULL);
		cache_close();
		return EXIT_STARTUP;
	}
	for (i = 0; i < c->nlisteners; i++)
		log_info("freshd %s listening on %s:%u%s (%u workers)", PACKAGE_VERSION,
		    c->listeners[i].host, c->listeners[i].port,
		    c->listeners[i].tls ? " with TLS" : "", nworkers);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(&o, tls_listening);
		} else if (sig == SIGUSR1) {
			log_reopen();
			log_info("logs reopened");
		} else {
			log_info("signal %d: finishing requests in flight, then exiting", sig);
			break;
		}
	}
	workers_stop(STOP_GRACE_MS);
	cache_close();
	worker_config_publish(NULL);
	log_info("stopped");
	return 0;
}

/*
 * policy_driver.c: prints freshd's policy decisions for the cases of the
 * differential check (tests/differential/diff.js), one line per case.
 *
 * Input, one record per line, a case ending with "E":
 *   C <id>                  starts a case
 *   Q <method>              the request that fetched the response
 *   q <Name>: <value>       one of its header fields
 *   S <status>              the origin's response status
 *   s <Name>: <value>       one of its header fields
 *   T <request_time> <response_time>
 *   R <method>              the later request evaluated against the stored response
 *   r <Name>: <value>       one of its header fields
 *   N <now>                 when the later request arrives
 *   E                       evaluate and print
 * Output, per case:
 *   <id> storable=0|1 why=<reason|-> lifetime=N initial=N age=N
 *        action=<name> sie=0|1 source=none|cc|targeted|cdn
 * where lifetime, initial (corrected_initial_age) and age are those of the
 * stored response (policy_store_fields applied), action is policy_decide()
 * for the later request at <now>, and sie is policy_stale_if_error() for a
 * 500 from the origin at <now>.
 *
 * Options: --heuristic-max N sets cfg.heuristic_max (0: no cap).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headers.h"
#include "http1.h"
#include "policy.h"
#include "util.h"

struct dcase {
	char			id[64];
	char			m1[16];
	char			m2[16];
	struct fields		q1;
	struct fields		q2;
	struct fields		resp;
	int			status;
	time_t			req_time;
	time_t			resp_time;
	time_t			now;
};

static void
add_line(struct fields *f, const char *line)
{
	const char *colon = strchr(line, ':');
	const char *v;

	if (colon == NULL) {
		fprintf(stderr, "policy_driver: bad field line: %s\n", line);
		exit(2);
	}
	v = colon + 1;
	while (*v == ' ')
		v++;
	fields_add(f, line, (size_t)(colon - line), v, strlen(v));
}

static void
init_req(struct http_request *r, const char *method, struct fields *f)
{
	memset(r, 0, sizeof(*r));
	r->method = http_method_from_name(method, strlen(method));
	r->authority = "example.com";
	r->path = "/";
	r->fields = *f;
}

static const char *
source_name(enum policy_cc_source s)
{
	switch (s) {
	case POLICY_CC_CACHE_CONTROL:	return "cc";
	case POLICY_CC_TARGETED:	return "targeted";
	case POLICY_CC_CDN:		return "cdn";
	case POLICY_CC_SURROGATE:	return "surrogate";
	case POLICY_CC_NONE:		return "none";
	}
	return "none";
}

static void
evaluate(const struct policy_config *cfg, struct dcase *c)
{
	struct http_request r1, r2;
	struct policy_response_cc cc;
	struct policy_decision d;
	struct policy_stored s;
	struct policy_age a;
	struct fields stored;
	const char *why = NULL;
	bool storable, sie;

	init_req(&r1, c->m1, &c->q1);
	init_req(&r2, c->m2, &c->q2);
	storable = policy_storable(cfg, &r1, c->status, &c->resp, &why);
	policy_store_fields(cfg, &c->resp, c->resp_time, &stored);
	policy_response_cc(cfg, &stored, &cc);
	s.status = c->status;
	s.fields = &stored;
	s.request_time = c->req_time;
	s.response_time = c->resp_time;
	policy_age(&s, c->resp_time, &a);
	policy_decide(cfg, &r2, &s, false, c->now, &d);
	sie = policy_stale_if_error(cfg, &r2, &s, 500, c->now);
	printf("%s storable=%d why=%s lifetime=%lld initial=%lld age=%lld "
	    "action=%s sie=%d source=%s\n", c->id, storable,
	    why != NULL ? why : "-", (long long)d.lifetime,
	    (long long)a.corrected_initial_age, (long long)d.age,
	    policy_action_name(d.action), sie, source_name(cc.source));
	fields_free(&stored);
}

static void
reset(struct dcase *c)
{
	fields_free(&c->q1);
	fields_free(&c->q2);
	fields_free(&c->resp);
	memset(c, 0, sizeof(*c));
	fields_init(&c->q1);
	fields_init(&c->q2);
	fields_init(&c->resp);
	snprintf(c->m1, sizeof(c->m1), "GET");
	snprintf(c->m2, sizeof(c->m2), "GET");
}

int
main(int argc, char **argv)
{
	struct policy_config cfg;
	struct dcase c;
	char line[8192];
	int i;

	policy_config_default(&cfg);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--heuristic-max") == 0 && i + 1 < argc) {
			cfg.heuristic_max = strtoll(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: policy_driver [--heuristic-max N]\n");
			return 2;
		}
	}
	memset(&c, 0, sizeof(c));
	reset(&c);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t len = strlen(line);
		long long t1, t2;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		switch (line[0]) {
		case 'C':
			reset(&c);
			snprintf(c.id, sizeof(c.id), "%.63s", line + 2);
			break;
		case 'Q':
			snprintf(c.m1, sizeof(c.m1), "%.15s", line + 2);
			break;
		case 'R':
			snprintf(c.m2, sizeof(c.m2), "%.15s", line + 2);
			break;
		case 'q':
			add_line(&c.q1, line + 2);
			break;
		case 'r':
			add_line(&c.q2, line + 2);
			break;
		case 's':
			add_line(&c.resp, line + 2);
			break;
		case 'S':
			c.status = atoi(line + 2);
			break;
		case 'T':
			if (sscanf(line + 2, "%lld %lld", &t1, &t2) != 2) {
				fprintf(stderr, "policy_driver: bad T line\n");
				return 2;
			}
			c.req_time = (time_t)t1;
			c.resp_time = (time_t)t2;
			break;
		case 'N':
			c.now = (time_t)strtoll(line + 2, NULL, 10);
			break;
		case 'E':
			evaluate(&cfg, &c);
			break;
		default:
			fprintf(stderr, "policy_driver: bad line: %s\n", line);
			return 2;
		}
	}
	fields_free(&c.q1);
	fields_free(&c.q2);
	fields_free(&c.resp);
	return 0;
}

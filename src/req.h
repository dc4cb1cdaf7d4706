/*
 * req.h: the request state machine (one request on one client connection).
 *
 * Steps: RECV (head parsed) → ROUTE (Host → site) → PASS (forward to the
 * backend; caching steps join here with the cache issue) → FETCH → DELIVER
 * (response head and body to the client) → LOG → DONE. This file is the one
 * place that sequences a request; it never touches sockets itself: bytes go
 * through client.c and fetch.c.
 */
#ifndef FRESHD_REQ_H
#define FRESHD_REQ_H

#include <stdbool.h>
#include <stddef.h>

#include "http1.h"

struct client;
struct evbuffer;

/*
 * Starts a request and sets c->req; takes ownership of *hr (moved into the
 * request). The request may be over (an error answered) when this returns:
 * c->req is NULL then.
 */
void req_start(struct client *c, struct http_request *hr);
/* Request body bytes decoded by the client: n bytes at the front of in. */
void req_body_data(struct req *r, struct evbuffer *in, size_t n);
void req_body_end(struct req *r);
/*
 * The request body is unusable (bad chunked coding: 400; over the site's
 * limit: 413). Answers with status if no response has started, else cuts the
 * connection; the request ends either way.
 */
void req_fail(struct req *r, int status);
/* The client's output drained below the low mark. */
void req_client_drained(struct req *r);
/* The connection failed or closed: abandon everything, then req_free. */
void req_client_gone(struct req *r);
/* Writes the access-log record and frees the request. */
void req_finish(struct req *r);

#endif

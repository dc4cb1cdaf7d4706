/*
 * client.h: a client connection's state machine on a bufferevent.
 *
 * States: HEAD (reading a request head; idle or header timeout armed) →
 * REQUEST (a request is running: its body, if any, is read and handed to the
 * request; pipelined bytes wait in the input buffer) → back to HEAD for
 * keep-alive, or CLOSING (output flushed, then a lingering close: our FIN is
 * sent and what the client still sends is read and discarded for a moment,
 * so a final response is not destroyed by a reset).
 *
 * One request at a time per connection; pipelined requests are parsed only
 * after the previous response has been queued, so responses stay in order.
 */
#ifndef FRESHD_CLIENT_H
#define FRESHD_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "http1.h"

struct worker;
struct req;
struct bufferevent;
struct evbuffer;
struct event;
struct config_ref;

enum client_state {
	CLIENT_HEAD = 0,
	CLIENT_REQUEST,
	CLIENT_CLOSING,
	CLIENT_LINGER,
};

#define CLIENT_MAGIC	0x434c4e54u

struct client {
	unsigned		magic;
	enum client_state	state;
	struct worker		*worker;
	struct bufferevent	*bev;		/* output, write timeout, input buffer */
	struct event		*read_ev;	/* reads the socket into bev's input; NULL for TLS */
	bool			tls;		/* accepted on a TLS listener: bev is OpenSSL's */
	bool			tls_ready;	/* its handshake is done */
	bool			aborted;	/* the response was cut: no close_notify */
	struct timeval		read_tv;	/* read_ev's timeout, when read_tv_set */
	bool			read_tv_set;
	bool			read_timer_armed;	/* read_ev was added with read_tv */
	struct config_ref	*cfg;
	char			addr[64];	/* peer address, for logs and X-Forwarded-For */
	struct req		*req;
	uint64_t		requests;	/* requests started on this connection */
	bool			head_timer;	/* the header timeout (not idle) is armed */
	unsigned		linger_ticks;	/* LINGER: timer ticks so far */
	int			last_unsent;	/* HEAD: kernel's unsent bytes at the last tick */
	unsigned		stalled_ms;	/* HEAD: time they have not shrunk */
	/* request body decoding */
	enum http_body		body;
	uint64_t		body_remaining;	/* BODY_LENGTH */
	uint64_t		body_total;
	uint64_t		body_max;
	struct http1_chunked	chunked;
	bool			body_done;
	bool			body_paused;
	bool			response_done;
	bool			close_after;	/* close once the response is written */
	bool			body_timeout;	/* the read timeout is armed (a body) */
	struct event		*timer;
	struct event		*next_ev;	/* parse the next pipelined request */
	struct event		*flush_ev;	/* send what is staged in out */
	struct evbuffer		*out;		/* staged response bytes (client.c) */
	bool			out_pinned;	/* client_output_pin */
	struct event		*ref_ev;	/* hold_refs' timer; made on first use */
	bool			output_wait;	/* HEAD: next request waits for the output to drain */
	LIST_ENTRY(client)	link;
};

/*
 * Takes over an accepted socket; tls when it came from a TLS listener (the
 * handshake, with the published config's certificates, comes first).
 */
void client_accept(struct worker *w, evutil_socket_t fd, const struct sockaddr *sa,
    int salen, bool tls);

/*
 * Where the request writes its response: a staging buffer, sent once the
 * current callback returns (see client.c).
 */
struct evbuffer *client_output(struct client *c);
/*
 * Says that what the request just staged references memory that must be
 * let go soon (store chunks referenced in the store's map, each holding a
 * read transaction): what the socket does not take at once is queued by
 * reference for a few milliseconds, and copied if still queued then.
 */
void client_output_pin(struct client *c);
/* True when the output backlog is above the high mark (pause the origin). */
bool client_output_congested(const struct client *c);
/*
 * True when what is staged now would go straight to the kernel: a plain
 * TCP connection with nothing queued (client_output_send may be called).
 */
bool client_output_through(const struct client *c);
/*
 * Writes what is staged to the socket now (only while client_output_through).
 * What the kernel does not take is queued, up to about the high mark in
 * whole pieces as staged; the rest, never more than the last max_drop
 * bytes staged, is dropped, and its length returned, for the caller to
 * stage again once the queue drains.
 */
size_t client_output_send(struct client *c, size_t max_drop);

/*
 * Request-body flow control, called by the request: stop reading the body
 * from the socket while the origin is slow, and start again.
 */
void client_body_pause(struct client *c);
void client_body_resume(struct client *c);
/* Sets the body limit (from the site) for a chunked body; 0 = none. */
void client_body_limit(struct client *c, uint64_t max);
/* Sends "100 Continue" (RFC 9110 §10.1.1) if the client asked for it. */
void client_continue(struct client *c);

/*
 * The response has been written completely to client_output. keep_alive is
 * false when the framing or the request forbids reuse; the connection then
 * closes after flushing.
 */
void client_response_done(struct client *c, bool keep_alive);
/* The response cannot be completed: close at once so the client sees truncation. */
void client_response_abort(struct client *c);
/*
 * Writes a small complete error response (status, text/plain body unless
 * no_body, for HEAD) and marks the response done. close_conn forces
 * Connection: close and closes after flushing.
 */
void client_send_error(struct client *c, int status, bool close_conn, bool no_body);
/* Closes an idle keep-alive connection (drain); no-op when busy. */
void client_close_if_idle(struct client *c);
/* Closes the connection now, whatever its state (shutdown after the grace time). */
void client_destroy(struct client *c);

#endif

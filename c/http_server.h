/* http_server.h: the libmicrohttpd daemon and request routing. */
#ifndef B3S_HTTP_SERVER_H
#define B3S_HTTP_SERVER_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

struct http_park;

/* What a handler answers; the server turns it into an MHD response. A handler that must wait
 * for a node sets park instead: the connection is parked (no thread waits) until the task
 * calls http_park_wake, then resume answers (or parks again). */
struct http_answer {
	int status;
	const char *content_type;
	struct buf body;
	char *location;  /* malloc'd, for redirects */
	char *set_cookie; /* malloc'd Set-Cookie value, NULL for none */
	struct http_park *park;
	/* instead of body: bytes shared with other answers (a kept getMeetings list, MBs), sent
	 * without a copy; shared_release(shared_cls) runs once they are sent or dropped */
	const char *shared;
	size_t shared_len;
	void (*shared_release)(void *cls);
	void *shared_cls;
	const char *encoding;  /* Content-Encoding of the body ("gzip"), NULL for none */
	int vary_encoding;     /* the body depends on Accept-Encoding */
};

/* A parked request. The handler embeds this in its task and fills the three functions; the
 * server fills conn. start and resume run on the connection's own worker thread. */
struct http_park {
	/* after the connection is suspended: submit the node calls (never blocks) */
	void (*start)(struct http_park *p);
	/* after http_park_wake: fill a, or set a->park again to wait once more */
	void (*resume)(struct http_park *p, struct http_answer *a);
	/* the request is over (answered, or the client went away): free the task */
	void (*release)(struct http_park *p);
	void *conn;
};

/* Any thread, once per start: the task's calls are done, resume the connection. */
void http_park_wake(struct http_park *p);
/* Requests parked right now (for /metrics and the drain at shutdown). */
long http_server_parked(void);

/* One incoming request as handlers see it (all borrowed, valid during the call). */
struct http_request {
	const char *method;
	const char *path;       /* decoded path without query */
	const char *raw_query;  /* exactly as sent, "" when none */
	size_t query_len;
	const char *body;
	size_t body_len;
	const char *content_type;
	const char *authorization;
	const char *accept_encoding; /* NULL when absent */
	const char *cookie;          /* Cookie header, NULL when absent */
	const char *original_uri;    /* X-Original-URI (nginx auth_request), NULL when absent */
	int body_too_big;
	const char *client;     /* address, X-Forwarded-For from trusted proxies; never NULL */
};

struct http_server;

int http_server_start(struct http_server **out, const struct lb_config *cfg, char *err,
		      size_t errlen);
/* SIGTERM: stop accepting (the port is released at once); answers from now on carry
 * Connection: close. Requests already begun still run. */
void http_server_quiesce(struct http_server *s);
/* Cuts connections past B3SCALE_REQUEST_TIMEOUT_MS; called by the main loop every ~250 ms. */
void http_server_sweep(struct http_server *s);
/* Stops the daemon; with requests still parked it leaves it running (MHD would abort). */
void http_server_stop(struct http_server *s);

/* For /metrics: requests begun and not completed (parked ones included), open connections. */
long http_server_inflight(void);
long http_server_connections(void);

/* Totals since start, for /metrics. */
struct http_server_counters {
	unsigned long connections_refused; /* over B3SCALE_MAX_CONNECTIONS(_PER_IP) */
	unsigned long requests_cut;        /* past B3SCALE_REQUEST_TIMEOUT_MS (slowloris) */
	unsigned long bodies_refused;      /* body over the route's limit */
};
void http_server_counters(struct http_server_counters *out);

#endif

/* http_server.h: the libmicrohttpd daemon and request routing. */
#ifndef B3S_HTTP_SERVER_H
#define B3S_HTTP_SERVER_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

/* What a handler answers; the server turns it into an MHD response. */
struct http_answer {
	int status;
	const char *content_type;
	struct buf body;
	char *location;  /* malloc'd, for redirects */
};

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
	int body_too_big;
};

struct http_server;

int http_server_start(struct http_server **out, const struct lb_config *cfg, char *err,
		      size_t errlen);
void http_server_stop(struct http_server *s);

#endif

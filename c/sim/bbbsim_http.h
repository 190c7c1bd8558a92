/* bbbsim_http.h: the HTTP server of the simulator and the request/reply shapes handlers use. */
#ifndef BBBSIM_HTTP_H
#define BBBSIM_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "buf.h"
#include "bbbsim_state.h"

/* One request as the handlers see it; everything raw, as received. */
struct bbbsim_http_request {
	const char *method;
	const char *path;          /* NUL-terminated, query removed, not decoded */
	const char *query;         /* raw query (may be empty), not NUL-terminated */
	size_t query_len;
	const char *content_type;  /* NULL when absent */
	const char *body;
	size_t body_len;
};

struct bbbsim_http_reply {
	unsigned status;
	const char *content_type;  /* static string */
	char *location;            /* owned; sets a Location header when non-NULL */
	struct buf body;
};

void bbbsim_http_reply_init(struct bbbsim_http_reply *rep);
void bbbsim_http_reply_free(struct bbbsim_http_reply *rep);
/* Plain-text reply with a trailing newline. */
int bbbsim_http_reply_text(struct bbbsim_http_reply *rep, unsigned status, const char *text);

struct bbbsim_http;

/* Starts serving on addr; *port receives the bound port (useful with port 0). */
int bbbsim_http_start(struct bbbsim_http **out, struct bbbsim_state *st,
		      const struct sockaddr *addr, socklen_t alen, unsigned *port);
void bbbsim_http_stop(struct bbbsim_http *h);

#endif

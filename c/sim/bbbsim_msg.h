/* bbbsim_msg.h: the request and reply shapes the simulator's handlers work on, apart from
 * the HTTP server so that handlers and server do not depend on each other. */
#ifndef BBBSIM_MSG_H
#define BBBSIM_MSG_H

#include <stddef.h>

#include "buf.h"

/* One request as the handlers see it; everything raw, as received. */
struct bbbsim_msg_request {
	const char *method;
	const char *path;          /* NUL-terminated, query removed, not decoded */
	const char *query;         /* raw query (may be empty), not NUL-terminated */
	size_t query_len;
	const char *content_type;  /* NULL when absent */
	const char *body;
	size_t body_len;
};

struct bbbsim_msg_reply {
	unsigned status;
	const char *content_type;  /* static string */
	char *location;            /* owned; sets a Location header when non-NULL */
	struct buf body;
};

void bbbsim_msg_reply_init(struct bbbsim_msg_reply *rep);
void bbbsim_msg_reply_free(struct bbbsim_msg_reply *rep);
/* Plain-text reply with a trailing newline. */
int bbbsim_msg_reply_text(struct bbbsim_msg_reply *rep, unsigned status, const char *text);

#endif

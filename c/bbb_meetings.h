/* bbb_meetings.h: the meeting calls (create, join, end, isMeetingRunning, getMeetingInfo,
 * getMeetings), after bbb_api.c has verified the frontend and checksum. */
#ifndef B3S_BBB_MEETINGS_H
#define B3S_BBB_MEETINGS_H

#include "http_server.h"
#include "lb.h"
#include "query.h"
#include "worker.h"

/* One verified BBB API call in flight. */
struct bbb_ctx {
	struct worker *w;
	const struct http_request *req;
	struct http_answer *a;
	const struct lb_frontend *fe;
	const char *call;
	const char *raw;        /* the signed parameter string (query, or form body) */
	size_t rawlen;
	int form_body;
	struct query params;    /* decoded */
	struct lb_meeting meeting; /* fetched with the frontend when the call names one */
	int meeting_fetched;
	int meeting_found;
	const char *outcome;    /* for the access log: SUCCESS or the messageKey */
	char outcome_buf[64];
	char backend_host[256];
};

void bbb_meetings_create(struct bbb_ctx *c);
void bbb_meetings_join(struct bbb_ctx *c);
/* end, isMeetingRunning and getMeetingInfo: routed to the meeting's backend. */
void bbb_meetings_forward(struct bbb_ctx *c);
void bbb_meetings_list(struct bbb_ctx *c);
/* Answers with the BBB error envelope (bbb_api.c). */
void bbb_api_error(struct bbb_ctx *c, const char *key, const char *msg);

#endif

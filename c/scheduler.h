/* scheduler.h: placing a create: claim in Postgres, pick through the policy, forward, retry. */
#ifndef B3S_SCHEDULER_H
#define B3S_SCHEDULER_H

#include "db_meetings.h"
#include "lb.h"
#include "query.h"
#include "worker.h"
#include "xml_dom.h"

struct scheduler_create {
	const struct lb_frontend *fe;
	const char *meeting_id;          /* the frontend's ID */
	const char *backend_meeting_id;  /* namespaced */
	const struct query *params;      /* the request's parameters, for the policy */
	struct db_create_call call;      /* what is forwarded (meetingID already namespaced) */
	const char *method;
	char *placed_host;               /* out: the backend that answered, for the access log */
	size_t placed_host_len;
};

/* 0: *answer is the node's <response> (SUCCESS, or a FAILED that is the client's own doing).
 * Negative: no node could create it; key and msg hold the BBB error to answer with. */
int scheduler_create(struct worker *w, const struct scheduler_create *sc,
		     struct xml_node **answer, const char **key, char *msg, size_t msglen);

#endif

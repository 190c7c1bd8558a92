/* scheduler.h: placing a create: claim in Postgres, pick through the policy, forward, retry. */
#ifndef B3S_SCHEDULER_H
#define B3S_SCHEDULER_H

#include "db_meetings.h"
#include "lb.h"
#include "policy.h"
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
	/* the meeting's row as read with the frontend (found or not), or NULL: the first
	 * lookup takes it instead of reading again (one round trip less per create) */
	struct lb_meeting *row;
	int row_found;
};

/* One create being placed, across the waits for nodes. The caller drives it: after
 * scheduler_next or scheduler_answered returns SCHEDULER_CALL it sends "create" to
 * run->target (sc.method, sc.call) and hands the outcome to scheduler_answered; at
 * SCHEDULER_DONE, rc 0 means answer is the node's <response> (SUCCESS, or a FAILED that is
 * the client's own doing; the caller takes it) and negative means no node could create it,
 * with key and msg the BBB error to answer with. */
struct scheduler_run {
	struct scheduler_create sc;
	struct lb_backend target;
	long long row_id;
	unsigned loops, failures, attempt;
	long long version; /* placement_version of the last pick */
	int confirmed;
	int claimed;  /* this run inserted the row: only then may it drop it */
	int row_taken; /* sc.row was used */
	int sized;     /* expected_size/expected_source were worked out (first pick) */
	long expected_size;
	const char *expected_source; /* NULL: nothing known (c/placement_size.h) */
	const char *excluded[32];
	char excluded_ids[32][40];
	size_t nexcluded;
	int rc;
	struct xml_node *answer;
	const char *key;
	char msg[512];
	/* why the last pick was made (stored with the claim or move, sql/0024) */
	struct policy_explain explain;
	char why_error[256]; /* the policy's failure when the fallback picked */
	int by_fallback;
};

enum scheduler_step { SCHEDULER_CALL, SCHEDULER_DONE };

struct scheduler_run *scheduler_run_new(const struct scheduler_create *sc);
void scheduler_run_free(struct scheduler_run *r);
enum scheduler_step scheduler_next(struct worker *w, struct scheduler_run *r);
/* The node's answer to the last create (rc and doc as bbb_backend_answer; doc is taken). */
enum scheduler_step scheduler_answered(struct worker *w, struct scheduler_run *r, int rc,
				       struct xml_node *doc, const char *err);

#endif

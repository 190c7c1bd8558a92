/* bbb_task.h: one BBB API request from verification to answer, possibly across waits for
 * nodes. A handler that needs a node adds calls (bbb_task_call) and names the function to
 * continue with; the connection is parked meanwhile and the worker serves others. */
#ifndef B3S_BBB_TASK_H
#define B3S_BBB_TASK_H

#include <time.h>

#include "http_server.h"
#include "lb.h"
#include "node_loop.h"
#include "query.h"
#include "worker.h"
#include "xml_dom.h"

struct scheduler_run;

/* A call to a node, prepared by a handler and submitted once the connection is parked. */
struct bbb_pending {
	struct buf url;
	struct node_call_spec spec;
	struct node_call *call;
	const struct lb_backend *b; /* borrowed from the task */
};

#define BBB_TASK_OWNED 6

/* One verified BBB API call in flight. */
struct bbb_ctx {
	struct http_park park;  /* the HTTP server holds the task through this */
	struct worker *w;
	const struct http_request *req;
	struct http_answer *a;
	const struct lb_frontend *fe;
	struct lb_frontend fe_store;
	char key[72];
	char call_buf[64];
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
	/* meetingID as the request named it, before any rewrite for a node (for the access log;
	 * longer ones are cut there anyway) */
	char log_meeting[260];
	struct timespec t0;
	int finished;
	/* waiting for nodes */
	struct bbb_pending *pend, *done;
	size_t npend, ndone;
	long calls_left;
	void (*next)(struct bbb_ctx *c);
	/* what a handler carries across a wait */
	struct lb_meeting m;
	struct lb_backend_list bl;
	struct scheduler_run *run;
	void (*placed)(struct bbb_ctx *c); /* after the scheduler is done */
	char *mid;              /* the frontend's meeting ID */
	struct buf nsid, q;
	struct query stored;    /* a re-create's stored parameters */
	char *owned[BBB_TASK_OWNED];
};

/* A task for one request (NULL when out of memory). */
struct bbb_ctx *bbb_task_new(struct worker *w, const struct http_request *req,
			     struct http_answer *a);
/* After the handler returned: parks the connection when calls were added, else finishes
 * (access log, metrics) and frees the task. */
void bbb_task_settle(struct bbb_ctx *c);
/* Adds a call to b and sets what runs when all added calls are done; negative on OOM. */
int bbb_task_call(struct bbb_ctx *c, const struct lb_backend *b, const char *call,
		  const char *method, const char *encoded_query, const char *body,
		  size_t body_len, const char *content_type, void (*next)(struct bbb_ctx *c));
/* Marks the call just added as shared (node_share.h): identical calls wait for one node
 * call, and a fresh answer is reused. scope (the backend meeting ID) must outlive the park. */
void bbb_task_share(struct bbb_ctx *c, const char *scope);
/* In next: the answer of the i-th call added before the wait, as bbb_backend_answer. */
int bbb_task_answer(struct bbb_ctx *c, size_t i, struct xml_node **doc, char *err,
		    size_t errlen);
/* 1 when the i-th call's answer was another call's (the node was not asked for it). */
int bbb_task_answer_shared(const struct bbb_ctx *c, size_t i);
/* The size in bytes of the i-th call's answer (0 when there was none). */
size_t bbb_task_answer_size(const struct bbb_ctx *c, size_t i);
/* Keeps p until the task ends (freed with it); returns p. */
void *bbb_task_own(struct bbb_ctx *c, void *p);

#endif

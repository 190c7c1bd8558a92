/* agent_report.h: the agent's HTTP calls: b3scaled's agent API and the node's getMeetings. */
#ifndef B3S_AGENT_REPORT_H
#define B3S_AGENT_REPORT_H

#include <stddef.h>

#include <curl/curl.h>

#include "agent_config.h"
#include "buf.h"

#define AGENT_VERSION "0.1.0"

/* Outcomes of a call to b3scaled besides 0 (a 2xx answer):
 *   -EAGAIN  not reached, timed out, 5xx, 408 or 429: keep the data, back off, retry
 *   -EACCES  401/403: the token is wrong or expired; keep the data and retry (it may be fixed)
 *   -ENOENT  404 (no backend for this agent, or the route is unknown)
 *   -EINVAL  any other 4xx: this report was refused and retrying it will not help */
struct agent_report {
	const struct agent_config *cfg;
	CURL *api;  /* b3scaled; one handle so the connection is kept alive */
	CURL *node; /* the local BBB API */
	char auth[4200]; /* "Authorization: Bearer ..." -- never logged */
	long long fetched_at_ms; /* wall clock when the last state was asked of the node */
};

int agent_report_init(struct agent_report *r, const struct agent_config *cfg, char *err,
		      size_t errlen);
void agent_report_free(struct agent_report *r);

/* One call to b3scaled (path starts with "/api/v1/"); *status is the HTTP status or 0. The
 * answer body goes to answer when given; err gets a short reason on failure. */
int agent_report_call(struct agent_report *r, const char *method, const char *path,
		      const char *content_type, const char *body, size_t len, long timeout_ms,
		      long *status, struct buf *answer, char *err, size_t errlen);

/* An HTTP status as one of the outcomes above (0 for 2xx; a status below 100 is -EAGAIN). */
int agent_report_classify(long status);
/* CURLOPT_WRITEFUNCTION into the struct buf at ud: keeps the first 1 MiB of an answer. */
size_t agent_report_write(char *p, size_t size, size_t n, void *ud);

/* GET /api/v1/agent/backend: 0 when this agent's backend exists, -ENOENT when not. */
int agent_report_backend(struct agent_report *r, long *status, char *err, size_t errlen);
/* POST /api/v1/backends with the node's API URL, secret and load factor. */
int agent_report_register(struct agent_report *r, int ready, long *status, char *err,
			  size_t errlen);
int agent_report_heartbeat(struct agent_report *r, const char *json, long *status, char *err,
			   size_t errlen);
int agent_report_events(struct agent_report *r, const char *ndjson, size_t len, long *status,
			char *err, size_t errlen);
/* POSTs the state last fetched, with the time it was fetched (?fetched_at=, epoch ms), so
 * b3scaled never takes a meeting confirmed after that moment for one the node lost. */
int agent_report_state(struct agent_report *r, const char *xml, size_t len, long *status,
		       char *err, size_t errlen);

/* The node's own signed getMeetings answer into xml. 0 on a SUCCESS answer; -EIO when the
 * node could not be reached, -EPROTO when it answered with an error (reason in err). */
int agent_report_fetch_state(struct agent_report *r, struct buf *xml, char *err, size_t errlen);

#endif

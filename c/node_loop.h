/* node_loop.h: every call to a BBB node runs here, on one thread driving a libcurl multi
 * handle, so no HTTP worker ever waits on the network. Connections to nodes are pooled and
 * kept alive by the multi handle. Each node has a bulkhead (a cap on calls in flight) and a
 * circuit breaker (after consecutive timeouts or connection failures its calls fail fast
 * until a probe succeeds). */
#ifndef B3S_NODE_LOOP_H
#define B3S_NODE_LOOP_H

#include <stddef.h>

#include "config.h"
#include "proxy.h"

struct node_call;

/* Runs exactly once per submitted call, on the loop thread: keep it short (wake a parked
 * connection, signal a condition). The call stays valid until node_call_free. */
typedef void (*node_call_done_fn)(struct node_call *call, void *ud);

struct node_call_spec {
	const char *backend_id;  /* bulkhead and breaker key */
	const char *host;        /* the node's API base URL, for metrics and logs */
	const char *url;         /* complete signed URL (copied; never logged) */
	const char *method;      /* "GET" or "POST" */
	const char *body;        /* POST body (copied), NULL for none */
	size_t body_len;
	const char *content_type;
	long timeout_ms;         /* 0: B3SCALE_BACKEND_TIMEOUT_MS */
	long connect_timeout_ms; /* 0: B3SCALE_BACKEND_CONNECT_TIMEOUT_MS */
	int probe;               /* polls: pass an open circuit, their outcome closes or opens it */
	/* non-NULL: identical calls (same URL) share one answer, in flight and for the reuse
	 * window (node_share.h); the backend meeting ID whose changes drop it */
	const char *share_scope;
};

enum node_breaker_state { NODE_CLOSED, NODE_OPEN, NODE_HALF_OPEN };

/* What /metrics, /status and b3scalectl show of one node's calls (this instance's view). */
struct node_health_view {
	char backend_id[40];
	char host[256];
	enum node_breaker_state state;
	unsigned inflight;
	unsigned failures;               /* consecutive */
	unsigned long calls, errors, rejected_open, rejected_busy, opened;
};

int node_loop_start(const struct lb_config *cfg, char *err, size_t errlen);
/* Fails every queued and running call with -ECANCELED (their done runs), then stops. */
void node_loop_stop(void);

/* Queues a call. NULL only when out of memory (done is then never called). A refused call
 * (queue full, bulkhead, open circuit, loop stopped) still completes through done. */
struct node_call *node_call_submit(const struct node_call_spec *s, node_call_done_fn done,
				   void *ud);
/* After done: 0 when the node answered (any HTTP status, in *res), else -ETIMEDOUT,
 * -ECONNREFUSED, -EIO, -EFBIG (answer too large), -EBUSY (bulkhead full), -EHOSTDOWN
 * (circuit open), -ENOBUFS (loop queue full) or -ECANCELED (shutting down); *err says why in
 * words (never the URL). */
int node_call_result(const struct node_call *c, const struct proxy_result **res,
		     const char **err);
long node_call_latency_ms(const struct node_call *c);
/* When the call went to the node (wall clock, ms since the epoch), 0 when it never did: what
 * its answer is as old as. */
long long node_call_started_at(const struct node_call *c);
/* 1 when the answer is another call's (waited for, or reused): the node was not asked. */
int node_call_shared(const struct node_call *c);
/* A shared call answered at once from the reuse window, done already (its done callback
 * never runs), or NULL: lets a worker answer without parking. */
struct node_call *node_call_reused(const struct node_call_spec *s);
void node_call_free(struct node_call *c);

/* Submits n calls and waits until all are done (for background threads, never for HTTP
 * workers). Entries that could not be allocated are NULL. */
void node_loop_run_all(const struct node_call_spec *specs, size_t n, struct node_call **out);

/* 1 while this instance's circuit to the node is open (its calls would fail fast). */
int node_loop_failing_fast(const char *backend_id);
/* A snapshot of every node seen so far; returns the count written (at most cap). */
size_t node_loop_health(struct node_health_view *v, size_t cap);
const char *node_loop_state_name(enum node_breaker_state s);

#endif

/* node_breaker.c: closed -> open after B3SCALE_NODE_BREAKER_FAILURES consecutive timeouts or
 * connection failures; open fails calls fast for B3SCALE_NODE_BREAKER_OPEN_MS; then half-open
 * lets one call through as a probe (polls always pass as probes), whose outcome closes or
 * re-opens the circuit. A node that answers at all, even with an error, is reachable. */
#include "node_breaker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

#define NODE_BREAKER_BUCKETS 1024

struct node_entry {
	struct node_entry *next;
	struct node_health_view v;
	long long open_until_ms;
	int probing; /* a half-open probe is in flight */
};

static struct {
	pthread_mutex_t mu; /* guards the table against snapshots */
	struct node_entry *buckets[NODE_BREAKER_BUCKETS];
	size_t n;
	unsigned max_inflight, failures;
	long open_ms;
} node_breaker = { .mu = PTHREAD_MUTEX_INITIALIZER };

void node_breaker_setup(const struct lb_config *cfg)
{
	node_breaker.max_inflight = cfg->node_max_inflight;
	node_breaker.failures = cfg->node_breaker_failures;
	node_breaker.open_ms = cfg->node_breaker_open_ms;
}

void node_breaker_teardown(void)
{
	struct node_entry *e, *next;
	size_t i;

	pthread_mutex_lock(&node_breaker.mu);
	for (i = 0; i < NODE_BREAKER_BUCKETS; i++) {
		for (e = node_breaker.buckets[i]; e; e = next) {
			next = e->next;
			free(e);
		}
		node_breaker.buckets[i] = NULL;
	}
	node_breaker.n = 0;
	pthread_mutex_unlock(&node_breaker.mu);
}

static size_t node_breaker_hash(const char *s)
{
	return buf_hash(BUF_HASH_SEED, s) % NODE_BREAKER_BUCKETS;
}

struct node_entry *node_breaker_get(const char *backend_id, const char *host)
{
	size_t b = node_breaker_hash(backend_id);
	struct node_entry *e;

	for (e = node_breaker.buckets[b]; e; e = e->next)
		if (strcmp(e->v.backend_id, backend_id) == 0)
			break;
	if (e && strcmp(e->v.host, host) == 0)
		return e;
	pthread_mutex_lock(&node_breaker.mu);
	if (e) {
		/* the backend's URL changed: a new address starts with a clean record */
		snprintf(e->v.host, sizeof(e->v.host), "%s", host);
		e->v.state = NODE_CLOSED;
		e->v.failures = 0;
	} else if ((e = calloc(1, sizeof(*e)))) {
		snprintf(e->v.backend_id, sizeof(e->v.backend_id), "%s", backend_id);
		snprintf(e->v.host, sizeof(e->v.host), "%s", host);
		e->next = node_breaker.buckets[b];
		node_breaker.buckets[b] = e;
		node_breaker.n++;
	}
	pthread_mutex_unlock(&node_breaker.mu);
	return e;
}

int node_breaker_admit(struct node_entry *e, int probe, long long now_ms, char *err,
		       size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&node_breaker.mu);
	if (e->v.state == NODE_OPEN && now_ms >= e->open_until_ms)
		e->v.state = NODE_HALF_OPEN;
	if (!probe && (e->v.state == NODE_OPEN || (e->v.state == NODE_HALF_OPEN && e->probing))) {
		e->v.rejected_open++;
		snprintf(err, errlen, "circuit open after %u consecutive failures", e->v.failures);
		rc = -EHOSTDOWN;
	} else if (e->v.inflight >= node_breaker.max_inflight) {
		e->v.rejected_busy++;
		snprintf(err, errlen, "%u calls already in flight to this node", e->v.inflight);
		rc = -EBUSY;
	} else {
		if (e->v.state == NODE_HALF_OPEN && !probe)
			e->probing = 1;
		e->v.inflight++;
		e->v.calls++;
	}
	pthread_mutex_unlock(&node_breaker.mu);
	return rc;
}

static int node_breaker_counts(int rc)
{
	return rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -EIO;
}

void node_breaker_done(struct node_entry *e, int rc, long long now_ms)
{
	enum node_breaker_state was;

	pthread_mutex_lock(&node_breaker.mu);
	was = e->v.state;
	e->v.inflight--;
	if (e->v.state == NODE_HALF_OPEN)
		e->probing = 0;
	if (rc != 0)
		e->v.errors++;
	if (!node_breaker_counts(rc)) {
		e->v.failures = 0;
		e->v.state = NODE_CLOSED;
	} else {
		e->v.failures++;
		if (e->v.state != NODE_CLOSED || e->v.failures >= node_breaker.failures) {
			if (e->v.state != NODE_OPEN)
				e->v.opened++;
			e->v.state = NODE_OPEN;
			e->open_until_ms = now_ms + node_breaker.open_ms;
		}
	}
	pthread_mutex_unlock(&node_breaker.mu);
	if (was != NODE_OPEN && e->v.state == NODE_OPEN)
		log_warn("node", "event=circuit_open backend=%s failures=%u open_ms=%ld", e->v.host,
			 e->v.failures, node_breaker.open_ms);
	else if (was != NODE_CLOSED && e->v.state == NODE_CLOSED)
		log_info("node", "event=circuit_closed backend=%s", e->v.host);
}

int node_breaker_is_open(const char *backend_id, long long now_ms)
{
	struct node_entry *e;
	int open = 0;

	pthread_mutex_lock(&node_breaker.mu);
	for (e = node_breaker.buckets[node_breaker_hash(backend_id)]; e; e = e->next)
		if (strcmp(e->v.backend_id, backend_id) == 0)
			open = e->v.state == NODE_OPEN && now_ms < e->open_until_ms;
	pthread_mutex_unlock(&node_breaker.mu);
	return open;
}

size_t node_breaker_snapshot(struct node_health_view *v, size_t cap)
{
	struct node_entry *e;
	size_t i, n = 0;

	pthread_mutex_lock(&node_breaker.mu);
	for (i = 0; i < NODE_BREAKER_BUCKETS; i++)
		for (e = node_breaker.buckets[i]; e && n < cap; e = e->next)
			v[n++] = e->v;
	pthread_mutex_unlock(&node_breaker.mu);
	return n;
}

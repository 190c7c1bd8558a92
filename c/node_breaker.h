/* node_breaker.h: per-node bulkhead and circuit breaker, in memory (each instance judges
 * from its own calls). Mutated only by node_loop.c's thread; snapshots from anywhere. */
#ifndef B3S_NODE_BREAKER_H
#define B3S_NODE_BREAKER_H

#include <stddef.h>

#include "config.h"
#include "node_loop.h"

struct node_entry;

void node_breaker_setup(const struct lb_config *cfg);
void node_breaker_teardown(void);
/* The entry of a node, made on first sight; NULL when out of memory. */
struct node_entry *node_breaker_get(const char *backend_id, const char *host);
/* Admits one call: 0 (counted in flight; a probe may pass an open circuit), -EHOSTDOWN while
 * the circuit is open, -EBUSY when the node's bulkhead is full; err says which. */
int node_breaker_admit(struct node_entry *e, int probe, long long now_ms, char *err,
		       size_t errlen);
/* The outcome of an admitted call (rc as node_call_result): timeouts and connection
 * failures count against the node, any answer closes its circuit. */
void node_breaker_done(struct node_entry *e, int rc, long long now_ms);
/* 1 while calls to the node would be failed fast (any thread). */
int node_breaker_is_open(const char *backend_id, long long now_ms);
size_t node_breaker_snapshot(struct node_health_view *v, size_t cap);

#endif

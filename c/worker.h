/* worker.h: what each HTTP worker thread owns: a database connection, a policy engine and
 * the admin Lua state. Built lazily on the thread's first request. Calls to nodes are not
 * made here but on the node loop (node_loop.h). */
#ifndef B3S_WORKER_H
#define B3S_WORKER_H

#include "config.h"
#include "db.h"
#include "policy.h"

struct admin_state;
struct route_cache;

struct worker {
	const struct lb_config *cfg;
	struct db db;
	struct policy_engine *policy;
	struct admin_state *admin;  /* trusted Lua state for the admin API, built on first use */
	struct route_cache *routes; /* join routes, see route_cache.h */
};

/* The calling thread's worker, created on first use; NULL only when out of memory. */
struct worker *worker_get(const struct lb_config *cfg);
/* Frees the calling thread's worker (at thread exit). */
void worker_release(void);

#endif

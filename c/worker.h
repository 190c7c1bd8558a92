/* worker.h: what each HTTP worker thread owns: a database connection, a curl handle
 * (keep-alive to backends) and a policy engine. Built lazily on the thread's first request. */
#ifndef B3S_WORKER_H
#define B3S_WORKER_H

#include <curl/curl.h>

#include "config.h"
#include "db.h"
#include "policy.h"
#include "proxy.h"

struct admin_state;
struct route_cache;

struct worker {
	const struct lb_config *cfg;
	struct db db;
	CURL *curl;
	struct policy_engine *policy;
	struct admin_state *admin;  /* trusted Lua state for the admin API, built on first use */
	struct route_cache *routes; /* join routes, see route_cache.h */
	struct proxy_opts popts;
};

/* The calling thread's worker, created on first use; NULL only when out of memory. */
struct worker *worker_get(const struct lb_config *cfg);
/* Frees the calling thread's worker (at thread exit). */
void worker_release(void);

#endif

/* worker.c: per-thread resources, so no lock is taken on any request path. */
#include "worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "admin_api.h"
#include "log.h"
#include "route_cache.h"

static __thread struct worker *worker_tls;
static pthread_key_t worker_key;
static pthread_once_t worker_once = PTHREAD_ONCE_INIT;

/* libmicrohttpd owns its threads; a key destructor frees a worker when its thread ends */
static void worker_destroy(void *p)
{
	struct worker *w = p;

	db_close(&w->db);
	policy_engine_free(w->policy);
	admin_api_free(w->admin);
	route_cache_free(w->routes);
	free(w);
}

static void worker_key_init(void)
{
	pthread_key_create(&worker_key, worker_destroy);
}

struct worker *worker_get(const struct lb_config *cfg)
{
	struct worker *w = worker_tls;
	char err[512];

	if (w)
		return w;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->cfg = cfg;
	/* connected on first use: /healthz or a cached join must not wait for the database */
	if (db_open_lazy(&w->db, cfg->db_url, err, sizeof(err)) < 0)
		log_warn("db", "event=connect_failed error=\"%s\"", err);
	/* the policy state is built lazily by policy_engine_sync on first use */
	pthread_once(&worker_once, worker_key_init);
	pthread_setspecific(worker_key, w);
	worker_tls = w;
	return w;
}

void worker_release(void)
{
	struct worker *w = worker_tls;

	if (!w)
		return;
	pthread_setspecific(worker_key, NULL);
	worker_destroy(w);
	worker_tls = NULL;
}

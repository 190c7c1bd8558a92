/* health.c: readiness for load balancers and orchestrators; cheap enough to probe every second. */
#include "health.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "migrate.h"
#include "policy.h"

#define HEALTH_MIGRATIONS_EVERY 30

static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t health_checked_at;
static int health_pending = -1;

void health_live(struct http_answer *a)
{
	a->status = 200;
	a->content_type = "text/plain";
	buf_puts(&a->body, "ok\n");
}

static void health_not_ready(struct http_answer *a, const char *why)
{
	a->status = 503;
	a->content_type = "application/json";
	buf_printf(&a->body, "{\"ready\":false,\"reason\":\"%s\"}\n", why);
}

void health_ready(struct worker *w, struct http_answer *a)
{
	char err[512], names[1024];
	PGresult *r;
	time_t now = time(NULL);
	int pending = 0, check;

	if (policy_generation() == 0) {
		health_not_ready(a, "policies not loaded");
		return;
	}
	r = db_exec_sql(&w->db, "SELECT 1", 0, NULL, err, sizeof(err));
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		health_not_ready(a, "database unreachable");
		return;
	}
	PQclear(r);
	pthread_mutex_lock(&health_lock);
	check = health_pending < 0 || now - health_checked_at >= HEALTH_MIGRATIONS_EVERY;
	if (check)
		health_checked_at = now;
	pthread_mutex_unlock(&health_lock);
	if (check && migrate_pending(&w->db, w->cfg->sql_dir, &pending, names, sizeof(names), err,
				     sizeof(err)) == 0) {
		pthread_mutex_lock(&health_lock);
		health_pending = pending;
		pthread_mutex_unlock(&health_lock);
	}
	pthread_mutex_lock(&health_lock);
	pending = health_pending;
	pthread_mutex_unlock(&health_lock);
	if (pending != 0) {
		health_not_ready(a, pending > 0 ? "pending migrations" : "migrations unknown");
		return;
	}
	a->status = 200;
	a->content_type = "application/json";
	buf_printf(&a->body, "{\"ready\":true,\"policy_generation\":%lu}\n", policy_generation());
}

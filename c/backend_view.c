/* backend_view.c: the backends that may take a new meeting, kept in memory for placement.
 *
 * Reading them per create (counters and each node's pending meetings, 500 rows) cost 5-10 ms
 * at 500 nodes, most of a create's overhead. A thread refreshes one shared snapshot every
 * B3SCALE_PLACEMENT_REFRESH_MS instead, and creates read it without a database round trip.
 * A create placed here counts at once as pending on its node (this instance's own burst
 * spreads as before); other instances' placements show at the next refresh. Changes that
 * decide eligibility (an operator's edit, a node going unavailable, another instance's
 * notification) mark the snapshot stale, and the next create then reads the database
 * itself, as before; so does one that finds the snapshot older than four intervals (the
 * refresher is stuck on a slow database). */
#include "backend_view.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "db.h"
#include "db_backends.h"
#include "log.h"

struct backend_view {
	atomic_int refs;
	unsigned long gen;       /* unique per snapshot (lb_backend_list.gen) */
	unsigned long stale_gen; /* backend_view_stale's count when the read began */
	long long taken_ms;
	struct lb_backend_list bl;
	atomic_long *added;      /* creates placed through this snapshot, per backend */
	atomic_long *reserved;   /* and the sizes they reserved (c/placement_size.c) */
	int reserving;           /* B3SCALE_RESERVATION_WINDOW_S > 0 */
};

static pthread_mutex_t backend_view_lock = PTHREAD_MUTEX_INITIALIZER;
static struct backend_view *backend_view_current; /* guarded by backend_view_lock */
static atomic_ulong backend_view_gens;
static atomic_ulong backend_view_stales = 1;
static pthread_mutex_t backend_view_wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t backend_view_wake = PTHREAD_COND_INITIALIZER;
static int backend_view_stop_flag, backend_view_woken; /* guarded by backend_view_wake_lock */
static pthread_t backend_view_thread;
static int backend_view_started;
static atomic_long backend_view_interval_ms; /* set at start, while workers run */
static atomic_ulong backend_view_reads[2]; /* by the refresher, by a create */

void backend_view_stale(void)
{
	atomic_fetch_add(&backend_view_stales, 1);
	pthread_mutex_lock(&backend_view_wake_lock);
	backend_view_woken = 1;
	pthread_cond_signal(&backend_view_wake);
	pthread_mutex_unlock(&backend_view_wake_lock);
}

static void backend_view_free(struct backend_view *v)
{
	if (!v)
		return;
	lb_backend_list_clear(&v->bl);
	free(v->added);
	free(v->reserved);
	free(v);
}

void backend_view_put(struct backend_view *v)
{
	if (v && atomic_fetch_sub(&v->refs, 1) == 1)
		backend_view_free(v);
}

/* Replaces the shared snapshot unless a newer read got there first. */
static void backend_view_publish(struct backend_view *v)
{
	struct backend_view *old = NULL;

	pthread_mutex_lock(&backend_view_lock);
	if (!backend_view_current || backend_view_current->stale_gen < v->stale_gen ||
	    (backend_view_current->stale_gen == v->stale_gen &&
	     backend_view_current->taken_ms <= v->taken_ms)) {
		old = backend_view_current;
		atomic_fetch_add(&v->refs, 1);
		backend_view_current = v;
	}
	pthread_mutex_unlock(&backend_view_lock);
	backend_view_put(old);
}

/* A fresh read; the caller holds the one reference. */
static int backend_view_read(struct db *db, const struct lb_config *cfg,
			     struct backend_view **out, char *err, size_t errlen)
{
	struct backend_view *v = calloc(1, sizeof(*v));
	int rc;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	atomic_init(&v->refs, 1);
	v->stale_gen = atomic_load(&backend_view_stales);
	v->taken_ms = clock_mono_us() / 1000;
	rc = db_backends_eligible(db, cfg->agent_max_age_ms, cfg->reservation_window_s, &v->bl,
				  err, errlen);
	if (rc < 0) {
		free(v);
		return rc;
	}
	v->reserving = cfg->reservation_window_s > 0;
	v->gen = atomic_fetch_add(&backend_view_gens, 1) + 1;
	v->bl.gen = v->gen;
	v->added = calloc(v->bl.n ? v->bl.n : 1, sizeof(*v->added));
	v->reserved = calloc(v->bl.n ? v->bl.n : 1, sizeof(*v->reserved));
	if (!v->added || !v->reserved) {
		backend_view_free(v);
		return -ENOMEM;
	}
	*out = v;
	return 0;
}

static int backend_view_usable(const struct backend_view *v)
{
	return v && v->stale_gen == atomic_load(&backend_view_stales) &&
	       clock_mono_us() / 1000 - v->taken_ms <= 4 * atomic_load(&backend_view_interval_ms);
}

struct backend_view *backend_view_get(struct db *db, const struct lb_config *cfg, char *err,
				      size_t errlen)
{
	struct backend_view *v = NULL;

	pthread_mutex_lock(&backend_view_lock);
	if (atomic_load(&backend_view_interval_ms) > 0 &&
	    backend_view_usable(backend_view_current)) {
		v = backend_view_current;
		atomic_fetch_add(&v->refs, 1);
	}
	pthread_mutex_unlock(&backend_view_lock);
	if (v)
		return v;
	atomic_fetch_add(&backend_view_reads[1], 1);
	if (backend_view_read(db, cfg, &v, err, errlen) < 0)
		return NULL;
	if (atomic_load(&backend_view_interval_ms) > 0)
		backend_view_publish(v);
	return v;
}

int backend_view_list(struct backend_view *v, struct lb_backend_list *out)
{
	size_t i;

	out->n = v->bl.n;
	out->gen = v->gen;
	out->version = v->bl.version;
	out->v = malloc((v->bl.n ? v->bl.n : 1) * sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	memcpy(out->v, v->bl.v, v->bl.n * sizeof(*out->v));
	for (i = 0; i < v->bl.n; i++) {
		out->v[i].pending += atomic_load(&v->added[i]);
		out->v[i].reserved += atomic_load(&v->reserved[i]);
	}
	return 0;
}

void backend_view_counters(unsigned long *refresher, unsigned long *create)
{
	*refresher = atomic_load(&backend_view_reads[0]);
	*create = atomic_load(&backend_view_reads[1]);
}

void backend_view_placed(struct backend_view *v, size_t i, long expected_size)
{
	if (i >= v->bl.n)
		return;
	atomic_fetch_add(&v->added[i], 1);
	if (expected_size > 0 && v->reserving)
		atomic_fetch_add(&v->reserved[i], expected_size);
}

static void *backend_view_run(void *arg)
{
	const struct lb_config *cfg = arg;
	struct backend_view *v;
	struct timespec until;
	struct db db;
	char err[512];
	int stop = 0;

	if (db_open_lazy(&db, cfg->db_url, err, sizeof(err)) < 0) {
		log_error("placement", "event=view_failed error=\"%s\"", err);
		return NULL;
	}
	while (!stop) {
		atomic_fetch_add(&backend_view_reads[0], 1);
		if (backend_view_read(&db, cfg, &v, err, sizeof(err)) == 0) {
			backend_view_publish(v);
			backend_view_put(v);
		} else {
			log_debug("placement", "event=view_refresh_failed error=\"%s\"", err);
		}
		clock_after(&until, CLOCK_REALTIME, atomic_load(&backend_view_interval_ms));
		pthread_mutex_lock(&backend_view_wake_lock);
		while (!backend_view_stop_flag && !backend_view_woken &&
		       pthread_cond_timedwait(&backend_view_wake, &backend_view_wake_lock, &until) == 0)
			;
		backend_view_woken = 0;
		stop = backend_view_stop_flag;
		pthread_mutex_unlock(&backend_view_wake_lock);
	}
	db_close(&db);
	return NULL;
}

int backend_view_start(const struct lb_config *cfg, char *err, size_t errlen)
{
	atomic_store(&backend_view_interval_ms, cfg->placement_refresh_ms);
	if (cfg->placement_refresh_ms <= 0)
		return 0;
	backend_view_stop_flag = backend_view_woken = 0;
	if (pthread_create(&backend_view_thread, NULL, backend_view_run, (void *)cfg) != 0) {
		snprintf(err, errlen, "cannot start the placement view: %s", strerror(errno));
		return -EAGAIN;
	}
	backend_view_started = 1;
	return 0;
}

void backend_view_stop(void)
{
	struct backend_view *v;

	if (backend_view_started) {
		pthread_mutex_lock(&backend_view_wake_lock);
		backend_view_stop_flag = 1;
		pthread_cond_signal(&backend_view_wake);
		pthread_mutex_unlock(&backend_view_wake_lock);
		pthread_join(backend_view_thread, NULL);
		backend_view_started = 0;
	}
	pthread_mutex_lock(&backend_view_lock);
	v = backend_view_current;
	backend_view_current = NULL;
	pthread_mutex_unlock(&backend_view_lock);
	backend_view_put(v);
}

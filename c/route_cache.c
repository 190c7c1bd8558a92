/* route_cache.c: per-thread route cache (no lock on the join path) with global invalidation. */
#include "route_cache.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "backend_view.h"
#include "buf.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "node_share.h"
#include "rec_cache.h"

#define ROUTE_CACHE_SLOTS 4096 /* per worker; a slot is overwritten on collision */

struct route_entry {
	char *key;           /* frontend key, NUL, meeting ID: unambiguous whatever they hold */
	size_t klen;
	unsigned long epoch;
	long long at_ms;
	struct lb_frontend fe;
	struct lb_meeting m;
};

struct route_cache {
	struct route_entry slots[ROUTE_CACHE_SLOTS];
};

static atomic_ulong route_epoch = 1;
static atomic_int route_listening;
static atomic_int route_stop;
static pthread_t route_thread;
static int route_thread_started;

void route_cache_bump(void)
{
	atomic_fetch_add(&route_epoch, 1);
}

static unsigned route_hash(const char *key, const char *mid)
{
	/* the NUL between the two keeps ("ab","c") and ("a","bc") apart */
	return buf_hash(buf_hash(BUF_HASH_SEED, key) * 16777619u, mid) % ROUTE_CACHE_SLOTS;
}

static int route_same(const struct route_entry *e, const char *key, const char *mid)
{
	size_t kl = strlen(key);

	return e->key && e->klen == kl && memcmp(e->key, key, kl) == 0 &&
	       strcmp(e->key + kl + 1, mid) == 0;
}

static void route_entry_clear(struct route_entry *e)
{
	free(e->key);
	lb_frontend_clear(&e->fe);
	lb_meeting_clear(&e->m);
	memset(e, 0, sizeof(*e));
}

static char *route_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int route_copy(struct lb_frontend *fe, struct lb_meeting *m, const struct lb_frontend *sfe,
		      const struct lb_meeting *sm)
{
	*fe = *sfe;
	fe->secret = route_dup(sfe->secret);
	/* a cached route verifies with both secrets while a rotation runs, as a fresh read does */
	fe->previous_secret = route_dup(sfe->previous_secret);
	fe->settings = route_dup(sfe->settings);
	fe->required_tags = route_dup(sfe->required_tags);
	*m = *sm;
	m->backend_meeting_id = route_dup(sm->backend_meeting_id);
	m->backend.host = route_dup(sm->backend.host);
	m->backend.secret = route_dup(sm->backend.secret);
	m->backend.tags = route_dup(sm->backend.tags);
	if (!fe->secret || !fe->settings || !fe->required_tags || !m->backend_meeting_id ||
	    (sfe->previous_secret && !fe->previous_secret) ||
	    (sm->has_backend && (!m->backend.host || !m->backend.secret))) {
		lb_frontend_clear(fe);
		lb_meeting_clear(m);
		return -ENOMEM;
	}
	return 0;
}

int route_cache_get(struct route_cache **rc, const struct lb_config *cfg, const char *key,
		    const char *meeting_id, struct lb_frontend *fe, struct lb_meeting *m)
{
	struct route_entry *e;

	if (!*rc || cfg->route_cache_ms <= 0 || !atomic_load(&route_listening))
		return 0;
	e = &(*rc)->slots[route_hash(key, meeting_id)];
	if (!route_same(e, key, meeting_id))
		return 0;
	if (e->epoch != atomic_load(&route_epoch) || clock_mono_ms() - e->at_ms > cfg->route_cache_ms) {
		route_entry_clear(e);
		return 0;
	}
	return route_copy(fe, m, &e->fe, &e->m) == 0;
}

unsigned long route_cache_epoch(void)
{
	return atomic_load(&route_epoch);
}

void route_cache_put(struct route_cache **rc, const struct lb_config *cfg, unsigned long epoch,
		     const char *key, const char *meeting_id, const struct lb_frontend *fe,
		     const struct lb_meeting *m)
{
	struct route_entry *e;
	size_t kl = strlen(key), ml = strlen(meeting_id);

	/* a bump since the caller's read (epoch taken before it) makes the data stale */
	if (cfg->route_cache_ms <= 0 || !atomic_load(&route_listening) ||
	    epoch != atomic_load(&route_epoch))
		return;
	if (!*rc && !(*rc = calloc(1, sizeof(**rc))))
		return;
	e = &(*rc)->slots[route_hash(key, meeting_id)];
	route_entry_clear(e);
	e->key = malloc(kl + ml + 2);
	if (!e->key || route_copy(&e->fe, &e->m, fe, m) < 0) {
		free(e->key);
		e->key = NULL;
		return;
	}
	memcpy(e->key, key, kl + 1);
	memcpy(e->key + kl + 1, meeting_id, ml + 1);
	e->klen = kl;
	e->epoch = epoch;
	e->at_ms = clock_mono_ms();
}

void route_cache_free(struct route_cache *rc)
{
	size_t i;

	if (!rc)
		return;
	for (i = 0; i < ROUTE_CACHE_SLOTS; i++)
		route_entry_clear(&rc->slots[i]);
	free(rc);
}

/* Same defaults and deadlines as the workers' connections: a black-holed database must not
 * park the listener in a connect or in LISTEN (joins bypass the cache meanwhile). */
static PGconn *route_listen_connect(const struct lb_config *cfg)
{
	char err[512];
	PGconn *c = db_connect_url(cfg->db_url, cfg->db_timeout_ms, err, sizeof(err));

	if (c && db_conn_exec(c, "LISTEN b3scale_routes; LISTEN b3scale_meetings; LISTEN b3scale_recordings",
			      cfg->db_timeout_ms, err, sizeof(err)) < 0) {
		PQfinish(c);
		c = NULL;
	}
	if (!c)
		log_debug("routes", "event=listen_failed error=\"%s\"", err);
	return c;
}

/* b3scale_meetings: a meeting's live state changed, so the answers kept about it and about
 * its frontend's list go (a meeting outside every namespace, e.g. a breakout room: all of
 * them); routes stay. b3scale_routes: routes go, and kept answers too unless only a
 * meeting row changed (that one sent its own b3scale_meetings). */
static void route_listen_notified(PGnotify *n)
{
	const char *tilde;
	char scope[80];

	if (strcmp(n->relname, "b3scale_recordings") == 0) {
		rec_cache_invalidate();
	} else if (strcmp(n->relname, "b3scale_meetings") == 0) {
		tilde = strchr(n->extra, '~');
		node_share_invalidate(n->extra);
		if (tilde && (size_t)(tilde - n->extra) + 2 <= sizeof(scope)) {
			snprintf(scope, sizeof(scope), "%.*s", (int)(tilde - n->extra + 1), n->extra);
			node_share_invalidate(scope);
		} else {
			node_share_invalidate(NULL);
		}
	} else {
		route_cache_bump();
		if (strcmp(n->extra, "meetings") != 0)
			node_share_invalidate(NULL);
		if (strcmp(n->extra, "backends") == 0)
			backend_view_stale();
	}
	PQfreemem(n);
}

static void *route_listen_thread(void *arg)
{
	const struct lb_config *cfg = arg;
	struct pollfd pfd;
	PGnotify *n;
	PGconn *c = NULL;
	long backoff = 100;

	while (!atomic_load(&route_stop)) {
		if (!c) {
			c = route_listen_connect(cfg);
			if (!c) {
				usleep((useconds_t)backoff * 1000);
				backoff = backoff < 5000 ? backoff * 2 : 5000;
				continue;
			}
			backoff = 100;
			/* changes made while nobody listened are unknown: forget everything */
			route_cache_bump();
			atomic_store(&route_listening, 1);
			node_share_set_live(1);
			rec_cache_set_live(1);
			log_info("routes", "event=listening");
		}
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 250) < 0 && errno != EINTR)
			continue;
		if (PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK) {
			atomic_store(&route_listening, 0);
			route_cache_bump();
			node_share_set_live(0);
			rec_cache_set_live(0);
			/* libpq's message runs over several lines; a log event is one */
			log_warn("routes", "event=listener_lost error=\"%.*s\"",
				 (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
			PQfinish(c);
			c = NULL;
			continue;
		}
		while ((n = PQnotifies(c)))
			route_listen_notified(n);
	}
	atomic_store(&route_listening, 0);
	node_share_set_live(0);
	rec_cache_set_live(0);
	PQfinish(c);
	return NULL;
}

int route_cache_listen_start(const struct lb_config *cfg, char *err, size_t errlen)
{
	if (cfg->route_cache_ms <= 0 && cfg->info_cache_ms <= 0 && cfg->recordings_cache_ms <= 0)
		return 0;
	atomic_store(&route_stop, 0);
	if (pthread_create(&route_thread, NULL, route_listen_thread, (void *)cfg) != 0) {
		snprintf(err, errlen, "cannot start the route listener: %s", strerror(errno));
		return -EAGAIN;
	}
	route_thread_started = 1;
	return 0;
}

void route_cache_listen_stop(void)
{
	if (!route_thread_started)
		return;
	atomic_store(&route_stop, 1);
	pthread_join(route_thread, NULL);
	route_thread_started = 0;
}

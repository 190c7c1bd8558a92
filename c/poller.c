/* poller.c: each thread claims the due backends in batches (FOR UPDATE SKIP LOCKED plus a
 * lease), polls a whole batch at once on the node loop (so N hung nodes cost one timeout per
 * round, not N), records counters and health, and reconciles the meetings table. Several
 * b3scaled instances on one database never poll the same backend at once, a crashed
 * instance's leases expire so the others pick its share up, and a stopping one gives its
 * leases back. */
#include "poller.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend_view.h"
#include "bbb_backend.h"
#include "bbb_checksum.h"
#include "clock.h"
#include "db_poll.h"
#include "log.h"
#include "route_cache.h"
#include "stats.h"
#include "node_loop.h"
#include "worker.h"

#define POLLER_IDLE_MS 200
#define POLLER_MAX_THREADS 64
#define POLLER_BATCH 256 /* backends one thread polls at once */

struct poller {
	const struct lb_config *cfg;
	pthread_t threads[POLLER_MAX_THREADS];
	char owners[POLLER_MAX_THREADS][128];
	unsigned n;
	atomic_int stop;
};

struct poller_node {
	struct db_poll_result res;
	struct db_poll_meeting *meetings;
	size_t n;
	int unchanged;     /* the same answer as the last one processed: health only */
	int agent_fresh;   /* the node's agent beats: its reports are the live view */
	char digest[BBB_CHECKSUM_HEX_MAX]; /* of a poll's answer, "" for an agent's state */
};

static void poller_sleep(struct poller *p, long ms)
{
	while (ms > 0 && !atomic_load(&p->stop)) {
		long step = ms > 50 ? 50 : ms;
		usleep((useconds_t)step * 1000);
		ms -= step;
	}
}

static long poller_num(struct xml_node *m, const char *name)
{
	const char *t = xml_dom_child_text(m, name);

	return t ? strtol(t, NULL, 10) : 0;
}

/* Reads a getMeetings answer into counters and per-meeting state (pointers into doc). */
static int poller_read(struct xml_node *doc, struct poller_node *pn)
{
	struct xml_node *list = xml_dom_child(doc, "meetings"), *m;
	size_t n = 0, i = 0;
	const char *running;

	for (m = list ? list->first : NULL; m; m = m->next)
		n++;
	pn->meetings = calloc(n ? n : 1, sizeof(*pn->meetings));
	if (!pn->meetings)
		return -ENOMEM;
	for (m = list ? list->first : NULL; m; m = m->next) {
		if (strcmp(m->name, "meeting") != 0 || !xml_dom_child_text(m, "meetingID"))
			continue;
		running = xml_dom_child_text(m, "running");
		pn->meetings[i].backend_meeting_id = xml_dom_child_text(m, "meetingID");
		pn->meetings[i].internal_id = xml_dom_child_text(m, "internalMeetingID");
		pn->meetings[i].name = xml_dom_child_text(m, "meetingName");
		pn->meetings[i].is_breakout = xml_dom_child_text(m, "isBreakout") &&
					      strcmp(xml_dom_child_text(m, "isBreakout"), "true") == 0;
		pn->meetings[i].xml = m;
		if (pn->meetings[i].is_breakout) /* flat as bbb-web prints it, or as documented */
			pn->meetings[i].parent_id = xml_dom_child_text(m, "parentMeetingID")
				? xml_dom_child_text(m, "parentMeetingID")
				: xml_dom_child_text(xml_dom_child(m, "breakout"), "parentMeetingID");
		pn->meetings[i].participants = poller_num(m, "participantCount");
		pn->meetings[i].video = poller_num(m, "videoCount");
		pn->meetings[i].running = running && strcmp(running, "true") == 0;
		pn->res.participants += pn->meetings[i].participants;
		pn->res.video += pn->meetings[i].video;
		pn->res.voice += poller_num(m, "voiceParticipantCount");
		pn->res.listeners += poller_num(m, "listenerCount");
		i++;
	}
	pn->n = i;
	pn->res.meetings = (long)i;
	return 0;
}

static void poller_stray_done(struct node_call *nc, void *ud)
{
	const struct proxy_result *res;
	const char *err;
	char *what = ud; /* "host meeting" */

	if (node_call_result(nc, &res, &err) == 0 && res->status == 200)
		log_info("poller", "event=stray_ended target=\"%s\"", what);
	else
		log_warn("poller", "event=stray_end_failed target=\"%s\" error=\"%s\"", what,
			 node_call_result(nc, NULL, NULL) == 0 ? "HTTP error" : err);
	free(what);
	node_call_free(nc);
}

/* A meeting moved elsewhere while this node was away: the database placement wins and the
 * copy here is ended, so users converge on one meeting. The ends run on the node loop
 * without waiting (this may be an HTTP worker handling an agent report). */
static void poller_end_strays(struct worker *w, const struct lb_backend *b, struct poller_node *pn)
{
	struct node_call_spec spec;
	struct buf q, url, what;
	char err[512];
	char **ids = NULL;
	size_t n = 0, i;

	if (!b->secret)
		return; /* not a backend we may sign for */
	if (db_poll_strays(&w->db, b->id, pn->meetings, pn->n, &ids, &n, err, sizeof(err)) < 0) {
		log_warn("poller", "event=db_error backend=%s error=\"%s\"", b->host, err);
		return;
	}
	for (i = 0; i < n; i++) {
		buf_init(&q);
		buf_init(&url);
		buf_init(&what);
		buf_puts(&q, "meetingID=");
		query_escape(&q, ids[i]);
		buf_printf(&what, "%s %s", b->host, ids[i]);
		if (bbb_backend_spec(&spec, &url, b, "end", "GET", buf_str(&q), NULL, 0, NULL) < 0 ||
		    what.oom || !node_call_submit(&spec, poller_stray_done, buf_take(&what, NULL)))
			log_warn("poller", "event=stray_end_failed backend=%s error=\"out of memory\"",
				 b->host);
		buf_free(&q);
		buf_free(&url);
		buf_free(&what);
		free(ids[i]);
	}
	free(ids);
}

/* Records one poll outcome; on success also reconciles the meetings and ends strays, unless
 * the answer is one already processed. */
static int poller_record(struct worker *w, const struct lb_backend *b, struct poller_node *pn,
			 long long since, char *err, size_t errlen)
{
	char state[32];

	stats_poll(b->host, pn->res.ok);
	if (db_poll_record(&w->db, b->id, &pn->res, pn->unchanged ? since : 0,
			   w->cfg->unavailable_after,
			   w->cfg->available_after, state, sizeof(state), err, errlen) < 0)
		return -EIO;
	if (strcmp(state, b->node_state) != 0) {
		route_cache_bump();
		backend_view_stale();
		log_info("poller", "event=node_state backend=%s from=%s to=%s error=\"%s\"", b->host,
			 b->node_state, state, pn->res.ok ? "" : pn->res.error);
	} else
		log_debug("poller", "event=polled backend=%s ok=%d latency_ms=%ld meetings=%ld",
			  b->host, pn->res.ok, pn->res.latency_ms, pn->res.meetings);
	if (!pn->res.ok || pn->unchanged)
		return 0;
	if (db_poll_meetings(&w->db, b->id, pn->meetings, pn->n, since, pn->agent_fresh, err,
			     errlen) < 0)
		return -EIO;
	poller_end_strays(w, b, pn);
	if (pn->digest[0] && db_poll_digest_store(&w->db, b->id, pn->digest,
						  w->cfg->agent_max_age_ms, err, errlen) < 0)
		return -EIO;
	return 0;
}

int poller_apply(struct worker *w, const struct lb_backend *b, struct xml_node *doc,
		 long latency_ms, long long taken_at_ms, char *err, size_t errlen)
{
	struct poller_node pn;
	const char *rc = bbb_backend_returncode(doc);
	int ret;

	memset(&pn, 0, sizeof(pn));
	pn.res.ok = 1;
	pn.res.latency_ms = latency_ms;
	if (!rc || strcmp(rc, "SUCCESS") != 0) {
		snprintf(err, errlen, "not a successful getMeetings answer");
		return -EINVAL;
	}
	if (poller_read(doc, &pn) < 0)
		return -ENOMEM;
	ret = poller_record(w, b, &pn, taken_at_ms, err, errlen);
	free(pn.meetings);
	return ret;
}

/* Reads one poll's outcome and records it. */
static void poller_poll_done(struct worker *w, struct lb_backend *b, struct node_call *nc)
{
	const struct proxy_result *res;
	struct poller_node pn;
	struct xml_node *doc = NULL;
	long long since;
	char err[512];
	const char *rc;

	memset(&pn, 0, sizeof(pn));
	pn.res.latency_ms = nc ? node_call_latency_ms(nc) : 0;
	/* the same bytes as the answer processed last: nothing in it is news, so it is not even
	 * parsed (at 500 nodes most polls find nothing changed) */
	if (nc && node_call_result(nc, &res, NULL) == 0 && res->status == 200 &&
	    bbb_checksum_compute(BBB_HASH_SHA1, "", buf_str(&res->body), res->body.len, "",
				 pn.digest) == 0 &&
	    db_poll_check(&w->db, b->id, pn.digest, w->cfg->agent_max_age_ms, &pn.unchanged,
			  &pn.agent_fresh, err, sizeof(err)) < 0) {
		log_warn("poller", "event=db_error backend=%s error=\"%s\"", b->host, err);
		return; /* the lease runs out and the node is polled again */
	}
	if (pn.unchanged) {
		stats_backend_call(b->host, 1);
		pn.res.ok = 1;
	} else {
		pn.res.ok = bbb_backend_answer(nc, b->host, &doc, pn.res.error,
					       sizeof(pn.res.error)) == 0;
	}
	rc = pn.res.ok && doc ? bbb_backend_returncode(doc) : NULL;
	if (rc && strcmp(rc, "SUCCESS") != 0) {
		pn.res.ok = 0;
		snprintf(pn.res.error, sizeof(pn.res.error), "getMeetings answered FAILED %s",
			 xml_dom_child_text(doc, "messageKey") ? xml_dom_child_text(doc, "messageKey") : "");
	}
	if (pn.res.ok && doc && poller_read(doc, &pn) < 0) {
		pn.res.ok = 0;
		snprintf(pn.res.error, sizeof(pn.res.error), "out of memory");
	}
	/* the snapshot is as old as the moment the node was asked: not "now minus its latency",
	 * since a batch's answers are recorded one after another, seconds later for the last
	 * (meetings confirmed meanwhile were taken for gone) */
	since = nc && node_call_started_at(nc) ? node_call_started_at(nc) : clock_wall_ms();
	if (poller_record(w, b, &pn, since, err, sizeof(err)) < 0)
		log_warn("poller", "event=db_error backend=%s error=\"%s\"", b->host, err);
	free(pn.meetings);
	xml_dom_free(doc);
}

/* Polls a batch of claimed backends at once and records each. */
static void poller_poll_batch(struct poller *p, struct worker *w, struct lb_backend_list *bl)
{
	struct node_call_spec *specs = calloc(bl->n, sizeof(*specs));
	struct node_call **calls = calloc(bl->n, sizeof(*calls));
	struct buf *urls = calloc(bl->n, sizeof(*urls));
	size_t i;

	if (!specs || !calls || !urls)
		goto out;
	for (i = 0; i < bl->n; i++) {
		buf_init(&urls[i]);
		bbb_backend_spec(&specs[i], &urls[i], &bl->v[i], "getMeetings", "GET", "", NULL, 0,
				 NULL);
		specs[i].timeout_ms = p->cfg->poll_timeout_ms;
		specs[i].probe = 1; /* polls find out when an open circuit may close */
	}
	node_loop_run_all(specs, bl->n, calls);
	for (i = 0; i < bl->n; i++) {
		poller_poll_done(w, &bl->v[i], calls[i]);
		node_call_free(calls[i]);
	}
out:
	for (i = 0; urls && i < bl->n; i++)
		buf_free(&urls[i]);
	free(specs);
	free(calls);
	free(urls);
}

struct poller_arg {
	struct poller *p;
	const char *owner;
};

static void *poller_thread(void *arg)
{
	struct poller *p = ((struct poller_arg *)arg)->p;
	const char *owner = ((struct poller_arg *)arg)->owner;
	struct worker w;
	struct lb_backend_list bl;
	char err[512];
	long long last_gc = 0;
	int rc;

	free(arg);
	memset(&w, 0, sizeof(w));
	w.cfg = p->cfg;
	if (db_open(&w.db, p->cfg->db_url, err, sizeof(err)) < 0)
		log_warn("poller", "event=db_unavailable error=\"%s\"", err);
	while (!atomic_load(&p->stop)) {
		rc = db_poll_claim(&w.db, owner, p->cfg->poll_interval_ms,
				   p->cfg->poll_timeout_ms * 2 + 5000, POLLER_BATCH, &bl, err,
				   sizeof(err));
		if (rc == 0 && bl.n > 0) {
			poller_poll_batch(p, &w, &bl);
			lb_backend_list_clear(&bl);
			continue;
		}
		lb_backend_list_clear(&bl);
		if (rc < 0) {
			log_warn("poller", "event=db_error error=\"%s\"", err);
			poller_sleep(p, 1000);
			continue;
		}
		if (clock_mono_ms() - last_gc > p->cfg->poll_interval_ms) {
			last_gc = clock_mono_ms();
			if (db_poll_decommission(&w.db, err, sizeof(err)) < 0)
				log_warn("poller", "event=db_error error=\"%s\"", err);
		}
		poller_sleep(p, POLLER_IDLE_MS);
	}
	/* leases given back: another instance polls these nodes at once, not after expiry */
	if (db_poll_release(&w.db, owner, err, sizeof(err)) < 0)
		log_warn("poller", "event=lease_release_failed error=\"%s\"", err);
	db_close(&w.db);
	return NULL;
}

int poller_start(struct poller **out, const struct lb_config *cfg, char *err, size_t errlen)
{
	struct poller *p = calloc(1, sizeof(*p));
	char host[64];
	unsigned i;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->cfg = cfg;
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	for (i = 0; i < cfg->pollers && i < POLLER_MAX_THREADS; i++) {
		struct poller_arg *a = malloc(sizeof(*a));

		snprintf(p->owners[i], sizeof(p->owners[i]), "%s:%d:%u", host, (int)getpid(), i);
		if (a) {
			a->p = p;
			a->owner = p->owners[i];
		}
		if (!a || pthread_create(&p->threads[i], NULL, poller_thread, a) != 0) {
			free(a);
			snprintf(err, errlen, "cannot start poller thread: %s", strerror(errno));
			poller_stop(p);
			return -EAGAIN;
		}
		p->n++;
	}
	*out = p;
	return 0;
}

void poller_stop(struct poller *p)
{
	unsigned i;

	if (!p)
		return;
	atomic_store(&p->stop, 1);
	for (i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	free(p);
}

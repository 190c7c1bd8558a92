/* bbb_list.c: getMeetings, answered from the live view (db_live.h) without asking any node:
 * each of the frontend's meetings is the <meeting> element of its latest snapshot (poll or
 * agent) with running, the counts and the attendees taken from the live columns, which an
 * agent keeps current between snapshots, and the IDs turned back into the frontend's own.
 * Stale by at most one poll interval, about a second with an agent (docs/agent.md). */
#include "bbb_list.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "bbb_ids.h"
#include "bbb_reply.h"
#include "bbb_xml.h"
#include "config.h"
#include "db.h"
#include "db_live.h"
#include "gzip.h"
#include "log.h"
#include "node_share.h"

#define BBB_LIST_GZIP_MIN 8192 /* smaller lists go as they are */

struct bbb_list_walk {
	const char *fe_key;
	struct buf *out;
	size_t n;
};

/* Lists due for a rebuild, built off the request path by one thread (its own connection) */
#define BBB_LIST_QUEUE 64
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char keys[BBB_LIST_QUEUE][72];
	size_t n;
	int stop, started;
	pthread_t thread;
	const struct lb_config *cfg;
} bbb_list_bg = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* A meeting no snapshot has shown yet (an agent reported its start moments ago): what the
 * live view knows, in BBB's element order. */
static int bbb_list_skeleton(const struct db_live_meeting *m, struct buf *x)
{
	buf_puts(x, "<meeting>");
	bbb_xml_elem(x, "meetingName", m->name);
	bbb_xml_elem(x, "meetingID", m->meeting_id);
	bbb_xml_elem(x, "internalMeetingID", m->internal_id);
	buf_puts(x, "<running/><hasUserJoined>false</hasUserJoined><participantCount/>"
		    "<listenerCount/><voiceParticipantCount/><videoCount/><moderatorCount/>"
		    "<attendees/><metadata/>");
	bbb_xml_elem(x, "isBreakout", m->is_breakout ? "true" : "false");
	buf_puts(x, "</meeting>");
	return x->oom ? -ENOMEM : 0;
}

/* The live attendees replace the snapshot's, in place. */
static int bbb_list_attendees(struct xml_node *meeting, const char *attendees_xml)
{
	struct xml_node *fresh = NULL, *old = xml_dom_child(meeting, "attendees"), *ch;
	char err[128];
	int rc = xml_dom_parse(attendees_xml, strlen(attendees_xml), &fresh, err, sizeof(err));

	if (rc < 0)
		return rc;
	if (!old) {
		xml_dom_append(meeting, fresh);
		return 0;
	}
	while ((ch = old->first)) {
		xml_dom_unlink(ch);
		xml_dom_free(ch);
	}
	while ((ch = fresh->first)) {
		xml_dom_unlink(ch);
		xml_dom_append(old, ch);
	}
	xml_dom_free(fresh);
	return 0;
}

static int bbb_list_live(struct xml_node *doc, const struct db_live_meeting *m)
{
	static const char *const names[] = { "participantCount", "moderatorCount",
					     "voiceParticipantCount", "listenerCount", "videoCount" };
	const long vals[] = { m->participants, m->moderators, m->voice, m->listeners, m->video };
	char num[24];
	size_t i;
	int rc = xml_dom_set_child_text(doc, "running", m->running ? "true" : "false");

	for (i = 0; rc == 0 && i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(num, sizeof(num), "%ld", vals[i]);
		rc = xml_dom_set_child_text(doc, names[i], num);
	}
	/* someone joined at some point: a meeting whose users all left keeps what it said */
	if (rc == 0 && m->participants > 0)
		rc = xml_dom_set_child_text(doc, "hasUserJoined", "true");
	return rc == 0 ? bbb_list_attendees(doc, m->attendees_xml) : rc;
}

static int bbb_list_one(const struct db_live_meeting *m, void *ud)
{
	struct bbb_list_walk *wk = ud;
	struct xml_node *doc = NULL;
	struct buf skel;
	char err[256];
	int rc;

	if (m->current) { /* as the last snapshot showed it: only the IDs change */
		wk->n++;
		return bbb_ids_rewrite_text_as(wk->out, m->xml, wk->fe_key, m->node_id,
					       m->own_id);
	}
	buf_init(&skel);
	rc = m->xml ? 0 : bbb_list_skeleton(m, &skel);
	if (rc == 0)
		rc = m->xml ? xml_dom_parse(m->xml, strlen(m->xml), &doc, err, sizeof(err))
			    : xml_dom_parse(skel.data, skel.len, &doc, err, sizeof(err));
	buf_free(&skel);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0 || strcmp(doc->name, "meeting") != 0) {
		/* stored by us from a node's answer: cannot happen, but never fails the listing */
		log_warn("bbb", "event=live_meeting_unreadable meeting=%s", m->meeting_id);
		xml_dom_free(doc);
		return 0;
	}
	rc = bbb_list_live(doc, m);
	if (rc == 0) {
		bbb_ids_rewrite_as(doc, wk->fe_key, m->node_id, m->own_id);
		rc = xml_dom_write(wk->out, doc);
		wk->n++;
	}
	xml_dom_free(doc);
	return rc;
}

/* A frontend's kept list: its key in node_share, and "<key>~", what invalidates it. */
static void bbb_list_names(char key[96], char scope[80], const char *frontend_key)
{
	snprintf(key, 96, "getMeetings\n%s", frontend_key);
	snprintf(scope, 80, "%s~", frontend_key);
}

void bbb_list_changed(const char *frontend_key)
{
	char scope[80], key[96];

	bbb_list_names(key, scope, frontend_key);
	node_share_invalidate(scope);
	/* the frontend's own create or end: its next getMeetings must show it, never the old
	 * list in its grace */
	node_share_forget(key, scope);
}

/* The frontend's whole getMeetings answer into body (empty); 0, or a negative errno with
 * err filled. */
static int bbb_list_build(struct db *db, const char *fe_key, struct buf *body, char *err,
			  size_t errlen)
{
	struct bbb_list_walk wk = { .fe_key = fe_key };
	struct buf meetings;
	int rc;

	buf_init(&meetings);
	wk.out = &meetings;
	rc = db_live_meetings(db, fe_key, bbb_list_one, &wk, err, errlen);
	if (rc == 0 && meetings.oom)
		rc = -ENOMEM;
	if (rc == 0) {
		buf_puts(body, "<response><returncode>SUCCESS</returncode>");
		if (!wk.n)
			buf_puts(body, "<meetings/><messageKey>noMeetings</messageKey>"
				       "<message>no meetings were found on this server</message>");
		else {
			buf_puts(body, "<meetings>");
			buf_append(body, meetings.data, meetings.len);
			buf_puts(body, "</meetings>");
		}
		buf_puts(body, "</response>");
		rc = body->oom ? -ENOMEM : 0;
	}
	buf_free(&meetings);
	return rc;
}

/* Keeps a built list for its callers, gzipped too when large (most HTTP client libraries
 * accept it: a thirteenth of the bytes to send); *gz gets that form, or stays empty. */
static void bbb_list_keep(const char *key, const char *scope, struct node_share_mark mark,
			  const struct buf *body, struct buf *gz)
{
	struct node_share_answer a;

	if (body->len >= BBB_LIST_GZIP_MIN && gzip_encode(body->data, body->len, gz) < 0)
		buf_reset(gz);
	memset(&a, 0, sizeof(a));
	a.res.status = 200;
	a.res.body = *body; /* borrowed: node_share_keep copies it */
	node_share_keep(key, scope, mark, &a, gz->len ? gz : NULL);
}

static void bbb_list_rebuild(struct db *db, const char *fe_key)
{
	struct node_share_mark mark;
	char key[96], scope[80], err[512];
	struct buf body, gz;

	bbb_list_names(key, scope, fe_key);
	mark = node_share_mark(scope);
	buf_init(&body);
	buf_init(&gz);
	if (bbb_list_build(db, fe_key, &body, err, sizeof(err)) == 0)
		bbb_list_keep(key, scope, mark, &body, &gz);
	else /* the callers keep getting the last list; the next one asks again */
		log_warn("bbb", "event=list_rebuild_failed frontend=%s error=\"%s\"", fe_key, err);
	buf_free(&body);
	buf_free(&gz);
}

static void *bbb_list_run(void *arg)
{
	char fe_key[72], err[512];
	struct db db;

	(void)arg;
	if (db_open_lazy(&db, bbb_list_bg.cfg->db_url, err, sizeof(err)) < 0)
		log_warn("bbb", "event=list_builder_db error=\"%s\"", err);
	pthread_mutex_lock(&bbb_list_bg.mu);
	for (;;) {
		while (!bbb_list_bg.stop && !bbb_list_bg.n)
			pthread_cond_wait(&bbb_list_bg.cv, &bbb_list_bg.mu);
		if (bbb_list_bg.stop)
			break;
		memcpy(fe_key, bbb_list_bg.keys[0], sizeof(fe_key));
		memmove(bbb_list_bg.keys[0], bbb_list_bg.keys[1],
			--bbb_list_bg.n * sizeof(bbb_list_bg.keys[0]));
		pthread_mutex_unlock(&bbb_list_bg.mu);
		bbb_list_rebuild(&db, fe_key);
		pthread_mutex_lock(&bbb_list_bg.mu);
	}
	pthread_mutex_unlock(&bbb_list_bg.mu);
	db_close(&db);
	return NULL;
}

/* Asks the builder for fe_key's list; 0, or -EAGAIN (no builder, or its queue is full). */
static int bbb_list_schedule(const char *fe_key)
{
	int rc = -EAGAIN;
	size_t i;

	pthread_mutex_lock(&bbb_list_bg.mu);
	for (i = 0; i < bbb_list_bg.n; i++)
		if (strcmp(bbb_list_bg.keys[i], fe_key) == 0)
			rc = 0;
	if (rc < 0 && bbb_list_bg.started && !bbb_list_bg.stop && bbb_list_bg.n < BBB_LIST_QUEUE &&
	    strlen(fe_key) < sizeof(bbb_list_bg.keys[0])) {
		snprintf(bbb_list_bg.keys[bbb_list_bg.n++], sizeof(bbb_list_bg.keys[0]), "%s", fe_key);
		pthread_cond_signal(&bbb_list_bg.cv);
		rc = 0;
	}
	pthread_mutex_unlock(&bbb_list_bg.mu);
	return rc;
}

int bbb_list_start(const struct lb_config *cfg, char *err, size_t errlen)
{
	int rc = 0;

	/* workers already answer getMeetings: they read started under the mutex */
	pthread_mutex_lock(&bbb_list_bg.mu);
	bbb_list_bg.cfg = cfg;
	bbb_list_bg.stop = 0;
	if (pthread_create(&bbb_list_bg.thread, NULL, bbb_list_run, NULL) != 0) {
		snprintf(err, errlen, "cannot start the getMeetings builder: %s", strerror(errno));
		rc = -EAGAIN;
	} else {
		bbb_list_bg.started = 1;
	}
	pthread_mutex_unlock(&bbb_list_bg.mu);
	return rc;
}

void bbb_list_stop(void)
{
	if (!bbb_list_bg.started)
		return;
	pthread_mutex_lock(&bbb_list_bg.mu);
	bbb_list_bg.stop = 1;
	pthread_cond_signal(&bbb_list_bg.cv);
	pthread_mutex_unlock(&bbb_list_bg.mu);
	pthread_join(bbb_list_bg.thread, NULL);
	pthread_mutex_lock(&bbb_list_bg.mu);
	bbb_list_bg.started = 0;
	pthread_mutex_unlock(&bbb_list_bg.mu);
}

void bbb_list_meetings(struct bbb_ctx *c)
{
	struct node_share_kept hit;
	struct node_share_mark mark;
	char err[512], key[96], scope[80];
	struct buf gz;
	int rc, gzip = gzip_accepted(c->req->accept_encoding), rebuild = 0;

	/* one frontend's list is the same for all its callers: reused for B3SCALE_INFO_CACHE_MS
	 * unless one of its meetings changes (its scope is its namespace, "<key>~"); then the
	 * callers get the last one while the builder thread makes the next (1,000 meetings take
	 * tens of ms to build) */
	bbb_list_names(key, scope, c->fe->key);
	c->a->vary_encoding = 1;
	if (node_share_lookup_kept(key, gzip, &hit, &rebuild)) {
		if (rebuild && bbb_list_schedule(c->fe->key) < 0) {
			node_share_release(hit.ref); /* nobody to do it: this caller does */
		} else {
			c->a->shared = hit.data;
			c->a->shared_len = hit.len;
			c->a->shared_cls = hit.ref;
			c->a->shared_release = node_share_release;
			c->a->encoding = hit.gzip ? "gzip" : NULL;
			bbb_reply_ok(c, NULL);
			return;
		}
	}
	/* none kept (the first call, or right after this frontend's own create or end) */
	mark = node_share_mark(scope);
	buf_reset(&c->a->body);
	rc = bbb_list_build(&c->w->db, c->fe->key, &c->a->body, err, sizeof(err));
	if (rc < 0) {
		if (rc == -EIO)
			log_error("bbb", "event=db_error call=getMeetings error=\"%s\"", err);
		bbb_reply_error(c, "internalError", "The service is temporarily unavailable.");
		return;
	}
	bbb_reply_ok(c, NULL);
	buf_init(&gz);
	bbb_list_keep(key, scope, mark, &c->a->body, &gz);
	if (gzip && gz.len) {
		buf_free(&c->a->body);
		c->a->body = gz;
		c->a->encoding = "gzip";
	} else {
		buf_free(&gz);
	}
}

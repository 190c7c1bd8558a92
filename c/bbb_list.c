/* bbb_list.c: getMeetings, answered from the live view (db_live.h) without asking any node:
 * each of the frontend's meetings is the <meeting> element of its latest snapshot (poll or
 * agent) with running, the counts and the attendees taken from the live columns, which an
 * agent keeps current between snapshots, and the IDs turned back into the frontend's own.
 * Stale by at most one poll interval, about a second with an agent (docs/agent.md). */
#include "bbb_list.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bbb_ids.h"
#include "bbb_reply.h"
#include "bbb_xml.h"
#include "db_live.h"
#include "log.h"
#include "node_share.h"

struct bbb_list_walk {
	struct bbb_ctx *c;
	struct buf *out;
	size_t n;
};

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
		return bbb_ids_rewrite_text(wk->out, m->xml, wk->c->fe->key);
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
		bbb_ids_rewrite(doc, wk->c->fe->key);
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
	node_share_forget(key);
}

static void bbb_list_answer(struct bbb_ctx *c)
{
	c->a->status = 200;
	c->a->content_type = "text/xml";
	c->outcome = "SUCCESS";
}

void bbb_list_meetings(struct bbb_ctx *c)
{
	struct bbb_list_walk wk = { .c = c };
	struct node_share_answer kept;
	struct node_share_mark mark;
	char err[512], key[96], scope[80];
	struct buf meetings;
	int rc;

	/* one frontend's list is the same for all its callers: reused for B3SCALE_INFO_CACHE_MS
	 * unless one of its meetings changes (its scope is its namespace, "<key>~"); then one
	 * caller rebuilds it while the others get the last one (building 1,000 meetings takes
	 * tens of ms, and every caller that came meanwhile used to build it again) */
	bbb_list_names(key, scope, c->fe->key);
	memset(&kept, 0, sizeof(kept));
	proxy_result_init(&kept.res);
	if (node_share_lookup_kept(key, &kept)) {
		buf_free(&c->a->body);
		c->a->body = kept.res.body;
		bbb_list_answer(c);
		return;
	}
	mark = node_share_mark(scope);
	buf_init(&meetings);
	wk.out = &meetings;
	rc = db_live_meetings(&c->w->db, c->fe->key, bbb_list_one, &wk, err, sizeof(err));
	if (rc < 0 || meetings.oom) {
		if (rc == -EIO)
			log_error("bbb", "event=db_error call=getMeetings error=\"%s\"", err);
		buf_free(&meetings);
		bbb_reply_error(c, "internalError", "The service is temporarily unavailable.");
		return;
	}
	buf_reset(&c->a->body);
	buf_puts(&c->a->body, "<response><returncode>SUCCESS</returncode>");
	if (!wk.n)
		buf_puts(&c->a->body, "<meetings/><messageKey>noMeetings</messageKey>"
				      "<message>no meetings were found on this server</message>");
	else {
		buf_puts(&c->a->body, "<meetings>");
		buf_append(&c->a->body, meetings.data, meetings.len);
		buf_puts(&c->a->body, "</meetings>");
	}
	buf_puts(&c->a->body, "</response>");
	buf_free(&meetings);
	bbb_list_answer(c);
	if (!c->a->body.oom) {
		kept.rc = 0;
		kept.res.status = 200;
		kept.res.body = c->a->body; /* borrowed: node_share_keep copies it */
		node_share_keep(key, scope, mark, &kept);
	}
}

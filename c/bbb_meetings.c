/* bbb_meetings.c: meeting calls. The frontend only ever sees its own meeting IDs. */
#include "bbb_meetings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbb_backend.h"
#include "bbb_ids.h"
#include "bbb_list.h"
#include "bbb_reply.h"
#include "bbb_xml.h"
#include "cb_create.h"
#include "db_backends.h"
#include "db_live.h"
#include "db_meetings.h"
#include "log.h"
#include "node_share.h"
#include "policy.h"
#include "scheduler.h"

/* The node's ID of a meeting whose row names it otherwise than "<key>~<id>" (adopted from
 * another balancer, POST /api/v1/meetings), or NULL: its answers show c->mid in its place. */
static const char *bbb_meetings_alias(struct bbb_ctx *c, const char *node_id)
{
	if (!c->mid || !node_id || strcmp(node_id, buf_str(&c->nsid)) == 0)
		return NULL;
	return node_id;
}

/* Sends the node's document back with this frontend's IDs; node_id as bbb_meetings_alias. */
static void bbb_meetings_reply(struct bbb_ctx *c, struct xml_node *doc, const char *node_id)
{
	const char *rc = xml_dom_child_text(doc, "returncode");

	bbb_ids_rewrite_as(doc, c->fe->key, node_id, node_id ? c->mid : NULL);
	buf_reset(&c->a->body);
	xml_dom_write(&c->a->body, doc);
	c->a->status = 200;
	c->a->content_type = "text/xml";
	const char *key = xml_dom_child_text(doc, "messageKey");

	/* the access log shows the node's messageKey for failures */
	c->outcome = "SUCCESS";
	if (!rc || strcmp(rc, "SUCCESS") != 0) {
		snprintf(c->outcome_buf, sizeof(c->outcome_buf), "%s", key && *key ? key : "FAILED");
		c->outcome = c->outcome_buf;
	}
}

static int bbb_meetings_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* Checks meetingID like bbb-web and builds the namespaced form; 0 or an answered error. */
static int bbb_meetings_id(struct bbb_ctx *c, struct buf *nsid, const char **mid)
{
	*mid = query_get(&c->params, "meetingID");
	if (!*mid || !**mid) {
		bbb_reply_error(c, "missingParamMeetingID", "You must provide a meeting ID");
		return -EINVAL;
	}
	if (strchr(*mid, ',')) {
		bbb_reply_error(c, "validationError", "Meeting ID cannot contain ','");
		return -EINVAL;
	}
	if (strlen(*mid) < 2 || bbb_meetings_has_control(*mid)) {
		bbb_reply_error(c, "validationError",
			      "Meeting ID must be between 2 and 256 characters without control characters");
		return -EINVAL;
	}
	if (bbb_ids_encode(nsid, c->fe->key, *mid) < 0) {
		bbb_reply_error(c, "validationError", "Meeting ID is too long for this server.");
		return -E2BIG;
	}
	return 0;
}

/* The request's parameters with meetingID namespaced, encoded for the node. */
static int bbb_meetings_encode(struct bbb_ctx *c, const char *nsid, struct buf *out)
{
	if (query_set(&c->params, "meetingID", nsid) < 0 || query_encode(&c->params, out) < 0) {
		bbb_reply_error(c, "internalError", "Out of memory.");
		return -ENOMEM;
	}
	return 0;
}

static int bbb_meetings_xml_body(const char *ct)
{
	return ct && (strncasecmp(ct, "application/xml", 15) == 0 ||
		      strncasecmp(ct, "text/xml", 8) == 0);
}

/* Shapes create parameters (and maybe the body) through the frontend's policy. 0 to go on,
 * negative when the request was answered (rejected). A failing hook keeps the request as is. */
static int bbb_meetings_present_create(struct bbb_ctx *c, const char *mid, int has_body,
				       char **body, size_t *body_len)
{
	struct policy_present in;
	char key[64], msg[512];
	int rc;

	memset(&in, 0, sizeof(in));
	in.frontend_key = c->fe->key;
	in.settings_json = c->fe->settings;
	in.meeting_id = mid;
	in.body = has_body ? c->req->body : NULL;
	in.body_len = has_body ? c->req->body_len : 0;
	in.content_type = has_body ? c->req->content_type : NULL;
	c->w->policy = policy_engine_sync(c->w->policy);
	rc = policy_create_params(c->w->policy, &in, &c->params, body, body_len, key, sizeof(key),
				  msg, sizeof(msg));
	if (rc == 1) {
		bbb_reply_error(c, key, msg);
		return -EPERM;
	}
	return 0;
}

/* The same for join; frontend attendees are only counted when a limit is configured. */
static int bbb_meetings_present_join(struct bbb_ctx *c, const char *mid,
				     const struct lb_meeting *m)
{
	struct policy_present in;
	char key[64], msg[512], err[512];
	int rc;

	memset(&in, 0, sizeof(in));
	in.frontend_key = c->fe->key;
	in.settings_json = c->fe->settings;
	in.meeting_id = mid;
	in.meeting_attendees = m->participants;
	if (strstr(c->fe->settings, "attendees_limit") &&
	    db_meetings_frontend_attendees(&c->w->db, c->fe->id, &in.frontend_attendees, err,
					   sizeof(err)) < 0)
		log_warn("bbb", "event=db_error call=join error=\"%s\"", err);
	c->w->policy = policy_engine_sync(c->w->policy);
	rc = policy_join_params(c->w->policy, &in, &c->params, key, sizeof(key), msg, sizeof(msg));
	if (rc == 1) {
		bbb_reply_error(c, key, msg);
		return -EPERM;
	}
	return 0;
}

static void bbb_meetings_sched_answer(struct bbb_ctx *c);

/* Drives the scheduler: a create to send parks the request, the end runs c->placed. */
static void bbb_meetings_sched_step(struct bbb_ctx *c, enum scheduler_step s)
{
	struct scheduler_run *r = c->run;

	while (s == SCHEDULER_CALL) {
		if (bbb_task_call(c, &r->target, "create", r->sc.method, r->sc.call.query,
				  r->sc.call.body, r->sc.call.body_len, r->sc.call.content_type,
				  bbb_meetings_sched_answer) == 0)
			return;
		s = scheduler_answered(c->w, r, -ENOMEM, NULL, "out of memory");
	}
	c->placed(c);
}

static void bbb_meetings_sched_answer(struct bbb_ctx *c)
{
	struct xml_node *doc;
	char err[512];
	int rc = bbb_task_answer(c, 0, &doc, err, sizeof(err));

	bbb_meetings_sched_step(c, scheduler_answered(c->w, c->run, rc, doc, err));
}

/* Places a create (new, or a re-create after failover); placed runs when it is settled. */
static void bbb_meetings_place(struct bbb_ctx *c, const struct scheduler_create *sc,
			       void (*placed)(struct bbb_ctx *c))
{
	c->run = scheduler_run_new(sc);
	if (!c->run) {
		bbb_reply_error(c, "internalError", "Out of memory.");
		return;
	}
	c->placed = placed;
	bbb_meetings_sched_step(c, scheduler_next(c->w, c->run));
}

static void bbb_meetings_created(struct bbb_ctx *c)
{
	if (c->run->rc < 0) {
		bbb_reply_error(c, c->run->key, c->run->msg);
		return;
	}
	bbb_list_changed(c->fe->key);
	bbb_meetings_reply(c, c->run->answer, bbb_meetings_alias(c, c->run->sc.backend_meeting_id));
}

/* The ID the node knows the meeting by: its row's (an adopted meeting keeps the ID it was
 * created under, e.g. b3scale's), else "<key>~<id>". NULL when answered (error). */
static const char *bbb_meetings_node_id(struct bbb_ctx *c)
{
	char err[512], *id;
	int rc;

	if (!c->meeting_fetched) { /* not read with the frontend: read it now, once */
		rc = db_meetings_find(&c->w->db, c->fe->id, c->mid, &c->meeting, err, sizeof(err));
		if (rc < 0 && rc != -ENOENT) {
			log_error("bbb", "event=db_error call=create error=\"%s\"", err);
			bbb_reply_error(c, "internalError", "The service is temporarily unavailable.");
			return NULL;
		}
		c->meeting_fetched = 1;
		c->meeting_found = rc == 0;
	}
	if (!c->meeting_found || !c->meeting.backend_meeting_id ||
	    strcmp(c->meeting.backend_meeting_id, buf_str(&c->nsid)) == 0)
		return buf_str(&c->nsid);
	/* the row goes to the scheduler, which frees it: the task keeps its own copy */
	id = bbb_task_own(c, strdup(c->meeting.backend_meeting_id));
	if (!id)
		bbb_reply_error(c, "internalError", "Out of memory.");
	return id;
}

void bbb_meetings_create(struct bbb_ctx *c)
{
	struct scheduler_create sc;
	char err[512];
	const char *mid, *node_id;
	char *body = NULL;
	size_t body_len = 0;
	int has_body = !c->form_body && c->req->body_len > 0;

	if (bbb_meetings_id(c, &c->nsid, &mid) < 0)
		return;
	if (has_body && !bbb_meetings_xml_body(c->req->content_type)) {
		bbb_reply_error(c, "unsupportedContentType",
			      "POST request Content-Type is missing or unsupported");
		return;
	}
	/* the policy sees the frontend's own ID; keep a copy before namespacing params */
	c->mid = strdup(mid);
	if (!c->mid) {
		bbb_reply_error(c, "internalError", "Out of memory.");
		return;
	}
	if (bbb_meetings_present_create(c, c->mid, has_body, &body, &body_len) < 0) {
		free(body);
		return;
	}
	if (body) {
		has_body = 1;
		bbb_task_own(c, body);
	}
	/* a repeated create goes under the ID the node runs the meeting by, so a meeting adopted
	 * under another one takes the idempotent path like any other (duplicateWarning with the
	 * running meeting) instead of a second, empty meeting beside it */
	node_id = bbb_meetings_node_id(c);
	if (!node_id)
		return;
	/* the node calls b3scaled back, never the frontend (docs/callbacks.md) */
	if (cb_create_rewrite(&c->w->db, c->w->cfg, c->fe->id, c->mid, node_id,
			      &c->params, err, sizeof(err)) < 0) {
		log_error("bbb", "event=db_error call=create error=\"%s\"", err);
		bbb_reply_error(c, "internalError", "The service is temporarily unavailable.");
		return;
	}
	if (bbb_meetings_encode(c, node_id, &c->q) < 0)
		return;
	memset(&sc, 0, sizeof(sc));
	sc.fe = c->fe;
	sc.meeting_id = c->mid;
	sc.backend_meeting_id = node_id;
	sc.params = &c->params;
	sc.call.query = buf_str(&c->q);
	sc.call.body = body ? body : has_body ? c->req->body : NULL;
	sc.call.body_len = body ? body_len : has_body ? c->req->body_len : 0;
	sc.call.content_type = has_body ? "application/xml" : NULL;
	sc.method = has_body ? "POST" : "GET";
	sc.placed_host = c->backend_host;
	sc.placed_host_len = sizeof(c->backend_host);
	if (c->meeting_fetched) {
		c->meeting_fetched = 0;
		sc.row = &c->meeting;
		sc.row_found = c->meeting_found;
	}
	bbb_meetings_place(c, &sc, bbb_meetings_created);
}

/* Finds the meeting's row into c->m; 0, -ENOENT (not placed) or a database error
 * (answered). */
static int bbb_meetings_lookup(struct bbb_ctx *c, const char *mid)
{
	char err[512];
	int rc;

	lb_meeting_clear(&c->m);
	if (c->meeting_fetched) {
		/* read with the frontend already: hand it over */
		c->meeting_fetched = 0;
		c->m = c->meeting;
		memset(&c->meeting, 0, sizeof(c->meeting));
		rc = c->meeting_found ? 0 : -ENOENT;
	} else {
		rc = db_meetings_find(&c->w->db, c->fe->id, mid, &c->m, err, sizeof(err));
	}

	if (rc < 0 && rc != -ENOENT) {
		log_error("bbb", "event=db_error call=%s error=\"%s\"", c->call, err);
		bbb_reply_error(c, "internalError", "The service is temporarily unavailable.");
	}
	if (rc == 0 && c->m.has_backend)
		snprintf(c->backend_host, sizeof(c->backend_host), "%s", c->m.backend.host);
	return rc;
}

/* A breakout room BBB opened in one of the frontend's meetings (BBB names it itself, outside
 * every namespace): into c->m with its node, under BBB's own ID. 0, -ENOENT, or answered. */
static int bbb_meetings_breakout(struct bbb_ctx *c, const char *mid)
{
	char err[512];
	int rc;

	lb_meeting_clear(&c->m);
	rc = db_live_breakout(&c->w->db, c->fe->key, mid, &c->m.backend, err, sizeof(err));
	if (rc == -EIO) {
		log_error("bbb", "event=db_error call=%s error=\"%s\"", c->call, err);
		bbb_reply_error(c, "internalError", "The service is temporarily unavailable.");
	}
	if (rc < 0)
		return rc;
	c->m.backend_meeting_id = strdup(mid);
	if (!c->m.backend_meeting_id) {
		bbb_reply_error(c, "internalError", "Out of memory.");
		return -ENOMEM;
	}
	c->m.has_backend = 1;
	snprintf(c->backend_host, sizeof(c->backend_host), "%s", c->m.backend.host);
	return 0;
}

static void bbb_meetings_join_finish(struct bbb_ctx *c)
{
	struct buf url;

	buf_init(&url);
	if (bbb_meetings_present_join(c, c->mid, &c->m) < 0)
		goto out;
	/* the node itself is not called: the browser follows the redirect and gets its session
	 * cookie from the node's own domain */
	if (bbb_meetings_encode(c, c->m.backend_meeting_id, &c->q) < 0)
		goto out;
	if (bbb_backend_url(&url, &c->m.backend, "join", buf_str(&c->q)) < 0) {
		bbb_reply_error(c, "internalError", "Out of memory.");
		goto out;
	}
	c->a->status = 302;
	c->a->content_type = "text/html";
	c->a->location = buf_take(&url, NULL);
	buf_puts(&c->a->body, "<html><body>Redirecting to the meeting.</body></html>\n");
	c->outcome = "redirect";
out:
	buf_free(&url);
}

static void bbb_meetings_recreated(struct bbb_ctx *c)
{
	struct scheduler_run *r = c->run;
	const char *rcode = r->rc == 0 ? bbb_backend_returncode(r->answer) : NULL;
	char err[512];
	int rc;

	if (!rcode || strcmp(rcode, "SUCCESS") != 0) {
		log_warn("bbb", "event=recreate_failed frontend=%s meeting=%s", c->fe->key, c->mid);
		bbb_reply_error(c, "serverUnavailable",
			      "The server for this meeting is offline and no other server could take it.");
		return;
	}
	log_info("bbb", "event=recreated frontend=%s backend=%s", c->fe->key, c->backend_host);
	rc = bbb_meetings_lookup(c, c->mid);
	if (rc < 0 || !c->m.has_backend) {
		if (rc == 0 || rc == -ENOENT) {
			snprintf(err, sizeof(err), "%s", "The service is temporarily unavailable.");
			bbb_reply_error(c, "internalError", err);
		}
		return;
	}
	bbb_meetings_join_finish(c);
}

/* The meeting's node is gone: create it again on a healthy node from the stored create
 * call, so the user joins there instead of waiting for a dead node; the join goes on in
 * bbb_meetings_recreated. */
static void bbb_meetings_recreate(struct bbb_ctx *c)
{
	struct scheduler_create sc;
	char *query = NULL, *body = NULL, *ct = NULL, *nsid, err[512];
	size_t body_len = 0;

	if (db_meetings_create_call(&c->w->db, c->m.id, &query, &body, &body_len, &ct, err,
				    sizeof(err)) < 0) {
		log_error("bbb", "event=db_error call=join error=\"%s\"", err);
		bbb_reply_error(c, "serverUnavailable", "The server for this meeting is offline.");
		return;
	}
	bbb_task_own(c, query);
	bbb_task_own(c, body);
	bbb_task_own(c, ct);
	nsid = bbb_task_own(c, strdup(c->m.backend_meeting_id));
	if (!nsid || query_parse(&c->stored, query, strlen(query)) < 0 ||
	    query_set(&c->stored, "meetingID", c->mid) < 0) {
		bbb_reply_error(c, "internalError", "Out of memory.");
		return;
	}
	memset(&sc, 0, sizeof(sc));
	sc.fe = c->fe;
	sc.meeting_id = c->mid;
	sc.backend_meeting_id = nsid;
	sc.params = &c->stored;
	sc.call.query = query;
	sc.call.body = body;
	sc.call.body_len = body_len;
	sc.call.content_type = ct;
	sc.method = body ? "POST" : "GET";
	sc.placed_host = c->backend_host;
	sc.placed_host_len = sizeof(c->backend_host);
	bbb_meetings_place(c, &sc, bbb_meetings_recreated);
}

void bbb_meetings_join(struct bbb_ctx *c)
{
	const char *mid;
	int rc;

	if (bbb_meetings_id(c, &c->nsid, &mid) < 0)
		return;
	if (!query_get(&c->params, "fullName") || !*query_get(&c->params, "fullName")) {
		bbb_reply_error(c, "missingParamFullName", "You must provide your name");
		return;
	}
	c->mid = strdup(mid);
	if (!c->mid) {
		bbb_reply_error(c, "internalError", "Out of memory.");
		return;
	}
	rc = bbb_meetings_lookup(c, c->mid);
	if (rc == -ENOENT) {
		/* join's own key for it in bbb-web, unlike the other calls' notFound */
		bbb_reply_error(c, "invalidMeetingIdentifier", "The meeting ID that you supplied did not match any existing meetings");
		return;
	}
	if (rc < 0)
		return;
	if (!c->m.has_backend || !lb_backend_reachable(&c->m.backend)) {
		bbb_meetings_recreate(c);
		return;
	}
	bbb_meetings_join_finish(c);
}

/* What a call answers when the meeting is unknown or its node cannot be reached. */
static void bbb_meetings_absent(struct bbb_ctx *c, int unreachable)
{
	if (strcmp(c->call, "isMeetingRunning") == 0) {
		bbb_reply_ok(c, "<response><returncode>SUCCESS</returncode>"
				"<running>false</running></response>");
	} else if (unreachable && strcmp(c->call, "end") == 0) {
		bbb_reply_error(c, "internalError", "Unable to access the meeting's server.");
	} else {
		bbb_reply_error(c, "notFound", "A meeting with that ID does not exist");
	}
}

/* A getMeetingInfo answer is fresh state: keep its participant count for attendees_limit. */
static void bbb_meetings_note_state(struct bbb_ctx *c, const struct lb_meeting *m,
				    struct xml_node *doc)
{
	const char *rc = xml_dom_child_text(doc, "returncode");
	const char *pc = xml_dom_child_text(doc, "participantCount");
	const char *running = xml_dom_child_text(doc, "running");
	char err[512];

	if (strcmp(c->call, "getMeetingInfo") != 0 || !rc || strcmp(rc, "SUCCESS") != 0 || !pc ||
	    !m->id) /* a breakout room has no row of ours */
		return;
	if (db_meetings_set_state(&c->w->db, m->id, strtol(pc, NULL, 10),
				  running && strcmp(running, "true") == 0, err, sizeof(err)) < 0)
		log_warn("bbb", "event=db_error call=getMeetingInfo error=\"%s\"", err);
}

/* An end reached the node: answers kept for reuse must not say the meeting still runs, here
 * (at once) or on the other instances (through Postgres). */
static void bbb_meetings_ended(struct bbb_ctx *c)
{
	char err[512];

	node_share_invalidate(c->m.backend_meeting_id);
	bbb_list_changed(c->fe->key);
	if (db_meetings_changed(&c->w->db, c->m.backend_meeting_id, err, sizeof(err)) < 0)
		log_warn("bbb", "event=db_error call=end error=\"%s\"", err);
}

static void bbb_meetings_forwarded(struct bbb_ctx *c)
{
	struct xml_node *doc;
	char err[512];

	if (bbb_task_answer(c, 0, &doc, err, sizeof(err)) < 0) {
		log_warn("bbb", "event=backend_failed call=%s frontend=%s backend=%s error=\"%s\"",
			 c->call, c->fe->key, c->m.backend.host, err);
		bbb_meetings_absent(c, 1);
		return;
	}
	if (!bbb_task_answer_shared(c, 0))
		bbb_meetings_note_state(c, &c->m, doc);
	if (strcmp(c->call, "end") == 0)
		bbb_meetings_ended(c);
	/* a breakout room (no row of ours) is named by BBB: nothing to map */
	bbb_meetings_reply(c, doc, c->m.id ? bbb_meetings_alias(c, c->m.backend_meeting_id) : NULL);
	xml_dom_free(doc);
}

void bbb_meetings_forward(struct bbb_ctx *c)
{
	int insert = strcmp(c->call, "insertDocument") == 0;
	const char *mid;
	int rc;

	if (bbb_meetings_id(c, &c->nsid, &mid) < 0)
		return;
	/* insertDocument carries slides as XML in a POST body, passed on unsigned like create's */
	if (insert && (c->form_body || !c->req->body_len ||
		       !bbb_meetings_xml_body(c->req->content_type))) {
		bbb_reply_error(c, "unsupportedContentType",
			      "POST request Content-Type is missing or unsupported");
		return;
	}
	/* kept for the answer: encoding the node's ID replaces mid's storage */
	c->mid = strdup(mid);
	if (!c->mid) {
		bbb_reply_error(c, "internalError", "Out of memory.");
		return;
	}
	mid = c->mid;
	rc = bbb_meetings_lookup(c, mid);
	/* what BBB answers about a breakout room, the frontend may ask too */
	if (rc == -ENOENT && (strcmp(c->call, "getMeetingInfo") == 0 ||
			      strcmp(c->call, "isMeetingRunning") == 0 || strcmp(c->call, "end") == 0))
		rc = bbb_meetings_breakout(c, mid);
	if (rc == -ENOENT || (rc == 0 && !c->m.has_backend)) {
		bbb_meetings_absent(c, 0);
		return;
	}
	if (rc < 0)
		return;
	if (!lb_backend_reachable(&c->m.backend)) {
		/* answered as BBB would for a meeting that is not running; no dead-node timeout */
		bbb_meetings_absent(c, 1);
		return;
	}
	if (bbb_meetings_encode(c, c->m.backend_meeting_id, &c->q) < 0)
		return;
	if (bbb_task_call(c, &c->m.backend, c->call, insert ? "POST" : "GET", buf_str(&c->q),
			  insert ? c->req->body : NULL, insert ? c->req->body_len : 0,
			  insert ? "application/xml" : NULL, bbb_meetings_forwarded) < 0) {
		bbb_reply_error(c, "internalError", "Out of memory.");
		return;
	}
	/* what frontends poll all day: one node call answers them all (B3SCALE_INFO_CACHE_MS) */
	if (strcmp(c->call, "getMeetingInfo") == 0 || strcmp(c->call, "isMeetingRunning") == 0)
		bbb_task_share(c, c->m.backend_meeting_id);
}

/* bbb_api.c: request parsing, frontend resolution and checksum verification, then one
 * handler per call. Every error a frontend sees is BBB-shaped: HTTP 200, FAILED, messageKey. */
#include "bbb_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbb_checksum.h"
#include "bbb_list.h"
#include "bbb_recordings.h"
#include "bbb_meetings.h"
#include "bbb_reply.h"
#include "bbb_tracks.h"
#include "bbb_xml.h"
#include "db_frontends.h"
#include "log.h"
#include "route_cache.h"

#define BBB_API_MAX_CALL 64


/* Splits /bbb/<key>/[bigbluebutton/]api[/<call>] ; call "" is the API index. */
static int bbb_api_parse_path(const char *path, char *key, size_t keycap, char *call,
			      size_t callcap)
{
	const char *p = path + 5, *slash = strchr(p, '/');
	size_t kl;

	if (!slash)
		return -EINVAL;
	kl = (size_t)(slash - p);
	if (kl == 0 || kl >= keycap)
		return -EINVAL;
	memcpy(key, p, kl);
	key[kl] = '\0';
	p = slash + 1;
	if (strncmp(p, "bigbluebutton/", 14) == 0)
		p += 14;
	if (strncmp(p, "api", 3) != 0 || (p[3] != '\0' && p[3] != '/'))
		return -EINVAL;
	p += 3;
	if (*p == '/')
		p++;
	if (strlen(p) >= callcap || strchr(p, '/'))
		return -EINVAL;
	strcpy(call, p);
	return 0;
}

static void bbb_api_index(struct bbb_ctx *c)
{
	bbb_reply_ok(c, "<response><returncode>SUCCESS</returncode><version>2.0</version>"
			"<apiVersion>2.0</apiVersion><bbbVersion/></response>");
}

static int bbb_api_is_form(const char *ct)
{
	return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

static int bbb_api_names_meeting(const char *call)
{
	return strcmp(call, "create") == 0 || strcmp(call, "join") == 0 || strcmp(call, "end") == 0 ||
	       strcmp(call, "isMeetingRunning") == 0 || strcmp(call, "getMeetingInfo") == 0 ||
	       strcmp(call, "insertDocument") == 0 || strcmp(call, "sendChatMessage") == 0;
}

static void bbb_api_dispatch(struct bbb_ctx *c)
{
	static const struct {
		const char *call;
		void (*fn)(struct bbb_ctx *);
	} calls[] = {
		{ "create", bbb_meetings_create },
		{ "join", bbb_meetings_join },
		{ "end", bbb_meetings_forward },
		{ "isMeetingRunning", bbb_meetings_forward },
		{ "getMeetingInfo", bbb_meetings_forward },
		{ "getMeetings", bbb_list_meetings },
		{ "getRecordings", bbb_recordings_get },
		{ "updateRecordings", bbb_recordings_update },
		{ "publishRecordings", bbb_recordings_publish },
		{ "deleteRecordings", bbb_recordings_delete },
		{ "getRecordingTextTracks", bbb_tracks_get },
		{ "putRecordingTextTrack", bbb_tracks_put },
		{ "insertDocument", bbb_meetings_forward },
		{ "sendChatMessage", bbb_meetings_forward },
	};
	size_t i;

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		if (strcmp(calls[i].call, c->call) == 0) {
			calls[i].fn(c);
			return;
		}
	}
	bbb_reply_fail(c, "unsupportedRequest", "This request is not supported.");
}

/* Parses, resolves the frontend and verifies the checksum; 0 when the call may run. */
static int bbb_api_verify(struct bbb_ctx *c)
{
	struct worker *w = c->w;
	const struct http_request *req = c->req;
	struct lb_frontend *fe = &c->fe_store;
	char err[512];
	const char *mid;
	int cached, known, routed, fe_only, rc;

	if (req->query_len > w->cfg->max_query) {
		bbb_reply_fail(c, "validationError", "The query string is too long.");
		return -EINVAL;
	}
	if (req->body_too_big) {
		bbb_reply_fail(c, "validationError", "The request body is too large.");
		return -EINVAL;
	}
	/* the index needs no checksum (as on BBB) and so tells nothing about the key: every key,
	 * known, unknown or disabled, gets the same document, without a database lookup */
	if (c->call[0] == '\0') {
		bbb_api_index(c);
		return 1;
	}
	/* a form POST carries its parameters (and checksum) in the body */
	if (strcmp(req->method, "POST") == 0 && req->query_len == 0 &&
	    bbb_api_is_form(req->content_type)) {
		c->raw = req->body;
		c->rawlen = req->body_len;
		c->form_body = 1;
	}
	/* calls that name a meeting fetch it with the frontend, in one round trip; the
	 * lookup needs no trust, the checksum is verified before anything is used */
	rc = query_parse(&c->params, c->raw, c->rawlen);
	if (rc == -E2BIG) {
		bbb_reply_fail(c, "validationError", "Too many parameters.");
		return rc;
	}
	if (rc < 0) {
		bbb_reply_fail(c, "internalError", "Out of memory.");
		return rc;
	}
	mid = query_get(&c->params, "meetingID");
	snprintf(c->log_meeting, sizeof(c->log_meeting), "%s", mid && *mid ? mid : "-");
	mid = bbb_api_names_meeting(c->call) ? mid : NULL;
	if (mid && !*mid)
		mid = NULL;
	/* joins are every user's hot path, getMeetingInfo and isMeetingRunning what frontends
	 * poll all day: their route may come from the route cache */
	routed = mid && (strcmp(c->call, "join") == 0 || strcmp(c->call, "getMeetingInfo") == 0 ||
			 strcmp(c->call, "isMeetingRunning") == 0);
	/* and getMeetings, polled as often, needs the frontend alone (under meeting ID "",
	 * which no meeting has): a database round trip per list was its slowest part */
	fe_only = !mid && strcmp(c->call, "getMeetings") == 0;
	cached = (routed || fe_only) &&
		 route_cache_get(&w->routes, w->cfg, c->key, mid ? mid : "", fe, &c->meeting);
	if (cached) {
		rc = 0;
		c->meeting_found = routed;
	} else {
		unsigned long epoch = route_cache_epoch();

		rc = db_frontends_find(&w->db, c->key, mid, fe, &c->meeting, &c->meeting_found, err,
				       sizeof(err));
		if (rc == 0 && fe->active && ((routed && c->meeting_found) || fe_only))
			route_cache_put(&w->routes, w->cfg, epoch, c->key, mid ? mid : "", fe,
					&c->meeting);
	}
	c->meeting_fetched = mid && rc == 0;
	if (rc < 0 && rc != -ENOENT) {
		log_error("bbb", "event=db_error call=%s frontend=%s error=\"%s\"", c->call, c->key,
			  err);
		bbb_reply_fail(c, "internalError", "The service is temporarily unavailable.");
		return rc;
	}
	/* an unknown key is verified like a known one against a secret nobody has, so it gets
	 * the very answer a wrong or missing checksum gets: frontend keys cannot be probed */
	known = rc == 0;
	/* while the frontend's secret is being rotated, its previous secret verifies too; an
	 * unknown key pays for two hashes as well */
	rc = bbb_checksum_verify_pair(c->call, c->raw, c->rawlen, known ? fe->secret : "",
				      known ? fe->previous_secret : "");
	/* a form POST may be signed either way: over its body, or (bbb-web 2.7/3.0 docs) over
	 * the empty URL query */
	if (rc == BBB_CHECKSUM_MISMATCH && c->form_body)
		rc = bbb_checksum_verify_empty_pair(c->call, c->raw, c->rawlen,
						    known ? fe->secret : "",
						    known ? fe->previous_secret : "");
	if (rc == 0 && !known)
		rc = BBB_CHECKSUM_MISMATCH;
	/* putRecordingTextTrack names a missing checksum as its other missing parameters */
	if (rc == BBB_CHECKSUM_MISSING && strcmp(c->call, "putRecordingTextTrack") == 0) {
		bbb_reply_fail(c, "paramError", "Missing param checksum.");
		return -EACCES;
	}
	if (rc != 0) {
		bbb_reply_fail(c, "checksumError",
			     rc == BBB_CHECKSUM_MISSING ? "You must provide the checksum"
							: "Checksums do not match");
		return -EACCES;
	}
	if (!fe->active) {
		bbb_reply_fail(c, "checksumError", "This frontend is disabled.");
		return -EACCES;
	}
	/* verified: from here on the checksum is of no use, and policies must never see it */
	query_remove(&c->params, "checksum");
	return 0;
}

void bbb_api_handle(struct worker *w, const struct http_request *req, struct http_answer *a)
{
	struct bbb_ctx *c;
	char key[72], call[BBB_API_MAX_CALL];

	if (bbb_api_parse_path(req->path, key, sizeof(key), call, sizeof(call)) < 0) {
		a->status = 404;
		a->content_type = "text/plain";
		buf_puts(&a->body, "not found: BBB API URLs look like /bbb/<frontend>/api/<call>\n");
		return;
	}
	c = bbb_task_new(w, req, a);
	if (!c) {
		a->status = 503;
		buf_puts(&a->body, "out of memory\n");
		return;
	}
	snprintf(c->key, sizeof(c->key), "%s", key);
	snprintf(c->call_buf, sizeof(c->call_buf), "%s", call);
	if (bbb_api_verify(c) == 0)
		bbb_api_dispatch(c);
	bbb_task_settle(c);
}

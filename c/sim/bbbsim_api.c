/* bbbsim_api.c: BBB API calls of a single simulated node (create, join, end, isMeetingRunning,
 * getMeetingInfo, getMeetings). Strict like bbb-web 2.7/3.0 so the balancer's own bugs show. */
#include "bbbsim_api.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbb_checksum.h"
#include "bbb_xml.h"
#include "clock.h"
#include "log.h"
#include "query.h"
#include "bbbsim_callback.h"
#include "bbbsim_record.h"
#include "bbbsim_render.h"

#define BBBSIM_API_PREFIX "/bigbluebutton/api"

static const char bbbsim_api_alnum[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char bbbsim_api_lower_alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

struct bbbsim_api_call {
	struct bbbsim_state *st;
	const struct bbbsim_msg_request *req;
	struct bbbsim_msg_reply *rep;
	struct query q;      /* URL parameters, then form-body parameters, decoded */
	int xml_body;        /* POST carried presentation XML */
};

int bbbsim_api_match(const char *path)
{
	size_t n = strlen(BBBSIM_API_PREFIX);

	if (strcmp(path, "/bigbluebutton") == 0 || strcmp(path, "/bigbluebutton/") == 0)
		return 1;
	return strncmp(path, BBBSIM_API_PREFIX, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int bbbsim_api_fail(struct bbbsim_api_call *c, const char *key, const char *message)
{
	return bbb_xml_error(&c->rep->body, key, message);
}

static const char *bbbsim_api_param(const struct bbbsim_api_call *c, const char *key)
{
	return query_get(&c->q, key);
}

/* BBB treats an empty parameter like an absent one for required values. */
static const char *bbbsim_api_nonempty(const struct bbbsim_api_call *c, const char *key)
{
	const char *v = query_get(&c->q, key);

	return v && *v ? v : NULL;
}

static int bbbsim_api_all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static long bbbsim_api_long(const struct bbbsim_api_call *c, const char *key)
{
	const char *v = bbbsim_api_nonempty(c, key);

	return v && bbbsim_api_all_digits(v) ? strtol(v, NULL, 10) : 0;
}

/* Metadata names as bbb-web accepts them: [a-zA-Z][a-zA-Z0-9-]*, returned lowercased. */
static int bbbsim_api_meta_name(const char *s, char *out, size_t cap)
{
	size_t i;

	if (!isalpha((unsigned char)s[0]))
		return -EINVAL;
	for (i = 0; s[i]; i++) {
		if (i + 1 >= cap || !(isalnum((unsigned char)s[i]) || s[i] == '-'))
			return -EINVAL;
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	out[i] = '\0';
	return 0;
}

static int bbbsim_api_validate_id(struct bbbsim_api_call *c, const char *id)
{
	size_t len = strlen(id), i;

	if (len < 2 || len > 256)
		return bbbsim_api_fail(c, "validationError",
				       "Meeting ID must be between 2 and 256 characters"), 1;
	if (strchr(id, ','))
		return bbbsim_api_fail(c, "validationError", "Meeting ID cannot contain ','"), 1;
	for (i = 0; i < len; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			return bbbsim_api_fail(c, "validationError", "Invalid meeting ID"), 1;
	return 0;
}

static int bbbsim_api_duplicate(struct bbbsim_api_call *c, struct bbbsim_meeting *m)
{
	const char *apw = bbbsim_api_nonempty(c, "attendeePW");
	const char *mpw = bbbsim_api_nonempty(c, "moderatorPW");

	/* bbb-web: same passwords (or none given) re-affirm the meeting, anything else clashes */
	if ((apw && strcmp(apw, m->attendee_pw) != 0) || (mpw && strcmp(mpw, m->moderator_pw) != 0))
		return bbbsim_api_fail(c, "idNotUnique",
				       "A meeting already exists with that meeting ID.  "
				       "Please use a different meeting ID.");
	return bbbsim_render_create(&c->rep->body, m, "duplicateWarning",
				    "This conference was already in existence and may currently "
				    "be in progress.");
}

static int bbbsim_api_fill(struct bbbsim_api_call *c, struct bbbsim_meeting *m)
{
	const char *apw = bbbsim_api_nonempty(c, "attendeePW");
	const char *mpw = bbbsim_api_nonempty(c, "moderatorPW");
	const char *vb = bbbsim_api_nonempty(c, "voiceBridge");
	const char *dial = bbbsim_api_nonempty(c, "dialNumber");
	const char *rec = bbbsim_api_param(c, "record");
	char pw1[9], pw2[9], vbuf[8], meta[128];
	size_t i;
	int rc, tries;

	if (!apw) {
		if ((rc = bbbsim_state_random(pw1, 8, bbbsim_api_alnum)) < 0)
			return rc;
		apw = pw1;
	}
	if (!mpw) {
		if ((rc = bbbsim_state_random(pw2, 8, bbbsim_api_alnum)) < 0)
			return rc;
		mpw = pw2;
	}
	if (!vb) {
		/* a free 5-digit bridge; 99999 is BBB's echo-test bridge */
		for (tries = 0; tries < 1000; tries++) {
			if ((rc = bbbsim_state_random(vbuf, 5, "0123456789")) < 0)
				return rc;
			if (vbuf[0] != '0' && strcmp(vbuf, "99999") != 0 &&
			    !bbbsim_state_voice_bridge_used(c->st, vbuf))
				break;
		}
		vb = vbuf;
	}
	m->attendee_pw = strdup(apw);
	m->moderator_pw = strdup(mpw);
	m->voice_bridge = strdup(vb);
	m->dial_number = strdup(dial ? dial : "613-555-1234");
	if (!m->attendee_pw || !m->moderator_pw || !m->voice_bridge || !m->dial_number)
		return -ENOMEM;
	m->duration = bbbsim_api_long(c, "duration");
	m->max_users = bbbsim_api_long(c, "maxParticipants");
	m->record = rec && strcasecmp(rec, "true") == 0;
	m->has_body = c->xml_body;
	if (bbbsim_api_nonempty(c, "meetingEndedURL") &&
	    !(m->ended_url = strdup(bbbsim_api_nonempty(c, "meetingEndedURL"))))
		return -ENOMEM;
	for (i = 0; i < c->q.n; i++) {
		const char *k = c->q.v[i].key;
		if (strncmp(k, "meta_", 5) != 0 || bbbsim_api_meta_name(k + 5, meta, sizeof(meta)) < 0)
			continue;
		if ((rc = bbbsim_state_kv_set(&m->meta, meta, c->q.v[i].value)) < 0)
			return rc;
	}
	return 0;
}

static int bbbsim_api_create(struct bbbsim_api_call *c)
{
	const char *id = bbbsim_api_nonempty(c, "meetingID");
	const char *name = bbbsim_api_nonempty(c, "name");
	const char *vb = bbbsim_api_nonempty(c, "voiceBridge");
	struct bbbsim_meeting *m = NULL, *old;
	int rc;

	if (!id)
		return bbbsim_api_fail(c, "missingParamMeetingID", "You must provide a meeting ID");
	if (bbbsim_api_validate_id(c, id))
		return 0;
	if (!name)
		return bbbsim_api_fail(c, "validationError", "You must provide a meeting name");
	if (strlen(name) < 2 || strlen(name) > 256)
		return bbbsim_api_fail(c, "validationError",
				       "Meeting name must be between 2 and 256 characters");
	if (vb && !bbbsim_api_all_digits(vb))
		return bbbsim_api_fail(c, "validationError", "Voice bridge must be an integer");

	bbbsim_state_lock(c->st);
	old = bbbsim_state_find(c->st, id);
	if (old) {
		rc = bbbsim_api_duplicate(c, old);
		goto out;
	}
	if (vb && bbbsim_state_voice_bridge_used(c->st, vb)) {
		/* bbb-web reports this one through the multi-error envelope */
		buf_puts(&c->rep->body, "<response><returncode>FAILED</returncode><errors><error>"
					"<key>nonUniqueVoiceBridge</key><message>The selected voice "
					"bridge is already in use.</message></error></errors></response>");
		rc = c->rep->body.oom ? -ENOMEM : 0;
		goto out;
	}
	m = bbbsim_state_meeting_new(id, name);
	rc = m ? bbbsim_api_fill(c, m) : -ENOMEM;
	if (rc < 0)
		goto out;
	bbbsim_state_add(c->st, m);
	rc = bbbsim_render_create(&c->rep->body, m, NULL, NULL);
	m = NULL;
out:
	bbbsim_state_unlock(c->st);
	bbbsim_state_meeting_free(m);
	return rc;
}

/* userdata-<name> parameters become the attendee's customdata children. */
static int bbbsim_api_custom(struct bbbsim_api_call *c, struct bbbsim_attendee *a)
{
	size_t i, j;
	int rc;

	for (i = 0; i < c->q.n; i++) {
		const char *k = c->q.v[i].key;
		if (strncmp(k, "userdata-", 9) != 0 || !(isalpha((unsigned char)k[9]) || k[9] == '_'))
			continue;
		for (j = 9; k[j]; j++)
			if (!(isalnum((unsigned char)k[j]) || k[j] == '_' || k[j] == '-'))
				break;
		if (k[j])
			continue;
		if ((rc = bbbsim_state_kv_set(&a->custom, k + 9, c->q.v[i].value)) < 0)
			return rc;
	}
	return 0;
}

/* Decides the role as 2.7+ does: a valid role wins, else the password picks it. */
static int bbbsim_api_join_role(struct bbbsim_api_call *c, const struct bbbsim_meeting *m)
{
	const char *role = bbbsim_api_nonempty(c, "role");
	const char *pw = bbbsim_api_nonempty(c, "password");

	if (role && strcasecmp(role, "MODERATOR") == 0)
		return 1;
	if (role && strcasecmp(role, "VIEWER") == 0)
		return 0;
	if (pw && strcmp(pw, m->moderator_pw) == 0)
		return 1;
	if (pw && strcmp(pw, m->attendee_pw) == 0)
		return 0;
	return -EACCES;
}

/*
 * Simplification: real bbb-web answers join errors with a 302 to errorRedirectUrl/logoutURL
 * (errors=... appended) unless redirect=false; the simulator always answers XML FAILED so
 * tests can read the messageKey either way.
 */
static int bbbsim_api_join(struct bbbsim_api_call *c)
{
	const char *id = bbbsim_api_nonempty(c, "meetingID");
	const char *full = bbbsim_api_nonempty(c, "fullName");
	const char *ct = bbbsim_api_nonempty(c, "createTime");
	const char *redirect = bbbsim_api_param(c, "redirect");
	char auth[13], session[17];
	struct bbbsim_meeting *m;
	struct bbbsim_attendee *a;
	struct buf url;
	int rc, moderator;

	if (!id)
		return bbbsim_api_fail(c, "missingParamMeetingID", "You must provide a meeting ID");
	if (!full)
		return bbbsim_api_fail(c, "missingParamFullName", "You must provide your name");
	buf_init(&url);
	bbbsim_state_lock(c->st);
	m = bbbsim_state_find(c->st, id);
	if (!m) {
		rc = bbbsim_api_fail(c, "invalidMeetingIdentifier",
				     "The meeting ID that you supplied did not match any existing "
				     "meetings");
		goto out;
	}
	if (ct && strtoll(ct, NULL, 10) != m->create_time) {
		rc = bbbsim_api_fail(c, "mismatchCreateTimeParam",
				     "The createTime parameter submitted mismatches with the current "
				     "meeting.");
		goto out;
	}
	moderator = bbbsim_api_join_role(c, m);
	if (moderator < 0) {
		rc = bbbsim_api_fail(c, "invalidPassword",
				     "You either did not supply a password or the password supplied "
				     "is neither the attendee or moderator password for this "
				     "conference.");
		goto out;
	}
	if (m->max_users > 0 && m->natt >= (size_t)m->max_users) {
		rc = bbbsim_api_fail(c, "maxParticipantsReached",
				     "The number of participants allowed for this meeting has been "
				     "reached.");
		goto out;
	}
	if ((rc = bbbsim_state_random(auth, 12, bbbsim_api_lower_alnum)) < 0 ||
	    (rc = bbbsim_state_random(session, 16, bbbsim_api_lower_alnum)) < 0)
		goto out;
	a = bbbsim_state_attendee_add(m, full, moderator);
	if (!a) {
		rc = -ENOMEM;
		goto out;
	}
	rc = bbbsim_api_custom(c, a);
	if (rc < 0)
		goto out;
	buf_printf(&url, "%s/html5client/join?sessionToken=%s", c->st->hostname, session);
	if (url.oom) {
		rc = -ENOMEM;
		goto out;
	}
	if (redirect && strcasecmp(redirect, "false") == 0) {
		rc = bbbsim_render_join(&c->rep->body, m, a, auth, session, buf_str(&url));
		goto out;
	}
	c->rep->status = 302;
	c->rep->location = buf_take(&url, NULL);
	rc = c->rep->location ? 0 : -ENOMEM;
out:
	bbbsim_state_unlock(c->st);
	buf_free(&url);
	return rc;
}

static int bbbsim_api_end(struct bbbsim_api_call *c)
{
	struct bbbsim_callback *cbs = NULL;
	const char *id = bbbsim_api_nonempty(c, "meetingID");
	const char *pw = bbbsim_api_nonempty(c, "password");
	struct bbbsim_meeting *m;
	char err[512];
	int rc;

	if (!id)
		return bbbsim_api_fail(c, "missingParamMeetingID", "You must provide a meeting ID");
	bbbsim_state_lock(c->st);
	m = bbbsim_state_find(c->st, id);
	if (!m) {
		rc = bbbsim_api_fail(c, "notFound", "A meeting with that ID does not exist");
	} else if (pw && strcmp(pw, m->moderator_pw) != 0) {
		rc = bbbsim_api_fail(c, "invalidPassword",
				     "The supplied moderator password is incorrect");
	} else {
		/* BBB processes and publishes a recording minutes later; here it is there at once */
		if (m->record && c->st->recordings_dir &&
		    bbbsim_record_write(c->st, m, clock_wall_ms(), err, sizeof(err)) < 0)
			log_warn("bbbsim", "event=recording_failed meeting=%s error=\"%s\"",
				 m->meeting_id, err);
		/* the callbacks go out after the lock is released, as BBB's after the end */
		cbs = bbbsim_callback_collect(c->st, m);
		/* real BBB ends asynchronously; removing at once keeps tests deterministic */
		bbbsim_state_remove(c->st, m);
		buf_puts(&c->rep->body, "<response><returncode>SUCCESS</returncode>");
		bbb_xml_elem(&c->rep->body, "messageKey", "sentEndMeetingRequest");
		bbb_xml_elem(&c->rep->body, "message",
			     "A request to end the meeting was sent.  Please wait a few seconds, "
			     "and then use the getMeetingInfo or isMeetingRunning API calls to "
			     "verify that it was ended.");
		buf_puts(&c->rep->body, "</response>");
		rc = c->rep->body.oom ? -ENOMEM : 0;
	}
	bbbsim_state_unlock(c->st);
	bbbsim_callback_send(cbs);
	return rc;
}

static int bbbsim_api_is_running(struct bbbsim_api_call *c)
{
	const char *id = bbbsim_api_nonempty(c, "meetingID");
	struct bbbsim_meeting *m;
	int running;

	if (!id)
		return bbbsim_api_fail(c, "missingParamMeetingID", "You must provide a meeting ID");
	bbbsim_state_lock(c->st);
	m = bbbsim_state_find(c->st, id);
	running = m && m->natt > 0;
	bbbsim_state_unlock(c->st);
	buf_printf(&c->rep->body, "<response><returncode>SUCCESS</returncode>"
				  "<running>%s</running></response>", running ? "true" : "false");
	return c->rep->body.oom ? -ENOMEM : 0;
}

static int bbbsim_api_info(struct bbbsim_api_call *c)
{
	const char *id = bbbsim_api_nonempty(c, "meetingID");
	struct bbbsim_meeting *m;
	int rc;

	if (!id)
		return bbbsim_api_fail(c, "missingParamMeetingID", "You must provide a meeting ID");
	bbbsim_state_lock(c->st);
	m = bbbsim_state_find(c->st, id);
	if (m)
		rc = bbbsim_render_meeting_info(&c->rep->body, m);
	else
		rc = bbbsim_api_fail(c, "notFound", "A meeting with that ID does not exist");
	bbbsim_state_unlock(c->st);
	return rc;
}

static int bbbsim_api_meetings(struct bbbsim_api_call *c)
{
	int rc;

	bbbsim_state_lock(c->st);
	rc = bbbsim_render_meetings(&c->rep->body, c->st->meetings);
	bbbsim_state_unlock(c->st);
	return rc;
}

static int bbbsim_api_index(struct bbbsim_api_call *c)
{
	buf_puts(&c->rep->body, "<response><returncode>SUCCESS</returncode><version>2.0</version>"
				"<apiVersion>2.0</apiVersion><bbbVersion/></response>");
	return c->rep->body.oom ? -ENOMEM : 0;
}

/* Lowercased media type without parameters, "" when absent. */
static void bbbsim_api_media_type(const char *ct, char *out, size_t cap)
{
	size_t i = 0;

	while (ct && *ct == ' ')
		ct++;
	for (; ct && ct[i] && ct[i] != ';' && ct[i] != ' ' && i + 1 < cap; i++)
		out[i] = (char)tolower((unsigned char)ct[i]);
	out[i] = '\0';
}

/*
 * Parses URL parameters and, for POST, the body: form fields are added as parameters
 * (the checksum stays over the URL query only, as in 2.7/3.0), XML is remembered as a
 * presentation body. Returns 1 when an unsupported body was answered already.
 */
static int bbbsim_api_params(struct bbbsim_api_call *c, const char *call)
{
	const struct bbbsim_msg_request *req = c->req;
	char type[64];
	int rc;

	rc = query_parse(&c->q, req->query, req->query_len);
	if (rc < 0 || strcmp(req->method, "POST") != 0 || req->body_len == 0)
		return rc;
	bbbsim_api_media_type(req->content_type, type, sizeof(type));
	if (strcmp(type, "application/x-www-form-urlencoded") == 0)
		return query_parse(&c->q, req->body, req->body_len);
	if ((strcmp(call, "create") == 0 || strcmp(call, "insertDocument") == 0) &&
	    (strcmp(type, "application/xml") == 0 || strcmp(type, "text/xml") == 0)) {
		c->xml_body = 1;
		return 0;
	}
	bbbsim_api_fail(c, "unsupportedContentType",
			"POST request Content-Type is missing or unsupported");
	return 1;
}

/* insertDocument (POST, presentation XML) and sendChatMessage (GET): both only need the
 * meeting to exist; what they carry is counted for tests to see. */
static int bbbsim_api_to_meeting(struct bbbsim_api_call *c, int insert)
{
	const char *id = bbbsim_api_nonempty(c, "meetingID");
	struct bbbsim_meeting *m;
	int rc;

	if (!id)
		return bbbsim_api_fail(c, "missingParamMeetingID", "You must provide a meeting ID");
	if (insert && !c->xml_body)
		return bbbsim_api_fail(c, "unsupportedContentType",
				       "POST request Content-Type is missing or unsupported");
	if (!insert && !bbbsim_api_nonempty(c, "message"))
		return bbbsim_api_fail(c, "missingParamMessage", "You must provide a message");
	bbbsim_state_lock(c->st);
	m = bbbsim_state_find(c->st, id);
	if (!m) {
		rc = bbbsim_api_fail(c, "notFound", "Meeting not found or not active");
	} else {
		if (insert)
			m->inserted++;
		else
			m->chats++;
		buf_puts(&c->rep->body, "<response><returncode>SUCCESS</returncode>");
		if (insert)
			bbb_xml_elem(&c->rep->body, "message", "Presentation is being uploaded");
		else
			buf_puts(&c->rep->body, "<messageKey/><message/>");
		buf_puts(&c->rep->body, "</response>");
		rc = c->rep->body.oom ? -ENOMEM : 0;
	}
	bbbsim_state_unlock(c->st);
	return rc;
}

static int bbbsim_api_dispatch(struct bbbsim_api_call *c, const char *call)
{
	int is_get = strcmp(c->req->method, "GET") == 0 || strcmp(c->req->method, "HEAD") == 0;
	int is_post = strcmp(c->req->method, "POST") == 0;

	if (strcmp(call, "join") == 0 && is_get)
		return bbbsim_api_join(c);
	if (strcmp(call, "sendChatMessage") == 0 && is_get)
		return bbbsim_api_to_meeting(c, 0);
	if (strcmp(call, "insertDocument") == 0 && is_post)
		return bbbsim_api_to_meeting(c, 1);
	if (!is_get && !is_post)
		goto unsupported;
	if (strcmp(call, "create") == 0)
		return bbbsim_api_create(c);
	if (strcmp(call, "end") == 0)
		return bbbsim_api_end(c);
	if (strcmp(call, "isMeetingRunning") == 0)
		return bbbsim_api_is_running(c);
	if (strcmp(call, "getMeetingInfo") == 0)
		return bbbsim_api_info(c);
	if (strcmp(call, "getMeetings") == 0)
		return bbbsim_api_meetings(c);
unsupported:
	return bbbsim_api_fail(c, "unsupportedRequest", "This request is not supported.");
}

/* Failure mode and latency from /sim/mode; 1 when the reply is the simulated error. */
static int bbbsim_api_mode(struct bbbsim_api_call *c)
{
	enum bbbsim_fail fail;
	long delay;

	bbbsim_state_lock(c->st);
	fail = c->st->fail;
	delay = c->st->delay_ms;
	if (fail == BBBSIM_FAIL_HANG && delay <= 0)
		delay = 60000;
	if (fail != BBBSIM_FAIL_ERROR && delay > 0)
		bbbsim_state_sleep_locked(c->st, delay);
	bbbsim_state_unlock(c->st);
	if (fail != BBBSIM_FAIL_ERROR)
		return 0;
	bbbsim_msg_reply_text(c->rep, 500, "simulated failure");
	return 1;
}

int bbbsim_api_handle(struct bbbsim_state *st, const struct bbbsim_msg_request *req,
		      struct bbbsim_msg_reply *rep)
{
	struct bbbsim_api_call c = { .st = st, .req = req, .rep = rep };
	const char *call = "";
	int rc = 0, verdict = BBB_CHECKSUM_MISSING;
	size_t n = strlen(BBBSIM_API_PREFIX);

	query_init(&c.q);
	rep->status = 200;
	rep->content_type = "text/xml";
	/* the call is everything after the prefix, so hooks/create stays "hooks/create" */
	if (strncmp(req->path, BBBSIM_API_PREFIX, n) == 0 && req->path[n] == '/')
		call = req->path + n + 1;
	if (*call)
		verdict = bbb_checksum_verify(call, req->query, req->query_len, st->secret);
	bbbsim_state_lock(st);
	rc = bbbsim_state_log_request(st, call, req->method, req->query, req->query_len,
				      verdict == 0);
	bbbsim_state_unlock(st);
	if (rc < 0)
		goto out;
	if (bbbsim_api_mode(&c))
		goto out;
	if (!*call) {
		rc = bbbsim_api_index(&c);
		goto out;
	}
	if (verdict == BBB_CHECKSUM_MISSING) {
		rc = bbbsim_api_fail(&c, "checksumError", "You must provide the checksum");
		goto out;
	}
	if (verdict != 0) {
		rc = verdict == BBB_CHECKSUM_MISMATCH
			     ? bbbsim_api_fail(&c, "checksumError", "Checksums do not match")
			     : verdict;
		goto out;
	}
	rc = bbbsim_api_params(&c, call);
	if (rc != 0)
		goto out;
	rc = bbbsim_api_dispatch(&c, call);
out:
	query_free(&c.q);
	if (rc > 0)
		rc = 0;
	if (rc < 0)
		log_error("bbbsim", "call=%s error=%s", call, strerror(-rc));
	return rc;
}

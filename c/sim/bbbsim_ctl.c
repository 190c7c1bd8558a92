/* bbbsim_ctl.c: /sim/ endpoints for tests (no checksum). Answers are JSON built by hand so
 * Lua specs can decode them with cjson; errors are JSON too: {"error":"..."}. */
#include "bbbsim_ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

int bbbsim_ctl_match(const char *path)
{
	return strcmp(path, "/sim") == 0 || strncmp(path, "/sim/", 5) == 0;
}

static int bbbsim_ctl_json(struct bbbsim_msg_reply *rep, unsigned status)
{
	rep->status = status;
	rep->content_type = "application/json";
	return rep->body.oom ? -ENOMEM : 0;
}

static int bbbsim_ctl_error(struct bbbsim_msg_reply *rep, unsigned status, const char *msg)
{
	buf_reset(&rep->body);
	buf_puts(&rep->body, "{\"error\":");
	buf_json_str(&rep->body, msg);
	buf_puts(&rep->body, "}\n");
	return bbbsim_ctl_json(rep, status);
}

static int bbbsim_ctl_meetings(struct bbbsim_state *st, struct bbbsim_msg_reply *rep)
{
	struct buf *o = &rep->body;
	struct bbbsim_meeting *m;
	struct bbbsim_counts c;
	size_t i;

	buf_puts(o, "[");
	bbbsim_state_lock(st);
	for (m = st->meetings; m; m = m->next) {
		bbbsim_state_counts(m, &c);
		buf_puts(o, m == st->meetings ? "{\"meetingID\":" : ",{\"meetingID\":");
		buf_json_str(o, m->meeting_id);
		buf_puts(o, ",\"internalMeetingID\":");
		buf_json_str(o, m->internal_id);
		buf_printf(o, ",\"attendees\":%zu,\"has_body\":%s,\"inserted\":%d,\"chats\":%d,"
			      "\"name\":", m->natt, m->has_body ? "true" : "false", m->inserted, m->chats);
		buf_json_str(o, m->name);
		buf_puts(o, ",\"attendeePW\":");
		buf_json_str(o, m->attendee_pw);
		buf_puts(o, ",\"moderatorPW\":");
		buf_json_str(o, m->moderator_pw);
		buf_puts(o, ",\"voiceBridge\":");
		buf_json_str(o, m->voice_bridge);
		buf_printf(o, ",\"createTime\":%lld,\"moderators\":%zu,\"video\":%zu,"
			      "\"voice\":%zu,\"listeners\":%zu,\"meta\":{",
			   m->create_time, c.moderators, c.video, c.voice, c.listeners);
		for (i = 0; i < m->meta.n; i++) {
			if (i)
				buf_puts(o, ",");
			buf_json_str(o, m->meta.v[i].key);
			buf_puts(o, ":");
			buf_json_str(o, m->meta.v[i].value);
		}
		buf_puts(o, "}}");
	}
	bbbsim_state_unlock(st);
	buf_puts(o, "]\n");
	return bbbsim_ctl_json(rep, 200);
}

static int bbbsim_ctl_requests(struct bbbsim_state *st, struct bbbsim_msg_reply *rep)
{
	const struct bbbsim_reqlog *e;
	struct buf *o = &rep->body;
	size_t i;

	buf_puts(o, "[");
	bbbsim_state_lock(st);
	for (i = 0; (e = bbbsim_state_log_at(st, i)) != NULL; i++) {
		buf_puts(o, i ? ",{\"call\":" : "{\"call\":");
		buf_json_str(o, e->call);
		buf_puts(o, ",\"method\":");
		buf_json_str(o, e->method);
		buf_puts(o, ",\"query\":");
		buf_json_str(o, e->query);
		buf_printf(o, ",\"checksum_ok\":%s}", e->checksum_ok ? "true" : "false");
	}
	bbbsim_state_unlock(st);
	buf_puts(o, "]\n");
	return bbbsim_ctl_json(rep, 200);
}

static int bbbsim_ctl_clear(struct bbbsim_state *st, struct bbbsim_msg_reply *rep)
{
	bbbsim_state_lock(st);
	bbbsim_state_log_clear(st);
	bbbsim_state_unlock(st);
	buf_puts(&rep->body, "{\"ok\":true}\n");
	return bbbsim_ctl_json(rep, 200);
}

/* Strict non-negative integer, so a typo in a spec fails loudly instead of meaning 0. */
static int bbbsim_ctl_number(const char *s, long *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

static int bbbsim_ctl_attendees(struct bbbsim_state *st, const struct query *q,
				struct bbbsim_msg_reply *rep)
{
	const char *id = query_get(q, "meetingID");
	struct bbbsim_meeting *m;
	long count;
	int rc;

	if (!id || bbbsim_ctl_number(query_get(q, "count"), &count) < 0 || count > 100000)
		return bbbsim_ctl_error(rep, 400, "need meetingID and count=N");
	bbbsim_state_lock(st);
	m = bbbsim_state_find(st, id);
	if (!m) {
		bbbsim_state_unlock(st);
		return bbbsim_ctl_error(rep, 404, "no such meeting");
	}
	rc = bbbsim_state_set_attendees(m, (size_t)count);
	if (rc == 0)
		buf_printf(&rep->body, "{\"meetingID\":");
	if (rc == 0)
		buf_json_str(&rep->body, m->meeting_id);
	if (rc == 0)
		buf_printf(&rep->body, ",\"attendees\":%zu}\n", m->natt);
	bbbsim_state_unlock(st);
	if (rc < 0)
		return bbbsim_ctl_error(rep, 500, strerror(-rc));
	return bbbsim_ctl_json(rep, 200);
}

/* POST /sim/breakout?meetingID=<parent>&sequence=N: a moderator opened breakout room N. */
static int bbbsim_ctl_breakout(struct bbbsim_state *st, const struct query *q,
			       struct bbbsim_msg_reply *rep)
{
	const char *id = query_get(q, "meetingID");
	struct bbbsim_meeting *parent, *m;
	long seq;

	if (!id || bbbsim_ctl_number(query_get(q, "sequence"), &seq) < 0 || seq < 1 || seq > 100)
		return bbbsim_ctl_error(rep, 400, "need meetingID and sequence=1..100");
	bbbsim_state_lock(st);
	parent = bbbsim_state_find(st, id);
	m = parent && !parent->is_breakout ? bbbsim_state_breakout_new(st, parent, seq) : NULL;
	if (m) {
		buf_puts(&rep->body, "{\"meetingID\":");
		buf_json_str(&rep->body, m->meeting_id);
		buf_puts(&rep->body, ",\"internalMeetingID\":");
		buf_json_str(&rep->body, m->internal_id);
		buf_puts(&rep->body, "}\n");
	}
	bbbsim_state_unlock(st);
	if (!m)
		return bbbsim_ctl_error(rep, parent ? 500 : 404, parent ? "cannot create it"
								 : "no such (parent) meeting");
	return bbbsim_ctl_json(rep, 200);
}

static void bbbsim_ctl_mode_json(struct bbbsim_state *st, struct buf *o)
{
	static const char *const names[] = { "none", "error", "hang" };

	buf_printf(o, "{\"fail\":\"%s\",\"delay_ms\":%ld}\n", names[st->fail], st->delay_ms);
}

static int bbbsim_ctl_mode(struct bbbsim_state *st, const struct query *q,
			   struct bbbsim_msg_reply *rep, int set)
{
	const char *fail = query_get(q, "fail");
	const char *delay = query_get(q, "delay_ms");
	enum bbbsim_fail f = BBBSIM_FAIL_NONE;
	long ms = 0;

	if (set) {
		if (fail && strcmp(fail, "none") == 0)
			f = BBBSIM_FAIL_NONE;
		else if (fail && strcmp(fail, "error") == 0)
			f = BBBSIM_FAIL_ERROR;
		else if (fail && strcmp(fail, "hang") == 0)
			f = BBBSIM_FAIL_HANG;
		else if (fail)
			return bbbsim_ctl_error(rep, 400, "fail must be none, error or hang");
		if (delay && bbbsim_ctl_number(delay, &ms) < 0)
			return bbbsim_ctl_error(rep, 400, "delay_ms must be a number");
	}
	bbbsim_state_lock(st);
	if (set) {
		/* fail=none resets the latency too unless delay_ms says otherwise */
		if (fail)
			st->fail = f;
		if (delay || (fail && f == BBBSIM_FAIL_NONE))
			st->delay_ms = ms;
	}
	bbbsim_ctl_mode_json(st, &rep->body);
	bbbsim_state_unlock(st);
	return bbbsim_ctl_json(rep, 200);
}

static int bbbsim_ctl_reset(struct bbbsim_state *st, struct bbbsim_msg_reply *rep)
{
	bbbsim_state_lock(st);
	bbbsim_state_reset(st);
	bbbsim_state_unlock(st);
	buf_puts(&rep->body, "{\"ok\":true}\n");
	return bbbsim_ctl_json(rep, 200);
}

static void bbbsim_ctl_skip_ws(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
		(*p)++;
}

/* A JSON string (cursor on the opening quote) into out; \u escapes only for ASCII. */
static int bbbsim_ctl_json_string(const char **p, const char *end, struct buf *out)
{
	const char *s = *p + 1;

	while (s < end && *s != '"') {
		if (*s == '\\' && s + 1 < end) {
			char c = s[1];
			s += 2;
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c == 'u' && s + 4 <= end) {
				char hex4[5] = { s[0], s[1], s[2], s[3], '\0' };
				c = (char)strtol(hex4, NULL, 16);
				s += 4;
			}
			buf_append(out, &c, 1);
		} else {
			buf_append(out, s++, 1);
		}
	}
	if (s >= end)
		return -EINVAL;
	*p = s + 1;
	return out->oom ? -ENOMEM : 0;
}

/*
 * Control parameters may also come as a body: a flat JSON object ({"count": 3}, as the spec
 * helper sim_req sends tables) or a form. Scalars only; anything nested is -EINVAL.
 */
static int bbbsim_ctl_body_params(const struct bbbsim_msg_request *req, struct query *q)
{
	const char *p = req->body, *end = req->body + req->body_len;
	struct buf k, v;
	int rc = 0;

	bbbsim_ctl_skip_ws(&p, end);
	if (p == end)
		return 0;
	if (*p != '{')
		return query_parse(q, req->body, req->body_len);
	buf_init(&k);
	buf_init(&v);
	p++;
	for (;;) {
		buf_reset(&k);
		buf_reset(&v);
		bbbsim_ctl_skip_ws(&p, end);
		if (p < end && *p == '}')
			break;
		if (p >= end || *p != '"' || (rc = bbbsim_ctl_json_string(&p, end, &k)) < 0)
			goto bad;
		bbbsim_ctl_skip_ws(&p, end);
		if (p >= end || *p++ != ':')
			goto bad;
		bbbsim_ctl_skip_ws(&p, end);
		if (p < end && *p == '"') {
			if ((rc = bbbsim_ctl_json_string(&p, end, &v)) < 0)
				goto bad;
		} else {
			const char *s = p;
			while (p < end && *p != ',' && *p != '}' && *p != ' ' && *p != '\n')
				p++;
			if (p == s || *s == '{' || *s == '[')
				goto bad;
			buf_append(&v, s, (size_t)(p - s));
		}
		if ((rc = query_set(q, buf_str(&k), buf_str(&v))) < 0)
			goto out;
		bbbsim_ctl_skip_ws(&p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}')
			break;
		goto bad;
	}
	goto out;
bad:
	rc = -EINVAL;
out:
	buf_free(&k);
	buf_free(&v);
	return rc;
}

int bbbsim_ctl_handle(struct bbbsim_state *st, const struct bbbsim_msg_request *req,
		      struct bbbsim_msg_reply *rep)
{
	const char *p = req->path, *m = req->method;
	int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	int post = strcmp(m, "POST") == 0;
	struct query q;
	int rc;

	query_init(&q);
	rc = query_parse(&q, req->query, req->query_len);
	if (rc == 0)
		rc = bbbsim_ctl_body_params(req, &q);
	if (rc == -EINVAL) {
		rc = bbbsim_ctl_error(rep, 400, "body must be a flat JSON object or a form");
		goto out;
	}
	if (rc < 0)
		goto out;
	if (strcmp(p, "/sim/health") == 0 && get)
		rc = bbbsim_msg_reply_text(rep, 200, "ok");
	else if (strcmp(p, "/sim/meetings") == 0 && get)
		rc = bbbsim_ctl_meetings(st, rep);
	else if (strcmp(p, "/sim/stats") == 0 && get) {
		buf_printf(&rep->body, "{\"connections\":%lu}\n",
			   __atomic_load_n(&st->connections, __ATOMIC_RELAXED));
		rc = bbbsim_ctl_json(rep, 200);
	}
	else if (strcmp(p, "/sim/requests") == 0 && get)
		rc = bbbsim_ctl_requests(st, rep);
	else if ((strcmp(p, "/sim/requests") == 0 && strcmp(m, "DELETE") == 0) ||
		 (strcmp(p, "/sim/requests/clear") == 0 && post))
		rc = bbbsim_ctl_clear(st, rep);
	else if (strcmp(p, "/sim/attendees") == 0 && post)
		rc = bbbsim_ctl_attendees(st, &q, rep);
	else if (strcmp(p, "/sim/breakout") == 0 && post)
		rc = bbbsim_ctl_breakout(st, &q, rep);
	else if (strcmp(p, "/sim/mode") == 0 && (post || get))
		rc = bbbsim_ctl_mode(st, &q, rep, post);
	else if (strcmp(p, "/sim/reset") == 0 && post)
		rc = bbbsim_ctl_reset(st, rep);
	else
		rc = bbbsim_ctl_error(rep, 404, "unknown control endpoint or method");
out:
	query_free(&q);
	return rc;
}

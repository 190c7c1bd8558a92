/* bbb_reply.c: the BBB envelopes every handler answers with (XML, and JSON for the text
 * track calls), and bbb-web's redirect of a failed browser join back to the frontend. */
#include "bbb_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bbb_xml.h"

void bbb_reply_ok(struct bbb_ctx *c, const char *xml)
{
	if (xml) {
		buf_reset(&c->a->body);
		buf_puts(&c->a->body, xml);
	}
	c->a->status = 200;
	c->a->content_type = "text/xml";
	c->outcome = "SUCCESS";
}

void bbb_reply_json_ok(struct bbb_ctx *c)
{
	c->a->status = 200;
	c->a->content_type = "application/json";
	c->outcome = "SUCCESS";
}

void bbb_reply_json(struct bbb_ctx *c, const char *returncode, const char *key, const char *msg,
		    const char *record_id)
{
	struct buf *b = &c->a->body;

	buf_reset(b);
	buf_puts(b, "{\"response\":{\"returncode\":");
	buf_json_str(b, returncode);
	buf_puts(b, ",\"messageKey\":");
	buf_json_str(b, key);
	buf_puts(b, ",\"message\":");
	buf_json_str(b, msg);
	if (record_id) {
		buf_puts(b, ",\"recordId\":");
		buf_json_str(b, record_id);
	}
	buf_puts(b, "}}");
	bbb_reply_json_ok(c);
	if (strcmp(returncode, "SUCCESS") != 0) { /* key may live on the handler's stack */
		snprintf(c->outcome_buf, sizeof(c->outcome_buf), "%s", key);
		c->outcome = c->outcome_buf;
	}
}

void bbb_reply_fail(struct bbb_ctx *c, const char *key, const char *msg)
{
	if (strcmp(c->call, "putRecordingTextTrack") == 0) {
		bbb_reply_json(c, "FAILED", key, msg, NULL);
		return;
	}
	buf_reset(&c->a->body);
	bbb_xml_error(&c->a->body, key, msg);
	c->a->status = 200;
	c->a->content_type = "text/xml";
	/* key may live on a handler's stack: the access log runs after the handler returned */
	snprintf(c->outcome_buf, sizeof(c->outcome_buf), "%s", key);
	c->outcome = c->outcome_buf;
}

/* bbb-web answers a failed browser join (redirect not false) with a redirect to the
 * frontend's errorRedirectUrl or logoutURL carrying errors=[{"key","message"}], so the user
 * lands back on the frontend's page instead of raw XML. Only after the checksum was
 * verified: an unsigned URL must never become a redirect target. */
static int bbb_reply_join_redirect(struct bbb_ctx *c, const char *key, const char *msg)
{
	const char *redirect = query_get(&c->params, "redirect");
	const char *to = query_get(&c->params, "errorRedirectUrl");
	struct buf json, url;

	if (strcmp(c->call, "join") != 0 || (redirect && strcasecmp(redirect, "false") == 0))
		return 0;
	if (!to || !*to)
		to = query_get(&c->params, "logoutURL");
	if (!to || (strncmp(to, "http://", 7) != 0 && strncmp(to, "https://", 8) != 0) ||
	    strpbrk(to, "\r\n"))
		return 0;
	buf_init(&json);
	buf_init(&url);
	buf_puts(&json, "[{\"key\":");
	buf_json_str(&json, key);
	buf_puts(&json, ",\"message\":");
	buf_json_str(&json, msg);
	buf_puts(&json, "}]");
	buf_printf(&url, "%s%serrors=", to, strchr(to, '?') ? "&" : "?");
	query_escape(&url, buf_str(&json));
	buf_free(&json);
	if (url.oom) {
		buf_free(&url);
		return 0;
	}
	buf_reset(&c->a->body);
	buf_puts(&c->a->body, "<html><body>Redirecting.</body></html>\n");
	c->a->status = 302;
	c->a->content_type = "text/html";
	c->a->location = buf_take(&url, NULL);
	snprintf(c->outcome_buf, sizeof(c->outcome_buf), "%s", key);
	c->outcome = c->outcome_buf;
	return 1;
}

void bbb_reply_error(struct bbb_ctx *c, const char *key, const char *msg)
{
	if (!bbb_reply_join_redirect(c, key, msg))
		bbb_reply_fail(c, key, msg);
}

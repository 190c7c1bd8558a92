/* bbb_reply.h: BBB-shaped errors for the handlers of bbb_api.c and bbb_meetings.c. */
#ifndef B3S_BBB_REPLY_H
#define B3S_BBB_REPLY_H

#include "bbb_task.h"

/* HTTP 200, XML, SUCCESS in the access log: a handler that wrote its own answer's body
 * (xml, or NULL when c->a already holds it). */
void bbb_reply_ok(struct bbb_ctx *c, const char *xml);
/* HTTP 200, FAILED, messageKey key: the envelope of every error a frontend sees (JSON for
 * putRecordingTextTrack, whose every answer is JSON on BBB). */
void bbb_reply_fail(struct bbb_ctx *c, const char *key, const char *msg);
/* HTTP 200, application/json: the envelope of BBB's JSON calls (the text tracks),
 * {"response":{"returncode","messageKey","message"[,"recordId"]}}; record_id NULL: none. */
void bbb_reply_json(struct bbb_ctx *c, const char *returncode, const char *key, const char *msg,
		    const char *record_id);
/* HTTP 200, application/json, SUCCESS: a handler that wrote its own JSON into c->a->body. */
void bbb_reply_json_ok(struct bbb_ctx *c);
/* The same, except that a failed browser join (redirect not false) goes back to the
 * frontend's errorRedirectUrl or logoutURL with errors=, as bbb-web does. */
void bbb_reply_error(struct bbb_ctx *c, const char *key, const char *msg);

#endif

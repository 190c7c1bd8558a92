/* cb_endpoints.c: see cb_endpoints.h. What a node sends is never trusted further than its
 * token (and, where BBB signs, its JWT under that node's secret): the frontend's URLs come
 * from the row the token names, never from the request. */
#include "cb_endpoints.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bbb_list.h"
#include "cb_create.h"
#include "cb_jwt.h"
#include "cb_outbox.h"
#include "db_callbacks.h"
#include "log.h"
#include "node_share.h"
#include "query.h"
#include "route_cache.h"

enum cb_kind { CB_END, CB_ENDED, CB_READY, CB_ANALYTICS, CB_NKINDS };

static const char *const cb_kind_names[CB_NKINDS] = { "end", "ended", "recording-ready",
						      "analytics" };
/* the outbox kinds (event names) of each */
static const char *const cb_kind_events[CB_NKINDS] = { "meeting-ended", "meeting-ended",
						       "recording-ready", "analytics" };

/* One meeting_callbacks row with its frontend. */
struct cb_row {
	char id[24], frontend_id[40], key[65], secret[256], meeting_id[512], ns[512], alg[8];
	char *url[CB_NKINDS];
};

static void cb_row_clear(struct cb_row *r)
{
	int i;

	for (i = 0; i < CB_NKINDS; i++)
		free(r->url[i]);
	memset(r, 0, sizeof(*r));
}

#define CB_ROW_SELECT                                                                        \
	"SELECT c.id::text, c.frontend_id::text, f.key, f.secret, c.meeting_id,"             \
	" c.backend_meeting_id, c.end_url, c.ended_url, c.recording_ready_url,"              \
	" c.analytics_url, CASE WHEN f.settings->'callbacks'->>'jwt_alg' = 'HS512'"          \
	" THEN 'HS512' ELSE 'HS256' END FROM meeting_callbacks c"                            \
	" JOIN frontends f ON f.id = c.frontend_id"

/* The first row of sql's answer into r: 0, -ENOENT, -EIO (err). */
static int cb_row_read(struct db *db, const char *sql, int n, const char *const *vals,
		       struct cb_row *r, char *err, size_t errlen)
{
	PGresult *res = db_query(db, sql, n, vals, PGRES_TUPLES_OK, err, errlen);
	int i, rc = -ENOENT;

	memset(r, 0, sizeof(*r));
	if (!res)
		return -EIO;
	if (PQntuples(res) >= 1) {
		snprintf(r->id, sizeof(r->id), "%s", PQgetvalue(res, 0, 0));
		snprintf(r->frontend_id, sizeof(r->frontend_id), "%s", PQgetvalue(res, 0, 1));
		snprintf(r->key, sizeof(r->key), "%s", PQgetvalue(res, 0, 2));
		snprintf(r->secret, sizeof(r->secret), "%s", PQgetvalue(res, 0, 3));
		snprintf(r->meeting_id, sizeof(r->meeting_id), "%s", PQgetvalue(res, 0, 4));
		snprintf(r->ns, sizeof(r->ns), "%s", PQgetvalue(res, 0, 5));
		snprintf(r->alg, sizeof(r->alg), "%s", PQgetvalue(res, 0, 10));
		rc = 0;
		for (i = 0; i < CB_NKINDS; i++) {
			int col = i == CB_END ? 6 : i == CB_ENDED ? 7 : i == CB_READY ? 8 : 9;

			if (!PQgetisnull(res, 0, col) && !(r->url[i] = strdup(PQgetvalue(res, 0, col))))
				rc = -ENOMEM;
		}
	}
	PQclear(res);
	if (rc < 0)
		cb_row_clear(r);
	return rc;
}

/* Queues a call of the frontend's url and wakes the outbox. */
static int cb_enqueue(struct db *db, const struct cb_row *r, enum cb_kind k, const char *url,
		      const char *method, const char *ctype, const char *headers,
		      const struct buf *body, const char *event_id, char *err, size_t errlen)
{
	struct db_callback cb;
	int rc;

	memset(&cb, 0, sizeof(cb));
	cb.frontend_id = r->frontend_id;
	cb.kind = cb_kind_events[k];
	cb.event_id = event_id;
	cb.url = url;
	cb.method = method;
	cb.content_type = ctype;
	cb.headers_json = headers ? headers : "{}";
	cb.body = body ? buf_str(body) : NULL;
	cb.body_len = body ? body->len : 0;
	rc = db_callbacks_add(db, &cb, err, errlen);
	if (rc >= 0)
		cb_outbox_kick();
	return rc < 0 ? rc : 0;
}

/* The meeting ended: the node says so at once, so routing and lists do not wait for a poll;
 * the meeting's rows go here and, through their notifications, on every instance. */
static void cb_endpoints_ended(struct worker *w, const struct cb_row *r)
{
	const char *vals[2] = { r->frontend_id, r->ns };
	char err[512];
	PGresult *res;

	res = db_query(&w->db, "WITH m AS (DELETE FROM meetings WHERE frontend_id = $1::uuid"
			       " AND backend_meeting_id = $2 RETURNING id)"
			       " DELETE FROM node_meetings WHERE meeting_id = $2", 2, vals,
		       PGRES_COMMAND_OK, err, sizeof(err));
	if (!res)
		log_warn("callbacks", "event=db_error call=ended error=\"%s\"", err);
	PQclear(res);
	node_share_invalidate(r->ns);
	bbb_list_changed(r->key);
	route_cache_bump();
}

/* end/ended: the frontend's URL with the node's parameters, meetingID as it knows it. */
static int cb_endpoints_end(struct worker *w, const struct http_request *req,
			    const struct cb_row *r, enum cb_kind k, char *err, size_t errlen)
{
	struct query q;
	struct buf url = { 0 }, qs = { 0 }, ev = { 0 };
	const char *mid;
	int rc = 0;

	cb_endpoints_ended(w, r);
	if (!r->url[k])
		return 0;
	query_init(&q);
	if (query_parse(&q, req->raw_query, req->query_len) < 0) {
		snprintf(err, errlen, "bad query");
		rc = -EINVAL;
		goto out;
	}
	mid = query_get(&q, "meetingID");
	if (mid && strcmp(mid, r->ns) == 0 && query_set(&q, "meetingID", r->meeting_id) < 0)
		rc = -ENOMEM;
	if (rc == 0 && query_encode(&q, &qs) < 0)
		rc = -ENOMEM;
	buf_puts(&url, r->url[k]);
	if (qs.len)
		buf_printf(&url, "%s%s", strchr(r->url[k], '?') ? "&" : "?", buf_str(&qs));
	buf_printf(&ev, "%s:%s", cb_kind_names[k], r->id);
	if (rc == 0 && !url.oom && !ev.oom)
		rc = cb_enqueue(&w->db, r, k, buf_str(&url), "GET", NULL, NULL, NULL,
				buf_str(&ev), err, errlen);
out:
	query_free(&q);
	buf_free(&url);
	buf_free(&qs);
	buf_free(&ev);
	return rc;
}

/* Claims a node signed with its secret (any registered node: the meeting row may be gone by
 * the time a node calls), or NULL. */
static char *cb_endpoints_node_claims(struct db *db, const char *token, const char *alg)
{
	char err[512], *claims = NULL;
	PGresult *res;
	int i;

	res = db_query(db, "SELECT secret FROM backends", 0, NULL, PGRES_TUPLES_OK, err,
		       sizeof(err));
	for (i = 0; res && !claims && i < PQntuples(res); i++)
		claims = cb_jwt_verify(token, alg, PQgetvalue(res, i, 0));
	PQclear(res);
	return claims;
}

/* The frontend's JWT for claims with the node's meeting ID mapped back. NULL on failure. */
static char *cb_endpoints_resign(const struct cb_row *r, const char *claims, const char *alg)
{
	struct buf mapped = { 0 };
	char *tok = NULL;

	if (cb_jwt_map_id(&mapped, claims, r->ns, r->meeting_id) == 0)
		tok = cb_jwt_sign(alg, r->secret, buf_str(&mapped));
	buf_free(&mapped);
	return tok;
}

/* analytics: the node's JSON, verified (HS512, the node's secret), IDs mapped back, under a
 * JWT of the frontend's secret valid for a day, as BBB's own. */
static int cb_endpoints_analytics(struct worker *w, const struct http_request *req,
				  const struct cb_row *r, char *err, size_t errlen)
{
	const char *bearer = req->authorization;
	char *claims, *tok = NULL, exp[48];
	struct buf body = { 0 }, hdr = { 0 }, ev = { 0 };
	int rc;

	if (!bearer || strncmp(bearer, "Bearer ", 7) != 0 ||
	    !(claims = cb_endpoints_node_claims(&w->db, bearer + 7, "HS512"))) {
		snprintf(err, errlen, "the node's token does not verify");
		return -EACCES;
	}
	free(claims);
	snprintf(exp, sizeof(exp), "{\"exp\":%lld}", (long long)time(NULL) + 86400);
	tok = cb_jwt_sign("HS512", r->secret, exp);
	if (tok && r->url[CB_ANALYTICS] &&
	    cb_jwt_map_id(&body, req->body ? req->body : "", r->ns, r->meeting_id) == 0) {
		buf_puts(&hdr, "{\"Authorization\":");
		buf_printf(&ev, "Bearer %s", tok);
		buf_json_str(&hdr, buf_str(&ev));
		buf_puts(&hdr, "}");
		buf_reset(&ev);
		buf_printf(&ev, "analytics:%s", r->id);
		rc = cb_enqueue(&w->db, r, CB_ANALYTICS, r->url[CB_ANALYTICS], "POST",
				"application/json", buf_str(&hdr), &body, buf_str(&ev), err, errlen);
	} else if (r->url[CB_ANALYTICS]) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	} else {
		rc = 0;
	}
	free(tok);
	buf_free(&body);
	buf_free(&hdr);
	buf_free(&ev);
	return rc;
}

/* The outbox row of a recording-ready callback: signed_parameters under the frontend's
 * secret, once per recording whoever noticed it first (the import or the node). */
static int cb_endpoints_ready_send(struct db *db, const struct cb_row *r, const char *claims,
				   const char *record_id, char *err, size_t errlen)
{
	char *tok = cb_endpoints_resign(r, claims, r->alg);
	struct buf body = { 0 }, ev = { 0 };
	int rc = -ENOMEM;

	if (tok) {
		buf_puts(&body, "signed_parameters=");
		query_escape(&body, tok);
		buf_printf(&ev, "recording-ready:%s", record_id);
		if (!body.oom && !ev.oom)
			rc = cb_enqueue(db, r, CB_READY, r->url[CB_READY], "POST",
					"application/x-www-form-urlencoded", NULL, &body,
					buf_str(&ev), err, errlen);
	}
	free(tok);
	buf_free(&body);
	buf_free(&ev);
	return rc;
}

/* recording-ready called by a node itself (a meeting created before b3scaled kept the URL
 * back): its JWT verified with a node's secret, then re-signed for the frontend. */
static int cb_endpoints_ready(struct worker *w, const struct http_request *req,
			      const struct cb_row *r, char *err, size_t errlen)
{
	struct query q;
	const char *sp;
	char *claims = NULL, rid[300] = "";
	const char *p;
	int rc = -EACCES;

	query_init(&q);
	if (query_parse(&q, req->body ? req->body : "", req->body_len) == 0 &&
	    (sp = query_get(&q, "signed_parameters")) &&
	    ((claims = cb_endpoints_node_claims(&w->db, sp, "HS256")) ||
	     (claims = cb_endpoints_node_claims(&w->db, sp, "HS512")))) {
		p = strstr(claims, "\"record_id\":\"");
		if (p)
			snprintf(rid, sizeof(rid), "%.*s", (int)strcspn(p + 13, "\""), p + 13);
		rc = r->url[CB_READY] && rid[0]
			     ? cb_endpoints_ready_send(&w->db, r, claims, rid, err, errlen)
			     : 0;
	} else {
		snprintf(err, errlen, "the node's signed_parameters do not verify");
	}
	free(claims);
	query_free(&q);
	return rc;
}

int cb_endpoints_route(const char *path)
{
	return strncmp(path, CB_CREATE_PATH, strlen(CB_CREATE_PATH)) == 0 &&
	       strchr(path + strlen(CB_CREATE_PATH), '/');
}

static void cb_endpoints_reply(struct http_answer *a, int status, const char *text)
{
	a->status = status;
	a->content_type = "text/plain; charset=utf-8";
	buf_reset(&a->body);
	buf_printf(&a->body, "%s\n", text);
}

void cb_endpoints_handle(struct worker *w, const struct http_request *req,
			 struct http_answer *a)
{
	const char *rest = req->path + strlen(CB_CREATE_PATH), *token = strchr(rest, '/') + 1;
	const char *vals[1];
	char id[24], err[512] = "";
	struct cb_row r;
	int k, rc;

	for (k = 0; k < CB_NKINDS; k++)
		if (strlen(cb_kind_names[k]) == (size_t)(token - 1 - rest) &&
		    strncmp(rest, cb_kind_names[k], (size_t)(token - 1 - rest)) == 0)
			break;
	snprintf(id, sizeof(id), "%lld", cb_create_token_id(token));
	vals[0] = id;
	memset(&r, 0, sizeof(r));
	if (k == CB_NKINDS || strchr(token, '/')) {
		cb_endpoints_reply(a, 404, "not found");
		goto log;
	}
	rc = cb_row_read(&w->db, CB_ROW_SELECT " WHERE c.id = $1::bigint", 1, vals, &r, err,
			 sizeof(err));
	if (rc == -EIO) {
		log_error("callbacks", "event=db_error error=\"%s\"", err);
		cb_endpoints_reply(a, 500, "database unavailable");
		goto log;
	}
	if (rc < 0 || !cb_create_token_ok(w->cfg, token, r.ns)) {
		cb_endpoints_reply(a, 403, "invalid callback token");
		goto log;
	}
	if (k == CB_END || k == CB_ENDED)
		rc = cb_endpoints_end(w, req, &r, (enum cb_kind)k, err, sizeof(err));
	else if (strcmp(req->method, "POST") != 0)
		rc = -EPERM;
	else if (k == CB_ANALYTICS)
		rc = cb_endpoints_analytics(w, req, &r, err, sizeof(err));
	else
		rc = cb_endpoints_ready(w, req, &r, err, sizeof(err));
	if (rc == -EPERM)
		cb_endpoints_reply(a, 405, "POST only");
	else if (rc == -EACCES)
		cb_endpoints_reply(a, 401, err);
	else if (rc < 0)
		cb_endpoints_reply(a, 500, "could not queue the callback");
	else
		cb_endpoints_reply(a, 200, "ok");
log:
	log_info("access", "api=callbacks kind=%s frontend=%s status=%d client=%s error=\"%s\"",
		 k < CB_NKINDS ? cb_kind_names[k] : "-", r.key[0] ? r.key : "-", a->status,
		 req->client, a->status >= 400 ? err : "");
	cb_row_clear(&r);
}

int cb_endpoints_recording_ready(struct db *db, const char *frontend_id, const char *meeting_id,
				 const char *record_id, char *err, size_t errlen)
{
	const char *vals[2] = { frontend_id, meeting_id };
	struct buf claims = { 0 };
	struct cb_row r;
	int rc;

	rc = cb_row_read(db, CB_ROW_SELECT " WHERE c.frontend_id = $1::uuid AND c.meeting_id = $2"
				       " AND c.recording_ready_url IS NOT NULL ORDER BY c.id DESC LIMIT 1",
			 2, vals, &r, err, errlen);
	if (rc == -ENOENT)
		return 1;
	if (rc < 0)
		return rc;
	/* the claims as BBB's post-publish script writes them, the IDs already the frontend's */
	buf_puts(&claims, "{\"meeting_id\":");
	buf_json_str(&claims, meeting_id);
	buf_puts(&claims, ",\"record_id\":");
	buf_json_str(&claims, record_id);
	buf_puts(&claims, "}");
	rc = claims.oom ? -ENOMEM
			: cb_endpoints_ready_send(db, &r, buf_str(&claims), record_id, err, errlen);
	buf_free(&claims);
	cb_row_clear(&r);
	return rc;
}

/* cb_create.c: see cb_create.h. The token in b3scaled's URLs names the meeting_callbacks row
 * and carries a MAC over it and the namespaced meeting ID (sign.h): unforgeable, bound to
 * the frontend and the meeting through the row, and it needs no expiry. */
#include "cb_create.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "sign.h"

#define CB_CREATE_KIND "callback"

/* BBB keeps meta keys in lower case, so a frontend may send any case */
static const char *const cb_create_ready_keys[] = { "meta_bbb-recording-ready-url",
						    "meta_bn-recording-ready-url",
						    "meta_canvas-recording-ready-url", NULL };

int cb_create_enabled(const struct lb_config *cfg)
{
	return cfg->api_url[0] && cfg->api_jwt_secret[0];
}

/* The first http(s) value of key (any case), all of its pairs removed; NULL when none.
 * Anything but an http(s) URL is dropped: b3scaled would not call it. */
static char *cb_create_take(struct query *q, const char *key)
{
	char *found = NULL;
	size_t i = 0;

	while (i < q->n) {
		if (strcasecmp(q->v[i].key, key) != 0) {
			i++;
			continue;
		}
		if (!found && (strncasecmp(q->v[i].value, "https://", 8) == 0 ||
			       strncasecmp(q->v[i].value, "http://", 7) == 0))
			found = strdup(q->v[i].value);
		free(q->v[i].key);
		free(q->v[i].value);
		memmove(&q->v[i], &q->v[i + 1], (q->n - i - 1) * sizeof(q->v[0]));
		q->n--;
	}
	return found;
}

/* b3scaled's URL for one kind of callback of row id into params as key. */
static int cb_create_put(struct query *params, const struct lb_config *cfg, const char *key,
			 const char *kind, const char *token)
{
	struct buf url = { 0 };
	int rc;

	buf_printf(&url, "%s%s%s/%s", cfg->api_url, CB_CREATE_PATH, kind, token);
	rc = url.oom ? -ENOMEM : query_set(params, key, buf_str(&url));
	buf_free(&url);
	return rc;
}

int cb_create_rewrite(struct db *db, const struct lb_config *cfg, const char *frontend_id,
		      const char *meeting_id, const char *backend_meeting_id, struct query *params,
		      char *err, size_t errlen)
{
	char *end = NULL, *ended = NULL, *ready = NULL, *analytics = NULL, *r;
	char mac[SIGN_MAC_HEX + 1], token[64];
	const char *vals[7];
	PGresult *res;
	size_t i;
	int rc = 0;

	if (!cb_create_enabled(cfg))
		return 0;
	end = cb_create_take(params, "meta_endCallbackUrl");
	ended = cb_create_take(params, "meetingEndedURL");
	analytics = cb_create_take(params, "meta_analytics-callback-url");
	for (i = 0; cb_create_ready_keys[i]; i++) {
		r = cb_create_take(params, cb_create_ready_keys[i]);
		if (r && !ready)
			ready = r;
		else
			free(r);
	}
	vals[0] = frontend_id;
	vals[1] = meeting_id;
	vals[2] = backend_meeting_id;
	vals[3] = end;
	vals[4] = ended;
	vals[5] = ready;
	vals[6] = analytics;
	/* each create also drops a few rows past their 30 days: no job needed to keep it small */
	res = db_query(db, "WITH old AS (DELETE FROM meeting_callbacks WHERE id IN (SELECT id"
			   "  FROM meeting_callbacks WHERE created_at < now() - interval '30 days'"
			   "  ORDER BY created_at LIMIT 8))"
			   " INSERT INTO meeting_callbacks (frontend_id, meeting_id,"
			   " backend_meeting_id, end_url, ended_url, recording_ready_url,"
			   " analytics_url) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7) RETURNING id",
		       7, vals, PGRES_TUPLES_OK, err, errlen);
	if (!res) {
		rc = -EIO;
		goto out;
	}
	rc = sign_mac(cfg, CB_CREATE_KIND, PQgetvalue(res, 0, 0), backend_meeting_id, 0, mac);
	if (rc == 0)
		snprintf(token, sizeof(token), "%s-%s", PQgetvalue(res, 0, 0), mac);
	PQclear(res);
	if (rc == 0)
		rc = cb_create_put(params, cfg, "meetingEndedURL", "ended", token);
	if (rc == 0 && end)
		rc = cb_create_put(params, cfg, "meta_endCallbackUrl", "end", token);
	if (rc == 0 && analytics)
		rc = cb_create_put(params, cfg, "meta_analytics-callback-url", "analytics", token);
	if (rc < 0 && rc != -EIO)
		snprintf(err, errlen, "cannot sign the callback URLs: %s", strerror(-rc));
out:
	free(end);
	free(ended);
	free(ready);
	free(analytics);
	return rc;
}

long long cb_create_token_id(const char *token)
{
	char *dash;
	long long id = strtoll(token, &dash, 10);

	return dash != token && *dash == '-' && id > 0 ? id : 0;
}

int cb_create_token_ok(const struct lb_config *cfg, const char *token,
		       const char *backend_meeting_id)
{
	const char *dash = strchr(token, '-');
	char id[24];

	if (!dash || (size_t)(dash - token) >= sizeof(id))
		return 0;
	memcpy(id, token, (size_t)(dash - token));
	id[dash - token] = '\0';
	return sign_ok(cfg, CB_CREATE_KIND, id, backend_meeting_id, 0, dash + 1,
		       strlen(dash + 1));
}

/* rec_access.c: see rec_access.h. Links and cookies are HMAC-SHA256 over what they grant
 * (a recording, its format for a link, an expiry), keyed with B3SCALE_API_JWT_SECRET and a
 * label per kind so one can never be replayed as the other. The cookie is per recording and
 * host-only on the playback host: no Domain guessing, no cookie that opens every recording. */
#include "rec_access.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "sign.h"

#define REC_ACCESS_PLAY "/api/v1/recordings/play/"
#define REC_ACCESS_AUTH "/api/v1/recordings/auth"
#define REC_ACCESS_COOKIE "b3s_rec_"

int rec_access_route(const char *path)
{
	return strncmp(path, REC_ACCESS_PLAY, strlen(REC_ACCESS_PLAY)) == 0 ||
	       strcmp(path, REC_ACCESS_AUTH) == 0;
}

int rec_access_protected(const char *visibility)
{
	return strcmp(visibility, "protected") == 0 || strcmp(visibility, "public_protected") == 0;
}

/* A link or cookie that has not expired and carries the MAC of what it grants. */
static int rec_access_mac_ok(const struct lb_config *cfg, const char *kind, const char *a,
			     const char *b, long long exp, const char *got, size_t gotlen)
{
	return exp >= (long long)time(NULL) && sign_ok(cfg, kind, a, b, exp, got, gotlen);
}

int rec_access_link(struct buf *out, const struct lb_config *cfg, const char *base,
		    const char *record_id, const char *format)
{
	long long exp = (long long)time(NULL) + REC_ACCESS_LINK_TTL_S;
	char mac[SIGN_MAC_HEX + 1];
	int rc = sign_mac(cfg, "link", record_id, format, exp, mac);

	if (rc < 0)
		return rc;
	/* '~' is in none of the parts: recordIDs and formats are [A-Za-z0-9._-] */
	buf_printf(out, "%s%s%s~%s~%lld~%s", base, REC_ACCESS_PLAY, record_id, format, exp, mac);
	return out->oom ? -ENOMEM : 0;
}

static void rec_access_deny(struct http_answer *a, int status, const char *why)
{
	a->status = status;
	a->content_type = "text/plain; charset=utf-8";
	buf_reset(&a->body);
	buf_printf(&a->body, "%s\n", why);
}

/* The recording's visibility and state, and with format its playback path: 0, -ENOENT. */
static int rec_access_lookup(struct worker *w, const char *record_id, const char *format,
			     char *visibility, char *state, struct buf *path)
{
	const char *vals[2] = { record_id, format ? format : "" };
	char err[512];
	PGresult *r;
	int rc = -ENOENT;

	r = db_query(&w->db, "SELECT r.visibility, r.state, f.url_path FROM recordings r"
			     " LEFT JOIN recording_formats f ON f.recording_id = r.id"
			     "  AND f.format = $2 AND f.staging IS NULL"
			     " WHERE r.record_id = $1 AND r.import_state = 'done'",
		     2, vals, PGRES_TUPLES_OK, err, sizeof(err));
	if (!r) {
		log_error("recordings", "event=db_error call=access error=\"%s\"", err);
		return -EIO;
	}
	if (PQntuples(r) == 1 && (!format || !PQgetisnull(r, 0, 2))) {
		snprintf(visibility, 24, "%s", PQgetvalue(r, 0, 0));
		snprintf(state, 16, "%s", PQgetvalue(r, 0, 1));
		if (path)
			buf_puts(path, PQgetvalue(r, 0, 2));
		rc = 0;
	}
	PQclear(r);
	return rc;
}

/* GET /api/v1/recordings/play/<recordID>~<format>~<exp>~<mac> */
static void rec_access_play(struct worker *w, const struct http_request *req,
			    struct http_answer *a)
{
	char tok[600], visibility[24], state[16], mac[SIGN_MAC_HEX + 1], *parts[4], *save;
	const char *base = w->cfg->recordings_playback_url;
	struct buf path = { 0 };
	long long exp, cexp;
	int i;

	snprintf(tok, sizeof(tok), "%s", req->path + strlen(REC_ACCESS_PLAY));
	parts[0] = strtok_r(tok, "~", &save);
	for (i = 1; i < 4; i++)
		parts[i] = parts[i - 1] ? strtok_r(NULL, "~", &save) : NULL;
	exp = parts[2] ? strtoll(parts[2], NULL, 10) : 0;
	if (!parts[3] || !rec_access_mac_ok(w->cfg, "link", parts[0], parts[1], exp, parts[3],
					    strlen(parts[3]))) {
		rec_access_deny(a, 403, "This recording link is invalid or has expired; open the "
					"recording again from its room.");
		return;
	}
	if (rec_access_lookup(w, parts[0], parts[1], visibility, state, &path) < 0 ||
	    strcmp(state, "published") != 0) {
		buf_free(&path);
		rec_access_deny(a, 404, "This recording is not available.");
		return;
	}
	cexp = (long long)time(NULL) + REC_ACCESS_COOKIE_TTL_S;
	if (sign_mac(w->cfg, "cookie", parts[0], "", cexp, mac) < 0) {
		buf_free(&path);
		rec_access_deny(a, 500, "Recording access is not configured.");
		return;
	}
	/* Set-Cookie rides in the answer's extra header; the redirect keeps BBB's path */
	a->status = 302;
	buf_reset(&a->body);
	if (asprintf(&a->location, "%s%s", base, buf_str(&path)) < 0)
		a->location = NULL;
	if (asprintf(&a->set_cookie, REC_ACCESS_COOKIE "%s=%lld~%s; Path=/; Max-Age=%d; HttpOnly;"
				     " SameSite=Lax%s", parts[0], cexp, mac,
		     REC_ACCESS_COOKIE_TTL_S,
		     strncmp(base, "https://", 8) == 0 ? "; Secure" : "") < 0)
		a->set_cookie = NULL;
	buf_free(&path);
	if (!a->location || !a->set_cookie)
		rec_access_deny(a, 500, "out of memory");
}

/* The first path segment shaped like a BBB recordID (<40 hex>-<13 digits>), or 0. */
static int rec_access_uri_id(const char *uri, char *out, size_t outlen)
{
	const char *p = uri, *q;
	size_t n;

	for (; (p = strchr(p, '/')); p++) {
		q = p + 1;
		n = strcspn(q, "/?#");
		if (n == 54 && strspn(q, "0123456789abcdef") == 40 && q[40] == '-' &&
		    strspn(q + 41, "0123456789") == 13 && n < outlen) {
			memcpy(out, q, n);
			out[n] = '\0';
			return 1;
		}
	}
	return 0;
}

/* The cookie for record_id in the Cookie header is present and valid. */
static int rec_access_cookie_ok(const struct lb_config *cfg, const char *cookies,
				const char *record_id)
{
	char name[300];
	const char *p, *v, *tilde;
	size_t nlen;

	nlen = (size_t)snprintf(name, sizeof(name), REC_ACCESS_COOKIE "%s=", record_id);
	for (p = cookies; p && (p = strstr(p, name)); p += nlen) {
		if (p != cookies && p[-1] != ' ' && p[-1] != ';')
			continue;
		v = p + nlen;
		tilde = strchr(v, '~');
		if (tilde && rec_access_mac_ok(cfg, "cookie", record_id, "", strtoll(v, NULL, 10),
					       tilde + 1, strcspn(tilde + 1, "; ")))
			return 1;
	}
	return 0;
}

/* GET /api/v1/recordings/auth for nginx auth_request: 200 serves, 403 refuses. */
static void rec_access_auth(struct worker *w, const struct http_request *req,
			    struct http_answer *a)
{
	char id[64], visibility[24], state[16];
	int rc;

	if (!req->original_uri) {
		rec_access_deny(a, 403, "X-Original-URI is missing");
		return;
	}
	/* the player's own scripts, styles and fonts belong to no recording */
	if (!rec_access_uri_id(req->original_uri, id, sizeof(id))) {
		a->status = 200;
		return;
	}
	rc = rec_access_lookup(w, id, NULL, visibility, state, NULL);
	if (rc < 0 || strcmp(state, "published") != 0) {
		rec_access_deny(a, 403, "not available");
		return;
	}
	if (rec_access_protected(visibility) && !rec_access_cookie_ok(w->cfg, req->cookie, id)) {
		rec_access_deny(a, 403, "protected");
		return;
	}
	a->status = 200;
}

void rec_access_handle(struct worker *w, const struct http_request *req, struct http_answer *a)
{
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		rec_access_deny(a, 405, "method not allowed");
		return;
	}
	if (strcmp(req->path, REC_ACCESS_AUTH) == 0)
		rec_access_auth(w, req, a);
	else
		rec_access_play(w, req, a);
	log_info("access", "api=recordings path=%.40s status=%d client=%s", req->path, a->status,
		 req->client);
}

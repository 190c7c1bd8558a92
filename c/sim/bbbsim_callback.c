/* bbbsim_callback.c: see bbbsim_callback.h. Sent from the request's thread after the end's
 * answer is built: a simulator may block on its own callbacks; a real BBB queues them. */
#include "bbbsim_callback.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "buf.h"
#include "cb_jwt.h"
#include "log.h"
#include "query.h"

struct bbbsim_callback {
	char *url, *body, *ctype, *auth;
	struct bbbsim_callback *next;
};

static const char *bbbsim_callback_meta(const struct bbbsim_meeting *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->meta.n; i++)
		if (strcmp(m->meta.v[i].key, key) == 0)
			return m->meta.v[i].value;
	return NULL;
}

static void bbbsim_callback_add(struct bbbsim_callback **list, struct buf *url, struct buf *body,
				const char *ctype, const char *auth)
{
	struct bbbsim_callback *cb = calloc(1, sizeof(*cb));

	if (!cb || url->oom || (body && body->oom)) {
		free(cb);
		return;
	}
	cb->url = buf_take(url, NULL);
	cb->body = body ? buf_take(body, NULL) : NULL;
	cb->ctype = ctype ? strdup(ctype) : NULL;
	cb->auth = auth ? strdup(auth) : NULL;
	cb->next = *list;
	*list = cb;
}

/* GET url with meetingID and recordingmarks appended, as BBB calls the end callbacks */
static void bbbsim_callback_get(struct bbbsim_callback **list, const char *base,
				const struct bbbsim_meeting *m)
{
	struct buf url = { 0 };

	buf_puts(&url, base);
	buf_puts(&url, strchr(base, '?') ? "&meetingID=" : "?meetingID=");
	query_escape(&url, m->meeting_id);
	buf_printf(&url, "&recordingmarks=%s", m->record ? "true" : "false");
	bbbsim_callback_add(list, &url, NULL, NULL, NULL);
}

struct bbbsim_callback *bbbsim_callback_collect(const struct bbbsim_state *st,
						const struct bbbsim_meeting *m)
{
	struct bbbsim_callback *list = NULL;
	struct buf url = { 0 }, body = { 0 }, claims = { 0 }, auth = { 0 };
	const char *v;
	char *tok;

	if (m->ended_url)
		bbbsim_callback_get(&list, m->ended_url, m);
	if ((v = bbbsim_callback_meta(m, "endcallbackurl")))
		bbbsim_callback_get(&list, v, m);
	if ((v = bbbsim_callback_meta(m, "analytics-callback-url"))) {
		buf_printf(&claims, "{\"exp\":%lld}", (long long)time(NULL) + 3600);
		tok = cb_jwt_sign("HS512", st->secret, buf_str(&claims));
		buf_printf(&auth, "Bearer %s", tok ? tok : "");
		free(tok);
		buf_puts(&url, v);
		buf_puts(&body, "{\"version\":\"1.0\",\"meeting_id\":");
		buf_json_str(&body, m->meeting_id);
		buf_puts(&body, ",\"internal_meeting_id\":");
		buf_json_str(&body, m->internal_id);
		buf_puts(&body, ",\"data\":{\"metadata\":{\"meeting_name\":");
		buf_json_str(&body, m->name);
		buf_puts(&body, ",\"meeting_id\":");
		buf_json_str(&body, m->meeting_id);
		buf_printf(&body, "},\"duration\":%lld,\"attendees\":[]}}",
			   (long long)(time(NULL) - m->create_time / 1000));
		bbbsim_callback_add(&list, &url, &body, "application/json", buf_str(&auth));
	}
	v = bbbsim_callback_meta(m, "bbb-recording-ready-url");
	if (m->record && st->recordings_dir && v) {
		buf_reset(&claims);
		buf_puts(&claims, "{\"meeting_id\":");
		buf_json_str(&claims, m->meeting_id);
		buf_puts(&claims, ",\"record_id\":");
		buf_json_str(&claims, m->internal_id);
		buf_puts(&claims, "}");
		tok = cb_jwt_sign("HS256", st->secret, buf_str(&claims));
		buf_reset(&url);
		buf_puts(&url, v);
		buf_reset(&body);
		buf_puts(&body, "signed_parameters=");
		query_escape(&body, tok ? tok : "");
		free(tok);
		bbbsim_callback_add(&list, &url, &body, "application/x-www-form-urlencoded", NULL);
	}
	buf_free(&url);
	buf_free(&body);
	buf_free(&claims);
	buf_free(&auth);
	return list;
}

void bbbsim_callback_send(struct bbbsim_callback *list)
{
	struct bbbsim_callback *cb;
	struct curl_slist *h;
	char line[600];
	long status;
	CURL *c;
	CURLcode rc;

	while ((cb = list)) {
		list = cb->next;
		h = NULL;
		status = 0;
		c = curl_easy_init();
		if (c) {
			curl_easy_setopt(c, CURLOPT_URL, cb->url);
			curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
			curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
			if (cb->body) {
				curl_easy_setopt(c, CURLOPT_POSTFIELDS, cb->body);
				snprintf(line, sizeof(line), "Content-Type: %s", cb->ctype);
				h = curl_slist_append(h, line);
			}
			if (cb->auth) {
				snprintf(line, sizeof(line), "Authorization: %s", cb->auth);
				h = curl_slist_append(h, line);
			}
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
			rc = curl_easy_perform(c);
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
			log_info("bbbsim", "event=callback url=\"%.200s\" status=%ld error=\"%s\"",
				 cb->url, status, rc == CURLE_OK ? "" : curl_easy_strerror(rc));
			curl_slist_free_all(h);
			curl_easy_cleanup(c);
		}
		free(cb->url);
		free(cb->body);
		free(cb->ctype);
		free(cb->auth);
		free(cb);
	}
}

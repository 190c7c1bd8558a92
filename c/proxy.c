/* proxy.c: one backend HTTP call; timeouts and status mapping live here. */
#include "proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PROXY_MAX_ANSWER (32u << 20) /* a getMeetings of a full node is a few MB at most */

void proxy_result_init(struct proxy_result *r)
{
	r->status = 0;
	buf_init(&r->body);
	r->content_type[0] = '\0';
}

void proxy_result_free(struct proxy_result *r)
{
	if (r)
		buf_free(&r->body);
}

static size_t proxy_write(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;

	if (b->len + size * n > PROXY_MAX_ANSWER || buf_append(b, p, size * n) < 0)
		return 0;
	return size * n;
}

/* The options every backend call shares: timeouts, no signals, HTTP(S) only, a write sink. */
static void proxy_setup(CURL *curl, const struct proxy_opts *o, const char *url,
			struct proxy_result *res)
{
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, proxy_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &res->body);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "b3scaled");
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
}

static int proxy_code(CURLcode cc)
{
	return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
	       : cc == CURLE_COULDNT_CONNECT  ? -ECONNREFUSED
	       : cc == CURLE_WRITE_ERROR      ? -EFBIG
					      : -EIO;
}

static void proxy_finish(CURL *curl, struct proxy_result *res)
{
	char *got_ct = NULL;

	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
	if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &got_ct) == CURLE_OK && got_ct)
		snprintf(res->content_type, sizeof(res->content_type), "%s", got_ct);
}

int proxy_request(CURL *curl, const struct proxy_opts *o, const char *method, const char *url,
		  const char *body, size_t body_len, const char *content_type,
		  struct proxy_result *res, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	char ct[160];
	CURLcode cc;
	int rc = 0;

	curl_easy_reset(curl);
	proxy_setup(curl, o, url, res);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		snprintf(ct, sizeof(ct), "Content-Type: %s",
			 content_type ? content_type : "application/xml");
		hdrs = curl_slist_append(hdrs, ct);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(curl);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		rc = proxy_code(cc);
		goto out;
	}
	proxy_finish(curl, res);
out:
	curl_slist_free_all(hdrs);
	return rc;
}

int proxy_get_many(const struct proxy_opts *o, const char *const *urls, size_t n,
		   struct proxy_result *res, int *rcs, char (*errs)[PROXY_ERRLEN])
{
	CURLM *multi = curl_multi_init();
	CURL **easy = calloc(n ? n : 1, sizeof(*easy));
	CURLMsg *msg;
	size_t i;
	int running = 0, left, rc = 0;

	if (!multi || !easy) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		rcs[i] = -EIO;
		snprintf(errs[i], PROXY_ERRLEN, "not attempted");
		easy[i] = curl_easy_init();
		if (!easy[i])
			continue;
		proxy_setup(easy[i], o, urls[i], &res[i]);
		curl_easy_setopt(easy[i], CURLOPT_PRIVATE, (void *)(uintptr_t)i);
		curl_multi_add_handle(multi, easy[i]);
	}
	do {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		if (running && curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK)
			break;
	} while (running);
	while ((msg = curl_multi_info_read(multi, &left))) {
		void *priv = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		i = (size_t)(uintptr_t)priv;
		if (msg->data.result == CURLE_OK) {
			proxy_finish(msg->easy_handle, &res[i]);
			rcs[i] = 0;
			errs[i][0] = '\0';
		} else {
			rcs[i] = proxy_code(msg->data.result);
			snprintf(errs[i], PROXY_ERRLEN, "%s", curl_easy_strerror(msg->data.result));
		}
	}
out:
	for (i = 0; easy && i < n; i++) {
		if (!easy[i])
			continue;
		curl_multi_remove_handle(multi, easy[i]);
		curl_easy_cleanup(easy[i]);
	}
	free(easy);
	if (multi)
		curl_multi_cleanup(multi);
	return rc;
}

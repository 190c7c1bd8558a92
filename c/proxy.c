/* proxy.c: one backend HTTP call; timeouts and status mapping live here. */
#include "proxy.h"

#include <errno.h>
#include <stdio.h>
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

int proxy_request(CURL *curl, const struct proxy_opts *o, const char *method, const char *url,
		  const char *body, size_t body_len, const char *content_type,
		  struct proxy_result *res, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	char ct[160];
	char *got_ct = NULL;
	CURLcode cc;
	int rc = 0;

	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, proxy_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &res->body);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "b3scaled");
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
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
		rc = cc == CURLE_OPERATION_TIMEDOUT		? -ETIMEDOUT
		     : cc == CURLE_COULDNT_CONNECT		? -ECONNREFUSED
		     : cc == CURLE_WRITE_ERROR			? -EFBIG
								: -EIO;
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
	if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &got_ct) == CURLE_OK && got_ct)
		snprintf(res->content_type, sizeof(res->content_type), "%s", got_ct);
out:
	curl_slist_free_all(hdrs);
	return rc;
}

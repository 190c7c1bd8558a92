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

int proxy_easy_setup(CURL *curl, const struct proxy_opts *o, const char *url,
		     struct proxy_result *res)
{
	/* a curl without CURLOPT_PROTOCOLS_STR would silently allow every protocol: refuse */
	if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, o->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, proxy_write) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &res->body) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_USERAGENT, "b3scaled") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
		return -EINVAL;
	return 0;
}

int proxy_errno(CURLcode cc)
{
	return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
	       : cc == CURLE_COULDNT_CONNECT  ? -ECONNREFUSED
	       : cc == CURLE_WRITE_ERROR      ? -EFBIG
					      : -EIO;
}

void proxy_easy_finish(CURL *curl, struct proxy_result *res)
{
	char *got_ct = NULL;

	if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status) != CURLE_OK)
		res->status = 0;
	if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &got_ct) == CURLE_OK && got_ct)
		snprintf(res->content_type, sizeof(res->content_type), "%s", got_ct);
}

int proxy_easy_body(CURL *curl, const char *method, const char *body, size_t body_len,
		    const char *content_type, struct curl_slist **hdrs)
{
	struct curl_slist *h;
	char ct[160];

	/* no "Expect: 100-continue" round trip before a slide upload */
	h = curl_slist_append(*hdrs, "Expect:");
	if (!h)
		return -ENOMEM;
	*hdrs = h;
	if (strcmp(method, "POST") == 0) {
		snprintf(ct, sizeof(ct), "Content-Type: %s",
			 content_type ? content_type : "application/xml");
		h = curl_slist_append(*hdrs, ct);
		if (!h)
			return -ENOMEM;
		*hdrs = h;
		if (curl_easy_setopt(curl, CURLOPT_POST, 1L) != CURLE_OK ||
		    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "") != CURLE_OK ||
		    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) !=
			    CURLE_OK)
			return -EINVAL;
	}
	return curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *hdrs) == CURLE_OK ? 0 : -EINVAL;
}

int proxy_request(CURL *curl, const struct proxy_opts *o, const char *method, const char *url,
		  const char *body, size_t body_len, const char *content_type,
		  struct proxy_result *res, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	CURLcode cc;
	int rc;

	curl_easy_reset(curl);
	rc = proxy_easy_setup(curl, o, url, res);
	if (rc == 0)
		rc = proxy_easy_body(curl, method, body, body_len, content_type, &hdrs);
	if (rc < 0) {
		snprintf(err, errlen, "cannot set up the HTTP call");
		goto out;
	}
	cc = curl_easy_perform(curl);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		rc = proxy_errno(cc);
		goto out;
	}
	proxy_easy_finish(curl, res);
out:
	curl_slist_free_all(hdrs);
	return rc;
}

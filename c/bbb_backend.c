/* bbb_backend.c: re-signing and calling a node; never logs the URL (it carries a checksum). */
#include "bbb_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbb_checksum.h"
#include "stats.h"

int bbb_backend_url(struct buf *url, const struct lb_backend *b, const char *call,
		    const char *encoded_query)
{
	struct buf q;
	int rc;

	buf_init(&q);
	buf_puts(&q, encoded_query);
	rc = bbb_checksum_sign(&q, call, b->secret, BBB_HASH_SHA256);
	if (rc == 0) {
		buf_reset(url);
		buf_printf(url, "%s%s?%s", b->host, call, buf_str(&q));
		rc = url->oom ? -ENOMEM : 0;
	}
	buf_free(&q);
	return rc;
}

/* An answer is usable when it is HTTP 200 with a BBB <response> document. */
static int bbb_backend_parse(const struct proxy_result *res, struct xml_node **doc, char *err,
			     size_t errlen)
{
	char xerr[256];
	int rc;

	*doc = NULL;
	if (res->status != 200) {
		snprintf(err, errlen, "HTTP status %ld", res->status);
		return -EPROTO;
	}
	rc = xml_dom_parse(buf_str(&res->body), res->body.len, doc, xerr, sizeof(xerr));
	if (rc < 0) {
		snprintf(err, errlen, "unreadable answer: %s", xerr);
		return rc;
	}
	if (strcmp((*doc)->name, "response") != 0 || !bbb_backend_returncode(*doc)) {
		snprintf(err, errlen, "answer is not a BBB <response>");
		xml_dom_free(*doc);
		*doc = NULL;
		return -EPROTO;
	}
	return 0;
}

int bbb_backend_call(struct worker *w, const struct lb_backend *b, const char *call,
		     const char *method, const char *encoded_query, const char *body,
		     size_t body_len, const char *content_type, struct xml_node **doc, char *err,
		     size_t errlen)
{
	struct proxy_result res;
	struct buf url;
	int rc;

	*doc = NULL;
	buf_init(&url);
	proxy_result_init(&res);
	rc = bbb_backend_url(&url, b, call, encoded_query);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = proxy_request(w->curl, &w->popts, method, buf_str(&url), body, body_len, content_type,
			   &res, err, errlen);
	if (rc == 0)
		rc = bbb_backend_parse(&res, doc, err, errlen);
out:
	stats_backend_call(b->host, rc == 0);
	buf_free(&url);
	proxy_result_free(&res);
	return rc;
}

int bbb_backend_get_many(struct worker *w, const struct lb_backend *bs, size_t n,
			 const char *call, struct xml_node **docs, int *rcs,
			 char (*errs)[PROXY_ERRLEN])
{
	struct proxy_result *res = calloc(n ? n : 1, sizeof(*res));
	struct buf *urls = calloc(n ? n : 1, sizeof(*urls));
	const char **u = calloc(n ? n : 1, sizeof(*u));
	size_t i;
	int rc = -ENOMEM;

	if (!res || !urls || !u)
		goto out;
	for (i = 0; i < n; i++) {
		proxy_result_init(&res[i]);
		buf_init(&urls[i]);
		bbb_backend_url(&urls[i], &bs[i], call, "");
		u[i] = buf_str(&urls[i]);
		docs[i] = NULL;
	}
	rc = proxy_get_many(&w->popts, u, n, res, rcs, errs);
	for (i = 0; rc == 0 && i < n; i++) {
		if (rcs[i] == 0)
			rcs[i] = bbb_backend_parse(&res[i], &docs[i], errs[i], PROXY_ERRLEN);
		stats_backend_call(bs[i].host, rcs[i] == 0);
	}
out:
	for (i = 0; res && urls && i < n; i++) {
		proxy_result_free(&res[i]);
		buf_free(&urls[i]);
	}
	free(res);
	free(urls);
	free(u);
	return rc;
}

const char *bbb_backend_returncode(struct xml_node *doc)
{
	return doc ? xml_dom_child_text(doc, "returncode") : NULL;
}

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

int bbb_backend_spec(struct node_call_spec *spec, struct buf *url, const struct lb_backend *b,
		     const char *call, const char *method, const char *encoded_query,
		     const char *body, size_t body_len, const char *content_type)
{
	int rc = bbb_backend_url(url, b, call, encoded_query);

	memset(spec, 0, sizeof(*spec));
	if (rc < 0)
		return rc;
	spec->backend_id = b->id;
	spec->host = b->host;
	spec->url = buf_str(url);
	spec->method = method;
	spec->body = body;
	spec->body_len = body_len;
	spec->content_type = content_type;
	return 0;
}

int bbb_backend_answer(const struct node_call *nc, const char *host, struct xml_node **doc,
		       char *err, size_t errlen)
{
	const struct proxy_result *res;
	const char *why;
	int rc;

	*doc = NULL;
	if (!nc) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = node_call_result(nc, &res, &why);
	if (rc < 0)
		snprintf(err, errlen, "%s", why);
	else
		rc = bbb_backend_parse(res, doc, err, errlen);
	/* a call refused before it left (open circuit, full bulkhead), or answered with another
	 * call's answer, is not a node's answer */
	if (rc != -EHOSTDOWN && rc != -EBUSY && rc != -ENOBUFS && !node_call_shared(nc))
		stats_backend_call(host, rc == 0);
	return rc;
}

const char *bbb_backend_returncode(struct xml_node *doc)
{
	return doc ? xml_dom_child_text(doc, "returncode") : NULL;
}

/* agent_report.c: libcurl calls to b3scaled (bearer token, status classes) and to the node. */
#include "agent_report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bbb_checksum.h"
#include "clock.h"
#include "proxy.h"

#define AGENT_REPORT_MAX_ANSWER (1u << 20)  /* b3scaled answers small JSON documents */
#define AGENT_REPORT_CONNECT_MS 2000L       /* short: a blocked call delays Redis reading */
#define AGENT_REPORT_SHORT_MS 5000L         /* heartbeat, events, backend lookups */
#define AGENT_REPORT_STATE_MS 20000L        /* a full node's getMeetings is a few MB */

int agent_report_init(struct agent_report *r, const struct agent_config *cfg, char *err,
		      size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	if ((size_t)snprintf(r->auth, sizeof(r->auth), "Authorization: Bearer %s", cfg->token) >=
	    sizeof(r->auth)) {
		snprintf(err, errlen, "B3SCALE_API_ACCESS_TOKEN is too long");
		return -EINVAL;
	}
	r->api = curl_easy_init();
	r->node = curl_easy_init();
	if (!r->api || !r->node) {
		snprintf(err, errlen, "curl_easy_init failed");
		agent_report_free(r);
		return -ENOMEM;
	}
	return 0;
}

void agent_report_free(struct agent_report *r)
{
	if (r->api)
		curl_easy_cleanup(r->api);
	if (r->node)
		curl_easy_cleanup(r->node);
	r->api = r->node = NULL;
	memset(r->auth, 0, sizeof(r->auth));
}

size_t agent_report_write(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t len = size * n;
	size_t room = b->len < AGENT_REPORT_MAX_ANSWER ? AGENT_REPORT_MAX_ANSWER - b->len : 0;

	/* keep the head of an oversized answer (it is only logged); never abort the transfer */
	buf_append(b, p, len < room ? len : room);
	return len;
}

static int agent_report_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *t = curl_slist_append(*h, line);

	if (!t)
		return -ENOMEM;
	*h = t;
	return 0;
}

/* The first line of an error answer, printable, for the logs ("{"error":"..."}"). */
static void agent_report_snippet(const struct buf *b, char *out, size_t cap)
{
	size_t i, n = 0;
	const char *s = buf_str(b);

	for (i = 0; s[i] && n + 1 < cap && n < 160; i++)
		out[n++] = (s[i] == '"' || (unsigned char)s[i] < 0x20) ? '\'' : s[i];
	out[n] = '\0';
}

int agent_report_classify(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	if (status >= 500 || status == 408 || status == 429 || status < 100)
		return -EAGAIN;
	if (status == 401 || status == 403)
		return -EACCES;
	if (status == 404)
		return -ENOENT;
	return -EINVAL;
}

int agent_report_call(struct agent_report *r, const char *method, const char *path,
		      const char *content_type, const char *body, size_t len, long timeout_ms,
		      long *status, struct buf *answer, char *err, size_t errlen)
{
	struct curl_slist *h = NULL;
	struct buf local;
	char url[2300], ct[160], snip[200];
	CURL *c = r->api;
	CURLcode cc;
	int rc;

	*status = 0;
	err[0] = '\0';
	buf_init(&local);
	if (!answer)
		answer = &local;
	buf_reset(answer);
	if ((size_t)snprintf(url, sizeof(url), "%s%s", r->cfg->api_url, path) >= sizeof(url)) {
		snprintf(err, errlen, "URL too long");
		rc = -EINVAL;
		goto out;
	}
	snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "application/json");
	if (agent_report_header(&h, r->auth) < 0 ||
	    agent_report_header(&h, "Accept: application/json") < 0 ||
	    agent_report_header(&h, "Expect:") < 0 || (body && agent_report_header(&h, ct) < 0)) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	curl_easy_reset(c); /* keeps the connection cache: one TCP/TLS session for all calls */
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, AGENT_REPORT_CONNECT_MS) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "b3scaleagent/" AGENT_VERSION) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, agent_report_write) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, answer) != CURLE_OK ||
	    (strcmp(method, "POST") == 0 &&
	     (curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
	      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "") != CURLE_OK ||
	      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0)) !=
		      CURLE_OK)) ||
	    (strcmp(method, "GET") == 0 && curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK)) {
		snprintf(err, errlen, "curl option refused");
		rc = -EINVAL;
		goto out;
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		rc = -EAGAIN;
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status) != CURLE_OK) {
		snprintf(err, errlen, "no HTTP status");
		rc = -EAGAIN;
		goto out;
	}
	rc = agent_report_classify(*status);
	if (rc < 0) {
		agent_report_snippet(answer, snip, sizeof(snip));
		snprintf(err, errlen, "HTTP %ld %s", *status, snip);
	}
out:
	curl_slist_free_all(h);
	buf_free(&local);
	return rc;
}

int agent_report_backend(struct agent_report *r, long *status, char *err, size_t errlen)
{
	return agent_report_call(r, "GET", "/api/v1/agent/backend", NULL, NULL, 0,
				 AGENT_REPORT_SHORT_MS, status, NULL, err, errlen);
}

int agent_report_register(struct agent_report *r, int ready, long *status, char *err,
			  size_t errlen)
{
	struct buf body;
	int rc;

	buf_init(&body);
	buf_puts(&body, "{\"bbb\":{\"host\":");
	buf_json_str(&body, r->cfg->bbb_api);
	buf_puts(&body, ",\"secret\":");
	buf_json_str(&body, r->cfg->bbb_secret);
	buf_printf(&body, "},\"admin_state\":\"%s\",\"load_factor\":%g}", ready ? "ready" : "init",
		   r->cfg->load_factor);
	if (body.oom) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	} else {
		rc = agent_report_call(r, "POST", "/api/v1/backends", "application/json",
				       buf_str(&body), body.len, AGENT_REPORT_SHORT_MS, status, NULL,
				       err, errlen);
	}
	/* the body holds the node secret: do not leave it in freed memory */
	if (body.data)
		memset(body.data, 0, body.cap);
	buf_free(&body);
	return rc;
}

int agent_report_heartbeat(struct agent_report *r, const char *json, long *status, char *err,
			   size_t errlen)
{
	return agent_report_call(r, "POST", "/api/v1/agent/heartbeat", "application/json", json,
				 strlen(json), AGENT_REPORT_SHORT_MS, status, NULL, err, errlen);
}

int agent_report_events(struct agent_report *r, const char *ndjson, size_t len, long *status,
			char *err, size_t errlen)
{
	return agent_report_call(r, "POST", "/api/v1/agent/events", "application/x-ndjson", ndjson,
				 len, AGENT_REPORT_SHORT_MS, status, NULL, err, errlen);
}

int agent_report_state(struct agent_report *r, const char *xml, size_t len, long *status,
		       char *err, size_t errlen)
{
	char path[64];

	snprintf(path, sizeof(path), "/api/v1/agent/state?fetched_at=%lld", r->fetched_at_ms);
	return agent_report_call(r, "POST", path, "application/xml", xml, len,
				 AGENT_REPORT_STATE_MS, status, NULL, err, errlen);
}

/* The text of <tag>...</tag> in a BBB answer, for error messages; "" when absent. */
static void agent_report_xml_text(const char *xml, const char *tag, char *out, size_t cap)
{
	char open[64];
	const char *s, *e;
	size_t n;

	out[0] = '\0';
	snprintf(open, sizeof(open), "<%s>", tag);
	s = strstr(xml, open);
	if (!s)
		return;
	s += strlen(open);
	e = strchr(s, '<');
	n = e ? (size_t)(e - s) : strlen(s);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

int agent_report_fetch_state(struct agent_report *r, struct buf *xml, char *err, size_t errlen)
{
	struct proxy_opts o = { AGENT_REPORT_STATE_MS, AGENT_REPORT_CONNECT_MS };
	struct proxy_result res;
	struct buf url;
	char hex[BBB_CHECKSUM_HEX_MAX], key[128];
	int rc;

	proxy_result_init(&res);
	buf_init(&url);
	buf_reset(xml);
	r->fetched_at_ms = clock_wall_ms();
	rc = bbb_checksum_compute(BBB_HASH_SHA256, "getMeetings", "", 0, r->cfg->bbb_secret, hex);
	if (rc < 0) {
		snprintf(err, errlen, "checksum: %s", strerror(-rc));
		goto out;
	}
	if (buf_printf(&url, "%sgetMeetings?checksum=%s", r->cfg->bbb_api, hex) < 0) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	/* proxy_request never puts the URL (it carries the checksum) into err */
	rc = proxy_request(r->node, &o, "GET", buf_str(&url), NULL, 0, NULL, &res, err, errlen);
	if (rc < 0) {
		rc = -EIO;
		goto out;
	}
	if (res.status != 200) {
		snprintf(err, errlen, "getMeetings: HTTP %ld", res.status);
		rc = -EPROTO;
		goto out;
	}
	agent_report_xml_text(buf_str(&res.body), "returncode", key, sizeof(key));
	if (strcmp(key, "SUCCESS") != 0) {
		agent_report_xml_text(buf_str(&res.body), "messageKey", key, sizeof(key));
		snprintf(err, errlen, "getMeetings answered %s (a wrong secret gives checksumError)",
			 key[0] ? key : "no returncode");
		rc = -EPROTO;
		goto out;
	}
	/* sent verbatim: the answer moves into xml without a copy */
	buf_free(xml);
	*xml = res.body;
	buf_init(&res.body);
	rc = 0;
out:
	buf_free(&url);
	proxy_result_free(&res);
	return rc;
}

/* bbb_recordings.c: see bbb_recordings.h. The shape follows bbb-web's getRecordings
 * (../shared/reference/bbb-api.md §4.8, §5.2): one <recording> per recordID with its formats
 * merged, elements in BBB's order. */
#include "bbb_recordings.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbb_reply.h"
#include "bbb_xml.h"
#include "config.h"
#include "db_recfiles.h"
#include "db_recordings.h"
#include "log.h"
#include "query.h"
#include "rec_access.h"
#include "rec_cache.h"
#include "rec_import.h"
#include "worker.h"
#include "xml_dom.h"

#define BBB_RECORDINGS_STATES "processing,processed,published,unpublished,deleted"
#define BBB_RECORDINGS_MAX_LIMIT 100

struct bbb_recordings_walk {
	struct bbb_ctx *c;
	struct buf *out;
};

/* Metadata keys become element names: only what XML allows, as BBB's are. */
static int bbb_recordings_name_ok(const char *k)
{
	if (!*k || !(isalpha((unsigned char)*k) || *k == '_'))
		return 0;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && !strchr("._-", *k))
			return 0;
	return 1;
}

static void bbb_recordings_format(struct bbb_recordings_walk *wk, const struct db_recording *r,
				  const struct db_recording_part *p)
{
	const char *base = wk->c->w->cfg->recordings_playback_url;
	struct buf *x = wk->out, link = { 0 };
	char num[32];

	buf_puts(x, "<format>");
	bbb_xml_elem(x, "type", p->format);
	buf_puts(x, "<url>");
	if (rec_access_protected(r->visibility)) { /* a signed link, minted for this answer */
		if (rec_access_link(&link, wk->c->w->cfg, base, r->record_id, p->format) == 0)
			xml_dom_escape(x, buf_str(&link));
		buf_free(&link);
	} else if (*base) { /* the balancer's playback host, BBB's path */
		xml_dom_escape(x, base);
		xml_dom_escape(x, p->url_path);
	} else {
		xml_dom_escape(x, p->url);
	}
	buf_puts(x, "</url>");
	bbb_xml_elem(x, "processingTime", p->processing_time);
	/* BBB gives the length in minutes */
	snprintf(num, sizeof(num), "%lld", (strtoll(p->length_ms, NULL, 10) + 30000) / 60000);
	bbb_xml_elem(x, "length", num);
	bbb_xml_elem(x, "size", p->size);
	buf_puts(x, "</format>");
}

static int bbb_recordings_one(const struct db_recording *r, void *ud)
{
	struct bbb_recordings_walk *wk = ud;
	struct buf *x = wk->out;
	long long size = 0;
	char num[32];
	size_t i;

	buf_puts(x, "<recording>");
	bbb_xml_elem(x, "recordID", r->record_id);
	bbb_xml_elem(x, "meetingID", r->meeting_id);
	bbb_xml_elem(x, "internalMeetingID", r->internal_id);
	bbb_xml_elem(x, "name", r->name);
	bbb_xml_elem(x, "isBreakout", r->is_breakout ? "true" : "false");
	bbb_xml_elem(x, "published", strcmp(r->state, "published") == 0 ? "true" : "false");
	bbb_xml_elem(x, "state", r->state);
	bbb_xml_elem(x, "startTime", r->start_time);
	bbb_xml_elem(x, "endTime", r->end_time);
	bbb_xml_elem(x, "participants", r->participants);
	bbb_xml_elem(x, "rawSize", r->raw_size);
	buf_puts(x, "<metadata>");
	for (i = 0; i < r->nparts; i++)
		if (!r->parts[i].is_format && bbb_recordings_name_ok(r->parts[i].key))
			bbb_xml_elem(x, r->parts[i].key, r->parts[i].value);
	buf_puts(x, "</metadata>");
	for (i = 0; i < r->nparts; i++)
		if (r->parts[i].is_format)
			size += strtoll(r->parts[i].size, NULL, 10);
	snprintf(num, sizeof(num), "%lld", size);
	bbb_xml_elem(x, "size", num);
	buf_puts(x, "<playback>");
	for (i = 0; i < r->nparts; i++)
		if (r->parts[i].is_format)
			bbb_recordings_format(wk, r, &r->parts[i]);
	buf_puts(x, "</playback></recording>");
	return x->oom ? -ENOMEM : 0;
}

/* The meta_* parameters (keys lowercased, as BBB stores them) whose value is empty or not
 * (empty: 1) as JSON: an object of pairs ({"key":"value"}), or with keys_only an array of
 * their keys (["key"]). */
static int bbb_recordings_meta(const struct query *q, int empty, int keys_only, struct buf *json)
{
	char key[128];
	size_t i, j, n = 0;

	buf_puts(json, keys_only ? "[" : "{");
	for (i = 0; i < q->n; i++) {
		const char *k = q->v[i].key;

		if (strncmp(k, "meta_", 5) != 0 || !k[5] || strlen(k + 5) >= sizeof(key) ||
		    (*q->v[i].value == '\0') != empty)
			continue;
		for (j = 0; k[5 + j]; j++)
			key[j] = (char)tolower((unsigned char)k[5 + j]);
		key[j] = '\0';
		buf_puts(json, n++ ? "," : "");
		buf_json_str(json, key);
		if (keys_only)
			continue;
		buf_puts(json, ":");
		buf_json_str(json, q->v[i].value);
	}
	buf_puts(json, keys_only ? "]" : "}");
	return json->oom ? -ENOMEM : 0;
}

/* "any" among the comma-separated states: all of them. */
static int bbb_recordings_has_any(const char *states)
{
	size_t n;

	for (; *states; states += n + (states[n] == ',')) {
		n = strcspn(states, ",");
		if (n == 3 && strncmp(states, "any", 3) == 0)
			return 1;
	}
	return 0;
}

/* A non-negative whole number, or def when absent or not one. */
static long bbb_recordings_num(const struct query *q, const char *name, long def)
{
	const char *v = query_get(q, name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 10);
	return *end || n < 0 ? def : n;
}

void bbb_recordings_get(struct bbb_ctx *c)
{
	struct db_recordings_query q;
	struct bbb_recordings_walk wk = { .c = c };
	const char *state = query_get(&c->params, "state");
	const char *rid = query_get(&c->params, "recordID");
	const char *mid = query_get(&c->params, "meetingID");
	int paged = query_get(&c->params, "offset") || query_get(&c->params, "limit");
	struct buf meta, list, key = { 0 };
	unsigned long gen = rec_cache_gen();
	char err[512];
	long total;
	int rc;

	/* the parameters as sent, without the checksum: one frontend's same request */
	if (query_encode(&c->params, &key) == 0 &&
	    rec_cache_get(c->w->cfg, c->fe->id, buf_str(&key), &c->a->body)) {
		buf_free(&key);
		bbb_reply_ok(c, NULL);
		return;
	}
	memset(&q, 0, sizeof(q));
	q.frontend_id = c->fe->id;
	q.record_ids = rid ? rid : "";
	q.meeting_ids = rid && *rid ? "" : mid ? mid : ""; /* BBB ignores meetingID then */
	q.states = !state || !*state ? "published,unpublished"
		   : bbb_recordings_has_any(state) ? BBB_RECORDINGS_STATES : state;
	q.count = paged;
	q.offset = bbb_recordings_num(&c->params, "offset", 0);
	q.limit = bbb_recordings_num(&c->params, "limit", 0);
	if (paged && (q.limit < 1 || q.limit > BBB_RECORDINGS_MAX_LIMIT))
		q.limit = BBB_RECORDINGS_MAX_LIMIT;
	buf_init(&meta);
	buf_init(&list);
	if (bbb_recordings_meta(&c->params, 0, 0, &meta) < 0) {
		buf_free(&meta);
		bbb_reply_fail(c, "internalError", "Out of memory.");
		return;
	}
	q.meta_json = meta.data;
	wk.out = &list;
	rc = db_recordings_page(&c->w->db, &q, &total, bbb_recordings_one, &wk, err, sizeof(err));
	buf_free(&meta);
	if (rc < 0 || list.oom) {
		if (rc == -EIO)
			log_error("bbb", "event=db_error call=getRecordings error=\"%s\"", err);
		buf_free(&list);
		buf_free(&key);
		bbb_reply_fail(c, "internalError", "The service is temporarily unavailable.");
		return;
	}
	buf_reset(&c->a->body);
	buf_puts(&c->a->body, "<response><returncode>SUCCESS</returncode><recordings>");
	buf_append(&c->a->body, list.data ? list.data : "", list.len);
	buf_puts(&c->a->body, "</recordings>");
	if (paged)
		buf_printf(&c->a->body, "<totalElements>%ld</totalElements>", total);
	if (!list.len) {
		bbb_xml_elem(&c->a->body, "messageKey", "noRecordings");
		bbb_xml_elem(&c->a->body, "message", "There are no recordings for the meeting(s).");
	}
	buf_puts(&c->a->body, "</response>");
	buf_free(&list);
	if (!key.oom && !c->a->body.oom)
		rec_cache_put(c->w->cfg, gen, c->fe->id, buf_str(&key), buf_str(&c->a->body),
			      c->a->body.len);
	buf_free(&key);
	bbb_reply_ok(c, NULL);
}

/* The answer of a call that changed n of the frontend's recordings (or failed, n < 0). */
static int bbb_recordings_changed(struct bbb_ctx *c, int n, const char *err, const char *reply)
{
	if (n < 0) {
		if (n == -EIO)
			log_error("bbb", "event=db_error call=%s error=\"%s\"", c->call, err);
		bbb_reply_fail(c, "internalError", "The service is temporarily unavailable.");
	} else if (n == 0) { /* none of them, or only another frontend's: the same answer */
		bbb_reply_fail(c, "notFound", "We could not find recordings");
	} else {
		rec_cache_invalidate();
		bbb_reply_ok(c, reply);
	}
	return n;
}

void bbb_recordings_update(struct bbb_ctx *c)
{
	const char *rid = query_get(&c->params, "recordID");
	struct buf set, drop;
	char err[512];
	int n = -ENOMEM;

	if (!rid || !*rid) {
		bbb_reply_fail(c, "missingParamRecordID", "You must specify a recordID.");
		return;
	}
	buf_init(&set);
	buf_init(&drop);
	if (bbb_recordings_meta(&c->params, 0, 0, &set) == 0 &&
	    bbb_recordings_meta(&c->params, 1, 1, &drop) == 0)
		n = db_recordings_update_meta(&c->w->db, c->fe->id, rid, set.data, drop.data, err,
					      sizeof(err));
	buf_free(&set);
	buf_free(&drop);
	bbb_recordings_changed(c, n, err, "<response><returncode>SUCCESS</returncode>"
					  "<updated>true</updated></response>");
}

/* publishRecordings and deleteRecordings: the rows change now (the next getRecordings shows
 * it), the trees follow on the recordings thread (rec_settle.h). */
static void bbb_recordings_state(struct bbb_ctx *c, const char *state, const char *reply)
{
	const char *rid = query_get(&c->params, "recordID");
	char err[512];
	int n;

	if (!rid || !*rid) {
		bbb_reply_fail(c, "missingParamRecordID", "You must specify a recordID.");
		return;
	}
	n = db_recfiles_set_state(&c->w->db, c->fe->id, rid, state, err, sizeof(err));
	if (bbb_recordings_changed(c, n, err, reply) > 0)
		rec_import_kick();
}

void bbb_recordings_publish(struct bbb_ctx *c)
{
	const char *publish = query_get(&c->params, "publish");

	if (query_get(&c->params, "recordID") && *query_get(&c->params, "recordID") &&
	    (!publish || (strcmp(publish, "true") != 0 && strcmp(publish, "false") != 0))) {
		bbb_reply_fail(c, "missingParamPublish",
			       "You must specify a publish value true or false.");
		return;
	}
	if (publish && strcmp(publish, "true") == 0)
		bbb_recordings_state(c, "published", "<response><returncode>SUCCESS</returncode>"
						     "<published>true</published></response>");
	else
		bbb_recordings_state(c, "unpublished", "<response><returncode>SUCCESS</returncode>"
						       "<published>false</published></response>");
}

void bbb_recordings_delete(struct bbb_ctx *c)
{
	bbb_recordings_state(c, "deleted", "<response><returncode>SUCCESS</returncode>"
					   "<deleted>true</deleted></response>");
}

/* rec_meta.c: see rec_meta.h. */
#include "rec_meta.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bbb_ids.h"
#include "xml_dom.h"

static const char *rec_meta_attr(const struct xml_node *n, const char *name)
{
	char **a;

	for (a = n ? n->attrs : NULL; a && a[0]; a += 2)
		if (strcmp(a[0], name) == 0)
			return a[1];
	return NULL;
}

/* The element's text when it is digits only ("0" when absent or empty); NULL when not. */
static const char *rec_meta_number(struct xml_node *doc, const char *name)
{
	const char *v = xml_dom_child_text(doc, name);

	if (!v || !*v)
		return "0";
	if (strspn(v, "0123456789") != strlen(v) || strlen(v) > 18)
		return NULL;
	return v;
}

int rec_meta_parse(const struct rec_tree *t, struct rec_meta *m, char *err, size_t errlen)
{
	static const char *const nums[] = { "start_time", "end_time", "participants",
					    "raw_size" };
	static const char *const pnums[] = { "processing_time", "duration", "size" };
	const char **out[] = { &m->start_time, &m->end_time, &m->participants, &m->raw_size };
	const char **pout[] = { &m->processing_time, &m->duration, &m->size };
	struct xml_node *meeting, *meta, *playback;
	const char *v, *breakout;
	char perr[256];
	size_t i;

	memset(m, 0, sizeof(*m));
	if (xml_dom_parse(buf_str(&t->metadata), t->metadata.len, &m->doc, perr,
			  sizeof(perr)) < 0 || strcmp(m->doc->name, "recording") != 0) {
		snprintf(err, errlen, "%s/%s/metadata.xml: %s", t->format, t->record_id,
			 m->doc ? "the root element is not <recording>" : perr);
		goto fail;
	}
	m->record_id = xml_dom_child_text(m->doc, "id");
	if (!m->record_id || strcmp(m->record_id, t->record_id) != 0) {
		snprintf(err, errlen, "%s/%s/metadata.xml: <id> is not the directory's recordID",
			 t->format, t->record_id);
		goto fail;
	}
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (!(*out[i] = rec_meta_number(m->doc, nums[i]))) {
			snprintf(err, errlen, "%s/%s/metadata.xml: <%s> is not a number", t->format,
				 t->record_id, nums[i]);
			goto fail;
		}
	}
	playback = xml_dom_child(m->doc, "playback");
	for (i = 0; i < sizeof(pnums) / sizeof(pnums[0]); i++) {
		*pout[i] = playback ? rec_meta_number(playback, pnums[i]) : "0";
		if (!*pout[i]) {
			snprintf(err, errlen, "%s/%s/metadata.xml: <playback><%s> is not a number",
				 t->format, t->record_id, pnums[i]);
			goto fail;
		}
	}
	v = playback ? xml_dom_child_text(playback, "format") : NULL;
	if (v && *v && strcmp(v, t->format) != 0) {
		snprintf(err, errlen, "%s/%s/metadata.xml: <playback><format> is '%.64s', not the "
				      "directory's format", t->format, t->record_id, v);
		goto fail;
	}
	m->link = playback ? xml_dom_child_text(playback, "link") : NULL;
	if (!m->link)
		m->link = "";
	meeting = xml_dom_child(m->doc, "meeting");
	meta = xml_dom_child(m->doc, "meta");
	m->internal_id = rec_meta_attr(meeting, "id");
	if (!m->internal_id)
		m->internal_id = m->record_id;
	m->name = rec_meta_attr(meeting, "name");
	if (!m->name && meta)
		m->name = xml_dom_child_text(meta, "meetingName");
	if (!m->name)
		m->name = "";
	breakout = rec_meta_attr(meeting, "breakout");
	if (!breakout && meta)
		breakout = xml_dom_child_text(meta, "isBreakout");
	m->is_breakout = breakout && strcmp(breakout, "true") == 0;
	v = xml_dom_child_text(m->doc, "published");
	m->published = !v || strcmp(v, "false") != 0;
	m->meeting_ns = meta ? xml_dom_child_text(meta, "meetingId") : NULL;
	if (!m->meeting_ns || !*m->meeting_ns)
		m->meeting_ns = rec_meta_attr(meeting, "externalId");
	if (!m->meeting_ns || !*m->meeting_ns) {
		snprintf(err, errlen, "%s/%s/metadata.xml: no meeting ID (<meta><meetingId> or "
				      "<meeting externalId>)", t->format, t->record_id);
		goto fail;
	}
	return 0;
fail:
	rec_meta_clear(m);
	return -EINVAL;
}

int rec_meta_key(const struct rec_meta *m, char *key, size_t keylen)
{
	const char *tilde = strchr(m->meeting_ns, '~');
	size_t n = tilde ? (size_t)(tilde - m->meeting_ns) : 0;

	if (!tilde || n == 0 || n >= keylen)
		return -ENOENT;
	memcpy(key, m->meeting_ns, n);
	key[n] = '\0';
	return 0;
}

int rec_meta_frontend(struct rec_meta *m, const struct rec_tree *t, const char *key)
{
	struct xml_node *meta = xml_dom_child(m->doc, "meta"), *c;
	const char *own = bbb_ids_decode(m->meeting_ns, key), *p, *v;
	int first = 1;

	/* a legacy recording an admin imports for a frontend keeps its ID as it is */
	m->meeting_id = own ? own : m->meeting_ns;
	buf_reset(&m->url_path);
	p = strstr(m->link, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	if (p)
		buf_puts(&m->url_path, p);
	else /* BBB's own path for the format when the node gave no link */
		buf_printf(&m->url_path, "/playback/%s/%s/", t->format, t->record_id);
	buf_reset(&m->meta_json);
	buf_puts(&m->meta_json, "{");
	for (c = meta ? meta->first : NULL; c; c = c->next) {
		v = strcmp(c->name, "meetingId") == 0 ? m->meeting_id : xml_dom_text(c);
		if (!first)
			buf_puts(&m->meta_json, ",");
		first = 0;
		buf_json_str(&m->meta_json, c->name);
		buf_puts(&m->meta_json, ":");
		buf_json_str(&m->meta_json, v ? v : "");
	}
	buf_puts(&m->meta_json, "}");
	return m->url_path.oom || m->meta_json.oom ? -ENOMEM : 0;
}

void rec_meta_clear(struct rec_meta *m)
{
	xml_dom_free(m->doc);
	buf_free(&m->url_path);
	buf_free(&m->meta_json);
	memset(m, 0, sizeof(*m));
}

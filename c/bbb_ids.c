/* bbb_ids.c: two frontends may both use "room-1"; on a backend they are "a~room-1" and
 * "b~room-1". Keys are [A-Za-z0-9_-], so the first '~' always ends the key. A meeting adopted
 * under an ID of its own (POST /api/v1/meetings) keeps that ID on its node: answers about it
 * are mapped back by its row (node_id -> own_id) instead. */
#include "bbb_ids.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bbb_ids_encode(struct buf *out, const char *frontend_key, const char *meeting_id)
{
	if (strlen(frontend_key) + 1 + strlen(meeting_id) > BBB_IDS_MAX)
		return -E2BIG;
	buf_reset(out);
	buf_puts(out, frontend_key);
	buf_puts(out, "~");
	buf_puts(out, meeting_id);
	return out->oom ? -ENOMEM : 0;
}

const char *bbb_ids_decode(const char *nsid, const char *frontend_key)
{
	size_t kl = strlen(frontend_key);

	if (strncmp(nsid, frontend_key, kl) != 0 || nsid[kl] != '~')
		return NULL;
	return nsid + kl + 1;
}

static int bbb_ids_is_id_elem(const char *name)
{
	return strcmp(name, "meetingID") == 0 || strcmp(name, "parentMeetingID") == 0;
}

/* An element's text that names the meeting on its node: the frontend's ID for it, or NULL
 * to leave it. The alias goes first, as it may itself lie in the namespace. */
static const char *bbb_ids_own(const char *text, const char *frontend_key, const char *node_id,
			       const char *own_id)
{
	if (node_id && own_id && strcmp(text, node_id) == 0)
		return own_id;
	return bbb_ids_decode(text, frontend_key);
}

void bbb_ids_rewrite_as(struct xml_node *n, const char *frontend_key, const char *node_id,
			const char *own_id)
{
	struct xml_node *ch;
	const char *orig;
	char *copy;

	for (ch = n->first; ch; ch = ch->next) {
		if (ch->first) {
			bbb_ids_rewrite_as(ch, frontend_key, node_id, own_id);
			continue;
		}
		if (!bbb_ids_is_id_elem(ch->name))
			continue;
		orig = bbb_ids_own(xml_dom_text(ch), frontend_key, node_id, own_id);
		/* orig may point into ch's text, which set_text overwrites: copy first */
		if (orig && (copy = strdup(orig))) {
			xml_dom_set_text(ch, copy);
			free(copy);
		}
	}
}

void bbb_ids_rewrite(struct xml_node *n, const char *frontend_key)
{
	bbb_ids_rewrite_as(n, frontend_key, NULL, NULL);
}

/* Appends xml with key's prefix taken off every meetingID/parentMeetingID element's text
 * (and node_id, the whole text, replaced by own_id): bbb_ids_rewrite_as for XML written by
 * xml_dom_write (no attributes, no blanks around text, text escaped by xml_dom_escape),
 * without parsing it. */
int bbb_ids_rewrite_text_as(struct buf *out, const char *xml, const char *frontend_key,
			    const char *node_id, const char *own_id)
{
	size_t kl = strlen(frontend_key);
	const char *p = xml, *hit, *tag;
	struct buf node, own;
	int rc;

	/* compared and written as they stand in the XML */
	buf_init(&node);
	buf_init(&own);
	if (node_id && own_id) {
		xml_dom_escape(&node, node_id);
		xml_dom_escape(&own, own_id);
	}
	if (node.oom || own.oom) {
		rc = -ENOMEM;
		goto out;
	}
	/* "eetingID>" ends both opening tags (and others, told apart by what comes before) */
	while ((hit = strstr(p, "eetingID>"))) {
		const char *text = hit + 9;
		tag = NULL;
		if (hit - xml >= 2 && hit[-1] == 'm' && hit[-2] == '<')
			tag = hit - 2;
		else if (hit - xml >= 8 && strncmp(hit - 8, "<parentM", 8) == 0)
			tag = hit - 8;
		buf_append(out, p, (size_t)(text - p));
		p = text;
		if (!tag)
			continue;
		if (node.len && strncmp(text, buf_str(&node), node.len) == 0 &&
		    text[node.len] == '<') {
			buf_append(out, own.data, own.len);
			p = text + node.len;
		} else if (strncmp(text, frontend_key, kl) == 0 && text[kl] == '~') {
			p = text + kl + 1;
		}
	}
	buf_puts(out, p);
	rc = out->oom ? -ENOMEM : 0;
out:
	buf_free(&node);
	buf_free(&own);
	return rc;
}

int bbb_ids_rewrite_text(struct buf *out, const char *xml, const char *frontend_key)
{
	return bbb_ids_rewrite_text_as(out, xml, frontend_key, NULL, NULL);
}

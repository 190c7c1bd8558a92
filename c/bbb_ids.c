/* bbb_ids.c: two frontends may both use "room-1"; on a backend they are "a~room-1" and
 * "b~room-1". Keys are [A-Za-z0-9_-], so the first '~' always ends the key. */
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

void bbb_ids_rewrite(struct xml_node *n, const char *frontend_key)
{
	struct xml_node *ch;
	const char *orig;
	char *copy;

	for (ch = n->first; ch; ch = ch->next) {
		if (ch->first) {
			bbb_ids_rewrite(ch, frontend_key);
			continue;
		}
		if (!bbb_ids_is_id_elem(ch->name))
			continue;
		orig = bbb_ids_decode(xml_dom_text(ch), frontend_key);
		/* orig points into ch's text, which set_text overwrites: copy first */
		if (orig && (copy = strdup(orig))) {
			xml_dom_set_text(ch, copy);
			free(copy);
		}
	}
}

/* Appends xml with key's prefix taken off every meetingID/parentMeetingID element's text:
 * bbb_ids_rewrite for XML written by xml_dom_write (no attributes, no blanks around text),
 * without parsing it. */
int bbb_ids_rewrite_text(struct buf *out, const char *xml, const char *frontend_key)
{
	size_t kl = strlen(frontend_key);
	const char *p = xml, *hit, *tag;

	/* "eetingID>" ends both opening tags (and others, told apart by what comes before) */
	while ((hit = strstr(p, "eetingID>"))) {
		const char *text = hit + 9;
		tag = NULL;
		if (hit - xml >= 2 && hit[-1] == 'm' && hit[-2] == '<')
			tag = hit - 2;
		else if (hit - xml >= 8 && strncmp(hit - 8, "<parentM", 8) == 0)
			tag = hit - 8;
		if (tag && strncmp(text, frontend_key, kl) == 0 && text[kl] == '~') {
			buf_append(out, p, (size_t)(text - p));
			p = text + kl + 1;
		} else {
			buf_append(out, p, (size_t)(text - p));
			p = text;
		}
	}
	buf_puts(out, p);
	return out->oom ? -ENOMEM : 0;
}

/* bbb_ids.h: meeting IDs namespaced per frontend ("<key>~<meetingID>") and mapped back. */
#ifndef B3S_BBB_IDS_H
#define B3S_BBB_IDS_H

#include "buf.h"
#include "xml_dom.h"

/* BBB refuses meeting IDs longer than this. */
#define BBB_IDS_MAX 256

/* -E2BIG when the namespaced ID would exceed what BBB accepts. */
int bbb_ids_encode(struct buf *out, const char *frontend_key, const char *meeting_id);
/* The frontend's own ID inside nsid when it belongs to frontend_key, else NULL. */
const char *bbb_ids_decode(const char *nsid, const char *frontend_key);
/* Rewrites every meetingID/parentMeetingID element under n that belongs to frontend_key. */
void bbb_ids_rewrite(struct xml_node *n, const char *frontend_key);
/* The same on the text of XML that xml_dom_write produced, appended to out. */
int bbb_ids_rewrite_text(struct buf *out, const char *xml, const char *frontend_key);
/* Both, and an element whose whole text is node_id gets own_id: the node's ID of a meeting
 * adopted under an ID outside the namespace, and the frontend's own (NULL, NULL: none). */
void bbb_ids_rewrite_as(struct xml_node *n, const char *frontend_key, const char *node_id,
			const char *own_id);
int bbb_ids_rewrite_text_as(struct buf *out, const char *xml, const char *frontend_key,
			    const char *node_id, const char *own_id);

#endif

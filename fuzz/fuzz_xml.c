/* fuzz_xml.c: a node's XML answer, as bbb_backend.c and bbb_meetings.c handle it: parsed
 * (xml_dom_parse), meeting IDs mapped back to the frontend's (bbb_ids_rewrite), read
 * (xml_dom_child_text) and written out again (xml_dom_write). What we write must parse again.
 *
 * Input: the document, as the node sent it. */
#include <stdint.h>
#include <stdlib.h>

#include "bbb_ids.h"
#include "buf.h"
#include "xml_dom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xml_node *doc = NULL, *again = NULL, *m;
	struct buf out;
	char err[256];

	if (xml_dom_parse((const char *)data, size, &doc, err, sizeof(err)) != 0)
		return 0;
	(void)xml_dom_child_text(doc, "returncode");
	m = xml_dom_child(doc, "meetings");
	if (m)
		(void)xml_dom_child(m, "meeting");
	bbb_ids_rewrite(doc, "fe");
	buf_init(&out);
	if (xml_dom_write(&out, doc) != 0)
		abort();
	/* the frontend gets a well-formed document */
	if (xml_dom_parse(buf_str(&out), out.len, &again, err, sizeof(err)) != 0)
		abort();
	xml_dom_free(again);
	buf_free(&out);
	xml_dom_free(doc);
	return 0;
}

/* bbb_xml.c: building the XML answers frontends expect from BBB. */
#include "bbb_xml.h"

#include <errno.h>

#include "xml_dom.h"

int bbb_xml_elem(struct buf *out, const char *name, const char *value)
{
	buf_printf(out, "<%s>", name);
	xml_dom_escape(out, value);
	buf_printf(out, "</%s>", name);
	return out->oom ? -ENOMEM : 0;
}

int bbb_xml_error(struct buf *out, const char *key, const char *message)
{
	buf_puts(out, "<response><returncode>FAILED</returncode>");
	bbb_xml_elem(out, "messageKey", key);
	bbb_xml_elem(out, "message", message);
	buf_puts(out, "</response>");
	return out->oom ? -ENOMEM : 0;
}

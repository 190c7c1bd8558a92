/* bbb_xml.h: BBB response envelopes. */
#ifndef B3S_BBB_XML_H
#define B3S_BBB_XML_H

#include "buf.h"

/* <response><returncode>FAILED</returncode><messageKey/><message/></response> */
int bbb_xml_error(struct buf *out, const char *key, const char *message);
/* Appends <name>escaped value</name>. */
int bbb_xml_elem(struct buf *out, const char *name, const char *value);

#endif

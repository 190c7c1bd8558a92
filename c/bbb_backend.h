/* bbb_backend.h: signed calls from the balancer to one BBB node. */
#ifndef B3S_BBB_BACKEND_H
#define B3S_BBB_BACKEND_H

#include "buf.h"
#include "lb.h"
#include "node_loop.h"
#include "proxy.h"
#include "query.h"
#include "xml_dom.h"

/* Builds host + call + "?" + query + checksum (sha256, the node's secret) into url. */
int bbb_backend_url(struct buf *url, const struct lb_backend *b, const char *call,
		    const char *encoded_query);
/* The node call for one BBB API call to b: the signed URL goes into url (which must outlive
 * the spec until it is submitted) and spec borrows b's strings and the body. */
int bbb_backend_spec(struct node_call_spec *spec, struct buf *url, const struct lb_backend *b,
		     const char *call, const char *method, const char *encoded_query,
		     const char *body, size_t body_len, const char *content_type);
/* Reads a finished call: 0 when the node answered HTTP 200 with XML whose root is
 * <response>, parsed into *doc (caller frees); negative with err for transport errors,
 * refusals (open circuit, full bulkhead), other statuses or bad XML. Counted in stats. */
int bbb_backend_answer(const struct node_call *nc, const char *host, struct xml_node **doc,
		       char *err, size_t errlen);
/* "SUCCESS" / "FAILED" / NULL */
const char *bbb_backend_returncode(struct xml_node *doc);

#endif

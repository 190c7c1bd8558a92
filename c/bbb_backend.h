/* bbb_backend.h: signed calls from the balancer to one BBB node. */
#ifndef B3S_BBB_BACKEND_H
#define B3S_BBB_BACKEND_H

#include "buf.h"
#include "lb.h"
#include "proxy.h"
#include "query.h"
#include "worker.h"
#include "xml_dom.h"

/* Builds host + call + "?" + query + checksum (sha256, the node's secret) into url. */
int bbb_backend_url(struct buf *url, const struct lb_backend *b, const char *call,
		    const char *encoded_query);
/* Calls the node; 0 when it answered HTTP 200 with XML whose root is <response>, parsed into
 * *doc (caller frees). Negative with err for transport errors, other statuses or bad XML. */
int bbb_backend_call(struct worker *w, const struct lb_backend *b, const char *call,
		     const char *method, const char *encoded_query, const char *body,
		     size_t body_len, const char *content_type, struct xml_node **doc, char *err,
		     size_t errlen);
/* The same call without parameters on n backends at once (getMeetings fan-out): docs[i] and
 * rcs[i] as bbb_backend_call's; negative only when nothing could be attempted. */
int bbb_backend_get_many(struct worker *w, const struct lb_backend *bs, size_t n,
			 const char *call, struct xml_node **docs, int *rcs,
			 char (*errs)[PROXY_ERRLEN]);
/* "SUCCESS" / "FAILED" / NULL */
const char *bbb_backend_returncode(struct xml_node *doc);

#endif

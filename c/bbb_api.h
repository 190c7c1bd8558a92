/* bbb_api.h: the BBB API frontends call at /bbb/<frontend-key>/api/<call>. */
#ifndef B3S_BBB_API_H
#define B3S_BBB_API_H

#include "http_server.h"
#include "worker.h"

void bbb_api_handle(struct worker *w, const struct http_request *req, struct http_answer *a);

#endif

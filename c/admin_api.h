/* admin_api.h: /api/v1: JWT check in C, then the Lua handlers in lua/b3scale/admin/ with a
 * narrow, parameterised database binding. Trusted code: not the policy sandbox. */
#ifndef B3S_ADMIN_API_H
#define B3S_ADMIN_API_H

#include "http_server.h"
#include "worker.h"

void admin_api_handle(struct worker *w, const struct http_request *req, struct http_answer *a);
void admin_api_free(struct admin_state *st);
/* GET /status: the live status page (B3SCALE_STATUS_PAGE; "off" disables it). */
void admin_api_status_page(struct worker *w, struct http_answer *a);

#endif

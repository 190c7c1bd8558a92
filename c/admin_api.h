/* admin_api.h: /api/v1: JWT check in C, then the Lua handlers in lua/b3scale/admin/ with a
 * narrow, parameterised database binding. Trusted code: not the policy sandbox. */
#ifndef B3S_ADMIN_API_H
#define B3S_ADMIN_API_H

#include "http_server.h"
#include "worker.h"

struct admin_task;
struct lua_State;
/* The admin request whose coroutine runs now (only that of coroutine L when L is given). */
struct admin_task *admin_api_running(struct worker *w, struct lua_State *L);
const struct http_request *admin_api_task_request(const struct admin_task *t);
/* Prepares the node call the task's coroutine yields for (GET call on host). */
int admin_api_task_call(struct admin_task *t, const char *host, const char *secret,
			const char *call, const char *encoded_query);

/* The admin API's error body: {"error":error,"message":message} (message escaped). */
void admin_api_json_error(struct http_answer *a, int status, const char *error,
			  const char *message);
void admin_api_handle(struct worker *w, const struct http_request *req, struct http_answer *a);
void admin_api_free(struct admin_state *st);
/* GET /status: the live status page (B3SCALE_STATUS_PAGE; "off" disables it). */
void admin_api_status_page(struct worker *w, struct http_answer *a);

#endif

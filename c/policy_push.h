/* policy_push.h: C snapshots into plain Lua tables (nothing in Lua points into C memory). */
#ifndef B3S_POLICY_PUSH_H
#define B3S_POLICY_PUSH_H

#include <lua.h>

#include "lb.h"
#include "query.h"

struct policy_request;

/* The select request: action, meeting_id, attempt, now, frontend{key}, params, excluded. */
void policy_push_request(lua_State *L, const struct policy_request *req);
/* params as a map { key = value } (first value wins, as BBB reads them). */
void policy_push_params(lua_State *L, const struct query *q);
/* the params' keys in request order, for rebuilding the query in the same order. */
void policy_push_order(lua_State *L, const struct query *q);
/* Reads an array of { key, value } pairs at idx into q (replacing its content). */
int policy_push_read_params(lua_State *L, int idx, struct query *q);

#endif

/* policy_push.c: building the tables policies receive, and reading back what they return. */
#include "policy_push.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "policy.h"

static void policy_push_int(lua_State *L, const char *k, long v)
{
	lua_pushinteger(L, (lua_Integer)v);
	lua_setfield(L, -2, k);
}

static void policy_push_str(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

void policy_push_params(lua_State *L, const struct query *q)
{
	size_t i;

	lua_createtable(L, 0, (int)q->n);
	/* backwards, so the first of repeated keys is the one left in the table */
	for (i = q->n; i-- > 0;)
		policy_push_str(L, q->v[i].key, q->v[i].value);
}

void policy_push_order(lua_State *L, const struct query *q)
{
	size_t i;

	lua_createtable(L, (int)q->n, 0);
	for (i = 0; i < q->n; i++) {
		lua_pushstring(L, q->v[i].key);
		lua_rawseti(L, -2, (int)i + 1);
	}
}

void policy_push_request(lua_State *L, const struct policy_request *req)
{
	size_t i;

	lua_createtable(L, 0, 10);
	policy_push_str(L, "action", req->action);
	policy_push_str(L, "meeting_id", req->meeting_id);
	policy_push_int(L, "attempt", (long)req->attempt);
	lua_pushnumber(L, (lua_Number)time(NULL));
	lua_setfield(L, -2, "now");
	lua_createtable(L, 0, 2);
	policy_push_str(L, "key", req->frontend_key);
	lua_setfield(L, -2, "frontend");
	policy_push_params(L, req->params);
	lua_setfield(L, -2, "params");
	lua_createtable(L, 0, (int)req->nexcluded);
	for (i = 0; i < req->nexcluded; i++) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, req->excluded[i]);
	}
	lua_setfield(L, -2, "excluded");
	if (req->expected_source) {
		policy_push_int(L, "expected_size", req->expected_size);
		policy_push_str(L, "expected_source", req->expected_source);
	}
}

int policy_push_read_params(lua_State *L, int idx, struct query *q)
{
	size_t i, n = lua_objlen(L, idx);
	int rc = 0;

	query_free(q);
	for (i = 1; rc == 0 && i <= n; i++) {
		lua_rawgeti(L, idx, (int)i);
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING)
			rc = query_set(q, lua_tostring(L, -2), lua_tostring(L, -1));
		lua_pop(L, 3);
	}
	return rc < 0 ? -ENOMEM : 0;
}

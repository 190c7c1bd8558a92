/* sim_cases.c: policy test cases through the daemon's sandbox. The cases file is decoded by
 * lua/b3scale/simtrace.lua (cases); each case becomes a struct policy_request and a struct
 * lb_backend list, as the scheduler builds them, and policy_select_explain decides. The
 * expectations are checked by the caller (b3scalectl policy test) from the JSON printed. */
#include "sim_cases.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "buf.h"
#include "config.h"
#include "lb.h"
#include "policy.h"
#include "query.h"
#include "sim_trace.h"
#include "simulate.h"

#define SIM_CASES_MAX_BYTES (16u << 20)
#define SIM_CASES_MAX_EXCLUDED 32

static const char *sim_cases_str(lua_State *L, const char *k)
{
	const char *s;

	lua_getfield(L, -1, k);
	s = lua_tostring(L, -1); /* the case table keeps it alive */
	lua_pop(L, 1);
	return s ? s : "";
}

static const char *sim_cases_outcome(enum policy_outcome o)
{
	return o == POLICY_OK ? "placed" : o == POLICY_NONE ? "declined" : "error";
}

/* Runs the case on top of L; appends its JSON to out. */
static int sim_cases_one(lua_State *L, struct policy_engine *pe, struct buf *out)
{
	struct lb_backend_list bl = { 0 };
	struct policy_request pr = { 0 };
	struct policy_explain *ex;
	struct query params;
	const char *excluded[SIM_CASES_MAX_EXCLUDED];
	char reason[512], policy[64];
	enum policy_outcome o;
	size_t i, n, idx = 0;
	int rc = 0;

	ex = malloc(sizeof(*ex));
	query_init(&params);
	if (!ex)
		return -ENOMEM;
	lua_getfield(L, -1, "backends");
	n = lua_objlen(L, -1);
	bl.v = calloc(n ? n : 1, sizeof(*bl.v));
	if (!bl.v) {
		lua_pop(L, 1);
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n && rc == 0; i++, bl.n++) {
		lua_rawgeti(L, -1, (int)i + 1);
		rc = simulate_backend_from_lua(L, &bl.v[i]);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_getfield(L, -1, "params");
	for (i = 1; rc == 0 && i <= lua_objlen(L, -1); i++) {
		lua_rawgeti(L, -1, (int)i);
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		rc = query_set(&params, lua_tostring(L, -2), lua_tostring(L, -1));
		lua_pop(L, 3);
	}
	lua_pop(L, 1);
	lua_getfield(L, -1, "excluded");
	for (i = 1; i <= lua_objlen(L, -1) && pr.nexcluded < SIM_CASES_MAX_EXCLUDED; i++) {
		lua_rawgeti(L, -1, (int)i);
		excluded[pr.nexcluded++] = lua_tostring(L, -1); /* kept by the case table */
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (rc < 0)
		goto out;
	pr.action = "create";
	pr.meeting_id = sim_cases_str(L, "meeting_id");
	pr.frontend_key = sim_cases_str(L, "key");
	pr.settings_json = sim_cases_str(L, "settings");
	pr.params = &params;
	lua_getfield(L, -1, "attempt");
	pr.attempt = (unsigned)lua_tonumber(L, -1);
	lua_pop(L, 1);
	pr.excluded = excluded;
	o = policy_select_explain(pe, &pr, &bl, &idx, reason, sizeof(reason), policy,
				  sizeof(policy), ex);
	buf_puts(out, "{\"name\":");
	buf_json_str(out, sim_cases_str(L, "name"));
	buf_puts(out, ",\"policy\":");
	buf_json_str(out, policy);
	buf_printf(out, ",\"outcome\":\"%s\",\"host\":", sim_cases_outcome(o));
	if (o == POLICY_OK) {
		buf_json_str(out, bl.v[idx].host);
		buf_printf(out, ",\"index\":%zu,\"reason\":", idx + 1);
		buf_json_str(out, ex->reason);
		buf_printf(out, ",\"explanation\":%s}", ex->json[0] ? ex->json : "null");
	} else {
		buf_puts(out, "null,\"reason\":");
		buf_json_str(out, reason);
		buf_puts(out, ",\"explanation\":null}");
	}
out:
	query_free(&params);
	lb_backend_list_clear(&bl);
	free(ex);
	return rc;
}

int sim_cases_run(const struct lb_config *cfg, lua_State *L, const char *file,
		  const char *policy, char *err, size_t errlen)
{
	struct policy_engine *pe = NULL;
	struct buf out;
	char *text;
	size_t i, n;
	int rc;

	rc = sim_trace_slurp(file, SIM_CASES_MAX_BYTES, &text, err, errlen);
	if (rc < 0)
		return rc;
	lua_getfield(L, 1, "cases");
	lua_pushstring(L, text);
	free(text);
	if (policy)
		lua_pushstring(L, policy);
	else
		lua_pushnil(L);
	if (lua_pcall(L, 2, 2, 0) != 0 || lua_isnil(L, -2)) {
		snprintf(err, errlen, "%s: %s", file, lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
		lua_settop(L, 1);
		return -EINVAL;
	}
	lua_pop(L, 1);
	rc = policy_setup(cfg, err, errlen);
	if (rc < 0) {
		lua_settop(L, 1);
		return rc;
	}
	pe = policy_engine_sync(NULL);
	buf_init(&out);
	buf_puts(&out, "{\"cases\":[");
	n = lua_objlen(L, -1);
	for (i = 0; rc == 0 && i < n; i++) {
		if (i)
			buf_puts(&out, ",");
		lua_rawgeti(L, -1, (int)i + 1);
		rc = sim_cases_one(L, pe, &out);
		lua_pop(L, 1);
	}
	buf_puts(&out, "]}\n");
	if (rc == 0 && out.oom)
		rc = -ENOMEM;
	if (rc == 0)
		fwrite(buf_str(&out), 1, out.len, stdout);
	else
		snprintf(err, errlen, "out of memory");
	buf_free(&out);
	policy_engine_free(pe);
	policy_teardown();
	lua_settop(L, 1);
	return rc;
}

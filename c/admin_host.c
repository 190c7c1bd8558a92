/* admin_host.c: the host binding the trusted admin Lua handlers call (b3scale.admin_host):
 * parameterised SQL, status, calls to nodes (which yield the handler's coroutine), agent
 * state reports, circuit views, the load formula, recordings to settle, logs. */
#include "admin_host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "admin_api.h"
#include "bbb_backend.h"
#include "clock.h"
#include "db_backends.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "node_loop.h"
#include "poller.h"
#include "policy.h"
#include "policy_builtin.h"
#include "policy_stats.h"
#include "rec_cache.h"
#include "rec_import.h"

#define ADMIN_HOST_MAX_PARAMS 64

/* host.query(sql, ...) -> rows | nil, message, sqlstate */
static int admin_host_query(lua_State *L)
{
	struct worker *w = lua_touserdata(L, lua_upvalueindex(1));
	const char *sql = luaL_checkstring(L, 1);
	const char *vals[ADMIN_HOST_MAX_PARAMS];
	char nums[ADMIN_HOST_MAX_PARAMS][32], err[512];
	int n = lua_gettop(L) - 1, i, rows, cols, r, c;
	ExecStatusType st;
	PGresult *res;
	const char *state;

	if (n > ADMIN_HOST_MAX_PARAMS)
		return luaL_error(L, "too many parameters");
	for (i = 0; i < n; i++) {
		int idx = i + 2;
		switch (lua_type(L, idx)) {
		case LUA_TNIL:
			vals[i] = NULL;
			break;
		case LUA_TLIGHTUSERDATA: /* cjson.null */
			vals[i] = NULL;
			break;
		case LUA_TBOOLEAN:
			vals[i] = lua_toboolean(L, idx) ? "true" : "false";
			break;
		case LUA_TNUMBER:
			snprintf(nums[i], sizeof(nums[i]), "%.17g", lua_tonumber(L, idx));
			vals[i] = nums[i];
			break;
		case LUA_TSTRING:
			vals[i] = lua_tostring(L, idx);
			break;
		default:
			return luaL_error(L, "parameter %d: cannot pass a %s to SQL", i + 1,
					  luaL_typename(L, idx));
		}
	}
	res = db_exec_sql(&w->db, sql, n, vals, err, sizeof(err));
	if (!res) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		lua_pushstring(L, "08006");
		return 3;
	}
	st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		lua_pushnil(L);
		lua_pushstring(L, PQresultErrorMessage(res));
		/* "" would read as "database unavailable": an error without a code is internal */
		lua_pushstring(L, state ? state : (PQstatus(w->db.conn) == CONNECTION_OK ? "XX000" : "08006"));
		PQclear(res);
		return 3;
	}
	rows = PQntuples(res);
	cols = PQnfields(res);
	lua_createtable(L, rows, 1);
	for (r = 0; r < rows; r++) {
		lua_createtable(L, 0, cols);
		for (c = 0; c < cols; c++) {
			if (PQgetisnull(res, r, c))
				lua_pushlightuserdata(L, NULL);
			else
				lua_pushlstring(L, PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c));
			lua_setfield(L, -2, PQfname(res, c));
		}
		lua_rawseti(L, -2, r + 1);
	}
	lua_pushinteger(L, strtol(PQcmdTuples(res), NULL, 10));
	lua_setfield(L, -2, "affected");
	PQclear(res);
	return 1;
}

/* host.status() -> { version, policy_generation, last_reload_error, ... } */
static int admin_host_status(lua_State *L)
{
	struct worker *w = lua_touserdata(L, lua_upvalueindex(1));
	char err[512], names[2048], last[1024];
	int pending = 0, rc;
	time_t when = 0;
	char *p, *save = NULL;
	int i = 1;

	lua_createtable(L, 0, 6);
	lua_pushstring(L, B3SCALE_VERSION);
	lua_setfield(L, -2, "version");
	lua_pushinteger(L, (lua_Integer)policy_generation());
	lua_setfield(L, -2, "policy_generation");
	lua_pushstring(L, w->cfg->default_policy);
	lua_setfield(L, -2, "default_policy");
	policy_last_error(last, sizeof(last), &when);
	if (last[0]) {
		lua_pushstring(L, last);
		lua_setfield(L, -2, "last_reload_error");
		lua_pushnumber(L, (lua_Number)when);
		lua_setfield(L, -2, "last_reload_error_at");
	}
	rc = migrate_pending(&w->db, w->cfg->sql_dir, &pending, names, sizeof(names), err,
			     sizeof(err));
	lua_pushboolean(L, rc == 0);
	lua_setfield(L, -2, "db_available");
	if (rc == 0) {
		lua_newtable(L);
		for (p = strtok_r(names, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
			lua_pushstring(L, p);
			lua_rawseti(L, -2, i++);
		}
		lua_setfield(L, -2, "pending_migrations");
	}
	return 1;
}

/* host.bbb_call(host, secret, call, params) -> returncode, messageKey | nil, nil, err:
 * yields the coroutine until the node loop has the answer (admin_api_task_start). */
static int admin_host_bbb_call(lua_State *L)
{
	struct worker *w = lua_touserdata(L, lua_upvalueindex(1));
	struct admin_task *t = admin_api_running(w, L);
	/* every argument checked before anything is allocated: a Lua error longjmps */
	const char *host = luaL_checkstring(L, 1), *secret = luaL_checkstring(L, 2);
	const char *call = luaL_checkstring(L, 3);
	struct query q;
	struct buf enc;
	int rc;

	luaL_checktype(L, 4, LUA_TTABLE);
	if (!t)
		return luaL_error(L, "bbb_call outside a request");
	if (w->db.conn && PQtransactionStatus(w->db.conn) != PQTRANS_IDLE)
		return luaL_error(L, "bbb_call inside a transaction");
	query_init(&q);
	buf_init(&enc);
	lua_pushnil(L);
	while (lua_next(L, 4)) {
		if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING)
			query_set(&q, lua_tostring(L, -2), lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	rc = query_encode(&q, &enc);
	if (rc == 0)
		rc = admin_api_task_call(t, host, secret, call, buf_str(&enc));
	query_free(&q);
	buf_free(&enc);
	if (rc < 0) {
		lua_pushnil(L);
		lua_pushnil(L);
		lua_pushstring(L, "out of memory");
		return 3;
	}
	/* admin_api_task_step sees the yield, parks the request and submits the call */
	return lua_yield(L, 0);
}

/* host.load(load_factor, meetings, pending, participants) -> the scheduler's load figure */
static int admin_host_load(lua_State *L)
{
	lua_pushnumber(L, policy_builtin_load(luaL_checknumber(L, 1), (long)luaL_checkinteger(L, 2),
					      (long)luaL_checkinteger(L, 3),
					      (long)luaL_checkinteger(L, 4)));
	return 1;
}

/* host.node_health() -> { [backend id] = { state, inflight, failures, rejected, opened } }:
 * this instance's circuit breakers and bulkheads. */
static int admin_host_node_health(lua_State *L)
{
	struct node_health_view *v = calloc(4096, sizeof(*v));
	size_t n = v ? node_loop_health(v, 4096) : 0, i;

	lua_createtable(L, 0, (int)n);
	for (i = 0; i < n; i++) {
		lua_createtable(L, 0, 5);
		lua_pushstring(L, node_loop_state_name(v[i].state));
		lua_setfield(L, -2, "state");
		lua_pushnumber(L, v[i].inflight);
		lua_setfield(L, -2, "inflight");
		lua_pushnumber(L, v[i].failures);
		lua_setfield(L, -2, "failures");
		lua_pushnumber(L, (lua_Number)(v[i].rejected_open + v[i].rejected_busy));
		lua_setfield(L, -2, "rejected");
		lua_pushnumber(L, (lua_Number)v[i].opened);
		lua_setfield(L, -2, "opened");
		lua_setfield(L, -2, v[i].backend_id);
	}
	free(v);
	return 1;
}

/* host.policy_stats() -> { { policy, calls, nones, errors = { runtime, ... }, fallbacks }, ... } */
static int admin_host_policy_stats(lua_State *L)
{
	struct policy_stats_view v[64];
	size_t n = policy_stats_snapshot(v, 64), i;
	unsigned long calls;
	int k;

	lua_createtable(L, (int)n, 0);
	for (i = 0; i < n; i++) {
		lua_createtable(L, 0, 5);
		lua_pushstring(L, v[i].name);
		lua_setfield(L, -2, "policy");
		for (calls = 0, k = 0; k < POLICY_OUTCOMES; k++)
			calls += v[i].outcomes[k];
		lua_pushnumber(L, (lua_Number)calls);
		lua_setfield(L, -2, "calls");
		lua_pushnumber(L, (lua_Number)v[i].outcomes[POLICY_NONE]);
		lua_setfield(L, -2, "nones");
		lua_pushnumber(L, (lua_Number)v[i].fallbacks);
		lua_setfield(L, -2, "fallbacks");
		lua_newtable(L);
		for (k = POLICY_ERR_RUNTIME; k < POLICY_OUTCOMES; k++) {
			lua_pushnumber(L, (lua_Number)v[i].outcomes[k]);
			lua_setfield(L, -2, policy_outcome_name((enum policy_outcome)k));
		}
		lua_setfield(L, -2, "errors");
		lua_rawseti(L, -2, (int)i + 1);
	}
	return 1;
}

/* The time the agent fetched its snapshot (?fetched_at=, epoch ms): meetings confirmed
 * after it are not taken for lost. Without it (older agents), or when it is implausible,
 * the snapshot is taken to be as old as an agent may be. */
static long long admin_host_fetched_at(struct worker *w)
{
	struct admin_task *t = admin_api_running(w, NULL);
	const struct http_request *req = t ? admin_api_task_request(t) : NULL;
	long long now = clock_wall_ms(), at = 0;
	const char *v;
	struct query q;

	query_init(&q);
	if (req && query_parse(&q, req->raw_query, req->query_len) == 0 &&
	    (v = query_get(&q, "fetched_at")) && strspn(v, "0123456789") == strlen(v) && *v)
		at = strtoll(v, NULL, 10);
	query_free(&q);
	if (at > now || at < now - 10 * 60 * 1000)
		at = now - w->cfg->agent_max_age_ms;
	return at;
}

/* host.node_state(backend_id, host, node_state, xml) -> true | nil, err: an agent's full
 * state report (the node's own getMeetings answer), applied exactly like a poll. */
static int admin_host_node_state(lua_State *L)
{
	struct worker *w = lua_touserdata(L, lua_upvalueindex(1));
	struct lb_backend b;
	struct xml_node *doc = NULL;
	size_t len;
	const char *xml;
	char err[512];
	int rc;

	luaL_checkstring(L, 2);
	luaL_checkstring(L, 3);
	xml = luaL_checklstring(L, 4, &len);
	/* the row itself, secret included: ending a stray on the node needs it */
	rc = db_backends_find(&w->db, luaL_checkstring(L, 1), &b, err, sizeof(err));
	if (rc == 0)
		rc = xml_dom_parse(xml, len, &doc, err, sizeof(err));
	if (rc == 0)
		rc = poller_apply(w, &b, doc, 0, admin_host_fetched_at(w), err, sizeof(err));
	xml_dom_free(doc);
	lb_backend_clear(&b);
	if (rc < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* host.recordings_changed() -> bool: rows were marked pending (a visibility change, a
 * delete); wakes the recordings thread to move their trees. false when no storage is
 * configured (B3SCALE_RECORDINGS_DIR unset): nothing will move them here. */
static int admin_host_recordings_changed(lua_State *L)
{
	rec_cache_invalidate();
	rec_import_kick();
	lua_pushboolean(L, rec_import_enabled());
	return 1;
}

static int admin_host_log(lua_State *L)
{
	const char *level = luaL_optstring(L, 1, "info");
	const char *msg = luaL_optstring(L, 2, "");

	log_msg(strcmp(level, "error") == 0  ? LOG_LVL_ERROR
		: strcmp(level, "warn") == 0 ? LOG_LVL_WARN
		: strcmp(level, "debug") == 0 ? LOG_LVL_DEBUG
					      : LOG_LVL_INFO,
		"admin", "msg=\"%.400s\"", msg);
	return 0;
}

void admin_host_push(lua_State *L, struct worker *w)
{
	static const luaL_Reg fns[] = {
		{ "query", admin_host_query },
		{ "status", admin_host_status },
		{ "bbb_call", admin_host_bbb_call },
		{ "log", admin_host_log },
		{ "policy_stats", admin_host_policy_stats },
		{ "node_state", admin_host_node_state },
		{ "node_health", admin_host_node_health },
		{ "load", admin_host_load },
		{ "recordings_changed", admin_host_recordings_changed },
		{ NULL, NULL },
	};
	const luaL_Reg *f;

	lua_newtable(L);
	for (f = fns; f->name; f++) {
		lua_pushlightuserdata(L, w);
		lua_pushcclosure(L, f->func, 1);
		lua_setfield(L, -2, f->name);
	}
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
}

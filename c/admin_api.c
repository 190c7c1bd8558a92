/* admin_api.c: authentication, the per-worker admin Lua state and its host binding. */
#include "admin_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "admin_auth.h"
#include "bbb_backend.h"
#include "clock.h"
#include "db_backends.h"
#include "http_edge.h"
#include "node_loop.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "poller.h"
#include "policy.h"
#include "policy_builtin.h"
#include "policy_stats.h"
#include "route_cache.h"
#include "stats.h"

#define ADMIN_API_MAX_PARAMS 64

struct admin_state {
	lua_State *L;
	int handle_ref;
	struct admin_task *running; /* the task whose coroutine runs right now */
};

/* An admin request. Its handler runs in a coroutine of the worker's admin state, so a call
 * to a node (host.bbb_call) yields: the connection is parked, the call runs on the node
 * loop, and the coroutine resumes with the answer. Other admin requests of the same worker
 * run meanwhile in their own coroutines (never inside a transaction: bbb_call refuses). */
struct admin_task {
	struct http_park park;
	struct worker *w;
	struct admin_state *st;
	lua_State *co;
	int co_ref;
	const struct http_request *req;
	struct http_answer *a;
	struct lb_backend b;     /* the node of the pending call */
	struct buf url;
	struct node_call_spec spec;
	struct node_call *call;
	int finished;
};

static void admin_api_json_error(struct http_answer *a, int status, const char *error,
				 const char *message)
{
	a->status = status;
	a->content_type = "application/json";
	buf_reset(&a->body);
	/* messages here are fixed strings without quotes or backslashes */
	buf_printf(&a->body, "{\"error\":\"%s\",\"message\":\"%s\"}\n", error, message);
}

/* host.query(sql, ...) -> rows | nil, message, sqlstate */
static int admin_api_query(lua_State *L)
{
	struct worker *w = lua_touserdata(L, lua_upvalueindex(1));
	const char *sql = luaL_checkstring(L, 1);
	const char *vals[ADMIN_API_MAX_PARAMS];
	char nums[ADMIN_API_MAX_PARAMS][32], err[512];
	int n = lua_gettop(L) - 1, i, rows, cols, r, c;
	ExecStatusType st;
	PGresult *res;
	const char *state;

	if (n > ADMIN_API_MAX_PARAMS)
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
static int admin_api_status(lua_State *L)
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
static int admin_api_bbb_call(lua_State *L)
{
	struct worker *w = lua_touserdata(L, lua_upvalueindex(1));
	struct admin_task *t = w->admin ? w->admin->running : NULL;
	/* every argument checked before anything is allocated: a Lua error longjmps */
	const char *host = luaL_checkstring(L, 1), *secret = luaL_checkstring(L, 2);
	const char *call = luaL_checkstring(L, 3);
	struct query q;
	struct buf enc;
	int rc;

	luaL_checktype(L, 4, LUA_TTABLE);
	if (!t || t->co != L)
		return luaL_error(L, "bbb_call outside a request");
	if (w->db.conn && PQtransactionStatus(w->db.conn) != PQTRANS_IDLE)
		return luaL_error(L, "bbb_call inside a transaction");
	lb_backend_clear(&t->b);
	t->b.host = strdup(host);
	t->b.secret = strdup(secret);
	query_init(&q);
	buf_init(&enc);
	lua_pushnil(L);
	while (lua_next(L, 4)) {
		if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING)
			query_set(&q, lua_tostring(L, -2), lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	rc = query_encode(&q, &enc);
	/* breaker and bulkhead are keyed by host here: the admin knows no backend id */
	if (rc == 0 && t->b.host && t->b.secret) {
		snprintf(t->b.id, sizeof(t->b.id), "%.39s", t->b.host);
		buf_reset(&t->url);
		rc = bbb_backend_spec(&t->spec, &t->url, &t->b, call, "GET",
				      buf_str(&enc), NULL, 0, NULL);
	} else {
		rc = -ENOMEM;
	}
	query_free(&q);
	buf_free(&enc);
	if (rc < 0) {
		lua_pushnil(L);
		lua_pushnil(L);
		lua_pushstring(L, "out of memory");
		return 3;
	}
	return lua_yield(L, 0);
}

/* host.load(load_factor, meetings, pending, participants) -> the scheduler's load figure */
static int admin_api_load(lua_State *L)
{
	lua_pushnumber(L, policy_builtin_load(luaL_checknumber(L, 1), (long)luaL_checkinteger(L, 2),
					      (long)luaL_checkinteger(L, 3),
					      (long)luaL_checkinteger(L, 4)));
	return 1;
}

/* host.node_health() -> { [backend id] = { state, inflight, failures, rejected, opened } }:
 * this instance's circuit breakers and bulkheads. */
static int admin_api_node_health(lua_State *L)
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
static int admin_api_policy_stats(lua_State *L)
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

/* host.node_state(backend_id, host, node_state, xml) -> true | nil, err: an agent's full
 * state report (the node's own getMeetings answer), applied exactly like a poll. */
/* The time the agent fetched its snapshot (?fetched_at=, epoch ms): meetings confirmed
 * after it are not taken for lost. Without it (older agents), or when it is implausible,
 * the snapshot is taken to be as old as an agent may be. */
static long long admin_api_fetched_at(struct worker *w)
{
	struct admin_task *t = w->admin ? w->admin->running : NULL;
	long long now = clock_wall_ms(), at = 0;
	const char *v;
	struct query q;

	query_init(&q);
	if (t && query_parse(&q, t->req->raw_query, t->req->query_len) == 0 &&
	    (v = query_get(&q, "fetched_at")) && strspn(v, "0123456789") == strlen(v) && *v)
		at = strtoll(v, NULL, 10);
	query_free(&q);
	if (at > now || at < now - 10 * 60 * 1000)
		at = now - w->cfg->agent_max_age_ms;
	return at;
}

/* host.node_state(backend_id, host, node_state, xml) -> true | nil, err: an agent's full
 * state report (the node's own getMeetings answer), applied exactly like a poll. */
static int admin_api_node_state(lua_State *L)
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
		rc = poller_apply(w, &b, doc, 0, admin_api_fetched_at(w), err, sizeof(err));
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

static int admin_api_log(lua_State *L)
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

static int admin_api_open(lua_State *L)
{
	struct worker *w = lua_touserdata(L, 1);
	static const luaL_Reg fns[] = {
		{ "query", admin_api_query },
		{ "status", admin_api_status },
		{ "bbb_call", admin_api_bbb_call },
		{ "log", admin_api_log },
		{ "policy_stats", admin_api_policy_stats },
		{ "node_state", admin_api_node_state },
		{ "node_health", admin_api_node_health },
		{ "load", admin_api_load },
		{ NULL, NULL },
	};
	const luaL_Reg *f;
	char path[2200];

	luaL_openlibs(L);
	lua_getglobal(L, "package");
	snprintf(path, sizeof(path), "%s/?.lua;%s/?/init.lua", w->cfg->lua_dir, w->cfg->lua_dir);
	lua_pushstring(L, path);
	lua_setfield(L, -2, "path");
	lua_getfield(L, -1, "loaded");
	lua_newtable(L);
	for (f = fns; f->name; f++) {
		lua_pushlightuserdata(L, w);
		lua_pushcclosure(L, f->func, 1);
		lua_setfield(L, -2, f->name);
	}
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	lua_setfield(L, -2, "b3scale.admin_host");
	lua_pop(L, 2);
	lua_getglobal(L, "require");
	lua_pushstring(L, "b3scale.admin");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "handle");
	if (!lua_isfunction(L, -1))
		return luaL_error(L, "b3scale.admin has no handle function");
	return 1;
}

static struct admin_state *admin_api_state(struct worker *w)
{
	struct admin_state *st;

	if (w->admin)
		return w->admin;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->L = luaL_newstate();
	if (!st->L) {
		free(st);
		return NULL;
	}
	lua_pushcfunction(st->L, admin_api_open);
	lua_pushlightuserdata(st->L, w);
	if (lua_pcall(st->L, 1, 1, 0) != 0) {
		log_error("admin", "event=load_failed error=\"%s\"", lua_tostring(st->L, -1));
		admin_api_free(st);
		return NULL;
	}
	st->handle_ref = luaL_ref(st->L, LUA_REGISTRYINDEX);
	w->admin = st;
	return st;
}

void admin_api_free(struct admin_state *st)
{
	if (!st)
		return;
	lua_close(st->L);
	free(st);
}

static void admin_api_push_req(lua_State *L, const struct http_request *req,
			       const struct admin_claims *cl, size_t max_body)
{
	struct query q;
	size_t i;
	char *p, *save = NULL, scope[sizeof(cl->scope)];

	lua_createtable(L, 0, 8);
	lua_pushstring(L, req->method);
	lua_setfield(L, -2, "method");
	lua_pushstring(L, req->path);
	lua_setfield(L, -2, "path");
	query_init(&q);
	query_parse(&q, req->raw_query, req->query_len);
	lua_newtable(L);
	for (i = q.n; i-- > 0;) {
		lua_pushstring(L, q.v[i].value);
		lua_setfield(L, -2, q.v[i].key);
	}
	query_free(&q);
	lua_setfield(L, -2, "query");
	if (req->body_len) {
		lua_pushlstring(L, req->body, req->body_len);
		lua_setfield(L, -2, "body");
	}
	lua_pushinteger(L, (lua_Integer)max_body);
	lua_setfield(L, -2, "max_body");
	lua_createtable(L, 0, 3);
	lua_pushstring(L, cl->sub);
	lua_setfield(L, -2, "sub");
	lua_pushstring(L, cl->scope);
	lua_setfield(L, -2, "scope");
	lua_newtable(L);
	snprintf(scope, sizeof(scope), "%s", cl->scope);
	for (p = strtok_r(scope, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, p);
	}
	lua_setfield(L, -2, "scopes");
	lua_setfield(L, -2, "claims");
}

/* Serves a static file that holds no secret (the OpenAPI document, the status page). */
static void admin_api_file(struct http_answer *a, const char *path, const char *content_type)
{
	char chunk[8192];
	size_t n;
	FILE *f = path[0] && strcmp(path, "off") != 0 ? fopen(path, "r") : NULL;

	if (!f) {
		admin_api_json_error(a, 404, "not_found", "not installed or turned off");
		return;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&a->body, chunk, n);
	fclose(f);
	a->status = 200;
	a->content_type = content_type;
}

void admin_api_status_page(struct worker *w, struct http_answer *a)
{
	/* the page is static; its data comes from /api/v1 with the operator's token */
	admin_api_file(a, w->cfg->status_page, "text/html; charset=utf-8");
}

static void admin_api_task_free(struct admin_task *t)
{
	if (t->st && t->co_ref != LUA_NOREF)
		luaL_unref(t->st->L, LUA_REGISTRYINDEX, t->co_ref);
	lb_backend_clear(&t->b);
	buf_free(&t->url);
	node_call_free(t->call);
	free(t);
}

/* The handler is done (or failed): its answer, and whatever transaction it left open is
 * rolled back. */
static void admin_api_task_end(struct admin_task *t, int status)
{
	struct http_answer *a = t->a;
	const char *body;
	size_t n;

	if (status != 0) {
		log_error("admin", "event=handler_error method=%s path=%s error=\"%.400s\"",
			  t->req->method, t->req->path, lua_tostring(t->co, -1));
		admin_api_json_error(a, 500, "internal_error", "internal error");
	} else {
		body = lua_tolstring(t->co, 2, &n);
		a->status = lua_isnumber(t->co, 1) ? (int)lua_tointeger(t->co, 1) : 500;
		a->content_type = "application/json";
		buf_reset(&a->body);
		if (body)
			buf_append(&a->body, body, n);
	}
	lua_settop(t->co, 0);
	if (strcmp(t->req->method, "GET") != 0)
		route_cache_bump(); /* routing data may have changed: serve nothing older */
	if (t->w->db.conn && PQtransactionStatus(t->w->db.conn) != PQTRANS_IDLE) {
		char err[256];
		db_exec_simple(&t->w->db, "ROLLBACK", err, sizeof(err));
	}
	stats_admin_request(t->req->method, a->status);
	log_info("access", "api=admin method=%s path=%s status=%d client=%s", t->req->method,
		 t->req->path, a->status, t->req->client);
	t->finished = 1;
}

/* Runs the coroutine until it ends or yields for a node; nargs values are on its stack. */
static void admin_api_task_step(struct admin_task *t, int nargs)
{
	int status;

	t->st->running = t;
	status = lua_resume(t->co, nargs);
	t->st->running = NULL;
	if (status == LUA_YIELD) {
		t->a->park = &t->park;
		return;
	}
	admin_api_task_end(t, status);
}

static void admin_api_task_done(struct node_call *nc, void *ud)
{
	struct admin_task *t = ud;

	(void)nc;
	http_park_wake(&t->park);
}

static void admin_api_task_start(struct http_park *p)
{
	struct admin_task *t = (struct admin_task *)p;

	node_call_free(t->call);
	t->call = node_call_submit(&t->spec, admin_api_task_done, t);
	if (!t->call)
		http_park_wake(&t->park);
}

static void admin_api_task_resume(struct http_park *p, struct http_answer *a)
{
	struct admin_task *t = (struct admin_task *)p;
	struct xml_node *doc = NULL;
	char err[512];

	t->a = a;
	if (bbb_backend_answer(t->call, t->b.host, &doc, err, sizeof(err)) < 0) {
		lua_pushnil(t->co);
		lua_pushnil(t->co);
		lua_pushstring(t->co, err);
	} else {
		lua_pushstring(t->co, bbb_backend_returncode(doc));
		if (xml_dom_child_text(doc, "messageKey"))
			lua_pushstring(t->co, xml_dom_child_text(doc, "messageKey"));
		else
			lua_pushnil(t->co);
		lua_pushnil(t->co);
	}
	xml_dom_free(doc);
	admin_api_task_step(t, 3);
}

static void admin_api_task_release(struct http_park *p)
{
	admin_api_task_free((struct admin_task *)p);
}

/* Starts the Lua handler in a coroutine; it may park the request (a->park). */
static void admin_api_dispatch(struct worker *w, const struct http_request *req,
			       const struct admin_claims *cl, size_t max_body, struct http_answer *a)
{
	struct admin_state *st = admin_api_state(w);
	struct admin_task *t;

	if (!st || !(t = calloc(1, sizeof(*t)))) {
		admin_api_json_error(a, 500, "internal_error", "admin API not loaded");
		return;
	}
	t->park.start = admin_api_task_start;
	t->park.resume = admin_api_task_resume;
	t->park.release = admin_api_task_release;
	t->w = w;
	t->st = st;
	t->req = req;
	t->a = a;
	buf_init(&t->url);
	t->co = lua_newthread(st->L);
	t->co_ref = luaL_ref(st->L, LUA_REGISTRYINDEX); /* pops and anchors the thread */
	lua_rawgeti(t->co, LUA_REGISTRYINDEX, st->handle_ref);
	admin_api_push_req(t->co, req, cl, max_body);
	admin_api_task_step(t, 1);
	if (!a->park)
		admin_api_task_free(t);
}

void admin_api_handle(struct worker *w, const struct http_request *req, struct http_answer *a)
{
	struct admin_claims cl;
	size_t limit;
	int rc;

	if (strcmp(req->path, "/api/v1/openapi.json") == 0) {
		admin_api_file(a, w->cfg->openapi_file, "application/json");
		goto out;
	}
	if (!w->cfg->api_jwt_secret[0]) {
		admin_api_json_error(a, 503, "unavailable",
				     "admin API disabled: B3SCALE_API_JWT_SECRET is not set");
		goto out;
	}
	rc = admin_auth_verify(req->authorization, w->cfg->api_jwt_secret, &cl);
	if (rc < 0) {
		const char *why = rc == ADMIN_AUTH_EXPIRED	   ? "token expired"
				  : rc == ADMIN_AUTH_MALFORMED ? "missing or malformed token"
							       : "invalid token";
		log_warn("admin", "event=auth_failed method=%s path=%s reason=\"%s\"", req->method,
			 req->path, why);
		admin_api_json_error(a, 401, "unauthorized", why);
		goto out;
	}
	/* a busy node's getMeetings answer (the agent's state report) runs to megabytes */
	/* the edge's per-route rule: agent reports may be large, other JSON is small */
	limit = http_edge_body_limit(w->cfg, req->method, req->path);
	if (req->body_too_big || req->body_len > limit) {
		admin_api_json_error(a, 413, "too_large", "request body too large");
		goto out;
	}
	admin_api_dispatch(w, req, &cl, limit, a);
	return; /* the task logs its own access line */
out:
	stats_admin_request(req->method, a->status);
	log_info("access", "api=admin method=%s path=%s status=%d client=%s", req->method,
		 req->path, a->status, req->client);
}

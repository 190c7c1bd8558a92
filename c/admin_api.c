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
#include "admin_host.h"
#include "backend_view.h"
#include "bbb_backend.h"
#include "http_edge.h"
#include "node_loop.h"
#include "log.h"
#include "policy.h"
#include "route_cache.h"
#include "stats.h"


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

void admin_api_json_error(struct http_answer *a, int status, const char *error,
			  const char *message)
{
	a->status = status;
	a->content_type = "application/json";
	buf_reset(&a->body);
	buf_printf(&a->body, "{\"error\":\"%s\",\"message\":", error);
	buf_json_str(&a->body, message);
	buf_puts(&a->body, "}\n");
}

static int admin_api_open(lua_State *L)
{
	struct worker *w = lua_touserdata(L, 1);
	char path[2200];

	luaL_openlibs(L);
	lua_getglobal(L, "package");
	snprintf(path, sizeof(path), "%s/?.lua;%s/?/init.lua", w->cfg->lua_dir, w->cfg->lua_dir);
	lua_pushstring(L, path);
	lua_setfield(L, -2, "path");
	lua_getfield(L, -1, "loaded");
	admin_host_push(L, w);
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

struct admin_task *admin_api_running(struct worker *w, lua_State *L)
{
	struct admin_task *t = w->admin ? w->admin->running : NULL;

	return t && (!L || t->co == L) ? t : NULL;
}

const struct http_request *admin_api_task_request(const struct admin_task *t)
{
	return t->req;
}

int admin_api_task_call(struct admin_task *t, const char *host, const char *secret,
			const char *call, const char *encoded_query)
{
	lb_backend_clear(&t->b);
	t->b.host = strdup(host);
	t->b.secret = strdup(secret);
	if (!t->b.host || !t->b.secret)
		return -ENOMEM;
	/* breaker and bulkhead are keyed by host here: the admin knows no backend id */
	snprintf(t->b.id, sizeof(t->b.id), "%.39s", t->b.host);
	buf_reset(&t->url);
	return bbb_backend_spec(&t->spec, &t->url, &t->b, call, "GET", encoded_query, NULL, 0,
				NULL);
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
	if (strcmp(t->req->method, "GET") != 0) {
		route_cache_bump(); /* routing data may have changed: serve nothing older */
		backend_view_stale();
	}
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

/* policy_state.c: building and running the sandboxed policy state.
 *
 * The JIT is off because LuaJIT does not run count hooks inside compiled traces, and the
 * budget hook must always fire. Once the budget is spent the hook re-arms itself on every
 * instruction, so a pcall inside the policy cannot swallow the error. Memory is capped by
 * the allocator: growth past the cap fails and Lua raises a memory error. */
#include "policy_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>

#include "log.h"

#define POLICY_STATE_HOOK_EVERY 1000

static __thread struct policy_state *policy_state_running;

static long long policy_state_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *policy_state_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct policy_state *st = ud;
	void *p;

	if (nsize == 0) {
		free(ptr);
		st->mem_used -= ptr ? osize : 0;
		return NULL;
	}
	/* only growth is refused: shrinking must always work so the GC can recover. And only
	 * inside the protected call: an allocation error while C pushes the arguments (outside
	 * any pcall) would end the process; those pushes are bounded by the request limits */
	if (st->in_call && nsize > osize && st->mem_limit &&
	    st->mem_used - (ptr ? osize : 0) + nsize > st->mem_limit)
		return NULL;
	p = realloc(ptr, nsize);
	if (p)
		st->mem_used = st->mem_used - (ptr ? osize : 0) + nsize;
	return p;
}

static void policy_state_hook(lua_State *L, lua_Debug *ar)
{
	struct policy_state *st = policy_state_running;

	(void)ar;
	if (!st)
		return;
	st->insns += POLICY_STATE_HOOK_EVERY;
	if (!st->budget_hit && st->insns <= st->lim.max_insns &&
	    policy_state_now_ns() <= st->deadline_ns)
		return;
	st->budget_hit = 1;
	lua_sethook(L, policy_state_hook, LUA_MASKCOUNT, 1);
	luaL_error(L, "policy budget exceeded");
}

/* require for trusted code and (through the sandbox's allow-list) for policies. */
static int policy_state_require(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);

	lua_getfield(L, LUA_REGISTRYINDEX, "b3s_loaded");
	lua_getfield(L, -1, name);
	if (!lua_isnil(L, -1))
		return 1;
	lua_pop(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, "b3s_sources");
	lua_getfield(L, -1, name);
	if (!lua_istable(L, -1))
		return luaL_error(L, "module '%s' not found", name);
	lua_rawgeti(L, -1, 1);
	lua_rawgeti(L, -2, 2);
	if (luaL_loadbuffer(L, lua_tostring(L, -2), lua_objlen(L, -2), lua_tostring(L, -1)) != 0)
		return lua_error(L);
	lua_call(L, 0, 1);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, 2, name); /* b3s_loaded[name] */
	return 1;
}

static int policy_state_host_now(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

static int policy_state_host_log(lua_State *L)
{
	const char *level = luaL_optstring(L, 1, "info");
	const char *msg = luaL_optstring(L, 2, "");
	lua_Debug ar;
	char where[128] = "?";

	/* a policy that logs on every call must not flood the journal: 20 lines a second */
	static __thread time_t window;
	static __thread int lines;
	time_t now = time(NULL);

	if (now != window) {
		window = now;
		lines = 0;
	}
	if (++lines > 20)
		return 0;
	if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar))
		snprintf(where, sizeof(where), "%s:%d", ar.short_src, ar.currentline);
	log_msg(strcmp(level, "error") == 0  ? LOG_LVL_ERROR
		: strcmp(level, "warn") == 0 ? LOG_LVL_WARN
		: strcmp(level, "debug") == 0 ? LOG_LVL_DEBUG
					      : LOG_LVL_INFO,
		"policy", "where=%s msg=\"%.300s\"", where, msg);
	return 0;
}

static int policy_state_open(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ "", luaopen_base },		     { LUA_TABLIBNAME, luaopen_table },
		{ LUA_STRLIBNAME, luaopen_string }, { LUA_MATHLIBNAME, luaopen_math },
		{ LUA_BITLIBNAME, luaopen_bit },    { LUA_LOADLIBNAME, luaopen_package },
		{ NULL, NULL },
	};
	const char *const drop[] = { "package", "module", "dofile", "loadfile", "require", NULL };
	const luaL_Reg *l;
	unsigned int seed = 0;
	int i;

	for (l = libs; l->func; l++) {
		lua_pushcfunction(L, l->func);
		lua_pushstring(L, l->name);
		lua_call(L, 1, 0);
	}
	/* cjson is a C module: load it through package once, make a private instance */
	lua_newtable(L);
	lua_getglobal(L, "require");
	lua_pushstring(L, "cjson.safe");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "new");
	lua_call(L, 0, 1);
	lua_setfield(L, -3, "cjson.safe");
	lua_pop(L, 1);
	lua_setfield(L, LUA_REGISTRYINDEX, "b3s_loaded");
	for (i = 0; drop[i]; i++) {
		lua_pushnil(L);
		lua_setglobal(L, drop[i]);
	}
	lua_pushcfunction(L, policy_state_require);
	lua_setglobal(L, "require");
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (unsigned int)time(NULL);
	lua_getglobal(L, "math");
	lua_getfield(L, -1, "randomseed");
	lua_pushnumber(L, seed);
	lua_call(L, 1, 0);
	lua_pop(L, 1);
	return 0;
}

static void policy_state_sources(lua_State *L, const struct policy_bundle *b)
{
	size_t i;

	lua_newtable(L);
	for (i = 0; i < b->n; i++) {
		if (b->files[i].kind != POLICY_FILE_MODULE)
			continue;
		lua_createtable(L, 2, 0);
		lua_pushlstring(L, b->files[i].src, b->files[i].len);
		lua_rawseti(L, -2, 1);
		lua_pushstring(L, b->files[i].chunkname);
		lua_rawseti(L, -2, 2);
		lua_setfield(L, -2, b->files[i].name);
	}
	lua_setfield(L, LUA_REGISTRYINDEX, "b3s_sources");
}

/* Replaces the pure-Lua host stand-ins with the C clock and logger. */
static void policy_state_host(lua_State *L)
{
	lua_getglobal(L, "require");
	lua_pushstring(L, "b3scale.host");
	if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	lua_pushcfunction(L, policy_state_host_now);
	lua_setfield(L, -2, "now");
	lua_pushcfunction(L, policy_state_host_log);
	lua_setfield(L, -2, "log");
	lua_pop(L, 1);
}

/* dispatch.init(policies, chunknames, default, options_json) */
static void policy_state_push_init_args(lua_State *L, const struct policy_bundle *b)
{
	const struct policy_file *opts = policy_bundle_find(b, POLICY_FILE_OPTIONS, "options");
	size_t i;

	lua_newtable(L);
	lua_newtable(L);
	for (i = 0; i < b->n; i++) {
		if (b->files[i].kind != POLICY_FILE_POLICY)
			continue;
		lua_pushlstring(L, b->files[i].src, b->files[i].len);
		lua_setfield(L, -3, b->files[i].name);
		lua_pushstring(L, b->files[i].chunkname);
		lua_setfield(L, -2, b->files[i].name);
	}
	lua_pushstring(L, b->default_policy);
	if (opts)
		lua_pushlstring(L, opts->src, opts->len);
	else
		lua_pushnil(L);
}

int policy_state_new(struct policy_state **out, const struct policy_bundle *b,
		     const struct policy_limits *lim, char *err, size_t errlen)
{
	struct policy_state *st;
	lua_State *L;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->lim = *lim;
	st->generation = b->generation;
	st->bcache = policy_cache_new();
	if (!st->bcache) {
		free(st);
		return -ENOMEM;
	}
	L = lua_newstate(policy_state_alloc, st);
	if (L) {
		st->mem_limit = lim->max_memory;
	} else {
		/* some LuaJIT builds refuse custom allocators; run uncapped rather than not at all */
		L = luaL_newstate();
		log_warn("policy", "event=no_memory_cap reason=\"custom allocator refused\"");
	}
	if (!L) {
		policy_cache_free(st->bcache);
		free(st);
		return -ENOMEM;
	}
	st->L = L;
	luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
	if (lua_cpcall(L, policy_state_open, NULL) != 0) {
		snprintf(err, errlen, "opening Lua libraries: %s", lua_tostring(L, -1));
		goto fail;
	}
	policy_state_sources(L, b);
	policy_state_host(L);
	lua_getglobal(L, "require");
	lua_pushstring(L, "b3scale.dispatch");
	if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1)) {
		snprintf(err, errlen, "loading lua/b3scale/dispatch.lua: %s",
			 lua_isstring(L, -1) ? lua_tostring(L, -1) : "did not return a table");
		goto fail;
	}
	st->dispatch_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	policy_state_push_fn(st, "init");
	policy_state_push_init_args(L, b);
	if (policy_state_call(st, 4, 2) != POLICY_CALL_OK) {
		snprintf(err, errlen, "%s", lua_tostring(L, -1));
		goto fail;
	}
	if (!lua_toboolean(L, -2)) {
		snprintf(err, errlen, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "init failed");
		goto fail;
	}
	lua_settop(L, 0);
	policy_state_push_fn(st, "has_hook");
	lua_pushstring(L, "join_params");
	st->join_hooks = policy_state_call(st, 1, 1) != POLICY_CALL_OK || lua_toboolean(L, -1);
	lua_settop(L, 0);
	*out = st;
	return 0;
fail:
	policy_state_free(st);
	return -EINVAL;
}

void policy_state_free(struct policy_state *st)
{
	if (!st)
		return;
	if (st->L)
		lua_close(st->L);
	policy_cache_free(st->bcache);
	free(st);
}

void policy_state_push_fn(struct policy_state *st, const char *fn)
{
	lua_rawgeti(st->L, LUA_REGISTRYINDEX, st->dispatch_ref);
	lua_getfield(st->L, -1, fn);
	lua_remove(st->L, -2);
}

static int policy_state_traceback(lua_State *L)
{
	/* keep the first line (file:line: message): it is what operators need */
	if (!lua_isstring(L, 1))
		lua_pushstring(L, "(error object is not a string)");
	return 1;
}

enum policy_call_rc policy_state_call(struct policy_state *st, int nargs, int nresults)
{
	lua_State *L = st->L;
	int base = lua_gettop(L) - nargs, rc;

	lua_pushcfunction(L, policy_state_traceback);
	lua_insert(L, base);
	st->insns = 0;
	st->budget_hit = 0;
	st->deadline_ns = policy_state_now_ns() + st->lim.timeout_ms * 1000000LL;
	policy_state_running = st;
	lua_sethook(L, policy_state_hook, LUA_MASKCOUNT, POLICY_STATE_HOOK_EVERY);
	st->in_call = 1;
	rc = lua_pcall(L, nargs, nresults, base);
	st->in_call = 0;
	lua_sethook(L, NULL, 0, 0);
	policy_state_running = NULL;
	lua_remove(L, base);
	if (rc == 0)
		return POLICY_CALL_OK;
	if (rc == LUA_ERRMEM || (lua_isstring(L, -1) && strstr(lua_tostring(L, -1), "not enough memory"))) {
		st->poisoned = 1;
		return POLICY_CALL_NOMEM;
	}
	if (st->budget_hit) {
		st->poisoned = 1;
		return POLICY_CALL_BUDGET;
	}
	return POLICY_CALL_RUNTIME;
}

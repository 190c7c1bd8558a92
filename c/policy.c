/* policy.c: builds the policy Lua state and runs select under a budget.
 *
 * Each worker thread owns one engine, so no lock is needed on the join/create paths.
 * The JIT is off: LuaJIT does not run count hooks inside compiled traces, and the budget
 * hook must always fire. C never trusts a value returned by Lua without checking it. */
#include "policy.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>

#include "buf.h"
#include "config.h"

#define POLICY_HOOK_EVERY 1000
#define POLICY_BUDGET_INSNS 5000000L

struct policy_engine {
	lua_State *L;
	int dispatch_ref;
	long insns;
	int budget_hit;
};

static int policy_read_file(const char *path, struct buf *out, char *err, size_t errlen)
{
	char chunk[8192];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -ENOENT;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
	return out->oom ? -ENOMEM : 0;
}

/* Runs a trusted module file and leaves its return value on the stack. */
static int policy_run_module(lua_State *L, const char *dir, const char *rel, char *err,
			     size_t errlen)
{
	char path[1200], chunkname[1300];
	struct buf src;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(chunkname, sizeof(chunkname), "@%s", rel);
	buf_init(&src);
	rc = policy_read_file(path, &src, err, errlen);
	if (rc == 0 && (luaL_loadbuffer(L, buf_str(&src), src.len, chunkname) != 0 ||
			lua_pcall(L, 0, 1, 0) != 0)) {
		snprintf(err, errlen, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		rc = -EINVAL;
	}
	buf_free(&src);
	return rc;
}

/* Pushes { name = source } for every policies/<name>.lua; names are [a-z0-9_]. */
static int policy_push_sources(lua_State *L, const char *dir, char *err, size_t errlen)
{
	char path[1400], name[256];
	struct dirent *e;
	struct buf src;
	size_t len;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d) {
		snprintf(err, errlen, "cannot open policy directory %s: %s", dir, strerror(errno));
		return -ENOENT;
	}
	lua_newtable(L);
	while (rc == 0 && (e = readdir(d))) {
		len = strlen(e->d_name);
		if (len < 5 || len >= sizeof(name) || strcmp(e->d_name + len - 4, ".lua") != 0 ||
		    strspn(e->d_name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len - 4)
			continue;
		memcpy(name, e->d_name, len - 4);
		name[len - 4] = '\0';
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		buf_init(&src);
		rc = policy_read_file(path, &src, err, errlen);
		if (rc == 0) {
			lua_pushlstring(L, buf_str(&src), src.len);
			lua_setfield(L, -2, name);
		}
		buf_free(&src);
	}
	closedir(d);
	return rc;
}

static int policy_open_libs(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ "", luaopen_base },	       { LUA_TABLIBNAME, luaopen_table },
		{ LUA_STRLIBNAME, luaopen_string }, { LUA_MATHLIBNAME, luaopen_math },
		{ LUA_BITLIBNAME, luaopen_bit },    { LUA_LOADLIBNAME, luaopen_package },
		{ NULL, NULL },
	};
	const luaL_Reg *l;

	for (l = libs; l->func; l++) {
		lua_pushcfunction(L, l->func);
		lua_pushstring(L, l->name);
		lua_call(L, 1, 0);
	}
	/* cjson is a C module: load it through package once, then take package away */
	lua_getglobal(L, "require");
	lua_pushstring(L, "cjson.safe");
	lua_call(L, 1, 1);
	lua_setfield(L, LUA_REGISTRYINDEX, "b3s_cjson");
	lua_pushnil(L);
	lua_setglobal(L, "package");
	lua_pushnil(L);
	lua_setglobal(L, "module");
	return 0;
}

static int policy_require_cjson(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, "b3s_cjson");
	return 1;
}

int policy_open(struct policy_engine **out, const struct lb_config *cfg, char *err,
		size_t errlen)
{
	struct policy_engine *pe;
	lua_State *L;
	int rc = -EINVAL;

	*out = NULL;
	pe = calloc(1, sizeof(*pe));
	if (!pe)
		return -ENOMEM;
	L = pe->L = luaL_newstate();
	if (!L) {
		free(pe);
		return -ENOMEM;
	}
	luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
	if (lua_cpcall(L, policy_open_libs, NULL) != 0) {
		snprintf(err, errlen, "opening Lua libraries: %s", lua_tostring(L, -1));
		goto fail;
	}
	/* trusted modules see only cjson.safe through require */
	lua_pushcfunction(L, policy_require_cjson);
	lua_setglobal(L, "require");
	if (policy_run_module(L, cfg->lua_dir, "b3scale/dispatch.lua", err, errlen) < 0)
		goto fail;
	lua_pushvalue(L, -1);
	pe->dispatch_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_getfield(L, -1, "init");
	if (policy_push_sources(L, cfg->policy_dir, err, errlen) < 0)
		goto fail;
	lua_newtable(L);
	if (policy_run_module(L, cfg->lua_dir, "b3scale/policy.lua", err, errlen) < 0)
		goto fail;
	lua_setfield(L, -2, "b3scale.policy");
	lua_pushstring(L, cfg->default_policy);
	if (lua_pcall(L, 3, 2, 0) != 0 || !lua_toboolean(L, -2)) {
		snprintf(err, errlen, "loading policies: %s", lua_tostring(L, -1));
		goto fail;
	}
	lua_settop(L, 0);
	*out = pe;
	return 0;
fail:
	lua_close(L);
	free(pe);
	return rc;
}

void policy_close(struct policy_engine *pe)
{
	if (!pe)
		return;
	lua_close(pe->L);
	free(pe);
}

static __thread struct policy_engine *policy_current;

static void policy_hook(lua_State *L, lua_Debug *ar)
{
	struct policy_engine *pe = policy_current;

	(void)ar;
	if (!pe)
		return;
	pe->insns += POLICY_HOOK_EVERY;
	if (pe->insns > POLICY_BUDGET_INSNS || pe->budget_hit) {
		pe->budget_hit = 1;
		/* fire on every instruction from now on so a pcall in the policy cannot swallow it */
		lua_sethook(L, policy_hook, LUA_MASKCOUNT, 1);
		luaL_error(L, "policy budget exceeded");
	}
}

static void policy_push_req(lua_State *L, const struct policy_request *req)
{
	size_t i;

	lua_createtable(L, 0, 8);
	lua_pushstring(L, req->action);
	lua_setfield(L, -2, "action");
	lua_pushstring(L, req->meeting_id);
	lua_setfield(L, -2, "meeting_id");
	lua_pushinteger(L, (lua_Integer)req->attempt);
	lua_setfield(L, -2, "attempt");
	lua_pushnumber(L, (lua_Number)time(NULL));
	lua_setfield(L, -2, "now");
	lua_createtable(L, 0, 2);
	lua_pushstring(L, req->frontend_key);
	lua_setfield(L, -2, "key");
	lua_setfield(L, -2, "frontend");
	lua_createtable(L, 0, (int)req->params->n);
	for (i = 0; i < req->params->n; i++) {
		lua_pushstring(L, req->params->v[i].value);
		lua_setfield(L, -2, req->params->v[i].key);
	}
	lua_setfield(L, -2, "params");
	lua_createtable(L, 0, (int)req->nexcluded);
	for (i = 0; i < req->nexcluded; i++) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, req->excluded[i]);
	}
	lua_setfield(L, -2, "excluded");
}

static void policy_push_backends(lua_State *L, const struct lb_backend_list *bl)
{
	const struct lb_backend *b;
	const char *p;
	size_t i, n;

	lua_createtable(L, (int)bl->n, 0);
	for (i = 0; i < bl->n; i++) {
		b = &bl->v[i];
		lua_createtable(L, 0, 14);
		lua_pushinteger(L, (lua_Integer)(i + 1));
		lua_setfield(L, -2, "index");
		lua_pushinteger(L, (lua_Integer)(i + 1));
		lua_setfield(L, -2, "order");
		lua_pushstring(L, b->id);
		lua_setfield(L, -2, "id");
		lua_pushstring(L, b->host);
		lua_setfield(L, -2, "host");
		lua_pushnumber(L, b->load_factor);
		lua_setfield(L, -2, "load_factor");
		lua_pushinteger(L, b->meetings);
		lua_setfield(L, -2, "meetings");
		lua_pushinteger(L, 0);
		lua_setfield(L, -2, "pending");
		lua_pushinteger(L, b->participants);
		lua_setfield(L, -2, "participants");
		lua_pushinteger(L, b->video);
		lua_setfield(L, -2, "video");
		lua_pushinteger(L, b->voice);
		lua_setfield(L, -2, "voice");
		lua_pushinteger(L, b->listeners);
		lua_setfield(L, -2, "listeners");
		lua_newtable(L);
		for (p = b->tags ? b->tags : ""; *p; p += n + (p[n] == ',')) {
			n = strcspn(p, ",");
			if (!n)
				continue;
			lua_pushlstring(L, p, n);
			lua_pushboolean(L, 1);
			lua_settable(L, -3);
		}
		lua_setfield(L, -2, "tags");
		lua_rawseti(L, -2, (int)(i + 1));
	}
}

enum policy_outcome policy_select(struct policy_engine *pe, const struct policy_request *req,
				  const struct lb_backend_list *bl, size_t *index, char *reason,
				  size_t reasonlen)
{
	lua_State *L = pe->L;
	enum policy_outcome out;
	lua_Number idx;
	int rc;

	reason[0] = '\0';
	lua_settop(L, 0);
	lua_rawgeti(L, LUA_REGISTRYINDEX, pe->dispatch_ref);
	lua_getfield(L, -1, "select");
	lua_remove(L, 1);
	policy_push_req(L, req);
	policy_push_backends(L, bl);
	lua_pushstring(L, req->settings_json ? req->settings_json : "{}");
	pe->insns = 0;
	pe->budget_hit = 0;
	policy_current = pe;
	lua_sethook(L, policy_hook, LUA_MASKCOUNT, POLICY_HOOK_EVERY);
	rc = lua_pcall(L, 3, 2, 0);
	lua_sethook(L, NULL, 0, 0);
	policy_current = NULL;
	if (rc != 0) {
		snprintf(reason, reasonlen, "%s",
			 lua_isstring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)");
		out = rc == LUA_ERRMEM ? POLICY_ERR_NOMEM
		      : pe->budget_hit ? POLICY_ERR_BUDGET
				       : POLICY_ERR_RUNTIME;
		goto out;
	}
	if (lua_isnil(L, -2)) {
		snprintf(reason, reasonlen, "%s",
			 lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "no reason given");
		out = lua_type(L, -1) == LUA_TSTRING ? POLICY_NONE : POLICY_ERR_BADRET;
		goto out;
	}
	idx = lua_type(L, -2) == LUA_TNUMBER ? lua_tonumber(L, -2) : 0;
	if (lua_type(L, -2) != LUA_TNUMBER || !lua_isnil(L, -1) || idx != (lua_Number)(long)idx ||
	    idx < 1 || idx > (lua_Number)bl->n) {
		snprintf(reason, reasonlen, "select returned %s, not an index from 1 to %zu",
			 luaL_typename(L, -2), bl->n);
		out = POLICY_ERR_BADRET;
		goto out;
	}
	*index = (size_t)idx - 1;
	out = POLICY_OK;
out:
	lua_settop(L, 0);
	return out;
}

const char *policy_outcome_name(enum policy_outcome o)
{
	switch (o) {
	case POLICY_OK:
		return "ok";
	case POLICY_NONE:
		return "none";
	case POLICY_ERR_RUNTIME:
		return "runtime";
	case POLICY_ERR_BUDGET:
		return "budget";
	case POLICY_ERR_BADRET:
		return "badret";
	case POLICY_ERR_NOMEM:
		return "nomem";
	}
	return "unknown";
}

/* policy.c: publishing validated policy bundles, per-worker engines, and the calls C makes
 * into Lua (select and the presentation hooks), each checked before it is trusted. */
#include "policy.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "config.h"
#include "log.h"
#include "policy_bundle.h"
#include "policy_push.h"
#include "policy_state.h"
#include "policy_stats.h"

struct policy_engine {
	struct policy_state *st;
};

static pthread_mutex_t policy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct policy_bundle *policy_current;  /* guarded by policy_lock */
static atomic_ulong policy_gen; /* read by every worker without the lock */
static unsigned long policy_failures;
static char policy_lua_dir[1024], policy_dir[1024], policy_default[64];
static struct policy_limits policy_limits;
static char policy_err[1024];
static time_t policy_err_at;

static void policy_set_limits(const struct lb_config *cfg)
{
	policy_limits.max_insns = cfg->policy_max_insns;
	policy_limits.timeout_ms = cfg->policy_timeout_ms;
	policy_limits.max_memory = cfg->policy_max_memory;
	snprintf(policy_lua_dir, sizeof(policy_lua_dir), "%s", cfg->lua_dir);
	snprintf(policy_dir, sizeof(policy_dir), "%s", cfg->policy_dir);
	snprintf(policy_default, sizeof(policy_default), "%s", cfg->default_policy);
}

/* Builds a throwaway state from b, smoke-tests every policy and checks required names. */
static int policy_validate(const struct policy_bundle *b, const char *const *required,
			   size_t nrequired, char *err, size_t errlen)
{
	struct policy_state *st;
	size_t i;
	int rc;

	rc = policy_state_new(&st, b, &policy_limits, err, errlen);
	if (rc < 0)
		return rc;
	policy_state_push_fn(st, "smoke");
	if (policy_state_call(st, 0, 2) != POLICY_CALL_OK || !lua_toboolean(st->L, -2)) {
		snprintf(err, errlen, "%s", lua_isstring(st->L, -1) ? lua_tostring(st->L, -1)
								     : "smoke test failed");
		rc = -EINVAL;
	}
	for (i = 0; rc == 0 && i < nrequired; i++) {
		if (!policy_bundle_find(b, POLICY_FILE_POLICY, required[i])) {
			snprintf(err, errlen, "a frontend uses policy '%s' but policies/%s.lua does not exist",
				 required[i], required[i]);
			rc = -ENOENT;
		}
	}
	policy_state_free(st);
	return rc;
}

static int policy_load(struct policy_bundle **out, const char *const *required, size_t nrequired,
		       char *err, size_t errlen)
{
	struct policy_bundle *b;
	int rc;

	rc = policy_bundle_read(&b, policy_lua_dir, policy_dir, policy_default, err, errlen);
	if (rc < 0)
		return rc;
	rc = policy_validate(b, required, nrequired, err, errlen);
	if (rc < 0) {
		policy_bundle_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

static void policy_unref(struct policy_bundle *b)
{
	int last;

	if (!b)
		return;
	pthread_mutex_lock(&policy_lock);
	last = --b->refs == 0;
	pthread_mutex_unlock(&policy_lock);
	if (last)
		policy_bundle_free(b);
}

static void policy_publish(struct policy_bundle *b)
{
	struct policy_bundle *old;

	pthread_mutex_lock(&policy_lock);
	b->generation = atomic_load(&policy_gen) + 1;
	b->refs = 1;
	old = policy_current;
	policy_current = b;
	atomic_store(&policy_gen, b->generation);
	policy_err[0] = '\0';
	pthread_mutex_unlock(&policy_lock);
	policy_unref(old);
}

int policy_setup(const struct lb_config *cfg, char *err, size_t errlen)
{
	struct policy_bundle *b;
	int rc;

	policy_set_limits(cfg);
	rc = policy_load(&b, NULL, 0, err, errlen);
	if (rc < 0)
		return rc;
	policy_publish(b);
	return 0;
}

void policy_teardown(void)
{
	struct policy_bundle *b;

	pthread_mutex_lock(&policy_lock);
	b = policy_current;
	policy_current = NULL;
	pthread_mutex_unlock(&policy_lock);
	policy_unref(b);
}

int policy_reload(const char *const *required, size_t nrequired, char *err, size_t errlen)
{
	struct policy_bundle *b;
	int rc;

	rc = policy_load(&b, required, nrequired, err, errlen);
	if (rc < 0) {
		pthread_mutex_lock(&policy_lock);
		policy_failures++;
		snprintf(policy_err, sizeof(policy_err), "%s", err);
		policy_err_at = time(NULL);
		pthread_mutex_unlock(&policy_lock);
		log_error("policy", "event=reload_failed generation=%lu error=\"%s\"", atomic_load(&policy_gen), err);
		return rc;
	}
	policy_publish(b);
	log_info("policy", "event=reloaded generation=%lu", atomic_load(&policy_gen));
	return 0;
}

int policy_check(const struct lb_config *cfg, const char *const *required, size_t nrequired,
		 char *err, size_t errlen)
{
	struct policy_bundle *b;
	int rc;

	policy_set_limits(cfg);
	rc = policy_load(&b, required, nrequired, err, errlen);
	policy_bundle_free(rc == 0 ? b : NULL);
	return rc;
}

unsigned long policy_generation(void)
{
	return atomic_load(&policy_gen);
}

unsigned long policy_reload_failures(void)
{
	unsigned long n;

	pthread_mutex_lock(&policy_lock); /* /metrics reads it while a reload counts */
	n = policy_failures;
	pthread_mutex_unlock(&policy_lock);
	return n;
}

void policy_last_error(char *buf, size_t len, time_t *when)
{
	pthread_mutex_lock(&policy_lock);
	snprintf(buf, len, "%s", policy_err);
	*when = policy_err_at;
	pthread_mutex_unlock(&policy_lock);
}

struct policy_engine *policy_engine_sync(struct policy_engine *pe)
{
	struct policy_bundle *b;
	struct policy_state *st;
	char err[1024];

	if (pe && pe->st && pe->st->generation == atomic_load(&policy_gen) && !pe->st->poisoned)
		return pe;
	pthread_mutex_lock(&policy_lock);
	b = policy_current;
	if (b)
		b->refs++;
	pthread_mutex_unlock(&policy_lock);
	if (!b)
		return pe;
	if (policy_state_new(&st, b, &policy_limits, err, sizeof(err)) < 0) {
		/* validated sources should always build; keep serving with what we have */
		log_error("policy", "event=state_build_failed generation=%lu error=\"%s\"",
			  b->generation, err);
		policy_unref(b);
		return pe;
	}
	policy_unref(b);
	if (!pe)
		pe = calloc(1, sizeof(*pe));
	if (!pe) {
		policy_state_free(st);
		return NULL;
	}
	policy_state_free(pe->st);
	pe->st = st;
	return pe;
}

void policy_engine_free(struct policy_engine *pe)
{
	if (!pe)
		return;
	policy_state_free(pe->st);
	free(pe);
}

static enum policy_outcome policy_call_outcome(enum policy_call_rc rc)
{
	switch (rc) {
	case POLICY_CALL_OK:
		return POLICY_OK;
	case POLICY_CALL_BUDGET:
		return POLICY_ERR_BUDGET;
	case POLICY_CALL_NOMEM:
		return POLICY_ERR_NOMEM;
	case POLICY_CALL_RUNTIME:
		break;
	}
	return POLICY_ERR_RUNTIME;
}

/* After a failed select: which policy it was (unknown when the settings name none that
 * exists), for the log line and the counters; a state that just ran out of budget or memory
 * still answers this small call (the budget starts anew). */
static void policy_select_name(struct policy_engine *pe, const struct policy_request *req,
			       char *policy, size_t policylen)
{
	lua_State *L = pe->st->L;

	lua_settop(L, 0);
	policy_state_push_fn(pe->st, "policy_name");
	lua_pushstring(L, req->settings_json ? req->settings_json : "{}");
	if (policy_state_call(pe->st, 1, 1) == POLICY_CALL_OK && lua_isstring(L, -1))
		snprintf(policy, policylen, "%s", lua_tostring(L, -1));
}

/* dispatch.select's results past the index: the explanation's JSON and short reason, kept
 * only when they are strings that fit (dispatch.lua bounds them; this is the C check). */
static void policy_read_explain(lua_State *L, struct policy_explain *ex)
{
	size_t n;
	const char *s;

	if (!ex)
		return;
	if (lua_type(L, -2) == LUA_TSTRING) {
		s = lua_tolstring(L, -2, &n);
		if (n < sizeof(ex->json) && strlen(s) == n)
			memcpy(ex->json, s, n + 1);
	}
	if (ex->json[0] && lua_type(L, -1) == LUA_TSTRING)
		snprintf(ex->reason, sizeof(ex->reason), "%s", lua_tostring(L, -1));
}

enum policy_outcome policy_select_explain(struct policy_engine *pe,
					  const struct policy_request *req,
					  const struct lb_backend_list *bl, size_t *index,
					  char *reason, size_t reasonlen, char *policy,
					  size_t policylen, struct policy_explain *ex)
{
	lua_State *L;
	enum policy_outcome out;
	lua_Number idx;

	reason[0] = '\0';
	if (ex)
		ex->json[0] = ex->reason[0] = '\0';
	snprintf(policy, policylen, "unknown");
	if (!pe || !pe->st) {
		snprintf(reason, reasonlen, "policy engine not loaded");
		return POLICY_ERR_RUNTIME;
	}
	L = pe->st->L;
	lua_settop(L, 0);
	policy_state_push_fn(pe->st, "select");
	policy_push_request(L, req);
	if (policy_cache_push(L, pe->st->bcache, bl) < 0) {
		snprintf(reason, reasonlen, "out of memory passing the backends");
		out = POLICY_ERR_NOMEM;
		goto out;
	}
	lua_pushstring(L, req->settings_json ? req->settings_json : "{}");
	/* name, index, second value (a reason without index), explanation JSON, short reason */
	out = policy_call_outcome(policy_state_call(pe->st, 3, 5));
	if (out != POLICY_OK) {
		snprintf(reason, reasonlen, "%s",
			 lua_isstring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)");
		policy_select_name(pe, req, policy, policylen);
		goto out;
	}
	if (lua_isstring(L, -5))
		snprintf(policy, policylen, "%s", lua_tostring(L, -5));
	if (lua_isnil(L, -4)) {
		snprintf(reason, reasonlen, "%s",
			 lua_type(L, -3) == LUA_TSTRING ? lua_tostring(L, -3) : "select returned nil without a reason");
		out = lua_type(L, -3) == LUA_TSTRING ? POLICY_NONE : POLICY_ERR_BADRET;
		goto out;
	}
	idx = lua_type(L, -4) == LUA_TNUMBER ? lua_tonumber(L, -4) : 0;
	/* range first: converting 1e300 or nan to an integer would be undefined behaviour */
	if (lua_type(L, -4) != LUA_TNUMBER || !lua_isnil(L, -3) || !(idx >= 1) ||
	    idx > (lua_Number)bl->n || idx != (lua_Number)(long)idx) {
		snprintf(reason, reasonlen,
			 "%s: select returned %s%s, not an index from 1 to %zu", policy,
			 luaL_typename(L, -4), lua_isnil(L, -3) ? "" : " and a second value", bl->n);
		if (lua_type(L, -4) == LUA_TNUMBER)
			snprintf(reason + strlen(reason), reasonlen - strlen(reason), " (got %g)",
				 (double)idx);
		out = POLICY_ERR_BADRET;
		goto out;
	}
	*index = (size_t)idx - 1;
	policy_read_explain(L, ex);
out:
	lua_settop(L, 0);
	return out;
}

enum policy_outcome policy_select(struct policy_engine *pe, const struct policy_request *req,
				  const struct lb_backend_list *bl, size_t *index, char *reason,
				  size_t reasonlen, char *policy, size_t policylen)
{
	return policy_select_explain(pe, req, bl, index, reason, reasonlen, policy, policylen,
				     NULL);
}

static void policy_push_present(lua_State *L, const struct policy_present *in,
				const struct query *params, int join)
{
	lua_createtable(L, 0, 8);
	lua_createtable(L, 0, 2);
	lua_pushstring(L, in->frontend_key);
	lua_setfield(L, -2, "key");
	lua_setfield(L, -2, "frontend");
	lua_pushstring(L, in->meeting_id);
	lua_setfield(L, -2, "meeting_id");
	policy_push_params(L, params);
	lua_setfield(L, -2, "params");
	if (join) {
		lua_pushinteger(L, in->frontend_attendees);
		lua_setfield(L, -2, "frontend_attendees");
		lua_pushinteger(L, in->meeting_attendees);
		lua_setfield(L, -2, "meeting_attendees");
	} else if (in->body) {
		lua_pushlstring(L, in->body, in->body_len);
		lua_setfield(L, -2, "body");
	}
	if (in->content_type) {
		lua_pushstring(L, in->content_type);
		lua_setfield(L, -2, "content_type");
	}
}

/* Runs dispatch.<fn>(req, settings, order) -> list, body | nil, key, msg. */
static int policy_present_call(struct policy_engine *pe, const char *fn, int join,
			       const struct policy_present *in, struct query *params, char **body,
			       size_t *body_len, char *key, size_t keylen, char *msg, size_t msglen)
{
	lua_State *L;
	enum policy_outcome out;
	int rc = 0;

	if (!pe || !pe->st)
		return -EINVAL;
	L = pe->st->L;
	lua_settop(L, 0);
	policy_state_push_fn(pe->st, fn);
	policy_push_present(L, in, params, join);
	lua_pushstring(L, in->settings_json ? in->settings_json : "{}");
	policy_push_order(L, params);
	out = policy_call_outcome(policy_state_call(pe->st, 3, 3));
	if (out != POLICY_OK) {
		policy_stats_log_error(fn, policy_outcome_name(out), in->frontend_key,
				       lua_isstring(L, -1) ? lua_tostring(L, -1) : "error");
		rc = -EINVAL;
		goto out;
	}
	if (lua_isnil(L, 1)) {
		snprintf(key, keylen, "%s", lua_isstring(L, 2) ? lua_tostring(L, 2) : "internalError");
		snprintf(msg, msglen, "%s", lua_isstring(L, 3) ? lua_tostring(L, 3) : "Rejected.");
		rc = 1;
		goto out;
	}
	if (!lua_istable(L, 1) || policy_push_read_params(L, 1, params) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if (body && lua_type(L, 2) == LUA_TSTRING) {
		size_t n;
		const char *s = lua_tolstring(L, 2, &n);
		*body = malloc(n + 1);
		if (*body) {
			memcpy(*body, s, n + 1);
			*body_len = n;
		}
	}
out:
	lua_settop(L, 0);
	return rc;
}

int policy_create_params(struct policy_engine *pe, const struct policy_present *in,
			 struct query *params, char **body, size_t *body_len, char *key,
			 size_t keylen, char *msg, size_t msglen)
{
	*body = NULL;
	*body_len = 0;
	return policy_present_call(pe, "create_params", 0, in, params, body, body_len, key, keylen,
				   msg, msglen);
}

int policy_join_params(struct policy_engine *pe, const struct policy_present *in,
		       struct query *params, char *key, size_t keylen, char *msg, size_t msglen)
{
	const char *s = in->settings_json ? in->settings_json : "";

	/* joins are every user's hot path: no Lua call when nothing could change the join */
	if (pe && pe->st && !pe->st->join_hooks && !strstr(s, "join_default_params") &&
	    !strstr(s, "join_override_params") && !strstr(s, "attendees_limit"))
		return 0;
	return policy_present_call(pe, "join_params", 1, in, params, NULL, NULL, key, keylen, msg,
				   msglen);
}

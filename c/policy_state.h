/* policy_state.h: one sandboxed Lua state built from a bundle, and calls into it under a
 * budget. Owned by one thread at a time; never shared. */
#ifndef B3S_POLICY_STATE_H
#define B3S_POLICY_STATE_H

#include <stddef.h>

#include <lua.h>

#include "policy_bundle.h"
#include "policy_cache.h"

struct policy_limits {
	long max_insns;    /* per call */
	long timeout_ms;   /* per call */
	size_t max_memory; /* per state, bytes */
};

enum policy_call_rc {
	POLICY_CALL_OK,
	POLICY_CALL_RUNTIME,
	POLICY_CALL_BUDGET,
	POLICY_CALL_NOMEM,
};

struct policy_state {
	lua_State *L;
	int dispatch_ref;
	size_t mem_used;
	size_t mem_limit;
	int in_call;       /* the cap applies inside policy_state_call only */
	struct policy_limits lim;
	long insns;
	long long deadline_ns;
	int budget_hit;
	int poisoned;      /* after NOMEM or BUDGET: rebuild before the next call */
	int join_hooks;    /* some policy defines join_params */
	unsigned long generation;
	struct policy_cache *bcache; /* select's backend tables, kept between calls */
};

/* Builds the state: JIT off, safe libraries only, modules from the bundle, every policy
 * loaded, shape-checked and configured. err names file and line on failure. */
int policy_state_new(struct policy_state **out, const struct policy_bundle *b,
		     const struct policy_limits *lim, char *err, size_t errlen);
void policy_state_free(struct policy_state *st);
/* Pushes dispatch[fn] (a function) on the stack. */
void policy_state_push_fn(struct policy_state *st, const char *fn);
/* lua_pcall under the budget; on error the message is left on the stack. */
enum policy_call_rc policy_state_call(struct policy_state *st, int nargs, int nresults);

#endif

/* sim_cases.h: policy test cases (`b3scaled simulate --cases FILE`, run by
 * `b3scalectl policy test`): each case's request and backends through the daemon's own
 * policy_select_explain, the outcomes printed as JSON. */
#ifndef B3S_SIM_CASES_H
#define B3S_SIM_CASES_H

#include <stddef.h>

#include <lua.h>

struct lb_config;

/* L: the simtrace helper (module at index 1). policy: the default for cases that name
 * none (may be NULL). Prints {"cases":[...]} on stdout; 0, or negative with err. */
int sim_cases_run(const struct lb_config *cfg, lua_State *L, const char *file,
		  const char *policy, char *err, size_t errlen);

#endif

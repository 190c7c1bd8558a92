/* simulate.h: `b3scaled simulate` (docs/simulate.md). */
#ifndef B3S_SIMULATE_H
#define B3S_SIMULATE_H

#include <lua.h>

#include "lb.h"

struct lb_config;

/* argv: the arguments after "simulate". Returns the exit status (0, 1 failed, 2 usage). */
int simulate_main(const struct lb_config *cfg, int argc, char **argv);
/* A backend from the node table on top of L (lua/b3scale/simtrace.lua's shape); the
 * strings are malloc'd (lb_backend_clear frees them). 0 or -ENOMEM. */
int simulate_backend_from_lua(lua_State *L, struct lb_backend *b);

#endif

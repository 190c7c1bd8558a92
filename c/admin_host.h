/* admin_host.h: the admin Lua state's host binding (see admin_host.c). */
#ifndef B3S_ADMIN_HOST_H
#define B3S_ADMIN_HOST_H

#include <lua.h>

#include "worker.h"

/* Pushes the b3scale.admin_host table for worker w's admin state. */
void admin_host_push(lua_State *L, struct worker *w);

#endif

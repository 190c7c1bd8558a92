/* policy_cache.h: the backend tables a policy's select sees, kept between calls of one Lua
 * state and updated field by field. */
#ifndef B3S_POLICY_CACHE_H
#define B3S_POLICY_CACHE_H

#include <lua.h>

#include "lb.h"

struct policy_cache;

struct policy_cache *policy_cache_new(void);
/* Frees the C side; the Lua side goes with its state. */
void policy_cache_free(struct policy_cache *c);
/* Pushes backends[i] = { index, order, id, host, tags, load_factor, meetings, pending, ... }
 * as a new array of the cached tables; 0, or -ENOMEM with nothing pushed. */
int policy_cache_push(lua_State *L, struct policy_cache *c, const struct lb_backend_list *bl);

#endif

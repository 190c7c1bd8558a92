/* policy_builtin.h: the C fallback used when a Lua policy fails (least_load semantics). */
#ifndef B3S_POLICY_BUILTIN_H
#define B3S_POLICY_BUILTIN_H

#include <stddef.h>

#include "lb.h"

#define POLICY_BUILTIN_ATTENDEE_BASE 15

/* Picks like policies/least_load.lua: required tags (comma-separated), excluded ids skipped,
 * smallest load, ties by list order. 0 with *index set, -ENOENT when nothing qualifies. */
/* The one load formula: load_factor x max((meetings + pending) x 15, participants). The
 * fallback places by it, /metrics and the status page show it; policies/least_load.lua
 * computes the same (spec/unit/fallback_agrees_spec.lua holds them together). */
double policy_builtin_load(double load_factor, long meetings, long pending, long participants);
int policy_builtin_least_load(const struct lb_backend_list *bl, const char *required_tags,
			      const char *const *excluded, size_t nexcluded, size_t *index);

#endif

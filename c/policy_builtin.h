/* policy_builtin.h: the C fallback used when a Lua policy fails (least_load semantics). */
#ifndef B3S_POLICY_BUILTIN_H
#define B3S_POLICY_BUILTIN_H

#include <stddef.h>

#include "lb.h"

#define POLICY_BUILTIN_ATTENDEE_BASE 15
/* why nothing was placed when every candidate was at a cap (lb.FULL in Lua says the same) */
#define POLICY_BUILTIN_FULL_REASON \
	"the cluster is full (every eligible server is at its max_meetings or max_attendees cap)"

/* The one load rule (policies/README.md, "The load"), as lb.attendees and lb.load compute
 * it in lua/b3scale/policy.lua; spec/unit/fallback_agrees_spec.lua holds them together.
 * attendees: max((meetings + pending) x attendee_base, participants + reserved).
 * load: load_factor x attendees, plus cpu_weight x cpu when the node reports its CPU. */
double policy_builtin_attendees(long meetings, long pending, long participants, long reserved,
				double attendee_base);
double policy_builtin_load_of(const struct lb_backend *b, double attendee_base,
			      double cpu_weight);
/* The load with 15 and nothing reserved, as /metrics and the status page show it. */
double policy_builtin_load(double load_factor, long meetings, long pending, long participants);
/* 0 when b has reached a cap: meetings + pending >= max_meetings, or attendees (above) >=
 * max_attendees; as lb.has_room. */
int policy_builtin_has_room(const struct lb_backend *b, double attendee_base);
/* Picks like policies/least_load.lua with its default options: required tags
 * (comma-separated), excluded ids skipped, full nodes skipped, smallest load, ties by list
 * order. 0 with *index set; -ENOSPC when every candidate was full; -ENOENT when there was
 * no candidate at all. */
int policy_builtin_least_load(const struct lb_backend_list *bl, const char *required_tags,
			      const char *const *excluded, size_t nexcluded, size_t *index);

#endif

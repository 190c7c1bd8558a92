/* policy_builtin.c: placement that needs no Lua, so a broken policy never stops creates. */
#include "policy_builtin.h"

#include <errno.h>
#include <string.h>

static int policy_builtin_excluded(const char *id, const char *const *ex, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(ex[i], id) == 0)
			return 1;
	return 0;
}

static int policy_builtin_tags_ok(const struct lb_backend *b, const char *req)
{
	char tag[256];
	size_t n;

	for (; req && *req; req += n + (req[n] == ',')) {
		n = strcspn(req, ",");
		if (!n || n >= sizeof(tag))
			continue;
		memcpy(tag, req, n);
		tag[n] = '\0';
		if (!lb_backend_has_tag(b, tag))
			return 0;
	}
	return 1;
}

double policy_builtin_attendees(long meetings, long pending, long participants, long reserved,
				double attendee_base)
{
	double m = (double)(meetings + pending) * attendee_base;
	double a = (double)participants + (double)(reserved > 0 ? reserved : 0);

	return m > a ? m : a;
}

double policy_builtin_load_of(const struct lb_backend *b, double attendee_base, double cpu_weight)
{
	double load = b->load_factor * policy_builtin_attendees(b->meetings, b->pending,
								b->participants, b->reserved,
								attendee_base);

	if (cpu_weight > 0 && b->cpu >= 0)
		load += cpu_weight * b->cpu;
	return load;
}

double policy_builtin_load(double load_factor, long meetings, long pending, long participants)
{
	struct lb_backend b;

	memset(&b, 0, sizeof(b));
	b.load_factor = load_factor;
	b.meetings = meetings;
	b.pending = pending;
	b.participants = participants;
	b.cpu = -1;
	return policy_builtin_load_of(&b, POLICY_BUILTIN_ATTENDEE_BASE, 0);
}

int policy_builtin_has_room(const struct lb_backend *b, double attendee_base)
{
	if (b->max_meetings > 0 && b->meetings + b->pending >= b->max_meetings)
		return 0;
	if (b->max_attendees > 0 &&
	    policy_builtin_attendees(b->meetings, b->pending, b->participants, b->reserved,
				     attendee_base) >= (double)b->max_attendees)
		return 0;
	return 1;
}

int policy_builtin_least_load(const struct lb_backend_list *bl, const char *required_tags,
			      const char *const *excluded, size_t nexcluded, size_t *index)
{
	double best = 0, load;
	size_t i;
	int found = 0, full = 0;

	for (i = 0; i < bl->n; i++) {
		const struct lb_backend *b = &bl->v[i];
		if (policy_builtin_excluded(b->id, excluded, nexcluded) ||
		    !policy_builtin_tags_ok(b, required_tags))
			continue;
		if (!policy_builtin_has_room(b, POLICY_BUILTIN_ATTENDEE_BASE)) {
			full = 1;
			continue;
		}
		load = policy_builtin_load_of(b, POLICY_BUILTIN_ATTENDEE_BASE, 0);
		/* strict '<' keeps the earlier backend on ties: list order is order, then id */
		if (!found || load < best) {
			best = load;
			*index = i;
			found = 1;
		}
	}
	if (found)
		return 0;
	return full ? -ENOSPC : -ENOENT;
}

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

double policy_builtin_load(double load_factor, long meetings, long pending, long participants)
{
	double m = (double)(meetings + pending) * POLICY_BUILTIN_ATTENDEE_BASE;

	return load_factor * (m > (double)participants ? m : (double)participants);
}

int policy_builtin_least_load(const struct lb_backend_list *bl, const char *required_tags,
			      const char *const *excluded, size_t nexcluded, size_t *index)
{
	double best = 0, load;
	size_t i;
	int found = 0;

	for (i = 0; i < bl->n; i++) {
		const struct lb_backend *b = &bl->v[i];
		if (policy_builtin_excluded(b->id, excluded, nexcluded) ||
		    !policy_builtin_tags_ok(b, required_tags))
			continue;
		load = policy_builtin_load(b->load_factor, b->meetings, b->pending, b->participants);
		/* strict '<' keeps the earlier backend on ties: list order is order, then id */
		if (!found || load < best) {
			best = load;
			*index = i;
			found = 1;
		}
	}
	return found ? 0 : -ENOENT;
}

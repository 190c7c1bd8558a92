/* placement_ffi.c: the C fallback's placement rule, reachable from specs through LuaJIT's FFI
 * (libb3scale.so), so the specs can hold it and policies/least_load.lua together. */
#include "placement_ffi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy_builtin.h"

static void placement_ffi_backend(struct lb_backend *b, const double *x)
{
	memset(b, 0, sizeof(*b));
	b->load_factor = x[0];
	b->meetings = (long)x[1];
	b->pending = (long)x[2];
	b->participants = (long)x[3];
	b->reserved = (long)x[4];
	b->max_meetings = (long)x[5];
	b->max_attendees = (long)x[6];
	b->cpu = x[7];
	b->mem = -1;
}

int placement_ffi_least_load(int n, const double *nums, const char *const *tags,
			     const int *excluded, const char *required_tags)
{
	struct lb_backend v[64];
	struct lb_backend_list bl = { v, 0, 0, -1 };
	const char *ex[64];
	size_t nex = 0, idx;
	int i, rc;

	if (n < 0 || n > 64)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		placement_ffi_backend(&v[i], nums + 8 * i);
		snprintf(v[i].id, sizeof(v[i].id), "b%02d", i);
		v[i].tags = (char *)tags[i];
		if (excluded[i])
			ex[nex++] = v[i].id;
	}
	bl.n = (size_t)n;
	rc = policy_builtin_least_load(&bl, required_tags, ex, nex, &idx);
	return rc < 0 ? rc : (int)idx;
}

double placement_ffi_load(const double *nums, double attendee_base, double cpu_weight)
{
	struct lb_backend b;

	placement_ffi_backend(&b, nums);
	return policy_builtin_load_of(&b, attendee_base, cpu_weight);
}

int placement_ffi_has_room(const double *nums, double attendee_base)
{
	struct lb_backend b;

	placement_ffi_backend(&b, nums);
	return policy_builtin_has_room(&b, attendee_base);
}

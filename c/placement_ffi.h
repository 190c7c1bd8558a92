/* placement_ffi.h: the C fallback's rule for specs (spec/unit/fallback_agrees_spec.lua loads
 * this header as its cdef), with the facts c/ffi_api.h's older entry leaves out. */
#ifndef B3S_PLACEMENT_FFI_H
#define B3S_PLACEMENT_FFI_H

/* policy_builtin_least_load over n (at most 64) backends named b00, b01, ...: nums holds 8
 * numbers per backend: load_factor, meetings, pending, participants, reserved,
 * max_meetings, max_attendees (0: none), cpu (negative: unknown); tags comma-separated per
 * backend; excluded[i] non-zero skips backend i. The 0-based index; -2 when no backend
 * qualifies; -28 when every candidate was full. */
int placement_ffi_least_load(int n, const double *nums, const char *const *tags,
			     const int *excluded, const char *required_tags);
/* policy_builtin_load_of and policy_builtin_has_room on one backend (nums as above). */
double placement_ffi_load(const double *nums, double attendee_base, double cpu_weight);
int placement_ffi_has_room(const double *nums, double attendee_base);

#endif

/* ffi_api.h: the only functions specs call through LuaJIT FFI (spec/support/ffi.lua reads
 * this header as its cdef, so keep it to plain C declarations, one per line or block). */
#ifndef B3S_FFI_API_H
#define B3S_FFI_API_H

#include <stddef.h>

/* alg: 0 sha1, 1 sha256, 2 sha384, 3 sha512; hex needs 129 bytes. */
int b3s_ffi_checksum(int alg, const char *call, const char *query, const char *secret, char *hex);
/* 0 match, -2 missing, -13 mismatch (see bbb_checksum.h). */
int b3s_ffi_verify(const char *call, const char *raw, const char *secret);
int b3s_ffi_ids_encode(const char *key, const char *meeting_id, char *out, size_t cap);
const char *b3s_ffi_ids_decode(const char *nsid, const char *key);
/* Decodes raw, re-encodes every pair but checksum (what a backend receives). */
int b3s_ffi_query_reencode(const char *raw, char *out, size_t cap);
/* First decoded value of key in raw; -2 when absent. */
int b3s_ffi_query_get(const char *raw, const char *key, char *out, size_t cap);
/* Maps IDs of this frontend in a BBB XML document back to the frontend's own. */
int b3s_ffi_rewrite_ids(const char *xml, const char *key, char *out, size_t cap);

/* The C fallback policy over n backends described by parallel arrays; tags are
 * comma-separated per backend, excluded[i] non-zero skips backend i. Returns the 0-based
 * index, or -2 when none qualifies. */
int b3s_ffi_builtin_least_load(int n, const double *load_factor, const long *meetings,
			       const long *pending, const long *participants,
			       const char *const *tags, const int *excluded,
			       const char *required_tags);

/* Loads the policies of policy_dir (modules from lua_dir) with `policy` as the default, for
 * b3s_ffi_policy_select; 0 or a negative errno with err filled. */
int b3s_ffi_policy_load(const char *lua_dir, const char *policy_dir, const char *policy,
			char *err, size_t errlen);
/* The daemon's policy call (one engine, kept between calls like a worker's) over n backends:
 * nums holds 10 numbers per backend: load_factor, meetings, pending, participants, video,
 * voice, listeners, report_age_ms, cpu, mem (negative: unknown); gen as in lb_backend_list
 * (non-zero: only the counters differ from the last call with the same gen). Returns the 0-based pick,
 * or -2 with reason filled when the policy declined (or failed, -5). */
int b3s_ffi_policy_select(int n, const char *const *ids, const char *const *hosts,
			  const char *const *tags, const double *nums, unsigned long gen,
			  char *reason, size_t reasonlen);

/* gzip_accepted (c/gzip.h) on an Accept-Encoding value (NULL: the header is absent). */
int b3s_ffi_gzip_accepted(const char *accept_encoding);

#endif

/* policy_bundle.h: an immutable snapshot of every Lua file the policy states are built from.
 * Files are read once per (re)load and states compile from these bytes, never from paths
 * opened later, so a reload sees one consistent set of files. */
#ifndef B3S_POLICY_BUNDLE_H
#define B3S_POLICY_BUNDLE_H

#include <stddef.h>

enum policy_file_kind {
	POLICY_FILE_MODULE,  /* lua/b3scale/<x>.lua, required as "b3scale.<x>" */
	POLICY_FILE_POLICY,  /* policies/<name>.lua */
	POLICY_FILE_OPTIONS, /* policies/options.json (optional) */
};

struct policy_file {
	enum policy_file_kind kind;
	char name[96];       /* "b3scale.policy", "least_load", "options" */
	char chunkname[160]; /* "@policies/least_load.lua": errors read least_load.lua:12 */
	char *src;
	size_t len;
};

struct policy_bundle {
	unsigned long generation;
	int refs;            /* guarded by the engine's publication lock */
	struct policy_file *files;
	size_t n;
	char default_policy[64];
};

/* Reads every lua_dir/b3scale/NAME.lua, policy_dir/NAME.lua and policy_dir/options.json. */
int policy_bundle_read(struct policy_bundle **out, const char *lua_dir, const char *policy_dir,
		       const char *default_policy, char *err, size_t errlen);
void policy_bundle_free(struct policy_bundle *b);
const struct policy_file *policy_bundle_find(const struct policy_bundle *b,
					     enum policy_file_kind kind, const char *name);

#endif

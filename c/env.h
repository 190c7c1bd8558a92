/* env.h: reading B3SCALE_* settings from the environment, with one-line explanations. Shared
 * by b3scaled and b3scaleagent so both treat empty values and bad numbers alike. */
#ifndef B3S_ENV_H
#define B3S_ENV_H

#include <stddef.h>

/* The variable's value, or NULL when unset or empty (an empty value counts as unset). */
const char *env_get(const char *name);
/* Copies the value (or def; NULL def = required) into dst; -EINVAL with err otherwise. */
int env_str(const char *name, const char *def, char *dst, size_t cap, char *err, size_t errlen);
/* An integer in [min, max], def when unset; -EINVAL with err otherwise. */
int env_long(const char *name, long def, long min, long max, long *out, char *err,
	     size_t errlen);

#endif

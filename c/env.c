/* env.c: environment settings. */
#include "env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *env_get(const char *name)
{
	const char *v = getenv(name);

	return (v && *v) ? v : NULL;
}

int env_str(const char *name, const char *def, char *dst, size_t cap, char *err, size_t errlen)
{
	const char *v = env_get(name);

	if (!v)
		v = def;
	if (!v) {
		snprintf(err, errlen, "%s is required but not set", name);
		return -EINVAL;
	}
	if (strlen(v) >= cap) {
		snprintf(err, errlen, "%s is too long (at most %zu characters)", name, cap - 1);
		return -EINVAL;
	}
	strcpy(dst, v);
	return 0;
}

int env_long(const char *name, long def, long min, long max, long *out, char *err,
	     size_t errlen)
{
	const char *v = env_get(name);
	char *end;
	long n;

	if (!v) {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < min || n > max) {
		snprintf(err, errlen, "%s must be an integer from %ld to %ld, got '%s'", name, min,
			 max, v);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

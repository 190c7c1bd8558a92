/* sim_trace.c: reading a placement trace (JSON lines) for `b3scaled simulate`: every line
 * bounded (SIM_TRACE_MAX_LINE), at most SIM_TRACE_MAX_EVENTS events, times in order, and
 * every problem named with its line number. JSON is decoded by lua/b3scale/simtrace.lua
 * in a trusted helper state (the C core has no JSON parser). */
#include "sim_trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

int sim_trace_lua(lua_State **out, const char *lua_dir, char *err, size_t errlen)
{
	lua_State *L = luaL_newstate();
	char path[2200];

	*out = NULL;
	if (!L) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	luaL_openlibs(L);
	lua_getglobal(L, "package");
	snprintf(path, sizeof(path), "%s/?.lua;%s/?/init.lua", lua_dir, lua_dir);
	lua_pushstring(L, path);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
	lua_getglobal(L, "require");
	lua_pushstring(L, "b3scale.simtrace");
	if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1)) {
		snprintf(err, errlen, "loading b3scale.simtrace from %s: %s", lua_dir,
			 lua_isstring(L, -1) ? lua_tostring(L, -1) : "not a module");
		lua_close(L);
		return -ENOENT;
	}
	*out = L;
	return 0;
}

int sim_trace_slurp(const char *path, size_t max, char **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	size_t n = 0, cap = 0, got;
	int rc = 0;

	*out = NULL;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	for (;;) {
		if (n + 4096 + 1 > cap) {
			char *p;

			cap = cap ? 2 * cap : 65536;
			p = realloc(s, cap);
			if (!p) {
				snprintf(err, errlen, "out of memory reading %s", path);
				rc = -ENOMEM;
				goto out;
			}
			s = p;
		}
		got = fread(s + n, 1, 4096, f);
		n += got;
		if (n > max) {
			snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
			rc = -EFBIG;
			goto out;
		}
		if (got < 4096)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -EIO;
		goto out;
	}
	s[n] = '\0';
	*out = s;
	s = NULL;
out:
	free(s);
	fclose(f);
	return rc;
}

int sim_trace_open(struct sim_trace *t, const char *path, lua_State *L, char *err,
		   size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->L = L;
	snprintf(t->path, sizeof(t->path), "%s", path);
	t->buf = malloc(SIM_TRACE_MAX_LINE + 2);
	if (!t->buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->f = fopen(path, "r");
	if (!t->f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(t->buf);
		t->buf = NULL;
		return -ENOENT;
	}
	return 0;
}

int sim_trace_rewind(struct sim_trace *t)
{
	t->line = t->events = 0;
	t->last_t = 0;
	return fseek(t->f, 0, SEEK_SET) == 0 ? 0 : -EIO;
}

void sim_trace_close(struct sim_trace *t)
{
	if (t->f)
		fclose(t->f);
	free(t->buf);
	t->f = NULL;
	t->buf = NULL;
}

static int sim_trace_fail(struct sim_trace *t, char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%.600s:%ld: %.380s", t->path, t->line, why);
	return -EINVAL;
}

/* Decodes one line through simtrace.event into *ev. */
static int sim_trace_decode(struct sim_trace *t, const char *line, struct sim_event *ev,
			    char *err, size_t errlen)
{
	lua_State *L = t->L;
	const char *kind, *s;
	int rc = 0;

	lua_getfield(L, 1, "event");
	lua_pushstring(L, line);
	if (lua_pcall(L, 1, 5, 0) != 0) {
		rc = sim_trace_fail(t, err, errlen, lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
		lua_settop(L, 1);
		return rc;
	}
	if (lua_isnil(L, -5)) {
		rc = sim_trace_fail(t, err, errlen, lua_isstring(L, -4) ? lua_tostring(L, -4) : "?");
		goto out;
	}
	ev->t = lua_tonumber(L, -5);
	kind = lua_tostring(L, -4);
	ev->kind = strcmp(kind, "create") == 0 ? SIM_CREATE :
		   strcmp(kind, "end") == 0    ? SIM_END :
		   strcmp(kind, "join") == 0   ? SIM_JOIN : SIM_LEAVE;
	s = lua_tostring(L, -3);
	snprintf(ev->frontend, sizeof(ev->frontend), "%s", s ? s : "");
	s = lua_tostring(L, -2);
	snprintf(ev->meeting, sizeof(ev->meeting), "%s", s ? s : "");
	ev->size = (long)lua_tonumber(L, -1);
	ev->line = t->line;
out:
	lua_settop(L, 1);
	return rc;
}

int sim_trace_next(struct sim_trace *t, struct sim_event *ev, char *err, size_t errlen)
{
	char *p;
	size_t n;
	int rc;

	for (;;) {
		if (!fgets(t->buf, SIM_TRACE_MAX_LINE + 2, t->f)) {
			if (ferror(t->f)) {
				snprintf(err, errlen, "%.900s: read error after line %ld", t->path, t->line);
				return -EIO;
			}
			return 0;
		}
		t->line++;
		n = strlen(t->buf);
		if (n == SIM_TRACE_MAX_LINE + 1 && t->buf[n - 1] != '\n')
			return sim_trace_fail(t, err, errlen, "line longer than 64 KiB");
		for (p = t->buf; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
			;
		if (!*p || *p == '#')
			continue; /* blank lines and # comments */
		if (++t->events > SIM_TRACE_MAX_EVENTS)
			return sim_trace_fail(t, err, errlen, "more than 10000000 events");
		rc = sim_trace_decode(t, t->buf, ev, err, errlen);
		if (rc < 0)
			return rc;
		if (ev->t < t->last_t)
			return sim_trace_fail(t, err, errlen,
					      "t goes back in time (events must be in time order)");
		t->last_t = ev->t;
		return 1;
	}
}

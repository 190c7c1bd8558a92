/* sim_trace.h: the inputs of `b3scaled simulate`: trace lines read with bounds and line
 * numbers, and the trusted helper Lua state (lua/b3scale/simtrace.lua) that decodes JSON. */
#ifndef B3S_SIM_TRACE_H
#define B3S_SIM_TRACE_H

#include <stdio.h>

#include <lua.h>

#define SIM_TRACE_MAX_LINE (64 * 1024)
#define SIM_TRACE_MAX_EVENTS 10000000L

enum sim_event_kind { SIM_CREATE, SIM_END, SIM_JOIN, SIM_LEAVE };

struct sim_event {
	double t;
	enum sim_event_kind kind;
	char frontend[72];
	char meeting[257];
	long size;     /* expected attendees; -1 when the line has none */
	long line;
};

struct sim_trace {
	FILE *f;
	char path[1024];
	char *buf;     /* SIM_TRACE_MAX_LINE + 2 */
	long line, events;
	double last_t;
	lua_State *L;  /* the helper, not owned */
};

/* The helper state: lua_dir on package.path, b3scale.simtrace required (left at index 1). */
int sim_trace_lua(lua_State **out, const char *lua_dir, char *err, size_t errlen);
/* Reads a whole file (at most max bytes) into a malloc'd string. */
int sim_trace_slurp(const char *path, size_t max, char **out, char *err, size_t errlen);

int sim_trace_open(struct sim_trace *t, const char *path, lua_State *L, char *err,
		   size_t errlen);
/* The next event: 1, 0 at the end, negative with err "FILE:LINE: why". */
int sim_trace_next(struct sim_trace *t, struct sim_event *ev, char *err, size_t errlen);
int sim_trace_rewind(struct sim_trace *t);
void sim_trace_close(struct sim_trace *t);

#endif

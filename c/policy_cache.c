/* policy_cache.c: the backend tables a policy's select sees, kept between calls.
 *
 * Building 500 tables of 15 fields for every create cost ~0.8 ms (allocation and string
 * interning), 90% of a decision. Each Lua state (one per worker and policy generation) keeps
 * its tables instead, with a C copy of what each one holds; a call writes only the fields
 * that changed since the last call (usually `pending` of one backend and the report ages),
 * and hands the policy a fresh array of them, so a policy may still sort or filter the array.
 * The tables themselves are read only for policies (policies/README.md says so). */
#include "policy_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

/* what one cached table holds, to tell which fields a new snapshot changes */
struct policy_cache_entry {
	char id[40];
	char *host, *tags;
	double load_factor, cpu, mem;
	long meetings, pending, participants, video, voice, listeners, report_age_ms;
	long reserved, max_meetings, max_attendees;
};

struct policy_cache {
	struct policy_cache_entry *v; /* v[i] describes arr[i + 1] */
	size_t n, cap;
	unsigned long gen;            /* the list's gen last call (0: none or unknown) */
	int arr_ref;                  /* registry: the tables in last call's order */
	int byid_ref;                 /* registry: id -> table, for backends that moved */
	size_t nbyid;
};

enum policy_cache_key {
	PK_INDEX, PK_ORDER, PK_ID, PK_HOST, PK_TAGS, PK_LOAD_FACTOR, PK_MEETINGS, PK_PENDING,
	PK_PARTICIPANTS, PK_VIDEO, PK_VOICE, PK_LISTENERS, PK_REPORT_AGE, PK_CPU, PK_MEM,
	PK_RESERVED, PK_MAX_MEETINGS, PK_MAX_ATTENDEES, PK_COUNT
};

static const char *const policy_cache_keys[PK_COUNT] = {
	"index", "order", "id", "host", "tags", "load_factor", "meetings", "pending",
	"participants", "video", "voice", "listeners", "report_age_ms", "cpu", "mem",
	"reserved", "max_meetings", "max_attendees",
};

struct policy_cache *policy_cache_new(void)
{
	struct policy_cache *c = calloc(1, sizeof(*c));

	if (c)
		c->arr_ref = c->byid_ref = LUA_NOREF;
	return c;
}

static void policy_cache_entry_clear(struct policy_cache_entry *e)
{
	free(e->host);
	free(e->tags);
	memset(e, 0, sizeof(*e));
}

void policy_cache_free(struct policy_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		policy_cache_entry_clear(&c->v[i]);
	free(c->v);
	free(c); /* the registry refs die with the Lua state */
}

/* keys sit at stack slots base + PK_*; the table being written is at -1 before each call */
static void policy_cache_set(lua_State *L, int base, enum policy_cache_key k)
{
	lua_pushvalue(L, base + (int)k);
	lua_insert(L, -2);
	lua_rawset(L, -3);
}

/* kind: 'i' integer, 'o' optional integer, 'n' optional number; an optional field that is
 * negative is unknown and left out (nil), as policies test it */
static void policy_cache_num(lua_State *L, int base, enum policy_cache_key k, double v, char kind)
{
	if (kind != 'i' && v < 0)
		lua_pushnil(L);
	else if (kind == 'n')
		lua_pushnumber(L, v);
	else
		lua_pushinteger(L, (lua_Integer)v);
	policy_cache_set(L, base, k);
}

static void policy_cache_tags(lua_State *L, int base, const char *tags)
{
	const char *p;
	size_t n;

	lua_newtable(L);
	for (p = tags; *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		if (!n)
			continue;
		lua_pushlstring(L, p, n);
		lua_pushboolean(L, 1);
		lua_rawset(L, -3);
	}
	policy_cache_set(L, base, PK_TAGS);
}

static int policy_cache_strset(char **dst, const char *src)
{
	char *s = strdup(src);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* Brings the table at -1 from what e says it holds to b (all fields when full; only the
 * counters when same_list: the same snapshot as last call, see lb_backend_list.gen). */
static int policy_cache_update(lua_State *L, int base, struct policy_cache_entry *e,
			       const struct lb_backend *b, long index, int full, int same_list)
{
	const char *host = b->host ? b->host : "", *tags = b->tags ? b->tags : "";
	long age;

	if (full) {
		policy_cache_entry_clear(e);
		snprintf(e->id, sizeof(e->id), "%s", b->id);
		lua_pushstring(L, e->id);
		policy_cache_set(L, base, PK_ID);
		policy_cache_num(L, base, PK_INDEX, (double)index, 'i');
		policy_cache_num(L, base, PK_ORDER, (double)index, 'i');
	}
	if (same_list)
		goto counters;
	if (full || !e->host || strcmp(e->host, host) != 0) {
		if (policy_cache_strset(&e->host, host) < 0)
			return -ENOMEM;
		lua_pushstring(L, host);
		policy_cache_set(L, base, PK_HOST);
	}
	if (full || !e->tags || strcmp(e->tags, tags) != 0) {
		if (policy_cache_strset(&e->tags, tags) < 0)
			return -ENOMEM;
		policy_cache_tags(L, base, tags);
	}
	if (full || e->load_factor != b->load_factor) {
		e->load_factor = b->load_factor;
		lua_pushnumber(L, b->load_factor);
		policy_cache_set(L, base, PK_LOAD_FACTOR);
	}
	/* caps: nil when none (0 here) */
	if (full || e->max_meetings != b->max_meetings) {
		e->max_meetings = b->max_meetings;
		policy_cache_num(L, base, PK_MAX_MEETINGS,
				 b->max_meetings > 0 ? (double)b->max_meetings : -1, 'o');
	}
	if (full || e->max_attendees != b->max_attendees) {
		e->max_attendees = b->max_attendees;
		policy_cache_num(L, base, PK_MAX_ATTENDEES,
				 b->max_attendees > 0 ? (double)b->max_attendees : -1, 'o');
	}
counters:
#define POLICY_CACHE_NUM(field, key, kind)                                               \
	do {                                                                             \
		if (full || e->field != b->field) {                                      \
			e->field = b->field;                                             \
			policy_cache_num(L, base, key, (double)b->field, kind);          \
		}                                                                        \
	} while (0)
	POLICY_CACHE_NUM(meetings, PK_MEETINGS, 'i');
	POLICY_CACHE_NUM(pending, PK_PENDING, 'i');
	POLICY_CACHE_NUM(participants, PK_PARTICIPANTS, 'i');
	POLICY_CACHE_NUM(video, PK_VIDEO, 'i');
	POLICY_CACHE_NUM(voice, PK_VOICE, 'i');
	POLICY_CACHE_NUM(listeners, PK_LISTENERS, 'i');
	POLICY_CACHE_NUM(reserved, PK_RESERVED, 'i');
	/* in steps of 100 ms: ages move on every call, and writing 500 of them was a fifth of a
	 * decision; policies judge ages in seconds */
	age = b->report_age_ms < 0 ? -1 : b->report_age_ms - b->report_age_ms % 100;
	if (full || e->report_age_ms != age) {
		e->report_age_ms = age;
		policy_cache_num(L, base, PK_REPORT_AGE, (double)age, 'o');
	}
	POLICY_CACHE_NUM(cpu, PK_CPU, 'n');
	POLICY_CACHE_NUM(mem, PK_MEM, 'n');
#undef POLICY_CACHE_NUM
	return 0;
}

/* The table for backend b at position i (pushed): the cached one when the same backend sat
 * there last time, else the one it had elsewhere, else a new one; the latter two are
 * rewritten whole. */
static int policy_cache_table(lua_State *L, struct policy_cache *c, int base, int arr,
			      int byid, const struct lb_backend *b, size_t i, unsigned long bl_gen)
{
	struct policy_cache_entry *e = &c->v[i];
	int same_list = bl_gen && bl_gen == c->gen && i < c->n;
	int full = !same_list && (i >= c->n || strcmp(e->id, b->id) != 0);

	if (!full) {
		lua_rawgeti(L, arr, (int)i + 1);
	} else {
		if (i >= c->n)
			memset(e, 0, sizeof(*e));
		lua_getfield(L, byid, b->id);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_createtable(L, 0, PK_COUNT + 1);
			lua_pushvalue(L, -1);
			lua_setfield(L, byid, b->id);
			c->nbyid++;
		}
		lua_pushvalue(L, -1);
		lua_rawseti(L, arr, (int)i + 1);
	}
	return policy_cache_update(L, base, e, b, (long)i + 1, full, same_list);
}

static void policy_cache_ref(lua_State *L, int *ref)
{
	if (*ref != LUA_NOREF)
		luaL_unref(L, LUA_REGISTRYINDEX, *ref);
	lua_newtable(L);
	*ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

int policy_cache_push(lua_State *L, struct policy_cache *c, const struct lb_backend_list *bl)
{
	struct policy_cache_entry *v;
	int top = lua_gettop(L), base, arr, byid, out, k, rc = 0, capped = 0;
	size_t i, j, before = c->n;

	if (bl->n > c->cap) {
		v = realloc(c->v, bl->n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = bl->n;
	}
	if (!lua_checkstack(L, PK_COUNT + 8))
		return -ENOMEM;
	/* backends come and go rarely; past twice the list, forget those no longer listed */
	if (c->arr_ref == LUA_NOREF || c->nbyid > 2 * bl->n + 64) {
		policy_cache_ref(L, &c->byid_ref);
		c->nbyid = 0;
	}
	if (c->arr_ref == LUA_NOREF)
		policy_cache_ref(L, &c->arr_ref);
	lua_createtable(L, bl->n > 0x7fffffff ? 0 : (int)bl->n, 0);
	out = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->arr_ref);
	arr = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->byid_ref);
	byid = lua_gettop(L);
	base = byid + 1;
	for (k = 0; k < PK_COUNT; k++)
		lua_pushstring(L, policy_cache_keys[k]);
	for (i = 0; rc == 0 && i < bl->n; i++) {
		rc = policy_cache_table(L, c, base, arr, byid, &bl->v[i], i, bl->gen);
		lua_rawseti(L, out, (int)i + 1);
		capped |= bl->v[i].max_meetings > 0 || bl->v[i].max_attendees > 0;
	}
	if (rc == 0 && !capped) {
		/* lb.with_room's shortcut: no backend of this array has a cap */
		lua_pushboolean(L, 1);
		lua_setfield(L, out, "uncapped");
	}
	if (rc < 0) {
		/* entries may be half written: every one is rewritten whole next time */
		c->n = i > before ? i : before;
		c->gen = 0;
		for (j = 0; j < c->n; j++)
			c->v[j].id[0] = '\0';
		lua_settop(L, top);
		return rc;
	}
	for (j = bl->n; j < before; j++)
		policy_cache_entry_clear(&c->v[j]);
	c->n = bl->n;
	c->gen = bl->gen;
	lua_settop(L, out);
	return 0;
}

/* simulate.c: `b3scaled simulate`: replays a trace of creates, joins, leaves and ends
 * against a set of nodes with the daemon's own policy runtime (policy_select_explain over
 * struct lb_backend lists, as the scheduler calls it), in simulated time. Nodes "report"
 * every --report-interval seconds: between reports a policy sees the counters of the last
 * report plus `pending` (meetings placed since), as in the daemon. */
#include "simulate.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "db_backends.h"
#include "lb.h"
#include "policy.h"
#include "placement_size.h"
#include "policy_builtin.h"
#include "query.h"
#include "sim_cases.h"
#include "sim_trace.h"

#define SIM_NODES_MAX_BYTES (64u << 20)

struct sim_node {
	struct lb_backend b;         /* id, host, tags, load_factor, states; counters: the view */
	long max_meetings, max_attendees; /* 0: no cap */
	long meetings, attendees;    /* the truth, from the trace */
	long peak_meetings, peak_attendees;
	double over_cap;             /* seconds above a cap */
	double next_report;
	int reported;                /* in this step of simulate_advance */
};

struct sim_meeting {
	char *key;                   /* frontend \x1f meeting */
	size_t node;
	long attendees;
	long expected;               /* its size hint (0: none), reserved while it is young */
	double created;
	int live;
};

struct sim_opts {
	const char *policy, *compare, *trace, *nodes, *frontends, *cases;
	double report_interval;
	int json, verbose;
};

struct sim {
	struct sim_opts o;
	const struct lb_config *cfg;
	lua_State *L;
	struct sim_node *nodes;
	size_t n;
	struct lb_backend_list dbl;  /* the nodes read from the database, when no --nodes */
	struct lb_backend *view;     /* the list a policy gets */
	struct sim_meeting *tab;
	size_t tab_cap, tab_used;
	struct policy_engine *pe;
	double now;
	long placed, refused, errors, fallbacks, duplicates, unknown;
};

struct sim_result {
	const char *policy;
	struct sim_node *nodes;      /* copies of the counters at the end */
	long placed, refused, errors, fallbacks, duplicates, unknown;
};

static int simulate_usage(void)
{
	fprintf(stderr,
		"usage: b3scaled simulate --policy NAME --trace FILE [--nodes FILE] [--frontends FILE]\n"
		"                         [--compare NAME2] [--report-interval SECONDS] [--json] [--verbose]\n"
		"       b3scaled simulate --cases FILE [--policy NAME] (policy test cases, JSON out)\n"
		"  --nodes FILE       the nodes: GET /api/v1/backends JSON (default: the database's\n"
		"                     backends that may take meetings, from B3SCALE_DB_URL)\n"
		"  --frontends FILE   frontend settings (GET /api/v1/frontends JSON), by key\n"
		"  --report-interval  seconds between node reports (default 10; 0: always current)\n"
		"See docs/simulate.md.\n");
	return 2;
}

static int simulate_args(struct sim_opts *o, int argc, char **argv)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->report_interval = 10;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (strcmp(a, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
			o->verbose = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "b3scaled simulate: %s needs a value\n", a);
			return -EINVAL;
		}
		i++;
		if (strcmp(a, "--policy") == 0)
			o->policy = v;
		else if (strcmp(a, "--compare") == 0)
			o->compare = v;
		else if (strcmp(a, "--trace") == 0)
			o->trace = v;
		else if (strcmp(a, "--nodes") == 0)
			o->nodes = v;
		else if (strcmp(a, "--frontends") == 0)
			o->frontends = v;
		else if (strcmp(a, "--cases") == 0)
			o->cases = v;
		else if (strcmp(a, "--report-interval") == 0) {
			o->report_interval = strtod(v, &end);
			if (*end || end == v || !(o->report_interval >= 0) ||
			    o->report_interval > 86400) {
				fprintf(stderr, "b3scaled simulate: --report-interval must be 0 to 86400 seconds\n");
				return -EINVAL;
			}
		} else {
			fprintf(stderr, "b3scaled simulate: unknown option %s\n", a);
			return -EINVAL;
		}
	}
	if (o->cases)
		return 0;
	if (!o->policy || !o->trace) {
		fprintf(stderr, "b3scaled simulate: --policy and --trace are required\n");
		return -EINVAL;
	}
	return 0;
}

/* Per-node caps from the nodes JSON (the table at the top of L's stack): max_meetings and
 * max_attendees, 0 when absent; the policies see them as the daemon's do. */
static void simulate_node_caps(lua_State *L, struct sim_node *nd)
{
	lua_getfield(L, -1, "max_meetings");
	nd->max_meetings = nd->b.max_meetings = (long)lua_tonumber(L, -1);
	lua_getfield(L, -2, "max_attendees");
	nd->max_attendees = nd->b.max_attendees = (long)lua_tonumber(L, -1);
	lua_pop(L, 2);
}

static char *simulate_field(lua_State *L, const char *k)
{
	const char *s;

	lua_getfield(L, -1, k);
	s = lua_tostring(L, -1);
	lua_pop(L, 1);
	return strdup(s ? s : "");
}

static double simulate_num(lua_State *L, const char *k)
{
	double v;

	lua_getfield(L, -1, k);
	v = lua_tonumber(L, -1);
	lua_pop(L, 1);
	return v;
}

/* Fills b from the node table on top of L (simtrace.nodes' shape); -ENOMEM or 0. */
int simulate_backend_from_lua(lua_State *L, struct lb_backend *b)
{
	char *s;

	memset(b, 0, sizeof(*b));
	s = simulate_field(L, "id");
	snprintf(b->id, sizeof(b->id), "%s", s ? s : "");
	free(s);
	b->host = simulate_field(L, "host");
	b->tags = simulate_field(L, "tags");
	s = simulate_field(L, "admin_state");
	snprintf(b->admin_state, sizeof(b->admin_state), "%s", s ? s : "ready");
	free(s);
	s = simulate_field(L, "node_state");
	snprintf(b->node_state, sizeof(b->node_state), "%s", s ? s : "available");
	free(s);
	b->load_factor = simulate_num(L, "load_factor");
	b->meetings = (long)simulate_num(L, "meetings");
	b->participants = (long)simulate_num(L, "participants");
	b->pending = (long)simulate_num(L, "pending");
	b->video = (long)simulate_num(L, "video");
	b->voice = (long)simulate_num(L, "voice");
	b->listeners = (long)simulate_num(L, "listeners");
	b->report_age_ms = 0;
	b->cpu = b->mem = -1;
	if (!b->host || !b->tags) {
		lb_backend_clear(b);
		return -ENOMEM;
	}
	return 0;
}

static int simulate_nodes_file(struct sim *s, char *err, size_t errlen)
{
	char *text;
	size_t i;
	int rc;

	rc = sim_trace_slurp(s->o.nodes, SIM_NODES_MAX_BYTES, &text, err, errlen);
	if (rc < 0)
		return rc;
	lua_getfield(s->L, 1, "nodes");
	lua_pushstring(s->L, text);
	free(text);
	if (lua_pcall(s->L, 1, 2, 0) != 0 || lua_isnil(s->L, -2)) {
		snprintf(err, errlen, "%s: %s", s->o.nodes,
			 lua_isstring(s->L, -1) ? lua_tostring(s->L, -1) : "?");
		lua_settop(s->L, 1);
		return -EINVAL;
	}
	lua_pop(s->L, 1);
	s->n = lua_objlen(s->L, -1);
	s->nodes = calloc(s->n ? s->n : 1, sizeof(*s->nodes));
	if (!s->nodes) {
		lua_settop(s->L, 1);
		return -ENOMEM;
	}
	for (i = 0; i < s->n; i++) {
		lua_rawgeti(s->L, -1, (int)i + 1);
		rc = simulate_backend_from_lua(s->L, &s->nodes[i].b);
		if (rc == 0)
			simulate_node_caps(s->L, &s->nodes[i]);
		lua_pop(s->L, 1);
		if (rc < 0)
			break;
	}
	lua_settop(s->L, 1);
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* Without --nodes: the live cluster's backends that may take a meeting now. */
static int simulate_nodes_db(struct sim *s, char *err, size_t errlen)
{
	struct db db;
	size_t i;
	int rc;

	if (!s->cfg->db_url[0]) {
		snprintf(err, errlen, "no --nodes FILE and no B3SCALE_DB_URL to read the backends from");
		return -EINVAL;
	}
	if (db_open(&db, s->cfg->db_url, err, errlen) < 0)
		return -EIO;
	rc = db_backends_eligible(&db, s->cfg->agent_max_age_ms, s->cfg->reservation_window_s,
				  &s->dbl, err, errlen);
	db_close(&db);
	if (rc < 0)
		return rc;
	s->n = s->dbl.n;
	s->nodes = calloc(s->n ? s->n : 1, sizeof(*s->nodes));
	if (!s->nodes)
		return -ENOMEM;
	for (i = 0; i < s->n; i++) {
		s->nodes[i].b = s->dbl.v[i]; /* the strings stay the list's */
		s->nodes[i].max_meetings = s->dbl.v[i].max_meetings;
		s->nodes[i].max_attendees = s->dbl.v[i].max_attendees;
	}
	return 0;
}

/* The meetings: an open-addressing table of frontend \x1f meeting. */
static uint64_t simulate_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct sim_meeting *simulate_slot(struct sim_meeting *tab, size_t cap, const char *key)
{
	size_t i = (size_t)simulate_hash(key) & (cap - 1);

	while (tab[i].key && strcmp(tab[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static struct sim_meeting *simulate_meeting(struct sim *s, const struct sim_event *ev, int add)
{
	char key[72 + 1 + 257];
	struct sim_meeting *m, *tab;
	size_t i, cap;

	snprintf(key, sizeof(key), "%s\x1f%s", ev->frontend, ev->meeting);
	if (s->tab_cap) {
		m = simulate_slot(s->tab, s->tab_cap, key);
		if (m->key || !add)
			return m->key ? m : NULL;
	}
	if (2 * (s->tab_used + 1) > s->tab_cap) {
		cap = s->tab_cap ? 2 * s->tab_cap : 1024;
		tab = calloc(cap, sizeof(*tab));
		if (!tab)
			return NULL;
		for (i = 0; i < s->tab_cap; i++)
			if (s->tab[i].key)
				*simulate_slot(tab, cap, s->tab[i].key) = s->tab[i];
		free(s->tab);
		s->tab = tab;
		s->tab_cap = cap;
	}
	m = simulate_slot(s->tab, s->tab_cap, key);
	m->key = strdup(key);
	if (!m->key)
		return NULL;
	s->tab_used++;
	return m;
}

/* A young meeting's reservation, as the daemon's snapshot computes it (sql/0023): its
 * expected size decaying to 0 over the window, less what it has reported. */
static long simulate_reserved(const struct sim *s, const struct sim_meeting *m, double t)
{
	double w = (double)s->cfg->reservation_window_s, left;

	if (m->expected <= 0 || w <= 0 || t - m->created >= w)
		return 0;
	left = (double)m->expected * (1.0 - (t - m->created) / w) - (double)m->attendees;
	return left > 0 ? (long)left : 0;
}

/* Simulated time moves to t: seconds over a cap accrue, nodes whose report is due report
 * (their counters and reservations as of now). */
static void simulate_advance(struct sim *s, double t)
{
	double dt = t - s->now, R = s->o.report_interval;
	int reported = 0;
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct sim_node *nd = &s->nodes[i];

		if ((nd->max_meetings > 0 && nd->meetings > nd->max_meetings) ||
		    (nd->max_attendees > 0 && nd->attendees > nd->max_attendees))
			nd->over_cap += dt;
		if (R <= 0 || nd->next_report <= t) {
			double last = R <= 0 ? t : nd->next_report +
				      (double)(long)((t - nd->next_report) / R) * R;

			nd->b.meetings = nd->meetings;
			nd->b.participants = nd->attendees;
			nd->b.pending = 0;
			nd->b.reserved = 0; /* summed below */
			nd->reported = reported = 1;
			nd->next_report = last + R;
			nd->b.report_age_ms = (long)((t - last) * 1000);
		} else {
			nd->b.report_age_ms = (long)((t - (nd->next_report - R)) * 1000);
			nd->reported = 0;
		}
	}
	for (i = 0; reported && i < s->tab_cap; i++) {
		const struct sim_meeting *m = &s->tab[i];

		if (m->key && m->live && s->nodes[m->node].reported)
			s->nodes[m->node].b.reserved += simulate_reserved(s, m, t);
	}
	s->now = t;
}

static void simulate_peaks(struct sim_node *nd)
{
	if (nd->meetings > nd->peak_meetings)
		nd->peak_meetings = nd->meetings;
	if (nd->attendees > nd->peak_attendees)
		nd->peak_attendees = nd->attendees;
}

/* The frontend's settings under policy, and its required tags (for the fallback). */
static const char *simulate_settings(struct sim *s, const char *key, const char *policy,
				     char *tags, size_t tagslen)
{
	const char *json;

	lua_getfield(s->L, 1, "settings");
	lua_pushstring(s->L, key);
	lua_pushstring(s->L, policy);
	if (lua_pcall(s->L, 2, 2, 0) != 0) {
		lua_settop(s->L, 1);
		return NULL;
	}
	snprintf(tags, tagslen, "%s", lua_isstring(s->L, -1) ? lua_tostring(s->L, -1) : "");
	json = lua_tostring(s->L, -2); /* kept alive by simtrace's cache */
	lua_settop(s->L, 1);
	return json;
}

static int simulate_create(struct sim *s, const char *policy, const struct sim_event *ev)
{
	struct lb_backend_list bl = { s->view, s->n, 1, -1 };
	struct policy_request pr = { 0 };
	struct policy_explain *ex = NULL;
	struct sim_meeting *m;
	struct query params;
	enum policy_outcome out;
	char reason[512], pname[64], tags[1024], size[32];
	const char *by = "policy";
	size_t i, idx = 0;
	int rc = 0;

	m = simulate_meeting(s, ev, 1);
	if (!m)
		return -ENOMEM;
	if (m->live) {
		s->duplicates++; /* a repeated create of a running meeting: no placement */
		return 0;
	}
	ex = malloc(sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	query_init(&params);
	snprintf(size, sizeof(size), "%ld", ev->size);
	if (query_set(&params, "meetingID", ev->meeting) < 0 ||
	    query_set(&params, "name", ev->meeting) < 0 ||
	    (ev->size >= 0 && query_set(&params, "meta_bbb-meeting-size-hint", size) < 0)) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s->n; i++)
		s->view[i] = s->nodes[i].b;
	pr.action = "create";
	pr.meeting_id = ev->meeting;
	pr.frontend_key = ev->frontend;
	pr.settings_json = simulate_settings(s, ev->frontend, policy, tags, sizeof(tags));
	pr.params = &params;
	pr.attempt = 1;
	pr.expected_size = placement_size_parse(size);
	pr.expected_source = pr.expected_size > 0 ? "hint" : NULL;
	out = policy_select_explain(s->pe, &pr, &bl, &idx, reason, sizeof(reason), pname,
				    sizeof(pname), ex);
	if (out == POLICY_NONE) {
		s->refused++;
		if (s->o.verbose)
			fprintf(s->o.json ? stderr : stdout,
				"t=%.1f %s create %s/%s refused: %s\n", ev->t, policy,
				ev->frontend, ev->meeting, reason);
		goto out;
	}
	if (out != POLICY_OK) {
		s->errors++;
		by = "fallback";
		snprintf(ex->reason, sizeof(ex->reason), "policy failed: %.200s", reason);
		if (s->cfg->policy_reject_on_error ||
		    policy_builtin_least_load(&bl, tags, NULL, 0, &idx) < 0) {
			s->refused++;
			if (s->o.verbose)
				fprintf(s->o.json ? stderr : stdout,
					"t=%.1f %s create %s/%s refused: %s\n", ev->t, policy,
					ev->frontend, ev->meeting, ex->reason);
			goto out;
		}
		s->fallbacks++;
	}
	s->placed++;
	m->live = 1;
	m->node = idx;
	m->attendees = 0;
	m->expected = pr.expected_size;
	m->created = ev->t;
	s->nodes[idx].meetings++;
	s->nodes[idx].b.pending++;
	s->nodes[idx].b.reserved += simulate_reserved(s, m, ev->t); /* as the daemon: at once */
	simulate_peaks(&s->nodes[idx]);
	if (s->o.verbose)
		fprintf(s->o.json ? stderr : stdout, "t=%.1f %s create %s/%s -> %s by=%s reason=\"%s\"%s%s\n",
			ev->t, policy, ev->frontend, ev->meeting, s->nodes[idx].b.host, by,
			ex->reason, ex->json[0] ? " explanation=" : "", ex->json);
out:
	query_free(&params);
	free(ex);
	return rc;
}

static int simulate_event(struct sim *s, const char *policy, const struct sim_event *ev)
{
	struct sim_meeting *m;
	struct sim_node *nd;

	if (ev->kind == SIM_CREATE)
		return simulate_create(s, policy, ev);
	m = simulate_meeting(s, ev, 0);
	if (!m || !m->live) {
		s->unknown++; /* not placed (refused, or never created in the trace) */
		return 0;
	}
	nd = &s->nodes[m->node];
	if (ev->kind == SIM_JOIN) {
		m->attendees++;
		nd->attendees++;
		simulate_peaks(nd);
	} else if (ev->kind == SIM_LEAVE) {
		if (m->attendees > 0) {
			m->attendees--;
			nd->attendees--;
		}
	} else {
		nd->meetings--;
		nd->attendees -= m->attendees;
		m->live = 0;
		m->attendees = 0;
	}
	return 0;
}

/* One replay of the whole trace under policy; the counters go to *res. */
static int simulate_run(struct sim *s, struct sim_trace *tr, const char *policy,
			struct sim_result *res, char *err, size_t errlen)
{
	struct sim_event ev;
	size_t i;
	int rc;

	if (sim_trace_rewind(tr) < 0) {
		snprintf(err, errlen, "%.900s: cannot rewind", tr->path);
		return -EIO;
	}
	for (i = 0; i < s->n; i++) {
		struct sim_node *nd = &s->nodes[i];

		nd->meetings = nd->attendees = nd->peak_meetings = nd->peak_attendees = 0;
		nd->b.meetings = nd->b.participants = nd->b.pending = nd->b.reserved = 0;
		nd->b.video = nd->b.voice = nd->b.listeners = 0;
		nd->over_cap = 0;
		/* reports staggered over the interval, as nodes are polled one after another */
		nd->next_report = s->n ? s->o.report_interval * (double)i / (double)s->n : 0;
	}
	for (i = 0; i < s->tab_cap; i++)
		s->tab[i].live = 0;
	s->now = 0;
	s->placed = s->refused = s->errors = s->fallbacks = s->duplicates = s->unknown = 0;
	while ((rc = sim_trace_next(tr, &ev, err, errlen)) > 0) {
		simulate_advance(s, ev.t);
		rc = simulate_event(s, policy, &ev);
		if (rc < 0) {
			snprintf(err, errlen, "%.900s:%ld: out of memory", tr->path, ev.line);
			return rc;
		}
	}
	if (rc < 0)
		return rc;
	res->policy = policy;
	res->nodes = malloc((s->n ? s->n : 1) * sizeof(*res->nodes));
	if (!res->nodes)
		return -ENOMEM;
	memcpy(res->nodes, s->nodes, s->n * sizeof(*s->nodes));
	res->placed = s->placed;
	res->refused = s->refused;
	res->errors = s->errors;
	res->fallbacks = s->fallbacks;
	res->duplicates = s->duplicates;
	res->unknown = s->unknown;
	return 0;
}

/* Seconds as a JSON number: whole seconds without a fraction, else milliseconds. */
static void simulate_secs(struct buf *b, double v)
{
	if (v == (double)(long long)v)
		buf_printf(b, "%lld", (long long)v);
	else
		buf_printf(b, "%.3f", v);
}

static void simulate_json(const struct sim *s, const struct sim_result *r, size_t nr,
			  struct buf *b)
{
	size_t k, i;

	if (nr > 1)
		buf_puts(b, "{\"runs\":[");
	for (k = 0; k < nr; k++) {
		buf_puts(b, k ? ",{\"policy\":" : "{\"policy\":");
		buf_json_str(b, r[k].policy);
		buf_puts(b, ",\"nodes\":[");
		for (i = 0; i < s->n; i++) {
			const struct sim_node *nd = &r[k].nodes[i];

			buf_puts(b, i ? ",{\"host\":" : "{\"host\":");
			buf_json_str(b, nd->b.host);
			buf_printf(b, ",\"peak_meetings\":%ld,\"peak_attendees\":%ld,\"seconds_over_cap\":",
				   nd->peak_meetings, nd->peak_attendees);
			simulate_secs(b, nd->over_cap);
			buf_puts(b, "}");
		}
		buf_printf(b, "],\"refused\":%ld,\"errors\":%ld}", r[k].refused, r[k].errors);
	}
	if (nr > 1)
		buf_puts(b, "]}");
	buf_puts(b, "\n");
}

static void simulate_text(const struct sim *s, const struct sim_result *r, size_t nr,
			  struct buf *b)
{
	size_t k, i, w = 4;

	for (i = 0; i < s->n; i++)
		if (strlen(s->nodes[i].b.host) > w)
			w = strlen(s->nodes[i].b.host);
	for (k = 0; k < nr; k++)
		buf_printf(b, "%s: %ld placed, %ld refused, %ld policy errors (%ld placed by the "
			      "fallback), %ld repeated creates, %ld events for meetings not placed\n",
			   r[k].policy, r[k].placed, r[k].refused, r[k].errors, r[k].fallbacks,
			   r[k].duplicates, r[k].unknown);
	buf_printf(b, "\n%-*s", (int)w, "HOST");
	for (k = 0; k < nr; k++)
		buf_printf(b, "  %-36.36s", r[k].policy);
	buf_printf(b, "\n%-*s", (int)w, "");
	for (k = 0; k < nr; k++)
		buf_printf(b, "  %10s %10s %14s", "PEAK MTGS", "PEAK ATT", "SECS OVER CAP");
	buf_puts(b, "\n");
	for (i = 0; i < s->n; i++) {
		buf_printf(b, "%-*s", (int)w, s->nodes[i].b.host);
		for (k = 0; k < nr; k++) {
			const struct sim_node *nd = &r[k].nodes[i];

			buf_printf(b, "  %10ld %10ld %14.1f", nd->peak_meetings, nd->peak_attendees,
				   nd->over_cap);
		}
		buf_puts(b, "\n");
	}
}

static int simulate_setup(struct sim *s, char *err, size_t errlen)
{
	const char *names[2] = { s->o.policy, s->o.compare };
	char *text = NULL;
	int rc;

	rc = sim_trace_lua(&s->L, s->cfg->lua_dir, err, errlen);
	if (rc < 0)
		return rc;
	if (s->o.frontends) {
		rc = sim_trace_slurp(s->o.frontends, SIM_NODES_MAX_BYTES, &text, err, errlen);
		if (rc < 0)
			return rc;
		lua_getfield(s->L, 1, "frontends");
		lua_pushstring(s->L, text);
		free(text);
		if (lua_pcall(s->L, 1, 2, 0) != 0 || lua_isnil(s->L, -2)) {
			snprintf(err, errlen, "%s: %s", s->o.frontends,
				 lua_isstring(s->L, -1) ? lua_tostring(s->L, -1) : "?");
			return -EINVAL;
		}
		lua_settop(s->L, 1);
	}
	rc = s->o.nodes ? simulate_nodes_file(s, err, errlen) : simulate_nodes_db(s, err, errlen);
	if (rc < 0)
		return rc;
	s->view = calloc(s->n ? s->n : 1, sizeof(*s->view));
	if (!s->view)
		return -ENOMEM;
	/* the same validation as --check and a reload, then the daemon's start-up */
	rc = policy_check(s->cfg, names, s->o.compare ? 2 : 1, err, errlen);
	if (rc == 0)
		rc = policy_setup(s->cfg, err, errlen);
	if (rc < 0)
		return rc;
	s->pe = policy_engine_sync(NULL);
	if (!s->pe) {
		snprintf(err, errlen, "the policy engine could not be built");
		return -ENOMEM;
	}
	return 0;
}

static void simulate_free(struct sim *s)
{
	size_t i;

	if (s->pe)
		policy_engine_free(s->pe);
	policy_teardown();
	for (i = 0; s->nodes && s->o.nodes && i < s->n; i++) /* from the file: owned */
		lb_backend_clear(&s->nodes[i].b);
	lb_backend_list_clear(&s->dbl);
	for (i = 0; i < s->tab_cap; i++)
		free(s->tab[i].key);
	free(s->tab);
	free(s->nodes);
	free(s->view);
	if (s->L)
		lua_close(s->L);
}

int simulate_main(const struct lb_config *cfg, int argc, char **argv)
{
	struct sim s;
	struct sim_trace tr = { 0 };
	struct sim_result res[2] = { { 0 }, { 0 } };
	struct buf out;
	char err[1024];
	size_t nr = 0;
	int rc;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	if (simulate_args(&s.o, argc, argv) < 0)
		return simulate_usage();
	if (s.o.cases) {
		rc = sim_trace_lua(&s.L, cfg->lua_dir, err, sizeof(err));
		if (rc == 0)
			rc = sim_cases_run(cfg, s.L, s.o.cases, s.o.policy, err, sizeof(err));
		if (s.L)
			lua_close(s.L);
		if (rc < 0)
			fprintf(stderr, "b3scaled simulate: %s\n", err);
		return rc < 0 ? 1 : 0;
	}
	buf_init(&out);
	rc = simulate_setup(&s, err, sizeof(err));
	if (rc == 0)
		rc = sim_trace_open(&tr, s.o.trace, s.L, err, sizeof(err));
	if (rc == 0 && (rc = simulate_run(&s, &tr, s.o.policy, &res[0], err, sizeof(err))) == 0)
		nr = 1;
	if (rc == 0 && s.o.compare &&
	    (rc = simulate_run(&s, &tr, s.o.compare, &res[1], err, sizeof(err))) == 0)
		nr = 2;
	if (rc == 0) {
		if (s.o.json)
			simulate_json(&s, res, nr, &out);
		else
			simulate_text(&s, res, nr, &out);
		fwrite(buf_str(&out), 1, out.len, stdout);
	} else {
		fprintf(stderr, "b3scaled simulate: %s\n", err);
	}
	sim_trace_close(&tr);
	free(res[0].nodes);
	free(res[1].nodes);
	buf_free(&out);
	simulate_free(&s);
	return rc < 0 ? 1 : 0;
}

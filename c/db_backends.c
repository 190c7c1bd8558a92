/* db_backends.c: backend snapshots for placement. */
#include "db_backends.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pending: see DB_BACKENDS_PENDING_SQL. A node with an agent whose heartbeat is stale is
 * not trusted with new meetings. */
static const struct db_stmt db_backends_eligible_stmt = {
	DB_BACKENDS_ELIGIBLE, "backends_eligible",
	"SELECT b.id::text, b.host, b.secret, b.admin_state, b.node_state,"
	" array_to_string(b.tags, ','), b.load_factor,"
	" b.meetings_count, " DB_BACKENDS_PENDING_SQL ","
	" b.attendees_count, b.video_count, b.voice_count, b.listener_count"
	" , coalesce((extract(epoch FROM now() - b.counters_at) * 1000)::bigint, -1),"
	" coalesce(b.agent_cpu, -1), coalesce(b.agent_mem, -1),"
	" (SELECT v FROM placement_version),"
	" " DB_BACKENDS_RESERVED_SQL ", coalesce(b.max_meetings, 0), coalesce(b.max_attendees, 0)"
	" FROM backends b WHERE b.admin_state = 'ready' AND b.node_state <> 'unavailable'"
	" AND (b.agent_ref IS NULL OR b.agent_heartbeat >"
	"  now() - make_interval(secs => $1::double precision / 1000))"
	" ORDER BY b.created_at, b.id",
	2
};

int db_backends_row(PGresult *r, int row, int col, struct lb_backend *b)
{
	snprintf(b->id, sizeof(b->id), "%s", PQgetvalue(r, row, col));
	b->host = strdup(PQgetvalue(r, row, col + 1));
	b->secret = strdup(PQgetvalue(r, row, col + 2));
	snprintf(b->admin_state, sizeof(b->admin_state), "%s", PQgetvalue(r, row, col + 3));
	snprintf(b->node_state, sizeof(b->node_state), "%s", PQgetvalue(r, row, col + 4));
	return (b->host && b->secret) ? 0 : -ENOMEM;
}

static int db_backends_list(PGresult *r, struct lb_backend_list *out, int full)
{
	int i, n = PQntuples(r);
	struct lb_backend *b;

	out->v = calloc(n ? (size_t)n : 1, sizeof(*out->v));
	out->n = 0;
	out->gen = 0;
	out->version = -1;
	if (!out->v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		b = &out->v[out->n++];
		if (db_backends_row(r, i, 0, b) < 0)
			return -ENOMEM;
		if (!full)
			continue;
		b->tags = strdup(PQgetvalue(r, i, 5));
		if (!b->tags)
			return -ENOMEM;
		b->load_factor = strtod(PQgetvalue(r, i, 6), NULL);
		b->meetings = strtol(PQgetvalue(r, i, 7), NULL, 10);
		b->pending = strtol(PQgetvalue(r, i, 8), NULL, 10);
		b->participants = strtol(PQgetvalue(r, i, 9), NULL, 10);
		b->video = strtol(PQgetvalue(r, i, 10), NULL, 10);
		b->voice = strtol(PQgetvalue(r, i, 11), NULL, 10);
		b->listeners = strtol(PQgetvalue(r, i, 12), NULL, 10);
		b->report_age_ms = strtol(PQgetvalue(r, i, 13), NULL, 10);
		b->cpu = strtod(PQgetvalue(r, i, 14), NULL);
		b->mem = strtod(PQgetvalue(r, i, 15), NULL);
		out->version = strtoll(PQgetvalue(r, i, 16), NULL, 10);
		b->reserved = strtol(PQgetvalue(r, i, 17), NULL, 10);
		b->max_meetings = strtol(PQgetvalue(r, i, 18), NULL, 10);
		b->max_attendees = strtol(PQgetvalue(r, i, 19), NULL, 10);
	}
	return 0;
}

int db_backends_eligible(struct db *db, long agent_max_age_ms, long window_s,
			 struct lb_backend_list *out, char *err, size_t errlen)
{
	char age[24], win[24];
	const char *vals[2] = { age, win };
	PGresult *r;
	int rc;

	out->v = NULL;
	out->n = 0;
	out->gen = 0;
	out->version = -1;
	snprintf(age, sizeof(age), "%ld", agent_max_age_ms);
	snprintf(win, sizeof(win), "%ld", window_s);
	r = db_exec(db, &db_backends_eligible_stmt, vals, NULL, NULL, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	rc = db_backends_list(r, out, 1);
	PQclear(r);
	if (rc < 0)
		lb_backend_list_clear(out);
	return rc;
}

int db_backends_find(struct db *db, const char *id, struct lb_backend *b, char *err,
		     size_t errlen)
{
	static const char *sql = "SELECT id::text, host, secret, admin_state, node_state"
				 " FROM backends WHERE id = $1::uuid";
	const char *vals[1] = { id };
	PGresult *r = db_exec_sql(db, sql, 1, vals, err, errlen);
	int rc;

	memset(b, 0, sizeof(*b));
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (r)
			snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = '\0';
		PQclear(r);
		return -EIO;
	}
	rc = PQntuples(r) == 1 ? db_backends_row(r, 0, 0, b) : -ENOENT;
	if (rc == -ENOENT)
		snprintf(err, errlen, "no such backend");
	PQclear(r);
	return rc;
}

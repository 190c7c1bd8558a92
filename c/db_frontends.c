/* db_frontends.c: frontend lookups (every BBB request resolves its frontend here). */
#include "db_frontends.h"
#include "db_meetings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_FRONTENDS_COLUMNS \
	"f.id::text, f.key, f.secret, f.settings::text, f.active," \
	/* the C fallback policy honours required_tags without a JSON parser */ \
	" array_to_string(ARRAY(SELECT jsonb_array_elements_text(CASE" \
	"  WHEN jsonb_typeof(f.settings->'required_tags') = 'array'" \
	"  THEN f.settings->'required_tags' ELSE '[]'::jsonb END)), ',')," \
	" f.previous_secret," \
	/* settings.meetings_limit (a number or {limit}) for the claim; 0 when off */ \
	" CASE WHEN jsonb_typeof(coalesce(f.settings->'meetings_limit'->'limit'," \
	"  f.settings->'meetings_limit')) = 'number' THEN greatest(0, least(2147483647, floor(" \
	"  coalesce(f.settings->'meetings_limit'->'limit', f.settings->'meetings_limit')" \
	"  ::text::numeric)))::integer ELSE 0 END"
/* where DB_MEETINGS_COLUMNS start in frontend_with_meeting */
#define DB_FRONTENDS_NCOLS 8

static const struct db_stmt db_frontends_by_key = {
	DB_FRONTEND_BY_KEY, "frontend_by_key",
	"SELECT " DB_FRONTENDS_COLUMNS " FROM frontends f WHERE f.key = $1", 1
};

/* One round trip for the calls that name a meeting (join is every user's hot path). */
static const struct db_stmt db_frontends_with_meeting = {
	DB_FRONTEND_WITH_MEETING, "frontend_with_meeting",
	"SELECT " DB_FRONTENDS_COLUMNS ", " DB_MEETINGS_COLUMNS
	" FROM frontends f LEFT JOIN meetings m ON m.frontend_id = f.id AND m.meeting_id = $2"
	" LEFT JOIN backends b ON b.id = m.backend_id WHERE f.key = $1", 2
};

static int db_frontends_row(PGresult *r, struct lb_frontend *out)
{
	snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(r, 0, 0));
	snprintf(out->key, sizeof(out->key), "%s", PQgetvalue(r, 0, 1));
	out->secret = strdup(PQgetvalue(r, 0, 2));
	out->settings = strdup(PQgetvalue(r, 0, 3));
	out->active = PQgetvalue(r, 0, 4)[0] == 't';
	out->required_tags = strdup(PQgetvalue(r, 0, 5));
	/* NULL or "": no rotation (the column refuses "", a row written around it is no risk) */
	if (!PQgetisnull(r, 0, 6) && PQgetvalue(r, 0, 6)[0] &&
	    !(out->previous_secret = strdup(PQgetvalue(r, 0, 6)))) {
		lb_frontend_clear(out);
		return -ENOMEM;
	}
	out->meetings_limit = strtol(PQgetvalue(r, 0, 7), NULL, 10);
	if (!out->secret || !out->settings || !out->required_tags) {
		lb_frontend_clear(out);
		return -ENOMEM;
	}
	return 0;
}

int db_frontends_find(struct db *db, const char *key, const char *meeting_id,
		      struct lb_frontend *out, struct lb_meeting *m, int *has_meeting, char *err,
		      size_t errlen)
{
	const char *vals[2] = { key, meeting_id };
	PGresult *r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (has_meeting)
		*has_meeting = 0;
	r = db_exec(db, meeting_id ? &db_frontends_with_meeting : &db_frontends_by_key, vals, NULL,
		    NULL, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	if (PQntuples(r) != 1) {
		rc = -ENOENT;
		goto out;
	}
	rc = db_frontends_row(r, out);
	if (rc == 0 && meeting_id && !PQgetisnull(r, 0, DB_FRONTENDS_NCOLS)) {
		rc = db_meetings_row(r, DB_FRONTENDS_NCOLS, m);
		if (rc == 0 && has_meeting)
			*has_meeting = 1;
		else if (rc < 0)
			lb_frontend_clear(out);
	}
out:
	PQclear(r);
	return rc;
}

static const struct db_stmt db_frontends_policies_stmt = {
	DB_FRONTEND_POLICIES, "frontend_policies",
	"SELECT DISTINCT settings->>'policy' FROM frontends"
	" WHERE jsonb_typeof(settings->'policy') = 'string'",
	0
};

int db_frontends_policies(struct db *db, char ***names, size_t *n, char *err, size_t errlen)
{
	PGresult *r;
	int i, rows;

	*names = NULL;
	*n = 0;
	r = db_exec(db, &db_frontends_policies_stmt, NULL, NULL, NULL, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	rows = PQntuples(r);
	*names = calloc(rows ? (size_t)rows : 1, sizeof(char *));
	for (i = 0; *names && i < rows; i++) {
		(*names)[i] = strdup(PQgetvalue(r, i, 0));
		if ((*names)[i])
			(*n)++;
	}
	PQclear(r);
	return *names ? 0 : -ENOMEM;
}

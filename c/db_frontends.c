/* db_frontends.c: frontend lookups (every BBB request resolves its frontend here). */
#include "db_frontends.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct db_stmt db_frontends_by_key = {
	DB_FRONTEND_BY_KEY, "frontend_by_key",
	"SELECT id::text, key, secret, settings::text, active,"
	/* the C fallback policy honours required_tags without a JSON parser */
	" array_to_string(ARRAY(SELECT jsonb_array_elements_text(CASE"
	"  WHEN jsonb_typeof(settings->'required_tags') = 'array'"
	"  THEN settings->'required_tags' ELSE '[]'::jsonb END)), ',')"
	" FROM frontends WHERE key = $1", 1
};

int db_frontends_find(struct db *db, const char *key, struct lb_frontend *out, char *err,
		      size_t errlen)
{
	const char *vals[1] = { key };
	PGresult *r;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	r = db_exec(db, &db_frontends_by_key, vals, NULL, NULL, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	if (PQntuples(r) != 1) {
		rc = -ENOENT;
		goto out;
	}
	snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(r, 0, 0));
	snprintf(out->key, sizeof(out->key), "%s", PQgetvalue(r, 0, 1));
	out->secret = strdup(PQgetvalue(r, 0, 2));
	out->settings = strdup(PQgetvalue(r, 0, 3));
	out->active = PQgetvalue(r, 0, 4)[0] == 't';
	out->required_tags = strdup(PQgetvalue(r, 0, 5));
	if (!out->secret || !out->settings || !out->required_tags) {
		lb_frontend_clear(out);
		rc = -ENOMEM;
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

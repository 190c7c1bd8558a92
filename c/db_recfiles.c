/* db_recfiles.c: see db_recfiles.h. These run on the recordings thread (and the state change
 * in a worker), a few per import or call: unprepared. */
#include "db_recfiles.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec_meta.h"

/* The first column of the only row into out; -ENOENT when there is no row. */
static int db_recfiles_one(struct db *db, const char *sql, int n, const char *const *vals,
			   char *out, size_t outlen, char *err, size_t errlen)
{
	PGresult *r = db_query(db, sql, n, vals, PGRES_TUPLES_OK, err, errlen);
	int rc = -ENOENT;

	if (!r)
		return -EIO;
	if (PQntuples(r) == 1) {
		snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
		rc = 0;
	}
	PQclear(r);
	return rc;
}

int db_recfiles_frontend(struct db *db, const char *key, char id[40], char visibility[24],
			 char *err, size_t errlen)
{
	const char *vals[1] = { key };
	PGresult *r;
	int rc = -ENOENT;

	r = db_query(db, "SELECT id::text, coalesce(settings->'recordings'->>'visibility',"
			 " 'published') FROM frontends WHERE key = $1", 1, vals, PGRES_TUPLES_OK,
		     err, errlen);
	if (!r)
		return -EIO;
	if (PQntuples(r) == 1) {
		snprintf(id, 40, "%s", PQgetvalue(r, 0, 0));
		snprintf(visibility, 24, "%s", PQgetvalue(r, 0, 1));
		rc = 0;
	}
	PQclear(r);
	return rc;
}

int db_recfiles_node(struct db *db, const char *sub, char id[40], char *err, size_t errlen)
{
	const char *vals[1] = { sub };

	return db_recfiles_one(db, "SELECT id::text FROM backends WHERE agent_ref = $1", 1, vals,
			       id, 40, err, errlen);
}

/* A new recording is listed only once its files are in place (import_state 'staged' until
 * the settle); a known one keeps its state, metadata and visibility (an operator or the
 * frontend may have changed them) and only gains or replaces a format. The recordID of
 * another frontend matches no row of the upsert's WHERE. */
int db_recfiles_stage(struct db *db, const struct db_recfile *f, long long *id, char *err,
		      size_t errlen)
{
	const struct rec_meta *m = f->meta;
	char breakout[2] = { m->is_breakout ? 't' : 'f', 0 };
	const char *state = strcmp(f->visibility, "unpublished") == 0 || !m->published
				    ? "unpublished" : "published";
	const char *vals[19] = { f->frontend_id, m->record_id, m->meeting_id, m->internal_id,
				 m->name, breakout, state, m->start_time, m->end_time,
				 m->participants, m->raw_size, buf_str(&m->meta_json),
				 f->visibility, f->format, m->link, buf_str(&m->url_path),
				 m->processing_time, m->duration, m->size };
	const char *vals2[21];
	char out[32];
	int rc;

	memcpy(vals2, vals, sizeof(vals));
	vals2[19] = f->staging;
	vals2[20] = f->backend_id;
	rc = db_recfiles_one(db,
		"WITH r AS (INSERT INTO recordings (frontend_id, record_id, meeting_id,"
		"  internal_meeting_id, name, is_breakout, state, start_time, end_time,"
		"  participants, raw_size, metadata, visibility, import_state, pending)"
		"  VALUES ($1::uuid, $2, $3, $4, $5, $6::boolean, $7, $8::bigint, $9::bigint,"
		"  $10::integer, $11::bigint, $12::jsonb || CASE WHEN $13 IN ('public',"
		"  'public_protected') THEN '{\"gl-listed\":\"true\"}'::jsonb ELSE '{}' END, $13,"
		"  'staged', true)"
		"  ON CONFLICT (record_id) DO UPDATE SET pending = true, updated_at = now()"
		"  WHERE recordings.frontend_id = EXCLUDED.frontend_id RETURNING id),"
		" f AS (INSERT INTO recording_formats (recording_id, format, url, url_path,"
		"  processing_time, length_ms, size, staging, backend_id)"
		"  SELECT r.id, $14, $15, $16, $17::bigint, $18::bigint, $19::bigint, $20, $21::uuid"
		"  FROM r ON CONFLICT (recording_id, format) DO UPDATE SET url = EXCLUDED.url,"
		"  url_path = EXCLUDED.url_path, processing_time = EXCLUDED.processing_time,"
		"  length_ms = EXCLUDED.length_ms, size = EXCLUDED.size, staging = EXCLUDED.staging,"
		"  backend_id = EXCLUDED.backend_id)"
		" SELECT id FROM r", 21, vals2, out, sizeof(out), err, errlen);
	if (rc == -ENOENT) {
		snprintf(err, errlen, "recording %.200s belongs to another frontend", m->record_id);
		return -EEXIST;
	}
	if (rc == 0)
		*id = strtoll(out, NULL, 10);
	return rc;
}

void db_recfiles_row_clear(struct db_recfiles_row *row)
{
	size_t i;

	for (i = 0; i < row->n; i++)
		free(row->staging[i]);
	memset(row, 0, sizeof(*row));
}

void db_recfiles_settle_abort(struct db *db)
{
	char err[256];
	PGresult *r = db_exec_sql(db, "ROLLBACK", 0, NULL, err, sizeof(err));

	PQclear(r);
}

int db_recfiles_settle_begin(struct db *db, long long id, struct db_recfiles_row *row,
			     char *err, size_t errlen)
{
	char ids[24];
	const char *vals[1] = { ids };
	PGresult *r;
	int i, rc = 0;

	memset(row, 0, sizeof(*row));
	row->id = id;
	snprintf(ids, sizeof(ids), "%lld", id);
	r = db_query(db, "BEGIN", 0, NULL, PGRES_COMMAND_OK, err, errlen);
	if (!r)
		return -EIO;
	PQclear(r);
	/* SKIP LOCKED: another instance settling it is as good as done here */
	r = db_query(db, "SELECT record_id, state FROM recordings WHERE id = $1::bigint"
			 " AND pending FOR UPDATE SKIP LOCKED", 1, vals, PGRES_TUPLES_OK, err,
		     errlen);
	if (!r || PQntuples(r) != 1) {
		rc = r ? -ENOENT : -EIO;
		goto out;
	}
	snprintf(row->record_id, sizeof(row->record_id), "%s", PQgetvalue(r, 0, 0));
	snprintf(row->state, sizeof(row->state), "%s", PQgetvalue(r, 0, 1));
	PQclear(r);
	r = db_query(db, "SELECT format, staging FROM recording_formats"
			 " WHERE recording_id = $1::bigint ORDER BY format LIMIT 16", 1, vals,
		     PGRES_TUPLES_OK, err, errlen);
	if (!r) {
		rc = -EIO;
		goto out;
	}
	for (i = 0; i < PQntuples(r); i++) {
		snprintf(row->formats[i], sizeof(row->formats[0]), "%s", PQgetvalue(r, i, 0));
		row->staging[i] = PQgetisnull(r, i, 1) ? NULL : strdup(PQgetvalue(r, i, 1));
		row->n++;
		if (!PQgetisnull(r, i, 1) && !row->staging[i]) {
			rc = -ENOMEM;
			goto out;
		}
	}
out:
	PQclear(r);
	if (rc < 0) {
		db_recfiles_settle_abort(db);
		db_recfiles_row_clear(row);
	}
	return rc;
}

int db_recfiles_settle_end(struct db *db, const struct db_recfiles_row *row, const int *lost,
			   char *err, size_t errlen)
{
	char ids[24];
	struct buf gone = { 0 };
	const char *vals[2] = { ids, NULL };
	PGresult *r;
	size_t i;
	int rc = 0;

	snprintf(ids, sizeof(ids), "%lld", row->id);
	for (i = 0; i < row->n; i++) {
		if (!lost[i])
			continue;
		buf_puts(&gone, gone.len ? "," : "");
		buf_puts(&gone, row->formats[i]);
	}
	vals[1] = buf_str(&gone);
	r = db_query(db, "WITH d AS (DELETE FROM recording_formats WHERE recording_id = $1::bigint"
			 " AND format = ANY (string_to_array($2, ',')))"
			 " UPDATE recording_formats SET staging = NULL WHERE recording_id = $1::bigint"
			 " AND NOT (format = ANY (string_to_array($2, ',')))",
		     2, vals, PGRES_COMMAND_OK, err, errlen);
	if (!r)
		goto fail;
	PQclear(r);
	/* a deleted recording goes; so does one whose every tree is gone */
	r = db_query(db, "WITH d AS (DELETE FROM recordings WHERE id = $1::bigint AND"
			 " (state = 'deleted' OR NOT EXISTS (SELECT 1 FROM recording_formats"
			 "  WHERE recording_id = $1::bigint AND NOT (format = ANY"
			 "  (string_to_array($2, ','))))) RETURNING id)"
			 " UPDATE recordings SET pending = false, import_state = 'done',"
			 " updated_at = now() WHERE id = $1::bigint AND id NOT IN (SELECT id FROM d)",
		     2, vals, PGRES_COMMAND_OK, err, errlen);
	if (!r)
		goto fail;
	PQclear(r);
	r = db_query(db, "COMMIT", 0, NULL, PGRES_COMMAND_OK, err, errlen);
	if (!r)
		goto fail;
	PQclear(r);
	buf_free(&gone);
	return 0;
fail:
	rc = -EIO;
	db_recfiles_settle_abort(db);
	buf_free(&gone);
	return rc;
}

int db_recfiles_pending(struct db *db, long long *ids, size_t max, size_t *n, char *err,
			size_t errlen)
{
	char lim[24];
	const char *vals[1] = { lim };
	PGresult *r;
	int i;

	*n = 0;
	snprintf(lim, sizeof(lim), "%zu", max);
	r = db_query(db, "SELECT id FROM recordings WHERE pending ORDER BY id LIMIT $1::integer",
		     1, vals, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	for (i = 0; i < PQntuples(r) && (size_t)i < max; i++)
		ids[(*n)++] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int db_recfiles_staging_used(struct db *db, const char *name, char *err, size_t errlen)
{
	const char *vals[1] = { name };
	char out[8];
	int rc;

	rc = db_recfiles_one(db, "SELECT 1 FROM recording_formats WHERE staging LIKE"
				 " '.staging/' || $1 || '/%' LIMIT 1", 1, vals, out, sizeof(out),
			     err, errlen);
	return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

int db_recfiles_set_state(struct db *db, const char *frontend_id, const char *record_ids,
			  const char *state, char *err, size_t errlen)
{
	const char *vals[3] = { frontend_id, record_ids, state };

	return db_command(db, "UPDATE recordings SET state = $3, pending = true, updated_at = now()"
			      " WHERE frontend_id = $1::uuid AND import_state = 'done'"
			      " AND record_id = ANY (string_to_array($2, ','))",
			  3, vals, err, errlen);
}

int db_recfiles_expire(struct db *db, char *err, size_t errlen)
{
	/* one instance at a time (the others skip it this round); a recording's age counts
	 * from its end, or from its import when the node gave no end time */
	return db_command(db, "WITH lock AS (SELECT pg_try_advisory_xact_lock("
			     "  hashtext('b3scale.recordings.retention')) AS got)"
			     " UPDATE recordings r SET state = 'deleted', pending = true, updated_at = now()"
			     " FROM frontends f, lock WHERE lock.got AND f.id = r.frontend_id"
			     " AND r.import_state = 'done' AND r.state <> 'deleted'"
			     " AND jsonb_typeof(f.settings->'recordings'->'retention_days') = 'number'"
			     " AND (f.settings->'recordings'->>'retention_days')::numeric >= 1"
			     " AND coalesce(nullif(r.end_time, 0),"
			     "  (extract(epoch FROM r.created_at) * 1000)::bigint)"
			     "  < (extract(epoch FROM now()) * 1000)::bigint"
			     "  - (f.settings->'recordings'->>'retention_days')::numeric * 86400000",
			  0, NULL, err, errlen);
}

int db_recfiles_log_import(struct db *db, const char *backend_id, int status, size_t trees,
			   unsigned long long bytes, const char *record_ids, const char *message,
			   char *err, size_t errlen)
{
	char st[16], nt[24], nb[24];
	const char *vals[6] = { backend_id && *backend_id ? backend_id : NULL, st, nt, nb,
				record_ids, message };
	PGresult *r;

	snprintf(st, sizeof(st), "%d", status);
	snprintf(nt, sizeof(nt), "%zu", trees);
	snprintf(nb, sizeof(nb), "%llu", bytes);
	/* the newest 200 are plenty for a screen; the trim rides on the insert */
	r = db_query(db, "WITH i AS (INSERT INTO recording_imports (backend_id, status, trees,"
			 " bytes, record_ids, message) VALUES ($1::uuid, $2::integer, $3::integer,"
			 " $4::bigint, $5, left($6, 500)) RETURNING id)"
			 " DELETE FROM recording_imports WHERE id <= (SELECT id FROM i) - 200",
		     6, vals, PGRES_COMMAND_OK, err, errlen);
	if (!r)
		return -EIO;
	PQclear(r);
	return 0;
}

/* db_tracks.c: see db_tracks.h. A few statements per upload or settle: unprepared. */
#include "db_tracks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_TRACKS_STR(x) #x
#define DB_TRACKS_NUM(x) DB_TRACKS_STR(x)

int db_tracks_put(struct db *db, const struct db_track_put *t, char *err, size_t errlen)
{
	const char *vals[6] = { t->frontend_id, t->record_id, t->kind, t->lang, t->label,
				t->content };
	PGresult *r;
	int rc;

	/* the INSERT reads the UPDATE's rows, so the recording is locked first: a settle holds
	 * that lock before it touches the tracks, and the two never wait on each other in a
	 * circle */
	r = db_query(db, "WITH r AS (UPDATE recordings SET pending = true, updated_at = now()"
			 "  WHERE frontend_id = $1::uuid AND record_id = $2"
			 "  AND import_state = 'done' AND state <> 'deleted' RETURNING id),"
			 " t AS (INSERT INTO recording_tracks (recording_id, kind, lang, label, content)"
			 "  SELECT r.id, $3, $4, $5, $6 FROM r WHERE (SELECT count(*) FROM"
			 "  recording_tracks x WHERE x.recording_id = r.id AND NOT (x.kind = $3"
			 "  AND x.lang = $4)) < " DB_TRACKS_NUM(DB_TRACKS_MAX)
			 "  ON CONFLICT (recording_id, kind, lang) DO UPDATE SET label = EXCLUDED.label,"
			 "  content = EXCLUDED.content, written = false, updated_at = now()"
			 "  RETURNING recording_id)"
			 " SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM t)",
		     6, vals, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	if (PQntuples(r) != 1)
		rc = -EIO;
	else if (strcmp(PQgetvalue(r, 0, 0), "0") == 0)
		rc = 0;
	else
		rc = strcmp(PQgetvalue(r, 0, 1), "0") == 0 ? -ENOSPC : 1;
	if (rc == -EIO)
		snprintf(err, errlen, "unexpected answer to the track upsert");
	PQclear(r);
	return rc;
}

int db_tracks_list(struct db *db, const char *frontend_id, const char *record_id,
		   int (*fn)(const struct db_track *t, void *ud), void *ud, char *err,
		   size_t errlen)
{
	const char *vals[2] = { frontend_id, record_id };
	struct db_track t;
	PGresult *r;
	int i, n = 0, rc = 0;

	/* one row with NULL tracks columns for a recording without tracks */
	r = db_query(db, "SELECT t.kind, t.lang, t.label, t.source, coalesce((SELECT f.url FROM"
			 "  recording_formats f WHERE f.recording_id = r.id"
			 "  ORDER BY f.format <> 'presentation', f.format LIMIT 1), '')"
			 " FROM recordings r LEFT JOIN recording_tracks t ON t.recording_id = r.id"
			 " WHERE r.frontend_id = $1::uuid AND r.record_id = $2"
			 " AND r.import_state = 'done' AND r.state <> 'deleted'"
			 " ORDER BY t.lang, t.kind",
		     2, vals, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	if (PQntuples(r) == 0)
		rc = -ENOENT;
	for (i = 0; rc == 0 && i < PQntuples(r); i++) {
		if (PQgetisnull(r, i, 0))
			continue;
		t.kind = PQgetvalue(r, i, 0);
		t.lang = PQgetvalue(r, i, 1);
		t.label = PQgetvalue(r, i, 2);
		t.source = PQgetvalue(r, i, 3);
		t.node_url = PQgetvalue(r, i, 4);
		rc = fn(&t, ud);
		n++;
	}
	PQclear(r);
	return rc < 0 ? rc : n;
}

int db_tracks_files(struct db *db, long long id, struct db_track_file *out, size_t *n,
		    char *err, size_t errlen)
{
	char ids[24];
	const char *vals[1] = { ids };
	PGresult *r;
	int i;

	*n = 0;
	snprintf(ids, sizeof(ids), "%lld", id);
	/* one file per language (caption_<lang>.vtt): subtitles and captions in the same
	 * language share it, the newer upload wins */
	r = db_query(db, "SELECT DISTINCT ON (lang) kind, lang, label, written"
			 " FROM recording_tracks WHERE recording_id = $1::bigint"
			 " ORDER BY lang, updated_at DESC, kind LIMIT " DB_TRACKS_NUM(DB_TRACKS_MAX),
		     1, vals, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	for (i = 0; i < PQntuples(r) && i < DB_TRACKS_MAX; i++) {
		snprintf(out[i].kind, sizeof(out[i].kind), "%s", PQgetvalue(r, i, 0));
		snprintf(out[i].lang, sizeof(out[i].lang), "%s", PQgetvalue(r, i, 1));
		snprintf(out[i].label, sizeof(out[i].label), "%s", PQgetvalue(r, i, 2));
		out[i].written = strcmp(PQgetvalue(r, i, 3), "t") == 0;
		(*n)++;
	}
	PQclear(r);
	return 0;
}

int db_tracks_content(struct db *db, long long id, const struct db_track_file *t,
		      struct buf *out, char *err, size_t errlen)
{
	char ids[24];
	const char *vals[3] = { ids, t->kind, t->lang };
	PGresult *r;
	int rc = 0;

	snprintf(ids, sizeof(ids), "%lld", id);
	r = db_query(db, "SELECT content FROM recording_tracks WHERE recording_id = $1::bigint"
			 " AND kind = $2 AND lang = $3",
		     3, vals, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	if (PQntuples(r) != 1) {
		snprintf(err, errlen, "track %s/%s is gone", t->kind, t->lang);
		rc = -ENOENT;
	} else if (buf_append(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0)) < 0) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
	PQclear(r);
	return rc;
}

int db_tracks_written(struct db *db, long long id, char *err, size_t errlen)
{
	char ids[24];
	const char *vals[1] = { ids };
	PGresult *r;

	snprintf(ids, sizeof(ids), "%lld", id);
	r = db_query(db, "UPDATE recording_tracks SET written = true"
			 " WHERE recording_id = $1::bigint AND NOT written",
		     1, vals, PGRES_COMMAND_OK, err, errlen);
	if (!r)
		return -EIO;
	PQclear(r);
	return 0;
}

/* db_recordings.c: see db_recordings.h. Two statements per page: the page's rows (with the
 * count of all that match), then their metadata and formats as rows, grouped here. */
#include "db_recordings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* The WHERE of a getRecordings with only the filters it uses (values stay parameters,
 * numbered from *n + 1 into vals): the page walks the partial (frontend, start_time, id)
 * index, and a count with no other filter than the states is an index-only scan. Both are
 * planned with their values each time, never prepared: a generic plan kept every filter a
 * request leaves empty, and at 10,000 recordings that made a page take half a second. */
static void db_recordings_where(const struct db_recordings_query *q, struct buf *sql,
				const char **vals, int *n)
{
	vals[(*n)++] = q->frontend_id;
	buf_printf(sql, " WHERE r.frontend_id = $%d::uuid AND r.import_state = 'done'", *n);
	vals[(*n)++] = q->states;
	buf_printf(sql, " AND r.state = ANY (string_to_array($%d, ','))", *n);
	if (*q->meeting_ids) {
		vals[(*n)++] = q->meeting_ids;
		buf_printf(sql, " AND r.meeting_id = ANY (string_to_array($%d, ','))", *n);
	}
	if (*q->record_ids) { /* BBB matches recordIDs as prefixes */
		vals[(*n)++] = q->record_ids;
		buf_printf(sql, " AND EXISTS (SELECT 1 FROM unnest(string_to_array($%d, ',')) p"
				" WHERE p <> '' AND starts_with(r.record_id, p))", *n);
	}
	if (strcmp(q->meta_json, "{}") != 0) {
		vals[(*n)++] = q->meta_json;
		buf_printf(sql, " AND r.metadata @> $%d::jsonb", *n);
	}
}

static const struct db_stmt db_recordings_meta_stmt = {
	DB_RECORDINGS_META, "recordings_meta",
	"UPDATE recordings SET metadata = (metadata"
	"  - ARRAY(SELECT jsonb_array_elements_text($4::jsonb))) || $3::jsonb, updated_at = now()"
	" WHERE frontend_id = $1::uuid AND import_state = 'done'"
	" AND record_id = ANY (string_to_array($2, ','))",
	4
};

/* metadata pairs first (is_format false), each group in name order */
static const struct db_stmt db_recordings_parts_stmt = {
	DB_RECORDINGS_PARTS, "recordings_parts",
	"SELECT r.id, false, m.key COLLATE \"C\", m.value, NULL, NULL, NULL, NULL, NULL, NULL"
	" FROM recordings r CROSS JOIN LATERAL jsonb_each_text(r.metadata) m"
	" WHERE r.id = ANY ($1::bigint[])"
	" UNION ALL SELECT f.recording_id, true, NULL, NULL, f.format, f.url, f.url_path,"
	" f.processing_time::text, f.length_ms::text, f.size::text"
	" FROM recording_formats f WHERE f.recording_id = ANY ($1::bigint[])"
	" AND f.staging IS NULL" /* a format being imported has no files in place yet */
	" ORDER BY 1, 2, 3, 5",
	1
};

static void db_recordings_part(PGresult *r, int i, struct db_recording_part *p)
{
	p->is_format = PQgetvalue(r, i, 1)[0] == 't';
	p->key = PQgetvalue(r, i, 2);
	p->value = PQgetvalue(r, i, 3);
	p->format = PQgetvalue(r, i, 4);
	p->url = PQgetvalue(r, i, 5);
	p->url_path = PQgetvalue(r, i, 6);
	p->processing_time = PQgetvalue(r, i, 7);
	p->length_ms = PQgetvalue(r, i, 8);
	p->size = PQgetvalue(r, i, 9);
}

/* The page's parts, grouped by recording: parts of row i of page are v[first[i]..first[i+1]). */
static int db_recordings_parts(struct db *db, PGresult *page, PGresult **out,
			       struct db_recording_part **v, size_t **first, char *err,
			       size_t errlen)
{
	int i, j, n = PQntuples(page), m;
	struct buf ids;
	const char *vals[1];
	size_t k = 0;

	*out = NULL;
	*v = NULL;
	*first = calloc((size_t)n + 1, sizeof(**first));
	buf_init(&ids);
	buf_puts(&ids, "{");
	for (i = 0; i < n; i++)
		buf_printf(&ids, "%s%s", i ? "," : "", PQgetvalue(page, i, 0)); /* digits only */
	buf_puts(&ids, "}");
	if (!*first || ids.oom) {
		buf_free(&ids);
		return -ENOMEM;
	}
	vals[0] = ids.data;
	*out = db_exec(db, &db_recordings_parts_stmt, vals, NULL, NULL, PGRES_TUPLES_OK, err,
		       errlen);
	buf_free(&ids);
	if (!*out)
		return -EIO;
	m = PQntuples(*out);
	*v = calloc(m ? (size_t)m : 1, sizeof(**v));
	if (!*v)
		return -ENOMEM;
	/* parts come ordered by recording id, the page by start time: each row's run of parts
	 * is found by binary search and copied, so v is in page order */
	for (i = 0; i < n; i++) {
		long long id = strtoll(PQgetvalue(page, i, 0), NULL, 10);
		int lo = 0, hi = m;

		while (lo < hi) {
			int mid = lo + (hi - lo) / 2;
			if (strtoll(PQgetvalue(*out, mid, 0), NULL, 10) < id)
				lo = mid + 1;
			else
				hi = mid;
		}
		(*first)[i] = k;
		for (j = lo; j < m && strtoll(PQgetvalue(*out, j, 0), NULL, 10) == id; j++)
			db_recordings_part(*out, j, &(*v)[k++]);
	}
	(*first)[n] = k;
	return 0;
}

/* One statement over the filtered recordings: select, the WHERE, and with paged the order
 * and the page's bounds. NULL with err. */
static PGresult *db_recordings_query(struct db *db, const struct db_recordings_query *q,
				     const char *select, int paged, char *err, size_t errlen)
{
	char off[24], lim[24];
	const char *vals[8];
	struct buf sql;
	PGresult *r = NULL;
	int nv = 0;

	buf_init(&sql);
	buf_puts(&sql, select);
	db_recordings_where(q, &sql, vals, &nv);
	if (paged) {
		snprintf(off, sizeof(off), "%ld", q->offset);
		snprintf(lim, sizeof(lim), "%ld", q->limit);
		vals[nv++] = off;
		vals[nv++] = q->limit > 0 ? lim : NULL;
		buf_printf(&sql, " ORDER BY r.start_time, r.id OFFSET $%d::bigint LIMIT $%d::bigint",
			   nv - 1, nv);
	}
	if (sql.oom)
		snprintf(err, errlen, "out of memory");
	else
		r = db_query(db, sql.data, nv, vals, PGRES_TUPLES_OK, err, errlen);
	buf_free(&sql);
	return r;
}

int db_recordings_page(struct db *db, const struct db_recordings_query *q, long *total,
		       int (*fn)(const struct db_recording *r, void *ud), void *ud, char *err,
		       size_t errlen)
{
	struct db_recording_part *parts = NULL;
	struct db_recording rec;
	PGresult *page, *pr = NULL;
	size_t *first = NULL;
	int i, n, rc;

	*total = 0;
	if (q->count) {
		pr = db_recordings_query(db, q, "SELECT count(*) FROM recordings r", 0, err, errlen);
		if (!pr)
			return -EIO;
		*total = strtol(PQgetvalue(pr, 0, 0), NULL, 10);
		PQclear(pr);
		pr = NULL;
	}
	page = db_recordings_query(db, q,
				   "SELECT r.id::text, r.record_id, r.meeting_id, r.internal_meeting_id,"
				   " r.name, r.is_breakout, r.state, r.start_time::text,"
				   " r.end_time::text, r.participants::text, r.raw_size::text,"
				   " r.visibility FROM recordings r", 1, err, errlen);
	if (!page)
		return -EIO;
	n = PQntuples(page);
	if (!q->count)
		*total = n;
	rc = n > 0 ? db_recordings_parts(db, page, &pr, &parts, &first, err, errlen) : 0;
	for (i = 0; rc >= 0 && i < n; i++) {
		rec.record_id = PQgetvalue(page, i, 1);
		rec.meeting_id = PQgetvalue(page, i, 2);
		rec.internal_id = PQgetvalue(page, i, 3);
		rec.name = PQgetvalue(page, i, 4);
		rec.is_breakout = PQgetvalue(page, i, 5)[0] == 't';
		rec.state = PQgetvalue(page, i, 6);
		rec.start_time = PQgetvalue(page, i, 7);
		rec.end_time = PQgetvalue(page, i, 8);
		rec.participants = PQgetvalue(page, i, 9);
		rec.raw_size = PQgetvalue(page, i, 10);
		rec.visibility = PQgetvalue(page, i, 11);
		rec.parts = parts + first[i];
		rec.nparts = first[i + 1] - first[i];
		rc = fn(&rec, ud);
	}
	free(parts);
	free(first);
	PQclear(pr);
	PQclear(page);
	return rc < 0 ? rc : 0;
}

int db_recordings_update_meta(struct db *db, const char *frontend_id, const char *record_ids,
			      const char *set_json, const char *drop_json, char *err,
			      size_t errlen)
{
	const char *vals[4] = { frontend_id, record_ids, set_json, drop_json };
	PGresult *r = db_exec(db, &db_recordings_meta_stmt, vals, NULL, NULL, PGRES_COMMAND_OK,
			      err, errlen);
	int n;

	if (!r)
		return -EIO;
	n = atoi(PQcmdTuples(r));
	PQclear(r);
	return n;
}

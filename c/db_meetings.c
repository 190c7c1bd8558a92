/* db_meetings.c: meeting placement records; each change is one atomic statement. */
#include "db_meetings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_backends.h"
#include "route_cache.h"

static const struct db_stmt db_meetings_find_stmt = {
	DB_MEETING_FIND, "meeting_find",
	"SELECT " DB_MEETINGS_COLUMNS
	" FROM meetings m LEFT JOIN backends b ON b.id = m.backend_id"
	" WHERE m.frontend_id = $1 AND m.meeting_id = $2",
	2
};

int db_meetings_row(PGresult *r, int col, struct lb_meeting *out)
{
	memset(out, 0, sizeof(*out));
	out->id = strtoll(PQgetvalue(r, 0, col), NULL, 10);
	out->backend_meeting_id = strdup(PQgetvalue(r, 0, col + 1));
	out->confirmed = PQgetvalue(r, 0, col + 2)[0] == 't';
	out->participants = strtol(PQgetvalue(r, 0, col + 3), NULL, 10);
	out->has_backend = !PQgetisnull(r, 0, col + 4);
	if (!out->backend_meeting_id ||
	    (out->has_backend && db_backends_row(r, 0, col + 4, &out->backend) < 0)) {
		lb_meeting_clear(out);
		return -ENOMEM;
	}
	return 0;
}

/* The placement_reason (sql/0024) from by, the policy's explanation JSON and a fallback's
 * error: NULL when by is NULL (a restored claim says nothing about why). */
#define DB_MEETINGS_REASON(by, json, error) \
	"CASE WHEN " by "::text IS NULL THEN NULL ELSE jsonb_build_object('by', " by "::text)" \
	" || coalesce(b3s_jsonb_or_null(" json "::text), '{}'::jsonb)" \
	" || CASE WHEN " error "::text IS NULL THEN '{}'::jsonb" \
	" ELSE jsonb_build_object('error', " error "::text) END END"

/* $8, when not NULL, is the placement_version the pick was made at (sql/0013): a pick from an
 * older snapshot claims nothing and says so, so the create reads again. $9, when not NULL,
 * is the frontend's meetings_limit: b3s_meetings_room (sql/0025) holds the frontend's lock
 * to the end of this statement and says whether one more row fits. $10-$12: the placement
 * reason (DB_MEETINGS_REASON); $13 the meeting's expected size (NULL: unknown) */
static const struct db_stmt db_meetings_claim_stmt = {
	DB_MEETING_CLAIM, "meeting_claim",
	"WITH v AS (SELECT 1 FROM placement_version WHERE $8::bigint IS NULL OR v = $8::bigint),"
	" room AS (SELECT CASE WHEN $9::integer IS NULL THEN true"
	"  ELSE b3s_meetings_room($1::uuid, $2::text, $9::integer) END AS ok),"
	" ins AS (INSERT INTO meetings (frontend_id, meeting_id, backend_meeting_id, backend_id,"
	"  create_query, create_body, create_content_type, expected_size, placement_reason)"
	"  SELECT $1::uuid, $2::text, $3::text, $4::uuid, $5::text, $6::bytea, $7::text,"
	"  $13::integer, " DB_MEETINGS_REASON("$10", "$11", "$12") " FROM v, room WHERE room.ok"
	"  ON CONFLICT (frontend_id, meeting_id) DO NOTHING RETURNING id)"
	" SELECT (SELECT id FROM ins), EXISTS (SELECT 1 FROM v), (SELECT ok FROM room)",
	13
};

static const struct db_stmt db_meetings_move_stmt = {
	DB_MEETING_MOVE, "meeting_move",
	/* a moved meeting is unconfirmed until its new node says SUCCESS: a poll of that node
	 * running meanwhile must not take the row for a meeting the node lost; $4 as the
	 * claim's $8 */
	"WITH v AS (SELECT 1 FROM placement_version WHERE $4::bigint IS NULL OR v = $4::bigint),"
	" m AS (UPDATE meetings SET backend_id = $3::uuid, confirmed_at = NULL, updated_at = now(),"
	"  placement_reason = " DB_MEETINGS_REASON("$5", "$6", "$7")
	"  WHERE id = $1 AND backend_id IS NOT DISTINCT FROM $2::uuid AND EXISTS (SELECT 1 FROM v)"
	"  RETURNING id)"
	" SELECT (SELECT id FROM m), EXISTS (SELECT 1 FROM v)",
	7
};

static const struct db_stmt db_meetings_confirm_stmt = {
	DB_MEETING_CONFIRM, "meeting_confirm",
	/* a repeated create of a running meeting keeps the parameters the meeting has: BBB
	 * ignored the new ones (duplicateWarning), and a failover must re-create the meeting
	 * it really was */
	"WITH c AS (UPDATE meetings SET internal_id = $3, create_time = $4::bigint, attendee_pw = $5,"
	" moderator_pw = $6,"
	" create_query = CASE WHEN confirmed_at IS NULL THEN $7 ELSE create_query END,"
	" create_body = CASE WHEN confirmed_at IS NULL THEN $8 ELSE create_body END,"
	" create_content_type = CASE WHEN confirmed_at IS NULL THEN $9 ELSE create_content_type END,"
	" confirmed_at = coalesce(confirmed_at, now()), updated_at = now()"
	" WHERE id = $1 AND backend_id = $2::uuid RETURNING backend_meeting_id),"
	/* the live view has it at once (getMeetings lists it), as the node does; the node's next
	 * snapshot or its agent fill in the rest */
	" nm AS (INSERT INTO node_meetings (backend_id, internal_id, meeting_id, name)"
	"  SELECT $2::uuid, $3, c.backend_meeting_id, coalesce($10, '') FROM c WHERE $3 IS NOT NULL"
	"  ON CONFLICT DO NOTHING)"
	" SELECT count(*) FROM c",
	10
};

static const struct db_stmt db_meetings_drop_stmt = {
	DB_MEETING_DROP_CLAIM, "meeting_drop_claim",
	"DELETE FROM meetings WHERE id = $1 AND confirmed_at IS NULL", 1
};

int db_meetings_find(struct db *db, const char *frontend_id, const char *meeting_id,
		     struct lb_meeting *out, char *err, size_t errlen)
{
	const char *vals[2] = { frontend_id, meeting_id };
	PGresult *r;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	r = db_exec(db, &db_meetings_find_stmt, vals, NULL, NULL, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	if (PQntuples(r) != 1) {
		rc = -ENOENT;
		goto out;
	}
	rc = db_meetings_row(r, 0, out);
out:
	PQclear(r);
	return rc;
}

/* The (id, version still current) row of the claim and the move: 0 with *id, -ESTALE when
 * the version moved on, else `lost`. */
static int db_meetings_placed(PGresult *r, long long *id, int lost)
{
	if (PQntuples(r) != 1 || PQnfields(r) < 2)
		return lost;
	if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
		return -ESTALE;
	if (PQgetisnull(r, 0, 0))
		return lost;
	*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	return 0;
}

static const char *db_meetings_version(char *buf, size_t len, long long version)
{
	if (version < 0)
		return NULL;
	snprintf(buf, len, "%lld", version);
	return buf;
}

/* The reason's fields as parameters (all NULL without one). */
static void db_meetings_reason_vals(const struct db_placement *why, const char **vals)
{
	vals[0] = why ? why->by : NULL;
	vals[1] = why && why->by && why->json && why->json[0] ? why->json : NULL;
	vals[2] = why && why->by && why->error && why->error[0] ? why->error : NULL;
}

int db_meetings_claim(struct db *db, const char *frontend_id, const char *meeting_id,
		      const char *backend_meeting_id, const char *backend_id, long long version,
		      long meetings_limit, const struct db_create_call *call,
		      const struct db_placement *why, long long *id, char *err, size_t errlen)
{
	char vb[24], lb[24], es[24];
	const char *vals[13] = { frontend_id, meeting_id, backend_meeting_id, backend_id,
				 call->query, call->body, call->content_type,
				 db_meetings_version(vb, sizeof(vb), version),
				 meetings_limit > 0 ? lb : NULL };
	int lens[13] = { 0, 0, 0, 0, 0, (int)call->body_len, 0, 0, 0, 0, 0, 0, 0 };
	int bin[13] = { 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 };
	PGresult *r;
	int rc;

	snprintf(lb, sizeof(lb), "%ld", meetings_limit);
	snprintf(es, sizeof(es), "%ld", call->expected_size);
	db_meetings_reason_vals(why, vals + 9);
	vals[12] = call->expected_size > 0 ? es : NULL;
	r = db_exec(db, &db_meetings_claim_stmt, vals, lens, bin, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	rc = db_meetings_placed(r, id, -EEXIST);
	/* a current pick refused for the limit (a stale one reads again first) */
	if (rc == -EEXIST && PQnfields(r) == 3 && strcmp(PQgetvalue(r, 0, 2), "f") == 0)
		rc = -EDQUOT;
	PQclear(r);
	return rc;
}

int db_meetings_move(struct db *db, long long id, const char *from, const char *to,
		     long long version, const struct db_placement *why, char *err, size_t errlen)
{
	char ids[24], vb[24];
	const char *vals[7] = { ids, from, to, db_meetings_version(vb, sizeof(vb), version) };
	long long moved;
	PGresult *r;
	int rc;

	db_meetings_reason_vals(why, vals + 4);
	snprintf(ids, sizeof(ids), "%lld", id);
	r = db_exec(db, &db_meetings_move_stmt, vals, NULL, NULL, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	rc = db_meetings_placed(r, &moved, -EAGAIN);
	PQclear(r);
	if (rc == 0)
		route_cache_bump(); /* this instance must not wait for its own notification */
	return rc;
}

int db_meetings_confirm(struct db *db, long long id, const char *backend_id,
			const struct db_create_call *call, const struct db_create_answer *ans,
			char *err, size_t errlen)
{
	char ids[24];
	const char *vals[10] = { ids, backend_id, ans->internal_id, ans->create_time,
				 ans->attendee_pw, ans->moderator_pw, call->query, call->body,
				 call->content_type, ans->name };
	int lens[10] = { 0, 0, 0, 0, 0, 0, 0, (int)call->body_len, 0, 0 };
	int bin[10] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 };
	PGresult *r;
	int rc;

	snprintf(ids, sizeof(ids), "%lld", id);
	r = db_exec(db, &db_meetings_confirm_stmt, vals, lens, bin, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	/* 0 rows: the row is gone or points elsewhere; the caller must not assume it holds */
	rc = strtol(PQgetvalue(r, 0, 0), NULL, 10) == 1 ? 0 : -ENOENT;
	if (rc < 0)
		snprintf(err, errlen, "the meeting's row is gone or moved");
	PQclear(r);
	return rc;
}

int db_meetings_drop_claim(struct db *db, long long id, char *err, size_t errlen)
{
	char ids[24];
	const char *vals[1] = { ids };
	PGresult *r;

	snprintf(ids, sizeof(ids), "%lld", id);
	r = db_exec(db, &db_meetings_drop_stmt, vals, NULL, NULL, PGRES_COMMAND_OK, err, errlen);
	if (!r)
		return -EIO;
	PQclear(r);
	return 0;
}

static const struct db_stmt db_meetings_state_stmt = {
	DB_MEETING_STATE, "meeting_state",
	"UPDATE meetings SET participants = $2::integer, running = $3::boolean, updated_at = now()"
	" WHERE id = $1",
	3
};

static const struct db_stmt db_meetings_frontend_attendees_stmt = {
	DB_FRONTEND_ATTENDEES, "frontend_attendees",
	"SELECT coalesce(sum(participants), 0) FROM meetings WHERE frontend_id = $1", 1
};

static const struct db_stmt db_meetings_changed_stmt = {
	DB_MEETING_CHANGED, "meeting_changed", "SELECT pg_notify('b3scale_meetings', $1)", 1
};

int db_meetings_changed(struct db *db, const char *backend_meeting_id, char *err, size_t errlen)
{
	const char *vals[1] = { backend_meeting_id };
	PGresult *r = db_exec(db, &db_meetings_changed_stmt, vals, NULL, NULL, PGRES_TUPLES_OK,
			      err, errlen);

	if (!r)
		return -EIO;
	PQclear(r);
	return 0;
}

int db_meetings_set_state(struct db *db, long long id, long participants, int running,
			  char *err, size_t errlen)
{
	char ids[24], ps[24];
	const char *vals[3] = { ids, ps, running ? "true" : "false" };
	PGresult *r;

	snprintf(ids, sizeof(ids), "%lld", id);
	snprintf(ps, sizeof(ps), "%ld", participants);
	r = db_exec(db, &db_meetings_state_stmt, vals, NULL, NULL, PGRES_COMMAND_OK, err, errlen);
	if (!r)
		return -EIO;
	PQclear(r);
	return 0;
}

int db_meetings_frontend_attendees(struct db *db, const char *frontend_id, long *n, char *err,
				   size_t errlen)
{
	const char *vals[1] = { frontend_id };
	PGresult *r;

	r = db_exec(db, &db_meetings_frontend_attendees_stmt, vals, NULL, NULL, PGRES_TUPLES_OK,
		    err, errlen);
	if (!r)
		return -EIO;
	*n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

static const struct db_stmt db_meetings_create_call_stmt = {
	DB_MEETING_CREATE_CALL, "meeting_create_call",
	"SELECT create_query, create_body, create_content_type FROM meetings WHERE id = $1", 1
};

int db_meetings_create_call(struct db *db, long long id, char **query, char **body,
			    size_t *body_len, char **content_type, char *err, size_t errlen)
{
	char ids[24];
	const char *vals[1] = { ids };
	PGresult *r;
	unsigned char *raw;
	size_t n = 0;
	int rc = 0;

	*query = *body = *content_type = NULL;
	*body_len = 0;
	snprintf(ids, sizeof(ids), "%lld", id);
	r = db_exec(db, &db_meetings_create_call_stmt, vals, NULL, NULL, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return -ENOENT;
	}
	*query = strdup(PQgetvalue(r, 0, 0));
	if (!PQgetisnull(r, 0, 1)) {
		/* text-format bytea comes back escaped */
		raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 1), &n);
		if (raw) {
			*body = malloc(n + 1);
			if (*body) {
				memcpy(*body, raw, n);
				(*body)[n] = '\0';
				*body_len = n;
			}
			PQfreemem(raw);
		}
	}
	if (!PQgetisnull(r, 0, 2))
		*content_type = strdup(PQgetvalue(r, 0, 2));
	if (!*query)
		rc = -ENOMEM;
	PQclear(r);
	return rc;
}

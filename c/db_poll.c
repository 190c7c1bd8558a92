/* db_poll.c: claiming due backends, recording polls and reconciling meeting rows.
 * Meetings travel to Postgres as one JSON document so a node with hundreds of meetings
 * costs one statement, not hundreds. */
#include "db_poll.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bbb_checksum.h"
#include "buf.h"
#include "db_backends.h"
#include "log.h"

/* An unchanged answer is still processed in full this often: adoption for a frontend added
 * since, strays whose end failed, rows removed by hand. */
#define DB_POLL_DIGEST_MAX_AGE_S "30"

/* Without a result, db_exec*() has already said why in err (the connection may be gone). */
static int db_poll_fail(PGresult *r, struct db *db, char *err, size_t errlen)
{
	(void)db;
	if (r)
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	err[strcspn(err, "\n")] = '\0';
	PQclear(r);
	return -EIO;
}

int db_poll_claim(struct db *db, const char *owner, long interval_ms, long lease_ms,
		  size_t max, struct lb_backend_list *out, char *err, size_t errlen)
{
	static const char *sql =
		"UPDATE backends SET poll_owner = $1,"
		" poll_lease_until = now() + make_interval(secs => $3::double precision / 1000)"
		" WHERE id IN (SELECT id FROM backends"
		"  WHERE admin_state <> 'init'"
		"  AND (polled_at IS NULL OR polled_at <= now() - make_interval(secs => $2::double precision / 1000))"
		"  AND (poll_lease_until IS NULL OR poll_lease_until < now())"
		"  ORDER BY polled_at NULLS FIRST LIMIT $4::integer FOR UPDATE SKIP LOCKED)"
		" RETURNING id::text, host, secret, admin_state, node_state";
	char iv[24], lv[24], nv[24];
	const char *vals[4] = { owner, iv, lv, nv };
	PGresult *r;
	int rc = 0, i, n;

	snprintf(iv, sizeof(iv), "%ld", interval_ms);
	snprintf(lv, sizeof(lv), "%ld", lease_ms);
	snprintf(nv, sizeof(nv), "%zu", max);
	memset(out, 0, sizeof(*out));
	r = db_exec_sql(db, sql, 4, vals, err, errlen);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
		return db_poll_fail(r, db, err, errlen);
	n = PQntuples(r);
	out->v = calloc(n ? (size_t)n : 1, sizeof(*out->v));
	if (!out->v) {
		PQclear(r);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n && rc == 0; i++) {
		rc = db_backends_row(r, i, 0, &out->v[i]);
		if (rc == 0)
			out->n++;
	}
	PQclear(r);
	return rc;
}

int db_poll_release(struct db *db, const char *owner, char *err, size_t errlen)
{
	static const char *sql = "UPDATE backends SET poll_lease_until = NULL, poll_owner = NULL"
				 " WHERE poll_owner = $1";
	const char *vals[1] = { owner };
	PGresult *r = db_exec_sql(db, sql, 1, vals, err, errlen);

	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
		return db_poll_fail(r, db, err, errlen);
	PQclear(r);
	return 0;
}

int db_poll_record(struct db *db, const char *backend_id, const struct db_poll_result *res,
		   long long unchanged_at, int fail_after, int ok_after, char *node_state,
		   size_t nslen, char *err, size_t errlen)
{
	/* right-hand sides see the row before the update: "+ 1" is this poll */
	static const char *sql =
		"UPDATE backends SET polled_at = now(), poll_lease_until = NULL, poll_owner = NULL,"
		" latency_ms = $3::integer,"
		" consecutive_failures = CASE WHEN $2::boolean THEN 0 ELSE consecutive_failures + 1 END,"
		" consecutive_successes = CASE WHEN $2::boolean THEN consecutive_successes + 1 ELSE 0 END,"
		/* the counters come from the live view (b3s_refresh_node), not from here; an answer
		 * found unchanged confirms them as of when it was asked */
		" counters_at = CASE WHEN $7::bigint > 0 THEN greatest(counters_at,"
		"  to_timestamp($7::double precision / 1000)) ELSE counters_at END,"
		" last_error = CASE WHEN $2::boolean THEN NULL ELSE $4 END,"
		" node_state = CASE"
		"  WHEN $2::boolean AND (node_state <> 'unavailable' OR consecutive_successes + 1 >= $6::integer) THEN 'ready'"
		"  WHEN NOT $2::boolean AND consecutive_failures + 1 >= $5::integer THEN 'unavailable'"
		"  ELSE node_state END,"
		" updated_at = now()"
		" WHERE id = $1 RETURNING node_state";
	char v[4][32];
	const char *vals[7];
	PGresult *r;

	snprintf(v[0], 32, "%ld", res->latency_ms);
	snprintf(v[1], 32, "%d", fail_after);
	snprintf(v[2], 32, "%d", ok_after);
	vals[0] = backend_id;
	vals[1] = res->ok ? "true" : "false";
	vals[2] = v[0];
	vals[3] = res->ok ? NULL : res->error;
	vals[4] = v[1];
	vals[5] = v[2];
	snprintf(v[3], 32, "%lld", unchanged_at);
	vals[6] = v[3];
	r = db_exec_sql(db, sql, 7, vals, err, errlen);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
		return db_poll_fail(r, db, err, errlen);
	snprintf(node_state, nslen, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return 0;
}

static int db_poll_flag(struct xml_node *a, const char *name)
{
	const char *t = xml_dom_child_text(a, name);

	return t && strcmp(t, "true") == 0;
}

/* Attendees keyed by BBB's user ID (the internal w_... one an agent's events carry, so a
 * later leave finds its user), by position when a node leaves it out. */
static void db_poll_attendees(struct buf *j, struct xml_node *meeting)
{
	struct xml_node *list = meeting ? xml_dom_child(meeting, "attendees") : NULL, *a;
	const char *role, *uid;
	char pos[24];
	int i = 0;

	buf_puts(j, "{");
	for (a = list ? list->first : NULL; a; a = a->next) {
		if (strcmp(a->name, "attendee") != 0)
			continue;
		role = xml_dom_child_text(a, "role");
		uid = xml_dom_child_text(a, "userID");
		snprintf(pos, sizeof(pos), "s%d", i);
		if (i)
			buf_puts(j, ",");
		buf_json_str(j, uid && *uid ? uid : pos);
		buf_puts(j, ":{\"role\":");
		buf_json_str(j, role ? role : "");
		buf_puts(j, ",\"name\":");
		buf_json_str(j, xml_dom_child_text(a, "fullName") ? xml_dom_child_text(a, "fullName") : "");
		buf_printf(j, ",\"voice\":%s,\"listen\":%s,\"video\":%d,\"presenter\":%s}",
			   db_poll_flag(a, "hasJoinedVoice") ? "true" : "false",
			   db_poll_flag(a, "isListeningOnly") ? "true" : "false",
			   db_poll_flag(a, "hasVideo"),
			   db_poll_flag(a, "isPresenter") ? "true" : "false");
		i++;
	}
	buf_puts(j, "}");
}

/* What the live view holds of a node's meeting elements: internal ID and the hash of its
 * stored element, so an unchanged element is not sent again (polls carry megabytes of them). */
struct db_poll_known {
	PGresult *r; /* internal_id, xml_hash */
	int n;
};

static int db_poll_known_read(struct db *db, const char *backend_id, struct db_poll_known *k,
			      char *err, size_t errlen)
{
	const char *vals[1] = { backend_id };

	memset(k, 0, sizeof(*k));
	k->r = db_exec_sql(db, "SELECT internal_id, xml_hash FROM node_meetings"
			       " WHERE backend_id = $1::uuid AND xml_hash IS NOT NULL", 1, vals, err,
			   errlen);
	if (!k->r || PQresultStatus(k->r) != PGRES_TUPLES_OK) {
		PGresult *r = k->r;
		k->r = NULL;
		return db_poll_fail(r, db, err, errlen);
	}
	k->n = PQntuples(k->r);
	return 0;
}

static int db_poll_known_has(const struct db_poll_known *k, const char *id, const char *hash)
{
	int i;

	for (i = 0; k && k->r && i < k->n; i++)
		if (strcmp(PQgetvalue(k->r, i, 0), id) == 0)
			return strcmp(PQgetvalue(k->r, i, 1), hash) == 0;
	return 0;
}

/* The snapshot as JSON for jsonb_to_recordset. With with_xml, each meeting's element and
 * its hash; the element itself only where known does not have that hash already. */
static int db_poll_json(struct buf *j, const struct db_poll_meeting *m, size_t n, int with_xml,
			const struct db_poll_known *known)
{
	char hash[BBB_CHECKSUM_HEX_MAX];
	const char *iid;
	struct buf x;
	size_t i;

	buf_init(&x);
	buf_puts(j, "[");
	for (i = 0; i < n; i++) {
		iid = m[i].internal_id ? m[i].internal_id : m[i].backend_meeting_id;
		buf_puts(j, i ? ",{\"id\":" : "{\"id\":");
		buf_json_str(j, m[i].backend_meeting_id);
		buf_puts(j, ",\"internal_id\":");
		buf_json_str(j, iid);
		buf_puts(j, ",\"name\":");
		buf_json_str(j, m[i].name ? m[i].name : "");
		if (m[i].parent_id) {
			buf_puts(j, ",\"parent_id\":");
			buf_json_str(j, m[i].parent_id);
		}
		buf_printf(j, ",\"running\":%s,\"is_breakout\":%s,\"attendees\":",
			   m[i].running ? "true" : "false", m[i].is_breakout ? "true" : "false");
		db_poll_attendees(j, m[i].xml);
		if (with_xml && m[i].xml) { /* kept for getMeetings (sql/0010) */
			xml_dom_write(&x, m[i].xml);
			if (bbb_checksum_compute(BBB_HASH_SHA1, "", buf_str(&x), x.len, "", hash) == 0) {
				buf_printf(j, ",\"xml_hash\":\"%s\"", hash);
				if (!db_poll_known_has(known, iid, hash)) {
					buf_puts(j, ",\"xml\":");
					buf_json_str(j, buf_str(&x));
				}
			}
			buf_reset(&x);
		}
		buf_puts(j, "}");
	}
	buf_puts(j, "]");
	buf_free(&x);
	return j->oom || x.oom ? -ENOMEM : 0;
}

int db_poll_meetings(struct db *db, const char *backend_id, const struct db_poll_meeting *m,
		     size_t n, long long since_epoch_ms, int agent_fresh, char *err, size_t errlen)
{
	/* The live view takes the snapshot row by row, and only where it is newer news: a row an
	 * agent's event changed after the snapshot was taken stays. A row the snapshot shows
	 * unchanged is not written at all (its times stay those of the data). A poll made while
	 * the node's agent beats ($4) leaves the view alone altogether (the agent is the
	 * authority then). */
	static const char *update_sql =
		"WITH live AS (SELECT $4::boolean AS agent),"
		" u AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS u(id text, internal_id text,"
		"  name text, running boolean, is_breakout boolean, attendees jsonb, xml text,"
		"  xml_hash text, parent_id text)"
		"  WHERE NOT coalesce((SELECT agent FROM live), true)),"
		" gone AS (DELETE FROM node_meetings nm WHERE nm.backend_id = $1::uuid"
		"  AND NOT coalesce((SELECT agent FROM live), true)"
		"  AND nm.updated_at < to_timestamp($3::double precision / 1000)"
		"  AND NOT EXISTS (SELECT 1 FROM u WHERE u.internal_id = nm.internal_id)),"
		" ins AS (INSERT INTO node_meetings AS nm (backend_id, internal_id, meeting_id, name,"
		"  running, is_breakout, parent_id, attendees, xml, xml_hash, xml_at, updated_at)"
		"  SELECT DISTINCT ON (u.internal_id) $1::uuid, u.internal_id, u.id, u.name, u.running,"
		"  u.is_breakout, u.parent_id, u.attendees, u.xml, u.xml_hash,"
		"  to_timestamp($3::double precision / 1000), to_timestamp($3::double precision / 1000)"
		"  FROM u ON CONFLICT (backend_id, internal_id) DO UPDATE SET"
		"  meeting_id = EXCLUDED.meeting_id, name = EXCLUDED.name, running = EXCLUDED.running,"
		"  is_breakout = EXCLUDED.is_breakout, parent_id = EXCLUDED.parent_id,"
		"  attendees = EXCLUDED.attendees, xml = coalesce(EXCLUDED.xml, nm.xml),"
		"  xml_hash = EXCLUDED.xml_hash, xml_at = EXCLUDED.xml_at,"
		"  updated_at = EXCLUDED.updated_at"
		"  WHERE nm.updated_at < EXCLUDED.updated_at AND (nm.meeting_id, nm.name, nm.running,"
		"  nm.is_breakout, nm.parent_id, nm.attendees, nm.xml_hash) IS DISTINCT FROM"
		"  (EXCLUDED.meeting_id, EXCLUDED.name, EXCLUDED.running, EXCLUDED.is_breakout,"
		"  EXCLUDED.parent_id, EXCLUDED.attendees, EXCLUDED.xml_hash)),"
		/* what only a node's answer tells (metadata, times) is taken from a poll even then */
		" doc AS (UPDATE node_meetings nm SET xml = x.xml, xml_hash = x.xml_hash"
		"  FROM jsonb_to_recordset($2::jsonb) AS x(internal_id text, xml text, xml_hash text)"
		"  WHERE coalesce((SELECT agent FROM live), false) AND x.xml IS NOT NULL"
		"  AND nm.backend_id = $1::uuid AND nm.internal_id = x.internal_id)"
		" SELECT 1";
	static const char *refresh_sql = "SELECT b3s_refresh_node($1::uuid)";
	/* a meeting under a frontend's namespace with no row is adopted, so its frontend can
	 * reach it again; its create call is rebuilt from what the node reports */
	static const char *adopt_sql =
		"INSERT INTO meetings (frontend_id, meeting_id, backend_meeting_id, backend_id,"
		" internal_id, create_query, confirmed_at, running)"
		" SELECT f.id, substr(nm.meeting_id, length(f.key) + 2), nm.meeting_id, $1::uuid,"
		"  nm.internal_id, 'name=' || b3s_urlencode(CASE WHEN length(nm.name) >= 2"
		"  THEN nm.name ELSE nm.meeting_id END) || '&meetingID=' || b3s_urlencode(nm.meeting_id),"
		"  now(), nm.running"
		" FROM node_meetings nm JOIN frontends f"
		"  ON left(nm.meeting_id, length(f.key) + 1) = f.key || '~'"
		" WHERE nm.backend_id = $1::uuid AND NOT nm.is_breakout"
		"  AND length(nm.meeting_id) > length(f.key) + 1"
		/* rows this node has are skipped before their create call is built (a row elsewhere:
		 * at the conflict); by backend, so it is a short index range whatever the stats */
		"  AND NOT EXISTS (SELECT 1 FROM meetings m WHERE m.backend_id = $1::uuid"
		"   AND m.backend_meeting_id = nm.meeting_id)"
		" ON CONFLICT DO NOTHING RETURNING meeting_id";
	/* a row the node no longer has is gone, but only if the node had confirmed it before
	 * this poll began (a create in flight must never lose its row) and the live view does
	 * not have it either (an agent saw it after the snapshot) */
	static const char *delete_sql =
		"DELETE FROM meetings m WHERE m.backend_id = $1::uuid AND m.confirmed_at IS NOT NULL"
		" AND m.confirmed_at < to_timestamp($3::double precision / 1000)"
		" AND NOT EXISTS (SELECT 1 FROM jsonb_to_recordset($2::jsonb) AS u(id text)"
		"  WHERE u.id = m.backend_meeting_id)"
		" AND NOT EXISTS (SELECT 1 FROM node_meetings nm WHERE nm.backend_id = $1::uuid"
		"  AND nm.meeting_id = m.backend_meeting_id)";
	char since[32];
	const char *vals[4] = { backend_id, NULL, since, agent_fresh ? "true" : "false" };
	struct db_poll_known known;
	struct buf j;
	PGresult *r;
	int rc;

	buf_init(&j);
	if (db_poll_known_read(db, backend_id, &known, err, errlen) < 0)
		return -EIO;
	rc = db_poll_json(&j, m, n, 1, &known);
	PQclear(known.r);
	if (rc < 0) {
		buf_free(&j);
		return -ENOMEM;
	}
	vals[1] = buf_str(&j);
	snprintf(since, sizeof(since), "%lld", since_epoch_ms);
	r = db_exec_sql(db, update_sql, 4, vals, err, errlen);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = db_poll_fail(r, db, err, errlen);
		goto out;
	}
	PQclear(r);
	/* separate statements: the CTE's writes are only visible once it has finished */
	r = db_exec_sql(db, adopt_sql, 1, vals, err, errlen);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = db_poll_fail(r, db, err, errlen);
		goto out;
	}
	if (PQntuples(r) > 0)
		log_info("poller", "event=adopted backend_id=%s meetings=%d", backend_id, PQntuples(r));
	PQclear(r);
	r = db_exec_sql(db, refresh_sql, 1, vals, err, errlen);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = db_poll_fail(r, db, err, errlen);
		goto out;
	}
	PQclear(r);
	r = db_exec_sql(db, delete_sql, 3, vals, err, errlen);
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		rc = db_poll_fail(r, db, err, errlen);
		goto out;
	}
	PQclear(r);
	rc = 0;
out:
	buf_free(&j);
	return rc;
}

/* A poll's digest carries the mode it was taken in: an answer processed while the agent
 * beat did not write the live view, so it does not stand for one that must. */
#define DB_POLL_DIGEST_MODE "CASE WHEN coalesce(agent_heartbeat > now() - make_interval(secs =>" \
	" $3::double precision / 1000), false) THEN ':agent' ELSE ':poll' END"

/* Runs one of the digest statements ($1 backend, $2 digest, $3 agent age); NULL, having
 * said why in err, unless the result has the expected status. */
static PGresult *db_poll_digest_exec(struct db *db, const char *sql, const char *backend_id,
				     const char *digest, long agent_max_age_ms,
				     ExecStatusType expect, char *err, size_t errlen)
{
	char age[24];
	const char *vals[3] = { backend_id, digest, age };
	PGresult *r;

	snprintf(age, sizeof(age), "%ld", agent_max_age_ms);
	r = db_exec_sql(db, sql, 3, vals, err, errlen);
	if (!r || PQresultStatus(r) != expect) {
		db_poll_fail(r, db, err, errlen);
		return NULL;
	}
	return r;
}

int db_poll_check(struct db *db, const char *backend_id, const char *digest,
		  long agent_max_age_ms, int *unchanged, int *agent_fresh, char *err,
		  size_t errlen)
{
	static const char *sql =
		"SELECT coalesce(agent_heartbeat > now() - make_interval(secs =>"
		"  $3::double precision / 1000), false),"
		" coalesce(poll_digest = $2 || " DB_POLL_DIGEST_MODE ""
		"  AND poll_digest_at > now() - make_interval(secs => " DB_POLL_DIGEST_MAX_AGE_S "), false)"
		" FROM backends WHERE id = $1::uuid";
	PGresult *r = db_poll_digest_exec(db, sql, backend_id, digest, agent_max_age_ms,
					  PGRES_TUPLES_OK, err, errlen);

	*unchanged = *agent_fresh = 0;
	if (!r)
		return -EIO;
	if (PQntuples(r) == 1) {
		*agent_fresh = PQgetvalue(r, 0, 0)[0] == 't';
		*unchanged = PQgetvalue(r, 0, 1)[0] == 't';
	}
	PQclear(r);
	return 0;
}

int db_poll_digest_store(struct db *db, const char *backend_id, const char *digest,
			 long agent_max_age_ms, char *err, size_t errlen)
{
	static const char *sql =
		"UPDATE backends SET poll_digest = $2 || " DB_POLL_DIGEST_MODE ","
		" poll_digest_at = now() WHERE id = $1::uuid";
	PGresult *r = db_poll_digest_exec(db, sql, backend_id, digest, agent_max_age_ms,
					  PGRES_COMMAND_OK, err, errlen);

	if (!r)
		return -EIO;
	PQclear(r);
	return 0;
}

int db_poll_decommission(struct db *db, char *err, size_t errlen)
{
	PGresult *r = db_exec_sql(db,
				  "DELETE FROM backends b WHERE b.admin_state = 'decommissioned'"
				  " AND NOT EXISTS (SELECT 1 FROM meetings m WHERE m.backend_id = b.id)",
				  0, NULL, err, errlen);

	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
		return db_poll_fail(r, db, err, errlen);
	PQclear(r);
	return 0;
}

int db_poll_strays(struct db *db, const char *backend_id, const struct db_poll_meeting *m,
		   size_t n, char ***ids, size_t *nids, char *err, size_t errlen)
{
	static const char *sql =
		"SELECT u.id FROM jsonb_to_recordset($2::jsonb) AS u(id text)"
		" JOIN meetings m ON m.backend_meeting_id = u.id"
		" WHERE m.backend_id IS DISTINCT FROM $1::uuid AND m.confirmed_at IS NOT NULL";
	const char *vals[2] = { backend_id, NULL };
	struct buf j;
	PGresult *r;
	int i, rows, rc = 0;

	*ids = NULL;
	*nids = 0;
	if (n == 0)
		return 0;
	buf_init(&j);
	if (db_poll_json(&j, m, n, 0, NULL) < 0) {
		buf_free(&j);
		return -ENOMEM;
	}
	vals[1] = buf_str(&j);
	r = db_exec_sql(db, sql, 2, vals, err, errlen);
	buf_free(&j);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
		return db_poll_fail(r, db, err, errlen);
	rows = PQntuples(r);
	*ids = calloc(rows ? (size_t)rows : 1, sizeof(char *));
	for (i = 0; *ids && i < rows; i++)
		if (((*ids)[*nids] = strdup(PQgetvalue(r, i, 0))))
			(*nids)++;
	if (!*ids)
		rc = -ENOMEM;
	PQclear(r);
	return rc;
}

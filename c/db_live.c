/* db_live.c: the live view, read for the BBB API. Postgres builds each meeting's attendees
 * element (xmlelement escapes what users typed as their names) and counts, so the C side
 * only patches them into the stored <meeting> element. */
#include "db_live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_backends.h"

static const struct db_stmt db_live_meetings_stmt = {
	DB_LIVE_MEETINGS, "live_meetings",
	/* the frontend's meetings, and the breakout rooms BBB opened in them */
	/* the frontend's meetings and the breakout rooms BBB opened in them, chosen on narrow
	 * rows (one per meeting ID); the wide ones (the elements) are read only for those */
	"WITH own AS (SELECT backend_id, internal_id, meeting_id, updated_at, NULL::text AS node_id,"
	"  NULL::text AS own_id FROM node_meetings"
	"  WHERE meeting_id COLLATE \"C\" >= $1 AND meeting_id COLLATE \"C\" < $2"
	/* meetings adopted under a node ID outside the namespace (POST /api/v1/meetings, which
	 * refuses a '~' in another namespace) are found through their rows: a partial index holds
	 * only those (sql/0021), then one probe each by meeting ID */
	"  UNION ALL SELECT nm.backend_id, nm.internal_id, nm.meeting_id, nm.updated_at,"
	"  m.backend_meeting_id, m.meeting_id FROM frontends f JOIN meetings m"
	"  ON m.frontend_id = f.id AND strpos(m.backend_meeting_id, '~') = 0"
	"  JOIN node_meetings nm ON nm.meeting_id COLLATE \"C\" = m.backend_meeting_id"
	"  WHERE f.key = $3),"
	/* a breakout room names its parent by BBB's internal ID: nothing to map back */
	" sel AS (SELECT * FROM own UNION ALL SELECT br.backend_id, br.internal_id, br.meeting_id,"
	"  br.updated_at, NULL, NULL FROM own p JOIN node_meetings br"
	"  ON br.backend_id = p.backend_id AND br.parent_id = p.internal_id),"
	/* a meeting on two nodes (a stray not ended yet): the copy its row names first; one
	 * index probe each (LIMIT keeps the planner from hashing the whole table) */
	" pick AS (SELECT DISTINCT ON (s.meeting_id) s.backend_id, s.internal_id, s.node_id,"
	"  s.own_id FROM sel s"
	"  JOIN backends b ON b.id = s.backend_id AND b.node_state <> 'unavailable'"
	"  LEFT JOIN LATERAL (SELECT m.backend_id FROM meetings m"
	"   WHERE m.backend_meeting_id = s.meeting_id LIMIT 1) r ON true"
	"  ORDER BY s.meeting_id, r.backend_id = s.backend_id DESC NULLS LAST, s.updated_at DESC)"
	"SELECT nm.meeting_id, nm.internal_id, nm.name, nm.xml,"
	" a.xml::text, nm.running, nm.is_breakout, a.n, a.moderators, a.voice, a.listen, a.video,"
	" c.current, pick.node_id, pick.own_id"
	" FROM pick JOIN node_meetings nm USING (backend_id, internal_id)"
	/* the snapshot's element is current while nothing changed the meeting since: the live
	 * parts are then neither built here nor patched in C */
	" CROSS JOIN LATERAL (SELECT nm.xml IS NOT NULL AND nm.xml_at >= nm.updated_at"
	"  AS current) c"
	" CROSS JOIN LATERAL (SELECT count(*) AS n,"
	"  count(*) FILTER (WHERE v->>'role' = 'MODERATOR') AS moderators,"
	"  count(*) FILTER (WHERE coalesce((v->>'voice')::boolean, false)) AS voice,"
	"  count(*) FILTER (WHERE coalesce((v->>'listen')::boolean, false)) AS listen,"
	"  coalesce(sum(coalesce((v->>'video')::int, 0)), 0) AS video,"
	"  xmlelement(name attendees, xmlagg(xmlelement(name attendee,"
	"   xmlelement(name \"userID\", k), xmlelement(name \"fullName\", coalesce(v->>'name', '')),"
	"   xmlelement(name role, coalesce(v->>'role', 'VIEWER')),"
	"   xmlelement(name \"isPresenter\", coalesce((v->>'presenter')::boolean, false)),"
	"   xmlelement(name \"isListeningOnly\", coalesce((v->>'listen')::boolean, false)),"
	"   xmlelement(name \"hasJoinedVoice\", coalesce((v->>'voice')::boolean, false)),"
	"   xmlelement(name \"hasVideo\", coalesce((v->>'video')::int, 0) > 0),"
	"   xmlelement(name \"clientType\", 'HTML5')) ORDER BY k)) AS xml"
	"  FROM jsonb_each(CASE WHEN c.current THEN '{}' ELSE nm.attendees END) AS e(k, v)) a"
	" ORDER BY nm.meeting_id",
	3
};

static const struct db_stmt db_live_breakout_stmt = {
	DB_LIVE_BREAKOUT, "live_breakout",
	"SELECT b.id::text, b.host, b.secret, b.admin_state, b.node_state"
	" FROM node_meetings br JOIN node_meetings p ON p.backend_id = br.backend_id"
	"  AND p.internal_id = br.parent_id JOIN backends b ON b.id = br.backend_id"
	" WHERE br.meeting_id COLLATE \"C\" = $1 AND br.is_breakout"
	"  AND ((p.meeting_id COLLATE \"C\" >= $2 AND p.meeting_id COLLATE \"C\" < $3)"
	/* or a meeting adopted for the frontend under a node ID of its own (one probe) */
	"  OR EXISTS (SELECT 1 FROM meetings m JOIN frontends f ON f.id = m.frontend_id"
	"   WHERE m.backend_meeting_id = p.meeting_id AND f.key = $4))"
	" ORDER BY br.updated_at DESC LIMIT 1",
	4
};

/* The bounds of a frontend's namespace: "<key>~" up to, not including, "<key>\x7f" ('~' is
 * 0x7e), for range conditions on an index in the C collation. */
static void db_live_range(const char *frontend_key, char *lo, char *hi, size_t cap)
{
	snprintf(lo, cap, "%s~", frontend_key);
	snprintf(hi, cap, "%s\x7f", frontend_key);
}

int db_live_breakout(struct db *db, const char *frontend_key, const char *meeting_id,
		     struct lb_backend *b, char *err, size_t errlen)
{
	char lo[80], hi[80];
	const char *vals[4] = { meeting_id, lo, hi, frontend_key };
	PGresult *r;
	int rc;

	memset(b, 0, sizeof(*b));
	db_live_range(frontend_key, lo, hi, sizeof(lo));
	r = db_exec(db, &db_live_breakout_stmt, vals, NULL, NULL, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	rc = PQntuples(r) == 1 ? db_backends_row(r, 0, 0, b) : -ENOENT;
	PQclear(r);
	return rc;
}

int db_live_meetings(struct db *db, const char *frontend_key,
		     int (*fn)(const struct db_live_meeting *m, void *ud), void *ud, char *err,
		     size_t errlen)
{
	char lo[80], hi[80];
	const char *vals[3] = { lo, hi, frontend_key };
	struct db_live_meeting m;
	PGresult *r;
	int i, n, rc = 0;

	db_live_range(frontend_key, lo, hi, sizeof(lo));
	r = db_exec(db, &db_live_meetings_stmt, vals, NULL, NULL, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	n = PQntuples(r);
	for (i = 0; i < n && rc >= 0; i++) {
		m.meeting_id = PQgetvalue(r, i, 0);
		m.internal_id = PQgetvalue(r, i, 1);
		m.name = PQgetvalue(r, i, 2);
		m.xml = PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3);
		m.attendees_xml = PQgetvalue(r, i, 4);
		m.running = PQgetvalue(r, i, 5)[0] == 't';
		m.is_breakout = PQgetvalue(r, i, 6)[0] == 't';
		m.participants = strtol(PQgetvalue(r, i, 7), NULL, 10);
		m.moderators = strtol(PQgetvalue(r, i, 8), NULL, 10);
		m.voice = strtol(PQgetvalue(r, i, 9), NULL, 10);
		m.listeners = strtol(PQgetvalue(r, i, 10), NULL, 10);
		m.video = strtol(PQgetvalue(r, i, 11), NULL, 10);
		m.current = PQgetvalue(r, i, 12)[0] == 't';
		m.node_id = PQgetisnull(r, i, 13) ? NULL : PQgetvalue(r, i, 13);
		m.own_id = PQgetisnull(r, i, 14) ? NULL : PQgetvalue(r, i, 14);
		rc = fn(&m, ud);
	}
	PQclear(r);
	return rc < 0 ? rc : 0;
}

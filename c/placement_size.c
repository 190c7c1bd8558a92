/* placement_size.c: the size a new meeting is expected to reach.
 *
 * A burst of creates all placed before any node reports them would go by meeting counts
 * alone; with an expected size per meeting (the frontend's hint, its maxParticipants, or
 * what the same meeting ID drew the last times) one 300-person lecture weighs like 300 seats
 * at once. The size is stored with the meeting's row (meetings.expected_size) and reserved
 * on its node by the placement snapshot (DB_BACKENDS_RESERVED_SQL). Only the history needs
 * the database, and only for creates that carry no size of their own. */
#include "placement_size.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the last few instances of one meeting ID, by meeting_usage_history_idx */
static const struct db_stmt placement_size_history_stmt = {
	DB_PLACEMENT_HISTORY, "placement_history",
	"SELECT max(h.peak_attendees) FROM (SELECT peak_attendees FROM meeting_usage"
	" WHERE frontend_id = $1::uuid AND meeting_id = $2"
	" ORDER BY started_at DESC LIMIT 3) h",
	2
};

long placement_size_parse(const char *s)
{
	long v = 0;
	size_t i;

	if (!s)
		return 0;
	while (*s == ' ')
		s++;
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (v <= PLACEMENT_SIZE_MAX)
			v = v * 10 + (s[i] - '0');
	}
	while (s[i] == ' ')
		i++;
	if (i == 0 || s[i] != '\0' || v <= 0)
		return 0;
	return v > PLACEMENT_SIZE_MAX ? PLACEMENT_SIZE_MAX : v;
}

int placement_size_expect(struct db *db, const char *frontend_id, const char *meeting_id,
			  const struct query *params, long *size, const char **source, char *err,
			  size_t errlen)
{
	const char *vals[2] = { frontend_id, meeting_id };
	PGresult *r;
	long v;

	*size = 0;
	*source = NULL;
	v = placement_size_parse(params ? query_get(params, "meta_bbb-meeting-size-hint") : NULL);
	if (v > 0) {
		*size = v;
		*source = "hint";
		return 0;
	}
	v = placement_size_parse(params ? query_get(params, "maxParticipants") : NULL);
	if (v > 0) {
		*size = v;
		*source = "max_participants";
		return 0;
	}
	if (!db || !frontend_id || !meeting_id)
		return 0;
	r = db_exec(db, &placement_size_history_stmt, vals, NULL, NULL, PGRES_TUPLES_OK, err,
		    errlen);
	if (!r)
		return -EIO;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
		v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
		*size = v < 0 ? 0 : v > PLACEMENT_SIZE_MAX ? PLACEMENT_SIZE_MAX : v;
		*source = "history";
	}
	PQclear(r);
	return 0;
}

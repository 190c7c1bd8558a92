/* db_meetings.h: the meetings table: where each frontend meeting lives. */
#ifndef B3S_DB_MEETINGS_H
#define B3S_DB_MEETINGS_H

#include "db.h"
#include "lb.h"

/* The create call as forwarded, kept to re-create the meeting elsewhere. */
struct db_create_call {
	const char *query;        /* encoded, without checksum */
	const char *body;         /* may be NULL */
	size_t body_len;
	const char *content_type; /* may be NULL */
	long expected_size;       /* the claim's meetings.expected_size (sql/0023); <= 0: NULL */
};

/* What a backend answered to create. */
struct db_create_answer {
	const char *internal_id;
	const char *create_time;
	const char *attendee_pw;
	const char *moderator_pw;
	const char *name;         /* the call's name parameter, for the live view */
};

/* The columns db_meetings_row reads (tables aliased m and b). */
#define DB_MEETINGS_COLUMNS \
	"m.id, m.backend_meeting_id, m.confirmed_at IS NOT NULL, m.participants," \
	" b.id::text, b.host, b.secret, b.admin_state, b.node_state"

/* Reads DB_MEETINGS_COLUMNS starting at col of row 0 into *out. */
int db_meetings_row(PGresult *r, int col, struct lb_meeting *out);
/* 0 found, -ENOENT none, else database error. */
int db_meetings_find(struct db *db, const char *frontend_id, const char *meeting_id,
		     struct lb_meeting *out, char *err, size_t errlen);
/* Why a meeting was placed where it is (meetings.placement_reason, sql/0024): by is
 * "policy" or "fallback" (NULL: nothing recorded), json the policy's explanation (may be
 * NULL or ""), error what made the policy fail when the fallback placed it. */
struct db_placement {
	const char *by;
	const char *json;
	const char *error;
};

/* Claims (frontend, meeting) for backend_id atomically: 0 claimed with *id set,
 * -EEXIST when someone else holds it (the caller re-reads), else database error. With
 * meetings_limit > 0 the claim is serialised with the frontend's other limited claims and
 * answers -EDQUOT when the frontend already has that many meetings (an existing row is
 * -EEXIST, never -EDQUOT); 0 claims whatever the count. */
int db_meetings_claim(struct db *db, const char *frontend_id, const char *meeting_id,
		      const char *backend_meeting_id, const char *backend_id, long long version,
		      long meetings_limit, const struct db_create_call *call,
		      const struct db_placement *why, long long *id, char *err, size_t errlen);
/* Compare-and-set of the backend (from may be NULL): 0 moved, -EAGAIN lost the race.
 * Both take the placement version the pick was made at (-1: any) and answer -ESTALE when
 * the backends changed since (sql/0013). */
int db_meetings_move(struct db *db, long long id, const char *from, const char *to,
		     long long version, const struct db_placement *why, char *err, size_t errlen);
/* The node created it: 0, or -ENOENT when the row is gone or now points elsewhere. */
int db_meetings_confirm(struct db *db, long long id, const char *backend_id,
			const struct db_create_call *call, const struct db_create_answer *ans,
			char *err, size_t errlen);
/* Removes a claim no backend ever confirmed (the create failed for good). */
int db_meetings_drop_claim(struct db *db, long long id, char *err, size_t errlen);

/* The stored create call of a meeting (to re-create it elsewhere). Strings are malloc'd
 * into query/body/content_type; the caller frees them. */
int db_meetings_create_call(struct db *db, long long id, char **query, char **body,
			    size_t *body_len, char **content_type, char *err, size_t errlen);
/* Records what the node last said about the meeting (participants, running). */
/* Tells every instance (LISTEN b3scale_meetings) that a meeting changed in a way no row
 * shows (an end a node accepted): their reused answers for it go. */
int db_meetings_changed(struct db *db, const char *backend_meeting_id, char *err, size_t errlen);
int db_meetings_set_state(struct db *db, long long id, long participants, int running,
			  char *err, size_t errlen);
/* Participants over all of a frontend's meetings, as last known. */
int db_meetings_frontend_attendees(struct db *db, const char *frontend_id, long *n, char *err,
				   size_t errlen);

#endif

/* db_live.h: reading the live view of the nodes (node_meetings, kept by polls and agents)
 * for the BBB API: a frontend's meetings for getMeetings without asking any node, and where
 * its breakout rooms are. */
#ifndef B3S_DB_LIVE_H
#define B3S_DB_LIVE_H

#include "db.h"
#include "lb.h"

/* One meeting as the live view has it. Strings point into the result and live only during
 * the callback. */
struct db_live_meeting {
	const char *meeting_id;    /* as the node knows it: "<key>~<id>" */
	const char *internal_id;
	const char *name;
	const char *xml;           /* the latest snapshot's <meeting> element, NULL before one */
	const char *attendees_xml; /* <attendees> built from the live attendees */
	int current;               /* xml is up to date: nothing to patch (counts and
				    * attendees_xml are then not filled in) */
	int running, is_breakout;
	long participants, moderators, voice, listeners, video;
	/* a meeting adopted under a node ID outside the namespace: that ID and the frontend's
	 * own for it; both NULL otherwise */
	const char *node_id;
	const char *own_id;
};

/* Calls fn for each meeting in frontend_key's namespace or adopted for it under another
 * node ID, and each breakout room of one, on a
 * node that is not unavailable
 * (one per meeting ID: the copy on the node its row names, if it runs on two). A negative
 * return of fn stops the walk and is returned. */
int db_live_meetings(struct db *db, const char *frontend_key,
		     int (*fn)(const struct db_live_meeting *m, void *ud), void *ud, char *err,
		     size_t errlen);

/* The node of a breakout room opened in one of frontend_key's meetings, adopted ones too
 * (BBB names breakout rooms itself: meeting_id is not in any namespace): 0 with *b (id,
 * host, secret, states; caller clears), -ENOENT, or -EIO with err. */
int db_live_breakout(struct db *db, const char *frontend_key, const char *meeting_id,
		     struct lb_backend *b, char *err, size_t errlen);

#endif

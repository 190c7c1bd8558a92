/* db_poll.h: the polling side of the backends and meetings tables. */
#ifndef B3S_DB_POLL_H
#define B3S_DB_POLL_H

#include "db.h"
#include "lb.h"
#include "xml_dom.h"

/* What one poll of a node found. */
struct db_poll_result {
	int ok;               /* the node answered getMeetings */
	char error[256];      /* when !ok: why (never a URL: it would carry a checksum) */
	long latency_ms;
	long meetings, participants, video, voice, listeners;
};

/* One meeting the node reported, by its namespaced ID. */
struct db_poll_meeting {
	const char *backend_meeting_id;
	const char *internal_id;
	const char *name;
	const char *parent_id;   /* a breakout room's parent (internal ID), else NULL */
	long participants;
	long video;
	int running;
	int is_breakout;
	struct xml_node *xml;  /* the <meeting> element, for its attendees */
};

/* Claims up to max backends that are due (not polled within interval_ms, not leased) into
 * *out (caller clears; possibly empty). Each lease lasts lease_ms. */
int db_poll_claim(struct db *db, const char *owner, long interval_ms, long lease_ms,
		  size_t max, struct lb_backend_list *out, char *err, size_t errlen);
/* Gives up every lease this owner holds (at shutdown, so other instances poll at once). */
int db_poll_release(struct db *db, const char *owner, char *err, size_t errlen);
/* Records the poll: health (node_state after fail_after failures / ok_after successes),
 * releases the lease; unchanged_at (epoch ms, 0: not so) says an unchanged answer confirmed
 * the counters as of then. *node_state gets the resulting state. */
int db_poll_record(struct db *db, const char *backend_id, const struct db_poll_result *res,
		   long long unchanged_at, int fail_after, int ok_after, char *node_state,
		   size_t nslen, char *err, size_t errlen);
/* Takes this snapshot (taken at since_epoch_ms) into what the node runs (node_meetings),
 * except rows that changed after it; nothing at all with agent_fresh (a poll while the
 * node's agent beats: its reports are the live view then). Refreshes
 * the backend's counters and meeting rows from the live view, then removes confirmed rows of
 * this backend that neither the snapshot nor the live view has (confirmed before
 * since_epoch_ms, so a create in flight is never lost). */
int db_poll_meetings(struct db *db, const char *backend_id, const struct db_poll_meeting *m,
		     size_t n, long long since_epoch_ms, int agent_fresh, char *err, size_t errlen);
/* Before a poll's answer is read: is the node's agent fresh (its reports are the live view),
 * and did an answer with this digest (sha1 of the body) get processed in full, in the same
 * mode, within the last 30 s (then nothing in it is news and it need not be read again)? */
int db_poll_check(struct db *db, const char *backend_id, const char *digest,
		  long agent_max_age_ms, int *unchanged, int *agent_fresh, char *err,
		  size_t errlen);
/* After an answer was processed in full. */
int db_poll_digest_store(struct db *db, const char *backend_id, const char *digest,
			 long agent_max_age_ms, char *err, size_t errlen);
/* IDs the node reported whose row places the meeting on another backend (the meeting was
 * moved while this node was unreachable). Caller frees each string and the array. */
int db_poll_strays(struct db *db, const char *backend_id, const struct db_poll_meeting *m,
		   size_t n, char ***ids, size_t *nids, char *err, size_t errlen);
/* Removes decommissioned backends that no longer hold meetings. */
int db_poll_decommission(struct db *db, char *err, size_t errlen);

#endif

/* db_recfiles.h: the rows behind recording files: an import's staged rows, the settle that
 * makes a row and its trees agree (sql/0014), and the state changes that move trees. */
#ifndef B3S_DB_RECFILES_H
#define B3S_DB_RECFILES_H

#include <stddef.h>

#include "db.h"

struct rec_meta;

/* A frontend as an import needs it: 0, -ENOENT when no frontend has that key. */
int db_recfiles_frontend(struct db *db, const char *key, char id[40], char visibility[24],
			 char *err, size_t errlen);
/* The backend whose agent_ref is sub (a node token's subject): 0, -ENOENT when none. */
int db_recfiles_node(struct db *db, const char *sub, char id[40], char *err, size_t errlen);

/* One format of one recording to import. */
struct db_recfile {
	const char *frontend_id, *backend_id; /* backend NULL: an admin's import */
	const char *format, *staging;         /* staging relative to the recordings root */
	const char *visibility;               /* the frontend's recordings.visibility */
	const struct rec_meta *meta;
};
/* Writes the recording (new: staged, not listed yet) and the format with its staging path,
 * both pending, in one statement. 0 with *id; -EEXIST when the recordID is another
 * frontend's. */
int db_recfiles_stage(struct db *db, const struct db_recfile *f, long long *id, char *err,
		      size_t errlen);

/* A locked pending recording (db_recfiles_settle_begin) and what its trees should be. */
struct db_recfiles_row {
	long long id;
	char record_id[257];
	char state[16];
	size_t n;
	char formats[16][65];
	char *staging[16]; /* malloc'd, NULL when none */
};
/* Opens a transaction and locks recording id while it is pending: 0; -ENOENT when it is not
 * pending (or another instance holds it), and the transaction is closed. */
int db_recfiles_settle_begin(struct db *db, long long id, struct db_recfiles_row *row,
			     char *err, size_t errlen);
/* Ends the settle: formats flagged in lost[] (their trees are gone) are dropped, a deleted
 * recording or one left without formats is removed, else it is listed and no longer
 * pending. Commits; on failure the transaction is rolled back. */
int db_recfiles_settle_end(struct db *db, const struct db_recfiles_row *row, const int *lost,
			   char *err, size_t errlen);
void db_recfiles_settle_abort(struct db *db);
void db_recfiles_row_clear(struct db_recfiles_row *row);
/* Up to max pending recordings, oldest first. */
int db_recfiles_pending(struct db *db, long long *ids, size_t max, size_t *n, char *err,
			size_t errlen);
/* 1 when a staging name (its last path component) is still referenced by a row. */
int db_recfiles_staging_used(struct db *db, const char *name, char *err, size_t errlen);

/* publishRecordings/deleteRecordings: sets the state of the frontend's listed recordings in
 * record_ids (a comma list of exact IDs) and marks them pending for the settle. Returns how
 * many it changed (0: none is the frontend's), or -EIO. */
int db_recfiles_set_state(struct db *db, const char *frontend_id, const char *record_ids,
			  const char *state, char *err, size_t errlen);

/* recordings.retention_days: marks the recordings older than their frontend keeps as
 * deleted and pending (the settle removes them). Returns how many, or -EIO. */
int db_recfiles_expire(struct db *db, char *err, size_t errlen);

/* Records an import's outcome for the status page (the newest 200 are kept). */
int db_recfiles_log_import(struct db *db, const char *backend_id, int status, size_t trees,
			   unsigned long long bytes, const char *record_ids, const char *message,
			   char *err, size_t errlen);

#endif

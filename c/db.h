/* db.h: one libpq connection per worker thread, prepared statements, reconnects. */
#ifndef B3S_DB_H
#define B3S_DB_H

#include <stddef.h>

#include <libpq-fe.h>

/* Every statement the daemon runs has a slot here so it is prepared once per connection. */
enum db_stmt_id {
	DB_FRONTEND_BY_KEY,
	DB_FRONTEND_WITH_MEETING,
	DB_FRONTEND_POLICIES,
	DB_MEETING_FIND,
	DB_MEETING_CLAIM,
	DB_MEETING_MOVE,
	DB_MEETING_CONFIRM,
	DB_MEETING_DROP_CLAIM,
	DB_MEETING_STATE,
	DB_MEETING_CREATE_CALL,
	DB_FRONTEND_ATTENDEES,
	DB_BACKENDS_ELIGIBLE,
	DB_BACKENDS_OF_FRONTEND,
	DB_STMT_COUNT
};

struct db_stmt {
	enum db_stmt_id id;
	const char *name;
	const char *sql;
	int nparams;
};

struct db {
	PGconn *conn;
	char url[1024];
	unsigned char prepared[DB_STMT_COUNT];
};

struct lb_config;
/* Once at start-up, before any connection: the deadlines every connection gets. */
void db_setup(const struct lb_config *cfg);
int db_open(struct db *db, const char *url, char *err, size_t errlen);
void db_close(struct db *db);
/* Executes a prepared statement with text parameters (NULL = SQL NULL); bin marks bytea params
 * given with their lengths in lens. Returns a result with the expected status or NULL and err;
 * a broken connection is re-established and the statement retried once. */
PGresult *db_exec(struct db *db, const struct db_stmt *st, const char *const *vals,
		  const int *lens, const int *bin, ExecStatusType expect, char *err, size_t errlen);
/* Dynamic parameterised SQL (the admin API's binding). Returns the result whatever its
 * status (caller checks), or NULL when no connection could be had. Reconnects and retries
 * once only outside a transaction: a lost BEGIN must not be papered over. */
PGresult *db_exec_sql(struct db *db, const char *sql, int n, const char *const *vals,
		      char *err, size_t errlen);
/* Plain SQL without parameters, for migrations. */
int db_exec_simple(struct db *db, const char *sql, char *err, size_t errlen);

#endif

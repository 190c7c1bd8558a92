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
	DB_MEETING_CHANGED,
	DB_LIVE_MEETINGS,
	DB_LIVE_BREAKOUT,
	DB_MEETING_CREATE_CALL,
	DB_FRONTEND_ATTENDEES,
	DB_BACKENDS_ELIGIBLE,
	DB_RECORDINGS_PARTS,
	DB_RECORDINGS_META,
	DB_CALLBACK_ADD,
	DB_PLACEMENT_HISTORY,
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
	long timeout_ms; /* deadline of a connect or one statement; 0 = none (migrations) */
};

struct lb_config;
/* Once at start-up, before any connection: the deadlines every connection gets. */
void db_setup(const struct lb_config *cfg);
/* Sets db up without connecting: the first statement connects (a worker thread must not
 * pay a connect deadline for a request that needs no database). */
int db_open_lazy(struct db *db, const char *url, char *err, size_t errlen);
/* db_open_timeout with the process's deadline (B3SCALE_DB_TIMEOUT_MS). */
int db_open(struct db *db, const char *url, char *err, size_t errlen);
/* timeout_ms 0: no statement deadline and no statement_timeout (migrations); the connect is
 * then bounded by connect_timeout alone. A failed connect is not fatal: db->url is kept and
 * the next statement reconnects. */
int db_open_timeout(struct db *db, const char *url, long timeout_ms, char *err, size_t errlen);
/* A connection to url with safe defaults placed before it, so anything the URL sets wins:
 * connect_timeout=2, keepalives, and with timeout_ms > 0 tcp_user_timeout and
 * statement_timeout = timeout_ms. The connect waits at most timeout_ms (and connect_timeout).
 * Returns a nonblocking connection in CONNECTION_OK, or NULL and err (never the password).
 * Also used by the route cache's LISTEN connection. */
PGconn *db_connect_url(const char *url, long timeout_ms, char *err, size_t errlen);
/* Sends sql (simple query protocol) on c and waits for all its results, at most timeout_ms
 * (0 = no deadline). 0; -EIO and err when the server refused a statement (c still usable);
 * -ETIMEDOUT or -ECONNRESET and err when c is unusable and must be closed. */
int db_conn_exec(PGconn *c, const char *sql, long timeout_ms, char *err, size_t errlen);
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
/* db_exec_sql whose result must have status expect: the result, or NULL and err (the
 * server's message on its first line). */
PGresult *db_query(struct db *db, const char *sql, int n, const char *const *vals,
		   ExecStatusType expect, char *err, size_t errlen);
/* A statement that returns no rows (UPDATE, DELETE, INSERT): how many rows it touched, or
 * -EIO with err. */
int db_command(struct db *db, const char *sql, int n, const char *const *vals, char *err,
	       size_t errlen);
/* Plain SQL without parameters, for migrations (each statement's result is checked). */
int db_exec_simple(struct db *db, const char *sql, char *err, size_t errlen);

#endif

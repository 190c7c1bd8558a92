/* db.c: connection lifecycle and statement execution; every result status is checked here. */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "stats.h"

static void db_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* NOTICEs from migrations are noise on stderr */
}

void db_setup(const struct lb_config *cfg)
{
	(void)cfg; /* deadlines: next commit */
}

static int db_connect(struct db *db, char *err, size_t errlen)
{
	if (db->conn)
		PQfinish(db->conn);
	memset(db->prepared, 0, sizeof(db->prepared));
	db->conn = PQconnectdb(db->url);
	if (!db->conn) {
		snprintf(err, errlen, "database: out of memory");
		return -ENOMEM;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		/* libpq's message names host and port but never the password */
		stats_db_error();
		snprintf(err, errlen, "database unreachable: %s", PQerrorMessage(db->conn));
		err[strcspn(err, "\n")] = '\0';
		PQfinish(db->conn);
		db->conn = NULL;
		return -ECONNREFUSED;
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	return 0;
}

int db_open(struct db *db, const char *url, char *err, size_t errlen)
{
	memset(db, 0, sizeof(*db));
	if (strlen(url) >= sizeof(db->url)) {
		snprintf(err, errlen, "database URL too long");
		return -EINVAL;
	}
	strcpy(db->url, url);
	return db_connect(db, err, errlen);
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
}

static int db_ready(struct db *db, char *err, size_t errlen)
{
	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	return db_connect(db, err, errlen);
}

static int db_prepare(struct db *db, const struct db_stmt *st, char *err, size_t errlen)
{
	PGresult *r;
	int rc = 0;

	if (db->prepared[st->id])
		return 0;
	r = PQprepare(db->conn, st->name, st->sql, st->nparams, NULL);
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "database: prepare %s: %s", st->name,
			 r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
		err[strcspn(err, "\n")] = '\0';
		rc = -EIO;
	} else {
		db->prepared[st->id] = 1;
	}
	PQclear(r);
	return rc;
}

PGresult *db_exec(struct db *db, const struct db_stmt *st, const char *const *vals,
		  const int *lens, const int *bin, ExecStatusType expect, char *err, size_t errlen)
{
	PGresult *r = NULL;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (db_ready(db, err, errlen) < 0)
			return NULL;
		if (db_prepare(db, st, err, errlen) < 0) {
			if (PQstatus(db->conn) == CONNECTION_OK)
				return NULL;
			continue;
		}
		r = PQexecPrepared(db->conn, st->name, st->nparams, vals, lens, bin, 0);
		if (r && PQresultStatus(r) == expect)
			return r;
		stats_db_error();
		snprintf(err, errlen, "database: %s: %s", st->name,
			 r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
		err[strcspn(err, "\n")] = '\0';
		PQclear(r);
		r = NULL;
		/* only a lost connection is worth a second try (e.g. Postgres restarted) */
		if (PQstatus(db->conn) == CONNECTION_OK)
			return NULL;
		log_warn("db", "event=reconnect stmt=%s", st->name);
	}
	return NULL;
}

int db_exec_simple(struct db *db, const char *sql, char *err, size_t errlen)
{
	PGresult *r;
	int rc = 0;

	if (db_ready(db, err, errlen) < 0)
		return -ECONNREFUSED;
	r = PQexec(db->conn, sql);
	if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)) {
		snprintf(err, errlen, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
		err[strcspn(err, "\n")] = '\0';
		rc = -EIO;
	}
	PQclear(r);
	return rc;
}

PGresult *db_exec_sql(struct db *db, const char *sql, int n, const char *const *vals,
		      char *err, size_t errlen)
{
	PGresult *r;
	int in_tx;

	if (db_ready(db, err, errlen) < 0)
		return NULL;
	in_tx = PQtransactionStatus(db->conn) != PQTRANS_IDLE;
	r = PQexecParams(db->conn, sql, n, NULL, vals, NULL, NULL, 0);
	if (PQstatus(db->conn) == CONNECTION_OK || in_tx)
		return r;
	PQclear(r);
	log_warn("db", "event=reconnect stmt=admin");
	if (db_ready(db, err, errlen) < 0)
		return NULL;
	return PQexecParams(db->conn, sql, n, NULL, vals, NULL, NULL, 0);
}

/* db.c: connection lifecycle and statement execution; every result status is checked here.
 * Every wait on the database is bounded: connects and statements are driven nonblocking with
 * poll() against a client-side deadline, because a black-holed or restarting Postgres would
 * otherwise hold an HTTP worker for minutes (TCP retransmits), far past any server-side
 * timeout. */
#include "db.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "stats.h"

/* after a failed connect, reconnects fail fast this long (any thread) */
#define DB_GATE_MS 500

static atomic_long db_default_timeout_ms = 1000;
static atomic_llong db_gate_until_ms; /* monotonic; reconnects before it fail at once */

static void db_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* NOTICEs from migrations are noise on stderr */
}

void db_setup(const struct lb_config *cfg)
{
	atomic_store(&db_default_timeout_ms, cfg->db_timeout_ms);
}

/* 0 = no deadline */
static long long db_deadline(long timeout_ms)
{
	return timeout_ms > 0 ? clock_mono_ms() + timeout_ms : 0;
}

/* A statement's client deadline trails the server's statement_timeout a little, so a slow
 * query ends with the server's cancel (the connection survives) and only a silent server
 * costs the connection. */
#define DB_GRACE_MS 250
static long long db_statement_deadline(const struct db *db)
{
	return db_deadline(db->timeout_ms > 0 ? db->timeout_ms + DB_GRACE_MS : 0);
}

/* libpq messages run over several lines; one line is what logs and callers want */
static void db_cut(char *err, size_t errlen)
{
	if (errlen)
		err[strcspn(err, "\n")] = '\0';
}

static void db_mask(char *err, const char *secret, size_t n)
{
	char *p;

	if (n == 0)
		return;
	for (p = err; (p = strstr(p, secret)) != NULL; p += n)
		memset(p, '*', n);
}

/* libpq's connect errors name host and port, but a URL it cannot parse is echoed in part:
 * mask the password (as given in the URL and as decoded) wherever it appears. */
static void db_mask_password(char *err, const char *url)
{
	PQconninfoOption *opts = PQconninfoParse(url, NULL), *o;
	const char *p, *at, *end;
	char raw[256];
	size_t n;

	for (o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val)
			db_mask(err, o->val, strlen(o->val));
	PQconninfoFree(opts);
	/* raw forms: scheme://user:PASSWORD@host and password=PASSWORD */
	if ((p = strstr(url, "://")) && (at = strchr(p + 3, '@')) &&
	    (p = memchr(p + 3, ':', (size_t)(at - p - 3))) && (n = (size_t)(at - p - 1)) > 0 &&
	    n < sizeof(raw)) {
		memcpy(raw, p + 1, n);
		raw[n] = '\0';
		db_mask(err, raw, n);
	}
	if ((p = strstr(url, "password=")) != NULL) {
		p += strlen("password=");
		end = p + strcspn(p, " &");
		n = (size_t)(end - p);
		if (n > 0 && n < sizeof(raw)) {
			memcpy(raw, p, n);
			raw[n] = '\0';
			db_mask(err, raw, n);
		}
	}
}

/* libpq honours connect_timeout only in its blocking connect, so the poll loop applies it:
 * the connect waits the smaller of it (libpq's minimum is 2 s) and timeout_ms. */
static long db_connect_limit(PGconn *c, long timeout_ms)
{
	PQconninfoOption *opts = PQconninfo(c), *o;
	long ct = 0;

	for (o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val)
			ct = strtol(o->val, NULL, 10);
	PQconninfoFree(opts);
	if (ct > 0 && ct < 2)
		ct = 2;
	ct = ct > 0 ? ct * 1000 : 0;
	if (timeout_ms > 0 && (ct == 0 || timeout_ms < ct))
		return timeout_ms;
	return ct;
}

/* A dead peer is noticed within about 9 s even on an idle connection (the LISTEN one). */
static const char *const db_defaults[][2] = {
	{ "connect_timeout", "2" },
	{ "keepalives", "1" },
	{ "keepalives_idle", "5" },
	{ "keepalives_interval", "2" },
	{ "keepalives_count", "2" },
};
#define DB_NDEFAULTS (sizeof(db_defaults) / sizeof(db_defaults[0]))

PGconn *db_connect_url(const char *url, long timeout_ms, char *err, size_t errlen)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING; /* libpq: start as if writing */
	const char *kw[DB_NDEFAULTS + 4], *val[DB_NDEFAULTS + 4];
	char user_timeout[24], options[64];
	struct pollfd pfd;
	long long deadline, left;
	long limit;
	PGconn *c;
	size_t n;

	/* defaults before dbname: with expand_dbname, what the URL sets overrides them */
	for (n = 0; n < DB_NDEFAULTS; n++) {
		kw[n] = db_defaults[n][0];
		val[n] = db_defaults[n][1];
	}
	if (timeout_ms > 0) {
		snprintf(user_timeout, sizeof(user_timeout), "%ld", timeout_ms);
		snprintf(options, sizeof(options), "-c statement_timeout=%ld", timeout_ms);
		kw[n] = "tcp_user_timeout";
		val[n++] = user_timeout;
		kw[n] = "options";
		val[n++] = options;
	}
	kw[n] = "dbname";
	val[n++] = url;
	kw[n] = NULL;
	val[n] = NULL;
	c = PQconnectStartParams(kw, val, 1);
	if (!c) {
		snprintf(err, errlen, "database: out of memory");
		return NULL;
	}
	limit = db_connect_limit(c, timeout_ms);
	deadline = db_deadline(limit);
	while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
	       st != PGRES_POLLING_FAILED) {
		left = deadline ? deadline - clock_mono_ms() : -1;
		if (deadline && left <= 0) {
			snprintf(err, errlen,
				 "database unreachable: connect timed out after %ld ms", limit);
			goto fail;
		}
		/* the socket may change between calls (next host, SSL refused) */
		pfd.fd = PQsocket(c);
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		pfd.revents = 0;
		if (pfd.fd < 0)
			break;
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) == 0)
			continue; /* the deadline check above reports it */
		st = PQconnectPoll(c);
	}
	if (st != PGRES_POLLING_OK || PQstatus(c) != CONNECTION_OK) {
		snprintf(err, errlen, "database unreachable: %s", PQerrorMessage(c));
		db_cut(err, errlen);
		db_mask_password(err, url);
		goto fail;
	}
	/* statements are sent with PQsend* and flushed by db_wait, never blocking in a write */
	if (PQsetnonblocking(c, 1) == 0)
		return c;
	snprintf(err, errlen, "database: cannot make the connection nonblocking");
fail:
	PQfinish(c);
	return NULL;
}

/* Flushes what is queued and waits until a result can be taken without blocking. */
static int db_wait(PGconn *c, long long deadline)
{
	struct pollfd pfd;
	long long left;
	int pending, n;

	for (;;) {
		pending = PQflush(c);
		if (pending < 0)
			return -ECONNRESET;
		if (!pending && !PQisBusy(c))
			return 0;
		left = deadline ? deadline - clock_mono_ms() : -1;
		if (deadline && left <= 0)
			return -ETIMEDOUT;
		pfd.fd = PQsocket(c);
		if (pfd.fd < 0)
			return -ECONNRESET;
		pfd.events = POLLIN | (pending ? POLLOUT : 0);
		pfd.revents = 0;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0 && errno != EINTR)
			return -ECONNRESET;
		if (n > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(c))
			return -ECONNRESET;
	}
}

/* After a PQsend*: takes every result until PQgetResult says NULL. *res is the first error,
 * else the last result (PQexec's choice), possibly NULL. -ETIMEDOUT or -ECONNRESET with err
 * set: the connection is unusable and must be closed. */
static int db_collect(PGconn *c, const char *what, long timeout_ms, long long deadline,
		      PGresult **res, char *err, size_t errlen)
{
	PGresult *r, *keep = NULL;
	ExecStatusType st;
	int rc;

	*res = NULL;
	for (;;) {
		rc = db_wait(c, deadline);
		if (rc < 0)
			break;
		r = PQgetResult(c);
		if (!r)
			break;
		st = PQresultStatus(r);
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
			/* nothing here speaks COPY; PQgetResult would hand this back forever */
			PQclear(r);
			snprintf(err, errlen, "database: %s: unexpected COPY", what);
			rc = -ECONNRESET;
			goto fail;
		}
		if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
			PQclear(r);
		} else {
			PQclear(keep);
			keep = r;
		}
	}
	if (rc == 0) {
		*res = keep;
		return 0;
	}
	if (rc == -ETIMEDOUT) {
		snprintf(err, errlen, "database: %s: timed out after %ld ms", what, timeout_ms);
	} else {
		snprintf(err, errlen, "database: %s: %s", what, PQerrorMessage(c));
		db_cut(err, errlen);
	}
fail:
	PQclear(keep);
	return rc;
}

/* A short name for a statement in errors: its first SQL keyword, never its parameters. */
static const char *db_keyword(const char *sql, char *out, size_t cap)
{
	size_t n = 0;

	sql += strspn(sql, " \t\r\n(");
	while (n + 1 < cap &&
	       ((sql[n] >= 'A' && sql[n] <= 'Z') || (sql[n] >= 'a' && sql[n] <= 'z'))) {
		out[n] = sql[n];
		n++;
	}
	out[n] = '\0';
	return n ? out : "sql";
}

int db_conn_exec(PGconn *c, const char *sql, long timeout_ms, char *err, size_t errlen)
{
	long long deadline = db_deadline(timeout_ms);
	char kwbuf[16];
	const char *what = db_keyword(sql, kwbuf, sizeof(kwbuf));
	ExecStatusType st;
	PGresult *r = NULL;
	int rc;

	if (!PQsendQuery(c, sql)) {
		snprintf(err, errlen, "database: %s: %s", what, PQerrorMessage(c));
		db_cut(err, errlen);
		return -ECONNRESET;
	}
	rc = db_collect(c, what, timeout_ms, deadline, &r, err, errlen);
	if (rc < 0)
		return rc;
	st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		db_cut(err, errlen);
		rc = PQstatus(c) == CONNECTION_OK ? -EIO : -ECONNRESET;
	}
	PQclear(r);
	return rc;
}

static void db_drop(struct db *db)
{
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
	memset(db->prepared, 0, sizeof(db->prepared));
}

/* A statement timed out or the connection broke mid-statement: the connection's state is
 * unknown, so it goes (the next call reconnects; the server rolls back an open transaction). */
static void db_fail_conn(struct db *db, int rc, const char *err)
{
	stats_db_error();
	if (rc == -ETIMEDOUT)
		log_warn("db", "event=timeout error=\"%s\"", err);
	db_drop(db);
}

static int db_connect(struct db *db, char *err, size_t errlen)
{
	db_drop(db);
	/* one thread's failed connect spares the others a full deadline each, for a while */
	if (clock_mono_ms() < atomic_load(&db_gate_until_ms)) {
		stats_db_error();
		snprintf(err, errlen, "database unavailable (reconnecting)");
		return -EAGAIN;
	}
	db->conn = db_connect_url(db->url, db->timeout_ms, err, errlen);
	if (!db->conn) {
		atomic_store(&db_gate_until_ms, clock_mono_ms() + DB_GATE_MS);
		stats_db_error();
		return -ECONNREFUSED;
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	return 0;
}

static int db_init(struct db *db, const char *url, long timeout_ms, char *err, size_t errlen)
{
	memset(db, 0, sizeof(*db));
	db->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
	if (strlen(url) >= sizeof(db->url)) {
		snprintf(err, errlen, "database URL too long");
		return -EINVAL;
	}
	strcpy(db->url, url);
	return 0;
}

int db_open_timeout(struct db *db, const char *url, long timeout_ms, char *err, size_t errlen)
{
	int rc = db_init(db, url, timeout_ms, err, errlen);

	return rc < 0 ? rc : db_connect(db, err, errlen);
}

int db_open_lazy(struct db *db, const char *url, char *err, size_t errlen)
{
	return db_init(db, url, atomic_load(&db_default_timeout_ms), err, errlen);
}

int db_open(struct db *db, const char *url, char *err, size_t errlen)
{
	return db_open_timeout(db, url, atomic_load(&db_default_timeout_ms), err, errlen);
}

void db_close(struct db *db)
{
	if (!db)
		return;
	db_drop(db);
}

static int db_ready(struct db *db, char *err, size_t errlen)
{
	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	return db_connect(db, err, errlen);
}

/* -ETIMEDOUT / -ECONNRESET: the connection was dropped; -EIO: the server refused it. */
static int db_prepare(struct db *db, const struct db_stmt *st, long long deadline, char *err,
		      size_t errlen)
{
	PGresult *r = NULL;
	int rc;

	if (db->prepared[st->id])
		return 0;
	if (!PQsendPrepare(db->conn, st->name, st->sql, st->nparams, NULL)) {
		snprintf(err, errlen, "database: prepare %s: %s", st->name,
			 PQerrorMessage(db->conn));
		db_cut(err, errlen);
		rc = -ECONNRESET;
	} else {
		rc = db_collect(db->conn, st->name, db->timeout_ms, deadline, &r, err, errlen);
	}
	if (rc < 0) {
		db_fail_conn(db, rc, err);
		return rc;
	}
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "database: prepare %s: %s", st->name,
			 r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
		db_cut(err, errlen);
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
	long long deadline;
	int attempt, rc;

	for (attempt = 0; attempt < 2; attempt++) {
		if (db_ready(db, err, errlen) < 0)
			return NULL;
		/* one deadline for prepare and execute: the caller waits once */
		deadline = db_statement_deadline(db);
		rc = db_prepare(db, st, deadline, err, errlen);
		if (rc == -ETIMEDOUT || (rc < 0 && PQstatus(db->conn) == CONNECTION_OK))
			return NULL;
		if (rc < 0)
			continue;
		if (!PQsendQueryPrepared(db->conn, st->name, st->nparams, vals, lens, bin, 0)) {
			snprintf(err, errlen, "database: %s: %s", st->name,
				 PQerrorMessage(db->conn));
			db_cut(err, errlen);
			rc = -ECONNRESET;
		} else {
			rc = db_collect(db->conn, st->name, db->timeout_ms, deadline, &r, err,
					errlen);
		}
		if (rc < 0) {
			db_fail_conn(db, rc, err);
			/* a timeout is not retried: a second full deadline helps nobody */
			if (rc == -ETIMEDOUT)
				return NULL;
			log_warn("db", "event=reconnect stmt=%s", st->name);
			continue;
		}
		if (r && PQresultStatus(r) == expect)
			return r;
		stats_db_error();
		snprintf(err, errlen, "database: %s: %s", st->name,
			 r ? PQresultErrorMessage(r) : PQerrorMessage(db->conn));
		db_cut(err, errlen);
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
	int rc = db_ready(db, err, errlen);

	if (rc < 0)
		return rc;
	rc = db_conn_exec(db->conn, sql, db->timeout_ms, err, errlen);
	if (rc == -ETIMEDOUT || rc == -ECONNRESET)
		db_fail_conn(db, rc, err);
	return rc;
}

PGresult *db_exec_sql(struct db *db, const char *sql, int n, const char *const *vals,
		      char *err, size_t errlen)
{
	PGresult *r = NULL;
	long long deadline;
	int attempt, in_tx, rc;

	for (attempt = 0; attempt < 2; attempt++) {
		if (attempt)
			log_warn("db", "event=reconnect stmt=admin");
		if (db_ready(db, err, errlen) < 0)
			return NULL;
		in_tx = PQtransactionStatus(db->conn) != PQTRANS_IDLE;
		deadline = db_statement_deadline(db);
		if (!PQsendQueryParams(db->conn, sql, n, NULL, vals, NULL, NULL, 0)) {
			snprintf(err, errlen, "database: sql: %s", PQerrorMessage(db->conn));
			db_cut(err, errlen);
			rc = -ECONNRESET;
		} else {
			rc = db_collect(db->conn, "sql", db->timeout_ms, deadline, &r, err, errlen);
		}
		if (rc == 0 && !r) {
			snprintf(err, errlen, "database: sql: %s", PQerrorMessage(db->conn));
			db_cut(err, errlen);
		}
		if (rc == 0 && (attempt || in_tx || PQstatus(db->conn) == CONNECTION_OK))
			return r;
		PQclear(r);
		r = NULL;
		if (rc < 0)
			db_fail_conn(db, rc, err);
		/* a lost BEGIN must not be papered over, nor a timeout paid twice */
		if (in_tx || rc == -ETIMEDOUT)
			return NULL;
	}
	return NULL;
}

PGresult *db_query(struct db *db, const char *sql, int n, const char *const *vals,
		   ExecStatusType expect, char *err, size_t errlen)
{
	PGresult *r = db_exec_sql(db, sql, n, vals, err, errlen);

	if (r && PQresultStatus(r) != expect) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = '\0';
		PQclear(r);
		r = NULL;
	}
	return r;
}

int db_command(struct db *db, const char *sql, int n, const char *const *vals, char *err,
	       size_t errlen)
{
	PGresult *r = db_query(db, sql, n, vals, PGRES_COMMAND_OK, err, errlen);
	int rows;

	if (!r)
		return -EIO;
	rows = (int)strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return rows;
}

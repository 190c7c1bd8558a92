/* migrate.c: schema migrations; several instances may start at once, an advisory lock
 * serialises them and each file is applied exactly once. */
#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

#define MIGRATE_MAX 512
#define MIGRATE_LOCK "7715012411"

static int migrate_name_ok(const char *n)
{
	size_t len = strlen(n), i;

	if (len < 9 || strcmp(n + len - 4, ".sql") != 0)
		return 0;
	for (i = 0; i < 4; i++)
		if (n[i] < '0' || n[i] > '9')
			return 0;
	return n[4] == '_';
}

static int migrate_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void migrate_names_free(char **names, int n)
{
	while (n > 0)
		free(names[--n]);
}

static int migrate_list(const char *dir, char **names, int *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	*n = 0;
	if (!d) {
		snprintf(err, errlen, "cannot open migrations directory %s: %s", dir,
			 strerror(errno));
		return -errno;
	}
	while ((e = readdir(d)) && *n < MIGRATE_MAX) {
		if (!migrate_name_ok(e->d_name))
			continue;
		names[*n] = strdup(e->d_name);
		if (!names[*n]) {
			closedir(d);
			migrate_names_free(names, *n);
			return -ENOMEM;
		}
		(*n)++;
	}
	closedir(d);
	qsort(names, (size_t)*n, sizeof(char *), migrate_cmp);
	return 0;
}

static int migrate_is_applied(struct db *db, const char *name, int *applied, char *err,
			      size_t errlen)
{
	const char *vals[1] = { name };
	char why[512] = "";
	/* through db_exec_sql: /readyz asks this, so it must have the statement deadline */
	PGresult *r = db_exec_sql(db, "SELECT 1 FROM schema_migrations WHERE version = $1", 1,
				  vals, why, sizeof(why));
	int rc = 0;

	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "reading schema_migrations: %s",
			 r ? PQresultErrorMessage(r) : why);
		rc = -EIO;
	} else {
		*applied = PQntuples(r) > 0;
	}
	PQclear(r);
	return rc;
}

static int migrate_read(const char *dir, const char *name, struct buf *sql, char *err,
			size_t errlen)
{
	char path[2048], chunk[8192];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -EIO;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(sql, chunk, n);
	fclose(f);
	return sql->oom ? -ENOMEM : 0;
}

static int migrate_one(struct db *db, const char *dir, const char *name, int *did, char *err,
		       size_t errlen)
{
	const char *vals[1] = { name };
	struct buf sql;
	PGresult *r = NULL;
	char inner[512];
	int applied = 0, rc;

	*did = 0;
	buf_init(&sql);
	rc = db_exec_simple(db, "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", err, errlen);
	if (rc < 0)
		goto out;
	rc = migrate_is_applied(db, name, &applied, err, errlen);
	if (rc < 0 || applied)
		goto out;
	rc = migrate_read(dir, name, &sql, err, errlen);
	if (rc < 0)
		goto out;
	if (db_exec_simple(db, buf_str(&sql), err, errlen) < 0) {
		snprintf(inner, sizeof(inner), "%s", err);
		snprintf(err, errlen, "migration %s failed: %s", name, inner);
		rc = -EIO;
		goto out;
	}
	r = db_exec_sql(db, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, vals, inner,
			sizeof(inner));
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "recording migration %s: %s", name,
			 r ? PQresultErrorMessage(r) : inner);
		rc = -EIO;
		goto out;
	}
	*did = 1;
out:
	PQclear(r);
	buf_free(&sql);
	if (rc == 0)
		rc = db_exec_simple(db, "COMMIT", err, errlen);
	else
		db_exec_simple(db, "ROLLBACK", err + strlen(err), 0);
	return rc;
}

static int migrate_table(struct db *db, char *err, size_t errlen)
{
	return db_exec_simple(db,
			      "CREATE TABLE IF NOT EXISTS schema_migrations ("
			      " version text PRIMARY KEY,"
			      " applied_at timestamptz NOT NULL DEFAULT now())",
			      err, errlen);
}

int migrate_apply(struct db *db, const char *dir, int *applied, char *err, size_t errlen)
{
	char *names[MIGRATE_MAX];
	int n, i, did, rc;

	*applied = 0;
	rc = migrate_list(dir, names, &n, err, errlen);
	if (rc < 0)
		return rc;
	/* the lock also serialises creating schema_migrations itself */
	rc = db_exec_simple(db, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", err, errlen);
	if (rc == 0)
		rc = migrate_table(db, err, errlen);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = migrate_one(db, dir, names[i], &did, err, errlen);
		if (rc == 0 && did) {
			(*applied)++;
			log_info("migrate", "event=applied version=%s", names[i]);
		}
	}
	db_exec_simple(db, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")", err + strlen(err), 0);
	migrate_names_free(names, n);
	return rc;
}

int migrate_pending(struct db *db, const char *dir, int *pending, char *list, size_t cap,
		    char *err, size_t errlen)
{
	char *names[MIGRATE_MAX];
	struct buf out;
	int n, i, applied, rc;

	*pending = 0;
	rc = migrate_list(dir, names, &n, err, errlen);
	if (rc < 0)
		return rc;
	rc = migrate_table(db, err, errlen);
	buf_init(&out);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = migrate_is_applied(db, names[i], &applied, err, errlen);
		if (rc == 0 && !applied) {
			(*pending)++;
			buf_printf(&out, "%s%s", out.len ? " " : "", names[i]);
		}
	}
	snprintf(list, cap, "%s", buf_str(&out));
	buf_free(&out);
	migrate_names_free(names, n);
	return rc;
}

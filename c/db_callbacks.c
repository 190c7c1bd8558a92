/* db_callbacks.c: see db_callbacks.h. Every change is one statement, so no transaction is
 * ever held open while a callback is on the network. */
#include "db_callbacks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_CALLBACKS_PRUNE_BATCH "1000"

static const struct db_stmt db_callbacks_add_stmt = {
	DB_CALLBACK_ADD, "callback_add",
	"INSERT INTO callbacks (frontend_id, kind, event_id, url, method, content_type, headers,"
	" body) VALUES ($1::uuid, $2, $3, $4, $5, $6, coalesce($7::jsonb, '{}'::jsonb), $8::bytea)"
	" ON CONFLICT (event_id) DO NOTHING RETURNING id",
	8
};

int db_callbacks_add(struct db *db, const struct db_callback *cb, char *err, size_t errlen)
{
	const char *vals[8] = { cb->frontend_id, cb->kind, cb->event_id, cb->url, cb->method,
				cb->content_type, cb->headers_json, cb->body };
	int lens[8] = { 0, 0, 0, 0, 0, 0, 0, (int)cb->body_len };
	int bin[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	PGresult *r;
	int rc;

	if (!cb->kind || !cb->event_id || !cb->url || !cb->method || cb->body_len > 0x7fffffff) {
		snprintf(err, errlen, "a callback needs a kind, an event_id, a url and a method "
				      "(and a body under 2 GiB)");
		return -EINVAL;
	}
	r = db_exec(db, &db_callbacks_add_stmt, vals, lens, bin, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	rc = PQntuples(r) == 1 ? 0 : 1;
	PQclear(r);
	return rc;
}

void db_callbacks_due_free(struct db_callback_due *d)
{
	if (!d)
		return;
	free(d->url);
	free(d->content_type);
	free(d->headers);
	if (d->body)
		PQfreemem(d->body);
	memset(d, 0, sizeof(*d));
}

static int db_callbacks_due_row(PGresult *r, int i, struct db_callback_due *d)
{
	memset(d, 0, sizeof(*d));
	d->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	d->attempt = (int)strtol(PQgetvalue(r, i, 1), NULL, 10);
	snprintf(d->kind, sizeof(d->kind), "%s", PQgetvalue(r, i, 2));
	snprintf(d->method, sizeof(d->method), "%s", PQgetvalue(r, i, 4));
	d->url = strdup(PQgetvalue(r, i, 3));
	d->content_type = PQgetisnull(r, i, 5) ? NULL : strdup(PQgetvalue(r, i, 5));
	d->headers = strdup(PQgetvalue(r, i, 6));
	if (!PQgetisnull(r, i, 7))
		d->body = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 7), &d->body_len);
	if (!d->url || !d->headers || (!PQgetisnull(r, i, 5) && !d->content_type) ||
	    (!PQgetisnull(r, i, 7) && !d->body)) {
		db_callbacks_due_free(d);
		return -ENOMEM;
	}
	return 0;
}

int db_callbacks_claim(struct db *db, int max, long lease_ms, struct db_callback_due **out,
		       char *err, size_t errlen)
{
	/* the lease is the claim: next_at moves past the attempt, so SKIP LOCKED needs no lock
	 * held beyond this statement */
	static const char *sql =
		"UPDATE callbacks c SET attempts = c.attempts + 1,"
		" next_at = now() + $2::bigint * interval '1 millisecond'"
		" FROM (SELECT id FROM callbacks WHERE state = 'pending' AND next_at <= now()"
		"  ORDER BY next_at LIMIT $1::integer FOR UPDATE SKIP LOCKED) d"
		" WHERE c.id = d.id"
		" RETURNING c.id, c.attempts, c.kind, c.url, c.method, c.content_type,"
		" coalesce((SELECT string_agg(h.key || ': ' || h.value, E'\\n' ORDER BY h.key)"
		"  FROM jsonb_each_text(c.headers) h), ''), c.body";
	char nb[16], lb[24];
	const char *vals[2] = { nb, lb };
	struct db_callback_due *v;
	PGresult *r;
	int n, i;

	*out = NULL;
	snprintf(nb, sizeof(nb), "%d", max);
	snprintf(lb, sizeof(lb), "%ld", lease_ms);
	r = db_query(db, sql, 2, vals, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	n = PQntuples(r);
	v = n ? calloc((size_t)n, sizeof(*v)) : NULL;
	if (n && !v) {
		/* the rows stay claimed until their lease ends, then any instance retries them */
		PQclear(r);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		if (db_callbacks_due_row(r, i, &v[i]) < 0)
			v[i].id = 0; /* left to its lease, like above */
	PQclear(r);
	*out = v;
	return n;
}

int db_callbacks_finish(struct db *db, long long id, int attempt,
			enum db_callback_outcome outcome, long status, const char *error,
			long retry_ms, long max_age_s, char state[16], char *err, size_t errlen)
{
	/* $1 id, $2 attempt, $3 status, $4 error, $5 retry delay (ms), $6 max age (s): each
	 * outcome uses a prefix of them (Postgres refuses a parameter a statement never uses) */
	static const struct {
		const char *set;
		int nparams;
	} how[] = {
		[DB_CB_DELIVERED] = { "state = 'delivered', delivered_at = now(),"
				      " last_status = $3::integer, last_error = NULL", 3 },
		[DB_CB_FAILED] = { "state = 'failed', last_status = $3::integer,"
				   " last_error = $4::text", 4 },
		[DB_CB_REFUSED] = { "state = 'refused', last_status = $3::integer,"
				    " last_error = $4::text", 4 },
		/* the last attempt is made when max_age runs out; it failing fails the row */
		[DB_CB_RETRY] = { "last_status = $3::integer,"
				  " state = CASE WHEN now() >= created_at + $6::bigint * interval"
				  "  '1 second' THEN 'failed' ELSE 'pending' END,"
				  " last_error = CASE WHEN now() >= created_at + $6::bigint * interval"
				  "  '1 second' THEN 'gave up after ' || attempts || ' attempts: '"
				  "  || $4::text ELSE $4::text END,"
				  " next_at = LEAST(now() + $5::bigint * interval '1 millisecond',"
				  "  created_at + $6::bigint * interval '1 second')", 6 },
		[DB_CB_RELEASE] = { "next_at = now()", 2 },
	};
	char sql[1024], ib[24], ab[16], sb[24], rb[24], mb[24];
	const char *vals[6] = { ib, ab, status > 0 ? sb : NULL, error, rb, mb };
	PGresult *r;
	int rc;

	snprintf(sql, sizeof(sql),
		 "UPDATE callbacks SET %s WHERE id = $1::bigint AND attempts = $2::integer"
		 " AND state = 'pending' RETURNING state",
		 how[outcome].set);
	snprintf(ib, sizeof(ib), "%lld", id);
	snprintf(ab, sizeof(ab), "%d", attempt);
	snprintf(sb, sizeof(sb), "%ld", status);
	snprintf(rb, sizeof(rb), "%ld", retry_ms);
	snprintf(mb, sizeof(mb), "%ld", max_age_s);
	r = db_query(db, sql, how[outcome].nparams, vals, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	rc = PQntuples(r) == 1;
	if (rc)
		snprintf(state, 16, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

int db_callbacks_prune(struct db *db, long keep_s, char *err, size_t errlen)
{
	char kb[24];
	const char *vals[1] = { kb };

	snprintf(kb, sizeof(kb), "%ld", keep_s);
	return db_command(db, "DELETE FROM callbacks WHERE id IN (SELECT id FROM callbacks"
			      " WHERE state <> 'pending' AND created_at < now() - $1::bigint *"
			      " interval '1 second' LIMIT " DB_CALLBACKS_PRUNE_BATCH ")",
			  1, vals, err, errlen);
}

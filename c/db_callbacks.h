/* db_callbacks.h: the callback outbox (sql/0018). Producers add rows; the deliverer
 * (cb_outbox.c) claims due rows, each claim being one attempt and a lease that keeps other
 * instances off the row until the attempt's outcome is written. */
#ifndef B3S_DB_CALLBACKS_H
#define B3S_DB_CALLBACKS_H

#include <stddef.h>

#include "db.h"

/* One callback to deliver. Strings are copied; NULL frontend_id and content_type are SQL
 * NULL, NULL headers_json is '{}', NULL body is no body. */
struct db_callback {
	const char *frontend_id;  /* uuid of the frontend it is for, or NULL */
	const char *kind;         /* 'meeting-ended', 'recording-ready', 'analytics', 'webhook' */
	const char *event_id;     /* unique per event: adding it twice adds it once */
	const char *url;          /* http(s) target; checked by the SSRF guard at delivery */
	const char *method;       /* "GET" or "POST" */
	const char *content_type; /* of the body (POST) */
	const char *headers_json; /* extra headers, a JSON object of strings */
	const char *body;
	size_t body_len;
};

/* Adds cb as a pending callback, due now: 0 added, 1 already there (same event_id), -EINVAL
 * (a required field is missing), -EIO (the database refused it, e.g. a bad URL or header, or
 * could not be reached; err says which). Wake the local deliverer with cb_outbox_kick(). */
int db_callbacks_add(struct db *db, const struct db_callback *cb, char *err, size_t errlen);

/* A claimed row: what to send. */
struct db_callback_due {
	long long id;
	int attempt;            /* the row's attempts after this claim: its outcome's key */
	char kind[65];
	char method[8];
	char *url;
	char *content_type;     /* NULL: none */
	char *headers;          /* "Name: value" lines separated by "\n", "" when none */
	unsigned char *body;    /* NULL: none */
	size_t body_len;
};

/* Claims up to max due pending rows for lease_ms (their attempts + 1). The count claimed
 * (*out, free each with db_callbacks_due_free and the array with free), or -EIO. */
int db_callbacks_claim(struct db *db, int max, long lease_ms, struct db_callback_due **out,
		       char *err, size_t errlen);
void db_callbacks_due_free(struct db_callback_due *d);

enum db_callback_outcome {
	DB_CB_DELIVERED, /* 2xx */
	DB_CB_FAILED,    /* no retry (404, 410) */
	DB_CB_REFUSED,   /* the SSRF guard said no: never retried */
	DB_CB_RETRY,     /* again after retry_ms, unless max_age_s since created_at is over */
	DB_CB_RELEASE,   /* not attempted after all (shutting down): due again now */
};
/* Writes the outcome of attempt `attempt` of row id. 1 with the row's new state in
 * state[16] ("pending", "delivered", "failed", "refused"); 0 when the row is no longer this
 * attempt's (its lease ran out and another claim took it); -EIO. */
int db_callbacks_finish(struct db *db, long long id, int attempt,
			enum db_callback_outcome outcome, long status, const char *error,
			long retry_ms, long max_age_s, char state[16], char *err, size_t errlen);

/* Removes up to a batch of finished rows created more than keep_s ago: how many, or -EIO. */
int db_callbacks_prune(struct db *db, long keep_s, char *err, size_t errlen);

#endif

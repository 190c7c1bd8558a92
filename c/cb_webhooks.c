/* cb_webhooks.c: see cb_webhooks.h. Postgres builds each body (the webhooks are JSON
 * settings and the core has no JSON library); it is signed here byte for byte as sent. */
#include "cb_webhooks.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "cb_outbox.h"
#include "clock.h"
#include "db.h"
#include "db_callbacks.h"
#include "log.h"

#define CB_WEBHOOKS_POLL_MS 500 /* new events are looked for at least this often */
#define CB_WEBHOOKS_BATCH "100"  /* events per transaction */
#define CB_WEBHOOKS_MAC_HEX 64   /* HMAC-SHA256, hex */

static struct {
	pthread_t thread;
	pthread_mutex_t mu; /* stop */
	pthread_cond_t wake;
	int started, stop;
	struct db db;
} cbw = { .mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

/* Takes a batch of events (rows another instance holds are skipped) and deletes them; the
 * transaction around it brings them back if their outbox rows cannot all be added. One row
 * per event and webhook subscribed to it: the event ID, frontend, the webhook's index, URL
 * and secret, the event's name and the body. A webhook whose URL the outbox would refuse
 * is left out, so one bad setting cannot hold the queue. */
static const char *const cb_webhooks_take_sql =
	"WITH ev AS (DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events"
	"  ORDER BY id LIMIT $1::integer FOR UPDATE SKIP LOCKED) RETURNING *)"
	" SELECT f.key || '-' || ev.id, f.id, w.i - 1, w.hook ->> 'url', w.hook ->> 'secret',"
	"  ev.event, jsonb_build_object('id', f.key || '-' || ev.id, 'event', ev.event,"
	"  'frontend', f.key, 'meeting_id', ev.meeting_id, 'at', to_char(ev.created_at"
	"  AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'data', ev.payload)::text"
	" FROM ev JOIN frontends f ON f.id = ev.frontend_id"
	" CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(f.settings -> 'webhooks')"
	"  WHEN 'array' THEN f.settings -> 'webhooks' ELSE '[]'::jsonb END)"
	"  WITH ORDINALITY AS w(hook, i)"
	" WHERE jsonb_typeof(w.hook -> 'events') = 'array' AND w.hook -> 'events' ? ev.event"
	"  AND jsonb_typeof(w.hook -> 'url') = 'string' AND w.hook ->> 'url' ~* '^https?://'"
	"  AND length(w.hook ->> 'url') <= 8192"
	"  AND jsonb_typeof(w.hook -> 'secret') = 'string' AND w.hook ->> 'secret' <> ''"
	" ORDER BY ev.id, w.i";

/* hex of HMAC-SHA256(secret, body) into out (CB_WEBHOOKS_MAC_HEX + 1 bytes) */
static int cb_webhooks_sign(const char *secret, const char *body, size_t len, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len,
		  mac, &n) || n * 2 != CB_WEBHOOKS_MAC_HEX)
		return -EIO;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

/* The outbox row of result row i: 0 added, 1 already there, <0 as db_callbacks_add. */
static int cb_webhooks_queue(PGresult *r, int i, char *err, size_t errlen)
{
	char mac[CB_WEBHOOKS_MAC_HEX + 1], event_id[192];
	struct db_callback cb;
	struct buf hdr;
	int rc;

	buf_init(&hdr);
	memset(&cb, 0, sizeof(cb));
	cb.body = PQgetvalue(r, i, 6);
	cb.body_len = (size_t)PQgetlength(r, i, 6);
	if (cb_webhooks_sign(PQgetvalue(r, i, 4), cb.body, cb.body_len, mac) < 0) {
		snprintf(err, errlen, "cannot compute the webhook signature");
		rc = -EIO;
		goto out;
	}
	/* per webhook: a retry of this batch, or another instance, adds nothing twice */
	snprintf(event_id, sizeof(event_id), "webhook:%s:%s", PQgetvalue(r, i, 0),
		 PQgetvalue(r, i, 2));
	buf_printf(&hdr, "{\"X-B3scale-Signature\":\"sha256=%s\",\"X-B3scale-Event\":", mac);
	buf_json_str(&hdr, PQgetvalue(r, i, 5));
	buf_puts(&hdr, "}");
	if (hdr.oom) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	cb.frontend_id = PQgetvalue(r, i, 1);
	cb.kind = "webhook";
	cb.event_id = event_id;
	cb.url = PQgetvalue(r, i, 3);
	cb.method = "POST";
	cb.content_type = "application/json";
	cb.headers_json = buf_str(&hdr);
	rc = db_callbacks_add(&cbw.db, &cb, err, errlen);
	if (rc == 0)
		log_debug("webhooks", "event=webhook_queued id=%s webhook=%s event_name=%s",
			  PQgetvalue(r, i, 0), PQgetvalue(r, i, 2), PQgetvalue(r, i, 5));
out:
	buf_free(&hdr);
	return rc;
}

/* One batch in one transaction: the outbox rows added (*more: events were found, look again
 * at once), or a negative errno with err, the events left for the next try. */
static int cb_webhooks_batch(int *more, char *err, size_t errlen)
{
	const char *vals[1] = { CB_WEBHOOKS_BATCH };
	char ignored[256];
	PGresult *r;
	int i, n = 0, rc;

	*more = 0;
	r = db_query(&cbw.db, "BEGIN", 0, NULL, PGRES_COMMAND_OK, err, errlen);
	if (!r)
		return -EIO;
	PQclear(r);
	r = db_query(&cbw.db, cb_webhooks_take_sql, 1, vals, PGRES_TUPLES_OK, err, errlen);
	if (!r) {
		rc = -EIO;
		goto fail;
	}
	for (i = 0; i < PQntuples(r); i++) {
		rc = cb_webhooks_queue(r, i, err, errlen);
		if (rc < 0)
			goto fail;
		n += rc == 0;
	}
	*more = PQntuples(r) > 0;
	PQclear(r);
	r = db_query(&cbw.db, "COMMIT", 0, NULL, PGRES_COMMAND_OK, err, errlen);
	if (!r) {
		rc = -EIO;
		goto fail;
	}
	PQclear(r);
	return n;
fail:
	PQclear(r);
	/* after a failed COMMIT there is nothing to roll back: the warning is harmless */
	PQclear(db_exec_sql(&cbw.db, "ROLLBACK", 0, NULL, ignored, sizeof(ignored)));
	*more = 0;
	return rc;
}

static void *cb_webhooks_main(void *arg)
{
	struct timespec until;
	char err[512];
	int n, more, stop = 0, failing = 0;

	(void)arg;
	while (!stop) {
		n = cb_webhooks_batch(&more, err, sizeof(err));
		if (n < 0 && !failing) /* once per outage: it is retried every poll */
			log_warn("webhooks", "event=webhooks_failed error=\"%s\"", err);
		failing = n < 0;
		if (n > 0)
			cb_outbox_kick();
		clock_after(&until, CLOCK_REALTIME, CB_WEBHOOKS_POLL_MS);
		pthread_mutex_lock(&cbw.mu);
		while (!cbw.stop && !more &&
		       pthread_cond_timedwait(&cbw.wake, &cbw.mu, &until) == 0)
			;
		stop = cbw.stop;
		pthread_mutex_unlock(&cbw.mu);
	}
	return NULL;
}

int cb_webhooks_start(const struct lb_config *cfg, char *err, size_t errlen)
{
	int rc;

	rc = db_open_lazy(&cbw.db, cfg->db_url, err, errlen);
	if (rc < 0)
		return rc;
	cbw.stop = 0;
	rc = pthread_create(&cbw.thread, NULL, cb_webhooks_main, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot start the webhooks thread: %s", strerror(rc));
		db_close(&cbw.db);
		return -rc;
	}
	cbw.started = 1;
	return 0;
}

void cb_webhooks_stop(void)
{
	if (!cbw.started)
		return;
	pthread_mutex_lock(&cbw.mu);
	cbw.stop = 1;
	pthread_cond_signal(&cbw.wake);
	pthread_mutex_unlock(&cbw.mu);
	pthread_join(cbw.thread, NULL);
	cbw.started = 0;
	db_close(&cbw.db);
}

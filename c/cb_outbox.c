/* cb_outbox.c: see cb_outbox.h. Rows are the state: a claim pushes the row's next_at past
 * the attempt (the lease), the outcome is written in one statement keyed by the attempt
 * number, and nothing is held in memory that a restart would miss. */
#include "cb_outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cb_target.h"
#include "clock.h"
#include "db.h"
#include "db_callbacks.h"
#include "log.h"
#include "proxy.h"

#define CB_OUTBOX_POLL_MS 1000         /* due rows are looked for at least this often */
#define CB_OUTBOX_MAX_ANSWER 65536     /* bytes of an answer read (and dropped) */
#define CB_OUTBOX_MAX_BACKOFF_MS 3600000L
/* A lease is an attempt's timeout plus this; an attempt not begun within START_WITHIN of its
 * claim (a slow resolver) is handed back rather than risk outliving its lease. */
#define CB_OUTBOX_LEASE_SLACK_MS 30000L
#define CB_OUTBOX_START_WITHIN_MS 20000L
#define CB_OUTBOX_WRITE_RETRY_MS 1000  /* outcomes the database did not take, tried again */
#define CB_OUTBOX_PRUNE_MS 60000
#define CB_OUTBOX_KEEP_S (7L * 86400)  /* finished rows are kept a week for operators */

struct cb_delivery {
	struct cb_delivery *next; /* in flight, or its outcome waiting to be written */
	struct db_callback_due due;
	struct cb_target target;
	CURL *easy;
	struct curl_slist *hdrs;
	struct proxy_result res;
	size_t got;               /* answer bytes seen */
	int cut;                  /* the answer was longer than CB_OUTBOX_MAX_ANSWER */
	long long claimed_ms;
	enum db_callback_outcome outcome;
	long status;
	char error[512];
};

static struct {
	const struct lb_config *cfg;
	pthread_t thread;
	pthread_mutex_t mu; /* running, stop, kicked; the multi handle's life for a kick */
	int running, stop, kicked;
	CURLM *multi;
	struct db db;
	struct cb_delivery *active, *unwritten;
	long inflight;
	int more;           /* the last claim was full: more rows may be due */
	struct cb_outbox_counters n;
} cbo = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void cb_outbox_free(struct cb_delivery *d)
{
	if (d->easy) {
		curl_multi_remove_handle(cbo.multi, d->easy);
		curl_easy_cleanup(d->easy);
	}
	curl_slist_free_all(d->hdrs);
	cb_target_release(&d->target);
	proxy_result_free(&d->res);
	db_callbacks_due_free(&d->due);
	free(d);
}

/* The wait before attempt `attempt` + 1: B3SCALE_CALLBACK_RETRY_MS doubling per attempt up
 * to an hour, half of it random so that callbacks failing together do not retry together. */
static long cb_outbox_backoff(int attempt)
{
	long d = cbo.cfg->callback_retry_ms;
	unsigned r;
	int i;

	for (i = 1; i < attempt && d < CB_OUTBOX_MAX_BACKOFF_MS; i++)
		d *= 2;
	if (d > CB_OUTBOX_MAX_BACKOFF_MS)
		d = CB_OUTBOX_MAX_BACKOFF_MS;
	/* jitter: instances retrying the same receiver must not stay in step */
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = 0;
	return d / 2 + (long)(r % (unsigned)(d / 2 + 1));
}

static void cb_outbox_count(const char *state)
{
	unsigned long *c = strcmp(state, "delivered") == 0 ? &cbo.n.delivered
			   : strcmp(state, "refused") == 0 ? &cbo.n.refused
			   : strcmp(state, "failed") == 0  ? &cbo.n.failed
							   : &cbo.n.retried;

	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

/* Writes d's outcome: 0 done (d may be freed), -EIO when the database did not take it. */
static int cb_outbox_write(struct cb_delivery *d)
{
	char err[512], state[16];
	long retry = d->outcome == DB_CB_RETRY ? cb_outbox_backoff(d->due.attempt) : 0;
	int rc;

	rc = db_callbacks_finish(&cbo.db, d->due.id, d->due.attempt, d->outcome, d->status,
				 d->error, retry, cbo.cfg->callback_max_age_s, state, err,
				 sizeof(err));
	if (rc < 0) {
		log_warn("callbacks", "event=outcome_not_written id=%lld error=\"%s\"", d->due.id,
			 err);
		return rc;
	}
	if (rc == 0 || d->outcome == DB_CB_RELEASE) /* another claim has it, or no attempt */
		return 0;
	cb_outbox_count(state);
	if (strcmp(state, "delivered") == 0)
		log_info("callbacks", "event=callback_delivered id=%lld kind=%s attempt=%d status=%ld",
			 d->due.id, d->due.kind, d->due.attempt, d->status);
	else if (strcmp(state, "pending") == 0)
		log_info("callbacks", "event=callback_retry id=%lld kind=%s attempt=%d retry_ms=%ld "
				      "error=\"%s\"", d->due.id, d->due.kind, d->due.attempt, retry,
			 d->error);
	else
		log_warn("callbacks", "event=callback_%s id=%lld kind=%s attempt=%d error=\"%s\"",
			 state, d->due.id, d->due.kind, d->due.attempt, d->error);
	return 0;
}

static void cb_outbox_unlink(struct cb_delivery *d)
{
	struct cb_delivery **p;

	for (p = &cbo.active; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	d->next = NULL;
}

/* The attempt is over (or never began): its outcome goes to the database, or waits. */
static void cb_outbox_settle(struct cb_delivery *d, enum db_callback_outcome outcome,
			     long status, const char *why)
{
	d->outcome = outcome;
	d->status = status;
	snprintf(d->error, sizeof(d->error), "%s", why ? why : "");
	if (d->easy) {
		cb_outbox_unlink(d);
		curl_multi_remove_handle(cbo.multi, d->easy);
		curl_easy_cleanup(d->easy);
		d->easy = NULL;
		cbo.inflight--;
		cbo.more = 1; /* a slot is free: look for due rows at once */
	}
	if (cb_outbox_write(d) == 0) {
		cb_outbox_free(d);
		return;
	}
	d->next = cbo.unwritten;
	cbo.unwritten = d;
}

/* Outcomes the database did not take before: tried again, oldest last. */
static void cb_outbox_write_pending(void)
{
	struct cb_delivery *d = cbo.unwritten, *next, *keep = NULL;

	cbo.unwritten = NULL;
	for (; d; d = next) {
		next = d->next;
		if (cb_outbox_write(d) == 0) {
			cb_outbox_free(d);
		} else {
			d->next = keep;
			keep = d;
		}
	}
	cbo.unwritten = keep;
}

static size_t cb_outbox_answer(char *p, size_t size, size_t n, void *ud)
{
	struct cb_delivery *d = ud;

	(void)p;
	d->got += size * n;
	if (d->got > CB_OUTBOX_MAX_ANSWER) {
		d->cut = 1;
		return 0; /* ends the transfer; the status is known already */
	}
	return size * n;
}

/* The row's extra headers ("Name: value" lines) before curl's own. */
static int cb_outbox_headers(struct cb_delivery *d)
{
	char *line, *save = NULL;
	struct curl_slist *h;

	for (line = strtok_r(d->due.headers, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		h = curl_slist_append(d->hdrs, line);
		if (!h)
			return -ENOMEM;
		d->hdrs = h;
	}
	return 0;
}

static int cb_outbox_easy(struct cb_delivery *d)
{
	struct proxy_opts o = { cbo.cfg->callback_timeout_ms, cbo.cfg->callback_timeout_ms };
	int post = strcmp(d->due.method, "POST") == 0;

	d->easy = curl_easy_init();
	if (!d->easy)
		return -ENOMEM;
	if (proxy_easy_setup(d->easy, &o, d->due.url, &d->res) < 0 ||
	    curl_easy_setopt(d->easy, CURLOPT_WRITEFUNCTION, cb_outbox_answer) != CURLE_OK ||
	    curl_easy_setopt(d->easy, CURLOPT_WRITEDATA, d) != CURLE_OK ||
	    cb_outbox_headers(d) < 0 ||
	    proxy_easy_body(d->easy, d->due.method, post ? (const char *)d->due.body : NULL,
			    post ? d->due.body_len : 0,
			    d->due.content_type ? d->due.content_type : "application/octet-stream",
			    &d->hdrs) < 0 ||
	    cb_target_apply(d->easy, &d->target) < 0 ||
	    curl_easy_setopt(d->easy, CURLOPT_PRIVATE, d) != CURLE_OK)
		return -EINVAL;
	if (curl_multi_add_handle(cbo.multi, d->easy) != CURLM_OK)
		return -EINVAL;
	d->next = cbo.active;
	cbo.active = d;
	cbo.inflight++;
	return 0;
}

/* Checks a claimed row's target and sends it, or settles it at once. */
static void cb_outbox_begin(struct cb_delivery *d)
{
	char why[512];
	int rc;

	rc = cb_target_check(d->due.url, &d->target, why, sizeof(why));
	if (rc == -EAGAIN || rc == -ENOMEM) {
		cb_outbox_settle(d, DB_CB_RETRY, 0, rc == -ENOMEM ? "out of memory" : why);
		return;
	}
	if (rc < 0) {
		cb_outbox_settle(d, DB_CB_REFUSED, 0, why);
		return;
	}
	if (clock_mono_ms() - d->claimed_ms > CB_OUTBOX_START_WITHIN_MS) {
		cb_outbox_settle(d, DB_CB_RELEASE, 0, NULL);
		return;
	}
	if (cb_outbox_easy(d) < 0) {
		if (d->easy) {
			curl_easy_cleanup(d->easy);
			d->easy = NULL;
		}
		cb_outbox_settle(d, DB_CB_RETRY, 0, "cannot set up the HTTP call");
	}
}

/* Claims what the free slots allow and begins each; ms until the next look. */
static long cb_outbox_claim(void)
{
	struct db_callback_due *v = NULL;
	struct cb_delivery *d;
	char err[512];
	long want = cbo.cfg->callback_concurrency - cbo.inflight;
	long long now = clock_mono_ms();
	int n, i;

	n = db_callbacks_claim(&cbo.db, (int)want,
			       cbo.cfg->callback_timeout_ms + CB_OUTBOX_LEASE_SLACK_MS, &v, err,
			       sizeof(err));
	if (n < 0) {
		log_warn("callbacks", "event=claim_failed error=\"%s\"", err);
		cbo.more = 0;
		return CB_OUTBOX_POLL_MS;
	}
	cbo.more = n == want;
	for (i = 0; i < n; i++) {
		if (v[i].id == 0) /* not readable: its lease runs out and it comes back */
			continue;
		d = calloc(1, sizeof(*d));
		if (!d) {
			db_callbacks_due_free(&v[i]);
			continue;
		}
		d->due = v[i];
		d->claimed_ms = now;
		proxy_result_init(&d->res);
		cb_outbox_begin(d);
	}
	free(v);
	/* a short first retry step (specs) is looked for as often as it comes due */
	return cbo.cfg->callback_retry_ms < CB_OUTBOX_POLL_MS ? cbo.cfg->callback_retry_ms
							    : CB_OUTBOX_POLL_MS;
}

static void cb_outbox_finished(CURL *easy, CURLcode cc)
{
	struct cb_delivery *d = NULL;
	char why[160];
	long st = 0;

	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&d) != CURLE_OK || !d)
		return;
	if (d->target.blocked) {
		cb_outbox_settle(d, DB_CB_REFUSED, 0,
				 "the connection went to an address that is not allowed");
		return;
	}
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && d->cut)) {
		if (cc == CURLE_OPERATION_TIMEDOUT)
			snprintf(why, sizeof(why), "no answer within %ld ms",
				 cbo.cfg->callback_timeout_ms);
		else
			snprintf(why, sizeof(why), "%s", curl_easy_strerror(cc));
		cb_outbox_settle(d, DB_CB_RETRY, 0, why);
		return;
	}
	if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &st) != CURLE_OK)
		st = 0;
	snprintf(why, sizeof(why), "HTTP %ld%s", st,
		 st >= 300 && st < 400 ? " (redirects are not followed)" : "");
	if (st >= 200 && st < 300)
		cb_outbox_settle(d, DB_CB_DELIVERED, st, NULL);
	else if (st == 404 || st == 410)
		cb_outbox_settle(d, DB_CB_FAILED, st, why);
	else
		cb_outbox_settle(d, DB_CB_RETRY, st, why);
}

/* Hands every attempt in flight back (due again now) and writes what can be written. */
static void cb_outbox_abandon(void)
{
	CURLMsg *msg;
	struct cb_delivery *d;
	int left;

	/* transfers that ended before the stop keep their real outcome */
	while ((msg = curl_multi_info_read(cbo.multi, &left)))
		if (msg->msg == CURLMSG_DONE)
			cb_outbox_finished(msg->easy_handle, msg->data.result);
	while ((d = cbo.active))
		cb_outbox_settle(d, DB_CB_RELEASE, 0, NULL);
	cb_outbox_write_pending();
	for (d = cbo.unwritten; d; d = cbo.unwritten) {
		cbo.unwritten = d->next;
		cb_outbox_free(d); /* its lease runs out and any instance tries it again */
	}
}

static void *cb_outbox_main(void *arg)
{
	long long now, next_claim = 0, next_prune = 0, next_write = 0;
	long timeout, wait;
	CURLMsg *msg;
	char err[512];
	int running, left, kicked, stop;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&cbo.mu);
		kicked = cbo.kicked;
		stop = cbo.stop;
		cbo.kicked = 0;
		pthread_mutex_unlock(&cbo.mu);
		if (stop)
			break;
		now = clock_mono_ms();
		if (cbo.unwritten && now >= next_write) {
			cb_outbox_write_pending();
			next_write = now + CB_OUTBOX_WRITE_RETRY_MS;
		}
		if (cbo.inflight < cbo.cfg->callback_concurrency &&
		    (kicked || cbo.more || now >= next_claim))
			next_claim = now + cb_outbox_claim();
		if (now >= next_prune) {
			if (db_callbacks_prune(&cbo.db, CB_OUTBOX_KEEP_S, err, sizeof(err)) < 0)
				log_warn("callbacks", "event=prune_failed error=\"%s\"", err);
			next_prune = now + CB_OUTBOX_PRUNE_MS;
		}
		if (curl_multi_perform(cbo.multi, &running) != CURLM_OK)
			log_error("callbacks", "event=multi_perform_failed");
		while ((msg = curl_multi_info_read(cbo.multi, &left)))
			if (msg->msg == CURLMSG_DONE)
				cb_outbox_finished(msg->easy_handle, msg->data.result);
		if (curl_multi_timeout(cbo.multi, &timeout) != CURLM_OK || timeout < 0 ||
		    timeout > CB_OUTBOX_POLL_MS)
			timeout = CB_OUTBOX_POLL_MS;
		wait = (long)(next_claim - clock_mono_ms());
		if (cbo.inflight < cbo.cfg->callback_concurrency && wait < timeout)
			timeout = wait < 0 ? 0 : wait;
		if (cbo.more && cbo.inflight < cbo.cfg->callback_concurrency)
			timeout = 0;
		/* cb_outbox_kick's curl_multi_wakeup ends this wait early */
		if (curl_multi_poll(cbo.multi, NULL, 0, (int)timeout, NULL) != CURLM_OK)
			log_error("callbacks", "event=multi_poll_failed");
	}
	cb_outbox_abandon();
	return NULL;
}

int cb_outbox_start(const struct lb_config *cfg, char *err, size_t errlen)
{
	int rc;

	cbo.cfg = cfg;
	rc = cb_target_setup(cfg, err, errlen);
	if (rc < 0)
		return rc;
	cbo.multi = curl_multi_init();
	if (!cbo.multi) {
		snprintf(err, errlen, "cannot create the callbacks' libcurl multi handle");
		return -ENOMEM;
	}
	rc = db_open_lazy(&cbo.db, cfg->db_url, err, errlen);
	if (rc < 0)
		goto fail;
	cbo.stop = cbo.kicked = 0;
	rc = pthread_create(&cbo.thread, NULL, cb_outbox_main, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot start the callbacks thread: %s", strerror(rc));
		db_close(&cbo.db);
		rc = -rc;
		goto fail;
	}
	cbo.running = 1;
	return 0;
fail:
	curl_multi_cleanup(cbo.multi);
	cbo.multi = NULL;
	return rc;
}

void cb_outbox_stop(void)
{
	pthread_mutex_lock(&cbo.mu);
	if (!cbo.running) {
		pthread_mutex_unlock(&cbo.mu);
		return;
	}
	cbo.stop = 1;
	cbo.running = 0; /* no kick touches the multi handle from here on */
	curl_multi_wakeup(cbo.multi);
	pthread_mutex_unlock(&cbo.mu);
	pthread_join(cbo.thread, NULL);
	curl_multi_cleanup(cbo.multi);
	cbo.multi = NULL;
	db_close(&cbo.db);
}

void cb_outbox_kick(void)
{
	pthread_mutex_lock(&cbo.mu);
	if (cbo.running) {
		cbo.kicked = 1;
		curl_multi_wakeup(cbo.multi);
	}
	pthread_mutex_unlock(&cbo.mu);
}

void cb_outbox_counters(struct cb_outbox_counters *out)
{
	out->delivered = __atomic_load_n(&cbo.n.delivered, __ATOMIC_RELAXED);
	out->retried = __atomic_load_n(&cbo.n.retried, __ATOMIC_RELAXED);
	out->failed = __atomic_load_n(&cbo.n.failed, __ATOMIC_RELAXED);
	out->refused = __atomic_load_n(&cbo.n.refused, __ATOMIC_RELAXED);
}

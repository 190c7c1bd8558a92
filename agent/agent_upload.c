/* agent_upload.c: see agent_upload.h. The spool directory is the queue: what is on disk is
 * what is owed, so a restart loses nothing and memory stays bounded. */
#include "agent_upload.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "log.h"

#define AGENT_UPLOAD_PATH "/api/v1/recordings/import"
#define AGENT_UPLOAD_CONNECT_MS 10000L
/* A server that accepts no byte and sends none for this long is given up on. Generous: it
 * answers only once a large import is extracted and committed. */
#define AGENT_UPLOAD_STALL_S 120L
#define AGENT_UPLOAD_BACKOFF_MIN_MS 1000L
#define AGENT_UPLOAD_BACKOFF_MAX_MS 300000L
/* Trees spooled ahead of the uploads: each tar is a full copy of a recording on disk, so
 * while b3scaled is away the spool does not grow past this. */
#define AGENT_UPLOAD_AHEAD 4
#define AGENT_UPLOAD_BUSY_MS 1000L            /* a tar a manual re-send holds */
#define AGENT_UPLOAD_LOG_EVERY_MS 60000L      /* repeated warnings */
#define AGENT_UPLOAD_WARN_NAMES_MS 3600000L   /* invalid names in the published dir */

/* 1 when a repeated message may be logged: the first of a series (fresh), then once per
 * `every`. */
static int agent_upload_due(long long *at, long long now, long every, int fresh)
{
	if (!fresh && now < *at)
		return 0;
	*at = now + every;
	return 1;
}

/* xorshift32: jitter only, nothing that needs to be unpredictable */
static unsigned agent_upload_random(struct agent_upload *u)
{
	unsigned x = u->seed ? u->seed : 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	u->seed = x;
	return x;
}

static int agent_upload_temporary(int rc)
{
	return rc == -EAGAIN || rc == -EACCES || rc == -EIO || rc == -ENOMEM;
}

static size_t agent_upload_read(char *p, size_t size, size_t n, void *ud)
{
	int *fd = ud;
	ssize_t r;

	do
		r = read(*fd, p, size * n);
	while (r < 0 && errno == EINTR);
	return r < 0 ? CURL_READFUNC_ABORT : (size_t)r;
}

/* libcurl rewinds when it resends on a new connection (a kept-alive one had closed). */
static int agent_upload_seek(void *ud, curl_off_t off, int origin)
{
	int *fd = ud;

	return lseek(*fd, (off_t)off, origin) < 0 ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

/* Called at least once a second during a transfer: a stop aborts it at once. */
static int agent_upload_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
				 curl_off_t un)
{
	struct agent_upload *u = ud;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(&u->stop) ? 1 : 0;
}

/* "HTTP <status>: <the answer's "error" string>", else the start of the answer. */
static void agent_upload_message(const struct buf *answer, long status, char *msg, size_t cap)
{
	const char *s = buf_str(answer), *p = strstr(s, "\"error\"");
	char text[240];
	size_t n = 0;
	int quoted = 0;

	if (p) {
		p += 7;
		while (*p == ' ' || *p == ':')
			p++;
		quoted = *p == '"';
		s = quoted ? p + 1 : s;
	}
	for (; *s && n + 1 < sizeof(text) && !(quoted && *s == '"'); s++) {
		if (quoted && *s == '\\' && s[1])
			s++;
		text[n++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	}
	text[n] = '\0';
	snprintf(msg, cap, "HTTP %ld%s%s", status, n ? ": " : "", text);
}

/* One POST of the spooled tar f, streamed from its file. 0 for a 2xx answer; else an
 * agent_report outcome (-EAGAIN, -EACCES temporary; -ENOENT, -EINVAL refused), -EIO when
 * the spool file could not be read, -ECANCELED when stopped. */
static int agent_upload_post(struct agent_upload *u, const struct agent_spool_file *f,
			     long *status, char *msg, size_t msglen)
{
	struct curl_slist *h = NULL, *t;
	static const char *const headers[] = { "Accept: application/json",
					       "Content-Type: application/x-tar", "Expect:" };
	char url[sizeof(u->cfg->api_url) + sizeof(AGENT_UPLOAD_PATH)];
	int fd = f->fd, rc = -ENOMEM;
	struct buf answer;
	CURL *c = u->rep.api;
	CURLcode cc;
	size_t i;

	*status = 0;
	snprintf(msg, msglen, "out of memory");
	buf_init(&answer);
	snprintf(url, sizeof(url), "%s%s", u->cfg->api_url, AGENT_UPLOAD_PATH);
	if (lseek(fd, 0, SEEK_SET) < 0) {
		rc = -EIO;
		snprintf(msg, msglen, "spool file: %s", strerror(errno));
		goto out;
	}
	if (!(h = curl_slist_append(NULL, u->rep.auth)))
		goto out;
	for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++, h = t)
		if (!(t = curl_slist_append(h, headers[i])))
			goto out;
	curl_easy_reset(c); /* keeps the connection cache */
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, AGENT_UPLOAD_CONNECT_MS) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, AGENT_UPLOAD_STALL_S) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "b3scaleagent/" AGENT_VERSION) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->size) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_READFUNCTION, agent_upload_read) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_READDATA, &fd) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, agent_upload_seek) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SEEKDATA, &fd) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, agent_report_write) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, agent_upload_progress) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_XFERINFODATA, u) != CURLE_OK) {
		rc = -EAGAIN; /* not the tar's fault: keep it */
		snprintf(msg, msglen, "curl option refused");
		goto out;
	}
	cc = curl_easy_perform(c);
	if (cc == CURLE_ABORTED_BY_CALLBACK && atomic_load(&u->stop)) {
		rc = -ECANCELED;
		snprintf(msg, msglen, "stopped");
	} else if (cc == CURLE_ABORTED_BY_CALLBACK) { /* the read callback gave up */
		rc = -EIO;
		snprintf(msg, msglen, "reading the spool file failed");
	} else if (cc != CURLE_OK) {
		rc = -EAGAIN;
		snprintf(msg, msglen, "%s", curl_easy_strerror(cc));
	} else if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status) != CURLE_OK) {
		rc = -EAGAIN;
		snprintf(msg, msglen, "no HTTP status");
	} else {
		rc = agent_report_classify(*status);
		agent_upload_message(&answer, *status, msg, msglen);
	}
out:
	curl_slist_free_all(h);
	buf_free(&answer);
	return rc;
}

/* Books a final outcome (2xx or refused) of f. */
static void agent_upload_settle(struct agent_upload *u, const struct agent_spool_file *f,
				int rc, const char *msg, long long ms)
{
	int r;

	if (rc < 0) {
		u->refused++;
		r = agent_spool_fail(&u->spool, f);
		log_error("agent", "event=recording_upload_refused format=%s record_id=%s "
				   "error=\"%s\" moved_to=%s/failed/%s.tar%s hint=\"%s\"",
			  f->format, f->record, msg, u->spool.dir, f->id, r < 0 ? " move_failed" : "",
			  "retrying will not help; fix the cause, then b3scaleagent "
			  "--upload-recording <record_id>");
		return;
	}
	u->uploaded++;
	r = agent_spool_done(&u->spool, f);
	if (r < 0) /* the tree may be sent again later: harmless, the import is idempotent */
		log_warn("agent", "event=spool_done_failed format=%s record_id=%s error=\"%s\"",
			 f->format, f->record, strerror(-r));
	log_info("agent", "event=recording_uploaded format=%s record_id=%s bytes=%lld ms=%lld",
		 f->format, f->record, f->size, ms);
	if (!u->cfg->delete_after_upload)
		return;
	r = agent_spool_remove_tree(&u->spool, f->format, f->record);
	if (r < 0 && r != -ENOENT)
		log_warn("agent", "event=recording_delete_failed path=%s/%s/%s error=\"%s\"",
			 u->spool.published, f->format, f->record, strerror(-r));
	else
		log_info("agent", "event=recording_deleted path=%s/%s/%s", u->spool.published,
			 f->format, f->record);
}

/* Uploads f once and books the outcome; a temporary failure backs off. Returns rc. */
static int agent_upload_attempt(struct agent_upload *u, const struct agent_spool_file *f,
				char *msg, size_t msglen)
{
	long long t0 = clock_mono_ms(), now;
	long status, wait;
	int rc;

	rc = agent_upload_post(u, f, &status, msg, msglen);
	now = clock_mono_ms();
	if (rc == -ECANCELED)
		return rc;
	if (!agent_upload_temporary(rc)) {
		agent_upload_settle(u, f, rc, msg, now - t0);
		u->backoff_ms = 0;
		u->failing = 0;
		return rc;
	}
	u->backoff_ms = u->backoff_ms <= 0 ? AGENT_UPLOAD_BACKOFF_MIN_MS
		      : u->backoff_ms * 2 > AGENT_UPLOAD_BACKOFF_MAX_MS ? AGENT_UPLOAD_BACKOFF_MAX_MS
									 : u->backoff_ms * 2;
	/* half to all of the backoff: nodes that lost b3scaled together do not return together */
	wait = u->backoff_ms / 2 + (long)(agent_upload_random(u) % (unsigned)(u->backoff_ms / 2 + 1));
	u->retry_at = now + wait;
	if (agent_upload_due(&u->log_fail_at, now, AGENT_UPLOAD_LOG_EVERY_MS, !u->failing))
		log_warn("agent", "event=recording_upload_failed format=%s record_id=%s "
				  "error=\"%s\" retry_ms=%ld", f->format, f->record, msg, wait);
	u->failing = 1;
	return rc;
}

/* The next waiting tar, round the spool from the last one tried. 0 when one was tried (or
 * vanished: look again at once), negative when there is nothing to do now. */
static int agent_upload_next(struct agent_upload *u)
{
	struct agent_spool_file f;
	char id[AGENT_SPOOL_ID_MAX], msg[512];
	int rc;

	rc = agent_spool_next(&u->spool, u->last, id);
	if (rc < 0)
		return rc;
	snprintf(u->last, sizeof(u->last), "%s", id);
	rc = agent_spool_open(&u->spool, id, &f);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) { /* -EBUSY: a manual re-send has it; anything else: try later */
		if (rc != -EBUSY)
			log_warn("agent", "event=spool_open_failed file=%s/%s.tar error=\"%s\"",
				 u->spool.dir, id, strerror(-rc));
		u->retry_at = clock_mono_ms() + AGENT_UPLOAD_BUSY_MS;
		return rc;
	}
	rc = agent_upload_attempt(u, &f, msg, sizeof(msg));
	agent_spool_close(&f);
	return agent_upload_temporary(rc) || rc == -ECANCELED ? rc : 0;
}

/* agent_spool_scan callback: spools a ready tree that is not done, queued or refused. */
static int agent_upload_found(void *ud, const char *format, const char *record)
{
	struct agent_upload *u = ud;
	struct agent_spool_file f;
	char id[AGENT_SPOOL_ID_MAX], err[512];
	int rc;

	if (atomic_load(&u->stop))
		return 1;
	if (agent_spool_id(id, format, record) < 0 ||
	    agent_spool_state(&u->spool, id) != AGENT_SPOOL_NEW ||
	    !agent_spool_ready(&u->spool, format, record))
		return 0;
	if (u->queued >= AGENT_UPLOAD_AHEAD)
		return 1; /* the next scan after some went */
	rc = agent_spool_write(&u->spool, format, record, &f, err, sizeof(err));
	if (rc == 0) {
		u->queued++;
		log_info("agent", "event=recording_spooled format=%s record_id=%s bytes=%lld", format,
			 record, f.size);
		agent_spool_close(&f);
	} else if (rc != -EBUSY && rc != -ECANCELED &&
		   agent_upload_due(&u->log_spool_at, clock_mono_ms(), AGENT_UPLOAD_LOG_EVERY_MS, 0)) {
		log_warn("agent", "event=recording_spool_failed format=%s record_id=%s error=\"%s\"",
			 format, record, err);
	}
	return rc == -ECANCELED;
}

static void agent_upload_scan(struct agent_upload *u)
{
	long long now = clock_mono_ms();
	int warn = agent_upload_due(&u->warn_names_at, now, AGENT_UPLOAD_WARN_NAMES_MS, 0);
	int rc;

	u->queued = agent_spool_count(&u->spool);
	if (u->queued < 0) {
		rc = u->queued;
		u->queued = AGENT_UPLOAD_AHEAD; /* nothing new while the spool cannot be read */
	} else {
		rc = agent_spool_scan(&u->spool, NULL, warn, agent_upload_found, u);
	}
	if (rc < 0 && agent_upload_due(&u->log_scan_at, now, AGENT_UPLOAD_LOG_EVERY_MS, 0))
		log_warn("agent", "event=recordings_scan_failed published=%s spool=%s error=\"%s\"",
			 u->spool.published, u->spool.dir, strerror(-rc));
}

/* Sleeps up to ms, or until agent_upload_stop. */
static void agent_upload_sleep(struct agent_upload *u, long long ms)
{
	struct timespec until;

	clock_after(&until, CLOCK_MONOTONIC, (long)ms);
	pthread_mutex_lock(&u->mu);
	while (!atomic_load(&u->stop) &&
	       pthread_cond_timedwait(&u->wake, &u->mu, &until) == 0)
		;
	pthread_mutex_unlock(&u->mu);
}

static void *agent_upload_main(void *arg)
{
	struct agent_upload *u = arg;
	long long next_scan = 0;

	while (!atomic_load(&u->stop)) {
		long long now = clock_mono_ms(), wake;

		if (now >= next_scan) {
			agent_upload_scan(u);
			next_scan = clock_mono_ms() + u->cfg->recordings_scan_ms;
			continue;
		}
		if (now >= u->retry_at && agent_upload_next(u) == 0)
			continue;
		now = clock_mono_ms();
		wake = u->retry_at > now && u->retry_at < next_scan ? u->retry_at : next_scan;
		if (wake > now)
			agent_upload_sleep(u, wake - now);
	}
	return NULL;
}

/* Shared by the thread and the manual re-send: the spool and a connection to b3scaled. */
static int agent_upload_init(struct agent_upload *u, const struct agent_config *cfg, char *err,
			     size_t errlen)
{
	int rc;

	memset(u, 0, sizeof(*u));
	u->cfg = cfg;
	atomic_init(&u->stop, 0);
	u->spool.published = cfg->recordings_dir;
	u->spool.dir = cfg->spool_dir;
	u->spool.stop = &u->stop;
	u->seed = (unsigned)clock_wall_ms() ^ (unsigned)getpid();
	rc = agent_spool_prepare(&u->spool, err, errlen);
	if (rc < 0)
		return rc;
	return agent_report_init(&u->rep, cfg, err, errlen);
}

int agent_upload_start(struct agent_upload *u, const struct agent_config *cfg, char *err,
		       size_t errlen)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	rc = agent_upload_init(u, cfg, err, errlen);
	if (rc < 0)
		return rc;
	rc = agent_spool_clean(&u->spool);
	if (rc < 0)
		log_warn("agent", "event=spool_clean_failed dir=%s error=\"%s\"", cfg->spool_dir,
			 strerror(-rc));
	if ((rc = pthread_condattr_init(&ca)) != 0) {
		snprintf(err, errlen, "pthread_condattr_init: %s", strerror(rc));
		agent_report_free(&u->rep);
		return -rc;
	}
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0 && (rc = pthread_cond_init(&u->wake, &ca)) == 0 &&
	    (rc = pthread_mutex_init(&u->mu, NULL)) != 0)
		pthread_cond_destroy(&u->wake);
	pthread_condattr_destroy(&ca);
	if (rc == 0) {
		/* signals stay with the main thread, whose poll() they must interrupt */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		rc = pthread_create(&u->thread, NULL, agent_upload_main, u);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != 0) {
			pthread_mutex_destroy(&u->mu);
			pthread_cond_destroy(&u->wake);
		}
	}
	if (rc != 0) {
		snprintf(err, errlen, "upload thread: %s", strerror(rc));
		agent_report_free(&u->rep);
		return -rc;
	}
	u->running = 1;
	log_info("agent", "event=uploads_started recordings_dir=%s spool_dir=%s scan_ms=%ld "
			  "delete_after_upload=%d", cfg->recordings_dir, cfg->spool_dir,
		 cfg->recordings_scan_ms, cfg->delete_after_upload);
	return 0;
}

void agent_upload_stop(struct agent_upload *u)
{
	if (!u->running)
		return;
	pthread_mutex_lock(&u->mu);
	atomic_store(&u->stop, 1);
	pthread_cond_signal(&u->wake);
	pthread_mutex_unlock(&u->mu);
	pthread_join(u->thread, NULL);
	pthread_mutex_destroy(&u->mu);
	pthread_cond_destroy(&u->wake);
	agent_report_free(&u->rep);
	u->running = 0;
	log_info("agent", "event=uploads_stopped uploaded=%llu refused=%llu waiting=%d", u->uploaded,
		 u->refused, agent_spool_count(&u->spool));
}

struct agent_upload_manual {
	struct agent_upload *u;
	FILE *out;
	int found, failed;
};

/* One format of a manual re-send: spool, one attempt, one line. */
static int agent_upload_manual_one(void *ud, const char *format, const char *record)
{
	struct agent_upload_manual *m = ud;
	struct agent_upload *u = m->u;
	struct agent_spool_file f;
	char msg[512];
	int rc;

	m->found++;
	if (!agent_spool_ready(&u->spool, format, record)) {
		fprintf(m->out, "%s/%s: not ready (no metadata.xml yet)\n", format, record);
		m->failed++;
		return 0;
	}
	rc = agent_spool_write(&u->spool, format, record, &f, msg, sizeof(msg));
	if (rc < 0) {
		fprintf(m->out, "%s/%s: not spooled: %s\n", format, record,
			rc == -EBUSY ? "the running agent is spooling it right now" : msg);
		m->failed++;
		return 0;
	}
	rc = agent_upload_attempt(u, &f, msg, sizeof(msg));
	if (rc == 0)
		fprintf(m->out, "%s/%s: uploaded (%lld bytes)\n", format, record, f.size);
	else if (agent_upload_temporary(rc))
		fprintf(m->out, "%s/%s: failed (%s); kept in %s for the running agent to retry\n",
			format, record, msg, u->spool.dir);
	else
		fprintf(m->out, "%s/%s: refused (%s); moved to %s/failed/\n", format, record, msg,
			u->spool.dir);
	if (rc < 0)
		m->failed++;
	agent_spool_close(&f);
	return 0;
}

int agent_upload_manual(const struct agent_config *cfg, const char *record, FILE *out)
{
	struct agent_upload_manual m = { NULL, out, 0, 0 };
	struct agent_upload u;
	char err[512];
	int rc;

	if (!cfg->recordings_dir[0]) {
		fprintf(stderr, "b3scaleagent: recording uploads are off "
				"(B3SCALE_AGENT_RECORDINGS_DIR is empty)\n");
		return 2;
	}
	if (!agent_spool_name_ok(record, 0)) {
		fprintf(stderr, "b3scaleagent: invalid recordID '%s' ([A-Za-z0-9._-], at most %d)\n",
			record, AGENT_SPOOL_NAME_MAX);
		return 2;
	}
	if (agent_upload_init(&u, cfg, err, sizeof(err)) < 0) {
		fprintf(out, "%s: %s\n", record, err);
		return 1;
	}
	m.u = &u;
	rc = agent_spool_scan(&u.spool, record, 1, agent_upload_manual_one, &m);
	if (rc < 0)
		fprintf(out, "%s: cannot read %s: %s\n", record, cfg->recordings_dir, strerror(-rc));
	else if (m.found == 0)
		fprintf(out, "%s: no published recording under %s\n", record, cfg->recordings_dir);
	agent_report_free(&u.rep);
	return rc < 0 || m.found == 0 || m.failed > 0 ? 1 : 0;
}

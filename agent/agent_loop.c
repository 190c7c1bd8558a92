/* agent_loop.c: scheduling. One thread: poll Redis for at most 100 ms, then run whatever is
 * due (heartbeat, events flush, state resync). Every failure is retried with backoff; the
 * event queue is bounded and an overflow turns into a full-state resync. */
#include "agent_loop.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define AGENT_LOOP_TICK_MS 100L          /* longest wait: keeps heartbeats/flushes on time */
#define AGENT_LOOP_BACKOFF_MIN_MS 100L
#define AGENT_LOOP_BACKOFF_MAX_MS 5000L
#define AGENT_LOOP_NODE_RETRY_MS 5000L   /* getMeetings failed: try again after this */
#define AGENT_LOOP_REDIS_TIMEOUT_MS 2000L
#define AGENT_LOOP_LOG_EVERY_MS 60000L   /* repeated warnings: once a minute */
#define AGENT_LOOP_FINAL_BATCHES 20      /* on SIGTERM: flush at most this many batches */

static int64_t agent_loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when a repeated warning may be logged again: always for the first of a series (fresh),
 * then once a minute. */
static int agent_loop_throttle(int64_t *last, int64_t now, int fresh)
{
	if (!fresh && *last && now - *last < AGENT_LOOP_LOG_EVERY_MS)
		return 0;
	*last = now ? now : 1;
	return 1;
}

static long agent_loop_next_backoff(long cur)
{
	if (cur <= 0)
		return AGENT_LOOP_BACKOFF_MIN_MS;
	return cur * 2 > AGENT_LOOP_BACKOFF_MAX_MS ? AGENT_LOOP_BACKOFF_MAX_MS : cur * 2;
}

/* b3scaled was not reached or not usable (as opposed to: it refused this one report). */
static int agent_loop_away(int rc)
{
	return rc == -EAGAIN || rc == -EACCES || rc == -ENOMEM;
}

static void agent_loop_want_resync(struct agent_loop *l, const char *why)
{
	if (!l->resync)
		log_debug("agent", "event=resync_needed reason=%s", why);
	l->resync = 1;
	l->resync_why = why;
}

int agent_loop_init(struct agent_loop *l, const struct agent_config *cfg,
		    enum agent_loop_register mode, char *err, size_t errlen)
{
	int rc;

	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->register_mode = mode;
	buf_init(&l->batch);
	buf_init(&l->state);
	agent_redis_init(&l->redis, cfg->redis_host, cfg->redis_port, cfg->redis_password);
	rc = agent_events_init(&l->events, (size_t)cfg->max_events);
	if (rc < 0) {
		snprintf(err, errlen, "event queue: out of memory");
		return rc;
	}
	rc = agent_report_init(&l->report, cfg, err, errlen);
	if (rc < 0) {
		agent_events_free(&l->events);
		return rc;
	}
	agent_load_init(&l->load, NULL);
	agent_loop_want_resync(l, "start");
	return 0;
}

void agent_loop_free(struct agent_loop *l)
{
	agent_redis_close(&l->redis);
	agent_report_free(&l->report);
	agent_events_free(&l->events);
	buf_free(&l->batch);
	buf_free(&l->state);
}

/* Books a b3scaled answer: success resets the backoff; "away" (-EAGAIN, -EACCES) backs off
 * and owes a resync; a refusal is logged. Returns rc. */
static int agent_loop_outcome(struct agent_loop *l, const char *call, int rc, const char *err)
{
	int64_t now = agent_loop_now();

	if (rc == 0) {
		if (l->report_failing)
			log_info("agent", "event=report_recovered call=%s", call);
		l->report_failing = 0;
		l->report_backoff_ms = 0;
		return 0;
	}
	if (agent_loop_away(rc)) {
		l->report_backoff_ms = agent_loop_next_backoff(l->report_backoff_ms);
		l->report_retry_at = now + l->report_backoff_ms;
		agent_loop_want_resync(l, "report_failed");
		if (rc == -EACCES && agent_loop_throttle(&l->log_auth_at, now, 0))
			log_error("agent", "event=report_unauthorized call=%s error=\"%s\" "
					   "hint=\"check B3SCALE_API_ACCESS_TOKEN (a b3scale:node "
					   "token from b3scalectl auth authorize_node_agent)\"",
				  call, err);
		else if (rc != -EACCES && agent_loop_throttle(&l->log_fail_at, now,
							      !l->report_failing))
			log_warn("agent", "event=report_failed call=%s error=\"%s\" retry_ms=%ld "
					  "queued=%zu", call, err, l->report_backoff_ms,
				 l->events.count);
		l->report_failing = 1;
		return rc;
	}
	if (agent_loop_throttle(&l->log_reject_at, now, 0))
		log_error("agent", "event=report_refused call=%s error=\"%s\" hint=\"%s\"", call, err,
			  rc == -ENOENT ? "no backend for this agent: register it "
					  "(b3scalectl, or run with --register)"
					: "");
	return rc;
}

static int agent_loop_flush(struct agent_loop *l)
{
	char err[512];
	size_t lines;
	long status;
	int rc;

	if (agent_events_batch(&l->events, &l->batch, &lines) < 0) {
		agent_events_clear(&l->events);
		agent_loop_want_resync(l, "out_of_memory");
		return -ENOMEM;
	}
	rc = agent_report_events(&l->report, buf_str(&l->batch), l->batch.len, &status, err,
				 sizeof(err));
	rc = agent_loop_outcome(l, "events", rc, err);
	if (rc == 0) {
		l->sent_events += lines;
		l->sent_posts++;
		log_debug("agent", "event=events_sent lines=%zu bytes=%zu queued=%zu", lines,
			  l->batch.len, l->events.count - lines);
	}
	if (rc == 0 || rc == -ENOENT || rc == -EINVAL) {
		/* refused batches are not retried (they never would pass); the state replaces them */
		agent_events_drop(&l->events, lines);
		if (rc < 0)
			agent_loop_want_resync(l, "events_refused");
	}
	return rc;
}

static int agent_loop_heartbeat(struct agent_loop *l)
{
	char body[96], err[512];
	double cpu = -1.0, mem = -1.0;
	long status;
	int rc;

	snprintf(body, sizeof(body), "{}");
	if (l->cfg->report_load) {
		rc = agent_load_sample(&l->load, &cpu, &mem);
		if (rc < 0 && agent_loop_throttle(&l->log_load_at, agent_loop_now(), 0))
			log_warn("agent", "event=load_unavailable error=\"%s\"", strerror(-rc));
		if (cpu >= 0.0 && mem >= 0.0)
			snprintf(body, sizeof(body), "{\"cpu\":%.3f,\"mem\":%.3f}", cpu, mem);
		else if (mem >= 0.0)
			snprintf(body, sizeof(body), "{\"mem\":%.3f}", mem);
	}
	rc = agent_report_heartbeat(&l->report, body, &status, err, sizeof(err));
	return agent_loop_outcome(l, "heartbeat", rc, err);
}

/* getMeetings from the node, POSTed verbatim. Queued events go first: they are older than
 * the snapshot, so b3scaled always ends on the newest picture. */
static int agent_loop_state(struct agent_loop *l)
{
	const char *why = l->resync ? l->resync_why : "periodic";
	char err[512];
	long status;
	int rc;

	while (l->events.count > 0) {
		rc = agent_loop_flush(l);
		if (agent_loop_away(rc))
			return rc;
	}
	rc = agent_report_fetch_state(&l->report, &l->state, err, sizeof(err));
	if (rc < 0) {
		if (agent_loop_throttle(&l->log_node_at, agent_loop_now(), 0))
			log_warn("agent", "event=node_state_failed api=%s error=\"%s\" retry_ms=%ld",
				 l->cfg->bbb_api, err, AGENT_LOOP_NODE_RETRY_MS);
		l->state_retry_at = agent_loop_now() + AGENT_LOOP_NODE_RETRY_MS;
		l->resync = 1;
		if (!l->resync_why)
			l->resync_why = why;
		return rc;
	}
	rc = agent_report_state(&l->report, buf_str(&l->state), l->state.len, &status, err,
				sizeof(err));
	rc = agent_loop_outcome(l, "state", rc, err);
	if (rc == 0) {
		log_info("agent", "event=state_sent reason=%s bytes=%zu", why, l->state.len);
		l->state_sent = 1;
	}
	if (rc == 0 || rc == -ENOENT || rc == -EINVAL) {
		/* refused states wait for the next period rather than looping */
		l->resync = 0;
		l->resync_why = NULL;
		l->next_resync = agent_loop_now() + l->cfg->resync_s * 1000;
	}
	return rc;
}

/* GET /agent/backend; with --register, POST /backends when it is missing. */
static int agent_loop_backend(struct agent_loop *l)
{
	const int ready = l->register_mode == AGENT_LOOP_REGISTER_READY;
	char err[512];
	long status;
	int rc;

	rc = agent_report_backend(&l->report, &status, err, sizeof(err));
	if (rc == 0) {
		log_info("agent", "event=backend_found api=%s", l->cfg->bbb_api);
		l->backend_checked = 1;
		return agent_loop_outcome(l, "backend", rc, err);
	}
	if (rc != -ENOENT)
		return agent_loop_outcome(l, "backend", rc, err);
	if (l->register_mode == AGENT_LOOP_REGISTER_NO) {
		log_warn("agent", "event=backend_missing hint=\"register this node in b3scale or "
				  "run b3scaleagent --register\"");
		l->backend_checked = 1;
		return 0;
	}
	rc = agent_report_register(&l->report, ready, &status, err, sizeof(err));
	rc = agent_loop_outcome(l, "register", rc, err);
	if (rc == 0) {
		/* b3scaled registers an agent's backend in init whatever it asks: an admin
		 * enables it (b3scalectl enable backend) */
		log_info("agent", "event=backend_registered api=%s admin_state=init load_factor=%g",
			 l->cfg->bbb_api, l->cfg->load_factor);
		l->backend_checked = 1;
	}
	return rc;
}

static void agent_loop_on_message(void *ud, const char *channel, const char *payload, size_t len)
{
	struct agent_loop *l = ud;
	const char *name = agent_events_relevant(payload, len);
	int rc;

	if (!name) {
		l->ignored++;
		return;
	}
	if (len > AGENT_EVENTS_MAX_PAYLOAD) {
		l->oversized++;
		log_warn("agent", "event=event_dropped name=%s bytes=%zu reason=too_large", name, len);
		agent_loop_want_resync(l, "oversized_event");
		return;
	}
	rc = agent_events_push(&l->events, payload, len, agent_loop_now());
	if (rc < 0) {
		if (agent_loop_throttle(&l->log_drop_at, agent_loop_now(), 0))
			log_warn("agent", "event=events_overflow dropped_total=%llu max_events=%ld "
					  "action=resync", (unsigned long long)l->events.dropped,
				 l->cfg->max_events);
		agent_loop_want_resync(l, "overflow");
		return;
	}
	l->relevant++;
	log_debug("agent", "event=event_queued name=%s channel=%s queued=%zu", name, channel,
		  l->events.count);
}

static void agent_loop_redis(struct agent_loop *l, int64_t now)
{
	char err[512];
	int rc;

	if (l->redis.c || now < l->redis_retry_at)
		return;
	rc = agent_redis_connect(&l->redis, AGENT_LOOP_REDIS_TIMEOUT_MS, err, sizeof(err));
	if (rc < 0) {
		l->redis_backoff_ms = agent_loop_next_backoff(l->redis_backoff_ms);
		l->redis_retry_at = agent_loop_now() + l->redis_backoff_ms;
		if (agent_loop_throttle(&l->log_redis_at, now, !l->redis_failing))
			log_warn("agent", "event=redis_failed error=\"%s\" retry_ms=%ld", err,
				 l->redis_backoff_ms);
		l->redis_failing = 1;
		return;
	}
	log_info("agent", "event=redis_subscribed redis=%s:%d pattern=%s", l->cfg->redis_host,
		 l->cfg->redis_port, AGENT_REDIS_PATTERN);
	l->redis_failing = 0;
	l->redis_backoff_ms = 0;
	/* events were missed while unsubscribed: b3scaled needs the whole picture again */
	agent_loop_want_resync(l, "subscribed");
}

static int agent_loop_events_due(const struct agent_loop *l, int64_t now)
{
	return l->events.count >= AGENT_EVENTS_BATCH_LINES ||
	       (l->events.count > 0 && now - l->events.first_at >= l->cfg->flush_ms);
}

/* When the next state is due: at once when a resync is owed, else after RESYNC_S; never
 * before state_retry_at (the node did not answer getMeetings). */
static int64_t agent_loop_state_at(const struct agent_loop *l)
{
	int64_t at = l->resync ? 0 : l->next_resync;

	return at < l->state_retry_at ? l->state_retry_at : at;
}

static int agent_loop_state_due(const struct agent_loop *l, int64_t now)
{
	return now >= agent_loop_state_at(l);
}

/* Everything b3scaled is owed right now; stops at the first call that found it away. */
static void agent_loop_report(struct agent_loop *l, int64_t now)
{
	if (now < l->report_retry_at)
		return;
	if (!l->backend_checked) {
		int rc = agent_loop_backend(l);
		/* refused (not away, which backs off by itself): ask again later, not at once */
		if (!l->backend_checked && !agent_loop_away(rc))
			l->report_retry_at = agent_loop_now() + AGENT_LOOP_BACKOFF_MAX_MS;
		if (!l->backend_checked)
			return;
	}
	/* the first picture goes before the first heartbeat: b3scaled then knows the node's
	 * meetings before it counts it as live. Later heartbeats go first, so a slow
	 * getMeetings never delays them. */
	if (!l->state_sent && agent_loop_state_due(l, now) && agent_loop_away(agent_loop_state(l)))
		return;
	if (now >= l->next_heartbeat) {
		l->next_heartbeat = now + l->cfg->heartbeat_ms;
		if (agent_loop_away(agent_loop_heartbeat(l)))
			return;
	}
	if (agent_loop_events_due(l, now) && agent_loop_away(agent_loop_flush(l)))
		return;
	if (agent_loop_state_due(l, now))
		agent_loop_state(l);
}

/* How long Redis may be waited on before something else is due. Report deadlines count
 * from the end of the report backoff, so a backoff never turns into a busy loop. */
static long agent_loop_wait(const struct agent_loop *l, int64_t now)
{
	int64_t due = now + AGENT_LOOP_TICK_MS, rep = INT64_MAX;

	if (!l->backend_checked)
		rep = now;
	else
		rep = l->next_heartbeat;
	if (l->events.count >= AGENT_EVENTS_BATCH_LINES)
		rep = now;
	else if (l->events.count > 0 && l->events.first_at + l->cfg->flush_ms < rep)
		rep = l->events.first_at + l->cfg->flush_ms;
	if (agent_loop_state_at(l) < rep)
		rep = agent_loop_state_at(l);
	if (rep < l->report_retry_at)
		rep = l->report_retry_at;
	if (rep < due)
		due = rep;
	if (!l->redis.c && l->redis_retry_at < due)
		due = l->redis_retry_at;
	return due > now ? (long)(due - now) : 0;
}

int agent_loop_run(struct agent_loop *l, volatile sig_atomic_t *stop)
{
	char err[512];
	int i;

	log_info("agent", "event=start version=%s api=%s b3scale=%s redis=%s:%d heartbeat_ms=%ld "
			  "flush_ms=%ld max_events=%ld resync_s=%ld report_load=%d",
		 AGENT_VERSION, l->cfg->bbb_api, l->cfg->api_url, l->cfg->redis_host,
		 l->cfg->redis_port, l->cfg->heartbeat_ms, l->cfg->flush_ms, l->cfg->max_events,
		 l->cfg->resync_s, l->cfg->report_load);
	/* a spool that cannot be used costs the uploads, never the reports */
	if (l->cfg->recordings_dir[0] && agent_upload_start(&l->upload, l->cfg, err, sizeof(err)) < 0)
		log_error("agent", "event=uploads_unavailable error=\"%s\" hint=\"check "
				   "B3SCALE_AGENT_SPOOL_DIR; the agent runs on without uploads\"", err);
	while (!*stop) {
		int64_t now = agent_loop_now();
		long wait;

		/* subscribe before the first snapshot, so no event falls between the two */
		agent_loop_redis(l, now);
		agent_loop_report(l, agent_loop_now());
		if (*stop)
			break;
		now = agent_loop_now();
		wait = agent_loop_wait(l, now);
		if (l->redis.c) {
			if (agent_redis_read(&l->redis, wait, agent_loop_on_message, l, err,
					     sizeof(err)) < 0) {
				log_warn("agent", "event=redis_lost error=\"%s\"", err);
				l->redis_backoff_ms = AGENT_LOOP_BACKOFF_MIN_MS;
				l->redis_retry_at = agent_loop_now() + l->redis_backoff_ms;
				/* no resync here: the resubscription asks for it once Redis is back */
				l->redis_failing = 1;
			}
		} else if (wait > 0 && poll(NULL, 0, (int)wait) < 0 && errno != EINTR) {
			log_warn("agent", "event=poll_failed error=\"%s\"", strerror(errno));
		}
	}
	agent_upload_stop(&l->upload);
	/* stopping: one last attempt to deliver what is queued (b3scaled resyncs on return) */
	for (i = 0; i < AGENT_LOOP_FINAL_BATCHES && l->events.count > 0; i++)
		if (agent_loop_flush(l) < 0)
			break;
	log_info("agent", "event=stop events_sent=%llu posts=%llu relevant=%llu ignored=%llu "
			  "oversized=%llu dropped=%llu unsent=%zu",
		 (unsigned long long)l->sent_events, (unsigned long long)l->sent_posts,
		 (unsigned long long)l->relevant, (unsigned long long)l->ignored,
		 (unsigned long long)l->oversized, (unsigned long long)l->events.dropped,
		 l->events.count);
	return 0;
}

int agent_loop_once(struct agent_loop *l, char *err, size_t errlen)
{
	long status;
	int rc;

	if (l->register_mode != AGENT_LOOP_REGISTER_NO) {
		rc = agent_loop_backend(l);
		if (rc < 0 || !l->backend_checked) {
			snprintf(err, errlen, "registration failed (see the log above)");
			return rc < 0 ? rc : -EIO;
		}
	}
	rc = agent_report_fetch_state(&l->report, &l->state, err, errlen);
	if (rc < 0)
		return rc;
	rc = agent_report_state(&l->report, buf_str(&l->state), l->state.len, &status, err, errlen);
	if (rc == 0)
		log_info("agent", "event=state_sent reason=once bytes=%zu", l->state.len);
	return rc;
}

/* stats.c: counters and a latency histogram kept in memory, so a scrape costs nothing. */
#include "stats.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define STATS_MAX_BACKENDS 1024

static const char *const stats_calls[] = { "index", "create", "join", "end",
					   "isMeetingRunning", "getMeetingInfo",
					   "getMeetings", "insertDocument", "sendChatMessage", "other" };
#define STATS_CALLS (sizeof(stats_calls) / sizeof(stats_calls[0]))
static const char *const stats_outcomes[] = { "success", "redirect", "checksum_error",
					      "not_found", "client_error", "server_error",
					      "unsupported", "limit_reached" };
#define STATS_OUTCOMES (sizeof(stats_outcomes) / sizeof(stats_outcomes[0]))
static const double stats_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define STATS_BUCKETS (sizeof(stats_buckets) / sizeof(stats_buckets[0]))
static const char *const stats_methods[] = { "GET", "POST", "PATCH", "DELETE", "other" };

struct stats_backend {
	char host[256];
	unsigned long calls, call_errors, polls, poll_failures;
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long stats_req[STATS_CALLS][STATS_OUTCOMES];
static unsigned long stats_hist[STATS_CALLS][STATS_BUCKETS + 1];
static double stats_hist_sum[STATS_CALLS];
static unsigned long stats_admin[5][6]; /* method x status class 0..5 (1xx..5xx) */
static struct stats_backend stats_backends[STATS_MAX_BACKENDS];
static size_t stats_nbackends;
static unsigned long stats_db_errors;

static size_t stats_index(const char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (strcmp(list[i], s) == 0)
			return i;
	return n - 1;
}

/* BBB messageKeys into a bounded set: a node may answer with any string. */
static size_t stats_outcome(const char *o)
{
	static const char *const client[] = { "missingParamMeetingID", "missingParamFullName",
					      "validationError", "idNotUnique",
					      "invalidPassword", "unsupportedContentType", NULL };
	size_t i;

	if (strcmp(o, "SUCCESS") == 0)
		return 0;
	if (strcmp(o, "redirect") == 0)
		return 1;
	if (strcmp(o, "checksumError") == 0)
		return 2;
	if (strcmp(o, "notFound") == 0)
		return 3;
	if (strcmp(o, "unsupportedRequest") == 0)
		return 6;
	/* a frontend's meetings_limit or attendees_limit (or a policy's own cap) */
	if (strcmp(o, "maxMeetingsReached") == 0 || strcmp(o, "maxParticipantsReached") == 0)
		return 7;
	for (i = 0; client[i]; i++)
		if (strcmp(o, client[i]) == 0)
			return 4;
	return 5;
}

void stats_bbb_request(const char *call, const char *outcome, double seconds)
{
	size_t c = stats_index(stats_calls, STATS_CALLS, call), b;

	pthread_mutex_lock(&stats_lock);
	stats_req[c][stats_outcome(outcome)]++;
	for (b = 0; b < STATS_BUCKETS && seconds > stats_buckets[b]; b++)
		;
	stats_hist[c][b]++;
	stats_hist_sum[c] += seconds;
	pthread_mutex_unlock(&stats_lock);
}

void stats_admin_request(const char *method, int status)
{
	size_t m = stats_index(stats_methods, 5, method);
	int cls = status / 100;

	if (cls < 1 || cls > 5)
		cls = 5;
	pthread_mutex_lock(&stats_lock);
	stats_admin[m][cls]++;
	pthread_mutex_unlock(&stats_lock);
}

/* Caller holds the lock. Hosts beyond the table are not counted per backend. */
static struct stats_backend *stats_backend(const char *host)
{
	size_t i;

	for (i = 0; i < stats_nbackends; i++)
		if (strcmp(stats_backends[i].host, host) == 0)
			return &stats_backends[i];
	if (stats_nbackends == STATS_MAX_BACKENDS)
		return NULL;
	snprintf(stats_backends[stats_nbackends].host, sizeof(stats_backends[0].host), "%s", host);
	/* label values must not break the exposition format */
	for (char *p = stats_backends[stats_nbackends].host; *p; p++)
		if (*p == '"' || *p == '\\' || *p == '\n')
			*p = '_';
	return &stats_backends[stats_nbackends++];
}

void stats_backend_call(const char *host, int ok)
{
	struct stats_backend *b;

	pthread_mutex_lock(&stats_lock);
	b = stats_backend(host);
	if (b) {
		b->calls++;
		b->call_errors += !ok;
	}
	pthread_mutex_unlock(&stats_lock);
}

void stats_poll(const char *host, int ok)
{
	struct stats_backend *b;

	pthread_mutex_lock(&stats_lock);
	b = stats_backend(host);
	if (b) {
		b->polls++;
		b->poll_failures += !ok;
	}
	pthread_mutex_unlock(&stats_lock);
}

void stats_db_error(void)
{
	pthread_mutex_lock(&stats_lock);
	stats_db_errors++;
	pthread_mutex_unlock(&stats_lock);
}

static void stats_render_backends(struct buf *out, const char *name, const char *help,
				  size_t offset)
{
	size_t i;

	buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (i = 0; i < stats_nbackends; i++)
		buf_printf(out, "%s{backend=\"%s\"} %lu\n", name, stats_backends[i].host,
			   *(const unsigned long *)((const char *)&stats_backends[i] + offset));
}

void stats_render(struct buf *out)
{
	size_t c, o, b;
	unsigned long cum;
	int m, s;

	pthread_mutex_lock(&stats_lock);
	buf_puts(out, "# HELP b3scale_bbb_requests_total BBB API requests from frontends, by call and outcome.\n"
		      "# TYPE b3scale_bbb_requests_total counter\n");
	for (c = 0; c < STATS_CALLS; c++)
		for (o = 0; o < STATS_OUTCOMES; o++)
			buf_printf(out, "b3scale_bbb_requests_total{call=\"%s\",outcome=\"%s\"} %lu\n",
				   stats_calls[c], stats_outcomes[o], stats_req[c][o]);
	buf_puts(out, "# HELP b3scale_bbb_request_duration_seconds Time to answer a BBB API request.\n"
		      "# TYPE b3scale_bbb_request_duration_seconds histogram\n");
	for (c = 0; c < STATS_CALLS; c++) {
		cum = 0;
		for (b = 0; b < STATS_BUCKETS; b++) {
			cum += stats_hist[c][b];
			buf_printf(out, "b3scale_bbb_request_duration_seconds_bucket{call=\"%s\",le=\"%g\"} %lu\n",
				   stats_calls[c], stats_buckets[b], cum);
		}
		cum += stats_hist[c][STATS_BUCKETS];
		buf_printf(out, "b3scale_bbb_request_duration_seconds_bucket{call=\"%s\",le=\"+Inf\"} %lu\n"
				"b3scale_bbb_request_duration_seconds_sum{call=\"%s\"} %.6f\n"
				"b3scale_bbb_request_duration_seconds_count{call=\"%s\"} %lu\n",
			   stats_calls[c], cum, stats_calls[c], stats_hist_sum[c], stats_calls[c], cum);
	}
	buf_puts(out, "# HELP b3scale_admin_requests_total Admin API requests, by method and status class.\n"
		      "# TYPE b3scale_admin_requests_total counter\n");
	for (m = 0; m < 5; m++)
		for (s = 2; s <= 5; s++)
			buf_printf(out, "b3scale_admin_requests_total{method=\"%s\",status=\"%dxx\"} %lu\n",
				   stats_methods[m], s, stats_admin[m][s]);
	stats_render_backends(out, "b3scale_backend_calls_total", "Calls made to a backend.",
			      offsetof(struct stats_backend, calls));
	stats_render_backends(out, "b3scale_backend_call_errors_total",
			      "Calls to a backend that got no usable answer.",
			      offsetof(struct stats_backend, call_errors));
	stats_render_backends(out, "b3scale_polls_total", "Polls of a backend by this instance.",
			      offsetof(struct stats_backend, polls));
	stats_render_backends(out, "b3scale_poll_failures_total", "Failed polls of a backend by this instance.",
			      offsetof(struct stats_backend, poll_failures));
	buf_printf(out, "# HELP b3scale_db_errors_total Database statements that failed.\n"
			"# TYPE b3scale_db_errors_total counter\n"
			"b3scale_db_errors_total %lu\n", stats_db_errors);
	pthread_mutex_unlock(&stats_lock);
}

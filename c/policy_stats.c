/* policy_stats.c: counters and rate-limited error logging for policies. */
#include "policy_stats.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define POLICY_STATS_MAX 64
#define POLICY_STATS_LOG_EVERY 60

struct policy_stat {
	char name[64];
	unsigned long outcomes[POLICY_OUTCOMES];
	unsigned long fallbacks;
	double seconds;
	time_t last_log[POLICY_OUTCOMES];
	unsigned long suppressed[POLICY_OUTCOMES];
};

static pthread_mutex_t policy_stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct policy_stat policy_stats[POLICY_STATS_MAX];
static size_t policy_stats_n;

/* Caller holds the lock. Names beyond the table share the last slot ("other"). */
static struct policy_stat *policy_stats_slot(const char *policy)
{
	size_t i;

	for (i = 0; i < policy_stats_n; i++)
		if (strcmp(policy_stats[i].name, policy) == 0)
			return &policy_stats[i];
	if (policy_stats_n == POLICY_STATS_MAX - 1) {
		snprintf(policy_stats[policy_stats_n].name, 64, "other");
		return &policy_stats[policy_stats_n];
	}
	snprintf(policy_stats[policy_stats_n].name, 64, "%s", policy);
	return &policy_stats[policy_stats_n++];
}

void policy_stats_count(const char *policy, enum policy_outcome o, int fallback, double seconds)
{
	struct policy_stat *s;

	pthread_mutex_lock(&policy_stats_lock);
	s = policy_stats_slot(policy);
	s->outcomes[o]++;
	s->seconds += seconds;
	if (fallback)
		s->fallbacks++;
	pthread_mutex_unlock(&policy_stats_lock);
}

static enum policy_outcome policy_stats_kind(const char *kind)
{
	int i;

	for (i = 0; i < POLICY_OUTCOMES; i++)
		if (strcmp(policy_outcome_name((enum policy_outcome)i), kind) == 0)
			return (enum policy_outcome)i;
	return POLICY_ERR_RUNTIME;
}

void policy_stats_log_error(const char *policy, const char *kind, const char *frontend,
			    const char *message)
{
	enum policy_outcome o = policy_stats_kind(kind);
	struct policy_stat *s;
	unsigned long suppressed = 0;
	time_t now = time(NULL);
	int emit = 0;

	pthread_mutex_lock(&policy_stats_lock);
	s = policy_stats_slot(policy);
	if (now - s->last_log[o] >= POLICY_STATS_LOG_EVERY) {
		emit = 1;
		suppressed = s->suppressed[o];
		s->suppressed[o] = 0;
		s->last_log[o] = now;
	} else {
		s->suppressed[o]++;
	}
	pthread_mutex_unlock(&policy_stats_lock);
	if (emit)
		log_error("policy", "event=policy_error policy=%s kind=%s frontend=%s "
				    "suppressed_since_last=%lu error=\"%.400s\"",
			  policy, kind, frontend, suppressed, message);
}

void policy_stats_render(struct buf *out)
{
	static const char *const errors[] = { "runtime", "budget", "badret", "nomem" };
	static const enum policy_outcome kinds[] = { POLICY_ERR_RUNTIME, POLICY_ERR_BUDGET,
						     POLICY_ERR_BADRET, POLICY_ERR_NOMEM };
	size_t i, k;

	buf_puts(out, "# HELP b3scale_policy_calls_total Placement decisions asked of a policy.\n"
		      "# TYPE b3scale_policy_calls_total counter\n");
	pthread_mutex_lock(&policy_stats_lock);
	for (i = 0; i < policy_stats_n; i++) {
		unsigned long total = 0;
		for (k = 0; k < POLICY_OUTCOMES; k++)
			total += policy_stats[i].outcomes[k];
		buf_printf(out, "b3scale_policy_calls_total{policy=\"%s\"} %lu\n",
			   policy_stats[i].name, total);
	}
	buf_puts(out, "# HELP b3scale_policy_seconds_total Time spent in a policy's select calls (divided by calls_total: the mean decision time).\n"
		      "# TYPE b3scale_policy_seconds_total counter\n");
	for (i = 0; i < policy_stats_n; i++)
		buf_printf(out, "b3scale_policy_seconds_total{policy=\"%s\"} %.9f\n",
			   policy_stats[i].name, policy_stats[i].seconds);
	buf_puts(out, "# HELP b3scale_policy_nones_total Decisions where the policy found no backend.\n"
		      "# TYPE b3scale_policy_nones_total counter\n");
	for (i = 0; i < policy_stats_n; i++)
		buf_printf(out, "b3scale_policy_nones_total{policy=\"%s\"} %lu\n",
			   policy_stats[i].name, policy_stats[i].outcomes[POLICY_NONE]);
	buf_puts(out, "# HELP b3scale_policy_errors_total Policy calls that failed, by kind.\n"
		      "# TYPE b3scale_policy_errors_total counter\n");
	for (i = 0; i < policy_stats_n; i++)
		for (k = 0; k < 4; k++)
			buf_printf(out, "b3scale_policy_errors_total{policy=\"%s\",kind=\"%s\"} %lu\n",
				   policy_stats[i].name, errors[k], policy_stats[i].outcomes[kinds[k]]);
	buf_puts(out, "# HELP b3scale_policy_fallbacks_total Meetings placed by the built-in C fallback.\n"
		      "# TYPE b3scale_policy_fallbacks_total counter\n");
	for (i = 0; i < policy_stats_n; i++)
		buf_printf(out, "b3scale_policy_fallbacks_total{policy=\"%s\"} %lu\n",
			   policy_stats[i].name, policy_stats[i].fallbacks);
	pthread_mutex_unlock(&policy_stats_lock);
}

size_t policy_stats_snapshot(struct policy_stats_view *out, size_t max)
{
	size_t i, n;

	pthread_mutex_lock(&policy_stats_lock);
	n = policy_stats_n < max ? policy_stats_n : max;
	for (i = 0; i < n; i++) {
		memcpy(out[i].name, policy_stats[i].name, sizeof(out[i].name));
		memcpy(out[i].outcomes, policy_stats[i].outcomes, sizeof(out[i].outcomes));
		out[i].fallbacks = policy_stats[i].fallbacks;
	}
	pthread_mutex_unlock(&policy_stats_lock);
	return n;
}

const char *policy_outcome_name(enum policy_outcome o)
{
	switch (o) {
	case POLICY_OK:
		return "ok";
	case POLICY_NONE:
		return "none";
	case POLICY_ERR_RUNTIME:
		return "runtime";
	case POLICY_ERR_BUDGET:
		return "budget";
	case POLICY_ERR_BADRET:
		return "badret";
	case POLICY_ERR_NOMEM:
		return "nomem";
	case POLICY_OUTCOMES:
		break;
	}
	return "unknown";
}

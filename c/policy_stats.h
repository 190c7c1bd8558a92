/* policy_stats.h: per-policy counters shared by all workers, and rate-limited error logs. */
#ifndef B3S_POLICY_STATS_H
#define B3S_POLICY_STATS_H

#include "buf.h"
#include "policy.h"

/* Counts one select outcome; fallback says the C fallback placed the meeting. */
void policy_stats_count(const char *policy, enum policy_outcome o, int fallback);
/* Logs a policy error: the first of a burst in full, then a summary at most once a minute. */
void policy_stats_log_error(const char *policy, const char *kind, const char *frontend,
			    const char *message);
/* A copy of one policy's counters. */
struct policy_stats_view {
	char name[64];
	unsigned long outcomes[POLICY_OUTCOMES];
	unsigned long fallbacks;
};

/* Copies up to max policies' counters into out; returns how many. */
size_t policy_stats_snapshot(struct policy_stats_view *out, size_t max);
/* Prometheus text for the policy series. */
void policy_stats_render(struct buf *out);

#endif

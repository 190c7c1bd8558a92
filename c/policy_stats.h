/* policy_stats.h: per-policy counters shared by all workers, and rate-limited error logs. */
#ifndef B3S_POLICY_STATS_H
#define B3S_POLICY_STATS_H

#include "buf.h"

/* What one policy call came to; the outcomes are counted per policy. */
enum policy_outcome {
	POLICY_OK,          /* *index holds a valid 0-based index */
	POLICY_NONE,        /* the policy found no acceptable backend; reason says why */
	POLICY_ERR_RUNTIME, /* the Lua code raised an error */
	POLICY_ERR_BUDGET,  /* the instruction or time budget ran out */
	POLICY_ERR_BADRET,  /* a return value C cannot accept */
	POLICY_ERR_NOMEM,   /* over the state's memory cap */
	POLICY_OUTCOMES
};

const char *policy_outcome_name(enum policy_outcome o);

/* Counts one select outcome and the seconds the call took; fallback says the C fallback
 * placed the meeting. */
void policy_stats_count(const char *policy, enum policy_outcome o, int fallback, double seconds);
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

/* metrics.c: /metrics, served from in-memory counters only (a scrape never scans tables). */
#include "metrics.h"

#include "policy.h"
#include "policy_stats.h"

void metrics_render(struct buf *out)
{
	buf_printf(out, "# HELP b3scale_policy_generation Generation of the policies in use.\n"
			"# TYPE b3scale_policy_generation gauge\n"
			"b3scale_policy_generation %lu\n"
			"# HELP b3scale_policy_reload_failures_total Reloads refused because a file failed validation.\n"
			"# TYPE b3scale_policy_reload_failures_total counter\n"
			"b3scale_policy_reload_failures_total %lu\n",
		   policy_generation(), policy_reload_failures());
	policy_stats_render(out);
}

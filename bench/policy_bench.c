/* policy_bench.c: the placement policy's decision alone (C marshalling + Lua select) over N
 * backends, at rest, as bench/scale.sh reports it. Between calls one backend's pending count
 * changes, as during a create burst, and every 50 calls the snapshot is new and every report
 * older (the daemon re-reads it every B3SCALE_PLACEMENT_REFRESH_MS). Prints "mean_us p50_us p99_us" on one line.
 * Usage: policy_bench [backends] [calls] (policies from B3SCALE_POLICY_DIR, default policies/) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "lb.h"
#include "policy.h"

static int policy_bench_cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 500;
	long calls = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
	struct lb_config cfg;
	struct lb_backend_list bl;
	struct policy_engine *pe;
	struct policy_request pr = { .action = "create", .meeting_id = "bench",
				     .frontend_key = "bench", .settings_json = "{}",
				     .attempt = 1 };
	struct query params = { 0 };
	char err[1024], reason[512], policy[64];
	long long *took, t0, sum = 0;
	size_t idx, j;
	long i;

	if (n < 1 || calls < 1 || config_load(&cfg, 0, err, sizeof(err)) < 0 ||
	    policy_setup(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "policy_bench: %s\n", n < 1 || calls < 1 ? "bad arguments" : err);
		return 1;
	}
	pr.params = &params;
	bl.n = (size_t)n;
	bl.gen = 0;
	bl.v = calloc(bl.n, sizeof(*bl.v));
	took = calloc((size_t)calls, sizeof(*took));
	pe = policy_engine_sync(NULL);
	if (!bl.v || !took || !pe)
		return 1;
	for (i = 0; i < n; i++) {
		struct lb_backend *b = &bl.v[i];

		snprintf(b->id, sizeof(b->id), "00000000-0000-0000-0000-%012d", (int)i);
		if (asprintf(&b->host, "http://10.0.%ld.%ld/bigbluebutton/api/", i / 250, i % 250) < 0)
			return 1;
		b->secret = strdup("secret");
		b->tags = strdup(i % 3 ? "sip" : "sip,gpu");
		snprintf(b->admin_state, sizeof(b->admin_state), "ready");
		snprintf(b->node_state, sizeof(b->node_state), "healthy");
		b->load_factor = 1.0;
		b->meetings = 40 + i % 7;
		b->participants = 300 + i % 11;
		b->report_age_ms = 500;
		b->cpu = b->mem = -1;
	}
	for (i = 0; i < calls; i++) {
		bl.v[(size_t)i % bl.n].pending++;
		if (i % 50 == 0) { /* a new snapshot (c/backend_view.c): every report has aged */
			bl.gen++;
			for (j = 0; j < bl.n; j++)
				bl.v[j].report_age_ms = 500 + i % 1000;
		}
		t0 = clock_mono_us();
		if (policy_select(pe, &pr, &bl, &idx, reason, sizeof(reason), policy,
				  sizeof(policy)) != POLICY_OK) {
			fprintf(stderr, "policy_bench: %s\n", reason);
			return 1;
		}
		took[i] = clock_mono_us() - t0;
		sum += took[i];
	}
	qsort(took, (size_t)calls, sizeof(*took), policy_bench_cmp);
	printf("%.1f %lld %lld\n", (double)sum / (double)calls, took[calls / 2],
	       took[calls * 99 / 100]);
	policy_engine_free(pe);
	policy_teardown();
	lb_backend_list_clear(&bl);
	free(took);
	return 0;
}

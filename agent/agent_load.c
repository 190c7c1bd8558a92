/* agent_load.c: /proc/stat and /proc/meminfo readers; fractions 0..1 for the heartbeat. */
#include "agent_load.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void agent_load_init(struct agent_load *l, const char *proc_dir)
{
	double cpu, mem;

	memset(l, 0, sizeof(*l));
	l->proc_dir = proc_dir ? proc_dir : "/proc";
	/* a first sample so the first heartbeat already has a CPU figure */
	(void)agent_load_sample(l, &cpu, &mem);
}

static int agent_load_cpu(struct agent_load *l, double *cpu)
{
	unsigned long long v[8] = { 0 }, total = 0, idle;
	char path[512];
	FILE *f;
	int n, i;

	*cpu = -1.0;
	snprintf(path, sizeof(path), "%s/stat", l->proc_dir);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	/* cpu  user nice system idle iowait irq softirq steal (guest time is inside user) */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return -EPROTO;
	for (i = 0; i < 8; i++)
		total += v[i];
	idle = v[3] + v[4];
	if (l->have_prev && total > l->prev_total && idle >= l->prev_idle) {
		unsigned long long dt = total - l->prev_total, di = idle - l->prev_idle;
		*cpu = di >= dt ? 0.0 : (double)(dt - di) / (double)dt;
	}
	l->prev_total = total;
	l->prev_idle = idle;
	l->have_prev = 1;
	return 0;
}

static int agent_load_mem(const struct agent_load *l, double *mem)
{
	unsigned long long total = 0, avail = 0, v;
	char path[512], line[256];
	int have_total = 0, have_avail = 0;
	FILE *f;

	*mem = -1.0;
	snprintf(path, sizeof(path), "%s/meminfo", l->proc_dir);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %llu", &v) == 1) {
			total = v;
			have_total = 1;
		} else if (sscanf(line, "MemAvailable: %llu", &v) == 1) {
			avail = v;
			have_avail = 1;
		}
	}
	fclose(f);
	if (!have_total || !have_avail || total == 0)
		return -EPROTO;
	*mem = avail >= total ? 0.0 : (double)(total - avail) / (double)total;
	return 0;
}

int agent_load_sample(struct agent_load *l, double *cpu, double *mem)
{
	int rc = agent_load_cpu(l, cpu);

	if (rc < 0) {
		*mem = -1.0;
		return rc;
	}
	return agent_load_mem(l, mem);
}

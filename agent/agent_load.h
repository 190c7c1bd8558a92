/* agent_load.h: node CPU and memory use from /proc, for heartbeats (B3SCALE_AGENT_REPORT_LOAD). */
#ifndef B3S_AGENT_LOAD_H
#define B3S_AGENT_LOAD_H

struct agent_load {
	unsigned long long prev_total;
	unsigned long long prev_idle;
	int have_prev;
	const char *proc_dir; /* "/proc"; tests may point elsewhere */
};

void agent_load_init(struct agent_load *l, const char *proc_dir);
/* cpu: busy fraction since the previous call (-1 on the first call or when no time passed);
 * mem: 1 - MemAvailable/MemTotal. 0, or negative errno when /proc could not be read. */
int agent_load_sample(struct agent_load *l, double *cpu, double *mem);

#endif

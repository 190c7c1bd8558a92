/* agent_upload.h: recording uploads to b3scaled (POST /api/v1/recordings/import). One thread
 * scans BBB's published directory, spools each new tree as a tar (agent_spool) and uploads
 * the spool one tar at a time, so the agent's loop never waits for a recording. */
#ifndef B3S_AGENT_UPLOAD_H
#define B3S_AGENT_UPLOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "agent_config.h"
#include "agent_report.h"
#include "agent_spool.h"

struct agent_upload {
	const struct agent_config *cfg;
	struct agent_report rep;   /* its own connection: an upload never delays a heartbeat */
	struct agent_spool spool;
	atomic_int stop;           /* ends the thread, aborts a transfer or a tar being written */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	int running;
	long backoff_ms;           /* after a temporary failure; 0 once b3scaled answers */
	long long retry_at;        /* monotonic ms: no upload before */
	char last[AGENT_SPOOL_ID_MAX]; /* the last tar tried: the next one goes round the spool */
	int queued;                /* tars waiting, counted at each scan */
	int failing;
	unsigned seed;             /* jitter */
	long long warn_names_at, log_fail_at, log_spool_at, log_scan_at;
	unsigned long long uploaded, refused;
};

/* Prepares the spool (mkdir, removes half-written tars nobody holds) and starts the thread.
 * 0, or negative errno with err (the agent then runs without uploads). */
int agent_upload_start(struct agent_upload *u, const struct agent_config *cfg, char *err,
		       size_t errlen);
/* Stops the thread (an upload in flight is aborted, its tar stays spooled); safe when the
 * thread never started. */
void agent_upload_stop(struct agent_upload *u);

/* --upload-recording: spools and uploads every format of record found in the published
 * dir (done markers notwithstanding), one attempt each, one line per format on out.
 * Returns the exit status: 0 when every format was accepted, 1 otherwise, 2 for a usage
 * error (uploads off, invalid recordID). */
int agent_upload_manual(const struct agent_config *cfg, const char *record, FILE *out);

#endif

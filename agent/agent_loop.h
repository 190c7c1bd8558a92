/* agent_loop.h: the agent's single-threaded loop: Redis in, heartbeats/events/state out. */
#ifndef B3S_AGENT_LOOP_H
#define B3S_AGENT_LOOP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_config.h"
#include "agent_events.h"
#include "agent_load.h"
#include "agent_redis.h"
#include "agent_report.h"
#include "agent_upload.h"
#include "buf.h"

enum agent_loop_register {
	AGENT_LOOP_REGISTER_NO = 0,    /* only check that the backend exists */
	AGENT_LOOP_REGISTER_INIT = 1,  /* --register: create it with admin_state "init" */
	AGENT_LOOP_REGISTER_READY = 2, /* --register-ready: ... with admin_state "ready" */
};

struct agent_loop {
	const struct agent_config *cfg;
	struct agent_redis redis;
	struct agent_report report;
	struct agent_events events;
	struct agent_load load;
	struct agent_upload upload; /* recordings: a thread of its own (agent_upload.c) */
	struct buf batch;          /* the events POST body, reused */
	struct buf state;          /* the last getMeetings answer, reused */
	enum agent_loop_register register_mode;
	int backend_checked;       /* GET /agent/backend (and registration) done */
	int state_sent;            /* a state was delivered at least once */
	int resync;                /* a full state is owed to b3scaled */
	const char *resync_why;
	int64_t next_heartbeat, next_resync, state_retry_at;
	int64_t report_retry_at, redis_retry_at;
	long report_backoff_ms, redis_backoff_ms;
	int report_failing, redis_failing;
	int64_t log_auth_at, log_fail_at, log_reject_at, log_node_at, log_redis_at, log_drop_at;
	int64_t log_load_at;
	uint64_t relevant, ignored, oversized, sent_events, sent_posts;
};

int agent_loop_init(struct agent_loop *l, const struct agent_config *cfg,
		    enum agent_loop_register mode, char *err, size_t errlen);
void agent_loop_free(struct agent_loop *l);
/* Runs until *stop is set, then flushes the queued events once. Recording uploads run
 * alongside when configured. Transient errors never end it; the return value is 0. */
int agent_loop_run(struct agent_loop *l, volatile sig_atomic_t *stop);
/* --once: (register,) fetch the node's state, POST it; 0 or negative errno with err. */
int agent_loop_once(struct agent_loop *l, char *err, size_t errlen);

#endif

/* policy.h: the Lua policy engine.
 *
 * One validated bundle of sources is published at a time, with a generation number. Each
 * worker thread owns a policy_engine (its own Lua state) and rebuilds it lazily when the
 * published generation moves on, so no request path takes a lock around Lua. */
#ifndef B3S_POLICY_H
#define B3S_POLICY_H

#include <stddef.h>
#include <time.h>

#include "lb.h"
#include "policy_stats.h"
#include "query.h"

struct policy_engine;
struct lb_config;

struct policy_request {
	const char *action;          /* "create" */
	const char *meeting_id;      /* the frontend's own ID */
	const char *frontend_key;
	const char *settings_json;
	const struct query *params;
	unsigned attempt;            /* 1 on the first pick */
	const char *const *excluded; /* backend ids that failed this request */
	size_t nexcluded;
	/* the meeting's expected size and where it came from ("hint", "max_participants",
	 * "history"); NULL source: nothing known, the policy's default applies */
	const char *expected_source;
	long expected_size;
};

/* Input of the presentation hooks (create_params / join_params). */
struct policy_present {
	const char *frontend_key;
	const char *settings_json;
	const char *meeting_id;
	const char *body;            /* create only; may be NULL */
	size_t body_len;
	const char *content_type;
	long frontend_attendees;     /* join only */
	long meeting_attendees;      /* join only */
};

/* Start-up: reads and validates the files, publishes generation 1. */
int policy_setup(const struct lb_config *cfg, char *err, size_t errlen);
void policy_teardown(void);
/* SIGHUP: all or nothing. required lists policy names frontends use; each must exist.
 * On failure the old generation keeps serving and err (file:line) is kept as last error. */
int policy_reload(const char *const *required, size_t nrequired, char *err, size_t errlen);
/* --check: the same validation on the files on disk, nothing published. */
int policy_check(const struct lb_config *cfg, const char *const *required, size_t nrequired,
		 char *err, size_t errlen);
unsigned long policy_generation(void);
unsigned long policy_reload_failures(void);
/* The last reload error ("" when the last reload succeeded) and when it happened. */
void policy_last_error(char *buf, size_t len, time_t *when);

/* The calling worker's engine at the current generation (rebuilt when stale; the old one
 * is kept when a rebuild fails). NULL only when no engine could ever be built. */
struct policy_engine *policy_engine_sync(struct policy_engine *pe);
void policy_engine_free(struct policy_engine *pe);

enum policy_outcome policy_select(struct policy_engine *pe, const struct policy_request *req,
				  const struct lb_backend_list *bl, size_t *index, char *reason,
				  size_t reasonlen, char *policy, size_t policylen);

/* Why a pick was made, as dispatch.lua recorded it from the policy's second value: json is
 * { policy, chosen, reason, candidates: [{ host, score, excluded }], candidates_total } or
 * "" when there is none (an explanation that does not fit is dropped, never an error);
 * reason is its short form for the log line. */
#define POLICY_EXPLAIN_MAX 9216
struct policy_explain {
	char json[POLICY_EXPLAIN_MAX];
	char reason[320];
};

/* policy_select that also fills *ex (cleared first) when the outcome is POLICY_OK. */
enum policy_outcome policy_select_explain(struct policy_engine *pe,
					  const struct policy_request *req,
					  const struct lb_backend_list *bl, size_t *index,
					  char *reason, size_t reasonlen, char *policy,
					  size_t policylen, struct policy_explain *ex);
/* 0: params (and *body when the hook set one; caller frees) shaped; 1: rejected with *key and
 * msg; negative: the hook failed (logged, counted) and params are unchanged. */
int policy_create_params(struct policy_engine *pe, const struct policy_present *in,
			 struct query *params, char **body, size_t *body_len, char *key,
			 size_t keylen, char *msg, size_t msglen);
int policy_join_params(struct policy_engine *pe, const struct policy_present *in,
		       struct query *params, char *key, size_t keylen, char *msg, size_t msglen);

#endif

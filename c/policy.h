/* policy.h: the Lua placement engine. One engine per worker thread, never shared. */
#ifndef B3S_POLICY_H
#define B3S_POLICY_H

#include <stddef.h>

#include "lb.h"
#include "query.h"

struct policy_engine;
struct lb_config;

enum policy_outcome {
	POLICY_OK,          /* *index holds a valid 0-based index */
	POLICY_NONE,        /* the policy found no acceptable backend; reason says why */
	POLICY_ERR_RUNTIME, /* the Lua code raised an error */
	POLICY_ERR_BUDGET,  /* the instruction budget ran out */
	POLICY_ERR_BADRET,  /* a return value C cannot accept */
	POLICY_ERR_NOMEM,
};

struct policy_request {
	const char *action;        /* "create" */
	const char *meeting_id;    /* the frontend's own ID */
	const char *frontend_key;
	const char *settings_json;
	const struct query *params;
	unsigned attempt;          /* 1 on the first pick */
	const char *const *excluded; /* backend ids that failed this request */
	size_t nexcluded;
};

/* Builds a sandboxed state from cfg->lua_dir and every policies/<name>.lua. */
int policy_open(struct policy_engine **pe, const struct lb_config *cfg, char *err, size_t errlen);
void policy_close(struct policy_engine *pe);
enum policy_outcome policy_select(struct policy_engine *pe, const struct policy_request *req,
				  const struct lb_backend_list *bl, size_t *index, char *reason,
				  size_t reasonlen);
const char *policy_outcome_name(enum policy_outcome o);

#endif

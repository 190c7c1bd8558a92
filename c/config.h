/* config.h: the daemon's settings, read once from B3SCALE_* environment variables. */
#ifndef B3S_CONFIG_H
#define B3S_CONFIG_H

#include <stddef.h>

struct lb_config {
	char db_url[1024];
	char listen_host[256];
	unsigned short listen_port;
	unsigned workers;
	char policy_dir[1024];
	char lua_dir[1024];
	char sql_dir[1024];
	char default_policy[64];
	long backend_timeout_ms;
	long backend_connect_timeout_ms;
	size_t max_query;
	size_t max_body;
	unsigned max_attempts;
	long policy_timeout_ms;
	long policy_max_insns;
	size_t policy_max_memory;
	int policy_reject_on_error; /* B3SCALE_POLICY_ON_ERROR=reject: no C fallback */
	long poll_interval_ms;
	long poll_timeout_ms;
	unsigned pollers;
	int unavailable_after;     /* consecutive failed polls before a node is unavailable */
	int available_after;       /* consecutive good polls before it is available again */
	long agent_max_age_ms;
	long route_cache_ms;
	int metrics_meeting_labels; /* b3scale_meeting_attendees per meeting (unbounded labels) */       /* join route cache lifetime; 0 disables the cache */     /* a node with an agent is ineligible past this heartbeat age */
	char api_jwt_secret[512];  /* "" disables the admin API */
	char openapi_file[1024];
	char status_page[1024];    /* HTML served at /status ("" = off) */
	char log_level[16];
	char log_format[16];
};

/* One documented row per variable; README's table mirrors this list. need_db: whether
 * B3SCALE_DB_URL is required (policy checks run without a database). */
int config_load(struct lb_config *cfg, int need_db, char *err, size_t errlen);

#endif

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
	long placement_refresh_ms;   /* how often the backend view for placement is re-read */
	long reservation_window_s;   /* a new meeting's reserved size decays to 0 over this */
	long info_cache_ms;          /* reuse window of getMeetingInfo/isMeetingRunning answers */
	int metrics_meeting_labels; /* b3scale_meeting_attendees per meeting (unbounded labels) */
	/* edge budgets (http_server.c, http_edge.c) */
	int listen_v6;              /* listen_host is an IPv6 literal ([::1]:port) */
	int listen_reuseport;       /* B3SCALE_LISTEN_REUSEPORT=1: share the port (SO_REUSEPORT) */
	unsigned max_connections;   /* all clients together */
	unsigned max_connections_per_ip; /* 0: no per-address limit (behind a proxy) */
	long request_timeout_ms;    /* whole request, headers and body, against slowloris */
	long idle_timeout_ms;       /* a keep-alive connection with no request in flight */
	size_t max_small_body;      /* bodies of routes that take no uploads */
	char trusted_proxies[1024]; /* comma-separated addresses/CIDRs whose X-Forwarded-For counts */
	long drain_timeout_ms;      /* SIGTERM: time in-flight requests get to finish */
	/* calls to nodes (node_loop.c) */
	unsigned node_max_inflight;  /* bulkhead: concurrent calls per node */
	unsigned node_breaker_failures; /* consecutive failures that open a node's circuit */
	long node_breaker_open_ms;   /* how long an open circuit fails calls fast */
	unsigned max_node_calls;     /* bound of the loop's queue plus calls in flight */
	/* Postgres deadlines (db.c) */
	long db_timeout_ms;          /* client-side deadline of a connect or one statement */
	char api_jwt_secret[512];  /* "" disables the admin API */
	char metrics_token[256];   /* B3SCALE_METRICS_TOKEN: "" leaves /metrics open */
	char openapi_file[1024];
	char recordings_playback_url[512]; /* scheme://host[:port] of playback links; "": the node's */
	char recordings_dir[1024];   /* B3SCALE_RECORDINGS_DIR: "" = no recording storage */
	unsigned long long max_recording_upload; /* bytes of one import, and of its contents */
	long recording_uploads;      /* imports received or processed at once */
	long recording_upload_timeout_ms; /* whole-upload deadline of an import */
	long recordings_sweep_ms;    /* retention, leftover settles and working areas */
	long recordings_cache_ms;    /* getRecordings answers kept (0: off) */
	/* callbacks (docs/callbacks.md) */
	char api_url[512];           /* B3SCALE_API_URL: this balancer as nodes reach it; "": no rewriting */
	char callback_allowed_networks[1024]; /* CIDRs a callback may reach besides public ones */
	long callback_timeout_ms;    /* one delivery attempt, connect to last byte */
	long callback_max_age_s;     /* retried for this long, then given up */
	long callback_concurrency;   /* deliveries in flight per instance */
	long callback_retry_ms;      /* first retry delay; it doubles per attempt up to an hour */
	char status_page[1024];    /* HTML served at /status ("" = off) */
	char log_level[16];
	char log_format[16];
};

/* One documented row per variable; README's table mirrors this list. need_db: whether
 * B3SCALE_DB_URL is required (policy checks run without a database). */
int config_load(struct lb_config *cfg, int need_db, char *err, size_t errlen);

#endif

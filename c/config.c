/* config.c: environment parsing with a one-line explanation for every bad value. */
#include "config.h"

#include "env.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where b3scaled finds its own files. A build in the checkout reads them from there (run
 * from the checkout); `make install` compiles this file again with B3SCALE_DATADIR and
 * B3SCALE_SYSCONFDIR, and the operator's policy directory comes before the shipped one. */
#ifdef B3SCALE_DATADIR
#define CONFIG_DATA(rel) B3SCALE_DATADIR "/" rel
#define CONFIG_POLICY_PATH B3SCALE_SYSCONFDIR "/b3scale/policies:" B3SCALE_DATADIR "/policies"
#else
#define CONFIG_DATA(rel) rel
#define CONFIG_POLICY_PATH "policies"
#endif

static int config_listen(struct lb_config *cfg, char *err, size_t errlen)
{
	const char *v = env_get("B3SCALE_LISTEN_HTTP") ? env_get("B3SCALE_LISTEN_HTTP")
							 : "127.0.0.1:42353";
	const char *colon = strrchr(v, ':');
	char *end;
	long port;
	size_t hl;

	if (!colon || colon == v) {
		snprintf(err, errlen, "B3SCALE_LISTEN_HTTP must be host:port, got '%s'", v);
		return -EINVAL;
	}
	port = strtol(colon + 1, &end, 10);
	hl = (size_t)(colon - v);
	/* [v6-address]:port, as in URLs */
	if (v[0] == '[') {
		if (hl < 3 || v[hl - 1] != ']') {
			snprintf(err, errlen, "B3SCALE_LISTEN_HTTP must be host:port or [v6]:port, got '%s'",
				 v);
			return -EINVAL;
		}
		v++;
		hl -= 2;
		cfg->listen_v6 = 1;
	}
	if (*end || port < 1 || port > 65535 || hl >= sizeof(cfg->listen_host)) {
		snprintf(err, errlen, "B3SCALE_LISTEN_HTTP must be host:port, got '%s'", v);
		return -EINVAL;
	}
	memcpy(cfg->listen_host, v, hl);
	cfg->listen_host[hl] = '\0';
	cfg->listen_port = (unsigned short)port;
	return 0;
}

/* Budgets at the edge, for calls to nodes and for the database. */
static int config_edge(struct lb_config *cfg, char *err, size_t errlen)
{
	long n;

	if (env_long("B3SCALE_LISTEN_REUSEPORT", 0, 0, 1, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->listen_reuseport = (int)n;
	if (env_long("B3SCALE_MAX_CONNECTIONS", 4096, 16, 1000000, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->max_connections = (unsigned)n;
	if (env_long("B3SCALE_MAX_CONNECTIONS_PER_IP", 256, 0, 1000000, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->max_connections_per_ip = (unsigned)n;
	if (env_long("B3SCALE_REQUEST_TIMEOUT_MS", 30000, 100, 3600000, &cfg->request_timeout_ms,
		     err, errlen) < 0 ||
	    env_long("B3SCALE_IDLE_TIMEOUT_MS", 15000, 1000, 3600000, &cfg->idle_timeout_ms, err,
		     errlen) < 0 ||
	    env_long("B3SCALE_DRAIN_TIMEOUT_MS", 10000, 0, 600000, &cfg->drain_timeout_ms, err,
		     errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_MAX_SMALL_BODY", 65536, 0, 16777216, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->max_small_body = (size_t)n;
	if (env_str("B3SCALE_TRUSTED_PROXIES", "", cfg->trusted_proxies,
		    sizeof(cfg->trusted_proxies), err, errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_NODE_MAX_INFLIGHT", 64, 1, 100000, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->node_max_inflight = (unsigned)n;
	if (env_long("B3SCALE_NODE_BREAKER_FAILURES", 5, 1, 1000, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->node_breaker_failures = (unsigned)n;
	if (env_long("B3SCALE_NODE_BREAKER_OPEN_MS", 5000, 100, 3600000, &cfg->node_breaker_open_ms,
		     err, errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_MAX_NODE_CALLS", 8192, 16, 1000000, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->max_node_calls = (unsigned)n;
	if (env_long("B3SCALE_DB_TIMEOUT_MS", 1000, 100, 600000, &cfg->db_timeout_ms, err,
		     errlen) < 0)
		return -EINVAL;
	return 0;
}

/* A base URL that paths are appended to ("<this><path>"): no trailing slash, and a scheme;
 * "" stays "" (unset). */
static int config_base_url(const char *name, char *url, char *err, size_t errlen)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	if (n > 0 && strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "%s must start with https:// or http://, got '%s'", name, url);
		return -EINVAL;
	}
	return 0;
}

int config_load(struct lb_config *cfg, int need_db, char *err, size_t errlen)
{
	char onerr[16];
	long n;

	memset(cfg, 0, sizeof(*cfg));
	if (env_str("B3SCALE_DB_URL", need_db ? NULL : "", cfg->db_url, sizeof(cfg->db_url), err,
		       errlen) < 0 ||
	    config_listen(cfg, err, errlen) < 0 ||
	    env_str("B3SCALE_POLICY_DIR", CONFIG_POLICY_PATH, cfg->policy_dir, sizeof(cfg->policy_dir),
		       err, errlen) < 0 ||
	    env_str("B3SCALE_LUA_DIR", CONFIG_DATA("lua"), cfg->lua_dir, sizeof(cfg->lua_dir), err,
		       errlen) < 0 ||
	    env_str("B3SCALE_SQL_DIR", CONFIG_DATA("sql"), cfg->sql_dir, sizeof(cfg->sql_dir), err,
		       errlen) < 0 ||
	    env_str("B3SCALE_POLICY", "least_load", cfg->default_policy,
		       sizeof(cfg->default_policy), err, errlen) < 0 ||
	    env_str("B3SCALE_API_JWT_SECRET", "", cfg->api_jwt_secret,
		       sizeof(cfg->api_jwt_secret), err, errlen) < 0 ||
	    env_str("B3SCALE_METRICS_TOKEN", "", cfg->metrics_token, sizeof(cfg->metrics_token),
		    err, errlen) < 0 ||
	    env_str("B3SCALE_OPENAPI_FILE", CONFIG_DATA("docs/openapi.json"), cfg->openapi_file,
		       sizeof(cfg->openapi_file), err, errlen) < 0 ||
	    env_str("B3SCALE_RECORDINGS_PLAYBACK_URL", "", cfg->recordings_playback_url,
		    sizeof(cfg->recordings_playback_url), err, errlen) < 0 ||
	    env_str("B3SCALE_RECORDINGS_DIR", "", cfg->recordings_dir,
		    sizeof(cfg->recordings_dir), err, errlen) < 0 ||
	    env_str("B3SCALE_API_URL", "", cfg->api_url, sizeof(cfg->api_url), err, errlen) < 0 ||
	    env_str("B3SCALE_CALLBACK_ALLOWED_NETWORKS", "", cfg->callback_allowed_networks,
		    sizeof(cfg->callback_allowed_networks), err, errlen) < 0 ||
	    env_str("B3SCALE_STATUS_PAGE", CONFIG_DATA("docs/status.html"), cfg->status_page,
		       sizeof(cfg->status_page), err, errlen) < 0 ||
	    env_str("B3SCALE_LOG_LEVEL", "info", cfg->log_level, sizeof(cfg->log_level), err,
		       errlen) < 0 ||
	    env_str("B3SCALE_LOG_FORMAT", "text", cfg->log_format, sizeof(cfg->log_format), err,
		       errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_WORKERS", 8, 1, 256, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->workers = (unsigned)n;
	if (env_long("B3SCALE_BACKEND_TIMEOUT_MS", 10000, 100, 600000, &cfg->backend_timeout_ms,
			err, errlen) < 0 ||
	    env_long("B3SCALE_BACKEND_CONNECT_TIMEOUT_MS", 2000, 50, 60000,
			&cfg->backend_connect_timeout_ms, err, errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_MAX_QUERY", 65536, 1024, 1048576, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->max_query = (size_t)n;
	if (env_long("B3SCALE_MAX_BODY", 8388608, 0, 268435456, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->max_body = (size_t)n;
	/* recordings are hundreds of MB: streamed to disk, never held in memory */
	if (env_long("B3SCALE_MAX_RECORDING_UPLOAD", 4294967296L, 1048576, 1099511627776L, &n,
		     err, errlen) < 0 ||
	    env_long("B3SCALE_RECORDING_UPLOADS", 4, 1, 64, &cfg->recording_uploads, err,
		     errlen) < 0 ||
	    env_long("B3SCALE_RECORDING_UPLOAD_TIMEOUT_MS", 3600000, 1000, 86400000,
		     &cfg->recording_upload_timeout_ms, err, errlen) < 0 ||
	    env_long("B3SCALE_RECORDINGS_SWEEP_MS", 60000, 1000, 86400000,
		     &cfg->recordings_sweep_ms, err, errlen) < 0)
		return -EINVAL;
	cfg->max_recording_upload = (unsigned long long)n;
	if (env_long("B3SCALE_CALLBACK_TIMEOUT_MS", 10000, 100, 120000, &cfg->callback_timeout_ms,
		     err, errlen) < 0 ||
	    env_long("B3SCALE_CALLBACK_MAX_AGE_S", 86400, 1, 604800, &cfg->callback_max_age_s, err,
		     errlen) < 0 ||
	    env_long("B3SCALE_CALLBACK_CONCURRENCY", 16, 1, 256, &cfg->callback_concurrency, err,
		     errlen) < 0 ||
	    env_long("B3SCALE_CALLBACK_RETRY_MS", 5000, 10, 3600000, &cfg->callback_retry_ms, err,
		     errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_CREATE_ATTEMPTS", 3, 1, 20, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->max_attempts = (unsigned)n;
	if (env_long("B3SCALE_POLL_INTERVAL_MS", 5000, 100, 3600000, &cfg->poll_interval_ms, err,
			errlen) < 0 ||
	    env_long("B3SCALE_POLL_TIMEOUT_MS", 3000, 50, 60000, &cfg->poll_timeout_ms, err,
			errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_POLL_WORKERS", 2, 0, 64, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->pollers = (unsigned)n;
	if (env_long("B3SCALE_METRICS_MEETING_LABELS", 0, 0, 1, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->metrics_meeting_labels = (int)n;
	if (env_long("B3SCALE_ROUTE_CACHE_MS", 1000, 0, 60000, &cfg->route_cache_ms, err,
		     errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_RESERVATION_WINDOW_S", 600, 0, 86400, &cfg->reservation_window_s,
		     err, errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_PLACEMENT_REFRESH_MS", 500, 0, 60000, &cfg->placement_refresh_ms,
		     err, errlen) < 0)
		return -EINVAL;
	if (cfg->placement_refresh_ms > 0 && cfg->placement_refresh_ms < 50) {
		snprintf(err, errlen, "B3SCALE_PLACEMENT_REFRESH_MS must be 0 (off) or at least 50, "
				      "got %ld", cfg->placement_refresh_ms);
		return -EINVAL;
	}
	if (env_long("B3SCALE_INFO_CACHE_MS", 1000, 0, 60000, &cfg->info_cache_ms, err,
		     errlen) < 0 ||
	    env_long("B3SCALE_RECORDINGS_CACHE_MS", 5000, 0, 60000, &cfg->recordings_cache_ms,
		     err, errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_AGENT_MAX_AGE_MS", 5000, 100, 3600000, &cfg->agent_max_age_ms, err,
			errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_UNAVAILABLE_AFTER", 3, 1, 100, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->unavailable_after = (int)n;
	if (env_long("B3SCALE_AVAILABLE_AFTER", 2, 1, 100, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->available_after = (int)n;
	if (config_edge(cfg, err, errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_POLICY_TIMEOUT_MS", 50, 1, 10000, &cfg->policy_timeout_ms, err,
			errlen) < 0 ||
	    env_long("B3SCALE_POLICY_MAX_INSTRUCTIONS", 20000000, 10000, 2000000000,
			&cfg->policy_max_insns, err, errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_POLICY_MEMORY_MB", 64, 4, 4096, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->policy_max_memory = (size_t)n << 20;
	if (env_str("B3SCALE_POLICY_ON_ERROR", "fallback", onerr, sizeof(onerr), err, errlen) < 0)
		return -EINVAL;
	if (strcmp(onerr, "fallback") != 0 && strcmp(onerr, "reject") != 0) {
		snprintf(err, errlen, "B3SCALE_POLICY_ON_ERROR must be fallback or reject, got '%s'",
			 onerr);
		return -EINVAL;
	}
	cfg->policy_reject_on_error = strcmp(onerr, "reject") == 0;
	if (config_base_url("B3SCALE_RECORDINGS_PLAYBACK_URL", cfg->recordings_playback_url, err,
			    errlen) < 0 ||
	    config_base_url("B3SCALE_API_URL", cfg->api_url, err, errlen) < 0)
		return -EINVAL;
	if (strspn(cfg->default_policy, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
	    strlen(cfg->default_policy)) {
		snprintf(err, errlen, "B3SCALE_POLICY must be a policy name like least_load, got '%s'",
			 cfg->default_policy);
		return -EINVAL;
	}
	return 0;
}

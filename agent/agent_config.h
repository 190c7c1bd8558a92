/* agent_config.h: b3scaleagent settings: bbb-web.properties, then environment overrides. */
#ifndef B3S_AGENT_CONFIG_H
#define B3S_AGENT_CONFIG_H

#include <stddef.h>
#include <stdio.h>

struct agent_config {
	char bbb_config[1024];     /* BBB_CONFIG: the bbb-web.properties path */
	int bbb_config_read;       /* 1 when that file was read */
	char bbb_api[1024];        /* node API base, always ending in '/' */
	char bbb_secret[512];      /* the node's securitySalt */
	char redis_host[256];
	int redis_port;
	char redis_password[512];  /* "" = no AUTH */
	char api_url[1024];        /* b3scaled base URL, no trailing '/' */
	char token[4096];          /* b3scale:node JWT */
	double load_factor;
	long heartbeat_ms;
	long flush_ms;
	long max_events;
	long resync_s;
	int report_load;
	char recordings_dir[1024]; /* BBB's published recordings; "" = uploads off */
	long recordings_scan_ms;
	char spool_dir[1024];      /* tars waiting for upload, done markers, refused tars */
	int delete_after_upload;   /* 1: remove a node's tree once b3scaled answered 200 */
	char log_level[16];
	char log_format[16];
	/* where each node value came from ("env", "properties", "default"), for --check-config */
	const char *src_api, *src_secret, *src_redis_host, *src_redis_port, *src_redis_password;
};

/* Java .properties: the value of key after ${ref} interpolation, or NULL. */
struct agent_props;
int agent_config_props_load(struct agent_props **p, const char *path, char *err, size_t errlen);
int agent_config_props_parse(struct agent_props **p, const char *text, size_t len);
/* Returns a malloc'ed, interpolated value (caller frees) or NULL when absent or out of memory. */
char *agent_config_props_get(const struct agent_props *p, const char *key);
void agent_config_props_free(struct agent_props *p);

/* Reads BBB_CONFIG and the environment. 0, or -EINVAL with a one-line reason in err. */
int agent_config_load(struct agent_config *cfg, char *err, size_t errlen);
/* The resolved configuration as key=value lines, secrets shown only as set/unset. */
void agent_config_print(const struct agent_config *cfg, FILE *f);

#endif

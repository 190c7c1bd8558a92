/* agent_config.c: bbb-web.properties parsing (Java rules, ${ref}s) and B3SCALE_* overrides. */
#include "agent_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "env.h"
#include "query.h"

#define AGENT_PROPS_MAX_FILE (4u << 20) /* bbb-web.properties is ~20 KB; refuse anything odd */
#define AGENT_PROPS_MAX_DEPTH 10        /* ${a} -> ${b} -> ... ; stops reference loops */
/* References expanded for one value, and its size: a file whose values each name another
 * several times grows as fan-out^depth (libFuzzer found one that ran for minutes). */
#define AGENT_PROPS_MAX_REFS 1000
#define AGENT_PROPS_MAX_VALUE (64u << 10)

struct agent_props_kv {
	char *key;
	char *val;
};

struct agent_props {
	struct agent_props_kv *v;
	size_t n, cap;
};

void agent_config_props_free(struct agent_props *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].val);
	}
	free(p->v);
	free(p);
}

static int agent_config_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\f';
}

/* Java escapes: \t \n \r \f, \uXXXX (written as UTF-8), any other \x is x. */
static char *agent_config_unescape(const char *s, size_t len)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	buf_append(&b, "", 0);
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c != '\\' || i + 1 >= len) {
			buf_append(&b, &c, 1);
			continue;
		}
		c = s[++i];
		if (c == 'u' && i + 4 < len && query_hexval(s[i + 1]) >= 0 &&
		    query_hexval(s[i + 2]) >= 0 && query_hexval(s[i + 3]) >= 0 &&
		    query_hexval(s[i + 4]) >= 0) {
			unsigned cp = 0, k;
			char u[3];
			for (k = 1; k <= 4; k++)
				cp = cp * 16 + (unsigned)query_hexval(s[i + k]);
			i += 4;
			if (cp < 0x80) {
				u[0] = (char)cp;
				buf_append(&b, u, 1);
			} else if (cp < 0x800) {
				u[0] = (char)(0xc0 | (cp >> 6));
				u[1] = (char)(0x80 | (cp & 0x3f));
				buf_append(&b, u, 2);
			} else {
				u[0] = (char)(0xe0 | (cp >> 12));
				u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
				u[2] = (char)(0x80 | (cp & 0x3f));
				buf_append(&b, u, 3);
			}
			continue;
		}
		c = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 'f' ? '\f' : c;
		buf_append(&b, &c, 1);
	}
	if (b.oom) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b, NULL);
}

/* One logical line (continuations already joined): split into key and value and store. */
static int agent_config_props_line(struct agent_props *p, const char *s, size_t len)
{
	size_t i = 0, ks, ke, vs;
	struct agent_props_kv *kv;

	while (i < len && agent_config_is_ws(s[i]))
		i++;
	if (i == len || s[i] == '#' || s[i] == '!')
		return 0;
	ks = i;
	while (i < len && s[i] != '=' && s[i] != ':' && !agent_config_is_ws(s[i]))
		i += (s[i] == '\\' && i + 1 < len) ? 2 : 1;
	ke = i;
	while (i < len && agent_config_is_ws(s[i]))
		i++;
	if (i < len && (s[i] == '=' || s[i] == ':'))
		i++;
	while (i < len && agent_config_is_ws(s[i]))
		i++;
	vs = i;
	/* Java keeps trailing blanks; a salt with a stray trailing space is a typo, not intent */
	while (len > vs && (agent_config_is_ws(s[len - 1]) || s[len - 1] == '\r'))
		len--;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		kv = realloc(p->v, cap * sizeof(*kv));
		if (!kv)
			return -ENOMEM;
		p->v = kv;
		p->cap = cap;
	}
	kv = &p->v[p->n];
	kv->key = agent_config_unescape(s + ks, ke - ks);
	kv->val = agent_config_unescape(s + vs, len - vs);
	if (!kv->key || !kv->val) {
		free(kv->key);
		free(kv->val);
		return -ENOMEM;
	}
	p->n++;
	return 0;
}

/* Does this natural line end in an odd number of backslashes (a continuation)? */
static int agent_config_continues(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && s[len - 1 - n] == '\\')
		n++;
	return n % 2 == 1;
}

int agent_config_props_parse(struct agent_props **out, const char *text, size_t len)
{
	struct agent_props *p = calloc(1, sizeof(*p));
	struct buf line;
	size_t pos = 0;
	int rc = 0, joining = 0;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	buf_init(&line);
	while (pos < len && rc == 0) {
		size_t end = pos, ll, skip = 0;
		while (end < len && text[end] != '\n' && text[end] != '\r')
			end++;
		ll = end - pos;
		if (joining) /* a continuation line's leading blanks are not part of the value */
			while (skip < ll && agent_config_is_ws(text[pos + skip]))
				skip++;
		else
			buf_reset(&line);
		if (!joining) {
			size_t k = 0;
			while (k < ll && agent_config_is_ws(text[pos + k]))
				k++;
			/* comments never continue, even when they end in a backslash */
			if (k < ll && (text[pos + k] == '#' || text[pos + k] == '!')) {
				joining = 0;
				goto next;
			}
		}
		joining = agent_config_continues(text + pos + skip, ll - skip);
		buf_append(&line, text + pos + skip, ll - skip - (joining ? 1 : 0));
		if (line.oom)
			rc = -ENOMEM;
		else if (!joining)
			rc = agent_config_props_line(p, buf_str(&line), line.len);
next:
		pos = end;
		if (pos < len && text[pos] == '\r')
			pos++;
		if (pos < len && text[pos] == '\n')
			pos++;
	}
	if (rc == 0 && joining)
		rc = agent_config_props_line(p, buf_str(&line), line.len);
	buf_free(&line);
	if (rc < 0) {
		agent_config_props_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int agent_config_props_load(struct agent_props **p, const char *path, char *err, size_t errlen)
{
	struct buf text;
	char chunk[8192];
	FILE *f;
	size_t n;
	int rc = 0;

	*p = NULL;
	buf_init(&text);
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return rc;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (text.len + n > AGENT_PROPS_MAX_FILE || buf_append(&text, chunk, n) < 0) {
			snprintf(err, errlen, "%s is larger than %u bytes", path, AGENT_PROPS_MAX_FILE);
			rc = -EFBIG;
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read %s", path);
		rc = -EIO;
		goto out;
	}
	rc = agent_config_props_parse(p, buf_str(&text), text.len);
	if (rc < 0)
		snprintf(err, errlen, "cannot parse %s: out of memory", path);
out:
	fclose(f);
	buf_free(&text);
	return rc;
}

static const char *agent_config_props_raw(const struct agent_props *p, const char *key, size_t klen)
{
	size_t i;

	/* the last definition wins, as in java.util.Properties */
	for (i = p ? p->n : 0; i > 0; i--)
		if (strlen(p->v[i - 1].key) == klen && memcmp(p->v[i - 1].key, key, klen) == 0)
			return p->v[i - 1].val;
	return NULL;
}

/* Once the budget is spent further references stay literal, and output stops growing at
 * AGENT_PROPS_MAX_VALUE: the setting it feeds is then refused as too long or invalid. */
static int agent_config_interpolate(const struct agent_props *p, const char *s, struct buf *out,
				    int depth, unsigned *budget)
{
	while (*s && out->len < AGENT_PROPS_MAX_VALUE) {
		const char *open = strstr(s, "${"), *close, *ref;
		if (!open || !(close = strchr(open + 2, '}'))) {
			buf_puts(out, s);
			break;
		}
		buf_append(out, s, (size_t)(open - s));
		ref = agent_config_props_raw(p, open + 2, (size_t)(close - open - 2));
		if (ref && depth < AGENT_PROPS_MAX_DEPTH && *budget > 0) {
			(*budget)--;
			agent_config_interpolate(p, ref, out, depth + 1, budget);
		} else { /* unknown reference (or a loop): kept literally, as bbb-web's Spring would */
			buf_append(out, open, (size_t)(close + 1 - open));
		}
		s = close + 1;
	}
	return out->oom ? -ENOMEM : 0;
}

char *agent_config_props_get(const struct agent_props *p, const char *key)
{
	const char *raw = agent_config_props_raw(p, key, strlen(key));
	unsigned budget = AGENT_PROPS_MAX_REFS;
	struct buf out;

	if (!raw)
		return NULL;
	buf_init(&out);
	buf_append(&out, "", 0);
	if (agent_config_interpolate(p, raw, &out, 0, &budget) < 0) {
		buf_free(&out);
		return NULL;
	}
	return buf_take(&out, NULL);
}

/* --- environment ----------------------------------------------------------------------- */

static int agent_config_copy(char *dst, size_t cap, const char *v, const char *name, char *err,
			     size_t errlen)
{
	if (strlen(v) >= cap) {
		snprintf(err, errlen, "%s is too long (at most %zu characters)", name, cap - 1);
		return -EINVAL;
	}
	strcpy(dst, v);
	return 0;
}

static int agent_config_http_url(const char *v)
{
	return strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0;
}

/* Tokens and URLs go into HTTP headers and request lines: no blanks or control characters. */
static int agent_config_printable(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v <= 0x20 || *v == 0x7f)
			return 0;
	return 1;
}

/* A node setting: the environment first, then the properties file, then a default. */
static int agent_config_node(const struct agent_props *p, const char *env, const char *key,
			     const char *def, char *dst, size_t cap, const char **src, char *err,
			     size_t errlen)
{
	const char *v = env_get(env);
	char *pv = NULL;
	int rc;

	*src = "env";
	if (!v && p && (pv = agent_config_props_get(p, key)) != NULL && *pv) {
		v = pv;
		*src = "properties";
	}
	if (!v) {
		v = def;
		*src = "default";
	}
	rc = agent_config_copy(dst, cap, v ? v : "", env, err, errlen);
	free(pv);
	return rc;
}

static int agent_config_node_api(struct agent_config *cfg, const struct agent_props *p,
				 const char *file_err, char *err, size_t errlen)
{
	const char *v = env_get("B3SCALE_AGENT_BBB_API");
	char *url = NULL;
	size_t n;
	int rc = -EINVAL;

	cfg->src_api = "env";
	if (!v) {
		url = p ? agent_config_props_get(p, "bigbluebutton.web.serverURL") : NULL;
		if (!url || !*url) {
			snprintf(err, errlen, "no BBB API: set B3SCALE_AGENT_BBB_API or "
				 "bigbluebutton.web.serverURL in %s%s%s%s", cfg->bbb_config,
				 p ? "" : " (", p ? "" : file_err, p ? "" : ")");
			goto out;
		}
		n = strlen(url);
		while (n > 0 && url[n - 1] == '/')
			url[--n] = '\0';
		if (n + sizeof("/bigbluebutton/api/") > sizeof(cfg->bbb_api)) {
			snprintf(err, errlen, "bigbluebutton.web.serverURL is too long");
			goto out;
		}
		snprintf(cfg->bbb_api, sizeof(cfg->bbb_api), "%s/bigbluebutton/api/", url);
		cfg->src_api = "properties";
	} else if (agent_config_copy(cfg->bbb_api, sizeof(cfg->bbb_api) - 1, v,
				     "B3SCALE_AGENT_BBB_API", err, errlen) < 0) {
		goto out;
	}
	if (!agent_config_http_url(cfg->bbb_api) || !agent_config_printable(cfg->bbb_api)) {
		snprintf(err, errlen, "the BBB API must be an http(s) URL, got '%s' (from %s)",
			 cfg->bbb_api, cfg->src_api);
		goto out;
	}
	n = strlen(cfg->bbb_api);
	if (cfg->bbb_api[n - 1] != '/') /* calls are appended: ".../api/" + "getMeetings" */
		strcpy(cfg->bbb_api + n, "/");
	rc = 0;
out:
	free(url);
	return rc;
}

static int agent_config_from_node(struct agent_config *cfg, char *err, size_t errlen)
{
	struct agent_props *p = NULL;
	char file_err[1200] = "", port[16];
	char *end;
	long n;
	int rc = -EINVAL;

	if (agent_config_props_load(&p, cfg->bbb_config, file_err, sizeof(file_err)) == 0)
		cfg->bbb_config_read = 1;
	if (agent_config_node_api(cfg, p, file_err, err, errlen) < 0 ||
	    agent_config_node(p, "B3SCALE_AGENT_BBB_SECRET", "securitySalt", NULL, cfg->bbb_secret,
			      sizeof(cfg->bbb_secret), &cfg->src_secret, err, errlen) < 0 ||
	    agent_config_node(p, "B3SCALE_AGENT_REDIS_HOST", "redisHost", "127.0.0.1",
			      cfg->redis_host, sizeof(cfg->redis_host), &cfg->src_redis_host, err,
			      errlen) < 0 ||
	    agent_config_node(p, "B3SCALE_AGENT_REDIS_PORT", "redisPort", "6379", port,
			      sizeof(port), &cfg->src_redis_port, err, errlen) < 0 ||
	    agent_config_node(p, "B3SCALE_AGENT_REDIS_PASSWORD", "redisPassword", "",
			      cfg->redis_password, sizeof(cfg->redis_password),
			      &cfg->src_redis_password, err, errlen) < 0)
		goto out;
	if (!cfg->bbb_secret[0]) {
		snprintf(err, errlen, "no BBB secret: set B3SCALE_AGENT_BBB_SECRET or securitySalt in "
			 "%s%s%s%s", cfg->bbb_config, p ? "" : " (", p ? "" : file_err, p ? "" : ")");
		goto out;
	}
	errno = 0;
	n = strtol(port, &end, 10);
	if (errno || *end || n < 1 || n > 65535) {
		snprintf(err, errlen, "the Redis port must be 1..65535, got '%s' (from %s)", port,
			 cfg->src_redis_port);
		goto out;
	}
	cfg->redis_port = (int)n;
	rc = 0;
out:
	agent_config_props_free(p);
	return rc;
}

static int agent_config_b3scale(struct agent_config *cfg, char *err, size_t errlen)
{
	const char *v;
	char *end;
	size_t n;

	v = env_get("B3SCALE_API_URL");
	if (!v) {
		snprintf(err, errlen, "B3SCALE_API_URL is required but not set");
		return -EINVAL;
	}
	if (agent_config_copy(cfg->api_url, sizeof(cfg->api_url), v, "B3SCALE_API_URL", err,
			      errlen) < 0)
		return -EINVAL;
	if (!agent_config_http_url(v) || !agent_config_printable(v)) {
		snprintf(err, errlen, "B3SCALE_API_URL must be an http(s) URL, got '%s'", v);
		return -EINVAL;
	}
	n = strlen(cfg->api_url);
	while (n > 0 && cfg->api_url[n - 1] == '/')
		cfg->api_url[--n] = '\0';
	v = env_get("B3SCALE_API_ACCESS_TOKEN");
	if (!v) {
		snprintf(err, errlen, "B3SCALE_API_ACCESS_TOKEN is required but not set "
				      "(mint one with: b3scalectl auth authorize_node_agent)");
		return -EINVAL;
	}
	if (agent_config_copy(cfg->token, sizeof(cfg->token), v, "B3SCALE_API_ACCESS_TOKEN", err,
			      errlen) < 0)
		return -EINVAL;
	if (!agent_config_printable(v)) {
		snprintf(err, errlen, "B3SCALE_API_ACCESS_TOKEN contains blanks or control characters");
		return -EINVAL;
	}
	cfg->load_factor = 1.0;
	v = env_get("B3SCALE_LOAD_FACTOR");
	if (v) {
		errno = 0;
		cfg->load_factor = strtod(v, &end);
		if (errno || *end || !(cfg->load_factor > 0.0 && cfg->load_factor <= 1000.0)) {
			snprintf(err, errlen, "B3SCALE_LOAD_FACTOR must be a number above 0 and at "
					      "most 1000, got '%s'", v);
			return -EINVAL;
		}
	}
	return 0;
}

/* An absolute directory path without trailing '/' (except "/" itself) into dst. */
static int agent_config_dir(char *dst, size_t cap, const char *v, const char *name, char *err,
			    size_t errlen)
{
	size_t n;

	if (agent_config_copy(dst, cap, v, name, err, errlen) < 0)
		return -EINVAL;
	if (dst[0] != '/') {
		snprintf(err, errlen, "%s must be an absolute path, got '%s'", name, v);
		return -EINVAL;
	}
	n = strlen(dst);
	while (n > 1 && dst[n - 1] == '/')
		dst[--n] = '\0';
	return 0;
}

/* 1 when path is dir or lies below it. */
static int agent_config_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/' || (n > 0 && dir[n - 1] == '/'));
}

/* Recording uploads. B3SCALE_AGENT_RECORDINGS_DIR is the one setting where an empty value
 * is not "unset": it turns uploads off. */
static int agent_config_uploads(struct agent_config *cfg, char *err, size_t errlen)
{
	const char *v = getenv("B3SCALE_AGENT_RECORDINGS_DIR");
	long n;

	if (!v)
		v = "/var/bigbluebutton/published";
	if (*v && agent_config_dir(cfg->recordings_dir, sizeof(cfg->recordings_dir), v,
				   "B3SCALE_AGENT_RECORDINGS_DIR", err, errlen) < 0)
		return -EINVAL;
	v = env_get("B3SCALE_AGENT_SPOOL_DIR");
	if (agent_config_dir(cfg->spool_dir, sizeof(cfg->spool_dir),
			     v ? v : "/var/lib/b3scaleagent/spool", "B3SCALE_AGENT_SPOOL_DIR", err,
			     errlen) < 0)
		return -EINVAL;
	/* the scan would take the spool for a format directory, or tar the spool into itself */
	if (cfg->recordings_dir[0] && (agent_config_within(cfg->spool_dir, cfg->recordings_dir) ||
				       agent_config_within(cfg->recordings_dir, cfg->spool_dir))) {
		snprintf(err, errlen, "B3SCALE_AGENT_SPOOL_DIR (%s) and B3SCALE_AGENT_RECORDINGS_DIR "
			 "(%s) must not contain each other", cfg->spool_dir, cfg->recordings_dir);
		return -EINVAL;
	}
	if (env_long("B3SCALE_AGENT_RECORDINGS_SCAN_MS", 10000, 100, 3600000,
		     &cfg->recordings_scan_ms, err, errlen) < 0 ||
	    env_long("B3SCALE_AGENT_DELETE_AFTER_UPLOAD", 0, 0, 1, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->delete_after_upload = (int)n;
	return 0;
}

int agent_config_load(struct agent_config *cfg, char *err, size_t errlen)
{
	const char *v;
	long n;

	memset(cfg, 0, sizeof(*cfg));
	v = env_get("BBB_CONFIG");
	if (agent_config_copy(cfg->bbb_config, sizeof(cfg->bbb_config),
			      v ? v : "/etc/bigbluebutton/bbb-web.properties", "BBB_CONFIG", err,
			      errlen) < 0 ||
	    agent_config_b3scale(cfg, err, errlen) < 0 || agent_config_from_node(cfg, err, errlen) < 0)
		return -EINVAL;
	if (env_long("B3SCALE_AGENT_HEARTBEAT_MS", 1000, 100, 60000, &cfg->heartbeat_ms,
			      err, errlen) < 0 ||
	    env_long("B3SCALE_AGENT_FLUSH_MS", 200, 10, 60000, &cfg->flush_ms, err,
			      errlen) < 0 ||
	    env_long("B3SCALE_AGENT_MAX_EVENTS", 10000, 10, 1000000, &cfg->max_events, err,
			      errlen) < 0 ||
	    env_long("B3SCALE_AGENT_RESYNC_S", 60, 1, 86400, &cfg->resync_s, err,
			      errlen) < 0 ||
	    env_long("B3SCALE_AGENT_REPORT_LOAD", 0, 0, 1, &n, err, errlen) < 0)
		return -EINVAL;
	cfg->report_load = (int)n;
	if (agent_config_uploads(cfg, err, errlen) < 0)
		return -EINVAL;
	v = env_get("B3SCALE_LOG_LEVEL");
	if (agent_config_copy(cfg->log_level, sizeof(cfg->log_level), v ? v : "info",
			      "B3SCALE_LOG_LEVEL", err, errlen) < 0)
		return -EINVAL;
	v = env_get("B3SCALE_LOG_FORMAT");
	if (agent_config_copy(cfg->log_format, sizeof(cfg->log_format), v ? v : "text",
			      "B3SCALE_LOG_FORMAT", err, errlen) < 0)
		return -EINVAL;
	return 0;
}

void agent_config_print(const struct agent_config *cfg, FILE *f)
{
	fprintf(f, "bbb_config=%s (%s)\n", cfg->bbb_config,
		cfg->bbb_config_read ? "read" : "not read");
	fprintf(f, "bbb_api=%s (%s)\n", cfg->bbb_api, cfg->src_api);
	fprintf(f, "bbb_secret=%s (%s)\n", cfg->bbb_secret[0] ? "set" : "unset", cfg->src_secret);
	fprintf(f, "redis=%s:%d (%s, %s)\n", cfg->redis_host, cfg->redis_port,
		cfg->src_redis_host, cfg->src_redis_port);
	fprintf(f, "redis_password=%s (%s)\n", cfg->redis_password[0] ? "set" : "unset",
		cfg->src_redis_password);
	fprintf(f, "api_url=%s\n", cfg->api_url);
	fprintf(f, "access_token=%s\n", cfg->token[0] ? "set" : "unset");
	fprintf(f, "load_factor=%g\n", cfg->load_factor);
	fprintf(f, "heartbeat_ms=%ld\nflush_ms=%ld\nmax_events=%ld\nresync_s=%ld\n",
		cfg->heartbeat_ms, cfg->flush_ms, cfg->max_events, cfg->resync_s);
	fprintf(f, "report_load=%d\n", cfg->report_load);
	if (cfg->recordings_dir[0])
		fprintf(f, "recordings_dir=%s\n", cfg->recordings_dir);
	else
		fprintf(f, "recordings_dir= (uploads off)\n");
	fprintf(f, "recordings_scan_ms=%ld\nspool_dir=%s\ndelete_after_upload=%d\n",
		cfg->recordings_scan_ms, cfg->spool_dir, cfg->delete_after_upload);
	fprintf(f, "log_level=%s\nlog_format=%s\n", cfg->log_level, cfg->log_format);
}

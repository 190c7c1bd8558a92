/* log.c: the process logger; one write(2) per line so threads never interleave. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = LOG_LVL_INFO;
static int log_json;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

int log_setup(const char *level, const char *format)
{
	int i, found = -1;

	if (level && *level) {
		for (i = 0; i < 4; i++)
			if (strcmp(level, log_names[i]) == 0)
				found = i;
		if (found < 0)
			return -EINVAL;
		log_level = found;
	}
	if (format && *format) {
		if (strcmp(format, "json") == 0)
			log_json = 1;
		else if (strcmp(format, "text") == 0)
			log_json = 0;
		else
			return -EINVAL;
	}
	return 0;
}

int log_enabled(enum log_level lvl)
{
	return (int)lvl <= log_level;
}

static size_t log_json_escape(char *dst, size_t cap, const char *s, size_t len)
{
	size_t n = 0, i;

	for (i = 0; i < len && n + 7 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
		} else {
			dst[n++] = (char)c;
		}
	}
	dst[n] = '\0';
	return n;
}

/* 1 when p starts a "key=" token (lowercase letters, digits, '_'). */
static int log_is_key(const char *p)
{
	const char *q = p;

	while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_')
		q++;
	return q > p && *q == '=';
}

/* Turns the event's key=value pairs into JSON members. A quoted value ends at the quote
 * that is followed by the end or by " key="; anything unparsable lands in "msg". */
static size_t log_kv_json(char *dst, size_t cap, const char *msg)
{
	const char *p = msg, *k, *v, *e;
	size_t n = 0;

	while (*p && n + 16 < cap) {
		while (*p == ' ')
			p++;
		if (!log_is_key(p)) {
			n += (size_t)snprintf(dst + n, cap - n, ",\"msg\":\"");
			n += log_json_escape(dst + n, cap - n, p, strlen(p));
			n += (size_t)snprintf(dst + n, cap - n, "\"");
			break;
		}
		k = p;
		v = strchr(p, '=') + 1;
		if (*v == '"') {
			for (e = v + 1; *e && !(*e == '"' && (e[1] == '\0' || (e[1] == ' ' && log_is_key(e + 2))));
			     e++)
				;
			p = *e ? e + 1 : e;
			v++;
		} else {
			e = v + strcspn(v, " ");
			p = e;
		}
		n += (size_t)snprintf(dst + n, cap - n, ",\"%.*s\":\"", (int)(strchr(k, '=') - k), k);
		n += log_json_escape(dst + n, cap - n, v, (size_t)(e - v));
		n += (size_t)snprintf(dst + n, cap - n, "\"");
	}
	if (n >= cap)
		n = cap - 1;
	dst[n] = '\0';
	return n;
}

void log_msg(enum log_level lvl, const char *subsys, const char *fmt, ...)
{
	char msg[2048], esc[4200], line[4600], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_json) {
		log_kv_json(esc, sizeof(esc), msg);
		n = snprintf(line, sizeof(line),
			     "{\"ts\":\"%s.%03ldZ\",\"lvl\":\"%s\",\"subsys\":\"%s\"%s}\n",
			     ts, now.tv_nsec / 1000000, log_names[lvl], subsys, esc);
	} else {
		n = snprintf(line, sizeof(line), "ts=%s.%03ldZ lvl=%s subsys=%s %s\n", ts,
			     now.tv_nsec / 1000000, log_names[lvl], subsys, msg);
	}
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report a failed log write */
	}
}

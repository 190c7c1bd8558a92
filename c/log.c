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

static size_t log_json_escape(char *dst, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
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
		log_json_escape(esc, sizeof(esc), msg);
		n = snprintf(line, sizeof(line),
			     "{\"ts\":\"%s.%03ldZ\",\"lvl\":\"%s\",\"subsys\":\"%s\",\"event\":\"%s\"}\n",
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

/* log.h: one line per event, key=value (or JSON), to stderr. Never pass secrets here.
 *
 * The structure of a line comes from the format string, which is always a literal: it is a
 * list of `key=VALUE` items separated by spaces, where key is [a-z0-9_]+ and VALUE is one
 * printf conversion (or several, or literal text, which are concatenated), optionally in
 * double quotes: `log_info("sub", "event=x backend=%s error=\"%s\" n=%d", ...)`. Each value
 * is formatted on its own and escaped, so a value never adds a field or a line, whatever it
 * contains. Format text that is not a key=VALUE item goes into a `msg` field.
 *
 * text: `ts=<ISO 8601 UTC, ms> lvl=<level> subsys=<subsys> key=value ...`. A value is bare
 *       when it is non-empty printable ASCII without space, `"`, `=` or `\` (and was not
 *       quoted in the format); otherwise it is in double quotes with `"` and `\` escaped and
 *       control characters, DEL and bytes that are not valid UTF-8 written as \n, \r, \t
 *       or \xNN. No raw control character reaches the log.
 * json: {"ts":...,"lvl":...,"subsys":...,"<key>":"<value>",...}, members in format order.
 *       Every value is a JSON string, numbers included (a field's type never depends on
 *       the call); bytes that are not valid UTF-8 become U+FFFD.
 * A line is at most LOG_LINE_MAX bytes, written with one write(2): the longest values are
 * cut (ending in "...(truncated)") until it fits. */
#ifndef B3S_LOG_H
#define B3S_LOG_H

/* PIPE_BUF: a write of this size to a pipe is atomic, so lines never interleave. */
#define LOG_LINE_MAX 4096

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

/* level: error|warn|info|debug; format: text|json. -EINVAL on an unknown name. */
int log_setup(const char *level, const char *format);
int log_enabled(enum log_level lvl);
/* fmt gives the event's key=value pairs, e.g. "call=%s status=%d" (see above). */
void log_msg(enum log_level lvl, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(sub, ...) log_msg(LOG_LVL_ERROR, sub, __VA_ARGS__)
#define log_warn(sub, ...) log_msg(LOG_LVL_WARN, sub, __VA_ARGS__)
#define log_info(sub, ...) log_msg(LOG_LVL_INFO, sub, __VA_ARGS__)
#define log_debug(sub, ...) log_msg(LOG_LVL_DEBUG, sub, __VA_ARGS__)

#endif

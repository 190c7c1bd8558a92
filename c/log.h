/* log.h: one line per event, key=value (or JSON), to stderr. Never pass secrets here. */
#ifndef B3S_LOG_H
#define B3S_LOG_H

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

/* level: error|warn|info|debug; format: text|json. -EINVAL on an unknown name. */
int log_setup(const char *level, const char *format);
int log_enabled(enum log_level lvl);
/* fmt produces the event's key=value pairs, e.g. "call=%s status=%d". */
void log_msg(enum log_level lvl, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(sub, ...) log_msg(LOG_LVL_ERROR, sub, __VA_ARGS__)
#define log_warn(sub, ...) log_msg(LOG_LVL_WARN, sub, __VA_ARGS__)
#define log_info(sub, ...) log_msg(LOG_LVL_INFO, sub, __VA_ARGS__)
#define log_debug(sub, ...) log_msg(LOG_LVL_DEBUG, sub, __VA_ARGS__)

#endif

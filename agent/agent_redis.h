/* agent_redis.h: the subscription to BBB's akka-apps channels (hiredis, blocking + poll). */
#ifndef B3S_AGENT_REDIS_H
#define B3S_AGENT_REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#define AGENT_REDIS_PATTERN "*akka-apps-redis-channel"

struct agent_redis {
	redisContext *c;   /* NULL while disconnected */
	const char *host;
	int port;
	const char *password; /* "" = no AUTH */
};

/* Called for every pmessage; returns nothing: the caller decides what to keep. */
typedef void (*agent_redis_cb)(void *ud, const char *channel, const char *payload, size_t len);

void agent_redis_init(struct agent_redis *r, const char *host, int port, const char *password);
/* Connects, AUTHs when a password is set and PSUBSCRIBEs. 0, or negative errno (the context
 * is closed again) with the reason in err. */
int agent_redis_connect(struct agent_redis *r, long timeout_ms, char *err, size_t errlen);
/* Waits up to timeout_ms for traffic and hands every complete message to cb. 0 (also when
 * nothing came), or -EIO when the connection is lost (closed here; reconnect later). */
int agent_redis_read(struct agent_redis *r, long timeout_ms, agent_redis_cb cb, void *ud,
		     char *err, size_t errlen);
void agent_redis_close(struct agent_redis *r);

#endif

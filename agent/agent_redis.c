/* agent_redis.c: PSUBSCRIBE and message reading with poll(2).
 *
 * hiredis 0.14.1 marks a blocking context dead on a read timeout (redisSetTimeout: EAGAIN
 * becomes a sticky REDIS_ERR_IO), so waiting is done with poll() on the socket and only data
 * that is already there is read (redisBufferRead + redisGetReplyFromReader). The socket
 * timeout stays set as a bound on AUTH/PSUBSCRIBE answers. */
#include "agent_redis.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

void agent_redis_init(struct agent_redis *r, const char *host, int port, const char *password)
{
	r->c = NULL;
	r->host = host;
	r->port = port;
	r->password = password ? password : "";
}

void agent_redis_close(struct agent_redis *r)
{
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
}

/* The context's own error text, or a fallback: for messages after a NULL reply. */
static const char *agent_redis_errstr(const struct agent_redis *r, const char *fallback)
{
	return (r->c && r->c->err && r->c->errstr[0]) ? r->c->errstr : fallback;
}

static int agent_redis_is_str(const redisReply *e, const char *want)
{
	return e && (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) &&
	       (!want || (e->len == strlen(want) && strncmp(e->str, want, e->len) == 0));
}

int agent_redis_connect(struct agent_redis *r, long timeout_ms, char *err, size_t errlen)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	redisReply *reply = NULL;
	int rc = -EIO;

	agent_redis_close(r);
	r->c = redisConnectWithTimeout(r->host, r->port, tv);
	if (r->c == NULL || r->c->err) {
		snprintf(err, errlen, "connect %s:%d: %s", r->host, r->port,
			 agent_redis_errstr(r, "out of memory"));
		rc = -ECONNREFUSED;
		goto out;
	}
	if (redisSetTimeout(r->c, tv) != REDIS_OK || redisEnableKeepAlive(r->c) != REDIS_OK) {
		snprintf(err, errlen, "socket options: %s", agent_redis_errstr(r, strerror(errno)));
		goto out;
	}
	if (r->password[0]) {
		reply = redisCommand(r->c, "AUTH %s", r->password);
		if (!reply) {
			snprintf(err, errlen, "AUTH: %s", agent_redis_errstr(r, "no answer"));
			goto out;
		}
		if (reply->type == REDIS_REPLY_ERROR) {
			/* Redis' own text ("WRONGPASS ...") never repeats the password */
			snprintf(err, errlen, "AUTH refused: %.*s", (int)reply->len, reply->str);
			rc = -EACCES;
			goto out;
		}
		freeReplyObject(reply);
		reply = NULL;
	}
	reply = redisCommand(r->c, "PSUBSCRIBE %s", AGENT_REDIS_PATTERN);
	if (!reply) {
		snprintf(err, errlen, "PSUBSCRIBE: %s", agent_redis_errstr(r, "no answer"));
		goto out;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
	    !agent_redis_is_str(reply->element[0], "psubscribe")) {
		if (reply->type == REDIS_REPLY_ERROR)
			snprintf(err, errlen, "PSUBSCRIBE refused: %.*s", (int)reply->len, reply->str);
		else
			snprintf(err, errlen, "PSUBSCRIBE: unexpected answer (type %d)", reply->type);
		rc = reply->type == REDIS_REPLY_ERROR ? -EACCES : -EPROTO;
		goto out;
	}
	rc = 0;
out:
	if (reply)
		freeReplyObject(reply);
	if (rc < 0)
		agent_redis_close(r);
	return rc;
}

/* Hands every reply already parsed to cb; *got counts them. -EIO on a protocol error. */
static int agent_redis_drain(struct agent_redis *r, agent_redis_cb cb, void *ud, int *got,
			     char *err, size_t errlen)
{
	void *v;

	for (;;) {
		redisReply *m;
		v = NULL;
		if (redisGetReplyFromReader(r->c, &v) != REDIS_OK) {
			snprintf(err, errlen, "read: %s", agent_redis_errstr(r, "protocol error"));
			return -EIO;
		}
		if (!v)
			return 0;
		m = v;
		(*got)++;
		/* pmessage <pattern> <channel> <payload>; anything else (psubscribe acks) is noise */
		if (m->type == REDIS_REPLY_ARRAY && m->elements == 4 &&
		    agent_redis_is_str(m->element[0], "pmessage") &&
		    agent_redis_is_str(m->element[2], NULL) &&
		    m->element[3]->type == REDIS_REPLY_STRING)
			cb(ud, m->element[2]->str, m->element[3]->str, m->element[3]->len);
		freeReplyObject(m);
	}
}

int agent_redis_read(struct agent_redis *r, long timeout_ms, agent_redis_cb cb, void *ud,
		     char *err, size_t errlen)
{
	struct pollfd pfd;
	int got = 0, n;

	if (!r->c) {
		snprintf(err, errlen, "not connected");
		return -ENOTCONN;
	}
	if (agent_redis_drain(r, cb, ud, &got, err, errlen) < 0)
		goto dead;
	if (got)
		return 0;
	pfd.fd = r->c->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	n = poll(&pfd, 1, timeout_ms < 0 ? 0 : (int)timeout_ms);
	if (n < 0) {
		if (errno == EINTR) /* a signal: let the caller look at its flags */
			return 0;
		snprintf(err, errlen, "poll: %s", strerror(errno));
		goto dead;
	}
	if (n == 0)
		return 0;
	/* readable, hung up or failed: the read tells which (EOF sets "Server closed ...") */
	if (redisBufferRead(r->c) != REDIS_OK) {
		snprintf(err, errlen, "read: %s", agent_redis_errstr(r, "connection lost"));
		goto dead;
	}
	if (agent_redis_drain(r, cb, ud, &got, err, errlen) < 0)
		goto dead;
	return 0;
dead:
	agent_redis_close(r);
	return -EIO;
}

/* fuzz_agent_redis.c: what b3scaleagent reads from BBB's Redis. The NDJSON the agent posts
 * is parsed on the server in Lua (lua/b3scale/admin/agent.lua, cjson), so the C side fuzzed
 * here is the agent's reading of Redis traffic: the bytes arrive on a socket as Redis sends
 * them, agent_redis_read() reads and parses them (hiredis' reader) and hands every pmessage
 * to the same steps agent_loop.c takes (agent_events_relevant, the size bound,
 * agent_events_push into a small queue so overflows happen), then the queue is batched as
 * NDJSON (agent_events_batch) and drained, and every batch line must be one line.
 *
 * Input: raw RESP bytes, e.g. "*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$1\r\nc\r\n$2\r\n{}\r\n". */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_events.h"
#include "agent_redis.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_message(void *ud, const char *channel, const char *payload, size_t len)
{
	struct agent_events *q = ud;
	const char *name = agent_events_relevant(payload, len);

	(void)channel;
	if (!name || len > AGENT_EVENTS_MAX_PAYLOAD)
		return;
	(void)agent_events_push(q, payload, len, 1);
}

static void flush(struct agent_events *q)
{
	struct buf out;
	size_t lines, i, nl;

	buf_init(&out);
	while (q->count > 0) {
		if (agent_events_batch(q, &out, &lines) != 0 || lines == 0)
			abort();
		for (i = 0, nl = 0; i < out.len; i++)
			nl += out.data[i] == '\n';
		if (nl != lines) /* NDJSON: exactly one line per event */
			abort();
		agent_events_drop(q, lines);
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_redis r;
	struct agent_events q;
	char err[256];
	int sv[2], pending, rounds = 0;
	size_t off = 0;

	if (size > 200000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	agent_redis_init(&r, "fuzz", 0, "");
	r.c = redisConnectFd(sv[0]);
	if (!r.c || r.c->err || agent_events_init(&q, 8) != 0)
		abort();
	/* the writing end does not block: a full socket buffer is read first, then written on */
	if (fcntl(sv[1], F_SETFL, O_NONBLOCK) != 0)
		abort();
	while (off < size && rounds < 10000) {
		ssize_t n = write(sv[1], data + off, size - off);
		if (n > 0)
			off += (size_t)n;
		else if (errno != EAGAIN)
			break;
		/* read what is there, as the agent loop does, until the socket is empty */
		while (r.c && rounds++ < 10000 && ioctl(sv[0], FIONREAD, &pending) == 0 && pending > 0)
			if (agent_redis_read(&r, 0, on_message, &q, err, sizeof(err)) < 0)
				break;
		if (!r.c)
			break;
	}
	/* Redis goes away: the agent sees the end of the stream */
	close(sv[1]);
	if (r.c && agent_redis_read(&r, 0, on_message, &q, err, sizeof(err)) == 0 && r.c)
		(void)agent_redis_read(&r, 0, on_message, &q, err, sizeof(err));
	flush(&q);
	agent_redis_close(&r);
	agent_events_free(&q);
	return 0;
}

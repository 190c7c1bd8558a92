/* agent_events.h: which BBB messages matter, and the bounded queue they wait in. */
#ifndef B3S_AGENT_EVENTS_H
#define B3S_AGENT_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define AGENT_EVENTS_MAX_PAYLOAD (64u << 10) /* a relevant message larger than this is dropped */
#define AGENT_EVENTS_MAX_BYTES (32u << 20)   /* queue bound in bytes, besides MAX_EVENTS */
#define AGENT_EVENTS_BATCH_LINES 500         /* per events POST; also "flush now" threshold */
#define AGENT_EVENTS_BATCH_BYTES (1u << 20)  /* per events POST (a single line may exceed it) */

struct agent_events_item {
	char *data;
	size_t len;
};

struct agent_events {
	struct agent_events_item *ring; /* fixed at init: never grows */
	size_t cap, head, count;
	size_t bytes;
	int64_t first_at;               /* when the oldest queued event arrived (ms) */
	uint64_t dropped;               /* events lost to overflows, for the logs */
};

/* The message name when the payload starts with {"envelope":{"name":"<relevant name>", else
 * NULL. No JSON parsing: BBB's akka-apps always serialise the envelope first. */
const char *agent_events_relevant(const char *payload, size_t len);

int agent_events_init(struct agent_events *q, size_t max_events);
void agent_events_free(struct agent_events *q);
/* Copies the payload in. -ENOBUFS when the queue was full: it has then been emptied (the
 * caller resyncs state instead); -ENOMEM likewise when the copy failed. */
int agent_events_push(struct agent_events *q, const char *payload, size_t len, int64_t now);
/* NDJSON of the oldest events (at most AGENT_EVENTS_BATCH_LINES / _BYTES) into out. */
int agent_events_batch(const struct agent_events *q, struct buf *out, size_t *lines);
/* Forgets the n oldest events (after they were delivered or rejected). */
void agent_events_drop(struct agent_events *q, size_t n);
void agent_events_clear(struct agent_events *q);

#endif

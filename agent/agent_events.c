/* agent_events.c: the relevance filter (a prefix test, no JSON) and a fixed-size ring queue. */
#include "agent_events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_EVENTS_PREFIX "{\"envelope\":{\"name\":\""

/* Meeting, attendee, media and breakout lifecycle: what b3scaled needs to route and count.
 * UserMutedVoiceEvtMsg is left out: mute does not change listen-only state, which
 * UserJoinedVoiceConfToClientEvtMsg already carries ("listenOnly"). */
static const char *const agent_events_names[] = {
	"MeetingCreatedEvtMsg",
	"MeetingEndedEvtMsg",
	"MeetingDestroyedEvtMsg",
	"UserJoinedMeetingEvtMsg",
	"UserLeftMeetingEvtMsg",
	"UserJoinedVoiceConfToClientEvtMsg",
	"UserLeftVoiceConfToClientEvtMsg",
	"UserBroadcastCamStartedEvtMsg",
	"UserBroadcastCamStoppedEvtMsg",
	"BreakoutRoomStartedEvtMsg",
	"BreakoutRoomEndedEvtMsg",
};

const char *agent_events_relevant(const char *payload, size_t len)
{
	const size_t plen = sizeof(AGENT_EVENTS_PREFIX) - 1;
	const char *name = payload + plen;
	size_t i, rest;

	if (len <= plen || memcmp(payload, AGENT_EVENTS_PREFIX, plen) != 0)
		return NULL;
	rest = len - plen;
	for (i = 0; i < sizeof(agent_events_names) / sizeof(agent_events_names[0]); i++) {
		size_t n = strlen(agent_events_names[i]);
		/* the closing quote matters: "MeetingEndedEvtMsgX" is not MeetingEndedEvtMsg */
		if (rest > n && name[n] == '"' && memcmp(name, agent_events_names[i], n) == 0)
			return agent_events_names[i];
	}
	return NULL;
}

int agent_events_init(struct agent_events *q, size_t max_events)
{
	memset(q, 0, sizeof(*q));
	q->ring = calloc(max_events, sizeof(*q->ring));
	if (!q->ring)
		return -ENOMEM;
	q->cap = max_events;
	return 0;
}

void agent_events_clear(struct agent_events *q)
{
	while (q->count > 0) {
		free(q->ring[q->head].data);
		q->ring[q->head].data = NULL;
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	q->head = 0;
	q->bytes = 0;
	q->first_at = 0;
}

void agent_events_free(struct agent_events *q)
{
	if (!q->ring)
		return;
	agent_events_clear(q);
	free(q->ring);
	q->ring = NULL;
}

int agent_events_push(struct agent_events *q, const char *payload, size_t len, int64_t now)
{
	struct agent_events_item *it;
	char *copy;

	if (q->count == q->cap || q->bytes + len > AGENT_EVENTS_MAX_BYTES) {
		q->dropped += q->count + 1;
		agent_events_clear(q);
		return -ENOBUFS;
	}
	copy = malloc(len + 1);
	if (!copy) {
		q->dropped += q->count + 1;
		agent_events_clear(q);
		return -ENOMEM;
	}
	memcpy(copy, payload, len);
	copy[len] = '\0';
	/* Valid JSON only has raw line breaks between tokens (BBB never sends any); blanks keep
	 * the message valid and NDJSON one line per event. */
	for (size_t i = 0; i < len; i++)
		if (copy[i] == '\n' || copy[i] == '\r')
			copy[i] = ' ';
	it = &q->ring[(q->head + q->count) % q->cap];
	it->data = copy;
	it->len = len;
	if (q->count == 0)
		q->first_at = now;
	q->count++;
	q->bytes += len;
	return 0;
}

int agent_events_batch(const struct agent_events *q, struct buf *out, size_t *lines)
{
	size_t i;

	buf_reset(out);
	*lines = 0;
	for (i = 0; i < q->count && i < AGENT_EVENTS_BATCH_LINES; i++) {
		const struct agent_events_item *it = &q->ring[(q->head + i) % q->cap];
		if (i > 0 && out->len + it->len + 1 > AGENT_EVENTS_BATCH_BYTES)
			break;
		buf_append(out, it->data, it->len);
		buf_append(out, "\n", 1);
	}
	if (out->oom)
		return -ENOMEM;
	*lines = i;
	return 0;
}

void agent_events_drop(struct agent_events *q, size_t n)
{
	while (n-- > 0 && q->count > 0) {
		struct agent_events_item *it = &q->ring[q->head];
		q->bytes -= it->len;
		free(it->data);
		it->data = NULL;
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	/* what is left keeps its first_at: it has waited long enough and goes out next */
	if (q->count == 0)
		q->first_at = 0;
}

/* bbbsim_state.c: meetings, attendees and the request log, guarded by one mutex. */
#include "bbbsim_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bbb_checksum.h"
#include "clock.h"

static const char bbbsim_state_lower_alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";

int bbbsim_state_init(struct bbbsim_state *st, const char *secret, const char *name,
		      const char *hostname)
{
	memset(st, 0, sizeof(*st));
	st->secret = strdup(secret);
	st->name = strdup(name);
	st->hostname = strdup(hostname);
	if (!st->secret || !st->name || !st->hostname)
		goto fail;
	if (pthread_mutex_init(&st->lock, NULL) != 0)
		goto fail;
	/* CLOCK_MONOTONIC so a wall-clock jump cannot stretch a simulated hang */
	{
		pthread_condattr_t ca;
		int rc;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		rc = pthread_cond_init(&st->wake, &ca);
		pthread_condattr_destroy(&ca);
		if (rc != 0) {
			pthread_mutex_destroy(&st->lock);
			goto fail;
		}
	}
	return 0;
fail:
	free(st->secret);
	free(st->name);
	free(st->hostname);
	memset(st, 0, sizeof(*st));
	return -ENOMEM;
}

void bbbsim_state_free(struct bbbsim_state *st)
{
	bbbsim_state_reset(st);
	pthread_cond_destroy(&st->wake);
	pthread_mutex_destroy(&st->lock);
	free(st->secret);
	free(st->name);
	free(st->hostname);
	free(st->recordings_dir);
}

void bbbsim_state_lock(struct bbbsim_state *st)
{
	pthread_mutex_lock(&st->lock);
}

void bbbsim_state_unlock(struct bbbsim_state *st)
{
	pthread_mutex_unlock(&st->lock);
}

void bbbsim_state_stop(struct bbbsim_state *st)
{
	pthread_mutex_lock(&st->lock);
	st->stopping = 1;
	pthread_cond_broadcast(&st->wake);
	pthread_mutex_unlock(&st->lock);
}

int bbbsim_state_sleep_locked(struct bbbsim_state *st, long ms)
{
	struct timespec until;

	clock_after(&until, CLOCK_MONOTONIC, ms);
	while (!st->stopping) {
		if (pthread_cond_timedwait(&st->wake, &st->lock, &until) == ETIMEDOUT)
			return 0;
	}
	return -ECANCELED;
}

struct bbbsim_meeting *bbbsim_state_find(struct bbbsim_state *st, const char *meeting_id)
{
	struct bbbsim_meeting *m;

	for (m = st->meetings; m; m = m->next)
		if (strcmp(m->meeting_id, meeting_id) == 0)
			return m;
	return NULL;
}

int bbbsim_state_voice_bridge_used(struct bbbsim_state *st, const char *vb)
{
	struct bbbsim_meeting *m;

	for (m = st->meetings; m; m = m->next)
		if (strcmp(m->voice_bridge, vb) == 0)
			return 1;
	return 0;
}

void bbbsim_state_add(struct bbbsim_state *st, struct bbbsim_meeting *m)
{
	struct bbbsim_meeting **pp = &st->meetings;

	while (*pp)
		pp = &(*pp)->next;
	m->next = NULL;
	*pp = m;
}

void bbbsim_state_remove(struct bbbsim_state *st, struct bbbsim_meeting *m)
{
	struct bbbsim_meeting **pp;

	for (pp = &st->meetings; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			bbbsim_state_meeting_free(m);
			return;
		}
	}
}

void bbbsim_state_reset(struct bbbsim_state *st)
{
	while (st->meetings)
		bbbsim_state_remove(st, st->meetings);
	bbbsim_state_log_clear(st);
	st->fail = BBBSIM_FAIL_NONE;
	st->delay_ms = 0;
}

static void bbbsim_state_reqlog_free(struct bbbsim_reqlog *e)
{
	free(e->call);
	free(e->method);
	free(e->query);
	memset(e, 0, sizeof(*e));
}

int bbbsim_state_log_request(struct bbbsim_state *st, const char *call, const char *method,
			     const char *query, size_t qlen, int checksum_ok)
{
	struct bbbsim_reqlog e = { 0 };
	size_t slot;

	e.call = strdup(call);
	e.method = strdup(method);
	e.query = strndup(query, qlen);
	e.checksum_ok = checksum_ok;
	if (!e.call || !e.method || !e.query) {
		bbbsim_state_reqlog_free(&e);
		return -ENOMEM;
	}
	/* a ring: once full, the oldest entry makes room */
	if (st->log_n == BBBSIM_STATE_LOG_MAX) {
		bbbsim_state_reqlog_free(&st->log[st->log_first]);
		st->log_first = (st->log_first + 1) % BBBSIM_STATE_LOG_MAX;
		st->log_n--;
	}
	slot = (st->log_first + st->log_n) % BBBSIM_STATE_LOG_MAX;
	st->log[slot] = e;
	st->log_n++;
	return 0;
}

void bbbsim_state_log_clear(struct bbbsim_state *st)
{
	size_t i;

	for (i = 0; i < BBBSIM_STATE_LOG_MAX; i++)
		bbbsim_state_reqlog_free(&st->log[i]);
	st->log_first = 0;
	st->log_n = 0;
}

const struct bbbsim_reqlog *bbbsim_state_log_at(const struct bbbsim_state *st, size_t i)
{
	if (i >= st->log_n)
		return NULL;
	return &st->log[(st->log_first + i) % BBBSIM_STATE_LOG_MAX];
}

int bbbsim_state_kv_set(struct bbbsim_kvlist *l, const char *key, const char *value)
{
	char *v;
	size_t i;

	v = strdup(value);
	if (!v)
		return -ENOMEM;
	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].key, key) == 0) {
			free(l->v[i].value);
			l->v[i].value = v;
			return 0;
		}
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct bbbsim_kv *nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv)
			goto oom;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n].key = strdup(key);
	if (!l->v[l->n].key)
		goto oom;
	l->v[l->n].value = v;
	l->n++;
	return 0;
oom:
	free(v);
	return -ENOMEM;
}

void bbbsim_state_kv_free(struct bbbsim_kvlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int bbbsim_state_random(char *out, size_t n, const char *alphabet)
{
	unsigned char raw[64];
	size_t alen = strlen(alphabet), i, got = 0;
	ssize_t r;

	if (n > sizeof(raw))
		return -EINVAL;
	while (got < n) {
		r = getrandom(raw + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	/* the modulo bias is irrelevant for simulated ids and passwords */
	for (i = 0; i < n; i++)
		out[i] = alphabet[raw[i] % alen];
	out[n] = '\0';
	return 0;
}


struct bbbsim_meeting *bbbsim_state_meeting_new(const char *meeting_id, const char *name)
{
	char sha[BBB_CHECKSUM_HEX_MAX], idbuf[BBB_CHECKSUM_HEX_MAX + 24];
	struct bbbsim_meeting *m;
	time_t secs;
	struct tm tm;

	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->create_time = clock_wall_ms();
	m->start_time = m->create_time;
	/* sha1(meetingID): the checksum helper hashes call + data + secret, both empty here */
	if (bbb_checksum_compute(BBB_HASH_SHA1, "", meeting_id, strlen(meeting_id), "", sha) < 0)
		goto fail;
	snprintf(idbuf, sizeof(idbuf), "%s-%lld", sha, m->create_time);
	/* Java Date.toString() in UTC, the shape bbb-web prints */
	secs = (time_t)(m->create_time / 1000);
	gmtime_r(&secs, &tm);
	strftime(m->create_date, sizeof(m->create_date), "%a %b %d %H:%M:%S UTC %Y", &tm);
	m->meeting_id = strdup(meeting_id);
	m->name = strdup(name);
	m->internal_id = strdup(idbuf);
	if (!m->meeting_id || !m->name || !m->internal_id)
		goto fail;
	return m;
fail:
	bbbsim_state_meeting_free(m);
	return NULL;
}

struct bbbsim_meeting *bbbsim_state_breakout_new(struct bbbsim_state *st,
						 struct bbbsim_meeting *parent, long sequence)
{
	char seed[400], sha[BBB_CHECKSUM_HEX_MAX], ext[BBB_CHECKSUM_HEX_MAX + 24], name[300];
	long long now = clock_wall_ms();
	struct bbbsim_meeting *m = NULL;
	size_t len;
	char *list;

	/* akka-apps: sha1(parentInternalId-time-seq)-time; the internal ID from that as usual */
	snprintf(seed, sizeof(seed), "%s-%lld-%ld", parent->internal_id, now, sequence);
	if (bbb_checksum_compute(BBB_HASH_SHA1, "", seed, strlen(seed), "", sha) < 0)
		return NULL;
	snprintf(ext, sizeof(ext), "%s-%lld", sha, now);
	snprintf(name, sizeof(name), "%s (Room %ld)", parent->name, sequence);
	m = bbbsim_state_meeting_new(ext, name);
	if (!m)
		return NULL;
	m->is_breakout = 1;
	m->sequence = sequence;
	m->parent_id = strdup(parent->internal_id);
	m->attendee_pw = strdup(parent->attendee_pw);
	m->moderator_pw = strdup(parent->moderator_pw);
	m->voice_bridge = strdup(parent->voice_bridge);
	m->dial_number = strdup(parent->dial_number);
	len = (parent->breakouts ? strlen(parent->breakouts) + 1 : 0) + strlen(m->internal_id) + 1;
	list = malloc(len);
	if (!m->parent_id || !m->attendee_pw || !m->moderator_pw || !m->voice_bridge ||
	    !m->dial_number || !list) {
		free(list);
		bbbsim_state_meeting_free(m);
		return NULL;
	}
	snprintf(list, len, "%s%s%s", parent->breakouts ? parent->breakouts : "",
		 parent->breakouts ? "," : "", m->internal_id);
	free(parent->breakouts);
	parent->breakouts = list;
	bbbsim_state_add(st, m);
	return m;
}

static void bbbsim_state_attendee_free(struct bbbsim_attendee *a)
{
	free(a->internal_id);
	free(a->full_name);
	bbbsim_state_kv_free(&a->custom);
}

void bbbsim_state_meeting_free(struct bbbsim_meeting *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->natt; i++)
		bbbsim_state_attendee_free(&m->att[i]);
	free(m->att);
	bbbsim_state_kv_free(&m->meta);
	free(m->meeting_id);
	free(m->internal_id);
	free(m->name);
	free(m->attendee_pw);
	free(m->moderator_pw);
	free(m->voice_bridge);
	free(m->dial_number);
	free(m->parent_id);
	free(m->breakouts);
	free(m->ended_url);
	free(m);
}

struct bbbsim_attendee *bbbsim_state_attendee_add(struct bbbsim_meeting *m, const char *full_name,
						  int moderator)
{
	struct bbbsim_attendee *a;
	char rnd[16], iid[20];
	size_t i;

	if (m->natt == m->catt) {
		size_t cap = m->catt ? m->catt * 2 : 8;
		struct bbbsim_attendee *na = realloc(m->att, cap * sizeof(*na));
		if (!na)
			return NULL;
		m->att = na;
		m->catt = cap;
	}
	if (bbbsim_state_random(rnd, 12, bbbsim_state_lower_alnum) < 0)
		return NULL;
	snprintf(iid, sizeof(iid), "w_%s", rnd);
	a = &m->att[m->natt];
	memset(a, 0, sizeof(*a));
	a->internal_id = strdup(iid);
	a->full_name = strdup(full_name);
	if (!a->internal_id || !a->full_name) {
		bbbsim_state_attendee_free(a);
		return NULL;
	}
	a->moderator = moderator;
	/* the first moderator becomes presenter, as the HTML5 client does */
	if (moderator) {
		a->presenter = 1;
		for (i = 0; i < m->natt; i++)
			if (m->att[i].presenter)
				a->presenter = 0;
	}
	m->natt++;
	m->has_user_joined = 1;
	return a;
}

int bbbsim_state_set_attendees(struct bbbsim_meeting *m, size_t count)
{
	struct bbbsim_counts c;
	struct bbbsim_attendee *a;
	char name[48];
	unsigned k;

	while (m->natt > count)
		bbbsim_state_attendee_free(&m->att[--m->natt]);
	while (m->natt < count) {
		bbbsim_state_counts(m, &c);
		k = ++m->synth_seq;
		snprintf(name, sizeof(name), "Sim User %u", k);
		a = bbbsim_state_attendee_add(m, name, c.moderators == 0);
		if (!a)
			return -ENOMEM;
		a->synthetic = 1;
		/* a plausible mix: half in voice, a quarter listen-only, a third on camera */
		a->voice = (k % 2) == 0;
		a->listen_only = (k % 4) == 1;
		a->video = (k % 3) == 0;
	}
	return 0;
}

void bbbsim_state_counts(const struct bbbsim_meeting *m, struct bbbsim_counts *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->participants = m->natt;
	for (i = 0; i < m->natt; i++) {
		c->listeners += m->att[i].listen_only ? 1 : 0;
		c->voice += m->att[i].voice ? 1 : 0;
		c->video += m->att[i].video ? 1 : 0;
		c->moderators += m->att[i].moderator ? 1 : 0;
	}
}

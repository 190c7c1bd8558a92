/* bbbsim_state.h: the simulated node's in-memory meetings, request log and failure mode. */
#ifndef BBBSIM_STATE_H
#define BBBSIM_STATE_H

#include <pthread.h>
#include <stddef.h>

#define BBBSIM_STATE_LOG_MAX 1000

struct bbbsim_kv {
	char *key;
	char *value;
};

/* Ordered key/value list (metadata, user custom data); keys are unique. */
struct bbbsim_kvlist {
	struct bbbsim_kv *v;
	size_t n;
	size_t cap;
};

struct bbbsim_attendee {
	char *internal_id;  /* w_xxxxxxxxxxxx, what join answers as user_id */
	char *full_name;
	int moderator;
	int presenter;
	int listen_only;
	int voice;
	int video;
	int synthetic;      /* added by POST /sim/attendees */
	struct bbbsim_kvlist custom;
};

struct bbbsim_meeting {
	char *meeting_id;
	char *internal_id;
	char *name;
	char *attendee_pw;
	char *moderator_pw;
	char *voice_bridge;
	char *dial_number;
	char create_date[40];
	long long create_time;
	long long start_time;
	long duration;
	long max_users;
	int record;
	int has_body;        /* created with an XML (presentation) body */
	int inserted;        /* insertDocument calls it received */
	int chats;           /* sendChatMessage calls it received */
	int has_user_joined; /* sticky once anybody joined */
	unsigned synth_seq;  /* numbering for synthetic attendees */
	int is_breakout;
	char *parent_id;     /* a breakout's parent, by internal ID */
	long sequence;       /* a breakout's number */
	char *breakouts;     /* a parent's breakout rooms' internal IDs, comma-separated */
	struct bbbsim_kvlist meta;
	char *ended_url;     /* meetingEndedURL of the create, NULL when none */
	struct bbbsim_attendee *att;
	size_t natt;
	size_t catt;
	struct bbbsim_meeting *next;
};

struct bbbsim_counts {
	size_t participants;
	size_t listeners;
	size_t voice;
	size_t video;
	size_t moderators;
};

enum bbbsim_fail {
	BBBSIM_FAIL_NONE = 0,
	BBBSIM_FAIL_ERROR,   /* every API call answers HTTP 500 */
	BBBSIM_FAIL_HANG,    /* every API call waits delay_ms first */
};

struct bbbsim_reqlog {
	char *call;
	char *method;
	char *query;
	int checksum_ok;
};

struct bbbsim_state {
	pthread_mutex_t lock;
	pthread_cond_t wake;     /* broadcast on shutdown so sleeping requests return */
	int stopping;
	char *secret;
	char *name;
	char *hostname;          /* public base for join redirects, no trailing slash */
	char *recordings_dir;    /* where ended record=true meetings are published; NULL: none */
	struct bbbsim_meeting *meetings;  /* creation order */
	struct bbbsim_reqlog log[BBBSIM_STATE_LOG_MAX];
	size_t log_first;        /* index of the oldest entry */
	size_t log_n;
	enum bbbsim_fail fail;
	long delay_ms;
	unsigned long connections; /* TCP connections accepted (atomic), to see keep-alive */
};

int bbbsim_state_init(struct bbbsim_state *st, const char *secret, const char *name,
		      const char *hostname);
void bbbsim_state_free(struct bbbsim_state *st);
void bbbsim_state_lock(struct bbbsim_state *st);
void bbbsim_state_unlock(struct bbbsim_state *st);
/* Wakes every sleeping request and makes later sleeps return at once. */
void bbbsim_state_stop(struct bbbsim_state *st);
/* Called with the lock held; releases it while waiting. -ECANCELED when stopping. */
int bbbsim_state_sleep_locked(struct bbbsim_state *st, long ms);

/* All of the following expect the lock to be held. */
struct bbbsim_meeting *bbbsim_state_find(struct bbbsim_state *st, const char *meeting_id);
int bbbsim_state_voice_bridge_used(struct bbbsim_state *st, const char *vb);
/* Appends m (owned by the state afterwards). */
void bbbsim_state_add(struct bbbsim_state *st, struct bbbsim_meeting *m);
/* Unlinks and frees m. */
void bbbsim_state_remove(struct bbbsim_state *st, struct bbbsim_meeting *m);
/* Drops every meeting, the request log and the failure mode. */
void bbbsim_state_reset(struct bbbsim_state *st);
int bbbsim_state_log_request(struct bbbsim_state *st, const char *call, const char *method,
			     const char *query, size_t qlen, int checksum_ok);
void bbbsim_state_log_clear(struct bbbsim_state *st);
/* i-th entry, oldest first. */
const struct bbbsim_reqlog *bbbsim_state_log_at(const struct bbbsim_state *st, size_t i);

/* Meeting helpers (no lock needed until the meeting is shared). */
struct bbbsim_meeting *bbbsim_state_meeting_new(const char *meeting_id, const char *name);
/* A breakout room of parent, as akka-apps makes one when a moderator opens them: IDs
 * derived from the parent's internal ID, the parent's passwords; added to the state. */
struct bbbsim_meeting *bbbsim_state_breakout_new(struct bbbsim_state *st,
						 struct bbbsim_meeting *parent, long sequence);
void bbbsim_state_meeting_free(struct bbbsim_meeting *m);
/* bbb-web lists attendees by their internal ID, whatever userID the join passed. */
struct bbbsim_attendee *bbbsim_state_attendee_add(struct bbbsim_meeting *m, const char *full_name,
						  int moderator);
/* Adds or removes synthetic attendees until the meeting has count attendees. */
int bbbsim_state_set_attendees(struct bbbsim_meeting *m, size_t count);
void bbbsim_state_counts(const struct bbbsim_meeting *m, struct bbbsim_counts *c);

int bbbsim_state_kv_set(struct bbbsim_kvlist *l, const char *key, const char *value);
void bbbsim_state_kv_free(struct bbbsim_kvlist *l);

/* Random characters from alphabet into out (n chars plus NUL). */
int bbbsim_state_random(char *out, size_t n, const char *alphabet);

#endif

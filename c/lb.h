/* lb.h: the domain records shared between the database layer, the scheduler and the API. */
#ifndef B3S_LB_H
#define B3S_LB_H

#include <stddef.h>

struct lb_frontend {
	char id[40];
	char key[72];
	char *secret;
	char *previous_secret; /* NULL unless a rotation runs: checksums with it verify too */
	char *settings;  /* JSON text, "{}" when empty */
	char *required_tags; /* settings.required_tags joined with ',' */
	long meetings_limit; /* settings.meetings_limit; 0 = no limit */
	int active;
};

struct lb_backend {
	char id[40];
	char *host;      /* API base URL ending in '/' */
	char *secret;
	char *tags;      /* comma-separated */
	char admin_state[16];
	char node_state[16];
	double load_factor;
	long meetings, pending, participants, video, voice, listeners;
	long report_age_ms; /* since the counters were refreshed; -1 when never */
	double cpu, mem;    /* 0..1 from the node's agent, -1 when unknown */
	/* seats reserved for young meetings beyond what they reported (sql/0023): the sum of
	 * max(0, expected_size x decay - participants) */
	long reserved;
	long max_meetings, max_attendees; /* hard caps; 0: none */
};

struct lb_backend_list {
	struct lb_backend *v;
	size_t n;
	unsigned long gen; /* non-zero: a placement snapshot; same gen, same ids, hosts, tags */
	long long version; /* placement_version.v it was read at (sql/0013); -1 unknown */
};

struct lb_meeting {
	long long id;
	char *backend_meeting_id;
	int has_backend;
	struct lb_backend backend;  /* id, host, secret and states only */
	int confirmed;
	long participants; /* last known from the node */
};

void lb_frontend_clear(struct lb_frontend *f);
void lb_backend_clear(struct lb_backend *b);
/* A copy that owns its strings; 0 or -ENOMEM (dst cleared). */
int lb_backend_copy(struct lb_backend *dst, const struct lb_backend *src);
void lb_backend_list_clear(struct lb_backend_list *l);
void lb_meeting_clear(struct lb_meeting *m);
/* A backend that may receive calls for its meetings (new meetings need admin_state ready too). */
int lb_backend_reachable(const struct lb_backend *b);
/* 1 when the comma-separated tags contain tag. */
int lb_backend_has_tag(const struct lb_backend *b, const char *tag);

#endif

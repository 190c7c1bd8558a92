/* node_share.h: one node call for many identical requests (and one answer for many). Frontends poll getMeetingInfo
 * and isMeetingRunning all day, often hundreds for one meeting: calls marked as shared (the
 * same signed URL means the same question) wait for the one already running (single flight)
 * and reuse a fresh answer for B3SCALE_INFO_CACHE_MS. Any change to the meeting (end,
 * re-create, an agent's event, on any instance through LISTEN/NOTIFY) drops its answers.
 * The table is guarded by one mutex; node_loop.c drives it from its thread, and HTTP workers
 * read fresh answers without parking. */
#ifndef B3S_NODE_SHARE_H
#define B3S_NODE_SHARE_H

#include <stddef.h>

#include "proxy.h"

/* A stored outcome: the node's answer (rc 0, res) or why there was none (rc < 0, err). */
struct node_share_answer {
	int rc;
	struct proxy_result res;
	char err[256];
};

enum node_share_role {
	NODE_SHARE_LEAD,   /* nobody asks this yet: run the call, then node_share_done */
	NODE_SHARE_FOLLOW, /* the same call is running: the caller's token waits for it */
	NODE_SHARE_HIT,    /* a fresh answer was copied into *hit */
	NODE_SHARE_NONE,   /* the table is full: run the call unshared */
};

/* reuse_ms 0: single flight only, no reuse. */
void node_share_setup(long reuse_ms);
void node_share_teardown(void);

/* The role of a call for key (its signed URL) about scope (the backend meeting ID). FOLLOW
 * keeps token until node_share_done hands it back. */
enum node_share_role node_share_begin(const char *key, const char *scope, void *token,
				      struct node_share_answer *hit);
/* A fresh answer for key copied into *hit (1), or 0: the workers' look before parking. */
int node_share_lookup(const char *key, struct node_share_answer *hit);
/* The leader of key finished: keeps a successful answer for reuse (unless its meeting
 * changed meanwhile) and returns the followers' tokens (malloc'ed, caller frees), *n of them. */
void **node_share_done(const char *key, const struct node_share_answer *a, size_t *n);

/* Answers made here rather than by a node (getMeetings from the live view): a mark taken
 * before reading what the answer is made of, then the answer kept for the reuse window
 * unless scope changed since the mark. Answers over NODE_SHARE_KEEP_MAX bytes, or past the
 * table's byte bound, are not kept. */
struct node_share_mark {
	unsigned long gen, all_gen, forgets;
};
#define NODE_SHARE_KEEP_MAX ((size_t)8 << 20)
struct node_share_mark node_share_mark(const char *scope);
/* gz: the answer's gzip form too (NULL: none), for callers that accept it. */
void node_share_keep(const char *key, const char *scope, struct node_share_mark mark,
		     const struct node_share_answer *a, const struct buf *gz);
/* A kept answer handed out: its bytes (gzip-encoded when gzip says so) stay valid until
 * node_share_release(ref). */
struct node_share_kept {
	const char *data;
	size_t len;
	int gzip;
	void *ref;
};
/* A kept answer for key (the gzip form when gzip and there is one), 1; or 0: none, the
 * caller builds it. A fresh one; or one whose window ended or whose scope changed, younger
 * than two windows: then *rebuild says the caller is the one to have it rebuilt (the others
 * get the same one meanwhile, for 5 s at most; and not before it is 200 ms old). An answer built while its
 * scope changed is kept for this grace only. Nothing is handed out stale after a change of
 * unknown extent (the listener reconnected) or once node_share_forget dropped it. */
int node_share_lookup_kept(const char *key, int gzip, struct node_share_kept *out,
			   int *rebuild);
/* Lets go of the reference lookup_kept gave with an answer (the bytes stay valid till then). */
void node_share_release(void *ref);
/* Drops key's kept answer at once, and any being built from reads made before (scope as
 * node_share_keep's): a change made here that its callers must see next. */
void node_share_forget(const char *key, const char *scope);

/* A change to one meeting (its backend meeting ID), to one frontend's meetings (its key and
 * '~'), or to anything (NULL). */
void node_share_invalidate(const char *scope);
/* Reuse holds only while changes can be heard (the LISTEN connection is up). */
void node_share_set_live(int live);

/* Copies an answer (0, or -ENOMEM). */
int node_share_copy(struct node_share_answer *dst, const struct node_share_answer *src);
void node_share_answer_free(struct node_share_answer *a);

/* Calls answered without asking the node: by waiting for one in flight, or from the window. */
void node_share_counters(unsigned long *coalesced, unsigned long *reused);

#endif

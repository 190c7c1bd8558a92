/* node_share.c: the table of shared node calls (see node_share.h). An entry lives while its
 * call runs (the leader and its followers) and then, holding the answer, for the reuse
 * window. Invalidation needs no walk over entries: each meeting ID hashes to one of
 * NODE_SHARE_SLOTS generation counters, an entry remembers its slot's value when its call
 * started, and a change bumps the slot (a collision only costs a spurious miss). */
#include "node_share.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"

#define NODE_SHARE_BUCKETS 4096
#define NODE_SHARE_SLOTS 1024
#define NODE_SHARE_MAX 16384 /* entries at most; past it calls run unshared */
#define NODE_SHARE_MAX_BYTES ((size_t)64 << 20) /* kept answers' bodies together */
#define NODE_SHARE_REBUILD_MS 5000 /* a rebuild not finished by then is someone else's again */
#define NODE_SHARE_REBUILD_GAP_MS 200 /* a kept answer is at least this old before a rebuild */

struct node_share_entry {
	struct node_share_entry *next;
	char *key;
	unsigned slot;
	unsigned long gen, all_gen; /* generations when the call started */
	int running;
	void **followers;
	size_t nf, capf;
	int has_answer;
	struct node_share_answer answer;
	long long at_ms;
	int kept;               /* made here (node_share_keep), not by a node: in blob */
	struct node_share_blob *blob;
	long long rebuild_at;   /* a caller is rebuilding this kept answer since then */
};

/* A kept answer's bytes, handed to every caller without a copy (a getMeetings list is MBs,
 * and copying it under the table's mutex serialised its callers). */
struct node_share_blob {
	atomic_int refs;
	size_t len;         /* data[0..len) the answer, data[len + 1..+gz_len) its gzip form */
	size_t gz_len;      /* 0: none */
	char data[];
};

static struct {
	pthread_mutex_t mu;
	struct node_share_entry *buckets[NODE_SHARE_BUCKETS];
	unsigned long gens[NODE_SHARE_SLOTS], all_gen;
	unsigned long forgets[NODE_SHARE_SLOTS]; /* node_share_forget's, by scope */
	size_t count, bytes;
	long reuse_ms;
	int live;
	unsigned long coalesced, reused;
} share = { .mu = PTHREAD_MUTEX_INITIALIZER };

void node_share_answer_free(struct node_share_answer *a)
{
	proxy_result_free(&a->res);
}

int node_share_copy(struct node_share_answer *dst, const struct node_share_answer *src)
{
	dst->rc = src->rc;
	memcpy(dst->err, src->err, sizeof(dst->err));
	dst->res.status = src->res.status;
	memcpy(dst->res.content_type, src->res.content_type, sizeof(dst->res.content_type));
	buf_reset(&dst->res.body);
	if (src->res.body.len && buf_append(&dst->res.body, src->res.body.data, src->res.body.len) < 0)
		return -ENOMEM;
	return 0;
}

void node_share_release(void *blob)
{
	struct node_share_blob *b = blob;

	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

static void node_share_entry_free(struct node_share_entry *e)
{
	if (e->has_answer) /* only stored answers are counted */
		share.bytes -= e->blob ? e->blob->len + e->blob->gz_len : e->answer.res.body.len;
	node_share_release(e->blob);
	free(e->key);
	free(e->followers);
	node_share_answer_free(&e->answer);
	free(e);
}

/* Unlinks and frees the entry *pp points at (mutex held); *pp is then the next one. */
static void node_share_unlink(struct node_share_entry **pp)
{
	struct node_share_entry *e = *pp;

	*pp = e->next;
	node_share_entry_free(e);
	share.count--;
}

void node_share_setup(long reuse_ms)
{
	pthread_mutex_lock(&share.mu);
	share.reuse_ms = reuse_ms;
	pthread_mutex_unlock(&share.mu);
}

void node_share_teardown(void)
{
	struct node_share_entry *e;
	size_t i;

	pthread_mutex_lock(&share.mu);
	for (i = 0; i < NODE_SHARE_BUCKETS; i++) {
		while ((e = share.buckets[i])) {
			share.buckets[i] = e->next;
			node_share_entry_free(e);
		}
	}
	share.count = 0;
	share.bytes = 0;
	pthread_mutex_unlock(&share.mu);
}

static unsigned node_share_slot(const char *scope)
{
	return buf_hash(BUF_HASH_SEED, scope) % NODE_SHARE_SLOTS;
}

/* A stored answer still good to hand out (mutex held). */
static int node_share_fresh(const struct node_share_entry *e, long long now)
{
	return e->has_answer && share.live && share.reuse_ms > 0 &&
	       now - e->at_ms < share.reuse_ms && e->gen == share.gens[e->slot] &&
	       e->all_gen == share.all_gen;
}

/* A kept answer past its freshness that may still be handed out while one caller rebuilds
 * it: nothing unknown happened (all_gen) and it is younger than two windows (mutex held). */
static int node_share_graceful(const struct node_share_entry *e, long long now)
{
	return e->kept && e->has_answer && share.live && share.reuse_ms > 0 &&
	       e->all_gen == share.all_gen && now - e->at_ms < 2 * share.reuse_ms;
}

/* Finds key in its bucket, dropping the bucket's idle entries whose answers went stale
 * (mutex held); *pb is the bucket's head. */
static struct node_share_entry *node_share_find(const char *key, long long now,
						struct node_share_entry ***pb)
{
	struct node_share_entry **pp, *e, *found = NULL;

	*pb = &share.buckets[buf_hash(BUF_HASH_SEED, key) % NODE_SHARE_BUCKETS];
	for (pp = *pb; (e = *pp);) {
		if (!e->running && !node_share_fresh(e, now) && !node_share_graceful(e, now)) {
			node_share_unlink(pp);
			continue;
		}
		if (strcmp(e->key, key) == 0)
			found = e;
		pp = &e->next;
	}
	return found;
}

enum node_share_role node_share_begin(const char *key, const char *scope, void *token,
				      struct node_share_answer *hit)
{
	long long now = clock_mono_ms();
	struct node_share_entry **bucket, *e;
	enum node_share_role role = NODE_SHARE_NONE;

	pthread_mutex_lock(&share.mu);
	e = node_share_find(key, now, &bucket);
	if (e && e->running) {
		if (e->nf == e->capf) {
			size_t cap = e->capf ? e->capf * 2 : 8;
			void **f = realloc(e->followers, cap * sizeof(*f));
			if (!f)
				goto out;
			e->followers = f;
			e->capf = cap;
		}
		e->followers[e->nf++] = token;
		share.coalesced++;
		role = NODE_SHARE_FOLLOW;
		goto out;
	}
	if (e && (e->kept || !node_share_fresh(e, now))) /* kept answers are not for calls */
		goto out;
	if (e) { /* fresh: node_share_find dropped it otherwise */
		if (node_share_copy(hit, &e->answer) == 0) {
			share.reused++;
			role = NODE_SHARE_HIT;
		}
		goto out;
	}
	if (share.count >= NODE_SHARE_MAX)
		goto out;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		goto out;
	}
	proxy_result_init(&e->answer.res);
	e->slot = node_share_slot(scope ? scope : "");
	e->gen = share.gens[e->slot];
	e->all_gen = share.all_gen;
	e->running = 1;
	e->next = *bucket;
	*bucket = e;
	share.count++;
	role = NODE_SHARE_LEAD;
out:
	pthread_mutex_unlock(&share.mu);
	return role;
}

int node_share_lookup(const char *key, struct node_share_answer *hit)
{
	long long now = clock_mono_ms();
	struct node_share_entry **bucket, *e;
	int found = 0;

	pthread_mutex_lock(&share.mu);
	if (share.reuse_ms > 0 && share.live) {
		e = node_share_find(key, now, &bucket);
		if (e && !e->running && !e->kept && node_share_fresh(e, now) &&
		    node_share_copy(hit, &e->answer) == 0) {
			share.reused++;
			found = 1;
		}
	}
	pthread_mutex_unlock(&share.mu);
	return found;
}

int node_share_lookup_kept(const char *key, int gzip, struct node_share_kept *out,
			   int *rebuild)
{
	long long now = clock_mono_ms();
	struct node_share_entry **bucket, *e;
	int found = 0;

	*rebuild = 0;
	pthread_mutex_lock(&share.mu);
	if (share.reuse_ms <= 0 || !share.live)
		goto out;
	e = node_share_find(key, now, &bucket);
	if (!e || e->running || !e->kept)
		goto out;
	/* not more often than every NODE_SHARE_REBUILD_GAP_MS: a frontend whose meetings change
	 * all the time (agents report every second) would keep a builder busy */
	if (!node_share_fresh(e, now) && now - e->at_ms >= NODE_SHARE_REBUILD_GAP_MS &&
	    (!e->rebuild_at || now - e->rebuild_at >= NODE_SHARE_REBUILD_MS)) {
		e->rebuild_at = now; /* this caller has it rebuilt; the others get this one meanwhile */
		*rebuild = 1;
	}
	{
		atomic_fetch_add(&e->blob->refs, 1);
		out->gzip = gzip && e->blob->gz_len > 0;
		out->data = out->gzip ? e->blob->data + e->blob->len + 1 : e->blob->data;
		out->len = out->gzip ? e->blob->gz_len : e->blob->len;
		out->ref = e->blob;
		share.reused++;
		found = 1;
	}
out:
	pthread_mutex_unlock(&share.mu);
	return found;
}

/* Drops key's entries that hold an answer and run no call (mutex held). */
static void node_share_drop_idle(const char *key)
{
	struct node_share_entry **pp, *e;

	pp = &share.buckets[buf_hash(BUF_HASH_SEED, key) % NODE_SHARE_BUCKETS];
	while ((e = *pp)) {
		if (!e->running && strcmp(e->key, key) == 0)
			node_share_unlink(pp);
		else
			pp = &e->next;
	}
}

void node_share_forget(const char *key, const char *scope)
{
	pthread_mutex_lock(&share.mu);
	share.forgets[node_share_slot(scope)]++;
	node_share_drop_idle(key);
	pthread_mutex_unlock(&share.mu);
}

void **node_share_done(const char *key, const struct node_share_answer *a, size_t *n)
{
	struct node_share_entry **pp, *e;
	void **followers = NULL;

	*n = 0;
	pthread_mutex_lock(&share.mu);
	pp = &share.buckets[buf_hash(BUF_HASH_SEED, key) % NODE_SHARE_BUCKETS];
	for (; (e = *pp); pp = &e->next)
		if (e->running && strcmp(e->key, key) == 0)
			break;
	if (!e)
		goto out;
	followers = e->followers;
	*n = e->nf;
	e->followers = NULL;
	e->nf = e->capf = 0;
	e->running = 0;
	/* only a node's answer is reused, never a timeout; and not when the meeting changed
	 * while the call ran (the answer may predate the change) */
	if (a->rc == 0 && a->res.status == 200 && share.reuse_ms > 0 &&
	    e->gen == share.gens[e->slot] && e->all_gen == share.all_gen &&
	    share.bytes + a->res.body.len <= NODE_SHARE_MAX_BYTES &&
	    node_share_copy(&e->answer, a) == 0) {
		share.bytes += e->answer.res.body.len;
		e->has_answer = 1;
		e->at_ms = clock_mono_ms();
	} else {
		node_share_unlink(pp);
	}
out:
	pthread_mutex_unlock(&share.mu);
	return followers;
}

struct node_share_mark node_share_mark(const char *scope)
{
	struct node_share_mark m;

	pthread_mutex_lock(&share.mu);
	m.gen = share.gens[node_share_slot(scope)];
	m.all_gen = share.all_gen;
	m.forgets = share.forgets[node_share_slot(scope)];
	pthread_mutex_unlock(&share.mu);
	return m;
}

void node_share_keep(const char *key, const char *scope, struct node_share_mark mark,
		     const struct node_share_answer *a, const struct buf *gz)
{
	size_t gz_len = gz && !gz->oom ? gz->len : 0;
	long long now = clock_mono_ms();
	struct node_share_entry **bucket, *e;
	unsigned slot = node_share_slot(scope);

	if (a->res.body.len + gz_len > NODE_SHARE_KEEP_MAX)
		return;
	pthread_mutex_lock(&share.mu);
	/* built while its scope changed, it is kept all the same, but only for the grace: it
	 * is as old as the mark */
	/* a forget since the mark: what was read may miss the change, not even for the grace */
	if (!share.live || share.reuse_ms <= 0 || mark.all_gen != share.all_gen ||
	    mark.forgets != share.forgets[slot] ||
	    share.bytes + a->res.body.len + gz_len > NODE_SHARE_MAX_BYTES)
		goto out;
	e = node_share_find(key, now, &bucket);
	if (e && (e->running || node_share_fresh(e, now))) /* nothing to add */
		goto out;
	if (e) /* the one in its grace: replaced */
		node_share_drop_idle(key);
	if (share.count >= NODE_SHARE_MAX || !(e = calloc(1, sizeof(*e))))
		goto out;
	proxy_result_init(&e->answer.res);
	e->blob = malloc(sizeof(*e->blob) + a->res.body.len + 1 + gz_len);
	if (!e->blob || !(e->key = strdup(key))) {
		free(e->blob);
		free(e->key);
		free(e);
		goto out;
	}
	atomic_init(&e->blob->refs, 1);
	e->blob->len = a->res.body.len;
	if (a->res.body.len)
		memcpy(e->blob->data, a->res.body.data, a->res.body.len);
	e->blob->data[e->blob->len] = '\0';
	e->blob->gz_len = gz_len;
	if (gz_len)
		memcpy(e->blob->data + e->blob->len + 1, gz->data, gz_len);
	share.bytes += e->blob->len + gz_len;
	e->slot = slot;
	e->gen = mark.gen;
	e->all_gen = mark.all_gen;
	e->has_answer = 1;
	e->kept = 1;
	e->at_ms = now;
	e->next = *bucket;
	*bucket = e;
	share.count++;
out:
	pthread_mutex_unlock(&share.mu);
}

void node_share_invalidate(const char *scope)
{
	pthread_mutex_lock(&share.mu);
	if (scope)
		share.gens[node_share_slot(scope)]++;
	else
		share.all_gen++;
	pthread_mutex_unlock(&share.mu);
}

void node_share_set_live(int live)
{
	pthread_mutex_lock(&share.mu);
	share.live = live;
	share.all_gen++; /* whatever happened while nobody listened is unknown */
	pthread_mutex_unlock(&share.mu);
}

void node_share_counters(unsigned long *coalesced, unsigned long *reused)
{
	pthread_mutex_lock(&share.mu);
	*coalesced = share.coalesced;
	*reused = share.reused;
	pthread_mutex_unlock(&share.mu);
}

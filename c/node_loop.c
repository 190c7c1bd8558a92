/* node_loop.c: one thread, one libcurl multi handle. Submitters hand calls over through a
 * mutex-guarded list and curl_multi_wakeup; the loop admits them (queue bound, breaker,
 * bulkhead), runs them all concurrently and reports each through its done callback. The
 * multi handle's connection cache keeps connections to nodes alive between calls. */
#include "node_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "node_breaker.h"
#include "node_share.h"

#define NODE_LOOP_TICK_MS 100
#define NODE_LOOP_MAX_CONNECTS 4096

struct node_call {
	struct node_call *next;
	struct node_call *prev_active, *next_active; /* on the multi handle (loop thread only) */
	char *url;
	char *body;
	size_t body_len;
	char method[8];
	char content_type[128];
	char backend_id[40];
	char *host;
	struct proxy_opts opts;
	int probe;
	char *share_scope;  /* shared calls only */
	int share_lead;     /* others wait for this one's answer */
	int shared;         /* the answer is another call's */
	node_call_done_fn done;
	void *ud;
	struct node_entry *node;
	CURL *easy;
	struct curl_slist *hdrs;
	int rc;
	struct proxy_result res;
	char err[256];
	long long started_ms, ended_ms;
	long long started_wall_ms; /* when the node was asked, on the database's clock */
};

static struct {
	pthread_mutex_t mu;
	struct node_call *incoming, **tail;
	unsigned pending;  /* submitted and not yet done */
	int running, stopping;
	pthread_t thread;
	CURLM *multi;
	struct node_call *active; /* running on the multi handle, for the stop */
	const struct lb_config *cfg;
} node_loop = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Moves a shared answer into c (its own result is replaced). */
static void node_loop_take_answer(struct node_call *c, struct node_share_answer *a)
{
	proxy_result_free(&c->res);
	c->res = a->res;
	proxy_result_init(&a->res);
	c->rc = a->rc;
	memcpy(c->err, a->err, sizeof(c->err));
	c->shared = 1;
}

static void node_loop_complete(struct node_call *c, int rc, const char *why);

/* The leader's outcome goes to every call that waited for it. */
static void node_loop_complete_followers(struct node_call *c)
{
	struct node_share_answer a, fa;
	void **f;
	size_t n, i;

	a.rc = c->rc;
	a.res = c->res; /* borrowed: node_share_done copies what it keeps */
	memcpy(a.err, c->err, sizeof(a.err));
	f = node_share_done(c->url, &a, &n);
	for (i = 0; i < n; i++) {
		struct node_call *fc = f[i];
		proxy_result_init(&fa.res);
		if (node_share_copy(&fa, &a) < 0) {
			node_share_answer_free(&fa);
			node_loop_complete(fc, -ENOMEM, "out of memory");
			continue;
		}
		node_loop_take_answer(fc, &fa);
		node_loop_complete(fc, fc->rc, NULL);
	}
	free(f);
}

static void node_loop_complete(struct node_call *c, int rc, const char *why)
{
	if (rc < 0 && why)
		snprintf(c->err, sizeof(c->err), "%s", why);
	c->rc = rc;
	c->ended_ms = clock_mono_ms();
	if (c->share_lead)
		node_loop_complete_followers(c);
	pthread_mutex_lock(&node_loop.mu);
	node_loop.pending--;
	pthread_mutex_unlock(&node_loop.mu);
	c->done(c, c->ud);
}

/* A shared call waits for the same one in flight or takes a fresh answer; 1 when that
 * settled it (it must not be started). */
static int node_loop_share(struct node_call *c)
{
	struct node_share_answer hit;

	proxy_result_init(&hit.res);
	switch (node_share_begin(c->url, c->share_scope, c, &hit)) {
	case NODE_SHARE_FOLLOW:
		return 1; /* completed with its leader */
	case NODE_SHARE_HIT:
		node_loop_take_answer(c, &hit);
		node_loop_complete(c, c->rc, NULL);
		return 1;
	case NODE_SHARE_LEAD:
		c->share_lead = 1;
		break;
	case NODE_SHARE_NONE:
		break;
	}
	node_share_answer_free(&hit);
	return 0;
}

/* Starts an admitted call on the multi handle; negative when it could not be set up. */
static int node_loop_begin(struct node_call *c)
{
	c->easy = curl_easy_init();
	if (!c->easy)
		return -ENOMEM;
	if (proxy_easy_setup(c->easy, &c->opts, c->url, &c->res) < 0 ||
	    proxy_easy_body(c->easy, c->method, c->body, c->body_len,
			    c->content_type[0] ? c->content_type : NULL, &c->hdrs) < 0 ||
	    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c) != CURLE_OK ||
	    curl_multi_add_handle(node_loop.multi, c->easy) != CURLM_OK)
		return -EINVAL;
	c->next_active = node_loop.active;
	if (node_loop.active)
		node_loop.active->prev_active = c;
	node_loop.active = c;
	return 0;
}

static void node_loop_release_easy(struct node_call *c)
{
	if (!c->easy)
		return;
	if (c->prev_active)
		c->prev_active->next_active = c->next_active;
	else if (node_loop.active == c)
		node_loop.active = c->next_active;
	if (c->next_active)
		c->next_active->prev_active = c->prev_active;
	c->prev_active = c->next_active = NULL;
	curl_multi_remove_handle(node_loop.multi, c->easy);
	curl_easy_cleanup(c->easy);
	c->easy = NULL;
	curl_slist_free_all(c->hdrs);
	c->hdrs = NULL;
}

static void node_loop_admit(struct node_call *c)
{
	char why[160];
	int rc;

	if (c->rc < 0) { /* refused at submission (queue bound) */
		node_loop_complete(c, c->rc, NULL);
		return;
	}
	if (c->share_scope && node_loop_share(c))
		return;
	c->node = node_breaker_get(c->backend_id, c->host);
	if (!c->node) {
		node_loop_complete(c, -ENOMEM, "out of memory");
		return;
	}
	rc = node_breaker_admit(c->node, c->probe, clock_mono_ms(), why, sizeof(why));
	if (rc < 0) {
		c->node = NULL; /* not counted in flight */
		node_loop_complete(c, rc, why);
		return;
	}
	c->started_ms = clock_mono_ms();
	c->started_wall_ms = clock_wall_ms();
	if (node_loop_begin(c) < 0) {
		node_loop_release_easy(c);
		node_breaker_done(c->node, -ENOMEM, clock_mono_ms());
		node_loop_complete(c, -ENOMEM, "cannot set up the HTTP call");
	}
}

static void node_loop_finished(CURL *easy, CURLcode cc)
{
	struct node_call *c = NULL;
	int rc = 0;

	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&c) != CURLE_OK || !c)
		return;
	if (cc == CURLE_OK)
		proxy_easy_finish(easy, &c->res);
	else
		rc = proxy_errno(cc);
	if (rc < 0)
		snprintf(c->err, sizeof(c->err), "%s", curl_easy_strerror(cc));
	node_loop_release_easy(c);
	node_breaker_done(c->node, rc, clock_mono_ms());
	node_loop_complete(c, rc, NULL);
}

/* Takes everything submitted since the last turn. */
static struct node_call *node_loop_take(int *stopping)
{
	struct node_call *list;

	pthread_mutex_lock(&node_loop.mu);
	list = node_loop.incoming;
	node_loop.incoming = NULL;
	node_loop.tail = &node_loop.incoming;
	*stopping = node_loop.stopping;
	pthread_mutex_unlock(&node_loop.mu);
	return list;
}

/* Completes every call still running when the loop stops. */
static void node_loop_cancel_running(void)
{
	struct node_call *c;

	while ((c = node_loop.active)) {
		node_loop_release_easy(c);
		node_breaker_done(c->node, -ECANCELED, clock_mono_ms());
		node_loop_complete(c, -ECANCELED, "b3scaled is shutting down");
	}
}

static void *node_loop_thread(void *arg)
{
	struct node_call *list, *c;
	CURLMsg *msg;
	long timeout;
	int running = 0, left, stopping = 0;

	(void)arg;
	for (;;) {
		list = node_loop_take(&stopping);
		for (; list; list = c) {
			c = list->next;
			if (stopping)
				node_loop_complete(list, -ECANCELED, "b3scaled is shutting down");
			else
				node_loop_admit(list);
		}
		if (stopping)
			break;
		if (curl_multi_perform(node_loop.multi, &running) != CURLM_OK)
			log_error("node", "event=multi_perform_failed");
		while ((msg = curl_multi_info_read(node_loop.multi, &left)))
			if (msg->msg == CURLMSG_DONE)
				node_loop_finished(msg->easy_handle, msg->data.result);
		if (curl_multi_timeout(node_loop.multi, &timeout) != CURLM_OK || timeout < 0 ||
		    timeout > NODE_LOOP_TICK_MS)
			timeout = NODE_LOOP_TICK_MS;
		/* curl_multi_wakeup from a submitter ends this wait early */
		if (curl_multi_poll(node_loop.multi, NULL, 0, (int)timeout, NULL) != CURLM_OK)
			log_error("node", "event=multi_poll_failed");
	}
	node_loop_cancel_running();
	return NULL;
}

int node_loop_start(const struct lb_config *cfg, char *err, size_t errlen)
{
	node_loop.cfg = cfg;
	node_breaker_setup(cfg);
	node_share_setup(cfg->info_cache_ms);
	node_loop.multi = curl_multi_init();
	if (!node_loop.multi) {
		snprintf(err, errlen, "cannot create the libcurl multi handle");
		return -ENOMEM;
	}
	/* every node's idle keep-alive connections stay in this cache between calls */
	if (curl_multi_setopt(node_loop.multi, CURLMOPT_MAXCONNECTS, (long)NODE_LOOP_MAX_CONNECTS) !=
	    CURLM_OK) {
		snprintf(err, errlen, "cannot size the libcurl connection cache");
		curl_multi_cleanup(node_loop.multi);
		return -EINVAL;
	}
	node_loop.incoming = NULL;
	node_loop.tail = &node_loop.incoming;
	node_loop.stopping = 0;
	if (pthread_create(&node_loop.thread, NULL, node_loop_thread, NULL) != 0) {
		snprintf(err, errlen, "cannot start the node loop thread");
		curl_multi_cleanup(node_loop.multi);
		return -EAGAIN;
	}
	node_loop.running = 1;
	return 0;
}

void node_loop_stop(void)
{
	if (!node_loop.running)
		return;
	pthread_mutex_lock(&node_loop.mu);
	node_loop.stopping = 1;
	pthread_mutex_unlock(&node_loop.mu);
	curl_multi_wakeup(node_loop.multi);
	pthread_join(node_loop.thread, NULL);
	node_loop.running = 0;
	curl_multi_cleanup(node_loop.multi);
	node_loop.multi = NULL;
	node_breaker_teardown();
	node_share_teardown();
}

static struct node_call *node_call_new(const struct node_call_spec *s, node_call_done_fn done,
				       void *ud)
{
	struct node_call *c = calloc(1, sizeof(*c));
	const struct lb_config *cfg = node_loop.cfg;

	if (!c)
		return NULL;
	proxy_result_init(&c->res);
	c->url = strdup(s->url);
	c->host = strdup(s->host ? s->host : "");
	c->body_len = s->body ? s->body_len : 0;
	c->body = s->body ? malloc(c->body_len + 1) : NULL;
	if (!c->url || !c->host || (s->body && !c->body)) {
		node_call_free(c);
		return NULL;
	}
	if (c->body)
		memcpy(c->body, s->body, c->body_len);
	snprintf(c->method, sizeof(c->method), "%s", s->method ? s->method : "GET");
	snprintf(c->content_type, sizeof(c->content_type), "%s",
		 s->content_type ? s->content_type : "");
	snprintf(c->backend_id, sizeof(c->backend_id), "%s", s->backend_id ? s->backend_id : "");
	c->opts.timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : cfg->backend_timeout_ms;
	c->opts.connect_timeout_ms = s->connect_timeout_ms > 0 ? s->connect_timeout_ms
							       : cfg->backend_connect_timeout_ms;
	if (c->opts.connect_timeout_ms > c->opts.timeout_ms)
		c->opts.connect_timeout_ms = c->opts.timeout_ms;
	c->probe = s->probe;
	if (s->share_scope && !(c->share_scope = strdup(s->share_scope))) {
		node_call_free(c);
		return NULL;
	}
	c->done = done;
	c->ud = ud;
	return c;
}

struct node_call *node_call_submit(const struct node_call_spec *s, node_call_done_fn done,
				   void *ud)
{
	struct node_call *c;
	int live;

	if (!node_loop.cfg)
		return NULL;
	c = node_call_new(s, done, ud);
	if (!c)
		return NULL;
	pthread_mutex_lock(&node_loop.mu);
	live = node_loop.running && !node_loop.stopping;
	if (live) {
		if (node_loop.pending >= node_loop.cfg->max_node_calls) {
			c->rc = -ENOBUFS;
			snprintf(c->err, sizeof(c->err), "too many calls to nodes in progress");
		}
		node_loop.pending++;
		*node_loop.tail = c;
		node_loop.tail = &c->next;
	}
	pthread_mutex_unlock(&node_loop.mu);
	if (!live) {
		/* no loop to hand it to: complete here, the caller is told the same way */
		c->rc = -ECANCELED;
		snprintf(c->err, sizeof(c->err), "b3scaled is shutting down");
		done(c, ud);
		return c;
	}
	curl_multi_wakeup(node_loop.multi);
	return c;
}

int node_call_result(const struct node_call *c, const struct proxy_result **res,
		     const char **err)
{
	if (res)
		*res = &c->res;
	if (err)
		*err = c->err;
	return c->rc;
}

long node_call_latency_ms(const struct node_call *c)
{
	return c->started_ms ? (long)(c->ended_ms - c->started_ms) : 0;
}

long long node_call_started_at(const struct node_call *c)
{
	return c->started_wall_ms;
}

int node_call_shared(const struct node_call *c)
{
	return c->shared;
}

static void node_loop_no_done(struct node_call *c, void *ud)
{
	(void)c;
	(void)ud;
}

struct node_call *node_call_reused(const struct node_call_spec *s)
{
	struct node_share_answer hit;
	struct node_call *c;

	if (!s->share_scope || !node_loop.cfg)
		return NULL;
	proxy_result_init(&hit.res);
	if (!node_share_lookup(s->url, &hit))
		return NULL;
	c = node_call_new(s, node_loop_no_done, NULL);
	if (c)
		node_loop_take_answer(c, &hit);
	node_share_answer_free(&hit);
	return c;
}

void node_call_free(struct node_call *c)
{
	if (!c)
		return;
	free(c->url);
	free(c->host);
	free(c->body);
	free(c->share_scope);
	proxy_result_free(&c->res);
	free(c);
}

struct node_loop_batch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t left;
};

static void node_loop_batch_done(struct node_call *c, void *ud)
{
	struct node_loop_batch *b = ud;

	(void)c;
	pthread_mutex_lock(&b->mu);
	if (--b->left == 0)
		pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

void node_loop_run_all(const struct node_call_spec *specs, size_t n, struct node_call **out)
{
	struct node_loop_batch b;
	size_t i;

	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	b.left = n;
	for (i = 0; i < n; i++) {
		out[i] = node_call_submit(&specs[i], node_loop_batch_done, &b);
		if (!out[i])
			node_loop_batch_done(NULL, &b);
	}
	pthread_mutex_lock(&b.mu);
	while (b.left > 0)
		pthread_cond_wait(&b.cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
	pthread_mutex_destroy(&b.mu);
	pthread_cond_destroy(&b.cv);
}

int node_loop_failing_fast(const char *backend_id)
{
	return node_breaker_is_open(backend_id, clock_mono_ms());
}

size_t node_loop_health(struct node_health_view *v, size_t cap)
{
	return node_breaker_snapshot(v, cap);
}

const char *node_loop_state_name(enum node_breaker_state s)
{
	return s == NODE_OPEN ? "open" : s == NODE_HALF_OPEN ? "half_open" : "closed";
}

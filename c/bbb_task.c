/* bbb_task.c: the life of a BBB API request across parks. The task is made when the
 * request is parsed and freed when the HTTP server releases it (or at once when it needed
 * no node). Continuations run on the connection's own worker thread, so they may use the
 * worker's database connection and Lua state like the first step did. */
#include "bbb_task.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bbb_backend.h"
#include "log.h"
#include "scheduler.h"
#include "stats.h"

static void bbb_task_free_calls(struct bbb_pending *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		buf_free(&p[i].url);
		node_call_free(p[i].call);
	}
	free(p);
}

static void bbb_task_free(struct bbb_ctx *c)
{
	size_t i;

	bbb_task_free_calls(c->pend, c->npend);
	bbb_task_free_calls(c->done, c->ndone);
	query_free(&c->params);
	query_free(&c->stored);
	lb_meeting_clear(&c->meeting);
	lb_meeting_clear(&c->m);
	lb_backend_list_clear(&c->bl);
	lb_frontend_clear(&c->fe_store);
	scheduler_run_free(c->run);
	free(c->mid);
	buf_free(&c->nsid);
	buf_free(&c->q);
	for (i = 0; i < BBB_TASK_OWNED; i++)
		free(c->owned[i]);
	free(c);
}

/* The access log line and the request metrics, once per request. */
static void bbb_task_finish(struct bbb_ctx *c)
{
	struct timespec t1;

	if (c->finished)
		return;
	c->finished = 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	stats_bbb_request(c->call[0] ? c->call : "index", c->outcome,
			  (double)(t1.tv_sec - c->t0.tv_sec) +
				  (double)(t1.tv_nsec - c->t0.tv_nsec) / 1e9);
	/* the meeting as the frontend named it: enough to replay a day (docs/simulate.md) */
	log_info("access", "call=%s frontend=%s meeting=%s backend=%s status=%d outcome=%s client=%s",
		 c->call[0] ? c->call : "index", c->key, c->log_meeting[0] ? c->log_meeting : "-",
		 c->backend_host[0] ? c->backend_host : "-", c->a->status, c->outcome,
		 c->req->client);
}

static void bbb_task_call_done(struct node_call *nc, void *ud)
{
	struct bbb_ctx *c = ud;

	(void)nc;
	if (__atomic_sub_fetch(&c->calls_left, 1, __ATOMIC_ACQ_REL) == 0)
		http_park_wake(&c->park);
}

static void bbb_task_start(struct http_park *p)
{
	struct bbb_ctx *c = (struct bbb_ctx *)p;
	size_t i, n = c->npend;

	/* every call is counted before the first can finish and wake the connection */
	__atomic_store_n(&c->calls_left, (long)n, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++) {
		c->pend[i].call = node_call_submit(&c->pend[i].spec, bbb_task_call_done, c);
		if (!c->pend[i].call)
			bbb_task_call_done(NULL, c);
	}
}

/* The calls just done move aside (next reads them) and the handler goes on. */
static void bbb_task_advance(struct bbb_ctx *c)
{
	void (*next)(struct bbb_ctx *) = c->next;

	bbb_task_free_calls(c->done, c->ndone);
	c->done = c->pend;
	c->ndone = c->npend;
	c->pend = NULL;
	c->npend = 0;
	c->next = NULL;
	next(c);
}

static void bbb_task_resume(struct http_park *p, struct http_answer *a)
{
	struct bbb_ctx *c = (struct bbb_ctx *)p;

	c->a = a;
	bbb_task_advance(c);
	if (c->npend) {
		a->park = &c->park;
		return;
	}
	bbb_task_finish(c);
}

static void bbb_task_release(struct http_park *p)
{
	struct bbb_ctx *c = (struct bbb_ctx *)p;

	bbb_task_finish(c);
	bbb_task_free(c);
}

struct bbb_ctx *bbb_task_new(struct worker *w, const struct http_request *req,
			     struct http_answer *a)
{
	struct bbb_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	c->park.start = bbb_task_start;
	c->park.resume = bbb_task_resume;
	c->park.release = bbb_task_release;
	c->w = w;
	c->req = req;
	c->a = a;
	c->fe = &c->fe_store;
	c->call = c->call_buf;
	c->raw = req->raw_query;
	c->rawlen = req->query_len;
	c->outcome = "error";
	query_init(&c->params);
	query_init(&c->stored);
	buf_init(&c->nsid);
	buf_init(&c->q);
	return c;
}

/* 1 when every added call is shared and its answer fresh in the reuse window: they are
 * done already, and the request needs no park. */
static int bbb_task_reuse(struct bbb_ctx *c)
{
	size_t i;

	for (i = 0; i < c->npend; i++)
		if (!c->pend[i].spec.share_scope)
			return 0;
	for (i = 0; i < c->npend; i++) {
		c->pend[i].call = node_call_reused(&c->pend[i].spec);
		if (!c->pend[i].call)
			break;
	}
	if (i == c->npend)
		return 1;
	while (i-- > 0) {
		node_call_free(c->pend[i].call);
		c->pend[i].call = NULL;
	}
	return 0;
}

void bbb_task_settle(struct bbb_ctx *c)
{
	while (c->npend && bbb_task_reuse(c))
		bbb_task_advance(c);
	if (c->npend) {
		c->a->park = &c->park;
		return;
	}
	bbb_task_finish(c);
	bbb_task_free(c);
}

int bbb_task_call(struct bbb_ctx *c, const struct lb_backend *b, const char *call,
		  const char *method, const char *encoded_query, const char *body,
		  size_t body_len, const char *content_type, void (*next)(struct bbb_ctx *c))
{
	struct bbb_pending *p = realloc(c->pend, (c->npend + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	c->pend = p;
	p = &c->pend[c->npend];
	memset(p, 0, sizeof(*p));
	buf_init(&p->url);
	p->b = b;
	/* spec.url points at p->url's heap text, which a later realloc of the array keeps */
	if (bbb_backend_spec(&p->spec, &p->url, b, call, method, encoded_query, body, body_len,
			     content_type) < 0) {
		buf_free(&p->url);
		return -ENOMEM;
	}
	c->npend++;
	c->next = next;
	return 0;
}

void bbb_task_share(struct bbb_ctx *c, const char *scope)
{
	if (c->npend)
		c->pend[c->npend - 1].spec.share_scope = scope;
}

int bbb_task_answer(struct bbb_ctx *c, size_t i, struct xml_node **doc, char *err,
		    size_t errlen)
{
	*doc = NULL;
	if (i >= c->ndone) {
		snprintf(err, errlen, "no such call");
		return -EINVAL;
	}
	return bbb_backend_answer(c->done[i].call, c->done[i].b->host, doc, err, errlen);
}

int bbb_task_answer_shared(const struct bbb_ctx *c, size_t i)
{
	return i < c->ndone && c->done[i].call && node_call_shared(c->done[i].call);
}

size_t bbb_task_answer_size(const struct bbb_ctx *c, size_t i)
{
	const struct proxy_result *res;

	if (i >= c->ndone || !c->done[i].call || node_call_result(c->done[i].call, &res, NULL) < 0)
		return 0;
	return res->body.len;
}

void *bbb_task_own(struct bbb_ctx *c, void *p)
{
	size_t i;

	for (i = 0; p && i < BBB_TASK_OWNED; i++) {
		if (!c->owned[i]) {
			c->owned[i] = p;
			return p;
		}
	}
	free(p); /* cannot happen with the handlers' fixed needs; never leak */
	return NULL;
}

/* http_server.c: libmicrohttpd in thread-pool mode. Each pool thread is one worker with its
 * own database connection and Lua state (worker.c). No worker waits on a node: a request
 * that needs one parks its connection (MHD suspend/resume) while node_loop.c makes the call,
 * and the worker serves other connections meanwhile. */
#include "http_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "admin_api.h"
#include "bbb_api.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "worker.h"

#define HTTP_HEADER_ALLOWANCE (64 * 1024)

struct http_server {
	struct MHD_Daemon *d;
	const struct lb_config *cfg;
};

struct http_ctx {
	struct buf uri;   /* raw request target as received, query still encoded */
	struct buf path;  /* decoded path, kept for the life of a parked request */
	struct buf body;
	int too_big;
	int headers_seen; /* MHD calls once for the headers before any body arrives */
	int parked;       /* suspended, waiting for http_park_wake */
	struct http_request req;
	struct http_answer answer;
	struct http_park *park; /* the task of a request that waited for a node */
};

static long http_parked_now;

static void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_ctx *ctx = calloc(1, sizeof(*ctx));

	(void)cls;
	(void)c;
	if (!ctx)
		return NULL;
	buf_init(&ctx->uri);
	buf_init(&ctx->path);
	buf_init(&ctx->body);
	buf_init(&ctx->answer.body);
	buf_puts(&ctx->uri, uri);
	return ctx;
}

static void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct http_ctx *ctx = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (!ctx)
		return;
	if (ctx->park)
		ctx->park->release(ctx->park);
	buf_free(&ctx->uri);
	buf_free(&ctx->path);
	buf_free(&ctx->body);
	buf_free(&ctx->answer.body);
	free(ctx->answer.location);
	free(ctx);
	*con_cls = NULL;
}

static enum MHD_Result http_send(struct MHD_Connection *c, struct http_answer *a)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len;
	char *body = buf_take(&a->body, &len);

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", a->content_type ? a->content_type : "text/plain");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* pages this daemon serves (the status page) must not be framed by another site */
	if (a->content_type && strncmp(a->content_type, "text/html", 9) == 0) {
		MHD_add_response_header(r, "Content-Security-Policy", "frame-ancestors 'none'");
		MHD_add_response_header(r, "X-Frame-Options", "DENY");
	}
	if (a->location)
		MHD_add_response_header(r, "Location", a->location);
	ret = MHD_queue_response(c, (unsigned)a->status, r);
	MHD_destroy_response(r);
	return ret;
}

static void http_route(struct worker *w, const struct http_request *req, struct http_answer *a)
{
	if (strcmp(req->path, "/healthz") == 0) {
		health_live(a);
		return;
	}
	if (strcmp(req->path, "/readyz") == 0) {
		health_ready(w, a);
		return;
	}
	if (strcmp(req->path, "/metrics") == 0) {
		a->status = 200;
		a->content_type = "text/plain; version=0.0.4; charset=utf-8";
		metrics_render(&w->db, &a->body);
		return;
	}
	if (strcmp(req->path, "/status") == 0) {
		admin_api_status_page(w, a);
		return;
	}
	if (strcmp(req->path, "/api/v1") == 0 || strncmp(req->path, "/api/v1/", 8) == 0) {
		admin_api_handle(w, req, a);
		return;
	}
	if (strncmp(req->path, "/bbb/", 5) == 0) {
		bbb_api_handle(w, req, a);
		return;
	}
	a->status = 404;
	buf_puts(&a->body, "not found\n");
}

void http_park_wake(struct http_park *p)
{
	MHD_resume_connection(p->conn);
}

long http_server_parked(void)
{
	return __atomic_load_n(&http_parked_now, __ATOMIC_RELAXED);
}

/* Sends the answer, or parks the connection when the handler is waiting for a node. */
static enum MHD_Result http_finish(struct MHD_Connection *c, struct http_ctx *ctx)
{
	struct http_answer *a = &ctx->answer;
	struct http_park *p = a->park;

	if (p) {
		a->park = NULL;
		ctx->park = p;
		p->conn = c;
		ctx->parked = 1;
		__atomic_add_fetch(&http_parked_now, 1, __ATOMIC_RELAXED);
		MHD_suspend_connection(c);
		p->start(p); /* may wake at once: the connection is already suspended */
		return MHD_YES;
	}
	return http_send(c, a);
}

static enum MHD_Result http_handler(void *cls, struct MHD_Connection *c, const char *url,
				    const char *method, const char *version,
				    const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_ctx *ctx = *con_cls;
	struct http_request *req;
	struct worker *w;
	const char *q;

	(void)version;
	if (!ctx)
		return MHD_NO;
	if (ctx->parked) {
		/* resumed: the task's node calls are done */
		ctx->parked = 0;
		__atomic_sub_fetch(&http_parked_now, 1, __ATOMIC_RELAXED);
		ctx->park->resume(ctx->park, &ctx->answer);
		return http_finish(c, ctx);
	}
	if (!ctx->headers_seen) {
		ctx->headers_seen = 1;
		return MHD_YES;
	}
	if (*upload_size) {
		/* keep reading past the limit so the client gets an answer, not a reset */
		if (ctx->body.len + *upload_size > s->cfg->max_body)
			ctx->too_big = 1;
		else
			buf_append(&ctx->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	ctx->answer.status = 500;
	w = worker_get(s->cfg);
	q = strchr(buf_str(&ctx->uri), '?');
	buf_puts(&ctx->path, url);
	req = &ctx->req;
	req->method = method;
	req->path = buf_str(&ctx->path);
	req->raw_query = q ? q + 1 : "";
	req->query_len = strlen(req->raw_query);
	req->body = buf_str(&ctx->body);
	req->body_len = ctx->body.len;
	req->body_too_big = ctx->too_big || ctx->body.oom || ctx->path.oom;
	req->content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	req->authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (!w)
		buf_puts(&ctx->answer.body, "out of memory\n");
	else
		http_route(w, req, &ctx->answer);
	return http_finish(c, ctx);
}

int http_server_start(struct http_server **out, const struct lb_config *cfg, char *err,
		      size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(cfg->listen_port);
	if (inet_pton(AF_INET, cfg->listen_host, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "B3SCALE_LISTEN_HTTP: '%s' is not an IPv4 address",
			 cfg->listen_host);
		free(s);
		return -EINVAL;
	}
	s->d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, cfg->listen_port, NULL, NULL,
		http_handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->workers,
		MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(cfg->max_query + HTTP_HEADER_ALLOWANCE),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errlen, "cannot listen on %s:%u: %s", cfg->listen_host,
			 cfg->listen_port, strerror(errno));
		free(s);
		return -EADDRINUSE;
	}
	*out = s;
	return 0;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}

/* http_server.c: libmicrohttpd in thread-pool mode. Each pool thread is one worker with its
 * own database connection and Lua state (worker.c). No worker waits on a node: a request
 * that needs one parks its connection (MHD suspend/resume) while node_loop.c makes the call,
 * and the worker serves other connections meanwhile. */
#include "http_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "admin_api.h"
#include "bbb_api.h"
#include "cb_endpoints.h"
#include "health.h"
#include "http_edge.h"
#include "log.h"
#include "metrics.h"
#include "rec_access.h"
#include "rec_upload.h"
#include "worker.h"

#define HTTP_HEADER_ALLOWANCE (64 * 1024)

struct http_server {
	struct MHD_Daemon *d;
	const struct lb_config *cfg;
	int listen_fd; /* ours: MHD never closes a socket it was given and that was quiesced */
	int quiesced;
};

struct http_ctx {
	struct buf uri;   /* raw request target as received, query still encoded */
	struct buf path;  /* decoded path, kept for the life of a parked request */
	struct buf body;
	int too_big;
	int headers_seen; /* MHD calls once for the headers before any body arrives */
	int parked;       /* suspended, waiting for http_park_wake */
	int answered;     /* answered before the body was read (too large) */
	int queued;       /* an answer is queued: counted in http_answering_now */
	int last;         /* the answer ends the connection */
	size_t limit;     /* largest body this route takes */
	char client[64];  /* INET6_ADDRSTRLEN and then some */
	struct http_request req;
	struct http_answer answer;
	struct http_park *park; /* the task of a request that waited for a node */
	struct rec_upload *upload; /* a recordings import: the body goes to its spool file */
	unsigned long long upload_bytes;
};

static long http_parked_now;
static long http_inflight_now; /* begun (URI seen) and not completed, parked ones included */
static long http_answering_now; /* answer queued, not yet sent: the stop lets it go out */
static int http_draining;      /* answers carry Connection: close */

static void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_ctx *ctx = calloc(1, sizeof(*ctx));

	(void)cls;
	http_edge_request_begin(c);
	if (!ctx)
		return NULL;
	__atomic_add_fetch(&http_inflight_now, 1, __ATOMIC_RELAXED);
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
	(void)toe;
	/* keep-alive from here on: MHD's idle timeout governs the connection */
	http_edge_phase(c, HTTP_EDGE_IDLE);
	if (!ctx)
		return;
	__atomic_sub_fetch(&http_inflight_now, 1, __ATOMIC_RELAXED);
	/* woken, but the client went away before the handler ran again */
	if (ctx->parked)
		__atomic_sub_fetch(&http_parked_now, 1, __ATOMIC_RELAXED);
	if (ctx->queued)
		__atomic_sub_fetch(&http_answering_now, 1, __ATOMIC_RELAXED);
	if (ctx->park)
		ctx->park->release(ctx->park);
	rec_upload_free(ctx->upload);
	buf_free(&ctx->uri);
	buf_free(&ctx->path);
	buf_free(&ctx->body);
	buf_free(&ctx->answer.body);
	free(ctx->answer.location);
	free(ctx->answer.set_cookie);
	if (ctx->answer.shared)
		ctx->answer.shared_release(ctx->answer.shared_cls);
	free(ctx);
	*con_cls = NULL;
}

static enum MHD_Result http_send(struct MHD_Connection *c, struct http_answer *a, int last)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len;
	char *body;

	if (a->shared) { /* MHD releases it with the response, whatever happens next */
		r = MHD_create_response_from_buffer_with_free_callback_cls(
			a->shared_len, (void *)a->shared, a->shared_release, a->shared_cls);
		if (!r)
			return MHD_NO; /* still ours: released with the connection */
		a->shared = NULL;
	} else {
		body = buf_take(&a->body, &len);
		r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		if (!r) {
			free(body);
			return MHD_NO;
		}
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
	if (a->set_cookie)
		MHD_add_response_header(r, "Set-Cookie", a->set_cookie);
	if (a->encoding)
		MHD_add_response_header(r, "Content-Encoding", a->encoding);
	if (a->vary_encoding)
		MHD_add_response_header(r, "Vary", "Accept-Encoding");
	if (a->status == 401) /* RFC 6750: /metrics and the admin API take bearer tokens */
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	/* draining: the client should send its next request to another instance */
	if (last || __atomic_load_n(&http_draining, __ATOMIC_RELAXED))
		MHD_add_response_header(r, "Connection", "close");
	http_edge_phase(c, HTTP_EDGE_SENDING);
	ret = MHD_queue_response(c, (unsigned)a->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* /metrics with B3SCALE_METRICS_TOKEN set: 1 when the request carries
 * "Authorization: Bearer <that token>" (compared in constant time); always 1 when unset. */
static int http_metrics_allowed(const struct lb_config *cfg, const char *authorization)
{
	const char *want = cfg->metrics_token, *got;
	size_t n = strlen(want);

	if (n == 0)
		return 1;
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return 0;
	got = authorization + 7;
	while (*got == ' ')
		got++;
	return strlen(got) == n && CRYPTO_memcmp(got, want, n) == 0;
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
		if (!http_metrics_allowed(w->cfg, req->authorization)) {
			a->status = 401; /* http_send adds WWW-Authenticate: Bearer */
			buf_puts(&a->body, "unauthorized: /metrics needs Authorization: Bearer "
					   "<B3SCALE_METRICS_TOKEN>\n");
			return;
		}
		a->status = 200;
		a->content_type = "text/plain; version=0.0.4; charset=utf-8";
		metrics_render(&w->db, &a->body);
		return;
	}
	if (strcmp(req->path, "/status") == 0) {
		admin_api_status_page(w, a);
		return;
	}
	if (rec_access_route(req->path)) { /* the link or the cookie is the credential */
		rec_access_handle(w, req, a);
		return;
	}
	if (cb_endpoints_route(req->path)) { /* nodes calling back: the token is the credential */
		cb_endpoints_handle(w, req, a);
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
	/* counted before it is queued, so a request is always parked, answering or done */
	ctx->queued = 1;
	__atomic_add_fetch(&http_answering_now, 1, __ATOMIC_RELAXED);
	if (http_send(c, a, ctx->last) == MHD_YES)
		return MHD_YES;
	ctx->queued = 0;
	__atomic_sub_fetch(&http_answering_now, 1, __ATOMIC_RELAXED);
	return MHD_NO;
}

/* Builds the request from what MHD has and routes it. */
static enum MHD_Result http_process(struct http_server *s, struct MHD_Connection *c,
				    struct http_ctx *ctx, const char *url, const char *method)
{
	struct http_request *req = &ctx->req;
	struct worker *w;
	const char *q;

	ctx->answer.status = 500;
	w = worker_get(s->cfg);
	q = strchr(buf_str(&ctx->uri), '?');
	buf_puts(&ctx->path, url);
	req->method = method;
	req->path = buf_str(&ctx->path);
	req->raw_query = q ? q + 1 : "";
	req->query_len = strlen(req->raw_query);
	req->body = buf_str(&ctx->body);
	req->body_len = ctx->body.len;
	req->body_too_big = ctx->too_big || ctx->body.oom || ctx->path.oom;
	req->content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	req->authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	req->accept_encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
	req->cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie");
	req->original_uri = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Original-URI");
	req->client = ctx->client[0] ? ctx->client : "-";
	if (!w)
		buf_puts(&ctx->answer.body, "out of memory\n");
	else if (ctx->upload && !ctx->too_big)
		rec_upload_finish(&ctx->upload, req->client, &ctx->answer);
	else if (ctx->too_big && strncmp(url, "/bbb/", 5) != 0)
		http_edge_too_large(url, ctx->limit, &ctx->answer);
	else
		http_route(w, req, &ctx->answer); /* the BBB API answers its own error shape */
	return http_finish(c, ctx);
}

/* The body is over the route's limit: stop buffering it, and end the connection after the
 * answer (an unread body would be taken for the next request). */
static void http_body_too_big(struct http_ctx *ctx, unsigned long long declared)
{
	ctx->too_big = 1;
	ctx->last = 1;
	buf_free(&ctx->body);
	rec_upload_free(ctx->upload); /* its spool file goes now, not with the connection */
	ctx->upload = NULL;
	http_edge_count_too_large();
	log_info("http", "event=body_too_large declared=%llu limit=%zu client=%s", declared,
		 ctx->limit, ctx->client);
}

static enum MHD_Result http_handler(void *cls, struct MHD_Connection *c, const char *url,
				    const char *method, const char *version,
				    const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_ctx *ctx = *con_cls;
	unsigned long long declared;

	(void)version;
	if (!ctx)
		return MHD_NO;
	if (ctx->parked) {
		enum MHD_Result r;

		/* resumed: the task's node calls are done. Uncounted only once the answer is
		 * queued (or the request parked again), so the stop never misses it */
		ctx->parked = 0;
		ctx->park->resume(ctx->park, &ctx->answer);
		r = http_finish(c, ctx);
		__atomic_sub_fetch(&http_parked_now, 1, __ATOMIC_RELAXED);
		return r;
	}
	if (!ctx->headers_seen) {
		/* headers complete, no body read yet: the moment to refuse a large one */
		ctx->headers_seen = 1;
		ctx->limit = http_edge_body_limit(s->cfg, method, url);
		http_edge_client(c, ctx->client, sizeof(ctx->client));
		if (http_edge_content_length(c, &declared) && declared > ctx->limit) {
			/* MHD sends this answer without reading the body and closes the
			 * connection */
			http_body_too_big(ctx, declared);
			ctx->answered = 1;
			http_edge_linger(c);
			http_edge_phase(c, HTTP_EDGE_HANDLING);
			return http_process(s, c, ctx, url, method);
		}
		if (!rec_upload_route(method, url))
			return MHD_YES;
		if (rec_upload_begin(s->cfg, c, &ctx->upload, &ctx->answer) == 0) {
			http_edge_phase(c, HTTP_EDGE_UPLOADING);
			return MHD_YES;
		}
		/* refused at the headers: the same as a body too large, with its own answer */
		ctx->answered = 1;
		ctx->last = 1;
		http_edge_linger(c);
		http_edge_phase(c, HTTP_EDGE_HANDLING);
		return http_finish(c, ctx);
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (ctx->answered || ctx->too_big)
			return MHD_YES; /* discarded; the request deadline bounds an endless one */
		/* a chunked body has no Content-Length: cut it at the same limit. MHD 0.9.75 cannot
		 * queue an answer in the middle of a body, so it goes out when the body ends. */
		if (ctx->upload && ctx->upload_bytes + n <= ctx->limit) {
			ctx->upload_bytes += n;
			rec_upload_append(ctx->upload, upload, n);
		} else if (ctx->upload) {
			http_body_too_big(ctx, ctx->upload_bytes + n);
		} else if (ctx->body.len + n > ctx->limit) {
			http_body_too_big(ctx, ctx->body.len + n);
		} else {
			buf_append(&ctx->body, upload, n);
		}
		return MHD_YES;
	}
	if (ctx->answered)
		return MHD_YES;
	http_edge_phase(c, HTTP_EDGE_HANDLING);
	return http_process(s, c, ctx, url, method);
}

int http_server_start(struct http_server **out, const struct lb_config *cfg, char *err,
		      size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	/* each pool thread gets its share of the limit; none may get zero */
	unsigned limit = cfg->max_connections < cfg->workers ? cfg->workers : cfg->max_connections;
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->listen_fd = -1;
	rc = http_edge_setup(cfg, err, errlen);
	if (rc < 0)
		goto fail;
	http_edge_raise_nofile(cfg);
	rc = s->listen_fd = http_edge_listen(cfg, err, errlen);
	if (rc < 0)
		goto fail;
	if (cfg->listen_v6)
		flags |= MHD_USE_IPv6;
	/* MHD_USE_ITC: MHD_quiesce_daemon needs it in thread-pool mode */
	s->d = MHD_start_daemon(
		flags, cfg->listen_port, NULL, NULL, http_handler, s,
		MHD_OPTION_EXTERNAL_LOGGER, http_edge_mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->workers,
		MHD_OPTION_CONNECTION_LIMIT, limit,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)((cfg->idle_timeout_ms + 999) / 1000),
		MHD_OPTION_NOTIFY_CONNECTION, http_edge_notify, NULL,
		MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(cfg->max_query + HTTP_HEADER_ALLOWANCE),
		MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errlen, "cannot start the HTTP server on %s%s%s:%u: %s",
			 cfg->listen_v6 ? "[" : "", cfg->listen_host, cfg->listen_v6 ? "]" : "",
			 cfg->listen_port, strerror(errno));
		rc = errno ? -errno : -EIO;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	http_edge_teardown();
	free(s);
	return rc;
}

void http_server_quiesce(struct http_server *s)
{
	__atomic_store_n(&http_draining, 1, __ATOMIC_RELAXED);
	if (!s || s->quiesced)
		return;
	MHD_quiesce_daemon(s->d);
	http_edge_unlisten(s->listen_fd);
	s->quiesced = 1;
}

void http_server_sweep(struct http_server *s)
{
	(void)s;
	http_edge_sweep();
}

void http_server_stop(struct http_server *s)
{
	struct timespec tick = { 0, 10 * 1000000L };
	long parked;
	int i;

	if (!s)
		return;
	parked = http_server_parked();
	if (parked > 0) {
		/* MHD_stop_daemon aborts the process with a connection still suspended */
		log_error("http", "event=stop_skipped parked=%ld", parked);
		return;
	}
	http_server_quiesce(s);
	/* answers queued at the drain deadline (woken parked requests) get a moment to go out */
	for (i = 0; i < 100 && __atomic_load_n(&http_answering_now, __ATOMIC_RELAXED) > 0; i++)
		nanosleep(&tick, NULL);
	MHD_stop_daemon(s->d);
	close(s->listen_fd);
	http_edge_teardown();
	free(s);
}

long http_server_inflight(void)
{
	return __atomic_load_n(&http_inflight_now, __ATOMIC_RELAXED);
}

long http_server_connections(void)
{
	return http_edge_connections();
}

void http_server_counters(struct http_server_counters *out)
{
	http_edge_counters(out);
}

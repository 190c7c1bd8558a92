/* bbbsim_http.c: libmicrohttpd glue. The raw request URI is captured with the URI log
 * callback because the access handler only sees the decoded path, and checksums need the
 * query exactly as the client encoded it. */
#include "bbbsim_http.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "log.h"
#include "bbbsim_api.h"
#include "bbbsim_ctl.h"

/* Presentation XML may be base64 inline; bbb-web's default cap is about 2 MB. */
#define BBBSIM_HTTP_BODY_MAX (4u * 1024 * 1024)

struct bbbsim_http {
	struct MHD_Daemon *daemon;
	struct bbbsim_state *st; /* nodes of their own, n > 1: under /n/<i>/ each */
	size_t n;
};

/* Per request; created by the URI log callback, freed when MHD completes the request. */
struct bbbsim_http_ctx {
	char *uri;
	struct buf body;
	int started;
	int too_large;
};

static void *bbbsim_http_uri_log(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct bbbsim_http_ctx *ctx;

	(void)cls;
	(void)con;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return NULL;
	ctx->uri = strdup(uri);
	if (!ctx->uri) {
		free(ctx);
		return NULL;
	}
	buf_init(&ctx->body);
	return ctx;
}

static void bbbsim_http_completed(void *cls, struct MHD_Connection *con, void **req_cls,
				  enum MHD_RequestTerminationCode toe)
{
	struct bbbsim_http_ctx *ctx = *req_cls;

	(void)cls;
	(void)con;
	(void)toe;
	if (!ctx)
		return;
	free(ctx->uri);
	buf_free(&ctx->body);
	free(ctx);
	*req_cls = NULL;
}

static enum MHD_Result bbbsim_http_send(const struct bbbsim_state *st,
					struct MHD_Connection *con, struct bbbsim_msg_reply *rep)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = 0;
	char *data;

	data = buf_take(&rep->body, &len);
	if (!data)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type);
	MHD_add_response_header(resp, "X-Bbbsim-Name", st->name);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	if (rep->location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, rep->location);
	ret = MHD_queue_response(con, rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The node a path is for: the only one, or with several "/n/<i>/..." (the prefix is taken
 * off req->path); NULL when there is no such node. */
static struct bbbsim_state *bbbsim_http_node(struct bbbsim_http *h, struct bbbsim_msg_request *req)
{
	const char *p = req->path;
	char *end;
	unsigned long i;

	if (h->n == 1)
		return h->st;
	if (strncmp(p, "/n/", 3) != 0 || p[3] < '0' || p[3] > '9')
		return NULL;
	i = strtoul(p + 3, &end, 10);
	if (*end != '/' || i >= h->n)
		return NULL;
	req->path = end;
	return &h->st[i];
}

static void bbbsim_http_route(struct bbbsim_state *st, const struct bbbsim_msg_request *req,
			      struct bbbsim_msg_reply *rep)
{
	int rc;

	if (!st)
		rc = bbbsim_msg_reply_text(rep, 404, "no such node (paths are /n/<i>/...)");
	else if (bbbsim_api_match(req->path))
		rc = bbbsim_api_handle(st, req, rep);
	else if (bbbsim_ctl_match(req->path))
		rc = bbbsim_ctl_handle(st, req, rep);
	else
		rc = bbbsim_msg_reply_text(rep, 404, "not found");
	if (rc < 0) {
		bbbsim_msg_reply_free(rep);
		bbbsim_msg_reply_init(rep);
		bbbsim_msg_reply_text(rep, 500, "internal error");
	}
}

static enum MHD_Result bbbsim_http_access(void *cls, struct MHD_Connection *con,
					  const char *url, const char *method,
					  const char *version, const char *upload_data,
					  size_t *upload_size, void **req_cls)
{
	struct bbbsim_http *h = cls;
	struct bbbsim_http_ctx *ctx = *req_cls;
	struct bbbsim_msg_request req = { 0 };
	struct bbbsim_msg_reply rep;
	struct bbbsim_state *st;
	enum MHD_Result ret;
	char *q;

	(void)url;
	(void)version;
	if (!ctx)
		return MHD_NO; /* the URI log callback ran out of memory: drop the connection */
	if (!ctx->started) {
		ctx->started = 1;
		return MHD_YES;
	}
	if (*upload_size) {
		if (ctx->body.len + *upload_size > BBBSIM_HTTP_BODY_MAX)
			ctx->too_large = 1;
		else if (buf_append(&ctx->body, upload_data, *upload_size) < 0)
			ctx->too_large = 1;
		*upload_size = 0;
		return MHD_YES;
	}

	bbbsim_msg_reply_init(&rep);
	/* split the raw target: path (not decoded) and the query exactly as sent */
	q = strchr(ctx->uri, '?');
	req.query = q ? q + 1 : "";
	req.query_len = strlen(req.query);
	if (q)
		*q = '\0';
	req.path = ctx->uri;
	req.method = method;
	req.content_type = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_CONTENT_TYPE);
	req.body = buf_str(&ctx->body);
	req.body_len = ctx->body.len;
	st = bbbsim_http_node(h, &req);
	if (ctx->too_large)
		bbbsim_msg_reply_text(&rep, 413, "request body too large");
	else
		bbbsim_http_route(st, &req, &rep);
	log_info("bbbsim", "name=%s method=%s path=%s status=%u bytes=%zu",
		 st ? st->name : "-", method, req.path, rep.status, rep.body.len);
	ret = bbbsim_http_send(st ? st : h->st, con, &rep);
	bbbsim_msg_reply_free(&rep);
	return ret;
}

static void bbbsim_http_connection(void *cls, struct MHD_Connection *con, void **socket_ctx,
				   enum MHD_ConnectionNotificationCode toe)
{
	struct bbbsim_http *h = cls;

	(void)con;
	(void)socket_ctx;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_add_fetch(&h->st->connections, 1, __ATOMIC_RELAXED);
}

int bbbsim_http_start(struct bbbsim_http **out, struct bbbsim_state *st, size_t n,
		      const struct sockaddr *addr, socklen_t alen, unsigned *port)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
	const union MHD_DaemonInfo *info;
	struct bbbsim_http *h;

	(void)alen;
	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->st = st;
	h->n = n;
	if (addr->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* thread per connection: a simulated hang must not stall other clients */
	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, bbbsim_http_access, h,
				     MHD_OPTION_SOCK_ADDR, addr,
				     MHD_OPTION_URI_LOG_CALLBACK, bbbsim_http_uri_log, h,
				     MHD_OPTION_NOTIFY_COMPLETED, bbbsim_http_completed, h,
				     MHD_OPTION_NOTIFY_CONNECTION, bbbsim_http_connection, h,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
				     MHD_OPTION_END);
	if (!h->daemon) {
		int err = errno ? errno : EADDRINUSE;
		free(h);
		return -err;
	}
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : 0;
	*out = h;
	return 0;
}

void bbbsim_http_stop(struct bbbsim_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	free(h);
}

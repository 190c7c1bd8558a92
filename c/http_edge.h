/* http_edge.h: what the HTTP server does before a request reaches a handler: the listening
 * socket, file-descriptor and connection budgets, the whole-request deadline (slowloris),
 * per-route body limits and the client address behind trusted proxies. */
#ifndef B3S_HTTP_EDGE_H
#define B3S_HTTP_EDGE_H

#include <stdarg.h>
#include <stddef.h>

#include <microhttpd.h>

#include "config.h"
#include "http_server.h"

/* Where a connection is; RECEIVING and SENDING run against the request deadline. */
enum http_edge_phase {
	HTTP_EDGE_RECEIVING, /* request line, headers, body */
	HTTP_EDGE_HANDLING,  /* in a handler or parked: bounded by the handler's own deadlines */
	HTTP_EDGE_SENDING,   /* answer queued, the client reads it */
	HTTP_EDGE_IDLE,      /* keep-alive between requests */
	HTTP_EDGE_UPLOADING, /* an authorised recordings import: B3SCALE_RECORDING_UPLOAD_TIMEOUT_MS */
};

/* Parses B3SCALE_TRUSTED_PROXIES, keeps the deadlines and starts the linger thread; before
 * http_edge_listen. http_edge_teardown after the daemon stopped. */
int http_edge_setup(const struct lb_config *cfg, char *err, size_t errlen);
void http_edge_teardown(void);
/* Raises RLIMIT_NOFILE to its hard limit; warns when that is too low for max_connections. */
void http_edge_raise_nofile(const struct lb_config *cfg);
/* A bound, listening, non-blocking socket for cfg's address, or -errno ("cannot listen on
 * 127.0.0.1:42353: Address already in use" in err). */
int http_edge_listen(const struct lb_config *cfg, char *err, size_t errlen);
/* Stops the kernel queueing new connections on fd without closing it (MHD threads may still
 * hold it): clients are refused, or go to another instance sharing the port. */
void http_edge_unlisten(int fd);

/* MHD_OPTION_NOTIFY_CONNECTION: the connection registry the sweeper walks. */
void http_edge_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		      enum MHD_ConnectionNotificationCode code);
/* A request line arrived (URI log callback): its clock starts now unless the connection's
 * first request, whose clock started at accept. */
void http_edge_request_begin(struct MHD_Connection *c);
void http_edge_phase(struct MHD_Connection *c, enum http_edge_phase phase);
/* The answer went out before the body was read: drain the body once MHD closes. */
void http_edge_linger(struct MHD_Connection *c);
/* Shuts down connections past their deadline; the main loop calls this every ~250 ms. */
void http_edge_sweep(void);

/* MHD_OPTION_EXTERNAL_LOGGER: counts refused connections, passes the rest to the log. */
void http_edge_mhd_log(void *cls, const char *fmt, va_list ap);

/* The largest body this route accepts (B3SCALE_MAX_BODY or B3SCALE_MAX_SMALL_BODY). */
size_t http_edge_body_limit(const struct lb_config *cfg, const char *method, const char *path);
/* 1 and *len when the request declares a Content-Length, else 0 (chunked or no body). */
int http_edge_content_length(struct MHD_Connection *c, unsigned long long *len);
/* The 413 for a route outside the BBB API (JSON under /api/v1, text elsewhere). */
void http_edge_too_large(const char *path, size_t limit, struct http_answer *a);
void http_edge_count_too_large(void);

/* The client's address: the peer, or behind a trusted proxy the right-most X-Forwarded-For
 * entry that is not itself a trusted proxy. Always a printable address (or "-"). */
void http_edge_client(struct MHD_Connection *c, char *out, size_t outlen);

long http_edge_connections(void);
void http_edge_counters(struct http_server_counters *out);

#endif

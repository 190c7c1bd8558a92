/* http_edge.c: budgets at the edge of the HTTP server. libmicrohttpd's own timeout is an idle
 * timeout, so a client trickling one header byte a second would hold its slot for ever; here a
 * registry of connections remembers when each request began and a sweeper shuts down those
 * past B3SCALE_REQUEST_TIMEOUT_MS. Bodies are refused by Content-Length before they are read,
 * and the client address is taken from X-Forwarded-For only when a trusted proxy sent it. */
#include "http_edge.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cb_endpoints.h"
#include "clock.h"
#include "log.h"
#include "netaddr.h"
#include "rec_upload.h"

/* descriptors beside the clients: database and node connections, logs, epoll, pipes */
#define HTTP_EDGE_FD_HEADROOM 256
/* sockets kept draining after an early answer, and for how long at most */
#define HTTP_EDGE_LINGER_MAX 256
#define HTTP_EDGE_LINGER_MS 5000

struct http_edge_conn {
	struct http_edge_conn *prev, *next;
	int fd;
	enum http_edge_phase phase;
	int cut;           /* already shut down, waiting for MHD to close it */
	int linger;        /* answered before its body: drain the body after MHD closes */
	long long since;   /* ms, when the current phase began */
};

static struct {
	pthread_mutex_t mu; /* the list and every entry's phase */
	struct http_edge_conn *head;
	long conns;
	long long request_ms, idle_cut_ms, upload_ms;
	struct netaddr_list nets; /* B3SCALE_TRUSTED_PROXIES */
	unsigned long refused, cut, too_large;
	long long refused_logged; /* s, one warning a second at most under a flood */
} edge = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* A client that sends its whole body before reading (most libraries do) gets a reset instead
 * of the early answer when the socket is closed with its body unread. So after MHD has sent
 * the answer and its FIN, a duplicate of the descriptor is kept and drained here until the
 * client closes or HTTP_EDGE_LINGER_MS pass (nginx calls this a lingering close). */
static struct {
	pthread_mutex_t mu;
	pthread_t thread;
	int running, epfd, wakefd;
	int fd[HTTP_EDGE_LINGER_MAX]; /* -1: free */
	long long until[HTTP_EDGE_LINGER_MAX];
} linger = { .mu = PTHREAD_MUTEX_INITIALIZER, .epfd = -1, .wakefd = -1 };

/* An X-Forwarded-For entry: "1.2.3.4", "1.2.3.4:port", "::1", "[::1]" or "[::1]:port". */
static int http_edge_parse_addr(const char *s, size_t n, struct netaddr *out)
{
	const char *colon;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close)
			return -EINVAL;
		return netaddr_parse(s + 1, (size_t)(close - s - 1), out);
	}
	/* v4 with a port is the only form with exactly one colon */
	colon = memchr(s, ':', n);
	if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)))
		n = (size_t)(colon - s);
	return netaddr_parse(s, n, out);
}

static void http_edge_linger_close(int i)
{
	epoll_ctl(linger.epfd, EPOLL_CTL_DEL, linger.fd[i], NULL);
	close(linger.fd[i]);
	linger.fd[i] = -1;
}

static void *http_edge_linger_thread(void *arg)
{
	struct epoll_event ev[32];
	char scratch[16384];
	long long now;
	ssize_t r;
	int n, i, k;

	(void)arg;
	for (;;) {
		n = epoll_wait(linger.epfd, ev, 32, 250);
		pthread_mutex_lock(&linger.mu);
		if (!linger.running) {
			pthread_mutex_unlock(&linger.mu);
			break;
		}
		for (k = 0; k < n; k++) {
			i = (int)ev[k].data.u32;
			if (i < 0 || i >= HTTP_EDGE_LINGER_MAX || linger.fd[i] < 0)
				continue;
			while ((r = read(linger.fd[i], scratch, sizeof(scratch))) > 0)
				;
			if (r == 0 || (errno != EAGAIN && errno != EINTR))
				http_edge_linger_close(i); /* the client is done (or gone) */
		}
		now = clock_mono_ms();
		for (i = 0; i < HTTP_EDGE_LINGER_MAX; i++)
			if (linger.fd[i] >= 0 && now > linger.until[i])
				http_edge_linger_close(i);
		pthread_mutex_unlock(&linger.mu);
	}
	return NULL;
}

/* Takes over a copy of fd, which MHD is about to close. */
static void http_edge_linger_add(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	int i, copy;

	pthread_mutex_lock(&linger.mu);
	for (i = 0; i < HTTP_EDGE_LINGER_MAX && linger.fd[i] >= 0; i++)
		;
	/* all slots busy (a flood of oversized requests): this one is closed as it is */
	if (!linger.running || i == HTTP_EDGE_LINGER_MAX)
		goto out;
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (copy < 0)
		goto out;
	fcntl(copy, F_SETFL, fcntl(copy, F_GETFL) | O_NONBLOCK);
	ev.data.u32 = (uint32_t)i;
	linger.fd[i] = copy;
	linger.until[i] = clock_mono_ms() + HTTP_EDGE_LINGER_MS;
	if (epoll_ctl(linger.epfd, EPOLL_CTL_ADD, copy, &ev) < 0) {
		close(copy);
		linger.fd[i] = -1;
	}
out:
	pthread_mutex_unlock(&linger.mu);
}

static int http_edge_linger_start(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int i;

	for (i = 0; i < HTTP_EDGE_LINGER_MAX; i++)
		linger.fd[i] = -1;
	linger.epfd = epoll_create1(EPOLL_CLOEXEC);
	linger.wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ev.data.u32 = UINT32_MAX; /* not a slot */
	if (linger.epfd < 0 || linger.wakefd < 0 ||
	    epoll_ctl(linger.epfd, EPOLL_CTL_ADD, linger.wakefd, &ev) < 0)
		goto fail;
	linger.running = 1;
	if (pthread_create(&linger.thread, NULL, http_edge_linger_thread, NULL) != 0) {
		linger.running = 0;
		goto fail;
	}
	return 0;
fail:
	if (linger.epfd >= 0)
		close(linger.epfd);
	if (linger.wakefd >= 0)
		close(linger.wakefd);
	linger.epfd = linger.wakefd = -1;
	return -EAGAIN;
}

int http_edge_setup(const struct lb_config *cfg, char *err, size_t errlen)
{
	long long idle_s = (cfg->idle_timeout_ms + 999) / 1000;
	int rc;

	edge.request_ms = cfg->request_timeout_ms;
	edge.upload_ms = cfg->recording_upload_timeout_ms;
	/* an idle keep-alive connection is MHD's to close (whole seconds); one that trickles its
	 * next request line past that and a whole request deadline is ours */
	edge.idle_cut_ms = idle_s * 1000 + cfg->request_timeout_ms + 1000;
	rc = netaddr_list_parse(cfg->trusted_proxies, "B3SCALE_TRUSTED_PROXIES", &edge.nets, err,
				errlen);
	if (rc == 0 && (rc = http_edge_linger_start()) < 0)
		snprintf(err, errlen, "cannot start the HTTP linger thread");
	return rc;
}

void http_edge_teardown(void)
{
	uint64_t one = 1;
	int i;

	if (!linger.running)
		return;
	pthread_mutex_lock(&linger.mu);
	linger.running = 0;
	pthread_mutex_unlock(&linger.mu);
	if (write(linger.wakefd, &one, sizeof(one)) < 0)
		log_warn("http", "event=linger_wake_failed");
	pthread_join(linger.thread, NULL);
	for (i = 0; i < HTTP_EDGE_LINGER_MAX; i++)
		if (linger.fd[i] >= 0)
			http_edge_linger_close(i);
	close(linger.epfd);
	close(linger.wakefd);
	linger.epfd = linger.wakefd = -1;
}

void http_edge_raise_nofile(const struct lb_config *cfg)
{
	struct rlimit rl;
	unsigned long long want = (unsigned long long)cfg->max_connections + HTTP_EDGE_FD_HEADROOM;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = was;
	}
	if (rl.rlim_cur != RLIM_INFINITY && (unsigned long long)rl.rlim_cur < want)
		log_warn("http", "event=nofile_low limit=%llu max_connections=%u wanted=%llu",
			 (unsigned long long)rl.rlim_cur, cfg->max_connections, want);
}

int http_edge_listen(const struct lb_config *cfg, char *err, size_t errlen)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	struct sockaddr *sa;
	socklen_t sl;
	char where[300];
	int fd = -1, one = 1, rc;

	snprintf(where, sizeof(where), cfg->listen_v6 ? "[%s]:%u" : "%s:%u", cfg->listen_host,
		 cfg->listen_port);
	memset(&s6, 0, sizeof(s6));
	memset(&s4, 0, sizeof(s4));
	if (cfg->listen_v6) {
		s6.sin6_family = AF_INET6;
		s6.sin6_port = htons(cfg->listen_port);
		rc = inet_pton(AF_INET6, cfg->listen_host, &s6.sin6_addr);
		sa = (struct sockaddr *)&s6;
		sl = sizeof(s6);
	} else {
		s4.sin_family = AF_INET;
		s4.sin_port = htons(cfg->listen_port);
		rc = inet_pton(AF_INET, cfg->listen_host, &s4.sin_addr);
		sa = (struct sockaddr *)&s4;
		sl = sizeof(s4);
	}
	if (rc != 1) {
		snprintf(err, errlen, "B3SCALE_LISTEN_HTTP: '%s' is not an IPv%c address",
			 cfg->listen_host, cfg->listen_v6 ? '6' : '4');
		return -EINVAL;
	}
	/* non-blocking: every pool thread waits on this socket and only one wins each accept */
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* SO_REUSEADDR only lets a restart bind past TIME_WAIT; a second listener still fails */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	/* SO_REUSEPORT lets any process of this user split the port with us: opt-in only */
	if (cfg->listen_reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, sa, sl) < 0 ||
	    listen(fd, cfg->max_connections > INT_MAX ? INT_MAX : (int)cfg->max_connections) < 0)
		goto fail;
	return fd;
fail:
	rc = -errno;
	snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

void http_edge_unlisten(int fd)
{
	/* Linux takes a listening socket out of LISTEN on SHUT_RD: queued and new connections
	 * are refused, and the descriptor stays valid for the pool threads until they stop */
	if (fd >= 0)
		shutdown(fd, SHUT_RD);
}

void http_edge_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		      enum MHD_ConnectionNotificationCode code)
{
	struct http_edge_conn *e;
	const union MHD_ConnectionInfo *ci;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		e = calloc(1, sizeof(*e));
		*socket_context = e;
		if (!e)
			return; /* this connection only misses its deadline */
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		e->fd = ci ? ci->connect_fd : -1;
		e->phase = HTTP_EDGE_RECEIVING;
		e->since = clock_mono_ms();
		pthread_mutex_lock(&edge.mu);
		e->next = edge.head;
		if (edge.head)
			edge.head->prev = e;
		edge.head = e;
		edge.conns++;
		pthread_mutex_unlock(&edge.mu);
		return;
	}
	/* MHD notifies CLOSED before it closes the descriptor, and the sweeper only touches fds
	 * under this mutex: a descriptor number reused by a new connection is never hit */
	e = *socket_context;
	if (!e)
		return;
	if (e->linger && e->fd >= 0)
		http_edge_linger_add(e->fd);
	pthread_mutex_lock(&edge.mu);
	if (e->prev)
		e->prev->next = e->next;
	else
		edge.head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	edge.conns--;
	pthread_mutex_unlock(&edge.mu);
	free(e);
	*socket_context = NULL;
}

static struct http_edge_conn *http_edge_entry(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void http_edge_request_begin(struct MHD_Connection *c)
{
	struct http_edge_conn *e = http_edge_entry(c);

	if (!e)
		return;
	pthread_mutex_lock(&edge.mu);
	/* the first request's clock runs from accept, so the request line counts too */
	if (e->phase != HTTP_EDGE_RECEIVING)
		e->since = clock_mono_ms();
	e->phase = HTTP_EDGE_RECEIVING;
	pthread_mutex_unlock(&edge.mu);
}

void http_edge_linger(struct MHD_Connection *c)
{
	struct http_edge_conn *e = http_edge_entry(c);

	if (e)
		e->linger = 1; /* only this connection's worker thread reads it */
}

void http_edge_phase(struct MHD_Connection *c, enum http_edge_phase phase)
{
	struct http_edge_conn *e = http_edge_entry(c);

	if (!e)
		return;
	pthread_mutex_lock(&edge.mu);
	e->phase = phase;
	e->since = clock_mono_ms();
	pthread_mutex_unlock(&edge.mu);
}

void http_edge_sweep(void)
{
	struct http_edge_conn *e;
	long long now = clock_mono_ms(), limit;
	unsigned n = 0;

	pthread_mutex_lock(&edge.mu);
	for (e = edge.head; e; e = e->next) {
		if (e->cut || e->fd < 0 || e->phase == HTTP_EDGE_HANDLING)
			continue;
		limit = e->phase == HTTP_EDGE_IDLE	  ? edge.idle_cut_ms
			: e->phase == HTTP_EDGE_UPLOADING ? edge.upload_ms
							  : edge.request_ms;
		if (now - e->since <= limit)
			continue;
		/* MHD sees the end of the stream on its next wake-up and closes the connection */
		shutdown(e->fd, SHUT_RDWR);
		e->cut = 1;
		n++;
	}
	edge.cut += n;
	pthread_mutex_unlock(&edge.mu);
	if (n)
		log_info("http", "event=requests_cut count=%u request_timeout_ms=%lld", n,
			 edge.request_ms);
}

void http_edge_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[400];
	size_t i;
	long long now_s;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* MHD's text may quote client data: keep it on one line and out of the quotes */
	for (i = 0; msg[i]; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == '"' || msg[i] == '\\')
			msg[i] = ' ';
	while (i > 0 && msg[i - 1] == ' ')
		msg[--i] = '\0';
	if (strstr(msg, "connection limit")) {
		now_s = clock_mono_ms() / 1000;
		pthread_mutex_lock(&edge.mu);
		edge.refused++;
		if (now_s == edge.refused_logged) {
			pthread_mutex_unlock(&edge.mu);
			return;
		}
		edge.refused_logged = now_s;
		pthread_mutex_unlock(&edge.mu);
		log_warn("http", "event=connection_refused reason=\"%s\"", msg);
		return;
	}
	log_debug("http", "event=mhd message=\"%s\"", msg);
}

static int http_edge_bbb_upload(const char *path)
{
	const char *p, *slash;

	if (strncmp(path, "/bbb/", 5) != 0)
		return 0;
	p = path + 5;
	slash = strchr(p, '/');
	if (!slash || slash == p)
		return 0;
	p = slash + 1;
	if (strncmp(p, "bigbluebutton/", 14) == 0)
		p += 14;
	if (strncmp(p, "api/", 4) != 0)
		return 0;
	p += 4;
	return strcmp(p, "create") == 0 || strcmp(p, "insertDocument") == 0 ||
	       strcmp(p, "putRecordingTextTrack") == 0;
}

size_t http_edge_body_limit(const struct lb_config *cfg, const char *method, const char *path)
{
	size_t small = cfg->max_small_body < cfg->max_body ? cfg->max_small_body : cfg->max_body;

	/* only slides, text tracks, an agent's state report, a node's analytics callback and a
	 * recordings import are ever large; an import goes to disk as it arrives, never into
	 * memory */
	if (rec_upload_route(method, path))
		return (size_t)cfg->max_recording_upload;
	if ((strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) &&
	    (http_edge_bbb_upload(path) || strncmp(path, "/api/v1/agent/", 14) == 0 ||
	     cb_endpoints_route(path)))
		return cfg->max_body;
	return small;
}

int http_edge_content_length(struct MHD_Connection *c, unsigned long long *len)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;

	if (!v)
		return 0;
	errno = 0;
	*len = strtoull(v, &end, 10);
	if (end == v || errno)
		*len = ULLONG_MAX; /* unreadable: as large as can be */
	return 1;
}

void http_edge_too_large(const char *path, size_t limit, struct http_answer *a)
{
	a->status = 413;
	if (strcmp(path, "/api/v1") == 0 || strncmp(path, "/api/v1/", 8) == 0) {
		a->content_type = "application/json";
		/* the admin API's documented code for this (docs/admin-api.md) */
		buf_printf(&a->body,
			   "{\"error\":\"too_large\",\"message\":\"request body too large "
			   "(limit %zu bytes)\"}\n",
			   limit);
	} else {
		a->content_type = "text/plain";
		buf_printf(&a->body, "request body too large (limit %zu bytes)\n", limit);
	}
}

void http_edge_count_too_large(void)
{
	__atomic_add_fetch(&edge.too_large, 1, __ATOMIC_RELAXED);
}

struct http_edge_xff {
	struct buf all; /* every X-Forwarded-For header, in order, joined by commas */
};

static enum MHD_Result http_edge_xff_header(void *cls, enum MHD_ValueKind kind, const char *key,
					    const char *value)
{
	struct http_edge_xff *x = cls;

	(void)kind;
	if (key && value && strcasecmp(key, "X-Forwarded-For") == 0) {
		if (x->all.len)
			buf_puts(&x->all, ",");
		buf_puts(&x->all, value);
	}
	return MHD_YES;
}

void http_edge_client(struct MHD_Connection *c, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct netaddr cur, next;
	struct http_edge_xff x;
	const char *s, *ent, *comma;
	size_t n, el;

	if (!ci || netaddr_from_sockaddr(ci->client_addr, &cur) < 0) {
		snprintf(out, outlen, "-");
		return;
	}
	if (edge.nets.n == 0 || !netaddr_list_has(&edge.nets, &cur)) {
		netaddr_format(&cur, out, outlen);
		return;
	}
	buf_init(&x.all);
	MHD_get_connection_values(c, MHD_HEADER_KIND, http_edge_xff_header, &x);
	s = buf_str(&x.all);
	n = x.all.len;
	/* each proxy appends the address it saw: walk from the right while the hop is ours */
	while (n > 0 && netaddr_list_has(&edge.nets, &cur)) {
		comma = memrchr(s, ',', n);
		ent = comma ? comma + 1 : s;
		el = (size_t)(s + n - ent);
		n = comma ? (size_t)(comma - s) : 0;
		while (el > 0 && (*ent == ' ' || *ent == '\t'))
			ent++, el--;
		while (el > 0 && (ent[el - 1] == ' ' || ent[el - 1] == '\t'))
			el--;
		if (el == 0)
			continue;
		/* garbage ("unknown", a name): the last trusted hop is all we know */
		if (http_edge_parse_addr(ent, el, &next) < 0)
			break;
		cur = next;
	}
	buf_free(&x.all);
	netaddr_format(&cur, out, outlen);
}

long http_edge_connections(void)
{
	long n;

	pthread_mutex_lock(&edge.mu);
	n = edge.conns;
	pthread_mutex_unlock(&edge.mu);
	return n;
}

void http_edge_counters(struct http_server_counters *out)
{
	pthread_mutex_lock(&edge.mu);
	out->connections_refused = edge.refused;
	out->requests_cut = edge.cut;
	pthread_mutex_unlock(&edge.mu);
	out->bodies_refused = __atomic_load_n(&edge.too_large, __ATOMIC_RELAXED);
}

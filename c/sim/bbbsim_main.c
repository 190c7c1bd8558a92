/* bbbsim_main.c: command line, signals and lifetime of the simulated BBB node.
 *
 *   bbbsim --listen HOST:PORT --secret SECRET [--name NAME] [--hostname URLBASE]
 *          [--nodes N] [--recordings DIR] [--quiet]
 *
 * --recordings DIR: a meeting created with record=true leaves its published recording in
 * DIR/presentation/<recordID>/ when it ends (with --nodes, node i's in DIR/n<i>/), as BBB
 * leaves it in /var/bigbluebutton/published.
 *
 * --nodes N (benchmarks at scale): N nodes in one process on one port, node i under
 * /n/<i>/ (its API at /n/<i>/bigbluebutton/api/, named NAME-<i>), all with SECRET.
 *
 * Exits 0 on SIGTERM/SIGINT after a clean shutdown, 2 on usage errors, 1 when it cannot
 * listen. One log line per request goes to stderr (--quiet keeps only errors).
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "log.h"
#include "bbbsim_http.h"
#include "bbbsim_state.h"

struct bbbsim_main_opts {
	const char *listen;
	const char *secret;
	const char *name;
	const char *hostname;
	const char *recordings;
	long nodes;
	int quiet;
};

#define BBBSIM_MAX_NODES 10000

static void bbbsim_main_usage(void)
{
	fprintf(stderr, "usage: bbbsim --listen HOST:PORT --secret SECRET [--name NAME] "
			"[--hostname URLBASE] [--nodes N] [--recordings DIR] [--quiet]\n");
}

static int bbbsim_main_args(int argc, char **argv, struct bbbsim_main_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->name = "bbbsim";
	o->nodes = 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;
		char *end;

		if (strcmp(a, "--quiet") == 0) {
			o->quiet = 1;
			continue;
		}
		if (strcmp(a, "--nodes") == 0 && i + 1 < argc) {
			o->nodes = strtol(argv[++i], &end, 10);
			if (*end || o->nodes < 1 || o->nodes > BBBSIM_MAX_NODES)
				return -EINVAL;
			continue;
		}
		if (strcmp(a, "--listen") == 0)
			dst = &o->listen;
		else if (strcmp(a, "--secret") == 0)
			dst = &o->secret;
		else if (strcmp(a, "--name") == 0)
			dst = &o->name;
		else if (strcmp(a, "--hostname") == 0)
			dst = &o->hostname;
		else if (strcmp(a, "--recordings") == 0)
			dst = &o->recordings;
		if (!dst || i + 1 >= argc)
			return -EINVAL;
		*dst = argv[++i];
	}
	if (!o->listen || !o->secret || !*o->secret)
		return -EINVAL;
	return 0;
}

/* HOST:PORT or [V6]:PORT into host and port strings (host without brackets). */
static int bbbsim_main_split(const char *listen, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon = strrchr(listen, ':');
	const char *h = listen;
	size_t hlen;

	if (!colon || !colon[1] || strlen(colon + 1) >= pcap)
		return -EINVAL;
	hlen = (size_t)(colon - listen);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= hcap)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

/* Node i's name, and its base URL once the port is known (every node under /n/<i>). */
static int bbbsim_main_node(struct bbbsim_state *st, const struct bbbsim_main_opts *o, long i)
{
	char name[128], dir[4096];
	int rc;

	if (o->nodes == 1) {
		rc = bbbsim_state_init(st, o->secret, o->name, o->hostname ? o->hostname : "");
		snprintf(dir, sizeof(dir), "%s", o->recordings ? o->recordings : "");
	} else {
		snprintf(name, sizeof(name), "%s-%ld", o->name, i);
		rc = bbbsim_state_init(st, o->secret, name, "");
		snprintf(dir, sizeof(dir), "%s/n%ld", o->recordings ? o->recordings : "", i);
	}
	if (rc == 0 && o->recordings && !(st->recordings_dir = strdup(dir)))
		rc = -ENOMEM;
	return rc;
}

static int bbbsim_main_hostname(struct bbbsim_state *st, const char *base, long nodes, long i)
{
	char url[400];
	size_t n;

	bbbsim_state_lock(st);
	if (nodes > 1 || !*st->hostname) {
		snprintf(url, sizeof(url), nodes > 1 ? "%s/n/%ld" : "%s", base, i);
		free(st->hostname);
		st->hostname = strdup(url);
	}
	/* no trailing slash so "<hostname>/html5client/..." stays well-formed */
	n = st->hostname ? strlen(st->hostname) : 0;
	while (n > 0 && st->hostname[n - 1] == '/')
		st->hostname[--n] = '\0';
	bbbsim_state_unlock(st);
	return st->hostname ? 0 : -ENOMEM;
}

int main(int argc, char **argv)
{
	struct bbbsim_main_opts o;
	struct bbbsim_state *st = NULL;
	struct bbbsim_http *http = NULL;
	struct addrinfo hints = { 0 }, *ai = NULL;
	char host[256], port[16], base[320];
	unsigned bound = 0;
	long i, ready = 0;
	sigset_t set;
	int rc, sig, status = 1;

	if (bbbsim_main_args(argc, argv, &o) < 0 ||
	    bbbsim_main_split(o.listen, host, sizeof(host), port, sizeof(port)) < 0) {
		bbbsim_main_usage();
		return 2;
	}
	log_setup(o.quiet ? "error" : "info", "text");
	/* before any thread: the end callbacks use libcurl from the request threads */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("bbbsim", "event=curl_init_failed");
		return 1;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		log_error("bbbsim", "listen=%s error=\"%s\"", o.listen, gai_strerror(rc));
		return 2;
	}

	/* threads started by MHD inherit this mask, so only sigwait below sees the signals */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	st = calloc((size_t)o.nodes, sizeof(*st));
	if (!st)
		goto out;
	/* the hostname default needs the bound port, so start with a placeholder */
	for (; ready < o.nodes; ready++)
		if (bbbsim_main_node(&st[ready], &o, ready) < 0)
			goto out;
	rc = bbbsim_http_start(&http, st, (size_t)o.nodes, ai->ai_addr, ai->ai_addrlen, &bound);
	if (rc < 0) {
		log_error("bbbsim", "listen=%s error=\"%s\"", o.listen, strerror(-rc));
		goto out;
	}
	snprintf(base, sizeof(base), ai->ai_family == AF_INET6 ? "http://[%s]:%u" : "http://%s:%u",
		 host, bound);
	for (i = 0; i < o.nodes; i++)
		if (bbbsim_main_hostname(&st[i], o.hostname ? o.hostname : base, o.nodes, i) < 0)
			goto out;
	log_info("bbbsim", "name=%s listen=%s port=%u hostname=%s nodes=%ld", st[0].name, o.listen,
		 bound, st[0].hostname, o.nodes);

	sigdelset(&set, SIGPIPE);
	for (;;) {
		if (sigwait(&set, &sig) == 0 && (sig == SIGTERM || sig == SIGINT))
			break;
	}
	status = 0;
out:
	for (i = 0; i < ready; i++)
		bbbsim_state_stop(&st[i]);
	bbbsim_http_stop(http);
	for (i = 0; i < ready; i++)
		bbbsim_state_free(&st[i]);
	free(st);
	freeaddrinfo(ai);
	return status;
}

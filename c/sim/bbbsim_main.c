/* bbbsim_main.c: command line, signals and lifetime of the simulated BBB node.
 *
 *   bbbsim --listen HOST:PORT --secret SECRET [--name NAME] [--hostname URLBASE] [--quiet]
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

#include "log.h"
#include "bbbsim_http.h"
#include "bbbsim_state.h"

struct bbbsim_main_opts {
	const char *listen;
	const char *secret;
	const char *name;
	const char *hostname;
	int quiet;
};

static void bbbsim_main_usage(void)
{
	fprintf(stderr, "usage: bbbsim --listen HOST:PORT --secret SECRET [--name NAME] "
			"[--hostname URLBASE] [--quiet]\n");
}

static int bbbsim_main_args(int argc, char **argv, struct bbbsim_main_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->name = "bbbsim";
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;

		if (strcmp(a, "--quiet") == 0) {
			o->quiet = 1;
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

int main(int argc, char **argv)
{
	struct bbbsim_main_opts o;
	struct bbbsim_state st;
	struct bbbsim_http *http = NULL;
	struct addrinfo hints = { 0 }, *ai = NULL;
	char host[256], port[16], base[320];
	unsigned bound = 0;
	sigset_t set;
	int rc, sig, status = 1, state_ok = 0;

	if (bbbsim_main_args(argc, argv, &o) < 0 ||
	    bbbsim_main_split(o.listen, host, sizeof(host), port, sizeof(port)) < 0) {
		bbbsim_main_usage();
		return 2;
	}
	log_setup(o.quiet ? "error" : "info", "text");
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

	/* the hostname default needs the bound port, so start with a placeholder */
	if (bbbsim_state_init(&st, o.secret, o.name, o.hostname ? o.hostname : "") < 0)
		goto out;
	state_ok = 1;
	rc = bbbsim_http_start(&http, &st, ai->ai_addr, ai->ai_addrlen, &bound);
	if (rc < 0) {
		log_error("bbbsim", "listen=%s error=\"%s\"", o.listen, strerror(-rc));
		goto out;
	}
	if (!o.hostname) {
		snprintf(base, sizeof(base), ai->ai_family == AF_INET6 ? "http://[%s]:%u"
								 : "http://%s:%u", host, bound);
		bbbsim_state_lock(&st);
		free(st.hostname);
		st.hostname = strdup(base);
		bbbsim_state_unlock(&st);
		if (!st.hostname)
			goto out;
	} else {
		/* no trailing slash so "<hostname>/html5client/..." stays well-formed */
		size_t n = strlen(st.hostname);
		while (n > 0 && st.hostname[n - 1] == '/')
			st.hostname[--n] = '\0';
	}
	log_info("bbbsim", "name=%s listen=%s port=%u hostname=%s", st.name, o.listen, bound,
		 st.hostname);

	sigdelset(&set, SIGPIPE);
	for (;;) {
		if (sigwait(&set, &sig) == 0 && (sig == SIGTERM || sig == SIGINT))
			break;
	}
	status = 0;
out:
	if (state_ok)
		bbbsim_state_stop(&st);
	bbbsim_http_stop(http);
	if (state_ok)
		bbbsim_state_free(&st);
	freeaddrinfo(ai);
	return status;
}

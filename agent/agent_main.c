/* agent_main.c: b3scaleagent entry point: command line, configuration, signals. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "agent_config.h"
#include "agent_loop.h"
#include "agent_upload.h"
#include "log.h"

#define AGENT_MAIN_EXIT_FAIL 1
#define AGENT_MAIN_EXIT_CONFIG 2

static volatile sig_atomic_t agent_main_stop;

/* The handler only sets a flag; poll() returns EINTR and the loop sees it within 100 ms. */
static void agent_main_on_signal(int sig)
{
	(void)sig;
	agent_main_stop = 1;
}

static int agent_main_usage(FILE *f)
{
	fprintf(f,
		"usage: b3scaleagent [--register|--register-ready] [--once] | --check-config |\n"
		"                    --upload-recording RECORD_ID | --help | --version\n"
		"Runs on a BigBlueButton node: follows BBB's Redis events and reports meetings,\n"
		"attendees and heartbeats to b3scaled (B3SCALE_API_URL).\n"
		"  --register        create this node's backend in b3scale when it has none\n"
		"                    (admin_state \"init\": an admin enables it), then run\n"
		"  --register-ready  the same (kept for compatibility: b3scaled registers an\n"
		"                    agent's backend in init; an admin enables it)\n"
		"  --once            send the node's state once and exit (0 when delivered)\n"
		"  --check-config    print the resolved configuration (no secrets); exit 0 or 2\n"
		"  --upload-recording RECORD_ID\n"
		"                    send every format of this published recording to b3scaled\n"
		"                    now, even if it was sent before (one attempt each, one line\n"
		"                    per format); exit 0 when all were accepted, else 1\n"
		"  --version         print the version\n"
		"Configuration: BBB_CONFIG (bbb-web.properties) and B3SCALE_* environment\n"
		"variables, see docs/agent.md. SIGTERM/SIGINT flush queued events and exit 0.\n");
	return f == stderr ? AGENT_MAIN_EXIT_CONFIG : 0;
}

/* stoppable: SIGTERM/SIGINT end the loop; otherwise (a manual upload) they keep their
 * default and end the process (a half-written tar is cleaned up by the next start). */
static int agent_main_signals(int stoppable)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = agent_main_on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a pending poll() must return so the loop notices at once */
	if (stoppable && (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0))
		return -errno;
	sa.sa_handler = SIG_IGN; /* a dropped socket must be an error, not a death */
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	enum agent_loop_register reg = AGENT_LOOP_REGISTER_NO;
	int once = 0, check = 0, i, rc, code = AGENT_MAIN_EXIT_FAIL;
	const char *upload = NULL;
	struct agent_config cfg;
	struct agent_loop loop;
	char err[1400];

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return agent_main_usage(stdout);
		if (strcmp(argv[i], "--version") == 0) {
			printf("b3scaleagent %s\n", AGENT_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--register") == 0 || strcmp(argv[i], "-a") == 0)
			reg = AGENT_LOOP_REGISTER_INIT;
		else if (strcmp(argv[i], "--register-ready") == 0)
			reg = AGENT_LOOP_REGISTER_READY;
		else if (strcmp(argv[i], "--once") == 0)
			once = 1;
		else if (strcmp(argv[i], "--check-config") == 0)
			check = 1;
		else if (strcmp(argv[i], "--upload-recording") == 0) {
			if (i + 1 == argc) {
				fprintf(stderr, "b3scaleagent: --upload-recording needs a recordID\n");
				return AGENT_MAIN_EXIT_CONFIG;
			}
			upload = argv[++i];
		} else {
			fprintf(stderr, "b3scaleagent: unknown argument '%s' (see --help)\n", argv[i]);
			return AGENT_MAIN_EXIT_CONFIG;
		}
	}
	if (upload && (once || reg != AGENT_LOOP_REGISTER_NO)) {
		fprintf(stderr, "b3scaleagent: --upload-recording does not combine with --once or "
				"--register\n");
		return AGENT_MAIN_EXIT_CONFIG;
	}
	if (agent_config_load(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "b3scaleagent: %s\n", err);
		return AGENT_MAIN_EXIT_CONFIG;
	}
	if (log_setup(cfg.log_level, cfg.log_format) < 0) {
		fprintf(stderr, "b3scaleagent: B3SCALE_LOG_LEVEL must be error|warn|info|debug and "
				"B3SCALE_LOG_FORMAT text|json, got '%s' and '%s'\n",
			cfg.log_level, cfg.log_format);
		return AGENT_MAIN_EXIT_CONFIG;
	}
	if (check) {
		agent_config_print(&cfg, stdout);
		return 0;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "b3scaleagent: curl_global_init failed\n");
		return AGENT_MAIN_EXIT_FAIL;
	}
	rc = agent_main_signals(!upload);
	if (rc < 0) {
		fprintf(stderr, "b3scaleagent: sigaction: %s\n", strerror(-rc));
		goto out_curl;
	}
	if (upload) {
		code = agent_upload_manual(&cfg, upload, stdout);
		goto out_curl;
	}
	if (agent_loop_init(&loop, &cfg, reg, err, sizeof(err)) < 0) {
		fprintf(stderr, "b3scaleagent: %s\n", err);
		goto out_curl;
	}
	if (once) {
		rc = agent_loop_once(&loop, err, sizeof(err));
		if (rc < 0)
			log_error("agent", "event=once_failed error=\"%s\"", err);
		code = rc < 0 ? AGENT_MAIN_EXIT_FAIL : 0;
	} else {
		code = agent_loop_run(&loop, &agent_main_stop) < 0 ? AGENT_MAIN_EXIT_FAIL : 0;
	}
	agent_loop_free(&loop);
out_curl:
	curl_global_cleanup();
	memset(&cfg, 0, sizeof(cfg)); /* token and salt */
	return code;
}

/* main.c: b3scaled entry point: configuration, migrations, start-up checks, signals. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <curl/curl.h>

#include "backend_view.h"
#include "bbb_list.h"
#include "cb_outbox.h"
#include "cb_webhooks.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "node_loop.h"
#include "db_frontends.h"
#include "policy.h"
#include "poller.h"
#include "rec_import.h"
#include "route_cache.h"
#include "simulate.h"

/* The main loop wakes this often to sweep connections past their request deadline. */
#define MAIN_TICK_MS 250

/* SIGHUP, SIGTERM and SIGINT stay blocked in every thread (each inherits the mask of the
 * thread that creates it) and are taken only by main_wait_signal: none is lost, none runs a
 * handler on a random thread, and one that arrives during start-up waits for the loop. */
static sigset_t main_signals;

static void main_block_signals(void)
{
	sigemptyset(&main_signals);
	sigaddset(&main_signals, SIGHUP);
	sigaddset(&main_signals, SIGTERM);
	sigaddset(&main_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &main_signals, NULL);
	/* a client that goes away mid-answer must not end the process, nor a recording that
	 * outgrows a file size limit (the write fails and the import answers 507) */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
}

/* Waits up to ms for one of main_signals; 0 when none came. */
static int main_wait_signal(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int sig;

	do
		sig = sigtimedwait(&main_signals, NULL, &ts);
	while (sig < 0 && errno == EINTR);
	return sig < 0 ? 0 : sig;
}

/* A SIGTERM or SIGINT waiting since start-up: the checks before serving can be slow (database
 * deadlines), and a stop asked for meanwhile should not wait for them all. */
static int main_stop_pending(void)
{
	sigset_t p;

	return sigpending(&p) == 0 && (sigismember(&p, SIGTERM) || sigismember(&p, SIGINT));
}

static int main_usage(FILE *f)
{
	fprintf(f, "usage: b3scaled [serve|migrate|--check|simulate|version]\n"
		   "  serve       serve the BBB API (default); refuses pending migrations\n"
		   "  migrate     apply pending migrations from B3SCALE_SQL_DIR (default ./sql)\n"
		   "  --check,-t  validate the policies on disk (and, when the database is\n"
		   "              reachable, that every policy a frontend names exists); exit 0/1\n"
		   "  simulate    replay a placement trace against nodes with a policy\n"
		   "              (b3scaled simulate --help; docs/simulate.md)\n"
		   "  version     print the version\n"
		   "SIGHUP reloads the policies; SIGTERM/SIGINT stop.\n"
		   "Configuration is read from B3SCALE_* environment variables (see README).\n");
	return f == stderr ? 2 : 0;
}

static int main_migrate(const struct lb_config *cfg)
{
	struct db db;
	char err[1024];
	int applied = 0;

	/* no deadline: a migration may rightly run (or wait for the lock) for minutes */
	if (db_open_timeout(&db, cfg->db_url, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "b3scaled: %s\n", err);
		return 1;
	}
	if (migrate_apply(&db, cfg->sql_dir, &applied, err, sizeof(err)) < 0) {
		fprintf(stderr, "b3scaled: %s\n", err);
		db_close(&db);
		return 1;
	}
	printf("%d migration(s) applied\n", applied);
	db_close(&db);
	return 0;
}

/* Policy names frontends use, for reload checks; *n = 0 when the database is unreachable
 * (the files are still checked, only the cross-check with frontends is skipped). */
static char **main_frontend_policies(const struct lb_config *cfg, size_t *n)
{
	struct db db;
	char err[512];
	char **names = NULL;

	*n = 0;
	if (!cfg->db_url[0] || db_open(&db, cfg->db_url, err, sizeof(err)) < 0)
		return NULL;
	if (db_frontends_policies(&db, &names, n, err, sizeof(err)) < 0)
		log_warn("policy", "event=frontend_policies_unknown error=\"%s\"", err);
	db_close(&db);
	return names;
}

static void main_free_names(char **names, size_t n)
{
	while (n > 0)
		free(names[--n]);
	free(names);
}

/* Start-up checks: a reachable, fully migrated database and loadable policies. */
static int main_check_db(const struct lb_config *cfg)
{
	struct db db;
	char err[1024], names[1024];
	int pending = 0, rc;

	if (db_open(&db, cfg->db_url, err, sizeof(err)) < 0) {
		fprintf(stderr, "b3scaled: %s\n", err);
		return -1;
	}
	rc = migrate_pending(&db, cfg->sql_dir, &pending, names, sizeof(names), err, sizeof(err));
	db_close(&db);
	if (rc < 0) {
		fprintf(stderr, "b3scaled: checking migrations: %s\n", err);
		return -1;
	}
	if (pending) {
		fprintf(stderr, "b3scaled: %d pending migration(s): %s; run 'b3scaled migrate'\n",
			pending, names);
		return -1;
	}
	return 0;
}

/* --check: the reload validation on the files on disk. */
static int main_policy_check(const struct lb_config *cfg)
{
	char err[1024];
	size_t n;
	char **names = main_frontend_policies(cfg, &n);
	int rc;

	rc = policy_check(cfg, (const char *const *)names, n, err, sizeof(err));
	main_free_names(names, n);
	if (rc < 0) {
		fprintf(stderr, "b3scaled: policy check failed: %s\n", err);
		return 1;
	}
	printf("policies OK (%s)\n", cfg->policy_dir);
	return 0;
}

static void main_reload_policies(const struct lb_config *cfg)
{
	char err[1024];
	size_t n;
	char **names = main_frontend_policies(cfg, &n);

	policy_reload((const char *const *)names, n, err, sizeof(err));
	main_free_names(names, n);
}

/* SIGTERM: no new connections; requests already begun (parked ones too) get up to
 * B3SCALE_DRAIN_TIMEOUT_MS to finish. A second SIGTERM or SIGINT ends the wait. */
static void main_drain(struct http_server *srv, const struct lb_config *cfg)
{
	long long deadline = clock_mono_ms() + cfg->drain_timeout_ms, left;
	int sig;

	http_server_quiesce(srv);
	log_info("main", "event=draining inflight=%ld parked=%ld drain_timeout_ms=%ld",
		 http_server_inflight(), http_server_parked(), cfg->drain_timeout_ms);
	while (http_server_inflight() > 0 && (left = deadline - clock_mono_ms()) > 0) {
		sig = main_wait_signal(left < 50 ? left : 50);
		if (sig == SIGTERM || sig == SIGINT) {
			log_warn("main", "event=drain_cut signal=%d inflight=%ld", sig,
				 http_server_inflight());
			break;
		}
		http_server_sweep(srv);
	}
	if (http_server_inflight() > 0)
		log_warn("main", "event=drain_timeout inflight=%ld parked=%ld",
			 http_server_inflight(), http_server_parked());
}

/* Past the drain deadline a parked request still waits for a node: failing the node calls
 * answers it, and MHD cannot be stopped while one is parked. */
static void main_release_parked(void)
{
	long long deadline;

	if (http_server_parked() == 0)
		return;
	node_loop_stop();
	deadline = clock_mono_ms() + 2000;
	while (http_server_parked() > 0 && clock_mono_ms() < deadline)
		main_wait_signal(20);
}

static int main_serve(const struct lb_config *cfg)
{
	struct http_server *srv;
	struct poller *poller = NULL;
	char err[1024];
	int sig;

	if (main_check_db(cfg) < 0)
		return 1;
	if (main_stop_pending()) {
		log_info("main", "event=stopped during=startup");
		return 0;
	}
	metrics_setup(cfg);
	if (policy_setup(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "b3scaled: policies: %s\n", err);
		return 1;
	}
	if (node_loop_start(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "b3scaled: %s\n", err);
		policy_teardown();
		return 1;
	}
	if (rec_import_start(cfg, err, sizeof(err)) < 0 ||
	    cb_outbox_start(cfg, err, sizeof(err)) < 0 ||
	    cb_webhooks_start(cfg, err, sizeof(err)) < 0 ||
	    http_server_start(&srv, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "b3scaled: %s\n", err);
		cb_webhooks_stop();
		cb_outbox_stop();
		rec_import_stop();
		node_loop_stop();
		policy_teardown();
		return 1;
	}
	if (route_cache_listen_start(cfg, err, sizeof(err)) < 0 ||
	    backend_view_start(cfg, err, sizeof(err)) < 0 ||
	    bbb_list_start(cfg, err, sizeof(err)) < 0 ||
	    poller_start(&poller, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "b3scaled: %s\n", err);
		route_cache_listen_stop();
		backend_view_stop();
		bbb_list_stop();
		http_server_stop(srv);
		cb_webhooks_stop();
		cb_outbox_stop();
		rec_import_stop();
		node_loop_stop();
		policy_teardown();
		return 1;
	}
	log_info("main",
		 "event=started version=%s listen=%s%s%s:%u workers=%u policy=%s generation=%lu",
		 B3SCALE_VERSION, cfg->listen_v6 ? "[" : "", cfg->listen_host,
		 cfg->listen_v6 ? "]" : "", cfg->listen_port, cfg->workers, cfg->default_policy,
		 policy_generation());
	/* SIGHUPs that arrive during a reload merge into one pending signal, so a burst always
	 * reloads once more after its last one */
	while ((sig = main_wait_signal(MAIN_TICK_MS)) != SIGTERM && sig != SIGINT) {
		if (sig == SIGHUP)
			main_reload_policies(cfg);
		http_server_sweep(srv);
	}
	log_info("main", "event=stopping signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	main_drain(srv, cfg);
	rec_import_stop(); /* answers the imports still queued */
	cb_webhooks_stop(); /* events not taken yet stay in the database */
	cb_outbox_stop();  /* attempts in flight are due again at once, on any instance */
	poller_stop(poller);
	main_release_parked();
	http_server_stop(srv);
	bbb_list_stop();
	node_loop_stop();
	route_cache_listen_stop();
	backend_view_stop();
	policy_teardown();
	log_info("main", "event=stopped");
	return 0;
}

int main(int argc, char **argv)
{
	struct lb_config cfg;
	const char *cmd = argc > 1 ? argv[1] : "serve";
	char err[1024];
	int rc;

	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("b3scaled %s\n", B3SCALE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0)
		return main_usage(stdout);
	if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0 &&
	    strcmp(cmd, "--check") != 0 && strcmp(cmd, "-t") != 0 && strcmp(cmd, "check") != 0 &&
	    strcmp(cmd, "simulate") != 0)
		return main_usage(stderr);
	/* before anything that might start a thread, so that every thread inherits the mask */
	if (strcmp(cmd, "serve") == 0)
		main_block_signals();
	if (config_load(&cfg, strcmp(cmd, "migrate") == 0 || strcmp(cmd, "serve") == 0, err,
			sizeof(err)) < 0) {
		fprintf(stderr, "b3scaled: %s\n", err);
		return 2;
	}
	if (log_setup(cfg.log_level, cfg.log_format) < 0) {
		fprintf(stderr, "b3scaled: B3SCALE_LOG_LEVEL must be error|warn|info|debug and "
				"B3SCALE_LOG_FORMAT text|json\n");
		return 2;
	}
	db_setup(&cfg);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "b3scaled: libcurl initialisation failed\n");
		return 1;
	}
	if (strcmp(cmd, "migrate") == 0)
		rc = main_migrate(&cfg);
	else if (strcmp(cmd, "serve") == 0)
		rc = main_serve(&cfg);
	else if (strcmp(cmd, "simulate") == 0)
		rc = simulate_main(&cfg, argc - 2, argv + 2);
	else
		rc = main_policy_check(&cfg);
	curl_global_cleanup();
	return rc;
}

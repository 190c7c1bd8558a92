/* main.c: b3scaled entry point: configuration, migrations, start-up checks, signals. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

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
#include "route_cache.h"


static volatile sig_atomic_t main_stop;
static volatile sig_atomic_t main_reload;

/* Signal handlers only set flags; the main loop does the work. */
static void main_on_signal(int sig)
{
	if (sig == SIGHUP)
		main_reload = 1;
	else
		main_stop = 1;
}

static int main_usage(FILE *f)
{
	fprintf(f, "usage: b3scaled [serve|migrate|--check|version]\n"
		   "  serve       serve the BBB API (default); refuses pending migrations\n"
		   "  migrate     apply pending migrations from B3SCALE_SQL_DIR (default ./sql)\n"
		   "  --check,-t  validate the policies on disk (and, when the database is\n"
		   "              reachable, that every policy a frontend names exists); exit 0/1\n"
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

	if (db_open(&db, cfg->db_url, err, sizeof(err)) < 0) {
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

static int main_serve(const struct lb_config *cfg)
{
	struct http_server *srv;
	struct poller *poller = NULL;
	struct sigaction sa;
	char err[1024];

	if (main_check_db(cfg) < 0)
		return 1;
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
	if (http_server_start(&srv, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "b3scaled: %s\n", err);
		node_loop_stop();
		policy_teardown();
		return 1;
	}
	if (route_cache_listen_start(cfg, err, sizeof(err)) < 0 ||
	    poller_start(&poller, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "b3scaled: %s\n", err);
		http_server_stop(srv);
		node_loop_stop();
		policy_teardown();
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("main", "event=started version=%s listen=%s:%u workers=%u policy=%s generation=%lu",
		 B3SCALE_VERSION, cfg->listen_host, cfg->listen_port, cfg->workers,
		 cfg->default_policy, policy_generation());
	while (!main_stop) {
		if (main_reload) {
			main_reload = 0;
			main_reload_policies(cfg);
			continue;
		}
		pause();
	}
	log_info("main", "event=stopping");
	poller_stop(poller);
	http_server_stop(srv);
	node_loop_stop();
	route_cache_listen_stop();
	policy_teardown();
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
	    strcmp(cmd, "--check") != 0 && strcmp(cmd, "-t") != 0 && strcmp(cmd, "check") != 0)
		return main_usage(stderr);
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
	else
		rc = main_policy_check(&cfg);
	curl_global_cleanup();
	return rc;
}

/* metrics.c: /metrics. Counters come from memory (stats.c, policy_stats.c); cluster gauges
 * from two aggregate queries whose text is cached for METRICS_CACHE_MS, so frequent scrapes
 * never rescan the meetings table. */
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend_view.h"
#include "cb_outbox.h"
#include "clock.h"
#include "config.h"
#include "http_server.h"
#include "log.h"
#include "node_loop.h"
#include "node_share.h"
#include "db_backends.h"
#include "policy.h"
#include "policy_builtin.h"
#include "policy_stats.h"
#include "rec_import.h"
#include "stats.h"

#define METRICS_CACHE_MS 500

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static int metrics_per_meeting;
static struct buf metrics_cache;
static long long metrics_cached_at;

/* Escapes a label value (hosts come from the database). */
static void metrics_label(struct buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			buf_printf(out, "\\%c", *v);
		else if (*v == '\n')
			buf_puts(out, "\\n");
		else
			buf_append(out, v, 1);
	}
}

static void metrics_help(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics_backend_gauge(struct buf *out, PGresult *r, const char *name,
				  const char *help, int col, double scale)
{
	int i;

	metrics_help(out, name, "gauge", help);
	for (i = 0; i < PQntuples(r); i++) {
		buf_printf(out, "%s{backend=\"", name);
		metrics_label(out, PQgetvalue(r, i, 0));
		buf_printf(out, "\"} %g\n", strtod(PQgetvalue(r, i, col), NULL) * scale);
	}
}

static int metrics_backends(struct db *db, struct buf *out, char *err, size_t errlen)
{
	static const char *sql =
		"SELECT b.host, b.admin_state, b.node_state, b.meetings_count, b.attendees_count,"
		" b.video_count, b.voice_count, b.listener_count, coalesce(b.latency_ms, 0),"
		" b.load_factor, " DB_BACKENDS_PENDING_SQL
		" FROM backends b ORDER BY b.host";
	PGresult *r = db_exec_sql(db, sql, 0, NULL, err, errlen);
	int i;

	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", r ? PQresultErrorMessage(r) : "no connection");
		PQclear(r);
		return -1;
	}
	metrics_help(out, "b3scale_backend_state", "gauge",
		     "1 for each backend, labelled with its admin and node state.");
	for (i = 0; i < PQntuples(r); i++) {
		buf_puts(out, "b3scale_backend_state{backend=\"");
		metrics_label(out, PQgetvalue(r, i, 0));
		buf_printf(out, "\",admin_state=\"%s\",node_state=\"%s\"} 1\n", PQgetvalue(r, i, 1),
			   PQgetvalue(r, i, 2));
	}
	metrics_help(out, "b3scale_backend_available", "gauge",
		     "1 when the backend takes new meetings (admin ready, node not unavailable).");
	for (i = 0; i < PQntuples(r); i++) {
		buf_puts(out, "b3scale_backend_available{backend=\"");
		metrics_label(out, PQgetvalue(r, i, 0));
		buf_printf(out, "\"} %d\n", strcmp(PQgetvalue(r, i, 1), "ready") == 0 &&
						    strcmp(PQgetvalue(r, i, 2), "unavailable") != 0);
	}
	metrics_backend_gauge(out, r, "b3scale_backend_meetings", "Meetings on the backend, as last polled.", 3, 1);
	metrics_backend_gauge(out, r, "b3scale_backend_participants", "Participants on the backend.", 4, 1);
	metrics_backend_gauge(out, r, "b3scale_backend_video", "Webcam streams on the backend.", 5, 1);
	metrics_backend_gauge(out, r, "b3scale_backend_voice", "Participants in the voice conference.", 6, 1);
	metrics_backend_gauge(out, r, "b3scale_backend_listeners", "Listen-only participants.", 7, 1);
	metrics_backend_gauge(out, r, "b3scale_backend_latency_seconds", "Duration of the last poll.", 8, 0.001);
	metrics_backend_gauge(out, r, "b3scale_backend_load_factor", "The operator's load factor.", 9, 1);
	metrics_help(out, "b3scale_backend_load", "gauge",
		     "least_load's load: load_factor x max((meetings + pending) x 15, participants).");
	for (i = 0; i < PQntuples(r); i++) {
		buf_puts(out, "b3scale_backend_load{backend=\"");
		metrics_label(out, PQgetvalue(r, i, 0));
		buf_printf(out, "\"} %g\n",
			   policy_builtin_load(strtod(PQgetvalue(r, i, 9), NULL),
					       strtol(PQgetvalue(r, i, 3), NULL, 10),
					       strtol(PQgetvalue(r, i, 10), NULL, 10),
					       strtol(PQgetvalue(r, i, 4), NULL, 10)));
	}
	PQclear(r);
	return 0;
}

static int metrics_meetings(struct db *db, struct buf *out, char *err, size_t errlen);

static int metrics_frontends(struct db *db, struct buf *out, char *err, size_t errlen)
{
	static const char *sql =
		"SELECT f.key, coalesce(b.host, 'undefined'), count(m.id),"
		" coalesce(sum(m.participants - LEAST(m.video, m.participants)), 0),"
		" coalesce(sum(LEAST(m.video, m.participants)), 0)"
		" FROM frontends f LEFT JOIN meetings m ON m.frontend_id = f.id"
		" LEFT JOIN backends b ON b.id = m.backend_id GROUP BY f.key, b.host ORDER BY 1, 2";
	PGresult *r = db_exec_sql(db, sql, 0, NULL, err, errlen);
	const char *prev = "";
	struct buf att;
	long meetings = 0, attendees = 0;
	int i;

	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", r ? PQresultErrorMessage(r) : "no connection");
		PQclear(r);
		return -1;
	}
	metrics_help(out, "b3scale_meeting_attendees", "gauge",
		     "Attendees of a frontend's meetings on a backend; type video counts those with a webcam.");
	if (metrics_per_meeting && metrics_meetings(db, out, err, errlen) < 0) {
		PQclear(r);
		return -1;
	}
	for (i = 0; !metrics_per_meeting && i < PQntuples(r); i++) {
		if (strcmp(PQgetvalue(r, i, 2), "0") == 0)
			continue;
		buf_printf(out, "b3scale_meeting_attendees{frontend=\"%s\",backend=\"", PQgetvalue(r, i, 0));
		metrics_label(out, PQgetvalue(r, i, 1));
		buf_printf(out, "\",type=\"audio\"} %s\n", PQgetvalue(r, i, 3));
		buf_printf(out, "b3scale_meeting_attendees{frontend=\"%s\",backend=\"", PQgetvalue(r, i, 0));
		metrics_label(out, PQgetvalue(r, i, 1));
		buf_printf(out, "\",type=\"video\"} %s\n", PQgetvalue(r, i, 4));
	}
	/* rows come grouped by frontend: fold them into per-frontend totals, one family
	 * block at a time (the exposition format wants a family's samples together) */
	buf_init(&att);
	metrics_help(out, "b3scale_frontend_meetings", "gauge", "Meetings of a frontend.");
	metrics_help(&att, "b3scale_frontend_attendees", "gauge",
		     "Attendees of a frontend's meetings, with and without video.");
	for (i = 0; i <= PQntuples(r); i++) {
		const char *key = i < PQntuples(r) ? PQgetvalue(r, i, 0) : NULL;
		if (i > 0 && (!key || strcmp(key, prev) != 0)) {
			buf_printf(out, "b3scale_frontend_meetings{frontend=\"%s\"} %ld\n", prev, meetings);
			buf_printf(&att, "b3scale_frontend_attendees{frontend=\"%s\"} %ld\n", prev, attendees);
			meetings = attendees = 0;
		}
		if (!key)
			break;
		prev = key;
		meetings += strtol(PQgetvalue(r, i, 2), NULL, 10);
		attendees += strtol(PQgetvalue(r, i, 3), NULL, 10) + strtol(PQgetvalue(r, i, 4), NULL, 10);
	}
	buf_puts(out, buf_str(&att));
	buf_free(&att);
	PQclear(r);
	return 0;
}

/* Opt-in (B3SCALE_METRICS_MEETING_LABELS=1): one series per meeting, as b3scale has them.
 * Unbounded by nature, so off by default. Appended right after the aggregate family's
 * HELP/TYPE, which metrics_frontends then leaves empty. */
static int metrics_meetings(struct db *db, struct buf *out, char *err, size_t errlen)
{
	static const char *sql =
		"SELECT f.key, coalesce(b.host, 'undefined'), m.meeting_id,"
		" m.participants - LEAST(m.video, m.participants), LEAST(m.video, m.participants)"
		" FROM meetings m JOIN frontends f ON f.id = m.frontend_id"
		" LEFT JOIN backends b ON b.id = m.backend_id ORDER BY 1, 2, 3";
	PGresult *r = db_exec_sql(db, sql, 0, NULL, err, errlen);
	int i, t;

	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", r ? PQresultErrorMessage(r) : "no connection");
		PQclear(r);
		return -1;
	}
	for (i = 0; i < PQntuples(r); i++) {
		for (t = 0; t < 2; t++) {
			buf_printf(out, "b3scale_meeting_attendees{frontend=\"%s\",backend=\"",
				   PQgetvalue(r, i, 0));
			metrics_label(out, PQgetvalue(r, i, 1));
			buf_puts(out, "\",meeting=\"");
			metrics_label(out, PQgetvalue(r, i, 2));
			buf_printf(out, "\",type=\"%s\"} %s\n", t ? "video" : "audio",
				   PQgetvalue(r, i, 3 + t));
		}
	}
	PQclear(r);
	return 0;
}

#define METRICS_MAX_NODES 4096

/* One per-node series: name{backend="host"<extra>} value. */
static void metrics_node_series(struct buf *out, const char *name, const char *host,
				const char *extra, unsigned long value)
{
	buf_printf(out, "%s{backend=\"", name);
	metrics_label(out, host);
	buf_printf(out, "\"%s} %lu\n", extra, value);
}

/* This instance's view of its calls to nodes: circuits, bulkheads, parked requests. */
static void metrics_nodes(struct buf *out)
{
	static const char *const states[] = { ",state=\"closed\"", ",state=\"open\"",
					      ",state=\"half_open\"" };
	struct node_health_view *v = calloc(METRICS_MAX_NODES, sizeof(*v));
	size_t n = v ? node_loop_health(v, METRICS_MAX_NODES) : 0, i, k;

	struct http_server_counters hc;
	unsigned long coalesced, reused, view_refreshed, view_read;

	http_server_counters(&hc);
	buf_printf(out, "# HELP b3scale_http_parked_requests Requests waiting for a node, their connection parked.\n"
			"# TYPE b3scale_http_parked_requests gauge\n"
			"b3scale_http_parked_requests %ld\n"
			"# HELP b3scale_http_inflight_requests Requests begun and not yet answered (parked ones included).\n"
			"# TYPE b3scale_http_inflight_requests gauge\n"
			"b3scale_http_inflight_requests %ld\n"
			"# HELP b3scale_http_connections Open client connections.\n"
			"# TYPE b3scale_http_connections gauge\n"
			"b3scale_http_connections %ld\n"
			"# HELP b3scale_http_connections_refused_total Connections refused by B3SCALE_MAX_CONNECTIONS or its per-address limit.\n"
			"# TYPE b3scale_http_connections_refused_total counter\n"
			"b3scale_http_connections_refused_total %lu\n"
			"# HELP b3scale_http_requests_cut_total Requests cut off by B3SCALE_REQUEST_TIMEOUT_MS (slow clients).\n"
			"# TYPE b3scale_http_requests_cut_total counter\n"
			"b3scale_http_requests_cut_total %lu\n"
			"# HELP b3scale_http_bodies_refused_total Requests refused because the body was over the route's limit.\n"
			"# TYPE b3scale_http_bodies_refused_total counter\n"
			"b3scale_http_bodies_refused_total %lu\n",
		   http_server_parked(), http_server_inflight(), http_server_connections(),
		   hc.connections_refused, hc.requests_cut, hc.bodies_refused);
	backend_view_counters(&view_refreshed, &view_read);
	buf_printf(out, "# HELP b3scale_placement_reads_total Reads of the eligible backends for placement: by the refresher every B3SCALE_PLACEMENT_REFRESH_MS, or by a create that found no current snapshot.\n"
			"# TYPE b3scale_placement_reads_total counter\n"
			"b3scale_placement_reads_total{kind=\"refresher\"} %lu\n"
			"b3scale_placement_reads_total{kind=\"create\"} %lu\n",
		   view_refreshed, view_read);
	node_share_counters(&coalesced, &reused);
	buf_printf(out, "# HELP b3scale_node_calls_shared_total Calls to nodes answered with another call's answer: waited for one in flight, or reused within B3SCALE_INFO_CACHE_MS.\n"
			"# TYPE b3scale_node_calls_shared_total counter\n"
			"b3scale_node_calls_shared_total{kind=\"coalesced\"} %lu\n"
			"b3scale_node_calls_shared_total{kind=\"reused\"} %lu\n",
		   coalesced, reused);
	buf_puts(out, "# HELP b3scale_backend_circuit_state This instance's circuit breaker for calls to a node.\n"
		      "# TYPE b3scale_backend_circuit_state gauge\n");
	for (i = 0; i < n; i++)
		for (k = 0; k < 3; k++)
			metrics_node_series(out, "b3scale_backend_circuit_state", v[i].host, states[k],
					    (int)v[i].state == (int)k);
	buf_puts(out, "# HELP b3scale_backend_inflight Calls to a node in flight now.\n"
		      "# TYPE b3scale_backend_inflight gauge\n");
	for (i = 0; i < n; i++)
		metrics_node_series(out, "b3scale_backend_inflight", v[i].host, "", v[i].inflight);
	buf_puts(out, "# HELP b3scale_backend_circuit_opened_total Times a node's circuit opened.\n"
		      "# TYPE b3scale_backend_circuit_opened_total counter\n");
	for (i = 0; i < n; i++)
		metrics_node_series(out, "b3scale_backend_circuit_opened_total", v[i].host, "",
				    v[i].opened);
	buf_puts(out, "# HELP b3scale_backend_rejected_total Calls to a node failed fast, not sent.\n"
		      "# TYPE b3scale_backend_rejected_total counter\n");
	for (i = 0; i < n; i++) {
		metrics_node_series(out, "b3scale_backend_rejected_total", v[i].host,
				    ",reason=\"circuit_open\"", v[i].rejected_open);
		metrics_node_series(out, "b3scale_backend_rejected_total", v[i].host,
				    ",reason=\"bulkhead\"", v[i].rejected_busy);
	}
	free(v);
}

void metrics_setup(const struct lb_config *cfg)
{
	metrics_per_meeting = cfg->metrics_meeting_labels;
}

/* Recordings per frontend (listed ones: imported and not deleted) and the settles due. */
static int metrics_recordings(struct db *db, struct buf *out, char *err, size_t errlen)
{
	PGresult *r = db_query(db, "SELECT f.key, count(r.id) FILTER (WHERE r.state <> 'deleted'"
				   " AND r.import_state = 'done'), count(r.id) FILTER (WHERE r.pending)"
				   " FROM frontends f LEFT JOIN recordings r ON r.frontend_id = f.id"
				   " GROUP BY f.key ORDER BY 1", 0, NULL, PGRES_TUPLES_OK, err, errlen);
	long pending = 0;
	int i;

	if (!r)
		return -1;
	metrics_help(out, "b3scale_recordings", "gauge", "Recordings of a frontend.");
	for (i = 0; i < PQntuples(r); i++) {
		buf_printf(out, "b3scale_recordings{frontend=\"%s\"} %s\n", PQgetvalue(r, i, 0),
			   PQgetvalue(r, i, 1));
		pending += strtol(PQgetvalue(r, i, 2), NULL, 10);
	}
	metrics_help(out, "b3scale_recordings_pending", "gauge",
		     "Recordings whose files are still to be moved to match their state.");
	buf_printf(out, "b3scale_recordings_pending %ld\n", pending);
	PQclear(r);
	return 0;
}

/* This instance's imports and the trees its recordings thread moved. */
static void metrics_imports(struct buf *out)
{
	struct rec_import_counters c;

	rec_import_counters(&c);
	buf_printf(out, "# HELP b3scale_recording_imports_total Recording imports by outcome: ok, rejected (the upload's fault, 4xx) or failed (5xx).\n"
			"# TYPE b3scale_recording_imports_total counter\n"
			"b3scale_recording_imports_total{outcome=\"ok\"} %lu\n"
			"b3scale_recording_imports_total{outcome=\"rejected\"} %lu\n"
			"b3scale_recording_imports_total{outcome=\"failed\"} %lu\n"
			"# HELP b3scale_recording_import_bytes_total Bytes uploaded by successful imports.\n"
			"# TYPE b3scale_recording_import_bytes_total counter\n"
			"b3scale_recording_import_bytes_total %llu\n"
			"# HELP b3scale_recording_retention_deletions_total Recordings deleted by a frontend's recordings.retention_days.\n"
			"# TYPE b3scale_recording_retention_deletions_total counter\n"
			"b3scale_recording_retention_deletions_total %lu\n",
		   c.ok, c.rejected, c.failed, c.bytes, c.retention);
}

/* This instance's callback attempts by outcome (cb_outbox.h). */
static void metrics_callbacks(struct buf *out)
{
	struct cb_outbox_counters c;

	cb_outbox_counters(&c);
	buf_printf(out, "# HELP b3scale_callbacks_total Callback delivery attempts by outcome: delivered, retried, failed (given up) or refused (target not allowed).\n"
			"# TYPE b3scale_callbacks_total counter\n"
			"b3scale_callbacks_total{outcome=\"delivered\"} %lu\n"
			"b3scale_callbacks_total{outcome=\"retried\"} %lu\n"
			"b3scale_callbacks_total{outcome=\"failed\"} %lu\n"
			"b3scale_callbacks_total{outcome=\"refused\"} %lu\n",
		   c.delivered, c.retried, c.failed, c.refused);
}

/* Callbacks still to be delivered, cluster-wide (the outbox's partial index). */
static int metrics_callbacks_pending(struct db *db, struct buf *out, char *err, size_t errlen)
{
	PGresult *r = db_query(db, "SELECT count(*) FROM callbacks WHERE state = 'pending'", 0,
			       NULL, PGRES_TUPLES_OK, err, errlen);

	if (!r)
		return -1;
	metrics_help(out, "b3scale_callbacks_pending", "gauge",
		     "Callbacks waiting for delivery or a retry, on all instances.");
	buf_printf(out, "b3scale_callbacks_pending %s\n", PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

void metrics_render(struct db *db, struct buf *out)
{
	char err[512];
	struct buf fresh;
	long long now = clock_mono_ms();
	int ok = 1;

	buf_printf(out, "# HELP b3scale_build_info The running version.\n"
			"# TYPE b3scale_build_info gauge\n"
			"b3scale_build_info{version=\"%s\"} 1\n", B3SCALE_VERSION);
	buf_printf(out, "# HELP b3scale_policy_generation Generation of the policies in use.\n"
			"# TYPE b3scale_policy_generation gauge\n"
			"b3scale_policy_generation %lu\n"
			"# HELP b3scale_policy_reload_failures_total Reloads refused because a file failed validation.\n"
			"# TYPE b3scale_policy_reload_failures_total counter\n"
			"b3scale_policy_reload_failures_total %lu\n",
		   policy_generation(), policy_reload_failures());
	policy_stats_render(out);
	stats_render(out);
	metrics_nodes(out);
	metrics_imports(out);
	metrics_callbacks(out);
	pthread_mutex_lock(&metrics_lock);
	if (!metrics_cached_at || now - metrics_cached_at >= METRICS_CACHE_MS) {
		buf_init(&fresh);
		if (metrics_backends(db, &fresh, err, sizeof(err)) < 0 ||
		    metrics_frontends(db, &fresh, err, sizeof(err)) < 0 ||
		    metrics_recordings(db, &fresh, err, sizeof(err)) < 0 ||
		    metrics_callbacks_pending(db, &fresh, err, sizeof(err)) < 0) {
			ok = 0;
			log_warn("metrics", "event=db_error error=\"%s\"", err);
			buf_free(&fresh);
		} else {
			buf_free(&metrics_cache);
			metrics_cache = fresh;
			metrics_cached_at = now;
		}
	}
	buf_puts(out, buf_str(&metrics_cache));
	pthread_mutex_unlock(&metrics_lock);
	buf_printf(out, "# HELP b3scale_database_up 1 when this scrape could read the database.\n"
			"# TYPE b3scale_database_up gauge\n"
			"b3scale_database_up %d\n", ok);
}

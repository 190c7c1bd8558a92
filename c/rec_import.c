/* rec_import.c: see rec_import.h. An import is checked whole (every entry, every
 * metadata.xml, every tenant) before anything is extracted, extracted into its own staging
 * directory, written to the database as pending rows, then settled into place: a failure
 * before the rows leaves nothing but a staging directory the sweep removes, and one after
 * leaves pending rows the sweep finishes. */
#include "rec_import.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cb_endpoints.h"
#include "clock.h"
#include "db.h"
#include "db_recfiles.h"
#include "log.h"
#include "rec_archive.h"
#include "rec_cache.h"
#include "rec_meta.h"
#include "rec_settle.h"
#include "rec_store.h"

static struct {
	const struct lb_config *cfg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rec_job *head, *tail;
	int running, stop, kicked;
	struct db db;
	struct rec_import_counters n;
} ri = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* What one import learnt about each tree before extracting it. */
struct rec_import_tree {
	struct rec_meta meta;
	char key[65];
	char frontend_id[40];
	char visibility[24];
	long long recording_id;
};

static void rec_import_answer(struct rec_job *j, int status, const char *error,
			      const char *message)
{
	j->status = status;
	buf_reset(&j->body);
	buf_printf(&j->body, "{\"error\":\"%s\",\"message\":", error);
	buf_json_str(&j->body, message);
	buf_puts(&j->body, "}\n");
}

/* The frontend of tree i: from its namespaced meeting ID, or an admin's ?frontend=. */
static int rec_import_tenant(struct rec_job *j, const struct rec_tree *t,
			     struct rec_import_tree *it, char *err, size_t errlen)
{
	char other[40];
	const char *vals[1] = { t->record_id };
	PGresult *r;
	int rc;

	if (rec_meta_key(&it->meta, it->key, sizeof(it->key)) < 0) {
		if (!j->admin || !j->frontend[0]) {
			snprintf(err, errlen, "%s/%s: meeting ID '%.200s' is not namespaced "
					      "(<frontend>~<id>); an admin may import it with "
					      "?frontend=KEY", t->format, t->record_id,
				 it->meta.meeting_ns);
			return -EINVAL;
		}
		snprintf(it->key, sizeof(it->key), "%s", j->frontend);
	} else if (j->frontend[0] && strcmp(j->frontend, it->key) != 0) {
		snprintf(err, errlen, "%s/%s belongs to frontend '%s', not '%s'", t->format,
			 t->record_id, it->key, j->frontend);
		return -EINVAL;
	}
	rc = db_recfiles_frontend(&ri.db, it->key, it->frontend_id, it->visibility, err, errlen);
	if (rc == -ENOENT)
		snprintf(err, errlen, "%s/%s: no frontend '%s'", t->format, t->record_id, it->key);
	if (rc < 0)
		return rc;
	rec_meta_frontend(&it->meta, t, it->key);
	/* another tenant's recordID is refused before a byte is extracted */
	r = db_query(&ri.db, "SELECT frontend_id::text FROM recordings WHERE record_id = $1", 1,
		     vals, PGRES_TUPLES_OK, err, errlen);
	if (!r)
		return -EIO;
	snprintf(other, sizeof(other), "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	if (other[0] && strcmp(other, it->frontend_id) != 0) {
		snprintf(err, errlen, "recording %.200s belongs to another frontend", t->record_id);
		return -EEXIST;
	}
	return 0;
}

static void rec_import_status(struct rec_job *j, int rc, const char *err)
{
	if (rc == -EINVAL)
		rec_import_answer(j, 400, "invalid_upload", err);
	else if (rc == -ENOENT)
		rec_import_answer(j, 404, "not_found", err);
	else if (rc == -EEXIST)
		rec_import_answer(j, 409, "conflict", err);
	else if (rc == -EACCES)
		rec_import_answer(j, 403, "forbidden", err);
	else if (rc == -ENOSPC || rc == -EDQUOT || rc == -EFBIG)
		rec_import_answer(j, 507, "insufficient_storage",
				  "the recordings storage is full; nothing was imported");
	else
		rec_import_answer(j, 500, "internal_error", err);
}

/* 1 when tree i is the first of its recording in the archive (the others are its formats). */
static int rec_import_first(const struct rec_import_tree *its, size_t i)
{
	size_t k;

	for (k = 0; k < i; k++)
		if (its[k].recording_id == its[i].recording_id)
			return 0;
	return 1;
}

/* Stages and settles the checked trees; answers with what was imported. */
static int rec_import_commit(struct rec_job *j, const struct rec_trees *trees,
			     struct rec_import_tree *its, const char *stage_name,
			     const char *backend_id, char *err, size_t errlen)
{
	struct db_recfile f;
	char rel[REC_STORE_PATH], cerr[512];
	size_t i;
	int rc;

	for (i = 0; i < trees->n; i++) {
		snprintf(rel, sizeof(rel), "%s/%s/%s/%s", REC_STORE_STAGING, stage_name,
			 trees->v[i].format, trees->v[i].record_id);
		f.frontend_id = its[i].frontend_id;
		f.backend_id = backend_id;
		f.format = trees->v[i].format;
		f.staging = rel;
		f.visibility = its[i].visibility;
		f.meta = &its[i].meta;
		rc = db_recfiles_stage(&ri.db, &f, &its[i].recording_id, err, errlen);
		if (rc < 0)
			return rc;
	}
	rec_failpoint("import_after_stage");
	/* once per recording, whatever formats the archive held */
	for (i = 0; i < trees->n; i++) {
		if (!rec_import_first(its, i))
			continue;
		rc = rec_settle_one(&ri.db, ri.cfg->recordings_dir, its[i].recording_id, err,
				    errlen);
		/* -ENOENT: a sweep on another instance settled it meanwhile */
		if (rc < 0 && rc != -ENOENT)
			return rc;
		/* the frontend's recording-ready callback (the outbox keeps it to one ever) */
		if (cb_endpoints_recording_ready(&ri.db, its[i].frontend_id, its[i].meta.meeting_id,
						 trees->v[i].record_id, cerr, sizeof(cerr)) < 0)
			log_warn("recordings", "event=recording_ready_failed record_id=%s error=\"%s\"",
				 trees->v[i].record_id, cerr);
	}
	j->status = 200;
	buf_reset(&j->body);
	buf_puts(&j->body, "{\"imported\":[");
	for (i = 0; i < trees->n; i++) {
		buf_puts(&j->body, i ? ",{\"record_id\":" : "{\"record_id\":");
		buf_json_str(&j->body, trees->v[i].record_id);
		buf_puts(&j->body, ",\"format\":");
		buf_json_str(&j->body, trees->v[i].format);
		buf_puts(&j->body, ",\"frontend\":");
		buf_json_str(&j->body, its[i].key);
		buf_puts(&j->body, ",\"meeting_id\":");
		buf_json_str(&j->body, its[i].meta.meeting_id);
		buf_puts(&j->body, "}");
	}
	buf_puts(&j->body, "]}\n");
	return 0;
}

/* The outcome for the status page: which recordings, or why none. */
static void rec_import_log(const struct rec_job *j, const struct rec_trees *trees,
			   const char *backend_id, unsigned long long bytes, const char *why)
{
	struct buf ids = { 0 };
	char err[512];
	size_t i;

	for (i = 0; i < trees->n; i++)
		buf_printf(&ids, "%s%s/%s", i ? "," : "", trees->v[i].format, trees->v[i].record_id);
	if (db_recfiles_log_import(&ri.db, j->admin ? NULL : backend_id, j->status, trees->n,
				   bytes, buf_str(&ids), why, err, sizeof(err)) < 0)
		log_warn("recordings", "event=import_log_failed error=\"%s\"", err);
	buf_free(&ids);
}

static void rec_import_run(struct rec_job *j)
{
	static struct rec_trees trees; /* only this thread imports */
	struct rec_import_tree *its = NULL;
	char err[1024] = "", backend_id[40] = "", stage[REC_STORE_PATH];
	unsigned long long bytes;
	const char *stage_name;
	struct stat st;
	size_t i;
	int rc;

	stage[0] = '\0';
	if (!j->admin) {
		rc = db_recfiles_node(&ri.db, j->sub, backend_id, err, sizeof(err));
		if (rc == -ENOENT) {
			snprintf(err, sizeof(err), "no backend is registered for this node token");
			rc = -EACCES;
		}
		if (rc < 0)
			goto out;
	}
	rc = rec_archive_scan(j->spool, ri.cfg->max_recording_upload, &trees, err, sizeof(err));
	if (rc < 0)
		goto out;
	its = calloc(trees.n, sizeof(*its));
	rc = its ? 0 : -ENOMEM;
	for (i = 0; rc == 0 && i < trees.n; i++) {
		rc = rec_meta_parse(&trees.v[i], &its[i].meta, err, sizeof(err));
		if (rc == 0)
			rc = rec_import_tenant(j, &trees.v[i], &its[i], err, sizeof(err));
	}
	if (rc < 0)
		goto out;
	rc = rec_store_unique(stage, sizeof(stage), ri.cfg->recordings_dir, REC_STORE_STAGING);
	if (rc == 0)
		rc = rec_archive_extract(j->spool, ri.cfg->max_recording_upload, stage, err,
					 sizeof(err));
	if (rc < 0)
		goto out;
	stage_name = strrchr(stage, '/') + 1;
	rc = rec_import_commit(j, &trees, its, stage_name, j->admin ? NULL : backend_id, err,
			       sizeof(err));
out:
	if (rc < 0)
		rec_import_status(j, rc, err);
	if (stage[0])
		rec_store_rmtree(stage); /* empty after a commit; a failed extraction's remains */
	log_info("recordings", "event=import status=%d trees=%zu by=%s error=\"%s\"", j->status,
		 trees.n, j->admin ? "admin" : "node", rc < 0 ? err : "");
	bytes = stat(j->spool, &st) == 0 ? (unsigned long long)st.st_size : 0;
	rec_import_log(j, &trees, backend_id, bytes, rc < 0 ? err : "");
	pthread_mutex_lock(&ri.mu);
	if (rc == 0) {
		ri.n.bytes += bytes;
		ri.n.ok++;
	} else if (j->status < 500)
		ri.n.rejected++;
	else
		ri.n.failed++;
	pthread_mutex_unlock(&ri.mu);
	unlink(j->spool);
	for (i = 0; its && i < trees.n; i++)
		rec_meta_clear(&its[i].meta);
	free(its);
	rec_trees_clear(&trees);
}

static void *rec_import_main(void *arg)
{
	struct rec_job *j;
	struct timespec until;
	long max_age = ri.cfg->recording_upload_timeout_ms / 1000 + 3600;
	long long next_sweep = 0;
	unsigned long expired;
	int n;

	(void)arg;
	pthread_mutex_lock(&ri.mu);
	/* queued imports are finished at a stop: their requests are parked on them */
	while (!ri.stop || ri.head) {
		if (ri.head) {
			j = ri.head;
			ri.head = j->next;
			if (!ri.head)
				ri.tail = NULL;
			pthread_mutex_unlock(&ri.mu);
			rec_import_run(j);
			rec_cache_invalidate(); /* this instance's next getRecordings lists it */
			http_park_wake(&j->park);
			pthread_mutex_lock(&ri.mu);
			continue;
		}
		if (!ri.stop && (ri.kicked || clock_mono_ms() >= next_sweep)) {
			ri.kicked = 0;
			pthread_mutex_unlock(&ri.mu);
			n = rec_settle_sweep(&ri.db, ri.cfg->recordings_dir, max_age, &expired);
			pthread_mutex_lock(&ri.mu);
			ri.n.settled += (unsigned long)n;
			if (n > 0)
				rec_cache_invalidate();
			ri.n.retention += expired;
			next_sweep = clock_mono_ms() + ri.cfg->recordings_sweep_ms;
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&ri.cv, &ri.mu, &until);
	}
	pthread_mutex_unlock(&ri.mu);
	return NULL;
}

int rec_import_start(const struct lb_config *cfg, char *err, size_t errlen)
{
	int rc;

	ri.cfg = cfg;
	if (!cfg->recordings_dir[0])
		return 0;
	rc = rec_store_init(cfg->recordings_dir, err, errlen);
	if (rc < 0)
		return rc;
	rc = db_open_lazy(&ri.db, cfg->db_url, err, errlen);
	if (rc < 0)
		return rc;
	rc = pthread_create(&ri.thread, NULL, rec_import_main, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot start the recordings thread: %s", strerror(rc));
		db_close(&ri.db);
		return -rc;
	}
	ri.running = 1;
	return 0;
}

void rec_import_stop(void)
{
	if (!ri.running)
		return;
	pthread_mutex_lock(&ri.mu);
	ri.stop = 1;
	pthread_cond_signal(&ri.cv);
	pthread_mutex_unlock(&ri.mu);
	pthread_join(ri.thread, NULL);
	db_close(&ri.db);
	ri.running = 0;
}

int rec_import_enabled(void)
{
	return ri.running;
}

void rec_import_submit(struct rec_job *j)
{
	pthread_mutex_lock(&ri.mu);
	j->next = NULL;
	if (ri.tail)
		ri.tail->next = j;
	else
		ri.head = j;
	ri.tail = j;
	pthread_cond_signal(&ri.cv);
	pthread_mutex_unlock(&ri.mu);
}

void rec_import_kick(void)
{
	if (!ri.running)
		return;
	pthread_mutex_lock(&ri.mu);
	ri.kicked = 1;
	pthread_cond_signal(&ri.cv);
	pthread_mutex_unlock(&ri.mu);
}

void rec_import_counters(struct rec_import_counters *out)
{
	pthread_mutex_lock(&ri.mu);
	*out = ri.n;
	pthread_mutex_unlock(&ri.mu);
}

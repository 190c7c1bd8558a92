/* rec_settle.c: see rec_settle.h. */
#include "rec_settle.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_recfiles.h"
#include "db_tracks.h"
#include "log.h"
#include "rec_store.h"

#define REC_SETTLE_CAPTIONS 64

void rec_failpoint(const char *name)
{
	const char *fp = getenv("B3SCALE_FAILPOINT");

	if (fp && strcmp(fp, name) == 0) {
		log_warn("recordings", "event=failpoint name=%s", name);
		raise(SIGKILL);
	}
}

/* Puts format i's tree where the row's state says: from its staging place, or from the
 * other area (a publish or unpublish). 1 when the tree is nowhere to be found. */
static int rec_settle_format(const char *root, const struct db_recfiles_row *row, size_t i,
			     char *err, size_t errlen)
{
	static const char *const areas[] = { REC_STORE_PUBLISHED, REC_STORE_UNPUBLISHED,
					     REC_STORE_TRASH };
	const char *area = rec_store_area(row->state);
	char target[REC_STORE_PATH], from[REC_STORE_PATH];
	size_t a;
	int rc;

	rc = rec_store_tree(target, sizeof(target), root, area, row->formats[i], row->record_id);
	if (rc < 0)
		return rc;
	if (row->staging[i]) {
		if ((size_t)snprintf(from, sizeof(from), "%s/%s", root, row->staging[i]) >=
		    sizeof(from))
			return -ENAMETOOLONG;
		/* gone from staging: a settle before a crash moved it already */
		rc = rec_store_is_dir(from) > 0 ? rec_store_move(root, from, target, err, errlen)
						: 1;
		/* the import's own staging directories, once empty */
		rec_store_prune(from, 2);
		if (rc <= 0)
			return rc;
	}
	if (rec_store_is_dir(target) > 0)
		return 0;
	for (a = 0; a < sizeof(areas) / sizeof(areas[0]); a++) {
		if (strcmp(areas[a], area) == 0)
			continue;
		rc = rec_store_tree(from, sizeof(from), root, areas[a], row->formats[i],
				    row->record_id);
		if (rc == 0 && rec_store_is_dir(from) > 0)
			return rec_store_move(root, from, target, err, errlen);
	}
	return 1;
}

/* One entry of captions.json; name NULL: the locale is its name. */
struct rec_settle_caption {
	char locale[64];
	const char *name;
};

static int rec_settle_caption_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rec_settle_caption *)a)->locale,
		      ((const struct rec_settle_caption *)b)->locale);
}

/* captions.json, the player's list of the tree's caption_<lang>.vtt files: the uploaded
 * tracks, and the files of the node's own tree (its live captions) that no upload replaced,
 * named by their language (their labels were in the captions.json this one replaces). */
static int rec_settle_captions(const char *dir, const char *path, const struct db_track_file *t,
			       size_t n, char *err, size_t errlen)
{
	struct rec_settle_caption c[REC_SETTLE_CAPTIONS] = { 0 };
	struct buf json = { 0 };
	struct dirent *e;
	size_t i, j, nc = 0, len;
	DIR *d;
	int rc;

	for (i = 0; i < n && nc < REC_SETTLE_CAPTIONS; i++, nc++) {
		snprintf(c[nc].locale, sizeof(c[nc].locale), "%s", t[i].lang);
		c[nc].name = t[i].label;
	}
	d = opendir(dir);
	while (d && nc < REC_SETTLE_CAPTIONS && (e = readdir(d))) {
		len = strlen(e->d_name);
		if (len <= 12 || len - 12 >= sizeof(c[0].locale) ||
		    strncmp(e->d_name, "caption_", 8) != 0 ||
		    strcmp(e->d_name + len - 4, ".vtt") != 0 ||
		    strspn(e->d_name + 8, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					  "0123456789_-") != len - 12)
			continue;
		memcpy(c[nc].locale, e->d_name + 8, len - 12);
		c[nc].locale[len - 12] = '\0';
		c[nc].name = NULL;
		for (j = 0; j < n && strcmp(t[j].lang, c[nc].locale) != 0; j++)
			;
		nc += j == n;
	}
	if (d)
		closedir(d);
	qsort(c, nc, sizeof(c[0]), rec_settle_caption_cmp);
	buf_puts(&json, "[");
	for (i = 0; i < nc; i++) {
		buf_puts(&json, i ? ",{\"locale\":" : "{\"locale\":");
		buf_json_str(&json, c[i].locale);
		buf_puts(&json, ",\"localeName\":");
		buf_json_str(&json, c[i].name ? c[i].name : c[i].locale);
		buf_puts(&json, "}");
	}
	buf_puts(&json, "]\n");
	if (json.oom) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	} else {
		rc = rec_store_write(path, json.data, json.len, err, errlen);
	}
	buf_free(&json);
	return rc;
}

/* The recording's text tracks into its presentation tree, where BBB's player looks
 * (caption_<lang>.vtt, captions.json), inside the settle's transaction: what was not
 * written yet, all of them into a fresh tree (a re-import replaced the old one), any file
 * someone removed. A recording without a presentation tree keeps them in the database. */
static int rec_settle_tracks(struct db *db, const char *root, const struct db_recfiles_row *row,
			     const int *lost, char *err, size_t errlen)
{
	struct db_track_file t[DB_TRACKS_MAX];
	char dir[REC_STORE_PATH], path[REC_STORE_PATH], json[REC_STORE_PATH];
	struct buf vtt = { 0 };
	size_t i, n, p;
	int changed = 0, rc;

	if (strcmp(row->state, "deleted") == 0)
		return 0;
	for (p = 0; p < row->n && (strcmp(row->formats[p], "presentation") != 0 || lost[p]); p++)
		;
	if (p == row->n)
		return 0;
	rc = rec_store_tree(dir, sizeof(dir), root, rec_store_area(row->state), "presentation",
			    row->record_id);
	if (rc < 0 || rec_store_is_dir(dir) <= 0)
		return rc;
	rc = db_tracks_files(db, row->id, t, &n, err, errlen);
	if (rc < 0 || n == 0)
		return rc;
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/caption_%s.vtt", dir, t[i].lang) >=
		    sizeof(path)) {
			snprintf(err, errlen, "path too long under %.200s", dir);
			rc = -ENAMETOOLONG;
			goto out;
		}
		if (t[i].written && !row->staging[p] && access(path, F_OK) == 0)
			continue;
		buf_reset(&vtt);
		rc = db_tracks_content(db, row->id, &t[i], &vtt, err, errlen);
		if (rc == 0)
			rc = rec_store_write(path, buf_str(&vtt), vtt.len, err, errlen);
		if (rc < 0)
			goto out;
		changed = 1;
	}
	if ((size_t)snprintf(json, sizeof(json), "%s/captions.json", dir) >= sizeof(json)) {
		snprintf(err, errlen, "path too long under %.200s", dir);
		rc = -ENAMETOOLONG;
	} else if (changed || access(json, F_OK) != 0) {
		rc = rec_settle_captions(dir, json, t, n, err, errlen);
	}
	if (rc == 0)
		rc = db_tracks_written(db, row->id, err, errlen);
out:
	buf_free(&vtt);
	return rc;
}

int rec_settle_one(struct db *db, const char *root, long long id, char *err, size_t errlen)
{
	struct db_recfiles_row row;
	char path[REC_STORE_PATH];
	int lost[16] = { 0 };
	size_t i;
	int rc;

	rc = db_recfiles_settle_begin(db, id, &row, err, errlen);
	if (rc < 0)
		return rc;
	for (i = 0; i < row.n; i++) {
		rc = rec_settle_format(root, &row, i, err, errlen);
		if (rc < 0)
			break;
		lost[i] = rc == 1;
		if (lost[i])
			log_warn("recordings", "event=tree_missing record_id=%s format=%s",
				 row.record_id, row.formats[i]);
		rc = 0;
		rec_failpoint("settle_after_move");
	}
	/* the trees are in place: the text tracks go into them */
	if (rc == 0)
		rc = rec_settle_tracks(db, root, &row, lost, err, errlen);
	if (rc < 0) {
		db_recfiles_settle_abort(db);
		goto out;
	}
	rc = db_recfiles_settle_end(db, &row, lost, err, errlen);
	if (rc < 0 || strcmp(row.state, "deleted") != 0)
		goto out;
	for (i = 0; i < row.n; i++)
		if (rec_store_tree(path, sizeof(path), root, REC_STORE_TRASH, row.formats[i],
				   row.record_id) == 0)
			rec_store_rmtree(path);
out:
	db_recfiles_row_clear(&row);
	return rc;
}

struct rec_settle_keep {
	struct db *db;
};

/* A staging directory a pending row still names is its recording's only copy. */
static int rec_settle_keep_staging(const char *name, void *ud)
{
	struct rec_settle_keep *k = ud;
	char err[256];

	return db_recfiles_staging_used(k->db, name, err, sizeof(err)) != 0;
}

int rec_settle_sweep(struct db *db, const char *root, long max_age_s, unsigned long *retention)
{
	struct rec_settle_keep keep = { db };
	long long ids[64];
	char err[512];
	size_t n, i;
	int settled = 0, expired, rc;

	expired = db_recfiles_expire(db, err, sizeof(err));
	if (expired < 0)
		log_error("recordings", "event=retention_failed error=\"%s\"", err);
	else if (expired > 0)
		log_info("recordings", "event=retention_deleted count=%d", expired);
	*retention = expired > 0 ? (unsigned long)expired : 0;
	/* pending rows one page at a time; one that fails stays pending for the next sweep */
	do {
		if (db_recfiles_pending(db, ids, 64, &n, err, sizeof(err)) < 0) {
			log_error("recordings", "event=sweep_failed error=\"%s\"", err);
			break;
		}
		for (i = 0; i < n; i++) {
			rc = rec_settle_one(db, root, ids[i], err, sizeof(err));
			if (rc == 0)
				settled++;
			else if (rc != -ENOENT)
				log_error("recordings", "event=settle_failed id=%lld error=\"%s\"",
					  ids[i], err);
		}
	} while (n == 64 && settled > 0);
	rec_store_expire(root, REC_STORE_TRASH, 0, NULL, NULL);
	rec_store_expire(root, REC_STORE_SPOOL, max_age_s, NULL, NULL);
	rec_store_expire(root, REC_STORE_STAGING, max_age_s, rec_settle_keep_staging, &keep);
	return settled;
}

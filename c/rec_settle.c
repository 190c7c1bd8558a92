/* rec_settle.c: see rec_settle.h. */
#include "rec_settle.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_recfiles.h"
#include "log.h"
#include "rec_store.h"

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

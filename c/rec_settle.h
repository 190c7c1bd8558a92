/* rec_settle.h: makes a recording's trees match its row (sql/0014). Every change that moves
 * files writes the row first with `pending` set; a settle then moves the trees under the
 * row's lock and clears it. A crash at any point leaves a pending row that the next settle,
 * on any instance, finishes. */
#ifndef B3S_REC_SETTLE_H
#define B3S_REC_SETTLE_H

#include <stddef.h>

struct db;

/* Settles recording id: its trees, then its text tracks (sql/0015) into the presentation
 * tree. 0; -ENOENT when it is not pending or another instance holds it; else -errno with err
 * (the row stays pending for the next sweep). */
int rec_settle_one(struct db *db, const char *root, long long id, char *err, size_t errlen);
/* Applies the frontends' recordings.retention_days (*retention: how many it deleted),
 * settles every pending recording, and removes what imports left in the working areas: the
 * trash, spool files and unreferenced staging directories older than max_age_s. Returns
 * how many recordings it settled. */
int rec_settle_sweep(struct db *db, const char *root, long max_age_s,
		     unsigned long *retention);

/* Testing aid: B3SCALE_FAILPOINT=name kills the process (SIGKILL) when it reaches the named
 * point, to show that a crash there leaves storage and database consistent. */
void rec_failpoint(const char *name);

#endif

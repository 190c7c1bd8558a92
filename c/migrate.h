/* migrate.h: forward-only numbered SQL migrations (sql/NNNN_name.sql). */
#ifndef B3S_MIGRATE_H
#define B3S_MIGRATE_H

#include <stddef.h>

#include "db.h"

/* Applies every pending migration, each in its own transaction; *applied counts them. */
int migrate_apply(struct db *db, const char *dir, int *applied, char *err, size_t errlen);
/* Counts pending migrations and lists their names (space separated) in names. */
int migrate_pending(struct db *db, const char *dir, int *pending, char *names, size_t cap,
		    char *err, size_t errlen);

#endif

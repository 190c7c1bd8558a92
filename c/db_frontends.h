/* db_frontends.h: the frontends table. */
#ifndef B3S_DB_FRONTENDS_H
#define B3S_DB_FRONTENDS_H

#include "db.h"
#include "lb.h"

/* 0 found, -ENOENT unknown key, other negative: database error in err. */
int db_frontends_find(struct db *db, const char *key, struct lb_frontend *out, char *err,
		      size_t errlen);

/* Distinct settings.policy names, so a reload can refuse to drop a policy still in use. */
int db_frontends_policies(struct db *db, char ***names, size_t *n, char *err, size_t errlen);

#endif

/* db_frontends.h: the frontends table. */
#ifndef B3S_DB_FRONTENDS_H
#define B3S_DB_FRONTENDS_H

#include "db.h"
#include "lb.h"

/* 0 found, -ENOENT unknown key, other negative: database error in err. With meeting_id,
 * the same round trip also reads that meeting into *m (*has_meeting says whether it exists). */
int db_frontends_find(struct db *db, const char *key, const char *meeting_id,
		      struct lb_frontend *out, struct lb_meeting *m, int *has_meeting, char *err,
		      size_t errlen);

/* Distinct settings.policy names, so a reload can refuse to drop a policy still in use. */
int db_frontends_policies(struct db *db, char ***names, size_t *n, char *err, size_t errlen);

#endif

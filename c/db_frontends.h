/* db_frontends.h: the frontends table. */
#ifndef B3S_DB_FRONTENDS_H
#define B3S_DB_FRONTENDS_H

#include "db.h"
#include "lb.h"

/* 0 found, -ENOENT unknown key, other negative: database error in err. */
int db_frontends_find(struct db *db, const char *key, struct lb_frontend *out, char *err,
		      size_t errlen);

#endif

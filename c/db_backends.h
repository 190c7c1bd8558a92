/* db_backends.h: the backends table. */
#ifndef B3S_DB_BACKENDS_H
#define B3S_DB_BACKENDS_H

#include "db.h"
#include "lb.h"

/* "pending" of backend b (SQL alias b), as sql/0008_backend_pending.sql defines it for
 * placement, /metrics and the status page alike. */
#define DB_BACKENDS_PENDING_SQL \
	"(SELECT p.pending FROM backend_pending p WHERE p.backend_id = b.id)"

/* Backends that may take a new meeting (admin ready, not unavailable, agent heartbeat fresh
 * when the node has an agent), in a stable order. */
int db_backends_eligible(struct db *db, long agent_max_age_ms, struct lb_backend_list *out,
			 char *err, size_t errlen);
/* One backend by id (id, host, secret and states); -ENOENT when there is none. */
int db_backends_find(struct db *db, const char *id, struct lb_backend *b, char *err,
		     size_t errlen);
/* Fills b from columns id, host, secret, admin_state, node_state starting at col. */
int db_backends_row(PGresult *r, int row, int col, struct lb_backend *b);

#endif

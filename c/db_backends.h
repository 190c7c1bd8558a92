/* db_backends.h: the backends table. */
#ifndef B3S_DB_BACKENDS_H
#define B3S_DB_BACKENDS_H

#include "db.h"
#include "lb.h"

/* "pending" of backend b (SQL alias b), as sql/0008_backend_pending.sql defines it for
 * placement, /metrics and the status page alike. */
#define DB_BACKENDS_PENDING_SQL \
	"(SELECT p.pending FROM backend_pending p WHERE p.backend_id = b.id)"

/* "reserved" of backend b: the seats its young meetings (placed less than $2 seconds ago,
 * with an expected size) hold beyond what they reported; each reserves expected_size x
 * decay, decay falling linearly from 1 at creation to 0 after the window, and never less
 * than its reported participants (policies/README.md, "The load"). Served by
 * meetings_backend_created_idx: a short range per node. */
#define DB_BACKENDS_RESERVED_SQL \
	"coalesce((SELECT round(sum(greatest(0, m.expected_size * (1 - extract(epoch FROM" \
	" now() - m.created_at) / greatest($2::double precision, 1)) - m.participants)))::bigint" \
	" FROM meetings m WHERE m.backend_id = b.id AND m.expected_size IS NOT NULL" \
	" AND $2::double precision > 0" \
	" AND m.created_at > now() - make_interval(secs => $2::double precision)), 0)"

/* Backends that may take a new meeting (admin ready, not unavailable, agent heartbeat fresh
 * when the node has an agent), in a stable order; window_s as DB_BACKENDS_RESERVED_SQL's. */
int db_backends_eligible(struct db *db, long agent_max_age_ms, long window_s,
			 struct lb_backend_list *out, char *err, size_t errlen);
/* One backend by id (id, host, secret and states); -ENOENT when there is none. */
int db_backends_find(struct db *db, const char *id, struct lb_backend *b, char *err,
		     size_t errlen);
/* Fills b from columns id, host, secret, admin_state, node_state starting at col. */
int db_backends_row(PGresult *r, int row, int col, struct lb_backend *b);

#endif

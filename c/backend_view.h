/* backend_view.h: the backends that may take a new meeting, kept in memory for placement
 * and re-read by a thread every B3SCALE_PLACEMENT_REFRESH_MS. */
#ifndef B3S_BACKEND_VIEW_H
#define B3S_BACKEND_VIEW_H

#include <stddef.h>

#include "config.h"
#include "lb.h"

struct backend_view;
struct db;

/* Starts the refresher (nothing with B3SCALE_PLACEMENT_REFRESH_MS=0: every create reads). */
int backend_view_start(const struct lb_config *cfg, char *err, size_t errlen);
void backend_view_stop(void);
/* The snapshot to place with (a reference): the shared one when it is current, else read
 * now on db. NULL with err on a database error. */
struct backend_view *backend_view_get(struct db *db, const struct lb_config *cfg, char *err,
				      size_t errlen);
void backend_view_put(struct backend_view *v);
/* The snapshot's backends with this instance's placements since it was read added to their
 * pending counts and their reservations. The strings stay the snapshot's: free(out->v) only, while v is held. */
int backend_view_list(struct backend_view *v, struct lb_backend_list *out);
/* Counts a create placed on the snapshot's backend i as pending there, and its expected size
 * (> 0: known) as reserved there, until the next read has the meeting's row. */
void backend_view_placed(struct backend_view *v, size_t i, long expected_size);
/* Reads of the eligible backends so far: by the refresher, and by creates themselves. */
void backend_view_counters(unsigned long *refresher, unsigned long *create);
/* Eligibility may have changed (an edit, a node state, a notification): the next create
 * reads the database, and the refresher reads at once. */
void backend_view_stale(void);

#endif

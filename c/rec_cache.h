/* rec_cache.h: getRecordings answers kept per frontend and query for
 * B3SCALE_RECORDINGS_CACHE_MS. Frontends ask the same page again and again (a room's
 * recordings list on every visit) while recordings change rarely; any change, on any
 * instance, drops every kept answer (LISTEN b3scale_recordings, sql/0016), and nothing is
 * kept while that notification cannot arrive. */
#ifndef B3S_REC_CACHE_H
#define B3S_REC_CACHE_H

#include <stddef.h>

#include "buf.h"
#include "config.h"

/* The generation to pass to rec_cache_put: read it BEFORE reading the database, so a change
 * notified in between keeps the stale answer out. */
unsigned long rec_cache_gen(void);
/* 1 with the kept answer appended to out, 0 on a miss. */
int rec_cache_get(const struct lb_config *cfg, const char *frontend_id, const char *key,
		  struct buf *out);
void rec_cache_put(const struct lb_config *cfg, unsigned long gen, const char *frontend_id,
		   const char *key, const char *body, size_t len);
/* Recordings changed (here, or notified from another instance): drop every answer. */
void rec_cache_invalidate(void);
/* The listener is up (1) or lost (0, nothing is kept until it is back). */
void rec_cache_set_live(int live);

#endif

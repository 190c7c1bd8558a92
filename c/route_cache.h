/* route_cache.h: what a join is routed by (the frontend and the meeting's placement), cached
 * per worker thread. Entries die when any instance changes routing data (LISTEN/NOTIFY on
 * b3scale_routes bumps a global epoch), after B3SCALE_ROUTE_CACHE_MS at the latest, and at
 * once while the listener is not connected (the cache is then bypassed). */
#ifndef B3S_ROUTE_CACHE_H
#define B3S_ROUTE_CACHE_H

#include <stddef.h>

#include "config.h"
#include "lb.h"

struct route_cache;

/* 1 and copies (caller clears them) on a fresh hit, 0 on a miss. */
int route_cache_get(struct route_cache **rc, const struct lb_config *cfg, const char *key,
		    const char *meeting_id, struct lb_frontend *fe, struct lb_meeting *m);
/* The epoch to pass to route_cache_put: read it BEFORE reading the data from the database,
 * so a change notified in between keeps the stale data out of the cache. */
unsigned long route_cache_epoch(void);
void route_cache_put(struct route_cache **rc, const struct lb_config *cfg, unsigned long epoch,
		     const char *key, const char *meeting_id, const struct lb_frontend *fe,
		     const struct lb_meeting *m);
void route_cache_free(struct route_cache *rc);
/* Drops every cached route in every thread (this instance changed routing data itself). */
void route_cache_bump(void);
/* The listener thread: LISTEN b3scale_routes on its own connection, reconnecting. */
int route_cache_listen_start(const struct lb_config *cfg, char *err, size_t errlen);
void route_cache_listen_stop(void);

#endif

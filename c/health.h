/* health.h: /healthz (the process answers) and /readyz (it can do useful work). */
#ifndef B3S_HEALTH_H
#define B3S_HEALTH_H

#include "http_server.h"
#include "worker.h"

void health_live(struct http_answer *a);
/* Database reachable, no pending migration, policies loaded. One cheap query; the
 * migration check is repeated at most every HEALTH_MIGRATIONS_EVERY seconds. */
void health_ready(struct worker *w, struct http_answer *a);

#endif

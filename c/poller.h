/* poller.h: background threads that poll backends (getMeetings), keep node health and
 * reconcile meeting rows. Work is shared with other instances through leases in Postgres. */
#ifndef B3S_POLLER_H
#define B3S_POLLER_H

#include <stddef.h>

#include "config.h"
#include "lb.h"
#include "worker.h"
#include "xml_dom.h"

struct poller;

int poller_start(struct poller **out, const struct lb_config *cfg, char *err, size_t errlen);
/* Applies a node's getMeetings answer exactly as a successful poll does (counters, health,
 * meeting rows, strays): the agent's full state reports go through here too. taken_at_ms
 * (epoch) is when the node was asked: rows confirmed later are never taken for lost. */
int poller_apply(struct worker *w, const struct lb_backend *b, struct xml_node *doc,
		 long latency_ms, long long taken_at_ms, char *err, size_t errlen);
void poller_stop(struct poller *p);

#endif

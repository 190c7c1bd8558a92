/* poller.h: background threads that poll backends (getMeetings), keep node health and
 * reconcile meeting rows. Work is shared with other instances through leases in Postgres. */
#ifndef B3S_POLLER_H
#define B3S_POLLER_H

#include <stddef.h>

#include "config.h"

struct poller;

int poller_start(struct poller **out, const struct lb_config *cfg, char *err, size_t errlen);
void poller_stop(struct poller *p);

#endif

/* cb_webhooks.h: tenant webhooks (docs/callbacks.md, "Tenant webhooks"). Triggers (sql/0020)
 * write webhook_events as meetings and recordings change; one thread per instance, with its
 * own database connection, turns each into an outbox row per matching webhook of its
 * frontend (JSON, signed with the webhook's secret) and deletes it in the same transaction,
 * so an event is queued exactly once whichever instance takes it. */
#ifndef B3S_CB_WEBHOOKS_H
#define B3S_CB_WEBHOOKS_H

#include <stddef.h>

#include "config.h"

int cb_webhooks_start(const struct lb_config *cfg, char *err, size_t errlen);
void cb_webhooks_stop(void);

#endif

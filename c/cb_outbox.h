/* cb_outbox.h: the callback deliverer. One thread with its own database connection and
 * libcurl multi handle claims due rows of the outbox (db_callbacks.h), sends up to
 * B3SCALE_CALLBACK_CONCURRENCY of them at once through the SSRF guard (cb_target.h) and
 * writes each outcome: 2xx delivered; 404 and 410 failed; a refused target refused; anything
 * else retried with exponential backoff until B3SCALE_CALLBACK_MAX_AGE_S, then failed.
 * Delivery is at least once: an attempt whose outcome cannot be written (the instance dies
 * mid-attempt) is made again after its lease, so receivers should de-duplicate. */
#ifndef B3S_CB_OUTBOX_H
#define B3S_CB_OUTBOX_H

#include <stddef.h>

#include "config.h"

/* Parses B3SCALE_CALLBACK_ALLOWED_NETWORKS (a bad entry fails with a one-line err) and
 * starts the thread. */
int cb_outbox_start(const struct lb_config *cfg, char *err, size_t errlen);
/* Stops the thread; attempts in flight are abandoned and their rows due again at once. */
void cb_outbox_stop(void);
/* A producer added a row: look for due rows now instead of at the next poll. Any thread. */
void cb_outbox_kick(void);

/* This instance's attempts by outcome, for /metrics. */
struct cb_outbox_counters {
	unsigned long delivered, retried, failed, refused;
};
void cb_outbox_counters(struct cb_outbox_counters *out);

#endif

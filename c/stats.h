/* stats.h: in-memory counters for /metrics. Labels are bounded: call names come from a
 * fixed list, outcomes from a fixed set, backends by host (one series per registered node). */
#ifndef B3S_STATS_H
#define B3S_STATS_H

#include "buf.h"

void stats_bbb_request(const char *call, const char *outcome, double seconds);
void stats_admin_request(const char *method, int status);
void stats_backend_call(const char *host, int ok);
void stats_poll(const char *host, int ok);
void stats_db_error(void);
void stats_render(struct buf *out);

#endif

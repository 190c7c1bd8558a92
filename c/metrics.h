/* metrics.h: the Prometheus text served at /metrics. */
#ifndef B3S_METRICS_H
#define B3S_METRICS_H

#include "buf.h"

void metrics_render(struct buf *out);

#endif

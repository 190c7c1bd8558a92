/* metrics.h: the Prometheus text served at /metrics. */
#ifndef B3S_METRICS_H
#define B3S_METRICS_H

#include "buf.h"
#include "db.h"

#define B3SCALE_VERSION "0.1.0"

struct lb_config;

/* Reads the metrics settings (per-meeting labels) once at start-up. */
void metrics_setup(const struct lb_config *cfg);
/* Writes the whole exposition; db is the calling worker's connection. */
void metrics_render(struct db *db, struct buf *out);

#endif

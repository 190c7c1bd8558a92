/* rec_import.h: the recordings thread. It owns every slow file operation on the storage
 * (which may be an NFS or CephFS mount): checking and extracting imports, settling rows
 * whose trees must move, and the periodic sweep. HTTP workers only queue work for it. */
#ifndef B3S_REC_IMPORT_H
#define B3S_REC_IMPORT_H

#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "http_server.h"

/* One import: the request parks while the thread runs it. */
struct rec_job {
	struct http_park park;
	char spool[4096];      /* the uploaded body, removed once the job is done */
	int admin;             /* b3scale:admin token; else a node token */
	char sub[256];         /* the token's subject (a node's agent_ref) */
	char frontend[65];     /* ?frontend=KEY of an admin's import, "" when none */
	/* the outcome, read by resume */
	int status;
	struct buf body;
	struct rec_job *next;
};

/* Starts the thread when B3SCALE_RECORDINGS_DIR is set (creating its areas). */
int rec_import_start(const struct lb_config *cfg, char *err, size_t errlen);
void rec_import_stop(void);
/* 1 when recordings storage is configured and the thread runs. */
int rec_import_enabled(void);
/* Queues j; the thread wakes j's connection when it is done. */
void rec_import_submit(struct rec_job *j);
/* Rows were marked pending (publish, unpublish, delete): settle them soon. */
void rec_import_kick(void);

/* Totals for /metrics. */
struct rec_import_counters {
	unsigned long ok, rejected, failed; /* imports by outcome */
	unsigned long long bytes;           /* uploaded bytes of successful imports */
	unsigned long settled;              /* recordings whose trees were moved */
	unsigned long retention;            /* recordings deleted by retention_days */
};
void rec_import_counters(struct rec_import_counters *out);

#endif

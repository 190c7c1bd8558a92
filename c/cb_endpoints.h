/* cb_endpoints.h: the URLs nodes call back (cb_create.h): meeting ended, the frontend's end
 * callback, analytics and recording ready. Each maps the meeting ID back to the frontend's
 * own, re-signs with the frontend's secret where BBB signs, and queues the frontend's call in
 * the outbox (cb_outbox.h); the node gets its answer at once. Also the recording-ready
 * callback b3scaled sends itself once a recording is imported. */
#ifndef B3S_CB_ENDPOINTS_H
#define B3S_CB_ENDPOINTS_H

#include <stddef.h>

#include "db.h"
#include "http_server.h"
#include "worker.h"

/* 1 for the paths served here (the token in the path is the credential). */
int cb_endpoints_route(const char *path);
void cb_endpoints_handle(struct worker *w, const struct http_request *req,
			 struct http_answer *a);
/* Queues the frontend's recording-ready callback of record_id when its meeting asked for one
 * (once per recording: the outbox de-duplicates). 0, 1 when none was asked, -EIO. */
int cb_endpoints_recording_ready(struct db *db, const char *frontend_id, const char *meeting_id,
				 const char *record_id, char *err, size_t errlen);

#endif

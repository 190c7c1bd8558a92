/* rec_upload.h: POST /api/v1/recordings/import on the HTTP side. The token, the content type
 * and the room on disk are checked at the headers, before a byte of the body is taken; the
 * body then streams into a spool file (never memory), and the recordings thread
 * (rec_import.h) does the rest while the request is parked. */
#ifndef B3S_REC_UPLOAD_H
#define B3S_REC_UPLOAD_H

#include <stddef.h>

#include <microhttpd.h>

#include "config.h"
#include "http_server.h"

struct rec_upload;

/* 1 when method and path are the import route. */
int rec_upload_route(const char *method, const char *path);
/* At the headers: 0 with *out (send the body to rec_upload_append), or -1 with the refusal
 * in a (401, 403, 404, 413, 415, 503, 507). */
int rec_upload_begin(const struct lb_config *cfg, struct MHD_Connection *c,
		     struct rec_upload **out, struct http_answer *a);
/* One piece of the body; after a write failure (a full disk) the rest is discarded. */
void rec_upload_append(struct rec_upload *u, const char *data, size_t n);
/* The body is complete: the request parks for the recordings thread (a->park), or a failure
 * is answered. The upload belongs to the park from here on (*u is set to NULL). */
void rec_upload_finish(struct rec_upload **u, const char *client, struct http_answer *a);
/* An upload that never finished (cut, too large, client gone): its spool file goes. */
void rec_upload_free(struct rec_upload *u);

#endif

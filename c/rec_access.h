/* rec_access.h: protected recordings (visibility protected or public_protected). Their format
 * URLs in getRecordings are short-lived signed links to the balancer under the playback host;
 * following one sets a cookie for that recording and redirects to the playback page, and the
 * playback host's web server asks GET /api/v1/recordings/auth (nginx auth_request) before
 * serving a file of a protected recording. */
#ifndef B3S_REC_ACCESS_H
#define B3S_REC_ACCESS_H

#include "buf.h"
#include "config.h"
#include "http_server.h"
#include "worker.h"

#define REC_ACCESS_LINK_TTL_S 3600     /* a link from getRecordings */
#define REC_ACCESS_COOKIE_TTL_S 28800  /* the cookie it sets: a long lecture and then some */

/* 1 for the two routes served here (no admin token: the link and the cookie are the key). */
int rec_access_route(const char *path);
void rec_access_handle(struct worker *w, const struct http_request *req, struct http_answer *a);
/* 1 when recordings of this visibility need the link and the cookie. */
int rec_access_protected(const char *visibility);
/* Appends the signed link to format of record_id, under base (the playback host). -EPERM
 * when no B3SCALE_API_JWT_SECRET is set to sign it with. */
int rec_access_link(struct buf *out, const struct lb_config *cfg, const char *base,
		    const char *record_id, const char *format);

#endif

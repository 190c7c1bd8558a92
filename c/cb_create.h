/* cb_create.h: a create's callback parameters swapped for b3scaled's own URLs
 * (docs/callbacks.md). The frontend's URLs are kept in meeting_callbacks; the node calls
 * b3scaled, which maps the meeting ID back, re-signs with the frontend's secret and calls the
 * frontend from its outbox. */
#ifndef B3S_CB_CREATE_H
#define B3S_CB_CREATE_H

#include <stddef.h>

#include "config.h"
#include "db.h"
#include "query.h"

#define CB_CREATE_PATH "/api/v1/callbacks/"

/* 1 when callbacks are rewritten: B3SCALE_API_URL and B3SCALE_API_JWT_SECRET are set. */
int cb_create_enabled(const struct lb_config *cfg);
/* Takes the callback parameters out of params (meta_endCallbackUrl, meetingEndedURL, the
 * recording-ready and analytics meta, any case), records them and puts b3scaled's URLs in:
 * meetingEndedURL always (b3scaled learns of every end at once), the end and analytics ones
 * when the frontend gave them; recording-ready ones are delivered by b3scaled after the
 * import, so the node gets none. 0, or -EIO with err. */
int cb_create_rewrite(struct db *db, const struct lb_config *cfg, const char *frontend_id,
		      const char *meeting_id, const char *backend_meeting_id, struct query *params,
		      char *err, size_t errlen);
/* The row id in a token "<id>-<mac>" when the MAC is right for backend_meeting_id; else 0.
 * (The caller reads the row, then checks with the row's backend meeting ID.) */
long long cb_create_token_id(const char *token);
int cb_create_token_ok(const struct lb_config *cfg, const char *token,
		       const char *backend_meeting_id);

#endif

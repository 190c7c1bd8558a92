/* bbbsim_render.h: XML documents for meetings, in the element order bbb-web renders. */
#ifndef BBBSIM_RENDER_H
#define BBBSIM_RENDER_H

#include "buf.h"
#include "bbbsim_state.h"

/* The create answer; key/message empty on a fresh create, duplicateWarning otherwise. */
int bbbsim_render_create(struct buf *out, const struct bbbsim_meeting *m, const char *key,
			 const char *message);
/* The meeting fields (meetingName .. isBreakout) without an enclosing element. */
int bbbsim_render_meeting(struct buf *out, const struct bbbsim_meeting *m);
/* Whole responses. */
int bbbsim_render_meeting_info(struct buf *out, const struct bbbsim_meeting *m);
int bbbsim_render_meetings(struct buf *out, const struct bbbsim_meeting *list);
int bbbsim_render_join(struct buf *out, const struct bbbsim_meeting *m,
		       const struct bbbsim_attendee *a, const char *auth_token,
		       const char *session_token, const char *url);

#endif

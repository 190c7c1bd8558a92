/* bbb_meetings.h: the meeting calls (create, join, end, isMeetingRunning, getMeetingInfo,
 * insertDocument, sendChatMessage), after bbb_api.c has verified the frontend and checksum. */
#ifndef B3S_BBB_MEETINGS_H
#define B3S_BBB_MEETINGS_H

#include "bbb_task.h"

void bbb_meetings_create(struct bbb_ctx *c);
void bbb_meetings_join(struct bbb_ctx *c);
/* end, isMeetingRunning, getMeetingInfo, insertDocument, sendChatMessage: routed to the
 * meeting's backend. Handlers that call a node return with calls added (bbb_task.h). */
void bbb_meetings_forward(struct bbb_ctx *c);

#endif

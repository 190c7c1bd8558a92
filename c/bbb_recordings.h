/* bbb_recordings.h: the BBB recording calls, answered per frontend from Postgres
 * (docs/recordings.md); after bbb_api.c verified the frontend and checksum. */
#ifndef B3S_BBB_RECORDINGS_H
#define B3S_BBB_RECORDINGS_H

#include "bbb_task.h"

/* getRecordings: meetingID and recordID lists (recordIDs match as prefixes), state (default
 * published,unpublished; any), meta_* filters ANDed, and BBB 2.6's offset/limit pages. */
void bbb_recordings_get(struct bbb_ctx *c);
/* updateRecordings: meta_* of the frontend's recordings named by recordID (an empty value
 * removes the key); notFound when none of them is the frontend's. */
void bbb_recordings_update(struct bbb_ctx *c);
/* publishRecordings (publish=true|false) and deleteRecordings: the frontend's recordings
 * named by recordID change state at once, their trees move on the recordings thread;
 * notFound when none of them is the frontend's. */
void bbb_recordings_publish(struct bbb_ctx *c);
void bbb_recordings_delete(struct bbb_ctx *c);

#endif

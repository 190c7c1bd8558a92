/* bbb_tracks.h: BBB's two text track calls (JSON answers, ../shared/reference/bbb-api.md
 * §4.12-4.13), per frontend, stored with the recording (db_tracks.h): the upload is a row,
 * its files are written into the presentation tree by the settle on the recordings thread. */
#ifndef B3S_BBB_TRACKS_H
#define B3S_BBB_TRACKS_H

#include "bbb_task.h"

/* getRecordingTextTracks: recordID; the tracks with their WebVTT URL on the playback host. */
void bbb_tracks_get(struct bbb_ctx *c);
/* putRecordingTextTrack: recordID, kind, lang, label in the signed URL, the WebVTT or SRT in
 * the multipart body's `file` part. */
void bbb_tracks_put(struct bbb_ctx *c);

#endif

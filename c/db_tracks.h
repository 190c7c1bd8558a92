/* db_tracks.h: the text tracks of recordings (sql/0015): what putRecordingTextTrack writes
 * and getRecordingTextTracks reads in an HTTP worker, and what the settle (rec_settle.c)
 * reads, inside its transaction, to put them into the presentation tree. */
#ifndef B3S_DB_TRACKS_H
#define B3S_DB_TRACKS_H

#include <stddef.h>

#include "buf.h"
#include "db.h"

#define DB_TRACKS_MAX 32 /* per recording: kinds times languages */

/* One uploaded track, its WebVTT converted already. */
struct db_track_put {
	const char *frontend_id, *record_id, *kind, *lang, *label, *content;
};
/* Stores t on the frontend's listed, not deleted recording and marks the recording pending
 * (the settle writes the files); another frontend's recordID is the same as none. 1 when
 * stored, 0 when there is no such recording, -ENOSPC when it has DB_TRACKS_MAX tracks and
 * this is a new one, -EIO. The recording's row is locked before the track's, in the order
 * the settle locks them. */
int db_tracks_put(struct db *db, const struct db_track_put *t, char *err, size_t errlen);

/* A track as getRecordingTextTracks lists it; strings live during the callback only. */
struct db_track {
	const char *kind, *lang, *label, *source;
	const char *node_url; /* a format link of the node, for the host when there is no
			       * playback host; "" when none */
};
/* Calls fn for each track of the frontend's recording record_id (by language, then kind).
 * Returns how many there are, -ENOENT when the recording is not the frontend's (or is
 * deleted or still being imported), -EIO. */
int db_tracks_list(struct db *db, const char *frontend_id, const char *record_id,
		   int (*fn)(const struct db_track *t, void *ud), void *ud, char *err,
		   size_t errlen);

/* What the settle writes for one language: its newest track. */
struct db_track_file {
	char kind[16];
	char lang[64];
	char label[260];
	int written;
};
/* The newest track of each language of recording id, by language (at most DB_TRACKS_MAX).
 * In the settle's transaction. */
int db_tracks_files(struct db *db, long long id, struct db_track_file *out, size_t *n,
		    char *err, size_t errlen);
/* The WebVTT of one track, appended to out. */
int db_tracks_content(struct db *db, long long id, const struct db_track_file *t,
		      struct buf *out, char *err, size_t errlen);
/* Marks every track of recording id written (its files are in place). */
int db_tracks_written(struct db *db, long long id, char *err, size_t errlen);

#endif

/* db_recordings.h: a frontend's recordings for the BBB recording calls (getRecordings). */
#ifndef B3S_DB_RECORDINGS_H
#define B3S_DB_RECORDINGS_H

#include <stddef.h>

#include "db.h"

/* What getRecordings asks for; lists are comma-separated as BBB takes them ("" = no filter). */
struct db_recordings_query {
	const char *frontend_id;
	const char *meeting_ids;
	const char *record_ids;   /* prefixes, as BBB matches them */
	const char *states;       /* never empty: the caller applies BBB's default */
	const char *meta_json;    /* {"key":"value",...}: every pair must match */
	long offset, limit;       /* limit 0: no limit */
	int count;                /* count every match too (else *total is the page's size) */
};

/* A metadata pair or a playback format of one recording. */
struct db_recording_part {
	int is_format;
	const char *key, *value;          /* metadata */
	const char *format, *url, *url_path, *processing_time, *length_ms, *size;
};

/* One recording; strings live during the callback only. */
struct db_recording {
	const char *record_id, *meeting_id, *internal_id, *name, *state;
	const char *start_time, *end_time, *participants, *raw_size;
	const char *visibility; /* protected ones get signed links (rec_access.h) */
	int is_breakout;
	const struct db_recording_part *parts; /* metadata by key, then formats by name */
	size_t nparts;
};

/* Calls fn for each recording of the page in order (start time, then id), after setting
 * *total (see count). A negative return of fn stops the walk. */
int db_recordings_page(struct db *db, const struct db_recordings_query *q, long *total,
		       int (*fn)(const struct db_recording *r, void *ud), void *ud, char *err,
		       size_t errlen);

/* updateRecordings: in frontend_id's recordings named in record_ids (a comma list of exact
 * IDs), sets the pairs of set_json ({"key":"value"}) and removes the keys of drop_json
 * (["key"]). Returns how many recordings it changed (0: none of them is the frontend's), or
 * -EIO with err. */
int db_recordings_update_meta(struct db *db, const char *frontend_id, const char *record_ids,
			      const char *set_json, const char *drop_json, char *err,
			      size_t errlen);

#endif

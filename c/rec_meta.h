/* rec_meta.h: a recording's metadata.xml as a BBB node publishes it, read into the values of
 * its recordings row (../shared/fixtures/bbb-responses/recording-metadata.xml). */
#ifndef B3S_REC_META_H
#define B3S_REC_META_H

#include <stddef.h>

#include "buf.h"
#include "rec_archive.h"

struct xml_node;

struct rec_meta {
	struct xml_node *doc;
	/* borrowed from doc; numbers are digits only ("0" when absent) */
	const char *record_id, *internal_id, *name, *start_time, *end_time, *participants;
	const char *raw_size, *processing_time, *duration, *size;
	const char *meeting_ns; /* <meta><meetingId>, else <meeting externalId>: "key~id" */
	const char *link;       /* the node's playback link, "" when none */
	int is_breakout;
	int published;
	/* after rec_meta_frontend */
	const char *meeting_id; /* the frontend's own ID */
	struct buf url_path;    /* the link's path, or BBB's default for the format */
	struct buf meta_json;   /* every <meta> child, meetingId as the frontend knows it */
};

/* Parses t's metadata.xml (expat, no DTD, bounded) and checks it names t's recordID and
 * format. 0, or -EINVAL with err naming the problem. */
int rec_meta_parse(const struct rec_tree *t, struct rec_meta *m, char *err, size_t errlen);
/* The frontend key of the namespaced meeting ID into key; -ENOENT when it is not
 * namespaced. */
int rec_meta_key(const struct rec_meta *m, char *key, size_t keylen);
/* Settles the values that depend on the frontend `key` (the meeting ID as it knows it). */
int rec_meta_frontend(struct rec_meta *m, const struct rec_tree *t, const char *key);
void rec_meta_clear(struct rec_meta *m);

#endif

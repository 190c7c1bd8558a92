/* rec_vtt.h: the file of a putRecordingTextTrack upload, from the request body to WebVTT.
 * The body is already in memory (the HTTP layer bounds it); this finds its one `file` part
 * with a bounded multipart/form-data parser and turns WebVTT or SRT into WebVTT, the only
 * format BBB's player reads. */
#ifndef B3S_REC_VTT_H
#define B3S_REC_VTT_H

#include <stddef.h>

#include "buf.h"

#define REC_VTT_MAX_FILE (2 * 1024 * 1024) /* hours of dense subtitles fit in far less */

/* The content of the form field named "file" of a multipart/form-data body: 0 with
 * *data and *dlen pointing into body; -ENOENT when the body is no multipart or has no such
 * field, -EINVAL when it is malformed, -E2BIG when the file is over REC_VTT_MAX_FILE. */
int rec_vtt_multipart_file(const char *content_type, const char *body, size_t len,
			   const char **data, size_t *dlen);
/* Appends the WebVTT of an uploaded track to out: WebVTT as it is (line ends made LF), SRT
 * converted (a WEBVTT header, hh:mm:ss.mmm times). 0; -EINVAL when the text is neither, or
 * not UTF-8; -ENOMEM. */
int rec_vtt_convert(const char *in, size_t len, struct buf *out);
/* 1 when s (len bytes) is well-formed UTF-8 without NUL bytes (what Postgres text takes). */
int rec_vtt_utf8_ok(const char *s, size_t len);

#endif

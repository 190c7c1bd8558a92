/* agent_spool.h: the recordings spool on disk. BBB's published trees in, tars out:
 *
 *   <published>/<format>/<recordID>/metadata.xml ...   what BBB publishes (metadata.xml last)
 *   <spool>/<format>--<recordID>.tar.tmp               being written (locked by its writer)
 *   <spool>/<format>--<recordID>.tar                   waiting for upload
 *   <spool>/done/<format>--<recordID>                  uploaded (b3scaled answered 200)
 *   <spool>/failed/<format>--<recordID>.tar            refused by b3scaled; not retried
 *
 * Whoever works on a spool file holds flock(LOCK_EX) on it: the running agent and a manual
 * --upload-recording never write or upload the same file at once, and a .tmp nobody holds
 * is the leftover of a killed writer. */
#ifndef B3S_AGENT_SPOOL_H
#define B3S_AGENT_SPOOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#define AGENT_SPOOL_NAME_MAX 128                          /* a format or recordID */
#define AGENT_SPOOL_ID_MAX (2 * AGENT_SPOOL_NAME_MAX + 3) /* "<format>--<recordID>" + NUL */

struct agent_spool {
	const char *published; /* B3SCALE_AGENT_RECORDINGS_DIR */
	const char *dir;       /* B3SCALE_AGENT_SPOOL_DIR */
	const atomic_int *stop; /* set: a tar being written is abandoned (-ECANCELED) */
};

/* A spooled tar, open read-only at offset 0 and locked by this process. */
struct agent_spool_file {
	int fd;
	long long size;
	dev_t dev;
	ino_t ino;
	char id[AGENT_SPOOL_ID_MAX];
	char format[AGENT_SPOOL_NAME_MAX + 1];
	char record[AGENT_SPOOL_NAME_MAX + 1];
};

enum agent_spool_state {
	AGENT_SPOOL_NEW = 0, /* nothing in the spool for it */
	AGENT_SPOOL_DONE,    /* done marker */
	AGENT_SPOOL_QUEUED,  /* a .tar or .tar.tmp */
	AGENT_SPOOL_FAILED,  /* in failed/ */
};

/* [A-Za-z0-9._-], no leading dot, at most AGENT_SPOOL_NAME_MAX; a format also holds no "--"
 * and does not end in '-', so "<format>--<recordID>" splits back at its first "--". */
int agent_spool_name_ok(const char *s, int is_format);
/* "<format>--<recordID>" into id (AGENT_SPOOL_ID_MAX); -EINVAL for an invalid name. */
int agent_spool_id(char *id, const char *format, const char *record);

/* mkdir -p of the spool, done/ and failed/; 0 or negative errno with err. */
int agent_spool_prepare(const struct agent_spool *s, char *err, size_t errlen);
/* Removes the .tar.tmp files no writer holds (a killed agent's); the number removed. */
int agent_spool_clean(const struct agent_spool *s);

/* Calls fn for every <format>/<recordID> directory under the published dir with valid names
 * (only those of record when it is not NULL); fn returning non-zero ends the scan. Names that
 * fail agent_spool_name_ok are skipped (logged when warn is set; dot names silently).
 * 0, or negative errno when the published dir cannot be read. */
int agent_spool_scan(const struct agent_spool *s, const char *record, int warn,
		     int (*fn)(void *ud, const char *format, const char *record), void *ud);
/* 1 when <format>/<recordID>/metadata.xml is a regular file (BBB writes it last). */
int agent_spool_ready(const struct agent_spool *s, const char *format, const char *record);
enum agent_spool_state agent_spool_state(const struct agent_spool *s, const char *id);
/* The number of .tar files waiting in the spool. */
int agent_spool_count(const struct agent_spool *s);

/* Writes the tree as <id>.tar.tmp (pax, entries "<format>/<recordID>/...", directories and
 * regular files; symlinks and other types are skipped with a warning), fsyncs it, renames it
 * to <id>.tar and hands it over open and locked. -EBUSY when another writer holds the .tmp;
 * -ECANCELED when *stop was set; other negative errno with err. */
int agent_spool_write(const struct agent_spool *s, const char *format, const char *record,
		      struct agent_spool_file *f, char *err, size_t errlen);
/* The waiting .tar to upload next: the first id in name order after `after` ("" = from the
 * start), wrapping around. 0 with id set, -ENOENT when the spool holds none. */
int agent_spool_next(const struct agent_spool *s, const char *after, char *id);
/* Opens and locks <id>.tar; -EBUSY when someone else holds it, -ENOENT when it is gone. */
int agent_spool_open(const struct agent_spool *s, const char *id, struct agent_spool_file *f);
void agent_spool_close(struct agent_spool_file *f);

/* After a 200: the done marker (fsynced), then the tar and any failed/ copy are removed. */
int agent_spool_done(const struct agent_spool *s, const struct agent_spool_file *f);
/* After a refusal: the tar moves to failed/. */
int agent_spool_fail(const struct agent_spool *s, const struct agent_spool_file *f);
/* Removes <published>/<format>/<recordID> recursively, never following a symlink. */
int agent_spool_remove_tree(const struct agent_spool *s, const char *format, const char *record);

#endif

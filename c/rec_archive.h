/* rec_archive.h: an uploaded recordings archive (tar, optionally gzip-compressed), checked
 * whole before anything is written, then extracted into a staging directory. */
#ifndef B3S_REC_ARCHIVE_H
#define B3S_REC_ARCHIVE_H

#include <stddef.h>

#include "buf.h"

#define REC_ARCHIVE_MAX_TREES 64
#define REC_ARCHIVE_MAX_METADATA (1u << 20)

/* One <format>/<recordID>/ tree of the archive, with its metadata.xml. */
struct rec_tree {
	char format[65];
	char record_id[257];
	struct buf metadata;
	int has_metadata;
	unsigned long long bytes; /* declared sizes of its files */
};

struct rec_trees {
	struct rec_tree v[REC_ARCHIVE_MAX_TREES];
	size_t n;
};

/* Reads every entry header of the archive at path: regular files and directories only, no
 * absolute path or "..", laid out as <format>/<recordID>/..., declared sizes within limit in
 * all, and a metadata.xml in every tree (read into out). 0; -EINVAL with err naming the
 * entry and the rule; -errno on a local failure. */
int rec_archive_scan(const char *path, unsigned long long limit, struct rec_trees *out,
		     char *err, size_t errlen);
/* Extracts the archive at path (checked by rec_archive_scan) under dir, which it creates.
 * -EINVAL with err for what the scan could not see (a truncated body, a duplicate entry),
 * -ENOSPC when the disk is full, -errno else. The caller removes dir on failure. */
int rec_archive_extract(const char *path, unsigned long long limit, const char *dir,
			char *err, size_t errlen);
void rec_trees_clear(struct rec_trees *t);

#endif

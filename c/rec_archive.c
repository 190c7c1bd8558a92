/* rec_archive.c: see rec_archive.h. libarchive reads the tar (gzip detected by content, so a
 * mislabelled upload still works); every rule is checked on every entry in both passes, so
 * the extraction never writes what the scan would have refused. */
#include "rec_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_ARCHIVE_MAX_ENTRIES 200000
#define REC_ARCHIVE_MAX_PATH 1024
#define REC_ARCHIVE_BLOCK 65536

/* One entry's place in the layout: the path relative to the archive root, cleaned. */
struct rec_entry {
	char path[REC_ARCHIVE_MAX_PATH + 1];
	char format[65];
	char record_id[257];
	int depth;       /* components: 1 = <format>, 2 = <format>/<recordID>, ... */
	int is_dir;
	int is_metadata; /* <format>/<recordID>/metadata.xml */
	long long size;
};

static int rec_archive_name_ok(const char *s, size_t n, size_t max, int dots)
{
	size_t i;

	if (n == 0 || n > max || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || (dots && c == '.')))
			return 0;
	}
	return 1;
}

/* Fills e from the entry's header, or -EINVAL with err saying which rule it breaks. */
static int rec_archive_entry(struct archive_entry *ae, struct rec_entry *e, char *err,
			     size_t errlen)
{
	const char *name = archive_entry_pathname(ae), *p, *slash;
	mode_t type = archive_entry_filetype(ae);
	size_t n;

	memset(e, 0, sizeof(*e));
	if (!name) {
		snprintf(err, errlen, "an entry has no readable name");
		return -EINVAL;
	}
	if (archive_entry_hardlink(ae) || type == AE_IFLNK) {
		snprintf(err, errlen, "entry '%.200s' is a link; only files and directories are "
				      "accepted", name);
		return -EINVAL;
	}
	if (type != AE_IFREG && type != AE_IFDIR) {
		snprintf(err, errlen, "entry '%.200s' is a device or special file; only files and "
				      "directories are accepted", name);
		return -EINVAL;
	}
	if (name[0] == '/') {
		snprintf(err, errlen, "entry '%.200s' has an absolute path", name);
		return -EINVAL;
	}
	while (strncmp(name, "./", 2) == 0)
		name += 2;
	n = strlen(name);
	while (n > 0 && name[n - 1] == '/')
		n--;
	if (n == 0 || n > REC_ARCHIVE_MAX_PATH) {
		snprintf(err, errlen, "entry '%.200s' has an empty or too long path", name);
		return -EINVAL;
	}
	memcpy(e->path, name, n);
	e->path[n] = '\0';
	e->is_dir = type == AE_IFDIR;
	for (p = e->path; p; p = slash ? slash + 1 : NULL) {
		size_t len;

		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		e->depth++;
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && strncmp(p, "..", 2) == 0)) {
			snprintf(err, errlen, "entry '%.200s' has an empty, '.' or '..' component",
				 e->path);
			return -EINVAL;
		}
		if (len > 255 || memchr(p, '\\', len)) {
			snprintf(err, errlen, "entry '%.200s' has an invalid component", e->path);
			return -EINVAL;
		}
		if (e->depth == 1 && !rec_archive_name_ok(p, len, 64, 0)) {
			snprintf(err, errlen, "entry '%.200s': the first directory must be a format "
					      "name ([A-Za-z0-9_-], at most 64)", e->path);
			return -EINVAL;
		}
		if (e->depth == 1)
			memcpy(e->format, p, len);
		if (e->depth == 2 && !rec_archive_name_ok(p, len, 256, 1)) {
			snprintf(err, errlen, "entry '%.200s': the second directory must be a "
					      "recordID ([A-Za-z0-9._-], at most 256)", e->path);
			return -EINVAL;
		}
		if (e->depth == 2)
			memcpy(e->record_id, p, len);
		if (e->depth == 3 && !slash && strcmp(p, "metadata.xml") == 0 && !e->is_dir)
			e->is_metadata = 1;
	}
	for (p = e->path; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "entry '%.200s' has a control character", e->path);
			return -EINVAL;
		}
	}
	if (!e->is_dir && e->depth < 3) {
		snprintf(err, errlen, "entry '%.200s' is a file outside <format>/<recordID>/",
			 e->path);
		return -EINVAL;
	}
	e->size = e->is_dir ? 0 : archive_entry_size(ae);
	if (e->size < 0) {
		snprintf(err, errlen, "entry '%.200s' has no valid size", e->path);
		return -EINVAL;
	}
	return 0;
}

static struct archive *rec_archive_open(const char *path, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_open_filename(a, path, REC_ARCHIVE_BLOCK) != ARCHIVE_OK) {
		snprintf(err, errlen, "not a tar archive: %s", archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* The next entry, checked: 1 with e, 0 at the end, -EINVAL with err. */
static int rec_archive_next(struct archive *a, struct rec_entry *e, unsigned long long limit,
			    unsigned long long *total, unsigned *count, char *err,
			    size_t errlen)
{
	struct archive_entry *ae;
	int r = archive_read_next_header(a, &ae);

	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
		snprintf(err, errlen, "the archive is damaged or truncated: %s",
			 archive_error_string(a));
		return -EINVAL;
	}
	if (++*count > REC_ARCHIVE_MAX_ENTRIES) {
		snprintf(err, errlen, "the archive has more than %d entries",
			 REC_ARCHIVE_MAX_ENTRIES);
		return -EINVAL;
	}
	if (rec_archive_entry(ae, e, err, errlen) < 0)
		return -EINVAL;
	/* a declared size is what the extraction would write: bound before any byte is read */
	if ((unsigned long long)e->size > limit || *total + (unsigned long long)e->size > limit) {
		snprintf(err, errlen, "entry '%.200s' declares %lld bytes, over the upload limit "
				      "of %llu bytes", e->path, e->size, limit);
		return -EINVAL;
	}
	*total += (unsigned long long)e->size;
	return 1;
}

static struct rec_tree *rec_archive_tree(struct rec_trees *t, const struct rec_entry *e,
					 char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].format, e->format) == 0 &&
		    strcmp(t->v[i].record_id, e->record_id) == 0)
			return &t->v[i];
	if (t->n == REC_ARCHIVE_MAX_TREES) {
		snprintf(err, errlen, "the archive holds more than %d recordings",
			 REC_ARCHIVE_MAX_TREES);
		return NULL;
	}
	memset(&t->v[t->n], 0, sizeof(t->v[0]));
	snprintf(t->v[t->n].format, sizeof(t->v[0].format), "%s", e->format);
	snprintf(t->v[t->n].record_id, sizeof(t->v[0].record_id), "%s", e->record_id);
	return &t->v[t->n++];
}

static int rec_archive_read_metadata(struct archive *a, const struct rec_entry *e,
				     struct rec_tree *t, char *err, size_t errlen)
{
	char block[8192];
	la_ssize_t n;

	if (t->has_metadata) {
		snprintf(err, errlen, "entry '%.200s' appears twice", e->path);
		return -EINVAL;
	}
	if (e->size > (long long)REC_ARCHIVE_MAX_METADATA) {
		snprintf(err, errlen, "'%.200s' is larger than %u bytes", e->path,
			 REC_ARCHIVE_MAX_METADATA);
		return -EINVAL;
	}
	while ((n = archive_read_data(a, block, sizeof(block))) > 0) {
		if (t->metadata.len + (size_t)n > REC_ARCHIVE_MAX_METADATA) {
			snprintf(err, errlen, "'%.200s' is larger than %u bytes", e->path,
				 REC_ARCHIVE_MAX_METADATA);
			return -EINVAL;
		}
		buf_append(&t->metadata, block, (size_t)n);
	}
	if (n < 0 || t->metadata.oom) {
		snprintf(err, errlen, "'%.200s' cannot be read: %s", e->path,
			 n < 0 ? archive_error_string(a) : "out of memory");
		return n < 0 ? -EINVAL : -ENOMEM;
	}
	t->has_metadata = 1;
	return 0;
}

int rec_archive_scan(const char *path, unsigned long long limit, struct rec_trees *out,
		     char *err, size_t errlen)
{
	struct archive *a;
	struct rec_entry e;
	struct rec_tree *t;
	unsigned long long total = 0;
	unsigned count = 0;
	size_t i;
	int rc;

	out->n = 0;
	a = rec_archive_open(path, err, errlen);
	if (!a)
		return -EINVAL;
	while ((rc = rec_archive_next(a, &e, limit, &total, &count, err, errlen)) > 0) {
		if (e.depth < 2)
			continue;
		t = rec_archive_tree(out, &e, err, errlen);
		if (!t) {
			rc = -EINVAL;
			break;
		}
		t->bytes += (unsigned long long)e.size;
		if (e.is_metadata && (rc = rec_archive_read_metadata(a, &e, t, err, errlen)) < 0)
			break;
	}
	archive_read_free(a);
	if (rc == 0 && out->n == 0) {
		snprintf(err, errlen, "the archive holds no <format>/<recordID>/ tree");
		rc = -EINVAL;
	}
	for (i = 0; rc == 0 && i < out->n; i++) {
		if (!out->v[i].has_metadata) {
			snprintf(err, errlen, "%s/%s/ has no metadata.xml", out->v[i].format,
				 out->v[i].record_id);
			rc = -EINVAL;
		}
	}
	if (rc < 0)
		rec_trees_clear(out);
	return rc;
}

/* write(2) until all of it is written: a file size limit or a nearly full disk takes part of
 * a block first and fails only on the next write. */
static int rec_archive_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -ENOSPC;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies the entry's data into a new file; -ENOSPC and the like from the disk, -EINVAL when
 * the archive ends early. */
static int rec_archive_write(struct archive *a, const struct rec_entry *e, const char *dest,
			     char *err, size_t errlen)
{
	const void *data;
	size_t size;
	la_int64_t off;
	long long written = 0;
	int fd, r, rc = 0;

	fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, rc == -EEXIST ? "entry '%.200s' appears twice"
						    : "cannot write '%.200s': %s",
			 e->path, strerror(-rc));
		return rc == -EEXIST ? -EINVAL : rc;
	}
	while ((r = archive_read_data_block(a, &data, &size, &off)) == ARCHIVE_OK) {
		if (off != written && lseek(fd, off, SEEK_SET) < 0) { /* sparse entries */
			rc = -errno;
			break;
		}
		if ((rc = rec_archive_write_all(fd, data, size)) < 0)
			break;
		written = off + (long long)size;
	}
	if (rc == 0 && r != ARCHIVE_EOF) {
		snprintf(err, errlen, "the archive is damaged or truncated in '%.200s': %s",
			 e->path, archive_error_string(a));
		rc = -EINVAL;
	} else if (rc == 0 && (ftruncate(fd, e->size) < 0 || fsync(fd) < 0)) {
		rc = -errno; /* the size a sparse entry declares; on disk before the rename */
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0 && rc != -EINVAL)
		snprintf(err, errlen, "cannot write '%.200s': %s", e->path, strerror(-rc));
	return rc;
}

int rec_archive_extract(const char *path, unsigned long long limit, const char *dir,
			char *err, size_t errlen)
{
	char dest[4096];
	struct archive *a;
	struct rec_entry e;
	unsigned long long total = 0;
	unsigned count = 0;
	char *p;
	int rc;

	if (mkdir(dir, 0755) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	a = rec_archive_open(path, err, errlen);
	if (!a)
		return -EINVAL;
	while ((rc = rec_archive_next(a, &e, limit, &total, &count, err, errlen)) > 0) {
		if ((size_t)snprintf(dest, sizeof(dest), "%s/%s", dir, e.path) >= sizeof(dest)) {
			rc = -ENAMETOOLONG;
			snprintf(err, errlen, "path too long for '%.200s'", e.path);
			break;
		}
		/* the parents: tar need not list a directory before its files */
		rc = 0;
		for (p = dest + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
			*p = '\0';
			rc = mkdir(dest, 0755) < 0 && errno != EEXIST ? -errno : 0;
			*p = '/';
			if (rc < 0)
				break;
		}
		if (rc == 0 && e.is_dir && mkdir(dest, 0755) < 0 && errno != EEXIST)
			rc = -errno;
		if (rc < 0) {
			snprintf(err, errlen, "cannot create '%.200s': %s", e.path, strerror(-rc));
			break;
		}
		if (!e.is_dir && (rc = rec_archive_write(a, &e, dest, err, errlen)) < 0)
			break;
	}
	archive_read_free(a);
	return rc;
}

void rec_trees_clear(struct rec_trees *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		buf_free(&t->v[i].metadata);
	t->n = 0;
}

/* rec_store.c: see rec_store.h. Nothing here follows a symlink: an uploaded tree never holds
 * one (rec_archive refuses them), and a tree someone placed by hand must not lead a removal
 * outside the storage root. */
#include "rec_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int rec_store_mkdir(const char *path)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

int rec_store_init(const char *root, char *err, size_t errlen)
{
	static const char *const areas[] = { REC_STORE_PUBLISHED, REC_STORE_UNPUBLISHED,
					     REC_STORE_SPOOL, REC_STORE_STAGING, REC_STORE_TRASH };
	char path[REC_STORE_PATH];
	size_t i;
	int rc;

	rc = rec_store_mkdir(root);
	for (i = 0; rc == 0 && i < sizeof(areas) / sizeof(areas[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, areas[i]) >= sizeof(path))
			rc = -ENAMETOOLONG;
		else
			rc = rec_store_mkdir(path);
	}
	if (rc < 0)
		snprintf(err, errlen, "cannot create the recordings directory %s: %s", root,
			 strerror(-rc));
	return rc;
}

const char *rec_store_area(const char *state)
{
	if (strcmp(state, "published") == 0)
		return REC_STORE_PUBLISHED;
	if (strcmp(state, "deleted") == 0)
		return REC_STORE_TRASH;
	return REC_STORE_UNPUBLISHED;
}

int rec_store_tree(char *out, size_t outlen, const char *root, const char *area,
		   const char *format, const char *record_id)
{
	if ((size_t)snprintf(out, outlen, "%s/%s/%s/%s", root, area, format, record_id) >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

int rec_store_unique(char *out, size_t outlen, const char *root, const char *area)
{
	unsigned char r[8];
	unsigned long long v = 0;
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	for (i = 0; i < sizeof(r); i++)
		v = v << 8 | r[i];
	if ((size_t)snprintf(out, outlen, "%s/%s/%lld-%016llx", root, area, (long long)time(NULL),
			     v) >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

int rec_store_is_dir(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	return S_ISDIR(st.st_mode) ? 1 : -ENOTDIR;
}

/* Creates the parent directory of path (one level: root/area exists already). */
static int rec_store_parent(const char *path)
{
	char parent[REC_STORE_PATH];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	return rec_store_mkdir(parent);
}

int rec_store_move(const char *root, const char *from, const char *to, char *err, size_t errlen)
{
	char aside[REC_STORE_PATH];
	int rc;

	rc = rec_store_is_dir(to);
	if (rc > 0) {
		rc = rec_store_unique(aside, sizeof(aside), root, REC_STORE_TRASH);
		if (rc == 0 && rename(to, aside) < 0)
			rc = -errno;
	}
	if (rc == 0)
		rc = rec_store_parent(to);
	if (rc == 0 && rename(from, to) < 0)
		rc = -errno;
	if (rc < 0)
		snprintf(err, errlen, "cannot move %s to %s: %s", from, to, strerror(-rc));
	return rc;
}

int rec_store_write(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
	char tmp[REC_STORE_PATH];
	size_t off = 0;
	ssize_t n;
	int fd = -1, rc = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	/* the caller holds the recording's row lock: no other writer uses this name */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		rc = -errno;
out:
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	if (fd >= 0 && rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		if (fd >= 0)
			unlink(tmp);
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
	}
	return rc;
}

void rec_store_prune(const char *path, int levels)
{
	char dir[REC_STORE_PATH];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	while (levels-- > 0 && (slash = strrchr(dir, '/'))) {
		*slash = '\0';
		if (rmdir(dir) < 0)
			return;
	}
}

static int rec_store_unlink(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int rec_store_rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	/* FTW_PHYS: a symlink is removed, never followed; FTW_DEPTH: children before parents */
	return nftw(path, rec_store_unlink, 16, FTW_PHYS | FTW_DEPTH | FTW_MOUNT) < 0 ? -EIO : 0;
}

int rec_store_expire(const char *root, const char *area, long max_age_s,
		     int (*keep)(const char *name, void *ud), void *ud)
{
	char dir[REC_STORE_PATH], path[REC_STORE_PATH];
	struct dirent *e;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;
	int n = 0;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", root, area) >= sizeof(dir))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
			continue;
		if (lstat(path, &st) < 0 || (max_age_s > 0 && now - st.st_mtime < max_age_s))
			continue;
		if (keep && keep(e->d_name, ud))
			continue;
		if (rec_store_rmtree(path) == 0)
			n++;
	}
	closedir(d);
	return n;
}

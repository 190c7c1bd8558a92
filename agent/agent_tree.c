/* agent_tree.c: see agent_tree.h. */
#include "agent_tree.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define AGENT_TREE_PATH_MAX 4096
#define AGENT_TREE_CHUNK (64u << 10)
#define AGENT_TREE_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

struct agent_tree_tar {
	struct archive *a;
	struct archive_entry *e;
	const atomic_int *stop;
	char *err;
	size_t errlen;
	char path[AGENT_TREE_PATH_MAX]; /* the current entry's name */
	size_t len;
	char chunk[AGENT_TREE_CHUNK];
};

static int agent_tree_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void agent_tree_names_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The names in the directory open as fd, without "." and "..", sorted: tars come out the
 * same for the same tree, and removal never deletes under a running readdir. */
static int agent_tree_names(int fd, char ***out, size_t *count)
{
	char **v = NULL, **t;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int dfd, rc = 0;
	DIR *d;

	*out = NULL;
	*count = 0;
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* own offset: fd stays usable */
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e) {
			rc = errno ? -errno : 0;
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			t = realloc(v, cap * sizeof(*v));
			if (!t) {
				rc = -ENOMEM;
				break;
			}
			v = t;
		}
		v[n] = strdup(e->d_name);
		if (!v[n]) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	if (closedir(d) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		agent_tree_names_free(v, n);
		return rc;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), agent_tree_cmp);
	*out = v;
	*count = n;
	return 0;
}

static int agent_tree_fail(struct agent_tree_tar *t, const char *what, int rc)
{
	snprintf(t->err, t->errlen, "%s %s: %s", what, t->path, strerror(-rc));
	return rc;
}

/* A libarchive call failed: its own message (a write error names the errno). */
static int agent_tree_archive_fail(struct agent_tree_tar *t, const char *what)
{
	const char *msg = archive_error_string(t->a);
	int e = archive_errno(t->a);

	snprintf(t->err, t->errlen, "%s %s: %s", what, t->path, msg ? msg : "libarchive error");
	return e > 0 ? -e : -EIO;
}

/* Sets the current entry name to the first `base` bytes plus name (and a '/' for a dir). */
static int agent_tree_name(struct agent_tree_tar *t, size_t base, const char *name, int dir)
{
	size_t n = strlen(name);

	if (base + n + 2 > sizeof(t->path))
		return -ENAMETOOLONG;
	memcpy(t->path + base, name, n);
	if (dir)
		t->path[base + n++] = '/';
	t->path[base + n] = '\0';
	t->len = base + n;
	return 0;
}

static int agent_tree_header(struct agent_tree_tar *t, const struct stat *st, int dir)
{
	archive_entry_clear(t->e);
	archive_entry_copy_pathname(t->e, t->path);
	archive_entry_set_filetype(t->e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(t->e, st->st_mode & 0777);
	archive_entry_set_size(t->e, dir ? 0 : (la_int64_t)st->st_size);
	/* whole seconds: pax_restricted then needs no extended record for the time */
	archive_entry_set_mtime(t->e, st->st_mtim.tv_sec, 0);
	/* ARCHIVE_WARN: a name not valid in this locale, written as it is */
	if (archive_write_header(t->a, t->e) < ARCHIVE_WARN)
		return agent_tree_archive_fail(t, "tar header for");
	return 0;
}

static int agent_tree_stopped(const struct agent_tree_tar *t)
{
	return t->stop && atomic_load(t->stop);
}

/* One regular file: opened without following a link (O_NONBLOCK: a FIFO swapped in after
 * the stat must not block), its size fixed by fstat, its bytes copied. */
static int agent_tree_file(struct agent_tree_tar *t, int dir, const char *name)
{
	struct stat st;
	long long left;
	ssize_t r;
	int fd, rc = 0;

	fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return agent_tree_fail(t, "open", -errno);
	if (fstat(fd, &st) < 0) {
		rc = agent_tree_fail(t, "stat", -errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warn("agent", "event=recording_entry_skipped path=%s reason=not_regular", t->path);
		goto out;
	}
	rc = agent_tree_header(t, &st, 0);
	for (left = st.st_size; rc == 0 && left > 0; left -= r) {
		if (agent_tree_stopped(t)) {
			rc = -ECANCELED;
			break;
		}
		r = read(fd, t->chunk, left < (long long)sizeof(t->chunk) ? (size_t)left
									  : sizeof(t->chunk));
		if (r < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r < 0) {
			rc = agent_tree_fail(t, "read", -errno);
		} else if (r == 0) { /* shrank since the stat: BBB is still writing; later */
			snprintf(t->err, t->errlen, "%s changed while it was read", t->path);
			rc = -EAGAIN;
		} else if (archive_write_data(t->a, t->chunk, (size_t)r) != r) {
			rc = agent_tree_archive_fail(t, "tar data for");
		}
	}
out:
	if (close(fd) < 0 && rc == 0)
		rc = agent_tree_fail(t, "close", -errno);
	return rc;
}

static int agent_tree_tar_dir(struct agent_tree_tar *t, int dir, const struct stat *st,
			      int depth)
{
	size_t base = t->len, n = 0, i;
	char **names = NULL;
	int rc;

	rc = agent_tree_header(t, st, 1);
	if (rc == 0 && (rc = agent_tree_names(dir, &names, &n)) < 0)
		agent_tree_fail(t, "list", rc);
	for (i = 0; rc == 0 && i < n; i++) {
		struct stat cst;
		int sub;

		if (agent_tree_stopped(t)) {
			rc = -ECANCELED;
			break;
		}
		if ((rc = agent_tree_name(t, base, names[i], 0)) < 0) {
			agent_tree_fail(t, "name", rc);
			break;
		}
		if (fstatat(dir, names[i], &cst, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = agent_tree_fail(t, "stat", -errno);
		} else if (S_ISREG(cst.st_mode)) {
			rc = agent_tree_file(t, dir, names[i]);
		} else if (!S_ISDIR(cst.st_mode)) {
			log_warn("agent", "event=recording_entry_skipped path=%s reason=%s", t->path,
				 S_ISLNK(cst.st_mode) ? "symlink" : "not_regular");
		} else if (depth >= AGENT_TREE_MAX_DEPTH) {
			rc = agent_tree_fail(t, "descend into", -ELOOP);
		} else if ((sub = openat(dir, names[i], AGENT_TREE_DIR_FLAGS)) < 0) {
			rc = agent_tree_fail(t, "open", -errno);
		} else {
			/* the directory as opened (a link swapped in fails O_NOFOLLOW above) */
			if (fstat(sub, &cst) < 0)
				rc = agent_tree_fail(t, "stat", -errno);
			else if ((rc = agent_tree_name(t, base, names[i], 1)) == 0)
				rc = agent_tree_tar_dir(t, sub, &cst, depth + 1);
			if (close(sub) < 0 && rc == 0)
				rc = agent_tree_fail(t, "close", -errno);
		}
	}
	agent_tree_names_free(names, n);
	t->path[base] = '\0';
	t->len = base;
	return rc;
}

int agent_tree_tar(int out, int dir, const char *prefix, const atomic_int *stop, char *err,
		   size_t errlen)
{
	struct agent_tree_tar *t = calloc(1, sizeof(*t));
	struct stat st;
	int rc = -ENOMEM;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	t->stop = stop;
	t->err = err;
	t->errlen = errlen;
	t->a = archive_write_new();
	t->e = archive_entry_new();
	if (!t->a || !t->e) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	t->len = strlen(prefix);
	if (t->len >= sizeof(t->path)) {
		snprintf(err, errlen, "tar prefix too long");
		rc = -ENAMETOOLONG;
		goto out;
	}
	memcpy(t->path, prefix, t->len + 1);
	if (archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
	    archive_write_open_fd(t->a, out) != ARCHIVE_OK) {
		rc = agent_tree_archive_fail(t, "tar open for");
		goto out;
	}
	if (fstat(dir, &st) < 0) {
		rc = agent_tree_fail(t, "stat", -errno);
		goto out;
	}
	rc = agent_tree_tar_dir(t, dir, &st, 0);
	if (rc == 0 && archive_write_close(t->a) != ARCHIVE_OK)
		rc = agent_tree_archive_fail(t, "tar end for");
out:
	if (t->e)
		archive_entry_free(t->e);
	/* after a failure this still writes the trailer: the caller removes the file */
	if (t->a)
		archive_write_free(t->a);
	free(t);
	return rc;
}

/* Empties the directory open as dir (unlinkat never follows a link: a link is removed). */
static int agent_tree_empty(int dir, int depth)
{
	size_t n = 0, i;
	char **names;
	int rc;

	rc = agent_tree_names(dir, &names, &n);
	for (i = 0; rc == 0 && i < n; i++) {
		struct stat st;
		int sub;

		if (fstatat(dir, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = errno == ENOENT ? 0 : -errno;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(dir, names[i], 0) < 0 && errno != ENOENT)
				rc = -errno;
			continue;
		}
		if (depth >= AGENT_TREE_MAX_DEPTH) {
			rc = -ELOOP;
			continue;
		}
		sub = openat(dir, names[i], AGENT_TREE_DIR_FLAGS);
		if (sub < 0) {
			rc = -errno;
			continue;
		}
		rc = agent_tree_empty(sub, depth + 1);
		if (close(sub) < 0 && rc == 0)
			rc = -errno;
		if (rc == 0 && unlinkat(dir, names[i], AT_REMOVEDIR) < 0)
			rc = -errno;
	}
	agent_tree_names_free(names, n);
	return rc;
}

int agent_tree_remove(int parent, const char *name)
{
	int dir, rc;

	dir = openat(parent, name, AGENT_TREE_DIR_FLAGS);
	if (dir < 0)
		return -errno;
	rc = agent_tree_empty(dir, 0);
	if (close(dir) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0)
		rc = -errno;
	return rc;
}

/* agent_spool.c: see agent_spool.h. Every path is one of the two configured directories
 * plus names that passed agent_spool_name_ok, so none leads outside them. */
#include "agent_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_tree.h"
#include "log.h"

#define AGENT_SPOOL_PATH_MAX 4096
#define AGENT_SPOOL_DIR_MODE 0750
#define AGENT_SPOOL_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static int agent_spool_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int agent_spool_name_ok(const char *s, int is_format)
{
	size_t n;

	if (!s || !*s || *s == '.')
		return 0;
	for (n = 0; s[n]; n++)
		if (n >= AGENT_SPOOL_NAME_MAX || !agent_spool_char_ok(s[n]))
			return 0;
	return !is_format || (!strstr(s, "--") && s[n - 1] != '-');
}

int agent_spool_id(char *id, const char *format, const char *record)
{
	if (!agent_spool_name_ok(format, 1) || !agent_spool_name_ok(record, 0))
		return -EINVAL;
	snprintf(id, AGENT_SPOOL_ID_MAX, "%s--%s", format, record);
	return 0;
}

/* The format and recordID of an id; -EINVAL for anything agent_spool_id does not make. */
static int agent_spool_split(const char *id, char *format, char *record)
{
	const char *sep = strstr(id, "--");
	size_t n;

	if (!sep || (n = (size_t)(sep - id)) > AGENT_SPOOL_NAME_MAX ||
	    strlen(sep + 2) > AGENT_SPOOL_NAME_MAX)
		return -EINVAL;
	memcpy(format, id, n);
	format[n] = '\0';
	snprintf(record, AGENT_SPOOL_NAME_MAX + 1, "%s", sep + 2);
	return agent_spool_name_ok(format, 1) && agent_spool_name_ok(record, 0) ? 0 : -EINVAL;
}

/* <spool>/<sub><name><suffix>; sub is "", "done/" or "failed/". */
static int agent_spool_path(char *out, const struct agent_spool *s, const char *sub,
			    const char *name, const char *suffix)
{
	if ((size_t)snprintf(out, AGENT_SPOOL_PATH_MAX, "%s/%s%s%s", s->dir, sub, name, suffix) >=
	    AGENT_SPOOL_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* The id of a spool entry named "<id><suffix>" into id; 0 when it is one. */
static int agent_spool_entry(const char *name, const char *suffix, char *id)
{
	char format[AGENT_SPOOL_NAME_MAX + 1], record[AGENT_SPOOL_NAME_MAX + 1];
	size_t n = strlen(name), k = strlen(suffix);

	if (n <= k || n - k >= AGENT_SPOOL_ID_MAX || strcmp(name + n - k, suffix) != 0)
		return -EINVAL;
	memcpy(id, name, n - k);
	id[n - k] = '\0';
	return agent_spool_split(id, format, record);
}

/* A rename or a new name must reach the disk before the next step relies on it. */
static int agent_spool_sync_dir(const struct agent_spool *s, const char *sub)
{
	char path[AGENT_SPOOL_PATH_MAX];
	int fd, rc = 0;

	if (agent_spool_path(path, s, sub, "", "") < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* 1 when path still names the file open as dev/ino (a writer may have renamed another one
 * over it since it was opened). */
static int agent_spool_same(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	return lstat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static int agent_spool_mkdirs(const char *path)
{
	char p[AGENT_SPOOL_PATH_MAX];
	size_t i, n = strlen(path);
	struct stat st;

	if (n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, AGENT_SPOOL_DIR_MODE) < 0 && errno != EEXIST)
			return -errno;
		p[i] = path[i];
	}
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int agent_spool_prepare(const struct agent_spool *s, char *err, size_t errlen)
{
	static const char *const subs[] = { "", "done", "failed" };
	char path[AGENT_SPOOL_PATH_MAX];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		rc = agent_spool_path(path, s, subs[i], "", "");
		if (rc == 0)
			rc = agent_spool_mkdirs(path);
		if (rc == 0 && access(path, W_OK | X_OK) < 0)
			rc = -errno;
		if (rc < 0) {
			snprintf(err, errlen, "spool directory %s: %s", path, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* Removes path when no one holds a lock on it: 0 when removed, -EBUSY when held. */
static int agent_spool_drop_stale(const char *path)
{
	struct stat st;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
	else if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (!agent_spool_same(path, st.st_dev, st.st_ino))
		rc = -EBUSY; /* replaced meanwhile: that one is someone's */
	else if (unlink(path) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int agent_spool_clean(const struct agent_spool *s)
{
	char id[AGENT_SPOOL_ID_MAX], path[AGENT_SPOOL_PATH_MAX];
	struct dirent *e;
	int n = 0, rc;
	DIR *d;

	d = opendir(s->dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		if (agent_spool_entry(e->d_name, ".tar.tmp", id) < 0 ||
		    agent_spool_path(path, s, "", e->d_name, "") < 0)
			continue;
		rc = agent_spool_drop_stale(path);
		if (rc == 0) {
			log_info("agent", "event=spool_tmp_removed file=%s reason=half_written", path);
			n++;
		} else if (rc != -EBUSY && rc != -ENOENT) {
			log_warn("agent", "event=spool_tmp_remove_failed file=%s error=\"%s\"", path,
				 strerror(-rc));
		}
	}
	if (closedir(d) < 0)
		return -errno;
	return n;
}

/* A directory entry usable as a format or recordID directory: a valid name, a directory,
 * not a symlink. Rejections are logged when warn is set (dot names never: BBB and bbbsim
 * keep their temporary trees under such names). */
static int agent_spool_dir_ok(int dir, const char *parent, const char *name, int is_format,
			      int warn)
{
	struct stat st;
	int ok = agent_spool_name_ok(name, is_format);

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)))
		return 0; /* gone, or a file: not a tree */
	if (ok && S_ISDIR(st.st_mode))
		return 1;
	if (warn && name[0] != '.')
		log_warn("agent", "event=recording_skipped path=%s/%s reason=%s", parent, name,
			 S_ISLNK(st.st_mode) ? "symlink" : "invalid_name");
	return 0;
}

/* The recordID directories of one format directory (dir, which it closes). */
static int agent_spool_scan_format(const struct agent_spool *s, int dir, const char *format,
				   int warn, int (*fn)(void *, const char *, const char *),
				   void *ud)
{
	char parent[AGENT_SPOOL_PATH_MAX];
	struct dirent *e;
	int stop = 0;
	DIR *d;

	snprintf(parent, sizeof(parent), "%s/%s", s->published, format);
	d = fdopendir(dir);
	if (!d) {
		close(dir);
		return 0;
	}
	while (!stop && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    agent_spool_dir_ok(dirfd(d), parent, e->d_name, 0, warn))
			stop = fn(ud, format, e->d_name);
	closedir(d); /* read-only directory: nothing to lose */
	return stop;
}

int agent_spool_scan(const struct agent_spool *s, const char *record, int warn,
		     int (*fn)(void *ud, const char *format, const char *record), void *ud)
{
	struct dirent *e;
	int stop = 0, fd;
	DIR *root;

	root = opendir(s->published);
	if (!root)
		return -errno;
	while (!stop && (e = readdir(root)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    !agent_spool_dir_ok(dirfd(root), s->published, e->d_name, 1, warn))
			continue;
		fd = openat(dirfd(root), e->d_name, AGENT_SPOOL_DIR_FLAGS);
		if (fd < 0)
			continue;
		if (!record) {
			stop = agent_spool_scan_format(s, fd, e->d_name, warn, fn, ud);
			continue;
		}
		/* one recordID: a look-up in each format, no listing */
		if (agent_spool_dir_ok(fd, s->published, record, 0, 0))
			stop = fn(ud, e->d_name, record);
		close(fd);
	}
	closedir(root);
	return 0;
}

int agent_spool_ready(const struct agent_spool *s, const char *format, const char *record)
{
	char path[AGENT_SPOOL_PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s/metadata.xml", s->published, format,
			     record) >= sizeof(path))
		return 0;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int agent_spool_exists(const struct agent_spool *s, const char *sub, const char *id,
			      const char *suffix)
{
	char path[AGENT_SPOOL_PATH_MAX];

	return agent_spool_path(path, s, sub, id, suffix) == 0 && access(path, F_OK) == 0;
}

enum agent_spool_state agent_spool_state(const struct agent_spool *s, const char *id)
{
	if (agent_spool_exists(s, "done/", id, ""))
		return AGENT_SPOOL_DONE;
	if (agent_spool_exists(s, "", id, ".tar") || agent_spool_exists(s, "", id, ".tar.tmp"))
		return AGENT_SPOOL_QUEUED;
	if (agent_spool_exists(s, "failed/", id, ".tar"))
		return AGENT_SPOOL_FAILED;
	return AGENT_SPOOL_NEW;
}

/* Walks the waiting .tar ids: their number, and the one after `after` (see
 * agent_spool_next) when next is given. */
static int agent_spool_walk(const struct agent_spool *s, const char *after, char *next)
{
	char id[AGENT_SPOOL_ID_MAX], first[AGENT_SPOOL_ID_MAX] = "";
	struct dirent *e;
	int n = 0;
	DIR *d;

	if (next)
		next[0] = '\0';
	d = opendir(s->dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		if (agent_spool_entry(e->d_name, ".tar", id) < 0)
			continue;
		n++;
		if (!next)
			continue;
		if (!first[0] || strcmp(id, first) < 0)
			memcpy(first, id, sizeof(first));
		if (strcmp(id, after) > 0 && (!next[0] || strcmp(id, next) < 0))
			memcpy(next, id, sizeof(id));
	}
	closedir(d);
	if (next && !next[0])
		memcpy(next, first, sizeof(first)); /* wrap around */
	return n;
}

int agent_spool_count(const struct agent_spool *s)
{
	return agent_spool_walk(s, "", NULL);
}

int agent_spool_next(const struct agent_spool *s, const char *after, char *id)
{
	int n = agent_spool_walk(s, after, id);

	return n < 0 ? n : n == 0 ? -ENOENT : 0;
}

static void agent_spool_file_init(struct agent_spool_file *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

int agent_spool_open(const struct agent_spool *s, const char *id, struct agent_spool_file *f)
{
	char path[AGENT_SPOOL_PATH_MAX];
	struct stat st;
	int rc;

	agent_spool_file_init(f);
	memset(&st, 0, sizeof(st));
	if (agent_spool_split(id, f->format, f->record) < 0)
		return -EINVAL;
	rc = agent_spool_path(path, s, "", id, ".tar");
	if (rc < 0)
		return rc;
	snprintf(f->id, sizeof(f->id), "%s", id);
	f->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	if (flock(f->fd, LOCK_EX | LOCK_NB) < 0)
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
	else if (fstat(f->fd, &st) < 0)
		rc = -errno;
	else if (!agent_spool_same(path, st.st_dev, st.st_ino))
		rc = -EBUSY; /* another one took its place: look again */
	if (rc < 0) {
		agent_spool_close(f);
		return rc;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = (long long)st.st_size;
	return 0;
}

void agent_spool_close(struct agent_spool_file *f)
{
	if (f->fd >= 0)
		close(f->fd); /* read-only (or already fsynced): nothing to lose */
	f->fd = -1;
}

/* Opens <published>/<format>, or <published>/<format>/<record> when record is given,
 * following no link at either level. The descriptor, or negative errno. */
static int agent_spool_open_dir(const struct agent_spool *s, const char *format,
				const char *record)
{
	int root, fd, sub, rc;

	root = open(s->published, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	fd = openat(root, format, AGENT_SPOOL_DIR_FLAGS);
	rc = -errno;
	close(root);
	if (fd < 0)
		return rc;
	if (!record)
		return fd;
	sub = openat(fd, record, AGENT_SPOOL_DIR_FLAGS);
	rc = -errno;
	close(fd);
	if (sub < 0)
		return rc;
	return sub;
}

/* <id>.tar.tmp created exclusively and locked. A leftover nobody holds (a killed writer's)
 * is replaced; one being written is -EBUSY. */
static int agent_spool_create(const char *tmp)
{
	int fd, tries;

	for (tries = 0; tries < 2; tries++) {
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (flock(fd, LOCK_EX | LOCK_NB) == 0)
				return fd;
			close(fd); /* opened by a cleaner in between: it will not remove it */
			return -EBUSY;
		}
		if (errno != EEXIST)
			return -errno;
		if (agent_spool_drop_stale(tmp) < 0)
			return -EBUSY;
	}
	return -EBUSY;
}

int agent_spool_write(const struct agent_spool *s, const char *format, const char *record,
		      struct agent_spool_file *f, char *err, size_t errlen)
{
	char tmp[AGENT_SPOOL_PATH_MAX], fin[AGENT_SPOOL_PATH_MAX];
	char prefix[2 * AGENT_SPOOL_NAME_MAX + 3];
	int tree = -1, fd = -1, rc;
	struct stat st;

	agent_spool_file_init(f);
	memset(&st, 0, sizeof(st));
	err[0] = '\0';
	if (agent_spool_id(f->id, format, record) < 0) {
		snprintf(err, errlen, "invalid format or recordID name");
		return -EINVAL;
	}
	snprintf(f->format, sizeof(f->format), "%s", format);
	snprintf(f->record, sizeof(f->record), "%s", record);
	snprintf(prefix, sizeof(prefix), "%s/%s/", format, record);
	if (agent_spool_path(tmp, s, "", f->id, ".tar.tmp") < 0 ||
	    agent_spool_path(fin, s, "", f->id, ".tar") < 0) {
		snprintf(err, errlen, "spool path too long");
		return -ENAMETOOLONG;
	}
	tree = agent_spool_open_dir(s, format, record);
	if (tree < 0) {
		rc = tree;
		snprintf(err, errlen, "open %s/%s/%s: %s", s->published, format, record,
			 strerror(-rc));
		goto out;
	}
	fd = agent_spool_create(tmp);
	if (fd < 0) {
		rc = fd;
		snprintf(err, errlen, "create %s: %s", tmp, strerror(-rc));
		goto out;
	}
	rc = agent_tree_tar(fd, tree, prefix, s->stop, err, errlen);
	if (rc == 0 && (fsync(fd) < 0 || fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)) {
		rc = -errno;
		snprintf(err, errlen, "write %s: %s", tmp, strerror(-rc));
	}
	/* only a complete, durable tar ever carries the name the uploader reads */
	if (rc == 0 && rename(tmp, fin) < 0) {
		rc = -errno;
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(-rc));
	}
	if (rc < 0)
		goto out;
	if ((rc = agent_spool_sync_dir(s, "")) < 0) /* at worst the tar is written again */
		log_warn("agent", "event=spool_sync_failed dir=%s error=\"%s\"", s->dir,
			 strerror(-rc));
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = (long long)st.st_size;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0) {
		if (unlink(tmp) < 0)
			log_warn("agent", "event=spool_tmp_remove_failed file=%s error=\"%s\"", tmp,
				 strerror(errno));
		close(fd);
	}
	if (tree >= 0)
		close(tree);
	return rc;
}

int agent_spool_done(const struct agent_spool *s, const struct agent_spool_file *f)
{
	char path[AGENT_SPOOL_PATH_MAX];
	int fd, rc;

	rc = agent_spool_path(path, s, "done/", f->id, "");
	if (rc < 0)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (close(fd) < 0)
		return -errno;
	/* the marker must be on disk before the tar goes, or a crash would send it again */
	rc = agent_spool_sync_dir(s, "done/");
	if (rc < 0)
		return rc;
	if (agent_spool_path(path, s, "", f->id, ".tar") == 0 &&
	    agent_spool_same(path, f->dev, f->ino) && unlink(path) < 0)
		return -errno;
	/* a deliberate re-send succeeded: the refused copy is history */
	if (agent_spool_path(path, s, "failed/", f->id, ".tar") == 0 && unlink(path) < 0 &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

int agent_spool_fail(const struct agent_spool *s, const struct agent_spool_file *f)
{
	char from[AGENT_SPOOL_PATH_MAX], to[AGENT_SPOOL_PATH_MAX];

	if (agent_spool_path(from, s, "", f->id, ".tar") < 0 ||
	    agent_spool_path(to, s, "failed/", f->id, ".tar") < 0)
		return -ENAMETOOLONG;
	if (!agent_spool_same(from, f->dev, f->ino))
		return 0; /* a newer copy took its place: that one gets its own answer */
	if (rename(from, to) < 0)
		return -errno;
	return agent_spool_sync_dir(s, "failed/");
}

int agent_spool_remove_tree(const struct agent_spool *s, const char *format, const char *record)
{
	int fd, rc;

	if (!agent_spool_name_ok(format, 1) || !agent_spool_name_ok(record, 0))
		return -EINVAL;
	fd = agent_spool_open_dir(s, format, NULL);
	if (fd < 0)
		return fd;
	rc = agent_tree_remove(fd, record);
	close(fd);
	return rc;
}

/* policy_bundle.c: reading policy and runtime sources into memory. */
#include "policy_bundle.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

#define POLICY_BUNDLE_MAX_FILES 256
#define POLICY_BUNDLE_MAX_FILE (1u << 20)

static int policy_bundle_slurp(const char *path, char **src, size_t *len, char *err,
			       size_t errlen)
{
	char chunk[8192];
	struct buf b;
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= POLICY_BUNDLE_MAX_FILE)
		buf_append(&b, chunk, n);
	fclose(f);
	if (b.len > POLICY_BUNDLE_MAX_FILE) {
		snprintf(err, errlen, "%s is larger than 1 MiB", path);
		buf_free(&b);
		return -EFBIG;
	}
	if (b.oom) {
		buf_free(&b);
		return -ENOMEM;
	}
	*src = buf_take(&b, len);
	return 0;
}

static int policy_bundle_add(struct policy_bundle *b, enum policy_file_kind kind,
			     const char *name, const char *dir_label, const char *file,
			     const char *path, char *err, size_t errlen)
{
	struct policy_file *f;

	if (b->n == POLICY_BUNDLE_MAX_FILES) {
		snprintf(err, errlen, "too many files in %s", dir_label);
		return -E2BIG;
	}
	f = &b->files[b->n];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->chunkname, sizeof(f->chunkname), "@%s/%s", dir_label, file);
	if (policy_bundle_slurp(path, &f->src, &f->len, err, errlen) < 0)
		return -EIO;
	b->n++;
	return 0;
}

/* Adds every <stem>.lua of dir whose stem is [a-z0-9_]. */
static int policy_bundle_dir(struct policy_bundle *b, const char *dir, const char *label,
			     enum policy_file_kind kind, const char *prefix, char *err,
			     size_t errlen)
{
	char path[1400], name[96], stem[64];
	struct dirent *e;
	size_t len;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d) {
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
		return -ENOENT;
	}
	while (rc == 0 && (e = readdir(d))) {
		len = strlen(e->d_name);
		if (len < 5 || len - 4 >= sizeof(stem) || strcmp(e->d_name + len - 4, ".lua") != 0 ||
		    strspn(e->d_name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len - 4)
			continue;
		memcpy(stem, e->d_name, len - 4);
		stem[len - 4] = '\0';
		snprintf(name, sizeof(name), "%s%s", prefix, stem);
		/* an earlier directory of the search path shadows this one */
		if (policy_bundle_find(b, kind, name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rc = policy_bundle_add(b, kind, name, label, e->d_name, path, err, errlen);
	}
	closedir(d);
	return rc;
}

/* policy_dir is one directory or a colon-separated search path (an installed b3scaled:
 * the operator's directory, then the shipped policies). The first directory holding a name
 * wins, options.json included; directories of a path that do not exist are skipped, as long
 * as one does. */
static int policy_bundle_path(struct policy_bundle *b, const char *policy_dir, char *err,
			      size_t errlen)
{
	char dir[1024], path[1100];
	const char *p = policy_dir, *colon;
	int multi = strchr(policy_dir, ':') != NULL, found = 0, rc = 0;
	size_t len;

	for (; rc == 0 && *p; p = colon ? colon + 1 : p + len) {
		colon = strchr(p, ':');
		len = colon ? (size_t)(colon - p) : strlen(p);
		if (len >= sizeof(dir)) {
			snprintf(err, errlen, "a policy directory is longer than %zu bytes",
				 sizeof(dir) - 1);
			return -ENAMETOOLONG;
		}
		if (len == 0)
			continue;
		memcpy(dir, p, len);
		dir[len] = '\0';
		if (multi && access(dir, F_OK) != 0)
			continue;
		found = 1;
		rc = policy_bundle_dir(b, dir, multi ? dir : "policies", POLICY_FILE_POLICY, "", err,
				       errlen);
		snprintf(path, sizeof(path), "%s/options.json", dir);
		if (rc == 0 && !policy_bundle_find(b, POLICY_FILE_OPTIONS, "options") &&
		    access(path, F_OK) == 0)
			rc = policy_bundle_add(b, POLICY_FILE_OPTIONS, "options",
					       multi ? dir : "policies", "options.json", path, err,
					       errlen);
	}
	if (rc == 0 && !found) {
		snprintf(err, errlen, "none of the policy directories %s exists", policy_dir);
		return -ENOENT;
	}
	return rc;
}

int policy_bundle_read(struct policy_bundle **out, const char *lua_dir, const char *policy_dir,
		       const char *default_policy, char *err, size_t errlen)
{
	struct policy_bundle *b = calloc(1, sizeof(*b));
	char path[1200];
	int rc;

	*out = NULL;
	if (!b)
		return -ENOMEM;
	b->files = calloc(POLICY_BUNDLE_MAX_FILES, sizeof(*b->files));
	if (!b->files) {
		free(b);
		return -ENOMEM;
	}
	snprintf(b->default_policy, sizeof(b->default_policy), "%s", default_policy);
	snprintf(path, sizeof(path), "%s/b3scale", lua_dir);
	rc = policy_bundle_dir(b, path, "lua/b3scale", POLICY_FILE_MODULE, "b3scale.", err, errlen);
	if (rc == 0)
		rc = policy_bundle_path(b, policy_dir, err, errlen);
	if (rc < 0) {
		policy_bundle_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

void policy_bundle_free(struct policy_bundle *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++)
		free(b->files[i].src);
	free(b->files);
	free(b);
}

const struct policy_file *policy_bundle_find(const struct policy_bundle *b,
					     enum policy_file_kind kind, const char *name)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->files[i].kind == kind && strcmp(b->files[i].name, name) == 0)
			return &b->files[i];
	return NULL;
}

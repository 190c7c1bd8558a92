/* rec_store.h: the recordings storage tree under B3SCALE_RECORDINGS_DIR (docs/recordings.md):
 * published/ and unpublished/ hold <format>/<recordID>/ trees; .spool/, .staging/ and .trash/
 * are the working areas, on the same file system so that every move is a rename. */
#ifndef B3S_REC_STORE_H
#define B3S_REC_STORE_H

#include <stddef.h>

#define REC_STORE_PATH 4096

#define REC_STORE_PUBLISHED "published"
#define REC_STORE_UNPUBLISHED "unpublished"
#define REC_STORE_SPOOL ".spool"
#define REC_STORE_STAGING ".staging"
#define REC_STORE_TRASH ".trash"

/* Creates root and its areas when missing. 0, or -errno with err naming the directory. */
int rec_store_init(const char *root, char *err, size_t errlen);
/* The area a recording in BBB state `state` lives in: unpublished for every state that is
 * not published, the trash for deleted. */
const char *rec_store_area(const char *state);
/* root/area/format/record_id into out; -ENAMETOOLONG when it does not fit. */
int rec_store_tree(char *out, size_t outlen, const char *root, const char *area,
		   const char *format, const char *record_id);
/* A fresh, unused name root/area/<time>-<random> (not created). */
int rec_store_unique(char *out, size_t outlen, const char *root, const char *area);
/* 1 when path is a directory (never following a symlink), 0 when absent, -errno else. */
int rec_store_is_dir(const char *path);
/* Renames tree `from` to `to`: an existing `to` is first renamed into the trash (removed
 * later by rec_store_empty_trash), the parent of `to` is created. Both stay whole at any
 * crash: the old tree, the new one, or the old one in the trash. */
int rec_store_move(const char *root, const char *from, const char *to, char *err, size_t errlen);
/* Writes a whole file at path (mode 0644, for the playback host): a temporary file beside
 * it, fsynced, then renamed over it, so a reader sees the old file or the new one. */
int rec_store_write(const char *path, const char *data, size_t len, char *err, size_t errlen);
/* Removes the empty parent directories of path, at most `levels` of them. */
void rec_store_prune(const char *path, int levels);
/* Removes path and everything below it without following symlinks. */
int rec_store_rmtree(const char *path);
/* Removes the entries of root/area older than max_age_s seconds (0: all of them), except
 * those keep() says to keep; returns how many it removed. */
int rec_store_expire(const char *root, const char *area, long max_age_s,
		     int (*keep)(const char *name, void *ud), void *ud);

#endif

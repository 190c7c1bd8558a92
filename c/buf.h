/* buf.h: a small growable byte buffer, always NUL-terminated. */
#ifndef B3S_BUF_H
#define B3S_BUF_H

#include <stddef.h>

struct buf {
	char *data;   /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;
	int oom;      /* sticky: set once an allocation failed, appends become no-ops */
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const char *s, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes included). */
int buf_json_str(struct buf *b, const char *s);
/* Hands the data to the caller (who frees it); the buffer is empty afterwards. */
char *buf_take(struct buf *b, size_t *len);
/* "" when empty, never NULL. */
const char *buf_str(const struct buf *b);
/* FNV-1a over a NUL-terminated string, continuing from h (start with BUF_HASH_SEED): the
 * one hash of the in-memory tables (route cache, node breakers, shared node calls). */
#define BUF_HASH_SEED 2166136261u
unsigned buf_hash(unsigned h, const char *s);

#endif

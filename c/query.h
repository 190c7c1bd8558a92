/* query.h: URL query strings: parse (decoding), edit, and encode (for re-signing). */
#ifndef B3S_QUERY_H
#define B3S_QUERY_H

#include <stddef.h>

#include "buf.h"

struct query_param {
	char *key;    /* decoded */
	char *value;  /* decoded */
};

struct query {
	struct query_param *v;
	size_t n;
	size_t cap;
};

void query_init(struct query *q);
void query_free(struct query *q);
/* No BBB call has more than a few dozen parameters; more is an attack on the parser. */
#define QUERY_MAX_PARAMS 1024
/* Splits on '&', decodes '+' and %XX; a bad escape is kept literally. -ENOMEM on failure,
 * -E2BIG past QUERY_MAX_PARAMS pairs. */
int query_parse(struct query *q, const char *raw, size_t len);
/* First value of key, or NULL. */
const char *query_get(const struct query *q, const char *key);
size_t query_count(const struct query *q, const char *key);
/* Replaces the first value of key (dropping later duplicates) or appends it. */
int query_set(struct query *q, const char *key, const char *value);
void query_remove(struct query *q, const char *key);
/* Encodes every pair except "checksum", RFC 3986 unreserved characters kept. */
int query_encode(const struct query *q, struct buf *out);
int query_escape(struct buf *out, const char *s);
/* The value of a hex digit, or -1. */
int query_hexval(int c);
/* Decodes one component into out. */
int query_unescape(struct buf *out, const char *s, size_t len);

/* Raw (still encoded) pairs of a query string without decoding, for checksum work. */
size_t query_raw_count(const char *raw, size_t len, const char *key);
/* Finds the first raw pair with this key: its value and the span of the whole pair. */
int query_raw_find(const char *raw, size_t len, const char *key,
		   const char **val, size_t *vlen, size_t *pair_start, size_t *pair_end);

#endif

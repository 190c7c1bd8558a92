/* gzip.h: gzip encoding (zlib) for large answers that many callers fetch, and the
 * Accept-Encoding test that decides who gets it. */
#ifndef B3S_GZIP_H
#define B3S_GZIP_H

#include <stddef.h>

#include "buf.h"

/* Appends the gzip encoding of in to out; 0 or a negative errno. */
int gzip_encode(const char *in, size_t len, struct buf *out);
/* 1 when an Accept-Encoding header value (NULL: none) accepts gzip: it names gzip (or x-gzip,
 * or *) without q=0. */
int gzip_accepted(const char *accept_encoding);

#endif

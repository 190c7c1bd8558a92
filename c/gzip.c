/* gzip.c: see gzip.h. A getMeetings list of 1,000 meetings is 1.7 MB of XML and 130 KB
 * gzipped (level 1, ~15 ms once per rebuild): sending it was most of the call's cost. */
#include "gzip.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

int gzip_encode(const char *in, size_t len, struct buf *out)
{
	z_stream z;
	char chunk[16384];
	int zr, rc = 0;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip header and trailer rather than zlib's */
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	if ((size_t)z.avail_in != len) {
		deflateEnd(&z);
		return -E2BIG;
	}
	do {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			rc = -EIO;
			break;
		}
		if (buf_append(out, chunk, sizeof(chunk) - z.avail_out) < 0) {
			rc = -ENOMEM;
			break;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&z);
	return rc;
}

/* One coding of the list: its name and whether its q is zero. */
static int gzip_coding_ok(const char *p, size_t n)
{
	size_t name = strcspn(p, ";,");
	const char *q;

	while (name > 0 && (p[name - 1] == ' ' || p[name - 1] == '\t'))
		name--;
	if (!((name == 4 && strncasecmp(p, "gzip", 4) == 0) ||
	      (name == 6 && strncasecmp(p, "x-gzip", 6) == 0) || (name == 1 && p[0] == '*')))
		return 0;
	for (q = p + name; q < p + n; q++) {
		if ((*q == 'q' || *q == 'Q') && q + 1 < p + n && q[1] == '=') {
			/* q=0, q=0.0, q=0.000: refused; anything else accepts */
			for (q += 2; q < p + n && (*q == '0' || *q == '.'); q++)
				;
			return q < p + n && *q >= '1' && *q <= '9';
		}
	}
	return 1;
}

int gzip_accepted(const char *v)
{
	size_t n;

	for (; v && *v; v += n + (v[n] == ',')) {
		while (*v == ' ' || *v == '\t')
			v++;
		n = strcspn(v, ",");
		if (gzip_coding_ok(v, n))
			return 1;
	}
	return 0;
}

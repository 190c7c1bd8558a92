/* rec_vtt.c: see rec_vtt.h. Both parsers walk a buffer they are given with explicit
 * bounds: nothing here assumes a NUL terminator inside the body. */
#include "rec_vtt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define REC_VTT_MAX_PARTS 32     /* a client sends one file and perhaps a field or two */
#define REC_VTT_MAX_HEADERS 4096 /* the header block of one part */
#define REC_VTT_MAX_BOUNDARY 70  /* RFC 2046 */

/* 1 when the bytes at p (before end) begin with s. */
static int rec_vtt_at(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

/* The boundary parameter of a multipart/form-data content type. */
static int rec_vtt_boundary(const char *ct, char *out, size_t outcap)
{
	const char *p;
	size_t n;

	if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
		return -ENOENT;
	for (p = ct + 19; (p = strchr(p, ';'));) {
		p++;
		p += strspn(p, " \t");
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		if (*p == '"') {
			n = strcspn(++p, "\"");
			if (p[n] != '"')
				return -EINVAL;
		} else {
			n = strcspn(p, "; \t");
		}
		if (n == 0 || n > REC_VTT_MAX_BOUNDARY || n >= outcap)
			return -EINVAL;
		memcpy(out, p, n);
		out[n] = '\0';
		return 0;
	}
	return -EINVAL;
}

/* 1 when the header block of a part (hdr, NUL-terminated) names the form field want in
 * its Content-Disposition (name="file", never filename=). */
static int rec_vtt_part_named(const char *hdr, const char *want)
{
	const char *line, *p;
	size_t n, wl = strlen(want);

	for (line = hdr; *line; line += strcspn(line, "\n"), line += *line == '\n') {
		if (strncasecmp(line, "Content-Disposition:", 20) != 0)
			continue;
		p = line + 20;
		while ((p = strchr(p, ';')) && p < line + strcspn(line, "\r\n")) {
			p++;
			p += strspn(p, " \t");
			if (strncasecmp(p, "name=", 5) != 0)
				continue;
			p += 5;
			if (*p == '"')
				n = strcspn(++p, "\"\r\n");
			else
				n = strcspn(p, "; \t\r\n");
			return n == wl && memcmp(p, want, wl) == 0;
		}
		return 0;
	}
	return 0;
}

int rec_vtt_multipart_file(const char *content_type, const char *body, size_t len,
			   const char **data, size_t *dlen)
{
	char boundary[REC_VTT_MAX_BOUNDARY + 1], delim[REC_VTT_MAX_BOUNDARY + 5];
	char hdr[REC_VTT_MAX_HEADERS + 1];
	const char *p, *end = body + len, *content, *next, *h;
	size_t dl, hl;
	int parts, rc;

	rc = rec_vtt_boundary(content_type, boundary, sizeof(boundary));
	if (rc < 0)
		return rc;
	dl = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	/* the first delimiter may open the body, without the CRLF of the others */
	if (rec_vtt_at(body, end, delim + 2)) {
		p = body + dl - 2;
	} else {
		p = memmem(body, len, delim, dl);
		if (!p)
			return -EINVAL;
		p += dl;
	}
	for (parts = 0; parts < REC_VTT_MAX_PARTS; parts++) {
		/* after a delimiter: "--" closes the body, else padding and a CRLF */
		if (rec_vtt_at(p, end, "--"))
			return -ENOENT;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (!rec_vtt_at(p, end, "\r\n"))
			return -EINVAL;
		p += 2;
		if (rec_vtt_at(p, end, "\r\n")) { /* no headers at all */
			hl = 0;
			content = p + 2;
		} else {
			h = memmem(p, (size_t)(end - p) < REC_VTT_MAX_HEADERS + 4
					      ? (size_t)(end - p) : REC_VTT_MAX_HEADERS + 4,
				   "\r\n\r\n", 4);
			if (!h || (size_t)(h - p) > REC_VTT_MAX_HEADERS)
				return -EINVAL;
			hl = (size_t)(h - p);
			content = h + 4;
		}
		memcpy(hdr, p, hl);
		hdr[hl] = '\0';
		next = memmem(content, (size_t)(end - content), delim, dl);
		if (!next)
			return -EINVAL;
		if (rec_vtt_part_named(hdr, "file")) {
			if ((size_t)(next - content) > REC_VTT_MAX_FILE)
				return -E2BIG;
			*data = content;
			*dlen = (size_t)(next - content);
			return 0;
		}
		p = next + dl;
	}
	return -EINVAL;
}

int rec_vtt_utf8_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	unsigned cp;
	int n, i;

	while (p < end) {
		if (*p == 0)
			return 0;
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0)
			n = 1, cp = *p & 0x1f;
		else if ((*p & 0xf0) == 0xe0)
			n = 2, cp = *p & 0x0f;
		else if ((*p & 0xf8) == 0xf0)
			n = 3, cp = *p & 0x07;
		else
			return 0;
		if (end - p <= n)
			return 0;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* overlong forms, surrogates and what lies past U+10FFFF */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		p += n + 1;
	}
	return 1;
}

/* The line at *p (without its CR, LF or CRLF end); *p moves past it. */
static size_t rec_vtt_line(const char **p, const char *end, const char **line)
{
	const char *s = *p, *e = s;

	while (e < end && *e != '\n' && *e != '\r')
		e++;
	*line = s;
	*p = e;
	if (*p < end && **p == '\r')
		(*p)++;
	if (*p < end && **p == '\n')
		(*p)++;
	return (size_t)(e - s);
}

/* n decimal digits at *p (between min and max of them) as a number; -1 when not there. */
static long rec_vtt_digits(const char **p, const char *end, int min, int max)
{
	long v = 0;
	int n = 0;

	while (*p < end && n < max && **p >= '0' && **p <= '9') {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n >= min ? v : -1;
}

/* One SRT time (h:mm:ss,mmm, also with '.' or fewer fraction digits) at *p, appended to out
 * as WebVTT's hh:mm:ss.mmm. */
static int rec_vtt_time(const char **p, const char *end, struct buf *out)
{
	long h, m, s, f;
	const char *fs;
	int nd;

	h = rec_vtt_digits(p, end, 1, 3);
	if (h < 0 || *p >= end || **p != ':')
		return -EINVAL;
	(*p)++;
	m = rec_vtt_digits(p, end, 2, 2);
	if (m < 0 || m > 59 || *p >= end || **p != ':')
		return -EINVAL;
	(*p)++;
	s = rec_vtt_digits(p, end, 2, 2);
	if (s < 0 || s > 59 || *p >= end || (**p != ',' && **p != '.'))
		return -EINVAL;
	fs = ++(*p);
	f = rec_vtt_digits(p, end, 1, 3);
	if (f < 0)
		return -EINVAL;
	/* a fraction of a second: ",5" is 500 ms */
	for (nd = (int)(*p - fs); nd < 3; nd++)
		f *= 10;
	buf_printf(out, "%02ld:%02ld:%02ld.%03ld", h, m, s, f);
	return 0;
}

/* Drops what was appended to out after length at. */
static void rec_vtt_cut(struct buf *out, size_t at)
{
	out->len = at;
	if (out->data)
		out->data[at] = '\0';
}

/* An SRT timing line "start --> end [coordinates]" as WebVTT's (the coordinates, which
 * WebVTT does not know, are dropped). */
static int rec_vtt_timing(const char *line, size_t n, struct buf *out)
{
	const char *p = line, *end = line + n;
	size_t at = out->len;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (rec_vtt_time(&p, end, out) < 0)
		goto bad;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (!rec_vtt_at(p, end, "-->"))
		goto bad;
	p += 3;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	buf_puts(out, " --> ");
	if (rec_vtt_time(&p, end, out) < 0)
		goto bad;
	if (p < end && *p != ' ' && *p != '\t')
		goto bad;
	buf_puts(out, "\n");
	return 0;
bad:
	rec_vtt_cut(out, at); /* nothing of a line that is no timing stays behind */
	return -EINVAL;
}

/* A line of cue text; "-->" may not stand in WebVTT cue text, its escaped form may. */
static void rec_vtt_text(const char *line, size_t n, struct buf *out)
{
	const char *p = line, *end = line + n, *arrow;

	while ((arrow = memmem(p, (size_t)(end - p), "-->", 3))) {
		buf_append(out, p, (size_t)(arrow - p));
		buf_puts(out, "--&gt;");
		p = arrow + 3;
	}
	buf_append(out, p, (size_t)(end - p));
	buf_puts(out, "\n");
}

/* 1 for a line of spaces and tabs only (or none): what ends a cue. */
static int rec_vtt_blank(const char *line, size_t n)
{
	size_t i;

	for (i = 0; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i == n;
}

static int rec_vtt_is_index(const char *line, size_t n)
{
	size_t i;

	for (i = 0; i < n && line[i] >= '0' && line[i] <= '9'; i++)
		;
	return n > 0 && i == n;
}

static int rec_vtt_from_srt(const char *p, const char *end, struct buf *out)
{
	const char *line;
	size_t n;
	int cues = 0;

	buf_puts(out, "WEBVTT\n");
	while (p < end) {
		n = rec_vtt_line(&p, end, &line);
		if (rec_vtt_blank(line, n))
			continue; /* blank lines between cues, however many */
		buf_puts(out, "\n");
		if (rec_vtt_is_index(line, n)) { /* the cue number: WebVTT's cue identifier */
			buf_append(out, line, n);
			buf_puts(out, "\n");
			if (p >= end)
				return -EINVAL;
			n = rec_vtt_line(&p, end, &line);
		}
		if (rec_vtt_timing(line, n, out) < 0)
			return -EINVAL;
		cues++;
		while (p < end) {
			n = rec_vtt_line(&p, end, &line);
			if (rec_vtt_blank(line, n))
				break;
			rec_vtt_text(line, n, out);
		}
	}
	return cues > 0 ? 0 : -EINVAL;
}

int rec_vtt_convert(const char *in, size_t len, struct buf *out)
{
	const char *p = in, *end = in + len, *line;
	size_t n, at = out->len;
	int rc;

	if (rec_vtt_at(p, end, "\xef\xbb\xbf")) /* a byte order mark */
		p += 3;
	if (!rec_vtt_utf8_ok(p, (size_t)(end - p)))
		return -EINVAL;
	/* WebVTT: "WEBVTT" alone on its line or followed by a space or tab */
	if (rec_vtt_at(p, end, "WEBVTT") &&
	    (end - p == 6 || strchr(" \t\r\n", p[6]))) {
		while (p < end) {
			n = rec_vtt_line(&p, end, &line);
			buf_append(out, line, n);
			buf_puts(out, "\n");
		}
		return out->oom ? -ENOMEM : 0;
	}
	rc = rec_vtt_from_srt(p, end, out);
	if (rc == 0 && out->oom)
		rc = -ENOMEM;
	if (rc < 0)
		rec_vtt_cut(out, at);
	return rc;
}

/* query.c: query string parsing and encoding; checksums need the raw form, proxies the decoded. */
#include "query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void query_init(struct query *q)
{
	q->v = NULL;
	q->n = 0;
	q->cap = 0;
}

void query_free(struct query *q)
{
	size_t i;

	if (!q)
		return;
	for (i = 0; i < q->n; i++) {
		free(q->v[i].key);
		free(q->v[i].value);
	}
	free(q->v);
	query_init(q);
}

int query_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int query_unescape(struct buf *out, const char *s, size_t len)
{
	size_t i;
	char c;

	for (i = 0; i < len; i++) {
		c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < len &&
			   query_hexval((unsigned char)s[i + 1]) >= 0 && query_hexval((unsigned char)s[i + 2]) >= 0) {
			c = (char)(query_hexval((unsigned char)s[i + 1]) * 16 + query_hexval((unsigned char)s[i + 2]));
			i += 2;
		}
		if (buf_append(out, &c, 1) < 0)
			return -ENOMEM;
	}
	if (!out->data && buf_append(out, "", 0) < 0)
		return -ENOMEM;
	return 0;
}

static int query_push(struct query *q, char *key, char *value)
{
	struct query_param *v;
	size_t cap;

	if (q->n == q->cap) {
		cap = q->cap ? q->cap * 2 : 16;
		v = realloc(q->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n].key = key;
	q->v[q->n].value = value;
	q->n++;
	return 0;
}

int query_parse(struct query *q, const char *raw, size_t len)
{
	size_t start = 0, end, eq;
	struct buf k, v;
	int rc = 0;

	buf_init(&k);
	buf_init(&v);
	while (start <= len && len > 0) {
		end = start;
		while (end < len && raw[end] != '&')
			end++;
		if (end > start) {
			if (q->n >= QUERY_MAX_PARAMS) {
				rc = -E2BIG;
				goto out;
			}
			eq = start;
			while (eq < end && raw[eq] != '=')
				eq++;
			rc = query_unescape(&k, raw + start, eq - start);
			if (rc == 0)
				rc = query_unescape(&v, eq < end ? raw + eq + 1 : "",
						    eq < end ? end - eq - 1 : 0);
			if (rc == 0)
				rc = query_push(q, buf_take(&k, NULL), buf_take(&v, NULL));
			if (rc < 0)
				goto out;
		}
		start = end + 1;
	}
out:
	buf_free(&k);
	buf_free(&v);
	return rc;
}

const char *query_get(const struct query *q, const char *key)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->v[i].key, key) == 0)
			return q->v[i].value;
	return NULL;
}

size_t query_count(const struct query *q, const char *key)
{
	size_t i, c = 0;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->v[i].key, key) == 0)
			c++;
	return c;
}

/* One pass: drops every pair with key, except the first when keep_first. Linear, so a
 * request full of duplicates costs no more than its length. */
static void query_compact(struct query *q, const char *key, int keep_first)
{
	size_t r, w = 0;
	int seen = 0;

	for (r = 0; r < q->n; r++) {
		if (strcmp(q->v[r].key, key) == 0 && (!keep_first || seen++)) {
			free(q->v[r].key);
			free(q->v[r].value);
			continue;
		}
		q->v[w++] = q->v[r];
	}
	q->n = w;
}

void query_remove(struct query *q, const char *key)
{
	query_compact(q, key, 0);
}

int query_set(struct query *q, const char *key, const char *value)
{
	size_t i;
	char *nv, *nk;

	for (i = 0; i < q->n; i++) {
		if (strcmp(q->v[i].key, key) != 0)
			continue;
		nv = strdup(value);
		if (!nv)
			return -ENOMEM;
		free(q->v[i].value);
		q->v[i].value = nv;
		/* drop later duplicates so the backend sees exactly one value */
		query_compact(q, key, 1);
		return 0;
	}
	nk = strdup(key);
	nv = strdup(value);
	if (!nk || !nv || query_push(q, nk, nv) < 0) {
		free(nk);
		free(nv);
		return -ENOMEM;
	}
	return 0;
}

int query_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char e[3];

	for (p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			if (buf_append(out, (const char *)p, 1) < 0)
				return -ENOMEM;
			continue;
		}
		e[0] = '%';
		e[1] = hex[*p >> 4];
		e[2] = hex[*p & 15];
		if (buf_append(out, e, 3) < 0)
			return -ENOMEM;
	}
	return 0;
}

int query_encode(const struct query *q, struct buf *out)
{
	size_t i;
	int first = 1;

	if (buf_append(out, "", 0) < 0)
		return -ENOMEM;
	for (i = 0; i < q->n; i++) {
		if (strcmp(q->v[i].key, "checksum") == 0)
			continue;
		if (!first && buf_append(out, "&", 1) < 0)
			return -ENOMEM;
		first = 0;
		if (query_escape(out, q->v[i].key) < 0 || buf_append(out, "=", 1) < 0 ||
		    query_escape(out, q->v[i].value) < 0)
			return -ENOMEM;
	}
	return out->oom ? -ENOMEM : 0;
}

int query_raw_find(const char *raw, size_t len, const char *key,
		   const char **val, size_t *vlen, size_t *pair_start, size_t *pair_end)
{
	size_t start = 0, end, klen = strlen(key);

	while (start < len) {
		end = start;
		while (end < len && raw[end] != '&')
			end++;
		if (end - start >= klen + 1 && memcmp(raw + start, key, klen) == 0 &&
		    raw[start + klen] == '=') {
			if (val)
				*val = raw + start + klen + 1;
			if (vlen)
				*vlen = end - start - klen - 1;
			if (pair_start)
				*pair_start = start;
			if (pair_end)
				*pair_end = end;
			return 0;
		}
		start = end + 1;
	}
	return -ENOENT;
}

size_t query_raw_count(const char *raw, size_t len, const char *key)
{
	size_t start = 0, end, pe, n = 0;

	while (start < len && query_raw_find(raw + start, len - start, key, NULL, NULL, NULL, &pe) == 0) {
		n++;
		end = start + pe;
		start = end + 1;
	}
	return n;
}

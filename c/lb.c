/* lb.c: helpers for the domain records. */
#include "lb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void lb_frontend_clear(struct lb_frontend *f)
{
	if (!f)
		return;
	free(f->secret);
	free(f->previous_secret);
	free(f->settings);
	free(f->required_tags);
	memset(f, 0, sizeof(*f));
}

void lb_backend_clear(struct lb_backend *b)
{
	if (!b)
		return;
	free(b->host);
	free(b->secret);
	free(b->tags);
	memset(b, 0, sizeof(*b));
}

static int lb_dup(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return src && !*dst ? -1 : 0;
}

int lb_backend_copy(struct lb_backend *dst, const struct lb_backend *src)
{
	*dst = *src;
	if (lb_dup(&dst->host, src->host) | lb_dup(&dst->secret, src->secret) |
	    lb_dup(&dst->tags, src->tags)) {
		lb_backend_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

void lb_backend_list_clear(struct lb_backend_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		lb_backend_clear(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->gen = 0;
}

void lb_meeting_clear(struct lb_meeting *m)
{
	if (!m)
		return;
	free(m->backend_meeting_id);
	lb_backend_clear(&m->backend);
	memset(m, 0, sizeof(*m));
}

int lb_backend_reachable(const struct lb_backend *b)
{
	/* admin states only stop new placements: draining nodes keep serving their meetings */
	return strcmp(b->node_state, "unavailable") != 0;
}

int lb_backend_has_tag(const struct lb_backend *b, const char *tag)
{
	size_t tl = strlen(tag);
	const char *p = b->tags;

	if (!p || !tl)
		return tl == 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == tl && strncmp(p, tag, tl) == 0)
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

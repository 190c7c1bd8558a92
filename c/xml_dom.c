/* xml_dom.c: expat into a tree and back. Mixed content is not needed for BBB and not kept. */
#include "xml_dom.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

struct xml_dom_ctx {
	XML_Parser p;
	struct xml_node *root;
	struct xml_node *cur;
	int oom;
	int depth;
	size_t elements;
	const char *refused; /* why the document was stopped, NULL when it was not */
};

#define XML_DOM_MAX_DEPTH 64
/* a full node's getMeetings (hundreds of meetings, thousands of attendees) stays far below;
 * each element costs about 100 bytes of malloc, so this also bounds memory */
#define XML_DOM_MAX_ELEMENTS 1000000
/* documents are at most this large (B3SCALE answers and bodies are far smaller) */
#define XML_DOM_MAX_BYTES (32u << 20)

/* Stops the parser: the document is refused with this reason. */
static void xml_dom_refuse(struct xml_dom_ctx *c, const char *why)
{
	if (!c->refused)
		c->refused = why;
	c->oom = 1;
	XML_StopParser(c->p, XML_FALSE);
}

/* BBB never sends a DTD; one could only serve entity expansion (billion laughs) */
static void xml_dom_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	xml_dom_refuse(ud, "a DOCTYPE is not accepted");
}

/* A detached element: the node and its name in one allocation (parses make many), attrs
 * only when it has some. */
static struct xml_node *xml_dom_new(const char *name, size_t nattrs)
{
	size_t nl = strlen(name) + 1;
	struct xml_node *n = calloc(1, sizeof(*n) + nl);

	if (!n)
		return NULL;
	buf_init(&n->text);
	n->name = (char *)(n + 1);
	memcpy(n->name, name, nl);
	if (nattrs && !(n->attrs = calloc(nattrs + 1, sizeof(char *)))) {
		free(n);
		return NULL;
	}
	return n;
}

static void xml_dom_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_dom_ctx *c = ud;
	struct xml_node *n;
	size_t na = 0, i;

	if (c->oom)
		return;
	if (++c->depth > XML_DOM_MAX_DEPTH) {
		xml_dom_refuse(c, "XML nested too deep");
		return;
	}
	if (++c->elements > XML_DOM_MAX_ELEMENTS) {
		xml_dom_refuse(c, "XML has too many elements");
		return;
	}
	while (attrs[na])
		na++;
	n = xml_dom_new(name, na);
	if (!n) {
		c->oom = 1;
		return;
	}
	for (i = 0; i < na; i++) {
		n->attrs[i] = strdup(attrs[i]);
		if (!n->attrs[i]) {
			c->oom = 1;
			xml_dom_free(n);
			return;
		}
	}
	if (c->cur)
		xml_dom_append(c->cur, n);
	else if (!c->root)
		c->root = n;
	c->cur = n;
}

static void xml_dom_end(void *ud, const XML_Char *name)
{
	struct xml_dom_ctx *c = ud;

	(void)name;
	c->depth--;
	if (!c->oom && c->cur)
		c->cur = c->cur->parent;
}

static void xml_dom_chars(void *ud, const XML_Char *s, int len)
{
	struct xml_dom_ctx *c = ud;

	if (c->oom || !c->cur)
		return;
	if (buf_append(&c->cur->text, s, (size_t)len) < 0)
		c->oom = 1;
}

int xml_dom_parse(const char *data, size_t len, struct xml_node **root, char *err, size_t errlen)
{
	struct xml_dom_ctx c = { 0 };
	XML_Parser p;
	int rc = 0;

	*root = NULL;
	if (len > XML_DOM_MAX_BYTES) {
		snprintf(err, errlen, "XML document too large (%zu bytes)", len);
		return -EFBIG;
	}
	p = XML_ParserCreate("UTF-8");
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c.p = p;
	XML_SetUserData(p, &c);
	XML_SetElementHandler(p, xml_dom_start, xml_dom_end);
	XML_SetCharacterDataHandler(p, xml_dom_chars);
	XML_SetStartDoctypeDeclHandler(p, xml_dom_doctype);
	if (XML_Parse(p, data, (int)len, 1) == XML_STATUS_ERROR && !c.refused) {
		snprintf(err, errlen, "invalid XML at line %lu: %s",
			 (unsigned long)XML_GetCurrentLineNumber(p), XML_ErrorString(XML_GetErrorCode(p)));
		rc = -EINVAL;
	} else if (c.refused) {
		snprintf(err, errlen, "%s", c.refused);
		rc = -EINVAL;
	} else if (c.oom || !c.root) {
		snprintf(err, errlen, c.oom ? "out of memory" : "empty XML document");
		rc = c.oom ? -ENOMEM : -EINVAL;
	}
	XML_ParserFree(p);
	if (rc < 0) {
		xml_dom_free(c.root);
		return rc;
	}
	*root = c.root;
	return 0;
}

void xml_dom_free(struct xml_node *n)
{
	struct xml_node *ch, *nx;
	size_t i;

	if (!n)
		return;
	for (ch = n->first; ch; ch = nx) {
		nx = ch->next;
		xml_dom_free(ch);
	}
	if (n->attrs)
		for (i = 0; n->attrs[i]; i++)
			free(n->attrs[i]);
	free(n->attrs);
	buf_free(&n->text);
	free(n); /* the name is part of it */
}

struct xml_node *xml_dom_child(const struct xml_node *n, const char *name)
{
	struct xml_node *ch;

	for (ch = n ? n->first : NULL; ch; ch = ch->next)
		if (strcmp(ch->name, name) == 0)
			return ch;
	return NULL;
}

static int xml_dom_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Trims in place: BBB pretty-prints, and ids must compare exactly. */
static void xml_dom_trim(struct buf *b)
{
	size_t s = 0;

	if (!b->data)
		return;
	while (b->len && xml_dom_is_space(b->data[b->len - 1]))
		b->data[--b->len] = '\0';
	while (s < b->len && xml_dom_is_space(b->data[s]))
		s++;
	if (s) {
		memmove(b->data, b->data + s, b->len - s + 1);
		b->len -= s;
	}
}

const char *xml_dom_text(struct xml_node *n)
{
	xml_dom_trim(&n->text);
	return buf_str(&n->text);
}

const char *xml_dom_child_text(const struct xml_node *n, const char *name)
{
	struct xml_node *ch = xml_dom_child(n, name);

	return ch ? xml_dom_text(ch) : NULL;
}

int xml_dom_set_text(struct xml_node *n, const char *text)
{
	buf_reset(&n->text);
	return buf_puts(&n->text, text) < 0 ? -ENOMEM : 0;
}

int xml_dom_set_child_text(struct xml_node *n, const char *name, const char *text)
{
	struct xml_node *ch = xml_dom_child(n, name);

	if (!ch) {
		ch = xml_dom_new(name, 0);
		if (!ch)
			return -ENOMEM;
		xml_dom_append(n, ch);
	}
	return xml_dom_set_text(ch, text);
}

void xml_dom_unlink(struct xml_node *child)
{
	struct xml_node *p = child->parent, *prev = NULL, *it;

	if (!p)
		return;
	for (it = p->first; it && it != child; it = it->next)
		prev = it;
	if (!it)
		return;
	if (prev)
		prev->next = child->next;
	else
		p->first = child->next;
	if (p->last == child)
		p->last = prev;
	child->next = NULL;
	child->parent = NULL;
}

void xml_dom_append(struct xml_node *parent, struct xml_node *child)
{
	child->parent = parent;
	child->next = NULL;
	if (parent->last)
		parent->last->next = child;
	else
		parent->first = child;
	parent->last = child;
}

int xml_dom_escape(struct buf *out, const char *s)
{
	const char *p, *rep;

	for (p = s; *p; p++) {
		size_t run = strcspn(p, "&<>\"'");
		if (run) { /* plain text in one append */
			if (buf_append(out, p, run) < 0)
				return -ENOMEM;
			p += run;
			if (!*p)
				break;
		}
		switch (*p) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		default:
			rep = NULL;
		}
		if (rep ? buf_puts(out, rep) < 0 : buf_append(out, p, 1) < 0)
			return -ENOMEM;
	}
	return 0;
}

int xml_dom_write(struct buf *out, const struct xml_node *n)
{
	const struct xml_node *ch;
	size_t i;

	buf_puts(out, "<");
	buf_puts(out, n->name);
	for (i = 0; n->attrs && n->attrs[i] && n->attrs[i + 1]; i += 2) {
		buf_puts(out, " ");
		buf_puts(out, n->attrs[i]);
		buf_puts(out, "=\"");
		xml_dom_escape(out, n->attrs[i + 1]);
		buf_puts(out, "\"");
	}
	if (!n->first && n->text.len == 0)
		return buf_puts(out, "/>") < 0 ? -ENOMEM : 0;
	buf_puts(out, ">");
	if (n->first) {
		for (ch = n->first; ch; ch = ch->next)
			xml_dom_write(out, ch);
	} else {
		xml_dom_escape(out, buf_str(&n->text));
	}
	buf_puts(out, "</");
	buf_puts(out, n->name);
	buf_puts(out, ">");
	return out->oom ? -ENOMEM : 0;
}

/* xml_dom.h: a small XML tree (expat-parsed) for reading and rewriting BBB answers. */
#ifndef B3S_XML_DOM_H
#define B3S_XML_DOM_H

#include <stddef.h>

#include "buf.h"

struct xml_node {
	char *name;
	char **attrs;            /* NULL-terminated key, value, ...; NULL when there are none */
	struct buf text;         /* character data directly inside this element */
	struct xml_node *parent;
	struct xml_node *first;  /* first child */
	struct xml_node *last;
	struct xml_node *next;   /* next sibling */
};

/* Parses a whole document; the caller frees *root with xml_dom_free. */
int xml_dom_parse(const char *data, size_t len, struct xml_node **root, char *err, size_t errlen);
void xml_dom_free(struct xml_node *n);
struct xml_node *xml_dom_child(const struct xml_node *n, const char *name);
/* Text of the named child with surrounding whitespace trimmed, or NULL when absent. */
const char *xml_dom_child_text(const struct xml_node *n, const char *name);
/* The element's own text, trimmed in place. */
const char *xml_dom_text(struct xml_node *n);
/* Replaces the element's text. */
int xml_dom_set_text(struct xml_node *n, const char *text);
/* Replaces the text of n's child called name, appending that child when n has none. */
int xml_dom_set_child_text(struct xml_node *n, const char *name, const char *text);
/* Detaches child from its parent (the caller owns it afterwards). */
void xml_dom_unlink(struct xml_node *child);
void xml_dom_append(struct xml_node *parent, struct xml_node *child);
/* Serialises n and its subtree (no XML declaration). */
int xml_dom_write(struct buf *out, const struct xml_node *n);
int xml_dom_escape(struct buf *out, const char *s);

#endif

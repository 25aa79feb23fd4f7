/* SPDX-License-Identifier: MIT */
/*
 * Layout of the XML tree, shared by xml.c (DOM, parser) and xml_write.c
 * (writer) only.  Everyone else uses the accessors in xml.h.
 */
#ifndef INVITES_XML_PRIVATE_H
#define INVITES_XML_PRIVATE_H

#include <stddef.h>

#include "xml.h"

/* One attribute; ns, name and value live in one block, mem. */
struct inv__xml_attr {
	char *ns;    /* "" when unqualified */
	char *name;
	char *value;
	char *mem;
};

/*
 * A node: an element, or a text run among an element's children.  A run
 * holds no bytes itself: it is the range [off, off + len) of its parent's
 * text, which is all the element's text runs concatenated in order.
 * Adjacent runs are always merged, and a run is never empty.
 */
struct inv__xml {
	struct inv__xml *parent;
	struct inv__xml *prev, *next;   /* siblings, runs included */
	struct inv__xml *first, *last;  /* children, runs included */
	int is_text;
	size_t off, len;                /* a run: its bytes in parent->text */
	/* An element: */
	char *ns;                       /* "" for no namespace; in mem */
	char *name;                     /* local name; in mem */
	struct inv__xml_attr *attrs;
	size_t n_attrs, cap_attrs;
	char *text;                     /* NULL, or text_len bytes + NUL */
	size_t text_len, text_cap;
	char mem[];                     /* ns NUL name NUL */
};

/* Memory charged to one parse (expat's blocks and the tree). */
struct inv__xml_budget {
	size_t used;
	size_t max;
	int exceeded;
};

/*
 * The module's allocator: inv__malloc / inv__realloc, plus the test
 * injection of inv__xml_test_fail_after() and the budget of the parse in
 * progress.  Free with free().
 */
void *inv__xml_alloc(size_t n);
void *inv__xml_realloc(void *p, size_t old, size_t n);

/* Unchecked helpers: the caller has validated characters and names. */
int inv__xml_append_text(struct inv__xml *e, const char *text, size_t len);
int inv__xml_put_attr(struct inv__xml *e, const char *ns, size_t nslen,
                      const char *name, size_t namelen, const char *value,
                      size_t vlen);

#endif /* INVITES_XML_PRIVATE_H */

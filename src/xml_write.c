/* SPDX-License-Identifier: MIT */
/*
 * The XML writer: serialises a tree from xml.c into a string a host can
 * send on an XMPP stream.  It escapes so that every string reads back
 * unchanged (including carriage returns and attribute whitespace, which a
 * parser would otherwise normalise), declares namespaces only where they
 * change, writes the stream namespace with its customary `stream` prefix
 * and can leave out the stream's own default namespace on the top element.
 * The tree's strings were checked when they entered it (parser or
 * builders), so the writer only escapes.  It walks the tree without
 * recursion, so a deep tree built by code cannot exhaust the stack.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xml.h"
#include "xml_private.h"

struct wbuf {
	char *p;
	size_t len;
	size_t cap;
	int oom;
};

static void
put(struct wbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (n >= b->cap - b->len || b->p == NULL) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap - b->len <= n) {
			if (cap > SIZE_MAX / 2) {
				b->oom = 1;
				return;
			}
			cap *= 2;
		}
		p = inv__xml_realloc(b->p, b->cap, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
puts_(struct wbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Text content: & < > and carriage return (which parsers turn into \n). */
static void
put_text(struct wbuf *b, const char *s, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		const char *rep;

		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '\r': rep = "&#13;"; break;
		default: continue;
		}
		put(b, s + start, i - start);
		puts_(b, rep);
		start = i + 1;
	}
	put(b, s + start, n - start);
}

/* An attribute value in single quotes, quotes and whitespace escaped. */
static void
put_attr(struct wbuf *b, const char *prefix, const char *name,
         const char *value)
{
	size_t i, start = 0;

	puts_(b, " ");
	if (prefix != NULL) {
		puts_(b, prefix);
		puts_(b, ":");
	}
	puts_(b, name);
	puts_(b, "='");
	for (i = 0; value[i] != '\0'; i++) {
		const char *rep;

		switch (value[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		case '\t': rep = "&#9;"; break;
		case '\n': rep = "&#10;"; break;
		case '\r': rep = "&#13;"; break;
		default: continue;
		}
		put(b, value + start, i - start);
		puts_(b, rep);
		start = i + 1;
	}
	put(b, value + start, i - start);
	puts_(b, "'");
}

static int
is_stream(const struct inv__xml *e)
{
	return strcmp(e->ns, INV_XML_NS_STREAM) == 0;
}

/*
 * Elements written with a prefix: stream ones, and those in the xml
 * namespace (<xml:x/> is legal input, but that namespace can never be a
 * default one).  They do not change the default namespace in scope.
 */
static int
is_prefixed(const struct inv__xml *e)
{
	return is_stream(e) || strcmp(e->ns, INV_XML_NS_XML) == 0;
}

/*
 * The default namespace in scope at e: that of its nearest ancestor
 * within the written tree (prefixed elements do not set it), else the
 * context's.
 */
static const char *
scope_default(const struct inv__xml *e, const struct inv__xml *top,
              const char *ctx)
{
	while (e != top) {
		e = e->parent;
		if (!is_prefixed(e))
			return e->ns;
	}
	return ctx != NULL ? ctx : "";
}

/* 1 when the `stream` prefix is already declared above e. */
static int
stream_in_scope(const struct inv__xml *e, const struct inv__xml *top,
                const char *ctx)
{
	if (ctx != NULL)
		return 1;
	while (e != top) {
		e = e->parent;
		if (is_stream(e))
			return 1;
	}
	return 0;
}

/* 1 when attribute namespace ns needs a declared prefix. */
static int
needs_prefix(const char *ns)
{
	return ns[0] != '\0' && strcmp(ns, INV_XML_NS_XML) != 0;
}

/* 1 when attribute j is the first on e in its namespace. */
static int
first_of_ns(const struct inv__xml *e, size_t j)
{
	size_t m;

	for (m = 0; m < j; m++)
		if (strcmp(e->attrs[m].ns, e->attrs[j].ns) == 0)
			return 0;
	return 1;
}

/*
 * The prefix number of attribute i (which needs one): namespaces are
 * numbered 1, 2, ... in the order they first appear on e.
 */
static size_t
attr_prefix(const struct inv__xml *e, size_t i)
{
	size_t j, k = 0;

	for (j = 0; j <= i; j++) {
		if (!needs_prefix(e->attrs[j].ns) || !first_of_ns(e, j))
			continue;
		k++;
		if (strcmp(e->attrs[j].ns, e->attrs[i].ns) == 0)
			break;
	}
	return k;
}

static void
put_qname(struct wbuf *b, const struct inv__xml *e)
{
	if (is_stream(e))
		puts_(b, "stream:");
	else if (is_prefixed(e))
		puts_(b, "xml:");
	puts_(b, e->name);
}

static void
start_tag(struct wbuf *b, const struct inv__xml *e,
          const struct inv__xml *top, const char *ctx)
{
	size_t i;
	char pfx[32];

	puts_(b, "<");
	put_qname(b, e);
	if (is_stream(e)) {
		if (!stream_in_scope(e, top, ctx))
			put_attr(b, "xmlns", "stream", INV_XML_NS_STREAM);
	} else if (!is_prefixed(e) &&
	           strcmp(e->ns, scope_default(e, top, ctx)) != 0) {
		put_attr(b, NULL, "xmlns", e->ns);
	}
	/* Declare each attribute namespace once, on this element. */
	for (i = 0; i < e->n_attrs; i++) {
		if (!needs_prefix(e->attrs[i].ns) || !first_of_ns(e, i))
			continue;
		snprintf(pfx, sizeof(pfx), "ns%zu", attr_prefix(e, i));
		put_attr(b, "xmlns", pfx, e->attrs[i].ns);
	}
	for (i = 0; i < e->n_attrs; i++) {
		const struct inv__xml_attr *a = &e->attrs[i];

		if (a->ns[0] == '\0') {
			put_attr(b, NULL, a->name, a->value);
		} else if (!needs_prefix(a->ns)) {
			put_attr(b, "xml", a->name, a->value);
		} else {
			snprintf(pfx, sizeof(pfx), "ns%zu", attr_prefix(e, i));
			put_attr(b, pfx, a->name, a->value);
		}
	}
}

int
inv__xml_write(const struct inv__xml *e, const char *context_ns,
               char **out_r, size_t *len_r)
{
	struct wbuf b = { NULL, 0, 0, 0 };
	const struct inv__xml *n;

	if (out_r != NULL)
		*out_r = NULL;
	if (len_r != NULL)
		*len_r = 0;
	if (e == NULL || out_r == NULL || e->is_text)
		return INV_XML_EINVAL;
	if (context_ns != NULL &&
	    !inv__xml_valid_text(context_ns, strlen(context_ns)))
		return INV_XML_ECHAR;
	n = e;
	for (;;) {
		if (n->is_text) {
			put_text(&b, n->parent->text + n->off, n->len);
		} else {
			start_tag(&b, n, e, context_ns);
			if (n->first != NULL) {
				puts_(&b, ">");
				n = n->first;
				continue;
			}
			puts_(&b, "/>");
		}
		while (n != e && n->next == NULL) {
			n = n->parent;
			puts_(&b, "</");
			put_qname(&b, n);
			puts_(&b, ">");
		}
		if (n == e)
			break;
		n = n->next;
	}
	if (b.oom) {
		free(b.p);
		return INV_XML_ENOMEM;
	}
	*out_r = b.p;
	if (len_r != NULL)
		*len_r = b.len;
	return INV_XML_OK;
}

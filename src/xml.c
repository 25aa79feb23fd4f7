/* SPDX-License-Identifier: MIT */
/*
 * The XML layer: a bounded DOM for XMPP stanzas built with libexpat, its
 * accessors and builders, and the error mapping.  The writer lives in
 * xml_write.c.
 *
 * Parsing wraps the input in a synthetic parent element that declares the
 * caller's default namespace and the `stream` prefix, as an XMPP stream
 * would, and lets expat resolve namespaces.  Every bound of struct
 * inv__xml_limits is checked in the callbacks before anything is
 * allocated; expat's own memory goes through a memory suite charged to the
 * same per-parser budget as the tree.  Expat's suite has no user pointer,
 * so the budget of the parser being driven is found through a thread-local
 * pointer set only for the duration of each call into expat (never a
 * process-wide one), and each block remembers its budget for free.
 *
 * Text of an element is kept once, concatenated, in the element; the
 * text runs among its children are ranges of that buffer, so reading the
 * text never allocates and detaching a child only merges two ranges.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "internal.h"
#include "xml.h"
#include "xml_private.h"

/* ------------------------------------------------------------------ */
/* Allocation: test injection and the parse budget                     */
/* ------------------------------------------------------------------ */

static _Thread_local long fail_after = -1;
static _Thread_local long alloc_count;
static _Thread_local struct inv__xml_budget *cur_budget;

long
inv__xml_test_fail_after(long n)
{
	long made = alloc_count;

	alloc_count = 0;
	fail_after = n < 0 ? -1 : n;
	return made;
}

/* 1 when the injected failure says no; counts the allocation otherwise. */
static int
inject_fail(void)
{
	if (fail_after == 0)
		return 1;
	if (fail_after > 0)
		fail_after--;
	alloc_count++;
	return 0;
}

/* Charge n bytes to the budget of the parse in progress, if any. */
static int
budget_charge(struct inv__xml_budget *b, size_t n)
{
	if (b == NULL)
		return 0;
	if (n > b->max || b->used > b->max - n) {
		b->exceeded = 1;
		return -1;
	}
	b->used += n;
	return 0;
}

void *
inv__xml_alloc(size_t n)
{
	if (budget_charge(cur_budget, n) < 0 || inject_fail())
		return NULL;
	return inv__malloc(n);
}

/* Grow p from old to n bytes (old is what the caller allocated). */
void *
inv__xml_realloc(void *p, size_t old, size_t n)
{
	if (budget_charge(cur_budget, n > old ? n - old : 0) < 0 ||
	    inject_fail())
		return NULL;
	return inv__realloc(p, n);
}

/*
 * Expat's memory suite.  Each block starts with a header naming its budget
 * and size, so that free and realloc credit the right parser.
 */
union mm_head {
	struct {
		struct inv__xml_budget *budget;
		size_t size;
	} h;
	max_align_t align;
};

static void *
mm_malloc(size_t n)
{
	union mm_head *h;
	struct inv__xml_budget *b = cur_budget;

	if (n > SIZE_MAX - sizeof(*h))
		return NULL;
	if (budget_charge(b, n) < 0)
		return NULL;
	if (inject_fail() || (h = malloc(sizeof(*h) + n)) == NULL) {
		if (b != NULL)
			b->used -= n;
		return NULL;
	}
	h->h.budget = b;
	h->h.size = n;
	return h + 1;
}

static void
mm_free(void *p)
{
	union mm_head *h;

	if (p == NULL)
		return;
	h = (union mm_head *)p - 1;
	if (h->h.budget != NULL)
		h->h.budget->used -= h->h.size;
	free(h);
}

static void *
mm_realloc(void *p, size_t n)
{
	union mm_head *h, *nh;
	struct inv__xml_budget *b;
	size_t old;

	if (p == NULL)
		return mm_malloc(n);
	h = (union mm_head *)p - 1;
	b = h->h.budget;
	old = h->h.size;
	if (n > SIZE_MAX - sizeof(*h))
		return NULL;
	if (n > old && budget_charge(b, n - old) < 0)
		return NULL;
	if (inject_fail() || (nh = realloc(h, sizeof(*h) + n)) == NULL) {
		if (b != NULL && n > old)
			b->used -= n - old;
		return NULL;
	}
	if (b != NULL && n < old)
		b->used -= old - n;
	nh->h.size = n;
	return nh + 1;
}

static const XML_Memory_Handling_Suite mm_suite = {
	mm_malloc, mm_realloc, mm_free
};

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

const char *
inv__xml_strerror(int err)
{
	switch (err) {
	case INV_XML_OK:
		return "success";
	case INV_XML_EINVAL:
		return "invalid argument";
	case INV_XML_ENOMEM:
		return "out of memory";
	case INV_XML_EMALFORMED:
		return "XML not well-formed";
	case INV_XML_ERESTRICTED:
		return "XML feature not allowed in XMPP (DTD, entity, processing instruction or comment)";
	case INV_XML_ETOOBIG:
		return "XML exceeds a size limit";
	case INV_XML_ETOODEEP:
		return "XML nested too deeply";
	case INV_XML_ECHAR:
		return "string not allowed in XML (bad UTF-8 or control character)";
	default:
		return "unknown XML error";
	}
}

const char *
inv__xml_err_condition(int err)
{
	switch (err) {
	case INV_XML_EMALFORMED:
	case INV_XML_ERESTRICTED:
		return "bad-request";
	case INV_XML_ETOOBIG:
	case INV_XML_ETOODEEP:
		return "policy-violation";
	case INV_XML_ENOMEM:
		return "resource-constraint";
	default:
		return "internal-server-error";
	}
}

const char *
inv__xml_err_type(int err)
{
	switch (err) {
	case INV_XML_EMALFORMED:
	case INV_XML_ERESTRICTED:
	case INV_XML_ETOOBIG:
	case INV_XML_ETOODEEP:
		return "modify";
	case INV_XML_ENOMEM:
	default:
		return "wait";
	}
}

const char *
inv__xml_err_stream_condition(int err)
{
	switch (err) {
	case INV_XML_EMALFORMED:
		return "not-well-formed";
	case INV_XML_ERESTRICTED:
		return "restricted-xml";
	case INV_XML_ETOOBIG:
	case INV_XML_ETOODEEP:
		return "policy-violation";
	case INV_XML_ENOMEM:
		return "resource-constraint";
	default:
		return "internal-server-error";
	}
}

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

void
inv__xml_limits_default(struct inv__xml_limits *lim)
{
	lim->max_input = 65536;
	lim->max_depth = 16;
	lim->max_elements = 512;
	lim->max_attrs = 32;
	lim->max_attr_len = 4096;
	lim->max_text = 16384;
	lim->max_name = 1024;
	lim->max_memory = 1048576;
}

/* ------------------------------------------------------------------ */
/* Character classes                                                   */
/* ------------------------------------------------------------------ */

/*
 * Decode one UTF-8 sequence at s[*i..len) strictly (no overlong forms, no
 * surrogates, nothing above U+10FFFF).  -1 when invalid.
 */
static int
utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp_r)
{
	size_t k = *i, n, j;
	uint32_t c = s[k], min;

	if (c < 0x80) {
		*cp_r = c;
		*i = k + 1;
		return 0;
	} else if (c >= 0xC2 && c <= 0xDF) {
		n = 1;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 2;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 3;
		c &= 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	if (len - k - 1 < n)
		return -1;
	for (j = 1; j <= n; j++) {
		if ((s[k + j] & 0xC0) != 0x80)
			return -1;
		c = (c << 6) | (s[k + j] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return -1;
	*cp_r = c;
	*i = k + n + 1;
	return 0;
}

/* XML 1.0 Char production. */
static int
xml_char(uint32_t c)
{
	return c == 0x9 || c == 0xA || c == 0xD ||
	       (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
	       (c >= 0x10000 && c <= 0x10FFFF);
}

int
inv__xml_valid_text(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	uint32_t c;

	if (s == NULL)
		return len == 0;
	while (i < len) {
		if (u[i] >= 0x20 && u[i] < 0x80) {
			i++;
			continue;
		}
		if (utf8_next(u, len, &i, &c) < 0 || !xml_char(c))
			return 0;
	}
	return 1;
}

/*
 * Names the builders accept: ASCII NCNames ([A-Za-z_][A-Za-z0-9._-]*).
 * Every XMPP name is one, and every parser accepts them, so a built tree
 * always reparses.
 */
static int
valid_name(const char *s)
{
	size_t i;

	if (s == NULL || !((s[0] >= 'A' && s[0] <= 'Z') ||
	                   (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

#define NS_XMLNS "http://www.w3.org/2000/xmlns/"

/* ------------------------------------------------------------------ */
/* Nodes                                                               */
/* ------------------------------------------------------------------ */

/* A new element; ns and name copied (lengths given). */
static struct inv__xml *
elem_new(const char *ns, size_t nslen, const char *name, size_t namelen)
{
	struct inv__xml *e;

	if (nslen > SIZE_MAX / 2 || namelen > SIZE_MAX / 2 ||
	    nslen + namelen > SIZE_MAX - sizeof(*e) - 2)
		return NULL;
	e = inv__xml_alloc(sizeof(*e) + nslen + namelen + 2);
	if (e == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->ns = e->mem;
	memcpy(e->ns, ns, nslen);
	e->ns[nslen] = '\0';
	e->name = e->mem + nslen + 1;
	memcpy(e->name, name, namelen);
	e->name[namelen] = '\0';
	return e;
}

/* Link child (element or run) at the end of parent's content. */
static void
link_last(struct inv__xml *parent, struct inv__xml *child)
{
	child->parent = parent;
	child->next = NULL;
	child->prev = parent->last;
	if (parent->last != NULL)
		parent->last->next = child;
	else
		parent->first = child;
	parent->last = child;
}

static void
unlink_node(struct inv__xml *n)
{
	struct inv__xml *p = n->parent;

	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		p->first = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		p->last = n->prev;
	n->parent = n->prev = n->next = NULL;
}

/* Release one node's own memory (not its children). */
static void
node_release(struct inv__xml *n)
{
	size_t i;

	for (i = 0; i < n->n_attrs; i++)
		free(n->attrs[i].mem);
	free(n->attrs);
	free(n->text);
	free(n);
}

/*
 * Append text[0..len) to e's content without checks (the caller checked
 * characters and bounds).
 */
int
inv__xml_append_text(struct inv__xml *e, const char *text, size_t len)
{
	struct inv__xml *run = NULL;

	if (len == 0)
		return INV_XML_OK;
	if (len > SIZE_MAX - 1 - e->text_len)
		return INV_XML_ENOMEM;
	if (e->last == NULL || !e->last->is_text) {
		run = inv__xml_alloc(sizeof(*run));
		if (run == NULL)
			return INV_XML_ENOMEM;
		memset(run, 0, sizeof(*run));
		run->is_text = 1;
		run->off = e->text_len;
	}
	if (e->text_len + len + 1 > e->text_cap) {
		size_t cap = e->text_cap ? e->text_cap : 32;
		char *p;

		while (cap < e->text_len + len + 1)
			cap = cap > SIZE_MAX / 2 ? e->text_len + len + 1
			                          : cap * 2;
		p = inv__xml_realloc(e->text, e->text_cap, cap);
		if (p == NULL) {
			free(run);
			return INV_XML_ENOMEM;
		}
		e->text = p;
		e->text_cap = cap;
	}
	memcpy(e->text + e->text_len, text, len);
	e->text_len += len;
	e->text[e->text_len] = '\0';
	if (run != NULL)
		link_last(e, run);
	e->last->len += len;
	return INV_XML_OK;
}

/*
 * Set {ns}name = value[0..vlen) (ns "" for none) without checks; replaces
 * an attribute with the same name.
 */
int
inv__xml_put_attr(struct inv__xml *e, const char *ns, size_t nslen,
                  const char *name, size_t namelen, const char *value,
                  size_t vlen)
{
	struct inv__xml_attr *a = NULL;
	size_t i;
	char *mem;

	for (i = 0; i < e->n_attrs; i++) {
		if (strlen(e->attrs[i].ns) == nslen &&
		    memcmp(e->attrs[i].ns, ns, nslen) == 0 &&
		    strlen(e->attrs[i].name) == namelen &&
		    memcmp(e->attrs[i].name, name, namelen) == 0) {
			a = &e->attrs[i];
			break;
		}
	}
	if (nslen > SIZE_MAX / 4 || namelen > SIZE_MAX / 4 ||
	    vlen > SIZE_MAX / 4)
		return INV_XML_ENOMEM;
	mem = inv__xml_alloc(nslen + namelen + vlen + 3);
	if (mem == NULL)
		return INV_XML_ENOMEM;
	if (a == NULL) {
		if (e->n_attrs == e->cap_attrs) {
			size_t cap = e->cap_attrs ? e->cap_attrs * 2 : 4;
			struct inv__xml_attr *na;

			if (cap > SIZE_MAX / sizeof(*na))
				na = NULL;
			else
				na = inv__xml_realloc(e->attrs,
				                      e->cap_attrs * sizeof(*na),
				                      cap * sizeof(*na));
			if (na == NULL) {
				free(mem);
				return INV_XML_ENOMEM;
			}
			e->attrs = na;
			e->cap_attrs = cap;
		}
		a = &e->attrs[e->n_attrs++];
	} else {
		free(a->mem);
	}
	a->mem = mem;
	a->ns = mem;
	memcpy(a->ns, ns, nslen);
	a->ns[nslen] = '\0';
	a->name = a->ns + nslen + 1;
	memcpy(a->name, name, namelen);
	a->name[namelen] = '\0';
	a->value = a->name + namelen + 1;
	memcpy(a->value, value, vlen);
	a->value[vlen] = '\0';
	return INV_XML_OK;
}

static void
del_attr(struct inv__xml *e, size_t i)
{
	free(e->attrs[i].mem);
	memmove(&e->attrs[i], &e->attrs[i + 1],
	        (e->n_attrs - i - 1) * sizeof(e->attrs[0]));
	e->n_attrs--;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

const char *
inv__xml_ns(const struct inv__xml *e)
{
	return e->ns;
}

const char *
inv__xml_name(const struct inv__xml *e)
{
	return e->name;
}

int
inv__xml_is(const struct inv__xml *e, const char *ns, const char *name)
{
	if (e == NULL || e->is_text)
		return 0;
	if (ns != NULL && strcmp(e->ns, ns) != 0)
		return 0;
	if (name != NULL && strcmp(e->name, name) != 0)
		return 0;
	return 1;
}

struct inv__xml *
inv__xml_parent(const struct inv__xml *e)
{
	return e->parent;
}

/* n itself or the first element after it among its siblings. */
static struct inv__xml *
skip_text(struct inv__xml *n)
{
	while (n != NULL && n->is_text)
		n = n->next;
	return n;
}

struct inv__xml *
inv__xml_first(const struct inv__xml *e)
{
	return skip_text(e->first);
}

struct inv__xml *
inv__xml_next(const struct inv__xml *e)
{
	return skip_text(e->next);
}

struct inv__xml *
inv__xml_child(const struct inv__xml *e, const char *ns, const char *name)
{
	struct inv__xml *c;

	for (c = e->first; c != NULL; c = c->next)
		if (inv__xml_is(c, ns, name))
			return c;
	return NULL;
}

struct inv__xml *
inv__xml_next_named(const struct inv__xml *e, const char *ns,
                    const char *name)
{
	struct inv__xml *c;

	for (c = e->next; c != NULL; c = c->next)
		if (inv__xml_is(c, ns, name))
			return c;
	return NULL;
}

size_t
inv__xml_child_count(const struct inv__xml *e)
{
	struct inv__xml *c;
	size_t n = 0;

	for (c = e->first; c != NULL; c = c->next)
		if (!c->is_text)
			n++;
	return n;
}

const char *
inv__xml_attr(const struct inv__xml *e, const char *name)
{
	return inv__xml_attr_ns(e, NULL, name);
}

const char *
inv__xml_attr_ns(const struct inv__xml *e, const char *ns, const char *name)
{
	size_t i;

	if (ns == NULL)
		ns = "";
	if (name == NULL)
		return NULL;
	for (i = 0; i < e->n_attrs; i++)
		if (strcmp(e->attrs[i].name, name) == 0 &&
		    strcmp(e->attrs[i].ns, ns) == 0)
			return e->attrs[i].value;
	return NULL;
}

size_t
inv__xml_attr_count(const struct inv__xml *e)
{
	return e->n_attrs;
}

int
inv__xml_attr_at(const struct inv__xml *e, size_t i, const char **ns_r,
                 const char **name_r, const char **value_r)
{
	if (i >= e->n_attrs)
		return INV_XML_EINVAL;
	if (ns_r != NULL)
		*ns_r = e->attrs[i].ns;
	if (name_r != NULL)
		*name_r = e->attrs[i].name;
	if (value_r != NULL)
		*value_r = e->attrs[i].value;
	return INV_XML_OK;
}

const char *
inv__xml_text(const struct inv__xml *e)
{
	return e->text != NULL ? e->text : "";
}

size_t
inv__xml_text_len(const struct inv__xml *e)
{
	return e->text_len;
}

const char *
inv__xml_child_text(const struct inv__xml *e, const char *ns,
                    const char *name)
{
	const struct inv__xml *c = inv__xml_child(e, ns, name);

	return c != NULL ? inv__xml_text(c) : NULL;
}

/* Same namespace, name and attributes (in any order). */
static int
same_head(const struct inv__xml *a, const struct inv__xml *b)
{
	size_t i;

	if (strcmp(a->ns, b->ns) != 0 || strcmp(a->name, b->name) != 0 ||
	    a->n_attrs != b->n_attrs)
		return 0;
	for (i = 0; i < a->n_attrs; i++) {
		const char *v = inv__xml_attr_ns(b, a->attrs[i].ns,
		                                 a->attrs[i].name);

		if (v == NULL || strcmp(v, a->attrs[i].value) != 0)
			return 0;
	}
	return 1;
}

static int
same_node(const struct inv__xml *a, const struct inv__xml *b)
{
	if (a->is_text != b->is_text)
		return 0;
	if (a->is_text)
		return a->len == b->len &&
		       memcmp(a->parent->text + a->off,
		              b->parent->text + b->off, a->len) == 0;
	return same_head(a, b);
}

int
inv__xml_equal(const struct inv__xml *a, const struct inv__xml *b)
{
	const struct inv__xml *ta = a;

	if (a == NULL || b == NULL)
		return a == b;
	/* Walk both trees in step, without recursion. */
	for (;;) {
		if (!same_node(a, b))
			return 0;
		if (a->first != NULL || b->first != NULL) {
			if (a->first == NULL || b->first == NULL)
				return 0;
			a = a->first;
			b = b->first;
			continue;
		}
		for (;;) {
			if (a == ta)
				return 1;
			if (a->next != NULL || b->next != NULL) {
				if (a->next == NULL || b->next == NULL)
					return 0;
				a = a->next;
				b = b->next;
				break;
			}
			a = a->parent;
			b = b->parent;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Building                                                            */
/* ------------------------------------------------------------------ */

/* Check an element namespace given to a builder. */
static int
check_elem_ns(const char *ns)
{
	if (!inv__xml_valid_text(ns, strlen(ns)))
		return INV_XML_ECHAR;
	if (strcmp(ns, INV_XML_NS_XML) == 0 || strcmp(ns, NS_XMLNS) == 0)
		return INV_XML_EINVAL;
	return INV_XML_OK;
}

int
inv__xml_new(const char *ns, const char *name, struct inv__xml **e_r)
{
	int rc;

	if (e_r == NULL)
		return INV_XML_EINVAL;
	*e_r = NULL;
	if (ns == NULL)
		ns = "";
	if (!valid_name(name))
		return INV_XML_EINVAL;
	if ((rc = check_elem_ns(ns)) != INV_XML_OK)
		return rc;
	*e_r = elem_new(ns, strlen(ns), name, strlen(name));
	return *e_r != NULL ? INV_XML_OK : INV_XML_ENOMEM;
}

int
inv__xml_add_new(struct inv__xml *parent, const char *ns, const char *name,
                 struct inv__xml **child_r)
{
	struct inv__xml *c;
	int rc;

	if (child_r != NULL)
		*child_r = NULL;
	if (parent == NULL || parent->is_text)
		return INV_XML_EINVAL;
	rc = inv__xml_new(ns != NULL ? ns : parent->ns, name, &c);
	if (rc != INV_XML_OK)
		return rc;
	link_last(parent, c);
	if (child_r != NULL)
		*child_r = c;
	return INV_XML_OK;
}

int
inv__xml_add_child(struct inv__xml *parent, struct inv__xml *child)
{
	const struct inv__xml *a;

	if (parent == NULL || child == NULL || parent->is_text ||
	    child->is_text || child->parent != NULL)
		return INV_XML_EINVAL;
	for (a = parent; a != NULL; a = a->parent)
		if (a == child)
			return INV_XML_EINVAL;
	link_last(parent, child);
	return INV_XML_OK;
}

void
inv__xml_detach(struct inv__xml *e)
{
	struct inv__xml *prev, *next;

	if (e == NULL || e->parent == NULL)
		return;
	prev = e->prev;
	next = e->next;
	unlink_node(e);
	/* Two runs now side by side are contiguous in the text: merge. */
	if (prev != NULL && next != NULL && prev->is_text && next->is_text) {
		prev->len += next->len;
		unlink_node(next);
		free(next);
	}
}

void
inv__xml_free(struct inv__xml **ep)
{
	struct inv__xml *top, *n;

	if (ep == NULL || *ep == NULL)
		return;
	top = *ep;
	*ep = NULL;
	inv__xml_detach(top);
	/* Post-order without recursion: always free a leaf. */
	n = top;
	for (;;) {
		struct inv__xml *p;

		while (n->first != NULL)
			n = n->first;
		if (n == top)
			break;
		p = n->parent;
		p->first = n->next;
		node_release(n);
		n = p->first != NULL ? p->first : p;
	}
	node_release(top);
}

/* A copy of one node's head (name, attributes, text) without children. */
static struct inv__xml *
copy_head(const struct inv__xml *s)
{
	struct inv__xml *d;
	size_t i;

	d = elem_new(s->ns, strlen(s->ns), s->name, strlen(s->name));
	if (d == NULL)
		return NULL;
	if (s->n_attrs > 0) {
		d->attrs = inv__xml_alloc(s->n_attrs * sizeof(d->attrs[0]));
		if (d->attrs == NULL)
			goto fail;
		d->cap_attrs = s->n_attrs;
		for (i = 0; i < s->n_attrs; i++) {
			const struct inv__xml_attr *a = &s->attrs[i];
			size_t sz = strlen(a->ns) + strlen(a->name) +
			            strlen(a->value) + 3;
			struct inv__xml_attr *b = &d->attrs[i];

			b->mem = inv__xml_alloc(sz);
			if (b->mem == NULL)
				goto fail;
			d->n_attrs++;
			memcpy(b->mem, a->mem, sz);
			b->ns = b->mem;
			b->name = b->mem + (a->name - a->mem);
			b->value = b->mem + (a->value - a->mem);
		}
	}
	if (s->text_len > 0) {
		d->text = inv__xml_alloc(s->text_len + 1);
		if (d->text == NULL)
			goto fail;
		memcpy(d->text, s->text, s->text_len + 1);
		d->text_len = s->text_len;
		d->text_cap = s->text_len + 1;
	}
	return d;
fail:
	node_release(d);
	return NULL;
}

int
inv__xml_copy(const struct inv__xml *e, struct inv__xml **copy_r)
{
	const struct inv__xml *s;
	struct inv__xml *top, *d;

	if (copy_r == NULL)
		return INV_XML_EINVAL;
	*copy_r = NULL;
	if (e == NULL || e->is_text)
		return INV_XML_EINVAL;
	top = copy_head(e);
	if (top == NULL)
		return INV_XML_ENOMEM;
	/* s walks the source; d is the copy of s (or of s's parent for runs). */
	s = e;
	d = top;
	for (;;) {
		if (s->first != NULL) {
			s = s->first;
		} else {
			while (s != e && s->next == NULL) {
				s = s->parent;
				d = d->parent;
			}
			if (s == e)
				break;
			s = s->next;
			d = d->parent;
		}
		if (s->is_text) {
			struct inv__xml *run = inv__xml_alloc(sizeof(*run));

			if (run == NULL)
				goto fail;
			memset(run, 0, sizeof(*run));
			run->is_text = 1;
			run->off = s->off;
			run->len = s->len;
			link_last(d, run);
			d = run;
		} else {
			struct inv__xml *c = copy_head(s);

			if (c == NULL)
				goto fail;
			link_last(d, c);
			d = c;
		}
	}
	*copy_r = top;
	return INV_XML_OK;
fail:
	inv__xml_free(&top);
	return INV_XML_ENOMEM;
}

int
inv__xml_set_attr(struct inv__xml *e, const char *name, const char *value)
{
	return inv__xml_set_attr_ns(e, NULL, name, value);
}

int
inv__xml_set_attrf(struct inv__xml *e, const char *name, const char *fmt,
                   ...)
{
	va_list ap;
	char small[128], *buf = small;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return INV_XML_EINVAL;
	if ((size_t)n >= sizeof(small)) {
		buf = inv__xml_alloc((size_t)n + 1);
		if (buf == NULL)
			return INV_XML_ENOMEM;
		va_start(ap, fmt);
		vsnprintf(buf, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	rc = inv__xml_set_attr_ns(e, NULL, name, buf);
	if (buf != small)
		free(buf);
	return rc;
}

int
inv__xml_set_attr_ns(struct inv__xml *e, const char *ns, const char *name,
                     const char *value)
{
	size_t i;

	if (e == NULL || e->is_text || !valid_name(name))
		return INV_XML_EINVAL;
	if (ns == NULL)
		ns = "";
	if (!inv__xml_valid_text(ns, strlen(ns)))
		return INV_XML_ECHAR;
	if (strcmp(ns, NS_XMLNS) == 0 ||
	    (ns[0] == '\0' && strcmp(name, "xmlns") == 0))
		return INV_XML_EINVAL;
	if (value == NULL) {
		for (i = 0; i < e->n_attrs; i++)
			if (strcmp(e->attrs[i].ns, ns) == 0 &&
			    strcmp(e->attrs[i].name, name) == 0) {
				del_attr(e, i);
				break;
			}
		return INV_XML_OK;
	}
	if (!inv__xml_valid_text(value, strlen(value)))
		return INV_XML_ECHAR;
	return inv__xml_put_attr(e, ns, strlen(ns), name, strlen(name),
	                         value, strlen(value));
}

int
inv__xml_add_text(struct inv__xml *e, const char *text)
{
	if (text == NULL)
		return INV_XML_EINVAL;
	return inv__xml_add_text_n(e, text, strlen(text));
}

int
inv__xml_add_text_n(struct inv__xml *e, const char *text, size_t len)
{
	if (e == NULL || e->is_text || (text == NULL && len > 0))
		return INV_XML_EINVAL;
	if (!inv__xml_valid_text(text, len))
		return INV_XML_ECHAR;
	return inv__xml_append_text(e, text, len);
}

int
inv__xml_add_text_child(struct inv__xml *parent, const char *ns,
                        const char *name, const char *text,
                        struct inv__xml **child_r)
{
	struct inv__xml *c;
	int rc;

	if (child_r != NULL)
		*child_r = NULL;
	if (text == NULL)
		return INV_XML_EINVAL;
	if (!inv__xml_valid_text(text, strlen(text)))
		return INV_XML_ECHAR;
	rc = inv__xml_add_new(parent, ns, name, &c);
	if (rc != INV_XML_OK)
		return rc;
	rc = inv__xml_append_text(c, text, strlen(text));
	if (rc != INV_XML_OK) {
		inv__xml_free(&c);
		return rc;
	}
	if (child_r != NULL)
		*child_r = c;
	return INV_XML_OK;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

/* Separates namespace URI and local name in expat's names: never in XML. */
#define NS_SEP '\x01'
#define WRAP_NAME "inv-wrap"
/* Expat is fed in slices of this size (see inv__xml_parser_feed()). */
#define SLICE 4096

struct inv__xml_parser {
	XML_Parser xp;
	struct inv__xml_budget budget;
	struct inv__xml_limits lim;
	struct inv__xml *root;   /* the stanza, once started */
	struct inv__xml *cur;    /* element being filled; NULL at the wrapper */
	size_t level;            /* 0 outside the wrapper, 1 in it, 2 + depth - 1 in the stanza */
	size_t n_elements;
	size_t fed;
	char slice[SLICE];       /* input waiting for a whole slice */
	size_t slice_len;
	int err;
	int done;
};

/* Record the first error and stop expat. */
static void
fail(struct inv__xml_parser *p, int err)
{
	if (err == INV_XML_ENOMEM && p->budget.exceeded)
		err = INV_XML_ETOOBIG;
	if (p->err == INV_XML_OK)
		p->err = err;
	XML_StopParser(p->xp, XML_FALSE);
}

/* Split expat's "uri\1local" (or "local"). */
static void
split_name(const char *s, const char **ns, size_t *nslen, const char **local)
{
	const char *sep = strchr(s, NS_SEP);

	if (sep == NULL) {
		*ns = "";
		*nslen = 0;
		*local = s;
	} else {
		*ns = s;
		*nslen = (size_t)(sep - s);
		*local = sep + 1;
	}
}

static void XMLCALL
on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct inv__xml_parser *p = ud;
	struct inv__xml *e;
	const char *ns, *local;
	size_t nslen, nattr, i;

	if (p->err != INV_XML_OK)
		return;
	p->level++;
	if (p->level == 1)
		return; /* the wrapper */
	if (p->level == 2 && p->root != NULL) {
		fail(p, INV_XML_EMALFORMED); /* a second top element */
		return;
	}
	if (p->level - 1 > p->lim.max_depth) {
		fail(p, INV_XML_ETOODEEP);
		return;
	}
	if (++p->n_elements > p->lim.max_elements) {
		fail(p, INV_XML_ETOOBIG);
		return;
	}
	split_name(name, &ns, &nslen, &local);
	if (nslen > p->lim.max_name || strlen(local) > p->lim.max_name) {
		fail(p, INV_XML_ETOOBIG);
		return;
	}
	for (nattr = 0; atts[2 * nattr] != NULL; nattr++) {
		const char *ans, *aname;
		size_t anslen;

		if (nattr + 1 > p->lim.max_attrs) {
			fail(p, INV_XML_ETOOBIG);
			return;
		}
		split_name(atts[2 * nattr], &ans, &anslen, &aname);
		if (anslen > p->lim.max_name ||
		    strlen(aname) > p->lim.max_name ||
		    strlen(atts[2 * nattr + 1]) > p->lim.max_attr_len) {
			fail(p, INV_XML_ETOOBIG);
			return;
		}
	}
	e = elem_new(ns, nslen, local, strlen(local));
	if (e == NULL) {
		fail(p, INV_XML_ENOMEM);
		return;
	}
	if (p->cur != NULL)
		link_last(p->cur, e);
	else
		p->root = e;
	p->cur = e;
	for (i = 0; i < nattr; i++) {
		const char *ans, *aname, *v = atts[2 * i + 1];
		size_t anslen;

		split_name(atts[2 * i], &ans, &anslen, &aname);
		if (inv__xml_put_attr(e, ans, anslen, aname, strlen(aname), v,
		                      strlen(v)) != INV_XML_OK) {
			fail(p, INV_XML_ENOMEM);
			return;
		}
	}
}

static void XMLCALL
on_end(void *ud, const XML_Char *name)
{
	struct inv__xml_parser *p = ud;

	(void)name;
	if (p->err != INV_XML_OK)
		return;
	if (p->level >= 2)
		p->cur = p->cur->parent;
	p->level--;
}

static void XMLCALL
on_text(void *ud, const XML_Char *s, int len)
{
	struct inv__xml_parser *p = ud;
	size_t n = (size_t)len, i;

	if (p->err != INV_XML_OK || len <= 0)
		return;
	if (p->level < 2) {
		/* Around the stanza: whitespace only. */
		for (i = 0; i < n; i++)
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
			    s[i] != '\r') {
				fail(p, INV_XML_EMALFORMED);
				return;
			}
		return;
	}
	if (n > p->lim.max_text || p->cur->text_len > p->lim.max_text - n) {
		fail(p, INV_XML_ETOOBIG);
		return;
	}
	if (inv__xml_append_text(p->cur, s, n) != INV_XML_OK)
		fail(p, INV_XML_ENOMEM);
}

static void XMLCALL
on_comment(void *ud, const XML_Char *data)
{
	(void)data;
	fail(ud, INV_XML_ERESTRICTED);
}

static void XMLCALL
on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
	(void)target;
	(void)data;
	fail(ud, INV_XML_ERESTRICTED);
}

static void XMLCALL
on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
           const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	fail(ud, INV_XML_ERESTRICTED);
}

static void XMLCALL
on_entity_decl(void *ud, const XML_Char *name, int is_pe,
               const XML_Char *value, int value_len, const XML_Char *base,
               const XML_Char *sysid, const XML_Char *pubid,
               const XML_Char *notation)
{
	(void)name;
	(void)is_pe;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	fail(ud, INV_XML_ERESTRICTED);
}

/* Map a failed XML_Parse() to our code. */
static int
parse_error(struct inv__xml_parser *p)
{
	if (p->err != INV_XML_OK)
		return p->err;
	if (p->budget.exceeded)
		return INV_XML_ETOOBIG;
	switch (XML_GetErrorCode(p->xp)) {
	case XML_ERROR_NO_MEMORY:
		return INV_XML_ENOMEM;
	case XML_ERROR_MISPLACED_XML_PI:
	case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
	case XML_ERROR_ENTITY_DECLARED_IN_PE:
	case XML_ERROR_NOT_STANDALONE:
		return INV_XML_ERESTRICTED;
	default:
		return INV_XML_EMALFORMED;
	}
}

/* Feed expat with our budget in force. */
static int
drive(struct inv__xml_parser *p, const char *data, size_t len, int final)
{
	struct inv__xml_budget *saved = cur_budget;
	enum XML_Status st = XML_STATUS_OK;

	cur_budget = &p->budget;
	do {
		int n = len > (1u << 20) ? 1 << 20 : (int)len;

		st = XML_Parse(p->xp, data, n, final && (size_t)n == len);
		data += n;
		len -= (size_t)n;
	} while (st == XML_STATUS_OK && len > 0);
	cur_budget = saved;
	if (st != XML_STATUS_OK && p->err == INV_XML_OK)
		p->err = parse_error(p);
	return p->err;
}

/* Append s to b as the contents of a single-quoted attribute value. */
static void
put_attr_value(char *out, size_t *off, const char *s)
{
	for (; *s != '\0'; s++) {
		const char *rep = NULL;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '\'': rep = "&apos;"; break;
		case '\t': rep = "&#9;"; break;
		case '\n': rep = "&#10;"; break;
		case '\r': rep = "&#13;"; break;
		default: break;
		}
		if (rep != NULL) {
			size_t n = strlen(rep);

			if (out != NULL)
				memcpy(out + *off, rep, n);
			*off += n;
		} else {
			if (out != NULL)
				out[*off] = *s;
			(*off)++;
		}
	}
}

int
inv__xml_parser_new(const char *default_ns,
                    const struct inv__xml_limits *lim,
                    struct inv__xml_parser **p_r)
{
	static const char head1[] = "<" WRAP_NAME " xmlns:stream='"
	                            INV_XML_NS_STREAM "'";
	struct inv__xml_parser *p;
	struct inv__xml_budget *saved;
	struct inv__xml_limits def;
	char *head;
	size_t len = 0;
	int rc;

	if (p_r == NULL)
		return INV_XML_EINVAL;
	*p_r = NULL;
	if (default_ns != NULL &&
	    !inv__xml_valid_text(default_ns, strlen(default_ns)))
		return INV_XML_ECHAR;
	p = inv__xml_alloc(sizeof(*p));
	if (p == NULL)
		return INV_XML_ENOMEM;
	memset(p, 0, sizeof(*p));
	inv__xml_limits_default(&def);
	if (lim != NULL)
		p->lim = *lim;
#define DEF(f) if (p->lim.f == 0) p->lim.f = def.f
	DEF(max_input);
	DEF(max_depth);
	DEF(max_elements);
	DEF(max_attrs);
	DEF(max_attr_len);
	DEF(max_text);
	DEF(max_name);
	DEF(max_memory);
#undef DEF
	p->budget.max = p->lim.max_memory;

	saved = cur_budget;
	cur_budget = &p->budget;
	{
		const XML_Char sep[2] = { NS_SEP, '\0' };

		p->xp = XML_ParserCreate_MM("UTF-8", &mm_suite, sep);
	}
	cur_budget = saved;
	if (p->xp == NULL) {
		rc = p->budget.exceeded ? INV_XML_ETOOBIG : INV_XML_ENOMEM;
		free(p);
		return rc;
	}
	XML_SetUserData(p->xp, p);
	XML_SetElementHandler(p->xp, on_start, on_end);
	XML_SetCharacterDataHandler(p->xp, on_text);
	XML_SetCommentHandler(p->xp, on_comment);
	XML_SetProcessingInstructionHandler(p->xp, on_pi);
	XML_SetStartDoctypeDeclHandler(p->xp, on_doctype);
	XML_SetEntityDeclHandler(p->xp, on_entity_decl);
	XML_SetParamEntityParsing(p->xp, XML_PARAM_ENTITY_PARSING_NEVER);

	/* The synthetic parent: the stream's namespace context. */
	put_attr_value(NULL, &len, default_ns != NULL ? default_ns : "");
	head = inv__xml_alloc(sizeof(head1) + len + 16);
	if (head == NULL) {
		inv__xml_parser_free(&p);
		return INV_XML_ENOMEM;
	}
	memcpy(head, head1, sizeof(head1) - 1);
	len = sizeof(head1) - 1;
	if (default_ns != NULL) {
		memcpy(head + len, " xmlns='", 8);
		len += 8;
		put_attr_value(head, &len, default_ns);
		head[len++] = '\'';
	}
	head[len++] = '>';
	rc = drive(p, head, len, 0);
	free(head);
	if (rc != INV_XML_OK) {
		inv__xml_parser_free(&p);
		return rc;
	}
	*p_r = p;
	return INV_XML_OK;
}

int
inv__xml_parser_feed(struct inv__xml_parser *p, const char *data, size_t len)
{
	int over = 0;

	if (p == NULL || (data == NULL && len > 0))
		return INV_XML_EINVAL;
	if (p->err != INV_XML_OK)
		return p->err;
	if (p->done)
		return INV_XML_EINVAL;
	if (len > p->lim.max_input - p->fed) {
		/* Parse what fits, then fail: see the end. */
		len = p->lim.max_input - p->fed;
		over = 1;
	}
	p->fed += len;
	/*
	 * Expat gets the input in slices of SLICE bytes at fixed offsets,
	 * whatever the caller's pieces, so everything it does (errors, when
	 * callbacks run, and the memory it holds, which the budget counts)
	 * is the same for any cut.  Whole slices go straight from data.
	 */
	while (len > 0 && p->err == INV_XML_OK) {
		size_t n;

		if (p->slice_len == 0 && len >= SLICE) {
			drive(p, data, SLICE, 0);
			data += SLICE;
			len -= SLICE;
			continue;
		}
		n = SLICE - p->slice_len < len ? SLICE - p->slice_len : len;
		memcpy(p->slice + p->slice_len, data, n);
		p->slice_len += n;
		data += n;
		len -= n;
		if (p->slice_len == SLICE) {
			p->slice_len = 0;
			drive(p, p->slice, SLICE, 0);
		}
	}
	if (over && p->err == INV_XML_OK) {
		/* The first error within max_input bytes wins, else ETOOBIG. */
		drive(p, p->slice, p->slice_len, 0);
		p->slice_len = 0;
		if (p->err == INV_XML_OK)
			p->err = INV_XML_ETOOBIG;
	}
	return p->err;
}

int
inv__xml_parser_finish(struct inv__xml_parser *p, struct inv__xml **root_r)
{
	static const char tail[] = "</" WRAP_NAME ">";
	int rc;

	if (root_r != NULL)
		*root_r = NULL;
	if (p == NULL || root_r == NULL)
		return INV_XML_EINVAL;
	if (p->err != INV_XML_OK)
		return p->err;
	if (p->done)
		return INV_XML_EINVAL;
	p->done = 1;
	if (drive(p, p->slice, p->slice_len, 0) != INV_XML_OK)
		return p->err;
	p->slice_len = 0;
	rc = drive(p, tail, sizeof(tail) - 1, 1);
	if (rc != INV_XML_OK)
		return rc;
	if (p->root == NULL || p->level != 0) {
		p->err = INV_XML_EMALFORMED;
		return p->err;
	}
	*root_r = p->root;
	p->root = NULL;
	p->cur = NULL;
	return INV_XML_OK;
}

void
inv__xml_parser_free(struct inv__xml_parser **pp)
{
	struct inv__xml_parser *p;

	if (pp == NULL || *pp == NULL)
		return;
	p = *pp;
	*pp = NULL;
	if (p->xp != NULL)
		XML_ParserFree(p->xp);
	inv__xml_free(&p->root);
	free(p);
}

int
inv__xml_parse(const char *data, size_t len, const char *default_ns,
               const struct inv__xml_limits *lim, struct inv__xml **root_r)
{
	struct inv__xml_parser *p;
	int rc;

	if (root_r == NULL)
		return INV_XML_EINVAL;
	*root_r = NULL;
	rc = inv__xml_parser_new(default_ns, lim, &p);
	if (rc != INV_XML_OK)
		return rc;
	rc = inv__xml_parser_feed(p, data, len);
	if (rc == INV_XML_OK)
		rc = inv__xml_parser_finish(p, root_r);
	inv__xml_parser_free(&p);
	return rc;
}

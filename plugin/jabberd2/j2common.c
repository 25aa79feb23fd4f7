/* SPDX-License-Identifier: MIT */
/*
 * j2common.c: small helpers both jabberd2 adapters need: wiping secrets,
 * and turning the XML text the engine produces into jabberd2 nads (stream
 * features appended to a features nad, stanzas wrapped for the sm's
 * router).  All parsing is done by jabberd2's own nad_parse().
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "j2common.h"

void
j2_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

static char *
concat3(const char *a, const char *b, size_t blen, const char *c)
{
	size_t la = strlen(a), lc = strlen(c);
	char *s = malloc(la + blen + lc + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, blen);
	memcpy(s + la + blen, c, lc + 1);
	return s;
}

/* A NUL-terminated copy of len bytes at p (NULL on failure). */
static char *
dupn(const char *p, int len)
{
	char *s = malloc((size_t)len + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, p, (size_t)len);
	s[len] = '\0';
	return s;
}

int
j2_nad_append_fragment(struct j2_nad *nad, const char *xml, int depth)
{
	struct j2_nad *src;
	char *wrapped;
	int e, rc = 0;

	wrapped = concat3("<f>", xml, strlen(xml), "</f>");
	if (wrapped == NULL)
		return -1;
	src = nad_parse(wrapped, (int)strlen(wrapped));
	free(wrapped);
	if (src == NULL)
		return -1;
	for (e = 1; e < src->ecur && rc == 0; e++) {
		struct j2_nad_elem *el = &src->elems[e];
		char *name = dupn(src->cdata + el->iname, el->lname);
		int ns = -1, a;

		if (name == NULL) {
			rc = -1;
			break;
		}
		if (el->my_ns >= 0) {
			char *uri = dupn(J2_NAD_NURI(src, el->my_ns),
			                 J2_NAD_NURI_L(src, el->my_ns));

			if (uri == NULL) {
				free(name);
				rc = -1;
				break;
			}
			ns = nad_add_namespace(nad, uri, NULL);
			free(uri);
		}
		nad_append_elem(nad, ns, name, depth + (int)el->depth - 1);
		free(name);
		for (a = el->attr; a >= 0; a = src->attrs[a].next) {
			char *an = dupn(src->cdata + src->attrs[a].iname,
			                src->attrs[a].lname);
			char *av = dupn(J2_NAD_AVAL(src, a), J2_NAD_AVAL_L(src, a));

			if (an != NULL && av != NULL)
				nad_append_attr(nad, -1, an, av);
			else
				rc = -1;
			free(an);
			free(av);
		}
		if (el->lcdata > 0)
			nad_append_cdata(nad, src->cdata + el->icdata, el->lcdata,
			                 depth + (int)el->depth);
	}
	nad_free(src);
	return rc;
}

struct j2_nad *
j2_route_nad(const char *stanza)
{
	const char *p = stanza;
	size_t n;
	char *head, *full;
	struct j2_nad *nad;

	/* Skip to the end of the top element's name. */
	while (*p != '\0' && *p != '<')
		p++;
	if (*p != '<')
		return NULL;
	p++;
	while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n'
	       && *p != '\r' && *p != '/' && *p != '>')
		p++;
	if (*p == '\0')
		return NULL;
	n = (size_t)(p - stanza);
	head = concat3("<route xmlns='" J2_URI_COMPONENT "'>", stanza, n,
	               " xmlns='jabber:client'");
	if (head == NULL)
		return NULL;
	full = concat3(head, p, strlen(p), "</route>");
	free(head);
	if (full == NULL)
		return NULL;
	nad = nad_parse(full, (int)strlen(full));
	free(full);
	return nad;
}

/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the XML layer (src/xml.c, src/xml_write.c): namespaces and
 * prefixes, the stream's default namespace context, escaping both ways,
 * every parse bound, restricted and malformed input, incremental parsing
 * (a byte at a time gives the same result), the writer's exact output and
 * round trips, builders and tree surgery, and allocation failure at every
 * allocation of a parse, a build and a write.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "xml.h"

#define CLIENT INV_XML_NS_CLIENT

/* Parse a C string with the c2s context. */
static int
parse_c(const char *s, struct inv__xml **e_r)
{
	return inv__xml_parse(s, strlen(s), CLIENT, NULL, e_r);
}

/* Parse with limits lim (NULL: defaults), no context. */
static int
parse_lim(const char *s, size_t len, const struct inv__xml_limits *lim)
{
	struct inv__xml *e = NULL;
	int rc = inv__xml_parse(s, len, NULL, lim, &e);

	inv__xml_free(&e);
	return rc;
}

/* Parse s fed in pieces of `chunk` bytes. */
static int
parse_chunked(const char *s, size_t len, size_t chunk, const char *ns,
              const struct inv__xml_limits *lim, struct inv__xml **e_r)
{
	struct inv__xml_parser *p;
	size_t off;
	int rc;

	*e_r = NULL;
	rc = inv__xml_parser_new(ns, lim, &p);
	if (rc != INV_XML_OK)
		return rc;
	for (off = 0; off < len && rc == INV_XML_OK; off += chunk)
		rc = inv__xml_parser_feed(p, s + off,
		                          len - off < chunk ? len - off : chunk);
	if (rc == INV_XML_OK)
		rc = inv__xml_parser_finish(p, e_r);
	inv__xml_parser_free(&p);
	return rc;
}

/* Write e (context ns) into a static-lifetime-free string for is_str. */
static char *
write_s(const struct inv__xml *e, const char *ctx)
{
	char *out = NULL;
	size_t len = 0;
	int rc = inv__xml_write(e, ctx, &out, &len);

	if (rc != INV_XML_OK) {
		diag("write failed: %s", inv__xml_strerror(rc));
		return NULL;
	}
	if (strlen(out) != len)
		diag("write: length %zu but strlen %zu", len, strlen(out));
	return out;
}

/* parse(s) then write(ctx) must give want exactly. */
static void
check_rewrite(const char *s, const char *ctx, const char *want,
              const char *name)
{
	struct inv__xml *e = NULL;
	char *out;
	int rc = inv__xml_parse(s, strlen(s), ctx, NULL, &e);

	if (rc != INV_XML_OK) {
		ok(0, "%s (parse: %s)", name, inv__xml_strerror(rc));
		return;
	}
	out = write_s(e, ctx);
	is_str(out, want, name);
	free(out);
	inv__xml_free(&e);
}

/* parse(write(e)) == e, for both a stand-alone and a c2s context. */
static int
round_trips(const struct inv__xml *e)
{
	static const char *const ctxs[] = { NULL, CLIENT, "urn:other" };
	size_t i;

	for (i = 0; i < sizeof(ctxs) / sizeof(ctxs[0]); i++) {
		struct inv__xml *back = NULL;
		char *out = NULL;
		size_t len;
		int rc, eq;

		if (inv__xml_write(e, ctxs[i], &out, &len) != INV_XML_OK)
			return 0;
		rc = inv__xml_parse(out, len, ctxs[i], NULL, &back);
		eq = rc == INV_XML_OK && inv__xml_equal(e, back);
		if (!eq)
			diag("no round trip (ctx %s, rc %d): %s",
			     ctxs[i] ? ctxs[i] : "none", rc, out);
		free(out);
		inv__xml_free(&back);
		if (!eq)
			return 0;
	}
	return 1;
}

/* A string of n copies of c (caller frees). */
static char *
rep(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Concatenate a NULL-terminated list of strings (caller frees). */
static char *
cat(const char *first, ...)
{
	va_list ap;
	const char *s;
	size_t len = 0;
	char *out;

	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *))
		len += strlen(s);
	va_end(ap);
	out = malloc(len + 1);
	out[0] = '\0';
	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *))
		strcat(out, s);
	va_end(ap);
	return out;
}

/* ------------------------------------------------------------------ */

static void
test_basic(void)
{
	struct inv__xml *iq = NULL, *pa;
	const char *s = "<iq type='set' id='pa1' to='example.com'>\n"
	                "  <preauth xmlns='urn:xmpp:pars:0' token='T'/>\n"
	                "</iq>";

	is_int(parse_c(s, &iq), INV_XML_OK, "pre-auth IQ parses");
	if (iq == NULL)
		return;
	is_str(inv__xml_ns(iq), CLIENT, "iq gets the stream's default ns");
	is_str(inv__xml_name(iq), "iq", "local name");
	ok(inv__xml_is(iq, CLIENT, "iq"), "inv__xml_is");
	ok(inv__xml_is(iq, NULL, "iq") && inv__xml_is(iq, CLIENT, NULL),
	   "NULL matches anything");
	ok(!inv__xml_is(iq, "jabber:server", "iq"), "other ns does not match");
	ok(!inv__xml_is(NULL, NULL, NULL), "NULL element is nothing");
	is_str(inv__xml_attr(iq, "type"), "set", "attr type");
	is_str(inv__xml_attr(iq, "to"), "example.com", "attr to");
	ok(inv__xml_attr(iq, "from") == NULL, "absent attr is NULL");
	is_int(inv__xml_attr_count(iq), 3, "three attributes");
	ok(inv__xml_parent(iq) == NULL, "top element has no parent");
	pa = inv__xml_child(iq, "urn:xmpp:pars:0", "preauth");
	ok(pa != NULL, "child by ns and name");
	ok(inv__xml_first(iq) == pa, "first child skips whitespace text");
	ok(inv__xml_next(pa) == NULL, "no next element");
	ok(inv__xml_parent(pa) == iq, "parent");
	is_int(inv__xml_child_count(iq), 1, "one child element");
	ok(inv__xml_child(iq, CLIENT, "preauth") == NULL,
	   "child in another ns is not found");
	is_str(inv__xml_attr(pa, "token"), "T", "token attribute");
	is_str(inv__xml_text(iq), "\n  \n", "whitespace text is kept");
	is_int(inv__xml_text_len(iq), 4, "text length");
	is_str(inv__xml_text(pa), "", "empty text is \"\"");
	inv__xml_free(&iq);
	ok(iq == NULL, "free sets NULL");
	inv__xml_free(&iq);
	inv__xml_free(NULL);
	ok(1, "free accepts NULL");

	is_int(inv__xml_parse("<iq/>", 5, NULL, NULL, &iq), INV_XML_OK,
	       "no context");
	if (iq != NULL)
		is_str(inv__xml_ns(iq), "", "no context: no namespace");
	inv__xml_free(&iq);
	is_int(inv__xml_parse("<iq/>", 5, "jabber:server", NULL, &iq),
	       INV_XML_OK, "s2s context");
	if (iq != NULL)
		is_str(inv__xml_ns(iq), "jabber:server", "s2s default ns");
	inv__xml_free(&iq);
	is_int(inv__xml_parse("<iq/>", 5, "urn:a&b'c<d>\t\n", NULL, &iq),
	       INV_XML_OK, "a context namespace with characters to escape");
	if (iq != NULL)
		is_str(inv__xml_ns(iq), "urn:a&b'c<d>\t\n", "taken verbatim");
	inv__xml_free(&iq);
	is_int(inv__xml_parse("<iq/>xxxx", 5, NULL, NULL, &iq), INV_XML_OK,
	       "length, not NUL, ends the input");
	inv__xml_free(&iq);
}

static void
test_namespaces(void)
{
	struct inv__xml *a = NULL, *b = NULL, *c;

	/* the stream prefix is bound as on a c2s stream */
	is_int(parse_c("<stream:features><register "
	               "xmlns='urn:xmpp:ibr-token:0'/></stream:features>", &a),
	       INV_XML_OK, "stream prefix is predeclared");
	if (a != NULL) {
		is_str(inv__xml_ns(a), INV_XML_NS_STREAM, "stream ns");
		is_str(inv__xml_name(a), "features", "stream local name");
		c = inv__xml_first(a);
		ok(inv__xml_is(c, "urn:xmpp:ibr-token:0", "register"),
		   "child ns");
	}
	inv__xml_free(&a);
	is_int(parse_c("<stream:error><not-well-formed xmlns='urn:ietf:params"
	               ":xml:ns:xmpp-streams'/></stream:error>", &a),
	       INV_XML_OK, "stream error");
	inv__xml_free(&a);

	/* prefixes do not matter */
	is_int(parse_c("<c:iq xmlns:c='jabber:client' type='get'><q:query "
	               "xmlns:q='jabber:iq:register'/></c:iq>", &a),
	       INV_XML_OK, "prefixed");
	is_int(parse_c("<iq type='get'><query xmlns='jabber:iq:register'/>"
	               "</iq>", &b), INV_XML_OK, "unprefixed");
	ok(a && b && inv__xml_equal(a, b), "prefixes are not significant");
	inv__xml_free(&a);
	inv__xml_free(&b);

	/* a child in the parent's ns through a prefix */
	is_int(parse_c("<iq xmlns:x='jabber:client'><x:body/></iq>", &a),
	       INV_XML_OK, "child via prefix");
	if (a != NULL)
		ok(inv__xml_child(a, CLIENT, "body") != NULL, "same ns");
	inv__xml_free(&a);

	/* redeclaring the default namespace and undeclaring it */
	is_int(parse_c("<message xmlns='jabber:server'><x xmlns=''/></message>",
	               &a), INV_XML_OK, "xmlns override and undeclare");
	if (a != NULL) {
		is_str(inv__xml_ns(a), "jabber:server", "overridden default");
		c = inv__xml_first(a);
		ok(c && strcmp(inv__xml_ns(c), "") == 0, "xmlns='' means none");
	}
	inv__xml_free(&a);

	/* rebinding stream */
	is_int(parse_c("<stream:x xmlns:stream='urn:s'/>", &a), INV_XML_OK,
	       "stream prefix may be rebound");
	if (a != NULL)
		is_str(inv__xml_ns(a), "urn:s", "rebound stream prefix");
	inv__xml_free(&a);

	/* qualified attributes */
	is_int(parse_c("<message xml:lang='en' xmlns:p='urn:p' p:x='1' x='2'"
	               " xmlns:q='urn:p'/>", &a), INV_XML_OK, "attrs");
	if (a != NULL) {
		const char *ns, *name, *value;
		size_t i, nq = 0;

		is_str(inv__xml_attr_ns(a, INV_XML_NS_XML, "lang"), "en",
		       "xml:lang");
		ok(inv__xml_attr(a, "lang") == NULL,
		   "xml:lang is not the unqualified lang");
		is_str(inv__xml_attr(a, "x"), "2", "unqualified x");
		is_str(inv__xml_attr_ns(a, "urn:p", "x"), "1", "p:x");
		is_str(inv__xml_attr_ns(a, "", "x"), "2", "ns \"\" is none");
		is_int(inv__xml_attr_count(a), 3,
		       "declarations are not attributes");
		for (i = 0; i < inv__xml_attr_count(a); i++) {
			inv__xml_attr_at(a, i, &ns, &name, &value);
			if (ns[0] != '\0')
				nq++;
		}
		is_int(nq, 2, "two qualified attributes");
		is_int(inv__xml_attr_at(a, 3, &ns, &name, &value),
		       INV_XML_EINVAL, "attr_at out of range");
	}
	inv__xml_free(&a);
	is_int(parse_c("<a xmlns:p='urn:p' xmlns:q='urn:p' p:x='1' q:x='2'/>",
	               &a), INV_XML_EMALFORMED,
	       "same expanded attribute twice");
	is_int(parse_c("<a x='1' x='2'/>", &a), INV_XML_EMALFORMED,
	       "duplicate attribute");
	is_int(parse_c("<p:a/>", &a), INV_XML_EMALFORMED, "unbound prefix");
	is_int(parse_c("<a p:x='1'/>", &a), INV_XML_EMALFORMED,
	       "unbound attribute prefix");
	is_int(parse_c("<a xmlns:xml='urn:bad'/>", &a), INV_XML_EMALFORMED,
	       "xml prefix rebound");
	is_int(parse_c("<a xmlns='" INV_XML_NS_XML "'/>", &a),
	       INV_XML_EMALFORMED, "xml namespace as default");
	is_int(parse_c("<a:b:c xmlns:a='urn:a'/>", &a), INV_XML_EMALFORMED,
	       "two colons");
	ok(a == NULL, "root NULL after failure");
}

static void
test_text(void)
{
	struct inv__xml *a = NULL;

	is_int(parse_c("<body>a &amp; b &lt; c &gt; d &quot;&apos; &#x41;&#66;"
	               "<![CDATA[<x>&amp;]]></body>", &a), INV_XML_OK,
	       "entities and CDATA");
	if (a != NULL)
		is_str(inv__xml_text(a), "a & b < c > d \"' AB<x>&amp;",
		       "text unescaped");
	inv__xml_free(&a);
	is_int(parse_c("<a>x<b>inner</b>y<c/>z</a>", &a), INV_XML_OK, "mixed");
	if (a != NULL) {
		is_str(inv__xml_text(a), "xyz", "direct text concatenated");
		is_str(inv__xml_child_text(a, NULL, "b"), "inner",
		       "child_text");
		is_str(inv__xml_child_text(a, CLIENT, "c"), "", "empty child");
		ok(inv__xml_child_text(a, NULL, "d") == NULL,
		   "child_text of no child");
		is_int(inv__xml_child_count(a), 2, "two children");
	}
	inv__xml_free(&a);
	is_int(parse_c("<a>line1\r\nline2\rline3&#13;</a>", &a), INV_XML_OK,
	       "line ends");
	if (a != NULL)
		is_str(inv__xml_text(a), "line1\nline2\nline3\r",
		       "line ends normalised, &#13; kept");
	inv__xml_free(&a);
	is_int(parse_c("<a v='x\ty\nz&#9;&#10;&#13;'/>", &a), INV_XML_OK,
	       "attribute whitespace");
	if (a != NULL)
		is_str(inv__xml_attr(a, "v"), "x y z\t\n\r",
		       "attribute normalisation");
	inv__xml_free(&a);
	is_int(parse_c("<a>\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80</a>", &a),
	       INV_XML_OK, "UTF-8 text");
	if (a != NULL)
		is_str(inv__xml_text(a), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		       "UTF-8 kept");
	inv__xml_free(&a);
	is_int(parse_c("<\xc3\xa9l\xc3\xa9ment/>", &a), INV_XML_OK,
	       "non-ASCII name");
	if (a != NULL)
		ok(round_trips(a), "non-ASCII name round trips");
	inv__xml_free(&a);
}

static void
test_malformed(void)
{
	static const struct {
		const char *in;
		size_t len; /* 0: strlen */
		int want;
		const char *name;
	} t[] = {
		{ "", 0, INV_XML_EMALFORMED, "empty" },
		{ "   \n", 0, INV_XML_EMALFORMED, "only whitespace" },
		{ "<a>", 0, INV_XML_EMALFORMED, "unclosed" },
		{ "<a></b>", 0, INV_XML_EMALFORMED, "mismatched" },
		{ "<a/><b/>", 0, INV_XML_EMALFORMED, "two top elements" },
		{ "<a/><a/>", 0, INV_XML_EMALFORMED, "same element twice" },
		{ "<a/>x", 0, INV_XML_EMALFORMED, "trailing text" },
		{ "x<a/>", 0, INV_XML_EMALFORMED, "leading text" },
		{ "<a/>&amp;", 0, INV_XML_EMALFORMED, "trailing entity" },
		{ "<a/><", 0, INV_XML_EMALFORMED, "trailing <" },
		{ "<a/></inv-wrap>", 0, INV_XML_EMALFORMED,
		  "closing the wrapper" },
		{ "</inv-wrap><a/>", 0, INV_XML_EMALFORMED,
		  "closing the wrapper first" },
		{ "<a/></inv-wrap><inv-wrap>", 0, INV_XML_EMALFORMED,
		  "reopening the wrapper" },
		{ "\xef\xbb\xbf<a/>", 0, INV_XML_EMALFORMED, "BOM" },
		{ "<a>\0</a>", 8, INV_XML_EMALFORMED, "NUL byte" },
		{ "<a>&#0;</a>", 0, INV_XML_EMALFORMED, "&#0;" },
		{ "<a>\x01</a>", 0, INV_XML_EMALFORMED, "control char" },
		{ "<a>&#1;</a>", 0, INV_XML_EMALFORMED, "&#1;" },
		{ "<a>\xff</a>", 0, INV_XML_EMALFORMED, "byte 0xff" },
		{ "<a>\xc0\xaf</a>", 0, INV_XML_EMALFORMED, "overlong UTF-8" },
		{ "<a>\xed\xa0\x80</a>", 0, INV_XML_EMALFORMED, "surrogate" },
		{ "<a>\xef\xbf\xbe</a>", 0, INV_XML_EMALFORMED, "U+FFFE" },
		{ "<a>\xc3</a>", 0, INV_XML_EMALFORMED, "truncated UTF-8" },
		{ "<a x='\xff'/>", 0, INV_XML_EMALFORMED, "bad UTF-8 in attr" },
		{ "<a>&foo;</a>", 0, INV_XML_EMALFORMED, "undefined entity" },
		{ "<a>&#xD800;</a>", 0, INV_XML_EMALFORMED, "surrogate ref" },
		{ "<a x=1/>", 0, INV_XML_EMALFORMED, "unquoted attr" },
		{ "<a x='<'/>", 0, INV_XML_EMALFORMED, "< in attr" },
		{ "<a>]]></a>", 0, INV_XML_EMALFORMED, "]]> in text" },
		{ "<1a/>", 0, INV_XML_EMALFORMED, "bad name" },
		{ "<a>", 0, INV_XML_EMALFORMED, "unclosed again" },
		{ "<a><!-- c --></a>", 0, INV_XML_ERESTRICTED, "comment" },
		{ "<!-- c --><a/>", 0, INV_XML_ERESTRICTED, "comment before" },
		{ "<a/><!-- c -->", 0, INV_XML_ERESTRICTED, "comment after" },
		{ "<a><?pi x?></a>", 0, INV_XML_ERESTRICTED, "PI" },
		{ "<?pi x?><a/>", 0, INV_XML_ERESTRICTED, "PI before" },
		{ "<?xml version='1.0'?><a/>", 0, INV_XML_ERESTRICTED,
		  "XML declaration" },
		{ "<!DOCTYPE a><a/>", 0, INV_XML_EMALFORMED, "DOCTYPE" },
		{ "<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>", 0,
		  INV_XML_EMALFORMED, "internal entity" },
		{ "<!DOCTYPE a SYSTEM 'file:///etc/passwd'><a/>", 0,
		  INV_XML_EMALFORMED, "external DTD" },
		{ "<a><!DOCTYPE a></a>", 0, INV_XML_EMALFORMED,
		  "DOCTYPE inside" },
		{ "<a><!ENTITY e 'x'></a>", 0, INV_XML_EMALFORMED,
		  "ENTITY inside" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].in);
		struct inv__xml *e = (struct inv__xml *)&e; /* poison */
		int rc = inv__xml_parse(t[i].in, len, CLIENT, NULL, &e);

		is_int(rc, t[i].want, t[i].name);
		ok(e == NULL, "%s: no tree", t[i].name);
	}
	is_int(parse_c(" \t\r\n<a/>\n \t", NULL), INV_XML_EINVAL,
	       "root_r NULL");
	{
		struct inv__xml *e = NULL;

		is_int(parse_c(" \t\r\n<a/>\n \t", &e), INV_XML_OK,
		       "whitespace around is fine");
		inv__xml_free(&e);
	}
}

static void
test_bounds(void)
{
	struct inv__xml_limits lim, def;
	char *s, *big, *in;
	size_t i;
	struct inv__xml *e = NULL;

	inv__xml_limits_default(&def);
	is_int(def.max_input, 65536, "default input bound");
	is_int(def.max_depth, 16, "default depth");
	is_int(def.max_elements, 512, "default elements");
	is_int(def.max_attrs, 32, "default attrs");
	is_int(def.max_attr_len, 4096, "default attr length");
	is_int(def.max_text, 16384, "default text");
	is_int(def.max_name, 1024, "default name");
	is_int(def.max_memory, 1048576, "default memory");

	/* depth */
	s = malloc(16 * 7 + 1);
	s[0] = '\0';
	for (i = 0; i < 16; i++)
		strcat(s, "<a>");
	for (i = 0; i < 16; i++)
		strcat(s, "</a>");
	is_int(parse_lim(s, strlen(s), NULL), INV_XML_OK, "depth 16 ok");
	free(s);
	s = malloc(17 * 7 + 1);
	s[0] = '\0';
	for (i = 0; i < 17; i++)
		strcat(s, "<a>");
	for (i = 0; i < 17; i++)
		strcat(s, "</a>");
	is_int(parse_lim(s, strlen(s), NULL), INV_XML_ETOODEEP,
	       "depth 17 too deep");
	memset(&lim, 0, sizeof(lim));
	lim.max_depth = 17;
	is_int(parse_lim(s, strlen(s), &lim), INV_XML_OK,
	       "depth 17 with max_depth 17");
	free(s);
	/* deep nesting bomb, unclosed */
	big = malloc(60000 + 1);
	for (i = 0; i < 20000; i++)
		memcpy(big + 3 * i, "<a>", 3);
	big[60000] = '\0';
	is_int(parse_lim(big, 60000, NULL), INV_XML_ETOODEEP,
	       "20000 open elements");
	free(big);

	/* elements */
	big = malloc(5 + 4 * 513 + 6 + 1);
	strcpy(big, "<r>");
	for (i = 0; i < 511; i++)
		strcat(big, "<a/>");
	strcat(big, "</r>");
	is_int(parse_lim(big, strlen(big), NULL), INV_XML_OK,
	       "512 elements ok");
	strcpy(big, "<r>");
	for (i = 0; i < 512; i++)
		strcat(big, "<a/>");
	strcat(big, "</r>");
	is_int(parse_lim(big, strlen(big), NULL), INV_XML_ETOOBIG,
	       "513 elements too many");
	free(big);

	/* attributes per element */
	big = malloc(8 + 33 * 10 + 1);
	strcpy(big, "<r");
	for (i = 0; i < 32; i++)
		sprintf(big + strlen(big), " a%zu=''", i);
	strcat(big, "/>");
	is_int(parse_lim(big, strlen(big), NULL), INV_XML_OK, "32 attrs ok");
	strcpy(big, "<r");
	for (i = 0; i < 33; i++)
		sprintf(big + strlen(big), " a%zu=''", i);
	strcat(big, "/>");
	is_int(parse_lim(big, strlen(big), NULL), INV_XML_ETOOBIG,
	       "33 attrs too many");
	free(big);

	/* attribute value */
	s = rep('v', 4096);
	in = cat("<r a='", s, "'/>", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_OK,
	       "4096-byte attr ok");
	free(in);
	free(s);
	s = rep('v', 4097);
	in = cat("<r a='", s, "'/>", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_ETOOBIG,
	       "4097-byte attr too big");
	free(in);
	free(s);
	/* attribute grown by references is measured after expansion */
	big = malloc(4097 * 5 + 20);
	strcpy(big, "<r a='");
	for (i = 0; i < 4097; i++)
		strcat(big, "&lt;");
	strcat(big, "'/>");
	is_int(parse_lim(big, strlen(big), NULL), INV_XML_ETOOBIG,
	       "attr measured unescaped");
	free(big);

	/* text per element, across runs */
	s = rep('t', 16384);
	in = cat("<r>", s, "</r>", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_OK,
	       "16384 bytes of text ok");
	free(in);
	free(s);
	s = rep('t', 8192);
	in = cat("<r>", s, "<x/>", s, "<y/>x</r>", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_ETOOBIG,
	       "16385 bytes of text in three runs too big");
	free(in);
	in = cat("<r><x>", s, "</x><y>", s, "</y>x</r>", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_OK,
	       "text bound is per element");
	free(in);
	free(s);

	/* names and namespaces */
	s = rep('n', 1024);
	in = cat("<", s, "/>", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_OK, "1024-byte name");
	free(in);
	in = cat("<r xmlns='", s, "'/>", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_OK, "1024-byte ns");
	free(in);
	free(s);
	s = rep('n', 1025);
	in = cat("<", s, "/>", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_ETOOBIG,
	       "1025-byte name");
	free(in);
	in = cat("<r ", s, "='1'/>", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_ETOOBIG,
	       "1025-byte attr name");
	free(in);
	in = cat("<r xmlns='", s, "'/>", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_ETOOBIG,
	       "1025-byte ns");
	free(in);
	in = cat("<r xmlns:p='", s, "' p:a='1'/>", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_ETOOBIG,
	       "1025-byte attr ns");
	free(in);
	free(s);

	/* input size */
	s = rep(' ', 65536 - 4);
	in = cat("<a/>", s, NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_OK, "64 KiB input");
	free(in);
	in = cat("<a/>", s, " ", NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_ETOOBIG,
	       "64 KiB + 1 input");
	is_int(parse_chunked(in, strlen(in), 1000, NULL, NULL, &e),
	       INV_XML_ETOOBIG, "64 KiB + 1 input in pieces");
	free(in);
	in = cat("<a>", s, NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_ETOOBIG,
	       "input bound before the end");
	free(in);
	in = cat("<a><!-- -->", s, NULL);
	is_int(parse_lim(in, strlen(in), NULL), INV_XML_ERESTRICTED,
	       "an error in the allowed part wins over the size");
	is_int(parse_chunked(in, strlen(in), 7, NULL, NULL, &e),
	       INV_XML_ERESTRICTED, "the same in pieces");
	free(in);
	free(s);

	/* memory: namespace amplification (each qualified attribute holds
	 * its own copy of a long namespace) */
	s = rep('u', 1000);
	big = malloc(65536);
	strcpy(big, "<r xmlns:p='");
	strcat(big, s);
	strcat(big, "'>");
	for (i = 0; strlen(big) < 60000; i++)
		sprintf(big + strlen(big), "<e p:a='' p:b='' p:c='' p:d=''/>");
	strcat(big, "</r>");
	lim = def;
	lim.max_elements = 100000;
	lim.max_attrs = 100;
	is_int(parse_lim(big, strlen(big), &lim), INV_XML_ETOOBIG,
	       "namespace amplification stopped by max_memory");
	lim.max_memory = (size_t)64 << 20;
	is_int(parse_lim(big, strlen(big), &lim), INV_XML_OK,
	       "and parses with a big budget");
	free(big);
	free(s);
	memset(&lim, 0, sizeof(lim));
	lim.max_memory = 1000;
	is_int(parse_lim("<a/>", 4, &lim), INV_XML_ETOOBIG,
	       "a tiny budget fails with ETOOBIG, not ENOMEM");

	/* expat's own memory is charged too: a big token with a small budget */
	s = rep('v', 200000);
	in = cat("<r a='", s, "'/>", NULL);
	memset(&lim, 0, sizeof(lim));
	lim.max_input = 1 << 20;
	lim.max_attr_len = 1 << 20;
	lim.max_memory = 100000;
	is_int(parse_lim(in, strlen(in), &lim), INV_XML_ETOOBIG,
	       "expat's buffers count against max_memory");
	is_int(parse_chunked(in, strlen(in), 4096, NULL, &lim, &e),
	       INV_XML_ETOOBIG, "the same fed in pieces");
	lim.max_memory = 4 << 20;
	is_int(parse_lim(in, strlen(in), &lim), INV_XML_OK,
	       "and parses within a larger budget");
	free(in);
	free(s);

	/* limits given partly */
	memset(&lim, 0, sizeof(lim));
	lim.max_attrs = 1;
	is_int(parse_lim("<a x='1' y='2'/>", 16, &lim), INV_XML_ETOOBIG,
	       "one bound changed");
	is_int(parse_lim("<a x='1'><b/></a>", 17, &lim), INV_XML_OK,
	       "others default");
}

static void
test_bombs(void)
{
	static const char laughs[] =
		"<?xml version='1.0'?>\n"
		"<!DOCTYPE lolz [\n"
		" <!ENTITY lol 'lol'>\n"
		" <!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>\n"
		" <!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>\n"
		"]>\n"
		"<lolz>&lol3;</lolz>";
	static const char laughs_nodecl[] =
		"<!DOCTYPE lolz [<!ENTITY lol 'lol'>"
		"<!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]><lolz>&lol2;</lolz>";
	static const char xxe[] =
		"<!DOCTYPE r [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
		"<r>&x;</r>";
	static const char pe[] =
		"<!DOCTYPE r [<!ENTITY % p SYSTEM 'http://x/'> %p;]><r/>";
	int rc;

	rc = parse_lim(laughs, strlen(laughs), NULL);
	ok(rc == INV_XML_ERESTRICTED || rc == INV_XML_EMALFORMED,
	   "billion laughs refused (%d)", rc);
	rc = parse_lim(laughs_nodecl, strlen(laughs_nodecl), NULL);
	ok(rc == INV_XML_ERESTRICTED || rc == INV_XML_EMALFORMED,
	   "billion laughs without declaration refused (%d)", rc);
	rc = parse_lim(xxe, strlen(xxe), NULL);
	ok(rc == INV_XML_ERESTRICTED || rc == INV_XML_EMALFORMED,
	   "external entity refused (%d)", rc);
	rc = parse_lim(pe, strlen(pe), NULL);
	ok(rc == INV_XML_ERESTRICTED || rc == INV_XML_EMALFORMED,
	   "parameter entity refused (%d)", rc);
}

/* Every prefix length of every input, fed a byte at a time, agrees. */
static void
test_incremental(void)
{
	static const char *const in[] = {
		"<iq type='set' id='pa1'><preauth xmlns='urn:xmpp:pars:0' "
		"token='T'/></iq>",
		"<message xml:lang='en'><body>a &amp; b\xc3\xa9</body>"
		"<![CDATA[x]]y]]></message>",
		"  <a>x<b/>y</a>  ",
		"<a/><b/>",
		"<a><!-- c --></a>",
		"<a>\xc3",
		"<a>&amp</a>",
		"<stream:features><register xmlns='urn:xmpp:invite'/>"
		"</stream:features>",
		"<a/>trailing",
		"<a xmlns:p='urn:p' p:x='&#10;'/>",
		"<a/></inv-wrap>",
	};
	size_t i, chunk;
	int all = 1, rc;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct inv__xml *whole = NULL;

		rc = inv__xml_parse(in[i], strlen(in[i]), CLIENT, NULL, &whole);
		for (chunk = 1; chunk <= 5; chunk++) {
			struct inv__xml *part = NULL;
			int rc2 = parse_chunked(in[i], strlen(in[i]), chunk,
			                        CLIENT, NULL, &part);

			if (rc2 != rc || (rc == INV_XML_OK &&
			                  !inv__xml_equal(whole, part))) {
				diag("input %zu chunk %zu: rc %d vs %d", i,
				     chunk, rc, rc2);
				all = 0;
			}
			inv__xml_free(&part);
		}
		inv__xml_free(&whole);
	}
	ok(all, "pieces of 1..5 bytes give the same result as one piece");

	/* long inputs cross the 4 KiB slices in every way */
	{
		static const size_t cuts[] = { 1, 3, 4095, 4096, 4097, 10000 };
		char *body = malloc(24000), *bad;
		size_t k;

		strcpy(body, "<message><body>");
		for (k = 0; k < 300; k++)
			sprintf(body + strlen(body),
			        "<p n='%zu' xml:lang='en'>text &amp; more %zu</p>",
			        k, k);
		strcat(body, "</body></message>");
		bad = strdup(body);
		bad[12000] = '<'; /* a stray '<' in the middle */
		for (i = 0; i < 2; i++) {
			const char *in2 = i == 0 ? body : bad;
			struct inv__xml *whole = NULL;

			rc = inv__xml_parse(in2, strlen(in2), CLIENT, NULL,
			                    &whole);
			is_int(rc, i == 0 ? INV_XML_OK : INV_XML_EMALFORMED,
			       i == 0 ? "long stanza" : "long stanza with an error");
			all = 1;
			for (k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
				struct inv__xml *part = NULL;
				int rc2 = parse_chunked(in2, strlen(in2),
				                        cuts[k], CLIENT, NULL,
				                        &part);

				if (rc2 != rc || (rc == INV_XML_OK &&
				                  !inv__xml_equal(whole, part)))
					all = 0;
				inv__xml_free(&part);
			}
			ok(all, "cut anywhere, the same result");
			inv__xml_free(&whole);
		}
		free(body);
		free(bad);
	}

	{
		struct inv__xml_parser *p = NULL;
		struct inv__xml *e = NULL;

		is_int(inv__xml_parser_new(NULL, NULL, &p), INV_XML_OK, "new");
		is_int(inv__xml_parser_feed(p, "<a>", 3), INV_XML_OK, "feed");
		rc = inv__xml_parser_feed(p, "</b>", 4);
		ok(rc == INV_XML_OK || rc == INV_XML_EMALFORMED,
		   "an error may show at once or later");
		is_int(inv__xml_parser_finish(p, &e), INV_XML_EMALFORMED,
		       "finish reports it");
		ok(e == NULL, "no tree");
		is_int(inv__xml_parser_feed(p, "</a>", 4), INV_XML_EMALFORMED,
		       "sticky error on feed");
		is_int(inv__xml_parser_finish(p, &e), INV_XML_EMALFORMED,
		       "sticky error on finish");
		inv__xml_parser_free(&p);
		ok(p == NULL, "parser_free sets NULL");
		inv__xml_parser_free(&p);

		is_int(inv__xml_parser_new(NULL, NULL, &p), INV_XML_OK, "new");
		{
			char *pad = rep(' ', 8192);

			inv__xml_parser_feed(p, "<a></b>", 7);
			is_int(inv__xml_parser_feed(p, pad, 8192),
			       INV_XML_EMALFORMED,
			       "an error shows at a feed within 4 KiB");
			free(pad);
		}
		inv__xml_parser_free(&p);

		is_int(inv__xml_parser_new(NULL, NULL, &p), INV_XML_OK, "new");
		is_int(inv__xml_parser_feed(p, "<a><b>", 6), INV_XML_OK,
		       "partial tree");
		inv__xml_parser_free(&p);
		ok(1, "freeing a parser with a partial tree");

		is_int(inv__xml_parser_new(NULL, NULL, &p), INV_XML_OK, "new");
		is_int(inv__xml_parser_feed(p, "<a/>", 4), INV_XML_OK, "feed");
		is_int(inv__xml_parser_finish(p, &e), INV_XML_OK, "finish");
		{
			struct inv__xml *again = NULL;

			is_int(inv__xml_parser_finish(p, &again),
			       INV_XML_EINVAL, "finish twice");
			ok(again == NULL, "no second tree");
		}
		is_int(inv__xml_parser_feed(p, " ", 1), INV_XML_EINVAL,
		       "feed after finish");
		inv__xml_parser_free(&p);
		inv__xml_free(&e);
		is_int(inv__xml_parser_new("a\x01", NULL, &p), INV_XML_ECHAR,
		       "bad default ns");
	}
}

static void
test_writer(void)
{
	struct inv__xml *iq = NULL, *q = NULL, *x = NULL, *f = NULL, *c;
	char *out;

	/* A registration form reply, built */
	is_int(inv__xml_new(CLIENT, "iq", &iq), INV_XML_OK, "new iq");
	inv__xml_set_attr(iq, "type", "result");
	inv__xml_set_attr(iq, "id", "r1");
	is_int(inv__xml_add_new(iq, "jabber:iq:register", "query", &q),
	       INV_XML_OK, "add query");
	is_int(inv__xml_add_text_child(q, NULL, "username", "juliet", NULL),
	       INV_XML_OK, "username inherits ns");
	is_int(inv__xml_add_new(q, NULL, "password", NULL), INV_XML_OK,
	       "password");
	is_int(inv__xml_add_new(q, "jabber:x:data", "x", &x), INV_XML_OK,
	       "form");
	inv__xml_set_attr(x, "type", "form");
	inv__xml_add_new(x, NULL, "field", &f);
	inv__xml_set_attr(f, "var", "FORM_TYPE");
	inv__xml_set_attr(f, "type", "hidden");
	inv__xml_add_text_child(f, NULL, "value", "jabber:iq:register", NULL);
	out = write_s(iq, NULL);
	is_str(out, "<iq xmlns='jabber:client' type='result' id='r1'>"
	       "<query xmlns='jabber:iq:register'><username>juliet</username>"
	       "<password/><x xmlns='jabber:x:data' type='form'>"
	       "<field var='FORM_TYPE' type='hidden'>"
	       "<value>jabber:iq:register</value></field></x></query></iq>",
	       "stand-alone output");
	free(out);
	out = write_s(iq, CLIENT);
	is_str(out, "<iq type='result' id='r1'>"
	       "<query xmlns='jabber:iq:register'><username>juliet</username>"
	       "<password/><x xmlns='jabber:x:data' type='form'>"
	       "<field var='FORM_TYPE' type='hidden'>"
	       "<value>jabber:iq:register</value></field></x></query></iq>",
	       "spliced into a c2s stream: no xmlns on top");
	free(out);
	out = write_s(iq, "jabber:server");
	ok(out && strncmp(out, "<iq xmlns='jabber:client' ", 26) == 0,
	   "other context: declared");
	free(out);
	ok(round_trips(iq), "built tree round trips");
	/* a subtree is written on its own */
	out = write_s(q, CLIENT);
	ok(out && strncmp(out, "<query xmlns='jabber:iq:register'>", 34) == 0,
	   "subtree: namespace declared");
	free(out);
	out = write_s(f, NULL);
	ok(out && strncmp(out, "<field xmlns='jabber:x:data' ", 29) == 0,
	   "inner subtree: namespace from itself");
	free(out);
	inv__xml_free(&iq);

	/* escaping */
	inv__xml_new(CLIENT, "message", &iq);
	is_int(inv__xml_set_attr(iq, "to", "a&b<c>d\"e'f\tg\nh\ri"),
	       INV_XML_OK, "attr with specials");
	inv__xml_add_new(iq, NULL, "body", &c);
	is_int(inv__xml_add_text(c, "1 & 2 < 3 > 0 \"q\" 'a' ]]> \r\n\t"),
	       INV_XML_OK, "text with specials");
	out = write_s(iq, CLIENT);
	is_str(out, "<message to='a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g&#10;h"
	       "&#13;i'><body>1 &amp; 2 &lt; 3 &gt; 0 \"q\" 'a' ]]&gt; "
	       "&#13;\n\t</body></message>", "escaping");
	free(out);
	ok(round_trips(iq), "escaped strings read back unchanged");
	inv__xml_free(&iq);

	/* no-namespace child under a namespaced parent, and back */
	inv__xml_new(CLIENT, "a", &iq);
	inv__xml_add_new(iq, "", "b", &c);
	inv__xml_add_new(c, CLIENT, "c", NULL);
	out = write_s(iq, NULL);
	is_str(out, "<a xmlns='jabber:client'><b xmlns=''>"
	       "<c xmlns='jabber:client'/></b></a>", "xmlns='' undeclares");
	free(out);
	ok(round_trips(iq), "undeclaring round trips");
	inv__xml_free(&iq);
	inv__xml_new(NULL, "a", &iq);
	out = write_s(iq, NULL);
	is_str(out, "<a/>", "no namespace, no context");
	free(out);
	out = write_s(iq, CLIENT);
	is_str(out, "<a xmlns=''/>", "no namespace in a c2s context");
	free(out);
	inv__xml_free(&iq);

	/* stream elements */
	check_rewrite("<stream:features><register xmlns='urn:xmpp:invite'/>"
	              "<stream:x><y/></stream:x></stream:features>", CLIENT,
	              "<stream:features><register xmlns='urn:xmpp:invite'/>"
	              "<stream:x><y/></stream:x></stream:features>",
	              "stream prefix kept in a stream context");
	check_rewrite("<stream:features><register xmlns='urn:xmpp:invite'/>"
	              "<stream:x><y/></stream:x></stream:features>", NULL,
	              "<stream:features xmlns:stream='" INV_XML_NS_STREAM "'>"
	              "<register xmlns='urn:xmpp:invite'/>"
	              "<stream:x><y/></stream:x></stream:features>",
	              "stream prefix declared once stand-alone");
	check_rewrite("<a><stream:b/><stream:c/></a>", NULL,
	              "<a><stream:b xmlns:stream='" INV_XML_NS_STREAM "'/>"
	              "<stream:c xmlns:stream='" INV_XML_NS_STREAM "'/></a>",
	              "stream prefix declared per sibling");

	/* qualified attributes */
	check_rewrite("<message xml:lang='en' type='chat'/>", CLIENT,
	              "<message xml:lang='en' type='chat'/>", "xml:lang");
	check_rewrite("<a xmlns:p='urn:p' xmlns:q='urn:q' p:x='1' q:y='2' "
	              "p:z='3'/>", NULL,
	              "<a xmlns:ns1='urn:p' xmlns:ns2='urn:q' ns1:x='1' "
	              "ns2:y='2' ns1:z='3'/>", "attribute prefixes");
	check_rewrite("<a xmlns='urn:p' xmlns:p='urn:p' p:x='1' x='2'/>", NULL,
	              "<a xmlns='urn:p' xmlns:ns1='urn:p' ns1:x='1' x='2'/>",
	              "attribute in the element's ns still needs a prefix");
	check_rewrite("<a><xml:b><c/></xml:b></a>", CLIENT,
	              "<a><xml:b><c/></xml:b></a>",
	              "elements in the xml namespace keep their prefix");
	check_rewrite("<a>x<![CDATA[<&>]]>y</a>", NULL,
	              "<a>x&lt;&amp;&gt;y</a>", "CDATA written as text");
	check_rewrite("<a\n  b = \"1\"  ></a  >", NULL, "<a b='1'/>",
	              "canonical form");
	/* namespaces with characters to escape */
	check_rewrite("<a xmlns='urn:&amp;&apos;&lt;'/>", NULL,
	              "<a xmlns='urn:&amp;&apos;&lt;'/>", "ns escaped");

	is_int(inv__xml_write(NULL, NULL, &out, NULL), INV_XML_EINVAL,
	       "write NULL");
	inv__xml_new(CLIENT, "a", &iq);
	is_int(inv__xml_write(iq, "bad\x01", &out, NULL), INV_XML_ECHAR,
	       "bad context");
	is_int(inv__xml_write(iq, NULL, NULL, NULL), INV_XML_EINVAL,
	       "out_r NULL");
	inv__xml_free(&iq);
}

/* Stanzas from protocol.md: parse, write, reparse, compare. */
static void
test_protocol_stanzas(void)
{
	static const char *const st[] = {
		"<iq type='set' id='pa1' to='example.com'>\n"
		"  <preauth xmlns='urn:xmpp:pars:0' token='T'/>\n</iq>",
		"<iq type='result' id='pa1' from='example.com'/>",
		"<iq type='error' id='pa1'><error type='cancel'><item-not-found "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns="
		"'urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>The "
		"invitation is invalid or has expired</text></error></iq>",
		"<iq type='get' id='r1' to='example.com'><query "
		"xmlns='jabber:iq:register'/></iq>",
		"<iq type='set' id='r2' to='example.com'>\n"
		"  <query xmlns='jabber:iq:register'>\n"
		"    <username>juliet</username><password>s3cr&amp;t</password>\n"
		"  </query>\n</iq>",
		"<iq type='set' id='r2'>\n  <query xmlns='jabber:iq:register'>\n"
		"    <x xmlns='jabber:x:data' type='submit'>\n"
		"      <field var='FORM_TYPE'><value>jabber:iq:register</value>"
		"</field>\n"
		"      <field var='username'><value>juliet</value></field>\n"
		"      <field var='password'><value>pw</value></field>\n"
		"    </x>\n  </query>\n</iq>",
		"<presence to='romeo@example.com' type='subscribe'><preauth "
		"xmlns='urn:xmpp:pars:0' token='T'/></presence>",
		"<iq type='set' to='example.com' id='c1'><command xmlns='http://"
		"jabber.org/protocol/commands' node='urn:xmpp:invite#invite' "
		"action='execute'/></iq>",
		"<iq type='result' from='example.com' id='d1'><query xmlns='http:"
		"//jabber.org/protocol/disco#items' node='http://jabber.org/"
		"protocol/commands'><item jid='example.com' node='urn:xmpp:"
		"invite#invite' name='Invite a contact'/></query></iq>",
		"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:"
		"xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms><register "
		"xmlns='http://jabber.org/features/iq-register'/><register "
		"xmlns='urn:xmpp:ibr-token:0'/><register xmlns='urn:xmpp:invite'"
		"/></stream:features>",
	};
	size_t i;

	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		struct inv__xml *e = NULL, *cp = NULL;

		if (!ok(parse_c(st[i], &e) == INV_XML_OK, "stanza %zu parses",
		        i))
			continue;
		ok(round_trips(e), "stanza %zu round trips", i);
		is_int(inv__xml_copy(e, &cp), INV_XML_OK, "copy");
		ok(inv__xml_equal(e, cp), "stanza %zu copy is equal", i);
		ok(round_trips(cp), "copy round trips");
		inv__xml_free(&cp);
		inv__xml_free(&e);
	}
	{
		struct inv__xml *e = NULL;
		const char *s = st[5];

		parse_c(s, &e);
		if (e != NULL) {
			const struct inv__xml *x = inv__xml_child(
				inv__xml_child(e, "jabber:iq:register", "query"),
				"jabber:x:data", "x");
			const struct inv__xml *f;
			int n = 0;

			for (f = inv__xml_child(x, NULL, "field"); f != NULL;
			     f = inv__xml_next_named(f, "jabber:x:data",
			                             "field"))
				n++;
			is_int(n, 3, "next_named walks the fields");
			f = inv__xml_child(x, NULL, "field");
			f = inv__xml_next_named(f, NULL, "field");
			is_str(inv__xml_attr(f, "var"), "username",
			       "second field");
			is_str(inv__xml_child_text(f, "jabber:x:data", "value"),
			       "juliet", "its value");
		}
		inv__xml_free(&e);
	}
}

static void
test_builders(void)
{
	struct inv__xml *a = NULL, *b = NULL, *c = NULL, *p = NULL;
	char *out;
	int rc;

	/* names, characters, namespaces */
	is_int(inv__xml_new(CLIENT, "1x", &a), INV_XML_EINVAL, "bad name");
	ok(a == NULL, "no element");
	is_int(inv__xml_new(CLIENT, "a:b", &a), INV_XML_EINVAL, "colon");
	is_int(inv__xml_new(CLIENT, "", &a), INV_XML_EINVAL, "empty name");
	is_int(inv__xml_new(CLIENT, NULL, &a), INV_XML_EINVAL, "NULL name");
	is_int(inv__xml_new(INV_XML_NS_XML, "a", &a), INV_XML_EINVAL,
	       "xml namespace");
	is_int(inv__xml_new("http://www.w3.org/2000/xmlns/", "a", &a),
	       INV_XML_EINVAL, "xmlns namespace");
	is_int(inv__xml_new("urn:\x01", "a", &a), INV_XML_ECHAR, "bad ns");
	is_int(inv__xml_new(CLIENT, "a", NULL), INV_XML_EINVAL, "e_r NULL");
	is_int(inv__xml_new(CLIENT, "a-b.c_9", &a), INV_XML_OK, "good name");

	is_int(inv__xml_set_attr(a, "x", "a\x01"), INV_XML_ECHAR,
	       "control char in attr");
	is_int(inv__xml_set_attr(a, "x", "\xff"), INV_XML_ECHAR,
	       "bad UTF-8 in attr");
	is_int(inv__xml_set_attr(a, "x", "\xef\xbf\xbf"), INV_XML_ECHAR,
	       "U+FFFF in attr");
	is_int(inv__xml_set_attr(a, "x", "\xed\xa0\x80"), INV_XML_ECHAR,
	       "surrogate in attr");
	is_int(inv__xml_set_attr(a, "x", "\xf4\x90\x80\x80"), INV_XML_ECHAR,
	       "above U+10FFFF");
	is_int(inv__xml_set_attr(a, "x", "\xe0\x80\xaf"), INV_XML_ECHAR,
	       "overlong");
	is_int(inv__xml_set_attr(a, "xmlns", "urn:x"), INV_XML_EINVAL,
	       "xmlns attribute");
	is_int(inv__xml_set_attr(a, "xmlns:p", "urn:x"), INV_XML_EINVAL,
	       "xmlns:p attribute");
	is_int(inv__xml_set_attr_ns(a, "http://www.w3.org/2000/xmlns/", "p",
	                            "urn:x"), INV_XML_EINVAL,
	       "attribute in the xmlns ns");
	is_int(inv__xml_set_attr(a, "x",
	                         "\t\n\r \xc2\x80\xef\xbf\xbd\xf4\x8f\xbf\xbf"),
	       INV_XML_OK, "edge characters allowed");
	is_int(inv__xml_add_text(a, "\x7f ok"), INV_XML_OK, "DEL allowed");
	is_int(inv__xml_add_text(a, "\x1f"), INV_XML_ECHAR,
	       "control char in text");
	is_int(inv__xml_add_text_n(a, "a\0b", 3), INV_XML_ECHAR,
	       "NUL in text");
	is_int(inv__xml_add_text(a, NULL), INV_XML_EINVAL, "NULL text");
	is_int(inv__xml_add_text_child(a, NULL, "b", "\x02", NULL),
	       INV_XML_ECHAR, "bad text child not added");
	is_int(inv__xml_child_count(a), 0, "nothing added");
	ok(round_trips(a), "edge characters round trip");
	inv__xml_free(&a);

	/* attributes: replace, remove, printf */
	inv__xml_new(CLIENT, "iq", &a);
	inv__xml_set_attr(a, "id", "1");
	inv__xml_set_attr(a, "type", "get");
	inv__xml_set_attr(a, "id", "2");
	is_str(inv__xml_attr(a, "id"), "2", "replaced");
	is_int(inv__xml_attr_count(a), 2, "not duplicated");
	inv__xml_set_attr(a, "id", NULL);
	ok(inv__xml_attr(a, "id") == NULL, "removed");
	is_int(inv__xml_attr_count(a), 1, "one left");
	is_int(inv__xml_set_attr(a, "nothing", NULL), INV_XML_OK,
	       "removing an absent attribute");
	is_int(inv__xml_set_attrf(a, "id", "s%d-%s", 42, "x"), INV_XML_OK,
	       "printf");
	is_str(inv__xml_attr(a, "id"), "s42-x", "printf value");
	{
		char *long_ = rep('z', 500);

		is_int(inv__xml_set_attrf(a, "long", "%s!", long_), INV_XML_OK,
		       "printf longer than the stack buffer");
		ok(strlen(inv__xml_attr(a, "long")) == 501, "long value");
		free(long_);
	}
	inv__xml_set_attr_ns(a, INV_XML_NS_XML, "lang", "en");
	inv__xml_set_attr_ns(a, "urn:p", "id", "p");
	is_str(inv__xml_attr_ns(a, INV_XML_NS_XML, "lang"), "en", "xml:lang");
	is_str(inv__xml_attr_ns(a, "urn:p", "id"), "p", "qualified id");
	is_str(inv__xml_attr(a, "id"), "s42-x", "unqualified id distinct");
	ok(round_trips(a), "qualified attributes round trip");
	inv__xml_free(&a);

	/* text merging and detach */
	inv__xml_new(NULL, "a", &a);
	inv__xml_add_text(a, "x");
	inv__xml_add_text(a, "");
	inv__xml_add_text(a, "y");
	inv__xml_add_new(a, NULL, "b", &b);
	inv__xml_add_text(a, "z");
	is_str(inv__xml_text(a), "xyz", "text concatenated");
	inv__xml_parse("<a>xy<b/>z</a>", 14, NULL, NULL, &p);
	ok(inv__xml_equal(a, p), "runs merged like the parser's");
	inv__xml_free(&p);
	inv__xml_detach(b);
	ok(inv__xml_parent(b) == NULL, "detached");
	inv__xml_parse("<a>xyz</a>", 10, NULL, NULL, &p);
	ok(inv__xml_equal(a, p), "detach merges the runs around it");
	out = write_s(a, NULL);
	is_str(out, "<a>xyz</a>", "one run written");
	free(out);
	inv__xml_free(&p);
	inv__xml_add_text(a, "w");
	is_str(inv__xml_text(a), "xyzw", "appending after merge");
	inv__xml_detach(a);
	ok(1, "detaching a top element is a no-op");

	/* add_child rules */
	is_int(inv__xml_add_child(a, b), INV_XML_OK, "re-add detached");
	is_int(inv__xml_add_child(a, b), INV_XML_EINVAL, "already attached");
	inv__xml_new(NULL, "c", &c);
	is_int(inv__xml_add_child(c, c), INV_XML_EINVAL, "child of itself");
	is_int(inv__xml_add_child(b, a), INV_XML_EINVAL, "cycle");
	is_int(inv__xml_add_child(b, c), INV_XML_OK, "grandchild");
	ok(inv__xml_first(b) == c, "linked");
	is_int(inv__xml_add_child(c, a), INV_XML_EINVAL, "deeper cycle");
	out = write_s(a, NULL);
	is_str(out, "<a>xyzw<b><c/></b></a>", "tree");
	free(out);
	ok(round_trips(a), "round trip after surgery");
	is_int(inv__xml_copy(b, &p), INV_XML_OK, "copy subtree");
	ok(inv__xml_parent(p) == NULL && inv__xml_equal(p, b),
	   "copy is a top element");
	inv__xml_free(&p);
	p = b;
	inv__xml_free(&p); /* frees an attached element: detaches first */
	out = write_s(a, NULL);
	is_str(out, "<a>xyzw</a>", "freed child is gone");
	free(out);
	inv__xml_free(&a);

	/* add_new with NULL / "" ns */
	inv__xml_new("urn:x", "a", &a);
	inv__xml_add_new(a, NULL, "b", &b);
	is_str(inv__xml_ns(b), "urn:x", "NULL ns inherits");
	inv__xml_add_new(a, "", "c", &c);
	is_str(inv__xml_ns(c), "", "\"\" is no namespace");
	rc = inv__xml_add_new(a, NULL, "1", &c);
	is_int(rc, INV_XML_EINVAL, "bad child name");
	ok(c == NULL, "child_r NULL on failure");
	is_int(inv__xml_add_new(NULL, NULL, "x", &c), INV_XML_EINVAL,
	       "NULL parent");
	inv__xml_free(&a);

	/* equality */
	{
		struct inv__xml *x = NULL, *y = NULL;

		parse_c("<a x='1' y='2'><b/>t</a>", &x);
		parse_c("<a y='2' x='1'><b/>t</a>", &y);
		ok(inv__xml_equal(x, y), "attribute order does not matter");
		inv__xml_free(&y);
		parse_c("<a y='2' x='1'><b/>u</a>", &y);
		ok(!inv__xml_equal(x, y), "text differs");
		inv__xml_free(&y);
		parse_c("<a y='2' x='1'><b/></a>", &y);
		ok(!inv__xml_equal(x, y), "text missing");
		inv__xml_free(&y);
		parse_c("<a y='2' x='1'>t<b/></a>", &y);
		ok(!inv__xml_equal(x, y), "order of content matters");
		inv__xml_free(&y);
		parse_c("<a x='1'><b/>t</a>", &y);
		ok(!inv__xml_equal(x, y), "attribute missing");
		inv__xml_free(&y);
		parse_c("<a x='1' z='2'><b/>t</a>", &y);
		ok(!inv__xml_equal(x, y), "attribute name differs");
		inv__xml_free(&y);
		parse_c("<a x='1' y='2' xmlns='urn:o'><b/>t</a>", &y);
		ok(!inv__xml_equal(x, y), "namespace differs");
		inv__xml_free(&y);
		parse_c("<a x='1' y='2'><b><c/></b>t</a>", &y);
		ok(!inv__xml_equal(x, y), "grandchild extra");
		ok(!inv__xml_equal(y, x), "symmetric");
		inv__xml_free(&y);
		ok(!inv__xml_equal(x, NULL) && inv__xml_equal(NULL, NULL),
		   "NULL");
		inv__xml_free(&x);
	}
}

/* A tree deeper than any stack could recurse through. */
static void
test_deep_built_tree(void)
{
	struct inv__xml *top = NULL, *cur, *cp = NULL;
	char *out = NULL;
	size_t i, len = 0;
	const size_t depth = 200000;
	int good = 1;

	inv__xml_new(NULL, "a", &top);
	cur = top;
	for (i = 1; i < depth && good; i++)
		good = inv__xml_add_new(cur, NULL, "a", &cur) == INV_XML_OK;
	ok(good, "built %zu levels", depth);
	is_int(inv__xml_write(top, NULL, &out, &len), INV_XML_OK,
	       "written without recursion");
	is_int(len, depth * 7 - 3, "output length");
	free(out);
	is_int(inv__xml_copy(top, &cp), INV_XML_OK, "copied");
	ok(inv__xml_equal(top, cp), "compared");
	inv__xml_free(&cp);
	inv__xml_free(&top);
	ok(1, "freed");
}

/* Fail each allocation in turn: every path returns ENOMEM, leaks nothing. */
static void
test_alloc_failure(void)
{
	static const char stanza[] =
		"<iq type='set' id='r2' xml:lang='en'><query "
		"xmlns='jabber:iq:register'><username>juliet</username>"
		"<password>a&amp;b</password><x xmlns='jabber:x:data' "
		"xmlns:p='urn:p' p:a='1'>text<y/>more</x></query></iq>";
	struct inv__xml *ref = NULL;
	long n;
	int rc, bad = 0, done = 0;

	parse_c(stanza, &ref);
	for (n = 0; n < 100000 && !done; n++) {
		struct inv__xml *e = NULL;

		inv__xml_test_fail_after(n);
		rc = parse_c(stanza, &e);
		inv__xml_test_fail_after(-1);
		if (rc == INV_XML_OK) {
			done = 1;
			if (!inv__xml_equal(e, ref))
				bad++;
		} else if (rc != INV_XML_ENOMEM) {
			diag("parse with %ld allocations: %d", n, rc);
			bad++;
		} else if (e != NULL) {
			bad++;
		}
		inv__xml_free(&e);
	}
	ok(done && !bad, "parse: ENOMEM at each of %ld allocations", n - 1);

	done = bad = 0;
	for (n = 0; n < 100000 && !done; n++) {
		struct inv__xml *e = NULL, *q;
		char *out = NULL;

		inv__xml_test_fail_after(n);
		rc = inv__xml_new(CLIENT, "iq", &e);
		if (rc == INV_XML_OK)
			rc = inv__xml_set_attr(e, "type", "result");
		if (rc == INV_XML_OK)
			rc = inv__xml_set_attr_ns(e, INV_XML_NS_XML, "lang",
			                          "en");
		if (rc == INV_XML_OK)
			rc = inv__xml_add_new(e, "jabber:iq:register", "query",
			                      &q);
		if (rc == INV_XML_OK)
			rc = inv__xml_add_text_child(q, NULL, "username",
			                             "juliet", NULL);
		if (rc == INV_XML_OK)
			rc = inv__xml_add_text(q, "t");
		if (rc == INV_XML_OK)
			rc = inv__xml_set_attrf(q, "n", "%d", 5);
		if (rc == INV_XML_OK)
			rc = inv__xml_write(e, NULL, &out, NULL);
		inv__xml_test_fail_after(-1);
		if (rc == INV_XML_OK) {
			done = 1;
			if (out == NULL || strstr(out, "juliet") == NULL)
				bad++;
		} else if (rc != INV_XML_ENOMEM) {
			bad++;
		}
		free(out);
		inv__xml_free(&e);
	}
	ok(done && !bad, "build and write: ENOMEM at each of %ld allocations",
	   n - 1);

	done = bad = 0;
	for (n = 0; n < 100000 && !done; n++) {
		struct inv__xml *cp = NULL;

		inv__xml_test_fail_after(n);
		rc = inv__xml_copy(ref, &cp);
		inv__xml_test_fail_after(-1);
		if (rc == INV_XML_OK) {
			done = 1;
			if (!inv__xml_equal(ref, cp))
				bad++;
		} else if (rc != INV_XML_ENOMEM || cp != NULL) {
			bad++;
		}
		inv__xml_free(&cp);
	}
	ok(done && !bad, "copy: ENOMEM at each of %ld allocations", n - 1);

	/* a stanza that makes expat grow its pools (realloc) */
	{
		char *v = rep('v', 3000), *t = rep('t', 5000);
		char *big = cat("<message to='", v, "'><body>", t, "</body>"
		                "<x xmlns='urn:", v + 2000, "'/></message>",
		                NULL);
		struct inv__xml *want = NULL;

		parse_c(big, &want);
		done = bad = 0;
		for (n = 0; n < 100000 && !done; n++) {
			struct inv__xml *e = NULL;

			inv__xml_test_fail_after(n);
			rc = parse_c(big, &e);
			inv__xml_test_fail_after(-1);
			if (rc == INV_XML_OK) {
				done = 1;
				if (!inv__xml_equal(e, want))
					bad++;
			} else if (rc != INV_XML_ENOMEM || e != NULL) {
				bad++;
			}
			inv__xml_free(&e);
		}
		ok(want != NULL && done && !bad,
		   "big tokens: ENOMEM at each of %ld allocations", n - 1);
		inv__xml_free(&want);
		free(big);
		free(v);
		free(t);
	}

	/* the counter counts */
	inv__xml_test_fail_after(-1);
	{
		struct inv__xml *e = NULL;

		parse_c(stanza, &e);
		ok(inv__xml_test_fail_after(-1) > 10,
		   "allocations are counted");
		inv__xml_free(&e);
	}
	inv__xml_free(&ref);
}

static void
test_errors(void)
{
	static const int codes[] = {
		INV_XML_OK, INV_XML_EINVAL, INV_XML_ENOMEM, INV_XML_EMALFORMED,
		INV_XML_ERESTRICTED, INV_XML_ETOOBIG, INV_XML_ETOODEEP,
		INV_XML_ECHAR, -999
	};
	size_t i;
	int all = 1;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (inv__xml_strerror(codes[i]) == NULL ||
		    inv__xml_err_condition(codes[i]) == NULL ||
		    inv__xml_err_type(codes[i]) == NULL ||
		    inv__xml_err_stream_condition(codes[i]) == NULL)
			all = 0;
	ok(all, "every code has a message and conditions");
	is_int(INV_XML_ENOMEM, INVITES_ENOMEM, "ENOMEM is the library's");
	is_str(inv__xml_err_condition(INV_XML_ETOOBIG), "policy-violation",
	       "too big: policy-violation");
	is_str(inv__xml_err_condition(INV_XML_ETOODEEP), "policy-violation",
	       "too deep: policy-violation");
	is_str(inv__xml_err_condition(INV_XML_EMALFORMED), "bad-request",
	       "malformed: bad-request");
	is_str(inv__xml_err_type(INV_XML_EMALFORMED), "modify", "modify");
	is_str(inv__xml_err_stream_condition(INV_XML_EMALFORMED),
	       "not-well-formed", "stream: not-well-formed");
	is_str(inv__xml_err_stream_condition(INV_XML_ERESTRICTED),
	       "restricted-xml", "stream: restricted-xml");
	is_str(inv__xml_err_condition(INV_XML_ENOMEM), "resource-constraint",
	       "no memory: resource-constraint");
	is_str(inv__xml_err_type(INV_XML_ENOMEM), "wait", "wait");
	ok(inv__xml_valid_text("", 0) && inv__xml_valid_text(NULL, 0) &&
	   !inv__xml_valid_text("\x0b", 1) && inv__xml_valid_text("a\tb", 3),
	   "valid_text");
}

int
main(void)
{
	test_basic();
	test_namespaces();
	test_text();
	test_malformed();
	test_bounds();
	test_bombs();
	test_incremental();
	test_writer();
	test_protocol_stanzas();
	test_builders();
	test_deep_built_tree();
	test_alloc_failure();
	test_errors();
	return done_testing();
}

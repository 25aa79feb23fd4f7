/* SPDX-License-Identifier: MIT */
/*
 * A small, bounded DOM over libexpat for XMPP stanzas, and a writer.
 *
 * Internal to libinvites (not installed).  The protocol engine parses the
 * stanza a host hands it with inv__xml_parse(), reads it with the
 * accessors, builds its reply with the builders and serialises the reply
 * with inv__xml_write().
 *
 * Topic: the tree.  A struct inv__xml is one element: a namespace URI
 * ("" for no namespace), a local name, attributes (unqualified, or
 * namespace-qualified such as xml:lang) and, in document order, child
 * elements and text.  Adjacent text is always merged, so the content of
 * "<a>x<![CDATA[y]]></a>" and of two inv__xml_add_text() calls is one
 * text run.  Prefixes are not kept: two documents that differ only in
 * prefixes give equal trees.  Namespace declarations are not attributes.
 *
 * Topic: strings.  Every string in a tree is NUL-terminated UTF-8 made of
 * characters allowed by XML 1.0; names are NCNames.  The parser guarantees
 * it for its input, the builders check it (INV_XML_ECHAR, INV_XML_EINVAL),
 * so the writer never meets a string it cannot write.  Text and attribute
 * values are stored unescaped ("a<b", not "a&lt;b").
 *
 * Topic: ownership.  A tree is owned by whoever holds its top element and
 * released with inv__xml_free().  Elements returned by the accessors are
 * borrowed from their tree; strings returned by the accessors are borrowed
 * from their element and live until the element is freed or the same
 * attribute is changed.  inv__xml_add_child() takes ownership of a
 * detached element.
 *
 * Topic: bounds.  Parsing enforces struct inv__xml_limits (input size,
 * depth, elements, attributes, lengths, memory, expat's included), so a
 * hostile stanza fails with INV_XML_ETOOBIG or INV_XML_ETOODEEP instead
 * of allocating without bound.  Comments, processing instructions and XML
 * declarations are refused with INV_XML_ERESTRICTED (RFC 6120 11.1); a
 * DOCTYPE or entity declaration cannot occur inside a stream and is
 * INV_XML_EMALFORMED.  Either way no entity is ever expanded beyond the
 * five predefined ones and character references.
 *
 * Topic: threads.  Trees are not shared between threads by this code;
 * distinct trees and parsers may be used from distinct threads at once.
 */
#ifndef INVITES_XML_H
#define INVITES_XML_H

#include <stddef.h>

#include <invites/invites.h>

/* Namespaces the engine meets often. */
#define INV_XML_NS_CLIENT   "jabber:client"
#define INV_XML_NS_SERVER   "jabber:server"
#define INV_XML_NS_STREAM   "http://etherx.jabber.org/streams"
#define INV_XML_NS_STANZAS  "urn:ietf:params:xml:ns:xmpp-stanzas"
#define INV_XML_NS_XML      "http://www.w3.org/XML/1998/namespace"

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * Return codes of this module: 0 or one of these (negative).  ENOMEM and
 * EINVAL are the library's own codes, so they pass through unchanged; the
 * others are private to the XML layer (map them with the functions below
 * before they leave libinvites).
 */
enum inv__xml_err {
	INV_XML_OK = 0,
	INV_XML_EINVAL = INVITES_EINVAL,  /* bad argument: NULL, bad name,
	                                     xmlns attribute, reserved ns */
	INV_XML_ENOMEM = INVITES_ENOMEM,  /* allocation failed */
	INV_XML_EMALFORMED = -100, /* not well-formed: syntax, bad UTF-8,
	                              undefined prefix or entity, DOCTYPE,
	                              several top elements, text or garbage
	                              outside the top element, empty input */
	INV_XML_ERESTRICTED = -101, /* comment, processing instruction, XML
	                               declaration (a DOCTYPE is EMALFORMED:
	                               it cannot occur inside a stream) */
	INV_XML_ETOOBIG = -102,    /* a size bound was exceeded: input,
	                              elements, attributes per element,
	                              attribute value, text, name, memory */
	INV_XML_ETOODEEP = -103,   /* nesting deeper than max_depth */
	INV_XML_ECHAR = -104       /* builder: string is not valid UTF-8 or
	                              holds a character XML 1.0 forbids
	                              (control characters, U+FFFE, U+FFFF) */
};

/* A static message for err (never NULL). */
const char *inv__xml_strerror(int err);
/*
 * The stanza error a server replies with when a stanza fails with err,
 * RFC 6120 8.3.3: condition ("bad-request", "policy-violation",
 * "resource-constraint", "internal-server-error") and type ("modify",
 * "wait", ...).  Never NULL.
 */
const char *inv__xml_err_condition(int err);
const char *inv__xml_err_type(int err);
/*
 * The stream error condition (RFC 6120 4.9.3) for err: "not-well-formed",
 * "restricted-xml", "policy-violation", "resource-constraint" or
 * "internal-server-error".  Never NULL.
 */
const char *inv__xml_err_stream_condition(int err);

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

/*
 * Bounds applied while parsing.  A zero field means "the default" (the
 * value in brackets), so `struct inv__xml_limits lim = { .max_depth = 8 }`
 * changes one bound.  Exceeding max_depth gives INV_XML_ETOODEEP, any
 * other bound INV_XML_ETOOBIG.
 */
struct inv__xml_limits {
	size_t max_input;     /* bytes of input [65536] */
	size_t max_depth;     /* element nesting; the top element is 1 [16] */
	size_t max_elements;  /* elements in the tree [512] */
	size_t max_attrs;     /* attributes on one element [32] */
	size_t max_attr_len;  /* bytes of one attribute value [4096] */
	size_t max_text;      /* bytes of text directly in one element,
	                         all its runs together [16384] */
	size_t max_name;      /* bytes of a local name or namespace URI [1024] */
	size_t max_memory;    /* bytes held at once by expat and the tree
	                         being built [1048576] */
};

/* The defaults: lim filled with the values in brackets above. */
void inv__xml_limits_default(struct inv__xml_limits *lim);

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

struct inv__xml;
struct inv__xml_parser;

/*
 * Parse one stanza (or any single element) from data[0..len).
 *
 * default_ns is the default namespace in scope where the stanza came
 * from, e.g. INV_XML_NS_CLIENT for a c2s stream, so that
 * "<iq type='get'/>" gets the namespace jabber:client; NULL means none.
 * The prefix `stream` is always bound to INV_XML_NS_STREAM, as on an XMPP
 * stream; the input may rebind both.
 *
 * Whitespace around the element is allowed; an XML declaration, a BOM,
 * anything else around it, a second element or an unclosed element is
 * INV_XML_EMALFORMED (or ERESTRICTED for declarations).  lim NULL means the
 * defaults.  data need not be NUL-terminated; a NUL byte inside is
 * malformed.  On success *root_r holds a new tree (free with
 * inv__xml_free()); on failure *root_r is NULL.
 */
int inv__xml_parse(const char *data, size_t len, const char *default_ns,
                   const struct inv__xml_limits *lim,
                   struct inv__xml **root_r);

/*
 * The same, fed in pieces: new, any number of feeds, finish.  The result
 * never depends on how the input is cut (a byte at a time gives the same
 * tree and the same error, and uses the same memory): input is handed to
 * expat in slices of 4 KiB at fixed offsets, so an error may be returned
 * by a later feed (within 4 KiB) or only by finish.  After an error every
 * later feed and finish returns that error.  max_input counts the bytes
 * of all feeds; past it the result is the first error within the first
 * max_input bytes, else INV_XML_ETOOBIG.
 */
int inv__xml_parser_new(const char *default_ns,
                        const struct inv__xml_limits *lim,
                        struct inv__xml_parser **p_r);
int inv__xml_parser_feed(struct inv__xml_parser *p, const char *data,
                         size_t len);
/* End of input: the tree (caller owns it) or an error.  Call once. */
int inv__xml_parser_finish(struct inv__xml_parser *p,
                           struct inv__xml **root_r);
/* Accepts NULL; sets *p to NULL.  Frees a partial tree too. */
void inv__xml_parser_free(struct inv__xml_parser **p);

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/* Namespace URI ("" when none) and local name.  Never NULL. */
const char *inv__xml_ns(const struct inv__xml *e);
const char *inv__xml_name(const struct inv__xml *e);
/*
 * 1 when e is the element {ns}name, else 0.  ns NULL matches any
 * namespace, name NULL any name; e NULL gives 0.
 */
int inv__xml_is(const struct inv__xml *e, const char *ns, const char *name);

/* The parent element, or NULL for a top element. */
struct inv__xml *inv__xml_parent(const struct inv__xml *e);
/* First child element (text is skipped), or NULL. */
struct inv__xml *inv__xml_first(const struct inv__xml *e);
/* Next sibling element (text is skipped), or NULL. */
struct inv__xml *inv__xml_next(const struct inv__xml *e);
/*
 * First child element {ns}name (NULL ns / name match any, as in
 * inv__xml_is()), or NULL.  Iterate over all matches with
 * inv__xml_next_named().
 */
struct inv__xml *inv__xml_child(const struct inv__xml *e, const char *ns,
                                const char *name);
/* Next sibling of e that is {ns}name, or NULL. */
struct inv__xml *inv__xml_next_named(const struct inv__xml *e,
                                     const char *ns, const char *name);
/* Number of child elements. */
size_t inv__xml_child_count(const struct inv__xml *e);

/*
 * The value of the unqualified attribute name (no namespace: `type`,
 * `to`, `id`...), or NULL when absent.
 */
const char *inv__xml_attr(const struct inv__xml *e, const char *name);
/*
 * The value of the attribute {ns}name, e.g. (INV_XML_NS_XML, "lang") for
 * xml:lang; ns NULL or "" is the same as inv__xml_attr().  NULL when absent.
 */
const char *inv__xml_attr_ns(const struct inv__xml *e, const char *ns,
                             const char *name);
/* Number of attributes, and the i-th one (ns "" when unqualified). */
size_t inv__xml_attr_count(const struct inv__xml *e);
int inv__xml_attr_at(const struct inv__xml *e, size_t i, const char **ns_r,
                     const char **name_r, const char **value_r);

/*
 * The text directly inside e, all runs concatenated in order (text of
 * child elements is not included); "" when there is none.  Never NULL.
 * The length is strlen() of it, also given by inv__xml_text_len().
 */
const char *inv__xml_text(const struct inv__xml *e);
size_t inv__xml_text_len(const struct inv__xml *e);
/*
 * Convenience: the text of the first child {ns}name (NULL ns / name match
 * any, as in inv__xml_child()), or NULL when there is no such child:
 * inv__xml_child_text(query, "jabber:iq:register", "username").
 */
const char *inv__xml_child_text(const struct inv__xml *e, const char *ns,
                                const char *name);

/*
 * 1 when a and b are equal trees: same namespaces, names, attributes (in
 * any order) and content (child elements and merged text in order).
 * Parents are not compared.
 */
int inv__xml_equal(const struct inv__xml *a, const struct inv__xml *b);

/* ------------------------------------------------------------------ */
/* Building                                                            */
/* ------------------------------------------------------------------ */

/*
 * A new top element {ns}name with no attributes or content.  ns NULL or
 * "" means no namespace.  INV_XML_EINVAL when name is not an ASCII
 * NCName ([A-Za-z_][A-Za-z0-9._-]*, which every XMPP name is and every
 * parser reads back) or ns is the xml or xmlns namespace; INV_XML_ECHAR
 * when ns has a forbidden character.
 */
int inv__xml_new(const char *ns, const char *name, struct inv__xml **e_r);
/*
 * Create {ns}name and append it to parent's content.  ns NULL means
 * parent's namespace (ns "" means no namespace).  *child_r (may be NULL)
 * borrows the new element, which parent owns.
 */
int inv__xml_add_new(struct inv__xml *parent, const char *ns,
                     const char *name, struct inv__xml **child_r);
/*
 * Append child, which must be a top element (new, or detached), to
 * parent's content; parent takes ownership.  INV_XML_EINVAL when child
 * has a parent or when parent is child or inside child.
 */
int inv__xml_add_child(struct inv__xml *parent, struct inv__xml *child);
/* Remove e from its parent (no-op for a top element); the caller owns it. */
void inv__xml_detach(struct inv__xml *e);
/* Free e and its subtree, detaching it first.  Accepts NULL; *e = NULL. */
void inv__xml_free(struct inv__xml **e);
/* A deep copy of e (as a top element). */
int inv__xml_copy(const struct inv__xml *e, struct inv__xml **copy_r);

/*
 * Set the unqualified attribute name to value, replacing an old value;
 * value NULL removes the attribute.  INV_XML_EINVAL for a bad name
 * (including "xmlns" and anything with a colon), INV_XML_ECHAR for a bad
 * value.  The printf form formats first.
 */
int inv__xml_set_attr(struct inv__xml *e, const char *name,
                      const char *value);
int inv__xml_set_attrf(struct inv__xml *e, const char *name,
                       const char *fmt, ...) INVITES_PRINTF(3, 4);
/*
 * The same for {ns}name; ns NULL or "" is inv__xml_set_attr().  Use
 * INV_XML_NS_XML for xml:lang.  The xmlns namespace is refused.
 */
int inv__xml_set_attr_ns(struct inv__xml *e, const char *ns,
                         const char *name, const char *value);
/*
 * Append text to e's content (merged with a text run that ends the
 * content).  INV_XML_ECHAR when it is not valid UTF-8 XML text.  The _n
 * form takes a length (no NUL byte allowed inside).
 */
int inv__xml_add_text(struct inv__xml *e, const char *text);
int inv__xml_add_text_n(struct inv__xml *e, const char *text, size_t len);
/* Convenience: add_new(parent, ns, name) then add_text(text) on it. */
int inv__xml_add_text_child(struct inv__xml *parent, const char *ns,
                            const char *name, const char *text,
                            struct inv__xml **child_r);

/*
 * 1 when s[0..len) is valid UTF-8 made of XML 1.0 characters (what the
 * builders accept), else 0.
 */
int inv__xml_valid_text(const char *s, size_t len);

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

/*
 * Serialise e and its subtree into a new NUL-terminated string (free
 * with invites_free()); *len_r (may be NULL) gets its length.
 *
 * Output: no XML declaration, no whitespace added; attribute values in
 * single quotes with & < > " ' escaped (and tab, newline and carriage
 * return as character references, so they survive attribute
 * normalisation); text with & < > escaped (and carriage return as &#13;).
 * Namespaces are declared minimally: a default xmlns on the top element
 * and wherever an element's namespace differs from its parent's; elements
 * in INV_XML_NS_STREAM are written with the prefix `stream` (and those
 * in INV_XML_NS_XML, which only parsed input can hold, with `xml`);
 * namespace-qualified attributes get prefixes declared on their element
 * (ns1, ns2...; xml:lang is never declared).
 *
 * context_ns is the default namespace in scope where the output goes:
 * with INV_XML_NS_CLIENT, a jabber:client stanza is written without
 * xmlns='jabber:client' so a host can splice it into a c2s stream, and the
 * `stream` prefix is taken as declared too.  NULL means a stand-alone
 * document.  inv__xml_parse(out, len, context_ns) gives back a tree equal
 * to e.
 */
int inv__xml_write(const struct inv__xml *e, const char *context_ns,
                   char **out_r, size_t *len_r);

/* ------------------------------------------------------------------ */
/* Testing                                                             */
/* ------------------------------------------------------------------ */

/*
 * Allocation-failure injection for tests, per thread: after n more
 * successful allocations made by this module (its tree, its writer and
 * expat inside it), every allocation fails until reset with n < 0 (the
 * default).  Returns how many allocations have been made since the last
 * call, so a test can loop n = 0, 1, 2, ... until an operation succeeds.
 */
long inv__xml_test_fail_after(long n);

#endif /* INVITES_XML_H */

/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the XML layer (src/xml.c, src/xml_write.c).
 *
 * For each input: parse it as a c2s stanza; parse it again fed in pieces
 * (a size taken from the input) and demand the same result; parse it with
 * tight limits and demand that a success there is the same tree; then, if
 * it parsed, write the tree (stand-alone and spliced into a c2s stream),
 * reparse the output and demand an equal tree, and copy the tree and
 * demand an equal copy that writes the same bytes.  Any difference
 * aborts, which libFuzzer and the replay driver report as a crash.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, what)                                                    \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_xml: %s\n", (what));           \
			abort();                                             \
		}                                                            \
	} while (0)

static int
known_error(int rc)
{
	return rc == INV_XML_EMALFORMED || rc == INV_XML_ERESTRICTED ||
	       rc == INV_XML_ETOOBIG || rc == INV_XML_ETOODEEP;
}

static int
parse_pieces(const char *s, size_t len, size_t piece,
             const struct inv__xml_limits *lim, struct inv__xml **e_r)
{
	struct inv__xml_parser *p;
	size_t off;
	int rc;

	*e_r = NULL;
	rc = inv__xml_parser_new(INV_XML_NS_CLIENT, lim, &p);
	if (rc != INV_XML_OK)
		return rc;
	for (off = 0; off < len && rc == INV_XML_OK; off += piece)
		rc = inv__xml_parser_feed(p, s + off,
		                          len - off < piece ? len - off : piece);
	if (rc == INV_XML_OK)
		rc = inv__xml_parser_finish(p, e_r);
	inv__xml_parser_free(&p);
	return rc;
}

/* Every element's strings are what the writer can take. */
static void
check_strings(const struct inv__xml *e)
{
	const struct inv__xml *c;
	size_t i;

	CHECK(inv__xml_valid_text(inv__xml_ns(e), strlen(inv__xml_ns(e))),
	      "bad namespace in tree");
	CHECK(strlen(inv__xml_text(e)) == inv__xml_text_len(e),
	      "text length");
	CHECK(inv__xml_valid_text(inv__xml_text(e), inv__xml_text_len(e)),
	      "bad text in tree");
	for (i = 0; i < inv__xml_attr_count(e); i++) {
		const char *ns, *name, *value;

		inv__xml_attr_at(e, i, &ns, &name, &value);
		CHECK(inv__xml_valid_text(value, strlen(value)),
		      "bad attribute value in tree");
		CHECK(inv__xml_attr_ns(e, ns, name) == value,
		      "attribute lookup");
	}
	for (c = inv__xml_first(e); c != NULL; c = inv__xml_next(c)) {
		CHECK(inv__xml_parent(c) == e, "parent link");
		check_strings(c); /* depth is bounded by the parse limits */
	}
}

static void
round_trip(const struct inv__xml *e, const char *ctx)
{
	struct inv__xml_limits big;
	struct inv__xml *back = NULL;
	char *out = NULL;
	size_t len = 0;
	int rc;

	/* Output may legitimately be larger than the input (namespace
	 * declarations repeated per element), so reparse with room. */
	inv__xml_limits_default(&big);
	big.max_input = (size_t)64 << 20;
	big.max_memory = (size_t)256 << 20;
	rc = inv__xml_write(e, ctx, &out, &len);
	if (rc == INV_XML_ENOMEM)
		return;
	CHECK(rc == INV_XML_OK, "write failed");
	CHECK(strlen(out) == len, "write length");
	rc = inv__xml_parse(out, len, ctx, &big, &back);
	if (rc != INV_XML_OK || !inv__xml_equal(e, back)) {
		fprintf(stderr, "fuzz_xml: no round trip (rc %d), wrote: %s\n",
		        rc, out);
		abort();
	}
	inv__xml_free(&back);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct inv__xml *e = NULL, *e2 = NULL, *cp = NULL;
	struct inv__xml_limits tight;
	size_t piece = 1 + (size > 0 ? data[size - 1] % 16 : 0);
	int rc, rc2;
	char *w1 = NULL, *w2 = NULL;

	rc = inv__xml_parse(s, size, INV_XML_NS_CLIENT, NULL, &e);
	CHECK(rc == INV_XML_OK || known_error(rc), "unexpected error code");
	CHECK((rc == INV_XML_OK) == (e != NULL), "tree iff success");

	/* The same in pieces. */
	rc2 = parse_pieces(s, size, piece, NULL, &e2);
	CHECK(rc2 == rc, "result depends on how the input is cut");
	CHECK(rc != INV_XML_OK || inv__xml_equal(e, e2),
	      "tree depends on how the input is cut");
	inv__xml_free(&e2);

	/* Tight limits: may fail more, never succeed differently. */
	memset(&tight, 0, sizeof(tight));
	tight.max_input = 4096;
	tight.max_depth = 4;
	tight.max_elements = 16;
	tight.max_attrs = 3;
	tight.max_attr_len = 32;
	tight.max_text = 64;
	tight.max_name = 24;
	tight.max_memory = 48 * 1024;
	rc2 = inv__xml_parse(s, size, INV_XML_NS_CLIENT, &tight, &e2);
	CHECK(rc2 == INV_XML_OK || known_error(rc2),
	      "unexpected error code (tight)");
	if (rc2 == INV_XML_OK)
		CHECK(rc == INV_XML_OK && inv__xml_equal(e, e2),
		      "tight limits changed the tree");
	inv__xml_free(&e2);

	if (e == NULL)
		return 0;
	check_strings(e);
	round_trip(e, NULL);
	round_trip(e, INV_XML_NS_CLIENT);
	if (inv__xml_copy(e, &cp) == INV_XML_OK) {
		CHECK(inv__xml_equal(e, cp), "copy differs");
		if (inv__xml_write(e, NULL, &w1, NULL) == INV_XML_OK &&
		    inv__xml_write(cp, NULL, &w2, NULL) == INV_XML_OK)
			CHECK(strcmp(w1, w2) == 0, "copy writes differently");
		free(w1);
		free(w2);
		inv__xml_free(&cp);
	}
	inv__xml_free(&e);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/jid.c: Nodeprep, Nameprep with the domain rules, and
 * bare JIDs, including non-ASCII input, malformed UTF-8, prohibited
 * characters and the 1023-octet limits.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tap.h"

typedef int prep_fn(const char *, char *, size_t);

static char out[INVITES_JID_MAX + 1];

static void
good(prep_fn *fn, const char *in, const char *want, const char *name)
{
	int rc;

	memset(out, 'Z', sizeof(out) - 1);
	out[sizeof(out) - 1] = '\0';
	rc = fn(in, out, sizeof(out));
	if (!ok(rc == 0 && strcmp(out, want) == 0, "%s", name))
		diag("  got rc %d '%s', want '%s'", rc, rc == 0 ? out : "", want);
}

static void
bad(prep_fn *fn, const char *in, int want, const char *name)
{
	is_int(fn(in, out, sizeof(out)), want, name);
}

/* A string of n copies of unit. */
static char *
rep(const char *unit, size_t n)
{
	size_t u = strlen(unit), i;
	char *s = malloc(u * n + 1);

	if (s == NULL)
		abort();
	for (i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = '\0';
	return s;
}

static void
test_nodeprep(void)
{
	char *s, *t;
	char small[4];

	good(invites_nodeprep, "juliet", "juliet", "ascii");
	good(invites_nodeprep, "Juliet", "juliet", "case folded");
	good(invites_nodeprep, "\xc3\x84", "\xc3\xa4", "A-umlaut folded");
	good(invites_nodeprep, "Stra\xc3\x9f" "e", "strasse", "sharp s mapped");
	good(invites_nodeprep, "a\xc2\xad" "b", "ab", "soft hyphen removed");
	good(invites_nodeprep, "\xef\xbd\x81", "a", "fullwidth a (NFKC)");
	good(invites_nodeprep, "x.y_z-1+2!=", "x.y_z-1+2!=", "punctuation kept");
	bad(invites_nodeprep, "o'neil", INVITES_EJID, "' prohibited");
	bad(invites_nodeprep, "", INVITES_EJID, "empty");
	bad(invites_nodeprep, "\xc2\xad", INVITES_EJID, "mapped to nothing");
	bad(invites_nodeprep, "a@b", INVITES_EJID, "@ prohibited");
	bad(invites_nodeprep, "a b", INVITES_EJID, "space prohibited");
	bad(invites_nodeprep, "a/b", INVITES_EJID, "/ prohibited");
	bad(invites_nodeprep, "a:b", INVITES_EJID, ": prohibited");
	bad(invites_nodeprep, "a<b", INVITES_EJID, "< prohibited");
	bad(invites_nodeprep, "a>b", INVITES_EJID, "> prohibited");
	bad(invites_nodeprep, "a&b", INVITES_EJID, "& prohibited");
	bad(invites_nodeprep, "a\"b", INVITES_EJID, "\" prohibited");
	bad(invites_nodeprep, "a\x01" "b", INVITES_EJID, "control prohibited");
	bad(invites_nodeprep, "a\x7f", INVITES_EJID, "DEL prohibited");
	bad(invites_nodeprep, "\xff", INVITES_EJID, "invalid UTF-8 byte");
	bad(invites_nodeprep, "a\xc3", INVITES_EJID, "truncated UTF-8");
	bad(invites_nodeprep, "\xc0\xaf", INVITES_EJID, "overlong UTF-8");
	bad(invites_nodeprep, "\xe0\x80\xaf", INVITES_EJID, "overlong 3-byte");
	bad(invites_nodeprep, "\xed\xa0\x80", INVITES_EJID, "surrogate");
	bad(invites_nodeprep, "\xf4\x90\x80\x80", INVITES_EJID, "above U+10FFFF");
	bad(invites_nodeprep, "\xd7\x90" "a", INVITES_EJID,
	    "bidi: Hebrew with Latin refused");
	good(invites_nodeprep, "\xd7\x90\xd7\x91", "\xd7\x90\xd7\x91",
	     "bidi: Hebrew alone");
	bad(invites_nodeprep, "\xe2\x80\x8e" "a", INVITES_EJID,
	    "LRM prohibited");

	s = rep("a", 1023);
	good(invites_nodeprep, s, s, "1023 octets");
	free(s);
	s = rep("a", 1024);
	bad(invites_nodeprep, s, INVITES_EJID, "1024 octets");
	free(s);
	s = rep("A", 1023);
	t = rep("a", 1023);
	good(invites_nodeprep, s, t, "1023 octets folded");
	free(s);
	free(t);
	/* U+0149 (2 octets) folds to U+02BC U+006E (3 octets) */
	s = rep("\xc5\x89", 341);
	ok(invites_nodeprep(s, out, sizeof(out)) == 0 && strlen(out) == 1023,
	   "growth to exactly 1023 octets");
	free(s);
	s = rep("\xc5\x89", 342);
	bad(invites_nodeprep, s, INVITES_EJID, "growth past 1023 octets");
	free(s);

	is_int(invites_nodeprep("abcd", small, sizeof(small)), INVITES_EINVAL,
	       "output too small");
	is_int(invites_nodeprep("abc", small, sizeof(small)), 0, "output exact");
	is_str(small, "abc", "exact output");
	is_int(invites_nodeprep(NULL, out, 10), INVITES_EINVAL, "NULL in");
	is_int(invites_nodeprep("a", NULL, 10), INVITES_EINVAL, "NULL out");
	is_int(invites_nodeprep("a", out, 0), INVITES_EINVAL, "zero size");
}

static void
test_nameprep(void)
{
	char *s, *t;

	good(invites_nameprep, "example.com", "example.com", "ascii");
	good(invites_nameprep, "EXAMPLE.Com", "example.com", "case folded");
	good(invites_nameprep, "example.com.", "example.com", "final dot stripped");
	good(invites_nameprep, "\xc3\x84\xc3\x96.Example", "\xc3\xa4\xc3\xb6.example",
	     "IDN folded");
	good(invites_nameprep, "example\xe3\x80\x82" "com", "example.com",
	     "ideographic full stop");
	good(invites_nameprep, "example\xef\xbc\x8e" "com", "example.com",
	     "fullwidth full stop");
	good(invites_nameprep, "example\xef\xbd\xa1" "com", "example.com",
	     "halfwidth ideographic full stop");
	good(invites_nameprep, "example\xe3\x80\x82", "example",
	     "final ideographic full stop stripped");
	good(invites_nameprep, "_xmpp-client.example.com", "_xmpp-client.example.com",
	     "underscore and hyphen");
	good(invites_nameprep, "localhost", "localhost", "one label");
	good(invites_nameprep, "192.0.2.1", "192.0.2.1", "IPv4");
	good(invites_nameprep, "[::1]", "[::1]", "IPv6 literal");
	good(invites_nameprep, "[0:0:0:0:0:0:0:1]", "[::1]", "IPv6 canonical");
	good(invites_nameprep, "[2001:DB8::A]", "[2001:db8::a]", "IPv6 lower case");
	bad(invites_nameprep, "[::g]", INVITES_EJID, "bad IPv6");
	bad(invites_nameprep, "[::1", INVITES_EJID, "unclosed IPv6");
	bad(invites_nameprep, "[]", INVITES_EJID, "empty IPv6");
	bad(invites_nameprep, "[::1]x", INVITES_EJID, "junk after IPv6");
	bad(invites_nameprep, "[fe80::1%eth0]", INVITES_EJID, "zone id");
	bad(invites_nameprep, "[1.2.3.4]", INVITES_EJID, "IPv4 in brackets");
	bad(invites_nameprep, "", INVITES_EJID, "empty");
	bad(invites_nameprep, ".", INVITES_EJID, "only a dot");
	bad(invites_nameprep, "example.com..", INVITES_EJID, "two final dots");
	bad(invites_nameprep, ".example.com", INVITES_EJID, "leading dot");
	bad(invites_nameprep, "a..b", INVITES_EJID, "empty label");
	bad(invites_nameprep, "exa mple.com", INVITES_EJID, "space");
	bad(invites_nameprep, "a@b", INVITES_EJID, "@");
	bad(invites_nameprep, "a/b", INVITES_EJID, "/");
	bad(invites_nameprep, "example.com:5222", INVITES_EJID, "port");
	bad(invites_nameprep, "a!b", INVITES_EJID, "!");
	bad(invites_nameprep, "a\tb", INVITES_EJID, "tab");
	bad(invites_nameprep, "\xff.com", INVITES_EJID, "invalid UTF-8");
	bad(invites_nameprep, "\xc2\xad", INVITES_EJID, "mapped to nothing");

	s = rep("a", 63);
	good(invites_nameprep, s, s, "63-octet label");
	free(s);
	s = rep("a", 64);
	bad(invites_nameprep, s, INVITES_EJID, "64-octet label");
	free(s);
	s = rep("abcdefg.", 127);
	t = malloc(1100);
	strcpy(t, s);
	strcat(t, "abcdefg");
	ok(strlen(t) == 1023, "1023 octets of labels");
	good(invites_nameprep, t, t, "1023-octet domain");
	strcat(t, "h");
	bad(invites_nameprep, t, INVITES_EJID, "1024-octet domain");
	free(s);
	free(t);
	is_int(invites_nameprep(NULL, out, 10), INVITES_EINVAL, "NULL in");
	is_int(invites_nameprep("example.com", out, 11), INVITES_EINVAL,
	       "output too small");
}

static void
test_bare(void)
{
	char *s, *t;
	char small[8];

	good(invites_jid_bare, "juliet@example.com", "juliet@example.com", "bare");
	good(invites_jid_bare, "Juliet@Example.COM/Balcony", "juliet@example.com",
	     "full JID, normalised");
	good(invites_jid_bare, "\xc3\x84@EXAMPLE.com", "\xc3\xa4@example.com",
	     "non-ASCII localpart");
	good(invites_jid_bare, "example.com", "example.com", "domain JID");
	good(invites_jid_bare, "Example.com/res", "example.com", "domain full JID");
	good(invites_jid_bare, "juliet@example.com.", "juliet@example.com",
	     "final dot");
	good(invites_jid_bare, "juliet@example.com/a/b@c d", "juliet@example.com",
	     "resource may hold / @ and space");
	good(invites_jid_bare, "juliet@[::1]", "juliet@[::1]", "IPv6 domain");
	bad(invites_jid_bare, "@example.com", INVITES_EJID, "empty localpart");
	bad(invites_jid_bare, "juliet@", INVITES_EJID, "empty domain");
	bad(invites_jid_bare, "juliet@example.com/", INVITES_EJID, "empty resource");
	bad(invites_jid_bare, "/res", INVITES_EJID, "only a resource");
	bad(invites_jid_bare, "a@b@c", INVITES_EJID, "two @");
	bad(invites_jid_bare, "", INVITES_EJID, "empty");
	bad(invites_jid_bare, "a b@example.com", INVITES_EJID, "space in local");
	bad(invites_jid_bare, "juliet@example.com/\xff", INVITES_EJID,
	    "bad resource UTF-8");
	bad(invites_jid_bare, "juliet@example.com/a\x01", INVITES_EJID,
	    "control in resource");
	s = rep("r", 1023);
	t = malloc(2000);
	sprintf(t, "j@example.com/%s", s);
	good(invites_jid_bare, t, "j@example.com", "1023-octet resource");
	strcat(t, "r");
	bad(invites_jid_bare, t, INVITES_EJID, "1024-octet resource");
	free(s);
	free(t);
	s = rep("x", 5000);
	bad(invites_jid_bare, s, INVITES_EJID, "overlong input");
	free(s);

	is_int(invites_jid_bare("juliet@example.com", small, sizeof(small)),
	       INVITES_EINVAL, "output too small");
	is_int(invites_jid_bare("a@b.c", small, 6), 0, "output exact");
	is_str(small, "a@b.c", "exact output");
	is_int(invites_jid_bare("a@b.c", small, 5), INVITES_EINVAL, "one short");
	is_int(invites_jid_bare("b.c", small, 4), 0, "domain exact");
	is_int(invites_jid_bare(NULL, out, 10), INVITES_EINVAL, "NULL in");
	is_int(invites_jid_bare("a@b", NULL, 10), INVITES_EINVAL, "NULL out");
}

int
main(void)
{
	test_nodeprep();
	test_nameprep();
	test_bare();
	return done_testing();
}
